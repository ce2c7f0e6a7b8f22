"""Each match, with and without negation (ip_packet_match and the xt_* match
functions).  Rule 1 is the match under test (-j DROP); the INPUT policy is
ACCEPT, so ("DROP", 1) = matched and ("ACCEPT", 0) = not matched."""
import pytest

from tests.netfilter.util import filter_rules, verdict

HIT, MISS = ("DROP", 1), ("ACCEPT", 0)
TCP = {"proto": "tcp", "src": "10.1.2.3", "dst": "192.0.2.1", "sport": 40000, "dport": 80,
       "tcp_flags": "SYN", "iif": "eth0", "len": 60}


def run(rule, pkt, family=4, **kw):
    cr = filter_rules(rule + " -j DROP", family=family, **kw)
    return verdict(cr, pkt)


def P(**kw):
    d = dict(TCP)
    d.update(kw)
    return d


@pytest.mark.parametrize("rule,pkt,want", [
    ("-A INPUT -s 10.1.0.0/16", P(), HIT),
    ("-A INPUT -s 10.2.0.0/16", P(), MISS),
    ("-A INPUT ! -s 10.2.0.0/16", P(), HIT),
    ("-A INPUT ! -s 10.1.0.0/16", P(), MISS),
    ("-A INPUT -d 192.0.2.1", P(), HIT),
    ("-A INPUT -d 192.0.2.0/255.255.255.254", P(), HIT),
    ("-A INPUT -d 0.0.2.0/0.0.255.0", P(dst="198.51.2.7"), HIT),
    ("-A INPUT ! -d 192.0.2.1/32", P(), MISS),
    ("-A INPUT -p tcp", P(), HIT),
    ("-A INPUT -p udp", P(), MISS),
    ("-A INPUT ! -p udp", P(), HIT),
    ("-A INPUT -p 6", P(), HIT),
    ("-A INPUT -f", P(frag=True), HIT),
    ("-A INPUT -f", P(), MISS),
    ("-A INPUT ! -f", P(), HIT),
    ("-A INPUT ! -f", P(frag=True), MISS),
])
def test_ip_part(rule, pkt, want):
    assert run(rule, pkt) == want


@pytest.mark.parametrize("rule,iif,want", [
    ("-A INPUT -i eth0", "eth0", HIT),
    ("-A INPUT -i eth0", "eth1", MISS),
    ("-A INPUT -i eth+", "eth1", HIT),
    ("-A INPUT -i eth+", "veth0", MISS),
    ("-A INPUT ! -i eth+", "veth0", HIT),
    ("-A INPUT ! -i eth0", "eth0", MISS),
    ("-A INPUT -i wlan0", "eth0", MISS),          # not a host interface: never matches
    ("-A INPUT ! -i wlan0", "eth0", HIT),
    ("-A INPUT -i eth0", None, MISS),             # no input device at this hook
    ("-A INPUT ! -i eth0", None, HIT),
    ("-A INPUT -i +", None, HIT),
    ("-A INPUT -m physdev --physdev-in veth+", "veth1", HIT),
    ("-A INPUT -m physdev ! --physdev-in veth+", "veth1", MISS),
])
def test_interfaces(rule, iif, want):
    assert run(rule, P(iif=iif)) == want


def test_out_interface():
    assert run("-A INPUT -o eth1", P(oif="eth1")) == HIT
    assert run("-A INPUT -o eth1", P(oif="eth0")) == MISS
    assert run("-A INPUT -m physdev --physdev-out eth1", P(oif="eth1")) == HIT


