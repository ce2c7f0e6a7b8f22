"""parse_batch(verify_checksums=True) against the reference: the same rows
parsed, then classified by verify_batch (checksum.verify_row, the rules).

The fused path classifies fast-path rows (Ethernet [+ one tag] / IPv4
without options / TCP or UDP; IPv6 / TCP) with checksum.verify_v4_fast and
verify_v6_tcp, specialisations of verify_row
(host-order sums, a divisibility test instead of folding); every other row
with verify_row itself.  Both must give the same ip_csum / l4_csum / status
columns and the same counts, for good, corrupted, TX-offload (PARTIAL),
truncated and odd-length records, with the fast path on and off."""
import random
import struct

import dpkt
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pystack import vocab
from pystack._core import checksum as C
from pystack._core import parse as P
from pystack._core.capture import RecordBatch
from pystack._core.parse import PacketColumns, parse_batch
from tests.checksum import rand_ip

OK, BAD, PARTIAL, TRUNC, UNCH = (vocab.csum_code(n) for n in (
    "OK", "BAD", "PARTIAL", "TRUNCATED", "UNCHECKED"))

OPTION_LISTS = [
    b"", b"\x02\x04\x05\xb4", b"\x01\x01\x08\x0a" + b"\x07" * 8,
    b"\x02\x04\x05\xb4\x04\x02\x08\x0a" + b"\x01" * 8 + b"\x01\x03\x03\x07",
    b"\x02\x04\x05\xb4\x01\x01\x04\x02\x01\x03\x03\x08",
    b"\x01\x01\x05\x12" + b"\x02" * 16, b"\x02\x04\x05", b"\x02\x00\x00\x00",
    b"\x08\x0a\x01\x02", b"\x00\x00\x00\x00" * 3, b"\x01" * 40,
]


def tcp_v4(rng, opts, payload_len):
    """A correct Ethernet-less IPv4/TCP packet (bytes) with the given options."""
    if len(opts) % 4:
        opts += b"\0" * (4 - len(opts) % 4)
    t = dpkt.tcp.TCP(sport=rng.randrange(65536), dport=rng.randrange(65536),
                     seq=rng.randrange(1 << 32), ack=rng.randrange(1 << 32),
                     off=5 + len(opts) // 4, flags=rng.randrange(256), win=rng.randrange(65536),
                     opts=opts, data=rng.randbytes(payload_len), sum=0)
    ip = dpkt.ip.IP(src=rng.randbytes(4), dst=rng.randbytes(4), p=6, ttl=64,
                    id=rng.randrange(65536), data=t)
    return bytearray(bytes(ip))


def put_partial(rng, raw, off, ph):
    """An unfinished (CHECKSUM_PARTIAL) L4 sum at raw[off]: the pseudo-header
    ph's sum, folded or complemented (the forms a sender leaves)."""
    v = C.ones_complement_sum(ph)
    struct.pack_into(">H", raw, off, v if rng.random() < 0.5 else ~v & 0xFFFF)


def mutate(rng, raw):
    """One of: nothing, bad IP sum, bad TCP sum, an unfinished (PARTIAL) TCP
    sum in one of its four forms, a bad tot_len, a random byte."""
    k = rng.randrange(8)
    if k == 1:
        raw[10] ^= 1 << rng.randrange(8)
    elif k == 2:
        raw[36] ^= 1 << rng.randrange(8)
    elif k == 3:
        n = len(raw) - 20
        put_partial(rng, raw, 36, bytes(raw[12:20]) + struct.pack(">xBH", 6, rng.choice((n, 0))))
    elif k == 4:
        raw[2:4] = struct.pack(">H", rng.randrange(0, len(raw) + 8))
    elif k == 5:
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    return bytes(raw)


def frame(rng, l3):
    hdr = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02"
    k = rng.random()
    if k < 0.2:
        hdr += struct.pack(">HH", rng.choice((0x8100, 0x88A8, 0x9100)), rng.randrange(65536))
    elif k < 0.25:
        hdr += struct.pack(">HHHH", 0x88A8, 1, 0x8100, 2)
    return hdr + b"\x08\x00" + l3 + b"\0" * rng.choice((0, 0, 2, 6))


def corpus(seed, n):
    rng = random.Random(seed)
    pkts, wires = [], []
    for _ in range(n):
        if rng.random() < 0.8:
            l3 = mutate(rng, tcp_v4(rng, rng.choice(OPTION_LISTS),
                                    rng.choice((0, 0, 1, 4, 40, 300))))
        else:
            l3 = bytes(rand_ip(rng, rng.random() < 0.3, rng.choice((6, 17, 1)), max_payload=60))
        f = frame(rng, l3)
        cap = len(f) if rng.random() < 0.85 else rng.randrange(len(f) + 1)
        wire = rng.choice((len(f), len(f), len(f) + rng.randrange(1, 100),
                           max(0, cap - rng.randrange(1, 40))))
        pkts.append(f[:cap])
        wires.append(wire)
    return pkts, wires


