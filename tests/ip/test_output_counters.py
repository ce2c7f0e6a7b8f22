"""Transmit-side accounting (sheet 1.6; ip_output.c __ip_local_out /
ip_finish_output2, ip6_output.c): every packet the host sends counts
IpOutRequests, IpOutTransmits and IpExtOutOctets (its IP length) exactly once
-- the model's own replies where the model builds them (lengths as Linux
builds them), the captured host packets the model does not generate where
they are seen."""
import pytest

from pystack.replay import Replay
from tests.pktbuild import (ACK, FIN, HOST4, PSH, RST, SYN, S, Client, eth, host,
                            icmp_echo4, ipv4, linux_syn_opts, listener, replay, tcp4,
                            tcp_opts, udp, udp4)
from tests.tcp.conn import HISN, Conn

R_NONE, R_SYNACK, R_SYNACK_COOKIE, R_RST, R_ACK = 0, 1, 2, 3, 4


def _out(cn, v6=False):
    if v6:
        return cn["Ip6OutRequests"], cn["Ip6OutTransmits"], cn["Ip6OutOctets"]
    return cn["IpOutRequests"], cn["IpOutTransmits"], cn["IpExtOutOctets"]


# --- SYN-ACKs: tcp_synack_options ----------------------------------------------

@pytest.mark.parametrize("opts, optlen", [
    (tcp_opts(mss=1460), 4),                                         # MSS only
    (tcp_opts(mss=1460, wscale=7), 8),                               # + wscale
    (tcp_opts(mss=1460, sack_ok=True), 8),                           # SACK_PERM alone: 4
    (tcp_opts(mss=1460, sack_ok=True, wscale=7), 12),
    (tcp_opts(mss=1460, ts=(7, 0)), 16),                             # MSS + TS
    (tcp_opts(mss=1460, ts=(7, 0), sack_ok=True), 16),               # SACK_PERM in TS's NOPs
    (linux_syn_opts(), 20),                                          # MSS, SACK, TS, WS
])
@pytest.mark.parametrize("v6", [False, True])
def test_synack_length_per_options(opts, optlen, v6):
    c = Client(1, v6=v6)
    r = replay(host([listener("::" if v6 else "0.0.0.0")]),
               [c.seg(SYN, seq=c.isn, win=64240, opts=opts)])
    assert r.packets["reply"][0] == R_SYNACK
    cn = r.counters
    ip = 40 if v6 else 20
    assert _out(cn, v6) == (1, 1, ip + 20 + optlen)
    assert _out(cn, not v6) == (0, 0, 0)
    assert cn["TcpOutSegs"] == 1


def test_synack_without_timestamps_sysctl():
    # tcp_timestamps=0: the SYN's TS option is ignored, SACK_PERM needs its own 4 bytes
    r = replay(host([listener()], tcp_timestamps=0), [Client(1).syn()])
    assert _out(r.counters) == (1, 1, 20 + 20 + 12)


def test_cookie_synack_without_timestamps_has_only_mss():
    # tcp_conn_request: want_cookie without a TS option -> tcp_clear_options
    c = Client(1)
    syn = c.seg(SYN, seq=c.isn, win=64240, opts=tcp_opts(mss=1460, sack_ok=True, wscale=7))
    r = replay(host([listener()], tcp_syncookies=2), [syn, Client(2).syn()])
    assert r.packets["reply"].tolist() == [R_SYNACK_COOKIE, R_SYNACK_COOKIE]
    assert _out(r.counters) == (2, 2, 44 + 60)
    assert r.counters["TcpExtSyncookiesSent"] == 2


def test_synack_retransmissions_counted():
    c = Client(1)
    tick = tcp4("10.9.9.9", "10.9.9.8", 1, 2, SYN)       # not the host's: only a clock
    r = replay(host([listener()]), [c.syn(), tick], [0, 3 * S + 1])
    # reqsk_timer_handler at 1 s and 3 s: two retransmitted SYN-ACKs
    assert r.counters["TcpRetransSegs"] == 2 and r.counters["TcpOutSegs"] == 3
    assert _out(r.counters) == (3, 3, 3 * 60)


def test_captured_host_synack_not_counted_again():
    c = Client(1)
    r = replay(host([listener()]), [c.syn(), c.host_synack(HISN)], [0, 1000])
    assert r.packets["direction"][1] == 2
    assert _out(r.counters) == (1, 1, 60)
    assert r.counters["TcpOutSegs"] == 1


# --- RSTs and ICMP ---------------------------------------------------------------

