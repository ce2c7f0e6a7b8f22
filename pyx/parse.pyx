# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Packet parsing: link, IPv4/IPv6, TCP/UDP/ICMP headers into PacketColumns.

parse_batch(rb, cols) fills one PacketColumns row per record of a RecordBatch in
a single nogil loop (no Python object is touched per packet).  A pcap is
hostile input: every read is preceded by a length check against the captured
bytes; every *decision* (a drop status) is taken on the wire length, i.e. on
what the kernel's skb->len would have been.  Two levels, as in smoltcp/gVisor:
one length check per header, then unchecked big-endian accessors (rd16/rd32).

Kernel functions whose checks the status column models (Linux 6.18; sources
read in 6.12/7.3 and torvalds/linux, see /work/shared/linux-semantics.md):

* net/ipv4/ip_input.c: ip_rcv_core (sheet §1.1), in its order:
  skb->len < 20 -> IP_INHDR; version != 4 || ihl < 5 -> IP_INHDR;
  cannot pull ihl*4 -> IP_INHDR; [header checksum -> IP_CSUM: NOT here, the
  checksum stage sets it]; skb->len < tot_len -> PKT_TOO_SMALL;
  tot_len < ihl*4 -> IP_INHDR; then the skb is trimmed to tot_len (Ethernet
  padding dropped): L4 sees min(tot_len, wire bytes).  iph_totlen(): tot_len 0
  on a > 64 KiB packet is a BIG TCP GSO packet (as tcpdump on lo records it)
  and its length is skb->len.
* net/ipv6/ip6_input.c: ip6_rcv_core: cannot pull 40 bytes -> IP_INHDR
  (reason NOT_SPECIFIED OR-ed into IP_INHDR at `err:`); version != 6 ->
  UNHANDLED_PROTO (SKB_DR_SET(reason, UNHANDLED_PROTO), since 5.18; NOT
  IP_INHDR); loopback saddr/daddr on a non-loopback device, interface-local
  (scope 1) multicast daddr on a non-loopback device, scope-0 multicast daddr,
  multicast saddr -> IP_INHDR; payload_len + 40 > skb->len -> PKT_TOO_SMALL
  (skipped when payload_len == 0 and nexthdr == hop-by-hop: jumbogram).
  ipv6_hop_jumbo (net/ipv6/exthdrs.c): option length != 4, misaligned,
  value <= 65535 or payload_len != 0 -> IP_INHDR; value > skb->len - 40 ->
  PKT_TOO_SMALL.
* IPv6 extension headers (net/ipv6/exthdrs.c ipv6_parse_hopopts,
  ipv6_destopt_rcv, ipv6_rthdr_rcv; reassembly.c ipv6_frag_rcv; xfrm6 AH):
  a header that does not fit in the datagram (cannot pull 8 bytes, or
  (hdrlen+1)*8, AH (hdrlen+2)*4) -> IPV6_BAD_EXTHDR, counted Ip6InHdrErrors.
  NB the kernel frees these with a plain kfree_skb (`fail_and_free:` in
  ipv6_destopt_rcv / ipv6_parse_hopopts), so its tracepoint would say
  NOT_SPECIFIED; IPV6_BAD_EXTHDR is the named reason the kernel uses for the
  same failure in icmpv6_notify (ipv6_skip_exthdr < 0), chosen here so the
  drop is told apart.  Hop-by-hop is an extension header only right after
  the fixed header (anywhere else: upper protocol 0, IP_NOPROTO later);
  ESP (50), mobility (135) and no-next-header (59) end the chain.
* net/ipv4/tcp_ipv4.c: tcp_v4_rcv entry (sheet §1.4; tcp_v6_rcv identical):
  fewer than 20 bytes -> NOT_SPECIFIED (discard_it, before the doff check, no
  counter); doff < 5 -> PKT_TOO_SMALL (bad_packet: TcpInErrs); cannot pull
  doff*4 -> NOT_SPECIFIED (discard_it).
* net/ipv4/udp.c: __udp4_lib_rcv: cannot pull 8 bytes -> NOT_SPECIFIED
  (`goto drop`, UdpInErrors); ulen > skb->len or ulen < 8 -> PKT_TOO_SMALL
  (short_packet).  net/ipv6/udp.c __udp6_lib_rcv: same, but ulen == 0 means
  "jumbo": ulen = skb->len.
* net/ipv4/icmp.c icmp_rcv / net/ipv6/icmp.c icmpv6_rcv: cannot pull the
  8-byte header -> NOT_SPECIFIED (IcmpInErrors).  NB the kernel validates the
  ICMP checksum *before* that pull; the checksum stage may override.
