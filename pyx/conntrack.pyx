# Connection tracking with NAT.
#
# Models net/netfilter/nf_conntrack_core.c (nf_conntrack_in, resolve_normal_ct,
# init_conntrack, __nf_conntrack_alloc, early_drop, __nf_conntrack_confirm,
# nf_ct_resolve_clash), nf_conntrack_proto_tcp.c (nf_conntrack_tcp_packet,
# tcp_new, tcp_error, tcp_in_window, nf_tcp_handle_invalid),
# nf_conntrack_proto_udp.c, nf_conntrack_proto_icmp.c / _icmpv6.c
# (nf_conntrack_inet_error: errors RELATED via the inner tuple),
# nf_conntrack_proto_generic.c, nf_nat_core.c (nf_nat_setup_info,
# get_unique_tuple, find_best_ips_proto, nf_nat_l4proto_unique_tuple,
# nf_nat_packet, nf_nat_icmp_reply_translation), nf_nat_proto.c (the
# L3/L4 manips and their checksum updates).
#
# Not modelled: zones, helpers and expectations (IPS_EXPECTED never set),
# nf_ct_resolve_clash_harder (a UDP clash with
# different NAT is insert_failed + drop here), the SCTP/DCCP trackers and
# PPTP GRE keys (generic / key 0 here), the GC worker's lag (an entry is gone at its exact expiry,
# so nf_conntrack_count never includes expired entries), seq-adjust,
# per-packet accounting, ICMP redirects, the inner type of an echo quoted in
# an ICMP error (taken to be the request), reference counts (conntrack -L
# prints use=1).  The bucket hash is a seeded 64-bit mix, not siphash: the
# bucket of a tuple (so the early-drop neighbourhood) depends on the seed as
# the kernel's does on its boot key.  NAT port offsets come from a seeded
# xorshift (the kernel's get_random_u16); the address choice of a range is
# the kernel's jhash2 and so matches it exactly.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t, uint64_t
from libc.stdlib cimport calloc, malloc, realloc, free
from libc.string cimport memcpy, memset, memcmp, memmove

from pystack._core.nftypes cimport (
    NfPkt, NatRange, NFV_DROP, NFV_ACCEPT,
    NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN, NF_INET_FORWARD, NF_INET_LOCAL_OUT,
    NF_INET_POST_ROUTING,
    CTS_INVALID, CTS_ESTABLISHED, CTS_RELATED, CTS_NEW, CTS_UNTRACKED, CTS_SNAT, CTS_DNAT,
    IPS_EXPECTED, IPS_SEEN_REPLY, IPS_ASSURED, IPS_CONFIRMED, IPS_SRC_NAT, IPS_DST_NAT,
    IPS_SRC_NAT_DONE, IPS_DST_NAT_DONE, IPS_DYING, IPS_FIXED_TIMEOUT, IPS_UNTRACKED,
    NF_NAT_MANIP_SRC, NF_NAT_MANIP_DST,
    NF_NAT_RANGE_MAP_IPS, NF_NAT_RANGE_PROTO_SPECIFIED, NF_NAT_RANGE_PROTO_RANDOM,
    NF_NAT_RANGE_PERSISTENT, NF_NAT_RANGE_PROTO_RANDOM_FULLY, NF_NAT_RANGE_PROTO_OFFSET,
    NAT_CHG_SADDR, NAT_CHG_DADDR, NAT_CHG_SPORT, NAT_CHG_DPORT, NAT_CHG_INNER,
)
from pystack._core.checksum cimport csum_replace2, csum_replace4, csum_replace16
from pystack._core.vocab cimport (
    CTSTAT_FOUND, CTSTAT_INVALID, CTSTAT_INSERT_FAILED, CTSTAT_DROP, CTSTAT_EARLY_DROP,
    CTSTAT_ERROR, CTSTAT_CLASHRES,
)

cdef enum:
    P_ICMP = 1
    P_TCP = 6
    P_UDP = 17
    P_ICMPV6 = 58
    P_UDPLITE = 136
    P_GRE = 47

# get_conntrack_index
cdef enum:
    TCP_SYN_SET = 0
    TCP_SYNACK_SET = 1
    TCP_FIN_SET = 2
    TCP_ACK_SET = 3
    TCP_RST_SET = 4
    TCP_NONE_SET = 5

# ip_ct_tcp_state.flags (include/uapi/linux/netfilter/nf_conntrack_tcp.h)
cdef enum:
    F_WINDOW_SCALE = 0x01
    F_SACK_PERM = 0x02
    F_CLOSE_INIT = 0x04
    F_BE_LIBERAL = 0x08
    F_DATA_UNACK = 0x10
    F_MAXACK_SET = 0x20
    F_EXP_CHALLENGE_ACK = 0x40
    F_SIMULTANEOUS_OPEN = 0x80

# nf_ct_tcp_action
cdef enum:
    NFCT_TCP_IGNORE = 0
    NFCT_TCP_INVALID = 1
    NFCT_TCP_ACCEPT = 2

# tracker results (the kernel's NF_ACCEPT / -NF_ACCEPT / -NF_REPEAT)
cdef enum:
    TR_ACCEPT = 0
    TR_INVALID = 1
    TR_REPEAT = 2

cdef enum:
    NF_CT_EVICTION_RANGE = 8
    NF_NAT_MAX_ATTEMPTS = 128
    MAXRESYNC = 0

cdef int64_t NS = 1000000000
cdef int32_t HARD_MAX = 1 << 26

# tcp_conntracks[dir][index][old]; 10 = sIV (TCP_CONNTRACK_MAX), 11 = sIG
cdef uint8_t TCP_TABLE[2][6][10]
TCP_TABLE[:] = [
    [   # ORIGINAL: sNO sSS sSR sES sFW sCW sLA sTW sCL sS2
        [1, 1, 11, 11, 11, 11, 11, 1, 1, 9],        # syn
        [10, 10, 2, 10, 10, 10, 10, 10, 10, 2],     # synack
        [10, 10, 4, 4, 6, 6, 6, 7, 8, 10],          # fin
        [3, 10, 3, 3, 5, 5, 7, 7, 8, 10],           # ack
        [10, 8, 8, 8, 8, 8, 8, 8, 8, 8],            # rst
        [10, 10, 10, 10, 10, 10, 10, 10, 10, 10],   # none
    ],
    [   # REPLY
        [10, 9, 10, 10, 10, 10, 10, 1, 10, 9],      # syn
        [10, 2, 11, 11, 11, 11, 11, 11, 11, 2],     # synack
        [10, 10, 4, 4, 6, 6, 6, 7, 8, 10],          # fin
        [10, 11, 2, 3, 5, 5, 7, 7, 8, 11],          # ack
        [10, 8, 8, 8, 8, 8, 8, 8, 8, 8],            # rst
        [10, 10, 10, 10, 10, 10, 10, 10, 10, 10],   # none
    ],
]

# tcp_error's tcp_valid_flags and get_conntrack_index in one table, by the
# flag bits both look at (FIN SYN RST ACK URG; PSH, ECE and CWR are ignored)
cdef enum:
    TCP_FLAGS_INVALID = 0xff
cdef uint8_t TCP_FLAG_INDEX[64]


cdef void _init_tcp_flag_index() noexcept:
    cdef int f
    for f in range(64):
        if not (f == 0x02 or f == 0x22 or f == 0x12 or f == 0x04 or f == 0x14
                or f == 0x11 or f == 0x31 or f == 0x10 or f == 0x30):
            TCP_FLAG_INDEX[f] = TCP_FLAGS_INVALID
        elif f & 4:
            TCP_FLAG_INDEX[f] = TCP_RST_SET
        elif f & 2:
            TCP_FLAG_INDEX[f] = TCP_SYNACK_SET if (f & 16) else TCP_SYN_SET
        elif f & 1:
            TCP_FLAG_INDEX[f] = TCP_FIN_SET
        elif f & 16:
            TCP_FLAG_INDEX[f] = TCP_ACK_SET
        else:
            TCP_FLAG_INDEX[f] = TCP_NONE_SET


_init_tcp_flag_index()


def py_tcp_flag_index(int flags):
    """The tracker's flag class of a TCP flags byte (tests): get_conntrack_index,
    or None for a combination tcp_error rejects."""
    cdef uint8_t k = TCP_FLAG_INDEX[flags & 0x37]
    return None if k == TCP_FLAGS_INVALID else k


TCP_STATE_NAMES = ("NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
                   "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2")

from pystack.vocab import CT_STATS as STAT_NAMES


# the ctstate bit of each ip_conntrack_info (xt_conntrack's state mask)
cdef uint16_t CTINFO_STATE[5]
CTINFO_STATE[IP_CT_ESTABLISHED] = CTS_ESTABLISHED
CTINFO_STATE[IP_CT_RELATED] = CTS_RELATED
CTINFO_STATE[IP_CT_NEW] = CTS_NEW
CTINFO_STATE[IP_CT_ESTABLISHED_REPLY] = CTS_ESTABLISHED
CTINFO_STATE[IP_CT_RELATED_REPLY] = CTS_RELATED


cdef inline bint before(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) < 0


cdef inline bint after(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(b - a) < 0


cdef extern from *:
    """
    /* cold paths of conntrack_in kept out of it (fewer spilled registers on
       the path of a confirmed entry) */
    struct __pyx_obj_7pystack_5_core_9conntrack_Conntrack;
    struct __pyx_t_7pystack_5_core_9conntrack_CtEntry;
    struct __pyx_t_7pystack_5_core_9conntrack_CtTuple;
    struct __pyx_t_7pystack_5_core_7nftypes_NfPkt;
    static __attribute__((noinline)) int pystack_ct_tcp_new(
        struct __pyx_obj_7pystack_5_core_9conntrack_Conntrack *,
        struct __pyx_t_7pystack_5_core_9conntrack_CtEntry *,
        struct __pyx_t_7pystack_5_core_7nftypes_NfPkt *, int);
    static __attribute__((noinline)) int32_t pystack_ct_init(
        struct __pyx_obj_7pystack_5_core_9conntrack_Conntrack *,
        struct __pyx_t_7pystack_5_core_7nftypes_NfPkt *,
        struct __pyx_t_7pystack_5_core_9conntrack_CtTuple const *, uint64_t, int64_t);
    static inline __attribute__((always_inline)) int pystack_ct_tcp_in_window_done(
        struct __pyx_obj_7pystack_5_core_9conntrack_Conntrack *, int32_t,
        struct __pyx_t_7pystack_5_core_9conntrack_CtEntry *,
        struct __pyx_t_7pystack_5_core_7nftypes_NfPkt *, int, int, int, int, int64_t);
    """


cdef extern from *:
    """
    /* a new entry zeroed with twelve aligned 16-byte stores (entries are
       192 bytes, 64-byte aligned): gcc makes the 192-byte memset a rep stos,
       slow to start for so few bytes */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    static inline void pystack_ct_zero_entry(void *p) {
        __m128i z = _mm_setzero_si128();
        __m128i *q = (__m128i *)p;
        q[0] = z; q[1] = z; q[2] = z; q[3] = z; q[4] = z; q[5] = z;
        q[6] = z; q[7] = z; q[8] = z; q[9] = z; q[10] = z; q[11] = z;
    }
    #else
    static inline void pystack_ct_zero_entry(void *p) { memset(p, 0, 192); }
    #endif
    """
    void _zero_entry "pystack_ct_zero_entry"(void* p) noexcept nogil


cdef inline uint32_t _rol32(uint32_t x, int r) noexcept nogil:
    return (x << r) | (x >> (32 - r))


cdef inline uint32_t jhash2(const uint32_t* k, uint32_t length, uint32_t initval) noexcept nogil:
    """include/linux/jhash.h jhash2 (Bob Jenkins' lookup3 on 32-bit words)."""
    cdef uint32_t a, b, c
    a = b = c = 0xdeadbeefu + (length << 2) + initval
    while length > 3:
        a += k[0]
        b += k[1]
        c += k[2]
        # __jhash_mix
        a -= c; a ^= _rol32(c, 4); c += b
        b -= a; b ^= _rol32(a, 6); a += c
        c -= b; c ^= _rol32(b, 8); b += a
        a -= c; a ^= _rol32(c, 16); c += b
        b -= a; b ^= _rol32(a, 19); a += c
        c -= b; c ^= _rol32(b, 4); b += a
        length -= 3
        k += 3
    if length == 0:
        return c
    if length == 3:
        c += k[2]
    if length >= 2:
        b += k[1]
    a += k[0]
    # __jhash_final
    c ^= b; c -= _rol32(b, 14)
    a ^= c; a -= _rol32(c, 11)
    b ^= a; b -= _rol32(a, 25)
    c ^= b; c -= _rol32(b, 16)
    a ^= c; a -= _rol32(c, 4)
    b ^= a; b -= _rol32(a, 14)
    c ^= b; c -= _rol32(b, 24)
    return c


cdef inline uint64_t _splitmix(uint64_t* s) noexcept nogil:
    s[0] += 0x9e3779b97f4a7c15ULL
    cdef uint64_t z = s[0]
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL
    return z ^ (z >> 31)


cdef inline void* _align64(void* p) noexcept nogil:
    return <void*>((<size_t>p + 63) & ~(<size_t>63))


cdef inline CtTuple* _tp(CtEntry* x, int d) noexcept nogil:
    # t1 starts the entry's second cache line (checked in __init__): no branch
    return <CtTuple*>(<char*>x + 64 * d)


cdef inline bint tuple_eq(const CtTuple* a, const CtTuple* b) noexcept nogil:
    # five 64-bit words (the padding is always zero: tuples are memset first)
    cdef const uint64_t* x = <const uint64_t*>a
    cdef const uint64_t* y = <const uint64_t*>b
    return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])
            | (x[4] ^ y[4])) == 0


