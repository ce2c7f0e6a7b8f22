# cython: language_level=3
"""Internet checksums: RFC 1071 sums, pseudo-headers, RFC 1624 updates, and
the per-batch verification that fills PacketColumns.ip_csum / l4_csum.

Kernel code this mirrors
------------------------
* ``lib/checksum.c`` / ``arch/x86/lib/csum-partial_64.c`` ``csum_partial()``:
  the ones-complement sum over a buffer (here: 32-bit words added into
  64-bit accumulators, so no add-with-carry is needed; an AVX2 kernel when
  the CPU has one, a portable loop otherwise: the same 64-bit result; see
  ``checksum.pxd``) and ``csum_fold()`` (here split into ``csum_fold``,
  no complement, and ``csum_finish``, complemented).
* ``include/net/checksum.h`` ``csum_replace2()`` / ``csum_replace4()`` and
  ``net/core/utils.c`` ``inet_proto_csum_replace16()``: RFC 1624 eqn. 3
  incremental updates, as NAT (``nf_nat_ipv4_csum_update``) does them.
* ``net/ipv4/ip_input.c`` ``ip_rcv_core()``: ``ip_fast_csum(iph, ihl)`` after
  the version/ihl/pull checks and before the tot_len checks; a failure is
  ``IP_CSUM`` (``verify_batch`` applies that ordering to cols.status).
* ``include/net/ip.h``/``ip6_checksum.h`` ``csum_tcpudp_magic()`` /
  ``csum_ipv6_magic()``: the pseudo-headers, and ``__udp4_lib_rcv`` /
  ``__udp6_lib_rcv``: UDP is checksummed over the UDP length field's bytes
  (the skb is trimmed to ``ulen``), a zero UDP checksum means "none" over
  IPv4 (``udp4_csum_init``) and is an error over IPv6 (``udp6_csum_init``,
  RFC 8200 8.1; the per-socket ``UDP_NO_CHECK6_RX`` exception is not modelled).
* ``net/ipv4/icmp.c`` ``icmp_rcv()`` / ``icmpv6_rcv()``: the checksum is
  validated before the 8-byte header pull, so short ICMP messages are
  classified too.
* TX checksum offload as a capture shows it: ``__tcp_v4_send_check()`` /
  ``udp4_hwcsum()`` leave ``~csum_tcpudp_magic(..., 0)`` -- the folded
  pseudo-header sum -- in the field for the NIC to finish; verify_batch
  reports such fields as PARTIAL rather than BAD.

What is NOT modelled
--------------------
* ``skb->ip_summed`` device states: CHECKSUM_UNNECESSARY (the NIC vouched for
  the packet; the kernel then checks nothing), CHECKSUM_COMPLETE (the NIC
  summed the frame; the kernel only adds the pseudo-header) and the
  ``CHECKSUM_BREAK`` (76 bytes) split between early and late TCP
  verification.  A pcap replay is CHECKSUM_NONE: every sum is computed from
  the bytes, and the net verdict (good/bad) is what all paths converge to.
  Whether a bad L4 sum is an error at all is decided by
  ``pystack.checksums.ChecksumPolicy`` (captures of TX-offloading hosts hold
  unfinished sums), so ``verify_batch`` never sets TCP_CSUM/UDP_CSUM/
  ICMP_CSUM drop reasons: it only classifies and counts.
* The IPv6 routing-header rule (pseudo-header destination = final
  destination): the parser's daddr (the IPv6 header's) is used.  An IPv6
  extension chain cut by caplen leaves the L4 protocol unknown: UNCHECKED.
* Checksums of reassembled fragments (rows with PF_FRAG stay UNCHECKED) and
  of ICMP-error inner headers.

Python API convention: checksum values are ints holding the 16-bit field as
it reads on the wire, big-endian (bytes ``b8 61`` -> ``0xb861``).
"""
import ipaddress

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t

from pystack._core.capture cimport RecordBatch
from pystack._core.parse cimport PacketColumns
# verify_row, the CS_*/DR_* names and IPPROTO_* come from checksum.pxd.

# ---------------------------------------------------------------------------
# Python API
# ---------------------------------------------------------------------------

cdef const uint8_t[::1] _view(object data):
    """A contiguous byte view of bytes/bytearray/memoryview/ndarray."""
    if isinstance(data, memoryview) and (data.ndim != 1 or data.itemsize != 1):
        data = data.cast("B") if data.c_contiguous else data.tobytes()
    return data


cdef uint64_t _sum_view(const uint8_t[::1] v, uint64_t acc):
    cdef Py_ssize_t n = v.shape[0]
    if n == 0:
        return acc
    if n >= 65536:
        with nogil:
            acc = csum_partial(&v[0], <size_t>n, acc)
        return acc
    return csum_partial(&v[0], <size_t>n, acc)