* Link layer (no kernel function: libpcap's link types): EN10MB with up to
  two 802.1Q/802.1ad/0x9100 tags (also followed after SLL/SLL2; a third tag
  is just a non-IP ethertype); LINUX_SLL (pkt_type bytes 0-1, ARPHRD at 2-3,
  protocol 14-15); LINUX_SLL2 (protocol 0-1, ARPHRD 8-9, pkt_type 10); RAW
  (101, and DLT 12/14): version nibble; IPV4 (228) / IPV6 (229); NULL (0):
  AF in the capturing host's order, both accepted (2 IPv4, 24/28/30 IPv6);
  LOOP (108): AF in network order.  Other AF / version: PF_NOT_IP,
  ethertype 0.  NULL, LOOP and SLL with ARPHRD_LOOPBACK count as a loopback
  device for the IPv6 address checks.  A record with caplen > wirelen is
  taken as wirelen = caplen.
* Link layer: a frame shorter than its link header (Ethernet 14, +4 per VLAN
  tag, SLL 16, SLL2 20, NULL/LOOP 4, raw 1) -> HDR_TRUNC + PF_BAD_LINK (the
  driver / eth_type_trans path cannot pull it).  Unknown link type ->
  UNHANDLED_PROTO + PF_BAD_LINK.  Non-IP ethertype -> PF_NOT_IP, status 0.

L4 status checks are skipped for IP fragments (PF_FRAG): the kernel applies
them after reassembly.  Non-first fragments (PF_FRAG_LATER) get no L4 parse.

Truncated captures (caplen < wirelen, PF_TRUNCATED): decisions above use the
wire length; reads use the captured bytes.  If the fixed IP header (20/40
bytes) itself is not captured the packet cannot be modelled: status HDR_TRUNC
with PF_TRUNCATED set ("our pull failed", a capture artefact, not a kernel
drop; without PF_TRUNCATED HDR_TRUNC means the frame itself was short).  An
L4 header (or IPv6 extension chain, or IPv4 options) cut by caplen gives
PF_L4_PARTIAL, status 0, fields filled as far as the bytes go.

Column conventions: every column of every row is rewritten on each call.
l3_off is the link header length; l4_off / pay_off are 0 when unknown (never
a valid value) and are wire offsets: they may exceed caplen on a truncated
record, so a reader checks caplen before touching bytes.  vlan0/vlan1 are
0xffff without a tag.  pkt_type: SLL/SLL2 give it; Ethernet derives it from
the destination MAC like eth_type_trans (broadcast/multicast, else HOST: the
device MAC is not known here); other link types: HOST; bad link: UNKNOWN.
ip_ver is the version nibble read (0 if none).  ICMP/ICMPv6 echo
request/reply (and ICMP timestamp/info): identifier in sport, sequence in
dport.  For the ICMP error inner header (PF_ICMP_INNER) in_sport/in_dport are
ports for TCP/UDP/UDP-Lite/SCTP/DCCP and id/seq for an inner echo, else 0.
ip_frag (both families) = offset in 8-byte units | 0x2000 MF | 0x4000 DF
(IPv4: the raw 16-bit field, reserved bit included).  TCP options follow
tcp_parse_options (net/ipv4/tcp_input.c): a known option with a wrong length
is ignored; len < 2 or past the header end sets PF_TCP_OPTBAD and stops;
wscale is stored as sent (the kernel clamps > 14 on use); the last SACK
option wins, up to 4 blocks.  ip_csum / l4_csum are set to CS_UNCHECKED.

payload_len / pay_off: TCP l4_len - doff*4 after the header, UDP ulen - 8,
ICMP l4_len - 8; for a non-first fragment, an unparsed protocol (GRE, ESP,
ICMP in the wrong IP family, ...) the whole L4 part: pay_off = l4_off.

Speed: one nogil loop per batch; the column pointers are copied into a C
struct once per batch.  The common cases (Ethernet, optionally one VLAN tag /
IPv4 without options, not a fragment, TCP with any option list or UDP; or
IPv6 without extension headers, TCP / headers captured whole, every length
check passed) take the fast path: fast_rows runs fast_eth_row over
consecutive rows (a function of its own, reached through a pointer so that
gcc keeps it out of parse_batch and its loop gets the registers), writing
each column at most once with plain stores: the ~20 columns whose value is
the same on every fast-path row (status 0, ethertype, ip_ver, the ICMP and
inner-header columns, absent TCP options, ...) are prefilled for the whole
batch by prefill_fast and not stored per row; the options go through
tcp_parse_opts, the same decoder parse_l4 uses, except for two layouts
decoded inline (MSS alone; NOP NOP TS).  With verify_checksums these rows
are classified by checksum.verify_v4_fast / verify_v6_tcp, verify_row
specialised for them (same verdicts and counts;
tests/checksum/test_fused_verify.py).  Everything else takes
parse_one (+ verify_row), which writes columns directly and resets at the
end only the column groups its path did not write (the `written` mask), so
nothing stale survives from the previous batch: both paths write every
column of every row on every call, so no state about what a previous batch
left in the columns is kept (later stages may write the columns too).  A
test compares both paths (_use_fast_path(False)).  The first bytes of the
packet 8 records ahead are prefetched.  A row is 188 bytes of columns: keep
batches <= 16384 rows (8192 is the sweet spot) so the columns stay in L2/L3
for the stages that follow; 65536-row batches measured about twice as slow
per packet on a 2 MiB-L2 machine.

Not modelled here: IPv4 option validity (ip_options_compile), IPv6 TLV option
validity (ip6_parse_tlv, except the jumbo option), routing/martian checks,
reassembly, TTL, PACKET_OTHERHOST (needs the device MAC), checksums.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int64_t

cnp.import_array()

# name, dtype, values per row.  The order is the documented column order.
COLUMN_SPEC = (
    ("status", np.uint8, 1), ("flags", np.uint32, 1), ("ethertype", np.uint16, 1),
    ("vlan0", np.uint16, 1), ("vlan1", np.uint16, 1), ("pkt_type", np.uint8, 1),
    ("l3_off", np.uint32, 1), ("l4_off", np.uint32, 1), ("pay_off", np.uint32, 1),
    ("ip_ver", np.uint8, 1), ("ip_proto", np.uint8, 1), ("ip_tos", np.uint8, 1),
    ("ip_ttl", np.uint8, 1), ("ip_id", np.uint32, 1), ("ip_frag", np.uint16, 1),
    ("ip_len", np.uint32, 1), ("saddr", np.uint8, 16), ("daddr", np.uint8, 16),
    ("saddr4", np.uint32, 1), ("daddr4", np.uint32, 1),
    ("l4_len", np.uint32, 1), ("payload_len", np.uint32, 1),
    ("sport", np.uint16, 1), ("dport", np.uint16, 1),
    ("tcp_seq", np.uint32, 1), ("tcp_ack", np.uint32, 1),
    ("tcp_flags", np.uint16, 1), ("tcp_win", np.uint16, 1), ("tcp_doff", np.uint8, 1),
    ("tcp_mss", np.uint16, 1), ("tcp_wscale", np.uint8, 1),
    ("tcp_tsval", np.uint32, 1), ("tcp_tsecr", np.uint32, 1),
    ("tcp_nsack", np.uint8, 1), ("tcp_sack", np.uint32, 8),
    ("icmp_type", np.uint8, 1), ("icmp_code", np.uint8, 1),
    ("in_proto", np.uint8, 1), ("in_saddr", np.uint8, 16), ("in_daddr", np.uint8, 16),
    ("in_sport", np.uint16, 1), ("in_dport", np.uint16, 1),
    ("ip_csum", np.uint8, 1), ("l4_csum", np.uint8, 1),
)


cdef void* _ptr(dict arrays, str name):
    return cnp.PyArray_DATA(arrays[name])


cdef class PacketColumns:
    """Parsed header fields of up to `capacity` packets (structure of arrays)."""

    def __cinit__(self, Py_ssize_t capacity=65536):
        self._alloc(capacity)

    cdef void _alloc(self, Py_ssize_t capacity) except *:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.n = 0
        self.arrays = {}
        for name, dtype, width in COLUMN_SPEC:
            shape = capacity if width == 1 else (capacity, width)
            self.arrays[name] = np.zeros(shape, dtype)
        a = self.arrays
        self.status = <uint8_t*>_ptr(a, "status")
        self.flags = <uint32_t*>_ptr(a, "flags")
        self.ethertype = <uint16_t*>_ptr(a, "ethertype")
        self.vlan0 = <uint16_t*>_ptr(a, "vlan0")
        self.vlan1 = <uint16_t*>_ptr(a, "vlan1")
        self.pkt_type = <uint8_t*>_ptr(a, "pkt_type")
        self.l3_off = <uint32_t*>_ptr(a, "l3_off")
        self.l4_off = <uint32_t*>_ptr(a, "l4_off")
        self.pay_off = <uint32_t*>_ptr(a, "pay_off")
        self.ip_ver = <uint8_t*>_ptr(a, "ip_ver")
        self.ip_proto = <uint8_t*>_ptr(a, "ip_proto")
        self.ip_tos = <uint8_t*>_ptr(a, "ip_tos")
        self.ip_ttl = <uint8_t*>_ptr(a, "ip_ttl")
        self.ip_id = <uint32_t*>_ptr(a, "ip_id")
        self.ip_frag = <uint16_t*>_ptr(a, "ip_frag")
        self.ip_len = <uint32_t*>_ptr(a, "ip_len")
        self.saddr = <uint8_t*>_ptr(a, "saddr")
        self.daddr = <uint8_t*>_ptr(a, "daddr")
        self.saddr4 = <uint32_t*>_ptr(a, "saddr4")
        self.daddr4 = <uint32_t*>_ptr(a, "daddr4")
        self.l4_len = <uint32_t*>_ptr(a, "l4_len")
        self.payload_len = <uint32_t*>_ptr(a, "payload_len")
        self.sport = <uint16_t*>_ptr(a, "sport")
        self.dport = <uint16_t*>_ptr(a, "dport")
        self.tcp_seq = <uint32_t*>_ptr(a, "tcp_seq")
        self.tcp_ack = <uint32_t*>_ptr(a, "tcp_ack")
        self.tcp_flags = <uint16_t*>_ptr(a, "tcp_flags")
        self.tcp_win = <uint16_t*>_ptr(a, "tcp_win")
        self.tcp_doff = <uint8_t*>_ptr(a, "tcp_doff")
        self.tcp_mss = <uint16_t*>_ptr(a, "tcp_mss")
        self.tcp_wscale = <uint8_t*>_ptr(a, "tcp_wscale")
        self.tcp_tsval = <uint32_t*>_ptr(a, "tcp_tsval")
        self.tcp_tsecr = <uint32_t*>_ptr(a, "tcp_tsecr")
        self.tcp_nsack = <uint8_t*>_ptr(a, "tcp_nsack")
        self.tcp_sack = <uint32_t*>_ptr(a, "tcp_sack")
        self.icmp_type = <uint8_t*>_ptr(a, "icmp_type")
        self.icmp_code = <uint8_t*>_ptr(a, "icmp_code")
        self.in_proto = <uint8_t*>_ptr(a, "in_proto")
        self.in_saddr = <uint8_t*>_ptr(a, "in_saddr")
        self.in_daddr = <uint8_t*>_ptr(a, "in_daddr")
        self.in_sport = <uint16_t*>_ptr(a, "in_sport")
        self.in_dport = <uint16_t*>_ptr(a, "in_dport")
        self.ip_csum = <uint8_t*>_ptr(a, "ip_csum")
        self.l4_csum = <uint8_t*>_ptr(a, "l4_csum")
        self.csum_verified = False
        self.csum_counts = np.zeros(16, np.int64)
        self.csum_cnt = <int64_t*>cnp.PyArray_DATA(self.csum_counts)

    def column(self, str name):
        """Valid rows of one column (a numpy view)."""
        return self.arrays[name][:self.n]

    def to_dict(self):
        return {name: arr[:self.n] for name, arr in self.arrays.items()}

    def __len__(self):
        return self.n


# ---------------------------------------------------------------------------
# The parser.
# ---------------------------------------------------------------------------

from libc.string cimport memset, memcpy
from libc.stdint cimport int64_t, uint64_t
from pystack._core.capture cimport RecordBatch
from pystack._core.checksum cimport verify_row, verify_v4_fast, verify_v6_tcp, K__N
from pystack._core.vocab cimport (
    DR_NOT_SPECIFIED, DR_PKT_TOO_SMALL, DR_IP_INHDR, DR_UNHANDLED_PROTO,
    DR_HDR_TRUNC, DR_IPV6_BAD_EXTHDR, CS_UNCHECKED,
)

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define PS_PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 3)
    #else
    #define PS_PREFETCH(p) ((void)0)
    #endif
    """
    void PS_PREFETCH(const void* p) noexcept nogil


cdef extern from *:
    """
    #include <string.h>
    #include <stdint.h>
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* dst[0:nbytes] = the 8-byte pattern `pat` (host order) repeated from
       dst on.  Plain 16-byte stores instead of libc memset: glibc's
       `rep stosb` costs one counted instruction per byte under valgrind,
       which hides every other cost of the batch (and gcc would turn a plain
       loop back into that memset call, hence the attribute). */
    #if defined(__GNUC__) && !defined(__clang__)
    __attribute__((optimize("no-tree-loop-distribute-patterns")))
    #endif
    static void ps_fill(void *dst, size_t nbytes, uint64_t pat)
    {
        uint8_t *d = (uint8_t *)dst;
        size_t i = 0;
    #if defined(__SSE2__)
        __m128i v = _mm_set1_epi64x((long long)pat);
        for (; i + 64 <= nbytes; i += 64) {
            _mm_storeu_si128((__m128i *)(d + i), v);
            _mm_storeu_si128((__m128i *)(d + i + 16), v);
            _mm_storeu_si128((__m128i *)(d + i + 32), v);
            _mm_storeu_si128((__m128i *)(d + i + 48), v);
        }
        for (; i + 16 <= nbytes; i += 16)
            _mm_storeu_si128((__m128i *)(d + i), v);
    #endif
        for (; i + 8 <= nbytes; i += 8)
            memcpy(d + i, &pat, 8);
        for (; i < nbytes; i++)
            d[i] = ((const uint8_t *)&pat)[i & 7];
    }
    """
    void ps_fill(void* dst, size_t nbytes, uint64_t pat) noexcept nogil

# Packets ahead whose first bytes are prefetched: records are laid out in
# file order, so large packets put each header on a new cache line.
cdef enum:
    PREFETCH_AHEAD = 8

# Link types (LINKTYPE_*, tcpdump.org/linktypes.html).
cdef enum:
    LT_NULL = 0
    LT_EN10MB = 1
    LT_RAW_12 = 12      # DLT_RAW on most BSDs
    LT_RAW_14 = 14      # DLT_RAW on OpenBSD
    LT_RAW = 101
    LT_LOOP = 108
    LT_LINUX_SLL = 113
    LT_IPV4 = 228
    LT_IPV6 = 229
    LT_LINUX_SLL2 = 276
    ARPHRD_LOOPBACK = 772

cdef enum:
    ETH_P_IP = 0x0800
    ETH_P_IPV6 = 0x86dd
    ETH_P_8021Q = 0x8100
    ETH_P_8021AD = 0x88a8
    ETH_P_QINQ1 = 0x9100


cdef struct Cols "ps_cols":      # C name fixed: ps_fast_tcp's prototype names it
    uint8_t*  status
    uint32_t* flags
    uint16_t* ethertype
    uint16_t* vlan0
    uint16_t* vlan1
    uint8_t*  pkt_type
    uint32_t* l3_off
    uint32_t* l4_off
    uint32_t* pay_off
    uint8_t*  ip_ver
    uint8_t*  ip_proto
    uint8_t*  ip_tos
    uint8_t*  ip_ttl
    uint32_t* ip_id
    uint16_t* ip_frag
    uint32_t* ip_len
    uint8_t*  saddr
    uint8_t*  daddr
    uint32_t* saddr4
    uint32_t* daddr4
    uint32_t* l4_len
    uint32_t* payload_len
    uint16_t* sport
    uint16_t* dport
    uint32_t* tcp_seq
    uint32_t* tcp_ack
    uint16_t* tcp_flags
    uint16_t* tcp_win
    uint8_t*  tcp_doff
    uint16_t* tcp_mss
    uint8_t*  tcp_wscale
    uint32_t* tcp_tsval
    uint32_t* tcp_tsecr
    uint8_t*  tcp_nsack
    uint32_t* tcp_sack
    uint8_t*  icmp_type
    uint8_t*  icmp_code
    uint8_t*  in_proto
    uint8_t*  in_saddr
    uint8_t*  in_daddr
    uint16_t* in_sport
    uint16_t* in_dport
    uint8_t*  ip_csum
    uint8_t*  l4_csum


# --- typed accessors: callers have checked the length -----------------------

cdef inline uint16_t rd16(const uint8_t* p) noexcept nogil:
    return <uint16_t>((<uint16_t>p[0] << 8) | p[1])


cdef inline uint32_t rd32(const uint8_t* p) noexcept nogil:
    return ((<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16)
            | (<uint32_t>p[2] << 8) | <uint32_t>p[3])


cdef inline void v4mapped(uint8_t* dst, const uint8_t* src) noexcept nogil:
    # ::ffff:a.b.c.d written as two 8-byte stores (no 16-byte memset + patch).
    cdef uint64_t hi = 0
    cdef uint8_t lo[8]
    lo[0] = 0
    lo[1] = 0
    lo[2] = 0xff
    lo[3] = 0xff
    memcpy(lo + 4, src, 4)
    memcpy(dst, &hi, 8)
    memcpy(dst + 8, lo, 8)


# --- per-row context -----------------------------------------------------------
#
# Columns are written directly (no row struct copied out): on the common path
# each column is stored exactly once.  Fields set in several places live in
# Ctx and are stored once at the end; column groups a path did not write are
# reset to their defaults there (the `written` mask), so nothing stale leaks
# from the previous batch and the common TCP path pays no double stores.

cdef enum:
    G_IP = 1        # ip_tos ip_ttl ip_id ip_frag ip_len saddr daddr saddr4 daddr4
    G_PORTS = 2     # sport dport
    G_TCP = 4       # tcp_seq tcp_ack tcp_flags tcp_win tcp_doff
    G_TCPOPT = 8    # tcp_mss tcp_wscale tcp_tsval tcp_tsecr tcp_nsack tcp_sack
    G_ICMP = 16     # icmp_type icmp_code
    G_INNER = 32    # in_proto in_saddr in_daddr in_sport in_dport


cdef struct Ctx:
    Cols* c
    Py_ssize_t i
    uint32_t flags
    uint32_t l4_off
    uint32_t l4_len
    uint32_t pay_off
    uint32_t payload_len
    uint32_t written
    uint8_t status
    uint8_t ip_ver
    uint8_t ip_proto


cdef inline void finish_row(Ctx* x) noexcept nogil:
    cdef Cols* c = x.c
    cdef Py_ssize_t i = x.i
    cdef uint32_t w = x.written
    c.status[i] = x.status
    c.flags[i] = x.flags
    c.ip_ver[i] = x.ip_ver
    c.ip_proto[i] = x.ip_proto
    c.l4_off[i] = x.l4_off
    c.l4_len[i] = x.l4_len
    c.pay_off[i] = x.pay_off
    c.payload_len[i] = x.payload_len
    c.ip_csum[i] = CS_UNCHECKED
    c.l4_csum[i] = CS_UNCHECKED
    if not (w & G_IP):
        c.ip_tos[i] = 0
        c.ip_ttl[i] = 0
        c.ip_id[i] = 0
        c.ip_frag[i] = 0
        c.ip_len[i] = 0
        memset(c.saddr + 16 * i, 0, 16)
        memset(c.daddr + 16 * i, 0, 16)
        c.saddr4[i] = 0
        c.daddr4[i] = 0
    if not (w & G_PORTS):
        c.sport[i] = 0
        c.dport[i] = 0
    if not (w & G_TCP):
        c.tcp_seq[i] = 0
        c.tcp_ack[i] = 0
        c.tcp_flags[i] = 0
        c.tcp_win[i] = 0
        c.tcp_doff[i] = 0
    if not (w & G_TCPOPT):
        tcpopt_defaults(c, i)
    if not (w & G_ICMP):
        c.icmp_type[i] = 0
        c.icmp_code[i] = 0
    if not (w & G_INNER):
        c.in_proto[i] = 0
        memset(c.in_saddr + 16 * i, 0, 16)
        memset(c.in_daddr + 16 * i, 0, 16)
        c.in_sport[i] = 0
        c.in_dport[i] = 0


cdef inline void tcpopt_defaults(Cols* c, Py_ssize_t i) noexcept nogil:
    c.tcp_mss[i] = 0
    c.tcp_wscale[i] = 0
    c.tcp_tsval[i] = 0
    c.tcp_tsecr[i] = 0
    c.tcp_nsack[i] = 0
    memset(c.tcp_sack + 8 * i, 0, 32)


cdef inline void group_defaults(Ctx* x, uint32_t g) noexcept nogil:
    """Reset the columns of group(s) g now (cold paths that set a group partly)."""
    cdef Cols* c = x.c
    cdef Py_ssize_t i = x.i
    g &= ~x.written
    if g & G_PORTS:
        c.sport[i] = 0
        c.dport[i] = 0
    if g & G_TCP:
        c.tcp_seq[i] = 0
        c.tcp_ack[i] = 0
        c.tcp_flags[i] = 0
        c.tcp_win[i] = 0
        c.tcp_doff[i] = 0
    if g & G_ICMP:
        c.icmp_type[i] = 0
        c.icmp_code[i] = 0
    x.written |= g


# --- TCP options (tcp_parse_options, net/ipv4/tcp_input.c) ------------------
#
# One parser for both paths: tcp_parse_opts reads an option list into a
# TcpOpts, tcpopt_store writes the six option columns once.  The fast path
# calls them directly, parse_l4 through tcp_options.

cdef struct TcpOpts:
    uint32_t flags          # PF_TCP_MSS / WSCALE / SACKOK / TS / OPTBAD found
    uint32_t tsval
    uint32_t tsecr
    const uint8_t* sack     # first block of the last valid SACK option
    uint16_t mss
    uint8_t wscale
    uint8_t nsack           # blocks in it (<= 4), 0: none


cdef inline void tcp_parse_opts(const uint8_t* opt, int64_t hdr_len, int64_t cap_len,
                                TcpOpts* o) noexcept nogil:
    """Options bytes opt[0:hdr_len] per the header, opt[0:cap_len] captured
    (a caller with the whole header captured passes cap_len = hdr_len)."""
    cdef int64_t i = 0, opsize, k
    cdef uint8_t opcode
    cdef const uint8_t* b
    o.flags = 0
    o.tsval = 0
    o.tsecr = 0
    o.sack = NULL
    o.mss = 0
    o.wscale = 0
    o.nsack = 0
    while i < hdr_len:
        if i >= cap_len:
            return                      # cut by caplen: PF_L4_PARTIAL already set
        opcode = opt[i]
        if opcode == 0:                 # EOL
            return
        if opcode == 1:                 # NOP
            i += 1
            continue
        if hdr_len - i < 2:             # no room for the length byte
            o.flags |= PF_TCP_OPTBAD
            return
        if i + 1 >= cap_len:
            return
        opsize = opt[i + 1]
        if opsize < 2 or opsize > hdr_len - i:   # "silly options" / partial option
            o.flags |= PF_TCP_OPTBAD
            return
        if i + opsize > cap_len:
            return
        b = opt + i
        if opcode == 2:
            if opsize == 4:
                o.mss = rd16(b + 2)
                o.flags |= PF_TCP_MSS
        elif opcode == 3:
            if opsize == 3:
                o.wscale = b[2]
                o.flags |= PF_TCP_WSCALE
        elif opcode == 4:
            if opsize == 2:
                o.flags |= PF_TCP_SACKOK
        elif opcode == 5:
            if opsize >= 10 and ((opsize - 2) & 7) == 0:
                k = (opsize - 2) >> 3
                o.nsack = <uint8_t>(k if k < 4 else 4)
                o.sack = b + 2
        elif opcode == 8:
            if opsize == 10:
                o.tsval = rd32(b + 2)
                o.tsecr = rd32(b + 6)
                o.flags |= PF_TCP_TS
        i += opsize


cdef inline void tcpopt_store(Cols* c, Py_ssize_t i, const TcpOpts* o) noexcept nogil:
    cdef uint32_t* sack = c.tcp_sack + 8 * i
    cdef int j
    c.tcp_mss[i] = o.mss
    c.tcp_wscale[i] = o.wscale
    c.tcp_tsval[i] = o.tsval
    c.tcp_tsecr[i] = o.tsecr
    c.tcp_nsack[i] = o.nsack
    if o.nsack == 0:
        memset(sack, 0, 32)
    else:
        for j in range(4):
            if j < o.nsack:
                sack[2 * j] = rd32(o.sack + 8 * j)
                sack[2 * j + 1] = rd32(o.sack + 8 * j + 4)
            else:
                sack[2 * j] = 0
                sack[2 * j + 1] = 0


cdef void tcp_options(const uint8_t* opt, int64_t hdr_len, int64_t cap_len,
                      Ctx* x) noexcept nogil:
    cdef TcpOpts o
    tcp_parse_opts(opt, hdr_len, cap_len, &o)
    tcpopt_store(x.c, x.i, &o)
    x.flags |= o.flags
    x.written |= G_TCPOPT


# --- L4 ----------------------------------------------------------------------

cdef inline bint ports_proto(uint8_t proto) noexcept nogil:
    # TCP, UDP, DCCP, SCTP, UDP-Lite: the first 4 bytes are the two ports.
    return proto == 6 or proto == 17 or proto == 33 or proto == 132 or proto == 136


cdef inline bint is_echo(uint8_t t, bint v6) noexcept nogil:
    if v6:
        return t == 128 or t == 129
    # echo reply/request, timestamp, information request/reply: id + seq
    return t == 0 or t == 8 or t == 13 or t == 14 or t == 15 or t == 16


cdef void icmp_inner(const uint8_t* q, int64_t avail, bint v6, Ctx* x) noexcept nogil:
    """Inner IP header + 8 bytes of an ICMP error: q[0:avail] captured."""
    cdef int64_t ihl4, off, hlen
    cdef uint8_t proto, t
    cdef uint16_t sp = 0, dp = 0
    cdef bint later = False
    cdef Cols* c = x.c
    cdef Py_ssize_t i = x.i
    if not v6:
        if avail < 20 or (q[0] >> 4) != 4:
            return
        ihl4 = (q[0] & 15) * 4
        if ihl4 < 20 or ihl4 + 8 > avail:
            return
        proto = q[9]
        later = (rd16(q + 6) & 0x1fff) != 0
        off = ihl4
        v4mapped(c.in_saddr + 16 * i, q + 12)
        v4mapped(c.in_daddr + 16 * i, q + 16)
    else:
        if avail < 48 or (q[0] >> 4) != 6:
            return
        proto = q[6]
        off = 40
        # ipv6_skip_exthdr over the quoted header
        while proto == 0 or proto == 43 or proto == 60 or proto == 44 or proto == 51:
            if off + 8 > avail:
                return
            if proto == 44:
                hlen = 8
                if (rd16(q + off + 2) & 0xfff8) != 0:
                    later = True
            elif proto == 51:
                hlen = (q[off + 1] + 2) * 4
            else:
                hlen = (q[off + 1] + 1) * 8
            proto = q[off]
            off += hlen
            if later:
                break
        if off + 8 > avail:
            return
        memcpy(c.in_saddr + 16 * i, q + 8, 16)
        memcpy(c.in_daddr + 16 * i, q + 24, 16)
    if not later:
        if ports_proto(proto):
            sp = rd16(q + off)
            dp = rd16(q + off + 2)
        else:
            t = q[off]
            if ((proto == 1 and (t == 0 or t == 8))
                    or (proto == 58 and (t == 128 or t == 129))):
                sp = rd16(q + off + 4)
                dp = rd16(q + off + 6)
    c.in_proto[i] = proto
    c.in_sport[i] = sp
    c.in_dport[i] = dp
    x.written |= G_INNER
    x.flags |= PF_ICMP_INNER


cdef inline void udp_len(uint16_t ulen16, int64_t l4len, bint frag, bint v6,
                         Ctx* x) noexcept nogil:
    cdef int64_t ulen = ulen16
    if v6 and ulen == 0:
        ulen = l4len            # __udp6_lib_rcv: jumbo payload
    if not frag and (ulen > l4len or ulen < 8):
        if x.status == 0:
            x.status = DR_PKT_TOO_SMALL
    if ulen >= 8 and l4len >= 8:
        x.payload_len = <uint32_t>(ulen - 8)
        x.pay_off = x.l4_off + 8


cdef void l4_partial(const uint8_t* q, uint8_t proto, int64_t l4len, int64_t l4cap,
                     bint frag, bint v6, Ctx* x) noexcept nogil:
    """Cold path: fewer L4 bytes (captured or on the wire) than the fixed header."""
    cdef int64_t need = 20 if proto == 6 else 8
    cdef int64_t doff4
    cdef uint8_t doff
    cdef Cols* c = x.c
    cdef Py_ssize_t i = x.i
    if l4len < need and not frag:
        x.status = DR_NOT_SPECIFIED       # the datagram itself is too short
    if l4cap < l4len:
        x.flags |= PF_L4_PARTIAL
    if proto == 6 or proto == 17:
        group_defaults(x, G_PORTS)
        if l4cap >= 4:
            c.sport[i] = rd16(q)
            c.dport[i] = rd16(q + 2)
        if proto == 6:
            group_defaults(x, G_TCP)
            if l4cap >= 8:
                c.tcp_seq[i] = rd32(q + 4)
            if l4cap >= 12:
                c.tcp_ack[i] = rd32(q + 8)
            if l4cap >= 13:
                doff = q[12] >> 4
                doff4 = doff * 4
                c.tcp_doff[i] = doff
                if x.status == 0 and not frag:
                    if doff4 < 20:
                        x.status = DR_PKT_TOO_SMALL
                    elif doff4 > l4len:
                        x.status = DR_NOT_SPECIFIED
                if x.status == 0 and doff4 >= 20 and doff4 <= l4len:
                    x.pay_off = x.l4_off + <uint32_t>doff4
                    x.payload_len = <uint32_t>(l4len - doff4)
            if l4cap >= 14:
                c.tcp_flags[i] = q[13] | ((q[12] & 1) << 8)
            if l4cap >= 16:
                c.tcp_win[i] = rd16(q + 14)
        elif l4cap >= 6:
            udp_len(rd16(q + 4), l4len, frag, v6, x)
    else:   # ICMP / ICMPv6
        group_defaults(x, G_ICMP | G_PORTS)
        if l4cap >= 2:
            c.icmp_type[i] = q[0]
            c.icmp_code[i] = q[1]
        if l4len >= 8 and x.status == 0:
            x.pay_off = x.l4_off + 8
            x.payload_len = <uint32_t>(l4len - 8)
        if l4cap >= 1 and is_echo(q[0], v6):
            if l4cap >= 6:
                c.sport[i] = rd16(q + 4)
            if l4cap >= 8:
                c.dport[i] = rd16(q + 6)


cdef inline void parse_l4(const uint8_t* q, uint8_t proto, int64_t l4len, int64_t l4cap,
                          bint frag, bint v6, Ctx* x) noexcept nogil:
    """q points at the L4 header; l4len bytes per IP, l4cap of them captured."""
    cdef int64_t doff4
    cdef uint8_t t
    cdef Cols* c = x.c
    cdef Py_ssize_t i = x.i
    if proto == 6:
        if l4cap < 20:
            l4_partial(q, proto, l4len, l4cap, frag, v6, x)
            return
        c.sport[i] = rd16(q)
        c.dport[i] = rd16(q + 2)
        c.tcp_seq[i] = rd32(q + 4)
        c.tcp_ack[i] = rd32(q + 8)
        c.tcp_doff[i] = q[12] >> 4
        c.tcp_flags[i] = q[13] | ((q[12] & 1) << 8)
        c.tcp_win[i] = rd16(q + 14)
        x.written |= G_PORTS | G_TCP
        doff4 = (q[12] >> 4) * 4
        if doff4 == 20:
            x.flags |= PF_L4
            x.pay_off = x.l4_off + 20
            x.payload_len = <uint32_t>(l4len - 20)
            return
        if doff4 < 20:
            if not frag:
                x.status = DR_PKT_TOO_SMALL
            return
        if doff4 > l4len:
            if not frag:
                x.status = DR_NOT_SPECIFIED
            else:
                x.flags |= PF_L4_PARTIAL
            return
        x.pay_off = x.l4_off + <uint32_t>doff4
        x.payload_len = <uint32_t>(l4len - doff4)
        if doff4 > l4cap:
            x.flags |= PF_L4_PARTIAL
        else:
            x.flags |= PF_L4
        tcp_options(q + 20, doff4 - 20, l4cap - 20, x)
    elif proto == 17:
        if l4cap < 8:
            l4_partial(q, proto, l4len, l4cap, frag, v6, x)
            return
        c.sport[i] = rd16(q)
        c.dport[i] = rd16(q + 2)
        x.written |= G_PORTS
        x.flags |= PF_L4
        udp_len(rd16(q + 4), l4len, frag, v6, x)
    elif (proto == 1 and not v6) or (proto == 58 and v6):
        if l4cap < 8:
            l4_partial(q, proto, l4len, l4cap, frag, v6, x)
            return
        t = q[0]
        c.icmp_type[i] = t
        c.icmp_code[i] = q[1]
        x.written |= G_ICMP
        x.flags |= PF_L4
        x.pay_off = x.l4_off + 8
        x.payload_len = <uint32_t>(l4len - 8)
        if is_echo(t, v6):
            c.sport[i] = rd16(q + 4)
            c.dport[i] = rd16(q + 6)
            x.written |= G_PORTS
        elif v6:
            if t >= 1 and t <= 4:
                icmp_inner(q + 8, l4cap - 8, True, x)
        elif t == 3 or t == 4 or t == 5 or t == 11 or t == 12:
            icmp_inner(q + 8, l4cap - 8, False, x)
    else:
        # No header parsed for other protocols (and ICMP in the wrong family):
        # all of it is payload.
        x.pay_off = x.l4_off
        x.payload_len = <uint32_t>l4len


# --- IPv4 (ip_rcv_core) --------------------------------------------------------

cdef inline void parse_ipv4(const uint8_t* p, int64_t l3, int64_t cap, int64_t wire,
                            Ctx* x) noexcept nogil:
    cdef int64_t length = wire - l3          # skb->len at ip_rcv
    cdef int64_t avail = cap - l3
    cdef const uint8_t* q = p + l3
    cdef int64_t ihl4, tot_len, l4off, l4len, l4cap
    cdef uint16_t frag
    cdef uint8_t b0
    cdef Cols* c = x.c
    cdef Py_ssize_t i = x.i
    x.flags |= PF_IPV4
    if avail < 20 or length < 20:
        if avail >= 1:
            x.ip_ver = q[0] >> 4
        # wire too short: ip_rcv_core's first check; else the capture is cut
        x.status = DR_IP_INHDR if length < 20 else DR_HDR_TRUNC
        return
    b0 = q[0]
    x.ip_ver = b0 >> 4
    ihl4 = (b0 & 15) * 4
    if (b0 >> 4) != 4 or ihl4 < 20:
        x.status = DR_IP_INHDR
        return
    tot_len = rd16(q + 2)
    frag = rd16(q + 6)
    x.ip_proto = q[9]
    c.ip_tos[i] = q[1]
    c.ip_len[i] = <uint32_t>tot_len
    c.ip_id[i] = rd16(q + 4)
    c.ip_frag[i] = frag
    c.ip_ttl[i] = q[8]
    c.saddr4[i] = rd32(q + 12)
    c.daddr4[i] = rd32(q + 16)
    v4mapped(c.saddr + 16 * i, q + 12)
    v4mapped(c.daddr + 16 * i, q + 16)
    x.written |= G_IP
    if ihl4 > length:
        x.status = DR_IP_INHDR
        return
    if length < tot_len:
        x.status = DR_PKT_TOO_SMALL
        return
    if tot_len < ihl4:
        if tot_len == 0 and length > 65535:
            # iph_totlen(): a BIG TCP GSO packet carries tot_len 0 (as tcpdump
            # on lo records it); its length is skb->len.
            tot_len = length
            c.ip_len[i] = <uint32_t>tot_len
        else:
            x.status = DR_IP_INHDR
            return
    if ihl4 > 20:
        x.flags |= PF_IP_OPTS
    l4off = l3 + ihl4
    l4len = tot_len - ihl4
    x.l4_off = <uint32_t>l4off
    x.l4_len = <uint32_t>l4len
    if (frag & 0x3fff) != 0:
        x.flags |= PF_FRAG
        if (frag & 0x1fff) != 0:
            x.flags |= PF_FRAG_LATER
            x.pay_off = <uint32_t>l4off
            x.payload_len = <uint32_t>l4len
            return
    l4cap = cap - l4off
    if l4cap > l4len:
        l4cap = l4len
    if l4cap < 0:
        l4cap = 0
    parse_l4(p + l4off, q[9], l4len, l4cap, (frag & 0x3fff) != 0, False, x)


# --- IPv6 (ip6_rcv_core + extension headers) ------------------------------------

cdef inline bint v6_loopback(const uint8_t* a) noexcept nogil:
    return (rd32(a) | rd32(a + 4) | rd32(a + 8)) == 0 and rd32(a + 12) == 1


cdef int hbh_jumbo(const uint8_t* h, int64_t hlen, int64_t hcap, int64_t plen,
                   int64_t length, int64_t* dgram) noexcept nogil:
    """Look for the jumbo payload option in a hop-by-hop header (ipv6_hop_jumbo).

    h: the header, hlen bytes long, hcap of them captured.  Returns a status.
    The hop-by-hop header always starts at offset 40 of the IPv6 header, so
    option offset i here is network offset 40 + i (alignment rule 4n+2).
    """
    cdef int64_t i = 2, olen
    cdef uint32_t jumbo
    if hcap > hlen:
        hcap = hlen
    while i < hcap:
        if h[i] == 0:                   # Pad1
            i += 1
            continue
        if i + 2 > hcap:
            return 0
        olen = h[i + 1] + 2
        if i + olen > hlen:
            return 0                    # TLV validity is not modelled
        if h[i] == 0xc2:
            if olen != 6 or ((40 + i) & 3) != 2:
                return DR_IP_INHDR
            if i + 6 > hcap:
                return 0
            jumbo = rd32(h + i + 2)
            if jumbo <= 65535 or plen != 0:
                return DR_IP_INHDR
            if jumbo > length - 40:
                return DR_PKT_TOO_SMALL
            dgram[0] = 40 + <int64_t>jumbo
        i += olen
    return 0


cdef void parse_ipv6(const uint8_t* p, int64_t l3, int64_t cap, int64_t wire, bint is_lo,
                     Ctx* x) noexcept nogil:
    cdef int64_t length = wire - l3
    cdef int64_t avail = cap - l3
    cdef const uint8_t* q = p + l3
    cdef int64_t plen, dgram, off, hlen, l4len, l4cap
    cdef uint8_t nh, cur
    cdef uint16_t fo
    cdef bint frag = False
    cdef int st
    cdef Cols* c = x.c
    cdef Py_ssize_t i = x.i
    x.flags |= PF_IPV6
    if avail < 40 or length < 40:
        if avail >= 1:
            x.ip_ver = q[0] >> 4
        x.status = DR_IP_INHDR if length < 40 else DR_HDR_TRUNC
        return
    x.ip_ver = q[0] >> 4
    if x.ip_ver != 6:
        x.status = DR_UNHANDLED_PROTO
        return
    plen = rd16(q + 4)
    nh = q[6]
    x.ip_proto = nh
    c.ip_tos[i] = ((q[0] & 15) << 4) | (q[1] >> 4)
    c.ip_ttl[i] = q[7]
    c.ip_id[i] = 0
    c.ip_frag[i] = 0
    c.ip_len[i] = <uint32_t>(40 + plen)
    memcpy(c.saddr + 16 * i, q + 8, 16)
    memcpy(c.daddr + 16 * i, q + 24, 16)
    c.saddr4[i] = 0
    c.daddr4[i] = 0
    x.written |= G_IP
    # Address sanity checks of ip6_rcv_core (RFC 4291 2.5.3, 2.7; errata 3480).
    if q[8] == 0xff or q[24] == 0xff or q[8] == 0 or q[24] == 0:
        if ((not is_lo and (v6_loopback(q + 8) or v6_loopback(q + 24)))
                or (q[24] == 0xff and not is_lo and (q[25] & 15) == 1)
                or (q[24] == 0xff and (q[25] & 15) == 0)
                or q[8] == 0xff):
            x.status = DR_IP_INHDR
            return
    if plen != 0 or nh != 0:
        if plen + 40 > length:
            x.status = DR_PKT_TOO_SMALL
            return
        dgram = 40 + plen
        if plen == 0 and length > 65535 + 40:
            # BIG TCP GSO packet as tcpdump records it (payload_len 0, no
            # hop-by-hop jumbo header since 6.x): its length is skb->len.
            dgram = length
            c.ip_len[i] = <uint32_t>dgram
    else:
        dgram = length          # jumbogram: resolved by the hop-by-hop option
    off = 40
    while True:
        if nh == 6 or nh == 17 or nh == 58:
            break
        if nh == 0:
            if off != 40:
                break
        elif nh != 43 and nh != 60 and nh != 44 and nh != 51:
            break
        if off + 8 > dgram:
            x.status = DR_IPV6_BAD_EXTHDR
            return
        if off + 8 > avail:
            # Extension chain cut by caplen: the rest is unknown.
            x.flags |= PF_L4_PARTIAL | PF_IPV6_EXT
            x.ip_proto = nh
            x.l4_off = <uint32_t>(l3 + off)
            x.l4_len = <uint32_t>(dgram - off)
            return
        cur = nh
        if cur == 44:
            hlen = 8
        elif cur == 51:
            hlen = (q[off + 1] + 2) * 4
        else:
            hlen = (q[off + 1] + 1) * 8
        if off + hlen > dgram:
            x.status = DR_IPV6_BAD_EXTHDR
            return
        x.flags |= PF_IPV6_EXT
        nh = q[off]
        if cur == 0:
            st = hbh_jumbo(q + off, hlen, avail - off, plen, length, &dgram)
            if st != 0:
                x.status = <uint8_t>st
                return
            if plen == 0:
                c.ip_len[i] = <uint32_t>dgram
        elif cur == 44:
            fo = rd16(q + off + 2)
            c.ip_id[i] = rd32(q + off + 4)
            c.ip_frag[i] = (fo >> 3) | (0x2000 if (fo & 1) else 0)
            x.flags |= PF_FRAG
            frag = True
            if (fo >> 3) != 0:
                x.flags |= PF_FRAG_LATER
                off += 8
                x.ip_proto = nh
                x.l4_off = <uint32_t>(l3 + off)
                x.l4_len = <uint32_t>(dgram - off)
                x.pay_off = x.l4_off
                x.payload_len = x.l4_len
                return
        off += hlen
    x.ip_proto = nh
    l4len = dgram - off
    x.l4_off = <uint32_t>(l3 + off)
    x.l4_len = <uint32_t>l4len
    l4cap = avail - off
    if l4cap > l4len:
        l4cap = l4len
    if l4cap < 0:
        l4cap = 0
    parse_l4(q + off, nh, l4len, l4cap, frag, True, x)


# --- link layer -------------------------------------------------------------------

cdef inline void parse_one(const uint8_t* p, int64_t cap, int64_t wire, uint16_t lt,
                           Cols* c, Py_ssize_t i) noexcept nogil:
    cdef int64_t l3 = 0
    cdef uint16_t et = 0
    cdef uint16_t vlan0 = 0xffff, vlan1 = 0xffff
    cdef uint8_t pkt_type = PKTTYPE_HOST
    cdef uint32_t af
    cdef bint is_lo = False
    cdef bint bad = False
    cdef int ntag
    cdef Ctx x
    x.c = c
    x.i = i
    x.flags = 0
    x.l4_off = 0
    x.l4_len = 0
    x.pay_off = 0
    x.payload_len = 0
    x.written = 0
    x.status = 0
    x.ip_ver = 0
    x.ip_proto = 0
    if wire < cap:
        wire = cap              # a record claiming fewer wire bytes than captured
    if cap < wire:
        x.flags = PF_TRUNCATED
    if lt == LT_EN10MB:
        if cap >= 14:
            et = rd16(p + 12)
            l3 = 14
            if p[0] & 1:            # eth_type_trans: group bit of the destination
                if rd32(p) == 0xffffffffU and rd16(p + 4) == 0xffff:
                    pkt_type = PKTTYPE_BROADCAST
                else:
                    pkt_type = PKTTYPE_MULTICAST
        else:
            bad = True
    elif lt == LT_LINUX_SLL:
        if cap >= 16:
            et = rd16(p + 14)
            l3 = 16
            af = rd16(p)
            pkt_type = <uint8_t>(af if af < 255 else 255)
            is_lo = rd16(p + 2) == ARPHRD_LOOPBACK
        else:
            bad = True
    elif lt == LT_LINUX_SLL2:
        if cap >= 20:
            et = rd16(p)
            l3 = 20
            pkt_type = p[10]
            is_lo = rd16(p + 8) == ARPHRD_LOOPBACK
        else:
            bad = True
    elif lt == LT_RAW or lt == LT_RAW_12 or lt == LT_RAW_14:
        if cap >= 1:
            if (p[0] >> 4) == 4:
                et = ETH_P_IP
            elif (p[0] >> 4) == 6:
                et = ETH_P_IPV6
        else:
            bad = True
    elif lt == LT_IPV4:
        et = ETH_P_IP
    elif lt == LT_IPV6:
        et = ETH_P_IPV6
    elif lt == LT_NULL or lt == LT_LOOP:
        if cap >= 4:
            l3 = 4
            is_lo = True
            if lt == LT_LOOP:
                af = rd32(p)
            else:
                # host byte order of the capturing machine: accept both
                af = (<uint32_t>p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16)
                      | (<uint32_t>p[3] << 24))
                if af > 0xffff:
                    af = rd32(p)
            if af == 2:
                et = ETH_P_IP
            elif af == 24 or af == 28 or af == 30:
                et = ETH_P_IPV6
        else:
            bad = True
    else:
        x.status = DR_UNHANDLED_PROTO
        x.flags |= PF_BAD_LINK
        pkt_type = PKTTYPE_UNKNOWN
    if et == ETH_P_8021Q or et == ETH_P_8021AD or et == ETH_P_QINQ1:
        if lt == LT_EN10MB or lt == LT_LINUX_SLL or lt == LT_LINUX_SLL2:
            ntag = 0
            while ntag < 2 and (et == ETH_P_8021Q or et == ETH_P_8021AD or et == ETH_P_QINQ1):
                if cap < l3 + 4:
                    bad = True
                    break
                if ntag == 0:
                    vlan0 = rd16(p + l3)
                else:
                    vlan1 = rd16(p + l3)
                et = rd16(p + l3 + 2)
                l3 += 4
                ntag += 1
            if not bad:
                x.flags |= PF_VLAN if ntag == 1 else PF_QINQ
    if bad:
        # Link header not there: the driver / eth_type_trans cannot pull it.
        x.status = DR_HDR_TRUNC
        x.flags |= PF_BAD_LINK
        pkt_type = PKTTYPE_UNKNOWN
        et = 0
        l3 = 0
        vlan0 = 0xffff
        vlan1 = 0xffff
    c.ethertype[i] = et
    c.vlan0[i] = vlan0
    c.vlan1[i] = vlan1
    c.pkt_type[i] = pkt_type
    c.l3_off[i] = <uint32_t>l3
    if x.status == 0:
        if et == ETH_P_IP:
            parse_ipv4(p, l3, cap, wire, &x)
        elif et == ETH_P_IPV6:
            parse_ipv6(p, l3, cap, wire, is_lo, &x)
        else:
            x.flags |= PF_NOT_IP
    finish_row(&x)



cdef inline uint64_t rep8(uint8_t v) noexcept nogil:
    return 0x0101010101010101ULL * v


cdef inline uint64_t rep16(uint16_t v) noexcept nogil:
    # host-order 16-bit value repeated: the column's cells, 4 per 8 bytes
    return 0x0001000100010001ULL * v


cdef inline uint64_t rep32(uint32_t v) noexcept nogil:
    return 0x0000000100000001ULL * v


cdef void prefill_fast(Cols* c, Py_ssize_t n, bint verify) noexcept nogil:
    """Rows [0, n): the values every fast-path row has in these columns
    (fast_v4 / fast_v6_tcp then store only what varies: per row ~20 stores
    fewer, for a few fills per batch).  Rows that leave the fast path
    are rewritten whole by parse_one, which writes every column of its
    row, so what this leaves in them is never seen."""
    cdef size_t m = <size_t>n
    ps_fill(c.status, m, 0)
    ps_fill(c.pkt_type, m, rep8(PKTTYPE_HOST))
    ps_fill(c.ip_ver, m, rep8(4))
    ps_fill(c.ip_proto, m, rep8(6))
    ps_fill(c.ethertype, 2 * m, rep16(ETH_P_IP))
    ps_fill(c.vlan0, 2 * m, rep16(0xffff))      # no tag (OneTag rows store theirs)
    ps_fill(c.vlan1, 2 * m, rep16(0xffff))
    ps_fill(c.l3_off, 4 * m, rep32(14))         # likewise
    ps_fill(c.l4_off, 4 * m, rep32(14 + 20))
    ps_fill(c.icmp_type, m, 0)
    ps_fill(c.icmp_code, m, 0)
    ps_fill(c.in_proto, m, 0)
    ps_fill(c.in_saddr, 16 * m, 0)
    ps_fill(c.in_daddr, 16 * m, 0)
    ps_fill(c.in_sport, 2 * m, 0)
    ps_fill(c.in_dport, 2 * m, 0)
    # TCP options as if absent: the inline layouts store only what they
    # found, tcp_parse_opts' rows all six (tcpopt_store).
    ps_fill(c.tcp_mss, 2 * m, 0)
    ps_fill(c.tcp_wscale, m, 0)
    ps_fill(c.tcp_tsval, 4 * m, 0)
    ps_fill(c.tcp_tsecr, 4 * m, 0)
    ps_fill(c.tcp_nsack, m, 0)
    ps_fill(c.tcp_sack, 32 * m, 0)
    if not verify:
        ps_fill(c.ip_csum, m, rep8(CS_UNCHECKED))
        ps_fill(c.l4_csum, m, rep8(CS_UNCHECKED))


# The fast path comes in two copies per IP version, one per link header
# layout (a fused type used as a compile-time tag: each copy has one call
# site, so gcc inlines them, with l3 a constant in each).
cdef struct NoTag:
    char unused
cdef struct OneTag:
    char unused
ctypedef fused LinkLayout:
    NoTag
    OneTag


cdef inline void fast_link(const LinkLayout* layout, const uint8_t* p, Cols* c,
                           Py_ssize_t i) noexcept nogil:
    # The link columns prefill_fast did not set to this row's values.
    if LinkLayout is OneTag:
        c.vlan0[i] = rd16(p + 14)
        c.l3_off[i] = 18
    if p[0] & 1:
        if rd32(p) == 0xffffffffU and rd16(p + 4) == 0xffff:
            c.pkt_type[i] = PKTTYPE_BROADCAST
        else:
            c.pkt_type[i] = PKTTYPE_MULTICAST


cdef uint32_t fast_tcp_options(const uint8_t* t, uint32_t doff4, Cols* c,
                               Py_ssize_t i) noexcept nogil:
    # Out of line (SYNs, SACKs: the rarer lists), so that fast_tcp stays
    # small enough for gcc to inline into its four callers.
    cdef TcpOpts o
    tcp_parse_opts(t + 20, doff4 - 20, doff4 - 20, &o)
    tcpopt_store(c, i, &o)
    return o.flags


# fast_tcp has four callers (two layouts x two IP versions) and gcc
# declines to inline it ("max-inline-insns-single"), which costs a call and
# the spills around it on every TCP row (measured: 20 Ir per packet on mix);
# this prototype, under fixed C names, forces it.
cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    struct ps_cols;
    static inline __attribute__((always_inline)) uint32_t
    ps_fast_tcp(const uint8_t *, uint32_t, struct ps_cols *, Py_ssize_t);
    #endif
    """


