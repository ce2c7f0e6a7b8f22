"""The recorder's pure parts, exact values (no root, no namespaces):
/proc/net parsing, counter deltas, the capture cut at the counter read,
the host.toml writer (it must load as the scenario's server)."""
import os
import struct

import pytest

from bench.kernel import record, truth
from bench.kernel.scenarios import ALL
from pystack.config import load_host_config

SNMP = """Ip: Forwarding DefaultTTL InReceives
Ip: 2 64 10
Tcp: RtoAlgorithm CurrEstab InSegs
Tcp: 1 3 7
"""
NETSTAT = """TcpExt: ListenOverflows ListenDrops
TcpExt: 4 5
IpExt: InOctets
IpExt: 900
"""


def test_parse_pairs_names_like_nstat():
    c = truth.parse_pairs(SNMP)
    c.update(truth.parse_pairs(NETSTAT))
    assert c == {"IpForwarding": 2, "IpDefaultTTL": 64, "IpInReceives": 10,
                 "TcpRtoAlgorithm": 1, "TcpCurrEstab": 3, "TcpInSegs": 7,
                 "TcpExtListenOverflows": 4, "TcpExtListenDrops": 5, "IpExtInOctets": 900}


def test_parse_pairs_refuses_unpaired_lines():
    with pytest.raises(ValueError, match="unpaired"):
        truth.parse_pairs("Ip: A B\nTcp: 1 2\n")


def test_parse_snmp6():
    assert truth.parse_snmp6("Ip6InReceives   \t12\nUdp6NoPorts 0\nIcmp6InMsgs x\n") == \
        {"Ip6InReceives": 12, "Udp6NoPorts": 0}


def test_deltas_skip_gauges_and_zeros():
    before = {"TcpInSegs": 5, "TcpCurrEstab": 0, "TcpExtTW": 1}
    after = {"TcpInSegs": 9, "TcpCurrEstab": 2, "TcpExtTW": 1, "UdpNoPorts": 3}
    assert truth.deltas(before, after) == {"TcpInSegs": 4, "UdpNoPorts": 3}


def _pcap(path, stamps_ns, nano=True):
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 65535, 1)]
    for ts in stamps_ns:
        frac = ts % 1_000_000_000 if nano else (ts % 1_000_000_000) // 1000
        out.append(struct.pack("<IIII", ts // 1_000_000_000, frac, 3, 3) + b"abc")
    path.write_bytes(b"".join(out))


@pytest.mark.parametrize("nano", [True, False])
def test_trim_pcap_cuts_after_the_counter_read(tmp_path, nano):
    p = tmp_path / "c.pcap"
    base = 1_700_000_000 * 1_000_000_000
    _pcap(p, [base, base + 500_000_000, base + 999_500_000, base + 2_000_000_000], nano)
    kept, dropped, near = truth.trim_pcap(str(p), base + 1_000_000_000)
    assert (kept, dropped, near) == (3, 1, 1)
    assert os.path.getsize(p) == 24 + 3 * (16 + 3)


def test_trim_pcap_names_a_cut_record(tmp_path):
    p = tmp_path / "c.pcap"
    _pcap(p, [1_000_000_000])
    p.write_bytes(p.read_bytes()[:-1])
    with pytest.raises(ValueError, match="record at byte 24 runs past the end"):
        truth.trim_pcap(str(p), 2_000_000_000)


def test_host_toml_reproduces_the_server(tmp_path):
    sc = ALL["slow-reader-zero-window"]
    path = tmp_path / "host.toml"
    (tmp_path / "reads.csv").write_text("t_abs_ns,bytes,client_addr,client_port\n"
                                        "1000,2048,198.18.0.2,43000\n")
    record.write_host_toml(str(path), sc, {"net.ipv4.tcp_syncookies": 2}, "reads.csv",
                           "198.18.0.1")
    h = load_host_config(str(path))
    assert h.addresses == ["198.18.0.1"]
    [l] = h.listeners
    assert (l.port, l.backlog, l.rcvbuf) == (5001, 8, 4096)
    assert l.effective_rcvbuf(h.sysctls) == 8192
    assert l.app.accept.spec == "immediate"
    assert h.sysctls.get("net.ipv4.tcp_syncookies") == 2


def test_host_toml_udp_socket_has_no_accept(tmp_path):
    sc = ALL["nf-input-rules"]
    path = tmp_path / "host.toml"
    record.write_host_toml(str(path), sc, {}, None, "198.18.0.1")
    h = load_host_config(str(path))
    assert sorted((l.proto, l.port) for l in h.listeners) == \
        [("tcp", 6001), ("tcp", 6002), ("tcp", 6004), ("udp", 6003)]
