"""pystack.infer: host and listeners inferred from parsed columns."""
import ipaddress

import numpy as np
import pytest

from pystack.config import HostConfig, parse_host_config
from pystack.infer import Inference

PF_L4 = 1 << 9
PF_FRAG_LATER = 1 << 6
SYN, ACK, RST, FIN = 0x02, 0x10, 0x04, 0x01


def a16(s):
    a = ipaddress.ip_address(s)
    if a.version == 4:
        a = ipaddress.IPv6Address("::ffff:" + s)
    return a.packed


def cols(rows, proto=6, flags=PF_L4):
    """rows: (saddr, daddr, sport, dport, tcp_flags[, ip_proto[, pf_flags]])"""
    n = len(rows)
    get = lambda i, d: [r[i] if len(r) > i else d for r in rows]  # noqa: E731
    return {
        "tcp_flags": np.array(get(4, 0), dtype=np.uint16),
        "saddr": np.frombuffer(b"".join(a16(r[0]) for r in rows), np.uint8).reshape(n, 16),
        "daddr": np.frombuffer(b"".join(a16(r[1]) for r in rows), np.uint8).reshape(n, 16),
        "sport": np.array([r[2] for r in rows], dtype=np.uint16),
        "dport": np.array([r[3] for r in rows], dtype=np.uint16),
        "ip_proto": np.array(get(5, proto), dtype=np.uint8),
        "flags": np.array(get(6, flags), dtype=np.uint32),
        "ip_ver": np.array([4 if ":" not in r[0] else 6 for r in rows], dtype=np.uint8),
    }


def handshake(client, server, cport, sport):
    return [(client, server, cport, sport, SYN), (server, client, sport, cport, SYN | ACK),
            (client, server, cport, sport, ACK)]


def test_single_host_listeners():
    rows = []
    for i in range(5):
        rows += handshake(f"10.0.0.{i + 1}", "198.18.0.1", 40000 + i, 80)
    rows += handshake("10.0.0.9", "198.18.0.1", 50000, 443)
    rows.append(("10.0.0.9", "198.18.0.1", 50001, 22, SYN))          # unanswered
    rows.append(("198.18.0.1", "10.0.0.9", 22, 50001, RST | ACK))
    inf = Inference()
    inf.feed(cols(rows))
    cfg = inf.result()
    assert isinstance(cfg, HostConfig)
    assert cfg.addresses == ["198.18.0.1"]
    assert [l.label() for l in cfg.sorted_listeners()] == ["0.0.0.0:80/tcp", "0.0.0.0:443/tcp"]
    assert all(l.backlog == 4096 for l in cfg.listeners)
    assert any("backlog unknown" in n and "4096" in n for n in cfg.notes)
    assert cfg.sysctls.changed() == {}
    text = inf.describe()
    assert text.startswith("host 198.18.0.1 (sent 6 SYN-ACKs for 6 SYNs)")
    assert "tcp/80 (5 SYN-ACKs, 5 SYNs), tcp/443 (1 SYN-ACKs, 1 SYNs)" in text


def test_accumulates_over_batches_with_thousands_separator():
    inf = Inference()
    for b in range(3):
        rows = []
        for i in range(500):
            rows += handshake(f"10.{b}.{i // 250}.{i % 250 + 1}", "198.18.0.1", 1024 + i, 80)
        inf.feed(cols(rows))
    assert "sent 1,500 SYN-ACKs for 1,500 SYNs" in inf.describe()
    assert inf.packets == 4500


def test_peer_answering_host_connections_is_not_host():
    rows = handshake("10.0.0.1", "198.18.0.1", 40000, 80)
    rows += handshake("198.18.0.1", "10.9.9.9", 50000, 5432)      # host -> database
    inf = Inference()
    inf.feed(cols(rows))
    cfg = inf.result()
    assert cfg.addresses == ["198.18.0.1"]
    assert [l.port for l in cfg.listeners] == [80]
    assert any("10.9.9.9" in n and "not the host" in n for n in cfg.notes)


