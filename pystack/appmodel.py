"""Application model: when the program behind a listener accepts and reads.

The kernel's accept queue and receive buffers only fill if the application
is slow, so the model needs an assumption about the application.  Each
listener gets an :class:`AppModel` with an accept policy and a read policy,
parsed from short specs.  All times are capture time in integer
nanoseconds (never wall clock); all sizes are integer bytes.

Accept policies (applied to connections in the order they became
acceptable, i.e. entered the accept queue -- inet_csk_accept() is FIFO):

``immediate``
    accept(2) as soon as a child is queued.
``delay <duration>``
    each connection is accepted that long after it became acceptable.
``rate <n>/s [burst <b>]``
    token bucket of depth b (default 1) refilled at n per second (full at
    the start): a connection is accepted at the first time >= its ready time
    when a token is available; accepts happen in queue order.
``never``
    the application never calls accept(2) (listen-and-stall).

Read policies (per accepted connection; nothing is read before accept):

``as-arrives``
    reads everything as soon as it is queued.
``rate <size>/s``
    byte rate: by time t the application has read at most
    size x (t - accept time) / 1 s bytes in total, and never more than was
    queued.
``chunk <size> every <duration>``
    at accept time + k x duration (k = 0, 1, 2, ...) reads up to size bytes
    of what is queued (a read never waits for data).
``never``
    never reads.
``log <path>``
    an exact read log, CSV (with a header line) or JSON Lines (``.jsonl`` /
    ``.ndjson``; anything else is read as CSV).  Each row is one read:

    * a time column, whose name fixes its meaning:
      ``t_rel`` (seconds after accept), ``t_rel_ns`` (ns after accept),
      ``t_abs`` (absolute capture time, seconds since the epoch, as pcap
      timestamps), ``t_abs_ns`` (absolute, ns); exactly one of them;
    * ``bytes``: how many bytes that read asks for (it gets
      min(bytes, queued));
    * optional ``client_port``: the row applies only to connections from
      that remote port; optional ``client_addr`` narrows to that remote
      address.  Rows without them apply to every connection of the
      listener.  Empty CSV cells mean "not given".

    A relative path is resolved against the directory of the config file.

Durations: ``200ms``, ``1.5s``, ``10us``, ``250ns``, ``2min``, ``1h``
(``0`` needs no unit).  Sizes: plain bytes (``1500``), SI ``KB``/``MB``/``GB``
(10^3...), IEC ``KiB``/``MiB``/``GiB`` (2^10...); ``B`` is allowed; the
prefix letter may be any case but the final ``B`` must be upper case (``Mb``
would be megabits and is refused).
Rates: ``<count>/s`` (also ``/ms``, ``/us``, ``/min``, ``/h``).
"""
from __future__ import annotations

import csv
import ipaddress
import json
import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Sequence, Union

NS_PER_S = 1_000_000_000


class AppModelError(ValueError):
    """A malformed application-model spec."""


# --- units -------------------------------------------------------------------

_DUR_UNITS = {
    "ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
    "s": NS_PER_S, "sec": NS_PER_S, "min": 60 * NS_PER_S, "h": 3600 * NS_PER_S,
}
_SIZE_UNITS = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3,
    "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3,
}
_NUM = r"(\d+(?:\.\d*)?|\.\d+)"
_DUR_RE = re.compile(rf"^{_NUM}\s*([a-zA-Zµμ]*)$")
_SIZE_RE = re.compile(rf"^{_NUM}\s*([a-zA-Z]*)$")


def parse_duration(text: str) -> int:
    """"200ms" -> 200_000_000 (ns).  Must come out as a whole number of ns."""
    s = str(text).strip()
    m = _DUR_RE.match(s)
    if not m:
        raise AppModelError(f"bad duration {text!r}: expected a number and a unit "
                            "such as 200ms, 1.5s, 10us")
    num, unit = Fraction(m.group(1)), m.group(2)
    if unit == "":
        if num == 0:
            return 0
        raise AppModelError(f"duration {text!r} needs a unit (ns, us, ms, s, min, h)")
    mult = _DUR_UNITS.get(unit if unit in ("µs", "μs") else unit.lower())
    if mult is None:
        raise AppModelError(f"unknown time unit {unit!r} in {text!r} "
                            "(use ns, us, ms, s, min, h)")
    ns = num * mult
    if ns.denominator != 1:
        raise AppModelError(f"duration {text!r} is not a whole number of nanoseconds")
    return int(ns)


