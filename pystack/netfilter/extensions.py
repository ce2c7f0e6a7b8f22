"""The iptables match and target extensions the model knows: how each parses
its options and how iptables-save prints it back.

Parsing follows the iptables 1.8.9 userspace extensions (libxt_*.c,
libipt_*.c, libip6t_*.c): option spellings and defaults, the values the
kernel receives (quantised statistic probability, MARK forms folded into
value/mask xmark pairs).  Printing follows each extension's ->save():
options in the extension's fixed order, never in input order, which is
what makes `iptables-save` output canonical.

Each extension is an object with ``options`` (option -> number of
arguments), ``parse(opt, args, inv, data, ctx)`` and ``save(data) -> str``
(leading space included, as the C code prints it).  ``ctx`` is the rule
being parsed (family, protocol).  Errors are ValueError with a message
naming the option; the save-file parser adds file and line.
"""
from __future__ import annotations

from pystack.netfilter import names
from pystack.netfilter.addr import (
    format_cidr, format_ip, format_port_range, parse_cidr, parse_ip, parse_mark,
    parse_port_range, parse_u32,
)


def _save_string(value: str) -> str:
    """xtables_save_string: bare if only [A-Za-z0-9_-], else double quotes
    with backslash before \\ " and '."""
    ok = set("_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if value and all(c in ok for c in value):
        return " " + value
    out = []
    for c in value:
        if c in "\"\\'":
            out.append("\\")
        out.append(c)
    return ' "' + "".join(out) + '"'


def _inv(flag) -> str:
    return " !" if flag else ""


def _no_inv(opt, inv):
    if inv:
        raise ValueError(f"option {opt} cannot be inverted")


def _bits(spec, text, what):
    mask = 0
    table = dict(spec)
    for part in text.split(","):
        if part not in table:
            raise ValueError(f"bad {what} {part!r}")
        mask |= table[part]
    return mask


def _bits_str(spec, mask):
    return ",".join(n for n, b in spec if mask & b)


def _hex(v):
    return hex(v)


# ---------------------------------------------------------------- matches
class Ext:
    name = ""
    options: dict = {}
    aliases: dict = {}
    protos = None      # protocols the match needs with -p (checkentry)

    def canon(self, opt):
        return self.aliases.get(opt, opt)

    def finish(self, data, ctx):
        pass


class TcpUdp(Ext):
    def __init__(self, name, proto):
        self.name = name
        self.proto = proto
        self.options = {"--sport": 1, "--dport": 1}
        self.aliases = {"--source-port": "--sport", "--destination-port": "--dport"}
        if name == "tcp":
            self.options.update({"--tcp-flags": 2, "--syn": 0})

    def parse(self, opt, args, inv, d, ctx):
        if opt in ("--sport", "--dport"):
            if opt in d:
                raise ValueError(f"only one {opt} allowed")
            d[opt] = parse_port_range(args[0])
            d[opt + "!"] = inv
        elif opt == "--syn":
            if "flags" in d:
                raise ValueError("only one --syn / --tcp-flags allowed")
            d["flags"] = (0x17, 0x02, inv)
        elif opt == "--tcp-flags":
            if "flags" in d:
                raise ValueError("only one --syn / --tcp-flags allowed")
            spec = names.TCP_FLAGS + tuple(names.TCP_FLAG_ALIASES.items())
            d["flags"] = (_bits(spec, args[0], "TCP flag"), _bits(spec, args[1], "TCP flag"), inv)

    def save(self, d):
        out = ""
        for opt in ("--sport", "--dport"):
            if opt in d:
                lo, hi = d[opt]
                if lo == 0 and hi == 65535 and not d[opt + "!"]:
                    continue
                out += f"{_inv(d[opt + '!'])} {opt} {format_port_range(lo, hi)}"
        if "flags" in d:
            m, c, inv = d["flags"]
            f = lambda x: _bits_str(names.TCP_FLAGS, x) or "NONE"
            out += f"{_inv(inv)} --tcp-flags {f(m)} {f(c)}"
        return out


class Icmp(Ext):
    def __init__(self, family):
        self.family = family
        self.name = "icmp" if family == 4 else "icmp6"
        self.opt = "--icmp-type" if family == 4 else "--icmpv6-type"
        self.options = {self.opt: 1}
        self.table = names.ICMP_TYPES if family == 4 else names.ICMP6_TYPES

    def parse(self, opt, args, inv, d, ctx):
        t = args[0]
        if t in self.table:
            v = self.table[t]
        else:
            try:
                if "/" in t:
                    a, b = t.split("/", 1)
                    v = (int(a), int(b), int(b))
                else:
                    v = (int(t), 0, 0xFF)
            except ValueError:
                raise ValueError(f"invalid ICMP type {t!r}") from None
            if not all(0 <= x <= 255 for x in v):
                raise ValueError(f"invalid ICMP type {t!r}")
        d["type"] = v
        d["inv"] = inv

    def save(self, d):
        t, lo, hi = d["type"]
        if t == 0xFF and self.family == 4:
            s = "any"
        else:
            s = str(t)
            if lo != 0 or hi != 0xFF:
                s += f"/{lo}"
        return f"{_inv(d['inv'])} {self.opt} {s}"


class Multiport(Ext):
    name = "multiport"
    options = {"--sports": 1, "--dports": 1, "--ports": 1}
    aliases = {"--source-ports": "--sports", "--destination-ports": "--dports"}

    def parse(self, opt, args, inv, d, ctx):
        if "which" in d:
            raise ValueError("multiport can only have one option")
        ranges = []
        n = 0
        for part in args[0].split(","):
            lo, hi = parse_port_range(part)
            ranges.append((lo, hi, ":" in part))
            n += 2 if ":" in part else 1
        if n > 15:
            raise ValueError("too many ports specified")
        d["which"] = opt
        d["ranges"] = ranges
        d["inv"] = inv

    def finish(self, d, ctx):
        if ctx.proto not in (6, 17, 132, 33, 136) or ctx.proto_inv:
            raise ValueError("multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP")

    def save(self, d):
        parts = [format_port_range(lo, hi) if isr else str(lo) for lo, hi, isr in d["ranges"]]
        return f"{_inv(d['inv'])} {d['which']} {','.join(parts)}"


_CT_ADDR = ("--ctorigsrc", "--ctorigdst", "--ctreplsrc", "--ctrepldst")
_CT_PORT = ("--ctorigsrcport", "--ctorigdstport", "--ctreplsrcport", "--ctrepldstport")


class Conntrack(Ext):
    name = "conntrack"

    def __init__(self, family):
        self.family = family

    options = dict({"--ctstate": 1, "--ctstatus": 1, "--ctproto": 1, "--ctdir": 1},
                   **{o: 1 for o in _CT_ADDR + _CT_PORT})

    def parse(self, opt, args, inv, d, ctx):
        a = args[0]
        if opt == "--ctstate":
            d[opt] = (_bits(names.CTSTATE_BITS, a, "ctstate"), inv)
        elif opt == "--ctstatus":
            d[opt] = (0 if a == "NONE" else _bits(names.CTSTATUS_BITS, a, "ctstatus"), inv)
        elif opt == "--ctproto":
            p = names.PROTO_NUMBERS.get(a.lower())
            if p is None:
                if not a.isdigit() or int(a) > 255:
                    raise ValueError(f"unknown protocol {a!r}")
                p = int(a)
            d[opt] = (p, inv)
        elif opt == "--ctdir":
            _no_inv(opt, inv)
            if a.upper() not in ("ORIGINAL", "REPLY"):
                raise ValueError(f"bad --ctdir {a!r}")
            d[opt] = a.upper()
        elif opt in _CT_ADDR:
            d[opt] = (parse_cidr(ctx.family, a), inv)
        else:
            d[opt] = (parse_port_range(a), inv)

    def save(self, d):
        out = ""
        if "--ctstate" in d:
            m, inv = d["--ctstate"]
            out += f"{_inv(inv)} --ctstate {_bits_str(names.CTSTATE_BITS, m)}"
        if "--ctproto" in d:
            p, inv = d["--ctproto"]
            out += f"{_inv(inv)} --ctproto {p}"
        for o in _CT_ADDR:
            if o in d:
                (raw, mask), inv = d[o]
                # libxt_conntrack prints a full-length mask without /32
                out += f"{_inv(inv)} {o} {format_cidr(self.family, raw, mask, False)}"
        for o in _CT_PORT:
            if o in d:
                (lo, hi), inv = d[o]
                out += f"{_inv(inv)} {o} {format_port_range(lo, hi)}"
        if "--ctstatus" in d:
            m, inv = d["--ctstatus"]
            out += f"{_inv(inv)} --ctstatus {_bits_str(names.CTSTATUS_BITS, m) or 'NONE'}"
        if "--ctdir" in d:
            out += f" --ctdir {d['--ctdir']}"
        return out


class State(Ext):
    name = "state"
    options = {"--state": 1}

    def parse(self, opt, args, inv, d, ctx):
        d["--state"] = (_bits(names.CTSTATE_BITS[:5], args[0], "state"), inv)

    def save(self, d):
        m, inv = d["--state"]
        return f"{_inv(inv)} --state {_bits_str(names.CTSTATE_BITS, m)}"


class Statistic(Ext):
    name = "statistic"
    options = {"--mode": 1, "--probability": 1, "--every": 1, "--packet": 1}

    def parse(self, opt, args, inv, d, ctx):
        a = args[0]
        if opt == "--mode":
            _no_inv(opt, inv)
            if a not in ("random", "nth"):
                raise ValueError(f"bad mode {a!r}")
            d["mode"] = a
        elif opt == "--probability":
            try:
                p = float(a)
            except ValueError:
                raise ValueError(f"bad --probability {a!r}") from None
            if not 0.0 <= p <= 1.0:
                raise ValueError("--probability must be between 0 and 1")
            # libxt_statistic.c statistic_parse: lround(0x80000000 * prob)
            x = 0x80000000 * p
            d["prob"] = int(x + 0.5) if x >= 0 else int(x - 0.5)
            d["inv"] = d.get("inv", False) or inv
        elif opt == "--every":
            n = parse_u32(a)
            if n == 0:
                raise ValueError("--every cannot be 0")
            d["every"] = n - 1
            d["inv"] = d.get("inv", False) or inv
        else:
            _no_inv(opt, inv)
            d["packet"] = parse_u32(a)

    def finish(self, d, ctx):
        mode = d.get("mode")
        if mode is None:
            raise ValueError("no mode specified")
        if mode == "random" and ("every" in d or "packet" in d or "prob" not in d):
            raise ValueError("--mode random needs --probability and nothing else")
        if mode == "nth":
            if "prob" in d or "every" not in d:
                raise ValueError("--mode nth needs --every")
            if "packet" not in d:
                raise ValueError('option "--every" also requires "--packet"')
            if d["packet"] > d["every"]:
                raise ValueError("--packet can't be larger than --every")

    def save(self, d):
        inv = _inv(d.get("inv"))
        if d["mode"] == "random":
            return f" --mode random{inv} --probability {d['prob'] / 0x80000000:.11f}"
        return f" --mode nth{inv} --every {d['every'] + 1} --packet {d['packet']}"


class Comment(Ext):
    name = "comment"
    options = {"--comment": 1}

    def parse(self, opt, args, inv, d, ctx):
        _no_inv(opt, inv)
        if len(args[0].encode()) > 255:
            raise ValueError("comment too long (max 255 bytes)")
        d["text"] = args[0]

    def finish(self, d, ctx):
        if "text" not in d:
            raise ValueError("comment needs --comment")

    def save(self, d):
        return " --comment" + _save_string(d["text"])


class Mark(Ext):
    def __init__(self, name):
        self.name = name
        self.options = {"--mark": 1}

    def parse(self, opt, args, inv, d, ctx):
        d["mark"] = parse_mark(args[0])
        d["inv"] = inv

    def save(self, d):
        v, m = d["mark"]
        s = _hex(v) if m == 0xFFFFFFFF else f"{_hex(v)}/{_hex(m)}"
        return f"{_inv(d['inv'])} --mark {s}"


class Addrtype(Ext):
    name = "addrtype"
    options = {"--src-type": 1, "--dst-type": 1}

    def parse(self, opt, args, inv, d, ctx):
        spec = [(n, 1 << i) for i, n in enumerate(names.RTN_NAMES)]
        d[opt] = (_bits(spec, args[0], "address type"), inv)

    def save(self, d):
        spec = [(n, 1 << i) for i, n in enumerate(names.RTN_NAMES)]
        out = ""
        for o in ("--src-type", "--dst-type"):
            if o in d:
                m, inv = d[o]
                out += f"{_inv(inv)} {o} {_bits_str(spec, m)}"
        return out


class Physdev(Ext):
    name = "physdev"
    options = {"--physdev-in": 1, "--physdev-out": 1}

    def parse(self, opt, args, inv, d, ctx):
        d[opt] = (args[0], inv)

    def save(self, d):
        out = ""
        for o in ("--physdev-in", "--physdev-out"):
            if o in d:
                out += f"{_inv(d[o][1])} {o} {d[o][0]}"
        return out


def match_table(family: int) -> dict:
    ct = Conntrack(family)
    t = {"tcp": TcpUdp("tcp", 6), "udp": TcpUdp("udp", 17), "multiport": Multiport(),
         "conntrack": ct, "state": State(), "statistic": Statistic(),
         "comment": Comment(), "mark": Mark("mark"), "connmark": Mark("connmark"),
         "addrtype": Addrtype(), "physdev": Physdev()}
    ic = Icmp(family)
    t[ic.name] = ic
    return t


# ---------------------------------------------------------------- targets
class Target(Ext):
    terminal = False


class Reject(Target):
    name = "REJECT"
    options = {"--reject-with": 1}

    def __init__(self, family):
        self.family = family

    def parse(self, opt, args, inv, d, ctx):
        _no_inv(opt, inv)
        tbl, al = ((names.REJECT4, names.REJECT4_ALIASES) if self.family == 4
                   else (names.REJECT6, names.REJECT6_ALIASES))
        w = al.get(args[0], args[0])
        if w not in tbl:
            raise ValueError(f"unknown reject type {args[0]!r}")
        d["with"] = w

    def finish(self, d, ctx):
        d.setdefault("with", "icmp-port-unreachable" if self.family == 4
                     else "icmp6-port-unreachable")
        if d["with"] == "tcp-reset" and (ctx.proto != 6 or ctx.proto_inv):
            raise ValueError("TCP RST can only be used with -p tcp")

    def kind(self, d):
        if self.family == 4:
            return names.REJECT4.index(d["with"]) + 1
        return names.REJECT6.index(d["with"]) + names.REJECT6_BASE

    def save(self, d):
        return f" --reject-with {d['with']}"


def _parse_nat_range(family, text, with_addr=True):
    """DNAT/SNAT range: ip[-ip][:port[-port]], IPv6 as [ip[-ip]]:port[-port]
    (libxt_NAT.c parse_to). Returns dict(flags, min, max, pmin, pmax)."""
    addr = text
    ports = None
    if family == 6:
        if text.startswith("["):
            end = text.find("]")
            if end < 0:
                raise ValueError(f"invalid address range {text!r}")
            addr = text[1:end]
            rest = text[end + 1:]
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(f"invalid address range {text!r}")
                ports = rest[1:]
        else:
            addr = text
    else:
        if ":" in text:
            addr, ports = text.split(":", 1)
    r = {"flags": 0, "min": bytes(16), "max": bytes(16), "pmin": 0, "pmax": 0}
    if addr:
        if "-" in addr:
            a, b = addr.split("-", 1)
        else:
            a = b = addr
        r["min"], r["max"] = parse_ip(family, a), parse_ip(family, b)
        if r["min"] > r["max"]:
            raise ValueError(f"invalid address range {addr!r}")
        r["flags"] |= 1
    if ports is not None:
        lo, hi = parse_port_range(ports, "-")
        r["pmin"], r["pmax"] = lo, hi
        r["flags"] |= 2
    return r


def _format_nat_range(family, r):
    out = ""
    if r["flags"] & 1:
        a = format_ip(family, r["min"])
        if r["max"] != r["min"]:
            a += "-" + format_ip(family, r["max"])
        out = a
        if family == 6 and r["flags"] & 2:
            out = f"[{a}]"
    if r["flags"] & 2:
        out += f":{r['pmin']}" + (f"-{r['pmax']}" if r["pmax"] != r["pmin"] else "")
    return out


class Nat(Target):
    terminal = True

    def __init__(self, name, family):
        self.name = name
        self.family = family
        if name in ("DNAT", "SNAT"):
            self.rangeopt = "--to-destination" if name == "DNAT" else "--to-source"
            self.options = {self.rangeopt: 1, "--random": 0, "--persistent": 0}
            if name == "SNAT":
                self.options["--random-fully"] = 0
        else:
            self.rangeopt = "--to-ports"
            self.options = {"--to-ports": 1, "--random": 0}
            if name == "MASQUERADE":
                self.options["--random-fully"] = 0

    def parse(self, opt, args, inv, d, ctx):
        _no_inv(opt, inv)
        if opt == self.rangeopt:
            if "range" in d:
                raise ValueError(f"multiple {opt} not supported")
            if opt == "--to-ports":
                lo, hi = parse_port_range(args[0], "-")
                d["range"] = {"flags": 2, "min": bytes(16), "max": bytes(16),
                              "pmin": lo, "pmax": hi}
            else:
                d["range"] = _parse_nat_range(self.family, args[0])
        else:
            d[opt] = True

    def finish(self, d, ctx):
        if self.name in ("DNAT", "SNAT") and "range" not in d:
            raise ValueError(f"{self.name} needs {self.rangeopt}")
        r = d.setdefault("range", {"flags": 0, "min": bytes(16), "max": bytes(16),
                                   "pmin": 0, "pmax": 0})
        if r["flags"] & 2 and (ctx.proto not in (6, 17, 132, 33, 136) or ctx.proto_inv):
            raise ValueError("Need TCP, UDP, SCTP or DCCP with port specification")
        flags = r["flags"]
        if d.get("--random"):
            flags |= 4
        if d.get("--persistent"):
            flags |= 8
        if d.get("--random-fully"):
            flags |= 16
        d["flags"] = flags

    def kind(self, d):
        return names.NAT_KINDS.index(self.name)

    def save(self, d):
        r = d["range"]
        out = ""
        if self.rangeopt == "--to-ports":
            if r["flags"] & 2:
                out += f" --to-ports {r['pmin']}" + (f"-{r['pmax']}" if r["pmax"] != r["pmin"] else "")
        else:
            out += f" {self.rangeopt} {_format_nat_range(self.family, r)}"
        for o in ("--random", "--random-fully", "--persistent"):
            if d.get(o):
                out += " " + o
        return out


class MarkTarget(Target):
    name = "MARK"
    options = {"--set-xmark": 1, "--set-mark": 1, "--and-mark": 1, "--or-mark": 1,
               "--xor-mark": 1}

    def parse(self, opt, args, inv, d, ctx):
        _no_inv(opt, inv)
        if "xmark" in d:
            raise ValueError("MARK target: can only specify one action")
        d["xmark"] = _xmark(opt, args[0])

    def finish(self, d, ctx):
        if "xmark" not in d:
            raise ValueError("MARK target: parameter is required")

    def save(self, d):
        v, m = d["xmark"]
        return f" --set-xmark {_hex(v)}/{_hex(m)}"


def _xmark(opt, a):
    """libxt_MARK.c / libxt_CONNMARK.c: every form as (value, mask) with
    new = (old & ~mask) ^ value."""
    if opt == "--set-xmark":
        return parse_mark(a)
    if opt == "--set-mark":
        v, m = parse_mark(a)
        return v, m | v
    v = parse_u32(a)
    if opt == "--and-mark":
        return 0, (~v) & 0xFFFFFFFF
    if opt == "--or-mark":
        return v, v
    return v, 0                                # --xor-mark


class Connmark(Target):
    name = "CONNMARK"
    options = {"--set-xmark": 1, "--set-mark": 1, "--and-mark": 1, "--or-mark": 1,
               "--xor-mark": 1, "--save-mark": 0, "--restore-mark": 0,
               "--nfmask": 1, "--ctmask": 1, "--mask": 1}

    def parse(self, opt, args, inv, d, ctx):
        _no_inv(opt, inv)
        if opt in ("--save-mark", "--restore-mark") or opt in MarkTarget.options:
            if "mode" in d:
                raise ValueError("CONNMARK target: can only specify one action")
        if opt in MarkTarget.options:
            d["mode"] = "set"
            d["xmark"] = _xmark(opt, args[0])
        elif opt in ("--save-mark", "--restore-mark"):
            d["mode"] = opt[2:-5]
        elif opt == "--mask":
            d["nfmask"] = d["ctmask"] = parse_u32(args[0])
        else:
            d[opt[2:]] = parse_u32(args[0])

    def finish(self, d, ctx):
        if "mode" not in d:
            raise ValueError("CONNMARK target: no operation specified")
        if d["mode"] == "set" and ("nfmask" in d or "ctmask" in d):
            raise ValueError("CONNMARK: --nfmask/--ctmask only with --save-mark/--restore-mark")
        d.setdefault("nfmask", 0xFFFFFFFF)
        d.setdefault("ctmask", 0xFFFFFFFF)

    def save(self, d):
        if d["mode"] == "set":
            v, m = d["xmark"]
            return f" --set-xmark {_hex(v)}/{_hex(m)}"
        return f" --{d['mode']}-mark --nfmask {_hex(d['nfmask'])} --ctmask {_hex(d['ctmask'])}"


class Log(Target):
    name = "LOG"
    options = {"--log-level": 1, "--log-prefix": 1, "--log-tcp-sequence": 0,
               "--log-tcp-options": 0, "--log-ip-options": 0, "--log-uid": 0,
               "--log-macdecode": 0}

    def parse(self, opt, args, inv, d, ctx):
        _no_inv(opt, inv)
        if opt == "--log-level":
            a = args[0]
            lv = names.LOG_LEVELS.get(a, int(a) if a.isdigit() and int(a) < 8 else None)
            if lv is None:
                raise ValueError(f"unknown --log-level {a!r}")
            d["level"] = lv
        elif opt == "--log-prefix":
            if len(args[0].encode()) > 29:
                raise ValueError("Maximum prefix length 29 for --log-prefix")
            d["prefix"] = args[0]
        else:
            d[opt] = True

    def save(self, d):
        out = ""
        if "prefix" in d:
            out += " --log-prefix" + _save_string(d["prefix"])
        if d.get("level", 4) != 4:
            out += f" --log-level {d['level']}"
        for o in ("--log-tcp-sequence", "--log-tcp-options", "--log-ip-options",
                  "--log-uid", "--log-macdecode"):
            if d.get(o):
                out += " " + o
        return out


class Nflog(Target):
    name = "NFLOG"
    options = {"--nflog-group": 1, "--nflog-prefix": 1, "--nflog-range": 1,
               "--nflog-size": 1, "--nflog-threshold": 1}

    def parse(self, opt, args, inv, d, ctx):
        _no_inv(opt, inv)
        if opt == "--nflog-prefix":
            if len(args[0].encode()) > 63:
                raise ValueError("--nflog-prefix too long")
            d["prefix"] = args[0]
        else:
            d[opt] = parse_u32(args[0])

    def save(self, d):
        out = ""
        if d.get("--nflog-group", 0):
            out += f" --nflog-group {d['--nflog-group']}"
        if "prefix" in d:
            out += " --nflog-prefix" + _save_string(d["prefix"])
        if "--nflog-size" in d:
            out += f" --nflog-size {d['--nflog-size']}"
        if d.get("--nflog-threshold", 1) != 1:
            out += f" --nflog-threshold {d['--nflog-threshold']}"
        return out


class Plain(Target):
    """A target without options (NOTRACK)."""

    def __init__(self, name):
        self.name = name
        self.options = {}

    def parse(self, opt, args, inv, d, ctx):
        raise ValueError(f"unknown option {opt}")

    def save(self, d):
        return ""


class Ct(Target):
    """CT: only --notrack is modelled (zones, helpers, timeouts are not)."""
    name = "CT"
    options = {"--notrack": 0}

    def parse(self, opt, args, inv, d, ctx):
        _no_inv(opt, inv)
        d["notrack"] = True

    def finish(self, d, ctx):
        if not d.get("notrack"):
            raise ValueError("CT: only --notrack is supported")

    def save(self, d):
        return " --notrack"


def target_table(family: int) -> dict:
    return {"REJECT": Reject(family), "DNAT": Nat("DNAT", family),
            "SNAT": Nat("SNAT", family), "MASQUERADE": Nat("MASQUERADE", family),
            "REDIRECT": Nat("REDIRECT", family), "MARK": MarkTarget(),
            "CONNMARK": Connmark(), "LOG": Log(), "NFLOG": Nflog(),
            "NOTRACK": Plain("NOTRACK"), "CT": Ct()}


STANDARD_TARGETS = ("ACCEPT", "DROP", "RETURN")
