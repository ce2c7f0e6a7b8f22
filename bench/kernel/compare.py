"""Replay a recorded scenario through the model and compare it with the kernel.

Used by ``python -m bench.kernel report`` and by tests/fidelity (which need
no root: they only read data/kernel).

* counters: every counter the model keeps (pystack.vocab.COUNTERS) that the
  kernel has (listed in truth.json "kernel_counters"): the kernel's delta
  over the recording (TcpCurrEstab: its final value, a gauge) against the
  model's value after the replay.
* outcomes: per client connection (by source port), what the client saw --
  ``established`` (connect() returned), ``refused`` (RST to the SYN),
  ``timeout`` (never answered) -- plus ``+reset`` when the connection later
  ended in a RST either way (SO_ERROR ECONNRESET, a reset on recv/send, or
  the client's own SO_LINGER-0 close); the model's: SYN rows answered with a
  SYN-ACK (or a cookie SYN-ACK) -> established, with a RST -> refused,
  neither -> timeout; ``+reset`` when the model sent a RST on a non-SYN row
  or its connection record ended by RST.
* SYNs: for every SYN the host received, the kernel's answer (SYN-ACK, RST
  or none, from the capture) against the model's reply on that row.
* windows: for every captured host segment with ACK (not SYN, not RST) on a
  connection the model tracks, the model's window (Verdicts.adv_win) against
  the captured one (win_diff = captured << wscale - model); plus the
  handshake (the model's SYN-ACK window, wscale and MSS against the captured
  SYN-ACK) and the zero-window transitions (captured ACKs advertising 0, and
  the first non-zero one after them).
"""
from __future__ import annotations

import collections
import json
import os
import re
import socket

import dpkt

from pystack import vocab

ECONNRESET = 104


def scenario_dirs(data_dir):
    out = []
    for n in sorted(os.listdir(data_dir)):
        d = os.path.join(data_dir, n)
        if os.path.isfile(os.path.join(d, "truth.json")):
            out.append(d)
    return out


def load_truth(d):
    with open(os.path.join(d, "truth.json")) as f:
        return json.load(f)


_cache: dict = {}


def replay(d):
    """(truth, ReplayResult, packets) for a scenario directory; cached."""
    if d in _cache:
        return _cache[d]
    from pystack.config import load_host_config
    from pystack.replay import Replay
    truth = load_truth(d)
    host = load_host_config(os.path.join(d, "host.toml"))
    pcap = os.path.join(d, "capture.pcap")
    res = Replay(host).run([pcap])
    pk = parse_capture(pcap, truth["server_ip"])
    if len(pk) != len(res.packets["frame"]):
        raise AssertionError(f"{d}: {len(pk)} captured packets, {len(res.packets['frame'])} "
                             "replayed rows")
    _cache[d] = (truth, res, pk)
    return _cache[d]


def parse_capture(path, server_ip):
    """One dict per frame: dir (in/out relative to server_ip), TCP fields."""
    out = []
    with open(path, "rb") as f:
        for ts, buf in dpkt.pcap.Reader(f):
            eth = dpkt.ethernet.Ethernet(buf)
            row = {"ts": ts, "ip": False}
            ip = eth.data
            if isinstance(ip, dpkt.ip.IP):
                row.update(ip=True, src=socket.inet_ntoa(ip.src), dst=socket.inet_ntoa(ip.dst),
                           proto=ip.p)
                row["dir"] = ("out" if row["src"] == server_ip
                              else "in" if row["dst"] == server_ip else "other")
                t = ip.data
                if isinstance(t, dpkt.tcp.TCP):
                    opts = {o: v for o, v in dpkt.tcp.parse_opts(t.opts)}
                    row.update(tcp=True, sport=t.sport, dport=t.dport, flags=t.flags,
                               seq=t.seq, ack=t.ack, win=t.win, plen=len(t.data),
                               wscale=opts[dpkt.tcp.TCP_OPT_WSCALE][0]
                               if dpkt.tcp.TCP_OPT_WSCALE in opts else None,
                               mss=int.from_bytes(opts[dpkt.tcp.TCP_OPT_MSS], "big")
                               if dpkt.tcp.TCP_OPT_MSS in opts else None)
                elif isinstance(t, dpkt.udp.UDP):
                    row.update(udp=True, sport=t.sport, dport=t.dport)
            out.append(row)
    return out


# --- counters ------------------------------------------------------------------

def kernel_value(truth, name):
    if name in truth.get("gauges", {}):
        return truth["gauges"][name]
    return truth["deltas"].get(name, 0)


