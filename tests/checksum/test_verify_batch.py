"""verify_batch: statuses and counts over whole batches (parsed by parse_batch,
plus one hand-filled batch that does not depend on the parser)."""
import random
import struct

import dpkt
import numpy as np
import pytest

from pystack import vocab
from pystack._core import checksum as C
from pystack._core.capture import RecordBatch
from pystack._core.parse import PacketColumns, parse_batch
from tests.checksum import eth, rand_ip, sll_outgoing

OK, BAD, ZERO, PARTIAL, TRUNC, UNCH = (vocab.csum_code(n) for n in (
    "OK", "BAD", "ZERO", "PARTIAL", "TRUNCATED", "UNCHECKED"))
DR = vocab.reason_code


def run(frames, wirelens=None, linktype=1):
    rb = RecordBatch.from_packets(frames, linktype=linktype, wirelens=wirelens)
    cols = PacketColumns(max(1, len(frames)))
    parse_batch(rb, cols)
    counts = C.verify_batch(rb, cols)
    return cols, counts


def col(cols, name):
    return cols.column(name)


def corrupt_l4_field(ip, delta=1):
    raw = bytearray(bytes(ip))
    l4 = len(raw) - len(bytes(ip.data))
    foff = {6: 16, 17: 6, 1: 2, 58: 2}[ip.nxt if hasattr(ip, "nxt") else ip.p]
    v = struct.unpack_from(">H", raw, l4 + foff)[0]
    struct.pack_into(">H", raw, l4 + foff, (v + delta) & 0xFFFF or 1)
    return bytes(raw)


def set_l4_field(ip, value):
    raw = bytearray(bytes(ip))
    l4 = len(raw) - len(bytes(ip.data))
    foff = {6: 16, 17: 6, 1: 2, 58: 2}[ip.nxt if hasattr(ip, "nxt") else ip.p]
    struct.pack_into(">H", raw, l4 + foff, value)
    return bytes(raw)


def pseudo_fold(ip, length=None):
    v6 = isinstance(ip, dpkt.ip6.IP6)
    proto = ip.nxt if v6 else ip.p
    n = len(bytes(ip.data)) if length is None else length
    if v6:
        ph = ip.src + ip.dst + struct.pack(">IxxxB", n, proto)
    else:
        ph = ip.src + ip.dst + struct.pack(">xBH", proto, n)
    return C.ones_complement_sum(ph)


def random_packets(seed, n):
    rng = random.Random(seed)
    out = []
    for k in range(n):
        v6 = k % 2 == 1
        proto = rng.choice((6, 17, 58) if v6 else (6, 17, 1))
        out.append(rand_ip(rng, v6, proto, max_payload=rng.choice((0, 1, 3, 100, 1400)),
                           ip_opts=(not v6 and rng.random() < 0.3)))
    return out


# ---------------------------------------------------------------------------

def test_dpkt_packets_all_ok():
    pkts = random_packets(1, 400)
    cols, counts = run([eth(ip) for ip in pkts])
    assert (col(cols, "status") == 0).all()
    assert (col(cols, "l4_csum") == OK).all()
    v4 = col(cols, "ip_ver") == 4
    assert (col(cols, "ip_csum")[v4] == OK).all()
    assert (col(cols, "ip_csum")[~v4] == UNCH).all()
    assert counts["l4_ok"] == 400 and counts["l4_bad"] == 0
    assert counts["ip_ok"] == int(v4.sum()) and counts["ip_bad"] == 0


def test_ethernet_padding_not_summed():
    rng = random.Random(2)
    frames = []
    for proto in (6, 17, 1):
        ip = rand_ip(rng, False, proto, max_payload=0)
        frames.append(eth(ip) + b"\xa5" * 17)        # non-zero padding / trailer
    cols, counts = run(frames)
    assert (col(cols, "l4_csum") == OK).all(), col(cols, "l4_csum")
    assert counts["l4_ok"] == 3


