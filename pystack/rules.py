"""iptables rulesets: the public entry points.

``load_rules(path_or_text)`` parses an iptables-save / ip6tables-save file
(pystack.netfilter.ruleset) and ``compile_rules(ruleset, ifaces)`` builds the
evaluator (pystack._core.iptables.CompiledRules, whose cdef ``do_table`` the
stack engine calls at its hook points).
"""
from __future__ import annotations

import os

from pystack.netfilter.ruleset import (  # noqa: F401  (re-exported)
    Chain, Match, Rule, RulesError, RulesWarning, Ruleset, Table, strip_generated,
)


def load_rules(source, family: int | None = None, lenient: bool = False) -> Ruleset:
    """A Ruleset from a file path or from save-file text (text if it
    contains a newline)."""
    if isinstance(source, (str, os.PathLike)) and "\n" not in str(source):
        return Ruleset.load(source, family, lenient)
    return Ruleset.parse(str(source), family or 4, "<string>", lenient)


def compile_rules(ruleset: Ruleset, ifaces=(), stacksize=None, seed: int = 0,
                  dindex: bool = True):
    from pystack._core.iptables import CompiledRules
    return CompiledRules(ruleset, ifaces, stacksize=stacksize, seed=seed, dindex=dindex)
