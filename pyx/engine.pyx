# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The stack engine: the host's receive path up to TCP listening sockets.

One nogil loop per batch over parsed rows (PacketColumns) writes one row of
Verdicts per packet, keeps SNMP/netstat counters (pystack.vocab order), and
runs the host's timers in capture time.  State lives in C arrays: the 4-tuple
table (demux.pxd), listeners, a binary heap of timers, a direct-mapped
syncookie table.  Nothing is allocated per packet: tables grow (at most
geometrically) in begin_batch(), before the loop.

Kernel code modelled (Linux 6.18; sheet = /work/shared/linux-semantics.md)
--------------------------------------------------------------------------
* net/ipv4/ip_input.c ip_rcv_core (sheet 1.1): InReceives/InOctets (skb->len
  = wire length minus link header, padding included), ECN counters (only
  when version 4 and ihl >= 5, i.e. past checks 4-5), InHdrErrors (IP_INHDR),
  IP_CSUM (InHdrErrors + InCsumErrors), PKT_TOO_SMALL (InTruncatedPkts).
  ip_local_deliver / ip_protocol_deliver_rcu (sheet 1.3): InDelivers after
  the L4 handler (even when TCP then drops); no handler -> InUnknownProtos,
  IP_NOPROTO.  net/ipv6/ip6_input.c ip6_rcv_core / ip6_protocol_deliver_rcu:
  the Ip6 equivalents (version != 6 is UNHANDLED_PROTO, counted InHdrErrors;
  Ip6 ECN counters after the version check).
* net/ipv4/tcp_ipv4.c tcp_v4_rcv (sheet 1.4; tcp_v6_rcv alike): pkt_type,
  InSegs, doff < 5 (InErrs, PKT_TOO_SMALL), checksum (InCsumErrors + InErrs,
  TCP_CSUM, per pystack.checksums.ChecksumPolicy), ehash then listener
  lookup, no socket -> NO_SOCKET + tcp_v4_send_reset (OutRsts + OutSegs; RST
  format of sheet 1.4 item 7), tcp_v4_do_rcv for LISTEN: tcp_v4_cookie_check
  then tcp_input.c tcp_rcv_state_process LISTEN (ACK -> RST / TCP_FLAGS;
  RST -> TCP_RESET; SYN+FIN -> TCP_FLAGS; SYN -> conn_request).
* net/ipv4/inet_hashtables.c __inet_lookup_listener (sheet 8.2): exact
  address before wildcard, AF_INET before a dual-stack [::] socket; an
  SO_REUSEPORT group member is chosen as reciprocal_scale(hash, n) with the
  engine's seeded 4-tuple hash (the kernel's secret is unknowable).
* net/ipv4/tcp_input.c tcp_conn_request + tcp_syn_flood_action (sheet 4.2):
  syncookies==2 or SYN queue full (profile) -> TCPReqQFullDoCookies / (off)
  TCPReqQFullDrop + ListenDrops; accept queue full -> ListenOverflows +
  ListenDrops, no SYN-ACK; options cleared for a cookie without timestamps;
  tcp_max_syn_backlog 3/4 rule when syncookies == 0 (tcp_peer_is_proven is
  taken as false: no tcp_metrics); cookie -> SyncookiesSent, tcp_synq_overflow
  stamp, no request sock; else request sock in ehash (qlen, young) + timer.
  SYN-ACK (Tcp OutSegs) window per tcp_minisocks.c tcp_openreq_init_rwin /
  tcp_output.c tcp_select_initial_window (computed per listener in
  pystack/replay.py from profile + sysctls + effective rcvbuf).
* net/ipv4/syncookies.c cookie_v4_check (sheet 4.3): only for non-SYN ACKs
  without RST while tcp_synq_no_recent_overflow() is false; valid ->
  SyncookiesRecv + child via syn_recv_sock (accept queue full: ListenOverflows
  + ListenDrops, NO_SOCKET, never a RST); invalid -> SyncookiesFailed and
  the LISTEN path (RST).
* net/ipv4/tcp_minisocks.c tcp_check_req (sheet 4.4): retransmitted SYN ->
  SYN-ACK again (RetransSegs, TCPSynRetrans, OutSegs; tcp_oow_rate_limited
  with tcp_invalid_ratelimit -> TCPACKSkippedSynRecv) and the timer re-armed
  (mod_timer_pending); ACK with a wrong ack_seq -> the listener (cookie check,
  RST); out of window -> dup ACK (rate limited); RST/SYN in window ->
  AttemptFails + embryonic reset (RST unless the segment is a RST, unlink,
  EmbryonicRsts); tcp_v4_syn_recv_sock accept-queue overflow ->
  ListenOverflows + ListenDrops, TCP_LISTEN_OVERFLOW, then abort_on_overflow
  0: req->acked, silent; 1: RST (seq = ack_seq), unlink, EmbryonicRsts;
  success -> PassiveOpens, the child replaces the request sock in ehash,
  accept queue, ESTABLISHED (CurrEstab).
* net/ipv4/inet_connection_sock.c reqsk_timer_handler / syn_ack_recalc (sheet
  4.5): timeout = TCP_TIMEOUT_INIT << num_timeout capped at tcp_rto_max;
  queue pruning when 2*qlen > max(8, backlog) (young requests); every fire
  TCPTimeouts (tcp_syn_ack_timeout); resend -> RetransSegs + TCPSynRetrans +
  OutSegs; expiry (num_timeout >= retries) -> request dropped (qlen--).
* Accept: the application model (pystack/appmodel.py) dequeues children
  from the accept queue (inet_csk_accept is FIFO) at capture times.
* net/ipv4/udp.c __udp4_lib_rcv (net/ipv6/udp.c alike): short header /
  bad length -> UdpInErrors; bound socket (config listeners with proto udp,
  looked up like TCP listeners) -> DELIVERED; bad checksum -> InCsumErrors +
  InErrors (UDP_CSUM), checked before NoPorts; no socket -> NoPorts,
  NO_SOCKET and (IPv4) icmp_send(PORT_UNREACH) under net/ipv4/icmp.c
  icmpv4_global_allow / icmp_global_allow (icmp_msgs_per_sec/burst, random
  0-2 credits consumed per message, 6.11+) and icmpv4_xrlim_allow /
  inetpeer.c inet_peer_xrlim_allow (icmp_ratelimit, burst factor 6, a new
  peer starts with a full bucket): IcmpOutRateLimitGlobal / ...Host, else
  IcmpOutMsgs + IcmpOutDestUnreachs.  Jiffies are taken at HZ = 1000.
* net/ipv4/icmp.c icmp_rcv: IcmpInMsgs, checksum (InCsumErrors + InErrors,
  ICMP_CSUM), type > NR_ICMP_TYPES (InErrors), InDestUnreachs, InEchos and
  the echo reply (icmp_echo_ignore_all; not rate limited: type 0 is not in
  icmp_ratemask): IcmpOutMsgs + IcmpOutEchoReps.

Open-loop replay decisions (documented approximations)
-------------------------------------------------------
* The peer's final ACK acknowledges the REAL host's ISN.  A captured host
  SYN-ACK (direction OUT) teaches the request sock (or cookie entry) that ISN
  and then the ACK is checked exactly (ack_seq == ISN + 1).  Without it the
  ACK is valid if it acknowledges the model's own ISN, and otherwise it is
  ASSUMED to match (divergence counter ack_isn_assumed / cookie_isn_assumed).
* Syncookies: valid iff the model issued a cookie SYN-ACK to that 4-tuple on
  the same listener within MAX_SYNCOOKIE_AGE periods (counted in whole
  syncookie periods of capture time, as check_tcp_syn_cookie counts minutes)
  and the ack check above passes.  The cookie table is direct-mapped and
  bounded (Replay(cookie_table=65536) entries of 40 bytes, keyed by a 64-bit
  seeded 4-tuple fingerprint); an overwritten entry makes its ACK invalid
  (divergence cookie_evictions); the real cookie secret is unknowable.
* A host SYN-ACK in the capture for which the model kept no state (it
  dropped the SYN, or never saw it) counts divergence host_synack_unmatched;
  a host RST on a 4-tuple where the model holds a request sock or child
  counts host_rst_vs_model_socket.
* The SYN-ACK MSS option is the route advmss (MTU - 40 / - 60, MTU 1500 by
  default, Replay(mtu=...)): tcp_synack_options always sends it, cookie or
  not; the cookie itself encodes the msstab entry (kept in the cookie table).
* Packets between two local addresses: OUT if the source side is a socket the
  model knows (a connection or a listener), else IN.
* Drops inside tcp_conn_request (SYN/accept queue full, 3/4 rule) are freed
  by the kernel with consume_skb (no drop reason on the tracepoint); the
  model labels them TCP_LISTEN_OVERFLOW so the drop is visible; the counters
  (ListenOverflows / TCPReqQFullDrop / ListenDrops) say which rule.  A
  retransmitted SYN answered by a request sock is DROPPED NOT_SPECIFIED with
  reply SYNACK (tcp_check_req returns NULL: discard_and_relse).  Embryonic
  resets: TCP_RESET for a RST, TCP_FLAGS for an in-window SYN (choice).
* IPv4/IPv6 fragments are not reassembled: IpReasmReqds / Ip6ReasmReqds,
  verdict QUEUED, no L4 processing.
* Rows whose IP header could not be parsed (no addresses) count as IN.
  Destinations that are not local: FWD when ip_forward=1 (classification
  only, no counters) else OTHER (NOT_HOST, no counters; the kernel would
  count InReceives + InAddrErrors if such packets really reached it).

Not modelled yet
----------------
PAWS / timestamps validation in tcp_check_req (TSEcrRejected, PAWSEstab),
TCP_DEFER_ACCEPT, TIME_WAIT, TCP Fast Open, MD5/AO, IP options, routing and
martians, netfilter, ECN negotiation (SYN-ACK ECE), segments to established
children beyond DELIVERED: receive queue, window, tcp_validate_incoming and
FIN/RST teardown are the next slice (Sock.rcv_nxt/rcv_wnd/rcv_wup/snd_*/
rcvbuf/rmem_alloc are placeholders, not modelled or reported) -- so a
child never leaves the table, and a later connection reusing its 4-tuple
is DELIVERED to it; UDP receive buffers and UdpInDatagrams (counted at
recvmsg); ICMPv6 (delivered only) and ICMPv6 errors; ICMP protocol
unreachable for unknown protocols; IGMP (delivered only); any transmit-side
counter for the host's own captured packets (Out* counters are the model's
own replies).

Memory: the 4-tuple table and Sock pool grow geometrically between batches
(demux_reserve); request socks are bounded by the listeners' backlogs,
children by the connections in the capture (no teardown yet); the cookie,
ICMP-peer, timer and event tables are fixed-size or bounded by the pool.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int16_t, int32_t, int64_t
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memcpy, memset