def ones_complement_sum(data, initial=0):
    """Folded 16-bit ones-complement sum of `data` (RFC 1071), no complement.

    `data` is bytes-like and summed as big-endian 16-bit words, an odd last
    byte padded with a zero byte.  `initial` (int >= 0) is added first, e.g.
    a previous sum (chaining is exact when the previous data had even length).
    The result is 0 only when everything summed is zero; a sum that is zero
    modulo 0xffff over non-zero data is 0xffff.
    """
    return csum_fold(_sum_view(_view(data), _initial(initial)))


def internet_checksum(data, initial=0):
    """The Internet checksum of `data`: ~ones_complement_sum(data, initial).

    Over a region that already contains its correct checksum the result is 0.
    """
    return csum_finish(_sum_view(_view(data), _initial(initial)))


cdef uint64_t _initial(object initial) except? 0xffffffffffffffff:
    if initial < 0:
        raise ValueError("initial must be >= 0")
    # Reduce arbitrarily large ints modulo 0xffff (keeps the ones-complement
    # class; 0xffff itself stays 0xffff so a "-0" initial is preserved).
    if initial > 0xffffffffffff:
        initial = initial % 0xffff or 0xffff
    return <uint64_t>initial


def ipv4_header_checksum(header):
    """Checksum field value for an IPv4 header (its own field taken as zero).

    `header` starts with the IPv4 header; ihl*4 bytes are summed (trailing
    bytes, e.g. the payload, are ignored).
    """
    cdef const uint8_t[::1] v = _view(header)
    cdef size_t ihl = _ipv4_ihl(v)
    cdef uint64_t s = csum_partial(&v[0], ihl, 0)
    # Remove the stored field: adding its complement subtracts it.
    s += <uint16_t>~((<uint16_t>v[10] << 8) | v[11])
    return csum_finish(s)


def verify_ipv4_header(header):
    """True when the IPv4 header's checksum is correct (ip_fast_csum() == 0)."""
    cdef const uint8_t[::1] v = _view(header)
    cdef size_t ihl = _ipv4_ihl(v)
    return csum_fold(csum_partial(&v[0], ihl, 0)) == 0xffff


cdef size_t _ipv4_ihl(const uint8_t[::1] v) except 0:
    if v.shape[0] < 20:
        raise ValueError("an IPv4 header is at least 20 bytes")
    cdef size_t ihl = (v[0] & 15) * 4
    if ihl < 20:
        raise ValueError(f"bad IPv4 ihl {ihl // 4}")
    if <size_t>v.shape[0] < ihl:
        raise ValueError(f"header truncated: ihl says {ihl} bytes, got {v.shape[0]}")
    return ihl


