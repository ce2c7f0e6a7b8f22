"""gzip streaming (rolling window, straddling records) and multi-file merge."""

import gzip
import io
import zlib

import dpkt
import numpy as np
import pytest

import pystack.capture as capmod
from pystack.capture import CaptureError, open_capture

from . import pcapbuild as pb


def _write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _varied_pcap(n, seed=1, nano=False):
    rng = np.random.default_rng(seed)
    recs = []
    for i in range(n):
        ln = int(rng.integers(0, 300))
        recs.append((1000 + i, i % 1000, rng.integers(0, 256, ln, dtype=np.uint8).tobytes()))
    return pb.pcap(recs, nano=nano), recs


def _varied_pcapng(n, seed=2):
    rng = np.random.default_rng(seed)
    blocks = [pb.shb(), pb.idb(1, tsresol=9), pb.idb(101)]
    for i in range(n):
        ln = int(rng.integers(0, 300))
        data = rng.integers(0, 256, ln, dtype=np.uint8).tobytes()
        if i % 7 == 3:
            blocks.append(pb.block(0x0BAD, b"u" * int(rng.integers(0, 50))))
        blocks.append(pb.epb(i % 2, 10**9 + i, data))
    return b"".join(blocks)


def _rows(path, **kw):
    with open_capture(path, **kw) as cap:
        return pb.read_all(cap), list(cap.warnings), [dict(f) for f in cap.files]


@pytest.fixture
def tiny_window(monkeypatch):
    """A 4 KiB rolling window so records straddle refills and the window moves."""
    monkeypatch.setattr(capmod, "STREAM_BUFFER", 4096)
    monkeypatch.setattr(capmod, "MIN_READ", 512)
    monkeypatch.setattr(capmod, "GZIP_INPUT", 333)


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
@pytest.mark.parametrize("batch_size", [7, 65536])
def test_gzip_equals_plain(tmp_path, tiny_window, kind, batch_size):
    raw = _varied_pcap(500)[0] if kind == "pcap" else _varied_pcapng(500)
    plain = _write(tmp_path, "p." + kind, raw)
    gz = _write(tmp_path, "z." + kind, gzip.compress(raw, 6))   # detected by magic, not name
    want, w1, f1 = _rows(plain, batch_size=batch_size)
    got, w2, f2 = _rows(gz, batch_size=batch_size)
    assert len(want) == 500
    # `offset` indexes the mmap vs the rolling window; everything else is equal
    for r in want + got:
        del r["offset"]
    assert got == want
    assert w1 == w2 == []
    assert f2[0]["compressed"] is True and f1[0]["compressed"] is False
    assert f2[0]["size"] == gz.stat().st_size
    assert (f2[0]["records"], f2[0]["bytes"]) == (f1[0]["records"], f1[0]["bytes"])


def test_gzip_default_window(tmp_path):
    raw, recs = _varied_pcap(2000, nano=True)
    gz = _write(tmp_path, "a.pcap.gz", gzip.compress(raw))
    got, warns, files = _rows(gz)
    assert [r["data"] for r in got] == [r[2] for r in recs]
    assert [r["ts_ns"] for r in got] == [(1000 + i) * 10**9 + i % 1000 for i in range(2000)]
    assert files[0]["format"] == "pcap" and files[0]["ts_precision"] == "ns"


def test_record_larger_than_window_grows_it(tmp_path, tiny_window):
    big = bytes(range(256)) * 40          # 10240 bytes > 4096-byte window
    raw = pb.pcap([(1, 0, b"a" * 100), (2, 0, big), (3, 0, b"c")])
    got, warns, _ = _rows(_write(tmp_path, "g.pcap.gz", gzip.compress(raw)))
    assert [r["data"] for r in got] == [b"a" * 100, big, b"c"]
    assert warns == []


def test_multi_member_gzip_and_zero_padding(tmp_path, tiny_window):
    raw, recs = _varied_pcap(100)
    cut = 24 + 16 * 40 + sum(len(r[2]) for r in recs[:40]) + 7   # split mid-record
    data = gzip.compress(raw[:cut]) + gzip.compress(raw[cut:]) + b"\0" * 64
    got, warns, _ = _rows(_write(tmp_path, "m.gz", data))
    assert [r["data"] for r in got] == [r[2] for r in recs]
    assert warns == []


