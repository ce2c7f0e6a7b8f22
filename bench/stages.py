"""The stage registry: what ``python -m bench`` measures.

A stage is a pipeline prefix: ``read`` iterates the capture's RecordBatches,
and every other stage names a *parent* whose per-batch work runs first and
adds its own.  The harness times the whole chain, reader included, so each
row of the table is an end-to-end rate and the difference between a stage and
its parent is the cost of that step.

Adding a stage (e.g. in a later issue, in this file or any module imported by
bench/stages.py)::

    @register_stage("model", parent="read+parse+checksum",
                    doc="the stack model, default sysctls, no rules",
                    symbols=("__pyx_pw_7pystack_5_core_5model_*step",))
    def _model(setup):
        from pystack._core.model import Model      # ImportError -> "unavailable"
        m = Model(setup.option("sysctl", None))
        setup.state.model = m
        setup.on_finish(m.flush)                   # timed, after the last batch
        return lambda rb: m.step(rb, setup.state.cols)

The factory runs once per timed repetition, untimed; it may read options
given as ``--opt KEY=VALUE`` (``setup.option``), share objects with later
stages through ``setup.state`` (the parse stage puts its PacketColumns in
``setup.state.cols``) and register finishers.  It returns the per-batch
callable (called with each RecordBatch, in order), or None when the stage has
no per-batch work of its own.  Raising ImportError (a module or name not there
yet) or StageUnavailable reports the stage as "unavailable" instead of
failing the run.  ``register_target`` attaches a throughput goal to a
(trace, stage) pair.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable, Optional


class StageUnavailable(Exception):
    """Raised by a stage factory when it cannot run here (missing module, option...)."""


@dataclass
class Setup:
    """What a stage factory gets: the trace, options, shared state, finishers."""
    path: str
    meta: dict
    batch_size: int
    options: dict = field(default_factory=dict)
    state: SimpleNamespace = field(default_factory=SimpleNamespace)
    finishers: list = field(default_factory=list)

    def option(self, key, default=None):
        return self.options.get(key, default)

    def on_finish(self, fn: Callable[[], Any]):
        """Call `fn()` after the last batch, inside the timed region."""
        self.finishers.append(fn)


Factory = Callable[[Setup], Optional[Callable[[Any], Any]]]


@dataclass
class Stage:
    name: str
    parent: Optional[str]
    factory: Factory
    doc: str = ""
    # callgrind --toggle-collect patterns for this stage's own compiled entry
    # points (python -m bench.one --callgrind counts instructions inside them)
    symbols: tuple = ()


STAGES: dict[str, Stage] = {}


def register_stage(name: str, parent: Optional[str] = None, doc: str = "", symbols=()):
    """Decorator: register `factory(setup) -> per_batch | None` as stage `name`."""
    if parent is not None and parent not in STAGES:
        raise ValueError(f"stage {name!r}: unknown parent {parent!r}")

    def deco(factory: Factory) -> Factory:
        STAGES[name] = Stage(name, parent, factory, doc or (factory.__doc__ or "").strip(),
                             tuple(symbols))
        return factory
    return deco


def chain(name: str) -> list[Stage]:
    """The stages whose work makes up `name`, root (read) first."""
    out = []
    s: Optional[str] = name
    while s is not None:
        st = STAGES[s]
        out.append(st)
        s = st.parent
    return out[::-1]


@dataclass(frozen=True)
class Target:
    trace: str
    stage: str
    metric: str        # "pps" (packets/s) or "Bps" (captured bytes/s)
    value: float

    def describe(self):
        if self.metric == "pps":
            return f">= {self.value / 1e6:g} Mpkt/s"
        return f">= {self.value / 1e9:g} GB/s"


TARGETS: list[Target] = []


def register_target(trace: str, stage: str, *, pps: float = None, Bps: float = None):
    if (pps is None) == (Bps is None):
        raise ValueError("give exactly one of pps= or Bps=")
    TARGETS.append(Target(trace, stage, "pps" if pps is not None else "Bps",
                          float(pps if pps is not None else Bps)))


def targets_for(trace: str, stage: str) -> list[Target]:
    return [t for t in TARGETS if t.trace == trace and t.stage == stage]


# The compiled entry points callgrind counts (--callgrind): parse_batch for
# the parsing stages; with it the engine's methods for every model stage.
PARSE_SYMBOL = "__pyx_pw_7pystack_5_core_5parse_*parse_batch"
MODEL_SYMBOLS = (PARSE_SYMBOL, "__pyx_pw_7pystack_5_core_6engine_*")


# --------------------------------------------------------------------------
# the stages of the reader / parser / checksum work

@register_stage("read", doc="iterate pystack.capture.open_capture() RecordBatches",
                symbols=("__pyx_pw_7pystack_5_core_7capture_*",))
def _read(setup: Setup):
    from pystack.capture import open_capture  # noqa: F401  (availability check)
    return None


@register_stage("read+parse", parent="read",
                doc="+ pystack._core.parse.parse_batch into one preallocated PacketColumns",
                symbols=(PARSE_SYMBOL,))
def _parse(setup: Setup):
    from pystack._core.parse import PacketColumns, parse_batch
    cols = PacketColumns(setup.batch_size)
    setup.state.cols = cols

    def step(rb):
        parse_batch(rb, cols)
    return step


@register_stage("read+parse+checksum", parent="read",
                doc="+ parse_batch(verify_checksums=True): parse and verify each packet's "
                    "IPv4 header and L4 checksums in one pass (the pipeline's path)",
                symbols=(PARSE_SYMBOL,))
def _checksum(setup: Setup):
    from pystack._core.parse import PacketColumns, parse_batch
    cols = PacketColumns(setup.batch_size)
    setup.state.cols = cols

    def step(rb):
        parse_batch(rb, cols, verify_checksums=True)
    return step


@register_stage("read+parse, verify_batch", parent="read+parse",
                doc="+ a separate pystack._core.checksum.verify_batch pass over the parsed "
                    "batch (what fusing saves)",
                symbols=("__pyx_pw_7pystack_5_core_8checksum_*verify_batch",))
def _checksum_separate(setup: Setup):
    from pystack._core.checksum import verify_batch
    cols = setup.state.cols

    def step(rb):
        verify_batch(rb, cols)
    return step


register_target("synflood", "read+parse+checksum", pps=20e6)
register_target("mix", "read+parse+checksum", pps=4e6)
register_target("bulk", "read+parse+checksum", Bps=3e9)


# --------------------------------------------------------------------------
# the stack model (issue 3): read + parse + checksum + engine, no tables written

def bench_host(path, batch_size, name=None):
    """The host each standard trace is replayed against (untimed).

    synflood: the flooded server with a listener on :80 (syncookies on, the
    default); bulk: the iperf-like receiver 10.2.0.1:5201; anything else:
    inferred from the capture (the addresses answering SYNs and their ports).
    Computed once per (path, batch size) in a process.
    """
    from pystack.config import parse_host_config

    name = name or os.path.basename(path).split("-x")[0]
    if name == "synflood":
        return parse_host_config('[host]\naddresses = ["198.18.0.1"]\n'
                                 '[[listen]]\nport = 80\nbacklog = 4096\n')
    if name == "bulk":
        return parse_host_config('[host]\naddresses = ["10.2.0.1"]\n'
                                 '[[listen]]\nport = 5201\nbacklog = 128\n')
    key = (os.path.abspath(path), batch_size)
    if key not in _INFERRED:
        from pystack.replay_cli import infer_host
        _INFERRED[key] = infer_host(path, batch_size).result().to_toml()
    return parse_host_config(_INFERRED[key])


_INFERRED = {}

# bench.one --callgrind infers the host outside valgrind and hands it over in
# this variable (a TOML file): the inference pass would otherwise run
# parse_batch and the reader inside the collected entry points, though the
# wall-clock timer leaves it out
BENCH_HOST_ENV = "PYSTACK_BENCH_HOST"


def _bench_host(setup: Setup):
    given = os.environ.get(BENCH_HOST_ENV)
    if given:
        from pystack.config import load_host_config
        return load_host_config(given)
    return bench_host(setup.path, setup.batch_size, setup.meta.get("name"))


def _host(setup: Setup):
    """The bench host of this trace, inferred once per run."""
    host = getattr(setup.state, "bench_host", None) or _bench_host(setup)
    setup.state.bench_host = host
    return host


def _replay_step(setup: Setup, hooks=(), **replay_kw):
    """A Replay of the bench host (Replay keyword arguments as given, no-op
    Python hooks as (hook, priority, match)) stepped batch by batch,
    finished after the last batch (timed)."""
    from pystack.replay import Replay
    r = Replay(_host(setup), checksum="auto", batch_size=setup.batch_size, **replay_kw)
    for hook, prio, match in hooks:
        r.add_hook(hook, _pyhook_noop, priority=prio, match=match)
    setup.on_finish(r.finish)

    def step(rb):
        r.step(rb, collect=False)
    return step


@register_stage("model", parent="read",
                doc="+ parse, checksum policy (auto) and the stack engine "
                    "(pystack.replay.Replay.step; no per-packet results kept)",
                symbols=MODEL_SYMBOLS)
def _model(setup: Setup):
    if not setup.path:          # availability probe (--list): nothing to replay
        return None
    return _replay_step(setup)


register_target("synflood", "model", pps=3e6)
register_target("mix", "model", pps=3e6)
register_target("bulk", "model", Bps=2.5e9)


# --------------------------------------------------------------------------
# the model with every result table written (pystack.results)

def _write_step(setup: Setup, rules, tag):
    """The model with every result table written into a scratch folder
    (removed at exit); rules: a Ruleset or None."""
    import atexit
    import shutil
    import tempfile

    from pystack.replay import Replay
    from pystack.results.writer import DEFAULT_FORMAT, OutputFolder, ResultWriter

    host = _host(setup)
    out = setup.option("out")
    if not out:
        out = os.path.join(tempfile.gettempdir(), f"pystack-bench-{tag}-{os.getpid()}")
        atexit.register(shutil.rmtree, out, True)
    if os.path.exists(out):                 # the previous repetition's (untimed)
        shutil.rmtree(out)
    fmt = setup.option("format", DEFAULT_FORMAT)
    r = Replay(host, checksum="auto", batch_size=setup.batch_size, rules=rules)
    w = ResultWriter(OutputFolder(out, fmt=fmt, force=True), r)
    setup.on_finish(lambda: w.finish(r.finish(), {"bench": True}))

    def step(rb):
        r.step(rb, on_batch=w.on_batch, collect=False)
    return step


@register_stage("replay+write", parent="read",
                doc="the model stage + every result table (packets, connections, samples, "
                    "counters) written batch by batch into an output folder "
                    "(--opt format=arrow|parquet, --opt out=DIR; inputs not hashed)",
                symbols=MODEL_SYMBOLS + ("__pyx_pw_7pystack_5_core_9addrtable_*",))
def _replay_write(setup: Setup):
    if not setup.path:
        return None
    return _write_step(setup, None, "out")


register_target("mix", "replay+write", pps=2e6)


KUBE_PROXY_RULES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "data", "rules", "kube-proxy.save")


def _kube_proxy_rules(setup: Setup):
    """data/rules/kube-proxy.save, parsed once per bench run."""
    from pystack.rules import load_rules
    rules = getattr(setup.state, "kube_proxy_rules", None) or load_rules(KUBE_PROXY_RULES)
    setup.state.kube_proxy_rules = rules
    return rules


@register_stage("model+kube-proxy", parent="read",
                doc="the model with data/rules/kube-proxy.save loaded (364 rules: "
                    "conntrack, filter and nat at every hook)",
                symbols=MODEL_SYMBOLS)
def _model_kube_proxy(setup: Setup):
    if not setup.path:
        return None
    return _replay_step(setup, rules=_kube_proxy_rules(setup))


register_target("mix", "model+kube-proxy", pps=2e6)


@register_stage("replay+write+kube-proxy", parent="read",
                doc="replay+write with data/rules/kube-proxy.save loaded: the packets "
                    "table's netfilter columns and the rules / conntrack tables written too; "
                    "a sibling of replay+write",
                symbols=MODEL_SYMBOLS + ("__pyx_pw_7pystack_5_core_9addrtable_*",
                                         "__pyx_pw_7pystack_5_core_7outcols_*",
                                         "__pyx_pw_7pystack_5_core_6ctdump_*"))
def _replay_write_kube_proxy(setup: Setup):
    if not setup.path:
        return None
    return _write_step(setup, _kube_proxy_rules(setup), "outkp")


# --------------------------------------------------------------------------
# Python hooks (Replay.add_hook): cost of the hook points with a hook; see
# bench/pyhook.py (python -m bench.pyhook) for the table of scenarios

PYHOOK_SCENARIOS = {
    # --opt hook=...: (hook, priority, match) per registered no-op hook
    "none": [("PREROUTING", 0, {"dst": "240.0.0.0/4"})],       # matches nothing
    "1pct": [("PREROUTING", 0, {"dst": "198.51.100.0/28"})],   # mix: 1.09 % of packets
    "all": [("PREROUTING", 0, None), ("OUTPUT", 0, None)],     # every packet
}


def _pyhook_noop(pkt):
    return None


def _model_nf(setup: Setup, hooks):
    if not setup.path:
        return None
    return _replay_step(setup, hooks, conntrack=True)


@register_stage("model+conntrack", parent="read",
                doc="the model with conntrack attached and no rules (Replay(conntrack=True)): "
                    "the baseline of model+pyhook",
                symbols=MODEL_SYMBOLS)
def _model_conntrack(setup: Setup):
    return _model_nf(setup, [])


@register_stage("model+pyhook", parent="read",
                doc="model+conntrack with no-op Python hooks; --opt hook=none (a PREROUTING "
                    "filter matching nothing, default) | 1pct | all",
                symbols=MODEL_SYMBOLS)
def _model_pyhook(setup: Setup):
    kind = setup.option("hook", "none")
    if kind not in PYHOOK_SCENARIOS:
        raise StageUnavailable(f"hook={kind!r}: one of {', '.join(PYHOOK_SCENARIOS)}")
    return _model_nf(setup, PYHOOK_SCENARIOS[kind])