@pytest.mark.parametrize("v6", [False, True])
def test_rst_to_closed_port_is_a_bare_header(v6):
    c = Client(1, port=81, v6=v6)
    pk = [c.syn(), c.seg(ACK, seq=5, ack=9), c.seg(ACK | PSH, seq=50, ack=9, data=b"x" * 300),
          c.seg(RST, seq=1)]                           # a RST is never answered
    r = replay(host([listener(port=80)]), pk)
    assert r.packets["reply"].tolist() == [R_RST, R_RST, R_RST, R_NONE]
    # tcp_v4_send_reset / tcp_v6_send_response: no options (tsecr 0), no payload
    assert _out(r.counters, v6) == (3, 3, 3 * ((40 if v6 else 20) + 20))
    assert r.counters["TcpOutRsts"] == 3


def test_captured_host_rst_without_socket_not_counted_again():
    c = Client(1, port=81)
    host_rst = tcp4(HOST4, c.src, 81, c.sport, RST | ACK, 0, c.isn + 1, 0)
    r = replay(host([listener(port=80)]), [c.syn(), host_rst], [0, 1000])
    assert _out(r.counters) == (1, 1, 40)
    assert r.counters["TcpOutRsts"] == 1 and r.counters["TcpOutSegs"] == 1


@pytest.mark.parametrize("n, length", [(0, 28 + 28), (100, 28 + 128), (520, 28 + 548),
                                       (521, 576), (1400, 576)])
def test_icmp_port_unreachable_quotes_at_most_576(n, length):
    # __icmp_send: room = min(dst_mtu, 576) - 20 - 8 bytes of the offending
    # datagram from its IP header
    r = replay(host([]), [udp4("10.0.0.9", HOST4, 5000, 53, b"q" * n)])
    assert r.counters["IcmpOutDestUnreachs"] == 1
    assert _out(r.counters) == (1, 1, length)


def test_icmp_port_unreachable_quotes_the_udp_length_not_the_padding():
    # __udp4_lib_rcv trims the skb to the UDP length before icmp_send
    dgram = ipv4("10.0.0.9", HOST4, udp(5000, 53, b"q" * 10 + b"\0" * 30, ulen=18))
    r = replay(host([]), [eth(dgram)], checksum="ignore")
    assert r.counters["UdpNoPorts"] == 1
    assert _out(r.counters) == (1, 1, 28 + 20 + 18)


def test_rate_limited_icmp_not_counted():
    # inet_peer_xrlim_allow: a new peer's bucket holds 6 x icmp_ratelimit,
    # so the 7th error within a millisecond is suppressed (and not sent)
    pk = [udp4("10.0.0.9", HOST4, 5000, 53, b"q") for _ in range(7)]
    r = replay(host([]), pk, list(range(0, 7000, 1000)))
    assert r.counters["IcmpOutDestUnreachs"] == 6
    assert r.counters["IcmpOutRateLimitHost"] == 1
    assert _out(r.counters) == (6, 6, 6 * (28 + 29))


@pytest.mark.parametrize("data", [b"", b"ping", b"x" * 1000])
def test_echo_reply_length(data):
    r = replay(host([]), [icmp_echo4("10.0.0.9", HOST4, data=data)])
    assert r.counters["IcmpOutEchoReps"] == 1
    assert _out(r.counters) == (1, 1, 20 + 8 + len(data))


def test_captured_host_echo_reply_not_counted_again():
    req = icmp_echo4("10.0.0.9", HOST4, data=b"ping")
    rep = icmp_echo4(HOST4, "10.0.0.9", data=b"ping", type=0)
    r = replay(host([]), [req, rep], [0, 1000])
    assert _out(r.counters) == (1, 1, 32)
    assert r.counters["IcmpOutMsgs"] == 1


def test_captured_host_icmp_of_another_kind_counted():
    # the model never sends echo requests: observed only (icmp_out_count)
    r = replay(host([]), [icmp_echo4(HOST4, "10.0.0.9", data=b"abcd", type=8)])
    assert _out(r.counters) == (1, 1, 32)
    assert r.counters["IcmpOutMsgs"] == 1 and r.counters["IcmpOutEchoReps"] == 0


# --- the model's ACKs: tcp_established_options ----------------------------------------

@pytest.mark.parametrize("ts, synack, ack", [(True, 60, 52), (False, 52, 40)])
def test_ack_length_with_and_without_timestamps(ts, synack, ack):
    c = Conn(ts=ts)
    d = c.data(0, 100)                      # first data: quickack
    res = c.run(host([listener()]))
    assert res.packets["reply"][d] == R_ACK
    assert _out(res.counters) == (2, 2, synack + ack)


