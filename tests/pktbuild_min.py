"""Tiny dpkt packet builders shared by tests that need only a SYN."""
import dpkt


def syn_v4(src=(198, 19, 0, 1), dst=(198, 18, 0, 1), sport=40000, dport=80, corrupt=False):
    tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=1, flags=dpkt.tcp.TH_SYN, win=64240)
    ip = dpkt.ip.IP(src=bytes(src), dst=bytes(dst), p=6, ttl=64, data=tcp)
    frame = bytearray(bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, data=ip)))
    if corrupt:
        frame[14 + 20 + 16] ^= 0x5A
    return bytes(frame)
