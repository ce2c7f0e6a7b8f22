# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Python hooks at the netfilter hook points (Replay.add_hook).

Models: a callback registered like nf_register_net_hook (include/linux/
netfilter.h struct nf_hook_ops: hook number, priority; net/netfilter/core.c
nf_hook_entries_grow keeps the entries sorted by priority, a new entry after
existing ones of the same priority, i.e. after the built-in tables), its
verdict NF_ACCEPT / NF_DROP as nf_hook_slow treats it.  The `match` dict is
a cheap C pre-filter (ph_match, nogil): only matching packets take the GIL.

Not modelled: NF_QUEUE / NF_STOLEN / NF_REPEAT verdicts, rewriting the
packet (only skb->mark is writable), hooks on the host's ICMP errors and
REJECT resets (packets that carry another packet's conntrack) beyond the
LOCAL_OUT raw position.
"""
import ipaddress

from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t
from libc.string cimport memset
from pystack._core.nftypes cimport (NfPkt, CTS_INVALID, CTS_ESTABLISHED, CTS_RELATED,
                                    CTS_NEW, CTS_UNTRACKED)

ACCEPT = "ACCEPT"
DROP = "DROP"

HOOKS = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
# the built-in hook entries' priorities (include/uapi/linux/netfilter_ipv4.h
# enum nf_ip_hook_priorities; the same values for IPv6)
PRIORITIES = {"raw": -300, "conntrack": -200, "mangle": -150, "nat_dst": -100,
              "filter": 0, "security": 50, "nat_src": 100}

_PROTOS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132,
           "dccp": 33, "udplite": 136, "gre": 47, "esp": 50, "ah": 51}
_FLAGS = {"FIN": 1, "SYN": 2, "RST": 4, "PSH": 8, "ACK": 16, "URG": 32, "ECE": 64, "CWR": 128}
_CTSTATES = {"INVALID": CTS_INVALID, "NEW": CTS_NEW, "RELATED": CTS_RELATED,
             "ESTABLISHED": CTS_ESTABLISHED, "UNTRACKED": CTS_UNTRACKED}
MATCH_KEYS = ("proto", "family", "src", "dst", "sport", "dport", "tcp_flags", "direction",
              "ctstate")


def _flag_bits(v, key):
    if isinstance(v, int):
        if not 0 <= v <= 255:
            raise ValueError(f"match {key!r}: {v} is not a TCP flags byte")
        return v
    if isinstance(v, str):
        if v.upper() == "NONE":
            return 0
        if v.upper() == "ALL":
            return 0x3F
        b = 0
        for f in v.replace("|", ",").split(","):
            f = f.strip().upper()
            if f not in _FLAGS:
                raise ValueError(f"match {key!r}: unknown TCP flag {f!r}")
            b |= _FLAGS[f]
        return b
    raise ValueError(f"match {key!r}: expected flag names or an int, got {v!r}")


def _port_range(v, key):
    if isinstance(v, bool):
        raise ValueError(f"match {key!r}: expected a port or (lo, hi), got {v!r}")
    if isinstance(v, int):
        lo = hi = v
    elif isinstance(v, str) and ":" in v:
        a, b = v.split(":", 1)
        lo = int(a) if a else 0
        hi = int(b) if b else 65535
    elif isinstance(v, str):
        lo = hi = int(v)
    elif isinstance(v, (tuple, list)) and len(v) == 2:
        lo, hi = int(v[0]), int(v[1])
    else:
        raise ValueError(f"match {key!r}: expected a port, 'lo:hi' or (lo, hi), got {v!r}")
    if not (0 <= lo <= hi <= 65535):
        raise ValueError(f"match {key!r}: bad port range {lo}..{hi}")
    return lo, hi


cdef int ph_compile(object match, PhMatch* m) except -1:
    """The C form of a hook's match dict (keys MATCH_KEYS); ValueError names
    the offending key."""
    cdef int k
    memset(m, 0, sizeof(PhMatch))
    m.proto = -1
    m.sport_lo = m.sport_hi = m.dport_lo = m.dport_hi = -1
    if match is None:
        return 0
    if not isinstance(match, dict):
        raise TypeError(f"match must be a dict, not {type(match).__name__}")
    for key in match:
        if key not in MATCH_KEYS:
            raise ValueError(f"unknown match key {key!r} (known: {', '.join(MATCH_KEYS)})")
    v = match.get("proto")
    if v is not None:
        if isinstance(v, str):
            if v.lower() not in _PROTOS:
                raise ValueError(f"match 'proto': unknown protocol {v!r}")
            v = _PROTOS[v.lower()]
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 255:
            raise ValueError(f"match 'proto': expected a name or 0..255, got {v!r}")
        m.proto = v
    v = match.get("family")
    if v is not None:
        if v not in (4, 6):
            raise ValueError(f"match 'family': expected 4 or 6, got {v!r}")
        m.family = v
    for key in ("src", "dst"):
        v = match.get(key)
        if v is None:
            continue
        try:
            net = ipaddress.ip_network(v, strict=False)
        except ValueError as e:
            raise ValueError(f"match {key!r}: {e}") from None
        if m.family and m.family != net.version:
            raise ValueError(f"match {key!r}: {v} is not IPv{m.family}")
        m.family = net.version
        raw = net.network_address.packed
        if key == "src":
            m.has_src = 1
            m.src_len = net.prefixlen
            for k in range(len(raw)):
                m.src[k] = raw[k]
        else:
            m.has_dst = 1
            m.dst_len = net.prefixlen
            for k in range(len(raw)):
                m.dst[k] = raw[k]
    v = match.get("sport")
    if v is not None:
        m.sport_lo, m.sport_hi = _port_range(v, "sport")
    v = match.get("dport")
    if v is not None:
        m.dport_lo, m.dport_hi = _port_range(v, "dport")
    v = match.get("tcp_flags")
    if v is not None:
        if not isinstance(v, (tuple, list)) or len(v) != 2:
            raise ValueError("match 'tcp_flags': expected (mask, value), e.g. ('SYN,ACK', 'SYN')")
        mask = _flag_bits(v[0], "tcp_flags")
        val = _flag_bits(v[1], "tcp_flags")
        if val & ~mask:
            raise ValueError(f"match 'tcp_flags': value {v[1]!r} has flags outside mask {v[0]!r}")
        if mask == 0:
            raise ValueError("match 'tcp_flags': empty mask")
        m.flags_mask = mask
        m.flags_val = val
    v = match.get("direction")
    if v is not None:
        if not isinstance(v, str) or v.upper() not in ("ORIGINAL", "REPLY"):
            raise ValueError(f"match 'direction': expected 'ORIGINAL' or 'REPLY', got {v!r}")
        m.ctdir = 1 if v.upper() == "ORIGINAL" else 2
    v = match.get("ctstate")
    if v is not None:
        names = [v] if isinstance(v, str) else list(v)
        bits = 0
        for nm in names:
            for s in str(nm).split(","):
                s = s.strip().upper()
                if s not in _CTSTATES:
                    raise ValueError(f"match 'ctstate': unknown state {s!r}")
                bits |= _CTSTATES[s]
        if not bits:
            raise ValueError("match 'ctstate': no state given")
        m.ctstate = bits
    return 0


def check_match(match):
    """Compile `match` only to validate it (ValueError / TypeError)."""
    cdef PhMatch m
    ph_compile(match, &m)


cdef str _addr(const uint8_t* a, uint8_t family):
    if family == 4:
        return f"{a[0]}.{a[1]}.{a[2]}.{a[3]}"
    return str(ipaddress.IPv6Address(bytes(a[:16])))


cdef class HookPacket:
    """The packet a Python hook sees: valid only during the call.  Addresses
    and ports are the current ones at this hook position (after DNAT at
    PREROUTING -100, ...); `mark` is skb->mark and may be set."""

    cdef NfPkt* _p(self) except NULL:
        if self.p == NULL:
            raise RuntimeError("HookPacket used after its hook call returned")
        return self.p

    @property
    def hook(self):
        return HOOKS[self.hook]

    @property
    def family(self):
        return self._p().family

    @property
    def proto(self):
        return self._p().proto

    @property
    def src(self):
        cdef NfPkt* p = self._p()
        return _addr(p.saddr, p.family)

    @property
    def dst(self):
        cdef NfPkt* p = self._p()
        return _addr(p.daddr, p.family)

    @property
    def sport(self):
        """Source port (0 without ports: ICMP, non-first fragments)."""
        cdef NfPkt* p = self._p()
        return p.sport if (p.has_l4 and ph_ports(p.proto)) else 0

    @property
    def dport(self):
        cdef NfPkt* p = self._p()
        return p.dport if (p.has_l4 and ph_ports(p.proto)) else 0

    @property
    def tcp_flags(self):
        cdef NfPkt* p = self._p()
        return p.tcp_flags if (p.proto == 6 and p.has_l4) else 0

    @property
    def seq(self):
        return self._p().tcp_seq

    @property
    def ack(self):
        return self._p().tcp_ack

    @property
    def payload_len(self):
        return self._p().l4_paylen

    @property
    def len(self):
        """IP datagram length (skb->len)."""
        return self._p().len

    @property
    def mark(self):
        return self._p().mark

    @mark.setter
    def mark(self, value):
        v = int(value)
        if not 0 <= v <= 0xFFFFFFFF:
            raise ValueError(f"mark {value!r} is not a 32-bit value")
        self._p().mark = <uint32_t>v

    @property
    def ctstate(self):
        """NEW / ESTABLISHED / RELATED / INVALID / UNTRACKED, None before
        conntrack looked at the packet (priority < -200 at PREROUTING /
        OUTPUT)."""
        cdef uint16_t st = self._p().ctstate
        for name, bit in _CTSTATES.items():
            if st & bit:
                return name
        return None

    @property
    def ct_id(self):
        """The conntrack entry (the ct_id column), -1 none."""
        return self._p().ct

    @property
    def ctdir(self):
        cdef NfPkt* p = self._p()
        if p.ct < 0:
            return None
        return "REPLY" if p.ctdir else "ORIGINAL"

    @property
    def data(self):
        """The captured frame's bytes (link layer included)."""
        self._p()
        return bytes(self.data_p[:self.caplen])

    def drop(self):
        """NF_DROP this packet (the same as returning DROP)."""
        self._p()
        self.dropped = True

    def __repr__(self):
        if self.p == NULL:
            return f"<HookPacket frame {self.frame} (call returned)>"
        return (f"<HookPacket frame {self.frame} {HOOKS[self.hook]}@{self.priority} "
                f"proto {self.proto} {self.src}:{self.sport} -> {self.dst}:{self.dport} "
                f"mark {self.mark:#x} ctstate {self.ctstate}>")
