"""The `pystack` command line.

Exit codes: 0 success, 1 unreadable input, 2 bad usage or configuration.
Errors are one sentence on stderr; `--debug` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import json
import sys

from pystack import __version__


def write_result(obj, as_json: bool, fmt) -> None:
    """A command's result on stdout: JSON with --json, else fmt(obj)'s text."""
    if as_json:
        json.dump(obj, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(fmt(obj))


class UsageError(Exception):
    """Bad usage or configuration: exit code 2."""


def _add_inspect(sub) -> None:
    p = sub.add_parser(
        "inspect",
        help="summarise what a capture holds",
        description="Print what the capture(s) hold: format, link types, packets, bytes, "
        "duration, hosts, protocol shares, malformed and truncated packets, checksums.",
    )
    p.add_argument("captures", nargs="+", metavar="CAPTURE",
                   help="pcap or pcapng file(s), optionally gzip-compressed; several are merged by time")
    p.add_argument("--checksum", choices=("verify", "ignore", "auto"), default="auto",
                   help="checksum policy (default: auto, which recognises offloaded checksums)")
    p.add_argument("--top", type=int, default=10, metavar="N", help="hosts to list (default 10)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--batch-size", type=int, default=65536, help=argparse.SUPPRESS)
    p.set_defaults(func=_run_inspect)


def _run_inspect(args) -> int:
    from pystack.inspect import inspect_capture

    if args.top < 0:
        raise UsageError("--top must be zero or more")
    if args.batch_size < 1:
        raise UsageError("--batch-size must be positive")
    report = inspect_capture(args.captures, checksum=args.checksum,
                             batch_size=args.batch_size, top=args.top)
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(report.format_text())
    if report.error:
        # The summary above covers everything before the bad record.
        print(f"pystack: {report.error}", file=sys.stderr)
        return 1
    return 0


def _add_replay(sub) -> None:
    from pystack.config import add_host_arguments

    p = sub.add_parser(
        "replay",
        help="run captures through the stack model and print what the kernel did",
        description="Replay the capture(s) through the model of the Linux stack of the host "
        "described by --config (or inferred from the capture) and print packets by verdict, "
        "drops by kernel reason, listener queues and the SNMP/netstat counters.",
    )
    p.add_argument("captures", nargs="+", metavar="CAPTURE",
                   help="pcap or pcapng file(s), optionally gzip-compressed; several are merged by time")
    add_host_arguments(p)
    p.add_argument("--checksum", choices=("verify", "ignore", "auto"), default="auto",
                   help="checksum policy (default: auto, which recognises offloaded checksums)")
    p.add_argument("--seed", type=int, default=0, help="seed of the model's random choices")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar, do not print what was inferred")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="write the result tables (packets, connections, samples, counters) "
                   "and run.json into the folder OUT")
    p.add_argument("--format", choices=("arrow", "parquet"), default=None,
                   help="table format with -o: arrow (Arrow IPC, the default: fastest) or "
                   "parquet (zstd)")
    p.add_argument("--force", action="store_true", help="replace an existing OUT folder")
    p.add_argument("--counter-interval", type=float, default=1.0, metavar="SECONDS",
                   help="capture-time interval of the counters time series (default 1 s)")
    p.add_argument("--rules", action="append", default=[], metavar="FILE",
                   help="iptables-save (or ip6tables-save) file loaded into the model's "
                   "netfilter; give it twice for both families (family from the header line)")
    p.add_argument("--lenient", action="store_true",
                   help="with --rules: unsupported matches never match instead of failing")
    p.set_defaults(func=_run_replay)


def _run_replay(args) -> int:
    from pystack import replay_cli

    return replay_cli.run(args)


def _add_results(sub) -> None:
    p = sub.add_parser("summary", help="print the summary of a replay -o folder again",
                       description="Print packets by verdict, top drop reasons with their "
                       "counters, listeners that overflowed and connections stalled at zero "
                       "window, from a `pystack replay -o` folder.")
    p.add_argument("folder", metavar="OUT")
    p.add_argument("--top", type=int, default=10, metavar="N")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_run_summary)

    p = sub.add_parser("explain", help="one packet's path through the model",
                       description="Print what the model did with one packet: parse, "
                       "checksum, direction, socket and queues, verdict and drop reason, "
                       "what the model sent, the window.")
    p.add_argument("folder", metavar="OUT")
    p.add_argument("--frame", type=int, required=True, metavar="N", help="frame number (1-based)")
    p.set_defaults(func=_run_explain)

    p = sub.add_parser("diff", help="compare two replay -o folders (what-if)",
                       description="Counters, drops by reason and connections whose fate "
                       "changed between two runs.")
    p.add_argument("a", metavar="OUT_A")
    p.add_argument("b", metavar="OUT_B")
    p.add_argument("--top", type=int, default=20, metavar="N")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run_diff)

    p = sub.add_parser("report", help="one self-contained HTML page with plots",
                       description="Write an HTML report (queue depths, drops over time, "
                       "stalled connections' windows, counters) from a replay -o folder.")
    p.add_argument("folder", metavar="OUT")
    p.add_argument("-o", "--output", required=True, metavar="REPORT.html")
    p.add_argument("--force", action="store_true", help="replace an existing report file")
    p.set_defaults(func=_run_report)


def _folder(path: str) -> str:
    import os
    if not os.path.isfile(os.path.join(path, "run.json")):
        if os.path.isdir(path + ".incomplete"):
            raise UsageError(f"{path} does not exist; an interrupted run left {path}.incomplete")
        raise UsageError(f"{path} is not a `pystack replay -o` folder (no run.json)")
    return path


def _run_summary(args) -> int:
    from pystack.results import summary as S
    write_result(S.summarize(_folder(args.folder), top=args.top), args.json, S.format_summary)
    return 0


def _run_explain(args) -> int:
    from pystack.results import summary as S
    try:
        sys.stdout.write(S.explain(_folder(args.folder), args.frame))
    except KeyError as e:
        raise UsageError(str(e).strip("'\"")) from None
    return 0


def _run_diff(args) -> int:
    from pystack.results import summary as S
    write_result(S.diff(_folder(args.a), _folder(args.b), top=args.top), args.json, S.format_diff)
    return 0


def _run_report(args) -> int:
    import os

    from pystack.results.report import write_report
    if os.path.exists(args.output) and not args.force:
        raise UsageError(f"{args.output} exists (use --force to replace it)")
    write_report(_folder(args.folder), args.output)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="pystack",
        description="Replay pcap captures through a userspace model of the Linux network stack.",
    )
    ap.add_argument("--version", action="version", version=f"pystack {__version__}")
    ap.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_inspect(sub)
    _add_replay(sub)
    _add_results(sub)
    from pystack.sweep_cli import add_parsers
    add_parsers(sub)
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:  # argparse already printed the usage message
        return 2 if e.code else 0
    import logging

    from pystack.capture import CaptureError
    from pystack.config import ConfigError

    logging.basicConfig(format="pystack: warning: %(message)s", level=logging.WARNING)
    try:
        return args.func(args)
    except (UsageError, ConfigError) as e:
        if args.debug:
            raise
        print(f"pystack: {e}", file=sys.stderr)
        return 2
    except (CaptureError, OSError) as e:
        if args.debug:
            raise
        print(f"pystack: {_one_sentence(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pystack: interrupted", file=sys.stderr)
        return 130


def _one_sentence(e: BaseException) -> str:
    if isinstance(e, OSError) and e.filename is not None:
        return f"cannot read {e.filename}: {e.strerror or e}"
    return str(e)
