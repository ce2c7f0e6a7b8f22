"""Benchmark harness: time every registered stage on every trace.

    python -m bench [--traces synflood,bulk,mix|FILE.pcap] [--scale F]
                    [--stages read,read+parse,...,dpkt] [--repeat N]
                    [--dpkt-limit N] [--batch-size N] [--opt KEY=VALUE]
                    [--json OUT] [--list]

For each trace: make sure it exists (bench.gen; skipped when current), read it
once so it is in the page cache, run one untimed check pass (packet count,
captured bytes, and -- when the parser and checksum modules are there --
that every checksum verifies and every packet parses), then time each stage
`--repeat` times and report the best run (median alongside).  Rates are
packets/s and captured bytes/s (the sum of record caplens, pcap headers not
counted).  The ``dpkt loop`` baseline is a plain Python loop over
dpkt.pcap.Reader that parses Ethernet/IP/IP6/TCP/UDP and counts packets per
5-tuple in a dict; it is slow, so it runs on the first --dpkt-limit packets
(default 300,000) and its rate is from those.  ``x dpkt`` is a stage's
packets/s over the dpkt loop's.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Optional

from bench import gen
from bench.stages import STAGES, Setup, StageUnavailable, chain, targets_for

DPKT = "dpkt"                  # name of the baseline in --stages
DPKT_LABEL = "dpkt loop"
DEFAULT_DPKT_LIMIT = 300_000
from pystack.capture import PIPELINE_BATCH as DEFAULT_BATCH  # noqa: E402  (the pipeline's batch)


@dataclass
class Result:
    trace: str
    stage: str
    status: str                      # ok | unavailable | error
    reason: str = ""
    packets: int = 0                 # per run
    bytes: int = 0                   # captured bytes per run
    times: list = field(default_factory=list)
    best_s: float = 0.0
    median_s: float = 0.0
    pps: float = 0.0                 # best run
    Bps: float = 0.0
    pps_median: float = 0.0
    Bps_median: float = 0.0
    vs_dpkt: Optional[float] = None
    ir_per_packet: Optional[float] = None          # --callgrind, on the --callgrind-scale trace
    targets: list = field(default_factory=list)   # [{"target": str, "metric", "value", "verdict"}]


@dataclass
class TraceInfo:
    name: str
    path: str
    packets: int
    bytes: int
    file_bytes: int
    check: str = ""
    problems: list = field(default_factory=list)


# --------------------------------------------------------------------------
# running

def warm_page_cache(path):
    with open(path, "rb", buffering=0) as f:
        while f.read(16 << 20):
            pass


def _build_steps(stage, setup):
    steps = []
    for st in chain(stage):
        fn = st.factory(setup)
        if fn is not None:
            steps.append(fn)
    return steps


def run_stage_once(stage, path, meta, batch_size, options):
    """One timed pass of `stage` over `path`: (packets, seconds)."""
    setup = Setup(path=path, meta=meta, batch_size=batch_size, options=dict(options))
    steps = _build_steps(stage, setup)            # may raise ImportError / StageUnavailable
    from pystack.capture import open_capture
    n = 0
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        with open_capture(path, batch_size=batch_size) as cap:
            if not steps:
                for rb in cap:
                    n += rb.n
            elif len(steps) == 1:
                (s0,) = steps
                for rb in cap:
                    s0(rb)
                    n += rb.n
            else:
                for rb in cap:
                    for s in steps:
                        s(rb)
                    n += rb.n
        for fin in setup.finishers:
            fin()
        dt = time.perf_counter() - t0
    finally:
        gc.enable()
    return n, dt


def run_dpkt_once(path, limit):
    """The baseline: (packets, captured bytes, seconds) over the first `limit` packets."""
    import dpkt
    Ethernet, IP, IP6 = dpkt.ethernet.Ethernet, dpkt.ip.IP, dpkt.ip6.IP6
    TCP, UDP = dpkt.tcp.TCP, dpkt.udp.UDP
    counts = {}
    n = nbytes = 0
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        with open(path, "rb") as f:
            magic = f.read(4)
            f.seek(0)
            rd = dpkt.pcapng.Reader(f) if magic == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(f)
            for ts, buf in itertools.islice(rd, limit):
                n += 1
                nbytes += len(buf)
                try:
                    ip = Ethernet(buf).data
                except dpkt.UnpackError:
                    continue
                if isinstance(ip, IP):
                    proto = ip.p
                elif isinstance(ip, IP6):
                    proto = ip.p          # dpkt: final next header after extensions
                else:
                    continue
                l4 = ip.data
                if isinstance(l4, (TCP, UDP)):
                    key = (ip.src, ip.dst, proto, l4.sport, l4.dport)
                    counts[key] = counts.get(key, 0) + 1
        dt = time.perf_counter() - t0
    finally:
        gc.enable()
    return n, nbytes, dt


def check_trace(path, meta, batch_size):
    """Untimed pass: packets, captured bytes, and what the parser/checksum say."""
    problems = []
    try:
        from pystack.capture import open_capture
    except ImportError as e:
        return meta.get("packets", 0), meta.get("captured_bytes", 0), f"reader unavailable ({e})", problems
    cols = verify = parse = None
    try:
        from pystack._core.parse import PacketColumns, parse_batch as parse
        cols = PacketColumns(batch_size)
        from pystack._core.checksum import verify_batch as verify
    except ImportError:
        pass
    import numpy as np
    n = nbytes = 0
    bad = {}
    not_ok = 0
    with open_capture(path, batch_size=batch_size) as cap:
        for rb in cap:
            n += rb.n
            nbytes += int(rb.caplen_arr[:rb.n].sum(dtype=np.uint64))
            if parse is not None:
                parse(rb, cols)
                not_ok += int(np.count_nonzero(cols.column("status")))
                if verify is not None:
                    r = verify(rb, cols)
                    if isinstance(r, dict):
                        for k in ("ip_bad", "ip_truncated", "l4_bad", "l4_partial", "l4_truncated",
                                  "l4_unchecked"):
                            bad[k] = bad.get(k, 0) + int(r.get(k, 0))
    parts = [f"{n:,} packets, {nbytes / 1e6:,.1f} MB read"]
    if meta:
        if n != meta.get("packets") or nbytes != meta.get("captured_bytes"):
            problems.append(f"reader saw {n:,} packets / {nbytes:,} B, generator wrote "
                            f"{meta.get('packets'):,} / {meta.get('captured_bytes'):,} B")
    if parse is not None:
        parts.append(f"{not_ok:,} with parse status != 0")
        if meta and not_ok:
            problems.append(f"{not_ok:,} packets got a parse status (generated traces are all valid)")
    if verify is not None and bad:
        nb = sum(bad.values())
        parts.append("checksums all OK" if nb == 0 else
                     "checksum problems: " + ", ".join(f"{k}={v}" for k, v in bad.items() if v))
        if meta and nb:
            problems.append("checksum verifier disagrees with the generator: "
                            + ", ".join(f"{k}={v}" for k, v in bad.items() if v))
    return n, nbytes, "; ".join(parts), problems


def _stats(times):
    return min(times), statistics.median(times)


def bench_trace(trace, path, meta, stages, repeat, batch_size, dpkt_limit, options, log):
    results = []
    if log:
        log(f"[{trace}] warming page cache, checking ...")
    warm_page_cache(path)
    n, nbytes, check, problems = check_trace(path, meta, batch_size)
    info = TraceInfo(trace, path, n, nbytes, os.path.getsize(path), check, problems)
    if log:
        log(f"[{trace}] {check}")
        for p in problems:
            log(f"[{trace}] PROBLEM: {p}")
    for stage in stages:
        if stage == DPKT:
            try:
                import dpkt  # noqa: F401
            except ImportError as e:
                results.append(Result(trace, DPKT_LABEL, "unavailable", str(e)))
                continue
            runs = [run_dpkt_once(path, dpkt_limit) for _ in range(repeat)]
            times = [r[2] for r in runs]
            best, med = _stats(times)
            dp, db = runs[0][0], runs[0][1]
            res = Result(trace, DPKT_LABEL, "ok", packets=dp, bytes=db, times=times,
                         best_s=best, median_s=med, pps=dp / best, Bps=db / best,
                         pps_median=dp / med, Bps_median=db / med, vs_dpkt=1.0)
            if dp < n:
                res.reason = f"first {dp:,} packets"
            results.append(res)
            if log:
                log(f"[{trace}] {DPKT_LABEL}: {res.pps / 1e6:.3f} Mpkt/s ({dp:,} packets)")
            continue
        times = []
        res = Result(trace, stage, "ok", packets=n, bytes=nbytes)
        try:
            for _ in range(repeat):
                got, dt = run_stage_once(stage, path, meta, batch_size, options)
                if got != n:
                    raise RuntimeError(f"stage saw {got:,} packets, check pass saw {n:,}")
                times.append(dt)
        except (ImportError, StageUnavailable) as e:
            res.status, res.reason = "unavailable", f"{type(e).__name__}: {e}"
        except Exception as e:  # report, keep measuring the other stages
            res.status, res.reason = "error", f"{type(e).__name__}: {e}"
        if res.status == "ok":
            best, med = _stats(times)
            res.times, res.best_s, res.median_s = times, best, med
            res.pps, res.Bps = n / best, nbytes / best
            res.pps_median, res.Bps_median = n / med, nbytes / med
            for t in targets_for(trace, stage):
                got = res.pps if t.metric == "pps" else res.Bps
                res.targets.append({"target": t.describe(), "metric": t.metric, "value": t.value,
                                    "verdict": "PASS" if got >= t.value else "MISS"})
        else:
            res.targets = [{"target": t.describe(), "metric": t.metric, "value": t.value,
                            "verdict": res.status.upper()} for t in targets_for(trace, stage)]
        results.append(res)
        if log:
            msg = (f"{res.pps / 1e6:.2f} Mpkt/s, {res.Bps / 1e6:,.0f} MB/s" if res.status == "ok"
                   else f"{res.status}: {res.reason}")
            log(f"[{trace}] {stage}: {msg}")
    base = next((r for r in results if r.stage == DPKT_LABEL and r.status == "ok"), None)
    if base is not None:
        for r in results:
            if r.status == "ok":
                r.vs_dpkt = r.pps / base.pps
    return info, results


# --------------------------------------------------------------------------
# reporting

def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def environment():
    env = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "loadavg_start": _loadavg(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    try:
        import numpy
        env["numpy"] = numpy.__version__
    except ImportError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    env["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        env["git"] = head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return env


def format_table(report) -> str:
    env = report["environment"]
    lines = [
        f"pystack bench  {env.get('date_utc', '')} UTC  git {env.get('git', '?')}  "
        f"python {env.get('python')}  numpy {env.get('numpy', '?')}  {env.get('cpus')} CPUs  "
        f"{env.get('cpu', '')}",
        f"load average (1/5/15 min) at start {env.get('loadavg_start')}, at end "
        f"{report.get('loadavg_end')}: rates are only comparable on an idle machine",
        f"best of {report['repeat']} runs (median in the 'med' column); batch size "
        f"{report['batch_size']:,}; rates over captured bytes; dpkt loop on the first "
        f"{report['dpkt_limit']:,} packets",
        "",
    ]
    cg = report.get("callgrind_scale")
    if cg:
        lines.insert(-1, f"Ir/pkt: callgrind instructions per packet in the stages' compiled code, "
                         f"on the --scale {cg:g} traces (repeatable; see bench/README.md)")
    hdr = (f"{'trace':<9} {'stage':<21} {'packets':>11} {'MB':>8} {'Mpkt/s':>8} {'MB/s':>8} "
           f"{'med Mpkt/s':>10} {'x dpkt':>7}" + (f" {'Ir/pkt':>7}" if cg else "") + "  target")
    lines += [hdr, "-" * len(hdr)]
    for tr in report["traces"]:
        info = tr["info"]
        for r in tr["results"]:
            tgt = "  ".join(f"{t['target']} {t['verdict']}" for t in r["targets"])
            if r["status"] == "ok":
                ratio = f"{r['vs_dpkt']:.1f}" if r["vs_dpkt"] is not None else "-"
                ir = ""
                if cg:
                    ir = " " + (f"{r['ir_per_packet']:>7.0f}" if r.get("ir_per_packet") else f"{'-':>7}")
                lines.append(
                    f"{info['name']:<9} {r['stage']:<21} {r['packets']:>11,} {r['bytes'] / 1e6:>8.1f} "
                    f"{r['pps'] / 1e6:>8.2f} {r['Bps'] / 1e6:>8.0f} {r['pps_median'] / 1e6:>10.2f} "
                    f"{ratio:>7}{ir}  {tgt}".rstrip())
            else:
                lines.append(f"{info['name']:<9} {r['stage']:<21} {r['status']}: {r['reason']}"
                             + (f"  [{tgt}]" if tgt else ""))
        lines.append(f"{'':<9} check: {info['check']}")
        for p in info["problems"]:
            lines.append(f"{'':<9} PROBLEM: {p}")
    return "\n".join(lines)


def resolve_trace(spec, scale, out, log):
    """A trace name (generated on demand) or the path of any pcap: (name, path, meta)."""
    if spec in gen.TRACES:
        path, meta = gen.generate(spec, scale, out, log=log)
        return spec, path, meta
    if os.path.exists(spec):
        return os.path.basename(spec), spec, gen.load_meta(spec) or {}
    raise SystemExit(f"unknown trace {spec!r}: use {', '.join(gen.TRACES)} or a pcap path")


def add_instruction_counts(spec, path, results, scale, batch_size, options, out, log):
    """Fill Result.ir_per_packet of the ok pystack stages (callgrind).

    A standard trace is counted at `scale` (small: valgrind is ~50x slower);
    a pcap given by path is counted as it is.
    """
    from bench.one import count_instructions
    name = spec if spec in gen.TRACES else os.path.basename(spec)
    if spec in gen.TRACES:
        path, _ = gen.generate(spec, scale, out, log=log)
    for r in results:
        if r.status != "ok" or r.stage not in STAGES:
            continue
        try:
            ir, n = count_instructions(r.stage, path, batch_size,
                                       [f"{k}={v}" for k, v in options.items()])
            r.ir_per_packet = ir / n
            if log:
                log(f"[{name}] {r.stage}: {r.ir_per_packet:,.1f} Ir/packet (callgrind, {n:,} packets)")
        except RuntimeError as e:
            if log:
                log(f"[{name}] {r.stage}: callgrind failed: {e}")


def run(traces=gen.TRACES, scale=1.0, stages=None, repeat=3, batch_size=DEFAULT_BATCH,
        dpkt_limit=DEFAULT_DPKT_LIMIT, options=None, out=None, log=print, callgrind_scale=None):
    """Run the benchmark; returns the report (a JSON-able dict).

    callgrind_scale: also count instructions per packet of each stage with
    callgrind on the traces generated at this (small) scale.
    """
    stages = list(stages) if stages else list(STAGES) + [DPKT]
    for s in stages:
        if s != DPKT and s not in STAGES:
            raise ValueError(f"unknown stage {s!r} (have {', '.join(list(STAGES) + [DPKT])})")
    report = {
        "environment": environment(), "scale": scale, "repeat": repeat,
        "batch_size": batch_size, "dpkt_limit": dpkt_limit, "stages": stages,
        "options": dict(options or {}), "traces": [], "callgrind_scale": callgrind_scale,
    }
    for spec in traces:
        name, path, meta = resolve_trace(spec, scale, out, log)
        info, results = bench_trace(name, path, meta, stages, repeat, batch_size, dpkt_limit,
                                    options or {}, log)
        if callgrind_scale:
            add_instruction_counts(spec, path, results, callgrind_scale, batch_size, options or {},
                                   out, log)
        report["traces"].append({"info": asdict(info), "meta": meta,
                                 "results": [asdict(r) for r in results]})
    report["loadavg_end"] = _loadavg()
    return report


def _csv(s):
    return [x.strip() for x in s.split(",") if x.strip()]


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("--traces", type=_csv, default=list(gen.TRACES),
                    help="comma list of trace names and/or pcap paths (default: all three)")
    ap.add_argument("--scale", type=float, default=1.0, help="trace scale for bench.gen (default 1)")
    ap.add_argument("--stages", type=_csv, default=None,
                    help=f"comma list of stages (default: all registered + {DPKT})")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per stage; best is reported")
    ap.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    ap.add_argument("--dpkt-limit", type=int, default=DEFAULT_DPKT_LIMIT,
                    help="packets for the dpkt baseline (default 300,000)")
    ap.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE",
                    help="option for stage factories (setup.option(KEY)); repeatable")
    ap.add_argument("--out", default=None, help="trace folder (default bench/traces)")
    ap.add_argument("--json", default=None, metavar="OUT", help="also save the report as JSON")
    ap.add_argument("--callgrind", nargs="?", type=float, const=0.01, default=None, metavar="SCALE",
                    help="also count instructions/packet with callgrind on traces of this scale "
                         "(default 0.01; adds ~10 s per stage and trace)")
    ap.add_argument("--list", action="store_true", help="list stages and their availability")
    ap.add_argument("-q", "--quiet", action="store_true", help="only print the table")
    args = ap.parse_args(argv)
    if args.list:
        for name, st in STAGES.items():
            try:
                _build_steps(name, Setup(path="", meta={}, batch_size=1))
                avail = "available"
            except (ImportError, StageUnavailable) as e:
                avail = f"UNAVAILABLE ({type(e).__name__}: {e})"
            except Exception as e:      # needs a real trace/options to build: assume importable
                avail = f"available? ({type(e).__name__})"
            print(f"{name:<22} parent={st.parent or '-':<20} {avail}\n{'':<22} {st.doc}")
        print(f"{DPKT:<24} {'':<29} baseline: {DPKT_LABEL}, first --dpkt-limit packets")
        return 0
    options = {}
    for kv in args.opt:
        k, sep, v = kv.partition("=")
        if not sep:
            ap.error(f"--opt wants KEY=VALUE, got {kv!r}")
        options[k] = v
    log = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    report = run(args.traces, args.scale, args.stages, args.repeat, args.batch_size,
                 args.dpkt_limit, options, args.out, log, args.callgrind)
    print(format_table(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0
