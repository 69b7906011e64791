"""refdecode.py — reference decoder for the Messenger vectors (stdlib only).

Written from proto/include/mp/wire.h, spec/design-notes.md and the rules listed in
spec/vectors/REQUIREMENTS-USED.txt; it shares no code with proto/ nor with the encoders of
gen_vectors.py.  check_vectors.py uses it to confirm that every valid frame vector decodes
to its `fields` and every invalid one fails with its `error`, applying the error
precedence of FORMAT.md:

    ETRUNC > EVERSION > ETYPE > ELENGTH > ECHANNEL > ERESERVED > field checks (wire order)
"""
import struct

from mpspec import (TYPES, TYPE_NAMES, is_sequenced, name_ok, pattern_ok, node_name_ok,
                    prop_key_ok, prop_val_ok)


class MPError(Exception):
    def __init__(self, name):
        Exception.__init__(self, name)
        self.name = name


def E(name):
    raise MPError(name)


def u8(b, o):
    return b[o]


def u16(b, o):
    return struct.unpack_from(">H", b, o)[0]


def u32(b, o):
    return struct.unpack_from(">I", b, o)[0]


def u64(b, o):
    return struct.unpack_from(">Q", b, o)[0]


def node_id_ok(v):
    return v not in (0, 0xFFFFFFFF)


def seq16_lt(a, b):
    d = (a - b) & 0xFFFF
    return d >= 0x8000


# Fixed sizes / minimum lengths of whole frames (sequenced header included).
MIN_LEN = {
    "DISCOVER": 20, "LINK_RESET": 28, "LINK_ACTIVATE": 28, "LINK_STATE": 20, "DATA": 16,
    "FRAGMENT": 29, "BUNDLE": 28, "MINET": 42, "NAME_PUBLISH": 31, "NAME_WITHDRAW": 26,
    "NAME_SYNC": 20, "PATH_OPEN": 37, "PATH_ACCEPT": 28, "PATH_CLOSE": 32, "PATH_ABORT": 28,
    "PATH_CREDIT": 24, "SERVICE_STATUS": 33, "MGMT": 40, "SECURED": 36, "KEY_EXCHANGE": 96,
}
FIXED = {"PATH_ACCEPT", "PATH_CLOSE", "PATH_ABORT", "PATH_CREDIT", "KEY_EXCHANGE"}
FRAGMENTABLE = {n for n, c in TYPES.items() if is_sequenced(c)} - {"FRAGMENT", "BUNDLE"}

# Channel classes of sequenced types.
CH_PATH, CH_NODE, CH_MINET, CH_NODE_OR_PATH, CH_ANY = "path", "node", "minet", "node|path", "any"
CHAN_CLASS = {
    "DATA": CH_PATH, "FRAGMENT": CH_ANY, "BUNDLE": CH_NODE, "MINET": CH_MINET,
    "NAME_PUBLISH": CH_NODE, "NAME_WITHDRAW": CH_NODE, "NAME_SYNC": CH_NODE,
    "PATH_OPEN": CH_NODE, "PATH_ACCEPT": CH_PATH, "PATH_CLOSE": CH_PATH,
    "PATH_ABORT": CH_PATH, "PATH_CREDIT": CH_PATH, "SERVICE_STATUS": CH_NODE_OR_PATH,
    "MGMT": CH_NODE_OR_PATH,
}


def chan_in_class(cls, chan):
    if 0x02 <= chan <= 0xFF:
        return False
    return {CH_PATH: chan >= 0x100, CH_NODE: chan == 0, CH_MINET: chan == 1,
            CH_NODE_OR_PATH: chan == 0 or chan >= 0x100, CH_ANY: True}[cls]


# ---- options --------------------------------------------------------------------------
OPT_LEN = {0x01: (1, 63), 0x02: (1, 31), 0x03: (4, 4), 0x04: (4, 4), 0x05: (2, 2),
           0x06: (6, 6), 0x07: (2, 2), 0x08: (4, 4), 0x81: (1, 1)}


