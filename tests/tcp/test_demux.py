"""The 4-tuple table (pyx/demux.pxd): open addressing with backward-shift
deletion, checked against a dict."""
from hypothesis import given, settings, strategies as st

from pystack._core.demux import DemuxTable


def _a(x):
    return b"\0" * 10 + b"\xff\xff" + x.to_bytes(4, "big")


ops = st.lists(st.tuples(st.booleans(), st.integers(0, 40), st.integers(0, 3)),
               max_size=300)


@settings(max_examples=60, deadline=None)
@given(ops)
def test_table_matches_dict(seq):
    t = DemuxTable(slots=16, socks=4, seed=7)
    ref = {}
    for ins, a, p in seq:
        key = (_a(a), _a(a * 3 + 1), 80 + p, 1000 + a)
        if ins and key not in ref:
            ref[key] = t.insert(*key)
        elif not ins and key in ref:
            t.remove(ref.pop(key))
        for k, v in ref.items():
            assert t.find(*k) == v
    assert len(t) == len(ref)
    for ins, a, p in seq:
        key = (_a(a), _a(a * 3 + 1), 80 + p, 1000 + a)
        if key not in ref:
            assert t.find(*key) == -1


def test_growth_keeps_load_at_most_half():
    t = DemuxTable()
    for i in range(1000):
        t.insert(_a(i), _a(i + 7), 80, i)
    assert len(t) == 1000 and t.slots >= 2000
    assert all(t.find(_a(i), _a(i + 7), 80, i) >= 0 for i in range(1000))
