"""Connection tracking with NAT: Python side of pystack._core.conntrack.

`make_conntrack(sysctls, seed)` builds the table from the
``net.netfilter.nf_conntrack_*`` sysctls; `ConntrackTable` wraps it with a
packet-level test API (`packet`), the table as columns (`entries`), the
``conntrack -L`` text (`to_conntrack_L`) and the ``conntrack -S`` stats.
Per-packet work is in Cython; this module runs once per call.
"""

from __future__ import annotations

import ipaddress

from pystack._core.conntrack import Conntrack, CtPacket, TCP_STATE_NAMES
from pystack.profile import get_profile
from pystack.sysctl import Sysctls

NS = 1_000_000_000

# NF_INET_* hook numbers by iptables chain name
HOOKS = {"PREROUTING": 0, "INPUT": 1, "FORWARD": 2, "OUTPUT": 3, "POSTROUTING": 4}

# IPS_* bits
IPS_SEEN_REPLY, IPS_ASSURED, IPS_CONFIRMED = 2, 4, 8
IPS_SRC_NAT, IPS_DST_NAT = 16, 32
IPS_SRC_NAT_DONE, IPS_DST_NAT_DONE = 128, 256

# CTS_* bits (xt_conntrack --ctstate), nftypes.pxd
CTSTATE_BITS = (("INVALID", 1), ("ESTABLISHED", 2), ("RELATED", 4), ("NEW", 8),
                ("UNTRACKED", 64), ("SNAT", 256), ("DNAT", 512))

# NF_NAT_RANGE_* flags
RANGE_MAP_IPS, RANGE_PROTO_SPECIFIED, RANGE_PROTO_RANDOM = 1, 2, 4
RANGE_PERSISTENT, RANGE_PROTO_RANDOM_FULLY = 8, 16

NAT_CHG = (("saddr", 1), ("daddr", 2), ("sport", 4), ("dport", 8), ("inner", 16))

PROTO_NUM = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "udplite": 136}
# libnetfilter_conntrack's proto2str (what conntrack -L prints)
PROTO_NAME = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6", 136: "udplite",
              132: "sctp", 33: "dccp", 47: "gre"}

_TCP_TIMEOUTS = ("syn_sent", "syn_recv", "established", "fin_wait", "close_wait",
                 "last_ack", "time_wait", "close", "max_retrans", "unacknowledged")


def conntrack_params(sysctls: Sysctls | None = None, profile=None) -> dict:
    """The parameter dict Conntrack() takes, from the sysctls (timeouts in ns)
    and the kernel profile (nf_conntrack_max = 0 semantics)."""
    sc = sysctls if sysctls is not None else Sysctls(profile)
    prof = get_profile(profile if profile is not None else getattr(sc, "profile", None))
    g = lambda short: sc.get(f"net.netfilter.nf_conntrack_{short}")  # noqa: E731
    tcp = {name: g(f"tcp_timeout_{name}") * NS for name in _TCP_TIMEOUTS}
    # SYN_SENT2 has no sysctl: tcp_timeouts[] keeps 2 minutes
    tcp["syn_sent2"] = 120 * NS
    return {
        "max": g("max"), "buckets": g("buckets"), "checksum": g("checksum"),
        "tcp_loose": g("tcp_loose"), "tcp_be_liberal": g("tcp_be_liberal"),
        "tcp_ignore_invalid_rst": g("tcp_ignore_invalid_rst"),
        "tcp_max_retrans": g("tcp_max_retrans"),
        "tcp_timeouts_ns": tcp,
        "udp_timeout_ns": g("udp_timeout") * NS,
        "udp_timeout_stream_ns": g("udp_timeout_stream") * NS,
        "icmp_timeout_ns": g("icmp_timeout") * NS,
        "icmpv6_timeout_ns": g("icmpv6_timeout") * NS,
        "generic_timeout_ns": g("generic_timeout") * NS,
        "gre_timeout_ns": g("gre_timeout") * NS,
        "gre_timeout_stream_ns": g("gre_timeout_stream") * NS,
        "max_zero_is_unlimited": prof.conntrack_max_zero_is_unlimited,
    }


