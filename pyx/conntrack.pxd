# Connection tracking and NAT: declarations (the model is in conntrack.pyx).
#
# C API for the stack engine's hook points (all nogil; no allocation except
# the growth of an unlimited table, nf_conntrack_max = 0 on 6.12/6.18):
#
# The caller fills NfPkt before conntrack_in: family, proto, frag, has_l4,
# saddr/daddr (IPv4 in bytes 0..3), sport/dport (ICMP echo: the id in
# dport, as nftypes.pxd says), tcp_flags, icmp_type/code, l4_csum_bad, and
# the appended fields: tcp_seq/ack/win, tcp_wscale (0xff none), tcp_sackok,
# tcp_nsack + tcp_sack_right, l4_paylen, has_inner + in_* of ICMP errors.
# Per packet: conntrack_in at PRE_ROUTING or LOCAL_OUT; at each nat hook
# (DNAT: PRE_ROUTING, LOCAL_OUT; SNAT: POST_ROUTING, LOCAL_IN) run the nat
# table only if nat_needed(), then nat_setup() with the target's range (or
# NULL when no rule matched: the null binding), then always nat_packet();
# confirm() at the end of POST_ROUTING / LOCAL_IN, discard() if the packet
# dies before that.  p.ct stays valid for the packet's whole traversal.
#
#   int  conntrack_in(NfPkt* p, int hook, int64_t now_ns, bint notrack)
#        nf_conntrack_in at PRE_ROUTING / LOCAL_OUT: fills p's conntrack
#        view; NFV_DROP only when the table is full (stat drop).
#   bint nat_needed(NfPkt* p, int manip)
#        nf_nat_inet_fn: ctinfo NEW/RELATED and this manip not initialised,
#        i.e. the nat table chains of this hook must run.
#   int  nat_setup(NfPkt* p, int manip, const NatRange* r, const uint8_t* masq_addr)
#        nf_nat_setup_info: r NULL = null binding; masq_addr (16 bytes, or
#        NULL) replaces the range's addresses (MASQUERADE / REDIRECT).
#   void nat_packet(NfPkt* p, int hook)
#        nf_nat_packet: rewrites p's addresses/ports for this hook;
#        p.nat_changed says which (NAT_CHG_*, this hook only: OR them up
#        to report "NAT rewrite"); RELATED ICMP errors: outer addresses and
#        the inner header (nf_nat_icmp_reply_translation).
#   int  confirm(NfPkt* p, int64_t now_ns)
#        __nf_conntrack_confirm at the end of POST_ROUTING / LOCAL_IN;
#        NFV_DROP on an unresolvable clash (stats insert_failed, drop).
#   void discard(NfPkt* p)
#        the packet died before confirm: its unconfirmed entry is freed.
#   void set_mark(NfPkt* p, uint32_t mark)
#        CONNMARK --set-mark: ct->mark and p.ctmark.
#   int  manip_buffer(int ct, int dir, int manip, uint8_t* ip, uint32_t len, int family)
#        nf_nat_ipv4/ipv6_manip_pkt + l4 manips on a writable packet copy
#        (ip -> the IP header), checksums updated incrementally (RFC 1624);
#        returns NAT_CHG_* bits or -1 (buffer too short).
#   void expire(int64_t now_ns)
#        remove the entries whose timeout is <= now (conntrack_in does it).
#
# Inline forms for the per-packet hook points (defined below the class):
# ct_nat_needed, ct_nat_packet, ct_confirm and ct_discard do the no-op cases
# (no binding, a confirmed entry) in the caller and call the methods above
# otherwise.  Conntrack.view_tuples (default True): conntrack_in copies the
# entry's tuples into NfPkt.ct_orig_* / ct_repl_*; the engine clears it at
# attach time when no rule has an -m conntrack --ctorig*/--ctrepl* match.
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t, uint64_t
from pystack._core.nftypes cimport (
    NfPkt, NatRange, NFV_ACCEPT, CTS_NEW, CTS_RELATED, IPS_CONFIRMED, IPS_SRC_NAT, IPS_DST_NAT,
    IPS_SRC_NAT_DONE, IPS_DST_NAT_DONE, NF_NAT_MANIP_SRC,
)
from pystack._core.vocab cimport CTSTAT_N

