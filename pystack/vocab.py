"""The one table of kernel names: drop reasons and SNMP/netstat counters.

Every drop reason and counter name in pystack comes from here.  The Cython
constants in ``pyx/vocab.pxd`` are generated from these tables
(``python -m pystack.vocab --write``) and a test checks the committed file
is what this module generates, so a name is never typed twice.

Drop reasons are the 6.18 ``enum skb_drop_reason`` names without the
``SKB_DROP_REASON_`` prefix (include/net/dropreason-core.h), in the kernel's
order.  Our codes are positions in this tuple; they happen to equal the 6.18
values, but nothing may rely on that: map by name.
"""

from __future__ import annotations

DROP_REASONS: tuple[str, ...] = (
    "NOT_DROPPED_YET", "CONSUMED", "NOT_SPECIFIED", "NO_SOCKET", "SOCKET_CLOSE",
    "SOCKET_FILTER", "SOCKET_RCVBUFF", "UNIX_DISCONNECT", "UNIX_SKIP_OOB",
    "PKT_TOO_SMALL", "TCP_CSUM", "UDP_CSUM", "NETFILTER_DROP", "OTHERHOST",
    "IP_CSUM", "IP_INHDR", "IP_RPFILTER", "UNICAST_IN_L2_MULTICAST",
    "XFRM_POLICY", "IP_NOPROTO", "PROTO_MEM", "TCP_AUTH_HDR", "TCP_MD5NOTFOUND",
    "TCP_MD5UNEXPECTED", "TCP_MD5FAILURE", "TCP_AONOTFOUND", "TCP_AOUNEXPECTED",
    "TCP_AOKEYNOTFOUND", "TCP_AOFAILURE", "SOCKET_BACKLOG", "TCP_FLAGS",
    "TCP_ABORT_ON_DATA", "TCP_ZEROWINDOW", "TCP_OLD_DATA", "TCP_OVERWINDOW",
    "TCP_OFOMERGE", "TCP_RFC7323_PAWS", "TCP_RFC7323_PAWS_ACK",
    "TCP_RFC7323_TW_PAWS", "TCP_RFC7323_TSECR", "TCP_LISTEN_OVERFLOW",
    "TCP_OLD_SEQUENCE", "TCP_INVALID_SEQUENCE", "TCP_INVALID_END_SEQUENCE",
    "TCP_INVALID_ACK_SEQUENCE", "TCP_RESET", "TCP_INVALID_SYN", "TCP_CLOSE",
    "TCP_FASTOPEN", "TCP_OLD_ACK", "TCP_TOO_OLD_ACK", "TCP_ACK_UNSENT_DATA",
    "TCP_OFO_QUEUE_PRUNE", "TCP_OFO_DROP", "IP_OUTNOROUTES", "BPF_CGROUP_EGRESS",
    "IPV6DISABLED", "NEIGH_CREATEFAIL", "NEIGH_FAILED", "NEIGH_QUEUEFULL",
    "NEIGH_DEAD", "NEIGH_HH_FILLFAIL", "TC_EGRESS", "SECURITY_HOOK", "QDISC_DROP",
    "QDISC_OVERLIMIT", "QDISC_CONGESTED", "CAKE_FLOOD", "FQ_BAND_LIMIT",
    "FQ_HORIZON_LIMIT", "FQ_FLOW_LIMIT", "CPU_BACKLOG", "XDP", "TC_INGRESS",
    "UNHANDLED_PROTO", "SKB_CSUM", "SKB_GSO_SEG", "SKB_UCOPY_FAULT", "DEV_HDR",
    "DEV_READY", "FULL_RING", "NOMEM", "HDR_TRUNC", "TAP_FILTER", "TAP_TXFILTER",
    "ICMP_CSUM", "INVALID_PROTO", "IP_INADDRERRORS", "IP_INNOROUTES",
    "IP_LOCAL_SOURCE", "IP_INVALID_SOURCE", "IP_LOCALNET", "IP_INVALID_DEST",
    "PKT_TOO_BIG", "DUP_FRAG", "FRAG_REASM_TIMEOUT", "FRAG_TOO_FAR", "TCP_MINTTL",
    "IPV6_BAD_EXTHDR", "IPV6_NDISC_FRAG", "IPV6_NDISC_HOP_LIMIT",
    "IPV6_NDISC_BAD_CODE", "IPV6_NDISC_BAD_OPTIONS", "IPV6_NDISC_NS_OTHERHOST",
    "QUEUE_PURGE", "TC_COOKIE_ERROR", "PACKET_SOCK_ERROR", "TC_CHAIN_NOTFOUND",
    "TC_RECLASSIFY_LOOP", "VXLAN_INVALID_HDR", "VXLAN_VNI_NOT_FOUND",
    "MAC_INVALID_SOURCE", "VXLAN_ENTRY_EXISTS", "NO_TX_TARGET", "IP_TUNNEL_ECN",
    "TUNNEL_TXINFO", "LOCAL_MAC", "ARP_PVLAN_DISABLE", "MAC_IEEE_MAC_CONTROL",
    "BRIDGE_INGRESS_STP_STATE", "CAN_RX_INVALID_FRAME", "CANFD_RX_INVALID_FRAME",
    "CANXL_RX_INVALID_FRAME", "PFMEMALLOC", "DUALPI2_STEP_DROP", "PSP_INPUT",
    "PSP_OUTPUT", "RECURSION_LIMIT",
)

