"""UDP receive (__udp4_lib_rcv / __udp6_lib_rcv) and the ICMP it triggers."""
import pytest

from tests.pktbuild import (HOST4, HOST6, S, eth, host, icmp_echo4, ipv4, listener, replay,
                            udp, udp4, udp6)

NO_SOCKET, UDP_CSUM, PKT_TOO_SMALL, ICMP_CSUM = 3, 11, 9, 85
R_UNREACH, R_ECHO = 5, 6


def udp_sock(addr="0.0.0.0", port=53, **kw):
    return listener(addr, port, proto="udp", **kw)


def test_bound_socket_delivers_and_closed_port_is_noports():
    h = host([udp_sock()])
    pk = [udp4("10.0.0.2", HOST4, 5000, 53, b"q"), udp4("10.0.0.2", HOST4, 5000, 54, b"q")]
    r = replay(h, pk)
    p = r.packets
    assert p["verdict"].tolist() == [1, 2] and p["reason"].tolist() == [0, NO_SOCKET]
    assert p["reply"].tolist() == [0, R_UNREACH]
    c = r.counters
    assert c["UdpNoPorts"] == 1 and c["IcmpOutMsgs"] == 1 and c["IcmpOutDestUnreachs"] == 1
    # UdpInDatagrams is counted at recvmsg: the default reader (as-arrives)
    # reads the datagram at once (tests/udp/test_udp_rcvbuf.py: other readers)
    assert c["IpInDelivers"] == 2 and c["UdpInDatagrams"] == 1


def test_udp_checksum_and_length_errors():
    h = host([udp_sock()])
    short = eth(ipv4("10.0.0.2", HOST4, udp(5000, 53, b"abcd", ulen=40)))
    pk = [udp4("10.0.0.2", HOST4, 5000, 53, b"q", bad_csum=True),
          udp4("10.0.0.2", HOST4, 5000, 99, b"q", bad_csum=True), short]
    r = replay(h, pk)
    assert r.packets["reason"].tolist() == [UDP_CSUM, UDP_CSUM, PKT_TOO_SMALL]
    c = r.counters
    assert c["UdpInCsumErrors"] == 2 and c["UdpInErrors"] == 3 and c["UdpNoPorts"] == 0
    assert c["IcmpOutMsgs"] == 0


def test_udp6_noports_counts_udp6_and_answers_with_icmpv6():
    h = host([udp_sock("::")])
    r = replay(h, [udp6("2001:db8::9", HOST6, 1, 53), udp6("2001:db8::9", HOST6, 1, 9)])
    assert r.packets["verdict"].tolist() == [1, 2]
    assert r.packets["reply"].tolist() == [0, R_UNREACH]
    assert r.counters["Udp6NoPorts"] == 1 and r.counters["UdpNoPorts"] == 0
    # the reply is ICMPv6 (tests/udp/test_icmpv6_unreach.py), not ICMP
    assert r.counters["IcmpOutMsgs"] == 0 and r.counters["Icmp6OutMsgs"] == 1


def test_port_unreachable_per_host_rate_limit():
    """inet_peer_xrlim_allow: burst of 6 (XRLIM_BURST_FACTOR x icmp_ratelimit)
    per destination, then one per icmp_ratelimit (1 s)."""
    h = host([])
    pk = [udp4("10.0.0.2", HOST4, 5000, 9) for _ in range(10)]
    ts = [k * 1000 for k in range(9)] + [S + 9000]
    r = replay(h, pk, ts)
    assert r.packets["reply"].tolist() == [R_UNREACH] * 6 + [0] * 3 + [R_UNREACH]
    c = r.counters
    assert c["UdpNoPorts"] == 10
    assert c["IcmpOutRateLimitHost"] == 3 and c["IcmpOutDestUnreachs"] == 7
    # another source has its own bucket
    r2 = replay(h, pk[:7] + [udp4("10.0.0.3", HOST4, 5000, 9)])
    assert r2.packets["reply"].tolist()[6:] == [0, R_UNREACH]


def test_port_unreachable_global_rate_limit():
    """icmp_global_allow: icmp_msgs_burst credits, each message consumes a
    random 0-2 (seeded): with many sources the global bucket runs dry."""
    h = host([], icmp_msgs_burst=10)
    pk = [udp4(f"10.1.{k // 250}.{k % 250 + 1}", HOST4, 5000, 9) for k in range(200)]
    r = replay(h, pk)
    c = r.counters
    sent = c["IcmpOutDestUnreachs"]
    assert c["IcmpOutRateLimitGlobal"] == 200 - sent
    assert 3 <= sent <= 40
    assert c["IcmpOutRateLimitHost"] == 0
    again = replay(h, pk)
    assert again.counters == c


def test_icmp_echo():
    h = host([])
    r = replay(h, [icmp_echo4("10.0.0.2", HOST4), icmp_echo4("10.0.0.2", HOST4, bad_csum=True),
                   icmp_echo4("10.0.0.2", HOST4, type=0)])
    p = r.packets
    assert p["reply"].tolist() == [R_ECHO, 0, 0]
    assert p["reason"].tolist() == [0, ICMP_CSUM, 0]
    c = r.counters
    assert c["IcmpInMsgs"] == 3 and c["IcmpInEchos"] == 1 and c["IcmpInCsumErrors"] == 1
    assert c["IcmpInErrors"] == 1 and c["IcmpOutEchoReps"] == 1 and c["IcmpOutMsgs"] == 1
    r2 = replay(host([], icmp_echo_ignore_all=1), [icmp_echo4("10.0.0.2", HOST4)])
    assert r2.packets["reply"].tolist() == [0] and r2.counters["IcmpOutMsgs"] == 0