@pytest.mark.parametrize("rule,pkt,want", [
    ("-A INPUT -p tcp -m tcp --dport 80", P(), HIT),
    ("-A INPUT -p tcp -m tcp --dport 79:81", P(), HIT),
    ("-A INPUT -p tcp -m tcp --dport 81:90", P(), MISS),
    ("-A INPUT -p tcp -m tcp ! --dport 81:90", P(), HIT),
    ("-A INPUT -p tcp -m tcp --sport 40000 ! --dport 443", P(), HIT),
    ("-A INPUT -p tcp --dport 80", P(frag=True), MISS),
    ("-A INPUT -p tcp -m tcp --syn", P(), HIT),
    ("-A INPUT -p tcp -m tcp --syn", P(tcp_flags="SYN,ACK"), MISS),
    ("-A INPUT -p tcp -m tcp ! --syn", P(tcp_flags="SYN,ACK"), HIT),
    ("-A INPUT -p tcp -m tcp --tcp-flags ALL NONE", P(tcp_flags=""), HIT),
    ("-A INPUT -p tcp -m tcp --tcp-flags SYN,RST SYN,RST", P(tcp_flags="SYN,RST,ECE"), HIT),
    ("-A INPUT -p udp -m udp --dport 53", P(proto="udp", dport=53), HIT),
    ("-A INPUT -p udp -m udp ! --sport 53", P(proto="udp", sport=53), MISS),
    ("-A INPUT -p tcp -m multiport --dports 22,80,8000:8100", P(dport=8050), HIT),
    ("-A INPUT -p tcp -m multiport --dports 22,80,8000:8100", P(dport=8101), MISS),
    ("-A INPUT -p tcp -m multiport ! --dports 22,80", P(dport=80), MISS),
    ("-A INPUT -p tcp -m multiport ! --dports 22,80", P(dport=81), HIT),
    ("-A INPUT -p tcp -m multiport --sports 40000", P(), HIT),
    ("-A INPUT -p tcp -m multiport --ports 40000", P(), HIT),
    ("-A INPUT -p tcp -m multiport --ports 80", P(), HIT),
    ("-A INPUT -p tcp -m multiport --ports 81", P(), MISS),
    ("-A INPUT -p tcp -m multiport --ports 80", P(frag=True), MISS),
])
def test_ports_and_flags(rule, pkt, want):
    assert run(rule, pkt) == want


@pytest.mark.parametrize("rule,t,c,want", [
    ("-A INPUT -p icmp -m icmp --icmp-type echo-request", 8, 0, HIT),
    ("-A INPUT -p icmp -m icmp --icmp-type echo-request", 0, 0, MISS),
    ("-A INPUT -p icmp -m icmp ! --icmp-type echo-request", 0, 0, HIT),
    ("-A INPUT -p icmp -m icmp --icmp-type 3/4", 3, 4, HIT),
    ("-A INPUT -p icmp -m icmp --icmp-type fragmentation-needed", 3, 3, MISS),
    ("-A INPUT -p icmp -m icmp --icmp-type destination-unreachable", 3, 13, HIT),
    ("-A INPUT -p icmp -m icmp --icmp-type any", 42, 7, HIT),
])
def test_icmp(rule, t, c, want):
    assert run(rule, {"proto": "icmp", "icmp_type": t, "icmp_code": c}) == want


def test_icmp6():
    pkt = {"proto": "ipv6-icmp", "src": "2001:db8::1", "dst": "2001:db8::2",
           "icmp_type": 128, "icmp_code": 0}
    assert run("-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type echo-request", pkt, 6) == HIT
    assert run("-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 1/4", pkt, 6) == MISS
    assert run("-A INPUT -s 2001:db8::/64 -d 2001:db8::2", pkt, 6) == HIT
    assert run("-A INPUT ! -s 2001:db8::/64", pkt, 6) == MISS


@pytest.mark.parametrize("rule,pkt,want", [
    ("-A INPUT -m conntrack --ctstate NEW", P(ctstate="NEW"), HIT),
    ("-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED", P(ctstate="NEW"), MISS),
    ("-A INPUT -m conntrack ! --ctstate RELATED,ESTABLISHED", P(ctstate="NEW"), HIT),
    ("-A INPUT -m conntrack --ctstate INVALID", P(ctstate="INVALID"), HIT),
    ("-A INPUT -m conntrack --ctstate UNTRACKED", P(ctstate="UNTRACKED"), HIT),
    ("-A INPUT -m conntrack --ctstate INVALID", P(ctstate="UNTRACKED"), MISS),
    ("-A INPUT -m conntrack --ctstate DNAT", P(ctstate="ESTABLISHED", ctstatus="DST_NAT"), HIT),
    ("-A INPUT -m conntrack --ctstate SNAT", P(ctstate="ESTABLISHED", ctstatus="DST_NAT"), MISS),
    ("-A INPUT -m conntrack --ctstatus ASSURED", P(ctstate="ESTABLISHED", ctstatus="ASSURED"), HIT),
    ("-A INPUT -m conntrack ! --ctstatus ASSURED", P(ctstate="ESTABLISHED", ctstatus="ASSURED"), MISS),
    ("-A INPUT -m conntrack --ctstatus ASSURED", P(ctstate="INVALID"), MISS),   # no ct
    ("-A INPUT -m conntrack --ctstate INVALID --ctstatus ASSURED", P(ctstate="INVALID"), HIT),
    ("-A INPUT -m conntrack --ctdir ORIGINAL", P(ctstate="NEW"), HIT),
    ("-A INPUT -m conntrack --ctdir REPLY", P(ctstate="NEW"), MISS),
    ("-A INPUT -m conntrack --ctdir REPLY", P(ctstate="ESTABLISHED", ctdir="REPLY"), HIT),
    ("-A INPUT -m conntrack --ctorigdst 198.19.0.0/24", P(ct_orig_dst="198.19.0.20"), HIT),
    ("-A INPUT -m conntrack ! --ctorigdst 198.19.0.0/24", P(ct_orig_dst="198.19.0.20"), MISS),
    ("-A INPUT -m conntrack --ctorigsrc 10.1.2.3", P(), HIT),
    ("-A INPUT -m conntrack --ctreplsrc 192.0.2.1", P(), HIT),
    ("-A INPUT -m conntrack --ctrepldst 10.9.9.9", P(), MISS),
    ("-A INPUT -m conntrack --ctorigdstport 80", P(), HIT),
    ("-A INPUT -m conntrack --ctorigsrcport 1:1024", P(), MISS),
    ("-A INPUT -m conntrack ! --ctreplsrcport 1:1024", P(), MISS),
    ("-A INPUT -m conntrack --ctrepldstport 40000", P(), HIT),
    ("-A INPUT -m conntrack --ctproto tcp", P(), HIT),
    ("-A INPUT -m conntrack --ctproto udp", P(), MISS),
    ("-A INPUT -m state --state NEW,ESTABLISHED", P(ctstate="ESTABLISHED"), HIT),
    ("-A INPUT -m state --state NEW", P(ctstate="RELATED"), MISS),
    ("-A INPUT -m state --state INVALID", P(ctstate="INVALID"), HIT),
    ("-A INPUT -m state ! --state NEW", P(ctstate="ESTABLISHED"), HIT),
    ("-A INPUT -m state ! --state NEW", P(ctstate="NEW"), MISS),
])
def test_conntrack_and_state(rule, pkt, want):
    assert run(rule, pkt) == want


