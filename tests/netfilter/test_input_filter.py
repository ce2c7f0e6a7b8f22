"""filter INPUT in the engine's receive path: DROP -> NETFILTER_DROP before
the L4 handler, REJECT replies (nf_send_reset / icmp_send), ctstate INVALID
and ESTABLISHED, rule counters (skb->len bytes)."""

from tests.netfilter.engine_util import filter_rules, host, listener, nf_replay, row, rule_counts
from tests.pktbuild import ACK, FIN, SYN, HOST4, Client, udp4

RULES = filter_rules(
    "-A INPUT -m conntrack --ctstate INVALID -j DROP",
    "-A INPUT -p tcp -m tcp --dport 6001 -j DROP",
    "-A INPUT -p tcp -m tcp --dport 6002 -j REJECT --reject-with tcp-reset",
    "-A INPUT -p udp -m udp --dport 6003 -j REJECT --reject-with icmp-port-unreachable",
)


def _host():
    return host([listener(port=6001), listener(port=6002), listener(port=6004),
                 listener(port=6003, proto="udp")])


def test_drop_rule_is_netfilter_drop_before_tcp():
    c = Client(1, port=6001)
    res, _ = nf_replay(_host(), [c.syn()], RULES)
    r = row(res, 0)
    assert (r["direction"], r["verdict"], r["reason"]) == ("IN", "DROPPED", "NETFILTER_DROP")
    assert r["nf_hooks"] == ["PREROUTING", "INPUT"]
    assert (r["nf_hook"], r["nf_table"]) == ("INPUT", "filter")
    assert res.rules[r["nf_rule"]]["text"] == "-A INPUT -p tcp -m tcp --dport 6001 -j DROP"
    assert r["ctstate"] == "NEW" and r["ct_id"] == -1      # the unconfirmed entry died
    assert r["reply"] == "NONE"
    n = res.nonzero()
    assert n == {"IpInReceives": 1, "IpExtInOctets": 60, "IpExtInNoECTPkts": 1}
    assert rule_counts(res, "filter", "INPUT") == [(1, 0, 0), (2, 1, 60), (3, 0, 0), (4, 0, 0),
                                                    (0, 0, 0)]
    assert res.conntrack["stats"]["entries"] == 0
    assert res.conntrack["L"] == ""


def test_reject_tcp_reset_syn_and_ack():
    c = Client(2, port=6002)
    res, _ = nf_replay(_host(), [c.syn(), c.seg(ACK, seq=c.isn + 1, ack=777)], RULES)
    r0, r1 = row(res, 0), row(res, 1)
    assert (r0["verdict"], r0["reason"], r0["reply"]) == ("DROPPED", "NETFILTER_DROP", "RST")
    # nf_reject_ip_tcphdr_put: no ACK -> seq 0, ack = seq + SYN, RST|ACK
    assert (r0["reply_seq"], r0["reply_ack"], r0["reply_flags"]) == (0, c.isn + 1, 0x14)
    # ACK set -> seq = its ack_seq, RST only
    assert (r1["reply"], r1["reply_seq"], r1["reply_ack"], r1["reply_flags"]) == \
        ("RST", 777, 0, 0x04)
    # sent with ip_local_out: no TCP MIB (the recorded nf-input-rules scenario)
    n = res.nonzero()
    assert "TcpOutRsts" not in n and "TcpOutSegs" not in n and "TcpInSegs" not in n
    assert rule_counts(res, "filter", "INPUT")[2] == (3, 2, 60 + 40)


def test_reject_icmp_port_unreachable_is_rate_limited():
    pk = [udp4("10.0.0.9", HOST4, 5000 + k, 6003, b"x" * 10) for k in range(8)]
    res, _ = nf_replay(_host(), pk, RULES)
    rows = [row(res, i) for i in range(8)]
    assert [r["reply"] for r in rows] == ["ICMP_PORT_UNREACH"] * 6 + ["NONE"] * 2
    assert all(r["reason"] == "NETFILTER_DROP" for r in rows)
    assert rows[0]["reply_flags"] == 3
    n = res.nonzero()
    assert n["IcmpOutMsgs"] == 6 and n["IcmpOutDestUnreachs"] == 6
    assert n["IcmpOutRateLimitHost"] == 2
    assert "UdpNoPorts" not in n and "UdpInDatagrams" not in n and "IpInDelivers" not in n
    assert rule_counts(res, "filter", "INPUT")[3] == (4, 8, 8 * 38)


