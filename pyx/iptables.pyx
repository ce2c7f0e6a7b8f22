# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""iptables rule evaluation over flat C arrays.

Models: net/ipv4/netfilter/ip_tables.c ipt_do_table / ip_packet_match (and
ip6_tables.c ip6t_do_table / ip6_packet_match), the match functions of
xt_tcpudp.c, xt_multiport.c (ports_match_v1), xt_conntrack.c (conntrack_mt),
xt_state.c, xt_statistic.c, xt_mark.c, xt_connmark.c, xt_addrtype.c,
ipt_icmp (ip_tables.c icmp_match), and the targets xt_mark.c (mark_tg),
xt_connmark.c (connmark_tg v1), ipt_REJECT.c / ip6t_REJECT.c (verdict and
reply kind only), xt_nat.c (the range; the binding is conntrack's work),
xt_CT.c (--notrack), xt_LOG.c / xt_NFLOG.c (counted, no output).

Layout: a ruleset is compiled into one array of fixed-size rules, like the
kernel's table blob: per table, per chain, the chain's rules followed by a
hidden last rule (the built-in chain's policy, or a RETURN closing a user
chain), plus one flat array of the non-IP matches.  hook_entry/underflow
are the kernel's private->hook_entry / underflow.  Shortcuts with the
walk's exact results (counters, rules_tried): a per-rule prefilter by
packet class (conntrack state x protocol), a destination index for runs of
`-d A/32 --dport N` rules, jumps over chains no rule of which can match the
class, and whole traversals decided by the class alone recorded per (table,
hook, class); each can be switched off (dindex=, skips=, paths=) for tests.
A recorded traversal counts its packets / bytes once per packet; they reach
its rules' counters when the counters are read or reset (_fold_paths).

Not modelled: -m addrtype --limit-iface-*, the bridge side of -m physdev
(taken as an alias of -i/-o, as the host config sees no bridges), --tcp-option,
REJECT's reply emission (the caller sends it), LOG/NFLOG output, CT other
than --notrack, per-CPU counters (one set).
"""
from libc.stdint cimport uint8_t, uint16_t, int16_t, uint32_t, uint64_t, int32_t, int64_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memset, memcpy
from pystack._core.nftypes cimport (
    NfPkt, NfResult, NatRange, NFV_DROP, NFV_ACCEPT, CTS_INVALID, CTS_ESTABLISHED,
    CTS_RELATED, CTS_NEW, CTS_UNTRACKED, CTS_SNAT, CTS_DNAT, IPS_SRC_NAT, IPS_DST_NAT,
)

import struct as _struct

cdef extern from *:
    int __builtin_ctz(unsigned int x) nogil

import numpy as np

from pystack.netfilter import names as _names
from pystack.netfilter import extensions as _ext
from pystack.netfilter.ruleset import RulesError, layout as _layout
from pystack.netfilter.addr import parse_ip, format_ip


cdef inline uint64_t splitmix64(uint64_t* s) noexcept nogil:
    # splitmix64 (Steele, Lea, Flood 2014): the seeded stand-in for the
    # kernel's get_random_u32() in xt_statistic's random mode.
    s[0] += <uint64_t>0x9E3779B97F4A7C15
    cdef uint64_t z = s[0]
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EB
    return z ^ (z >> 31)


cdef inline bint addr_eq(const uint8_t* a, const uint32_t* val, const uint32_t* msk,
                         int words) noexcept nogil:
    cdef uint32_t w[4]
    memcpy(w, a, 16)
    cdef int i
    for i in range(words):
        if (w[i] & msk[i]) != val[i]:
            return False
    return True


cdef inline int if_slot(int16_t idx, int32_t n) noexcept nogil:
    # slot 0: no device at this hook (the kernel compares an empty name);
    # 1..n: the listed interfaces; n+1: an index outside the list (a device
    # whose name we do not know: only '+' and negations match it)
    if idx < 0:
        return 0
    if idx >= n:
        return n + 1
    return idx + 1



cdef inline uint16_t ct_port(NfPkt* p, int which) noexcept nogil:
    if which == 0:
        return p.ct_orig_sport
    if which == 1:
        return p.ct_orig_dport
    if which == 2:
        return p.ct_repl_sport
    return p.ct_repl_dport


cdef inline const uint8_t* ct_addr(NfPkt* p, int which) noexcept nogil:
    if which == 0:
        return p.ct_orig_src
    if which == 1:
        return p.ct_orig_dst
    if which == 2:
        return p.ct_repl_src
    return p.ct_repl_dst


cdef bint match_one(CompiledRules self, IptMatch* m, NfPkt* p, uint64_t* rng,
                    int words) noexcept nogil:
    cdef int k = m.kind
    cdef uint32_t statebit, oval, nval, x
    cdef int i
    cdef uint16_t port
    cdef bint r
    if k == MK_STAT_RANDOM:
        # xt_statistic.c statistic_mt: (get_random_u32() & 0x7FFFFFFF) < P
        x = <uint32_t>(splitmix64(rng) >> 32)
        return ((x & 0x7FFFFFFF) < m.a) ^ m.inv
    if k == MK_STAT_NTH:
        # the shared counter runs 0..every and matches when it wraps to 0
        oval = m.c
        nval = 0 if oval == m.a else oval + 1
        m.c = nval
        return (nval == 0) ^ m.inv
    if k == MK_MARK:
        return ((p.mark & m.b) == m.a) ^ m.inv
    if k == MK_CONNMARK:
        if p.ct < 0:
            return False
        return ((p.ctmark & m.b) == m.a) ^ m.inv
    if k == MK_CTSTATE or k == MK_STATE:
        if p.ct >= 0:
            statebit = p.ctstate & (CTS_ESTABLISHED | CTS_RELATED | CTS_NEW)
            if k == MK_CTSTATE:
                if p.ctstatus & IPS_SRC_NAT:
                    statebit |= CTS_SNAT
                if p.ctstatus & IPS_DST_NAT:
                    statebit |= CTS_DNAT
        elif p.ctstate & CTS_UNTRACKED:
            statebit = CTS_UNTRACKED
        else:
            statebit = CTS_INVALID
        return ((m.a & statebit) != 0) ^ m.inv
    if k == MK_CT_REQ:
        return p.ct >= 0
    # the remaining conntrack conditions only run with a ct (conntrack_mt
    # returns early, matching, when there is none and --ctstate passed)
    if k == MK_CT_DIR:
        if p.ct < 0:
            return True
        return p.ctdir == m.which
    if k == MK_CT_ADDR:
        if p.ct < 0:
            return True
        return addr_eq(ct_addr(p, m.which), m.addr, m.mask, words) ^ m.inv
    if k == MK_CT_PORT:
        if p.ct < 0:
            return True
        port = ct_port(p, m.which)
        return (port >= m.lo[0] and port <= m.hi[0]) ^ m.inv
    if k == MK_CT_STATUS:
        if p.ct < 0:
            return True
        return ((m.a & p.ctstatus) != 0) ^ m.inv
    if k == MK_CT_PROTO:
        if p.ct < 0:
            return True
        return (p.proto == m.a) ^ m.inv
    if k == MK_MULTIPORT:
        if p.frag or not p.has_l4:
            return False
        for i in range(m.n):
            if (m.which & 1) and p.sport >= m.lo[i] and p.sport <= m.hi[i]:
                return not m.inv
            if (m.which & 2) and p.dport >= m.lo[i] and p.dport <= m.hi[i]:
                return not m.inv
        return m.inv
    if k == MK_ICMP:
        if p.frag or not p.has_l4:
            return False
        r = (m.n and m.a == 0xFF) or (p.icmp_type == m.a and p.icmp_code >= m.b
                                      and p.icmp_code <= m.c)
        return r ^ m.inv
    if k == MK_ADDRTYPE:
        r = True
        if m.a:
            r = r and (((m.a & p.src_type) != 0) ^ (m.inv & 1))
        if m.b:
            r = r and (((m.b & p.dst_type) != 0) ^ ((m.inv >> 1) & 1))
        return r
    if k == MK_PHYSDEV:
        if m.which == 0:
            return self.ifok[m.a + if_slot(p.iif, self.n_ifaces)]
        return self.ifok[m.a + if_slot(p.oif, self.n_ifaces)]
    return False


cdef inline bint words_eq(const uint32_t* w, const uint32_t* val, const uint32_t* msk,
                          int words) noexcept nogil:
    if (w[0] & msk[0]) != val[0]:
        return False
    if words == 1:
        return True
    return ((w[1] & msk[1]) == val[1] and (w[2] & msk[2]) == val[2]
            and (w[3] & msk[3]) == val[3])


# Packet classes of the rule prefilter: conntrack state as the state match
# sees it (PS_*) x protocol (PP_*); one bit each, PC_ALL when unclassifiable.
cdef enum:
    PS_INVALID = 0
    PS_ESTABLISHED = 1
    PS_RELATED = 2
    PS_NEW = 3
    PS_UNTRACKED = 4
    PP_TCP = 0
    PP_UDP = 1
    PP_ICMP = 2         # ICMP or ICMPv6
    PP_OTHER = 3
    PC_ALL = 0xFFFFF


# pkt_class's tables: the state of an entry's (ctstate >> 1) & 7 (the
# ESTABLISHED 2 / RELATED 4 / NEW 8 bits; 0xff: none or several -> PC_ALL),
# the protocol class of an L4 protocol number
cdef uint8_t _PC_STATE[8]
cdef uint8_t _PC_PROTO[256]


def _init_class_tables():
    cdef int k
    for k in range(8):
        _PC_STATE[k] = 0xff
    _PC_STATE[CTS_ESTABLISHED >> 1] = PS_ESTABLISHED
    _PC_STATE[CTS_RELATED >> 1] = PS_RELATED
    _PC_STATE[CTS_NEW >> 1] = PS_NEW
    for k in range(256):
        _PC_PROTO[k] = PP_OTHER
    _PC_PROTO[6] = PP_TCP
    _PC_PROTO[17] = PP_UDP
    _PC_PROTO[1] = PP_ICMP
    _PC_PROTO[58] = PP_ICMP


_init_class_tables()


cdef inline int _bit_index(uint32_t b) noexcept nogil:
    # the index of the one bit set in b (a packet class)
    return __builtin_ctz(b)


cdef inline uint32_t pkt_class(const NfPkt* p) noexcept nogil:
    """The packet's prefilter class bit (constant during a traversal:
    targets change marks, not the conntrack state)."""
    cdef uint32_t st
    if p.ct >= 0:
        st = _PC_STATE[(p.ctstate >> 1) & 7]
        if st == 0xff:
            return PC_ALL
    elif p.ctstate & CTS_UNTRACKED:
        st = PS_UNTRACKED
    else:
        st = PS_INVALID
    return 1u << (st * 4 + _PC_PROTO[p.proto])


def _proto_class(int proto):
    return {6: PP_TCP, 17: PP_UDP, 1: PP_ICMP, 58: PP_ICMP}.get(proto, PP_OTHER)


def _rule_classes(int proto, bint proto_inv, list ms):
    """The classes in which a rule can match: a necessary condition only
    (the full test still runs), derived from -p and the state matches."""
    protos = {PP_TCP, PP_UDP, PP_ICMP, PP_OTHER}
    states = {PS_INVALID, PS_ESTABLISHED, PS_RELATED, PS_NEW, PS_UNTRACKED}
    if proto:
        pc = _proto_class(proto)
        if not proto_inv:
            protos = {pc}
        elif pc == PP_TCP or pc == PP_UDP:
            # ! -p tcp / ! -p udp: no packet of that class passes (ICMP's
            # class holds two protocols, OTHER many: nothing excluded)
            protos.discard(pc)
    bits = {PS_INVALID: (CTS_INVALID,), PS_UNTRACKED: (CTS_UNTRACKED,),
            PS_ESTABLISHED: (CTS_ESTABLISHED,), PS_RELATED: (CTS_RELATED,),
            PS_NEW: (CTS_NEW,)}
    for m in ms:
        k = m["kind"]
        if k == MK_NEVER:
            return 0
        if k == MK_CT_REQ:
            states &= {PS_ESTABLISHED, PS_RELATED, PS_NEW}
        elif k == MK_CTSTATE or k == MK_STATE:
            a, inv = m.get("a", 0), bool(m.get("inv", 0))
            ok = set()
            for st, (b,) in bits.items():
                variants = [b]
                if k == MK_CTSTATE and st in (PS_ESTABLISHED, PS_RELATED, PS_NEW):
                    # match_one adds SNAT / DNAT from the entry's status
                    variants = [b, b | CTS_SNAT, b | CTS_DNAT, b | CTS_SNAT | CTS_DNAT]
                if any(((a & v) != 0) != inv for v in variants):
                    ok.add(st)
            states &= ok
    return sum(1 << (st * 4 + pr) for st in states for pr in protos)


cdef inline bint rule_match(CompiledRules self, IptRule* r, NfPkt* p, uint64_t* rng,
                            int words, const uint32_t* sw, const uint32_t* dw) noexcept nogil:
    # a rule that passed the prefilter (do_table) and is not plain;
    # sw / dw: the packet's addresses as words (NfPkt.saddr / daddr, 4-byte
    # aligned; built with -fno-strict-aliasing)
    cdef int j
    if r.has_src and (words_eq(sw, r.src, r.smsk, words) == r.src_inv):
        return False
    if r.has_dst and (words_eq(dw, r.dst, r.dmsk, words) == r.dst_inv):
        return False
    if r.iif_off >= 0 and not self.ifok[r.iif_off + if_slot(p.iif, self.n_ifaces)]:
        return False
    if r.oif_off >= 0 and not self.ifok[r.oif_off + if_slot(p.oif, self.n_ifaces)]:
        return False
    if r.proto and ((p.proto != r.proto) ^ r.proto_inv):
        return False
    if r.frag and ((not p.frag) ^ r.frag_inv):
        return False
    if r.l4m:
        # tcp_mt / udp_mt: no header in non-first fragments -> no match
        if p.frag or not p.has_l4:
            return False
        if ((p.sport < r.sp_lo or p.sport > r.sp_hi) ^ r.sp_inv):
            return False
        if ((p.dport < r.dp_lo or p.dport > r.dp_hi) ^ r.dp_inv):
            return False
        if r.has_flags and (((p.tcp_flags & r.fl_mask) != r.fl_cmp) ^ r.fl_inv):
            return False
    for j in range(r.m_first, r.m_first + r.m_count):
        if not match_one(self, &self.matches[j], p, rng, words):
            return False
    return True


# shortest run of consecutive `-d A/32 -p P --dport N` rules worth indexing
DEF DIDX_MIN = 4


cdef inline uint32_t _dhash(int32_t run, uint32_t daddr, uint8_t proto,
                            uint16_t dport) noexcept nogil:
    cdef uint64_t h = (<uint64_t>daddr << 32) ^ (<uint64_t>dport << 8) ^ proto \
        ^ (<uint64_t><uint32_t>run << 24)
    h *= <uint64_t>0x9e3779b97f4a7c15ULL
    return <uint32_t>(h >> 32)


cdef inline bint _dindexable(IptRule* r) noexcept nogil:
    # a rule matching exactly (daddr, proto, dport) and nothing else: any
    # other rule of its run with a different key cannot match the packet
    return (r.has_dst and not r.dst_inv and r.dmsk[0] == 0xffffffffu and not r.has_src
            and r.iif_off < 0 and r.oif_off < 0 and r.proto != 0 and not r.proto_inv
            and not r.frag and r.l4m and not r.sp_inv and r.sp_lo == 0 and r.sp_hi == 65535
            and not r.dp_inv and r.dp_lo == r.dp_hi and not r.has_flags and r.m_count == 0)


def _words(raw):
    # native-order words, as addr_eq reads the packet's bytes with memcpy
    return _struct.unpack("=4I", raw)


cdef class CompiledRules:
    """A Ruleset compiled for evaluation.

    ``ifaces``: the host's interface names; position i is interface index i
    as NfPkt.iif / oif carry it.  Interface names in rules are resolved
    against this list at compile time; a name not in it never matches (a
    `+` wildcard matches every listed name with its prefix).
    ``stacksize``: jump-stack depth per table; default as the kernel sizes it
    (ip_tables.c translate_table: one slot per user chain, plus one).
    ``seed``: initial state of the rng used by ``evaluate`` (``self.rng``).
    ``dindex``: index runs of `-d A/32 -p P --dport N` rules (IPv4) by
    destination; False tries every rule in turn (same results: the test
    reference).  ``skips``: a jump to a chain none of whose rules can match
    the packet's class (prefilter) is counted without entering it; False
    enters every chain (same results: the test reference).  Counters start
    at zero.
    """

    def __cinit__(self):
        self.rules = NULL
        self.matches = NULL
        self.ifok = NULL
        self.cnt = NULL
        self.path = NULL
        self.pcnt = NULL
        self.stack = NULL
        self.dslot = NULL

    def __dealloc__(self):
        free(self.dslot)
        free(self.rules)
        free(self.matches)
        free(self.ifok)
        free(self.cnt)
        free(self.path)
        free(self.pcnt)
        free(self.stack)

    def __init__(self, ruleset, ifaces=(), stacksize=None, uint64_t seed=0, bint dindex=True,
                 bint skips=True, bint paths=True):
        cdef IptRule* e
        self.ruleset = ruleset
        self.family = ruleset.family
        self.ifaces = tuple(ifaces)
        self.n_ifaces = len(self.ifaces)
        self.rng = seed
        self.warnings = list(ruleset.warnings)
        entries = list(_layout(ruleset))
        self.n_rules = len(entries)
        # chain start indexes
        starts = {}
        for i, (t, c, n, r) in enumerate(entries):
            if (n == 1 or (n == 0 and not c.rules)) and (t.name, c.name) not in starts:
                starts[(t.name, c.name)] = i
        self._check_loops(ruleset, entries, starts)
        ifok = bytearray()
        mlist = []
        self.rules = <IptRule*>calloc(max(self.n_rules, 1), sizeof(IptRule))
        self.cnt = <uint64_t*>calloc(2 * max(self.n_rules, 1), sizeof(uint64_t))
        if self.rules == NULL or self.cnt == NULL:
            raise MemoryError()
        for ti in range(5):
            self.stacksize[ti] = 0
            for h in range(5):
                self.hook_entry[ti][h] = -1
                self.underflow[ti][h] = -1
        info = []
        self.addrtype_tables = 0
        for i, (t, c, n, r) in enumerate(entries):
            ti = _names.TABLES.index(t.name)
            if n == 0:
                info.append((t.name, c.name, 0, f":{c.name} {c.policy or '-'}"))
            else:
                info.append((t.name, c.name, n, r.text()))
            self._compile_rule(i, t, c, n, r, starts, ifok, mlist)
            if any(md["kind"] == MK_ADDRTYPE for md in mlist[self.rules[i].m_first:]):
                self.addrtype_tables |= 1u << ti
            if c.builtin:
                h = _names.HOOKS.index(c.name)
                if (n == 1 or (n == 0 and not c.rules)):
                    self.hook_entry[ti][h] = starts[(t.name, c.name)]
                if n == 0:
                    self.underflow[ti][h] = i
        self.info = info
        for t in ruleset.tables.values():
            ti = _names.TABLES.index(t.name)
            nuser = sum(1 for c in t.chains.values() if not c.builtin)
            self.stacksize[ti] = (nuser + 1) if stacksize is None else int(stacksize)
        self.stack_cap = max([self.stacksize[ti] for ti in range(5)] + [1])
        self.stack = <int32_t*>calloc(self.stack_cap, sizeof(int32_t))
        self.n_ifok = len(ifok)
        self.ifok = <uint8_t*>calloc(max(len(ifok), 1), 1)
        for i in range(len(ifok)):
            self.ifok[i] = ifok[i]
        self.n_matches = len(mlist)
        self.matches = <IptMatch*>calloc(max(len(mlist), 1), sizeof(IptMatch))
        if self.stack == NULL or self.ifok == NULL or self.matches == NULL:
            raise MemoryError()
        for i, md in enumerate(mlist):
            self._fill_match(&self.matches[i], md)
        for i in range(self.n_rules):
            e = &self.rules[i]
            e.cls = _rule_classes(e.proto, e.proto_inv, mlist[e.m_first:e.m_first + e.m_count])
            e.plain = not (e.has_src or e.has_dst or e.iif_off >= 0 or e.oif_off >= 0
                           or e.proto or e.frag or e.l4m or e.m_count)
        self._build_skips(info, skips)
        self._build_dindex(info, dindex)
        self._build_paths(paths)

    def _build_paths(self, bint enable):
        # A traversal in which every rule reached is decided by the packet's
        # class alone (excluded by the prefilter, or plain: no condition;
        # targets ACCEPT / DROP / REJECT / RETURN / jumps / goto / no target)
        # is the same for every packet of that class: do_table's walk is
        # simulated here once per (table, hook, class) and recorded as
        # [verdict, reject, deciding rule, rules_tried, n, the n rules whose
        # counters it increments (as offsets 2 * rule into cnt)].
        # enable=False: no paths (the reference)
        cdef int32_t t, h, b, e, sp, tried, ssize, steps
        cdef uint32_t pcls
        cdef IptRule* r
        out = []
        for t in range(5):
            for h in range(5):
                for b in range(20):
                    self.path_off[t][h][b] = -1
                    e = self.hook_entry[t][h]
                    if not enable or e < 0:
                        continue
                    pcls = 1u << b
                    ssize = self.stacksize[t]
                    stack = []
                    tried = 0
                    counted = []
                    rec = None
                    steps = 0
                    while steps < 4 * self.n_rules + 16:
                        steps += 1
                        r = &self.rules[e]
                        if not (r.cls & pcls):
                            tried += 1
                            e += 1
                            continue
                        if r.run_end or not r.plain:
                            break                   # decided by the packet's fields
                        tried += 1
                        counted.append(e)
                        k = r.tkind
                        if k == TK_CONTINUE:
                            e += 1
                        elif k == TK_ACCEPT or k == TK_DROP or k == TK_REJECT:
                            rec = (NFV_ACCEPT if k == TK_ACCEPT else NFV_DROP,
                                   r.reject if k == TK_REJECT else 0, e)
                            break
                        elif k == TK_RETURN:
                            if not stack:
                                e = self.underflow[t][h]
                            else:
                                e = stack.pop() + 1
                        elif k == TK_JUMP:
                            if len(stack) >= ssize:
                                rec = (NFV_DROP, 0, e)
                                break
                            if (r.skip_cls & pcls) == pcls:
                                tried += r.skip_n
                                counted.append(r.ret)
                                e += 1
                                continue
                            stack.append(e)
                            e = r.jump
                        elif k == TK_GOTO:
                            e = r.jump
                        else:
                            break                   # a target with effects: walked
                    if rec is None:
                        continue
                    self.path_off[t][h][b] = len(out)
                    out.extend([rec[0], rec[1], rec[2], tried, len(counted)]
                               + [2 * c for c in counted])
        self.path = <int32_t*>malloc(max(1, len(out)) * sizeof(int32_t))
        self.pcnt = <uint64_t*>calloc(2 * max(1, len(out)), sizeof(uint64_t))
        if self.path == NULL or self.pcnt == NULL:
            raise MemoryError()
        self.n_path = len(out)
        for k, x in enumerate(out):
            self.path[k] = x

    @property
    def class_paths(self):
        """(table, hook, class bit) of the traversals taken as recorded paths."""
        return sum(1 for t in range(5) for h in range(5) for b in range(20)
                   if self.path_off[t][h][b] >= 0)

    def _build_skips(self, info, bint enable):
        # per TK_JUMP: the classes for which no rule of the target chain can
        # match (the AND of their complements; the chain ends at its hidden
        # RETURN, number 0 in info, which matches every packet);
        # enable=False: every jump enters its chain (the reference for tests)
        cdef int32_t i, k
        cdef uint32_t m
        cdef IptRule* e
        for i in range(self.n_rules):
            e = &self.rules[i]
            e.skip_cls = 0
            e.skip_n = 0
            e.ret = -1
            if e.tkind != TK_JUMP or not enable:
                continue
            m = PC_ALL
            k = e.jump
            while info[k][2] != 0:
                m &= ~self.rules[k].cls & PC_ALL
                k += 1
            if self.rules[k].tkind != TK_RETURN or not self.rules[k].plain:  # pragma: no cover
                continue
            e.skip_cls = m
            e.skip_n = k - e.jump + 1
            e.ret = k

    def _build_dindex(self, info, bint enable):
        # runs of DIDX_MIN+ indexable rules in one chain (IPv4 only);
        # enable=False: every rule tried in turn (the reference for tests)
        cdef int32_t i, j, k, n = self.n_rules, nidx = 0
        cdef uint32_t pos, size
        cdef IptRule* e
        cdef IptRule* f
        runs = []
        i = 0
        while enable and self.family == 4 and i < n:
            j = i
            while (j < n and _dindexable(&self.rules[j])
                   and info[j][0] == info[i][0] and info[j][1] == info[i][1]):
                j += 1
            if j - i >= DIDX_MIN:
                runs.append((i, j))
                nidx += j - i
            i = j + 1 if j == i else j
        for i in range(n):
            self.rules[i].run_end = 0
            self.rules[i].run_start = -1
            self.rules[i].dnext = -1
        if not runs:
            return
        size = 16
        while size < 2 * <uint32_t>nidx:
            size <<= 1
        self.dmask = size - 1
        self.dslot = <int32_t*>malloc(size * sizeof(int32_t))
        if self.dslot == NULL:
            raise MemoryError()
        for k in range(<int32_t>size):
            self.dslot[k] = -1
        for a, b in runs:
            for i in range(b - 1, a - 1, -1):       # backwards: dnext in rule order
                e = &self.rules[i]
                e.run_start = a
                e.run_end = b
                pos = _dhash(a, e.dst[0], e.proto, e.dp_lo) & self.dmask
                while True:
                    k = self.dslot[pos]
                    if k < 0:
                        self.dslot[pos] = i
                        break
                    f = &self.rules[k]
                    if (f.run_start == a and f.dst[0] == e.dst[0] and f.proto == e.proto
                            and f.dp_lo == e.dp_lo):
                        e.dnext = k
                        self.dslot[pos] = i
                        break
                    pos = (pos + 1) & self.dmask

    cdef int32_t _dfind(self, int32_t run, uint32_t daddr, uint8_t proto,
                        uint16_t dport) noexcept nogil:
        """The first rule of the run with this key, -1: none."""
        cdef uint32_t pos = _dhash(run, daddr, proto, dport) & self.dmask
        cdef int32_t k
        cdef IptRule* f
        while True:
            k = self.dslot[pos]
            if k < 0:
                return -1
            f = &self.rules[k]
            if f.run_start == run and f.dst[0] == daddr and f.proto == proto \
                    and f.dp_lo == dport:
                return k
            pos = (pos + 1) & self.dmask

    def _check_loops(self, ruleset, entries, starts):
        # ip_tables.c mark_source_chains: a ruleset with a jump loop is
        # refused at load time (ELOOP)
        graph = {}
        for t, c, n, r in entries:
            if r is not None and r.target in t.chains and not r.unsupported:
                graph.setdefault((t.name, c.name), set()).add((t.name, r.target))
        state = {}

        def visit(node, path):
            st = state.get(node)
            if st == 1:
                raise RulesError(f"chain loop: {' -> '.join(x[1] for x in path + [node])}",
                                 ruleset.path, 0)
            if st == 2:
                return
            state[node] = 1
            for nxt in sorted(graph.get(node, ())):
                visit(nxt, path + [node])
            state[node] = 2

        for node in sorted(graph):
            visit(node, [])

    def _iface_block(self, name, inv, ifok):
        off = len(ifok)
        # one byte per if_slot(): ip_tables.c ifname_compare_aligned, with
        # the rule's inversion folded in
        if name.endswith("+"):
            pre = name[:len(name) - 1]
            ifok.append(int((pre == "") != bool(inv)))          # no device: ""
            for n in self.ifaces:
                ifok.append(int(n.startswith(pre) != bool(inv)))
            ifok.append(int((pre == "") != bool(inv)))          # unknown name
        else:
            ifok.append(int(bool(inv)))
            for n in self.ifaces:
                ifok.append(int((n == name) != bool(inv)))
            ifok.append(int(bool(inv)))
        return off

    def _compile_rule(self, int i, t, c, int n, r, starts, ifok, mlist):
        cdef IptRule* e = &self.rules[i]
        memset(e, 0, sizeof(IptRule))
        e.iif_off = -1
        e.oif_off = -1
        e.m_first = len(mlist)
        if r is None:
            if c.builtin:
                e.tkind = TK_ACCEPT if c.policy == "ACCEPT" else TK_DROP
            else:
                e.tkind = TK_RETURN
            return
        if r.unsupported:
            mlist.append({"kind": MK_NEVER})
            e.m_count = 1
            e.tkind = TK_CONTINUE
            return
        if r.src is not None:
            e.has_src, e.src_inv = 1, r.src_inv
            for k, w in enumerate(_words(r.src[0])):
                e.src[k] = w
            for k, w in enumerate(_words(r.src[1])):
                e.smsk[k] = w
        if r.dst is not None:
            e.has_dst, e.dst_inv = 1, r.dst_inv
            for k, w in enumerate(_words(r.dst[0])):
                e.dst[k] = w
            for k, w in enumerate(_words(r.dst[1])):
                e.dmsk[k] = w
        if r.iif is not None:
            e.iif_off = self._iface_block(r.iif, r.iif_inv, ifok)
        if r.oif is not None:
            e.oif_off = self._iface_block(r.oif, r.oif_inv, ifok)
        e.proto, e.proto_inv = r.proto, r.proto_inv
        e.frag, e.frag_inv = r.frag, r.frag_inv
        for m in r.matches:
            d = m.data
            if m.name in ("tcp", "udp"):
                e.l4m = 1
                e.sp_lo, e.sp_hi, e.dp_lo, e.dp_hi = 0, 65535, 0, 65535
                if "--sport" in d:
                    e.sp_lo, e.sp_hi = d["--sport"]
                    e.sp_inv = d["--sport!"]
                if "--dport" in d:
                    e.dp_lo, e.dp_hi = d["--dport"]
                    e.dp_inv = d["--dport!"]
                if "flags" in d:
                    e.has_flags = 1
                    e.fl_mask, e.fl_cmp, e.fl_inv = d["flags"]
            elif m.name == "multiport":
                which = {"--sports": 1, "--dports": 2, "--ports": 3}[d["which"]]
                mlist.append({"kind": MK_MULTIPORT, "which": which, "inv": d["inv"],
                              "ranges": [(lo, hi) for lo, hi, _ in d["ranges"]]})
            elif m.name in ("icmp", "icmp6"):
                ty, lo, hi = d["type"]
                mlist.append({"kind": MK_ICMP, "inv": d["inv"], "a": ty, "b": lo, "c": hi,
                              "n": 1 if m.name == "icmp" else 0})
            elif m.name == "conntrack":
                if "--ctstate" in d:
                    mlist.append({"kind": MK_CTSTATE, "a": d["--ctstate"][0],
                                  "inv": d["--ctstate"][1]})
                else:
                    mlist.append({"kind": MK_CT_REQ})
                if "--ctproto" in d:
                    mlist.append({"kind": MK_CT_PROTO, "a": d["--ctproto"][0],
                                  "inv": d["--ctproto"][1]})
                for w, o in enumerate(("--ctorigsrc", "--ctorigdst", "--ctreplsrc",
                                       "--ctrepldst")):
                    if o in d:
                        (raw, mask), inv = d[o]
                        mlist.append({"kind": MK_CT_ADDR, "which": w, "inv": inv,
                                      "addr": _words(raw), "mask": _words(mask)})
                for w, o in enumerate(("--ctorigsrcport", "--ctorigdstport",
                                       "--ctreplsrcport", "--ctrepldstport")):
                    if o in d:
                        (lo, hi), inv = d[o]
                        mlist.append({"kind": MK_CT_PORT, "which": w, "inv": inv,
                                      "ranges": [(lo, hi)]})
                if "--ctstatus" in d:
                    mlist.append({"kind": MK_CT_STATUS, "a": d["--ctstatus"][0],
                                  "inv": d["--ctstatus"][1]})
                if "--ctdir" in d:
                    mlist.append({"kind": MK_CT_DIR,
                                  "which": 0 if d["--ctdir"] == "ORIGINAL" else 1})
            elif m.name == "state":
                mlist.append({"kind": MK_STATE, "a": d["--state"][0], "inv": d["--state"][1]})
            elif m.name == "statistic":
                if d["mode"] == "random":
                    mlist.append({"kind": MK_STAT_RANDOM, "a": d["prob"], "inv": d.get("inv", False)})
                else:
                    # libxt_statistic.c statistic_check: count = every - packet
                    # (every already n-1); xt_statistic.c statistic_mt_check
                    # starts the shared counter there, so the first match
                    # is packet number `packet` + 1
                    mlist.append({"kind": MK_STAT_NTH, "a": d["every"],
                                  "c": d["every"] - d["packet"], "inv": d.get("inv", False)})
            elif m.name in ("mark", "connmark"):
                v, mk = d["mark"]
                mlist.append({"kind": MK_MARK if m.name == "mark" else MK_CONNMARK,
                              "a": v & mk, "b": mk, "inv": d["inv"]})
            elif m.name == "addrtype":
                s = d.get("--src-type", (0, False))
                dd = d.get("--dst-type", (0, False))
                mlist.append({"kind": MK_ADDRTYPE, "a": s[0], "b": dd[0],
                              "inv": int(s[1]) | (int(dd[1]) << 1)})
            elif m.name == "physdev":
                for w, o in enumerate(("--physdev-in", "--physdev-out")):
                    if o in d:
                        off = self._iface_block(d[o][0], d[o][1], ifok)
                        mlist.append({"kind": MK_PHYSDEV, "which": w, "a": off})
            elif m.name == "comment":
                pass
            else:  # pragma: no cover - the parser only admits the names above
                raise RulesError(f"match {m.name} cannot be compiled", self.ruleset.path, r.line)
        e.m_count = len(mlist) - e.m_first
        tg = r.target
        d = r.target_data
        if tg is None or tg in ("LOG", "NFLOG"):
            e.tkind = TK_CONTINUE
        elif tg == "ACCEPT":
            e.tkind = TK_ACCEPT
        elif tg == "DROP":
            e.tkind = TK_DROP
        elif tg == "RETURN":
            e.tkind = TK_RETURN
        elif tg in t.chains:
            e.tkind = TK_GOTO if r.goto else TK_JUMP
            e.jump = starts[(t.name, tg)]
        elif tg == "REJECT":
            e.tkind = TK_REJECT
            e.reject = _ext.target_table(self.family)["REJECT"].kind(d)
        elif tg in ("DNAT", "SNAT", "MASQUERADE", "REDIRECT"):
            e.tkind = TK_NAT
            e.nat = _names.NAT_KINDS.index(tg)
            rg = d["range"]
            e.range.flags = d["flags"]
            for k in range(16):
                e.range.min_addr[k] = rg["min"][k]
                e.range.max_addr[k] = rg["max"][k]
            e.range.min_port = rg["pmin"]
            e.range.max_port = rg["pmax"]
        elif tg == "MARK":
            e.tkind = TK_MARK
            e.v1, e.v2 = d["xmark"]
        elif tg == "CONNMARK":
            if d["mode"] == "set":
                e.tkind = TK_CONNMARK_SET
                e.v1, e.v2 = d["xmark"]
            else:
                e.tkind = TK_CONNMARK_SAVE if d["mode"] == "save" else TK_CONNMARK_RESTORE
                e.v1, e.v2 = d["nfmask"], d["ctmask"]
        elif tg in ("NOTRACK", "CT"):
            e.tkind = TK_NOTRACK
        else:  # pragma: no cover
            raise RulesError(f"target {tg} cannot be compiled", self.ruleset.path, r.line)

    cdef _fill_match(self, IptMatch* m, dict md):
        memset(m, 0, sizeof(IptMatch))
        m.kind = md["kind"]
        m.inv = int(md.get("inv", 0))
        m.which = md.get("which", 0)
        m.n = md.get("n", 0)
        m.a = md.get("a", 0)
        m.b = md.get("b", 0)
        m.c = md.get("c", 0)
        if "addr" in md:
            for k in range(4):
                m.addr[k] = md["addr"][k]
                m.mask[k] = md["mask"][k]
        if "ranges" in md:
            m.n = len(md["ranges"])
            for k, (lo, hi) in enumerate(md["ranges"]):
                m.lo[k] = lo
                m.hi[k] = hi

    cdef void do_table(self, NfPkt* p, int hook, int table, NfResult* out,
                       uint64_t* rng) noexcept nogil:
        """ipt_do_table: traverse `table` at `hook` for packet p."""
        cdef int32_t e, off
        cdef uint32_t pcls
        cdef const int32_t* pp
        out.nat = 0
        out.notrack = 0
        e = -1
        if <unsigned>table < 5 and <unsigned>hook < 5 and p.family == self.family:
            e = self.hook_entry[table][hook]
        if e >= 0:
            pcls = pkt_class(p)
            if pcls != PC_ALL:
                off = self.path_off[table][hook][_bit_index(pcls)]
                if off >= 0:
                    # a walk decided by the packet's class alone (_build_paths)
                    pp = self.path + off
                    # the rules' counters later, from the path's (_fold_paths)
                    self.pcnt[2 * off] += 1
                    self.pcnt[2 * off + 1] += p.len
                    out.verdict = <uint8_t>pp[0]
                    out.reject = <uint8_t>pp[1]
                    out.rule = pp[2]
                    out.rules_tried = pp[3]
                    return
        out.verdict = NFV_ACCEPT
        out.rule = -1
        out.reject = 0
        out.rules_tried = 0
        if e >= 0:
            self._walk(p, hook, table, out, rng, e, pcls)

    cdef void _walk(self, NfPkt* p, int hook, int table, NfResult* out, uint64_t* rng,
                    Py_ssize_t e, uint32_t pcls) noexcept nogil:
        """do_table's rule-by-rule walk from rule e (out initialised)."""
        cdef Py_ssize_t f
        cdef int32_t sp = 0, tried = 0, ssize
        cdef IptRule* r
        cdef int words = 1 if self.family == 4 else 4
        cdef int k
        cdef const uint32_t* sw = <const uint32_t*>p.saddr
        cdef const uint32_t* dw = <const uint32_t*>p.daddr
        cdef uint64_t plen = p.len
        # the arrays in locals: with -fno-strict-aliasing every counter or
        # packet store would otherwise reload them from self
        cdef IptRule* rules = self.rules
        cdef uint64_t* cnt = self.cnt
        cdef int32_t* stack = self.stack
        ssize = self.stacksize[table]
        while True:
            r = &rules[e]
            if not (r.cls & pcls):
                # the prefilter: the rule cannot match this packet's class
                # (and none of its matches runs: no side effect)
                tried += 1
                e += 1
                continue
            if r.run_end:
                # an indexed run: jump to the first rule at or after e with
                # the packet's (daddr, proto, dport), or past the run; the
                # rules skipped could not match (first-match order, counters
                # and rules_tried as if each had been tried)
                f = self._dfind(r.run_start, dw[0], p.proto, p.dport)
                while f >= 0 and f < e:
                    f = rules[f].dnext
                if f < 0:
                    f = r.run_end
                if f != e:
                    tried += f - e
                    e = f
                    continue
            tried += 1
            if not r.plain and not rule_match(self, r, p, rng, words, sw, dw):
                e += 1
                continue
            cnt[2 * e] += 1
            cnt[2 * e + 1] += plen
            k = r.tkind
            if k == TK_CONTINUE:
                e += 1
            elif k == TK_ACCEPT:
                out.verdict = NFV_ACCEPT
                out.rule = e
                break
            elif k == TK_DROP:
                out.verdict = NFV_DROP
                out.rule = e
                break
            elif k == TK_RETURN:
                if sp == 0:
                    e = self.underflow[table][hook]
                else:
                    sp -= 1
                    e = stack[sp] + 1
            elif k == TK_JUMP:
                if sp >= ssize:
                    out.verdict = NFV_DROP
                    out.rule = e
                    break
                if (r.skip_cls & pcls) == pcls:
                    # no rule of the chain can match (prefilter; e.g. an
                    # empty chain): each tried in vain, then its RETURN
                    tried += r.skip_n
                    cnt[2 * r.ret] += 1
                    cnt[2 * r.ret + 1] += plen
                    e += 1
                    continue
                stack[sp] = e
                sp += 1
                e = r.jump
            elif k == TK_GOTO:
                e = r.jump
            elif k == TK_REJECT:
                out.verdict = NFV_DROP
                out.reject = r.reject
                out.rule = e
                break
            elif k == TK_NAT:
                out.verdict = NFV_ACCEPT
                out.nat = r.nat
                out.range = r.range
                out.rule = e
                break
            elif k == TK_MARK:
                p.mark = (p.mark & ~r.v2) ^ r.v1
                e += 1
            elif k == TK_CONNMARK_SET:
                if p.ct >= 0:
                    p.ctmark = (p.ctmark & ~r.v2) ^ r.v1
                e += 1
            elif k == TK_CONNMARK_SAVE:
                if p.ct >= 0:
                    p.ctmark = (p.ctmark & ~r.v2) ^ (p.mark & r.v1)
                e += 1
            elif k == TK_CONNMARK_RESTORE:
                if p.ct >= 0:
                    p.mark = (p.mark & ~r.v1) ^ (p.ctmark & r.v2)
                e += 1
            elif k == TK_NOTRACK:
                out.notrack = 1
                e += 1
            else:
                e += 1
        out.rules_tried = tried

    # ------------------------------------------------------------ Python API
    def rule_info(self, int idx):
        """(table, chain, number in chain (1-based; 0: policy / hidden
        RETURN), text)."""
        if idx < 0 or idx >= self.n_rules:
            raise IndexError(idx)
        return self.info[idx]

    def rule_index(self, table, chain, int number):
        for i, inf in enumerate(self.info):
            if inf[0] == table and inf[1] == chain and inf[2] == number:
                return i
        raise KeyError((table, chain, number))

    @property
    def indexed(self):
        """Rules tried through the destination index (in indexed runs)."""
        return sum(1 for i in range(self.n_rules) if self.rules[i].run_end)

    @property
    def skipping(self):
        """Jump rules whose chain is counted without entering it for some
        packet classes (skips)."""
        return sum(1 for i in range(self.n_rules) if self.rules[i].skip_cls)

    def __len__(self):
        return self.n_rules

    cdef void _fold_paths(self) noexcept nogil:
        """Add the packets / bytes counted per recorded path to the counters
        of the rules on it (as many xt_counters increments as the walk would
        have made: the sums are the same) and clear the path counts."""
        cdef int32_t off = 0, k
        cdef const int32_t* pp
        cdef uint64_t n, b
        while off < self.n_path:
            pp = self.path + off
            n = self.pcnt[2 * off]
            if n:
                b = self.pcnt[2 * off + 1]
                for k in range(pp[4]):
                    self.cnt[pp[5 + k]] += n
                    self.cnt[pp[5 + k] + 1] += b
                self.pcnt[2 * off] = 0
                self.pcnt[2 * off + 1] = 0
            off += 5 + pp[4]

    def counters(self):
        """(packets, bytes) as uint64 arrays indexed by global rule index."""
        pk = np.empty(self.n_rules, dtype=np.uint64)
        by = np.empty(self.n_rules, dtype=np.uint64)
        cdef uint64_t[:] a = pk
        cdef uint64_t[:] b = by
        self._fold_paths()
        for i in range(self.n_rules):
            a[i] = self.cnt[2 * i]
            b[i] = self.cnt[2 * i + 1]
        return pk, by

    def reset_counters(self):
        memset(self.cnt, 0, 2 * self.n_rules * sizeof(uint64_t))
        memset(self.pcnt, 0, 2 * max(1, self.n_path) * sizeof(uint64_t))

    def save(self):
        """iptables-save -c text with this evaluator's counters."""
        return self.ruleset.save(self.counters())

    cdef _fill_pkt(self, NfPkt* p, dict pkt):
        memset(p, 0, sizeof(NfPkt))
        fam = int(pkt.get("family", self.family))
        p.family = fam
        proto = pkt.get("proto", 0)
        if isinstance(proto, str):
            proto = _names.PROTO_NUMBERS[proto.lower()]
        p.proto = proto
        p.frag = bool(pkt.get("frag", False))
        p.has_l4 = bool(pkt.get("has_l4", proto in (6, 17, 1, 58, 132, 136) and not p.frag))
        for key in ("src", "dst"):
            raw = parse_ip(fam, pkt.get(key, "0.0.0.0" if fam == 4 else "::"))
            for k in range(16):
                if key == "src":
                    p.saddr[k] = raw[k]
                else:
                    p.daddr[k] = raw[k]
        p.sport = pkt.get("sport", 0)
        p.dport = pkt.get("dport", 0)
        fl = pkt.get("tcp_flags", 0)
        if isinstance(fl, str):
            spec = dict(_names.TCP_FLAGS + (("ECE", 64), ("CWR", 128)))
            fl = sum(spec[x] for x in fl.split(",") if x)
        p.tcp_flags = fl
        p.icmp_type = pkt.get("icmp_type", 0)
        p.icmp_code = pkt.get("icmp_code", 0)
        p.len = pkt.get("len", 0)
        for key in ("iif", "oif"):
            name = pkt.get(key)
            if key + "_index" in pkt:                    # raw index (tests)
                idx = int(pkt[key + "_index"])
            elif name is None:
                idx = -1
            elif name in self.ifaces:
                idx = self.ifaces.index(name)
            else:
                raise ValueError(f"interface {name!r} is not in this evaluator's "
                                 f"interface list {self.ifaces!r}")
            if key == "iif":
                p.iif = idx
            else:
                p.oif = idx
        p.mark = pkt.get("mark", 0)
        for key in ("src_type", "dst_type"):
            v = pkt.get(key, "UNICAST")
            if isinstance(v, str):
                v = 1 << _names.RTN_NAMES.index(v)
            if key == "src_type":
                p.src_type = v
            else:
                p.dst_type = v
        st = pkt.get("ctstate", "NEW")
        p.ctstate = dict(_names.CTSTATE_BITS)[st]
        p.ct = int(pkt.get("ct", 0 if st not in ("INVALID", "UNTRACKED") else -1))
        p.ctdir = {"ORIGINAL": 0, "REPLY": 1}[pkt.get("ctdir", "ORIGINAL")]
        status = pkt.get("ctstatus", 0)
        if isinstance(status, str):
            spec = dict(_names.CTSTATUS_BITS + (("SRC_NAT", 16), ("DST_NAT", 32)))
            status = sum(spec[x] for x in status.split(",") if x)
        p.ctstatus = status
        p.ctmark = pkt.get("ctmark", 0)
        for key in ("ct_orig_src", "ct_orig_dst", "ct_repl_src", "ct_repl_dst"):
            default = {"ct_orig_src": "src", "ct_orig_dst": "dst", "ct_repl_src": "dst",
                       "ct_repl_dst": "src"}[key]
            raw = parse_ip(fam, pkt.get(key, pkt.get(default, "0.0.0.0" if fam == 4 else "::")))
            for k in range(16):
                if key == "ct_orig_src":
                    p.ct_orig_src[k] = raw[k]
                elif key == "ct_orig_dst":
                    p.ct_orig_dst[k] = raw[k]
                elif key == "ct_repl_src":
                    p.ct_repl_src[k] = raw[k]
                else:
                    p.ct_repl_dst[k] = raw[k]
        p.ct_orig_sport = pkt.get("ct_orig_sport", p.sport)
        p.ct_orig_dport = pkt.get("ct_orig_dport", p.dport)
        p.ct_repl_sport = pkt.get("ct_repl_sport", p.dport)
        p.ct_repl_dport = pkt.get("ct_repl_dport", p.sport)

    def evaluate(self, dict pkt, hook, table):
        """Run one table at one hook for a packet given as a dict (test API;
        keys: family, proto, src, dst, sport, dport, tcp_flags, icmp_type,
        icmp_code, len, frag, iif, oif (names; or iif_index / oif_index),
        mark, src_type, dst_type
        (RTN names), ctstate (name), ct, ctdir, ctstatus, ctmark,
        ct_orig_src..., ct_orig_sport...).  Uses and advances self.rng."""
        cdef NfPkt p
        cdef NfResult out
        cdef uint64_t rng = self.rng
        self._fill_pkt(&p, pkt)
        h = _names.HOOKS.index(hook) if isinstance(hook, str) else int(hook)
        t = _names.TABLES.index(table) if isinstance(table, str) else int(table)
        memset(&out, 0, sizeof(NfResult))
        self.do_table(&p, h, t, &out, &rng)
        self.rng = rng
        res = {"verdict": "ACCEPT" if out.verdict == NFV_ACCEPT else "DROP",
               "rule": None, "reject": _names.reject_kind_name(out.reject) or None,
               "nat": _names.NAT_KINDS[out.nat] or None, "range": None,
               "mark": p.mark, "ctmark": p.ctmark, "notrack": bool(out.notrack),
               "rules_tried": out.rules_tried, "index": out.rule}
        if out.rule >= 0:
            res["rule"] = self.info[out.rule][:3]
        if out.nat:
            fam = self.family
            res["range"] = {
                "flags": out.range.flags,
                "min_addr": format_ip(fam, bytes(out.range.min_addr[:16])),
                "max_addr": format_ip(fam, bytes(out.range.max_addr[:16])),
                "min_port": out.range.min_port, "max_port": out.range.max_port}
        return res

    def bench(self, list pkts, hook, table, int64_t rounds):
        """Evaluate the packets `rounds` times in a nogil loop; returns the
        number of rules evaluated (for python -m bench.rules)."""
        cdef int n = len(pkts)
        cdef NfPkt* arr = <NfPkt*>malloc(max(n, 1) * sizeof(NfPkt))
        cdef NfPkt q
        cdef NfResult out
        cdef int64_t total = 0, it
        cdef int i
        cdef uint64_t rng = self.rng
        h = _names.HOOKS.index(hook)
        t = _names.TABLES.index(table)
        cdef int ch = h, ct = t
        for i in range(n):
            self._fill_pkt(&arr[i], pkts[i])
        with nogil:
            for it in range(rounds):
                for i in range(n):
                    q = arr[i]
                    self.do_table(&q, ch, ct, &out, &rng)
                    total += out.rules_tried
        free(arr)
        self.rng = rng
        return total