def compared_counters(truth):
    have = set(truth["kernel_counters"])
    return [c for c in vocab.COUNTERS if c in have]


def counter_table(truth, res):
    """[(name, kernel, model)] for every compared counter."""
    return [(c, kernel_value(truth, c), int(res.counters.get(c, 0)))
            for c in compared_counters(truth)]


# --- outcomes --------------------------------------------------------------------

SYN, ACK, RST, FIN = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_RST, dpkt.tcp.TH_FIN


def _key(sport, k, n):
    return sport if n == 1 else f"{sport}.{k}"


def client_outcomes(truth):
    """{key: outcome}; key = source port, or "port.k" (k = 0, 1, ...) when the
    client used one port for several connections in turn."""
    per_port = collections.Counter(r["sport"] for r in truth["client"])
    seen: collections.Counter = collections.Counter()
    out = {}
    for r in sorted(truth["client"], key=lambda r: r["i"]):
        o = r.get("connect", "error")
        if o == "established" and (r.get("so_error") == ECONNRESET or r.get("reset")
                                   or r.get("send_error") or r.get("closed") == "rst"):
            o += "+reset"
        out[_key(r["sport"], seen[r["sport"]], per_port[r["sport"]])] = o
        seen[r["sport"]] += 1
    return out


def model_outcomes(truth, res, pk):
    from pystack.replay import names
    rep = names()["reply"]
    p = res.packets
    per_port = collections.Counter(r["sport"] for r in truth["client"])
    conns = collections.defaultdict(list)
    for c in res.connections:                  # creation order
        conns[c["rport"]].append(c)
    state = {}           # key -> [answered, refused, reset]
    inst = {}            # sport -> (instance k, ISN of its SYN)
    for i, row in enumerate(pk):
        if not row.get("tcp") or row["dir"] != "in" or row["sport"] not in per_port:
            continue
        sport = row["sport"]
        is_syn = (row["flags"] & (SYN | ACK)) == SYN
        if is_syn and (sport not in inst or inst[sport][1] != row["seq"]):
            inst[sport] = (inst[sport][0] + 1 if sport in inst else 0, row["seq"])
        if sport not in inst:
            continue
        key = _key(sport, inst[sport][0], per_port[sport])
        st = state.setdefault(key, [False, False, False])
        kind = rep[int(p["reply"][i])]
        if is_syn and kind in ("SYNACK", "SYNACK_COOKIE"):
            st[0] = True
        elif is_syn and kind == "RST" and not st[0]:
            st[1] = True
        elif not is_syn and kind == "RST" and st[0]:
            st[2] = True
    out = {}
    for sport, n in per_port.items():
        for k in range(n):
            key = _key(sport, k, n)
            answered, refused, reset = state.get(key, [False, False, False])
            cs = conns.get(sport, [])
            if k < len(cs) and cs[k]["why"] == "RST":
                reset = True
            o = "established" if answered else "refused" if refused else "timeout"
            out[key] = o + ("+reset" if reset and answered else "")
    return out


# --- windows -----------------------------------------------------------------------

def window_rows(res, pk):
    """Rows where the model compared its window with a captured host ACK:
    (row, captured_bytes, model_bytes, diff)."""
    p = res.packets
    rows = []
    for i, row in enumerate(pk):
        if not row.get("tcp") or row["dir"] != "out":
            continue
        f = row["flags"]
        if not (f & ACK) or (f & (SYN | RST)) or p["conn_id"][i] < 0:
            continue
        model = int(p["adv_win"][i])
        diff = int(p["win_diff"][i])
        cap = model + diff
        if model == 0 and diff == 0 and row["win"] != 0:
            continue                   # not compared (TIME_WAIT / untracked)
        rows.append((i, cap, model, diff))
    return rows


def window_summary(res, pk):
    rows = window_rows(res, pk)
    n = len(rows)
    exact = sum(1 for r in rows if r[3] == 0)
    dist = collections.Counter(r[3] for r in rows if r[3])
    conns = res.connections
    return {"compared": n, "exact": exact,
            "pct": 100.0 * exact / n if n else None,
            "errors": dict(sorted(dist.items())),
            "conn_compared": sum(c["window_compared"] for c in conns),
            "conn_diverged": sum(c["window_diverged"] for c in conns)}


