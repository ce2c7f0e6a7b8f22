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


_READER = ("import json, time\n"
           "t0 = time.time_ns()\n"
           "d = {}\n"
           "for f in ('snmp', 'netstat', 'snmp6'):\n"
           "    try:\n"
           "        d[f] = open('/proc/net/' + f).read()\n"
           "    except OSError:\n"
           "        d[f] = ''\n"
           "print(json.dumps([t0, time.time_ns(), d]))\n")


def snapshot(ns: str):
    """(counters, t0_ns, t1_ns): all three files read by one process inside
    the namespace between the realtime stamps t0 and t1 (the capture's
    clock), so the capture can be cut exactly where the counters were read."""
    import json
    import sys
    t0, t1, d = json.loads(nsexec(ns, [sys.executable, "-c", _READER], capture=True))
    c = parse_pairs(d["snmp"])
    c.update(parse_pairs(d["netstat"]))
    if d["snmp6"]:
        c.update(parse_snmp6(d["snmp6"]))
    return c, t0, t1


def trim_pcap(path: str, t_end_ns: int, margin_ns: int = 1_000_000):
    """Drop the records stamped after t_end_ns (packets after the counters
    were read); returns (kept, dropped, near) where near counts records
    within margin_ns before t_end_ns (ambiguous: tapped before the read,
    counted maybe after).  Classic pcap, either byte order, us or ns."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError(f"{path}: not a pcap file (only {len(data)} bytes)")
    magic = data[:4]
    table = {b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\xa1\xb2\xc3\xd4": (">", 1000),
             b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1)}
    if magic not in table:
        raise ValueError(f"{path}: unknown pcap magic {magic.hex()}")
    bo, mult = table[magic]
    out = [data[:24]]
    off, kept, dropped, near = 24, 0, 0, 0
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(bo + "IIII", data[off:off + 16])
        if off + 16 + incl > len(data):
            raise ValueError(f"{path}: record at byte {off} runs past the end")
        ts = sec * 1_000_000_000 + frac * mult
        if ts <= t_end_ns:
            out.append(data[off:off + 16 + incl])
            kept += 1
            if ts > t_end_ns - margin_ns:
                near += 1
        else:
            dropped += 1
        off += 16 + incl
    with open(path, "wb") as f:
        f.write(b"".join(out))
    return kept, dropped, near


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