def parse_size(text: str) -> int:
    """"64KiB" -> 65536, "1MB" -> 1000000, "1500" -> 1500 (bytes)."""
    s = str(text).strip()
    m = _SIZE_RE.match(s)
    if not m:
        raise AppModelError(f"bad size {text!r}: expected e.g. 1500, 64KiB, 1MB")
    num, unit = Fraction(m.group(1)), m.group(2)
    if unit and unit[-1] == "b":
        raise AppModelError(f"size unit {unit!r} in {text!r} reads as bits; sizes are "
                            f"bytes: write {unit[:-1]}B")
    mult = _SIZE_UNITS.get(unit.lower())
    if mult is None:
        hint = ""
        if unit.lower() in ("k", "m", "g"):
            u = unit.upper()
            hint = f" (write {u}B for 10^3 steps or {u}iB for 2^10 steps)"
        raise AppModelError(f"unknown size unit {unit!r} in {text!r}{hint}")
    n = num * mult
    if n.denominator != 1:
        raise AppModelError(f"size {text!r} is not a whole number of bytes")
    return int(n)


_PER = {"s": NS_PER_S, "sec": NS_PER_S, "ms": 1_000_000, "us": 1_000,
        "min": 60 * NS_PER_S, "h": 3600 * NS_PER_S}


def _split_rate(text: str) -> tuple[str, int]:
    s = str(text).strip()
    if "/" not in s:
        raise AppModelError(f"bad rate {text!r}: expected <amount>/s, e.g. 100/s")
    amount, per = s.rsplit("/", 1)
    per_ns = _PER.get(per.strip().lower())
    if per_ns is None and per.strip()[:1].isdigit():
        per_ns = parse_duration(per)           # e.g. "3/7ns", "64KiB/10ms"
        if per_ns <= 0:
            raise AppModelError(f"bad rate {text!r}: the period must be positive")
    if per_ns is None:
        raise AppModelError(f"bad rate {text!r}: unknown period {per!r} (use /s, /ms, /min)")
    return amount.strip(), per_ns


def parse_rate(text: str) -> Fraction:
    """"100/s" -> events per ns as a Fraction (100/1e9)."""
    amount, per_ns = _split_rate(text)
    if not re.fullmatch(_NUM, amount):
        raise AppModelError(f"bad rate {text!r}: {amount!r} is not a number")
    r = Fraction(amount) / per_ns
    if r <= 0:
        raise AppModelError(f"rate {text!r} must be positive (use 'never' for zero)")
    return r


def _fmt_ns(ns: int) -> str:
    for unit, mult in (("h", 3600 * NS_PER_S), ("min", 60 * NS_PER_S), ("s", NS_PER_S),
                       ("ms", 1_000_000), ("us", 1_000)):
        if ns and ns % mult == 0:
            return f"{ns // mult}{unit}"
    if ns == 0:
        return "0s"
    return f"{ns}ns"


def _fmt_size(n: int) -> str:
    for unit, mult in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024),
                       ("GB", 1000 ** 3), ("MB", 1000 ** 2), ("KB", 1000)):
        if n and n % mult == 0:
            return f"{n // mult}{unit}"
    return str(n)


# --- accept policies ---------------------------------------------------------

@dataclass(frozen=True)
class AcceptImmediate:
    kind = "immediate"

    @property
    def spec(self) -> str:
        return "immediate"


@dataclass(frozen=True)
class AcceptDelay:
    delay_ns: int
    kind = "delay"

    @property
    def spec(self) -> str:
        return f"delay {_fmt_ns(self.delay_ns)}"


