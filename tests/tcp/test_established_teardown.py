"""Established children: FIN in both orders, RST (exact vs in-window
challenge), SYN in a synchronized state, TIME_WAIT entry and expiry
(sheet 5.7, 7, 8.3; tcp_input.c tcp_validate_incoming / tcp_fin /
tcp_rcv_state_process, tcp_minisocks.c tcp_time_wait)."""
from pystack.replay import Replay
from tests.pktbuild import ACK, FIN, RST, SYN, HOST4, S, host, listener, tcp4
from tests.tcp.conn import HISN, MS, Conn, rel_ack

V_DELIVERED, V_DROPPED = 1, 2
R_NONE, R_RST, R_ACK = 0, 3, 4
ESTAB, FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, CLOSE_WAIT, LAST_ACK, CLOSING = \
    1, 4, 5, 6, 7, 8, 9, 11
EV_TW_EXPIRED = 22


def _replay(conn, **kw):
    r = Replay(host([listener()]), checksum="verify", **kw)
    res = r.run_packets(conn.pk, conn.ts)
    return r, res


def test_peer_fin_first_close_wait_last_ack():
    c = Conn()
    d = c.data(0, 100)
    fin = c.seg(ACK | FIN, 100)
    hfin = c.host(ACK | FIN, 101, 64)            # host closes: LAST_ACK
    last = c.seg(ACK, 101, ack=2)                # acknowledges the host FIN
    r, res = _replay(c)
    p = res.packets
    assert p["sock_state"][[d, fin, hfin, last]].tolist() == [ESTAB, CLOSE_WAIT, LAST_ACK, CLOSE]
    assert p["verdict"][[d, fin, last]].tolist() == [V_DELIVERED] * 3
    # first data: quickack mode (tcp_incr_quickack) -> immediate ACK;
    # the FIN (pingpong in CLOSE_WAIT) waits for the delayed ACK, which
    # the host's FIN makes unnecessary
    assert p["reply"][[d, fin]].tolist() == [R_ACK, R_NONE]
    assert rel_ack(c, res, d) == 100
    cn = res.counters
    assert cn["TcpPassiveOpens"] == 1 and cn["TcpCurrEstab"] == 0
    assert cn["TcpEstabResets"] == 0 and cn["TcpExtTW"] == 0
    assert r.engine.socket_count() == 0
    (conn,) = res.connections
    assert conn["why"] == "FIN" and conn["state"] == "CLOSE"
    assert conn["bytes_in"] == 100 and conn["pkts_in"] == 4 and conn["pkts_out"] == 1
    assert conn["end_ns"] == c.ts[last]


def test_host_fin_first_time_wait_and_expiry():
    c = Conn()
    hfin = c.host(ACK | FIN, 0, 64)              # FIN_WAIT1
    ack = c.seg(ACK, 0, ack=2)                   # FIN_WAIT2
    pfin = c.seg(ACK | FIN, 0, ack=2)            # TIME_WAIT, tcp_fin sends the ACK
    late = c.seg(ACK, 1, ack=2, dt=30 * S)       # in-window bare ACK: TW timer restarted
    after = c.add(tcp4("10.9.9.9", HOST4, 1234, 81, SYN, 1), 61 * S)   # clock tick
    r, res = _replay(c)
    p = res.packets
    assert p["sock_state"][[hfin, ack, pfin, late]].tolist() == \
        [FIN_WAIT1, FIN_WAIT2, TIME_WAIT, TIME_WAIT]
    assert p["reply"][pfin] == R_ACK and rel_ack(c, res, pfin) == 1
    assert p["reply_seq"][pfin] == HISN + 2
    assert p["reply"][late] == R_NONE
    assert p["verdict"][late] == V_DROPPED
    cn = res.counters
    assert cn["TcpExtTW"] == 1 and cn["TcpCurrEstab"] == 0 and cn["TcpEstabResets"] == 0
    ev = res.events
    tw = ev["ts_ns"][ev["kind"] == EV_TW_EXPIRED].tolist()
    assert tw == [c.ts[late] + 60 * S]           # restarted by the in-window ACK
    assert r.engine.socket_count() == 0
    assert res.connections[0]["why"] == "FIN"
    assert res.connections[0]["end_ns"] == c.ts[pfin]
    assert p["reply"][after] == R_RST


def test_simultaneous_close_closing():
    c = Conn()
    hfin = c.host(ACK | FIN, 0, 64)
    pfin = c.seg(ACK | FIN, 0, ack=1)            # crosses the host FIN
    ack = c.seg(ACK, 1, ack=2)
    r, res = _replay(c)
    p = res.packets
    assert p["sock_state"][[hfin, pfin, ack]].tolist() == [FIN_WAIT1, CLOSING, TIME_WAIT]
    assert p["reply"][pfin] == R_ACK               # tcp_fin in FIN_WAIT1 ACKs at once
    assert res.counters["TcpExtTW"] == 1
    assert r.engine.socket_count() == 1            # the TIME_WAIT minisock


