"""Regenerate the small sample captures in data/samples/ (deterministic).

    python data/make_samples.py

Addresses come from 198.18.0.0/15 (benchmarking range) and 2001:db8::/32.
"""
from __future__ import annotations

import pathlib
import struct

import dpkt

HERE = pathlib.Path(__file__).resolve().parent / "samples"
T0 = 1_795_000_000  # 2026-11-18T11:06:40Z, a fixed capture start

SERVER = bytes([198, 18, 0, 1])
SERVER6 = bytes.fromhex("20010db8000000000000000000000001")
MAC_S = bytes.fromhex("020000000001")
MAC_C = bytes.fromhex("020000000002")


def client(i: int) -> bytes:
    return bytes([198, 19, i // 250, 1 + i % 250])


def eth(ip, src=MAC_C, dst=MAC_S, vlan=None) -> bytes:
    if isinstance(ip, dpkt.ip6.IP6):
        etype = dpkt.ethernet.ETH_TYPE_IP6
    else:
        etype = dpkt.ethernet.ETH_TYPE_IP
    payload = bytes(ip)
    if vlan is not None:
        return dst + src + struct.pack("!HHH", 0x8100, vlan, etype) + payload
    return dst + src + struct.pack("!H", etype) + payload


def tcp4(src, dst, sport, dport, flags, seq, ack=0, data=b"", opts=b"", win=64240):
    t = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, win=win,
                     opts=opts, data=data)
    t.off = 5 + len(opts) // 4
    return dpkt.ip.IP(src=src, dst=dst, p=dpkt.ip.IP_PROTO_TCP, ttl=64, id=0x1000 + sport % 1000,
                      df=1, data=t)


def tcp6(src, dst, sport, dport, flags, seq, ack=0, data=b"", opts=b""):
    t = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, win=64800,
                     opts=opts, data=data)
    t.off = 5 + len(opts) // 4
    ip = dpkt.ip6.IP6(src=src, dst=dst, nxt=dpkt.ip.IP_PROTO_TCP, hlim=64, data=t)
    ip.plen = len(bytes(t))
    return ip


SYN_OPTS = bytes.fromhex("020405b4") + bytes.fromhex("0402") + bytes.fromhex("080a") + \
    struct.pack("!II", 1000, 0) + bytes.fromhex("01030307")          # MSS, SACKOK, TS, NOP, WS 7
SYNACK_OPTS = bytes.fromhex("020405b4") + bytes.fromhex("0402") + bytes.fromhex("080a") + \
    struct.pack("!II", 5000, 1000) + bytes.fromhex("0103030a")
TS_OPTS = bytes.fromhex("0101080a") + struct.pack("!II", 1001, 5000)


def web_connection(i: int, t: float, v6: bool = False):
    """One short HTTP-like exchange: handshake, request, response, FIN teardown."""
    c = client(i) if not v6 else SERVER6[:15] + bytes([0x10 + i])
    s = SERVER if not v6 else SERVER6
    mk = tcp6 if v6 else tcp4
    cport, isn_c, isn_s = 40000 + i, 1_000_000 * (i + 1), 7_000_000 * (i + 1)
    req = b"GET /item/%d HTTP/1.1\r\nHost: shop.example\r\n\r\n" % i
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 600\r\n\r\n" + b"x" * 600
    A, S, F, P = dpkt.tcp.TH_ACK, dpkt.tcp.TH_SYN, dpkt.tcp.TH_FIN, dpkt.tcp.TH_PUSH
    seq = [
        (0.000, mk(c, s, cport, 80, S, isn_c, opts=SYN_OPTS), False),
        (0.001, mk(s, c, 80, cport, S | A, isn_s, isn_c + 1, opts=SYNACK_OPTS), True),
        (0.002, mk(c, s, cport, 80, A, isn_c + 1, isn_s + 1, opts=TS_OPTS), False),
        (0.003, mk(c, s, cport, 80, A | P, isn_c + 1, isn_s + 1, req, opts=TS_OPTS), False),
        (0.010, mk(s, c, 80, cport, A | P, isn_s + 1, isn_c + 1 + len(req), resp, opts=TS_OPTS), True),
        (0.011, mk(c, s, cport, 80, A, isn_c + 1 + len(req), isn_s + 1 + len(resp), opts=TS_OPTS), False),
        (0.020, mk(c, s, cport, 80, F | A, isn_c + 1 + len(req), isn_s + 1 + len(resp), opts=TS_OPTS), False),
        (0.021, mk(s, c, 80, cport, F | A, isn_s + 1 + len(resp), isn_c + 2 + len(req), opts=TS_OPTS), True),
        (0.022, mk(c, s, cport, 80, A, isn_c + 2 + len(req), isn_s + 2 + len(resp), opts=TS_OPTS), False),
    ]
    for dt, ip, from_server in seq:
        src, dst = (MAC_S, MAC_C) if from_server else (MAC_C, MAC_S)
        yield t + dt, eth(ip, src, dst)