def parse_opts(b, o, end):
    opts, seen = [], set()
    while o < end:
        if o + 2 > end:
            E("MP_EOPTION")
        t, ln = b[o], b[o + 1]
        if o + 2 + ln > end:
            E("MP_EOPTION")
        v = b[o + 2:o + 2 + ln]
        o += 2 + ln
        if len(opts) == 16 or t in seen:
            E("MP_EOPTION")
        seen.add(t)
        if t in OPT_LEN:
            lo, hi = OPT_LEN[t]
            if not lo <= ln <= hi:
                E("MP_EOPTION")
            if t == 0x01 and not node_name_ok(v):
                E("MP_ENAME")
            if t == 0x04 and not (1 << 20) <= u32(v, 0) <= (16 << 20):
                E("MP_ERANGE")
            if t == 0x05 and u16(v, 0) == 0:
                E("MP_ERANGE")
            if t == 0x81 and v[0] > 2:
                E("MP_ERANGE")
        elif t & 0x80:
            E("MP_EOPTION")
        opts.append({"type": t, "value": v.hex()})
    return opts


# ---- name records ----------------------------------------------------------------------

def record_structure(b, o, end):
    """ELENGTH-level checks of a name record occupying b[o:end]."""
    if end - o < 15:
        E("MP_ELENGTH")
        return
    nl = b[o + 12]
    if o + 13 + nl + 1 > end:
        E("MP_ELENGTH")


def record_reserved(b, o):
    if b[o + 6] & ~0x01:
        E("MP_ERESERVED")


def record_fields(b, o, end):
    nl = b[o + 12]
    name = b[o + 13:o + 13 + nl]
    if not name_ok(name):
        E("MP_ENAME")
    p = o + 13 + nl
    pc = b[p]
    p += 1
    if pc > 16:
        E("MP_ERANGE")
    raw = []
    for _ in range(pc):
        if p + 1 > end:
            E("MP_ECOUNT")
        kl = b[p]
        if p + 1 + kl + 1 > end:
            E("MP_ECOUNT")
        k = b[p + 1:p + 1 + kl]
        vl = b[p + 1 + kl]
        if p + 2 + kl + vl > end:
            E("MP_ECOUNT")
        v = b[p + 2 + kl:p + 2 + kl + vl]
        raw.append((k, v))
        p += 2 + kl + vl
    if p != end:
        E("MP_ECOUNT")
    keys = set()
    for k, v in raw:
        if not prop_key_ok(k) or not prop_val_ok(v) or k in keys:
            E("MP_EPROP")
        keys.add(k)
    return {"device_id": u32(b, o), "dtype": u16(b, o + 4), "nflags": b[o + 6],
            "rank": b[o + 7], "generation": u32(b, o + 8), "name": name.decode("ascii"),
            "prop_count": pc,
            "props": [{"key": k.decode("ascii"), "value": v.hex()} for k, v in raw]}


def record_decode(b, o, end):
    record_structure(b, o, end)
    record_reserved(b, o)
    return record_fields(b, o, end)


# ---- per-type body checks: (structure, channel, reserved, fields) ----------------------
# Each takes (f, L, chan, cseq) where f is the frame bytes[:L]; the body of sequenced types
# starts at 16, of unsequenced ones at 4.

