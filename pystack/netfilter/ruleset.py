"""iptables-save / ip6tables-save files: parse into a Ruleset, write back.

Grammar (iptables 1.8.9 iptables-restore, xshared.c add_param_to_argv for
the quoting; sheet section 2.4): ``*table`` ... ``COMMIT`` blocks, chain lines
``:NAME POLICY [pkts:bytes]`` (policy ``-`` for user chains), rule lines
``[pkts:bytes] -A CHAIN options`` (counters only in ``-c`` dumps), ``#``
comment lines.  Only ``-A`` is accepted: a save file never contains ``-I``,
``-D``, ``-N`` etc.

``Ruleset.save()`` prints the canonical form iptables-save prints, so a dump
of the real iptables-save -c round-trips byte-for-byte (apart from its
``# Generated`` / ``# Completed`` lines, which carry a date).

Not modelled: the many extensions not listed in extensions.py (``-m recent``,
``-m set``, ``-m limit``, ``--tcp-option``, ``-m addrtype --limit-iface-*``,
bridge semantics of ``-m physdev``), host names and service names.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from pystack.netfilter import extensions as ext
from pystack.netfilter import names
from pystack.netfilter.addr import format_cidr, parse_cidr


class RulesError(ValueError):
    """A save file that iptables-restore would refuse: names file, line and token."""

    def __init__(self, msg, path="<string>", line=0, token=None):
        self.path, self.line, self.token = path, line, token
        where = f"{path}:{line}"
        tok = f" at {token!r}" if token is not None else ""
        super().__init__(f"{where}: {msg}{tok}")


class RulesWarning(UserWarning):
    pass


@dataclass
class Match:
    name: str
    data: dict = field(default_factory=dict)


@dataclass
class Rule:
    table: str
    chain: str
    line: int
    family: int
    pkts: int = 0
    bytes: int = 0
    src: tuple | None = None          # (addr16, mask16)
    src_inv: bool = False
    dst: tuple | None = None
    dst_inv: bool = False
    iif: str | None = None
    iif_inv: bool = False
    oif: str | None = None
    oif_inv: bool = False
    proto: int = 0
    proto_inv: bool = False
    frag: bool = False
    frag_inv: bool = False
    matches: list = field(default_factory=list)
    target: str | None = None         # None: no -j (the rule only counts)
    target_data: dict = field(default_factory=dict)
    goto: bool = False
    unsupported: str | None = None    # lenient: why this rule never matches
    source_text: str = ""             # the rule as written (after the counters)

    def text(self) -> str:
        """The rule as iptables-save prints it, without counters."""
        if self.unsupported:
            return self.source_text
        f = self.family
        out = f"-A {self.chain}"
        if self.src is not None:
            out += f"{' !' if self.src_inv else ''} -s {format_cidr(f, *self.src)}"
        if self.dst is not None:
            out += f"{' !' if self.dst_inv else ''} -d {format_cidr(f, *self.dst)}"
        for opt, name, inv in (("-i", self.iif, self.iif_inv), ("-o", self.oif, self.oif_inv)):
            if name is not None and not (name == "+" and not inv):
                out += f"{' !' if inv else ''} {opt} {name}"
        if self.proto:
            pname = names.PROTO_NAMES.get(self.proto, str(self.proto))
            out += f"{' !' if self.proto_inv else ''} -p {pname}"
        if self.frag:
            out += f"{' !' if self.frag_inv else ''} -f"
        mt = ext.match_table(f)
        for m in self.matches:
            out += f" -m {m.name}" + mt[m.name].save(m.data)
        if self.target is not None:
            out += f" {'-g' if self.goto else '-j'} {self.target}"
            tt = ext.target_table(f)
            if self.target in tt:
                out += tt[self.target].save(self.target_data)
        return out


@dataclass
class Chain:
    name: str
    policy: str | None                # ACCEPT / DROP for built-in chains, None for user
    pkts: int = 0
    bytes: int = 0
    rules: list = field(default_factory=list)
    line: int = 0

    @property
    def builtin(self) -> bool:
        return self.policy is not None


@dataclass
class Table:
    name: str
    chains: dict = field(default_factory=dict)   # name -> Chain, in save order
    line: int = 0


def tokenize(line: str):
    """Split like iptables-restore: blanks separate, double quotes group,
    backslash escapes inside quotes.  Returns the list of tokens or raises
    ValueError('unterminated quote')."""
    toks = []
    buf = []
    have = False
    quote = False
    esc = False
    for c in line:
        if quote:
            if esc:
                buf.append(c)
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                quote = False
            else:
                buf.append(c)
            continue
        if c == '"':
            quote = True
            have = True
        elif c in " \t\r\n":
            if buf or have:
                toks.append("".join(buf))
                buf, have = [], False
        else:
            buf.append(c)
    if quote:
        raise ValueError("unterminated quote")
    if buf or have:
        toks.append("".join(buf))
    return toks


_IMPLICIT = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp6"}

# target -> (table or None, hooks): ipt_REJECT.c / ip6t_REJECT.c, xt_nat.c,
# xt_MASQUERADE.c, xt_REDIRECT.c, xt_CT.c (.table / .hooks of xt_target)
_TARGET_LIMITS = {
    "REJECT": (None, ("INPUT", "FORWARD", "OUTPUT")),
    "DNAT": ("nat", ("PREROUTING", "OUTPUT")),
    "SNAT": ("nat", ("POSTROUTING", "INPUT")),
    "MASQUERADE": ("nat", ("POSTROUTING",)),
    "REDIRECT": ("nat", ("PREROUTING", "OUTPUT")),
    "NOTRACK": ("raw", ("PREROUTING", "OUTPUT")),
    "CT": ("raw", ("PREROUTING", "OUTPUT")),
}


class Ruleset:
    """A parsed iptables-save / ip6tables-save file (one family)."""

    def __init__(self, family: int = 4):
        if family not in (4, 6):
            raise ValueError("family must be 4 or 6")
        self.family = family
        self.tables: dict[str, Table] = {}
        self.warnings: list[str] = []
        self.path = "<string>"

    # ---------------------------------------------------------------- parse
    @classmethod
    def parse(cls, text: str, family: int = 4, path: str = "<string>",
              lenient: bool = False) -> "Ruleset":
        rs = cls(family)
        rs.path = path
        rs._parse(text, lenient)
        return rs

    @classmethod
    def load(cls, path, family: int | None = None, lenient: bool = False) -> "Ruleset":
        path = str(path)
        with open(path, "rb") as fh:
            raw = fh.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[:e.start].count(b"\n") + 1
            raise RulesError("not UTF-8 text", path, line) from None
        if family is None:
            family = 6 if "ip6tables-save" in text.split("\n", 1)[0] else 4
        return cls.parse(text, family, path, lenient)

    def _err(self, msg, line, token=None):
        return RulesError(msg, self.path, line, token)

    def _parse(self, text, lenient):
        table = None
        pending_rules = []
        for lineno, line in enumerate(text.split("\n"), 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            if s.startswith("*"):
                if table is not None:
                    raise self._err(f"table '{table.name}' was not committed", lineno, s)
                name = s[1:]
                if name not in names.BUILTIN_CHAINS:
                    raise self._err("unknown table", lineno, name)
                if name in self.tables:
                    raise self._err("table given twice", lineno, name)
                table = Table(name, line=lineno)
                pending_rules = []
                continue
            if table is None:
                raise self._err("line outside a *table block", lineno, s.split()[0])
            if s == "COMMIT":
                self._commit(table, pending_rules, lenient)
                self.tables[table.name] = table
                table = None
                continue
            if s.startswith(":"):
                self._chain_line(table, s, lineno)
                continue
            pending_rules.append((lineno, s))
        if table is not None:
            raise self._err(f"table '{table.name}' was not committed (no COMMIT)",
                            len(text.split("\n")))

    def _chain_line(self, table, s, lineno):
        parts = s[1:].split()
        if len(parts) not in (2, 3):
            raise self._err("bad chain line", lineno, s)
        name, policy = parts[0], parts[1]
        if len(name) > 28 or name.startswith("-") or not name:
            raise self._err("invalid chain name", lineno, name)
        if name in table.chains:
            raise self._err("chain given twice", lineno, name)
        pk = by = 0
        if len(parts) == 3:
            pk, by = self._counters(parts[2], lineno)
        builtin = name in names.BUILTIN_CHAINS[table.name]
        if builtin:
            if policy not in ("ACCEPT", "DROP"):
                raise self._err("bad built-in chain policy", lineno, policy)
            table.chains[name] = Chain(name, policy, pk, by, line=lineno)
        else:
            if policy != "-":
                raise self._err("user chain policy must be '-'", lineno, policy)
            table.chains[name] = Chain(name, None, pk, by, line=lineno)

    def _counters(self, tok, lineno):
        if not (tok.startswith("[") and tok.endswith("]")) or ":" not in tok:
            raise self._err("bad counters", lineno, tok)
        a, b = tok[1:-1].split(":", 1)
        if not (a.isdigit() and b.isdigit()):
            raise self._err("bad counters", lineno, tok)
        return int(a), int(b)

    def _commit(self, table, pending, lenient):
        for name in names.BUILTIN_CHAINS[table.name]:
            if name not in table.chains:
                # iptables-restore creates the table's built-in chains
                table.chains[name] = Chain(name, "ACCEPT")
        # iptables-save order: built-in chains in hook order, then user
        # chains (nft backend: by name)
        b = [table.chains[n] for n in names.BUILTIN_CHAINS[table.name]]
        u = sorted((c for c in table.chains.values() if not c.builtin), key=lambda c: c.name)
        table.chains = {c.name: c for c in b + u}
        for lineno, s in pending:
            rule = self._rule(table, s, lineno, lenient)
            table.chains[rule.chain].rules.append(rule)
        self._check_hooks(table)

    def _check_hooks(self, table):
        """Targets that the kernel only accepts in some tables / hooks
        (xt_target .table / .hooks, checked by xt_check_target against the
        hooks a chain is reachable from: ip_tables.c mark_source_chains)."""
        reach = {c: set() for c in table.chains}
        for c in table.chains.values():
            if c.builtin:
                todo, seen = [c.name], set()
                while todo:
                    n = todo.pop()
                    if n in seen:
                        continue
                    seen.add(n)
                    reach[n].add(c.name)
                    for r in table.chains[n].rules:
                        if r.target in table.chains:
                            todo.append(r.target)
        for c in table.chains.values():
            for r in c.rules:
                lim = _TARGET_LIMITS.get(r.target)
                if lim is None:
                    continue
                tname, hooks = lim
                if tname is not None and tname != table.name:
                    raise self._err(f"{r.target} is only valid in the {tname} table",
                                    r.line, r.target)
                bad = sorted(reach[c.name] - set(hooks), key=names.HOOKS.index)
                if bad:
                    raise self._err(f"{r.target} is not valid in chain {c.name} "
                                    f"(reached from {','.join(bad)})", r.line, r.target)

    def _rule(self, table, s, lineno, lenient):
        try:
            toks = tokenize(s)
        except ValueError as e:
            raise self._err(str(e), lineno) from None
        pk = by = 0
        if toks and toks[0].startswith("["):
            pk, by = self._counters(toks[0], lineno)
            toks = toks[1:]
            src_text = s[s.index("]") + 1:].strip()
        else:
            src_text = s
        if len(toks) < 2 or toks[0] not in ("-A", "--append"):
            raise self._err("expected '-A CHAIN'", lineno, toks[0] if toks else s)
        chain = toks[1]
        if chain not in table.chains:
            raise self._err("no chain by that name", lineno, chain)
        r = Rule(table.name, chain, lineno, self.family, pk, by, source_text=src_text)
        try:
            self._rule_options(r, table, toks[2:], lineno)
        except _Unsupported as e:
            if not lenient:
                raise self._err(e.msg, lineno, e.token) from None
            msg = f"{self.path}:{lineno}: {e.msg} {e.token!r}: rule never matches"
            self.warnings.append(msg)
            warnings.warn(msg, RulesWarning, stacklevel=4)
            r = Rule(table.name, chain, lineno, self.family, pk, by,
                     unsupported=f"{e.msg} {e.token!r}", source_text=src_text)
        return r

    def _rule_options(self, r, table, toks, lineno):
        fam = self.family
        mt = ext.match_table(fam)
        tt = ext.target_table(fam)
        i = 0
        inv = False
        cur = None            # (extension, data) options go to
        cur_is_target = False
        loaded = []           # [(ext, Match)]

        while i < len(toks):
            t = toks[i]
            if t == "!":
                if inv:
                    raise self._err("multiple '!' flags not allowed", lineno, t)
                inv = True
                i += 1
                continue
            if t in ("-s", "--source", "-d", "--destination"):
                if i + 1 >= len(toks):
                    raise self._err("option needs an argument", lineno, t)
                try:
                    v = parse_cidr(fam, toks[i + 1])
                except ValueError as e:
                    raise self._err(str(e), lineno, toks[i + 1]) from None
                if t in ("-s", "--source"):
                    r.src, r.src_inv = v, inv
                else:
                    r.dst, r.dst_inv = v, inv
                i += 2
                inv = False
                continue
            if t in ("-i", "--in-interface", "-o", "--out-interface"):
                if i + 1 >= len(toks):
                    raise self._err("option needs an argument", lineno, t)
                name = toks[i + 1]
                if len(name) > 15 or not name:
                    raise self._err("interface name too long", lineno, name)
                if t in ("-i", "--in-interface"):
                    r.iif, r.iif_inv = name, inv
                else:
                    r.oif, r.oif_inv = name, inv
                i += 2
                inv = False
                continue
            if t in ("-p", "--protocol"):
                if i + 1 >= len(toks):
                    raise self._err("option needs an argument", lineno, t)
                p = toks[i + 1].lower()
                if p in names.PROTO_NUMBERS:
                    r.proto = names.PROTO_NUMBERS[p]
                elif p.isdigit() and int(p) <= 255:
                    r.proto = int(p)
                else:
                    raise self._err("unknown protocol", lineno, toks[i + 1])
                r.proto_inv = inv
                if inv and r.proto == 0:
                    raise self._err("rule would never match protocol", lineno, t)
                i += 2
                inv = False
                continue
            if t in ("-f", "--fragment"):
                if fam == 6:
                    raise self._err("unknown option", lineno, t)
                r.frag, r.frag_inv = True, inv
                i += 1
                inv = False
                continue
            if t in ("-m", "--match"):
                if inv:
                    raise self._err("unexpected '!' before -m", lineno, t)
                if i + 1 >= len(toks):
                    raise self._err("option needs an argument", lineno, t)
                name = toks[i + 1]
                if name not in mt:
                    raise _Unsupported("unknown match", name)
                m = Match(name)
                loaded.append((mt[name], m))
                r.matches.append(m)
                cur, cur_is_target = (mt[name], m.data), False
                i += 2
                continue
            if t in ("-j", "--jump", "-g", "--goto"):
                if inv:
                    raise self._err("unexpected '!' before target", lineno, t)
                if r.target is not None:
                    raise self._err("target given twice", lineno, t)
                if i + 1 >= len(toks):
                    raise self._err("option needs an argument", lineno, t)
                name = toks[i + 1]
                r.goto = t in ("-g", "--goto")
                r.target = name
                if name in tt:
                    if r.goto:
                        raise self._err("goto needs a chain", lineno, name)
                    cur, cur_is_target = (tt[name], r.target_data), True
                elif name in ext.STANDARD_TARGETS:
                    if r.goto:
                        raise self._err("goto needs a chain", lineno, name)
                    cur = None
                elif name in table.chains:
                    if table.chains[name].builtin:
                        raise self._err("cannot jump to a built-in chain", lineno, name)
                    cur = None
                else:
                    raise _Unsupported("unknown target or chain", name)
                i += 2
                continue
            if t.startswith("-"):
                # an option of the current extension, of an already loaded
                # match, or of the protocol's implicit match (-p tcp --dport)
                owner = None
                if cur is not None and cur[0].canon(t) in cur[0].options:
                    owner = cur
                else:
                    for e, m in reversed(loaded):
                        if e.canon(t) in e.options:
                            owner = (e, m.data)
                            break
                    if owner is None and not cur_is_target and r.proto in _IMPLICIT:
                        iname = _IMPLICIT[r.proto]
                        if iname in mt and mt[iname].canon(t) in mt[iname].options and \
                                not r.proto_inv:
                            m = Match(iname)
                            loaded.append((mt[iname], m))
                            r.matches.append(m)
                            owner = (mt[iname], m.data)
                if owner is None:
                    if cur is not None:
                        raise _Unsupported(f"unknown option of {cur[0].name}", t)
                    raise _Unsupported("unknown option", t)
                e, data = owner
                opt = e.canon(t)
                n = e.options[opt]
                if n and i + n >= len(toks):
                    raise self._err("option needs an argument", lineno, t)
                args = toks[i + 1:i + 1 + n]
                try:
                    e.parse(opt, args, inv, data, r)
                except ValueError as ex:
                    raise self._err(str(ex), lineno, t) from None
                inv = False
                i += 1 + n
                continue
            raise self._err("bad argument", lineno, t)
        if inv:
            raise self._err("'!' without an option", lineno, "!")
        for e, m in loaded:
            if isinstance(e, ext.TcpUdp) and (r.proto != e.proto or r.proto_inv):
                raise self._err(f"-m {e.name} needs -p {e.name}", lineno, e.name)
            if isinstance(e, ext.Icmp) and (r.proto != (1 if fam == 4 else 58) or r.proto_inv):
                raise self._err(f"-m {e.name} needs -p {e.name}", lineno, e.name)
            if not m.data and not isinstance(e, (ext.TcpUdp,)):
                raise self._err(f"match {e.name} needs an option", lineno, e.name)
            try:
                e.finish(m.data, r)
            except ValueError as ex:
                raise self._err(str(ex), lineno, e.name) from None
        if r.target in tt:
            try:
                tt[r.target].finish(r.target_data, r)
            except ValueError as ex:
                raise self._err(str(ex), lineno, r.target) from None

    # ---------------------------------------------------------------- save
    def save(self, counters=None) -> str:
        """iptables-save -c text.  ``counters``: None (the parsed ones), or a
        pair (pkts, bytes) of arrays indexed by CompiledRules' global rule
        index (rules and policies; see CompiledRules.counters())."""
        lines = []
        idx = _index_map(self)
        for t in self.tables.values():
            lines.append(f"*{t.name}")
            for c in t.chains.values():
                pk, by = c.pkts, c.bytes
                if counters is not None and c.builtin:
                    k = idx[(t.name, c.name, 0)]
                    pk, by = int(counters[0][k]), int(counters[1][k])
                lines.append(f":{c.name} {c.policy or '-'} [{pk}:{by}]")
            for c in t.chains.values():
                for n, r in enumerate(c.rules, 1):
                    pk, by = r.pkts, r.bytes
                    if counters is not None:
                        k = idx[(t.name, c.name, n)]
                        pk, by = int(counters[0][k]), int(counters[1][k])
                    lines.append(f"[{pk}:{by}] {r.text()}")
            lines.append("COMMIT")
        return "\n".join(lines) + "\n"

    def rules(self):
        for t in self.tables.values():
            for c in t.chains.values():
                yield from c.rules


class _Unsupported(Exception):
    def __init__(self, msg, token):
        self.msg, self.token = msg, token


def layout(rs: Ruleset):
    """The global rule order of the compiled form (as ipt_do_table's blob):
    per table in TABLES order, per chain in save order, the chain's rules
    then its hidden last rule (policy for built-in chains, RETURN for user
    chains).  Yields (table, chain, number, rule-or-None); number 0 = policy
    or hidden RETURN."""
    for tname in names.TABLES:
        t = rs.tables.get(tname)
        if t is None:
            continue
        for c in t.chains.values():
            for n, r in enumerate(c.rules, 1):
                yield t, c, n, r
            yield t, c, 0, None


def _index_map(rs):
    return {(t.name, c.name, n): i for i, (t, c, n, r) in enumerate(layout(rs))}


def strip_generated(text: str) -> str:
    """An iptables-save dump without its dated '# Generated/# Completed' lines."""
    return "".join(l for l in text.splitlines(True)
                   if not (l.startswith("# Generated by") or l.startswith("# Completed on")))
