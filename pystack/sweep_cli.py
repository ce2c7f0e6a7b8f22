"""`pystack sweep` and `pystack fleet`: many replays into one Parquet dataset
(pystack.whatif), then the comparison table, one row per point or host."""
from __future__ import annotations

import json
import sys


def _progress(args, total: int):
    if args.quiet or not sys.stderr.isatty():
        return None
    done = [0]

    def on_done(job, row):
        done[0] += 1
        sys.stderr.write(f"\r{done[0]}/{total} {job.key}s done ")
        sys.stderr.flush()
        if done[0] == total:
            sys.stderr.write("\r" + " " * 40 + "\r")
    return on_done


def format_comparison(df) -> str:
    import pandas as pd
    with pd.option_context("display.width", 1000, "display.max_columns", None,
                           "display.max_colwidth", 60):
        return df.to_string(index=False) + "\n"


def _print(args, df, what: str) -> None:
    if args.json:
        json.dump(df.to_dict(orient="records"), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_comparison(df))
        sys.stdout.write(f"written     {args.output} ({what})\n")


def _dask(args):
    return args.dask


def run_sweep(args) -> int:
    from pystack.cli import UsageError
    from pystack.whatif import SweepError, SweepInputError, sweep
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be 1 or more")
    if args.counter_interval <= 0:
        raise UsageError("--counter-interval must be positive")
    try:
        df = sweep(args.captures, args.config, args.vary, args.output, grid=args.grid,
                   sysctl=args.sysctl, listen=args.listen, app=args.app, profile=args.profile,
                   checksum=args.checksum, seed=args.seed,
                   counter_interval=args.counter_interval, workers=args.workers,
                   dask=_dask(args), force=args.force, progress=None)
    except SweepInputError as e:
        print(f"pystack: {e} ({args.output} is left INCOMPLETE)", file=sys.stderr)
        return 1
    except SweepError as e:
        raise UsageError(str(e)) from None
    _print(args, df, f"{len(df)} points; pystack diff {args.output}/runs/ID_A "
           f"{args.output}/runs/ID_B compares two")
    return 0


def run_fleet(args) -> int:
    from pystack.cli import UsageError
    from pystack.whatif import SweepError, SweepInputError, fleet
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be 1 or more")
    if args.counter_interval <= 0:
        raise UsageError("--counter-interval must be positive")
    try:
        df = fleet(args.captures, args.config_dir, args.output, profile=args.profile,
                   checksum=args.checksum, seed=args.seed,
                   counter_interval=args.counter_interval, workers=args.workers,
                   dask=_dask(args), force=args.force)
    except SweepInputError as e:
        print(f"pystack: {e} ({args.output} is left INCOMPLETE)", file=sys.stderr)
        return 1
    except SweepError as e:
        raise UsageError(str(e)) from None
    _print(args, df, f"{len(df)} hosts")
    return 0


def _common(p) -> None:
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="dataset root: a folder or an fsspec URL (s3://...)")
    p.add_argument("--force", action="store_true", help="replace an existing OUT")
    p.add_argument("--checksum", choices=("verify", "ignore", "auto"), default="auto")
    p.add_argument("--seed", type=int, default=0, help="seed of the model's random choices")
    p.add_argument("--counter-interval", type=float, default=1.0, metavar="SECONDS",
                   help="capture-time interval of the counters time series (default 1 s)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default: one per core; 1 = in process)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run the jobs on Dask: tcp://scheduler:8786, or local:N for a "
                   "LocalCluster of N worker processes")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")


def add_parsers(sub) -> None:
    from pystack.config import add_host_arguments
    p = sub.add_parser(
        "sweep", help="replay once per point of a grid of settings (what-if)",
        description="Replay the capture(s) once per point of the cross product of the "
        "--vary axes (or a --grid file) and write one Parquet dataset partitioned by "
        "point (OUT/TABLE/point=ID/), points.parquet, comparison.parquet and "
        "OUT/runs/ID/run.json (pystack summary/diff read it).  Axes: sysctls by "
        "name, listen.backlog, listen.rcvbuf, listen.sndbuf (listen[PORT].KEY for one "
        "port), app.accept, app.read (app[PORT].KEY), profile, seed, rules.")
    p.add_argument("captures", nargs="+", metavar="CAPTURE")
    add_host_arguments(p)
    p.add_argument("--vary", action="append", default=[], metavar="NAME=V1,V2,...",
                   help="an axis and its values (repeatable), e.g. "
                   "net.core.somaxconn=128,1024,4096")
    p.add_argument("--grid", metavar="GRID.toml",
                   help="axes from a TOML file's [vary] table (name = [values])")
    _common(p)
    p.set_defaults(func=run_sweep)

    p = sub.add_parser(
        "fleet", help="replay each capture against its own host's config",
        description="Replay each capture NAME.pcap against --config-dir/NAME.toml and "
        "write one Parquet dataset partitioned by host (OUT/TABLE/host=NAME/), "
        "hosts.parquet and comparison.parquet.")
    p.add_argument("captures", nargs="+", metavar="CAPTURE")
    p.add_argument("--config-dir", required=True, metavar="DIR",
                   help="folder of host configs named after the captures")
    p.add_argument("--profile", metavar="KERNEL", help="kernel profile for every host")
    _common(p)
    p.set_defaults(func=run_fleet)
