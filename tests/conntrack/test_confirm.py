"""__nf_conntrack_confirm: an entry enters the hash only at confirm (end of
POST_ROUTING / LOCAL_IN); a clash with an entry confirmed meanwhile is
resolved (clashres) for UDP/ICMP of the same flow, else insert_failed + drop."""

from pystack.conntrack import make_packet, nat_range
from tests.conntrack.ctutil import NS, table

C, S = "198.18.0.1", "198.18.0.2"


def test_entry_visible_only_after_confirm():
    t = table()
    p = make_packet(dict(proto="udp", src=C, dst=S, sport=1, dport=53))
    t.ct.py_in(p, 0, 0)
    assert t.entries(0)["proto"] == [] and t.stats()["entries"] == 1
    assert t.ct.py_confirm(p, 0) == 1
    assert t.entries(0)["proto"] == ["udp"]
    assert p.view()["ctstatus"] & 8          # IPS_CONFIRMED
    st = t.stats()
    assert st["insert"] == 0 and st["entries"] == 1


def test_unconfirmed_entry_not_found_by_second_packet():
    # two packets of one new flow in flight: each gets its own NEW entry
    t = table()
    a = make_packet(dict(proto="udp", src=C, dst=S, sport=1, dport=53))
    b = make_packet(dict(proto="udp", src=C, dst=S, sport=1, dport=53))
    t.ct.py_in(a, 0, 0)
    t.ct.py_in(b, 0, 0)
    assert a.view()["ct"] != b.view()["ct"] and t.stats()["entries"] == 2
    assert t.ct.py_confirm(a, 0) == 1
    # same flow, same (null) NAT: the loser takes the winner's entry
    assert t.ct.py_confirm(b, 0) == 1
    assert b.view()["ct"] == a.view()["ct"]
    st = t.stats()
    assert st["clashres"] == 1 and st["insert_failed"] == 0 and st["entries"] == 1


def test_tcp_clash_is_insert_failed_and_drop():
    t = table()
    pk = dict(proto="tcp", src=C, dst=S, sport=1, dport=80, flags="S", seq=1)
    a, b = make_packet(pk), make_packet(pk)
    t.ct.py_in(a, 0, 0)
    t.ct.py_in(b, 0, 0)
    assert t.ct.py_confirm(a, 0) == 1
    assert t.ct.py_confirm(b, 0) == 0
    st = t.stats()
    assert st["insert_failed"] == 1 and st["drop"] == 1 and st["entries"] == 1


def test_udp_clash_with_different_nat_is_insert_failed():
    t = table()
    pk = dict(proto="udp", src=C, dst=S, sport=1, dport=53)
    a, b = make_packet(pk), make_packet(pk)
    t.ct.py_in(a, 0, 0)
    t.ct.py_in(b, 0, 0)
    t.ct.py_nat(a, 0, nat_range("198.18.5.1"))
    t.ct.py_nat(b, 0, nat_range("198.18.5.2"))
    assert t.ct.py_confirm(a, 0) == 1
    assert t.ct.py_confirm(b, 0) == 0
    assert t.stats()["insert_failed"] == 1 and t.stats()["drop"] == 1


def test_packet_dropped_before_confirm_frees_entry():
    t = table()
    r = t.packet(dict(proto="tcp", src=C, dst=S, sport=1, dport=80, flags="S", seq=1),
                 "PREROUTING", 0, die=True)
    assert r["ctstate"] == ["NEW"]
    assert t.stats()["entries"] == 0 and t.entries(0)["proto"] == []
    # the retransmission is NEW again on a fresh entry
    r = t.packet(dict(proto="tcp", src=C, dst=S, sport=1, dport=80, flags="S", seq=1),
                 "PREROUTING", NS)
    assert r["ctstate"] == ["NEW"] and t.stats()["entries"] == 1


def test_confirm_of_established_packet_is_a_no_op():
    t = table()
    t.packet(dict(proto="udp", src=C, dst=S, sport=1, dport=53), "PREROUTING", 0)
    p = make_packet(dict(proto="udp", src=S, dst=C, sport=53, dport=1))
    t.ct.py_in(p, 3, 0)
    assert t.ct.py_confirm(p, 0) == 1
    assert t.stats()["entries"] == 1 and t.stats()["clashres"] == 0


def test_ctmark_set_and_seen_by_later_packets():
    t = table()
    r = t.packet(dict(proto="udp", src=C, dst=S, sport=1, dport=53), "PREROUTING", 0)
    t.ct.py_set_mark(r["pkt"], 0x42)
    assert r["pkt"].view()["ctmark"] == 0x42
    r = t.packet(dict(proto="udp", src=S, dst=C, sport=53, dport=1), "OUTPUT", 0)
    assert r["ctmark"] == 0x42
    assert t.entries(0)["mark"] == [0x42]
    assert "mark=66 use=1" in t.to_conntrack_L(0)


def test_conntrack_S_text():
    # the layout conntrack-tools 1.4.7 prints on this machine (one CPU row)
    t = table()
    t.packet(dict(proto="tcp", src=C, dst=S, sport=1, dport=80, flags="F", seq=1),
             "PREROUTING", 0)
    assert t.to_conntrack_S() == (
        "cpu=0   \tfound=0 invalid=1 insert=0 insert_failed=0 drop=0 early_drop=0 error=0 "
        "search_restart=0 clash_resolve=0 chaintoolong=0 \n")


def test_udp_clash_with_winner_without_nat_resolves():
    # no nat table ran for the winner (no NAT_DONE bits): the loser takes it
    t = table()
    pk = dict(proto="udp", src=C, dst=S, sport=1, dport=53)
    a, b = make_packet(pk), make_packet(pk)
    t.ct.py_in(a, 0, 0)
    t.ct.py_in(b, 0, 0)
    t.ct.py_nat(b, 0, nat_range("198.18.5.2"))
    assert t.ct.py_confirm(a, 0) == 1
    assert t.ct.py_confirm(b, 0) == 1
    assert b.view()["ct"] == a.view()["ct"] and t.stats()["clashres"] == 1
