"""`pystack replay --rules`: the recorded nf-dnat-service node (two capture
files merged) with its kube-proxy rules; the summary's netfilter part."""
import json
import pathlib

from pystack.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
D = ROOT / "data" / "kernel" / "nf-dnat-service"
NI = ROOT / "data" / "kernel" / "nf-input-rules"


def test_replay_with_rules_summary(tmp_path, capsys):
    rc = main(["replay", "--json", str(D / "capture.pcap"), str(D / "capture-pods.pcap"),
               "--config", str(D / "host.toml"), "--rules", str(D / "rules.save")])
    s = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert s["verdicts"] == {"NOT_HOST": 6, "SENT": 160, "FORWARDED": 160}
    assert s["counters"]["IpForwDatagrams"] == 160
    nf = s["netfilter"]
    assert nf["netfilter_drops"] == {}
    assert nf["conntrack"] == {"entries": 20, "stats": {}}
    top = nf["rule_hits"][0]
    assert (top["table"], top["chain"], top["number"], top["packets"]) == \
        ("filter", "FORWARD", 2, 140)


def test_replay_rules_text_output_names_drops(tmp_path, capsys):
    import json as _j
    rules = tmp_path / "server.save"
    rules.write_text(_j.loads((NI / "truth.json").read_text())["netfilter"]
                     ["iptables_save_server"])
    rc = main(["replay", str(NI / "capture.pcap"), "--config", str(NI / "host.toml"),
               "--rules", str(rules)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "NETFILTER_DROP filter INPUT 11" in out
    assert "conntrack   1 entries at the end; invalid 3" in out
    assert "[4:240] -A INPUT -p tcp -m tcp --dport 6001 -j DROP" in out


def test_bad_rules_file_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.save"
    bad.write_text("*filter\n-A NOPE -j ACCEPT\nCOMMIT\n")
    rc = main(["replay", str(D / "capture.pcap"), "--config", str(D / "host.toml"),
               "--rules", str(bad)])
    err = capsys.readouterr().err
    assert rc != 0
    assert "bad.save:2" in err
