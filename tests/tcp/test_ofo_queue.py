"""Out-of-order queue (sheet 5.6; tcp_input.c tcp_data_queue_ofo,
tcp_ofo_queue, tcp_prune_ofo_queue, __tcp_ack_snd_check)."""
from pystack.appmodel import AppModel, parse_accept, parse_read
from pystack.config import Listener
from pystack.replay import Replay
from tests.pktbuild import host, listener
from tests.tcp.conn import Conn, rel_ack

V_DELIVERED, V_DROPPED = 1, 2
R_NONE, R_ACK = 0, 4
TCP_OFOMERGE, PROTO_MEM = 35, 20


def test_ofo_insert_merge_cover_and_drain():
    c = Conn()
    a = c.data(1448, 1448)          # hole [0, 1448)
    dup = c.data(1448, 1448)        # all bits present: TCPOFOMerge, dropped
    b = c.data(4344, 100)
    cover = c.data(2896, 2896)      # covers b: b removed (TCPOFOMerge)
    fill = c.data(0, 1448)          # hole filled: queue drained, ICSK_ACK_NOW
    res = c.run(host([listener()]))
    p = res.packets
    assert p["verdict"][[a, b, cover, fill]].tolist() == [V_DELIVERED] * 4
    assert p["verdict"][dup] == V_DROPPED and p["reason"][dup] == TCP_OFOMERGE
    # SACK peer: the first TCP_FASTRETRANS_THRESH (3) dupacks for one
    # rcv_nxt go out at once, then the ACK is compressed (not modelled)
    assert p["reply"][[a, dup, b, cover]].tolist() == [R_ACK, R_ACK, R_ACK, R_NONE]
    assert [rel_ack(c, res, i) for i in (a, dup, b)] == [0, 0, 0]
    assert p["reply"][fill] == R_ACK and rel_ack(c, res, fill) == 5792
    cn = res.counters
    assert cn["TcpExtTCPOFOQueue"] == 4          # counted before the overlap checks
    assert cn["TcpExtTCPOFOMerge"] == 2
    assert cn["TcpExtTCPOFODrop"] == 0
    (conn,) = res.connections
    assert conn["max_rcv_queue"] == 5792
    assert conn["drops_by_reason"] == {"TCP_OFOMERGE": 1}


def _big_truesize_host():
    L = Listener("0.0.0.0", 80, backlog=128, rcvbuf=32768,
                 app=AppModel(accept=parse_accept("immediate"), read=parse_read("never")))
    return host([L])


def test_ofo_drop_when_prune_cannot_help():
    """sk_rcvbuf 65536, truesize 16 x len: three OFO skbs (69504 bytes) put
    rmem_alloc over the buffer; a fourth landing after them cannot be helped
    by pruning (tcp_prune_ofo_queue stops at skbs before it) ->
    TCPOFODrop, PROTO_MEM."""
    c = Conn()
    rows = [c.data(1448 * k, 1448) for k in (2, 3, 4, 5)]
    res = Replay(_big_truesize_host(), checksum="verify", truesize=(256 * 16, 0)) \
        .run_packets(c.pk, c.ts)
    p = res.packets
    assert p["verdict"][rows[:3]].tolist() == [V_DELIVERED] * 3
    assert p["reason"][rows[3]] == PROTO_MEM
    cn = res.counters
    assert cn["TcpExtTCPOFODrop"] == 1 and cn["TcpExtTCPOFOQueue"] == 3
    assert cn["TcpExtPruneCalled"] == 1 and cn["TcpExtRcvPruned"] == 1
    assert cn["TcpExtOfoPruned"] == 0


def test_ofo_prune_from_the_right():
    """The same buffer; the fourth skb lands before the queued ones: the
    right-most skb is pruned (OfoPruned) and the new one is queued."""
    c = Conn()
    rows = [c.data(1448 * k, 1448) for k in (2, 3, 4, 1)]
    res = Replay(_big_truesize_host(), checksum="verify", truesize=(256 * 16, 0)) \
        .run_packets(c.pk, c.ts)
    p = res.packets
    assert p["verdict"][rows].tolist() == [V_DELIVERED] * 4
    cn = res.counters
    assert cn["TcpExtPruneCalled"] == 1 and cn["TcpExtOfoPruned"] == 1
    assert cn["TcpExtRcvPruned"] == 0 and cn["TcpExtTCPOFODrop"] == 0
    assert cn["TcpExtTCPOFOQueue"] == 4


def test_fin_out_of_order_processed_when_hole_fills():
    c = Conn()
    fin = c.seg(0x11, 1000, data=b"z" * 500)      # ACK|FIN beyond a hole
    fill = c.data(0, 1000)
    res = c.run(host([listener()]))
    p = res.packets
    assert p["sock_state"][fin] == 1               # still ESTABLISHED (queued OFO)
    assert p["sock_state"][fill] == 8              # CLOSE_WAIT: tcp_fin via tcp_ofo_queue
    assert p["reply"][fill] == R_ACK and rel_ack(c, res, fill) == 1501
    (conn,) = res.connections
    assert conn["max_rcv_queue"] == 1500
