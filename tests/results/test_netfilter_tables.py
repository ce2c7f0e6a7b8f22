"""The netfilter part of an output folder (replay -o with rules): the
packets table's nf columns, the rules / conntrack / conntrack_stats tables,
rules.save and run.json's rulesets; none of it without rules."""
import hashlib
import os

import pystack
from pystack.replay import Replay
from pystack.results.run import replay_to_folder

from tests.pktbuild import HOST4, Client, host, listener, udp4
from tests.results.util import write_pcap

RULES = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
         ":POSTROUTING ACCEPT [0:0]\n"
         "-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j DNAT "
         "--to-destination 10.244.1.5:8080\n"
         "-A POSTROUTING -d 10.244.1.5/32 -j SNAT --to-source " + HOST4 + "\nCOMMIT\n"
         "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
         "-A INPUT -p udp -m udp --dport 53 -j DROP\nCOMMIT\n")


def _run(tmp_path, rules=True):
    pk = [Client(1, dst="10.96.0.10").syn(), udp4("10.0.0.9", HOST4, 5353, 53, b"q"),
          Client(2, port=80).syn()]
    cap = write_pcap(str(tmp_path / "c.pcap"), pk, [0, 1000, 2000])
    rp = None
    if rules:
        rp = tmp_path / "node.save"
        rp.write_text(RULES)
    r = Replay(host([listener()], ip_forward=1), checksum="verify",
               rules=str(rp) if rules else None)
    path, _res, _info = replay_to_folder(r, [cap], str(tmp_path / "out"))
    return path, rp


def test_packets_nf_columns(tmp_path):
    path, _ = _run(tmp_path)
    p = pystack.load(path).packets
    cols = ["verdict", "reason", "nf_hooks", "nf_hook", "nf_table", "nf_chain", "nf_rule_num",
            "nf_rule", "ctstate", "ct_id", "nat_chg", "nat_src", "nat_dst", "nat_sport",
            "nat_dport"]
    rows = [[None if x != x else (str(x) if not isinstance(x, int) else x) for x in r]
            for r in p[cols].astype(object).itertuples(index=False)]
    assert rows == [
        ["FORWARDED", None, "PREROUTING,FORWARD,POSTROUTING", "POSTROUTING", "nat",
         "POSTROUTING", 1, 4, "NEW", 0, "saddr,daddr,dport", HOST4, "10.244.1.5", 40001, 8080],
        ["DROPPED", "NETFILTER_DROP", "PREROUTING,INPUT", "INPUT", "filter", "INPUT", 1, 6,
         "NEW", -1, None, None, None, 0, 0],
        ["DELIVERED", None, "PREROUTING,INPUT", "INPUT", "nat", "INPUT", 0, 2, "NEW", 1,
         None, None, None, 0, 0],
    ]


def test_rules_conntrack_tables_and_save(tmp_path):
    path, rp = _run(tmp_path)
    x = pystack.load(path)
    r = x.rules
    assert list(r["rule_id"]) == list(range(10))
    assert list(zip(r["table"], r["chain"], r["number"], r["packets"], r["bytes"])) == [
        ("nat", "PREROUTING", 1, 1, 60), ("nat", "PREROUTING", 0, 2, 89),
        ("nat", "INPUT", 0, 1, 60), ("nat", "OUTPUT", 0, 0, 0),
        ("nat", "POSTROUTING", 1, 1, 60), ("nat", "POSTROUTING", 0, 0, 0),
        ("filter", "INPUT", 1, 1, 29), ("filter", "INPUT", 0, 1, 60),
        ("filter", "FORWARD", 0, 1, 60), ("filter", "OUTPUT", 0, 0, 0)]
    assert r["text"][6] == "-A INPUT -p udp -m udp --dport 53 -j DROP"
    assert set(r["family"]) == {4}
    ct = x.conntrack
    assert ct.iloc[0].to_dict() == {
        "proto": "tcp", "state": "SYN_SENT", "timeout": 119, "orig_src": "10.0.0.2",
        "orig_dst": "10.96.0.10", "orig_sport": 40001, "orig_dport": 80,
        "reply_src": "10.244.1.5", "reply_dst": HOST4, "reply_sport": 8080,
        "reply_dport": 40001,
        "status": "CONFIRMED,SRC_NAT,DST_NAT,SRC_NAT_DONE,DST_NAT_DONE", "mark": 0}
    assert len(ct) == 2 and ct["status"][1] == "CONFIRMED,SRC_NAT_DONE,DST_NAT_DONE"
    st = x.conntrack_stats.iloc[0].to_dict()
    assert (st["entries"], st["max"], st["drop"], st["early_drop"]) == (2, 262144, 0, 0)
    save = open(os.path.join(path, "rules.save")).read()
    assert "[1:60] -A PREROUTING -d 10.96.0.10/32" in save
    assert ":PREROUTING ACCEPT [2:89]" in save and "[1:29] -A INPUT -p udp" in save
    nf = x.run["netfilter"]
    assert nf["rulesets"] == [{"path": str(rp), "family": 4, "warnings": [],
                               "sha256": hashlib.sha256(RULES.encode()).hexdigest()}]
    assert nf["rules_save"] == "rules.save" and nf["nf_conntrack_max"] == 262144
    assert list(x.run["tables"]) == ["packets", "connections", "samples", "counters", "rules",
                                     "conntrack", "conntrack_stats"]


