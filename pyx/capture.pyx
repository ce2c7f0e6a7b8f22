# cython: language_level=3
"""Capture reading: pcap and pcapng records into RecordBatch columns.

Models no kernel code: this is the tcpdump/libpcap side of the capture, the
on-disk formats that libpcap (sf-pcap.c, sf-pcapng.c) and Wireshark read:

* classic pcap, both byte orders, microsecond and nanosecond magics;
* pcapng: SHB / IDB (if_name, if_tsresol, if_tsoffset) / EPB / SPB and the
  obsolete Packet Block; every other block type is skipped by its length.

Not modelled: the Kuznetzov "modified" pcap record header, pcapng
compression/encryption blocks, per-packet EPB options (flags, hashes, drop
counts), the pcap `thiszone` field (libpcap ignores it too), and FCS
stripping (the FCS bits of the pcap link-type field are masked off, the bytes
are left as captured).

Division of labour: the Cython walkers below run one nogil loop per batch
over bytes that are already in memory (an mmap, or the rolling decompression
buffer), writing straight into a RecordBatch's columns; they stop and hand
control back to Python only for the rare things that need it: a batch is
full, more input must be read, a pcapng SHB/IDB must be parsed, or the input
is corrupt.  pystack/capture.py does that orchestration.
"""
import numpy as np
cimport cython
cimport numpy as cnp
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int64_t, uint64_t
from libc.string cimport memcpy
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free

cnp.import_array()

DEFAULT_BATCH = 65536


cdef class RecordBatch:
    """Up to `capacity` capture records: numpy columns plus the bytes they index."""

    def __cinit__(self, Py_ssize_t capacity=DEFAULT_BATCH):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.n = 0
        self.offset_arr = np.zeros(capacity, np.int64)
        self.caplen_arr = np.zeros(capacity, np.uint32)
        self.wirelen_arr = np.zeros(capacity, np.uint32)
        self.ts_arr = np.zeros(capacity, np.int64)
        self.iface_arr = np.zeros(capacity, np.uint32)
        self.linktype_arr = np.zeros(capacity, np.uint16)
        self.frame_arr = np.zeros(capacity, np.int64)
        self.src_arr = np.zeros(capacity, np.uint16)
        self.fileoff_arr = np.zeros(capacity, np.int64)
        self.offset = <int64_t*>cnp.PyArray_DATA(self.offset_arr)
        self.caplen = <uint32_t*>cnp.PyArray_DATA(self.caplen_arr)
        self.wirelen = <uint32_t*>cnp.PyArray_DATA(self.wirelen_arr)
        self.ts = <int64_t*>cnp.PyArray_DATA(self.ts_arr)
        self.iface = <uint32_t*>cnp.PyArray_DATA(self.iface_arr)
        self.linktype = <uint16_t*>cnp.PyArray_DATA(self.linktype_arr)
        self.frame = <int64_t*>cnp.PyArray_DATA(self.frame_arr)
        self.src = <uint16_t*>cnp.PyArray_DATA(self.src_arr)
        self.fileoff = <int64_t*>cnp.PyArray_DATA(self.fileoff_arr)
        self.buffer = None
        self.base = NULL
        self.base_len = 0

    cdef void _bind(self, object buffer) except *:
        """Point `base` at `buffer` (any C-contiguous buffer); keeps it alive."""
        cdef const uint8_t[::1] view
        self.buffer = buffer
        if buffer is None:
            self.base = NULL
            self.base_len = 0
            return
        view = memoryview(buffer).cast("B")
        self.base_len = view.shape[0]
        self.base = &view[0] if self.base_len > 0 else NULL

    def clear(self):
        """Drop all rows (the reader reuses batches)."""
        self.n = 0

    def _rebind(self, buffer):
        """Index `buffer` from now on (no-op when it already does)."""
        if buffer is not self.buffer:
            self._bind(buffer)

    def release(self):
        """Forget rows and bytes: called before the bytes go away (close)."""
        self.n = 0
        self._bind(None)

    @classmethod
    def from_packets(cls, packets, linktype=1, ts_ns=None, wirelens=None):
        """A batch holding `packets` (a list of bytes) back to back.

        For tests and for callers that already hold packet bytes.  `linktype`
        is one LINKTYPE_* number or one per packet.
        """
        cdef RecordBatch rb = cls(max(1, len(packets)))
        cdef Py_ssize_t i, pos = 0
        buf = bytearray(b"".join(bytes(p) for p in packets) or b"\0")
        for i, p in enumerate(packets):
            ln = len(p)
            rb.offset[i] = pos
            rb.caplen[i] = ln
            rb.wirelen[i] = ln if wirelens is None else wirelens[i]
            rb.ts[i] = i * 1000 if ts_ns is None else ts_ns[i]
            rb.linktype[i] = linktype if isinstance(linktype, int) else linktype[i]
            rb.frame[i] = i + 1
            rb.fileoff[i] = pos
            pos += ln
        rb.n = len(packets)
        rb._bind(buf)
        return rb

    def packet(self, Py_ssize_t i):
        """Bytes of record i (a copy; for debugging and tests, not the hot path)."""
        if not 0 <= i < self.n:
            raise IndexError(i)
        return bytes(self.base[self.offset[i]:self.offset[i] + self.caplen[i]])

    def __len__(self):
        return self.n

    def columns(self):
        """The valid rows of every column, as a dict of numpy views."""
        n = self.n
        return {
            "offset": self.offset_arr[:n], "caplen": self.caplen_arr[:n],
            "wirelen": self.wirelen_arr[:n], "ts_ns": self.ts_arr[:n],
            "iface": self.iface_arr[:n], "linktype": self.linktype_arr[:n],
            "frame": self.frame_arr[:n], "src": self.src_arr[:n],
            "fileoff": self.fileoff_arr[:n],
        }


