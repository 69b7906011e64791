"""A strict, independent Messenger frame validator written from RFC-messenger.md.

validate(data) returns None when a conforming decoder must accept the frame, or the
codec error name (MP_ETRUNC ...) it must report, following the processing order of
Section 3.8: ETRUNC > EVERSION > ETYPE > ELENGTH > ECHANNEL > ERESERVED > field checks
in wire order.  Each `_v_*` body validator runs the stages 4..7 for one body; nested
items (BUNDLE members, NAME_SYNC records) are validated at stage 7.

Where the RFC left a choice open, the choice made here is marked "RFC-GAP" (see the
findings in interop/README.md).
"""
import re
import struct

from .layers import TYPES, is_sequenced

U8 = lambda b, o: b[o]                                   # noqa: E731
U16 = lambda b, o: struct.unpack_from("!H", b, o)[0]     # noqa: E731
U32 = lambda b, o: struct.unpack_from("!I", b, o)[0]     # noqa: E731

ETRUNC, EVERSION, ETYPE, ELENGTH = "MP_ETRUNC", "MP_EVERSION", "MP_ETYPE", "MP_ELENGTH"
ECHANNEL, ERESERVED, ERANGE = "MP_ECHANNEL", "MP_ERESERVED", "MP_ERANGE"
ENAME, EPATTERN, EPROP, EOPTION, ECOUNT = ("MP_ENAME", "MP_EPATTERN", "MP_EPROP",
                                           "MP_EOPTION", "MP_ECOUNT")

# ------------------------------------------------------------------ names (8.1, 8.2)
_NAMECH = re.compile(rb"^[A-Za-z0-9._-]+$")
_PATCH = re.compile(rb"^[A-Za-z0-9._*?-]+$")


def check_name(n):
    """MSG-NAME-2."""
    n = bytes(n)
    if not 1 <= len(n) <= 127:
        return False
    for c in n.split(b"/"):
        if not 1 <= len(c) <= 63 or c in (b".", b"..") or not _NAMECH.match(c):
            return False
    return True


def check_pattern(p):
    """MSG-NAME-3."""
    p = bytes(p)
    if not 1 <= len(p) <= 127:
        return False
    for c in p.split(b"/"):
        if c == b"**":
            continue
        if not 1 <= len(c) <= 63 or c in (b".", b"..") or not _PATCH.match(c) or b"**" in c:
            return False
    return True


def _comp_match(p, n):
    rx = b"".join(b".*" if ch == b"*" else b"." if ch == b"?" else re.escape(ch)
                  for ch in (p[i:i + 1] for i in range(len(p))))
    return re.fullmatch(rx, n, re.S) is not None


def pattern_match(p, n):
    """8.2 matching: '*' and '?' inside one component, '**' zero or more components."""
    ps, ns = bytes(p).split(b"/"), bytes(n).split(b"/")

    def m(i, j):
        if i == len(ps):
            return j == len(ns)
        if ps[i] == b"**":
            return any(m(i + 1, k) for k in range(j, len(ns) + 1))
        return j < len(ns) and _comp_match(ps[i], ns[j]) and m(i + 1, j + 1)
    return m(0, 0)


# ------------------------------------------------------------------ options (4)
_OPT_LEN = {0x01: (1, 63), 0x02: (1, 31), 0x03: (4, 4), 0x04: (4, 4), 0x05: (2, 2),
            0x06: (6, 6), 0x07: (2, 2), 0x08: (4, 4), 0x81: (1, 1)}


def _v_opts(b, o):
    """Options from offset o to the end of b, checked one by one (4.1)."""
    seen = set()
    n = 0
    while o < len(b):
        if o + 2 > len(b):
            return EOPTION                      # MSG-OPT-6 header past end
        t, ln = b[o], b[o + 1]
        if o + 2 + ln > len(b):
            return EOPTION                      # MSG-OPT-6 value past end
        n += 1
        if n > 16 or t in seen:
            return EOPTION                      # MSG-OPT-2, MSG-OPT-3
        seen.add(t)
        v = b[o + 2:o + 2 + ln]
        if t in _OPT_LEN:
            lo, hi = _OPT_LEN[t]
            if not lo <= ln <= hi:
                return EOPTION                  # MSG-OPT-7
            if t == 0x01 and (b"/" in v or not check_name(v)):
                return ENAME                    # MSG-OPT-8
            if t == 0x81 and v[0] > 2:
                return ERANGE                   # MSG-OPT-9
            if t == 0x04 and not 1048576 <= U32(v, 0) <= 16777216:
                return ERANGE                   # MSG-OPT-10
            if t == 0x05 and U16(v, 0) == 0:
                return ERANGE                   # MSG-OPT-11
        elif t & 0x80:
            return EOPTION                      # MSG-OPT-4 (RFC-GAP: placed after uniqueness)
        o += 2 + ln
    return None


