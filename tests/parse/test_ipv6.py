"""IPv6: fields and extension headers against dpkt; ip6_rcv_core statuses."""
import socket
import struct

import pytest

from pystack.vocab import reason_code
from tests.parse import oracle as O

IP_INHDR = reason_code("IP_INHDR")
PKT_TOO_SMALL = reason_code("PKT_TOO_SMALL")
BAD_EXTHDR = reason_code("IPV6_BAD_EXTHDR")
UNHANDLED = reason_code("UNHANDLED_PROTO")

T = bytes(O.tcp(sport=443, dport=5555, flags=0x18, data=b"abc"))
U = bytes(O.udp(data=b"dns"))


def e6(pkt):
    return O.eth(pkt, 0x86DD)


def test_plain_fields():
    pkts = [e6(O.ipv6(O.tcp(), tc=0xB8, flow=0xABCDE, hlim=1)), e6(O.ipv6(O.udp())),
            e6(O.ipv6(O.icmp6())), e6(O.ipv6(raw_payload=b"", nxt=59))]
    cols = O.assert_oracle(pkts)
    assert cols["ip_tos"][0] == 0xB8 and cols["ip_ttl"][0] == 1
    assert cols["saddr4"][0] == 0 and bytes(cols["saddr"][0]) == O.V6_A
    assert cols["ip_proto"][3] == 59 and cols["l4_len"][3] == 0


@pytest.mark.parametrize("chain", [
    [(0, "opts")], [(43, "rt")], [(60, "opts")], [(51, "ah")],
    [(0, "opts"), (60, "opts"), (43, "rt"), (51, "ah"), (60, "opts")],
])
@pytest.mark.parametrize("l4,proto", [(T, 6), (U, 17)])
def test_extension_headers(chain, l4, proto):
    body = b""
    types = [t for t, _ in chain]
    for k, (t, kind) in enumerate(chain):
        nxt = types[k + 1] if k + 1 < len(types) else proto
        content = b"\x00\x00" + b"\x00" * 4 if kind == "rt" else (b"\x00" * 12 if kind == "ah" else b"")
        body += O.ext(nxt, content, "ah" if kind == "ah" else "opts")
    pkt = e6(O.ipv6(raw_payload=l4, exts=body, first=types[0], nxt=proto))
    cols = O.assert_oracle([pkt])
    assert cols["flags"][0] & O.PF_IPV6_EXT and cols["ip_proto"][0] == proto
    assert cols["l4_off"][0] == 14 + 40 + len(body)


def test_long_options_header():
    body = O.ext(6, b"\x01\x14" + b"\0" * 20)          # PadN 22: 3 units
    pkt = e6(O.ipv6(raw_payload=T, exts=body, first=60, nxt=6))
    O.assert_oracle([pkt])


def test_fragment_header():
    first = e6(O.ipv6(raw_payload=T[:16], exts=O.frag6(6, 0, 1, 0x01020304), first=44, nxt=6))
    later = e6(O.ipv6(raw_payload=T[16:], exts=O.frag6(6, 2, 0, 0x01020304), first=44, nxt=6))
    cols = O.parse([first, later])
    f = cols["flags"]
    assert f[0] & O.PF_FRAG and not f[0] & O.PF_FRAG_LATER and f[0] & O.PF_IPV6_EXT
    assert cols["ip_id"][0] == 0x01020304 and cols["ip_frag"][0] == 0x2000
    assert cols["sport"][0] == 443 and cols["status"][0] == 0
    assert f[1] & O.PF_FRAG_LATER and cols["ip_frag"][1] == 2 and cols["sport"][1] == 0
    assert cols["ip_proto"][1] == 6 and cols["l4_off"][1] == 14 + 48
    O.check(cols, 1, O.expected(later))
    whole = e6(O.ipv6(raw_payload=T, exts=O.frag6(6, 0, 0, 7), first=44, nxt=6))
    O.assert_oracle([whole])                 # atomic fragment, then TCP


def test_hop_by_hop_not_first_is_upper_layer():
    body = O.ext(0, b"", "opts") + O.ext(6)
    r = O.parse_one(e6(O.ipv6(raw_payload=body + T, exts=b"", first=60, nxt=60)))
    assert r["status"] == 0 and r["ip_proto"] == 0 and r["l4_off"] == 14 + 48
    assert r["sport"] == 0


def test_esp_is_upper_layer():
    r = O.parse_one(e6(O.ipv6(raw_payload=b"\0" * 24, nxt=50)))
    assert r["status"] == 0 and r["ip_proto"] == 50 and r["pay_off"] == 54


# --- statuses ---------------------------------------------------------------------

def test_short_ip_inhdr():
    pkt = O.ipv6(O.tcp())
    for n in (0, 1, 20, 39):
        assert O.parse_one(e6(pkt[:n]))["status"] == IP_INHDR


def test_version_not_6_unhandled_proto():
    # ip6_rcv_core: SKB_DR_SET(reason, UNHANDLED_PROTO) for version != 6
    pkt = bytearray(O.ipv6(O.tcp()))
    pkt[0] = 0x45
    r = O.parse_one(e6(bytes(pkt)))
    assert r["status"] == UNHANDLED and r["ip_ver"] == 4
    assert O.parse_one(bytes(pkt), 229)["status"] == UNHANDLED


