"""mpspec.py — shared, stdlib-only helpers for the Messenger spec tools.

Written from proto/include/mp/wire.h and spec/design-notes.md alone; shares no code with
proto/.  Used by gen_vectors.py (encoder) and check_vectors.py (schema + reference
decoder).  Python 3, stdlib only, run with /usr/bin/python3.
"""
import re
import struct

# ---- message type registry (wire.h enum mp_type) --------------------------------------
TYPES = {
    "DISCOVER": 0x01, "LINK_RESET": 0x02, "LINK_ACTIVATE": 0x03, "LINK_STATE": 0x04,
    "DATA": 0x10, "FRAGMENT": 0x11, "BUNDLE": 0x12, "MINET": 0x13,
    "NAME_PUBLISH": 0x20, "NAME_WITHDRAW": 0x21, "NAME_SYNC": 0x22,
    "PATH_OPEN": 0x28, "PATH_ACCEPT": 0x29, "PATH_CLOSE": 0x2A, "PATH_ABORT": 0x2B,
    "PATH_CREDIT": 0x2C, "SERVICE_STATUS": 0x2D, "MGMT": 0x30,
    "SECURED": 0x40, "KEY_EXCHANGE": 0x41,
}
TYPE_NAMES = {v: k for k, v in TYPES.items()}


def is_sequenced(code):
    return 0x10 <= code <= 0x3F


ERRORS = ["MP_ETRUNC", "MP_EVERSION", "MP_ETYPE", "MP_ELENGTH", "MP_ERESERVED",
          "MP_EOPTION", "MP_ENAME", "MP_EPROP", "MP_ERANGE", "MP_ENOSPC", "MP_ECHANNEL",
          "MP_ECRC", "MP_EFRAMING", "MP_ECOUNT", "MP_EPATTERN", "MP_EINVAL"]

# ---- CRC-32C (Castagnoli, reflected poly 0x82F63B78, init/xorout 0xFFFFFFFF) ----------


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data, crc=0):
    """Same calling convention as mp_crc32c(): start with crc = 0, chainable."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283
assert crc32c(b"56789", crc32c(b"1234")) == 0xE3069283

# ---- serial framing -------------------------------------------------------------------
FLAG, ESC, XOR = 0x7E, 0x7D, 0x20
SERIAL_CAP = 65535 + 4  # de-framer capacity assumed by the vectors: one max frame + CRC


def stuff(data):
    out = bytearray()
    for b in data:
        if b in (FLAG, ESC):
            out += bytes([ESC, b ^ XOR])
        else:
            out.append(b)
    return bytes(out)


def serial_wrap(frame):
    """mp_serial_encode(): 0x7E, stuffed(frame || CRC-32C(frame) big-endian), 0x7E."""
    return bytes([FLAG]) + stuff(frame + struct.pack(">I", crc32c(frame))) + bytes([FLAG])


def deframe(line, cap=SERIAL_CAP):
    """Reference de-framer.  Returns (frames, counters)."""
    frames = []
    cnt = {"crc_errors": 0, "framing_errors": 0, "overruns": 0, "runts": 0}
    hunting = True          # before the first flag: bytes are discarded, not counted
    buf = bytearray()
    escaped = overflow = False
    for b in line:
        if b == FLAG:
            if hunting:
                hunting = False
            elif escaped:                       # 0x7D 0x7E: abort
                cnt["framing_errors"] += 1
            elif overflow:
                cnt["overruns"] += 1
            elif len(buf) == 0:
                pass                            # shared / idle flag
            elif len(buf) < 4 + 4:
                cnt["runts"] += 1
            elif crc32c(bytes(buf[:-4])) != struct.unpack(">I", bytes(buf[-4:]))[0]:
                cnt["crc_errors"] += 1
            else:
                frames.append(bytes(buf[:-4]))
            buf = bytearray()
            escaped = overflow = False
            continue
        if hunting or overflow:
            continue
        if escaped:
            b ^= XOR
            escaped = False
        elif b == ESC:
            escaped = True
            continue
        if len(buf) >= cap:
            overflow = True
            buf = bytearray()
            continue
        buf.append(b)
    return frames, cnt


# ---- names and patterns ---------------------------------------------------------------
_NAME_CH = re.compile(rb"^[A-Za-z0-9._-]+$")
_PAT_CH = re.compile(rb"^[A-Za-z0-9._*?-]+$")
_KEY_CH = re.compile(rb"^[a-z0-9_.-]+$")


def name_ok(name):
    """1..127 bytes, '/'-separated components of 1..63 [A-Za-z0-9._-], not '.'/'..'."""
    if not 1 <= len(name) <= 127:
        return False
    for c in name.split(b"/"):
        if not 1 <= len(c) <= 63 or not _NAME_CH.match(c) or c in (b".", b".."):
            return False
    return True


def pattern_ok(pat):
    """A name that may also use '*', '?' inside components and '**' as a whole component."""
    if not 1 <= len(pat) <= 127:
        return False
    for c in pat.split(b"/"):
        if not 1 <= len(c) <= 63 or not _PAT_CH.match(c) or c in (b".", b".."):
            return False
        if b"**" in c and c != b"**":
            return False
    return True


def node_name_ok(v):
    """NODE_NAME option value: one name component (1..63 of [A-Za-z0-9._-], not . or ..)."""
    return 1 <= len(v) <= 63 and bool(_NAME_CH.match(v)) and v not in (b".", b"..")


def _comp_match(p, n):
    rx = b"".join(b"[^/]*" if ch == b"*"[0] else b"[^/]" if ch == b"?"[0]
                  else re.escape(bytes([ch])) for ch in p)
    return re.fullmatch(rx, n) is not None


def pattern_match(pat, name):
    def rec(pc, nc):
        if not pc:
            return not nc
        if pc[0] == b"**":
            return any(rec(pc[1:], nc[i:]) for i in range(len(nc) + 1))
        return bool(nc) and _comp_match(pc[0], nc[0]) and rec(pc[1:], nc[1:])
    return rec(pat.split(b"/"), name.split(b"/"))


def prop_key_ok(k):
    return 1 <= len(k) <= 31 and bool(_KEY_CH.match(k))


def prop_val_ok(v):
    return len(v) <= 255 and 0 not in v
