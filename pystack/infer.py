"""Infer the host and its listeners from a capture when no config is given.

Rule: an address that answers SYNs with SYN-ACKs (SYN and ACK set, RST not)
is the host (a SYN-ACK is sent only by a socket in LISTEN, tcp_conn_request);
the source ports of its SYN-ACKs are its TCP listeners.  Several answering
addresses are handled deterministically:

* candidates are ranked by SYN-ACKs sent (descending), ties by address bytes;
* a candidate whose SYN-ACKs all went to other candidates is a *peer*: it
  only served connections opened by servers, i.e. the host's own outgoing
  connections (a database, an API); it is only mentioned in the notes;
* every other candidate is a host address (several: a note says so);
* if all candidates are peers of each other, the top-ranked one is the host
  and the others stay peers only if they answered nobody else.

UDP (optional, ``udp=True``): a port of a host address that both receives and
sends datagrams, outside ip_local_port_range (32768..60999 by default, where
the host's own client sockets live), is taken as a bound UDP socket (e.g. 53).

Inferred TCP listeners bind the family wildcard (0.0.0.0, or :: with
ipv6only) with backlog 4096 -- what listen(fd, SOMAXCONN) gives -- since a
capture cannot show the listen() argument; the config notes say so.

Input: per batch, the parsed columns as a dict of numpy arrays (see
pyx/parse.pxd): ``tcp_flags``, ``saddr``/``daddr`` (16-byte rows, IPv4 as
::ffff:a.b.c.d), ``sport``, ``dport``, and when present ``flags`` (PF_* bits;
rows without PF_L4/PF_L4_PARTIAL, or with PF_FRAG_LATER, are skipped),
``ip_proto`` (6 TCP, 17 UDP) and ``ip_ver``.
"""
from __future__ import annotations

import ipaddress
from collections import Counter

import numpy as np

from pystack.config import SOMAXCONN, HostConfig, Listener
from pystack.sysctl import Sysctls

# pyx/parse.pxd: PF_* and TH_* bits
PF_FRAG_LATER = 1 << 6
PF_L4 = 1 << 9
PF_L4_PARTIAL = 1 << 18
TH_FIN, TH_SYN, TH_RST, TH_ACK = 0x01, 0x02, 0x04, 0x10

IPPROTO_TCP = 6
IPPROTO_UDP = 17


def _addr_str(b: bytes) -> str:
    a = ipaddress.IPv6Address(b)
    return str(a.ipv4_mapped) if a.ipv4_mapped is not None else str(a)


def _addr_sort_key(s: str):
    a = ipaddress.ip_address(s)
    return (a.version, a.packed)


def _count_pairs(addr: np.ndarray, port: np.ndarray) -> Counter:
    """Counter of (16-byte address, port) over the rows (vectorised)."""
    if len(port) == 0:
        return Counter()
    rows = np.empty((len(port), 18), dtype=np.uint8)
    rows[:, :16] = addr.reshape(len(port), 16)
    p = port.astype(np.uint16)
    rows[:, 16] = p >> 8
    rows[:, 17] = p & 0xFF
    keys, counts = np.unique(rows, axis=0, return_counts=True)
    return Counter({(bytes(k[:16]), int(k[16]) << 8 | int(k[17])): int(c)
                    for k, c in zip(keys, counts)})


def _count_addr_pairs(a: np.ndarray, b: np.ndarray) -> Counter:
    n = len(a)
    if n == 0:
        return Counter()
    rows = np.concatenate([a.reshape(n, 16), b.reshape(n, 16)], axis=1)
    keys, counts = np.unique(rows, axis=0, return_counts=True)
    return Counter({(bytes(k[:16]), bytes(k[16:])): int(c) for k, c in zip(keys, counts)})


