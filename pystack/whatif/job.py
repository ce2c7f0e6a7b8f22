"""One sweep job: replay one capture set for one point (or one fleet host)
and commit its partition of the dataset.

A job is small and picklable (paths, the config's TOML text, the point's
settings); it runs wherever the executor puts it (a pool process, a Dask
worker), writes its tables straight to the output location and returns
only its comparison row.  Layout, for partition key ``point`` and id
``p003`` (fleet: ``host=NAME``)::

    OUT/packets/point=p003/part-0.parquet      (likewise connections, samples, counters)
    OUT/runs/p003/run.json                      the point's run.json; its tables
                                                entries point at the files above,
                                                so `pystack summary/diff` read it

Visibility: on a local filesystem each partition is built in a hidden
sibling (``.point=p003-TOKEN``, ignored by pyarrow.dataset, which skips
names starting with "." or "_") and renamed into place; on an object store
(any other fsspec URL) each partition is one object, visible only once its
upload completes.  runs/ID/run.json is written last: it is the commit
marker.  A job rerun (a lost worker) writes under a new token and replaces
whatever a dead attempt renamed into place; the tables are the same bytes
because the replay is deterministic.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field

import numpy as np

from pystack.whatif.grid import Point, SweepError, SweepInputError, apply_point

FILE = "part-0.parquet"
RUNS = "runs"
STAGING = ".staging"
# reading order of the comparison table's verdict columns; every verdict the
# engine has (pystack._core.engine.VERDICTS, the one source) gets a column
_VERDICT_ORDER = ("DELIVERED", "DROPPED", "FORWARDED", "SENT", "NOT_HOST", "QUEUED",
                  "UNMODELLED")


def verdict_names() -> tuple:
    from pystack._core.engine import VERDICTS as codes
    rest = sorted((v for v in codes if v not in _VERDICT_ORDER), key=codes.get)
    return tuple(v for v in _VERDICT_ORDER if v in codes) + tuple(rest)


@dataclass
class Job:
    captures: list                       # absolute paths, readable where the job runs
    point: Point
    out: str                             # local path or fsspec URL of the dataset root
    key: str = "point"                   # partition column: point | host
    axes: list = field(default_factory=list)
    config_text: str | None = None       # the host config's TOML (None: infer)
    config_file: str | None = None       # its path, for messages and relative app logs
    profile: str | None = None
    sysctls: tuple = ()                  # base overrides (--sysctl/--listen/--app)
    listens: tuple = ()
    apps: tuple = ()
    checksum: str = "auto"
    seed: int = 0
    counter_interval_ns: int = 10 ** 9
    # fault injection for the tests: the first attempt to run (whichever
    # creates this file) SIGKILLs its own process after its first batch
    kill_once: str | None = None

    @property
    def part(self) -> str:
        return f"{self.key}={self.point.id}"


def build_host(job: Job):
    """The point's HostConfig, seed and ruleset path."""
    from pystack.config import apply_overrides, parse_host_config
    base_dir = os.path.dirname(job.config_file) if job.config_file else None
    if job.config_text is not None:
        host = parse_host_config(job.config_text, job.config_file or "<config>", base_dir,
                                 job.profile)
    else:
        from pystack.capture import PIPELINE_BATCH
        from pystack.replay_cli import infer_host
        host = infer_host(job.captures, PIPELINE_BATCH).result()
        if job.profile:
            host.set_profile(job.profile)
    apply_overrides(host, job.sysctls, job.listens, job.apps, base_dir)
    if not host.addresses:
        raise SweepError(f"{job.part}: no host address (nothing in the capture answered a "
                         "SYN); describe the host with --config")
    host, seed, rules = apply_point(host, job.axes, job.point, base_dir)
    return host, job.seed if seed is None else seed, rules


def make_replay(host, job: Job, seed: int, rules):
    from pystack.replay import Replay
    kw = {}
    if rules is not None:
        from pystack.whatif.grid import rules_supported
        if not rules_supported():
            raise SweepError("this build cannot load rulesets (its Replay takes no rules=)")
        kw["rules"] = rules
    return Replay(host, checksum=job.checksum, seed=seed, **kw)


