"""Hostile input: random and mutated captures never crash the reader.

Every input must either yield batches or raise CaptureError (after the
batches before the bad spot); every yielded row must index bytes inside its
batch's buffer.
"""

import contextlib
import gzip
import itertools
import os
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pystack.capture as capmod
from pystack.capture import CaptureError, open_capture

from . import pcapbuild as pb
from .pcapbuild import BE, LE

# PYSTACK_FUZZ_EXAMPLES=20000 for a deeper run.
FUZZ = settings(max_examples=int(os.environ.get("PYSTACK_FUZZ_EXAMPLES", 200)), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_names = itertools.count()


@pytest.fixture(scope="module")
def fuzzdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@contextlib.contextmanager
def tiny_window():
    saved = capmod.STREAM_BUFFER, capmod.MIN_READ, capmod.GZIP_INPUT
    capmod.STREAM_BUFFER, capmod.MIN_READ, capmod.GZIP_INPUT = 1024, 128, 97
    try:
        yield
    finally:
        capmod.STREAM_BUFFER, capmod.MIN_READ, capmod.GZIP_INPUT = saved


def _check(paths, raw=None, batch_size=5):
    """Read everything; assert the invariants; return rows read."""
    total = 0
    try:
        cap = open_capture(paths, batch_size=batch_size)
    except CaptureError:
        return -1
    with cap:
        frame = 1
        try:
            for rb in cap:
                assert 0 < rb.n <= rb.capacity
                c = rb.columns()
                size = len(memoryview(rb.buffer).cast("B"))
                assert int((c["offset"] + c["caplen"]).max()) <= size
                assert (c["offset"] >= 0).all() and (c["fileoff"] >= 0).all()
                assert (c["wirelen"] >= c["caplen"]).all()
                assert c["frame"].tolist() == list(range(frame, frame + rb.n))
                assert int(c["iface"].max()) < len(cap.interfaces)
                assert int(c["src"].max()) < len(cap.files)
                if raw is not None:      # single plain file: zero-copy into the mmap
                    for i in range(rb.n):
                        o, n = int(c["offset"][i]), int(c["caplen"][i])
                        assert rb.packet(i) == raw[o:o + n]
                frame += rb.n
                total += rb.n
        except CaptureError as e:
            assert e.offset >= 0 and isinstance(e.path, str)
        # memory stays bounded: the window never outgrows one maximal record
        for src in cap._sources:
            if src.stream is not None and src.stream.buf is not None:
                assert len(src.stream.buf) <= max(capmod.STREAM_BUFFER,
                                                  capmod.MAX_RECORD + 16 + capmod.MIN_READ)
        for w in cap.warnings:
            assert isinstance(w, str)
    return total


def _write(d, data, suffix=".cap"):
    p = d / f"f{next(_names)}{suffix}"
    p.write_bytes(data)
    return p


def _valid_pcap(e, nano, n):
    return pb.pcap([(i, i * 7, bytes([i]) * (i * 13 % 70)) for i in range(n)], e=e, nano=nano)


def _valid_pcapng(e, n):
    blocks = [pb.shb(e), pb.idb(1, e=e, name="eth0", tsresol=9), pb.idb(101, 64, e=e, tsresol=0x94)]
    for i in range(n):
        if i == 6:      # a second section in the other byte order
            e = BE if e == LE else LE
            blocks += [pb.shb(e), pb.idb(113, e=e), pb.idb(1, 0, e=e, tsresol=3)]
        k = i % 4
        if k == 0:
            blocks.append(pb.epb(i % 2, i * 1000, bytes([i]) * (i * 11 % 60), e=e))
        elif k == 1:
            blocks.append(pb.spb(bytes([i]) * 9, e=e))
        elif k == 2:
            blocks.append(pb.block(0x0BAD, b"u" * (i % 9), e=e))
        else:
            blocks.append(pb.pb(1, i, b"pb%d" % i, e=e))
    return b"".join(blocks)


valid_files = st.one_of(
    st.builds(_valid_pcap, st.sampled_from([LE, BE]), st.booleans(), st.integers(0, 12)),
    st.builds(_valid_pcapng, st.sampled_from([LE, BE]), st.integers(0, 12)),
)


@st.composite
def mutated(draw):
    data = bytearray(draw(valid_files))
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["set", "set32", "cut", "insert", "delete"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if kind == "set":
            data[i] = draw(st.integers(0, 255))
        elif kind == "set32":
            v = draw(st.sampled_from([0, 1, 3, 11, 12, 13, 0x7FFFFFFF, 0xFFFFFFFF, 262145,
                                      16 * 2**20, 16 * 2**20 + 4]))
            data[i:i + 4] = struct.pack(draw(st.sampled_from(["<I", ">I"])), v)
        elif kind == "cut":
            del data[i:]
        elif kind == "insert":
            data[i:i] = draw(st.binary(max_size=20))
        else:
            del data[i:i + draw(st.integers(1, 16))]
    return bytes(data)


@FUZZ
@given(st.binary(max_size=300), st.sampled_from([b"", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d",
                                                   b"\x0a\x0d\x0d\x0a", b"\x1f\x8b"]))
def test_random_bytes(fuzzdir, data, prefix):
    raw = prefix + data
    _check(_write(fuzzdir, raw), None if raw[:2] == b"\x1f\x8b" else raw)


@FUZZ
@given(mutated())
def test_mutated_plain(fuzzdir, raw):
    _check(_write(fuzzdir, raw), raw)


@FUZZ
@given(mutated(), st.integers(0, 2))
def test_mutated_gzip_tiny_window(fuzzdir, raw, how):
    z = bytearray(gzip.compress(raw, 1))
    if how == 1 and len(z) > 20:
        z[len(z) // 2] ^= 0x5A              # corrupt the deflate stream
    elif how == 2:
        z = z[: len(z) * 2 // 3]            # cut the compressed stream
    with tiny_window():
        _check(_write(fuzzdir, bytes(z), ".gz"), batch_size=3)


@FUZZ
@given(mutated(), mutated(), st.integers(1, 7))
def test_mutated_merge(fuzzdir, a, b, batch_size):
    _check([_write(fuzzdir, a), _write(fuzzdir, b)], batch_size=batch_size)


def test_valid_files_read_completely(fuzzdir):
    # The generators above are sane: unmutated they read with no error/warning.
    for e in (LE, BE):
        for n in (0, 5, 12):
            for raw in (_valid_pcap(e, False, n), _valid_pcapng(e, n)):
                p = _write(fuzzdir, raw)
                with open_capture(p) as cap:
                    rows = pb.read_all(cap)
                    assert cap.warnings == []
                    assert len(rows) == (n if raw[:4] != b"\x0a\x0d\x0d\x0a" else n - n // 4)