@dataclass(frozen=True)
class AcceptRate:
    """Token bucket: `count` tokens per `per_ns`, depth `burst`."""

    count: int
    per_ns: int
    burst: int = 1
    kind = "rate"

    @property
    def interval(self) -> Fraction:
        """ns between tokens (exact)."""
        return Fraction(self.per_ns, self.count)

    @property
    def spec(self) -> str:
        per_s = Fraction(self.count * NS_PER_S, self.per_ns)
        s = (f"rate {per_s.numerator}/s" if per_s.denominator == 1
             else f"rate {self.count}/{_fmt_ns(self.per_ns)}")
        return s if self.burst == 1 else f"{s} burst {self.burst}"


@dataclass(frozen=True)
class AcceptNever:
    kind = "never"

    @property
    def spec(self) -> str:
        return "never"


AcceptPolicy = Union[AcceptImmediate, AcceptDelay, AcceptRate, AcceptNever]


def _rate_to_count_per(r: Fraction) -> tuple[int, int]:
    # r events per ns -> (count, per_ns) integers with count/per_ns == r
    return r.numerator, r.denominator


def parse_accept(spec: str) -> AcceptPolicy:
    s = " ".join(str(spec).split())
    low = s.lower()
    if low == "immediate":
        return AcceptImmediate()
    if low == "never":
        return AcceptNever()
    if low.startswith("delay "):
        d = parse_duration(s[6:])
        return AcceptDelay(d)
    if low.startswith("rate "):
        rest = s[5:].split()
        burst = 1
        if len(rest) == 3 and rest[1].lower() == "burst":
            if not rest[2].isdigit() or int(rest[2]) < 1:
                raise AppModelError(f"accept {spec!r}: burst must be a positive integer")
            burst = int(rest[2])
        elif len(rest) != 1:
            raise AppModelError(f"accept {spec!r}: expected 'rate <n>/s [burst <b>]'")
        count, per_ns = _rate_to_count_per(parse_rate(rest[0]))
        return AcceptRate(count, per_ns, burst)
    raise AppModelError(
        f"bad accept policy {spec!r}: expected immediate, delay <duration>, "
        "rate <n>/s, or never")


def accept_times(policy: AcceptPolicy, ready_ns: Sequence[int]) -> list[int | None]:
    """Reference semantics: accept time of each connection, given the times
    they became acceptable (in queue order; must be non-decreasing).
    None = never accepted.  The engine may implement this incrementally."""
    if isinstance(policy, AcceptNever):
        return [None] * len(ready_ns)
    if isinstance(policy, AcceptImmediate):
        return list(ready_ns)
    if isinstance(policy, AcceptDelay):
        # accept() is FIFO, so a delay never reorders connections
        out, prev = [], None
        for t in ready_ns:
            a = t + policy.delay_ns
            if prev is not None and a < prev:
                a = prev
            out.append(a)
            prev = a
        return out
    if isinstance(policy, AcceptRate):
        interval = policy.interval
        out = []
        tokens = Fraction(policy.burst)
        last = None                     # time tokens were last computed
        prev = None
        for t in ready_ns:
            now = t if prev is None or t >= prev else prev
            if last is not None:
                tokens = min(Fraction(policy.burst), tokens + (now - last) / interval)
            last = now
            if tokens < 1:
                wait = (1 - tokens) * interval
                now = now + _ceil(wait)
                tokens = min(Fraction(policy.burst), tokens + _ceil(wait) / interval)
                last = now
            tokens -= 1
            out.append(int(now))
            prev = now
        return out
    raise TypeError(f"not an accept policy: {policy!r}")


