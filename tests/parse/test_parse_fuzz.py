"""Hostile input: random bytes and mutated valid packets under every link type.
The parser must never crash, never read past caplen, and keep its columns
sane; a batch parses the same as its packets one by one and as a batch parsed
into columns full of stale values."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pystack._core.capture import RecordBatch
from pystack._core.parse import PacketColumns, parse_batch
from pystack.vocab import DROP_REASONS
from tests.parse import oracle as O

LINKTYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147]
ALL_FLAGS = (1 << 19) - 1
STATUSES = {0} | {DROP_REASONS.index(n) for n in (
    "NOT_SPECIFIED", "PKT_TOO_SMALL", "IP_INHDR", "UNHANDLED_PROTO", "HDR_TRUNC",
    "IPV6_BAD_EXTHDR")}

SEEDS_L3 = [
    O.ipv4(O.tcp(opts=b"\x02\x04\x05\xb4\x04\x02\x08\x0a" + b"\1" * 8 + b"\x01\x03\x03\x07")),
    O.ipv4(O.tcp(opts=b"\x01\x01\x05\x12" + b"\2" * 16, data=b"d" * 10), opts=b"\x01" * 4),
    O.ipv4(O.udp()), O.ipv4(O.icmp()),
    O.ipv4(O.icmp_error(3, 3, O.ipv4(O.tcp())[:28])),
    O.ipv4(raw_payload=b"x" * 12, p=6, off=0x2001),
    O.ipv6(O.tcp(opts=b"\x08\x0a" + b"\3" * 8)), O.ipv6(O.udp()),
    O.ipv6(O.icmp6_error(1, 0, O.ipv6(O.udp())[:48])),
    O.ipv6(raw_payload=bytes(O.tcp()), exts=O.ext(43, b"", "opts") + O.ext(44, b"") +
           O.frag6(6, 0, 1), first=0, nxt=6),
    O.ipv6(raw_payload=bytes(O.udp()), exts=O.ext(17, b"\0" * 12, "ah"), first=51, nxt=17),
]


def frames_for(lt):
    out = []
    for l3 in SEEDS_L3:
        if lt in (228,) and (l3[0] >> 4) != 4 or lt == 229 and (l3[0] >> 4) != 6:
            continue
        out.append(O.wrap(l3, lt) if lt != 147 else O.eth(l3))
    out.append(O.eth(SEEDS_L3[0], vlans=[1, 2]) if lt == 1 else out[0])
    return out


def check_sane(cols, pkts, wires):
    n = len(pkts)
    for k, v in cols.items():
        assert len(v) == n, k
    for i, p in enumerate(pkts):
        cap, wire = len(p), max(wires[i], len(p))
        st_, fl = int(cols["status"][i]), int(cols["flags"][i])
        assert st_ in STATUSES, st_
        assert fl & ~ALL_FLAGS == 0
        assert bool(fl & O.PF_TRUNCATED) == (cap < wire)
        l3, l4, pay = int(cols["l3_off"][i]), int(cols["l4_off"][i]), int(cols["pay_off"][i])
        assert l3 <= cap                       # the link header was read
        assert l4 == 0 or l3 < l4 <= wire
        assert pay == 0 or (l4 <= pay <= wire)
        if cap == wire:
            assert l4 <= cap and pay <= cap    # nothing points past the bytes
        if fl & O.PF_L4:
            assert l4 < cap
            hdr = {6: 4 * int(cols["tcp_doff"][i]), 17: 8, 1: 8, 58: 8}[int(cols["ip_proto"][i])]
            assert l4 + hdr <= cap
        if st_ == 0 and fl & O.PF_L4 and not fl & O.PF_FRAG:
            # the payload lies inside the datagram
            assert pay + int(cols["payload_len"][i]) <= l4 + int(cols["l4_len"][i])
        if st_ == 0 and l4:
            assert l4 + int(cols["l4_len"][i]) <= wire
        assert int(cols["tcp_nsack"][i]) <= 4
        assert int(cols["ip_csum"][i]) == 0 and int(cols["l4_csum"][i]) == 0
        if not fl & (O.PF_VLAN | O.PF_QINQ):
            assert cols["vlan0"][i] == 0xFFFF and cols["vlan1"][i] == 0xFFFF
        if not fl & O.PF_ICMP_INNER:
            assert cols["in_proto"][i] == 0 and not cols["in_saddr"][i].any()
        if fl & O.PF_BAD_LINK:
            assert st_ != 0 and cols["ethertype"][i] == 0
        if fl & O.PF_IPV4:
            assert not fl & (O.PF_IPV6 | O.PF_NOT_IP)


def parse_all_ways(pkts, lts, wires):
    rb = RecordBatch.from_packets(pkts, linktype=lts, wirelens=wires)
    # columns full of stale values from a rich batch
    cols = PacketColumns(len(pkts) + 3)
    rich = [O.wrap(l3, 1) for l3 in SEEDS_L3]
    parse_batch(RecordBatch.from_packets((rich * (len(pkts) // len(rich) + 2))[:len(pkts) + 3]),
                cols)
    parse_batch(rb, cols)
    got = {k: v.copy() for k, v in cols.to_dict().items()}
    fresh = PacketColumns(len(pkts))
    parse_batch(rb, fresh)
    for k, v in fresh.to_dict().items():
        assert np.array_equal(v, got[k]), k
    # No read past caplen: each record followed by 0x00 or 0xFF filler bytes
    # (as records of their own) parses the same.
    rows = []
    for fill in (b"\x00", b"\xff"):
        inter = [x for p in pkts for x in (p, fill * 300)]
        ilts = [x for lt in lts for x in (lt, 1)] if isinstance(lts, list) else lts
        iw = [x for w in wires for x in (w, 300)]
        c = PacketColumns(len(inter))
        parse_batch(RecordBatch.from_packets(inter, linktype=ilts, wirelens=iw), c)
        rows.append({k: v[0::2] for k, v in c.to_dict().items()})
    for k, v in got.items():
        assert np.array_equal(v, rows[0][k]) and np.array_equal(v, rows[1][k]), k
    return got


packet_lists = st.lists(st.tuples(st.binary(max_size=160), st.sampled_from(LINKTYPES),
                                  st.integers(-8, 200)), min_size=1, max_size=12)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packet_lists)
def test_random_bytes(items):
    pkts = [p for p, _, _ in items]
    lts = [lt for _, lt, _ in items]
    wires = [max(0, len(p) + d) for p, _, d in items]
    cols = parse_all_ways(pkts, lts, wires)
    check_sane(cols, pkts, wires)


@st.composite
def mutated(draw):
    lt = draw(st.sampled_from(LINKTYPES))
    frame = bytearray(draw(st.sampled_from(frames_for(lt))))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        if not frame:
            break
        pos = draw(st.integers(0, len(frame) - 1))
        if op == "flip":
            frame[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            frame[pos] = draw(st.sampled_from([0, 1, 2, 4, 5, 6, 0x0F, 0x40, 0x45, 0x60,
                                               0x80, 0xFF, draw(st.integers(0, 255))]))
        elif op == "cut":
            del frame[pos:]
        elif op == "insert":
            frame[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            del frame[pos:pos + draw(st.integers(1, 8))]
    extra = draw(st.integers(-4, 64))
    return bytes(frame), lt, max(0, len(frame) + extra)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), min_size=1, max_size=10))
def test_mutated_valid_packets(items):
    pkts = [p for p, _, _ in items]
    lts = [lt for _, lt, _ in items]
    wires = [w for _, _, w in items]
    cols = parse_all_ways(pkts, lts, wires)
    check_sane(cols, pkts, wires)
    # one by one: no row depends on another
    for i, (p, lt, w) in enumerate(items):
        one = O.parse([p], lt, [w])
        for k, v in one.items():
            assert np.array_equal(v[0], cols[k][i]), (i, k)


def test_seeds_are_valid():
    for lt in LINKTYPES[:-1]:
        cols = O.parse(frames_for(lt), lt)
        assert (cols["status"] == 0).all(), (lt, cols["status"])


@st.composite
def eth_tcp_variants(draw):
    """Packets at the edge of the fast path's conditions."""
    opts = draw(st.sampled_from([
        b"", b"\x01\x01\x08\x0a" + b"\x07" * 8, b"\x01\x01\x08\x0b" + b"\0" * 8,
        b"\x02\x04\x05\xb4", b"\x01\x01\x08\x0a" + b"\0" * 12,
        # SYN option lists (Linux, Windows), SACK blocks, malformed lists
        b"\x02\x04\x05\xb4\x04\x02\x08\x0a" + b"\x01" * 8 + b"\x01\x03\x03\x07",
        b"\x02\x04\x05\xb4\x01\x03\x03\x08\x01\x01\x04\x02",
        b"\x01\x01\x05\x12" + b"\x02" * 16, b"\x05\x0a" + b"\x03" * 8 + b"\x05\x1a" + b"\x04" * 24,
        b"\x02\x04\x05", b"\x02\x00", b"\x03\x04\x07\x00", b"\x00\x02\x04\x05\xb4",
        b"\x01" * 40, b"\x08\x0a" + b"\x05" * 8, b"\x02\x04\x05\xb4\x08"]))
    t = O.tcp(opts=opts, data=draw(st.binary(max_size=20)), flags=draw(st.integers(0, 0x1FF)))
    ip = bytearray(O.ipv4(t, off=draw(st.sampled_from([0, 0x4000, 0x2000, 1, 0x8000]))))
    if draw(st.booleans()):
        ip[2:4] = draw(st.integers(0, 120)).to_bytes(2, "big")       # tot_len
    if draw(st.booleans()):
        ip[20 + 12] = draw(st.integers(0, 255))                        # doff / AE
    tags = draw(st.sampled_from([(), (), (), ((0x8100, 7),), ((0x88A8, 0xFFFF),), ((0x9100, 0),),
                                 ((0x88A8, 1), (0x8100, 2))]))
    frame = O.eth(bytes(ip), dst=draw(st.sampled_from([O.MAC_B, b"\xff" * 6, b"\x01" * 6])),
                  vlans=[t for _, t in tags], tpids=[p for p, _ in tags])
    frame += b"\0" * draw(st.integers(0, 8))
    cap = draw(st.integers(0, len(frame)))
    return frame[:cap], max(0, len(frame) + draw(st.integers(-10, 10)))


