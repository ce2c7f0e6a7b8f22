# The 4-tuple table: what the kernel keeps in its established hash (ehash).
#
# Models net/ipv4/inet_hashtables.c __inet_lookup_established (sheet 8.1):
# one table holding request sockets (NEW_SYN_RECV), full sockets (children)
# and TIME_WAIT minisocks, matched on the full 4-tuple.  Open
# addressing with linear probing and backward-shift deletion; slots hold an
# index into a pool of Sock structs (so a Sock never moves within a batch).
# Growth (realloc) happens only in demux_reserve(), which the engine calls at
# batch boundaries with the GIL held: the per-packet path never allocates.
#
# The hash is a seeded 64-bit mix, not the kernel's jhash with its per-boot
# secret (inet_ehashfn): bucket order is not observable in a model, and the
# secret is unknowable anyway.  The same hash picks SO_REUSEPORT members.
#
# Addresses are 16 bytes, IPv4 as ::ffff:a.b.c.d (the PacketColumns layout),
# held as two native-order uint64 words (memcpy): only equality matters.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t
from libc.string cimport memcpy, memset
from libc.stdlib cimport malloc, realloc, free

# include/net/tcp_states.h: enum TCP_* (the numbers ss/inet_diag use)
cdef enum:
    TS_NONE = 0
    TS_ESTABLISHED = 1
    TS_SYN_SENT = 2
    TS_SYN_RECV = 3
    TS_FIN_WAIT1 = 4
    TS_FIN_WAIT2 = 5
    TS_TIME_WAIT = 6
    TS_CLOSE = 7
    TS_CLOSE_WAIT = 8
    TS_LAST_ACK = 9
    TS_LISTEN = 10
    TS_CLOSING = 11
    TS_NEW_SYN_RECV = 12

# Sock.flags bits
cdef enum:
    SKF_WSCALE_OK = 1 << 0      # ireq->wscale_ok
    SKF_TSTAMP_OK = 1 << 1      # ireq->tstamp_ok
    SKF_SACK_OK = 1 << 2        # ireq->sack_ok
    SKF_ACKED = 1 << 3          # inet_rsk(req)->acked (final ACK dropped on overflow)
    SKF_HOST_ISN = 1 << 4       # host_isn learnt from a captured host SYN-ACK
    SKF_OOW_SET = 1 << 5        # last_oow_ns valid (tcp_rsk(req)->last_oow_ack_time != 0)
    SKF_IN_ACCEPTQ = 1 << 6     # child sits in the listener's accept queue
    SKF_ACCEPTED = 1 << 7       # child was accept()ed by the application model


