"""pystack._core.addrtable.AddrTable: ids in first-seen order over many
batches and table growths, -1 for rows without an address, the new rows
reported in id order; checked against a dict."""
import numpy as np
import pytest

from pystack._core.addrtable import AddrTable


def _pool(rng, k):
    """k distinct addresses: IPv4-mapped ones in a few /16s (they differ in
    the low bytes only) and IPv6 ones, as uint64[k, 2] words."""
    b = np.zeros((k, 16), np.uint8)
    v4 = rng.random(k) < 0.7
    b[v4, 10:12] = 0xFF
    b[v4, 12] = 10
    b[v4, 13] = rng.integers(0, 3, v4.sum())
    b[v4, 14:16] = rng.integers(0, 256, (v4.sum(), 2))
    b[~v4, 0:2] = (0x20, 0x01)
    b[~v4, 14:16] = rng.integers(0, 256, ((~v4).sum(), 2))
    words = np.unique(b.view(np.uint64), axis=0)
    return words[rng.permutation(len(words))]


@pytest.mark.parametrize("seed", [1, 2])
def test_ids_first_seen_across_batches_and_growth(seed):
    rng = np.random.default_rng(seed)
    pool = _pool(rng, 20000)
    t = AddrTable()
    ref = {}
    for size in (0, 1, 7, 500, 8192, 8192, 3000, 8192):
        rows = np.ascontiguousarray(pool[rng.integers(0, min(len(pool), 600 + 3 * size), size)])
        valid = (rng.random(size) < 0.9).astype(np.uint8)
        ids = np.full(size, 99, np.int32)
        new = t.encode(rows, valid, ids)
        want, want_new = [], []
        for i in range(size):
            if not valid[i]:
                want.append(-1)
                continue
            key = rows[i].tobytes()
            if key not in ref:
                ref[key] = len(ref)
                want_new.append(i)
            want.append(ref[key])
        assert ids.tolist() == want
        assert new.tolist() == want_new
        assert t.count == len(ref)
    assert t.count > 4096          # the table grew past its first size