cdef inline int _alen(uint8_t family) noexcept nogil:
    return 4 if family == 4 else 16


cdef inline bint _icmp_is_err(uint8_t family, uint8_t t) noexcept nogil:
    if family == 4:
        # icmp_is_err: DEST_UNREACH, SOURCE_QUENCH, REDIRECT, TIME_EXCEEDED, PARAMETERPROB
        return t == 3 or t == 4 or t == 5 or t == 11 or t == 12
    return t < 128


cdef inline int _icmp_inverse(uint8_t family, uint8_t t) noexcept nogil:
    # nf_conntrack_invert_icmp_tuple / icmpv6_invert_tuple; -1: no inverse
    if family == 4:
        if t == 8:
            return 0
        if t == 0:
            return 8
        if t == 13:
            return 14
        if t == 14:
            return 13
        if t == 15:
            return 16
        if t == 16:
            return 15
        if t == 17:
            return 18
        if t == 18:
            return 17
        return -1
    if t == 128:
        return 129
    if t == 129:
        return 128
    if t == 139:
        return 140
    if t == 140:
        return 139
    return -1


cdef inline bint _icmpv6_noct(uint8_t t) noexcept nogil:
    # nf_conntrack_proto_icmpv6.c noct_valid_new: MLD query/report/done,
    # router/neighbour solicitation and advertisement, MLDv2 report
    return (t >= 130 and t <= 136) or t == 143


cdef inline bint _icmp_valid_new(uint8_t family, uint8_t t) noexcept nogil:
    if family == 4:
        return t == 8 or t == 13 or t == 15 or t == 17
    return t == 128 or t == 139


cdef inline bint _has_ports(uint8_t proto) noexcept nogil:
    return proto == P_TCP or proto == P_UDP or proto == P_UDPLITE


cdef inline bint _invert(CtTuple* out, const CtTuple* t) noexcept nogil:
    # nf_ct_invert_tuple (the address words swapped whole; the last word,
    # ports and protocol, rebuilt from zero so its padding stays zero)
    cdef int inv
    cdef const uint64_t* w = <const uint64_t*>t
    cdef uint64_t* o = <uint64_t*>out
    o[0] = w[2]
    o[1] = w[3]
    o[2] = w[0]
    o[3] = w[1]
    o[4] = 0
    out.proto = t.proto
    out.family = t.family
    if t.proto == P_ICMP or t.proto == P_ICMPV6:
        inv = _icmp_inverse(t.family, t.dport >> 8)
        if inv < 0:
            return False
        out.sport = t.sport
        out.dport = <uint16_t>((inv << 8) | (t.dport & 0xff))
    elif _has_ports(t.proto):
        out.sport = t.dport
        out.dport = t.sport
    return True


cdef inline bint _invertible(const CtTuple* t) noexcept nogil:
    # _invert fails only for an ICMP type that has no reply type
    return not (t.proto == P_ICMP or t.proto == P_ICMPV6) or \
        _icmp_inverse(t.family, t.dport >> 8) >= 0


cdef inline void _pkt_tuple(CtTuple* t, const NfPkt* p) noexcept nogil:
    # nf_ct_get_tuple: generic protocols have no L4 part (the last word,
    # ports and protocol, cleared alone: the addresses fill the rest)
    memcpy(t.src, p.saddr, 16)
    memcpy(t.dst, p.daddr, 16)
    (<uint64_t*>t)[4] = 0
    t.proto = p.proto
    t.family = p.family
    if p.proto == P_ICMP or p.proto == P_ICMPV6:
        t.sport = p.dport      # NfPkt: echo id in dport
        t.dport = <uint16_t>((p.icmp_type << 8) | p.icmp_code)
    elif _has_ports(p.proto):
        t.sport = p.sport
        t.dport = p.dport


cdef inline uint32_t _be32(const uint8_t* a) noexcept nogil:
    return (<uint32_t>a[0] << 24) | (<uint32_t>a[1] << 16) | (<uint32_t>a[2] << 8) | a[3]


cdef inline void _put32(uint8_t* a, uint32_t v) noexcept nogil:
    a[0] = v >> 24
    a[1] = (v >> 16) & 0xff
    a[2] = (v >> 8) & 0xff
    a[3] = v & 0xff


cdef inline uint16_t _rd16(const uint8_t* a) noexcept nogil:
    return (<uint16_t>a[0] << 8) | a[1]


cdef inline void _wr16(uint8_t* a, uint16_t v) noexcept nogil:
    a[0] = v >> 8
    a[1] = v & 0xff


cdef inline int _acmp(const uint8_t* a, const uint8_t* b, int n) noexcept nogil:
    return memcmp(a, b, n)