def decode_body(tname, f, L, chan, cseq, member=False):
    # ---- ELENGTH ----
    if tname in FIXED:
        if L != MIN_LEN[tname]:
            E("MP_ELENGTH")
    elif L < MIN_LEN[tname]:
        E("MP_ELENGTH")
    if tname == "LINK_STATE" and L != 20 + 4 * f[11]:
        E("MP_ELENGTH")
    if tname == "MGMT" and L != 40 + 4 * f[32] + u32(f, 36):
        E("MP_ELENGTH")
    if tname == "NAME_WITHDRAW" and L != 25 + f[24]:
        E("MP_ELENGTH")
    if tname == "SERVICE_STATUS" and L != 33 + f[32]:
        E("MP_ELENGTH")
    if tname == "PATH_OPEN" and L < 37 + f[36]:
        E("MP_ELENGTH")
    if tname == "NAME_PUBLISH":
        record_structure(f, 16, L)
    members = []
    if tname == "BUNDLE":
        o = 16
        while o < L:
            if o + 12 > L:
                E("MP_ELENGTH")
            ml = u16(f, o + 2)
            if ml < 12 or o + ml > L:
                E("MP_ELENGTH")
            members.append((o, ml))
            o += ml
    # ---- ECHANNEL ----
    if is_sequenced(TYPES[tname]):
        cls = CHAN_CLASS[tname]
        if tname == "FRAGMENT" and TYPE_NAMES.get(f[16]) in FRAGMENTABLE:
            cls = CHAN_CLASS[TYPE_NAMES[f[16]]]
        if not chan_in_class(cls, chan):
            E("MP_ECHANNEL")
        if tname == "BUNDLE" and cseq != 0:
            E("MP_ECHANNEL")
        if tname in ("PATH_ACCEPT", "PATH_CLOSE", "PATH_ABORT", "PATH_CREDIT") and u32(f, 16) != chan:
            E("MP_ECHANNEL")
        if tname == "PATH_ACCEPT" and cseq != 0:
            E("MP_ECHANNEL")
    # ---- ERESERVED ----
    rsv = {
        "DISCOVER": lambda: f[13] & ~0x03,
        "LINK_RESET": lambda: f[27] & ~0x01,
        "LINK_ACTIVATE": lambda: f[27] & ~0x01,
        "LINK_STATE": lambda: f[10] & ~0x03,
        "FRAGMENT": lambda: f[17] or u16(f, 18),
        "MINET": lambda: f[16] & ~0x07,
        "NAME_PUBLISH": lambda: f[22] & ~0x01,
        "NAME_SYNC": lambda: (f[16] & ~0x03) or f[17],
        "PATH_OPEN": lambda: f[33] or u16(f, 34),
        "PATH_CLOSE": lambda: f[29] or f[30] or f[31],
        "PATH_ABORT": lambda: u16(f, 26),
        "SERVICE_STATUS": lambda: u16(f, 18),
        "MGMT": lambda: (f[33] & ~0x03) or u16(f, 34),
        "SECURED": lambda: f[5] or u16(f, 6),
    }
    if tname in rsv and rsv[tname]():
        E("MP_ERESERVED")
    # ---- field checks, wire order ----
    return FIELDS[tname](f, L, chan, cseq, members)


def f_discover(f, L, *_):
    if not node_id_ok(u32(f, 4)):
        E("MP_ERANGE")
    if f[12] == 0:
        E("MP_ERANGE")
    return {"node_id": u32(f, 4), "domain": u32(f, 8), "max_version": f[12], "dflags": f[13],
            "mtu": u16(f, 14), "incarnation": u32(f, 16), "opts": parse_opts(f, 20, L)}


def f_link(f, L, *_):
    if not node_id_ok(u32(f, 4)) or not node_id_ok(u32(f, 8)):
        E("MP_ERANGE")
    if not 10 <= u16(f, 20) <= 30000 or not 1 <= u16(f, 22) <= 16384 or f[26] > 31:
        E("MP_ERANGE")
    return {"node_id": u32(f, 4), "peer_id": u32(f, 8), "incarnation": u32(f, 12),
            "session": u16(f, 16), "next_seq": u16(f, 18), "tolerance_ms": u16(f, 20),
            "window": u16(f, 22), "mtu": u16(f, 24), "priority": f[26], "lflags": f[27],
            "opts": parse_opts(f, 28, L)}


def f_state(f, L, *_):
    n = f[11]
    if n > 32:
        E("MP_ERANGE")
    gaps = []
    for i in range(n):
        s, e = u16(f, 20 + 4 * i), u16(f, 22 + 4 * i)
        if seq16_lt(e, s):
            E("MP_ERANGE")
        gaps.append({"start": s, "end": e})
    return {"session": u16(f, 4), "ack": u16(f, 6), "next_seq": u16(f, 8), "sflags": f[10],
            "gap_count": n, "timestamp": u32(f, 12), "echo": u32(f, 16), "gaps": gaps}


