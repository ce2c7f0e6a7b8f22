"""Read an output folder back: pystack.load(path).

Every table comes back as a pandas DataFrame: addresses as strings, enums as
categoricals (dictionary-encoded in the files), timestamps as
datetime64[ns] (UTC).  The files are plain Arrow IPC / Parquet:
pd.read_feather, pd.read_parquet, polars and DuckDB read them directly.
"""
from __future__ import annotations

import json
import os
import warnings

from pystack.results import schema as S
from pystack.results.writer import INCOMPLETE_MARKER


class Results(dict):
    """table name -> DataFrame, plus .run (run.json) and attribute access."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def run_info(path: str) -> dict:
    p = os.path.join(path, "run.json")
    if not os.path.isfile(p):
        raise FileNotFoundError(f"{path}: not a pystack output folder (no run.json)")
    with open(p) as f:
        return json.load(f)


def table_path(path: str, table: str, info: dict | None = None) -> str:
    info = info or run_info(path)
    return os.path.join(path, info["tables"][table]["file"])


def read_arrow(path: str, table: str, info: dict | None = None, columns=None):
    """One table as a pyarrow.Table."""
    p = table_path(path, table, info)
    if p.endswith(".parquet"):
        import pyarrow.parquet as pq
        return pq.read_table(p, columns=columns)
    import pyarrow as pa
    import pyarrow.ipc as ipc
    # memory-mapped: columns not asked for are never read
    with ipc.open_file(pa.memory_map(p)) as r:
        t = r.read_all()
    return t.select(columns) if columns else t


def _to_pandas(t, name: str):
    """Addresses decoded to plain strings; enums stay categoricals."""
    import pyarrow as pa
    import pyarrow.compute as pc
    for c in S.TABLES[name].columns:
        if c.type == "addr" and c.name in t.column_names:
            i = t.column_names.index(c.name)
            t = t.set_column(i, c.name, pc.cast(t.column(i), pa.string()))
    return t.to_pandas()


def load(path: str, tables=None) -> Results:
    """The tables of an output folder as pandas DataFrames (``.run`` holds
    run.json).  tables: names to load (default: every table the run wrote:
    rules, conntrack and conntrack_stats only with --rules)."""
    info = run_info(path)
    if os.path.exists(os.path.join(path, INCOMPLETE_MARKER)) or not info.get("complete", False):
        warnings.warn(f"{path}: the run was interrupted; tables end at the last finished batch",
                      stacklevel=2)
    out = Results()
    # the tables the run wrote: the netfilter ones only with --rules
    for name in tables or [t for t in S.ALL_TABLES if t in info.get("tables", S.TABLE_ORDER)]:
        out[name] = _to_pandas(read_arrow(path, name, info), name)
    out.run = info
    return out
