"""Python hooks at the netfilter hook points (Replay.add_hook, pyx/pyhook.pyx):
the C filter, the position among the built-in tables (nf_hook_entries_grow:
after the entries of lower or equal priority), NF_DROP from a hook, marks
seen by later rules, exceptions, and runs without hooks unchanged."""
import numpy as np
import pytest

from pystack.replay import Replay
from pystack._core.pyhook import DROP
from tests.netfilter.engine_util import filter_rules, host, listener, nf_replay, row
from tests.pktbuild import (ACK, HOST4, HOST6, SYN, Client, icmp_echo4, tcp4, udp4)

MANGLE_MARK5 = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
                ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
                "-A PREROUTING -j MARK --set-mark 0x5\nCOMMIT\n")
DNAT_8080 = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             ":POSTROUTING ACCEPT [0:0]\n"
             f"-A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination {HOST4}:80\nCOMMIT\n")


def _host():
    return host([listener(port=80)])


def _replay(rules=None, hooks=(), h=None, **kw):
    r = Replay(h or _host(), checksum="verify", rules=rules, **kw)
    for hook, fn, prio, match in hooks:
        r.add_hook(hook, fn, priority=prio, match=match)
    return r


def _recorder(calls, *fields):
    def fn(p):
        calls.append(tuple(getattr(p, f) for f in fields))
    return fn


def _mixed():
    """frames 1-3 TCP SYNs to :80 from 10.0.0.1-3, 4 UDP to :53, 5 ICMP echo,
    6 an IPv6 SYN, 7 a SYN to :81, 8 an ACK to :80 from 10.0.0.1."""
    return [Client(0).syn(), Client(1).syn(), Client(2).syn(),
            udp4("10.0.0.9", HOST4, 5353, 53, b"q"),
            icmp_echo4("10.0.0.9", HOST4),
            Client(3, v6=True).syn(),
            Client(4, port=81).syn(),
            Client(0).seg(ACK, ack=5)]


@pytest.mark.parametrize("match,frames", [
    (None, [1, 2, 3, 4, 5, 6, 7, 8]),
    ({"proto": "tcp"}, [1, 2, 3, 6, 7, 8]),
    ({"proto": 17}, [4]),
    ({"proto": "icmp"}, [5]),
    ({"family": 6}, [6]),
    ({"src": "10.0.0.0/31"}, [1, 8]),          # 10.0.0.1 only (10.0.0.0/31: .0 and .1)
    ({"src": "10.0.0.2/32", "dport": 80}, [2]),
    ({"dst": "2001:db8::/64"}, [6]),
    ({"dport": 81}, [7]),
    ({"dport": (53, 80)}, [1, 2, 3, 4, 6, 8]),
    ({"dport": "81:"}, [7]),
    ({"sport": "40001:40002"}, [2, 3]),
    ({"tcp_flags": ("SYN,ACK", "SYN")}, [1, 2, 3, 6, 7]),
    ({"tcp_flags": ("SYN,ACK", "ACK")}, [8]),
    ({"ctstate": "NEW"}, [1, 2, 3, 4, 5, 6, 7]),
    ({"ctstate": ["INVALID"]}, [8]),           # an ACK without a connection: tcp_new refuses
    ({"direction": "ORIGINAL", "proto": "udp"}, [4]),
    ({"direction": "REPLY"}, []),
])
def test_only_matching_packets_reach_python(match, frames):
    calls = []
    r = _replay(hooks=[("PREROUTING", _recorder(calls, "frame"), -150, match)])
    res = r.run_packets(_mixed())
    assert [c[0] for c in calls] == frames
    assert res.hooks[0]["calls"] == len(frames)
    assert res.hooks[0]["drops"] == 0


