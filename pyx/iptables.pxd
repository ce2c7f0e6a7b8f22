# Flat compiled form of an iptables ruleset and its evaluator (iptables.pyx):
# fixed-size rules in table-blob order, one array of the non-IP matches,
# interface-name tests resolved at compile time into the ifok byte table.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t
from pystack._core.nftypes cimport NfPkt, NfResult, NatRange

# NfResult.nat: the NAT target that decided (names in pystack.netfilter.names.NAT_KINDS)
cdef enum:
    NAT_NONE = 0
    NAT_DNAT = 1
    NAT_SNAT = 2
    NAT_MASQUERADE = 3
    NAT_REDIRECT = 4

# NfResult.reject: REJECT --reject-with kind = kernel enum ipt_reject_with + 1
# (IPv4) or enum ip6t_reject_with + 17 (IPv6); names in
# pystack.netfilter.names.REJECT4 / REJECT6.
cdef enum:
    REJ_ICMP_NET_UNREACHABLE = 1
    REJ_ICMP_HOST_UNREACHABLE = 2
    REJ_ICMP_PROT_UNREACHABLE = 3
    REJ_ICMP_PORT_UNREACHABLE = 4
    REJ_ICMP_ECHOREPLY = 5
    REJ_ICMP_NET_PROHIBITED = 6
    REJ_ICMP_HOST_PROHIBITED = 7
    REJ_TCP_RESET = 8
    REJ_ICMP_ADMIN_PROHIBITED = 9
    REJ6_ICMP6_NO_ROUTE = 17
    REJ6_ICMP6_ADM_PROHIBITED = 18
    REJ6_ICMP6_NOT_NEIGHBOUR = 19
    REJ6_ICMP6_ADDR_UNREACH = 20
    REJ6_ICMP6_PORT_UNREACH = 21
    REJ6_ICMP6_ECHOREPLY = 22
    REJ6_TCP_RESET = 23
    REJ6_ICMP6_POLICY_FAIL = 24
    REJ6_ICMP6_REJECT_ROUTE = 25

# rule target kinds
cdef enum:
    TK_CONTINUE = 0     # no -j, LOG, NFLOG: count and go on (XT_CONTINUE)
    TK_ACCEPT = 1
    TK_DROP = 2
    TK_RETURN = 3
    TK_JUMP = 4
    TK_GOTO = 5
    TK_REJECT = 6
    TK_NAT = 7
    TK_MARK = 8
    TK_CONNMARK_SET = 9
    TK_CONNMARK_SAVE = 10
    TK_CONNMARK_RESTORE = 11
    TK_NOTRACK = 12

# match kinds of the flat match array
cdef enum:
    MK_NEVER = 0        # lenient: unsupported match, the rule never matches
    MK_MULTIPORT = 1
    MK_ICMP = 2
    MK_CTSTATE = 3      # xt_conntrack --ctstate (and xt_state with is_state)
    MK_CT_REQ = 4       # xt_conntrack without --ctstate: no ct -> no match
    MK_CT_DIR = 5
    MK_CT_ADDR = 6
    MK_CT_PORT = 7
    MK_CT_STATUS = 8
    MK_CT_PROTO = 9
    MK_STAT_RANDOM = 10
    MK_STAT_NTH = 11
    MK_MARK = 12
    MK_CONNMARK = 13
    MK_ADDRTYPE = 14
    MK_PHYSDEV = 15
    MK_STATE = 16


cdef struct IptMatch:
    uint8_t kind
    uint8_t inv
    uint8_t which           # multiport 1 src 2 dst 3 either; ct addr/port 0..3; dir
    uint8_t n               # multiport ranges; icmp: 1 = type 0xFF means any
    uint32_t a, b, c, d     # kind-specific values (mask, value, counters...)
    uint32_t addr[4]
    uint32_t mask[4]
    uint16_t lo[15]
    uint16_t hi[15]


