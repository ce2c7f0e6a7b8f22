"""Deterministic benchmark traces: classic pcap, Ethernet, correct checksums.

    python -m bench.gen synflood|bulk|mix|all [--scale F] [--out DIR] [--force]

Every trace is a pure function of (name, scale, GEN_VERSION): fixed seeds, no
clock, no dict-order or hash dependence, so the same arguments give a
byte-identical file (for a given numpy version: numpy does not promise the
same random streams across releases; bump GEN_VERSION when changing output) (tests/bench/test_gen.py checks this with sha256).  Files
go to bench/traces/ (git-ignored) as ``<name>-x<scale>.pcap`` with a sidecar
``<name>-x<scale>.json`` holding the parameters, packet/byte counts and the
sha256; an existing file whose sidecar matches is not regenerated.

Traces (counts at scale 1; ``--scale`` multiplies them):

synflood  4,000,000 TCP SYNs from random spoofed IPv4 sources (first octet
          1-223 except 10 and 127, random port/seq/id/TTL/window) to
          198.18.0.1:80.  Eth 14 + IPv4 20 + TCP 24 (one MSS=1460 option)
          = 58 bytes, zero-padded to the 60-byte Ethernet minimum as a
          receiving NIC delivers it (64 bytes on the wire with the FCS);
          IP total length 44, so the parser sees 2 bytes of link padding.
          Microsecond pcap, one packet per microsecond (1 Mpps).
bulk      4 TCP connections 10.1.0.{1..4} -> 10.2.0.1:5201, each 175,000
          data segments of 1448 bytes (Eth 14 + IPv4 20 + TCP 32 with
          NOP,NOP,TS + 1448 = 1514 bytes) and an ACK (66 bytes) for every
          second segment, with handshake (MSS,SACK_OK,TS,NOP,WS) and FIN
          teardown.  Connections interleave round-robin (2 segments + 1 ACK
          each); timestamps follow 10 Gb/s serialisation.  Random ISNs, so
          sequence numbers wrap.  Nanosecond pcap.  ~1.07 GB at scale 1.
mix       120,000 web-like TCP connections (SYN, SYN-ACK, ACK, ~300 B
          request, 1-20 response segments with an ACK per two, FIN/FIN/ACK
          teardown; 6% end in a client RST, 2% are refused with RST-ACK;
          75% use TCP timestamps, the rest Windows-style options),
          150,000 DNS query/response pairs (3% answered by ICMP port
          unreachable quoting the query), 20,000 ping
          request/reply pairs.  ~10% of all of it is IPv6 (ICMPv6 for
          ping/unreachable), ~5% is 802.1Q-tagged (VLAN 100/200/300).
          Frames under 60 bytes are zero-padded to 60.  Packets of all
          flows are interleaved by time (capture point: the client side).
          Microsecond pcap.  ~2.3 M packets, ~1.2 GB at scale 1.

How it is fast: a trace is first a table of numpy columns, one row per packet
(layout id, addresses, ports, seq/ack, flags, options values, payload length
and payload source).  The writer then builds, per layout, all headers of a
chunk as one (rows x bytes) uint8 array from a template (patched column by
column), computes IP and L4 checksums vectorised (header words summed with
numpy, payload sums from prefix sums over the payload pool), and places rows
into the output buffer with fixed-width void-dtype window views (memcpy-speed
scatter).  Payload bytes are slices of one deterministic pool: a random region
plus templates (HTTP requests, DNS messages, ping data, ICMP error quotes).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import sys
import time
from dataclasses import dataclass

import numpy as np

GEN_VERSION = 2
TRACES = ("synflood", "bulk", "mix")
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "traces")

T0_NS = 1_704_067_200 * 10**9          # 2024-01-01T00:00:00Z
MS = 1_000_000                          # ns
US = 1_000

SERVER_MAC = bytes.fromhex("02000000aa01")   # capture host side
GATEWAY_MAC = bytes.fromhex("02000000bb02")  # the other side

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
SNAPLEN = 262144
LINKTYPE_ETHERNET = 1
MIN_FRAME = 60

# IPv6 /96 prefixes; an IPv6 address is PREFIXES[pfx] + a 32-bit host part.
PREFIXES = (
    bytes.fromhex("20010db8000c000000000000"),  # 0: clients   2001:db8:c::/96
    bytes.fromhex("20010db80005000000000000"),  # 1: servers   2001:db8:5::/96
    bytes.fromhex("fd0000000000000000000000"),  # 2: resolvers fd00::/96
)

# --------------------------------------------------------------------------
# header layouts

TCP_OPTS = {
    # name: (option bytes, {field: offset inside the options})
    "none": (b"", {}),
    "mss": (b"\x02\x04\x05\xb4", {"mss": 2}),
    # Linux SYN: MSS, SACK_PERM, TS, NOP, WS
    "syn_ts": (b"\x02\x04\x05\xb4\x04\x02\x08\x0a" + bytes(8) + b"\x01\x03\x03\x07",
               {"mss": 2, "tsval": 8, "tsecr": 12, "wscale": 19}),
    # Windows SYN: MSS, NOP, WS, NOP, NOP, SACK_PERM
    "syn_win": (b"\x02\x04\x05\xb4\x01\x03\x03\x08\x01\x01\x04\x02",
                {"mss": 2, "wscale": 7}),
    "ts": (b"\x01\x01\x08\x0a" + bytes(8), {"tsval": 4, "tsecr": 8}),
}
L4_HDR = {"udp": 8, "icmp": 8, "icmp6": 8}
L4_PROTO = {"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58}
L4_CSUM_AT = {"tcp": 16, "udp": 6, "icmp": 2, "icmp6": 2}


@dataclass(frozen=True)
class Layout:
    vlan: bool
    ipver: int
    l4: str          # tcp, udp, icmp, icmp6
    topt: str = "none"

    @property
    def l3off(self):
        return 18 if self.vlan else 14

    @property
    def iphl(self):
        return 20 if self.ipver == 4 else 40

    @property
    def l4off(self):
        return self.l3off + self.iphl

    @property
    def l4hl(self):
        if self.l4 == "tcp":
            return 20 + len(TCP_OPTS[self.topt][0])
        return L4_HDR[self.l4]

    @property
    def hlen(self):
        return self.l4off + self.l4hl

    def template(self) -> bytes:
        eth = bytearray(GATEWAY_MAC + SERVER_MAC)
        if self.vlan:
            eth += b"\x81\x00\x00\x00"
        eth += b"\x08\x00" if self.ipver == 4 else b"\x86\xdd"
        if self.ipver == 4:
            ip = bytearray(20)
            ip[0] = 0x45
            ip[9] = L4_PROTO[self.l4]
        else:
            ip = bytearray(40)
            ip[0] = 0x60
            ip[6] = L4_PROTO[self.l4]
        if self.l4 == "tcp":
            opts = TCP_OPTS[self.topt][0]
            l4 = bytearray(20) + opts
            l4[12] = (len(l4) // 4) << 4
        else:
            l4 = bytearray(8)
        return bytes(eth + ip + l4)


def _all_layouts():
    out = []
    for vlan in (False, True):
        for ipver in (4, 6):
            for topt in TCP_OPTS:
                out.append(Layout(vlan, ipver, "tcp", topt))
            out.append(Layout(vlan, ipver, "udp"))
            out.append(Layout(vlan, ipver, "icmp" if ipver == 4 else "icmp6"))
    return tuple(out)


LAYOUTS = _all_layouts()
LAYOUT_ID = {lay: i for i, lay in enumerate(LAYOUTS)}


def layout_ids(vlan, ipver, l4, topt="none"):
    """Layout ids for arrays `vlan` (bool) and `ipver` (4/6); one `l4` and `topt`
    ("icmp" means ICMPv6 for IPv6 rows)."""
    vlan = np.asarray(vlan, bool)
    ipver = np.asarray(ipver)
    ids = np.empty(np.broadcast(vlan, ipver).shape, np.uint8)
    for v in (False, True):
        for ver in (4, 6):
            kind = l4 if l4 == "tcp" or l4 == "udp" else ("icmp" if ver == 4 else "icmp6")
            lid = LAYOUT_ID[Layout(v, ver, kind, topt if kind == "tcp" else "none")]
            ids[(vlan == v) & (ipver == ver)] = lid
    return ids


# --------------------------------------------------------------------------
# packet table

COLUMNS = {
    # name: (dtype, default)
    "ts": (np.int64, 0),
    "layout": (np.uint8, 0),
    "dir": (np.uint8, 0),         # 0: gateway -> capture host MACs; 1: reverse
    "vlan": (np.uint16, 0),       # TCI, for VLAN layouts
    "src": (np.uint32, 0),        # IPv4 address, or IPv6 host part (low 32 bits)
    "dst": (np.uint32, 0),
    "spfx": (np.uint8, 0),        # IPv6 only: index into PREFIXES
    "dpfx": (np.uint8, 0),
    "tos": (np.uint8, 0),
    "ttl": (np.uint8, 64),
    "ipid": (np.uint16, 0),
    "df": (np.uint8, 1),
    "flow": (np.uint32, 0),       # IPv6 flow label
    "sport": (np.uint16, 0),      # ICMP: identifier
    "dport": (np.uint16, 0),      # ICMP: sequence number
    "seq": (np.uint32, 0),
    "ack": (np.uint32, 0),
    "flags": (np.uint8, 0),
    "win": (np.uint16, 0),
    "mss": (np.uint16, 1460),
    "wscale": (np.uint8, 7),
    "tsval": (np.uint32, 0),
    "tsecr": (np.uint32, 0),
    "icmp_type": (np.uint8, 0),
    "icmp_code": (np.uint8, 0),
    "paylen": (np.int64, 0),
    "po": (np.int64, 0),          # payload = pool[po : po + paylen]
    "has_id": (np.uint8, 0),      # write pay_id into the payload's first 2 bytes
    "pay_id": (np.uint16, 0),
}

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def new_table(n):
    return {k: np.full(n, d, dt) for k, (dt, d) in COLUMNS.items()}


def finalize(t):
    """Every column as an array of its dtype and the table's length (scalars broadcast)."""
    n = len(t["ts"])
    return {k: np.ascontiguousarray(np.broadcast_to(np.asarray(t[k]), (n,)).astype(dt))
            for k, (dt, _) in COLUMNS.items()}