# ------------------------------------------------------------------ name records (5.8)
def _v_record_struct(r):
    """Stage 4 of a record: name_len must leave room for the name and prop_count."""
    if len(r) < 15:
        return ELENGTH
    nl = r[12]
    if 13 + nl + 1 > len(r):
        return ELENGTH
    return None


def _v_record(r):
    """A whole record under the precedence of 5.8 (structure, nflags, name, props)."""
    e = _v_record_struct(r)
    if e:
        return e
    if r[6] & ~0x01:
        return ERESERVED                        # MSG-NAME-7
    nl = r[12]
    if not check_name(r[13:13 + nl]):
        return ENAME
    o = 13 + nl
    pc = r[o]
    if pc > 16:
        return ERANGE                           # MSG-NAME-4
    o += 1
    props = []
    for _ in range(pc):                         # structural walk, MSG-NAME-6
        if o + 1 > len(r):
            return ECOUNT
        kl = r[o]
        if o + 1 + kl + 1 > len(r):
            return ECOUNT
        k = r[o + 1:o + 1 + kl]
        vl = r[o + 1 + kl]
        if o + 2 + kl + vl > len(r):
            return ECOUNT
        props.append((k, r[o + 2 + kl:o + 2 + kl + vl]))
        o += 2 + kl + vl
    if o != len(r):
        return ECOUNT
    keys = set()
    for k, v in props:                          # MSG-NAME-5
        if not 1 <= len(k) <= 31 or not re.fullmatch(rb"[a-z0-9_.-]+", k) or k in keys \
                or b"\0" in v:
            return EPROP
        keys.add(k)
    return None


# ------------------------------------------------------------------ channel rules (3.5)
def _chan_ok(t, chan, cseq, body):
    if t == 0x10:
        return chan >= 0x100
    if t == 0x12:
        return chan == 0 and cseq == 0
    if t == 0x13:
        return chan == 1
    if t in (0x20, 0x21, 0x22, 0x28):
        return chan == 0
    if t in (0x29, 0x2A, 0x2B, 0x2C):
        if chan < 0x100 or len(body) < 4 or U32(body, 0) != chan:
            return False
        return cseq == 0 if t == 0x29 else True
    if t in (0x2D, 0x30):
        return chan == 0 or chan >= 0x100
    return True


_FRAG_INNER = {0x10, 0x13, 0x20, 0x21, 0x22, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x30}


def _inner_chan_ok(t, chan):
    """FRAGMENT: the channel rule of inner_type; the body is not available (RFC-GAP)."""
    if t == 0x10 or t in (0x29, 0x2A, 0x2B, 0x2C):
        return chan >= 0x100
    if t == 0x13:
        return chan == 1
    if t in (0x20, 0x21, 0x22, 0x28):
        return chan == 0
    if t in (0x2D, 0x30):
        return chan == 0 or chan >= 0x100
    return True


