"""The one table of the output schema: every table, every column.

Each column is one line: name, type, source, meaning.  The writer
(pystack.results.writer) builds its Arrow columns from these lines, the
loader (pystack.results.load) converts by type, and the documentation
(docs/schema.md, ``python -m pystack.results.schema --write``) is rendered
from them; a test checks docs/schema.md is what this module renders.
Adding a column is adding one line here (and, when its source is new, the
engine column it reads).

Types
-----
``int8/16/32/64``, ``uint8/16/32/64``, ``bool``: numpy dtypes, zero-copy.
``ts``: int64 ns since the epoch -> Arrow timestamp[ns, UTC]; ``ts?``: the
same with -1 meaning none (null).
``addr``: a 16-byte address (IPv4 as ::ffff:a.b.c.d) -> dictionary-encoded
string ("192.0.2.1", "2001:db8::1"), one dictionary per file (pystack.load
decodes it to plain strings); null where the row has no IP header.
``enum:NAME``: a code -> dictionary-encoded string from ENUMS[NAME];
codes listed in ENUM_NULL[NAME] are null.
``str``: a string built by the writer; ``dstr``: the same, dictionary-encoded
(a small set of values, e.g. chain names).

Sources
-------
packets: ``rb:NAME`` (RecordBatch NAME_arr), ``cols:NAME`` (parsed
columns, pystack._core.parse.PacketColumns), ``v:NAME`` (the engine's
Verdicts).  connections: ``rec:NAME`` (engine REC_DTYPE) or ``calc:NAME``
(derived in the writer).  samples: ``smp:NAME`` (Engine.take_samples).
counters: built by the writer.  rules / conntrack / conntrack_stats
(netfilter): ``rule:`` (ReplayResult.rules), ``ct:`` (the conntrack table's
raw entries), ``cts:`` (its conntrack -S stats); packets ``calc:nf_*`` come
from the engine's nf_rule (an index into its family's compiled ruleset).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from pystack import vocab

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    source: str
    doc: str
    nf: bool = False        # written only when rules were loaded (--rules)


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple

    def names(self, netfilter: bool = True) -> list:
        return [c.name for c in self.cols(netfilter)]

    def cols(self, netfilter: bool = True) -> tuple:
        """The columns written: the netfilter ones only with rules loaded."""
        return self.columns if netfilter else tuple(c for c in self.columns if not c.nf)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _enums() -> dict:
    """Dictionaries of the enum columns: position = the engine's code."""
    from pystack._core import engine as e

    def dense(mapping):                      # {name: code} -> list by code
        out = [f"code{c}" for c in range(max(mapping.values()) + 1)]
        for name, code in mapping.items():
            out[code] = name
        return out

    states = [e.SOCK_STATES[c] or "NONE" for c in range(max(e.SOCK_STATES) + 1)]
    states[7] = "CLOSE"                      # TCP_CLOSE (ss shows UNCONN)
    states[12] = "NEW-SYN-RECV"              # a request sock (ss shows SYN-RECV)
    return {
        "direction": dense(e.DIRECTIONS),
        "verdict": dense(e.VERDICTS),
        "reason": list(vocab.DROP_REASONS),
        "csum": list(vocab.CSUM_STATUSES),
        "sock_state": states,
        "reply": dense(e.REPLIES),
        "close_why": [e.CLOSE_WHY[c] for c in range(max(e.CLOSE_WHY) + 1)],
        "sample_kind": ["code0", "socket", "listener"],
        "counter": list(vocab.COUNTERS),
        "conn_states": [",".join(states[b] for j, b in enumerate(STATE_BITS) if i & (1 << j))
                        for i in range(1 << len(STATE_BITS))],
        # netfilter (pyx/engine.pyx Verdicts nf_*; codes shifted by ENUM_SHIFT)
        "nf_hooks": [",".join(h for k, h in enumerate(e.NF_HOOKS) if i & (1 << k))
                     for i in range(1 << len(e.NF_HOOKS))],
        "nf_hook": ["none"] + list(e.NF_HOOKS),
        "nf_table": ["none"] + list(e.NF_TABLES),
        "ctstate": _ctstates(e),
        "nat_chg": [",".join(f for k, f in enumerate(NAT_FIELDS) if i & (1 << k))
                    for i in range(1 << len(NAT_FIELDS))],
    }


# nftypes.pxd NAT_CHG_SADDR / DADDR / SPORT / DPORT, bit order
NAT_FIELDS = ("saddr", "daddr", "sport", "dport")