def test_no_rules_no_netfilter_output(tmp_path):
    path, _ = _run(tmp_path, rules=False)
    x = pystack.load(path)
    assert sorted(os.listdir(path)) == ["connections.arrow", "counters.arrow", "packets.arrow",
                                        "run.json", "samples.arrow"]
    assert list(x) == ["packets", "connections", "samples", "counters"]
    assert "nf_hooks" not in x.packets.columns and "netfilter" not in x.run


class _StopAfter:
    def __init__(self, n):
        self.n, self.seen = n, 0

    def __call__(self, rb, cols, v):
        self.seen += 1

    def __bool__(self):
        return self.seen >= self.n


def test_interrupted_run_keeps_the_netfilter_tables(tmp_path):
    import pathlib
    import warnings

    from pystack.config import load_host_config
    data = pathlib.Path(__file__).resolve().parents[2] / "data"
    r = Replay(load_host_config(str(data / "hosts" / "conntrack-full.toml")), batch_size=10,
               rules=str(data / "rules" / "conntrack-full.save"))
    stop = _StopAfter(2)
    path, res, info = replay_to_folder(r, [str(data / "samples" / "conntrack-full.pcap")],
                                       str(tmp_path / "out"), on_batch=stop, stop=stop)
    assert res is None and path.endswith(".incomplete")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = pystack.load(path)
    assert len(x.packets) == 20
    # 20 packets: 6 clients' handshakes (18) and the first scanner's SYN + SYN-ACK
    r = x.rules
    assert list(zip(r["number"], r["packets"])) == [(1, 0), (2, 7), (3, 6), (0, 0), (0, 0),
                                                   (0, 7)]
    assert len(x.conntrack) == 7 and x.conntrack_stats["entries"].tolist() == [7]
    assert "[7:420] -A INPUT -p tcp" in open(os.path.join(path, "rules.save")).read()


def test_both_families_rule_ids(tmp_path):
    """rules.rule_id numbers the IPv4 ruleset's rules, then the IPv6 one's:
    an IPv6 row's nf_rule points into the second part."""
    from tests.pktbuild import HOST6, udp6
    v4 = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
          "-A INPUT -p udp -m udp --dport 53 -j DROP\nCOMMIT\n")
    v6 = ("# Generated by ip6tables-save v1.8.9\n*filter\n:INPUT ACCEPT [0:0]\n"
          ":FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
          "-A INPUT -p udp -m udp --dport 54 -j DROP\nCOMMIT\n")
    pk = [udp4("10.0.0.9", HOST4, 5353, 53, b"q"), udp6("2001:db8:1::9", HOST6, 5353, 54, b"q")]
    cap = write_pcap(str(tmp_path / "c.pcap"), pk, [0, 1000])
    r = Replay(host([]), checksum="verify", rules=[v4, v6])
    path, _res, info = replay_to_folder(r, [cap], str(tmp_path / "out"))
    x = pystack.load(path)
    ids = x.packets["nf_rule"].tolist()
    rules = x.rules.set_index("rule_id")
    assert [rules.loc[i, "text"] for i in ids] == ["-A INPUT -p udp -m udp --dport 53 -j DROP",
                                                   "-A INPUT -p udp -m udp --dport 54 -j DROP"]
    assert [rules.loc[i, "family"] for i in ids] == [4, 6]
    assert ids == [0, 4]
    assert [s["family"] for s in info["netfilter"]["rulesets"]] == [4, 6]
    assert [s["path"] for s in info["netfilter"]["rulesets"]] == ["<string>", "<string>"]
    save = open(os.path.join(path, "rules.save")).read()
    assert save.count("*filter") == 2 and "[1:49] -A INPUT -p udp -m udp --dport 54" in save