from pystack._core.capture cimport RecordBatch
from pystack._core.parse cimport (PacketColumns, PF_TRUNCATED, PF_IPV4, PF_IPV6, PF_FRAG,
                                  PF_L4, PF_TCP_MSS, PF_TCP_WSCALE, PF_TCP_SACKOK,
                                  PF_TCP_TS, PF_NOT_IP, PF_BAD_LINK, TH_FIN, TH_SYN,
                                  TH_RST, TH_ACK, PKTTYPE_HOST, PKTTYPE_OTHERHOST,
                                  PKTTYPE_OUTGOING)
from pystack._core.demux cimport (Demux, Sock, demux_init, demux_reserve, demux_release,
                                  demux_find, demux_new, demux_insert, demux_remove,
                                  tuple_hash, mix64, load_addr, TS_NONE, TS_ESTABLISHED,
                                  TS_LISTEN, TS_NEW_SYN_RECV, TS_SYN_RECV, TS_CLOSE,
                                  SKF_WSCALE_OK,
                                  SKF_TSTAMP_OK, SKF_SACK_OK, SKF_ACKED, SKF_HOST_ISN,
                                  SKF_OOW_SET, SKF_IN_ACCEPTQ, SKF_ACCEPTED)
from pystack._core.vocab cimport *

cnp.import_array()

cdef struct Peer:
    # struct inet_peer: the per-destination ICMP token bucket
    uint64_t a0, a1
    int64_t rate_tokens, rate_last
    uint8_t used


cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define PSE_PREFETCH_W(p) __builtin_prefetch((p), 1, 1)
    #else
    #define PSE_PREFETCH_W(p) ((void)(p))
    #endif
    """
    void PSE_PREFETCH_W(const void* p) noexcept nogil

cdef enum:
    AHEAD = 8       # rows ahead whose table slots are prefetched
    HRING = 16      # ring of their precomputed 4-tuple hashes

# Divergence counters (model-only, not kernel counters)
DIVERGENCES = ("host_synack_unmatched", "ack_isn_assumed", "cookie_isn_assumed",
               "cookie_evictions", "events_dropped", "host_rst_vs_model_socket")
cdef enum:
    DV_HOST_SYNACK_UNMATCHED = 0
    DV_ACK_ASSUMED = 1
    DV_COOKIE_ASSUMED = 2
    DV_COOKIE_EVICT = 3
    DV_EV_DROPPED = 4
    DV_HOST_RST = 5

VERDICT_SPEC = (
    ("direction", np.uint8), ("verdict", np.uint8), ("reason", np.uint8),
    ("conn_id", np.int64), ("sock_state", np.uint8), ("listener", np.int16),
    ("reply", np.uint8), ("reply_seq", np.uint32), ("reply_ack", np.uint32),
    ("reply_win", np.uint16), ("reply_flags", np.uint16), ("reply_wscale", np.uint8),
    ("reply_mss", np.uint16),
)

DIRECTIONS = {"OTHER": DIR_OTHER, "IN": DIR_IN, "OUT": DIR_OUT, "FWD": DIR_FWD}
VERDICTS = {"NOT_HOST": V_NOT_HOST, "DELIVERED": V_DELIVERED, "DROPPED": V_DROPPED,
            "SENT": V_SENT, "QUEUED": V_QUEUED, "UNMODELLED": V_UNMODELLED}
REPLIES = {"NONE": R_NONE, "SYNACK": R_SYNACK, "SYNACK_COOKIE": R_SYNACK_COOKIE,
           "RST": R_RST, "ACK": R_ACK, "ICMP_PORT_UNREACH": R_ICMP_PORT_UNREACH,
           "ICMP_ECHO_REPLY": R_ICMP_ECHO_REPLY}
EVENTS = {"SYNACK_RETRANS": EV_SYNACK_RETRANS, "REQ_EXPIRED": EV_REQ_EXPIRED,
          "ACCEPT": EV_ACCEPT}
# include/net/tcp_states.h numbers -> ss(8) names (a request sock is shown
# by ss as SYN-RECV)
SOCK_STATES = {0: "", 1: "ESTAB", 2: "SYN-SENT", 3: "SYN-RECV", 4: "FIN-WAIT-1",
               5: "FIN-WAIT-2", 6: "TIME-WAIT", 7: "UNCONN", 8: "CLOSE-WAIT",
               9: "LAST-ACK", 10: "LISTEN", 11: "CLOSING", 12: "SYN-RECV"}
APP_KINDS = {"immediate": APP_IMMEDIATE, "delay": APP_DELAY, "rate": APP_RATE,
             "never": APP_NEVER}
LISTENER_KINDS = {"v4": LK_V4_EXACT, "v4any": LK_V4_ANY, "v6": LK_V6_EXACT,
                  "v6any": LK_V6_ANY, "v6anyonly": LK_V6_ANY_ONLY}

cdef enum:
    TCPOLEN_TSTAMP_ALIGNED = 12
    TCP_MSS_DEFAULT = 536        # include/net/tcp.h (af_ops->mss_clamp)
    EV_CAP_DEFAULT = 1 << 18


cdef void* _ptr(dict arrays, str name):
    return cnp.PyArray_DATA(arrays[name])


cdef class Verdicts:
    """Per-packet results, one row per PacketColumns row (structure of arrays)."""

    def __cinit__(self, Py_ssize_t capacity=65536):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.n = 0
        self.arrays = {name: np.zeros(capacity, dt) for name, dt in VERDICT_SPEC}
        a = self.arrays
        self.direction = <uint8_t*>_ptr(a, "direction")
        self.verdict = <uint8_t*>_ptr(a, "verdict")
        self.reason = <uint8_t*>_ptr(a, "reason")
        self.conn_id = <int64_t*>_ptr(a, "conn_id")
        self.sock_state = <uint8_t*>_ptr(a, "sock_state")
        self.listener = <int16_t*>_ptr(a, "listener")
        self.reply = <uint8_t*>_ptr(a, "reply")
        self.reply_seq = <uint32_t*>_ptr(a, "reply_seq")
        self.reply_ack = <uint32_t*>_ptr(a, "reply_ack")
        self.reply_win = <uint16_t*>_ptr(a, "reply_win")
        self.reply_flags = <uint16_t*>_ptr(a, "reply_flags")
        self.reply_wscale = <uint8_t*>_ptr(a, "reply_wscale")
        self.reply_mss = <uint16_t*>_ptr(a, "reply_mss")

    def columns(self):
        """The valid rows of every column, as a dict of numpy views."""
        return {k: v[:self.n] for k, v in self.arrays.items()}


cdef inline bint seq_before(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) < 0


cdef inline bint seq_after(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(b - a) < 0


cdef inline bint tcp_in_window(uint32_t seq, uint32_t end_seq, uint32_t s_win,
                               uint32_t e_win) noexcept nogil:
    # tcp_minisocks.c: tcp_in_window()
    if seq == s_win:
        return True
    if seq_after(end_seq, s_win) and seq_before(seq, e_win):
        return True
    return seq == e_win and seq == end_seq


cdef class Engine:
    """The host model.  Built by pystack.replay.Replay (see there for the API)."""

    cdef int64_t ctr[C__COUNT]
    cdef int64_t div[8]
    cdef Demux dm
    cdef LSock* ls
    cdef int32_t nls
    cdef int32_t* port_head     # 65536 entries: first listener on the port, -1 none
    cdef int32_t* uport_head    # the same for bound UDP sockets (entries of ls too)
    cdef int32_t ntcp           # ls[0:ntcp] TCP listeners, ls[ntcp:nls] UDP sockets
    # ICMP output rate limits (icmp.c icmp_global_allow, inetpeer.c
    # inet_peer_xrlim_allow); times in jiffies (HZ = 1000 assumed)
    cdef int icmp_echo_ignore_all, icmp_ratemask
    cdef int64_t icmp_ratelimit_j, icmp_msgs_per_sec, icmp_msgs_burst
    cdef int64_t icmp_credit, icmp_stamp_j
    cdef Peer* peers
    cdef uint64_t peer_mask
    cdef int32_t* group
    cdef uint64_t* haddr        # host addresses, 2 words each
    cdef int32_t nhaddr
    cdef TimerEnt* heap
    cdef int64_t heap_n, heap_cap
    cdef uint64_t heap_order
    cdef Event* ev
    cdef int64_t ev_n, ev_cap
    cdef Cookie* ck
    cdef uint64_t ck_mask
    cdef uint64_t rng
    cdef int64_t next_conn
    cdef int64_t now
    cdef bint started
    # sysctls / profile values
    cdef int syncookies, abort_on_overflow, max_syn_backlog, ip_forward
    cdef int tcp_timestamps, tcp_window_scaling, tcp_sack
    cdef int aq_full_ge, synq_full_ge
    cdef int64_t timeout_init_ns, rto_max_ns, invalid_ratelimit_ns
    cdef int64_t cookie_period_ns, synq_valid_ns
    cdef int max_cookie_age
    cdef uint16_t msstab4[4]
    cdef uint16_t msstab6[4]
    # current batch
    cdef Batch b
    cdef VOut vo
    cdef int64_t hrow[16]           # row whose 4-tuple hash is in hval (prefetch ring)
    cdef uint64_t hval[16]
    cdef const uint8_t* csum_err

    def __cinit__(self):
        self.ls = NULL
        self.port_head = NULL
        self.group = NULL
        self.haddr = NULL
        self.heap = NULL
        self.ev = NULL
        self.ck = NULL
        self.peers = NULL
        self.uport_head = NULL
        self.dm.slots = NULL

    def __init__(self, addresses, listeners, dict params, uint64_t seed=0):
        """addresses: 16-byte host addresses (IPv4 as ::ffff:a.b.c.d).
        listeners: dicts from pystack.replay (lookup order already applied).
        params: sysctl / profile values (pystack.replay._engine_params)."""
        cdef int32_t i, j, n
        cdef LSock* L
        cdef uint64_t w0, w1
        memset(self.ctr, 0, sizeof(self.ctr))
        memset(self.div, 0, sizeof(self.div))
        self.rng = mix64(seed ^ <uint64_t>0x5eed5eed5eed5eedULL)
        demux_init(&self.dm, 1024, 256, mix64(seed + 1))
        self.next_conn = 0
        self.now = 0
        self.started = False
        # host addresses
        self.nhaddr = len(addresses)
        self.haddr = <uint64_t*>malloc((2 * self.nhaddr + 2) * sizeof(uint64_t))
        for i, a in enumerate(addresses):
            a = bytes(a)
            if len(a) != 16:
                raise ValueError("addresses must be 16 bytes")
            load_addr(<const uint8_t*>a, &w0, &w1)
            self.haddr[2 * i] = w0
            self.haddr[2 * i + 1] = w1
        # params
        self.syncookies = params["tcp_syncookies"]
        self.abort_on_overflow = params["tcp_abort_on_overflow"]
        self.max_syn_backlog = params["tcp_max_syn_backlog"]
        self.ip_forward = params["ip_forward"]
        self.tcp_timestamps = params["tcp_timestamps"]
        self.tcp_window_scaling = params["tcp_window_scaling"]
        self.tcp_sack = params["tcp_sack"]
        self.aq_full_ge = params["accept_queue_full_ge"]
        self.synq_full_ge = params["syn_queue_full_ge"]
        self.timeout_init_ns = params["timeout_init_ns"]
        self.rto_max_ns = params["rto_max_ns"]
        self.invalid_ratelimit_ns = params["invalid_ratelimit_ns"]
        self.cookie_period_ns = params["syncookie_period_ns"]
        self.synq_valid_ns = params["synq_overflow_valid_ns"]
        self.max_cookie_age = params["max_syncookie_age"]
        for j in range(4):
            self.msstab4[j] = params["msstab4"][j]
            self.msstab6[j] = params["msstab6"][j]
        # listeners
        self.nls = len(listeners)
        self.ls = <LSock*>calloc(max(1, self.nls), sizeof(LSock))
        self.port_head = <int32_t*>malloc(65536 * sizeof(int32_t))
        ngroup = sum(len(l["group"]) for l in listeners)
        self.group = <int32_t*>malloc(max(1, ngroup) * sizeof(int32_t))
        if self.ls == NULL or self.port_head == NULL or self.group == NULL:
            raise MemoryError()
        self.uport_head = <int32_t*>malloc(65536 * sizeof(int32_t))
        if self.uport_head == NULL:
            raise MemoryError()
        for j in range(65536):
            self.port_head[j] = -1
            self.uport_head[j] = -1
        self.ntcp = sum(1 for l in listeners if l.get("proto", "tcp") == "tcp")
        if any(l.get("proto", "tcp") == "tcp" for l in listeners[self.ntcp:]):
            raise ValueError("TCP listeners must come before UDP sockets")
        goff = 0
        last_on_port = {}
        for i, l in enumerate(listeners):
            L = &self.ls[i]
            heads = self.port_head if i < self.ntcp else self.uport_head
            pkey = (i < self.ntcp, l["port"])
            a = bytes(l["addr16"])
            load_addr(<const uint8_t*>a, &w0, &w1)
            L.a0 = w0
            L.a1 = w1
            L.kind = l["kind"]
            L.port = l["port"]
            L.next_on_port = -1
            if pkey in last_on_port:
                self.ls[last_on_port[pkey]].next_on_port = i
            else:
                heads[L.port] = i
            last_on_port[pkey] = i
            L.group_off = goff
            L.group_n = len(l["group"])
            for m in l["group"]:
                self.group[goff] = m
                goff += 1
            L.max_ack_backlog = l.get("max_ack_backlog", 0)
            L.win_ts = l.get("win_ts", 0)
            L.win_nots = l.get("win_nots", 0)
            L.wscale = l.get("wscale", 0)
            L.advmss = l.get("advmss", 0)
            L.synack_retries = l.get("synack_retries", 0)
            L.aq_cap = min(L.max_ack_backlog + 2, 1 << 24) if L.max_ack_backlog >= 0 else 2
            L.aq = <int32_t*>malloc(L.aq_cap * sizeof(int32_t))
            if L.aq == NULL:
                raise MemoryError()
            L.app = l.get("app", APP_NEVER)
            L.delay_ns = l.get("delay_ns", 0)
            L.rate_count = l.get("rate_count", 1)
            L.rate_per_ns = l.get("rate_per_ns", 1)
            L.burst = l.get("burst", 1)
            L.tok = L.burst * L.rate_per_ns
            L.heap_pos = -1
        # timers, events, cookies
        self.heap_cap = 1024
        self.heap = <TimerEnt*>malloc(self.heap_cap * sizeof(TimerEnt))
        self.heap_n = 0
        self.heap_order = 0
        self.ev_cap = params.get("event_capacity", EV_CAP_DEFAULT)
        self.ev = <Event*>malloc(self.ev_cap * sizeof(Event))
        self.ev_n = 0
        nck = 1
        while nck < params.get("cookie_table", 1 << 16):
            nck <<= 1
        self.ck = <Cookie*>calloc(nck, sizeof(Cookie))
        self.ck_mask = nck - 1
        if self.heap == NULL or self.ev == NULL or self.ck == NULL:
            raise MemoryError()
        # ICMP
        self.icmp_echo_ignore_all = params.get("icmp_echo_ignore_all", 0)
        self.icmp_ratemask = params.get("icmp_ratemask", 6168)
        self.icmp_ratelimit_j = params.get("icmp_ratelimit", 1000)
        self.icmp_msgs_per_sec = params.get("icmp_msgs_per_sec", 1000)
        self.icmp_msgs_burst = params.get("icmp_msgs_burst", 50)
        self.icmp_credit = 0
        self.icmp_stamp_j = -(1 << 40)          # long ago: the first refill is full
        npeer = 1
        while npeer < params.get("peer_table", 1 << 12):
            npeer <<= 1
        self.peers = <Peer*>calloc(npeer, sizeof(Peer))
        if self.peers == NULL:
            raise MemoryError()
        self.peer_mask = npeer - 1

    def __dealloc__(self):
        cdef int32_t i
        if self.ls != NULL:
            for i in range(self.nls):
                free(self.ls[i].aq)
        free(self.ls)
        free(self.port_head)
        free(self.group)
        free(self.haddr)
        free(self.heap)
        free(self.ev)
        free(self.ck)
        free(self.peers)
        free(self.uport_head)
        if self.dm.slots != NULL:
            demux_release(&self.dm)

    # ------------------------------------------------------------------
    # batch driver
    # ------------------------------------------------------------------
    def process(self, RecordBatch rb not None, PacketColumns cols not None,
                Verdicts v not None, csum_err):
        """Run rows [0, cols.n) through the model.  csum_err: uint8 array
        (1 = the L4 checksum counts as bad, ChecksumPolicy.error_mask)."""
        cdef Py_ssize_t n = cols.n, i
        cdef cnp.ndarray mask = np.ascontiguousarray(csum_err, dtype=np.uint8)
        if v.capacity < n:
            raise ValueError("Verdicts capacity too small")
        if mask.shape[0] < n:
            raise ValueError("checksum mask shorter than the batch")
        self._reserve(n)
        self._bind(rb, cols, v)
        self.csum_err = <const uint8_t*>cnp.PyArray_DATA(mask)
        self.ev_n = 0
        cdef const int64_t* ts = rb.ts
        for i in range(HRING):
            self.hrow[i] = -1
        with nogil:
            for i in range(n):
                if i + AHEAD < n:
                    self._prefetch(i + AHEAD)
                self._run_timers(ts[i])
                if ts[i] > self.now or not self.started:
                    self.now = ts[i]
                    self.started = True
                self._row(i)
        v.n = n
        self.csum_err = NULL
        return self._take_events()

    cdef void _bind(self, RecordBatch rb, PacketColumns c, Verdicts v):
        cdef Batch* b = &self.b
        cdef VOut* o = &self.vo
        b.base = rb.base
        b.offset = rb.offset
        b.caplen = rb.caplen
        b.wirelen = rb.wirelen
        b.ts = rb.ts
        b.status = c.status
        b.flags = c.flags
        b.pkt_type = c.pkt_type
        b.l3_off = c.l3_off
        b.ip_proto = c.ip_proto
        b.ip_tos = c.ip_tos
        b.ip_len = c.ip_len
        b.saddr = c.saddr
        b.daddr = c.daddr
        b.payload_len = c.payload_len
        b.sport = c.sport
        b.dport = c.dport
        b.tcp_seq = c.tcp_seq
        b.tcp_ack = c.tcp_ack
        b.tcp_flags = c.tcp_flags
        b.tcp_mss = c.tcp_mss
        b.tcp_wscale = c.tcp_wscale
        b.icmp_type = c.icmp_type
        o.direction = v.direction
        o.verdict = v.verdict
        o.reason = v.reason
        o.conn_id = v.conn_id
        o.sock_state = v.sock_state
        o.listener = v.listener
        o.reply = v.reply
        o.reply_seq = v.reply_seq
        o.reply_ack = v.reply_ack
        o.reply_win = v.reply_win
        o.reply_flags = v.reply_flags
        o.reply_wscale = v.reply_wscale
        o.reply_mss = v.reply_mss

    def finish(self, int64_t until_ns):
        """Fire the timers due up to `until_ns` (the capture's last timestamp)."""
        self.ev_n = 0
        with nogil:
            self._run_timers(until_ns)
        return self._take_events()

    cdef object _take_events(self):
        cdef int64_t k, n = self.ev_n
        out = {
            "ts_ns": np.empty(n, np.int64), "conn_id": np.empty(n, np.int64),
            "listener": np.empty(n, np.int16), "kind": np.empty(n, np.uint8),
            "seq": np.empty(n, np.uint32), "ack": np.empty(n, np.uint32),
            "win": np.empty(n, np.uint16), "flags": np.empty(n, np.uint16),
            "wscale": np.empty(n, np.uint8), "mss": np.empty(n, np.uint16),
        }
        cdef int64_t[:] ts = out["ts_ns"]
        cdef int64_t[:] cid = out["conn_id"]
        cdef int16_t[:] lis = out["listener"]
        cdef uint8_t[:] kind = out["kind"]
        cdef uint32_t[:] seq = out["seq"]
        cdef uint32_t[:] ack = out["ack"]
        cdef uint16_t[:] win = out["win"]
        cdef uint16_t[:] fl = out["flags"]
        cdef uint8_t[:] ws = out["wscale"]
        cdef uint16_t[:] mss = out["mss"]
        for k in range(n):
            ts[k] = self.ev[k].ts
            cid[k] = self.ev[k].conn_id
            lis[k] = <int16_t>self.ev[k].listener
            kind[k] = self.ev[k].kind
            seq[k] = self.ev[k].seq
            ack[k] = self.ev[k].ack
            win[k] = self.ev[k].win
            fl[k] = self.ev[k].flags
            ws[k] = self.ev[k].wscale
            mss[k] = self.ev[k].mss
        self.ev_n = 0
        return out

    cdef int _reserve(self, Py_ssize_t n) except -1:
        cdef int64_t cap
        cdef TimerEnt* h
        demux_reserve(&self.dm, n)
        # at most one timer per sock plus one per listener
        if self.dm.sock_cap + self.nls + 16 > self.heap_cap:
            cap = self.dm.sock_cap + self.nls + 16
            h = <TimerEnt*>realloc(self.heap, cap * sizeof(TimerEnt))
            if h == NULL:
                raise MemoryError()
            self.heap = h
            self.heap_cap = cap
        return 0

    # ------------------------------------------------------------------
    # results
    # ------------------------------------------------------------------
    def counters(self):
        from pystack.vocab import COUNTERS
        return {name: int(self.ctr[k]) for k, name in enumerate(COUNTERS)}

    def divergences(self):
        return {name: int(self.div[k]) for k, name in enumerate(DIVERGENCES)}

    def listener_stats(self):
        cdef int32_t i
        cdef LSock* L
        out = []
        for i in range(self.nls):
            L = &self.ls[i]
            if i >= self.ntcp:
                out.append({"proto": "udp"})
                continue
            out.append({
                "proto": "tcp",
                "syn_queue": int(L.qlen), "syn_queue_young": int(L.young),
                "syn_queue_max": int(L.max_qlen_seen),
                "accept_queue": int(L.ack_backlog), "accept_queue_max": int(L.max_ack_seen),
                "max_ack_backlog": int(L.max_ack_backlog),
                "overflows": int(L.overflows), "drops": int(L.drops),
                "reqqfull_drop": int(L.reqqfull_drop),
                "reqqfull_cookies": int(L.reqqfull_cookies),
                "cookies_sent": int(L.cookies_sent), "cookies_recv": int(L.cookies_recv),
                "cookies_failed": int(L.cookies_failed),
                "synacks": int(L.synacks), "passive_opens": int(L.passive_opens),
                "accepted": int(L.accepted), "req_expired": int(L.req_expired),
                "embryonic_rsts": int(L.embryonic_rsts),
            })
        return out

    def socket_count(self):
        return int(self.dm.count)

    def timers_pending(self):
        return int(self.heap_n)

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------
    cdef inline uint32_t _rand32(self) noexcept nogil:
        self.rng += <uint64_t>0x9e3779b97f4a7c15ULL
        return <uint32_t>(mix64(self.rng) >> 32)

    cdef inline bint _is_local(self, uint64_t w0, uint64_t w1,
                               const uint8_t* a) noexcept nogil:
        cdef int32_t k
        for k in range(self.nhaddr):
            if self.haddr[2 * k + 1] == w1 and self.haddr[2 * k] == w0:
                return True
        # loopback: 127/8 (as ::ffff:127.x.x.x) and ::1 (HostConfig.is_local)
        if (a[10] == 0xff and a[11] == 0xff and a[12] == 127 and w0 == 0
                and a[8] == 0 and a[9] == 0):
            return True
        if w0 == 0 and a[8] == 0 and a[9] == 0 and a[10] == 0 and a[11] == 0 \
                and a[12] == 0 and a[13] == 0 and a[14] == 0 and a[15] == 1:
            return True
        return False

    cdef inline void _ev(self, int64_t ts, int64_t conn_id, int32_t lis, uint8_t kind,
                         uint32_t seq, uint32_t ack, uint16_t win, uint16_t flags,
                         uint8_t wscale, uint16_t mss) noexcept nogil:
        cdef Event* e
        if self.ev_n >= self.ev_cap:
            self.div[DV_EV_DROPPED] += 1
            return
        e = &self.ev[self.ev_n]
        self.ev_n += 1
        e.ts = ts
        e.conn_id = conn_id
        e.listener = lis
        e.kind = kind
        e.seq = seq
        e.ack = ack
        e.win = win
        e.flags = flags
        e.wscale = wscale
        e.mss = mss

    # --- timer heap (binary min-heap on (when, order)) ------------------
    cdef inline bint _tless(self, int64_t a, int64_t b) noexcept nogil:
        cdef TimerEnt* x = &self.heap[a]
        cdef TimerEnt* y = &self.heap[b]
        return x.when < y.when or (x.when == y.when and x.order < y.order)

    cdef inline void _tset_pos(self, int64_t k) noexcept nogil:
        cdef TimerEnt* e = &self.heap[k]
        if e.kind == TK_REQ:
            self.dm.socks[e.owner].heap_pos = <int32_t>k
        else:
            self.ls[e.owner].heap_pos = <int32_t>k

    cdef void _tswap(self, int64_t a, int64_t b) noexcept nogil:
        cdef TimerEnt t = self.heap[a]
        self.heap[a] = self.heap[b]
        self.heap[b] = t
        self._tset_pos(a)
        self._tset_pos(b)

    cdef void _tup(self, int64_t k) noexcept nogil:
        cdef int64_t p
        while k > 0:
            p = (k - 1) >> 1
            if self._tless(k, p):
                self._tswap(k, p)
                k = p
            else:
                break

    cdef void _tdown(self, int64_t k) noexcept nogil:
        cdef int64_t l, r, m
        while True:
            l = 2 * k + 1
            r = l + 1
            m = k
            if l < self.heap_n and self._tless(l, m):
                m = l
            if r < self.heap_n and self._tless(r, m):
                m = r
            if m == k:
                break
            self._tswap(k, m)
            k = m

    cdef void _tarm(self, uint8_t kind, int32_t owner, int64_t when) noexcept nogil:
        """Arm (or re-arm) the owner's timer."""
        cdef int32_t pos = (self.dm.socks[owner].heap_pos if kind == TK_REQ
                            else self.ls[owner].heap_pos)
        cdef int64_t k
        if pos >= 0:
            self.heap[pos].when = when
            self.heap[pos].order = self.heap_order
            self.heap_order += 1
            self._tup(pos)
            k = (self.dm.socks[owner].heap_pos if kind == TK_REQ
                 else self.ls[owner].heap_pos)
            self._tdown(k)
            return
        k = self.heap_n
        self.heap_n += 1
        self.heap[k].when = when
        self.heap[k].order = self.heap_order
        self.heap_order += 1
        self.heap[k].owner = owner
        self.heap[k].kind = kind
        self._tset_pos(k)
        self._tup(k)

    cdef void _tcancel(self, uint8_t kind, int32_t owner) noexcept nogil:
        cdef int32_t pos = (self.dm.socks[owner].heap_pos if kind == TK_REQ
                            else self.ls[owner].heap_pos)
        cdef int64_t last
        if pos < 0:
            return
        last = self.heap_n - 1
        if pos != last:
            self._tswap(pos, last)
        self.heap_n -= 1
        if kind == TK_REQ:
            self.dm.socks[owner].heap_pos = -1
        else:
            self.ls[owner].heap_pos = -1
        if pos < self.heap_n:
            self._tup(pos)
            self._tdown(self.dm.socks[self.heap[pos].owner].heap_pos
                        if self.heap[pos].kind == TK_REQ
                        else self.ls[self.heap[pos].owner].heap_pos)

    cdef void _run_timers(self, int64_t until) noexcept nogil:
        cdef TimerEnt e
        while self.heap_n > 0 and self.heap[0].when <= until:
            e = self.heap[0]
            self._tcancel(e.kind, e.owner)
            if e.when > self.now:
                self.now = e.when
            if e.kind == TK_REQ:
                self._reqsk_timer(e.owner, e.when)
            else:
                self._accept_timer(e.owner, e.when)

    # --- request socks --------------------------------------------------
    cdef inline int64_t _reqsk_timeout(self, Sock* k) noexcept nogil:
        # reqsk_timeout(req, max): min(req->timeout << num_timeout, max)
        cdef int64_t t
        if k.num_timeout >= 40:
            return self.rto_max_ns
        t = self.timeout_init_ns << k.num_timeout
        return t if t < self.rto_max_ns else self.rto_max_ns

    cdef void _req_unlink(self, int32_t s) noexcept nogil:
        """inet_csk_reqsk_queue_drop: reqsk_queue_removed + unhash + timer."""
        cdef Sock* k = &self.dm.socks[s]
        cdef LSock* L = &self.ls[k.listener]
        L.qlen -= 1
        if k.num_timeout == 0:
            L.young -= 1
        self._tcancel(TK_REQ, s)
        demux_remove(&self.dm, s)

    cdef void _rtx_synack(self, Sock* k, int64_t when, bint timer) noexcept nogil:
        """tcp_rtx_synack: RetransSegs, TCPSynRetrans (+ OutSegs, tcp_make_synack)."""
        cdef LSock* L = &self.ls[k.listener]
        self.ctr[<int>C_TcpRetransSegs] += 1
        self.ctr[<int>C_TcpExtTCPSynRetrans] += 1
        self.ctr[<int>C_TcpOutSegs] += 1
        L.synacks += 1
        if timer:
            self._ev(when, k.conn_id, k.listener, EV_SYNACK_RETRANS, k.snt_isn,
                     k.rcv_isn + 1, self._synack_win(L, k), TH_SYN | TH_ACK,
                     k.rcv_wscale if (k.flags & SKF_WSCALE_OK) else 255, L.advmss)

    cdef inline uint16_t _synack_win(self, LSock* L, Sock* k) noexcept nogil:
        return <uint16_t>(k.rsk_rcv_wnd if k.rsk_rcv_wnd < 65535 else 65535)

    cdef void _reqsk_timer(self, int32_t s, int64_t when) noexcept nogil:
        """inet_connection_sock.c: reqsk_timer_handler()."""
        cdef Sock* k = &self.dm.socks[s]
        cdef LSock* L = &self.ls[k.listener]
        cdef int max_retries = L.synack_retries
        cdef int64_t qlen = L.qlen, young
        cdef int64_t lim = L.max_ack_backlog if L.max_ack_backlog > 8 else 8
        cdef bint expire
        if (qlen << 1) > lim:
            young = L.young << 1
            while max_retries > 2:
                if qlen < young:
                    break
                max_retries -= 1
                young <<= 1
        expire = k.num_timeout >= max_retries
        self.ctr[<int>C_TcpExtTCPTimeouts] += 1          # tcp_syn_ack_timeout()
        if not expire:
            self._rtx_synack(k, when, True)
            if k.num_timeout == 0:
                L.young -= 1
            k.num_timeout += 1
            self._tarm(TK_REQ, s, when + self._reqsk_timeout(k))
            return
        L.req_expired += 1
        self._ev(when, k.conn_id, k.listener, EV_REQ_EXPIRED, 0, 0, 0, 0, 255, 0)
        self._req_unlink(s)

    # --- accept queue / application model --------------------------------
    cdef inline bint _acceptq_full(self, LSock* L) noexcept nogil:
        # include/net/sock.h: sk_acceptq_is_full (profile: '>' or '>=')
        if self.aq_full_ge:
            return L.ack_backlog >= L.max_ack_backlog
        return L.ack_backlog > L.max_ack_backlog

    cdef inline bint _synq_full(self, LSock* L) noexcept nogil:
        # inet_csk_reqsk_queue_is_full (profile)
        if self.synq_full_ge:
            return L.qlen >= L.max_ack_backlog
        return L.qlen > L.max_ack_backlog

    cdef void _acceptq_add(self, int32_t li, int32_t s, int64_t now) noexcept nogil:
        cdef LSock* L = &self.ls[li]
        cdef Sock* k = &self.dm.socks[s]
        k.flags |= SKF_IN_ACCEPTQ
        k.acceptq_ns = now
        if L.app == APP_IMMEDIATE:
            # accept() at once: the queue never holds it past this packet
            L.ack_backlog += 1
            if L.ack_backlog > L.max_ack_seen:
                L.max_ack_seen = L.ack_backlog
            self._accept_one(li, s, now)
            return
        if L.ack_backlog >= L.aq_cap:       # cannot happen: bounded by max_ack_backlog + 1
            return
        L.aq[(L.aq_head + L.ack_backlog) % L.aq_cap] = s
        L.ack_backlog += 1
        if L.ack_backlog > L.max_ack_seen:
            L.max_ack_seen = L.ack_backlog
        if L.app != APP_NEVER and L.heap_pos < 0:
            self._schedule_accept(li)

    cdef void _accept_one(self, int32_t li, int32_t s, int64_t when) noexcept nogil:
        cdef LSock* L = &self.ls[li]
        cdef Sock* k = &self.dm.socks[s]
        L.ack_backlog -= 1
        L.accepted += 1
        L.last_accept_ns = when
        L.accepted_any = 1
        k.flags = (k.flags & ~SKF_IN_ACCEPTQ) | SKF_ACCEPTED
        self._ev(when, k.conn_id, li, EV_ACCEPT, 0, 0, 0, 0, 255, 0)

    cdef void _schedule_accept(self, int32_t li) noexcept nogil:
        """Time of the next accept() (head of the queue), per pystack.appmodel
        accept_times(): FIFO, delay, token bucket (exact integer arithmetic)."""
        cdef LSock* L = &self.ls[li]
        cdef int64_t ready, t, full, elapsed, T, wait
        if L.ack_backlog == 0:
            return
        ready = self.dm.socks[L.aq[L.aq_head]].acceptq_ns
        if L.app == APP_DELAY:
            t = ready + L.delay_ns
            if L.accepted_any and t < L.last_accept_ns:
                t = L.last_accept_ns
        else:   # APP_RATE
            t = ready
            if L.accepted_any and t < L.last_accept_ns:
                t = L.last_accept_ns
            full = L.burst * L.rate_per_ns
            T = L.tok
            if L.tok_started:
                elapsed = t - L.tok_last_ns
                if elapsed > 0:
                    if elapsed >= (full - T) // L.rate_count + 1:
                        T = full
                    else:
                        T += elapsed * L.rate_count
                        if T > full:
                            T = full
            if T < L.rate_per_ns:
                wait = (L.rate_per_ns - T + L.rate_count - 1) // L.rate_count
                t += wait
                T += wait * L.rate_count
                if T > full:
                    T = full
            L.tok_pending = T - L.rate_per_ns
        self._tarm(TK_ACCEPT, li, t)

    cdef void _accept_timer(self, int32_t li, int64_t when) noexcept nogil:
        cdef LSock* L = &self.ls[li]
        cdef int32_t s
        if L.ack_backlog == 0:
            return
        s = L.aq[L.aq_head]
        L.aq_head = (L.aq_head + 1) % L.aq_cap
        if L.app == APP_RATE:
            L.tok = L.tok_pending
            L.tok_last_ns = when
            L.tok_started = 1
        self._accept_one(li, s, when)
        if L.ack_backlog > 0:
            self._schedule_accept(li)

    # --- listener lookup (sheet 8.2) --------------------------------------
    cdef int32_t _lookup_listener(self, bint v6, uint64_t d0, uint64_t d1, uint16_t dport,
                                  uint64_t s0, uint64_t s1, uint16_t sport,
                                  bint udp=False) noexcept nogil:
        cdef int32_t i = self.uport_head[dport] if udp else self.port_head[dport]
        cdef int32_t best = -1
        cdef LSock* L
        cdef uint8_t kd
        cdef uint64_t h
        # exact-address listeners first (lhash2 bucket of daddr), then the
        # wildcard bucket; replay.py orders each port's chain that way, with
        # AF_INET before a dual-stack AF_INET6 socket (compute_score +1).
        while i >= 0:
            L = &self.ls[i]
            kd = L.kind
            if v6:
                if (kd == LK_V6_EXACT and L.a0 == d0 and L.a1 == d1) or kd == LK_V6_ANY \
                        or kd == LK_V6_ANY_ONLY:
                    best = i
                    break
            else:
                if (kd == LK_V4_EXACT and L.a0 == d0 and L.a1 == d1) or kd == LK_V4_ANY \
                        or kd == LK_V6_ANY:
                    best = i
                    break
            i = L.next_on_port
        if best >= 0 and self.ls[best].group_n > 1:
            # reuseport_select_sock_by_hash: reciprocal_scale(hash, n)
            L = &self.ls[best]
            h = tuple_hash(self.dm.seed ^ <uint64_t>0x7265757365ULL, d0, d1, s0, s1,
                           dport, sport) & <uint64_t>0xffffffffULL
            best = self.group[L.group_off + <int32_t>((h * <uint64_t>L.group_n) >> 32)]
        return best

    # --- syncookie table ----------------------------------------------------
    cdef inline void _synq_overflow(self, LSock* L, int64_t now) noexcept nogil:
        # include/net/tcp.h: tcp_synq_overflow(): restamp at most once per second
        if not (L.has_overflow and now >= L.last_overflow_ns
                and now <= L.last_overflow_ns + 1000000000):
            L.last_overflow_ns = now
            L.has_overflow = 1

    cdef inline bint _synq_no_recent_overflow(self, LSock* L, int64_t now) noexcept nogil:
        # include/net/tcp.h: tcp_synq_no_recent_overflow()
        if not L.has_overflow:
            return True
        return not (now >= L.last_overflow_ns - 1000000000
                    and now <= L.last_overflow_ns + self.synq_valid_ns)

    cdef inline uint16_t _cookie_mss(self, bint v6, uint16_t peer_mss) noexcept nogil:
        # syncookies.c cookie_v4_init_sequence / cookie_v6_init_sequence: msstab
        cdef const uint16_t* tab = &self.msstab4[0]
        if v6:
            tab = &self.msstab6[0]
        cdef int j = 3
        while j > 0:
            if peer_mss >= tab[j]:
                break
            j -= 1
        return tab[j]

    # ------------------------------------------------------------------
    # per packet
    # ------------------------------------------------------------------
    cdef inline void _prefetch(self, Py_ssize_t j) noexcept nogil:
        """Hash row j's 4-tuple (as an inbound segment) and prefetch the ehash
        and cookie slots it will touch: under a SYN flood both are random
        accesses into tables bigger than the caches."""
        cdef Batch* c = &self.b
        cdef uint64_t s0, s1, d0, d1
        cdef uint64_t h
        if c.ip_proto[j] != 6 or not (c.flags[j] & PF_L4):
            return
        load_addr(c.saddr + 16 * j, &s0, &s1)
        load_addr(c.daddr + 16 * j, &d0, &d1)
        h = tuple_hash(self.dm.seed, d0, d1, s0, s1, c.dport[j], c.sport[j])
        self.hrow[j & (HRING - 1)] = j
        self.hval[j & (HRING - 1)] = h
        PSE_PREFETCH_W(&self.dm.slots[h & self.dm.mask])
        PSE_PREFETCH_W(&self.ck[h & self.ck_mask])

    cdef void _row(self, Py_ssize_t i) noexcept nogil:
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef uint32_t fl = c.flags[i]
        cdef uint8_t st = c.status[i]
        cdef const uint8_t* sa = c.saddr + 16 * i
        cdef const uint8_t* da = c.daddr + 16 * i
        cdef uint64_t s0, s1, d0, d1
        cdef bint v6, src_local, dst_local, known
        cdef uint8_t dirn
        v.direction[i] = DIR_OTHER
        v.verdict[i] = V_NOT_HOST
        v.reason[i] = 0
        v.conn_id[i] = -1
        v.sock_state[i] = TS_NONE
        v.listener[i] = -1
        v.reply[i] = R_NONE
        v.reply_seq[i] = 0
        v.reply_ack[i] = 0
        v.reply_win[i] = 0
        v.reply_flags[i] = 0
        v.reply_wscale[i] = 255
        v.reply_mss[i] = 0
        if fl & PF_BAD_LINK:
            v.verdict[i] = V_UNMODELLED
            v.reason[i] = st
            return
        if (fl & PF_NOT_IP) or not (fl & (PF_IPV4 | PF_IPV6)):
            return
        v6 = (fl & PF_IPV6) != 0
        load_addr(sa, &s0, &s1)
        load_addr(da, &d0, &d1)
        known = (d0 | d1 | s0 | s1) != 0
        src_local = known and self._is_local(s0, s1, sa)
        dst_local = known and self._is_local(d0, d1, da)
        if c.pkt_type[i] == PKTTYPE_OUTGOING:
            dirn = DIR_OUT
        elif src_local and dst_local:
            dirn = DIR_OUT if self._source_is_ours(i, v6, s0, s1, d0, d1) else DIR_IN
        elif src_local:
            dirn = DIR_OUT
        elif dst_local or not known:
            dirn = DIR_IN
        elif self.ip_forward:
            dirn = DIR_FWD
        else:
            dirn = DIR_OTHER
        v.direction[i] = dirn
        if st == DR_HDR_TRUNC and (fl & PF_TRUNCATED):
            v.verdict[i] = V_UNMODELLED       # our pull failed: capture artefact
            v.reason[i] = st
            return
        if dirn == DIR_OUT:
            v.verdict[i] = V_SENT
            self._outbound(i, v6, s0, s1, d0, d1)
            return
        if dirn != DIR_IN:
            return
        if c.pkt_type[i] == PKTTYPE_OTHERHOST:
            v.verdict[i] = V_DROPPED          # ip_rcv: before any IP counter
            v.reason[i] = DR_OTHERHOST
            return
        if v6:
            self._ip6_rcv(i, st, fl, s0, s1, d0, d1)
        else:
            self._ip4_rcv(i, st, fl, s0, s1, d0, d1)

    cdef bint _source_is_ours(self, Py_ssize_t i, bint v6, uint64_t s0, uint64_t s1,
                              uint64_t d0, uint64_t d1) noexcept nogil:
        cdef Batch* c = &self.b
        cdef uint16_t sp = c.sport[i], dp = c.dport[i]
        cdef uint32_t h
        if c.ip_proto[i] != 6 or not (c.flags[i] & PF_L4):
            return False
        h = <uint32_t>tuple_hash(self.dm.seed, s0, s1, d0, d1, sp, dp)
        if demux_find(&self.dm, s0, s1, d0, d1, sp, dp, h) >= 0:
            return True
        if self._lookup_listener(v6, s0, s1, sp, d0, d1, dp) >= 0:
            # a listener owns (saddr, sport): unless the destination side is
            # a connection we know as local, the packet comes from it
            h = <uint32_t>tuple_hash(self.dm.seed, d0, d1, s0, s1, dp, sp)
            return demux_find(&self.dm, d0, d1, s0, s1, dp, sp, h) < 0
        return False

    cdef inline void _drop(self, Py_ssize_t i, uint8_t reason) noexcept nogil:
        self.vo.verdict[i] = V_DROPPED
        self.vo.reason[i] = reason

    cdef void _ip4_rcv(self, Py_ssize_t i, uint8_t st, uint32_t fl, uint64_t s0,
                       uint64_t s1, uint64_t d0, uint64_t d1) noexcept nogil:
        cdef Batch* c = &self.b
        cdef Batch* rb = &self.b
        cdef int64_t l3 = c.l3_off[i]
        cdef int64_t length = <int64_t>rb.wirelen[i] - l3
        cdef int64_t cap = <int64_t>rb.caplen[i] - l3
        cdef const uint8_t* p = rb.base + rb.offset[i]
        cdef uint8_t b0, proto
        # ip_rcv_core (sheet 1.1)
        self.ctr[<int>C_IpInReceives] += 1
        self.ctr[<int>C_IpExtInOctets] += length
        if length >= 20 and cap >= 1:
            b0 = p[l3]
            if (b0 >> 4) == 4 and (b0 & 15) >= 5:
                self.ctr[<int>C_IpExtInNoECTPkts + (c.ip_tos[i] & 3)] += 1
        if st == DR_IP_INHDR:
            self.ctr[<int>C_IpInHdrErrors] += 1
            self._drop(i, st)
            return
        if st == DR_IP_CSUM:
            self.ctr[<int>C_IpExtInCsumErrors] += 1
            self.ctr[<int>C_IpInHdrErrors] += 1
            self._drop(i, st)
            return
        if st == DR_PKT_TOO_SMALL and length < <int64_t>c.ip_len[i]:
            self.ctr[<int>C_IpExtInTruncatedPkts] += 1
            self._drop(i, st)
            return
        # ip_local_deliver
        if fl & PF_FRAG:
            self.ctr[<int>C_IpReasmReqds] += 1
            self.vo.verdict[i] = V_QUEUED
            return
        proto = c.ip_proto[i]
        if proto == 6:
            self._tcp_rcv(i, st, fl, False, s0, s1, d0, d1)
            self.ctr[<int>C_IpInDelivers] += 1
        elif proto == 17:
            self._udp_rcv(i, st, fl, False, s0, s1, d0, d1)
            self.ctr[<int>C_IpInDelivers] += 1
        elif proto == 1:
            self._icmp_rcv(i, st, s0, s1)
            self.ctr[<int>C_IpInDelivers] += 1
        elif proto == 2:
            # igmp_rcv: not modelled
            self.ctr[<int>C_IpInDelivers] += 1
            if st != 0:
                self._drop(i, st)
            else:
                self.vo.verdict[i] = V_DELIVERED
        else:
            self.ctr[<int>C_IpInUnknownProtos] += 1
            self._drop(i, DR_IP_NOPROTO)

    cdef void _ip6_rcv(self, Py_ssize_t i, uint8_t st, uint32_t fl, uint64_t s0,
                       uint64_t s1, uint64_t d0, uint64_t d1) noexcept nogil:
        cdef Batch* c = &self.b
        cdef Batch* rb = &self.b
        cdef int64_t length = <int64_t>rb.wirelen[i] - <int64_t>c.l3_off[i]
        cdef uint8_t proto
        # ip6_rcv_core
        self.ctr[<int>C_Ip6InReceives] += 1
        self.ctr[<int>C_Ip6InOctets] += length
        if length >= 40 and st != DR_UNHANDLED_PROTO:
            # ECN accounting after the version check, before the address checks
            self.ctr[<int>C_Ip6InNoECTPkts + (c.ip_tos[i] & 3)] += 1
        if st == DR_IP_INHDR or st == DR_UNHANDLED_PROTO or st == DR_IPV6_BAD_EXTHDR:
            self.ctr[<int>C_Ip6InHdrErrors] += 1
            self._drop(i, st)
            return
        if st == DR_PKT_TOO_SMALL and length < <int64_t>c.ip_len[i]:
            self.ctr[<int>C_Ip6InTruncatedPkts] += 1
            self._drop(i, st)
            return
        if fl & PF_FRAG:
            self.ctr[<int>C_Ip6ReasmReqds] += 1
            self.vo.verdict[i] = V_QUEUED
            return
        proto = c.ip_proto[i]
        if proto == 6:
            self._tcp_rcv(i, st, fl, True, s0, s1, d0, d1)
            self.ctr[<int>C_Ip6InDelivers] += 1
        elif proto == 17:
            self._udp_rcv(i, st, fl, True, s0, s1, d0, d1)
            self.ctr[<int>C_Ip6InDelivers] += 1
        elif proto == 58:
            # icmpv6_rcv: not modelled (delivered)
            self.ctr[<int>C_Ip6InDelivers] += 1
            if st != 0:
                self._drop(i, st)
            else:
                self.vo.verdict[i] = V_DELIVERED
        else:
            self.ctr[<int>C_Ip6InUnknownProtos] += 1
            self._drop(i, DR_IP_NOPROTO)

    # --- ICMP output rate limits -------------------------------------------
    cdef bint _icmp_xmit_allowed(self, uint8_t type, uint64_t p0, uint64_t p1,
                                 bint loopback) noexcept nogil:
        """icmp.c __icmp_send: icmpv4_global_allow + icmpv4_xrlim_allow
        (6.11+: random 0-2 credits consumed per message, seeded PRNG)."""
        cdef int64_t now_j = self.now // 1000000
        cdef int64_t delta, incr, token
        cdef Peer* pe
        cdef uint64_t slot
        if not ((1 << type) & self.icmp_ratemask) or loopback:
            return True
        # icmp_global_allow
        if self.icmp_credit <= 0:
            delta = now_j - self.icmp_stamp_j
            if delta > 1000:
                delta = 1000
            if delta < 1000 // 50:
                self.ctr[<int>C_IcmpOutRateLimitGlobal] += 1
                return False
            incr = self.icmp_msgs_per_sec * delta // 1000
            if incr == 0:
                self.ctr[<int>C_IcmpOutRateLimitGlobal] += 1
                return False
            self.icmp_stamp_j = now_j
            self.icmp_credit = self.icmp_credit + incr
            if self.icmp_credit > self.icmp_msgs_burst:
                self.icmp_credit = self.icmp_msgs_burst
        # inet_peer_xrlim_allow (direct-mapped peer table: an evicted peer
        # comes back with a full bucket, as a new inet_peer would)
        slot = mix64(p0 ^ mix64(p1 ^ self.dm.seed)) & self.peer_mask
        pe = &self.peers[slot]
        if not pe.used or pe.a0 != p0 or pe.a1 != p1:
            pe.used = 1
            pe.a0 = p0
            pe.a1 = p1
            pe.rate_tokens = 0
            pe.rate_last = now_j - 60 * 1000      # inet_getpeer: jiffies - 60*HZ
        token = pe.rate_tokens
        delta = now_j - pe.rate_last
        if delta:
            pe.rate_last = now_j
            token += delta
            if token > 6 * self.icmp_ratelimit_j:     # XRLIM_BURST_FACTOR
                token = 6 * self.icmp_ratelimit_j
        if token >= self.icmp_ratelimit_j:
            pe.rate_tokens = token - self.icmp_ratelimit_j
            self.icmp_credit -= self._rand32() % 3    # icmp_global_consume
            return True
        pe.rate_tokens = token
        self.ctr[<int>C_IcmpOutRateLimitHost] += 1
        return False

    cdef void _icmp_rcv(self, Py_ssize_t i, uint8_t st, uint64_t s0, uint64_t s1) noexcept nogil:
        """icmp.c icmp_rcv (echo answered; other types consumed)."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef uint8_t t
        self.ctr[<int>C_IcmpInMsgs] += 1
        if self.csum_err[i]:
            self.ctr[<int>C_IcmpInCsumErrors] += 1
            self.ctr[<int>C_IcmpInErrors] += 1
            self._drop(i, DR_ICMP_CSUM)
            return
        if st != 0:                                 # cannot pull the header
            self.ctr[<int>C_IcmpInErrors] += 1
            self._drop(i, st)
            return
        t = c.icmp_type[i]
        if t > 18:                                  # NR_ICMP_TYPES
            self.ctr[<int>C_IcmpInErrors] += 1
            self._drop(i, DR_UNHANDLED_PROTO)
            return
        if t == 3:
            self.ctr[<int>C_IcmpInDestUnreachs] += 1
        v.verdict[i] = V_DELIVERED
        if t == 8:
            self.ctr[<int>C_IcmpInEchos] += 1
            if not self.icmp_echo_ignore_all:
                # icmp_echo -> icmp_reply (echo reply is not in icmp_ratemask)
                self.ctr[<int>C_IcmpOutMsgs] += 1
                self.ctr[<int>C_IcmpOutEchoReps] += 1
                v.reply[i] = R_ICMP_ECHO_REPLY

    # --- UDP ------------------------------------------------------------------
    cdef void _udp_rcv(self, Py_ssize_t i, uint8_t st, uint32_t fl, bint v6, uint64_t s0,
                       uint64_t s1, uint64_t d0, uint64_t d1) noexcept nogil:
        """udp.c __udp4_lib_rcv / udp6 __udp6_lib_rcv (unicast)."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef int32_t li
        cdef int cin = <int>C_Udp6InErrors if v6 else <int>C_UdpInErrors
        if st != 0:                     # cannot pull 8 bytes / bad length
            self.ctr[cin] += 1
            self._drop(i, st)
            return
        if not (fl & PF_L4):
            v.verdict[i] = V_UNMODELLED
            v.reason[i] = DR_HDR_TRUNC
            return
        li = self._lookup_listener(v6, d0, d1, c.dport[i], s0, s1, c.sport[i], True)
        if self.csum_err[i]:
            # checked before NoPorts, and in udp_queue_rcv_one_skb for a socket
            self.ctr[<int>C_Udp6InCsumErrors if v6 else <int>C_UdpInCsumErrors] += 1
            self.ctr[cin] += 1
            self._drop(i, DR_UDP_CSUM)
            v.listener[i] = <int16_t>li
            return
        if li >= 0:
            # socket receive buffer / application reads: next slice
            v.verdict[i] = V_DELIVERED
            v.listener[i] = <int16_t>li
            v.sock_state[i] = TS_CLOSE           # ss shows UNCONN
            return
        self.ctr[<int>C_Udp6NoPorts if v6 else <int>C_UdpNoPorts] += 1
        self._drop(i, DR_NO_SOCKET)
        if v6:
            return                               # ICMPv6 errors: not modelled
        # icmp_send(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH)
        if self._icmp_xmit_allowed(3, s0, s1, self._is_local(s0, s1, c.saddr + 16 * i)):
            self.ctr[<int>C_IcmpOutMsgs] += 1
            self.ctr[<int>C_IcmpOutDestUnreachs] += 1
            v.reply[i] = R_ICMP_PORT_UNREACH

    # --- TCP ----------------------------------------------------------------
    cdef void _send_reset(self, Py_ssize_t i) noexcept nogil:
        """tcp_v4_send_reset / tcp_v6_send_reset (sheet 1.4 item 7)."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef uint16_t f = c.tcp_flags[i]
        if f & TH_RST:
            return
        self.ctr[<int>C_TcpOutSegs] += 1
        self.ctr[<int>C_TcpOutRsts] += 1
        v.reply[i] = R_RST
        v.reply_win[i] = 0
        if f & TH_ACK:
            v.reply_seq[i] = c.tcp_ack[i]
            v.reply_ack[i] = 0
            v.reply_flags[i] = TH_RST
        else:
            v.reply_seq[i] = 0
            v.reply_ack[i] = (c.tcp_seq[i] + ((f & TH_SYN) != 0) + ((f & TH_FIN) != 0)
                              + c.payload_len[i])
            v.reply_flags[i] = TH_RST | TH_ACK

    cdef void _tcp_rcv(self, Py_ssize_t i, uint8_t st, uint32_t fl, bint v6, uint64_t s0,
                       uint64_t s1, uint64_t d0, uint64_t d1) noexcept nogil:
        """tcp_v4_rcv / tcp_v6_rcv."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef uint16_t sp = c.sport[i], dp = c.dport[i]
        cdef uint64_t h
        cdef int32_t s, li
        cdef Sock* k
        if c.pkt_type[i] != PKTTYPE_HOST:
            self._drop(i, DR_NOT_SPECIFIED)     # broadcast / multicast frame
            return
        self.ctr[<int>C_TcpInSegs] += 1              # "count it even if it's bad"
        if st == DR_PKT_TOO_SMALL:              # doff < 5
            self.ctr[<int>C_TcpInErrs] += 1
            self._drop(i, st)
            return
        if st != 0:                             # < 20 bytes, cannot pull doff*4
            self._drop(i, st)
            return
        if not (fl & PF_L4):
            v.verdict[i] = V_UNMODELLED         # TCP header not captured
            v.reason[i] = DR_HDR_TRUNC
            return
        if self.csum_err[i]:
            self.ctr[<int>C_TcpInCsumErrors] += 1
            self.ctr[<int>C_TcpInErrs] += 1
            self._drop(i, DR_TCP_CSUM)
            return
        if self.hrow[i & (HRING - 1)] == i:
            h = self.hval[i & (HRING - 1)]
        else:
            h = tuple_hash(self.dm.seed, d0, d1, s0, s1, dp, sp)
        s = demux_find(&self.dm, d0, d1, s0, s1, dp, sp, <uint32_t>h)
        if s >= 0:
            k = &self.dm.socks[s]
            v.conn_id[i] = k.conn_id
            v.listener[i] = <int16_t>k.listener
            if k.state == TS_NEW_SYN_RECV:
                self._check_req(i, s, v6, s0, s1, d0, d1, h)
            else:
                # full socket: receive path is the next slice
                v.verdict[i] = V_DELIVERED
                v.sock_state[i] = k.state
            return
        li = self._lookup_listener(v6, d0, d1, dp, s0, s1, sp)
        if li < 0:
            self._drop(i, DR_NO_SOCKET)
            self._send_reset(i)
            return
        self._listen_rcv(i, li, v6, s0, s1, d0, d1, h)

    cdef void _listen_rcv(self, Py_ssize_t i, int32_t li, bint v6, uint64_t s0, uint64_t s1,
                          uint64_t d0, uint64_t d1, uint64_t h) noexcept nogil:
        """tcp_v4_do_rcv for a LISTEN socket."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef uint16_t f = c.tcp_flags[i]
        cdef LSock* L = &self.ls[li]
        cdef int r
        v.listener[i] = <int16_t>li
        v.sock_state[i] = TS_LISTEN
        v.conn_id[i] = -1
        if not (f & TH_SYN):
            # tcp_v4_cookie_check -> cookie_v4_check
            if self.syncookies and (f & TH_ACK) and not (f & TH_RST) \
                    and not self._synq_no_recent_overflow(L, self.now):
                r = self._cookie_check(i, li, v6, s0, s1, d0, d1, h)
                if r >= 0:
                    return          # child created, or dropped (NO_SOCKET)
        # tcp_rcv_state_process, case TCP_LISTEN
        if f & TH_ACK:
            self._drop(i, DR_TCP_FLAGS)
            self._send_reset(i)
            return
        if f & TH_RST:
            self._drop(i, DR_TCP_RESET)
            return
        if f & TH_SYN:
            if f & TH_FIN:
                self._drop(i, DR_TCP_FLAGS)
                return
            self._conn_request(i, li, v6, s0, s1, d0, d1, h)
            return
        self._drop(i, DR_TCP_FLAGS)

    cdef inline void _listendrop(self, LSock* L) noexcept nogil:
        self.ctr[<int>C_TcpExtListenDrops] += 1
        L.drops += 1

    cdef void _conn_request(self, Py_ssize_t i, int32_t li, bint v6, uint64_t s0,
                            uint64_t s1, uint64_t d0, uint64_t d1, uint64_t h) noexcept nogil:
        """tcp_input.c: tcp_conn_request() (sheet 4.2)."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef LSock* L = &self.ls[li]
        cdef uint32_t fl = c.flags[i]
        cdef bint want_cookie = False
        cdef bint ts_ok, ws_ok, sack_ok
        cdef uint16_t peer_mss
        cdef uint32_t isn, win
        cdef int32_t s
        cdef Sock* k
        cdef Cookie* ck
        cdef uint64_t slot
        cdef int64_t now = self.now
        if self.syncookies == 2 or self._synq_full(L):
            # tcp_syn_flood_action
            if self.syncookies:
                self.ctr[<int>C_TcpExtTCPReqQFullDoCookies] += 1
                L.reqqfull_cookies += 1
                want_cookie = True
            else:
                self.ctr[<int>C_TcpExtTCPReqQFullDrop] += 1
                L.reqqfull_drop += 1
                self._listendrop(L)
                self._drop(i, DR_TCP_LISTEN_OVERFLOW)
                return
        if self._acceptq_full(L):
            self.ctr[<int>C_TcpExtListenOverflows] += 1
            L.overflows += 1
            self._listendrop(L)
            self._drop(i, DR_TCP_LISTEN_OVERFLOW)
            return
        # tcp_parse_options (tcp_clear_options for a cookie without timestamps)
        ts_ok = (fl & PF_TCP_TS) != 0 and self.tcp_timestamps != 0
        ws_ok = (fl & PF_TCP_WSCALE) != 0 and self.tcp_window_scaling != 0
        sack_ok = (fl & PF_TCP_SACKOK) != 0 and self.tcp_sack != 0
        peer_mss = c.tcp_mss[i] if (fl & PF_TCP_MSS) and c.tcp_mss[i] != 0 else TCP_MSS_DEFAULT
        if want_cookie and not ts_ok:
            ws_ok = False
            sack_ok = False
        if not want_cookie and self.syncookies == 0 and \
                (self.max_syn_backlog - L.qlen < (self.max_syn_backlog >> 2)):
            self._listendrop(L)                 # pr_drop_req, drop_and_release
            self._drop(i, DR_TCP_LISTEN_OVERFLOW)
            return
        win = L.win_ts if ts_ok else L.win_nots
        isn = self._rand32()
        v.verdict[i] = V_DELIVERED
        v.reply_seq[i] = isn
        v.reply_ack[i] = c.tcp_seq[i] + 1
        v.reply_win[i] = <uint16_t>(win if win < 65535 else 65535)
        v.reply_flags[i] = TH_SYN | TH_ACK
        v.reply_wscale[i] = L.wscale if ws_ok else 255
        v.reply_mss[i] = L.advmss
        self.ctr[<int>C_TcpOutSegs] += 1
        L.synacks += 1
        if want_cookie:
            # cookie_init_sequence: SyncookiesSent; tcp_synq_overflow
            self.ctr[<int>C_TcpExtSyncookiesSent] += 1
            L.cookies_sent += 1
            self._synq_overflow(L, now)
            slot = h & self.ck_mask
            ck = &self.ck[slot]
            if ck.used and ck.fp != h:
                self.div[DV_COOKIE_EVICT] += 1
            ck.fp = h
            ck.listener = li
            ck.issued_ns = now
            ck.conn_id = self.next_conn
            self.next_conn += 1
            ck.isn = isn
            ck.host_isn = 0
            ck.host_known = 0
            ck.mss = self._cookie_mss(v6, peer_mss)
            ck.used = 1
            v.reply[i] = R_SYNACK_COOKIE
            v.sock_state[i] = TS_LISTEN
            v.conn_id[i] = ck.conn_id
            return
        # request sock: inet_csk_reqsk_queue_hash_add
        s = demux_new(&self.dm)
        k = &self.dm.socks[s]
        k.la0 = d0
        k.la1 = d1
        k.ra0 = s0
        k.ra1 = s1
        k.lport = c.dport[i]
        k.rport = c.sport[i]
        k.hash = <uint32_t>h
        k.state = TS_NEW_SYN_RECV
        k.family = 6 if v6 else 4
        k.flags = ((SKF_WSCALE_OK if ws_ok else 0) | (SKF_TSTAMP_OK if ts_ok else 0)
                   | (SKF_SACK_OK if sack_ok else 0))
        k.rcv_wscale = L.wscale if ws_ok else 0
        k.snd_wscale = c.tcp_wscale[i] if ws_ok else 0
        k.peer_mss = peer_mss
        k.listener = li
        k.conn_id = self.next_conn
        self.next_conn += 1
        k.rcv_isn = c.tcp_seq[i]
        k.model_isn = isn
        k.snt_isn = isn
        k.rsk_rcv_wnd = win
        k.created_ns = now
        k.synack_ns = now
        demux_insert(&self.dm, s)
        L.qlen += 1
        L.young += 1
        if L.qlen > L.max_qlen_seen:
            L.max_qlen_seen = L.qlen
        self._tarm(TK_REQ, s, now + self.timeout_init_ns)
        v.reply[i] = R_SYNACK
        v.sock_state[i] = TS_NEW_SYN_RECV
        v.conn_id[i] = k.conn_id

    cdef int _cookie_check(self, Py_ssize_t i, int32_t li, bint v6, uint64_t s0,
                           uint64_t s1, uint64_t d0, uint64_t d1, uint64_t h) noexcept nogil:
        """syncookies.c cookie_v4_check: -1 = not a valid cookie (LISTEN path
        continues), 0 = handled (child created or dropped)."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef LSock* L = &self.ls[li]
        cdef Cookie* ck = &self.ck[h & self.ck_mask]
        cdef uint32_t want = c.tcp_ack[i] - 1
        cdef bint valid
        cdef int64_t age
        cdef int32_t s
        cdef Sock* k
        valid = ck.used and ck.listener == li and ck.fp == h
        if valid:
            # check_tcp_syn_cookie: (count - cookie count) < MAX_SYNCOOKIE_AGE
            age = self.now // self.cookie_period_ns - ck.issued_ns // self.cookie_period_ns
            valid = age >= 0 and age < self.max_cookie_age
        if valid:
            if ck.host_known:
                valid = want == ck.host_isn
            elif want != ck.isn:
                self.div[DV_COOKIE_ASSUMED] += 1
        if not valid:
            self.ctr[<int>C_TcpExtSyncookiesFailed] += 1
            L.cookies_failed += 1
            return -1
        self.ctr[<int>C_TcpExtSyncookiesRecv] += 1
        L.cookies_recv += 1
        v.conn_id[i] = ck.conn_id
        # tcp_get_cookie_sock -> syn_recv_sock
        if self._acceptq_full(L):
            self.ctr[<int>C_TcpExtListenOverflows] += 1
            L.overflows += 1
            self._listendrop(L)
            self._drop(i, DR_NO_SOCKET)
            return 0
        s = demux_new(&self.dm)
        k = &self.dm.socks[s]
        k.la0 = d0
        k.la1 = d1
        k.ra0 = s0
        k.ra1 = s1
        k.lport = c.dport[i]
        k.rport = c.sport[i]
        k.hash = <uint32_t>h
        k.family = 6 if v6 else 4
        k.listener = li
        k.conn_id = ck.conn_id
        k.rcv_isn = c.tcp_seq[i] - 1
        k.snt_isn = want
        k.model_isn = ck.isn
        k.peer_mss = ck.mss
        k.created_ns = self.now
        demux_insert(&self.dm, s)
        self._make_child(i, li, s)
        return 0

    cdef void _make_child(self, Py_ssize_t i, int32_t li, int32_t s) noexcept nogil:
        """tcp_create_openreq_child (PassiveOpens) + accept queue + ESTABLISHED."""
        cdef Sock* k = &self.dm.socks[s]
        cdef LSock* L = &self.ls[li]
        self.ctr[<int>C_TcpPassiveOpens] += 1
        L.passive_opens += 1
        k.state = TS_ESTABLISHED
        self.ctr[<int>C_TcpCurrEstab] += 1
        k.rcv_nxt = self.b.tcp_seq[i]
        k.snd_una = k.snt_isn + 1
        k.snd_nxt = k.snt_isn + 1
        self.vo.verdict[i] = V_DELIVERED
        self.vo.sock_state[i] = TS_ESTABLISHED
        self.vo.conn_id[i] = k.conn_id
        self._acceptq_add(li, s, self.now)

    cdef inline bint _oow_rate_limited(self, Sock* k) noexcept nogil:
        # tcp_input.c __tcp_oow_rate_limited (tcp_invalid_ratelimit)
        cdef int64_t el
        if k.flags & SKF_OOW_SET:
            el = self.now - k.last_oow_ns
            if el >= 0 and el < self.invalid_ratelimit_ns:
                self.ctr[<int>C_TcpExtTCPACKSkippedSynRecv] += 1
                return True
        k.last_oow_ns = self.now
        k.flags |= SKF_OOW_SET
        return False

    cdef void _check_req(self, Py_ssize_t i, int32_t s, bint v6, uint64_t s0, uint64_t s1,
                         uint64_t d0, uint64_t d1, uint64_t h) noexcept nogil:
        """tcp_minisocks.c: tcp_check_req() (sheet 4.4).  PAWS not modelled."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef Sock* k = &self.dm.socks[s]
        cdef int32_t li = k.listener
        cdef LSock* L = &self.ls[li]
        cdef uint16_t f = c.tcp_flags[i]
        cdef uint16_t flg = f & (TH_RST | TH_SYN | TH_ACK)
        cdef uint32_t seq = c.tcp_seq[i]
        cdef uint32_t end_seq = seq + ((f & TH_SYN) != 0) + ((f & TH_FIN) != 0) + c.payload_len[i]
        cdef uint32_t rcv_nxt = k.rcv_isn + 1
        v.sock_state[i] = TS_NEW_SYN_RECV
        if seq == k.rcv_isn and flg == TH_SYN:
            # retransmitted SYN
            self._drop(i, DR_NOT_SPECIFIED)
            if not self._oow_rate_limited(k):
                self._rtx_synack(k, self.now, False)
                v.reply[i] = R_SYNACK
                v.reply_seq[i] = k.snt_isn
                v.reply_ack[i] = rcv_nxt
                v.reply_win[i] = self._synack_win(L, k)
                v.reply_flags[i] = TH_SYN | TH_ACK
                v.reply_wscale[i] = k.rcv_wscale if (k.flags & SKF_WSCALE_OK) else 255
                v.reply_mss[i] = L.advmss
                # mod_timer_pending(now + reqsk_timeout(req))
                if k.heap_pos >= 0:
                    self._tarm(TK_REQ, s, self.now + self._reqsk_timeout(k))
            return
        if flg & TH_ACK:
            if c.tcp_ack[i] != k.snt_isn + 1:
                if k.flags & SKF_HOST_ISN:
                    # return sk: the listener handles it (cookie check, RST)
                    v.conn_id[i] = -1
                    self._listen_rcv(i, li, v6, s0, s1, d0, d1, h)
                    return
                # open loop: the ACK acknowledges the real host's ISN
                self.div[DV_ACK_ASSUMED] += 1
        if not tcp_in_window(seq, end_seq, rcv_nxt, rcv_nxt + k.rsk_rcv_wnd):
            self._drop(i, DR_TCP_OVERWINDOW)
            if not (flg & TH_RST) and not self._oow_rate_limited(k):
                # tcp_v4_reqsk_send_ack
                self.ctr[<int>C_TcpOutSegs] += 1
                v.reply[i] = R_ACK
                v.reply_seq[i] = k.snt_isn + 1
                v.reply_ack[i] = rcv_nxt
                v.reply_win[i] = <uint16_t>(k.rsk_rcv_wnd >> k.rcv_wscale)
                v.reply_flags[i] = TH_ACK
            return
        if seq == k.rcv_isn:
            flg &= ~TH_SYN
        if flg & (TH_RST | TH_SYN):
            self.ctr[<int>C_TcpAttemptFails] += 1
            self._drop(i, DR_TCP_RESET if (flg & TH_RST) else DR_TCP_FLAGS)
            self._embryonic_reset(i, s)
            return
        if not (flg & TH_ACK):
            self._drop(i, DR_NOT_SPECIFIED)
            return
        # tcp_v4_syn_recv_sock
        if self._acceptq_full(L):
            self.ctr[<int>C_TcpExtListenOverflows] += 1
            L.overflows += 1
            self._listendrop(L)
            self._drop(i, DR_TCP_LISTEN_OVERFLOW)
            if not self.abort_on_overflow:
                k.flags |= SKF_ACKED
                return
            self._embryonic_reset(i, s)
            return
        # inet_csk_complete_hashdance: the child takes the request's place
        L.qlen -= 1
        if k.num_timeout == 0:
            L.young -= 1
        self._tcancel(TK_REQ, s)
        self._make_child(i, li, s)

    cdef void _embryonic_reset(self, Py_ssize_t i, int32_t s) noexcept nogil:
        cdef Sock* k = &self.dm.socks[s]
        cdef LSock* L = &self.ls[k.listener]
        self._send_reset(i)                 # not for a RST
        self.ctr[<int>C_TcpExtEmbryonicRsts] += 1
        L.embryonic_rsts += 1
        self.vo.sock_state[i] = TS_NONE
        self._req_unlink(s)

    # --- the host's own packets ---------------------------------------------
    cdef void _outbound(self, Py_ssize_t i, bint v6, uint64_t s0, uint64_t s1,
                        uint64_t d0, uint64_t d1) noexcept nogil:
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef uint16_t sp, dp, f
        cdef uint64_t h
        cdef int32_t s
        cdef Sock* k
        cdef Cookie* ck
        if c.ip_proto[i] != 6 or not (c.flags[i] & PF_L4) or (c.flags[i] & PF_FRAG):
            return
        sp = c.sport[i]
        dp = c.dport[i]
        f = c.tcp_flags[i]
        h = tuple_hash(self.dm.seed, s0, s1, d0, d1, sp, dp)
        s = demux_find(&self.dm, s0, s1, d0, d1, sp, dp, <uint32_t>h)
        if s >= 0:
            k = &self.dm.socks[s]
            v.conn_id[i] = k.conn_id
            v.listener[i] = <int16_t>k.listener
            v.sock_state[i] = k.state
            if f & TH_RST:
                # the real host reset a connection the model holds (e.g. its
                # port was closed, or its accept queue overflowed with
                # tcp_abort_on_overflow=1 while the model's did not)
                self.div[DV_HOST_RST] += 1
            if (f & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) and k.state == TS_NEW_SYN_RECV \
                    and not (k.flags & SKF_HOST_ISN):
                k.host_isn = c.tcp_seq[i]
                k.snt_isn = k.host_isn
                k.flags |= SKF_HOST_ISN
            return
        if (f & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK):
            ck = &self.ck[h & self.ck_mask]
            if ck.used and ck.fp == h:
                if not ck.host_known:
                    ck.host_isn = c.tcp_seq[i]
                    ck.host_known = 1
                v.conn_id[i] = ck.conn_id
                v.listener[i] = <int16_t>ck.listener
                v.sock_state[i] = TS_LISTEN
                return
            self.div[DV_HOST_SYNACK_UNMATCHED] += 1
