"""TCP header and options (tcp_parse_options rules) against dpkt; TCP entry
statuses of tcp_v4_rcv / tcp_v6_rcv."""
import struct

import pytest

from pystack.vocab import reason_code
from tests.parse import oracle as O

MSS = b"\x02\x04\x05\xb4"
WS = b"\x03\x03\x0e"
SACKOK = b"\x04\x02"
TS = b"\x08\x0a" + struct.pack("!II", 0xDEADBEEF, 0x01020304)
NOP, EOL = b"\x01", b"\x00"


def sack(*blocks):
    return bytes([5, 2 + 8 * len(blocks)]) + b"".join(struct.pack("!II", *b) for b in blocks)


def frame(opts, v6=False, **kw):
    t = O.tcp(opts=opts, **kw)
    return O.eth(O.ipv6(t), 0x86DD) if v6 else O.eth(O.ipv4(t))


OPTION_SETS = [
    MSS, WS, SACKOK, TS, MSS + SACKOK + TS + NOP + WS,      # Linux SYN
    NOP + NOP + TS, NOP + NOP + sack((1, 2)),
    NOP + NOP + sack((1, 2), (3, 4), (5, 6)),
    sack((10, 20), (30, 40), (50, 60), (70, 80)),
    NOP + NOP + TS + NOP + NOP + sack((0xFFFFFFFF, 0), (7, 8)),
    b"\x03\x03\x63",                                        # wscale 99: stored as sent
    b"\x13\x12" + b"\x00" * 16,                             # MD5 signature: skipped
    b"\xfe\x06\xf9\x89\x00\x00" + MSS,                      # experimental, then MSS
    MSS + EOL + b"\x03\x03\x07",                            # EOL stops parsing
    b"\x02\x03\x05" + WS,                                   # MSS of wrong size: ignored
    b"\x08\x08" + b"\0" * 6 + MSS,                          # TS of wrong size: ignored
    b"\x05\x06" + b"\0" * 4 + MSS,                          # SACK of wrong size: ignored
    b"\x04\x03\x00" + MSS,                                  # SACKOK of wrong size
    b"\x03\x02" + WS,                                       # WS of wrong size
    MSS + b"\x02\x04\x01\x00",                              # last MSS wins
]


@pytest.mark.parametrize("v6", [False, True])
def test_options_match_dpkt(v6):
    pkts = [frame(o, v6) for o in OPTION_SETS]
    cols = O.assert_oracle(pkts)
    assert cols["tcp_mss"][0] == 1460 and cols["flags"][0] & O.PF_TCP_MSS
    assert cols["tcp_wscale"][1] == 14 and cols["flags"][1] & O.PF_TCP_WSCALE
    assert cols["flags"][2] & O.PF_TCP_SACKOK
    assert cols["tcp_tsval"][3] == 0xDEADBEEF and cols["tcp_tsecr"][3] == 0x01020304
    assert cols["tcp_nsack"][8] == 4 and list(cols["tcp_sack"][8]) == [10, 20, 30, 40, 50, 60, 70, 80]
    assert cols["tcp_wscale"][10] == 99
    assert cols["tcp_mss"][13] == 1460 and not cols["flags"][13] & O.PF_TCP_WSCALE
    assert not cols["flags"][14] & O.PF_TCP_MSS and cols["flags"][14] & O.PF_TCP_WSCALE
    assert cols["tcp_mss"][19] == 256
    assert not (cols["flags"] & O.PF_TCP_OPTBAD).any()


def test_header_fields_and_flags():
    pkts = [frame(b"", flags=f, seq=0xFFFFFFFF, ack=0x80000000, win=w, sport=0, dport=65535)
            for f, w in [(0x02, 0), (0x12, 1), (0x11, 29200), (0x04, 5), (0xC2, 7), (0x1FF, 9)]]
    cols = O.assert_oracle(pkts)
    assert cols["tcp_flags"][5] == 0x1FF            # AE (NS) bit as 0x100


