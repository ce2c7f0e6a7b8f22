"""Kernel profiles: every version-dependent rule and constant in one place.

The model follows one Linux version at a time.  Whatever differs between the
versions it knows -- a comparison in a queue-full test, a sysctl default, a
drop reason or counter that does not exist yet, a formula variant -- lives in
a :class:`KernelProfile` here, never as a scattered constant in the engine.

Profiles (sources: /work/shared/linux-semantics.md, "the sheet"):

* ``"6.18"`` (default): the reference kernel 6.18.44 (sheet section 0).
* ``"6.12"``: Debian 6.12.117; only the differences listed in sheet section 10
  are applied, everything else is taken to be as in 6.18.
* ``"7.3"``: Debian 7.3.4, likewise from sheet sections 6.2 and 10.

Machine-dependent defaults (those computed from RAM or hash sizes at boot:
tcp_mem, udp_mem, tcp_max_syn_backlog, nf_conntrack_max/buckets) are the
values of the reference machine (sheet section 9) in every profile.

Items the sheet marks *unconfirmed* are marked so in the comments below.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from pystack import vocab

NS_PER_S = 1_000_000_000

# --- how the capture host's driver builds received skbs ------------------------
#: skb_coalesce modes (HostConfig.skb_coalesce, Replay(coalesce=)); the engine's
#: COALESCE_* codes in this order.  "none": every segment keeps its own skb
#: (no tcp_try_coalesce); "frags": payload in a page frag (header-split / GRO
#: frags NICs); "head": linear skbs whose page-frag head is stolen (build_skb /
#: napi_alloc_skb); "veth": the sender's cloned skb (frags) that stays cloned
#: -- not coalescable -- until the sender frees its original on the ACK.
SKB_COALESCE_MODES = ("none", "frags", "head", "veth")
#: "veth": time from the host's ACK to the sender freeing its original (the
#: tail skb stops being cloned); a sender inside sendmsg owns its socket and
#: takes the ACK only at release_sock (slow-reader recording: the second
#: segment arrived 7 us after the ACK of the first and was not coalesced).
VETH_CLONE_FREE_NS = 100_000
#: "veth": the segments of one software-GSO skb arrive back to back (3-4 us
#: apart in the slow-reader recording; separately sent skbs 20 us and more).
VETH_GSO_GAP_NS = 10_000

# --- tcp_can_ingest() variants (net/ipv4/tcp_input.c: tcp_can_ingest) -------
#: <= 6.16, 7.0+, and 6.18.y after the stable backport of
#: "tcp: give up on stronger sk_rcvbuf checks (for now)": rmem_alloc <= rcvbuf.
CAN_INGEST_RMEM_ALLOC = "rmem_alloc<=rcvbuf"
#: 6.17: rmem_alloc + skb->truesize <= rcvbuf.
CAN_INGEST_TRUESIZE = "rmem_alloc+truesize<=rcvbuf"
#: 6.18.0: rmem_alloc + skb->len <= rcvbuf.
CAN_INGEST_LEN = "rmem_alloc+len<=rcvbuf"

# --- tcp_sequence() variants (net/ipv4/tcp_input.c: tcp_sequence) -----------
#: before 6.17: only `seq > rcv_nxt + rcv_wnd` is rejected (straddling
#: segments are accepted and trimmed).
SEQ_PRE_617 = "pre-6.17"
#: 6.17+: also the end sequence is checked (TCP_INVALID_END_SEQUENCE when
#: the receive queue is not empty), against the current right edge.
SEQ_END_617 = "6.17+ end-sequence check"
#: 7.x: as 6.17+, but against the maximum advertised right edge
#: (tcp_max_receive_window) instead of the current one.
SEQ_END_MAX_WINDOW = "7.x end-sequence check vs max right edge"

# --- inet_ehashfn() variants (net/ipv4/inet_hashtables.c: inet_ehashfn) -----
#: since 6.15: lport + jhash_3words(laddr, faddr, fport, secret + mix)
EHASH_615 = "6.15+ lport added outside jhash"
#: before: jhash_3words(laddr, faddr, (lport << 16) | fport, secret + mix)
EHASH_PRE_615 = "pre-6.15 ports inside jhash"

# --- receive-buffer autotuning (tcp_input.c: tcp_rcv_space_adjust, tcp_rcvbuf_grow)
#: before the 6.16 "tcp: receive side improvements" series (6.12): in
#: tcp_rcv_space_adjust, rcvwin = 2*copied + 16*advmss, plus 2 * rcvwin *
#: (copied - space) / space; tcp_rcv_rtt_update is a plain EWMA with
#: timestamps (a zero TS delta counts as 1 ms); tcp_mstamp refreshed.
RCVBUF_GROW_PRE_617 = "pre-6.16 tcp_rcv_space_adjust"
#: 6.16 series + 6.18 "tcp: fix too slow tcp_rcvbuf_grow() action":
#: tcp_rcvbuf_grow(sk, newval): rcvwin = 2*newval + 2 * (2*newval) *
#: (newval - oldval) / oldval (+ the out-of-order span; also called from
#: tcp_data_queue_ofo); copied excludes what is still queued; zero TS deltas
#: skipped; larger RTT samples only smoothed while the receive queue is empty.
RCVBUF_GROW_617 = "6.16+/6.18 tcp_rcvbuf_grow"
#: 7.x: as 6.18, but below tcp_rcvbuf_low_rtt (1000 us) the growth term is
#: 2 * rcvwin * rtt / tcp_rcvbuf_low_rtt (unconfirmed in detail: from the
#: patch as posted, not read from a 7.3 tree).
RCVBUF_GROW_7X_LOW_RTT = "7.x tcp_rcvbuf_grow with tcp_rcvbuf_low_rtt"
RCVBUF_GROW_PRE_616 = RCVBUF_GROW_PRE_617
RCVBUF_GROW_618 = RCVBUF_GROW_617

# --- tcp_measure_rcv_mss: window_clamp after a scaling_ratio change ----------
#: tcp_set_window_clamp(sk, tcp_win_from_space(sk, rcvbuf)) (6.14 "tcp: adjust
#: rcvq_space after updating scaling ratio", backported to 6.12.y): a larger
#: clamp raises rcv_ssthresh to min(rcv_wnd, clamp).  Measured on 6.18.44
#: (first ACK of a bulk transfer: win 67 x 1024 needs the raised rcv_ssthresh).
RATIO_CLAMP_SETTER = "tcp_set_window_clamp"
#: WRITE_ONCE(tp->window_clamp, val): rcv_ssthresh untouched (7.x source as
#: quoted from v7.2.7; unconfirmed for 7.3).
RATIO_CLAMP_ASSIGN = "assign"


def _ilog2(x: int) -> int:
    return x.bit_length() - 1


@dataclass(frozen=True)
class KernelProfile:
    """Version-dependent behaviour of one Linux kernel.

    Instances are immutable; use :func:`get_profile` to obtain one.
    """

    name: str                       # profile key: "6.18", "6.12", "7.3"
    version: str                    # exact kernel the profile describes
    description: str

    # include/net/sock.h: sk_acceptq_is_full():
    #   READ_ONCE(sk->sk_ack_backlog) > READ_ONCE(sk->sk_max_ack_backlog)
    # strict '>' in every 6.x/7.x: backlog N holds N+1 children (sheet 4.1).
    accept_queue_full_op: str = ">"
    # include/net/inet_connection_sock.h: inet_csk_reqsk_queue_is_full():
    #   inet_csk_reqsk_queue_len(sk) > READ_ONCE(sk->sk_max_ack_backlog)
    # compared with the listen() backlog, NOT tcp_max_syn_backlog (sheet 4.1).
    syn_queue_full_op: str = ">"
    # tcp_input.c: tcp_conn_request(): without syncookies a SYN is dropped when
    # max_syn_backlog - qlen < max_syn_backlog / 4 and the peer is not proven.
    syn_backlog_quarter_rule: bool = True

    # tcp_input.c: tcp_can_ingest() -- see CAN_INGEST_* above (sheet 5.6, 10.1).
    # 6.18: the March-2026 stable backport is "very likely in 6.18.44" (sheet).
    tcp_can_ingest: str = CAN_INGEST_RMEM_ALLOC
    # tcp_input.c: tcp_sequence() -- see SEQ_* above (sheet 5.7, 10.2).
    tcp_sequence: str = SEQ_END_617
    # tcp_sequence(): a segment whose only out-of-window part is the FIN is
    # accepted (Feb-2026 fix, stable backport). Unconfirmed for 6.18.44.
    tcp_sequence_fin_exception: bool = True
    # tcp_minisocks.c: tcp_timewait_state_process(): counter of a PAWS reject
    # in TIME_WAIT: PAWSTimewait since 6.16, PAWSEstab before (sheet 8.3, 10.7).
    paws_timewait_counter: str = "PAWSTimewait"
    # inet_hashtables.c: inet_ehashfn() (sheet 8.1, 10.3).
    ehash_fn: str = EHASH_615
    # tcp_input.c: tcp_rcv_space_adjust()/tcp_rcvbuf_grow() (sheet 5.5, 10.6).
    rcvbuf_grow: str = RCVBUF_GROW_617
    # tcp_input.c: tcp_measure_rcv_mss(): how window_clamp follows a new
    # scaling_ratio (RATIO_CLAMP_*).
    ratio_clamp: str = RATIO_CLAMP_SETTER
    # net.ipv4.tcp_rcvbuf_low_rtt (7.x only; usec), see RCVBUF_GROW_7X_LOW_RTT.
    tcp_rcvbuf_low_rtt_us: int = 1000

    # nf_conntrack_core.c: __nf_conntrack_alloc(): in 6.12 `nf_conntrack_max
    # == 0` disables the limit; in 7.3 the zero test is gone (sheet 3.2, 10.8).
    # 6.18: not dated by the sheet -- taken as 6.12 (unconfirmed; irrelevant
    # at the default max of 262144).
    conntrack_max_zero_is_unlimited: bool = True

    # include/net/sock.h: SOCK_MIN_RCVBUF = TCP_SKB_MIN_TRUESIZE
    #   = 2048 + SKB_DATA_ALIGN(sizeof(struct sk_buff)); sk_buff is 224 bytes
    # in the 6.18.44 build (BTF), SKB_DATA_ALIGN rounds to SMP_CACHE_BYTES (64).
    sk_buff_size: int = 224
    smp_cache_bytes: int = 64
    # include/linux/skbuff.h: struct skb_shared_info, 320 bytes on x86_64 with
    # MAX_SKB_FRAGS 17 (unconfirmed for this build; only used in truesize).
    skb_shared_info_size: int = 320
    # include/linux/skbuff.h: MAX_SKB_FRAGS (CONFIG_MAX_SKB_FRAGS default 17):
    # skb_try_coalesce stops when the tail skb's frags would pass it.
    max_skb_frags: int = 17

    # include/net/tcp.h: TCP_TIMEOUT_INIT (1 s): request-sock SYN-ACK timer.
    tcp_timeout_init_ns: int = 1 * NS_PER_S
    # include/net/tcp.h: TCP_TIMEWAIT_LEN (60 s), fixed, not tcp_fin_timeout.
    tcp_timewait_len_ns: int = 60 * NS_PER_S
    # include/net/tcp.h: TCP_RTO_MAX (120 s) caps the SYN-ACK backoff
    # (inet_connection_sock.c: reqsk_timer_handler); 6.15+ tcp_rto_max_ms.
    tcp_rto_max_ns: int = 120 * NS_PER_S
    # include/net/tcp.h: MAX_SYNCOOKIE_AGE = 2 periods of 60 s
    # (syncookies.c: check_tcp_syn_cookie / __cookie_v4_check).
    max_syncookie_age: int = 2
    syncookie_period_ns: int = 60 * NS_PER_S
    # include/net/tcp.h: tcp_synq_no_recent_overflow(): a cookie ACK is only
    # checked within [last_overflow - 1 s, last_overflow + TCP_SYNCOOKIE_VALID].
    synq_overflow_valid_ns: int = 120 * NS_PER_S
    # net/ipv4/syncookies.c: msstab[] (largest entry <= peer MSS is encoded).
    syncookie_mss_v4: tuple = (536, 1300, 1440, 1460)
    # net/ipv6/syncookies.c: msstab[] = {1280-60, 1480-60, 1500-60, 9000-60}.
    syncookie_mss_v6: tuple = (1220, 1420, 1440, 8940)

    # include/net/tcp.h: TCP_RMEM_TO_WIN_SCALE; tcp_win_from_space(space) =
    # space * scaling_ratio >> TCP_RMEM_TO_WIN_SCALE (sheet 5.2).
    tcp_rmem_to_win_scale: int = 8
    # include/net/tcp.h: TCP_DEFAULT_SCALING_RATIO = 1 << (8 - 1) = 128 (50 %).
    default_scaling_ratio: int = 128
    # include/net/tcp.h: TCP_MAX_WSCALE.
    tcp_max_wscale: int = 14
    # include/net/tcp.h: MAX_TCP_WINDOW.
    max_tcp_window: int = 32767

    # Sysctl defaults that differ from the 6.18 table in pystack.sysctl
    # (name -> default) and sysctls this kernel does not have.
    sysctl_defaults: Mapping = field(default_factory=lambda: MappingProxyType({}))
    sysctls_absent: frozenset = frozenset()

    # enum skb_drop_reason names (no SKB_DROP_REASON_ prefix) this kernel has.
    drop_reasons: frozenset = frozenset(vocab.DROP_REASONS)
    # /proc/net/netstat TcpExt counters (bare names) this kernel lacks.
    counters_absent: frozenset = frozenset()

    # --- derived constants -------------------------------------------------
    def skb_data_align(self, size: int) -> int:
        """include/linux/skbuff.h: SKB_DATA_ALIGN (round up to cache line)."""
        a = self.smp_cache_bytes
        return (size + a - 1) // a * a

    @property
    def sock_min_rcvbuf(self) -> int:
        """include/net/sock.h: SOCK_MIN_RCVBUF = TCP_SKB_MIN_TRUESIZE (2304)."""
        return 2048 + self.skb_data_align(self.sk_buff_size)

    @property
    def sock_min_sndbuf(self) -> int:
        """include/net/sock.h: SOCK_MIN_SNDBUF = 2 * TCP_SKB_MIN_TRUESIZE (4608)."""
        return 2 * self.sock_min_rcvbuf

    @property
    def skb_truesize_overhead(self) -> int:
        """include/linux/skbuff.h: SKB_TRUESIZE(X) - X (sk_buff + shared info)."""
        return self.skb_data_align(self.sk_buff_size) + self.skb_data_align(
            self.skb_shared_info_size)

    def skb_truesize(self, data_size: int) -> int:
        """SKB_TRUESIZE(data_size): a linear skb holding data_size bytes.

        Real receive skbs depend on the driver and GRO (not visible in a pcap);
        the engine should treat truesize as a parameter and use this only as
        the default lower bound.
        """
        return data_size + self.skb_truesize_overhead

    def skb_coalesce_keep(self, mode: str, truesize_overhead: int) -> int:
        """Truesize of a coalesced skb that is freed, not carried over to the
        tail (net/core/skbuff.c skb_try_coalesce: delta = from->truesize -
        this): "head" (page-frag head stolen) SKB_DATA_ALIGN(sizeof(struct
        sk_buff)); "frags" / "veth" (payload in frags, the head freed)
        SKB_TRUESIZE(skb_end_offset(from)) = the skbs' truesize overhead;
        "none": 0 (never coalesced)."""
        if mode == "head":
            return self.skb_data_align(self.sk_buff_size)
        if mode in ("frags", "veth"):
            return truesize_overhead
        if mode == "none":
            return 0
        raise ValueError(f"unknown skb_coalesce mode {mode!r} (one of {', '.join(SKB_COALESCE_MODES)})")

    # --- rules ---------------------------------------------------------------
    def accept_queue_full(self, ack_backlog: int, max_ack_backlog: int) -> bool:
        """include/net/sock.h: sk_acceptq_is_full()."""
        return _compare(self.accept_queue_full_op, ack_backlog, max_ack_backlog)

    def accept_queue_capacity(self, max_ack_backlog: int) -> int:
        """Children an accept queue holds before it is full (backlog N -> N+1)."""
        return max_ack_backlog + 1 if self.accept_queue_full_op == ">" else max_ack_backlog

    def syn_queue_full(self, reqsk_queue_len: int, max_ack_backlog: int) -> bool:
        """include/net/inet_connection_sock.h: inet_csk_reqsk_queue_is_full()."""
        return _compare(self.syn_queue_full_op, reqsk_queue_len, max_ack_backlog)

    def can_ingest(self, rmem_alloc: int, rcvbuf: int, truesize: int, length: int) -> bool:
        """tcp_input.c: tcp_can_ingest() in this kernel's variant."""
        if self.tcp_can_ingest == CAN_INGEST_RMEM_ALLOC:
            return rmem_alloc <= rcvbuf
        if self.tcp_can_ingest == CAN_INGEST_TRUESIZE:
            return rmem_alloc + truesize <= rcvbuf
        if self.tcp_can_ingest == CAN_INGEST_LEN:
            return rmem_alloc + length <= rcvbuf
        raise ValueError(f"unknown tcp_can_ingest variant {self.tcp_can_ingest!r}")

    def win_from_space(self, space: int, scaling_ratio: int | None = None) -> int:
        """include/net/tcp.h: tcp_win_from_space()."""
        ratio = self.default_scaling_ratio if scaling_ratio is None else scaling_ratio
        return (space * ratio) >> self.tcp_rmem_to_win_scale

    def space_from_win(self, win: int, scaling_ratio: int | None = None) -> int:
        """include/net/tcp.h: tcp_space_from_win()."""
        ratio = self.default_scaling_ratio if scaling_ratio is None else scaling_ratio
        return (win << self.tcp_rmem_to_win_scale) // ratio

    def initial_rcv_wscale(self, space: int, tcp_rmem_max: int, rmem_max: int,
                           window_clamp: int | None = None) -> int:
        """tcp_output.c: tcp_select_initial_window(): the offered window scale.

        space' = min(max(space, tcp_rmem[2], rmem_max), window_clamp);
        wscale = clamp(ilog2(space') - 15, 0, TCP_MAX_WSCALE).
        At the 6.18 defaults this is 10, with the 6.12 ones 7 (sheet 5.3).
        """
        clamp = (65535 << self.tcp_max_wscale) if window_clamp is None else window_clamp
        sp = min(max(space, tcp_rmem_max, rmem_max), clamp)
        return max(0, min(_ilog2(sp) - 15, self.tcp_max_wscale)) if sp > 0 else 0

    def synack_schedule_ns(self, retries: int) -> tuple[tuple[int, ...], int]:
        """inet_connection_sock.c: reqsk_timer_handler(), syn_ack_recalc().

        Returns (retransmission offsets, drop offset), in ns after the first
        SYN-ACK, without queue pruning: timeout k = TCP_TIMEOUT_INIT << k capped
        at the maximum RTO.  retries = tcp_synack_retries (5): retransmissions
        at +1, +3, +7, +15, +31 s, request dropped at +63 s (sheet 4.5).
        """
        offsets = []
        t = 0
        for k in range(retries + 1):
            t += min(self.tcp_timeout_init_ns << k, self.tcp_rto_max_ns)
            offsets.append(t)
        return tuple(offsets[:-1]), offsets[-1]

    def syncookie_mss(self, peer_mss: int, ipv6: bool = False) -> int:
        """syncookies.c: cookie_init_sequence(): largest table MSS <= peer MSS."""
        table = self.syncookie_mss_v6 if ipv6 else self.syncookie_mss_v4
        best = table[0]
        for m in table:
            if m <= peer_mss:
                best = m
        return best

    def conntrack_table_full(self, count: int, nf_conntrack_max: int) -> bool:
        """nf_conntrack_core.c: __nf_conntrack_alloc() limit test (count after +1)."""
        if nf_conntrack_max == 0 and self.conntrack_max_zero_is_unlimited:
            return False
        return count > nf_conntrack_max

    def has_drop_reason(self, name: str) -> bool:
        return name in self.drop_reasons

    def has_counter(self, name: str) -> bool:
        """Counter by bare netstat name (e.g. "PAWSTimewait") or nstat name."""
        bare = name[6:] if name.startswith("TcpExt") else name
        return bare not in self.counters_absent

    def to_dict(self) -> dict:
        """JSON-friendly summary (for run.json)."""
        return {
            "name": self.name,
            "version": self.version,
            "accept_queue_full": f"sk_ack_backlog {self.accept_queue_full_op} sk_max_ack_backlog",
            "syn_queue_full": f"reqsk_queue_len {self.syn_queue_full_op} sk_max_ack_backlog",
            "tcp_can_ingest": self.tcp_can_ingest,
            "tcp_sequence": self.tcp_sequence,
            "tcp_sequence_fin_exception": self.tcp_sequence_fin_exception,
            "paws_timewait_counter": self.paws_timewait_counter,
            "ehash_fn": self.ehash_fn,
            "rcvbuf_grow": self.rcvbuf_grow,
            "conntrack_max_zero_is_unlimited": self.conntrack_max_zero_is_unlimited,
            "sock_min_rcvbuf": self.sock_min_rcvbuf,
            "sock_min_sndbuf": self.sock_min_sndbuf,
        }


