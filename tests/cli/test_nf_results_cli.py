"""`pystack replay -o OUT --rules FILE` end to end on the netfilter samples,
then summary, explain, diff, report and pystack.load: exact lines."""
import json
import pathlib

import pystack
from pystack.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples"
HOSTS = ROOT / "data" / "hosts"
RULES = ROOT / "data" / "rules"


def _replay(out, capture, hostname, rules):
    return main(["replay", str(SAMPLES / capture), "--config", str(HOSTS / hostname),
                 "--rules", str(rules), "-o", str(out), "-q"])


def test_kube_proxy_replay_output_and_explain(tmp_path, capsys):
    out = tmp_path / "kp"
    assert _replay(out, "kube-proxy-dnat.pcap", "kube-proxy-node.toml",
                   RULES / "kube-proxy.save") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["packets     36: FORWARDED 36", "connections 0"]
    assert lines[2] == ('rule        filter FORWARD #2 [36:2,064] -A FORWARD -m comment '
                        '--comment "kubernetes forwarding rules" -j KUBE-FORWARD')
    assert lines[-3:] == ["            ... 7 more rules hit",
                          "conntrack   12 entries at the end (max 262,144)",
                          f"written     {out}"]
    assert sorted(p.name for p in out.iterdir()) == [
        "connections.arrow", "conntrack.arrow", "conntrack_stats.arrow", "counters.arrow",
        "packets.arrow", "rules.arrow", "rules.save", "run.json", "samples.arrow"]
    info = json.loads((out / "run.json").read_text())
    [rs] = info["netfilter"]["rulesets"]
    assert rs["path"] == str(RULES / "kube-proxy.save") and rs["family"] == 4
    assert len(rs["sha256"]) == 64 and rs["warnings"] == []
    save = (out / "rules.save").read_text()
    assert ("[12:720] -A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic "
            "requiring SNAT\" -j MASQUERADE --random-fully\n") in save
    assert main(["explain", str(out), "--frame", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[3:] == [
        "direction   FWD (would be forwarded)",
        "netfilter   hooks PREROUTING -> FORWARD -> POSTROUTING",
        "            decided at POSTROUTING by nat KUBE-POSTROUTING rule #3: -A KUBE-POSTROUTING "
        "-m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE "
        "--random-fully",
        "conntrack   NEW, entry 0",
        "nat         rewrote saddr,daddr,sport,dport: now 198.18.0.10:47200 -> "
        "198.18.128.14:8080",
        "verdict     FORWARDED",
        "sent        nothing",
    ]
    assert main(["explain", str(out), "--frame", "2"]) == 0
    text = capsys.readouterr().out
    assert "conntrack   ESTABLISHED REPLY, entry 0\n" in text
    assert "nat         rewrote saddr,daddr,sport,dport: now 198.19.0.20:80 -> " \
        "198.19.1.10:43000\n" in text
    d = pystack.load(str(out))
    assert list(d) == ["packets", "connections", "samples", "counters", "rules", "conntrack",
                       "conntrack_stats"]
    html = tmp_path / "r.html"
    assert main(["report", str(out), "-o", str(html)]) == 0
    assert "<h2>Netfilter rule hits</h2><img" in html.read_text()


def test_conntrack_full_summary_and_rule_diff(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert _replay(a, "conntrack-full.pcap", "conntrack-full.toml",
                   RULES / "conntrack-full.save") == 0
    capsys.readouterr()
    assert main(["summary", str(a)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "packets     32: DELIVERED 18, DROPPED 4, SENT 10",
        "drop        NETFILTER_DROP 4",
        "connections 8",
        "rule        filter INPUT #2 [10:600] -A INPUT -p tcp -m tcp --dport 80 -m conntrack "
        "--ctstate NEW -j ACCEPT",
        "rule        filter INPUT #3 [8:416] -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED "
        "-j ACCEPT",
        "nf drops    NETFILTER_DROP conntrack 4",
        "conntrack   8 entries at the end (max 8); drop 4, early_drop 2",
    ]
    # B: one client blocked by a rule in front
    text = (RULES / "conntrack-full.save").read_text().replace(
        "-A INPUT -m conntrack --ctstate INVALID",
        "-A INPUT -s 198.19.0.56/32 -j DROP\n-A INPUT -m conntrack --ctstate INVALID")
    rb = tmp_path / "b.save"
    rb.write_text(text)
    assert _replay(b, "conntrack-full.pcap", "conntrack-full.toml", rb) == 0
    capsys.readouterr()
    assert main(["diff", str(a), str(b)]) == 0
    rules = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("rule")]
    assert rules == [
        "rule        filter INPUT #3 -A INPUT -p tcp -m tcp --dport 80 -m conntrack --ctstate "
        "NEW -j ACCEPT: [10:600] -> [13:780] (+3 packets)",
        "rule        filter INPUT #4 -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED "
        "-j ACCEPT: [8:416] -> [7:364] (-1 packets)",
        "rule        filter INPUT #1 -A INPUT -s 198.19.0.56/32 -j DROP (only in B): "
        "[0:0] -> [2:112] (+2 packets)",
    ]
    assert main(["diff", str(a), str(b), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["rules_changed"] == 3 and d["rules"][2]["only_in"] == "b"
