"""A slow reader with a small SO_RCVBUF driven to a zero window, a
zero-window probe, and the window reopening after a read (sheet 5.4, 5.6,
5.7; tcp_output.c tcp_select_window, tcp.c tcp_cleanup_rbuf).

SO_RCVBUF 4096 -> sk_rcvbuf 8192, tcp_full_space 4096, wscale 0, SYN-ACK
window rounddown(4096, 1448) = 2896; child window_clamp = max(2*1460,
4096-1460) = 2920, rcv_ssthresh 2896, rcv_mss 536.  truesize = len + 576.
"""
import pytest

from pystack.appmodel import AppModel, parse_accept, parse_read
from pystack.config import Listener
from tests.pktbuild import host
from tests.tcp.conn import MS, Conn, rel_ack

R_NONE, R_ACK = 0, 4
EV_DELACK, EV_WINDOW_UPDATE = 19, 20


def _scenario(profile):
    c = Conn()
    rows = [c.data(0, 1448),                 # quickack (rcv_wnd / (2 * rcv_mss) = 1)
            c.data(1448, 1448, dt=MS),       # delayed ACK armed (+40 ms)
            c.data(2896, 1448, dt=MS),       # fills the offered window
            c.data(4344, 1, dt=50 * MS),     # zero-window probe
            c.data(4344, 1448, dt=100 * MS)]  # after the read reopened the window
    L = Listener("0.0.0.0", 80, backlog=128, rcvbuf=4096,
                 app=AppModel(accept=parse_accept("immediate"),
                              read=parse_read("chunk 2896 every 100ms")))
    h = host([L])
    h.set_profile(profile)
    # fixed scaling_ratio (128): the window arithmetic below assumes it
    return c, rows, c.run(h, scaling_ratio_update=False)


def _timer_acks(c, res):
    e = res.replies
    t = e["timer"]
    return [(int(e["ts_ns"][k]), (int(e["ack"][k]) - c.c.isn - 1) & 0xffffffff,
             int(e["win"][k])) for k in range(len(t)) if t[k]]


@pytest.mark.parametrize("profile,probe_reason", [("6.18", 43), ("6.12", 32)])
def test_zero_window_sequence(profile, probe_reason):
    c, (d1, d2, d3, probe, d4), res = _scenario(profile)
    p = res.packets
    assert p["reply_win"][0] == 2896 and p["reply_wscale"][0] == 0
    # the ACK of the first segment keeps 2896 (wscale 0: within one mss of
    # free space 2920 -> unchanged)
    assert p["reply"][[d1, d2, d3]].tolist() == [R_ACK, R_NONE, R_NONE]
    assert rel_ack(c, res, d1) == 1448 and p["reply_win"][d1] == 2896
    # adv_win: what the next ACK would carry (never shrinking the right edge)
    assert p["adv_win"][[d1, d2, d3]].tolist() == [2896, 1448, 0]
    # delayed ACK at d2 + 40 ms advertises 0; the read at accept + 100 ms
    # frees two skbs and tcp_cleanup_rbuf sends the window update
    assert _timer_acks(c, res) == [(c.ts[d2] + 40 * MS, 4344, 0),
                                   (c.ts[2] + 100 * MS, 4344, 2896)]
    # the probe: 6.17+ tcp_sequence rejects it (end beyond the window, queue
    # not empty) with BeyondWindow; before 6.17 tcp_data_queue drops it
    # TCP_ZEROWINDOW (TCPZeroWindowDrop).  Either way an immediate ACK, win 0.
    assert p["reason"][probe] == probe_reason
    assert p["reply"][probe] == R_ACK and p["reply_win"][probe] == 0
    assert rel_ack(c, res, probe) == 4344
    assert p["verdict"][d4] == 1
    cn = res.counters
    assert cn["TcpExtTCPToZeroWindowAdv"] == 1
    assert cn["TcpExtTCPFromZeroWindowAdv"] == 1
    assert cn["TcpExtDelayedACKs"] == 1
    assert cn["TcpExtTCPWantZeroWindowAdv"] == 0
    if profile == "6.18":
        assert cn["TcpExtBeyondWindow"] == 1 and cn["TcpExtTCPZeroWindowDrop"] == 0
    else:
        assert cn["TcpExtBeyondWindow"] == 0 and cn["TcpExtTCPZeroWindowDrop"] == 1
    (conn,) = res.connections
    assert conn["zero_window_advs"] == 2
    assert conn["zero_window_ns"] == (c.ts[2] + 100 * MS) - (c.ts[d2] + 40 * MS)
    assert conn["max_rcv_queue"] == 4344


def test_want_zero_window_never_shrinks():
    """500-byte segments (truesize 1076), reader never reads.  When the
    delayed ACK finally goes out, __tcp_select_window wants 0 (free space
    330 < rcv_mss 536) but 396 bytes of the offered window remain:
    TCPWantZeroWindowAdv and the ACK keeps offering those 396 bytes.  Once
    they are filled the next ACK advertises 0 (TCPToZeroWindowAdv)."""
    c = Conn()
    rows = [c.data(500 * j, 500, dt=MS) for j in range(7)]
    last = c.data(3500, 396, dt=50 * MS)
    c.data(3896, 1, dt=100 * MS)                          # probe, advances the clock
    L = Listener("0.0.0.0", 80, backlog=128, rcvbuf=4096,
                 app=AppModel(accept=parse_accept("immediate"), read=parse_read("never")))
    # fixed scaling_ratio (128): the arithmetic below assumes it.  Profile
    # 6.12: tcp_init_buffer_space still sees advmss 1460 there, window_clamp
    # = max(2 * 1460, 4096 - 1460) = 2920 leaves tcp_grow_window room over
    # rcv_ssthresh 2896 (6.16+: advmss 1448 first, clamp 2896, no room,
    # see test_rcvbuf_autotune.py)
    h = host([L])
    h.set_profile("6.12")
    res = c.run(h, scaling_ratio_update=False)
    p = res.packets
    # quickack budget rcv_wnd / (2 * rcv_mss) = 2896 / 1072 = 2, and
    # tcp_grow_window's "quick |= 1" on the first segment makes it 3
    assert p["reply"][rows].tolist() == [R_ACK] * 3 + [R_NONE] * 4
    # the third ACK would shrink to rounddown(2482, 536) = 2144: kept at 2396
    assert p["reply_win"][rows[:3]].tolist() == [2896, 2896, 2396]
    assert p["adv_win"][rows].tolist() == [2896, 2896, 2396, 1896, 1396, 896, 396]
    assert _timer_acks(c, res) == [(c.ts[rows[3]] + 40 * MS, 3500, 396),
                                   (c.ts[last] + 40 * MS, 3896, 0)]
    cn = res.counters
    assert cn["TcpExtTCPWantZeroWindowAdv"] == 1
    assert cn["TcpExtTCPToZeroWindowAdv"] == 1
    assert cn["TcpExtDelayedACKs"] == 2