def test_sack_and_dsack_blocks():
    c = Conn()
    a = c.data(1448, 100)          # out of order: 1 SACK block
    b = c.data(0, 100)             # rcv_nxt 100, the hole remains: 1 block
    old = c.data(0, 100)           # old data: D-SACK + 1 block
    again = c.data(1448, 100)      # all bits present: D-SACK + 1 block
    res = c.run(host([listener()]))
    p = res.packets
    assert p["reply"][[a, b, old, again]].tolist() == [R_ACK] * 4
    ts = 12
    one = 20 + 20 + ts + 4 + 8
    two = one + 8
    assert _out(res.counters) == (5, 5, 60 + one + one + two + two)
    assert res.counters["TcpExtDelayedACKLost"] == 1


def test_sack_blocks_capped_with_timestamps():
    c = Conn()
    rows = [c.data(k, 100) for k in (200, 400, 600, 800)]   # 4 disjoint ranges
    fill = c.data(0, 100)          # new rcv_nxt: the dupack goes out
    res = c.run(host([listener()]))
    p = res.packets
    # 3 dupacks for one rcv_nxt, the 4th compressed (not recorded)
    assert p["reply"][rows].tolist() == [R_ACK, R_ACK, R_ACK, R_NONE]
    assert p["reply"][fill] == R_ACK
    base = 20 + 20 + 12 + 4
    # MAX_TCP_OPTION_SPACE 40 - 12 (TS): (28 - 4) / 8 = 3 blocks at most
    assert _out(res.counters) == (5, 5, 60 + base + 8 + base + 16 + base + 24 + base + 24)


def test_sack_blocks_without_timestamps_up_to_four():
    c = Conn(ts=False)
    rows = [c.data(k, 100) for k in (200, 400, 600, 800)]
    fill = c.data(0, 100)
    res = c.run(host([listener()]))
    assert res.packets["reply"][rows].tolist() == [R_ACK, R_ACK, R_ACK, R_NONE]
    assert res.packets["reply"][fill] == R_ACK
    base = 20 + 20 + 4
    assert _out(res.counters) == (5, 5, 52 + base + 8 + base + 16 + base + 24 + base + 32)


def test_no_sack_blocks_without_sack_permitted():
    c = Conn()
    c.pk[0] = c.c.seg(SYN, seq=c.c.isn, win=64240, opts=tcp_opts(mss=1460, ts=(1000, 0),
                                                                   wscale=10))
    a = c.data(1448, 100)
    res = c.run(host([listener()]))
    assert res.packets["reply"][a] == R_ACK
    assert _out(res.counters) == (2, 2, 60 + 52)       # SYN-ACK: MSS, TS, WS


def test_time_wait_ack_carries_timestamps():
    c = Conn()
    c.host(ACK | FIN, 0, 64)                 # captured host FIN: 40 bytes, counted
    c.seg(ACK, 0, ack=2)
    pfin = c.seg(ACK | FIN, 0, ack=2)        # TIME_WAIT: tcp_fin's ACK (52)
    dup = c.seg(ACK | FIN, 0, ack=2, dt=S)   # retransmitted FIN: tcp_v4_timewait_ack (52)
    res = c.run(host([listener()]))
    p = res.packets
    assert p["reply"][[pfin, dup]].tolist() == [R_ACK, R_ACK]
    assert p["sock_state"][dup] == 6
    assert _out(res.counters) == (4, 4, 60 + 40 + 52 + 52)
    assert res.counters["TcpOutSegs"] == 4


# --- captured host segments: counted once -------------------------------------------

def test_host_fin_counted_once_host_ack_not_at_all():
    c = Conn()
    c.data(0, 100)                            # model ACK (52)
    hack = c.host(ACK, 100, 64)               # the real host's ACK: the model's kind
    hfin = c.host(ACK | FIN, 100, 64)         # tcp_send_fin: counted here (40)
    hfin2 = c.host(ACK | FIN, 100, 64)        # its retransmission: RetransSegs only
    res = c.run(host([listener()]))
    assert res.packets["direction"][[hack, hfin, hfin2]].tolist() == [2, 2, 2]
    cn = res.counters
    assert cn["TcpOutSegs"] == 3 and cn["TcpRetransSegs"] == 1
    assert _out(cn) == (4, 4, 60 + 52 + 40 + 40)


