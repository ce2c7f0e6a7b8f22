"""Random TCP traffic against a listener: invariants of the queues and
counters, and independence from batch boundaries."""
import numpy as np
from hypothesis import given, settings, strategies as st

from pystack.replay import Replay
from tests.pktbuild import ACK, FIN, HOST4, RST, SYN, S, host, listener, tcp4

FLAGS = [SYN, SYN, SYN, ACK, ACK, SYN | ACK, RST, RST | ACK, FIN | ACK, 0, SYN | FIN]

seg = st.tuples(st.integers(0, 5),                 # client
                st.sampled_from([80, 81]),          # port
                st.sampled_from(FLAGS),
                st.integers(0, 3),                  # seq choice
                st.integers(0, 3),                  # ack choice
                st.integers(0, 3 * S),              # time gap
                st.booleans())                      # host SYN-ACK echo first


def build(segs):
    pk, ts = [], []
    t = 0
    for cl, port, fl, sq, ak, gap, echo in segs:
        t += gap
        src = f"10.0.0.{cl + 1}"
        isn = 1000 * (cl + 1)
        seq = [isn, isn + 1, isn + 50000, 7][sq]
        hisn = 5000 * (cl + 1)
        ack = [0, hisn + 1, hisn + 2, 12345][ak]
        if echo:
            pk.append(tcp4(HOST4, src, port, 40000 + cl, SYN | ACK, hisn, isn + 1))
            ts.append(t)
        pk.append(tcp4(src, HOST4, 40000 + cl, port, fl, seq, ack))
        ts.append(t)
    return pk, ts


@settings(max_examples=40, deadline=None)
@given(st.lists(seg, max_size=60), st.sampled_from([0, 1, 2]), st.sampled_from([0, 1]),
       st.sampled_from(["never", "immediate", "delay 2s"]))
def test_invariants(segs, cookies, abort, accept):
    pk, ts = build(segs)
    h = host([listener(backlog=1, accept=accept)], tcp_syncookies=cookies,
             tcp_abort_on_overflow=abort)
    a = Replay(h, checksum="verify", seed=3).run_packets(pk, ts)
    b = Replay(h, checksum="verify", seed=3, batch_size=3).run_packets(pk, ts)
    assert a.counters == b.counters
    for k in a.packets:
        assert np.array_equal(a.packets[k], b.packets[k]), k
    c = a.counters
    L = a.listeners[0]
    assert all(v >= 0 for v in c.values())
    assert 0 <= L["syn_queue"] <= 2 and 0 <= L["accept_queue"] <= 2
    assert L["syn_queue_young"] <= L["syn_queue"]
    assert c["TcpPassiveOpens"] == L["passive_opens"] == len(a.connections)
    # children may be reset / closed now: CurrEstab counts ESTABLISHED and
    # CLOSE_WAIT ones
    assert c["TcpCurrEstab"] == sum(d["state"] in ("ESTAB", "CLOSE-WAIT")
                                    for d in a.connections)
    assert a.connections == b.connections
    assert L["accepted"] + L["accept_queue"] == L["passive_opens"]
    assert c["TcpExtListenDrops"] >= c["TcpExtListenOverflows"] + c["TcpExtTCPReqQFullDrop"]
    assert c["TcpOutRsts"] == int((a.packets["reply"] == 3).sum())
    inn = a.packets["direction"] == 1
    assert c["TcpInSegs"] == int(inn.sum())
    if cookies == 0:
        assert c["TcpExtSyncookiesSent"] == 0
