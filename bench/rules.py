"""Micro benchmark of the iptables evaluator on the kube-proxy ruleset.

    python -m bench.rules [--rounds N]

Runs CompiledRules.do_table in a nogil loop (CompiledRules.bench) over a few
packet mixes of data/rules/kube-proxy.save (364 rules) and prints, per mix,
rules evaluated per second, packets per second and ns per packet:

* clusterip: first packets of connections from a pod to every ClusterIP
  service (nat PREROUTING: KUBE-SERVICES -> KUBE-SVC -> statistic -> KUBE-SEP DNAT);
* web-only: the same to one service (198.19.0.20:80), the typical packet;
* no-service: a NEW packet to a non-service address (walks all of
  KUBE-SERVICES, ends at the addrtype rule and the policy);
* established: FORWARD filter for an established connection (KUBE-FORWARD).

The figure the replay budget cares about is ns per packet: at >= 2 M packets/s
for the whole replay, the nat table (consulted once per connection) and the
filter table (every packet) must stay well below 500 ns.
"""
import argparse
import os
import time

from pystack.rules import compile_rules, load_rules

HERE = os.path.dirname(os.path.abspath(__file__))
KP = os.path.join(os.path.dirname(HERE), "data", "rules", "kube-proxy.save")


def pkt(dst, dport, proto="tcp", sport=40000, **kw):
    d = {"proto": proto, "src": "198.18.200.5", "dst": dst, "sport": sport, "dport": dport,
         "len": 60, "ctstate": "NEW", "iif": "cni0", "tcp_flags": "SYN"}
    d.update(kw)
    return d


def mixes():
    services = [("198.19.0.1", 443), ("198.19.0.20", 80), ("198.19.0.21", 9000),
                ("198.19.0.22", 80), ("198.19.0.30", 80)] + \
        [(f"198.19.0.{100 + k}", 80) for k in range(24)]
    return {
        "clusterip": ([pkt(d, p, sport=1000 + i) for i, (d, p) in enumerate(services)],
                      "PREROUTING", "nat"),
        "web-only": ([pkt("198.19.0.20", 80, sport=1000 + i) for i in range(32)],
                     "PREROUTING", "nat"),
        "no-service": ([pkt("198.18.128.77", 8080, sport=1000 + i) for i in range(32)],
                       "PREROUTING", "nat"),
        "established": ([pkt("198.18.128.12", 8080, ctstate="ESTABLISHED", oif="eth0",
                             tcp_flags="ACK") for i in range(32)], "FORWARD", "filter"),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.rules")
    ap.add_argument("--rounds", type=int, default=20000)
    args = ap.parse_args(argv)
    rs = load_rules(KP)
    print(f"ruleset: {KP} ({sum(1 for _ in rs.rules())} rules)")
    for name, (pkts, hook, table) in mixes().items():
        cr = compile_rules(rs, ("lo", "eth0", "cni0"), seed=1)
        cr.bench(pkts, hook, table, 100)                  # warm up
        rounds = max(1, args.rounds * 32 // len(pkts))
        t0 = time.perf_counter()
        tried = cr.bench(pkts, hook, table, rounds)
        dt = time.perf_counter() - t0
        n = rounds * len(pkts)
        print(f"{name:12s} {tried / dt / 1e6:8.1f} M rule evaluations/s  "
              f"{n / dt / 1e6:6.2f} M packets/s  {dt / n * 1e9:7.1f} ns/packet  "
              f"({tried / n:.1f} rules/packet)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