def test_corrupted_checksums_are_bad():
    pkts = random_packets(3, 200)
    frames = [corrupt_l4_field(ip, 1 + i) for i, ip in enumerate(pkts)]
    cols, counts = run([b"\x02\0\0\0\0\1\x02\0\0\0\0\2" + (b"\x86\xdd" if isinstance(ip, dpkt.ip6.IP6) else b"\x08\x00") + f
                        for ip, f in zip(pkts, frames)])
    l4 = col(cols, "l4_csum")
    # a corrupted field may by chance equal the pseudo-header sum: PARTIAL
    assert ((l4 == BAD) | (l4 == PARTIAL)).all()
    assert counts["l4_bad"] + counts["l4_partial"] == 200
    protos = col(cols, "ip_proto")
    bad = l4 == BAD
    assert counts["tcp_bad"] == int((bad & (protos == 6)).sum())
    assert counts["udp_bad"] == int((bad & (protos == 17)).sum())
    assert counts["icmp_bad"] == int((bad & (protos == 1)).sum())
    assert counts["icmp6_bad"] == int((bad & (protos == 58)).sum())
    assert counts["tcp_bad"] > 0 and counts["udp_bad"] > 0 and counts["icmp_bad"] > 0 and counts["icmp6_bad"] > 0
    # no L4 drop reason is set by the checksum stage
    assert (col(cols, "status") == 0).all()


def test_payload_bit_flip_is_bad():
    rng = random.Random(4)
    frames = []
    for k in range(100):
        ip = rand_ip(rng, k % 2 == 0, 6, max_payload=300)
        raw = bytearray(eth(ip))
        if len(raw) > 14 + 60:
            raw[-1] ^= 0x10
        frames.append(bytes(raw))
    cols, _ = run(frames)
    lens = np.array([len(f) for f in frames])
    flipped = lens > 14 + 60
    assert (col(cols, "l4_csum")[flipped] != OK).all()
    assert (col(cols, "l4_csum")[~flipped] == OK).all()


def test_ip_header_checksum_bad_sets_ip_csum():
    rng = random.Random(5)
    ip = rand_ip(rng, False, 6, max_payload=40)
    raw = bytearray(bytes(ip))
    raw[10] ^= 0xFF
    cols, counts = run([eth(ip), b"\0" * 12 + b"\x08\x00" + bytes(raw)])
    assert list(col(cols, "ip_csum")) == [OK, BAD]
    assert col(cols, "status")[1] == DR("IP_CSUM")
    assert col(cols, "l4_csum")[1] == UNCH          # the kernel never gets to L4
    assert counts["ip_bad"] == 1 and counts["ip_ok"] == 1


def test_ip_csum_order_against_parser_statuses():
    rng = random.Random(6)
    ip = rand_ip(rng, False, 17, max_payload=40)
    good = bytes(ip)
    frames, want_status, want_ip = [], [], []
    # (a) tot_len > len (PKT_TOO_SMALL) with a bad header sum -> IP_CSUM
    raw = bytearray(good)
    struct.pack_into(">H", raw, 2, len(good) + 100)
    frames.append(raw); want_status.append(DR("IP_CSUM")); want_ip.append(BAD)
    # (b) same, checksum fixed -> PKT_TOO_SMALL stays
    raw = bytearray(raw)
    struct.pack_into(">H", raw, 10, 0)
    struct.pack_into(">H", raw, 10, C.ipv4_header_checksum(bytes(raw)))
    frames.append(raw); want_status.append(DR("PKT_TOO_SMALL")); want_ip.append(OK)
    # (c) tot_len < ihl*4 (IP_INHDR after the checksum) with a bad sum -> IP_CSUM
    raw = bytearray(good)
    struct.pack_into(">H", raw, 2, 12)
    frames.append(raw); want_status.append(DR("IP_CSUM")); want_ip.append(BAD)
    # (d) version 5 (IP_INHDR before the checksum): stays IP_INHDR, unchecked
    raw = bytearray(good)
    raw[0] = 0x55
    frames.append(raw); want_status.append(DR("IP_INHDR")); want_ip.append(UNCH)
    # (e) ihl 4: IP_INHDR before the checksum
    raw = bytearray(good)
    raw[0] = 0x44
    frames.append(raw); want_status.append(DR("IP_INHDR")); want_ip.append(UNCH)
    # (f) TCP doff < 5 (PKT_TOO_SMALL in tcp_v4_rcv) with a bad IP sum -> IP_CSUM
    tcp = rand_ip(rng, False, 6, max_payload=10)
    raw = bytearray(bytes(tcp))
    raw[tcp.hl * 4 + 12] = 0x40
    frames.append(bytes(raw)); want_status.append(DR("PKT_TOO_SMALL")); want_ip.append(OK)
    raw[10] ^= 0x40
    frames.append(raw); want_status.append(DR("IP_CSUM")); want_ip.append(BAD)
    # (g) 6-byte UDP (L4 pull failure: NOT_SPECIFIED) with a bad IP sum -> IP_CSUM
    short = dpkt.ip.IP(src=b"\xc0\0\2\1", dst=b"\xc0\0\2\2", p=17, ttl=64, data=b"\0" * 6)
    raw = bytearray(bytes(short))
    frames.append(bytes(raw)); want_status.append(DR("NOT_SPECIFIED")); want_ip.append(OK)
    raw[10] ^= 0x40
    frames.append(raw); want_status.append(DR("IP_CSUM")); want_ip.append(BAD)
    cols, _ = run([b"\0" * 12 + b"\x08\x00" + bytes(f) for f in frames])
    assert list(col(cols, "status")) == want_status
    assert list(col(cols, "ip_csum")) == want_ip


