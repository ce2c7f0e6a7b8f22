"""tp->scaling_ratio (sheet 5.2): updated in tcp_measure_rcv_mss to
len * 256 / truesize (the engine's truesize model) when a full-sized segment
of a new length arrives; window_clamp follows (6.18: tcp_set_window_clamp,
which also raises rcv_ssthresh to min(rcv_wnd, clamp); 7.x: a plain
assignment) and rcvq_space.space is capped at the new clamp."""
import pytest

from pystack.appmodel import AppModel, parse_accept, parse_read
from pystack.config import Listener
from pystack.replay import Replay
from tests.pktbuild import ACK, host
from tests.tcp.conn import Conn

# [measured] Linux 6.18.44, veth between two namespaces, all offloads off,
# tcpdump on the receiver, reader not yet reading: the windows of the host's
# ACKs of the first 20 segments (1448 bytes each), in units of 1024
# (wscale 10).
MEASURED_618 = [67, 70, 73, 75, 74, 73, 72, 71, 70, 69, 68, 67, 66, 65, 64, 63, 62, 61, 60, 59]


def _listener(read="never", **kw):
    return Listener("0.0.0.0", 80, backlog=128, **kw,
                    app=AppModel(accept=parse_accept("immediate"), read=parse_read(read)))


def _bulk_with_host_acks(windows):
    c = Conn()
    hrows = []
    for j, w in enumerate(windows):
        c.data(1448 * j, 1448, dt=3000)
        hrows.append(c.host(ACK, 1448 * (j + 1), w, dt=2000))
    return c, hrows


def _run(c, profile="6.18", listener=None, **kw):
    h = host([listener or _listener()])
    h.set_profile(profile)
    r = Replay(h, checksum="verify", **kw)
    res = r.run_packets(c.pk, c.ts)
    return r, res


def test_measured_veth_windows():
    """With the truesize of those skbs (2304: ratio 1448 * 256 / 2304 = 160,
    window_clamp 131072 * 160 / 256 = 81920) the model advertises exactly
    the measured windows: +2896 per segment (tcp_grow_window) from 65160
    (tcp_set_window_clamp raised rcv_ssthresh to rcv_wnd), then free space
    shrinking by one truesize per segment."""
    c, hrows = _bulk_with_host_acks(MEASURED_618)
    r, res = _run(c, truesize=(0, 2304))
    p = res.packets
    assert [int(p["adv_win"][i]) >> 10 for i in hrows] == MEASURED_618
    assert [int(p["win_diff"][i]) for i in hrows] == [0] * 20
    st = r.engine.rcv_state(int(p["conn_id"][hrows[0]]))
    assert st["scaling_ratio"] == 160 and st["window_clamp"] == 81920


def test_default_truesize_ratio():
    """Default truesize len + 576 = 2024: ratio 1448 * 256 / 2024 = 183,
    window_clamp = 131072 * 183 >> 8 = 93696; the first window is the
    measured one (ALIGN(65160 + 2896, 1024) = 68608), later ones drift
    (too little truesize per segment)."""
    c, hrows = _bulk_with_host_acks(MEASURED_618)
    r, res = _run(c)
    p = res.packets
    w = [int(p["adv_win"][i]) >> 10 for i in hrows]
    assert w[:4] == [67, 70, 73, 75] and w[4] == 78
    st = r.engine.rcv_state(int(p["conn_id"][hrows[0]]))
    assert st["scaling_ratio"] == 183 and st["window_clamp"] == 93696


def test_fixed_ratio_parameter():
    """scaling_ratio_update=False keeps TCP_DEFAULT_SCALING_RATIO (or the
    given ratio): window_clamp stays 64088, the first ACK offers 64512."""
    c, hrows = _bulk_with_host_acks(MEASURED_618[:2])
    r, res = _run(c, scaling_ratio_update=False)
    p = res.packets
    assert int(p["adv_win"][hrows[0]]) == 64512
    assert int(p["win_diff"][hrows[0]]) == (67 - 63) * 1024
    st = r.engine.rcv_state(int(p["conn_id"][hrows[0]]))
    assert st["scaling_ratio"] == 128 and st["window_clamp"] == 64088
    with pytest.raises(ValueError, match="outside 1..255"):
        Replay(host([_listener()]), scaling_ratio=256)


def test_73_assigns_window_clamp():
    """7.x: window_clamp = tcp_win_from_space(rcvbuf) without
    tcp_set_window_clamp: rcv_ssthresh stays 64088, the first window is
    ALIGN(64088 + 2896, 1024) = 67584."""
    c, hrows = _bulk_with_host_acks(MEASURED_618[:1])
    r, res = _run(c, profile="7.3", truesize=(0, 2304))
    p = res.packets
    assert int(p["adv_win"][hrows[0]]) == 67584
    st = r.engine.rcv_state(int(p["conn_id"][hrows[0]]))
    assert st["window_clamp"] == 81920 and st["rcv_ssthresh"] == 64088 + 2896


def test_update_only_on_a_new_full_length():
    """The ratio is recomputed only for len >= rcv_mss with len != rcv_mss:
    the second 1448-byte segment (rcv_mss is 1448 by then) and a 500-byte
    one leave it alone, whatever their truesize."""
    c = Conn()
    c.data(0, 1448)
    c.data(1448, 1448)
    last = c.data(2896, 500)
    r, res = _run(c, truesize=(512, 0))             # truesize = 2 * len: ratio 128
    st = r.engine.rcv_state(int(res.packets["conn_id"][last]))
    assert st["scaling_ratio"] == 128 and st["rcv_mss"] == 1448
    c2 = Conn()
    c2.data(0, 1000)                                 # >= rcv_mss 536, != 536: updated
    last = c2.data(1000, 1448)                       # >= 1000, != 1000: updated again
    r, res = _run(c2, truesize=(256, 1000))
    st = r.engine.rcv_state(int(res.packets["conn_id"][last]))
    assert st["scaling_ratio"] == 1448 * 256 // 2448 == 151


def test_lower_ratio_shrinks_clamp_and_rcvq_space():
    """truesize = 4 * len: ratio 64.  SO_RCVBUF 4096 (sk_rcvbuf 8192):
    window_clamp 8192 * 64 / 256 = 2048 < 2896 -> tcp_set_window_clamp
    lowers rcv_ssthresh to 2048, and rcvq_space.space (2896) is capped at
    the new clamp."""
    c = Conn()
    row = c.data(0, 1448)
    r, res = _run(c, listener=_listener(rcvbuf=4096), truesize=(1024, 0),
                  scaling_ratio_update=True)
    st = r.engine.rcv_state(int(res.packets["conn_id"][row]))
    assert st["scaling_ratio"] == 64
    assert st["window_clamp"] == 2048 and st["rcv_ssthresh"] == 2048
    assert st["rcvq_space"] == 2048
