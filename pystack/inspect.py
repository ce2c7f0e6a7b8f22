"""`pystack inspect`: what a capture holds, computed batch by batch.

Each batch is read, parsed and checksum-verified by the compiled core; the
statistics here are numpy reductions over the batch's columns (Python runs
once per batch, never per packet).  Memory is bounded: the host table keeps
at most HOST_LIMIT distinct addresses (those keep exact counts) and says
when it stopped adding new ones.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import ipaddress
import os

import numpy as np

from pystack import vocab
from pystack.capture import CaptureError, LINKTYPE_NAMES, open_capture
from pystack.checksums import ChecksumPolicy
from pystack._core.parse import PacketColumns, parse_batch

HOST_LIMIT = 200_000

# PF_* bits from pyx/parse.pxd, mirrored for numpy masks.
from pystack._core.parse import PF_FLAGS as _PF  # noqa: E402

_PROTO_NAMES = {6: "TCP", 17: "UDP", 1: "ICMP", 58: "ICMPv6"}


def linktype_name(lt: int) -> str:
    return LINKTYPE_NAMES.get(lt, f"LINKTYPE_{lt}")


@dataclasses.dataclass
class InspectReport:
    files: list = dataclasses.field(default_factory=list)
    interfaces: list = dataclasses.field(default_factory=list)
    packets: int = 0
    captured_bytes: int = 0
    wire_bytes: int = 0
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    linktypes: dict = dataclasses.field(default_factory=dict)       # name -> packets
    unsupported_linktypes: dict = dataclasses.field(default_factory=dict)
    l3: dict = dataclasses.field(default_factory=dict)               # IPv4 / IPv6 / other
    l4: dict = dataclasses.field(default_factory=dict)               # TCP / UDP / ICMP / ...
    vlan_tagged: int = 0
    fragments: int = 0
    truncated: int = 0
    malformed: dict = dataclasses.field(default_factory=dict)        # drop reason -> packets
    hosts: list = dataclasses.field(default_factory=list)            # [(address, packets)]
    distinct_hosts: int = 0
    hosts_capped: bool = False
    checksums: dict = dataclasses.field(default_factory=dict)
    checksum_summary: str = ""
    warnings: list = dataclasses.field(default_factory=list)
    error: str | None = None

    @property
    def duration_s(self) -> float:
        if self.first_ts_ns is None:
            return 0.0
        return (self.last_ts_ns - self.first_ts_ns) / 1e9

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["duration_s"] = self.duration_s
        d["hosts"] = [{"address": a, "packets": n} for a, n in self.hosts]
        return d

    def format_text(self) -> str:
        out = []
        for f in self.files:
            comp = ", gzip" if f.get("compressed") else ""
            out.append(f"file        {f['path']}  ({f['format']}{comp}, {_size(f.get('size', 0))})")
        if self.linktypes or self.unsupported_linktypes:
            lts = {**self.linktypes, **self.unsupported_linktypes}
            out.append("link types  " + ", ".join(f"{k} {v:,}" for k, v in lts.items()))
        named = [i for i in self.interfaces if i.get("name")]
        if named:
            out.append("interfaces  " + ", ".join(f"{i['name']} ({i['linktype_name']})" for i in named))
        out.append(f"packets     {self.packets:,}  (captured {_size(self.captured_bytes)}, "
                   f"on the wire {_size(self.wire_bytes)})")
        if self.first_ts_ns is not None:
            out.append(f"time        {_ts(self.first_ts_ns)} .. {_ts(self.last_ts_ns)}  "
                       f"({self.duration_s:.6f} s)")
        if self.packets:
            out.append("network     " + _shares(self.l3, self.packets))
            ip = self.l3.get("IPv4", 0) + self.l3.get("IPv6", 0)
            if ip:
                out.append("transport   " + _shares(self.l4, ip))
        out.append(f"vlan        {self.vlan_tagged:,} tagged    fragments {self.fragments:,}    "
                   f"truncated {self.truncated:,} (caplen < wire length)")
        if self.hosts:
            more = "+" if self.hosts_capped else ""
            out.append(f"hosts       {self.distinct_hosts:,}{more} distinct; top by packets:")
            for addr, n in self.hosts:
                out.append(f"            {addr:<40} {n:,}")
        if self.checksums:
            c = self.checksums
            out.append(f"checksums   IPv4 header bad {c.get('ip_bad', 0):,}; "
                       f"TCP bad {c.get('tcp_bad', 0):,}, UDP bad {c.get('udp_bad', 0):,}, "
                       f"ICMP bad {c.get('icmp_bad', 0) + c.get('icmp6_bad', 0):,}; "
                       f"partial {c.get('l4_partial', 0):,}; "
                       f"not verifiable (truncated) {c.get('l4_truncated', 0):,}")
        if self.checksum_summary:
            out.append(f"            {self.checksum_summary}")
        if self.malformed:
            out.append("malformed   " + ", ".join(f"{k} {v:,}" for k, v in self.malformed.items()))
        for lt, n in self.unsupported_linktypes.items():
            out.append(f"note        link type {lt} is not supported: {n:,} packets were not parsed")
        for w in self.warnings:
            out.append(f"warning     {w}")
        if self.error:
            out.append(f"error       {self.error}")
            out.append("            (the summary above covers the packets before the error)")
        return "\n".join(out) + "\n"


def inspect_capture(paths, checksum: str = "auto", batch_size: int = 65536,
                    top: int = 10) -> InspectReport:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    rep = InspectReport()
    policy = ChecksumPolicy(checksum)
    cols = PacketColumns(batch_size)
    lt_counts: dict[int, int] = {}
    l3 = np.zeros(3, np.int64)                 # IPv4, IPv6, other
    proto_counts = np.zeros(256, np.int64)
    reason_counts = np.zeros(len(vocab.DROP_REASONS), np.int64)
    hosts = _Hosts(HOST_LIMIT)
    cap = open_capture(paths, batch_size=batch_size)
    try:
        with cap:
            try:
                for rb in cap:
                    n = parse_batch(rb, cols, verify_checksums=(checksum != "ignore"))
                    if n == 0:
                        continue
                    policy.process(rb, cols)
                    b = rb.columns()
                    c = cols.to_dict()
                    rep.packets += n
                    rep.captured_bytes += int(b["caplen"].sum(dtype=np.int64))
                    rep.wire_bytes += int(b["wirelen"].sum(dtype=np.int64))
                    ts = b["ts_ns"]
                    lo, hi = int(ts.min()), int(ts.max())
                    rep.first_ts_ns = lo if rep.first_ts_ns is None else min(rep.first_ts_ns, lo)
                    rep.last_ts_ns = hi if rep.last_ts_ns is None else max(rep.last_ts_ns, hi)
                    vals, cnts = np.unique(b["linktype"], return_counts=True)
                    for v, k in zip(vals.tolist(), cnts.tolist()):
                        lt_counts[v] = lt_counts.get(v, 0) + k
                    flags = c["flags"]
                    is4 = (flags & _PF["PF_IPV4"]) != 0
                    is6 = (flags & _PF["PF_IPV6"]) != 0
                    n4, n6 = int(is4.sum()), int(is6.sum())
                    l3 += (n4, n6, n - n4 - n6)
                    isip = is4 | is6
                    proto_counts += np.bincount(c["ip_proto"][isip], minlength=256)
                    reason_counts += np.bincount(c["status"], minlength=len(vocab.DROP_REASONS))
                    rep.vlan_tagged += int(((flags & (_PF["PF_VLAN"] | _PF["PF_QINQ"])) != 0).sum())
                    rep.fragments += int(((flags & _PF["PF_FRAG"]) != 0).sum())
                    rep.truncated += int(((flags & _PF["PF_TRUNCATED"]) != 0).sum())
                    if top:
                        hosts.add(c, is4, is6)
            except CaptureError as e:
                rep.error = str(e)
    finally:
        rep.files = [dict(f) for f in cap.files]
        rep.interfaces = [dict(i) for i in cap.interfaces]
        rep.warnings = list(cap.warnings)
    for lt, k in sorted(lt_counts.items(), key=lambda kv: -kv[1]):
        (rep.linktypes if _supported(lt) else rep.unsupported_linktypes)[linktype_name(lt)] = k
    rep.l3 = {k: int(v) for k, v in zip(("IPv4", "IPv6", "other"), l3) if v}
    for p in np.nonzero(proto_counts)[0].tolist():
        rep.l4[_PROTO_NAMES.get(p, f"proto {p}")] = int(proto_counts[p])
    rep.l4 = dict(sorted(rep.l4.items(), key=lambda kv: -kv[1]))
    for code in np.nonzero(reason_counts)[0].tolist():
        if code != 0 and vocab.DROP_REASONS[code] != "UNHANDLED_PROTO":
            rep.malformed[vocab.DROP_REASONS[code]] = int(reason_counts[code])
    rep.distinct_hosts = hosts.distinct
    rep.hosts_capped = hosts.capped
    rep.hosts = hosts.top(top)
    rep.checksums = policy.report()["totals"]
    rep.checksum_summary = policy.describe()
    return rep


def _supported(lt: int) -> bool:
    from pystack._core.parse import SUPPORTED_LINKTYPES
    return lt in SUPPORTED_LINKTYPES


class _HostCounter:
    """Packets per address (as source or destination), numpy only.

    Keys are 16-byte addresses kept sorted; each batch is reduced with
    np.unique and merged with searchsorted, so there is no Python per host.
    At most `limit` addresses are kept: after that, known addresses are
    still counted exactly, new ones are not (`capped` says so).
    """

    def __init__(self, limit: int, dtype):
        self.limit = limit
        self.keys = np.empty(0, dtype)
        self.counts = np.empty(0, np.int64)
        self.capped = False

    def add(self, src: np.ndarray, dst: np.ndarray) -> None:
        both = np.concatenate([src, dst])
        if both.size == 0:
            return
        vals, cnts = np.unique(both, return_counts=True)
        pos = np.searchsorted(self.keys, vals)
        pos_c = np.minimum(pos, max(self.keys.size - 1, 0))
        known = (self.keys.size > 0) & (self.keys[pos_c] == vals) if self.keys.size else \
            np.zeros(vals.size, bool)
        np.add.at(self.counts, pos_c[known], cnts[known])
        new = ~known
        room = self.limit - self.keys.size
        if new.any():
            nv, nc = vals[new], cnts[new]
            if nv.size > room:
                self.capped = True
                nv, nc = nv[:max(room, 0)], nc[:max(room, 0)]
            if nv.size:
                keys = np.concatenate([self.keys, nv])
                counts = np.concatenate([self.counts, nc])
                order = np.argsort(keys, kind="stable")
                self.keys, self.counts = keys[order], counts[order]

    def top(self, k: int) -> list:
        """[(key, packets)], most packets first, ties in key order."""
        if k <= 0 or self.keys.size == 0:
            return []
        order = np.argsort(-self.counts, kind="stable")[:k]
        return [(self.keys[i], int(self.counts[i])) for i in order]


class _Hosts:
    """IPv4 addresses as exact uint32 keys (a fast numeric sort), IPv6 as
    16-byte keys; each family keeps at most HOST_LIMIT addresses."""

    def __init__(self, limit: int):
        self.v4 = _HostCounter(limit, np.uint32)
        self.v6 = _HostCounter(limit, "V16")

    def add(self, c: dict, is4: np.ndarray, is6: np.ndarray) -> None:
        self.v4.add(c["saddr4"][is4], c["daddr4"][is4])
        if is6.any():
            self.v6.add(c["saddr"][is6].view("V16").ravel(), c["daddr"][is6].view("V16").ravel())

    @property
    def distinct(self) -> int:
        return int(self.v4.keys.size + self.v6.keys.size)

    @property
    def capped(self) -> bool:
        return self.v4.capped or self.v6.capped

    def top(self, k: int) -> list:
        both = [(str(ipaddress.IPv4Address(int(a))), n) for a, n in self.v4.top(k)]
        both += [(str(ipaddress.IPv6Address(a.tobytes())), n) for a, n in self.v6.top(k)]
        both.sort(key=lambda an: -an[1])      # stable: IPv4 before IPv6 on ties
        return both[:k]


def _shares(d: dict, total: int) -> str:
    return ", ".join(f"{k} {v:,} ({100.0 * v / total:.1f}%)" for k, v in d.items())


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n}"


def _ts(ns: int) -> str:
    sec, frac = divmod(ns, 1_000_000_000)
    t = _dt.datetime.fromtimestamp(sec, _dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"
