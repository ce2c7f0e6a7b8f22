"""The same sweep on a real distributed.LocalCluster (two worker processes):
same comparison, same bytes, and a worker killed in the middle of a job has
its job rerun elsewhere, every point committed exactly once."""
import os
import pathlib

import psutil
import pytest
from distributed import Client, LocalCluster

import pystack
from pystack.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
CAP = str(ROOT / "data" / "samples" / "accept-overflow.pcap")
CFG = str(ROOT / "data" / "hosts" / "accept-overflow.toml")
TABLES = ("packets", "connections", "samples", "counters")
VARY = {"net.core.somaxconn": [1, 128], "listen.backlog": [2, 5]}


def _children():
    return {p.pid for p in psutil.Process().children(recursive=True)}


def _gone(before):
    """Wait (bounded) for every process started since `before` to exit."""
    new = []
    for pid in _children() - before:
        try:
            p = psutil.Process(pid)
            cmd = " ".join(p.cmdline())
        except psutil.NoSuchProcess:
            continue
        # multiprocessing's resource tracker lives as long as this interpreter
        if "resource_tracker" not in cmd:
            new.append(p)
    _, alive = psutil.wait_procs(new, timeout=60)
    return [(p.pid, " ".join(p.cmdline())) for p in alive]


@pytest.fixture(scope="module")
def client():
    before = _children()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0", death_timeout=120)
    c = Client(cluster, timeout="120s")
    c.wait_for_workers(2, timeout=120)
    yield c
    c.close()
    cluster.close(timeout=120)
    assert _gone(before) == []


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "out"
    return out, pystack.sweep(CAP, CFG, VARY, str(out), workers=1)


def _same_tables(a, b):
    for t in TABLES:
        assert sorted(os.listdir(a / t)) == sorted(os.listdir(b / t))
        for part in os.listdir(a / t):
            assert (a / t / part / "part-0.parquet").read_bytes() == \
                (b / t / part / "part-0.parquet").read_bytes(), (t, part)


def test_dask_sweep_matches_serial(client, serial, tmp_path):
    ref, df = serial
    out = tmp_path / "dask"
    got = pystack.sweep(CAP, CFG, VARY, str(out), dask=client)
    assert got.equals(df)
    _same_tables(out, ref)
    assert not (out / "INCOMPLETE").exists() and not (out / ".staging").exists()


def test_worker_killed_mid_job(client, serial, tmp_path):
    ref, df = serial
    out = tmp_path / "killed"
    marker = tmp_path / "killed-once"
    workers_before = set(client.scheduler_info()["workers"])
    got = pystack.sweep(CAP, CFG, VARY, str(out), dask=client, _kill_once=str(marker))
    # the first job to finish a batch SIGKILLed its worker process...
    victim = int(marker.read_text())
    try:
        assert psutil.Process(victim).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        pass
    # ...and the sweep still holds every point once, the same as serial
    assert got.equals(df)
    _same_tables(out, ref)
    assert sorted(os.listdir(out / "runs")) == ["p000", "p001", "p002", "p003"]
    for t in TABLES:
        assert sorted(os.listdir(out / t)) == [f"point=p00{i}" for i in range(4)]
    assert not (out / ".staging").exists()
    # the nanny replaced the lost worker
    client.wait_for_workers(2, timeout=120)
    assert set(client.scheduler_info()["workers"]) != workers_before


def test_cli_dask_local_cluster(serial, tmp_path, capsys):
    ref, df = serial
    before = _children()
    out = tmp_path / "cli"
    rc = main(["sweep", CAP, "--config", CFG, "--vary", "net.core.somaxconn=1,128",
               "--vary", "listen.backlog=2,5", "--dask", "local:2", "-q", "--json",
               "-o", str(out)])
    assert rc == 0
    _same_tables(out, ref)
    assert _gone(before) == []
    import json
    rows = json.loads(capsys.readouterr().out)
    assert [r["listen_overflows"] for r in rows] == [8, 8, 7, 0]