def handshake_pairs(res, pk):
    """For each SYN the model answered and the capture shows answered: the
    model's SYN-ACK (win, wscale, mss) and the captured one."""
    from pystack.replay import names
    rep = names()["reply"]
    p = res.packets
    out = []
    for i, row in enumerate(pk):
        if not row.get("tcp") or row["dir"] != "in" or (row["flags"] & (SYN | ACK)) != SYN:
            continue
        if rep[int(p["reply"][i])] not in ("SYNACK", "SYNACK_COOKIE"):
            continue
        cap = next((r for r in pk[i + 1:] if r.get("tcp") and r["dir"] == "out"
                    and r["dport"] == row["sport"] and r["flags"] & SYN
                    and r["ack"] == (row["seq"] + 1) & 0xFFFFFFFF), None)
        if cap is None:
            continue
        ws = int(p["reply_wscale"][i])           # 255: no window-scale option
        out.append({"sport": row["sport"],
                    "model": (int(p["reply_win"][i]), None if ws == 255 else ws,
                              int(p["reply_mss"][i]) or None),
                    "kernel": (cap["win"], cap["wscale"], cap["mss"])})
    return out


def syn_answers(res, pk):
    """For every SYN the host received: what the kernel answered (the next host
    packet to that port before the peer's next packet: ``synack``, ``rst`` or
    ``none``) and what the model answered on that row."""
    from pystack.replay import names
    rep = names()["reply"]
    p = res.packets
    out = []
    for i, row in enumerate(pk):
        if not row.get("tcp") or row["dir"] != "in" or (row["flags"] & (SYN | ACK)) != SYN:
            continue
        kernel = "none"
        for r in pk[i + 1:]:
            if not r.get("tcp"):
                continue
            if r["dir"] == "in" and r["sport"] == row["sport"]:
                break
            if r["dir"] == "out" and r["dport"] == row["sport"]:
                kernel = ("synack" if r["flags"] & SYN else "rst" if r["flags"] & RST
                          else "other")
                break
        kind = rep[int(p["reply"][i])]
        model = ("synack" if kind in ("SYNACK", "SYNACK_COOKIE") else "rst" if kind == "RST"
                 else "none" if kind == "NONE" else kind.lower())
        out.append({"row": i, "sport": row["sport"], "kernel": kernel, "model": model})
    return out


def zero_window_rows(res, pk):
    """Captured host ACKs at a zero-window transition: window 0 after a non-zero
    one, and the first non-zero one after a 0 (per connection)."""
    last = {}
    out = []
    for i, cap, model, diff in window_rows(res, pk):
        row = pk[i]
        key = row["dport"]
        prev = last.get(key)
        w = row["win"]
        if prev is not None and ((w == 0) != (prev == 0)):
            out.append({"row": i, "sport": key, "to_zero": w == 0, "kernel": cap,
                        "model": model})
        last[key] = w
    return out


# --- report -------------------------------------------------------------------------

def summarize(d):
    truth, res, pk = replay(d)
    ct = counter_table(truth, res)
    co, mo = client_outcomes(truth), model_outcomes(truth, res, pk)
    ws = window_summary(res, pk)
    hs = handshake_pairs(res, pk)
    zw = zero_window_rows(res, pk)
    sa = syn_answers(res, pk)
    return {"syns": (sum(1 for a in sa if a["kernel"] == a["model"]), len(sa)),"name": truth["scenario"], "counters": ct,
            "synack": (sum(1 for h in hs if h["model"] == h["kernel"]), len(hs)),
            "zero_window": (sum(1 for z in zw if z["model"] == z["kernel"]), len(zw)),
            "counters_matched": sum(1 for _, k, m in ct if k == m),
            "outcomes": (co, mo),
            "outcomes_matched": sum(1 for s in co if co[s] == mo.get(s)),
            "windows": ws}


# --- netfilter scenarios: replayed with the recorded ruleset -----------------

# scenario -> (captures merged by time, the truth.json key of the modelled
# host's iptables-save -c dump)
NF_SCENARIOS = {
    "nf-input-rules": (("capture.pcap",), "iptables_save_server"),
    "nf-dnat-service": (("capture.pcap", "capture-pods.pcap"), "iptables_save_node"),
}

# rule counters that hold the statistic draws: the model's own draws, not the
# kernel's (the kernel's random choices are adopted from the capture for the
# conntrack table, the rule counters keep the model's): compared in total
NF_DRAWN = ("KUBE-SEP-", "-m statistic")

_SAVE_RULE = re.compile(r"^\[(\d+):(\d+)\] (.*)$")
_SAVE_POLICY = re.compile(r"^:(\S+) (\S+) \[(\d+):(\d+)\]$")


