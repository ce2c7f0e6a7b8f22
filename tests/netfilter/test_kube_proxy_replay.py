"""kube-proxy (iptables mode) rules in the engine: ClusterIP traffic through
a node (data/rules/kube-proxy.save, README there): DNAT to an endpoint by the
seeded statistic draws, MASQUERADE of marked traffic at POSTROUTING, replies
de-NAT'd, later packets on the binding, the no-endpoint service REJECTed in
filter FORWARD, the node's copies of its own forwarded packets."""

import collections
import os

from tests.netfilter.engine_util import host, nf_replay, row
from tests.pktbuild import ACK, SYN, tcp4

RULES = os.path.join(os.path.dirname(__file__), "..", "..", "data", "rules", "kube-proxy.save")
NODE = "198.18.0.10"
WEB = "198.19.0.20"
WEB_EPS = {"198.18.128.12", "198.18.128.13", "198.18.128.14"}
CLIENT = "198.18.5.5"           # outside the cluster CIDR: KUBE-MARK-MASQ
POD = "198.18.128.50"           # a pod: no masquerade
# the model's statistic draws for seed 7 (kube-proxy: p = 1/3, then 1/2, then the rest)
PER_EP_SEED7 = {"198.18.128.12": 11, "198.18.128.13": 8, "198.18.128.14": 11}


def _node():
    return host(addresses=[NODE], ip_forward=1)


def _syns(src, n, port0=41000):
    return [tcp4(src, WEB, port0 + k, 80, SYN, seq=1000 * k + 1, win=64240) for k in range(n)]


def _rule(res, table, chain, text_part):
    hits = [r for r in res.rules if r["table"] == table and r["chain"] == chain
            and text_part in r["text"]]
    assert len(hits) == 1, hits
    return hits[0]


def test_clusterip_syns_dnat_and_masquerade_per_endpoint():
    res, _ = nf_replay(_node(), _syns(CLIENT, 30), RULES, seed=7)
    rows = [row(res, i) for i in range(30)]
    assert {(r["direction"], r["verdict"]) for r in rows} == {("FWD", "FORWARDED")}
    assert all(r["nf_hooks"] == ["PREROUTING", "FORWARD", "POSTROUTING"] for r in rows)
    assert all(r["ctstate"] == "NEW" for r in rows)
    # SADDR | DADDR | SPORT | DPORT (MASQUERADE --random-fully draws the port)
    assert {r["nat_chg"] for r in rows} == {15}
    assert {r["nat_saddr"] for r in rows} == {NODE}
    assert {r["nat_dport"] for r in rows} == {8080}
    per_ep = collections.Counter(r["nat_daddr"] for r in rows)
    assert set(per_ep) == WEB_EPS
    assert dict(per_ep) == PER_EP_SEED7
    assert len({r["nat_sport"] for r in rows}) == 30
    n = res.nonzero()
    assert n["IpForwDatagrams"] == 30 and n["IpInReceives"] == 30
    assert n["IpOutTransmits"] == 30 and n["IpExtOutOctets"] == 30 * 40
    assert "IpOutRequests" not in n
    assert "IpInDelivers" not in n
    # nat counts connections, the KUBE-SEP DNAT rules agree with the draws
    for ep, k in per_ep.items():
        assert _rule(res, "nat", _sep_chain(res, ep),
                     f"--to-destination {ep}:8080")["packets"] == k
    assert _rule(res, "nat", "KUBE-POSTROUTING", "MASQUERADE")["packets"] == 30
    assert res.conntrack["stats"]["entries"] == 30


def _sep_chain(res, ep):
    for r in res.rules:
        if r["table"] == "nat" and f"--to-destination {ep}:8080" in r["text"]:
            return r["chain"]
    raise KeyError(ep)


def test_same_seed_same_draws_and_ports():
    a, _ = nf_replay(_node(), _syns(CLIENT, 20), RULES, seed=3)
    b, _ = nf_replay(_node(), _syns(CLIENT, 20), RULES, seed=3)
    c, _ = nf_replay(_node(), _syns(CLIENT, 20), RULES, seed=4)
    for k in ("nat_daddr", "nat_sport"):
        assert (a.packets[k] == b.packets[k]).all()
    assert not (a.packets["nat_sport"] == c.packets["nat_sport"]).all()
    assert a.conntrack["L"] == b.conntrack["L"]


def test_pod_client_dnat_only():
    res, _ = nf_replay(_node(), _syns(POD, 4), RULES, seed=7)
    for i in range(4):
        r = row(res, i)
        assert r["verdict"] == "FORWARDED"
        assert r["nat_chg"] == 2 | 8                  # DADDR | DPORT: no MASQUERADE
        assert r["nat_saddr"] == POD and r["nat_sport"] == 41000 + i
        assert r["nat_daddr"] in WEB_EPS
    assert _rule(res, "nat", "KUBE-POSTROUTING", "MASQUERADE")["packets"] == 0
    assert _rule(res, "nat", "KUBE-POSTROUTING", "! --mark 0x4000/0x4000")["packets"] == 4


