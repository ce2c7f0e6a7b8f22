"""PAWS (RFC 7323; sheet 4.4, 5.7 item 1, 8.3, 10.7): include/net/tcp.h
tcp_paws_check / tcp_paws_reject, tcp_input.c tcp_validate_incoming +
tcp_disordered_ack_check + tcp_replace_ts_recent, tcp_minisocks.c
tcp_check_req (PAWS, TSecr) and tcp_timewait_state_process."""
from pystack.vocab import reason_code
from tests.pktbuild import ACK, FIN, RST, SYN, S, host, linux_syn_opts, listener, tcp_opts
from tests.tcp.conn import HISN, MS, Conn

V_DELIVERED, V_DROPPED = 1, 2
R_NONE, R_SYNACK, R_RST, R_ACK = 0, 1, 3, 4
ESTABLISHED, TIME_WAIT, CLOSE, NEW_SYN_RECV = 1, 6, 7, 12
DAY = 86400 * S

PAWS = reason_code("TCP_RFC7323_PAWS")
PAWS_ACK = reason_code("TCP_RFC7323_PAWS_ACK")
TW_PAWS = reason_code("TCP_RFC7323_TW_PAWS")
TSECR = reason_code("TCP_RFC7323_TSECR")

PAWS_CTRS = ("TcpExtPAWSEstab", "TcpExtPAWSOldAck", "TcpExtPAWSTimewait",
             "TcpExtTSEcrRejected", "TcpExtTCPACKSkippedPAWS")


def ts(v, e=5):
    return tcp_opts(ts=(v & 0xffffffff, e))


def seg(c, flags, k, tsval, n=0, dt=MS, ack=1, win=502):
    """Client segment at relative sequence k with a TSval (TSecr 5)."""
    return c.add(c.c.seg(flags, seq=c.seq(k), ack=HISN + ack, data=b"x" * n,
                         opts=ts(tsval), win=win), dt)


def paws(res):
    return {k: res.counters[k] for k in PAWS_CTRS if k in res.counters}


def run(c, **sysctls):
    return c.run(host([listener()], **sysctls))


def test_old_tsval_data_and_acks_established():
    c = Conn()                                  # SYN TSval 1000
    ok = seg(c, ACK, 0, 2000, n=100)            # ts_recent 2000
    old = seg(c, ACK, 100, 1500, n=100)         # PAWS: data, dupack (never rate limited)
    old2 = seg(c, ACK, 100, 1999, n=100)        # 2000 - 1999 = 1 <= TCP_PAWS_WINDOW: passes
    a1 = seg(c, ACK, 200, 1500)                 # pure ACK at rcv_nxt, window update: PAWS
    a2 = seg(c, ACK, 200, 1500)                 # same, within 500 ms: TCPACKSkippedPAWS
    a3 = seg(c, ACK, 150, 1500)                 # old pure ACK (seq < rcv_nxt): PAWS_ACK
    res = run(c)
    p = res.packets
    assert p["verdict"][ok] == V_DELIVERED and p["reason"][ok] == 0
    assert p["verdict"][old] == V_DROPPED and p["reason"][old] == PAWS
    assert p["reply"][old] == R_ACK
    assert p["verdict"][old2] == V_DELIVERED and p["reason"][old2] == 0
    assert p["reason"][a1] == PAWS and p["reply"][a1] == R_ACK
    assert p["reason"][a2] == PAWS and p["reply"][a2] == R_NONE
    assert p["reason"][a3] == PAWS_ACK and p["reply"][a3] == R_NONE
    assert p["sock_state"][a3] == ESTABLISHED
    assert paws(res) == {"TcpExtPAWSEstab": 3, "TcpExtPAWSOldAck": 1, "TcpExtPAWSTimewait": 0,
                         "TcpExtTSEcrRejected": 0, "TcpExtTCPACKSkippedPAWS": 1}
    # tcp_send_dupack: old data (seq < rcv_nxt) -> DelayedACKLost; here seq == rcv_nxt
    assert res.counters["TcpExtDelayedACKLost"] == 0
    (conn,) = res.connections
    assert conn["drops_by_reason"] == {"TCP_RFC7323_PAWS": 3, "TCP_RFC7323_PAWS_ACK": 1}


