"""The application read model drains the receive queue on capture-time
timers; reads free rmem and tcp_cleanup_rbuf sends window updates.  Same
small-buffer connection as test_zero_window (sk_rcvbuf 8192, wscale 0)."""
from pystack.appmodel import AppModel, parse_accept, parse_read
from pystack.config import Listener
from tests.pktbuild import host
from tests.tcp.conn import MS, Conn

EV_WINDOW_UPDATE = 20


def _run(read, base_dir=None):
    c = Conn()
    c.data(0, 1448)
    d2 = c.data(1448, 1448, dt=MS)
    c.data(2896, 1448, dt=MS)
    c.add(c.c.seg(0x10, seq=c.seq(4344), ack=5001), 300 * MS)      # clock tick
    L = Listener("0.0.0.0", 80, backlog=128, rcvbuf=4096,
                 app=AppModel(accept=parse_accept("immediate"), read=parse_read(read, base_dir)))
    # fixed scaling_ratio (128): the window arithmetic below assumes it
    res = c.run(host([L]), scaling_ratio_update=False)
    ev = res.events
    upd = [(int(t), int(w)) for t, k, w in zip(ev["ts_ns"], ev["kind"], ev["win"])
           if k == EV_WINDOW_UPDATE]
    return c, res, upd


def test_never_keeps_zero_window():
    c, res, upd = _run("never")
    assert upd == []
    assert res.counters["TcpExtTCPFromZeroWindowAdv"] == 0
    assert res.connections[0]["max_rcv_queue"] == 4344


def test_log_reads_with_client_port_filter(tmp_path):
    (tmp_path / "reads.csv").write_text(
        "t_rel,bytes,client_port\n0.05,2896,\n0.06,4000,1\n")
    c, res, upd = _run("log reads.csv", str(tmp_path))
    # the row for client port 1 does not apply; the first frees two skbs at
    # accept + 50 ms and reopens the window (zero since the delayed ACK)
    assert upd == [(c.ts[2] + 50 * MS, 2896)]
    assert res.counters["TcpExtTCPFromZeroWindowAdv"] == 1


def test_rate_reader():
    # 1448 bytes per 20 ms.  +20 ms: the head skb is read; an ACK is owed
    # and rcv_nxt - rcv_wup = 2896 > rcv_mss -> tcp_cleanup_rbuf ACKs
    # (window rounddown(2072, 1448) = 1448).  +40 ms: the next skb; the
    # window now doubles (2 * 1448 <= window_clamp 2920, new 2896) -> update.
    c, res, upd = _run("rate 72400/s")
    assert upd == [(c.ts[2] + 20 * MS, 1448), (c.ts[2] + 40 * MS, 2896)]
    assert res.counters["TcpExtTCPToZeroWindowAdv"] == 0
    assert res.connections[0]["max_rcv_queue"] == 4344


def test_as_arrives_never_queues():
    c, res, upd = _run("as-arrives")
    assert res.connections[0]["max_rcv_queue"] == 1448
    assert res.counters["TcpExtTCPToZeroWindowAdv"] == 0