def test_host_data_new_and_retransmitted():
    c = Conn()
    c.host(ACK | PSH, 0, 64, data=b"r" * 500)             # new: OutSegs
    c.host(ACK | PSH, 0, 64, data=b"r" * 500)             # same again: RetransSegs
    c.host(ACK | PSH, 0, 64, hseq=501, data=b"s" * 200)   # new
    res = c.run(host([listener()]))
    cn = res.counters
    assert cn["TcpOutSegs"] == 1 + 2 and cn["TcpRetransSegs"] == 1
    assert _out(cn) == (4, 4, 60 + 540 + 540 + 240)


@pytest.mark.parametrize("v6", [False, True])
def test_host_active_reset_counted(v6):
    c = Conn(v6=v6)
    c.data(0, 100)                             # model ACK
    c.host(RST | ACK, 100, 0)                  # close() with unread data
    res = c.run(host([listener("::" if v6 else "0.0.0.0")]))
    assert res.connections[0]["why"] == "RST"
    cn = res.counters
    assert cn["TcpOutRsts"] == 1 and cn["TcpOutSegs"] == 3
    ip = 40 if v6 else 20
    assert _out(cn, v6) == (3, 3, ip + 40 + ip + 32 + ip + 20)
    assert cn["TcpEstabResets"] == 1


def test_host_zero_window_probe_counted():
    c = Conn()
    c.host(ACK | PSH, 0, 64, data=b"r" * 10)                      # snd_nxt = +11
    c.seg(ACK, 0, ack=11)                                          # all acked
    probe = c.host(ACK, 0, 64, hseq=10)                            # seq = snd_una - 1
    res = c.run(host([listener()]))
    assert res.packets["direction"][probe] == 2
    assert res.counters["TcpOutSegs"] == 3
    assert _out(res.counters) == (3, 3, 60 + 50 + 40)


def test_host_segments_of_unknown_connections_counted():
    # an active open the model does not track: SYN, ACK, data all observed only
    peer = "10.0.0.50"
    pk = [tcp4(HOST4, peer, 40000, 443, SYN, 100, 0, 64240, tcp_opts(mss=1460)),
          tcp4(HOST4, peer, 40000, 443, ACK, 101, 7, 502),
          tcp4(HOST4, peer, 40000, 443, ACK | PSH, 101, 7, 502, data=b"g" * 30)]
    r = replay(host([listener(port=80)]), pk, [0, 1000, 2000])
    assert r.counters["TcpOutSegs"] == 3
    assert _out(r.counters) == (3, 3, 44 + 40 + 70)


def test_host_udp_counted():
    pk = [udp4(HOST4, "10.0.0.9", 53, 5000, b"a" * 72)]
    r = replay(host([]), pk)
    assert r.counters["UdpOutDatagrams"] == 1
    assert _out(r.counters) == (1, 1, 100)


def test_host_fragments_one_request_two_transmits():
    u = udp(53, 5000, b"a" * 1600)
    raw = bytes(u)
    f1 = eth(ipv4(HOST4, "10.0.0.9", raw[:1480], proto=17, frag=0x2000, ident=9))
    f2 = eth(ipv4(HOST4, "10.0.0.9", raw[1480:], proto=17, frag=1480 // 8, ident=9))
    r = replay(host([]), [f1, f2], [0, 10], checksum="ignore")
    assert r.counters["UdpOutDatagrams"] == 1
    # ip_fragment: OutRequests before fragmentation, OutTransmits/OutOctets per fragment
    assert _out(r.counters) == (1, 2, 1500 + 20 + len(raw) - 1480)


def _sll(frame_eth, pkt_type):
    return (pkt_type.to_bytes(2, "big") + (1).to_bytes(2, "big") + (6).to_bytes(2, "big")
            + frame_eth[6:12] + b"\0\0" + frame_eth[12:14] + frame_eth[14:])


def test_outgoing_packet_of_another_source_not_counted():
    # PACKET_OUTGOING with a source that is not the host's: a forwarded
    # packet on its egress side (ip_forward counts no OutRequests; forwarding
    # is not modelled), while the host's own outgoing UDP is counted
    fwd = _sll(udp4("10.0.0.9", "10.0.0.10", 53, 5000, b"a" * 72), 4)
    own = _sll(udp4(HOST4, "10.0.0.10", 53, 5000, b"a" * 72), 4)
    r = Replay(host([]), checksum="verify").run_packets([fwd, own], linktype=113)
    assert r.packets["direction"].tolist() == [2, 2]
    assert r.counters["UdpOutDatagrams"] == 1
    assert _out(r.counters) == (1, 1, 100)
