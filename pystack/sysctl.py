"""The sysctls the model honours: one table, with the kernel's own validation.

Every entry carries the name exactly as Linux spells it, its shape (one int
or a vector of ints), the 6.18 default of the reference machine (sheet
section 9), the range the kernel's proc handler accepts, and a one-line
description.  Profiles (pystack.profile) override the few defaults that
differ between versions and hide sysctls a version does not have.

Validation follows the proc handler named in each entry
(kernel/sysctl.c semantics):

* ``proc_dointvec``: any C int (-2**31 .. 2**31-1).
* ``proc_dointvec_minmax``: int within extra1..extra2 (missing bound = none).
* ``proc_dou8vec_minmax``: u8 0..255, narrowed by extra1/extra2 if given.
* ``proc_douintvec(_minmax)``: unsigned int 0..2**32-1, narrowed likewise.
* ``proc_doulongvec_minmax``: unsigned long 0..2**64-1 (tcp_mem, udp_mem).
* ``proc_dointvec_jiffies``: seconds, |v| <= INT_MAX/HZ (HZ=1000 here).
  Negative values, accepted by the kernel but meaningless for timeouts, are
  refused here.
* ``proc_dointvec_ms_jiffies``: milliseconds, any int; negatives refused here.

Vector sysctls written with fewer values than they hold update only the
leading elements, as proc_dointvec does (``echo 8192 > tcp_rmem`` changes
only tcp_rmem[0]).

* ``proc_do_large_bitmap``: comma-separated bit numbers and ranges
  ("0-1,3-127"), each < the bitmap length (256 for net.ipv6.icmp.ratemask);
  held as one int whose bit n is set for n in the list.

Sources: net/core/sysctl_net_core.c, net/ipv4/sysctl_net_ipv4.c,
net/ipv4/devinet.c, net/ipv6/icmp.c, net/netfilter/nf_conntrack_standalone.c.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Iterable, Mapping, Sequence

from pystack.profile import KernelProfile, get_profile

INT_MIN = -(2 ** 31)
INT_MAX = 2 ** 31 - 1
UINT_MAX = 2 ** 32 - 1
ULONG_MAX = 2 ** 64 - 1
U8_MAX = 255
HZ = 1000                      # CONFIG_HZ of the reference machine
JIFFIES_SEC_MAX = INT_MAX // HZ

# kernel/sysctl.c handler -> (lowest, highest) representable value.
_HANDLER_LIMITS = {
    "proc_dointvec": (INT_MIN, INT_MAX),
    "proc_dointvec_minmax": (INT_MIN, INT_MAX),
    "proc_dou8vec_minmax": (0, U8_MAX),
    "proc_douintvec": (0, UINT_MAX),
    "proc_douintvec_minmax": (0, UINT_MAX),
    "proc_doulongvec_minmax": (0, ULONG_MAX),
    # do_proc_dointvec_jiffies_conv: |v| > INT_MAX / HZ -> -EINVAL
    "proc_dointvec_jiffies": (0, JIFFIES_SEC_MAX),
    # do_proc_dointvec_ms_jiffies_conv: msecs_to_jiffies(v) > INT_MAX -> -EINVAL
    "proc_dointvec_ms_jiffies": (0, INT_MAX),
    # proc_do_large_bitmap: a bitmap of ICMPV6_MSG_MAX + 1 bits, held here as
    # one int (bit n = type n), written and printed as ranges ("0-1,3-127")
    "proc_do_large_bitmap": (0, 2 ** 256 - 1),
}


class SysctlError(ValueError):
    """A sysctl name or value the kernel would refuse."""


@dataclass(frozen=True)
class SysctlSpec:
    """One sysctl: name, shape, default (6.18 reference machine), validation."""

    name: str
    default: int | tuple[int, ...]
    handler: str                    # kernel proc handler (kernel/sysctl.c)
    source: str                     # kernel file registering it
    description: str
    min: int | None = None          # extra1 (None: the handler's own limit)
    max: int | None = None          # extra2
    length: int = 1                 # number of ints (1 = scalar)
    unit: str = ""
    # extra check on the full value (e.g. ip_local_port_range lo <= hi);
    # returns an error text or None.
    check: Callable[[tuple[int, ...]], str | None] | None = None

    @property
    def is_vector(self) -> bool:
        return self.length > 1

    @property
    def lo(self) -> int:
        base = _HANDLER_LIMITS[self.handler][0]
        return base if self.min is None else max(base, self.min)

    @property
    def hi(self) -> int:
        base = _HANDLER_LIMITS[self.handler][1]
        return base if self.max is None else min(base, self.max)

    def allowed(self) -> str:
        """Human text of the accepted range."""
        rng = f"{self.lo}..{self.hi}"
        if self.is_vector:
            return f"{self.length} integers, each {rng}"
        return rng


def _port_range_check(v: tuple[int, ...]) -> str | None:
    # net/ipv4/sysctl_net_ipv4.c: ipv4_local_port_range(): range[1] < range[0]
    # or range[0] < ip_unprivileged_port_start (1024 by default) -> -EINVAL.
    if v[1] < v[0]:
        return f"the upper port {v[1]} is below the lower port {v[0]}"
    if v[0] < 1024:
        return (f"the lower port {v[0]} is below ip_unprivileged_port_start (1024), "
                "which the kernel refuses")
    return None


_IPV4 = "net/ipv4/sysctl_net_ipv4.c"
_ICMP6 = "net/ipv6/icmp.c"
_CORE = "net/core/sysctl_net_core.c"
_CT = "net/netfilter/nf_conntrack_standalone.c"


def bitmap_from_ranges(text: str, nbits: int = 256) -> int:
    """kernel/sysctl.c proc_do_large_bitmap: "0-1,3-127" -> int with those
    bits set; a bit >= nbits or a range whose end is below its start is
    refused (-EINVAL), as is anything but digits, '-' and ','."""
    bits = 0
    txt = text.strip()
    if not txt:
        return 0
    for part in txt.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise SysctlError(f"{text!r}: {part!r} is not a bit number or a range a-b")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) is not None else a
        if a >= nbits or b >= nbits:
            raise SysctlError(f"{text!r}: bit {max(a, b)} is beyond the bitmap "
                              f"(0..{nbits - 1})")
        if b < a:
            raise SysctlError(f"{text!r}: range {part!r} ends before it starts")
        bits |= ((1 << (b - a + 1)) - 1) << a
    return bits


def bitmap_to_ranges(bits: int) -> str:
    """proc_do_large_bitmap's read side: "0-1,3-127"."""
    out = []
    n = 0
    while bits >> n:
        if (bits >> n) & 1:
            a = n
            while (bits >> (n + 1)) & 1:
                n += 1
            out.append(str(a) if a == n else f"{a}-{n}")
        n += 1
    return ",".join(out)


