# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Address dictionary for the output tables (pystack.results.writer).

Models no kernel code.  Maps 16-byte addresses (IPv4 as ::ffff:a.b.c.d) to
dense ids in first-seen order with an open-addressing table, so a batch's
address columns become dictionary indices in one nogil pass; only addresses
never seen before go back to Python (to be formatted once, for the
dictionary).  Ids are stable for the whole run: the Arrow IPC writer emits
them as dictionary deltas.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, uint64_t, int32_t, int64_t
from libc.stdlib cimport calloc, realloc, free
from libc.string cimport memcpy


cdef extern from "arpa/inet.h" nogil:
    const char* inet_ntop(int af, const void* src, char* dst, unsigned int size)

cdef extern from "sys/socket.h" nogil:
    int AF_INET6


cdef inline int _fmt_u8(char* o, unsigned int v) noexcept nogil:
    if v >= 100:
        o[0] = <char>(48 + v // 100)
        o[1] = <char>(48 + (v // 10) % 10)
        o[2] = <char>(48 + v % 10)
        return 3
    if v >= 10:
        o[0] = <char>(48 + v // 10)
        o[1] = <char>(48 + v % 10)
        return 2
    o[0] = <char>(48 + v)
    return 1


cdef inline uint64_t _slot(uint64_t a, uint64_t b, int bits) noexcept nogil:
    """The home slot of an address in a table of 2**bits slots: Fibonacci
    hashing, the top bits of a product (they depend on every key bit; an
    IPv4-mapped address varies only in the top half of b)."""
    return ((a * <uint64_t>0x9e3779b97f4a7c15ULL ^ b) * <uint64_t>0xbf58476d1ce4e5b9ULL) \
        >> (64 - bits)


# rows encoded between two growth checks
cdef Py_ssize_t CHUNK = 1024


# a slot: the key and its id side by side, so that a lookup touches one
# cache line (two parallel arrays cost two misses a row on a big table)
cdef struct Slot:
    uint64_t a, b
    int32_t val                 # -1 empty
    int32_t _pad


cdef class AddrTable:
    """addr (2 x uint64) -> id; ids 0, 1, 2, ... in first-seen order."""
    cdef Slot* slots
    cdef uint64_t mask
    cdef int bits               # mask = 2**bits - 1
    cdef readonly int64_t count
    # the formatted address of each id (set_strings), for gather()
    cdef int64_t* soff          # per id: start in sdata (soff[id + 1] its end)
    cdef uint8_t* sdata
    cdef int64_t id_cap, sdata_len, sdata_cap, nstr

    def __cinit__(self, int64_t slots=1 << 12):
        cdef int64_t n = 16, i
        while n < slots:
            n <<= 1
        self.slots = <Slot*>calloc(n, sizeof(Slot))
        if self.slots == NULL:
            raise MemoryError()
        for i in range(n):
            self.slots[i].val = -1
        self.mask = n - 1
        self.bits = 0
        while (1 << self.bits) < n:
            self.bits += 1
        self.count = 0
        self.soff = NULL
        self.sdata = NULL
        self.id_cap = 0
        self.sdata_len = 0
        self.sdata_cap = 0
        self.nstr = 0

    def __dealloc__(self):
        free(self.slots)
        free(self.soff)
        free(self.sdata)

    cdef int _grow(self) noexcept nogil:
        """Double the table; -1 when out of memory (the table unchanged)."""
        cdef uint64_t n = (self.mask + 1) * 2, i, h
        cdef Slot* ns = <Slot*>calloc(n, sizeof(Slot))
        if ns == NULL:
            return -1
        for i in range(n):
            ns[i].val = -1
        for i in range(self.mask + 1):
            if self.slots[i].val < 0:
                continue
            h = _slot(self.slots[i].a, self.slots[i].b, self.bits + 1)
            while ns[h].val >= 0:
                h = (h + 1) & (n - 1)
            ns[h] = self.slots[i]
        free(self.slots)
        self.slots = ns
        self.mask = n - 1
        self.bits += 1
        return 0

    def encode(self, words, valid, out):
        """words: uint64[n, 2] (the 16 address bytes of each row); valid:
        uint8[n] (0: no address, id -1); out: int32[n] ids.  Returns the
        rows (int64) whose address was new, in id order: format them and
        hand the strings to set_strings before gather()."""
        cdef const uint64_t[:, ::1] w = words
        cdef const uint8_t[::1] ok = valid
        cdef int32_t[::1] o = out
        cdef Py_ssize_t n = w.shape[0], i
        cdef uint64_t h, a, b
        cdef Slot* sl
        new = np.empty(n, np.int64)
        cdef int64_t[::1] nw = new
        cdef int64_t nn = 0
        if n == 0:
            return new
        cdef const uint64_t* wp = &w[0, 0]
        cdef const uint8_t* okp = &ok[0]
        cdef int32_t* op = &o[0]
        cdef Slot* slots
        cdef uint64_t mask
        cdef int bits
        cdef int64_t count
        cdef Py_ssize_t lo = 0, hi
        while lo < n:
            # a chunk at a time, the table grown first for the worst case of
            # the chunk (load factor <= 1/2); not for the whole batch's: a
            # small table stays in cache
            hi = min(n, lo + CHUNK)
            while (self.count + (hi - lo)) * 2 > <int64_t>(self.mask + 1):
                if self._grow() < 0:
                    raise MemoryError()
            # the table in locals (the loop's stores cannot alias them)
            slots = self.slots
            mask = self.mask
            bits = self.bits
            count = self.count
            with nogil:
                for i in range(lo, hi):
                    if not okp[i]:
                        op[i] = -1
                        continue
                    a = wp[2 * i]
                    b = wp[2 * i + 1]
                    h = _slot(a, b, bits)
                    while True:
                        sl = &slots[h]
                        if sl.val < 0:
                            sl.a = a
                            sl.b = b
                            sl.val = <int32_t>count
                            count += 1
                            nw[nn] = i
                            nn += 1
                            break
                        if sl.a == a and sl.b == b:
                            break
                        h = (h + 1) & mask
                    op[i] = sl.val
            self.count = count
            lo = hi
        return new[:nn]

    def set_strings(self, list strs):
        """The text of the next len(strs) ids (ASCII bytes), in id order."""
        cdef bytes b
        cdef Py_ssize_t L
        cdef int64_t need = self.nstr + len(strs) + 1, cap
        cdef void* p
        if need > self.id_cap:
            cap = max(need, 2 * self.id_cap, 1024)
            p = realloc(self.soff, cap * sizeof(int64_t))
            if p == NULL:
                raise MemoryError()
            self.soff = <int64_t*>p
            self.id_cap = cap
            if self.nstr == 0:
                self.soff[0] = 0
        for b in strs:
            L = len(b)
            if self.sdata_len + L > self.sdata_cap:
                cap = max(self.sdata_len + L, 2 * self.sdata_cap, 1 << 16)
                p = realloc(self.sdata, cap)
                if p == NULL:
                    raise MemoryError()
                self.sdata = <uint8_t*>p
                self.sdata_cap = cap
            memcpy(self.sdata + self.sdata_len, <const char*>b, L)
            self.sdata_len += L
            self.nstr += 1
            self.soff[self.nstr] = self.sdata_len

    def gather(self, ids):
        """Arrow string buffers for ids (int32[n], -1 null): (offsets
        int32[n + 1], data uint8[...]) ; nulls are empty strings here (the
        caller adds the validity bitmap)."""
        cdef const int32_t[::1] g = ids
        cdef Py_ssize_t n = g.shape[0], i
        offsets = np.empty(n + 1, np.int32)
        cdef int32_t[::1] of = offsets
        cdef int64_t tot = 0, L
        cdef int32_t x
        if self.nstr == 0:
            self.set_strings([])
        for i in range(n):
            x = g[i]
            if x >= 0 and x >= self.nstr:
                raise ValueError("gather: id without a string (set_strings first)")
        with nogil:
            of[0] = 0
            for i in range(n):
                x = g[i]
                if x >= 0:
                    tot += self.soff[x + 1] - self.soff[x]
                of[i + 1] = <int32_t>tot
        data = np.empty(max(tot, 1), np.uint8)
        cdef uint8_t[::1] d = data
        cdef int64_t pos = 0
        with nogil:
            for i in range(n):
                x = g[i]
                if x >= 0:
                    L = self.soff[x + 1] - self.soff[x]
                    memcpy(&d[pos], self.sdata + self.soff[x], L)
                    pos += L
        return offsets, data[:tot]


def format_rows(words, rows):
    """The text of the addresses of `rows` (uint64[n, 2] words, as in
    encode): IPv4-mapped as dotted quads, others as inet_ntop(AF_INET6)
    prints them.  Returns (blob bytes, lengths int32[len(rows)])."""
    cdef const uint8_t[:, ::1] b = np.ascontiguousarray(words).view(np.uint8)
    cdef const int64_t[::1] r = np.ascontiguousarray(rows, dtype=np.int64)
    cdef Py_ssize_t n = r.shape[0], j, k, pos = 0
    lens = np.empty(n, np.int32)
    cdef int32_t[::1] ln = lens
    out = bytearray(n * 46)
    cdef char* o = out
    cdef const uint8_t* a
    cdef bint v4
    cdef int m
    with nogil:
        for j in range(n):
            a = &b[r[j], 0]
            v4 = a[10] == 0xff and a[11] == 0xff
            for k in range(10):
                if a[k]:
                    v4 = False
            if v4:
                m = _fmt_u8(o + pos, a[12])
                o[pos + m] = 46
                m += 1
                m += _fmt_u8(o + pos + m, a[13])
                o[pos + m] = 46
                m += 1
                m += _fmt_u8(o + pos + m, a[14])
                o[pos + m] = 46
                m += 1
                m += _fmt_u8(o + pos + m, a[15])
            else:
                inet_ntop(AF_INET6, a, o + pos, 46)
                m = 0
                while o[pos + m]:
                    m += 1
            ln[j] = m
            pos += m
    return bytes(out[:pos]), lens
