"""The `pystack` command line.

Exit codes: 0 success, 1 unreadable input, 2 bad usage or configuration.
Errors are one sentence on stderr; `--debug` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import json
import sys

from pystack import __version__


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
    p.add_argument("-q", "--quiet", action="store_true", help="do not print what was inferred")
    p.add_argument("--rules", action="append", default=[], metavar="FILE",
                   help="iptables-save (or ip6tables-save) file loaded into the model's "
                   "netfilter; give it twice for both families (family from the header line)")
    p.add_argument("--lenient", action="store_true",
                   help="with --rules: unsupported matches never match instead of failing")
    p.set_defaults(func=_run_replay)


def _run_replay(args) -> int:
    from pystack import replay_cli

    return replay_cli.run(args)


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
