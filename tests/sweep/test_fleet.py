"""Fleet replay: each capture against the config named after it, one
dataset partitioned by host."""
import os
import pathlib
import shutil

import pandas as pd
import pytest

import pystack
from pystack.cli import main
from pystack.whatif import SweepError, host_name

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples"
HOSTS = ROOT / "data" / "hosts"
CAPS = [str(SAMPLES / "accept-overflow.pcap"), str(SAMPLES / "zero-window.pcap")]


def test_host_names():
    assert host_name("/x/web-1.pcap") == "web-1"
    assert host_name("db.pcapng.gz") == "db"
    assert host_name("edge.cap") == "edge"


def test_fleet_by_host_name(tmp_path):
    out = tmp_path / "fleet"
    df = pystack.fleet(CAPS, str(HOSTS), str(out), workers=2)
    assert df[["host", "packets", "DELIVERED", "DROPPED", "SENT", "drop_TCP_LISTEN_OVERFLOW",
               "drop_PROTO_MEM", "conn_attempts", "conn_established", "conn_failed",
               "accept_queue_max", "rcv_queue_max", "listen_overflows"]
              ].to_dict(orient="list") == {
        "host": ["accept-overflow", "zero-window"], "packets": [16, 17],
        "DELIVERED": [6, 12], "DROPPED": [7, 4], "SENT": [3, 1],
        "drop_TCP_LISTEN_OVERFLOW": [7, 0], "drop_PROTO_MEM": [0, 1],
        "conn_attempts": [6, 1], "conn_established": [3, 1], "conn_failed": [3, 0],
        "accept_queue_max": [3, 1], "rcv_queue_max": [0, 3285], "listen_overflows": [7, 0]}
    assert list(df["config"]) == [str(HOSTS / "accept-overflow.toml"),
                                  str(HOSTS / "zero-window.toml")]
    for t in ("packets", "connections", "samples", "counters"):
        assert sorted(os.listdir(out / t)) == ["host=accept-overflow", "host=zero-window"]
    pk = pd.read_parquet(out / "packets")
    assert pk.groupby("host", observed=True).size().to_dict() == {
        "accept-overflow": 16, "zero-window": 17}
    assert list(pd.read_parquet(out / "hosts.parquet")["host"]) == ["accept-overflow",
                                                                     "zero-window"]
    # each host's tables are what a plain replay of it writes
    for name in ("accept-overflow", "zero-window"):
        seq = tmp_path / name
        assert main(["replay", str(SAMPLES / f"{name}.pcap"), "--config",
                     str(HOSTS / f"{name}.toml"), "--format", "parquet", "-q",
                     "-o", str(seq)]) == 0
        assert (out / "packets" / f"host={name}" / "part-0.parquet").read_bytes() == \
            (seq / "packets.parquet").read_bytes()


def test_fleet_missing_config(tmp_path):
    cap = tmp_path / "web1.pcap"
    shutil.copy(CAPS[0], cap)
    hosts = tmp_path / "hosts"
    hosts.mkdir()
    for name in ("accept-overflow", "example"):
        shutil.copy(HOSTS / f"{name}.toml", hosts / f"{name}.toml")
    with pytest.raises(SweepError, match=r"web1.pcap: no host config .*web1.toml \(configs in "
                                         r".*: accept-overflow, example\)"):
        pystack.fleet([str(cap)], str(hosts), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_fleet_unsafe_or_duplicate_names(tmp_path):
    bad = tmp_path / "we b.pcap"
    shutil.copy(CAPS[0], bad)
    with pytest.raises(SweepError, match="not filesystem-safe"):
        pystack.fleet([str(bad)], str(HOSTS), str(tmp_path / "out"))
    gz = tmp_path / "accept-overflow.pcap.gz"
    import gzip
    gz.write_bytes(gzip.compress(pathlib.Path(CAPS[0]).read_bytes()))
    with pytest.raises(SweepError, match="are both host 'accept-overflow'"):
        pystack.fleet([CAPS[0], str(gz)], str(HOSTS), str(tmp_path / "out"))
    with pytest.raises(SweepError, match="not a directory"):
        pystack.fleet(CAPS, str(tmp_path / "nohosts"), str(tmp_path / "out"))
