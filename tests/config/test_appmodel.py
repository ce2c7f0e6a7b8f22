"""pystack.appmodel: spec parsing into exact integer dataclasses."""
import json

import pytest

from pystack.appmodel import (AcceptDelay, AcceptImmediate, AcceptNever, AcceptRate,
                              AppModel, AppModelError, ReadAsArrives, ReadChunk, ReadLog,
                              ReadNever, ReadRate, accept_times, load_read_log,
                              parse_accept, parse_app, parse_duration, parse_rate,
                              parse_read, parse_size)

MS = 1_000_000
S = 1_000_000_000


@pytest.mark.parametrize("text,ns", [
    ("200ms", 200 * MS), ("1.5s", 1500 * MS), ("10us", 10_000), ("10µs", 10_000),
    ("250ns", 250), ("2min", 120 * S), ("1h", 3600 * S), ("0", 0), (" 3 s ", 3 * S),
    ("0.000000001s", 1), (".5s", 500 * MS),
])
def test_durations(text, ns):
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text,msg", [
    ("200", "needs a unit"), ("5 parsecs", "unknown time unit"), ("-1s", "bad duration"),
    ("1.5ns", "whole number of nanoseconds"), ("", "bad duration"), ("ms", "bad duration"),
])
def test_bad_durations(text, msg):
    with pytest.raises(AppModelError, match=msg):
        parse_duration(text)


@pytest.mark.parametrize("text,n", [
    ("1500", 1500), ("64KiB", 65536), ("1MB", 1_000_000), ("1MiB", 1 << 20),
    ("2GB", 2_000_000_000), ("1GiB", 1 << 30), ("1.5KiB", 1536), ("10B", 10),
    ("64 kiB", 65536), ("1kB", 1000),
])
def test_sizes(text, n):
    assert parse_size(text) == n


def test_bad_sizes():
    with pytest.raises(AppModelError, match="KB for 10\\^3 steps or KiB"):
        parse_size("64k")
    with pytest.raises(AppModelError, match="unknown size unit"):
        parse_size("3 parsecs")
    with pytest.raises(AppModelError, match="whole number of bytes"):
        parse_size("1.5")
    with pytest.raises(AppModelError, match="bad size"):
        parse_size("-5")


def test_rates():
    assert parse_rate("100/s") == parse_rate("0.1/ms")
    assert parse_rate("60/min") == parse_rate("1/s")
    with pytest.raises(AppModelError, match="positive"):
        parse_rate("0/s")
    with pytest.raises(AppModelError, match="expected <amount>/s"):
        parse_rate("100")
    with pytest.raises(AppModelError, match="unknown period"):
        parse_rate("100/fortnight")


def test_accept_policies():
    assert parse_accept("immediate") == AcceptImmediate()
    assert parse_accept("  Never ") == AcceptNever()
    assert parse_accept("delay 200ms") == AcceptDelay(200 * MS)
    r = parse_accept("rate 100/s")
    assert r == AcceptRate(count=1, per_ns=10 * MS, burst=1)
    assert r.interval == 10 * MS
    assert parse_accept("rate 100/s burst 5").burst == 5
    assert parse_accept("rate 0.5/s").interval == 2 * S
    for bad, msg in [("sometimes", "bad accept policy"), ("delay", "bad accept policy"),
                     ("delay soon", "bad duration"), ("rate 100/s burst 0", "burst"),
                     ("rate 100/s extra", "expected 'rate"), ("rate 0/s", "positive")]:
        with pytest.raises(AppModelError, match=msg):
            parse_accept(bad)


def test_read_policies():
    assert parse_read("as-arrives") == ReadAsArrives()
    assert parse_read("never") == ReadNever()
    r = parse_read("rate 1MB/s")
    from fractions import Fraction
    assert isinstance(r, ReadRate) and r.bytes_per_ns == Fraction(1_000_000, S)
    assert r.allowance(S) == 1_000_000 and r.allowance(1500 * MS) == 1_500_000
    assert r.allowance(-5) == 0
    assert parse_read("rate 64KiB/10ms").allowance(S) == 65536 * 100
    assert parse_read("chunk 64KiB every 10ms") == ReadChunk(65536, 10 * MS)
    assert parse_read("chunk 1500 every 1s") == ReadChunk(1500, S)
    for bad, msg in [("sip", "bad read policy"), ("rate 0/s", "positive"),
                     ("chunk 0 every 1s", "positive"), ("chunk 10 every 0", "positive"),
                     ("chunk 10", "expected 'chunk"), ("rate 1Mb/s", "reads as bits")]:
        with pytest.raises(AppModelError, match=msg):
            parse_read(bad)


