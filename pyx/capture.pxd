# Record batches: what the capture reader hands to every later stage.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int64_t

cdef class RecordBatch:
    # Packet bytes of record i are base[offset[i] : offset[i] + caplen[i]].
    # The reader guarantees offset[i] + caplen[i] <= base_len for i < n.
    cdef readonly Py_ssize_t n
    cdef readonly Py_ssize_t capacity
    cdef readonly object buffer        # owner of the bytes (mmap, bytearray, ndarray)
    cdef const uint8_t* base
    cdef Py_ssize_t base_len
    # numpy columns (length capacity; rows [0, n) valid) ...
    cdef readonly object offset_arr     # int64: byte offset of packet data in `buffer`
    cdef readonly object caplen_arr     # uint32: captured bytes
    cdef readonly object wirelen_arr    # uint32: original length on the wire
    cdef readonly object ts_arr         # int64: timestamp, ns since the epoch (UTC)
    cdef readonly object iface_arr      # uint32: interface index (pcapng IDB order, global across sections/files)
    cdef readonly object linktype_arr   # uint16: LINKTYPE_* of the record's interface
    cdef readonly object frame_arr      # int64: 1-based frame number in the (merged) input
    cdef readonly object src_arr        # uint16: index of the input file the record came from
    cdef readonly object fileoff_arr    # int64: byte offset of the record header in its (decompressed) file
    # ... and raw pointers to the same memory for nogil loops.
    cdef int64_t* offset
    cdef uint32_t* caplen
    cdef uint32_t* wirelen
    cdef int64_t* ts
    cdef uint32_t* iface
    cdef uint16_t* linktype
    cdef int64_t* frame
    cdef uint16_t* src
    cdef int64_t* fileoff

    cdef void _bind(self, object buffer) except *
