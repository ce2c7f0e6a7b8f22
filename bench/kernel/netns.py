"""Network namespaces for the recorder: create, join with veth pairs, clean up.

Every name starts with ``pysx-`` so that ``cleanup`` can find what a crashed
run left behind without touching anything else on the machine.  Addresses
come from 198.18.0.0/15 (RFC 2544 benchmarking range) and no namespace has a
route out.  Checksum and segmentation offloads are switched off on every veth
so the capture shows the segments exactly as the kernel's TCP built them
(no TSO/GSO super-frames, no partial checksums, no GRO-merged receives).
"""
from __future__ import annotations

import atexit
import os
import shlex
import subprocess
import time

PREFIX = "pysx-"

_created: list[str] = []


def run(cmd, check=True, capture=False, timeout=30, input=None):
    if isinstance(cmd, str):
        cmd = shlex.split(cmd)
    p = subprocess.run(cmd, check=False, text=True, input=input, timeout=timeout,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if check and p.returncode != 0:
        raise RuntimeError(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    return p.stdout if capture else p.returncode


def nsexec(ns: str, cmd, **kw):
    if isinstance(cmd, str):
        cmd = shlex.split(cmd)
    return run(["ip", "netns", "exec", ns] + list(cmd), **kw)


def add_ns(name: str) -> str:
    assert name.startswith(PREFIX)
    run(["ip", "netns", "add", name])
    _created.append(name)
    nsexec(name, "ip link set lo up")
    # No IPv6 on the test links: router solicitations, MLD and DAD would add
    # Ip6/Icmp6 traffic (and counters) that no scenario asked for.
    nsexec(name, "sysctl -qw net.ipv6.conf.all.disable_ipv6=1")
    nsexec(name, "sysctl -qw net.ipv6.conf.default.disable_ipv6=1")
    return name


def veth(ns_a: str, if_a: str, ns_b: str, if_b: str, mtu: int = 1500):
    """A veth pair if_a (in ns_a) <-> if_b (in ns_b), up, offloads off."""
    tmp_a, tmp_b = f"{PREFIX}{os.getpid() % 10000}a", f"{PREFIX}{os.getpid() % 10000}b"
    run(["ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b])
    run(["ip", "link", "set", tmp_a, "netns", ns_a])
    run(["ip", "link", "set", tmp_b, "netns", ns_b])
    for ns, tmp, name in ((ns_a, tmp_a, if_a), (ns_b, tmp_b, if_b)):
        nsexec(ns, ["ip", "link", "set", tmp, "name", name])
        nsexec(ns, ["ip", "link", "set", name, "mtu", str(mtu)])
        nsexec(ns, ["ethtool", "-K", name, "tx", "off", "rx", "off", "tso", "off",
                    "gso", "off", "gro", "off"], check=False)
        nsexec(ns, ["ip", "link", "set", name, "up"])


def addr(ns: str, ifname: str, cidr: str):
    nsexec(ns, ["ip", "addr", "add", cidr, "dev", ifname])


def sysctl(ns: str, name: str, value) -> None:
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    nsexec(ns, ["sysctl", "-qw", f"{name}={value}"])


def read_sysctl(ns: str, name: str) -> str | None:
    out = nsexec(ns, ["sysctl", "-n", name], capture=True, check=False)
    return out.strip() if out else None


def list_ns() -> list[str]:
    out = run(["ip", "netns", "list"], capture=True, check=False) or ""
    return [line.split()[0] for line in out.splitlines()
            if line.split() and line.split()[0].startswith(PREFIX)]


def ns_pids(ns: str) -> list[int]:
    out = run(["ip", "netns", "pids", ns], capture=True, check=False) or ""
    return [int(x) for x in out.split() if x.isdigit()]


def delete_ns(name: str):
    assert name.startswith(PREFIX)
    for pid in ns_pids(name):            # only processes inside our own namespace
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    run(["ip", "netns", "del", name], check=False)
    if name in _created:
        _created.remove(name)


def cleanup_all() -> list[str]:
    """Remove every pysx- namespace (and with it its veths and processes)."""
    gone = []
    for ns in list_ns():
        delete_ns(ns)
        gone.append(ns)
    return gone


def _atexit():
    for ns in list(_created):
        delete_ns(ns)


atexit.register(_atexit)


def wait_for(pred, timeout: float, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()