def test_packet_view_fields():
    calls = []
    r = _replay(hooks=[("PREROUTING", _recorder(
        calls, "frame", "ts_ns", "hook", "priority", "family", "proto", "src", "sport", "dst",
        "dport", "tcp_flags", "seq", "ack", "payload_len", "len", "mark", "ctstate", "ct_id",
        "ctdir"), -150, {"proto": "tcp"})])
    c = Client(0)
    r.run_packets([c.syn(), c.host_synack(776), c.seg(ACK | 8, ack=777, data=b"hello")],
                  ts_ns=[5000, 6000, 9000])
    assert calls == [
        (1, 5000, "PREROUTING", -150, 4, 6, "10.0.0.1", 40000, HOST4, 80, SYN, 12345, 0, 0,
         60, 0, "NEW", 0, "ORIGINAL"),
        (3, 9000, "PREROUTING", -150, 4, 6, "10.0.0.1", 40000, HOST4, 80, ACK | 8, 12346, 777,
         5, 45, 0, "ESTABLISHED", 0, "ORIGINAL"),
    ]


def test_view_data_is_the_frame_and_dies_with_the_call():
    kept = []

    def fn(p):
        kept.append((p, p.data))
    pk = [Client(0).syn()]
    r = _replay(hooks=[("INPUT", fn, 0, None)])
    r.run_packets(pk)
    assert kept[0][1] == pk[0]
    with pytest.raises(RuntimeError, match="after its hook call returned"):
        kept[0][0].src


def test_ipv6_addresses_as_strings():
    calls = []
    r = _replay(hooks=[("INPUT", _recorder(calls, "src", "dst", "family"), 0, None)])
    r.run_packets([Client(3, v6=True).syn()])
    assert calls == [("2001:db8:1::3", HOST6, 6)]


@pytest.mark.parametrize("prio,mark", [(-301, 0), (-151, 0), (-150, 5), (-149, 5), (200, 5)])
def test_priority_against_mangle_mark(prio, mark):
    # mangle PREROUTING (-150) sets mark 5: a hook at -150 runs after it (ties
    # after the built-ins), one at -151 before it
    calls = []
    r = _replay(MANGLE_MARK5, hooks=[("PREROUTING", _recorder(calls, "mark"), prio, None)])
    r.run_packets([Client(0).syn()])
    assert calls == [(mark,)]


@pytest.mark.parametrize("prio,dport,dst_ct", [(-101, 8080, "NEW"), (-100, 80, "NEW"),
                                               (0, 80, "NEW")])
def test_priority_against_dnat(prio, dport, dst_ct):
    calls = []
    r = _replay(DNAT_8080, hooks=[("PREROUTING", _recorder(calls, "dport", "ctstate"), prio,
                                   None)])
    res = r.run_packets([Client(0, port=8080).syn()])
    assert calls == [(dport, dst_ct)]
    assert row(res, 0)["verdict"] == "DELIVERED"


@pytest.mark.parametrize("prio,state,ct", [(-201, None, -1), (-200, "NEW", 0)])
def test_priority_against_conntrack(prio, state, ct):
    calls = []
    r = _replay(hooks=[("PREROUTING", _recorder(calls, "ctstate", "ct_id"), prio, None)])
    r.run_packets([Client(0).syn()])
    assert calls == [(state, ct)]


def test_hooks_run_in_priority_then_registration_order_at_every_hook_point():
    seq = []

    def mk(tag):
        return lambda p: seq.append((p.frame, tag))
    r = _replay(h=host([listener(port=80)], ip_forward=1), hooks=[
        ("POSTROUTING", mk("post+100"), 100, None),
        ("PREROUTING", mk("pre0-b"), 0, None),
        ("PREROUTING", mk("pre-400"), -400, None),
        ("PREROUTING", mk("pre0-a"), 0, None),
        ("FORWARD", mk("fwd"), 0, None),
        ("INPUT", mk("in"), 0, None),
        ("OUTPUT", mk("out"), 0, None),
        ("POSTROUTING", mk("post-200"), -200, None),
    ])
    c = Client(0)
    fwd = tcp4("10.0.0.1", "10.9.9.9", 40000, 443, SYN, seq=1)
    r.run_packets([c.syn(), fwd, c.host_synack(777)])
    assert seq == [(1, "pre-400"), (1, "pre0-b"), (1, "pre0-a"), (1, "in"),
                   (2, "pre-400"), (2, "pre0-b"), (2, "pre0-a"), (2, "fwd"), (2, "post-200"),
                   (2, "post+100"),
                   (3, "out"), (3, "post-200"), (3, "post+100")]


