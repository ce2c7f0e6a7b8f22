"""`pystack report OUT -o report.html`: one self-contained HTML page.

Plots (matplotlib, Agg backend, embedded as base64 PNG): SYN and accept
queue depth over time per listener, drops per reason over time, rule hits
(with --rules), receive queue and advertised window of the most-stalled
connections; then the
summary and a table of the non-zero counters.  Everything is read from the
output folder; the page has no external references.
"""
from __future__ import annotations

import base64
import html
import io

from pystack.results import summary as S
from pystack.results.load import read_arrow, run_info

MAX_POINTS = 20000          # plotted points per series (evenly thinned beyond)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _thin(df):
    if len(df) > MAX_POINTS:
        return df.iloc[::len(df) // MAX_POINTS + 1]
    return df


def _plots(path: str, info: dict, top: int) -> list[tuple[str, str]]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pystack.results.load import _to_pandas
    out = []
    listeners = (info.get("summary") or {}).get("listeners", [])
    smp = _to_pandas(read_arrow(path, "samples", info), "samples")
    pk = read_arrow(path, "packets", info, columns=["ts", "verdict", "reason"]).to_pandas()
    end = pk["ts"].max() if len(pk) else None
    lis = smp[smp["kind"] == "listener"]
    if len(lis):
        fig, ax = plt.subplots(figsize=(9, 3.2))
        for li, g in lis.groupby("listener"):
            lab = listeners[li]["label"] if li < len(listeners) else f"listener {li}"
            g = _thin(g)
            ts, aq, sq = list(g["ts"]), list(g["accept_queue"]), list(g["syn_queue"])
            if end is not None and end > ts[-1]:        # the last value holds to the end
                ts, aq, sq = ts + [end], aq + aq[-1:], sq + sq[-1:]
            ax.step(ts, aq, where="post", label=f"{lab} accept queue")
            ax.step(ts, sq, where="post", linestyle="--", label=f"{lab} SYN queue")
        ax.set_ylabel("sockets")
        ax.set_title("Listener queues")
        ax.legend(fontsize=8)
        out.append(("Accept and SYN queue depth per listener", _png(fig)))
    drops = pk[pk["verdict"] == "DROPPED"]
    if len(drops):
        fig, ax = plt.subplots(figsize=(9, 3.2))
        span = (pk["ts"].max() - pk["ts"].min()).total_seconds()
        freq = "1s" if span > 20 else ("100ms" if span > 2 else "10ms")
        import pandas as pd
        reasons = list(drops["reason"].astype(str).value_counts().index[:8])
        d = drops[drops["reason"].astype(str).isin(reasons)].assign(
            reason=drops["reason"].astype(str))
        grid = pd.date_range(pk["ts"].min().floor(freq), pk["ts"].max().ceil(freq), freq=freq)
        counts = (d.groupby([pd.Grouper(key="ts", freq=freq), "reason"]).size()
                  .unstack(fill_value=0).reindex(grid, fill_value=0))
        for r in reasons:
            ax.step(counts.index, counts[r].values, where="post", label=r)
        ax.set_ylabel(f"drops per {freq}")
        ax.set_title("Drops by reason over time")
        ax.legend(fontsize=8)
        out.append(("Drops per reason over time", _png(fig)))
    if S.has_table(info, "rules"):
        r = read_arrow(path, "rules", info).to_pandas()
        r = r[r["packets"] > 0].sort_values(["packets", "rule_id"],
                                             ascending=[False, True]).head(15)
        if len(r):
            labels = [f"{x.table} {x.chain} " + (f"#{x.number}" if x.number else "policy")
                      for x in r.itertuples()]
            fig, ax = plt.subplots(figsize=(9, 0.35 * len(r) + 1.2))
            ax.barh(range(len(r))[::-1], list(r["packets"]))
            ax.set_yticks(range(len(r))[::-1], labels, fontsize=8)
            ax.set_xlabel("packets")
            ax.set_title("Rule hits (the model's iptables counters)")
            out.append(("Netfilter rule hits", _png(fig)))
    conns = read_arrow(path, "connections", info,
                       columns=["conn_id", "zero_window_ns", "max_rcv_queue"]).to_pandas()
    worst = conns.sort_values(["zero_window_ns", "max_rcv_queue", "conn_id"],
                              ascending=[False, False, True]).head(top)
    worst = worst[(worst["zero_window_ns"] > 0) | (worst["max_rcv_queue"] > 0)]
    socks = smp[smp["kind"] == "socket"]
    for cid in worst["conn_id"].tolist():
        g = _thin(socks[socks["conn_id"] == cid])
        if not len(g):
            continue
        fig, ax = plt.subplots(figsize=(9, 3.0))
        ax.step(g["ts"], g["rcv_queue"], where="post", label="receive queue (bytes)")
        ax.step(g["ts"], g["adv_win"], where="post", label="advertised window (bytes)")
        ax.set_title(f"Connection {cid}")
        ax.legend(fontsize=8)
        out.append((f"Receive queue and advertised window, connection {cid}", _png(fig)))
    return out


def render(path: str, top: int = 3) -> str:
    info = run_info(path)
    s = S.summarize(path)
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
             f"<title>pystack report: {html.escape(path)}</title>",
             "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;"
             "text-align:right}td:first-child{text-align:left}pre{background:#f6f6f6;"
             "padding:8px}</style></head><body>",
             f"<h1>pystack report</h1><p>{html.escape(path)}</p>",
             "<h2>Summary</h2><pre>" + html.escape(S.format_summary(s)) + "</pre>"]
    for title, png in _plots(path, info, top):
        parts.append(f"<h2>{html.escape(title)}</h2>"
                     f"<img alt='{html.escape(title)}' src='data:image/png;base64,{png}'>")
    parts.append("<h2>Counters</h2><table><tr><th>counter</th><th>final value</th></tr>")
    for k, v in s["counters"].items():
        parts.append(f"<tr><td>{html.escape(k)}</td><td>{v:,}</td></tr>")
    parts.append("</table>")
    inputs = ", ".join(html.escape(f"{d['path']} (sha256 {d.get('sha256')})")
                       for d in info.get("inputs", []))
    parts.append(f"<h2>Run</h2><p>inputs: {inputs}</p>"
                 f"<p>versions: {html.escape(str(info.get('versions')))}</p></body></html>\n")
    return "\n".join(parts)


def write_report(path: str, out: str) -> str:
    text = render(path)
    with open(out, "w") as f:
        f.write(text)
    return out
