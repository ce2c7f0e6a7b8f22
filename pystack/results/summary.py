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
    order = [v for v in ("DELIVERED", "DROPPED", "FORWARDED", "SENT", "NOT_HOST", "QUEUED",
                         "UNMODELLED")
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
        "netfilter": nf_summary(path, info, top) if "netfilter" in info else None,
    }


# --- netfilter --------------------------------------------------------------------

def has_table(info: dict, table: str) -> bool:
    return table in info.get("tables", {})


def nf_summary(path: str, info: dict, top: int = 10) -> dict:
    """Rule hits (most packets first), NETFILTER_DROP by hook / table (a
    drop without a deciding rule is conntrack's: table full, INVALID with
    nf_conntrack_tcp_loose off...), conntrack usage."""
    import pyarrow.compute as pc
    hits = []
    if has_table(info, "rules"):
        r = read_arrow(path, "rules", info).to_pandas()
        r = r[(r["packets"] > 0) & (r["number"] > 0)].sort_values(
            ["packets", "rule_id"], ascending=[False, True])
        hits = [{"family": int(x.family), "table": x.table, "chain": x.chain,
                 "number": int(x.number), "text": x.text, "packets": int(x.packets),
                 "bytes": int(x.bytes)} for x in r.itertuples()]
    t = read_arrow(path, "packets", info, columns=["reason", "nf_hook", "nf_table"])
    drops = {}
    if t.num_rows:
        d = t.filter(pc.equal(t.column("reason").cast("string"), "NETFILTER_DROP"))
        hooks = d.column("nf_hook").cast("string").to_pylist()
        tables = d.column("nf_table").cast("string").to_pylist()
        for hook, table in zip(hooks, tables):
            key = "conntrack" if hook is None else f"{table} {hook}"
            drops[key] = drops.get(key, 0) + 1
    ct = {"entries": 0, "max": info["netfilter"].get("nf_conntrack_max"), "stats": {}}
    if has_table(info, "conntrack_stats"):
        st = read_arrow(path, "conntrack_stats", info).to_pylist()
        if st:
            st = st[0]
            ct["entries"] = st.pop("entries")
            ct["max"] = st.pop("max")
            ct["stats"] = {k: v for k, v in st.items() if v}
    return {"rule_hits": hits[:top], "rule_hits_total": len(hits),
            "netfilter_drops": dict(sorted(drops.items(), key=lambda kv: (-kv[1], kv[0]))),
            "conntrack": ct,
            "rulesets": [{"path": r["path"], "family": r["family"]}
                         for r in info["netfilter"].get("rulesets", [])]}


def format_nf(nf: dict) -> list:
    out = []
    for r in nf["rule_hits"]:
        out.append(f"rule        {r['table']} {r['chain']} #{r['number']} "
                   f"[{r['packets']:,}:{r['bytes']:,}] {r['text']}")
    more = nf["rule_hits_total"] - len(nf["rule_hits"])
    if more > 0:
        out.append(f"            ... {more} more rules hit")
    if nf["netfilter_drops"]:
        out.append("nf drops    NETFILTER_DROP " + ", ".join(
            f"{k} {v:,}" for k, v in nf["netfilter_drops"].items()))
    ct = nf["conntrack"]
    line = f"conntrack   {ct['entries']:,} entries at the end (max {ct['max']:,})"
    if ct["stats"]:
        line += "; " + ", ".join(f"{k} {v:,}" for k, v in ct["stats"].items())
    out.append(line)
    return out


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
    if s.get("netfilter"):
        out += format_nf(s["netfilter"])
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
    if "nf_hooks" in p:
        out += _explain_nf(path, info, p)
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


