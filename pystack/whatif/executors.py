"""Where sweep jobs run: in this process, a local process pool, or Dask.

Every executor takes the same picklable jobs and gives back their small
comparison rows in job order; the tables never pass through here (each job
writes its own partition).
"""
from __future__ import annotations

import os

from pystack.whatif.grid import SweepError
from pystack.whatif.job import run_job


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def run_serial(jobs, on_done=None) -> list:
    rows = []
    for j in jobs:
        rows.append(run_job(j))
        if on_done:
            on_done(j, rows[-1])
    return rows


def run_pool(jobs, workers: int, on_done=None, started=None) -> list:
    """A process pool of `workers` processes (fork while this process has no
    other thread, else forkserver: forking a threaded process can deadlock)."""
    import concurrent.futures as cf
    import multiprocessing as mp
    import threading

    n = max(1, min(int(workers), len(jobs)))
    if n == 1:
        if started:
            started()
        return run_serial(jobs, on_done)
    method = "fork" if threading.active_count() == 1 and \
        "fork" in mp.get_all_start_methods() else "forkserver"
    rows = [None] * len(jobs)
    with cf.ProcessPoolExecutor(n, mp_context=mp.get_context(method)) as ex:
        futs = {ex.submit(run_job, j): i for i, j in enumerate(jobs)}
        if started:         # the workers exist now: threads may start
            started()
        try:
            for f in cf.as_completed(futs):
                i = futs[f]
                rows[i] = f.result()
                if on_done:
                    on_done(jobs[i], rows[i])
        except BaseException:
            for f in futs:
                f.cancel()
            raise
    return rows


def check_dask_spec(spec) -> None:
    """Reject a malformed --dask value before anything is written."""
    if spec is None or not isinstance(spec, str):
        return
    if spec.startswith("local:"):
        try:
            n = int(spec[6:])
        except ValueError:
            n = 0
        if n < 1:
            raise SweepError(f"--dask {spec!r}: expected local:N with N >= 1")
    elif "://" not in spec:
        raise SweepError(f"--dask {spec!r}: expected a scheduler address "
                         "(tcp://HOST:8786) or local:N")


def dask_client(spec):
    """(client, closer) from a Client, ``local:N`` (a LocalCluster of N
    single-threaded worker processes) or a scheduler address."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SweepError("--dask needs dask.distributed: pip install 'pystack-replay[dask]'") \
            from None
    if isinstance(spec, Client):
        return spec, lambda: None
    spec = str(spec)
    check_dask_spec(spec)
    if spec.startswith("local:"):
        n = int(spec[6:])
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=":0")
        client = Client(cluster)

        def close():
            client.close()
            cluster.close()
        return client, close
    try:
        client = Client(spec, timeout="30s")
    except OSError as e:
        raise SweepError(f"--dask {spec}: cannot reach the scheduler: {e}") from None
    return client, client.close


def run_dask(jobs, client, on_done=None) -> list:
    """One task per job (pure=False: a rerun is a new replay, never a cached
    result).  A task whose worker dies is rescheduled by the scheduler on
    another worker; the job's commit protocol makes the rerun replace the
    dead attempt's partial partition."""
    from distributed import as_completed

    futs = client.map(run_job, jobs, pure=False,
                      key=[f"pystack-{j.key}-{j.point.id}-{os.getpid()}-{id(jobs):x}"
                           for j in jobs])
    index = {f.key: i for i, f in enumerate(futs)}
    rows = [None] * len(jobs)
    try:
        for f in as_completed(futs):
            i = index[f.key]
            rows[i] = f.result()
            if on_done:
                on_done(jobs[i], rows[i])
    except BaseException:
        client.cancel(futs)
        raise
    return rows
