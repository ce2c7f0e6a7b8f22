"""pystack: replay pcap captures through a userspace model of the Linux network stack."""

__version__ = "0.1.0"


def load(path, tables=None):
    """The tables of a `pystack replay -o` folder as pandas DataFrames
    (see pystack.results.load)."""
    from pystack.results.load import load as _load
    return _load(path, tables)


def sweep(captures, config=None, vary=None, out=None, **kw):
    """Replay the capture(s) once per point of a grid of settings and write
    one Parquet dataset partitioned by point; returns the comparison table
    as a DataFrame (see pystack.whatif.sweep)."""
    from pystack.whatif import sweep as _sweep
    return _sweep(captures, config, vary, out, **kw)


def fleet(captures, config_dir, out=None, **kw):
    """Replay each capture against its own host's config (config_dir/NAME.toml)
    into one dataset partitioned by host; returns the comparison table
    (see pystack.whatif.fleet)."""
    from pystack.whatif import fleet as _fleet
    return _fleet(captures, config_dir, out, **kw)
