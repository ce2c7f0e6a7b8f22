# Internet checksum primitives (RFC 1071 / RFC 1624), inlined into every
# module that cimports them: `from pystack._core.checksum cimport ...`.
#
# CONVENTION (every function here):
#   * A "sum" / accumulator is a uint64_t holding a ones-complement sum of
#     16-bit words taken in NETWORK byte order, as plain integers: the bytes
#     45 00 contribute 0x4500.  Only its value modulo 0xffff matters until it
#     is folded; accumulators may be added with `+` (no carry handling needed
#     below ~2^47 words, far beyond any packet).
#   * 16-bit values (checksum fields, ports, old/new words) are host integers
#     holding the wire value big-endian: field bytes b8 61 -> 0xb861.  32-bit
#     values likewise: 192.0.2.1 -> 0xc0000201.
#   * csum_fold() returns the folded 16-bit sum WITHOUT the final complement
#     (unlike the kernel's csum_fold(), which complements); csum_finish()
#     returns the complemented value, i.e. what goes in a checksum field.
#     A received region verifies when csum_fold(sum over it, checksum field
#     included) == 0xffff.
#
# Why this convention: the stack model reads header fields as big-endian
# integers everywhere (PacketColumns), so incremental updates (NAT rewriting
# a port or address) take exactly the numbers the model holds, and nothing
# depends on host byte order except one byte swap inside csum_partial.
#
# Chaining: csum_partial(p2, n2, csum_partial(p1, n1, 0)) equals the sum over
# p1+p2 only when n1 is even (a region split at an odd offset shifts every
# later byte to the other half of its 16-bit word; the kernel has the same
# rule, see csum_block_add()).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy


cdef inline bint _host_le() noexcept nogil:
    # Constant-folded by the compiler.
    cdef uint16_t one = 1
    return (<const uint8_t*>&one)[0] == 1


cdef inline uint64_t _ld64(const uint8_t* p) noexcept nogil:
    # memcpy: no alignment or aliasing assumptions; gcc emits a single mov.
    cdef uint64_t v
    memcpy(&v, p, 8)
    return v


cdef inline uint32_t _ld32(const uint8_t* p) noexcept nogil:
    cdef uint32_t v
    memcpy(&v, p, 4)
    return v


cdef inline uint16_t _ld16(const uint8_t* p) noexcept nogil:
    cdef uint16_t v
    memcpy(&v, p, 2)
    return v


cdef inline uint16_t csum_fold(uint64_t s) noexcept nogil:
    """Fold a 64-bit accumulator to 16 bits with end-around carry (no complement).

    Returns 0 only for an all-zero sum; a sum that is 0 modulo 0xffff over
    non-zero data folds to 0xffff (ones-complement "negative zero").
    """
    s = (s & 0xffffffffu) + (s >> 32)
    s = (s & 0xffffffffu) + (s >> 32)
    s = (s & 0xffffu) + (s >> 16)
    s = (s & 0xffffu) + (s >> 16)
    return <uint16_t>s


cdef inline bint csum_verifies(uint64_t s) noexcept nogil:
    """csum_fold(s) == 0xffff, i.e. a region whose sum (checksum field
    included) is s verifies; s may be a host-order or a network-order sum.

    Folding keeps s modulo 0xffff and gives 0 only for s == 0, so the test
    is s != 0 and s % 0xffff == 0: a multiply and a compare (compilers test
    divisibility by an odd constant with its inverse modulo 2^64), not the
    four folding steps.  Byte order: a host-order sum is the network-order
    one times 256 modulo 0xffff (see _native_word), and 256 is coprime to
    0xffff, so both are divisible or neither is.

    Written out (gcc emits this form for some call sites only, a full
    modulo for others): for an odd d, s % d == 0 iff s * d^-1 mod 2^64 <=
    (2^64 - 1) / d (Granlund & Montgomery 1994, 9); 0xfffefffefffeffff is
    0xffff's inverse modulo 2^64."""
    return s != 0 and s * <uint64_t>0xfffefffefffeffffULL <= <uint64_t>0x0001000100010001ULL


