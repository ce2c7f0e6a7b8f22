"""Host configuration: which host the capture is replayed against.

A :class:`HostConfig` says which addresses are local, which kernel profile
and sysctls apply, and which sockets listen, with what listen() backlog,
SO_RCVBUF/SO_SNDBUF and application behaviour.  It is loaded from TOML
(see data/hosts/example.toml for every section), then command-line
overrides are applied in this order: ``--profile``, ``--sysctl``,
``--listen``, ``--app``.

Kernel rules computed here (see :class:`Listener`):

* listen() backlog (net/socket.c: __sys_listen_socket):
  ``if ((unsigned int)backlog > somaxconn) backlog = somaxconn`` -- so a
  negative backlog becomes somaxconn; sk_max_ack_backlog = backlog.
* SO_RCVBUF (net/core/sock.c: sk_setsockopt -> __sock_set_rcvbuf):
  ``val = min_t(u32, val, rmem_max); sk_rcvbuf = max(2 * min(val, INT_MAX/2),
  SOCK_MIN_RCVBUF)``; it also sets SOCK_RCVBUF_LOCK (no autotuning).
  SO_SNDBUF likewise with wmem_max and SOCK_MIN_SNDBUF.
* Without SO_RCVBUF: TCP sockets start at tcp_rmem[1] (tcp.c: tcp_init_sock),
  others at rmem_default (sock.c: sock_init_data); send side tcp_wmem[1] /
  wmem_default.
* bind() conflicts (inet_connection_sock.c: inet_bind_conflict,
  inet_rcv_saddr_equal): two listeners on the same protocol and port whose
  addresses overlap (equal, or one is a wildcard covering the other) need
  SO_REUSEPORT on both (a ``reuseport_group``); SO_REUSEADDR is not modelled.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import sys
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from pystack.appmodel import (AppModel, AppModelError, ReadLog, parse_accept,
                              parse_read)
from pystack.profile import SKB_COALESCE_MODES, KernelProfile, get_profile
from pystack.sysctl import SysctlError, Sysctls, canonical_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    try:
        import tomli as tomllib
    except ImportError as _e:  # pragma: no cover
        raise ImportError("Python 3.10 needs the 'tomli' package to read TOML "
                          "host configs (pip install 'tomli>=2')") from _e

#: include/linux/socket.h: SOMAXCONN (4096 since 5.4) -- the backlog most
#: servers pass (listen(fd, SOMAXCONN)); used when a listener gives none.
SOMAXCONN = 4096
INT_MAX = 2 ** 31 - 1
U32_MASK = 2 ** 32 - 1

PROTOS = ("tcp", "udp")


class ConfigError(ValueError):
    """Bad host configuration.  str() is "file:line: message" when known."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 key: str | None = None):
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        loc = ""
        if file is not None:
            loc = f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(loc + message)


# --- listeners ---------------------------------------------------------------

_ALL = frozenset({"*"})      # "every address" marker in Listener._views()


def _norm_addr(addr: str) -> str:
    return str(ipaddress.ip_address(str(addr).strip().strip("[]")))


def _is_loopback(addr: str) -> bool:
    return ipaddress.ip_address(addr).is_loopback