cdef struct Sock:
    uint64_t la0, la1, ra0, ra1     # local / remote address (16 bytes each)
    uint16_t lport, rport
    uint32_t hash
    uint8_t state                   # TS_*
    uint8_t flags                   # SKF_*
    uint8_t num_timeout             # req->num_timeout
    uint8_t rcv_wscale              # our window scale (SYN-ACK)
    uint8_t snd_wscale              # the peer's (from its SYN)
    uint8_t family                  # 4 / 6
    uint16_t peer_mss               # MSS option of the SYN (536 if none)
    int32_t listener                # index of the owning listener
    int32_t heap_pos                # position in the timer heap, -1 none
    int32_t next_free               # free-list link while unused
    int64_t conn_id
    uint32_t rcv_isn                # the peer's ISN (tcp_rsk(req)->rcv_isn)
    uint32_t snt_isn                # ISN the final ACK must acknowledge
    uint32_t model_isn              # ISN of the model's own SYN-ACK
    uint32_t host_isn               # ISN of the captured host SYN-ACK (SKF_HOST_ISN)
    uint32_t rsk_rcv_wnd            # req->rsk_rcv_wnd (window of the SYN-ACK)
    int64_t created_ns
    int64_t synack_ns               # first SYN-ACK (request sock)
    int64_t last_oow_ns             # tcp_rsk(req)->last_oow_ack_time
    int64_t acceptq_ns              # when the child entered the accept queue
    # Full socket (child) and TIME_WAIT minisock state (engine.pyx, sheet 5)
    uint32_t rcv_nxt, rcv_wnd, rcv_wup, snd_una, snd_nxt
    int64_t rcvbuf, rmem_alloc
    uint32_t copied_seq             # application read pointer (tp->copied_seq)
    uint32_t snd_wnd                # the peer's window, scaled by snd_wscale
    uint32_t window_clamp, rcv_ssthresh
    uint32_t host_fin_end           # host FIN sequence + 1 (XF_HOST_FIN)
    uint32_t ts_recent              # last TSval of the peer (XF_TS)
    uint16_t rcv_mss                # icsk_ack.rcv_mss
    uint16_t advmss
    uint16_t xflags                 # XF_* (engine.pyx)
    uint8_t quick                   # icsk_ack.quick (quickack budget)
    uint8_t close_why               # CW_* (engine.pyx)
    int32_t heap_pos2               # read timer position in the heap, -1 none
    int32_t rq_head, rq_tail        # receive queue (skb pool indices), -1 empty
    int32_t ofo_head                # out-of-order queue, sorted by seq, -1 empty
    int32_t rec                     # connection record index, -1 none
    int32_t read_cur                # read-log cursor
    int64_t rq_bytes                # payload bytes queued, not yet read
    int64_t accepted_ns
    int64_t read_total              # bytes read by the application model
    int64_t zw_since, peer_zw_since # start of a zero-window period (model / peer)
    uint32_t comp_rcv_nxt           # tp->compressed_ack_rcv_nxt
    int64_t lrcv_ns                 # icsk_ack.lrcvtime (last data received)
    uint8_t dupack_cnt              # tp->dup_ack_counter
    # PAWS (engine.pyx; include/net/tcp.h tcp_paws_check)
    int64_t ts_stamp                # rx_opt.ts_recent_stamp / tw_ts_recent_stamp (capture s)
    uint32_t snd_wl1                # tp->snd_wl1 (tcp_may_update_window)
    uint32_t rto_ms                 # icsk_rto (jiffies at HZ=1000) for tcp_tsval_replay
    uint32_t tsv_first, tsv_last    # tcp_rsk(req)->snt_tsval_first / _last (host SYN-ACK)
    uint8_t tsv_known               # tsv_first / tsv_last learnt from a captured host SYN-ACK
    # receive-buffer autotuning and scaling_ratio (engine.pyx, sheet 5.2/5.5)
    int64_t rcvq_space              # tp->rcvq_space.space
    int64_t rcvq_time               # tp->rcvq_space.time (capture ns)
    int64_t rtt_time                # tp->rcv_rtt_est.time (capture ns; AT_RTT_TIME)
    int64_t mstamp                  # tp->tcp_mstamp (last segment in or out)
    uint32_t rcvq_seq               # tp->rcvq_space.seq
    uint32_t rtt_us                 # tp->rcv_rtt_est.rtt_us (8 x usec)
    uint32_t rtt_seq                # tp->rcv_rtt_est.seq
    uint32_t rtt_last_tsecr         # tp->rcv_rtt_last_tsecr
    uint32_t host_tsval             # TSval of the last captured host segment
    uint16_t last_seg_size          # icsk_ack.last_seg_size
    uint8_t scaling_ratio           # tp->scaling_ratio
    uint8_t at_flags                # AT_* (engine.pyx)
    # tcp_ack field checks (engine.pyx)
    int64_t bytes_acked             # tp->bytes_acked (host bytes the peer acked)
    int64_t ts_tick_lo, ts_tick_hi  # host_tsval's tick lies in (lo, hi] (capture ns)
    uint32_t max_window             # tp->max_window (the peer's largest window)


cdef struct Demux:
    int32_t* slots          # sock index, -1 = empty
    uint32_t* tags          # hash of the sock in the slot (fast reject)
    uint64_t mask           # slots - 1 (power of two)
    int64_t count           # socks in the table
    Sock* socks             # pool
    int64_t sock_cap
    int64_t sock_hw         # pool entries ever handed out (high-water)
    int32_t free_head       # free list through Sock.next_free
    uint64_t seed


cdef inline uint64_t mix64(uint64_t z) noexcept nogil:
    # splitmix64 finaliser
    z = (z ^ (z >> 30)) * <uint64_t>0xbf58476d1ce4e5b9ULL
    z = (z ^ (z >> 27)) * <uint64_t>0x94d049bb133111ebULL
    return z ^ (z >> 31)