def test_payload_len_beyond_wire():
    r = O.parse_one(e6(O.ipv6(O.tcp(), plen=len(T) + 100)))
    assert r["status"] == PKT_TOO_SMALL
    # padding after the datagram is fine and trimmed
    r = O.parse_one(e6(O.ipv6(O.udp(data=b""))) + b"\0" * 10)
    assert r["status"] == 0 and r["l4_len"] == 8


@pytest.mark.parametrize("first,body", [
    (60, O.ext(6, b"\0" * 14)[:10]),                 # hdrlen says 16, datagram ends first
    (43, b"\x06\x05" + b"\0" * 6),                   # routing header of 48 bytes
    (44, b"\x06\x00\x00"),                           # fragment header < 8 bytes
    (51, b"\x06\x09" + b"\0" * 6),                   # AH of 44 bytes
    (0, b"\x06\x00\x01\x02"),                        # < 8 bytes
])
def test_bad_extension_header(first, body):
    r = O.parse_one(e6(O.ipv6(raw_payload=b"", exts=body, first=first, nxt=6)))
    assert r["status"] == BAD_EXTHDR


def test_bad_ext_after_good_one():
    body = O.ext(60) + b"\x06\x03" + b"\0" * 6
    r = O.parse_one(e6(O.ipv6(raw_payload=b"", exts=body, first=0, nxt=6)))
    assert r["status"] == BAD_EXTHDR


def test_address_checks():
    lo = socket.inet_pton(socket.AF_INET6, "::1")
    mc_if = socket.inet_pton(socket.AF_INET6, "ff01::1")
    mc_0 = socket.inet_pton(socket.AF_INET6, "ff00::1")
    mc_link = socket.inet_pton(socket.AF_INET6, "ff02::1")
    assert O.parse_one(e6(O.ipv6(O.udp(), dst=lo)))["status"] == IP_INHDR
    assert O.parse_one(e6(O.ipv6(O.udp(), src=lo)))["status"] == IP_INHDR
    assert O.parse_one(e6(O.ipv6(O.udp(), dst=mc_if)))["status"] == IP_INHDR
    assert O.parse_one(e6(O.ipv6(O.udp(), dst=mc_0)))["status"] == IP_INHDR
    assert O.parse_one(e6(O.ipv6(O.udp(), src=mc_link)))["status"] == IP_INHDR
    assert O.parse_one(e6(O.ipv6(O.udp(), dst=mc_link)))["status"] == 0
    # on a loopback device ::1 and ff01:: are fine (NULL/LOOP, SLL with ARPHRD_LOOPBACK)
    assert O.parse_one(O.null(O.ipv6(O.udp(), src=lo, dst=lo), 24), 0)["status"] == 0
    assert O.parse_one(O.sll(O.ipv6(O.udp(), dst=lo), 0x86DD, hatype=772), 113)["status"] == 0
    assert O.parse_one(O.sll2(O.ipv6(O.udp(), dst=mc_if), 0x86DD, hatype=772), 276)["status"] == 0


def jumbo_hbh(value, nxt=6, optlen=4, pad_before=0):
    opts = b"\x00" * pad_before + bytes([0xC2, optlen]) + struct.pack("!I", value)[:optlen]
    return O.ext(nxt, opts)


def test_jumbogram():
    big = bytes(O.tcp(flags=0x10, data=b"j" * 70000))
    pkt = O.ipv6(raw_payload=big, exts=jumbo_hbh(8 + len(big)), first=0, nxt=6, plen=0)
    r = O.parse_one(pkt, 229)
    assert r["status"] == 0 and r["payload_len"] == 70000 and r["ip_len"] == len(pkt)
    # jumbo value beyond the packet -> PKT_TOO_SMALL (InTruncatedPkts)
    pkt = O.ipv6(raw_payload=big, exts=jumbo_hbh(8 + len(big) + 1), first=0, nxt=6, plen=0)
    assert O.parse_one(pkt, 229)["status"] == PKT_TOO_SMALL
    # jumbo <= 65535, or with a non-zero payload_len, or misaligned -> IP_INHDR
    pkt = O.ipv6(raw_payload=T, exts=jumbo_hbh(1000), first=0, nxt=6, plen=0)
    assert O.parse_one(pkt, 229)["status"] == IP_INHDR
    pkt = O.ipv6(raw_payload=T, exts=jumbo_hbh(70000), first=0, nxt=6)
    assert O.parse_one(pkt, 229)["status"] == IP_INHDR
    pkt = O.ipv6(raw_payload=big, exts=O.ext(6, b"\x00" + bytes([0xC2, 4]) +
                 struct.pack("!I", 8 + len(big)) + b"\x00"), first=0, nxt=6, plen=0)
    assert O.parse_one(pkt, 229)["status"] == IP_INHDR


def test_big_tcp_payload_len_zero():
    big = bytes(O.tcp(flags=0x10, data=b"g" * 70000))
    r = O.parse_one(O.ipv6(raw_payload=big, nxt=6, plen=0), 229)
    assert r["status"] == 0 and r["payload_len"] == 70000
