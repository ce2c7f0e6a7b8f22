# Python hooks at the netfilter hook points (Replay.add_hook): the C filter a
# hook's `match` dict compiles into, and the packet view the hook receives.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int16_t, int32_t, int64_t
from pystack._core.nftypes cimport NfPkt, CTS_INVALID, CTS_UNTRACKED

# A compiled match: every present condition must hold (AND).
cdef struct PhMatch:
    int16_t proto                   # L4 protocol, -1: any
    uint8_t family                  # 4 / 6, 0: any (a CIDR implies its family)
    uint8_t has_src, has_dst
    uint8_t src_len, dst_len        # prefix lengths (bits)
    uint8_t src[16]                 # NfPkt address form (IPv4 in bytes 0..3)
    uint8_t dst[16]
    int32_t sport_lo, sport_hi      # inclusive; -1: any
    int32_t dport_lo, dport_hi
    uint16_t flags_mask, flags_val  # TCP flags: (flags & mask) == val, mask 0: any
    uint8_t ctdir                   # 0 any, 1 ORIGINAL, 2 REPLY
    uint16_t ctstate                # CTS_* bits (xt_conntrack's statebit), 0: any

# One registered hook, sorted by (hook, priority, registration order).
cdef struct PhEnt:
    int32_t hook                    # NF_INET_*
    int32_t prio
    int32_t fn                      # index into the engine's callables
    PhMatch m
    int64_t calls, drops, ns


cdef inline bint ph_prefix(const uint8_t* a, const uint8_t* net, int plen) noexcept nogil:
    cdef int k = 0
    while plen >= 8:
        if a[k] != net[k]:
            return False
        k += 1
        plen -= 8
    if plen == 0:
        return True
    return ((a[k] ^ net[k]) & <uint8_t>(0xff << (8 - plen))) == 0


cdef inline bint ph_ports(uint8_t proto) noexcept nogil:
    # protocols whose sport / dport fields are ports (TCP, UDP, DCCP, SCTP, UDP-Lite)
    return proto == 6 or proto == 17 or proto == 33 or proto == 132 or proto == 136


cdef inline bint ph_match(const PhMatch* m, const NfPkt* p) noexcept nogil:
    cdef uint16_t st
    if m.proto >= 0 and p.proto != m.proto:
        return False
    if m.family and p.family != m.family:
        return False
    if m.has_src and not ph_prefix(p.saddr, m.src, m.src_len):
        return False
    if m.has_dst and not ph_prefix(p.daddr, m.dst, m.dst_len):
        return False
    if m.sport_lo >= 0:
        if not p.has_l4 or not ph_ports(p.proto) or p.sport < m.sport_lo or p.sport > m.sport_hi:
            return False
    if m.dport_lo >= 0:
        if not p.has_l4 or not ph_ports(p.proto) or p.dport < m.dport_lo or p.dport > m.dport_hi:
            return False
    if m.flags_mask:
        if p.proto != 6 or not p.has_l4 or (p.tcp_flags & m.flags_mask) != m.flags_val:
            return False
    if m.ctdir:
        if p.ct < 0 or (p.ctdir + 1) != m.ctdir:
            return False
    if m.ctstate:
        # xt_conntrack conntrack_mt: no conntrack (not looked up yet, or
        # invalid) is INVALID unless the packet is untracked
        if p.ct >= 0:
            st = p.ctstate & ~(CTS_INVALID | CTS_UNTRACKED)
        elif p.ctstate & CTS_UNTRACKED:
            st = CTS_UNTRACKED
        else:
            st = CTS_INVALID
        if not (st & m.ctstate):
            return False
    return True


cdef int ph_compile(object match, PhMatch* out) except -1


cdef class HookPacket:
    cdef NfPkt* p                   # the engine's packet; NULL once the call returned
    cdef readonly int64_t frame, ts_ns
    cdef readonly int priority
    cdef int hook
    cdef const uint8_t* data_p
    cdef uint32_t caplen
    cdef bint dropped
    cdef NfPkt* _p(self) except NULL


# enum nf_ip_hook_priorities (include/uapi/linux/netfilter_ipv4.h; IPv6 the
# same): the built-in entries a Python hook is placed between.  Bounds of a
# priority gap are int64: [lo, hi), PH_MIN / PH_END around the int range
# (NF_IP_PRI_CONNTRACK_CONFIRM = INT_MAX runs after every Python hook).
cdef enum:
    NF_IP_PRI_RAW = -300
    NF_IP_PRI_CONNTRACK = -200
    NF_IP_PRI_MANGLE = -150
    NF_IP_PRI_NAT_DST = -100
    NF_IP_PRI_FILTER = 0
    NF_IP_PRI_SECURITY = 50
    NF_IP_PRI_NAT_SRC = 100

cdef enum:
    PH_MIN = -2147483648
    PH_END = 2147483647