CSUM_COLS = ("status", "ip_csum", "l4_csum")


def reference(rb, n):
    """parse, then verify_batch (verify_row) as a separate pass."""
    cols = PacketColumns(max(1, n))
    parse_batch(rb, cols)
    counts = C.verify_batch(rb, cols)
    return {k: v.copy() for k, v in cols.to_dict().items()}, counts


def fused(rb, n, fast=True):
    cols = PacketColumns(max(1, n))
    P._use_fast_path(fast)
    try:
        parse_batch(rb, cols, verify_checksums=True)
    finally:
        P._use_fast_path(True)
    return {k: v.copy() for k, v in cols.to_dict().items()}, C.batch_counts(cols)


def assert_same(pkts, wires):
    rb = RecordBatch.from_packets(pkts, wirelens=wires)
    ref, ref_counts = reference(rb, len(pkts))
    for fast in (True, False):
        got, counts = fused(rb, len(pkts), fast)
        for k, v in ref.items():
            assert np.array_equal(v, got[k]), (fast, k)
        assert counts == ref_counts, fast
    return ref, ref_counts


def test_fused_equals_verify_batch_many_packets():
    pkts, wires = corpus(1, 3000)
    ref, counts = assert_same(pkts, wires)
    # the corpus reaches every verdict of the fast rows
    l4 = ref["l4_csum"]
    for code in (OK, BAD, PARTIAL, TRUNC, UNCH):
        assert (l4 == code).any(), code
    assert (ref["ip_csum"] == BAD).any()
    assert counts["tcp_partial"] > 0 and counts["ip_bad"] > 0 and counts["l4_truncated"] > 0


def test_fast_rows_verdicts():
    """Hand-made fast-path rows, one per verdict."""
    rng = random.Random(7)
    good = tcp_v4(rng, b"\x02\x04\x05\xb4", 0)
    bad_ip = bytearray(good)
    bad_ip[10] ^= 0xFF
    bad_tcp = bytearray(good)
    bad_tcp[36] ^= 0xFF
    partial = bytearray(good)
    ph = bytes(good[12:20]) + struct.pack(">xBH", 6, len(good) - 20)
    struct.pack_into(">H", partial, 36, C.ones_complement_sum(ph))
    frames = [frame(random.Random(0), bytes(x)) for x in (good, bad_ip, bad_tcp, partial)]
    # the same good packet with its last TCP byte not captured
    frames.append(frames[0][:14 + len(good) - 1])
    wires = [len(f) for f in frames[:4]] + [len(frames[0])]
    rb = RecordBatch.from_packets(frames, wirelens=wires)
    got, counts = fused(rb, len(frames))
    dr = vocab.reason_code
    assert list(got["ip_csum"]) == [OK, BAD, OK, OK, OK]
    assert list(got["l4_csum"]) == [OK, UNCH, BAD, PARTIAL, TRUNC]
    assert list(got["status"]) == [0, dr("IP_CSUM"), 0, 0, 0]
    assert counts["ip_ok"] == 4 and counts["ip_bad"] == 1
    assert counts["tcp_bad"] == 1 and counts["tcp_partial"] == 1 and counts["l4_truncated"] == 1
    assert_same(frames, wires)


def test_wire_below_caplen():
    """A record claiming fewer wire bytes than captured: the parser takes
    wire = caplen; verify_row reads the stored wire length (the fast path
    hands such rows to it)."""
    rng = random.Random(8)
    f = frame(random.Random(1), bytes(tcp_v4(rng, b"", 10)))
    assert_same([f, f, f], [0, 20, len(f) - 1])


@st.composite
def fast_candidates(draw):
    rng = random.Random(draw(st.integers(0, 2 ** 32)))
    l3 = tcp_v4(rng, draw(st.sampled_from(OPTION_LISTS)), draw(st.integers(0, 80)))
    for _ in range(draw(st.integers(0, 3))):
        pos = draw(st.integers(0, len(l3) - 1))
        l3[pos] = draw(st.integers(0, 255))
    f = frame(rng, bytes(l3))
    cap = draw(st.integers(max(0, len(f) - 30), len(f)))
    return f[:cap], max(0, cap + draw(st.integers(-6, 20)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fast_candidates(), min_size=1, max_size=16))
def test_fused_equals_verify_batch_hypothesis(items):
    assert_same([f for f, _ in items], [w for _, w in items])


def test_bench_like_batches_and_stale_columns():
    """Batches parsed into reused columns (stale values from a richer batch)
    give the same checksum columns as fresh ones."""
    pkts, wires = corpus(2, 600)
    rb = RecordBatch.from_packets(pkts, wirelens=wires)
    cols = PacketColumns(700)
    other, ow = corpus(3, 700)
    parse_batch(RecordBatch.from_packets(other, wirelens=ow), cols, verify_checksums=True)
    parse_batch(rb, cols, verify_checksums=True)
    ref, counts = reference(rb, len(pkts))
    for k, v in ref.items():
        assert np.array_equal(v, cols.to_dict()[k]), k
    assert C.batch_counts(cols) == counts