# ---------------------------------------------------------------------------
# Walkers: pcap / pcapng bytes -> RecordBatch rows
# ---------------------------------------------------------------------------

cdef extern from *:
    """
    #include <string.h>
    #include <stdint.h>
    #if defined(_MSC_VER)
    #include <stdlib.h>
    #define PS_BSWAP16(x) _byteswap_ushort(x)
    #define PS_BSWAP32(x) _byteswap_ulong(x)
    #else
    #define PS_BSWAP16(x) __builtin_bswap16(x)
    #define PS_BSWAP32(x) __builtin_bswap32(x)
    #endif
    /* Records sit at any byte offset: memcpy is the portable unaligned load
       (compiles to one mov on x86/arm64).  `swap` is a compile-time constant
       after inlining into the two loop variants, so the test vanishes. */
    static inline uint32_t ps_ld32(const uint8_t *p, int swap) {
        uint32_t v; memcpy(&v, p, 4); return swap ? PS_BSWAP32(v) : v;
    }
    static inline uint16_t ps_ld16(const uint8_t *p, int swap) {
        uint16_t v; memcpy(&v, p, 2); return swap ? (uint16_t)PS_BSWAP16(v) : v;
    }
    #if defined(__GNUC__) || defined(__clang__)
    #define PS_CAP_PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 3)
    #else
    #define PS_CAP_PREFETCH(p) ((void)(p))
    #endif
    /* a read whose value nobody waits for: maps the page (fault) ahead */
    static inline void ps_touch(const uint8_t *p) { volatile uint8_t v = *p; (void)v; }
    """
    void ps_touch(const uint8_t* p) noexcept nogil
    void PS_CAP_PREFETCH(const void* p) noexcept nogil
    uint32_t ps_ld32(const uint8_t *p, int swap) nogil
    uint16_t ps_ld16(const uint8_t *p, int swap) nogil


# Bytes ahead of the walk that are prefetched, every cache line of them:
# each record header's address depends on the previous record's caplen, so
# without it the walk waits for one cold miss per record.  A prefetch of a
# page the mmap has not mapped yet is dropped, so the bytes are also read
# every 4 KiB up to TOUCH_DIST ahead (a page's fault, and the kernel's
# fault-around, happen there).
cdef enum:
    PF_DIST = 4096
    TOUCH_DIST = 32768

# Walker / merger status codes (mirrored as Python ints below).
cdef enum:
    ST_FULL = 0      # the batch reached max_n rows
    ST_MORE = 1      # the bytes at pos are not a complete record: read more, or end of input
    ST_BLOCK = 2     # pcapng SHB or IDB at pos: Python parses it
    ST_ERROR = 3     # corrupt input at pos (err_* say what)
    ST_NEED = 4      # merger: source `need` ran out of rows
    ST_DONE = 5      # merger: every source ended
    ST_GROW = 6      # merger: one record does not fit the empty output buffer