def concat_tables(tables):
    tables = [finalize(t) for t in tables]
    return {k: np.concatenate([t[k] for t in tables]) for k in COLUMNS}


def sort_table(t):
    t = finalize(t)
    order = np.argsort(t["ts"], kind="stable")
    return {k: v[order] for k, v in t.items()}


class Pool:
    """Payload bytes: a random region, then templates appended on demand."""

    def __init__(self, rng, random_bytes=1 << 20):
        self.random_len = random_bytes
        self.parts = [rng.bytes(random_bytes)]
        self.size = random_bytes
        self._index = {}

    def add(self, data: bytes) -> int:
        off = self._index.get(data)
        if off is None:
            off = self.size
            self.parts.append(data)
            self.size += len(data)
            self._index[data] = off
        return off

    def random_offsets(self, rng, lengths):
        lengths = np.asarray(lengths, np.int64)
        return rng.integers(0, self.random_len - lengths + 1, dtype=np.int64)

    def finish(self):
        raw = b"".join(self.parts) + bytes(4)
        self.buf = np.frombuffer(raw, np.uint8)
        nw_e = len(raw) // 2
        nw_o = (len(raw) - 1) // 2
        self.pe = np.zeros(nw_e + 1, np.uint64)
        np.cumsum(self.buf[: 2 * nw_e].view(">u2"), dtype=np.uint64, out=self.pe[1:])
        self.po_ = np.zeros(nw_o + 1, np.uint64)
        np.cumsum(self.buf[1: 1 + 2 * nw_o].view(">u2"), dtype=np.uint64, out=self.po_[1:])
        return self

    def sums(self, po, ln):
        """Ones-complement (unfolded) sums of pool[po:po+ln] as 16-bit BE words."""
        po = po.astype(np.int64, copy=False)
        ln = ln.astype(np.int64, copy=False)
        nw = ln // 2
        odd = (po & 1).astype(bool)
        s = np.zeros(len(po), np.uint64)
        e = ~odd
        i = po[e] // 2
        s[e] = self.pe[i + nw[e]] - self.pe[i]
        i = (po[odd] - 1) // 2
        s[odd] = self.po_[i + nw[odd]] - self.po_[i]
        tail = (ln & 1).astype(bool)
        s[tail] += self.buf[po[tail] + ln[tail] - 1].astype(np.uint64) << 8
        return s


# --------------------------------------------------------------------------
# checksums and field patching

def fold(s):
    s = s.astype(np.uint64, copy=True)
    for _ in range(4):
        s = (s & 0xFFFF) + (s >> 16)
    return s


