"""Where the model does not (yet) match the recorded kernel, and why.

Keys: (scenario, counter) / (scenario, client port) / (scenario, check).
Every entry names the kernel behaviour that is not modelled or modelled
wrong; bench/kernel/README.md has the diagnosis (counter, kernel value,
model value, kernel function).  Remove an entry when the model is fixed:
the strict xfail fails as soon as the case passes.
"""

COUNTERS = {}

_AUTOTUNE = ("full-speed receive autotuning: tcp_rcv_space_adjust / tcp_rcvbuf_grow are modelled "
             "(paced transfers match window for window), but while the reader holds the socket "
             "lock the kernel queues arriving segments in the socket backlog (tcp_add_backlog, "
             "charged against tcp_space) and coalesces skbs (tcp_try_coalesce); the model "
             "neither, and read times inside a 13 ms burst are not observable, so its rcvbuf "
             "and window grow on a different schedule and it rejects or ACKs segments the "
             "kernel queued")
# (its extra dupacks are also extra IP output: IpOutRequests / IpOutTransmits /
# IpExtOutOctets follow TcpOutSegs)
for _c in ("TcpOutSegs", "TcpExtBeyondWindow", "TcpExtTCPOFOQueue",
           "TcpExtTCPWantZeroWindowAdv", "IpOutRequests", "IpOutTransmits", "IpExtOutOctets"):
    COUNTERS[("bulk-default", _c)] = _AUTOTUNE

_RMEM = ("receive memory of the real skbs and the scaling_ratio update: the kernel's "
         "skbs have truesize len + 832 here (ss: r=6840 for 3 x 1448 bytes; the host "
         "config says so) but coalesce (tcp_try_coalesce, TCPRcvCoalesce=8), which the "
         "model does not: with sk_rcvbuf 8192 its rmem_alloc runs ahead of the kernel's, "
         "it computes a zero window (tcp_space) where the kernel offers 1448, then its "
         "rcv_nxt lags and it drops segments the kernel queued")
# (IpExtOutOctets: the packet count matches, the option bytes do not: the
# model's ACKs carry SACK blocks while its out-of-order segment waits and
# D-SACKs for its own drops, the kernel's carry 2 D-SACKs (DelayedACKLost 2))
for _c in ("TcpExtBeyondWindow", "TcpExtDelayedACKLost", "TcpExtDelayedACKs",
           "TcpExtTCPOFOQueue", "TcpExtTCPToZeroWindowAdv", "TcpExtTCPFromZeroWindowAdv",
           "IpExtOutOctets"):
    COUNTERS[("slow-reader-zero-window", _c)] = _RMEM

OUTCOMES = {}

WINDOWS = {
    ("slow-reader-zero-window", "zero_window"): _RMEM,
    ("slow-reader-zero-window", "all_windows"): _RMEM,
    ("bulk-default", "all_windows"): _AUTOTUNE,
}