cdef inline uint32_t fast_tcp "ps_fast_tcp"(const uint8_t* t, uint32_t doff4, Cols* c,
                                            Py_ssize_t i) noexcept nogil:
    """parse_l4's TCP columns for a header of doff4 (20..60) bytes captured
    whole; returns the option flags.  The option columns are prefilled as
    "no options" (prefill_fast).  Two layouts are decoded inline: MSS alone
    (a minimal SYN) and NOP NOP TS (every Linux segment after the
    handshake); any other list goes through tcp_parse_opts, the one
    implementation of the rules."""
    cdef uint32_t flags = 0
    if doff4 == 20:
        pass
    elif doff4 == 32 and rd32(t + 20) == 0x0101080aU:
        flags = PF_TCP_TS
        c.tcp_tsval[i] = rd32(t + 24)
        c.tcp_tsecr[i] = rd32(t + 28)
    elif doff4 == 24 and rd16(t + 20) == 0x0204:
        flags = PF_TCP_MSS
        c.tcp_mss[i] = rd16(t + 22)
    else:
        flags = fast_tcp_options(t, doff4, c, i)
    c.tcp_doff[i] = <uint8_t>(doff4 >> 2)
    c.sport[i] = rd16(t)
    c.dport[i] = rd16(t + 2)
    c.tcp_seq[i] = rd32(t + 4)
    c.tcp_ack[i] = rd32(t + 8)
    c.tcp_flags[i] = t[13] | ((t[12] & 1) << 8)
    c.tcp_win[i] = rd16(t + 14)
    return flags