def nf_replay(d):
    """(truth, ReplayResult) of a netfilter scenario, its rules loaded; cached."""
    key = ("nf", d)
    if key in _cache:
        return _cache[key]
    from pystack.config import load_host_config
    from pystack.replay import Replay
    truth = load_truth(d)
    files, dump = NF_SCENARIOS[truth["scenario"]]
    host = load_host_config(os.path.join(d, "host.toml"))
    res = Replay(host, rules=truth["netfilter"][dump]).run([os.path.join(d, f) for f in files])
    _cache[key] = (truth, res)
    return _cache[key]


def save_counters(text):
    """{(table, rule text or ':CHAIN'): (packets, bytes)} of iptables-save -c text."""
    out, table = {}, None
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif (m := _SAVE_RULE.match(line)):
            out[(table, m.group(3))] = (int(m.group(1)), int(m.group(2)))
        elif (m := _SAVE_POLICY.match(line)) and m.group(2) != "-":
            out[(table, ":" + m.group(1))] = (int(m.group(3)), int(m.group(4)))
    return out


def conntrack_entries(text):
    """conntrack -L lines without the timeout column, sorted."""
    return sorted(" ".join(f[:2] + f[3:]) for f in (line.split() for line in text.splitlines()))


def nf_summary(d):
    truth, res = nf_replay(d)
    ct = [(c, kernel_value(truth, c), int(res.counters[c])) for c in compared_counters(truth)]
    kernel = save_counters(truth["netfilter"][NF_SCENARIOS[truth["scenario"]][1]])
    model = save_counters(res.rules_save())
    drawn = [k for k in kernel if any(x in k[1] for x in NF_DRAWN)]
    rules_ok = sum(1 for k in kernel if k not in drawn and model.get(k) == kernel[k])
    rules_ok += int(bool(drawn) and sum(model.get(k, (0, 0))[0] for k in drawn)
                    == sum(kernel[k][0] for k in drawn))
    rules_n = len(kernel) - len(drawn) + int(bool(drawn))
    kt = conntrack_entries(truth["netfilter"]["conntrack"]["list"])
    mt = conntrack_entries(res.conntrack["L"])
    return {"name": truth["scenario"], "counters": ct,
            "counters_matched": sum(1 for _, k, m in ct if k == m),
            "rules": (rules_ok, rules_n), "conntrack": (len(set(kt) & set(mt)), len(kt)),
            "conntrack_exact": kt == mt}


def report(data_dir) -> str:
    lines = [f"{'scenario':26s} {'counters':>9s} {'window exact':>16s} {'SYNs':>9s} "
             f"{'SYN-ACKs':>9s} {'0-win':>7s} {'outcomes':>9s}"]
    details = []
    nf_lines = [f"{'netfilter scenario':26s} {'counters':>9s} {'rule counters':>12s} "
                f"{'conntrack -L':>16s}"]
    for d in scenario_dirs(data_dir):
        t = load_truth(d)
        if t.get("netfilter"):
            n = nf_summary(d)
            nf_lines.append(f"{n['name']:26s} {n['counters_matched']:>4d}/{len(n['counters']):<4d} "
                            f"{'%d/%d' % n['rules']:>12s} {'%d/%d' % n['conntrack']:>16s}")
            for name, k, m in n["counters"]:
                if k != m:
                    details.append(f"  {n['name']}: {name} kernel {k} model {m}")
            continue
        s = summarize(d)
        w = s["windows"]
        wtxt = (f"{w['exact']}/{w['compared']} {w['pct']:.0f}%" if w["compared"] else "-")
        sy, sa, zw = "%d/%d" % s["syns"], "%d/%d" % s["synack"], "%d/%d" % s["zero_window"]
        lines.append(f"{s['name']:26s} {s['counters_matched']:>4d}/{len(s['counters']):<4d} "
                     f"{wtxt:>16s} {sy:>9s} {sa:>9s} {zw:>7s} "
                     f"{s['outcomes_matched']:>4d}/{len(s['outcomes'][0]):<4d}")
        for name, k, m in s["counters"]:
            if k != m:
                details.append(f"  {s['name']}: {name} kernel {k} model {m}")
        co, mo = s["outcomes"]
        for sp in co:
            if co[sp] != mo.get(sp):
                details.append(f"  {s['name']}: client port {sp} saw {co[sp]}, model {mo.get(sp)}")
        if w["errors"]:
            top = sorted(w["errors"].items(), key=lambda kv: -kv[1])[:6]
            details.append(f"  {s['name']}: window errors (captured - model bytes: count) "
                           + ", ".join(f"{e:+d}: {n}" for e, n in top))
    return "\n".join(lines + [""] + nf_lines
                     + (["", "mismatches:"] + details if details else []))