@dataclass(frozen=True)
class Listener:
    """One listening TCP socket or bound UDP socket."""

    address: str                    # normalised; "0.0.0.0" / "::" = wildcard
    port: int
    proto: str = "tcp"
    backlog: int = SOMAXCONN        # the listen() argument (TCP only)
    rcvbuf: int | None = None       # SO_RCVBUF value the app passed (None: not set)
    sndbuf: int | None = None       # SO_SNDBUF value the app passed
    reuseport_group: str | None = None
    ipv6only: bool = False          # IPV6_V6ONLY (IPv6 sockets only)
    app: AppModel = field(default_factory=AppModel)

    @property
    def family(self) -> int:
        return ipaddress.ip_address(self.address).version

    @property
    def is_wildcard(self) -> bool:
        return ipaddress.ip_address(self.address).is_unspecified

    @property
    def key(self) -> tuple:
        return (self.proto, self.address, self.port)

    def label(self) -> str:
        a = f"[{self.address}]" if self.family == 6 else self.address
        return f"{a}:{self.port}/{self.proto}"

    def covers(self, addr: str) -> bool:
        """Would a packet to `addr` reach this socket's address (ignoring port)?"""
        v4, v6 = self._views()
        a = ipaddress.ip_address(addr)
        if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
            a = a.ipv4_mapped
        view = v4 if a.version == 4 else v6
        return view is _ALL or a in view

    def _views(self):
        """(IPv4 addresses, IPv6 addresses) the socket is bound to; _ALL = any."""
        a = ipaddress.ip_address(self.address)
        if a.version == 4:
            return (_ALL if a.is_unspecified else {a}), set()
        if a.is_unspecified:
            return (set() if self.ipv6only else _ALL), _ALL
        if a.ipv4_mapped is not None:
            return {a.ipv4_mapped}, set()
        return set(), {a}

    def overlaps(self, other: "Listener") -> bool:
        """inet_rcv_saddr_equal(sk, sk2, match_wildcard=true): do the two bound
        addresses overlap (IPv6 dual-stack sockets also cover IPv4)?"""
        for mine, theirs in zip(self._views(), other._views()):
            if not mine or not theirs:
                continue
            if mine is _ALL or theirs is _ALL or mine & theirs:
                return True
        return False

    # --- kernel rules --------------------------------------------------------
    def effective_backlog(self, sysctls: Sysctls) -> int:
        """sk_max_ack_backlog: net/socket.c: __sys_listen_socket()."""
        somaxconn = sysctls.get("net.core.somaxconn")
        backlog = self.backlog
        if (backlog & U32_MASK) > somaxconn:     # (unsigned int)backlog > somaxconn
            backlog = somaxconn
        return backlog

    def accept_queue_capacity(self, sysctls: Sysctls,
                              profile: KernelProfile | None = None) -> int:
        """Established children the accept queue holds (backlog N -> N+1)."""
        prof = profile or sysctls.profile
        return prof.accept_queue_capacity(self.effective_backlog(sysctls))

    def effective_rcvbuf(self, sysctls: Sysctls, profile: KernelProfile | None = None) -> int:
        """Initial sk_rcvbuf of the socket (and of TCP children, which inherit it)."""
        prof = profile or sysctls.profile
        if self.rcvbuf is None:
            if self.proto == "tcp":
                return sysctls.get("net.ipv4.tcp_rmem")[1]        # tcp_init_sock
            return sysctls.get("net.core.rmem_default")           # sock_init_data
        return _sock_set_buf(self.rcvbuf, sysctls.get("net.core.rmem_max"),
                             prof.sock_min_rcvbuf)

    def effective_sndbuf(self, sysctls: Sysctls, profile: KernelProfile | None = None) -> int:
        prof = profile or sysctls.profile
        if self.sndbuf is None:
            if self.proto == "tcp":
                return sysctls.get("net.ipv4.tcp_wmem")[1]
            return sysctls.get("net.core.wmem_default")
        return _sock_set_buf(self.sndbuf, sysctls.get("net.core.wmem_max"),
                             prof.sock_min_sndbuf)

    @property
    def rcvbuf_locked(self) -> bool:
        """SOCK_RCVBUF_LOCK: SO_RCVBUF was set, so no receive autotuning."""
        return self.rcvbuf is not None

    @property
    def sndbuf_locked(self) -> bool:
        return self.sndbuf is not None

    def to_dict(self, sysctls: Sysctls | None = None) -> dict:
        d: dict[str, Any] = {
            "address": self.address, "port": self.port, "proto": self.proto,
        }
        if self.proto == "tcp":
            d["backlog"] = self.backlog
        d.update({
            "rcvbuf": self.rcvbuf, "sndbuf": self.sndbuf,
            "reuseport_group": self.reuseport_group, "ipv6only": self.ipv6only,
            "app": (self.app.to_dict() if self.proto == "tcp"
                    else {"read": self.app.read.spec}),
        })
        if sysctls is not None:
            eff: dict[str, Any] = {}
            if self.proto == "tcp":
                eff["backlog"] = self.effective_backlog(sysctls)
                eff["accept_queue_capacity"] = self.accept_queue_capacity(sysctls)
            eff["rcvbuf"] = self.effective_rcvbuf(sysctls)
            eff["sndbuf"] = self.effective_sndbuf(sysctls)
            eff["rcvbuf_locked"] = self.rcvbuf_locked
            d["effective"] = eff
        return d