def dns_exchange(i: int, t: float):
    q = dpkt.udp.UDP(sport=50000 + i, dport=53, data=b"\x12\x34\x01\x00\x00\x01" + b"\0" * 6 +
                     b"\x04shop\x07example\x00\x00\x01\x00\x01")
    q.ulen = 8 + len(q.data)
    ip = dpkt.ip.IP(src=client(i), dst=SERVER, p=dpkt.ip.IP_PROTO_UDP, ttl=64, data=q)
    yield t, eth(ip)
    r = dpkt.udp.UDP(sport=53, dport=50000 + i, data=q.data[:2] + b"\x81\x80" + q.data[4:] +
                     b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + SERVER)
    r.ulen = 8 + len(r.data)
    yield t + 0.0005, eth(dpkt.ip.IP(src=SERVER, dst=client(i), p=dpkt.ip.IP_PROTO_UDP, ttl=64,
                                     data=r), MAC_S, MAC_C)


def mixed_sample() -> list[tuple[float, bytes, int]]:
    """(time, frame, snaplen-or-0) records for data/samples/mixed.pcap."""
    recs = []
    for i in range(6):
        recs += [(t, f, 0) for t, f in web_connection(i, T0 + 0.1 * i)]
    recs += [(t, f, 0) for t, f in web_connection(7, T0 + 0.15, v6=True)]
    for i in range(3):
        recs += [(t, f, 0) for t, f in dns_exchange(i, T0 + 0.05 + 0.2 * i)]
    echo = dpkt.icmp.ICMP(type=8, code=0, data=dpkt.icmp.ICMP.Echo(id=7, seq=1, data=b"ping" * 8))
    recs.append((T0 + 0.3, eth(dpkt.ip.IP(src=client(9), dst=SERVER, p=1, ttl=64, data=echo)), 0))
    # A SYN to a closed port on a tagged VLAN.
    recs.append((T0 + 0.31, eth(tcp4(client(10), SERVER, 41000, 8080, dpkt.tcp.TH_SYN, 42,
                                     opts=SYN_OPTS), vlan=20), 0))
    # A corrupted TCP checksum: a segment whose checksum field was flipped.
    bad = bytearray(eth(tcp4(client(11), SERVER, 41001, 80, dpkt.tcp.TH_SYN, 99, opts=SYN_OPTS)))
    bad[14 + 20 + 16] ^= 0xFF
    recs.append((T0 + 0.32, bytes(bad), 0))
    # A large response captured with a small snaplen: truncated record.
    big = tcp4(SERVER, client(0), 80, 40000, dpkt.tcp.TH_ACK, 5, 6, b"y" * 1400, opts=TS_OPTS)
    recs.append((T0 + 0.33, eth(big, MAC_S, MAC_C), 128))
    recs.sort(key=lambda r: r[0])
    return recs


def accept_overflow_sample() -> list[tuple[float, bytes, int]]:
    """linux-semantics.md section 11, experiment 1, as the server's capture shows it.

    A server on 198.18.0.1:5000 called listen(fd, 2) and never accept()s.
    Six clients connect 200 ms apart.  The accept queue holds backlog+1 = 3
    children, so clients 1-3 complete their handshakes; the SYNs of clients
    4-6 get no SYN-ACK and are retransmitted every second (tcp_syn_linear_
    timeouts) until the capture ends at +2.7 s.  Linux counted
    ListenOverflows = ListenDrops = 7 (3 + 2 + 2 dropped SYNs).
    """
    S, A = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK
    recs = []
    for i in range(6):
        c, cport = client(i), 41000 + i
        isn_c, isn_s = 100_000 * (i + 1), 900_000 * (i + 1)
        t0 = T0 + 0.2 * i
        if i < 3:
            recs.append((t0, eth(tcp4(c, SERVER, cport, 5000, S, isn_c, opts=SYN_OPTS)), 0))
            recs.append((t0 + 0.0001, eth(tcp4(SERVER, c, 5000, cport, S | A, isn_s, isn_c + 1,
                                               opts=SYNACK_OPTS, win=65160), MAC_S, MAC_C), 0))
            recs.append((t0 + 0.0002, eth(tcp4(c, SERVER, cport, 5000, A, isn_c + 1, isn_s + 1,
                                               opts=TS_OPTS, win=63)), 0))
        else:
            t = t0
            while t < T0 + 2.7:
                recs.append((t, eth(tcp4(c, SERVER, cport, 5000, S, isn_c, opts=SYN_OPTS)), 0))
                t += 1.0
    recs.sort(key=lambda r: r[0])
    return recs


