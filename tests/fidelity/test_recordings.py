"""The recordings themselves: every scenario of bench.kernel.scenarios is in
data/kernel with its capture, truth and host description, small enough to
commit, recorded on the reference kernel, and its host.toml loads."""
import os

import pytest

from bench.kernel import compare
from bench.kernel.scenarios import ALL
from pystack.config import load_host_config
from tests.fidelity.cases import DATA, sdir


@pytest.mark.parametrize("name", sorted(ALL))
def test_scenario_folder_complete(name):
    d = sdir(name)
    files = set(os.listdir(d))
    assert {"capture.pcap", "truth.json", "host.toml"} <= files
    truth = compare.load_truth(d)
    assert truth["scenario"] == name
    assert truth["kernel"].startswith("6.18.")
    assert ("rules.save" in files) == ALL[name].netfilter
    load_host_config(os.path.join(d, "host.toml"))


@pytest.mark.parametrize("name", sorted(n for n, s in ALL.items() if s.netfilter))
def test_netfilter_truth_has_rule_counters_and_conntrack(name):
    truth = compare.load_truth(sdir(name))
    nf = truth["netfilter"]
    assert any(k.startswith("iptables_save_") and "COMMIT" in v for k, v in nf.items())
    assert "entries" in nf["conntrack"]["stats"] or "cpu=" in nf["conntrack"]["stats"]


def test_recordings_stay_small():
    total = sum(os.path.getsize(os.path.join(dp, f))
                for dp, _, fs in os.walk(DATA) for f in fs)
    assert total < 10 * 1024 * 1024


@pytest.mark.parametrize("name", sorted(ALL))
def test_no_packet_straddles_the_counter_read(name):
    """The capture was cut where the counters were read; a packet within 1 ms
    before that read could have been tapped before and counted after."""
    truth = compare.load_truth(sdir(name))
    assert truth["capture_trim"]
    assert all(t["within_1ms_of_snapshot"] == 0 for t in truth["capture_trim"])


def _reads(d):
    import csv
    with open(os.path.join(d, "reads.csv")) as f:
        return [(int(r["t_abs_ns"]), int(r["bytes"]), int(r["client_port"]))
                for r in csv.DictReader(f)]


@pytest.mark.parametrize("name", sorted(n for n in ALL if not ALL[n].netfilter
                                        and os.path.exists(os.path.join(sdir(n), "reads.csv"))))
def test_read_log_is_on_the_capture_clock(name):
    """Every read (monotonic time + the clock pair offset) comes after the
    bytes it returned reached the host in the capture: by each read's time
    the captured in-sequence payload from that client covers all bytes read
    so far."""
    d = sdir(name)
    truth = compare.load_truth(d)
    pk = compare.parse_capture(os.path.join(d, "capture.pcap"), truth["server_ip"])
    isn, high, base = {}, {}, {}
    arrivals = []       # (ts_ns, port, bytes received from that port so far)
    for r in pk:
        if not r.get("tcp") or r["dir"] != "in":
            continue
        p = r["sport"]
        if r["flags"] & 0x02:
            if isn.get(p) != r["seq"] + 1:      # a new connection from the port
                base[p] = high.get(p, 0)
                isn[p] = r["seq"] + 1
            continue
        if p in isn and r["plen"]:
            end = (r["seq"] + r["plen"] - isn[p]) % 2 ** 32
            high[p] = max(high.get(p, 0), base[p] + end)
            arrivals.append((int(r["ts"] * 10 ** 9), p, high[p]))
    read_so_far = {}
    reads = _reads(d)
    assert reads
    for t, n, port in sorted(reads):
        read_so_far[port] = read_so_far.get(port, 0) + n
        got = max((h for ts, p, h in arrivals if p == port and ts <= t), default=0)
        assert read_so_far[port] <= got, (t, port, read_so_far[port], got)