def _explain_nf(path: str, info: dict, p: dict) -> list:
    """The netfilter steps of one packet: hooks traversed (in order), the
    deciding rule with its text, conntrack state, NAT rewrite."""
    out = []
    hooks = p["nf_hooks"]
    out.append("netfilter   hooks " + (" -> ".join(hooks.split(",")) if hooks
                                       else "none traversed"))
    if p["nf_rule"] is not None and p["nf_rule"] >= 0:
        text = ""
        if has_table(info, "rules"):
            rr = _row(path, "rules", info, "rule_id", int(p["nf_rule"]))
            text = rr["text"] if rr else ""
        what = "policy" if p["nf_rule_num"] == 0 else f"rule #{p['nf_rule_num']}"
        out.append(f"            decided at {p['nf_hook']} by {p['nf_table']} "
                   f"{p['nf_chain']} {what}: {text}")
    if p["ctstate"]:
        ct = f"conntrack   {p['ctstate']}"
        ct += f", entry {p['ct_id']}" if p["ct_id"] >= 0 else ", not confirmed (no entry)"
        out.append(ct)
    elif hooks:
        out.append("conntrack   not tracked")
    if p["nat_chg"]:
        out.append(f"nat         rewrote {p['nat_chg']}: now {p['nat_src']}:{p['nat_sport']} -> "
                   f"{p['nat_dst']}:{p['nat_dport']}")
    return out


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
    rules = _rule_diff(a, ia, b, ib)
    return {"a": a, "b": b, "counters": counters, "drops": drops,
            "connections_changed": len(changed), "connections": changed[:top],
            "rules": rules[:top], "rules_changed": len(rules)}


def _rule_counts(path: str, info) -> dict:
    if not has_table(info, "rules"):
        return {}
    # a rule is known by its chain and text (the n-th copy of the same text),
    # not its number: a rule inserted in B does not make the later ones new
    out, seen = {}, {}
    for r in read_arrow(path, "rules", info).to_pylist():
        name = r["text"] if r["number"] else f"policy {r['text']}"
        k = (r["family"], r["table"], r["chain"], name)
        seen[k] = seen.get(k, 0) + 1
        out[k + (seen[k],)] = (r["packets"], r["bytes"], r["number"])
    return out


def _rule_diff(a, ia, b, ib) -> list:
    """Rules whose counters differ between the runs (a rule in one run only
    counts as 0 in the other); number: in B when there, else in A."""
    ra, rb = _rule_counts(a, ia), _rule_counts(b, ib)
    out = []
    for k in list(ra) + [k for k in rb if k not in ra]:
        x, y = ra.get(k, (0, 0, None)), rb.get(k, (0, 0, None))
        if x[:2] != y[:2]:
            out.append({"family": k[0], "table": k[1], "chain": k[2],
                        "number": y[2] if y[2] is not None else x[2],
                        "text": k[3], "a": list(x[:2]), "b": list(y[:2]),
                        "only_in": "a" if y[2] is None else ("b" if x[2] is None else None)})
    return out


def _fate_text(f) -> str:
    if f is None:
        return "no connection"
    t = f"{f['why']} ({f['state']})"
    if f["drops"]:
        t += f", {f['drops']} drops"
    return t


def format_diff(d: dict) -> str:
    out = [f"A = {d['a']}", f"B = {d['b']}"]
    if not (d["counters"] or d["drops"] or d["connections_changed"] or d.get("rules_changed")):
        out.append("no difference in counters, drops, connection fates or rule counters")
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
    for r in d.get("rules", []):
        (pa_, ba), (pb, bb) = r["a"], r["b"]
        where = {"a": " (only in A)", "b": " (only in B)"}.get(r.get("only_in"), "")
        out.append(f"rule        {r['table']} {r['chain']} #{r['number']} {r['text']}{where}: "
                   f"[{pa_:,}:{ba:,}] -> [{pb:,}:{bb:,}] ({pb - pa_:+,} packets)")
    more = d.get("rules_changed", 0) - len(d.get("rules", []))
    if more > 0:
        out.append(f"            ... {more} more rules changed")
    return "\n".join(out) + "\n"
