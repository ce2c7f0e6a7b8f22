"""The netfilter samples (data/make_samples.py) replayed with their rules
through replay -o: their headlines, exactly."""
import collections
import pathlib

import pystack
from pystack.config import load_host_config
from pystack.replay import Replay
from pystack.results import summary as S
from pystack.results.run import replay_to_folder

DATA = pathlib.Path(__file__).resolve().parents[2] / "data"


def _replay(tmp_path, name, rules):
    host = load_host_config(str(DATA / "hosts" / f"{name}.toml"))
    r = Replay(host, rules=str(DATA / "rules" / rules))
    path, res, _info = replay_to_folder(r, [str(DATA / "samples" / f"{name}.pcap")],
                                        str(tmp_path / name))
    return path, res


def test_kube_proxy_dnat_per_endpoint_and_masquerade(tmp_path):
    """12 client SYNs to the ClusterIP shop/web: each DNAT'd to one of the
    three pods (seed 0 draws: 2, 6, 4) and MASQUERADEd to the node; the pods'
    SYN-ACKs de-NAT'd back to the clients, the clients' ACKs follow the
    binding; 12 assured entries."""
    path, res = _replay_kp(tmp_path)
    d = pystack.load(path)
    p = d.packets
    assert p["verdict"].astype(str).tolist() == ["FORWARDED"] * 36
    syn = p[p["ctstate"] == "NEW"]
    assert len(syn) == 12
    assert set(syn["nat_chg"].astype(str)) == {"saddr,daddr,sport,dport"}
    assert set(syn["nat_src"]) == {"198.18.0.10"} and set(syn["nat_dport"]) == {8080}
    assert dict(collections.Counter(syn["nat_dst"])) == {
        "198.18.128.12": 2, "198.18.128.13": 6, "198.18.128.14": 4}
    rep = p[p["ctstate"] == "ESTABLISHED REPLY"]
    assert len(rep) == 12 and set(rep["nat_src"]) == {"198.19.0.20"}
    assert set(rep["nat_sport"]) == {80}
    assert rep["nat_dst"].tolist() == [f"198.19.1.{10 + i}" for i in range(12)]
    r = d.rules
    seps = r[(r["table"] == "nat") & r["chain"].str.startswith("KUBE-SEP-")
             & r["text"].str.contains("198.18.128.1[234]:8080")]
    assert sorted(zip(seps["text"].str.extract(r"(198\.18\.128\.1\d)")[0], seps["packets"])) \
        == [("198.18.128.12", 2), ("198.18.128.13", 6), ("198.18.128.14", 4)]
    masq = r[r["text"].str.contains("-j MASQUERADE --random-fully")]
    assert masq["packets"].tolist() == [12]
    ct = d.conntrack
    assert len(ct) == 12 and set(ct["state"]) == {"ESTABLISHED"}
    assert set(ct["status"]) == {"SEEN_REPLY,ASSURED,CONFIRMED,SRC_NAT,DST_NAT,SRC_NAT_DONE,"
                                 "DST_NAT_DONE"}
    assert set(ct["reply_dst"]) == {"198.18.0.10"} and set(ct["orig_dst"]) == {"198.19.0.20"}
    c = res.counters
    assert c["IpForwDatagrams"] == 36 and c["IpOutTransmits"] == 36 and c["IpOutRequests"] == 0
    nf = S.summarize(path)["netfilter"]
    assert nf["netfilter_drops"] == {} and nf["conntrack"]["entries"] == 12


def _replay_kp(tmp_path):
    host = load_host_config(str(DATA / "hosts" / "kube-proxy-node.toml"))
    r = Replay(host, rules=str(DATA / "rules" / "kube-proxy.save"))
    path, res, _info = replay_to_folder(r, [str(DATA / "samples" / "kube-proxy-dnat.pcap")],
                                        str(tmp_path / "kp"))
    return path, res


def test_conntrack_table_full(tmp_path):
    """nf_conntrack_max 8: two scanners' unassured entries are evicted for
    two new clients (early_drop 2); then every entry is assured and the last
    two clients' SYNs and retransmissions are dropped by conntrack (drop 4,
    NETFILTER_DROP 4, no rule involved)."""
    path, res = _replay(tmp_path, "conntrack-full", "conntrack-full.save")
    d = pystack.load(path)
    st = d.conntrack_stats.iloc[0].to_dict()
    assert (st["entries"], st["max"], st["drop"], st["early_drop"]) == (8, 8, 4, 2)
    p = d.packets
    drops = p[p["verdict"] == "DROPPED"]
    assert drops["reason"].astype(str).tolist() == ["NETFILTER_DROP"] * 4
    assert drops["src"].tolist() == ["198.19.0.83", "198.19.0.84"] * 2
    assert drops["nf_hooks"].astype(str).tolist() == ["PREROUTING"] * 4
    assert drops["nf_rule"].tolist() == [-1] * 4
    ct = d.conntrack
    assert set(ct["status"]) == {"SEEN_REPLY,ASSURED,CONFIRMED"}
    assert not ct["orig_src"].str.startswith("198.51.100.").any()     # scanners evicted
    assert len(d.connections) == 8
    s = S.summarize(path)
    assert s["netfilter"]["netfilter_drops"] == {"conntrack": 4}
    assert s["netfilter"]["conntrack"] == {"entries": 8, "max": 8,
                                           "stats": {"drop": 4, "early_drop": 2}}
    text = S.format_summary(s)
    assert "nf drops    NETFILTER_DROP conntrack 4\n" in text
    assert "conntrack   8 entries at the end (max 8); drop 4, early_drop 2\n" in text
