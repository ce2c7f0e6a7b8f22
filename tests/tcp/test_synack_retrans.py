"""SYN-ACK retransmission timer (reqsk_timer_handler, sheet 4.5)."""
import numpy as np

from tests.pktbuild import ACK, Client, S, host, listener, replay

EV_RETX, EV_EXPIRED = 16, 17


def end_marker(t):
    """A packet that only moves capture time forward (not for the host)."""
    return Client(200, dst="192.0.2.1").seg(ACK, ack=1), t


def run(extra_until, t0=10 * S, **sysctls):
    h = host([listener()], **sysctls)
    a = Client(1)
    pk, ts = [a.syn()], [t0]
    m, t = end_marker(t0 + extra_until)
    pk.append(m)
    ts.append(t)
    return replay(h, pk, ts), t0


def test_schedule_1_3_7_15_31_expire_63():
    r, t0 = run(70 * S)
    ev = r.events
    retx = (ev["ts_ns"][ev["kind"] == EV_RETX] - t0).tolist()
    assert retx == [1 * S, 3 * S, 7 * S, 15 * S, 31 * S]
    exp = (ev["ts_ns"][ev["kind"] == EV_EXPIRED] - t0).tolist()
    assert exp == [63 * S]
    c = r.counters
    assert c["TcpRetransSegs"] == 5 and c["TcpExtTCPSynRetrans"] == 5
    assert c["TcpOutSegs"] == 6
    assert c["TcpExtTCPTimeouts"] == 6
    L = r.listeners[0]
    assert L["syn_queue"] == 0 and L["req_expired"] == 1
    # the retransmissions carry the SYN-ACK of the request
    syn = r.packets
    assert (ev["seq"][ev["kind"] == EV_RETX] == syn["reply_seq"][0]).all()
    assert (ev["ack"][ev["kind"] == EV_RETX] == syn["reply_ack"][0]).all()
    rep = r.replies
    assert rep["timer"].tolist() == [False] + [True] * 5
    assert rep["kind"].tolist() == [1] * 6


def test_timers_stop_at_capture_end():
    r, t0 = run(10 * S)
    retx = (r.events["ts_ns"][r.events["kind"] == EV_RETX] - t0).tolist()
    assert retx == [1 * S, 3 * S, 7 * S]
    assert r.listeners[0]["syn_queue"] == 1
    assert r.counters["TcpExtTCPTimeouts"] == 3


def test_exactly_at_capture_end_fires():
    r, t0 = run(7 * S)
    assert r.counters["TcpRetransSegs"] == 3


def test_synack_retries_sysctl():
    r, t0 = run(70 * S, tcp_synack_retries=2)
    ev = r.events
    assert (ev["ts_ns"][ev["kind"] == EV_RETX] - t0).tolist() == [1 * S, 3 * S]
    assert (ev["ts_ns"][ev["kind"] == EV_EXPIRED] - t0).tolist() == [7 * S]


def test_retransmitted_syn_answered_and_rate_limited():
    h = host([listener()])
    a = Client(1)
    m, tend = end_marker(10 * S)
    pk = [a.syn(), a.syn(), a.syn(), m]
    ts = [0, S // 2, S // 2 + S // 4, tend]
    r = replay(h, pk, ts)
    p = r.packets
    # the first duplicate is answered (the request's last_oow_ack_time was
    # unset); the second, 250 ms later, is within tcp_invalid_ratelimit
    assert p["reply"].tolist()[:3] == [1, 1, 0]
    assert p["reply_seq"][1] == p["reply_seq"][0]
    assert p["verdict"].tolist()[:3] == [1, 2, 2] and p["reason"].tolist()[1:3] == [2, 2]
    c = r.counters
    assert c["TcpExtTCPACKSkippedSynRecv"] == 1
    # mod_timer_pending(now + 1 s): the timer moved from 1.0 s to 1.5 s
    retx = r.events["ts_ns"][r.events["kind"] == EV_RETX].tolist()
    assert retx[:2] == [S // 2 + S, S // 2 + 3 * S]
    assert c["TcpRetransSegs"] == 1 + len(retx)


def test_queue_pruning_reduces_retries_of_old_requests():
    """2*qlen > max(8, backlog): old requests lose retries while qlen >=
    2*young... (reqsk_timer_handler)."""
    h = host([listener(backlog=8, accept="never")])
    cl = [Client(i) for i in range(9)]
    pk = [c.syn() for c in cl]
    ts = list(range(9))
    m, tend = end_marker(200 * S)
    r = replay(h, pk + [m], ts + [tend])
    # reference: reqsk_timer_handler in plain Python
    import heapq
    qlen, young = 9, 9
    num = [0] * 9
    heap = [(t + S, t, k) for k, t in enumerate(ts)]
    retx, expired = [], []
    while heap:
        when, order, k = heapq.heappop(heap)
        if when > tend:
            break
        mx = 5
        if (qlen << 1) > max(8, 8):
            y = young << 1
            while mx > 2:
                if qlen < y:
                    break
                mx -= 1
                y <<= 1
        if num[k] >= mx:
            expired.append((when, k))
            qlen -= 1
            young -= num[k] == 0
            continue
        retx.append((when, k))
        young -= num[k] == 0
        num[k] += 1
        heapq.heappush(heap, (when + min(S << num[k], 120 * S), when, k))
    ev = r.events
    got_retx = sorted(zip(ev["ts_ns"][ev["kind"] == EV_RETX].tolist(),
                          ev["conn_id"][ev["kind"] == EV_RETX].tolist()))
    got_exp = sorted(zip(ev["ts_ns"][ev["kind"] == EV_EXPIRED].tolist(),
                         ev["conn_id"][ev["kind"] == EV_EXPIRED].tolist()))
    assert got_retx == sorted(retx)
    assert got_exp == sorted(expired)
    assert len(retx) < 9 * 5 and len(expired) == 9
    assert r.listeners[0]["syn_queue"] == 0
