"""pystack.config: TOML host configs, kernel formulas, errors with file:line:key, overrides."""
import argparse
import json
import os
import textwrap

import pytest

from pystack.appmodel import AcceptDelay, AcceptNever, AcceptRate, ReadChunk, ReadRate
from pystack.config import (SOMAXCONN, ConfigError, HostConfig, Listener, add_host_arguments,
                            apply_app_override, apply_listen_override, apply_sysctl_override,
                            host_config_from_args, load_host_config, parse_host_config)
from pystack.profile import get_profile
from pystack.sysctl import Sysctls

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "data", "hosts", "example.toml")
MiB = 1 << 20


def cfg_text(text, **kw):
    return parse_host_config(textwrap.dedent(text), filename="host.toml", **kw)


def err_of(text, **kw):
    with pytest.raises(ConfigError) as e:
        cfg_text(text, **kw)
    return e.value


# --- kernel formulas -----------------------------------------------------------

@pytest.mark.parametrize("rcvbuf,expected", [
    (65536, 131072),            # 2 * 65536
    (1000, 2304),               # 2000 < SOCK_MIN_RCVBUF
    (8 * MiB, 8388608),         # min(8 MiB, rmem_max 4 MiB) * 2
    (4 * MiB, 8388608),
    (0, 2304),
    (-1, 8388608),              # (u32)-1 > rmem_max -> rmem_max
    (1152, 2304), (1153, 2306),
])
def test_effective_rcvbuf(rcvbuf, expected):
    s = Sysctls()
    assert Listener("0.0.0.0", 80, rcvbuf=rcvbuf).effective_rcvbuf(s) == expected


def test_effective_rcvbuf_defaults_and_rmem_max():
    s = Sysctls()
    assert Listener("0.0.0.0", 80).effective_rcvbuf(s) == 131072          # tcp_rmem[1]
    assert Listener("0.0.0.0", 53, "udp").effective_rcvbuf(s) == 212992   # rmem_default
    s.set("net.core.rmem_max", 212992)
    assert Listener("0.0.0.0", 80, rcvbuf=8 * MiB).effective_rcvbuf(s) == 425984
    assert not Listener("0.0.0.0", 80).rcvbuf_locked
    assert Listener("0.0.0.0", 80, rcvbuf=1).rcvbuf_locked
    s612 = Sysctls("6.12")
    assert Listener("0.0.0.0", 80, rcvbuf=8 * MiB).effective_rcvbuf(s612) == 425984


def test_effective_sndbuf():
    s = Sysctls()
    assert Listener("0.0.0.0", 80).effective_sndbuf(s) == 16384           # tcp_wmem[1]
    assert Listener("0.0.0.0", 53, "udp").effective_sndbuf(s) == 212992
    assert Listener("0.0.0.0", 80, sndbuf=1000).effective_sndbuf(s) == 4608
    assert Listener("0.0.0.0", 80, sndbuf=65536).effective_sndbuf(s) == 131072
    assert Listener("0.0.0.0", 80, sndbuf=16 * MiB).effective_sndbuf(s) == 8388608


@pytest.mark.parametrize("backlog,somaxconn,expected", [
    (128, 4096, 128), (4096, 4096, 4096), (65535, 4096, 4096), (511, 128, 128),
    (-1, 4096, 4096),           # (unsigned)-1 > somaxconn
    (0, 4096, 0), (5, 0, 0),
])
def test_effective_backlog(backlog, somaxconn, expected):
    s = Sysctls()
    s.set("net.core.somaxconn", somaxconn)
    l = Listener("0.0.0.0", 80, backlog=backlog)
    assert l.effective_backlog(s) == expected
    assert l.accept_queue_capacity(s) == expected + 1


def test_default_backlog_is_somaxconn_constant():
    assert Listener("0.0.0.0", 80).backlog == SOMAXCONN == 4096


# --- the example file ----------------------------------------------------------

