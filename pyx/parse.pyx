# cython: language_level=3
"""Packet parsing: link, IPv4/IPv6, TCP/UDP/ICMP headers into PacketColumns.

(header written by the parser's author)
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

    def column(self, str name):
        """Valid rows of one column (a numpy view)."""
        return self.arrays[name][:self.n]

    def to_dict(self):
        return {name: arr[:self.n] for name, arr in self.arrays.items()}

    def __len__(self):
        return self.n