cdef inline uint16_t csum_finish(uint64_t s) noexcept nogil:
    """The checksum field value for a sum: ~fold (the kernel's csum_fold)."""
    return <uint16_t>(~csum_fold(s))


cdef inline uint64_t _csum_native_short(const uint8_t* p, size_t n) noexcept nogil:
    # _csum_native for n < 64: straight-line code, one test per bit of n
    # (no loop, no vectoriser prologue).  Headers and small segments (20-60
    # bytes) are the common case; each 64-bit word is split into its 32-bit
    # halves as in the long loop.  Two accumulators for a little parallelism.
    cdef uint64_t a = 0, b = 0, w0, w1, w2, w3
    if n & 32:
        w0 = _ld64(p)
        w1 = _ld64(p + 8)
        w2 = _ld64(p + 16)
        w3 = _ld64(p + 24)
        a += (w0 & 0xffffffffu) + (w0 >> 32) + (w1 & 0xffffffffu) + (w1 >> 32)
        b += (w2 & 0xffffffffu) + (w2 >> 32) + (w3 & 0xffffffffu) + (w3 >> 32)
        p += 32
    if n & 16:
        w0 = _ld64(p)
        w1 = _ld64(p + 8)
        a += (w0 & 0xffffffffu) + (w0 >> 32)
        b += (w1 & 0xffffffffu) + (w1 >> 32)
        p += 16
    if n & 8:
        w0 = _ld64(p)
        a += (w0 & 0xffffffffu) + (w0 >> 32)
        p += 8
    if n & 4:
        b += _ld32(p)
        p += 4
    if n & 2:
        a += _ld16(p)
        p += 2
    if n & 1:
        # The odd last byte is the high-order byte of a word padded with a
        # zero byte (RFC 1071): its first-in-memory position, i.e. the low
        # half of a host-order word on little-endian.
        if _host_le():
            b += p[0]
        else:
            b += (<uint64_t>p[0]) << 8
    return a + b


# The long-buffer kernel, in C: with AVX2 (runtime-detected; x86-64's
# baseline is only SSE2) each 16 bytes are four 32-bit words zero-extended
# into 64-bit lanes by one vpmovzxdq and added by one vpaddq, the same sum of
# 32-bit halves as the portable loop (identical 64-bit result) in about a
# third of its instructions.  AVX-512 is not used: valgrind (the project's
# instruction counter) cannot run it and 256 bits already outrun L2.
cdef extern from *:
    """
    #ifndef PS_CSUM_SIMD_H
    #define PS_CSUM_SIMD_H
    #include <stddef.h>
    #include <stdint.h>
    #if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
    #include <immintrin.h>
    /* Sum of the n / 64 * 64 first bytes of p as 32-bit host-order words,
       in 64-bit lanes (no carry is ever lost below 2^32 words). */
    __attribute__((target("avx2"), unused, noinline))
    static uint64_t ps_csum_avx2(const uint8_t *p, size_t n)
    {
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        const uint8_t *end = p + (n & ~(size_t)127);
        #define PS_W(k) _mm256_cvtepu32_epi64(_mm_loadu_si128((const __m128i *)(p + 16 * (k))))
        for (; p < end; p += 128) {
            a0 = _mm256_add_epi64(a0, PS_W(0));
            a1 = _mm256_add_epi64(a1, PS_W(1));
            a2 = _mm256_add_epi64(a2, PS_W(2));
            a3 = _mm256_add_epi64(a3, PS_W(3));
            a0 = _mm256_add_epi64(a0, PS_W(4));
            a1 = _mm256_add_epi64(a1, PS_W(5));
            a2 = _mm256_add_epi64(a2, PS_W(6));
            a3 = _mm256_add_epi64(a3, PS_W(7));
        }
        if (n & 64) {
            a0 = _mm256_add_epi64(a0, PS_W(0));
            a1 = _mm256_add_epi64(a1, PS_W(1));
            a2 = _mm256_add_epi64(a2, PS_W(2));
            a3 = _mm256_add_epi64(a3, PS_W(3));
        }
        #undef PS_W
        a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
        __m128i h = _mm_add_epi64(_mm256_castsi256_si128(a0), _mm256_extracti128_si256(a0, 1));
        return (uint64_t)_mm_cvtsi128_si64(h) + (uint64_t)_mm_extract_epi64(h, 1);
    }
    /* libgcc's cpu model also checks that the OS saves the YMM state. */
    #define PS_HAVE_AVX2() __builtin_cpu_supports("avx2")
    #else
    static uint64_t ps_csum_avx2(const uint8_t *p, size_t n) { (void)p; (void)n; return 0; }
    #define PS_HAVE_AVX2() 0
    #endif
    #endif
    """
    uint64_t ps_csum_avx2(const uint8_t* p, size_t n) noexcept nogil
    bint PS_HAVE_AVX2() noexcept nogil


