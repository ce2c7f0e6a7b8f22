# The stack engine: per-packet verdicts, counters, timers (see engine.pyx).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int8_t, int16_t, int32_t, int64_t

from pystack._core.capture cimport RecordBatch
from pystack._core.parse cimport PacketColumns
from pystack._core.demux cimport Demux, Sock
from pystack._core.vocab cimport C__COUNT

# Verdicts.direction
cdef enum:
    DIR_OTHER = 0       # not the host's business (neither end is local)
    DIR_IN = 1          # to the host
    DIR_OUT = 2         # from the host (observed)
    DIR_FWD = 3         # would be forwarded (ip_forward=1): classified only

# Verdicts.verdict
cdef enum:
    V_NOT_HOST = 0      # not addressed to / sent by the host (or not IP)
    V_DELIVERED = 1     # consumed by the stack (socket, listener, request sock)
    V_DROPPED = 2       # freed with a drop reason (Verdicts.reason)
    V_SENT = 3          # the host's own outbound packet, observed
    V_QUEUED = 4        # IP fragment: held for reassembly (not modelled further)
    V_UNMODELLED = 5    # cannot be modelled (capture artefact: header not captured)
    V_FORWARDED = 6     # routed through the forward path (netfilter attached)

# Verdicts.reply / Event.kind
cdef enum:
    R_NONE = 0
    R_SYNACK = 1
    R_SYNACK_COOKIE = 2
    R_RST = 3
    R_ACK = 4
    R_ICMP_PORT_UNREACH = 5     # ICMP / ICMPv6 destination unreachable, port unreachable
    R_ICMP_ECHO_REPLY = 6       # ICMP echo reply / ICMPv6 echo reply (129)
    R_ICMP_UNREACH = 7          # ICMP destination unreachable, code in reply_flags (REJECT)
    R_ICMP6_UNREACH = 8         # ICMPv6 destination unreachable, code in reply_flags (REJECT)
    R_ICMP_TIME_EXCEEDED = 9    # ICMP time exceeded in transit (forward, TTL <= 1)
    # timer events only
    EV_SYNACK_RETRANS = 16
    EV_REQ_EXPIRED = 17
    EV_ACCEPT = 18
    EV_DELACK = 19          # delayed-ACK timer sent an ACK (seq/ack/win filled)
    EV_WINDOW_UPDATE = 20   # tcp_cleanup_rbuf window-update ACK after a read
    EV_READ = 21            # the application model read `ack` bytes (seq = rcv queue left)
    EV_TW_EXPIRED = 22      # TIME_WAIT minisock freed (60 s)

# Timer kinds
cdef enum:
    TK_REQ = 1          # request sock SYN-ACK timer (reqsk_timer_handler)
    TK_ACCEPT = 2       # application accept() of the head of an accept queue
    TK_DELACK = 3       # delayed ACK (icsk_delack_timer), full sockets
    TK_TW = 4           # TIME_WAIT expiry (inet_twsk_schedule)
    TK_READ = 5         # application read model (Sock.heap_pos2)
    TK_UREAD = 6        # read model of a bound UDP socket (LSock.heap_pos)

# Listener match kinds (listener lookup, sheet 8.2)
cdef enum:
    LK_V4_EXACT = 1
    LK_V4_ANY = 2
    LK_V6_EXACT = 3
    LK_V6_ANY = 4       # [::] dual-stack: also IPv4
    LK_V6_ANY_ONLY = 5  # [::] with IPV6_V6ONLY

# Accept models
cdef enum:
    RD_AS_ARRIVES = 0
    RD_RATE = 1
    RD_CHUNK = 2
    RD_NEVER = 3
    RD_LOG = 4

cdef enum:
    APP_IMMEDIATE = 0
    APP_DELAY = 1
    APP_RATE = 2
    APP_NEVER = 3


