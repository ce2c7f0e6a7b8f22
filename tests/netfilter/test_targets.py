"""Targets and traversal (ipt_do_table): jumps, goto, RETURN, policies,
non-terminal targets, REJECT kinds, NAT ranges, stack overflow."""
import pytest

from pystack.rules import RulesError, compile_rules, load_rules
from tests.netfilter.util import IFACES, filter_rules, verdict

PKT = {"proto": "tcp", "src": "10.1.2.3", "dst": "192.0.2.1", "sport": 40000, "dport": 80,
       "iif": "eth0", "len": 100}


def ev(cr, pkt=PKT, hook="INPUT", table="filter"):
    return cr.evaluate(dict(pkt), hook, table)


def test_policy_drop_is_hidden_rule_zero():
    cr = filter_rules("-A INPUT -p udp -j ACCEPT", policy="DROP")
    r = ev(cr)
    assert (r["verdict"], r["rule"], r["rules_tried"]) == ("DROP", ("filter", "INPUT", 0), 2)
    assert cr.rule_info(r["index"]) == ("filter", "INPUT", 0, ":INPUT DROP")


def test_jump_return_continues_after_the_jump():
    cr = filter_rules("""
        -A INPUT -j A
        -A INPUT -p tcp -j DROP
        -A A -p tcp -j RETURN
        -A A -j ACCEPT""", chains=("A",))
    r = ev(cr)
    assert (r["verdict"], r["rule"], r["rules_tried"]) == ("DROP", ("filter", "INPUT", 2), 3)


def test_falling_off_user_chain_returns():
    cr = filter_rules("""
        -A INPUT -j A
        -A INPUT -j REJECT
        -A A -p udp -j ACCEPT""", chains=("A",))
    r = ev(cr)
    assert (r["verdict"], r["rule"], r["reject"]) == ("DROP", ("filter", "INPUT", 2),
                                                      "icmp-port-unreachable")


def test_goto_does_not_push_so_return_goes_to_policy():
    cr = filter_rules("""
        -A INPUT -g A
        -A INPUT -j ACCEPT
        -A A -j RETURN""", chains=("A",), policy="DROP")
    assert verdict(cr, PKT) == ("DROP", 0)


def test_goto_inside_jump_returns_to_the_jumping_chain_caller():
    cr = filter_rules("""
        -A INPUT -j A
        -A INPUT -j ACCEPT
        -A A -g B
        -A A -j DROP
        -A B -p udp -j DROP""", chains=("A", "B"), policy="DROP")
    assert verdict(cr, PKT) == ("ACCEPT", 2)


def test_return_in_builtin_chain_takes_policy():
    cr = filter_rules("-A INPUT -j RETURN\n-A INPUT -j ACCEPT", policy="DROP")
    assert verdict(cr, PKT) == ("DROP", 0)


def test_stack_overflow_drops():
    body = "-A INPUT -j A\n-A A -j B\n-A B -j C\n-A C -j ACCEPT"
    assert verdict(filter_rules(body, chains="ABC"), PKT) == ("ACCEPT", 1)
    cr = filter_rules(body, chains="ABC", stacksize=2)
    r = ev(cr)
    assert (r["verdict"], r["rule"]) == ("DROP", ("filter", "B", 1))


def test_chain_loop_is_refused():
    with pytest.raises(RulesError) as ei:
        filter_rules("-A INPUT -j A\n-A A -j B\n-A B -j A", chains="AB")
    assert "chain loop: A -> B -> A" in str(ei.value)


def test_non_terminal_targets_continue_and_count():
    cr = filter_rules("""
        -A INPUT -j LOG --log-prefix "x "
        -A INPUT -j NFLOG --nflog-group 2
        -A INPUT -j MARK --set-xmark 0x10/0xf0
        -A INPUT -m mark --mark 0x15 -j DROP""")
    r = ev(cr, dict(PKT, mark=0x25))
    assert (r["verdict"], r["rule"], r["mark"]) == ("DROP", ("filter", "INPUT", 4), 0x15)
    assert cr.counters()[0][:5].tolist() == [1, 1, 1, 1, 0]