def _every_third_syn():
    n = [0]

    def fn(p):
        n[0] += 1
        return DROP if n[0] % 3 == 0 else None
    return fn


def test_drop_every_third_syn_exact_counters():
    syns = [Client(k).syn() for k in range(9)]
    r = _replay(hooks=[("PREROUTING", _every_third_syn(), -150,
                        {"proto": "tcp", "tcp_flags": ("SYN,ACK", "SYN")})])
    res = r.run_packets(syns)
    rows = [row(res, i) for i in range(9)]
    assert [(x["verdict"], x["reason"]) for x in rows] == \
        [("DELIVERED", ""), ("DELIVERED", ""), ("DROPPED", "NETFILTER_DROP")] * 3
    # the 6 SYN-ACKs of 60 bytes (MSS, SACK_PERM, TS, WS) are the host's output
    assert res.nonzero() == {"IpInReceives": 9, "IpInDelivers": 6, "IpExtInOctets": 540,
                             "IpExtInNoECTPkts": 9, "TcpInSegs": 6, "TcpOutSegs": 6,
                             "IpOutRequests": 6, "IpOutTransmits": 6, "IpExtOutOctets": 360}
    assert res.hooks == [{"hook": "PREROUTING", "priority": -150,
                          "fn": "_every_third_syn.<locals>.fn",
                          "match": {"proto": "tcp", "tcp_flags": ("SYN,ACK", "SYN")},
                          "calls": 9, "drops": 3, "time_ns": res.hooks[0]["time_ns"]}]
    assert res.hooks[0]["time_ns"] > 0
    assert int((res.packets["reply"] != 0).sum()) == 6
    # the dropped SYNs' unconfirmed entries died with them
    assert res.conntrack["stats"]["entries"] == 6


def test_hook_drop_equals_the_iptables_drop_at_the_same_place():
    syns = [Client(k).syn() for k in range(9)]
    rules = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
             ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
             "-A PREROUTING -m statistic --mode nth --every 3 --packet 2 -j DROP\nCOMMIT\n")
    ipt = _replay(rules).run_packets(syns)
    hk = _replay(hooks=[("PREROUTING", _every_third_syn(), -150, None)]).run_packets(syns)
    assert hk.counters == ipt.counters
    for k in ("verdict", "reason", "reply", "ctstate", "ct_id", "conn_id"):
        assert (hk.packets[k] == ipt.packets[k]).all(), k
    assert hk.conntrack["L"] == ipt.conntrack["L"]
    assert hk.conntrack["stats"] == ipt.conntrack["stats"]


def test_drop_method_and_input_drop():
    def fn(p):
        if p.sport == 40001:
            p.drop()
    res = _replay(hooks=[("INPUT", fn, 0, None)]).run_packets([Client(0).syn(), Client(1).syn()])
    assert [(row(res, i)["verdict"], row(res, i)["reason"]) for i in range(2)] == \
        [("DELIVERED", ""), ("DROPPED", "NETFILTER_DROP")]
    assert res.hooks[0]["drops"] == 1


def test_output_drop_is_the_host_out_nf_drop_divergence():
    c = Client(0)
    res = _replay(hooks=[("OUTPUT", lambda p: DROP, 0, None)]).run_packets(
        [c.syn(), c.host_synack(777)])
    assert row(res, 1)["verdict"] == "SENT"
    assert res.divergences["host_out_nf_drop"] == 1


def test_mark_set_by_a_hook_is_seen_by_a_later_mark_rule():
    def fn(p):
        if p.src == "10.0.0.2":
            p.mark = 0x7
    rules = filter_rules("-A INPUT -m mark --mark 0x7 -j DROP")
    r = _replay(rules, hooks=[("PREROUTING", fn, -300, None)])
    res = r.run_packets([Client(0).syn(), Client(1).syn(), Client(2).syn()])
    assert [row(res, i)["verdict"] for i in range(3)] == ["DELIVERED", "DROPPED", "DELIVERED"]
    assert row(res, 1)["reason"] == "NETFILTER_DROP"
    assert [(x["packets"], x["bytes"]) for x in res.rules if x["number"] == 1] == [(1, 60)]
    # a hook before the mark was set does not see it; one after does
    seen = []
    r = _replay(rules, hooks=[("PREROUTING", fn, -300, None),
                              ("PREROUTING", _recorder(seen, "mark"), -301, None),
                              ("INPUT", _recorder(seen, "mark"), -1, None)])
    r.run_packets([Client(1).syn()])
    assert seen == [(0,), (7,)]


