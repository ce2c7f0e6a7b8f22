"""The kernel's truth: SNMP/netstat counters under their nstat names, deltas.

/proc/net/snmp, /proc/net/netstat: pairs of lines "Tcp: Name1 Name2 ..." /
"Tcp: v1 v2 ..."; the nstat name is prefix + name (TcpActiveOpens,
TcpExtListenOverflows, IpExtInOctets, IcmpMsgOutType3).  /proc/net/snmp6:
"Ip6InReceives  12" one per line, already full names.  They are read inside
the namespace (``ip netns exec NS cat``): /proc/net follows the reader's
network namespace.
"""
from __future__ import annotations

from bench.kernel.netns import nsexec

#: gauges, not event counters: compared as values, never as deltas
GAUGES = {"TcpCurrEstab", "TcpRtoAlgorithm", "TcpRtoMin", "TcpRtoMax", "TcpMaxConn",
          "IpForwarding", "IpDefaultTTL"}


def parse_pairs(text: str) -> dict:
    out: dict = {}
    lines = [l for l in text.splitlines() if l.strip()]
    for head, vals in zip(lines[0::2], lines[1::2]):
        p1, names = head.split(":", 1)
        p2, values = vals.split(":", 1)
        if p1 != p2:
            raise ValueError(f"unpaired /proc/net lines {p1!r} / {p2!r}")
        for n, v in zip(names.split(), values.split()):
            out[p1 + n] = int(v)
    return out


def parse_snmp6(text: str) -> dict:
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def snapshot(ns: str) -> dict:
    c = parse_pairs(nsexec(ns, "cat /proc/net/snmp", capture=True))
    c.update(parse_pairs(nsexec(ns, "cat /proc/net/netstat", capture=True)))
    s6 = nsexec(ns, "cat /proc/net/snmp6", capture=True, check=False)
    if s6:
        c.update(parse_snmp6(s6))
    return c


def deltas(before: dict, after: dict) -> dict:
    """Non-zero changes of event counters; gauges as their final value."""
    out = {}
    for k, v in after.items():
        if k in GAUGES:
            continue
        d = v - before.get(k, 0)
        if d:
            out[k] = d
    return out
