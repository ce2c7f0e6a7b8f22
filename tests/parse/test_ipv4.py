"""IPv4: fields against dpkt; ip_rcv_core statuses in the kernel's order."""
import struct

import numpy as np
import pytest

from pystack.vocab import reason_code
from tests.parse import oracle as O

IP_INHDR = reason_code("IP_INHDR")
PKT_TOO_SMALL = reason_code("PKT_TOO_SMALL")
HDR_TRUNC = reason_code("HDR_TRUNC")


def test_fields_match_dpkt():
    pkts = [
        O.eth(O.ipv4(O.tcp(data=b"x" * 100), tos=0xB8, ttl=3, id_=0xFFFF, off=0)),
        O.eth(O.ipv4(O.udp(data=b"y" * 7), src=b"\xff\xff\xff\xff", dst=b"\0\0\0\0")),
        O.eth(O.ipv4(O.icmp())),
        O.eth(O.ipv4(raw_payload=b"\x00" * 24, p=47)),            # GRE: no L4 parse
        O.eth(O.ipv4(O.tcp(), off=0x8000)),                     # reserved flag bit
    ]
    cols = O.assert_oracle(pkts)
    assert cols["saddr4"][0] == 0x0A000001 and cols["daddr4"][0] == 0xC0A80709
    assert bytes(cols["saddr"][0]) == b"\0" * 10 + b"\xff\xff\x0a\x00\x00\x01"
    assert cols["pay_off"][3] == 34 and cols["payload_len"][3] == 24
    assert cols["ip_frag"][4] == 0x8000          # reserved bit kept, not a fragment
    assert not cols["flags"][4] & O.PF_FRAG


def test_ip_options_flagged_and_skipped():
    rr = b"\x07\x07\x04" + b"\0" * 4                     # record route
    pkts = [O.eth(O.ipv4(O.tcp(), opts=rr)), O.eth(O.ipv4(O.udp(), opts=b"\x94\x04\0\0" * 10))]
    cols = O.assert_oracle(pkts)
    assert cols["flags"][0] & O.PF_IP_OPTS and cols["l4_off"][0] == 14 + 28
    assert cols["l4_off"][1] == 14 + 60


def test_ethernet_padding_trimmed():
    ip = O.ipv4(O.tcp(flags=0x10))                        # 40 bytes
    frame = O.eth(ip) + b"\xAA" * 6                       # padded to 60
    r = O.parse_one(frame)
    assert r["status"] == 0 and r["l4_len"] == 20 and r["payload_len"] == 0
    u = O.eth(O.ipv4(O.udp(data=b"")))                    # 28-byte datagram
    r = O.parse_one(u + b"\0" * 18)
    assert r["status"] == 0 and r["l4_len"] == 8 and r["payload_len"] == 0


def test_fragments():
    data = bytes(O.tcp(data=b"z" * 40))
    first = O.eth(O.ipv4(raw_payload=data[:24], p=6, off=0x2000))        # MF, offset 0
    later = O.eth(O.ipv4(raw_payload=data[24:], p=6, off=3))             # offset 24
    last_df = O.eth(O.ipv4(raw_payload=b"q" * 16, p=17, off=0x4000 | 0x2000 | 100))
    cols = O.parse([first, later, last_df])
    f = cols["flags"]
    assert f[0] & O.PF_FRAG and not f[0] & O.PF_FRAG_LATER
    assert cols["sport"][0] == 40000 and cols["status"][0] == 0 and f[0] & O.PF_L4
    assert f[1] & O.PF_FRAG_LATER and cols["sport"][1] == 0 and cols["tcp_seq"][1] == 0
    assert cols["pay_off"][1] == 34 and cols["payload_len"][1] == 36
    assert cols["ip_frag"][2] == 0x6064 and f[2] & O.PF_FRAG_LATER
    O.check(cols, 1, O.expected(later))


def test_fragment_skips_l4_status():
    # First fragment of a UDP datagram: ulen covers the whole datagram, which is
    # longer than this fragment; the kernel checks ulen only after reassembly.
    u = bytes(O.udp(data=b"d" * 100))
    r = O.parse_one(O.eth(O.ipv4(raw_payload=u[:48], p=17, off=0x2000)))
    assert r["status"] == 0 and r["payload_len"] == 100 and r["flags"] & O.PF_FRAG
    # a first fragment holding only 12 bytes of a TCP header: no NOT_SPECIFIED
    t = bytes(O.tcp())
    r = O.parse_one(O.eth(O.ipv4(raw_payload=t[:12], p=6, off=0x2000)))
    assert r["status"] == 0 and r["sport"] == 40000


