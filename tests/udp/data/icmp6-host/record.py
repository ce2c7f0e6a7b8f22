"""Record the icmp6-host capture against the running kernel (root).

Two throwaway namespaces joined by a veth pair: server fd00:18::1/64,
client fd00:18::2/64, no link-local addresses (addr_gen_mode 1), no DAD,
static neighbour entries (no NDP in the capture), no RS, checksum offloads
off.  With the server's /proc/net/snmp6 and /proc/net/snmp read before and
after, the client sends (Python sockets, fixed times):

* 20 UDP datagrams of 100 bytes to the closed port 9999, 10 ms apart
  (the 100 ms per-peer ICMPv6 limit: 6 burst, then one per 100 ms),
* 2 UDP datagrams of 1400 bytes to port 9998 1 s later (the 1232-byte quote),
* 12 echo requests of 56 bytes, 5 ms apart (type 129 is not in ratemask).

Writes capture.pcap and truth.json (non-zero counter deltas) next to it.

`python record.py global` records global/: net.ipv4.icmp_msgs_burst 10 on
the server, 60 client addresses fd00:18::100.. (static neighbours) each
sending one UDP datagram to a closed port within ~6 ms, then 198.18.0.2
sends one IPv4 datagram to a closed port of 198.18.0.1: the ICMPv6 errors
drain the netns bucket that the IPv4 error then finds empty.  The kernel
takes a random 0-2 credits per message, so only the relations are exact.

Usage: python record.py [global]   (as root; takes ~5 s)
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
S, C = "fd00:18::1", "fd00:18::2"
NS_S, NS_C = "pysx6-s", "pysx6-c"


def sh(cmd, check=True):
    return subprocess.run(cmd, shell=True, check=check, capture_output=True, text=True).stdout


def nx(ns, cmd, check=True):
    return sh(f"ip netns exec {ns} {cmd}", check)


def counters(ns):
    out = {}
    txt = nx(ns, "cat /proc/net/snmp6")
    for line in txt.splitlines():
        k, v = line.split()
        out[k] = int(v)
    lines = nx(ns, "cat /proc/net/snmp").splitlines()
    for h, v in zip(lines[0::2], lines[1::2]):
        g = h.split(":")[0]
        for k, x in zip(h.split()[1:], v.split()[1:]):
            out[g + k] = int(x)
    return out


CLIENT = r'''
import socket, time, sys
S = sys.argv[1]; t0 = float(sys.argv[2])
def at(t):
    d = t0 + t - time.time()
    if d > 0: time.sleep(d)
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.bind(("fd00:18::2", 40000))
for k in range(20):
    at(0.01 * k); u.sendto(b"x" * 100, (S, 9999))
for k in range(2):
    at(1.0 + 0.01 * k); u.sendto(b"y" * 1400, (S, 9998))
r = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
for k in range(12):
    at(1.5 + 0.005 * k)
    r.sendto(bytes([128, 0, 0, 0, 0x12, 0x34, 0, k]) + b"p" * 48, (S, 0))
'''


CLIENT_GLOBAL = r'''
import socket, time, sys
S = sys.argv[1]; t0 = float(sys.argv[2])
socks = []
for k in range(60):
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.bind(("fd00:18::%x" % (0x100 + k), 40000))
    socks.append(u)
v4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
v4.bind(("198.18.0.2", 40000))
d = t0 - time.time()
if d > 0: time.sleep(d)
for u in socks:
    u.sendto(b"g" * 20, (S, 9999))
v4.sendto(b"g" * 20, ("198.18.0.1", 9999))
'''


def main():
    glob = sys.argv[1:] == ["global"]
    out = os.path.join(HERE, "global") if glob else HERE
    os.makedirs(out, exist_ok=True)
    for ns in (NS_S, NS_C):
        sh(f"ip netns del {ns}", check=False)
    try:
        for ns in (NS_S, NS_C):
            sh(f"ip netns add {ns}")
            nx(ns, "sysctl -qw net.ipv6.conf.default.addr_gen_mode=1")
            nx(ns, "sysctl -qw net.ipv6.conf.default.accept_ra=0")
            nx(ns, "sysctl -qw net.ipv6.conf.default.router_solicitations=0")
            nx(ns, "sysctl -qw net.ipv6.conf.default.accept_dad=0")
            nx(ns, "ip link set lo up")
        sh(f"ip link add eth0 netns {NS_S} type veth peer name eth0 netns {NS_C}")
        mac = {}
        for ns, a in ((NS_S, S), (NS_C, C)):
            nx(ns, "ethtool -K eth0 tx off rx off tso off gso off gro off")
            nx(ns, f"ip -6 addr add {a}/64 dev eth0 nodad")
            nx(ns, "ip link set eth0 up")
            mac[ns] = nx(ns, "cat /sys/class/net/eth0/address").strip()
        nx(NS_S, f"ip -6 neigh add {C} lladdr {mac[NS_C]} dev eth0 nud permanent")
        nx(NS_C, f"ip -6 neigh add {S} lladdr {mac[NS_S]} dev eth0 nud permanent")
        if glob:
            nx(NS_S, "sysctl -qw net.ipv4.icmp_msgs_burst=10")
            nx(NS_S, "ip addr add 198.18.0.1/24 dev eth0")
            nx(NS_C, "ip addr add 198.18.0.2/24 dev eth0")
            nx(NS_S, f"ip neigh add 198.18.0.2 lladdr {mac[NS_C]} dev eth0 nud permanent")
            nx(NS_C, f"ip neigh add 198.18.0.1 lladdr {mac[NS_S]} dev eth0 nud permanent")
            for k in range(60):
                a = "fd00:18::%x" % (0x100 + k)
                nx(NS_C, f"ip -6 addr add {a}/64 dev eth0 nodad")
                nx(NS_S, f"ip -6 neigh add {a} lladdr {mac[NS_C]} dev eth0 nud permanent")
        time.sleep(3.0)                 # unsolicited MLD reports are over
        pcap = os.path.join(out, "capture.pcap")
        td = subprocess.Popen(["ip", "netns", "exec", NS_S, "tcpdump", "-i", "eth0", "-n",
                               "--immediate-mode", "-s", "0",
                               "--time-stamp-precision=nano", "-w", pcap],
                              stderr=subprocess.PIPE)
        time.sleep(1.0)
        before = counters(NS_S)
        t0 = time.time() + 0.2
        subprocess.run(["ip", "netns", "exec", NS_C, sys.executable, "-c",
                        CLIENT_GLOBAL if glob else CLIENT, S,
                        repr(t0)], check=True)
        time.sleep(0.5)
        after = counters(NS_S)
        time.sleep(0.2)
        td.terminate()
        td.wait()
        deltas = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
        sysctls = {k: nx(NS_S, f"sysctl -n {k}").strip() for k in (
            "net.ipv6.icmp.ratelimit", "net.ipv6.icmp.ratemask",
            "net.ipv6.icmp.echo_ignore_all", "net.ipv4.icmp_msgs_per_sec",
            "net.ipv4.icmp_msgs_burst")}
        with open(os.path.join(out, "truth.json"), "w") as f:
            json.dump({"kernel": os.uname().release, "server": S, "client": C,
                       "server4": "198.18.0.1" if glob else None,
                       "sysctls": sysctls, "deltas": dict(sorted(deltas.items()))},
                      f, indent=1)
            f.write("\n")
        print(json.dumps(deltas, indent=1))
    finally:
        for ns in (NS_S, NS_C):
            sh(f"ip netns del {ns}", check=False)


if __name__ == "__main__":
    main()
