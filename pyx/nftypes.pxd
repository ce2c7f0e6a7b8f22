# Netfilter types shared by the rule evaluator (iptables.pyx), conntrack and
# NAT (conntrack.pyx) and the stack engine's hook points.
#
# Names and values follow the kernel: include/uapi/linux/netfilter.h (hooks,
# verdicts), include/uapi/linux/netfilter/nf_conntrack_common.h (ctinfo state
# bits, IPS_* status), include/uapi/linux/netfilter/nf_nat.h (range flags),
# include/uapi/linux/rtnetlink.h (RTN_* address types for -m addrtype).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int16_t, int32_t, int64_t

# enum nf_inet_hooks
cdef enum:
    NF_INET_PRE_ROUTING = 0
    NF_INET_LOCAL_IN = 1
    NF_INET_FORWARD = 2
    NF_INET_LOCAL_OUT = 3
    NF_INET_POST_ROUTING = 4
    NF_INET_NUMHOOKS = 5

# iptables tables, in the order iptables-save prints them is not this order;
# this is only an index.
cdef enum:
    NFT_RAW = 0
    NFT_MANGLE = 1
    NFT_NAT = 2
    NFT_FILTER = 3
    NFT_SECURITY = 4
    NFT_NUMTABLES = 5

# netfilter verdicts (NF_DROP, NF_ACCEPT)
cdef enum:
    NFV_DROP = 0
    NFV_ACCEPT = 1

# xt_conntrack / xt_state state bits: NF_CT_STATE_BIT(ctinfo) = 1 << (ctinfo % 3 + 1)
cdef enum:
    CTS_INVALID = 1         # NF_CT_STATE_INVALID_BIT
    CTS_ESTABLISHED = 2     # IP_CT_ESTABLISHED (and ESTABLISHED_REPLY)
    CTS_RELATED = 4         # IP_CT_RELATED
    CTS_NEW = 8             # IP_CT_NEW
    CTS_UNTRACKED = 64      # NF_CT_STATE_UNTRACKED_BIT
    CTS_SNAT = 256          # XT_CONNTRACK_STATE_SNAT (ct has IPS_SRC_NAT)
    CTS_DNAT = 512          # XT_CONNTRACK_STATE_DNAT (ct has IPS_DST_NAT)

# enum ip_conntrack_status bits (IPS_*)
cdef enum:
    IPS_EXPECTED = 1
    IPS_SEEN_REPLY = 2
    IPS_ASSURED = 4
    IPS_CONFIRMED = 8
    IPS_SRC_NAT = 16
    IPS_DST_NAT = 32
    IPS_SEQ_ADJUST = 64
    IPS_SRC_NAT_DONE = 128
    IPS_DST_NAT_DONE = 256
    IPS_DYING = 512
    IPS_FIXED_TIMEOUT = 1024
    IPS_TEMPLATE = 2048
    IPS_UNTRACKED = 4096

# enum nf_nat_manip_type
cdef enum:
    NF_NAT_MANIP_SRC = 0
    NF_NAT_MANIP_DST = 1

# nf_nat_range2.flags (NF_NAT_RANGE_*)
cdef enum:
    NF_NAT_RANGE_MAP_IPS = 1
    NF_NAT_RANGE_PROTO_SPECIFIED = 2
    NF_NAT_RANGE_PROTO_RANDOM = 4
    NF_NAT_RANGE_PERSISTENT = 8
    NF_NAT_RANGE_PROTO_RANDOM_FULLY = 16
    NF_NAT_RANGE_PROTO_OFFSET = 32
    NF_NAT_RANGE_NETMAP = 64

# RTN_* route types; -m addrtype compares 1 << type
cdef enum:
    RTN_UNSPEC = 0
    RTN_UNICAST = 1
    RTN_LOCAL = 2
    RTN_BROADCAST = 3
    RTN_ANYCAST = 4
    RTN_MULTICAST = 5
    RTN_BLACKHOLE = 6
    RTN_UNREACHABLE = 7
    RTN_PROHIBIT = 8
    RTN_THROW = 9
    RTN_NAT = 10
    RTN_XRESOLVE = 11


# The NAT range a DNAT/SNAT/MASQUERADE/REDIRECT rule asks for (nf_nat_range2).
# Addresses are 16 bytes; IPv4 in bytes 0..3, network order, the rest zero.
cdef struct NatRange:
    uint32_t flags
    uint8_t min_addr[16]
    uint8_t max_addr[16]
    uint16_t min_port, max_port     # host order, valid with PROTO_SPECIFIED


