"""ReplayResult.connections: one summary per child, built at the end; the
4-tuple table only holds live state (connections are removed)."""
from pystack.replay import Replay
from tests.pktbuild import ACK, FIN, host, listener
from tests.tcp.conn import HISN, MS, Conn, merge, three_connections


def test_three_connections_fin_rst_open():
    (a, b, c), (pk, ts) = three_connections()
    r = Replay(host([listener()]), checksum="verify")
    res = r.run_packets(pk, ts)
    conns = sorted(res.connections, key=lambda d: d["rport"])
    assert [d["why"] for d in conns] == ["FIN", "RST", "OPEN"]
    assert [d["state"] for d in conns] == ["CLOSE", "CLOSE", "ESTAB"]
    A, B, C = conns
    assert A["remote"] == a.c.src and A["rport"] == a.c.sport
    assert A["local"] == a.c.dst and A["lport"] == 80 and A["listener"] == 0
    assert A["bytes_in"] == 300 and A["pkts_in"] == 4      # handshake ACK included
    assert A["bytes_out"] == 1000 and A["pkts_out"] == 2
    # host bytes in flight: the 1000-byte response before the peer ACKed it
    # (acknowledged before the host FIN), the peer's last window 502 << 10
    assert A["max_bytes_in_flight"] == 1000 and A["peer_window"] == 502 << 10
    assert A["start_ns"] == a.ts[2] and A["end_ns"] == a.ts[-1]
    assert B["bytes_in"] == 50 and B["end_ns"] == b.ts[-1]
    assert C["end_ns"] is None and C["bytes_in"] == 7
    assert all(d["drops"] == 0 for d in conns)
    assert res.counters["TcpCurrEstab"] == 1 and res.counters["TcpEstabResets"] == 1
    assert r.engine.socket_count() == 1           # only the open one is kept


def test_table_bounded_by_live_connections():
    """Many sequential connections on the same client port: each closes
    before the next, so the table never holds more than one."""
    conns = []
    t0 = 0
    for j in range(50):
        c = Conn(1, t0=t0, isn=1000000 * (j + 1))
        c.data(0, 10)
        c.seg(ACK | FIN, 10)
        c.host(ACK | FIN, 11, 64)
        c.seg(ACK, 11, ack=2)
        conns.append(c)
        t0 = c.t + MS
    pk, ts = merge(conns)
    r = Replay(host([listener()]), checksum="verify")
    res = r.run_packets(pk, ts)
    assert len(res.connections) == 50
    assert all(d["why"] == "FIN" for d in res.connections)
    assert r.engine.socket_count() == 0
    assert res.counters["TcpPassiveOpens"] == 50 and res.counters["TcpCurrEstab"] == 0


def test_pickup_mid_stream_connection():
    """The capture starts mid-connection: a peer segment before any host
    segment meets the listener (RST, as a kernel without the socket would
    answer); the host's ACK picks the connection up; then it runs and
    closes normally."""
    from tests.pktbuild import tcp4
    c = Conn(1)
    pk, ts = [], []
    cl = c.c
    seq0, hseq = cl.isn + 5000, HISN + 7000
    pk.append(tcp4(cl.src, cl.dst, cl.sport, 80, ACK, seq0, hseq, 502, b"", b"a" * 10))
    pk.append(tcp4(cl.dst, cl.src, 80, cl.sport, ACK, hseq, seq0 + 10, 64))      # host ACK
    pk.append(tcp4(cl.src, cl.dst, cl.sport, 80, ACK, seq0 + 10, hseq, 502, b"", b"b" * 20))
    pk.append(tcp4(cl.src, cl.dst, cl.sport, 80, ACK | FIN, seq0 + 30, hseq, 502))
    pk.append(tcp4(cl.dst, cl.src, 80, cl.sport, ACK | FIN, hseq, seq0 + 31, 64))
    pk.append(tcp4(cl.src, cl.dst, cl.sport, 80, ACK, seq0 + 31, hseq + 1, 502))
    ts = [j * MS for j in range(len(pk))]
    r = Replay(host([listener()]), checksum="verify")
    res = r.run_packets(pk, ts)
    p = res.packets
    assert p["reply"][0] == 3                       # RST from the listener path
    assert p["verdict"][2] == 1 and p["sock_state"][2] == 1
    # not a new connection: no quickack budget, the ACK is delayed
    assert p["reply"][2] == 0
    assert p["sock_state"][[3, 4, 5]].tolist() == [8, 9, 7]
    (d,) = res.connections
    assert d["picked_up"] and d["why"] == "FIN" and d["bytes_in"] == 20
    cn = res.counters
    assert cn["TcpPassiveOpens"] == 0 and cn["TcpCurrEstab"] == 0
    assert r.engine.socket_count() == 0


def test_pickup_off():
    from tests.pktbuild import tcp4
    c = Conn(1)
    cl = c.c
    pk = [tcp4(cl.dst, cl.src, 80, cl.sport, ACK, HISN, cl.isn, 64)]
    r = Replay(host([listener()]), checksum="verify", pickup=False)
    res = r.run_packets(pk, [0])
    assert res.connections == [] and r.engine.socket_count() == 0


def test_peer_zero_window_periods():
    from tests.pktbuild import tcp4
    c = Conn(1)
    c.host(ACK, 0, 64, data=b"h" * 100)
    z1 = c.add(c.c.seg(ACK, seq=c.seq(0), ack=HISN + 101, win=0), MS)
    c.add(c.c.seg(ACK, seq=c.seq(0), ack=HISN + 101, win=0), MS)      # still zero
    o1 = c.add(c.c.seg(ACK, seq=c.seq(0), ack=HISN + 101, win=10), 5 * MS)
    z2 = c.add(c.c.seg(ACK, seq=c.seq(0), ack=HISN + 101, win=0), MS)
    end = c.add(c.c.seg(ACK, seq=c.seq(0), ack=HISN + 101, win=0), 3 * MS)
    res = Replay(host([listener()]), checksum="verify").run_packets(c.pk, c.ts)
    (d,) = res.connections
    assert d["peer_zero_windows"] == 2
    # the second period is still open at the end of the capture
    assert d["peer_zero_window_ns"] == (c.ts[o1] - c.ts[z1]) + (c.ts[end] - c.ts[z2])
    assert d["peer_window"] == 0
