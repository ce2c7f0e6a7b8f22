"""The destination index of CompiledRules (runs of `-d A/32 -p P --dport N`
rules, kube-proxy's KUBE-SERVICES) must give exactly what ipt_do_table's
rule-by-rule walk gives: the same first match, verdict, rules_tried and
per-rule counters, also when a RETURN lands in the middle of a run and when
a key occurs twice in one run.  Reference: the same ruleset compiled with
dindex=False."""
import itertools

from tests.netfilter.util import filter_rules

CHAINS = ("SVC", "A", "B")
BODY = """
-A INPUT -j SVC
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A SVC -d 10.0.0.1/32 -p tcp -m comment --comment "a" -m tcp --dport 80 -j A
-A SVC -d 10.0.0.2/32 -p tcp -m tcp --dport 80 -j REJECT
-A SVC -d 10.0.0.1/32 -p udp -m udp --dport 53 -j ACCEPT
-A SVC -d 10.0.0.1/32 -p tcp -m tcp --dport 80 -j B
-A SVC -d 10.0.0.3/32 -p tcp -m comment --comment "b" -m tcp --dport 443 -j ACCEPT
-A SVC -d 10.0.0.4/32 -p tcp -m tcp --dport 8080 -j DROP
-A SVC -s 192.168.0.0/16 -j ACCEPT
-A SVC -d 10.0.0.5/32 -p tcp -m tcp --dport 80 -j ACCEPT
-A SVC -d 10.0.0.6/32 -p tcp -m tcp --dport 80 -j ACCEPT
-A SVC -d 10.0.0.7/32 -p tcp -m tcp --dport 80 -j ACCEPT
-A A -p tcp -m tcp --sport 1000 -j ACCEPT
-A B -p tcp -m tcp --sport 2000 -j DROP
"""


def both():
    return (filter_rules(BODY, chains=CHAINS, policy="DROP"),
            filter_rules(BODY, chains=CHAINS, policy="DROP", dindex=False))


def test_only_long_runs_are_indexed():
    fast, ref = both()
    # SVC rules 1-6 (a run of 6); rules 8-10 are a run of 3: below DIDX_MIN
    assert fast.indexed == 6
    assert ref.indexed == 0


def test_return_into_a_run_finds_the_duplicate_key():
    fast, ref = both()
    pkt = {"proto": "tcp", "src": "1.2.3.4", "dst": "10.0.0.1", "sport": 2000, "dport": 80,
           "len": 60}
    for cr in (fast, ref):
        r = cr.evaluate(pkt, "INPUT", "filter")
        # INPUT 1, SVC 1 -> A 1, A's RETURN, SVC 2, 3, SVC 4 -> B 1: DROP
        assert (r["verdict"], r["rule"], r["rules_tried"]) == ("DROP", ("filter", "B", 1), 8)


def test_same_results_and_counters_as_rule_by_rule():
    fast, ref = both()
    dsts = [f"10.0.0.{k}" for k in range(1, 9)]
    pkts = []
    for dst, proto, dport, sport, src, frag in itertools.product(
            dsts, ("tcp", "udp", "icmp"), (80, 53, 443, 8080, 22), (1000, 2000, 5),
            ("1.2.3.4", "192.168.1.1"), (False, True)):
        pkts.append({"proto": proto, "src": src, "dst": dst, "sport": sport, "dport": dport,
                     "frag": frag, "len": 40 + dport % 7})
    for pkt in pkts:
        assert fast.evaluate(pkt, "INPUT", "filter") == ref.evaluate(pkt, "INPUT", "filter"), pkt
    fp, fb = fast.counters()
    rp, rb = ref.counters()
    assert fp.tolist() == rp.tolist()
    assert fb.tolist() == rb.tolist()
    # every rule of the indexed run matched some packet
    svc = [fast.rule_index("filter", "SVC", n) for n in range(1, 7)]
    assert all(fp[i] > 0 for i in svc)


def test_kube_proxy_services_chain_is_indexed():
    from pystack.rules import compile_rules, load_rules
    from tests.netfilter.util import IFACES
    import os
    path = os.path.join(os.path.dirname(__file__), "..", "..", "data", "rules",
                        "kube-proxy.save")
    cr = compile_rules(load_rules(path), IFACES)
    # nat KUBE-SERVICES: its first 32 rules (`-d X/32 -p P ... --dport N`);
    # filter KUBE-SERVICES has one such rule only
    assert cr.indexed == 32
