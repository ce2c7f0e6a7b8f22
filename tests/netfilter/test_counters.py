"""Rule counters: +1 packet and +skb->len bytes for every rule whose matches
accept (jumps, non-terminal targets and the policy's hidden rule included),
nothing for rules that do not match; iptables-save -c shows them."""
import numpy as np

from tests.netfilter.util import filter_rules

TCP = {"proto": "tcp", "src": "10.0.0.1", "dst": "10.0.0.2", "sport": 1000, "dport": 80,
       "iif": "eth0"}
UDP = dict(TCP, proto="udp")

BODY = """
-A INPUT -j COUNT
-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT
-A INPUT -p udp -j LOG
-A COUNT -p udp -j RETURN
-A COUNT -j MARK --set-xmark 0x1/0xffffffff
"""


def run():
    cr = filter_rules(BODY, chains=("COUNT",), policy="DROP")
    for n in (60, 1500, 40):
        cr.evaluate(dict(TCP, len=n), "INPUT", "filter")
    for n in (100, 200):
        cr.evaluate(dict(UDP, len=n), "INPUT", "filter")
    return cr


def test_exact_counters():
    cr = run()
    pk, by = cr.counters()
    idx = {cr.rule_info(i)[:3]: i for i in range(len(cr))}
    want = {
        ("filter", "INPUT", 1): (5, 1900),
        ("filter", "INPUT", 2): (3, 1600),
        ("filter", "INPUT", 3): (2, 300),
        ("filter", "INPUT", 0): (2, 300),            # policy DROP
        ("filter", "COUNT", 1): (2, 300),
        ("filter", "COUNT", 2): (3, 1600),
        ("filter", "COUNT", 0): (3, 1600),           # hidden RETURN closing COUNT
        ("filter", "FORWARD", 0): (0, 0),
    }
    for key, (p, b) in want.items():
        assert (int(pk[idx[key]]), int(by[idx[key]])) == (p, b), key
    assert pk.dtype == np.uint64 and int(pk.sum()) == 20 and int(by.sum()) == 7600


def test_save_with_counters():
    cr = run()
    assert cr.save() == (
        "*filter\n"
        ":INPUT DROP [2:300]\n"
        ":FORWARD ACCEPT [0:0]\n"
        ":OUTPUT ACCEPT [0:0]\n"
        ":COUNT - [0:0]\n"
        "[5:1900] -A INPUT -j COUNT\n"
        "[3:1600] -A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n"
        "[2:300] -A INPUT -p udp -j LOG\n"
        "[2:300] -A COUNT -p udp -j RETURN\n"
        "[3:1600] -A COUNT -j MARK --set-xmark 0x1/0xffffffff\n"
        "COMMIT\n")


def test_reset_counters():
    cr = run()
    cr.reset_counters()
    pk, by = cr.counters()
    assert int(pk.sum()) == 0 and int(by.sum()) == 0


def test_unmatched_rules_do_not_count_and_tries_are_counted():
    cr = filter_rules("-A INPUT -p udp -j ACCEPT\n-A INPUT -s 10.9.0.0/16 -j ACCEPT")
    r = cr.evaluate(dict(TCP, len=10), "INPUT", "filter")
    assert (r["rules_tried"], r["rule"]) == (3, ("filter", "INPUT", 0))
    assert cr.counters()[0][:4].tolist() == [0, 0, 1, 0]
