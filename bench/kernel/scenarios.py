"""The recorded scenarios.  Each is small (a few seconds, KBs to ~2 MB).

Addresses: server 198.18.0.1, client 198.18.0.2 on one link ("direct"), or
through a middle namespace that delays every frame ("delay", an AF_PACKET
delay line, bench.kernel.apps.delay_line: the RTT is 2 x delay_ms).  The
"node" topology is a router namespace (kube-proxy style DNAT) between the
client 198.18.1.2 and two endpoints 198.19.0.10/.11.
"""
from __future__ import annotations

from dataclasses import dataclass, field

S, C = "198.18.0.1", "198.18.0.2"


@dataclass
class Scenario:
    name: str
    doc: str
    server: dict
    client: dict
    sysctls: dict = field(default_factory=dict)
    rules: dict = field(default_factory=dict)      # namespace role -> iptables-restore text
    topology: str = "direct"
    delay_ms: float = 0.0
    settle: float = 0.5
    netfilter: bool = False
    host_addresses: list | None = None
    # sample `ss -tmi` in the server namespace every ss_every seconds while
    # the traffic runs (skmem r = rmem_alloc, rcv_ssthresh, rcv_space):
    # truesize and window state the capture cannot show
    ss_every: float = 0.0


# Client namespace: swallow the SYN-ACKs the crafted SYNs provoke, so the
# client kernel (which owns no socket for them) answers none with a RST.
DROP_SYNACK = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --tcp-flags SYN,ACK SYN,ACK -j DROP
COMMIT
"""


def _overflow(name, abort, delay):
    if delay:
        # backlog 2 (accept queue and SYN queue hold 3 each).  Two clients
        # connect first (accept queue 2 of 3); 300 ms later four connect at
        # once over a 50 ms RTT: all four SYNs find the accept queue not full
        # (3 request socks + 1 cookie), then their final ACKs meet a queue
        # with room for one: the rest overflow at tcp_check_req /
        # cookie_v4_check time, where tcp_abort_on_overflow matters.
        conns = [{"at": t, "dst": S, "port": 5000, "sport": 41000 + i,
                  "connect_timeout": 4.0}
                 for i, t in enumerate([0.0, 0.15, 0.45, 0.452, 0.454, 0.456])]
        doc = (f"listen(fd, 2), never accept(); 2 clients, then 4 at once over a 50 ms "
               f"RTT; tcp_abort_on_overflow={abort}")
        backlog, settle = 2, 3.6
    else:
        conns = [{"at": 0.2 * i, "dst": S, "port": 5000, "sport": 41000 + i,
                  "connect_timeout": 3.0} for i in range(6)]
        doc = (f"listen(fd, 2), never accept(); 6 clients 200 ms apart; "
               f"tcp_abort_on_overflow={abort}")
        backlog, settle = 2, 0.5
    return Scenario(
        name=name, doc=doc,
        server={"tcp": [{"port": 5000, "backlog": backlog, "accept": "never"}]},
        client={"conns": conns},
        sysctls={"net.ipv4.tcp_abort_on_overflow": abort},
        topology="delay" if delay else "direct", delay_ms=25.0 if delay else 0.0,
        settle=settle)


def _synflood(name, cookies, backlog, max_syn_backlog, doc):
    segs = [{"at": 0.005 * i, "sport": 20000 + i, "dport": 7000, "flags": "S",
             "seq": 1000000 + 7919 * i} for i in range(100)]
    return Scenario(
        name=name, doc=doc,
        server={"tcp": [{"port": 7000, "backlog": backlog, "accept": "immediate"}]},
        client={"raw": {"src": C, "dst": S, "segments": segs}},
        sysctls={"net.ipv4.tcp_syncookies": cookies,
                 "net.ipv4.tcp_max_syn_backlog": max_syn_backlog},
        rules={"client": DROP_SYNACK}, settle=2.3)


SCENARIOS = [
    _overflow("accept-overflow-a0", 0, False),
    _overflow("accept-overflow-a1", 1, False),
    _overflow("accept-overflow-rtt-a0", 0, True),
    _overflow("accept-overflow-rtt-a1", 1, True),
    _synflood("synflood-cookies0", 0, 64, 32,
              "100 crafted SYNs 5 ms apart, never completed; tcp_syncookies=0, listen "
              "backlog 64, tcp_max_syn_backlog 32 (the 3/4 rule drops from qlen 24 on)"),
    _synflood("synflood-cookies0-qfull", 0, 8, 2048,
              "100 crafted SYNs; tcp_syncookies=0, backlog 8: SYN queue full at 9 "
              "(TCPReqQFullDrop)"),
    _synflood("synflood-cookies1", 1, 8, 2048,
              "100 crafted SYNs; tcp_syncookies=1, backlog 8: 9 request socks, then cookies"),
    _synflood("synflood-cookies2", 2, 8, 2048,
              "100 crafted SYNs; tcp_syncookies=2: every SYN answered with a cookie"),
    Scenario(
        name="closed-ports",
        doc="3 TCP connects to a closed port (RST), 20 + 6 UDP datagrams to a closed "
            "port (ICMP port unreachable under icmp_ratelimit / icmp_msgs_per_sec)",
        server={},
        client={"conns": [{"at": 0.1 * i, "dst": S, "port": 9, "sport": 42000 + i}
                          for i in range(3)],
                "udp": [{"at": 0.4, "dst": S, "port": 9999, "count": 20, "every": 0.01},
                        {"at": 2.0, "dst": S, "port": 9998, "count": 6, "every": 0.01}]},
        settle=0.3),
    Scenario(
        name="udp-rcvbuf-overflow",
        doc="a bound UDP socket with SO_RCVBUF 2048 (sk_rcvbuf 4096) that never reads; "
            "30 datagrams of 500 bytes 10 ms apart: the first fit, the rest are "
            "UdpRcvbufErrors / UdpInErrors (__udp_enqueue_schedule_skb)",
        server={"udp": [{"port": 6100, "rcvbuf": 2048, "read": "never"}]},
        client={"udp": [{"at": 0.0, "dst": S, "port": 6100, "count": 30, "every": 0.01,
                         "size": 500}]},
        settle=0.3),
    Scenario(
        name="icmp-echo",
        doc="5 ICMP echo requests (raw socket) 100 ms apart: echo replies (icmp_echo)",
        server={},
        client={"echo": [{"dst": S, "count": 5, "every": 0.1}]},
        settle=0.3),
    Scenario(
        name="slow-reader-zero-window",
        doc="SO_RCVBUF 4096 (sk_rcvbuf 8192); the app reads 2048 bytes every 200 ms "
            "from 0.5 s after accept; the client pushes 24000 bytes: zero window, probes",
        server={"tcp": [{"port": 5001, "backlog": 8, "rcvbuf": 4096, "accept": "immediate",
                         "default_plan": {"read": {"size": 2048, "every": 0.2, "start": 0.5},
                                          "close": "hold"}}]},
        client={"conns": [{"dst": S, "port": 5001, "sport": 43000, "send": 24000,
                           "send_for": 6.0}]},
        ss_every=0.05, settle=4.0),
    Scenario(
        name="bulk-default",
        doc="2 MB from the client to a reader that reads as fast as it can, default "
            "buffers (autotuning on); client closes, server closes on EOF",
        server={"tcp": [{"port": 5002, "backlog": 8, "accept": "immediate",
                         "default_plan": {"read": "all", "close": "eof"}}]},
        client={"conns": [{"dst": S, "port": 5002, "sport": 44000, "send": 2_000_000,
                           "send_for": 10.0, "close": "fin"}]},
        ss_every=0.05, settle=0.5),
    Scenario(
        name="teardown",
        doc="five connections 300 ms apart, each 1000 bytes from the client: (0) client "
            "FIN first; (1) server FIN first (TIME_WAIT on the server); (2) client "
            "SO_LINGER 0 (RST); (3) server SO_LINGER 0 (RST); (4) server closes with "
            "unread data (RST)",
        server={"tcp": [{"port": 5003, "backlog": 8, "accept": "immediate", "plans": [
            {"read": "all", "close": "eof"},
            {"read": "all", "close": {"after": 0.15}},
            {"read": "all", "close": "hold"},
            {"read": "all", "close": {"after": 0.15}, "linger0": True},
            {"read": "never", "close": {"after": 0.15}},
        ]}]},
        client={"conns": [
            {"at": 0.0, "dst": S, "port": 5003, "sport": 45000, "send": 1000,
             "close": "fin", "close_at": 0.1},
            {"at": 0.3, "dst": S, "port": 5003, "sport": 45001, "send": 1000,
             "wait_eof": True, "close": "fin"},
            {"at": 0.6, "dst": S, "port": 5003, "sport": 45002, "send": 1000,
             "close": "rst", "close_at": 0.1},
            {"at": 0.9, "dst": S, "port": 5003, "sport": 45003, "send": 1000,
             "wait_eof": True, "close": "hold"},
            {"at": 1.2, "dst": S, "port": 5003, "sport": 45004, "send": 1000,
             "close": "hold"},
        ]},
        ss_every=0.05, settle=0.6),
]

# A slow application: accept(), then busy for T.  The SYNs (and their
# retransmissions 1.03 s = 3 T later) arrive 120-220 ms into an accept period,
# far from the accept() calls, so the accept times' jitter cannot decide them.
_T = 0.343
_PHASES = [0.0] + [k * _T + p for k in (0, 1) for p in (0.12, 0.17, 0.22)]
SCENARIOS.append(Scenario(
    name="accept-slow",
    doc="listen(fd, 1); the application accepts one connection every 343 ms; 7 clients "
        "(3 per accept period, mid-period): SYNs dropped while the accept queue (2) is "
        "full, retransmitted 1.03 s later, all accepted in the end",
    server={"tcp": [{"port": 5005, "backlog": 1, "accept": "immediate", "accept_every": _T,
                     "default_plan": {"read": "all", "close": "hold"}}]},
    client={"conns": [{"at": t, "dst": S, "port": 5005, "sport": 49000 + i,
                       "connect_timeout": 6.0} for i, t in enumerate(_PHASES)]},
    settle=0.5))

# The same kind of application with SYNs 50 ms apart: the 7th SYN and the
# second accept() are a fraction of a millisecond apart, so the recording
# decides which came first (0.4 ms here, SYN first); the model's accept
# schedule (token bucket from the first accept) must order them the same way.
SCENARIOS.append(Scenario(
    name="accept-slow-race",
    doc="listen(fd, 1); accepts every 300 ms; 8 clients 50 ms apart: the 7th SYN "
        "and the second accept() are a fraction of a millisecond apart",
    server={"tcp": [{"port": 5005, "backlog": 1, "accept": "immediate", "accept_every": 0.3,
                     "default_plan": {"read": "all", "close": "hold"}}]},
    client={"conns": [{"at": 0.05 * i, "dst": S, "port": 5005, "sport": 49000 + i,
                       "connect_timeout": 6.0} for i in range(8)]},
    settle=0.5))

SCENARIOS.append(Scenario(
    name="timewait-reuse",
    doc="the server closes first (its socket goes to TIME_WAIT); 500 ms later the client "
        "connects again from the same port: the SYN meets the TIME_WAIT minisock "
        "(tcp_timewait_state_process -> TCP_TW_SYN, newer timestamp) and opens a new "
        "connection",
    server={"tcp": [{"port": 5004, "backlog": 8, "accept": "immediate", "plans": [
        {"read": "all", "close": {"after": 0.1}},
        {"read": "all", "close": "hold"}]}]},
    client={"conns": [
        {"at": 0.0, "dst": S, "port": 5004, "sport": 48000, "send": 100, "wait_eof": True,
         "close": "fin"},
        {"at": 0.5, "dst": S, "port": 5004, "sport": 48000, "send": 100, "close": "hold"}]},
    settle=0.5))

# --- netfilter (recorded now, proved later when netfilter is in the model) ---------

INPUT_RULES = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -p tcp -m tcp --dport 6001 -j DROP
-A INPUT -p tcp -m tcp --dport 6002 -j REJECT --reject-with tcp-reset
-A INPUT -p udp -m udp --dport 6003 -j REJECT --reject-with icmp-port-unreachable
COMMIT
"""

