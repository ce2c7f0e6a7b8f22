"""pystack.profile: version-dependent rules and constants."""
import dataclasses

import pytest

from pystack import vocab
from pystack.profile import (CAN_INGEST_LEN, CAN_INGEST_RMEM_ALLOC, CAN_INGEST_TRUESIZE,
                             PROFILES, SEQ_END_617, SEQ_END_MAX_WINDOW, SEQ_PRE_617,
                             KernelProfile, get_profile)
from pystack.sysctl import SysctlError, Sysctls

S = 1_000_000_000


def test_default_is_618():
    p = get_profile()
    assert p.name == "6.18" and p.version == "6.18.44"
    assert get_profile(None) is p and get_profile("6.18.44") is p
    assert get_profile("linux-6.18") is p
    assert get_profile(p) is p


def test_unknown_profile_lists_known():
    with pytest.raises(ValueError) as e:
        get_profile("5.4")
    msg = str(e.value)
    assert "'5.4'" in msg and "6.18 (6.18.44)" in msg and "6.12" in msg and "7.3" in msg


def test_profiles_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_profile().tcp_can_ingest = "x"
    assert set(PROFILES) == {"6.12", "6.18", "7.3"}


def test_accept_queue_strict_gt_backlog_plus_one():
    for p in PROFILES.values():
        # backlog 2 holds 3 children (sheet 4.1, measured)
        assert not p.accept_queue_full(2, 2)
        assert p.accept_queue_full(3, 2)
        assert p.accept_queue_capacity(2) == 3
        assert p.accept_queue_capacity(0) == 1
        # SYN queue: reqsk_queue_len > sk_max_ack_backlog
        assert not p.syn_queue_full(2, 2) and p.syn_queue_full(3, 2)


def test_tcp_can_ingest_variants():
    p = get_profile("6.18")
    assert p.tcp_can_ingest == CAN_INGEST_RMEM_ALLOC
    assert p.can_ingest(rmem_alloc=1000, rcvbuf=1000, truesize=2000, length=1400)
    assert not p.can_ingest(rmem_alloc=1001, rcvbuf=1000, truesize=0, length=0)
    p617 = dataclasses.replace(p, tcp_can_ingest=CAN_INGEST_TRUESIZE)
    assert not p617.can_ingest(rmem_alloc=0, rcvbuf=1000, truesize=2000, length=10)
    p6180 = dataclasses.replace(p, tcp_can_ingest=CAN_INGEST_LEN)
    assert p6180.can_ingest(rmem_alloc=0, rcvbuf=1000, truesize=2000, length=1000)
    assert not p6180.can_ingest(rmem_alloc=1, rcvbuf=1000, truesize=0, length=1000)
    with pytest.raises(ValueError):
        dataclasses.replace(p, tcp_can_ingest="bogus").can_ingest(0, 0, 0, 0)


def test_version_differences():
    p612, p618, p73 = get_profile("6.12"), get_profile("6.18"), get_profile("7.3")
    assert (p612.tcp_sequence, p618.tcp_sequence, p73.tcp_sequence) == (
        SEQ_PRE_617, SEQ_END_617, SEQ_END_MAX_WINDOW)
    assert p612.paws_timewait_counter == "PAWSEstab"
    assert p618.paws_timewait_counter == p73.paws_timewait_counter == "PAWSTimewait"
    assert p612.ehash_fn != p618.ehash_fn == p73.ehash_fn
    assert p612.conntrack_max_zero_is_unlimited and not p73.conntrack_max_zero_is_unlimited
    assert not p612.conntrack_table_full(10 ** 6, 0)
    assert p73.conntrack_table_full(1, 0)
    assert p618.conntrack_table_full(262145, 262144)
    assert not p618.conntrack_table_full(262144, 262144)
    assert not p612.has_counter("PAWSTimewait") and p618.has_counter("TcpExtPAWSTimewait")


def test_drop_reasons_by_version():
    p612, p618, p73 = get_profile("6.12"), get_profile("6.18"), get_profile("7.3")
    for r in ("TCP_LISTEN_OVERFLOW", "TCP_INVALID_END_SEQUENCE", "TCP_RFC7323_TW_PAWS"):
        assert p618.has_drop_reason(r) and p73.has_drop_reason(r)
        assert not p612.has_drop_reason(r)
    assert p618.drop_reasons == frozenset(vocab.DROP_REASONS)
    assert not p73.has_drop_reason("QDISC_OVERLIMIT") and p73.has_drop_reason("QDISC_BURST_DROP")
    for p in (p612, p618, p73):
        assert p.has_drop_reason("NO_SOCKET") and p.has_drop_reason("PROTO_MEM")


