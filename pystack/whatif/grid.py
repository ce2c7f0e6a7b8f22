"""What-if axes and their cross product: which host each sweep point replays.

An axis is a setting name and its values:

* a sysctl by its Linux name (``net.core.somaxconn``), validated by
  pystack.sysctl with the kernel's own bounds;
* ``listen.backlog``, ``listen.rcvbuf``, ``listen.sndbuf``: the listen()
  backlog / SO_RCVBUF / SO_SNDBUF of every listener (backlog: TCP
  listeners only), or ``listen[PORT].backlog`` for the listeners on PORT;
* ``app.accept``, ``app.read``: the application model of every listener
  (accept: TCP only), or ``app[PORT].accept``;
* ``profile`` (kernel profile), ``seed`` (the model's random choices),
  ``rules`` (an iptables-save file, passed to ``Replay(host, rules=...)``;
  only on builds whose Replay takes rulesets).

Settings apply in the order of the replay command line: profile, sysctls,
listen, app.  A point's id is ``p000``, ``p001``, ... in cross-product
order (the last axis varies fastest), so the same grid gives the same ids;
the settings themselves are in points.parquet.
"""
from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, replace

from pystack.config import ConfigError, HostConfig, _app_from_opts, _int_opt
from pystack.profile import get_profile
from pystack.sysctl import SysctlError, Sysctls, canonical_name

if __import__("sys").version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class SweepError(ValueError):
    """A bad axis, value, grid file or sweep request (exit code 2)."""


class SweepInputError(SweepError):
    """A capture could not be read to its end (exit code 1)."""


_SCOPED = re.compile(r"^(listen|app)(?:\[(\d{1,5})\])?\.([a-z_]+)$")
_LISTEN_KEYS = ("backlog", "rcvbuf", "sndbuf")
_APP_KEYS = ("accept", "read")
SPECIAL = ("profile", "seed", "rules")


@dataclass(frozen=True)
class Axis:
    name: str            # canonical
    kind: str            # sysctl | listen | app | profile | seed | rules
    key: str | None      # listen/app key
    port: int | None     # listen[PORT] / app[PORT]
    values: tuple        # strings, as given (stripped)


def rules_supported() -> bool:
    """Does this build's Replay take a ruleset (``Replay(host, rules=...)``)?"""
    import inspect

    from pystack.replay import Replay
    return "rules" in inspect.signature(Replay.__init__).parameters


def parse_axis(name: str, values) -> Axis:
    name = name.strip()
    vals = tuple(str(v).strip() for v in values)
    if not vals or any(v == "" for v in vals):
        raise SweepError(f"axis {name!r}: give one or more non-empty values, e.g. "
                         f"{name}=1,2")
    if len(set(vals)) != len(vals):
        raise SweepError(f"axis {name!r}: a value is repeated ({', '.join(vals)})")
    m = _SCOPED.match(name)
    if m:
        kind, port, key = m.group(1), m.group(2), m.group(3)
        known = _LISTEN_KEYS if kind == "listen" else _APP_KEYS
        if key not in known:
            raise SweepError(f"axis {name!r}: unknown {kind} setting {key!r} (known: "
                             f"{', '.join(kind + '.' + k for k in known)})")
        p = int(port) if port is not None else None
        if p is not None and not 1 <= p <= 65535:
            raise SweepError(f"axis {name!r}: port {p} is not in 1..65535")
        return Axis(name, kind, key, p, vals)
    if name in SPECIAL:
        if name == "profile":
            for v in vals:
                try:
                    get_profile(v)
                except ValueError as e:
                    raise SweepError(f"axis profile: {e}") from None
        elif name == "seed":
            for v in vals:
                try:
                    int(v, 0)
                except ValueError:
                    raise SweepError(f"axis seed: {v!r} is not an integer") from None
        else:
            if not rules_supported():
                raise SweepError("axis rules: this build cannot load rulesets "
                                 "(its Replay takes no rules=)")
            vals = tuple(os.path.abspath(v) for v in vals)
            for v in vals:
                if not os.path.isfile(v):
                    raise SweepError(f"axis rules: no such ruleset file {v}")
        return Axis(name, name, None, None, vals)
    if ("." in name or "/" in name) and not name.startswith(("listen", "app")):
        try:
            cname = canonical_name(name)
        except (SysctlError, KeyError, ValueError) as e:
            raise SweepError(f"axis {name!r}: {_msg(e)}") from None
        probe = Sysctls()
        for v in vals:
            try:
                probe.set(cname, v)
            except SysctlError as e:
                raise SweepError(f"axis {name}={v}: {_msg(e)}") from None
        return Axis(cname, "sysctl", None, None, vals)
    raise SweepError(f"unknown axis {name!r}: a sysctl name (net.core.somaxconn), "
                     "listen.backlog / listen.rcvbuf / listen.sndbuf (or listen[PORT].KEY), "
                     "app.accept / app.read (or app[PORT].KEY), profile, seed or rules")