cdef class Conntrack:
    """The conntrack table of one network namespace (see conntrack.pxd)."""

    def __cinit__(self):
        self.e = NULL
        self.eraw = NULL
        self.heads = NULL
        self.hn = NULL
        self.bysrc = NULL
        self.freel = NULL
        self.heap = NULL

    def __init__(self, dict params, uint64_t seed=0):
        cdef int64_t mx = params["max"]
        cdef int64_t nb = params["buckets"]
        cdef uint64_t s = seed
        cdef int32_t i
        cdef CtEntry probe
        if mx < 0 or mx > HARD_MAX:
            raise ValueError(f"nf_conntrack_max {mx} outside the model's 0..{HARD_MAX}")
        if nb < 1 or nb > HARD_MAX:
            raise ValueError(f"nf_conntrack_buckets {nb} outside 1..{HARD_MAX}")
        # nf_conntrack_max = 0: no limit where the kernel profile says so
        # (the table then grows), else every allocation is over the limit
        self.unlimited = mx == 0 and params.get("max_zero_is_unlimited", True)
        if sizeof(CtEntry) != 192 or <char*>&probe.t1 - <char*>&probe != 64:
            raise AssertionError(f"CtEntry is {sizeof(CtEntry)} bytes, laid out for 192 "
                                 "with t1 at byte 64")
        self.max = mx
        if self.unlimited:
            self.cap = <int32_t>min(nb, 4096)
        else:
            self.cap = <int32_t>max(mx, 1)
        self.nbuckets = <uint32_t>nb
        # calloc: pages of a large table are only touched when used
        self.eraw = calloc(self.cap + 1, sizeof(CtEntry))
        self.e = <CtEntry*>_align64(self.eraw)
        self.heads = <HLink*>malloc(self.nbuckets * sizeof(HLink))
        self.hn = <HLink*>malloc(2 * <size_t>self.cap * sizeof(HLink))
        self.bysrc = <int32_t*>malloc(self.nbuckets * sizeof(int32_t))
        self.freel = <int32_t*>malloc(self.cap * sizeof(int32_t))
        self.heapcap = 2 * self.cap + 64
        self.heap = <HeapItem*>malloc(self.heapcap * sizeof(HeapItem))
        if self.eraw == NULL or self.heads == NULL or self.hn == NULL or self.bysrc == NULL or self.freel == NULL or self.heap == NULL:
            raise MemoryError()
        for i in range(<int32_t>self.nbuckets):
            self.heads[i].node = -1
            self.heads[i].tag = 0
            self.bysrc[i] = -1
        for i in range(self.cap):
            self.freel[i] = self.cap - 1 - i
        self.nfree = self.cap
        self.heapn = 0
        self.count = 0
        memset(self.st, 0, sizeof(self.st))
        self.k0 = _splitmix(&s)
        self.k1 = _splitmix(&s)
        self.rng = _splitmix(&s) | 1
        # drawn after rng so the NAT port sequence of a seed is unchanged
        for i in range(6):
            self.kh[i] = _splitmix(&s)
        self.checksum = params["checksum"]
        self.tcp_loose = params["tcp_loose"]
        self.tcp_be_liberal = params["tcp_be_liberal"]
        self.tcp_ignore_invalid_rst = params["tcp_ignore_invalid_rst"]
        self.tcp_max_retrans = params["tcp_max_retrans"]
        t = params["tcp_timeouts_ns"]
        for i in range(TCP_CONNTRACK_TIMEOUT_MAX):
            self.tcp_tmo[i] = 0
        for i, name in enumerate(("", "syn_sent", "syn_recv", "established", "fin_wait",
                                  "close_wait", "last_ack", "time_wait", "close",
                                  "syn_sent2", "", "", "max_retrans", "unacknowledged")):
            if name:
                self.tcp_tmo[i] = t[name]
        self.tcp_tmo[0] = self.tcp_tmo[TCP_CONNTRACK_SYN_SENT]
        self.udp_tmo = params["udp_timeout_ns"]
        self.udp_stream_tmo = params["udp_timeout_stream_ns"]
        self.icmp_tmo = params["icmp_timeout_ns"]
        self.icmpv6_tmo = params["icmpv6_timeout_ns"]
        self.generic_tmo = params["generic_timeout_ns"]
        self.gre_tmo = params.get("gre_timeout_ns", 30 * NS)
        self.gre_stream_tmo = params.get("gre_timeout_stream_ns", 180 * NS)
        self.last_now = 0
        self.view_tuples = True

    def __dealloc__(self):
        free(self.eraw)
        free(self.heads)
        free(self.hn)
        free(self.bysrc)
        free(self.freel)
        free(self.heap)

    # ------------------------------------------------------------------
    # hash table
    # ------------------------------------------------------------------
    cdef inline uint64_t _hash(self, const CtTuple* t) noexcept nogil:
        return ct_hash(self, t)

    cdef int32_t _find(self, const CtTuple* t, int32_t ignore) noexcept nogil:
        return self._find_h(t, ignore, self._hash(t))

    cdef inline int32_t _find_h(self, const CtTuple* t, int32_t ignore, uint64_t h) noexcept nogil:
        # ____nf_conntrack_find: the node (entry*2 + dir) whose tuple is t
        cdef uint32_t tag = <uint32_t>(h >> 32)
        cdef HLink l = self.heads[ct_bucket(self, h)]
        while l.node >= 0:
            if l.tag == tag and (l.node >> 1) != ignore and \
                    tuple_eq(_tp(&self.e[l.node >> 1], l.node & 1), t):
                return l.node
            l = self.hn[l.node]
        return -1

    cdef void _hash_insert(self, int32_t i) noexcept nogil:
        self._hash_insert_h(i, self._hash(&self.e[i].t1))

    cdef void _hash_insert_h(self, int32_t i, uint64_t h1) noexcept nogil:
        # h1: _hash(t1); t0's is kept in the entry (t0 never changes)
        cdef int d
        cdef uint32_t b
        cdef uint64_t h
        for d in range(2):
            h = h1 if d else self.e[i].h0
            b = ct_bucket(self, h)
            self.hn[i * 2 + d] = self.heads[b]
            self.heads[b].node = i * 2 + d
            self.heads[b].tag = <uint32_t>(h >> 32)
        self.e[i].hashed = 1

    cdef void _hash_remove(self, int32_t i) noexcept nogil:
        cdef int d
        cdef uint32_t b
        cdef uint64_t h
        cdef int32_t n, node, prev
        if not self.e[i].hashed:
            return
        for d in range(2):
            node = i * 2 + d
            h = self._hash(&self.e[i].t1) if d else self.e[i].h0
            b = ct_bucket(self, h)
            n = self.heads[b].node
            prev = -1
            while n >= 0 and n != node:
                prev = n
                n = self.hn[n].node
            if n == node:
                if prev < 0:
                    self.heads[b] = self.hn[node]
                else:
                    self.hn[prev] = self.hn[node]
        self.e[i].hashed = 0

    cdef void _free(self, int32_t i) noexcept nogil:
        # nf_conntrack_free: the slot's data stays readable until reused, so
        # a packet that still points at a just-killed entry sees its tuples.
        if not self.e[i].inuse:
            return
        # both test again; tested here first, an unconfirmed entry (never
        # hashed, mostly without a source NAT binding) makes no call
        if self.e[i].hashed:
            self._hash_remove(i)
        if self.e[i].bysrc_next != -2:
            self._bysrc_remove(i)
        self.e[i].inuse = 0
        self.e[i].status |= IPS_DYING
        self.e[i].gen += 1
        self.freel[self.nfree] = i
        self.nfree += 1
        self.count -= 1

    cdef void _kill(self, int32_t i) noexcept nogil:
        self._free(i)

    # ------------------------------------------------------------------
    # expiry: a heap of (expiry, entry, generation).  Each confirmed entry
    # has one live item whose key is e.queued; extending a timeout leaves the
    # item (it is re-queued when it pops), shortening pushes a new one.
    # ------------------------------------------------------------------
    cdef void _heap_push(self, int64_t t, int32_t idx) noexcept nogil:
        cdef int32_t k, parent, j
        cdef HeapItem it
        if self.heapn == self.heapcap:
            # rebuild from the live entries: one item each
            self.heapn = 0
            for j in range(self.cap):
                if self.e[j].inuse and (self.e[j].status & IPS_CONFIRMED) and j != idx:
                    self.e[j].queued = self.e[j].timeout
                    self._heap_push(self.e[j].timeout, j)
        it.t = t
        it.idx = idx
        it.gen = self.e[idx].gen
        k = self.heapn
        self.heapn += 1
        while k > 0:
            parent = (k - 1) >> 1
            if self.heap[parent].t <= t:
                break
            self.heap[k] = self.heap[parent]
            k = parent
        self.heap[k] = it

    cdef void expire(self, int64_t now_ns) noexcept nogil:
        """Remove every entry whose timeout is <= now (nf_ct_is_expired)."""
        cdef HeapItem top, last
        cdef int32_t k, c, n
        cdef CtEntry* x
        while self.heapn > 0 and self.heap[0].t <= now_ns:
            top = self.heap[0]
            self.heapn -= 1
            n = self.heapn
            if n > 0:
                last = self.heap[n]
                k = 0
                while True:
                    c = 2 * k + 1
                    if c >= n:
                        break
                    if c + 1 < n and self.heap[c + 1].t < self.heap[c].t:
                        c += 1
                    if self.heap[c].t >= last.t:
                        break
                    self.heap[k] = self.heap[c]
                    k = c
                self.heap[k] = last
            x = &self.e[top.idx]
            if not x.inuse or x.gen != top.gen or x.queued != top.t:
                continue
            if x.timeout <= now_ns:
                self._free(top.idx)
            else:
                x.queued = x.timeout
                self._heap_push(x.timeout, top.idx)

    cdef inline void _refresh(self, int32_t i, int64_t tmo, int64_t now) noexcept nogil:
        # __nf_ct_refresh_acct (an unconfirmed entry is queued at confirm)
        cdef CtEntry* x = &self.e[i]
        cdef int64_t old = x.timeout
        if x.status & IPS_FIXED_TIMEOUT:
            return
        x.timeout = now + tmo
        # queued <= old timeout always: only a shorter timeout needs a push
        if x.timeout < old and (x.status & IPS_CONFIRMED) and x.timeout < x.queued:
            x.queued = x.timeout
            self._heap_push(x.timeout, i)

    cdef uint32_t _rand32(self) noexcept nogil:
        cdef uint64_t x = self.rng
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        self.rng = x
        return <uint32_t>(x >> 32)

    # ------------------------------------------------------------------
    # allocation, early drop
    # ------------------------------------------------------------------
    cdef int _early_drop(self, uint64_t h) noexcept nogil:
        # early_drop / early_drop_list: up to 8 buckets from the new tuple's,
        # killing every confirmed non-ASSURED entry of the first bucket that
        # has any.
        cdef uint32_t b = ct_bucket(self, h)
        cdef int k, drops
        cdef int32_t n, nxt, i
        for k in range(NF_CT_EVICTION_RANGE):
            if k:
                b = (b + 1) % self.nbuckets
            drops = 0
            n = self.heads[b].node
            while n >= 0:
                i = n >> 1
                nxt = self.hn[n].node
                if not (self.e[i].status & IPS_ASSURED) and self.e[i].inuse:
                    # the chain link of i is lost when it is freed: next first
                    while nxt >= 0 and (nxt >> 1) == i:
                        nxt = self.hn[nxt].node
                    self._kill(i)
                    drops += 1
                n = nxt
            if drops:
                self.st[<int>CTSTAT_EARLY_DROP] += drops
                return 1
        return 0

    cdef bint _grow(self) noexcept nogil:
        # unlimited table only: double the arrays (indices stay valid)
        cdef int32_t ncap, j
        cdef CtEntry* ne
        cdef void* nraw
        cdef Py_ssize_t off
        cdef int32_t* nf
        cdef HeapItem* nh
        cdef HLink* nl
        if not self.unlimited or self.cap >= HARD_MAX:
            return False
        ncap = self.cap * 2 if self.cap * 2 < HARD_MAX else HARD_MAX
        off = <char*>self.e - <char*>self.eraw
        nraw = realloc(self.eraw, (ncap + 1) * sizeof(CtEntry))
        if nraw == NULL:
            return False
        ne = <CtEntry*>_align64(nraw)
        if <char*>ne - <char*>nraw != off:
            memmove(ne, <char*>nraw + off, self.cap * sizeof(CtEntry))
        self.eraw = nraw
        self.e = ne
        memset(&self.e[self.cap], 0, (ncap - self.cap) * sizeof(CtEntry))
        nf = <int32_t*>realloc(self.freel, ncap * sizeof(int32_t))
        if nf == NULL:
            return False
        self.freel = nf
        nl = <HLink*>realloc(self.hn, 2 * <size_t>ncap * sizeof(HLink))
        if nl == NULL:
            return False
        self.hn = nl
        nh = <HeapItem*>realloc(self.heap, (2 * ncap + 64) * sizeof(HeapItem))
        if nh == NULL:
            return False
        self.heap = nh
        self.heapcap = 2 * ncap + 64
        for j in range(ncap - 1, self.cap - 1, -1):
            self.freel[self.nfree] = j
            self.nfree += 1
        self.cap = ncap
        return True

    cdef int32_t _alloc(self, const CtTuple* t, int64_t now, uint64_t h) noexcept nogil:
        # __nf_conntrack_alloc: the count includes unconfirmed entries
        cdef int32_t i
        cdef uint32_t g
        cdef CtEntry* x
        self.count += 1
        if not self.unlimited and self.count > self.max:
            if not self._early_drop(h):
                self.count -= 1
                return -1
        if self.nfree == 0 and not self._grow():
            self.count -= 1
            return -1
        self.nfree -= 1
        i = self.freel[self.nfree]
        x = &self.e[i]
        g = x.gen
        _zero_entry(x)
        x.gen = g + 1
        x.t0 = t[0]
        x.h0 = h
        _invert(&x.t1, t)
        x.alloc_ns = now
        x.inuse = 1
        x.bysrc_next = -2           # not in the bysource chain
        return i

    # ------------------------------------------------------------------
    # the packet's conntrack view
    # ------------------------------------------------------------------
    cdef inline void _fill_view(self, NfPkt* p, int32_t i, int ctinfo) noexcept nogil:
        cdef CtEntry* x = &self.e[i]
        p.ct = i
        p.ctdir = ctinfo >= IP_CT_IS_REPLY
        p.ctstatus = x.status
        p.ctmark = x.mark
        # IPS_SRC_NAT / IPS_DST_NAT (16, 32) shifted are CTS_SNAT / CTS_DNAT (256, 512)
        p.ctstate = CTINFO_STATE[ctinfo] | ((x.status & (IPS_SRC_NAT | IPS_DST_NAT)) << 4)
        if not self.view_tuples:
            return
        memcpy(p.ct_orig_src, x.t0.src, 16)
        memcpy(p.ct_orig_dst, x.t0.dst, 16)
        memcpy(p.ct_repl_src, x.t1.src, 16)
        memcpy(p.ct_repl_dst, x.t1.dst, 16)
        p.ct_orig_sport = x.t0.sport
        p.ct_orig_dport = x.t0.dport
        p.ct_repl_sport = x.t1.sport
        p.ct_repl_dport = x.t1.dport

    cdef void _no_ct(self, NfPkt* p, uint16_t st) noexcept nogil:
        p.ct = -1
        p.ctstate = st
        p.ctdir = 0
        p.ctstatus = 0
        p.ctmark = 0

    # ------------------------------------------------------------------
    # nf_conntrack_in
    # ------------------------------------------------------------------
    cdef int conntrack_in(self, NfPkt* p, int hook, int64_t now_ns, bint notrack) noexcept nogil:
        cdef CtTuple t, inner
        cdef uint64_t h
        cdef int32_t n, i
        cdef int dir, ctinfo, r
        cdef bint created
        cdef int alen
        p.nat_changed = 0
        if notrack:
            # raw table NOTRACK: the untracked template, no stats
            self._no_ct(p, CTS_UNTRACKED)
            p.ctstatus = IPS_CONFIRMED | IPS_UNTRACKED
            return NFV_ACCEPT
        if now_ns > self.last_now:
            self.last_now = now_ns
        if self.heapn > 0 and self.heap[0].t <= now_ns:
            self.expire(now_ns)
        if p.frag:
            # get_l4proto: no L4 header (defrag runs first in the kernel)
            self.st[<int>CTSTAT_INVALID] += 1
            self._no_ct(p, CTS_INVALID)
            return NFV_ACCEPT
        if p.proto == P_ICMP or p.proto == P_ICMPV6:
            # nf_conntrack_handle_icmp -> nf_conntrack_icmpv4_error / icmpv6_error
            if not p.has_l4:
                self.st[<int>CTSTAT_ERROR] += 1
                self._no_ct(p, CTS_INVALID)
                return NFV_ACCEPT
            if hook == NF_INET_PRE_ROUTING and self.checksum and p.l4_csum_bad:
                self.st[<int>CTSTAT_ERROR] += 1
                self._no_ct(p, CTS_INVALID)
                return NFV_ACCEPT
            if p.family == 4 and p.icmp_type > 18:      # NR_ICMP_TYPES
                self.st[<int>CTSTAT_ERROR] += 1
                self._no_ct(p, CTS_INVALID)
                return NFV_ACCEPT
            if p.family == 6 and _icmpv6_noct(p.icmp_type):
                # icmpv6_error: MLD and neighbour discovery are never tracked
                self._no_ct(p, CTS_UNTRACKED)
                p.ctstatus = IPS_CONFIRMED | IPS_UNTRACKED
                return NFV_ACCEPT
            if _icmp_is_err(p.family, p.icmp_type):
                return self._icmp_error(p)
        elif (p.proto == P_TCP or _has_ports(p.proto)) and not p.has_l4:
            # nf_ct_get_tuple cannot read the ports
            self.st[<int>CTSTAT_INVALID] += 1
            self._no_ct(p, CTS_INVALID)
            return NFV_ACCEPT
        _pkt_tuple(&t, p)
        h = self._hash(&t)
        while True:     # -NF_REPEAT comes back here
            created = False
            n = self._find_h(&t, -1, h)
            if n < 0:
                i = _ct_init(self, p, &t, h, now_ns)
                if i < 0:
                    return NFV_ACCEPT if i == -1 else NFV_DROP
                dir = 0
                ctinfo = IP_CT_NEW
                created = True
            else:
                i = n >> 1
                dir = n & 1
                if dir:
                    ctinfo = IP_CT_ESTABLISHED_REPLY
                elif self.e[i].status & IPS_SEEN_REPLY:
                    ctinfo = IP_CT_ESTABLISHED
                elif self.e[i].status & IPS_EXPECTED:
                    ctinfo = IP_CT_RELATED
                else:
                    ctinfo = IP_CT_NEW
            # nf_conntrack_handle_packet
            if p.proto == P_TCP:
                r = _tcp_packet(self, i, p, dir, hook, now_ns)
            elif p.proto == P_UDP or p.proto == P_UDPLITE:
                r = self._udp_packet(i, p, dir, hook, now_ns)
            elif p.proto == P_ICMP or p.proto == P_ICMPV6:
                r = self._icmp_packet(i, p, now_ns)
            elif p.proto == P_GRE:
                # nf_conntrack_proto_gre.c gre_packet (version 0: no keys,
                # tracked like generic with its own timeouts)
                if self.e[i].status & IPS_SEEN_REPLY:
                    self._refresh(i, self.gre_stream_tmo, now_ns)
                    self.e[i].status |= IPS_ASSURED
                else:
                    self._refresh(i, self.gre_tmo, now_ns)
                r = TR_ACCEPT
            else:
                self._refresh(i, self.generic_tmo, now_ns)
                r = TR_ACCEPT
            if r == TR_REPEAT:
                continue
            if r == TR_INVALID:
                if not (self.e[i].status & IPS_CONFIRMED):
                    self._free(i)
                self.st[<int>CTSTAT_INVALID] += 1
                self._no_ct(p, CTS_INVALID)
                return NFV_ACCEPT
            break
        if ctinfo == IP_CT_ESTABLISHED_REPLY:
            self.e[i].status |= IPS_SEEN_REPLY
        self._fill_view(p, i, ctinfo)
        return NFV_ACCEPT

    cdef int _icmp_error(self, NfPkt* p) noexcept nogil:
        # nf_conntrack_inet_error: the inner header names the connection; the
        # error is RELATED (RELATED_REPLY when it travels in reply direction).
        cdef CtTuple inner, inv
        cdef int32_t n, i
        cdef int dir
        if not p.has_inner:
            self.st[<int>CTSTAT_ERROR] += 1
            self._no_ct(p, CTS_INVALID)
            return NFV_ACCEPT
        memset(&inner, 0, sizeof(CtTuple))
        memcpy(inner.src, p.in_saddr, 16)
        memcpy(inner.dst, p.in_daddr, 16)
        inner.proto = p.in_proto
        inner.family = p.family
        if p.in_proto == P_ICMP or p.in_proto == P_ICMPV6:
            # an echo inside an error: the parser gives the id in in_sport and
            # the inner type in in_dport's high byte is not available; only
            # echo requests are tracked, so the inner type is the request
            inner.sport = p.in_sport
            inner.dport = <uint16_t>((8 if p.family == 4 else 128) << 8)
        elif _has_ports(p.in_proto):
            inner.sport = p.in_sport
            inner.dport = p.in_dport
        if not _invert(&inv, &inner):
            self.st[<int>CTSTAT_ERROR] += 1
            self._no_ct(p, CTS_INVALID)
            return NFV_ACCEPT
        n = self._find(&inv, -1)
        if n < 0:
            self.st[<int>CTSTAT_ERROR] += 1
            self._no_ct(p, CTS_INVALID)
            return NFV_ACCEPT
        i = n >> 1
        dir = n & 1
        # the outer destination must be the one the connection's tuple in
        # this direction leads to
        if memcmp(p.daddr, _tp(&self.e[i], dir).dst, 16) != 0:
            self.st[<int>CTSTAT_ERROR] += 1
            self._no_ct(p, CTS_INVALID)
            return NFV_ACCEPT
        self._fill_view(p, i, IP_CT_RELATED_REPLY if dir else IP_CT_RELATED)
        return NFV_ACCEPT

    # ------------------------------------------------------------------
    # UDP, ICMP trackers
    # ------------------------------------------------------------------
    cdef inline int _udp_packet(self, int32_t i, NfPkt* p, int dir, int hook, int64_t now) noexcept nogil:
        cdef CtEntry* x = &self.e[i]
        cdef int64_t extra
        cdef bint stream = False
        # udp_error: bad checksum only at PRE_ROUTING with nf_conntrack_checksum
        if hook == NF_INET_PRE_ROUTING and self.checksum and p.l4_csum_bad:
            return TR_INVALID
        if x.status & IPS_SEEN_REPLY:
            extra = self.udp_tmo
            # time_after(jiffies, stream_ts): strictly later than alloc + 2 s
            if now > x.alloc_ns + 2 * NS:
                extra = self.udp_stream_tmo
                stream = True
            self._refresh(i, extra, now)
            if stream:
                x.status |= IPS_ASSURED
        else:
            self._refresh(i, self.udp_tmo, now)
        return TR_ACCEPT

    cdef int _icmp_packet(self, int32_t i, NfPkt* p, int64_t now) noexcept nogil:
        cdef CtEntry* x = &self.e[i]
        if not (x.status & IPS_CONFIRMED) and not _icmp_valid_new(p.family, x.t0.dport >> 8):
            return TR_INVALID
        self._refresh(i, self.icmp_tmo if p.family == 4 else self.icmpv6_tmo, now)
        return TR_ACCEPT

    # ------------------------------------------------------------------
    # TCP tracker
    # ------------------------------------------------------------------

    cdef void _tcp_options(self, TcpSeen* s, NfPkt* p) noexcept nogil:
        # tcp_options: only SYNs carry them
        if p.tcp_wscale != 0xff:
            s.td_scale = p.tcp_wscale if p.tcp_wscale < 14 else 14
            s.flags |= F_WINDOW_SCALE
        if p.tcp_sackok:
            s.flags |= F_SACK_PERM

    cdef void _tcp_init_sender(self, TcpSeen* sender, TcpSeen* receiver, NfPkt* p,
                                      uint32_t end, uint32_t win) noexcept nogil:
        sender.td_end = end
        sender.td_maxend = end
        sender.td_maxwin = 1 if win == 0 else win
        self._tcp_options(sender, p)
        if not ((sender.flags & F_WINDOW_SCALE) and (receiver.flags & F_WINDOW_SCALE)):
            sender.td_scale = 0
            receiver.td_scale = 0

    cdef int _tcp_ignore(self, CtEntry* c, NfPkt* p, int dir, int index, int old_state,
                         int* new_state) noexcept nogil:
        # the IGNORE case; returns -1 when a SYN/ACK re-synced the entry
        # (old_state SYN_SENT, new_state SYN_RECV, continue to the window check)
        cdef int ld
        cdef uint8_t fl
        cdef TcpSeen seen
        if (index == TCP_SYNACK_SET and c.last_index == TCP_SYN_SET
                and c.last_dir != dir and p.tcp_ack == c.last_end):
            ld = c.last_dir
            new_state[0] = TCP_CONNTRACK_SYN_RECV
            c.seen[ld].td_end = c.last_end
            c.seen[ld].td_maxend = c.last_end
            c.seen[ld].td_maxwin = c.last_win if c.last_win else 1
            c.seen[ld].td_scale = c.last_wscale
            c.last_flags &= ~F_EXP_CHALLENGE_ACK
            c.seen[ld].flags = c.last_flags
            # nf_ct_tcp_state_reset keeps only BE_LIBERAL
            fl = c.seen[dir].flags & F_BE_LIBERAL
            memset(&c.seen[dir], 0, sizeof(TcpSeen))
            c.seen[dir].flags = fl
            return -1
        c.last_index = index
        c.last_dir = dir
        c.last_seq = p.tcp_seq
        c.last_end = p.tcp_seq + p.l4_paylen + ((p.tcp_flags & 2) != 0) + (p.tcp_flags & 1)
        c.last_win = p.tcp_win
        if index == TCP_SYN_SET and dir == 0:
            memset(&seen, 0, sizeof(TcpSeen))
            c.last_flags = 0
            c.last_wscale = 0
            self._tcp_options(&seen, p)
            if seen.flags & F_WINDOW_SCALE:
                c.last_flags |= F_WINDOW_SCALE
                c.last_wscale = seen.td_scale
            if seen.flags & F_SACK_PERM:
                c.last_flags |= F_SACK_PERM
            if old_state == TCP_CONNTRACK_LAST_ACK:
                c.last_flags |= F_EXP_CHALLENGE_ACK
        if old_state == TCP_CONNTRACK_SYN_SENT and index == TCP_ACK_SET and dir == 1:
            c.last_ack = p.tcp_ack
        return TR_ACCEPT

    cdef int _tcp_rst_check(self, CtEntry* c, NfPkt* p, int dir, int old_state,
                            int* new_state) noexcept nogil:
        # TCP_CONNTRACK_CLOSE with a RST: 1 invalid RST, 2 skip the window
        # check (goto in_window), 0 go on to tcp_in_window
        cdef uint32_t seq = p.tcp_seq
        cdef bint established = c.tcp_state == TCP_CONNTRACK_ESTABLISHED
        if (c.tcp_state == TCP_CONNTRACK_FIN_WAIT or c.tcp_state == TCP_CONNTRACK_LAST_ACK
                or c.tcp_state == TCP_CONNTRACK_TIME_WAIT or c.tcp_state == TCP_CONNTRACK_CLOSE
                or c.tcp_state == TCP_CONNTRACK_CLOSE_WAIT):
            return 2    # tcp_can_early_drop: tuple may be reused already
        if (c.seen[1 - dir].flags & F_MAXACK_SET) and c.last_index != TCP_SYN_SET:
            if seq == 0 and not established:
                return 0
            if before(seq, c.seen[1 - dir].td_maxack) and not self.tcp_ignore_invalid_rst:
                return 1
            if not established or seq == c.seen[1 - dir].td_maxack:
                return 0
            if c.last_index == TCP_ACK_SET and c.last_dir == dir and seq == c.last_end:
                return 0
            # in-window RST whose seq is not exact: keep the state for a
            # possible challenge ACK
            new_state[0] = old_state
        if ((((c.status & IPS_SEEN_REPLY) and c.last_index == TCP_SYN_SET)
                or (not (c.status & IPS_ASSURED) and c.last_index == TCP_ACK_SET))
                and p.tcp_ack == c.last_end):
            return 2
        if (old_state == TCP_CONNTRACK_SYN_SENT and c.last_index == TCP_ACK_SET
                and c.last_dir == 1 and seq == c.last_ack):
            return 2
        return 0

    cdef void _tcp_handle_invalid(self, int32_t i, CtEntry* c, int dir, int index,
                                  int64_t now) noexcept nogil:
        # nf_tcp_handle_invalid: an out-of-window FIN/RST answering a
        # FIN/RST of the other side lowers an ASSURED entry to UNACK
        cdef int64_t expires
        if not (c.status & IPS_ASSURED) or (c.status & IPS_FIXED_TIMEOUT):
            return
        if index != TCP_RST_SET and index != TCP_FIN_SET:
            return
        if c.last_dir != dir and (c.last_index == TCP_FIN_SET or c.last_index == TCP_RST_SET):
            expires = c.timeout - now
            if expires < 120 * NS:
                return
            if expires > self.tcp_tmo[TCP_CONNTRACK_UNACK]:
                self._refresh(i, self.tcp_tmo[TCP_CONNTRACK_UNACK], now)
        else:
            c.last_index = index
            c.last_dir = dir

    # ------------------------------------------------------------------
    # NAT
    # ------------------------------------------------------------------
    cdef bint nat_needed(self, NfPkt* p, int manip) noexcept nogil:
        return ct_nat_needed(self, p, manip)

    cdef bint _used_tuple(self, const CtTuple* t, int32_t ignore) noexcept nogil:
        # nf_nat_used_tuple -> nf_conntrack_tuple_taken on the reply tuple
        # (which counts a clash in the stat "found")
        if self._tuple_taken(t, ignore):
            self.st[<int>CTSTAT_FOUND] += 1
            return True
        return False

    cdef bint _tuple_taken(self, const CtTuple* t, int32_t ignore) noexcept nogil:
        cdef CtTuple reply
        if not _invert(&reply, t):
            return False
        return _reply_taken(self, &reply, ignore)

    cdef uint32_t _bysrc_bucket(self, const CtTuple* t) noexcept nogil:
        return ct_bysrc_bucket(self, t)

    cdef void _bysrc_remove(self, int32_t i) noexcept nogil:
        cdef uint32_t b
        cdef int32_t n, prev = -1
        if self.e[i].bysrc_next == -2:
            return
        b = self._bysrc_bucket(&self.e[i].t0)
        n = self.bysrc[b]
        while n >= 0 and n != i:
            prev = n
            n = self.e[n].bysrc_next
        if n == i:
            if prev < 0:
                self.bysrc[b] = self.e[i].bysrc_next
            else:
                self.e[prev].bysrc_next = self.e[i].bysrc_next
        self.e[i].bysrc_next = -2

    cdef bint _find_appropriate_src(self, const CtTuple* orig, CtTuple* result,
                                    const NatRange* r) noexcept nogil:
        # find_appropriate_src: an entry with the same original source
        # (address, port, protocol) whose mapping lies in the range: reuse it
        cdef int32_t n = self.bysrc[self._bysrc_bucket(orig)]
        cdef CtEntry* x
        while n >= 0:
            x = &self.e[n]
            if (x.t0.proto == orig.proto and x.t0.family == orig.family
                    and x.t0.sport == orig.sport and memcmp(x.t0.src, orig.src, 16) == 0):
                _invert(result, &x.t1)
                memcpy(result.dst, orig.dst, 16)
                result.dport = orig.dport
                if self._in_range(result, r, NF_NAT_MANIP_SRC):
                    return True
            n = x.bysrc_next
        return False

    cdef bint _used_tuple_harder(self, CtTuple* t, int32_t ct, uint32_t left) noexcept nogil:
        # nf_nat_used_tuple_harder: in the last NF_NAT_HARDER_THRESH attempts
        # for a new TCP connection, a colliding SNAT entry that is closing
        # (TIME_WAIT or later) is evicted when the new ISN is past its own
        cdef CtTuple reply
        cdef int32_t n
        cdef CtEntry* old
        cdef CtEntry* new = &self.e[ct]
        if (left > NF_NAT_MAX_ATTEMPTS // 4 or t.proto != P_TCP
                or new.tcp_state != TCP_CONNTRACK_SYN_SENT):
            return self._used_tuple(t, ct)
        _invert(&reply, t)
        n = self._find(&reply, ct)
        if n < 0:
            return False
        if (n & 1) == 0:
            return True
        old = &self.e[n >> 1]
        if old.tcp_state < TCP_CONNTRACK_TIME_WAIT:
            return True
        if (old.status & (IPS_FIXED_TIMEOUT | IPS_DYING)) or not (old.status & IPS_SRC_NAT):
            return True
        if <int32_t>(new.seen[0].td_end - old.seen[0].td_end) <= 0:
            return True
        self._kill(n >> 1)
        return False

    cdef bint _in_range(self, const CtTuple* t, const NatRange* r, int manip) noexcept nogil:
        cdef const uint8_t* a = &t.src[0]
        cdef int n = _alen(t.family)
        if manip != NF_NAT_MANIP_SRC:
            a = &t.dst[0]
        if r.flags & NF_NAT_RANGE_MAP_IPS:
            if _acmp(a, r.min_addr, n) < 0 or _acmp(a, r.max_addr, n) > 0:
                return False
        if not (r.flags & NF_NAT_RANGE_PROTO_SPECIFIED):
            return True
        return self._l4_in_range(t, manip, r.min_port, r.max_port)

    cdef bint _l4_in_range(self, const CtTuple* t, int manip, uint16_t lo,
                                  uint16_t hi) noexcept nogil:
        cdef uint16_t port
        if t.proto == P_ICMP or t.proto == P_ICMPV6:
            port = t.sport
        elif _has_ports(t.proto):
            port = t.sport if manip == NF_NAT_MANIP_SRC else t.dport
        else:
            return True
        return port >= lo and port <= hi

    cdef void _best_ips(self, CtTuple* t, const NatRange* r, int manip) noexcept nogil:
        # find_best_ips_proto: jhash2 over the source address (the 16-byte
        # union nf_inet_addr, as loaded by a little-endian kernel), seeded
        # with the last destination word unless --persistent; no boot key,
        # so the address picked is the kernel's
        cdef uint8_t* var = &t.src[0]
        cdef int words = 1 if t.family == 4 else 4
        cdef int k
        cdef uint32_t j, minip, maxip, dist, v, w
        cdef uint32_t key[4]
        cdef bint full_range = False
        if manip != NF_NAT_MANIP_SRC:
            var = &t.dst[0]
        if not (r.flags & NF_NAT_RANGE_MAP_IPS):
            return
        if memcmp(r.min_addr, r.max_addr, 16) == 0:
            memcpy(var, r.min_addr, 16)
            return
        memcpy(key, t.src, 16)
        if r.flags & NF_NAT_RANGE_PERSISTENT:
            j = jhash2(key, 4, 0)
        else:
            memcpy(&w, t.dst + 4 * (words - 1), 4)
            j = jhash2(key, 4, w)
        for k in range(words):
            if not full_range:
                minip = _be32(r.min_addr + 4 * k)
                maxip = _be32(r.max_addr + 4 * k)
                dist = maxip - minip + 1
            else:
                minip = 0
                dist = 0xffffffffu
            v = minip + <uint32_t>((<uint64_t>j * dist) >> 32)
            _put32(var + 4 * k, v)
            if v != _be32(r.max_addr + 4 * k):
                full_range = True
            if not (r.flags & NF_NAT_RANGE_PERSISTENT):
                memcpy(&w, t.dst + 4 * k, 4)
                j ^= w

    cdef void _unique_l4(self, CtTuple* t, const NatRange* r, int manip, int32_t ct) noexcept nogil:
        # nf_nat_l4proto_unique_tuple
        cdef uint16_t* key
        cdef uint32_t mn, mx, range_size, k, attempts
        cdef uint16_t off
        if t.proto == P_ICMP or t.proto == P_ICMPV6:
            key = &t.sport
            if not (r.flags & NF_NAT_RANGE_PROTO_SPECIFIED):
                mn = 0
                range_size = 65536
            else:
                mn = r.min_port
                range_size = <uint32_t>r.max_port - r.min_port + 1
        elif _has_ports(t.proto):
            key = &t.sport if manip == NF_NAT_MANIP_SRC else &t.dport
            if not (r.flags & NF_NAT_RANGE_PROTO_SPECIFIED):
                if manip == NF_NAT_MANIP_DST:
                    return
                if key[0] < 1024:
                    if key[0] < 512:
                        mn = 1
                        range_size = 511
                    else:
                        mn = 600
                        range_size = 1023 - 600 + 1
                else:
                    mn = 1024
                    range_size = 65535 - 1024 + 1
            else:
                mn = r.min_port
                mx = r.max_port
                if mx < mn:
                    mn, mx = mx, mn
                range_size = mx - mn + 1
        else:
            return
        if (r.flags & (NF_NAT_RANGE_PROTO_RANDOM | NF_NAT_RANGE_PROTO_RANDOM_FULLY)) or \
                manip != NF_NAT_MANIP_DST:
            off = <uint16_t>self._rand32()
        else:
            off = 0
        attempts = range_size
        if attempts > NF_NAT_MAX_ATTEMPTS:
            attempts = NF_NAT_MAX_ATTEMPTS
        while True:
            for k in range(attempts):
                key[0] = <uint16_t>(mn + (<uint32_t>off) % range_size)
                if not self._used_tuple_harder(t, ct, attempts - k):
                    return
                off += 1
            if attempts >= range_size or attempts < 16:
                return
            attempts //= 2
            off = <uint16_t>self._rand32()

    cdef void _unique_tuple(self, CtTuple* out, const CtTuple* orig, const NatRange* r,
                            int manip, int32_t ct) noexcept nogil:
        # get_unique_tuple
        cdef bint random_all = (r.flags & (NF_NAT_RANGE_PROTO_RANDOM
                                           | NF_NAT_RANGE_PROTO_RANDOM_FULLY)) != 0
        if manip == NF_NAT_MANIP_SRC and not random_all:
            if self._in_range(orig, r, manip):
                if not self._used_tuple(orig, ct):
                    out[0] = orig[0]
                    return
            elif self._find_appropriate_src(orig, out, r):
                if not self._used_tuple(out, ct):
                    return
        out[0] = orig[0]
        self._best_ips(out, r, manip)
        if not random_all:
            if r.flags & NF_NAT_RANGE_PROTO_SPECIFIED:
                if (not (r.flags & NF_NAT_RANGE_PROTO_OFFSET)
                        and self._l4_in_range(out, manip, r.min_port, r.max_port)
                        and (r.min_port == r.max_port or not self._used_tuple(out, ct))):
                    return
            elif not self._used_tuple(out, ct):
                return
        self._unique_l4(out, r, manip, ct)

    cdef int nat_setup(self, NfPkt* p, int manip, const NatRange* r,
                       const uint8_t* masq_addr) noexcept nogil:
        """nf_nat_setup_info.  r NULL: null binding (nf_nat_alloc_null_binding)."""
        cdef int32_t i = p.ct
        cdef CtEntry* x
        cdef CtTuple curr, nt
        cdef NatRange rr
        if i < 0:
            return NFV_ACCEPT
        x = &self.e[i]
        if x.status & IPS_CONFIRMED:
            return NFV_ACCEPT
        # nf_nat_alloc_null_binding: the range is the tuple's own address
        # (no ports), so get_unique_tuple keeps the tuple when it is not
        # taken, the general path's first check below.  That check inverts
        # curr = invert(t1) again: t1 itself (t1 is always an inverse, and
        # inverting twice gives the tuple back), so t1 is looked up directly.
        if r == NULL and masq_addr == NULL and not _reply_taken(self, &x.t1, i):
            self._nat_done(p, x, i, manip)
            return NFV_ACCEPT
        _invert(&curr, &x.t1)
        if r == NULL:
            memset(&rr, 0, sizeof(NatRange))
            rr.flags = NF_NAT_RANGE_MAP_IPS
            if manip == NF_NAT_MANIP_SRC:
                memcpy(rr.min_addr, x.t1.dst, 16)
            else:
                memcpy(rr.min_addr, x.t1.src, 16)
            memcpy(rr.max_addr, rr.min_addr, 16)
        else:
            rr = r[0]
        if masq_addr != NULL:
            # MASQUERADE / REDIRECT: one address chosen by the caller
            rr.flags |= NF_NAT_RANGE_MAP_IPS
            memcpy(rr.min_addr, masq_addr, 16)
            memcpy(rr.max_addr, masq_addr, 16)
        self._unique_tuple(&nt, &curr, &rr, manip, i)
        if not tuple_eq(&nt, &curr):
            _invert(&x.t1, &nt)
            x.status |= IPS_SRC_NAT if manip == NF_NAT_MANIP_SRC else IPS_DST_NAT
        self._nat_done(p, x, i, manip)
        return NFV_ACCEPT

    cdef void _nat_done(self, NfPkt* p, CtEntry* x, int32_t i, int manip) noexcept nogil:
        # the end of nf_nat_setup_info once the tuple is chosen
        cdef uint32_t b
        if manip == NF_NAT_MANIP_SRC and x.bysrc_next == -2:
            # nf_nat_bysource: newest first
            b = self._bysrc_bucket(&x.t0)
            x.bysrc_next = self.bysrc[b]
            self.bysrc[b] = i
        x.status |= IPS_SRC_NAT_DONE if manip == NF_NAT_MANIP_SRC else IPS_DST_NAT_DONE
        self._fill_view(p, i, self._ctinfo_of(p))

    cdef int _ctinfo_of(self, NfPkt* p) noexcept nogil:
        if p.ctstate & CTS_NEW:
            return IP_CT_NEW
        if p.ctstate & CTS_RELATED:
            return IP_CT_RELATED_REPLY if p.ctdir else IP_CT_RELATED
        return IP_CT_ESTABLISHED_REPLY if p.ctdir else IP_CT_ESTABLISHED

    cdef void nat_packet(self, NfPkt* p, int hook) noexcept nogil:
        """nf_nat_packet (and nf_nat_icmp_reply_translation for RELATED errors).

        An entry without IPS_SRC_NAT / IPS_DST_NAT is left as it is:
        ct_nat_packet and the engine's inline _nf_nat skip the call then."""
        cdef int32_t i = p.ct
        cdef int mtype, dir
        cdef uint32_t statusbit
        cdef CtTuple target
        cdef CtEntry* x
        cdef int alen
        cdef const CtTuple* other
        p.nat_changed = 0
        if i < 0:
            return
        x = &self.e[i]
        mtype = NF_NAT_MANIP_SRC if (hook == NF_INET_POST_ROUTING or hook == NF_INET_LOCAL_IN) \
            else NF_NAT_MANIP_DST
        dir = p.ctdir
        statusbit = IPS_SRC_NAT if mtype == NF_NAT_MANIP_SRC else IPS_DST_NAT
        if dir:
            statusbit ^= (IPS_SRC_NAT | IPS_DST_NAT)
        if not (x.status & statusbit):
            return
        other = _tp(x, 1 - dir)
        _invert(&target, other)
        if (p.ctstate & CTS_RELATED) and (p.proto == P_ICMP or p.proto == P_ICMPV6) \
                and _icmp_is_err(p.family, p.icmp_type):
            # inner header: the opposite manip with tuplehash[!dir] itself
            if p.has_inner:
                if mtype == NF_NAT_MANIP_SRC:      # inner gets DST manip
                    memcpy(p.in_daddr, other.dst, 16)
                    if _has_ports(p.in_proto):
                        p.in_dport = other.dport
                else:
                    memcpy(p.in_saddr, other.src, 16)
                    if _has_ports(p.in_proto):
                        p.in_sport = other.sport
                p.nat_changed |= NAT_CHG_INNER
            # outer: addresses only
            if mtype == NF_NAT_MANIP_SRC:
                if memcmp(p.saddr, target.src, 16) != 0:
                    memcpy(p.saddr, target.src, 16)
                    p.nat_changed |= NAT_CHG_SADDR
            else:
                if memcmp(p.daddr, target.dst, 16) != 0:
                    memcpy(p.daddr, target.dst, 16)
                    p.nat_changed |= NAT_CHG_DADDR
            return
        if mtype == NF_NAT_MANIP_SRC:
            if memcmp(p.saddr, target.src, 16) != 0:
                memcpy(p.saddr, target.src, 16)
                p.nat_changed |= NAT_CHG_SADDR
            if p.proto == P_ICMP or p.proto == P_ICMPV6:
                if p.dport != target.sport:
                    p.dport = target.sport
                    p.nat_changed |= NAT_CHG_DPORT
            elif _has_ports(p.proto) and p.sport != target.sport:
                p.sport = target.sport
                p.nat_changed |= NAT_CHG_SPORT
        else:
            if memcmp(p.daddr, target.dst, 16) != 0:
                memcpy(p.daddr, target.dst, 16)
                p.nat_changed |= NAT_CHG_DADDR
            if p.proto == P_ICMP or p.proto == P_ICMPV6:
                if p.dport != target.sport:
                    p.dport = target.sport
                    p.nat_changed |= NAT_CHG_DPORT
            elif _has_ports(p.proto) and p.dport != target.dport:
                p.dport = target.dport
                p.nat_changed |= NAT_CHG_DPORT

    # ------------------------------------------------------------------
    # confirm / discard / mark
    # ------------------------------------------------------------------
    cdef int confirm(self, NfPkt* p, int64_t now_ns) noexcept nogil:
        """__nf_conntrack_confirm: insert the unconfirmed entry of this packet."""
        cdef int32_t i = p.ct, n
        cdef uint64_t h1
        cdef CtEntry* x
        cdef CtEntry* y
        if i < 0:
            return NFV_ACCEPT
        x = &self.e[i]
        if (x.status & IPS_CONFIRMED) or not x.inuse:
            return NFV_ACCEPT
        if p.ctdir:
            return NFV_ACCEPT
        h1 = self._hash(&x.t1)
        n = self._find_h(&x.t0, i, x.h0)
        if n < 0:
            n = self._find_h(&x.t1, i, h1)
        if n >= 0:
            # nf_ct_resolve_clash: UDP/ICMP (allow_clash) when the existing
            # entry is the same flow with the same NAT: the packet takes it
            y = &self.e[n >> 1]
            # __nf_ct_resolve_clash: the winner did no NAT, or both entries
            # have the same tuples (nf_ct_match)
            if ((p.proto == P_UDP or p.proto == P_UDPLITE or p.proto == P_ICMP
                    or p.proto == P_ICMPV6)
                    and ((y.status & (IPS_SRC_NAT_DONE | IPS_DST_NAT_DONE)) == 0
                         or (tuple_eq(&y.t0, &x.t0) and tuple_eq(&y.t1, &x.t1)))):
                self._free(i)
                self.st[<int>CTSTAT_CLASHRES] += 1
                self._fill_view(p, n >> 1, self._ctinfo_of(p))
                return NFV_ACCEPT
            self.st[<int>CTSTAT_INSERT_FAILED] += 1
            self.st[<int>CTSTAT_DROP] += 1
            self._free(i)
            p.ct = -1
            return NFV_DROP
        x.status |= IPS_CONFIRMED
        self._hash_insert_h(i, h1)
        x.queued = x.timeout
        self._heap_push(x.timeout, i)
        p.ctstatus = x.status
        return NFV_ACCEPT

    cdef void discard(self, NfPkt* p) noexcept nogil:
        if p.ct >= 0 and self.e[p.ct].inuse and not (self.e[p.ct].status & IPS_CONFIRMED):
            self._free(p.ct)
            p.ct = -1

    cdef void set_mark(self, NfPkt* p, uint32_t mark) noexcept nogil:
        if p.ct >= 0:
            self.e[p.ct].mark = mark
            p.ctmark = mark

    # ------------------------------------------------------------------
    # packet bytes
    # ------------------------------------------------------------------
    cdef int manip_buffer(self, int ct, int dir, int manip, uint8_t* ip, uint32_t length,
                          int family) noexcept nogil:
        """Apply ct's manip for a packet of direction dir to an IP datagram
        (nf_nat_ipv4_manip_pkt / nf_nat_ipv6_manip_pkt and the l4 manips of
        nf_nat_proto.c).  Returns the NAT_CHG_* bits, or -1 when the buffer is
        too short for the headers it names.  IPv6 extension headers are not
        walked: the L4 header must follow the fixed header."""
        cdef CtTuple target
        cdef uint32_t ihl, l4, alen, aoff
        cdef uint8_t proto
        cdef uint8_t* a
        cdef const uint8_t* na
        cdef uint8_t olda[16]
        cdef uint16_t oldp, newp, chk
        cdef int coff = -1, poff = -1, changed = 0
        cdef bint l4ok, frag_later = False, udp = False
        if ct < 0 or ct >= self.cap:
            return -1
        _invert(&target, _tp(&self.e[ct], 1 - dir))
        if family == 4:
            if length < 20:
                return -1
            ihl = (ip[0] & 15) * 4
            if ihl < 20 or ihl > length:
                return -1
            proto = ip[9]
            frag_later = (_rd16(ip + 6) & 0x1fff) != 0
            l4 = ihl
            alen = 4
            aoff = 12 if manip == NF_NAT_MANIP_SRC else 16
        else:
            if length < 40:
                return -1
            proto = ip[6]
            l4 = 40
            alen = 16
            aoff = 8 if manip == NF_NAT_MANIP_SRC else 24
        na = &target.src[0]
        if manip != NF_NAT_MANIP_SRC:
            na = &target.dst[0]
        if proto == P_TCP:
            coff = 16
            poff = 0 if manip == NF_NAT_MANIP_SRC else 2
            l4ok = l4 + 20 <= length
        elif proto == P_UDP or proto == P_UDPLITE:
            coff = 6
            poff = 0 if manip == NF_NAT_MANIP_SRC else 2
            udp = proto == P_UDP
            l4ok = l4 + 8 <= length
        elif proto == P_ICMP or proto == P_ICMPV6:
            coff = 2
            poff = 4        # echo id, whatever the manip type (icmp_manip_pkt)
            l4ok = l4 + 8 <= length and _icmp_inverse(family, ip[l4]) >= 0
        else:
            l4ok = False
        if frag_later:
            l4ok = False
        a = ip + aoff
        memcpy(olda, a, alen)
        if memcmp(olda, na, alen) != 0:
            changed |= NAT_CHG_SADDR if manip == NF_NAT_MANIP_SRC else NAT_CHG_DADDR
        # L4 first: its pseudo-header update needs the old address
        if l4ok:
            chk = _rd16(ip + l4 + coff)
            oldp = _rd16(ip + l4 + poff)
            newp = target.sport if (manip == NF_NAT_MANIP_SRC or proto == P_ICMP
                                    or proto == P_ICMPV6) else target.dport
            if newp != oldp:
                changed |= NAT_CHG_SPORT if manip == NF_NAT_MANIP_SRC else NAT_CHG_DPORT
            if not (udp and chk == 0 and family == 4):
                # an IPv4 UDP zero checksum ("none") stays zero
                if proto != P_ICMP:     # ICMPv4 has no pseudo-header
                    if family == 4:
                        chk = csum_replace4(chk, _be32(olda), _be32(na))
                    else:
                        chk = csum_replace16(chk, olda, na)
                chk = csum_replace2(chk, oldp, newp)
                if udp and chk == 0:
                    chk = 0xffff        # CSUM_MANGLED_0
                _wr16(ip + l4 + coff, chk)
            _wr16(ip + l4 + poff, newp)
        memcpy(a, na, alen)
        if family == 4:
            _wr16(ip + 10, csum_replace4(_rd16(ip + 10), _be32(olda), _be32(na)))
        return changed

    # ------------------------------------------------------------------
    # Python side
    # ------------------------------------------------------------------
    def stats(self):
        """conntrack -S names (one CPU), plus entries = nf_conntrack_count."""
        d = {name: self.st[k] for k, name in enumerate(STAT_NAMES)}
        d["entries"] = self.count
        return d

    def expire_to(self, int64_t now_ns):
        self.expire(now_ns)

    def raw_entries(self, int64_t now_ns):
        """Confirmed live entries at now_ns as tuples of Python values."""
        cdef int32_t i
        cdef CtEntry* x
        self.expire(now_ns)
        out = []
        for i in range(self.cap):
            x = &self.e[i]
            if not x.inuse or not (x.status & IPS_CONFIRMED):
                continue
            out.append((i, x.t0.family, x.t0.proto, x.tcp_state,
                        (x.timeout - now_ns) // NS, x.status, x.mark,
                        bytes(x.t0.src[:16]), bytes(x.t0.dst[:16]), x.t0.sport, x.t0.dport,
                        bytes(x.t1.src[:16]), bytes(x.t1.dst[:16]), x.t1.sport, x.t1.dport,
                        x.timeout))
        return out

    def tcp_info(self, int32_t i):
        """TCP tracker state of entry i (tests): state and both directions' windows."""
        cdef CtEntry* x = &self.e[i]
        def side(TcpSeen s):
            return {"td_end": s.td_end, "td_maxend": s.td_maxend, "td_maxwin": s.td_maxwin,
                    "td_maxack": s.td_maxack, "td_scale": s.td_scale, "flags": s.flags}
        return {"state": TCP_STATE_NAMES[x.tcp_state], "retrans": x.retrans,
                "orig": side(x.seen[0]), "reply": side(x.seen[1])}

    def timeout_of(self, int32_t i):
        return self.e[i].timeout

    # thin wrappers over the C API, one packet at a time (tests, tools)
    def py_in(self, CtPacket pk, int hook, int64_t now_ns, bint notrack=False):
        return self.conntrack_in(pk.p, hook, now_ns, notrack)

    def py_nat(self, CtPacket pk, int hook, rng=None, masq_addr=None):
        """The nat hook for this packet: set up the binding when needed (rng a
        NatRange dict, None: null binding), then rewrite.  Returns nat_changed."""
        cdef NatRange r
        cdef uint8_t ma[16]
        cdef int manip = NF_NAT_MANIP_SRC if (hook == NF_INET_POST_ROUTING
                                              or hook == NF_INET_LOCAL_IN) else NF_NAT_MANIP_DST
        if self.nat_needed(pk.p, manip):
            if masq_addr is not None:
                b = bytes(masq_addr)
                for k in range(16):
                    ma[k] = b[k]
            if rng is not None:
                memset(&r, 0, sizeof(NatRange))
                r.flags = rng["flags"]
                b = bytes(rng["min_addr"])
                b2 = bytes(rng["max_addr"])
                for k in range(16):
                    r.min_addr[k] = b[k]
                    r.max_addr[k] = b2[k]
                r.min_port = rng.get("min_port", 0)
                r.max_port = rng.get("max_port", 0)
                self.nat_setup(pk.p, manip, &r, ma if masq_addr is not None else NULL)
            else:
                self.nat_setup(pk.p, manip, NULL, ma if masq_addr is not None else NULL)
        self.nat_packet(pk.p, hook)
        return pk.p.nat_changed

    def py_confirm(self, CtPacket pk, int64_t now_ns):
        return self.confirm(pk.p, now_ns)

    def py_discard(self, CtPacket pk):
        self.discard(pk.p)

    def py_set_mark(self, CtPacket pk, uint32_t mark):
        self.set_mark(pk.p, mark)

    def py_manip(self, int ct, int dir, int manip, buf, int family):
        """manip_buffer on a writable buffer (bytearray) holding an IP datagram."""
        cdef unsigned char[:] mv = buf
        if mv.shape[0] == 0:
            return -1
        return self.manip_buffer(ct, dir, manip, &mv[0], mv.shape[0], family)


