"""The suite as the HOST side of a PCIe shim window (RFC 14.4), written from the RFC: a
memfd window with the 14.4.1 layout, the emulation setup channel of 14.4.4 (a Unix
SOCK_SEQPACKET socket, a 16-octet hello carrying the memfd and two eventfds), the reset
handshake of 14.4.3, and the rings of 14.4.2.  The IUT is the IOP
(`pcie:name=...,role=iop,sock=PATH`).  Python has no atomics: the host writes each
32-bit word with one aligned store (x86), which is all a single-producer ring needs."""
import fcntl
import mmap
import os
import select
import socket
import struct
import time

DOWN, RESET, READY, RUNNING = 0, 1, 2, 3
CB = 4096
H2I, I2H = 0x100, 0x200          # ring control blocks
PROD, CONS, WAKE, SPACE = 0x00, 0x40, 0x80, 0xC0
_N = [0]


class ShmHost:
    name = "shm"

    def __init__(self, slots=16, slot_size=2048):
        _N[0] += 1
        self.slots, self.slot_size = slots, slot_size
        self.length = CB + 2 * slots * slot_size
        self.path = "/tmp/msgr-suite-shm-%d-%d.sock" % (os.getpid(), _N[0])
        self.ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.ls.bind(self.path)
        self.ls.listen(4)
        self.conn = None
        self.fd = None
        self.log = []
        self.gen = 0
        self.new_window()

    def iut_spec(self, extra=""):
        return "pcie:name=suite%d,role=iop,sock=%s%s" % (_N[0], self.path, extra)

    # -- the window
    def new_window(self, length=None):
        if self.fd is not None:
            self.m.close()
            os.close(self.fd)
        self.fd = os.memfd_create("msgr-suite-shm", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        os.ftruncate(self.fd, length or self.length)
        # 14.4.4: sealed against shrinking and growing
        fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
        self.m = mmap.mmap(self.fd, length or self.length)
        self.init_control()

    def init_control(self, **over):
        f = dict(magic=b"MSGRSHM1", version=1, cblen=CB, slot_size=self.slot_size,
                 slot_count=self.slots, off_h2i=CB, off_i2h=CB + self.slots * self.slot_size,
                 length=self.length)
        f.update(over)
        self.m[0:CB] = b"\0" * CB
        self.m[0:8] = f["magic"]
        struct.pack_into("<IIIIIII", self.m, 8, f["version"], f["cblen"], f["slot_size"],
                         f["slot_count"], f["off_h2i"], f["off_i2h"], f["length"])
        self.off_h2i, self.off_i2h = f["off_h2i"], f["off_i2h"]

    def u32(self, off):
        return struct.unpack_from("<I", self.m, off)[0]

    def set32(self, off, v):
        struct.pack_into("<I", self.m, off, v & 0xFFFFFFFF)

    def host_state(self, s):
        self.set32(0x40, s)

    def iop_state(self):
        return self.u32(0x80)

    def reset(self):
        """Row 1: host_state RESET, ring words zero, iop_state DOWN, generation + 1, READY."""
        self.host_state(RESET)
        for r in (H2I, I2H):
            for w in (PROD, CONS, WAKE, SPACE):
                self.set32(r + w, 0)
        self.set32(0x80, DOWN)
        self.gen += 1
        self.set32(0x44, self.gen)
        self.host_state(READY)
        self.h_prod = self.i_cons = 0

    # -- the setup channel
    def accept(self, timeout=2.0):
        self.ls.settimeout(timeout)
        try:
            c, _ = self.ls.accept()
        except socket.timeout:
            return False
        if self.conn:
            self.conn.close()
        self.conn = c
        return True

    def hello(self, magic=b"MSGRHELO", version=1, length=None, nfds=3):
        """Reset (row 1) and send the hello with fresh doorbells."""
        self.reset()
        self.host_db = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self.iop_db = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        fds = [self.fd, self.host_db, self.iop_db][:nfds]
        msg = magic + struct.pack("<II", version, self.length if length is None else length)
        socket.send_fds(self.conn, [msg], fds)

    def peer_gone(self, timeout):
        """Did the IOP end the setup connection within timeout?"""
        r, _, _ = select.select([self.conn], [], [], timeout)
        if not r:
            return False
        try:
            return self.conn.recv(64) == b""
        except OSError:
            return True

    def wait_iop(self, state, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.iop_state() == state:
                return True
            time.sleep(0.002)
        return self.iop_state() == state

    def ring_iop(self):
        os.eventfd_write(self.iop_db, 1)

    def host_rung(self):
        try:
            return os.eventfd_read(self.host_db)
        except BlockingIOError:
            return 0

    def run(self):
        """Row 3: both READY -> host RUNNING, ring the IOP."""
        self.host_state(RUNNING)
        self.ring_iop()

    # -- frames
    def put_slot(self, data, length=None):
        i = self.h_prod % self.slots
        o = self.off_h2i + i * self.slot_size
        n = len(data) if length is None else length
        struct.pack_into("<II", self.m, o, n, 0)
        self.m[o + 8:o + 8 + len(data)] = data
        self.h_prod = (self.h_prod + 1) & 0xFFFFFFFF
        self.set32(H2I + PROD, self.h_prod)
        if self.u32(H2I + WAKE) == 1:
            self.set32(H2I + WAKE, 0)
            self.ring_iop()

    def send(self, frame, **kw):
        self.put_slot(bytes(frame))

    def recv(self, timeout):
        end = time.monotonic() + timeout
        while True:
            prod = self.u32(I2H + PROD)
            if prod != self.i_cons:
                if (prod - self.i_cons) & 0xFFFFFFFF > self.slots:
                    raise AssertionError("IOP-to-host prod %d cons %d: more than slot_count" % (
                        prod, self.i_cons))
                o = self.off_i2h + (self.i_cons % self.slots) * self.slot_size
                n = struct.unpack_from("<I", self.m, o)[0]
                d = bytes(self.m[o + 8:o + 8 + min(n, self.slot_size - 8)])
                self.i_cons = (self.i_cons + 1) & 0xFFFFFFFF
                self.set32(I2H + CONS, self.i_cons)
                self.log.append((time.monotonic(), d))
                return d
            left = end - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(left, 0.001))

    def close(self):
        for s in (self.conn, self.ls):
            if s:
                s.close()
        for fd in (getattr(self, "host_db", None), getattr(self, "iop_db", None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        try:
            os.unlink(self.path)
        except OSError:
            pass
