"""Bad TCP checksum: InSegs, InCsumErrors, InErrs, TCP_CSUM, no reply (sheet 1.4)."""
import pytest

from tests.pktbuild import ACK, Client, host, listener, replay

TCP_CSUM = 10


@pytest.mark.parametrize("v6", [False, True])
def test_bad_checksum_dropped_before_lookup(v6):
    h = host([listener("::" if v6 else "0.0.0.0")])
    a = Client(1, v6=v6)
    closed = Client(2, port=81, v6=v6)
    r = replay(h, [a.syn(bad_csum=True), closed.seg(ACK, ack=5, bad_csum=True), a.syn()])
    p = r.packets
    assert p["verdict"].tolist() == [2, 2, 1]
    assert p["reason"].tolist() == [TCP_CSUM, TCP_CSUM, 0]
    assert p["reply"].tolist() == [0, 0, 1]
    c = r.counters
    assert c["TcpInSegs"] == 3
    assert c["TcpInCsumErrors"] == 2 and c["TcpInErrs"] == 2
    assert c["TcpOutRsts"] == 0 and c["TcpOutSegs"] == 1
    # still delivered to TCP by IP
    assert c["Ip6InDelivers" if v6 else "IpInDelivers"] == 3
    assert r.listeners[0]["syn_queue"] == 1


def test_checksum_ignore_mode_processes_everything():
    h = host([listener()])
    a = Client(1)
    r = replay(h, [a.syn(bad_csum=True)], checksum="ignore")
    assert r.packets["reply"].tolist() == [1]
    assert r.counters["TcpInCsumErrors"] == 0


def test_checksum_verify_vs_request_sock():
    """A bad final ACK does not complete the handshake."""
    h = host([listener()])
    a = Client(1)
    r = replay(h, [a.syn(), a.host_synack(9), a.ack(9, bad_csum=True), a.ack(9)])
    assert r.packets["reason"].tolist() == [0, 0, TCP_CSUM, 0]
    assert r.packets["sock_state"].tolist() == [12, 12, 0, 1]
    assert r.counters["TcpPassiveOpens"] == 1
