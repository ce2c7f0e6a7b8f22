"""The result tables of a small dpkt-built scenario, exactly: connection 0
ends with a FIN exchange, 1 with a client RST, 2 stays open (tests/tcp/conn.py
three_connections).  Streaming with tiny batches gives the same tables, the
same input and seed give byte-identical files, Parquet holds what Arrow holds."""
import pathlib

import pandas as pd
import pyarrow as pa
import pytest

import pystack
from pystack.results.load import read_arrow
from tests.results.util import run_frames
from tests.tcp.conn import three_connections

TABLES = ("packets", "connections", "samples", "counters")


@pytest.fixture(scope="module")
def scenario():
    return three_connections()[1]


def _run(tmp, scenario, name="out", **kw):
    pk, ts = scenario
    return run_frames(pathlib.Path(tmp) / name, pk, ts, **kw)


def test_packets_rows(tmp_path, scenario):
    d = pystack.load(_run(tmp_path, scenario))
    p = d.packets
    assert p["frame"].tolist() == list(range(1, 18))
    assert p["direction"].astype(str).tolist() == (
        ["IN", "OUT", "IN", "IN", "OUT", "IN", "OUT", "IN"] + ["IN", "OUT", "IN", "IN", "IN"]
        + ["IN", "OUT", "IN", "IN"])
    assert p["conn_id"].tolist() == [0] * 8 + [1] * 5 + [2] * 4
    assert p["src"].tolist()[:2] == ["10.0.0.2", "198.18.0.1"]
    assert p["dst"].tolist()[12] == "198.18.0.1" and p["sport"].tolist()[12] == 40002
    assert p["verdict"].astype(str).tolist() == ["DELIVERED", "SENT", "DELIVERED", "DELIVERED",
                                                 "SENT", "DELIVERED", "SENT", "DELIVERED",
                                                 "DELIVERED", "SENT", "DELIVERED", "DELIVERED",
                                                 "DELIVERED", "DELIVERED", "SENT", "DELIVERED",
                                                 "DELIVERED"]
    assert p["reason"].isna().all()
    assert p["sock_state"].astype(str).tolist() == [
        "NEW-SYN-RECV", "NEW-SYN-RECV", "ESTAB", "ESTAB", "ESTAB", "CLOSE-WAIT", "LAST-ACK",
        "CLOSE", "NEW-SYN-RECV", "NEW-SYN-RECV", "ESTAB", "ESTAB", "CLOSE", "NEW-SYN-RECV",
        "NEW-SYN-RECV", "ESTAB", "ESTAB"]
    assert p["reply"].astype(str).tolist() == ["SYNACK", "NONE", "NONE", "ACK", "NONE", "NONE",
                                               "NONE", "NONE", "SYNACK", "NONE", "NONE", "ACK",
                                               "NONE", "SYNACK", "NONE", "NONE", "ACK"]
    # the data segments: read at once (as-arrives), the ACK's window 64 << 10
    assert p["payload_len"].tolist()[3] == 300
    assert p["adv_win"].tolist()[3] == 65536 and p["reply_win"].tolist()[3] == 64
    assert p["rcv_queue"].tolist() == [0] * 17
    assert str(p["ts"].dtype) == "datetime64[ns]"
    assert p["ts"].astype("int64").tolist()[:4] == [0, 1000, 2000, 3000]


def test_connection_rows(tmp_path, scenario):
    c = pystack.load(_run(tmp_path, scenario)).connections
    assert c["conn_id"].tolist() == [0, 1, 2]
    assert c["remote"].tolist() == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    assert c["local"].tolist() == ["198.18.0.1"] * 3
    assert c["why"].astype(str).tolist() == ["FIN", "RST", "OPEN"]
    assert c["state"].astype(str).tolist() == ["CLOSE", "CLOSE", "ESTAB"]
    assert c["states"].astype(str).tolist() == ["SYN-RECV,ESTAB,CLOSE-WAIT,LAST-ACK,CLOSE",
                                                "SYN-RECV,ESTAB,CLOSE", "SYN-RECV,ESTAB"]
    assert c["start"].astype("int64").tolist() == [2000, 10_002_000, 20_002_000]
    assert c["end"].isna().tolist() == [False, False, True]
    assert c["end"].iloc[0].value == 7000
    assert c["syn_queue_ns"].tolist() == [2000, 2000, 2000]
    assert c["accept_queue_ns"].tolist() == [0, 0, 0]          # accept: immediate
    assert c["bytes_in"].tolist() == [300, 50, 7] and c["pkts_in"].tolist() == [4, 3, 2]
    assert c["bytes_out"].tolist() == [1000, 0, 0] and c["pkts_out"].tolist() == [2, 0, 0]
    assert c["max_rcv_queue"].tolist() == [300, 50, 7]
    assert c["drops"].tolist() == [0, 0, 0] and c["drops_by_reason"].tolist() == ["", "", ""]


