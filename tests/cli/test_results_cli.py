"""`pystack replay -o`, `summary`, `explain`, `diff`, `report` on the bundled
samples: exact output lines and exit codes."""
import json
import pathlib
import re

import pytest

from pystack.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples"
HOSTS = ROOT / "data" / "hosts"


def replay_out(tmp_path, name, *extra, out=None):
    out = out or tmp_path / name
    rc = main(["replay", str(SAMPLES / f"{name}.pcap"), "--config", str(HOSTS / f"{name}.toml"),
               "-o", str(out), "-q", *map(str, extra)])
    return rc, out


def test_replay_output_and_summary(tmp_path, capsys):
    rc, out = replay_out(tmp_path, "accept-overflow")
    assert rc == 0
    text = capsys.readouterr().out
    assert text.splitlines() == [
        "packets     16: DELIVERED 6, DROPPED 7, SENT 3",
        "drop        TCP_LISTEN_OVERFLOW 7  (TcpExtListenOverflows 7, TcpExtListenDrops 7)",
        "overflowed  listener 0.0.0.0:5000/tcp backlog 2: overflows 7, listen drops 7, "
        "accept queue max 3, cookies sent 0",
        "connections 3",
        f"written     {out}",
    ]
    assert main(["summary", str(out)]) == 0
    assert capsys.readouterr().out.splitlines() == text.splitlines()[:-1]
    info = json.loads((out / "run.json").read_text())
    assert info["complete"] and info["replay"]["seed"] == 0
    assert info["config"]["host"]["addresses"] == ["198.18.0.1"]
    assert re.fullmatch("[0-9a-f]{64}", info["inputs"][0]["sha256"])
    assert info["tables"]["packets"]["rows"] == 16


def test_existing_output_needs_force(tmp_path, capsys):
    assert replay_out(tmp_path, "accept-overflow")[0] == 0
    capsys.readouterr()
    rc, out = replay_out(tmp_path, "accept-overflow")
    assert rc == 2
    assert capsys.readouterr().err == f"pystack: {out} exists (use --force to replace it)\n"
    assert replay_out(tmp_path, "accept-overflow", "--force", "--format", "parquet")[0] == 0
    assert (out / "packets.parquet").exists() and not (out / "packets.arrow").exists()


