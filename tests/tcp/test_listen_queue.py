"""Accept queue: backlog N holds N+1 children (sheet 4.1, 4.2, experiment 1)."""
import numpy as np
import pytest

from pystack.replay import Replay
from tests.pktbuild import Client, S, host, listener, replay

V_DELIVERED, V_DROPPED = 1, 2
R_NONE, R_SYNACK = 0, 1


def handshakes(clients, t0=0, gap=S // 5, host_isn=1000):
    """SYN, captured host SYN-ACK, ACK per client, `gap` apart."""
    pk, ts = [], []
    for j, c in enumerate(clients):
        t = t0 + j * gap
        hisn = host_isn + j * 100000
        pk += [c.syn(), c.host_synack(hisn), c.ack(hisn)]
        ts += [t, t + 1000, t + 2000]
    return pk, ts


@pytest.mark.parametrize("backlog", [0, 1, 2, 5])
def test_backlog_n_holds_n_plus_1(backlog):
    h = host([listener(backlog=backlog, accept="never")])
    clients = [Client(i) for i in range(backlog + 3)]
    pk, ts = handshakes(clients)
    r = replay(h, pk, ts)
    c = r.counters
    ok = backlog + 1
    assert c["TcpPassiveOpens"] == ok
    assert c["TcpCurrEstab"] == ok
    # the two clients beyond N+1: SYN dropped, no SYN-ACK; their ACK (to the
    # listener, no request sock, no cookie sent) -> RST
    assert c["TcpExtListenOverflows"] == 2
    assert c["TcpExtListenDrops"] == 2
    assert c["TcpExtSyncookiesSent"] == 0
    L = r.listeners[0]
    assert L["accept_queue"] == ok and L["accept_queue_max"] == ok
    assert L["syn_queue"] == 0 and L["overflows"] == 2 and L["drops"] == 2
    syn_rows = np.arange(0, len(pk), 3)
    assert r.packets["reply"][syn_rows].tolist() == [R_SYNACK] * ok + [R_NONE] * 2
    dropped = syn_rows[ok:]
    assert (r.packets["verdict"][dropped] == V_DROPPED).all()
    assert (r.packets["reason"][dropped] == 40).all()     # TCP_LISTEN_OVERFLOW label
    ack_rows = syn_rows + 2
    assert r.packets["sock_state"][ack_rows].tolist() == [1] * ok + [10] * 2
    assert r.divergences["host_synack_unmatched"] == 2
    assert c["TcpOutRsts"] == 2


def test_retransmitted_syns_count_each_time():
    """Experiment 1 shape: listen(2), never accept; clients 4-6 retransmit
    their SYNs; every dropped SYN is +1 ListenOverflows and +1 ListenDrops."""
    h = host([listener(backlog=2, accept="never")])
    cl = [Client(i) for i in range(6)]
    pk, ts = handshakes(cl[:3])
    t = 3 * S // 5
    extra = [(cl[3], 3), (cl[4], 2), (cl[5], 2)]        # SYN + retransmissions
    for c, n in extra:
        for k in range(n):
            pk.append(c.syn())
            ts.append(t + k * S)
        t += S // 5
    order = np.argsort(ts, kind="stable")
    pk = [pk[i] for i in order]
    ts = [ts[i] for i in order]
    r = replay(h, pk, ts)
    assert r.counters["TcpExtListenOverflows"] == 7
    assert r.counters["TcpExtListenDrops"] == 7
    assert r.counters["TcpPassiveOpens"] == 3
    assert r.counters["TcpOutSegs"] == 3                  # three SYN-ACKs, nothing else
    assert r.listeners[0]["accept_queue"] == 3


def test_accept_immediate_never_overflows():
    h = host([listener(backlog=0, accept="immediate")])
    clients = [Client(i) for i in range(20)]
    pk, ts = handshakes(clients, gap=1000000)
    r = replay(h, pk, ts)
    assert r.counters["TcpExtListenOverflows"] == 0
    assert r.counters["TcpExtListenDrops"] == 0
    assert r.counters["TcpPassiveOpens"] == 20
    L = r.listeners[0]
    assert L["accepted"] == 20 and L["accept_queue"] == 0
    acc = r.events["kind"] == 18
    assert acc.sum() == 20


def test_accept_delay_frees_the_queue_in_capture_time():
    """backlog 1, accept 'delay 1s': 2 children fit; a third SYN at 0.5 s is
    dropped; at 1.0 s the first child is accepted, so the retransmitted SYN
    at 1.5 s gets its SYN-ACK."""
    h = host([listener(backlog=1, accept="delay 1s")])
    a, b, c = Client(1), Client(2), Client(3)
    pk = [a.syn(), a.host_synack(10), a.ack(10), b.syn(), b.host_synack(20), b.ack(20),
          c.syn(), c.syn(), c.host_synack(30), c.ack(30)]
    ts = [0, 1, 2, 100, 101, 102, S // 2, 3 * S // 2, 3 * S // 2 + 1, 3 * S // 2 + 2]
    r = replay(h, pk, ts)
    assert r.packets["reply"].tolist() == [1, 0, 0, 1, 0, 0, 0, 1, 0, 0]
    assert r.counters["TcpExtListenOverflows"] == 1
    assert r.counters["TcpPassiveOpens"] == 3
    acc = r.events["ts_ns"][r.events["kind"] == 18].tolist()
    # accept times: 1 s after each child became acceptable (FIFO); the third
    # is due at 2.5 s, after the capture's end: not fired
    assert acc == [2 + S, 102 + S]
    L = r.listeners[0]
    assert L["accepted"] == 2 and L["accept_queue"] == 1 and L["accept_queue_max"] == 2


def test_accept_rate_token_bucket():
    """rate 1/s burst 1: accepts at ready time, then one per second."""
    from pystack.appmodel import accept_times, parse_accept
    h = host([listener(backlog=100, accept="rate 1/s")])
    cl = [Client(i) for i in range(4)]
    pk, ts = handshakes(cl, gap=1000)
    pk.append(Client(99).seg(0x10, ack=5))        # something at 10 s to end the capture
    ts.append(10 * S)
    r = replay(h, pk, ts)
    acc = r.events["ts_ns"][r.events["kind"] == 18].tolist()
    ready = [2000 + 1000 * j for j in range(4)]
    assert acc == accept_times(parse_accept("rate 1/s"), ready)


def test_listener_stats_and_syn_queue():
    """Request socks count in the SYN queue until the final ACK."""
    h = host([listener(backlog=10, accept="never")])
    cl = [Client(i) for i in range(4)]
    pk = [c.syn() for c in cl] + [cl[0].host_synack(7), cl[0].ack(7)]
    r = replay(h, pk)
    L = r.listeners[0]
    assert L["syn_queue"] == 3 and L["syn_queue_max"] == 4 and L["accept_queue"] == 1
    assert r.packets["sock_state"].tolist() == [12, 12, 12, 12, 12, 1]
    assert r.packets["conn_id"].tolist() == [0, 1, 2, 3, 0, 0]