# --- IPv4 UDP and IPv6 TCP: the other fast-path rows --------------------------------

def udp_v4(rng, payload_len):
    u = dpkt.udp.UDP(sport=rng.randrange(65536), dport=rng.randrange(65536),
                     ulen=8 + payload_len, data=rng.randbytes(payload_len), sum=0)
    ip = dpkt.ip.IP(src=rng.randbytes(4), dst=rng.randbytes(4), p=17, ttl=64,
                    id=rng.randrange(65536), data=u)
    return bytearray(bytes(ip))


def tcp_v6(rng, opts, payload_len):
    if len(opts) % 4:
        opts += b"\0" * (4 - len(opts) % 4)
    t = dpkt.tcp.TCP(sport=rng.randrange(65536), dport=rng.randrange(65536),
                     seq=rng.randrange(1 << 32), ack=rng.randrange(1 << 32),
                     off=5 + len(opts) // 4, flags=rng.randrange(256), win=rng.randrange(65536),
                     opts=opts, data=rng.randbytes(payload_len), sum=0)
    ip = dpkt.ip6.IP6(src=b"\x20" + rng.randbytes(15), dst=b"\x2a" + rng.randbytes(15), nxt=6,
                      hlim=64, plen=len(bytes(t)), data=t)
    return bytearray(bytes(dpkt.ip6.IP6(bytes(ip))))


def mutate_udp_v4(rng, raw):
    """nothing, bad IP sum, bad UDP sum, zero UDP sum ("none"), an unfinished
    (PARTIAL) sum, a UDP length shorter / longer than the datagram, a bad
    tot_len, a random byte."""
    k = rng.randrange(9)
    if k == 1:
        raw[10] ^= 1 << rng.randrange(8)
    elif k == 2:
        raw[26] ^= 1 << rng.randrange(8)
    elif k == 3:
        raw[26:28] = b"\0\0"
    elif k == 4:
        n = len(raw) - 20
        put_partial(rng, raw, 26, bytes(raw[12:20]) + struct.pack(">xBH", 17, rng.choice((n, 0))))
    elif k == 5:
        struct.pack_into(">H", raw, 24, rng.randrange(0, len(raw) - 20 + 4))
    elif k == 6:
        raw[2:4] = struct.pack(">H", rng.randrange(0, len(raw) + 8))
    elif k == 7:
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    return bytes(raw)


def mutate_tcp_v6(rng, raw):
    """nothing, bad TCP sum, an unfinished sum, a bad payload_len, a random byte."""
    k = rng.randrange(6)
    if k == 1:
        raw[56] ^= 1 << rng.randrange(8)
    elif k == 2:
        n = len(raw) - 40
        put_partial(rng, raw, 56, bytes(raw[8:40]) + struct.pack(">IxxxB", rng.choice((n, 0)), 6))
    elif k == 3:
        raw[4:6] = struct.pack(">H", rng.randrange(0, len(raw) - 40 + 8))
    elif k == 4:
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    return bytes(raw)


def frame_v6(rng, l3):
    hdr = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02"
    if rng.random() < 0.2:
        hdr += struct.pack(">HH", rng.choice((0x8100, 0x88A8, 0x9100)), rng.randrange(65536))
    return hdr + b"\x86\xdd" + l3 + b"\0" * rng.choice((0, 0, 2, 6))


def corpus_udp_v6(seed, n):
    rng = random.Random(seed)
    pkts, wires = [], []
    for _ in range(n):
        sizes = (0, 1, 5, 40, 300, 1400)
        if rng.random() < 0.5:
            f = frame(rng, mutate_udp_v4(rng, udp_v4(rng, rng.choice(sizes))))
        else:
            f = frame_v6(rng, mutate_tcp_v6(rng, tcp_v6(rng, rng.choice(OPTION_LISTS),
                                                         rng.choice(sizes))))
        cap = len(f) if rng.random() < 0.85 else rng.randrange(len(f) + 1)
        wire = rng.choice((len(f), len(f), len(f) + rng.randrange(1, 100),
                           max(0, cap - rng.randrange(1, 40))))
        pkts.append(f[:cap])
        wires.append(wire)
    return pkts, wires


def test_udp_v4_and_tcp_v6_rows():
    pkts, wires = corpus_udp_v6(11, 3000)
    ref, counts = assert_same(pkts, wires)
    l4 = ref["l4_csum"]
    for code in (OK, BAD, PARTIAL, TRUNC, UNCH, vocab.csum_code("ZERO")):
        assert (l4 == code).any(), code
    assert counts["udp_bad"] > 0 and counts["udp_partial"] > 0
    assert counts["tcp_bad"] > 0 and counts["tcp_partial"] > 0
    v6 = ref["ip_ver"] == 6
    assert (l4[v6] == OK).any() and (l4[v6] == BAD).any() and (l4[v6] == PARTIAL).any()
