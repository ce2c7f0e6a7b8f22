"""dpkt as the oracle for pystack._core.parse.

Two halves:

* builders (eth, sll, sll2, null, loop, ipv4, ipv6, tcp, udp, icmp, icmp6)
  that produce packet bytes with dpkt, and
* expected(pkt, linktype, wirelen) that decodes a packet with dpkt and returns
  the PacketColumns values it implies for a well-formed packet (status 0).

Kernel rules that dpkt does not know (which TCP option sizes the kernel
accepts, ICMP echo id/seq in sport/dport, v4-mapped addresses) are applied
on top of dpkt's decode here, explicitly, so the test states them once.
"""
from __future__ import annotations

import socket
import struct

import dpkt
import numpy as np

from pystack._core import parse as P

# flag bits (mirror of pyx/parse.pxd)
PF_TRUNCATED = 1 << 0
PF_VLAN = 1 << 1
PF_QINQ = 1 << 2
PF_IPV4 = 1 << 3
PF_IPV6 = 1 << 4
PF_FRAG = 1 << 5
PF_FRAG_LATER = 1 << 6
PF_IP_OPTS = 1 << 7
PF_IPV6_EXT = 1 << 8
PF_L4 = 1 << 9
PF_TCP_MSS = 1 << 10
PF_TCP_WSCALE = 1 << 11
PF_TCP_SACKOK = 1 << 12
PF_TCP_TS = 1 << 13
PF_TCP_OPTBAD = 1 << 14
PF_ICMP_INNER = 1 << 15
PF_NOT_IP = 1 << 16
PF_BAD_LINK = 1 << 17
PF_L4_PARTIAL = 1 << 18

MAC_A = b"\x02\x00\x00\x00\x00\x01"
MAC_B = b"\x02\x00\x00\x00\x00\x02"
V4_A, V4_B = socket.inet_aton("10.0.0.1"), socket.inet_aton("192.168.7.9")
V6_A = socket.inet_pton(socket.AF_INET6, "2001:db8::1")
V6_B = socket.inet_pton(socket.AF_INET6, "2001:db8:ffff::2")


# --------------------------------------------------------------------------- builders

def tcp(sport=40000, dport=80, seq=1000, ack=0, flags=dpkt.tcp.TH_SYN, win=65535,
        opts=b"", data=b"", off=None):
    if len(opts) % 4:
        opts += b"\x00" * (4 - len(opts) % 4)
    t = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, win=win,
                     opts=opts, data=data)
    t.off = off if off is not None else 5 + len(opts) // 4
    return t


def udp(sport=5353, dport=53, data=b"hello", ulen=None):
    u = dpkt.udp.UDP(sport=sport, dport=dport, data=data)
    u.ulen = 8 + len(data) if ulen is None else ulen
    return u


def icmp(type_=8, code=0, data=None):
    if data is None:
        data = dpkt.icmp.ICMP.Echo(id=0x1234, seq=7, data=b"ping")
    return dpkt.icmp.ICMP(type=type_, code=code, data=data)


def icmp_error(type_, code, inner: bytes):
    """ICMP error quoting `inner` (bytes of an IP datagram's beginning)."""
    return dpkt.icmp.ICMP(type=type_, code=code, data=b"\x00\x00\x00\x00" + inner)


def icmp6(type_=128, code=0, data=None):
    if data is None:
        data = dpkt.icmp6.ICMP6.Echo(id=0x4321, seq=9, data=b"ping6")
    return dpkt.icmp6.ICMP6(type=type_, code=code, data=data)


def icmp6_error(type_, code, inner: bytes):
    return dpkt.icmp6.ICMP6(type=type_, code=code, data=b"\x00\x00\x00\x00" + inner)


_PROTO = {dpkt.tcp.TCP: 6, dpkt.udp.UDP: 17, dpkt.icmp.ICMP: 1, dpkt.icmp6.ICMP6: 58}


def ipv4(l4=None, src=V4_A, dst=V4_B, p=None, opts=b"", id_=0x4242, off=0x4000, ttl=64,
         tos=0, tot_len=None, raw_payload=None):
    """IPv4 datagram bytes.  `off` is the raw flags+offset field."""
    payload = bytes(l4) if raw_payload is None else raw_payload
    if p is None:
        p = _PROTO.get(type(l4), 0)
    if len(opts) % 4:
        opts += b"\x01" * (4 - len(opts) % 4)
    hl = 5 + len(opts) // 4
    total = hl * 4 + len(payload) if tot_len is None else tot_len
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | hl, tos, total, id_, off, ttl, p, 0, src, dst)
    return hdr + opts + payload


