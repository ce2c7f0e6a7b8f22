"""Receive-buffer admission (sheet 5.6, 10.1): tcp_try_rmem_schedule ->
tcp_prune_queue -> TCPRcvQDrop / PROTO_MEM with a non-empty queue, forced
acceptance on an empty one; the NOMEM zero window (tcp_select_window)."""
import dataclasses

from pystack import profile as P
from pystack.appmodel import AppModel, parse_accept, parse_read
from pystack.config import Listener
from pystack.replay import Replay
from tests.pktbuild import host
from tests.tcp.conn import Conn, rel_ack

V_DELIVERED, V_DROPPED = 1, 2
R_NONE, R_ACK = 0, 4
PROTO_MEM = 20


def _host(read="never", prof=None):
    L = Listener("0.0.0.0", 80, backlog=128, rcvbuf=4096,
                 app=AppModel(accept=parse_accept("immediate"), read=parse_read(read)))
    h = host([L])
    if prof is not None:
        h.set_profile(prof)
    return h


def test_rcvq_drop_proto_mem():
    """100-byte segments, truesize 676 each, sk_rcvbuf 8192: the 13th
    segment finds rmem_alloc 8112 <= 8192 (6.18.y: rmem_alloc <= rcvbuf)
    and is admitted, the 14th finds 8788 -> prune fails -> dropped."""
    c = Conn()
    rows = [c.data(100 * j, 100, dt=10000) for j in range(15)]
    res = c.run(_host())
    p = res.packets
    assert p["verdict"][rows[:13]].tolist() == [V_DELIVERED] * 13
    drop = rows[13]
    assert p["verdict"][drop] == V_DROPPED and p["reason"][drop] == PROTO_MEM
    # ICSK_ACK_NOMEM | ICSK_ACK_NOW: immediate ACK advertising 0
    assert p["reply"][drop] == R_ACK and p["reply_win"][drop] == 0
    assert rel_ack(c, res, drop) == 1300
    assert p["reason"][rows[14]] == 42             # beyond the (now zero) window
    cn = res.counters
    assert cn["TcpExtTCPRcvQDrop"] == 1
    assert cn["TcpExtPruneCalled"] == 1 and cn["TcpExtRcvPruned"] == 1
    assert cn["TcpExtOfoPruned"] == 0
    # the NOMEM path of tcp_select_window counts no ZeroWindow transition
    assert cn["TcpExtTCPToZeroWindowAdv"] == 0
    (conn,) = res.connections
    assert conn["drops_by_reason"] == {"PROTO_MEM": 1, "TCP_INVALID_SEQUENCE": 1}
    assert conn["max_rcv_queue"] == 1300


def test_empty_queue_force_accept_617_truesize_variant():
    """6.17 tcp_can_ingest (rmem_alloc + truesize <= rcvbuf) with a truesize
    bigger than the buffer: the first segment fails admission but the queue
    is empty -> sk_forced_mem_schedule, queued; the next one is dropped."""
    prof = dataclasses.replace(P.get_profile("6.18"), tcp_can_ingest=P.CAN_INGEST_TRUESIZE)
    c = Conn()
    a = c.data(0, 1448)
    b = c.data(1448, 100)
    res = Replay(_host(prof=prof), checksum="verify", truesize=(256 * 8, 0)).run_packets(
        c.pk, c.ts)
    p = res.packets
    assert p["verdict"][a] == V_DELIVERED
    assert p["reply"][a] == R_ACK and p["reply_win"][a] == 0 and rel_ack(c, res, a) == 1448
    assert p["reason"][b] == 43                    # window 0, queue not empty
    cn = res.counters
    assert cn["TcpExtPruneCalled"] == 1 and cn["TcpExtRcvPruned"] == 1
    assert cn["TcpExtTCPRcvQDrop"] == 0


def test_unlocked_rcvbuf_grows_in_clamp_window():
    """Without SO_RCVBUF tcp_clamp_window raises sk_rcvbuf to rmem_alloc
    (below tcp_rmem[2]): admission then succeeds, PruneCalled only."""
    c = Conn()
    rows = [c.data(1000 * j, 1000, dt=10000) for j in range(60)]
    res = Replay(host([Listener("0.0.0.0", 80, backlog=128,
                                app=AppModel(read=parse_read("never")))]),
                 checksum="verify", truesize=(256 * 3, 0)).run_packets(c.pk, c.ts)
    p = res.packets
    cn = res.counters
    assert cn["TcpExtTCPRcvQDrop"] == 0 and cn["TcpExtRcvPruned"] == 0
    assert cn["TcpExtPruneCalled"] >= 1
    assert (p["reason"][rows] != PROTO_MEM).all()
