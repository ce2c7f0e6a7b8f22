"""Name tables of the iptables extensions, as the kernel and iptables spell them.

Sources: iptables userspace (libxt_conntrack.c, libxt_state.c, libxt_addrtype.c,
libxt_tcp.c, libipt_icmp.c / libip6t_icmp6.c, libipt_REJECT.c / libip6t_REJECT.c,
libxt_LOG.c), /etc/protocols as shipped by netbase (what iptables-save prints
for `-p NUMBER` through getprotobynumber), the kernel uapi headers.
"""

# -p: what iptables-save prints for a protocol number (getprotobynumber on
# netbase's /etc/protocols); parse accepts these plus the aliases below.
PROTO_NAMES = {
    1: "icmp", 2: "igmp", 4: "ipencap", 6: "tcp", 8: "egp", 12: "pup",
    17: "udp", 22: "idp", 41: "ipv6", 43: "ipv6-route", 44: "ipv6-frag",
    46: "rsvp", 47: "gre", 50: "esp", 51: "ah", 58: "ipv6-icmp",
    59: "ipv6-nonxt", 60: "ipv6-opts", 89: "ospf", 103: "pim", 112: "vrrp",
    115: "l2tp", 132: "sctp", 135: "mobility-header", 136: "udplite",
    137: "mpls-in-ip",
}
PROTO_NUMBERS = {v: k for k, v in PROTO_NAMES.items()}
PROTO_NUMBERS.update({"all": 0, "icmpv6": 58, "ipv6-mh": 135, "mh": 135})

# xt_conntrack / xt_state: state names in libxt_conntrack's print order.
CTSTATE_BITS = (
    ("INVALID", 1), ("NEW", 8), ("RELATED", 4), ("ESTABLISHED", 2),
    ("UNTRACKED", 64), ("SNAT", 256), ("DNAT", 512),
)
CTSTATUS_BITS = (
    ("EXPECTED", 1), ("SEEN_REPLY", 2), ("ASSURED", 4), ("CONFIRMED", 8),
)

# include/uapi/linux/rtnetlink.h RTN_*; -m addrtype prints in this order.
RTN_NAMES = (
    "UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST",
    "BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE",
)

# libxt_tcp.c tcp_flag_names: print order FIN SYN RST PSH ACK URG.
TCP_FLAGS = (("FIN", 1), ("SYN", 2), ("RST", 4), ("PSH", 8), ("ACK", 16),
             ("URG", 32))
TCP_FLAG_ALIASES = {"ALL": 0x3F, "NONE": 0}

# libipt_icmp.c icmp_codes: name -> (type, code_min, code_max)
ICMP_TYPES = {
    "any": (0xFF, 0, 0xFF),
    "echo-reply": (0, 0, 0xFF), "pong": (0, 0, 0xFF),
    "destination-unreachable": (3, 0, 0xFF),
    "network-unreachable": (3, 0, 0), "host-unreachable": (3, 1, 1),
    "protocol-unreachable": (3, 2, 2), "port-unreachable": (3, 3, 3),
    "fragmentation-needed": (3, 4, 4), "source-route-failed": (3, 5, 5),
    "network-unknown": (3, 6, 6), "host-unknown": (3, 7, 7),
    "network-prohibited": (3, 9, 9), "host-prohibited": (3, 10, 10),
    "TOS-network-unreachable": (3, 11, 11), "TOS-host-unreachable": (3, 12, 12),
    "communication-prohibited": (3, 13, 13),
    "host-precedence-violation": (3, 14, 14), "precedence-cutoff": (3, 15, 15),
    "source-quench": (4, 0, 0xFF),
    "redirect": (5, 0, 0xFF), "network-redirect": (5, 0, 0),
    "host-redirect": (5, 1, 1), "TOS-network-redirect": (5, 2, 2),
    "TOS-host-redirect": (5, 3, 3),
    "echo-request": (8, 0, 0xFF), "ping": (8, 0, 0xFF),
    "router-advertisement": (9, 0, 0xFF), "router-solicitation": (10, 0, 0xFF),
    "time-exceeded": (11, 0, 0xFF), "ttl-exceeded": (11, 0, 0xFF),
    "ttl-zero-during-transit": (11, 0, 0), "ttl-zero-during-reassembly": (11, 1, 1),
    "parameter-problem": (12, 0, 0xFF), "ip-header-bad": (12, 0, 0),
    "required-option-missing": (12, 1, 1),
    "timestamp-request": (13, 0, 0xFF), "timestamp-reply": (14, 0, 0xFF),
    "address-mask-request": (17, 0, 0xFF), "address-mask-reply": (18, 0, 0xFF),
}
# libip6t_icmp6.c icmpv6_codes
ICMP6_TYPES = {
    "destination-unreachable": (1, 0, 0xFF), "no-route": (1, 0, 0),
    "communication-prohibited": (1, 1, 1), "beyond-scope": (1, 2, 2),
    "address-unreachable": (1, 3, 3), "port-unreachable": (1, 4, 4),
    "failed-policy": (1, 5, 5), "reject-route": (1, 6, 6),
    "packet-too-big": (2, 0, 0xFF),
    "time-exceeded": (3, 0, 0xFF), "ttl-exceeded": (3, 0, 0xFF),
    "ttl-zero-during-transit": (3, 0, 0), "ttl-zero-during-reassembly": (3, 1, 1),
    "parameter-problem": (4, 0, 0xFF), "bad-header": (4, 0, 0),
    "unknown-header-type": (4, 1, 1), "unknown-option": (4, 2, 2),
    "echo-request": (128, 0, 0xFF), "ping": (128, 0, 0xFF),
    "echo-reply": (129, 0, 0xFF), "pong": (129, 0, 0xFF),
    "router-solicitation": (133, 0, 0xFF), "router-advertisement": (134, 0, 0xFF),
    "neighbour-solicitation": (135, 0, 0xFF), "neighbor-solicitation": (135, 0, 0xFF),
    "neighbour-advertisement": (136, 0, 0xFF), "neighbor-advertisement": (136, 0, 0xFF),
    "redirect": (137, 0, 0xFF),
}