@pytest.mark.parametrize("rule,pkt,want", [
    ("-A INPUT -m mark --mark 0x4000/0x4000", P(mark=0x4001), HIT),
    ("-A INPUT -m mark --mark 0x4000/0x4000", P(mark=0x0001), MISS),
    ("-A INPUT -m mark ! --mark 0x4000/0x4000", P(mark=0x0001), HIT),
    ("-A INPUT -m mark --mark 0x1", P(mark=0x1), HIT),
    ("-A INPUT -m mark --mark 0x1", P(mark=0x3), MISS),
    ("-A INPUT -m connmark --mark 0x2/0xff", P(ctmark=0x302), HIT),
    ("-A INPUT -m connmark ! --mark 0x2/0xff", P(ctmark=0x302), MISS),
    ("-A INPUT -m connmark ! --mark 0x2/0xff", P(ctmark=0x3, ctstate="INVALID"), MISS),
    ("-A INPUT -m addrtype --dst-type LOCAL", P(dst_type="LOCAL"), HIT),
    ("-A INPUT -m addrtype --dst-type LOCAL", P(dst_type="UNICAST"), MISS),
    ("-A INPUT -m addrtype ! --dst-type LOCAL", P(dst_type="UNICAST"), HIT),
    ("-A INPUT -m addrtype --src-type LOCAL,BROADCAST --dst-type UNICAST",
     P(src_type="BROADCAST", dst_type="UNICAST"), HIT),
    ("-A INPUT -m addrtype ! --src-type LOCAL --dst-type MULTICAST",
     P(src_type="UNICAST", dst_type="UNICAST"), MISS),
    ("-A INPUT -m comment --comment anything", P(), HIT),
])
def test_marks_addrtype_comment(rule, pkt, want):
    assert run(rule, pkt) == want


def test_all_parts_must_match():
    rule = "-A INPUT -s 10.1.0.0/16 -i eth0 -p tcp -m tcp --dport 80 -m conntrack --ctstate NEW -m mark --mark 0x0"
    assert run(rule, P()) == HIT
    assert run(rule, P(mark=1)) == MISS
    assert run(rule, P(iif="eth1")) == MISS


def test_interface_index_outside_the_list():
    cr = filter_rules("-A INPUT -i eth0 -j DROP")
    with pytest.raises(ValueError) as ei:
        cr.evaluate(P(iif="wlan9"), "INPUT", "filter")
    assert "'wlan9' is not in this evaluator's interface list" in str(ei.value)
    # an index the evaluator has no name for: only '+' and negations match
    pkt = P(iif_index=99)
    assert run("-A INPUT -i eth0", pkt) == MISS
    assert run("-A INPUT ! -i eth0", pkt) == HIT
    assert run("-A INPUT -i +", pkt) == HIT
    assert run("-A INPUT -i eth+", pkt) == MISS
    assert run("-A INPUT ! -i eth+", pkt) == HIT
    assert run("-A INPUT -i +", P(iif=None)) == HIT
    assert run("-A INPUT -i eth+", P(iif=None)) == MISS