cdef inline bint fast_v4(const LinkLayout* layout, const uint8_t* p, uint32_t cap,
                         uint32_t wire_rec, Cols* c, Py_ssize_t i, bint verify,
                         int64_t* cnt) noexcept nogil:
    # fast_eth_row's IPv4 case: the header at p + 14 (NoTag) or p + 18
    # (OneTag: vlan0 at p + 14), 20 bytes, not a fragment, TCP or UDP.
    # Requires cap >= 54.  Once the checks passed, the columns are stored in
    # an order that keeps few values live (each is read from the packet
    # right before its store): the loop runs out of registers otherwise,
    # and spills cost more than the loads.
    cdef uint32_t l3 = 14 if LinkLayout is NoTag else 18
    cdef const uint8_t* q = p + l3      # IPv4 header
    cdef const uint8_t* t = q + 20      # TCP / UDP header
    cdef uint32_t tot, doff4, ulen, wire = wire_rec
    cdef uint32_t flags = PF_IPV4 | PF_L4
    cdef uint8_t proto = q[9]
    if q[0] != 0x45 or (proto != 6 and proto != 17):
        return False
    if wire < cap:
        wire = cap
    tot = rd16(q + 2)
    # parse_ipv4's checks, all passing: not a fragment; tot_len >= ihl*4
    # and fits in skb->len.
    if (rd16(q + 6) & 0x3fff) != 0 or tot < 20 or tot > wire - l3:
        return False
    if proto == 6:
        # parse_l4: 20 <= doff*4 <= tot_len - 20, the header captured whole
        # (t[12] is at most byte 50 < 54).
        doff4 = <uint32_t>(t[12] >> 4) * 4
        if doff4 < 20 or tot < 20 + doff4 or l3 + 20 + doff4 > cap:
            return False
    else:
        # udp_len: 8 <= ulen <= tot_len - 20 (the 8 bytes are below 54).
        ulen = rd16(t + 4)
        if ulen < 8 or ulen > tot - 20:
            return False
    if cap < wire:
        flags |= PF_TRUNCATED
    if LinkLayout is OneTag:
        flags |= PF_VLAN
    if proto == 6:
        flags |= fast_tcp(t, doff4, c, i)
        c.payload_len[i] = tot - 20 - doff4
        c.pay_off[i] = l3 + 20 + doff4
    else:
        c.ip_proto[i] = 17
        c.sport[i] = rd16(t)
        c.dport[i] = rd16(t + 2)
        c.tcp_seq[i] = 0
        c.tcp_ack[i] = 0
        c.tcp_flags[i] = 0
        c.tcp_win[i] = 0
        c.tcp_doff[i] = 0
        c.payload_len[i] = ulen - 8
        c.pay_off[i] = l3 + 28
    c.flags[i] = flags
    c.ip_len[i] = tot
    c.l4_len[i] = tot - 20
    fast_link(layout, p, c, i)
    if LinkLayout is OneTag:
        c.l4_off[i] = l3 + 20
    c.ip_tos[i] = q[1]
    c.ip_ttl[i] = q[8]
    c.ip_id[i] = rd16(q + 4)
    c.ip_frag[i] = rd16(q + 6)
    v4mapped(c.saddr + 16 * i, q + 12)
    v4mapped(c.daddr + 16 * i, q + 16)
    c.saddr4[i] = rd32(q + 12)
    c.daddr4[i] = rd32(q + 16)
    if not verify:
        pass                            # ip_csum / l4_csum prefilled UNCHECKED
    elif wire_rec >= cap:
        # verify_row specialised for exactly these rows (IPv4 header of 20
        # bytes, TCP or UDP, not a fragment, status 0); not inlined by gcc
        # (two copies of this function call it), which measured faster here.
        verify_v4_fast(q, proto, tot - 20 if proto == 6 else ulen, cap - l3 - 20,
                       &c.status[i], &c.ip_csum[i], &c.l4_csum[i], cnt)
    else:
        # verify_row with the values parse_batch would pass it (a record
        # claiming fewer wire bytes than captured: the parser reads it as
        # wire = caplen, verify_row's IPv4 rule reads the stored value).
        verify_row(p, cap, wire_rec, flags, 4, proto, l3, l3 + 20, tot - 20, c.saddr + 16 * i,
                   c.daddr + 16 * i, &c.status[i], &c.ip_csum[i], &c.l4_csum[i], cnt)
    return True


