"""tcp_ack's ACK-field checks on established sockets (sheet 5.7 item 5,
tcp_input.c tcp_ack): an ACK of data the host never sent
(TCP_ACK_UNSENT_DATA), one older than snd_una - min(max_window,
bytes_acked) (TCP_TOO_OLD_ACK, RFC 5961 5.2, challenge ACK), and an old
ACK inside that range (ignored: nothing updated, the segment goes on)."""
from pystack.vocab import reason_code
from tests.pktbuild import ACK, FIN, host, listener
from tests.tcp.conn import HISN, Conn

V_DELIVERED, V_DROPPED = 1, 2
R_NONE, R_ACK = 0, 4
ESTABLISHED, CLOSE_WAIT = 1, 8
UNSENT = reason_code("TCP_ACK_UNSENT_DATA")
TOO_OLD = reason_code("TCP_TOO_OLD_ACK")


def _run(c, profile="6.18"):
    h = host([listener()])
    h.set_profile(profile)
    return c.run(h)


def _with_host_data():
    """The host sends 1000 bytes (captured), the client acknowledges them."""
    c = Conn()
    c.host(ACK, 0, 64, data=b"h" * 1000)
    c.seg(ACK, 0, ack=1001)
    return c


def test_ack_of_unsent_data_established():
    """ESTABLISHED (tcp_rcv_established): dropped quietly, data and all."""
    c = Conn()
    bad = c.data(0, 100, ack=101)                 # the host sent nothing yet
    good = c.data(0, 100)
    res = _run(c)
    p = res.packets
    assert p["verdict"][bad] == V_DROPPED and p["reason"][bad] == UNSENT
    assert p["reply"][bad] == R_NONE and p["sock_state"][bad] == ESTABLISHED
    # the same bytes again with a valid ACK are new data
    assert p["verdict"][good] == V_DELIVERED and p["reason"][good] == 0
    assert res.counters["TcpExtTCPChallengeACK"] == 0
    (conn,) = res.connections
    assert conn["drops"] == 1 and conn["bytes_in"] == 200


def test_ack_of_unsent_data_close_wait_challenges():
    """Other states (tcp_rcv_state_process): a challenge ACK, then the drop."""
    c = Conn()
    c.seg(ACK | FIN, 0)                           # -> CLOSE_WAIT
    bad = c.seg(ACK, 1, ack=50)
    res = _run(c)
    p = res.packets
    assert p["sock_state"][bad] == CLOSE_WAIT
    assert p["verdict"][bad] == V_DROPPED and p["reason"][bad] == UNSENT
    assert p["reply"][bad] == R_ACK
    assert res.counters["TcpExtTCPChallengeACK"] == 1


def test_ack_within_sent_data_accepted():
    c = _with_host_data()
    row = c.data(0, 100, ack=1001)
    res = _run(c)
    p = res.packets
    assert p["verdict"][row] == V_DELIVERED and p["reason"][row] == 0


def test_too_old_ack_challenge():
    """snd_una 1001, bytes_acked 1000 < max_window: an ACK before
    snd_una - 1000 is too old -> challenge ACK (TCPChallengeACK), dropped;
    exactly snd_una - 1000 is only old."""
    c = _with_host_data()
    too_old = c.data(0, 100, ack=0)               # HISN: snd_una - 1001
    old = c.data(0, 100, ack=1)                   # snd_una - 1000
    res = _run(c)
    p = res.packets
    assert p["verdict"][too_old] == V_DROPPED and p["reason"][too_old] == TOO_OLD
    assert p["reply"][too_old] == R_ACK
    assert res.counters["TcpExtTCPChallengeACK"] == 1
    # the old ACK is ignored, its data queued (and acknowledged)
    assert p["verdict"][old] == V_DELIVERED and p["reason"][old] == 0
    (conn,) = res.connections
    assert conn["drops"] == 1 and conn["drops_by_reason"] == {"other": 1}


def test_old_ack_does_not_update_window():
    """tcp_ack's old_ack path skips tcp_ack_update_window: the peer's window
    stays as the last acceptable ACK set it."""
    c = _with_host_data()                         # the client's ACK: win 502
    c.add(c.c.seg(ACK, seq=c.seq(0), ack=HISN + 500, win=7), 1000)
    res = _run(c)
    (conn,) = res.connections
    assert conn["peer_window"] == 502 << 10


def test_no_host_segments_no_check():
    """Without the host's side in the capture (no SYN-ACK, no data) the
    host's sequence space is unknown: the ACK is taken as acceptable."""
    c = Conn()
    del c.pk[1], c.ts[1]                          # the captured SYN-ACK
    row = c.data(0, 100, ack=101) - 1
    res = _run(c)
    p = res.packets
    assert p["verdict"][row] == V_DELIVERED and p["reason"][row] == 0


def test_profile_612_same_checks():
    c = Conn()
    bad = c.data(0, 100, ack=101)
    res = _run(c, "6.12")
    assert res.packets["reason"][bad] == UNSENT