def addr16(a) -> bytes:
    """An address as NfPkt holds it: IPv4 in bytes 0..3, the rest zero."""
    ip = ipaddress.ip_address(a) if not isinstance(a, (ipaddress.IPv4Address,
                                                         ipaddress.IPv6Address)) else a
    if ip.version == 4:
        return ip.packed + bytes(12)
    return ip.packed


def addr_str(b: bytes, family: int) -> str:
    if family == 4:
        return str(ipaddress.IPv4Address(b[:4]))
    return str(ipaddress.IPv6Address(b[:16]))


def _flags(v) -> int:
    if isinstance(v, int):
        return v
    bits = {"F": 1, "S": 2, "R": 4, "P": 8, "A": 16, "U": 32, "E": 64, "C": 128}
    return sum(bits[c] for c in v)


def nat_range(addr=None, addr_max=None, ports=None, random=False, random_fully=False,
              persistent=False) -> dict:
    """A NatRange as a DNAT/SNAT rule gives it (`--to addr[-addr_max][:lo[-hi]]`)."""
    flags = 0
    mn = mx = bytes(16)
    if addr is not None:
        flags |= RANGE_MAP_IPS
        mn = addr16(addr)
        mx = addr16(addr_max if addr_max is not None else addr)
    lo = hi = 0
    if ports is not None:
        flags |= RANGE_PROTO_SPECIFIED
        lo, hi = (ports, ports) if isinstance(ports, int) else ports
    if random:
        flags |= RANGE_PROTO_RANDOM
    if random_fully:
        flags |= RANGE_PROTO_RANDOM_FULLY
    if persistent:
        flags |= RANGE_PERSISTENT
    return {"flags": flags, "min_addr": mn, "max_addr": mx, "min_port": lo, "max_port": hi}


def make_packet(pkt: dict) -> CtPacket:
    """An NfPkt from a dict: src, dst, proto ('tcp'/'udp'/'icmp'/number),
    sport, dport, flags ('S', 'SA', ... or bits), seq, ack, win, wscale,
    sackok, paylen, icmp_type, icmp_code, id (ICMP echo id), csum_bad, frag,
    inner=dict(proto, src, dst, sport, dport)."""
    src = ipaddress.ip_address(pkt["src"])
    proto = pkt.get("proto", "tcp")
    proto = PROTO_NUM[proto] if isinstance(proto, str) else int(proto)
    p = CtPacket()
    kw = dict(family=src.version, proto=proto, saddr=addr16(src), daddr=addr16(pkt["dst"]),
              has_l4=int(pkt.get("has_l4", 1)), frag=int(pkt.get("frag", 0)),
              l4_csum_bad=int(pkt.get("csum_bad", 0)), len=pkt.get("len", 60))
    if proto in (1, 58):
        kw.update(icmp_type=pkt.get("icmp_type", 8 if proto == 1 else 128),
                  icmp_code=pkt.get("icmp_code", 0), dport=pkt.get("id", 0))
    else:
        kw.update(sport=pkt.get("sport", 0), dport=pkt.get("dport", 0))
    if proto == 6:
        kw.update(tcp_flags=_flags(pkt.get("flags", "S")), tcp_seq=pkt.get("seq", 0) & 0xffffffff,
                  tcp_ack=pkt.get("ack", 0) & 0xffffffff, tcp_win=pkt.get("win", 64240),
                  tcp_wscale=pkt.get("wscale", 0xff) if pkt.get("wscale") is not None else 0xff,
                  tcp_sackok=int(pkt.get("sackok", 0)))
        if pkt.get("sack_right") is not None:
            kw.update(tcp_nsack=1, tcp_sack_right=pkt["sack_right"] & 0xffffffff)
    kw["l4_paylen"] = pkt.get("paylen", 0)
    inner = pkt.get("inner")
    if inner is not None:
        ip = inner.get("proto", "tcp")
        kw.update(has_inner=1, in_proto=PROTO_NUM[ip] if isinstance(ip, str) else ip,
                  in_saddr=addr16(inner["src"]), in_daddr=addr16(inner["dst"]),
                  in_sport=inner.get("sport", inner.get("id", 0)),
                  in_dport=inner.get("dport", 0))
    p.set(**kw)
    return p


