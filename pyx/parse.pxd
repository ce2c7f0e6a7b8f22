# Parsed packet columns: one row per record, structure of arrays.
# Filled once by parse_batch(); every later stage reads these, never the bytes'
# headers again.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int64_t

# flags bits (uint32)
cdef enum:
    PF_TRUNCATED   = 1 << 0    # caplen < wire length
    PF_VLAN        = 1 << 1    # one 802.1Q/802.1ad tag
    PF_QINQ        = 1 << 2    # two tags
    PF_IPV4        = 1 << 3
    PF_IPV6        = 1 << 4
    PF_FRAG        = 1 << 5    # IP fragment (MF set or offset != 0; IPv6 fragment header)
    PF_FRAG_LATER  = 1 << 6    # non-first fragment (offset != 0): no L4 header in it
    PF_IP_OPTS     = 1 << 7    # IPv4 header longer than 20 bytes
    PF_IPV6_EXT    = 1 << 8    # IPv6 extension headers present
    PF_L4          = 1 << 9    # the L4 header was fully captured and parsed
    PF_TCP_MSS     = 1 << 10
    PF_TCP_WSCALE  = 1 << 11
    PF_TCP_SACKOK  = 1 << 12
    PF_TCP_TS      = 1 << 13
    PF_TCP_OPTBAD  = 1 << 14   # malformed option list (parsing stopped there)
    PF_ICMP_INNER  = 1 << 15   # ICMP/ICMPv6 error carrying an inner header: in_* valid
    PF_NOT_IP      = 1 << 16   # link payload is not IPv4/IPv6 (ARP, LLDP, ...): ethertype says what
    PF_BAD_LINK    = 1 << 17   # unsupported link type, or link header not captured
    PF_L4_PARTIAL  = 1 << 18   # L4 header cut by caplen: parsed fields as far as bytes go

# tcp_flags bits (uint16): the 8 flag bits of byte 13, plus NS (AccECN AE) as 0x100
cdef enum:
    TH_FIN = 0x01
    TH_SYN = 0x02
    TH_RST = 0x04
    TH_PSH = 0x08
    TH_ACK = 0x10
    TH_URG = 0x20
    TH_ECE = 0x40
    TH_CWR = 0x80
    TH_AE  = 0x100

# pkt_type values (uint8), as linux/if_packet.h; from LINUX_SLL/SLL2 headers
cdef enum:
    PKTTYPE_HOST = 0
    PKTTYPE_BROADCAST = 1
    PKTTYPE_MULTICAST = 2
    PKTTYPE_OTHERHOST = 3
    PKTTYPE_OUTGOING = 4
    PKTTYPE_UNKNOWN = 255

cdef class PacketColumns:
    cdef readonly Py_ssize_t capacity
    cdef public Py_ssize_t n
    cdef readonly dict arrays          # column name -> numpy array (length capacity)

    # --- link ---
    cdef uint8_t*  status      # drop-reason code (vocab.DROP_REASONS); 0 = parsed fine
    cdef uint32_t* flags       # PF_* bits
    cdef uint16_t* ethertype   # L3 protocol (0x0800, 0x86dd, 0x0806, ...); 0 unknown
    cdef uint16_t* vlan0       # outer TCI (0xffff: none)
    cdef uint16_t* vlan1       # inner TCI (0xffff: none)
    cdef uint8_t*  pkt_type    # PKTTYPE_*
    cdef uint32_t* l3_off      # offsets from the start of the record's bytes
    cdef uint32_t* l4_off
    cdef uint32_t* pay_off
    # --- IP ---
    cdef uint8_t*  ip_ver      # 4, 6 or 0
    cdef uint8_t*  ip_proto    # final L4 protocol (after IPv6 extension headers)
    cdef uint8_t*  ip_tos      # TOS / traffic class
    cdef uint8_t*  ip_ttl      # TTL / hop limit
    cdef uint32_t* ip_id       # IPv4 id, IPv6 fragment identification
    cdef uint16_t* ip_frag     # fragment offset in 8-byte units | 0x2000 MF | 0x4000 DF (v4 layout)
    cdef uint32_t* ip_len      # IP datagram length per header (v4 tot_len; v6 40 + payload_len)
    cdef uint8_t*  saddr       # 16 bytes per row; IPv4 as ::ffff:a.b.c.d
    cdef uint8_t*  daddr
    cdef uint32_t* saddr4      # IPv4 address, host byte order (0 for IPv6)
    cdef uint32_t* daddr4
    # --- L4 ---
    cdef uint32_t* l4_len      # L4 bytes per the IP header (header + payload)
    cdef uint32_t* payload_len # L4 payload bytes per the headers
    cdef uint16_t* sport       # TCP/UDP ports; ICMP echo id in sport
    cdef uint16_t* dport
    cdef uint32_t* tcp_seq
    cdef uint32_t* tcp_ack
    cdef uint16_t* tcp_flags
    cdef uint16_t* tcp_win
    cdef uint8_t*  tcp_doff    # header length in 32-bit words
    cdef uint16_t* tcp_mss
    cdef uint8_t*  tcp_wscale  # shift count as sent (valid with PF_TCP_WSCALE)
    cdef uint32_t* tcp_tsval
    cdef uint32_t* tcp_tsecr
    cdef uint8_t*  tcp_nsack   # SACK blocks present (<= 4)
    cdef uint32_t* tcp_sack    # 8 per row: left0, right0, ..., left3, right3
    cdef uint8_t*  icmp_type
    cdef uint8_t*  icmp_code
    # --- ICMP error inner header (valid with PF_ICMP_INNER) ---
    cdef uint8_t*  in_proto
    cdef uint8_t*  in_saddr    # 16 bytes per row
    cdef uint8_t*  in_daddr
    cdef uint16_t* in_sport
    cdef uint16_t* in_dport
    # --- checksums (vocab.CSUM_STATUSES), filled by checksum.verify_batch ---
    cdef uint8_t*  ip_csum
    cdef uint8_t*  l4_csum
    # Set by parse_batch(..., verify_checksums=True): the checksum columns
    # are filled and csum_counts holds checksum.verify_batch's counts.
    cdef public bint csum_verified
    cdef readonly object csum_counts   # int64[16]
    cdef int64_t*  csum_cnt

    cdef void _alloc(self, Py_ssize_t capacity) except *