def _ct_timeout(short: str, default: int, what: str) -> SysctlSpec:
    return SysctlSpec(f"net.netfilter.nf_conntrack_{short}", default,
                      "proc_dointvec_jiffies", _CT, what, unit="s")


_SPECS: tuple[SysctlSpec, ...] = (
    # --- net.core ------------------------------------------------------------
    SysctlSpec("net.core.somaxconn", 4096, "proc_dointvec_minmax", _CORE,
               "upper limit of the listen() backlog (__sys_listen_socket)", min=0),
    SysctlSpec("net.core.rmem_max", 4194304, "proc_dointvec_minmax", _CORE,
               "largest SO_RCVBUF an application may set (x2 applied by the kernel)",
               min=2304, unit="bytes"),   # extra1 = &min_rcvbuf (SOCK_MIN_RCVBUF)
    SysctlSpec("net.core.wmem_max", 4194304, "proc_dointvec_minmax", _CORE,
               "largest SO_SNDBUF an application may set (x2 applied by the kernel)",
               min=4608, unit="bytes"),   # extra1 = &min_sndbuf (SOCK_MIN_SNDBUF)
    SysctlSpec("net.core.rmem_default", 212992, "proc_dointvec_minmax", _CORE,
               "initial receive buffer of non-TCP sockets (UDP)", min=2304, unit="bytes"),
    SysctlSpec("net.core.wmem_default", 212992, "proc_dointvec_minmax", _CORE,
               "initial send buffer of non-TCP sockets (UDP)", min=4608, unit="bytes"),
    SysctlSpec("net.core.netdev_max_backlog", 1000, "proc_dointvec", _CORE,
               "per-CPU input backlog length (CPU_BACKLOG drops beyond it)"),
    # --- net.ipv4: IP / ICMP -------------------------------------------------
    SysctlSpec("net.ipv4.ip_forward", 0, "proc_dointvec", "net/ipv4/devinet.c",
               "forward packets not addressed to this host (non-zero = on)"),
    SysctlSpec("net.ipv4.ip_default_ttl", 64, "proc_dou8vec_minmax", _IPV4,
               "TTL of locally generated IPv4 packets", min=1, max=255),
    SysctlSpec("net.ipv4.ip_local_port_range", (32768, 60999), "proc_dointvec_minmax",
               _IPV4, "ephemeral port range for outgoing connections",
               min=1, max=65535, length=2, check=_port_range_check),
    SysctlSpec("net.ipv4.icmp_echo_ignore_all", 0, "proc_dou8vec_minmax", _IPV4,
               "ignore all ICMP echo requests", min=0, max=1),
    SysctlSpec("net.ipv4.icmp_echo_ignore_broadcasts", 1, "proc_dou8vec_minmax", _IPV4,
               "ignore ICMP echo requests sent to broadcast/multicast", min=0, max=1),
    SysctlSpec("net.ipv4.icmp_ratelimit", 1000, "proc_dointvec_ms_jiffies", _IPV4,
               "per-destination minimum gap between rate-limited ICMP messages",
               unit="ms"),
    SysctlSpec("net.ipv4.icmp_ratemask", 6168, "proc_dointvec", _IPV4,
               "bitmask of ICMP types subject to icmp_ratelimit"),
    SysctlSpec("net.ipv4.icmp_msgs_per_sec", 1000, "proc_dointvec_minmax", _IPV4,
               "global ICMP output token rate", min=0),
    SysctlSpec("net.ipv4.icmp_msgs_burst", 50, "proc_dointvec_minmax", _IPV4,
               "global ICMP output token bucket depth", min=0),
    # --- net.ipv6.icmp --------------------------------------------------------
    SysctlSpec("net.ipv6.icmp.echo_ignore_all", 0, "proc_dou8vec_minmax", _ICMP6,
               "ignore all ICMPv6 echo requests", min=0, max=1),
    # 100 ms since "ipv6: icmp: remove obsolete code in icmpv6_xrlim_allow()"
    # (0201eedb69b2, in 6.18.y stable: the reference machine's 6.18.44 prints
    # 100); before it 1000 ms, divided for routes wider than /128
    SysctlSpec("net.ipv6.icmp.ratelimit", 100, "proc_dointvec_ms_jiffies", _ICMP6,
               "per-destination minimum gap between rate-limited ICMPv6 messages",
               unit="ms"),
    SysctlSpec("net.ipv6.icmp.ratemask", (0b11 | (((1 << 125) - 1) << 3)),
               "proc_do_large_bitmap", _ICMP6,
               "ICMPv6 types subject to net.ipv6.icmp.ratelimit (and the shared "
               "icmp_msgs_per_sec bucket); default 0-1,3-127"),
    # --- net.ipv4: TCP listener ----------------------------------------------
    SysctlSpec("net.ipv4.tcp_max_syn_backlog", 2048, "proc_dointvec", _IPV4,
               "without syncookies: drop SYNs once the SYN queue passes 3/4 of this "
               "(tcp_conn_request)"),
    SysctlSpec("net.ipv4.tcp_syncookies", 1, "proc_dou8vec_minmax", _IPV4,
               "0 off, 1 cookies when the SYN queue is full, 2 always "
               "(other non-zero values act as 1)"),
    SysctlSpec("net.ipv4.tcp_abort_on_overflow", 0, "proc_dou8vec_minmax", _IPV4,
               "reset (instead of ignoring) a final ACK that finds the accept queue full"),
    SysctlSpec("net.ipv4.tcp_synack_retries", 5, "proc_dou8vec_minmax", _IPV4,
               "SYN-ACK retransmissions before a request socket is dropped"),
    SysctlSpec("net.ipv4.tcp_syn_retries", 6, "proc_dou8vec_minmax", _IPV4,
               "SYN retransmissions of an active open", min=1, max=127),  # MAX_TCP_SYNCNT
    SysctlSpec("net.ipv4.tcp_syn_linear_timeouts", 4, "proc_dou8vec_minmax", _IPV4,
               "SYN retransmissions done at a linear (not exponential) timeout",
               min=0, max=127),
    SysctlSpec("net.ipv4.tcp_rto_max_ms", 120000, "proc_dointvec_minmax", _IPV4,
               "maximum retransmission timeout (6.15+)", min=1000, max=120000, unit="ms"),
    # --- net.ipv4: TCP buffers and windows -----------------------------------
    SysctlSpec("net.ipv4.tcp_rmem", (4096, 131072, 33554432), "proc_dointvec_minmax",
               _IPV4, "TCP receive buffer: min, initial sk_rcvbuf, autotuning max",
               min=1, length=3, unit="bytes"),
    SysctlSpec("net.ipv4.tcp_wmem", (4096, 16384, 4194304), "proc_dointvec_minmax",
               _IPV4, "TCP send buffer: min, initial sk_sndbuf, autotuning max",
               min=1, length=3, unit="bytes"),
    SysctlSpec("net.ipv4.tcp_mem", (287898, 383867, 575796), "proc_doulongvec_minmax",
               _IPV4, "TCP memory thresholds (pages): low, pressure, high",
               length=3, unit="pages"),
    SysctlSpec("net.ipv4.udp_mem", (575799, 767734, 1151598), "proc_doulongvec_minmax",
               _IPV4, "UDP memory thresholds (pages): low, pressure, high",
               length=3, unit="pages"),
    SysctlSpec("net.ipv4.udp_rmem_min", 4096, "proc_dointvec_minmax", _IPV4,
               "receive memory a UDP socket may always use under pressure",
               min=1, unit="bytes"),
    SysctlSpec("net.ipv4.tcp_window_scaling", 1, "proc_dou8vec_minmax", _IPV4,
               "offer/accept the window scale option (RFC 7323)"),
    SysctlSpec("net.ipv4.tcp_timestamps", 1, "proc_dou8vec_minmax", _IPV4,
               "TCP timestamps: 0 off, 1 on with per-connection offsets, 2 on without"),
    SysctlSpec("net.ipv4.tcp_sack", 1, "proc_dou8vec_minmax", _IPV4,
               "offer/accept selective acknowledgements"),
    SysctlSpec("net.ipv4.tcp_moderate_rcvbuf", 1, "proc_dou8vec_minmax", _IPV4,
               "receive-buffer autotuning (tcp_rcv_space_adjust)"),
    SysctlSpec("net.ipv4.tcp_app_win", 31, "proc_dou8vec_minmax", _IPV4,
               "reserve max(window/2^tcp_app_win, mss) of the window for the application",
               min=0, max=31),
    SysctlSpec("net.ipv4.tcp_adv_win_scale", 1, "proc_dointvec_minmax", _IPV4,
               "obsolete since 6.6 (scaling_ratio replaced it); kept for completeness",
               min=-31, max=31),
    SysctlSpec("net.ipv4.tcp_shrink_window", 0, "proc_dou8vec_minmax", _IPV4,
               "allow the advertised window to shrink (RFC 7323 2.4)", min=0, max=1),
    SysctlSpec("net.ipv4.tcp_workaround_signed_windows", 0, "proc_dou8vec_minmax", _IPV4,
               "cap windows at 32767 for peers that did not offer window scaling"),
    # --- net.ipv4: TCP validation, TIME_WAIT ---------------------------------
    SysctlSpec("net.ipv4.tcp_rfc1337", 0, "proc_dou8vec_minmax", _IPV4,
               "ignore RSTs for sockets in TIME_WAIT (RFC 1337)"),
    SysctlSpec("net.ipv4.tcp_invalid_ratelimit", 500, "proc_dointvec_ms_jiffies", _IPV4,
               "minimum gap between duplicate ACKs sent for invalid segments", unit="ms"),
    SysctlSpec("net.ipv4.tcp_challenge_ack_limit", 2147483647, "proc_dointvec", _IPV4,
               "challenge ACKs per second (global)"),
    SysctlSpec("net.ipv4.tcp_fin_timeout", 60, "proc_dointvec_jiffies", _IPV4,
               "FIN_WAIT2 timeout of orphaned sockets (not TIME_WAIT, fixed 60 s)",
               unit="s"),
    SysctlSpec("net.ipv4.tcp_max_tw_buckets", 131072, "proc_dointvec", _IPV4,
               "TIME_WAIT sockets kept at most (TCPTimeWaitOverflow beyond)"),
    SysctlSpec("net.ipv4.tcp_tw_reuse", 2, "proc_dou8vec_minmax", _IPV4,
               "reuse TIME_WAIT 4-tuples for outgoing connects: 0 no, 1 yes, 2 loopback only",
               min=0, max=2),
    # --- net.netfilter (conntrack) -------------------------------------------
    SysctlSpec("net.netfilter.nf_conntrack_max", 262144, "proc_dointvec_minmax", _CT,
               "conntrack entries allowed (early drop / NF_DROP beyond)",
               min=0, max=INT_MAX),
    SysctlSpec("net.netfilter.nf_conntrack_buckets", 262144, "proc_dointvec", _CT,
               "conntrack hash table size (nf_conntrack_hash_sysctl resizes; >= 1)",
               min=1),
    SysctlSpec("net.netfilter.nf_conntrack_checksum", 1, "proc_dou8vec_minmax", _CT,
               "verify TCP/UDP checksums at PRE_ROUTING before tracking", min=0, max=1),
    SysctlSpec("net.netfilter.nf_conntrack_tcp_loose", 1, "proc_dou8vec_minmax", _CT,
               "pick up TCP connections mid-stream (first packet not a SYN)", min=0, max=1),
    SysctlSpec("net.netfilter.nf_conntrack_tcp_be_liberal", 0, "proc_dou8vec_minmax", _CT,
               "accept out-of-window TCP packets (only invalid RSTs stay INVALID)",
               min=0, max=1),
    SysctlSpec("net.netfilter.nf_conntrack_tcp_ignore_invalid_rst", 0,
               "proc_dou8vec_minmax", _CT,
               "do not mark out-of-window RSTs INVALID", min=0, max=1),
    SysctlSpec("net.netfilter.nf_conntrack_tcp_max_retrans", 3, "proc_dou8vec_minmax", _CT,
               "retransmissions before the max_retrans timeout applies"),
    _ct_timeout("tcp_timeout_syn_sent", 120, "conntrack timeout in TCP SYN_SENT"),
    _ct_timeout("tcp_timeout_syn_recv", 60, "conntrack timeout in TCP SYN_RECV"),
    _ct_timeout("tcp_timeout_established", 432000, "conntrack timeout in TCP ESTABLISHED"),
    _ct_timeout("tcp_timeout_fin_wait", 120, "conntrack timeout in TCP FIN_WAIT"),
    _ct_timeout("tcp_timeout_close_wait", 60, "conntrack timeout in TCP CLOSE_WAIT"),
    _ct_timeout("tcp_timeout_last_ack", 30, "conntrack timeout in TCP LAST_ACK"),
    _ct_timeout("tcp_timeout_time_wait", 120, "conntrack timeout in TCP TIME_WAIT"),
    _ct_timeout("tcp_timeout_close", 10, "conntrack timeout in TCP CLOSE"),
    _ct_timeout("tcp_timeout_max_retrans", 300,
                "conntrack timeout cap after tcp_max_retrans retransmissions"),
    _ct_timeout("tcp_timeout_unacknowledged", 300,
                "conntrack timeout cap with unacknowledged data in flight"),
    _ct_timeout("udp_timeout", 30, "conntrack timeout of UDP flows without a reply"),
    _ct_timeout("udp_timeout_stream", 120, "conntrack timeout of replied UDP flows older than 2 s"),
    _ct_timeout("icmp_timeout", 30, "conntrack timeout of ICMP echo/info flows"),
    _ct_timeout("icmpv6_timeout", 30, "conntrack timeout of ICMPv6 echo flows"),
    _ct_timeout("generic_timeout", 600, "conntrack timeout of other protocols"),
    _ct_timeout("gre_timeout", 30, "conntrack timeout of GRE flows without a reply"),
    _ct_timeout("gre_timeout_stream", 180, "conntrack timeout of replied GRE flows"),
)

