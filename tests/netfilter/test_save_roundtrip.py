"""Dumps of the real iptables-save -c (iptables 1.8.9, nf_tables backend;
regenerate with dumps/regen.sh) parse and print back byte-for-byte, apart
from the dated '# Generated' / '# Completed' lines."""
import os

import pytest

from pystack.rules import compile_rules, load_rules, strip_generated

HERE = os.path.dirname(__file__)
ROOT = os.path.dirname(os.path.dirname(HERE))
DUMPS = sorted(os.path.join(HERE, "dumps", f) for f in os.listdir(os.path.join(HERE, "dumps"))
               if f.endswith(".save")) + [os.path.join(ROOT, "data", "rules", "kube-proxy.save")]


@pytest.mark.parametrize("path", DUMPS, ids=os.path.basename)
def test_roundtrip(path):
    with open(path) as fh:
        text = fh.read()
    rs = load_rules(path)
    assert rs.save() == strip_generated(text)


@pytest.mark.parametrize("path", DUMPS, ids=os.path.basename)
def test_second_generation_is_stable(path):
    rs = load_rules(path)
    again = load_rules(rs.save(), family=rs.family)
    assert again.save() == rs.save()


def test_dump_sizes():
    # the fixtures are what we think they are
    counts = {os.path.basename(p): sum(1 for _ in load_rules(p).rules()) for p in DUMPS}
    assert counts == {"ipv6.save": 9, "matches_targets.save": 46, "more_forms.save": 28,
                      "kube-proxy.save": 364}


def test_all_fixture_rules_compile():
    for p in DUMPS:
        cr = compile_rules(load_rules(p), ("lo", "eth0"))
        assert len(cr) == sum(1 for _ in load_rules(p).rules()) + sum(
            len(t.chains) for t in load_rules(p).tables.values())