# --- ip_rcv_core checks, in order ---------------------------------------------

def test_short_datagram_ip_inhdr():
    for n in range(20):
        r = O.parse_one(O.eth(O.ipv4(O.tcp())[:n]))
        assert r["status"] == IP_INHDR and r["flags"] & O.PF_IPV4, n


def test_bad_version_and_ihl():
    ip = bytearray(O.ipv4(O.tcp()))
    ip[0] = 0x65
    assert O.parse_one(O.eth(bytes(ip)))["status"] == IP_INHDR
    for ihl in range(5):
        ip[0] = 0x40 | ihl
        r = O.parse_one(O.eth(bytes(ip)))
        assert r["status"] == IP_INHDR and r["ip_ver"] == 4


def test_cannot_pull_ihl():
    ip = bytearray(O.ipv4(O.tcp()))               # 40 bytes
    ip[0] = 0x4F                                  # 60-byte header claimed
    r = O.parse_one(O.eth(bytes(ip)))
    assert r["status"] == IP_INHDR


def test_tot_len_beyond_wire_pkt_too_small():
    ip = O.ipv4(O.tcp(), tot_len=41)
    r = O.parse_one(O.eth(ip))
    assert r["status"] == PKT_TOO_SMALL and r["ip_len"] == 41 and r["sport"] == 0


def test_tot_len_below_ihl():
    for tl in (0, 19):
        r = O.parse_one(O.eth(O.ipv4(O.tcp(), tot_len=tl)))
        assert r["status"] == IP_INHDR


def test_check_order_version_before_length():
    # version 6 in an IPv4 ethertype with tot_len beyond the frame: version wins
    ip = bytearray(O.ipv4(O.tcp(), tot_len=1000))
    ip[0] = 0x65
    assert O.parse_one(O.eth(bytes(ip)))["status"] == IP_INHDR


def test_status_uses_wire_length_not_caplen():
    # snaplen cut: tot_len > caplen but <= wirelen -> fine, PF_TRUNCATED
    frame = O.eth(O.ipv4(O.tcp(data=b"p" * 500)))
    r = O.parse_one(frame[:54], wirelen=len(frame))
    assert r["status"] == 0 and r["flags"] & O.PF_TRUNCATED and r["payload_len"] == 500


def test_ip_header_not_captured_is_hdr_trunc():
    frame = O.eth(O.ipv4(O.tcp()))
    r = O.parse_one(frame[:20], wirelen=len(frame))
    assert r["status"] == HDR_TRUNC and r["flags"] & O.PF_TRUNCATED and r["ip_ver"] == 4


def test_big_tcp_tot_len_zero():
    ip = O.ipv4(O.tcp(flags=0x10, data=b"b" * 70000), tot_len=0)
    r = O.parse_one(ip, 228)
    assert r["status"] == 0 and r["ip_len"] == len(ip) and r["payload_len"] == 70000
    # but tot_len 0 on a normal-sized datagram is a header error
    assert O.parse_one(O.ipv4(O.tcp(), tot_len=0), 228)["status"] == IP_INHDR


def test_many_rows_reuse_no_stale_values():
    from pystack._core.capture import RecordBatch
    from pystack._core.parse import PacketColumns, parse_batch
    sack = b"\x01\x01\x05\x0a" + struct.pack("!II", 5, 6)
    rich = [O.eth(O.ipv4(O.tcp(opts=b"\x02\x04\x05\xb4\x03\x03\x07" + sack))),
            O.eth(O.ipv4(O.icmp_error(3, 3, O.ipv4(O.udp())[:28]))),
            O.eth(O.ipv6(O.tcp()), 0x86DD, vlans=[9, 10])]
    plain = [O.eth(b"\0" * 28, ethertype=0x0806), O.eth(O.ipv4(O.tcp())), b"", O.eth(O.ipv4(O.udp()))]
    cols = PacketColumns(8)
    parse_batch(RecordBatch.from_packets(rich * 2 + rich[:2]), cols)
    n = parse_batch(RecordBatch.from_packets(plain * 2), cols)
    fresh = O.parse(plain * 2)
    for k, v in cols.to_dict().items():
        assert n == 8 and np.array_equal(v, fresh[k]), k


def test_capacity_error():
    from pystack._core.capture import RecordBatch
    from pystack._core.parse import PacketColumns, parse_batch
    with pytest.raises(ValueError):
        parse_batch(RecordBatch.from_packets([b"x"] * 3), PacketColumns(2))