# enum tcp_conntrack (include/uapi/linux/netfilter/nf_conntrack_tcp.h)
cdef enum:
    TCP_CONNTRACK_NONE = 0
    TCP_CONNTRACK_SYN_SENT = 1
    TCP_CONNTRACK_SYN_RECV = 2
    TCP_CONNTRACK_ESTABLISHED = 3
    TCP_CONNTRACK_FIN_WAIT = 4
    TCP_CONNTRACK_CLOSE_WAIT = 5
    TCP_CONNTRACK_LAST_ACK = 6
    TCP_CONNTRACK_TIME_WAIT = 7
    TCP_CONNTRACK_CLOSE = 8
    TCP_CONNTRACK_SYN_SENT2 = 9
    TCP_CONNTRACK_MAX = 10
    TCP_CONNTRACK_IGNORE = 11
    TCP_CONNTRACK_RETRANS = 12
    TCP_CONNTRACK_UNACK = 13
    TCP_CONNTRACK_TIMEOUT_MAX = 14

# enum ip_conntrack_info
cdef enum:
    IP_CT_ESTABLISHED = 0
    IP_CT_RELATED = 1
    IP_CT_NEW = 2
    IP_CT_IS_REPLY = 3
    IP_CT_ESTABLISHED_REPLY = 3
    IP_CT_RELATED_REPLY = 4

# The tuple: hashed and compared as five 64-bit words.  ICMP: sport = echo
# id, dport = type << 8 | code (struct nf_conntrack_tuple keeps id in src,
# type/code in dst).  Addresses as NfPkt (IPv4 in bytes 0..3).
cdef struct CtTuple:
    uint8_t src[16]
    uint8_t dst[16]
    uint16_t sport, dport
    uint8_t proto, family
    uint16_t _pad

# struct ip_ct_tcp_state
cdef struct TcpSeen:
    uint32_t td_end, td_maxend, td_maxwin, td_maxack
    uint8_t td_scale, flags

# A link of a bucket chain: the node it leads to (entry*2 + dir, -1: end)
# and that node's hash tag (the high half of its tuple hash), so a walk
# compares tags in the compact link arrays and touches an entry only when
# its tag matches (the entries are 192 bytes each, tens of MB in a big table).
cdef struct HLink:
    int32_t node
    uint32_t tag

# 192 bytes, 64-byte aligned: an ORIGINAL-direction hit reads line 0 (its
# tuple, timeout, status, state), a REPLY hit line 1 too, TCP line 2 (the
# window tracking).
cdef struct CtEntry:
    CtTuple t0                   # IP_CT_DIR_ORIGINAL tuple        line 0
    uint64_t h0                  # _hash(t0), from the lookup that created the entry
    int64_t timeout              # absolute capture time (ns) of expiry
    uint32_t status              # IPS_*
    uint8_t inuse                # allocated (confirmed or not)
    uint8_t hashed               # in the hash (confirmed and not dying)
    uint8_t tcp_state
    uint8_t retrans
    CtTuple t1                   # IP_CT_DIR_REPLY tuple           line 1
    int64_t queued               # expiry-heap key of this entry's live heap item
    int64_t alloc_ns             # UDP stream_ts = alloc + 2 s
    uint32_t mark
    uint32_t gen                 # bumped at every free (stale heap items)
    uint8_t last_dir, last_index, last_wscale, last_flags    #  line 2
    uint32_t last_seq, last_ack, last_end
    uint16_t last_win
    TcpSeen seen[2]
    int32_t bysrc_next           # next entry in the nf_nat_bysource chain, -1 end

cdef struct HeapItem:
    int64_t t
    int32_t idx
    uint32_t gen


