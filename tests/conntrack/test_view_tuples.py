"""The packet's conntrack view tuples (NfPkt.ct_orig_* / ct_repl_*, read by
-m conntrack --ctorig*/--ctrepl*): conntrack copies them into every packet
only when a loaded rule has such a match (attach_netfilter sets
Conntrack.view_tuples); the matches see the entry's tuples in both
directions and after the handshake."""

from tests.netfilter.engine_util import filter_rules, host, listener, nf_replay, row, rule_counts
from pystack.replay import Replay, describe_packet

from tests.pktbuild import Client

RULES = filter_rules(
    # client 1 (10.0.0.2) in either direction of its connection: orig source
    "-A INPUT -p tcp -m conntrack --ctorigsrc 10.0.0.2 --ctstate ESTABLISHED -j DROP",
    # client 2's reply tuple: src = the host, dst port = the client's port
    "-A INPUT -p tcp -m conntrack --ctreplsrc 198.18.0.1 --ctrepldstport 40002 -j DROP",
    "-A INPUT -p tcp -m conntrack --ctorigdstport 80 -j ACCEPT",
)


def _host():
    return host([listener(port=80)])


def test_view_tuples_flag_follows_the_rules():
    _, r = nf_replay(_host(), [], RULES)
    assert r.ct_table.ct.view_tuples is True
    _, r = nf_replay(_host(), [], filter_rules("-A INPUT -m conntrack --ctstate INVALID -j DROP"))
    assert r.ct_table.ct.view_tuples is False


def test_ctorig_ctrepl_matches_read_the_entry():
    c1, c2, c3 = Client(1), Client(2), Client(3)
    pk = [c1.syn(), c1.host_synack(1000), c1.ack(1000), c2.syn(), c3.syn()]
    res, _ = nf_replay(_host(), pk, RULES)
    got = [(row(res, i)["verdict"], row(res, i)["ctstate"], row(res, i)["nf_rule"])
           for i in range(len(pk))]
    assert got == [
        ("DELIVERED", "NEW", 2),                # rule 3 (--ctorigdstport 80) accepts
        ("SENT", "ESTABLISHED REPLY", 5),       # OUTPUT policy
        ("DROPPED", "ESTABLISHED", 0),          # rule 1: the entry's orig source
        ("DROPPED", "NEW", 1),                  # rule 2: its reply tuple
        ("DELIVERED", "NEW", 2),
    ]
    assert rule_counts(res, "filter", "INPUT") == [(1, 1, 40), (2, 1, 60), (3, 2, 120),
                                                    (0, 0, 0)]


def test_without_such_rules_the_output_is_the_same_with_tuples_filled():
    rules = filter_rules("-A INPUT -m conntrack --ctstate INVALID -j DROP",
                         "-A INPUT -p tcp -m conntrack --ctstate NEW -j ACCEPT")
    c1, c2 = Client(1), Client(2)
    pk = [c1.syn(), c1.host_synack(1000), c1.ack(1000), c2.syn()]
    outs = []
    for force in (False, True):
        r = Replay(_host(), checksum="verify", seed=3, rules=rules)
        assert r.ct_table.ct.view_tuples is False
        r.ct_table.ct.view_tuples = force
        res = r.run_packets(pk)
        outs.append(([describe_packet(res, i) for i in range(len(pk))], res.rules,
                     res.conntrack["L"], res.conntrack["stats"]))
    assert outs[0] == outs[1]
    assert [d["ctstate"] for d in outs[0][0]] == ["NEW", "ESTABLISHED REPLY", "ESTABLISHED",
                                                   "NEW"]
