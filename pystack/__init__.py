"""pystack: replay pcap captures through a userspace model of the Linux network stack."""

__version__ = "0.1.0"


def load(path, tables=None):
    """The tables of a `pystack replay -o` folder as pandas DataFrames
    (see pystack.results.load)."""
    from pystack.results.load import load as _load
    return _load(path, tables)