def test_disordered_duplicate_ack_passes_paws():
    c = Conn()
    seg(c, ACK, 0, 2000, n=100)
    seg(c, ACK, 100, 2100, dt=100 * MS)         # pure ACK: snd_wl1 = rcv_nxt, ts_recent 2100
    dup = seg(c, ACK, 100, 2000)                # 100 ticks old < rto 200 ms * 1200 / HZ
    far = seg(c, ACK, 100, 1000)                # 1100 ticks old: outside the replay window
    res = run(c)
    p = res.packets
    assert p["verdict"][dup] == V_DELIVERED and p["reason"][dup] == 0
    assert p["reason"][far] == PAWS
    assert res.counters["TcpExtPAWSEstab"] == 1


def test_old_tsval_rst_is_accepted_established():
    c = Conn()
    seg(c, ACK, 0, 2000, n=10)
    rst = seg(c, RST | ACK, 10, 1500)           # "Reset is accepted even if it did not pass PAWS"
    res = run(c)
    p = res.packets
    assert p["sock_state"][rst] == CLOSE
    assert res.counters["TcpEstabResets"] == 1 and res.counters["TcpExtPAWSEstab"] == 0


def test_old_tsval_syn_is_challenged():
    c = Conn()
    seg(c, ACK, 0, 2000, n=10)
    syn = c.add(c.c.seg(SYN, seq=c.seq(10), opts=ts(1500)), MS)
    res = run(c)
    assert res.packets["reason"][syn] == reason_code("TCP_INVALID_SYN")
    assert res.counters["TcpExtTCPSYNChallenge"] == 1
    assert res.counters["TcpExtPAWSEstab"] == 0


def test_tsval_wraparound():
    c = Conn()
    c.pk[0] = c.c.seg(SYN, seq=c.c.isn, win=64240, opts=linux_syn_opts(ts=(0xFFFFFE00, 0)))
    a = seg(c, ACK, 0, 0xFFFFFF00, n=10)        # newer than the SYN's
    b = seg(c, ACK, 10, 0x00000100, n=10, dt=100 * MS)   # wrapped: (s32)(0xFFFFFF00 - 0x100) < 0
    old = seg(c, ACK, 20, 0xFFFFFF80, n=10, dt=100 * MS)  # older than 0x100 across the wrap
    res = run(c)
    p = res.packets
    assert p["reason"][a] == 0 and p["reason"][b] == 0
    assert p["verdict"][a] == p["verdict"][b] == V_DELIVERED
    assert p["reason"][old] == PAWS
    assert res.counters["TcpExtPAWSEstab"] == 1


def test_ts_recent_older_than_24_days():
    c = Conn()
    seg(c, ACK, 0, 2000, n=10)                  # ts_recent_stamp ~ 0 s
    early = seg(c, ACK, 10, 1500, n=10, dt=24 * DAY - 10 * S)   # 24 days - 10 s: rejected
    late = seg(c, ACK, 10, 1500, n=10, dt=20 * S)               # 24 days + 10 s: passes
    again = seg(c, ACK, 20, 1400, n=10)         # ts_recent 1500 stamped now: rejected
    res = run(c)
    p = res.packets
    assert p["reason"][early] == PAWS
    assert p["verdict"][late] == V_DELIVERED and p["reason"][late] == 0
    assert p["reason"][again] == PAWS
    assert res.counters["TcpExtPAWSEstab"] == 2


def test_no_timestamps_negotiated_no_paws():
    for ts_syn, sysctls in ((False, {}), (True, {"tcp_timestamps": 0})):
        c = Conn(ts=ts_syn)
        a = seg(c, ACK, 0, 2000, n=10)
        b = seg(c, ACK, 10, 5, n=10)            # would be PAWS-rejected with timestamps
        res = run(c, **sysctls)
        p = res.packets
        assert p["verdict"][a] == p["verdict"][b] == V_DELIVERED
        assert p["reason"][b] == 0
        assert sum(paws(res).values()) == 0