_V6_FIRST = [0x20, 0x20, 0xfe, 0xfd, 0x00, 0xff, 0x01]
_LOOP6 = b"\0" * 15 + b"\1"


def _tagged_frame(draw, l3, ethertype):
    tags = draw(st.sampled_from([(), (), (), ((0x8100, 7),), ((0x88A8, 0xFFFF),), ((0x9100, 0),),
                                 ((0x88A8, 1), (0x8100, 2))]))
    frame = O.eth(l3, ethertype=ethertype,
                  dst=draw(st.sampled_from([O.MAC_B, b"\xff" * 6, b"\x01" * 6])),
                  vlans=[t for _, t in tags], tpids=[p for p, _ in tags])
    frame += b"\0" * draw(st.integers(0, 8))
    cap = draw(st.integers(0, len(frame)))
    return frame[:cap], max(0, len(frame) + draw(st.integers(-10, 10)))


@st.composite
def eth_udp_variants(draw):
    """IPv4 UDP at the edge of the fast path's conditions (ulen, tot_len,
    fragments, IP options, capture and wire lengths)."""
    data = draw(st.binary(max_size=40))
    u = O.udp(data=data, ulen=draw(st.sampled_from([None, None, 0, 7, 8, 9, 8 + len(data) + 1,
                                                     draw(st.integers(0, 0xFFFF))])))
    ip = bytearray(O.ipv4(u, off=draw(st.sampled_from([0, 0x4000, 0x2000, 1])),
                          opts=draw(st.sampled_from([b"", b"", b"\x01" * 4]))))
    if draw(st.booleans()):
        ip[2:4] = draw(st.integers(0, 120)).to_bytes(2, "big")       # tot_len
    return _tagged_frame(draw, bytes(ip), 0x0800)


