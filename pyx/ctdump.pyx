# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The conntrack table as numpy columns, for the output folder's conntrack
table (pystack.results.writer).

Models the listing side of net/netfilter/nf_conntrack_netlink.c
(ctnetlink_dump_table: the confirmed entries, the expired ones gone first)
and nothing of the tracking itself.  It reads pystack._core.conntrack's
entries as Conntrack.raw_entries does (same entries, same values, slot
order) but into numpy columns in one nogil pass, instead of a Python tuple
of 16 objects per entry: a capture's table ends with 10^5 entries or more.
Sorting and formatting are the writer's.
"""
import numpy as np
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t
from libc.string cimport memcpy

from pystack._core.conntrack cimport Conntrack, CtEntry
from pystack._core.nftypes cimport IPS_CONFIRMED

cdef int64_t NS = 1000000000

# the columns, raw_entries' tuple fields in their order (the last, the
# absolute timeout, is "expiry")
COLUMNS = ("slot", "family", "proto", "tcp_state", "timeout", "status", "mark",
           "orig_src", "orig_dst", "orig_sport", "orig_dport",
           "reply_src", "reply_dst", "reply_sport", "reply_dport", "expiry")


def ct_columns(Conntrack ct, int64_t now_ns):
    """The confirmed live entries at now_ns (expiring the others first, as
    raw_entries does) as a dict of numpy columns in slot order: the
    addresses as uint8[n, 16] in the NfPkt layout (IPv4 in bytes 0..3),
    timeout the whole seconds left."""
    cdef int32_t i, cap = ct.cap
    cdef Py_ssize_t n = 0, k = 0
    cdef CtEntry* x
    ct.expire(now_ns)
    with nogil:
        for i in range(cap):
            if ct.e[i].inuse and (ct.e[i].status & IPS_CONFIRMED):
                n += 1
    slot = np.empty(n, np.int32)
    family = np.empty(n, np.uint8)
    proto = np.empty(n, np.uint8)
    tcp_state = np.empty(n, np.uint8)
    timeout = np.empty(n, np.int64)
    status = np.empty(n, np.uint32)
    mark = np.empty(n, np.uint32)
    addrs = np.empty((4, n, 16), np.uint8)
    ports = np.empty((4, n), np.uint16)
    expiry = np.empty(n, np.int64)
    cdef int32_t[::1] o_slot = slot
    cdef uint8_t[::1] o_fam = family, o_proto = proto, o_st = tcp_state
    cdef int64_t[::1] o_tmo = timeout, o_exp = expiry
    cdef uint32_t[::1] o_status = status, o_mark = mark
    cdef uint8_t[:, :, ::1] o_a = addrs
    cdef uint16_t[:, ::1] o_p = ports
    with nogil:
        for i in range(cap):
            x = &ct.e[i]
            if not x.inuse or not (x.status & IPS_CONFIRMED):
                continue
            if k == n:              # (cannot happen: nothing ran since the count)
                break
            o_slot[k] = i
            o_fam[k] = x.t0.family
            o_proto[k] = x.t0.proto
            o_st[k] = x.tcp_state
            o_tmo[k] = (x.timeout - now_ns) // NS
            o_status[k] = x.status
            o_mark[k] = x.mark
            memcpy(&o_a[0, k, 0], x.t0.src, 16)
            memcpy(&o_a[1, k, 0], x.t0.dst, 16)
            memcpy(&o_a[2, k, 0], x.t1.src, 16)
            memcpy(&o_a[3, k, 0], x.t1.dst, 16)
            o_p[0, k] = x.t0.sport
            o_p[1, k] = x.t0.dport
            o_p[2, k] = x.t1.sport
            o_p[3, k] = x.t1.dport
            o_exp[k] = x.timeout
            k += 1
    return {"slot": slot, "family": family, "proto": proto, "tcp_state": tcp_state,
            "timeout": timeout, "status": status, "mark": mark,
            "orig_src": addrs[0], "orig_dst": addrs[1],
            "orig_sport": ports[0], "orig_dport": ports[1],
            "reply_src": addrs[2], "reply_dst": addrs[3],
            "reply_sport": ports[2], "reply_dport": ports[3], "expiry": expiry}
