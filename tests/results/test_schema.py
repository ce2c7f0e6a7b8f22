"""Schema stability: every table's column names and Arrow types, and the
documentation rendered from the one schema table."""
import pathlib

import pyarrow as pa

from pystack import vocab
from pystack.results import schema as S
from pystack.results.writer import arrow_schema

ROOT = pathlib.Path(__file__).resolve().parents[2]
D8 = pa.dictionary(pa.int8(), pa.string())
D16 = pa.dictionary(pa.int16(), pa.string())
ADDR = pa.dictionary(pa.int32(), pa.string())
TS = pa.timestamp("ns")

EXPECTED = {
    "packets": [
        ("frame", pa.int64()), ("ts", TS), ("interface", pa.uint32()), ("direction", D8),
        ("conn_id", pa.int64()), ("ip_version", pa.uint8()), ("proto", pa.uint8()),
        ("src", ADDR), ("sport", pa.uint16()), ("dst", ADDR), ("dport", pa.uint16()),
        ("tcp_flags", pa.uint16()), ("seq", pa.uint32()), ("ack", pa.uint32()),
        ("window", pa.uint16()), ("payload_len", pa.uint32()), ("verdict", D8),
        ("reason", D16), ("ip_csum", D8), ("l4_csum", D8), ("sock_state", D8),
        ("listener", pa.int16()), ("rcv_queue", pa.uint32()), ("adv_win", pa.uint32()),
        ("win_diff", pa.int32()), ("reply", D8), ("reply_seq", pa.uint32()),
        ("reply_ack", pa.uint32()), ("reply_win", pa.uint16()), ("reply_flags", pa.uint16()),
        ("reply_wscale", pa.uint8()), ("reply_mss", pa.uint16()),
    ],
    "connections": [
        ("conn_id", pa.int64()), ("local", ADDR), ("lport", pa.uint16()), ("remote", ADDR),
        ("rport", pa.uint16()), ("listener", pa.int32()), ("start", TS), ("end", TS),
        ("syn_queue_ns", pa.int64()), ("accept_queue_ns", pa.int64()), ("states", D16),
        ("state", D8), ("why", D8), ("picked_up", pa.bool_()), ("pkts_in", pa.int64()),
        ("bytes_in", pa.int64()), ("pkts_out", pa.int64()), ("bytes_out", pa.int64()),
        ("drops", pa.int64()), ("drops_by_reason", pa.string()),
        ("zero_window_advs", pa.int64()), ("zero_window_ns", pa.int64()),
        ("peer_zero_windows", pa.int64()), ("peer_zero_window_ns", pa.int64()),
        ("max_rcv_queue", pa.int64()), ("max_bytes_in_flight", pa.int64()),
        ("peer_window", pa.uint32()), ("window_compared", pa.int64()),
        ("window_diverged", pa.int64()), ("divergences", pa.int64()),
    ],
    "samples": [
        ("ts", TS), ("kind", D8), ("conn_id", pa.int64()), ("listener", pa.int16()),
        ("rcv_queue", pa.int64()), ("adv_win", pa.uint32()), ("peer_win", pa.uint32()),
        ("bytes_in_flight", pa.int64()), ("syn_queue", pa.int64()),
        ("accept_queue", pa.int64()),
    ],
    "counters": [("ts", TS), ("counter", D16), ("value", pa.int64()), ("final", pa.bool_())],
    "rules": [("rule_id", pa.int32()), ("family", pa.uint8()), ("table", pa.string()),
              ("chain", pa.string()), ("number", pa.int32()), ("text", pa.string()),
              ("packets", pa.int64()), ("bytes", pa.int64())],
    "conntrack": [("proto", pa.string()), ("state", pa.string()), ("timeout", pa.int64()),
                  ("orig_src", ADDR), ("orig_dst", ADDR), ("orig_sport", pa.uint16()),
                  ("orig_dport", pa.uint16()), ("reply_src", ADDR), ("reply_dst", ADDR),
                  ("reply_sport", pa.uint16()), ("reply_dport", pa.uint16()),
                  ("status", pa.string()), ("mark", pa.uint32())],
    "conntrack_stats": [(n, pa.int64()) for n in (
        "entries", "max", "found", "invalid", "insert", "insert_failed", "drop", "early_drop",
        "error", "search_restart", "clashres")],
}
# the packets table with --rules: these follow the columns above
NF_PACKETS = [
    ("nf_hooks", D8), ("nf_hook", D8), ("nf_table", D8), ("nf_chain", ADDR),
    ("nf_rule_num", pa.int32()), ("nf_rule", pa.int32()), ("ctstate", D8),
    ("ct_id", pa.int32()), ("nat_chg", D8), ("nat_src", ADDR), ("nat_dst", ADDR),
    ("nat_sport", pa.uint16()), ("nat_dport", pa.uint16()),
]


