"""IPv6 listeners (tcp_v6_rcv / tcp_v6_conn_request), lookup order, reuseport."""
import numpy as np
import pytest

from tests.pktbuild import HOST4, HOST6, Client, S, host, listener, replay


def test_ipv6_backlog_and_overflow():
    h = host([listener("::", backlog=1, accept="never")])
    cl = [Client(i, v6=True) for i in range(4)]
    pk, ts = [], []
    for j, c in enumerate(cl):
        pk += [c.syn(), c.host_synack(j * 10), c.ack(j * 10)]
        ts += [j * 10, j * 10 + 1, j * 10 + 2]
    r = replay(h, pk, ts)
    c = r.counters
    assert c["TcpPassiveOpens"] == 2
    assert c["TcpExtListenOverflows"] == 2 and c["TcpExtListenDrops"] == 2
    assert c["Ip6InDelivers"] == 8 and c["IpInDelivers"] == 0      # SYN + ACK each
    # IPv6 SYN-ACK: advmss = 1500 - 60
    assert r.packets["reply_mss"][0] == 1440
    assert r.packets["reply_win"][0] == 65536 // 1428 * 1428


@pytest.mark.parametrize("sc,queue,cookies", [(0, 3, 0), (1, 3, 3), (2, 0, 6)])
def test_ipv6_syncookies(sc, queue, cookies):
    h = host([listener("::", backlog=2, accept="never")], tcp_syncookies=sc)
    r = replay(h, [Client(i, v6=True).syn() for i in range(6)])
    assert r.listeners[0]["syn_queue"] == queue
    assert r.counters["TcpExtSyncookiesSent"] == cookies
    assert r.counters["TcpExtTCPReqQFullDrop"] == (3 if sc == 0 else 0)


def test_ipv6_cookie_ack():
    h = host([listener("::")], tcp_syncookies=2)
    a = Client(1, v6=True)
    r = replay(h, [a.syn(), a.host_synack(5), a.ack(5)])
    assert r.counters["TcpExtSyncookiesRecv"] == 1 and r.counters["TcpCurrEstab"] == 1


def test_ipv6_closed_port_and_v6only():
    h = host([listener("::", ipv6only=True)])
    r = replay(h, [Client(1, v6=True).syn(), Client(2).syn()])
    assert r.packets["reply"].tolist() == [1, 3]        # IPv4 SYN: no socket


def test_exact_address_beats_wildcard():
    h = host([listener("0.0.0.0", 80, backlog=7), listener(HOST4, 80, backlog=3)])
    r = replay(h, [Client(1).syn()])
    lis = r.packets["listener"][0]
    assert r.listeners[lis]["address"] == HOST4


def test_af_inet_beats_dual_stack_wildcard():
    h = host([listener("::", 80, reuseport_group="g"), listener("0.0.0.0", 80,
                                                                  reuseport_group="g2")])
    # (config validation would refuse this overlap without SO_REUSEPORT on both)
    r = replay(h, [Client(1).syn(), Client(2, v6=True).syn()])
    labels = [r.listeners[i]["address"] for i in r.packets["listener"]]
    assert labels == ["0.0.0.0", "::"]


def test_reuseport_group_spreads_deterministically():
    ls = [listener("0.0.0.0", 80, reuseport_group="w", backlog=1000) for _ in range(4)]
    h = host(ls)
    pk = [Client(i).syn() for i in range(400)]
    r1 = replay(h, pk, seed=1)
    r2 = replay(h, pk, seed=1)
    r3 = replay(h, pk, seed=2)
    a1, a2, a3 = (x.packets["listener"] for x in (r1, r2, r3))
    assert (a1 == a2).all()
    assert not (a1 == a3).all()
    counts = np.bincount(a1, minlength=4)
    assert (counts > 50).all() and counts.sum() == 400
    assert sum(L["syn_queue"] for L in r1.listeners) == 400


def test_loopback_capture_direction():
    """127.0.0.1 -> 127.0.0.1: the listener's SYN-ACK is OUT, the client's
    segments IN."""
    h = host([listener("127.0.0.1", 5000, backlog=2)], addresses=())
    c = Client(1, port=5000, dst="127.0.0.1", sport=40001)
    c.src = "127.0.0.1"
    r = replay(h, [c.syn(), c.host_synack(77), c.ack(77)])
    assert r.packets["direction"].tolist() == [1, 2, 1]
    assert r.packets["sock_state"].tolist() == [12, 12, 1]
    assert r.divergences["ack_isn_assumed"] == 0
