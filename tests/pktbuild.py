"""dpkt packet builders for stack-model tests: Ethernet / IPv4 / IPv6 / TCP
(with options) and UDP, every checksum correct unless asked otherwise."""

import ipaddress
import struct

import dpkt

SYN, ACK, RST, FIN, PSH = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_RST, \
    dpkt.tcp.TH_FIN, dpkt.tcp.TH_PUSH

HOST_MAC = b"\x02\x00\x00\x00\x00\x01"
PEER_MAC = b"\x02\x00\x00\x00\x00\x02"


def tcp_opts(mss=None, wscale=None, sack_ok=False, ts=None):
    """TCP option bytes in Linux's SYN order: MSS, SACK_OK+TS, NOP WS."""
    out = b""
    if mss is not None:
        out += struct.pack("!BBH", 2, 4, mss)
    if sack_ok and ts is not None:
        out += b"\x04\x02" + struct.pack("!BBII", 8, 10, ts[0], ts[1])
    else:
        if sack_ok:
            out += b"\x01\x01\x04\x02"
        if ts is not None:
            out += b"\x01\x01" + struct.pack("!BBII", 8, 10, ts[0], ts[1])
    if wscale is not None:
        out += b"\x01" + struct.pack("!BBB", 3, 3, wscale)
    out += b"\x00" * (-len(out) % 4)
    return out


def tcp(sport, dport, flags, seq=0, ack=0, win=64240, opts=b"", data=b"", off=None):
    t = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq & 0xffffffff, ack=ack & 0xffffffff,
                     flags=flags, win=win, opts=opts, data=data)
    t.off = (20 + len(opts)) // 4 if off is None else off
    return t


