"""The programs the recorder runs inside the namespaces (one subprocess each).

    python -m bench.kernel.apps server SPEC_JSON LOG_JSONL
    python -m bench.kernel.apps client SPEC_JSON LOG_JSONL
    python -m bench.kernel.apps delay IF_A IF_B DELAY_MS MAX_SECONDS

Each prints ``ready`` on stdout when it is set up (server, delay) or ``done``
when its plan has run (client), then stays alive -- sockets open -- until
the recorder kills it after the capture and the counters are taken, so that
process exit never adds packets or counter changes to a recording.

Time: every event is logged with ``time.monotonic_ns()``.  At start each
program logs a clock pair: five samples of (realtime, monotonic, realtime),
keeping the one with the narrowest realtime bracket, offset = midpoint of the
bracket - monotonic.  Capture timestamps are CLOCK_REALTIME (the packet
socket stamps skbs with ktime_get_real), so capture time of an event =
monotonic_ns + offset, good to a few microseconds.  A read is stamped just
before the recv() call: the window update the kernel sends from inside recv
(tcp_cleanup_rbuf) therefore appears in the capture after the logged time.

Everything is bounded: each connection handler gives up after MAX_CONN_S,
each program exits at the latest after MAX_LIFE_S.
"""
from __future__ import annotations

import heapq
import json
import os
import select
import socket
import struct
import sys
import threading
import time

MAX_CONN_S = 30.0
MAX_LIFE_S = 90.0
_lock = threading.Lock()
_log = None


def log(**ev):
    ev.setdefault("mono_ns", time.monotonic_ns())
    with _lock:
        _log.write(json.dumps(ev) + "\n")
        _log.flush()


