"""Read an output folder back for people: `pystack summary`, `explain`, `diff`.

Everything comes from the folder (run.json and the tables), so the summary
printed at the end of `pystack replay -o` and `pystack summary OUT` are the
same text.
"""
from __future__ import annotations

from pystack import vocab
from pystack.results.load import read_arrow, run_info

# Drop reason -> the counters the kernel bumps on the same path (sheet
# names; shown beside the reason in the summary).  Checked against
# pystack.vocab at import.
REASON_COUNTERS = {
    "TCP_LISTEN_OVERFLOW": ("TcpExtListenOverflows", "TcpExtListenDrops"),
    "NO_SOCKET": ("TcpOutRsts",),
    "TCP_CSUM": ("TcpInCsumErrors", "TcpInErrs"),
    "IP_CSUM": ("IpExtInCsumErrors", "IpInHdrErrors"),
    "IP_INHDR": ("IpInHdrErrors",),
    "PKT_TOO_SMALL": ("IpExtInTruncatedPkts",),
    "TCP_ZEROWINDOW": ("TcpExtTCPZeroWindowDrop",),
    "PROTO_MEM": ("TcpExtTCPRcvQDrop", "TcpExtPruneCalled"),
    "TCP_OFOMERGE": ("TcpExtTCPOFOMerge",),
    "TCP_RFC7323_PAWS": ("TcpExtPAWSEstab",),
    "TCP_RFC7323_PAWS_ACK": ("TcpExtPAWSOldAck",),
    "TCP_RFC7323_TW_PAWS": ("TcpExtPAWSTimewait",),
    "TCP_RFC7323_TSECR": ("TcpExtTSEcrRejected",),
    "TCP_INVALID_SYN": ("TcpExtTCPSYNChallenge",),
    "SOCKET_RCVBUFF": ("UdpRcvbufErrors", "Udp6RcvbufErrors"),
    "UDP_CSUM": ("UdpInCsumErrors",),
    "IP_NOPROTO": ("IpInUnknownProtos",),
}
for _r, _cs in REASON_COUNTERS.items():
    vocab.reason_code(_r)
    for _c in _cs:
        if _c not in vocab.COUNTERS:
            raise AssertionError(f"REASON_COUNTERS: unknown counter {_c}")


def final_counters(path: str, info=None) -> dict:
    t = read_arrow(path, "counters", info)
    fin = t.filter(t.column("final"))
    names = fin.column("counter").to_pylist()
    vals = fin.column("value").to_pylist()
    return dict(zip(names, vals))


def _packet_tally(path: str, info) -> tuple[dict, dict]:
    """Packets by verdict and drops by reason, from the packets table."""
    import pyarrow.compute as pc
    t = read_arrow(path, "packets", info, columns=["verdict", "reason"])
    verdicts = {}
    drops = {}
    if t.num_rows:
        for row in pc.value_counts(t.column("verdict")).to_pylist():
            verdicts[row["values"]] = row["counts"]
        dropped = t.filter(pc.equal(t.column("verdict").cast("string"), "DROPPED"))
        for row in pc.value_counts(dropped.column("reason")).to_pylist():
            if row["values"] is not None:
                drops[row["values"]] = row["counts"]
    order = [v for v in ("DELIVERED", "DROPPED", "SENT", "NOT_HOST", "QUEUED", "UNMODELLED")
             if v in verdicts]
    return ({k: verdicts[k] for k in order},
            dict(sorted(drops.items(), key=lambda kv: (-kv[1], kv[0]))))


def summarize(path: str, top: int = 10) -> dict:
    info = run_info(path)
    verdicts, drops = _packet_tally(path, info)
    ctr = final_counters(path, info)
    conns = read_arrow(path, "connections", info,
                       columns=["conn_id", "remote", "rport", "local", "lport",
                                "zero_window_advs", "zero_window_ns", "max_rcv_queue",
                                "why"]).to_pandas()
    stalled = conns[conns["zero_window_ns"] > 0].sort_values(
        ["zero_window_ns", "conn_id"], ascending=[False, True])
    s = info.get("summary") or {}
    listeners = []
    for j, l in enumerate(s.get("listeners", [])):
        if l.get("proto", "tcp") != "tcp":
            continue
        listeners.append({"index": j, "label": l["label"], "backlog": l.get("backlog"),
                          "overflows": l.get("overflows", 0), "drops": l.get("drops", 0),
                          "accept_queue_max": l.get("accept_queue_max"),
                          "syn_queue_max": l.get("syn_queue_max"),
                          "cookies_sent": l.get("cookies_sent", 0)})
    return {
        "path": path,
        "complete": bool(info.get("complete")),
        "packets": int(sum(verdicts.values())),
        "verdicts": verdicts,
        "drops": [{"reason": r, "packets": n,
                   "counters": {c: ctr.get(c, 0) for c in REASON_COUNTERS.get(r, ())}}
                  for r, n in list(drops.items())[:top]],
        "listeners": listeners,
        "stalled": [{"conn_id": int(r.conn_id), "remote": f"{r.remote}:{r.rport}",
                     "local": f"{r.local}:{r.lport}", "zero_windows": int(r.zero_window_advs),
                     "zero_window_ns": int(r.zero_window_ns),
                     "max_rcv_queue": int(r.max_rcv_queue), "why": str(r.why)}
                    for r in stalled.head(top).itertuples()],
        "stalled_total": int(len(stalled)),
        "connections": int(len(conns)),
        "counters": {k: v for k, v in ctr.items() if v},
        "divergences": {k: v for k, v in s.get("divergences", {}).items() if v},
        "warnings": info.get("warnings", []),
    }


