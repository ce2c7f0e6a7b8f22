"""The host's own captured packets through LOCAL_OUT / POST_ROUTING:
conntrack sees both directions of the host's connections, filter OUTPUT
counts them, an OUTPUT DROP that the capture contradicts is a divergence,
raw NOTRACK leaves packets untracked, the host's ICMP errors carry the
offending packet's conntrack."""

from tests.netfilter.engine_util import filter_rules, host, listener, nf_replay, row, rule_counts
from tests.pktbuild import ACK, SYN, HOST4, tcp4, tcp_opts, udp4

PEER = "10.9.9.9"


def _active_open():
    # the host connects out from 50000 to PEER:443
    return [
        tcp4(HOST4, PEER, 50000, 443, SYN, seq=100, win=64240, opts=tcp_opts(mss=1460)),
        tcp4(PEER, HOST4, 443, 50000, SYN | ACK, seq=900, ack=101, win=65160,
             opts=tcp_opts(mss=1460)),
        tcp4(HOST4, PEER, 50000, 443, ACK, seq=101, ack=901, win=502),
    ]


def test_host_connection_seen_both_ways():
    rules = filter_rules("-A OUTPUT -p tcp -m tcp --dport 443 -j ACCEPT",
                         "-A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT", inp="DROP")
    res, _ = nf_replay(host([]), _active_open(), rules)
    r = [row(res, i) for i in range(3)]
    assert [(x["direction"], x["verdict"]) for x in r] == [("OUT", "SENT"), ("IN", "DROPPED"),
                                                          ("OUT", "SENT")]
    assert r[1]["reason"] == "NO_SOCKET"          # accepted by INPUT, no socket in the model
    assert [x["ctstate"] for x in r] == ["NEW", "ESTABLISHED REPLY", "ESTABLISHED"]
    assert [x["nf_hooks"] for x in r] == [["OUTPUT", "POSTROUTING"], ["PREROUTING", "INPUT"],
                                          ["OUTPUT", "POSTROUTING"]]
    assert rule_counts(res, "filter", "OUTPUT") == [(1, 2, 44 + 40), (0, 0, 0)]
    assert rule_counts(res, "filter", "INPUT") == [(1, 1, 44), (0, 0, 0)]
    e = res.conntrack["entries"]
    assert e["orig"] == [f"src={HOST4} dst={PEER} sport=50000 dport=443"]
    assert e["state"] == ["ESTABLISHED"] and e["status"] == [["ASSURED", "SEEN_REPLY"]]
    assert res.divergences["host_out_nf_drop"] == 0


def test_output_drop_contradicted_by_capture_is_a_divergence():
    rules = filter_rules("-A OUTPUT -p tcp -m tcp --dport 443 -j DROP")
    res, _ = nf_replay(host([]), _active_open()[:1], rules)
    r = row(res, 0)
    assert (r["direction"], r["verdict"], r["reason"]) == ("OUT", "SENT", "")
    assert (r["nf_hook"], r["nf_table"]) == ("OUTPUT", "filter")
    assert res.divergences["host_out_nf_drop"] == 1
    assert res.conntrack["stats"]["entries"] == 0         # the unconfirmed entry died
    assert rule_counts(res, "filter", "OUTPUT") == [(1, 1, 44), (0, 0, 0)]


def test_raw_notrack_is_untracked():
    rules = ("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             "-A PREROUTING -p udp -j NOTRACK\n-A OUTPUT -p udp -j NOTRACK\nCOMMIT\n")
    pk = [udp4(PEER, HOST4, 4000, 53, b"q"), udp4(HOST4, PEER, 53, 4000, b"a")]
    res, _ = nf_replay(host([listener(port=53, proto="udp")]), pk, rules)
    assert [row(res, i)["ctstate"] for i in range(2)] == ["UNTRACKED", "UNTRACKED"]
    assert res.conntrack["stats"]["entries"] == 0


def test_host_icmp_error_carries_the_conntrack():
    # UDP to a closed port: the stack answers port unreachable; the captured
    # ICMP error is not looked up by conntrack (icmp_glue_bits: nf_ct_attach)
    from tests.pktbuild import eth, ipv4
    import dpkt
    q = udp4(PEER, HOST4, 4000, 9999, b"q")
    inner = bytes(dpkt.ethernet.Ethernet(q).data)[:28]
    err = eth(ipv4(HOST4, PEER, dpkt.icmp.ICMP(type=3, code=3,
                                                data=dpkt.icmp.ICMP.Unreach(data=inner))))
    res, _ = nf_replay(host([]), [q, err], filter_rules())
    r0, r1 = row(res, 0), row(res, 1)
    assert (r0["reason"], r0["reply"]) == ("NO_SOCKET", "ICMP_PORT_UNREACH")
    assert (r1["direction"], r1["verdict"], r1["ctstate"]) == ("OUT", "SENT",
                                                               "RELATED REPLY")
    st = res.conntrack["stats"]
    assert (st["error"], st["invalid"], st["found"]) == (0, 0, 0)
    assert st["entries"] == 1                             # the UDP flow's entry
    assert r1["ct_id"] == r0["ct_id"] == 0