cdef struct IptRule:
    # read for every rule tried (prefilter, target): first, in one cache line
    # prefilter, computed at compile time: the packet classes (PC_BIT of
    # conntrack state x protocol) in which the rule can match at all, and
    # whether it has no condition (every packet matches)
    uint32_t cls
    uint8_t plain
    uint8_t tkind
    uint8_t has_src, src_inv, has_dst, dst_inv
    uint8_t proto, proto_inv, frag, frag_inv
    uint8_t l4m                       # -m tcp/-m udp present (ports, flags below)
    uint8_t sp_inv, dp_inv, has_flags, fl_inv, fl_mask, fl_cmp
    int32_t iif_off, oif_off          # -1: any, else offset into the ifok table
    uint16_t sp_lo, sp_hi, dp_lo, dp_hi
    int32_t m_first, m_count
    int32_t jump                      # TK_JUMP / TK_GOTO: first rule of the chain
    # TK_JUMP to a chain none of whose rules can match a packet of the
    # classes in skip_cls (an empty chain: every class): the traversal would
    # try its skip_n rules (its hidden RETURN, rule ret, included) and come
    # back; do_table counts that without entering the chain
    uint32_t skip_cls
    int32_t skip_n, ret
    # destination index (IPv4): a run of >= DIDX_MIN consecutive rules of one
    # chain, each `-d A/32 -p P -m P --dport N` and nothing else (kube-proxy's
    # KUBE-SERVICES), is looked up by (run, daddr, proto, dport) instead of
    # tried rule by rule.  run_end: index past the run (0: not in a run);
    # dnext: the next rule of the run with the same key (-1: none)
    int32_t run_start, run_end, dnext
    uint32_t src[4]
    uint32_t smsk[4]
    uint32_t dst[4]
    uint32_t dmsk[4]
    uint32_t v1, v2                   # MARK/CONNMARK value, mask (nfmask, ctmask)
    uint8_t reject, nat
    NatRange range


cdef class CompiledRules:
    cdef IptRule* rules
    cdef IptMatch* matches
    cdef uint8_t* ifok
    cdef uint64_t* cnt                # per rule: packets, bytes (xt_counters pcnt, bcnt)
    cdef int32_t* stack
    cdef int32_t n_rules, n_matches, n_ifok, n_ifaces, stack_cap
    cdef int32_t hook_entry[5][5]     # [table][hook] first rule, -1: none
    cdef int32_t underflow[5][5]      # [table][hook] policy rule
    cdef int32_t stacksize[5]
    # class paths: per [table][hook][packet class] the offset into path of a
    # traversal decided by the packet's class alone (-1: none), see _build_paths
    cdef int32_t path_off[5][5][20]
    cdef int32_t* path
    cdef int32_t n_path               # int32 words in path
    # per recorded path, at 2 * its offset: packets and bytes that took it
    # since the last _fold_paths, which adds them to the counters of the
    # path's rules (do_table counts one pair per packet, not one per rule)
    cdef uint64_t* pcnt
    cdef int32_t* dslot               # destination index: open addressing, rule or -1
    cdef uint32_t dmask
    cdef readonly int family
    cdef readonly uint32_t addrtype_tables  # bit t: table t has an -m addrtype match
    cdef public uint64_t rng
    cdef readonly object ruleset, ifaces, info, warnings

    cdef _fill_match(self, IptMatch* m, dict md)
    cdef int32_t _dfind(self, int32_t run, uint32_t daddr, uint8_t proto,
                        uint16_t dport) noexcept nogil
    cdef _fill_pkt(self, NfPkt* p, dict pkt)
    cdef void _fold_paths(self) noexcept nogil
    cdef void do_table(self, NfPkt* p, int hook, int table, NfResult* out,
                       uint64_t* rng) noexcept nogil
    cdef void _walk(self, NfPkt* p, int hook, int table, NfResult* out, uint64_t* rng,
                    Py_ssize_t e, uint32_t pcls) noexcept nogil