def synflood_sample() -> list[tuple[float, bytes, int]]:
    """A SYN flood against 198.18.0.1:80 (listen backlog 16, tcp_syncookies=1)
    with two real clients in the middle of it.

    300 SYNs from spoofed sources (198.51.100.0/24 and 203.0.113.0/24, never
    answering) arrive 1 ms apart.  The first 16 fill the SYN queue (request
    socks; their SYN-ACKs are in the capture); from then on the queue is full
    and the host answers with syncookies (TCPReqQFullDoCookies,
    SyncookiesSent), no request sock.  Two clients connect at +100 ms and
    +200 ms: each gets a cookie SYN-ACK and completes the handshake with an
    ACK carrying the cookie (SyncookiesRecv, PassiveOpens) and sends a
    request.  The capture ends at +0.6 s, before the first SYN-ACK
    retransmission (1 s).
    """
    S, A, P = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_PUSH
    recs = []
    for i in range(300):
        src = bytes([198, 51, 100, i % 250 + 1]) if i < 250 else bytes([203, 0, 113, i - 249])
        t = T0 + 0.001 * i
        isn_c, isn_s = 3_000_000 + 7919 * i, 50_000_000 + 104_729 * i
        recs.append((t, eth(tcp4(src, SERVER, 20000 + i, 80, S, isn_c, opts=SYN_OPTS)), 0))
        recs.append((t + 0.00005, eth(tcp4(SERVER, src, 80, 20000 + i, S | A, isn_s, isn_c + 1,
                                           opts=SYNACK_OPTS, win=65160), MAC_S, MAC_C), 0))
    for j, at in enumerate((0.1003, 0.2003)):
        c, cport = client(100 + j), 45000 + j
        isn_c, isn_s = 8_000_000 * (j + 1), 900_000_000 + 12_345 * j
        req = b"GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n"
        t = T0 + at
        recs.append((t, eth(tcp4(c, SERVER, cport, 80, S, isn_c, opts=SYN_OPTS)), 0))
        # cookie SYN-ACK: no SACK / window scale to keep, timestamps carry them
        recs.append((t + 0.0001, eth(tcp4(SERVER, c, 80, cport, S | A, isn_s, isn_c + 1,
                                          opts=SYNACK_OPTS, win=65160), MAC_S, MAC_C), 0))
        recs.append((t + 0.0002, eth(tcp4(c, SERVER, cport, 80, A, isn_c + 1, isn_s + 1,
                                          opts=TS_OPTS, win=502)), 0))
        recs.append((t + 0.0003, eth(tcp4(c, SERVER, cport, 80, A | P, isn_c + 1, isn_s + 1,
                                          req, opts=TS_OPTS, win=502)), 0))
    recs.sort(key=lambda r: r[0])
    return recs


def _model_edge(recs, host_toml: str) -> int:
    """The right edge (ack + window) of the last ACK the pystack model of
    the host sent for these records (the sender respects it)."""
    import sys
    sys.path.insert(0, str(HERE.parent.parent))
    from pystack.config import parse_host_config
    from pystack.replay import Replay

    res = Replay(parse_host_config(host_toml), checksum="verify").run_packets(
        [f for _, f, _ in recs], ts_ns=[round(t * 1e9) for t, _, _ in recs])
    r = res.replies
    last = len(r["ack"]) - 1
    return int(r["ack"][last]) + int(r["win"][last])