def test_tables_and_order():
    assert S.TABLE_ORDER == ("packets", "connections", "samples", "counters")
    assert S.NF_TABLE_ORDER == ("rules", "conntrack", "conntrack_stats")
    assert set(S.TABLES) == set(S.TABLE_ORDER) | set(S.NF_TABLE_ORDER)


def test_column_names_and_types():
    for table, cols in EXPECTED.items():
        sch = arrow_schema(table)
        assert [(f.name, f.type) for f in sch] == cols, table
        assert sch.metadata[b"pystack.schema_version"] == str(S.SCHEMA_VERSION).encode()
    sch = arrow_schema("packets", netfilter=True)
    assert [(f.name, f.type) for f in sch] == EXPECTED["packets"] + NF_PACKETS


def test_netfilter_enumerations():
    assert S.ENUMS["nf_hooks"][0b10011] == "PREROUTING,INPUT,POSTROUTING"
    assert S.ENUMS["nf_hook"] == ["none", "PREROUTING", "INPUT", "FORWARD", "OUTPUT",
                                  "POSTROUTING"]
    assert S.ENUMS["nf_table"] == ["none", "raw", "mangle", "nat", "filter", "security"]
    assert S.ENUMS["ctstate"][2] == "ESTABLISHED" and S.ENUMS["ctstate"][16 + 2] == \
        "ESTABLISHED REPLY"
    assert S.ENUMS["nat_chg"][0b1010] == "daddr,dport"


def test_enumerations_follow_the_engine_and_vocab():
    assert S.ENUMS["reason"] == list(vocab.DROP_REASONS)
    assert S.ENUMS["counter"] == list(vocab.COUNTERS)
    assert S.ENUMS["csum"] == list(vocab.CSUM_STATUSES)
    assert S.ENUMS["verdict"] == ["NOT_HOST", "DELIVERED", "DROPPED", "SENT", "QUEUED",
                                  "UNMODELLED", "FORWARDED"]
    assert S.ENUMS["close_why"] == ["OPEN", "FIN", "RST", "TIMEOUT", "TW_OVERFLOW"]
    for name, values in S.ENUMS.items():
        assert len(set(values)) == len(values), name      # categoricals need unique names
    assert S.ENUMS["conn_states"][int(S.states_index([(1 << 3) | (1 << 1) | (1 << 7)])[0])] \
        == "SYN-RECV,ESTAB,CLOSE"


def test_every_source_names_a_real_column():
    from pystack._core import engine
    from pystack._core.parse import PacketColumns
    pc = PacketColumns(1).arrays
    rec = engine.REC_DTYPE.names
    vs = dict(engine.VERDICT_SPEC)
    for c in S.TABLES["packets"].columns:
        kind, name = c.source.split(":")
        assert {"rb": lambda n: n in ("frame", "ts", "iface"), "cols": lambda n: n in pc,
                "v": lambda n: n in vs,
                "calc": lambda n: n in ("nf_chain", "nf_rule_num", "nf_rule")}[kind](name), c
    for c in S.TABLES["connections"].columns:
        kind, name = c.source.split(":")
        assert kind == "calc" or name in rec or name in ("local", "remote"), c


def test_docs_are_rendered_from_the_schema():
    assert (ROOT / "docs" / "schema.md").read_text() == S.render_markdown()


def test_address_text_matches_python():
    """The C formatter of the address dictionary prints what Python's
    ipaddress / inet_ntop print (IPv4-mapped addresses as dotted quads)."""
    import ipaddress

    import numpy as np

    from pystack._core.addrtable import format_rows
    from pystack.results.writer import format_addr
    addrs = ["1.2.3.4", "255.255.255.255", "0.0.0.0", "10.0.100.9", "::1", "::",
             "2001:db8::1", "fe80::1:2:3:4", "2001:db8:0:0:1::1", "::ffff:0:102:304"]
    w = np.zeros((len(addrs), 16), np.uint8)
    for i, a in enumerate(addrs):
        ip = ipaddress.ip_address(a)
        w[i] = np.frombuffer(b"\0" * 10 + b"\xff\xff" + ip.packed if ip.version == 4
                             else ip.packed, np.uint8)
    blob, lens = format_rows(w.view(np.uint64), np.arange(len(addrs)))
    got, o = [], 0
    for n in lens.tolist():
        got.append(blob[o:o + n].decode())
        o += n
    assert got == [format_addr(bytes(r)) for r in w] == [
        "1.2.3.4", "255.255.255.255", "0.0.0.0", "10.0.100.9", "::1", "::", "2001:db8::1",
        "fe80::1:2:3:4", "2001:db8::1:0:0:1", "::ffff:0:102:304"]
