"""Shared helpers for the conntrack tests: a client/server TCP conversation
driven through ConntrackTable.packet with exact sequence numbers."""

from pystack.conntrack import make_conntrack

NS = 1_000_000_000
C, S = "198.18.0.1", "198.18.0.2"
CP, SP = 40000, 80


def table(**kw):
    kw.setdefault("max", 1024)
    kw.setdefault("buckets", 256)
    return make_conntrack(seed=kw.pop("seed", 1), **kw)


def tcp(t, d, flags, seq, ack=0, now=0, **kw):
    """One TCP packet: d 'C' (client -> server, arrives at PREROUTING) or
    'S' (server's reply, sent at OUTPUT)."""
    if d == "C":
        pkt = dict(src=C, dst=S, sport=CP, dport=SP)
        hook = "PREROUTING"
    else:
        pkt = dict(src=S, dst=C, sport=SP, dport=CP)
        hook = "OUTPUT"
    pkt.update(proto="tcp", flags=flags, seq=seq, ack=ack, **kw)
    return t.packet(pkt, hook, now)


def state_of(t, now=0):
    """The TCP state of the only entry, or None when the table is empty."""
    e = t.entries(now)
    assert len(e["state"]) <= 1
    return e["state"][0] if e["state"] else None


# (direction, flags, seq, ack) steps from a fresh table to each state
HANDSHAKE = [("C", "S", 1000, 0), ("S", "SA", 5000, 1001), ("C", "A", 1001, 5001)]
PATHS = {
    "SYN_SENT": HANDSHAKE[:1],
    "SYN_RECV": HANDSHAKE[:2],
    "ESTABLISHED": HANDSHAKE,
    "FIN_WAIT": HANDSHAKE + [("C", "FA", 1001, 5001)],
    "CLOSE_WAIT": HANDSHAKE + [("C", "FA", 1001, 5001), ("S", "A", 5001, 1002)],
    "LAST_ACK": HANDSHAKE + [("C", "FA", 1001, 5001), ("S", "A", 5001, 1002),
                             ("S", "FA", 5001, 1002)],
    "TIME_WAIT": HANDSHAKE + [("C", "FA", 1001, 5001), ("S", "A", 5001, 1002),
                              ("S", "FA", 5001, 1002), ("C", "A", 1002, 5002)],
    "CLOSE": HANDSHAKE + [("C", "RA", 1001, 5001)],
    "SYN_SENT2": HANDSHAKE[:1] + [("S", "S", 5000, 0)],
}


def drive(t, state, now=0):
    for d, fl, seq, ack in PATHS[state]:
        r = tcp(t, d, fl, seq, ack, now=now)
        assert r["verdict"] == "ACCEPT" and r["ctstate"] != ["INVALID"], (state, d, fl, r)
    assert state_of(t, now) == state