def _ctstates(e) -> list:
    """Verdicts.ctstate code (state | CTSTATE_REPLY) -> "NEW", "ESTABLISHED
    REPLY", ... (the ctstate match's names, plus the direction)."""
    inv = {v: k for k, v in e.CTSTATES.items()}
    out = []
    for c in range(2 * e.CTSTATE_REPLY):
        name = inv.get(c & ~e.CTSTATE_REPLY)
        if name is None or (c & e.CTSTATE_REPLY and not name):
            out.append(f"code{c}")
        else:
            out.append(name + (" REPLY" if c & e.CTSTATE_REPLY else ""))
    return out


# the states a connection can pass through, in the order they are listed
# (connections.states): SYN-RECV ESTAB FIN-WAIT-1 FIN-WAIT-2 CLOSE-WAIT
# LAST-ACK CLOSING TIME-WAIT CLOSE (include/net/tcp_states.h numbers)
STATE_BITS = (3, 1, 4, 5, 8, 9, 11, 6, 7)


def states_index(bits):
    """ConnRec.states (bit 1 << TCP state) -> index into ENUMS["conn_states"]."""
    import numpy as np
    bits = np.asarray(bits, np.uint32)
    out = np.zeros(len(bits), np.int16)
    for j, b in enumerate(STATE_BITS):
        out |= (((bits >> b) & 1) << j).astype(np.int16)
    return out


ENUMS = _enums()
# codes shown as null: "no drop reason", "no socket"
ENUM_NULL = {"reason": (0,), "sock_state": (0,), "nf_hooks": (0,), "nf_hook": (0,),
             "nf_table": (0,), "ctstate": (0,), "nat_chg": (0,)}
# enums whose engine code starts at -1 (none): index = code + shift
ENUM_SHIFT = {"nf_hook": 1, "nf_table": 1}

C = Column

