"""Receive-queue skb coalescing: tcp_input.c tcp_try_coalesce (tcp_queue_rcv,
tcp_ofo_queue, tcp_data_queue_ofo) over net/core/skbuff.c skb_try_coalesce,
and what it does to rmem_alloc (TcpExtTCPRcvCoalesce).

truesize = len + 832 (the veth skbs of the kernel recordings).  skb_try_coalesce
charges delta = from->truesize - SKB_TRUESIZE(skb_end_offset(from)) = len when
the payload sits in frags ("frags", "veth"), from->truesize -
SKB_DATA_ALIGN(sizeof(struct sk_buff)) = len + 576 when the page-frag head is
stolen ("head"), and 0 for a zero-length skb (tailroom).  "none" keeps one skb
per segment.  The reader never reads: rmem_alloc is what the queue holds.
"""
import pytest

from pystack.appmodel import AppModel, parse_accept, parse_read
from pystack.config import ConfigError, Listener, parse_host_config
from pystack.replay import Replay
from tests.pktbuild import ACK, FIN, PSH, host
from tests.tcp.conn import HISN, MS, Conn

US = 1000
SEG = 1448
TS = SEG + 832           # truesize of one segment's skb


def _run(c, mode, upto=None):
    L = Listener("0.0.0.0", 80, backlog=128,
                 app=AppModel(accept=parse_accept("immediate"), read=parse_read("never")))
    h = host([L])
    r = Replay(h, checksum="verify", truesize=(256, 832), coalesce=mode)
    n = len(c.pk) if upto is None else upto + 1
    res = r.run_packets(c.pk[:n], c.ts[:n])
    st = r.engine.rcv_state(int(res.packets["conn_id"][n - 1]))
    return st["rmem_alloc"], res.counters["TcpExtTCPRcvCoalesce"], res


def _in_order(n, dt=MS, flags=ACK):
    c = Conn()
    for j in range(n):
        c.data(j * SEG, SEG, dt=dt, flags=flags)
    return c


@pytest.mark.parametrize("mode,rmem,merged", [
    ("none", 3 * TS, 0),                     # every segment its own skb
    ("frags", TS + 2 * SEG, 2),              # head freed: + len per segment
    ("head", TS + 2 * (TS - 256), 2),        # head stolen: + truesize - 256
    ("veth", TS + 2 * SEG, 2),               # tail ACKed 1 ms before: not cloned
])
def test_in_order_segments(mode, rmem, merged):
    rmem_alloc, coalesced, res = _run(_in_order(3), mode)
    assert (rmem_alloc, coalesced) == (rmem, merged)
    assert res.counters["TcpExtTCPOFOQueue"] == 0


def test_default_is_one_skb_per_segment():
    """Replay without coalesce= and a host without skb_coalesce: the fixed
    model, whatever the driver would have done."""
    c = _in_order(3)
    L = Listener("0.0.0.0", 80, backlog=128,
                 app=AppModel(accept=parse_accept("immediate"), read=parse_read("never")))
    r = Replay(host([L]), checksum="verify", truesize=(256, 832))
    res = r.run_packets(c.pk, c.ts)
    assert r.engine.rcv_state(int(res.packets["conn_id"][-1]))["rmem_alloc"] == 3 * TS
    assert res.counters["TcpExtTCPRcvCoalesce"] == 0


def test_veth_clone_until_the_sender_has_the_ack():
    """veth: a single-segment skb is the sender's clone (skb_cloned) until the
    sender frees its original on the host's ACK (VETH_CLONE_FREE_NS = 100 us
    after it).  The first segment is quick-ACKed on arrival; the second, 20 us
    later, finds the tail still cloned; the third, 1 ms after the second's ACK,
    merges."""
    c = Conn()
    d1 = c.data(0, SEG, dt=MS, flags=ACK | PSH)
    d2 = c.data(SEG, SEG, dt=20 * US, flags=ACK | PSH)
    d3 = c.data(2 * SEG, SEG, dt=MS, flags=ACK | PSH)
    _, _, res = _run(c, "veth")
    assert res.packets["reply"][[d1, d2]].tolist() == [4, 4]     # quick ACKs
    assert _run(c, "veth", upto=d2)[:2] == (2 * TS, 0)
    assert _run(c, "veth", upto=d3)[:2] == (2 * TS + SEG, 1)


