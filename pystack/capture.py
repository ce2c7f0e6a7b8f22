"""Reading pcap / pcapng captures (plain, gzip, pipes) as RecordBatches.

    with open_capture(["a.pcap", "b.pcapng.gz"]) as cap:
        for rb in cap:          # pystack._core.capture.RecordBatch
            process(rb)         # rb is valid only until the next one is requested

Python here runs per batch, per file header and per pcapng SHB/IDB; the
per-record work is the nogil walkers and merger in pyx/capture.pyx.

Decisions on hostile or odd input (libpcap is the reference):

* caplen limit per pcap record: max(262144, min(snaplen, 16 MiB)).  libpcap
  rejects caplen > max(snaplen, MAXIMUM_SNAPLEN); we also cap a huge header
  snaplen at 16 MiB so one record can never make the buffer unbounded.
  pcapng blocks are limited to 16 MiB (libpcap's initial block-size limit).
* caplen > wirelen: not an error (libpcap passes it through); wirelen is
  raised to caplen and one warning per file counts the records.
* A file ending inside a record or block is a warning (the record is
  dropped, everything before it kept), not an error: that is what a capture
  cut short by a killed tcpdump looks like.
* Anything else structurally impossible raises CaptureError naming the byte
  offset (in the decompressed file) of the offending record/block header;
  records before it have already been yielded.
* Link types are the low 16 bits of the link-type field (the upper bits carry
  FCS information); 12 and 14 (DLT_RAW of some platforms, written by some
  tools) are reported as 101 (LINKTYPE_RAW), as Wireshark does.
* Warnings (truncation, caplen > wirelen, gzip trailing data) are strings
  naming the file and byte offset, appended to `Capture.warnings` and logged
  on the "pystack.capture" logger; they never stop the read.
* Global interface numbering: the IDBs found while opening (the leading IDBs
  of each file's first section, files in order) come first; IDBs found later
  while reading are numbered in the order they are reached.  A single file's
  numbering is therefore always (section, IDB) order.
"""

from __future__ import annotations

import logging
import mmap
import os
import stat
import struct
import sys
import zlib

import numpy as np

from pystack._core import capture as _c
from pystack._core.capture import RecordBatch

__all__ = ["CaptureError", "Capture", "open_capture", "LINKTYPE_NAMES", "RecordBatch"]

log = logging.getLogger("pystack.capture")

