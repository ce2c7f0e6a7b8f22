"""Helpers for the netfilter-in-the-engine tests: replay dpkt-built packets
through a host with an iptables ruleset, look rows up by name."""

from pystack.replay import Replay, ctstate_name, describe_packet

from tests.pktbuild import host, listener  # noqa: F401  (re-exported)

FILTER_HEAD = "*filter\n:INPUT {inp} [0:0]\n:FORWARD {fwd} [0:0]\n:OUTPUT {out} [0:0]\n"


def filter_rules(*lines, inp="ACCEPT", fwd="ACCEPT", out="ACCEPT") -> str:
    return (FILTER_HEAD.format(inp=inp, fwd=fwd, out=out)
            + "".join(line + "\n" for line in lines) + "COMMIT\n")


def nf_replay(h, packets, rules, ts=None, seed=0, **kw):
    r = Replay(h, checksum="verify", seed=seed, rules=rules, **kw)
    return r.run_packets(packets, ts), r


def row(res, i) -> dict:
    return describe_packet(res, i)


def rule_counts(res, table, chain) -> list:
    """[(number, packets, bytes)] of a chain, policy (number 0) last."""
    out = [(r["number"], r["packets"], r["bytes"]) for r in res.rules
           if r["table"] == table and r["chain"] == chain]
    return sorted(out, key=lambda t: (t[0] == 0, t[0]))


__all__ = ["filter_rules", "nf_replay", "row", "rule_counts", "ctstate_name", "host",
           "listener"]
