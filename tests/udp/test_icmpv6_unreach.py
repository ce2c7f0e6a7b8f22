"""UDP over IPv6 to a closed port: __udp6_lib_rcv -> icmpv6_send(DEST_UNREACH,
PORT_UNREACH) -> icmp6_send (net/ipv6/icmp.c, 6.18.44), its rate limits
(icmpv6_global_allow, icmpv6_xrlim_allow) and the Icmp6 / Ip6 output counters;
then the kernel's own recording (tests/udp/data/icmp6-host, record.py there)."""
import json
import os

import pytest

from tests.pktbuild import HOST4, HOST6, S, eth, host, ipv6, replay, udp, udp4, udp6

NO_SOCKET, UDP_CSUM = 3, 11
R_UNREACH = 5
MS = 1_000_000
PEER = "2001:db8:1::2"
DATA = os.path.join(os.path.dirname(__file__), "data", "icmp6-host")


def test_port_unreachable_counters_and_length():
    r = replay(host([]), [udp6(PEER, HOST6, 40000, 9999, b"x" * 100)])
    p = r.packets
    assert p["verdict"].tolist() == [2] and p["reason"].tolist() == [NO_SOCKET]
    assert p["reply"].tolist() == [R_UNREACH]
    c = r.counters
    assert c["Udp6NoPorts"] == 1 and c["Ip6InDelivers"] == 1
    assert c["Icmp6OutMsgs"] == 1 and c["Icmp6OutDestUnreachs"] == 1
    assert c["Icmp6OutType1"] == 1
    # IPv6 40 + ICMPv6 8 + the quoted packet (40 + 8 + 100)
    assert c["Ip6OutRequests"] == 1 and c["Ip6OutTransmits"] == 1
    assert c["Ip6OutOctets"] == 196
    assert c["IcmpOutMsgs"] == 0 and c["UdpNoPorts"] == 0 and c["IpOutRequests"] == 0


def test_quote_is_cut_at_the_ipv6_minimum_mtu():
    """len = min(skb->len - network offset, IPV6_MIN_MTU - 40 - 8): a
    1400-byte datagram gives a 1280-byte reply, a 1184-byte one (quote 1232)
    too, a 1183-byte one 1279."""
    for n, out in ((1400, 1280), (1184, 1280), (1183, 1279)):
        r = replay(host([]), [udp6(PEER, HOST6, 40000, 9999, b"y" * n)])
        assert r.counters["Ip6OutOctets"] == out, n


def test_per_host_rate_limit_burst_then_one_per_ratelimit():
    """icmpv6_xrlim_allow -> inet_peer_xrlim_allow(peer, icmpv6_time = 100 ms):
    a new peer holds 6 x 100 ms of tokens, each message takes 100: 20
    datagrams 10 ms apart get replies at 0-50 ms, then at 100 ms and 200 ms
    would be next (out of the run)."""
    pk = [udp6(PEER, HOST6, 40000, 9999) for _ in range(20)]
    ts = [k * 10 * MS for k in range(20)]
    r = replay(host([]), pk, ts)
    assert r.packets["reply"].tolist() == [R_UNREACH] * 6 + [0] * 4 + [R_UNREACH] + [0] * 9
    c = r.counters
    assert c["Udp6NoPorts"] == 20 and c["Icmp6OutDestUnreachs"] == 7
    assert c["Icmp6OutRateLimitHost"] == 13 and c["IcmpOutRateLimitHost"] == 0
    assert c["IcmpOutRateLimitGlobal"] == 0
    # another source has its own bucket
    r2 = replay(host([]), pk[:7] + [udp6("2001:db8:1::3", HOST6, 40000, 9999)],
                ts[:7] + [ts[6]])
    assert r2.packets["reply"].tolist()[6:] == [0, R_UNREACH]


def test_ratelimit_sysctl_sets_the_token_size():
    pk = [udp6(PEER, HOST6, 40000, 9999) for _ in range(8)]
    ts = [k * 10 * MS for k in range(8)]
    # 1000 ms (the pre-6.18.y default): 6 at once, nothing more within a second
    r = replay(host([], **{"net.ipv6.icmp.ratelimit": 1000}), pk, ts)
    assert r.packets["reply"].tolist() == [R_UNREACH] * 6 + [0, 0]
    # 0: no per-host limit
    r0 = replay(host([], **{"net.ipv6.icmp.ratelimit": 0}), pk, ts)
    assert r0.packets["reply"].tolist() == [R_UNREACH] * 8
    assert r0.counters["Icmp6OutRateLimitHost"] == 0


