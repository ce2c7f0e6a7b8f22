"""Same input + config + seed => identical results; batches do not matter."""
import numpy as np

from pystack.replay import Replay
from tests.pktbuild import Client, S, host, listener


def traffic():
    pk, ts = [], []
    for i in range(300):
        c = Client(i)
        pk += [c.syn(), c.host_synack(i * 1000), c.ack(i * 1000)]
        ts += [i * S // 50, i * S // 50 + 1, i * S // 50 + 2]
    pk += [Client(999).syn()] * 3
    ts += [7 * S, 8 * S, 9 * S]
    return pk, ts


def run(seed, batch_size=8192):
    h = host([listener(backlog=64, accept="rate 20/s")], tcp_syncookies=1)
    pk, ts = traffic()
    return Replay(h, checksum="verify", seed=seed, batch_size=batch_size).run_packets(pk, ts)


def test_same_seed_identical():
    a, b = run(5), run(5)
    assert a.counters == b.counters
    for k in a.packets:
        assert np.array_equal(a.packets[k], b.packets[k]), k
    for k in a.events:
        assert np.array_equal(a.events[k], b.events[k]), k
    assert a.listeners == b.listeners


def test_batch_size_does_not_change_results():
    a, b = run(5), run(5, batch_size=7)
    assert a.counters == b.counters
    for k in a.packets:
        assert np.array_equal(a.packets[k], b.packets[k]), k
    for k in a.events:
        assert np.array_equal(a.events[k], b.events[k]), k


def test_other_seed_other_isns():
    a, b = run(5), run(6)
    assert a.counters == b.counters
    assert not np.array_equal(a.packets["reply_seq"], b.packets["reply_seq"])
