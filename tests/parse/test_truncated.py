"""Truncated captures (caplen < wirelen): decisions on the wire length, reads
on the captured bytes.  Every packet is cut at every length and compared with
the parse of the whole packet."""
import struct

import numpy as np
import pytest

from pystack.vocab import reason_code
from tests.parse import oracle as O

HDR_TRUNC = reason_code("HDR_TRUNC")

SACK = b"\x01\x01\x05\x12" + struct.pack("!IIII", 1, 2, 3, 4)
L3 = {
    "tcp4_opts": O.ipv4(O.tcp(opts=b"\x02\x04\x05\xb4\x01\x03\x03\x07" + SACK, data=b"P" * 30),
                        opts=b"\x94\x04\x00\x00"),
    "udp4": O.ipv4(O.udp(data=b"U" * 20)),
    "icmp4_err": O.ipv4(O.icmp_error(3, 3, O.ipv4(O.udp())[:28])),
    "tcp6_ext": O.ipv6(raw_payload=bytes(O.tcp(opts=b"\x08\x0a" + b"\1" * 8)),
                       exts=O.ext(43, b"", "opts") + O.ext(6, b"\0" * 6), first=0, nxt=6),
    "icmp6_err": O.ipv6(O.icmp6_error(1, 4, O.ipv6(O.udp())[:48])),
    "frag6": O.ipv6(raw_payload=bytes(O.udp()), exts=O.frag6(17, 0, 1), first=44, nxt=17),
}
LINKS = [(1, lambda l3: O.eth(l3, O.v6_of(l3), vlans=[3])), (113, None), (276, None),
         (101, None), (0, None), (108, None)]

L4_FIELDS = ["sport", "dport", "tcp_seq", "tcp_ack", "tcp_flags", "tcp_win", "tcp_doff",
             "tcp_mss", "tcp_wscale", "tcp_tsval", "tcp_tsecr", "tcp_nsack", "icmp_type",
             "icmp_code", "in_proto", "in_sport", "in_dport"]
LINK_FIELDS = ["ethertype", "vlan0", "vlan1", "pkt_type", "l3_off"]
IP_FIELDS = ["ip_ver", "ip_tos", "ip_ttl", "ip_id", "ip_frag", "ip_len", "saddr", "daddr",
             "saddr4", "daddr4"]


@pytest.mark.parametrize("lt,build", LINKS)
def test_every_cut(lt, build):
    frames = [(build or (lambda l3: O.wrap(l3, lt)))(l3) for l3 in L3.values()]
    for frame in frames:
        full = O.parse_one(frame, lt)
        assert full["status"] == 0
        cuts = list(range(len(frame)))
        cols = O.parse([frame[:n] for n in cuts], lt, wirelens=[len(frame)] * len(cuts))
        for n in cuts:
            r = O.row(cols, n)
            assert r["flags"] & O.PF_TRUNCATED
            for k in ("l3_off", "l4_off", "pay_off"):
                assert r[k] <= len(frame)
            if r["status"] != 0:
                # only the link header or the fixed IP header can be missing
                assert r["status"] == HDR_TRUNC, (n, r["status"])
                continue
            for k in LINK_FIELDS + IP_FIELDS + ["ip_proto", "l4_off", "l4_len"]:
                if (r["flags"] & O.PF_L4_PARTIAL and r["flags"] & O.PF_IPV6
                        and k in ("ip_proto", "l4_off", "l4_len", "ip_id", "ip_frag")):
                    assert r[k] in (0, full[k]) or k != "ip_id"
                    continue            # an IPv6 extension chain may be cut
                assert r[k] == full[k], (n, k)
            if r["flags"] & O.PF_L4:
                for k in L4_FIELDS + ["tcp_sack", "pay_off", "payload_len"]:
                    if k.startswith("in_") and not r["flags"] & O.PF_ICMP_INNER:
                        assert r[k] == 0     # the quoted header is optional
                        continue
                    assert r[k] == full[k], (n, k)
            else:
                assert r["flags"] & O.PF_L4_PARTIAL, n
                for k in L4_FIELDS:
                    assert r[k] in (0, full[k]), (n, k)
            # flags only ever lose bits (and gain TRUNCATED / L4_PARTIAL)
            extra = r["flags"] & ~full["flags"] & ~(O.PF_TRUNCATED | O.PF_L4_PARTIAL)
            assert extra == 0, (n, hex(extra))


def test_partial_tcp_fields_as_far_as_bytes_go():
    f = O.eth(O.ipv4(O.tcp(seq=0x11223344, ack=0x55667788, flags=0x18, win=0x99AA)))
    expect = {38: ("sport", 40000), 42: ("tcp_seq", 0x11223344), 46: ("tcp_ack", 0x55667788),
              48: ("tcp_flags", 0x18), 50: ("tcp_win", 0x99AA)}
    for cut, (k, v) in expect.items():
        r = O.parse_one(f[:cut], wirelen=len(f))
        assert r[k] == v and r["flags"] & O.PF_L4_PARTIAL and r["status"] == 0
        r = O.parse_one(f[:cut - 1], wirelen=len(f))
        assert r[k] == 0


def test_wire_short_is_not_partial():
    # the datagram itself ends inside the TCP header: a status, not PF_L4_PARTIAL
    ip = O.ipv4(raw_payload=bytes(O.tcp())[:10], p=6)
    r = O.parse_one(O.eth(ip))
    assert r["status"] == reason_code("NOT_SPECIFIED")
    assert not r["flags"] & (O.PF_L4_PARTIAL | O.PF_TRUNCATED)


def test_caplen_above_wirelen_treated_as_wire():
    f = O.eth(O.ipv4(O.tcp()))
    r = O.parse_one(f, wirelen=10)
    assert r["status"] == 0 and not r["flags"] & O.PF_TRUNCATED


def test_zero_length_records():
    cols = O.parse([b""] * 3, [1, 101, 228], wirelens=[0, 60, 60])
    # Ethernet / raw: no link header; IPV4 link type: no IP header captured
    # (the wire had 60 bytes) -> a capture artefact, HDR_TRUNC too
    assert list(cols["status"]) == [HDR_TRUNC, HDR_TRUNC, HDR_TRUNC]
    assert cols["flags"][1] & O.PF_TRUNCATED
    assert (cols["l4_off"] == 0).all() and (cols["pay_off"] == 0).all()


def test_record_outside_the_buffer_reads_nothing():
    from pystack._core.capture import RecordBatch
    from pystack._core.parse import PacketColumns, parse_batch
    f = O.eth(O.ipv4(O.tcp()))
    rb = RecordBatch.from_packets([f, f])
    rb.offset_arr[1] = 10 ** 9          # a reader bug: must not be followed
    rb.offset_arr[0] = -5
    cols = PacketColumns(2)
    parse_batch(rb, cols)
    assert list(cols.column("status")) == [HDR_TRUNC, HDR_TRUNC]
    assert (cols.column("flags") & O.PF_TRUNCATED).all()