# Error codes.
cdef enum:
    E_NONE = 0
    E_CAPLEN = 1     # pcap record caplen above the limit
    E_BLOCKLEN = 2   # pcapng block total length invalid
    E_TRAILER = 3    # pcapng trailing block length differs
    E_SHORT = 4      # pcapng block too short for its type
    E_IFACE = 5      # pcapng packet names an undefined interface
    E_PKTLEN = 6     # pcapng packet data overruns its block

DEF BT_SHB = 0x0A0D0D0A
DEF BT_IDB = 1
DEF BT_PB = 2
DEF BT_SPB = 3
DEF BT_EPB = 6

STATUS_FULL = ST_FULL
STATUS_MORE = ST_MORE
STATUS_BLOCK = ST_BLOCK
STATUS_ERROR = ST_ERROR
STATUS_NEED = ST_NEED
STATUS_DONE = ST_DONE
STATUS_GROW = ST_GROW
ERR_CAPLEN = E_CAPLEN
ERR_BLOCKLEN = E_BLOCKLEN
ERR_TRAILER = E_TRAILER
ERR_SHORT = E_SHORT
ERR_IFACE = E_IFACE
ERR_PKTLEN = E_PKTLEN

# libpcap's MAXIMUM_SNAPLEN: the caplen every sane capture stays under.
# Hard ceiling for one record / pcapng block: bounds the streaming buffer
# whatever a hostile header claims.  libpcap uses 16 MiB as its initial
# pcapng block-size limit as well.
cdef enum:
    C_MAXIMUM_SNAPLEN = 262144
    C_MAX_BLOCK = 16 * 1024 * 1024
MAXIMUM_SNAPLEN = C_MAXIMUM_SNAPLEN
MAX_RECORD = C_MAX_BLOCK
MAX_BLOCK = C_MAX_BLOCK


cdef struct IfInfo:
    uint32_t gid        # global interface index (the iface column)
    uint32_t snaplen
    uint16_t linktype
    uint8_t mode        # 0: ts*factor  1: ts/factor  2: binary fraction  3: always 0
    uint8_t shift       # mode 2: ts units are 2^-shift s
    uint64_t factor
    int64_t off_ns      # if_tsoffset in ns


cdef inline int64_t _ng_ts(const IfInfo* f, uint64_t t) noexcept nogil:
    # Unsigned arithmetic: hostile values wrap instead of hitting C's
    # signed-overflow undefined behaviour.
    cdef uint64_t r, whole, low
    cdef unsigned int k
    if f.mode == 0:
        r = t * f.factor
    elif f.mode == 1:
        r = t // f.factor
    elif f.mode == 2:
        k = f.shift
        if k >= 64:
            whole = 0
            low = t
        else:
            whole = t >> k
            low = t & ((<uint64_t>1 << k) - 1)
        if k <= 34:
            # low < 2^34, * 1e9 < 2^64: exact
            r = whole * 1000000000ULL + ((low * 1000000000ULL) >> k)
        elif k - 34 >= 64:
            r = whole * 1000000000ULL
        else:
            r = whole * 1000000000ULL + (((low >> (k - 34)) * 1000000000ULL) >> 34)
    else:
        r = 0
    return <int64_t>(r + <uint64_t>f.off_ns)