TABLES = {t.name: t for t in (
    Table("packets", "One row per captured packet, in capture (frame) order.", (
        C("frame", "int64", "rb:frame", "1-based frame number in the (merged) input"),
        C("ts", "ts", "rb:ts", "capture timestamp"),
        C("interface", "uint32", "rb:iface", "capture interface (pcapng IDB order across files)"),
        C("direction", "enum:direction", "v:direction",
          "IN to the host, OUT from it, FWD would be forwarded, OTHER not the host's"),
        C("conn_id", "int64", "v:conn_id", "connection (connections.conn_id); -1 none"),
        C("ip_version", "uint8", "cols:ip_ver", "4, 6, or 0 when not IP"),
        C("proto", "uint8", "cols:ip_proto", "L4 protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6)"),
        C("src", "addr", "cols:saddr", "source address"),
        C("sport", "uint16", "cols:sport", "source port (ICMP echo: identifier)"),
        C("dst", "addr", "cols:daddr", "destination address"),
        C("dport", "uint16", "cols:dport", "destination port"),
        C("tcp_flags", "uint16", "cols:tcp_flags", "TCP flags (FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 ...)"),
        C("seq", "uint32", "cols:tcp_seq", "TCP sequence number"),
        C("ack", "uint32", "cols:tcp_ack", "TCP acknowledgment number"),
        C("window", "uint16", "cols:tcp_win", "TCP window field as captured (unscaled)"),
        C("payload_len", "uint32", "cols:payload_len", "L4 payload bytes"),
        C("verdict", "enum:verdict", "v:verdict",
          "DELIVERED, DROPPED, SENT (host's own), NOT_HOST, QUEUED (fragment), UNMODELLED, FORWARDED (routed on)"),
        C("reason", "enum:reason", "v:reason", "kernel drop reason (skb_drop_reason name); null unless dropped"),
        C("ip_csum", "enum:csum", "cols:ip_csum", "IPv4 header checksum status"),
        C("l4_csum", "enum:csum", "cols:l4_csum", "TCP/UDP/ICMP checksum status after the checksum policy"),
        C("sock_state", "enum:sock_state", "v:sock_state", "state of the socket that handled it, after it (ss names)"),
        C("listener", "int16", "v:listener", "listener index (run.json listeners); -1 none"),
        C("rcv_queue", "uint32", "v:rcv_queue", "receive-queue bytes (unread) after the packet"),
        C("adv_win", "uint32", "v:adv_win", "window (bytes, scaled) the host's next ACK would advertise after it"),
        C("win_diff", "int32", "v:win_diff", "host packets: captured window - model's window (bytes)"),
        C("reply", "enum:reply", "v:reply", "what the model sent in response (SYNACK, RST, ACK, ...; the ICMP kinds are ICMPv6 on IPv6 rows)"),
        C("reply_seq", "uint32", "v:reply_seq", "sequence number of the reply"),
        C("reply_ack", "uint32", "v:reply_ack", "acknowledgment number of the reply"),
        C("reply_win", "uint16", "v:reply_win", "window field of the reply"),
        C("reply_flags", "uint16", "v:reply_flags", "TCP flags of the reply"),
        C("reply_wscale", "uint8", "v:reply_wscale", "window scale option of the reply (255 none)"),
        C("reply_mss", "uint16", "v:reply_mss", "MSS option of the reply (0 none)"),
        C("nf_hooks", "enum:nf_hooks", "v:nf_hooks",
          "netfilter hooks the packet traversed, in hook order (PREROUTING,INPUT,...)", True),
        C("nf_hook", "enum:nf_hook", "v:nf_hook",
          "hook of the deciding rule (the last rule or policy that gave a verdict)", True),
        C("nf_table", "enum:nf_table", "v:nf_table", "table of the deciding rule", True),
        C("nf_chain", "dstr", "calc:nf_chain", "chain of the deciding rule", True),
        C("nf_rule_num", "int32", "calc:nf_rule_num",
          "number of the deciding rule in its chain (iptables -L --line-numbers; "
          "0 = the chain policy); -1 none", True),
        C("nf_rule", "int32", "calc:nf_rule",
          "the deciding rule: rules.rule_id (its text there); -1 none", True),
        C("ctstate", "enum:ctstate", "v:ctstate",
          "conntrack state of the packet (NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED; "
          "REPLY: reply direction); null when not tracked", True),
        C("ct_id", "int32", "v:ct_id", "conntrack entry (model's slot); -1 none", True),
        C("nat_chg", "enum:nat_chg", "v:nat_chg",
          "fields NAT rewrote (saddr, daddr, sport, dport); null none", True),
        C("nat_src", "addr", "v:nat_saddr", "source address after NAT; null unless rewritten", True),
        C("nat_dst", "addr", "v:nat_daddr", "destination address after NAT; null unless rewritten",
          True),
        C("nat_sport", "uint16", "v:nat_sport", "source port after NAT (ICMP: echo id)", True),
        C("nat_dport", "uint16", "v:nat_dport", "destination port after NAT", True),
    )),
    Table("connections", "One row per TCP connection the host accepted (or picked up), written when it "
          "ends (closed, or its TIME_WAIT is over); the ones still open at the end of the "
          "capture last.", (
        C("conn_id", "int64", "rec:conn_id", "connection id (packets.conn_id)"),
        C("local", "addr", "rec:local", "host address"),
        C("lport", "uint16", "rec:lport", "host port"),
        C("remote", "addr", "rec:remote", "peer address"),
        C("rport", "uint16", "rec:rport", "peer port"),
        C("listener", "int32", "rec:listener", "listener index (run.json listeners)"),
        C("start", "ts", "rec:start_ns", "child socket created (handshake completed)"),
        C("end", "ts?", "rec:end_ns", "closed or entered TIME_WAIT; null while open"),
        C("syn_queue_ns", "int64", "calc:syn_queue_ns", "time from the SYN to the child (request sock in the SYN queue)"),
        C("accept_queue_ns", "int64", "calc:accept_queue_ns",
          "time in the accept queue (until accept(), or the end of the capture); -1 never queued"),
        C("states", "enum:conn_states", "calc:states", "every socket state it was in (ss names, state order)"),
        C("state", "enum:sock_state", "rec:state", "state at the end of the capture"),
        C("why", "enum:close_why", "rec:why", "how it ended: FIN, RST, TW_OVERFLOW, OPEN (still open at the end)"),
        C("picked_up", "bool", "rec:picked_up", "established before the capture began"),
        C("pkts_in", "int64", "rec:pkts_in", "packets from the peer"),
        C("bytes_in", "int64", "rec:bytes_in", "payload bytes from the peer"),
        C("pkts_out", "int64", "rec:pkts_out", "host packets captured"),
        C("bytes_out", "int64", "rec:bytes_out", "host payload bytes captured"),
        C("drops", "int64", "rec:drops", "peer packets dropped"),
        C("drops_by_reason", "str", "calc:drops_by_reason", "drops per kernel reason, 'REASON:n ...'"),
        C("zero_window_advs", "int64", "rec:zw_advs", "zero windows the model advertised"),
        C("zero_window_ns", "int64", "rec:zw_ns", "total time the model advertised a zero window"),
        C("peer_zero_windows", "int64", "rec:peer_zw", "zero-window periods of the peer"),
        C("peer_zero_window_ns", "int64", "rec:peer_zw_ns", "total time the peer advertised zero"),
        C("max_rcv_queue", "int64", "rec:max_rq", "largest receive queue (bytes)"),
        C("max_bytes_in_flight", "int64", "rec:max_inflight", "largest host bytes in flight"),
        C("peer_window", "uint32", "rec:peer_win", "the peer's last window (bytes, scaled)"),
        C("window_compared", "int64", "rec:win_cmp", "host ACKs whose window was compared with the model"),
        C("window_diverged", "int64", "rec:win_diff", "of those, how many differed"),
        C("divergences", "int64", "rec:divs", "model-vs-capture disagreements on this connection"),
    )),
    Table("samples", "Window and queue time series: a row whenever a value changes.", (
        C("ts", "ts", "smp:ts_ns", "capture time of the change"),
        C("kind", "enum:sample_kind", "smp:kind", "socket (a connection) or listener"),
        C("conn_id", "int64", "smp:conn_id", "connection; -1 for listener rows"),
        C("listener", "int16", "smp:listener", "listener index"),
        C("rcv_queue", "int64", "smp:rcv_queue", "socket: bytes in the receive queue, unread"),
        C("adv_win", "uint32", "smp:adv_win", "socket: window (bytes) the next ACK would advertise"),
        C("peer_win", "uint32", "smp:peer_win", "socket: the peer's window (bytes, scaled)"),
        C("bytes_in_flight", "int64", "smp:bytes_in_flight", "socket: host bytes sent and not yet acknowledged"),
        C("syn_queue", "int64", "smp:syn_queue", "listener: request socks (SYN queue length)"),
        C("accept_queue", "int64", "smp:accept_queue", "listener: children waiting for accept() (sk_ack_backlog)"),
    )),
    Table("counters", "SNMP/netstat counters (nstat names): a snapshot at every --counter-interval boundary "
          "of capture time (of everything before it), then the final values (final = true).", (
        C("ts", "ts", "ctr:ts_ns", "snapshot time (interval boundary; the last packet's time for final rows)"),
        C("counter", "enum:counter", "ctr:counter", "counter name as nstat prints it"),
        C("value", "int64", "ctr:value", "value"),
        C("final", "bool", "ctr:final", "the values at the end of the run"),
    )),
    Table("rules", "With --rules only: every rule and chain policy of the loaded rulesets, "
          "in iptables-save order, with the model's counters (OUT/rules.save holds the same "
          "as `iptables-save -c` text).", (
        C("rule_id", "int32", "rule:rule_id", "row number (packets.nf_rule)"),
        C("family", "uint8", "rule:family", "4 (iptables) or 6 (ip6tables)"),
        C("table", "str", "rule:table", "raw, mangle, nat, filter, security"),
        C("chain", "str", "rule:chain", "chain name"),
        C("number", "int32", "rule:number", "rule number in the chain (1-based); 0 = the policy"),
        C("text", "str", "rule:text", "the rule as iptables-save prints it (policies: ':CHAIN POLICY')"),
        C("packets", "int64", "rule:packets", "packets that matched (the model's counter)"),
        C("bytes", "int64", "rule:bytes", "their bytes (IP length)"),
    )),
    Table("conntrack", "With --rules only: the conntrack table at the end of the capture "
          "(as `conntrack -L` would list it then), sorted by family, protocol, original tuple.", (
        C("proto", "str", "ct:proto", "tcp, udp, icmp, icmpv6, ..."),
        C("state", "str", "ct:state", "TCP conntrack state (SYN_SENT, ESTABLISHED, ...); empty otherwise"),
        C("timeout", "int64", "ct:timeout", "seconds left at the end of the capture"),
        C("orig_src", "addr", "ct:orig_src", "original direction: source address"),
        C("orig_dst", "addr", "ct:orig_dst", "original direction: destination address"),
        C("orig_sport", "uint16", "ct:orig_sport", "original source port (ICMP: echo id)"),
        C("orig_dport", "uint16", "ct:orig_dport", "original destination port (ICMP: type << 8 | code)"),
        C("reply_src", "addr", "ct:reply_src", "reply direction: source address (DNAT shows here)"),
        C("reply_dst", "addr", "ct:reply_dst", "reply direction: destination address (SNAT shows here)"),
        C("reply_sport", "uint16", "ct:reply_sport", "reply source port"),
        C("reply_dport", "uint16", "ct:reply_dport", "reply destination port"),
        C("status", "str", "ct:status", "status flags (IPS_* names: SEEN_REPLY, ASSURED, "
          "CONFIRMED, SRC_NAT, DST_NAT, ...), comma-separated"),
        C("mark", "uint32", "ct:mark", "connection mark"),
    )),
    Table("conntrack_stats", "With --rules only: one row, `conntrack -S` at the end of the "
          "capture (one CPU) with the table size.", (
        C("entries", "int64", "cts:entries", "entries in the table at the end"),
        C("max", "int64", "cts:max", "net.netfilter.nf_conntrack_max"),
        C("found", "int64", "cts:found", ""),
        C("invalid", "int64", "cts:invalid", "packets nf_conntrack_in found invalid"),
        C("insert", "int64", "cts:insert", ""),
        C("insert_failed", "int64", "cts:insert_failed", ""),
        C("drop", "int64", "cts:drop", "new entries refused: the table full (NETFILTER_DROP)"),
        C("early_drop", "int64", "cts:early_drop", "unassured entries evicted to make room"),
        C("error", "int64", "cts:error", ""),
        C("search_restart", "int64", "cts:search_restart", ""),
        C("clashres", "int64", "cts:clashres", "clashes resolved (clash_resolve)"),
    )),
)}