def test_two_independent_servers_are_both_host_deterministically():
    rows = handshake("10.0.0.1", "198.18.0.2", 40000, 80)
    rows += handshake("10.0.0.2", "198.18.0.1", 40001, 443)
    a, b = Inference(), Inference()
    a.feed(cols(rows))
    b.feed(cols(list(reversed(rows))))
    ca, cb = a.result(), b.result()
    assert ca.addresses == cb.addresses == ["198.18.0.1", "198.18.0.2"]
    assert ca.to_dict() == cb.to_dict()
    assert a.describe() == b.describe()
    assert any("2 addresses answered SYNs" in n for n in ca.notes)


def test_mutual_servers_pick_top_ranked():
    rows = handshake("198.18.0.1", "198.18.0.2", 40000, 80) * 2
    rows += handshake("198.18.0.2", "198.18.0.1", 40001, 443)
    inf = Inference()
    inf.feed(cols(rows))
    cfg = inf.result()
    assert cfg.addresses == ["198.18.0.2"]
    assert [l.port for l in cfg.listeners] == [80]


def test_filters_rst_fragments_and_non_tcp():
    rows = [
        ("198.18.0.1", "10.0.0.1", 80, 40000, SYN | ACK | RST),          # not a SYN-ACK
        ("198.18.0.1", "10.0.0.1", 81, 40000, SYN | ACK, 6, PF_L4 | PF_FRAG_LATER),
        ("198.18.0.1", "10.0.0.1", 82, 40000, SYN | ACK, 6, 0),          # L4 not parsed
        ("198.18.0.1", "10.0.0.1", 83, 40000, SYN | ACK, 17),            # UDP row
        ("198.18.0.1", "10.0.0.1", 84, 40000, SYN | ACK | 0x08),         # PSH ignored
    ]
    inf = Inference()
    inf.feed(cols(rows))
    cfg = inf.result()
    assert [l.port for l in cfg.listeners if l.proto == "tcp"] == [84]


def test_ipv6_listener_is_v6only_wildcard():
    rows = handshake("2001:db8::99", "2001:db8::1", 40000, 443)
    rows += handshake("10.0.0.1", "198.18.0.1", 40000, 443)
    inf = Inference()
    inf.feed(cols(rows))
    cfg = inf.result()
    assert cfg.addresses == ["198.18.0.1", "2001:db8::1"]
    assert [l.label() for l in cfg.sorted_listeners()] == ["0.0.0.0:443/tcp", "[::]:443/tcp"]
    v6 = [l for l in cfg.listeners if l.family == 6][0]
    assert v6.ipv6only
    cfg.validate()       # no bind conflict between the two


def test_udp_server_ports():
    rows = handshake("10.0.0.1", "198.18.0.1", 40000, 80)
    rows += [("10.0.0.5", "198.18.0.1", 33333, 53, 0, 17),
             ("198.18.0.1", "10.0.0.5", 53, 33333, 0, 17),
             # the host as a UDP client: ephemeral source port, not a server
             ("198.18.0.1", "8.8.8.8", 45678, 53, 0, 17),
             ("8.8.8.8", "198.18.0.1", 53, 45678, 0, 17),
             # only inbound: nothing answers on 514
             ("10.0.0.5", "198.18.0.1", 33334, 514, 0, 17)]
    inf = Inference()
    inf.feed(cols(rows))
    cfg = inf.result()
    assert [l.label() for l in cfg.sorted_listeners()] == ["0.0.0.0:80/tcp", "0.0.0.0:53/udp"]
    assert "udp/53 (1 datagrams in)" in inf.describe()
    assert [l.proto for l in Inference(udp=False).result().listeners] == []
    off = Inference(udp=False)
    off.feed(cols(rows))
    assert [l.proto for l in off.result().listeners] == ["tcp"]


