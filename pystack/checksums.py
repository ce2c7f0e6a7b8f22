"""Checksum policy: which bad checksums in a capture count as errors.

A capture taken on a host whose NIC computes TX checksums (every modern
Linux host: ``ethtool -k`` ``tx-checksumming: on``) records that host's own
outbound TCP/UDP packets before the NIC finishes them: the kernel leaves
CHECKSUM_PARTIAL skbs with only the pseudo-header sum in the field
(``__tcp_v4_send_check``: ``th->check = ~tcp_v4_check(len, saddr, daddr,
0)``), and other stacks leave zero or garbage.  Replaying those as bad
checksums would drop every packet the host sent.  Hence three modes:

``verify``
    every BAD and PARTIAL checksum is an error (what a receiving Linux with
    CHECKSUM_NONE would do).
``ignore``
    nothing is verified; ``verify_batch`` is not even run, all statuses stay
    UNCHECKED (and no IP_CSUM drop is set).
``auto`` (default)
    detect offloading senders.  Per (interface, source address), over TCP
    and UDP rows whose checksum was verified (OK/BAD/PARTIAL/ZERO), count
    BAD+PARTIAL vs total; once a source reaches ``min_packets`` verified
    packets with a BAD+PARTIAL share >= ``ratio`` it is declared an
    offloading sender, for the rest of the run.  Only senders of at least
    one BAD/PARTIAL sum are tracked (at most MAX_TRACKED of them; the report
    says when the cap was reached), and a sender's evidence counts from the
    batch holding its first such sum: a flood from millions of sources with
    good sums costs nothing, and an offloading host sends nothing but
    partial sums anyway.  Its BAD/PARTIAL TCP/UDP
    checksums become OFFLOADED (not errors).  Independently, rows captured
    as LINUX_SLL/SLL2 ``pkt_type`` OUTGOING whose sum is PARTIAL are
    OFFLOADED at once: the capture says outright that they were on their
    way out of this host.

Limitation (documented decision): detection runs per batch, before
reclassification of that same batch.  A source that crosses the threshold in
batch k has all of batch k's BAD/PARTIAL rows reclassified (earlier rows of
that batch included), but rows of batches before k were already handed on
as errors and are not revised.  With the default 20-packet threshold and
64 Ki-row batches this only matters for a sender whose first few packets
fall at the very end of a batch.  Decisions are sticky: a declared source
stays declared even if it later sends good checksums (an offloading host
also sends software-checksummed packets, e.g. when it retransmits via a
path without offload), so a genuinely corrupted packet from a declared
sender is not counted.  IPv4 *header* checksums are never reclassified:
Linux computes them in software (``ip_send_check``), so a bad one is real.

After ``process``, the stack model treats ``l4_csum`` in ``ERROR_STATUSES``
(BAD, PARTIAL) as a checksum drop (TCP_CSUM / UDP_CSUM / ICMP_CSUM) and
everything else (OK, ZERO, TRUNCATED, UNCHECKED, OFFLOADED) as acceptable;
``error_mask`` computes that.  Only per-batch numpy work happens here, and
a Python loop over the batch's distinct sources: never per packet.
"""

from __future__ import annotations

import ipaddress

import numpy as np

from pystack import vocab

CS_UNCHECKED = vocab.csum_code("UNCHECKED")
CS_OK = vocab.csum_code("OK")
CS_BAD = vocab.csum_code("BAD")
CS_ZERO = vocab.csum_code("ZERO")
CS_PARTIAL = vocab.csum_code("PARTIAL")
CS_TRUNCATED = vocab.csum_code("TRUNCATED")
CS_OFFLOADED = vocab.csum_code("OFFLOADED")

#: l4_csum statuses the stack model treats as a checksum error.
ERROR_STATUSES = (CS_BAD, CS_PARTIAL)

PKTTYPE_OUTGOING = 4          # linux/if_packet.h PACKET_OUTGOING
_TCP, _UDP = 6, 17
MODES = ("verify", "ignore", "auto")
#: auto mode tracks at most this many candidate senders (bounded memory).
MAX_TRACKED = 1 << 16

_COUNT_KEYS = (
    "ip_ok", "ip_bad", "ip_truncated",
    "l4_ok", "l4_bad", "l4_zero", "l4_partial", "l4_truncated", "l4_unchecked",
    "tcp_bad", "udp_bad", "icmp_bad", "icmp6_bad", "tcp_partial", "udp_partial",
)


class _Source:
    __slots__ = ("iface", "addr", "total", "bad", "partial", "offloading",
                 "declared_batch", "offloaded")

    def __init__(self, iface: int, addr: bytes):
        self.iface = iface
        self.addr = addr
        self.total = 0          # verified TCP/UDP packets
        self.bad = 0            # of which BAD
        self.partial = 0        # of which PARTIAL
        self.offloading = False
        self.declared_batch = -1
        self.offloaded = 0      # rows reclassified OFFLOADED


