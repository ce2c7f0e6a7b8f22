"""Connection records leave the engine when the connection is finished
(tcp_done, or its TIME_WAIT minisock is gone): Engine.take_finished per
batch, the open ones at the end (Engine.open_records).  The record pool is
reused, so the engine's memory follows the live connections only;
ReplayResult.connections keeps its list-of-dicts form (collect=True)."""
from pystack._core.capture import RecordBatch
from pystack.replay import Replay
from tests.pktbuild import ACK, FIN, RST, host, listener
from tests.tcp.conn import MS, Conn, merge, three_connections

S = 1_000_000_000


def _steps(r, pk, ts, batch, collect):
    for a in range(0, len(pk), batch):
        rb = RecordBatch.from_packets(pk[a:a + batch], linktype=1, ts_ns=ts[a:a + batch])
        r.step(rb, collect=collect)
    return r.finish()


def test_sequential_connections_bounded_record_pool():
    """5,000 handshakes, each closed by the host first (FIN_WAIT1 -> the
    peer's FIN+ACK -> TIME_WAIT), one per second: a TIME_WAIT minisock lives
    60 s, so about 60 connections are live at any time.  collect=False: the
    engine's record pool stays at live + one batch's finished records, and
    nothing accumulates on the Python side."""
    n = 5000
    pk, ts = [], []
    for j in range(n):
        c = Conn(j + 1, t0=j * S)
        c.host(ACK | FIN, 0, 64)                 # host FIN: FIN_WAIT1
        c.seg(ACK | FIN, 0, ack=2)               # peer FIN acking it: TIME_WAIT
        pk += c.pk
        ts += c.ts
    r = Replay(host([listener()]), checksum="verify", batch_size=1024)
    res = _steps(r, pk, ts, 1024, collect=False)
    cn = res.counters
    assert cn["TcpPassiveOpens"] == n and cn["TcpExtTW"] == n
    # TIME_WAIT expires on capture time: the last 60 s of connections remain
    last = ts[-1]
    alive_tw = sum(1 for j in range(n) if ts[5 * j + 4] + 60 * S > last)
    assert r.engine.time_wait_count() == alive_tw == 60
    st = r.engine.record_stats()
    assert st["live"] == alive_tw and st["max_live"] == 61
    assert st["emitted"] == n - alive_tw and st["pending"] == 0
    # slots ever used: live + one batch's finished records (1024 rows = 204
    # connections); not the capture's 5,000
    assert st["high_water"] <= 61 + 1024 // 5 + 1
    assert st["capacity"] < 4096
    assert r._conn_chunks == [] and res.connections == []


def test_collected_connections_unchanged():
    """The three-connection scenario (FIN, RST, open) gives exactly the
    summary the engine produced when it kept every record, whatever the
    batch size (records are emitted in different batches, listed in
    creation order)."""
    (a, b, c), (pk, ts) = three_connections()
    common = {"local": "198.18.0.1", "lport": 80, "listener": 0, "drops": 0,
              "drops_by_reason": {}, "peer_window": 514048, "peer_zero_window_ns": 0,
              "peer_zero_windows": 0, "picked_up": False, "window_diverged": 0,
              "zero_window_advs": 0, "zero_window_ns": 0}
    want = [
        dict(common, conn_id=0, remote="10.0.0.2", rport=40001, start_ns=2000, end_ns=7000,
             state="CLOSE", why="FIN", bytes_in=300, pkts_in=4, bytes_out=1000, pkts_out=2,
             max_bytes_in_flight=1000, max_rcv_queue=300, window_compared=2),
        dict(common, conn_id=1, remote="10.0.0.3", rport=40002, start_ns=10002000,
             end_ns=10004000, state="CLOSE", why="RST", bytes_in=50, pkts_in=3, bytes_out=0,
             pkts_out=0, max_bytes_in_flight=0, max_rcv_queue=50, window_compared=0),
        dict(common, conn_id=2, remote="10.0.0.4", rport=40003, start_ns=20002000,
             end_ns=None, state="ESTAB", why="OPEN", bytes_in=7, pkts_in=2, bytes_out=0,
             pkts_out=0, max_bytes_in_flight=0, max_rcv_queue=7, window_compared=0),
    ]
    for batch in (1, 3, 1000):
        r = Replay(host([listener()]), checksum="verify", batch_size=batch)
        got = r.run_packets(pk, ts).connections
        for d in got:
            d.pop("divergences", None)
        assert got == want, batch
        st = r.engine.record_stats()
        assert st["live"] == 1 and st["emitted"] == 2


def test_connections_empty_without_collect():
    c = Conn(1)
    c.data(0, 10)
    r = Replay(host([listener()]), checksum="verify")
    res = _steps(r, c.pk, c.ts, 100, collect=False)
    assert res.connections == []
    assert r.engine.record_stats()["live"] == 1      # still open, still in the engine


# --- per-connection divergences (model vs capture) ------------------------------

def test_divergences_window_mismatch_and_host_rst():
    """A captured host ACK whose window differs from the model's, then a
    host RST while the model holds the socket: both count globally and in
    the connection's `divergences` (window mismatches also in
    window_diverged)."""
    from tests.pktbuild import tcp4
    a = Conn(1)
    a.data(0, 100)
    a.host(ACK, 100, 1)                   # 1 << 10 bytes: not the model's window
    cl = a.c
    a.add(tcp4(cl.dst, cl.src, 80, cl.sport, RST | ACK, 5001, a.seq(100), 0), 1000)
    b = Conn(2, t0=10 * MS)
    b.data(0, 10)
    pk, ts = merge([a, b])
    res = Replay(host([listener()]), checksum="verify").run_packets(pk, ts)
    dv = res.divergences
    assert dv["window_mismatch"] == 1 and dv["host_rst_vs_model_socket"] == 1
    A, B = res.connections
    assert A["window_compared"] == 1 and A["window_diverged"] == 1
    assert A["divergences"] == 2 and A["why"] == "RST"
    assert B["divergences"] == 0


def test_divergence_before_the_connection_exists():
    """A host SYN-ACK the model has no state for (the SYN was not seen), and
    a host RST on a request sock: each is attributed to the connection the
    model later makes of that 4-tuple."""
    from tests.pktbuild import Client, tcp4
    from tests.tcp.conn import HISN
    c1 = Client(1)
    c2 = Client(2)
    pk = [c1.host_synack(HISN),                       # unmatched: no state yet
          c1.syn(), c1.host_synack(HISN), c1.ack(HISN),
          c2.syn(),
          tcp4(c2.dst, c2.src, 80, c2.sport, RST | ACK, 0, c2.isn + 1, 0),   # host RST
          c2.ack(HISN)]
    res = Replay(host([listener()]), checksum="verify").run_packets(pk)
    dv = res.divergences
    assert dv["host_synack_unmatched"] == 1 and dv["host_rst_vs_model_socket"] == 1
    d1, d2 = res.connections
    assert (d1["rport"], d1["divergences"]) == (c1.sport, 1)
    assert (d2["rport"], d2["divergences"]) == (c2.sport, 1)
    assert d1["window_diverged"] == d2["window_diverged"] == 0