cdef bint _reply_taken(Conntrack self, const CtTuple* reply, int32_t ignore) noexcept nogil:
    # nf_conntrack_tuple_taken given the reply tuple itself
    cdef int32_t n
    cdef uint64_t h
    cdef uint32_t b, tag
    cdef HLink l
    h = self._hash(reply)
    b = ct_bucket(self, h)
    tag = <uint32_t>(h >> 32)
    l = self.heads[b]
    while l.node >= 0:
        n = l.node
        if l.tag == tag and (n >> 1) != ignore and \
                tuple_eq(_tp(&self.e[n >> 1], n & 1), reply):
            # same flow (identical original tuples): left to clash resolution
            if not tuple_eq(&self.e[n >> 1].t0, &self.e[ignore].t0):
                return True
        l = self.hn[n]
    return False


# ----------------------------------------------------------------------
# The TCP tracker's per-packet path (nf_conntrack_tcp_packet and tcp_in_window),
# module functions rather than methods: each has one caller, so the compiler
# folds them into conntrack_in (no vtable entry keeps an out-of-line copy).
# ----------------------------------------------------------------------
cdef int _tcp_new "pystack_ct_tcp_new"(Conntrack self, CtEntry* c, NfPkt* p,
                                       int index) noexcept nogil:
    # tcp_new, for an unconfirmed entry (out of line: the per-packet path
    # of a confirmed entry keeps its registers)
    cdef uint16_t fl = p.tcp_flags
    cdef int new_state = TCP_TABLE[0][index][TCP_CONNTRACK_NONE]
    if new_state >= TCP_CONNTRACK_MAX:
        return TR_INVALID
    memset(&c.seen[0], 0, 2 * sizeof(TcpSeen))
    c.seen[0].td_end = p.tcp_seq + p.l4_paylen + ((fl & 2) != 0) + (fl & 1)
    c.seen[0].td_maxwin = p.tcp_win if p.tcp_win else 1
    if new_state == TCP_CONNTRACK_SYN_SENT:
        c.seen[0].td_maxend = c.seen[0].td_end
        self._tcp_options(&c.seen[0], p)
    elif not self.tcp_loose:
        return TR_INVALID
    else:
        c.seen[0].td_maxend = c.seen[0].td_end + c.seen[0].td_maxwin
        c.seen[0].flags = F_SACK_PERM | F_BE_LIBERAL
        c.seen[1].flags = F_SACK_PERM | F_BE_LIBERAL
    c.last_index = TCP_NONE_SET
    return TR_ACCEPT