def _to_time_wait(c, t_fin=MS):
    c.host(ACK | FIN, 0, 64, dt=t_fin)          # host closes first: FIN_WAIT1
    c.seg(ACK, 10, ack=2)                       # FIN_WAIT2 (no TS: ts_recent kept)
    return c.seg(ACK | FIN, 10, ack=2)          # TIME_WAIT, tw_rcv_nxt = 11


def test_time_wait_paws_reject():
    c = Conn()
    seg(c, ACK, 0, 2000, n=10)                  # tw_ts_recent 2000
    _to_time_wait(c)
    old = seg(c, ACK, 11, 1500, ack=2)          # in-window bare ACK, old TSval
    old_syn = c.add(c.c.seg(SYN, seq=c.seq(100000), win=64240,
                            opts=linux_syn_opts(ts=(1500, 0))), 600 * MS)  # seq newer, PAWS old
    new = seg(c, ACK, 11, 2500, ack=2)          # passes: tw_ts_recent = 2500
    res = run(c)
    p = res.packets
    assert p["sock_state"][old] == TIME_WAIT
    assert p["verdict"][old] == V_DROPPED and p["reason"][old] == TW_PAWS
    assert p["reply"][old] == R_ACK             # tcp_v4_timewait_ack
    assert p["reason"][old_syn] == TW_PAWS and p["reply"][old_syn] == R_ACK
    assert p["reason"][new] == reason_code("NOT_SPECIFIED") and p["reply"][new] == R_NONE
    assert paws(res) == {"TcpExtPAWSEstab": 0, "TcpExtPAWSOldAck": 0, "TcpExtPAWSTimewait": 2,
                         "TcpExtTSEcrRejected": 0, "TcpExtTCPACKSkippedPAWS": 0}
    assert res.counters["TcpExtTCPACKSkippedTimeWait"] == 0


def test_time_wait_paws_counter_per_profile():
    c = Conn()
    seg(c, ACK, 0, 2000, n=10)
    _to_time_wait(c)
    old = seg(c, ACK, 11, 1500, ack=2)
    h = host([listener()])
    h.set_profile("6.12")
    res = c.run(h)
    assert res.counters["TcpExtPAWSEstab"] == 1
    assert res.packets["reason"][old] == reason_code("NOT_SPECIFIED")   # no TW_PAWS in 6.12


def test_time_wait_rst_paws_msl_exemption():
    c = Conn()
    seg(c, ACK, 0, 2000, n=10)                  # ts_recent_stamp ~ 0 s
    _to_time_wait(c, t_fin=30 * S)              # TIME_WAIT at ~30 s
    r1 = seg(c, RST, 11, 1500, dt=20 * S)       # stamp age ~50 s < TCP_PAWS_MSL: rejected
    r2 = seg(c, RST, 11, 1500, dt=20 * S)       # ~70 s: a RST passes PAWS -> kill
    res = run(c)
    p = res.packets
    assert p["reason"][r1] == TW_PAWS and p["reply"][r1] == R_NONE
    assert p["sock_state"][r1] == TIME_WAIT
    assert p["sock_state"][r2] == CLOSE
    assert res.counters["TcpExtPAWSTimewait"] == 1


def _handshake_rows(c):
    """Conn without its final ACK: SYN (TSval 1000), host SYN-ACK (TSval 5)."""
    del c.pk[2], c.ts[2]
    c.t = c.ts[-1]


def test_request_sock_tsecr_check():
    c = Conn()
    _handshake_rows(c)
    bad = c.add(c.c.seg(ACK, seq=c.c.isn + 1, ack=HISN + 1, opts=ts(1100, 7)), MS)
    bad2 = c.add(c.c.seg(ACK, seq=c.c.isn + 1, ack=HISN + 1, opts=ts(1100, 4)), MS)
    good = c.add(c.c.seg(ACK, seq=c.c.isn + 1, ack=HISN + 1, opts=ts(1100, 5)), 600 * MS)
    res = run(c)
    p = res.packets
    assert p["sock_state"][bad] == NEW_SYN_RECV
    assert p["verdict"][bad] == V_DROPPED and p["reason"][bad] == TSECR
    assert p["reply"][bad] == R_ACK                        # req->rsk_ops->send_ack
    assert p["reason"][bad2] == TSECR and p["reply"][bad2] == R_NONE   # rate limited
    assert p["verdict"][good] == V_DELIVERED and p["sock_state"][good] == ESTABLISHED
    assert res.counters["TcpExtTSEcrRejected"] == 2
    assert res.counters["TcpExtTCPACKSkippedSynRecv"] == 1
    assert res.counters["TcpPassiveOpens"] == 1