def ext(nxt, body=b"", kind="opts"):
    """An IPv6 extension header: hop-by-hop / dst opts / routing (8n bytes)."""
    if kind == "ah":
        data = body + b"\x00" * ((-(len(body) + 2)) % 4)
        return bytes([nxt, (len(data) + 2) // 4 - 2]) + data
    data = body + b"\x00" * ((-(len(body) + 2)) % 8)
    if kind == "opts" and body == b"" and len(data) == 6:
        data = b"\x01\x04" + b"\x00" * 4           # PadN
    return bytes([nxt, (len(data) + 2) // 8 - 1]) + data


def frag6(nxt, offset=0, m=0, ident=0xdeadbeef):
    return struct.pack("!BBHI", nxt, 0, (offset << 3) | m, ident)


def ipv6(l4=None, nxt=None, src=V6_A, dst=V6_B, exts=b"", first=None, hlim=64, tc=0,
         flow=0, plen=None, raw_payload=None):
    """IPv6 packet bytes.  `exts` are pre-built extension headers whose chain
    starts with `first` (the fixed header's next-header value)."""
    payload = bytes(l4) if raw_payload is None else raw_payload
    if nxt is None:
        nxt = _PROTO.get(type(l4), 59)
    body = exts + payload
    if plen is None:
        plen = len(body)
    vfc = (6 << 28) | (tc << 20) | flow
    return struct.pack("!IHBB16s16s", vfc, plen, nxt if first is None else first, hlim,
                       src, dst) + body


def eth(l3: bytes, ethertype=0x0800, vlans=(), dst=MAC_B, src=MAC_A, tpids=None):
    """Ethernet II; vlans: TCIs outer first (QinQ outer TPID 0x88a8 by default)."""
    hdr = dst + src
    for k, tci in enumerate(vlans):
        if tpids:
            tpid = tpids[k]
        else:
            tpid = 0x88A8 if (len(vlans) == 2 and k == 0) else 0x8100
        hdr += struct.pack("!HH", tpid, tci)
    return hdr + struct.pack("!H", ethertype) + l3


def sll(l3: bytes, proto=0x0800, pkt_type=0, hatype=1):
    return struct.pack("!HHH8sH", pkt_type, hatype, 6, MAC_A + b"\0\0", proto) + l3


def sll2(l3: bytes, proto=0x0800, pkt_type=0, hatype=1, ifindex=3):
    return struct.pack("!HHiHBB8s", proto, 0, ifindex, hatype, pkt_type, 6, MAC_A + b"\0\0") + l3


def null(l3: bytes, af=2, order="<"):
    return struct.pack(order + "I", af) + l3


def loop(l3: bytes, af=2):
    return struct.pack("!I", af) + l3


def v6_of(l3):
    return 0x86DD if (l3[0] >> 4) == 6 else 0x0800


def wrap(l3: bytes, linktype: int) -> bytes:
    """Put an IP datagram into a frame of the given link type."""
    et = v6_of(l3)
    if linktype == 1:
        return eth(l3, et)
    if linktype == 113:
        return sll(l3, et)
    if linktype == 276:
        return sll2(l3, et)
    if linktype in (101, 12, 14, 228, 229):
        return l3
    if linktype == 0:
        return null(l3, 2 if et == 0x0800 else 24)
    if linktype == 108:
        return loop(l3, 2 if et == 0x0800 else 30)
    raise ValueError(linktype)


# --------------------------------------------------------------------------- expected

def mapped(a4: bytes) -> bytes:
    return b"\0" * 10 + b"\xff\xff" + a4


def _link(pkt: bytes, linktype: int):
    """(l3_off, ethertype, vlan0, vlan1, pkt_type, extra flags) via dpkt."""
    if linktype == 1:
        e = dpkt.ethernet.Ethernet(pkt)
        tags = getattr(e, "vlan_tags", []) or []
        tcis = [(t.pri << 13) | (t.cfi << 12) | t.id for t in tags]
        fl = PF_VLAN if len(tags) == 1 else (PF_QINQ if len(tags) == 2 else 0)
        dst = e.dst
        ptype = 1 if dst == b"\xff" * 6 else (2 if dst[0] & 1 else 0)
        et = tags[-1].type if tags else e.type      # dpkt keeps the TPID in e.type
        return (14 + 4 * len(tags), et, (tcis + [0xFFFF, 0xFFFF])[0],
                (tcis + [0xFFFF, 0xFFFF])[1], ptype, fl)
    if linktype == 113:
        s = dpkt.sll.SLL(pkt)
        return 16, s.ethtype, 0xFFFF, 0xFFFF, s.type, 0
    if linktype == 276:
        s = dpkt.sll2.SLL2(pkt)
        return 20, s.ethtype, 0xFFFF, 0xFFFF, s.type, 0
    if linktype in (0, 108):
        lb = dpkt.loopback.Loopback(pkt)
        et = {2: 0x0800, 24: 0x86DD, 28: 0x86DD, 30: 0x86DD}[lb.family]
        return 4, et, 0xFFFF, 0xFFFF, 0, 0
    if linktype in (101, 12, 14):
        return 0, v6_of(pkt), 0xFFFF, 0xFFFF, 0, 0
    if linktype == 228:
        return 0, 0x0800, 0xFFFF, 0xFFFF, 0, 0
    if linktype == 229:
        return 0, 0x86DD, 0xFFFF, 0xFFFF, 0, 0
    raise ValueError(linktype)


def _tcp_opts(opts: bytes, e: dict):
    """Kernel acceptance rules (tcp_parse_options) over dpkt's option list."""
    for item in dpkt.tcp.parse_opts(opts):
        if item is None:
            break
        kind, d = item
        if kind == 0:
            break
        size = len(d) + 2
        if kind == 2 and size == 4:
            e["tcp_mss"] = struct.unpack("!H", d)[0]
            e["flags"] |= PF_TCP_MSS
        elif kind == 3 and size == 3:
            e["tcp_wscale"] = d[0]
            e["flags"] |= PF_TCP_WSCALE
        elif kind == 4 and size == 2:
            e["flags"] |= PF_TCP_SACKOK
        elif kind == 5 and size >= 10 and (size - 2) % 8 == 0:
            n = min(4, (size - 2) // 8)
            blocks = list(struct.unpack("!%dI" % (2 * n), d[: 8 * n])) + [0] * (8 - 2 * n)
            e["tcp_nsack"] = n
            e["tcp_sack"] = blocks
        elif kind == 8 and size == 10:
            e["tcp_tsval"], e["tcp_tsecr"] = struct.unpack("!II", d)
            e["flags"] |= PF_TCP_TS


def _inner(inner: bytes, v6: bool, e: dict):
    """ICMP error quote -> in_* (dpkt decodes the quoted IP header)."""
    try:
        ip = dpkt.ip6.IP6(inner) if v6 else dpkt.ip.IP(inner)
    except (dpkt.UnpackError, dpkt.NeedData):
        return
    if v6:
        if ip.v != 6:
            return
        hlen = sum(h.length for h in getattr(ip, "all_extension_headers", []))
        l4 = inner[40 + hlen:]
        proto, src, dst = ip.p, ip.src, ip.dst
        later = any(isinstance(h, dpkt.ip6.IP6FragmentHeader) and h.frag_off
                    for h in getattr(ip, "all_extension_headers", []))
    else:
        if ip.v != 4:
            return
        l4 = inner[ip.hl * 4:]
        proto, src, dst = ip.p, mapped(ip.src), mapped(ip.dst)
        later = ip.offset != 0
    if len(l4) < 8:
        return
    sp = dp = 0
    if not later:
        if proto in (6, 17, 33, 132, 136):
            sp, dp = struct.unpack("!HH", l4[:4])
        elif (proto == 1 and l4[0] in (0, 8)) or (proto == 58 and l4[0] in (128, 129)):
            sp, dp = struct.unpack("!HH", l4[4:8])
    e.update(in_proto=proto, in_saddr=src, in_daddr=dst, in_sport=sp, in_dport=dp)
    e["flags"] |= PF_ICMP_INNER


def expected(pkt: bytes, linktype: int = 1, wirelen: int | None = None) -> dict:
    """Column values dpkt implies for a well-formed packet (captured whole)."""
    assert wirelen is None or wirelen == len(pkt)
    l3, et, v0, v1, ptype, lflags = _link(pkt, linktype)
    e = dict(status=0, flags=lflags, ethertype=et, vlan0=v0, vlan1=v1, pkt_type=ptype,
             l3_off=l3, ip_csum=0, l4_csum=0, tcp_mss=0, tcp_wscale=0, tcp_tsval=0,
             tcp_tsecr=0, tcp_nsack=0, tcp_sack=[0] * 8, in_proto=0, in_saddr=b"\0" * 16,
             in_daddr=b"\0" * 16, in_sport=0, in_dport=0, sport=0, dport=0,
             icmp_type=0, icmp_code=0, tcp_seq=0, tcp_ack=0, tcp_flags=0, tcp_win=0,
             tcp_doff=0)
    body = pkt[l3:]
    if et == 0x0800:
        ip = dpkt.ip.IP(body)
        hl = ip.hl * 4
        e["flags"] |= PF_IPV4 | (PF_IP_OPTS if hl > 20 else 0)
        e.update(ip_ver=4, ip_proto=ip.p, ip_tos=ip.tos, ip_ttl=ip.ttl, ip_id=ip.id,
                 ip_frag=ip._flags_offset, ip_len=ip.len, saddr=mapped(ip.src),
                 daddr=mapped(ip.dst), saddr4=struct.unpack("!I", ip.src)[0],
                 daddr4=struct.unpack("!I", ip.dst)[0], l4_off=l3 + hl, l4_len=ip.len - hl)
        if ip._flags_offset & 0x3FFF:
            e["flags"] |= PF_FRAG
        v6, later, proto = False, ip.offset != 0, ip.p
        l4 = body[hl:ip.len]
    elif et == 0x86DD:
        ip = dpkt.ip6.IP6(body)
        hdrs = list(getattr(ip, "all_extension_headers", []))
        hlen = sum(h.length for h in hdrs)
        e["flags"] |= PF_IPV6 | (PF_IPV6_EXT if hdrs else 0)
        e.update(ip_ver=6, ip_proto=ip.p, ip_tos=ip.fc, ip_ttl=ip.hlim, ip_id=0, ip_frag=0,
                 ip_len=40 + ip.plen, saddr=ip.src, daddr=ip.dst, saddr4=0, daddr4=0,
                 l4_off=l3 + 40 + hlen, l4_len=ip.plen - hlen)
        later = False
        for h in hdrs:
            if isinstance(h, dpkt.ip6.IP6FragmentHeader):
                e["flags"] |= PF_FRAG
                e["ip_id"] = h.id
                e["ip_frag"] = h.frag_off | (0x2000 if h.m_flag else 0)
                later = h.frag_off != 0
        v6, proto = True, ip.p
        l4 = body[40 + hlen:40 + ip.plen]
    else:
        e["flags"] |= PF_NOT_IP
        e.update(ip_ver=0, ip_proto=0, l4_off=0, l4_len=0, pay_off=0, payload_len=0)
        return e
    if later:
        e["flags"] |= PF_FRAG_LATER
        e.update(pay_off=e["l4_off"], payload_len=e["l4_len"])
        return e
    if proto == 6:
        t = dpkt.tcp.TCP(l4)
        e.update(sport=t.sport, dport=t.dport, tcp_seq=t.seq, tcp_ack=t.ack,
                 tcp_flags=t.flags, tcp_win=t.win, tcp_doff=t.off,
                 pay_off=e["l4_off"] + t.off * 4, payload_len=len(l4) - t.off * 4)
        e["flags"] |= PF_L4
        _tcp_opts(t.opts, e)
    elif proto == 17:
        u = dpkt.udp.UDP(l4)
        e.update(sport=u.sport, dport=u.dport, pay_off=e["l4_off"] + 8,
                 payload_len=(u.ulen or len(l4)) - 8)
        e["flags"] |= PF_L4
    elif (proto == 1 and not v6) or (proto == 58 and v6):
        m = dpkt.icmp6.ICMP6(l4) if v6 else dpkt.icmp.ICMP(l4)
        e.update(icmp_type=m.type, icmp_code=m.code, pay_off=e["l4_off"] + 8,
                 payload_len=len(l4) - 8)
        e["flags"] |= PF_L4
        echo = (128, 129) if v6 else (0, 8, 13, 14, 15, 16)
        errors = (1, 2, 3, 4) if v6 else (3, 4, 5, 11, 12)
        if m.type in echo:
            e["sport"], e["dport"] = struct.unpack("!HH", l4[4:8])
        elif m.type in errors:
            _inner(l4[8:], v6, e)
    else:
        e.update(pay_off=e["l4_off"], payload_len=e["l4_len"])
    return e


# --------------------------------------------------------------------------- comparing

def row(cols: dict, i: int) -> dict:
    out = {}
    for k, v in cols.items():
        x = v[i]
        if isinstance(x, np.ndarray):
            out[k] = bytes(x.astype(np.uint8)) if x.dtype == np.uint8 else [int(y) for y in x]
        else:
            out[k] = int(x)
    return out


def check(cols: dict, i: int, exp: dict):
    got = row(cols, i)
    bad = {k: (got[k], v) for k, v in exp.items() if got[k] != v}
    assert not bad, f"row {i}: (got, expected) {bad}"


def parse(pkts, linktype=1, wirelens=None):
    return P.parse_packets(pkts, linktype=linktype, wirelens=wirelens)


def parse_one(pkt, linktype=1, wirelen=None):
    return row(parse([pkt], linktype, None if wirelen is None else [wirelen]), 0)


def assert_oracle(pkts, linktype=1):
    cols = parse(pkts, linktype)
    for i, p in enumerate(pkts):
        check(cols, i, expected(p, linktype))
    return cols