class _Batches:
    """on_batch: the verdict/reason tally, the SYNs to the host and the
    connection records (numpy, per batch; nothing is read back from the
    files), and the tests' fault injection."""

    def __init__(self, replay, kill_once):
        from pystack._core import engine as E
        from pystack.replay_cli import Tally
        self.replay = replay
        self.tally = Tally()
        self.kill_once = kill_once
        self.n = 0
        self.dir_in = E.DIRECTIONS["IN"]
        self.rst = {v: k for k, v in E.CLOSE_WHY.items()}["RST"]
        self.syns: list = []
        self.nsyn = 0
        self.recs: list = []

    def __call__(self, rb, cols, v):
        if self.n == 0:
            # the ResultWriter installed its record sink before the first
            # batch; records are taken after on_batch, so none is missed
            sink = self.replay.record_sink

            def tee(recs):
                self.recs.append(np.stack([recs["ra0"], recs["ra1"], recs["la0"], recs["la1"],
                                           (recs["rport"].astype(np.uint64) << 16)
                                           | recs["lport"], recs["picked_up"],
                                           recs["why"], recs["max_rq"].astype(np.uint64)],
                                          axis=1).astype(np.uint64))
                if sink is not None:
                    sink(recs)
            self.replay.record_sink = tee
        n = cols.n
        self.tally.add(rb, cols, v)
        self.n += 1
        if n:
            a = cols.arrays
            m = (a["ip_proto"][:n] == 6) & ((a["tcp_flags"][:n] & 0x12) == 0x02) & \
                (v.arrays["direction"][:n] == self.dir_in)
            k = int(m.sum())
            if k:
                src = a["saddr"][:n][m].view(np.uint64).reshape(k, 2)
                dst = a["daddr"][:n][m].view(np.uint64).reshape(k, 2)
                port = (a["sport"][:n][m].astype(np.uint64) << 16) | a["dport"][:n][m]
                self.syns.append(np.column_stack([src, dst, port]))
                self.nsyn += k
                if self.nsyn > 1 << 20:         # bounded by distinct 4-tuples
                    u = np.unique(_rows(np.concatenate(self.syns)))
                    self.syns = [u.view(np.uint64).reshape(-1, 5)]
                    self.nsyn = len(u)
        if self.kill_once and self.n == 1:
            try:
                fd = os.open(self.kill_once, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.write(fd, f"{os.getpid()}\n".encode())
            os.close(fd)
            import signal
            os.kill(os.getpid(), signal.SIGKILL)

    def fates(self) -> dict:
        """conn_attempts: distinct 4-tuples of SYNs to the host;
        conn_established: of those, the ones that became a child socket;
        conn_reset: children that ended by RST; conn_failed = attempts never
        established + reset; rcv_queue_max: the largest receive queue."""
        syns = np.concatenate(self.syns) if self.syns else np.zeros((0, 5), np.uint64)
        recs = np.concatenate(self.recs) if self.recs else np.zeros((0, 8), np.uint64)
        attempts = np.unique(_rows(syns))
        kids = np.unique(_rows(recs[recs[:, 5] == 0, :5]))
        est = len(np.intersect1d(attempts, kids, assume_unique=True))
        reset = int((recs[recs[:, 5] == 0, 6] == self.rst).sum())
        return {"conn_attempts": len(attempts), "conn_established": est,
                "conn_reset": reset, "conn_failed": len(attempts) - est + reset,
                "rcv_queue_max": int(recs[:, 7].max()) if len(recs) else 0}


def run_job(job: Job) -> dict:
    """Replay, write and commit one partition; returns the comparison row."""
    from pystack.results import schema as S
    from pystack.results.run import replay_to_folder

    host, seed, rules = build_host(job)
    replay = make_replay(host, job, seed, rules)
    fs, root = _fs(job.out)
    token = uuid.uuid4().hex[:12]
    if fs is None:
        stage_root = os.path.join(root, STAGING)
        os.makedirs(stage_root, exist_ok=True)
        tmp = None
    else:
        tmp = stage_root = tempfile.mkdtemp(prefix="pystack-sweep-")
    stage = os.path.join(stage_root, f"{job.point.id}-{token}")
    try:
        batches = _Batches(replay, job.kill_once)
        # the inputs' sha256 is computed once, by the client, into sweep.json
        extra = {"sweep": {"key": job.key, "id": job.point.id,
                           "settings": job.point.as_dict(), "inputs_sha256": "../../sweep.json"}}
        path, result, info = replay_to_folder(
            replay, job.captures, stage, fmt="parquet", force=False,
            counter_interval_ns=job.counter_interval_ns, on_batch=batches, extra_info=extra,
            hash_inputs=False)
        if info.get("error"):
            raise SweepInputError(f"{job.part}: {info['error']}")
        row = comparison_row(job, batches, result)
        info = dict(info, tables={t: {"file": f"../../{t}/{job.part}/{FILE}",
                                      "rows": info_rows(path, t)} for t in S.TABLE_ORDER},
                    complete=True)
        info["sweep"]["row"] = row
        if fs is None:
            _commit_local(root, path, job, token, info)
        else:
            _commit_fsspec(fs, root, path, job, info)
        return row
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            shutil.rmtree(stage, ignore_errors=True)


def info_rows(path: str, table: str) -> int:
    with open(os.path.join(path, "run.json")) as f:
        return json.load(f)["tables"][table]["rows"]


def _fs(out: str):
    """(None, local path) or (fsspec filesystem, path inside it)."""
    if "://" not in out or out.startswith("file://"):
        return None, os.path.abspath(out[7:] if out.startswith("file://") else out)
    import fsspec
    fs, path = fsspec.core.url_to_fs(out)
    return fs, path.rstrip("/")


def _commit_local(root: str, staged: str, job: Job, token: str, info: dict) -> None:
    from pystack.results import schema as S
    for t in S.TABLE_ORDER:
        tdir = os.path.join(root, t)
        os.makedirs(tdir, exist_ok=True)
        hidden = os.path.join(tdir, f".{job.part}-{token}")
        os.mkdir(hidden)
        os.rename(os.path.join(staged, t + ".parquet"), os.path.join(hidden, FILE))
        _replace_dir(hidden, os.path.join(tdir, job.part))
    rdir = os.path.join(root, RUNS)
    os.makedirs(rdir, exist_ok=True)
    hidden = os.path.join(rdir, f".{job.point.id}-{token}")
    os.mkdir(hidden)
    with open(os.path.join(hidden, "run.json"), "w") as f:
        json.dump(info, f, indent=2, default=str)
        f.write("\n")
    _replace_dir(hidden, os.path.join(rdir, job.point.id))


def _replace_dir(src: str, dest: str) -> None:
    """rename(src, dest), replacing what an earlier attempt left at dest."""
    for _ in range(3):
        if os.path.lexists(dest):
            shutil.rmtree(dest, ignore_errors=True)
        try:
            os.rename(src, dest)
            return
        except OSError:
            continue        # a concurrent attempt renamed in between: retry
    raise SweepError(f"cannot commit {dest}: it keeps reappearing")


def _commit_fsspec(fs, root: str, staged: str, job: Job, info: dict) -> None:
    from pystack.results import schema as S
    for t in S.TABLE_ORDER:
        fs.makedirs(f"{root}/{t}/{job.part}", exist_ok=True)
        fs.put_file(os.path.join(staged, t + ".parquet"), f"{root}/{t}/{job.part}/{FILE}")
    fs.makedirs(f"{root}/{RUNS}/{job.point.id}", exist_ok=True)
    with fs.open(f"{root}/{RUNS}/{job.point.id}/run.json", "w") as f:
        f.write(json.dumps(info, indent=2, default=str) + "\n")


# --- the comparison row -------------------------------------------------------------

def _rows(x):
    """(k, 5) uint64 -> one 40-byte void value per row (for unique/intersect)."""
    x = np.ascontiguousarray(x, np.uint64)
    return x.view(np.dtype((np.void, 40))).ravel()


def comparison_row(job: Job, batches: _Batches, result) -> dict:
    """packets by verdict, drops by reason, failed connections, max queue depths."""
    from pystack import vocab
    from pystack.replay import names
    tally = batches.tally
    vnames = names()["verdict"]
    row = {job.key: job.point.id, "packets": int(tally.verdicts.sum())}
    by_name = {vnames[c]: int(k) for c, k in enumerate(tally.verdicts) if c in vnames}
    for v in verdict_names():
        row[v] = by_name.get(v, 0)
    for c, k in enumerate(tally.reasons):
        if k:
            row["drop_" + vocab.DROP_REASONS[c]] = int(k)
    row.update(batches.fates())
    tcp = [l for l in result.listeners if l.get("proto", "tcp") == "tcp"]
    row["syn_queue_max"] = max((int(l["syn_queue_max"]) for l in tcp), default=0)
    row["accept_queue_max"] = max((int(l["accept_queue_max"]) for l in tcp), default=0)
    row["listen_overflows"] = int(result.counters.get("TcpExtListenOverflows", 0))
    return row
