"""Result tables of a replay: schema, writer, loader, summaries and report.

    import pystack
    r = pystack.load("out")          # {"packets": DataFrame, "connections": ..., ...}
    r.packets, r.connections, r.samples, r.counters, r.run   # run.json
"""
from pystack.results.load import load  # noqa: F401