cdef class Walker:
    """Cursor over one capture file's bytes; fills RecordBatch rows.

    The bytes are `buffer[0:length]`, which starts at file offset
    `buf_fileoff` (0 for an mmap; the rolling window's start when streaming).
    """
    cdef object buffer
    cdef const uint8_t* base
    cdef Py_ssize_t length
    cdef public Py_ssize_t pos
    cdef public int64_t buf_fileoff
    cdef public bint pcapng
    cdef public bint swapped
    # classic pcap
    cdef int64_t tsmul
    cdef uint32_t limit
    cdef uint16_t linktype
    cdef uint32_t gid
    # pcapng: interfaces of the current section
    cdef IfInfo* ifs
    cdef Py_ssize_t nif, ifcap
    cdef public int64_t last_ts
    # counters and diagnostics
    cdef public int64_t records
    cdef public int64_t nbytes
    cdef public int64_t wirefix
    cdef public int64_t wirefix_off
    cdef public Py_ssize_t need
    cdef public int err_code
    cdef public uint32_t err_type
    cdef public uint64_t err_value
    cdef public uint64_t err_limit

    def __cinit__(self):
        self.ifs = NULL
        self.nif = 0
        self.ifcap = 0
        self.wirefix_off = -1
        self.tsmul = 1000
        self.limit = C_MAXIMUM_SNAPLEN

    def __dealloc__(self):
        PyMem_Free(self.ifs)

    def set_buffer(self, buffer, Py_ssize_t length, int64_t buf_fileoff):
        """Walk `buffer[0:length]`; the caller keeps `buffer` alive and unmoved."""
        cdef const uint8_t[::1] view
        if buffer is None or length == 0:
            self.buffer = buffer
            self.base = NULL
            self.length = 0
            self.buf_fileoff = buf_fileoff
            return
        view = memoryview(buffer).cast("B")
        if length > view.shape[0]:
            raise ValueError("length beyond buffer")
        self.buffer = buffer
        self.base = &view[0]
        self.length = length
        self.buf_fileoff = buf_fileoff

    @property
    def length(self):
        return self.length

    @property
    def nif(self):
        return self.nif

    def setup_pcap(self, bint swapped, bint nano, int linktype, uint32_t gid, uint32_t limit):
        self.pcapng = False
        self.swapped = swapped
        self.tsmul = 1 if nano else 1000
        self.linktype = <uint16_t>linktype
        self.gid = gid
        self.limit = limit

    def new_section(self, bint swapped):
        """A pcapng SHB: new byte order, no interfaces yet."""
        self.pcapng = True
        self.swapped = swapped
        self.nif = 0

    def add_iface(self, uint32_t gid, int linktype, uint32_t snaplen, int mode,
                  int shift, uint64_t factor, int64_t off_ns):
        cdef IfInfo* grown
        if self.nif == self.ifcap:
            grown = <IfInfo*>PyMem_Realloc(self.ifs, (self.ifcap * 2 + 8) * sizeof(IfInfo))
            if grown == NULL:
                raise MemoryError()
            self.ifs = grown
            self.ifcap = self.ifcap * 2 + 8
        self.ifs[self.nif].gid = gid
        self.ifs[self.nif].linktype = <uint16_t>linktype
        self.ifs[self.nif].snaplen = snaplen
        self.ifs[self.nif].mode = <uint8_t>mode
        self.ifs[self.nif].shift = <uint8_t>shift
        self.ifs[self.nif].factor = factor
        self.ifs[self.nif].off_ns = off_ns
        self.nif += 1

    def fill(self, RecordBatch rb, Py_ssize_t max_n, int64_t frame0, int src):
        """Append rows to `rb` (already bound to this walker's buffer) up to
        `max_n`; row i gets frame number frame0 + i.  Returns a status."""
        cdef int st
        if max_n > rb.capacity:
            max_n = rb.capacity
        if rb.n >= max_n:
            return ST_FULL
        if self.base == NULL:
            self.need = 8 if self.pcapng else 16
            return ST_MORE
        if rb.base != self.base:
            raise ValueError("batch is not bound to the walker's buffer")
        with nogil:
            if self.pcapng:
                if self.swapped:
                    st = _ng_walk(self, rb, max_n, frame0, <uint16_t>src, 1)
                else:
                    st = _ng_walk(self, rb, max_n, frame0, <uint16_t>src, 0)
            else:
                if self.swapped:
                    st = _pcap_walk(self, rb, max_n, frame0, <uint16_t>src, 1)
                else:
                    st = _pcap_walk(self, rb, max_n, frame0, <uint16_t>src, 0)
        return st


cdef inline void _prefetch_ahead(const uint8_t* base, Py_ssize_t* pf, Py_ssize_t* tp,
                                 Py_ssize_t pos, Py_ssize_t end) noexcept nogil:
    # every cache line up to PF_DIST bytes past the record at pos (pf: the
    # first line not prefetched yet), and a read every 4 KiB up to
    # TOUCH_DIST past it (tp: the next offset to read)
    cdef Py_ssize_t upto = pos + (PF_DIST + 512), p = pf[0]
    if upto > end:
        upto = end
    while p < upto:
        PS_CAP_PREFETCH(base + p)
        p += 64
    pf[0] = p
    upto = pos + TOUCH_DIST
    if upto > end:
        upto = end
    p = tp[0]
    while p < upto:
        ps_touch(base + p)
        p += 4096
    tp[0] = p


