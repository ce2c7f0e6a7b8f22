"""Parametrised cases for the fidelity tests: one test per (scenario, counter),
per (scenario, client connection), and window checks per scenario.

Recordings are in data/kernel/NAME/ (python -m bench.kernel record, on Linux
6.18.44 in network namespaces); the tests only replay them, no root needed.
Where the model disagrees with the kernel the case is marked
xfail(strict=True) with the kernel behaviour the model lacks (known.py), so
the lead sees it turn XPASS -> fail when the model is fixed.
"""
import os

import pytest

from bench.kernel import compare
from tests.fidelity.known import COUNTERS, OUTCOMES, WINDOWS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "data", "kernel")


def sdir(name):
    return os.path.join(DATA, name)


def _mark(known, key):
    reason = known.get(key)
    if reason is None:
        return ()
    return (pytest.mark.xfail(strict=True, reason="model: " + reason),)


def counter_cases(names):
    out = []
    for n in names:
        truth = compare.load_truth(sdir(n))
        for c in compare.compared_counters(truth):
            out.append(pytest.param(n, c, id=f"{n}-{c}", marks=_mark(COUNTERS, (n, c))))
    return out


def outcome_cases(names):
    out = []
    for n in names:
        truth = compare.load_truth(sdir(n))
        for sport in compare.client_outcomes(truth):
            out.append(pytest.param(n, sport, id=f"{n}-{sport}",
                                    marks=_mark(OUTCOMES, (n, sport))))
    return out


def window_cases(names, what):
    return [pytest.param(n, id=n, marks=_mark(WINDOWS, (n, what))) for n in names]


def check_counter(name, counter):
    truth, res, _ = compare.replay(sdir(name))
    kernel = compare.kernel_value(truth, counter)
    model = int(res.counters[counter])
    assert model == kernel, f"{name} {counter}: kernel {kernel}, model {model}"


def check_outcome(name, sport):
    truth, res, pk = compare.replay(sdir(name))
    assert compare.model_outcomes(truth, res, pk)[sport] == \
        compare.client_outcomes(truth)[sport]


def check_handshake(name):
    _, res, pk = compare.replay(sdir(name))
    pairs = compare.handshake_pairs(res, pk)
    assert pairs, "no SYN-ACK answered by both kernel and model"
    assert [p["model"] for p in pairs] == [p["kernel"] for p in pairs]


def check_zero_window(name, expect_transitions=True):
    _, res, pk = compare.replay(sdir(name))
    rows = compare.zero_window_rows(res, pk)
    if expect_transitions:
        assert any(r["to_zero"] for r in rows) and any(not r["to_zero"] for r in rows)
    assert [(r["row"], r["model"]) for r in rows] == [(r["row"], r["kernel"]) for r in rows]


def check_windows_exact(name):
    _, res, pk = compare.replay(sdir(name))
    w = compare.window_summary(res, pk)
    assert w["compared"] > 0
    assert w["errors"] == {}


def check_syn_answers(name):
    _, res, pk = compare.replay(sdir(name))
    answers = compare.syn_answers(res, pk)
    assert answers, "no SYN in the capture"
    assert [(a["row"], a["model"]) for a in answers] == \
        [(a["row"], a["kernel"]) for a in answers]
