"""RFC 1071 sums: exact vectors, odd lengths/offsets, buffer types, IPv4 headers."""
import array
import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from pystack._core import checksum as C
from tests.checksum import rand_ip, ref_sum

# RFC 1071 section 3, "Numerical Examples": bytes 00 01 f2 03 f4 f5 f6 f7
# sum to 0xddf2 (checksum 0x220d).
RFC1071_BYTES = bytes.fromhex("0001f203f4f5f6f7")

# The classic IPv4 header (Wikipedia "Internet checksum" / many textbooks):
# 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7
CLASSIC_HDR = bytes.fromhex("45000073000040004011b861c0a80001c0a800c7")
# Another widely quoted one: ... 8006 [442e] 8c7c 19ac ae24 1e2b
WIKI_HDR = bytes.fromhex("45000030442240008006442e8c7c19acae241e2b")


def test_rfc1071_numerical_example():
    assert C.ones_complement_sum(RFC1071_BYTES) == 0xDDF2
    assert C.internet_checksum(RFC1071_BYTES) == 0x220D
    # Byte-order independence (RFC 1071 2(B)): swapped input, swapped sum.
    swapped = bytes(b for i in range(0, 8, 2) for b in (RFC1071_BYTES[i + 1], RFC1071_BYTES[i]))
    assert C.ones_complement_sum(swapped) == 0xF2DD


@pytest.mark.parametrize("hdr,csum", [(CLASSIC_HDR, 0xB861), (WIKI_HDR, 0x442E)])
def test_ipv4_header_vectors(hdr, csum):
    zeroed = hdr[:10] + b"\0\0" + hdr[12:]
    assert C.ipv4_header_checksum(hdr) == csum         # own field ignored
    assert C.ipv4_header_checksum(zeroed) == csum
    assert C.internet_checksum(zeroed) == csum
    assert C.internet_checksum(hdr) == 0                # verifies to zero
    assert C.ones_complement_sum(hdr) == 0xFFFF
    assert C.verify_ipv4_header(hdr)
    assert not C.verify_ipv4_header(zeroed)
    bad = hdr[:11] + bytes([hdr[11] ^ 1]) + hdr[12:]
    assert not C.verify_ipv4_header(bad)
    # Trailing payload is not part of the header sum.
    assert C.verify_ipv4_header(hdr + b"\xde\xad\xbe\xef")
    assert C.ipv4_header_checksum(hdr + b"\x01\x02") == csum


def test_ipv4_header_errors():
    with pytest.raises(ValueError):
        C.ipv4_header_checksum(CLASSIC_HDR[:19])
    with pytest.raises(ValueError):
        C.ipv4_header_checksum(b"\x44" + CLASSIC_HDR[1:])          # ihl 4
    with pytest.raises(ValueError):
        C.verify_ipv4_header(b"\x46" + CLASSIC_HDR[1:])            # ihl 6, 20 bytes


def test_edge_values():
    assert C.ones_complement_sum(b"") == 0
    assert C.internet_checksum(b"") == 0xFFFF
    assert C.ones_complement_sum(b"\0" * 1001) == 0
    assert C.ones_complement_sum(b"\xff\xff") == 0xFFFF
    assert C.ones_complement_sum(b"\xff\xff" * 5000) == 0xFFFF   # -0 stays -0
    assert C.ones_complement_sum(b"\x01") == 0x0100              # odd byte = high byte
    assert C.ones_complement_sum(b"\x00\x01\x02") == 0x0201
    assert C.ones_complement_sum(b"\x80\x00\x80\x00") == 0x0001  # end-around carry
    assert C.ones_complement_sum(b"", initial=0x1234) == 0x1234
    assert C.ones_complement_sum(b"\x00\x01", initial=0xFFFF) == 0x0001
    assert C.ones_complement_sum(b"\x00\x01", initial=(1 << 80) + 5) == ref_sum(b"\x00\x01", ((1 << 80) + 5) % 0xFFFF)
    with pytest.raises(ValueError):
        C.ones_complement_sum(b"", initial=-1)


def test_every_length_and_alignment():
    rng = random.Random(1071)
    blob = rng.randbytes(4096 + 64)
    for n in list(range(0, 300)) + [1447, 1448, 1449, 1500, 4096, 4095]:
        for off in range(8):
            data = memoryview(blob)[off:off + n]
            assert C.ones_complement_sum(data) == ref_sum(bytes(data)), (n, off)


def test_large_buffer_nogil_path():
    rng = random.Random(7)
    data = rng.randbytes(200_001)
    assert C.ones_complement_sum(data) == ref_sum(data)
    # all-0xff words: the accumulators' carries must not be lost
    assert C.ones_complement_sum(b"\xff" * 1_000_000) == 0xFFFF
    assert C.ones_complement_sum(b"\xff" * 1_000_001) == ref_sum(b"\xff" * 1_000_001)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.integers(0, 0xFFFF))
def test_matches_reference(data, initial):
    assert C.ones_complement_sum(data, initial) == ref_sum(data, initial)
    assert C.internet_checksum(data, initial) == (~ref_sum(data, initial)) & 0xFFFF


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.binary(max_size=600))
def test_chaining_even_split(a, b):
    if len(a) % 2:
        a = a[:-1]
    s = C.ones_complement_sum(a)
    assert C.ones_complement_sum(b, initial=s) == ref_sum(a + b)


def test_buffer_types():
    data = bytes(range(256)) * 3 + b"\x07"
    want = ref_sum(data)
    assert C.ones_complement_sum(bytearray(data)) == want
    assert C.ones_complement_sum(memoryview(data)) == want
    assert C.ones_complement_sum(np.frombuffer(data, np.uint8)) == want
    # a multi-byte-format memoryview is summed as its raw bytes
    arr = array.array("H", data[:-1])
    assert C.ones_complement_sum(memoryview(arr)) == ref_sum(data[:-1])
    with pytest.raises(TypeError):
        C.ones_complement_sum("not bytes")


def test_icmp_against_dpkt():
    rng = random.Random(1)
    for _ in range(200):
        ip = rand_ip(rng, False, 1)
        raw = bytes(ip.data)
        assert C.icmp_checksum(raw) == ip.data.sum
        assert C.internet_checksum(raw) == 0


def test_ipv4_headers_against_dpkt():
    rng = random.Random(2)
    for k in range(300):
        ip = rand_ip(rng, False, rng.choice((1, 6, 17)), max_payload=64, ip_opts=k % 2 == 1)
        hdr = bytes(ip)[: ip.hl * 4]
        assert C.ipv4_header_checksum(hdr) == ip.sum
        assert C.verify_ipv4_header(bytes(ip))


def test_bench_helper_runs():
    secs, _ = C._bench_partial(bytes(4096), 1448, 1000, 1448)
    assert secs >= 0