def _sock_set_buf(val: int, wmax: int, minimum: int) -> int:
    """sk_setsockopt(SO_RCVBUF/SO_SNDBUF) -> __sock_set_rcvbuf / sk_sndbuf."""
    v = min(val & U32_MASK, wmax)             # min_t(u32, val, sysctl_*mem_max)
    v = min(v, INT_MAX // 2)                  # min_t(int, val, INT_MAX / 2)
    return max(v * 2, minimum)                # max_t(int, val * 2, SOCK_MIN_*BUF)


def _listener_sort_key(l: Listener):
    return (l.proto, l.port, l.family, ipaddress.ip_address(l.address).packed,
            l.reuseport_group or "", repr(l))


# --- the host ----------------------------------------------------------------

@dataclass
class HostConfig:
    """Everything that describes the replayed host."""

    name: str = "host"
    addresses: list = field(default_factory=list)     # normalised strings
    interfaces: list = field(default_factory=list)
    # skb truesize = payload + this (bytes): a property of the host's driver
    # (veth, GRO, page-pool frags) that a pcap cannot show; None = the
    # profile's linear-skb default (KernelProfile.skb_truesize_overhead)
    skb_truesize_overhead: int | None = None
    # how the driver builds those skbs, which decides tcp_try_coalesce
    # (pystack.profile.SKB_COALESCE_MODES); None = "none": one skb per segment
    skb_coalesce: str | None = None
    sysctls: Sysctls = field(default_factory=Sysctls)
    listeners: list = field(default_factory=list)
    source: str | None = None                        # config file, if any
    notes: list = field(default_factory=list)        # e.g. from inference
    conntrack: bool = False                          # [netfilter] conntrack: track without rules

    @property
    def profile(self) -> KernelProfile:
        return self.sysctls.profile

    def set_profile(self, profile: KernelProfile | str) -> None:
        """Switch kernel profile, keeping values that were changed from defaults."""
        prof = get_profile(profile)
        if prof is self.sysctls.profile:
            return
        new = Sysctls(prof)
        for name, ch in self.sysctls.changed().items():
            if name in new:
                new.set(name, ch["value"])
        self.sysctls = new

    def is_local(self, addr: str) -> bool:
        a = ipaddress.ip_address(addr)
        if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
            a = a.ipv4_mapped
        return a.is_loopback or any(a == ipaddress.ip_address(x) for x in self.addresses)

    def listeners_on(self, port: int, proto: str | None = None) -> list:
        return [l for l in self.listeners if l.port == port and (proto is None or l.proto == proto)]

    def sorted_listeners(self) -> list:
        return sorted(self.listeners, key=_listener_sort_key)

    def validate(self) -> None:
        """Cross-checks the kernel would make at bind() time; ConfigError."""
        for err, _ in self._problems():
            raise ConfigError(err)

    def _problems(self):
        """(message, index of the offending listener) pairs."""
        ls = self.listeners
        for i, l in enumerate(ls):
            if l.ipv6only and l.family != 6:
                yield (f"listener {l.label()}: ipv6only applies only to IPv6 sockets", i)
            if (self.addresses and not l.is_wildcard and not _is_loopback(l.address)
                    and l.address not in self.addresses):
                yield (f"listener {l.label()}: {l.address} is not one of the host's "
                       f"addresses ({', '.join(self.addresses)}); bind() would fail "
                       "with EADDRNOTAVAIL", i)
        groups: dict[str, Listener] = {}
        for i, l in enumerate(ls):
            g = l.reuseport_group
            if g is None:
                continue
            first = groups.setdefault(g, l)
            if (first.proto, first.address, first.port) != (l.proto, l.address, l.port):
                yield (f"listener {l.label()}: reuseport_group {g!r} already holds "
                       f"{first.label()}; a SO_REUSEPORT group shares one address, "
                       "port and protocol", i)
        for i, a in enumerate(ls):
            for j in range(i):
                b = ls[j]
                if a.proto != b.proto or a.port != b.port or not a.overlaps(b):
                    continue
                if a.reuseport_group is not None and b.reuseport_group is not None:
                    continue        # SO_REUSEPORT on both (same uid): no conflict
                what = "duplicates" if a.address == b.address else "overlaps"
                yield (f"listener {a.label()} {what} {b.label()}: bind() would fail "
                       "with EADDRINUSE unless both use SO_REUSEPORT (set the same "
                       "reuseport_group on both)", i)

    # --- output --------------------------------------------------------------
    def to_dict(self) -> dict:
        """Full effective configuration (for run.json), deterministic order."""
        return {
            "source": self.source,
            "host": {
                "name": self.name,
                "addresses": list(self.addresses),
                "interfaces": list(self.interfaces),
                "skb_truesize_overhead": self.skb_truesize_overhead,
                "skb_coalesce": self.skb_coalesce,
                "profile": self.profile.name,
                "kernel_version": self.profile.version,
            },
            "profile": self.profile.to_dict(),
            "sysctl": self.sysctls.as_dict(),
            "sysctl_changed": self.sysctls.changed(),
            "listen": [l.to_dict(self.sysctls) for l in self.sorted_listeners()],
            "notes": list(self.notes),
        }

    def to_toml(self) -> str:
        """A TOML text that loads back into an equal configuration."""
        q = json.dumps
        out = ["[host]", f"name = {q(self.name)}",
               f"addresses = [{', '.join(q(a) for a in self.addresses)}]"]
        if self.interfaces:
            out.append(f"interfaces = [{', '.join(q(i) for i in self.interfaces)}]")
        if self.skb_truesize_overhead is not None:
            out.append(f"skb_truesize_overhead = {self.skb_truesize_overhead}")
        if self.skb_coalesce is not None:
            out.append(f"skb_coalesce = {q(self.skb_coalesce)}")
        out.append(f"profile = {q(self.profile.name)}")
        if self.conntrack:
            out += ["", "[netfilter]", "conntrack = true"]
        out += ["", "[sysctl]"]
        for name, ch in self.sysctls.changed().items():
            v = ch["value"]
            if isinstance(v, list):
                val = f"[{', '.join(str(x) for x in v)}]"
            else:       # a bitmap comes as its ranges text ("0-1,3-127")
                val = q(v) if isinstance(v, str) else str(v)
            out.append(f"{q(name)} = {val}")
        for l in self.sorted_listeners():
            out += ["", "[[listen]]", f"address = {q(l.address)}", f"port = {l.port}",
                    f"proto = {q(l.proto)}"]
            if l.proto == "tcp":
                out.append(f"backlog = {l.backlog}")
            if l.rcvbuf is not None:
                out.append(f"rcvbuf = {l.rcvbuf}")
            if l.sndbuf is not None:
                out.append(f"sndbuf = {l.sndbuf}")
            if l.reuseport_group is not None:
                out.append(f"reuseport_group = {q(l.reuseport_group)}")
            if l.family == 6:
                out.append(f"ipv6only = {'true' if l.ipv6only else 'false'}")
            read = l.app.read
            read_spec = f"log {read.resolved}" if isinstance(read, ReadLog) else read.spec
            if l.proto == "tcp":
                out.append(f"app = {{ accept = {q(l.app.accept.spec)}, read = {q(read_spec)} }}")
            else:
                out.append(f"app = {{ read = {q(read_spec)} }}")
        return "\n".join(out) + "\n"


# --- locating keys in TOML text ----------------------------------------------

_KEY = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_KEYLINE_RE = re.compile(rf"^\s*({_DOTTED})\s*=")
_INLINE_KEY_RE = re.compile(rf"(?:^|[{{,])\s*({_DOTTED})\s*=")
_ARR_HDR_RE = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]")
_TBL_HDR_RE = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]")
_STR_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'')