def test_ctstate_invalid_dropped_and_counted():
    c = Client(3, port=6004)
    res, _ = nf_replay(_host(), [c.seg(SYN | FIN, seq=5000), c.seg(ACK | FIN, seq=6000,
                                                                   ack=77)], RULES)
    for i in range(2):
        r = row(res, i)
        assert (r["verdict"], r["reason"], r["ctstate"]) == ("DROPPED", "NETFILTER_DROP",
                                                              "INVALID")
        assert res.rules[r["nf_rule"]]["number"] == 1
    assert res.conntrack["stats"]["invalid"] == 2
    assert rule_counts(res, "filter", "INPUT")[0] == (1, 2, 80)


def test_established_accepted_by_ctstate_rule():
    rules = filter_rules(
        "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A INPUT -p tcp -m tcp --dport 6004 -j ACCEPT", inp="DROP")
    c = Client(4, port=6004)
    pk = [c.syn(), c.host_synack(9000), c.ack(9000), c.ack(9000, data=b"y" * 100)]
    res, _ = nf_replay(_host(), pk, rules)
    rows = [row(res, i) for i in range(4)]
    assert [r["verdict"] for r in rows] == ["DELIVERED", "SENT", "DELIVERED", "DELIVERED"]
    assert [r["ctstate"] for r in rows] == ["NEW", "ESTABLISHED REPLY", "ESTABLISHED",
                                            "ESTABLISHED"]
    assert [r["nf_hooks"] for r in rows] == [["PREROUTING", "INPUT"], ["OUTPUT", "POSTROUTING"],
                                             ["PREROUTING", "INPUT"], ["PREROUTING", "INPUT"]]
    assert rows[0]["ct_id"] == rows[1]["ct_id"] == rows[3]["ct_id"] == 0
    assert rule_counts(res, "filter", "INPUT") == [(1, 2, 40 + 140), (2, 1, 60), (0, 0, 0)]
    assert rule_counts(res, "filter", "OUTPUT") == [(0, 1, 60)]
    e = res.conntrack["entries"]
    assert e["state"] == ["ESTABLISHED"] and e["status"] == [["ASSURED", "SEEN_REPLY"]]
    assert res.nonzero()["TcpPassiveOpens"] == 1


def test_rules_save_has_model_counters():
    c = Client(1, port=6001)
    res, _ = nf_replay(_host(), [c.syn(), c.syn()], RULES)
    text = res.rules_save()
    assert "[2:120] -A INPUT -p tcp -m tcp --dport 6001 -j DROP\n" in text
    assert ":INPUT ACCEPT [0:0]\n" in text


def test_multicast_not_for_us_stays_not_host():
    # RTN_MULTICAST / RTN_BROADCAST routing is not modelled: such rows are
    # left out of the hooks (as without netfilter), no InAddrErrors
    pk = [udp4("10.0.0.9", "224.0.0.251", 5353, 5353, b"m"),
          udp4("10.0.0.9", "10.0.0.77", 5353, 53, b"u")]
    res, _ = nf_replay(_host(), pk, RULES)
    r0, r1 = row(res, 0), row(res, 1)
    assert (r0["verdict"], r0["nf_hooks"]) == ("NOT_HOST", [])
    # unicast to another address, ip_forward=0: PRE_ROUTING ran, InAddrErrors
    assert (r1["verdict"], r1["reason"], r1["nf_hooks"]) == ("DROPPED", "IP_INADDRERRORS",
                                                             ["PREROUTING"])
    assert res.nonzero()["IpInAddrErrors"] == 1 and res.nonzero()["IpInReceives"] == 1