cdef int32_t _ct_init "pystack_ct_init"(Conntrack self, NfPkt* p, const CtTuple* t,
                                         uint64_t h, int64_t now) noexcept nogil:
    # init_conntrack: the new entry, or -1 (no inverse: INVALID, accepted),
    # -2 (table full and nothing evictable: dropped)
    cdef int32_t i
    if not _invertible(t):
        self.st[<int>CTSTAT_INVALID] += 1
        self._no_ct(p, CTS_INVALID)
        return -1
    i = self._alloc(t, now, h)
    if i < 0:
        self.st[<int>CTSTAT_DROP] += 1
        self._no_ct(p, CTS_INVALID)
        return -2
    return i


cdef inline int _tcp_packet(Conntrack self, int32_t i, NfPkt* p, int dir, int hook,
                            int64_t now) noexcept nogil:
    cdef CtEntry* c = &self.e[i]
    cdef uint16_t fl = p.tcp_flags
    cdef uint8_t f6 = fl & 0x3f & ~0x08        # without PSH (ECE/CWR are above 0x3f)
    cdef int index, old_state, new_state, res
    cdef int64_t timeout
    cdef uint32_t seq
    cdef bint seen_reply
    cdef TcpSeen tmp
    # tcp_error: header length (the parser's has_l4), checksum, flags
    if hook == NF_INET_PRE_ROUTING and self.checksum and p.l4_csum_bad:
        return TR_INVALID
    index = TCP_FLAG_INDEX[f6]
    if index == TCP_FLAGS_INVALID:
        return TR_INVALID
    if not (c.status & IPS_CONFIRMED) and _tcp_new(self, c, p, index) != TR_ACCEPT:
        return TR_INVALID
    old_state = c.tcp_state
    new_state = TCP_TABLE[dir][index][old_state]
    if new_state == TCP_CONNTRACK_ESTABLISHED:
        pass        # the common case, none of the special cases below
    elif new_state == TCP_CONNTRACK_SYN_SENT and old_state >= TCP_CONNTRACK_TIME_WAIT:
        if ((c.seen[dir].flags | c.seen[1 - dir].flags) & F_CLOSE_INIT) or \
                (c.last_dir == dir and c.last_index == TCP_RST_SET):
            # reopening a closed/aborted connection: kill, look up again
            self._kill(i)
            return TR_REPEAT
        new_state = TCP_CONNTRACK_IGNORE     # fall through to IGNORE
        res = self._tcp_ignore(c, p, dir, index, old_state, &new_state)
        if res >= 0:
            return res
        old_state = TCP_CONNTRACK_SYN_SENT
    elif new_state == TCP_CONNTRACK_SYN_SENT and old_state < TCP_CONNTRACK_TIME_WAIT:
        pass
    elif new_state == TCP_CONNTRACK_IGNORE:
        res = self._tcp_ignore(c, p, dir, index, old_state, &new_state)
        if res >= 0:
            return res
        old_state = TCP_CONNTRACK_SYN_SENT
    elif new_state == TCP_CONNTRACK_MAX:
        return TR_INVALID
    elif new_state == TCP_CONNTRACK_TIME_WAIT:
        if (old_state == TCP_CONNTRACK_LAST_ACK and index == TCP_ACK_SET
                and c.last_dir != dir and c.last_index == TCP_SYN_SET
                and (c.last_flags & F_EXP_CHALLENGE_ACK)):
            # RFC 5961 challenge ACK: not the ACK of the last FIN
            c.last_flags &= ~F_EXP_CHALLENGE_ACK
            return TR_ACCEPT
    elif new_state == TCP_CONNTRACK_SYN_SENT2:
        c.last_flags |= F_SIMULTANEOUS_OPEN
    elif new_state == TCP_CONNTRACK_SYN_RECV:
        if dir == 1 and index == TCP_ACK_SET and (c.last_flags & F_SIMULTANEOUS_OPEN):
            new_state = TCP_CONNTRACK_ESTABLISHED
    elif new_state == TCP_CONNTRACK_CLOSE and index == TCP_RST_SET:
        res = self._tcp_rst_check(c, p, dir, old_state, &new_state)
        if res == 1:
            return TR_INVALID
        if res == 2:
            return _tcp_in_window_done(self, i, c, p, dir, index, old_state, new_state, now)
    res = _tcp_in_window(self, c, dir, index, p)
    if res == NFCT_TCP_IGNORE:
        return TR_ACCEPT
    if res == NFCT_TCP_INVALID:
        self._tcp_handle_invalid(i, c, dir, index, now)
        return TR_INVALID
    return _tcp_in_window_done(self, i, c, p, dir, index, old_state, new_state, now)