def _split_dotted(s: str) -> list[str]:
    parts = re.findall(_KEY, s)
    out = []
    for p in parts:
        if p[:1] == '"':
            out.append(json.loads(p))
        elif p[:1] == "'":
            out.append(p[1:-1])
        else:
            out.append(p)
    return out


class _Locator:
    """Maps (table path, key) to 1-based line numbers in a TOML text.

    Table paths index arrays of tables: the 2nd [[listen]] is ("listen", 1).
    Good enough for hand-written configs: strings are skipped when counting
    brackets, multi-line arrays/inline tables and ''' / \"\"\" strings are
    stepped over.
    """

    def __init__(self, text: str):
        self.keys: dict[tuple, int] = {}
        self.tables: dict[tuple, int] = {}
        arr_index: dict[tuple, int] = {}
        path: tuple = ()
        depth = 0                  # open [ / { of a multi-line value
        in_ml = None               # open multi-line string delimiter
        for ln, raw in enumerate(text.splitlines(), 1):
            line = raw
            fresh = True
            if in_ml:
                idx = line.find(in_ml)
                if idx < 0:
                    continue
                line = line[idx + 3:]
                in_ml = None
                fresh = False
            for tq in ('"""', "'''"):
                if line.count(tq) % 2 == 1:
                    in_ml = tq
                    line = line[:line.rfind(tq)]
            code = _STR_RE.sub('""', line).split("#", 1)[0]
            if depth == 0 and fresh:
                self._scan(line, ln, arr_index, path)
                path = self._path
            depth = max(0, depth + code.count("[") + code.count("{")
                        - code.count("]") - code.count("}"))

    def _scan(self, line: str, ln: int, arr_index: dict, path: tuple) -> None:
        self._path = path
        m = _ARR_HDR_RE.match(line)
        if m:
            parts = tuple(_split_dotted(m.group(1)))
            arr_index[parts] = arr_index.get(parts, -1) + 1
            self._path = self._resolve(parts[:-1], arr_index) + (parts[-1], arr_index[parts])
            self.tables.setdefault(self._path, ln)
            return
        m = _TBL_HDR_RE.match(line)
        if m:
            self._path = self._resolve(tuple(_split_dotted(m.group(1))), arr_index)
            self.tables.setdefault(self._path, ln)
            return
        m = _KEYLINE_RE.match(line)
        if m:
            parts = _split_dotted(m.group(1))
            self._record(path, parts, ln)
            rest = line[m.end():]
            brace = _STR_RE.sub(lambda x: "_" * len(x.group(0)), rest).find("{")
            if brace >= 0:          # keys of an inline table on the same line
                for im in _INLINE_KEY_RE.finditer(rest[brace:]):
                    self._record(path + tuple(parts), _split_dotted(im.group(1)), ln)

    @staticmethod
    def _resolve(parts: tuple, arr_index: dict) -> tuple:
        out: tuple = ()
        for i in range(len(parts)):
            prefix = parts[:i + 1]
            out += (parts[i],)
            if prefix in arr_index:
                out += (arr_index[prefix],)
        return out

    def _record(self, path: tuple, parts: list, ln: int) -> None:
        for i in range(len(parts)):
            key = (path + tuple(parts[:i]), ".".join(parts[i:]))
            self.keys.setdefault(key, ln)

    def line(self, path: tuple, key: str | None = None) -> int | None:
        if key is not None:
            if (path, key) in self.keys:
                return self.keys[(path, key)]
            for t in (path + (key,), path + (key, 0)):      # [key] / [[key]]
                if t in self.tables:
                    return self.tables[t]
        p = path
        while p:
            if p in self.tables:
                return self.tables[p]
            if len(p) >= 2 and (p[:-1], str(p[-1])) in self.keys:   # inline table
                return self.keys[(p[:-1], str(p[-1]))]
            p = p[:-1]
        return None


# --- loading -----------------------------------------------------------------

