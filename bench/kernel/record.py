"""Record one scenario against the real kernel: namespaces, capture, truth.

Order of a recording (record_one):
 1. namespaces and veths (bench.kernel.netns), sysctls, iptables rules;
 2. the delay line (topology "delay") in the middle namespace;
 3. tcpdump in the capture namespace (--immediate-mode -s 0, ns timestamps);
 4. counters "before" (truth.snapshot) -- no socket exists yet;
 5. server program (ready), client program (done), settle time;
 6. counters "after", ss -tanmi, iptables-save -c, conntrack -L / -S;
 7. tcpdump stopped; only then the programs are killed, so their exit
    (sockets closing) adds no packet and no counter to the recording;
 8. namespaces deleted (also on failure: try/finally, atexit, `cleanup`).

Outputs in DIR/NAME/: capture.pcap, truth.json, host.toml, reads.csv (the
server's read log when it read), rules.save (when netfilter is used).
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time

from bench.kernel import netns as N
from bench.kernel.truth import GAUGES, deltas, snapshot, trim_pcap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER_IP = "198.18.0.1"
CLIENT_IP = "198.18.0.2"


class Proc:
    """A program in a namespace, its stdout read line by line."""

    def __init__(self, ns, args, name):
        self.name = name
        self.p = subprocess.Popen(["ip", "netns", "exec", ns] + args, cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYTHONPATH": ROOT})

    def wait_line(self, word, timeout):
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(self.p.stdout, selectors.EVENT_READ)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if sel.select(timeout=0.05):
                line = self.p.stdout.readline()
                if not line:
                    break
                if line.strip() == word:
                    return True
            if self.p.poll() is not None:
                break
        raise RuntimeError(f"{self.name}: no {word!r} within {timeout}s "
                           f"(rc={self.p.poll()}): {self.p.stderr.read() if self.p.poll() is not None else ''}")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()          # our own child (ip netns exec execs the program)
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            pass


class SsSampler(threading.Thread):
    """`ss -tmi` in a namespace every `every` seconds, stamped with realtime
    (the capture's clock), bounded by max_s."""

    def __init__(self, ns, every, max_s=30.0):
        super().__init__(daemon=True)
        self.ns, self.every, self.max_s = ns, every, max_s
        self.samples = []
        self.stop_ev = threading.Event()

    def run(self):
        end = time.monotonic() + self.max_s
        while not self.stop_ev.is_set() and time.monotonic() < end:
            t0 = time.time_ns()
            out = N.nsexec(self.ns, "ss -tnmiH state established", capture=True, check=False)
            self.samples.append({"t_abs_ns": t0, "ss": out})
            self.stop_ev.wait(self.every)

    def stop(self):
        self.stop_ev.set()
        self.join(5)
        return self.samples


class Tcpdump:
    def __init__(self, ns, ifname, path):
        self.p = subprocess.Popen(
            ["ip", "netns", "exec", ns, "tcpdump", "-i", ifname, "--immediate-mode", "-s", "0",
             "-nn", "--time-stamp-precision=nano", "-w", path],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # tcpdump says "listening on" once the packet socket is bound
        line = self.p.stderr.readline()
        if "listening on" not in line:
            raise RuntimeError(f"tcpdump did not start: {line}{self.p.stderr.read()}")

    def stop(self):
        time.sleep(0.1)
        self.p.send_signal(signal.SIGINT)
        try:
            return self.p.communicate(timeout=10)[1]
        except subprocess.TimeoutExpired:
            self.p.kill()
            return ""


def _apps(kind, spec, log):
    return [sys.executable, "-m", "bench.kernel.apps", kind, json.dumps(spec), log]


def _read_log(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                out.append(json.loads(line))
    return out


def _topology(sc):
    """Build the namespaces; returns (names dict, capture ns, capture if)."""
    tag = sc.name[:6].replace("-", "")
    t = sc.topology
    ns = {"client": N.add_ns(f"pysx-{tag}-c"), "server": N.add_ns(f"pysx-{tag}-s")}
    if t == "direct":
        N.veth(ns["client"], "eth0", ns["server"], "eth0")
        N.addr(ns["client"], "eth0", CLIENT_IP + "/24")
        N.addr(ns["server"], "eth0", SERVER_IP + "/24")
        return ns, ns["server"], "eth0"
    if t == "delay":
        ns["middle"] = N.add_ns(f"pysx-{tag}-m")
        N.veth(ns["client"], "eth0", ns["middle"], "toc")
        N.veth(ns["middle"], "tos", ns["server"], "eth0")
        for i in ("toc", "tos"):
            N.nsexec(ns["middle"], ["ip", "link", "set", i, "promisc", "on"])
        N.addr(ns["client"], "eth0", CLIENT_IP + "/24")
        N.addr(ns["server"], "eth0", SERVER_IP + "/24")
        return ns, ns["server"], "eth0"
    if t == "node":
        # client 198.18.1.2 -- node 198.18.1.1 | 198.19.0.1 -- endpoints 198.19.0.10, .11
        ns["node"] = N.add_ns(f"pysx-{tag}-n")
        N.veth(ns["client"], "eth0", ns["node"], "eth0")
        N.veth(ns["node"], "eth1", ns["server"], "eth0")
        N.addr(ns["client"], "eth0", "198.18.1.2/24")
        N.addr(ns["node"], "eth0", "198.18.1.1/24")
        N.addr(ns["node"], "eth1", "198.19.0.1/24")
        N.addr(ns["server"], "eth0", "198.19.0.10/24")
        N.addr(ns["server"], "eth0", "198.19.0.11/24")
        N.nsexec(ns["client"], "ip route add 198.18.0.0/15 via 198.18.1.1")
        N.nsexec(ns["server"], "ip route add 198.18.0.0/16 via 198.19.0.1")
        N.sysctl(ns["node"], "net.ipv4.ip_forward", 1)
        return ns, ns["node"], "eth0"
    raise ValueError(t)


def _conntrack(ns):
    out = {}
    for k, args in (("list", ["conntrack", "-L"]), ("stats", ["conntrack", "-S"])):
        out[k] = N.nsexec(ns, args, capture=True, check=False) or ""
    return out


def _host_sysctls(ns, explicit: dict) -> dict:
    """Sysctls for host.toml: what the scenario set, plus every sysctl the
    model honours whose value in the namespace differs from the profile."""
    from pystack.sysctl import SYSCTLS, Sysctls
    base = Sysctls("6.18")
    out = {}
    for name in SYSCTLS:
        raw = N.read_sysctl(ns, name)
        if raw is None or raw == "":
            continue
        if SYSCTLS[name].handler == "proc_do_large_bitmap":
            # printed as ranges ("0-1,3-127"); host.toml takes the same text
            if name in explicit or raw.strip() != base.format(name):
                out[name] = raw.strip()
            continue
        parts = raw.split()
        try:
            val = [int(x) for x in parts] if len(parts) > 1 else int(parts[0])
        except ValueError:
            continue
        want = base.get(name)
        if isinstance(want, tuple):
            want = list(want)
        if name in explicit or val != want:
            out[name] = val
    return out


def _toml_value(v):
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(str(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v)
    return str(v)


# veth with GRO off: every received segment is an skb of truesize payload +
# 832 (ss -m on the slow reader: r=6840 for 3 x 1448 bytes; 1832 for 1000)
VETH_SKB_TRUESIZE_OVERHEAD = 832
# ... with the payload in frags: tcp_try_coalesce appends a segment to the
# tail skb for its len only (slow reader: r 4560 -> 6008 after a read freed
# one skb), but not while the tail is the sender's skb_clone (single-segment
# skbs until the sender takes the ACK; GSO-split segments are private)
VETH_SKB_COALESCE = "veth"


def write_host_toml(path, sc, sysctls, reads_file, server_ip):
    lines = [f"# Server of scenario {sc.name!r}, recorded by `python -m bench.kernel record`.",
             f"# {sc.doc}", "[host]", f'name = "{sc.name}"',
             f"addresses = {json.dumps(sc.host_addresses or [server_ip])}", 'profile = "6.18"',
             f"skb_truesize_overhead = {VETH_SKB_TRUESIZE_OVERHEAD}",
             f'skb_coalesce = "{VETH_SKB_COALESCE}"', ""]
    if sysctls:
        lines.append("[sysctl]")
        for k, v in sorted(sysctls.items()):
            lines.append(f'"{k}" = {_toml_value(v)}')
        lines.append("")
    # topology "node": the modelled host is the router; the endpoints'
    # listeners live in another namespace and are not part of it
    listeners = [] if sc.topology == "node" else sc.server.get("tcp", [])
    for l in listeners:
        accept = l.get("accept", "immediate")
        if accept == "immediate" and l.get("accept_every"):
            # accept(), then busy for T: a token bucket of depth 1 refilled
            # every T (pystack.appmodel AcceptRate) behaves the same
            accept = f"rate 1/{int(l['accept_every'] * 1000)}ms"
        plans = l.get("plans", []) + [l.get("default_plan", {"read": "all"})]
        reads = any(p.get("read", "all") != "never" for p in plans)
        if accept == "never":
            read = "never"
        elif reads_file and reads:
            read = f"log {reads_file}"
        elif reads:
            read = "as-arrives"
        else:
            read = "never"
        lines += ["[[listen]]", f'address = "{l.get("addr", "0.0.0.0")}"',
                  f"port = {l['port']}", f"backlog = {l['backlog']}"]
        if l.get("rcvbuf") is not None:
            lines.append(f"rcvbuf = {l['rcvbuf']}")
        lines += [f'app = {{ accept = "{accept}", read = "{read}" }}', ""]
    for u in ([] if sc.topology == "node" else sc.server.get("udp", [])):
        lines += ["[[listen]]", f'address = "{u.get("addr", "0.0.0.0")}"',
                  f"port = {u['port']}", 'proto = "udp"']
        if u.get("rcvbuf") is not None:
            lines.append(f"rcvbuf = {u['rcvbuf']}")
        lines += [f'app = {{ read = "{u.get("read", "as-arrives")}" }}', ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def record_one(sc, outdir):
    d = os.path.join(outdir, sc.name)
    os.makedirs(d, exist_ok=True)
    for old in ("capture.pcap", "reads.csv", "accepts.csv", "rules.save", "capture-pods.pcap"):
        if os.path.exists(os.path.join(d, old)):
            os.remove(os.path.join(d, old))
    tmp = f"/tmp/pysx-{sc.name}"
    os.makedirs(tmp, exist_ok=True)
    procs = []
    dumps = []
    try:
        ns, cap_ns, cap_if = _topology(sc)
        truth_ns = ns.get("node", ns["server"]) if sc.topology == "node" else ns["server"]
        for k, v in sc.sysctls.items():
            N.sysctl(truth_ns, k, v)
        host_sc = _host_sysctls(truth_ns, sc.sysctls)
        for where, rules in sc.rules.items():
            N.nsexec(ns[where], ["iptables-restore"], input=rules)
        if "middle" in ns:
            dl = Proc(ns["middle"], [sys.executable, "-m", "bench.kernel.apps", "delay",
                                     "toc", "tos", str(sc.delay_ms), "60"], "delay")
            procs.append(dl)
            dl.wait_line("ready", 10)
        dumps.append(Tcpdump(cap_ns, cap_if, os.path.join(d, "capture.pcap")))
        if sc.topology == "node":
            dumps.append(Tcpdump(cap_ns, "eth1", os.path.join(d, "capture-pods.pcap")))
        time.sleep(0.3)
        before, b0, b1 = snapshot(truth_ns)
        cs_before = _conntrack(truth_ns)["stats"] if sc.netfilter else ""
        srv = Proc(ns["server"], _apps("server", sc.server, f"{tmp}/server.jsonl"), "server")
        procs.append(srv)
        srv.wait_line("ready", 10)
        sampler = None
        if sc.ss_every:
            sampler = SsSampler(ns["server"], sc.ss_every)
            sampler.start()
        cli = Proc(ns["client"], _apps("client", sc.client, f"{tmp}/client.jsonl"), "client")
        procs.append(cli)
        cli.wait_line("done", 45)
        time.sleep(sc.settle)
        after, a0, a1 = snapshot(truth_ns)
        ss_samples = sampler.stop() if sampler else []
        ss = N.nsexec(truth_ns, "ss -tanmi", capture=True, check=False)
        ss_udp = N.nsexec(truth_ns, "ss -uanm", capture=True, check=False)
        nf = {}
        if sc.netfilter:
            for where in sc.rules:
                nf[f"iptables_save_{where}"] = N.nsexec(ns[where], "iptables-save -c",
                                                        capture=True)
            nf["conntrack"] = _conntrack(truth_ns)
            nf["conntrack"]["stats_before"] = cs_before
        tcpdump_msgs = [t.stop() for t in dumps]
        dumps = []
    finally:
        for t in dumps:
            t.stop()
        for p in reversed(procs):
            p.kill()
        N.cleanup_all()
    # the capture ends where the counters were read: packets after that
    # moment changed no counter in the truth
    trims = [trim_pcap(os.path.join(d, f), a0) for f in ("capture.pcap", "capture-pods.pcap")
             if os.path.exists(os.path.join(d, f))]
    slog = _read_log(f"{tmp}/server.jsonl")
    clog = _read_log(f"{tmp}/client.jsonl")
    off_s = next(e for e in slog if e["ev"] == "clock")["offset_ns"]
    off_c = next(e for e in clog if e["ev"] == "clock")["offset_ns"]
    for e in slog:
        e["t_abs_ns"] = e["mono_ns"] + off_s
    # events after the counters were read (the programs being killed) are not
    # part of the recording
    slog = [e for e in slog if e["ev"] == "clock" or e["t_abs_ns"] <= a0]
    reads = [e for e in slog if e["ev"] == "read"]
    accepts = [e for e in slog if e["ev"] == "accept"]
    if accepts:
        # exact accept() times, for an application model that can replay them
        with open(os.path.join(d, "accepts.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["t_abs_ns", "client_addr", "client_port"])
            for e in accepts:
                w.writerow([e["t_abs_ns"], e["caddr"], e["cport"]])
    reads_file = None
    if reads:
        reads_file = "reads.csv"
        with open(os.path.join(d, reads_file), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["t_abs_ns", "bytes", "client_addr", "client_port"])
            for e in reads:
                w.writerow([e["t_abs_ns"], e["bytes"], e["caddr"], e["cport"]])
    cdone = next((e for e in clog if e["ev"] == "client_done"), {"results": [], "udp": []})
    for r in cdone["results"]:
        for k in ("connect_mono_ns", "close_mono_ns"):
            if k in r:
                r[k.replace("mono", "abs")] = r.pop(k) + off_c
    if sc.netfilter:
        with open(os.path.join(d, "rules.save"), "w") as f:
            f.write("".join(v for k, v in nf.items() if k.startswith("iptables_save_")))
    server_ip = "198.18.1.1" if sc.topology == "node" else SERVER_IP
    write_host_toml(os.path.join(d, "host.toml"), sc, host_sc, reads_file, server_ip)
    truth = {
        "scenario": sc.name, "doc": sc.doc, "kernel": os.uname().release,
        "topology": sc.topology, "delay_ms_each_way": sc.delay_ms if sc.topology == "delay" else 0,
        "server_ip": server_ip, "client_ip": "198.18.1.2" if sc.topology == "node" else CLIENT_IP,
        "sysctls_set": sc.sysctls, "netfilter": sc.netfilter,
        "deltas": deltas(before, after),
        "kernel_counters": sorted(after),
        "gauges": {k: after[k] for k in sorted(GAUGES) if k in after},
        "client": cdone["results"], "client_udp": cdone["udp"],
        "server_events": [{k: v for k, v in e.items() if k != "mono_ns"} for e in slog
                          if e["ev"] not in ("read", "clock")],
        "server_reads": len(reads),
        "snapshots_ns": {"before": [b0, b1], "after": [a0, a1]},
        "capture_trim": [{"kept": k, "dropped_after_snapshot": dr,
                          "within_1ms_of_snapshot": nr} for k, dr, nr in trims],
        "clock": {"server_offset_ns": off_s, "client_offset_ns": off_c,
                  "how": "capture time = time.monotonic_ns() + offset, offset from the "
                         "narrowest (realtime, monotonic, realtime) bracket at program start"},
        "ss": ss, "ss_udp": ss_udp,
        "ss_samples": [x for x in ss_samples if x["t_abs_ns"] <= a0 and x["ss"].strip()],
        "server_spec": sc.server, "client_spec": sc.client,
        "tcpdump": [m.strip().splitlines()[-3:] if m else [] for m in tcpdump_msgs],
    }
    if sc.netfilter:
        truth["netfilter"] = nf
    with open(os.path.join(d, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
    return d

