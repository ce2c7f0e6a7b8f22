"""nf_conntrack_max reached: early_drop of non-ASSURED entries in the new
tuple's bucket neighbourhood, else NF_DROP with stat drop; unconfirmed
entries count toward the limit."""

from pystack.conntrack import make_packet
from tests.conntrack.ctutil import NS, table, tcp

C, S = "198.18.0.1", "198.18.0.2"


def udp(t, sport, now=0, reply=False):
    if reply:
        return t.packet(dict(proto="udp", src=S, dst=C, sport=53, dport=sport), "OUTPUT", now)
    return t.packet(dict(proto="udp", src=C, dst=S, sport=sport, dport=53), "PREROUTING", now)


def test_early_drop_kills_every_non_assured_in_the_bucket():
    # one bucket: the whole table is the eviction neighbourhood
    t = table(max=4, buckets=1)
    for k in range(4):
        udp(t, 1000 + k)
    r = udp(t, 2000, now=NS)
    assert r["verdict"] == "ACCEPT" and r["ctstate"] == ["NEW"]
    st = t.stats()
    assert st["early_drop"] == 4 and st["drop"] == 0 and st["entries"] == 1
    assert t.entries(NS)["orig"] == ["src=198.18.0.1 dst=198.18.0.2 sport=2000 dport=53"]


def test_assured_entries_are_never_early_dropped():
    t = table(max=4, buckets=1)
    for k in range(3):
        udp(t, 1000 + k)
        udp(t, 1000 + k, reply=True)
        udp(t, 1000 + k, now=3 * NS)            # stream: ASSURED
    udp(t, 1003, now=3 * NS)                    # not assured
    r = udp(t, 2000, now=4 * NS)
    assert r["verdict"] == "ACCEPT"
    assert t.stats()["early_drop"] == 1
    e = t.entries(4 * NS)
    assert sorted(e["orig"]) == sorted(
        f"src=198.18.0.1 dst=198.18.0.2 sport={p} dport=53" for p in (1000, 1001, 1002, 2000))


def test_table_full_of_assured_drops_packet():
    t = table(max=2, buckets=1)
    for sport in (1000, 1001):
        tcp_conn(t, sport)
    r = t.packet(dict(proto="tcp", src=C, dst=S, sport=3000, dport=80, flags="S", seq=1),
                 "PREROUTING", NS)
    assert r["verdict"] == "DROP" and r["ct"] == -1
    st = t.stats()
    assert st["drop"] == 1 and st["early_drop"] == 0 and st["entries"] == 2


def tcp_conn(t, sport):
    t.packet(dict(proto="tcp", src=C, dst=S, sport=sport, dport=80, flags="S", seq=100),
             "PREROUTING", 0)
    t.packet(dict(proto="tcp", src=S, dst=C, sport=80, dport=sport, flags="SA", seq=500, ack=101),
             "OUTPUT", 0)
    t.packet(dict(proto="tcp", src=C, dst=S, sport=sport, dport=80, flags="A", seq=101, ack=501),
             "PREROUTING", 0)


def test_unconfirmed_entries_count_toward_max():
    t = table(max=1, buckets=4)
    p1 = make_packet(dict(proto="udp", src=C, dst=S, sport=1, dport=53))
    assert t.ct.py_in(p1, 0, 0) == 1
    assert t.stats()["entries"] == 1
    assert t.entries(0)["proto"] == []          # not in the hash: conntrack -L does not show it
    # a second new flow while the first is in flight: nothing confirmed to evict
    p2 = make_packet(dict(proto="udp", src=C, dst=S, sport=2, dport=53))
    assert t.ct.py_in(p2, 0, 0) == 0            # NF_DROP
    assert t.stats()["drop"] == 1
    # the first packet dies before confirm: its entry is freed
    t.ct.py_discard(p1)
    assert t.stats()["entries"] == 0
    assert t.ct.py_in(p2, 0, 0) == 1


def test_invalid_first_packet_still_allocates():
    # the entry is allocated before the TCP tracker refuses the packet: a
    # full table drops even a packet conntrack would have called INVALID
    t = table(max=1, buckets=1)
    tcp_conn(t, 1000)
    r = t.packet(dict(proto="tcp", src=C, dst=S, sport=2000, dport=80, flags="SA", seq=1, ack=1),
                 "PREROUTING", 0)
    assert r["verdict"] == "DROP" and t.stats()["drop"] == 1 and t.stats()["invalid"] == 0


def _victims(seed):
    t = table(max=16, buckets=8, seed=seed)
    for k in range(16):
        udp(t, 1000 + k)
    udp(t, 5000, now=NS)
    return t.stats()["early_drop"], sorted(t.entries(NS)["orig"])


def test_victim_neighbourhood_is_seeded_and_deterministic():
    n1, left1 = _victims(7)
    assert (n1, left1) == _victims(7)
    assert n1 >= 1 and len(left1) == 16 - n1 + 1
    # another seed (another boot key) puts the flows in other buckets
    assert any(_victims(s) != (n1, left1) for s in range(8, 16))


def test_expired_entries_do_not_count():
    t = table(max=2, buckets=1)
    udp(t, 1)
    udp(t, 2)
    r = udp(t, 3, now=30 * NS)
    assert r["verdict"] == "ACCEPT"
    assert t.stats()["early_drop"] == 0 and t.stats()["entries"] == 1


def test_max_zero_unlimited_on_6_12_grows():
    from pystack.conntrack import make_conntrack
    t = make_conntrack(seed=1, profile="6.12", max=0, buckets=16)
    for k in range(5000):
        assert udp(t, 1000 + k)["verdict"] == "ACCEPT"
    st = t.stats()
    assert st["entries"] == 5000 and st["drop"] == 0 and st["early_drop"] == 0
    assert len(t.entries(0)["proto"]) == 5000


def test_max_zero_on_7_3_is_a_limit_of_zero():
    from pystack.conntrack import make_conntrack
    t = make_conntrack(seed=1, profile="7.3", max=0, buckets=16)
    r = udp(t, 1000)
    assert r["verdict"] == "DROP" and t.stats()["drop"] == 1 and t.stats()["entries"] == 0