def test_ratemask_without_type_1_lifts_both_limits():
    """icmpv6_mask_allow: a type outside ratemask skips the global bucket and
    the per-host one (apply_ratelimit stays false)."""
    pk = [udp6(f"2001:db8:2::{k + 1:x}", HOST6, 40000, 9999) for k in range(30)] + \
        [udp6(PEER, HOST6, 40000, 9999) for _ in range(10)]
    h = host([], icmp_msgs_burst=5, **{"net.ipv6.icmp.ratemask": "0,3-127"})
    r = replay(h, pk)
    assert r.packets["reply"].tolist() == [R_UNREACH] * 40
    c = r.counters
    assert c["IcmpOutRateLimitGlobal"] == 0 and c["Icmp6OutRateLimitHost"] == 0


def test_global_bucket_is_shared_with_ipv4_and_counted_as_icmp():
    """icmpv6_global_allow uses icmp_global_allow (the netns bucket IPv4 uses)
    and counts a refusal as ICMP_MIB_RATELIMITGLOBAL (IcmpOutRateLimitGlobal):
    once IPv6 errors drained the bucket, an IPv4 port unreachable in the same
    20 ms is refused too."""
    pk = [udp6(f"2001:db8:2::{k + 1:x}", HOST6, 40000, 9999) for k in range(100)]
    pk.append(udp4("10.0.0.2", HOST4, 5000, 9))
    h = host([], icmp_msgs_burst=10)
    r = replay(h, pk, [k * 10_000 for k in range(101)])
    c = r.counters
    sent6 = c["Icmp6OutDestUnreachs"]
    assert 3 <= sent6 <= 40
    assert c["IcmpOutDestUnreachs"] == 0
    assert c["IcmpOutRateLimitGlobal"] == 101 - sent6
    assert c["Icmp6OutRateLimitHost"] == 0 and c["IcmpOutRateLimitHost"] == 0
    assert r.packets["reply"].tolist()[-1] == 0
    assert replay(h, pk, [k * 10_000 for k in range(101)]).counters == c


def test_ipv4_and_ipv6_peers_do_not_share_a_bucket():
    """inet_getpeer_v6 looks in net->ipv6.peers: the IPv4 bucket of a peer
    and the IPv6 one are distinct (here an IPv4-mapped IPv6 source)."""
    v4 = [udp4("10.0.0.2", HOST4, 5000, 9) for _ in range(7)]
    v6 = [udp6("::ffff:10.0.0.2", HOST6, 5000, 9) for _ in range(7)]
    r = replay(host([]), v4 + v6, [k * MS for k in range(14)])
    assert r.packets["reply"].tolist() == ([R_UNREACH] * 6 + [0]) * 2
    c = r.counters
    assert c["IcmpOutRateLimitHost"] == 1 and c["Icmp6OutRateLimitHost"] == 1


def test_no_error_for_an_unspecified_source_or_a_bad_checksum():
    """icmp6_send: the source must identify a single node (not ::);
    __udp6_lib_rcv: a bad checksum is counted before NoPorts, no ICMPv6."""
    r = replay(host([]), [udp6("::", HOST6, 5000, 9),
                          udp6(PEER, HOST6, 5000, 9, b"q", bad_csum=True)])
    p = r.packets
    assert p["reason"].tolist() == [NO_SOCKET, UDP_CSUM]
    assert p["reply"].tolist() == [0, 0]
    c = r.counters
    assert c["Udp6NoPorts"] == 1 and c["Udp6InCsumErrors"] == 1 and c["Udp6InErrors"] == 1
    assert c["Icmp6OutMsgs"] == 0 and c["Ip6OutRequests"] == 0


def test_captured_host_reply_is_not_counted_twice():
    """The host's own port unreachable in the capture (OUT) is the model's
    reply: counted once, where the model sends it."""
    req = udp6(PEER, HOST6, 40000, 9999, b"x" * 10)
    import dpkt
    quote = ipv6(PEER, HOST6, udp(40000, 9999, b"x" * 10))
    un = dpkt.icmp6.ICMP6(type=1, code=4, data=b"\0\0\0\0" + quote)
    rep = eth(ipv6(HOST6, PEER, un))
    r = replay(host([]), [req, rep], [0, 20_000])
    c = r.counters
    assert c["Icmp6OutMsgs"] == 1 and c["Icmp6OutDestUnreachs"] == 1
    assert c["Ip6OutRequests"] == 1 and c["Ip6OutOctets"] == 106


# --- the real kernel --------------------------------------------------------------

def _recording():
    from pystack.config import HostConfig
    from pystack.replay import Replay
    with open(os.path.join(DATA, "truth.json")) as f:
        truth = json.load(f)
    h = HostConfig(addresses=[truth["server"]], listeners=[])
    r = Replay(h, seed=0).run([os.path.join(DATA, "capture.pcap")])
    return truth, r


