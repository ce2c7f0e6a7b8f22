"""Axes, grid files and the cross product: names, ids, errors, and how each
axis changes the host."""
import pathlib

import pytest

from pystack.config import load_host_config
from pystack.whatif.grid import (Point, SweepError, apply_point, expand, load_grid,
                                 parse_axis, parse_vary)

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOSTS = ROOT / "data" / "hosts"


def test_cross_product_ids_and_order():
    axes = [parse_vary("net.core.somaxconn=128,1024,4096"), parse_vary("listen.backlog=128,511")]
    pts = expand(axes)
    assert [p.id for p in pts] == ["p000", "p001", "p002", "p003", "p004", "p005"]
    assert [p.as_dict() for p in pts[:3]] == [
        {"net.core.somaxconn": "128", "listen.backlog": "128"},
        {"net.core.somaxconn": "128", "listen.backlog": "511"},
        {"net.core.somaxconn": "1024", "listen.backlog": "128"}]
    assert pts[5].label() == "net.core.somaxconn=4096 listen.backlog=511"
    assert expand(axes) == pts                       # stable


def test_ids_widen_past_a_thousand_points():
    pts = expand([parse_axis("seed", range(1001))])
    assert pts[0].id == "p0000" and pts[-1].id == "p1000"


def test_sysctl_alias_path_form_is_canonical():
    assert parse_vary("net/core/somaxconn=1").name == "net.core.somaxconn"


@pytest.mark.parametrize("spec, msg", [
    ("net.core.somaxconn", "expected NAME=V1,V2"),
    ("net.core.somaxconn=", "non-empty values"),
    ("net.core.somaxconn=1,,2", "non-empty values"),
    ("net.core.somaxconn=1,1", "a value is repeated"),
    ("net.core.somaxconn=-5", "out of range"),
    ("net.core.nosuch=1", "net.core.nosuch"),
    ("listen.backlogg=1", "unknown listen setting 'backlogg'"),
    ("listen[70000].backlog=1", "port 70000 is not in 1..65535"),
    ("app.write=never", "unknown app setting 'write'"),
    ("profile=5.4", "axis profile"),
    ("seed=x", "axis seed: 'x' is not an integer"),
    ("frobnicate=1", "unknown axis 'frobnicate'"),
])
def test_bad_axes(spec, msg):
    with pytest.raises(SweepError, match=msg.replace("[", r"\[").replace("(", r"\(")):
        parse_vary(spec)


def test_axis_twice():
    with pytest.raises(SweepError, match="axis 'seed' is given twice"):
        expand([parse_vary("seed=1,2"), parse_vary("seed=3")])


def test_rules_axis_without_ruleset_support(monkeypatch):
    import pystack.whatif.grid as G
    monkeypatch.setattr(G, "rules_supported", lambda: False)
    with pytest.raises(SweepError, match="this build cannot load rulesets"):
        parse_vary(f"rules={ROOT / 'data/rules/kube-proxy.save'}")


def test_rules_axis_file_must_exist(monkeypatch):
    import pystack.whatif.grid as G
    monkeypatch.setattr(G, "rules_supported", lambda: True)
    with pytest.raises(SweepError, match="no such ruleset file"):
        parse_vary("rules=/nonexistent/a.save")
    a = parse_vary(f"rules={ROOT / 'data/rules/kube-proxy.save'}")
    assert a.kind == "rules" and a.values == (str(ROOT / "data/rules/kube-proxy.save"),)


def test_grid_file(tmp_path):
    g = tmp_path / "grid.toml"
    g.write_text('[vary]\n"net.core.somaxconn" = [128, 1024]\n"listen.backlog" = 511\n'
                 '"app.accept" = ["never", "immediate"]\n')
    axes = load_grid(str(g))
    assert [(a.name, a.values) for a in axes] == [
        ("net.core.somaxconn", ("128", "1024")), ("listen.backlog", ("511",)),
        ("app.accept", ("never", "immediate"))]
    assert len(expand(axes)) == 4


@pytest.mark.parametrize("text, msg", [
    ("[vary\n", "grid.toml: "),
    ("x = 1\n", "unknown table or key 'x'"),
    ("[vary]\n", "no \\[vary\\] table"),
    ('[vary]\n"listen.nope" = [1]\n', "grid.toml: axis 'listen.nope'"),
    ('[vary]\nseed = [[1]]\n', "values must be strings or numbers"),
])
def test_bad_grid_files(tmp_path, text, msg):
    g = tmp_path / "grid.toml"
    g.write_text(text)
    with pytest.raises(SweepError, match=msg):
        load_grid(str(g))


def _two_listeners():
    h = load_host_config(str(HOSTS / "zero-window.toml"))
    from dataclasses import replace
    h.listeners.append(replace(h.listeners[0], port=9001, backlog=64))
    return h


def test_apply_listen_to_every_listener_and_to_one_port():
    axes = [parse_vary("listen.backlog=7"), parse_vary("listen[9001].rcvbuf=65536")]
    h, seed, rules = apply_point(_two_listeners(), axes, expand(axes)[0])
    assert [(l.port, l.backlog, l.rcvbuf) for l in h.listeners] == [
        (9000, 7, 4096), (9001, 7, 65536)]
    assert seed is None and rules is None


def test_apply_app_sysctl_profile_seed():
    axes = [parse_vary("app.accept=never"), parse_vary("app[9001].read=never"),
            parse_vary("net.ipv4.tcp_rmem=4096 8192 16384"), parse_vary("profile=6.12"),
            parse_vary("seed=0x10")]
    h, seed, _ = apply_point(_two_listeners(), axes, expand(axes)[0])
    assert [l.app.to_dict()["accept"] for l in h.listeners] == ["never", "never"]
    assert [l.app.to_dict()["read"] for l in h.listeners] == ["chunk 1KB every 1s", "never"]
    assert h.sysctls.get("net.ipv4.tcp_rmem") == (4096, 8192, 16384)
    assert h.profile.name == "6.12" and seed == 16


def test_apply_to_a_port_without_listener():
    axes = [parse_vary("listen[80].backlog=5")]
    with pytest.raises(SweepError, match=r"point p000 \(listen\[80\].backlog=5\): the host has "
                                         "no TCP listener on port 80"):
        apply_point(_two_listeners(), axes, expand(axes)[0])


def test_apply_bad_app_value():
    axes = [parse_vary("app.accept=sometimes")]
    with pytest.raises(SweepError, match="point p000"):
        apply_point(_two_listeners(), axes, expand(axes)[0])


def test_point_is_plain_data():
    assert Point("p000", (("seed", "1"),)).as_dict() == {"seed": "1"}
