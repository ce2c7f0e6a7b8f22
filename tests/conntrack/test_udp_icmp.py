"""UDP (unreplied / stream timeout, ASSURED after 2 s), ICMP echo, ICMP
errors RELATED through their inner tuple, the generic tracker."""

import pytest

from tests.conntrack.ctutil import NS, C, S, table

C6, S6 = "2001:db8::1", "2001:db8::2"


def udp(t, d, now, **kw):
    pkt = dict(proto="udp", src=C, dst=S, sport=5353, dport=53) if d == "C" else \
        dict(proto="udp", src=S, dst=C, sport=53, dport=5353)
    pkt.update(kw)
    return t.packet(pkt, "PREROUTING" if d == "C" else "OUTPUT", now)


def test_udp_unreplied_timeout():
    t = table()
    r = udp(t, "C", 0)
    assert r["ctstate"] == ["NEW"]
    e = t.entries(0)
    assert e["proto"] == ["udp"] and e["timeout"] == [30] and e["status"] == [["UNREPLIED"]]
    assert t.to_conntrack_L(0) == (
        "udp      17 30 src=198.18.0.1 dst=198.18.0.2 sport=5353 dport=53 [UNREPLIED] "
        "src=198.18.0.2 dst=198.18.0.1 sport=53 dport=5353 mark=0 use=1\n")
    assert t.entries(30 * NS - 1)["timeout"] == [0]
    assert t.entries(30 * NS)["proto"] == []
    assert t.stats()["entries"] == 0


def test_udp_reply_within_2s_keeps_30s_and_no_assured():
    t = table()
    udp(t, "C", 0)
    r = udp(t, "S", NS)
    assert r["ctstate"] == ["ESTABLISHED"] and r["dir"] == "REPLY"
    udp(t, "C", 2 * NS)          # not strictly after alloc + 2 s
    e = t.entries(2 * NS)
    assert e["timeout"] == [30] and e["status"] == [["SEEN_REPLY"]]


def test_udp_stream_after_2s_assured_120s():
    t = table()
    udp(t, "C", 0)
    udp(t, "S", NS)
    udp(t, "C", 2 * NS + 1)
    e = t.entries(2 * NS + 1)
    assert e["timeout"] == [120] and e["status"] == [["ASSURED", "SEEN_REPLY"]]
    assert t.entries(3 * NS)["timeout"] == [119]
    assert t.entries(122 * NS + 1)["proto"] == []


def test_udp_first_reply_itself_gets_unreplied_timeout():
    # SEEN_REPLY is set after the tracker ran: the first reply, even late,
    # refreshes with the unreplied timeout
    t = table()
    udp(t, "C", 0)
    udp(t, "S", 10 * NS)
    e = t.entries(10 * NS)
    assert e["timeout"] == [30] and e["status"] == [["SEEN_REPLY"]]
    udp(t, "S", 11 * NS)
    assert t.entries(11 * NS)["status"] == [["ASSURED", "SEEN_REPLY"]]


def test_udp_bad_checksum_invalid_at_prerouting():
    t = table()
    r = udp(t, "C", 0, csum_bad=1)
    assert r["ctstate"] == ["INVALID"] and t.stats()["invalid"] == 1
    assert t.stats()["entries"] == 0


def test_icmp_echo_request_reply():
    t = table()
    r = t.packet(dict(proto="icmp", src=C, dst=S, icmp_type=8, id=77), "PREROUTING", 0)
    assert r["ctstate"] == ["NEW"]
    r = t.packet(dict(proto="icmp", src=S, dst=C, icmp_type=0, id=77), "OUTPUT", NS)
    assert r["ctstate"] == ["ESTABLISHED"] and r["dir"] == "REPLY"
    assert t.to_conntrack_L(NS) == (
        "icmp     1 30 src=198.18.0.1 dst=198.18.0.2 type=8 code=0 id=77 "
        "src=198.18.0.2 dst=198.18.0.1 type=0 code=0 id=77 mark=0 use=1\n")


def test_icmp_echo_reply_alone_is_invalid():
    t = table()
    r = t.packet(dict(proto="icmp", src=S, dst=C, icmp_type=0, id=77), "PREROUTING", 0)
    assert r["ctstate"] == ["INVALID"] and t.stats()["invalid"] == 1
    assert t.stats()["entries"] == 0


def test_icmp_type_without_inverse_is_invalid():
    t = table()
    r = t.packet(dict(proto="icmp", src=S, dst=C, icmp_type=9), "PREROUTING", 0)   # router adv
    assert r["ctstate"] == ["INVALID"] and t.stats()["invalid"] == 1


def test_icmpv6_echo():
    t = table()
    r = t.packet(dict(proto="icmpv6", src=C6, dst=S6, icmp_type=128, id=5), "PREROUTING", 0)
    assert r["ctstate"] == ["NEW"]
    r = t.packet(dict(proto="icmpv6", src=S6, dst=C6, icmp_type=129, id=5), "OUTPUT", 0)
    assert r["ctstate"] == ["ESTABLISHED"]
    assert t.to_conntrack_L(0) == (
        "icmpv6   58 30 src=2001:db8::1 dst=2001:db8::2 type=128 code=0 id=5 "
        "src=2001:db8::2 dst=2001:db8::1 type=129 code=0 id=5 mark=0 use=1\n")


def _conn(t):
    t.packet(dict(proto="udp", src=C, dst=S, sport=5353, dport=53), "OUTPUT", 0)