@pytest.mark.parametrize("target,old,new", [
    ("MARK --set-mark 0x1", 0xF0, 0x1),
    ("MARK --set-mark 0x1/0xf", 0xF0, 0xF1),
    ("MARK --or-mark 0x4000", 0x1, 0x4001),
    ("MARK --xor-mark 0x4000", 0x4001, 0x1),
    ("MARK --and-mark 0xfff0", 0x1234, 0x1230),
    ("MARK --set-xmark 0x3/0x5", 0xF, 0x9),
])
def test_mark_forms(target, old, new):
    cr = filter_rules(f"-A INPUT -j {target}")
    assert ev(cr, dict(PKT, mark=old))["mark"] == new


@pytest.mark.parametrize("target,mark,ctmark,want", [
    ("CONNMARK --set-xmark 0x5/0xf", 0x0, 0xF3, (0x0, 0xF5)),
    ("CONNMARK --set-mark 0x5", 0x0, 0xF3, (0x0, 0x5)),
    ("CONNMARK --save-mark", 0x1234, 0x9, (0x1234, 0x1234)),
    ("CONNMARK --save-mark --nfmask 0xff --ctmask 0xf00", 0x1234, 0xF0F, (0x1234, 0x03B)),   # (0xF0F & ~0xF00) ^ 0x34
    ("CONNMARK --restore-mark", 0x1, 0x77, (0x77, 0x77)),
    ("CONNMARK --restore-mark --nfmask 0xff --ctmask 0xf", 0x1234, 0x77, (0x1207, 0x77)),
])
def test_connmark(target, mark, ctmark, want):
    cr = filter_rules(f"-A INPUT -j {target}")
    r = ev(cr, dict(PKT, mark=mark, ctmark=ctmark))
    assert (r["mark"], r["ctmark"]) == want
    # without a conntrack entry CONNMARK does nothing
    r = ev(cr, dict(PKT, mark=mark, ctmark=ctmark, ctstate="INVALID"))
    assert (r["mark"], r["ctmark"]) == (mark, ctmark)


@pytest.mark.parametrize("spec,name", [
    ("", "icmp-port-unreachable"),
    ("--reject-with icmp-net-unreachable", "icmp-net-unreachable"),
    ("--reject-with icmp-host-unreachable", "icmp-host-unreachable"),
    ("--reject-with icmp-proto-unreachable", "icmp-proto-unreachable"),
    ("--reject-with icmp-port-unreachable", "icmp-port-unreachable"),
    ("--reject-with icmp-net-prohibited", "icmp-net-prohibited"),
    ("--reject-with icmp-host-prohibited", "icmp-host-prohibited"),
    ("--reject-with icmp-admin-prohibited", "icmp-admin-prohibited"),
    ("--reject-with host-prohib", "icmp-host-prohibited"),
])
def test_reject_kinds_v4(spec, name):
    cr = filter_rules(f"-A INPUT -j REJECT {spec}\n-A INPUT -j ACCEPT")
    r = ev(cr)
    assert (r["verdict"], r["reject"], r["rule"][2]) == ("DROP", name, 1)


def test_reject_tcp_reset_and_v6_kinds():
    cr = filter_rules("-A INPUT -p tcp -j REJECT --reject-with tcp-reset")
    assert ev(cr)["reject"] == "tcp-reset"
    p6 = dict(PKT, src="2001:db8::1", dst="2001:db8::2")
    for spec, name in (("", "icmp6-port-unreachable"),
                       ("--reject-with icmp6-adm-prohibited", "icmp6-adm-prohibited"),
                       ("--reject-with icmp6-no-route", "icmp6-no-route"),
                       ("--reject-with icmp6-addr-unreachable", "icmp6-addr-unreachable"),
                       ("--reject-with icmp6-policy-fail", "icmp6-policy-fail"),
                       ("--reject-with icmp6-reject-route", "icmp6-reject-route")):
        cr6 = filter_rules(f"-A INPUT -j REJECT {spec}", family=6)
        r = ev(cr6, p6)
        assert (r["verdict"], r["reject"]) == ("DROP", name)


