# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""4-tuple demux table (the kernel's ehash) -- allocation side.

Models: net/ipv4/inet_hashtables.c __inet_lookup_established /
inet_ehash_insert / inet_ehash_nolisten and the request-sock hashing of
inet_csk_reqsk_queue_hash_add (request sockets live in the same table as
full sockets, sheet 8.1).  The lookup / insert / delete primitives are
inline in demux.pxd so the engine's per-packet loop calls them directly.

Not modelled: the kernel's bucket layout and jhash secret (inet_ehashfn),
tcp_ehash_entries as a limit (the kernel's ehash never refuses an entry; it
only gets slower), per-netns and bound-device matching (one host, one netns).

Memory: the table doubles (and the Sock pool grows by 1.5x) only in
demux_reserve(), called by the engine between batches so that the coming
batch can never run out (each packet creates at most one entry).  The pool
is bounded by what the model keeps: request socks are bounded by the
listeners' backlogs (SYN queue), children and TIME_WAIT minisocks by the
live connections (the engine removes closed ones and expired TIME_WAITs;
demux_unhash keeps a closed child allocated while it waits in an accept
queue).
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memset


cdef int demux_init(Demux* d, int64_t slots, int64_t socks, uint64_t seed) except -1:
    cdef int64_t n = 16
    cdef int64_t i
    while n < slots:
        n <<= 1
    d.slots = <int32_t*>malloc(n * sizeof(int32_t))
    d.tags = <uint32_t*>malloc(n * sizeof(uint32_t))
    if socks < 16:
        socks = 16
    d.socks = <Sock*>malloc(socks * sizeof(Sock))
    if d.slots == NULL or d.tags == NULL or d.socks == NULL:
        raise MemoryError()
    for i in range(n):
        d.slots[i] = -1
    d.mask = <uint64_t>(n - 1)
    d.count = 0
    d.sock_cap = socks
    d.sock_hw = 0
    d.free_head = -1
    d.seed = seed
    return 0


cdef int _rehash(Demux* d, int64_t n) except -1:
    cdef int32_t* slots = <int32_t*>malloc(n * sizeof(int32_t))
    cdef uint32_t* tags = <uint32_t*>malloc(n * sizeof(uint32_t))
    cdef int64_t i, old = <int64_t>d.mask + 1
    cdef uint64_t pos, mask = <uint64_t>(n - 1)
    cdef int32_t s
    if slots == NULL or tags == NULL:
        free(slots)
        free(tags)
        raise MemoryError()
    for i in range(n):
        slots[i] = -1
    for i in range(old):
        s = d.slots[i]
        if s >= 0:
            pos = d.tags[i] & mask
            while slots[pos] >= 0:
                pos = (pos + 1) & mask
            slots[pos] = s
            tags[pos] = d.tags[i]
    free(d.slots)
    free(d.tags)
    d.slots = slots
    d.tags = tags
    d.mask = mask
    return 0


cdef int demux_reserve(Demux* d, int64_t extra) except -1:
    """Make room for `extra` more socks (table load stays <= 1/2)."""
    cdef int64_t need = d.count + extra
    cdef int64_t n = <int64_t>d.mask + 1
    cdef int64_t cap
    cdef Sock* p
    if need * 2 > n:
        while need * 2 > n:
            n <<= 1
        _rehash(d, n)
    # pool: free-list entries are reusable, so only the high-water grows
    if d.sock_hw + extra > d.sock_cap:
        cap = d.sock_cap
        while d.sock_hw + extra > cap:
            cap = cap + cap // 2 + 16
        p = <Sock*>realloc(d.socks, cap * sizeof(Sock))
        if p == NULL:
            raise MemoryError()
        d.socks = p
        d.sock_cap = cap
    return 0


cdef void demux_release(Demux* d) noexcept:
    free(d.slots)
    free(d.tags)
    free(d.socks)
    d.slots = NULL
    d.tags = NULL
    d.socks = NULL


cdef class DemuxTable:
    """Python handle on a Demux, for tests of the table itself."""
    cdef Demux d

    def __cinit__(self, int64_t slots=16, int64_t socks=16, uint64_t seed=0):
        demux_init(&self.d, slots, socks, seed)

    def __dealloc__(self):
        demux_release(&self.d)

    def _key(self, bytes la, bytes ra, uint16_t lport, uint16_t rport):
        cdef uint64_t a0, a1, b0, b1
        load_addr(<const uint8_t*>la, &a0, &a1)
        load_addr(<const uint8_t*>ra, &b0, &b1)
        return a0, a1, b0, b1

    def insert(self, bytes la, bytes ra, uint16_t lport, uint16_t rport):
        a0, a1, b0, b1 = self._key(la, ra, lport, rport)
        demux_reserve(&self.d, 1)
        cdef int32_t s = demux_new(&self.d)
        cdef Sock* k = &self.d.socks[s]
        k.la0, k.la1, k.ra0, k.ra1 = a0, a1, b0, b1
        k.lport = lport
        k.rport = rport
        k.hash = <uint32_t>tuple_hash(self.d.seed, a0, a1, b0, b1, lport, rport)
        k.state = TS_ESTABLISHED
        demux_insert(&self.d, s)
        return s

    def find(self, bytes la, bytes ra, uint16_t lport, uint16_t rport):
        a0, a1, b0, b1 = self._key(la, ra, lport, rport)
        cdef uint32_t h = <uint32_t>tuple_hash(self.d.seed, a0, a1, b0, b1, lport, rport)
        return demux_find(&self.d, a0, a1, b0, b1, lport, rport, h)

    def remove(self, int32_t s):
        demux_remove(&self.d, s)

    def __len__(self):
        return self.d.count

    @property
    def slots(self):
        return <int64_t>self.d.mask + 1
