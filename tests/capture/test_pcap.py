"""Classic pcap: byte orders, precisions, link types, batches, columns."""

import io
import mmap
import os
import threading

import dpkt
import numpy as np
import pytest

from pystack.capture import LINKTYPE_NAMES, CaptureError, open_capture
from pystack._core.capture import RecordBatch

from . import pcapbuild as pb

T0 = 1_600_000_000


def _write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _payloads(n):
    return [bytes([i % 256]) * (40 + i) for i in range(n)]


def _dpkt_pcap(nano, payloads, linktype=1, snaplen=65535):
    f = io.BytesIO()
    w = dpkt.pcap.Writer(f, snaplen=snaplen, linktype=linktype, nano=nano)
    for i, p in enumerate(payloads):
        w.writepkt(p, ts=T0 + i + 0.25 * (i % 4))
    return f.getvalue()


@pytest.mark.parametrize("nano", [False, True])
def test_dpkt_every_column(tmp_path, nano):
    pays = _payloads(7)
    path = _write(tmp_path, "a.pcap", _dpkt_pcap(nano, pays))
    with open_capture(path) as cap:
        batches = list(cap)
        assert len(batches) == 1
        rb = batches[0]
        assert isinstance(rb, RecordBatch)
        assert rb.n == 7
        c = rb.columns()
        fileoff = [24]
        for p in pays[:-1]:
            fileoff.append(fileoff[-1] + 16 + len(p))
        assert c["fileoff"].tolist() == fileoff
        assert c["offset"].tolist() == [o + 16 for o in fileoff]   # zero-copy: file offsets
        assert c["caplen"].tolist() == [len(p) for p in pays]
        assert c["wirelen"].tolist() == [len(p) for p in pays]
        assert c["ts_ns"].tolist() == [(T0 + i) * 10**9 + 250_000_000 * (i % 4) for i in range(7)]
        assert c["iface"].tolist() == [0] * 7
        assert c["linktype"].tolist() == [1] * 7
        assert c["frame"].tolist() == list(range(1, 8))
        assert c["src"].tolist() == [0] * 7
        assert [rb.packet(i) for i in range(7)] == pays
        assert isinstance(rb.buffer, mmap.mmap)
        assert cap.files == [{
            "path": str(path), "format": "pcap", "compressed": False,
            "size": os.path.getsize(path), "records": 7, "bytes": sum(map(len, pays)),
            "sections": 1, "byte_order": "little", "ts_precision": "ns" if nano else "us",
        }]
        assert cap.interfaces == [{
            "name": None, "linktype": 1, "linktype_name": "EN10MB",
            "tsresol": 9 if nano else 6, "tsoffset": 0, "snaplen": 65535,
            "file": 0, "section": 0,
        }]
        assert cap.warnings == []


@pytest.mark.parametrize("nano", [False, True])
def test_big_endian_by_hand(tmp_path, nano):
    frac = [999_999_999, 0, 1] if nano else [999_999, 0, 1]
    recs = [(T0, frac[0], b"\x01" * 20), (T0 + 1, frac[1], b"\x02" * 3), (0xFFFFFFFF, frac[2], b"")]
    path = _write(tmp_path, "be.pcap", pb.pcap(recs, e=pb.BE, nano=nano, linktype=228))
    with open_capture(str(path)) as cap:
        rows = pb.read_all(cap)
        mul = 1 if nano else 1000
        assert [r["ts_ns"] for r in rows] == [
            T0 * 10**9 + frac[0] * mul, (T0 + 1) * 10**9, 0xFFFFFFFF * 10**9 + mul]
        assert [r["data"] for r in rows] == [b"\x01" * 20, b"\x02" * 3, b""]
        assert [r["caplen"] for r in rows] == [20, 3, 0]
        assert [r["fileoff"] for r in rows] == [24, 60, 79]
        assert [r["linktype"] for r in rows] == [228] * 3
        assert cap.files[0]["byte_order"] == "big"
        assert cap.interfaces[0]["linktype_name"] == "IPV4"


@pytest.mark.parametrize("field,expect,name", [
    (1, 1, "EN10MB"),
    (0x04000000 | (4 << 28) | 1, 1, "EN10MB"),      # FCS bits above the link type
    (101, 101, "RAW"), (12, 101, "RAW"), (14, 101, "RAW"),
    (113, 113, "LINUX_SLL"), (276, 276, "LINUX_SLL2"), (228, 228, "IPV4"),
    (229, 229, "IPV6"), (0, 0, "NULL"), (108, 108, "LOOP"), (105, 105, "IEEE802_11"),
    (127, 127, "IEEE802_11_RADIOTAP"), (65000, 65000, "LINKTYPE_65000"),
])
def test_linktype_field(tmp_path, field, expect, name):
    path = _write(tmp_path, "l.pcap", pb.pcap([(1, 2, b"abc")], linktype=field))
    with open_capture(path) as cap:
        rows = pb.read_all(cap)
        assert rows[0]["linktype"] == expect
        assert cap.interfaces[0]["linktype"] == expect
        assert cap.interfaces[0]["linktype_name"] == name


