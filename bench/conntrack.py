"""Conntrack hit-path micro benchmark: ns per conntrack_in that finds its
entry (one hash probe, the L4 tracker, no allocation).

    python -m bench.conntrack [--flows N] [--rounds R] [--proto tcp|udp]

N established flows are created first (handshake / request+reply), then
every flow's next packet is looked up R times in flow order (each lookup a
fresh copy of the packet, so the TCP tracker sees retransmissions; the
timeouts and states stay as they are).
"""
import argparse
import time

from pystack._core.conntrack import bench_lookups
from pystack.conntrack import make_conntrack, make_packet

NS = 1_000_000_000


def _addr(i):
    return "198.18.%d.%d" % ((i >> 8) & 0xff, i & 0xff)


def setup(flows, proto):
    t = make_conntrack(seed=1, max=max(2 * flows, 1024), buckets=max(flows, 1024))
    pk = []
    for i in range(flows):
        c, s, cp = _addr(i), "198.19.0.1", 10000 + (i % 50000)
        if proto == "tcp":
            t.packet(dict(proto="tcp", src=c, dst=s, sport=cp, dport=80, flags="S", seq=1),
                     "PREROUTING", 0)
            t.packet(dict(proto="tcp", src=s, dst=c, sport=80, dport=cp, flags="SA", seq=9,
                          ack=2), "OUTPUT", 0)
            t.packet(dict(proto="tcp", src=c, dst=s, sport=cp, dport=80, flags="A", seq=2,
                          ack=10), "PREROUTING", 0)
            pk.append(make_packet(dict(proto="tcp", src=c, dst=s, sport=cp, dport=80, flags="A",
                                       seq=2, ack=10)))
        else:
            t.packet(dict(proto="udp", src=c, dst=s, sport=cp, dport=53), "PREROUTING", 0)
            t.packet(dict(proto="udp", src=s, dst=c, sport=53, dport=cp), "OUTPUT", 0)
            pk.append(make_packet(dict(proto="udp", src=c, dst=s, sport=cp, dport=53)))
    return t, pk


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.conntrack")
    ap.add_argument("--flows", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--proto", choices=("tcp", "udp", "both"), default="both")
    a = ap.parse_args(argv)
    for proto in (("tcp", "udp") if a.proto == "both" else (a.proto,)):
        t, pk = setup(a.flows, proto)
        bench_lookups(t.ct, pk, NS, 1)            # warm
        best = None
        for _ in range(3):
            t0 = time.perf_counter_ns()
            hits = bench_lookups(t.ct, pk, NS, a.rounds)
            dt = time.perf_counter_ns() - t0
            best = dt if best is None else min(best, dt)
        n = a.flows * a.rounds
        assert hits == n, (hits, n)
        print(f"{proto}: {a.flows} flows x {a.rounds} rounds: {best / n:.1f} ns/lookup hit "
              f"({n / best * 1e3:.2f} M lookups/s), entries {t.stats()['entries']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