def test_truncated_never_bad():
    pkts = random_packets(7, 200)
    frames, wires = [], []
    for k, ip in enumerate(pkts):
        full = eth(ip) if k % 2 else b"\0" * 12 + (b"\x86\xdd" if isinstance(ip, dpkt.ip6.IP6) else b"\x08\x00") + corrupt_l4_field(ip)
        hdr_end = 14 + len(bytes(ip)) - len(bytes(ip.data))
        cut = hdr_end + random.Random(k).randrange(0, len(bytes(ip.data)))  # at least one L4 byte missing
        frames.append(full[:cut])
        wires.append(len(full))
    cols, counts = run(frames, wirelens=wires)
    l4 = col(cols, "l4_csum")
    assert (l4 == TRUNC).all(), l4
    assert counts["l4_truncated"] == 200 and counts["l4_bad"] == 0
    # the IPv4 headers themselves were captured
    v4 = col(cols, "ip_ver") == 4
    assert (col(cols, "ip_csum")[v4] == OK).all()


def test_truncated_ip_header():
    rng = random.Random(8)
    ip = rand_ip(rng, False, 6, ip_opts=True)
    full = eth(ip)
    frames = [full[:14 + 10], full[:14 + 22]]           # inside the fixed header / inside options
    cols, counts = run(frames, wirelens=[len(full)] * 2)
    assert list(col(cols, "ip_csum")) == [TRUNC, TRUNC]
    # row 0: the parser cannot model it (HDR_TRUNC); row 1: the L4 sum is
    # not captured either
    assert list(col(cols, "status")) == [DR("HDR_TRUNC"), 0]
    assert list(col(cols, "l4_csum")) == [UNCH, TRUNC]
    assert counts["ip_truncated"] == 2 and counts["ip_bad"] == 0


def test_udp_zero_checksum():
    rng = random.Random(9)
    v4 = rand_ip(rng, False, 17, max_payload=33)
    v6 = rand_ip(rng, True, 17, max_payload=33)
    cols, counts = run([eth(set_l4_field(v4, 0)), eth(set_l4_field(v6, 0))])
    assert list(col(cols, "l4_csum")) == [ZERO, BAD]
    assert counts["l4_zero"] == 1 and counts["udp_bad"] == 1


def test_partial_sums():
    rng = random.Random(10)
    frames, n = [], 0
    for v6 in (False, True):
        for proto in (6, 17, 58 if v6 else 6):
            ip = rand_ip(rng, v6, proto, max_payload=200)
            pf = pseudo_fold(ip)
            pf0 = pseudo_fold(ip, 0)
            for field in (pf, ~pf & 0xFFFF, pf0):
                frames.append(eth(set_l4_field(ip, field)))
                n += 1
    cols, counts = run(frames)
    assert (col(cols, "l4_csum") == PARTIAL).all(), col(cols, "l4_csum")
    assert counts["l4_partial"] == n and counts["l4_bad"] == 0
    # ICMP over IPv4 has no pseudo-header: a "partial" there is just bad
    ip = rand_ip(rng, False, 1)
    cols, counts = run([eth(set_l4_field(ip, (ip.data.sum + 7) & 0xFFFF))])
    assert col(cols, "l4_csum")[0] == BAD and counts["icmp_bad"] == 1