def test_example_loads_and_describes_every_section():
    cfg = load_host_config(EXAMPLE)
    assert cfg.name == "web-1"
    assert cfg.addresses == ["198.18.0.1", "2001:db8::1"]
    assert cfg.interfaces == ["eth0"]
    assert cfg.profile.name == "6.18"
    assert cfg.sysctls.get("net.ipv4.tcp_wmem") == (4096, 16384, 4194304)
    ls = cfg.sorted_listeners()
    labels = [l.label() for l in ls]
    assert labels == ["0.0.0.0:80/tcp", "198.18.0.1:443/tcp", "198.18.0.1:443/tcp",
                      "[::]:8080/tcp", "[2001:db8::1]:53/udp"]
    web = ls[0]
    assert (web.backlog, web.rcvbuf, web.sndbuf) == (511, 65536, 65536)
    assert web.effective_rcvbuf(cfg.sysctls) == 131072
    https = [l for l in ls if l.port == 443]
    assert {type(l.app.accept) for l in https} == {AcceptRate, AcceptDelay}
    assert {type(l.app.read) for l in https} == {ReadChunk, ReadRate}
    assert all(l.reuseport_group == "https" for l in https)
    assert ls[3].ipv6only and isinstance(ls[3].app.accept, AcceptNever)
    assert ls[4].rcvbuf == 1048576 and ls[4].effective_rcvbuf(cfg.sysctls) == 2097152
    text = open(EXAMPLE).read()
    for section in ("[host]", "[sysctl]", "[[listen]]", "[listen.app]"):
        assert section in text
    for key in ("name", "addresses", "interfaces", "profile", "address", "port", "proto",
                "backlog", "rcvbuf", "sndbuf", "reuseport_group", "ipv6only", "app"):
        assert f"\n{key} =" in text, key


def test_to_dict_is_full_and_deterministic():
    cfg = load_host_config(EXAMPLE)
    d = cfg.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["host"]["kernel_version"] == "6.18.44"
    assert d["sysctl"]["net.core.somaxconn"] == 4096
    assert d["sysctl_changed"] == {}
    web = d["listen"][0]
    assert web["effective"] == {"backlog": 511, "accept_queue_capacity": 512,
                                "rcvbuf": 131072, "sndbuf": 131072, "rcvbuf_locked": True}
    assert web["app"] == {"accept": "immediate", "read": "as-arrives"}
    # listener order does not depend on file order
    cfg.listeners.reverse()
    assert cfg.to_dict() == d


def test_toml_round_trip(tmp_path):
    cfg = load_host_config(EXAMPLE)
    cfg.sysctls.set("net.core.somaxconn", 128)
    cfg.sysctls.set("net.ipv4.tcp_rmem", "4096 65536 6291456")
    cfg.sysctls.set("net.ipv6.icmp.ratemask", "0-1,3-127,129")
    text = cfg.to_toml()
    assert '"net.ipv6.icmp.ratemask" = "0-1,3-127,129"' in text
    p = tmp_path / "again.toml"
    p.write_text(text)
    again = load_host_config(str(p))
    d1, d2 = cfg.to_dict(), again.to_dict()
    d1.pop("source"), d2.pop("source")
    assert d1 == d2
    assert again.sysctls == cfg.sysctls
    assert sorted(map(repr, again.listeners)) == sorted(map(repr, cfg.listeners))


def test_round_trip_with_read_log(tmp_path):
    (tmp_path / "r.csv").write_text("t_rel,bytes\n0.1,100\n")
    p = tmp_path / "h.toml"
    p.write_text('[[listen]]\nport = 80\napp = { read = "log r.csv" }\n')
    cfg = load_host_config(str(p))
    other = tmp_path / "sub"
    other.mkdir()
    (other / "h.toml").write_text(cfg.to_toml())
    again = load_host_config(str(other / "h.toml"))
    assert again.listeners[0].app.read.entries == cfg.listeners[0].app.read.entries


def test_minimal_config_defaults():
    cfg = cfg_text("""
        [[listen]]
        port = 80
    """)
    l = cfg.listeners[0]
    assert (l.address, l.proto, l.backlog, l.rcvbuf, l.ipv6only) == ("0.0.0.0", "tcp", 4096,
                                                                      None, False)
    assert cfg.addresses == [] and cfg.profile.name == "6.18"
    empty = cfg_text("")
    assert empty.listeners == [] and empty.to_dict()["listen"] == []