#: name -> spec, in table order.
SYSCTLS: Mapping[str, SysctlSpec] = MappingProxyType({s.name: s for s in _SPECS})

#: Other names of the same kernel variable.
#: nf_conntrack_standalone.c: nf_ct_netfilter_table registers net.nf_conntrack_max
#: with the same data as net.netfilter.nf_conntrack_max.
ALIASES: Mapping[str, str] = MappingProxyType({
    "net.nf_conntrack_max": "net.netfilter.nf_conntrack_max",
    "net.ipv4.conf.all.forwarding": "net.ipv4.ip_forward",
})


def canonical_name(name: str) -> str:
    """Accept "net.core.somaxconn", "net/core/somaxconn" or
    "/proc/sys/net/core/somaxconn"; returns the dotted name (unchecked)."""
    n = str(name).strip()
    if n.startswith("/proc/sys/"):
        n = n[len("/proc/sys/"):]
    if "/" in n:
        n = n.strip("/").replace("/", ".")
    return ALIASES.get(n, n)


def _suggest(name: str, names: Iterable[str]) -> str:
    names = list(names)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if not close:
        # try the last component alone ("somaxcon" -> net.core.somaxconn)
        leaf = name.rsplit(".", 1)[-1]
        leaves = {n.rsplit(".", 1)[-1]: n for n in names}
        m = difflib.get_close_matches(leaf, list(leaves), n=1, cutoff=0.6)
        close = [leaves[m[0]]] if m else []
    return f"; did you mean {close[0]!r}?" if close else ""


