# cython: language_level=3
"""Capture reading: pcap and pcapng records into RecordBatch columns.

Models no kernel code: this is the tcpdump/libpcap side of the capture.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int64_t

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
