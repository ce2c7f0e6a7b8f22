"""A SYN for a 4-tuple in TIME_WAIT (tcp_timewait_state_process -> TCP_TW_SYN;
sheet 8.3): the server closed first, the client reconnects from the same port
500 ms later and gets a new connection whose ISN is tw_snd_nxt + 65537."""
import pytest

from tests.fidelity import cases

NAMES = ["timewait-reuse"]


@pytest.mark.parametrize("name,counter", cases.counter_cases(NAMES))
def test_counter_equals_kernel_delta(name, counter):
    cases.check_counter(name, counter)


@pytest.mark.parametrize("name,sport", cases.outcome_cases(NAMES))
def test_connection_outcome_as_the_client_saw_it(name, sport):
    cases.check_outcome(name, sport)


@pytest.mark.parametrize("name", cases.window_cases(NAMES, "syn_answers"))
def test_every_syn_answered_as_the_kernel_did(name):
    cases.check_syn_answers(name)


@pytest.mark.parametrize("name", cases.window_cases(NAMES, "handshake"))
def test_synack_window_wscale_mss(name):
    cases.check_handshake(name)


@pytest.mark.parametrize("name", cases.window_cases(NAMES, "all_windows"))
def test_every_advertised_window_exact(name):
    cases.check_windows_exact(name)


def test_second_synack_isn_is_tw_snd_nxt_plus_65537():
    """The kernel's rule, read off the capture (tcp_timewait_state_process:
    isn = tcptw->tw_snd_nxt + 65535 + 2)."""
    _, _, pk = cases.compare.replay(cases.sdir("timewait-reuse"))
    synacks = [r for r in pk if r.get("tcp") and r["dir"] == "out"
               and r["flags"] & 0x12 == 0x12]
    assert len(synacks) == 2
    # first connection: SYN-ACK (1) + FIN (1), no data from the server
    assert synacks[1]["seq"] == (synacks[0]["seq"] + 2 + 65537) % 2 ** 32


def test_model_isn_for_the_timewait_syn_equals_the_kernels():
    _, res, pk = cases.compare.replay(cases.sdir("timewait-reuse"))
    second = cases.compare.syn_answers(res, pk)[1]["row"]
    captured = next(r for r in pk[second + 1:] if r.get("tcp") and r["dir"] == "out")
    assert int(res.packets["reply_seq"][second]) == captured["seq"]