def lookup(name: str, profile: KernelProfile | str | None = None) -> SysctlSpec:
    """The spec of a sysctl; SysctlError (with a suggestion) if unknown."""
    prof = get_profile(profile)
    n = canonical_name(name)
    spec = SYSCTLS.get(n)
    if spec is None:
        avail = [k for k in SYSCTLS if k not in prof.sysctls_absent]
        raise SysctlError(f"unknown sysctl {name!r}{_suggest(n, avail)}")
    if n in prof.sysctls_absent:
        raise SysctlError(f"sysctl {n} does not exist in Linux {prof.version} "
                          f"(profile {prof.name})")
    return spec


_INT_RE = re.compile(r"^[+-]?\d+$")


def _to_int(spec: SysctlSpec, tok, raw) -> int:
    if isinstance(tok, bool):
        raise SysctlError(f"{spec.name}: {raw!r} is not an integer "
                          "(write 0 or 1, not true/false)")
    if isinstance(tok, int):
        return tok
    if isinstance(tok, str) and _INT_RE.match(tok.strip()):
        return int(tok.strip())
    raise SysctlError(f"{spec.name}: {raw!r} is not "
                      f"{'a list of integers' if spec.is_vector else 'an integer'}")


def parse_value(spec: SysctlSpec, value, current: Sequence[int] | int | None = None):
    """Validate `value` for `spec`; returns an int or a tuple of ints.

    `value` may be an int, a sequence of ints, or a string as `sysctl` prints
    it ("4096\\t131072\\t33554432", "4096 131072 33554432").  For vectors a
    shorter value updates only the leading elements of `current`.
    """
    raw = value
    if spec.handler == "proc_do_large_bitmap":
        if isinstance(value, str):
            try:
                return bitmap_from_ranges(value, spec.hi.bit_length())
            except SysctlError as e:
                raise SysctlError(f"{spec.name}: {e}") from None
        if isinstance(value, bool) or not isinstance(value, int) \
                or not spec.lo <= value <= spec.hi:
            raise SysctlError(f"{spec.name}: {value!r} is neither a list of ranges "
                              "(\"0-1,3-127\") nor a bitmap int")
        return value
    if isinstance(value, str):
        toks: list = value.replace(",", " ").split()
        if not toks:
            raise SysctlError(f"{spec.name}: empty value")
    elif isinstance(value, (list, tuple)):
        toks = list(value)
    else:
        toks = [value]
    ints = [_to_int(spec, t, raw) for t in toks]
    if not spec.is_vector:
        if len(ints) != 1:
            raise SysctlError(f"{spec.name}: expected one integer, got {raw!r}")
    elif len(ints) > spec.length:
        raise SysctlError(f"{spec.name}: expected at most {spec.length} integers, "
                          f"got {len(ints)} ({raw!r})")
    for i, v in enumerate(ints):
        if not spec.lo <= v <= spec.hi:
            what = f"{spec.name}[{i}]" if spec.is_vector else spec.name
            raise SysctlError(
                f"{what}: {v} is out of range; the kernel accepts {spec.allowed()} "
                f"({spec.handler}, {spec.source})")
    if not spec.is_vector:
        return ints[0]
    base = list(current if current is not None else spec.default)
    base[:len(ints)] = ints
    result = tuple(base)
    if spec.check is not None:
        err = spec.check(result)
        if err:
            raise SysctlError(f"{spec.name}: {err}")
    return result