def test_icmp_error_related_to_its_connection():
    t = table()
    _conn(t)    # local client C -> S
    # S answers port unreachable, quoting C's datagram
    err = dict(proto="icmp", src=S, dst=C, icmp_type=3, icmp_code=3,
               inner=dict(proto="udp", src=C, dst=S, sport=5353, dport=53))
    r = t.packet(err, "PREROUTING", NS)
    assert r["ctstate"] == ["RELATED"] and r["dir"] == "REPLY" and r["ct"] == 0
    assert t.stats()["error"] == 0
    # an error does not refresh the entry
    assert t.entries(NS)["timeout"] == [29]


def test_icmp_error_from_a_router_on_the_path_related():
    t = table()
    _conn(t)
    err = dict(proto="icmp", src="198.18.1.254", dst=C, icmp_type=11,
               inner=dict(proto="udp", src=C, dst=S, sport=5353, dport=53))
    r = t.packet(err, "PREROUTING", NS)
    assert r["ctstate"] == ["RELATED"]


def test_icmp_error_unknown_connection_counts_error():
    t = table()
    err = dict(proto="icmp", src=S, dst=C, icmp_type=3, icmp_code=3,
               inner=dict(proto="udp", src=C, dst=S, sport=5353, dport=53))
    r = t.packet(err, "PREROUTING", 0)
    assert r["ctstate"] == ["INVALID"]
    assert t.stats()["error"] == 1 and t.stats()["invalid"] == 0


def test_icmp_error_outer_destination_mismatch_counts_error():
    t = table()
    _conn(t)
    err = dict(proto="icmp", src=S, dst="198.18.0.9", icmp_type=3, icmp_code=3,
               inner=dict(proto="udp", src=C, dst=S, sport=5353, dport=53))
    r = t.packet(err, "PREROUTING", 0)
    assert r["ctstate"] == ["INVALID"] and t.stats()["error"] == 1


def test_icmp_bad_checksum_counts_error():
    t = table()
    r = t.packet(dict(proto="icmp", src=C, dst=S, icmp_type=8, id=1, csum_bad=1),
                 "PREROUTING", 0)
    assert r["ctstate"] == ["INVALID"] and t.stats()["error"] == 1


def test_icmpv6_error_related():
    t = table()
    t.packet(dict(proto="tcp", src=C6, dst=S6, sport=1000, dport=443, flags="S"), "OUTPUT", 0)
    err = dict(proto="icmpv6", src=S6, dst=C6, icmp_type=1, icmp_code=4,
               inner=dict(proto="tcp", src=C6, dst=S6, sport=1000, dport=443))
    r = t.packet(err, "PREROUTING", 0)
    assert r["ctstate"] == ["RELATED"] and r["dir"] == "REPLY"


# ESP, AH, IPIP: no own tracker (GRE, SCTP, DCCP have theirs in the kernel
# and are not modelled)
@pytest.mark.parametrize("proto", [50, 51, 4])
def test_generic_tracker(proto):
    t = table()
    r = t.packet(dict(proto=proto, src=C, dst=S), "PREROUTING", 0)
    assert r["ctstate"] == ["NEW"]
    r = t.packet(dict(proto=proto, src=S, dst=C), "OUTPUT", NS)
    assert r["ctstate"] == ["ESTABLISHED"]
    e = t.entries(NS)
    assert e["timeout"] == [600] and e["orig"] == ["src=198.18.0.1 dst=198.18.0.2"]


def test_fragment_is_invalid():
    t = table()
    r = t.packet(dict(proto="udp", src=C, dst=S, sport=1, dport=2, frag=1), "PREROUTING", 0)
    assert r["ctstate"] == ["INVALID"] and t.stats()["invalid"] == 1


def test_notrack_untracked():
    t = table()
    r = t.packet(dict(proto="udp", src=C, dst=S, sport=1, dport=2), "PREROUTING", 0,
                 notrack=True)
    assert r["ctstate"] == ["UNTRACKED"] and r["ct"] == -1
    assert t.stats() == {"found": 0, "invalid": 0, "insert": 0, "insert_failed": 0,
                         "drop": 0, "early_drop": 0, "error": 0, "search_restart": 0,
                         "clashres": 0, "entries": 0}


@pytest.mark.parametrize("icmp_type", [130, 131, 132, 133, 134, 135, 136, 143])
def test_icmpv6_nd_and_mld_untracked(icmp_type):
    t = table()
    r = t.packet(dict(proto="icmpv6", src=C6, dst=S6, icmp_type=icmp_type), "PREROUTING", 0)
    assert r["ctstate"] == ["UNTRACKED"] and r["ct"] == -1
    st = t.stats()
    assert (st["invalid"], st["error"], st["entries"]) == (0, 0, 0)


def test_icmpv6_redirect_is_invalid():
    t = table()
    r = t.packet(dict(proto="icmpv6", src=C6, dst=S6, icmp_type=137), "PREROUTING", 0)
    assert r["ctstate"] == ["INVALID"] and t.stats()["invalid"] == 1


def test_gre_unreplied_then_stream_assured():
    t = table()
    t.packet(dict(proto=47, src=C, dst=S), "PREROUTING", 0)
    assert t.to_conntrack_L(0) == (
        "gre      47 30 src=198.18.0.1 dst=198.18.0.2 srckey=0x0 dstkey=0x0 [UNREPLIED] "
        "src=198.18.0.2 dst=198.18.0.1 srckey=0x0 dstkey=0x0 mark=0 use=1\n")
    t.packet(dict(proto=47, src=S, dst=C), "OUTPUT", NS)
    e = t.entries(NS)
    assert e["timeout"] == [30] and e["status"] == [["SEEN_REPLY"]]
    t.packet(dict(proto=47, src=C, dst=S), "PREROUTING", 2 * NS)
    e = t.entries(2 * NS)
    assert e["timeout"] == [180] and e["status"] == [["ASSURED", "SEEN_REPLY"]]