cdef inline int _pcap_walk(Walker w, RecordBatch rb, Py_ssize_t max_n,
                           int64_t frame0, uint16_t src, const int swap) noexcept nogil:
    # Everything the loop touches lives in locals: with -fno-strict-aliasing
    # the compiler must otherwise assume each column store may change them.
    cdef const uint8_t* base = w.base
    cdef const uint8_t* p
    cdef Py_ssize_t pos = w.pos, end = w.length, n = rb.n
    cdef int64_t fo0 = w.buf_fileoff, tsmul = w.tsmul
    cdef uint32_t limit = w.limit, gid = w.gid, sec, frac, cap, wire
    cdef uint16_t lt = w.linktype
    cdef int64_t nbytes = 0, wirefix = 0
    cdef int64_t* o_off = rb.offset
    cdef uint32_t* o_cap = rb.caplen
    cdef uint32_t* o_wire = rb.wirelen
    cdef int64_t* o_ts = rb.ts
    cdef uint32_t* o_if = rb.iface
    cdef uint16_t* o_lt = rb.linktype
    cdef int64_t* o_fr = rb.frame
    cdef uint16_t* o_src = rb.src
    cdef int64_t* o_fo = rb.fileoff
    cdef Py_ssize_t n0 = n, k
    cdef int st = ST_FULL
    cdef Py_ssize_t pf = pos + PF_DIST, tp = pos + PF_DIST
    while n < max_n:
        if end - pos < 16:
            st = ST_MORE
            w.need = 16
            break
        _prefetch_ahead(base, &pf, &tp, pos, end)
        p = base + pos
        sec = ps_ld32(p, swap)
        frac = ps_ld32(p + 4, swap)
        cap = ps_ld32(p + 8, swap)
        wire = ps_ld32(p + 12, swap)
        if cap > limit:
            st = ST_ERROR
            w.err_code = E_CAPLEN
            w.err_value = cap
            w.err_limit = limit
            break
        if end - pos - 16 < <Py_ssize_t>cap:
            st = ST_MORE
            w.need = 16 + <Py_ssize_t>cap
            break
        if wire < cap:
            # caplen > wirelen is impossible on a real link; keep the bytes,
            # trust caplen (wirelen := caplen) and report it once per file.
            if w.wirefix_off < 0:
                w.wirefix_off = fo0 + pos
            wire = cap
            wirefix += 1
        o_off[n] = pos + 16
        o_cap[n] = cap
        o_wire[n] = wire
        o_ts[n] = <int64_t>sec * 1000000000 + <int64_t>frac * tsmul
        nbytes += cap
        pos += 16 + <Py_ssize_t>cap
        n += 1
    # The columns that follow from the row number or are the same for
    # every record of a pcap file, in loops of their own, one per column
    # so that gcc vectorises each: in the walk above their pointers and
    # values would sit on the stack.
    for k in range(n0, n):
        o_if[k] = gid
    for k in range(n0, n):
        o_lt[k] = lt
    for k in range(n0, n):
        o_src[k] = src
    for k in range(n0, n):
        o_fr[k] = frame0 + k
    for k in range(n0, n):
        o_fo[k] = o_off[k] + (fo0 - 16)
    w.pos = pos
    w.records += n - n0
    w.nbytes += nbytes
    w.wirefix += wirefix
    if n > n0:
        w.last_ts = o_ts[n - 1]
    rb.n = n
    return st