def format_summary(s: dict) -> str:
    out = []
    if not s["complete"]:
        out.append("INCOMPLETE  the run was interrupted; this covers the batches finished")
    out.append(f"packets     {s['packets']:,}: " +
               ", ".join(f"{k} {v:,}" for k, v in s["verdicts"].items()))
    for d in s["drops"]:
        c = ", ".join(f"{k} {v:,}" for k, v in d["counters"].items())
        out.append(f"drop        {d['reason']} {d['packets']:,}" + (f"  ({c})" if c else ""))
    for l in s["listeners"]:
        if l["overflows"] or l["drops"]:
            out.append(f"overflowed  listener {l['label']} backlog {l['backlog']}: "
                       f"overflows {l['overflows']:,}, listen drops {l['drops']:,}, "
                       f"accept queue max {l['accept_queue_max']}, "
                       f"cookies sent {l['cookies_sent']:,}")
    for c in s["stalled"]:
        out.append(f"zero window conn {c['conn_id']} {c['remote']} -> {c['local']}: "
                   f"{c['zero_windows']} zero-window ACKs, {c['zero_window_ns'] / 1e9:.3f} s "
                   f"at zero, receive queue max {c['max_rcv_queue']:,} ({c['why']})")
    if s["stalled_total"] > len(s["stalled"]):
        out.append(f"            ... {s['stalled_total'] - len(s['stalled'])} more "
                   "connections stalled at zero window")
    out.append(f"connections {s['connections']:,}")
    if s["divergences"]:
        out.append("vs capture  " + ", ".join(f"{k} {v:,}" for k, v in s["divergences"].items()))
    for w in s["warnings"]:
        out.append(f"warning     {w}")
    return "\n".join(out) + "\n"


# --- explain --------------------------------------------------------------------

_FLAG_NAMES = ((0x02, "SYN"), (0x10, "ACK"), (0x01, "FIN"), (0x04, "RST"), (0x08, "PSH"),
               (0x20, "URG"), (0x40, "ECE"), (0x80, "CWR"))


def flag_text(f: int) -> str:
    return "|".join(n for b, n in _FLAG_NAMES if f & b) or "-"


def _ns_text(ns: int) -> str:
    import numpy as np
    return str(np.datetime64(int(ns), "ns")).replace("T", " ")


def _int_ts(t):
    """Timestamps as int64 ns (Python datetimes stop at microseconds)."""
    import pyarrow as pa
    for i, f in enumerate(t.schema):
        if pa.types.is_timestamp(f.type):
            t = t.set_column(i, f.name, t.column(i).cast(pa.int64()))
    return t


def _row(path: str, table: str, info, column: str, value) -> dict | None:
    import pyarrow.compute as pc
    t = read_arrow(path, table, info)
    m = t.filter(pc.equal(t.column(column), value))
    if not m.num_rows:
        return None
    return _int_ts(m.slice(0, 1)).to_pylist()[0]


