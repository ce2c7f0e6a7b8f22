"""The sweep dataset: partition layout, points.parquet, the comparison
table's exact values on the accept-overflow sample, and tables identical to
sequential `pystack replay --format parquet` runs of the same settings."""
import json
import os
import pathlib

import pandas as pd
import pyarrow.dataset as ds
import pytest

import pystack
from pystack.cli import main
from pystack.whatif import SweepError

ROOT = pathlib.Path(__file__).resolve().parents[2]
CAP = str(ROOT / "data" / "samples" / "accept-overflow.pcap")
CFG = str(ROOT / "data" / "hosts" / "accept-overflow.toml")
TABLES = ("packets", "connections", "samples", "counters")
VARY = {"net.core.somaxconn": [1, 128], "listen.backlog": [2, 5]}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "out"
    df = pystack.sweep(CAP, CFG, VARY, str(out), workers=1)
    return out, df


def test_layout(swept):
    out, _ = swept
    assert sorted(os.listdir(out)) == ["comparison.parquet", "connections", "counters",
                                       "packets", "points.parquet", "runs", "samples",
                                       "sweep.json"]
    for t in TABLES:
        assert sorted(os.listdir(out / t)) == [f"point=p00{i}" for i in range(4)]
        for i in range(4):
            assert os.listdir(out / t / f"point=p00{i}") == ["part-0.parquet"]
    assert sorted(os.listdir(out / "runs")) == ["p000", "p001", "p002", "p003"]
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["kind"] == "sweep" and meta["points"] == 4 and meta["executor"] == "serial"
    assert meta["axes"] == {"net.core.somaxconn": ["1", "128"], "listen.backlog": ["2", "5"]}
    import hashlib
    assert meta["inputs"] == [{"path": CAP, "size": os.path.getsize(CAP), "sha256": hashlib.sha256(
        pathlib.Path(CAP).read_bytes()).hexdigest()}]


def test_points_parquet(swept):
    out, _ = swept
    p = pd.read_parquet(out / "points.parquet")
    assert p.to_dict(orient="list") == {
        "point": ["p000", "p001", "p002", "p003"],
        "net.core.somaxconn": ["1", "1", "128", "128"],
        "listen.backlog": ["2", "5", "2", "5"],
        "label": ["net.core.somaxconn=1 listen.backlog=2", "net.core.somaxconn=1 listen.backlog=5",
                  "net.core.somaxconn=128 listen.backlog=2",
                  "net.core.somaxconn=128 listen.backlog=5"]}


def test_read_all_points_with_point_column(swept):
    out, _ = swept
    pk = pd.read_parquet(out / "packets")
    assert pk.groupby("point", observed=True).size().to_dict() == {
        "p000": 16, "p001": 16, "p002": 16, "p003": 16}
    dropped = pk[pk["verdict"] == "DROPPED"].groupby("point", observed=True).size().to_dict()
    assert dropped == {"p000": 9, "p001": 9, "p002": 7, "p003": 4}
    c = ds.dataset(out / "counters", partitioning="hive").to_table().to_pandas()
    fin = c[c["final"] & (c["counter"] == "TcpExtListenOverflows")]
    assert dict(zip(fin["point"], fin["value"])) == {"p000": 8, "p001": 8, "p002": 7, "p003": 0}