def zero_window_sample() -> list[tuple[float, bytes, int]]:
    """A slow reader with a small SO_RCVBUF: 198.18.0.1:9000 (SO_RCVBUF 4096,
    so sk_rcvbuf 8192; the application reads 1000 bytes every second).

    One client uploads 365-byte segments every 10 ms as far as the host's
    window lets it (the window is the one the pystack model of
    data/hosts/zero-window.toml advertises: the generator runs the model,
    so this capture is consistent with the model, not measured on a
    kernel).  The receive queue fills (each skb charges 365 + 576 bytes of
    truesize): the last segment the window allowed finds the buffer full
    (PROTO_MEM, TCPRcvQDrop), the host advertises a zero window, and the
    client's RTO retransmissions of that segment (backing off) are dropped
    (TCP_ZEROWINDOW) until the reader has drained enough.  Only the client's packets
    and the host's SYN-ACK are in the capture (the model decides the host's
    ACKs itself).
    """
    S, A, P = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_PUSH
    host = (HERE.parent / "hosts" / "zero-window.toml").read_text()
    c, cport = client(200), 46000
    isn_c, isn_s = 11_000_000, 77_000_000
    opts = bytes.fromhex("020405b4")            # MSS 1460 only: no scaling, no timestamps
    recs = [(T0, eth(tcp4(c, SERVER, cport, 9000, S, isn_c, opts=opts)), 0),
            (T0 + 0.0001, eth(tcp4(SERVER, c, 9000, cport, S | A, isn_s, isn_c + 1, opts=opts,
                                   win=4096), MAC_S, MAC_C), 0),
            (T0 + 0.0002, eth(tcp4(c, SERVER, cport, 9000, A, isn_c + 1, isn_s + 1)), 0)]
    seq = isn_c + 1
    t = T0 + 0.01
    seg = 365
    for _ in range(40):
        room = _model_edge(recs, host) - seq
        if room <= 0:
            break
        n = min(seg, room)
        last = (seq, n)
        recs.append((t, eth(tcp4(c, SERVER, cport, 9000, A | P, seq, isn_s + 1, b"u" * n)), 0))
        seq += n
        t += 0.01
    # the last segment was not acknowledged: the client's RTO retransmits it,
    # backing off 0.2, 0.4, 0.8, 1.6 s
    t0 = t
    for dt in (0.2, 0.6, 1.4, 3.0):
        recs.append((t0 + dt, eth(tcp4(c, SERVER, cport, 9000, A | P, last[0], isn_s + 1,
                                       b"u" * last[1])), 0))
    recs.sort(key=lambda r: r[0])
    return recs


def _model(recs, host_toml: str, rules: str):
    """Replay records through the pystack model of a host with rules (seed 0,
    the default of `pystack replay`): the generator reads the model's random
    NAT choices so that the answers it writes match them."""
    import sys
    sys.path.insert(0, str(HERE.parent.parent))
    from pystack.config import parse_host_config
    from pystack.replay import Replay, describe_packet

    res = Replay(parse_host_config(host_toml), checksum="verify", rules=rules).run_packets(
        [f for _, f, _ in recs], ts_ns=[round(t * 1e9) for t, _, _ in recs])
    return [describe_packet(res, i) for i in range(len(recs))]


KNODE = bytes([198, 18, 0, 10])
KWEB = bytes([198, 19, 0, 20])
MAC_POD = bytes.fromhex("020000000003")


def kube_proxy_sample() -> list[tuple[float, bytes, int]]:
    """A kube-proxy node (198.18.0.10, ip_forward=1, data/rules/kube-proxy.save)
    forwarding the ClusterIP shop/web 198.19.0.20:80 to its three pods
    (198.18.128.12-14:8080), as the node's capture shows it.

    12 clients outside the cluster CIDR (198.19.1.x: KUBE-MARK-MASQ) send a
    SYN 10 ms apart: the node picks an endpoint per connection (the
    statistic rules of KUBE-SVC-, the model's seeded draws), DNATs to it and
    MASQUERADEs (--random-fully) to its own address.  Each pod answers the
    node's address and port with a SYN-ACK, which the node de-NATs back to
    the client (conntrack ESTABLISHED, reply direction); the client's ACK
    follows the binding.  Only the packets arriving at the node are in the
    capture (its forwarded copies are not).  The pod answers are computed
    from the model's choices (the generator replays the SYNs first): the
    capture is consistent with the model, not measured on a kernel.
    """
    S, A = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK
    host = (HERE.parent / "hosts" / "kube-proxy-node.toml").read_text()
    rules = (HERE.parent / "rules" / "kube-proxy.save").read_text()
    syns = []
    for i in range(12):
        c = bytes([198, 19, 1, 10 + i])
        syns.append((T0 + 0.01 * i, eth(tcp4(c, KWEB, 43000 + i, 80, S, 500_000 * (i + 1),
                                             opts=SYN_OPTS)), 0))
    rows = _model(syns, host, rules)
    recs = list(syns)
    for i, r in enumerate(rows):
        c, cport, isn_c = bytes([198, 19, 1, 10 + i]), 43000 + i, 500_000 * (i + 1)
        pod = bytes(int(x) for x in r["nat_daddr"].split("."))
        isn_p = 60_000_000 + 7_777 * i
        t = T0 + 0.01 * i
        recs.append((t + 0.0004, eth(tcp4(pod, KNODE, 8080, r["nat_sport"], S | A, isn_p,
                                          isn_c + 1, opts=SYNACK_OPTS, win=65160),
                                     MAC_POD, MAC_S), 0))
        recs.append((t + 0.0008, eth(tcp4(c, KWEB, cport, 80, A, isn_c + 1, isn_p + 1,
                                          opts=TS_OPTS, win=502)), 0))
    recs.sort(key=lambda r: r[0])
    return recs


