"""Replay plumbing: capture files, streaming hook, link types, profiles,
SO_RCVBUF, bounded tables."""
import dpkt
import numpy as np

from pystack.replay import Replay
from tests.pktbuild import ACK, HOST4, Client, S, host, listener, replay


def test_run_on_pcap_file_and_on_batch(tmp_path):
    h = host([listener(backlog=1, accept="never")])
    cl = [Client(i) for i in range(5)]
    path = tmp_path / "c.pcap"
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f, nano=True)
        for j, c in enumerate(cl):
            w.writepkt(c.syn(), ts=1.0 + j)
    seen = []
    res = Replay(h, checksum="auto", batch_size=2).run(
        [str(path)], on_batch=lambda rb, cols, v: seen.append(v.n))
    assert seen == [2, 2, 1]
    assert res.packets["frame"].tolist() == [1, 2, 3, 4, 5]
    assert res.listeners[0]["syn_queue"] == 2
    assert res.counters["TcpExtSyncookiesSent"] == 3
    # capture time: timers fired up to the last packet (5 s), never later
    retx = res.events["ts_ns"][res.events["kind"] == 16]
    # requests at 1 s and 2 s: +1 s and +3 s each; the capture ends at 5 s
    assert retx.tolist() == [2 * S, 3 * S, 4 * S, 5 * S]


def _sll(frame_eth, pkt_type):
    # LINUX_SLL: pkt_type(2) arphrd(2) addrlen(2) addr(8) proto(2) + IP
    return (pkt_type.to_bytes(2, "big") + (1).to_bytes(2, "big") + (6).to_bytes(2, "big")
            + frame_eth[6:12] + b"\0\0" + frame_eth[12:14] + frame_eth[14:])


def test_sll_pkt_types():
    h = host([listener()])
    c = Client(1)
    syn = c.syn()
    r = Replay(h, checksum="verify").run_packets(
        [_sll(syn, 3), _sll(syn, 0), _sll(c.host_synack(5), 4)], linktype=113)
    p = r.packets
    assert p["verdict"].tolist() == [2, 1, 3]
    assert p["reason"][0] == 13                        # OTHERHOST, before any counter
    assert p["direction"].tolist() == [1, 1, 2]
    assert r.counters["IpInReceives"] == 1


def test_profile_612_window_scale_and_rcvbuf_lock():
    h = host([listener()])
    h.set_profile("6.12")
    r = replay(h, [Client(1).syn()])
    assert r.packets["reply_wscale"][0] == 7            # ilog2(6 MiB) - 15
    # SO_RCVBUF 16384 -> sk_rcvbuf 32768, full_space 16384 (locked clamp)
    h2 = host([listener(rcvbuf=16384)])
    r2 = replay(h2, [Client(1).syn(ts=False), Client(2).syn()])
    assert r2.packets["reply_win"].tolist() == [16384 // 1460 * 1460, 16384 // 1448 * 1448]
    assert r2.packets["reply_wscale"].tolist() == [0, 0]


def test_cookie_table_eviction_is_a_divergence():
    h = host([listener()], tcp_syncookies=2)
    cl = [Client(i) for i in range(64)]
    r = Replay(h, checksum="verify", cookie_table=16).run_packets(
        [c.syn() for c in cl] + [c.ack(0) for c in cl])
    d = r.divergences["cookie_evictions"]
    assert d > 0
    c = r.counters
    assert c["TcpExtSyncookiesRecv"] + c["TcpExtSyncookiesFailed"] == 64
    assert c["TcpExtSyncookiesRecv"] <= 16


def test_event_list_is_bounded():
    h = host([listener()])
    pk = [Client(i).syn() for i in range(20)]
    end = Client(999, dst="192.0.2.1").seg(ACK, ack=1)
    r = Replay(h, checksum="verify", event_capacity=8).run_packets(
        pk + [end], list(range(20)) + [100 * S])
    assert r.divergences["events_dropped"] > 0
    assert len(r.events["ts_ns"]) <= 16                  # per batch + finish
    assert r.counters["TcpRetransSegs"] == 100           # counters unaffected


def test_empty_capture():
    r = Replay(host([listener()])).run_packets([])
    assert not r.nonzero() and len(r.packets["verdict"]) == 0


def test_describe_packet_names():
    from pystack.replay import describe_packet
    r = replay(host([listener()]), [Client(1).syn(), Client(2, port=9).syn()])
    d0, d1 = describe_packet(r, 0), describe_packet(r, 1)
    assert (d0["direction"], d0["verdict"], d0["reply"], d0["sock_state"]) == \
        ("IN", "DELIVERED", "SYNACK", "SYN-RECV")
    assert (d1["verdict"], d1["reason"], d1["reply"]) == ("DROPPED", "NO_SOCKET", "RST")


def test_many_host_addresses_hashed():
    """More than 4 host addresses: locality via the address set."""
    from pystack.config import HostConfig
    addrs = [f"203.0.113.{i}" for i in range(200)] + ["2001:db8:5::7"]
    h = HostConfig(addresses=addrs, listeners=[])
    h.listeners.append(listener().__class__("0.0.0.0", 80, backlog=16))
    c1 = Client(1, dst="203.0.113.177")
    c2 = Client(2, dst="203.0.114.1")
    c3 = Client(3, v6=True, dst="2001:db8:5::7")
    res = Replay(h, checksum="verify").run_packets([c1.syn(), c2.syn(), c3.syn()])
    assert res.packets["direction"].tolist() == [1, 0, 1]
    assert res.packets["reply"].tolist() == [1, 0, 3]       # SYN-ACK, -, RST (no v6 listener)
