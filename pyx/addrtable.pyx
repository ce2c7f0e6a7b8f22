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
from libc.stdlib cimport calloc, free


cdef inline uint64_t _mix(uint64_t a, uint64_t b) noexcept nogil:
    cdef uint64_t z = a * <uint64_t>0x9e3779b97f4a7c15ULL ^ b
    z = (z ^ (z >> 30)) * <uint64_t>0xbf58476d1ce4e5b9ULL
    z = (z ^ (z >> 27)) * <uint64_t>0x94d049bb133111ebULL
    return z ^ (z >> 31)


cdef class AddrTable:
    """addr (2 x uint64) -> id; ids 0, 1, 2, ... in first-seen order."""
    cdef uint64_t* keys         # 2 words per slot
    cdef int32_t* vals          # -1 empty
    cdef uint64_t mask
    cdef readonly int64_t count

    def __cinit__(self, int64_t slots=1 << 12):
        cdef int64_t n = 16, i
        while n < slots:
            n <<= 1
        self.keys = <uint64_t*>calloc(2 * n, sizeof(uint64_t))
        self.vals = <int32_t*>calloc(n, sizeof(int32_t))
        if self.keys == NULL or self.vals == NULL:
            raise MemoryError()
        for i in range(n):
            self.vals[i] = -1
        self.mask = n - 1
        self.count = 0

    def __dealloc__(self):
        free(self.keys)
        free(self.vals)

    cdef int _grow(self) except -1:
        cdef uint64_t n = (self.mask + 1) * 2, i, p, h
        cdef uint64_t* nk = <uint64_t*>calloc(2 * n, sizeof(uint64_t))
        cdef int32_t* nv = <int32_t*>calloc(n, sizeof(int32_t))
        if nk == NULL or nv == NULL:
            free(nk)
            free(nv)
            raise MemoryError()
        for i in range(n):
            nv[i] = -1
        for i in range(self.mask + 1):
            if self.vals[i] < 0:
                continue
            h = _mix(self.keys[2 * i], self.keys[2 * i + 1]) & (n - 1)
            while nv[h] >= 0:
                h = (h + 1) & (n - 1)
            nk[2 * h] = self.keys[2 * i]
            nk[2 * h + 1] = self.keys[2 * i + 1]
            nv[h] = self.vals[i]
        free(self.keys)
        free(self.vals)
        self.keys = nk
        self.vals = nv
        self.mask = n - 1
        return 0

    def encode(self, words, valid, out):
        """words: uint64[n, 2] (the 16 address bytes of each row); valid:
        uint8[n] (0: no address, id -1); out: int32[n] ids.  Returns the
        rows (int64) whose address was new, in id order."""
        cdef const uint64_t[:, ::1] w = words
        cdef const uint8_t[::1] ok = valid
        cdef int32_t[::1] o = out
        cdef Py_ssize_t n = w.shape[0], i
        cdef uint64_t h, a, b
        cdef int64_t first = self.count
        new = np.empty(n, np.int64)
        cdef int64_t[::1] nw = new
        cdef int64_t nn = 0
        # worst case every row is new: keep the load factor below 1/2
        while (self.count + n) * 2 > <int64_t>(self.mask + 1):
            self._grow()
        with nogil:
            for i in range(n):
                if not ok[i]:
                    o[i] = -1
                    continue
                a = w[i, 0]
                b = w[i, 1]
                h = _mix(a, b) & self.mask
                while True:
                    if self.vals[h] < 0:
                        self.keys[2 * h] = a
                        self.keys[2 * h + 1] = b
                        self.vals[h] = <int32_t>self.count
                        self.count += 1
                        nw[nn] = i
                        nn += 1
                        break
                    if self.keys[2 * h] == a and self.keys[2 * h + 1] == b:
                        break
                    h = (h + 1) & self.mask
                o[i] = self.vals[h]
        return new[:nn]
