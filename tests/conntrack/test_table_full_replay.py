"""nf_conntrack_max reached in a replay (conntrack attached without rules):
the new connection's first packet is NF_DROP'd at PRE_ROUTING (stat drop,
NETFILTER_DROP, the stack never sees it) while only ASSURED entries fill the
table; non-ASSURED entries are early-dropped to make room."""

from pystack.replay import Replay, describe_packet

from tests.pktbuild import HOST4, Client, host, listener, udp4


def _host(maxc, **kw):
    h = host([listener(port=80), listener(port=53, proto="udp")], **kw)
    h.sysctls.set("net.netfilter.nf_conntrack_max", maxc)
    h.sysctls.set("net.netfilter.nf_conntrack_buckets", 1)   # one eviction neighbourhood
    return h


def _handshake(c, isn):
    return [c.syn(), c.host_synack(isn), c.ack(isn)]


def test_full_of_assured_drops_the_new_syn():
    a, b, c = Client(1), Client(2), Client(3)
    pk = _handshake(a, 100) + _handshake(b, 200) + [c.syn()]
    res = Replay(_host(2), checksum="verify", conntrack=True).run_packets(pk)
    last = describe_packet(res, 6)
    assert (last["direction"], last["verdict"], last["reason"]) == ("IN", "DROPPED",
                                                                     "NETFILTER_DROP")
    assert last["nf_hooks"] == ["PREROUTING"] and last["ct_id"] == -1
    st = res.conntrack["stats"]
    assert (st["drop"], st["early_drop"], st["entries"]) == (1, 0, 2)
    assert res.conntrack["entries"]["status"] == [["ASSURED", "SEEN_REPLY"]] * 2
    n = res.nonzero()
    assert n["TcpInSegs"] == 4 and n["TcpPassiveOpens"] == 2     # the third SYN: not TCP's
    assert n["IpInReceives"] == 5 and n["IpInDelivers"] == 4
    assert res.rules == []


def test_early_drop_of_unreplied_udp_flows():
    pk = [udp4(f"10.0.0.{k + 1}", HOST4, 5000, 53, b"q") for k in range(5)]
    res = Replay(_host(4), checksum="verify", conntrack=True).run_packets(pk)
    rows = [describe_packet(res, i) for i in range(5)]
    assert [r["verdict"] for r in rows] == ["DELIVERED"] * 5
    assert [r["ctstate"] for r in rows] == ["NEW"] * 5
    st = res.conntrack["stats"]
    assert (st["early_drop"], st["drop"], st["entries"]) == (4, 0, 1)
    assert res.conntrack["entries"]["orig"] == ["src=10.0.0.5 dst=198.18.0.1 sport=5000 dport=53"]


def test_unlimited_table_keeps_everything():
    pk = [udp4(f"10.0.0.{k + 1}", HOST4, 5000, 53, b"q") for k in range(5)]
    h = host([listener(port=53, proto="udp")])
    res = Replay(h, checksum="verify", conntrack=True).run_packets(pk)
    st = res.conntrack["stats"]
    assert (st["early_drop"], st["drop"], st["entries"]) == (0, 0, 5)
