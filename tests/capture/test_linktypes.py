"""Every link type the parser decodes, checked against dpkt; unsupported and
short link headers get their statuses."""
import struct

import pytest

from pystack.vocab import reason_code
from tests.parse import oracle as O

TCP4 = O.ipv4(O.tcp(opts=b"\x02\x04\x05\xb4"))
TCP6 = O.ipv6(O.tcp(sport=1, dport=2))
UDP4 = O.ipv4(O.udp())
ICMP6 = O.ipv6(O.icmp6())

ALL_LT = [1, 113, 276, 101, 12, 14, 0, 108]


@pytest.mark.parametrize("lt", ALL_LT)
def test_link_types_v4_v6(lt):
    O.assert_oracle([O.wrap(TCP4, lt), O.wrap(TCP6, lt), O.wrap(UDP4, lt),
                     O.wrap(ICMP6, lt)], lt)


def test_ipv4_ipv6_linktypes():
    O.assert_oracle([TCP4, UDP4], 228)
    O.assert_oracle([TCP6, ICMP6], 229)


def test_mixed_linktypes_in_one_batch():
    lts = ALL_LT + [228, 229]
    pkts = [O.wrap(TCP4 if lt != 229 else TCP6, lt) for lt in lts]
    cols = O.parse(pkts, lts)
    for i, (p, lt) in enumerate(zip(pkts, lts)):
        O.check(cols, i, O.expected(p, lt))


def test_vlan_and_qinq():
    one = O.eth(TCP4, vlans=[0x2064])                         # pcp 1, vid 100
    two = O.eth(TCP6, 0x86DD, vlans=[0x0FFF, 0xE005])          # 802.1ad outer + 802.1Q
    q9100 = O.eth(UDP4, vlans=[7, 8], tpids=[0x9100, 0x8100])
    cols = O.assert_oracle([one, two, q9100])
    assert cols["flags"][0] & O.PF_VLAN and not cols["flags"][0] & O.PF_QINQ
    assert cols["vlan0"][1] == 0x0FFF and cols["vlan1"][1] == 0xE005
    assert cols["flags"][1] & O.PF_QINQ and cols["l3_off"][1] == 22
    assert cols["vlan0"][2] == 7 and cols["vlan1"][2] == 8


def test_third_tag_is_not_ip():
    pkt = O.eth(struct.pack("!HH", 5, 0x0800) + TCP4, vlans=[1, 2],
                tpids=[0x88A8, 0x8100], ethertype=0x8100)
    r = O.parse_one(pkt)
    assert r["status"] == 0 and r["flags"] & O.PF_NOT_IP and r["ethertype"] == 0x8100


def test_vlan_tag_truncated():
    pkt = O.eth(b"", vlans=[5])[:16]
    r = O.parse_one(pkt)
    assert r["status"] == reason_code("HDR_TRUNC") and r["flags"] & O.PF_BAD_LINK


def test_sll_pkt_type_and_sll2():
    cols = O.assert_oracle([O.sll(TCP4, pkt_type=4), O.sll(TCP6, 0x86DD, pkt_type=3)], 113)
    assert list(cols["pkt_type"]) == [4, 3]
    cols = O.assert_oracle([O.sll2(TCP4, pkt_type=1), O.sll2(UDP4, pkt_type=2)], 276)
    assert list(cols["pkt_type"]) == [1, 2]


def test_sll_vlan():
    inner = struct.pack("!HH", 42, 0x0800) + TCP4
    r = O.parse_one(O.sll(inner, proto=0x8100), 113)
    assert r["status"] == 0 and r["vlan0"] == 42 and r["l3_off"] == 20 and r["sport"] == 40000


def test_ethernet_pkt_type_from_mac():
    b = O.eth(TCP4, dst=b"\xff" * 6)
    m = O.eth(TCP4, dst=b"\x01\x00\x5e\x00\x00\x01")
    cols = O.assert_oracle([b, m, O.eth(TCP4)])
    assert list(cols["pkt_type"]) == [1, 2, 0]


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("af", [24, 28, 30])
def test_null_both_byte_orders(order, af):
    pkts = [O.null(TCP4, 2, order), O.null(TCP6, af, order)]
    O.assert_oracle(pkts, 0)


def test_loop_network_order():
    O.assert_oracle([O.loop(TCP4, 2), O.loop(TCP6, 24), O.loop(TCP6, 28)], 108)


def test_null_unknown_af_not_ip():
    r = O.parse_one(O.null(TCP4, 7), 0)
    assert r["status"] == 0 and r["flags"] & O.PF_NOT_IP and r["ethertype"] == 0


def test_non_ip_ethertype():
    arp = O.eth(b"\x00\x01\x08\x00\x06\x04\x00\x01" + b"\0" * 20, ethertype=0x0806)
    r = O.parse_one(arp)
    assert r["status"] == 0 and r["flags"] == O.PF_NOT_IP and r["ethertype"] == 0x0806
    assert r["ip_ver"] == 0 and r["l4_off"] == 0


def test_raw_unknown_version_not_ip():
    r = O.parse_one(b"\x50" + TCP4[1:], 101)
    assert r["status"] == 0 and r["flags"] & O.PF_NOT_IP


@pytest.mark.parametrize("lt", [105, 127, 147, 9999, 65535])
def test_unsupported_linktype(lt):
    r = O.parse_one(O.eth(TCP4), lt)
    assert r["status"] == reason_code("UNHANDLED_PROTO")
    assert r["flags"] & O.PF_BAD_LINK and r["pkt_type"] == 255 and r["ethertype"] == 0


@pytest.mark.parametrize("lt,hdr", [(1, 14), (113, 16), (276, 20), (0, 4), (108, 4),
                                    (101, 1)])
def test_link_header_short(lt, hdr):
    frame = O.wrap(TCP4, lt)
    for n in range(hdr):
        r = O.parse_one(frame[:n], lt)
        assert r["status"] == reason_code("HDR_TRUNC"), (lt, n)
        assert r["flags"] & O.PF_BAD_LINK
        assert not r["flags"] & O.PF_TRUNCATED          # the frame itself is short
        # captured short, wire long: same status, plus PF_TRUNCATED
        r = O.parse_one(frame[:n], lt, wirelen=len(frame))
        assert r["status"] == reason_code("HDR_TRUNC") and r["flags"] & O.PF_TRUNCATED


def test_linktype_supported():
    from pystack._core.parse import linktype_supported
    assert all(linktype_supported(lt) for lt in ALL_LT + [228, 229])
    assert not linktype_supported(105)


def test_python_constants():
    from pystack._core import parse as P
    assert P.PF_FLAGS["PF_IPV4"] == O.PF_IPV4 and P.PF_FLAGS["PF_L4_PARTIAL"] == O.PF_L4_PARTIAL
    assert len(set(P.PF_FLAGS.values())) == 19
    assert P.SUPPORTED_LINKTYPES == set(ALL_LT + [228, 229])
    assert P.TH_FLAGS["TH_AE"] == 0x100 and P.PKT_TYPES["UNKNOWN"] == 255