def _ceil(x: Fraction) -> int:
    return -((-x.numerator) // x.denominator)


# --- read policies -----------------------------------------------------------

@dataclass(frozen=True)
class ReadAsArrives:
    kind = "as-arrives"

    @property
    def spec(self) -> str:
        return "as-arrives"


@dataclass(frozen=True)
class ReadRate:
    """`nbytes` bytes per `per_ns` nanoseconds (exact rational rate)."""

    nbytes: int
    per_ns: int
    kind = "rate"

    @property
    def bytes_per_ns(self) -> Fraction:
        return Fraction(self.nbytes, self.per_ns)

    def allowance(self, elapsed_ns: int) -> int:
        """Bytes the application may have read `elapsed_ns` after accept."""
        return (self.nbytes * max(0, elapsed_ns)) // self.per_ns

    @property
    def spec(self) -> str:
        per_s = Fraction(self.nbytes * NS_PER_S, self.per_ns)
        if per_s.denominator == 1:
            return f"rate {_fmt_size(per_s.numerator)}/s"
        per_ms = per_s / 1000
        if per_ms.denominator == 1:
            return f"rate {_fmt_size(per_ms.numerator)}/ms"
        return f"rate {self.nbytes}/{_fmt_ns(self.per_ns)}"


@dataclass(frozen=True)
class ReadChunk:
    size: int
    every_ns: int
    kind = "chunk"

    @property
    def spec(self) -> str:
        return f"chunk {_fmt_size(self.size)} every {_fmt_ns(self.every_ns)}"


@dataclass(frozen=True)
class ReadNever:
    kind = "never"

    @property
    def spec(self) -> str:
        return "never"


@dataclass(frozen=True)
class ReadLogEntry:
    time_ns: int                 # relative to accept, or absolute capture time
    relative: bool               # True: time_ns is after accept
    nbytes: int
    client_port: int | None = None
    client_addr: str | None = None

    def matches(self, client_addr: str | None, client_port: int | None) -> bool:
        if self.client_port is not None and self.client_port != client_port:
            return False
        if self.client_addr is not None:
            if client_addr is None:
                return False
            return ipaddress.ip_address(client_addr) == ipaddress.ip_address(self.client_addr)
        return True


@dataclass(frozen=True)
class ReadLog:
    path: str                    # as written in the spec
    resolved: str                # absolute path that was loaded
    entries: tuple = field(default=(), repr=False)
    kind = "log"

    @property
    def spec(self) -> str:
        return f"log {self.path}"

    def for_connection(self, client_addr: str | None, client_port: int | None
                       ) -> list[ReadLogEntry]:
        """Rows that apply to one connection, in time order (stable)."""
        rows = [e for e in self.entries if e.matches(client_addr, client_port)]
        return sorted(rows, key=lambda e: (not e.relative, e.time_ns))


ReadPolicy = Union[ReadAsArrives, ReadRate, ReadChunk, ReadNever, ReadLog]

_TIME_COLS = {"t_rel": (True, NS_PER_S), "t_rel_ns": (True, 1),
              "t_abs": (False, NS_PER_S), "t_abs_ns": (False, 1)}


def _log_time(val, unit: int, where: str) -> int:
    if unit == 1:
        if isinstance(val, bool) or not (isinstance(val, int) or
                                         (isinstance(val, str) and val.strip().lstrip("+").isdigit())):
            raise AppModelError(f"{where}: ns time {val!r} must be a whole number")
        return int(val)
    try:
        f = Fraction(str(val).strip()) if not isinstance(val, float) else Fraction(repr(val))
    except (ValueError, ZeroDivisionError):
        raise AppModelError(f"{where}: bad time {val!r}") from None
    # seconds with up to ns precision; round to the nearest ns
    return round(f * NS_PER_S)


def _log_row(row: dict, where: str) -> ReadLogEntry:
    cols = [c for c in _TIME_COLS if row.get(c) not in (None, "")]
    if len(cols) != 1:
        raise AppModelError(f"{where}: need exactly one time column of "
                            f"{', '.join(_TIME_COLS)} (got {cols or 'none'})")
    relative, unit = _TIME_COLS[cols[0]]
    t = _log_time(row[cols[0]], unit, where)
    if t < 0:
        raise AppModelError(f"{where}: negative time {row[cols[0]]!r}")
    b = row.get("bytes")
    if isinstance(b, bool) or b in (None, "") or not str(b).strip().isdigit():
        raise AppModelError(f"{where}: 'bytes' must be a non-negative integer, got {b!r}")
    port = row.get("client_port")
    if port in (None, ""):
        port = None
    else:
        if isinstance(port, bool) or not str(port).strip().isdigit() or not 0 < int(port) < 65536:
            raise AppModelError(f"{where}: bad client_port {port!r}")
        port = int(port)
    addr = row.get("client_addr")
    if addr in (None, ""):
        addr = None
    else:
        try:
            addr = str(ipaddress.ip_address(str(addr).strip()))
        except ValueError:
            raise AppModelError(f"{where}: bad client_addr {addr!r}") from None
    unknown = set(k for k, v in row.items() if v not in (None, "")) - set(_TIME_COLS) - {
        "bytes", "client_port", "client_addr"}
    if unknown:
        raise AppModelError(f"{where}: unknown column(s) {', '.join(sorted(unknown))}")
    return ReadLogEntry(t, relative, int(b), port, addr)


def load_read_log(path: str, base_dir: str | None = None) -> ReadLog:
    """Load and validate a read log (CSV or JSON Lines)."""
    resolved = path if os.path.isabs(path) else os.path.join(base_dir or os.getcwd(), path)
    resolved = os.path.abspath(resolved)
    try:
        with open(resolved, newline="", encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise AppModelError(f"read log {path!r}: cannot read {resolved}: {e.strerror}") from None
    entries = []
    if resolved.endswith((".jsonl", ".ndjson")):
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            where = f"{resolved}:{i}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise AppModelError(f"{where}: bad JSON: {e.msg}") from None
            if not isinstance(obj, dict):
                raise AppModelError(f"{where}: each line must be a JSON object")
            entries.append(_log_row(obj, where))
    else:
        reader = csv.DictReader(
            (ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")))
        if reader.fieldnames is None:
            raise AppModelError(f"read log {resolved}: empty file (a header line is needed)")
        reader.fieldnames = [h.strip() for h in reader.fieldnames]
        for i, row in enumerate(reader, 2):
            if None in row:
                raise AppModelError(f"{resolved}: row {i - 1} has more cells than the header")
            entries.append(_log_row({k: (v.strip() if isinstance(v, str) else v)
                                     for k, v in row.items()}, f"{resolved}: row {i - 1}"))
    return ReadLog(path=path, resolved=resolved, entries=tuple(entries))


def parse_read(spec: str, base_dir: str | None = None) -> ReadPolicy:
    s = " ".join(str(spec).split())
    low = s.lower()
    if low in ("as-arrives", "as_arrives", "immediate"):
        return ReadAsArrives()
    if low == "never":
        return ReadNever()
    if low.startswith("rate "):
        amount, per_ns = _split_rate(s[5:])
        n = parse_size(amount)
        if n <= 0:
            raise AppModelError(f"read {spec!r}: rate must be positive (use 'never')")
        r = Fraction(n, per_ns)
        return ReadRate(r.numerator, r.denominator)
    if low.startswith("chunk "):
        m = re.fullmatch(r"chunk (.+?) every (.+)", s, flags=re.IGNORECASE)
        if not m:
            raise AppModelError(f"read {spec!r}: expected 'chunk <size> every <duration>'")
        size, every = parse_size(m.group(1)), parse_duration(m.group(2))
        if size <= 0:
            raise AppModelError(f"read {spec!r}: chunk size must be positive")
        if every <= 0:
            raise AppModelError(f"read {spec!r}: interval must be positive")
        return ReadChunk(size, every)
    if low.startswith("log "):
        path = str(spec).strip()[4:].strip()
        return load_read_log(path, base_dir)
    raise AppModelError(
        f"bad read policy {spec!r}: expected as-arrives, rate <size>/s, "
        "chunk <size> every <duration>, never, or log <path>")


@dataclass(frozen=True)
class AppModel:
    """What the application behind one listener does."""

    accept: AcceptPolicy = field(default_factory=AcceptImmediate)
    read: ReadPolicy = field(default_factory=ReadAsArrives)

    def to_dict(self) -> dict:
        return {"accept": self.accept.spec, "read": self.read.spec}


def parse_app(accept: str | None = None, read: str | None = None,
              base_dir: str | None = None) -> AppModel:
    return AppModel(
        accept=parse_accept(accept) if accept is not None else AcceptImmediate(),
        read=parse_read(read, base_dir) if read is not None else ReadAsArrives())
