"""Teardowns: client FIN first, server FIN first (TIME_WAIT on the server),
client SO_LINGER 0, server SO_LINGER 0, server close with unread data
(tcp_close -> RST, TCPAbortOnClose); tcp_fin, tcp_reset, tcp_time_wait."""
import pytest

from tests.fidelity import cases

NAMES = ["teardown"]


@pytest.mark.parametrize("name,counter", cases.counter_cases(NAMES))
def test_counter_equals_kernel_delta(name, counter):
    cases.check_counter(name, counter)


@pytest.mark.parametrize("name,sport", cases.outcome_cases(NAMES))
def test_connection_outcome_as_the_client_saw_it(name, sport):
    cases.check_outcome(name, sport)


@pytest.mark.parametrize("name", cases.window_cases(NAMES, "handshake"))
def test_synack_window_wscale_mss(name):
    cases.check_handshake(name)


@pytest.mark.parametrize("name", cases.window_cases(NAMES, "all_windows"))
def test_every_advertised_window_exact(name):
    cases.check_windows_exact(name)


@pytest.mark.parametrize("name", cases.window_cases(NAMES, "syn_answers"))
def test_every_syn_answered_as_the_kernel_did(name):
    cases.check_syn_answers(name)
