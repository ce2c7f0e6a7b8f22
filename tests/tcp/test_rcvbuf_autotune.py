"""Receive-buffer autotuning (sheet 5.5, 10.6): tcp_rcv_space_adjust after
each read, tcp_rcvbuf_grow (6.18) / the pre-6.16 formula (6.12) / the 7.x
low-RTT variant, the receiver RTT (tcp_rcv_rtt_measure_ts from the echo of
the host's TSval, tcp_rcv_rtt_measure per window), the cap at tcp_rmem[2],
and the two switches (tcp_moderate_rcvbuf=0, SO_RCVBUF).

The scaling ratio is kept at 128 (scaling_ratio_update=False) so that
tcp_space_from_win(w) = 2 * w and tcp_win_from_space(s) = s / 2 exactly."""
import pytest

from pystack.appmodel import AppModel, parse_accept, parse_read
from pystack.config import Listener
from pystack.replay import Replay
from tests.pktbuild import ACK, host, tcp_opts
from tests.tcp.conn import HISN, Conn

US = 1000


def _bulk(phases, t0=1_002_000, ts=True):
    """Client segments of 1448 bytes: (count, spacing) phases, the first at
    t0.  With ts, each carries TSecr 5 -- the TSval of the host's SYN-ACK
    (t = 1 us): at t0 the host's TS clock reads 6, so the first segment
    gives tcp_rcv_rtt_measure_ts one 1000 us sample and no other (TSecr
    never changes)."""
    c = Conn()
    rows, k, tsv = [], 0, 2000
    for n, dt in phases:
        for _ in range(n):
            opts = tcp_opts(ts=(tsv, 5)) if ts else b""
            f = c.c.seg(ACK, seq=c.seq(k), ack=HISN + 1, data=b"x" * 1448, opts=opts)
            rows.append(c.add(f, (t0 - c.t) if not rows else dt))
            k += 1448
            tsv += 1
    return c, rows


def _state(c, upto, profile="6.18", rcvbuf=None, **sysctls):
    """The child's receive state after rows [0, upto] (as-arrives reader)."""
    kw = {} if rcvbuf is None else {"rcvbuf": rcvbuf}
    L = Listener("0.0.0.0", 80, backlog=128, **kw,
                 app=AppModel(accept=parse_accept("immediate"), read=parse_read("as-arrives")))
    h = host([L], **sysctls)
    h.set_profile(profile)
    r = Replay(h, checksum="verify", scaling_ratio_update=False)
    res = r.run_packets(c.pk[:upto + 1], c.ts[:upto + 1])
    return r.engine.rcv_state(int(res.packets["conn_id"][upto])), res


# phase 1: 40 us apart (36200 bytes per 1000 us), phase 2: 20 us, phase 3: 10 us
PHASES = [(26, 40 * US), (50, 20 * US), (100, 10 * US)]


