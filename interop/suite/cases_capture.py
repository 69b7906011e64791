"""Conformance cases: capture records (Section 15) of the serial and PCIe-shim bearers,
taken by the IUT (capability `capture`: `capture_start`/`capture_stop`) while the suite
is the peer on a pseudo-terminal (capability `serial`) and on a shim window (`pcie`)."""
import os
import struct
import tempfile
import time
import tty

from harness import case, check, Skip, Peer, wait_until
from scapy_msgr import serial as sfr
import shm
from shm import ShmHost, READY, RUNNING

LINKTYPE_USER0 = 147
BEARER_PCIE, BEARER_SERIAL = 2, 3
CF_TX, CF_FCS = 0x01, 0x02


def _pcap(path):
    """(linktype, [record bytes])"""
    d = open(path, "rb").read()
    check(len(d) >= 24, "capture file of %d octets" % len(d))
    magic = struct.unpack("<I", d[:4])[0]
    e = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    lt = struct.unpack(e + "I", d[20:24])[0]
    recs, o = [], 24
    while o + 16 <= len(d):
        incl = struct.unpack(e + "I", d[o + 8:o + 12])[0]
        recs.append(d[o + 16:o + 16 + incl])
        o += 16 + incl
    return lt, recs


def _caphdr(r):
    magic, ver, bearer, cflags, idx, res = struct.unpack("!BBBBHH", r[:8])
    return {"bearer": bearer, "cflags": cflags}


def _capture(ctx, bearer, fn):
    if "capture" not in ctx.caps:
        raise Skip("the IUT does not announce the `capture` capability")
    f = os.path.join(tempfile.mkdtemp(prefix="msgr-suite-cap-"), "cap.pcap")
    r = ctx.drv.cmd("capture_start", file=f, bearer=bearer)
    check(r.get("ok"), "capture_start: %s" % r)
    fn()
    r = ctx.drv.cmd("capture_stop")
    check(r.get("ok"), "capture_stop: %s" % r)
    ctx.cap_stop = r
    return _pcap(f)


class PtyBearer:
    """The suite on the master side of a pseudo-terminal; the IUT opens the slave."""
    name = "serial"

    def __init__(self):
        self.m, s = os.openpty()
        tty.setraw(self.m)
        self.slave = os.ttyname(s)
        self.s = s
        self.dfr = sfr.Deframer()
        self.q, self.log = [], []

    def iut_spec(self, extra=""):
        return "serial:path=%s,baud=115200%s" % (self.slave, extra)

    def send(self, frame, **kw):
        os.write(self.m, sfr.encode(bytes(frame)))

    def recv(self, timeout):
        import select
        end = time.monotonic() + timeout
        while not self.q:
            left = end - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.m], [], [], left)
            if r:
                self.dfr.feed(os.read(self.m, 65536))
                self.q += [bytes(f) for f in self.dfr.frames]
                self.dfr.frames = []
        d = self.q.pop(0)
        self.log.append((time.monotonic(), d))
        return d

    def close(self):
        os.close(self.m)
        os.close(self.s)


@case("capture_serial_and_pcie_records", ["MSG-CAP-5"], bearers=("udp",))
def t_capture(ctx):
    """Serial records: the frame unstuffed, without flags, then its CRC-32C, FCS set.
    PCIe records: the frame without the slot header, FCS clear."""
    ctx.start(tolerance=1000)
    if "serial" not in ctx.caps or "pcie" not in ctx.caps:
        raise Skip("the IUT does not announce the `serial` and `pcie` capabilities")
    pty = PtyBearer()
    h = ShmHost()
    ctx.extra = [pty, h]
    r = ctx.drv.cmd("add_bearer", spec=pty.iut_spec())
    check(r.get("ok"), "serial bearer: %s" % r)
    sb = r["bearer"]
    ps = Peer(pty, node_id=ctx.peer.node_id + 3, iut_id=ctx.iut_id, tolerance=1000)

    mine = bytes(ps.discover())

    def serial_traffic():
        ps.send(mine)
        check(ps.recv({0x01}, 1.5, pred=lambda p: int(p.payload.dflags) & 1) is not None,
              "no DISCOVER REPLY over the pty")
    lt, recs = _capture(ctx, sb, serial_traffic)
    check(lt == LINKTYPE_USER0, "serial capture linktype %d" % lt)
    sent = [d for _, d in pty.log]
    check(recs, "no serial capture record (%s)" % ctx.cap_stop)
    for rec in recs:
        h_ = _caphdr(rec)
        check(h_["bearer"] == BEARER_SERIAL, "serial record with bearer %d" % h_["bearer"])
        check(h_["cflags"] & CF_FCS, "serial record without FCS")
        body, crc = rec[8:-4], rec[-4:]
        check(struct.pack("<I", sfr.crc32c(body)) == crc or struct.pack(">I", sfr.crc32c(body)) == crc,
              "serial record not followed by the frame's CRC-32C")
        check(b"\x7e" not in body[:1] and body[1:2] and len(body) == struct.unpack("!H", body[2:4])[0],
              "serial record not the unstuffed frame (length field %d, record %d)" % (
                  struct.unpack("!H", body[2:4])[0], len(body)))
    check(any(rec[8:-4] in sent for rec in recs if _caphdr(rec)["cflags"] & CF_TX),
          "no transmit record is a frame the IUT put on the line: tx %s, line %s" % (
              [r_[:24].hex() for r_ in recs if _caphdr(r_)["cflags"] & CF_TX][:3],
              [d[:16].hex() for d in sent][:3]))
    check(any(rec[8:-4] == mine for rec in recs if not _caphdr(rec)["cflags"] & CF_TX),
          "no receive record is the frame we put on the line")
    # PCIe: the suite hosts a window
    r = ctx.drv.cmd("add_bearer", spec=h.iut_spec())
    check(r.get("ok"), "pcie bearer: %s" % r)
    pb = r["bearer"]
    check(h.accept(2.0), "the IOP did not connect")
    h.hello()
    check(h.wait_iop(READY, 1.0), "IOP not READY")
    h.run()
    check(h.wait_iop(RUNNING, 1.0), "IOP not RUNNING")
    pp = Peer(h, node_id=ctx.peer.node_id + 4, iut_id=ctx.iut_id, tolerance=1000)
    frame = bytes(pp.discover())

    def pcie_traffic():
        pp.send(frame)
        check(pp.recv({0x01}, 1.0) is not None, "no DISCOVER REPLY over the shim")
    lt, recs = _capture(ctx, pb, pcie_traffic)
    check(lt == LINKTYPE_USER0, "pcie capture linktype %d" % lt)
    rx = [r_ for r_ in recs if not _caphdr(r_)["cflags"] & CF_TX]
    check(rx, "no received-frame record on the PCIe capture")
    for rec in recs:
        h_ = _caphdr(rec)
        check(h_["bearer"] == BEARER_PCIE and not h_["cflags"] & CF_FCS,
              "pcie record bearer %d cflags %#x" % (h_["bearer"], h_["cflags"]))
    check(rx[0][8:] == frame, "pcie record %s is not the frame %s (no slot header)" % (
        rx[0][8:24].hex(), frame[:16].hex()))