@pytest.mark.parametrize("spec", [
    "immediate", "never", "delay 200ms", "delay 1500us", "rate 100/s", "rate 0.5/s",
    "rate 100/s burst 4", "rate 1/3s",
])
def test_accept_spec_round_trip(spec):
    a = parse_accept(spec)
    assert parse_accept(a.spec) == a


@pytest.mark.parametrize("spec", [
    "as-arrives", "never", "rate 1MB/s", "rate 64KiB/s", "rate 1.5KB/s", "rate 3/7ns",
    "chunk 16KiB every 10ms", "chunk 1000 every 1s",
])
def test_read_spec_round_trip(spec):
    r = parse_read(spec)
    assert parse_read(r.spec) == r


def test_accept_times_reference_semantics():
    ready = [0, 0, 0, 5 * S]
    assert accept_times(AcceptImmediate(), ready) == ready
    assert accept_times(AcceptNever(), ready) == [None] * 4
    assert accept_times(AcceptDelay(200 * MS), ready) == [200 * MS] * 3 + [5 * S + 200 * MS]
    # 2/s, burst 1: at most one accept per 500 ms, in order
    assert accept_times(parse_accept("rate 2/s"), ready) == [0, 500 * MS, 1000 * MS, 5 * S]
    # burst 2: two at once, then spaced
    assert accept_times(parse_accept("rate 2/s burst 2"), [0, 0, 0, 0]) == [
        0, 0, 500 * MS, 1000 * MS]


def test_app_model_defaults_and_dict():
    app = AppModel()
    assert app.accept == AcceptImmediate() and app.read == ReadAsArrives()
    assert app.to_dict() == {"accept": "immediate", "read": "as-arrives"}
    assert parse_app(accept="never").to_dict() == {"accept": "never", "read": "as-arrives"}


def test_read_log_csv(tmp_path):
    p = tmp_path / "reads.csv"
    p.write_text("# a comment\nt_rel,bytes,client_port\n0.5,1000,\n1.25,2000,40001\n"
                 "0.1,10,40002\n")
    r = parse_read("log reads.csv", base_dir=str(tmp_path))
    assert isinstance(r, ReadLog) and r.spec == "log reads.csv"
    assert len(r.entries) == 3
    e0 = r.entries[0]
    assert (e0.time_ns, e0.relative, e0.nbytes, e0.client_port) == (500 * MS, True, 1000, None)
    rows = r.for_connection("10.0.0.1", 40001)
    assert [(e.time_ns, e.nbytes) for e in rows] == [(500 * MS, 1000), (1250 * MS, 2000)]
    assert [e.nbytes for e in r.for_connection("10.0.0.1", 40002)] == [10, 1000]


def test_read_log_jsonl_abs_ns(tmp_path):
    p = tmp_path / "reads.jsonl"
    lines = [{"t_abs_ns": 1700000000123456789, "bytes": 5, "client_addr": "10.0.0.9"},
             {"t_abs": 1700000001.5, "bytes": 7}]
    p.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    r = load_read_log(str(p))
    a, b = r.entries
    assert (a.time_ns, a.relative, a.client_addr) == (1700000000123456789, False, "10.0.0.9")
    assert b.time_ns == 1700000001500000000
    assert [e.nbytes for e in r.for_connection("10.0.0.9", 1)] == [5, 7]
    assert [e.nbytes for e in r.for_connection("10.0.0.8", 1)] == [7]


@pytest.mark.parametrize("content,msg", [
    ("t_rel,bytes\n1,x\n", "'bytes' must be a non-negative integer"),
    ("bytes\n1\n", "exactly one time column"),
    ("t_rel,t_abs,bytes\n1,2,3\n", "exactly one time column"),
    ("t_rel,bytes,colour\n1,2,red\n", "unknown column"),
    ("t_rel,bytes,client_port\n1,2,70000\n", "bad client_port"),
    ("t_rel_ns,bytes\n1.5,2\n", "whole number"),
    ("t_rel,bytes\n-1,2\n", "negative time"),
    ("", "empty file"),
])
def test_read_log_errors(tmp_path, content, msg):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(AppModelError, match=msg):
        load_read_log(str(p))


def test_read_log_missing_file(tmp_path):
    with pytest.raises(AppModelError, match="cannot read"):
        parse_read("log nope.csv", base_dir=str(tmp_path))


def test_dataclasses_are_frozen():
    import dataclasses
    with pytest.raises(dataclasses.FrozenInstanceError):
        AcceptDelay(1).delay_ns = 2