def _compare(op: str, a: int, b: int) -> bool:
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    raise ValueError(f"unknown comparison {op!r}")


# --- the profiles ------------------------------------------------------------

# Drop reasons the sheet dates after 6.12 (section 10.4): PAWS_ACK, TW_PAWS,
# TSECR, LISTEN_OVERFLOW (6.15/6.16), INVALID_END_SEQUENCE (6.17).  Other
# reasons of the 6.18 list were not audited against 6.12.
_REASONS_AFTER_612 = frozenset({
    "TCP_RFC7323_PAWS_ACK", "TCP_RFC7323_TW_PAWS", "TCP_RFC7323_TSECR",
    "TCP_LISTEN_OVERFLOW", "TCP_INVALID_END_SEQUENCE",
})
# Sheet 6.2: 7.3.4 vs 6.18.
_REASONS_REMOVED_73 = frozenset({
    "QDISC_OVERLIMIT", "QDISC_CONGESTED", "CAKE_FLOOD", "FQ_BAND_LIMIT",
    "FQ_HORIZON_LIMIT", "FQ_FLOW_LIMIT", "DUALPI2_STEP_DROP",
})
_REASONS_ADDED_73 = frozenset({
    "QDISC_BURST_DROP", "MACVLAN_BROADCAST_BACKLOG", "IPVLAN_MULTICAST_BACKLOG",
    "SKB_BAD_GSO", "IPV6_TOO_MANY_EXTHDRS",
})

