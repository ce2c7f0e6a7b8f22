"""tcp_syncookies 0/1/2 (sheet 4.2, 4.3, experiment 2)."""
import pytest

from tests.pktbuild import ACK, RST, Client, S, SYN, host, listener, replay

R_NONE, R_SYNACK, R_COOKIE, R_RST = 0, 1, 2, 3
NO_SOCKET, TCP_FLAGS = 3, 30


def six_syns(sc, **kw):
    h = host([listener(backlog=2, accept="never")], tcp_syncookies=sc, **kw)
    cl = [Client(i) for i in range(6)]
    return replay(h, [c.syn() for c in cl]), cl


def test_syncookies_1_experiment_2():
    r, _ = six_syns(1)
    c = r.counters
    assert r.listeners[0]["syn_queue"] == 3
    assert c["TcpExtTCPReqQFullDoCookies"] == 3
    assert c["TcpExtSyncookiesSent"] == 3
    assert c["TcpExtListenDrops"] == 0 and c["TcpExtTCPReqQFullDrop"] == 0
    assert r.packets["reply"].tolist() == [R_SYNACK] * 3 + [R_COOKIE] * 3
    assert c["TcpOutSegs"] == 6


def test_syncookies_0_experiment_2():
    r, _ = six_syns(0)
    c = r.counters
    assert r.listeners[0]["syn_queue"] == 3
    assert c["TcpExtTCPReqQFullDrop"] == 3
    assert c["TcpExtListenDrops"] == 3
    assert c["TcpExtTCPReqQFullDoCookies"] == 0 and c["TcpExtSyncookiesSent"] == 0
    assert c["TcpExtListenOverflows"] == 0
    assert r.packets["reply"].tolist() == [R_SYNACK] * 3 + [R_NONE] * 3
    assert r.packets["verdict"].tolist() == [1] * 3 + [2] * 3


def test_syncookies_2_experiment_2():
    r, _ = six_syns(2)
    c = r.counters
    assert r.listeners[0]["syn_queue"] == 0
    assert c["TcpExtTCPReqQFullDoCookies"] == 6
    assert c["TcpExtSyncookiesSent"] == 6
    assert r.packets["reply"].tolist() == [R_COOKIE] * 6
    assert r.packets["sock_state"].tolist() == [10] * 6


def test_max_syn_backlog_three_quarter_rule():
    """syncookies=0: a SYN is dropped when max_syn_backlog - qlen <
    max_syn_backlog / 4 (ListenDrops only)."""
    h = host([listener(backlog=4096, accept="never")], tcp_syncookies=0,
             tcp_max_syn_backlog=16)
    r = replay(h, [Client(i).syn() for i in range(20)])
    # qlen 0..12 pass (16 - 12 = 4 is not < 4); the 14th SYN sees qlen 13
    assert r.listeners[0]["syn_queue"] == 13
    assert r.counters["TcpExtListenDrops"] == 7
    assert r.counters["TcpExtTCPReqQFullDrop"] == 0


def test_cookie_options_cleared_without_timestamps():
    h = host([listener(backlog=0)], tcp_syncookies=2)
    a, b = Client(1), Client(2)
    r = replay(h, [a.syn(ts=True), b.syn(ts=False)])
    assert r.packets["reply"].tolist() == [R_COOKIE, R_COOKIE]
    assert r.packets["reply_wscale"].tolist() == [10, 255]
    assert r.packets["reply_win"].tolist() == [65160, 64240]
    assert r.packets["reply_mss"].tolist() == [1460, 1460]


def test_cookie_ack_creates_child():
    h = host([listener(backlog=1, accept="never")], tcp_syncookies=2)
    a = Client(1)
    r = replay(h, [a.syn(), a.host_synack(777), a.ack(777)])
    c = r.counters
    assert c["TcpExtSyncookiesRecv"] == 1 and c["TcpExtSyncookiesFailed"] == 0
    assert c["TcpPassiveOpens"] == 1 and c["TcpCurrEstab"] == 1
    assert r.packets["verdict"].tolist() == [1, 3, 1]
    assert r.packets["sock_state"].tolist() == [10, 10, 1]
    assert r.packets["conn_id"].tolist() == [0, 0, 0]
    assert r.listeners[0]["accept_queue"] == 1


def test_cookie_ack_wrong_isn_fails_with_rst():
    h = host([listener()], tcp_syncookies=2)
    a = Client(1)
    r = replay(h, [a.syn(), a.host_synack(777), a.ack(778)])
    c = r.counters
    assert c["TcpExtSyncookiesFailed"] == 1 and c["TcpExtSyncookiesRecv"] == 0
    assert r.packets["reply"].tolist() == [R_COOKIE, R_NONE, R_RST]
    assert r.packets["reason"][2] == TCP_FLAGS
    assert r.packets["reply_seq"][2] == 779 and r.packets["reply_flags"][2] == RST
    assert c["TcpOutRsts"] == 1


