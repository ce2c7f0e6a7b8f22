"""RFC 1624 incremental updates: the RFC's example, and equality with a full
recomputation for random packets and random field rewrites (NAT-style)."""
import ipaddress
import random
import struct

import pytest
from hypothesis import given, settings, strategies as st

from pystack._core import checksum as C
from tests.checksum import rand_ip


def test_rfc1624_section4_example():
    # HC = 0xDD2F, m = 0x5555 -> m' = 0x3285.  Eqn. 3 gives 0x0000 (what a
    # recomputation gives); RFC 1141's eqn. 2 would give 0xFFFF.
    assert C.incremental_update(0xDD2F, 0x5555, 0x3285) == 0x0000
    eqn2 = 0xDD2F + 0x5555 + (~0x3285 & 0xFFFF)
    while eqn2 >> 16:
        eqn2 = (eqn2 & 0xFFFF) + (eqn2 >> 16)
    assert eqn2 == 0xFFFF
    # errata 5864's second example: 0x5555 -> 0x5556 under HC 0x0000
    assert C.incremental_update(0x0000, 0x5555, 0x5556) == 0xFFFE


def test_forms_agree():
    a = ipaddress.IPv4Address("192.0.2.1")
    b = ipaddress.IPv4Address("198.51.100.7")
    r = C.incremental_update(0x1234, a, b)
    assert r == C.incremental_update(0x1234, a.packed, b.packed)
    assert r == C.incremental_update(0x1234, int(a), int(b))
    # two 16-bit halves one after the other == one 32-bit update
    r2 = C.incremental_update(0x1234, 0xC000, 0xC633)
    r2 = C.incremental_update(r2, 0x0201, 0x6407)
    assert r2 == r
    # size=4 forces a 32-bit field for small ints
    assert C.incremental_update(0x1234, 1, 2, size=4) == C.incremental_update(0x1234, b"\0\0\0\1", b"\0\0\0\2")
    with pytest.raises(ValueError):
        C.incremental_update(0x1234, b"\1\2\3", b"\1\2\4")       # odd length
    with pytest.raises(ValueError):
        C.incremental_update(0x1234, b"\1\2", b"\1\2\3\4")       # length mismatch


def test_udp_rules():
    assert C.incremental_update(0, 0x1111, 0x2222, udp=True) == 0      # no checksum stays none
    # choose m' so that the result is 0: it must come out as 0xffff
    hc, m = 0x8001, 0x1234
    for mp in range(65536):
        if C.incremental_update(hc, m, mp) == 0:
            break
    assert C.incremental_update(hc, m, mp, udp=True) == 0xFFFF


def _l4_field_off(proto):
    return {6: 16, 17: 6, 1: 2, 58: 2}[proto]


def _full_l4(ip, v6, proto, raw):
    if proto == 6:
        return C.tcp_checksum(ip.src, ip.dst, raw)
    if proto == 17:
        return C.udp_checksum(ip.src, ip.dst, raw)
    if proto == 1:
        return C.icmp_checksum(raw)
    return C.icmpv6_checksum(ip.src, ip.dst, raw)


@settings(max_examples=400, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), v6=st.booleans(), proto_i=st.integers(0, 2),
       kind=st.sampled_from(["l4word", "saddr", "daddr", "ttl"]), data=st.data())
def test_incremental_equals_recompute(seed, v6, proto_i, kind, data):
    rng = random.Random(seed)
    proto = ((6, 17, 58) if v6 else (6, 17, 1))[proto_i]
    ip = rand_ip(rng, v6, proto, max_payload=rng.choice((0, 1, 7, 64, 301)))
    raw = bytearray(bytes(ip.data))
    foff = _l4_field_off(proto)
    l4sum = struct.unpack_from(">H", raw, foff)[0]
    udp = proto == 17
    if kind == "l4word":
        # any aligned 16-bit word of the L4 header except the checksum itself
        hdr_words = [o for o in range(0, min(len(raw), 20) - 1, 2) if o != foff]
        off = data.draw(st.sampled_from(hdr_words))
        old = struct.unpack_from(">H", raw, off)[0]
        new = data.draw(st.integers(0, 0xFFFF))
        raw[off:off + 2] = struct.pack(">H", new)
        if udp and off == 4:
            return          # the UDP length is also in the pseudo-header: not a 1-field change
        got = C.incremental_update(l4sum, old, new, udp=udp)
        struct.pack_into(">H", raw, foff, 0)
        assert got == _full_l4(ip, v6, proto, bytes(raw))
    elif kind in ("saddr", "daddr"):
        # NAT address rewrite: the IPv4 header sum and the pseudo-header-based
        # L4 sum both change (ICMP over IPv4 has no pseudo-header).
        new = data.draw(st.binary(min_size=16 if v6 else 4, max_size=16 if v6 else 4))
        old = getattr(ip, "src" if kind == "saddr" else "dst")
        setattr(ip, "src" if kind == "saddr" else "dst", new)
        if proto == 1:
            assert _full_l4(ip, v6, proto, bytes(raw)) == l4sum
        else:
            got = C.incremental_update(l4sum, old, new, udp=udp)
            assert got == _full_l4(ip, v6, proto, bytes(raw))
        if not v6:
            hdr = bytearray(bytes(ip.pack_hdr()) + bytes(ip.opts))
            # hdr now has the new address but the old checksum
            old_hc = struct.unpack_from(">H", hdr, 10)[0]
            got_hc = C.incremental_update(old_hc, old, new)
            assert got_hc == C.ipv4_header_checksum(bytes(hdr))
    else:
        # TTL decrement / rewrite: the TTL shares a 16-bit word with the protocol
        if v6:
            return
        hdr = bytearray(bytes(ip.pack_hdr()) + bytes(ip.opts))
        old_word = struct.unpack_from(">H", hdr, 8)[0]
        new_ttl = data.draw(st.integers(0, 255))
        hdr[8] = new_ttl
        new_word = struct.unpack_from(">H", hdr, 8)[0]
        old_hc = struct.unpack_from(">H", hdr, 10)[0]
        assert C.incremental_update(old_hc, old_word, new_word) == C.ipv4_header_checksum(bytes(hdr))


def test_ipv6_address_nat_many():
    rng = random.Random(66)
    for _ in range(200):
        ip = rand_ip(rng, True, rng.choice((6, 17, 58)), max_payload=200)
        proto = ip.nxt
        raw = bytes(ip.data)
        foff = _l4_field_off(proto)
        l4sum = struct.unpack_from(">H", raw, foff)[0]
        new = rng.randbytes(16)
        old, ip.src = ip.src, new
        got = C.incremental_update(l4sum, old, new, udp=proto == 17)
        want = _full_l4(ip, True, proto, raw)
        assert got == want
