"""`pystack sweep` and `pystack fleet`: output, exit codes, --grid, --json."""
import json
import pathlib

from pystack.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
CAP = str(ROOT / "data" / "samples" / "accept-overflow.pcap")
CFG = str(ROOT / "data" / "hosts" / "accept-overflow.toml")


def test_sweep_prints_the_comparison(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["sweep", CAP, "--config", CFG, "--vary", "net.core.somaxconn=1,128",
               "--workers", "1", "-o", str(out)])
    assert rc == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "point", "net.core.somaxconn", "packets", "DELIVERED", "DROPPED", "FORWARDED", "SENT", "NOT_HOST",
        "QUEUED", "UNMODELLED", "drop_TCP_FLAGS", "drop_TCP_LISTEN_OVERFLOW", "conn_attempts",
        "conn_established", "conn_failed", "conn_reset", "syn_queue_max", "accept_queue_max",
        "rcv_queue_max", "listen_overflows"]
    assert lines[1].split() == ["p000", "1", "16", "4", "9", "0", "3", "0", "0", "0", "1", "8",
                                "6", "2", "4", "0", "1", "2", "0", "8"]
    assert lines[2].split() == ["p001", "128", "16", "6", "7", "0", "3", "0", "0", "0", "0", "7",
                                "6", "3", "3", "0", "1", "3", "0", "7"]
    assert lines[3] == (f"written     {out} (2 points; pystack diff {out}/runs/ID_A "
                        f"{out}/runs/ID_B compares two)")
    assert main(["diff", str(out / "runs" / "p000"), str(out / "runs" / "p001")]) == 0
    assert "counter     TcpExtListenOverflows: 8 -> 7 (-1)" in capsys.readouterr().out


def test_sweep_grid_file_with_base_overrides_and_json(tmp_path, capsys):
    g = tmp_path / "grid.toml"
    g.write_text('[vary]\n"listen.backlog" = [2, 5]\n')
    rc = main(["sweep", CAP, "--config", CFG, "--sysctl", "net.core.somaxconn=1",
               "--grid", str(g), "--vary", "seed=7", "--workers", "1", "--json",
               "-o", str(tmp_path / "out")])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    # somaxconn=1 caps both backlogs: the same overflows at 2 and at 5
    assert [(r["point"], r["listen.backlog"], r["seed"], r["listen_overflows"]) for r in rows] \
        == [("p000", "2", "7", 8), ("p001", "5", "7", 8)]


def test_sweep_usage_errors(tmp_path, capsys):
    out = str(tmp_path / "out")
    assert main(["sweep", CAP, "--config", CFG, "-o", out]) == 2
    assert "nothing to vary" in capsys.readouterr().err
    assert main(["sweep", CAP, "--config", CFG, "--vary", "listen.nope=1", "-o", out]) == 2
    assert "unknown listen setting 'nope'" in capsys.readouterr().err
    assert main(["sweep", CAP, "--config", CFG, "--vary", "seed=1", "--workers", "0",
                 "-o", out]) == 2
    assert "--workers must be 1 or more" in capsys.readouterr().err
    assert main(["sweep", CAP, "--config", CFG, "--vary", "seed=1", "--dask", "nowhere",
                 "-o", out]) == 2
    assert "expected a scheduler address" in capsys.readouterr().err
    assert main(["sweep", CAP, "--config", CFG, "--vary", "seed=1", "--dask", "local:0",
                 "-o", out]) == 2
    assert "local:N with N >= 1" in capsys.readouterr().err
    assert main(["sweep", CAP, "--vary", "seed=1", "-o", out]) == 0   # host inferred
    capsys.readouterr()
    assert main(["sweep", CAP, "--vary", "seed=1", "-o", out]) == 2
    assert "exists (use --force" in capsys.readouterr().err
    assert main(["sweep", CAP, "--config", str(tmp_path / "none.toml"), "--vary", "seed=1",
                 "-o", out, "--force"]) == 2
    assert "none.toml" in capsys.readouterr().err


def test_fleet_cli(tmp_path, capsys):
    out = tmp_path / "fleet"
    rc = main(["fleet", str(ROOT / "data/samples/accept-overflow.pcap"),
               str(ROOT / "data/samples/zero-window.pcap"), "--config-dir",
               str(ROOT / "data/hosts"), "--workers", "1", "--json", "-o", str(out)])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["host"], r["packets"], r["DROPPED"]) for r in rows] == [
        ("accept-overflow", 16, 7), ("zero-window", 17, 4)]
    assert main(["fleet", CAP, "--config-dir", str(tmp_path), "-o", str(tmp_path / "x")]) == 2
    assert "no host config" in capsys.readouterr().err


def test_sweep_unreadable_capture_exit_1(tmp_path, capsys):
    import struct
    cap = tmp_path / "bad.pcap"
    data = pathlib.Path(CAP).read_bytes()
    # a record header claiming 2 GiB of captured bytes after the sample's records
    cap.write_bytes(data + struct.pack("<IIII", 1, 0, 0x7FFFFFFF, 60) + b"x" * 100)
    out = tmp_path / "out"
    rc = main(["sweep", str(cap), "--config", CFG, "--vary", "seed=1", "--workers", "1",
               "-o", str(out)])
    assert rc == 1
    err = capsys.readouterr().err
    assert err == (f"pystack: point=p000: {cap}: byte {len(data)}: record claims 2147483647 "
                   f"captured bytes (limit 262144) ({out} is left INCOMPLETE)\n")
    assert (out / "INCOMPLETE").exists() and not (out / "runs" / "p000").exists()
