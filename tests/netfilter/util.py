"""Small helpers: compile a ruleset from a few lines of iptables-save text."""
from pystack.rules import compile_rules, load_rules

IFACES = ("lo", "eth0", "eth1", "veth0", "veth1")


def filter_rules(body, family=4, chains=(), policy="ACCEPT", lenient=False, **kw):
    """A *filter table with INPUT policy `policy`, extra user `chains`, and
    the rule lines `body` (one string, lines separated by newlines)."""
    head = [f"*filter", f":INPUT {policy} [0:0]", ":FORWARD ACCEPT [0:0]",
            ":OUTPUT ACCEPT [0:0]"] + [f":{c} - [0:0]" for c in chains]
    text = "\n".join(head + [l.strip() for l in body.strip().splitlines()] + ["COMMIT", ""])
    rs = load_rules(text, family=family, lenient=lenient)
    return compile_rules(rs, IFACES, **kw)


def verdict(cr, pkt, hook="INPUT", table="filter"):
    r = cr.evaluate(pkt, hook, table)
    return r["verdict"], (r["rule"][2] if r["rule"] else None)
