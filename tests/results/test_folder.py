"""The output folder: built aside and renamed into place, never overwriting
without force, and an interrupted run (a real SIGTERM) leaves a folder
marked incomplete whose tables hold every finished batch."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import pytest

import pystack
from pystack.results.writer import INCOMPLETE_MARKER, OutputExists, OutputFolder
from tests.results.util import run_frames
from tests.tcp.conn import three_connections

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_complete_folder_and_no_leftovers(tmp_path):
    pk, ts = three_connections()[1]
    out = run_frames(tmp_path / "out", pk, ts)
    assert sorted(os.listdir(out)) == ["connections.arrow", "counters.arrow", "packets.arrow",
                                       "run.json", "samples.arrow"]
    assert os.listdir(tmp_path) == ["out"]          # the .out.partial-PID folder is gone
    info = json.loads((tmp_path / "out" / "run.json").read_text())
    assert info["complete"] is True
    assert info["tables"]["packets"] == {"file": "packets.arrow", "rows": 17}


def test_existing_folder_needs_force(tmp_path):
    pk, ts = three_connections()[1]
    run_frames(tmp_path / "out", pk, ts)
    with pytest.raises(OutputExists, match="use --force"):
        OutputFolder(str(tmp_path / "out"))
    before = (tmp_path / "out" / "run.json").read_text()
    assert (tmp_path / "out" / "run.json").read_text() == before
    # with force it is replaced (here by a Parquet run)
    from pystack.replay import Replay
    from pystack.results.writer import ResultWriter
    from tests.pktbuild import host, listener
    r = Replay(host([listener()]), checksum="verify")
    w = ResultWriter(OutputFolder(str(tmp_path / "out"), fmt="parquet", force=True), r)
    w.finish(r.finish(), {})
    assert sorted(os.listdir(tmp_path / "out"))[0] == "connections.parquet"


def test_force_never_replaces_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(OutputExists, match="not a pystack output folder"):
        OutputFolder(str(tmp_path / "mine"), force=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from pystack.config import load_host_config
    from pystack.replay import Replay
    from pystack.results.run import StopFlag, replay_to_folder

    n = [0]
    def slow(rb, cols, v):
        n[0] += 1
        print("batch", n[0], cols.n, flush=True)
        time.sleep(0.1)

    host = load_host_config({root!r} + "/data/hosts/synflood-cookies.toml")
    r = Replay(host, batch_size=50)
    with StopFlag() as stop:
        path, result, info = replay_to_folder(
            r, [{root!r} + "/data/samples/synflood-cookies.pcap"], {out!r},
            on_batch=slow, stop=stop)
    print("done", path, result is None, flush=True)
""")


def test_sigterm_leaves_an_incomplete_folder(tmp_path):
    out = str(tmp_path / "out")
    p = subprocess.Popen([sys.executable, "-c", CHILD.format(root=str(ROOT), out=out)],
                         stdout=subprocess.PIPE, text=True)
    lines = []
    for line in p.stdout:
        lines.append(line.split())
        if line.startswith("batch 3 "):
            p.send_signal(signal.SIGTERM)
            break
    rest = p.stdout.read().split("\n")
    assert p.wait(timeout=30) == 0
    done = [x for x in rest if x.startswith("done")]
    assert done == [f"done {out}.incomplete True"]
    assert not os.path.exists(out)
    inc = pathlib.Path(out + ".incomplete")
    assert (inc / INCOMPLETE_MARKER).exists()
    info = json.loads((inc / "run.json").read_text())
    assert info["complete"] is False and info["interrupted"] is True
    # the stop is seen after the batch during which it arrived: 3 or 4 batches
    # of 50 packets, all of them in the table
    batches = sum(1 for x in rest if x.startswith("batch")) + 3
    with pytest.warns(UserWarning, match="interrupted"):
        d = pystack.load(str(inc))
    assert len(d.packets) == 50 * batches == info["tables"]["packets"]["rows"]
    assert d.packets["frame"].tolist() == list(range(1, 50 * batches + 1))
    assert len(d.counters) == 0 or not d.counters["final"].any()