def test_mark_must_be_32_bit():
    def fn(p):
        p.mark = 1 << 32
    r = _replay(hooks=[("PREROUTING", fn, 0, None)])
    with pytest.raises(ValueError, match="not a 32-bit value"):
        r.run_packets([Client(0).syn()])


def test_exception_propagates_and_the_batch_stops_after_the_raising_packet():
    def fn(p):
        if p.frame == 2:
            raise KeyError("boom")
    r = _replay(hooks=[("PREROUTING", fn, 0, None)])
    with pytest.raises(KeyError, match="boom"):
        r.run_packets([Client(k).syn() for k in range(4)])
    # rows 1 and 2 were processed (the raising packet went on as ACCEPTed)
    assert r._verdicts.n == 2
    c = r.engine.counters()
    assert (c["IpInReceives"], c["TcpInSegs"], c["TcpOutSegs"]) == (2, 2, 2)
    assert r.engine.hook_stats()[0]["calls"] == 2
    assert r.ct_table.stats()["entries"] == 2


def test_bad_return_value_is_a_type_error():
    r = _replay(hooks=[("PREROUTING", lambda p: 0, 0, None)])
    with pytest.raises(TypeError, match="expected None, ACCEPT or DROP"):
        r.run_packets([Client(0).syn()])


@pytest.mark.parametrize("match,msg", [
    ({"port": 80}, "unknown match key 'port'"),
    ({"src": "10.0.0.300/8"}, "match 'src'"),
    ({"family": 4, "dst": "2001:db8::/32"}, "is not IPv4"),
    ({"dport": (90, 80)}, "bad port range"),
    ({"tcp_flags": ("SYN", "ACK")}, "outside mask"),
    ({"tcp_flags": ("SYN,BOGUS", "SYN")}, "unknown TCP flag 'BOGUS'"),
    ({"ctstate": "OLD"}, "unknown state 'OLD'"),
    ({"direction": "up"}, "match 'direction'"),
    ({"proto": "tcpx"}, "unknown protocol"),
])
def test_bad_match_is_a_clear_error(match, msg):
    r = _replay()
    with pytest.raises(ValueError, match=msg):
        r.add_hook("PREROUTING", print, match=match)


def test_bad_hook_priority_and_late_add():
    r = _replay()
    with pytest.raises(ValueError, match="unknown hook 'PRE'"):
        r.add_hook("PRE", print)
    with pytest.raises(ValueError, match="priority"):
        r.add_hook("INPUT", print, priority=2 ** 31 - 1)
    with pytest.raises(TypeError, match="not callable"):
        r.add_hook("INPUT", 5)
    r.run_packets([Client(0).syn()])
    with pytest.raises(RuntimeError, match="before the first batch"):
        r.add_hook("INPUT", print)


def test_a_hook_matching_nothing_changes_nothing():
    pk = _mixed() + [Client(k).syn() for k in range(5, 40)]
    rules = filter_rules("-A INPUT -p tcp --dport 81 -j REJECT --reject-with tcp-reset")
    base = _replay(rules).run_packets(pk)
    calls = []
    hooked = _replay(rules, hooks=[
        (h, _recorder(calls, "frame"), p, {"dst": "192.0.2.0/24"})
        for h in ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
        for p in (-1000, -300, -200, -150, -100, 0, 50, 100)]).run_packets(pk)
    assert calls == []
    assert hooked.counters == base.counters
    assert set(hooked.packets) == set(base.packets)
    for k in base.packets:
        assert np.array_equal(hooked.packets[k], base.packets[k]), k
    assert hooked.rules == base.rules
    assert hooked.conntrack["L"] == base.conntrack["L"]
    assert [x["calls"] for x in hooked.hooks] == [0] * 40


