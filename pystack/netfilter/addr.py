"""Addresses, masks, ports and marks as iptables parses and prints them.

Addresses are 16-byte strings (IPv4 in bytes 0..3, the rest zero) as in
nftypes.pxd NfPkt / NatRange.  Parsing follows xtables_ipparse_any /
xtables_ip6parse_any (numeric only: no host names, since name resolution
would make the result depend on the machine), printing follows
xtables_ipaddr_to_numeric / xtables_ipmask_to_numeric (contiguous masks as
/N, others dotted).
"""
from __future__ import annotations

import ipaddress


class AddrError(ValueError):
    pass


def _mask_bytes(family: int, plen: int) -> bytes:
    bits = 32 if family == 4 else 128
    val = ((1 << bits) - 1) ^ ((1 << (bits - plen)) - 1) if plen else 0
    raw = val.to_bytes(bits // 8, "big")
    return raw + b"\x00" * (16 - len(raw))


def parse_ip(family: int, text: str) -> bytes:
    try:
        a = ipaddress.IPv4Address(text) if family == 4 else ipaddress.IPv6Address(text)
    except ValueError:
        raise AddrError(f"invalid IPv{family} address {text!r}") from None
    raw = a.packed
    return raw + b"\x00" * (16 - len(raw))


def format_ip(family: int, raw: bytes) -> str:
    if family == 4:
        return str(ipaddress.IPv4Address(raw[:4]))
    return str(ipaddress.IPv6Address(raw[:16]))


def parse_cidr(family: int, text: str):
    """'a[/len|/mask]' -> (addr16 masked, mask16)."""
    if "/" in text:
        a, m = text.split("/", 1)
        if m.isdigit():
            plen = int(m)
            if plen > (32 if family == 4 else 128):
                raise AddrError(f"invalid mask {m!r}")
            mask = _mask_bytes(family, plen)
        else:
            mask = parse_ip(family, m)
    else:
        a = text
        mask = _mask_bytes(family, 32 if family == 4 else 128)
    raw = parse_ip(family, a)
    raw = bytes(x & y for x, y in zip(raw, mask))
    return raw, mask


def prefix_len(family: int, mask: bytes):
    """The prefix length of a contiguous mask, else None."""
    n = 4 if family == 4 else 16
    v = int.from_bytes(mask[:n], "big")
    bits = n * 8
    plen = bin(v).count("1")
    return plen if v == (((1 << bits) - 1) ^ ((1 << (bits - plen)) - 1) if plen else 0) else None


def format_cidr(family: int, raw: bytes, mask: bytes, full_suffix: bool = True) -> str:
    plen = prefix_len(family, mask)
    full = 32 if family == 4 else 128
    if plen is None:
        return f"{format_ip(family, raw)}/{format_ip(family, mask)}"
    if plen == full and not full_suffix:
        return format_ip(family, raw)
    return f"{format_ip(family, raw)}/{plen}"


def parse_port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise AddrError(f"invalid port/service {text!r}")
    return int(text)


def parse_port_range(text: str, sep: str = ":"):
    """'N', 'N:M', 'N:' and ':M' (xtables_parse_port_range)."""
    if sep in text:
        lo, hi = text.split(sep, 1)
        lo = parse_port(lo) if lo else 0
        hi = parse_port(hi) if hi else 65535
        if lo > hi:
            raise AddrError(f"invalid port range {text!r}")
        return lo, hi
    p = parse_port(text)
    return p, p


def format_port_range(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}:{hi}"


def parse_u32(text: str) -> int:
    try:
        v = int(text, 0)
    except ValueError:
        raise AddrError(f"invalid value {text!r}") from None
    if not 0 <= v <= 0xFFFFFFFF:
        raise AddrError(f"value {text!r} out of range")
    return v


def parse_mark(text: str, default_mask: int = 0xFFFFFFFF):
    """'value[/mask]' (xtables_parse_mark_mask)."""
    if "/" in text:
        v, m = text.split("/", 1)
        return parse_u32(v), parse_u32(m)
    return parse_u32(text), default_mask
