"""Write a replay of dpkt-built frames into an output folder (API path)."""
from pystack._core.capture import RecordBatch
from pystack.replay import Replay
from pystack.results.writer import OutputFolder, ResultWriter
from tests.pktbuild import host, listener

MS = 1_000_000


def run_frames(out, pk, ts, batch=1000, fmt="arrow", seed=0, interval_ns=10 * MS, h=None):
    r = Replay(h or host([listener()]), checksum="verify", batch_size=batch, seed=seed)
    w = ResultWriter(OutputFolder(str(out), fmt=fmt), r, interval_ns)
    for a in range(0, len(pk), batch):
        rb = RecordBatch.from_packets(pk[a:a + batch], linktype=1, ts_ns=ts[a:a + batch])
        rb.frame_arr[:rb.n] += a
        r.step(rb, on_batch=w.on_batch, collect=False)
    return w.finish(r.finish(), {"test": True})


def write_pcap(path, pk, ts):
    import struct
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))
        for frame, t in zip(pk, ts):
            t += 1_700_000_000 * 10 ** 9
            f.write(struct.pack("<IIII", t // 10 ** 9, t % 10 ** 9, len(frame), len(frame)))
            f.write(frame)
    return path