cdef inline int _ng_walk(Walker w, RecordBatch rb, Py_ssize_t max_n,
                         int64_t frame0, uint16_t src, const int swap) noexcept nogil:
    cdef const uint8_t* base = w.base
    cdef const uint8_t* p
    cdef Py_ssize_t pos = w.pos, end = w.length, n = rb.n, avail, data
    cdef int64_t fo0 = w.buf_fileoff, last_ts = w.last_ts, ts
    cdef const IfInfo* ifs = w.ifs
    cdef Py_ssize_t nif = w.nif
    cdef uint32_t btype, blen, ifid, cap, wire, snap
    cdef int64_t nbytes = 0, wirefix = 0
    cdef int64_t* o_off = rb.offset
    cdef uint32_t* o_cap = rb.caplen
    cdef uint32_t* o_wire = rb.wirelen
    cdef int64_t* o_ts = rb.ts
    cdef uint32_t* o_if = rb.iface
    cdef uint16_t* o_lt = rb.linktype
    cdef int64_t* o_fr = rb.frame
    cdef uint16_t* o_src = rb.src
    cdef int64_t* o_fo = rb.fileoff
    cdef Py_ssize_t n0 = n
    cdef int st = ST_FULL
    cdef Py_ssize_t pf = pos + PF_DIST, tp = pos + PF_DIST
    while n < max_n:
        avail = end - pos
        if avail < 8:
            st = ST_MORE
            w.need = 8
            break
        _prefetch_ahead(base, &pf, &tp, pos, end)
        p = base + pos
        btype = ps_ld32(p, swap)
        if btype == BT_SHB:
            # Its byte order is not ours to assume: Python reads the BOM.
            st = ST_BLOCK
            break
        blen = ps_ld32(p + 4, swap)
        if blen < 12 or (blen & 3) != 0 or blen > C_MAX_BLOCK:
            st = ST_ERROR
            w.err_code = E_BLOCKLEN
            w.err_type = btype
            w.err_value = blen
            break
        if avail < <Py_ssize_t>blen:
            st = ST_MORE
            w.need = blen
            break
        if ps_ld32(p + blen - 4, swap) != blen:
            st = ST_ERROR
            w.err_code = E_TRAILER
            w.err_type = btype
            w.err_value = ps_ld32(p + blen - 4, swap)
            w.err_limit = blen
            break
        if btype == BT_EPB or btype == BT_PB:
            if blen < 32:
                st = ST_ERROR
                w.err_code = E_SHORT
                w.err_type = btype
                w.err_value = blen
                break
            if btype == BT_EPB:
                ifid = ps_ld32(p + 8, swap)
            else:
                ifid = ps_ld16(p + 8, swap)
            if ifid >= nif:
                st = ST_ERROR
                w.err_code = E_IFACE
                w.err_type = btype
                w.err_value = ifid
                w.err_limit = nif
                break
            cap = ps_ld32(p + 20, swap)
            wire = ps_ld32(p + 24, swap)
            if cap > blen - 32:
                st = ST_ERROR
                w.err_code = E_PKTLEN
                w.err_type = btype
                w.err_value = cap
                w.err_limit = blen - 32
                break
            ts = _ng_ts(&ifs[ifid], (<uint64_t>ps_ld32(p + 12, swap) << 32) | ps_ld32(p + 16, swap))
            data = pos + 28
        elif btype == BT_SPB:
            if blen < 16:
                st = ST_ERROR
                w.err_code = E_SHORT
                w.err_type = btype
                w.err_value = blen
                break
            if nif == 0:
                st = ST_ERROR
                w.err_code = E_IFACE
                w.err_type = btype
                w.err_value = 0
                w.err_limit = 0
                break
            ifid = 0
            wire = ps_ld32(p + 8, swap)
            cap = wire
            snap = ifs[0].snaplen
            if snap != 0 and cap > snap:
                cap = snap
            if cap > blen - 16:
                st = ST_ERROR
                w.err_code = E_PKTLEN
                w.err_type = btype
                w.err_value = cap
                w.err_limit = blen - 16
                break
            # No timestamp in an SPB: it inherits the previous record's.
            ts = last_ts
            data = pos + 12
        elif btype == BT_IDB:
            st = ST_BLOCK
            break
        else:
            pos += blen
            continue
        if wire < cap:
            if w.wirefix_off < 0:
                w.wirefix_off = fo0 + pos
            wire = cap
            wirefix += 1
        o_off[n] = data
        o_cap[n] = cap
        o_wire[n] = wire
        o_ts[n] = ts
        o_if[n] = ifs[ifid].gid
        o_lt[n] = ifs[ifid].linktype
        o_fr[n] = frame0 + n
        o_src[n] = src
        o_fo[n] = fo0 + pos
        last_ts = ts
        nbytes += cap
        pos += blen
        n += 1
    w.pos = pos
    w.records += n - n0
    w.nbytes += nbytes
    w.wirefix += wirefix
    w.last_ts = last_ts
    rb.n = n
    return st


# ---------------------------------------------------------------------------
# Merger: k sources -> one timestamp-ordered stream
# ---------------------------------------------------------------------------

