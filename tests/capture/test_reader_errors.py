"""Corrupt and truncated input: exact errors and warnings, good records first."""

import struct

import pytest

from pystack.capture import CaptureError, open_capture

from . import pcapbuild as pb
from .pcapbuild import BE, LE


def _write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _drain(path, **kw):
    """(records read, warnings, exception or None)."""
    got, warns, err = [], None, None
    cap = open_capture(path, **kw)
    try:
        for rb in cap:
            got += [rb.packet(i) for i in range(rb.n)]
    except CaptureError as e:
        err = e
    finally:
        warns = list(cap.warnings)
        cap.close()
    return got, warns, err


GOOD = [(1, 0, b"one"), (2, 0, b"two!"), (3, 0, b"three")]
GOOD_LEN = 24 + sum(16 + len(r[2]) for r in GOOD)       # 84


# -- file headers ----------------------------------------------------------------

@pytest.mark.parametrize("data,msg", [
    (b"", "short file header (0 bytes): not a capture"),
    (b"\xd4\xc3", "short file header (2 bytes): not a capture"),
    (b"NOTAPCAP" * 4, "bad magic 0x4e4f5441: not a pcap or pcapng file"),
    (pb.pcap_header()[:10], "short file header (10 of 24 bytes)"),
    (pb.pcap_header(BE)[:23], "short file header (23 of 24 bytes)"),
    (b"\x34\xcd\xb2\xa1" + b"\0" * 20, "unsupported format: Kuznetzov modified pcap"),
    (pb.shb()[:20], "short file header: incomplete section header block"),
    (pb.shb(major=2), "unsupported pcapng version 2.0"),
    (pb.shb()[:8] + b"\x01\x02\x03\x04" + pb.shb()[12:],
     "section header block has bad byte-order magic 0x01020304"),
    (struct.pack("<IIIHHq", 0x0A0D0D0A, 30, 0x1A2B3C4D, 1, 0, -1) + b"\0" * 6,
     "section header block claims total length 30 (must be >= 28, a multiple of 4, at most 16777216)"),
])
def test_bad_file_header(tmp_path, data, msg):
    path = _write(tmp_path, "bad.cap", data)
    with pytest.raises(CaptureError) as ei:
        open_capture(path)
    assert str(ei.value) == f"{path}: byte 0: {msg}"
    assert (ei.value.path, ei.value.offset, ei.value.reason) == (str(path), 0, msg)


def test_bad_second_file_header_closes_first(tmp_path):
    good = _write(tmp_path, "good.pcap", pb.pcap(GOOD))
    bad = _write(tmp_path, "bad.pcap", b"garbage!" * 3)
    with pytest.raises(CaptureError) as ei:
        open_capture([good, bad])
    assert ei.value.path == str(bad)


# -- classic pcap records ----------------------------------------------------------

@pytest.mark.parametrize("batch_size", [2, 65536])
def test_absurd_caplen_after_good_records(tmp_path, batch_size):
    data = pb.pcap(GOOD) + pb.pcap_record(4, 0, b"", caplen=0xFFFFFFFF) + b"\0" * 100
    path = _write(tmp_path, "c.pcap", data)
    got, warns, err = _drain(path, batch_size=batch_size)
    assert got == [b"one", b"two!", b"three"]
    assert str(err) == f"{path}: byte {GOOD_LEN}: record claims 4294967295 captured bytes (limit 262144)"
    assert err.offset == GOOD_LEN


def test_caplen_limit_follows_snaplen_up_to_16mib(tmp_path):
    data = pb.pcap(GOOD, snaplen=0xFFFFFFFF) + pb.pcap_record(4, 0, b"", caplen=16 * 2**20 + 1)
    path = _write(tmp_path, "s.pcap", data)
    got, warns, err = _drain(path)
    assert len(got) == 3
    assert err.reason == "record claims 16777217 captured bytes (limit 16777216)"


def test_caplen_just_over_default_limit(tmp_path):
    data = pb.pcap([(1, 0, b"x" * 262145)], snaplen=65535)
    path = _write(tmp_path, "l.pcap", data)
    got, warns, err = _drain(path)
    assert got == []
    assert str(err) == f"{path}: byte 24: record claims 262145 captured bytes (limit 262144)"