NAT = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 192.0.2.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.1-10.0.0.3:8080-8090 --persistent
-A PREROUTING -d 192.0.2.2/32 -j DNAT --to-destination 10.0.0.9
-A PREROUTING -p tcp -j REDIRECT --to-ports 3128
-A POSTROUTING -o eth0 -j MASQUERADE --random-fully
-A POSTROUTING -o eth1 -p udp -j MASQUERADE --to-ports 1000-2000 --random
-A POSTROUTING -j SNAT --to-source 198.51.100.1
COMMIT
"""


def test_nat_targets_give_range_and_accept():
    cr = compile_rules(load_rules(NAT), IFACES)
    r = ev(cr, PKT, "PREROUTING", "nat")
    assert (r["verdict"], r["nat"], r["rule"]) == ("ACCEPT", "DNAT", ("nat", "PREROUTING", 1))
    assert r["range"] == {"flags": 1 | 2 | 8, "min_addr": "10.0.0.1", "max_addr": "10.0.0.3",
                          "min_port": 8080, "max_port": 8090}
    r = ev(cr, dict(PKT, proto="udp", dst="192.0.2.2"), "PREROUTING", "nat")
    assert (r["nat"], r["range"]["flags"], r["range"]["min_addr"], r["range"]["min_port"]) == \
        ("DNAT", 1, "10.0.0.9", 0)
    r = ev(cr, dict(PKT, dst="192.0.2.7"), "PREROUTING", "nat")
    assert (r["nat"], r["range"]["flags"], r["range"]["min_port"]) == ("REDIRECT", 2, 3128)
    r = ev(cr, dict(PKT, oif="eth0"), "POSTROUTING", "nat")
    assert (r["nat"], r["range"]["flags"]) == ("MASQUERADE", 16)
    r = ev(cr, dict(PKT, proto="udp", oif="eth1"), "POSTROUTING", "nat")
    assert (r["nat"], r["range"]["flags"], r["range"]["min_port"], r["range"]["max_port"]) == \
        ("MASQUERADE", 2 | 4, 1000, 2000)
    r = ev(cr, dict(PKT, oif="veth0"), "POSTROUTING", "nat")
    assert (r["nat"], r["range"]["flags"], r["range"]["min_addr"]) == ("SNAT", 1, "198.51.100.1")
    # no rule set a binding: the policy accepts, no NAT
    r = ev(cr, dict(PKT, proto="udp", dst="192.0.2.7"), "PREROUTING", "nat")
    assert (r["verdict"], r["nat"], r["rule"]) == ("ACCEPT", None, ("nat", "PREROUTING", 0))


def test_dnat_v6_range():
    text = NAT.split("-A PREROUTING")[0] + \
        "-A PREROUTING -p tcp -j DNAT --to-destination [2001:db8::5]:8080\nCOMMIT\n"
    cr = compile_rules(load_rules(text, family=6), IFACES)
    r = ev(cr, dict(PKT, src="2001:db8::1", dst="2001:db8::2"), "PREROUTING", "nat")
    assert r["range"] == {"flags": 3, "min_addr": "2001:db8::5", "max_addr": "2001:db8::5",
                          "min_port": 8080, "max_port": 8080}


def test_notrack_and_ct_notrack_continue():
    text = ("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A PREROUTING -p udp -j NOTRACK\n-A PREROUTING -p tcp -j CT --notrack\n"
            "-A PREROUTING -p tcp -j DROP\nCOMMIT\n")
    cr = compile_rules(load_rules(text), IFACES)
    r = ev(cr, PKT, "PREROUTING", "raw")
    assert (r["notrack"], r["verdict"], r["rule"]) == (True, "DROP", ("raw", "PREROUTING", 3))
    r = ev(cr, dict(PKT, proto="udp"), "PREROUTING", "raw")
    assert (r["notrack"], r["verdict"], r["rule"]) == (True, "ACCEPT", ("raw", "PREROUTING", 0))


def test_table_without_the_hook_accepts_without_a_rule():
    cr = filter_rules("-A INPUT -j DROP")
    r = ev(cr, PKT, "PREROUTING", "filter")
    assert (r["verdict"], r["rule"], r["rules_tried"]) == ("ACCEPT", None, 0)
    r = ev(cr, PKT, "PREROUTING", "nat")
    assert (r["verdict"], r["rule"]) == ("ACCEPT", None)