def test_sysctl_defaults_by_version_and_wscale():
    s612, s618, s73 = Sysctls("6.12"), Sysctls("6.18"), Sysctls("7.3")
    assert s612.get("net.ipv4.tcp_rmem") == (4096, 131072, 6291456)
    assert s612.get("net.core.rmem_max") == 212992
    assert s618.get("net.ipv4.tcp_rmem")[2] == s73.get("net.ipv4.tcp_rmem")[2] == 33554432
    assert s618.get("net.core.rmem_max") == s73.get("net.core.rmem_max") == 4194304
    # tcp_select_initial_window at defaults: 6.18 offers wscale 10, 6.12 offered 7
    p612, p618 = get_profile("6.12"), get_profile("6.18")
    space = p618.win_from_space(s618.get("net.ipv4.tcp_rmem")[1])
    assert space == 65536
    assert p618.initial_rcv_wscale(space, s618.get("net.ipv4.tcp_rmem")[2],
                                   s618.get("net.core.rmem_max")) == 10
    assert p612.initial_rcv_wscale(space, s612.get("net.ipv4.tcp_rmem")[2],
                                   s612.get("net.core.rmem_max")) == 7
    # defaults are not "changed"
    assert s612.changed() == {}


def test_sysctl_absent_in_old_kernel():
    s = Sysctls("6.12")
    with pytest.raises(SysctlError, match="does not exist in Linux 6.12.117"):
        s.set("net.ipv4.tcp_rto_max_ms", 1000)
    assert "net.ipv4.tcp_rto_max_ms" not in s.as_dict()
    assert Sysctls("6.18").get("net.ipv4.tcp_rto_max_ms") == 120000


def test_buffer_constants():
    p = get_profile()
    assert p.sk_buff_size == 224
    assert p.sock_min_rcvbuf == 2304          # 2048 + SKB_DATA_ALIGN(224)
    assert p.sock_min_sndbuf == 4608
    assert p.skb_truesize_overhead == 256 + 320
    assert p.skb_truesize(1448) == 1448 + 576
    assert p.tcp_rmem_to_win_scale == 8 and p.default_scaling_ratio == 128
    assert p.win_from_space(131072) == 65536
    assert p.space_from_win(65536) == 131072
    assert p.win_from_space(131072, scaling_ratio=200) == 102400


def test_timers_and_syncookies():
    p = get_profile()
    assert p.tcp_timeout_init_ns == 1 * S
    assert p.tcp_timewait_len_ns == 60 * S
    assert p.synack_schedule_ns(5) == ((1 * S, 3 * S, 7 * S, 15 * S, 31 * S), 63 * S)
    assert p.synack_schedule_ns(0) == ((), 1 * S)
    # capped at the maximum RTO (120 s)
    offs, drop = p.synack_schedule_ns(9)
    assert offs[-1] - offs[-2] == 120 * S and drop - offs[-1] == 120 * S
    assert p.max_syncookie_age == 2 and p.syncookie_period_ns == 60 * S
    assert p.syncookie_mss_v4 == (536, 1300, 1440, 1460)
    assert p.syncookie_mss(1460) == 1460
    assert p.syncookie_mss(1448) == 1440
    assert p.syncookie_mss(1000) == 536
    assert p.syncookie_mss(100) == 536
    assert p.syncookie_mss(9000, ipv6=True) == 8940


def test_to_dict_is_json_ready():
    import json
    for p in PROFILES.values():
        d = p.to_dict()
        json.dumps(d)
        assert d["name"] == p.name and d["sock_min_rcvbuf"] == 2304


def test_kernelprofile_fields_have_citations():
    # every behaviour field is commented with its kernel source in profile.py
    import inspect
    import pystack.profile as mod
    src = inspect.getsource(mod.KernelProfile)
    for f in ("accept_queue_full_op", "syn_queue_full_op", "tcp_can_ingest", "tcp_sequence",
              "paws_timewait_counter", "ehash_fn", "conntrack_max_zero_is_unlimited",
              "sk_buff_size", "tcp_timeout_init_ns", "tcp_timewait_len_ns",
              "max_syncookie_age", "syncookie_mss_v4", "tcp_rmem_to_win_scale",
              "default_scaling_ratio"):
        i = src.index(f"    {f}:")
        before = src[:i].rstrip().splitlines()[-1]
        assert before.strip().startswith("#"), f
    assert isinstance(get_profile(), KernelProfile)