def test_truncated_last_record_data(tmp_path):
    data = pb.pcap(GOOD) + pb.pcap_record(4, 0, b"fourth record")[:-5]
    path = _write(tmp_path, "t.pcap", data)
    got, warns, err = _drain(path)
    assert err is None
    assert got == [b"one", b"two!", b"three"]
    assert warns == [f"{path}: byte {GOOD_LEN}: file ends inside a record "
                     "(24 of 29 bytes present); record ignored"]


@pytest.mark.parametrize("cut", [1, 8, 15])
def test_truncated_last_record_header(tmp_path, cut):
    data = pb.pcap(GOOD, e=BE) + pb.pcap_record(4, 0, b"x", e=BE)[:cut]
    path = _write(tmp_path, "t.pcap", data)
    got, warns, err = _drain(path)
    assert err is None and len(got) == 3
    assert warns == [f"{path}: byte {GOOD_LEN}: file ends inside a record "
                     f"({cut} of 16 bytes present); record ignored"]


def test_truncated_only_record(tmp_path):
    path = _write(tmp_path, "t.pcap", pb.pcap_header() + b"\1\2\3")
    got, warns, err = _drain(path)
    assert (got, err) == ([], None)
    assert warns == [f"{path}: byte 24: file ends inside a record (3 of 16 bytes present); record ignored"]


# -- pcapng blocks ----------------------------------------------------------------

HEAD = pb.shb() + pb.idb(1)                                  # 28 + 20
EPBS = [pb.epb(0, i, b"pkt%d" % i) for i in range(3)]       # 36 bytes each
NG_GOOD = HEAD + b"".join(EPBS)
NG_LEN = len(NG_GOOD)                                        # 156


def _ng_error(tmp_path, tail, batch_size=65536):
    path = _write(tmp_path, "x.pcapng", NG_GOOD + tail)
    got, warns, err = _drain(path, batch_size=batch_size)
    assert got == [b"pkt0", b"pkt1", b"pkt2"]
    return path, err, warns


@pytest.mark.parametrize("blen", [33, 8, 0, 16 * 2**20 + 4, 0xFFFFFFFC])
def test_bad_block_length(tmp_path, blen):
    path, err, _ = _ng_error(tmp_path, struct.pack("<II", 6, blen) + b"\0" * 40)
    assert str(err) == (f"{path}: byte {NG_LEN}: block of type 0x00000006 claims total length "
                        f"{blen} (must be >= 12, a multiple of 4, at most 16777216)")


def test_trailing_length_mismatch(tmp_path):
    blk = bytearray(pb.epb(0, 9, b"bad"))
    blk[-4:] = struct.pack("<I", 40)
    path, err, _ = _ng_error(tmp_path, bytes(blk), batch_size=2)
    assert str(err) == (f"{path}: byte {NG_LEN}: block of type 0x00000006: total length 36 "
                        "does not match its trailing length 40")


def test_unknown_interface(tmp_path):
    path, err, _ = _ng_error(tmp_path, pb.epb(3, 9, b"bad"))
    assert str(err) == (f"{path}: byte {NG_LEN}: packet block (type 6) refers to interface 3, "
                        "but the section defines 1 interface")


def test_packet_before_any_interface(tmp_path):
    path = _write(tmp_path, "n.pcapng", pb.shb() + pb.spb(b"abc"))
    got, warns, err = _drain(path)
    assert got == []
    assert str(err) == (f"{path}: byte 28: packet block (type 3) refers to interface 0, "
                        "but the section defines 0 interfaces")


def test_interfaces_reset_by_new_section(tmp_path):
    path, err, _ = _ng_error(tmp_path, pb.shb(BE) + pb.epb(0, 1, b"x", e=BE))
    assert err.offset == NG_LEN + 28
    assert err.reason == "packet block (type 6) refers to interface 0, but the section defines 0 interfaces"


def test_captured_length_overruns_block(tmp_path):
    path, err, _ = _ng_error(tmp_path, pb.epb(0, 9, b"abcd", caplen=5))
    assert str(err) == (f"{path}: byte {NG_LEN}: packet block (type 6) claims 5 captured bytes, "
                        "but the block holds 4")