def csum(data: bytes) -> int:
    """RFC 1071 checksum (complemented) of data."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def _l4_bytes(l4, proto, pseudo, bad):
    b = bytearray(bytes(l4))
    off = {6: 16, 17: 6, 1: 2, 58: 2}[proto]
    b[off:off + 2] = b"\0\0"
    c = csum((pseudo if proto != 1 else b"") + bytes(b))
    if proto == 17 and c == 0:
        c = 0xffff
    if bad:
        c ^= 0x5a5a
    b[off:off + 2] = struct.pack("!H", c)
    return bytes(b)


def _proto(l4):
    if isinstance(l4, dpkt.tcp.TCP):
        return 6
    if isinstance(l4, dpkt.udp.UDP):
        return 17
    return 1


def ipv4(src, dst, l4, ttl=64, tos=0, ident=1, df=True, bad_ip_csum=False,
         bad_l4_csum=False, frag=None, proto=None, ihl=5, version=4, tot_len=None):
    """IPv4 datagram bytes; `frag` = raw flags/offset field (overrides df)."""
    p = _proto(l4) if proto is None else proto
    s = ipaddress.IPv4Address(src).packed
    d = ipaddress.IPv4Address(dst).packed
    raw = bytes(l4)
    if p in (6, 17, 1) and proto is None:
        pseudo = s + d + struct.pack("!BBH", 0, p, len(raw))
        raw = _l4_bytes(l4, p, pseudo, bad_l4_csum)
    fo = (0x4000 if df else 0) if frag is None else frag
    opts = b"\0" * (4 * (ihl - 5)) if ihl > 5 else b""
    hlen = 20 + len(opts)
    tl = hlen + len(raw) if tot_len is None else tot_len
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, tos, tl, ident, fo, ttl, p, 0,
                      s, d) + opts
    c = csum(hdr)
    if bad_ip_csum:
        c ^= 0x1111
    hdr = hdr[:10] + struct.pack("!H", c) + hdr[12:]
    return hdr + raw


def ipv6(src, dst, l4, hlim=64, bad_l4_csum=False, tc=0):
    nxt = {6: 6, 17: 17, 1: 58}[_proto(l4)]
    s = ipaddress.IPv6Address(src).packed
    d = ipaddress.IPv6Address(dst).packed
    raw = bytes(l4)
    pseudo = s + d + struct.pack("!IxxxB", len(raw), nxt)
    raw = _l4_bytes(l4, nxt, pseudo, bad_l4_csum)
    hdr = struct.pack("!IHBB16s16s", (6 << 28) | (tc << 20), len(raw), nxt, hlim, s, d)
    return hdr + raw


def eth(l3, v6=None, src=PEER_MAC, dst=HOST_MAC, pad=True):
    if v6 is None:
        v6 = (l3[0] >> 4) == 6
    e = dpkt.ethernet.Ethernet(src=src, dst=dst,
                               type=dpkt.ethernet.ETH_TYPE_IP6 if v6 else dpkt.ethernet.ETH_TYPE_IP,
                               data=l3)
    b = bytes(e)
    if pad and len(b) < 60:
        b += b"\0" * (60 - len(b))
    return b


def tcp4(src, dst, sport, dport, flags, seq=0, ack=0, win=64240, opts=b"", data=b"",
         bad_csum=False, off=None, **ipkw):
    return eth(ipv4(src, dst, tcp(sport, dport, flags, seq, ack, win, opts, data, off),
                    bad_l4_csum=bad_csum, **ipkw))


def tcp6(src, dst, sport, dport, flags, seq=0, ack=0, win=64240, opts=b"", data=b"",
         bad_csum=False):
    return eth(ipv6(src, dst, tcp(sport, dport, flags, seq, ack, win, opts, data),
                    bad_l4_csum=bad_csum))


def linux_syn_opts(ts=(1000, 0)):
    """What a Linux 6.18 client puts in a SYN (MTU 1500)."""
    return tcp_opts(mss=1460, sack_ok=True, ts=ts, wscale=10)


# --- host / replay helpers ------------------------------------------------------

HOST4 = "198.18.0.1"
HOST6 = "2001:db8::1"
S = 1_000_000_000          # ns per second


def host(listeners=(), addresses=(HOST4, HOST6), **sysctls):
    """A HostConfig with `listeners` (pystack.config.Listener) and sysctls
    given as short names (tcp_syncookies=0 -> net.ipv4.tcp_syncookies)."""
    from pystack.config import HostConfig
    h = HostConfig(addresses=list(addresses), listeners=list(listeners))
    for k, v in sysctls.items():
        name = k if "." in k else ("net.core." + k if k == "somaxconn" else "net.ipv4." + k)
        h.sysctls.set(name, v)
    return h


def listener(address="0.0.0.0", port=80, backlog=4096, accept="immediate", **kw):
    from pystack.appmodel import AppModel, parse_accept
    from pystack.config import Listener
    return Listener(address, port, backlog=backlog,
                    app=AppModel(accept=parse_accept(accept)), **kw)


def replay(h, packets, ts=None, checksum="verify", seed=0, **kw):
    from pystack.replay import Replay
    return Replay(h, checksum=checksum, seed=seed, **kw).run_packets(packets, ts)


class Client:
    """One TCP client of the host: builds its segments (IPv4 or IPv6)."""

    def __init__(self, n, port=80, v6=False, isn=None, dst=None, sport=None):
        self.v6 = v6
        self.src = f"2001:db8:1::{n:x}" if v6 else f"10.0.{n // 250}.{n % 250 + 1}"
        self.dst = dst or (HOST6 if v6 else HOST4)
        self.sport = sport or 40000 + n
        self.dport = port
        self.isn = (n * 7919 * 1000 + 12345) if isn is None else isn

    def seg(self, flags, seq=None, ack=0, data=b"", opts=b"", win=502, bad_csum=False):
        seq = self.isn + 1 if seq is None else seq
        f = tcp6 if self.v6 else tcp4
        return f(self.src, self.dst, self.sport, self.dport, flags, seq, ack, win, opts, data,
                 bad_csum=bad_csum)

    def syn(self, ts=True, **kw):
        return self.seg(SYN, seq=self.isn, win=64240,
                        opts=linux_syn_opts() if ts else tcp_opts(mss=1460, sack_ok=True,
                                                                  wscale=10), **kw)

    def ack(self, host_isn, **kw):
        return self.seg(ACK, ack=host_isn + 1, **kw)

    def host_synack(self, host_isn):
        """The host's SYN-ACK as the capture shows it (direction OUT)."""
        f = tcp6 if self.v6 else tcp4
        return f(self.dst, self.src, self.dport, self.sport, SYN | ACK, host_isn, self.isn + 1,
                 65160, tcp_opts(mss=1460, sack_ok=True, ts=(5, 1000), wscale=10))


def udp(sport, dport, data=b"", ulen=None):
    u = dpkt.udp.UDP(sport=sport, dport=dport, data=data)
    u.ulen = 8 + len(data) if ulen is None else ulen
    return u


def udp4(src, dst, sport, dport, data=b"", bad_csum=False, **ipkw):
    return eth(ipv4(src, dst, udp(sport, dport, data), bad_l4_csum=bad_csum, **ipkw))


def udp6(src, dst, sport, dport, data=b"", bad_csum=False):
    return eth(ipv6(src, dst, udp(sport, dport, data), bad_l4_csum=bad_csum))


def icmp_echo4(src, dst, ident=1, seq=1, data=b"ping", bad_csum=False, type=8):
    ic = dpkt.icmp.ICMP(type=type, code=0,
                        data=dpkt.icmp.ICMP.Echo(id=ident, seq=seq, data=data))
    return eth(ipv4(src, dst, ic, bad_l4_csum=bad_csum))


def icmp_echo6(src, dst, ident=1, seq=1, data=b"ping", bad_csum=False, type=128, hlim=64):
    """ICMPv6 echo request (128) or reply (129) over IPv6."""
    ic = dpkt.icmp6.ICMP6(type=type, code=0,
                          data=dpkt.icmp6.ICMP6.Echo(id=ident, seq=seq, data=data))
    return eth(ipv6(src, dst, ic, bad_l4_csum=bad_csum, hlim=hlim))