@pytest.mark.parametrize("flags1,gap,rmem,merged", [
    (ACK, 3 * US, TS + SEG, 1),              # one GSO skb split in software
    (ACK, 20 * US, 2 * TS, 0),               # two skbs, the first still cloned
    (ACK | PSH, 3 * US, 2 * TS, 0),          # PSH: the end of a GSO skb
])
def test_veth_gso_segments_are_private(flags1, gap, rmem, merged):
    """The two segments of one software-GSO skb (validate_xmit_skb ->
    skb_segment) are private skbs: the second merges into the first although
    the first is neither ACKed long enough ago nor old (VETH_GSO_GAP_NS 10 us;
    tcp_gso_segment leaves PSH on the last segment only)."""
    c = Conn()
    c.data(0, SEG, dt=MS, flags=flags1)
    c.data(SEG, SEG, dt=gap, flags=ACK | PSH)
    assert _run(c, "veth")[:2] == (rmem, merged)


def test_ofo_queue_moves_into_the_tail():
    """tcp_ofo_queue: the skb the hole's filler makes in-order is coalesced
    into the receive-queue tail; it was charged in full when queued out of
    order, so rmem_alloc drops by its head (832)."""
    c = Conn()
    c.data(SEG, SEG, dt=MS)                  # out of order
    c.data(0, SEG, dt=MS)                    # fills the hole
    rmem_alloc, coalesced, res = _run(c, "frags")
    assert (rmem_alloc, coalesced) == (TS + SEG, 1)
    assert res.counters["TcpExtTCPOFOQueue"] == 1


def test_ofo_tail_coalesce():
    """tcp_data_queue_ofo: a segment continuing the last OFO skb is coalesced
    into it (tcp_ooo_try_coalesce, counted TCPRcvCoalesce), still counted
    TCPOFOQueue; the filled hole then moves the merged skb into the tail."""
    c = Conn()
    o1 = c.data(SEG, SEG, dt=MS)
    o2 = c.data(2 * SEG, SEG, dt=MS)
    c.data(0, SEG, dt=MS)
    assert _run(c, "frags", upto=o1)[:2] == (TS, 0)
    assert _run(c, "frags", upto=o2)[:2] == (TS + SEG, 1)
    rmem_alloc, coalesced, res = _run(c, "frags")
    assert (rmem_alloc, coalesced) == (TS + 2 * SEG, 2)
    assert res.counters["TcpExtTCPOFOQueue"] == 2


def test_veth_ofo_skbs_stay_cloned():
    """Out-of-order data is never cumulatively ACKed, so on veth the sender
    keeps its originals and neither the OFO tail nor the moved skb merge."""
    c = Conn()
    c.data(SEG, SEG, dt=MS)
    c.data(2 * SEG, SEG, dt=MS)
    c.data(0, SEG, dt=MS, flags=ACK | PSH)
    assert _run(c, "veth")[:2] == (3 * TS, 0)


def test_fin_only_segment_is_absorbed():
    """A FIN without data (len 0 <= skb_tailroom(to)) coalesces for nothing."""
    c = Conn()
    c.data(0, SEG, dt=MS)
    c.seg(FIN | ACK, SEG, dt=MS)
    rmem_alloc, coalesced, res = _run(c, "frags")
    assert (rmem_alloc, coalesced) == (TS, 1)
    assert res.packets["sock_state"][-1] == 8                    # CLOSE_WAIT
    assert _run(c, "none")[:2] == (TS + 832, 0)


@pytest.mark.parametrize("mode,delta", [("frags", SEG), ("head", TS - 256)])
def test_max_skb_frags(mode, delta):
    """MAX_SKB_FRAGS 17: 16 segments join the first skb (frags: it starts with
    one frag and may reach 17; head: none, and nr_frags + 1 must stay below
    17), the 18th opens a second skb, the 19th joins it."""
    rmem_alloc, coalesced, _ = _run(_in_order(19, dt=100 * US), mode)
    assert coalesced == 17
    assert rmem_alloc == 2 * TS + 17 * delta


def test_host_config_key():
    text = '[host]\naddresses = ["192.0.2.1"]\nskb_truesize_overhead = 832\n' \
           'skb_coalesce = "veth"\n'
    h = parse_host_config(text)
    assert h.skb_coalesce == "veth"
    assert h.to_dict()["host"]["skb_coalesce"] == "veth"
    assert parse_host_config(h.to_toml()).skb_coalesce == "veth"
    with pytest.raises(ConfigError, match="skb_coalesce.*'gro'"):
        parse_host_config('[host]\naddresses = ["192.0.2.1"]\nskb_coalesce = "gro"\n')
    with pytest.raises(ValueError, match="coalesce 'gro'"):
        Replay(h, coalesce="gro")