def f_data(f, L, *_):
    return {"payload": f[16:L].hex()}


def f_fragment(f, L, *_):
    if TYPE_NAMES.get(f[16]) not in FRAGMENTABLE:
        E("MP_ETYPE")
    total, off = u32(f, 20), u32(f, 24)
    if total > (16 << 20) or off + (L - 28) > total:
        E("MP_ERANGE")
    return {"inner_type": f[16], "total_len": total, "offset": off, "data": f[28:L].hex()}


def f_bundle(f, L, chan, cseq, members):
    out = []
    for o, ml in members:
        m = f[o:o + ml]
        if m[0] >> 4 != 1:
            E("MP_EVERSION")
        tn = TYPE_NAMES.get(m[1])
        if tn not in FRAGMENTABLE:
            E("MP_ETYPE")
        mchan, mcseq = u32(m, 4), u32(m, 8)
        # Re-base the member on a virtual 16-byte header so offsets match a frame.
        virt = m[:4] + b"\0\0\0\0" + m[4:]
        body = decode_body(tn, virt, ml + 4, mchan, mcseq, member=True)
        out.append({"version": 1, "flags": m[0] & 0xF, "type": tn, "type_code": m[1],
                    "length": ml, "chan": mchan, "cseq": mcseq, "body": body})
    return {"count": len(out), "members": out}


def f_minet(f, L, *_):
    g = f[17]
    if (g & 0x7F) not in (0, 1, 3, 4):
        E("MP_ERANGE")
    return {"mflags": f[16], "gso_type": g, "hdr_len": u16(f, 18), "gso_size": u16(f, 20),
            "csum_start": u16(f, 22), "csum_offset": u16(f, 24), "domain": u16(f, 26),
            "eth": f[28:L].hex()}


def f_publish(f, L, *_):
    return record_fields(f, 16, L)


def f_withdraw(f, L, *_):
    name = f[25:L]
    if not name_ok(name):
        E("MP_ENAME")
    return {"device_id": u32(f, 16), "generation": u32(f, 20), "name": name.decode("ascii")}


def f_sync(f, L, *_):
    y, count = f[16], u16(f, 18)
    if count == 0 and not y & 0x02:
        E("MP_ERANGE")
    recs, o = [], 20
    for _ in range(count):
        if o + 2 > L:
            E("MP_ECOUNT")
        rl = u16(f, o)
        if rl < 15:
            E("MP_ELENGTH")
        if o + 2 + rl > L:
            E("MP_ECOUNT")
        recs.append(record_decode(f, o + 2, o + 2 + rl))
        o += 2 + rl
    if o != L:
        E("MP_ECOUNT")
    return {"yflags": y, "count": count, "records": recs}


def f_open(f, L, *_):
    if u32(f, 16) < 0x100:
        E("MP_ERANGE")
    pk = f[32]
    if pk not in (1, 2, 3):
        E("MP_ERANGE")
    nl = f[36]
    name = f[37:37 + nl]
    if nl:
        if pk == 1 and not name_ok(name):
            E("MP_ENAME")
        if pk != 1 and not pattern_ok(name):
            E("MP_EPATTERN")
    return {"src_path": u32(f, 16), "src_device": u32(f, 20), "dst_device": u32(f, 24),
            "credit": u32(f, 28), "pkind": pk, "name": name.decode("ascii"),
            "opts": parse_opts(f, 37 + nl, L)}


def f_accept(f, L, *_):
    if u32(f, 20) < 0x100:
        E("MP_ERANGE")
    return {"dst_path": u32(f, 16), "src_path": u32(f, 20), "credit": u32(f, 24)}


def f_close(f, L, *_):
    if u32(f, 20) < 0x100 or f[28] > 12:
        E("MP_ERANGE")
    return {"dst_path": u32(f, 16), "src_path": u32(f, 20), "last_cseq": u32(f, 24),
            "reason": f[28]}


