"""`pystack replay`: the stack model from the command line, exact outcomes.

data/samples/accept-overflow.pcap is linux-semantics.md section 11
experiment 1 (listen(2), never accept, 6 clients 200 ms apart), where the
real kernel counted ListenOverflows = ListenDrops = 7.
"""
import json
import pathlib

from pystack.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
OVERFLOW = ROOT / "data" / "samples" / "accept-overflow.pcap"
OVERFLOW_HOST = ROOT / "data" / "hosts" / "accept-overflow.toml"
MIXED = ROOT / "data" / "samples" / "mixed.pcap"


def replay_json(capsys, *args):
    rc = main(["replay", "--json", *map(str, args)])
    cap = capsys.readouterr()
    return rc, json.loads(cap.out), cap.err


def test_accept_queue_overflow_matches_the_kernel(capsys):
    rc, s, _ = replay_json(capsys, OVERFLOW, "--config", OVERFLOW_HOST)
    assert rc == 0
    assert s["counters"]["TcpExtListenOverflows"] == 7
    assert s["counters"]["TcpExtListenDrops"] == 7
    assert s["counters"]["TcpPassiveOpens"] == 3
    assert s["drops"] == {"TCP_LISTEN_OVERFLOW": 7}
    assert s["verdicts"] == {"DELIVERED": 6, "DROPPED": 7, "SENT": 3}
    [lis] = s["listeners"]
    assert lis["accept_queue_max"] == 3 and lis["max_ack_backlog"] == 2


def test_what_if_smaller_somaxconn(capsys):
    rc, s, _ = replay_json(capsys, OVERFLOW, "--config", OVERFLOW_HOST,
                           "--sysctl", "net.core.somaxconn=1")
    assert rc == 0
    # backlog min(2, 1) = 1 holds 2: client 3's SYN overflows too (8), and its
    # final ACK then finds only the listener: RST (TCP_FLAGS); the capture's
    # SYN-ACK for client 3 is a divergence from the model.
    assert s["counters"]["TcpExtListenOverflows"] == 8
    assert s["drops"] == {"TCP_LISTEN_OVERFLOW": 8, "TCP_FLAGS": 1}
    assert s["counters"]["TcpOutRsts"] == 1
    assert s["divergences"] == {"host_synack_unmatched": 1}


def test_what_if_the_app_accepts(capsys):
    rc, s, _ = replay_json(capsys, OVERFLOW, "--config", OVERFLOW_HOST,
                           "--app", "5000:accept=immediate")
    assert rc == 0
    assert "TcpExtListenOverflows" not in s["counters"]
    assert s["listeners"][0]["passive_opens"] == 3


def test_host_is_inferred_and_said(capsys):
    rc, s, err = replay_json(capsys, MIXED)
    assert rc == 0
    assert s["host"]["addresses"] == ["198.18.0.1", "2001:db8::1"]
    assert "inferred the host" in err and "tcp/80" in err
    assert s["drops"] == {"NO_SOCKET": 1, "TCP_CSUM": 1}      # SYN to :8080, corrupted SYN
    assert s["counters"]["TcpOutRsts"] == 1
    assert s["counters"]["TcpInCsumErrors"] == 1
    assert s["packets"] == 73


def test_bad_config_names_file_line_and_key(tmp_path, capsys):
    bad = tmp_path / "host.toml"
    bad.write_text('[host]\naddresses = ["198.18.0.1"]\n[[listen]]\nport = 5000\nbacklg = 2\n')
    rc = main(["replay", str(OVERFLOW), "--config", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "host.toml:5" in err and "backlg" in err and "Traceback" not in err


def test_bad_sysctl_is_usage_error(capsys):
    rc = main(["replay", str(OVERFLOW), "--config", str(OVERFLOW_HOST),
               "--sysctl", "net.core.somaxcon=1"])
    assert rc == 2
    assert "somaxcon" in capsys.readouterr().err


def test_text_summary(capsys):
    assert main(["replay", str(OVERFLOW), "--config", str(OVERFLOW_HOST)]) == 0
    out = capsys.readouterr().out
    assert "drops       TCP_LISTEN_OVERFLOW 7" in out
    assert "TcpExtListenOverflows 7" in out
