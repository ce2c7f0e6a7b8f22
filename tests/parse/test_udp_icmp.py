"""UDP (__udp4_lib_rcv / __udp6_lib_rcv length rules), ICMP and ICMPv6,
including the inner header of error messages, against dpkt."""
import struct

import pytest

from pystack.vocab import reason_code
from tests.parse import oracle as O

PKT_TOO_SMALL = reason_code("PKT_TOO_SMALL")
NOT_SPECIFIED = reason_code("NOT_SPECIFIED")


def e4(l4, **kw):
    return O.eth(O.ipv4(l4, **kw))


def e6(l4, **kw):
    return O.eth(O.ipv6(l4, **kw), 0x86DD)


def test_udp_fields():
    cols = O.assert_oracle([e4(O.udp(data=b"q" * 300)), e4(O.udp(data=b"")),
                            e6(O.udp(sport=0, dport=65535, data=b"r" * 9))])
    assert cols["payload_len"][0] == 300 and cols["pay_off"][0] == 42
    assert cols["payload_len"][1] == 0


def test_udp_ulen_shorter_than_ip_is_trimmed():
    # ulen < IP payload: pskb_trim_rcsum to ulen, payload per ulen
    r = O.parse_one(e4(None, p=17, raw_payload=bytes(O.udp(data=b"abcdef", ulen=10))))
    assert r["status"] == 0 and r["payload_len"] == 2 and r["l4_len"] == 14


@pytest.mark.parametrize("ulen", [0, 7, 15, 65535])
def test_udp_bad_ulen_v4(ulen):
    r = O.parse_one(e4(O.udp(data=b"abcdef", ulen=ulen)))       # datagram is 14 bytes
    assert r["status"] == PKT_TOO_SMALL


def test_udp_v6_ulen_zero_is_jumbo():
    r = O.parse_one(e6(O.udp(data=b"abcdef", ulen=0)))
    assert r["status"] == 0 and r["payload_len"] == 6
    assert O.parse_one(e6(O.udp(data=b"abcdef", ulen=7)))["status"] == PKT_TOO_SMALL
    assert O.parse_one(e6(O.udp(data=b"abcdef", ulen=15)))["status"] == PKT_TOO_SMALL


def test_udp_short_header_not_specified():
    u = bytes(O.udp())
    for n in range(8):
        assert O.parse_one(e4(None, p=17, raw_payload=u[:n]))["status"] == NOT_SPECIFIED
        assert O.parse_one(e6(None, nxt=17, raw_payload=u[:n]))["status"] == NOT_SPECIFIED


def test_icmp_echo_and_types():
    pkts = [e4(O.icmp(8)), e4(O.icmp(0)),
            e4(O.icmp(13, data=b"\x00\x05\x00\x06" + b"\0" * 12)),     # timestamp: id/seq
            e4(O.icmp(9, data=b"\x01\x00\x00\x00" + b"\0" * 8)),       # router advert
            e6(O.icmp6(128)), e6(O.icmp6(129)),
            e6(O.icmp6(135, data=b"\0" * 4 + O.V6_B))]                  # neighbour solicit
    cols = O.assert_oracle(pkts)
    assert cols["sport"][0] == 0x1234 and cols["dport"][0] == 7
    assert cols["sport"][2] == 5 and cols["dport"][2] == 6
    assert cols["sport"][3] == 0 and cols["icmp_type"][3] == 9
    assert cols["sport"][4] == 0x4321 and cols["dport"][4] == 9
    assert cols["icmp_type"][6] == 135 and cols["sport"][6] == 0


INNER_UDP4 = O.ipv4(O.udp(sport=1111, dport=53), src=O.V4_B, dst=O.V4_A)
INNER_TCP4 = O.ipv4(O.tcp(sport=2222, dport=443), src=O.V4_B, dst=O.V4_A)
INNER_ICMP4 = O.ipv4(O.icmp(8), src=O.V4_B, dst=O.V4_A)


@pytest.mark.parametrize("type_,code", [(3, 3), (3, 4), (4, 0), (5, 1), (11, 0), (12, 0)])
def test_icmp_errors_inner(type_, code):
    pkts = [e4(O.icmp_error(type_, code, INNER_UDP4[:28])),
            e4(O.icmp_error(type_, code, INNER_TCP4[:28])),
            e4(O.icmp_error(type_, code, INNER_TCP4)),
            e4(O.icmp_error(type_, code, INNER_ICMP4[:28]))]
    cols = O.assert_oracle(pkts)
    assert (cols["flags"] & O.PF_ICMP_INNER).all()
    assert list(cols["in_proto"]) == [17, 6, 6, 1]
    assert list(cols["in_sport"]) == [1111, 2222, 2222, 0x1234]
    assert list(cols["in_dport"]) == [53, 443, 443, 7]
    assert bytes(cols["in_saddr"][0]) == O.mapped(O.V4_B)


