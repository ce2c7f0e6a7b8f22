"""Checksum tests: shared packet builders (dpkt computes the reference sums)."""
import random
import struct

import dpkt


def ref_sum(data: bytes, initial: int = 0) -> int:
    """Textbook RFC 1071 folded sum (no complement), the reference."""
    if len(data) % 2:
        data = data + b"\0"
    s = initial + sum(struct.unpack(f">{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def rand_addr(rng: random.Random, v6: bool) -> bytes:
    """A random unicast address (IPv6: 2000::/3, which ip6_rcv_core accepts)."""
    if v6:
        return bytes([0x20 | rng.randrange(32)]) + rng.randbytes(15)
    return bytes([rng.randrange(1, 224)]) + rng.randbytes(3)


def rand_tcp_options(rng: random.Random) -> bytes:
    """A random, 4-byte aligned TCP option block (MSS, WS, SACKOK, TS, NOPs)."""
    opts = b""
    if rng.random() < 0.5:
        opts += b"\x02\x04" + struct.pack(">H", rng.randrange(536, 9000))
    if rng.random() < 0.5:
        opts += b"\x01\x03\x03" + bytes([rng.randrange(15)])
    if rng.random() < 0.5:
        opts += b"\x01\x01\x04\x02"
    if rng.random() < 0.5:
        opts += b"\x01\x01\x08\x0a" + rng.randbytes(8)
    return opts


def rand_l4(rng: random.Random, proto: int, max_payload: int = 1500):
    """A dpkt L4 object with sum 0 (dpkt fills it when serialised)."""
    payload = rng.randbytes(rng.randrange(0, max_payload + 1))
    if proto == 6:
        opts = rand_tcp_options(rng)
        return dpkt.tcp.TCP(
            sport=rng.randrange(65536), dport=rng.randrange(65536),
            seq=rng.randrange(1 << 32), ack=rng.randrange(1 << 32),
            off=5 + len(opts) // 4, flags=rng.randrange(256), win=rng.randrange(65536),
            urp=rng.randrange(65536), opts=opts, data=payload, sum=0)
    if proto == 17:
        return dpkt.udp.UDP(sport=rng.randrange(65536), dport=rng.randrange(65536),
                            ulen=8 + len(payload), data=payload, sum=0)
    if proto == 1:
        # An echo request: type 8, id/seq then data, as raw bytes after the
        # 4-byte ICMP header (dpkt's ICMP payload class is irrelevant here).
        return dpkt.icmp.ICMP(type=8, code=0, data=rng.randbytes(4) + payload, sum=0)
    if proto == 58:
        return dpkt.icmp6.ICMP6(type=128, code=0, data=rng.randbytes(4) + payload, sum=0)
    raise ValueError(proto)


def rand_ip(rng: random.Random, v6: bool, proto: int, max_payload: int = 1500,
            ip_opts: bool = False):
    """A dpkt IPv4/IPv6 packet carrying a random L4 message, sums filled in."""
    l4 = rand_l4(rng, proto, max_payload)
    if v6:
        ip = dpkt.ip6.IP6(src=rand_addr(rng, True), dst=rand_addr(rng, True), nxt=proto,
                          hlim=64, plen=len(bytes(l4)), data=l4)
        return dpkt.ip6.IP6(bytes(ip))
    opts = b""
    if ip_opts:
        # NOPs + an end-of-list: any 4-byte multiple is a valid option block.
        opts = b"\x01" * (4 * rng.randrange(1, 10) - 1) + b"\x00"
    ip = dpkt.ip.IP(src=rand_addr(rng, False), dst=rand_addr(rng, False), p=proto,
                    ttl=rng.randrange(1, 256), id=rng.randrange(65536), df=1,
                    opts=opts, data=l4)
    ip.hl = (20 + len(opts)) // 4
    return dpkt.ip.IP(bytes(ip))


def eth(ip, pad: int = 0) -> bytes:
    """An Ethernet II frame around an IP packet (dpkt object or raw bytes),
    plus `pad` trailer bytes."""
    raw = bytes(ip)         # bytes pass through; dpkt objects serialise
    ethertype = 0x86DD if raw[0] >> 4 == 6 else 0x0800
    return (b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02"
            + struct.pack(">H", ethertype) + raw + b"\0" * pad)


def sll_outgoing(ip) -> bytes:
    """A LINUX_SLL (linktype 113) frame with pkt_type OUTGOING (4)."""
    raw = bytes(ip)
    proto = 0x86DD if raw[0] >> 4 == 6 else 0x0800
    return struct.pack(">HHH8sH", 4, 1, 6, b"\x02\0\0\0\0\x01\0\0", proto) + raw