def test_fragments_unchecked():
    rng = random.Random(11)
    ip = rand_ip(rng, False, 17, max_payload=100)
    raw = bytearray(corrupt_l4_field(ip))
    struct.pack_into(">H", raw, 6, 0x2000)                  # MF, offset 0: first fragment
    struct.pack_into(">H", raw, 10, 0)
    struct.pack_into(">H", raw, 10, C.ipv4_header_checksum(bytes(raw)))
    later = bytearray(raw)
    struct.pack_into(">H", later, 6, 0x0010)                # offset 16*8, last fragment
    struct.pack_into(">H", later, 10, 0)
    struct.pack_into(">H", later, 10, C.ipv4_header_checksum(bytes(later)))
    cols, counts = run([b"\0" * 12 + b"\x08\x00" + bytes(f) for f in (raw, later)])
    assert list(col(cols, "ip_csum")) == [OK, OK]
    assert list(col(cols, "l4_csum")) == [UNCH, UNCH]
    assert counts["l4_unchecked"] == 2


def test_non_ip_and_other_protocols_unchecked():
    arp = b"\xff" * 6 + b"\x02" * 6 + b"\x08\x06" + b"\0" * 28
    rng = random.Random(12)
    ip = rand_ip(rng, False, 6)
    gre = bytearray(bytes(ip))
    gre[9] = 47
    struct.pack_into(">H", gre, 10, 0)
    struct.pack_into(">H", gre, 10, C.ipv4_header_checksum(bytes(gre)))
    cols, _ = run([arp, b"\0" * 12 + b"\x08\x00" + bytes(gre)])
    assert list(col(cols, "ip_csum")) == [UNCH, OK]
    assert list(col(cols, "l4_csum")) == [UNCH, UNCH]


def test_short_icmp_is_classified():
    # icmp_rcv checks the sum before pulling the 8-byte header.
    msg_ok = bytearray(b"\x08\x00\x00\x00\x12\x34")
    struct.pack_into(">H", msg_ok, 2, C.icmp_checksum(bytes(msg_ok)))
    msg_bad = bytearray(msg_ok)
    msg_bad[5] ^= 1
    frames = []
    for msg in (msg_ok, msg_bad):
        ip = dpkt.ip.IP(src=b"\xc0\0\2\1", dst=b"\xc0\0\2\2", p=1, ttl=64, data=bytes(msg))
        frames.append(b"\0" * 12 + b"\x08\x00" + bytes(ip))
    cols, counts = run(frames)
    assert list(col(cols, "status")) == [DR("NOT_SPECIFIED")] * 2
    assert list(col(cols, "l4_csum")) == [OK, BAD]


def test_sll_and_udp_length_field():
    rng = random.Random(13)
    ip = rand_ip(rng, False, 17, max_payload=50)
    # UDP length shorter than the IP payload: the checksum spans ulen bytes
    udp = bytes(ip.data)
    extra = b"\x99\x98\x97"
    ip2 = dpkt.ip.IP(src=ip.src, dst=ip.dst, p=17, ttl=64, data=udp + extra)
    cols, _ = run([sll_outgoing(ip), sll_outgoing(ip2)], linktype=113)
    assert list(col(cols, "l4_csum")) == [OK, OK]
    assert (col(cols, "pkt_type") == 4).all()


def test_counts_keys_and_empty_batch():
    cols = PacketColumns(4)
    rb = RecordBatch.from_packets([])
    counts = C.verify_batch(rb, cols)
    for k in ("ip_ok", "ip_bad", "l4_ok", "l4_bad", "l4_zero", "l4_partial", "l4_truncated",
              "tcp_bad", "udp_bad", "icmp_bad", "icmp6_bad"):
        assert counts[k] == 0
    cols.n = 3
    with pytest.raises(ValueError):
        C.verify_batch(rb, cols)