cdef inline bint _liberal(Conntrack self, const TcpSeen* sender) noexcept nogil:
    # tcp_in_window's "accept anyway": nf_conntrack_tcp_be_liberal or the
    # sender's IP_CT_TCP_FLAG_BE_LIBERAL
    return self.tcp_be_liberal or (sender.flags & F_BE_LIBERAL) != 0


cdef inline int _tcp_in_window(Conntrack self, CtEntry* c, int dir, int index, NfPkt* p) noexcept nogil:
    cdef TcpSeen* sender = &c.seen[dir]
    cdef TcpSeen* receiver = &c.seen[1 - dir]
    cdef uint32_t seq = p.tcp_seq, ack = p.tcp_ack, sack, end, win, swin, overshot
    # the flags and the raw window are read in p where used (fewer live values: this is
    # inlined into conntrack_in); liberal only on the failure returns
    cdef bint syn = (p.tcp_flags & 2) != 0
    cdef bint in_recv_win, ack_ok
    cdef uint32_t maxackwin
    sack = ack
    win = p.tcp_win
    end = seq + p.l4_paylen + syn + (p.tcp_flags & 1)
    if (receiver.flags & F_SACK_PERM) and p.tcp_nsack and after(p.tcp_sack_right, sack):
        sack = p.tcp_sack_right
    if sender.td_maxwin == 0:
        if syn:
            self._tcp_init_sender(sender, receiver, p, end, win)
            if not (p.tcp_flags & 16):
                return NFCT_TCP_ACCEPT      # simultaneous open
        else:
            sender.td_end = end
            swin = win << sender.td_scale
            sender.td_maxwin = 1 if swin == 0 else swin
            sender.td_maxend = end + sender.td_maxwin
            if receiver.td_maxwin == 0:
                receiver.td_end = sack
                receiver.td_maxend = sack
            elif sack == receiver.td_end + 1:
                receiver.td_end += 1
    elif (syn and after(end, sender.td_end)
          and (c.tcp_state == TCP_CONNTRACK_SYN_SENT or c.tcp_state == TCP_CONNTRACK_SYN_RECV)):
        # re-initialised SYN(-ACK) in this direction
        self._tcp_init_sender(sender, receiver, p, end, win)
        if dir == 1 and not (p.tcp_flags & 16):
            return NFCT_TCP_ACCEPT
    if not (p.tcp_flags & 16):
        ack = receiver.td_end
        sack = ack
    elif (p.tcp_flags & 4) and ack == 0:
        ack = receiver.td_end
        sack = ack
    if (p.tcp_flags & 4) and seq == 0 and c.tcp_state == TCP_CONNTRACK_SYN_SENT:
        seq = sender.td_end
        end = seq
    if not before(seq, sender.td_maxend + 1):
        overshot = end - sender.td_maxend + 1
        maxackwin = sender.td_maxwin if sender.td_maxwin > 66000 else 66000
        ack_ok = after(sack, receiver.td_end - maxackwin - 1)
        in_recv_win = receiver.td_maxwin != 0 and after(end, sender.td_end - receiver.td_maxwin - 1)
        if (in_recv_win and ack_ok and overshot <= receiver.td_maxwin
                and before(sack, receiver.td_end + 1)):
            sender.td_end = end
            sender.flags |= F_DATA_UNACK
            return NFCT_TCP_ACCEPT if _liberal(self, sender) else NFCT_TCP_IGNORE
        return NFCT_TCP_ACCEPT if _liberal(self, sender) else NFCT_TCP_INVALID    # SEQ_OVER
    if not before(sack, receiver.td_end + 1):
        return NFCT_TCP_ACCEPT if _liberal(self, sender) else NFCT_TCP_INVALID    # ACK_OVER
    in_recv_win = receiver.td_maxwin == 0 or after(end, sender.td_end - receiver.td_maxwin - 1)
    if not in_recv_win:
        return NFCT_TCP_ACCEPT if _liberal(self, sender) else NFCT_TCP_IGNORE     # SEQ_UNDER
    # MAXACKWINDOW(sender), read here (not held across the tests above)
    maxackwin = sender.td_maxwin if sender.td_maxwin > 66000 else 66000
    if not after(sack, receiver.td_end - maxackwin - 1):
        return NFCT_TCP_ACCEPT if _liberal(self, sender) else NFCT_TCP_IGNORE     # ACK_UNDER
    # (a liberal ACCEPT above skips the updates below, as in the kernel:
    # nf_tcp_log_invalid returns before them)
    if not syn:
        win <<= sender.td_scale
    swin = win + (sack - ack)
    if sender.td_maxwin < swin:
        sender.td_maxwin = swin
    if after(end, sender.td_end):
        sender.td_end = end
        sender.flags |= F_DATA_UNACK
    if p.tcp_flags & 16:
        if not (sender.flags & F_MAXACK_SET):
            sender.td_maxack = ack
            sender.flags |= F_MAXACK_SET
        elif after(ack, sender.td_maxack):
            sender.td_maxack = ack
    if receiver.td_maxwin != 0 and after(end, sender.td_maxend):
        receiver.td_maxwin += end - sender.td_maxend
    if after(sack + win, receiver.td_maxend - 1):
        receiver.td_maxend = sack + win
        if win == 0:
            receiver.td_maxend += 1
    if ack == receiver.td_end:
        receiver.flags &= ~F_DATA_UNACK
    if index == TCP_ACK_SET:
        if (c.last_dir == dir and c.last_seq == seq and c.last_ack == ack
                and c.last_end == end and c.last_win == p.tcp_win):
            if c.retrans < 255:
                c.retrans += 1
        else:
            c.last_dir = dir
            c.last_seq = seq
            c.last_ack = ack
            c.last_end = end
            c.last_win = p.tcp_win
            c.retrans = 0
    return NFCT_TCP_ACCEPT


