"""A what-if sweep against the same replays run one after another.

    python -m bench.sweep [--trace mix] [--scale F] [--repeat N] [--workers N] [--dask local:N]
                          [--keep DIR] [--json FILE]

The host is inferred once from the trace (as the ``model`` stage does) and
written as a TOML config; the grid is 8 points (net.core.somaxconn x
listen.backlog).  First the 8 replays run sequentially in this process,
each ``replay_to_folder(..., fmt="parquet")`` of the same host and settings
(what ``pystack replay --format parquet -o`` does); then ``pystack.sweep``
runs the same points on the local process pool (or Dask).  Printed: both
wall times, their ratio (target <= 0.6 on 2 cores) and whether every
table of every point is byte-identical between the two.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time

from bench import gen

TABLES = ("packets", "connections", "samples", "counters")
VARY = {"net.core.somaxconn": [128, 256, 1024, 4096], "listen.backlog": [128, 511]}
TARGET = 0.6


def host_config(path: str, tmp: str) -> str:
    from pystack.capture import PIPELINE_BATCH
    from pystack.replay_cli import infer_host
    host = infer_host([path], PIPELINE_BATCH).result()
    cfg = os.path.join(tmp, "host.toml")
    with open(cfg, "w") as f:
        f.write(host.to_toml())
    return cfg


def sequential(path: str, cfg: str, out: str) -> float:
    """The grid's points one after another, each a plain replay into a folder."""
    from pystack.config import load_host_config
    from pystack.replay import Replay
    from pystack.results.run import replay_to_folder
    from pystack.whatif.grid import apply_point, expand, parse_axis

    axes = [parse_axis(k, v) for k, v in VARY.items()]
    t0 = time.perf_counter()
    for p in expand(axes):
        host, seed, _ = apply_point(load_host_config(cfg), axes, p)
        replay_to_folder(Replay(host, seed=seed or 0), [path], os.path.join(out, p.id),
                         fmt="parquet")
    return time.perf_counter() - t0


def identical(seq: str, swept: str) -> list:
    bad = []
    for pid in sorted(os.listdir(seq)):
        for t in TABLES:
            a = os.path.join(seq, pid, t + ".parquet")
            b = os.path.join(swept, t, f"point={pid}", "part-0.parquet")
            with open(a, "rb") as fa, open(b, "rb") as fb:
                if fa.read() != fb.read():
                    bad.append(f"{pid}/{t}")
    return bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.split("\n\n")[0])
    ap.add_argument("--trace", default="mix", help="trace name or pcap path (default mix)")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--traces", metavar="DIR", default=None,
                    help="where generated traces live (default bench/traces)")
    ap.add_argument("--workers", type=int, default=None, help="pool size (default: cores)")
    ap.add_argument("--dask", default=None, help="run the sweep on Dask (local:N or address)")
    ap.add_argument("--repeat", type=int, default=1, metavar="N",
                    help="run both sides N times, alternating, and keep the best of each "
                    "(a busy machine slows single runs)")
    ap.add_argument("--keep", metavar="DIR", help="write the outputs under DIR and keep them")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args(argv)

    import pystack
    if args.trace in gen.TRACES:
        path, meta = gen.generate(args.trace, args.scale, args.traces, log=None)
    else:
        path, meta = args.trace, gen.load_meta(args.trace) or {}
    packets = meta.get("packets")
    tmp = args.keep or tempfile.mkdtemp(prefix="pystack-bench-sweep-")
    os.makedirs(tmp, exist_ok=True)
    try:
        cfg = host_config(path, tmp)
        with open(path, "rb") as f:            # page cache, as the other benchmarks
            while f.read(1 << 24):
                pass
        seq_dir, sweep_dir = os.path.join(tmp, "sequential"), os.path.join(tmp, "sweep")
        t_seq = t_sweep = cpu_seq = cpu_sweep = float("inf")
        for _ in range(max(1, args.repeat)):
            for d in (seq_dir, sweep_dir):
                shutil.rmtree(d, ignore_errors=True)
            c0 = time.process_time()
            t = sequential(path, cfg, seq_dir)
            cpu = time.process_time() - c0
            if t < t_seq:
                t_seq, cpu_seq = t, cpu
            ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            pystack.sweep(path, cfg, VARY, sweep_dir, workers=args.workers, dask=args.dask)
            t = time.perf_counter() - t0
            ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            # the pool's processes, reaped when the pool closes (not Dask's)
            cpu = (ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime)
            if t < t_sweep:
                t_sweep, cpu_sweep = t, cpu
        with open(os.path.join(sweep_dir, "sweep.json")) as f:
            how = json.load(f)["executor"]
        bad = identical(seq_dir, sweep_dir)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    n = 8
    ratio = t_sweep / t_seq
    print(f"trace       {os.path.basename(path)}"
          + (f" ({packets:,} packets)" if packets else ""))
    print(f"points      {n}: " + " x ".join(f"{k} {v}" for k, v in VARY.items()))
    if args.repeat > 1:
        print(f"repeat      best of {args.repeat} runs of each, alternating")
    print(f"sequential  {t_seq:7.2f} s  ({n} replays, Parquet, one after another; "
          f"CPU {cpu_seq:.2f} s)")
    print(f"sweep       {t_sweep:7.2f} s  ({how}; CPU of its processes {cpu_sweep:.2f} s)")
    la = os.getloadavg()[0]
    print(f"load        {la:.2f} (1-min load average at the end: other work on the machine "
          "takes cores from both runs)")
    print(f"ratio       {ratio:7.2f}   (target <= {TARGET}) "
          f"{'ok' if ratio <= TARGET else 'MISSED'}")
    same = "yes, every table of every point" if not bad else "NO: " + ", ".join(bad)
    print(f"identical   {same}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"trace": path, "packets": packets, "points": n, "sequential_s": t_seq,
                       "sweep_s": t_sweep, "cpu_sequential_s": cpu_seq,
                       "cpu_sweep_s": cpu_sweep, "ratio": ratio, "executor": how,
                       "identical": not bad, "cores": os.cpu_count()}, f, indent=2)
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
