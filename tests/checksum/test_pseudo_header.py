"""TCP/UDP/ICMPv6 checksums with the IPv4/IPv6 pseudo-header, against dpkt."""
import ipaddress
import random
import struct

import pytest

from pystack._core import checksum as C
from tests.checksum import rand_ip, ref_sum


@pytest.mark.parametrize("v6", [False, True])
@pytest.mark.parametrize("proto", [6, 17])
def test_tcp_udp_against_dpkt(v6, proto):
    rng = random.Random(proto * 2 + v6)
    fn = C.tcp_checksum if proto == 6 else C.udp_checksum
    for _ in range(250):
        ip = rand_ip(rng, v6, proto)
        raw = bytes(ip.data)
        want = ip.data.sum
        if want == 0 and proto == 17:   # dpkt's IPv6 path does not apply RFC 768's 0 -> 0xffff
            want = 0xFFFF
        assert fn(ip.src, ip.dst, raw) == want, (len(raw), v6)
        # with the correct field in place the region verifies
        plen = len(raw)
        if v6:
            pseudo = ip.src + ip.dst + struct.pack(">IxxxB", plen, proto)
        else:
            pseudo = ip.src + ip.dst + struct.pack(">xBH", proto, plen)
        assert C.internet_checksum(pseudo + raw) == 0


def test_icmpv6_against_dpkt():
    rng = random.Random(58)
    for _ in range(250):
        ip = rand_ip(rng, True, 58)
        assert C.icmpv6_checksum(ip.src, ip.dst, bytes(ip.data)) == ip.data.sum


def test_field_in_segment_is_ignored():
    rng = random.Random(3)
    ip = rand_ip(rng, False, 6)
    raw = bytearray(bytes(ip.data))
    want = ip.data.sum
    for junk in (0, 1, 0xFFFF, 0x1234):
        raw[16:18] = struct.pack(">H", junk)
        assert C.tcp_checksum(ip.src, ip.dst, raw) == want


def test_address_forms():
    rng = random.Random(4)
    ip4 = rand_ip(rng, False, 17)
    ip6 = rand_ip(rng, True, 6)
    s4, d4 = ipaddress.IPv4Address(ip4.src), ipaddress.IPv4Address(ip4.dst)
    s6, d6 = ipaddress.IPv6Address(ip6.src), ipaddress.IPv6Address(ip6.dst)
    want4 = C.udp_checksum(ip4.src, ip4.dst, bytes(ip4.data))
    assert C.udp_checksum(s4, d4, bytes(ip4.data)) == want4
    assert C.udp_checksum(str(s4), str(d4), bytes(ip4.data)) == want4
    assert C.udp_checksum(bytearray(ip4.src), memoryview(ip4.dst), bytes(ip4.data)) == want4
    want6 = C.tcp_checksum(ip6.src, ip6.dst, bytes(ip6.data))
    assert C.tcp_checksum(str(s6), d6, bytes(ip6.data)) == want6
    with pytest.raises(ValueError):
        C.tcp_checksum(ip4.src, ip6.dst, bytes(ip6.data))     # mixed families
    with pytest.raises(ValueError):
        C.tcp_checksum(b"\1\2\3", ip4.dst, bytes(ip6.data))   # 3-byte address
    with pytest.raises(ValueError):
        C.icmpv6_checksum(ip4.src, ip4.dst, b"\x80\0\0\0")    # ICMPv6 needs IPv6
    with pytest.raises(ValueError):
        C.tcp_checksum(ip4.src, ip4.dst, b"\0" * 17)          # no room for the field


def _force_zero_udp(src, dst, payload_len, v6):
    """A UDP datagram whose checksum computes to 0 (sent as 0xffff)."""
    body = bytearray(struct.pack(">HHHH", 1234, 53, 8 + payload_len, 0) + b"\x5a" * payload_len)
    # the last payload word is a free variable: make the total sum -0
    body[-2:] = b"\0\0"
    c = C.udp_checksum(src, dst, bytes(body))
    body[-2:] = struct.pack(">H", c)
    return bytes(body)


@pytest.mark.parametrize("v6", [False, True])
def test_udp_zero_is_sent_as_ffff(v6):
    src = bytes(range(16)) if v6 else b"\xc0\x00\x02\x01"
    dst = bytes(range(16, 32)) if v6 else b"\xc6\x33\x64\x07"
    dgram = _force_zero_udp(src, dst, 10, v6)
    assert C.udp_checksum(src, dst, dgram) == 0xFFFF
    # 0xffff in the field verifies (it is -0)
    plen = len(dgram)
    pseudo = (src + dst + struct.pack(">IxxxB", plen, 17)) if v6 else (src + dst + struct.pack(">xBH", 17, plen))
    final = dgram[:6] + b"\xff\xff" + dgram[8:]
    assert ref_sum(pseudo + final) == 0xFFFF


def test_tcp_odd_lengths_and_options():
    rng = random.Random(5)
    seen_odd = seen_opts = 0
    for _ in range(300):
        ip = rand_ip(rng, rng.random() < 0.5, 6, max_payload=101)
        raw = bytes(ip.data)
        seen_odd += len(raw) % 2
        seen_opts += ip.data.off > 5
        assert C.tcp_checksum(ip.src, ip.dst, raw) == ip.data.sum
    assert seen_odd > 50 and seen_opts > 100
