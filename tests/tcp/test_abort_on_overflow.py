"""tcp_abort_on_overflow at the final ACK (sheet 4.4, experiment 3)."""
import numpy as np
import pytest

from tests.pktbuild import ACK, RST, Client, S, host, listener, replay

R_NONE, R_RST = 0, 3
TCP_LISTEN_OVERFLOW = 40


def experiment3(abort, v6=False):
    """listen(1): two handshakes left half-open (their ACKs are not in the
    capture), two cookie connections fill the accept queue (backlog+1 = 2),
    the SYN-ACK retransmission at +1 s makes the first two clients ACK."""
    h = host([listener("::" if v6 else "0.0.0.0", backlog=1, accept="never")],
             tcp_abort_on_overflow=abort)
    a, b, c, d = (Client(i, v6=v6) for i in range(1, 5))
    pk = [a.syn(), a.host_synack(100), b.syn(), b.host_synack(200),
          c.syn(), c.host_synack(300), d.syn(), d.host_synack(400),
          c.ack(300), d.ack(400),
          a.ack(100), b.ack(200)]
    ts = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, S + 100, S + 101]
    return replay(h, pk, ts)


@pytest.mark.parametrize("v6", [False, True])
@pytest.mark.parametrize("abort", [0, 1])
def test_experiment3_counters(abort, v6):
    r = experiment3(abort, v6)
    c = r.counters
    assert c["TcpExtSyncookiesSent"] == 2 and c["TcpExtSyncookiesRecv"] == 2
    assert c["TcpExtTCPSynRetrans"] == 2 and c["TcpRetransSegs"] == 2
    assert c["TcpExtListenOverflows"] == 2 and c["TcpExtListenDrops"] == 2
    assert c["TcpPassiveOpens"] == 2
    assert list(r.packets["reason"][10:]) == [TCP_LISTEN_OVERFLOW] * 2
    assert r.listeners[0]["accept_queue"] == 2


def test_abort_0_is_silent_and_request_stays():
    r = experiment3(0)
    c = r.counters
    assert c["TcpExtEmbryonicRsts"] == 0 and c["TcpOutRsts"] == 0
    assert list(r.packets["reply"][10:]) == [R_NONE, R_NONE]
    assert r.listeners[0]["syn_queue"] == 2          # still there, acked
    assert list(r.packets["sock_state"][10:]) == [12, 12]


@pytest.mark.parametrize("v6", [False, True])
def test_abort_1_resets_with_seq_ack_seq(v6):
    r = experiment3(1, v6)
    c = r.counters
    assert c["TcpExtEmbryonicRsts"] == 2 and c["TcpOutRsts"] == 2
    assert c["TcpAttemptFails"] == 0
    p = r.packets
    assert list(p["reply"][10:]) == [R_RST, R_RST]
    assert list(p["reply_seq"][10:]) == [101, 201]
    assert list(p["reply_flags"][10:]) == [RST, RST]
    assert list(p["reply_ack"][10:]) == [0, 0] and list(p["reply_win"][10:]) == [0, 0]
    assert r.listeners[0]["syn_queue"] == 0


def test_abort_0_dup_ack_retries_after_accept():
    """The request stays acked; once the application accepts, the client's
    next (dup) ACK creates the child."""
    h = host([listener(backlog=1, accept="delay 2s")])
    a, b, c = Client(1), Client(2), Client(3)
    # backlog 1: the SYN queue and the accept queue each hold 2
    pk = [a.syn(), b.syn(), a.host_synack(10), b.host_synack(20), a.ack(10),
          c.syn(), c.host_synack(30), b.ack(20), c.ack(30), c.ack(30)]
    ts = [0, 1, 2, 3, 4, 5, 6, 7, 8, 3 * S]
    r = replay(h, pk, ts)
    assert r.counters["TcpExtListenOverflows"] == 1
    assert r.counters["TcpExtSyncookiesSent"] == 0
    assert r.packets["reason"][8] == TCP_LISTEN_OVERFLOW
    assert r.packets["sock_state"][8] == 12 and r.packets["reply"][8] == R_NONE
    assert r.packets["sock_state"][9] == 1 and r.packets["verdict"][9] == 1
    assert r.counters["TcpPassiveOpens"] == 3
    assert r.events["ts_ns"][r.events["kind"] == 18].tolist() == [4 + 2 * S, 7 + 2 * S]
    # c's SYN-ACK was retransmitted at +1 s (the next, +3 s, is after its ACK)
    retx = r.events["ts_ns"][r.events["kind"] == 16].tolist()
    assert retx == [5 + S]


def test_rst_in_syn_recv():
    h = host([listener()])
    a = Client(1)
    r = replay(h, [a.syn(), a.host_synack(50), a.seg(RST, seq=a.isn + 1)])
    c = r.counters
    assert c["TcpAttemptFails"] == 1 and c["TcpExtEmbryonicRsts"] == 1
    assert c["TcpOutRsts"] == 0
    assert r.packets["reason"][2] == 45 and r.packets["reply"][2] == R_NONE
    assert r.listeners[0]["syn_queue"] == 0


def test_syn_in_window_resets_embryo():
    h = host([listener()])
    a = Client(1)
    from tests.pktbuild import SYN
    r = replay(h, [a.syn(), a.seg(SYN, seq=a.isn + 5)])
    c = r.counters
    assert c["TcpAttemptFails"] == 1 and c["TcpExtEmbryonicRsts"] == 1
    assert c["TcpOutRsts"] == 1
    assert r.packets["reply_flags"][1] == RST | ACK
    assert r.packets["reply_ack"][1] == a.isn + 6


def test_wrong_ack_goes_to_listener_rst():
    h = host([listener()])
    a = Client(1)
    r = replay(h, [a.syn(), a.host_synack(50), a.seg(ACK, ack=999)])
    p = r.packets
    assert p["reply"][2] == R_RST and p["reply_seq"][2] == 999 and p["reason"][2] == 30
    assert r.listeners[0]["syn_queue"] == 1              # request untouched
    assert r.counters["TcpPassiveOpens"] == 0


def test_out_of_window_gets_dup_ack_rate_limited():
    h = host([listener()])
    a = Client(1)
    far = a.isn + 1 + 200000
    r = replay(h, [a.syn(), a.host_synack(50), a.ack(50, seq=far), a.ack(50, seq=far)],
               [0, 1, 2, 3])
    p = r.packets
    assert list(p["reply"][2:]) == [4, 0]
    assert p["reply_seq"][2] == 51 and p["reply_ack"][2] == a.isn + 1
    assert p["reply_win"][2] == 65160 >> 10
    assert list(p["reason"][2:]) == [34, 34]              # TCP_OVERWINDOW
    assert r.counters["TcpExtTCPACKSkippedSynRecv"] == 1