def _addr_text(addr: bytes) -> str:
    a = ipaddress.IPv6Address(addr)
    return str(a.ipv4_mapped) if a.ipv4_mapped is not None else str(a)


_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_M3 = np.uint64(0x165667B19E3779F9)


class _SourceTable:
    """(interface, 16-byte source address) -> dense source id, batch at a time.

    Rows are looked up by a 64-bit hash in an open-addressing table (linear
    probing) with vectorised probes: a couple of gathers per row and no sort
    of the batch, which np.unique/np.searchsorted would need (several ms per
    64 Ki rows).  Only hashes not seen before reach Python, once per new
    source.  The lookup is exact: each row's interface and address are
    compared with its source's, and rows that disagree (a 64-bit hash
    collision) are resolved through the dict of exact keys.
    """

    def __init__(self):
        self.sources: list[_Source] = []
        self.by_key: dict[tuple[int, bytes], int] = {}
        self._bits = 10
        self._th = np.zeros(1 << self._bits, np.uint64)    # slot -> hash
        self._tid = np.zeros(1 << self._bits, np.int64)    # slot -> source id + 1 (0: empty)
        self._used = 0
        self._maxprobe = 0
        self._w0 = np.empty(64, np.uint64)     # per source id: address words, interface
        self._w1 = np.empty(64, np.uint64)     # (capacity doubles: amortised O(1) adds)
        self._if = np.empty(64, np.uint32)

    def __len__(self) -> int:
        return len(self.sources)

    def _add(self, iface: int, addr: bytes) -> int:
        key = (iface, addr)
        sid = self.by_key.get(key)
        if sid is None:
            sid = self.by_key[key] = len(self.sources)
            self.sources.append(_Source(iface, addr))
            if sid == self._w0.size:
                self._w0 = np.concatenate([self._w0, np.empty_like(self._w0)])
                self._w1 = np.concatenate([self._w1, np.empty_like(self._w1)])
                self._if = np.concatenate([self._if, np.empty_like(self._if)])
            w = np.frombuffer(addr, np.uint64)
            self._w0[sid] = w[0]
            self._w1[sid] = w[1]
            self._if[sid] = iface
        return sid

    @staticmethod
    def _hash(w0, w1, iface):
        with np.errstate(over="ignore"):
            h = (w0 * _M1) ^ (w1 * _M2) ^ (iface.astype(np.uint64) * _M3)
            h ^= h >> np.uint64(29)
        return h

    def _slot(self, h):
        return (h >> np.uint64(64 - self._bits)).astype(np.intp)

    def _insert(self, h: int, sid: int) -> None:
        if 4 * (self._used + 1) > self._th.size:     # load <= 1/4: probes stay short
            old = [(int(hh), int(t) - 1) for hh, t in zip(self._th, self._tid) if t]
            self._bits += 1
            self._th = np.zeros(1 << self._bits, np.uint64)
            self._tid = np.zeros(1 << self._bits, np.int64)
            self._used = 0
            self._maxprobe = 0
            for hh, t in old:
                self._insert(hh, t)
        mask = self._th.size - 1
        slot = int(h >> (64 - self._bits))
        probe = 0
        while self._tid[slot]:
            slot = (slot + 1) & mask
            probe += 1
        self._th[slot] = h
        self._tid[slot] = sid + 1
        self._used += 1
        self._maxprobe = max(self._maxprobe, probe)

    def _lookup(self, h: np.ndarray) -> np.ndarray:
        """Source id per hash, -1 where the hash is not in the table."""
        slot = self._slot(h)
        t = self._tid[slot]
        sid = t - 1
        ok = (t != 0) & (self._th[slot] == h)
        if ok.all():                    # the common case: every row in one probe
            return sid
        sid[~ok] = -1
        idx = np.flatnonzero(~ok & (t != 0))     # occupied by another hash: probe on
        mask = self._th.size - 1
        hs = h[idx]
        slot = slot[idx]
        for _ in range(self._maxprobe):
            if not idx.size:
                break
            slot = (slot + 1) & mask
            t = self._tid[slot]
            found = (t != 0) & (self._th[slot] == hs)
            sid[idx[found]] = t[found] - 1
            go_on = ~found & (t != 0)
            idx, hs, slot = idx[go_on], hs[go_on], slot[go_on]
        return sid

    def ids(self, iface_all: np.ndarray, saddr_all: np.ndarray, rows: np.ndarray,
            insert: bool = True, limit: int | None = None) -> np.ndarray:
        """Source id of each of `rows` (indices into the batch's columns).

        insert=False only looks up: rows of unknown sources get -1.  With
        insert, at most `limit` sources are kept in all; rows of sources
        beyond it get -1 too.
        """
        if not insert and not self.sources:
            return np.full(rows.size, -1, np.int64)
        w = np.ascontiguousarray(saddr_all, np.uint8).view(np.uint64)   # (n, 2)
        iface = np.asarray(iface_all, np.uint32)
        if rows.size == iface.size:     # every row (rows is then arange): no gathers
            w0, w1 = w[:, 0], w[:, 1]
        else:
            w0, w1, iface = w[:, 0][rows], w[:, 1][rows], iface[rows]
        h = self._hash(w0, w1, iface)
        sid = self._lookup(h)
        miss = np.flatnonzero(sid < 0)
        if miss.size and insert:
            new_h, first = np.unique(h[miss], return_index=True)
            rep = miss[first]
            if limit is not None:
                rep = rep[:max(0, limit - len(self.sources))]
            addrs = np.ascontiguousarray(saddr_all, np.uint8)[rows[rep]]
            for k, r in enumerate(rep):             # once per new source
                self._insert(int(h[r]), self._add(int(iface[r]), addrs[k].tobytes()))
            sid[miss] = self._lookup(h[miss])
        known = np.flatnonzero(sid >= 0)
        ks = sid[known]
        wrong = known[(self._w0[ks] != w0[known]) | (self._w1[ks] != w1[known])
                      | (self._if[ks] != iface[known])]
        if wrong.size:
            # Hash collision: resolve these rows by their exact keys.
            addrs = np.ascontiguousarray(saddr_all, np.uint8)[rows[wrong]]
            keys = np.empty((wrong.size, 20), np.uint8)
            keys[:, :4] = iface[wrong].astype(">u4").view(np.uint8).reshape(-1, 4)
            keys[:, 4:] = addrs
            _, first, inv = np.unique(keys.view("V20").ravel(), return_index=True,
                                      return_inverse=True)
            if insert:
                gid = np.array([self._add(int(iface[wrong[f]]), addrs[f].tobytes())
                                for f in first], np.int64)
            else:
                gid = np.array([self.by_key.get((int(iface[wrong[f]]), addrs[f].tobytes()), -1)
                                for f in first], np.int64)
            sid[wrong] = gid[inv.ravel()]
        return sid