def test_without_rules_a_hook_attaches_conntrack_only():
    pk = _mixed()
    ct = Replay(_host(), checksum="verify", conntrack=True).run_packets(pk)
    r = _replay()
    assert not r.engine.netfilter_attached
    r.add_hook("FORWARD", print, match={"proto": "sctp"})
    assert r.engine.netfilter_attached
    res = r.run_packets(pk)
    assert res.counters == ct.counters
    for k in ct.packets:
        assert np.array_equal(res.packets[k], ct.packets[k]), k
    assert res.rules == []


def test_no_hooks_no_hooks_result():
    res, _ = nf_replay(_host(), [Client(0).syn()], filter_rules())
    assert res.hooks == []


def test_same_input_same_calls():
    def run():
        calls = []
        r = _replay(DNAT_8080, seed=5, hooks=[
            ("PREROUTING", _recorder(calls, "frame", "dport", "ctstate", "ct_id"), -100, None),
            ("INPUT", _recorder(calls, "frame", "mark", "ctdir"), 10, {"proto": "tcp"})])
        pk = [Client(k, port=8080 if k % 2 else 80).syn() for k in range(20)]
        r.run_packets(pk, ts_ns=[k * 7 for k in range(20)])
        return calls
    a = run()
    assert len(a) == 40
    assert a == run()


def test_batches_keep_capture_order_and_frame_numbers():
    calls = []
    r = Replay(_host(), checksum="verify", batch_size=3)
    r.add_hook("PREROUTING", _recorder(calls, "frame", "sport"), 0, {"proto": "tcp"})
    r.run_packets([Client(k).syn() for k in range(8)])
    assert calls == [(k + 1, 40000 + k) for k in range(8)]


def test_input_hooks_between_the_filter_and_security_tables():
    # LOCAL_IN: mangle -150, filter 0, security 50: a hook at -1 runs before
    # the filter DROP, one at 0 after it (never, the packet is gone)
    rules = filter_rules("-A INPUT -p tcp --dport 80 -j DROP")
    calls = []
    r = _replay(rules, hooks=[("INPUT", _recorder(calls, "frame", "priority"), 0, None),
                              ("INPUT", _recorder(calls, "frame", "priority"), -1, None)])
    res = r.run_packets([Client(0).syn(), Client(1, port=81).syn()])
    assert calls == [(1, -1), (2, -1), (2, 0)]
    assert [x["packets"] for x in res.rules if x["number"] == 1] == [1]
    # a DROP at -1 comes first: the filter rule never sees the packet
    r = _replay(rules, hooks=[("INPUT", lambda p: DROP, -1, {"dport": 80})])
    res = r.run_packets([Client(0).syn()])
    assert (row(res, 0)["verdict"], row(res, 0)["reason"]) == ("DROPPED", "NETFILTER_DROP")
    assert [x["packets"] for x in res.rules if x["number"] == 1] == [0]


def test_forward_drop_from_a_hook():
    h = host([listener(port=80)], ip_forward=1)
    fwd = [tcp4("10.0.0.1", "10.9.9.9", 40000 + k, 443, SYN, seq=1) for k in range(3)]
    r = _replay(h=h, hooks=[("FORWARD", lambda p: DROP if p.sport == 40001 else None, 0,
                             None)])
    res = r.run_packets(fwd)
    assert [(row(res, i)["verdict"], row(res, i)["reason"]) for i in range(3)] == \
        [("FORWARDED", ""), ("DROPPED", "NETFILTER_DROP"), ("FORWARDED", "")]
    n = res.nonzero()
    assert (n["IpForwDatagrams"], n["IpOutTransmits"]) == (3, 2)
    assert res.conntrack["stats"]["entries"] == 2


def test_engine_hooks_need_netfilter():
    r = Replay(_host(), checksum="verify")
    with pytest.raises(ValueError, match="netfilter is not attached"):
        r.engine.set_hooks([(0, 0, print, None)])