class Inference:
    """Accumulates evidence batch by batch; :meth:`result` builds a HostConfig."""

    def __init__(self, udp: bool = True, local_port_range: tuple[int, int] = (32768, 60999)):
        self.udp = udp
        self.local_port_range = local_port_range
        self.synacks: Counter = Counter()        # (addr, port) -> SYN-ACKs sent from it
        self.syns: Counter = Counter()           # (addr, port) -> SYNs sent to it
        self.synack_peers: Counter = Counter()   # (host addr, peer addr) -> SYN-ACKs
        self.udp_in: Counter = Counter()         # (addr, port) -> datagrams to it
        self.udp_out: Counter = Counter()        # (addr, port) -> datagrams from it
        self.packets = 0

    def feed(self, cols: dict) -> None:
        """Add one batch of parsed columns (dict of numpy arrays)."""
        flags_tcp = np.asarray(cols["tcp_flags"])
        n = len(flags_tcp)
        self.packets += n
        if n == 0:
            return
        ok = np.ones(n, dtype=bool)
        if "flags" in cols:
            f = np.asarray(cols["flags"])
            ok &= (f & (PF_L4 | PF_L4_PARTIAL)) != 0
            ok &= (f & PF_FRAG_LATER) == 0
        proto = np.asarray(cols["ip_proto"]) if "ip_proto" in cols else None
        tcp = ok if proto is None else ok & (proto == IPPROTO_TCP)
        saddr = np.asarray(cols["saddr"]).reshape(n, 16)
        sport = np.asarray(cols["sport"])
        dport = np.asarray(cols["dport"])
        fl = flags_tcp & (TH_SYN | TH_ACK | TH_RST)
        synack = tcp & (fl == (TH_SYN | TH_ACK))
        syn = tcp & (fl == TH_SYN)
        if synack.any():
            self.synacks.update(_count_pairs(saddr[synack], sport[synack]))
            if "daddr" in cols:
                daddr = np.asarray(cols["daddr"]).reshape(n, 16)
                self.synack_peers.update(_count_addr_pairs(saddr[synack], daddr[synack]))
        if syn.any() and "daddr" in cols:
            daddr = np.asarray(cols["daddr"]).reshape(n, 16)
            self.syns.update(_count_pairs(daddr[syn], dport[syn]))
        if self.udp and proto is not None and "daddr" in cols:
            u = ok & (proto == IPPROTO_UDP)
            if u.any():
                daddr = np.asarray(cols["daddr"]).reshape(n, 16)
                self.udp_in.update(_count_pairs(daddr[u], dport[u]))
                self.udp_out.update(_count_pairs(saddr[u], sport[u]))

    # --- conclusions ---------------------------------------------------------
    def _hosts(self) -> tuple[list[bytes], list[bytes]]:
        """(host addresses, peer addresses), both in rank order."""
        per_addr: Counter = Counter()
        for (a, _p), c in self.synacks.items():
            per_addr[a] += c
        ranked = sorted(per_addr, key=lambda a: (-per_addr[a], a))
        cands = set(ranked)
        dests: dict[bytes, set] = {a: set() for a in ranked}
        for (s, d) in self.synack_peers:
            if s in dests:
                dests[s].add(d)
        # a peer only ever answered other SYN-ACK senders (servers): it serves
        # the host's own outgoing connections
        host = [a for a in ranked if not dests[a] or not dests[a] <= cands]
        if not host and ranked:
            host = [ranked[0]]
            host += [a for a in ranked[1:] if not dests[a] <= {ranked[0]}]
        peers = [a for a in ranked if a not in host]
        return host, peers

    def _listeners(self, host: list[bytes]):
        hs = set(host)
        tcp: Counter = Counter()           # (family, port) -> SYN-ACKs
        syns: Counter = Counter()
        for (a, p), c in self.synacks.items():
            if a in hs:
                fam = 4 if ipaddress.IPv6Address(a).ipv4_mapped is not None else 6
                tcp[(fam, p)] += c
        for (a, p), c in self.syns.items():
            if a in hs:
                fam = 4 if ipaddress.IPv6Address(a).ipv4_mapped is not None else 6
                if (fam, p) in tcp:
                    syns[(fam, p)] += c
        udp: Counter = Counter()
        lo, hi = self.local_port_range
        for (a, p), c in self.udp_in.items():
            if a in hs and (a, p) in self.udp_out and not lo <= p <= hi:
                fam = 4 if ipaddress.IPv6Address(a).ipv4_mapped is not None else 6
                udp[(fam, p)] += c
        return tcp, syns, udp

    def result(self, sysctls: Sysctls | None = None) -> HostConfig:
        """The inferred host (default sysctls unless given)."""
        host, peers = self._hosts()
        tcp, _syns, udp = self._listeners(host)
        cfg = HostConfig(name="inferred", sysctls=sysctls if sysctls is not None else Sysctls())
        cfg.addresses = sorted((_addr_str(a) for a in host), key=_addr_sort_key)
        for (fam, port) in sorted(tcp):
            addr = "0.0.0.0" if fam == 4 else "::"
            cfg.listeners.append(Listener(addr, port, "tcp", backlog=SOMAXCONN,
                                          ipv6only=(fam == 6)))
        for (fam, port) in sorted(udp):
            addr = "0.0.0.0" if fam == 4 else "::"
            cfg.listeners.append(Listener(addr, port, "udp", ipv6only=(fam == 6)))
        if tcp:
            cfg.notes.append(
                f"TCP listeners inferred from SYN-ACKs; backlog unknown, assumed "
                f"listen(fd, SOMAXCONN) = {SOMAXCONN} (effective min(backlog, "
                f"net.core.somaxconn)); SO_RCVBUF not set; application accepts "
                "immediately and reads as data arrives")
        if udp:
            cfg.notes.append("UDP sockets inferred from ports that receive and send "
                             "datagrams outside ip_local_port_range")
        if peers:
            cfg.notes.append("not the host (they only answered connections the host "
                             "opened): " + ", ".join(
                                 sorted((_addr_str(p) for p in peers), key=_addr_sort_key)))
        if len(host) > 1:
            cfg.notes.append(f"{len(host)} addresses answered SYNs; all are treated as "
                             "one host (use --config to describe it precisely)")
        if not host:
            cfg.notes.append("no SYN-ACK in the capture: host addresses and listeners "
                             "could not be inferred (use --config)")
        return cfg

    def describe(self) -> str:
        """Printable summary of what was inferred."""
        host, peers = self._hosts()
        tcp, syns, udp = self._listeners(host)
        if not host:
            return ("no host inferred: no address answered a SYN with a SYN-ACK "
                    f"in {self.packets:,} packets")
        parts = []
        for a in sorted(host, key=lambda b: _addr_sort_key(_addr_str(b))):
            sent = sum(c for (x, _p), c in self.synacks.items() if x == a)
            got = sum(c for (x, p), c in self.syns.items()
                      if x == a and (x, p) in self.synacks)
            parts.append(f"{_addr_str(a)} (sent {sent:,} SYN-ACKs for {got:,} SYNs)")
        lines = [f"host {', '.join(parts)}"]
        ls = []
        for (fam, port) in sorted(tcp):
            fam_s = "" if fam == 4 else " IPv6"
            ls.append(f"tcp/{port}{fam_s} ({tcp[(fam, port)]:,} SYN-ACKs, "
                      f"{syns.get((fam, port), 0):,} SYNs)")
        for (fam, port) in sorted(udp):
            fam_s = "" if fam == 4 else " IPv6"
            ls.append(f"udp/{port}{fam_s} ({udp[(fam, port)]:,} datagrams in)")
        lines.append("listeners: " + (", ".join(ls) if ls else "none"))
        cfg = self.result()
        for note in cfg.notes:
            lines.append(f"note: {note}")
        return "\n".join(lines) + "\n"
