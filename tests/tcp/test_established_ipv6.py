"""IPv6 variant: teardown, challenge ACK and window selection (advmss
1440 for MTU 1500: full space 65536, mss 1428 with timestamps)."""
from pystack.replay import Replay
from tests.pktbuild import ACK, FIN, RST, host, listener
from tests.tcp.conn import Conn, rel_ack

R_ACK = 4
CLOSE_WAIT, LAST_ACK, CLOSE = 8, 9, 7


def test_ipv6_fin_and_challenge():
    c = Conn(v6=True)
    h1 = c.host(ACK, 0, 64)
    d = c.data(0, 1428)
    rst = c.seg(RST, 5000)                       # in window: challenge ACK
    fin = c.seg(ACK | FIN, 1428)
    hfin = c.host(ACK | FIN, 1429, 64)
    last = c.seg(ACK, 1429, ack=2)
    r = Replay(host([listener(address="::")]), checksum="verify")
    res = r.run_packets(c.pk, c.ts)
    p = res.packets
    # rounddown(65536, 1428) = 64260; window_clamp = 65536 - 1440 = 64096
    assert p["reply_win"][0] == 64260 and p["reply_wscale"][0] == 10
    # ALIGN(64096, 1024) = 64512 >= 64260 offered: no never-shrink correction,
    # so the captured 64 (65536) differs by one unit
    assert p["adv_win"][h1] == 64512 and p["win_diff"][h1] == 1024
    assert p["reply"][d] == R_ACK and rel_ack(c, res, d) == 1428
    assert p["reply"][rst] == R_ACK and p["reason"][rst] == 45
    assert p["sock_state"][[fin, hfin, last]].tolist() == [CLOSE_WAIT, LAST_ACK, CLOSE]
    cn = res.counters
    assert cn["TcpExtTCPChallengeACK"] == 1 and cn["TcpCurrEstab"] == 0
    assert r.engine.socket_count() == 0
    (conn,) = res.connections
    assert conn["remote"] == c.c.src and conn["why"] == "FIN"