def test_payload_offsets():
    cols = O.assert_oracle([frame(MSS + TS + b"\0\0", data=b"D" * 333)])
    assert cols["tcp_doff"][0] == 9 and cols["pay_off"][0] == 14 + 20 + 36
    assert cols["payload_len"][0] == 333


@pytest.mark.parametrize("opts", [
    b"\x01\x01\x01\x02",          # kind as the last header byte: no room for its length
    b"\x02\x01\x00\x00",          # length 1 < 2
    b"\x02\x00\x00\x00",          # length 0
    b"\x08\x0a\x00\x00",          # runs past the header end
    MSS + b"\x01\x01\x01\x05",    # kind 5 as the last byte: no length byte
    NOP * 3 + b"\x08",            # same for TS
])
def test_malformed_options(opts):
    t = O.tcp()
    t.opts = opts
    t.off = 5 + len(opts) // 4
    r = O.parse_one(O.eth(O.ipv4(t)))
    assert r["flags"] & O.PF_TCP_OPTBAD and r["status"] == 0 and r["flags"] & O.PF_L4


def test_malformed_after_valid_keeps_earlier():
    t = O.tcp()
    t.opts = MSS + WS + b"\x01" + b"\x05\x20\x00\x00"
    t.off = 8
    r = O.parse_one(O.eth(O.ipv4(t)))
    assert r["tcp_mss"] == 1460 and r["tcp_wscale"] == 14 and r["flags"] & O.PF_TCP_OPTBAD
    assert r["tcp_nsack"] == 0


def test_options_cut_by_caplen():
    f = frame(MSS + WS + b"\x01" + TS + b"\x01\x01" + sack((1, 2)), data=b"z" * 50)
    for cut in range(54, 54 + 32):
        r = O.parse_one(f[:cut], wirelen=len(f))
        assert r["status"] == 0 and r["flags"] & O.PF_L4_PARTIAL
        assert not r["flags"] & O.PF_TCP_OPTBAD, cut
        assert r["tcp_doff"] == 13 and r["payload_len"] == 50
        assert bool(r["flags"] & O.PF_TCP_MSS) == (cut >= 58)
        assert bool(r["flags"] & O.PF_TCP_TS) == (cut >= 72)
        assert r["tcp_nsack"] == (1 if cut >= 84 else 0)
    r = O.parse_one(f[:86], wirelen=len(f))
    assert r["flags"] & O.PF_L4 and r["tcp_nsack"] == 1


# --- tcp_v4_rcv entry -------------------------------------------------------------

def test_short_segment_not_specified():
    t = bytes(O.tcp())
    for n in range(20):
        r = O.parse_one(O.eth(O.ipv4(raw_payload=t[:n], p=6)))
        assert r["status"] == reason_code("NOT_SPECIFIED"), n
        assert not r["flags"] & O.PF_L4_PARTIAL


@pytest.mark.parametrize("doff", range(5))
def test_doff_below_5(doff):
    r = O.parse_one(frame(b"", off=doff, data=b"x" * 40))
    assert r["status"] == reason_code("PKT_TOO_SMALL") and r["tcp_doff"] == doff


def test_doff_beyond_segment():
    r = O.parse_one(frame(b"", off=15))
    assert r["status"] == reason_code("NOT_SPECIFIED")
    r = O.parse_one(O.eth(O.ipv6(O.tcp(off=6)), 0x86DD))
    assert r["status"] == reason_code("NOT_SPECIFIED")


def test_check_order_short_before_doff():
    t = bytearray(bytes(O.tcp()))
    t[12] = 0x10                    # doff 1, but only 16 bytes on the wire
    r = O.parse_one(O.eth(O.ipv4(raw_payload=bytes(t[:16]), p=6)))
    assert r["status"] == reason_code("NOT_SPECIFIED")
