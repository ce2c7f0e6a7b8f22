"""Bound UDP sockets: the receive queue (net/ipv4/udp.c
__udp_enqueue_schedule_skb: rmem_alloc charged with skb truesize against
sk_rcvbuf, a datagram always fits an empty queue; full -> UdpRcvbufErrors +
UdpInErrors, SOCKET_RCVBUFF) and the application's reads (udp_recvmsg:
whole datagrams, UdpInDatagrams counted at read time)."""
from pystack.appmodel import AppModel, parse_read
from pystack.config import Listener
from tests.pktbuild import HOST4, HOST6, host, replay, udp4, udp6

MS = 1_000_000

SOCKET_RCVBUFF = 6



def udp_sock(read="never", addr="0.0.0.0", port=53, **kw):
    return Listener(addr, port, proto="udp", app=AppModel(read=parse_read(read)), **kw)


def _truesize(n):
    # the engine's default truesize model: a linear skb, len + overhead
    return n + host([]).profile.skb_truesize_overhead


def test_never_reading_socket_fills_then_drops():
    """SO_RCVBUF 2048 -> sk_rcvbuf = max(2 * 2048, SOCK_MIN_RCVBUF) = 4096;
    100-byte datagrams have truesize 676: six fit (4056), the seventh
    would make 4732 > 4096 with a non-empty queue -> dropped."""
    h = host([udp_sock(rcvbuf=2048)])
    assert h.listeners[0].effective_rcvbuf(h.sysctls, h.profile) == 4096
    ts1 = _truesize(100)
    assert ts1 == 676
    fit = 4096 // ts1
    assert fit == 6
    pk = [udp4("10.0.0.2", HOST4, 5000 + j, 53, b"d" * 100) for j in range(10)]
    r = replay(h, pk)
    p = r.packets
    assert p["verdict"].tolist() == [1] * fit + [2] * (10 - fit)
    assert p["reason"].tolist() == [0] * fit + [SOCKET_RCVBUFF] * (10 - fit)
    c = r.counters
    assert c["UdpRcvbufErrors"] == 4 and c["UdpInErrors"] == 4
    assert c["UdpInDatagrams"] == 0 and c["IpInDelivers"] == 10
    (st,) = r.listeners
    assert st["rcvbuf"] == 4096 and st["queue_datagrams"] == fit
    assert st["rmem_alloc"] == fit * ts1 and st["rcvbuf_errors"] == 4
    assert st["received"] == fit and st["read_datagrams"] == 0


def test_empty_queue_always_takes_one_datagram():
    """rmem_alloc + truesize > rcvbuf drops only when the queue is not
    empty (6.18): a datagram larger than the buffer is queued alone."""
    h = host([udp_sock(rcvbuf=2048)])
    pk = [udp4("10.0.0.2", HOST4, 5000, 53, b"x" * 5000),
          udp4("10.0.0.2", HOST4, 5000, 53, b"y")]
    r = replay(h, pk)
    assert r.packets["reason"].tolist() == [0, SOCKET_RCVBUFF]
    assert r.counters["UdpRcvbufErrors"] == 1
    assert r.listeners[0]["rmem_alloc"] == _truesize(5000)


def test_reading_socket_does_not_drop():
    h = host([udp_sock("as-arrives", rcvbuf=2048)])
    pk = [udp4("10.0.0.2", HOST4, 5000, 53, b"d" * 100) for _ in range(50)]
    r = replay(h, pk)
    c = r.counters
    assert c["UdpRcvbufErrors"] == 0 and c["UdpInErrors"] == 0
    assert c["UdpInDatagrams"] == 50
    st = r.listeners[0]
    assert st["read_datagrams"] == 50 and st["read_bytes"] == 5000
    assert st["queue_datagrams"] == 0 and st["rmem_alloc"] == 0
    assert st["max_queue_datagrams"] == 1


def test_chunk_reader_drains_on_capture_time():
    """chunk 300 B every 10 ms from the first datagram (t = 0): the read at
    t0 takes the one queued datagram; rows 1-6 fill the queue, rows 7-9
    drop; at 10 and 20 ms three whole datagrams are read each; the datagram
    at 25 ms waits for 30 ms (after the end of the capture)."""
    h = host([udp_sock("chunk 300 every 10ms", rcvbuf=2048)])
    pk = [udp4("10.0.0.2", HOST4, 5000, 53, b"d" * 100) for _ in range(11)]
    ts = [j * 1000 for j in range(10)] + [25 * MS]
    r = replay(h, pk, ts)
    assert r.packets["reason"].tolist() == [0] * 7 + [SOCKET_RCVBUFF] * 3 + [0]
    c = r.counters
    assert c["UdpRcvbufErrors"] == 3 and c["UdpInDatagrams"] == 1 + 3 + 3
    st = r.listeners[0]
    assert st["read_datagrams"] == 7 and st["queue_datagrams"] == 1
    ev = r.events
    reads = ev["kind"] == 21                               # EV_READ
    assert ev["ts_ns"][reads].tolist() == [0, 10 * MS, 20 * MS]     # timer times
    assert ev["ack"][reads].tolist() == [100, 300, 300]


def test_rate_reader_reads_whole_datagrams():
    """rate 100 B per ms from t0: a 250-byte datagram is read when the
    allowance covers all of it (2.5 ms), not in pieces."""
    h = host([udp_sock("rate 100/ms", rcvbuf=2048)])
    pk = [udp4("10.0.0.2", HOST4, 5000, 53, b"d" * 250),
          udp4("10.0.0.2", HOST4, 5000, 53, b"e" * 10)]
    ts = [0, 3 * MS]
    r = replay(h, pk, ts)
    ev = r.events
    reads = ev["kind"] == 21
    assert ev["ts_ns"][reads].tolist() == [2500000, 3 * MS]
    assert r.counters["UdpInDatagrams"] == 2


def test_udp6_counters():
    h = host([udp_sock(addr="::", rcvbuf=2048)])
    pk = [udp6("2001:db8::9", HOST6, 7, 53, b"d" * 100) for _ in range(8)]
    r = replay(h, pk)
    c = r.counters
    assert c["Udp6RcvbufErrors"] == 2 and c["Udp6InErrors"] == 2
    assert c["UdpRcvbufErrors"] == 0 and c["Udp6InDatagrams"] == 0