cdef inline int _tcp_in_window_done "pystack_ct_tcp_in_window_done"(Conntrack self, int32_t i, CtEntry* c, NfPkt* p, int dir,
                                    int index, int old_state, int new_state,
                                    int64_t now) noexcept nogil:
    cdef int64_t timeout
    cdef int64_t* tm = self.tcp_tmo
    c.last_index = index
    c.last_dir = dir
    c.tcp_state = new_state
    if old_state != new_state and new_state == TCP_CONNTRACK_FIN_WAIT:
        c.seen[dir].flags |= F_CLOSE_INIT
    if c.retrans >= self.tcp_max_retrans and tm[new_state] > tm[TCP_CONNTRACK_RETRANS]:
        timeout = tm[TCP_CONNTRACK_RETRANS]
    elif index == TCP_RST_SET:
        timeout = tm[TCP_CONNTRACK_CLOSE]
    elif (((c.seen[0].flags | c.seen[1].flags) & F_DATA_UNACK)
          and tm[new_state] > tm[TCP_CONNTRACK_UNACK]):
        timeout = tm[TCP_CONNTRACK_UNACK]
    elif c.last_win == 0 and tm[new_state] > tm[TCP_CONNTRACK_RETRANS]:
        timeout = tm[TCP_CONNTRACK_RETRANS]
    else:
        timeout = tm[new_state]
    if not (c.status & IPS_SEEN_REPLY):
        if p.tcp_flags & 4:
            # only a RST answered: no connection, delete at once
            # (nf_ct_kill_acct; the packet keeps its ct)
            if c.status & IPS_CONFIRMED:
                self._kill(i)
            return TR_ACCEPT
        if index == TCP_SYN_SET and old_state == TCP_CONNTRACK_SYN_SENT:
            return TR_ACCEPT    # a retransmitted SYN does not renew the timeout
        if new_state == TCP_CONNTRACK_ESTABLISHED and timeout > tm[TCP_CONNTRACK_UNACK]:
            timeout = tm[TCP_CONNTRACK_UNACK]
    elif (not (c.status & IPS_ASSURED)
          and (old_state == TCP_CONNTRACK_SYN_RECV or old_state == TCP_CONNTRACK_ESTABLISHED)
          and new_state == TCP_CONNTRACK_ESTABLISHED):
        c.status |= IPS_ASSURED
    self._refresh(i, timeout, now)
    return TR_ACCEPT