# ------------------------------------------------------------------ sequenced bodies
def v_seq_body(t, body, chan, cseq, hdr=16):
    """Stages 4..7 for a sequenced body `body` (octets after the header).  `hdr` is 16
    for a frame and 12 for a BUNDLE member (whose lengths count 4 fewer, 5.6)."""
    L = len(body) + 16        # the length of the equivalent frame
    mins = {0x10: 16, 0x11: 29, 0x12: 28, 0x13: 42, 0x20: 31, 0x21: 26, 0x22: 20,
            0x28: 37, 0x2D: 33, 0x30: 40}
    fixed = {0x29: 28, 0x2A: 32, 0x2B: 28, 0x2C: 24}
    # ---- stage 4
    if t in fixed and L != fixed[t]:
        return ELENGTH
    if t in mins and L < mins[t]:
        return ELENGTH
    if t == 0x21 and L != 25 + body[8]:
        return ELENGTH
    if t == 0x28 and L < 37 + body[20]:
        return ELENGTH
    if t == 0x2D and L != 33 + body[16]:
        return ELENGTH
    if t == 0x30 and L != 40 + 4 * body[16] + U32(body, 20):
        return ELENGTH
    if t == 0x20:
        e = _v_record_struct(body)
        if e:
            return e
    members = []
    if t == 0x12:                               # BUNDLE member walk (MSG-BNDL-2)
        o = 0
        while o < len(body):
            if o + 4 > len(body):
                return ELENGTH
            ml = U16(body, o + 2)
            if ml < 12 or o + ml > len(body):
                return ELENGTH
            members.append(body[o:o + ml])
            o += ml
    # ---- stage 5
    if 0x02 <= chan <= 0xFF:
        return ECHANNEL                         # MSG-HDR-10
    if t == 0x11:
        if body[0] in _FRAG_INNER and not _inner_chan_ok(body[0], chan):
            return ECHANNEL                     # MSG-FRAG-4
    elif not _chan_ok(t, chan, cseq, body):
        return ECHANNEL
    # ---- stage 6
    if t == 0x11 and (body[1] or U16(body, 2)):
        return ERESERVED
    if t == 0x13 and body[0] & ~0x07:
        return ERESERVED                        # MSG-MINET-3
    if t == 0x20 and body[6] & ~0x01:
        return ERESERVED                        # MSG-NAME-7
    if t == 0x22 and (body[0] & ~0x03 or body[1]):
        return ERESERVED                        # MSG-NAME-12
    if t == 0x28 and (body[17] or U16(body, 18)):
        return ERESERVED                        # MSG-PATH-11
    if t == 0x2A and body[13:16] != b"\0\0\0":
        return ERESERVED
    if t == 0x2B and U16(body, 10):
        return ERESERVED
    if t == 0x2D and U16(body, 2):
        return ERESERVED                        # MSG-STAT-3
    if t == 0x30 and (body[17] & ~0x03 or U16(body, 18)):
        return ERESERVED                        # MSG-MGMT-3
    if t == 0x12:
        pass                                    # members' reserved fields: stage 7
    # ---- stage 7
    if t == 0x11:
        if body[0] not in _FRAG_INNER:
            return ETYPE                        # MSG-FRAG-2
        tl, off = U32(body, 4), U32(body, 8)
        if tl > 16777216 or off + (len(body) - 12) > tl:
            return ERANGE                       # MSG-FRAG-3
    elif t == 0x12:
        for m in members:
            e = _v_member(m)
            if e:
                return e
    elif t == 0x13:
        g = body[1]
        if g & 0x7F not in (0, 1, 3, 4):
            return ERANGE                       # MSG-MINET-4
    elif t == 0x20:
        return _v_record(body)
    elif t == 0x21:
        if not check_name(body[9:]):
            return ENAME
    elif t == 0x22:
        return _v_sync(body)
    elif t == 0x28:
        if U32(body, 0) < 0x100:
            return ERANGE                       # MSG-PATH-5
        pk = body[16]
        if pk not in (1, 2, 3):
            return ERANGE                       # MSG-PATH-3
        nl = body[20]
        nm = body[21:21 + nl]
        if nl:
            if pk == 1 and not check_name(nm):
                return ENAME                    # MSG-PATH-4
            if pk != 1 and not check_pattern(nm):
                return EPATTERN
        return _v_opts(body, 21 + nl)
    elif t == 0x29:
        if U32(body, 4) < 0x100:
            return ERANGE
    elif t == 0x2A:
        if U32(body, 4) < 0x100 or body[12] > 12:
            return ERANGE                       # MSG-PATH-5, MSG-PATH-8
    elif t == 0x2B:
        sp = U32(body, 4)
        if (sp != 0 and sp < 0x100) or U16(body, 8) > 12:
            return ERANGE                       # MSG-PATH-5, MSG-PATH-9
    elif t == 0x2D:
        if not 1 <= body[0] <= 9 or body[1] > 12:
            return ERANGE                       # MSG-STAT-2
        nl = body[16]
        if nl and not check_name(body[17:17 + nl]):
            return ENAME                        # MSG-STAT-5
    elif t == 0x30:
        if body[16] > 64:
            return ERANGE                       # MSG-MGMT-2
    return None


