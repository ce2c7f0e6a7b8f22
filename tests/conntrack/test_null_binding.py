"""The null binding (nf_nat_alloc_null_binding: no nat rule matched) has a
fast path in nat_setup: the tuple is kept when it is not taken.  It must
give what the general get_unique_tuple path gives for the same range (the
tuple's own address, no ports), taken tuples (a port remap from the seeded
generator, stat "found") included: each case runs both ways and compares."""

import pytest

from pystack.conntrack import nat_range
from tests.conntrack.ctutil import table

IN1, IN2, OUT, SRV = "198.18.1.5", "198.18.1.6", "198.18.255.1", "198.19.0.1"
IN6, OUT6, SRV6 = "2001:db8:1::5", "2001:db8:ff::1", "2001:db8:9::1"


def fwd(t, pkt, **kw):
    return t.packet(pkt, "PREROUTING", 0, out_hook="POSTROUTING", **kw)


def tcp(src, dst, sport, dport):
    return dict(proto="tcp", src=src, dst=dst, sport=sport, dport=dport, flags="S", seq=1)


def udp(src, dst, sport, dport):
    return dict(proto="udp", src=src, dst=dst, sport=sport, dport=dport)


def echo(src, dst, ident):
    return dict(proto="icmp" if ":" not in src else "icmpv6", src=src, dst=dst,
                icmp_type=8 if ":" not in src else 128, id=ident)


# (setup packets with their snat range, the packet under test)
CASES = {
    "tcp free": ([], tcp(IN1, SRV, 40000, 80)),
    "udp free": ([], udp(IN1, SRV, 5000, 53)),
    "icmp free": ([], echo(IN1, SRV, 9)),
    "tcp6 free": ([], tcp(IN6, SRV6, 40000, 80)),
    "icmp6 free": ([], echo(IN6, SRV6, 9)),
    # a protocol without ports (the generic tuple: ports zero both ways)
    "gre free": ([], dict(proto=47, src=IN1, dst=SRV)),
    # OUT:33000 is already the mapping of IN1's connection: the null SNAT
    # binding of OUT's own connection to the same server must remap its port
    "tcp taken": ([(tcp(IN1, SRV, 33000, 443), OUT)], tcp(OUT, SRV, 33000, 443)),
    "tcp low port taken": ([(tcp(IN1, SRV, 500, 443), OUT)], tcp(OUT, SRV, 500, 443)),
    "udp taken": ([(udp(IN1, SRV, 5353, 53), OUT)], udp(OUT, SRV, 5353, 53)),
    "icmp taken": ([(echo(IN1, SRV, 7), OUT)], echo(OUT, SRV, 7)),
    "tcp6 taken": ([(tcp(IN6, SRV6, 33000, 443), OUT6)], tcp(OUT6, SRV6, 33000, 443)),
    "tcp taken twice": ([(tcp(IN1, SRV, 33000, 443), OUT), (tcp(IN2, SRV, 33000, 443), OUT)],
                        tcp(OUT, SRV, 33000, 443)),
}


def run(case, explicit, seed):
    setup, pkt = CASES[case]
    t = table(seed=seed)
    for p, to in setup:
        fwd(t, p, snat=nat_range(to))
    kw = {}
    if explicit:
        kw = dict(dnat=nat_range(pkt["dst"]), snat=nat_range(pkt["src"]))
    r = fwd(t, pkt, **kw)
    r.pop("pkt")
    return r, t.entries(0), t.stats()


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("case", sorted(CASES))
def test_null_binding_equals_general_path(case, seed):
    fast, general = run(case, False, seed), run(case, True, seed)
    assert fast == general
    r, _, st = fast
    if "taken" in case:
        assert st["found"] >= 1 and r["nat_changed"] != []
        sport = r["dport"] if "icmp" in case else r["sport"]
        assert sport != CASES[case][1].get("sport", CASES[case][1].get("id"))
    else:
        assert st["found"] == 0 and r["nat_changed"] == []