_HOST_KEYS = ("name", "addresses", "interfaces", "profile", "skb_truesize_overhead",
              "skb_coalesce")
_LISTEN_KEYS = ("address", "port", "proto", "backlog", "rcvbuf", "sndbuf",
                "reuseport_group", "ipv6only", "app")
_APP_KEYS = ("accept", "read")
_TOP_KEYS = ("host", "sysctl", "listen", "netfilter")


def _did_you_mean(key: str, known: Iterable[str]) -> str:
    import difflib
    m = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f"; did you mean {m[0]!r}?" if m else ""


def _where(path: tuple) -> str:
    if not path:
        return "top level"
    if path[0] == "listen" and len(path) >= 2:
        rest = ".".join(str(p) for p in path[2:])
        return f"[[listen]] #{path[1] + 1}" + (f" {rest}" if rest else "")
    return "[" + ".".join(str(p) for p in path) + "]"


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false",
               list: "an array", dict: "a table"}


class _Loader:
    def __init__(self, text: str, filename: str, base_dir: str | None):
        self.text = text
        self.filename = filename
        self.base_dir = base_dir
        self.loc = _Locator(text)

    def err(self, path: tuple, key: str | None, msg: str) -> ConfigError:
        line = self.loc.line(path, key)
        where = _where(path)
        prefix = f"key {key!r} in {where}: " if key is not None else f"{where}: "
        return ConfigError(prefix + msg, self.filename, line,
                           ".".join([str(p) for p in path] + ([key] if key else [])))

    def typed(self, value, typ, path, key):
        ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
        if not ok:
            raise self.err(path, key, f"expected {_TYPE_NAMES[typ]}, got "
                                      f"{type(value).__name__} {value!r}")
        return value

    def unknown(self, table: dict, known: tuple, path: tuple) -> None:
        for k in table:
            if k not in known:
                raise self.err(path, k, "unknown key (known keys: "
                               f"{', '.join(known)}){_did_you_mean(k, known)}")

    def load(self, data: dict, profile: str | KernelProfile | None) -> HostConfig:
        self.unknown(data, _TOP_KEYS, ())
        host = data.get("host", {})
        self.typed(host, dict, (), "host")
        self.unknown(host, _HOST_KEYS, ("host",))
        cfg = HostConfig()
        cfg.source = self.filename
        if "name" in host:
            cfg.name = self.typed(host["name"], str, ("host",), "name")
        for key in ("addresses", "interfaces"):
            if key in host:
                vals = self.typed(host[key], list, ("host",), key)
                for v in vals:
                    self.typed(v, str, ("host",), key)
                if key == "addresses":
                    norm = []
                    for v in vals:
                        try:
                            a = _norm_addr(v)
                        except ValueError:
                            raise self.err(("host",), key,
                                           f"{v!r} is not an IPv4 or IPv6 address") from None
                        if ipaddress.ip_address(a).is_unspecified:
                            raise self.err(("host",), key,
                                           f"{v!r} is a wildcard, not a host address")
                        if a not in norm:
                            norm.append(a)
                    cfg.addresses = norm
                else:
                    cfg.interfaces = list(vals)
        prof_name = profile
        if "skb_truesize_overhead" in host:
            ov = self.typed(host["skb_truesize_overhead"], int, ("host",), "skb_truesize_overhead")
            if not 0 <= ov <= 65536:
                raise self.err(("host",), "skb_truesize_overhead",
                               f"{ov} outside 0..65536 bytes")
            cfg.skb_truesize_overhead = ov
        if "skb_coalesce" in host:
            mode = self.typed(host["skb_coalesce"], str, ("host",), "skb_coalesce")
            if mode not in SKB_COALESCE_MODES:
                raise self.err(("host",), "skb_coalesce",
                               f"{mode!r} is not one of {', '.join(SKB_COALESCE_MODES)}")
            cfg.skb_coalesce = mode
        if prof_name is None and "profile" in host:
            prof_name = self.typed(host["profile"], str, ("host",), "profile")
        try:
            prof = get_profile(prof_name)
        except ValueError as e:
            raise self.err(("host",), "profile", str(e)) from None
        cfg.sysctls = Sysctls(prof)

        sysctl = data.get("sysctl", {})
        self.typed(sysctl, dict, (), "sysctl")
        for name, value, parts in _flatten(sysctl):
            path = ("sysctl",) + tuple(parts[:-1])
            if isinstance(value, list):
                for v in value:
                    if isinstance(v, bool) or not isinstance(v, int):
                        raise self.err(path, parts[-1],
                                       f"sysctl {name}: array elements must be integers")
            elif isinstance(value, bool) or not isinstance(value, (int, str)):
                raise self.err(path, parts[-1],
                               f"sysctl {name}: expected an integer, an array of "
                               f"integers or a string, got {type(value).__name__}")
            try:
                cfg.sysctls.set(name, value)
            except SysctlError as e:
                line = self.loc.line(("sysctl",), name) or self.loc.line(path, parts[-1])
                raise ConfigError(f"key {name!r} in [sysctl]: {e}", self.filename, line,
                                  f"sysctl.{name}") from None

        nf = data.get("netfilter", {})
        self.typed(nf, dict, (), "netfilter")
        self.unknown(nf, ("conntrack",), ("netfilter",))
        if "conntrack" in nf:
            cfg.conntrack = self.typed(nf["conntrack"], bool, ("netfilter",), "conntrack")

        listen = data.get("listen", [])
        if isinstance(listen, dict):
            raise self.err(("listen",), None,
                           "listeners are an array of tables: write [[listen]], not [listen]")
        self.typed(listen, list, (), "listen")
        for i, tbl in enumerate(listen):
            cfg.listeners.append(self.listener(tbl, ("listen", i)))
        for msg, i in cfg._problems():
            raise self.err(("listen", i), None, msg)
        return cfg

    def listener(self, tbl: dict, path: tuple) -> Listener:
        self.typed(tbl, dict, path[:1], "listen")
        self.unknown(tbl, _LISTEN_KEYS, path)
        kw: dict[str, Any] = {}
        addr = tbl.get("address", "0.0.0.0")
        self.typed(addr, str, path, "address")
        try:
            kw["address"] = _norm_addr(addr)
        except ValueError:
            raise self.err(path, "address", f"{addr!r} is not an IPv4 or IPv6 address "
                           "(use 0.0.0.0 or :: for all addresses)") from None
        if "port" not in tbl:
            raise self.err(path, None, "missing key 'port'")
        port = self.typed(tbl["port"], int, path, "port")
        if not 1 <= port <= 65535:
            raise self.err(path, "port", f"port {port} is not in 1..65535")
        kw["port"] = port
        proto = self.typed(tbl.get("proto", "tcp"), str, path, "proto").lower()
        if proto not in PROTOS:
            raise self.err(path, "proto", f"proto must be tcp or udp, not {proto!r}")
        kw["proto"] = proto
        if "backlog" in tbl:
            if proto != "tcp":
                raise self.err(path, "backlog", "backlog applies to tcp listeners only")
            kw["backlog"] = self._c_int(tbl["backlog"], path, "backlog")
        for k in ("rcvbuf", "sndbuf"):
            if k in tbl:
                kw[k] = self._c_int(tbl[k], path, k)
        if "reuseport_group" in tbl:
            g = self.typed(tbl["reuseport_group"], str, path, "reuseport_group")
            if not g:
                raise self.err(path, "reuseport_group", "must not be empty")
            kw["reuseport_group"] = g
        if "ipv6only" in tbl:
            kw["ipv6only"] = self.typed(tbl["ipv6only"], bool, path, "ipv6only")
        if "app" in tbl:
            app = self.typed(tbl["app"], dict, path, "app")
            apath = path + ("app",)
            self.unknown(app, _APP_KEYS, apath)
            acc = app.get("accept")
            rd = app.get("read")
            if acc is not None and proto != "tcp":
                raise self.err(apath, "accept", "accept applies to tcp listeners only "
                               "(a UDP socket has no accept queue)")
            try:
                accept = parse_accept(self.typed(acc, str, apath, "accept")) if acc is not None else None
            except AppModelError as e:
                raise self.err(apath, "accept", str(e)) from None
            try:
                read = (parse_read(self.typed(rd, str, apath, "read"), self.base_dir)
                        if rd is not None else None)
            except AppModelError as e:
                raise self.err(apath, "read", str(e)) from None
            base = AppModel()
            kw["app"] = AppModel(accept=accept or base.accept, read=read or base.read)
        return Listener(**kw)

    def _c_int(self, v, path, key) -> int:
        self.typed(v, int, path, key)
        if not -2 ** 31 <= v <= INT_MAX:
            raise self.err(path, key, f"{v} does not fit a C int (the socket call takes an int)")
        return v