def test_icmp_inner_with_options():
    inner = O.ipv4(O.udp(sport=9, dport=10), opts=b"\x94\x04\x00\x00")
    r = O.parse_one(e4(O.icmp_error(3, 3, inner[:32])))
    assert r["flags"] & O.PF_ICMP_INNER and r["in_sport"] == 9
    O.assert_oracle([e4(O.icmp_error(3, 3, inner[:32]))])


def test_icmp_inner_incomplete():
    for n in (0, 19, 20, 27):
        r = O.parse_one(e4(O.icmp_error(3, 1, INNER_UDP4[:n])))
        assert r["status"] == 0 and not r["flags"] & O.PF_ICMP_INNER, n
        assert r["in_proto"] == 0 and r["in_sport"] == 0 and bytes(r["in_saddr"]) == b"\0" * 16
    # inner of the wrong IP version
    r = O.parse_one(e4(O.icmp_error(3, 1, O.ipv6(O.udp())[:48])))
    assert not r["flags"] & O.PF_ICMP_INNER
    # quoted bytes captured only partly
    f = e4(O.icmp_error(3, 1, INNER_UDP4[:28]))
    r = O.parse_one(f[:len(f) - 1], wirelen=len(f))
    assert r["status"] == 0 and not r["flags"] & O.PF_ICMP_INNER


def test_icmp_inner_later_fragment_no_ports():
    inner = O.ipv4(raw_payload=b"\x01\x02\x03\x04\x05\x06\x07\x08", p=17, off=10)
    r = O.parse_one(e4(O.icmp_error(11, 1, inner)))
    assert r["flags"] & O.PF_ICMP_INNER and r["in_proto"] == 17 and r["in_sport"] == 0


INNER_UDP6 = O.ipv6(O.udp(sport=3333, dport=4444), src=O.V6_B, dst=O.V6_A)
INNER_TCP6_EXT = O.ipv6(raw_payload=bytes(O.tcp(sport=5, dport=6)), exts=O.ext(6), first=60, nxt=6)


@pytest.mark.parametrize("type_", [1, 2, 3, 4])
def test_icmp6_errors_inner(type_):
    pkts = [e6(O.icmp6_error(type_, 0, INNER_UDP6[:48])),
            e6(O.icmp6_error(type_, 0, INNER_TCP6_EXT[:64])),
            e6(O.icmp6_error(type_, 0, O.ipv6(O.icmp6(128))))]
    cols = O.assert_oracle(pkts)
    assert (cols["flags"] & O.PF_ICMP_INNER).all()
    assert list(cols["in_proto"]) == [17, 6, 58]
    assert list(cols["in_sport"]) == [3333, 5, 0x4321]
    assert bytes(cols["in_saddr"][0]) == O.V6_B


def test_icmp6_inner_incomplete():
    for n in (0, 40, 47):
        r = O.parse_one(e6(O.icmp6_error(1, 4, INNER_UDP6[:n])))
        assert r["status"] == 0 and not r["flags"] & O.PF_ICMP_INNER


def test_icmp_short_not_specified():
    m = bytes(O.icmp())
    for n in range(8):
        r = O.parse_one(e4(None, p=1, raw_payload=m[:n]))
        assert r["status"] == NOT_SPECIFIED, n
        r = O.parse_one(e6(None, nxt=58, raw_payload=m[:n]))
        assert r["status"] == NOT_SPECIFIED, n
    assert O.parse_one(e4(None, p=1, raw_payload=m[:2]))["icmp_type"] == 8


def test_icmp_in_wrong_family_not_parsed():
    r = O.parse_one(e6(None, nxt=1, raw_payload=bytes(O.icmp())))
    assert r["status"] == 0 and r["icmp_type"] == 0 and r["pay_off"] == 54
    r = O.parse_one(e4(None, p=58, raw_payload=bytes(O.icmp6())))
    assert r["status"] == 0 and r["icmp_type"] == 0


def test_udp_header_cut_by_the_datagram_has_no_payload_offset():
    u = bytes(O.udp(data=b"abcdef"))
    for n in (6, 7):
        f = O.eth(O.ipv4(raw_payload=u[:n], p=17))
        r = O.parse_one(f)
        assert r["status"] == NOT_SPECIFIED and r["pay_off"] == 0 and r["payload_len"] == 0
        assert r["sport"] == 5353
