"""Replay captures through the stack model (Python orchestration).

    r = Replay(host, checksum="auto", seed=0, batch_size=8192)
    res = r.run(["capture.pcap"])                  # or r.run_packets([frame, ...])
    res.counters["TcpExtListenOverflows"]
    res.packets["verdict"], res.packets["reason"], ...   # one row per packet
    res.listeners[0]["accept_queue_max"]
    res.replies                                    # what the model sent
    res.events                                     # timer events (retransmits, expiries, accepts)
    res.divergences                                # model vs capture (open-loop approximations)
    res.connections                                # per TCP child: 4-tuple, states, bytes, drops,
                                                   # zero windows, window divergences
    describe_packet(res, 0)                        # one row with names instead of codes

Netfilter: ``Replay(host, rules="iptables.save")`` (a path, save-file text,
a Ruleset, or a list: one per family) loads the rules and conntrack into the
engine's hook points (pyx/engine.pyx); ``conntrack=True`` tracks without
rules.  Then res.packets has the nf_* / ctstate / ct_id / nat_* columns,
res.rules the per-rule counters, res.rules_save() the iptables-save -c text,
res.conntrack the conntrack -S / -L views.

Python hooks: ``r.add_hook("PREROUTING", fn, priority=-150, match={...})``
before the run calls fn(pkt) (a pystack._core.pyhook.HookPacket) for the
packets the C filter `match` passes, at that priority among the built-in
tables; fn returns None / ACCEPT or DROP and may set pkt.mark.  Adding a
hook to a Replay without rules attaches netfilter with conntrack (as
``conntrack=True``).  res.hooks: per hook its calls, drops and time.

Streaming: ``run(paths, on_batch=f, collect=False)`` calls f(rb, cols,
verdicts) per batch and keeps no per-packet columns and no connection
records (counters, listeners, events and divergences are still returned).
The engine hands over a connection's record when the connection finishes
(Engine.take_finished, once per batch) and the open ones at the end
(Engine.open_records), so its memory follows the live connections only.

Per batch: capture reader -> parse_batch (checksums verified in the same
pass unless checksum="ignore") -> ChecksumPolicy.process / error_mask ->
engine.Engine.process (one nogil loop; see pyx/engine.pyx for what is
modelled and what is not).  Engine state persists across batches; time is
capture time only.  At the end, timers due up to the last packet's timestamp
fire (never later).  Same input + config + seed => identical results: the
engine's PRNG (ISNs) and its 4-tuple hash (SO_REUSEPORT choice) are seeded.

Everything the engine needs from the host description is computed here,
once: the effective listen() backlog and SO_RCVBUF (pystack.config), the
SYN-ACK window and window scale (tcp_openreq_init_rwin /
tcp_select_initial_window, sheet 5.3, with the profile's win_from_space and
initial_rcv_wscale), the SYN-ACK schedule constants and queue-full
comparisons (pystack.profile), the accept model (pystack.appmodel).

advmss: the route MSS is MTU - 40 (IPv4) / MTU - 60 (IPv6) with MTU 1500 by
default (``Replay(mtu=...)``); a dual-stack [::] listener uses the IPv6
value for IPv4 clients too (the kernel would use the IPv4 route's).
Bound UDP sockets (listeners with proto "udp") are looked up like TCP
listeners; each has a receive queue charged with skb truesize against its
sk_rcvbuf (rmem_default or SO_RCVBUF) and drained by its read model
(l.app.read; whole datagrams, UdpInDatagrams at read time).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import numpy as np

from pystack import vocab
from pystack import profile as _profile
from pystack.profile import SKB_COALESCE_MODES
from pystack.appmodel import (AcceptDelay, AcceptImmediate, AcceptNever, AcceptRate,
                              ReadAsArrives, ReadChunk, ReadLog, ReadNever, ReadRate)
from pystack.capture import PIPELINE_BATCH
from pystack.checksums import ChecksumPolicy
from pystack.config import HostConfig

NS_PER_MS = 1_000_000

#: column names of ReplayResult.packets (besides the verdict columns)
RECORD_COLUMNS = ("frame", "ts_ns")


def _addr16(addr: str) -> bytes:
    a = ipaddress.ip_address(addr)
    if a.version == 4:
        return b"\0" * 10 + b"\xff\xff" + a.packed
    return a.packed


def _import_core():
    from pystack._core import engine as _engine
    from pystack._core.parse import PacketColumns, parse_batch
    return _engine, PacketColumns, parse_batch


def synack_window(listener, host: HostConfig, advmss: int, tstamp: bool) -> tuple[int, int]:
    """(rsk_rcv_wnd, rcv_wscale) of a SYN-ACK from `listener` (sheet 5.3).

    tcp_minisocks.c tcp_openreq_init_rwin: full_space = tcp_full_space(listener)
    = win_from_space(sk_rcvbuf); window_clamp = 0 (route RTAX_WINDOW unset)
    unless SO_RCVBUF locked it (then full_space); tcp_output.c
    tcp_select_initial_window(mss = advmss - 12 with timestamps): space =
    min(clamp or 65535 << 14, full_space) rounded down to mss; rcv_wnd =
    min(space, 65535) (MAX_TCP_WINDOW with tcp_workaround_signed_windows);
    wscale from max(space, tcp_rmem[2], rmem_max) capped by the clamp.
    """
    prof = host.profile
    sc = host.sysctls
    rcvbuf = listener.effective_rcvbuf(sc, prof)
    full_space = prof.win_from_space(rcvbuf)
    clamp = full_space if listener.rcvbuf_locked else 0
    if clamp == 0:
        clamp = 65535 << prof.tcp_max_wscale
    mss = advmss - (12 if tstamp else 0)
    space = min(clamp, full_space)
    if space > mss:
        space = space // mss * mss
    if "net.ipv4.tcp_workaround_signed_windows" in sc and \
            sc.get("net.ipv4.tcp_workaround_signed_windows"):
        rcv_wnd = min(space, prof.max_tcp_window)
    else:
        rcv_wnd = min(space, 65535)
    wscale = prof.initial_rcv_wscale(space, sc.get("net.ipv4.tcp_rmem")[2],
                                     sc.get("net.core.rmem_max"), clamp)
    return rcv_wnd, wscale


def _listener_kind(l) -> tuple[str, bytes]:
    a = ipaddress.ip_address(l.address)
    if a.version == 4:
        return ("v4any" if a.is_unspecified else "v4"), _addr16(l.address)
    if a.ipv4_mapped is not None:
        return "v4", _addr16(str(a.ipv4_mapped))
    if a.is_unspecified:
        return ("v6anyonly" if l.ipv6only else "v6any"), a.packed
    return "v6", a.packed


def _app_params(policy) -> dict:
    if isinstance(policy, AcceptImmediate):
        return {"app": 0}
    if isinstance(policy, AcceptDelay):
        return {"app": 1, "delay_ns": int(policy.delay_ns)}
    if isinstance(policy, AcceptRate):
        return {"app": 2, "rate_count": int(policy.count), "rate_per_ns": int(policy.per_ns),
                "burst": int(policy.burst)}
    if isinstance(policy, AcceptNever):
        return {"app": 3}
    raise TypeError(f"unknown accept policy {policy!r}")


def _read_params(policy) -> dict:
    """Engine form of a read policy.  A read log keeps every row with its
    filters, in ReadLog.for_connection order (relative rows first, then
    absolute, each by time); the engine picks a connection's rows by
    client port / address."""
    if isinstance(policy, ReadAsArrives):
        return {"read": 0}
    if isinstance(policy, ReadRate):
        return {"read": 1, "rd_bytes": int(policy.nbytes), "rd_per_ns": int(policy.per_ns)}
    if isinstance(policy, ReadChunk):
        return {"read": 2, "rd_bytes": int(policy.size), "rd_per_ns": int(policy.every_ns)}
    if isinstance(policy, ReadNever):
        return {"read": 3}
    if isinstance(policy, ReadLog):
        rows = sorted(policy.entries, key=lambda e: (not e.relative, e.time_ns))
        return {"read": 4, "log": [(int(e.time_ns), bool(e.relative), int(e.nbytes),
                                    e.client_port,
                                    None if e.client_addr is None else _addr16(e.client_addr))
                                   for e in rows]}
    raise TypeError(f"unknown read policy {policy!r}")


@dataclass
class ReplayResult:
    counters: dict                  # counter name -> int, pystack.vocab.COUNTERS order
    packets: dict                   # column -> numpy array, one row per packet
    listeners: list                 # per TCP listener: queues and drops
    replies: dict                   # what the model sent, columns (packet + timer)
    events: dict                    # timer events (retransmits, expiries, accepts)
    divergences: dict               # model-vs-capture disagreements (not kernel counters)
    checksum: dict = field(default_factory=dict)
    # netfilter (Replay(rules=...)): per rule table / chain / number / text /
    # packets / bytes, the iptables-save -c texts with the model's counters,
    # conntrack -S stats and the final table (text and columns)
    rules: list = field(default_factory=list)
    _conntrack: object = field(default=None, repr=False)
    _rules_save: list = field(default_factory=list, repr=False)
    # Built on first access from the records the run collected (collect=True:
    # finished connections per batch, open ones at the end; collect=False
    # keeps none): the per-connection summary costs Python objects per
    # connection, so a run that never asks (the benchmark, counters-only
    # callers) never pays for it.
    _connections: object = field(default=None, repr=False)
    # Python hooks (Replay.add_hook), in registration order: hook, priority,
    # fn (its name), match, calls, drops, time_ns (wall clock inside the
    # calls: a measurement, not part of the deterministic output)
    hooks: list = field(default_factory=list)

    @property
    def connections(self) -> list:
        """Per child connection, in creation order: one dict (see
        engine.connection_dicts).  Empty when the run did not collect."""
        if callable(self._connections):
            self._connections = self._connections()
        return self._connections if self._connections is not None else []

    def nonzero(self) -> dict:
        return {k: v for k, v in self.counters.items() if v}

    @property
    def conntrack(self) -> dict:
        """stats (conntrack -S counters and entries), S (its text), L (the
        final table as conntrack -L prints it), entries (its columns); {}
        without netfilter.  Built on first access (a big table costs)."""
        if callable(self._conntrack):
            self._conntrack = self._conntrack()
        return self._conntrack if self._conntrack is not None else {}

    def rules_save(self) -> str:
        """The loaded rulesets as iptables-save -c (ip6tables-save -c) text
        with the model's rule and policy counters."""
        return "".join(self._rules_save)