def test_samples_and_counters(tmp_path, scenario):
    d = pystack.load(_run(tmp_path, scenario))
    s = d.samples
    lis = s[s["kind"] == "listener"]
    # each handshake: SYN queue 1, then the child is accepted at once
    assert list(zip(lis["syn_queue"], lis["accept_queue"])) == [(1, 0), (0, 0)] * 3
    sock = s[s["kind"] == "socket"]
    assert sock["conn_id"].tolist() == [0, 0, 1, 1, 2, 2]
    assert sock["adv_win"].tolist() == [65536] * 6
    assert sock["peer_win"].tolist() == [0, 514048] * 3
    c = d.counters
    fin = c[c["final"]]
    assert dict(zip(fin["counter"].astype(str), fin["value"]))["TcpPassiveOpens"] == 3
    # snapshots every 10 ms of capture time, of everything before the boundary
    snap = c[~c["final"] & (c["counter"] == "TcpPassiveOpens")]
    assert snap["ts"].astype("int64").tolist() == [10_000_000, 20_000_000]
    assert snap["value"].tolist() == [1, 2]


def _tables(path):
    return {t: read_arrow(path, t) for t in TABLES}


def _plain(t: pa.Table) -> pa.Table:
    """Dictionary columns decoded: chunking and dictionaries may differ."""
    cols = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c
            for c in t.columns]
    return pa.table(cols, names=t.column_names).combine_chunks()


def test_streaming_with_tiny_batches_gives_identical_tables(tmp_path, scenario):
    ref = _tables(_run(tmp_path, scenario, "b1000", batch=1000))
    for b in (1, 3):
        got = _tables(_run(tmp_path, scenario, f"b{b}", batch=b))
        for t in TABLES:
            assert _plain(got[t]).equals(_plain(ref[t])), (b, t)


def test_same_input_and_seed_give_byte_identical_files(tmp_path, scenario):
    for fmt in ("arrow", "parquet"):
        a = pathlib.Path(_run(tmp_path, scenario, f"a-{fmt}", fmt=fmt, seed=7))
        b = pathlib.Path(_run(tmp_path, scenario, f"b-{fmt}", fmt=fmt, seed=7))
        ext = ".arrow" if fmt == "arrow" else ".parquet"
        for t in TABLES:
            assert (a / (t + ext)).read_bytes() == (b / (t + ext)).read_bytes(), (fmt, t)


def test_parquet_holds_the_same_tables(tmp_path, scenario):
    a = _tables(_run(tmp_path, scenario, "arrow", fmt="arrow"))
    p = _tables(_run(tmp_path, scenario, "parquet", fmt="parquet"))
    for t in TABLES:
        assert _plain(p[t]).equals(_plain(a[t])), t


def test_parquet_with_tiny_batches_holds_the_same_tables(tmp_path, scenario):
    """A row group gathers many batches: each must be kept as it was, not as
    a view of the engine's columns that the next batch overwrites."""
    a = _tables(_run(tmp_path, scenario, "arrow", fmt="arrow"))
    p = _tables(_run(tmp_path, scenario, "parquet3", fmt="parquet", batch=3))
    for t in TABLES:
        assert _plain(p[t]).equals(_plain(a[t])), t


def test_files_read_directly(tmp_path, scenario):
    out = pathlib.Path(_run(tmp_path, scenario, "pq", fmt="parquet"))
    df = pd.read_parquet(out / "packets.parquet")
    assert len(df) == 17 and str(df["verdict"].dtype) == "category"
    out = pathlib.Path(_run(tmp_path, scenario, "ar", fmt="arrow"))
    df = pd.read_feather(out / "connections.arrow")
    assert df["why"].astype(str).tolist() == ["FIN", "RST", "OPEN"]


def test_polars_and_duckdb_read_the_files(tmp_path, scenario):
    out = pathlib.Path(_run(tmp_path, scenario, "pq", fmt="parquet"))
    try:
        import polars as pl
    except ImportError:
        pl = None
    try:
        import duckdb
    except ImportError:
        duckdb = None
    if pl is not None:
        assert pl.read_parquet(out / "packets.parquet").height == 17
    if duckdb is not None:
        n = duckdb.sql(f"select count(*) from '{out / 'packets.parquet'}'").fetchone()[0]
        assert n == 17
    # pyarrow's dataset reader (what both build on) reads it in any case
    import pyarrow.parquet as pq
    assert pq.read_table(out / "samples.parquet").num_rows == 12