@cython.final
cdef class Merger:
    """Stable k-way merge of per-file batches by timestamp, copying bytes.

    Only the head record of each source is compared, so a file whose
    timestamps go backwards keeps its own order; ties go to the lower source
    index.  A binary heap keyed (ts, source) picks the next head.
    """
    cdef int k
    cdef int* heap
    cdef int hn
    cdef const uint8_t** s_base
    cdef int64_t** s_off
    cdef int64_t** s_ts
    cdef int64_t** s_fo
    cdef uint32_t** s_cap
    cdef uint32_t** s_wire
    cdef uint32_t** s_if
    cdef uint16_t** s_lt
    cdef Py_ssize_t* s_i
    cdef Py_ssize_t* s_n
    cdef list batches
    cdef public int64_t frame
    cdef public int need
    cdef public Py_ssize_t grow_to
    cdef object obuf
    cdef uint8_t* optr
    cdef Py_ssize_t ocap
    cdef Py_ssize_t ouse

    def __cinit__(self, int k, Py_ssize_t out_bytes):
        if k < 1:
            raise ValueError("k must be >= 1")
        self.k = k
        self.hn = 0
        self.need = -1
        self.batches = [None] * k
        self.heap = <int*>PyMem_Malloc(k * sizeof(int))
        self.s_base = <const uint8_t**>PyMem_Malloc(k * sizeof(void*))
        self.s_off = <int64_t**>PyMem_Malloc(k * sizeof(void*))
        self.s_ts = <int64_t**>PyMem_Malloc(k * sizeof(void*))
        self.s_fo = <int64_t**>PyMem_Malloc(k * sizeof(void*))
        self.s_cap = <uint32_t**>PyMem_Malloc(k * sizeof(void*))
        self.s_wire = <uint32_t**>PyMem_Malloc(k * sizeof(void*))
        self.s_if = <uint32_t**>PyMem_Malloc(k * sizeof(void*))
        self.s_lt = <uint16_t**>PyMem_Malloc(k * sizeof(void*))
        self.s_i = <Py_ssize_t*>PyMem_Malloc(k * sizeof(Py_ssize_t))
        self.s_n = <Py_ssize_t*>PyMem_Malloc(k * sizeof(Py_ssize_t))
        if (self.heap == NULL or self.s_base == NULL or self.s_off == NULL or self.s_ts == NULL
                or self.s_fo == NULL or self.s_cap == NULL or self.s_wire == NULL
                or self.s_if == NULL or self.s_lt == NULL or self.s_i == NULL or self.s_n == NULL):
            raise MemoryError()
        self._alloc_out(max(out_bytes, 1))

    def __dealloc__(self):
        PyMem_Free(self.heap)
        PyMem_Free(self.s_base)
        PyMem_Free(self.s_off)
        PyMem_Free(self.s_ts)
        PyMem_Free(self.s_fo)
        PyMem_Free(self.s_cap)
        PyMem_Free(self.s_wire)
        PyMem_Free(self.s_if)
        PyMem_Free(self.s_lt)
        PyMem_Free(self.s_i)
        PyMem_Free(self.s_n)

    cdef _alloc_out(self, Py_ssize_t nbytes):
        self.obuf = np.empty(nbytes, np.uint8)
        self.optr = <uint8_t*>cnp.PyArray_DATA(self.obuf)
        self.ocap = nbytes
        self.ouse = 0

    def grow(self, RecordBatch out, Py_ssize_t nbytes):
        """Replace the (empty) output buffer by a larger one."""
        if out.n != 0:
            raise ValueError("grow only between batches")
        self._alloc_out(nbytes)
        out._bind(self.obuf)

    def bind(self, RecordBatch out):
        out._bind(self.obuf)

    cdef inline bint _less(self, int a, int b) noexcept nogil:
        cdef int64_t ta = self.s_ts[a][self.s_i[a]]
        cdef int64_t tb = self.s_ts[b][self.s_i[b]]
        return ta < tb or (ta == tb and a < b)

    cdef void _sift_down(self, int i) noexcept nogil:
        cdef int c, t
        while True:
            c = 2 * i + 1
            if c >= self.hn:
                return
            if c + 1 < self.hn and self._less(self.heap[c + 1], self.heap[c]):
                c += 1
            if not self._less(self.heap[c], self.heap[i]):
                return
            t = self.heap[c]
            self.heap[c] = self.heap[i]
            self.heap[i] = t
            i = c

    cdef void _sift_up(self, int i) noexcept nogil:
        cdef int p, t
        while i > 0:
            p = (i - 1) // 2
            if not self._less(self.heap[i], self.heap[p]):
                return
            t = self.heap[p]
            self.heap[p] = self.heap[i]
            self.heap[i] = t
            i = p

    cdef void _point(self, int s, RecordBatch rb):
        self.batches[s] = rb
        self.s_base[s] = rb.base
        self.s_off[s] = rb.offset
        self.s_ts[s] = rb.ts
        self.s_fo[s] = rb.fileoff
        self.s_cap[s] = rb.caplen
        self.s_wire[s] = rb.wirelen
        self.s_if[s] = rb.iface
        self.s_lt[s] = rb.linktype
        self.s_i[s] = 0
        self.s_n[s] = rb.n

    def add_source(self, int s, RecordBatch rb):
        """Initial batch of source s (rb.n > 0)."""
        if not 0 <= s < self.k or self.hn >= self.k or rb.n <= 0:
            raise ValueError("bad source")
        self._point(s, rb)
        self.heap[self.hn] = s
        self.hn += 1
        self._sift_up(self.hn - 1)

    def refill(self, RecordBatch rb):
        """Next batch (rb.n > 0) of the source the last merge() said it needs."""
        cdef int s = self.need
        if s < 0 or rb.n <= 0:
            raise ValueError("no source is waiting")
        self._point(s, rb)
        self.need = -1
        self._sift_down(0)

    def end_source(self):
        """The source the last merge() said it needs has no more records."""
        if self.need < 0:
            raise ValueError("no source is waiting")
        self.batches[self.need] = None
        self.need = -1
        self.hn -= 1
        self.heap[0] = self.heap[self.hn]
        self._sift_down(0)

    def merge(self, RecordBatch out):
        """Move head records into `out` (bound to the merger's buffer by
        bind()/grow()) until it is full, a source needs a new batch, or every
        source ended.  Returns a status."""
        cdef int st = ST_FULL, s
        cdef Py_ssize_t i, n, cap_n = out.capacity
        cdef uint32_t cap
        cdef int64_t frame = self.frame
        cdef Py_ssize_t ouse, ocap = self.ocap
        cdef uint8_t* optr = self.optr
        cdef int64_t* o_off = out.offset
        cdef uint32_t* o_cap = out.caplen
        cdef uint32_t* o_wire = out.wirelen
        cdef int64_t* o_ts = out.ts
        cdef uint32_t* o_if = out.iface
        cdef uint16_t* o_lt = out.linktype
        cdef int64_t* o_fr = out.frame
        cdef uint16_t* o_src = out.src
        cdef int64_t* o_fo = out.fileoff
        if self.need >= 0:
            raise ValueError("a source is waiting for refill()/end_source()")
        if out.base != self.optr:
            raise ValueError("output batch is not bound to the merger's buffer")
        if out.n == 0:
            self.ouse = 0
        n = out.n
        ouse = self.ouse
        with nogil:
            while True:
                if self.hn == 0:
                    st = ST_DONE
                    break
                if n >= cap_n:
                    st = ST_FULL
                    break
                s = self.heap[0]
                i = self.s_i[s]
                cap = self.s_cap[s][i]
                if ouse + <Py_ssize_t>cap > ocap:
                    if n > 0:
                        st = ST_FULL
                    else:
                        st = ST_GROW
                        self.grow_to = cap
                    break
                memcpy(optr + ouse, self.s_base[s] + self.s_off[s][i], cap)
                frame += 1
                o_off[n] = ouse
                o_cap[n] = cap
                o_wire[n] = self.s_wire[s][i]
                o_ts[n] = self.s_ts[s][i]
                o_if[n] = self.s_if[s][i]
                o_lt[n] = self.s_lt[s][i]
                o_fr[n] = frame
                o_src[n] = <uint16_t>s
                o_fo[n] = self.s_fo[s][i]
                ouse += cap
                n += 1
                self.s_i[s] = i + 1
                if i + 1 >= self.s_n[s]:
                    self.need = s
                    st = ST_NEED
                    break
                if self.hn > 1:
                    self._sift_down(0)
        self.ouse = ouse
        self.frame = frame
        out.n = n
        return st