def test_linktype_names_table():
    for lt, name in {0: "NULL", 1: "EN10MB", 12: "RAW", 14: "RAW", 101: "RAW", 105: "IEEE802_11",
                     108: "LOOP", 113: "LINUX_SLL", 228: "IPV4", 229: "IPV6",
                     276: "LINUX_SLL2"}.items():
        assert LINKTYPE_NAMES[lt] == name


def test_empty_pcap_yields_nothing(tmp_path):
    path = _write(tmp_path, "e.pcap", pb.pcap_header())
    with open_capture(path) as cap:
        assert list(cap) == []
        assert cap.warnings == []
        assert cap.files[0]["records"] == 0
        assert len(cap.interfaces) == 1


def test_small_batches_reuse_and_frames(tmp_path):
    pays = _payloads(10)
    path = _write(tmp_path, "a.pcap", _dpkt_pcap(False, pays))
    with open_capture(path, batch_size=3) as cap:
        sizes, frames, ids, data = [], [], set(), []
        for rb in cap:
            ids.add(id(rb))
            sizes.append(rb.n)
            frames += rb.columns()["frame"].tolist()
            data += [rb.packet(i) for i in range(rb.n)]
        assert sizes == [3, 3, 3, 1]
        assert frames == list(range(1, 11))
        assert data == pays
        assert len(ids) == 1            # one preallocated batch, reused


def test_caplen_above_wirelen_is_fixed_and_warned(tmp_path):
    recs = [(1, 0, b"x" * 10, 10), (2, 0, b"y" * 10, 4), (3, 0, b"z" * 8, 2)]
    path = _write(tmp_path, "w.pcap", pb.pcap(recs))
    with open_capture(path) as cap:
        rows = pb.read_all(cap)
        assert [r["wirelen"] for r in rows] == [10, 10, 8]
        assert [r["caplen"] for r in rows] == [10, 10, 8]
        assert cap.warnings == [
            f"{path}: byte 50: 2 records with caplen > wirelen; wirelen raised to caplen"]


def test_wirelen_above_caplen_kept(tmp_path):
    path = _write(tmp_path, "s.pcap", pb.pcap([(1, 0, b"x" * 10, 1500)], snaplen=10))
    with open_capture(path) as cap:
        rows = pb.read_all(cap)
        assert (rows[0]["caplen"], rows[0]["wirelen"]) == (10, 1500)
        assert cap.warnings == []


def test_large_snaplen_raises_caplen_limit(tmp_path):
    big = b"\xee" * 300_000
    path = _write(tmp_path, "big.pcap", pb.pcap([(1, 0, big)], snaplen=400_000))
    with open_capture(path) as cap:
        rows = pb.read_all(cap)
        assert rows[0]["caplen"] == 300_000 and rows[0]["data"] == big


def test_fifo_input(tmp_path):
    pays = _payloads(50)
    data = _dpkt_pcap(True, pays)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def writer():
        with open(fifo, "wb") as f:
            for i in range(0, len(data), 777):
                f.write(data[i:i + 777])

    t = threading.Thread(target=writer)
    t.start()
    try:
        with open_capture(fifo) as cap:
            rows = pb.read_all(cap)
            assert [r["data"] for r in rows] == pays
            assert [r["frame"] for r in rows] == list(range(1, 51))
            assert cap.files[0]["size"] == len(data)
            assert cap.files[0]["compressed"] is False
            assert isinstance(np.asarray(cap._sources[0].buf), np.ndarray)
    finally:
        t.join()


def test_close_releases_batch(tmp_path):
    path = _write(tmp_path, "a.pcap", _dpkt_pcap(False, _payloads(3)))
    cap = open_capture(path)
    rb = next(iter(cap))
    assert rb.n == 3
    cap.close()
    assert rb.n == 0 and rb.buffer is None
    with pytest.raises(IndexError):
        rb.packet(0)


def test_iterate_once(tmp_path):
    path = _write(tmp_path, "a.pcap", _dpkt_pcap(False, _payloads(3)))
    with open_capture([path]) as cap:
        list(cap)
        with pytest.raises(RuntimeError):
            iter(cap)


def test_missing_file(tmp_path):
    with pytest.raises(CaptureError) as ei:
        open_capture(tmp_path / "nope.pcap")
    assert ei.value.offset == 0 and ei.value.path == str(tmp_path / "nope.pcap")


@pytest.mark.parametrize("compress", [False, True])
def test_stdin_dash(tmp_path, compress):
    import gzip
    import subprocess
    import sys
    data = _dpkt_pcap(False, _payloads(30))
    if compress:
        data = gzip.compress(data)
    code = (
        "from pystack.capture import open_capture\n"
        "with open_capture('-') as cap:\n"
        "    n = sum(rb.n for rb in cap)\n"
        "    f = cap.files[0]\n"
        "    print(n, f['path'], f['compressed'], f['size'], f['records'], cap.warnings)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, check=True)
    assert out.stdout.decode().split(maxsplit=5) == [
        "30", "-", str(compress), str(len(data)), "30", "[]\n"]
