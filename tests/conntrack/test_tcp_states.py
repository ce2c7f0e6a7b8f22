"""TCP conntrack state machine: every cell of tcp_conntracks[dir][index][old]
(nf_conntrack_proto_tcp.c), the IGNORE and INVALID cells, reopening from
TIME_WAIT/CLOSE, RST before a reply, tcp_error, loose pickup, tcp_in_window."""

import pytest

from tests.conntrack.ctutil import NS, C, S, CP, SP, table, tcp, state_of, drive, PATHS

STATES = ["NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT",
          "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"]
IV, IG = "INVALID", "IGNORE"
sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2 = STATES
# The table of /work/shared/linux-semantics.md 3.4 (columns: old state)
TABLE = {
    ("C", "syn"):    [sSS, sSS, IG, IG, IG, IG, IG, sSS, sSS, sS2],
    ("C", "synack"): [IV, IV, sSR, IV, IV, IV, IV, IV, IV, sSR],
    ("C", "fin"):    [IV, IV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, IV],
    ("C", "ack"):    [sES, IV, sES, sES, sCW, sCW, sTW, sTW, sCL, IV],
    ("C", "rst"):    [IV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    ("C", "none"):   [IV] * 10,
    ("S", "syn"):    [IV, sS2, IV, IV, IV, IV, IV, sSS, IV, sS2],
    ("S", "synack"): [IV, sSR, IG, IG, IG, IG, IG, IG, IG, sSR],
    ("S", "fin"):    [IV, IV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, IV],
    ("S", "ack"):    [IV, IG, sSR, sES, sCW, sCW, sTW, sTW, sCL, IG],
    ("S", "rst"):    [IV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    ("S", "none"):   [IV] * 10,
}
FLAGS = {"syn": "S", "synack": "SA", "fin": "FA", "ack": "A", "rst": "RA", "none": "U"}
# probe sequence numbers: the client's / server's next byte after the handshake
PROBE = {"C": (1001, 5001), "S": (5001, 1001)}

CELLS = [(d, idx, old) for (d, idx) in TABLE for old in STATES
         # An entry is in NONE only while its first (ORIGINAL) packet is being
         # tracked: the REPLY column of NONE cannot be reached, in the kernel too.
         if not (old == "NONE" and d == "S")]


def _params():
    # window checks off (be_liberal) and RST sequence checks off: this test
    # is about the transition table; the window has its own tests below
    return dict(tcp_be_liberal=1, tcp_ignore_invalid_rst=1)


@pytest.mark.parametrize("d,idx,old", CELLS)
def test_transition_cell(d, idx, old):
    t = table(**_params())
    if old != "NONE":
        drive(t, old)
    seq, ack = PROBE[d]
    if idx in ("syn", "synack"):
        seq = 9000
    if idx == "rst" and old == "SYN_SENT" and d == "S":
        seq, ack = 0, 1001
    r = tcp(t, d, FLAGS[idx], seq, ack if idx != "syn" else 0, now=NS)
    cell = TABLE[(d, idx)][STATES.index(old)]
    after = state_of(t, NS)
    if cell == IV:
        assert r["ctstate"] == ["INVALID"] and r["ct"] == -1
        assert after == (None if old == "NONE" else old)
        return
    assert r["ctstate"] != ["INVALID"]
    if cell == IG:
        assert after == old
        assert r["ctstate"] == (["NEW"] if old == "SYN_SENT" and d == "C" else ["ESTABLISHED"])
        return
    if idx == "rst" and old == "SYN_SENT":
        # only a RST answered (no SEEN_REPLY): the entry is deleted at once
        assert after is None
        return
    assert after == cell
    if cell == "SYN_SENT" and old in ("TIME_WAIT", "CLOSE"):
        # reopened: the old entry was killed, a new one made from this SYN
        e = t.entries(NS)
        first = "src=%s dst=%s sport=%d dport=%d" % ((C, S, CP, SP) if d == "C" else (S, C, SP, CP))
        assert e["orig"] == [first]
        assert r["ctstate"] == ["NEW"]


def test_cell_count():
    assert len(CELLS) == 12 * 10 - 6


def test_handshake_assured_on_third_packet():
    t = table()
    r1 = tcp(t, "C", "S", 1000, 0, now=0, wscale=7, sackok=1)
    assert r1["ctstate"] == ["NEW"] and t.entries(0)["status"] == [["UNREPLIED"]]
    r2 = tcp(t, "S", "SA", 5000, 1001, now=NS, wscale=7, sackok=1)
    assert r2["ctstate"] == ["ESTABLISHED"] and r2["dir"] == "REPLY"
    assert t.entries(NS)["status"] == [["SEEN_REPLY"]]
    assert t.entries(NS)["timeout"] == [60]
    r3 = tcp(t, "C", "A", 1001, 5001, now=2 * NS, win=502)
    assert r3["ctstate"] == ["ESTABLISHED"]
    assert t.entries(2 * NS)["status"] == [["ASSURED", "SEEN_REPLY"]]
    assert t.entries(2 * NS)["timeout"] == [432000]
    info = t.ct.tcp_info(r3["ct"])
    assert info["orig"]["td_scale"] == 7 and info["reply"]["td_scale"] == 7
    assert info["orig"]["td_maxwin"] == 502 << 7


def test_retransmitted_syn_still_new_and_timeout_not_renewed():
    t = table()
    tcp(t, "C", "S", 1000, now=0)
    r = tcp(t, "C", "S", 1000, now=50 * NS)
    assert r["ctstate"] == ["NEW"]
    assert t.entries(50 * NS)["timeout"] == [70]      # 120 s from the first SYN


def test_reply_rst_before_any_reply_kills_entry():
    t = table()
    tcp(t, "C", "S", 1000, now=0)
    r = tcp(t, "S", "RA", 0, 1001, now=NS)
    assert r["ctstate"] == ["ESTABLISHED"] and r["ct"] >= 0
    assert state_of(t, NS) is None
    assert t.stats()["entries"] == 0


@pytest.mark.parametrize("flags", ["F", "SF", "", "FSRPAU", "SR", "FR"])
def test_invalid_flag_combinations_make_no_entry(flags):
    t = table()
    r = tcp(t, "C", flags, 1000, now=0)
    assert r["ctstate"] == ["INVALID"] and r["ct"] == -1
    assert t.stats()["invalid"] == 1 and t.stats()["entries"] == 0


@pytest.mark.parametrize("flags,want", [
    ("SE", "NEW"), ("SEC", "NEW"), ("SU", "NEW"), ("AP", "NEW"), ("AU", "NEW"),
    # valid for tcp_error, but the ORIGINAL row of NONE refuses them
    ("SAP", "INVALID"), ("FAP", "INVALID"), ("FAU", "INVALID"), ("R", "INVALID"),
    ("RA", "INVALID")])
def test_valid_flag_combinations(flags, want):
    # ECE/CWR/PSH are ignored by tcp_error
    t = table()
    r = tcp(t, "C", flags, 1000, 0 if "A" not in flags else 5001, now=0)
    assert r["ctstate"] == [want]
    assert t.stats()["invalid"] == (want == "INVALID")


def test_bad_checksum_only_at_prerouting():
    t = table()
    r = tcp(t, "C", "S", 1000, now=0, csum_bad=1)
    assert r["ctstate"] == ["INVALID"] and t.stats()["invalid"] == 1
    r = tcp(t, "S", "S", 7000, now=0, csum_bad=1)      # OUTPUT: not checked
    assert r["ctstate"] == ["NEW"]


def test_bad_checksum_accepted_with_sysctl_off():
    t = table(checksum=0)
    r = tcp(t, "C", "S", 1000, now=0, csum_bad=1)
    assert r["ctstate"] == ["NEW"]


def test_loose_pickup_midstream():
    t = table()
    r = tcp(t, "C", "A", 1001, 5001, now=0)
    assert r["ctstate"] == ["NEW"]
    assert state_of(t) == "ESTABLISHED"
    # ESTABLISHED without SEEN_REPLY is capped at the UNACK timeout
    assert t.entries(0)["timeout"] == [300]
    info = t.ct.tcp_info(r["ct"])
    assert info["orig"]["flags"] & 0x0a == 0x0a and info["reply"]["flags"] & 0x0a == 0x0a
    r = tcp(t, "S", "A", 5001, 1001, now=NS)
    assert r["ctstate"] == ["ESTABLISHED"]
    r = tcp(t, "C", "A", 1001, 5001, now=2 * NS)
    assert t.entries(2 * NS)["status"] == [["ASSURED", "SEEN_REPLY"]]


def test_no_pickup_without_tcp_loose():
    t = table(tcp_loose=0)
    r = tcp(t, "C", "A", 1001, 5001, now=0)
    assert r["ctstate"] == ["INVALID"] and t.stats()["invalid"] == 1
    assert t.stats()["entries"] == 0


def _established(t):
    for d, fl, seq, ack in PATHS["ESTABLISHED"]:
        tcp(t, d, fl, seq, ack, now=0, win=1000)


def test_window_seq_over_is_invalid():
    t = table()
    _established(t)
    # the server advertised 1000 bytes (no scaling): data past 5001+... no,
    # past the client's td_maxend = 1001 + 1000 by far is SEQ_OVER
    r = tcp(t, "C", "A", 1001 + 100000, 5001, now=NS, paylen=100)
    assert r["ctstate"] == ["INVALID"]
    assert t.stats()["invalid"] == 1
    assert state_of(t, NS) == "ESTABLISHED"


def test_window_seq_over_accepted_when_liberal():
    t = table(tcp_be_liberal=1)
    _established(t)
    r = tcp(t, "C", "A", 1001 + 100000, 5001, now=NS, paylen=100)
    assert r["ctstate"] == ["ESTABLISHED"]
    assert t.stats()["invalid"] == 0


def test_window_ack_over_is_invalid():
    t = table()
    _established(t)
    r = tcp(t, "C", "A", 1001, 5001 + 10, now=NS)      # acks data never sent
    assert r["ctstate"] == ["INVALID"]


def test_window_overshot_is_ignored_not_invalid():
    t = table()
    _established(t)
    # the server's window is 1000: 1200 bytes overshoot td_maxend by 200,
    # within the receiver's max window -> IGNORE (accepted, no state change)
    r = tcp(t, "C", "A", 1001, 5001, now=NS, paylen=1200, win=1000)
    assert r["ctstate"] == ["ESTABLISHED"] and t.stats()["invalid"] == 0
    r = tcp(t, "C", "A", 1001, 5001, now=NS, paylen=1000, win=1000)
    assert r["ctstate"] == ["ESTABLISHED"]


def test_old_retransmission_ignored():
    t = table()
    _established(t)
    # data far below what the receiver already acked: SEQ_UNDER -> IGNORE
    for k in range(5):
        tcp(t, "C", "A", 1001 + 1000 * k, 5001, now=NS, paylen=1000, win=1000)
        tcp(t, "S", "A", 5001, 1001 + 1000 * (k + 1), now=NS, win=1000)
    r = tcp(t, "C", "A", 1001, 5001, now=NS, paylen=100)
    assert r["ctstate"] == ["ESTABLISHED"] and t.stats()["invalid"] == 0


def test_rst_with_old_seq_invalid_unless_ignore_invalid_rst():
    for ign, want in ((0, ["INVALID"]), (1, ["ESTABLISHED"])):
        t = table(tcp_ignore_invalid_rst=ign)
        _established(t)
        r = tcp(t, "C", "R", 900, 0, now=NS)
        assert r["ctstate"] == want


def test_rst_inexact_in_window_keeps_established_with_close_timeout():
    t = table()
    _established(t)
    r = tcp(t, "C", "R", 1005, 0, now=NS)
    assert r["ctstate"] == ["ESTABLISHED"]
    assert state_of(t, NS) == "ESTABLISHED"
    assert t.entries(NS)["timeout"] == [10]


def test_ignored_syn_then_synack_resyncs_to_syn_recv():
    # a new SYN on an ESTABLISHED entry is ignored; the server's SYN/ACK that
    # acknowledges it re-syncs the entry to SYN_RECV with the SYN's values
    t = table()
    _established(t)
    r = tcp(t, "C", "S", 70000, 0, now=NS, win=2000)
    assert r["ctstate"] == ["ESTABLISHED"] and state_of(t, NS) == "ESTABLISHED"
    r = tcp(t, "S", "SA", 90000, 70001, now=NS)
    assert r["ctstate"] == ["ESTABLISHED"]
    assert state_of(t, NS) == "SYN_RECV"
    info = t.ct.tcp_info(r["ct"])
    assert info["orig"]["td_end"] == 70001 and info["orig"]["td_maxwin"] == 2000


def test_reopen_from_time_wait():
    t = table()
    drive(t, "TIME_WAIT")
    r = tcp(t, "C", "S", 20000, 0, now=NS)
    assert r["ctstate"] == ["NEW"] and state_of(t, NS) == "SYN_SENT"
    assert t.stats()["entries"] == 1


def test_max_retrans_caps_timeout():
    t = table()
    _established(t)
    tcp(t, "C", "A", 1001, 5001, now=NS, paylen=10)
    timeouts = []
    for k in range(4):
        tcp(t, "C", "A", 1001, 5001, now=(2 + k) * NS, paylen=10)
        timeouts.append(t.entries((2 + k) * NS)["timeout"][0])
    # unacked data in flight: UNACK (300); the 3rd retransmission: RETRANS (300)
    assert timeouts == [300, 300, 300, 300]
    assert t.ct.tcp_info(0)["retrans"] == 4


def test_unacked_data_then_acked_restores_established_timeout():
    t = table()
    _established(t)
    tcp(t, "C", "A", 1001, 5001, now=NS, paylen=10)
    assert t.entries(NS)["timeout"] == [300]
    tcp(t, "S", "A", 5001, 1011, now=2 * NS)
    assert t.entries(2 * NS)["timeout"] == [432000]


def test_zero_window_caps_timeout():
    t = table()
    _established(t)
    tcp(t, "S", "A", 5001, 1001, now=NS, win=0)
    assert t.entries(NS)["timeout"] == [300]


def test_simultaneous_open():
    t = table()
    tcp(t, "C", "S", 1000, now=0)
    tcp(t, "S", "S", 5000, now=0)
    assert state_of(t) == "SYN_SENT2"
    tcp(t, "C", "SA", 1000, 5001, now=0)
    assert state_of(t) == "SYN_RECV"
    tcp(t, "S", "SA", 5000, 1001, now=0)
    assert state_of(t) == "SYN_RECV"
    tcp(t, "S", "A", 5001, 1001, now=0)
    assert state_of(t) == "ESTABLISHED"


def test_ipv6_handshake_and_listing():
    t = table()
    a, b = "2001:db8::1", "2001:db8::2"
    t.packet(dict(proto="tcp", src=a, dst=b, sport=40000, dport=443, flags="S", seq=1),
             "PREROUTING", 0)
    t.packet(dict(proto="tcp", src=b, dst=a, sport=443, dport=40000, flags="SA", seq=9, ack=2),
             "OUTPUT", 0)
    r = t.packet(dict(proto="tcp", src=a, dst=b, sport=40000, dport=443, flags="A", seq=2,
                      ack=10), "PREROUTING", 0)
    assert r["ctstate"] == ["ESTABLISHED"]
    assert t.to_conntrack_L(NS) == (
        "tcp      6 431999 ESTABLISHED src=2001:db8::1 dst=2001:db8::2 sport=40000 dport=443 "
        "src=2001:db8::2 dst=2001:db8::1 sport=443 dport=40000 [ASSURED] mark=0 use=1\n")


def test_invalid_fin_then_invalid_rst_lowers_assured_timeout():
    # nf_tcp_handle_invalid: an out-of-window FIN is remembered; an
    # out-of-window RST from the other side then gives the ASSURED entry the
    # UNACK timeout.  A RST before td_maxack is refused before the window
    # check and is not remembered.
    t = table()
    _established(t)
    assert t.entries(0)["timeout"] == [432000]
    r = tcp(t, "S", "R", 4000, 0, now=NS)          # seq before the peer's max ack
    assert r["ctstate"] == ["INVALID"] and t.entries(NS)["timeout"] == [431999]
    r = tcp(t, "C", "FA", 1001 + 10 ** 6, 5001, now=NS)
    assert r["ctstate"] == ["INVALID"] and t.entries(NS)["timeout"] == [431999]
    r = tcp(t, "C", "FA", 1001 + 10 ** 6, 5001, now=NS)   # same side again: nothing
    assert t.entries(NS)["timeout"] == [431999]
    r = tcp(t, "S", "R", 5001 + 10 ** 6, 0, now=2 * NS)   # beyond the window
    assert r["ctstate"] == ["INVALID"]
    assert t.entries(2 * NS)["timeout"] == [300]
    assert state_of(t, 2 * NS) == "ESTABLISHED"