def test_reply_denat_binding_reuse_and_egress_copy():
    syn = _syns(CLIENT, 1)[0]
    first, _ = nf_replay(_node(), [syn], RULES, seed=7)
    f = row(first, 0)
    ep, port = f["nat_daddr"], f["nat_sport"]
    pk = [
        syn,
        tcp4(NODE, ep, port, 8080, SYN, seq=1, win=64240),              # node's copy (egress)
        tcp4(ep, NODE, 8080, port, SYN | ACK, seq=5000, ack=2, win=65160),
        tcp4(CLIENT, WEB, 41000, 80, ACK, seq=2, ack=5001, win=502),
        tcp4(CLIENT, WEB, 41000, 80, ACK, seq=2, ack=5001, win=502, data=b"GET /\r\n"),
    ]
    res, _ = nf_replay(_node(), pk, RULES, seed=7)
    r = [row(res, i) for i in range(5)]
    assert (r[1]["direction"], r[1]["verdict"], r[1]["nf_hooks"]) == ("FWD", "SENT", [])
    assert r[1]["ct_id"] == r[0]["ct_id"] == 0
    # the SYN-ACK: to the node's address, de-masqueraded at PRE_ROUTING, forwarded,
    # de-DNAT'd at POST_ROUTING: the client sees the ClusterIP
    assert (r[2]["direction"], r[2]["verdict"], r[2]["ctstate"]) == \
        ("FWD", "FORWARDED", "ESTABLISHED REPLY")
    assert (r[2]["nat_saddr"], r[2]["nat_sport"], r[2]["nat_daddr"], r[2]["nat_dport"]) == \
        (WEB, 80, CLIENT, 41000)
    for x in r[3:]:
        assert (x["verdict"], x["ctstate"]) == ("FORWARDED", "ESTABLISHED")
        assert (x["nat_saddr"], x["nat_sport"], x["nat_daddr"], x["nat_dport"]) == \
            (NODE, port, ep, 8080)
    # nat counted the connection once; filter counted every forwarded packet
    assert _rule(res, "nat", "KUBE-SERVICES", f"-d {WEB}/32")["packets"] == 1
    est = _rule(res, "filter", "KUBE-FORWARD", "--ctstate RELATED,ESTABLISHED")
    assert est["packets"] == 3
    assert res.nonzero()["IpForwDatagrams"] == 4
    e = res.conntrack["entries"]
    assert e["state"] == ["ESTABLISHED"] and e["status"] == [["ASSURED", "SEEN_REPLY"]]
    assert e["orig"] == [f"src={CLIENT} dst={WEB} sport=41000 dport=80"]
    assert e["reply"] == [f"src={ep} dst={NODE} sport=8080 dport={port}"]


def test_no_endpoint_service_rejected_in_forward():
    pk = [tcp4(CLIENT, "198.19.0.40", 42000, 8080, SYN, seq=9, win=64240)]
    res, _ = nf_replay(_node(), pk, RULES)
    r = row(res, 0)
    assert (r["direction"], r["verdict"], r["reason"]) == ("FWD", "DROPPED", "NETFILTER_DROP")
    assert (r["nf_hook"], r["nf_table"]) == ("FORWARD", "filter")
    assert r["reply"] == "ICMP_PORT_UNREACH"
    assert res.rules[r["nf_rule"]]["text"].endswith(
        "-j REJECT --reject-with icmp-port-unreachable")
    n = res.nonzero()
    assert n["IpForwDatagrams"] == 1 and n["IcmpOutDestUnreachs"] == 1
    assert res.conntrack["stats"]["entries"] == 0


def test_not_forwarding_is_inaddrerrors_after_prerouting():
    h = host(addresses=[NODE], ip_forward=0)
    res, _ = nf_replay(h, _syns(CLIENT, 2), RULES, seed=7)
    r = row(res, 0)
    assert (r["verdict"], r["reason"]) == ("DROPPED", "IP_INADDRERRORS")
    assert r["nf_hooks"] == ["PREROUTING"]
    assert r["nat_chg"] == 2 | 8          # DNAT ran before the routing decision
    assert res.nonzero()["IpInAddrErrors"] == 2
    assert res.conntrack["stats"]["entries"] == 0
    # the nat table still counted both (unconfirmed entries vanish)
    assert _rule(res, "nat", "KUBE-SERVICES", f"-d {WEB}/32")["packets"] == 2