def test_unquoted_dotted_sysctl_keys_are_joined():
    cfg = cfg_text("""
        [sysctl]
        net.core.somaxconn = 128
        "net.ipv4.tcp_rmem" = "4096 87380 6291456"
    """)
    assert cfg.sysctls.get("net.core.somaxconn") == 128
    assert cfg.sysctls.get("net.ipv4.tcp_rmem") == (4096, 87380, 6291456)


def test_profile_from_file_and_override():
    cfg = cfg_text('[host]\nprofile = "6.12"\n')
    assert cfg.profile.name == "6.12"
    assert cfg.sysctls.get("net.core.rmem_max") == 212992
    cfg = cfg_text('[host]\nprofile = "6.12"\n', profile="7.3")
    assert cfg.profile.name == "7.3"


# --- errors name file, line and key ----------------------------------------------

def test_unknown_key_in_listen():
    e = err_of("""
        [host]
        name = "x"

        [[listen]]
        port = 80

        [[listen]]
        port = 443
        backlg = 5
    """)
    assert str(e).startswith("host.toml:10: ")
    assert "'backlg'" in str(e) and "[[listen]] #2" in str(e)
    assert "did you mean 'backlog'" in str(e)
    assert (e.file, e.line, e.key) == ("host.toml", 10, "listen.1.backlg")


def test_unknown_key_in_host_and_top_level():
    e = err_of('[host]\nname = "x"\nadresses = ["1.2.3.4"]\n')
    assert str(e).startswith("host.toml:3: key 'adresses' in [host]")
    assert "did you mean 'addresses'" in str(e)
    e = err_of('[hots]\nname = "x"\n')
    assert str(e).startswith("host.toml:1: key 'hots' in top level")


def test_unknown_key_in_inline_app_table():
    e = err_of("""
        [[listen]]
        port = 80
        app = { accept = "never", raed = "never" }
    """)
    assert str(e).startswith("host.toml:4: ") and "'raed'" in str(e)
    assert "did you mean 'read'" in str(e)


def test_error_in_app_subtable():
    e = err_of("""
        [[listen]]
        port = 80
        [listen.app]
        accept = "sometimes"
    """)
    assert str(e).startswith("host.toml:5: key 'accept' in [[listen]] #1 app")
    assert "bad accept policy" in str(e)


@pytest.mark.parametrize("body,line,key,msg", [
    ('[[listen]]\nport = "80"\n', 2, "port", "expected an integer, got str"),
    ('[[listen]]\nport = 80\nipv6only = 1\n', 3, "ipv6only", "expected true or false"),
    ('[[listen]]\nport = true\n', 2, "port", "expected an integer, got bool"),
    ('[[listen]]\nport = 70000\n', 2, "port", "not in 1..65535"),
    ('[[listen]]\nport = 80\nproto = "sctp"\n', 3, "proto", "tcp or udp"),
    ('[[listen]]\nport = 80\naddress = "1.2.3"\n', 3, "address", "not an IPv4 or IPv6"),
    ('[[listen]]\nport = 80\nbacklog = 3000000000\n', 3, "backlog", "C int"),
    ('[[listen]]\nport = 53\nproto = "udp"\nbacklog = 5\n', 4, "backlog", "tcp listeners only"),
    ('[host]\naddresses = "1.2.3.4"\n', 2, "addresses", "expected an array"),
    ('[host]\naddresses = ["1.2.3.4", 5]\n', 2, "addresses", "expected a string"),
    ('[host]\naddresses = ["0.0.0.0"]\n', 2, "addresses", "wildcard"),
    ('[host]\nprofile = "5.4"\n', 2, "profile", "unknown kernel profile"),
    ('[[listen]]\nport = 53\nproto = "udp"\napp = { accept = "never" }\n', 4, "accept",
     "tcp listeners only"),
])
def test_type_errors(body, line, key, msg):
    e = err_of(body)
    assert str(e).startswith(f"host.toml:{line}: key '{key}'"), str(e)
    assert msg in str(e)


