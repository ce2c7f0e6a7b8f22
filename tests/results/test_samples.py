"""The bundled samples (data/make_samples.py) show their headline cases,
through the whole path: replay -o, the tables, the summary."""
import pathlib

import pystack
from pystack.config import load_host_config
from pystack.replay import Replay
from pystack.results import summary as S
from pystack.results.run import replay_to_folder

DATA = pathlib.Path(__file__).resolve().parents[2] / "data"


def _replay(tmp_path, name):
    host = load_host_config(str(DATA / "hosts" / f"{name}.toml"))
    path, res, info = replay_to_folder(Replay(host), [str(DATA / "samples" / f"{name}.pcap")],
                                       str(tmp_path / name))
    return path, res, info


def test_synflood_with_syncookies(tmp_path):
    """300 spoofed SYNs, listen(16): the SYN queue fills at 17 (qlen >
    max_ack_backlog is full), every later SYN gets a cookie; both real
    clients come back with valid cookies."""
    path, res, info = _replay(tmp_path, "synflood-cookies")
    c = res.counters
    assert c["TcpExtTCPReqQFullDoCookies"] == c["TcpExtSyncookiesSent"] == 285
    assert c["TcpExtSyncookiesRecv"] == 2 and c["TcpExtSyncookiesFailed"] == 0
    assert c["TcpPassiveOpens"] == 2 and c["TcpExtListenDrops"] == 0
    assert c["TcpOutSegs"] == 304                  # 17 + 285 SYN-ACKs, 2 ACKs of the requests
    [lis] = res.listeners
    assert lis["syn_queue_max"] == 17 and lis["synacks"] == 302
    d = pystack.load(path)
    assert (d.packets["reply"] == "SYNACK_COOKIE").sum() == 285
    assert (d.packets["reply"] == "SYNACK").sum() == 17
    lq = d.samples[d.samples["kind"] == "listener"]
    assert lq["syn_queue"].max() == 17
    assert d.connections["why"].astype(str).tolist() == ["OPEN", "OPEN"]
    # a cookie connection never sat in the SYN queue (no request sock)
    assert d.connections["syn_queue_ns"].tolist() == [0, 0]


def test_zero_window_stall(tmp_path):
    """sk_rcvbuf 8192, a reader of 1000 bytes a second: the queue fills,
    the last in-window segment is dropped for memory, the window stays
    closed 0.9 s and the retransmissions are dropped until the reader
    catches up."""
    path, res, info = _replay(tmp_path, "zero-window")
    c = res.counters
    assert c["TcpExtTCPRcvQDrop"] == 1 and c["TcpExtPruneCalled"] == 1
    assert c["TcpExtTCPFromZeroWindowAdv"] == 1 and c["TcpExtBeyondWindow"] == 2
    d = pystack.load(path)
    [conn] = d.connections.to_dict("records")
    assert conn["zero_window_advs"] == 3 and conn["zero_window_ns"] == 900_200_128
    assert conn["max_rcv_queue"] == 3285
    assert conn["drops_by_reason"] == "TCP_INVALID_END_SEQUENCE:2 TCP_OLD_DATA:1 PROTO_MEM:1"
    drops = d.packets[d.packets["verdict"] == "DROPPED"]
    assert drops["reason"].astype(str).tolist() == ["PROTO_MEM", "TCP_INVALID_END_SEQUENCE",
                                                    "TCP_INVALID_END_SEQUENCE", "TCP_OLD_DATA"]
    sock = d.samples[d.samples["kind"] == "socket"]
    assert sock["rcv_queue"].max() == 3285 and (sock["adv_win"] == 0).any()
    s = S.summarize(path)
    assert s["stalled"][0]["zero_window_ns"] == 900_200_128


def test_accept_overflow_tables(tmp_path):
    path, res, info = _replay(tmp_path, "accept-overflow")
    d = pystack.load(path)
    assert (d.packets["reason"] == "TCP_LISTEN_OVERFLOW").sum() == 7
    lq = d.samples[d.samples["kind"] == "listener"]
    assert lq["accept_queue"].tolist() == [0, 1, 1, 2, 2, 3]
    assert d.connections["accept_queue_ns"].tolist() == [2_599_799_872, 2_399_799_824,
                                                         2_199_799_776]