# Client namespace: a reply to a crafted segment (sports 30001-30002) would
# make the client kernel answer with a RST of its own; the crafted RST
# (sport 30003) itself must pass.
CLIENT_DROP_RST_ACK = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A OUTPUT -p tcp -m tcp --sport 30001:30002 --tcp-flags RST RST -j DROP
COMMIT
"""

KUBE_NAT = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SEP-AAAAAAAAAAAAAAAA - [0:0]
:KUBE-SEP-BBBBBBBBBBBBBBBB - [0:0]
:KUBE-SVC-WEBWEBWEBWEBWEBW - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SERVICES -d 198.18.100.100/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-WEBWEBWEBWEBWEBW
-A KUBE-SVC-WEBWEBWEBWEBWEBW ! -s 198.19.0.0/16 -d 198.18.100.100/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-WEBWEBWEBWEBWEBW -m comment --comment "default/web:http -> 198.19.0.10:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-AAAAAAAAAAAAAAAA
-A KUBE-SVC-WEBWEBWEBWEBWEBW -m comment --comment "default/web:http -> 198.19.0.11:8080" -j KUBE-SEP-BBBBBBBBBBBBBBBB
-A KUBE-SEP-AAAAAAAAAAAAAAAA -s 198.19.0.10/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-AAAAAAAAAAAAAAAA -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 198.19.0.10:8080
-A KUBE-SEP-BBBBBBBBBBBBBBBB -s 198.19.0.11/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-BBBBBBBBBBBBBBBB -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 198.19.0.11:8080
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate INVALID -j DROP
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -d 198.19.0.0/16 -p tcp -m tcp --dport 8080 -j ACCEPT
COMMIT
"""

