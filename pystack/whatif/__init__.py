"""What-if sweeps and fleet replay: many replays, one Parquet dataset.

``sweep`` replays the same capture(s) once per point of a grid of settings
(pystack.whatif.grid) and ``fleet`` replays each capture against its own
host's config; both write one hive-partitioned dataset::

    OUT/packets/point=p000/part-0.parquet ...   (connections, samples, counters alike)
    OUT/runs/p000/run.json                      per point: `pystack summary/diff` read it
    OUT/points.parquet                          each point's settings (fleet: hosts.parquet)
    OUT/comparison.parquet                      one row per point (see job.comparison_row)
    OUT/sweep.json                              what was run

``pd.read_parquet("OUT/packets")`` reads every point with its ``point``
column.  While the sweep runs OUT holds an INCOMPLETE marker; it is removed
once every point is committed and the tables above are written.

Jobs run in this process (workers=1), a local process pool (the default,
one process per core) or on Dask (``dask="tcp://scheduler:8786"``,
``"local:N"`` or a distributed.Client).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time

from pystack.whatif.grid import (Axis, Point, SweepError, SweepInputError,  # noqa: F401
                                expand, load_grid,
                                parse_axis, parse_vary, rules_supported)
from pystack.whatif.job import RUNS, STAGING, Job, _fs, verdict_names

MARKER = "INCOMPLETE"
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _axes(vary, grid) -> list:
    axes = []
    if grid:
        axes += load_grid(grid)
    if isinstance(vary, dict):
        axes += [parse_axis(k, v if isinstance(v, (list, tuple)) else [v])
                 for k, v in vary.items()]
    else:
        axes += [parse_vary(s) for s in (vary or ())]
    return axes


def _read_config(config):
    if config is None:
        return None, None
    from pystack.config import ConfigError, load_host_config
    path = os.path.abspath(config)
    load_host_config(path)              # ConfigError (file, line, key) before any job
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(), path
    except OSError as e:                # pragma: no cover - load_host_config read it
        raise ConfigError(f"cannot read host config: {e}", path) from None


def _captures(captures) -> list:
    if isinstance(captures, (str, os.PathLike)):
        captures = [captures]
    out = [os.path.abspath(str(c)) for c in captures]
    if not out:
        raise SweepError("no capture given")
    for c in out:
        if not os.path.isfile(c):
            raise SweepError(f"no such capture: {c}")
    return out


# --- the output dataset ------------------------------------------------------------

def _location(out) -> str:
    """The output as the jobs see it: an absolute path (workers may run
    elsewhere in the file tree) or the fsspec URL."""
    out = str(out)
    fs, root = _fs(out)
    return root if fs is None else out


def _prepare(out: str, force: bool):
    fs, root = _fs(out)
    if fs is None:
        if os.path.lexists(root):
            if not force:
                raise SweepError(f"{out} exists (use --force to replace it)")
            ours = os.path.isdir(root) and (
                not os.listdir(root) or any(os.path.exists(os.path.join(root, m))
                                            for m in ("sweep.json", MARKER)))
            if not ours:
                raise SweepError(f"{out} exists and is not a pystack sweep output; "
                                 "not replacing it")
            shutil.rmtree(root)
        os.makedirs(root)
        with open(os.path.join(root, MARKER), "w") as f:
            f.write("a sweep is writing here, or was interrupted: "
                    "only points listed under runs/ are complete\n")
    else:
        if fs.exists(root):
            if not force:
                raise SweepError(f"{out} exists (use --force to replace it)")
            if not (fs.exists(f"{root}/sweep.json") or fs.exists(f"{root}/{MARKER}")):
                raise SweepError(f"{out} exists and is not a pystack sweep output; "
                                 "not replacing it")
            fs.rm(root, recursive=True)
        fs.makedirs(root, exist_ok=True)
        with fs.open(f"{root}/{MARKER}", "w") as f:
            f.write("a sweep is writing here, or was interrupted\n")
    return fs, root


def _write_parquet(fs, path: str, df) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    t = pa.Table.from_pandas(df, preserve_index=False)
    if fs is None:
        pq.write_table(t, path)
    else:
        with fs.open(path, "wb") as f:
            pq.write_table(t, f)


def _finish(fs, root: str, key: str, points_df, rows: list, meta: dict):
    from pystack.results import schema as S
    ids = [r[key] for r in rows]
    # every point committed exactly once: runs/ID and each table's partition
    for t in list(S.TABLE_ORDER) + [RUNS]:
        d = f"{root}/{t}"
        names = (os.listdir(d) if fs is None
                 else [p.rsplit("/", 1)[-1] for p in fs.ls(d, detail=False)])
        want = ids if t == RUNS else [f"{key}={i}" for i in ids]
        have = sorted(n for n in names if not n.startswith((".", "_")))
        if have != sorted(want):
            raise SweepError(f"{root}/{t}: expected partitions {sorted(want)}, found {have}")
    comp = comparison_frame(points_df, rows, key)
    name = "points.parquet" if key == "point" else "hosts.parquet"
    _write_parquet(fs, f"{root}/{name}", points_df)
    _write_parquet(fs, f"{root}/comparison.parquet", comp)
    text = json.dumps(meta, indent=2, default=str) + "\n"
    if fs is None:
        shutil.rmtree(os.path.join(root, STAGING), ignore_errors=True)
        # what attempts killed in the middle of a commit left hidden
        for t in list(S.TABLE_ORDER) + [RUNS]:
            for n in os.listdir(os.path.join(root, t)):
                if n.startswith("."):
                    shutil.rmtree(os.path.join(root, t, n), ignore_errors=True)
        with open(os.path.join(root, "sweep.json"), "w") as f:
            f.write(text)
        os.unlink(os.path.join(root, MARKER))
    else:
        with fs.open(f"{root}/sweep.json", "w") as f:
            f.write(text)
        fs.rm(f"{root}/{MARKER}")
    return comp


def comparison_frame(points_df, rows: list, key: str):
    """One row per point: its settings, then packets by verdict, drops by
    reason (every reason any point saw, 0 elsewhere), connections and queues."""
    import pandas as pd
    reasons = sorted({k for r in rows for k in r if k.startswith("drop_")})
    tail = ["conn_attempts", "conn_established", "conn_failed", "conn_reset",
            "syn_queue_max", "accept_queue_max", "rcv_queue_max", "listen_overflows"]
    cols = [key, "packets", *verdict_names(), *reasons, *tail]
    df = pd.DataFrame([{c: r.get(c, 0) for c in cols} for r in rows], columns=cols)
    for c in cols[1:]:
        df[c] = df[c].astype("int64")
    settings = points_df.drop(columns=[c for c in ("label",) if c in points_df])
    return settings.merge(df, on=key, how="right", validate="one_to_one")


# --- running ------------------------------------------------------------------------

def _execute(jobs, workers, dask, progress):
    """Run the jobs; meanwhile this process hashes the inputs once (for
    sweep.json) instead of every job hashing them again."""
    from pystack.results.run import Hasher
    from pystack.whatif import executors as X
    hasher = Hasher(sorted({c for j in jobs for c in j.captures}))
    t0 = time.perf_counter()
    if dask is not None:
        client, close = X.dask_client(dask)
        hasher.start()
        try:
            rows = X.run_dask(jobs, client, progress)
        finally:
            close()
        how = f"dask {dask if isinstance(dask, str) else 'client'}"
    elif workers == 1:
        hasher.start()
        rows = X.run_serial(jobs, progress)
        how = "serial"
    else:
        n = workers or X.default_workers()
        # the pool forks its workers first; the hashing thread starts after
        rows = X.run_pool(jobs, n, progress, started=hasher.start)
        how = f"process pool of {min(n, len(jobs))}"
    secs = time.perf_counter() - t0
    hasher.join()
    inputs = [{"path": p, "size": os.path.getsize(p), "sha256": (hasher.result or {}).get(p)}
              for p in hasher.paths]
    return rows, how, secs, inputs


def sweep(captures, config=None, vary=None, out=None, *, grid=None, sysctl=(), listen=(),
          app=(), profile=None, checksum="auto", seed=0, counter_interval=1.0, workers=None,
          dask=None, force=False, progress=None, _kill_once=None):
    """Replay `captures` once per point of the cross product of the axes
    (`vary`: {"net.core.somaxconn": [128, 1024], ...} or ["NAME=V1,V2", ...];
    `grid`: a TOML file with a [vary] table) and write the dataset into
    `out` (a path or fsspec URL).  `sysctl`/`listen`/`app` are base
    overrides (as the replay flags), applied before each point's settings.
    workers: processes of the local pool (default: the machine's cores; 1 =
    in this process); dask: a scheduler address, "local:N" or a Client.
    Returns the comparison table as a pandas DataFrame.  (_kill_once: fault
    injection for the tests, see Job.kill_once.)"""
    import pandas as pd
    if out is None:
        raise SweepError("give an output location (out=..., -o OUT)")
    caps = _captures(captures)
    axes = _axes(vary, grid)
    if not axes:
        raise SweepError("nothing to vary: give --vary NAME=V1,V2 or --grid FILE")
    points = expand(axes)
    text, cpath = _read_config(config)
    if text is None:
        # no config: the host is inferred once, here, and every point starts
        # from the same inferred config
        from pystack.capture import PIPELINE_BATCH
        from pystack.replay_cli import infer_host
        inferred = infer_host(caps, PIPELINE_BATCH).result()
        if not inferred.addresses:
            raise SweepError("no host address: nothing in the capture answered a SYN; "
                             "describe the host with --config")
        text = inferred.to_toml()
    jobs = [Job(caps, p, _location(out), "point", axes, text, cpath, profile, tuple(sysctl),
                tuple(listen), tuple(app), checksum, int(seed), int(counter_interval * 1e9),
                _kill_once)
            for p in points]
    # a point that cannot be built fails here, before anything is written
    from pystack.whatif.job import build_host
    for j in jobs:
        build_host(j)
    from pystack.whatif.executors import check_dask_spec
    check_dask_spec(dask)
    fs, root = _prepare(str(out), force)
    rows, how, secs, inputs = _execute(jobs, workers, dask, progress)
    pdf = pd.DataFrame([{"point": p.id, **p.as_dict(), "label": p.label()} for p in points],
                       columns=["point", *[a.name for a in axes], "label"])
    meta = {"kind": "sweep", "captures": caps, "inputs": inputs, "config": cpath,
            "axes": {a.name: list(a.values) for a in axes}, "points": len(points),
            "base": {"sysctl": list(sysctl), "listen": list(listen), "app": list(app),
                     "profile": profile, "checksum": checksum, "seed": seed},
            "executor": how, "seconds": round(secs, 3)}
    return _finish(fs, root, "point", pdf, rows, meta)


def host_name(capture: str) -> str:
    name = os.path.basename(capture)
    for ext in (".gz", ".pcapng", ".pcap", ".cap"):
        if name.endswith(ext):
            name = name[:-len(ext)]
    return name


def fleet(captures, config_dir, out=None, *, profile=None, checksum="auto", seed=0,
          counter_interval=1.0, workers=None, dask=None, force=False, progress=None):
    """Replay each capture against its own host: CAPTURE NAME.pcap(.gz) uses
    config_dir/NAME.toml.  One dataset partitioned by host=NAME.  Returns the
    comparison table (one row per host)."""
    import pandas as pd
    if out is None:
        raise SweepError("give an output location (out=..., -o OUT)")
    caps = _captures(captures)
    if not os.path.isdir(config_dir):
        raise SweepError(f"--config-dir {config_dir}: not a directory")
    jobs, seen = [], {}
    for c in caps:
        name = host_name(c)
        if not SAFE_ID.match(name):
            raise SweepError(f"{c}: host name {name!r} (from the file name) is not "
                             "filesystem-safe: use letters, digits, '.', '_' and '-'")
        if name in seen:
            raise SweepError(f"{c} and {seen[name]} are both host {name!r}")
        seen[name] = c
        cfg = os.path.join(config_dir, name + ".toml")
        if not os.path.isfile(cfg):
            have = sorted(f[:-5] for f in os.listdir(config_dir) if f.endswith(".toml"))
            raise SweepError(f"{c}: no host config {cfg} (configs in {config_dir}: "
                             f"{', '.join(have) or 'none'})")
        text, cpath = _read_config(cfg)
        jobs.append(Job([c], Point(name, ()), _location(out), "host", [], text, cpath, profile,
                        (), (), (), checksum, int(seed), int(counter_interval * 1e9)))
    from pystack.whatif.executors import check_dask_spec
    check_dask_spec(dask)
    fs, root = _prepare(str(out), force)
    rows, how, secs, inputs = _execute(jobs, workers, dask, progress)
    hdf = pd.DataFrame([{"host": j.point.id, "capture": j.captures[0], "config": j.config_file}
                        for j in jobs], columns=["host", "capture", "config"])
    meta = {"kind": "fleet", "captures": caps, "inputs": inputs,
            "config_dir": os.path.abspath(config_dir),
            "hosts": len(jobs), "executor": how, "seconds": round(secs, 3)}
    return _finish(fs, root, "host", hdf, rows, meta)