def clock_pair():
    best = None
    for _ in range(5):
        r1 = time.time_ns()
        m = time.monotonic_ns()
        r2 = time.time_ns()
        if best is None or r2 - r1 < best[2] - best[0]:
            best = (r1, m, r2)
    r1, m, r2 = best
    return {"real_ns": (r1 + r2) // 2, "mono_ns": m, "bracket_ns": r2 - r1,
            "offset_ns": (r1 + r2) // 2 - m}


def _suicide_timer():
    t = threading.Timer(MAX_LIFE_S, lambda: os._exit(3))
    t.daemon = True
    t.start()


def _linger0(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# --- server --------------------------------------------------------------------

def _serve_conn(c, peer, plan, t_acc):
    cport, caddr = peer[1], peer[0]
    read = plan.get("read", "all")
    close = plan.get("close", "hold")
    after = close.get("after") if isinstance(close, dict) else None
    close_t = t_acc + after if after is not None else None
    deadline = t_acc + MAX_CONN_S
    if plan.get("linger0"):
        _linger0(c)
    if plan.get("send"):
        c.sendall(b"s" * int(plan["send"]))
        log(ev="send", cport=cport, bytes=int(plan["send"]))
    eof = False
    next_read = t_acc + (read.get("start", 0.0) if isinstance(read, dict) else 0.0)

    def do_close():
        log(ev="close", cport=cport, caddr=caddr, linger0=bool(plan.get("linger0")))
        c.close()

    while time.monotonic() < deadline:
        now = time.monotonic()
        if close_t is not None and now >= close_t:
            do_close()
            return
        wait = 0.05 if close_t is None else max(0.0, min(0.05, close_t - now))
        if read == "all" and not eof:
            r, _, _ = select.select([c], [], [], wait)
            if r:
                t = time.monotonic_ns()
                try:
                    data = c.recv(65536)
                except ConnectionResetError:
                    log(ev="reset", cport=cport, caddr=caddr)
                    eof = True
                    continue
                if data:
                    log(ev="read", mono_ns=t, cport=cport, caddr=caddr, bytes=len(data))
                else:
                    eof = True
                    log(ev="eof", cport=cport, caddr=caddr)
                    if close == "eof":
                        do_close()
                        return
        elif isinstance(read, dict) and not eof:
            if now >= next_read:
                t = time.monotonic_ns()
                try:
                    data = c.recv(int(read["size"]), socket.MSG_DONTWAIT)
                except BlockingIOError:
                    data = None
                except ConnectionResetError:
                    log(ev="reset", cport=cport, caddr=caddr)
                    eof = True
                    continue
                if data:
                    log(ev="read", mono_ns=t, cport=cport, caddr=caddr, bytes=len(data))
                elif data == b"":
                    eof = True
                    log(ev="eof", cport=cport, caddr=caddr)
                    if close == "eof":
                        do_close()
                        return
                next_read += float(read["every"])
            sl = next_read - time.monotonic()
            if close_t is not None:
                sl = min(sl, close_t - time.monotonic())
            time.sleep(max(0.0, min(sl, 0.05)))
        else:
            time.sleep(wait if wait > 0 else 0.001)
    # hold: keep the socket open until the recorder kills the process
    _held.append(c)


_held: list = []


def _accept_loop(ls, spec):
    plans = spec.get("plans", [])
    default = spec.get("default_plan", {"read": "all", "close": "hold"})
    i = 0
    while True:
        c, peer = ls.accept()
        t = time.monotonic()
        log(ev="accept", mono_ns=int(t * 1e9), cport=peer[1], caddr=peer[0], i=i)
        plan = plans[i] if i < len(plans) else default
        threading.Thread(target=_serve_conn, args=(c, peer, plan, t), daemon=True).start()
        i += 1
        if spec.get("accept_every"):
            # a slow application: one accept(), then busy for accept_every
            time.sleep(float(spec["accept_every"]))


def server(spec):
    socks = []
    for l in spec.get("tcp", []):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if l.get("rcvbuf") is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(l["rcvbuf"]))
        s.bind((l.get("addr", "0.0.0.0"), int(l["port"])))
        s.listen(int(l["backlog"]))
        log(ev="listen", port=l["port"], backlog=l["backlog"],
            sk_rcvbuf=s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
        socks.append(s)
        if l.get("accept", "immediate") == "immediate":
            threading.Thread(target=_accept_loop, args=(s, l), daemon=True).start()
    for u in spec.get("udp", []):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if u.get("rcvbuf") is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(u["rcvbuf"]))
        s.bind((u.get("addr", "0.0.0.0"), int(u["port"])))
        socks.append(s)
    print("ready", flush=True)
    while True:
        time.sleep(1)


# --- client --------------------------------------------------------------------

def _client_conn(i, c, t0, out):
    res = {"i": i, "port": c["port"], "sport": c.get("sport")}
    out.append(res)
    delay = t0 + c.get("at", 0.0) - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if c.get("rcvbuf") is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(c["rcvbuf"]))
    if c.get("sport"):
        s.bind(("0.0.0.0", int(c["sport"])))
    res["sport"] = s.getsockname()[1] if c.get("sport") else None
    s.settimeout(float(c.get("connect_timeout", 5.0)))
    try:
        s.connect((c["dst"], int(c["port"])))
        res["connect"] = "established"
    except ConnectionRefusedError:
        res["connect"] = "refused"
    except socket.timeout:
        res["connect"] = "timeout"
    except OSError as e:
        res["connect"] = f"error:{e.errno}"
    res["sport"] = s.getsockname()[1]
    res["connect_mono_ns"] = time.monotonic_ns()
    if res["connect"] != "established":
        _held.append(s)          # a timed-out connect stays in SYN-SENT, do not close
        return
    t_conn = time.monotonic()
    sent = 0
    if c.get("send"):
        total = int(c["send"])
        s.setblocking(False)
        send_end = t_conn + float(c.get("send_for", 10.0))
        buf = b"c" * 65536
        try:
            while sent < total and time.monotonic() < send_end:
                _, w, _ = select.select([], [s], [], 0.05)
                if w:
                    try:
                        sent += s.send(buf[:min(len(buf), total - sent)])
                    except BlockingIOError:
                        pass
        except (ConnectionResetError, BrokenPipeError) as e:
            res["send_error"] = type(e).__name__
        s.setblocking(True)
    res["sent"] = sent
    if c.get("wait_eof"):
        s.settimeout(float(c.get("eof_timeout", 5.0)))
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    res["eof"] = True
                    break
        except ConnectionResetError:
            res["reset"] = True
        except socket.timeout:
            res["eof"] = False
    close = c.get("close", "hold")
    if c.get("close_at") is not None:
        d = t_conn + float(c["close_at"]) - time.monotonic()
        if d > 0:
            time.sleep(d)
    if close == "hold":
        # detect a reset by the host without reading data away
        _held.append(s)
        return
    if close == "rst":
        _linger0(s)
    s.close()
    res["closed"] = close
    res["close_mono_ns"] = time.monotonic_ns()


def _tcp_csum(src, dst, seg):
    ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(seg))
    data = ph + seg + (b"\0" if len(seg) % 2 else b"")
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


_FLAGS = {"F": 1, "S": 2, "R": 4, "P": 8, "A": 16}


def raw_tcp(src, dst, sport, dport, flags, seq=0, ack=0, win=64240, mss=1460, payload=b""):
    fl = sum(_FLAGS[f] for f in flags)
    opts = struct.pack("!BBH", 2, 4, mss) if "S" in flags else b""
    off = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, fl, win, 0, 0) + opts
    seg = hdr + payload
    cs = _tcp_csum(src, dst, seg)
    return seg[:16] + struct.pack("!H", cs) + seg[18:]