@st.composite
def eth_v6_tcp_variants(draw):
    """IPv6 TCP at the edge of the fast path's conditions (address checks,
    payload_len, next header, data offset, capture and wire lengths)."""
    def addr():
        a = draw(st.sampled_from([O.V6_A, O.V6_B, _LOOP6, b"\0" * 16, None]))
        if a is None:
            a = bytes([draw(st.sampled_from(_V6_FIRST)), draw(st.integers(0, 255))]) + b"\7" * 14
        return a
    opts = draw(st.sampled_from([b"", b"\x01\x01\x08\x0a" + b"\x07" * 8, b"\x02\x04\x05\xa0",
                                 b"\x05\x0a" + b"\x03" * 8, b"\x02\x00"]))
    t = O.tcp(opts=opts, data=draw(st.binary(max_size=20)), flags=draw(st.integers(0, 0x1FF)))
    ip = bytearray(O.ipv6(t, src=addr(), dst=addr(), tc=draw(st.integers(0, 255)),
                          flow=draw(st.integers(0, 0xFFFFF))))
    if draw(st.booleans()):
        ip[4:6] = draw(st.integers(0, 120)).to_bytes(2, "big")       # payload_len
    if draw(st.integers(0, 4)) == 0:
        ip[6] = draw(st.sampled_from([0, 17, 43, 44, 59]))             # next header
    if draw(st.booleans()):
        ip[40 + 12] = draw(st.integers(0, 255))                        # doff / AE
    if draw(st.integers(0, 5)) == 0:
        ip[0] = draw(st.sampled_from([0x40, 0x70, 0x65]))              # version
    return _tagged_frame(draw, bytes(ip), 0x86DD)