# enumerations whose values grow with the model: int16 dictionary indices
GROWING_ENUMS = ("counter", "reason", "conn_states")

TABLE_ORDER = ("packets", "connections", "samples", "counters")
# written only when rules were loaded: a run without rules has no such files
NF_TABLE_ORDER = ("rules", "conntrack", "conntrack_stats")
ALL_TABLES = TABLE_ORDER + NF_TABLE_ORDER


def render_markdown() -> str:
    out = ["# Output schema", "",
           "Generated from `pystack/results/schema.py` "
           "(`python -m pystack.results.schema --write`); do not edit.", "",
           f"Schema version {SCHEMA_VERSION}.  An output folder holds one file per table "
           "(`NAME.arrow` or `NAME.parquet`) and `run.json`.  Types: `ts` is a UTC timestamp "
           "in ns (`ts?`: may be null), `addr` an address string (dictionary-encoded in the "
           "file; `pystack.load` gives plain strings), `enum:X` a dictionary-encoded string "
           "(pandas categorical), `str` a string.", "",
           "Netfilter: with `--rules` the packets table gains the columns marked *(rules)*, "
           "the tables `rules`, `conntrack` and `conntrack_stats` are written, `rules.save` "
           "holds the rulesets as `iptables-save -c` text with the model's counters and "
           "run.json lists the rulesets (path, sha256, family, lenient warnings).  A run "
           "without rules writes none of these (no empty netfilter tables).", ""]
    for name in ALL_TABLES:
        t = TABLES[name]
        out += [f"## {name}", "", t.doc, "", "| column | type | meaning |", "| --- | --- | --- |"]
        for c in t.columns:
            mark = " *(rules)*" if c.nf else ""
            out.append(f"| `{c.name}` | {c.type} | {c.doc}{mark} |")
        out.append("")
    out += ["## Enumerations", ""]
    for name, values in ENUMS.items():
        if name == "counter":
            out.append(f"- `{name}`: the names of `pystack/vocab.py` COUNTERS")
            continue
        if name == "conn_states":
            out.append(f"- `{name}`: comma-separated lists of the sock_state names a "
                       "connection passed through")
            continue
        if name in ("nf_hooks", "nat_chg"):
            out.append(f"- `{name}`: comma-separated lists of "
                       + ", ".join(f"`{v}`" for v in values if "," not in v and v))
            continue
        if name == "reason":
            out.append(f"- `{name}`: the names of `pystack/vocab.py` DROP_REASONS")
            continue
        shown = [v for v in values if not v.startswith("code")]
        out.append(f"- `{name}`: " + ", ".join(f"`{v}`" for v in shown))
    out.append("")
    return "\n".join(out)


def _main(argv=None) -> int:
    import os
    argv = sys.argv[1:] if argv is None else argv
    text = render_markdown()
    if "--write" in argv:
        path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "schema.md")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