cdef inline uint64_t _csum_native_portable(const uint8_t* p, size_t n) noexcept nogil:
    # Sum of 16-bit words in HOST order (RFC 1071 2(B): byte-order
    # independence; the caller swaps the folded result once).  Each 64-bit
    # word w = hi*2^32 + lo is congruent to hi + lo modulo 0xffff, so adding
    # the two 32-bit halves into 64-bit accumulators never loses a carry
    # (2^32 words of headroom) and needs no add-with-carry, which C cannot
    # express; four independent accumulators break the dependency chain and
    # the counted loop lets gcc vectorise it (SSE2: pand/psrlq/paddq).
    # Buffers under 64 bytes (IP headers, SYNs, ACKs) skip the loop, whose
    # set-up costs more than their whole sum: _csum_native_short.
    cdef uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, w0, w1, w2, w3
    cdef size_t i, blocks
    if n < 64:
        return _csum_native_short(p, n)
    blocks = n >> 5
    for i in range(blocks):
        w0 = _ld64(p + 32 * i)
        w1 = _ld64(p + 32 * i + 8)
        w2 = _ld64(p + 32 * i + 16)
        w3 = _ld64(p + 32 * i + 24)
        a0 += (w0 & 0xffffffffu) + (w0 >> 32)
        a1 += (w1 & 0xffffffffu) + (w1 >> 32)
        a2 += (w2 & 0xffffffffu) + (w2 >> 32)
        a3 += (w3 & 0xffffffffu) + (w3 >> 32)
    return a0 + a1 + a2 + a3 + _csum_native_short(p + (blocks << 5), n & 31)


cdef inline uint64_t _csum_native(const uint8_t* p, size_t n) noexcept nogil:
    # Host-order sum of p[0:n] (see _csum_native_portable): the AVX2 kernel
    # for the 64-byte blocks when the CPU has it, the portable loop
    # otherwise; both give the same 64-bit value.
    if n < 64:
        return _csum_native_short(p, n)
    if PS_HAVE_AVX2():
        return ps_csum_avx2(p, n) + _csum_native_short(p + (n & ~(<size_t>63)), n & 63)
    return _csum_native_portable(p, n)


cdef inline uint64_t csum_partial(const uint8_t* p, size_t n, uint64_t acc) noexcept nogil:
    """acc + ones-complement sum of p[0:n] as network-order 16-bit words."""
    cdef uint16_t f = csum_fold(_csum_native(p, n))
    if _host_le():
        f = <uint16_t>((f >> 8) | (f << 8))
    return acc + f


cdef inline uint64_t csum_add16(uint64_t acc, uint16_t v) noexcept nogil:
    return acc + v


cdef inline uint64_t pseudo_v4(const uint8_t* saddr, const uint8_t* daddr,
                               uint8_t proto, uint32_t length) noexcept nogil:
    """Sum of the IPv4 pseudo-header (RFC 793/768): saddr, daddr, 0, proto, length.

    saddr/daddr point at 4 address bytes in network order.
    """
    return (((<uint64_t>saddr[0]) << 8 | saddr[1]) + ((<uint64_t>saddr[2]) << 8 | saddr[3])
            + ((<uint64_t>daddr[0]) << 8 | daddr[1]) + ((<uint64_t>daddr[2]) << 8 | daddr[3])
            + proto + (length >> 16) + (length & 0xffffu))


