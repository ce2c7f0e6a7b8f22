"""The kube-proxy ruleset of data/rules (topology in data/rules/README.md):
ClusterIP packets reach a KUBE-SEP DNAT with the endpoint's range, endpoints
are chosen uniformly through the statistic chain (exact counts for a fixed
seed, checked against a reference model of the chain), the no-endpoint
service is REJECTed, NodePort and masquerade marking work end to end."""
import os
from collections import Counter

import pytest

from pystack.rules import compile_rules, load_rules
from tests.netfilter.refmodel import statistic_random

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
KP = os.path.join(ROOT, "data", "rules", "kube-proxy.save")
IFACES = ("lo", "eth0", "cni0")
NODE = "198.18.0.10"


def pods(a, b):
    return [f"198.18.128.{x}" for x in range(a, b + 1)]


# (cluster IP, proto, port) -> (endpoint IPs in rule order, target port)
SERVICES = {
    ("198.19.0.1", "tcp", 443): ([NODE], 6443),
    ("198.19.0.10", "udp", 53): (pods(2, 3), 53),
    ("198.19.0.10", "tcp", 53): (pods(2, 3), 53),
    ("198.19.0.10", "tcp", 9153): (pods(2, 3), 9153),
    ("198.19.0.20", "tcp", 80): (pods(12, 14), 8080),
    ("198.19.0.21", "tcp", 9000): (pods(15, 18), 9000),
    ("198.19.0.22", "tcp", 80): (pods(19, 23), 8080),
    ("198.19.0.30", "tcp", 80): (pods(24, 25), 8080),
}
first = 26
for k in range(24):
    n = 1 + k % 5
    SERVICES[(f"198.19.0.{100 + k}", "tcp", 80)] = (pods(first, first + n - 1), 8080)
    first += n


@pytest.fixture(scope="module")
def ruleset():
    return load_rules(KP)


def conn(src, dst, proto, dport, sport=40000, **kw):
    d = {"proto": proto, "src": src, "dst": dst, "sport": sport, "dport": dport,
         "len": 60, "ctstate": "NEW", "iif": "cni0", "tcp_flags": "SYN"}
    d.update(kw)
    return d


def reference_choice(state, n):
    """kube-proxy's chain: endpoint i taken with probability 1/(n-i)
    (printed %0.10f, stored lround(p * 2^31)), the last unconditionally."""
    for i in range(n - 1):
        q = round(float(f"{1.0 / (n - i):0.10f}") * 2 ** 31)
        state, hit = statistic_random(state, q)
        if hit:
            return state, i
    return state, n - 1


@pytest.mark.parametrize("svc", sorted(SERVICES), ids=lambda s: f"{s[0]}:{s[1]}/{s[2]}")
def test_clusterip_reaches_a_sep_dnat(ruleset, svc):
    cip, proto, port = svc
    eps, tport = SERVICES[svc]
    cr = compile_rules(ruleset, IFACES, seed=2024)
    state = 2024
    got, want = Counter(), Counter()
    for i in range(600):
        r = cr.evaluate(conn("198.18.200.5", cip, proto, port, sport=20000 + i),
                        "PREROUTING", "nat")
        assert (r["verdict"], r["nat"]) == ("ACCEPT", "DNAT")
        table, chain, num = r["rule"]
        assert (table, chain[:9], num) == ("nat", "KUBE-SEP-", 2)
        rg = r["range"]
        assert rg["flags"] == 3 and rg["min_addr"] == rg["max_addr"]
        assert (rg["min_port"], rg["max_port"]) == (tport, tport)
        assert r["mark"] == 0                     # from a pod: no masquerade mark
        got[rg["min_addr"]] += 1
        state, k = reference_choice(state, len(eps))
        want[eps[k]] += 1
    assert got == want
    assert cr.rng == state
    assert set(got) == set(eps)
    for ep in eps:                                # ~uniform: 600/n each
        assert abs(got[ep] - 600 / len(eps)) < 0.25 * 600 / len(eps) + 20


def test_five_endpoint_counts_exact_for_seed(ruleset):
    cr = compile_rules(ruleset, IFACES, seed=7)
    got = Counter()
    for i in range(5000):
        r = cr.evaluate(conn("198.18.200.5", "198.19.0.22", "tcp", 80, sport=i), "PREROUTING", "nat")
        got[r["range"]["min_addr"]] += 1
    assert [got[p] for p in pods(19, 23)] == [976, 999, 989, 979, 1057]
    state, ref = 7, Counter()
    for i in range(5000):
        state, k = reference_choice(state, 5)
        ref[k] += 1
    assert [ref[k] for k in range(5)] == [976, 999, 989, 979, 1057]
    # nat counters count these first packets: each DNAT rule its connections
    pk, _ = cr.counters()
    for ep in pods(19, 23):
        idx = [i for i in range(len(cr))
               if cr.rule_info(i)[3].endswith(f"-j DNAT --to-destination {ep}:8080")]
        assert len(idx) == 1 and int(pk[idx[0]]) == got[ep]