cdef inline bint fast_v6_tcp(const LinkLayout* layout, const uint8_t* p, uint32_t cap,
                             uint32_t wire_rec, Cols* c, Py_ssize_t i, bint verify,
                             int64_t* cnt) noexcept nogil:
    # fast_eth_row's IPv6 case: the fixed header at p + 14 / p + 18, next
    # header TCP (no extension header), addresses none of whose first bytes
    # is 0 or 0xff (so none of ip6_rcv_core's address checks can apply),
    # payload_len >= doff*4 >= 20, within skb->len, the TCP header captured
    # whole.  Requires cap >= 54 (the TCP data offset byte: checked here).
    cdef uint32_t l3 = 14 if LinkLayout is NoTag else 18
    cdef const uint8_t* q = p + l3      # IPv6 header
    cdef const uint8_t* t = q + 40      # TCP header
    cdef uint32_t plen, doff4, wire = wire_rec
    cdef uint32_t flags = PF_IPV6 | PF_L4
    if (q[0] >> 4) != 6 or q[6] != 6 or cap < l3 + 40 + 20:
        return False
    if q[8] == 0 or q[8] == 0xff or q[24] == 0 or q[24] == 0xff:
        return False
    if wire < cap:
        wire = cap
    plen = rd16(q + 4)
    doff4 = <uint32_t>(t[12] >> 4) * 4
    if doff4 < 20 or plen < doff4 or plen + 40 > wire - l3 or l3 + 40 + doff4 > cap:
        return False
    if cap < wire:
        flags |= PF_TRUNCATED
    if LinkLayout is OneTag:
        flags |= PF_VLAN
    flags |= fast_tcp(t, doff4, c, i)
    c.flags[i] = flags
    c.ethertype[i] = ETH_P_IPV6
    c.ip_ver[i] = 6
    c.ip_len[i] = 40 + plen
    c.l4_len[i] = plen
    c.payload_len[i] = plen - doff4
    c.l4_off[i] = l3 + 40
    c.pay_off[i] = l3 + 40 + doff4
    fast_link(layout, p, c, i)
    c.ip_tos[i] = ((q[0] & 15) << 4) | (q[1] >> 4)
    c.ip_ttl[i] = q[7]
    c.ip_id[i] = 0
    c.ip_frag[i] = 0
    memcpy(c.saddr + 16 * i, q + 8, 16)
    memcpy(c.daddr + 16 * i, q + 24, 16)
    c.saddr4[i] = 0
    c.daddr4[i] = 0
    if verify:
        # verify_row specialised for these rows (checksum.verify_v6_tcp)
        verify_v6_tcp(q, plen, cap - l3 - 40, &c.ip_csum[i], &c.l4_csum[i], cnt)
    return True