cdef inline uint64_t pseudo_v6(const uint8_t* saddr, const uint8_t* daddr,
                               uint8_t proto, uint32_t length) noexcept nogil:
    """Sum of the IPv6 pseudo-header (RFC 8200 8.1): saddr, daddr, 32-bit
    upper-layer length, 3 zero bytes, next header.  16-byte addresses."""
    return (csum_partial(saddr, 16, 0) + csum_partial(daddr, 16, 0)
            + proto + (length >> 16) + (length & 0xffffu))


# RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').  All arguments and results are
# wire-order integers (see CONVENTION).  Eqn. 3 rather than RFC 1141's eqn. 2
# (HC' = HC + m + ~m') because eqn. 2 can give 0xffff (-0) where a full
# recomputation gives 0x0000 (RFC 1624 section 4: HC 0xDD2F, m 0x5555 ->
# m' 0x3285: eqn. 2 gives 0xFFFF, eqn. 3 and recomputation 0x0000).
# Mirrors include/net/checksum.h csum_replace2()/csum_replace4() and
# inet_proto_csum_replace16() (the kernel works on __sum16 in memory order;
# we work on wire-order integers, the arithmetic is the same).
# UDP: a result of 0 must be sent as 0xffff (CSUM_MANGLED_0) and a 0 field
# ("no checksum", IPv4) must not be updated at all: the callers' business.

cdef inline uint16_t csum_replace2(uint16_t check, uint16_t old16, uint16_t new16) noexcept nogil:
    cdef uint64_t s = (<uint16_t>~check) + (<uint16_t>~old16) + <uint64_t>new16
    return <uint16_t>~csum_fold(s)


cdef inline uint16_t csum_replace4(uint16_t check, uint32_t old32, uint32_t new32) noexcept nogil:
    cdef uint32_t nold = ~old32
    cdef uint64_t s = ((<uint16_t>~check) + <uint64_t>(nold >> 16) + (nold & 0xffffu)
                       + (new32 >> 16) + (new32 & 0xffffu))
    return <uint16_t>~csum_fold(s)


cdef inline uint16_t csum_replace_bytes(uint16_t check, const uint8_t* old, const uint8_t* new,
                                        size_t n) noexcept nogil:
    """Replace an even-length field of n bytes (e.g. 16: an IPv6 address)
    that starts at an even offset of the checksummed region."""
    # Sum of ~m_i over the words == -(sum of m_i) in ones-complement
    # arithmetic, i.e. 0xffff - fold(old): one subtraction, never negative.
    cdef uint64_t s = (<uint16_t>~check) + (<uint64_t>0xffffu - csum_fold(csum_partial(old, n, 0)))
    s += csum_partial(new, n, 0)
    return <uint16_t>~csum_fold(s)


cdef inline uint16_t csum_replace16(uint16_t check, const uint8_t* old16b,
                                    const uint8_t* new16b) noexcept nogil:
    """Replace a 16-byte field (an IPv6 address in a pseudo-header)."""
    return csum_replace_bytes(check, old16b, new16b, 16)


# ---------------------------------------------------------------------------
# Per-row verification, shared by checksum.verify_batch and the fused path of
# parse.parse_batch(verify_checksums=True), which runs it while the packet's
# bytes are still in L1: one implementation, two callers.
# ---------------------------------------------------------------------------
from libc.stdint cimport int64_t
from pystack._core.vocab cimport (
    CS_UNCHECKED, CS_OK, CS_BAD, CS_ZERO, CS_PARTIAL, CS_TRUNCATED,
    DR_NOT_DROPPED_YET, DR_NOT_SPECIFIED, DR_PKT_TOO_SMALL, DR_IP_INHDR, DR_IP_CSUM,
)
from pystack._core.parse cimport PF_IPV4, PF_IPV6, PF_FRAG, PF_TRUNCATED

