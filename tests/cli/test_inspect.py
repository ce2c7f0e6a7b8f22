"""`pystack inspect`: exact summaries, exit codes and error messages."""
import gzip
import json
import pathlib
import struct
import subprocess
import sys

import dpkt
import pytest

from pystack.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "samples" / "mixed.pcap"


def run_json(capsys, *args):
    rc = main(["inspect", "--json", *map(str, args)])
    out = capsys.readouterr().out
    return rc, json.loads(out)


def test_sample_summary_is_exact(capsys):
    rc, rep = run_json(capsys, SAMPLE)
    assert rc == 0
    assert rep["packets"] == 73
    assert rep["linktypes"] == {"EN10MB": 73}
    assert rep["l3"] == {"IPv4": 64, "IPv6": 9}
    assert rep["l4"] == {"TCP": 66, "UDP": 6, "ICMP": 1}
    assert rep["vlan_tagged"] == 1
    assert rep["truncated"] == 1
    assert rep["fragments"] == 0
    assert rep["checksums"]["tcp_bad"] == 1          # the deliberately corrupted SYN
    assert rep["checksums"]["l4_truncated"] == 1     # the snaplen-cut response: never verified
    assert rep["checksums"]["ip_bad"] == 0
    assert rep["malformed"] == {}
    assert rep["hosts"][0] == {"address": "198.18.0.1", "packets": 64}
    assert rep["distinct_hosts"] == 12
    assert rep["files"][0]["format"] == "pcap"
    assert rep["duration_s"] == pytest.approx(0.522000074, abs=1e-9)
    assert rep["error"] is None


def test_text_output_names_everything(capsys):
    assert main(["inspect", str(SAMPLE)]) == 0
    out = capsys.readouterr().out
    for needle in ("pcap", "EN10MB 73", "packets     73", "IPv4 64 (87.7%)", "TCP 66",
                   "truncated 1", "198.18.0.1", "TCP bad 1"):
        assert needle in out, needle


def test_gzip_and_merge_give_the_same_packets(tmp_path, capsys):
    gz = tmp_path / "mixed.pcap.gz"
    gz.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    rc, rep = run_json(capsys, gz, SAMPLE)
    assert rc == 0
    assert rep["packets"] == 146
    assert rep["files"][0]["compressed"] is True


def test_corrupt_record_keeps_earlier_packets_and_names_the_offset(tmp_path, capsys):
    data = bytearray(SAMPLE.read_bytes())
    # Walk to the 11th record header and make it claim 4 GiB of captured bytes.
    off = 24
    for _ in range(10):
        caplen = struct.unpack_from("<I", data, off + 8)[0]
        off += 16 + caplen
    struct.pack_into("<I", data, off + 8, 0xFFFFFFFF)
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(bytes(data))
    rc = main(["inspect", "--json", str(bad)])
    captured = capsys.readouterr()
    rep = json.loads(captured.out)
    assert rc == 1
    assert rep["packets"] == 10
    assert f"byte {off}" in rep["error"] and "bad.pcap" in rep["error"]
    assert f"byte {off}" in captured.err


def test_unsupported_link_type_is_named(tmp_path, capsys):
    path = tmp_path / "user0.pcap"
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f, linktype=147)
        for i in range(3):
            w.writepkt(b"\x01\x02\x03\x04" * 5, ts=1.0 + i)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "link type USER0 is not supported: 3 packets were not parsed" in out


def test_missing_file_exit_1_one_sentence(tmp_path, capsys):
    rc = main(["inspect", str(tmp_path / "nope.pcap")])
    err = capsys.readouterr().err
    assert rc == 1
    assert "nope.pcap" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_not_a_capture_exit_1(tmp_path, capsys):
    p = tmp_path / "notes.txt"
    p.write_text("hello, this is not a capture file\n")
    rc = main(["inspect", str(p)])
    err = capsys.readouterr().err
    assert rc == 1 and "notes.txt: byte 0" in err


def test_bad_usage_exit_2(capsys):
    assert main(["inspect"]) == 2
    assert main(["inspect", "--checksum", "sometimes", str(SAMPLE)]) == 2
    assert main(["frobnicate"]) == 2


def test_module_entry_point_and_console_script():
    out = subprocess.run([sys.executable, "-m", "pystack", "inspect", str(SAMPLE)],
                         capture_output=True, text=True, check=True).stdout
    assert "packets     73" in out


def test_checksum_policies(capsys):
    rc, rep = run_json(capsys, "--checksum", "ignore", SAMPLE)
    assert rc == 0 and rep["checksums"]["tcp_bad"] == 0
    assert rep["checksum_summary"].startswith("ignore")
    rc, rep = run_json(capsys, "--checksum", "verify", SAMPLE)
    assert rc == 0 and rep["checksums"]["tcp_bad"] == 1
    assert rep["checksum_summary"] == "verify: 1 bad checksum counted"


def test_host_counter_keeps_exact_counts_after_the_cap():
    import numpy as np

    from pystack.inspect import _HostCounter

    hc = _HostCounter(3, np.uint32)
    hc.add(np.array([1, 2, 3], np.uint32), np.array([9, 9, 9], np.uint32))   # 4 distinct > 3
    assert hc.capped
    hc.add(np.array([1, 1, 5], np.uint32), np.array([2, 2, 6], np.uint32))
    assert hc.keys.tolist() == [1, 2, 3]
    assert dict((int(k), n) for k, n in hc.top(3)) == {1: 3, 2: 3, 3: 1}