def test_nothing_inferred():
    inf = Inference()
    inf.feed(cols([("10.0.0.1", "198.18.0.1", 40000, 80, SYN)]))
    inf.feed({k: v[:0] for k, v in cols([("10.0.0.1", "198.18.0.1", 1, 2, 0)]).items()})
    cfg = inf.result()
    assert cfg.addresses == [] and cfg.listeners == []
    assert "no host inferred" in inf.describe()
    assert any("no SYN-ACK" in n for n in cfg.notes)


def test_minimal_columns_only():
    # only the columns the brief guarantees: no daddr/ip_proto
    c = cols(handshake("10.0.0.1", "198.18.0.1", 40000, 80))
    minimal = {k: c[k] for k in ("tcp_flags", "saddr", "sport", "dport", "flags", "ip_ver")}
    inf = Inference()
    inf.feed(minimal)
    assert inf.result().addresses == ["198.18.0.1"]


def test_result_round_trips_through_toml():
    inf = Inference()
    inf.feed(cols(handshake("10.0.0.1", "198.18.0.1", 40000, 80)))
    cfg = inf.result()
    again = parse_host_config(cfg.to_toml())
    assert [l.label() for l in again.listeners] == [l.label() for l in cfg.listeners]
    assert again.addresses == cfg.addresses


def _real_parser():
    try:
        from pystack._core import parse
    except ImportError:
        return None
    return getattr(parse, "parse_packets", None)


@pytest.mark.skipif(_real_parser() is None, reason="pystack._core.parse.parse_packets not built yet")
def test_on_real_packets_built_with_dpkt():
    dpkt = pytest.importorskip("dpkt")
    parse_packets = _real_parser()

    def frame(src, dst, sport, dport, flags):
        tcp = dpkt.tcp.TCP(sport=sport, dport=dport, flags=flags, seq=1, ack=0, off=5)
        ip = dpkt.ip.IP(src=ipaddress.ip_address(src).packed,
                        dst=ipaddress.ip_address(dst).packed, p=6, data=tcp)
        ip.len = len(bytes(ip))
        eth = dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6,
                                     type=dpkt.ethernet.ETH_TYPE_IP, data=ip)
        return bytes(eth)

    def frame6(src, dst, sport, dport, flags):
        tcp = dpkt.tcp.TCP(sport=sport, dport=dport, flags=flags, seq=1, ack=0, off=5)
        ip6 = dpkt.ip6.IP6(src=ipaddress.ip_address(src).packed,
                           dst=ipaddress.ip_address(dst).packed, nxt=6, hlim=64, data=tcp)
        ip6.plen = len(bytes(tcp))
        eth = dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6,
                                     type=dpkt.ethernet.ETH_TYPE_IP6, data=ip6)
        return bytes(eth)

    def udp(src, dst, sport, dport):
        u = dpkt.udp.UDP(sport=sport, dport=dport, data=b"q" * 12)
        u.ulen = len(bytes(u))
        ip = dpkt.ip.IP(src=ipaddress.ip_address(src).packed,
                        dst=ipaddress.ip_address(dst).packed, p=17, data=u)
        ip.len = len(bytes(ip))
        return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6,
                                            type=dpkt.ethernet.ETH_TYPE_IP, data=ip))

    frames = [frame(*r) for r in handshake("10.0.0.1", "198.18.0.1", 40000, 80)]
    frames += [frame6(*r) for r in handshake("2001:db8::9", "2001:db8::1", 40000, 443)]
    frames += [udp("10.0.0.1", "198.18.0.1", 33000, 53), udp("198.18.0.1", "10.0.0.1", 53, 33000)]
    try:
        out = parse_packets(frames)
    except TypeError:
        try:
            out = parse_packets(frames, 1)          # DLT_EN10MB
        except TypeError:
            pytest.skip("parse_packets has an unexpected signature")
    d = out.to_dict() if hasattr(out, "to_dict") else out
    inf = Inference()
    inf.feed(d)
    cfg = inf.result()
    assert cfg.addresses == ["198.18.0.1", "2001:db8::1"]
    assert [l.label() for l in cfg.sorted_listeners()] == [
        "0.0.0.0:80/tcp", "[::]:443/tcp", "0.0.0.0:53/udp"]
