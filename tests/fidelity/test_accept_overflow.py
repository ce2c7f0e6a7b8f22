"""Accept-queue overflow on the real kernel vs the model (tcp_v4_syn_recv_sock,
tcp_check_req, tcp_conn_request; sheet 4.1-4.4).

accept-overflow-a0/a1: listen(fd, 2), never accept(), 6 clients 200 ms apart
(SYNs 4-6 dropped at SYN time, retransmitted by the clients).
accept-overflow-rtt-a0/a1: the same listener behind a 50 ms RTT delay line;
four SYNs arrive while the accept queue has room, their final ACKs overflow
it (tcp_abort_on_overflow decides between silence and a RST; the cookie
ACK never gets a RST).
accept-slow / accept-slow-race: an application that accepts one connection
every 343 / 300 ms (host.toml: accept = "rate 1/343ms", a depth-1 token
bucket, which is what accept()-then-sleep does); SYNs that find the queue
full are dropped and retransmitted.
"""
import pytest

from tests.fidelity import cases

NAMES = ["accept-overflow-a0", "accept-overflow-a1", "accept-overflow-rtt-a0",
         "accept-overflow-rtt-a1", "accept-slow", "accept-slow-race"]


@pytest.mark.parametrize("name,counter", cases.counter_cases(NAMES))
def test_counter_equals_kernel_delta(name, counter):
    cases.check_counter(name, counter)


@pytest.mark.parametrize("name,sport", cases.outcome_cases(NAMES))
def test_connection_outcome_as_the_client_saw_it(name, sport):
    cases.check_outcome(name, sport)


@pytest.mark.parametrize("name", cases.window_cases(NAMES, "handshake"))
def test_synack_window_wscale_mss(name):
    cases.check_handshake(name)


@pytest.mark.parametrize("name", cases.window_cases(NAMES, "syn_answers"))
def test_every_syn_answered_as_the_kernel_did(name):
    cases.check_syn_answers(name)
