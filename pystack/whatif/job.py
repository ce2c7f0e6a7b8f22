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

from pystack.whatif.grid import Point, SweepError, apply_point

FILE = "part-0.parquet"
RUNS = "runs"
STAGING = ".staging"
VERDICTS = ("DELIVERED", "DROPPED", "SENT", "NOT_HOST", "QUEUED", "UNMODELLED")


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
    from pystack.config import HostConfig, apply_overrides, parse_host_config
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
    """on_batch: the verdict/reason tally and the test's fault injection."""

    def __init__(self, kill_once):
        from pystack.replay_cli import Tally
        self.tally = Tally()
        self.kill_once = kill_once
        self.n = 0

    def __call__(self, rb, cols, v):
        self.tally.add(rb, cols, v)
        self.n += 1
        if self.kill_once and self.n == 1:
            try:
                fd = os.open(self.kill_once, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.write(fd, f"{os.getpid()}\n".encode())
            os.close(fd)
            import signal
            os.kill(os.getpid(), signal.SIGKILL)


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
        batches = _Batches(job.kill_once)
        extra = {"sweep": {"key": job.key, "id": job.point.id,
                           "settings": job.point.as_dict()}}
        path, result, info = replay_to_folder(
            replay, job.captures, stage, fmt="parquet", force=False,
            counter_interval_ns=job.counter_interval_ns, on_batch=batches, extra_info=extra)
        if info.get("error"):
            raise SweepError(f"{job.part}: {info['error']}")
        row = comparison_row(job, batches.tally, result, path)
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

def comparison_row(job: Job, tally, result, folder: str) -> dict:
    """packets by verdict, drops by reason, failed connections, max queue depths."""
    from pystack import vocab
    from pystack.replay import names
    vnames = names()["verdict"]
    row = {job.key: job.point.id, "packets": int(tally.verdicts.sum())}
    by_name = {vnames[c]: int(k) for c, k in enumerate(tally.verdicts) if c in vnames}
    for v in VERDICTS:
        row[v] = by_name.get(v, 0)
    for c, k in enumerate(tally.reasons):
        if k:
            row["drop_" + vocab.DROP_REASONS[c]] = int(k)
    row.update(connection_fates(folder))
    tcp = [l for l in result.listeners if l.get("proto", "tcp") == "tcp"]
    row["syn_queue_max"] = max((int(l["syn_queue_max"]) for l in tcp), default=0)
    row["accept_queue_max"] = max((int(l["accept_queue_max"]) for l in tcp), default=0)
    row["listen_overflows"] = int(result.counters.get("TcpExtListenOverflows", 0))
    return row


def connection_fates(folder: str) -> dict:
    """conn_attempts: distinct 4-tuples of SYNs to the host; conn_established:
    of those, the ones that became a child socket; conn_reset: children that
    ended by RST; conn_failed = attempts never established + reset;
    rcv_queue_max: the largest receive queue of any connection."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    import pyarrow as pa

    key = ["src", "sport", "dst", "dport"]
    p = pq.read_table(os.path.join(folder, "packets.parquet"),
                      columns=["direction", "proto", "tcp_flags"] + key)
    syn = pc.and_(pc.equal(p.column("proto"), 6),
                  pc.equal(pc.bit_wise_and(p.column("tcp_flags"), 0x12), 0x02))
    syn = pc.and_(syn, pc.equal(p.column("direction").cast(pa.string()), "IN"))
    s = p.filter(syn).select(key)
    s = pa.table([pc.cast(s.column(c), pa.string()) if c in ("src", "dst") else s.column(c)
                  for c in key], names=["remote", "rport", "local", "lport"])
    attempts = s.group_by(s.column_names).aggregate([])
    c = pq.read_table(os.path.join(folder, "connections.parquet"),
                      columns=["remote", "rport", "local", "lport", "picked_up", "why",
                               "max_rcv_queue"])
    kids = c.filter(pc.invert(c.column("picked_up")))
    kids = pa.table([pc.cast(kids.column(n), pa.string()) if n in ("remote", "local")
                     else kids.column(n) for n in ("remote", "rport", "local", "lport")],
                    names=["remote", "rport", "local", "lport"])
    kids = kids.group_by(kids.column_names).aggregate([])
    est = attempts.join(kids, ["remote", "rport", "local", "lport"], join_type="inner").num_rows
    reset = int(pc.sum(pc.equal(c.column("why").cast(pa.string()), "RST")).as_py() or 0)
    mrq = pc.max(c.column("max_rcv_queue")).as_py() if c.num_rows else 0
    return {"conn_attempts": attempts.num_rows, "conn_established": est,
            "conn_reset": reset, "conn_failed": attempts.num_rows - est + reset,
            "rcv_queue_max": int(mrq or 0)}