cdef enum:
    IPPROTO_ICMP = 1
    IPPROTO_TCP = 6
    IPPROTO_UDP = 17
    IPPROTO_ICMPV6 = 58

cdef inline uint16_t _be16(const uint8_t* p) noexcept nogil:
    return (<uint16_t>p[0] << 8) | p[1]


cdef inline bint _ip_csum_preempts(uint8_t status) noexcept nogil:
    # ip_rcv_core order: len < 20, version/ihl, pull ihl*4 (IP_INHDR) ->
    # header checksum (IP_CSUM) -> len < tot_len (PKT_TOO_SMALL) -> tot_len <
    # ihl*4 (IP_INHDR) -> later layers (TCP/UDP length checks: PKT_TOO_SMALL;
    # L4 header pulls: NOT_SPECIFIED).  verify_batch only gets here when
    # version == 4, ihl >= 5 and ihl*4 bytes are on the wire, i.e. no check
    # before the checksum failed, so each of these statuses the parser set
    # came from a later check and the checksum failure takes precedence.
    # Anything else (OTHERHOST or a link-level reason set by a later stage)
    # is decided before ip_rcv_core: kept.
    return (status == DR_NOT_DROPPED_YET or status == DR_PKT_TOO_SMALL
            or status == DR_IP_INHDR or status == DR_NOT_SPECIFIED)


cdef inline bint _l4_checkable(uint8_t status, uint8_t proto, uint32_t l4len) noexcept nogil:
    # The kernel computes an L4 checksum only for packets that got that far:
    # every parser drop reason (IP header errors, short TCP/UDP headers, TCP
    # doff < 5 -> PKT_TOO_SMALL, bad UDP length, ...) is decided before it.
    # Exception: icmp_rcv/icmpv6_rcv validate the checksum BEFORE pulling the
    # 8-byte header, so a 4..7-byte ICMP message the parser marked
    # NOT_SPECIFIED (its pull failure) still gets its checksum classified
    # (the stack model lets a bad one become ICMP_CSUM).
    if status == DR_NOT_DROPPED_YET:
        return True
    return (status == DR_NOT_SPECIFIED and l4len < 8
            and (proto == IPPROTO_ICMP or proto == IPPROTO_ICMPV6))


cdef enum:
    K_IP_OK, K_IP_BAD, K_IP_TRUNC
    K_L4_OK, K_L4_BAD, K_L4_ZERO, K_L4_PARTIAL, K_L4_TRUNC, K_L4_UNCHECKED
    K_TCP_BAD, K_UDP_BAD, K_ICMP_BAD, K_ICMP6_BAD
    K_TCP_PARTIAL, K_UDP_PARTIAL
    K__N


cdef inline void _count_ip(uint8_t ipcs, int64_t* cnt) noexcept nogil:
    # An IPv4 row's header verdict (UNCHECKED rows are not counted).
    if ipcs == CS_OK:
        cnt[K_IP_OK] += 1
    elif ipcs == CS_BAD:
        cnt[K_IP_BAD] += 1
    elif ipcs == CS_TRUNCATED:
        cnt[K_IP_TRUNC] += 1


cdef inline void _count_l4(uint8_t l4cs, uint8_t proto, int64_t* cnt) noexcept nogil:
    if l4cs == CS_OK:
        cnt[K_L4_OK] += 1
    elif l4cs == CS_BAD:
        cnt[K_L4_BAD] += 1
        if proto == IPPROTO_TCP:
            cnt[K_TCP_BAD] += 1
        elif proto == IPPROTO_UDP:
            cnt[K_UDP_BAD] += 1
        elif proto == IPPROTO_ICMP:
            cnt[K_ICMP_BAD] += 1
        else:
            cnt[K_ICMP6_BAD] += 1
    elif l4cs == CS_ZERO:
        cnt[K_L4_ZERO] += 1
    elif l4cs == CS_PARTIAL:
        cnt[K_L4_PARTIAL] += 1
        if proto == IPPROTO_TCP:
            cnt[K_TCP_PARTIAL] += 1
        elif proto == IPPROTO_UDP:
            cnt[K_UDP_PARTIAL] += 1
    elif l4cs == CS_TRUNCATED:
        cnt[K_L4_TRUNC] += 1
    else:
        cnt[K_L4_UNCHECKED] += 1


