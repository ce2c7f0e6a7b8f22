"""ICMPv6 on the host: icmpv6_rcv (Icmp6In* counters, checksum, short
header) and icmpv6_echo_reply with its rate limits (net/ipv6/icmp.c, 6.18.44):
echo replies are outside net.ipv6.icmp.ratemask by default."""
import dpkt

from tests.pktbuild import HOST6, eth, host, icmp_echo6, ipv6, replay

NOT_SPECIFIED, ICMP_CSUM = 2, 85
V_DELIVERED, V_DROPPED = 1, 2
R_ECHO = 6
MS = 1_000_000
PEER = "2001:db8:1::2"


def test_echo_request_answered_with_counters_and_length():
    r = replay(host([]), [icmp_echo6(PEER, HOST6, data=b"p" * 48)])
    p = r.packets
    assert p["verdict"].tolist() == [V_DELIVERED] and p["reply"].tolist() == [R_ECHO]
    c = r.counters
    assert c["Icmp6InMsgs"] == 1 and c["Icmp6InEchos"] == 1 and c["Icmp6InType128"] == 1
    assert c["Icmp6OutMsgs"] == 1 and c["Icmp6OutEchoReplies"] == 1
    assert c["Icmp6OutType129"] == 1
    assert c["Ip6InDelivers"] == 1 and c["Ip6OutRequests"] == 1
    assert c["Ip6OutTransmits"] == 1
    # IPv6 40 + the whole ICMPv6 message (8-byte header with id/seq + 48)
    assert c["Ip6OutOctets"] == 40 + 8 + 48
    assert c["IcmpInMsgs"] == 0 and c["IcmpOutMsgs"] == 0 and c["IpOutRequests"] == 0


def test_bad_checksum_and_short_message():
    """skb_checksum_validate fails -> Icmp6InCsumErrors + Icmp6InErrors
    (ICMP_CSUM); a 4-byte ICMPv6 message fails pskb_pull(8) -> InErrors."""
    ic = dpkt.icmp6.ICMP6(type=128, code=0, data=b"")
    short = eth(ipv6(PEER, HOST6, ic))
    assert len(bytes(ic)) == 4
    r = replay(host([]), [icmp_echo6(PEER, HOST6, bad_csum=True), short])
    p = r.packets
    assert p["verdict"].tolist() == [V_DROPPED, V_DROPPED]
    assert p["reason"].tolist()[0] == ICMP_CSUM
    assert p["reply"].tolist() == [0, 0]
    c = r.counters
    assert c["Icmp6InMsgs"] == 2 and c["Icmp6InCsumErrors"] == 1 and c["Icmp6InErrors"] == 2
    assert c["Icmp6InEchos"] == 0 and c["Icmp6OutMsgs"] == 0 and c["Ip6InDelivers"] == 2


def test_echo_ignore_all_frees_with_not_specified():
    h = host([], **{"net.ipv6.icmp.echo_ignore_all": 1})
    r = replay(h, [icmp_echo6(PEER, HOST6)])
    p = r.packets
    assert p["verdict"].tolist() == [V_DROPPED]
    assert p["reason"].tolist() == [NOT_SPECIFIED] and p["reply"].tolist() == [0]
    c = r.counters
    assert c["Icmp6InEchos"] == 1 and c["Icmp6OutMsgs"] == 0 and c["Ip6OutRequests"] == 0
    # net.ipv4.icmp_echo_ignore_all does not touch ICMPv6
    r4 = replay(host([], icmp_echo_ignore_all=1), [icmp_echo6(PEER, HOST6)])
    assert r4.packets["reply"].tolist() == [R_ECHO]


def test_echo_replies_not_rate_limited_by_default():
    """ratemask 0-1,3-127: type 129 is outside, so neither the global bucket
    nor the per-host one applies, even with a tiny icmp_msgs_burst."""
    pk = [icmp_echo6(PEER, HOST6, seq=k) for k in range(50)]
    r = replay(host([], icmp_msgs_burst=1), pk, [k * 1000 for k in range(50)])
    assert r.packets["reply"].tolist() == [R_ECHO] * 50
    c = r.counters
    assert c["Icmp6OutEchoReplies"] == 50
    assert c["Icmp6OutRateLimitHost"] == 0 and c["IcmpOutRateLimitGlobal"] == 0


def test_echo_replies_limited_when_129_is_in_ratemask():
    """With 129 in ratemask icmpv6_echo_reply is limited like an error: burst
    6 per peer, then one per ratelimit; a refused request is freed with
    icmpv6_rcv's initial reason NOT_SPECIFIED."""
    h = host([], **{"net.ipv6.icmp.ratemask": "0-1,3-127,129"})
    pk = [icmp_echo6(PEER, HOST6, seq=k) for k in range(10)] + [icmp_echo6(PEER, HOST6)]
    ts = [k * MS for k in range(10)] + [110 * MS]
    r = replay(h, pk, ts)
    p = r.packets
    assert p["reply"].tolist() == [R_ECHO] * 6 + [0] * 4 + [R_ECHO]
    assert p["reason"].tolist() == [0] * 6 + [NOT_SPECIFIED] * 4 + [0]
    assert p["verdict"].tolist() == [V_DELIVERED] * 6 + [V_DROPPED] * 4 + [V_DELIVERED]
    c = r.counters
    assert c["Icmp6OutRateLimitHost"] == 4 and c["Icmp6OutEchoReplies"] == 7
    assert c["Icmp6InEchos"] == 11


def test_echo_reply_and_dest_unreach_received():
    ic = dpkt.icmp6.ICMP6(type=1, code=4, data=b"\0" * 4 + b"\x60" + b"\0" * 47)
    r = replay(host([]), [icmp_echo6(PEER, HOST6, type=129), eth(ipv6(PEER, HOST6, ic))])
    p = r.packets
    assert p["verdict"].tolist() == [V_DELIVERED, V_DELIVERED]
    assert p["reply"].tolist() == [0, 0]
    c = r.counters
    assert c["Icmp6InMsgs"] == 2 and c["Icmp6InEchoReplies"] == 1
    assert c["Icmp6InType129"] == 1 and c["Icmp6InDestUnreachs"] == 1
    assert c["Icmp6InType1"] == 1 and c["Icmp6OutMsgs"] == 0


def test_captured_host_echo_reply_is_the_models_own():
    """The host's echo reply in the capture (OUT) is not counted again; the
    host's own echo request (ping6 from the host) counts Icmp6OutMsgs."""
    req = icmp_echo6(PEER, HOST6, data=b"abcd")
    rep = icmp_echo6(HOST6, PEER, type=129, data=b"abcd")
    ping = icmp_echo6(HOST6, PEER, type=128, ident=7, data=b"abcd")
    r = replay(host([]), [req, rep, ping], [0, 20_000, 40_000])
    c = r.counters
    assert c["Icmp6OutMsgs"] == 2 and c["Icmp6OutEchoReplies"] == 1
    assert c["Ip6OutRequests"] == 2 and c["Ip6OutOctets"] == 2 * (40 + 8 + 4)