def _flatten(table: dict, prefix: tuple = ()):
    """[sysctl] entries as (dotted name, value, key parts); nested tables from
    unquoted dotted keys (net.core.somaxconn = 1) are joined back."""
    for k, v in table.items():
        parts = prefix + (k,)
        if isinstance(v, dict):
            yield from _flatten(v, parts)
        else:
            yield canonical_name(".".join(parts)), v, parts


_TOML_POS_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


def parse_host_config(text: str, filename: str = "<string>", base_dir: str | None = None,
                      profile: str | KernelProfile | None = None) -> HostConfig:
    """Parse a TOML host config.  `profile` overrides [host] profile."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = _TOML_POS_RE.search(msg)
        line = int(m.group(1)) if m else getattr(e, "lineno", None)
        msg = _TOML_POS_RE.sub("", msg).strip()
        if m:
            msg += f" (column {m.group(2)})"
        raise ConfigError(f"TOML syntax error: {msg}", filename, line) from None
    return _Loader(text, filename, base_dir).load(data, profile)


def load_host_config(path: str, profile: str | KernelProfile | None = None) -> HostConfig:
    """Load a TOML host config file; ConfigError names file, line and key."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read host config: {e.strerror}", path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ConfigError("not UTF-8 text", path, line) from None
    return parse_host_config(text, path, os.path.dirname(os.path.abspath(path)), profile)