# Counters exactly as /proc/net/snmp, /proc/net/netstat and /proc/net/snmp6
# print them, "<Group><Name>" as nstat shows them.  Only counters the model
# keeps (or will keep) are listed; each later stage adds the ones it touches.
COUNTERS: tuple[str, ...] = (
    # Ip (/proc/net/snmp)
    "IpInReceives", "IpInHdrErrors", "IpInAddrErrors", "IpForwDatagrams",
    "IpInUnknownProtos", "IpInDiscards", "IpInDelivers", "IpOutRequests",
    "IpOutDiscards", "IpOutNoRoutes", "IpReasmReqds", "IpReasmOKs",
    "IpReasmFails", "IpOutTransmits",
    # IpExt (/proc/net/netstat)
    "IpExtInNoRoutes", "IpExtInTruncatedPkts", "IpExtInOctets",
    "IpExtOutOctets", "IpExtInCsumErrors", "IpExtInNoECTPkts",
    "IpExtInECT1Pkts", "IpExtInECT0Pkts", "IpExtInCEPkts",
    # Ip6 (/proc/net/snmp6)
    "Ip6InReceives", "Ip6InHdrErrors", "Ip6InAddrErrors", "Ip6InUnknownProtos",
    "Ip6InTruncatedPkts", "Ip6InDiscards", "Ip6InDelivers", "Ip6InOctets",
    # Icmp
    "IcmpInMsgs", "IcmpInErrors", "IcmpInCsumErrors", "IcmpInDestUnreachs",
    "IcmpInEchos", "IcmpOutMsgs", "IcmpOutErrors", "IcmpOutRateLimitGlobal",
    "IcmpOutRateLimitHost", "IcmpOutDestUnreachs", "IcmpOutEchoReps",
    # Tcp
    "TcpActiveOpens", "TcpPassiveOpens", "TcpAttemptFails", "TcpEstabResets",
    "TcpCurrEstab", "TcpInSegs", "TcpOutSegs", "TcpRetransSegs", "TcpInErrs",
    "TcpOutRsts", "TcpInCsumErrors",
    # TcpExt (/proc/net/netstat): the listener (sheet sections 4, 7)
    "TcpExtListenOverflows", "TcpExtListenDrops", "TcpExtTCPReqQFullDoCookies",
    "TcpExtTCPReqQFullDrop", "TcpExtSyncookiesSent", "TcpExtSyncookiesRecv",
    "TcpExtSyncookiesFailed", "TcpExtEmbryonicRsts", "TcpExtTCPSynRetrans",
    "TcpExtTCPTimeouts", "TcpExtTCPACKSkippedSynRecv",
    # Ip6 reassembly requests (fragments are counted, not reassembled), ECN
    "Ip6ReasmReqds", "Ip6InNoECTPkts", "Ip6InECT1Pkts", "Ip6InECT0Pkts", "Ip6InCEPkts",
    # Udp
    "UdpInDatagrams", "UdpNoPorts", "UdpInErrors", "UdpOutDatagrams",
    "UdpRcvbufErrors", "UdpSndbufErrors", "UdpInCsumErrors", "UdpMemErrors",
    # Udp6 (/proc/net/snmp6)
    "Udp6NoPorts", "Udp6InErrors", "Udp6InCsumErrors",
    # TcpExt: established sockets, receive queue, window, teardown, TIME_WAIT
    # (sheet 5.4, 5.6, 5.7, 8.3)
    "TcpExtTW", "TcpExtTCPTimeWaitOverflow", "TcpExtTCPChallengeACK",
    "TcpExtTCPSYNChallenge", "TcpExtTCPACKSkippedSeq", "TcpExtTCPACKSkippedTimeWait",
    "TcpExtTCPACKSkippedChallenge", "TcpExtBeyondWindow", "TcpExtDelayedACKLost",
    "TcpExtDelayedACKs", "TcpExtTCPZeroWindowDrop", "TcpExtTCPRcvQDrop",
    "TcpExtTCPOFOQueue", "TcpExtTCPOFODrop", "TcpExtTCPOFOMerge", "TcpExtPruneCalled",
    "TcpExtRcvPruned", "TcpExtOfoPruned", "TcpExtTCPWantZeroWindowAdv",
    "TcpExtTCPToZeroWindowAdv", "TcpExtTCPFromZeroWindowAdv",
    # Udp6 receive queue (appended: earlier codes keep their values)
    "Udp6InDatagrams", "Udp6RcvbufErrors",
    # TcpExt: PAWS (sheet 4.4, 5.7 item 1, 8.3)
    "TcpExtPAWSEstab", "TcpExtPAWSOldAck", "TcpExtPAWSTimewait",
    "TcpExtTSEcrRejected", "TcpExtTCPACKSkippedPAWS",
    # Ip6 transmit side (/proc/net/snmp6; ip6_output.c: IPSTATS_MIB_OUTREQUESTS,
    # IPSTATS_MIB_OUTOCTETS and IPSTATS_MIB_OUTPKTS)
    "Ip6OutRequests", "Ip6OutOctets", "Ip6OutTransmits",
    # Icmp6 (/proc/net/snmp6; net/ipv6/icmp.c icmpv6_rcv, icmp6_send,
    # icmpv6_echo_reply; per-type msg counters as proc.c names them)
    "Icmp6InMsgs", "Icmp6InErrors", "Icmp6OutMsgs", "Icmp6InCsumErrors",
    "Icmp6OutRateLimitHost", "Icmp6InDestUnreachs", "Icmp6InEchos",
    "Icmp6InEchoReplies", "Icmp6OutDestUnreachs", "Icmp6OutEchoReplies",
    # Udp6 transmit side (udp_v6_send_skb: UDP_MIB_OUTDATAGRAMS)
    "Udp6OutDatagrams",
    # Icmp6 per-type message counters (ICMP6MSGIN/OUT_INC_STATS; snmp6 prints
    # the non-zero ones) of the types the model counts
    "Icmp6InType1", "Icmp6InType128", "Icmp6InType129", "Icmp6OutType1",
    "Icmp6OutType129",
    # TcpExt: receive-queue skb coalescing (tcp_input.c tcp_try_coalesce)
    "TcpExtTCPRcvCoalesce",
    # netfilter wiring: forward path (sheet 1.5; ip6_forward_finish) and
    # ICMP time exceeded of a forwarded packet whose TTL ran out
    "Ip6OutForwDatagrams", "IcmpOutTimeExcds",
    # ICMPv6 time exceeded of a forwarded packet whose hop limit ran out
    # (ip6_forward -> icmpv6_send(ICMPV6_TIME_EXCEED, ICMPV6_EXC_HOPLIMIT))
    "Icmp6OutTimeExcds", "Icmp6OutType3",
)