def conntrack_full_sample() -> list[tuple[float, bytes, int]]:
    """A web server (198.18.0.1:80) behind a conntrack table of 8 entries
    (nf_conntrack_max = 8, 8 hash buckets; data/rules/conntrack-full.save).

    Six clients connect and complete their handshakes: their entries are
    ESTABLISHED and ASSURED (never evicted).  Two scanners send a SYN each
    and never answer the SYN-ACK: SYN_RECV entries, not assured.  The table
    is full.  Two more clients connect at +200 ms and +250 ms: each time the
    table is full, early_drop evicts a scanner's entry (conntrack -S
    early_drop) and the client gets in and completes its handshake (its
    entry is assured).  Now every entry is assured: the SYNs of the last two
    clients (+300 ms, +350 ms) and their retransmissions one second later
    find no entry to evict: nf_conntrack_in drops them (NETFILTER_DROP,
    conntrack -S drop) before any rule or socket sees them.
    """
    S, A = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK
    recs = []

    def handshake(c, cport, isn_c, isn_s, t, complete=True):
        recs.append((t, eth(tcp4(c, SERVER, cport, 80, S, isn_c, opts=SYN_OPTS)), 0))
        recs.append((t + 0.0001, eth(tcp4(SERVER, c, 80, cport, S | A, isn_s, isn_c + 1,
                                          opts=SYNACK_OPTS, win=65160), MAC_S, MAC_C), 0))
        if complete:
            recs.append((t + 0.0002, eth(tcp4(c, SERVER, cport, 80, A, isn_c + 1, isn_s + 1,
                                              opts=TS_OPTS, win=502)), 0))

    for i in range(6):
        handshake(client(50 + i), 44000 + i, 2_000_000 * (i + 1), 40_000_000 + 104_729 * i,
                  T0 + 0.01 * i)
    for j in range(2):
        handshake(bytes([198, 51, 100, 20 + j]), 21000 + j, 9_000_000 + j,
                  41_000_000 + 104_729 * j, T0 + 0.1 + 0.01 * j, complete=False)
    for k in range(2):
        handshake(client(80 + k), 45500 + k, 3_000_000 * (k + 1), 42_000_000 + 104_729 * k,
                  T0 + 0.2 + 0.05 * k)
    for k in range(2, 4):
        c, cport, isn_c = client(80 + k), 45500 + k, 3_000_000 * (k + 1)
        t = T0 + 0.2 + 0.05 * k
        for rt in (0.0, 1.0):
            recs.append((t + rt, eth(tcp4(c, SERVER, cport, 80, S, isn_c, opts=SYN_OPTS)), 0))
    recs.sort(key=lambda r: r[0])
    return recs


def write_pcap(path: pathlib.Path, recs) -> None:
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f, snaplen=65535, linktype=dpkt.pcap.DLT_EN10MB, nano=True)
        for t, frame, snap in recs:
            sec = int(t)
            ns = round((t - sec) * 1e9)
            data = frame[:snap] if snap else frame
            f.write(struct.pack("<IIII", sec, ns, len(data), len(frame)))
            f.write(data)


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    for name, recs in (("mixed.pcap", mixed_sample()),
                       ("accept-overflow.pcap", accept_overflow_sample()),
                       ("synflood-cookies.pcap", synflood_sample()),
                       ("zero-window.pcap", zero_window_sample()),
                       ("kube-proxy-dnat.pcap", kube_proxy_sample()),
                       ("conntrack-full.pcap", conntrack_full_sample())):
        path = HERE / name
        write_pcap(path, recs)
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