LINKTYPE_NAMES = {
    0: "NULL", 1: "EN10MB", 3: "AX25", 6: "IEEE802_5", 7: "ARCNET_BSD", 8: "SLIP",
    9: "PPP", 10: "FDDI", 12: "RAW", 14: "RAW", 50: "PPP_HDLC", 51: "PPP_ETHER",
    100: "ATM_RFC1483", 101: "RAW", 104: "C_HDLC", 105: "IEEE802_11",
    107: "FRELAY", 108: "LOOP", 113: "LINUX_SLL", 114: "LTALK", 117: "PFLOG",
    119: "IEEE802_11_PRISM", 122: "IP_OVER_FC", 123: "SUNATM",
    127: "IEEE802_11_RADIOTAP", 129: "ARCNET_LINUX", 138: "APPLE_IP_OVER_IEEE1394",
    139: "MTP2_WITH_PHDR", 140: "MTP2", 141: "MTP3", 142: "SCCP", 143: "DOCSIS",
    144: "LINUX_IRDA", 147: "USER0", 163: "IEEE802_11_AVS", 165: "BACNET_MS_TP",
    166: "PPP_PPPD", 169: "GPRS_LLC", 177: "LINUX_LAPD", 187: "BLUETOOTH_HCI_H4",
    189: "USB_LINUX", 192: "PPI", 195: "IEEE802_15_4_WITHFCS", 196: "SITA",
    197: "ERF", 201: "BLUETOOTH_HCI_H4_WITH_PHDR", 202: "AX25_KISS", 203: "LAPD",
    204: "PPP_WITH_DIR", 205: "C_HDLC_WITH_DIR", 206: "FRELAY_WITH_DIR",
    209: "IPMB_LINUX", 215: "IEEE802_15_4_NONASK_PHY", 220: "USB_LINUX_MMAPPED",
    224: "FC_2", 225: "FC_2_WITH_FRAME_DELIMS", 226: "IPNET", 227: "CAN_SOCKETCAN",
    228: "IPV4", 229: "IPV6", 230: "IEEE802_15_4_NOFCS", 231: "DBUS",
    235: "DVB_CI", 236: "MUX27010", 237: "STANAG_5066_D_PDU", 239: "NFLOG",
    240: "NETANALYZER", 241: "NETANALYZER_TRANSPARENT", 242: "IPOIB",
    243: "MPEG_2_TS", 244: "NG40", 245: "NFC_LLCP", 247: "INFINIBAND",
    248: "SCTP", 249: "USBPCAP", 250: "RTAC_SERIAL", 251: "BLUETOOTH_LE_LL",
    252: "WIRESHARK_UPPER_PDU", 253: "NETLINK", 254: "BLUETOOTH_LINUX_MONITOR",
    255: "BLUETOOTH_BREDR_BB", 256: "BLUETOOTH_LE_LL_WITH_PHDR", 257: "PROFIBUS_DL",
    258: "PKTAP", 259: "EPON", 260: "IPMI_HPM_2", 261: "ZWAVE_R1_R2", 262: "ZWAVE_R3",
    263: "WATTSTOPPER_DLM", 264: "ISO_14443", 265: "RDS", 266: "USB_DARWIN",
    268: "SDLC", 270: "LORATAP", 271: "VSOCK", 272: "NORDIC_BLE",
    273: "DOCSIS31_XRA31", 274: "ETHERNET_MPACKET", 275: "DISPLAYPORT_AUX",
    276: "LINUX_SLL2", 278: "OPENVIZSLA", 279: "EBHSCR", 280: "VPP_DISPATCH",
    281: "DSA_TAG_BRCM", 282: "DSA_TAG_BRCM_PREPEND", 283: "IEEE802_15_4_TAP",
    284: "DSA_TAG_DSA", 285: "DSA_TAG_EDSA", 286: "ELEE", 287: "Z_WAVE_SERIAL",
    288: "USB_2_0", 289: "ATSC_ALP", 290: "ETW", 292: "ZBOSS_NCP", 293: "USB_2_0_LOW_SPEED",
    294: "USB_2_0_FULL_SPEED", 295: "USB_2_0_HIGH_SPEED", 296: "AUERSWALD_LOG",
    297: "ZWAVE_TAP", 298: "SILABS_DEBUG_CHANNEL", 299: "FIRA_UCI", 300: "MDB",
    301: "DECT_NR",
}

LINKTYPE_RAW = 101
MAXIMUM_SNAPLEN = _c.MAXIMUM_SNAPLEN     # 262144, libpcap's
#: Rows per batch for the parse + model pipeline.  Parsed columns take ~190
#: bytes a row: 8 Ki rows (1.5 MB) stay in L2 where 64 Ki rows (12 MB) do
#: not; measured with bench/: synflood read+parse+checksum 24-25 M pkts/s at
#: 8192 against 18-19 M at 65536.  open_capture() itself keeps 64 Ki.
PIPELINE_BATCH = 8192
RELEASE_STEP = 64 << 20   # consumed mmap bytes released from the process at a time
MAX_RECORD = _c.MAX_RECORD               # 16 MiB: hard cap on one record/block
MAX_INTERFACES = 1 << 16                 # per Capture: bounds metadata on hostile input
MAX_FILES = 1 << 16                      # the src column is uint16

STREAM_BUFFER = 16 << 20                 # rolling window for gzip / pipes
MIN_READ = 1 << 20
GZIP_INPUT = 1 << 18                     # compressed bytes handed to zlib per call
MERGE_BUFFER = 32 << 20                  # output bytes of one merged batch