def format_value(value) -> str:
    """As `sysctl` prints it: vectors tab-separated."""
    if isinstance(value, tuple):
        return "\t".join(str(v) for v in value)
    return str(value)


class Sysctls:
    """The effective sysctl values of one host under one kernel profile."""

    def __init__(self, profile: KernelProfile | str | None = None,
                 values: Mapping[str, object] | None = None):
        self.profile = get_profile(profile)
        self._defaults = {}
        for name, spec in SYSCTLS.items():
            if name in self.profile.sysctls_absent:
                continue
            self._defaults[name] = self.profile.sysctl_defaults.get(name, spec.default)
        self._values = dict(self._defaults)
        for k, v in (values or {}).items():
            self.set(k, v)

    # --- access --------------------------------------------------------------
    def set(self, name: str, value) -> None:
        """Set a sysctl from an int, a list of ints, or sysctl's string form.

        SysctlError names the sysctl and the accepted range."""
        spec = lookup(name, self.profile)
        self._values[spec.name] = parse_value(spec, value, self._values[spec.name])

    def get(self, name: str):
        """Current value: int, or tuple of ints for vectors."""
        return self._values[lookup(name, self.profile).name]

    __getitem__ = get

    def __setitem__(self, name: str, value) -> None:
        self.set(name, value)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonical_name(name) in self._values

    def default(self, name: str):
        return self._defaults[lookup(name, self.profile).name]

    def names(self) -> list[str]:
        return sorted(self._values)

    def format(self, name: str) -> str:
        """The value as `sysctl NAME` prints it."""
        if lookup(name, self.profile).handler == "proc_do_large_bitmap":
            return bitmap_to_ranges(self.get(name))
        return format_value(self.get(name))

    def as_dict(self) -> dict:
        """All effective values, sorted by name; vectors as lists (JSON-ready)."""
        return {k: self._json(k, v) for k, v in sorted(self._values.items())}

    @staticmethod
    def _json(name: str, v):
        # bitmaps as the kernel prints them ("0-1,3-127"), vectors as lists
        if SYSCTLS[name].handler == "proc_do_large_bitmap":
            return bitmap_to_ranges(v)
        return list(v) if isinstance(v, tuple) else v

    def changed(self) -> dict:
        """Sysctls that differ from the profile defaults:
        {name: {"default": ..., "value": ...}}, sorted, JSON-ready."""
        out = {}
        for k in sorted(self._values):
            v, d = self._values[k], self._defaults[k]
            if v != d:
                out[k] = {"default": self._json(k, d), "value": self._json(k, v)}
        return out

    def copy(self) -> "Sysctls":
        new = Sysctls(self.profile)
        new._values = dict(self._values)
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sysctls):
            return NotImplemented
        return self.profile.name == other.profile.name and self._values == other._values

    def __repr__(self) -> str:
        ch = {k: v["value"] for k, v in self.changed().items()}
        return f"Sysctls(profile={self.profile.name!r}, changed={ch!r})"