def test_ack_without_recent_cookie_is_reset_unchecked():
    h = host([listener()])
    a = Client(1)
    r = replay(h, [a.seg(ACK, ack=5000)])
    c = r.counters
    assert c["TcpExtSyncookiesFailed"] == 0
    assert r.packets["reason"][0] == TCP_FLAGS and r.packets["reply"][0] == R_RST
    assert r.packets["reply_seq"][0] == 5000


def test_cookie_age_and_recent_overflow_window():
    h = host([listener()], tcp_syncookies=2)
    a, b = Client(1), Client(2)
    # a: cookie at 59 s (period 0), ACK at 121 s (period 2): too old -> Failed
    # b: cookie at 61 s, ACK at 119 s (period 1 vs 1) -> valid
    pk = [a.syn(), a.host_synack(1), b.syn(), b.host_synack(2), b.ack(2), a.ack(1)]
    ts = [59 * S, 59 * S + 1, 61 * S, 61 * S + 1, 119 * S, 121 * S]
    r = replay(h, pk, ts)
    assert r.counters["TcpExtSyncookiesRecv"] == 1
    assert r.counters["TcpExtSyncookiesFailed"] == 1
    # long after the last overflow stamp (61 s + 120 s) nothing is checked
    r2 = replay(h, [a.syn(), a.host_synack(1), a.ack(1)], [0, 1, 122 * S])
    assert r2.counters["TcpExtSyncookiesFailed"] == 0
    assert r2.counters["TcpExtSyncookiesRecv"] == 0
    assert r2.packets["reply"][2] == R_RST


@pytest.mark.parametrize("abort", [0, 1])
def test_cookie_ack_accept_queue_full_no_rst(abort):
    h = host([listener(backlog=0, accept="never")], tcp_syncookies=2,
             tcp_abort_on_overflow=abort)
    a, b = Client(1), Client(2)
    pk = [a.syn(), b.syn(), a.host_synack(10), b.host_synack(20), a.ack(10), b.ack(20)]
    r = replay(h, pk)
    c = r.counters
    assert c["TcpExtSyncookiesRecv"] == 2
    assert c["TcpPassiveOpens"] == 1
    assert c["TcpExtListenOverflows"] == 1 and c["TcpExtListenDrops"] == 1
    assert r.packets["reason"][5] == NO_SOCKET and r.packets["reply"][5] == R_NONE
    assert c["TcpOutRsts"] == 0


def test_cookie_ack_without_captured_synack_is_assumed():
    """Open loop: the host's SYN-ACK is not in the capture; the ACK is taken
    to acknowledge the real host's cookie (divergence counter)."""
    h = host([listener()], tcp_syncookies=2)
    a = Client(1)
    r = replay(h, [a.syn(), a.ack(123456)])
    assert r.counters["TcpExtSyncookiesRecv"] == 1
    assert r.divergences["cookie_isn_assumed"] == 1


def test_cookie_wanted_but_accept_queue_full():
    """tcp_conn_request: the accept-queue check follows tcp_syn_flood_action,
    so a SYN can count TCPReqQFullDoCookies and still be dropped
    (ListenOverflows + ListenDrops, no SyncookiesSent, no SYN-ACK)."""
    h = host([listener(backlog=0, accept="never")], tcp_syncookies=1)
    a, b, c = Client(1), Client(2), Client(3)
    pk = [a.syn(), a.host_synack(10), a.ack(10),     # child: accept queue 1 > 0: full
          b.syn(), c.syn()]
    r = replay(h, pk)
    cn = r.counters
    assert cn["TcpExtListenOverflows"] == 2 and cn["TcpExtListenDrops"] == 2
    assert cn["TcpExtTCPReqQFullDoCookies"] == 0       # SYN queue (qlen 0) not full
    h2 = host([listener(backlog=0, accept="never")], tcp_syncookies=2)
    r2 = replay(h2, pk)
    cn = r2.counters
    assert cn["TcpExtTCPReqQFullDoCookies"] == 3       # a, b, c all "want" cookies
    assert cn["TcpExtSyncookiesSent"] == 1             # only a got one
    assert cn["TcpExtListenOverflows"] == 2 and cn["TcpExtListenDrops"] == 2
    assert r2.packets["reply"].tolist() == [R_COOKIE, 0, 0, 0, 0]


def test_cookie_mss_from_table_does_not_change_synack_mss():
    """The SYN-ACK's MSS option is the route advmss; the cookie encodes the
    msstab entry <= the peer's MSS (not visible on the wire)."""
    from tests.pktbuild import tcp_opts, SYN
    h = host([listener()], tcp_syncookies=2)
    a = Client(1)
    r = replay(h, [a.seg(SYN, seq=a.isn, opts=tcp_opts(mss=1400))])
    assert r.packets["reply_mss"][0] == 1460 and r.packets["reply_wscale"][0] == 255