def test_recording_sysctls_are_the_defaults():
    from pystack.sysctl import Sysctls
    truth, _ = _recording()
    s = Sysctls()
    assert truth["kernel"].startswith("6.18.")
    for name, printed in truth["sysctls"].items():
        assert s.format(name) == printed, name


@pytest.mark.parametrize("name", [
    "Ip6InReceives", "Ip6InDelivers", "Ip6InOctets", "Ip6InNoECTPkts", "Ip6OutRequests",
    "Ip6OutTransmits", "Ip6OutOctets", "Udp6NoPorts", "Icmp6InMsgs", "Icmp6InEchos",
    "Icmp6InType128", "Icmp6OutMsgs", "Icmp6OutDestUnreachs", "Icmp6OutEchoReplies",
    "Icmp6OutType1", "Icmp6OutType129", "Icmp6OutRateLimitHost"])
def test_recording_counter_equals_kernel_delta(name):
    truth, r = _recording()
    assert r.counters[name] == truth["deltas"][name]


def test_recording_every_kept_counter_matches():
    """Every counter the model keeps equals the kernel's delta (0 where the
    kernel did not count)."""
    truth, r = _recording()
    d = truth["deltas"]
    for k, v in r.counters.items():
        assert v == d.get(k, 0), k
    assert sum(1 for k in d if k in r.counters) == 17


def test_recording_replies_where_the_kernel_replied():
    """The model answers exactly the packets the host answered in the capture
    (each answered packet is followed by the host's reply)."""
    import dpkt
    truth, r = _recording()
    host_ip = bytes.fromhex("fd000018" + "0" * 22 + "01")
    answered = []
    with open(os.path.join(DATA, "capture.pcap"), "rb") as f:
        pk = [bytes(b) for _, b in dpkt.pcap.Reader(f)]
    for k, b in enumerate(pk):
        ip6 = dpkt.ethernet.Ethernet(b).data
        if ip6.src == host_ip:
            answered.append(k - 1)
    replies = r.packets["reply"].tolist()
    assert [k for k, x in enumerate(replies) if x] == answered
    assert sum(1 for x in replies if x == R_UNREACH) == 9 and replies.count(6) == 12


def test_recording_global_bucket_shared_and_counted_as_icmp():
    """global/ (record.py global): icmp_msgs_burst 10, 60 IPv6 sources then
    one IPv4 datagram within ~6 ms.  The kernel sent 9 ICMPv6 errors and
    counted the 51 refused ones and the refused IPv4 error in
    IcmpOutRateLimitGlobal (none in Icmp6).  Credits are consumed at random
    (0-2), so the model matches the relations exactly for every seed and the
    kernel's count lies inside the model's spread over seeds."""
    from pystack.config import HostConfig
    from pystack.replay import Replay
    d = os.path.join(DATA, "global")
    with open(os.path.join(d, "truth.json")) as f:
        truth = json.load(f)
    k = truth["deltas"]
    assert k["Udp6NoPorts"] == 60 and k["UdpNoPorts"] == 1
    assert k["IcmpOutRateLimitGlobal"] == 61 - k["Icmp6OutDestUnreachs"]
    sent = []
    for seed in range(40):
        h = HostConfig(addresses=[truth["server"], truth["server4"]], listeners=[])
        h.sysctls.set("net.ipv4.icmp_msgs_burst", int(truth["sysctls"]["net.ipv4.icmp_msgs_burst"]))
        c = Replay(h, seed=seed).run([os.path.join(d, "capture.pcap")]).counters
        n = c["Icmp6OutDestUnreachs"]
        assert c["IcmpOutRateLimitGlobal"] == 61 - n, seed
        assert c["IcmpOutDestUnreachs"] == 0 and c["Icmp6OutRateLimitHost"] == 0
        for name in ("Udp6NoPorts", "UdpNoPorts", "Ip6InReceives", "Ip6InOctets",
                     "IpInReceives"):
            assert c[name] == k[name], name
        assert c["Ip6OutOctets"] == n * 116 and c["Icmp6OutMsgs"] == n
        sent.append(n)
    assert k["Ip6OutOctets"] == k["Icmp6OutDestUnreachs"] * 116
    assert min(sent) <= k["Icmp6OutDestUnreachs"] <= max(sent)


def test_loopback_is_not_rate_limited():
    """icmp6_send: skb->dev is the loopback device for the host's own
    traffic: icmpv6_global_allow is skipped, apply_ratelimit stays false and
    icmpv6_xrlim_allow lets every error through."""
    pk = [udp6(HOST6, HOST6, 40000, 9999) for _ in range(10)]
    r = replay(host([], icmp_msgs_burst=1), pk, [k * 1000 for k in range(10)])
    assert r.packets["reply"].tolist() == [R_UNREACH] * 10
    c = r.counters
    assert c["Icmp6OutRateLimitHost"] == 0 and c["IcmpOutRateLimitGlobal"] == 0