def test_sysctl_value_error_points_at_its_line():
    e = err_of("""
        [sysctl]
        "net.core.somaxconn" = 128
        "net.ipv4.tcp_tw_reuse" = 7
    """)
    assert str(e).startswith("host.toml:4: key 'net.ipv4.tcp_tw_reuse' in [sysctl]")
    assert "0..2" in str(e)
    e = err_of('[sysctl]\n"net.core.somaxcon" = 1\n')
    assert str(e).startswith("host.toml:2:") and "did you mean 'net.core.somaxconn'" in str(e)
    e = err_of('[sysctl]\nnet.core.somaxconn = -2\n')
    assert str(e).startswith("host.toml:2:")
    e = err_of('[sysctl]\n"net.ipv4.tcp_rmem" = [1, true, 3]\n')
    assert str(e).startswith("host.toml:2:") and "integers" in str(e)


def test_missing_port_and_listen_not_array():
    e = err_of('[[listen]]\naddress = "0.0.0.0"\n')
    assert str(e).startswith("host.toml:1: [[listen]] #1: missing key 'port'")
    e = err_of('[listen]\nport = 80\n')
    assert "write [[listen]]" in str(e) and str(e).startswith("host.toml:1:")


def test_multiline_values_do_not_confuse_line_numbers():
    e = err_of('''
        [host]
        addresses = [
            "198.18.0.1",
            "198.18.0.2",   # comment with [brackets]
        ]
        name = """multi
        line = "not a key"
        """
        naem = "x"
    ''')
    assert str(e).startswith("host.toml:10: key 'naem'"), str(e)


def test_toml_syntax_error_has_file_and_line(tmp_path):
    p = tmp_path / "broken.toml"
    p.write_text('[host]\nname = "x"\nport = \n')
    with pytest.raises(ConfigError) as e:
        load_host_config(str(p))
    assert str(e.value).startswith(f"{p}:3: TOML syntax error")
    assert e.value.line == 3


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read host config"):
        load_host_config(str(tmp_path / "missing.toml"))
    p = tmp_path / "latin1.toml"
    p.write_bytes(b'[host]\nname = "\xe9"\n')
    with pytest.raises(ConfigError, match=":2: not UTF-8"):
        load_host_config(str(p))


def test_bind_checks():
    e = err_of("""
        [host]
        addresses = ["198.18.0.1"]
        [[listen]]
        address = "198.18.0.9"
        port = 80
    """)
    assert str(e).startswith("host.toml:4:") and "EADDRNOTAVAIL" in str(e)
    # loopback is always local
    cfg_text('[host]\naddresses = ["198.18.0.1"]\n[[listen]]\naddress = "127.0.0.1"\nport = 80\n')
    e = err_of("""
        [[listen]]
        port = 80
        [[listen]]
        port = 80
    """)
    assert str(e).startswith("host.toml:4:") and "EADDRINUSE" in str(e)
    e = err_of("""
        [[listen]]
        address = "0.0.0.0"
        port = 80
        [[listen]]
        address = "::"
        port = 80
    """)
    assert "EADDRINUSE" in str(e)        # dual-stack :: overlaps 0.0.0.0
    cfg_text("""
        [[listen]]
        address = "0.0.0.0"
        port = 80
        [[listen]]
        address = "::"
        port = 80
        ipv6only = true
        [[listen]]
        port = 80
        proto = "udp"
    """)
    e = err_of('[[listen]]\naddress = "1.2.3.4"\nport = 80\nipv6only = true\n')
    assert "ipv6only applies only to IPv6" in str(e)
    e = err_of("""
        [[listen]]
        port = 80
        reuseport_group = "g"
        [[listen]]
        port = 81
        reuseport_group = "g"
    """)
    assert "reuseport_group 'g' already holds" in str(e)


# --- overrides -------------------------------------------------------------------

