"""Receive side: a slow reader with SO_RCVBUF 4096 driven to a zero window
(tcp_select_window / __tcp_select_window, tcp_data_queue; sheet 5.3-5.6), and
a fast bulk transfer with default buffers (autotuning on)."""
import pytest

from tests.fidelity import cases

NAMES = ["slow-reader-zero-window", "bulk-default"]


@pytest.mark.parametrize("name,counter", cases.counter_cases(NAMES))
def test_counter_equals_kernel_delta(name, counter):
    cases.check_counter(name, counter)


@pytest.mark.parametrize("name,sport", cases.outcome_cases(NAMES))
def test_connection_outcome_as_the_client_saw_it(name, sport):
    cases.check_outcome(name, sport)


@pytest.mark.parametrize("name", cases.window_cases(NAMES, "handshake"))
def test_synack_window_wscale_mss(name):
    cases.check_handshake(name)


@pytest.mark.parametrize("name", cases.window_cases(["slow-reader-zero-window"], "zero_window"))
def test_zero_window_transitions_exact(name):
    cases.check_zero_window(name)


@pytest.mark.parametrize("name", cases.window_cases(NAMES, "all_windows"))
def test_every_advertised_window_exact(name):
    cases.check_windows_exact(name)


@pytest.mark.parametrize("name", cases.window_cases(NAMES, "syn_answers"))
def test_every_syn_answered_as_the_kernel_did(name):
    cases.check_syn_answers(name)
