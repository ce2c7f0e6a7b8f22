"""python -m bench.pyhook: the cost of Python hooks (Replay.add_hook).

Replays the mix trace (default --scale 0.05, generated if missing) against
its inferred host, with conntrack attached, under:

  conntrack          no hook (the baseline: what a hook attaches)
  hook, no match     one PREROUTING hook whose C filter matches nothing
                     (dst 240.0.0.0/4)
  hook, ~1%          one PREROUTING hook matching dst 198.51.100.0/28 (on
                     mix: 1.09 % of the packets)
  hook, all          hooks at PREROUTING and OUTPUT matching every packet

and prints the rate, the extra time over the baseline, the calls, and ns
per call (extra time / calls: the GIL, the view object and the Python call
of an empty function).  Timings are the best of --repeat runs (the
scenarios interleaved, so drift of a shared machine hits all alike), reader
included.  `model` (no netfilter) is printed for reference.  The same
scenarios are the bench stages model+conntrack and model+pyhook (--opt
hook=none|1pct|all), so instructions per packet, which a busy machine does
not disturb, come from

    python -m bench.one --callgrind model+pyhook mix --scale 0.01 --opt hook=all
"""
from __future__ import annotations

import argparse
import sys
import time

from bench import gen
from bench.stages import PYHOOK_SCENARIOS, Setup, _bench_host, _pyhook_noop as _noop

SCENARIOS = (
    ("model", None),
    ("conntrack", []),
    ("hook, no match", PYHOOK_SCENARIOS["none"]),
    ("hook, ~1%", PYHOOK_SCENARIOS["1pct"]),
    ("hook, all", PYHOOK_SCENARIOS["all"]),
    ("conntrack again", []),        # the baseline once more: the noise floor
)


def _run(host, path, hooks, batch_size):
    from pystack.replay import Replay
    r = Replay(host, checksum="auto", batch_size=batch_size, conntrack=hooks is not None)
    for hook, prio, match in hooks or ():
        r.add_hook(hook, _noop, priority=prio, match=match)
    t0 = time.perf_counter_ns()
    res = r.run([path], collect=False)
    return time.perf_counter_ns() - t0, res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.pyhook",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--trace", default=None, help="a capture (default: the mix trace)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=8192)
    args = ap.parse_args(argv)
    if args.trace:
        path, meta = args.trace, {}
    else:
        gen.generate("mix", args.scale, log=lambda *a: None)
        path = gen.trace_path("mix", args.scale)
        meta = gen.load_meta(path) or {}
        meta["name"] = "mix"
    host = _bench_host(Setup(path=path, meta=meta, batch_size=args.batch_size))
    best = {}
    stats = {}
    for _ in range(args.repeat):
        for name, hooks in SCENARIOS:
            t, res = _run(host, path, hooks, args.batch_size)
            if name not in best or t < best[name]:
                best[name] = t
                stats[name] = (sum(h["calls"] for h in res.hooks),
                               sum(h["time_ns"] for h in res.hooks))
    base = best["conntrack"]
    rows = [(name, best[name]) + stats[name] for name, _ in SCENARIOS]
    from pystack.capture import open_capture
    with open_capture(path) as cap:
        total = sum(rb.n for rb in cap)
    print(f"trace {path}: {total:,} packets; best of {args.repeat}")
    print(f"{'scenario':<16} {'Mpkt/s':>7} {'ns/pkt':>7} {'+ns/pkt':>8} {'calls':>9} "
          f"{'calls %':>7} {'ns/call':>8} {'fn ns/call':>10}")
    for name, t, calls, inside in rows:
        extra = (t - base) / total if name != "model" else float("nan")
        per_call = (t - base) / calls if calls else float("nan")
        in_call = inside / calls if calls else float("nan")
        print(f"{name:<16} {total / t * 1e3:7.2f} {t / total:7.0f} {extra:8.1f} {calls:9,} "
              f"{100 * calls / total:6.2f}% {per_call:8.0f} {in_call:10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
