"""SYN flood against a listener: crafted SYNs from a raw socket, SYN-ACKs
swallowed in the client namespace (tcp_conn_request, tcp_syn_flood_action,
the tcp_max_syn_backlog 3/4 rule, syncookies 0/1/2, SYN-ACK retransmission
by reqsk_timer_handler; sheet 4.1, 4.2, 4.5)."""
import pytest

from tests.fidelity import cases

NAMES = ["synflood-cookies0", "synflood-cookies0-qfull", "synflood-cookies1",
         "synflood-cookies2"]


@pytest.mark.parametrize("name,counter", cases.counter_cases(NAMES))
def test_counter_equals_kernel_delta(name, counter):
    cases.check_counter(name, counter)


@pytest.mark.parametrize("name", cases.window_cases(NAMES, "handshake"))
def test_synack_window_wscale_mss(name):
    cases.check_handshake(name)


@pytest.mark.parametrize("name", cases.window_cases(NAMES, "syn_answers"))
def test_every_syn_answered_as_the_kernel_did(name):
    cases.check_syn_answers(name)