def explain(path: str, frame: int) -> str:
    """One packet's path through the model, from the tables."""
    import pyarrow.compute as pc
    info = run_info(path)
    p = _row(path, "packets", info, "frame", int(frame))
    if p is None:
        raise KeyError(f"no frame {frame} in {path}")
    proto = {6: "TCP", 17: "UDP", 1: "ICMP", 58: "ICMPv6"}.get(p["proto"], f"proto {p['proto']}")
    out = [f"frame {p['frame']}  {_ns_text(p['ts'])}  interface {p['interface']}"]
    if p["ip_version"]:
        line = (f"parse       IPv{p['ip_version']} {proto} {p['src']}:{p['sport']} -> "
                f"{p['dst']}:{p['dport']}")
        if p["proto"] == 6:
            line += (f"  flags {flag_text(p['tcp_flags'])} seq {p['seq']} ack {p['ack']} "
                     f"win {p['window']}")
        line += f"  payload {p['payload_len']}"
        out.append(line)
    else:
        out.append("parse       not IP")
    out.append(f"checksum    IP {p['ip_csum']}, L4 {p['l4_csum']}")
    dtext = {"IN": "to the host", "OUT": "from the host (observed)",
             "FWD": "would be forwarded", "OTHER": "not the host's"}.get(p["direction"], "")
    out.append(f"direction   {p['direction']} ({dtext})")
    listeners = (info.get("summary") or {}).get("listeners", [])
    if p["listener"] >= 0:
        lab = listeners[p["listener"]]["label"] if p["listener"] < len(listeners) else ""
        out.append(f"socket      listener {p['listener']} {lab}; socket state after: "
                   f"{p['sock_state'] or '-'}")
        # the listener's queues at this time (its last sample at or before)
        t = _int_ts(read_arrow(path, "samples", info))
        if t.num_rows:
            m = t.filter(pc.and_(pc.equal(t.column("listener"), p["listener"]),
                                 pc.and_(pc.equal(t.column("kind").cast("string"), "listener"),
                                         pc.less_equal(t.column("ts"), p["ts"]))))
            if m.num_rows:
                last = m.slice(m.num_rows - 1, 1).to_pylist()[0]
                when = "at this packet" if last["ts"] == p["ts"] else \
                    f"since {_ns_text(last['ts'])}"
                out.append(f"queues      SYN queue {last['syn_queue']}, accept queue "
                           f"{last['accept_queue']} ({when})")
    elif p["sock_state"]:
        out.append(f"socket      state after: {p['sock_state']}")
    if p["conn_id"] >= 0:
        out.append(f"connection  {p['conn_id']}")
    v = f"verdict     {p['verdict']}"
    if p["reason"]:
        v += f": {p['reason']}"
    out.append(v)
    if p["reply"] and p["reply"] != "NONE":
        r = f"sent        {p['reply']} seq {p['reply_seq']} ack {p['reply_ack']} win {p['reply_win']}"
        r += f" flags {flag_text(p['reply_flags'])}"
        if p["reply_mss"]:
            r += f" mss {p['reply_mss']}"
        if p["reply_wscale"] != 255:
            r += f" wscale {p['reply_wscale']}"
        out.append(r)
    else:
        out.append("sent        nothing")
    if p["conn_id"] >= 0 and (p["adv_win"] or p["rcv_queue"] or p["win_diff"]):
        w = f"window      receive queue {p['rcv_queue']:,} bytes, next ACK advertises {p['adv_win']:,}"
        if p["direction"] == "OUT" and p["win_diff"]:
            w += f"; captured window differs by {p['win_diff']:+,}"
        out.append(w)
    return "\n".join(out) + "\n"


# --- diff -----------------------------------------------------------------------

def _fates(path: str, info) -> dict:
    t = read_arrow(path, "connections", info,
                   columns=["local", "lport", "remote", "rport", "start", "why", "state", "drops",
                            "zero_window_ns"]).to_pandas()
    t = t.sort_values(["start", "remote", "rport"], kind="stable")
    out = {}
    for r in t.itertuples(index=False):
        key = (r.remote, int(r.rport), r.local, int(r.lport))
        if key not in out:
            out[key] = {"why": str(r.why), "state": str(r.state), "drops": int(r.drops),
                        "zero_window_ns": int(r.zero_window_ns)}
    return out


def diff(a: str, b: str, top: int = 20) -> dict:
    ia, ib = run_info(a), run_info(b)
    ca, cb = final_counters(a, ia), final_counters(b, ib)
    counters = {k: (ca.get(k, 0), cb.get(k, 0)) for k in vocab.COUNTERS
                if ca.get(k, 0) != cb.get(k, 0)}
    _, da = _packet_tally(a, ia)
    _, db = _packet_tally(b, ib)
    drops = {k: (da.get(k, 0), db.get(k, 0)) for k in sorted(set(da) | set(db))
             if da.get(k, 0) != db.get(k, 0)}
    fa, fb = _fates(a, ia), _fates(b, ib)
    changed = []
    for key in sorted(set(fa) | set(fb)):
        x, y = fa.get(key), fb.get(key)
        if x is None or y is None or x["why"] != y["why"] or x["state"] != y["state"] \
                or x["drops"] != y["drops"]:
            changed.append({"connection": f"{key[0]}:{key[1]} -> {key[2]}:{key[3]}",
                            "a": x, "b": y})
    return {"a": a, "b": b, "counters": counters, "drops": drops,
            "connections_changed": len(changed), "connections": changed[:top]}


def _fate_text(f) -> str:
    if f is None:
        return "no connection"
    t = f"{f['why']} ({f['state']})"
    if f["drops"]:
        t += f", {f['drops']} drops"
    return t


def format_diff(d: dict) -> str:
    out = [f"A = {d['a']}", f"B = {d['b']}"]
    if not (d["counters"] or d["drops"] or d["connections_changed"]):
        out.append("no difference in counters, drops or connection fates")
        return "\n".join(out) + "\n"
    for k, (x, y) in d["counters"].items():
        out.append(f"counter     {k}: {x:,} -> {y:,} ({y - x:+,})")
    for k, (x, y) in d["drops"].items():
        out.append(f"drops       {k}: {x:,} -> {y:,} ({y - x:+,})")
    for c in d["connections"]:
        out.append(f"connection  {c['connection']}: {_fate_text(c['a'])} -> {_fate_text(c['b'])}")
    more = d["connections_changed"] - len(d["connections"])
    if more > 0:
        out.append(f"            ... {more} more connections changed")
    return "\n".join(out) + "\n"