def test_trailing_garbage_after_gzip(tmp_path):
    raw, recs = _varied_pcap(10)
    z = gzip.compress(raw)
    path = _write(tmp_path, "t.pcap.gz", z + b"garbage!")
    got, warns, _ = _rows(path)
    assert len(got) == 10
    assert warns == [f"{path}: trailing data after the gzip stream (compressed byte {len(z)}) ignored"]


def test_truncated_gzip_keeps_complete_records(tmp_path, tiny_window):
    raw, recs = _varied_pcap(300)
    z = gzip.compress(raw)
    cut = z[: len(z) // 2]
    avail = len(zlib.decompressobj(31).decompress(cut))   # what can be recovered
    # the records that fit completely into the recoverable bytes
    off, keep = 24, 0
    while off + 16 + len(recs[keep][2]) <= avail:
        off += 16 + len(recs[keep][2])
        keep += 1
    path = _write(tmp_path, "cut.pcap.gz", cut)
    got, warns, _ = _rows(path)
    assert [r["data"] for r in got] == [r[2] for r in recs[:keep]]
    have = avail - off
    detail = f"{have} of {16 + len(recs[keep][2])} bytes present" if have >= 16 else f"{have} of 16 bytes present"
    assert warns == [
        f"{path}: byte {off}: file ends inside a record ({detail}); record ignored",
        f"{path}: byte {avail}: compressed stream ends early (truncated gzip file)",
    ]


def test_corrupt_gzip_is_capture_error(tmp_path):
    raw, recs = _varied_pcap(50)
    z = bytearray(gzip.compress(raw, 0))     # stored blocks: corrupt the CRC
    z[-8] ^= 0xFF
    path = _write(tmp_path, "bad.pcap.gz", bytes(z))
    got = []
    with pytest.raises(CaptureError) as ei:
        with open_capture(path) as cap:
            for rb in cap:
                got += [rb.packet(i) for i in range(rb.n)]
    assert got == [r[2] for r in recs]           # every record came before the check failed
    assert "corrupt gzip data" in str(ei.value)
    assert ei.value.offset == len(raw)


# -- merge ---------------------------------------------------------------------

def _merge_inputs(tmp_path):
    # A: pcap us, with a timestamp going backwards; B: pcapng; C: pcap ns, gzip
    a = pb.pcap([(1, 0, b"A1"), (3, 0, b"A3"), (5, 0, b"A5a"), (5, 0, b"A5b"),
                 (2, 0, b"A2"), (9, 0, b"A9")])
    b = b"".join([pb.shb(), pb.idb(113, name="any"),
                  pb.epb(0, 0, b"B0"), pb.epb(0, 3_000_000, b"B3"),
                  pb.epb(0, 5_000_000, b"B5"), pb.epb(0, 6_000_000, b"B6")])
    c = pb.pcap([(4, 0, b"C4"), (5, 0, b"C5"), (10, 0, b"C10")], nano=True, linktype=101)
    return [_write(tmp_path, "a.pcap", a), _write(tmp_path, "b.pcapng", b),
            _write(tmp_path, "c.pcap.gz", gzip.compress(c))]


MERGED = ["B0", "A1", "A3", "B3", "C4", "A5a", "A5b", "A2", "B5", "C5", "B6", "A9", "C10"]


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5, 64])
def test_merge_three_files(tmp_path, batch_size):
    paths = _merge_inputs(tmp_path)
    with open_capture(paths, batch_size=batch_size) as cap:
        rows = pb.read_all(cap)
        assert [r["data"].decode() for r in rows] == MERGED
        assert [r["frame"] for r in rows] == list(range(1, 14))
        assert [r["src"] for r in rows] == [{"A": 0, "B": 1, "C": 2}[r["data"][:1].decode()] for r in rows]
        assert [r["iface"] for r in rows] == [r["src"] for r in rows]
        assert [r["linktype"] for r in rows] == [{0: 1, 1: 113, 2: 101}[r["src"]] for r in rows]
        assert [r["ts_ns"] for r in rows] == [
            int(name[1:].rstrip("ab")) * 10**9 for name in MERGED]
        # fileoff: position of the record header within its own file
        fo = {"A1": 24, "A3": 42, "A5a": 60, "A5b": 79, "A2": 98, "A9": 116,
              "B0": 60, "B3": 96, "B5": 132, "B6": 168, "C4": 24, "C5": 42, "C10": 60}
        assert [r["fileoff"] for r in rows] == [fo[n] for n in MERGED]
        assert [f["records"] for f in cap.files] == [6, 4, 3]
        assert [i["file"] for i in cap.interfaces] == [0, 1, 2]
        assert cap.interfaces[1]["name"] == "any"