cdef inline bint fast_eth_row(const uint8_t* p, uint32_t cap, uint32_t wire_rec,
                              uint16_t lt, Cols* c, Py_ssize_t i, bint verify,
                              int64_t* cnt) noexcept nogil:
    """The common cases: Ethernet II, optionally with one 802.1Q/802.1ad tag /
    IPv4 without options, not a fragment, TCP with any option list or UDP;
    or IPv6 without extension headers, TCP / the headers captured whole and
    every ip_rcv_core / ip6_rcv_core / tcp_v4_rcv / __udp4_lib_rcv length
    check passed.  Writes the row with plain stores (no context struct, each
    column at most once; the columns prefill_fast set are left as it set
    them); returns False, having written nothing, for anything else
    (parse_one then handles it, with the same results).

    verify: also classify the checksums (checksum.verify_v4_fast /
    verify_v6_tcp, verify_row specialised for exactly those rows, or
    verify_row itself) and count them in cnt.  wire_rec
    is the record's wire length as stored (verify_row's rules read that one)."""
    cdef uint16_t et
    # cap >= 54 covers every byte read before the final length check, with
    # a tag too (the TCP data offset byte is at 18 + 32 = 50).
    if lt != LT_EN10MB or cap < 54:
        return False
    et = rd16(p + 12)
    if et == ETH_P_IP:
        return fast_v4(<NoTag*>NULL, p, cap, wire_rec, c, i, verify, cnt)
    if et == ETH_P_IPV6:
        return fast_v6_tcp(<NoTag*>NULL, p, cap, wire_rec, c, i, verify, cnt)
    # one tag, then IP (parse_one: a tag followed by a non-tag ends the loop)
    if et == ETH_P_8021Q or et == ETH_P_8021AD or et == ETH_P_QINQ1:
        et = rd16(p + 16)
        if et == ETH_P_IP:
            return fast_v4(<OneTag*>NULL, p, cap, wire_rec, c, i, verify, cnt)
        if et == ETH_P_IPV6:
            return fast_v6_tcp(<OneTag*>NULL, p, cap, wire_rec, c, i, verify, cnt)
    return False


