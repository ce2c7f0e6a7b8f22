"""Timeouts from the sysctls, expiry on capture time (an entry is gone at its
exact expiry, before the next lookup and in every dump)."""

import pytest

from pystack.conntrack import make_conntrack, conntrack_params
from pystack.sysctl import Sysctls
from tests.conntrack.ctutil import NS, table, tcp, drive, state_of

# state reached -> (sysctl, machine default in s)
TCP_STATE_TIMEOUTS = [
    ("SYN_SENT", "tcp_timeout_syn_sent", 120),
    ("SYN_RECV", "tcp_timeout_syn_recv", 60),
    ("ESTABLISHED", "tcp_timeout_established", 432000),
    ("FIN_WAIT", "tcp_timeout_fin_wait", 120),
    ("CLOSE_WAIT", "tcp_timeout_close_wait", 60),
    ("LAST_ACK", "tcp_timeout_last_ack", 30),
    ("TIME_WAIT", "tcp_timeout_time_wait", 120),
    ("CLOSE", "tcp_timeout_close", 10),
]


def test_params_from_machine_defaults():
    p = conntrack_params()
    assert p["max"] == 262144 and p["buckets"] == 262144
    assert p["tcp_timeouts_ns"]["established"] == 432000 * NS
    assert p["tcp_timeouts_ns"]["max_retrans"] == 300 * NS
    assert p["tcp_timeouts_ns"]["unacknowledged"] == 300 * NS
    assert p["tcp_timeouts_ns"]["syn_sent2"] == 120 * NS
    assert (p["udp_timeout_ns"], p["udp_timeout_stream_ns"], p["icmp_timeout_ns"],
            p["icmpv6_timeout_ns"], p["generic_timeout_ns"]) == (
        30 * NS, 120 * NS, 30 * NS, 30 * NS, 600 * NS)


@pytest.mark.parametrize("state,sysctl,default", TCP_STATE_TIMEOUTS)
def test_tcp_state_timeout_default(state, sysctl, default):
    t = table()
    drive(t, state)
    assert t.entries(0)["timeout"] == [default]


@pytest.mark.parametrize("state,sysctl,default", TCP_STATE_TIMEOUTS)
def test_tcp_state_timeout_from_sysctl(state, sysctl, default):
    sc = Sysctls()
    sc.set(f"net.netfilter.nf_conntrack_{sysctl}", 7)
    t = make_conntrack(sc, seed=1, max=64, buckets=16)
    drive(t, state)
    assert t.entries(0)["timeout"] == [7]
    assert t.entries(7 * NS - 1)["timeout"] == [0]
    assert t.entries(7 * NS)["proto"] == []


def test_unacknowledged_sysctl_caps_pickup():
    sc = Sysctls()
    sc.set("net.netfilter.nf_conntrack_tcp_timeout_unacknowledged", 42)
    t = make_conntrack(sc, seed=1, max=64, buckets=16)
    tcp(t, "C", "A", 1001, 5001, now=0)
    assert t.entries(0)["timeout"] == [42]


def test_max_retrans_sysctl():
    sc = Sysctls()
    sc.set("net.netfilter.nf_conntrack_tcp_timeout_max_retrans", 50)
    sc.set("net.netfilter.nf_conntrack_tcp_timeout_unacknowledged", 1000)
    t = make_conntrack(sc, seed=1, max=64, buckets=16)
    drive(t, "ESTABLISHED")
    got = []
    for k in range(5):
        tcp(t, "C", "A", 1001, 5001, now=k * NS, paylen=10)
        got.append(t.entries(k * NS)["timeout"][0])
    # first send and 2 retransmissions: UNACK (1000); the 3rd: max_retrans
    assert got == [1000, 1000, 1000, 50, 50]


def test_udp_and_generic_sysctls():
    sc = Sysctls()
    sc.set("net.netfilter.nf_conntrack_udp_timeout", 5)
    sc.set("net.netfilter.nf_conntrack_generic_timeout", 9)
    sc.set("net.netfilter.nf_conntrack_icmp_timeout", 3)
    t = make_conntrack(sc, seed=1, max=64, buckets=16)
    t.packet(dict(proto="udp", src="198.18.0.1", dst="198.18.0.2", sport=1, dport=2),
             "PREROUTING", 0)
    t.packet(dict(proto=50, src="198.18.0.1", dst="198.18.0.2"), "PREROUTING", 0)
    t.packet(dict(proto="icmp", src="198.18.0.1", dst="198.18.0.2", icmp_type=8, id=1),
             "PREROUTING", 0)
    e = t.entries(0)
    assert sorted(zip(e["proto"], e["timeout"])) == [("icmp", 3), ("udp", 5), ("unknown", 9)]
    assert t.entries(3 * NS)["proto"] == ["udp", "unknown"]
    assert t.entries(5 * NS)["proto"] == ["unknown"]
    assert t.entries(9 * NS)["proto"] == []
    assert t.stats()["entries"] == 0


def test_expired_entry_gone_before_next_lookup():
    t = table()
    tcp(t, "C", "S", 1000, now=0)
    # 120 s later the SYN_SENT entry has expired: a retransmitted SYN is NEW
    # on a fresh entry, refreshed to the full 120 s
    r = tcp(t, "C", "S", 1000, now=120 * NS)
    assert r["ctstate"] == ["NEW"]
    assert t.entries(120 * NS)["timeout"] == [120]
    assert t.stats()["entries"] == 1


def test_refresh_extends_lowering_shortens():
    t = table()
    drive(t, "ESTABLISHED")
    tcp(t, "C", "FA", 1001, 5001, now=10 * NS)
    assert state_of(t, 10 * NS) == "FIN_WAIT"
    assert t.entries(10 * NS)["timeout"] == [120]
    assert t.entries(130 * NS)["proto"] == []


def test_many_entries_expire_in_order():
    t = table(max=4096, buckets=512)
    for k in range(1000):
        t.packet(dict(proto="udp", src="198.18.0.1", dst="198.18.0.2", sport=1000 + k, dport=53),
                 "PREROUTING", k * NS // 1000)
    # entry k expires at 30 s + k ms
    ms = NS // 1000
    assert len(t.entries(30 * NS - 1)["proto"]) == 1000
    assert len(t.entries(30 * NS)["proto"]) == 999
    assert len(t.entries(30 * NS + 200 * ms)["proto"]) == 799
    assert len(t.entries(30 * NS + 998 * ms)["proto"]) == 1
    assert len(t.entries(30 * NS + 999 * ms)["proto"]) == 0
    assert t.stats()["entries"] == 0


def test_expiry_heap_rebuild_keeps_exact_expiry():
    # killed entries leave stale expiry items behind; past the heap's
    # capacity (2 * max + 64) it is rebuilt from the live entries
    t = table(max=2, buckets=4)
    t.packet(dict(proto="udp", src="198.18.0.1", dst="198.18.0.2", sport=1, dport=53),
             "PREROUTING", 0)
    for k in range(300):
        tcp(t, "C", "S", 1000, now=k)
        tcp(t, "S", "RA", 0, 1001, now=k)       # only a RST answered: entry killed
    assert t.stats()["entries"] == 1
    assert t.entries(30 * NS - 1)["proto"] == ["udp"]
    assert t.entries(30 * NS)["proto"] == []
    assert t.stats()["entries"] == 0
