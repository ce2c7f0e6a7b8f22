#!/bin/sh
# Regenerate the *.save fixtures from the *.rules inputs through the real
# iptables-restore / iptables-save -c (iptables 1.8.9, nf_tables backend), each
# in a fresh throw-away network namespace.  Needs root.  Files whose name
# contains "6" are IPv6.  Usage: regen.sh [dir-with-.rules]
set -e
dir=${1:-$(dirname "$0")}
ns=pysx-rules-$$
for f in "$dir"/*.rules; do
    case "$(basename "$f")" in *6*) cmd=ip6tables ;; *) cmd=iptables ;; esac
    ip netns add "$ns"
    if ip netns exec "$ns" $cmd-restore < "$f"; then
        ip netns exec "$ns" $cmd-save -c > "${f%.rules}.save"
    fi
    ip netns del "$ns"
done
