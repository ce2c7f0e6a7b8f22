"""Replay into an output folder: the loop shared by `pystack replay -o` and
the benchmark's replay+write stage.

Interruption (SIGINT, SIGTERM) only sets a flag; the loop checks it after
each finished batch, so the folder is closed at a batch boundary: every
table holds exactly the batches before the stop.
"""
from __future__ import annotations

import hashlib
import os
import platform
import signal
import sys
import threading
import time

from pystack.results.writer import DEFAULT_FORMAT, OutputFolder, ResultWriter


class StopFlag:
    """Set by SIGINT / SIGTERM while installed (main thread only)."""

    def __init__(self):
        self.signum = None
        self._old = {}

    def __bool__(self):
        return self.signum is not None

    def _handler(self, signum, frame):
        self.signum = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False


def sha256_files(paths) -> dict:
    out = {}
    for p in paths:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            while True:
                b = f.read(1 << 22)
                if not b:
                    break
                h.update(b)
        out[p] = h.hexdigest()
    return out


class Hasher(threading.Thread):
    """sha256 of the inputs beside the replay (hashlib releases the GIL)."""

    def __init__(self, paths):
        super().__init__(daemon=True)
        self.paths = list(paths)
        self.result = None

    def run(self):
        try:
            self.result = sha256_files(self.paths)
        except OSError as e:
            self.result = {"error": str(e)}


def versions() -> dict:
    import numpy
    import pandas
    import pyarrow

    from pystack import __version__
    return {"pystack": __version__, "python": platform.python_version(),
            "numpy": numpy.__version__, "pyarrow": pyarrow.__version__,
            "pandas": pandas.__version__}


def replay_to_folder(replay, paths, out, fmt=DEFAULT_FORMAT, force=False,
                     counter_interval_ns=10 ** 9, compression=None, on_batch=None,
                     stop=None, extra_info=None, hash_inputs=True):
    """Run `replay` over `paths` writing every table into `out`.  Returns
    (path written, ReplayResult or None, run_info).  `stop`: a StopFlag (or
    any object whose truth means stop) checked after each batch."""
    from pystack.capture import CaptureError, open_capture

    folder = OutputFolder(out, fmt=fmt, force=force, compression=compression)
    hasher = Hasher(paths) if hash_inputs else None
    if hasher:
        hasher.start()
    try:
        w = ResultWriter(folder, replay, counter_interval_ns)

        def step_cb(rb, cols, v):
            w.on_batch(rb, cols, v)
            if on_batch is not None:
                on_batch(rb, cols, v)

        error = None
        t0 = time.perf_counter()
        interrupted = False
        try:
            with open_capture(paths, batch_size=replay.batch_size) as cap:
                for rb in cap:
                    replay.step(rb, on_batch=step_cb, collect=False)
                    if stop:
                        interrupted = True
                        break
        except CaptureError as e:
            error = str(e)
        result = None if interrupted else replay.finish()
        elapsed = time.perf_counter() - t0
        info = {
            "pystack_schema": 1,
            "inputs": [{"path": os.path.abspath(p), "size": os.path.getsize(p)} for p in paths],
            "config": replay.host.to_dict(),
            "replay": {"checksum": replay.policy.mode, "seed": replay.seed,
                       "batch_size": replay.batch_size, "mtu": replay.mtu,
                       "counter_interval_ns": int(counter_interval_ns), "format": fmt},
            "versions": versions(),
            "performance": {"packets": w.packets, "seconds": round(elapsed, 6),
                            "packets_per_s": round(w.packets / elapsed) if elapsed > 0 else None},
            "warnings": [],
            "error": error,
        }
        if getattr(replay, "ct_table", None) is not None:
            info["netfilter"] = netfilter_info(replay)
        if extra_info:
            info.update(extra_info)
        if hasher:
            hasher.join()
            sums = hasher.result or {}
            for d in info["inputs"]:
                d["sha256"] = sums.get(d["path"]) or sums.get(
                    next((p for p in paths if os.path.abspath(p) == d["path"]), ""))
        chk = replay.policy.report()
        info["checksum"] = chk
        if _offloaded(chk):
            info["warnings"].append("offloaded checksums detected: the capture host's own "
                                    "packets carry partial/bad checksums (TX offload); "
                                    "they were not counted as errors")
        lost = replay.engine.samples_lost
        if lost:
            info["warnings"].append(f"{lost} samples lost (sample buffer full)")
        if error:
            info["warnings"].append(f"input error: {error}; the tables cover the packets before it")
        if result is not None:
            info["summary"] = summary_info(result, w)
            path = w.finish(result, info)
        else:
            info["interrupted"] = True
            path = w.abort(info)
        return path, result, info
    except BaseException:
        folder.discard()
        raise


def netfilter_info(replay) -> dict:
    """The rulesets loaded (path, sha256 of the file or of the text given,
    family, the lenient parse's warnings) and the conntrack table size."""
    sets = []
    for rs in replay.rulesets:
        d = {"path": os.path.abspath(rs.path) if os.path.isfile(rs.path) else rs.path,
             "family": rs.family, "warnings": list(rs.warnings)}
        if os.path.isfile(rs.path):
            d["sha256"] = sha256_files([rs.path])[rs.path]
        else:
            d["sha256"] = None
        sets.append(d)
    return {"rulesets": sets, "nf_conntrack_max": int(replay.ct_table.params["max"]),
            "rules_save": "rules.save" if replay.rulesets else None}


def _offloaded(chk) -> bool:
    return bool(isinstance(chk, dict) and chk.get("offloading_sources"))


def summary_info(result, w) -> dict:
    """What `pystack summary` prints, kept in run.json (the rest comes from
    the counters table)."""
    return {
        "listeners": result.listeners,
        "divergences": result.divergences,
    }