def test_comparison_exact(swept):
    out, df = swept
    # p002 is the sample's own host (somaxconn 128, listen(fd, 2)): the kernel
    # counted TcpExtListenOverflows = 7 on this exchange.  somaxconn=1 caps
    # the backlog at 1 whatever listen() asked (net/socket.c __sys_listen_socket)
    assert df.to_dict(orient="list") == {
        "point": ["p000", "p001", "p002", "p003"],
        "net.core.somaxconn": ["1", "1", "128", "128"],
        "listen.backlog": ["2", "5", "2", "5"],
        "packets": [16, 16, 16, 16],
        "DELIVERED": [4, 4, 6, 9], "DROPPED": [9, 9, 7, 4], "FORWARDED": [0, 0, 0, 0],
        "SENT": [3, 3, 3, 3],
        "NOT_HOST": [0, 0, 0, 0], "QUEUED": [0, 0, 0, 0], "UNMODELLED": [0, 0, 0, 0],
        "drop_NOT_SPECIFIED": [0, 0, 0, 4], "drop_TCP_FLAGS": [1, 1, 0, 0],
        "drop_TCP_LISTEN_OVERFLOW": [8, 8, 7, 0],
        "conn_attempts": [6, 6, 6, 6], "conn_established": [2, 2, 3, 3],
        "conn_failed": [4, 4, 3, 3], "conn_reset": [0, 0, 0, 0],
        "syn_queue_max": [1, 1, 1, 3], "accept_queue_max": [2, 2, 3, 3],
        "rcv_queue_max": [0, 0, 0, 0], "listen_overflows": [8, 8, 7, 0]}
    assert pd.read_parquet(out / "comparison.parquet").equals(df)


def test_identical_to_sequential_replays(swept, tmp_path):
    out, _ = swept
    for pid, flags in (("p000", ["--sysctl", "net.core.somaxconn=1", "--listen", "5000,backlog=2"]),
                       ("p003", ["--sysctl", "net.core.somaxconn=128", "--listen",
                                 "5000,backlog=5"])):
        seq = tmp_path / pid
        assert main(["replay", CAP, "--config", CFG, *flags, "--format", "parquet", "-q",
                     "-o", str(seq)]) == 0
        for t in TABLES:
            assert (out / t / f"point={pid}" / "part-0.parquet").read_bytes() == \
                (seq / f"{t}.parquet").read_bytes(), (pid, t)