def test_sysctl_override():
    cfg = HostConfig()
    apply_sysctl_override(cfg, "net.core.somaxconn=128")
    apply_sysctl_override(cfg, "net.ipv4.tcp_rmem=4096 131072 6291456")
    assert cfg.sysctls.get("net.core.somaxconn") == 128
    assert cfg.sysctls.get("net.ipv4.tcp_rmem")[2] == 6291456
    with pytest.raises(ConfigError, match="--sysctl 'net.core.somaxconn': expected NAME=VALUE"):
        apply_sysctl_override(cfg, "net.core.somaxconn")
    with pytest.raises(ConfigError, match="did you mean 'net.core.somaxconn'"):
        apply_sysctl_override(cfg, "net.core.somaxcon=5")


def test_listen_override_add_and_update():
    cfg = HostConfig()
    cfg.addresses = ["198.18.0.1", "2001:db8::1"]
    apply_listen_override(cfg, "80")
    apply_listen_override(cfg, "198.18.0.1:443/tcp,backlog=128,rcvbuf=65536")
    apply_listen_override(cfg, "[2001:db8::1]:53/udp")
    apply_listen_override(cfg, "[::]:8080,ipv6only=1,accept=never,read=chunk 1KiB every 1s")
    labels = [l.label() for l in cfg.sorted_listeners()]
    assert labels == ["0.0.0.0:80/tcp", "198.18.0.1:443/tcp", "[::]:8080/tcp",
                      "[2001:db8::1]:53/udp"]
    l443 = cfg.listeners_on(443)[0]
    assert (l443.backlog, l443.rcvbuf) == (128, 65536)
    # same address/port/proto: updated, not duplicated
    apply_listen_override(cfg, "198.18.0.1:443,backlog=64")
    assert len(cfg.listeners_on(443)) == 1
    assert cfg.listeners_on(443)[0].backlog == 64 and cfg.listeners_on(443)[0].rcvbuf == 65536
    l8080 = cfg.listeners_on(8080)[0]
    assert l8080.ipv6only and isinstance(l8080.app.accept, AcceptNever)
    assert l8080.app.read == ReadChunk(1024, 1_000_000_000)


@pytest.mark.parametrize("spec,msg", [
    ("http", "expected [ADDRESS:]PORT"),
    ("80/sctp", "tcp or udp"),
    ("0", "not in 1..65535"),
    ("80,backlg=5", "did you mean 'backlog'"),
    ("80,backlog=lots", "backlog must be an integer"),
    ("53/udp,backlog=5", "tcp listeners only"),
    ("80x", "unexpected"),
    ("80,ipv6only=maybe", "true or false"),
    ("[zz::1]:80", "not an IP address"),
    ("80,accept=soon", "bad accept policy"),
])
def test_listen_override_errors(spec, msg):
    with pytest.raises(ConfigError) as e:
        apply_listen_override(HostConfig(), spec)
    assert str(e.value).startswith(f"--listen {spec!r}") and msg in str(e.value)


def test_app_override():
    cfg = HostConfig()
    apply_listen_override(cfg, "80")
    apply_listen_override(cfg, "[::]:80,ipv6only=true")
    apply_listen_override(cfg, "443")
    apply_app_override(cfg, "80:accept=never")
    assert all(isinstance(l.app.accept, AcceptNever) for l in cfg.listeners_on(80))
    assert cfg.listeners_on(443)[0].app.accept.kind == "immediate"
    apply_app_override(cfg, "443:read=rate 1MB/s")
    assert cfg.listeners_on(443)[0].app.read.allowance(1_000_000_000) == 1_000_000
    apply_app_override(cfg, "[::]:80/tcp:accept=delay 1s,read=never")
    v6 = [l for l in cfg.listeners_on(80) if l.family == 6][0]
    v4 = [l for l in cfg.listeners_on(80) if l.family == 4][0]
    assert v6.app.accept == AcceptDelay(1_000_000_000) and v6.app.read.kind == "never"
    assert isinstance(v4.app.accept, AcceptNever) and v4.app.read.kind == "as-arrives"
    with pytest.raises(ConfigError, match="no listener on port 81"):
        apply_app_override(cfg, "81:accept=never")
    with pytest.raises(ConfigError, match="expected PORT:accept"):
        apply_app_override(cfg, "80")
    with pytest.raises(ConfigError, match="unknown option 'acept'"):
        apply_app_override(cfg, "80:acept=never")
    # UDP sockets have no accept queue: accept= skips them, read= applies
    apply_listen_override(cfg, "443/udp")
    apply_app_override(cfg, "443:accept=never,read=never")
    assert cfg.listeners_on(443, "udp")[0].app.read.kind == "never"
    assert cfg.listeners_on(443, "tcp")[0].app.accept.kind == "never"
    apply_listen_override(cfg, "53/udp")
    with pytest.raises(ConfigError, match="tcp listeners only"):
        apply_app_override(cfg, "53:accept=never")
    with pytest.raises(ConfigError, match="tcp listeners only"):
        apply_listen_override(cfg, "54/udp,accept=never")