cdef inline uint8_t _l4_mismatch(uint8_t proto, uint16_t field, uint64_t pseudo,
                                 uint64_t pseudo0) noexcept nogil:
    # The verdict for a TCP/UDP/ICMP(v6) sum that does not verify.  `pseudo`
    # is the pseudo-header sum with the length, `pseudo0` without (both 0 for
    # ICMP, which has none).
    cdef uint16_t pf, pf0
    if proto != IPPROTO_ICMP:
        # CHECKSUM_PARTIAL as a TX-offloading host captures it: th->check =
        # ~csum_tcpudp_magic(..., len, proto, 0), the folded pseudo-header
        # sum (some drivers/OSes: without the length, or complemented).
        pf = csum_fold(pseudo)
        pf0 = csum_fold(pseudo0)
        if (field == pf or field == <uint16_t>~pf or field == pf0
                or field == <uint16_t>~pf0):
            return CS_PARTIAL
    return CS_BAD


cdef inline void verify_row(const uint8_t* p, uint32_t cap, uint32_t wire, uint32_t fl,
                            uint8_t ver, uint8_t proto, uint32_t l3, uint32_t l4,
                            uint32_t l4len, const uint8_t* saddr16, const uint8_t* daddr16,
                            uint8_t* status, uint8_t* ip_csum, uint8_t* l4_csum,
                            int64_t* cnt) noexcept nogil:
    # Classify one parsed row's IPv4-header and L4 checksums (verify_batch's
    # docstring has the rules).  `p` holds `cap` captured bytes; the other
    # arguments are the row's parsed columns; `status`, `ip_csum`, `l4_csum`
    # point at the row's cells and `cnt` at K__N counters.  THE rules: the
    # parser's fast path uses verify_v4_fast (below), a specialisation for
    # the rows that path produces, checked against this function by
    # tests/checksum/test_fused_verify.py.
    cdef const uint8_t* sa
    cdef const uint8_t* da
    cdef uint32_t ln, ulen, ihl, minlen = 0, foff = 0
    cdef uint8_t ipcs, l4cs
    cdef uint16_t field
    cdef uint64_t pseudo, pseudo0
    ipcs = CS_UNCHECKED
    l4cs = CS_UNCHECKED
    # ---- IPv4 header (ip_rcv_core: ip_fast_csum) ----
    if ver == 4 and (fl & PF_IPV4):
        if <uint64_t>l3 + 20 > wire:
            pass        # skb->len < 20: IP_INHDR before the checksum
        elif <uint64_t>l3 + 20 > cap:
            ipcs = CS_TRUNCATED
        elif (p[l3] >> 4) == 4 and (p[l3] & 15) >= 5:
            ihl = (p[l3] & 15) * 4
            if <uint64_t>l3 + ihl > wire:
                pass    # cannot pull ihl*4: IP_INHDR before the checksum
            elif <uint64_t>l3 + ihl > cap:
                ipcs = CS_TRUNCATED
            elif csum_verifies(_csum_native(p + l3, ihl)):
                ipcs = CS_OK
            else:
                ipcs = CS_BAD
                if _ip_csum_preempts(status[0]):
                    status[0] = DR_IP_CSUM
        _count_ip(ipcs, cnt)
    ip_csum[0] = ipcs
    # ---- L4 ----
    if ver == 4 and (fl & PF_IPV4):
        if proto == IPPROTO_TCP:
            minlen = 20; foff = 16
        elif proto == IPPROTO_UDP:
            minlen = 8; foff = 6
        elif proto == IPPROTO_ICMP:
            minlen = 4; foff = 2
        else:
            minlen = 0
    elif ver == 6 and (fl & PF_IPV6):
        if proto == IPPROTO_TCP:
            minlen = 20; foff = 16
        elif proto == IPPROTO_UDP:
            minlen = 8; foff = 6
        elif proto == IPPROTO_ICMPV6:
            minlen = 4; foff = 2
        else:
            minlen = 0
    else:
        minlen = 0
    if (minlen == 0 or (fl & PF_FRAG) or ipcs == CS_BAD
            or not _l4_checkable(status[0], proto, l4len)):
        pass    # UNCHECKED: nothing to check, or the kernel never gets there
    elif l4 == 0:
        # L4 offset unknown (parser convention: 0).  With a status
        # of 0 the parser always knows it; be safe anyway.
        if fl & PF_TRUNCATED:
            l4cs = CS_TRUNCATED
    else:
        ln = l4len
        if proto == IPPROTO_UDP and <uint64_t>l4 + 6 <= cap:
            # __udp4_lib_rcv/__udp6_lib_rcv: the skb is trimmed to
            # the UDP length; a ulen beyond the IP payload or below
            # 8 is a length error (the parser's), not a checksum one.
            ulen = _be16(p + l4 + 4)
            if ulen >= 8 and ulen <= ln:
                ln = ulen
            elif not (ulen == 0 and ver == 6):   # 0: IPv6 jumbogram, use l4_len
                ln = 0
        if ln < minlen:
            pass
        elif <uint64_t>l4 + ln > cap:
            l4cs = CS_TRUNCATED
        else:
            field = _be16(p + l4 + foff)
            if proto == IPPROTO_UDP and field == 0:
                l4cs = CS_ZERO if ver == 4 else CS_BAD
            else:
                if proto == IPPROTO_ICMP:
                    pseudo = 0
                    pseudo0 = 0
                elif ver == 4:
                    sa = saddr16 + 12
                    da = daddr16 + 12
                    pseudo0 = pseudo_v4(sa, da, proto, 0)
                    pseudo = pseudo0 + (ln >> 16) + (ln & 0xffff)
                else:
                    sa = saddr16
                    da = daddr16
                    pseudo0 = pseudo_v6(sa, da, proto, 0)
                    pseudo = pseudo0 + (ln >> 16) + (ln & 0xffff)
                if csum_verifies(csum_partial(p + l4, ln, pseudo)):
                    l4cs = CS_OK
                else:
                    l4cs = _l4_mismatch(proto, field, pseudo, pseudo0)
    l4_csum[0] = l4cs
    _count_l4(l4cs, proto, cnt)