def test_merge_batches_own_their_bytes(tmp_path):
    paths = _merge_inputs(tmp_path)
    with open_capture(paths, batch_size=4) as cap:
        batches = 0
        for rb in cap:
            batches += 1
            assert isinstance(rb.buffer, np.ndarray)
            c = rb.columns()
            assert int((c["offset"] + c["caplen"]).max()) <= len(rb.buffer)
        assert batches == 4


def test_merge_output_buffer_full_and_grow(tmp_path, monkeypatch):
    monkeypatch.setattr(capmod, "MERGE_BUFFER", 100)
    a = pb.pcap([(i, 0, b"a" * 40) for i in range(0, 10, 2)])
    b = pb.pcap([(1, 0, b"b" * 300)] + [(i, 0, b"b" * 40) for i in range(3, 10, 2)])
    paths = [_write(tmp_path, "a.pcap", a), _write(tmp_path, "b.pcap", b)]
    with open_capture(paths) as cap:
        sizes, data = [], []
        for rb in cap:
            sizes.append(rb.n)
            data += [rb.packet(i) for i in range(rb.n)]
        assert data == [b"a" * 40, b"b" * 300] + [x * 40 for _ in range(4) for x in (b"a", b"b")]
        assert sum(sizes) == 10
        assert sizes[0] == 1            # the 300-byte record did not fit behind it


def test_merge_with_empty_file(tmp_path):
    paths = [_write(tmp_path, "e.pcap", pb.pcap_header()),
             _write(tmp_path, "a.pcap", pb.pcap([(1, 0, b"x"), (2, 0, b"y")]))]
    with open_capture(paths) as cap:
        rows = pb.read_all(cap)
        assert [(r["data"], r["src"], r["frame"]) for r in rows] == [(b"x", 1, 1), (b"y", 1, 2)]


def test_merge_error_yields_earlier_records_first(tmp_path):
    a = pb.pcap([(1, 0, b"A1"), (2, 0, b"A2"), (3, 0, b"A3")])
    bad = pb.pcap([(1, 500_000, b"B1"), (2, 500_000, b"B2")])
    bad += pb.pcap_record(0, 0, b"", caplen=0xFFFFFFFF)
    paths = [_write(tmp_path, "a.pcap", a), _write(tmp_path, "bad.pcap", bad)]
    got = []
    with pytest.raises(CaptureError) as ei:
        with open_capture(paths) as cap:
            for rb in cap:
                got += [rb.packet(i) for i in range(rb.n)]
    assert got == [b"A1", b"B1", b"A2", b"B2"]
    assert str(ei.value) == (f"{paths[1]}: byte 60: record claims 4294967295 captured bytes "
                             "(limit 262144)")
    assert (ei.value.path, ei.value.offset) == (str(paths[1]), 60)


def test_merge_equal_timestamps_keep_file_order(tmp_path):
    files = [pb.pcap([(7, 0, b"%d-%d" % (f, i)) for i in range(3)]) for f in range(3)]
    paths = [_write(tmp_path, f"{i}.pcap", d) for i, d in enumerate(files)]
    with open_capture(paths, batch_size=2) as cap:
        rows = pb.read_all(cap)
        assert [r["data"] for r in rows] == [b"%d-%d" % (f, i) for f in range(3) for i in range(3)]
