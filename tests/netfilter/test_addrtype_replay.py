"""-m addrtype in the engine (xt_addrtype.c addrtype_mt_v1): the route type
of the packet's addresses as the table sees them, i.e. after an earlier
DNAT at the same packet's PRE_ROUTING (the engine computes the types only
for tables that have an addrtype match)."""

from tests.netfilter.engine_util import host, listener, nf_replay, row, rule_counts
from tests.pktbuild import Client

RULES = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 6005 -j ACCEPT
-A PREROUTING -d 198.51.100.7/32 -p tcp -m addrtype --dst-type UNICAST -m tcp --dport 80 -j DNAT --to-destination 198.18.0.1:6004
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m addrtype --src-type LOCAL -j DROP
-A INPUT -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 6004 -j ACCEPT
-A INPUT -p tcp -m addrtype ! --dst-type LOCAL -j DROP
COMMIT
"""


def _host():
    return host([listener(port=6004), listener(port=6005)])


def test_dnat_to_the_host_makes_the_destination_local_for_filter():
    c = Client(1, port=80, dst="198.51.100.7")
    res, _ = nf_replay(_host(), [c.syn()], RULES)
    r = row(res, 0)
    assert (r["direction"], r["verdict"]) == ("IN", "DELIVERED")
    # nat: UNICAST before the DNAT; filter: LOCAL after it
    assert rule_counts(res, "nat", "PREROUTING") == [(1, 0, 0), (2, 1, 60), (0, 0, 0)]
    assert rule_counts(res, "filter", "INPUT") == [(1, 0, 0), (2, 1, 60), (3, 0, 0), (0, 0, 0)]


def test_local_destination_without_nat():
    a = Client(2, port=6004)
    b = Client(3, port=6005)
    res, _ = nf_replay(_host(), [a.syn(), b.syn()], RULES)
    assert row(res, 0)["verdict"] == "DELIVERED"
    # 6005: nat rule 1 (LOCAL) matched; filter has no ACCEPT for it: policy DROP
    r = row(res, 1)
    assert (r["verdict"], r["reason"]) == ("DROPPED", "NETFILTER_DROP")
    assert rule_counts(res, "nat", "PREROUTING") == [(1, 1, 60), (2, 0, 0), (0, 1, 60)]
    assert rule_counts(res, "filter", "INPUT") == [(1, 0, 0), (2, 1, 60), (3, 0, 0), (0, 1, 60)]