# REJECT --reject-with.  Our reject kind = the kernel enum value + 1
# (include/uapi/linux/netfilter_ipv4/ipt_REJECT.h enum ipt_reject_with) for
# IPv4 and + 17 (enum ip6t_reject_with) for IPv6, so 0 means "not a REJECT".
REJECT4 = (
    "icmp-net-unreachable", "icmp-host-unreachable", "icmp-proto-unreachable",
    "icmp-port-unreachable", "icmp-echo-reply", "icmp-net-prohibited",
    "icmp-host-prohibited", "tcp-reset", "icmp-admin-prohibited",
)
REJECT4_ALIASES = {
    "net-unreach": "icmp-net-unreachable", "host-unreach": "icmp-host-unreachable",
    "proto-unreach": "icmp-proto-unreachable", "port-unreach": "icmp-port-unreachable",
    "net-prohib": "icmp-net-prohibited", "host-prohib": "icmp-host-prohibited",
    "admin-prohib": "icmp-admin-prohibited", "tcp-rst": "tcp-reset",
}
REJECT6 = (
    "icmp6-no-route", "icmp6-adm-prohibited", "icmp6-not-neighbour",
    "icmp6-addr-unreachable", "icmp6-port-unreachable", "icmp6-echo-reply",
    "tcp-reset", "icmp6-policy-fail", "icmp6-reject-route",
)
REJECT6_ALIASES = {
    "no-route": "icmp6-no-route", "adm-prohibited": "icmp6-adm-prohibited",
    "not-neighbour": "icmp6-not-neighbour", "not-neighbor": "icmp6-not-neighbour",
    "icmp6-not-neighbor": "icmp6-not-neighbour",
    "addr-unreach": "icmp6-addr-unreachable", "port-unreach": "icmp6-port-unreachable",
    "tcp-rst": "tcp-reset", "policy-fail": "icmp6-policy-fail",
    "reject-route": "icmp6-reject-route",
}
REJECT6_BASE = 17


def reject_kind_name(kind: int) -> str:
    if kind == 0:
        return ""
    if kind >= REJECT6_BASE:
        return REJECT6[kind - REJECT6_BASE]
    return REJECT4[kind - 1]


# NAT target kinds in NfResult.nat (iptables.pxd NAT_*)
NAT_KINDS = ("", "DNAT", "SNAT", "MASQUERADE", "REDIRECT")

# LOG --log-level names (syslog levels); LOG's default is 4 (warning)
LOG_LEVELS = {"emerg": 0, "alert": 1, "crit": 2, "error": 3, "err": 3,
              "warning": 4, "warn": 4, "notice": 5, "info": 6, "debug": 7,
              "panic": 0}

# Built-in chains per table, in hook order (the order iptables-save prints)
BUILTIN_CHAINS = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}
HOOKS = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
TABLES = ("raw", "mangle", "nat", "filter", "security")   # nftypes NFT_* order
