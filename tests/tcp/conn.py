"""Helpers for established-connection tests: one client, the captured host
side (its SYN-ACK, ACKs, FINs, RSTs) and a timeline of frames."""
from tests.pktbuild import ACK, FIN, RST, SYN, Client, S, host, replay, tcp4, tcp6

MS = 1_000_000
HISN = 5000


class Conn:
    """A handshake at t=0 (SYN, captured host SYN-ACK, ACK), then segments
    appended with `at` / `data` / `host_*`.  Sequence numbers are relative:
    client byte k is c.isn + 1 + k, host byte k is HISN + 1 + k."""

    def __init__(self, n=1, v6=False, port=80, ts=True, t0=0, isn=None):
        self.c = Client(n, port=port, v6=v6, isn=isn)
        self.v6 = v6
        self.pk, self.ts = [], []
        self.t = t0
        self.add(self.c.syn(ts=ts))
        self.add(self.c.host_synack(HISN), 1000)
        self.add(self.c.ack(HISN), 1000)

    def add(self, frame, dt=0):
        self.t += dt
        self.pk.append(frame)
        self.ts.append(self.t)
        return len(self.pk) - 1

    def seq(self, k):
        return self.c.isn + 1 + k

    def data(self, k, n, dt=1000, flags=ACK, ack=1):
        """n bytes of client data at relative sequence k; returns the row."""
        return self.add(self.c.seg(flags, seq=self.seq(k), ack=HISN + ack, data=b"x" * n), dt)

    def seg(self, flags, k, dt=1000, ack=1, data=b""):
        return self.add(self.c.seg(flags, seq=self.seq(k), ack=HISN + ack, data=data), dt)

    def host(self, flags, k_ack, win, dt=1000, hseq=1, data=b""):
        """A captured host segment acknowledging client byte k_ack."""
        c = self.c
        f = tcp6 if self.v6 else tcp4
        return self.add(f(c.dst, c.src, c.dport, c.sport, flags, HISN + hseq,
                          self.seq(k_ack), win, b"", data), dt)

    def run(self, h, **kw):
        return replay(h, self.pk, self.ts, **kw)


def rel_ack(conn, r, i):
    """reply_ack of row i relative to the client's first data byte."""
    return (int(r.packets["reply_ack"][i]) - (conn.c.isn + 1)) & 0xffffffff


def merge(conns):
    """Frames and times of several Conn scripts, interleaved by time."""
    pk, ts = [], []
    for c in conns:
        pk += c.pk
        ts += c.ts
    order = sorted(range(len(ts)), key=lambda j: ts[j])
    return [pk[j] for j in order], [ts[j] for j in order]


def three_connections():
    """Connection 1 ends with a FIN exchange, 2 with a client RST, 3 stays open.

    Returns the three Conn scripts and (frames, times) merged by time.
    """
    a = Conn(1)
    a.data(0, 300)
    a.host(ACK, 300, 64, data=b"z" * 1000)
    a.seg(ACK | FIN, 300, ack=1001)
    a.host(ACK | FIN, 301, 64, hseq=1001)
    a.seg(ACK, 301, ack=1002)
    b = Conn(2, t0=10 * MS)
    b.data(0, 50)
    b.seg(RST, 50)
    c = Conn(3, t0=20 * MS)
    c.data(0, 7)
    return (a, b, c), merge([a, b, c])
