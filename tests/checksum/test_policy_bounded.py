"""The auto policy's memory is bounded by the senders of bad checksums."""
import numpy as np

from pystack import checksums
from pystack._core.capture import RecordBatch
from pystack._core.parse import PacketColumns, parse_batch
from tests.pktbuild import tcp4

SYN = 0x02


def _batch(pkts):
    rb = RecordBatch.from_packets(pkts)
    cols = PacketColumns(len(pkts))
    parse_batch(rb, cols, verify_checksums=True)
    return rb, cols


def test_many_good_sources_are_not_tracked():
    pol = checksums.ChecksumPolicy("auto")
    rb, cols = _batch([tcp4(f"198.19.{i >> 8}.{i & 255}", "198.18.0.1", 40000, 80, SYN)
                       for i in range(5000)])
    pol.process(rb, cols)
    assert pol.report()["sources_tracked"] == 0
    assert pol.errors == 0


def test_candidate_cap_is_reported():
    pol = checksums.ChecksumPolicy("auto")
    pol.max_tracked = 10
    rb, cols = _batch([tcp4(f"198.19.0.{i}", "198.18.0.1", 40000, 80, SYN, bad_csum=True)
                       for i in range(1, 31)])
    pol.process(rb, cols)
    rep = pol.report()
    assert rep["sources_tracked"] == 10
    assert rep["tracking_capped"] is True
    assert pol.errors == 30           # untracked senders' bad sums still count
