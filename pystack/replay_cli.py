"""`pystack replay`: run captures through the stack model, print the kernel's view.

The summary is built from per-batch numpy tallies (verdicts, drop reasons)
and the engine's counters; no per-packet Python.  With -o OUT every result
table is written into OUT (pystack.results) and the closing summary is read
back from the folder (the same text `pystack summary OUT` prints).
"""
from __future__ import annotations

import sys

import numpy as np

from pystack import vocab


class Tally:
    """Packets by verdict and drops by reason, accumulated batch by batch."""

    def __init__(self):
        self.verdicts = np.zeros(256, np.int64)
        self.reasons = np.zeros(len(vocab.DROP_REASONS), np.int64)
        self.dropped_code = None
        self.nf_drops = {}          # (hook, table) -> NETFILTER_DROP packets

    def add(self, rb, cols, verdicts) -> None:
        n = cols.n
        if not n:
            return
        v = verdicts.columns()
        if self.dropped_code is None:
            from pystack.replay import names
            self.dropped_code = {name: code for code, name in names()["verdict"].items()}["DROPPED"]
        verdict = v["verdict"][:n]
        self.verdicts += np.bincount(verdict, minlength=256)
        dropped = verdict == self.dropped_code
        self.reasons += np.bincount(v["reason"][:n][dropped],
                                    minlength=len(vocab.DROP_REASONS))
        if "nf_hook" in v:
            nfd = dropped & (v["reason"][:n] == vocab.reason_code("NETFILTER_DROP"))
            if nfd.any():
                key = v["nf_hook"][:n][nfd].astype(np.int64) * 8 + v["nf_table"][:n][nfd]
                for k, c in zip(*np.unique(key, return_counts=True)):
                    self.nf_drops[int(k)] = self.nf_drops.get(int(k), 0) + int(c)


def infer_host(paths, batch_size):
    """A first pass over the capture: which host answered SYNs, on which ports."""
    from pystack.capture import open_capture
    from pystack.infer import Inference
    from pystack._core.parse import PacketColumns, parse_batch

    inf = Inference()
    cols = PacketColumns(batch_size)
    with open_capture(paths, batch_size=batch_size) as cap:
        for rb in cap:
            parse_batch(rb, cols)
            inf.feed(cols.to_dict())
    return inf


def summary(result, tally, host, inferred_text=None, error=None) -> dict:
    from pystack.replay import names

    vnames = names()["verdict"]
    return {
        "host": {"addresses": list(host.addresses), "profile": host.to_dict()["host"]["profile"],
                 "inferred": inferred_text},
        "packets": int(tally.verdicts.sum()),
        "verdicts": {vnames[c]: int(k) for c, k in enumerate(tally.verdicts) if k and c in vnames},
        "drops": {vocab.DROP_REASONS[c]: int(k)
                  for c, k in sorted(enumerate(tally.reasons), key=lambda ck: -ck[1]) if k},
        "listeners": result.listeners,
        "counters": result.nonzero(),
        "checksum": result.checksum,
        "divergences": {k: v for k, v in result.divergences.items() if v},
        "netfilter": _nf_summary(result, tally),
        "error": error,
    }


def _nf_summary(result, tally):
    """Rule hits, NETFILTER_DROP by hook / table, conntrack usage (None
    without --rules / conntrack)."""
    if result._conntrack is None:
        return None
    from pystack._core.engine import NF_HOOKS, NF_TABLES
    hits = [{"table": r["table"], "chain": r["chain"], "number": r["number"],
             "text": r["text"], "packets": r["packets"], "bytes": r["bytes"]}
            for r in result.rules if r["packets"] and r["number"]]
    hits.sort(key=lambda r: -r["packets"])
    drops = {}
    for k, c in sorted(tally.nf_drops.items()):
        hook, table = k // 8, k % 8
        name = (f"{NF_TABLES[table]} {NF_HOOKS[hook]}" if 0 <= hook < 5 and table < 5
                else "conntrack")
        drops[name] = drops.get(name, 0) + c
    st = dict(result.conntrack["stats"])
    entries = st.pop("entries", 0)
    return {"rule_hits": hits, "netfilter_drops": drops,
            "conntrack": {"entries": entries, "stats": {k: v for k, v in st.items() if v}}}


def format_summary(s: dict) -> str:
    out = []
    host = ", ".join(s["host"]["addresses"]) or "(none)"
    how = " (inferred from the capture)" if s["host"]["inferred"] else ""
    out.append(f"host        {host}{how}; kernel profile {s['host']['profile']}")
    out.append(f"packets     {s['packets']:,}: " +
               ", ".join(f"{k} {v:,}" for k, v in s["verdicts"].items()))
    if s["drops"]:
        out.append("drops       " + ", ".join(f"{k} {v:,}" for k, v in s["drops"].items()))
    for l in s["listeners"]:
        if l.get("proto", "tcp") != "tcp":
            continue
        out.append(
            f"listener    {l['label']} backlog {l.get('backlog')}: SYN queue max "
            f"{l['syn_queue_max']}, accept queue max {l['accept_queue_max']} "
            f"(holds {l['max_ack_backlog'] + 1}), overflows {l['overflows']:,}, "
            f"listen drops {l['drops']:,}, cookies sent {l['cookies_sent']:,}, "
            f"passive opens {l['passive_opens']:,}")
    if s["counters"]:
        out.append("counters    " + ", ".join(f"{k} {v:,}" for k, v in s["counters"].items()))
    if s["divergences"]:
        out.append("vs capture  " + ", ".join(f"{k} {v:,}" for k, v in s["divergences"].items()))
    nf = s.get("netfilter")
    if nf:
        for r in nf["rule_hits"][:10]:
            out.append(f"rule        {r['table']} {r['chain']} #{r['number']} "
                       f"[{r['packets']:,}:{r['bytes']:,}] {r['text']}")
        if len(nf["rule_hits"]) > 10:
            out.append(f"            ... {len(nf['rule_hits']) - 10} more rules hit")
        if nf["netfilter_drops"]:
            out.append("NETFILTER_DROP " + ", ".join(f"{k} {v:,}"
                                                     for k, v in nf["netfilter_drops"].items()))
        ct = nf["conntrack"]
        out.append(f"conntrack   {ct['entries']:,} entries at the end" +
                   ("; " + ", ".join(f"{k} {v:,}" for k, v in ct["stats"].items())
                    if ct["stats"] else ""))
    if s["error"]:
        out.append(f"error       {s['error']}")
        out.append("            (the summary above covers the packets before the error)")
    return "\n".join(out) + "\n"