cdef struct Recs:
    # A RecordBatch's per-record arrays, for the nogil loops.
    const uint8_t* base
    Py_ssize_t base_len         # 0 when base is NULL: every record then fails the bounds check
    const int64_t* offs
    const uint32_t* caps
    const uint32_t* wires
    const uint16_t* lts
    Py_ssize_t n


cdef Py_ssize_t fast_rows(const Recs* r, Py_ssize_t i, Cols* c, bint verify,
                          int64_t* cnt) noexcept nogil:
    """Rows i, i+1, ... while they take the fast path; returns the first row
    that does not (nothing written to it), or r.n.  Called through a
    pointer (_fast_rows), so that it stays a function of its own: the
    common loop gets the registers, not parse_one's many locals."""
    cdef Py_ssize_t n = r.n
    cdef const uint8_t* base = r.base
    cdef int64_t off, cap
    while i < n:
        if i + PREFETCH_AHEAD < n:
            # The first bytes of a record 8 ahead (a prefetch never faults,
            # whatever the address).
            off = r.offs[i + PREFETCH_AHEAD]
            PS_PREFETCH(base + off)
            PS_PREFETCH(base + off + 63)
        off = r.offs[i]
        cap = r.caps[i]
        # Defence in depth (the reader guarantees offset+caplen <= base_len):
        # an out-of-range record goes to the general loop, which reads nothing.
        if off < 0 or off + cap > r.base_len:
            return i
        if not fast_eth_row(base + off, <uint32_t>cap, r.wires[i], r.lts[i], c, i,
                            verify, cnt):
            return i
        i += 1
    return i


