"""bench.gen: structure, checksums and determinism of the benchmark traces.

Every packet of small-scale traces is parsed with dpkt; every IPv4 header
checksum and every TCP/UDP/ICMP/ICMPv6 checksum is recomputed independently
(dpkt.in_cksum over pseudo header + segment must give 0).
"""
import collections
import hashlib
import os
import pathlib
import struct
import subprocess
import sys

import pytest

dpkt = pytest.importorskip("dpkt")

from bench import gen  # noqa: E402

SCALE = 0.002


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("traces"))
    return {name: gen.generate(name, SCALE, out=out, log=None) for name in gen.TRACES}


def _read(path):
    with open(path, "rb") as f:
        magic = struct.unpack("<I", f.read(4))[0]
        f.seek(0)
        pkts = list(dpkt.pcap.Reader(f))
    return magic, pkts


def _pseudo(ip, l4len, proto):
    if isinstance(ip, dpkt.ip.IP):
        return ip.src + ip.dst + struct.pack(">BBH", 0, proto, l4len)
    return ip.src + ip.dst + struct.pack(">IxxxB", l4len, proto)


def _check_packet(buf):
    """Parse and verify one frame; returns (eth, ip, l4) with checksums verified."""
    eth = dpkt.ethernet.Ethernet(buf)
    ip = eth.data
    l3 = 18 if buf[12:14] == b"\x81\x00" else 14
    assert bool(getattr(eth, "vlan_tags", None)) == (l3 == 18)
    if isinstance(ip, dpkt.ip.IP):
        assert dpkt.in_cksum(buf[l3:l3 + ip.hl * 4]) == 0, "IPv4 header checksum"
        assert ip.len <= len(buf) - l3
        seg = buf[l3 + ip.hl * 4: l3 + ip.len]
        proto = ip.p
    elif isinstance(ip, dpkt.ip6.IP6):
        seg = buf[l3 + 40: l3 + 40 + ip.plen]
        proto = ip.nxt
    else:
        raise AssertionError(f"unexpected L3 {type(ip)}")
    if proto in (6, 17, 58):
        assert dpkt.in_cksum(_pseudo(ip, len(seg), proto) + seg) == 0, f"L4 checksum proto {proto}"
    elif proto == 1:
        assert dpkt.in_cksum(seg) == 0, "ICMP checksum"
    if proto == 17:
        assert struct.unpack(">H", seg[6:8])[0] != 0
    # padding only to the Ethernet minimum, and it is zero
    end = l3 + (ip.len if isinstance(ip, dpkt.ip.IP) else 40 + ip.plen)
    assert end == len(buf) or (len(buf) == 60 and buf[end:] == bytes(60 - end))
    return eth, ip, ip.data


def _flow(ip, l4):
    return (ip.src, ip.dst, l4.sport, l4.dport)


def test_synflood_structure_and_checksums(traces):
    path, meta = traces["synflood"]
    magic, pkts = _read(path)
    assert magic == gen.PCAP_MAGIC_US
    assert len(pkts) == meta["packets"] == 8000
    last = -1
    for ts, buf in pkts:
        assert len(buf) == 60
        eth, ip, tcp = _check_packet(buf)
        assert isinstance(tcp, dpkt.tcp.TCP)
        assert ip.len == 44 and ip.dst == bytes([198, 18, 0, 1]) and tcp.dport == 80
        assert ip.src[0] not in (0, 10, 127) and ip.src[0] < 224
        assert tcp.flags == dpkt.tcp.TH_SYN and tcp.ack == 0
        assert dpkt.tcp.parse_opts(tcp.opts) == [(dpkt.tcp.TCP_OPT_MSS, b"\x05\xb4")]
        assert ts > last
        last = ts
    assert len({(p[1][26:30], p[1][34:36]) for p in pkts}) > 7900      # random sources


def test_bulk_structure_and_checksums(traces):
    path, meta = traces["bulk"]
    magic, pkts = _read(path)
    assert magic == gen.PCAP_MAGIC_NS
    assert len(pkts) == meta["packets"]
    nxt = {}        # data flow -> next expected seq
    acked = {}
    ndata = collections.Counter()
    nack = collections.Counter()
    last = 0
    for ts, buf in pkts:
        assert ts >= last
        last = ts
        eth, ip, tcp = _check_packet(buf)
        assert isinstance(tcp, dpkt.tcp.TCP)
        f = _flow(ip, tcp)
        opts = dict(dpkt.tcp.parse_opts(tcp.opts))
        if tcp.flags & dpkt.tcp.TH_SYN:
            assert set(opts) >= {dpkt.tcp.TCP_OPT_MSS, dpkt.tcp.TCP_OPT_SACKOK,
                                 dpkt.tcp.TCP_OPT_TIMESTAMP, dpkt.tcp.TCP_OPT_WSCALE}
            assert len(buf) == 74
            if tcp.dport == 5201:
                nxt[f] = (tcp.seq + 1) & 0xFFFFFFFF
            continue
        assert dpkt.tcp.TCP_OPT_TIMESTAMP in opts and tcp.off == 8
        if tcp.data:
            assert len(buf) == 1514 and len(tcp.data) == 1448
            assert tcp.seq == nxt[f]
            nxt[f] = (tcp.seq + 1448) & 0xFFFFFFFF
            ndata[f] += 1
        elif tcp.sport == 5201 and not tcp.flags & dpkt.tcp.TH_FIN:
            rev = (ip.dst, ip.src, tcp.dport, tcp.sport)
            if rev in ndata:   # ACK of data: every second segment, acks all data so far
                assert ndata[rev] % 2 == 0
                assert tcp.ack == nxt[rev]
                nack[rev] += 1
                acked[rev] = tcp.ack
    assert len(ndata) == 4
    assert all(ndata[f] == 2 * nack[f] for f in ndata)
    assert sum(len(b) for _, b in pkts) == meta["captured_bytes"]


