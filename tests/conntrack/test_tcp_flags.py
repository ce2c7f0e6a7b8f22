"""tcp_error's flag check and get_conntrack_index (nf_conntrack_proto_tcp.c),
as the tracker's one lookup table does them, for every flags byte."""

from pystack._core.conntrack import py_tcp_flag_index

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 1, 2, 4, 8, 16, 32, 64, 128
SYN_SET, SYNACK_SET, FIN_SET, ACK_SET, RST_SET, NONE_SET = range(6)

# tcp_valid_flags[]
VALID = {SYN, SYN | URG, SYN | ACK, RST, RST | ACK, FIN | ACK, FIN | ACK | URG, ACK, ACK | URG}


def kernel(flags):
    f = flags & ~(ECE | CWR | PSH)
    if f not in VALID:
        return None
    if f & RST:
        return RST_SET
    if f & SYN:
        return SYNACK_SET if f & ACK else SYN_SET
    if f & FIN:
        return FIN_SET
    if f & ACK:
        return ACK_SET
    return NONE_SET


def test_every_flags_byte():
    assert [py_tcp_flag_index(f) for f in range(256)] == [kernel(f) for f in range(256)]


def test_some_classes():
    assert py_tcp_flag_index(ACK | PSH | ECE) == ACK_SET
    assert py_tcp_flag_index(SYN | ACK | ECE | CWR) == SYNACK_SET
    assert py_tcp_flag_index(SYN | FIN) is None and py_tcp_flag_index(0) is None