cdef class CtPacket:
    """One NfPkt owned by Python (tests and tools); fields via set()/view()."""

    def __cinit__(self):
        self.p = <NfPkt*>calloc(1, sizeof(NfPkt))
        if self.p == NULL:
            raise MemoryError()
        self.p.ct = -1
        self.p.tcp_wscale = 0xff

    def __dealloc__(self):
        free(self.p)

    def set(self, **kw):
        cdef NfPkt* p = self.p
        for k, v in kw.items():
            if k in ("saddr", "daddr", "in_saddr", "in_daddr"):
                b = bytes(v)
                if len(b) != 16:
                    raise ValueError(f"{k}: 16 bytes expected")
                for j in range(16):
                    if k == "saddr":
                        p.saddr[j] = b[j]
                    elif k == "daddr":
                        p.daddr[j] = b[j]
                    elif k == "in_saddr":
                        p.in_saddr[j] = b[j]
                    else:
                        p.in_daddr[j] = b[j]
            elif k == "family": p.family = v
            elif k == "proto": p.proto = v
            elif k == "frag": p.frag = v
            elif k == "has_l4": p.has_l4 = v
            elif k == "sport": p.sport = v
            elif k == "dport": p.dport = v
            elif k == "tcp_flags": p.tcp_flags = v
            elif k == "icmp_type": p.icmp_type = v
            elif k == "icmp_code": p.icmp_code = v
            elif k == "l4_csum_bad": p.l4_csum_bad = v
            elif k == "tcp_seq": p.tcp_seq = v
            elif k == "tcp_ack": p.tcp_ack = v
            elif k == "tcp_win": p.tcp_win = v
            elif k == "tcp_wscale": p.tcp_wscale = v
            elif k == "tcp_sackok": p.tcp_sackok = v
            elif k == "tcp_nsack": p.tcp_nsack = v
            elif k == "tcp_sack_right": p.tcp_sack_right = v
            elif k == "l4_paylen": p.l4_paylen = v
            elif k == "has_inner": p.has_inner = v
            elif k == "in_proto": p.in_proto = v
            elif k == "in_sport": p.in_sport = v
            elif k == "in_dport": p.in_dport = v
            elif k == "len": p.len = v
            elif k == "mark": p.mark = v
            else:
                raise KeyError(f"NfPkt has no settable field {k!r}")

    def view(self):
        cdef NfPkt* p = self.p
        return {
            "saddr": bytes(p.saddr[:16]), "daddr": bytes(p.daddr[:16]),
            "sport": p.sport, "dport": p.dport,
            "in_saddr": bytes(p.in_saddr[:16]), "in_daddr": bytes(p.in_daddr[:16]),
            "in_sport": p.in_sport, "in_dport": p.in_dport,
            "ct": p.ct, "ctstate": p.ctstate, "ctdir": p.ctdir, "ctstatus": p.ctstatus,
            "ctmark": p.ctmark,
            "ct_orig_src": bytes(p.ct_orig_src[:16]), "ct_orig_dst": bytes(p.ct_orig_dst[:16]),
            "ct_repl_src": bytes(p.ct_repl_src[:16]), "ct_repl_dst": bytes(p.ct_repl_dst[:16]),
            "ct_orig_sport": p.ct_orig_sport, "ct_orig_dport": p.ct_orig_dport,
            "ct_repl_sport": p.ct_repl_sport, "ct_repl_dport": p.ct_repl_dport,
            "nat_changed": p.nat_changed,
        }


def py_jhash2(words, uint32_t initval):
    """jhash2 over a list of 32-bit words (tests)."""
    cdef uint32_t k[16]
    cdef int n = len(words), i
    if n > 16:
        raise ValueError("at most 16 words")
    for i in range(n):
        k[i] = words[i]
    return jhash2(k, n, initval)


def bench_lookups(Conntrack ct, list packets, int64_t now_ns, Py_ssize_t rounds):
    """conntrack_in over copies of `packets` (CtPacket), `rounds` times, in
    order: the micro benchmark of the hit path.  Returns the number of
    packets that found an entry (not NEW)."""
    cdef Py_ssize_t n = len(packets), k, j
    cdef NfPkt* arr = <NfPkt*>malloc(max(n, 1) * sizeof(NfPkt))
    cdef NfPkt* src = <NfPkt*>malloc(max(n, 1) * sizeof(NfPkt))
    cdef int64_t hits = 0
    cdef CtPacket pk
    if arr == NULL or src == NULL:
        free(arr)
        free(src)
        raise MemoryError()
    for j in range(n):
        pk = packets[j]
        src[j] = pk.p[0]
    with nogil:
        for k in range(rounds):
            for j in range(n):
                arr[j] = src[j]
                ct.conntrack_in(&arr[j], NF_INET_PRE_ROUTING, now_ns, False)
                if arr[j].ct >= 0 and not (arr[j].ctstate & CTS_NEW):
                    hits += 1
    free(arr)
    free(src)
    return hits
