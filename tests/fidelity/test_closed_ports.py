"""Closed ports: TCP SYNs answered with a RST (tcp_v4_send_reset), UDP
datagrams with ICMP port unreachable under icmp_ratelimit (per-peer token
bucket, inet_peer_xrlim_allow) and icmp_msgs_per_sec (icmp_global_allow)."""
import pytest

from tests.fidelity import cases

NAMES = ["closed-ports"]


@pytest.mark.parametrize("name,counter", cases.counter_cases(NAMES))
def test_counter_equals_kernel_delta(name, counter):
    cases.check_counter(name, counter)


@pytest.mark.parametrize("name,sport", cases.outcome_cases(NAMES))
def test_connection_outcome_as_the_client_saw_it(name, sport):
    cases.check_outcome(name, sport)


@pytest.mark.parametrize("name", cases.window_cases(NAMES, "syn_answers"))
def test_every_syn_answered_as_the_kernel_did(name):
    cases.check_syn_answers(name)