cdef inline uint64_t _native_word(uint64_t v) noexcept nogil:
    # A network-order 16-bit word sum as it counts in a host-order sum:
    # congruent modulo 0xffff to the byte-swapped value on little-endian
    # (v * 256 = hi*2^16 + lo*2^8 == hi + lo*2^8: 2^16 == 1 mod 0xffff).
    if _host_le():
        return v << 8
    return v


cdef inline void verify_v4_fast(const uint8_t* ip, uint8_t proto, uint32_t ln, uint32_t l4cap,
                                uint8_t* status, uint8_t* ip_csum, uint8_t* l4_csum,
                                int64_t* cnt) noexcept nogil:
    """verify_row specialised for the parser's fast-path IPv4 rows (parse.pyx
    fast_v4: TCP and UDP), with the same results and counts.

    Preconditions (what verify_row would otherwise test): `ip` points at a
    captured IPv4 header of exactly 20 bytes (version 4, ihl 5) whose 20
    bytes are also within the record's wire length as the record states it;
    not a fragment; the row's status is 0; `proto` TCP with `ln` = tot_len -
    20 (>= 20) the TCP length, or UDP with `ln` the UDP length field, 8 <=
    ln <= tot_len - 20 (the skb trimmed to it: __udp4_lib_rcv); `l4cap` the
    bytes captured from ip + 20.  Under these the IPv4 header is OK or BAD
    (never TRUNCATED/UNCHECKED) and the L4 sum OK / BAD / PARTIAL /
    TRUNCATED, or for UDP ZERO (a 0 field: no checksum, udp4_csum_init).

    Both sums are taken in HOST byte order (csum_verifies: the same verdict
    as in network order); the pseudo-header is the address words loaded
    whole plus _native_word(proto + length).
    """
    cdef uint32_t sa = _ld32(ip + 12), da = _ld32(ip + 16)
    cdef uint64_t s = (<uint64_t>_ld32(ip) + _ld32(ip + 4) + _ld32(ip + 8)) + sa + da
    cdef uint64_t pseudo0
    cdef uint8_t l4cs
    if not csum_verifies(s):
        ip_csum[0] = CS_BAD
        if _ip_csum_preempts(status[0]):
            status[0] = DR_IP_CSUM
        cnt[K_IP_BAD] += 1
        l4_csum[0] = CS_UNCHECKED       # the kernel never gets to L4
        cnt[K_L4_UNCHECKED] += 1
        return
    ip_csum[0] = CS_OK
    cnt[K_IP_OK] += 1
    if ln > l4cap:
        l4cs = CS_TRUNCATED
    elif proto == IPPROTO_UDP and _ld16(ip + 26) == 0:
        l4cs = CS_ZERO
    else:
        s = (<uint64_t>sa + da + _native_word(proto + ln)) + _csum_native(ip + 20, ln)
        if csum_verifies(s):
            l4cs = CS_OK
        else:
            pseudo0 = pseudo_v4(ip + 12, ip + 16, proto, 0)
            l4cs = _l4_mismatch(proto, _be16(ip + (36 if proto == IPPROTO_TCP else 26)),
                                pseudo0 + ln, pseudo0)
    l4_csum[0] = l4cs
    _count_l4(l4cs, proto, cnt)