def f_abort(f, L, *_):
    sp = u32(f, 20)
    if 0 < sp < 0x100 or u16(f, 24) > 12:
        E("MP_ERANGE")
    return {"dst_path": u32(f, 16), "src_path": sp, "error": u16(f, 24)}


def f_credit(f, L, *_):
    return {"dst_path": u32(f, 16), "limit": u32(f, 20)}


def f_status(f, L, *_):
    if not 1 <= f[16] <= 9 or f[17] > 12:
        E("MP_ERANGE")
    name = f[33:L]
    if name and not name_ok(name):
        E("MP_ENAME")
    return {"status": f[16], "reason": f[17], "node": u32(f, 20), "path": u32(f, 24),
            "device": u32(f, 28), "name": name.decode("ascii")}


def f_mgmt(f, L, *_):
    n = f[32]
    if n > 64:
        E("MP_ERANGE")
    uops = [{"opcode": u16(f, 40 + 4 * i), "arg": u16(f, 42 + 4 * i)} for i in range(n)]
    return {"corr_id": u32(f, 16), "epoch": u32(f, 20), "src_entity": u32(f, 24),
            "dst_entity": u32(f, 28), "uop_count": n, "gflags": f[33], "uops": uops,
            "payload": f[40 + 4 * n:L].hex()}


def f_secured(f, L, *_):
    return {"key_id": f[4], "counter": u64(f, 8), "ciphertext": f[16:L - 16].hex(),
            "tag": f[L - 16:L].hex()}


def f_kx(f, L, *_):
    if f[4] not in (1, 2, 3) or u16(f, 6) not in (1, 2) or not node_id_ok(u32(f, 8)):
        E("MP_ERANGE")
    return {"phase": f[4], "key_id": f[5], "suite": u16(f, 6), "node_id": u32(f, 8),
            "exchange_id": u32(f, 12), "public_key": f[16:48].hex(), "random": f[48:64].hex(),
            "mac": f[64:96].hex()}


FIELDS = {
    "DISCOVER": f_discover, "LINK_RESET": f_link, "LINK_ACTIVATE": f_link,
    "LINK_STATE": f_state, "DATA": f_data, "FRAGMENT": f_fragment, "BUNDLE": f_bundle,
    "MINET": f_minet, "NAME_PUBLISH": f_publish, "NAME_WITHDRAW": f_withdraw,
    "NAME_SYNC": f_sync, "PATH_OPEN": f_open, "PATH_ACCEPT": f_accept,
    "PATH_CLOSE": f_close, "PATH_ABORT": f_abort, "PATH_CREDIT": f_credit,
    "SERVICE_STATUS": f_status, "MGMT": f_mgmt, "SECURED": f_secured, "KEY_EXCHANGE": f_kx,
}


def decode_frame(buf):
    """Decode one frame; returns the `fields` object or raises MPError."""
    if len(buf) < 4:
        E("MP_ETRUNC")
    L = u16(buf, 2)
    if len(buf) < L:
        E("MP_ETRUNC")
    if buf[0] >> 4 != 1:
        E("MP_EVERSION")
    tname = TYPE_NAMES.get(buf[1])
    if tname is None:
        E("MP_ETYPE")
    f = bytes(buf[:L])
    if L < 4 or (is_sequenced(buf[1]) and L < 16):
        E("MP_ELENGTH")
    out = {"version": 1, "flags": buf[0] & 0xF, "type": tname, "type_code": buf[1],
           "length": L}
    chan = cseq = 0
    if is_sequenced(buf[1]):
        chan, cseq = u32(f, 8), u32(f, 12)
        out.update(seq=u16(f, 4), ack=u16(f, 6), chan=chan, cseq=cseq)
    out["body"] = decode_body(tname, f, L, chan, cseq)
    return out


def decode_caphdr(b):
    if len(b) < 8:
        E("MP_ETRUNC")
    if b[0] != 0x4D or b[1] != 1 or b[3] & ~0x03 or u16(b, 6):
        E("MP_ERESERVED")
    if not 1 <= b[2] <= 4:
        E("MP_ERANGE")
    return {"bearer": b[2], "cflags": b[3], "bearer_index": u16(b, 4)}
