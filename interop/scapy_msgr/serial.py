"""Serial framing (RFC 14.3): CRC-32C, stuffing, a de-framer with the RFC's counters."""
import struct

FLAG, ESC, XOR = 0x7E, 0x7D, 0x20


def _table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_T = _table()


def crc32c(data, crc=0):
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = _T[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the RFC's check value


def encode(frame):
    """0x7E | stuff(frame | CRC-32C big-endian) | 0x7E (MSG-SER-1, MSG-SER-2)."""
    out = bytearray([FLAG])
    for b in bytes(frame) + struct.pack("!I", crc32c(frame)):
        if b in (FLAG, ESC):
            out += bytes([ESC, b ^ XOR])
        else:
            out.append(b)
    out.append(FLAG)
    return bytes(out)


class Deframer:
    """Classifies at each flag: abort, overrun, idle, runt, CRC error, good (14.3)."""
    def __init__(self, cap=65539):
        self.cap = cap
        self.frames = []
        self.crc_errors = self.framing_errors = self.overruns = self.runts = 0
        self.hunting = True
        self.buf = bytearray()
        self.esc = False
        self.over = False

    def feed(self, data):
        for b in data:
            if self.hunting:
                if b == FLAG:
                    self.hunting = False
                    self._reset()
                continue
            if b == FLAG:
                self._close()
                continue
            if self.esc:
                b ^= XOR
                self.esc = False
            elif b == ESC:
                self.esc = True
                continue
            if len(self.buf) >= self.cap:
                self.over = True
            else:
                self.buf.append(b)
        return self

    def _reset(self):
        self.buf = bytearray()
        self.esc = False
        self.over = False

    def _close(self):
        if self.esc:
            self.framing_errors += 1
        elif self.over:
            self.overruns += 1
        elif not self.buf:
            pass
        elif len(self.buf) < 8:
            self.runts += 1
        elif crc32c(bytes(self.buf[:-4])) != struct.unpack("!I", self.buf[-4:])[0]:
            self.crc_errors += 1
        else:
            self.frames.append(bytes(self.buf[:-4]))
        self._reset()

    def counters(self):
        return {"frames": [f.hex() for f in self.frames], "crc_errors": self.crc_errors,
                "framing_errors": self.framing_errors, "overruns": self.overruns,
                "runts": self.runts}