def _parse(argv):
    ap = argparse.ArgumentParser()
    add_host_arguments(ap)
    return ap.parse_args(argv)


def test_argparse_integration_and_order(tmp_path):
    p = tmp_path / "h.toml"
    p.write_text(textwrap.dedent("""
        [host]
        addresses = ["198.18.0.1"]
        [sysctl]
        "net.core.somaxconn" = 1024
        [[listen]]
        port = 80
        backlog = 2048
    """))
    args = _parse(["--config", str(p), "--profile", "6.12",
                   "--sysctl", "net.core.somaxconn=128", "--sysctl", "net.ipv4.tcp_syncookies=0",
                   "--listen", "198.18.0.1:443,backlog=10", "--app", "80:accept=never"])
    cfg = host_config_from_args(args)
    assert cfg.profile.name == "6.12"
    assert cfg.sysctls.get("net.core.somaxconn") == 128      # --sysctl after the file
    assert cfg.sysctls.get("net.ipv4.tcp_syncookies") == 0
    assert cfg.listeners_on(80)[0].effective_backlog(cfg.sysctls) == 128
    assert isinstance(cfg.listeners_on(80)[0].app.accept, AcceptNever)
    assert cfg.listeners_on(443)[0].backlog == 10
    assert cfg.source == str(p)


def test_args_without_config_use_base():
    base = HostConfig(name="inferred")
    base.listeners.append(Listener("0.0.0.0", 80))
    base.sysctls.set("net.core.somaxconn", 100)
    cfg = host_config_from_args(_parse(["--profile", "7.3", "--app", "80:accept=never"]), base)
    assert cfg.name == "inferred" and cfg.profile.name == "7.3"
    assert cfg.sysctls.get("net.core.somaxconn") == 100       # kept across the profile switch
    assert cfg.listeners[0].app.accept.kind == "never"
    empty = host_config_from_args(_parse([]))
    assert empty.listeners == [] and empty.source is None
    with pytest.raises(ConfigError, match="--profile: unknown kernel profile"):
        host_config_from_args(_parse(["--profile", "2.6"]))


def test_listener_address_coverage():
    assert Listener("::", 80).covers("10.0.0.1")
    assert not Listener("::", 80, ipv6only=True).covers("10.0.0.1")
    assert Listener("0.0.0.0", 80).covers("::ffff:10.0.0.1")
    assert not Listener("0.0.0.0", 80).covers("2001:db8::1")
    assert Listener("198.18.0.1", 80).covers("198.18.0.1")
    assert not Listener("198.18.0.1", 80).covers("198.18.0.2")
    cfg = HostConfig(addresses=["198.18.0.1"])
    assert cfg.is_local("198.18.0.1") and cfg.is_local("127.0.0.5")
    assert cfg.is_local("::ffff:198.18.0.1") and not cfg.is_local("198.18.0.2")


def test_set_profile_keeps_changes_and_drops_unknown():
    cfg = HostConfig()
    cfg.sysctls.set("net.ipv4.tcp_rto_max_ms", 5000)
    cfg.sysctls.set("net.core.somaxconn", 7)
    cfg.set_profile("6.12")
    assert cfg.sysctls.get("net.core.somaxconn") == 7
    assert "net.ipv4.tcp_rto_max_ms" not in cfg.sysctls
    assert cfg.profile is get_profile("6.12")
