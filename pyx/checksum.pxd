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


cdef inline uint16_t csum_finish(uint64_t s) noexcept nogil:
    """The checksum field value for a sum: ~fold (the kernel's csum_fold)."""
    return <uint16_t>(~csum_fold(s))


cdef inline uint64_t _csum_native(const uint8_t* p, size_t n) noexcept nogil:
    # Sum of 16-bit words in HOST order (RFC 1071 2(B): byte-order
    # independence; the caller swaps the folded result once).  Each 64-bit
    # word w = hi*2^32 + lo is congruent to hi + lo modulo 0xffff, so adding
    # the two 32-bit halves into 64-bit accumulators never loses a carry
    # (2^32 words of headroom) and needs no add-with-carry, which C cannot
    # express; four independent accumulators break the dependency chain and
    # the counted loop lets gcc vectorise it (SSE2: pand/psrlq/paddq).
    cdef uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, w0, w1, w2, w3
    cdef size_t i, blocks = n >> 5
    for i in range(blocks):
        w0 = _ld64(p + 32 * i)
        w1 = _ld64(p + 32 * i + 8)
        w2 = _ld64(p + 32 * i + 16)
        w3 = _ld64(p + 32 * i + 24)
        a0 += (w0 & 0xffffffffu) + (w0 >> 32)
        a1 += (w1 & 0xffffffffu) + (w1 >> 32)
        a2 += (w2 & 0xffffffffu) + (w2 >> 32)
        a3 += (w3 & 0xffffffffu) + (w3 >> 32)
    p += blocks << 5
    n &= 31
    while n >= 8:
        w0 = _ld64(p)
        a0 += (w0 & 0xffffffffu) + (w0 >> 32)
        p += 8
        n -= 8
    if n & 4:
        a1 += _ld32(p)
        p += 4
    if n & 2:
        a2 += _ld16(p)
        p += 2
    if n & 1:
        # The odd last byte is the high-order byte of a word padded with a
        # zero byte (RFC 1071): its first-in-memory position, i.e. the low
        # half of a host-order word on little-endian.
        if _host_le():
            a3 += p[0]
        else:
            a3 += (<uint64_t>p[0]) << 8
    return a0 + a1 + a2 + a3


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
