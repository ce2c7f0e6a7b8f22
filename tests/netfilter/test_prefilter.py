"""The evaluator's per-rule prefilter (packet class = conntrack state x
protocol, decided at compile time) must never skip a rule that matches:
every rule below is checked on every class against xt_conntrack.c
conntrack_mt / xt_state.c state_mt and ip_packet_match's -p test written
out in Python."""
import itertools

import pytest

from pystack.rules import RulesWarning

from tests.netfilter.util import filter_rules, verdict

STATE_BIT = {"INVALID": 1, "ESTABLISHED": 2, "RELATED": 4, "NEW": 8, "UNTRACKED": 64}
SNAT, DNAT = 256, 512
PROTOS = {"tcp": 6, "udp": 17, "icmp": 1, "sctp": 132, "gre": 47}


def expect(proto_spec, state_spec, kind, pkt_proto, st, status):
    """Does the rule match?  proto_spec ('tcp' / '!udp' / None), state_spec
    (set of names, inverted flag) for kind 'ctstate' / 'state' / 'ctreq'."""
    if proto_spec:
        inv = proto_spec.startswith("!")
        if (PROTOS[proto_spec.lstrip("!")] != PROTOS[pkt_proto]) != inv:
            return False
    tracked = st in ("ESTABLISHED", "RELATED", "NEW")
    if kind == "ctreq":
        return tracked
    if kind is None:
        return True
    names, inv = state_spec
    want = sum({**STATE_BIT, "SNAT": SNAT, "DNAT": DNAT}[n] for n in names)
    bit = STATE_BIT[st]
    if kind == "ctstate" and tracked:
        bit |= (SNAT if status & 16 else 0) | (DNAT if status & 32 else 0)
    return ((want & bit) != 0) != inv


RULES = [
    ("tcp", None, None), ("!tcp", None, None), ("!udp", None, None), ("icmp", None, None),
    ("!icmp", None, None), ("sctp", None, None), ("!sctp", None, None),
    (None, (("NEW",), False), "ctstate"), (None, (("NEW",), True), "ctstate"),
    ("tcp", (("RELATED", "ESTABLISHED"), False), "ctstate"),
    (None, (("RELATED", "ESTABLISHED", "DNAT"), True), "ctstate"),
    (None, (("DNAT",), False), "ctstate"), (None, (("SNAT",), True), "ctstate"),
    (None, (("INVALID", "UNTRACKED"), False), "ctstate"),
    ("udp", (("NEW",), False), "state"), (None, (("ESTABLISHED",), True), "state"),
    (None, None, "ctreq"),
]


def rule_text(proto_spec, state_spec, kind):
    parts = ["-A INPUT"]
    if proto_spec:
        parts.append(("! -p " if proto_spec.startswith("!") else "-p ") + proto_spec.lstrip("!"))
    if kind == "ctstate":
        parts.append("-m conntrack " + ("! " if state_spec[1] else "") + "--ctstate "
                     + ",".join(state_spec[0]))
    elif kind == "state":
        parts.append("-m state " + ("! " if state_spec[1] else "") + "--state "
                     + ",".join(state_spec[0]))
    elif kind == "ctreq":
        parts.append("-m conntrack --ctdir ORIGINAL")
    return " ".join(parts)


@pytest.mark.parametrize("spec", RULES, ids=lambda s: rule_text(*s))
def test_prefilter_never_hides_a_match(spec):
    cr = filter_rules(rule_text(*spec) + " -j DROP")
    n = 0
    for proto, st, status in itertools.product(PROTOS, STATE_BIT, (0, 16, 32, 48)):
        if status and st in ("INVALID", "UNTRACKED"):
            continue
        pkt = {"proto": proto, "src": "10.1.2.3", "dst": "192.0.2.1", "sport": 1, "dport": 2,
               "ctstate": st, "ctstatus": status, "len": 60}
        want = ("DROP", 1) if expect(*spec, proto, st, status) else ("ACCEPT", 0)
        assert verdict(cr, pkt) == want, (rule_text(*spec), proto, st, status)
        n += want == ("DROP", 1)
    assert n > 0


def test_rule_with_unsupported_match_never_matches_any_class():
    with pytest.warns(RulesWarning, match="unknown match 'foo': rule never matches"):
        cr = filter_rules("-A INPUT -m foo --bar 1 -j DROP", lenient=True)
    for st in STATE_BIT:
        assert verdict(cr, {"proto": "tcp", "ctstate": st}) == ("ACCEPT", 0)
