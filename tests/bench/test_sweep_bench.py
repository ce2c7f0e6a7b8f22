"""bench.sweep on a tiny mix trace: both runs happen, the tables agree."""
import json

from bench import sweep


def test_sweep_bench_tiny(tmp_path, capsys):
    rc = sweep.main(["--scale", "0.0005", "--traces", str(tmp_path / "traces"),
                     "--workers", "2", "--json", str(tmp_path / "r.json")])
    assert rc == 0
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["points"] == 8 and r["identical"] is True
    assert r["executor"] == "process pool of 2"
    assert r["sequential_s"] > 0 and r["sweep_s"] > 0
    out = capsys.readouterr().out
    assert "identical   yes, every table of every point" in out