cdef inline uint64_t tuple_hash(uint64_t seed, uint64_t la0, uint64_t la1, uint64_t ra0,
                                uint64_t ra1, uint16_t lport, uint16_t rport) noexcept nogil:
    cdef uint64_t h = mix64(seed ^ la1 ^ (<uint64_t>lport << 48))
    h = mix64(h ^ ra1 ^ (<uint64_t>rport << 32))
    return mix64(h ^ la0 ^ (ra0 * <uint64_t>0x9e3779b97f4a7c15ULL))


cdef inline void load_addr(const uint8_t* a, uint64_t* w0, uint64_t* w1) noexcept nogil:
    memcpy(w0, a, 8)
    memcpy(w1, a + 8, 8)


cdef inline int32_t demux_find(Demux* d, uint64_t la0, uint64_t la1, uint64_t ra0,
                               uint64_t ra1, uint16_t lport, uint16_t rport,
                               uint32_t h) noexcept nogil:
    """__inet_lookup_established: the sock index or -1."""
    cdef uint64_t pos = h & d.mask
    cdef int32_t s
    cdef Sock* k
    while True:
        s = d.slots[pos]
        if s < 0:
            return -1
        if d.tags[pos] == h:
            k = &d.socks[s]
            if (k.lport == lport and k.rport == rport and k.la1 == la1 and k.ra1 == ra1
                    and k.la0 == la0 and k.ra0 == ra0):
                return s
        pos = (pos + 1) & d.mask


cdef inline int32_t demux_new(Demux* d) noexcept nogil:
    """A zeroed Sock from the pool (capacity was reserved at the batch start)."""
    cdef int32_t s
    if d.free_head >= 0:
        s = d.free_head
        d.free_head = d.socks[s].next_free
    else:
        s = <int32_t>d.sock_hw
        d.sock_hw += 1
    memset(&d.socks[s], 0, sizeof(Sock))
    d.socks[s].heap_pos = -1
    d.socks[s].heap_pos2 = -1
    d.socks[s].rq_head = -1
    d.socks[s].rq_tail = -1
    d.socks[s].ofo_head = -1
    d.socks[s].rec = -1
    d.socks[s].next_free = -1
    d.socks[s].listener = -1
    d.socks[s].conn_id = -1
    return s


cdef inline void demux_insert(Demux* d, int32_t s) noexcept nogil:
    cdef uint32_t h = d.socks[s].hash
    cdef uint64_t pos = h & d.mask
    while d.slots[pos] >= 0:
        pos = (pos + 1) & d.mask
    d.slots[pos] = s
    d.tags[pos] = h
    d.count += 1


cdef inline void demux_free(Demux* d, int32_t s) noexcept nogil:
    d.socks[s].state = TS_NONE
    d.socks[s].next_free = d.free_head
    d.free_head = s


cdef inline void demux_unhash(Demux* d, int32_t s) noexcept nogil:
    """Unhash sock s (backward-shift deletion); the Sock stays allocated."""
    cdef uint64_t pos = d.socks[s].hash & d.mask
    while d.slots[pos] != s:
        pos = (pos + 1) & d.mask
    nxt2_scan(d, &pos)
    d.count -= 1


cdef inline void demux_remove(Demux* d, int32_t s) noexcept nogil:
    """Unhash sock s and return it to the pool."""
    demux_unhash(d, s)
    demux_free(d, s)


cdef inline void nxt2_scan(Demux* d, uint64_t* hole) noexcept nogil:
    # Backward-shift deletion (Knuth 6.4 algorithm R) from the hole.
    cdef uint64_t i = hole[0]
    cdef uint64_t j = i
    cdef uint64_t home
    while True:
        j = (j + 1) & d.mask
        if d.slots[j] < 0:
            break
        home = d.tags[j] & d.mask
        # entry j may move to i iff home is cyclically outside (i, j]
        if ((j - home) & d.mask) >= ((j - i) & d.mask):
            d.slots[i] = d.slots[j]
            d.tags[i] = d.tags[j]
            i = j
    d.slots[i] = -1
    hole[0] = i


cdef int demux_init(Demux* d, int64_t slots, int64_t socks, uint64_t seed) except -1
cdef int demux_reserve(Demux* d, int64_t extra) except -1
cdef void demux_release(Demux* d) noexcept