def test_spb_overruns_block(tmp_path):
    path, err, _ = _ng_error(tmp_path, pb.spb(b"abcd", wirelen=100))
    assert err.reason == "packet block (type 3) claims 100 captured bytes, but the block holds 4"


def test_epb_too_short(tmp_path):
    path, err, _ = _ng_error(tmp_path, pb.block(6, b"\0" * 16))
    assert str(err) == f"{path}: byte {NG_LEN}: block of type 0x00000006 too short for its type (28 bytes)"


def test_idb_option_overrun(tmp_path):
    bad_idb = pb.block(1, struct.pack("<HHI", 1, 0, 0) + struct.pack("<HH", 2, 200) + b"eth0")
    path, err, _ = _ng_error(tmp_path, bad_idb)
    assert str(err) == (f"{path}: byte {NG_LEN + 16}: interface description block option 2 "
                        "claims 200 bytes, block holds 4")


def test_bad_bom_in_later_section(tmp_path):
    shb = bytearray(pb.shb())
    shb[8:12] = b"ABCD"
    path, err, _ = _ng_error(tmp_path, bytes(shb))
    assert str(err) == f"{path}: byte {NG_LEN}: section header block has bad byte-order magic 0x41424344"


@pytest.mark.parametrize("cut", [3, 8, 20, 35])
def test_truncated_last_block_is_a_warning(tmp_path, cut):
    path = _write(tmp_path, "t.pcapng", NG_GOOD + pb.epb(0, 9, b"last")[:cut])
    got, warns, err = _drain(path)
    assert err is None
    assert got == [b"pkt0", b"pkt1", b"pkt2"]
    detail = f"{cut} of 8 bytes present" if cut < 8 else f"{cut} of 36 bytes present"
    assert warns == [f"{path}: byte {NG_LEN}: file ends inside a block ({detail}); block ignored"]


def test_truncated_second_section_header(tmp_path):
    path = _write(tmp_path, "t.pcapng", NG_GOOD + pb.shb(BE)[:20])
    got, warns, err = _drain(path)
    assert err is None and len(got) == 3
    assert warns == [f"{path}: byte {NG_LEN}: file ends inside a block (20 bytes present); block ignored"]


def test_caplen_above_wirelen_in_pcapng(tmp_path):
    path = _write(tmp_path, "w.pcapng", HEAD + pb.epb(0, 1, b"abcdef", wirelen=2))
    with open_capture(path) as cap:
        (row,) = pb.read_all(cap)
        assert (row["caplen"], row["wirelen"]) == (6, 6)
        assert cap.warnings == [f"{path}: byte 48: 1 record with caplen > wirelen; wirelen raised to caplen"]


@pytest.mark.parametrize("gz", [False, True])
def test_leading_idb_with_huge_length(tmp_path, gz):
    import gzip
    data = pb.shb() + struct.pack("<II", 1, 0xFFFFFFFC) + b"\0" * 64
    path = _write(tmp_path, "h.pcapng", gzip.compress(data) if gz else data)
    with pytest.raises(CaptureError) as ei:
        open_capture(path)
    assert str(ei.value) == (f"{path}: byte 28: block of type 0x00000001 claims total length "
                             "4294967292 (must be >= 12, a multiple of 4, at most 16777216)")


def test_leading_idb_trailer_mismatch(tmp_path):
    idb = bytearray(pb.idb(1))
    idb[-4:] = struct.pack("<I", 24)
    path = _write(tmp_path, "t.pcapng", pb.shb() + bytes(idb))
    with pytest.raises(CaptureError) as ei:
        open_capture(path)
    assert ei.value.offset == 28
    assert ei.value.reason == "block of type 0x00000001: total length 20 does not match its trailing length 24"


def test_idb_too_short(tmp_path):
    path = _write(tmp_path, "s.pcapng", pb.shb() + pb.block(1, b"\0\0\0\0"))
    with pytest.raises(CaptureError) as ei:
        open_capture(path)
    assert str(ei.value) == f"{path}: byte 28: interface description block too short (16 bytes)"