# One packet as the netfilter hooks see it: filled by the caller from the
# parsed columns before a hook runs, the conntrack fields by conntrack, the
# mark by MARK targets.  Addresses as NatRange; ports host order.
cdef struct NfPkt:
    uint8_t family                  # 4 or 6
    uint8_t proto                   # L4 protocol (IPv6: after extension headers)
    uint8_t frag                    # non-first fragment: no L4 header (-f matches)
    uint8_t has_l4                  # sport/dport/tcp_flags/icmp_* are valid
    uint8_t saddr[16]
    uint8_t daddr[16]
    uint16_t sport, dport           # ICMP echo: dport = id (conntrack tuple)
    uint16_t tcp_flags              # FIN 1 SYN 2 RST 4 PSH 8 ACK 16 URG 32 ECE 64 CWR 128
    uint8_t icmp_type, icmp_code
    uint32_t len                    # skb->len: whole IP datagram (rule byte counters)
    int16_t iif, oif                # host-config interface index, -1: none at this hook
    uint32_t mark                   # skb->mark
    uint16_t src_type, dst_type     # 1 << RTN_* (route type of saddr / daddr), by the caller
    uint8_t l4_csum_bad             # nf_conntrack_checksum: conntrack's tcp_error / udp_error
    # conntrack view, filled by conntrack (nf_conntrack_in) before the tables run
    int32_t ct                      # conntrack entry index, -1: none (untracked / invalid)
    uint16_t ctstate                # CTS_* bits (exactly one of INVALID/EST/REL/NEW/UNTRACKED)
    uint8_t ctdir                   # IP_CT_DIR_ORIGINAL 0 / IP_CT_DIR_REPLY 1
    uint32_t ctstatus               # IPS_* bits
    uint32_t ctmark
    uint8_t ct_orig_src[16]         # --ctorigsrc / --ctorigdst / --ctreplsrc / --ctrepldst
    uint8_t ct_orig_dst[16]
    uint8_t ct_repl_src[16]
    uint8_t ct_repl_dst[16]
    uint16_t ct_orig_sport, ct_orig_dport, ct_repl_sport, ct_repl_dport
    # --- appended for conntrack (keep at the END; never reorder) ---
    # TCP fields tcp_in_window needs (nf_conntrack_proto_tcp.c)
    uint32_t tcp_seq, tcp_ack
    uint16_t tcp_win                # raw window field
    uint8_t tcp_wscale              # window scale option of a SYN; 0xff: none
    uint8_t tcp_sackok              # SACK_PERM option present (SYN)
    uint32_t l4_paylen              # L4 payload bytes (segment_seq_plus_len)
    uint8_t tcp_nsack               # SACK blocks present
    uint32_t tcp_sack_right         # largest right edge of the SACK blocks (tcp_sack)
    # inner header of an ICMP/ICMPv6 error (parser: PF_ICMP_INNER, in_*)
    uint8_t has_inner, in_proto
    uint8_t in_saddr[16]
    uint8_t in_daddr[16]
    uint16_t in_sport, in_dport     # ICMP echo inside an error: in_sport = id
    # what nat_packet changed on this packet at the last hook (NAT_CHG_* bits)
    uint8_t nat_changed


# What a table traversal decided (ipt_do_table), filled by the evaluator.
cdef struct NfResult:
    uint8_t verdict                 # NFV_DROP / NFV_ACCEPT
    int32_t rule                    # global index of the deciding rule, or of the
                                    # chain policy's hidden rule; -1: nothing ran
    uint8_t reject                  # REJECT --reject-with kind (0: not a REJECT)
    uint8_t nat                     # nat table: 0 none, else a NAT_* target kind
    NatRange range                  # the range of that NAT target
    uint8_t notrack                 # raw table: NOTRACK / CT --notrack
    int32_t rules_tried             # rules evaluated (for explain / cost)


# nat_packet: which fields of NfPkt it rewrote (NfPkt.nat_changed)
cdef enum:
    NAT_CHG_SADDR = 1
    NAT_CHG_DADDR = 2
    NAT_CHG_SPORT = 4
    NAT_CHG_DPORT = 8
    NAT_CHG_INNER = 16
