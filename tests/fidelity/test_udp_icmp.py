"""UDP receive buffer overflow on a socket that never reads
(__udp_enqueue_schedule_skb: rmem > sk_rcvbuf -> UdpRcvbufErrors + UdpInErrors;
the kernel kept 3 datagrams, skmem r=3840) and ICMP echo (icmp_echo)."""
import pytest

from tests.fidelity import cases

NAMES = ["udp-rcvbuf-overflow", "icmp-echo"]


@pytest.mark.parametrize("name,counter", cases.counter_cases(NAMES))
def test_counter_equals_kernel_delta(name, counter):
    cases.check_counter(name, counter)


def test_udp_datagrams_kept_and_dropped():
    truth, res, _ = cases.compare.replay(cases.sdir("udp-rcvbuf-overflow"))
    assert truth["deltas"]["UdpRcvbufErrors"] == 27
    assert res.counters["UdpRcvbufErrors"] == 27
    assert res.counters["UdpInDatagrams"] == 0          # never read: counted at read time