def ctstate_names(bits: int) -> list[str]:
    return [n for n, b in CTSTATE_BITS if bits & b]


def status_names(status: int) -> list[str]:
    out = []
    if status & IPS_ASSURED:
        out.append("ASSURED")
    if not status & IPS_SEEN_REPLY:
        out.append("UNREPLIED")
    else:
        out.append("SEEN_REPLY")
    return out


class ConntrackTable:
    """A Conntrack with the Python-side views.  `ct` is the Cython object the
    engine uses (its C API is in pyx/conntrack.pxd)."""

    def __init__(self, sysctls: Sysctls | None = None, seed: int = 0, params: dict | None = None):
        self.params = params if params is not None else conntrack_params(sysctls)
        self.ct = Conntrack(self.params, seed)

    # --- stats -----------------------------------------------------------
    def stats(self) -> dict:
        """conntrack -S counters (found, invalid, insert, insert_failed, drop,
        early_drop, error, search_restart, clashres) and entries."""
        return self.ct.stats()

    def to_conntrack_S(self) -> str:
        """`conntrack -S` text for one CPU (conntrack-tools 1.4.7 spelling:
        clashres is printed clash_resolve; chaintoolong is not modelled, 0)."""
        st = self.ct.stats()
        names = [("found", "found"), ("invalid", "invalid"), ("insert", "insert"),
                 ("insert_failed", "insert_failed"), ("drop", "drop"),
                 ("early_drop", "early_drop"), ("error", "error"),
                 ("search_restart", "search_restart"), ("clashres", "clash_resolve")]
        body = " ".join(f"{shown}={st[key]}" for key, shown in names)
        return f"cpu=0   \t{body} chaintoolong=0 \n"

    # --- one packet through the hooks (tests, tools) ---------------------
    def packet(self, pkt: dict, hook: str, now_ns: int, notrack: bool = False, *,
               out_hook: str | None = None, dnat: dict | None = None,
               snat: dict | None = None, masq_addr=None, confirm: bool = True,
               die: bool = False) -> dict:
        """Drive one packet: conntrack_in at `hook` (PREROUTING / OUTPUT), the
        DST-manip nat hook there (`dnat` range, else a null binding), then at
        `out_hook` (INPUT for PREROUTING, POSTROUTING for OUTPUT unless given)
        the SRC-manip nat hook (`snat` range or `masq_addr` for MASQUERADE,
        else a null binding) and confirm.  `die`: the packet is dropped
        between the hooks (discard instead of confirm).  Returns the verdict,
        the conntrack view and the packet's addresses after NAT."""
        h = HOOKS[hook]
        if out_hook is None:
            out_hook = "INPUT" if hook == "PREROUTING" else "POSTROUTING"
        oh = HOOKS[out_hook]
        p = make_packet(pkt)
        v = self.ct.py_in(p, h, now_ns, notrack)
        res = {"verdict": "ACCEPT" if v == 1 else "DROP"}
        changed = 0
        if v == 1:
            changed |= self.ct.py_nat(p, h, dnat)
            if die:
                self.ct.py_discard(p)
            else:
                ma = addr16(masq_addr) if masq_addr is not None else None
                changed |= self.ct.py_nat(p, oh, snat, ma)
                if confirm:
                    cv = self.ct.py_confirm(p, now_ns)
                    if cv != 1:
                        res["verdict"] = "DROP"
        res.update(self._view(p, pkt))
        res["nat_changed"] = [n for n, b in NAT_CHG if changed & b]
        res["pkt"] = p
        return res

    def _view(self, p: CtPacket, pkt: dict) -> dict:
        v = p.view()
        fam = ipaddress.ip_address(pkt["src"]).version
        out = {
            "ct": v["ct"], "ctstate": ctstate_names(v["ctstate"]),
            "dir": "REPLY" if v["ctdir"] else "ORIGINAL", "ctstatus": v["ctstatus"],
            "ctmark": v["ctmark"],
            "src": addr_str(v["saddr"], fam), "dst": addr_str(v["daddr"], fam),
            "sport": v["sport"], "dport": v["dport"],
        }
        if pkt.get("inner") is not None:
            out["inner"] = {"src": addr_str(v["in_saddr"], fam),
                            "dst": addr_str(v["in_daddr"], fam),
                            "sport": v["in_sport"], "dport": v["in_dport"]}
        return out

    # --- the table -------------------------------------------------------
    def entries(self, now_ns: int) -> dict:
        """The confirmed entries at now_ns as columns, sorted as to_conntrack_L."""
        rows = sorted(self.ct.raw_entries(now_ns), key=_sort_key)
        cols = {k: [] for k in ("proto", "state", "timeout", "orig", "reply", "status", "mark")}
        for r in rows:
            (_i, fam, proto, tstate, tmo, status, mark, os_, od, osp, odp, rs, rd, rsp, rdp,
             _abs) = r
            cols["proto"].append(PROTO_NAME.get(proto, "unknown"))
            cols["state"].append(TCP_STATE_NAMES[tstate] if proto == 6 else "")
            cols["timeout"].append(tmo)
            cols["orig"].append(_tuple_str(fam, proto, os_, od, osp, odp))
            cols["reply"].append(_tuple_str(fam, proto, rs, rd, rsp, rdp))
            cols["status"].append(status_names(status))
            cols["mark"].append(mark)
        return cols

    def to_conntrack_L(self, now_ns: int) -> str:
        """The table in `conntrack -L` format (default output), sorted by
        family, protocol, original tuple."""
        lines = []
        for r in sorted(self.ct.raw_entries(now_ns), key=_sort_key):
            (_i, fam, proto, tstate, tmo, status, mark, os_, od, osp, odp, rs, rd, rsp, rdp,
             _abs) = r
            s = f"{PROTO_NAME.get(proto, 'unknown'):<8} {proto} {tmo} "
            if proto == 6:
                s += TCP_STATE_NAMES[tstate] + " "
            s += _tuple_str(fam, proto, os_, od, osp, odp) + " "
            if not status & IPS_SEEN_REPLY:
                s += "[UNREPLIED] "
            s += _tuple_str(fam, proto, rs, rd, rsp, rdp) + " "
            if status & IPS_ASSURED:
                s += "[ASSURED] "
            s += f"mark={mark} use=1"
            lines.append(s)
        return "".join(line + "\n" for line in lines)


def _sort_key(r):
    return (r[1], r[2], r[7], r[8], r[9], r[10])


def _tuple_str(fam, proto, s, d, sp, dp) -> str:
    out = f"src={addr_str(s, fam)} dst={addr_str(d, fam)}"
    if proto in (1, 58):
        out += f" type={dp >> 8} code={dp & 0xff} id={sp}"
    elif proto in (6, 17, 136):
        out += f" sport={sp} dport={dp}"
    elif proto == 47:
        out += f" srckey=0x{sp:x} dstkey=0x{dp:x}"
    return out


def make_conntrack(sysctls: Sysctls | None = None, seed: int = 0, profile=None,
                   **overrides) -> ConntrackTable:
    """A ConntrackTable; overrides are conntrack_params keys (e.g. max=4)."""
    params = conntrack_params(sysctls, profile)
    params.update(overrides)
    return ConntrackTable(params=params, seed=seed)
