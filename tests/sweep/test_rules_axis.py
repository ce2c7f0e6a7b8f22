"""The `rules` axis: each point replays with its own iptables-save dump.

The kube-proxy sample is a node forwarding ClusterIP connections; its pods'
replies were computed from the model's seed-0 endpoint choices.  With the
kube-proxy rules every packet is forwarded (SYNs DNAT'd and MASQUERADEd,
replies de-NATed); with a ruleset whose FORWARD policy is DROP the clients'
packets die in filter FORWARD, and the pods' replies, addressed to the node
(the kube-proxy run MASQUERADEd the connections to it) and now matching no
NAT binding, reach the node's own stack: no socket there.
"""
import pathlib

import pystack

ROOT = pathlib.Path(__file__).resolve().parents[2]
CAP = str(ROOT / "data" / "samples" / "kube-proxy-dnat.pcap")
CFG = str(ROOT / "data" / "hosts" / "kube-proxy-node.toml")
KUBE = str(ROOT / "data" / "rules" / "kube-proxy.save")

DROP_FORWARD = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
"""


def test_rules_axis_points(tmp_path):
    deny = tmp_path / "deny-forward.save"
    deny.write_text(DROP_FORWARD)
    df = pystack.sweep(CAP, CFG, {"rules": [KUBE, str(deny)]}, str(tmp_path / "out"),
                       workers=1)
    rows = {r["rules"]: r for r in df.to_dict("records")}
    kube, drop = rows[KUBE], rows[str(deny)]
    assert (kube["packets"], kube["FORWARDED"], kube["DROPPED"]) == (36, 36, 0)
    assert (drop["packets"], drop["FORWARDED"], drop["DROPPED"]) == (36, 0, 36)
    assert (drop["drop_NETFILTER_DROP"], drop["drop_NO_SOCKET"]) == (24, 12)
    assert "drop_NETFILTER_DROP" not in kube or kube["drop_NETFILTER_DROP"] == 0
