"""Where the model does not (yet) match the recorded kernel, and why.

Keys: (scenario, counter) / (scenario, client port) / (scenario, check).
Every entry names the kernel behaviour that is not modelled or modelled
wrong; bench/kernel/README.md has the diagnosis (counter, kernel value,
model value, kernel function).  Remove an entry when the model is fixed:
the strict xfail fails as soon as the case passes.
"""

COUNTERS = {}

_AUTOTUNE = ("receive-buffer autotuning (tcp_rcv_space_adjust / tcp_rcvbuf_grow, and the "
             "scaling_ratio update in tcp_measure_rcv_mss) not modelled: the kernel's "
             "window grows past the model's, which then rejects the sender's in-window "
             "segments as beyond its window (tcp_sequence) and ACKs them")
# (its extra dupacks are also extra IP output: IpOutRequests / IpOutTransmits /
# IpExtOutOctets follow TcpOutSegs)
for _c in ("TcpOutSegs", "TcpExtBeyondWindow", "TcpExtTCPOFOQueue", "IpOutRequests",
           "IpOutTransmits", "IpExtOutOctets"):
    COUNTERS[("bulk-default", _c)] = _AUTOTUNE

_RMEM = ("receive memory of the real skbs and the scaling_ratio update: the kernel's "
         "skbs have truesize len + 832 here (ss: r=6840 for 3 x 1448 bytes) and "
         "coalesce (tcp_try_coalesce, TCPRcvCoalesce=8), tcp_measure_rcv_mss sets "
         "scaling_ratio 162 and window_clamp 5184, tcp_grow_window rcv_ssthresh 3741; the "
         "model (len + 576, no coalescing, ratio 128) computes a zero window (tcp_space) "
         "where the kernel offers 1448, then its rcv_nxt lags and it drops segments the "
         "kernel queued")
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
    ("teardown", "all_windows"): (
        "tp->scaling_ratio update in tcp_measure_rcv_mss (skb->len * 256 / truesize of "
        "the first data segment: 1000 * 256 / 1832 = 139 here, ss skmem r=1832) and the "
        "window_clamp / rcv_ssthresh growth after it (tcp_grow_window): the kernel "
        "advertises 67 x 1024 = 68608 after 1000 bytes, the model 63 x 1024 = 64512 "
        "(scaling_ratio fixed at 128; Replay(scaling_ratio=139) matches all 7)"),
}
