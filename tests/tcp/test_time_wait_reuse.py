"""SYN to a TIME_WAIT 4-tuple (sheet 8.3; tcp_minisocks.c
tcp_timewait_state_process, tcp_ipv4.c tcp_v4_rcv do_time_wait,
tcp_input.c tcp_conn_request with tcp_tw_isn)."""
from pystack.replay import Replay
from tests.pktbuild import ACK, FIN, SYN, host, linux_syn_opts, listener, tcp_opts
from tests.tcp.conn import HISN, MS, Conn

V_DELIVERED, V_DROPPED = 1, 2
R_NONE, R_SYNACK, R_SYNACK_COOKIE, R_ACK = 0, 1, 2, 4
TIME_WAIT, NEW_SYN_RECV = 6, 12


def _to_time_wait(c):
    c.host(ACK | FIN, 0, 64)            # host closes first: FIN_WAIT1
    c.seg(ACK, 0, ack=2)                # FIN_WAIT2
    return c.seg(ACK | FIN, 0, ack=2)   # TIME_WAIT (tw_rcv_nxt = 1, tw_snd_nxt = HISN + 2)


def test_syn_with_higher_seq_reuses_and_bypasses_syncookies():
    c = Conn()
    _to_time_wait(c)
    syn = c.add(c.c.seg(SYN, seq=c.c.isn + 100000, win=64240, opts=linux_syn_opts()), MS)
    # tcp_syncookies=2 would answer every SYN with a cookie: the TW SYN skips it
    r = Replay(host([listener()], tcp_syncookies=2), checksum="verify")
    res = r.run_packets(c.pk, c.ts)
    p = res.packets
    assert p["reply"][syn] == R_SYNACK
    assert p["reply_seq"][syn] == (HISN + 2 + 65535 + 2) & 0xffffffff   # tw_snd_nxt + 65537
    assert p["sock_state"][syn] == NEW_SYN_RECV
    assert p["verdict"][syn] == V_DELIVERED
    cn = res.counters
    # the first handshake was a cookie one (tcp_syncookies=2), the TW SYN not
    assert cn["TcpExtTW"] == 1 and cn["TcpExtSyncookiesSent"] == 1
    assert r.engine.socket_count() == 1           # the new request sock only
    assert r.engine.time_wait_count() == 0
    assert p["conn_id"][syn] != p["conn_id"][3]


def test_syn_with_newer_tsval_reuses():
    c = Conn()
    _to_time_wait(c)
    # seq below rcv_nxt, but TSval newer than ts_recent (1000 in the pktbuild SYN)
    syn = c.add(c.c.seg(SYN, seq=c.c.isn - 5, win=64240,
                        opts=tcp_opts(mss=1460, sack_ok=True, ts=(2000, 0), wscale=10)), MS)
    res = Replay(host([listener()]), checksum="verify").run_packets(c.pk, c.ts)
    assert res.packets["reply"][syn] == R_SYNACK


def test_old_syn_gets_time_wait_ack():
    c = Conn()
    _to_time_wait(c)
    syn = c.add(c.c.seg(SYN, seq=c.c.isn - 5, win=64240,
                        opts=tcp_opts(mss=1460, sack_ok=True, ts=(500, 0), wscale=10)), MS)
    syn2 = c.add(c.c.seg(SYN, seq=c.c.isn - 5, win=64240,
                         opts=tcp_opts(mss=1460, sack_ok=True, ts=(500, 0), wscale=10)), MS)
    r = Replay(host([listener()]), checksum="verify")
    res = r.run_packets(c.pk, c.ts)
    p = res.packets
    assert p["verdict"][syn] == V_DROPPED and p["sock_state"][syn] == TIME_WAIT
    # tcp_v4_timewait_ack: seq tw_snd_nxt, ack tw_rcv_nxt
    assert p["reply"][syn] == R_ACK
    assert p["reply_seq"][syn] == HISN + 2 and p["reply_ack"][syn] == c.c.isn + 2
    # the second within tcp_invalid_ratelimit: TCPACKSkippedTimeWait
    assert p["reply"][syn2] == R_NONE
    assert res.counters["TcpExtTCPACKSkippedTimeWait"] == 1
    assert r.engine.time_wait_count() == 1


def test_tw_bucket_overflow():
    c = Conn()
    last = _to_time_wait(c)
    r = Replay(host([listener()], tcp_max_tw_buckets=0), checksum="verify")
    res = r.run_packets(c.pk, c.ts)
    cn = res.counters
    assert cn["TcpExtTCPTimeWaitOverflow"] == 1 and cn["TcpExtTW"] == 0
    assert r.engine.socket_count() == 0
    assert res.connections[0]["why"] == "TW_OVERFLOW"
    assert res.packets["reply"][last] == R_ACK     # tcp_fin ACKs before tcp_time_wait