# Parse and checksum statuses that are not drop reasons.
CSUM_STATUSES: tuple[str, ...] = (
    "UNCHECKED",   # not looked at (policy ignore, or no such checksum)
    "OK",
    "BAD",
    "ZERO",        # UDP over IPv4 with checksum 0: "no checksum", valid
    "PARTIAL",     # holds only the pseudo-header sum: TX offload left it unfinished
    "TRUNCATED",   # caplen < bytes covered: cannot be verified, never counted bad
    "OFFLOADED",   # BAD/PARTIAL from a sender the checksum policy found offloading TX sums
)

# Conntrack statistics we keep, as /proc/net/stat/nf_conntrack names its
# columns (conntrack -S prints clashres as "clash_resolve"); `new`, `ignore`,
# `delete` are always 0 in the kernel and `entries` is nf_conntrack_count.
CT_STATS: tuple[str, ...] = (
    "found", "invalid", "insert", "insert_failed", "drop", "early_drop",
    "error", "search_restart", "clashres",
)

_REASON_INDEX = {name: i for i, name in enumerate(DROP_REASONS)}
_CSUM_INDEX = {name: i for i, name in enumerate(CSUM_STATUSES)}


def reason_code(name: str) -> int:
    """Code of a drop reason, by kernel name (KeyError if unknown)."""
    return _REASON_INDEX[name]


def reason_name(code: int) -> str:
    return DROP_REASONS[code]


def csum_code(name: str) -> int:
    return _CSUM_INDEX[name]


def render_pxd() -> str:
    """The text of pyx/vocab.pxd, generated from the tables above."""
    out = [
        "# GENERATED by `python -m pystack.vocab --write` from pystack/vocab.py.",
        "# Do not edit: tests/test_vocab.py fails when this file is out of date.",
        "",
        "cdef enum DropReason:",
    ]
    out += [f"    DR_{name} = {i}" for i, name in enumerate(DROP_REASONS)]
    out += ["", "cdef enum CsumStatus:"]
    out += [f"    CS_{name} = {i}" for i, name in enumerate(CSUM_STATUSES)]
    out += ["", "cdef enum Counter:"]
    out += [f"    C_{name} = {i}" for i, name in enumerate(COUNTERS)]
    out += [f"    C__COUNT = {len(COUNTERS)}"]
    out += ["", "cdef enum CtStat:"]
    out += [f"    CTSTAT_{name.upper()} = {i}" for i, name in enumerate(CT_STATS)]
    out += [f"    CTSTAT_N = {len(CT_STATS)}", ""]
    return "\n".join(out)


def _main(argv=None) -> int:
    import argparse
    import pathlib

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite pyx/vocab.pxd")
    args = ap.parse_args(argv)
    text = render_pxd()
    if args.write:
        path = pathlib.Path(__file__).resolve().parent.parent / "pyx" / "vocab.pxd"
        path.write_text(text)
        print(f"wrote {path}")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
