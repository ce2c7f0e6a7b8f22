"""pcapng: sections, interfaces, timestamp resolutions, SPB/PB, unknown blocks."""

import io
import struct

import dpkt
import dpkt.pcapng as ng
import pytest

from pystack.capture import open_capture

from . import pcapbuild as pb
from .pcapbuild import BE, LE

T0 = 1_600_000_000


def _write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _offsets(blocks, start=0):
    """File offset of each block given the list of block byte strings."""
    out, pos = [], start
    for b in blocks:
        out.append(pos)
        pos += len(b)
    return out


def test_dpkt_writer(tmp_path):
    f = io.BytesIO()
    w = ng.Writer(f, snaplen=9000, linktype=1)
    pays = [bytes([i]) * (30 + 7 * i) for i in range(6)]
    for i, p in enumerate(pays):
        w.writepkt(p, ts=T0 + i * 0.5)
    path = _write(tmp_path, "d.pcapng", f.getvalue())
    with open_capture(path) as cap:
        rows = pb.read_all(cap)
        assert [r["data"] for r in rows] == pays
        assert [r["caplen"] for r in rows] == [len(p) for p in pays]
        assert [r["wirelen"] for r in rows] == [len(p) for p in pays]
        assert [r["ts_ns"] for r in rows] == [T0 * 10**9 + i * 500_000_000 for i in range(6)]
        assert [r["iface"] for r in rows] == [0] * 6
        assert [r["linktype"] for r in rows] == [1] * 6
        assert [r["frame"] for r in rows] == list(range(1, 7))
        # SHB 28 + IDB 20, then EPBs of 32 + padded data
        offs = [48]
        for p in pays[:-1]:
            offs.append(offs[-1] + 32 + (len(p) + 3) // 4 * 4)
        assert [r["fileoff"] for r in rows] == offs
        assert [r["offset"] for r in rows] == [o + 28 for o in offs]
        assert cap.interfaces == [{
            "name": None, "linktype": 1, "linktype_name": "EN10MB", "tsresol": 6,
            "tsoffset": 0, "snaplen": 9000, "file": 0, "section": 0}]
        assert cap.files[0]["format"] == "pcapng"
        assert cap.files[0]["sections"] == 1
        assert cap.files[0]["byte_order"] == "little"
        assert cap.files[0]["ts_precision"] == "us"
        assert cap.files[0]["records"] == 6
        assert cap.warnings == []


def test_dpkt_two_interfaces(tmp_path):
    f = io.BytesIO()
    idbs = [ng.InterfaceDescriptionBlockLE(linktype=1, snaplen=1500),
            ng.InterfaceDescriptionBlockLE(linktype=113, snaplen=262144)]
    w = ng.Writer(f, idb=idbs)
    for i in range(4):
        w.writepkt(ng.EnhancedPacketBlockLE(iface_id=i % 2, pkt_data=b"p%d" % i), ts=T0 + i)
    path = _write(tmp_path, "two.pcapng", f.getvalue())
    with open_capture(path) as cap:
        rows = pb.read_all(cap)
        assert [(r["iface"], r["linktype"], r["ts_ns"], r["data"]) for r in rows] == [
            (i % 2, [1, 113][i % 2], (T0 + i) * 10**9, b"p%d" % i) for i in range(4)]
        assert [i["linktype_name"] for i in cap.interfaces] == ["EN10MB", "LINUX_SLL"]
        assert [i["snaplen"] for i in cap.interfaces] == [1500, 262144]


def test_interfaces_resolutions_offsets_unknown_blocks(tmp_path):
    blocks = [
        pb.shb(LE, options=[(4, b"pystack test")]),
        pb.idb(1, 0, name="eth0", tsresol=9),
        pb.idb(101, 65535, name="tun0", tsresol=0x94, tsoffset=100),
        pb.idb(229, 0, tsresol=12, tsoffset=-5),
        pb.block(0x00000BAD, b"custom junk"),
        pb.epb(0, 1_600_000_000_123_456_789, b"A" * 14),
        pb.block(5, struct.pack("<IIIHH", 0, 0, 0, 0, 0)),        # ISB
        pb.epb(1, (5 << 20) | (1 << 19), b"E" * 20, wirelen=1500),
        pb.block(0x40000BAD, b"\0" * 40),
        pb.epb(2, 7_000_000_000_000, b"", wirelen=0),            # 7 s in ps, -5 s offset
        pb.block(4, b"\0\0\0\0"),                                  # NRB
        pb.epb(0, 2, b"\xff" * 3),
    ]
    path = _write(tmp_path, "multi.pcapng", b"".join(blocks))
    offs = _offsets(blocks)
    with open_capture(path) as cap:
        rows = pb.read_all(cap)
        assert [r["fileoff"] for r in rows] == [offs[5], offs[7], offs[9], offs[11]]
        assert [r["offset"] for r in rows] == [offs[5] + 28, offs[7] + 28, offs[9] + 28, offs[11] + 28]
        assert [r["ts_ns"] for r in rows] == [
            1_600_000_000_123_456_789, 105_500_000_000, 2_000_000_000, 2]
        assert [r["iface"] for r in rows] == [0, 1, 2, 0]
        assert [r["linktype"] for r in rows] == [1, 101, 229, 1]
        assert [r["caplen"] for r in rows] == [14, 20, 0, 3]
        assert [r["wirelen"] for r in rows] == [14, 1500, 0, 3]
        assert [r["data"] for r in rows] == [b"A" * 14, b"E" * 20, b"", b"\xff" * 3]
        assert cap.interfaces == [
            {"name": "eth0", "linktype": 1, "linktype_name": "EN10MB", "tsresol": 9,
             "tsoffset": 0, "snaplen": 0, "file": 0, "section": 0},
            {"name": "tun0", "linktype": 101, "linktype_name": "RAW", "tsresol": 0x94,
             "tsoffset": 100, "snaplen": 65535, "file": 0, "section": 0},
            {"name": None, "linktype": 229, "linktype_name": "IPV6", "tsresol": 12,
             "tsoffset": -5, "snaplen": 0, "file": 0, "section": 0},
        ]
        assert cap.files[0]["ts_precision"] == "mixed"
        assert cap.warnings == []


def test_binary_resolution_fraction_exact(tmp_path):
    # 2^-20 units: 3 s + 12345/2^20 s -> floor(12345e9 / 2^20) ns
    blocks = [pb.shb(), pb.idb(1, tsresol=0x80 | 20), pb.epb(0, (3 << 20) + 12345, b"x")]
    path = _write(tmp_path, "bin.pcapng", b"".join(blocks))
    with open_capture(path) as cap:
        (row,) = pb.read_all(cap)
        assert row["ts_ns"] == 3 * 10**9 + (12345 * 10**9 >> 20)


def test_sections_with_different_byte_orders(tmp_path):
    blocks = [
        pb.shb(LE), pb.idb(1, e=LE), pb.epb(0, 1_000_000, b"s0", e=LE),
        pb.shb(BE), pb.idb(113, 96, e=BE, tsresol=3, name="any"), pb.idb(229, e=BE),
        pb.epb(1, 2500, b"s1-if1", e=BE), pb.epb(0, 3000, b"s1-if0", e=BE, wirelen=80),
        pb.shb(LE), pb.idb(276, e=LE), pb.epb(0, 4_000_001, b"s2", e=LE),
    ]
    path = _write(tmp_path, "sect.pcapng", b"".join(blocks))
    offs = _offsets(blocks)
    with open_capture(path) as cap:
        rows = pb.read_all(cap)
        assert [r["iface"] for r in rows] == [0, 2, 1, 3]
        assert [r["linktype"] for r in rows] == [1, 229, 113, 276]
        assert [r["ts_ns"] for r in rows] == [10**9, 2_500_000, 3 * 10**9, 4_000_001_000]
        assert [r["data"] for r in rows] == [b"s0", b"s1-if1", b"s1-if0", b"s2"]
        assert [r["wirelen"] for r in rows] == [2, 6, 80, 2]
        assert [r["fileoff"] for r in rows] == [offs[2], offs[6], offs[7], offs[10]]
        assert [(i["section"], i["linktype"], i["name"], i["snaplen"]) for i in cap.interfaces] == [
            (0, 1, None, 0), (1, 113, "any", 96), (1, 229, None, 0), (2, 276, None, 0)]
        f = cap.files[0]
        assert (f["sections"], f["byte_order"], f["ts_precision"]) == (3, "mixed", "mixed")


def test_big_endian_only_file(tmp_path):
    blocks = [pb.shb(BE), pb.idb(1, e=BE, tsresol=9), pb.epb(0, 123456789012, b"big", e=BE)]
    path = _write(tmp_path, "be.pcapng", b"".join(blocks))
    with open_capture(path) as cap:
        (row,) = pb.read_all(cap)
        assert (row["ts_ns"], row["data"], row["fileoff"]) == (123456789012, b"big", 28 + 32)
        assert cap.files[0]["byte_order"] == "big"


def test_simple_packet_blocks(tmp_path):
    blocks = [
        pb.shb(), pb.idb(1, snaplen=8),
        pb.spb(b"first"),                       # no earlier record: timestamp 0
        pb.epb(0, 5_000_000, b"x" * 4),
        pb.spb(b"abcdefgh", wirelen=100),       # caplen = min(100, snaplen 8)
        pb.spb(b"abc"),
    ]
    path = _write(tmp_path, "spb.pcapng", b"".join(blocks))
    offs = _offsets(blocks)
    with open_capture(path) as cap:
        rows = pb.read_all(cap)
        assert [r["ts_ns"] for r in rows] == [0, 5 * 10**9, 5 * 10**9, 5 * 10**9]
        assert [r["caplen"] for r in rows] == [5, 4, 8, 3]
        assert [r["wirelen"] for r in rows] == [5, 4, 100, 3]
        assert [r["data"] for r in rows] == [b"first", b"xxxx", b"abcdefgh", b"abc"]
        assert [r["offset"] for r in rows] == [offs[2] + 12, offs[3] + 28, offs[4] + 12, offs[5] + 12]
        assert [r["iface"] for r in rows] == [0, 0, 0, 0]


def test_obsolete_packet_block(tmp_path):
    blocks = [pb.shb(), pb.idb(1), pb.idb(105),
              pb.pb(1, 7_000_001, b"wifi", drops=3), pb.pb(0, 8_000_000, b"eth", wirelen=60)]
    path = _write(tmp_path, "pb.pcapng", b"".join(blocks))
    with open_capture(path) as cap:
        rows = pb.read_all(cap)
        assert [(r["iface"], r["linktype"], r["ts_ns"], r["data"], r["wirelen"]) for r in rows] == [
            (1, 105, 7_000_001_000, b"wifi", 4), (0, 1, 8 * 10**9, b"eth", 60)]


def test_idb_after_packets_and_batches(tmp_path):
    blocks = [pb.shb(), pb.idb(1)]
    blocks += [pb.epb(0, i, b"a%d" % i) for i in range(5)]
    blocks += [pb.idb(101, tsresol=9)]
    blocks += [pb.epb(1, 1000 + i, b"b%d" % i) for i in range(5)]
    path = _write(tmp_path, "late.pcapng", b"".join(blocks))
    with open_capture(path, batch_size=4) as cap:
        sizes, rows = [], []
        for rb in cap:
            sizes.append(rb.n)
            rows += [(int(rb.columns()["iface"][i]), int(rb.columns()["ts_ns"][i]), rb.packet(i))
                     for i in range(rb.n)]
        assert sizes == [4, 4, 2]
        assert rows == [(0, i * 1000, b"a%d" % i) for i in range(5)] + \
                      [(1, 1000 + i, b"b%d" % i) for i in range(5)]
        assert len(cap.interfaces) == 2


def test_header_only_pcapng(tmp_path):
    path = _write(tmp_path, "h.pcapng", pb.shb() + pb.idb(1))
    with open_capture(path) as cap:
        assert list(cap) == []
        assert cap.warnings == []
        assert len(cap.interfaces) == 1


def test_idb_option_padding_and_unknown_options(tmp_path):
    extra = [(3, b"a description that is long"), (0x8001, b"\x01\x02\x03")]
    blocks = [pb.shb(), pb.idb(1, name="enp0s31f6", tsresol=6, extra=extra),
              pb.epb(0, 42, b"zz")]
    path = _write(tmp_path, "o.pcapng", b"".join(blocks))
    with open_capture(path) as cap:
        (row,) = pb.read_all(cap)
        assert row["ts_ns"] == 42_000
        assert cap.interfaces[0]["name"] == "enp0s31f6"
