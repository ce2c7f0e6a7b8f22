"""python -m bench.kernel record --out DIR [--only NAME[,NAME]] | cleanup | report [--data DIR]"""
from __future__ import annotations

import argparse
import os
import sys

DEFAULT_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "data", "kernel")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.kernel")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="record scenarios against this kernel (root)")
    r.add_argument("--out", default=DEFAULT_DATA)
    r.add_argument("--only", default=None, help="comma-separated scenario names")
    sub.add_parser("cleanup", help="remove every pysx- namespace")
    sub.add_parser("list", help="list the scenarios")
    rep = sub.add_parser("report", help="replay data/kernel and print the fidelity table")
    rep.add_argument("--data", default=DEFAULT_DATA)
    a = ap.parse_args(argv)
    if a.cmd == "list":
        from bench.kernel.scenarios import ALL
        for n, s in ALL.items():
            print(f"{n:28s} {s.doc}")
        return 0
    if a.cmd == "cleanup":
        from bench.kernel import netns
        print("removed:", " ".join(netns.cleanup_all()) or "nothing")
        return 0
    if a.cmd == "record":
        if os.geteuid() != 0:
            print("record needs root (network namespaces, tcpdump)", file=sys.stderr)
            return 2
        from bench.kernel import netns
        from bench.kernel.record import record_one
        from bench.kernel.scenarios import ALL
        names = a.only.split(",") if a.only else list(ALL)
        unknown = [n for n in names if n not in ALL]
        if unknown:
            print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
            return 2
        netns.cleanup_all()
        # SIGTERM/SIGHUP -> SystemExit, so the finally blocks and atexit run
        # (the default action would leave namespaces and tcpdump behind)
        import signal

        def _exit(signum, frame):
            raise SystemExit(128 + signum)
        signal.signal(signal.SIGTERM, _exit)
        signal.signal(signal.SIGHUP, _exit)
        for n in names:
            d = record_one(ALL[n], a.out)
            size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
            print(f"{n:28s} -> {d} ({size} bytes)", flush=True)
        return 0
    if a.cmd == "report":
        from bench.kernel.compare import report
        print(report(a.data))
        return 0


if __name__ == "__main__":
    sys.exit(main())