def test_request_sock_paws():
    c = Conn()
    _handshake_rows(c)
    old = c.add(c.c.seg(ACK, seq=c.c.isn + 1, ack=HISN + 1, opts=ts(900, 5)), MS)
    syn = c.add(c.c.seg(SYN, seq=c.c.isn, win=64240, opts=linux_syn_opts(ts=(900, 0))), MS)
    res = run(c)
    p = res.packets
    assert p["reason"][old] == PAWS and p["reply"][old] == R_ACK
    # a PAWS-rejected "retransmitted SYN" is no retransmission: out-of-window path
    assert p["reason"][syn] == PAWS and p["reply"][syn] == R_NONE   # rate limited
    assert res.counters["TcpExtPAWSEstab"] == 2 and res.counters["TcpExtTCPSynRetrans"] == 0
    assert res.counters["TcpPassiveOpens"] == 0


def test_old_pure_ack_before_6_15_is_paws_estab():
    c = Conn()
    seg(c, ACK, 0, 2000, n=100)
    old = seg(c, ACK, 50, 1500)                 # 6.15+: PAWSOldAck, no dupack
    h = host([listener()])
    h.set_profile("6.12")
    res = c.run(h)
    assert res.packets["reason"][old] == PAWS and res.packets["reply"][old] == R_ACK
    assert res.counters["TcpExtPAWSEstab"] == 1 and res.counters["TcpExtPAWSOldAck"] == 0


def _pickup_conn(host_ts, peer_tsvals):
    """The capture starts mid-connection with a host ACK (TSval 77, TSecr
    1000 when host_ts), then peer data segments with the given TSvals."""
    from tests.pktbuild import tcp4
    c = Conn(1)
    cl = c.c
    seq0, hseq = cl.isn + 5000, HISN + 7000
    pk = [tcp4(cl.dst, cl.src, 80, cl.sport, ACK, hseq, seq0, 64,
               ts(77, 1000) if host_ts else b"")]
    for j, v in enumerate(peer_tsvals):
        pk.append(tcp4(cl.src, cl.dst, cl.sport, 80, ACK, seq0 + 10 * j, hseq, 502,
                       ts(v, 77), b"a" * 10))
    return pk, [j * MS for j in range(len(pk))]


def test_picked_up_connection_paws():
    """A picked-up connection learns ts_recent from the host's TSecr (the
    kernel echoes rx_opt.ts_recent): an older TSval is a PAWS reject
    (PAWSEstab, dupack), a newer one is accepted."""
    from pystack.replay import Replay
    pk, tss = _pickup_conn(True, [990, 1001])   # 990: beyond TCP_PAWS_WINDOW (1)
    res = Replay(host([listener()]), checksum="verify").run_packets(pk, tss)
    p = res.packets
    assert p["verdict"][1] == V_DROPPED and p["reason"][1] == PAWS
    assert p["reply"][1] == R_ACK
    assert p["verdict"][2] == V_DELIVERED and p["reason"][2] == 0
    assert paws(res)["TcpExtPAWSEstab"] == 1
    (d,) = res.connections
    assert d["picked_up"] and d["bytes_in"] == 20


def test_picked_up_connection_without_timestamps_no_paws():
    from pystack.replay import Replay
    pk, tss = _pickup_conn(False, [990, 1001])
    res = Replay(host([listener()]), checksum="verify").run_packets(pk, tss)
    p = res.packets
    assert p["verdict"][[1, 2]].tolist() == [V_DELIVERED] * 2
    assert paws(res)["TcpExtPAWSEstab"] == 0