ctypedef Py_ssize_t (*FastRowsFn)(const Recs*, Py_ssize_t, Cols*, bint, int64_t*) noexcept nogil
cdef FastRowsFn _fast_rows = fast_rows


cdef void fill_cols(PacketColumns pc, Cols* c) noexcept:
    c.status = pc.status
    c.flags = pc.flags
    c.ethertype = pc.ethertype
    c.vlan0 = pc.vlan0
    c.vlan1 = pc.vlan1
    c.pkt_type = pc.pkt_type
    c.l3_off = pc.l3_off
    c.l4_off = pc.l4_off
    c.pay_off = pc.pay_off
    c.ip_ver = pc.ip_ver
    c.ip_proto = pc.ip_proto
    c.ip_tos = pc.ip_tos
    c.ip_ttl = pc.ip_ttl
    c.ip_id = pc.ip_id
    c.ip_frag = pc.ip_frag
    c.ip_len = pc.ip_len
    c.saddr = pc.saddr
    c.daddr = pc.daddr
    c.saddr4 = pc.saddr4
    c.daddr4 = pc.daddr4
    c.l4_len = pc.l4_len
    c.payload_len = pc.payload_len
    c.sport = pc.sport
    c.dport = pc.dport
    c.tcp_seq = pc.tcp_seq
    c.tcp_ack = pc.tcp_ack
    c.tcp_flags = pc.tcp_flags
    c.tcp_win = pc.tcp_win
    c.tcp_doff = pc.tcp_doff
    c.tcp_mss = pc.tcp_mss
    c.tcp_wscale = pc.tcp_wscale
    c.tcp_tsval = pc.tcp_tsval
    c.tcp_tsecr = pc.tcp_tsecr
    c.tcp_nsack = pc.tcp_nsack
    c.tcp_sack = pc.tcp_sack
    c.icmp_type = pc.icmp_type
    c.icmp_code = pc.icmp_code
    c.in_proto = pc.in_proto
    c.in_saddr = pc.in_saddr
    c.in_daddr = pc.in_daddr
    c.in_sport = pc.in_sport
    c.in_dport = pc.in_dport
    c.ip_csum = pc.ip_csum
    c.l4_csum = pc.l4_csum


cdef uint8_t _EMPTY[1]      # what a record with no bytes points at
cdef bint _fast_path = True


def _use_fast_path(bint on):
    """Tests only: switch the common-case fast path off to compare both paths."""
    global _fast_path
    _fast_path = on


def parse_batch(RecordBatch rb not None, PacketColumns cols not None,
                bint verify_checksums=False):
    """Parse records [0, rb.n) of `rb` into rows [0, rb.n) of `cols`; returns rb.n.

    Every column of those rows is rewritten (columns are reused across
    batches).  Raises ValueError if cols.capacity < rb.n.

    verify_checksums=True also classifies each row's checksums right after
    parsing it, while its bytes are still in L1 (checksum.verify_row, the
    same code checksum.verify_batch runs, or for fast-path rows its
    specialisations checksum.verify_v4_fast / verify_v6_tcp, with the same results); the
    counts land in cols.csum_counts and checksum.batch_counts(cols) returns
    them.
    """
    cdef Py_ssize_t n = rb.n, i
    cdef Cols c
    cdef Recs r
    cdef int64_t off, cap
    cdef const uint8_t* p
    cdef bint fast = _fast_path
    cdef int64_t cnt[K__N]
    cdef int k
    for k in range(K__N):
        cnt[k] = 0
    if cols.capacity < n:
        raise ValueError(f"PacketColumns capacity {cols.capacity} < batch size {n}")
    fill_cols(cols, &c)
    r.base = rb.base
    r.base_len = rb.base_len if rb.base != NULL else 0
    r.offs = rb.offset
    r.caps = rb.caplen
    r.wires = rb.wirelen
    r.lts = rb.linktype
    r.n = n
    with nogil:
        if fast:
            prefill_fast(&c, n, verify_checksums)
        i = 0
        while i < n:
            if fast:
                # the run of fast-path rows from i on (all of them, usually)
                i = _fast_rows(&r, i, &c, verify_checksums, cnt)
                if i >= n:
                    break
            # row i: the general path
            if i + PREFETCH_AHEAD < n:
                PS_PREFETCH(r.base + r.offs[i + PREFETCH_AHEAD])
                PS_PREFETCH(r.base + r.offs[i + PREFETCH_AHEAD] + 63)
            off = r.offs[i]
            cap = r.caps[i]
            # Defence in depth: the reader guarantees offset+caplen <= base_len.
            if off < 0 or off + cap > r.base_len or r.base == NULL:
                cap = 0
                p = _EMPTY
            else:
                p = r.base + off
            parse_one(p, cap, r.wires[i], r.lts[i], &c, i)
            if verify_checksums:
                verify_row(p, <uint32_t>cap, r.wires[i], c.flags[i], c.ip_ver[i], c.ip_proto[i],
                           c.l3_off[i], c.l4_off[i], c.l4_len[i],
                           c.saddr + 16 * i, c.daddr + 16 * i,
                           &c.status[i], &c.ip_csum[i], &c.l4_csum[i], cnt)
            i += 1
    cols.n = n
    cols.csum_verified = verify_checksums
    if verify_checksums:
        for k in range(K__N):
            cols.csum_cnt[k] = cnt[k]
    return n


def parse_packets(packets, linktype=1, wirelens=None):
    """Parse a list of bytes objects (one link type or one per packet).

    Returns a dict column name -> numpy array (rows = packets).  For tests and
    debugging; the pipeline calls parse_batch.
    """
    rb = RecordBatch.from_packets(list(packets), linktype=linktype, wirelens=wirelens)
    cols = PacketColumns(max(1, len(packets)))
    parse_batch(rb, cols)
    return {name: arr.copy() for name, arr in cols.to_dict().items()}


# Python mirrors of the pxd constants (for numpy masks in Python code).
PF_FLAGS = {
    "PF_TRUNCATED": PF_TRUNCATED, "PF_VLAN": PF_VLAN, "PF_QINQ": PF_QINQ,
    "PF_IPV4": PF_IPV4, "PF_IPV6": PF_IPV6, "PF_FRAG": PF_FRAG,
    "PF_FRAG_LATER": PF_FRAG_LATER, "PF_IP_OPTS": PF_IP_OPTS,
    "PF_IPV6_EXT": PF_IPV6_EXT, "PF_L4": PF_L4, "PF_TCP_MSS": PF_TCP_MSS,
    "PF_TCP_WSCALE": PF_TCP_WSCALE, "PF_TCP_SACKOK": PF_TCP_SACKOK,
    "PF_TCP_TS": PF_TCP_TS, "PF_TCP_OPTBAD": PF_TCP_OPTBAD,
    "PF_ICMP_INNER": PF_ICMP_INNER, "PF_NOT_IP": PF_NOT_IP,
    "PF_BAD_LINK": PF_BAD_LINK, "PF_L4_PARTIAL": PF_L4_PARTIAL,
}
TH_FLAGS = {
    "TH_FIN": TH_FIN, "TH_SYN": TH_SYN, "TH_RST": TH_RST, "TH_PSH": TH_PSH,
    "TH_ACK": TH_ACK, "TH_URG": TH_URG, "TH_ECE": TH_ECE, "TH_CWR": TH_CWR,
    "TH_AE": TH_AE,
}
PKT_TYPES = {
    "HOST": PKTTYPE_HOST, "BROADCAST": PKTTYPE_BROADCAST,
    "MULTICAST": PKTTYPE_MULTICAST, "OTHERHOST": PKTTYPE_OTHERHOST,
    "OUTGOING": PKTTYPE_OUTGOING, "UNKNOWN": PKTTYPE_UNKNOWN,
}

# LINKTYPE_* number -> name, for every link type parse_batch decodes.
LINKTYPES = {
    0: "NULL", 1: "EN10MB", 12: "RAW", 14: "RAW", 101: "RAW", 108: "LOOP",
    113: "LINUX_SLL", 228: "IPV4", 229: "IPV6", 276: "LINUX_SLL2",
}


SUPPORTED_LINKTYPES = frozenset(LINKTYPES)


def linktype_supported(int linktype):
    """True if parse_batch decodes this LINKTYPE_* (else rows get PF_BAD_LINK)."""
    return linktype in LINKTYPES