fast_path_variants = st.one_of(eth_tcp_variants(), eth_udp_variants(), eth_v6_tcp_variants())


@settings(max_examples=500, deadline=None)
@given(st.lists(fast_path_variants, min_size=1, max_size=8))
def test_fast_path_equals_general_path(items):
    from pystack._core import parse as P
    pkts = [p for p, _ in items]
    wires = [w for _, w in items]
    fast = O.parse(pkts, 1, wires)
    P._use_fast_path(False)
    try:
        slow = O.parse(pkts, 1, wires)
    finally:
        P._use_fast_path(True)
    for k, v in fast.items():
        assert np.array_equal(v, slow[k]), k


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(fast_path_variants,
                          st.sampled_from([(O.wrap(l3, 1), 0) for l3 in SEEDS_L3])),
                min_size=1, max_size=12),
       st.integers(0, 255), st.booleans())
def test_prefilled_columns_and_garbage(items, junk, verify):
    """The fast path leaves ~20 columns as prefill_fast set them for the
    whole batch; rows that leave it (any mix, in any order) must still come
    out exactly as the general path writes them, over columns holding any
    garbage, with or without the fused checksum pass."""
    from pystack._core import parse as P
    pkts = [p for p, _ in items]
    wires = [w or len(p) for p, w in items]
    rb = RecordBatch.from_packets(pkts, wirelens=wires)
    cols = PacketColumns(len(pkts) + 2)
    for v in cols.arrays.values():
        v.view(np.uint8)[...] = junk
    parse_batch(rb, cols, verify_checksums=verify)
    P._use_fast_path(False)
    try:
        ref = PacketColumns(len(pkts))
        parse_batch(rb, ref, verify_checksums=verify)
    finally:
        P._use_fast_path(True)
    got = cols.to_dict()
    for k, v in ref.to_dict().items():
        assert np.array_equal(v, got[k]), k
