"""The output folder's conntrack table is built from numpy columns
(pystack._core.ctdump.ct_columns, sorted with lexsort) instead of
Conntrack.raw_entries' Python tuples sorted by conntrack._sort_key: both
paths checked against each other on random tables of both families, every
protocol, NAT bindings, unconfirmed and expired entries."""
import random

import numpy as np
import pytest

from pystack._core.ctdump import COLUMNS, ct_columns
from pystack.conntrack import PROTO_NAME, TCP_STATE_NAMES, _sort_key, nat_range
from pystack.results.writer import IPS_NAMES, AddrStrings, conntrack_arrays, format_addr
from tests.conntrack.ctutil import NS, table


def _traffic(rng, n):
    """Packets of both families with few distinct addresses and ports, so
    that many entries share a prefix of the sort key."""
    out = []
    for k in range(n):
        v6 = rng.random() < 0.3
        if v6:
            a = "2001:db8::%x" % rng.randrange(1, 5)
            b = "2001:db8:1::%x" % rng.randrange(1, 3)
        else:
            a = "198.18.%d.%d" % (rng.randrange(2), rng.randrange(1, 5))
            b = "198.19.0.%d" % rng.randrange(1, 3)
        if rng.random() < 0.5:
            a, b = b, a
        proto = rng.choice(("tcp", "udp", "icmp", 47))
        if proto == "icmp" and v6:
            proto = "icmpv6"
        pkt = dict(proto=proto, src=a, dst=b)
        if proto == "tcp":
            pkt.update(sport=rng.choice((80, 1000, 1001, 40000)), dport=rng.choice((80, 1000)),
                       flags=rng.choice(("S", "S", "SA", "A", "FA", "RA")),
                       seq=rng.randrange(1 << 32), ack=rng.randrange(1 << 32))
        elif proto == "udp":
            pkt.update(sport=rng.choice((53, 1000, 1001)), dport=rng.choice((53, 1000)))
        elif proto in ("icmp", "icmpv6"):
            pkt.update(id=rng.randrange(4))
        snat = dnat = None
        if not v6 and rng.random() < 0.3:
            snat = nat_range("198.18.255.1")
        if not v6 and rng.random() < 0.1:
            dnat = nat_range("198.18.100.1", ports=8080)
        out.append(dict(pkt=pkt, hook=rng.choice(("PREROUTING", "OUTPUT")), now=k * NS // 4,
                        snat=snat, dnat=dnat, confirm=rng.random() > 0.05,
                        die=rng.random() < 0.05))
    return out


def _table(seed, n=600):
    t = table(seed=seed, max=4096, buckets=64)
    for p in _traffic(random.Random(seed), n):
        t.packet(p["pkt"], p["hook"], p["now"], out_hook="POSTROUTING", snat=p["snat"],
                 dnat=p["dnat"], confirm=p["confirm"], die=p["die"])
    return t, n * NS // 4


def _mapped(b16, fam):
    return b"\0" * 10 + b"\xff\xff" + b16[:4] if fam == 4 else b16


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("later_s", [0, 40, 200])
def test_ct_columns_are_raw_entries(seed, later_s):
    """Same entries, same values, same (slot) order; later_s: read after
    some entries expired (ct_columns expires first, as raw_entries does)."""
    t, end = _table(seed)
    now = end + later_s * NS
    c = ct_columns(t.ct, now)
    rows = t.ct.raw_entries(now)
    assert len(rows) == len(c["slot"]) > (0 if later_s < 200 else -1)
    for j, name in enumerate(COLUMNS):
        col = c[name]
        got = [bytes(x) for x in col] if col.ndim == 2 else col.tolist()
        assert got == [r[j] for r in rows], name
    if later_s == 0:
        fams = set(c["family"].tolist())
        assert fams == {4, 6} and len(set(c["proto"].tolist())) == 5


def test_ct_columns_empty_table():
    t = table()
    c = ct_columns(t.ct, 0)
    assert set(c) == set(COLUMNS) and all(len(a) == 0 for a in c.values())
    assert c["orig_src"].shape == (0, 16)
    cols = conntrack_arrays(t, 0, AddrStrings())
    assert all(len(a) == 0 for a in cols.values())


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_conntrack_arrays_match_sorted_raw_entries(seed):
    """The writer's columns are the rows of sorted(raw_entries, key=_sort_key),
    formatted as before (the general path, spelled out here)."""
    t, now = _table(seed)
    cols = conntrack_arrays(t, now, AddrStrings())
    got = {k: a.to_pylist() for k, a in cols.items()}
    rows = sorted(t.ct.raw_entries(now), key=_sort_key)
    assert len(rows) > 100
    want = {k: [] for k in got}
    for (_i, fam, proto, tstate, tmo, status, mark, os_, od, osp, odp, rs, rd, rsp, rdp,
         _abs) in rows:
        want["proto"].append(PROTO_NAME.get(proto, "unknown"))
        want["state"].append(TCP_STATE_NAMES[tstate] if proto == 6 else "")
        want["timeout"].append(tmo)
        for k, a in (("orig_src", os_), ("orig_dst", od), ("reply_src", rs), ("reply_dst", rd)):
            want[k].append(format_addr(_mapped(a, fam)))
        want["orig_sport"].append(osp)
        want["orig_dport"].append(odp)
        want["reply_sport"].append(rsp)
        want["reply_dport"].append(rdp)
        want["status"].append(",".join(nm for b, nm in enumerate(IPS_NAMES) if status & (1 << b)))
        want["mark"].append(mark)
    assert got == want
    # the rows differ in their sort key (the original tuples are unique)
    keys = [_sort_key(r) for r in rows]
    assert len(set(keys)) == len(keys)


def test_dense_codes_is_unique():
    from pystack.results.writer import _dense_codes
    rng = np.random.default_rng(7)
    for codes in (rng.integers(0, 300, 1000), rng.integers(0, 1 << 20, 1000).astype(np.uint32),
                  np.array([5, 5, 3], np.uint8), np.zeros(0, np.int64)):
        u, inv = _dense_codes(codes)
        u2, inv2 = np.unique(codes.astype(np.int64), return_inverse=True)
        assert u.tolist() == u2.tolist() and inv.tolist() == inv2.reshape(-1).tolist()
        assert inv.dtype == np.int32