class Replay:
    """The host model, ready to replay captures.  One Replay = one host
    lifetime: call run / run_packets once (state would carry over)."""

    def __init__(self, host: HostConfig, checksum: str = "auto", seed: int = 0,
                 batch_size: int = PIPELINE_BATCH, mtu: int = 1500, cookie_table: int = 1 << 16,
                 event_capacity: int = 1 << 18, truesize=None, scaling_ratio: int | None = None,
                 pickup: bool = True, scaling_ratio_update: bool = True,
                 coalesce: str | None = None, rules=None, lenient: bool = False,
                 conntrack: bool | None = None, iface_map=None):
        """truesize: the skb truesize model, (mul, add) meaning truesize =
        len * mul / 256 + add; default (256, host.skb_truesize_overhead or
        profile.skb_truesize_overhead) =
        profile.skb_truesize(len) = len + 576 (a linear skb; real truesize
        depends on the driver and GRO and is not visible in a pcap).
        scaling_ratio: the children's initial tp->scaling_ratio (default profile
        TCP_DEFAULT_SCALING_RATIO 128).
        scaling_ratio_update: tcp_measure_rcv_mss sets scaling_ratio = len *
        256 / truesize (truesize model above) at each new full-sized segment
        length and window_clamp follows (the kernel's behaviour); False keeps
        the ratio fixed.
        coalesce: how the driver built the skbs, which decides receive-queue
        coalescing (tcp_try_coalesce, TCPRcvCoalesce; one of
        pystack.profile.SKB_COALESCE_MODES); default host.skb_coalesce or
        "none" (every segment keeps its own skb and truesize).
        pickup: a captured host ACK/data segment on an unknown 4-tuple from a
        listening port creates an established connection (it predates the
        capture); see pyx/engine.pyx.
        rules: an iptables-save / ip6tables-save file path, its text, a
        pystack.rules.Ruleset, or a list of those (one per family; the
        family is read from the file's header line); lenient: unsupported
        matches never match instead of failing.  conntrack: track
        connections without rules (default: with rules, or when the host
        config sets [netfilter] conntrack = true).  iface_map: per pcapng
        interface index, the host-config interface name (default: interface
        i of the capture is host.interfaces[i])."""
        self.host = host
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.mtu = int(mtu)
        self.policy = ChecksumPolicy(checksum)
        self.tcp_listeners = [l for l in host.listeners if l.proto == "tcp"]
        self.udp_sockets = [l for l in host.listeners if l.proto == "udp"]
        _engine, self._PacketColumns, self._parse_batch = _import_core()
        self._mod = _engine
        order, specs = self._listener_specs()
        self.listener_order = order          # engine index -> Listener
        params = self._engine_params()
        params["cookie_table"] = int(cookie_table)
        params["event_capacity"] = int(event_capacity)
        prof = host.profile
        if truesize is None:
            ov = host.skb_truesize_overhead
            truesize = (256, prof.skb_truesize_overhead if ov is None else ov)
        mul, add = truesize
        if coalesce is None:
            coalesce = host.skb_coalesce or "none"
        if coalesce not in SKB_COALESCE_MODES:
            raise ValueError(f"coalesce {coalesce!r} is not one of {', '.join(SKB_COALESCE_MODES)}")
        params["coalesce_mode"] = SKB_COALESCE_MODES.index(coalesce)
        params["coalesce_keep"] = int(prof.skb_coalesce_keep(coalesce, int(add)))
        params["max_skb_frags"] = int(prof.max_skb_frags)
        params["coalesce_clone_lag_ns"] = int(_profile.VETH_CLONE_FREE_NS)
        params["coalesce_gso_gap_ns"] = int(_profile.VETH_GSO_GAP_NS)
        params["pickup"] = int(bool(pickup))
        params["truesize_mul"] = int(mul)
        params["truesize_add"] = int(add)
        params["scaling_ratio"] = int(prof.default_scaling_ratio if scaling_ratio is None
                                      else scaling_ratio)
        if not 1 <= params["scaling_ratio"] <= 255:
            raise ValueError(f"scaling_ratio {params['scaling_ratio']} outside 1..255 (u8)")
        params["scaling_ratio_update"] = int(bool(scaling_ratio_update))
        self.engine = _engine.Engine([_addr16(a) for a in host.addresses], specs, params,
                                     self.seed & (2 ** 64 - 1))
        self._cols = None
        self._verdicts = None
        self._last_ts = None
        self._chunks: list[dict] = []
        self._events: list[dict] = []
        self._conn_chunks: list = []       # REC_DTYPE rows of finished connections
        self._collect = True
        # pystack.results.writer: called with each batch's finished
        # connection records (REC_DTYPE rows) and the open ones at the end
        self.record_sink = None
        self.rulesets = []
        self.compiled = {}
        self.ct_table = None
        self._iface_map = iface_map
        self._hooks: list = []
        self._started = False
        if conntrack is None:
            conntrack = bool(rules) or bool(getattr(host, "conntrack", False))
        if rules is not None or conntrack:
            self._attach_netfilter(rules, lenient, iface_map)

    def _attach_netfilter(self, rules, lenient, iface_map):
        from pystack.conntrack import make_conntrack
        from pystack.rules import Ruleset, compile_rules, load_rules
        if rules is None:
            rules = []
        elif isinstance(rules, (str, bytes)) or hasattr(rules, "__fspath__") \
                or isinstance(rules, Ruleset):
            rules = [rules]
        for r in rules:
            if isinstance(r, Ruleset):
                rs = r
            elif isinstance(r, str) and "\n" in r:
                # save-file text: the family from its header line, as Ruleset.load does
                fam = 6 if "ip6tables-save" in r.split("\n", 1)[0] else 4
                rs = load_rules(r, family=fam, lenient=lenient)
            else:
                rs = load_rules(r, lenient=lenient)
            if any(x.family == rs.family for x in self.rulesets):
                raise ValueError(f"two IPv{rs.family} rulesets given")
            self.rulesets.append(rs)
        ifaces = list(self.host.interfaces)
        for rs in self.rulesets:
            self.compiled[rs.family] = compile_rules(rs, ifaces, seed=self.seed)
        self.ct_table = make_conntrack(self.host.sysctls, self.seed, self.host.profile)
        if iface_map is None:
            imap = list(range(len(ifaces)))
        else:
            imap = [None if n is None else ifaces.index(n) for n in iface_map]
        sc = self.host.sysctls
        try:
            fwd6 = int(sc.get("net.ipv6.conf.all.forwarding"))
        except Exception:           # not a known sysctl here: IPv6 follows ip_forward
            fwd6 = -1
        self.engine.attach_netfilter(self.compiled.get(4), self.compiled.get(6),
                                     self.ct_table.ct, imap, list(self.host.addresses),
                                     fwd6)

    # --- configuration -------------------------------------------------------
    def _engine_params(self) -> dict:
        sc = self.host.sysctls
        prof = self.host.profile
        rto_max = (sc.get("net.ipv4.tcp_rto_max_ms") * NS_PER_MS
                   if "net.ipv4.tcp_rto_max_ms" in sc else prof.tcp_rto_max_ns)
        return {
            "tcp_syncookies": sc.get("net.ipv4.tcp_syncookies"),
            "tcp_abort_on_overflow": sc.get("net.ipv4.tcp_abort_on_overflow"),
            "tcp_max_syn_backlog": sc.get("net.ipv4.tcp_max_syn_backlog"),
            "ip_forward": sc.get("net.ipv4.ip_forward"),
            "tcp_timestamps": sc.get("net.ipv4.tcp_timestamps"),
            "tcp_window_scaling": sc.get("net.ipv4.tcp_window_scaling"),
            "tcp_sack": sc.get("net.ipv4.tcp_sack"),
            "accept_queue_full_ge": int(prof.accept_queue_full_op == ">="),
            "syn_queue_full_ge": int(prof.syn_queue_full_op == ">="),
            "timeout_init_ns": prof.tcp_timeout_init_ns,
            "rto_max_ns": rto_max,
            "invalid_ratelimit_ns": sc.get("net.ipv4.tcp_invalid_ratelimit") * NS_PER_MS,
            "syncookie_period_ns": prof.syncookie_period_ns,
            "synq_overflow_valid_ns": prof.synq_overflow_valid_ns,
            "max_syncookie_age": prof.max_syncookie_age,
            "msstab4": tuple(prof.syncookie_mss_v4),
            "msstab6": tuple(prof.syncookie_mss_v6),
            "icmp_echo_ignore_all": sc.get("net.ipv4.icmp_echo_ignore_all"),
            "icmp_ratemask": sc.get("net.ipv4.icmp_ratemask"),
            # proc_dointvec_ms_jiffies: ms; the engine counts jiffies at HZ=1000
            "icmp_ratelimit": sc.get("net.ipv4.icmp_ratelimit"),
            "icmp_msgs_per_sec": sc.get("net.ipv4.icmp_msgs_per_sec"),
            "icmp_msgs_burst": sc.get("net.ipv4.icmp_msgs_burst"),
            "icmp6_echo_ignore_all": sc.get("net.ipv6.icmp.echo_ignore_all"),
            "icmp6_ratelimit": sc.get("net.ipv6.icmp.ratelimit"),
            # the 256-bit ratemask as four u64 words (bit n of word n >> 6)
            "icmp6_ratemask": tuple((sc.get("net.ipv6.icmp.ratemask") >> (64 * k))
                                    & 0xFFFFFFFFFFFFFFFF for k in range(4)),
            "tcp_app_win": sc.get("net.ipv4.tcp_app_win"),
            "tcp_rfc1337": sc.get("net.ipv4.tcp_rfc1337"),
            "tcp_max_tw_buckets": sc.get("net.ipv4.tcp_max_tw_buckets"),
            "tcp_rmem2": sc.get("net.ipv4.tcp_rmem")[2],
            "tcp_moderate_rcvbuf": sc.get("net.ipv4.tcp_moderate_rcvbuf"),
            "rcvbuf_variant": {_profile.RCVBUF_GROW_PRE_616: 0, _profile.RCVBUF_GROW_618: 1,
                               _profile.RCVBUF_GROW_7X_LOW_RTT: 2}[prof.rcvbuf_grow],
            "tcp_rcvbuf_low_rtt_us": prof.tcp_rcvbuf_low_rtt_us,
            "ratio_clamp_setter": int(prof.ratio_clamp == _profile.RATIO_CLAMP_SETTER),
            "tw_len_ns": prof.tcp_timewait_len_ns,
            "tcp_sequence_variant": {_profile.SEQ_PRE_617: 0, _profile.SEQ_END_617: 1,
                                     _profile.SEQ_END_MAX_WINDOW: 1}[prof.tcp_sequence],
            "tcp_sequence_fin_exception": int(prof.tcp_sequence_fin_exception),
            "paws_timewait_estab": int(prof.paws_timewait_counter == "PAWSEstab"),
            "paws_old_ack": int(prof.has_drop_reason("TCP_RFC7323_PAWS_ACK")),
            "paws_tsecr": int(prof.has_drop_reason("TCP_RFC7323_TSECR")),
            "paws_tw_reason": int(prof.has_drop_reason("TCP_RFC7323_TW_PAWS")),
            "tcp_can_ingest_variant": {_profile.CAN_INGEST_RMEM_ALLOC: 0,
                                       _profile.CAN_INGEST_TRUESIZE: 1,
                                       _profile.CAN_INGEST_LEN: 2}[prof.tcp_can_ingest],
        }

    def _listener_specs(self):
        """Engine listener table.  Per port the chain is in lookup order
        (__inet_lookup_listener): exact addresses first, then wildcards, and
        AF_INET before a dual-stack AF_INET6 socket (compute_score)."""
        ls = list(self.tcp_listeners)
        prio = {"v4": 0, "v6": 1, "v4any": 2, "v6any": 3, "v6anyonly": 3}
        keyed = []
        for idx, l in enumerate(ls):
            kind, a16 = _listener_kind(l)
            keyed.append((l.port, prio[kind], idx, kind, a16, l))
        keyed.sort(key=lambda t: (t[0], t[1], t[2]))
        order = [t[5] for t in keyed]
        groups: dict = {}
        for j, t in enumerate(keyed):
            if t[5].reuseport_group is not None:
                groups.setdefault((t[5].reuseport_group, t[0]), []).append(j)
        sc = self.host.sysctls
        specs = []
        for j, (port, _p, _idx, kind, a16, l) in enumerate(keyed):
            fam6 = ipaddress.ip_address(l.address).version == 6 and kind != "v4"
            advmss = self.mtu - (60 if fam6 else 40)
            win_ts, wscale = synack_window(l, self.host, advmss, True)
            win_nots, _ = synack_window(l, self.host, advmss, False)
            g = groups.get((l.reuseport_group, port), []) if l.reuseport_group else []
            spec = {
                "addr16": a16, "kind": self._mod.LISTENER_KINDS[kind], "port": port,
                "group": g if len(g) > 1 else [],
                "max_ack_backlog": l.effective_backlog(sc),
                "win_ts": win_ts, "win_nots": win_nots, "wscale": wscale,
                "advmss": advmss,
                "synack_retries": sc.get("net.ipv4.tcp_synack_retries"),
            }
            spec.update(_app_params(l.app.accept))
            spec.update(_read_params(l.app.read))
            spec["rcvbuf"] = l.effective_rcvbuf(sc, self.host.profile)
            spec["rcvbuf_locked"] = int(l.rcvbuf_locked)
            specs.append(spec)
        # bound UDP sockets after the TCP listeners (same lookup order rules)
        ukeyed = []
        for idx, l in enumerate(self.udp_sockets):
            kind, a16 = _listener_kind(l)
            ukeyed.append((l.port, prio[kind], idx, kind, a16, l))
        ukeyed.sort(key=lambda t: (t[0], t[1], t[2]))
        base = len(specs)
        ugroups: dict = {}
        for j, t in enumerate(ukeyed):
            if t[5].reuseport_group is not None:
                ugroups.setdefault((t[5].reuseport_group, t[0]), []).append(base + j)
        for port, _p, _idx, kind, a16, l in ukeyed:
            g = ugroups.get((l.reuseport_group, port), []) if l.reuseport_group else []
            spec = {"proto": "udp", "addr16": a16,
                    "kind": self._mod.LISTENER_KINDS[kind], "port": port,
                    "group": g if len(g) > 1 else [],
                    # sk_rcvbuf (sock_init_data: rmem_default, or SO_RCVBUF)
                    "rcvbuf": l.effective_rcvbuf(sc, self.host.profile)}
            spec.update(_read_params(l.app.read))
            specs.append(spec)
            order.append(l)
        return order, specs

    # --- running ---------------------------------------------------------------
    def _ensure(self, n: int):
        if self._cols is None or self._cols.capacity < n:
            cap = max(n, self.batch_size)
            self._cols = self._PacketColumns(cap)
            self._verdicts = self._mod.Verdicts(cap)

    def add_hook(self, hook: str, fn, priority: int = 0, match: dict | None = None):
        """Run fn(pkt) at netfilter hook `hook` (PREROUTING, INPUT, FORWARD,
        OUTPUT, POSTROUTING) for the packets `match` passes.

        priority: in the kernel's priority space (raw -300, conntrack -200,
        mangle -150, DNAT -100, filter 0, security 50, SNAT 100, confirm
        INT_MAX); the hook runs after the built-in tables of lower or equal
        priority and before the others (nf_register_net_hook order), hooks of
        equal priority in the order added.  match: a dict compiled into a C
        filter, all keys must hold: proto ("tcp" / number), family (4 / 6),
        src / dst (CIDR), sport / dport (port, "lo:hi" or (lo, hi)),
        tcp_flags ((mask, value), e.g. ("SYN,ACK", "SYN")), direction
        ("ORIGINAL" / "REPLY": the conntrack direction), ctstate ("NEW",
        "ESTABLISHED,RELATED", ...; no conntrack yet counts as INVALID, as
        xt_conntrack does).  Addresses and ports are the packet's current
        ones at that position (after DNAT for priority >= -100 at
        PREROUTING).  fn gets a HookPacket (frame, ts_ns, hook, priority,
        family, proto, src, dst, sport, dport, tcp_flags, seq, ack,
        payload_len, len, mark (settable), ctstate, ct_id, ctdir, data,
        drop()) valid during the call, and returns None / "ACCEPT" to go on
        or "DROP" (pystack._core.pyhook.DROP) for NF_DROP: verdict DROPPED,
        reason NETFILTER_DROP, an unconfirmed conntrack entry discarded,
        as an iptables DROP at that place (at OUTPUT / the host's
        POSTROUTING: the divergence host_out_nf_drop, as for a rule).

        An exception from fn propagates out of step / run: the batch's rows
        up to the raising packet's (included; it went on as if ACCEPTed,
        without further hooks) are processed, the rest of the batch is not,
        and the Replay must not be continued.  Call before the first batch.
        Without rules this attaches netfilter with conntrack (conntrack=True);
        a Replay without hooks is unchanged."""
        if self._started:
            raise RuntimeError("add_hook: call before the first batch")
        hooks = self._mod.NF_HOOKS
        if hook not in hooks:
            raise ValueError(f"unknown hook {hook!r} (one of {', '.join(hooks)})")
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise TypeError(f"priority must be an int, not {priority!r}")
        if not callable(fn):
            raise TypeError(f"hook function {fn!r} is not callable")
        from pystack._core.pyhook import check_match
        check_match(match)
        if self.ct_table is None:
            self._attach_netfilter(None, False, self._iface_map)
        self._hooks.append((hooks.index(hook), int(priority), fn,
                            None if match is None else dict(match)))
        self.engine.set_hooks(self._hooks)

    def step(self, rb, on_batch=None, collect=True):
        """Run one RecordBatch through the model; returns (cols, verdicts, events)."""
        n = rb.n
        self._started = True
        self._ensure(max(n, 1))
        cols, v = self._cols, self._verdicts
        self._parse_batch(rb, cols, self.policy.mode != "ignore")
        cols.n = n
        self.policy.process(rb, cols)
        mask = self.policy.error_mask(cols).view(np.uint8)
        events = self.engine.process(rb, cols, v, mask)
        if n:
            ts = rb.ts_arr[:n]
            last = int(ts.max())
            self._last_ts = last if self._last_ts is None else max(self._last_ts, last)
        if on_batch is not None:
            on_batch(rb, cols, v)
        # connections finished in this batch: their engine records are freed
        # (memory bounded by live connections); kept here only when collecting
        self._collect = bool(collect)
        self._take_records(self.engine.take_finished(self._collect
                                                     or self.record_sink is not None))
        if collect:
            chunk = {"frame": rb.frame_arr[:n].copy(), "ts_ns": rb.ts_arr[:n].copy()}
            for k, a in v.columns().items():
                chunk[k] = a.copy()
            self._chunks.append(chunk)
        if len(events["ts_ns"]):
            self._events.append(events)
        return cols, v, events

    def finish(self) -> ReplayResult:
        if self._last_ts is not None:
            ev = self.engine.finish(self._last_ts)
            if len(ev["ts_ns"]):
                self._events.append(ev)
        self._take_records(self.engine.take_finished(self._collect
                                                     or self.record_sink is not None))
        if self._collect or self.record_sink is not None:
            # connections still open at the end of the capture
            self._take_records(self.engine.open_records())
        return self._result()

    def _take_records(self, recs) -> None:
        if recs is None or not len(recs):
            return
        if self.record_sink is not None:
            self.record_sink(recs)
        if self._collect:
            self._conn_chunks.append(recs)

    def run(self, paths, on_batch=None, collect=True) -> ReplayResult:
        from pystack.capture import open_capture
        with open_capture(paths, batch_size=self.batch_size) as cap:
            for rb in cap:
                self.step(rb, on_batch, collect)
        return self.finish()

    def run_packets(self, packets, ts_ns=None, linktype=1, on_batch=None) -> ReplayResult:
        """Replay a list of frames (bytes).  ts_ns: per-packet capture times
        (default: 0, 1000, 2000, ... ns)."""
        from pystack._core.capture import RecordBatch
        packets = list(packets)
        if ts_ns is None:
            ts_ns = [i * 1000 for i in range(len(packets))]
        ts_ns = [int(t) for t in ts_ns]
        for a in range(0, len(packets), self.batch_size):
            b = a + self.batch_size
            rb = RecordBatch.from_packets(packets[a:b], linktype=linktype, ts_ns=ts_ns[a:b])
            # frame numbers continue across batches
            rb.frame_arr[:rb.n] += a
            self.step(rb, on_batch)
        return self.finish()

    # --- results ---------------------------------------------------------------
    def _result(self) -> ReplayResult:
        names = list(RECORD_COLUMNS) + [name for name, _ in self._mod.VERDICT_SPEC]
        if self._chunks:
            packets = {k: np.concatenate([c[k] for c in self._chunks]) for k in names}
        else:
            dts = dict(self._mod.VERDICT_SPEC)
            packets = {k: np.zeros(0, dts.get(k, np.int64)) for k in names}
        ev_keys = ("ts_ns", "conn_id", "listener", "kind", "seq", "ack", "win", "flags",
                   "wscale", "mss")
        if self._events:
            events = {k: np.concatenate([e[k] for e in self._events]) for k in ev_keys}
        else:
            events = {k: np.zeros(0, np.int64) for k in ev_keys}
        listeners = []
        for l, st in zip(self.listener_order, self.engine.listener_stats()):
            d = {"label": l.label(), "address": l.address, "port": l.port}
            if l.proto == "tcp":
                d.update({"backlog": l.effective_backlog(self.host.sysctls),
                          "accept": l.app.accept.spec})
            d.update(st)
            listeners.append(d)
        return ReplayResult(
            counters=self.engine.counters(),
            packets=packets,
            listeners=listeners,
            replies=self._replies(packets, events),
            events=events,
            divergences=self.engine.divergences(),
            checksum=self.policy.report(),
            _connections=self._connection_builder(),
            hooks=self._hook_result(),
            **self._nf_result(),
        )

    def _hook_result(self) -> list:
        out = []
        for (h, prio, fn, match), st in zip(self._hooks, self.engine.hook_stats()):
            d = {"hook": self._mod.NF_HOOKS[h], "priority": prio,
                 "fn": getattr(fn, "__qualname__", repr(fn)), "match": match}
            d.update(st)
            out.append(d)
        return out

    def _nf_result(self) -> dict:
        if self.ct_table is None:
            return {}
        rules = []
        saves = []
        for rs in self.rulesets:
            cr = self.compiled[rs.family]
            pk, by = cr.counters()
            for idx in range(len(cr)):
                table, chain, number, text = cr.rule_info(idx)
                rules.append({"family": rs.family, "index": idx, "table": table,
                              "chain": chain, "number": number, "text": text,
                              "packets": int(pk[idx]), "bytes": int(by[idx])})
            saves.append(cr.save())
        now = self._last_ts if self._last_ts is not None else 0
        ct = self.ct_table
        stats, s_text = ct.stats(), ct.to_conntrack_S()

        def build():
            return {"stats": stats, "S": s_text, "L": ct.to_conntrack_L(now),
                    "entries": ct.entries(now)}
        return {"rules": rules, "_rules_save": saves, "_conntrack": build}

    def _connection_builder(self):
        chunks = self._conn_chunks
        mod = self._mod

        def build():
            if not chunks:
                return []
            return mod.connection_dicts(np.concatenate(chunks))
        return build

    def _replies(self, packets, events) -> dict:
        m = self._mod
        rows = np.flatnonzero(packets["reply"] != m.REPLIES["NONE"])
        tx = np.flatnonzero(events["kind"] == m.EVENTS["SYNACK_RETRANS"])
        acks = np.flatnonzero((events["kind"] == m.EVENTS["DELACK"])
                              | (events["kind"] == m.EVENTS["WINDOW_UPDATE"]))
        tx = np.sort(np.concatenate([tx, acks]))
        tkind = np.where(events["kind"][tx] == m.EVENTS["SYNACK_RETRANS"],
                         m.REPLIES["SYNACK"], m.REPLIES["ACK"]).astype(np.uint8)
        out = {
            "ts_ns": np.concatenate([packets["ts_ns"][rows], events["ts_ns"][tx]]),
            "frame": np.concatenate([packets["frame"][rows], np.zeros(len(tx), np.int64)]),
            "timer": np.concatenate([np.zeros(len(rows), bool), np.ones(len(tx), bool)]),
            "conn_id": np.concatenate([packets["conn_id"][rows], events["conn_id"][tx]]),
            "listener": np.concatenate([packets["listener"][rows],
                                        events["listener"][tx].astype(np.int16)]),
            "kind": np.concatenate([packets["reply"][rows],
                                    tkind]),
            "seq": np.concatenate([packets["reply_seq"][rows], events["seq"][tx]]),
            "ack": np.concatenate([packets["reply_ack"][rows], events["ack"][tx]]),
            "win": np.concatenate([packets["reply_win"][rows], events["win"][tx]]),
            "flags": np.concatenate([packets["reply_flags"][rows], events["flags"][tx]]),
            "wscale": np.concatenate([packets["reply_wscale"][rows], events["wscale"][tx]]),
            "mss": np.concatenate([packets["reply_mss"][rows], events["mss"][tx]]),
        }
        order = np.argsort(out["ts_ns"], kind="stable")
        return {k: v[order] for k, v in out.items()}