cdef struct LSock:
    uint64_t a0, a1             # bound address (16 bytes, v4-mapped for IPv4)
    uint8_t kind                # LK_*
    uint16_t port
    int32_t next_on_port        # chain of listeners on the same port, lookup order
    int32_t group_off, group_n  # SO_REUSEPORT group members (Engine.group), n=0: none
    int64_t max_ack_backlog     # sk_max_ack_backlog (effective listen() backlog)
    int64_t qlen, young         # request_sock_queue qlen / young
    int64_t ack_backlog         # sk_ack_backlog (accept queue length)
    int64_t max_qlen_seen, max_ack_seen
    int64_t overflows, drops    # this listener's share of ListenOverflows / ListenDrops
    int64_t reqqfull_drop, reqqfull_cookies, cookies_sent, cookies_recv, cookies_failed
    int64_t synacks, passive_opens, accepted, req_expired, embryonic_rsts
    int64_t last_overflow_ns    # tcp_sk(listener)->rx_opt.ts_recent_stamp (tcp_synq_overflow)
    uint8_t has_overflow
    uint32_t win_ts, win_nots   # SYN-ACK rcv_wnd with / without the timestamp option
    uint8_t wscale              # rcv_wscale offered when the SYN allowed scaling
    uint16_t advmss
    uint8_t synack_retries
    # accept queue: ring of sock indices
    int32_t* aq
    int64_t aq_cap, aq_head
    # application accept model
    uint8_t app
    int64_t delay_ns
    int64_t rate_count, rate_per_ns, burst
    int64_t tok, tok_last_ns, tok_pending  # token bucket: tokens * rate_per_ns
    uint8_t tok_started
    int64_t last_accept_ns
    uint8_t accepted_any
    int32_t heap_pos
    # children's receive buffer (sheet 5.1) and the application read model
    int64_t rcvbuf
    uint8_t rcvbuf_locked
    uint8_t rd_kind             # RD_*
    int64_t rd_bytes, rd_per_ns # rate: bytes per per_ns; chunk: size, every
    int64_t* log_t              # read log rows (time order of ReadLog.for_connection)
    int64_t* log_bytes
    int32_t* log_port           # -1: any
    uint64_t* log_addr          # 2 words per row
    uint8_t* log_rel            # bit 0: time after accept; bit 1: address filter
    int32_t log_n
    # bound UDP socket: receive queue (skbs: seq = datagram length, fin = IPv6)
    int32_t uq_head, uq_tail
    int64_t u_rmem, u_qbytes, u_qn, u_max_rmem, u_max_qn
    int64_t u_rcvd, u_drops, u_read_n, u_read_bytes
    int64_t u_t0                # read-model origin: the first datagram's arrival
    int32_t u_read_cur
    uint8_t u_started


cdef struct SkbEnt:
    # one queued skb: receive queue (FIFO) or out-of-order queue (sorted)
    uint32_t seq, end_seq       # receive queue: data end; OFO queue: end incl. FIN
    uint32_t truesize
    int32_t next
    uint8_t fin                 # OFO queue: the segment carries a FIN
    uint8_t nfrags              # skb_shinfo(skb)->nr_frags (coalescing, MAX_SKB_FRAGS)
    uint8_t uncl                # COALESCE_CLONE: known not cloned any more
    int64_t acked_ns            # receive-queue tail: first host ACK covering it (-1: none)
    int64_t gso_ns              # arrival of a segment without PSH (-1: PSH or OFO)


cdef struct ConnRec:
    # per-connection summary (ReplayResult.connections), one per child; a
    # pooled slot from the child's creation until the connection is finished
    # (closed / TIME_WAIT gone), then emitted (Engine.take_finished) and reused
    int64_t conn_id
    uint64_t la0, la1, ra0, ra1
    uint16_t lport, rport
    int32_t listener
    uint8_t family, state, why, picked_up
    int64_t start_ns, end_ns
    int64_t bytes_in, pkts_in, bytes_out, pkts_out
    int64_t drops
    uint32_t drop_by[16]
    int64_t zw_advs, zw_ns, peer_zw, peer_zw_ns
    int64_t max_rq, win_cmp, win_diff
    int64_t max_inflight            # max snd_nxt - snd_una (host bytes in flight)
    uint32_t peer_win               # the peer's last window (scaled)
    int32_t link                    # free list / finished list (-1: end)
    int64_t rseq                    # creation order (the summary's row order)
    int64_t divs                    # model-vs-capture divergences on this connection
    # output tables (pystack.results): appended, REC_DTYPE follows
    uint32_t states                 # bit 1 << TS_*: every state the socket was in
    int64_t req_ns                  # SYN arrival (request sock / cookie child creation)
    int64_t acq_ns                  # entered the accept queue (-1: never)
    int64_t accepted_ns             # accept()ed by the application model (-1: never)


cdef struct TimerEnt:
    int64_t when
    uint64_t order              # insertion order: ties fire first-armed first
    int32_t owner               # sock index (TK_REQ) or listener index (TK_ACCEPT)
    uint8_t kind