def _v_sync(body):
    """NAME_SYNC stage 7: count/yflags at the count, the record walk, then records."""
    yf, cnt = body[0], U16(body, 2)
    if cnt == 0 and not yf & 0x02:
        return ERANGE                           # MSG-NAME-12
    o = 4
    recs = []
    for _ in range(cnt):                        # RFC-GAP: walk all rec_len first
        if o + 2 > len(body):
            return ECOUNT
        rl = U16(body, o)
        if o + 2 + rl > len(body):
            return ECOUNT
        if rl < 15:
            return ELENGTH
        recs.append(body[o + 2:o + 2 + rl])
        o += 2 + rl
    if o != len(body):
        return ECOUNT                           # MSG-NAME-11
    for r in recs:
        e = _v_record(r)
        if e:
            return e
    return None


def _v_member(m):
    """A BUNDLE member: version, type, length, channel, reserved, fields (5.6)."""
    if m[0] >> 4 != 1:
        return EVERSION
    t = m[1]
    if not is_sequenced(t) or t not in TYPES or t in (0x11, 0x12):
        return ETYPE                            # MSG-BNDL-3
    return v_seq_body(t, m[12:], U32(m, 4), U32(m, 8), hdr=12)


# ------------------------------------------------------------------ unsequenced bodies
def v_unseq_body(t, b):
    """Stages 4..7 of an unsequenced frame b (whole frame, common header included)."""
    L = len(b)
    if t == 0x01:
        if L < 20:
            return ELENGTH                      # MSG-DISC-1
        if b[13] & ~0x03:
            return ERESERVED                    # MSG-DISC-3
        if U32(b, 4) in (0, 0xFFFFFFFF) or b[12] < 1:
            return ERANGE                       # MSG-DISC-2, MSG-DISC-4
        return _v_opts(b, 20)
    if t in (0x02, 0x03):
        if L < 28:
            return ELENGTH                      # MSG-LINK-1
        if b[27] & ~0x01:
            return ERESERVED                    # MSG-LINK-5
        if U32(b, 4) in (0, 0xFFFFFFFF) or U32(b, 8) in (0, 0xFFFFFFFF):
            return ERANGE
        if not 10 <= U16(b, 20) <= 30000 or not 1 <= U16(b, 22) <= 16384 or b[26] > 31:
            return ERANGE                       # MSG-LINK-2..4
        return _v_opts(b, 28)
    if t == 0x04:
        if L < 20 or L != 20 + 4 * b[11]:
            return ELENGTH                      # MSG-STATE-1
        if b[10] & ~0x03:
            return ERESERVED                    # MSG-STATE-3
        if b[11] > 32:
            return ERANGE                       # MSG-STATE-2
        for i in range(b[11]):
            s, e = U16(b, 20 + 4 * i), U16(b, 22 + 4 * i)
            if ((e - s) & 0xFFFF) >= 0x8000:
                return ERANGE                   # MSG-STATE-4
        return None
    if t == 0x40:
        if L < 36:
            return ELENGTH                      # MSG-SEC-1
        if b[5] or U16(b, 6):
            return ERESERVED                    # MSG-SEC-2
        return None
    if t == 0x41:
        if L != 96:
            return ELENGTH                      # MSG-SEC-3
        if not 1 <= b[4] <= 3 or not 1 <= U16(b, 6) <= 2 or U32(b, 8) in (0, 0xFFFFFFFF):
            return ERANGE                       # MSG-SEC-4, MSG-SEC-5, MSG-DISC-2
        return None
    return ETYPE


def validate(data):
    """None if the frame is valid, else the MP_E* name (3.8)."""
    b = bytes(data)
    if len(b) < 4 or len(b) < U16(b, 2):
        return ETRUNC                           # MSG-HDR-4
    length = U16(b, 2)
    b = b[:max(4, length)]                      # MSG-HDR-5 padding
    if b[0] >> 4 != 1:
        return EVERSION                         # MSG-HDR-2
    t = b[1]
    if t not in TYPES:
        return ETYPE                            # MSG-HDR-3
    if is_sequenced(t):
        if length < 16:
            return ELENGTH                      # MSG-HDR-6, MSG-HDR-8
        return v_seq_body(t, b[16:], U32(b, 8), U32(b, 12))
    if length < 4:
        return ELENGTH                          # MSG-HDR-8
    return v_unseq_body(t, b)


def validate_caphdr(b):
    """Section 15."""
    b = bytes(b)
    if len(b) < 8:
        return ETRUNC                           # MSG-CAP-4
    if b[0] != 0x4D or b[1] != 1 or b[3] & ~0x03 or U16(b, 6):
        return ERESERVED                        # MSG-CAP-2
    if not 1 <= b[2] <= 4:
        return ERANGE                           # MSG-CAP-3
    return None
