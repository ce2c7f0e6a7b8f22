"""Write pcap / pcapng bytes by hand, for odd cases dpkt will not produce."""

import struct

LE, BE = "<", ">"


# -- classic pcap -------------------------------------------------------------

def pcap_header(e=LE, nano=False, snaplen=65535, linktype=1, version=(2, 4)):
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    return struct.pack(e + "IHHiIII", magic, version[0], version[1], 0, 0, snaplen, linktype)


def pcap_record(sec, frac, data, e=LE, wirelen=None, caplen=None):
    caplen = len(data) if caplen is None else caplen
    wirelen = len(data) if wirelen is None else wirelen
    return struct.pack(e + "IIII", sec, frac, caplen, wirelen) + data


def pcap(records, e=LE, nano=False, snaplen=65535, linktype=1):
    """records: iterable of (sec, frac, data) or (sec, frac, data, wirelen)."""
    out = [pcap_header(e, nano, snaplen, linktype)]
    for r in records:
        out.append(pcap_record(r[0], r[1], r[2], e, *(r[3:4])))
    return b"".join(out)


# -- pcapng -------------------------------------------------------------------

def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def block(btype, body, e=LE):
    body = pad4(body)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def opt(code, value, e=LE):
    return struct.pack(e + "HH", code, len(value)) + pad4(value)


def opts(pairs, e=LE):
    if not pairs:
        return b""
    return b"".join(opt(c, v, e) for c, v in pairs) + struct.pack(e + "HH", 0, 0)


def shb(e=LE, major=1, minor=0, options=()):
    body = struct.pack(e + "IHHq", 0x1A2B3C4D, major, minor, -1) + opts(options, e)
    return block(0x0A0D0D0A, body, e)


def idb(linktype=1, snaplen=0, e=LE, name=None, tsresol=None, tsoffset=None, extra=()):
    o = []
    if name is not None:
        o.append((2, name.encode()))
    if tsresol is not None:
        o.append((9, bytes([tsresol])))
    if tsoffset is not None:
        o.append((14, struct.pack(e + "q", tsoffset)))
    o.extend(extra)
    return block(1, struct.pack(e + "HHI", linktype, 0, snaplen) + opts(o, e), e)


def epb(iface, ts, data, e=LE, wirelen=None, caplen=None):
    caplen = len(data) if caplen is None else caplen
    wirelen = len(data) if wirelen is None else wirelen
    body = struct.pack(e + "IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, caplen, wirelen) + pad4(data)
    return block(6, body, e)


def spb(data, e=LE, wirelen=None):
    wirelen = len(data) if wirelen is None else wirelen
    return block(3, struct.pack(e + "I", wirelen) + pad4(data), e)


def pb(iface, ts, data, e=LE, drops=0, wirelen=None):
    wirelen = len(data) if wirelen is None else wirelen
    body = struct.pack(e + "HHIIII", iface, drops, ts >> 32, ts & 0xFFFFFFFF, len(data), wirelen)
    return block(2, body + pad4(data), e)


def read_all(cap):
    """Every record of an open Capture as a list of dicts (copies)."""
    rows = []
    for rb in cap:
        cols = rb.columns()
        for i in range(rb.n):
            r = {k: int(v[i]) for k, v in cols.items()}
            r["data"] = rb.packet(i)
            rows.append(r)
    return rows