def _raw_segments(spec, t0):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    src = spec["src"]
    for k, seg in enumerate(spec["segments"]):
        d = t0 + seg.get("at", 0.0) - time.monotonic()
        if d > 0:
            time.sleep(d)
        pkt = raw_tcp(src, spec["dst"], seg["sport"], seg["dport"], seg["flags"],
                      seg.get("seq", 1000 + k), seg.get("ack", 0),
                      payload=b"x" * seg.get("len", 0))
        s.sendto(pkt, (spec["dst"], 0))
    log(ev="raw_done", n=len(spec["segments"]))


def _udp(u, t0, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = 0
    for k in range(int(u["count"])):
        d = t0 + u.get("at", 0.0) + k * float(u.get("every", 0.0)) - time.monotonic()
        if d > 0:
            time.sleep(d)
        port = u["ports"][k % len(u["ports"])] if "ports" in u else u["port"]
        s.sendto(b"u" * int(u.get("size", 32)), (u["dst"], int(port)))
        n += 1
    out.append({"udp_sent": n, "ports": u.get("ports", [u.get("port")])})
    _held.append(s)


def _icmp_csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _echo(e, t0, out):
    """ICMP echo requests from a raw socket (id 0x5053, seq 1..count)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    for k in range(int(e["count"])):
        d = t0 + e.get("at", 0.0) + k * float(e.get("every", 0.1)) - time.monotonic()
        if d > 0:
            time.sleep(d)
        body = struct.pack("!BBHHH", 8, 0, 0, 0x5053, k + 1) + b"p" * int(e.get("size", 56))
        body = body[:2] + struct.pack("!H", _icmp_csum(body)) + body[4:]
        s.sendto(body, (e["dst"], 0))
    out.append({"echo_sent": int(e["count"])})
    _held.append(s)


def client(spec):
    t0 = time.monotonic()
    out: list = []
    threads = []
    for i, c in enumerate(spec.get("conns", [])):
        threads.append(threading.Thread(target=_client_conn, args=(i, c, t0, out), daemon=True))
    for u in spec.get("udp", []):
        threads.append(threading.Thread(target=_udp, args=(u, t0, out), daemon=True))
    for e in spec.get("echo", []):
        threads.append(threading.Thread(target=_echo, args=(e, t0, out), daemon=True))
    if spec.get("raw"):
        threads.append(threading.Thread(target=_raw_segments, args=(spec["raw"], t0), daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join(MAX_CONN_S + 5)
    # give the host time to answer the last segments (e.g. an
    # abort-on-overflow RST one RTT later), then ask each held socket: a
    # reset shows as SO_ERROR ECONNRESET without reading data away
    time.sleep(float(spec.get("observe", 1.0)))
    for s in _held:
        if s.type == socket.SOCK_STREAM:
            try:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    for res in out:
                        if res.get("sport") == s.getsockname()[1]:
                            res["so_error"] = err
            except OSError:
                pass
    log(ev="client_done", results=sorted(
        [r for r in out if "i" in r], key=lambda r: r["i"]),
        udp=[r for r in out if "udp_sent" in r], echo=[r for r in out if "echo_sent" in r])
    print("done", flush=True)
    while True:
        time.sleep(1)


# --- delay line ---------------------------------------------------------------------

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def delay_line(if_a, if_b, delay_ms, max_s):
    """Forward every frame between if_a and if_b, each held delay_ms.

    AF_PACKET sockets see the frames the peer veths deliver; our own
    transmissions come back as PACKET_OUTGOING and are skipped.  Frames keep
    their order per direction (FIFO, equal delay)."""
    sa = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sb = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sa.bind((if_a, ETH_P_ALL))
    sb.bind((if_b, ETH_P_ALL))
    other = {sa.fileno(): sb, sb.fileno(): sa}
    socks = {sa.fileno(): sa, sb.fileno(): sb}
    heap = []
    seq = 0
    d = delay_ms / 1000.0
    end = time.monotonic() + max_s
    print("ready", flush=True)
    while time.monotonic() < end:
        now = time.monotonic()
        while heap and heap[0][0] <= now:
            _, _, out, frame = heapq.heappop(heap)
            out.send(frame)
        timeout = max(0.0, heap[0][0] - now) if heap else 0.05
        r, _, _ = select.select(list(socks.values()), [], [], timeout)
        for fd in (x.fileno() for x in r):
            frame, addr = socks[fd].recvfrom(65536)
            if addr[2] == PACKET_OUTGOING:
                continue
            heapq.heappush(heap, (time.monotonic() + d, seq, other[fd], frame))
            seq += 1


def main(argv):
    global _log
    _suicide_timer()
    cmd = argv[0]
    if cmd == "delay":
        _log = open(os.devnull, "w")
        delay_line(argv[1], argv[2], float(argv[3]), float(argv[4]))
        return
    spec = json.loads(argv[1])
    _log = open(argv[2], "w")
    log(ev="clock", **clock_pair())
    {"server": server, "client": client}[cmd](spec)


if __name__ == "__main__":
    main(sys.argv[1:])
