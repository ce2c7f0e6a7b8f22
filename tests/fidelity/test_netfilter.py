"""Recorded netfilter scenarios replayed with their rules loaded.

nf-input-rules: filter INPUT with ctstate INVALID DROP, DROP, REJECT
tcp-reset and icmp-port-unreachable in front of listeners; nf-dnat-service:
a kube-proxy node forwarding a ClusterIP to two pods with MASQUERADE
(--random-fully), captured on both sides (capture.pcap: client side,
capture-pods.pcap: pod side; merged by time).  Compared with the kernel:
every counter the recorder read, the rule counters of iptables-save -c, the
conntrack -S statistics and the conntrack -L table (timeouts excepted: the
kernel's snapshot was read later than the last packet).  The rulesets are
the server's / node's dumps in truth.json (rules.save also holds the
client's).  The kernel's random choices (statistic draws, NAT ports) are
adopted from the capture (nat_port_adopted), so the table matches too;
the per-endpoint rule counters keep the model's own draws (a distribution,
not the kernel's): they are compared in total only.
"""
import pytest

from bench.kernel import compare
from tests.fidelity import cases

SCENARIOS = compare.NF_SCENARIOS

# where the model does not match the kernel here, and why
KNOWN = {}


def _replay(name):
    return compare.nf_replay(cases.sdir(name))


def _counter_cases():
    out = []
    for n in SCENARIOS:
        truth = compare.load_truth(cases.sdir(n))
        for c in compare.compared_counters(truth):
            reason = KNOWN.get((n, c))
            marks = (pytest.mark.xfail(strict=True, reason="model: " + reason),) if reason else ()
            out.append(pytest.param(n, c, id=f"{n}-{c}", marks=marks))
    return out


@pytest.mark.parametrize("name,counter", _counter_cases())
def test_counter_equals_kernel_delta(name, counter):
    truth, res = _replay(name)
    kernel = compare.kernel_value(truth, counter)
    assert int(res.counters[counter]) == kernel, f"{name} {counter}"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_rule_counters_equal_iptables_save(name):
    truth, res = _replay(name)
    kernel = compare.save_counters(truth["netfilter"][SCENARIOS[name][1]])
    model = compare.save_counters(res.rules_save())
    assert set(kernel) == set(model)
    drawn = [k for k in kernel if any(s in k[1] for s in compare.NF_DRAWN)]
    for k in kernel:
        if k not in drawn:
            assert model[k] == kernel[k], k
    assert sum(model[k][0] for k in drawn) == sum(kernel[k][0] for k in drawn)


def _stats_text(text):
    tot = {}
    for line in text.splitlines():
        for kv in line.split()[1:]:
            k, v = kv.split("=")
            tot[k] = tot.get(k, 0) + int(v)
    return tot


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_conntrack_stats_equal_conntrack_S(name):
    truth, res = _replay(name)
    kernel = _stats_text(truth["netfilter"]["conntrack"]["stats"])
    before = _stats_text(truth["netfilter"]["conntrack"]["stats_before"])
    model = _stats_text(res.conntrack["S"])
    for k in kernel:
        assert model[k] == kernel[k] - before[k], k


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_conntrack_table_equals_conntrack_L(name):
    truth, res = _replay(name)
    assert (compare.conntrack_entries(res.conntrack["L"])
            == compare.conntrack_entries(truth["netfilter"]["conntrack"]["list"]))


def test_dnat_service_adopted_every_kernel_binding():
    _, res = _replay("nf-dnat-service")
    assert res.divergences["nat_port_adopted"] == 20
    assert res.divergences["host_out_nf_drop"] == 0
