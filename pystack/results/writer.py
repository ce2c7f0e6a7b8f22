"""Write a replay's tables into an output folder, batch by batch.

    folder = OutputFolder("out", fmt="arrow", force=False)
    w = ResultWriter(folder, replay, counter_interval_ns=1_000_000_000)
    for rb in capture:
        replay.step(rb, on_batch=w.on_batch, collect=False)
        if stop_requested: break                     # SIGTERM / Ctrl-C: flag only
    result = replay.finish()
    w.finish(result, run_info)                       # or w.abort(run_info)

Columns come from the schema table (pystack.results.schema): numpy views of
the engine's preallocated columns wrapped zero-copy where the dtypes agree,
enumerations dictionary-encoded with fixed dictionaries (the same in every
batch), addresses mapped to ids by pystack._core.addrtable and turned into
strings through a per-batch dictionary (Python touches only addresses never
seen before).  Nothing holds the capture: each batch's rows are written when
the batch is done (Parquet: row groups of about 64 Ki rows).

The folder is built as a hidden sibling (.NAME.partial-PID) and renamed to
NAME when complete; an existing NAME is replaced only with force (and only
when it is a pystack output or empty).  An interrupted run is closed
cleanly at a batch boundary and renamed to NAME.incomplete with an
INCOMPLETE marker: every table holds the rows of the batches finished.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import socket

import numpy as np
import pyarrow as pa

from pystack._core.outcols import rule_columns
from pystack.results import schema as S

FORMATS = ("arrow", "parquet")
DEFAULT_FORMAT = "arrow"
INCOMPLETE_MARKER = "INCOMPLETE"
PARQUET_ROWS = 1 << 16
CHUNK_ROWS = 1 << 16


# include/uapi/linux/netfilter/nf_conntrack_common.h enum ip_conntrack_status, bit order
IPS_NAMES = ("EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED", "SRC_NAT", "DST_NAT",
             "SEQ_ADJUST", "SRC_NAT_DONE", "DST_NAT_DONE", "DYING", "FIXED_TIMEOUT",
             "TEMPLATE", "NAT_CLASH", "HELPER", "OFFLOAD", "HW_OFFLOAD")


def _dense_codes(codes):
    """(the distinct values ascending, each row's index among them: int32),
    as np.unique(codes, return_inverse=True) gives them; by counting when
    the values are small (no sort)."""
    codes = np.asarray(codes)
    if len(codes) and codes.min() >= 0 and codes.max() < 1 << 17:
        seen = np.bincount(codes)
        u = np.flatnonzero(seen)
        lut = np.zeros(len(seen), np.int32)
        lut[u] = np.arange(len(u), dtype=np.int32)
        return u, lut[codes]
    u, inv = np.unique(codes.astype(np.int64), return_inverse=True)
    return u, inv.astype(np.int32).reshape(-1)


class OutputExists(Exception):
    """The output folder exists and --force was not given."""


def _arrow_type(t: str):
    if t in ("ts", "ts?"):
        return pa.timestamp("ns")
    if t == "addr":
        return pa.dictionary(pa.int32(), pa.string())
    if t == "str":
        return pa.string()
    if t == "dstr":
        return pa.dictionary(pa.int32(), pa.string())
    if t.startswith("enum:"):
        # the vocabularies that grow with the model (counters, drop reasons,
        # state lists) get int16 indices from the start, so that adding a
        # name never changes a column's type; the small fixed ones int8
        name = t[5:]
        wide = name in S.GROWING_ENUMS or len(S.ENUMS[name]) > 127
        return pa.dictionary(pa.int16() if wide else pa.int8(), pa.string())
    return pa.from_numpy_dtype(np.dtype(t))


def arrow_schema(table: str, netfilter: bool = False) -> pa.Schema:
    t = S.TABLES[table]
    return pa.schema([pa.field(c.name, _arrow_type(c.type)) for c in t.cols(netfilter)],
                     metadata={b"pystack.table": table.encode(),
                               b"pystack.schema_version": str(S.SCHEMA_VERSION).encode()})


_ENUM_DICTS = {name: pa.array(vals, pa.string()) for name, vals in S.ENUMS.items()}


def _validity(n: int, valid, bitmap) -> tuple:
    """(the validity bitmap buffer or None, null count) from valid
    (bool/uint8[n], nonzero = valid) or bitmap = (bitmap, null count)."""
    if valid is not None:
        k = n - int(np.count_nonzero(valid))
        return (pa.py_buffer(np.packbits(valid, bitorder="little")), k) if k else (None, 0)
    if bitmap is not None and bitmap[1]:
        return pa.py_buffer(bitmap[0]), bitmap[1]
    return None, 0


def primitive_array(values: np.ndarray, valid=None, typ=None, bitmap=None) -> pa.Array:
    """A primitive Arrow array over `values` (1-D contiguous, zero-copy):
    what pa.array(values) gives, or pa.array(values, mask=~valid) with
    valid (bool[n]), or with bitmap = (Arrow validity bitmap, null count);
    no validity bitmap when every row is valid.  Built from the buffers:
    pa.array infers the type and converts the mask bit by bit (~14
    instructions a row), 3-5x the cost on a batch."""
    if typ is None:
        typ = pa.from_numpy_dtype(values.dtype)
    vb, k = _validity(len(values), valid, bitmap)
    return pa.Array.from_buffers(typ, len(values), [vb, pa.py_buffer(values)], null_count=k)


_DICT_TYPES = {np.dtype(t): pa.dictionary(pa.from_numpy_dtype(t), pa.string())
               for t in (np.int8, np.int16, np.int32)}


def dictionary_array(idx: np.ndarray, dictionary, valid=None, bitmap=None) -> pa.Array:
    """DictionaryArray.from_arrays(primitive_array(idx, valid, bitmap=...),
    dictionary (strings), safe=False), from the buffers in one call (half
    the cost)."""
    vb, k = _validity(len(idx), valid, bitmap)
    return pa.DictionaryArray.from_buffers(_DICT_TYPES[idx.dtype], len(idx),
                                           [vb, pa.py_buffer(idx)], dictionary, null_count=k)


def _enum_info(name: str) -> tuple:
    """(dictionary, index dtype, shift, the code shown as null or None)."""
    d = _ENUM_DICTS[name]
    nulls = S.ENUM_NULL.get(name, ())
    assert len(nulls) <= 1, name
    return (d, np.int8 if len(d) <= 127 else np.int16, S.ENUM_SHIFT.get(name, 0),
            nulls[0] if nulls else None)


_ENUM_INFO = {name: _enum_info(name) for name in S.ENUMS}


def enum_array(name: str, codes: np.ndarray):
    """Engine codes -> dictionary<int8|int16, string> over ENUMS[name]:
    shifted by ENUM_SHIFT, null where ENUM_NULL says."""
    d, ix, shift, null = _ENUM_INFO[name]
    if shift and ix == np.int8 and codes.dtype == np.int8:
        # the shifted codes of a dictionary of <= 127 stay below 127: int8
        # arithmetic gives what the int16 detour below gives
        codes = codes + np.int8(shift)
    elif shift:
        codes = codes.astype(np.int16) + shift
    if ix == np.int8 and codes.dtype in (np.uint8, np.int8):
        idx = codes.view(np.int8)
    else:
        idx = codes.astype(ix)
    idx = np.ascontiguousarray(idx)
    valid = None if null is None else codes != null
    return dictionary_array(idx, d, valid)


_NAT = np.iinfo(np.int64).min
_TS = pa.timestamp("ns")


def ts_array(ns: np.ndarray, nullable: bool = False):
    """int64 ns -> timestamp[ns]; null where the value is NaT (as pa.array
    of datetime64 makes it), and with nullable where it is negative."""
    a = np.ascontiguousarray(ns, dtype=np.int64)
    return primitive_array(a, a >= 0 if nullable else a != _NAT, _TS)


def format_addr(b16: bytes) -> str:
    if b16[:12] == _V4MAPPED:
        return socket.inet_ntop(socket.AF_INET, b16[12:])
    return socket.inet_ntop(socket.AF_INET6, b16)


_V4MAPPED = b"\0" * 10 + b"\xff\xff"
# bytes 8..11 of an IPv4-mapped address as a native uint32
_V4MAPPED_WORD = np.frombuffer(b"\0\0\xff\xff", np.uint32)[0]


class AddrStrings:
    """16-byte addresses -> dictionary-encoded Arrow strings with one
    dictionary for the whole run: ids are stable (first-seen order), each
    distinct address is formatted once, and a batch's dictionary is a
    zero-copy view of the strings so far (the IPC writer emits only the
    new ones, as a dictionary delta).  The string buffers are numpy arrays
    replaced (not reallocated in place) when they grow, so a dictionary
    handed to Arrow stays valid."""

    def __init__(self):
        from pystack._core.addrtable import AddrTable, format_rows
        self.table = AddrTable()
        self._format = format_rows
        self.data = np.empty(1 << 16, np.uint8)
        self.offs = np.zeros(1 << 12, np.int32)
        self.k = 0
        self.dict = pa.array([], pa.string())

    def _append(self, blob: bytes, lens: np.ndarray) -> None:
        k2 = self.k + len(lens)
        d0 = int(self.offs[self.k])
        d2 = d0 + len(blob)
        if k2 + 1 > len(self.offs):
            grown = np.zeros(max(k2 + 1, 2 * len(self.offs)), np.int32)
            grown[:self.k + 1] = self.offs[:self.k + 1]
            self.offs = grown
        if d2 > len(self.data):
            grown = np.empty(max(d2, 2 * len(self.data)), np.uint8)
            grown[:d0] = self.data[:d0]
            self.data = grown
        self.data[d0:d2] = np.frombuffer(blob, np.uint8)
        self.offs[self.k + 1:k2 + 1] = d0 + np.cumsum(lens)
        self.k = k2
        self.dict = pa.StringArray.from_buffers(
            self.k, pa.py_buffer(self.offs[:self.k + 1]), pa.py_buffer(self.data[:d2]))

    def column(self, words: np.ndarray, valid: np.ndarray):
        """words: uint64[n, 2]; valid: bool/uint8[n] -> dictionary<int32, string>."""
        n = len(words)
        ids = np.empty(n, np.int32)
        valid = np.ascontiguousarray(valid).view(np.uint8)
        new = self.table.encode(np.ascontiguousarray(words), valid, ids)
        if len(new):
            self._append(*self._format(words, new))
        # (ids are -1 exactly where valid is 0)
        return dictionary_array(ids, self.dict, valid)


class TableSink:
    """One table file: Arrow IPC (file format) or Parquet (zstd)."""

    def __init__(self, path: str, table: str, fmt: str, compression=None,
                 netfilter: bool = False):
        self.schema = arrow_schema(table, netfilter)
        self._names = self.schema.names
        self.fmt = fmt
        self.rows = 0
        self._pending: list = []
        self._pending_rows = 0
        if fmt == "arrow":
            import pyarrow.ipc as ipc
            opts = ipc.IpcWriteOptions(compression=compression, emit_dictionary_deltas=True)
            # a 1 MiB buffer: one write() per MiB instead of one per Arrow
            # buffer (halves the writer's time)
            self._f = pa.output_stream(path, buffer_size=1 << 20)
            self._w = ipc.new_file(self._f, self.schema, options=opts)
        elif fmt == "parquet":
            import pyarrow.parquet as pq
            self._w = pq.ParquetWriter(path, self.schema, compression=compression or "zstd",
                                       write_statistics=False)
        else:
            raise ValueError(f"unknown format {fmt!r}")

    def write(self, arrays: list) -> None:
        if not len(arrays[0]):
            return
        n = len(arrays[0])
        self.rows += n
        if self.fmt == "arrow":
            # by names: from_arrays(schema=) costs twice as much a batch, and
            # write_batch checks the batch's schema against the file's anyway
            self._w.write_batch(pa.RecordBatch.from_arrays(arrays, names=self._names))
            return
        # the batch is held until the row group is full, but its numeric
        # columns are zero-copy views of the engine's columns, which the
        # next batch overwrites: keep a copy
        self._pending.append(pa.RecordBatch.from_arrays(
            [pa.concat_arrays([a]) for a in arrays], schema=self.schema))
        self._pending_rows += n
        if self._pending_rows >= PARQUET_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.fmt == "parquet" and self._pending:
            self._w.write_table(pa.Table.from_batches(self._pending, schema=self.schema),
                                row_group_size=max(self._pending_rows, 1))
            self._pending = []
            self._pending_rows = 0

    def close(self) -> None:
        self.flush()
        self._w.close()
        if self.fmt == "arrow":
            self._f.close()


def _is_ours(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "run.json")) or \
        (os.path.isdir(path) and not os.listdir(path))


class OutputFolder:
    """The output folder, built aside and renamed into place."""

    def __init__(self, out: str, fmt: str = DEFAULT_FORMAT, force: bool = False,
                 compression=None):
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        self.out = os.path.abspath(out)
        self.fmt = fmt
        self.force = force
        self.compression = compression
        if os.path.lexists(self.out):
            if not force:
                raise OutputExists(f"{out} exists (use --force to replace it)")
            if not os.path.isdir(self.out) or not _is_ours(self.out):
                raise OutputExists(f"{out} exists and is not a pystack output folder; "
                                   "not replacing it")
        parent, name = os.path.split(self.out)
        os.makedirs(parent or ".", exist_ok=True)
        self.tmp = os.path.join(parent, f".{name}.partial-{os.getpid()}")
        if os.path.exists(self.tmp):
            shutil.rmtree(self.tmp)
        os.mkdir(self.tmp)
        self.sinks: dict = {}
        self.ext = ".arrow" if fmt == "arrow" else ".parquet"
        # netfilter attached: the packets table's nf columns and the
        # netfilter tables (those listed in nf_tables) are written
        self.netfilter = False
        self.nf_tables: tuple = ()

    def sink(self, table: str) -> TableSink:
        s = self.sinks.get(table)
        if s is None:
            s = TableSink(os.path.join(self.tmp, table + self.ext), table, self.fmt,
                          self.compression, self.netfilter)
            self.sinks[table] = s
        return s

    def write_text(self, name: str, text: str) -> None:
        with open(os.path.join(self.tmp, name), "w") as f:
            f.write(text)

    def _close(self, run_info: dict) -> None:
        tables = S.TABLE_ORDER + tuple(t for t in S.NF_TABLE_ORDER if t in self.nf_tables)
        for t in tables:
            self.sink(t)                    # every table exists, even empty
        for s in self.sinks.values():
            s.close()
        run_info = dict(run_info)
        run_info["tables"] = {t: {"file": t + self.ext, "rows": self.sinks[t].rows}
                              for t in tables}
        with open(os.path.join(self.tmp, "run.json"), "w") as f:
            json.dump(run_info, f, indent=2, sort_keys=False, default=str)
            f.write("\n")

    def complete(self, run_info: dict) -> str:
        self._close(dict(run_info, complete=True))
        if os.path.lexists(self.out):
            shutil.rmtree(self.out)
        os.rename(self.tmp, self.out)
        return self.out

    def abort(self, run_info: dict) -> str:
        """Interrupted: close what was written, mark it, keep it aside."""
        self._close(dict(run_info, complete=False))
        with open(os.path.join(self.tmp, INCOMPLETE_MARKER), "w") as f:
            f.write("this run was interrupted: the tables hold the batches finished before\n")
        dest = self.out + ".incomplete"
        if os.path.lexists(dest) and os.path.isdir(dest) and _is_ours(dest):
            shutil.rmtree(dest)
        os.rename(self.tmp, dest)
        return dest

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _src(kind: str, name: str, rb, cols, v, n):
    if kind == "rb":
        return getattr(rb, name + "_arr")[:n]
    if kind == "cols":
        return cols.arrays[name][:n]
    return v.arrays[name][:n]


class ResultWriter:
    """Streams a Replay's tables into an OutputFolder."""

    def __init__(self, folder: OutputFolder, replay, counter_interval_ns: int = 10 ** 9,
                 samples: bool = True):
        self.folder = folder
        self.replay = replay
        self.engine = replay.engine
        self.engine.enable_output(bool(samples), int(counter_interval_ns))
        self.addrs = AddrStrings()
        self.last_ts = None
        self.packets = 0
        self.netfilter = getattr(replay, "ct_table", None) is not None
        folder.netfilter = self.netfilter
        if self.netfilter:
            folder.nf_tables = (("rules",) if replay.rulesets else ()) + \
                ("conntrack", "conntrack_stats")
            self._nf_rule_maps(replay)
        self._pk = S.TABLES["packets"].cols(self.netfilter)
        self._conn = S.TABLES["connections"].columns
        self._smp = S.TABLES["samples"].columns
        replay.record_sink = self.on_records
        self._plan = None
        self._plan_key = None
        self._recs: list = []
        self._recs_n = 0
        self._smps: list = []
        self._smps_n = 0
        from pystack._core import engine as _e
        self._drop_names = _e.CONN_DROP_REASONS

    def _nf_rule_maps(self, replay) -> None:
        """The engine's nf_rule is an index into its family's compiled ruleset;
        rules.rule_id numbers the rules of every ruleset in order (as
        ReplayResult.rules lists them).  Lookup tables: (family, nf_rule + 1)
        -> rule_id (-1 none), and rule_id + 1 -> its chain (dictionary
        index; 0 none) and number (-1 none)."""
        spans = {}                            # family -> (first rule_id, rules)
        chains, chain_ix, numbers = [], [], []
        cix = {}
        for rs in replay.rulesets:
            cr = replay.compiled[rs.family]
            spans[rs.family] = (len(numbers), len(cr))
            for idx in range(len(cr)):
                table, chain, number, _text = cr.rule_info(idx)
                if chain not in cix:
                    cix[chain] = len(chains)
                    chains.append(chain)
                chain_ix.append(cix[chain])
                numbers.append(number)
        # -1 also past the end of a family's ruleset (an error there: see
        # outcols.rule_columns)
        width = 1 + max((k for _first, k in spans.values()), default=0)
        rule_id = np.full((7, width), -1, np.int32)
        for fam, (first, k) in spans.items():
            rule_id[fam, 1:k + 1] = np.arange(first, first + k)
        self._rule_width = width
        self._rule_id = rule_id.reshape(-1)
        self._rule_chain = np.array([0] + chain_ix, np.int32)
        self._rule_num = np.array([-1] + numbers, np.int32)
        self._chain_dict = pa.array(chains or [""], pa.string())

    def _nf_calc(self, cols, v, n) -> dict:
        rid, num, chain, bitmap, nulls = rule_columns(
            v.arrays["nf_rule"][:n], cols.arrays["ip_ver"][:n], self._rule_id,
            self._rule_width, self._rule_chain, self._rule_num)
        chain = dictionary_array(chain, self._chain_dict, bitmap=(bitmap, nulls))
        return {"nf_rule": primitive_array(rid), "nf_rule_num": primitive_array(num),
                "nf_chain": chain}

    # --- per batch --------------------------------------------------------------
    def on_batch(self, rb, cols, v) -> None:
        n = cols.n
        if n:
            self.packets += n
            t = int(rb.ts_arr[n - 1])
            self.last_ts = t if self.last_ts is None else max(self.last_ts, t)
            self.folder.sink("packets").write(self._packet_arrays(rb, cols, v, n))
        self._drain()

    def _packet_plan(self, rb, cols, v) -> list:
        """Per column of the packets table: (where its numpy column is, how
        it converts).  Where: the name of a RecordBatch attribute (a new
        RecordBatch each batch), an engine / parser array (the same every
        batch), or None for the netfilter columns computed per batch."""
        schema = arrow_schema("packets", self.netfilter)
        plan = []
        for c, field in zip(self._pk, schema):
            kind, name = c.source.split(":")
            if kind == "calc":
                plan.append((None, name))
                continue
            arr = name + "_arr" if kind == "rb" else \
                cols.arrays[name] if kind == "cols" else v.arrays[name]
            t = c.type
            if t == "ts":
                conv = ts_array
            elif t.startswith("enum:"):
                conv = functools.partial(enum_array, t[5:])
            elif t == "addr":
                conv = "nat" if name in ("nat_saddr", "nat_daddr") else "addr"
            else:
                # (wrapped as they are: the dtype must be the column's)
                dt = getattr(rb, arr).dtype if kind == "rb" else arr.dtype
                if dt != np.dtype(t):
                    raise TypeError(f"packets.{c.name}: {dt} column for {t}")
                conv = functools.partial(primitive_array, typ=field.type)
            plan.append((arr, conv))
        return plan

    def _packet_arrays(self, rb, cols, v, n) -> list:
        if self._plan_key != (id(cols), id(v)):
            self._plan = self._packet_plan(rb, cols, v)
            self._plan_key = (id(cols), id(v))
        out = []
        valid = cols.arrays["ip_ver"][:n] != 0
        if self.netfilter:
            calc = self._nf_calc(cols, v, n)
            # the post-NAT addresses: only where NAT rewrote the packet
            nat = v.arrays["nat_chg"][:n] != 0
        for arr, conv in self._plan:
            if arr is None:
                out.append(calc[conv])
                continue
            a = getattr(rb, arr)[:n] if isinstance(arr, str) else arr[:n]
            if conv == "addr":
                out.append(self.addrs.column(a.view(np.uint64), valid))
            elif conv == "nat":
                out.append(self.addrs.column(a.view(np.uint64), nat))
            else:
                out.append(conv(a))
        return out

    def _drain(self) -> None:
        smp = self.engine.take_samples()
        if len(smp["ts_ns"]):
            self._smps.append(smp)
            self._smps_n += len(smp["ts_ns"])
            if self._smps_n >= CHUNK_ROWS:
                self._flush_samples()
        ts, vals = self.engine.take_counter_snapshots()
        if len(ts):
            self.folder.sink("counters").write(self._counter_arrays(ts, vals, False))

    def _sample_arrays(self, smp) -> list:
        out = []
        for c in self._smp:
            a = smp[c.source.split(":")[1]]
            if c.type == "ts":
                out.append(ts_array(a))
            elif c.type.startswith("enum:"):
                out.append(enum_array(c.type[5:], a))
            else:
                out.append(pa.array(a))
        return out

    def _counter_arrays(self, ts, vals, final: bool) -> list:
        m, k = vals.shape
        return [ts_array(np.repeat(ts, k)),
                enum_array("counter", np.tile(np.arange(k, dtype=np.int16), m)),
                pa.array(vals.reshape(-1)),
                pa.array(np.full(m * k, final))]

    # --- connections --------------------------------------------------------------
    def on_records(self, recs) -> None:
        # records and samples are converted in chunks of CHUNK_ROWS (bounded
        # memory): Arrow's per-column cost is paid per chunk, not per batch
        if recs is None or not len(recs):
            return
        self._recs.append(recs)
        self._recs_n += len(recs)
        if self._recs_n >= CHUNK_ROWS:
            self._flush_records()

    def _flush_records(self) -> None:
        if self._recs:
            if len(self._recs) > 1:
                # as raw bytes: numpy copies a padded structured dtype field by field
                dt = self._recs[0].dtype
                raw = np.concatenate([x.view(np.dtype((np.void, dt.itemsize)))
                                      for x in self._recs])
                recs = raw.view(dt)
            else:
                recs = self._recs[0]
            self._recs, self._recs_n = [], 0
            self.folder.sink("connections").write(self._conn_arrays(recs))

    def _flush_samples(self) -> None:
        if self._smps:
            smp = {k: np.concatenate([d[k] for d in self._smps]) for k in self._smps[0]}
            self._smps, self._smps_n = [], 0
            self.folder.sink("samples").write(self._sample_arrays(smp))

    def _conn_arrays(self, r) -> list:
        n = len(r)
        end_cap = self.last_ts if self.last_ts is not None else 0
        calc = {}
        picked = r["picked_up"] != 0
        calc["syn_queue_ns"] = np.where(picked, 0, r["start_ns"] - r["req_ns"])
        acq = r["acq_ns"]
        until = np.where(r["accepted_ns"] >= 0, r["accepted_ns"],
                         np.where(r["end_ns"] >= 0, r["end_ns"], end_cap))
        calc["accept_queue_ns"] = np.where(acq >= 0, until - acq, -1)
        calc["states"] = enum_array("conn_states", S.states_index(r["states"]))
        # drops by reason: formatted once per distinct combination, looked
        # at only for the connections that had drops
        idx = np.zeros(n, np.int32)
        texts = [""]
        m = np.flatnonzero(r["drops"])
        if len(m):
            nr = len(self._drop_names)
            sub = np.ascontiguousarray(r["drop_by"][m]).view(np.dtype((np.void, 4 * nr))).ravel()
            u, inv = np.unique(sub, return_inverse=True)
            for row in np.frombuffer(u.tobytes(), np.uint32).reshape(-1, nr).tolist():
                texts.append(" ".join(f"{self._drop_names[q]}:{row[q]}"
                                      for q in range(nr) if row[q]))
            idx[m] = np.asarray(inv, np.int32).reshape(-1) + 1
        dbr = pa.DictionaryArray.from_arrays(pa.array(idx), pa.array(texts, pa.string())
                                             ).dictionary_decode()
        calc["drops_by_reason"] = dbr
        out = []
        for c in self._conn:
            kind, name = c.source.split(":")
            if kind == "calc":
                a = calc[name]
                out.append(a if isinstance(a, pa.Array) else pa.array(a))
                continue
            if c.type == "addr":
                w = np.empty((n, 2), np.uint64)
                pre = "la" if name == "local" else "ra"
                w[:, 0] = r[pre + "0"]
                w[:, 1] = r[pre + "1"]
                out.append(self.addrs.column(w, np.ones(n, np.uint8)))
                continue
            a = r[name]
            if c.type in ("ts", "ts?"):
                out.append(ts_array(a, c.type == "ts?"))
            elif c.type.startswith("enum:"):
                out.append(enum_array(c.type[5:], np.ascontiguousarray(a)))
            elif c.type == "bool":
                out.append(pa.array(a != 0))
            else:
                out.append(pa.array(np.ascontiguousarray(a).astype(c.type, copy=False)))
        return out

    # --- end ------------------------------------------------------------------------
    def finish(self, result, run_info: dict) -> str:
        self._end(result)
        return self.folder.complete(run_info)

    def abort(self, run_info: dict) -> str:
        self._drain()
        self._flush_samples()
        self._flush_records()
        if self.netfilter:
            self._nf_tables(None)           # as they stand at the interruption
        return self.folder.abort(run_info)

    def _end(self, result) -> None:
        self._drain()
        self._flush_samples()
        self._flush_records()
        from pystack import vocab
        vals = np.array([[result.counters[k] for k in vocab.COUNTERS]], np.int64)
        ts = np.array([self.last_ts if self.last_ts is not None else 0], np.int64)
        self.folder.sink("counters").write(self._counter_arrays(ts, vals, True))
        if self.netfilter:
            self._nf_tables(result)

    # --- netfilter --------------------------------------------------------------------
    def _nf_tables(self, result) -> None:
        """rules (+ rules.save), conntrack, conntrack_stats; result None: an
        interrupted run, the rule counters taken from the replay as they are."""
        rp = self.replay
        if rp.rulesets:
            if result is None:
                nf = rp._nf_result()
                rules, save = nf["rules"], "".join(nf["_rules_save"])
            else:
                rules, save = result.rules, result.rules_save()
            cols = {c.name: [] for c in S.TABLES["rules"].columns}
            for j, r in enumerate(rules):
                cols["rule_id"].append(j)
                for k in ("family", "table", "chain", "number", "text", "packets", "bytes"):
                    cols[k].append(r[k])
            self.folder.sink("rules").write(
                [pa.array(cols[c.name], _arrow_type(c.type)) for c in S.TABLES["rules"].columns])
            self.folder.write_text("rules.save", save)
        self.folder.sink("conntrack").write(self._ct_arrays(rp.ct_table))
        st = dict(rp.ct_table.stats())
        st["max"] = int(rp.ct_table.params["max"])
        self.folder.sink("conntrack_stats").write(
            [pa.array([int(st.get(c.source.split(":")[1], 0))], pa.int64())
             for c in S.TABLES["conntrack_stats"].columns])

    def _ct_arrays(self, ct) -> list:
        now = self.last_ts if self.last_ts is not None else 0
        cols = conntrack_arrays(ct, now, self.addrs)
        return [cols[c.name] for c in S.TABLES["conntrack"].columns]


def conntrack_arrays(ct, now: int, addrs: AddrStrings) -> dict:
    """The conntrack table (a pystack.conntrack.ConntrackTable) at now as
    the conntrack table's Arrow columns, by name: the entries
    raw_entries lists, read as numpy columns (pystack._core.ctdump),
    sorted as to_conntrack_L sorts them; names formatted once per
    distinct (proto, state) / status value."""
    from pystack._core.ctdump import ct_columns
    from pystack.conntrack import PROTO_NAME, TCP_STATE_NAMES
    c = ct_columns(ct.ct, now)
    n = len(c["slot"])

    def be(a):
        # 16 address bytes as two big-endian words: their numeric order
        # is the bytes' lexicographic order (the key of _sort_key)
        w = a.view(">u8").astype(np.uint64)
        return w[:, 1], w[:, 0]

    # conntrack._sort_key: (family, proto, orig src, orig dst, sport,
    # dport); lexsort is stable, as sorted() over the slot order is
    order = np.lexsort((c["orig_dport"], c["orig_sport"], *be(c["orig_dst"]),
                        *be(c["orig_src"]), c["proto"], c["family"]))
    # (the address rows taken as 16-byte items: a[order] on uint8[n, 16]
    # is 3x slower)
    c = {k: (a.view("V16").reshape(-1)[order].view(np.uint32).reshape(-1, 4) if a.ndim == 2
             else a[order]) for k, a in c.items()}
    proto = c["proto"].astype(np.int32)
    v4 = (c["family"] == 4)[:, None]
    every = np.ones(n, np.uint8)

    def addr(w):
        # NfPkt addresses: IPv4 in bytes 0..3 -> ::ffff:a.b.c.d
        mapped = np.zeros_like(w)
        mapped[:, 2] = _V4MAPPED_WORD
        mapped[:, 3] = w[:, 0]
        return addrs.column(np.where(v4, mapped, w).view(np.uint64), every)

    def names(codes, fmt, typ=pa.string()):
        u, inv = _dense_codes(codes)
        d = pa.array([fmt(int(x)) for x in u], typ)
        return pa.DictionaryArray.from_arrays(pa.array(inv), d).dictionary_decode()

    state_key = proto.astype(np.int64) * 256 + c["tcp_state"]
    cols = {
        "proto": names(proto, lambda x: PROTO_NAME.get(x, "unknown")),
        "state": names(state_key, lambda x: TCP_STATE_NAMES[x & 255] if x >> 8 == 6
                       else ""),
        "timeout": pa.array(c["timeout"]),
        "orig_src": addr(c["orig_src"]), "orig_dst": addr(c["orig_dst"]),
        "orig_sport": pa.array(c["orig_sport"]),
        "orig_dport": pa.array(c["orig_dport"]),
        "reply_src": addr(c["reply_src"]), "reply_dst": addr(c["reply_dst"]),
        "reply_sport": pa.array(c["reply_sport"]),
        "reply_dport": pa.array(c["reply_dport"]),
        "status": names(c["status"], lambda x: ",".join(nm for b, nm in enumerate(IPS_NAMES)
                                                        if x & (1 << b))),
        "mark": pa.array(c["mark"]),
    }
    return cols
