"""Two shortcuts of CompiledRules that depend on the packet's class only
(the prefilter: conntrack state x protocol):

* skips: a jump to a chain none of whose rules can match the class (an
  empty chain: any class) is counted without entering the chain;
* paths: a whole traversal in which every rule reached is decided by the
  class (excluded, or without any condition) is recorded once per (table,
  hook, class) and replayed.

Both must give exactly what ipt_do_table's walk gives: the same verdict,
deciding rule, reject kind, rules_tried and per-rule counters (the jump
rule, every rule of a skipped chain tried, its hidden RETURN counted), also
at the jump-stack limit (the jump itself is then NF_DROP).  Reference: the
same ruleset compiled with skips=False, paths=False (and dindex=False)."""
import itertools
import os

import pytest

from pystack._core.iptables import CompiledRules
from pystack.rules import load_rules

from tests.netfilter.util import IFACES

CHAINS = ("EMPTY", "NEWONLY", "TCPONLY", "MIXED", "NEST", "DEEP")
TEXT = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT DROP [0:0]
{decl}
-A INPUT -j EMPTY
-A INPUT -j NEWONLY
-A INPUT -j TCPONLY
-A INPUT -j MIXED
-A INPUT -j NEST
-A INPUT -p udp -j ACCEPT
-A OUTPUT -j DEEP
-A OUTPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT
-A NEWONLY -m conntrack --ctstate NEW -p tcp -m tcp --dport 22 -j ACCEPT
-A NEWONLY -m state --state NEW -j MARK --set-xmark 0x1/0xffffffff
-A TCPONLY -p tcp -m tcp --dport 80 -j DROP
-A TCPONLY -p tcp -j RETURN
-A MIXED -m conntrack --ctstate INVALID -j DROP
-A MIXED -p icmp -j ACCEPT
-A MIXED -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -d 127.0.0.0/8 -j DROP
-A NEST -m conntrack --ctstate NEW -j EMPTY
-A NEST -j EMPTY
-A NEST -p tcp -j TCPONLY
-A DEEP -j NEST
-A DEEP -m conntrack --ctstate NEW -j DROP
COMMIT
""".format(decl="\n".join(f":{c} - [0:0]" for c in CHAINS))


def compiled(**kw):
    return CompiledRules(load_rules(TEXT, family=4), IFACES, **kw)


def packets():
    for proto, st, dst, dport in itertools.product(
            ("tcp", "udp", "icmp", "gre"),
            ("NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"),
            ("10.0.0.1", "127.0.0.1"), (22, 80, 443)):
        pkt = {"proto": proto, "src": "10.9.9.9", "dst": dst, "sport": 4000,
               "dport": dport, "len": 40 + dport % 11, "ctstate": st}
        if st in ("NEW", "ESTABLISHED", "RELATED"):
            pkt["ct"] = 3
        yield pkt


@pytest.mark.parametrize("stacksize", [None, 1, 2])
def test_same_results_and_counters_as_entering_every_chain(stacksize):
    fast = compiled(stacksize=stacksize)
    ref = compiled(stacksize=stacksize, skips=False, dindex=False, paths=False)
    assert fast.class_paths > 0 and ref.class_paths == 0
    n = 0
    for pkt in packets():
        for hook in ("INPUT", "OUTPUT"):
            assert fast.evaluate(pkt, hook, "filter") == ref.evaluate(pkt, hook, "filter"), \
                (pkt, hook)
            n += 1
    fp, fb = fast.counters()
    rp, rb = ref.counters()
    assert fp.tolist() == rp.tolist()
    assert fb.tolist() == rb.tolist()
    assert n == 4 * 5 * 2 * 3 * 2
    # the jumps to EMPTY (3), NEWONLY, TCPONLY (2) and MIXED can skip their
    # chain for some class; NEST and DEEP hold a rule that matches any class
    assert (fast.skipping, ref.skipping) == (7, 0)
    # the hidden RETURN of the empty chain counted every entry
    ret = fast.rule_index("filter", "EMPTY", 0)
    assert fp[ret] > 0


def test_an_established_packet_skips_the_new_only_chain():
    cr = compiled()
    pkt = {"proto": "tcp", "src": "10.9.9.9", "dst": "10.0.0.1", "sport": 4000,
           "dport": 443, "len": 60, "ctstate": "ESTABLISHED", "ct": 3}
    r = cr.evaluate(pkt, "INPUT", "filter")
    # INPUT 1 (EMPTY: its RETURN), INPUT 2 (NEWONLY: 2 rules + RETURN),
    # INPUT 3 (TCPONLY 1, 2: RETURN), INPUT 4 (MIXED 1-3 + RETURN),
    # INPUT 5 (NEST 1, NEST 2 -> EMPTY's RETURN, NEST 3 -> TCPONLY 1, 2,
    # NEST's RETURN), INPUT 6, policy
    assert (r["verdict"], r["rule"]) == ("ACCEPT", ("filter", "INPUT", 0))
    assert r["rules_tried"] == 2 + 4 + 3 + 5 + (1 + 2 + 1 + 3 + 1) + 1 + 1
    pk, by = cr.counters()
    assert pk[cr.rule_index("filter", "NEWONLY", 0)] == 1
    assert pk[cr.rule_index("filter", "NEWONLY", 1)] == 0
    assert pk[cr.rule_index("filter", "MIXED", 0)] == 1
    assert by[cr.rule_index("filter", "EMPTY", 0)] == 2 * 60


def test_kube_proxy_same_as_entering_every_chain():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "data", "rules",
                        "kube-proxy.save")
    rs = load_rules(path)
    fast = CompiledRules(rs, IFACES, seed=7)
    ref = CompiledRules(rs, IFACES, seed=7, skips=False, paths=False)
    assert fast.skipping > 0
    # filter INPUT / OUTPUT of every tracked class, nat POSTROUTING of all
    assert fast.class_paths >= 2 * 15
    for st, proto, dst, dport in itertools.product(
            ("NEW", "ESTABLISHED", "RELATED", "INVALID"), ("tcp", "udp", "icmp"),
            ("198.19.0.20", "198.18.128.77", "127.0.0.1"), (80, 8080, 53)):
        pkt = {"proto": proto, "src": "198.18.200.5", "dst": dst, "sport": 40000,
               "dport": dport, "len": 60, "ctstate": st, "iif": "eth0"}
        if st != "INVALID":
            pkt["ct"] = 1
        for hook, table in (("INPUT", "filter"), ("FORWARD", "filter"),
                            ("OUTPUT", "filter"), ("PREROUTING", "nat"),
                            ("OUTPUT", "nat"), ("POSTROUTING", "nat")):
            assert fast.evaluate(pkt, hook, table) == ref.evaluate(pkt, hook, table), \
                (pkt, hook, table)
    assert fast.counters()[0].tolist() == ref.counters()[0].tolist()
    assert fast.counters()[1].tolist() == ref.counters()[1].tolist()


@pytest.mark.parametrize("skips", [True, False])
def test_recorded_path_of_an_established_packet(skips):
    """The path replays the walk of test_an_established_packet_skips_...
    with or without skips (a path records the walk as do_table takes it)."""
    cr = compiled(skips=skips)
    pkt = {"proto": "udp", "src": "10.9.9.9", "dst": "10.0.0.1", "sport": 4000,
           "dport": 53, "len": 50, "ctstate": "ESTABLISHED", "ct": 3}
    r1 = cr.evaluate(pkt, "INPUT", "filter")
    r2 = cr.evaluate(pkt, "INPUT", "filter")
    assert r1 == r2
    # MIXED 3 (! --ctstate RELATED,ESTABLISHED,DNAT -d 127.0.0.0/8) is
    # excluded for ESTABLISHED; INPUT 6 (-p udp -j ACCEPT) has a condition:
    # walked, no path; for tcp the walk ends at the policy
    assert r1["rule"] == ("filter", "INPUT", 6)
    tcp = dict(pkt, proto="tcp", dport=443)
    assert cr.evaluate(tcp, "INPUT", "filter")["rule"] == ("filter", "INPUT", 0)
    pk, by = cr.counters()
    assert pk[cr.rule_index("filter", "INPUT", 0)] == 1
    # EMPTY's RETURN: entered from INPUT 1 and NEST 2 in each of the three
    # traversals (50 bytes each)
    assert by[cr.rule_index("filter", "EMPTY", 0)] == 3 * 2 * 50


def test_path_counts_folded_whenever_counters_are_read():
    """A recorded path counts its packets / bytes once per packet and adds
    them to its rules' counters when they are read (counters, save) or
    reset: reads between packets, and a reset with counts pending, give what
    the rule-by-rule walk gives."""
    fast = compiled()
    ref = compiled(skips=False, paths=False, dindex=False)
    pkt = {"proto": "tcp", "src": "10.9.9.9", "dst": "10.0.0.1", "sport": 4000,
           "dport": 443, "len": 70, "ctstate": "ESTABLISHED", "ct": 3}
    assert fast.class_paths > 0
    for n in range(3):
        for cr in (fast, ref):
            cr.evaluate(dict(pkt, len=70 + n), "INPUT", "filter")
            cr.evaluate(dict(pkt, len=90 + n), "OUTPUT", "filter")
        assert [a.tolist() for a in fast.counters()] == [a.tolist() for a in ref.counters()]
    assert fast.save() == ref.save()
    pk, by = fast.counters()
    assert pk[fast.rule_index("filter", "INPUT", 0)] == 3
    assert by[fast.rule_index("filter", "INPUT", 0)] == 70 + 71 + 72
    for cr in (fast, ref):
        cr.evaluate(pkt, "INPUT", "filter")     # pending on the path
        cr.reset_counters()
        cr.evaluate(dict(pkt, len=100), "OUTPUT", "filter")
    assert [a.tolist() for a in fast.counters()] == [a.tolist() for a in ref.counters()]
    assert fast.counters()[0].sum() > 0
    assert fast.counters()[1].sum() == 100 * fast.counters()[0].sum()