# --- command-line overrides --------------------------------------------------

_TARGET_RE = re.compile(
    r"^(?:(\[[^\]]+\]|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|\*)\s*:\s*)?(\d+)(?:/([A-Za-z]+))?")
_OPT_SPLIT_RE = re.compile(r",(?=\s*[A-Za-z_]+\s*=)")
_LISTEN_OPTS = ("backlog", "rcvbuf", "sndbuf", "reuseport_group", "reuseport",
                "ipv6only", "accept", "read")


def _parse_target(spec: str, flag: str):
    m = _TARGET_RE.match(spec.strip())
    if not m:
        raise ConfigError(f"{flag} {spec!r}: expected [ADDRESS:]PORT[/PROTO], e.g. 80, "
                          "198.18.0.1:443/tcp, [2001:db8::1]:53/udp")
    addr, port, proto = m.group(1), int(m.group(2)), m.group(3)
    if addr in (None, "*"):
        addr_n = None
    else:
        try:
            addr_n = _norm_addr(addr)
        except ValueError:
            raise ConfigError(f"{flag} {spec!r}: {addr!r} is not an IP address") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"{flag} {spec!r}: port {port} is not in 1..65535")
    if proto is not None:
        proto = proto.lower()
        if proto not in PROTOS:
            raise ConfigError(f"{flag} {spec!r}: proto must be tcp or udp, not {proto!r}")
    return addr_n, port, proto, spec.strip()[m.end():]


def _parse_opts(text: str, spec: str, flag: str, known: tuple) -> dict:
    opts: dict[str, str] = {}
    if not text.strip():
        return opts
    for part in _OPT_SPLIT_RE.split(text):
        if "=" not in part:
            raise ConfigError(f"{flag} {spec!r}: expected key=value, got {part.strip()!r}")
        k, v = part.split("=", 1)
        k = k.strip().lower()
        if k not in known:
            raise ConfigError(f"{flag} {spec!r}: unknown option {k!r} (known: "
                              f"{', '.join(known)}){_did_you_mean(k, known)}")
        opts[k] = v.strip()
    return opts


def _int_opt(v: str, spec: str, flag: str, key: str) -> int:
    try:
        n = int(v, 0)
    except ValueError:
        raise ConfigError(f"{flag} {spec!r}: {key} must be an integer, not {v!r}") from None
    if not -2 ** 31 <= n <= INT_MAX:
        raise ConfigError(f"{flag} {spec!r}: {key} {n} does not fit a C int")
    return n


def _bool_opt(v: str, spec: str, flag: str, key: str) -> bool:
    low = v.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{flag} {spec!r}: {key} must be true or false, not {v!r}")


def _app_from_opts(base: AppModel, opts: dict, spec: str, flag: str,
                   base_dir: str | None) -> AppModel:
    app = base
    try:
        if "accept" in opts:
            app = replace(app, accept=parse_accept(opts["accept"]))
        if "read" in opts:
            app = replace(app, read=parse_read(opts["read"], base_dir))
    except AppModelError as e:
        raise ConfigError(f"{flag} {spec!r}: {e}") from None
    return app


def apply_sysctl_override(cfg: HostConfig, spec: str) -> None:
    """--sysctl name=value"""
    if "=" not in spec:
        raise ConfigError(f"--sysctl {spec!r}: expected NAME=VALUE, "
                          "e.g. net.core.somaxconn=128")
    name, value = spec.split("=", 1)
    try:
        cfg.sysctls.set(name.strip(), value.strip())
    except SysctlError as e:
        raise ConfigError(f"--sysctl {spec!r}: {e}") from None


def apply_listen_override(cfg: HostConfig, spec: str, base_dir: str | None = None) -> None:
    """--listen [ADDR:]PORT[/PROTO][,key=value...]: add a listener, or update
    the one with the same address, port and protocol.  ADDR defaults to the
    IPv4 wildcard 0.0.0.0 (write [::]:PORT for IPv6), PROTO to tcp."""
    addr, port, proto, rest = _parse_target(spec, "--listen")
    rest = rest.strip()
    if rest and not rest.startswith(","):
        raise ConfigError(f"--listen {spec!r}: unexpected {rest!r} after the port")
    opts = _parse_opts(rest[1:] if rest else "", spec, "--listen", _LISTEN_OPTS)
    addr = addr or "0.0.0.0"
    proto = proto or "tcp"
    existing = [i for i, l in enumerate(cfg.listeners) if l.key == (proto, addr, port)]
    lst = cfg.listeners[existing[0]] if existing else Listener(addr, port, proto)
    kw: dict[str, Any] = {}
    if "backlog" in opts:
        if proto != "tcp":
            raise ConfigError(f"--listen {spec!r}: backlog applies to tcp listeners only")
        kw["backlog"] = _int_opt(opts["backlog"], spec, "--listen", "backlog")
    for k in ("rcvbuf", "sndbuf"):
        if k in opts:
            kw[k] = _int_opt(opts[k], spec, "--listen", k)
    for k in ("reuseport_group", "reuseport"):
        if k in opts:
            kw["reuseport_group"] = opts[k] or None
    if "ipv6only" in opts:
        kw["ipv6only"] = _bool_opt(opts["ipv6only"], spec, "--listen", "ipv6only")
    if "accept" in opts and proto != "tcp":
        raise ConfigError(f"--listen {spec!r}: accept applies to tcp listeners only")
    kw["app"] = _app_from_opts(lst.app, opts, spec, "--listen", base_dir)
    new = replace(lst, **kw)
    if existing:
        cfg.listeners[existing[0]] = new
    else:
        cfg.listeners.append(new)
    for msg, _ in cfg._problems():
        raise ConfigError(f"--listen {spec!r}: {msg}")