class ChecksumPolicy:
    """Decides which checksum failures count; see the module docstring.

    ``min_packets``/``ratio``: the auto-mode evidence threshold.
    """

    def __init__(self, mode: str = "auto", *, min_packets: int = 20, ratio: float = 0.9):
        if mode not in MODES:
            raise ValueError(f"checksum mode must be one of {MODES}, not {mode!r}")
        if min_packets < 1:
            raise ValueError("min_packets must be >= 1")
        if not 0.0 < ratio <= 1.0:
            raise ValueError("ratio must be in (0, 1]")
        self.mode = mode
        self.min_packets = int(min_packets)
        self.ratio = float(ratio)
        self.batches = 0
        self.packets = 0
        self.totals = {k: 0 for k in _COUNT_KEYS}
        self.totals["l4_offloaded"] = 0
        self.errors = 0          # ip_bad + L4 BAD/PARTIAL not reclassified
        self.l4_errors = 0
        self._table = _SourceTable()
        self.max_tracked = MAX_TRACKED
        self.capped = False      # more candidate senders than max_tracked were seen
        self._declared = np.zeros(0, bool)     # per source id

    # ------------------------------------------------------------------
    def process(self, rb, cols) -> None:
        """Classify the checksums of rows [0, cols.n) of one batch, in place."""
        n = cols.n
        self.batches += 1
        self.packets += n
        if self.mode == "ignore":
            cols.arrays["ip_csum"][:n] = CS_UNCHECKED
            cols.arrays["l4_csum"][:n] = CS_UNCHECKED
            return
        from pystack._core.checksum import batch_counts, verify_batch

        # parse_batch(..., verify_checksums=True) already classified the rows
        # while their bytes were hot; otherwise verify now.
        counts = batch_counts(cols) if cols.csum_verified else verify_batch(rb, cols)
        for k in _COUNT_KEYS:
            self.totals[k] += counts[k]
        if self.mode == "auto" and n:
            self.totals["l4_offloaded"] += self._auto(rb, cols, n)
        l4 = cols.arrays["l4_csum"][:n]
        l4_err = int(np.count_nonzero((l4 == CS_BAD) | (l4 == CS_PARTIAL)))
        self.l4_errors += l4_err
        self.errors += l4_err + counts["ip_bad"]

    def _auto(self, rb, cols, n: int) -> int:
        a = cols.arrays
        l4 = a["l4_csum"][:n]
        proto = a["ip_proto"][:n]
        # 1. Outgoing packets (SLL/SLL2 pkt_type) with a partial sum.
        out = (a["pkt_type"][:n] == PKTTYPE_OUTGOING) & (l4 == CS_PARTIAL)
        # 2. Per-source evidence over verified TCP/UDP rows.
        verified = (l4 == CS_OK) | (l4 == CS_BAD) | (l4 == CS_PARTIAL) | (l4 == CS_ZERO)
        rows = np.flatnonzero(verified & ((proto == _TCP) | (proto == _UDP)))
        if rows.size:
            # Only senders of at least one BAD/PARTIAL sum are candidates, so
            # a SYN flood from millions of spoofed sources with good sums
            # costs nothing here; the table is capped at MAX_TRACKED.
            st = l4[rows]
            isbad = (st == CS_BAD) | (st == CS_PARTIAL)
            if isbad.any():
                self._table.ids(rb.iface_arr[:n], a["saddr"][:n], rows[isbad],
                                limit=self.max_tracked)
            sid = self._table.ids(rb.iface_arr[:n], a["saddr"][:n], rows, insert=False)
            tracked = sid >= 0
            if not self.capped and not tracked[isbad].all():
                self.capped = True
            rows, sid, st, isbad = rows[tracked], sid[tracked], st[tracked], isbad[tracked]
            nsrc = len(self._table.sources)
            total = np.bincount(sid, minlength=nsrc)
            bad = np.bincount(sid[st == CS_BAD], minlength=nsrc)
            part = np.bincount(sid[st == CS_PARTIAL], minlength=nsrc)
            if self._declared.size < nsrc:
                self._declared = np.concatenate(
                    [self._declared, np.zeros(nsrc - self._declared.size, bool)])
            for j in np.flatnonzero(total):     # per distinct source, not per packet
                src = self._table.sources[j]
                src.total += int(total[j])
                src.bad += int(bad[j])
                src.partial += int(part[j])
                if (not src.offloading and src.total >= self.min_packets
                        and src.bad + src.partial >= self.ratio * src.total):
                    src.offloading = True
                    src.declared_batch = self.batches
                    self._declared[j] = True
            hit = self._declared[sid] & isbad
            if hit.any():
                per = np.bincount(sid[hit], minlength=nsrc)
                for j in np.flatnonzero(per):
                    self._table.sources[j].offloaded += int(per[j])
                out[rows[hit]] = True
        offloaded = int(np.count_nonzero(out))
        if offloaded:
            l4[out] = CS_OFFLOADED
        return offloaded

    # ------------------------------------------------------------------
    @staticmethod
    def error_mask(cols) -> np.ndarray:
        """Rows [0, cols.n) whose L4 checksum the stack model must treat as bad."""
        l4 = cols.arrays["l4_csum"][: cols.n]
        return (l4 == CS_BAD) | (l4 == CS_PARTIAL)

    def offloading_sources(self) -> list[dict]:
        """The declared offloading senders, most packets first."""
        out = []
        for j in np.flatnonzero(self._declared):
            s = self._table.sources[j]
            out.append({
                "source": _addr_text(s.addr), "iface": s.iface,
                "packets": s.total, "bad": s.bad, "partial": s.partial,
                "offloaded": s.offloaded, "declared_in_batch": s.declared_batch,
            })
        out.sort(key=lambda d: (-d["packets"], d["iface"], d["source"]))
        return out

    def report(self) -> dict:
        """What the policy decided, for the run summary (JSON-serialisable)."""
        return {
            "mode": self.mode,
            "min_packets": self.min_packets,
            "ratio": self.ratio,
            "batches": self.batches,
            "packets": self.packets,
            "offloading_sources": self.offloading_sources() if self.mode == "auto" else [],
            "sources_tracked": len(self._table.sources),
            "tracking_capped": self.capped,
            "totals": dict(self.totals),
            "errors": self.errors,
            "l4_errors": self.l4_errors,
            "ip_errors": self.totals["ip_bad"],
        }

    def describe(self) -> str:
        """One line for the CLI."""
        if self.mode == "ignore":
            return "ignore: checksums not verified"
        tail = f"{self.errors:,} bad checksum{'s' if self.errors != 1 else ''} counted"
        if self.mode == "verify":
            return f"verify: {tail}"
        srcs = self.offloading_sources()
        if not srcs:
            return f"auto: no offloading sender detected; {tail}"
        multi_if = np.unique(self._table._if[:len(self._table)]).size > 1
        parts = []
        for s in srcs[:3]:
            what = ("partial" if s["bad"] == 0 else "bad" if s["partial"] == 0
                    else "partial or bad")
            name = s["source"] + (f" on if{s['iface']}" if multi_if else "")
            parts.append(f"{name} sends offloaded checksums "
                         f"({s['bad'] + s['partial']:,}/{s['packets']:,} {what})")
        if len(srcs) > 3:
            parts.append(f"{len(srcs) - 3} more senders")
        return "auto: " + ", ".join(parts) + f"; {tail}"