def run(args) -> int:
    from pystack.capture import CaptureError, PIPELINE_BATCH, open_capture
    from pystack.config import host_config_from_args
    from pystack.replay import Replay

    inferred = None
    base = None
    if not args.config:
        inferred = infer_host(args.captures, PIPELINE_BATCH)
        base = inferred.result()
        if not args.quiet:
            print("pystack: no --config; inferred the host from the capture:", file=sys.stderr)
            print(inferred.describe().rstrip(), file=sys.stderr)
    host = host_config_from_args(args, base=base)
    if not host.addresses:
        from pystack.cli import UsageError
        raise UsageError("no host address: nothing in the capture answered a SYN; "
                         "describe the host with --config")
    tally = Tally()
    rules = list(getattr(args, "rules", None) or []) or None
    try:
        replay = Replay(host, checksum=args.checksum, seed=args.seed, rules=rules,
                        lenient=bool(getattr(args, "lenient", False)))
    except (OSError, ValueError) as e:
        from pystack.cli import UsageError
        raise UsageError(f"--rules: {e}") from None
    if getattr(args, "output", None):
        return _run_output(args, replay, inferred)
    if getattr(args, "format", None) or getattr(args, "force", False):
        from pystack.cli import UsageError
        raise UsageError("--format and --force go with -o OUT")
    error = None
    try:
        with open_capture(args.captures, batch_size=PIPELINE_BATCH) as cap:
            for rb in cap:
                replay.step(rb, on_batch=tally.add, collect=False)
    except CaptureError as e:
        error = str(e)
    result = replay.finish()
    from pystack.cli import write_result
    write_result(summary(result, tally, host, inferred.describe() if inferred else None, error),
                 args.json, format_summary)
    if error:
        print(f"pystack: {error}", file=sys.stderr)
        return 1
    return 0


class Progress:
    """A one-line progress bar on stderr (packets/s, ETA from the bytes read)."""

    def __init__(self, paths, stream=None):
        import os
        import time
        self.stream = stream or sys.stderr
        self.sizes = [os.path.getsize(p) for p in paths]
        self.total = max(sum(self.sizes), 1)
        self.pos = [0] * len(paths)
        self.packets = 0
        self.t0 = time.perf_counter()
        self.last = 0.0
        self._time = time.perf_counter

    def __call__(self, rb, cols, v):
        n = cols.n
        if not n:
            return
        self.packets += n
        src = int(rb.src_arr[n - 1])
        if 0 <= src < len(self.pos):
            self.pos[src] = max(self.pos[src], int(rb.fileoff_arr[n - 1]))
        now = self._time()
        if now - self.last < 0.2:
            return
        self.last = now
        el = now - self.t0
        frac = min(sum(self.pos) / self.total, 1.0)
        rate = self.packets / el if el > 0 else 0
        eta = el * (1 - frac) / frac if frac > 0 else 0
        bar = "#" * int(frac * 30)
        self.stream.write(f"\r[{bar:<30}] {frac * 100:5.1f}%  {self.packets:,} packets  "
                          f"{rate / 1e6:.2f} M pkts/s  ETA {eta:5.1f} s ")
        self.stream.flush()

    def close(self):
        if self.last:
            self.stream.write("\r" + " " * 90 + "\r")
            self.stream.flush()


def _run_output(args, replay, inferred) -> int:
    import signal

    from pystack.cli import UsageError, write_result
    from pystack.results import summary as S
    from pystack.results.run import StopFlag, replay_to_folder
    from pystack.results.writer import DEFAULT_FORMAT, OutputExists

    if args.counter_interval <= 0:
        raise UsageError("--counter-interval must be positive")
    progress = None
    if not args.quiet and sys.stderr.isatty():
        progress = Progress(args.captures)
    extra = {"command": ["pystack"] + list(sys.argv[1:]),
             "inferred_host": inferred.describe() if inferred else None}
    with StopFlag() as stop:
        try:
            path, result, info = replay_to_folder(
                replay, args.captures, args.output, fmt=args.format or DEFAULT_FORMAT,
                force=args.force, counter_interval_ns=int(args.counter_interval * 1e9),
                on_batch=progress, stop=stop, extra_info=extra)
        except OutputExists as e:
            raise UsageError(str(e)) from None
        finally:
            if progress:
                progress.close()
    if result is None:
        print(f"pystack: interrupted; the batches finished so far are in {path}",
              file=sys.stderr)
        return 130 if stop.signum == signal.SIGINT else 128 + int(stop.signum or 15)
    write_result(S.summarize(path), args.json, S.format_summary)
    if not args.json:
        sys.stdout.write(f"written     {path}\n")
    if info.get("error"):
        print(f"pystack: {info['error']}", file=sys.stderr)
        return 1
    return 0