_P618 = KernelProfile(
    name="6.18",
    version="6.18.44",
    description="Linux 6.18.44, the reference kernel (sheet section 0)",
)

_P612 = KernelProfile(
    name="6.12",
    version="6.12.117",
    description="Linux 6.12.117 (Debian); sheet section 10 differences applied",
    tcp_can_ingest=CAN_INGEST_RMEM_ALLOC,      # <= 6.16 form
    tcp_sequence=SEQ_PRE_617,
    tcp_sequence_fin_exception=False,           # nothing to except before 6.17
    paws_timewait_counter="PAWSEstab",          # PAWSTimewait is 6.16+
    ehash_fn=EHASH_PRE_615,
    rcvbuf_grow=RCVBUF_GROW_PRE_617,
    conntrack_max_zero_is_unlimited=True,
    # tcp.c: tcp_init(): tcp_rmem[2] capped at 6 MiB before the 32 MiB change;
    # net/core/sock.c: SK_RMEM_MAX/SK_WMEM_MAX were 212992 before 4 MiB.
    sysctl_defaults=MappingProxyType({
        "net.ipv4.tcp_rmem": (4096, 131072, 6291456),
        "net.core.rmem_max": 212992,
        "net.core.wmem_max": 212992,
    }),
    # net/ipv4/sysctl_net_ipv4.c: tcp_rto_max_ms appeared in 6.15.
    sysctls_absent=frozenset({"net.ipv4.tcp_rto_max_ms"}),
    drop_reasons=frozenset(vocab.DROP_REASONS) - _REASONS_AFTER_612,
    # PAWSOldAck / TSEcrRejected came with the PAWS_ACK / TSECR reasons (6.15)
    counters_absent=frozenset({"PAWSTimewait", "BeyondWindow", "PAWSOldAck", "TSEcrRejected"}),
)

