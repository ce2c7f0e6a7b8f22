"""No socket: NO_SOCKET + tcp_v4_send_reset (sheet 1.4 items 6-7)."""
import pytest

from tests.pktbuild import ACK, FIN, PSH, RST, SYN, Client, host, listener, replay

NO_SOCKET = 3


@pytest.mark.parametrize("v6", [False, True])
def test_rst_format(v6):
    h = host([listener(port=80)])
    c = Client(1, port=81, v6=v6)
    pk = [c.syn(),                                       # no ACK: seq 0, ack seq+1
          c.seg(ACK, seq=1000, ack=77777),                # ACK: seq = ack_seq, no ACK flag
          c.seg(ACK | PSH, seq=5000, ack=42, data=b"x" * 10),
          c.seg(FIN | PSH, seq=9000, data=b"y" * 7),      # no ACK: ack = seq + 7 + FIN
          c.seg(SYN | FIN, seq=100, data=b"z" * 3),       # SYN + FIN + 3
          c.seg(RST, seq=1),                              # never answered
          c.seg(RST | ACK, seq=1, ack=2),
          c.seg(0, seq=3)]                                # no flags at all
    r = replay(h, pk)
    p = r.packets
    assert (p["verdict"] == 2).all() and (p["reason"] == NO_SOCKET).all()
    assert p["reply"].tolist() == [3, 3, 3, 3, 3, 0, 0, 3]
    assert p["reply_flags"].tolist() == [RST | ACK, RST, RST, RST | ACK, RST | ACK, 0, 0,
                                         RST | ACK]
    assert p["reply_seq"].tolist() == [0, 77777, 42, 0, 0, 0, 0, 0]
    assert p["reply_ack"].tolist() == [c.isn + 1, 0, 0, 9008, 105, 0, 0, 3]
    assert (p["reply_win"] == 0).all()
    cn = r.counters
    assert cn["TcpOutRsts"] == 6 and cn["TcpOutSegs"] == 6
    assert cn["TcpInSegs"] == 8
    assert cn["Ip6InDelivers" if v6 else "IpInDelivers"] == 8
    assert cn["TcpInErrs"] == 0


def test_listener_on_other_address_is_not_a_match():
    h = host([listener("198.18.0.1", 80)], addresses=("198.18.0.1", "198.18.0.2"))
    c = Client(1, dst="198.18.0.2")
    r = replay(h, [c.syn()])
    assert r.packets["reason"][0] == NO_SOCKET and r.packets["reply"][0] == 3


def test_not_for_the_host_is_ignored():
    h = host([listener()])
    c = Client(1, dst="192.0.2.99")
    r = replay(h, [c.syn()])
    assert r.packets["direction"][0] == 0 and r.packets["verdict"][0] == 0
    assert not r.nonzero()


def test_ip_forward_classifies_fwd():
    h = host([listener()], ip_forward=1)
    c = Client(1, dst="192.0.2.99")
    r = replay(h, [c.syn()])
    assert r.packets["direction"][0] == 3 and r.packets["verdict"][0] == 0
    assert not r.nonzero()


def test_host_refusal_the_model_accepted_is_a_divergence():
    """The capture shows the real host refusing (RST-ACK) a SYN that the
    model's listener answered: the configuration disagrees with the host."""
    h = host([listener(port=80)])
    c = Client(1)
    from tests.pktbuild import tcp4
    refusal = tcp4(c.dst, c.src, 80, c.sport, RST | ACK, 0, c.isn + 1)
    r = replay(h, [c.syn(), refusal])
    assert r.packets["verdict"].tolist() == [1, 3]
    assert r.divergences["host_rst_vs_model_socket"] == 1
