"""Window selection (sheet 5.3, 5.4): SYN-ACK, the child's window_clamp /
rcv_ssthresh, tcp_select_window's never-shrink rule, and the comparison
with the windows the host really advertised (win_diff)."""
from pystack.replay import Replay
from tests.pktbuild import ACK, host, listener
from tests.tcp.conn import Conn, rel_ack

R_ACK = 4


def test_defaults_synack_and_first_window():
    c = Conn()
    h1 = c.host(ACK, 0, 64)                 # the server's first post-handshake segment
    d = c.data(0, 1448)
    hd = c.host(ACK, 1448, 63, data=b"y" * 10)   # host data carrying an ACK
    h2 = c.host(ACK, 1448, 60, hseq=11)           # a captured ACK the model disagrees with
    # fixed scaling_ratio 128 (test_scaling_ratio.py has the updated one)
    r = Replay(host([listener()]), checksum="verify", scaling_ratio_update=False)
    res = r.run_packets(c.pk, c.ts)
    p = res.packets
    # [measured] SYN-ACK win 65160 (rounddown(65536, 1448)), wscale 10
    assert p["reply_win"][0] == 65160 and p["reply_wscale"][0] == 10
    assert p["reply_mss"][0] == 1460
    # window_clamp = 65536 - 1460 = 64076 = rcv_ssthresh; __tcp_select_window
    # -> ALIGN(64076, 1024) = 64512 < 65160 offered: never shrink ->
    # ALIGN(65160, 1024) = 65536, field 64 [measured]
    assert p["adv_win"][h1] == 65536 and p["win_diff"][h1] == 0
    # after 1448 bytes: 64512 (right edge 1448 + 64512 >= 65160: no shrink)
    assert p["reply"][d] == R_ACK and p["reply_win"][d] == 63 and rel_ack(c, res, d) == 1448
    assert p["adv_win"][hd] == 64512 and p["win_diff"][hd] == 0
    assert p["win_diff"][h2] == (60 - 63) * 1024
    assert res.divergences["window_compared"] == 3
    assert res.divergences["window_mismatch"] == 1
    (conn,) = res.connections
    assert conn["window_compared"] == 3 and conn["window_diverged"] == 1
    assert conn["bytes_out"] == 10 and conn["pkts_out"] == 3
    cn = res.counters
    assert cn["TcpExtTCPWantZeroWindowAdv"] == 0 and cn["TcpExtTCPToZeroWindowAdv"] == 0


def test_no_timestamps_first_window():
    c = Conn(ts=False)
    h1 = c.host(ACK, 0, 63)
    res = Replay(host([listener()]), checksum="verify").run_packets(c.pk, c.ts)
    p = res.packets
    assert p["reply_win"][0] == 64240               # rounddown(65536, 1460)
    # 64512 >= 64240 offered: no never-shrink correction
    assert p["adv_win"][h1] == 64512 and p["win_diff"][h1] == 0


def test_small_rcvbuf_wscale_zero():
    from pystack.config import Listener
    c = Conn()
    h1 = c.host(ACK, 0, 2896)
    res = Replay(host([Listener("0.0.0.0", 80, rcvbuf=4096)]), checksum="verify") \
        .run_packets(c.pk, c.ts)
    p = res.packets
    # full space 4096, rounddown(4096, 1448) = 2896; window scale 0
    assert p["reply_win"][0] == 2896 and p["reply_wscale"][0] == 0
    assert p["adv_win"][h1] == 2896 and p["win_diff"][h1] == 0
