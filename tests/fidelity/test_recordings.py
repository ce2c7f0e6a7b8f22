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