def test_masquerade_mark_from_outside_the_cluster(ruleset):
    cr = compile_rules(ruleset, IFACES, seed=1)
    r = cr.evaluate(conn("203.0.113.9", "198.19.0.20", "tcp", 80, iif="eth0"), "PREROUTING", "nat")
    assert (r["nat"], r["mark"]) == ("DNAT", 0x4000)
    post = cr.evaluate(conn("203.0.113.9", r["range"]["min_addr"], "tcp", 8080, iif="eth0",
                            oif="cni0", mark=r["mark"]), "POSTROUTING", "nat")
    assert (post["nat"], post["range"]["flags"], post["mark"]) == ("MASQUERADE", 16, 0)
    assert post["rule"] == ("nat", "KUBE-POSTROUTING", 3)
    # without the mark: KUBE-POSTROUTING returns, the policy accepts, no NAT
    post = cr.evaluate(conn("198.18.200.5", "198.18.128.12", "tcp", 8080, oif="cni0"),
                       "POSTROUTING", "nat")
    assert (post["nat"], post["rule"]) == (None, ("nat", "POSTROUTING", 0))


def test_hairpin_endpoint_to_its_own_service_is_marked(ruleset):
    # the only endpoint of default/kubernetes is the node itself
    cr = compile_rules(ruleset, IFACES, seed=3)
    r = cr.evaluate(conn(NODE, "198.19.0.1", "tcp", 443, iif=None, oif="eth0"), "OUTPUT", "nat")
    assert (r["nat"], r["range"]["min_addr"], r["range"]["min_port"], r["mark"]) == \
        ("DNAT", NODE, 6443, 0x4000)
    # a pod reaching itself through its service: SEP hairpin rule marks it
    for i in range(50):
        r = cr.evaluate(conn("198.18.128.12", "198.19.0.20", "tcp", 80, sport=3000 + i),
                        "PREROUTING", "nat")
        assert r["mark"] == (0x4000 if r["range"]["min_addr"] == "198.18.128.12" else 0)


def test_nodeport(ruleset):
    cr = compile_rules(ruleset, IFACES, seed=11)
    seen = Counter()
    for i in range(200):
        r = cr.evaluate(conn("203.0.113.9", NODE, "tcp", 30080, sport=1000 + i, iif="eth0",
                             dst_type="LOCAL"), "PREROUTING", "nat")
        assert (r["nat"], r["mark"], r["range"]["min_port"]) == ("DNAT", 0x4000, 8080)
        seen[r["range"]["min_addr"]] += 1
    assert set(seen) == set(pods(24, 25))
    # the node port on a non-local address is not a service
    r = cr.evaluate(conn("203.0.113.9", "198.18.0.99", "tcp", 30080, iif="eth0"), "PREROUTING", "nat")
    assert (r["nat"], r["rule"]) == (None, ("nat", "PREROUTING", 0))


def test_service_without_endpoints_is_rejected(ruleset):
    cr = compile_rules(ruleset, IFACES)
    for hook, kw in (("OUTPUT", {"iif": None, "oif": "eth0"}), ("FORWARD", {"oif": "eth0"})):
        r = cr.evaluate(conn("198.18.200.5", "198.19.0.40", "tcp", 8080, **kw), hook, "filter")
        assert (r["verdict"], r["reject"], r["rule"]) == \
            ("DROP", "icmp-port-unreachable", ("filter", "KUBE-SERVICES", 1))
        # established traffic does not go through KUBE-SERVICES
        r = cr.evaluate(conn("198.18.200.5", "198.19.0.40", "tcp", 8080, ctstate="ESTABLISHED",
                             **kw), hook, "filter")
        assert r["verdict"] == "ACCEPT"
    # and there is no nat rule for it
    r = cr.evaluate(conn("198.18.200.5", "198.19.0.40", "tcp", 8080), "PREROUTING", "nat")
    assert r["nat"] is None


def test_kube_forward(ruleset):
    cr = compile_rules(ruleset, IFACES)
    r = cr.evaluate(conn("198.18.200.5", "198.18.128.12", "tcp", 8080, ctstate="INVALID",
                         oif="cni0"), "FORWARD", "filter")
    assert (r["verdict"], r["rule"]) == ("DROP", ("filter", "KUBE-FORWARD", 1))
    r = cr.evaluate(conn("198.18.200.5", "198.18.128.12", "tcp", 8080, mark=0x4000,
                         oif="cni0"), "FORWARD", "filter")
    assert (r["verdict"], r["rule"]) == ("ACCEPT", ("filter", "KUBE-FORWARD", 2))
    r = cr.evaluate(conn("203.0.113.9", "127.0.0.1", "tcp", 80, ctstate="NEW", iif="eth0"),
                    "INPUT", "filter")
    assert (r["verdict"], r["rule"]) == ("DROP", ("filter", "KUBE-FIREWALL", 1))
    r = cr.evaluate(conn("127.0.0.2", "127.0.0.1", "tcp", 80, ctstate="NEW", iif="lo"),
                    "INPUT", "filter")
    assert (r["verdict"], r["rule"]) == ("ACCEPT", ("filter", "INPUT", 0))