def csum_py(data: bytes) -> int:
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack(f">{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _put(h, off, vals, fmt):
    dt = np.dtype(fmt)
    v = np.ascontiguousarray(np.asarray(vals).astype(dt))
    if v.ndim == 0:
        v = np.full(h.shape[0], v, dt)
    h[:, off:off + dt.itemsize] = v.view(np.uint8).reshape(-1, dt.itemsize)


def _words_sum(h, a, b):
    """Sum of big-endian 16-bit words of columns [a, b) of each row."""
    w = h[:, a:b].astype(np.uint64)
    return (w[:, 0::2] * 256 + w[:, 1::2]).sum(axis=1)


def _addr_words(addr32, pfx=None):
    a = addr32.astype(np.uint64)
    s = (a >> 16) + (a & 0xFFFF)
    if pfx is not None:
        s = s + PFX_SUM[pfx]
    return s


PFX_ARR = np.frombuffer(b"".join(PREFIXES), np.uint8).reshape(len(PREFIXES), 12)
PFX_SUM = np.array([sum(struct.unpack(">6H", p)) for p in PREFIXES], np.uint64)


def build_rows(lay: Layout, c, rows, pool, nanosec, caplen):
    """pcap record header + packet headers (checksums filled) for `rows`."""
    m = len(rows)
    tpl = np.frombuffer(lay.template(), np.uint8)
    H = 16 + len(tpl)
    h = np.empty((m, H), np.uint8)
    h[:, 16:] = tpl
    g = {k: v[rows] for k, v in c.items()}
    # pcap record header (little-endian)
    ts = g["ts"]
    sec = ts // 1_000_000_000
    frac = ts % 1_000_000_000
    if not nanosec:
        frac //= 1000
    cl = caplen[rows]
    _put(h, 0, sec, "<u4")
    _put(h, 4, frac, "<u4")
    _put(h, 8, cl, "<u4")
    _put(h, 12, cl, "<u4")
    # Ethernet
    d = g["dir"].astype(bool)
    h[d, 16:22] = np.frombuffer(SERVER_MAC, np.uint8)
    h[d, 22:28] = np.frombuffer(GATEWAY_MAC, np.uint8)
    if lay.vlan:
        _put(h, 16 + 14, g["vlan"], ">u2")
    l3 = 16 + lay.l3off
    l4 = 16 + lay.l4off
    paylen = g["paylen"]
    l4len = lay.l4hl + paylen
    proto = L4_PROTO[lay.l4]
    if lay.ipver == 4:
        h[:, l3 + 1] = g["tos"]
        _put(h, l3 + 2, 20 + l4len, ">u2")
        _put(h, l3 + 4, g["ipid"], ">u2")
        h[:, l3 + 6] = g["df"].astype(np.uint8) << 6
        h[:, l3 + 8] = g["ttl"]
        _put(h, l3 + 12, g["src"], ">u4")
        _put(h, l3 + 16, g["dst"], ">u4")
        _put(h, l3 + 10, ~fold(_words_sum(h, l3, l3 + 20)) & 0xFFFF, ">u2")
        pseudo = _addr_words(g["src"]) + _addr_words(g["dst"])
    else:
        vtf = (np.uint64(6) << np.uint64(28)) | (g["tos"].astype(np.uint64) << np.uint64(20)) \
            | (g["flow"].astype(np.uint64) & np.uint64(0xFFFFF))
        _put(h, l3, vtf, ">u4")
        _put(h, l3 + 4, l4len, ">u2")
        h[:, l3 + 7] = g["ttl"]
        h[:, l3 + 8:l3 + 20] = PFX_ARR[g["spfx"]]
        _put(h, l3 + 20, g["src"], ">u4")
        h[:, l3 + 24:l3 + 36] = PFX_ARR[g["dpfx"]]
        _put(h, l3 + 36, g["dst"], ">u4")
        pseudo = _addr_words(g["src"], g["spfx"]) + _addr_words(g["dst"], g["dpfx"])
    pseudo = pseudo + np.uint64(proto) + l4len.astype(np.uint64)
    if lay.l4 == "tcp":
        _put(h, l4, g["sport"], ">u2")
        _put(h, l4 + 2, g["dport"], ">u2")
        _put(h, l4 + 4, g["seq"], ">u4")
        _put(h, l4 + 8, g["ack"], ">u4")
        h[:, l4 + 13] = g["flags"]
        _put(h, l4 + 14, g["win"], ">u2")
        fields = TCP_OPTS[lay.topt][1]
        o = l4 + 20
        if "mss" in fields:
            _put(h, o + fields["mss"], g["mss"], ">u2")
        if "wscale" in fields:
            h[:, o + fields["wscale"]] = g["wscale"]
        if "tsval" in fields:
            _put(h, o + fields["tsval"], g["tsval"], ">u4")
            _put(h, o + fields["tsecr"], g["tsecr"], ">u4")
    elif lay.l4 == "udp":
        _put(h, l4, g["sport"], ">u2")
        _put(h, l4 + 2, g["dport"], ">u2")
        _put(h, l4 + 4, l4len, ">u2")
    else:
        h[:, l4] = g["icmp_type"]
        h[:, l4 + 1] = g["icmp_code"]
        _put(h, l4 + 4, g["sport"], ">u2")
        _put(h, l4 + 6, g["dport"], ">u2")
    s = _words_sum(h, l4, H) + pool.sums(g["po"], paylen)
    s += np.where(g["has_id"] != 0, g["pay_id"].astype(np.uint64), np.uint64(0))
    if lay.l4 != "icmp":
        s += pseudo
    ck = ~fold(s) & 0xFFFF
    if lay.l4 == "udp":
        ck[ck == 0] = 0xFFFF
    _put(h, l4 + L4_CSUM_AT[lay.l4], ck, ">u2")
    return h


def _win(a, width):
    """Overlapping fixed-width windows of a uint8 array: element i = a[i:i+width]."""
    return np.ndarray(shape=(len(a) - width + 1,), dtype=np.dtype((np.void, width)),
                      buffer=a, strides=(1,))


def _groups(keys):
    """(key, row indices) for each distinct key, keys in ascending order."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    cuts = np.flatnonzero(k[1:] != k[:-1]) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(k)]])
    return [(k[s], order[s:e]) for s, e in zip(starts, ends)]


HLEN = np.array([lay.hlen for lay in LAYOUTS], np.int64)


def write_pcap(path, table, pool, nanosec, pad_min=MIN_FRAME, chunk_bytes=48 << 20):
    """Write `table` (sorted by ts) as a classic pcap; returns (packets, captured bytes)."""
    n = len(table["ts"])
    pktlen = HLEN[table["layout"]] + table["paylen"]
    caplen = np.maximum(pktlen, pad_min) if pad_min else pktlen
    reclen = 16 + caplen
    ends = np.cumsum(reclen)
    # chunk boundaries by bytes
    cuts = np.searchsorted(ends, np.arange(chunk_bytes, int(ends[-1]) if n else 0, chunk_bytes))
    bounds = np.unique(np.concatenate([[0], cuts, [n]]))
    buf = np.empty(0, np.uint8)
    zeros = np.zeros(pad_min, np.uint8)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", PCAP_MAGIC_NS if nanosec else PCAP_MAGIC_US,
                            2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET))
        for a, b in zip(bounds[:-1], bounds[1:]):
            c = {k: v[a:b] for k, v in table.items()}
            cl = caplen[a:b]
            off = ends[a:b] - reclen[a:b] - (ends[a - 1] if a else 0)
            total = int(off[-1] + reclen[b - 1])
            if len(buf) < total:
                buf = np.empty(max(total, chunk_bytes + (1 << 20)), np.uint8)
            out = buf[:total]
            hl = HLEN[c["layout"]]
            for lid, rows in _groups(c["layout"]):
                h = build_rows(LAYOUTS[lid], c, rows, pool, nanosec, cl)
                _win(out, h.shape[1])[off[rows]] = h.view(np.dtype((np.void, h.shape[1]))).ravel()
            pay_at = off + 16 + hl
            for ln, rows in _groups(c["paylen"]):
                if ln == 0:
                    continue
                _win(out, ln)[pay_at[rows]] = _win(pool.buf, ln)[c["po"][rows]]
            idr = np.flatnonzero(c["has_id"])
            if len(idr):
                out[pay_at[idr]] = c["pay_id"][idr] >> 8
                out[pay_at[idr] + 1] = c["pay_id"][idr] & 0xFF
            pad = cl - (hl + c["paylen"])
            for pl, rows in _groups(pad):
                if pl == 0:
                    continue
                _win(out, pl)[pay_at[rows] + c["paylen"][rows]] = _win(zeros, pl)[0]
            f.write(memoryview(out))
    return n, int(caplen.sum())


# --------------------------------------------------------------------------
# traces

def _rng(name, scale):
    seed = int.from_bytes(hashlib.sha256(f"pystack-bench/{name}/v{GEN_VERSION}".encode()).digest()[:8], "little")
    return np.random.default_rng(seed)


def _count(base, scale, minimum=1):
    return max(minimum, int(round(base * scale)))


def build_synflood(scale):
    rng = _rng("synflood", scale)
    n = _count(4_000_000, scale)
    pool = Pool(rng, 4096)
    t = new_table(n)
    t["ts"] = T0_NS + np.arange(n, dtype=np.int64) * US
    t["layout"][:] = LAYOUT_ID[Layout(False, 4, "tcp", "mss")]
    first = rng.integers(1, 224 - 2, n, dtype=np.uint32)      # 1..221, then skip 10 and 127
    first = first + (first >= 10) + (first >= 126)
    t["src"] = (first << 24) | rng.integers(0, 1 << 24, n, dtype=np.uint32)
    t["dst"][:] = (198 << 24) | (18 << 16) | 1
    t["sport"] = rng.integers(1024, 65536, n, dtype=np.uint32).astype(np.uint16)
    t["dport"][:] = 80
    t["seq"] = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    t["flags"][:] = SYN
    t["win"] = np.array([64240, 29200, 65535, 8192, 1024, 512], np.uint16)[rng.integers(0, 6, n)]
    t["ttl"] = rng.integers(32, 129, n, dtype=np.uint16).astype(np.uint8)
    t["ipid"] = rng.integers(0, 1 << 16, n, dtype=np.uint32).astype(np.uint16)
    t["df"] = rng.integers(0, 2, n, dtype=np.uint8)
    return t, pool.finish(), {"nanosec": False, "pad_min": MIN_FRAME}


def build_bulk(scale):
    rng = _rng("bulk", scale)
    C = 4
    S = max(2, 2 * _count(87_500, scale))    # segments per connection (even)
    R = S // 2
    MSSV = 1448
    pool = Pool(rng, 1 << 20)
    lay_syn = LAYOUT_ID[Layout(False, 4, "tcp", "syn_ts")]
    lay_ts = LAYOUT_ID[Layout(False, 4, "tcp", "ts")]
    cli = (10 << 24) | (1 << 16) | np.arange(1, C + 1, dtype=np.uint32)
    srv = np.uint32((10 << 24) | (2 << 16) | 1)
    cport = (41000 + 17 * np.arange(C)).astype(np.uint16)
    cisn = rng.integers(0, 1 << 32, C, dtype=np.uint64)
    sisn = rng.integers(0, 1 << 32, C, dtype=np.uint64)
    ctsb = rng.integers(0, 1 << 31, C, dtype=np.uint64)
    stsb = rng.integers(0, 1 << 31, C, dtype=np.uint64)
    cid = rng.integers(0, 1 << 16, C, dtype=np.uint64)
    sid = rng.integers(0, 1 << 16, C, dtype=np.uint64)
    M32 = np.uint64(0xFFFFFFFF)

    # handshake (3 per conn), main block (R rounds x C conns x 3), teardown (3 per conn)
    nh, nm, nt = 3 * C, 3 * C * R, 3 * C
    n = nh + nm + nt
    t = new_table(n)
    conn = np.empty(n, np.int64)
    kind = np.empty(n, np.int64)          # 0 SYN 1 SYNACK 2 ACK(hs) 3 DATA 4 ACK 5 FIN_c 6 FIN_s 7 LASTACK
    rnd = np.zeros(n, np.int64)           # round
    half = np.zeros(n, np.int64)          # segment within round
    conn[:nh] = np.repeat(np.arange(C), 3)
    kind[:nh] = np.tile([0, 1, 2], C)
    g = np.arange(nm)
    conn[nh:nh + nm] = (g // 3) % C
    rnd[nh:nh + nm] = g // (3 * C)
    k3 = g % 3
    kind[nh:nh + nm] = np.where(k3 == 2, 4, 3)
    half[nh:nh + nm] = np.where(k3 == 1, 1, 0)
    conn[nh + nm:] = np.repeat(np.arange(C), 3)
    kind[nh + nm:] = np.tile([5, 6, 7], C)
    fromc = np.isin(kind, [0, 2, 3, 5, 7])

    # times: handshakes 1 ms apart, data at 10 Gb/s, teardown after
    wire = np.where(kind == 3, 1514, 66) + 24
    ts = np.empty(n, np.int64)
    ts[:nh] = T0_NS + np.repeat(np.arange(C) * MS, 3) + np.tile([0, 50 * US, 100 * US], C)
    start = T0_NS + C * MS
    ts[nh:nh + nm] = start + np.cumsum(wire[nh:nh + nm] * 8 // 10)
    end = ts[nh + nm - 1] + 100 * US
    ts[nh + nm:] = end + np.repeat(np.arange(C) * 10 * US, 3) + np.tile([0, 50 * US, 100 * US], C)
    t["ts"] = ts
    t["dir"] = np.where(fromc, 0, 1).astype(np.uint8)
    t["layout"] = np.where(kind <= 1, lay_syn, lay_ts).astype(np.uint8)
    t["src"] = np.where(fromc, cli[conn], srv)
    t["dst"] = np.where(fromc, srv, cli[conn])
    t["sport"] = np.where(fromc, cport[conn], 5201).astype(np.uint16)
    t["dport"] = np.where(fromc, 5201, cport[conn]).astype(np.uint16)
    ci, si = cisn[conn], sisn[conn]
    j = 2 * rnd + half                     # data segment index
    dend = ci + 1 + np.uint64(S * MSSV)    # client seq after all data
    seq = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3, kind == 4, kind == 5, kind == 6, kind == 7],
        [ci, si, ci + 1, ci + 1 + (j * MSSV).astype(np.uint64), si + 1, dend, si + 1, dend + 1])
    ack = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3, kind == 4, kind == 5, kind == 6, kind == 7],
        [np.zeros(n, np.uint64), ci + 1, si + 1, si + 1,
         ci + 1 + ((2 * rnd + 2) * MSSV).astype(np.uint64), si + 1, dend + 1, si + 2])
    t["seq"] = (seq & M32).astype(np.uint32)
    t["ack"] = (ack & M32).astype(np.uint32)
    flags = np.select([kind == 0, kind == 1, (kind == 5) | (kind == 6)],
                      [SYN, SYN | ACK, FIN | ACK], ACK)
    flags = np.where((kind == 3) & (j % 32 == 31), ACK | PSH, flags)
    t["flags"] = flags.astype(np.uint8)
    t["win"] = np.select([kind == 0, kind == 1, fromc], [64240, 65160, 501], 24576).astype(np.uint16)
    t["paylen"] = np.where(kind == 3, MSSV, 0)
    t["po"] = np.where(kind == 3, pool.random_offsets(rng, np.full(n, MSSV)), 0)
    # IP ids: per-direction counters
    cnt = np.select([kind == 0, kind == 2, kind == 3, kind == 5, kind == 7, kind == 1, kind == 4, kind == 6],
                    [np.zeros(n, np.int64), np.ones(n, np.int64), 2 + j, 2 + S + 0 * j, 3 + S + 0 * j,
                     np.zeros(n, np.int64), 1 + rnd, 1 + R + 0 * j]).astype(np.uint64)
    t["ipid"] = ((np.where(fromc, cid[conn], sid[conn]) + cnt) & np.uint64(0xFFFF)).astype(np.uint16)
    # TCP timestamps: 1 kHz clocks; echoes reference the right packets
    ms = ((ts - T0_NS) // MS).astype(np.uint64)
    tsval = (np.where(fromc, ctsb[conn], stsb[conn]) + ms) & M32
    idx = np.arange(n)
    hs = lambda c_, k: 3 * c_ + k                                   # noqa: E731
    mi = lambda r_, c_, k: nh + 3 * (C * r_ + c_) + k               # noqa: E731
    td = lambda c_, k: nh + nm + 3 * c_ + k                         # noqa: E731
    ref = np.select(
        [kind == 0, kind == 1, kind == 2, (kind == 3) & (rnd == 0), kind == 3, kind == 4,
         kind == 5, kind == 6, kind == 7],
        [idx, hs(conn, 0), hs(conn, 1), hs(conn, 1), mi(rnd - 1, conn, 2), mi(rnd, conn, 0),
         mi(R - 1, conn, 2), td(conn, 0), td(conn, 1)])
    tsecr = np.where(kind == 0, 0, tsval[ref])
    t["tsval"] = tsval.astype(np.uint32)
    t["tsecr"] = tsecr.astype(np.uint32)
    t["mss"][:] = 1460
    t["wscale"][:] = 7
    return sort_table(t), pool.finish(), {"nanosec": True, "pad_min": MIN_FRAME}


HTTP_PATHS = ("/", "/index.html", "/static/app.js", "/static/style.css", "/api/v1/items",
              "/images/logo.png", "/search", "/favicon.ico")
HTTP_AGENTS = ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
               "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/126.0 Safari/537.36",
               "curl/8.5.0")


def _http_requests():
    reqs = []
    for i in range(48):
        path = HTTP_PATHS[i % len(HTTP_PATHS)] + ("?q=" + "x" * (i * 3) if i % 3 else "")
        host = f"www.example{i % 7}.com"
        r = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {HTTP_AGENTS[i % 3]}\r\n"
             f"Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n"
             f"Accept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\n\r\n")
        reqs.append(r.encode())
    return reqs


def _dns_templates(ipv6_answer):
    import dpkt
    out = []
    for i in range(64):
        name = f"{('www', 'api', 'cdn', 'mail')[i % 4]}.site{i}.example.org"
        qtype = dpkt.dns.DNS_AAAA if ipv6_answer else dpkt.dns.DNS_A
        q = dpkt.dns.DNS(id=0, op=dpkt.dns.DNS_RD, qd=[dpkt.dns.DNS.Q(name=name, type=qtype)])
        rr = dpkt.dns.DNS.RR(name=name, type=qtype, ttl=300)
        if ipv6_answer:
            rr.ip6 = PREFIXES[1] + struct.pack(">I", 0x1000 + i)
        else:
            rr.ip = struct.pack(">I", (203 << 24) | (0 << 16) | (113 << 8) | (i + 1))
        r = dpkt.dns.DNS(id=0, op=dpkt.dns.DNS_RD | dpkt.dns.DNS_RA, qr=dpkt.dns.DNS_R,
                         qd=[dpkt.dns.DNS.Q(name=name, type=qtype)], an=[rr])
        out.append((bytes(q), bytes(r)))
    return out


PING_DATA = bytes(8) + bytes(range(0x10, 0x38))   # 56 bytes, as iputils ping


def _conn_addrs(rng, n, v6, n_clients=2000):
    client_id = rng.integers(0, n_clients, n)
    csrc4 = ((10 << 24) | (client_id // 250 << 8) | (client_id % 250 + 1)).astype(np.uint32) \
        + (np.uint32(1 << 16))                                     # 10.1.x.y
    csrc6 = (0x1000 + client_id).astype(np.uint32)
    return client_id, np.where(v6, csrc6, csrc4).astype(np.uint32)


def build_mix(scale):
    rng = _rng("mix", scale)
    pool = Pool(rng, 1 << 20)
    NS = 39
    C = _count(120_000, scale)
    dur = max(1, int(round(10 * scale * 1000))) * MS              # ~10 s at scale 1
    # --- per-connection parameters
    v6 = rng.random(C) < 0.10
    vlan = rng.random(C) < 0.05
    tci = np.array([100, 200, 300], np.uint16)[rng.integers(0, 3, C)]
    tson = rng.random(C) < 0.75
    u = rng.random(C)
    refused = u < 0.02
    rstend = (u >= 0.02) & (u < 0.08)
    client_id, caddr = _conn_addrs(rng, C, v6)
    sidx = rng.integers(0, 512, C)
    saddr4 = np.where(sidx < 256, (203 << 24) | (0 << 16) | (113 << 8) | (sidx & 255),
                      (198 << 24) | (51 << 16) | (100 << 8) | (sidx & 255)).astype(np.uint32)
    saddr = np.where(v6, 0x100 + sidx, saddr4).astype(np.uint32)
    sport = (32768 + _occurrence(client_id) % 28000).astype(np.uint16)  # unique per client
    https = rng.random(C) < 0.3
    dport = np.where(https, 443, 80).astype(np.uint16)
    cisn = rng.integers(0, 1 << 32, C, dtype=np.uint64)
    sisn = rng.integers(0, 1 << 32, C, dtype=np.uint64)
    ctsb = rng.integers(0, 1 << 31, C, dtype=np.uint64)
    stsb = rng.integers(0, 1 << 31, C, dtype=np.uint64)
    cid = rng.integers(0, 1 << 16, C, dtype=np.uint64)
    sid = rng.integers(0, 1 << 16, C, dtype=np.uint64)
    flow_c = rng.integers(0, 1 << 20, C, dtype=np.uint32)
    flow_s = rng.integers(0, 1 << 20, C, dtype=np.uint32)
    sttl = (64 - rng.integers(4, 20, C)).astype(np.uint8)
    mssv = np.where(v6, 1440, 1460).astype(np.int64)
    seg = mssv - np.where(tson, 12, 0)
    reqs = _http_requests()
    req_off = np.array([pool.add(r) for r in reqs], np.int64)
    req_len = np.array([len(r) for r in reqs], np.int64)
    ridx = rng.integers(0, len(reqs), C)
    qlen = np.where(https, rng.integers(200, 520, C), req_len[ridx])
    qpo = np.where(https, pool.random_offsets(rng, qlen), req_off[ridx])
    small = rng.random(C) < 0.5
    k = np.where(small, rng.integers(1, 4, C), rng.integers(1, 21, C))
    last = rng.integers(1, seg + 1, C)
    R = (k - 1) * seg + last
    rtt = np.exp(rng.uniform(np.log(1 * MS), np.log(80 * MS), C)).astype(np.int64)
    think = rng.integers(200 * US, 20 * MS, C)
    close = rng.integers(1 * MS, 50 * MS, C)
    t0 = T0_NS + rng.integers(0, dur, C)

    # --- slots: 0 SYN 1 SYNACK 2 ACK 3 REQ; 4+3p,5+3p RESP(2p),RESP(2p+1); 6+3p ACKC(p)
    #     34 FIN_C 35 FIN_S 36 LAST_C 37 RST_C 38 RST_S
    col = lambda a: a[:, None]                                                   # noqa: E731
    slot = np.arange(NS)[None, :]
    p = np.clip((slot - 4) // 3, 0, 9)
    ispair = (slot >= 4) & (slot < 34)
    isresp = ispair & ((slot - 4) % 3 < 2)
    isackc = ispair & ((slot - 4) % 3 == 2)
    j = 2 * p + ((slot - 4) % 3 == 1)                                            # resp index
    normal = ~refused & ~rstend
    valid = np.zeros((C, NS), bool)
    valid[:, 0] = True
    valid[:, 1:4] = col(~refused)
    valid |= isresp & col(~refused) & (j < col(k))
    valid |= isackc & col(~refused) & (2 * p < col(k))
    valid[:, 34:37] = col(normal)
    valid[:, 37] = rstend
    valid[:, 38] = refused
    fromc = np.zeros((1, NS), bool)
    fromc[0, [0, 2, 3, 34, 36, 37]] = True
    fromc = fromc | isackc
    # times
    base_resp = col(rtt) * 2 + 40 * US + col(think)
    tresp = base_resp + (j // 10) * col(rtt) + (j % 10) * 12 * US                # for resp j
    lastj = col(k - 1)
    t_last_resp = base_resp + (lastj // 10) * col(rtt) + (lastj % 10) * 12 * US
    jack = np.minimum(2 * p + 1, lastj)
    tack = base_resp + (jack // 10) * col(rtt) + (jack % 10) * 12 * US + 30 * US
    t_last_ack = t_last_resp + 30 * US
    off = np.zeros((C, NS), np.int64)
    off[:, 1] = rtt
    off[:, 2] = rtt + 20 * US
    off[:, 3] = rtt + 40 * US
    off = np.where(isresp, tresp, off)
    off = np.where(isackc, tack, off)
    off[:, 34] = t_last_ack[:, 0] + close
    off[:, 35] = off[:, 34] + rtt
    off[:, 36] = off[:, 35] + 20 * US
    off[:, 37] = t_last_ack[:, 0] + 1 * MS
    off[:, 38] = rtt
    ts = col(t0) + off
    # sequence numbers
    M32 = np.uint64(0xFFFFFFFF)
    ci, si = col(cisn), col(sisn)
    q = col(qlen).astype(np.uint64)
    Ru = col(R).astype(np.uint64)
    segu = col(seg).astype(np.uint64)
    ju = j.astype(np.uint64)
    seq = np.zeros((C, NS), np.uint64)
    ack = np.zeros((C, NS), np.uint64)
    seq[:, 0], ack[:, 0] = cisn, 0
    seq[:, 1], ack[:, 1] = sisn, cisn + 1
    seq[:, 2], ack[:, 2] = cisn + 1, sisn + 1
    seq[:, 3], ack[:, 3] = cisn + 1, sisn + 1
    seq = np.where(isresp, si + 1 + ju * segu, seq)
    ack = np.where(isresp, ci + 1 + q, ack)
    seq = np.where(isackc, ci + 1 + q, seq)
    ack = np.where(isackc, si + 1 + np.minimum(Ru, (2 * p.astype(np.uint64) + 2) * segu), ack)
    seq[:, 34:35], ack[:, 34:35] = ci + 1 + q, si + 1 + Ru
    seq[:, 35:36], ack[:, 35:36] = si + 1 + Ru, ci + 2 + q
    seq[:, 36:37], ack[:, 36:37] = ci + 2 + q, si + 2 + Ru
    seq[:, 37:38], ack[:, 37:38] = ci + 1 + q, si + 1 + Ru
    seq[:, 38], ack[:, 38] = 0, cisn + 1
    paylen = np.zeros((C, NS), np.int64)
    paylen[:, 3] = qlen
    paylen = np.where(isresp, np.minimum(col(seg), col(R) - j * col(seg)), paylen)
    po = np.zeros((C, NS), np.int64)
    po[:, 3] = qpo
    rpo = pool.random_offsets(rng, np.full((C, NS), 1448))
    po = np.where(isresp, rpo, po)
    flags = np.full((C, NS), ACK, np.int64)
    flags[:, 0] = SYN
    flags[:, 1] = SYN | ACK
    flags[:, 3] = PSH | ACK
    flags = np.where(isresp & (j == lastj), PSH | ACK, flags)
    flags[:, 34:36] = FIN | ACK
    flags[:, 37] = RST | ACK
    flags[:, 38] = RST | ACK
    # TCP timestamps
    tms = ((ts - T0_NS) // MS).astype(np.uint64)
    tsval = (np.where(fromc, col(ctsb), col(stsb)) + tms) & M32
    lastresp_slot = 4 + 3 * ((k - 1) // 2) + (k - 1) % 2
    ref = np.zeros((C, NS), np.int64)
    ref[:, 1] = 0
    ref[:, 2:4] = 1
    ref = np.where(isresp, 3, ref)
    ref = np.where(isackc, 4 + 3 * p, ref)
    ref[:, 34] = lastresp_slot
    ref[:, 35] = 34
    ref[:, 36] = 35
    ref[:, 37] = lastresp_slot
    tsecr = np.take_along_axis(tsval, ref, axis=1)
    tsecr[:, 0] = 0
    # windows, ids
    win = np.where(fromc, np.where(col(tson), 502, 1024), np.where(col(tson), 501, 2050))
    win[:, 0] = np.where(tson, 64240, 65535)
    win[:, 1] = np.where(tson, 65160, 65535)
    win[:, 38] = 0
    dircount = np.cumsum(np.where(fromc, 1, 0) * valid, axis=1).astype(np.uint64)
    scount = np.cumsum(np.where(fromc, 0, 1) * valid, axis=1).astype(np.uint64)
    ipid = (np.where(fromc, col(cid) + dircount, col(sid) + scount) & np.uint64(0xFFFF))
    # layouts
    lay = np.zeros((C, NS), np.uint8)
    for ts_on in (True, False):
        sel = tson == ts_on
        lsyn = layout_ids(vlan[sel], np.where(v6[sel], 6, 4), "tcp", "syn_ts" if ts_on else "syn_win")
        ldat = layout_ids(vlan[sel], np.where(v6[sel], 6, 4), "tcp", "ts" if ts_on else "none")
        lnone = layout_ids(vlan[sel], np.where(v6[sel], 6, 4), "tcp", "none")
        sub = np.repeat(ldat[:, None], NS, axis=1)
        sub[:, :2] = lsyn[:, None]
        sub[:, 38] = lnone
        lay[sel] = sub
    # flatten
    tcp = new_table(int(valid.sum()))
    cols2 = {
        "ts": ts, "layout": lay, "dir": np.broadcast_to(np.where(fromc, 0, 1), (C, NS)),
        "vlan": np.broadcast_to(col(tci), (C, NS)),
        "src": np.where(fromc, col(caddr), col(saddr)), "dst": np.where(fromc, col(saddr), col(caddr)),
        "spfx": np.where(fromc, 0, 1), "dpfx": np.where(fromc, 1, 0),
        "ttl": np.where(fromc, 64, col(sttl)),
        "ipid": ipid, "flow": np.where(fromc, col(flow_c), col(flow_s)),
        "sport": np.where(fromc, col(sport), col(dport)), "dport": np.where(fromc, col(dport), col(sport)),
        "seq": seq & M32, "ack": ack & M32, "flags": flags, "win": win,
        "mss": np.broadcast_to(col(mssv), (C, NS)), "wscale": np.where(fromc, 8, 7),
        "tsval": tsval, "tsecr": tsecr, "paylen": paylen, "po": po,
    }
    for name, arr in cols2.items():
        tcp[name] = np.broadcast_to(arr, (C, NS))[valid].astype(COLUMNS[name][0])

    # --- DNS
    D = _count(150_000, scale)
    dv6 = rng.random(D) < 0.10
    dvlan = rng.random(D) < 0.05
    dtci = np.array([100, 200, 300], np.uint16)[rng.integers(0, 3, D)]
    dead = rng.random(D) < 0.03
    _, dcli = _conn_addrs(rng, D, dv6)
    res = np.where(dv6, np.where(dead, 0x54, 0x53), np.where(dead, (10 << 24) | (255 << 16) | 54,
                                                              (10 << 24) | (255 << 16) | 53)).astype(np.uint32)
    tpl4 = _dns_templates(False)
    tpl6 = _dns_templates(True)
    qoff4 = np.array([pool.add(a) for a, b in tpl4]); roff4 = np.array([pool.add(b) for a, b in tpl4])
    qoff6 = np.array([pool.add(a) for a, b in tpl6]); roff6 = np.array([pool.add(b) for a, b in tpl6])
    qlen4 = np.array([len(a) for a, b in tpl4]); rlen4 = np.array([len(b) for a, b in tpl4])
    qlen6 = np.array([len(a) for a, b in tpl6]); rlen6 = np.array([len(b) for a, b in tpl6])
    ni = rng.integers(0, 64, D)
    dsport = rng.integers(1024, 65536, D).astype(np.uint16)
    did = rng.integers(0, 1 << 16, D).astype(np.uint16)
    dt0 = T0_NS + rng.integers(0, dur, D)
    dlat = rng.integers(300 * US, 30 * MS, D)
    dq = new_table(D)
    dq["ts"] = dt0
    dq["layout"] = layout_ids(dvlan, np.where(dv6, 6, 4), "udp")
    dq["vlan"] = dtci
    dq["src"], dq["dst"] = dcli, res
    dq["spfx"], dq["dpfx"] = 0, 2
    dq["sport"], dq["dport"] = dsport, 53
    dq["ipid"] = rng.integers(0, 1 << 16, D).astype(np.uint16)
    dq["flow"] = rng.integers(0, 1 << 20, D).astype(np.uint32)
    dq["paylen"] = np.where(dv6, qlen6[ni], qlen4[ni])
    dq["po"] = np.where(dv6, qoff6[ni], qoff4[ni])
    dq["has_id"], dq["pay_id"] = 1, did
    ok = ~dead
    dr = new_table(int(ok.sum()))
    dr["ts"] = (dt0 + dlat)[ok]
    dr["layout"] = dq["layout"][ok]
    dr["dir"] = 1
    dr["vlan"] = dtci[ok]
    dr["src"], dr["dst"] = res[ok], dcli[ok]
    dr["spfx"], dr["dpfx"] = 2, 0
    dr["sport"], dr["dport"] = 53, dsport[ok]
    dr["ttl"] = 63
    dr["ipid"] = rng.integers(0, 1 << 16, int(ok.sum())).astype(np.uint16)
    dr["paylen"] = np.where(dv6, rlen6[ni], rlen4[ni])[ok]
    dr["po"] = np.where(dv6, roff6[ni], roff4[ni])[ok]
    dr["has_id"], dr["pay_id"] = 1, did[ok]
    # ICMP port unreachable for queries to the dead resolver: quote IP header + 8 bytes
    deadi = np.flatnonzero(dead)
    ue = new_table(len(deadi))
    ue["ts"] = (dt0 + dlat)[deadi]
    ue["layout"] = layout_ids(dvlan[deadi], np.where(dv6[deadi], 6, 4), "icmp")
    ue["dir"] = 1
    ue["vlan"] = dtci[deadi]
    ue["src"], ue["dst"] = res[deadi], dcli[deadi]
    ue["spfx"], ue["dpfx"] = 2, 0
    ue["ttl"] = 63
    ue["df"] = 0
    ue["icmp_type"] = np.where(dv6[deadi], 1, 3)
    ue["icmp_code"] = np.where(dv6[deadi], 4, 3)
    qpo_all, qpl_all = dq["po"], dq["paylen"]
    pos, lens = [], []
    for i in deadi.tolist():
        payload = bytearray(pool_bytes(pool, int(qpo_all[i]), int(qpl_all[i])))
        payload[0:2] = struct.pack(">H", int(did[i]))
        ulen = 8 + len(payload)
        sp, dp = int(dsport[i]), 53
        if dv6[i]:
            s_ = PREFIXES[0] + struct.pack(">I", int(dcli[i]))
            d_ = PREFIXES[2] + struct.pack(">I", int(res[i]))
            ph = s_ + d_ + struct.pack(">IxxxB", ulen, 17)
            uck = csum_py(ph + struct.pack(">HHHH", sp, dp, ulen, 0) + bytes(payload)) or 0xFFFF
            iph = struct.pack(">IHBB", (6 << 28) | int(dq["flow"][i]), ulen, 17, 64) + s_ + d_
        else:
            s_ = struct.pack(">I", int(dcli[i]))
            d_ = struct.pack(">I", int(res[i]))
            ph = s_ + d_ + struct.pack(">BBH", 0, 17, ulen)
            uck = csum_py(ph + struct.pack(">HHHH", sp, dp, ulen, 0) + bytes(payload)) or 0xFFFF
            iph = bytearray(struct.pack(">BBHHHBBH", 0x45, 0, 20 + ulen, int(dq["ipid"][i]), 0x4000,
                                        64, 17, 0) + s_ + d_)
            iph[10:12] = struct.pack(">H", csum_py(bytes(iph)))
            iph = bytes(iph)
        # Linux quotes the whole offending datagram when it is this small
        quote = iph + struct.pack(">HHHH", sp, dp, ulen, uck) + bytes(payload)
        pos.append(pool.add(quote))
        lens.append(len(quote))
    ue["po"] = np.array(pos, np.int64)
    ue["paylen"] = np.array(lens, np.int64)

    # --- ping
    P = _count(20_000, scale)
    pv6 = rng.random(P) < 0.10
    pvlan = rng.random(P) < 0.05
    ptci = np.array([100, 200, 300], np.uint16)[rng.integers(0, 3, P)]
    _, pcli = _conn_addrs(rng, P, pv6)
    ptgt = np.where(pv6, 0x200 + rng.integers(0, 16, P),
                    (192 << 24) | (0 << 16) | (2 << 8) | rng.integers(1, 17, P)).astype(np.uint32)
    pt0 = T0_NS + rng.integers(0, dur, P)
    prtt = rng.integers(1 * MS, 60 * MS, P)
    ping_off = pool.add(PING_DATA)
    pid = rng.integers(0, 1 << 16, P).astype(np.uint16)
    pseq = rng.integers(1, 200, P).astype(np.uint16)
    pq = new_table(2 * P)
    pq["ts"] = np.concatenate([pt0, pt0 + prtt])
    lay_p = layout_ids(pvlan, np.where(pv6, 6, 4), "icmp")
    pq["layout"] = np.concatenate([lay_p, lay_p])
    pq["dir"] = np.repeat([0, 1], P)
    pq["vlan"] = np.concatenate([ptci, ptci])
    pq["src"] = np.concatenate([pcli, ptgt])
    pq["dst"] = np.concatenate([ptgt, pcli])
    pq["spfx"] = np.repeat([0, 1], P)
    pq["dpfx"] = np.repeat([1, 0], P)
    pq["ttl"] = np.concatenate([np.full(P, 64), np.full(P, 57)])
    pq["ipid"] = rng.integers(0, 1 << 16, 2 * P).astype(np.uint16)
    pv6x2 = np.concatenate([pv6, pv6])
    pq["icmp_type"] = np.where(pv6x2, np.repeat([128, 129], P), np.repeat([8, 0], P))
    pq["sport"] = np.concatenate([pid, pid])
    pq["dport"] = np.concatenate([pseq, pseq])
    pq["paylen"] = len(PING_DATA)
    pq["po"] = ping_off

    t = sort_table(concat_tables([tcp, dq, dr, ue, pq]))
    return t, pool.finish(), {"nanosec": False, "pad_min": MIN_FRAME}


def _occurrence(ids):
    """For each element, how many earlier elements have the same id."""
    order = np.argsort(ids, kind="stable")
    s = ids[order]
    first = np.concatenate([[0], np.flatnonzero(s[1:] != s[:-1]) + 1])
    start = np.repeat(first, np.diff(np.concatenate([first, [len(s)]])))
    occ = np.empty(len(ids), np.int64)
    occ[order] = np.arange(len(ids)) - start
    return occ


def pool_bytes(pool, off, ln):
    """Bytes of the (unfinished) pool at [off, off+ln)."""
    pos = 0
    for part in pool.parts:
        if pos <= off < pos + len(part):
            return part[off - pos: off - pos + ln]
        pos += len(part)
    raise IndexError(off)


BUILDERS = {"synflood": build_synflood, "bulk": build_bulk, "mix": build_mix}


# --------------------------------------------------------------------------
# files

def trace_path(name, scale, out=None):
    out = out or DEFAULT_OUT
    return os.path.join(out, f"{name}-x{scale:g}.pcap")


def sidecar_path(path):
    return os.path.splitext(path)[0] + ".json"


def _params(name, scale):
    return {"trace": name, "scale": float(scale), "gen_version": GEN_VERSION}


def load_meta(path):
    try:
        with open(sidecar_path(path)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def is_current(name, scale, out=None):
    path = trace_path(name, scale, out)
    meta = load_meta(path)
    return (meta is not None and meta.get("params") == _params(name, scale)
            and os.path.exists(path) and os.path.getsize(path) == meta.get("file_bytes"))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(16 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def generate(name, scale=1.0, out=None, force=False, log=print):
    """Generate one trace (unless current); returns (path, meta)."""
    if name not in BUILDERS:
        raise ValueError(f"unknown trace {name!r} (choose from {', '.join(TRACES)})")
    if not scale > 0:
        raise ValueError("scale must be > 0")
    path = trace_path(name, scale, out)
    if not force and is_current(name, scale, out):
        meta = load_meta(path)
        if log:
            log(f"{name}: {path} is current ({meta['packets']:,} packets), skipped")
        return path, meta
    os.makedirs(os.path.dirname(path), exist_ok=True)
    t0 = time.perf_counter()
    table, pool, opts = BUILDERS[name](scale)
    table = finalize(table)
    t1 = time.perf_counter()
    tmp = path + ".tmp"
    packets, captured = write_pcap(tmp, table, pool, opts["nanosec"], opts["pad_min"])
    t2 = time.perf_counter()
    digest = sha256_file(tmp)
    os.replace(tmp, path)
    meta = {
        "params": _params(name, scale),
        "packets": packets,
        "captured_bytes": captured,
        "file_bytes": os.path.getsize(path),
        "ts_resolution": "ns" if opts["nanosec"] else "us",
        "linktype": LINKTYPE_ETHERNET,
        "sha256": digest,
        "build_seconds": round(t1 - t0, 3),
        "write_seconds": round(t2 - t1, 3),
    }
    with open(sidecar_path(path) + ".tmp", "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    os.replace(sidecar_path(path) + ".tmp", sidecar_path(path))
    if log:
        log(f"{name}: wrote {path}: {packets:,} packets, {captured / 1e6:,.1f} MB captured, "
            f"{meta['file_bytes'] / 1e6:,.1f} MB file in {t2 - t0:.1f} s "
            f"(build {t1 - t0:.1f} s, write {t2 - t1:.1f} s)")
    return path, meta


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.gen", description=__doc__.split("\n\n")[0])
    ap.add_argument("trace", choices=TRACES + ("all",))
    ap.add_argument("--scale", type=float, default=1.0, help="multiply packet/connection counts (default 1)")
    ap.add_argument("--out", default=None, help=f"output folder (default {DEFAULT_OUT})")
    ap.add_argument("--force", action="store_true", help="regenerate even if current")
    args = ap.parse_args(argv)
    names = TRACES if args.trace == "all" else (args.trace,)
    for name in names:
        generate(name, args.scale, args.out, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