def test_summary_of_the_zero_window_sample(tmp_path, capsys):
    rc, out = replay_out(tmp_path, "zero-window")
    assert rc == 0
    capsys.readouterr()
    assert main(["summary", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["verdicts"] == {"DELIVERED": 12, "DROPPED": 4, "SENT": 1}
    assert [d["reason"] for d in s["drops"]] == ["TCP_INVALID_END_SEQUENCE", "PROTO_MEM",
                                                  "TCP_OLD_DATA"]
    assert s["drops"][1]["counters"] == {"TcpExtTCPRcvQDrop": 1, "TcpExtPruneCalled": 1}
    assert s["stalled"] == [{"conn_id": 0, "remote": "198.19.0.201:46000",
                             "local": "198.18.0.1:9000", "zero_windows": 3,
                             "zero_window_ns": 900200128, "max_rcv_queue": 3285,
                             "why": "OPEN"}]


def test_explain_a_dropped_syn(tmp_path, capsys):
    rc, out = replay_out(tmp_path, "accept-overflow")
    capsys.readouterr()
    assert main(["explain", str(out), "--frame", "10"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "frame 10  2026-11-18 11:06:40.599999905  interface 0",
        "parse       IPv4 TCP 198.19.0.4:41003 -> 198.18.0.1:5000  flags SYN seq 400000 ack 0 "
        "win 64240  payload 0",
        "checksum    IP OK, L4 OK",
        "direction   IN (to the host)",
        "socket      listener 0 0.0.0.0:5000/tcp; socket state after: LISTEN",
        "queues      SYN queue 0, accept queue 3 (since 2026-11-18 11:06:40.400200129)",
        "verdict     DROPPED: TCP_LISTEN_OVERFLOW",
        "sent        nothing",
    ]
    assert main(["explain", str(out), "--frame", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "sent        SYNACK seq 52625718 ack 100001 win 65160 flags SYN|ACK mss 1460 " \
           "wscale 10" in lines
    assert main(["explain", str(out), "--frame", "99"]) == 2
    assert capsys.readouterr().err == f"pystack: no frame 99 in {out}\n"


def test_diff_what_if(tmp_path, capsys):
    _, a = replay_out(tmp_path, "accept-overflow")
    _, b = replay_out(tmp_path, "accept-overflow", "--sysctl", "net.core.somaxconn=1",
                      out=tmp_path / "b")
    capsys.readouterr()
    assert main(["diff", str(a), str(b)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"A = {a}", f"B = {b}",
        # one SYN-ACK (60 bytes) fewer, one RST (40 bytes) more
        "counter     IpExtOutOctets: 180 -> 160 (-20)",
        "counter     TcpPassiveOpens: 3 -> 2 (-1)",
        "counter     TcpCurrEstab: 3 -> 2 (-1)",
        "counter     TcpOutRsts: 0 -> 1 (+1)",
        "counter     TcpExtListenOverflows: 7 -> 8 (+1)",
        "counter     TcpExtListenDrops: 7 -> 8 (+1)",
        "drops       TCP_FLAGS: 0 -> 1 (+1)",
        "drops       TCP_LISTEN_OVERFLOW: 7 -> 8 (+1)",
        "connection  198.19.0.3:41002 -> 198.18.0.1:5000: OPEN (ESTAB) -> no connection",
    ]
    assert main(["diff", str(a), str(a), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["counters"] == {} and d["drops"] == {} and d["connections_changed"] == 0


def test_report_is_self_contained(tmp_path, capsys):
    _, out = replay_out(tmp_path, "zero-window")
    html = tmp_path / "r.html"
    assert main(["report", str(out), "-o", str(html)]) == 0
    text = html.read_text()
    assert text.count("data:image/png;base64,") == 3        # queues, drops, one connection
    assert "http://" not in text and "https://" not in text
    assert "<td>TcpExtTCPRcvQDrop</td><td>1</td>" in text
    assert main(["report", str(out), "-o", str(html)]) == 2       # exists, no --force


@pytest.mark.parametrize("cmd", [["summary"], ["explain", "--frame", "1"], ["report", "-o", "x"]])
def test_not_an_output_folder(tmp_path, capsys, cmd):
    args = [cmd[0], str(tmp_path)] + cmd[1:]
    assert main(args) == 2
    assert "is not a `pystack replay -o` folder" in capsys.readouterr().err


def test_replay_without_output_keeps_the_old_summary(capsys):
    rc = main(["replay", str(SAMPLES / "accept-overflow.pcap"), "--config",
               str(HOSTS / "accept-overflow.toml")])
    assert rc == 0
    assert capsys.readouterr().out.startswith("host        198.18.0.1; kernel profile 6.18")
    assert main(["replay", str(SAMPLES / "accept-overflow.pcap"), "--force"]) == 2


def test_unreadable_capture_keeps_what_was_read(tmp_path, capsys):
    import struct
    data = bytearray((SAMPLES / "accept-overflow.pcap").read_bytes())
    off = 24
    for _ in range(10):
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
    struct.pack_into("<I", data, off + 8, 0x10000000)       # record 11: absurd caplen
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(bytes(data))
    rc = main(["replay", str(bad), "--config", str(HOSTS / "accept-overflow.toml"),
               "-o", str(tmp_path / "out"), "-q"])
    assert rc == 1
    cap = capsys.readouterr()
    assert cap.out.startswith("packets     10: DELIVERED 6, DROPPED 1, SENT 3\n")
    assert cap.err == (f"pystack: {bad}: byte 900: record claims 268435456 captured bytes "
                       "(limit 262144)\n")
    info = json.loads((tmp_path / "out" / "run.json").read_text())
    assert info["complete"] and info["error"] and info["tables"]["packets"]["rows"] == 10


def test_progress_line():
    import io

    from pystack._core.capture import RecordBatch
    from pystack.replay_cli import Progress
    s = io.StringIO()
    p = Progress([str(SAMPLES / "accept-overflow.pcap")], stream=s)
    p._time = iter([101.0, 101.1]).__next__
    p.t0 = 100.0
    rb = RecordBatch.from_packets([b"\0" * 60] * 4, linktype=1, ts_ns=[0, 1, 2, 3])
    rb.fileoff_arr[:4] = [24, 300, 600, 720]

    class Cols:
        n = 4
    p(rb, Cols, None)
    size = (SAMPLES / "accept-overflow.pcap").stat().st_size
    frac = 720 / size
    assert s.getvalue() == (f"\r[{'#' * int(frac * 30):<30}] {frac * 100:5.1f}%  4 packets  "
                            f"0.00 M pkts/s  ETA {(1 - frac) / frac:5.1f} s ")
    p(rb, Cols, None)                 # within 0.2 s of the last line: not redrawn
    assert s.getvalue().count("\r") == 1
    p.close()
    assert s.getvalue().endswith("\r" + " " * 90 + "\r")