cdef inline void verify_v6_tcp(const uint8_t* ip6, uint32_t ln, uint32_t l4cap,
                               uint8_t* ip_csum, uint8_t* l4_csum, int64_t* cnt) noexcept nogil:
    """verify_row specialised for the parser's fast-path IPv6 rows (parse.pyx
    fast_v6_tcp), with the same results and counts.

    Preconditions: `ip6` points at a captured 40-byte IPv6 header whose next
    header is TCP; not a fragment; the row's status is 0; `ln` =
    payload_len (>= 20) is the TCP length and `l4cap` the bytes captured
    from ip6 + 40.  No IPv4 header: ip_csum UNCHECKED, not counted; the TCP
    sum OK / BAD / PARTIAL / TRUNCATED.  Host-order sums as in
    verify_v4_fast: the pseudo-header (RFC 8200 8.1) is the eight address
    words loaded whole plus _native_word(proto + length).
    """
    cdef uint64_t s, pseudo0
    cdef uint8_t l4cs
    ip_csum[0] = CS_UNCHECKED
    if ln > l4cap:
        l4cs = CS_TRUNCATED
    else:
        s = ((<uint64_t>_ld32(ip6 + 8) + _ld32(ip6 + 12) + _ld32(ip6 + 16) + _ld32(ip6 + 20))
             + (<uint64_t>_ld32(ip6 + 24) + _ld32(ip6 + 28) + _ld32(ip6 + 32) + _ld32(ip6 + 36))
             + _native_word(IPPROTO_TCP + ln) + _csum_native(ip6 + 40, ln))
        if csum_verifies(s):
            l4cs = CS_OK
        else:
            pseudo0 = pseudo_v6(ip6 + 8, ip6 + 24, IPPROTO_TCP, 0)
            l4cs = _l4_mismatch(IPPROTO_TCP, _be16(ip6 + 56),
                                pseudo0 + (ln >> 16) + (ln & 0xffffu), pseudo0)
    l4_csum[0] = l4cs
    _count_l4(l4cs, IPPROTO_TCP, cnt)