# --- names for the numeric columns (tests, reports) -----------------------------

def names() -> dict:
    """Code -> name maps of the verdict columns: direction, verdict, reply,
    event kind, sock_state (ss names)."""
    m = _import_core()[0]
    inv = lambda d: {v: k for k, v in d.items()}      # noqa: E731
    return {"direction": inv(m.DIRECTIONS), "verdict": inv(m.VERDICTS),
            "reply": inv(m.REPLIES), "event": inv(m.EVENTS),
            "sock_state": dict(m.SOCK_STATES)}


def reason_name(code: int) -> str:
    return vocab.reason_name(int(code))


def _col_addr_str(a) -> str:
    b = bytes(a)
    ip = ipaddress.IPv6Address(b)
    return str(ip.ipv4_mapped) if ip.ipv4_mapped is not None else str(ip)


def ctstate_name(code: int) -> str:
    """Verdicts.ctstate code -> "NEW", "ESTABLISHED REPLY", ... ("" none)."""
    m = _import_core()[0]
    inv = {v: k for k, v in m.CTSTATES.items()}
    name = inv.get(int(code) & ~m.CTSTATE_REPLY, "?")
    return name + (" REPLY" if int(code) & m.CTSTATE_REPLY else "")


def describe_packet(result: ReplayResult, i: int) -> dict:
    """Row i of result.packets with names instead of codes."""
    n = names()
    p = result.packets
    d = {k: (v[i].item() if v.ndim == 1 else v[i]) for k, v in p.items()}
    m = _import_core()[0]
    if "nat_saddr" in d:
        d["nat_saddr"] = _col_addr_str(d["nat_saddr"]) if d["nat_chg"] else ""
        d["nat_daddr"] = _col_addr_str(d["nat_daddr"]) if d["nat_chg"] else ""
        d["ctstate"] = ctstate_name(d["ctstate"])
        d["nf_hooks"] = [h for k, h in enumerate(m.NF_HOOKS) if d["nf_hooks"] & (1 << k)]
        d["nf_hook"] = m.NF_HOOKS[d["nf_hook"]] if d["nf_hook"] >= 0 else ""
        d["nf_table"] = m.NF_TABLES[d["nf_table"]] if d["nf_table"] >= 0 else ""
    d["direction"] = n["direction"][d["direction"]]
    d["verdict"] = n["verdict"][d["verdict"]]
    d["reason"] = reason_name(d["reason"]) if d["reason"] else ""
    d["reply"] = n["reply"][d["reply"]]
    d["sock_state"] = n["sock_state"][d["sock_state"]]
    return d