cdef bytes _addr(object a):
    if isinstance(a, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return a.packed
    if isinstance(a, str):
        return ipaddress.ip_address(a).packed
    b = bytes(a)
    if len(b) not in (4, 16):
        raise ValueError(f"an address is 4 or 16 bytes, got {len(b)}")
    return b


cdef uint64_t _pseudo(object src, object dst, uint8_t proto, size_t length) except? 0xffffffffffffffff:
    cdef bytes s = _addr(src), d = _addr(dst)
    if len(s) != len(d):
        raise ValueError("source and destination addresses of different families")
    if length > 0xffffffff:
        raise ValueError("segment too long")
    cdef const uint8_t* sp = <const uint8_t*><const char*>s
    cdef const uint8_t* dp = <const uint8_t*><const char*>d
    if len(s) == 4:
        # > 65535 is allowed: BIG TCP GSO packets (tot_len 0) in captures;
        # the 32-bit length is summed as two 16-bit words, as the kernel does.
        return pseudo_v4(sp, dp, proto, <uint32_t>length)
    return pseudo_v6(sp, dp, proto, <uint32_t>length)


cdef uint16_t _l4_sum(object src, object dst, uint8_t proto, object data,
                      size_t field_off, bint pseudo) except? 0:
    """~(pseudo + data with the 16-bit word at field_off taken as zero)."""
    cdef const uint8_t[::1] v = _view(data)
    cdef size_t n = v.shape[0]
    if n < field_off + 2:
        raise ValueError(f"need at least {field_off + 2} bytes, got {n}")
    cdef uint64_t s = _pseudo(src, dst, proto, n) if pseudo else 0
    s = csum_partial(&v[0], n, s)
    s += <uint16_t>~((<uint16_t>v[field_off] << 8) | v[field_off + 1])
    return csum_finish(s)


def tcp_checksum(src, dst, segment):
    """TCP checksum field value for `segment` (TCP header + payload) sent
    from `src` to `dst`.

    Addresses: 4-byte or 16-byte bytes-likes, ipaddress objects or strings;
    both of one family, which selects the IPv4 or IPv6 pseudo-header.  The
    checksum field inside `segment` (offset 16) is taken as zero.
    """
    return _l4_sum(src, dst, IPPROTO_TCP, segment, 16, True)


def udp_checksum(src, dst, datagram):
    """UDP checksum field value for `datagram` (UDP header + payload).

    As tcp_checksum (field at offset 6 taken as zero).  The whole `datagram`
    is summed and its length used in the pseudo-header (callers pass exactly
    the UDP length field's bytes).  A computed 0 is returned as 0xffff (RFC
    768, RFC 8200 8.1), since 0 in the field means "no checksum".
    """
    cdef uint16_t c = _l4_sum(src, dst, IPPROTO_UDP, datagram, 6, True)
    return 0xffff if c == 0 else c


def icmp_checksum(message):
    """ICMP (IPv4) checksum field value: over the message only, no
    pseudo-header; the field at offset 2 is taken as zero."""
    return _l4_sum(None, None, IPPROTO_ICMP, message, 2, False)


def icmpv6_checksum(src, dst, message):
    """ICMPv6 checksum field value (RFC 4443 2.3: IPv6 pseudo-header, next
    header 58); the field at offset 2 is taken as zero.  16-byte addresses."""
    if len(_addr(src)) != 16 or len(_addr(dst)) != 16:
        raise ValueError("ICMPv6 needs IPv6 addresses")
    return _l4_sum(src, dst, IPPROTO_ICMPV6, message, 2, True)


def incremental_update(checksum, old, new, *, size=None, udp=False):
    """New checksum field value after a field changes from `old` to `new`
    (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).

    `old`/`new`: ints (a 16-bit field, or 32-bit when either exceeds 0xffff
    or size=4), or bytes-likes / ipaddress objects of one even length (2, 4,
    16: an IPv6 address).  The field must start at an even offset of the
    checksummed region; an 8-bit field (TTL) is updated as the 16-bit word
    that holds it (TTL+protocol).  Address changes also change TCP/UDP
    pseudo-headers: apply the same call to the L4 checksum.

    udp=True applies UDP's rules: a 0 field (no checksum, IPv4) stays 0 and a
    result of 0 becomes 0xffff (the kernel's CSUM_MANGLED_0).
    """
    cdef uint16_t hc = checksum
    if udp and hc == 0:
        return 0
    if isinstance(old, int) and isinstance(new, int):
        if size is None:
            size = 2 if (old <= 0xffff and new <= 0xffff) else 4
        old = int(old).to_bytes(size, "big")
        new = int(new).to_bytes(size, "big")
    if isinstance(old, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        old = old.packed
    if isinstance(new, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        new = new.packed
    cdef const uint8_t[::1] o = _view(old)
    cdef const uint8_t[::1] w = _view(new)
    cdef size_t n = o.shape[0]
    if n != <size_t>w.shape[0] or n == 0 or n & 1:
        raise ValueError("old and new must have one even, non-zero length")
    cdef uint16_t r
    if n == 2:
        r = csum_replace2(hc, (<uint16_t>o[0] << 8) | o[1], (<uint16_t>w[0] << 8) | w[1])
    elif n == 4:
        r = csum_replace4(hc, (<uint32_t>o[0] << 24) | (<uint32_t>o[1] << 16) | (<uint32_t>o[2] << 8) | o[3],
                          (<uint32_t>w[0] << 24) | (<uint32_t>w[1] << 16) | (<uint32_t>w[2] << 8) | w[3])
    else:
        r = csum_replace_bytes(hc, &o[0], &w[0], n)
    if udp and r == 0:
        r = 0xffff
    return r


def _native_kernels(data):
    """Tests only: the raw 64-bit host-order sums of `data` by each kernel,
    {"dispatch": ..., "portable": ..., "avx2": ... or None without AVX2};
    all present ones must be equal (not only congruent)."""
    cdef const uint8_t[::1] v = _view(data)
    cdef size_t n = v.shape[0]
    cdef const uint8_t* p = &v[0] if n else <const uint8_t*>b""
    out = {"dispatch": _csum_native(p, n), "portable": _csum_native_portable(p, n),
           "avx2": None}
    if PS_HAVE_AVX2():
        out["avx2"] = (_csum_native_short(p, n) if n < 64 else
                       ps_csum_avx2(p, n) + _csum_native_short(p + (n & ~(<size_t>63)), n & 63))
    return out


def _verifies(uint64_t s):
    """Tests only: csum_verifies(s)."""
    return csum_verifies(s)


def simd_kernel():
    """The long-buffer checksum kernel this CPU runs: "avx2" or "portable"."""
    return "avx2" if PS_HAVE_AVX2() else "portable"


def _bench_partial(data, Py_ssize_t size, Py_ssize_t iters, Py_ssize_t stride=0):
    """Benchmark helper: csum_partial over `size`-byte slices of `data`,
    `iters` times (nogil).  stride 0: always the same slice (cache-hot);
    otherwise consecutive slices `stride` bytes apart, wrapping around.
    Returns (seconds, checksum of the last slice) -- the sum is returned so
    the compiler cannot drop the loop."""
    import time
    cdef const uint8_t[::1] v = _view(data)
    cdef Py_ssize_t total = v.shape[0], pos = 0, k
    cdef uint64_t sink = 0
    if size <= 0 or size > total:
        raise ValueError("bad size")
    t0 = time.perf_counter()
    with nogil:
        for k in range(iters):
            sink += csum_partial(&v[pos], <size_t>size, 0)
            if stride:
                pos += stride
                if pos + size > total:
                    pos = 0
    t1 = time.perf_counter()
    return t1 - t0, csum_fold(sink)


# ---------------------------------------------------------------------------
# Batch verification
# ---------------------------------------------------------------------------

_COUNT_NAMES = (
    "ip_ok", "ip_bad", "ip_truncated",
    "l4_ok", "l4_bad", "l4_zero", "l4_partial", "l4_truncated", "l4_unchecked",
    "tcp_bad", "udp_bad", "icmp_bad", "icmp6_bad",
    "tcp_partial", "udp_partial",
)


def verify_batch(RecordBatch rb not None, PacketColumns cols not None):
    """Fill cols.ip_csum and cols.l4_csum for rows [0, cols.n) (CS_* codes).

    IPv4 header: OK / BAD / TRUNCATED (header not fully captured) /
    UNCHECKED (no IPv4, bad version/ihl, header longer than the packet).  A
    BAD header checksum sets cols.status to IP_CSUM when the status was 0,
    PKT_TOO_SMALL, IP_INHDR or NOT_SPECIFIED (for such a row those come from
    checks the kernel makes after ip_rcv_core's checksum; see
    _ip_csum_preempts).

    TCP / UDP / ICMP (IPv4) / ICMPv6 (IPv6), rows whose status is 0 (or
    NOT_SPECIFIED for a 4..7-byte ICMP message: icmp_rcv checks the sum
    before the header pull) and that are not fragments:
      OK; BAD; ZERO (UDP over IPv4 with field 0: no checksum); PARTIAL (the
      field holds the folded pseudo-header sum, with or without the length,
      or its complement: an unfinished TX-offload sum); TRUNCATED (caplen
      does not cover the bytes the checksum spans: never verified);
      UNCHECKED otherwise.  UDP over IPv6 with field 0 is BAD.
    The span is the L4 length per the IP header (cols.l4_len; Ethernet
    padding excluded), for UDP the UDP length field when it is within that.

    No L4 drop reason is set: whether a bad L4 checksum drops the packet is
    the stack model's decision under the checksum policy.  Returns counts:
    ip_ok, ip_bad, ip_truncated, l4_ok, l4_bad, l4_zero, l4_partial,
    l4_truncated, l4_unchecked, tcp_bad, udp_bad, icmp_bad, icmp6_bad,
    tcp_partial, udp_partial.
    """
    cdef Py_ssize_t n = cols.n, i
    if n > rb.n:
        raise ValueError(f"cols has {n} rows but the batch only {rb.n}")
    cdef int64_t cnt[K__N]
    cdef int k
    for k in range(K__N):
        cnt[k] = 0
    cdef const uint8_t* p
    cdef uint32_t cap
    with nogil:
        for i in range(n):
            cap = rb.caplen[i]
            if rb.base == NULL or rb.offset[i] < 0 or rb.offset[i] + cap > rb.base_len:
                # Defence in depth (the reader guarantees this): no bytes.
                cols.ip_csum[i] = CS_UNCHECKED
                cols.l4_csum[i] = CS_UNCHECKED
                cnt[K_L4_UNCHECKED] += 1
                continue
            p = rb.base + rb.offset[i]
            verify_row(p, cap, rb.wirelen[i], cols.flags[i], cols.ip_ver[i], cols.ip_proto[i],
                       cols.l3_off[i], cols.l4_off[i], cols.l4_len[i],
                       cols.saddr + 16 * i, cols.daddr + 16 * i,
                       &cols.status[i], &cols.ip_csum[i], &cols.l4_csum[i], cnt)
    return {name: cnt[k] for k, name in enumerate(_COUNT_NAMES)}


def batch_counts(PacketColumns cols not None):
    """The counts verify_batch would return, for columns that
    parse_batch(rb, cols, verify_checksums=True) already verified."""
    if not cols.csum_verified:
        raise ValueError("these columns were not checksum-verified by parse_batch")
    return {name: int(cols.csum_counts[k]) for k, name in enumerate(_COUNT_NAMES)}
