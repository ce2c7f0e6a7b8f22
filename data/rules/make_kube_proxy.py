"""Write the iptables-restore input of a kube-proxy (iptables mode) ruleset.

The layout follows kubernetes pkg/proxy/iptables/proxier.go (syncProxyRules,
writeServiceToEndpointRules; sheet section 2.5): chain names are
KUBE-SVC-/KUBE-SEP-/KUBE-EXT- + the first 16 base32 characters of
sha256(servicePortName + protocol [+ endpoint]), probabilities 1/(n-i)
printed with %0.10f, masquerade bit 0x4000, cluster CIDR 198.18.128.0/17.

    python data/rules/make_kube_proxy.py > /tmp/kp.rules
    ip netns add pysx-kp; ip netns exec pysx-kp iptables-restore < /tmp/kp.rules
    ip netns exec pysx-kp iptables-save -c > data/rules/kube-proxy.save; ip netns del pysx-kp

The topology is described in README.md next to this file.
"""
import base64
import hashlib

CLUSTER_CIDR = "198.18.128.0/17"
NODE_IP = "198.18.0.10"


def _hash(s):
    return base64.b32encode(hashlib.sha256(s.encode()).digest()).decode()[:16]


def pod_ip(i):
    # pods 198.18.128.2 .. within 198.18.128.0/17, 200 per /24
    return f"198.18.{128 + i // 200}.{2 + i % 200}"


def services():
    """(namespace/name:port, proto, cluster IP, port, target port, n endpoints, nodePort)"""
    out = [
        ("default/kubernetes:https", "tcp", "198.19.0.1", 443, 6443, 1, None),
        ("kube-system/kube-dns:dns", "udp", "198.19.0.10", 53, 53, 2, None),
        ("kube-system/kube-dns:dns-tcp", "tcp", "198.19.0.10", 53, 53, 2, None),
        ("kube-system/kube-dns:metrics", "tcp", "198.19.0.10", 9153, 9153, 2, None),
        ("shop/web:http", "tcp", "198.19.0.20", 80, 8080, 3, None),
        ("shop/api:grpc", "tcp", "198.19.0.21", 9000, 9000, 4, None),
        ("shop/cart:http", "tcp", "198.19.0.22", 80, 8080, 5, None),
        ("shop/front:http", "tcp", "198.19.0.30", 80, 8080, 2, 30080),
        ("shop/orders:http", "tcp", "198.19.0.40", 8080, 8080, 0, None),
    ]
    for k in range(24):
        out.append((f"load/svc-{k:02d}:http", "tcp", f"198.19.0.{100 + k}", 80, 8080,
                    1 + k % 5, None))
    return out


def main():
    svcs = services()
    nat_chains, nat_rules = [], []
    filt_svc_rules = []
    nodeport_rules = []
    pod = 0
    dns_pods = {}
    for name, proto, cip, port, tport, n, nport in svcs:
        svc = "KUBE-SVC-" + _hash(name + proto)
        if n == 0:
            filt_svc_rules.append(
                f'-A KUBE-SERVICES -d {cip}/32 -p {proto} -m comment --comment "{name} has no endpoints" '
                f"-m {proto} --dport {port} -j REJECT --reject-with icmp-port-unreachable")
            continue
        if name.startswith("default/kubernetes"):
            eps = [f"{NODE_IP}:{tport}"]
        elif name.startswith("kube-system/kube-dns"):
            eps = [f"{pod_ip(i)}:{tport}" for i in range(n)]
        else:
            eps = [f"{pod_ip(10 + pod + i)}:{tport}" for i in range(n)]
            pod += n
        nat_chains.append(svc)
        nat_rules.append(
            f'-A KUBE-SERVICES -d {cip}/32 -p {proto} -m comment --comment "{name} cluster IP" '
            f"-m {proto} --dport {port} -j {svc}")
        nat_rules.append(
            f'-A {svc} ! -s {CLUSTER_CIDR} -d {cip}/32 -p {proto} -m comment --comment "{name} cluster IP" '
            f"-m {proto} --dport {port} -j KUBE-MARK-MASQ")
        if nport:
            ext = "KUBE-EXT-" + _hash(name + proto)
            nat_chains.append(ext)
            nodeport_rules.append(
                f'-A KUBE-NODEPORTS -p {proto} -m comment --comment "{name}" -m {proto} --dport {nport} -j {ext}')
            nat_rules.append(
                f'-A {ext} -m comment --comment "masquerade traffic for {name} external destinations" -j KUBE-MARK-MASQ')
            nat_rules.append(f"-A {ext} -j {svc}")
        for i, ep in enumerate(eps):
            sep = "KUBE-SEP-" + _hash(name + proto + ep)
            nat_chains.append(sep)
            stat = ""
            if i < n - 1:
                stat = f" -m statistic --mode random --probability {1.0 / (n - i):0.10f}"
            nat_rules.append(f'-A {svc} -m comment --comment "{name} -> {ep}"{stat} -j {sep}')
            ip = ep.split(":")[0]
            nat_rules.append(f'-A {sep} -s {ip}/32 -m comment --comment "{name}" -j KUBE-MARK-MASQ')
            nat_rules.append(f'-A {sep} -p {proto} -m comment --comment "{name}" -m {proto} -j DNAT --to-destination {ep}')
    print("*filter")
    print(":INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]")
    for c in ("KUBE-EXTERNAL-SERVICES", "KUBE-FIREWALL", "KUBE-FORWARD", "KUBE-NODEPORTS",
              "KUBE-PROXY-FIREWALL", "KUBE-SERVICES"):
        print(f":{c} - [0:0]")
    print('-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL')
    print('-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS')
    print('-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES')
    print("-A INPUT -j KUBE-FIREWALL")
    print('-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL')
    print('-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD')
    print('-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES')
    print('-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES')
    print('-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL')
    print('-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES')
    print("-A OUTPUT -j KUBE-FIREWALL")
    print('-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" '
          "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")
    print("-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP")
    print('-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT')
    print('-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT')
    for r in filt_svc_rules:
        print(r)
    print("COMMIT")
    print("*nat")
    print(":PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]")
    for c in ["KUBE-MARK-MASQ", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-SERVICES"] + nat_chains:
        print(f":{c} - [0:0]")
    print('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES')
    print('-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES')
    print('-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING')
    print("-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000")
    print("-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN")
    print("-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000")
    print('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully')
    for r in nat_rules:
        print(r)
    for r in nodeport_rules:
        print(r)
    print('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" '
          "-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
    print("COMMIT")


if __name__ == "__main__":
    main()