def test_point_run_json_reads_like_a_replay_folder(swept, capsys):
    out, _ = swept
    s = pystack.load(str(out / "runs" / "p002"))
    assert len(s.packets) == 16 and s.run["sweep"]["settings"] == {
        "net.core.somaxconn": "128", "listen.backlog": "2"}
    assert s.run["sweep"]["row"]["listen_overflows"] == 7
    assert main(["diff", str(out / "runs" / "p002"), str(out / "runs" / "p003")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "counter     TcpExtListenOverflows: 7 -> 0 (-7)" in lines
    assert "drops       TCP_LISTEN_OVERFLOW: 7 -> 0 (-7)" in lines


def test_process_pool_gives_the_same_bytes(swept, tmp_path):
    out, df = swept
    out2 = tmp_path / "pool"
    df2 = pystack.sweep(CAP, CFG, VARY, str(out2), workers=2)
    assert df2.equals(df)
    assert json.loads((out2 / "sweep.json").read_text())["executor"] == "process pool of 2"
    for t in TABLES:
        for i in range(4):
            f = f"{t}/point=p00{i}/part-0.parquet"
            assert (out2 / f).read_bytes() == (out / f).read_bytes(), f


def test_fsspec_url(swept):
    out, df = swept
    import fsspec
    fs = fsspec.filesystem("memory")
    df2 = pystack.sweep(CAP, CFG, VARY, "memory://sweeptest/out", workers=1)
    try:
        assert df2.equals(df)
        assert not fs.exists("/sweeptest/out/INCOMPLETE")
        for t in TABLES:
            with fs.open(f"/sweeptest/out/{t}/point=p001/part-0.parquet", "rb") as f:
                assert f.read() == (out / t / "point=p001" / "part-0.parquet").read_bytes()
        assert fs.exists("/sweeptest/out/runs/p003/run.json")
    finally:
        fs.rm("/sweeptest", recursive=True)


def test_existing_output(swept, tmp_path):
    out, _ = swept
    with pytest.raises(SweepError, match="exists \\(use --force"):
        pystack.sweep(CAP, CFG, VARY, str(out), workers=1)
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious.txt").write_text("x")
    with pytest.raises(SweepError, match="is not a pystack sweep output"):
        pystack.sweep(CAP, CFG, VARY, str(other), workers=1, force=True)
    assert (other / "precious.txt").exists()
    redo = tmp_path / "redo"
    pystack.sweep(CAP, CFG, {"seed": [1]}, str(redo), workers=1)
    df = pystack.sweep(CAP, CFG, {"seed": [2, 3]}, str(redo), workers=1, force=True)
    assert list(df["seed"]) == ["2", "3"]
    assert sorted(os.listdir(redo / "runs")) == ["p000", "p001"]


def test_bad_point_fails_before_writing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(SweepError, match="no TCP listener on port 80"):
        pystack.sweep(CAP, CFG, {"listen[80].backlog": [1]}, str(out), workers=1)
    assert not out.exists()
    with pytest.raises(SweepError, match="nothing to vary"):
        pystack.sweep(CAP, CFG, {}, str(out), workers=1)
    with pytest.raises(SweepError, match="no such capture"):
        pystack.sweep(str(tmp_path / "none.pcap"), CFG, {"seed": [1]}, str(out), workers=1)


def test_rules_axis_is_passed_to_replay(tmp_path, monkeypatch):
    """On a build whose Replay takes rules=, each point's ruleset path
    reaches Replay(host, rules=...)."""
    import pystack.replay as R
    seen = []

    class RulesReplay(R.Replay):
        def __init__(self, host, rules=None, **kw):
            seen.append((host.sysctls.get("net.core.somaxconn"), rules))
            super().__init__(host, **kw)

    monkeypatch.setattr(R, "Replay", RulesReplay)
    a, b = tmp_path / "a.save", tmp_path / "b.save"
    for f in (a, b):
        f.write_text("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n")
    df = pystack.sweep(CAP, CFG, ["net.core.somaxconn=1,128", f"rules={a},{b}"],
                       str(tmp_path / "out"), workers=1)
    assert list(df["rules"]) == [str(a), str(b), str(a), str(b)]
    assert seen == [(1, str(a)), (1, str(b)), (128, str(a)), (128, str(b))]


def test_inferred_host_once_for_every_point(tmp_path):
    """Without a config the host is inferred once from the capture; each
    point's tables equal `pystack replay` (inferred host) with the same flags."""
    out = tmp_path / "inf"
    df = pystack.sweep(CAP, None, {"net.core.somaxconn": [1, 4096],
                                   "app.accept": ["immediate", "never"]}, str(out), workers=1)
    # inferred: a listener on :5000 whose application accepts at once; only
    # an application that never accepts, behind somaxconn=1, overflows
    assert list(df["listen_overflows"]) == [0, 8, 0, 0]
    assert list(df["DROPPED"]) == [3, 9, 4, 4]
    seq = tmp_path / "seq"
    assert main(["replay", CAP, "--sysctl", "net.core.somaxconn=1", "--app", "5000:accept=never",
                 "--format", "parquet", "-q", "-o", str(seq)]) == 0
    for t in TABLES:
        assert (out / t / "point=p001" / "part-0.parquet").read_bytes() == \
            (seq / f"{t}.parquet").read_bytes(), t


@pytest.mark.parametrize("threads", [1, 2])
def test_pool_start_methods(swept, tmp_path, monkeypatch, threads):
    """fork when this process has no other thread, forkserver otherwise:
    the same tables either way."""
    import multiprocessing as mp
    import threading
    out, _ = swept
    used = []
    real = mp.get_context
    monkeypatch.setattr(threading, "active_count", lambda: threads)
    monkeypatch.setattr(mp, "get_context", lambda m=None: used.append(m) or real(m))
    out2 = tmp_path / "pool"
    pystack.sweep(CAP, CFG, {"seed": [0, 1]}, str(out2), workers=2)
    assert used == ["fork" if threads == 1 else "forkserver"]
    assert (out2 / "packets/point=p000/part-0.parquet").read_bytes() == \
        (out / "packets/point=p002/part-0.parquet").read_bytes()
