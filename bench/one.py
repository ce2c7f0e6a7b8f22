"""Run one stage once over one trace, nothing else: for profilers.

    python -m bench.one STAGE TRACE [--scale F] [--batch-size N] [--opt KEY=VALUE]
    python -m bench.one --callgrind STAGE TRACE [--scale F] ...

No page-cache warm-up, check pass, repetition or dpkt loop, so that a profiler
(valgrind --tool=callgrind, perf) sees just one pass of the stage.  TRACE is
a trace name (generated first if missing, see bench.gen) or a pcap path.

--callgrind re-runs this command under ``valgrind --tool=callgrind`` with
``--toggle-collect`` on the compiled entry points of every stage in the chain
(Stage.symbols in bench/stages.py) and prints instructions (Ir) in total and
per packet: repeatable where wall-clock time is not.  The Python glue between
batches is not counted; use a small --scale (valgrind runs ~50x slower).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

from bench import harness
from bench.stages import BENCH_HOST_ENV, STAGES, bench_host, chain


def count_instructions(stage, path, batch_size=harness.DEFAULT_BATCH, opts=(), out=None, log=None):
    """Run `stage` once over `path` under callgrind: (Ir collected, packets).

    Collection is toggled on inside the compiled entry points (Stage.symbols)
    of every stage in the chain; raises RuntimeError if valgrind fails.
    """
    pats = [p for st in chain(stage) for p in st.symbols]
    if not pats:
        raise RuntimeError(f"stage {stage!r} declares no symbols to collect")
    with tempfile.TemporaryDirectory() as tmp:
        host_toml = os.path.join(tmp, "host.toml")
        with open(host_toml, "w") as f:
            f.write(bench_host(path, batch_size).to_toml())
        cmd = (["valgrind", "--tool=callgrind",
                f"--callgrind-out-file={out or os.path.join(tmp, 'callgrind.out')}"]
               + [f"--toggle-collect={p}" for p in pats]
               + [sys.executable, "-m", "bench.one", stage, os.path.abspath(path),
                  "--batch-size", str(batch_size)]
               + [f"--opt={kv}" for kv in opts])
        if log:
            log("$ " + " ".join(f"'{c}'" if "*" in c else c for c in cmd))
        try:
            r = subprocess.run(cmd, capture_output=True, text=True,
                               env=dict(os.environ, **{BENCH_HOST_ENV: host_toml}),
                               cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        except OSError as e:
            raise RuntimeError(f"cannot run valgrind: {e}") from e
        m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
        k = re.search(r": (\d+) packets", r.stdout)
        if r.returncode or not m or not k:
            raise RuntimeError("callgrind run failed:\n" + r.stdout[-2000:] + r.stderr[-2000:])
        return int(m.group(1)), int(k.group(1))


def callgrind(args, path):
    pats = [p for st in chain(args.stage) for p in st.symbols]
    try:
        ir, n = count_instructions(args.stage, path, args.batch_size, args.opt, args.callgrind_out,
                                   log=lambda m: print(m, file=sys.stderr))
    except RuntimeError as e:
        raise SystemExit(str(e))
    print(f"{args.stage} on {path}: {n} packets, {ir:,} Ir collected in "
          f"{', '.join(pats)}: {ir / n:,.1f} Ir/packet")
    if args.callgrind_out:
        print(f"profile: {args.callgrind_out} (callgrind_annotate {args.callgrind_out})")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.one", description=__doc__.split("\n\n")[0])
    ap.add_argument("stage", choices=list(STAGES))
    ap.add_argument("trace")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=harness.DEFAULT_BATCH)
    ap.add_argument("--out", default=None, help="trace folder (default bench/traces)")
    ap.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--callgrind", action="store_true", help="count instructions with callgrind")
    ap.add_argument("--callgrind-out", default=None, help="keep the callgrind profile here")
    args = ap.parse_args(argv)
    options = dict(kv.partition("=")[::2] for kv in args.opt)
    name, path, meta = harness.resolve_trace(args.trace, args.scale, args.out, log=None)
    if args.callgrind:
        return callgrind(args, path)
    n, dt = harness.run_stage_once(args.stage, path, meta, args.batch_size, options)
    print(f"{args.stage} on {path}: {n} packets in {dt:.3f} s ({n / dt / 1e6:.2f} Mpkt/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
