"""The long-buffer sum kernels (AVX2 and portable) against RFC 1071 and dpkt.

checksum._native_kernels returns each kernel's raw 64-bit host-order sum:
they must be EQUAL, not merely congruent modulo 0xffff (the fused verifier
adds them to pseudo-header words and tests divisibility), and fold to the
textbook sum.  Lengths cross every branch of both kernels (64-byte blocks,
the 128-byte AVX2 loop, the n & 64 block, the < 64-byte tail with each
bit of n) at every alignment.
"""
import random
import struct
import sys

import dpkt
import pytest
from hypothesis import given, settings, strategies as st

from pystack._core import checksum as C
from tests.checksum import ref_sum


def _fold_host(s: int) -> int:
    """A host-order (little-endian) 64-bit sum folded and swapped to network order."""
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    if sys.byteorder == "little":
        s = ((s >> 8) | (s << 8)) & 0xFFFF
    return s


def _check(data):
    k = C._native_kernels(data)
    assert k["dispatch"] == k["portable"]
    if k["avx2"] is not None:
        assert k["avx2"] == k["portable"]
    assert _fold_host(k["portable"]) == ref_sum(bytes(data))


def test_kernel_name():
    assert C.simd_kernel() in ("avx2", "portable")


def test_every_length_to_600_every_alignment():
    rng = random.Random(64)
    blob = rng.randbytes(600 + 32)
    for n in range(0, 601):
        for off in (0, 1, 2, 3, 5, 7, 8, 15, 16, 31):
            _check(memoryview(blob)[off:off + n])


def test_carries_all_ones_and_zeros():
    for n in (63, 64, 127, 128, 129, 191, 192, 1500, 9000, 65535, 200_003):
        _check(b"\xff" * n)
        _check(b"\x00" * n)
        if n % 4 == 0:
            # every 32-bit word is 0xffffffff: no carry may be dropped
            assert C._native_kernels(b"\xff" * n)["portable"] == (n // 4) * 0xFFFFFFFF


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 9000), st.integers(0, 63), st.randoms(use_true_random=False))
def test_random_length_and_offset(n, off, rnd):
    blob = rnd.randbytes(n + off)
    _check(memoryview(blob)[off:])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 9000), st.integers(0, 7), st.randoms(use_true_random=False))
def test_tcp_segments_against_dpkt(n, off, rnd):
    src, dst = rnd.randbytes(4), rnd.randbytes(4)
    tcp = dpkt.tcp.TCP(sport=rnd.randrange(65536), dport=rnd.randrange(65536),
                       seq=rnd.getrandbits(32), flags=dpkt.tcp.TH_ACK, data=rnd.randbytes(n))
    ip = dpkt.ip.IP(src=src, dst=dst, p=6, data=tcp)
    seg = bytes(ip)[20:]            # dpkt filled tcp.sum when serialising
    want = struct.unpack(">H", seg[16:18])[0]
    assert C.tcp_checksum(src, dst, (b"\0" * off + seg)[off:]) == want
    # the whole segment with its field verifies: pseudo-header + sum == -0
    buf = memoryview(b"\0" * off + seg)[off:]
    _check(buf)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.integers(0, 2 ** 64 - 1), st.integers(0, (2 ** 64 - 1) // 0xFFFF).map(lambda k: k * 0xFFFF),
                 st.integers(-3, 3).map(lambda d: (0xFFFF * 7 + d) % 2 ** 64)))
def test_csum_verifies_is_nonzero_multiple_of_ffff(s):
    assert C._verifies(s) == (s != 0 and s % 0xFFFF == 0)


def test_csum_verifies_edges():
    # 2^64 - 1 = 0xffff * 0x1000100010001: the largest sum is a multiple
    for s, want in ((0, False), (0xFFFF, True), (0xFFFE, False), (0x10000, False),
                    (2 ** 64 - 1, True), (2 ** 64 - 2, False), (2 ** 64 - 1 - 0xFFFF, True),
                    (1, False)):
        assert C._verifies(s) is want, hex(s)