_P73 = KernelProfile(
    name="7.3",
    version="7.3.4",
    description="Linux 7.3.4 (Debian trixie-backports); sheet sections 6.2/10 applied",
    tcp_can_ingest=CAN_INGEST_RMEM_ALLOC,      # reverted in 7.0
    tcp_sequence=SEQ_END_MAX_WINDOW,
    tcp_sequence_fin_exception=True,
    rcvbuf_grow=RCVBUF_GROW_7X_LOW_RTT,
    ratio_clamp=RATIO_CLAMP_ASSIGN,
    conntrack_max_zero_is_unlimited=False,
    drop_reasons=(frozenset(vocab.DROP_REASONS) - _REASONS_REMOVED_73) | _REASONS_ADDED_73,
)

PROFILES: Mapping[str, KernelProfile] = MappingProxyType({
    p.name: p for p in (_P618, _P612, _P73)
})
DEFAULT_PROFILE = "6.18"


def get_profile(name: str | KernelProfile | None = None) -> KernelProfile:
    """The profile called `name` ("6.18", "6.12", "7.3", or an exact version
    such as "6.18.44"); None gives the default (6.18)."""
    if isinstance(name, KernelProfile):
        return name
    if name is None:
        name = DEFAULT_PROFILE
    key = str(name).strip()
    if key.lower().startswith("linux-"):
        key = key[6:]
    if key in PROFILES:
        return PROFILES[key]
    for p in PROFILES.values():
        if key == p.version:
            return p
    known = ", ".join(f"{p.name} ({p.version})" for p in PROFILES.values())
    raise ValueError(f"unknown kernel profile {name!r}; known profiles: {known}")