def test_rst_exact_resets():
    c = Conn()
    c.data(0, 10)
    rst = c.seg(RST, 10, ack=1)
    r, res = _replay(c)
    p = res.packets
    assert p["verdict"][rst] == V_DELIVERED and p["sock_state"][rst] == CLOSE
    assert p["reply"][rst] == R_NONE
    cn = res.counters
    assert cn["TcpEstabResets"] == 1 and cn["TcpCurrEstab"] == 0
    assert cn["TcpExtTCPChallengeACK"] == 0
    assert r.engine.socket_count() == 0
    assert res.connections[0]["why"] == "RST"


def test_rst_in_window_challenge_ack_rate_limited():
    c = Conn()
    c.data(0, 10)
    r1 = c.seg(RST, 500)                        # in window, not rcv_nxt
    r2 = c.seg(RST, 600, dt=100 * MS)           # within tcp_invalid_ratelimit (500 ms)
    r3 = c.seg(RST, 700, dt=500 * MS)
    oow = c.seg(RST, 10 ** 6)                   # beyond the window: no reply
    r, res = _replay(c)
    p = res.packets
    assert p["verdict"][[r1, r2, r3]].tolist() == [V_DROPPED] * 3
    assert set(p["reason"][[r1, r2, r3]].tolist()) == {45}            # TCP_RESET
    assert p["reply"][[r1, r2, r3, oow]].tolist() == [R_ACK, R_NONE, R_ACK, R_NONE]
    assert rel_ack(c, res, r1) == 10 and p["reply_win"][r1] == 64
    assert p["reason"][oow] == 42                                      # TCP_INVALID_SEQUENCE
    cn = res.counters
    assert cn["TcpExtTCPChallengeACK"] == 2 and cn["TcpExtTCPACKSkippedChallenge"] == 1
    assert cn["TcpEstabResets"] == 0 and cn["TcpCurrEstab"] == 1
    assert cn["TcpExtBeyondWindow"] == 0                # not counted for a RST
    assert res.connections[0]["drops_by_reason"] == {"TCP_RESET": 3,
                                                     "TCP_INVALID_SEQUENCE": 1}


def test_syn_in_established_challenge():
    c = Conn()
    syn = c.add(c.c.seg(SYN, seq=c.c.isn + 77777, win=64240), 1000)
    r, res = _replay(c)
    p = res.packets
    assert p["verdict"][syn] == V_DROPPED and p["reason"][syn] == 46    # TCP_INVALID_SYN
    assert p["reply"][syn] == R_ACK and rel_ack(c, res, syn) == 0
    cn = res.counters
    assert cn["TcpExtTCPSYNChallenge"] == 1 and cn["TcpExtTCPChallengeACK"] == 1
    assert cn["TcpInErrs"] == 1                         # tcp_rcv_established: syn_inerr
    assert cn["TcpCurrEstab"] == 1


def test_rst_at_rcv_nxt_minus_one_after_fin():
    c = Conn()
    c.seg(ACK | FIN, 0)                          # CLOSE_WAIT, rcv_nxt = 1
    rst = c.seg(RST, 0)                          # tcp_reset_check: rcv_nxt - 1
    r, res = _replay(c)
    assert res.packets["sock_state"][rst] == CLOSE
    assert res.counters["TcpEstabResets"] == 1
    assert r.engine.socket_count() == 0


def test_host_rst_closes():
    c = Conn()
    c.data(0, 10)
    hr = c.host(RST | ACK, 10, 0)
    after = c.data(10, 10)
    r, res = _replay(c)
    p = res.packets
    assert res.counters["TcpEstabResets"] == 1
    assert res.divergences["host_rst_vs_model_socket"] == 1
    # the 4-tuple is free again: the listener answers the late data with a RST
    assert p["sock_state"][after] == 10 and p["reply"][after] == R_RST


def test_request_response_pingpong_delays_acks():
    """First data: quickack (immediate ACK).  The host answers within ato
    (tcp_event_data_sent -> pingpong): the next request is not quick-ACKed,
    the delayed ACK timer (40 ms) answers it (DelayedACKs)."""
    c = Conn()
    q1 = c.data(0, 300)
    c.host(ACK, 300, 64, data=b"r" * 1000, dt=MS)
    q2 = c.data(300, 300, ack=1001, dt=MS)
    c.data(600, 0, ack=1001, dt=100 * MS)           # later pure ACK: clock tick
    r, res = _replay(c)
    p = res.packets
    assert p["reply"][[q1, q2]].tolist() == [R_ACK, R_NONE]
    e = res.replies
    timer = [(int(t), (int(a) - c.c.isn - 1)) for t, a, tm in
             zip(e["ts_ns"], e["ack"], e["timer"]) if tm]
    assert timer == [(c.ts[q2] + 40 * MS, 600)]
    assert res.counters["TcpExtDelayedACKs"] == 1