# final: the per-packet path's calls between its own methods are direct
# C calls the compiler can inline, not vtable calls.
@cython.final
cdef class Conntrack:
    cdef CtEntry* e
    cdef void* eraw               # allocation behind e (e is its 64-byte aligned start)
    cdef int32_t cap              # entries (nf_conntrack_max)
    cdef HLink* heads             # bucket -> link to its first node
    cdef HLink* hn                # node (entry*2 + dir) -> link to the next node of its chain
    cdef int32_t* bysrc           # nf_nat_bysource: bucket -> first entry, -1 empty
    cdef uint32_t nbuckets
    cdef int32_t* freel           # free entry slots (stack)
    cdef int32_t nfree
    cdef HeapItem* heap
    cdef int32_t heapn, heapcap
    cdef uint64_t k0, k1          # nf_nat_bysource hash key
    cdef uint64_t kh[6]           # conntrack hash key (the kernel's per-boot siphash key)
    cdef uint64_t rng             # xorshift state for --random, port offsets
    cdef public int64_t count     # nf_conntrack_count (unconfirmed included)
    cdef int64_t st[CTSTAT_N]     # conntrack -S counters
    # sysctls
    cdef int64_t max
    cdef bint unlimited           # nf_conntrack_max 0 and the profile says no limit
    cdef bint checksum, tcp_loose, tcp_be_liberal, tcp_ignore_invalid_rst
    cdef int tcp_max_retrans
    cdef int64_t tcp_tmo[TCP_CONNTRACK_TIMEOUT_MAX]
    cdef int64_t udp_tmo, udp_stream_tmo, icmp_tmo, icmpv6_tmo, generic_tmo
    cdef int64_t gre_tmo, gre_stream_tmo
    cdef int64_t last_now
    # fill the view's tuples (NfPkt.ct_orig_* / ct_repl_*) for every packet;
    # the engine clears it at attach time when no loaded rule has an
    # -m conntrack --ctorig*/--ctrepl* match (nothing else reads them)
    cdef public bint view_tuples

    cdef int conntrack_in(self, NfPkt* p, int hook, int64_t now_ns, bint notrack) noexcept nogil
    cdef bint nat_needed(self, NfPkt* p, int manip) noexcept nogil
    cdef int nat_setup(self, NfPkt* p, int manip, const NatRange* r,
                       const uint8_t* masq_addr) noexcept nogil
    cdef void nat_packet(self, NfPkt* p, int hook) noexcept nogil
    cdef int confirm(self, NfPkt* p, int64_t now_ns) noexcept nogil
    cdef void discard(self, NfPkt* p) noexcept nogil
    cdef void set_mark(self, NfPkt* p, uint32_t mark) noexcept nogil
    cdef int manip_buffer(self, int ct, int dir, int manip, uint8_t* ip, uint32_t length,
                          int family) noexcept nogil
    cdef void expire(self, int64_t now_ns) noexcept nogil

    # internals
    cdef uint64_t _hash(self, const CtTuple* t) noexcept nogil
    cdef int32_t _find(self, const CtTuple* t, int32_t ignore) noexcept nogil
    cdef inline int32_t _find_h(self, const CtTuple* t, int32_t ignore, uint64_t h) noexcept nogil
    cdef void _hash_insert(self, int32_t i) noexcept nogil
    cdef void _hash_insert_h(self, int32_t i, uint64_t h1) noexcept nogil
    cdef void _hash_remove(self, int32_t i) noexcept nogil
    cdef void _free(self, int32_t i) noexcept nogil
    cdef void _kill(self, int32_t i) noexcept nogil
    cdef inline void _refresh(self, int32_t i, int64_t tmo, int64_t now) noexcept nogil
    cdef void _heap_push(self, int64_t t, int32_t idx) noexcept nogil
    cdef int _early_drop(self, uint64_t h) noexcept nogil
    cdef bint _grow(self) noexcept nogil
    cdef int32_t _alloc(self, const CtTuple* t, int64_t now, uint64_t h) noexcept nogil
    cdef uint32_t _rand32(self) noexcept nogil
    cdef inline void _fill_view(self, NfPkt* p, int32_t i, int ctinfo) noexcept nogil
    cdef bint _used_tuple(self, const CtTuple* t, int32_t ignore) noexcept nogil
    cdef bint _tuple_taken(self, const CtTuple* t, int32_t ignore) noexcept nogil
    cdef void _nat_done(self, NfPkt* p, CtEntry* x, int32_t i, int manip) noexcept nogil
    cdef void _no_ct(self, NfPkt* p, uint16_t st) noexcept nogil
    cdef int _icmp_error(self, NfPkt* p) noexcept nogil
    cdef inline int _udp_packet(self, int32_t i, NfPkt* p, int dir, int hook, int64_t now) noexcept nogil
    cdef int _icmp_packet(self, int32_t i, NfPkt* p, int64_t now) noexcept nogil
    cdef void _tcp_options(self, TcpSeen* s, NfPkt* p) noexcept nogil
    cdef void _tcp_init_sender(self, TcpSeen* sender, TcpSeen* receiver, NfPkt* p,
                               uint32_t end, uint32_t win) noexcept nogil
    cdef int _tcp_ignore(self, CtEntry* c, NfPkt* p, int dir, int index, int old_state,
                         int* new_state) noexcept nogil
    cdef int _tcp_rst_check(self, CtEntry* c, NfPkt* p, int dir, int old_state,
                            int* new_state) noexcept nogil
    cdef void _tcp_handle_invalid(self, int32_t i, CtEntry* c, int dir, int index,
                                  int64_t now) noexcept nogil
    cdef uint32_t _bysrc_bucket(self, const CtTuple* t) noexcept nogil
    cdef void _bysrc_remove(self, int32_t i) noexcept nogil
    cdef bint _find_appropriate_src(self, const CtTuple* orig, CtTuple* result,
                                    const NatRange* r) noexcept nogil
    cdef bint _used_tuple_harder(self, CtTuple* t, int32_t ct, uint32_t left) noexcept nogil
    cdef bint _in_range(self, const CtTuple* t, const NatRange* r, int manip) noexcept nogil
    cdef bint _l4_in_range(self, const CtTuple* t, int manip, uint16_t lo,
                           uint16_t hi) noexcept nogil
    cdef void _best_ips(self, CtTuple* t, const NatRange* r, int manip) noexcept nogil
    cdef void _unique_l4(self, CtTuple* t, const NatRange* r, int manip, int32_t ct) noexcept nogil
    cdef void _unique_tuple(self, CtTuple* out, const CtTuple* orig, const NatRange* r,
                            int manip, int32_t ct) noexcept nogil
    cdef int _ctinfo_of(self, NfPkt* p) noexcept nogil


cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define PYSTACK_CT_PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 3)
    #else
    #define PYSTACK_CT_PREFETCH(p) ((void)(p))
    #endif
    static inline uint64_t pystack_ct_mum(uint64_t a, uint64_t b) {
        __uint128_t r = (__uint128_t)a * b;
        return (uint64_t)r ^ (uint64_t)(r >> 64);
    }
    """
    uint64_t _mum "pystack_ct_mum"(uint64_t a, uint64_t b) noexcept nogil
    void _ct_prefetch "PYSTACK_CT_PREFETCH"(const void* p) noexcept nogil


# The hash table's addressing, inline here so that the engine can prefetch
# a packet's bucket and entry rows ahead of conntrack_in (ct_prefetch_*).
cdef inline uint64_t ct_hash(Conntrack ct, const CtTuple* t) noexcept nogil:
    # hash_conntrack_raw is siphash with a per-boot key; any seeded 64-bit
    # hash is as faithful.  wyhash-style folded 128-bit products (three
    # multiplications for the five tuple words) cost a fraction of a
    # per-word finaliser chain.
    cdef const uint64_t* w = <const uint64_t*>t
    cdef uint64_t h = _mum(w[0] ^ ct.kh[0], w[1] ^ ct.kh[1]) ^ \
        _mum(w[2] ^ ct.kh[2], w[3] ^ ct.kh[3])
    return _mum(h ^ ct.kh[4], w[4] ^ ct.kh[5])


cdef inline uint32_t ct_bucket(Conntrack ct, uint64_t h) noexcept nogil:
    # the low half of the hash scaled to the bucket count (no modulo);
    # the high half is the chain link's tag
    return <uint32_t>(((h & 0xffffffffULL) * ct.nbuckets) >> 32)


cdef inline void ct_prefetch_bucket(Conntrack ct, uint64_t h) noexcept nogil:
    # first step, several packets ahead: the bucket's head link (a table of
    # nf_conntrack_buckets links, MBs: a random access misses the caches)
    _ct_prefetch(&ct.heads[ct_bucket(ct, h)])


cdef inline void ct_prefetch_node(Conntrack ct, uint64_t h) noexcept nogil:
    # second step, a few packets later, the head now cached: the entry
    # lines a hit reads (its tuple's line; line 2, the TCP window
    # tracking), or the next link when the head's tag is another's
    cdef HLink l = ct.heads[ct_bucket(ct, h)]
    cdef const char* x
    if l.node < 0:
        return
    if l.tag == <uint32_t>(h >> 32):
        x = <const char*>&ct.e[l.node >> 1]
        _ct_prefetch(x + 64 * (l.node & 1))
        _ct_prefetch(x + 128)
    else:
        _ct_prefetch(&ct.hn[l.node])


cdef inline uint64_t _mix(uint64_t h) noexcept nogil:
    # murmur3 fmix64
    h ^= h >> 33
    h *= 0xff51afd7ed558ccdULL
    h ^= h >> 33
    h *= 0xc4ceb9fe1a85ec53ULL
    h ^= h >> 33
    return h


cdef inline uint32_t ct_bysrc_bucket(Conntrack ct, const CtTuple* t) noexcept nogil:
    # hash_by_src: source address, source port/id, protocol
    cdef uint64_t h = ct.k1
    cdef const uint64_t* w = <const uint64_t*>t.src
    h = _mix(h ^ w[0]) + 0x9e3779b97f4a7c15ULL
    h = _mix(h ^ w[1] ^ (<uint64_t>t.sport << 16) ^ (<uint64_t>t.proto << 40))
    return ct_bucket(ct, h)


cdef inline void ct_prefetch_bysrc(Conntrack ct, const CtTuple* t) noexcept nogil:
    # the nf_nat_bysource bucket a new connection's SRC manip links its
    # entry into (_nat_done), a random access like the buckets'
    _ct_prefetch(&ct.bysrc[ct_bysrc_bucket(ct, t)])


# The per-packet NAT hook checks, inline in the caller (the engine runs them
# at every nat hook; most packets belong to established connections without
# NAT, for which both are no-ops).
cdef inline bint ct_nat_needed(Conntrack ct, NfPkt* p, int manip) noexcept nogil:
    # nf_nat_inet_fn: the nat table runs for NEW/RELATED with the manip unset
    if p.ct < 0 or not (p.ctstate & (CTS_NEW | CTS_RELATED)):
        return False
    if manip == NF_NAT_MANIP_SRC:
        return not (ct.e[p.ct].status & IPS_SRC_NAT_DONE)
    return not (ct.e[p.ct].status & IPS_DST_NAT_DONE)


cdef inline void ct_nat_packet(Conntrack ct, NfPkt* p, int hook) noexcept nogil:
    # nf_nat_packet rewrites nothing unless the entry has a NAT binding
    # (IPS_SRC_NAT / IPS_DST_NAT); the rest is Conntrack.nat_packet
    if p.ct >= 0 and (ct.e[p.ct].status & (IPS_SRC_NAT | IPS_DST_NAT)):
        ct.nat_packet(p, hook)
    else:
        p.nat_changed = 0


cdef inline int ct_confirm(Conntrack ct, NfPkt* p, int64_t now_ns) noexcept nogil:
    # __nf_conntrack_confirm has nothing to do for a packet of a confirmed
    # entry (all but a connection's first); the rest is Conntrack.confirm
    if p.ct < 0 or (ct.e[p.ct].status & IPS_CONFIRMED):
        return NFV_ACCEPT
    return ct.confirm(p, now_ns)


cdef inline void ct_discard(Conntrack ct, NfPkt* p) noexcept nogil:
    # only an unconfirmed entry dies with its packet
    if p.ct >= 0 and not (ct.e[p.ct].status & IPS_CONFIRMED):
        ct.discard(p)


cdef class CtPacket:
    cdef NfPkt* p