cdef struct Event:
    int64_t ts
    int64_t conn_id
    int32_t listener
    uint8_t kind
    uint32_t seq, ack
    uint16_t win, flags, mss
    uint8_t wscale


cdef struct Cookie:
    uint64_t fp                 # 64-bit seeded hash of the 4-tuple (fingerprint)
    int32_t listener
    int64_t issued_ns
    int64_t conn_id
    uint32_t isn, host_isn
    uint16_t mss                # MSS encoded in the cookie (msstab entry)
    uint8_t used, host_known


cdef struct Batch:
    # raw column pointers of the current batch (nogil access)
    const uint8_t* base
    const int64_t* offset
    const uint32_t* caplen
    const uint32_t* wirelen
    const int64_t* ts
    const uint8_t* status
    const uint32_t* flags
    const uint8_t* pkt_type
    const uint32_t* l3_off
    const uint8_t* ip_proto
    const uint8_t* ip_tos
    const uint32_t* ip_len
    const uint8_t* saddr
    const uint8_t* daddr
    const uint32_t* payload_len
    const uint16_t* sport
    const uint16_t* dport
    const uint32_t* tcp_seq
    const uint32_t* tcp_ack
    const uint16_t* tcp_flags
    const uint16_t* tcp_mss
    const uint8_t* tcp_wscale
    const uint16_t* tcp_win
    const uint32_t* tcp_tsval
    const uint32_t* tcp_tsecr
    const uint8_t* icmp_type
    const uint8_t* icmp_code
    const uint32_t* l4_len


cdef struct VOut:
    uint8_t* direction
    uint8_t* verdict
    uint8_t* reason
    int64_t* conn_id
    uint8_t* sock_state
    int16_t* listener
    uint8_t* reply
    uint32_t* reply_seq
    uint32_t* reply_ack
    uint16_t* reply_win
    uint16_t* reply_flags
    uint8_t* reply_wscale
    uint16_t* reply_mss
    uint32_t* adv_win
    int32_t* win_diff
    uint32_t* rcv_queue
    # netfilter columns (appended; see engine.pyx "netfilter hook points")
    uint8_t* nf_hooks
    int32_t* nf_rule
    int8_t* nf_hook
    int8_t* nf_table
    uint8_t* ctstate
    int32_t* ct_id
    uint8_t* nat_chg
    uint8_t* nat_saddr
    uint8_t* nat_daddr
    uint16_t* nat_sport
    uint16_t* nat_dport


# Window / queue time series (samples table, pystack.results): one entry per
# change, in a preallocated buffer drained once per batch (Engine.take_samples)
cdef enum:
    SMP_SOCK = 1
    SMP_LISTENER = 2

cdef struct Sample:
    int64_t ts
    int64_t conn_id             # -1 for a listener sample
    int32_t listener
    uint8_t kind                # SMP_*
    int64_t rcv_queue           # payload bytes queued, not yet read
    uint32_t adv_win            # window the next ACK would advertise (bytes)
    uint32_t peer_win           # the peer's last window (scaled)
    int64_t inflight            # host bytes in flight (snd_nxt - snd_una)
    int64_t syn_queue, accept_queue

cdef struct SampleLast:
    int64_t conn_id
    int64_t rq, inflight
    uint32_t adv, peer


cdef class Verdicts:
    cdef readonly Py_ssize_t capacity
    cdef public Py_ssize_t n
    cdef readonly dict arrays
    cdef uint8_t* direction
    cdef uint8_t* verdict
    cdef uint8_t* reason
    cdef int64_t* conn_id
    cdef uint8_t* sock_state
    cdef int16_t* listener
    cdef uint8_t* reply
    cdef uint32_t* reply_seq
    cdef uint32_t* reply_ack
    cdef uint16_t* reply_win
    cdef uint16_t* reply_flags
    cdef uint8_t* reply_wscale
    cdef uint16_t* reply_mss
    cdef uint32_t* adv_win
    cdef int32_t* win_diff
    cdef uint32_t* rcv_queue
    cdef uint8_t* nf_hooks
    cdef int32_t* nf_rule
    cdef int8_t* nf_hook
    cdef int8_t* nf_table
    cdef uint8_t* ctstate
    cdef int32_t* ct_id
    cdef uint8_t* nat_chg
    cdef uint8_t* nat_saddr
    cdef uint8_t* nat_daddr
    cdef uint16_t* nat_sport
    cdef uint16_t* nat_dport

# The Engine class itself is defined in engine.pyx (its cdef methods are
# private to the module).
