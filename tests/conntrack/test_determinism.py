"""Same packets + same sysctls + same seed => the same table, byte for byte;
random traffic keeps the table's invariants (count, limit, hash)."""

import random

from pystack.conntrack import nat_range
from tests.conntrack.ctutil import NS, table

HOOKS = ("PREROUTING", "OUTPUT")


def _traffic(seed, n):
    rng = random.Random(seed)
    out = []
    for k in range(n):
        a = "198.18.%d.%d" % (rng.randrange(2), rng.randrange(1, 6))
        b = "198.19.0.%d" % rng.randrange(1, 4)
        if rng.random() < 0.5:
            a, b = b, a
        proto = rng.choice(("tcp", "udp", "icmp", 50))
        pkt = dict(proto=proto, src=a, dst=b)
        if proto == "tcp":
            pkt.update(sport=rng.choice((80, 1000, 1001)), dport=rng.choice((80, 1000, 1001)),
                       flags=rng.choice(("S", "SA", "A", "FA", "RA", "R", "F", "AP")),
                       seq=rng.randrange(1 << 32), ack=rng.randrange(1 << 32),
                       win=rng.randrange(65536), paylen=rng.choice((0, 0, 100, 1448)),
                       csum_bad=int(rng.random() < 0.05))
        elif proto == "udp":
            pkt.update(sport=rng.choice((53, 1000)), dport=rng.choice((53, 1000)))
        elif proto == "icmp":
            pkt.update(icmp_type=rng.choice((8, 0, 3, 11)), id=rng.randrange(3))
            if pkt["icmp_type"] in (3, 11):
                pkt["inner"] = dict(proto="udp", src=b, dst=a, sport=53, dport=1000)
        snat = nat_range("198.18.255.1") if rng.random() < 0.3 else None
        dnat = nat_range("198.18.100.1", ports=8080) if rng.random() < 0.1 else None
        out.append((pkt, rng.choice(HOOKS), k * NS // 3, snat, dnat, rng.random() < 0.05))
    return out


def _run(seed, traffic, **kw):
    t = table(seed=seed, max=64, buckets=16, **kw)
    verdicts = []
    for pkt, hook, now, snat, dnat, die in traffic:
        r = t.packet(pkt, hook, now, out_hook="POSTROUTING", snat=snat, dnat=dnat, die=die)
        verdicts.append((r["verdict"], tuple(r["ctstate"]), r["src"], r["sport"], r["dst"],
                         r["dport"]))
        st = t.stats()
        n = len(t.entries(now)["proto"])
        assert st["entries"] == n            # nothing left unconfirmed between packets
        assert n <= 64
    return t, verdicts


def test_same_seed_same_output():
    traffic = _traffic(1, 1500)
    t1, v1 = _run(5, traffic)
    t2, v2 = _run(5, traffic)
    end = traffic[-1][2]
    assert v1 == v2
    assert t1.to_conntrack_L(end) == t2.to_conntrack_L(end)
    assert t1.stats() == t2.stats()


def test_random_traffic_invariants_liberal():
    _run(9, _traffic(2, 1500), tcp_be_liberal=1)


def test_table_drains_after_all_timeouts():
    traffic = _traffic(3, 500)
    t, _ = _run(1, traffic)
    end = traffic[-1][2] + 432001 * NS
    assert t.to_conntrack_L(end) == "" and t.stats()["entries"] == 0
