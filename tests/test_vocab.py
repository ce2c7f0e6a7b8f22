"""The vocabulary table is the only source of kernel names."""
import pathlib

from pystack import vocab

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_generated_pxd_is_current():
    committed = (ROOT / "pyx" / "vocab.pxd").read_text()
    assert committed == vocab.render_pxd(), "run: python -m pystack.vocab --write"


def test_reason_codes_follow_the_6_18_enum():
    # Spot checks against `enum skb_drop_reason` of 6.18 (linux-semantics.md §6.1).
    assert vocab.reason_code("NOT_DROPPED_YET") == 0
    assert vocab.reason_code("NO_SOCKET") == 3
    assert vocab.reason_code("TCP_CSUM") == 10
    assert vocab.reason_code("NETFILTER_DROP") == 12
    assert vocab.reason_code("IP_INHDR") == 15
    assert vocab.reason_code("TCP_LISTEN_OVERFLOW") == 40
    assert vocab.reason_code("IP_INNOROUTES") == 88
    assert vocab.reason_code("RECURSION_LIMIT") == 127
    assert len(vocab.DROP_REASONS) == 128


def test_names_are_unique():
    for table in (vocab.DROP_REASONS, vocab.COUNTERS, vocab.CSUM_STATUSES, vocab.CT_STATS):
        assert len(set(table)) == len(table)


def test_no_drop_reason_is_typed_outside_the_table():
    """Cython sources use the generated DR_* constants, never numbers for reasons."""
    import re

    for pyx in (ROOT / "pyx").glob("*.pyx"):
        text = pyx.read_text()
        for m in re.finditer(r"\bDR_([A-Z0-9_]+)", text):
            assert m.group(1) in vocab.DROP_REASONS, f"{pyx.name}: unknown reason {m.group(0)}"