def _grow_618(newval, oldval):
    """tcp_rcvbuf_grow (6.18): rcvwin = 2 * newval + 2 * (2 * newval) *
    (newval - oldval) / oldval; sk_rcvbuf = tcp_space_from_win(rcvwin)."""
    rcvwin = newval << 1
    rcvwin += (rcvwin * (newval - oldval) // oldval) << 1
    return 2 * rcvwin


def test_growth_steps_618():
    """6.18: rcvq_space starts at 10 * advmss (1448: timestamps), the RTT is
    the 1000 us TS sample (the per-window samples, >= 1600 us, are larger
    and ignored: win_dep), and every 1000 us of reads the copied bytes are
    compared with rcvq_space.space."""
    c, rows = _bulk(PHASES)
    st, _ = _state(c, rows[0])
    # tcp_init_buffer_space: min3(rcv_ssthresh 64088, rcv_wnd 65160, 10 * 1448)
    assert st["rcvq_space"] == 14480 and st["rcv_rtt_us"] == 1000
    assert st["sk_rcvbuf"] == 131072 and st["window_clamp"] == 64088 == st["rcv_ssthresh"]
    # the first read: time >= rtt (1000 us after the handshake), copied 1448
    # <= 14480: only a new measure from here
    assert st["rcvq_seq"] - c.seq(0) == 1448
    st, _ = _state(c, rows[24])
    assert st["sk_rcvbuf"] == 131072 and st["rcvq_seq"] - c.seq(0) == 1448
    # 1000 us later: 25 segments copied (36200 > 14480)
    st, _ = _state(c, rows[25])
    assert _grow_618(36200, 14480) == 579200
    assert st["sk_rcvbuf"] == 579200 and st["window_clamp"] == 289600
    assert st["rcvq_space"] == 36200
    # then 50 segments per 1000 us (72400 > 36200)
    st, _ = _state(c, rows[74])
    assert st["sk_rcvbuf"] == 579200
    st, _ = _state(c, rows[75])
    assert _grow_618(72400, 36200) == 868800
    assert st["sk_rcvbuf"] == 868800 and st["window_clamp"] == 434400
    # then 100 (144800 > 72400)
    st, _ = _state(c, rows[175])
    assert _grow_618(144800, 72400) == 1737600
    assert st["sk_rcvbuf"] == 1737600 and st["window_clamp"] == 868800
    assert st["rcvq_space"] == 144800 and st["rcv_rtt_us"] == 1000


def test_window_follows_growth():
    """The advertised window: before the first growth rcv_ssthresh is stuck
    at window_clamp (64088: tcp_grow_window has no room); after it,
    tcp_grow_window adds 2 * advmss per segment (win_from_space(truesize
    2024) = 1012 <= 1448) up to the new clamp."""
    c, rows = _bulk(PHASES)
    _, res = _state(c, rows[-1])
    p = res.packets
    aw = [int(p["adv_win"][r]) for r in rows]
    assert aw[24] == 64512                          # ALIGN(64088, 1024)
    assert aw[25] == 64512                          # clamp grew, rcv_ssthresh not yet
    assert aw[26] == 67584                          # ALIGN(64088 + 2896, 1024)
    assert aw[27] == 70656                          # ALIGN(64088 + 2 * 2896, 1024)
    assert max(aw) > 300000


def test_cap_at_tcp_rmem_max():
    """sk_rcvbuf = min(tcp_space_from_win(rcvwin), tcp_rmem[2])."""
    c, rows = _bulk(PHASES)
    st, _ = _state(c, rows[175], tcp_rmem=(4096, 131072, 1500000))
    assert st["sk_rcvbuf"] == 1500000 and st["window_clamp"] == 750000
    assert st["rcvq_space"] == 144800


def test_disabled_by_moderate_rcvbuf_0():
    """tcp_moderate_rcvbuf=0: no growth, but tcp_rcvbuf_grow still records
    rcvq_space.space = copied (it returns after that assignment).  The
    window stays at 64512, so in phase 3 (10 us apart) a per-window sample
    (64512 bytes in 450 us) undercuts the 1000 us RTT."""
    c, rows = _bulk(PHASES)
    st, _ = _state(c, rows[75], tcp_moderate_rcvbuf=0)
    assert st["sk_rcvbuf"] == 131072 and st["window_clamp"] == 64088
    assert st["rcvq_space"] == 72400 and st["rcv_rtt_us"] == 1000
    st, _ = _state(c, rows[175], tcp_moderate_rcvbuf=0)
    assert st["sk_rcvbuf"] == 131072 and st["window_clamp"] == 64088
    assert st["rcv_rtt_us"] == 450 and st["rcvq_space"] == 60 * 1448


def test_disabled_by_so_rcvbuf():
    """SO_RCVBUF 262144 -> sk_rcvbuf 524288 with SOCK_RCVBUF_LOCK: no growth."""
    c, rows = _bulk(PHASES)
    st, _ = _state(c, rows[175], rcvbuf=262144)
    assert st["sk_rcvbuf"] == 524288
    assert st["rcvq_space"] == 144800


def test_profile_612_formula():
    """6.12 (pre-6.16): rcvq_space starts at 10 * 1460 (advmss loses the
    timestamp option only after tcp_init_buffer_space), window_clamp 64076,
    and rcvwin = 2 * copied + 16 * advmss (1448 by then), plus twice
    rcvwin * (copied - space) / space."""
    c, rows = _bulk(PHASES)
    st, _ = _state(c, rows[0], profile="6.12")
    assert st["rcvq_space"] == 14600 and st["window_clamp"] == 64076
    st, _ = _state(c, rows[25], profile="6.12")
    rcvwin = 2 * 36200 + 16 * 1448
    rcvwin += (rcvwin * (36200 - 14600) // 14600) << 1
    assert rcvwin == 378344
    assert st["sk_rcvbuf"] == 756688 and st["window_clamp"] == 378344
    st, _ = _state(c, rows[75], profile="6.12")
    assert st["sk_rcvbuf"] == 1007808


def test_per_window_rtt_and_73_low_rtt():
    """No timestamps: the RTT comes from tcp_rcv_rtt_measure, the time rcv_nxt
    takes to pass rcv_nxt + rcv_wnd of the first data (1448 + 65160 = 66608:
    46 segments 10 us apart, 450 us).  6.18 then grows with the slow-start
    term; 7.x, below tcp_rcvbuf_low_rtt (1000 us), uses
    2 * rcvwin * rtt / 1000 instead."""
    c, rows = _bulk([(46, 10 * US), (10, 10 * US)], t0=12 * US, ts=False)
    st, _ = _state(c, rows[44])
    assert st["rcv_rtt_us"] == 0 and st["sk_rcvbuf"] == 131072
    st, _ = _state(c, rows[45])
    assert st["rcv_rtt_us"] == 450 and st["rcvq_space"] == 66608
    assert st["sk_rcvbuf"] == _grow_618(66608, 14480) == 2184740
    st, _ = _state(c, rows[45], profile="7.3")
    rcvwin = 2 * 66608
    rcvwin += (rcvwin * 450 // 1000) << 1
    assert st["sk_rcvbuf"] == 2 * rcvwin == 506220


@pytest.mark.parametrize("profile", ["6.18", "6.12"])
def test_unread_data_no_growth(profile):
    """A reader that never reads: tcp_rcv_space_adjust never runs, the
    buffer stays at tcp_rmem[1]."""
    c, rows = _bulk([(40, 40 * US)])
    L = Listener("0.0.0.0", 80, backlog=128,
                 app=AppModel(accept=parse_accept("immediate"), read=parse_read("never")))
    h = host([L])
    h.set_profile(profile)
    r = Replay(h, checksum="verify", scaling_ratio_update=False)
    res = r.run_packets(c.pk, c.ts)
    st = r.engine.rcv_state(int(res.packets["conn_id"][rows[-1]]))
    assert st["sk_rcvbuf"] == 131072 and st["rcvq_space"] == (14480 if profile == "6.18"
                                                              else 14600)


# --- a real capture ---------------------------------------------------------
# tests/tcp/data/veth_paced_618.pcap: Linux 6.18.44, two network namespaces
# over veth (198.18.0.1 -> 198.18.0.2:5001), all offloads off, tcpdump -s 128
# on the receiver; the client writes 16 KiB every 2 ms; the server polls and
# reads as data arrives (recv_into 1 MiB), logging the time before each read
# (veth_paced_618_reads.csv) and TCP_INFO / SO_RCVBUF after it.  The first
# 400 frames.  Kernel state after the read at the end of the excerpt:
MEASURED_END = {"sk_rcvbuf": 448048, "rcvq_space": 35664, "rcv_rtt_us": 2000,
                "rcv_ssthresh": 278590}
# ... and after the read that grew the buffer (the 4th): the same sk_rcvbuf,
# rcv_space and rcv_rtt.


def _veth_replay(**kw):
    import os
    d = os.path.join(os.path.dirname(__file__), "data")
    L = Listener("198.18.0.2", 5001, backlog=8, app=AppModel(
        accept=parse_accept("immediate"),
        read=parse_read("log " + os.path.join(d, "veth_paced_618_reads.csv"))))
    from pystack.config import HostConfig
    h = HostConfig(addresses=["198.18.0.2"], listeners=[L])
    for k, v in kw.pop("sysctls", {}).items():
        h.sysctls.set(k, v)
    r = Replay(h, checksum="verify", **kw)
    return r, r.run(os.path.join(d, "veth_paced_618.pcap"))


def test_real_capture_windows_and_state():
    """With the veth skbs' truesize (2304) every one of the host's 109
    captured ACKs carries exactly the window the model advertises, and the
    model ends in the kernel's measured state (the buffer grew once, to
    448048, at the 4th read)."""
    r, res = _veth_replay(truesize=(0, 2304))
    d = res.divergences
    assert d["window_compared"] == 109 and d["window_mismatch"] == 0
    st = r.engine.rcv_state(0)
    assert {k: st[k] for k in MEASURED_END} == MEASURED_END
    assert st["scaling_ratio"] == 160 and st["window_clamp"] == 448048 * 160 // 256


def test_real_capture_needs_autotuning():
    """Without autotuning (or with a fixed ratio) the same capture diverges."""
    _, res = _veth_replay(truesize=(0, 2304), sysctls={"net.ipv4.tcp_moderate_rcvbuf": 0})
    assert res.divergences["window_mismatch"] == 84
    _, res = _veth_replay(truesize=(0, 2304), scaling_ratio_update=False)
    assert res.divergences["window_mismatch"] == 95


@pytest.mark.parametrize("profile,rcvbuf,clamp", [("6.18", 177920, 88960),
                                                  ("6.12", 131072, 64076)])
def test_ofo_provisioning(profile, rcvbuf, clamp):
    """6.16+: tcp_data_queue_ofo ends with tcp_rcvbuf_grow(sk,
    rcvq_space.space): no slow-start term, but the out-of-order span
    (ooo_last_skb end_seq - rcv_nxt = 61448 - 1448) on top of 2 * space:
    tcp_space_from_win(2 * 14480 + 60000) = 177920.  6.12 has no such call."""
    c = Conn()
    c.data(0, 1448)
    ofo = c.data(60000, 1448)
    st, res = _state(c, ofo, profile=profile)
    assert res.counters["TcpExtTCPOFOQueue"] == 1
    assert st["sk_rcvbuf"] == rcvbuf and st["window_clamp"] == clamp
