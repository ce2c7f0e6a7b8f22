"""ip_rcv_core / ip6_rcv_core checks and counters (sheet 1.1, 1.3)."""
import pytest

from tests.pktbuild import (ACK, HOST4, HOST6, SYN, Client, eth, host, ipv4, ipv6, listener,
                            replay, tcp, tcp4)

IP_INHDR, IP_CSUM, PKT_TOO_SMALL, IP_NOPROTO, UNHANDLED_PROTO = 15, 14, 9, 19, 74
PEER = "10.9.9.9"


def seg():
    return tcp(40000, 80, SYN, 1)


def v4(**kw):
    return eth(ipv4(PEER, HOST4, seg(), **kw))


def run(frames, **kw):
    return replay(host([listener("::")]), frames, **kw)   # dual-stack


def test_good_packet_counters():
    f = v4(tos=0)
    r = run([f, v4(tos=1), v4(tos=2), v4(tos=3)])
    c = r.counters
    assert c["IpInReceives"] == 4
    assert c["IpExtInOctets"] == 4 * (len(f) - 14)       # incl. Ethernet padding
    assert [c["IpExtInNoECTPkts"], c["IpExtInECT1Pkts"], c["IpExtInECT0Pkts"],
            c["IpExtInCEPkts"]] == [1, 1, 1, 1]
    assert c["IpInDelivers"] == 4 and c["TcpInSegs"] == 4


def test_bad_version_and_ihl_are_inhdr_without_ecn():
    r = run([v4(version=5), v4(ihl=4)])
    c = r.counters
    assert r.packets["reason"].tolist() == [IP_INHDR, IP_INHDR]
    assert r.packets["direction"].tolist() == [1, 1]
    assert c["IpInReceives"] == 2 and c["IpInHdrErrors"] == 2
    assert c["IpExtInNoECTPkts"] == 0 and c["IpInDelivers"] == 0 and c["TcpInSegs"] == 0


def test_short_frame_is_inhdr():
    f = eth(ipv4(PEER, HOST4, seg())[:16], pad=False)
    r = run([f])
    assert r.packets["reason"].tolist() == [IP_INHDR]
    assert r.counters["IpInHdrErrors"] == 1 and r.counters["IpExtInOctets"] == 16


def test_header_checksum():
    r = run([v4(bad_ip_csum=True, tos=2)])
    c = r.counters
    assert r.packets["reason"].tolist() == [IP_CSUM]
    assert c["IpInHdrErrors"] == 1 and c["IpExtInCsumErrors"] == 1
    assert c["IpExtInECT0Pkts"] == 1                      # ECN counted before the checksum
    assert c["IpInDelivers"] == 0


def test_truncated_datagram():
    r = run([v4(tot_len=200)])
    c = r.counters
    assert r.packets["reason"].tolist() == [PKT_TOO_SMALL]
    assert c["IpExtInTruncatedPkts"] == 1 and c["IpInHdrErrors"] == 0
    assert c["IpExtInNoECTPkts"] == 1 and c["TcpInSegs"] == 0


def test_tot_len_below_ihl_is_inhdr():
    r = run([v4(tot_len=12)])
    assert r.packets["reason"].tolist() == [IP_INHDR]
    assert r.counters["IpInHdrErrors"] == 1


def test_doff_below_5_counts_tcp_inerrs():
    f = eth(ipv4(PEER, HOST4, tcp(40000, 80, SYN, 1, off=4)))
    r = run([f])
    c = r.counters
    assert r.packets["reason"].tolist() == [PKT_TOO_SMALL]
    assert c["IpInDelivers"] == 1 and c["TcpInSegs"] == 1 and c["TcpInErrs"] == 1
    assert c["IpExtInTruncatedPkts"] == 0


def test_unknown_protocol():
    f = eth(ipv4(PEER, HOST4, b"\x00" * 8, proto=47))
    r = run([f])
    assert r.packets["reason"].tolist() == [IP_NOPROTO]
    assert r.counters["IpInUnknownProtos"] == 1 and r.counters["IpInDelivers"] == 0


def test_fragments_are_queued_not_reassembled():
    first = eth(ipv4(PEER, HOST4, seg(), frag=0x2000))
    later = eth(ipv4(PEER, HOST4, b"\x00" * 16, proto=6, frag=0x0003))
    r = run([first, later])
    assert r.packets["verdict"].tolist() == [4, 4]
    assert r.counters["IpReasmReqds"] == 2 and r.counters["TcpInSegs"] == 0


def test_non_ip_and_foreign_rows():
    arp = b"\xff" * 6 + b"\x02" * 6 + b"\x08\x06" + b"\x00" * 46
    other = tcp4(PEER, "192.0.2.5", 1, 2, SYN)
    r = run([arp, other])
    assert r.packets["verdict"].tolist() == [0, 0]
    assert not r.nonzero()


def test_ipv6_counters_and_checks():
    good = eth(ipv6("2001:db8:9::9", HOST6, seg()))
    badver = bytearray(good)
    badver[14] = (badver[14] & 0x0f) | 0x50
    trunc = bytearray(good)
    trunc[18:20] = (200).to_bytes(2, "big")
    r = run([good, bytes(badver), bytes(trunc)])
    c = r.counters
    assert r.packets["reason"].tolist() == [0, UNHANDLED_PROTO, PKT_TOO_SMALL]
    assert c["Ip6InReceives"] == 3 and c["Ip6InHdrErrors"] == 1
    assert c["Ip6InTruncatedPkts"] == 1 and c["Ip6InDelivers"] == 1
    assert c["Ip6InOctets"] == 3 * (len(good) - 14)
    assert c["Ip6InNoECTPkts"] == 2                    # not for the bad version
    assert c["IpInReceives"] == 0


def test_outbound_packets_are_sent_not_counted():
    out = tcp4(HOST4, PEER, 80, 40000, SYN | ACK, 5, 2)
    r = run([out])
    assert r.packets["direction"].tolist() == [2] and r.packets["verdict"].tolist() == [3]
    assert not r.nonzero()


def test_ipv6_ecn_counters():
    from tests.pktbuild import tcp6
    frames = [eth(ipv6("2001:db8:9::9", HOST6, seg(), tc=t)) for t in (0, 1, 2, 3)]
    c = run(frames).counters
    assert [c["Ip6InNoECTPkts"], c["Ip6InECT1Pkts"], c["Ip6InECT0Pkts"],
            c["Ip6InCEPkts"]] == [1, 1, 1, 1]


def test_ipv6_fragment_and_unknown_next_header():
    import struct
    import ipaddress
    s = ipaddress.IPv6Address("2001:db8:9::9").packed
    d = ipaddress.IPv6Address(HOST6).packed
    frag_hdr = struct.pack("!BBHI", 6, 0, 0x0001, 77)           # first fragment, MF
    body = frag_hdr + bytes(seg())
    frag = eth(struct.pack("!IHBB16s16s", 6 << 28, len(body), 44, 64, s, d) + body)
    gre = eth(struct.pack("!IHBB16s16s", 6 << 28, 8, 47, 64, s, d) + b"\0" * 8)
    r = run([frag, gre])
    assert r.packets["verdict"].tolist() == [4, 2]
    assert r.packets["reason"].tolist() == [0, IP_NOPROTO]
    c = r.counters
    assert c["Ip6ReasmReqds"] == 1 and c["Ip6InUnknownProtos"] == 1
    assert c["Ip6InDelivers"] == 0 and c["TcpInSegs"] == 0