def test_hand_filled_columns():
    """verify_batch reads only a few columns; fill them by hand (no parser)."""
    rng = random.Random(14)
    ip4 = rand_ip(rng, False, 6, max_payload=77)
    ip6 = rand_ip(rng, True, 17, max_payload=78)
    frames = [eth(ip4), eth(corrupt_l4_field(ip6))]
    rb = RecordBatch.from_packets(frames)
    cols = PacketColumns(2)
    a = cols.arrays
    for i, ip in enumerate((ip4, ip6)):
        v6 = i == 1
        a["l3_off"][i] = 14
        a["ip_ver"][i] = 6 if v6 else 4
        a["flags"][i] = (1 << 4) if v6 else (1 << 3)
        a["ip_proto"][i] = 17 if v6 else 6
        hl = 40 if v6 else ip.hl * 4
        a["l4_off"][i] = 14 + hl
        a["l4_len"][i] = len(bytes(ip.data))
        a["saddr"][i] = np.frombuffer(ip.src if v6 else b"\0" * 10 + b"\xff\xff" + ip.src, np.uint8)
        a["daddr"][i] = np.frombuffer(ip.dst if v6 else b"\0" * 10 + b"\xff\xff" + ip.dst, np.uint8)
    cols.n = 2
    counts = C.verify_batch(rb, cols)
    assert list(cols.column("ip_csum")) == [OK, UNCH]
    assert list(cols.column("l4_csum")) == [OK, BAD]
    assert counts["tcp_bad"] == 0 and counts["udp_bad"] == 1


def test_ipv6_extension_headers_vlan_and_fragments():
    rng = random.Random(15)
    ip = rand_ip(rng, True, 6, max_payload=99)
    tcp = bytes(ip.data)
    # destination options (8 bytes: next header TCP, hdrlen 0, PadN 4) before TCP
    dopts = bytes([6, 0, 1, 4, 0, 0, 0, 0])
    hdr = struct.pack(">IHBB", 0x60000000, len(dopts) + len(tcp), 60, 64) + ip.src + ip.dst
    ext = hdr + dopts + tcp
    # fragment header (first fragment, M=1), then TCP with a wrong sum
    frag = bytes([6, 0, 0, 1]) + b"\0\0\0\x2a"
    bad_tcp = bytearray(tcp)
    bad_tcp[16] ^= 0xFF
    hdr2 = struct.pack(">IHBB", 0x60000000, len(frag) + len(tcp), 44, 64) + ip.src + ip.dst
    fr = hdr2 + frag + bytes(bad_tcp)
    vlan = b"\x02\0\0\0\0\1\x02\0\0\0\0\2\x81\x00\x00\x07\x86\xdd" + bytes(ip)
    cols, counts = run([eth(ext), eth(fr), vlan])
    assert list(col(cols, "status")) == [0, 0, 0]
    assert list(col(cols, "l4_csum")) == [OK, UNCH, OK]


def test_big_tcp_tot_len_zero():
    # A BIG TCP GSO packet as tcpdump records it: IPv4 tot_len 0, > 64 KiB.
    src, dst = b"\xc0\0\2\1", b"\xc0\0\2\2"
    payload = random.Random(16).randbytes(70000)
    seg = bytearray(struct.pack(">HHIIBBHHH", 1, 2, 3, 4, 0x50, 0x10, 500, 0, 0) + payload)
    n = len(seg)
    pseudo = C.ones_complement_sum(src + dst + struct.pack(">xBHH", 6, n >> 16, n & 0xFFFF))
    struct.pack_into(">H", seg, 16, C.internet_checksum(bytes(seg), initial=pseudo))
    assert C.tcp_checksum(src, dst, bytes(seg)) == struct.unpack_from(">H", seg, 16)[0]
    iph = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 0, 1, 0x4000, 64, 6, 0, src, dst))
    struct.pack_into(">H", iph, 10, C.ipv4_header_checksum(bytes(iph)))
    cols, _ = run([eth(bytes(iph) + bytes(seg))])
    assert col(cols, "status")[0] == 0
    assert col(cols, "ip_csum")[0] == OK and col(cols, "l4_csum")[0] == OK