def _msg(e: BaseException) -> str:
    return str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)


def parse_vary(spec: str) -> Axis:
    """--vary NAME=V1,V2,..."""
    if "=" not in spec:
        raise SweepError(f"--vary {spec!r}: expected NAME=V1,V2,..., e.g. "
                         "net.core.somaxconn=128,1024")
    name, vals = spec.split("=", 1)
    return parse_axis(name, vals.split(","))


def load_grid(path: str) -> list:
    """A grid file: a [vary] table of axis = [values...], in file order."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise SweepError(f"{path}: {e}") from None
    extra = set(data) - {"vary"}
    if extra:
        raise SweepError(f"{path}: unknown table or key {sorted(extra)[0]!r} "
                         "(a grid file holds one [vary] table)")
    vary = data.get("vary")
    if not isinstance(vary, dict) or not vary:
        raise SweepError(f"{path}: no [vary] table (e.g. [vary] "
                         "\"net.core.somaxconn\" = [128, 1024])")
    axes = []
    base = os.path.dirname(os.path.abspath(path))
    for name, vals in vary.items():
        if not isinstance(vals, list):
            vals = [vals]
        if any(isinstance(v, (dict, list)) for v in vals):
            raise SweepError(f"{path}: [vary] {name}: values must be strings or numbers")
        if name == "rules":      # relative to the grid file
            vals = [os.path.join(base, str(v)) for v in vals]
        try:
            axes.append(parse_axis(name, ["true" if v is True else "false" if v is False
                                          else v for v in vals]))
        except SweepError as e:
            raise SweepError(f"{path}: {e}") from None
    return axes


@dataclass(frozen=True)
class Point:
    id: str
    settings: tuple      # ((axis name, value), ...) in axis order

    def as_dict(self) -> dict:
        return dict(self.settings)

    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.settings)


def expand(axes: list) -> list:
    """The cross product of the axes as Points p000, p001, ..."""
    names = [a.name for a in axes]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise SweepError(f"axis {dup!r} is given twice")
    combos = list(itertools.product(*(a.values for a in axes))) if axes else [()]
    width = max(3, len(str(len(combos) - 1)))
    return [Point(f"p{i:0{width}d}", tuple(zip(names, c))) for i, c in enumerate(combos)]


def apply_point(host: HostConfig, axes: list, point: Point, base_dir: str | None = None):
    """Apply a point's settings to `host` (changed in place).  Returns
    (host, seed or None, rules path or None)."""
    by = {a.name: a for a in axes}
    vals = dict(point.settings)
    order = {"profile": 0, "sysctl": 1, "listen": 2, "app": 3, "seed": 4, "rules": 5}
    seed = rules = None
    for name in sorted(vals, key=lambda n: order[by[n].kind]):
        a, v = by[name], vals[name]
        where = f"point {point.id} ({name}={v})"
        try:
            if a.kind == "profile":
                host.set_profile(v)
            elif a.kind == "sysctl":
                host.sysctls.set(a.name, v)
            elif a.kind == "listen":
                _set_listeners(host, a, v, where)
            elif a.kind == "app":
                _set_app(host, a, v, where, base_dir)
            elif a.kind == "seed":
                seed = int(v, 0)
            elif a.kind == "rules":
                rules = v
        except (SysctlError, ConfigError) as e:
            raise SweepError(f"{where}: {e}") from None
    return host, seed, rules


def _targets(host: HostConfig, a: Axis, where: str, tcp_only: bool) -> list:
    hits = [i for i, l in enumerate(host.listeners)
            if (a.port is None or l.port == a.port) and (not tcp_only or l.proto == "tcp")]
    if not hits:
        what = f"on port {a.port}" if a.port is not None else "at all"
        kind = "TCP listener" if tcp_only else "listener"
        raise SweepError(f"{where}: the host has no {kind} {what} "
                         "(add one to the config or with --listen)")
    return hits


def _set_listeners(host: HostConfig, a: Axis, v: str, where: str) -> None:
    n = _int_opt(v, f"{a.name}={v}", "axis", a.key)
    for i in _targets(host, a, where, a.key == "backlog"):
        host.listeners[i] = replace(host.listeners[i], **{a.key: n})


def _set_app(host: HostConfig, a: Axis, v: str, where: str, base_dir) -> None:
    for i in _targets(host, a, where, a.key == "accept"):
        l = host.listeners[i]
        host.listeners[i] = replace(l, app=_app_from_opts(l.app, {a.key: v}, f"{a.name}={v}",
                                                          "axis", base_dir))
