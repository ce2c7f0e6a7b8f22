"""Reading a large capture keeps the process's mapped file pages bounded."""
import struct
import sys

import numpy as np
import pytest

from pystack import capture
from pystack.capture import open_capture


def _rss_file_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssFile:"):
                return int(line.split()[1])
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("step, bounded", [(8 << 20, True), (1 << 40, False)])
def test_consumed_mmap_pages_are_released(tmp_path, monkeypatch, step, bounded):
    # (1 << 40: never released -- shows the measurement sees the mapping grow)
    monkeypatch.setattr(capture, "RELEASE_STEP", step)
    rec = struct.pack("<IIII", 1, 0, 1500, 1500) + bytes(1500)
    n = 100_000                                        # ~150 MB
    path = tmp_path / "big.pcap"
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        f.write(np.frombuffer(rec, np.uint8).reshape(1, -1).repeat(n, 0).tobytes())
    base = _rss_file_kb()
    peak = 0
    seen = 0
    with open_capture(path, batch_size=8192) as cap:
        for rb in cap:
            lo, hi = rb.offset_arr[0], rb.offset_arr[rb.n - 1] + 1500
            np.frombuffer(rb.buffer, np.uint8)[lo:hi:4096].sum()   # touch every page, as a parser does
            seen += rb.n
            peak = max(peak, _rss_file_kb() - base)
    assert seen == n
    if bounded:
        assert peak < 64 * 1024, f"{peak} KiB of the file stayed mapped"
    else:
        assert peak > 100 * 1024
