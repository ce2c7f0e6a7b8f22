"""Result tables of a replay: schema, writer, loader, summaries and report.

    import pystack
    r = pystack.load("out")          # {"packets": DataFrame, "connections": ..., ...}
    r.packets, r.connections, r.samples, r.counters, r.run   # run.json
    r.rules, r.conntrack, r.conntrack_stats      # only when the replay had --rules
"""


def load(path, tables=None):
    from pystack.results.load import load as _load
    return _load(path, tables)