def test_mix_structure_and_checksums(traces):
    path, meta = traces["mix"]
    magic, pkts = _read(path)
    assert magic == gen.PCAP_MAGIC_US
    assert len(pkts) == meta["packets"]
    kinds = collections.Counter()
    syn = set()
    synack = set()
    nxt = {}
    last = 0
    for ts, buf in pkts:
        assert ts >= last
        last = ts
        eth, ip, l4 = _check_packet(buf)
        kinds["v6" if isinstance(ip, dpkt.ip6.IP6) else "v4"] += 1
        if getattr(eth, "vlan_tags", None):
            kinds["vlan"] += 1
            assert eth.vlan_tags[0].id in (100, 200, 300)
        if isinstance(l4, dpkt.tcp.TCP):
            kinds["tcp"] += 1
            f = _flow(ip, l4)
            rev = (f[1], f[0], f[3], f[2])
            if l4.flags & dpkt.tcp.TH_SYN:
                nxt[f] = (l4.seq + 1) & 0xFFFFFFFF
            elif f in nxt and not l4.flags & dpkt.tcp.TH_RST:
                # in-order, gap-free sequence space; ACKs never ahead of what was sent
                assert l4.seq == nxt[f], "seq continuity"
                nxt[f] = (l4.seq + len(l4.data) + (l4.flags & dpkt.tcp.TH_FIN)) & 0xFFFFFFFF
                if rev in nxt:
                    assert (nxt[rev] - l4.ack) & 0xFFFFFFFF < 1 << 30, "ack beyond sent data"
            if l4.flags & dpkt.tcp.TH_RST:
                kinds["rst"] += 1
            if l4.flags & dpkt.tcp.TH_FIN:
                kinds["fin"] += 1
            if l4.flags == dpkt.tcp.TH_SYN:
                syn.add((_flow(ip, l4), l4.seq))
            elif l4.flags == dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK:
                synack.add(((ip.dst, ip.src, l4.dport, l4.sport), (l4.ack - 1) & 0xFFFFFFFF))
            if l4.data[:4] == b"GET ":
                kinds["http"] += 1
        elif isinstance(l4, dpkt.udp.UDP):
            kinds["udp"] += 1
            assert 53 in (l4.sport, l4.dport)
            dns = dpkt.dns.DNS(l4.data)
            assert len(dns.qd) == 1
        elif isinstance(l4, (dpkt.icmp.ICMP, dpkt.icmp6.ICMP6)):
            kinds["icmp"] += 1
            if l4.type in (3, 1):
                kinds["unreach"] += 1
        else:
            raise AssertionError(type(l4))
    n = len(pkts)
    assert 0.06 < kinds["v6"] / n < 0.14, kinds
    assert 0.02 < kinds["vlan"] / n < 0.09, kinds
    for k in ("tcp", "udp", "icmp", "rst", "fin", "http", "unreach"):
        assert kinds[k] > 0, k
    assert synack and synack <= syn          # every SYN-ACK answers a SYN seen earlier
    assert 2_000 < n < 6_000


def test_deterministic_sha256(tmp_path, traces):
    for name in gen.TRACES:
        path, meta = gen.generate(name, SCALE, out=str(tmp_path), log=None, force=True)
        h = hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()
        assert h == meta["sha256"] == traces[name][1]["sha256"], name


def test_deterministic_across_processes(tmp_path, traces):
    """A fresh interpreter with another hash seed writes the same bytes."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONHASHSEED="12345")
    subprocess.run([sys.executable, "-m", "bench.gen", "all", "--scale", str(SCALE),
                    "--out", str(tmp_path)], cwd=root, env=env, check=True, capture_output=True)
    for name in gen.TRACES:
        path = gen.trace_path(name, SCALE, str(tmp_path))
        assert gen.sha256_file(path) == traces[name][1]["sha256"], name


def test_skip_when_current(tmp_path):
    p1, m1 = gen.generate("synflood", 0.0005, out=str(tmp_path), log=None)
    mtime = os.path.getmtime(p1)
    p2, m2 = gen.generate("synflood", 0.0005, out=str(tmp_path), log=None)
    assert p1 == p2 and os.path.getmtime(p2) == mtime and m1 == m2
    assert os.path.basename(p1) == "synflood-x0.0005.pcap"
    assert m1["params"] == {"trace": "synflood", "scale": 0.0005, "gen_version": gen.GEN_VERSION}


def test_cli(tmp_path):
    assert gen.main(["synflood", "--scale", "0.0005", "--out", str(tmp_path)]) == 0
    assert os.path.exists(gen.trace_path("synflood", 0.0005, str(tmp_path)))
