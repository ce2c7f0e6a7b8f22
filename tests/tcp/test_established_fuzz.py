"""Random segments on established connections (both directions): no
crash, batch-boundary independence, and bookkeeping invariants."""
import numpy as np
from hypothesis import given, settings, strategies as st

from pystack.appmodel import AppModel, parse_accept, parse_read
from pystack.config import Listener
from pystack.replay import Replay
from tests.pktbuild import ACK, FIN, PSH, RST, SYN, host
from tests.tcp.conn import HISN, MS, Conn

FL = [ACK, ACK, ACK | PSH, ACK | FIN, RST, RST | ACK, SYN, 0, ACK]

client = st.tuples(st.just("c"), st.sampled_from(FL), st.integers(-3000, 12000),
                   st.sampled_from([0, 1, 100, 536, 1448]), st.integers(0, 60 * MS))
hostseg = st.tuples(st.just("h"), st.sampled_from([ACK, ACK | FIN, ACK | RST]),
                    st.integers(-100, 12000), st.sampled_from([0, 1, 64, 2896]),
                    st.integers(0, 60 * MS))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(client, hostseg), max_size=40),
       st.sampled_from(["as-arrives", "never", "chunk 1000 every 10ms", "rate 20000/s"]),
       st.sampled_from([None, 4096]), st.sampled_from(["6.18", "6.12"]))
def test_random_segments(segs, read, rcvbuf, prof):
    c = Conn()
    for who, fl, k, n, gap in segs:
        if who == "c":
            c.seg(fl, k, dt=gap, data=b"d" * n)
        else:
            c.host(fl, k, n, dt=gap)
    L = Listener("0.0.0.0", 80, backlog=16, rcvbuf=rcvbuf,
                 app=AppModel(accept=parse_accept("immediate"), read=parse_read(read)))
    h = host([L])
    h.set_profile(prof)
    a = Replay(h, checksum="verify").run_packets(c.pk, c.ts)
    b = Replay(h, checksum="verify", batch_size=4).run_packets(c.pk, c.ts)
    assert a.counters == b.counters and a.connections == b.connections
    for key in a.packets:
        assert np.array_equal(a.packets[key], b.packets[key]), key
    cn = a.counters
    assert all(v >= 0 for v in cn.values())
    # a host segment after the model closed the connection picks it up again
    assert sum(not d["picked_up"] for d in a.connections) == cn["TcpPassiveOpens"] >= 1
    assert cn["TcpCurrEstab"] == sum(d["state"] in ("ESTAB", "CLOSE-WAIT")
                                     for d in a.connections)
    conn = a.connections[0]
    rows = a.packets["conn_id"] == conn["conn_id"]
    dropped = rows & (a.packets["verdict"] == 2) & (a.packets["direction"] == 1)
    # every drop of the connection's segments is in its summary (TIME_WAIT
    # minisock drops are not: they belong to no full socket)
    assert conn["drops"] <= int(dropped.sum())
    assert conn["max_rcv_queue"] >= 0 and conn["zero_window_ns"] >= 0