_PCAP_MAGICS = {
    # first 4 bytes as read -> (byte order, nanosecond)
    b"\xd4\xc3\xb2\xa1": ("little", False),
    b"\xa1\xb2\xc3\xd4": ("big", False),
    b"\x4d\x3c\xb2\xa1": ("little", True),
    b"\xa1\xb2\x3c\x4d": ("big", True),
}
_MODIFIED_PCAP = (b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34")
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
_GZIP_MAGIC = b"\x1f\x8b"
_BT_SHB = 0x0A0D0D0A
_BT_IDB = 1


def _blocklen_msg(what, blen, minlen):
    return (f"{what} claims total length {blen} "
            f"(must be >= {minlen}, a multiple of 4, at most {MAX_RECORD})")


def _trailer_msg(btype, blen, trail):
    return f"block of type 0x{btype:08x}: total length {blen} does not match its trailing length {trail}"


class CaptureError(Exception):
    """The capture cannot be read past `offset` (bytes into the decompressed file)."""

    def __init__(self, path, offset, reason):
        self.path = str(path)
        self.offset = int(offset)
        self.reason = reason
        super().__init__(f"{self.path}: byte {self.offset}: {reason}")


def normalize_linktype(field):
    """LINKTYPE from a pcap/pcapng link-type field (FCS bits masked, DLT_RAW mapped)."""
    lt = field & 0xFFFF
    return LINKTYPE_RAW if lt in (12, 14) else lt


def _tsresol_name(v):
    if v & 0x80:
        return f"2^-{v & 0x7F}"
    return {0: "s", 3: "ms", 6: "us", 9: "ns"}.get(v, f"10^-{v}")


def _ts_conversion(tsresol, tsoffset):
    """(mode, shift, factor, off_ns) for Walker.add_iface."""
    off_ns = (tsoffset * 1_000_000_000) & 0xFFFFFFFFFFFFFFFF
    if off_ns >= 1 << 63:
        off_ns -= 1 << 64
    if tsresol & 0x80:
        return 2, tsresol & 0x7F, 0, off_ns
    if tsresol <= 9:
        return 0, 0, 10 ** (9 - tsresol), off_ns
    if tsresol - 9 <= 19:
        return 1, 0, 10 ** (tsresol - 9), off_ns
    return 3, 0, 0, off_ns


# ---------------------------------------------------------------------------
# Byte sources for the streaming path
# ---------------------------------------------------------------------------

class _RawReader:
    """Uncompressed non-seekable input (pipe, stdin); `head` was read to sniff."""

    def __init__(self, f, head):
        self.f = f
        self.head = head
        self._read = getattr(f, "readinto1", None) or f.readinto
        self.consumed = len(head)

    def readinto(self, mv):
        if self.head:
            k = min(len(self.head), len(mv))
            mv[:k] = self.head[:k]
            self.head = self.head[k:]
            return k
        k = self._read(mv) or 0
        self.consumed += k
        return k


class _GzipReader:
    """zlib decompression into the caller's buffer, bounded output per call.

    Handles concatenated members; a stream cut short sets `truncated`,
    trailing non-gzip bytes set `garbage_at` (compressed offset).  zlib.error
    propagates (corrupt data).
    """

    def __init__(self, f, head=b""):
        self.f = f
        self.tail = head                 # compressed bytes not yet given to zlib
        self.consumed = len(head)        # compressed bytes read from f
        self.fed = 0                     # compressed bytes given to zlib (for garbage_at)
        self.d = zlib.decompressobj(31)
        self.in_member = False
        self.flush = False               # zlib may hold output after a full read
        self.done = False
        self.truncated = False
        self.garbage_at = -1
        self.error = None

    @staticmethod
    def _salvage(d, data, want):
        out, total, i, step = [], 0, 0, 256
        while i < len(data) and total < want and not d.eof:
            saved = d.copy()
            try:
                o = d.decompress(data[i:i + step])
            except zlib.error:
                if step == 1:
                    break
                d, step = saved, 1       # the bad piece again, byte by byte
                continue
            out.append(o)
            total += len(o)
            i += step
        return b"".join(out)[:want]

    def _more_input(self):
        data = self.f.read(GZIP_INPUT)
        self.consumed += len(data)
        return data

    def readinto(self, mv):
        if self.error is not None:
            e, self.error = self.error, None
            raise e
        want = len(mv)
        while not self.done:
            data = self.tail
            self.tail = b""
            if not data and not self.flush:
                data = self._more_input()
                if not data:
                    self.truncated = self.in_member
                    self.done = True
                    break
            if not self.in_member:
                if len(data) < 2:
                    more = self._more_input()
                    data += more
                if data[:2] != _GZIP_MAGIC:
                    if data.strip(b"\0") or self._nonzero_rest():
                        self.garbage_at = self.fed
                    self.done = True
                    break
                self.in_member = True
            before = len(data)
            saved = self.d.copy()
            try:
                out = self.d.decompress(data, want)
            except zlib.error as e:
                # zlib discards the whole call's output; replay it in small
                # pieces so every byte before the corruption is delivered.
                out = self._salvage(saved, data, want)
                self.error = e
                self.done = True
                if out:
                    mv[: len(out)] = out
                    return len(out)
                raise
            self.tail = self.d.unconsumed_tail
            self.fed += before - len(self.tail)
            self.flush = len(out) == want
            if self.d.eof:
                rest = self.d.unused_data
                self.fed -= len(rest)
                self.tail = rest + self.tail
                self.d = zlib.decompressobj(31)
                self.in_member = False
                self.flush = False
            if out:
                mv[: len(out)] = out
                return len(out)
        return 0

    def _nonzero_rest(self):
        # gzip(1) accepts zero padding after the last member; so do we.
        while True:
            data = self._more_input()
            if not data:
                return False
            if data.strip(b"\0"):
                return True


class _Stream:
    """Rolling window over a byte source: buf[0:length] is file bytes
    [base_off, base_off + length)."""

    def __init__(self, reader):
        self.reader = reader
        self.buf = np.empty(STREAM_BUFFER, np.uint8)
        self.length = 0
        self.base_off = 0
        self.eof = False

    def read_some(self):
        mv = memoryview(self.buf)[self.length:]
        k = self.reader.readinto(mv) if len(mv) else 0
        if k == 0:
            self.eof = True
        self.length += k
        return k


# ---------------------------------------------------------------------------
# One input file
# ---------------------------------------------------------------------------

class _Source:
    """One input: its bytes, its Walker, its (reused) RecordBatch."""

    def __init__(self, cap, index, path, batch_size):
        self.cap = cap
        self.index = index
        self.path = path
        self.name = os.fsdecode(path) if not isinstance(path, int) else str(path)
        self.batch_size = batch_size
        self.walker = _c.Walker()
        self.rb = RecordBatch(batch_size)
        self.file = None
        self.mm = None
        self.stream = None
        self.done = False
        self.pending = None           # CaptureError raised after the rows before it
        self.section = -1
        self.order = None             # byte order of the current pcapng section
        self.local_ifaces = []        # global ids of the current section's IDBs
        self.info = {
            "path": self.name, "format": None, "compressed": False, "size": None,
            "records": 0, "bytes": 0, "sections": 0, "byte_order": None,
            "ts_precision": None,
        }
        try:
            try:
                self._open()
            except OSError as e:
                raise CaptureError(self.name, 0, f"read error: {e.strerror or e}") from e
            self._read_file_header()
        except BaseException:
            self.close()
            raise

    # -- bytes -------------------------------------------------------------

    def _open(self):
        info = self.info
        if self.name == "-":
            f = sys.stdin.buffer
            self.file = None          # never close stdin
            self._open_stream(f)
            return
        try:
            f = open(self.path, "rb")
        except OSError as e:
            raise CaptureError(self.name, 0, f"cannot open: {e.strerror or e}") from e
        self.file = f
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            self._open_stream(f)
            return
        info["size"] = st.st_size
        head = f.read(2)
        if head == _GZIP_MAGIC:
            f.seek(0)
            self._start_stream(_GzipReader(f))
            info["compressed"] = True
            return
        if st.st_size == 0:
            self._set_buffer(None, 0, 0)
            return
        try:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            f.seek(0)
            self._start_stream(_RawReader(f, b""))
            return
        if hasattr(mm, "madvise") and hasattr(mmap, "MADV_SEQUENTIAL"):
            try:
                mm.madvise(mmap.MADV_SEQUENTIAL)
            except OSError:
                pass
        self.mm = mm
        self._released = 0
        self._set_buffer(mm, len(mm), 0)

    def _open_stream(self, f):
        head = b""
        while len(head) < 2:
            chunk = f.read1(65536) if hasattr(f, "read1") else f.read(65536)
            if not chunk:
                break
            head += chunk
        if head[:2] == _GZIP_MAGIC:
            self.info["compressed"] = True
            self._start_stream(_GzipReader(f, head))
        else:
            self._start_stream(_RawReader(f, head))

    def _start_stream(self, reader):
        self.stream = _Stream(reader)
        self._set_buffer(self.stream.buf, 0, 0)

    def _set_buffer(self, buf, length, base_off):
        self.walker.set_buffer(buf, length, base_off)
        self.buf = buf

    def _avail(self):
        return self.walker.length - self.walker.pos

    def _file_pos(self):
        return self.walker.buf_fileoff + self.walker.pos

    def _bytes(self, start, n):
        """Copy of n buffered bytes at buffer position start."""
        if isinstance(self.buf, np.ndarray):
            return self.buf[start:start + n].tobytes()
        return self.buf[start:start + n]

    def _ensure(self, need, rows_pending=False):
        """Make `need` bytes available at pos.  Returns True, False at end of
        input, or None when the window must move but rows of the current
        batch still point into it (the caller yields first)."""
        w = self.walker
        if w.length - w.pos >= need:
            return True
        s = self.stream
        if s is None or s.eof:
            return False
        while True:
            avail = s.length - w.pos
            if avail >= need:
                return True
            if s.eof:
                return False
            free = len(s.buf) - s.length
            if not (free >= need - avail and (free >= MIN_READ or rows_pending)):
                if rows_pending:
                    return None
                self._compact(need)
            try:
                s.read_some()
            except zlib.error as e:
                raise CaptureError(self.name, s.base_off + s.length,
                                   f"corrupt gzip data ({e})") from None
            except OSError as e:
                raise CaptureError(self.name, s.base_off + s.length,
                                   f"read error: {e.strerror or e}") from None
            w.set_buffer(s.buf, s.length, s.base_off)

    def _compact(self, need):
        s, w = self.stream, self.walker
        keep = s.length - w.pos
        size = len(s.buf)
        if need + MIN_READ > size:
            # One record larger than the window: grow (need <= MAX_RECORD + header).
            nb = np.empty(need + MIN_READ, np.uint8)
            nb[:keep] = s.buf[w.pos:s.length]
            s.buf = nb
            self.buf = nb
        elif keep:
            s.buf[:keep] = s.buf[w.pos:s.length]
        s.base_off += w.pos
        s.length = keep
        w.pos = 0
        w.set_buffer(s.buf, s.length, s.base_off)

    def _stream_warnings(self):
        s = self.stream
        if s is None or not isinstance(s.reader, _GzipReader):
            return
        r = s.reader
        if r.truncated:
            self.cap._warn(f"{self.name}: byte {s.base_off + s.length}: "
                           "compressed stream ends early (truncated gzip file)")
        if r.garbage_at >= 0:
            self.cap._warn(f"{self.name}: trailing data after the gzip stream "
                           f"(compressed byte {r.garbage_at}) ignored")

    # -- headers -----------------------------------------------------------

    def _read_file_header(self):
        if not self._ensure(4):
            raise CaptureError(self.name, 0,
                               f"short file header ({self._avail()} bytes): not a capture")
        magic = self._bytes(0, 4)
        if magic in _PCAP_MAGICS:
            self._pcap_header(*_PCAP_MAGICS[magic])
        elif magic == _PCAPNG_SHB:
            self.info["format"] = "pcapng"
            # The leading SHB and IDBs, so that every file's first interfaces
            # get global numbers in file order.
            while self._ensure(8):
                e = ">" if self.order == "big" else "<"
                (bt,) = struct.unpack_from(e + "I", self._bytes(self.walker.pos, 4))
                if bt == _BT_SHB or (bt == _BT_IDB and self.section >= 0):
                    if self._header_block() is not True:
                        break
                else:
                    break
            if self.section < 0:
                raise CaptureError(self.name, 0, "short file header: incomplete section header block")
        elif magic in _MODIFIED_PCAP:
            raise CaptureError(self.name, 0, "unsupported format: Kuznetzov modified pcap")
        elif magic[:2] == _GZIP_MAGIC:
            raise CaptureError(self.name, 0, "gzip inside gzip is not supported")
        else:
            raise CaptureError(self.name, 0,
                               f"bad magic 0x{magic.hex()}: not a pcap or pcapng file")

    def _pcap_header(self, order, nano):
        if not self._ensure(24):
            raise CaptureError(self.name, 0,
                               f"short file header ({self._avail()} of 24 bytes)")
        e = "<" if order == "little" else ">"
        _maj, _min, _zone, _sig, snaplen, ltfield = struct.unpack(e + "HHiIII", self._bytes(4, 20))
        limit = max(MAXIMUM_SNAPLEN, min(snaplen, MAX_RECORD))
        lt = normalize_linktype(ltfield)
        gid = self.cap._new_interface({
            "name": None, "linktype": lt, "linktype_name": LINKTYPE_NAMES.get(lt, f"LINKTYPE_{lt}"),
            "tsresol": 9 if nano else 6, "tsoffset": 0, "snaplen": snaplen,
            "file": self.index, "section": 0,
        }, self.name, 0)
        self.walker.setup_pcap(order != sys.byteorder, nano, lt, gid, limit)
        self.walker.pos = 24
        self.section = 0
        self.info.update(format="pcap", sections=1, byte_order=order,
                         ts_precision="ns" if nano else "us")

    def _checked_block(self, head, e, off, btype, what, minlen):
        """Validate a pcapng block's lengths and load it whole.

        Returns (pos, total length, bytes), or what _ensure returned when
        the block is not all there yet.
        """
        (blen,) = struct.unpack_from(e + "I", head, 4)
        if blen < minlen or blen % 4 or blen > MAX_RECORD:
            raise CaptureError(self.name, off, _blocklen_msg(what, blen, minlen))
        r = self._ensure(blen, self.rb.n > 0)
        if r is not True:
            return r
        pos = self.walker.pos
        body = self._bytes(pos, blen)
        (trail,) = struct.unpack_from(e + "I", body, blen - 4)
        if trail != blen:
            raise CaptureError(self.name, off, _trailer_msg(btype, blen, trail))
        return pos, blen, body

    def _header_block(self):
        """Parse the SHB/IDB at pos.  True when done; otherwise what _ensure
        returned (False: input ends inside it; None: yield first)."""
        w = self.walker
        pos = w.pos
        off = self._file_pos()
        r = self._ensure(12, self.rb.n > 0)
        if r is not True:
            return r
        pos = w.pos
        head = self._bytes(pos, 12)
        if head[:4] == _PCAPNG_SHB:
            bom = head[8:12]
            if bom == b"\x1a\x2b\x3c\x4d":
                order = "big"
            elif bom == b"\x4d\x3c\x2b\x1a":
                order = "little"
            else:
                raise CaptureError(self.name, off,
                                   f"section header block has bad byte-order magic 0x{bom.hex()}")
            e = "<" if order == "little" else ">"
            r = self._checked_block(head, e, off, 0x0A0D0D0A, "section header block", 28)
            if not isinstance(r, tuple):
                return r
            pos, blen, body = r
            major, minor = struct.unpack_from(e + "HH", body, 12)
            if major != 1:
                raise CaptureError(self.name, off,
                                   f"unsupported pcapng version {major}.{minor}")
            self.section += 1
            self.order = order
            self.local_ifaces = []
            w.new_section(order != sys.byteorder)
            w.pos = pos + blen
            i = self.info
            i["sections"] = self.section + 1
            if i["byte_order"] is None:
                i["byte_order"] = order
            elif i["byte_order"] != order:
                i["byte_order"] = "mixed"
            return True
        # IDB.  Checked here as well as in the walker: while opening, IDBs
        # are parsed before the walker has seen them.
        e = "<" if self.order == "little" else ">"
        r = self._checked_block(head, e, off, 0x00000001, "block of type 0x00000001", 12)
        if not isinstance(r, tuple):
            return r
        pos, blen, body = r
        if blen < 20:
            raise CaptureError(self.name, off,
                               f"interface description block too short ({blen} bytes)")
        ltfield, _res, snaplen = struct.unpack_from(e + "HHI", body, 8)
        name, tsresol, tsoffset = None, 6, 0
        o, end = 16, blen - 4
        while o + 4 <= end:
            code, olen = struct.unpack_from(e + "HH", body, o)
            if code == 0:
                break
            if o + 4 + olen > end:
                raise CaptureError(self.name, off + o,
                                   f"interface description block option {code} claims "
                                   f"{olen} bytes, block holds {end - o - 4}")
            val = body[o + 4:o + 4 + olen]
            if code == 2:
                name = val.rstrip(b"\0").decode("utf-8", "replace")
            elif code == 9 and olen >= 1:
                tsresol = val[0]
            elif code == 14 and olen >= 8:
                (tsoffset,) = struct.unpack_from(e + "q", val)
            o += 4 + ((olen + 3) & ~3)
        lt = normalize_linktype(ltfield)
        gid = self.cap._new_interface({
            "name": name, "linktype": lt, "linktype_name": LINKTYPE_NAMES.get(lt, f"LINKTYPE_{lt}"),
            "tsresol": tsresol, "tsoffset": tsoffset, "snaplen": snaplen,
            "file": self.index, "section": self.section,
        }, self.name, off)
        mode, shift, factor, off_ns = _ts_conversion(tsresol, tsoffset)
        w.add_iface(gid, lt, snaplen, mode, shift, factor, off_ns)
        self.local_ifaces.append(gid)
        w.pos = pos + blen
        prec = _tsresol_name(tsresol)
        i = self.info
        if i["ts_precision"] is None:
            i["ts_precision"] = prec
        elif i["ts_precision"] != prec:
            i["ts_precision"] = "mixed"
        return True

    # -- records -----------------------------------------------------------

    def _error(self):
        w = self.walker
        off = self._file_pos()
        c, v, lim, bt = w.err_code, w.err_value, w.err_limit, w.err_type
        if c == _c.ERR_CAPLEN:
            msg = f"record claims {v} captured bytes (limit {lim})"
        elif c == _c.ERR_BLOCKLEN:
            msg = _blocklen_msg(f"block of type 0x{bt:08x}", v, 12)
        elif c == _c.ERR_TRAILER:
            msg = _trailer_msg(bt, lim, v)
        elif c == _c.ERR_SHORT:
            msg = f"block of type 0x{bt:08x} too short for its type ({v} bytes)"
        elif c == _c.ERR_IFACE:
            msg = (f"packet block (type {bt}) refers to interface {v}, but the section "
                   f"defines {lim} interface{'s' if lim != 1 else ''}")
        elif c == _c.ERR_PKTLEN:
            msg = (f"packet block (type {bt}) claims {v} captured bytes, "
                   f"but the block holds {lim}")
        else:
            msg = f"corrupt input (code {c})"
        return CaptureError(self.name, off, msg)

    def _finish(self, truncated_need=None):
        """End of input: warn about a partial last record and odd records."""
        w = self.walker
        self.done = True
        avail = self._avail()
        if avail > 0:
            what = "block" if w.pcapng else "record"
            need = truncated_need
            if need is not None and need > avail:
                detail = f"{avail} of {need} bytes present"
            else:
                detail = f"{avail} bytes present"
            self.cap._warn(f"{self.name}: byte {self._file_pos()}: file ends inside a "
                           f"{what} ({detail}); {what} ignored")
        self._stream_warnings()
        if w.wirefix:
            self.cap._warn(f"{self.name}: byte {w.wirefix_off}: {w.wirefix} record"
                           f"{'s' if w.wirefix != 1 else ''} with caplen > wirelen; "
                           "wirelen raised to caplen")
        if self.stream is not None and self.info["size"] is None:
            self.info["size"] = self.stream.reader.consumed

    def _update_info(self):
        self.info["records"] = self.walker.records
        self.info["bytes"] = self.walker.nbytes

    def next_batch(self, frame0=1):
        """The next batch of this file (frame numbers from frame0), or None
        at the end.  A CaptureError comes after the batch holding the
        records before the bad one."""
        if self.pending is not None:
            e, self.pending = self.pending, None
            self.done = True
            raise e
        if self.done:
            return None
        rb, w = self.rb, self.walker
        rb.clear()
        self._release_consumed()
        while True:
            if rb.n == 0:
                # the window may have moved or grown since the last fill
                rb._rebind(self.buf)
            try:
                st = w.fill(rb, self.batch_size, frame0, self.index)
                self._update_info()
                if st == _c.STATUS_FULL:
                    return rb
                if st == _c.STATUS_ERROR:
                    raise self._error()
                need = w.need
                if st == _c.STATUS_BLOCK:
                    r = self._header_block()
                    if r is True:
                        continue
                    need = None
                else:
                    r = self._ensure(need, rb.n > 0)
                if r is None:           # window must move: deliver rows first
                    return rb
                if r is False:
                    self._finish(need)
                    return rb if rb.n else None
            except CaptureError as e:
                self._update_info()
                self._stream_warnings()
                if rb.n:
                    self.pending = e
                    return rb
                self.done = True
                raise

    def _release_consumed(self):
        """Unmap the pages of the mmap that earlier batches used.

        The previous batch is invalid once the next one is asked for, so
        its pages can go: MADV_DONTNEED on a read-only file mapping only
        drops them from this process (the page cache keeps them), which
        keeps the resident size bounded however large the capture is.
        Done in steps of RELEASE_STEP bytes to keep syscalls rare.
        """
        mm = getattr(self, "mm", None)
        if mm is None or not hasattr(mmap, "MADV_DONTNEED"):
            return
        upto = (self.walker.pos // mmap.PAGESIZE) * mmap.PAGESIZE
        if upto - self._released >= RELEASE_STEP:
            try:
                mm.madvise(mmap.MADV_DONTNEED, self._released, upto - self._released)
            except (OSError, ValueError):
                return
            self._released = upto

    def close(self):
        self.rb.release()
        self.walker.set_buffer(None, 0, 0)
        self.buf = None
        if self.stream is not None:
            self.stream.buf = None
        if self.mm is not None:
            try:
                self.mm.close()
            except BufferError:
                pass                      # someone holds a view; GC unmaps later
            self.mm = None
        if self.file is not None:
            self.file.close()
            self.file = None


# ---------------------------------------------------------------------------
# The public object
# ---------------------------------------------------------------------------

class Capture:
    """Records of one or more capture files, merged by timestamp.

    Iterating yields RecordBatch objects.  A batch (its columns and the bytes
    it indexes) is valid only until the next batch is requested: batches are
    preallocated and reused, and for a single file they point straight into
    the mmap / decompression window.  Copy what must outlive that.
    """

    def __init__(self, paths, batch_size=65536):
        if isinstance(paths, (str, bytes, os.PathLike)):
            paths = [paths]
        paths = list(paths)
        if not paths:
            raise ValueError("no capture files given")
        if len(paths) > MAX_FILES:
            raise ValueError(f"at most {MAX_FILES} capture files")
        if int(batch_size) < 1:
            raise ValueError("batch_size must be >= 1")
        self.batch_size = int(batch_size)
        self.files = []
        self.interfaces = []
        self.warnings = []
        self._sources = []
        self._iterated = False
        self._out = None
        try:
            for i, p in enumerate(paths):
                src = _Source(self, i, p, self.batch_size)
                self._sources.append(src)
                self.files.append(src.info)
        except BaseException:
            self.close()
            raise

    def _warn(self, msg):
        self.warnings.append(msg)
        log.warning("%s", msg)

    def _new_interface(self, meta, name, off):
        if len(self.interfaces) >= MAX_INTERFACES:
            raise CaptureError(name, off, f"more than {MAX_INTERFACES} interfaces")
        self.interfaces.append(meta)
        return len(self.interfaces) - 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        if self._iterated:
            raise RuntimeError("a Capture can be iterated once")
        self._iterated = True
        if len(self._sources) == 1:
            return self._single()
        return self._merged()

    def _single(self):
        src = self._sources[0]
        frame = 1
        while True:
            rb = src.next_batch(frame)
            if rb is None:
                return
            if rb.n:
                frame += rb.n
                yield rb

    def _merged(self):
        srcs = self._sources
        m = _c.Merger(len(srcs), MERGE_BUFFER)
        out = self._out = RecordBatch(self.batch_size)
        m.bind(out)
        for i, s in enumerate(srcs):
            rb = self._next_nonempty(s)
            if rb is not None:
                m.add_source(i, rb)
        while True:
            st = m.merge(out)
            if st == _c.STATUS_NEED:
                try:
                    rb = self._next_nonempty(srcs[m.need])
                except CaptureError:
                    if out.n:
                        yield out
                    raise
                if rb is None:
                    m.end_source()
                else:
                    m.refill(rb)
                continue
            if st == _c.STATUS_GROW:
                m.grow(out, m.grow_to + MIN_READ)
                continue
            if out.n:
                yield out
                out.clear()
            if st == _c.STATUS_DONE:
                return

    @staticmethod
    def _next_nonempty(src):
        while True:
            rb = src.next_batch()
            if rb is None or rb.n:
                return rb

    def close(self):
        for s in self._sources:
            s.close()
        if self._out is not None:
            self._out.release()


def open_capture(paths, batch_size=65536):
    """Open one capture file or several (merged by timestamp).

    `paths`: a path, '-' for stdin, or a list of them.  Raises CaptureError
    when a file cannot be opened or its header is not pcap/pcapng.
    """
    return Capture(paths, batch_size)