NETFILTER_SCENARIOS = [
    Scenario(
        name="nf-input-rules",
        doc="INPUT: ctstate INVALID DROP; tcp/6001 DROP; tcp/6002 REJECT tcp-reset; "
            "udp/6003 REJECT icmp-port-unreachable; listeners on 6001, 6002, 6004 and a "
            "bound UDP 6003 behind the rules; crafted SYN+FIN, FIN+ACK and RST to 6004",
        server={"tcp": [{"port": p, "backlog": 8, "accept": "immediate",
                         "default_plan": {"read": "all", "close": "hold"}}
                        for p in (6001, 6002, 6004)],
                "udp": [{"port": 6003}]},
        client={"conns": [
            {"at": 0.0, "dst": S, "port": 6001, "sport": 46000, "connect_timeout": 2.5},
            {"at": 0.1, "dst": S, "port": 6002, "sport": 46001},
            {"at": 0.2, "dst": S, "port": 6004, "sport": 46002, "send": 100},
        ], "udp": [{"at": 0.3, "dst": S, "port": 6003, "count": 3, "every": 0.05}],
            "raw": {"src": C, "dst": S, "segments": [
                {"at": 0.5, "sport": 30001, "dport": 6004, "flags": "SF", "seq": 5000},
                {"at": 0.6, "sport": 30002, "dport": 6004, "flags": "FA", "seq": 6000,
                 "ack": 77},
                {"at": 0.7, "sport": 30003, "dport": 6004, "flags": "R", "seq": 7000}]}},
        rules={"server": INPUT_RULES, "client": CLIENT_DROP_RST_ACK},
        netfilter=True, settle=0.5),
    Scenario(
        name="nf-dnat-service",
        doc="kube-proxy iptables mode on a node namespace: ClusterIP 198.18.100.100:80 "
            "-> statistic random 0.5 -> DNAT 198.19.0.10:8080 or 198.19.0.11:8080, "
            "MASQUERADE for marked traffic; 20 connections of 100 bytes from 198.18.1.2",
        server={"tcp": [{"port": 8080, "backlog": 64, "accept": "immediate",
                         "default_plan": {"read": "all", "close": "eof"}}]},
        client={"conns": [{"at": 0.05 * i, "dst": "198.18.100.100", "port": 80,
                           "sport": 47000 + i, "send": 100, "close": "fin",
                           "close_at": 0.05} for i in range(20)]},
        rules={"node": KUBE_NAT}, topology="node", netfilter=True, settle=0.5,
        host_addresses=["198.18.1.1", "198.19.0.1"]),
]

ALL = {s.name: s for s in SCENARIOS + NETFILTER_SCENARIOS}