def apply_app_override(cfg: HostConfig, spec: str, base_dir: str | None = None) -> None:
    """--app [ADDR:]PORT[/PROTO]:accept=...,read=...: change the application
    model of every listener on that port (narrowed by address/protocol)."""
    addr, port, proto, rest = _parse_target(spec, "--app")
    rest = rest.strip()
    if not rest.startswith(":"):
        raise ConfigError(f"--app {spec!r}: expected PORT:accept=...,read=..., "
                          "e.g. 80:accept=never or 443:read=rate 1MB/s")
    opts = _parse_opts(rest[1:], spec, "--app", _APP_KEYS)
    if not opts:
        raise ConfigError(f"--app {spec!r}: give accept=... and/or read=...")
    hits = [i for i, l in enumerate(cfg.listeners)
            if l.port == port and (proto is None or l.proto == proto)
            and (addr is None or l.address == addr)]
    if not hits:
        have = ", ".join(l.label() for l in cfg.sorted_listeners()) or "none"
        raise ConfigError(f"--app {spec!r}: no listener on port {port} "
                          f"(listeners: {have}); add one with --listen")
    if "accept" in opts and not any(cfg.listeners[i].proto == "tcp" for i in hits):
        raise ConfigError(f"--app {spec!r}: accept applies to tcp listeners only "
                          "(a UDP socket has no accept queue)")
    for i in hits:
        l = cfg.listeners[i]
        o = opts if l.proto == "tcp" else {k: v for k, v in opts.items() if k != "accept"}
        cfg.listeners[i] = replace(l, app=_app_from_opts(l.app, o, spec, "--app", base_dir))


def apply_overrides(cfg: HostConfig, sysctls: Iterable[str] = (), listens: Iterable[str] = (),
                    apps: Iterable[str] = (), base_dir: str | None = None) -> HostConfig:
    for s in sysctls:
        apply_sysctl_override(cfg, s)
    for s in listens:
        apply_listen_override(cfg, s, base_dir)
    for s in apps:
        apply_app_override(cfg, s, base_dir)
    return cfg


def add_host_arguments(parser: argparse.ArgumentParser) -> None:
    """Register --config, --profile, --sysctl, --listen, --app."""
    g = parser.add_argument_group(
        "host description",
        "Describe the replayed host.  Without --config the host is inferred from "
        "the capture; overrides apply after loading, in the order --profile, "
        "--sysctl, --listen, --app.")
    g.add_argument("--config", metavar="TOML", help="host config file (see data/hosts/example.toml)")
    g.add_argument("--profile", metavar="KERNEL",
                   help="kernel profile: 6.18 (default), 6.12 or 7.3")
    g.add_argument("--sysctl", action="append", default=[], metavar="NAME=VALUE",
                   help="set a sysctl, e.g. net.core.somaxconn=128 (repeatable)")
    g.add_argument("--listen", action="append", default=[], metavar="SPEC",
                   help="add or change a listener: [ADDR:]PORT[/tcp|udp][,backlog=N]"
                        "[,rcvbuf=N][,sndbuf=N][,reuseport_group=G][,ipv6only=0|1]"
                        "[,accept=...][,read=...] (repeatable)")
    g.add_argument("--app", action="append", default=[], metavar="SPEC",
                   help="application model of the listeners on a port: "
                        "PORT[/PROTO]:accept=POLICY[,read=POLICY], e.g. 80:accept=never, "
                        "'443:read=rate 1MB/s' (repeatable)")


def host_config_from_args(args: argparse.Namespace, base: HostConfig | None = None) -> HostConfig:
    """HostConfig from parsed arguments: --config (else `base`, e.g. an
    inferred config, else an empty host), then --profile/--sysctl/--listen/--app."""
    profile = getattr(args, "profile", None)
    config = getattr(args, "config", None)
    base_dir = None
    if profile is not None:
        try:
            get_profile(profile)
        except ValueError as e:
            raise ConfigError(f"--profile: {e}") from None
    if config:
        cfg = load_host_config(config, profile=profile)
        base_dir = os.path.dirname(os.path.abspath(config))
    else:
        cfg = base if base is not None else HostConfig()
        if profile is not None:
            cfg.set_profile(profile)
    return apply_overrides(cfg, getattr(args, "sysctl", None) or (),
                           getattr(args, "listen", None) or (),
                           getattr(args, "app", None) or (), base_dir)
