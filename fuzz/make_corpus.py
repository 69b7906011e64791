#!/usr/bin/python3
"""Make the fuzz seed corpora from spec/vectors/*.json.

    fuzz/make_corpus.py           (re)write fuzz/corpus/<target>/{v,s}-* files
    fuzz/make_corpus.py --check   exit 1 if the committed seeds differ from what it would write

Files this script owns are named v-<vector name>[-suffix] (from a vector) and s-<name>
(synthetic).  Anything else in a corpus folder (for example inputs a campaign found and
someone merged in with -merge=1) is left alone.  Each target's input layout is the one its
fuzz_<target>.c documents.
"""
import glob
import json
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VECTORS = os.path.join(ROOT, "spec", "vectors")
CORPUS = os.path.join(HERE, "corpus")
TARGETS = ["frame", "body", "serial", "serial_roundtrip", "names", "caphdr", "options",
           "roundtrip_struct", "node", "node_paths", "pcie", "udp", "eth", "mk", "minet", "conf"]
OWNED = ("v-", "s-")

T_DISCOVER, T_LINK_RESET, T_LINK_ACTIVATE, T_PATH_OPEN, T_BUNDLE = 0x01, 0x02, 0x03, 0x28, 0x12
TYPES = [0x01, 0x02, 0x03, 0x04, 0x10, 0x11, 0x12, 0x13, 0x20, 0x21, 0x22, 0x28, 0x29, 0x2A,
         0x2B, 0x2C, 0x2D, 0x30, 0x40, 0x41]


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def serial_encode(frame):
    raw = frame + struct.pack(">I", crc32c(frame))
    out = bytearray([0x7E])
    for b in raw:
        if b in (0x7E, 0x7D):
            out += bytes([0x7D, b ^ 0x20])
        else:
            out.append(b)
    out.append(0x7E)
    return bytes(out)


def sequenced(t):
    return 0x10 <= t <= 0x3F


def body_seed(t, chan, cseq, flags, body):
    return struct.pack(">BIIB", t, chan, cseq, flags & 0xF) + body


def frame_seeds(v, raw, out, prefix="v-"):
    name = v["name"]
    out["frame"][prefix + name] = raw
    if len(raw) < 4:
        return
    t = raw[1]
    length = min(struct.unpack(">H", raw[2:4])[0], len(raw))
    frame = raw[:length]
    # body: the frame's body with its header's chan/cseq.
    if sequenced(t) and len(frame) >= 16:
        chan, cseq = struct.unpack(">II", frame[8:16])
        out["body"][prefix + name] = body_seed(t, chan, cseq, frame[0], frame[16:])
    elif not sequenced(t):
        out["body"][prefix + name] = body_seed(t, 0, 0, frame[0], frame[4:])
    # bundle members, one body seed each
    if t == T_BUNDLE and v.get("valid"):
        pos, k = 16, 0
        while pos + 12 <= len(frame):
            mlen = struct.unpack(">H", frame[pos + 2:pos + 4])[0]
            if mlen < 12 or pos + mlen > len(frame):
                break
            chan, cseq = struct.unpack(">II", frame[pos + 4:pos + 12])
            out["body"][prefix + "%s-m%d" % (name, k)] = body_seed(frame[pos + 1], chan, cseq,
                                                            frame[pos], frame[pos + 12:pos + mlen])
            pos += mlen
            k += 1
    if v.get("valid"):
        out["serial_roundtrip"][prefix + name] = bytes([len(frame) % 256]) + frame
        line = serial_encode(frame)
        out["serial"][prefix + name] = struct.pack(">HI", 0x8000, 0) + line
        # the same line twice, fed in 1..16-byte chunks, into storage that is too small
        out["serial"][prefix + "%s-small" % name] = struct.pack(">HI", (len(frame) + 3) % 2048,
                                                         0x40000001) + line + line
    # options: the option area behind valid fixed fields
    opt_off = {T_DISCOVER: 20, T_LINK_RESET: 28, T_LINK_ACTIVATE: 28}.get(t)
    carrier = {T_DISCOVER: 0, T_LINK_RESET: 1, T_LINK_ACTIVATE: 2}.get(t)
    if t == T_PATH_OPEN and len(frame) >= 37:
        opt_off = 37 + frame[36]
        carrier = 3
    if opt_off is not None and len(frame) >= opt_off:
        out["options"][prefix + name] = bytes([carrier]) + frame[opt_off:]


def serial_seeds(v, raw, out):
    name = v["name"]
    out["serial"]["v-" + name] = struct.pack(">HI", 0x8000, 0) + raw
    out["serial"]["v-%s-bytes" % name] = struct.pack(">HI", 0x8000, 0x00000001) + raw
    for i, fr in enumerate(v.get("fields", {}).get("frames", [])):
        out["serial_roundtrip"]["v-%s-%d" % (name, i)] = b"\x00" + bytes.fromhex(fr)


def name_seeds(v, raw, out):
    out["names"]["v-" + v["name"]] = raw


def pattern_seeds(v, raw, out):
    f = v.get("fields", {})
    pieces = [raw] + [n.encode() for n in f.get("match", []) + f.get("nomatch", [])]
    out["names"]["v-" + v["name"]] = b"\x00".join(pieces)


def synthetic(out):
    rnd = random.Random(0x88B5)
    # roundtrip_struct: one sane and one chaos seed per type
    for i, t in enumerate(TYPES):
        for mode in (0, 1):
            body = bytes(rnd.randrange(256) for _ in range(192))
            out["roundtrip_struct"]["s-%02x-%s" % (t, "chaos" if mode else "sane")] = \
                bytes([i, mode, 0, 0, 0, 0]) + body
    # names: the matcher's worst cases, so replay alone catches exponential matching
    comp = "**/" * 40 + "x"
    name = "/".join(["a"] * 62) + "/b"
    out["names"]["s-globstar-bomb"] = comp.encode() + b"\x00" + name.encode()
    star = "*a" * 31 + "*b"
    out["names"]["s-star-bomb"] = star.encode() + b"\x00" + b"a" * 63
    mixed = "/".join(["*a*a*a*a*a*a*a*c", "**"] * 6)[:127].rstrip("/")
    out["names"]["s-mixed-bomb"] = mixed.encode() + b"\x00" + "/".join(["a" * 15] * 8).encode()
    out["names"]["s-basic"] = b"svc/**/db-?\x00svc/eu/west/db-1\x00svc/db-2\x00key\x00value"
    # caphdr and serial basics in case no vector covers them
    out["caphdr"]["s-serial-fcs"] = bytes([0x4D, 1, 3, 2, 0, 7, 0, 0])
    out["caphdr"]["s-bad-magic"] = bytes([0x4E, 1, 1, 0, 0, 0, 0, 0])
    hello = bytes([0x10, 0x10, 0x00, 0x14, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]) + b"\x7e\x7d\x00\x01"
    line = serial_encode(hello)
    out["serial"]["s-two-frames-chunked"] = struct.pack(">HI", 0x8000, 0x80000003) + line + line
    out["serial"]["s-abort"] = struct.pack(">HI", 0x8000, 0) + line[:6] + b"\x7d\x7e" + line
    out["serial"]["s-garbage-then-frame"] = struct.pack(">HI", 0x8000, 0) + b"abc" + line
    out["serial_roundtrip"]["s-escapes"] = b"\x05" + hello
    out["options"]["s-all-known"] = (b"\x00" + b"\x01\x03abc" + b"\x02\x02e0" +
                                     b"\x03\x04\x00\x00\x00\x1f" + b"\x04\x04\x00\x10\x00\x00" +
                                     b"\x05\x02\x00\x7d" + b"\x06\x06\x02\x00\x00\x00\x00\x01" +
                                     b"\x81\x01\x01" + b"\x42\x00")
    out["options"]["s-path-open-named"] = b"\x07" + b"\x01\x03abc"
    for name, fr in synthetic_frames():
        frame_seeds({"name": name, "valid": True}, fr, out, "s-")
    node_seeds(out)
    node_paths_seeds(out)
    stack_seeds(out)


def frame(t, body, seq=None, flags=0):
    """A frame of type t; seq = (seq, ack, chan, cseq) for sequenced types."""
    hdr = 4 + (12 if seq is not None else 0)
    out = struct.pack(">BBH", 0x10 | flags, t, hdr + len(body))
    if seq is not None:
        out += struct.pack(">HHII", *seq)
    return out + body


def name_rec(name, props=()):
    b = struct.pack(">IHBBIB", 9, 1, 1, 5, 1, len(name)) + name + bytes([len(props)])
    for k, v in props:
        b += bytes([len(k)]) + k + bytes([len(v)]) + v
    return b


def synthetic_frames():
    """Frames built here from wire.h's layouts, so every target has seeds even before
    spec/vectors exists; the vectors remain the cross-checked ones."""
    opts = b"\x01\x03abc" + b"\x03\x04\x00\x00\x00\x1f"
    yield "discover", frame(0x01, struct.pack(">IIBBHI", 1, 7, 1, 0, 1500, 0x1234) + opts)
    yield "link-reset", frame(0x02, struct.pack(">IIIHHHHHBB", 1, 2, 0x1234, 9, 100, 500, 256,
                                                 1500, 3, 0) + opts)
    yield "link-state-gaps", frame(0x04, struct.pack(">HHHBBII", 9, 10, 20, 1, 2, 5, 6) +
                                   struct.pack(">HHHH", 12, 13, 15, 18))
    yield "data", frame(0x10, b"abcd", (5, 3, 0x100, 7))
    yield "data-ackreq", frame(0x10, b"", (5, 3, 0x100, 8), flags=0x8)
    yield "fragment", frame(0x11, struct.pack(">BBHII", 0x10, 0, 0, 3000, 1000) + b"x" * 40,
                            (6, 3, 0x100, 9))
    members = b""
    for i, body in enumerate([b"one", b"two!", struct.pack(">II", 0x100, 50)]):
        t = 0x2C if i == 2 else 0x10
        members += struct.pack(">BBHII", 0x10, t, 12 + len(body), 0x100 + (i == 2) * 0, i) + body
    yield "bundle", frame(0x12, members, (7, 3, 0, 0))
    eth = bytes(range(6)) + bytes(range(6, 12)) + b"\x08\x00" + b"payload"
    yield "minet", frame(0x13, struct.pack(">BBHHHHH", 1, 1, 54, 1448, 34, 16, 0) + eth,
                         (8, 3, 1, 0))
    rec = name_rec(b"svc/db", [(b"role", b"primary"), (b"zone", b"")])
    yield "name-publish", frame(0x20, rec, (9, 3, 0, 1))
    yield "name-withdraw", frame(0x21, struct.pack(">IIB", 9, 2, 6) + b"svc/db", (10, 3, 0, 2))
    recs = b"".join(struct.pack(">H", len(r)) + r for r in [rec, name_rec(b"a/b")])
    yield "name-sync", frame(0x22, struct.pack(">BBH", 3, 0, 2) + recs, (11, 3, 0, 3))
    yield "path-open", frame(0x28, struct.pack(">IIIIBBHB", 0x100, 1, 2, 64, 1, 0, 0, 3) + b"svc" +
                             b"\x05\x02\x00\x64", (12, 3, 0, 4))
    yield "path-accept", frame(0x29, struct.pack(">III", 0x100, 0x101, 64), (13, 3, 0x100, 0))
    yield "path-close", frame(0x2A, struct.pack(">IIIB3x", 0x100, 0x101, 9, 10),
                              (14, 3, 0x100, 1))
    yield "path-abort", frame(0x2B, struct.pack(">IIH2x", 0x100, 0x101, 2), (15, 3, 0x100, 2))
    yield "path-credit", frame(0x2C, struct.pack(">II", 0x100, 80), (16, 3, 0x100, 3))
    yield "service-status", frame(0x2D, struct.pack(">BBHIIIB", 6, 0, 0, 2, 0x100, 9, 3) + b"svc",
                                  (17, 3, 0, 5))
    yield "mgmt", frame(0x30, struct.pack(">IIIIBBHI", 1, 2, 0, 3, 2, 0, 0, 4) +
                        struct.pack(">HHHH", 1, 0, 0x50, 7) + b"ping", (18, 3, 0, 6))
    yield "secured", frame(0x40, struct.pack(">BBHQ", 1, 0, 0, 42) + b"\x10\x10\x00\x04" +
                           bytes(16))
    yield "key-exchange", frame(0x41, struct.pack(">BBHII", 1, 1, 1, 1, 77) + bytes(range(80)))


def node_seeds(out):
    """fuzz_node: setup(8) seed(32) then ops (op & 0x0F = what, bit 7 = which node,
    bit 6 = which bearer, bits 4-5 = channel of a send)."""
    def tick(ms):
        return bytes([0x00]) + struct.pack(">H", max(0, ms * 10 - 1))
    exchange = bytes([0x02, 0x82, 0x42, 0xC2]) * 2
    up = b"".join(tick(20) + exchange for _ in range(12))
    sends = bytes([0x0A]) + struct.pack(">H", 100) + bytes([0x1A]) + struct.pack(">H", 3000) + \
        bytes([0x8A]) + struct.pack(">H", 40)
    settle = b"".join(tick(2) + exchange for _ in range(8))
    out["node"]["s-handshake"] = bytes([0x02]) + struct.pack(">I", 1) + up
    out["node"]["s-send"] = bytes([0x02]) + struct.pack(">I", 2) + up + sends * 3 + settle
    # loss, duplication, reordering on bearer 0, then bearer 0 cut: failover to bearer 1
    hostile = bytes([0x05, 0x06, 0x07, 0x02, 0x86, 0x82]) * 3
    out["node"]["s-lossy"] = bytes([0x06]) + struct.pack(">I", 3) + up + sends + hostile + settle
    # s-failover and s-alloc-fail (bearer cut, allocation failures) found core bugs and
    # live in fuzz/regressions/node/ until they are fixed.
    # small MTU (fragments), window 1, naming on and a publication
    out["node"]["s-frag-names"] = bytes([0x80 | 0x04 | 0x00]) + struct.pack(">I", 5) + up + \
        bytes([0x0F, 3, 9, 1]) + sends * 2 + settle


def node_paths_seeds(out):
    """fuzz_node_paths: setup(16) seed(32) then ops (op & 0x1F = what, bit 7 = which node,
    bit 6 = which bearer; see the switch in fuzz_node_paths.c).  Setup bits 8-9 / 10-11
    are the security of A / B: 0 PLAIN, 1 REQUIRED, 2 TRANSITION, 3 no crypto table."""
    def tick(ms):
        return bytes([0x00]) + struct.pack(">H", max(0, ms * 10 - 1))
    exchange = bytes([0x02, 0x82, 0x42, 0xC2]) * 2
    up = b"".join(tick(20) + exchange for _ in range(12))
    settle = b"".join(tick(5) + exchange for _ in range(4))

    def op(code, who=0, bearer=0, *args):
        return bytes([code | (who << 7) | (bearer << 6)] + list(args))

    def publish(who, name_idx, dev, rank=1, excl=False, same_gen=False):
        a = name_idx | ((dev - 1) << 3) | (0x20 if excl else 0) | (0x40 if same_gen else 0)
        return op(16, who, 0, a, rank)

    def send(who, k, n):
        return op(11, who, 0, k) + struct.pack(">H", n)

    names = publish(1, 0, 1) + publish(1, 3, 3) + publish(1, 1, 2) + publish(0, 4, 1) + \
        publish(0, 6, 2, rank=9, excl=True) + publish(1, 6, 3, rank=3, excl=True)
    # A: a path to B's device 3 (auto-accept), by name (svc/a), a group by pattern (**).
    opens = op(10, 0, 0, 0x20) + op(22, 0, 0, 0x00, 0) + op(23, 0, 0, 0x02, 0) + \
        op(22, 0, 0, 0x43, 1) + op(23, 1, 0, 0x01, 0)
    sends = b"".join(send(0, k, 100 + 700 * k) + send(1, k, 40) for k in range(4))
    ends = op(21, 1, 0, 0) + op(21, 1, 0, 1) + op(20, 0, 0, 0) + op(24, 1, 0, 1) + \
        op(25, 0, 0, 2) + op(19, 1, 0, 3)
    body = up + names + settle + opens + settle + sends + settle + sends + settle + ends + \
        settle + op(17, 1, 0, 0x00) + op(17, 0, 0, 0x0E) + settle

    def seed(setup, n, ops):
        return struct.pack(">HI", setup, n) + ops

    # both nodes without a crypto table, devices 1 auto-accept
    out["node_paths"]["s-paths-plain"] = seed(0x3F02, 1, body)
    # secured both ways (REQUIRED/REQUIRED), a rekey in the middle
    out["node_paths"]["s-paths-secured"] = seed(0x3502, 2, body[:len(up) + len(names)] +
                                                op(27) + settle + body[len(up) + len(names):])
    # TRANSITION meets REQUIRED (secured) and TRANSITION meets PLAIN (plain)
    out["node_paths"]["s-paths-transition"] = seed(0x3602, 3, body)
    out["node_paths"]["s-paths-transition-plain"] = seed(0x3202, 4, body)
    # REQUIRED meets PLAIN: no link may form
    out["node_paths"]["s-sec-nolink"] = seed(0x0102, 5, up + names + settle + opens + settle)
    # manual accept and refusal, window 1 links, small MTU (fragments), consume
    manual = up + names + settle + op(10, 0, 0, 0x10) + op(10, 0, 0, 0x11) + \
        op(10, 0, 0, 0x30) + settle + op(18, 1, 0, 0) + op(19, 1, 0, 1) + op(18, 1, 0, 0) + \
        settle + sends + settle + op(21, 1, 0, 0x80 | 3) + sends + settle + ends + settle
    out["node_paths"]["s-paths-manual"] = seed(0x0F04, 6, manual)
    # names published before the link is up (NAME_SYNC), a peer loss (both bearers cut,
    # long silence), withdrawals meanwhile, then healing: a NAME_SYNC that sweeps
    cutall = op(14, 0, 0) + op(14, 0, 1)
    resync = names + up + settle + cutall + tick(3000) + tick(3000) + \
        op(17, 1, 0, 0x00) + publish(1, 2, 4) + cutall + up + settle
    out["node_paths"]["s-names-sync"] = seed(0x3F02, 7, resync)
    # a lossy network under path traffic: loss, duplicates, reordering
    hostile = bytes([0x05, 0x06, 0x07, 0x02, 0x86, 0x82, 0x47, 0x42]) * 4
    out["node_paths"]["s-paths-lossy"] = seed(0x3F02, 8, up + names + settle + opens + settle +
                                              sends + hostile + sends + hostile + settle)
    # credit: A opens by name granting a window of 4; B sends past it, A consumes late
    burst = b"".join(send(1, 0, 50 + i) + op(13, 1, 0) + exchange for i in range(10))
    out["node_paths"]["s-credit"] = seed(0x3F02, 11, up + names + settle + op(22, 0, 0, 0x80, 0) +
                                         settle + burst + settle + op(21, 0, 0, 0) + settle +
                                         burst + settle + op(21, 0, 0, 0) + burst + settle)
    # bit flips in name records and path control frames that keep the header valid: the
    # body fails to decode, its channel position is consumed without delivery (rx_void)
    flips = b""
    for k in (29, 30, 33, 36, 40):
        flips += publish(1, k % 8, 1 + k % 3) + op(13, 1, 0) + op(8, 1, 1) + \
            struct.pack(">H", k * 8 + 7) + op(8, 1, 0) + struct.pack(">H", k * 8 + 7) + settle
    pflips = b""
    for k in (17, 18, 20, 24, 28):
        pflips += op(10, 0, 0, 0x20) + settle + op(20, 1, 0, k % 4) + op(13, 1, 0) + \
            op(8, 1, 1) + struct.pack(">H", k * 8 + 7) + settle
    out["node_paths"]["s-void-bodies"] = seed(0x3F02, 9, up + names + settle + flips + pflips)
    # a path message in fragments (MTU 256) whose first fragment's inner type is flipped:
    # the reassembly ends, the cseq is a tombstone on the path (mpa_input_void), and the
    # path goes on with the next message; then one whose later fragment is flipped
    frag = b""
    for k in (16, 16 + 9, 30):
        frag += send(0, 0, 1000) + op(13, 0, 0) + op(8, 0, 1) + struct.pack(">H", k * 8 + 7) + \
            op(8, 0, 1) + struct.pack(">H", k * 8 + 6) + settle + send(0, 0, 300) + settle
    out["node_paths"]["s-fragment-void"] = seed(0x3F00, 12, up + names + settle +
                                                op(10, 0, 0, 0x20) + settle + frag)
    # a lying peer: NAME_SYNC records built field by field, raw NAME_WITHDRAW/PATH_OPEN
    sync = op(30, 1, 0, 0x06, 0x00, 3, 0x00, 5, 7, 0x23, 2, 9, 0x41, 1, 1, 4) + b"x/yz"
    sweep = op(30, 1, 0, 0x06, 0x01, 0)
    def forged(who, sel, body):
        return op(30, who, 0, sel, len(body)) + body
    withdraw = forged(1, 0x01, struct.pack(">IIB", 1, 9, 5) + b"svc/a")
    popen = forged(0, 0x03, struct.pack(">IIIIBB", 0x100, 1, 3, 64, 1, 5) + b"svc/a")
    out["node_paths"]["s-forged"] = seed(0x3F02, 10, up + names + settle + sync + settle +
                                         withdraw + popen + settle + sweep + settle)


def pcie_seeds(out):
    """fuzz_pcie: role(8), then the geometry/hello bytes of that role, then ops (op % 10:
    0 peer state, 1 produce, 2 raw prod, 3 tx cons, 4 readable, 5 send, 6 wake words,
    7 enable toggle, 8 reserve/commit, 9 hang up)."""
    def produce(*frames):
        b = bytes([1, len(frames)])
        for f in frames:
            b += struct.pack(">H", len(f)) + f
        return b
    data = frame(0x10, b"hello", (1, 0, 0x100, 0))
    traffic = (produce(data, b"x" * 40, b"") + bytes([4, 16]) + bytes([5, 3]) + bytes(25) +
               bytes([3, 1]) + bytes([5, 0, 0x41]) + bytes([8, 2]) +
               produce(struct.pack(">HH", 0xFFFF, 0) + b"y") + bytes([4, 63]))
    # the bearer is the IOP: slot 512 x 4 slots, valid window and hello
    iop = bytes([0x00, 0x0B, 0x00, 0x00])
    out["pcie"]["s-iop-run"] = iop + bytes([0, 3, 4, 8]) + traffic + bytes([6, 7, 4, 1, 9])
    out["pcie"]["s-iop-poll-copy"] = bytes([0x00, 0x0B | 0x60, 0x00, 0x00]) + \
        bytes([0, 3, 4, 8]) + traffic + bytes([0, 1, 4, 1])
    out["pcie"]["s-iop-bad-prod"] = iop + bytes([0, 3, 4, 8]) + bytes([2]) + \
        struct.pack(">I", 0x100) + bytes([4, 8])
    out["pcie"]["s-iop-bad-geometry"] = bytes([0x00, 0x0B, 0x0C]) + struct.pack(">I", 0x1010) + \
        struct.pack(">I", 0x1000) + bytes([0]) + bytes([0, 3, 4, 8])
    out["pcie"]["s-iop-bad-hello"] = bytes([0x00, 0x0B, 0x00, 0x0D, 4, 4])
    out["pcie"]["s-iop-short-window"] = bytes([0x00, 0x0B, 0x10]) + struct.pack(">I", 100) + \
        bytes([0, 4, 4])
    # the bearer is the host: 4 slots of 512
    host = bytes([0x01, 0x0B])
    out["pcie"]["s-host-run"] = host + bytes([4, 8, 0, 3, 4, 8]) + traffic + bytes([0, 0, 4, 4])
    out["pcie"]["s-host-poll"] = bytes([0x01, 0x4B]) + bytes([4, 8, 0, 3]) + traffic + bytes([9])
    out["pcie"]["s-host-full-ring"] = host + bytes([4, 8, 0, 3]) + \
        produce(*[b"z" * 9] * 5) + bytes([4, 8]) + bytes([5, 1]) + bytes(9) * 6


def udp_seeds(out):
    """fuzz_udp: setup(8) mtu(16) then ops % 5 (0 peer sends who(8) len(16) bytes,
    1 readable budget(8), 2 bearer sends len(16) to(8) bytes, 3 enable, 4 stats)."""
    def send(who, payload):
        return bytes([0, who]) + struct.pack(">H", len(payload)) + payload
    data = frame(0x10, b"payload", (1, 0, 0x100, 0))
    base = struct.pack(">BH", 0, 1400 - 64)
    ops = (send(0, data) + send(1, b"") + send(0, b"q" * 1400) + send(1, b"r" * 1420) +
           bytes([1, 8]) + bytes([2]) + struct.pack(">HB", 5, 0) + b"hello" +
           bytes([2]) + struct.pack(">HB", 3, 2) + b"own" + bytes([1, 4]) +
           bytes([3]) + send(0, data) + bytes([1, 4, 3]) + send(1, data) + bytes([1, 4, 4]))
    out["udp"]["s-v4"] = base + ops
    out["udp"]["s-v6"] = struct.pack(">BH", 1, 1200) + ops
    out["udp"]["s-big"] = struct.pack(">BH", 0, 0x8000 | 60000) + bytes([0, 0]) + \
        struct.pack(">H", 0xC000) + bytes(100) + bytes([1, 2])


def eth_seeds(out):
    """fuzz_eth: setup(8) [ethertype(16)] mtu(16) ifmtu(16) mac(6), then ops % 5 (0 frame
    flags(8) len(16) bytes, 1 readable, 2 send len(16) sel(8) bytes [dst], 3 enable,
    4 stats)."""
    mac = bytes([0x02, 0x4d, 0, 0, 0, 1])
    peer = bytes([0x02, 0x4d, 0, 0, 0, 2])
    data = frame(0x10, b"hi", (1, 0, 0x100, 0))
    def wire(fl, dst, src, et, payload):
        b = dst + src + struct.pack(">H", et) + payload
        return bytes([0, fl]) + struct.pack(">H", len(b)) + b
    frames = (wire(0x00, mac, peer, 0x88B5, data) + wire(0x01, b"\xff" * 6, peer, 0x88B5, data) +
              wire(0x03, mac, peer, 0x88B5, data) + wire(0x04, mac, peer, 0x88B5, data) +
              wire(0x00, mac, peer, 0x0800, data) + wire(0x00, mac, peer, 0x88B5, b"") +
              wire(0x00, mac, mac, 0x88B5, data) + wire(0x40, mac, peer, 0x88B5, data + bytes(46)) +
              wire(0x00, mac, peer, 0x88B5, bytes(1600)) + bytes([1, 16]))
    sends = (bytes([2]) + struct.pack(">HB", 5, 0) + b"hello" + peer +
             bytes([2]) + struct.pack(">HB", 3, 1) + b"bye" +
             bytes([2]) + struct.pack(">HB", 3, 4) + b"eio" + peer +
             bytes([2]) + struct.pack(">HB", 3, 0x12) + b"bad" + peer + bytes([3]) + frames +
             bytes([3, 4]))
    hdr = struct.pack(">HH", 1500 - 64, 1500 - 64) + mac
    out["eth"]["s-packet"] = bytes([0]) + hdr + frames + sends
    out["eth"]["s-pcap"] = bytes([1]) + hdr + frames + sends
    out["eth"]["s-small-mtu"] = bytes([0]) + struct.pack(">HH", 100, 36) + mac + frames
    out["eth"]["s-ethertype"] = bytes([3]) + struct.pack(">H", 0x1234) + hdr + \
        wire(0x08, mac, peer, 0, data) + bytes([1, 4])


def mk_seeds(out):
    """fuzz_mk: setup(8) then ops % 4 (0 message, 1 time, 2 loopback, 3 drain).  A message:
    src(8) corr(8) epoch(8) src_ent(8) dst_ent(8) gflags(8) n(8) n x {sel(8) [op(16)] arg(16)}
    plen(16) payload; sel indexes the opcode table of fuzz_mk.c."""
    HB, HBACK, REG, UNREG, CONF, BOOT, RESET = 1, 2, 3, 4, 5, 6, 7
    PSTART, PSTOP, PFAIL, RECOV, TAKEOVER, SAVE, ACK, RESTORE = 12, 13, 14, 15, 16, 17, 18, 19
    STATS, FENCE, ELECT, FZA, FZB, FZC = 20, 22, 23, 24, 25, 26
    def block(op, data):
        return struct.pack(">HH", op, len(data)) + data
    def props(kv):
        b = bytes([len(kv)])
        for k, v in kv:
            b += bytes([len(k)]) + k + bytes([len(v)]) + v
        return b
    def msg(src, corr, epoch, se, de, gf, uops, payload=b""):
        b = bytes([0, src, corr, epoch, se, de, gf, len(uops)])
        for sel, arg in uops:
            if isinstance(sel, tuple):
                b += bytes([0x80]) + struct.pack(">HH", sel[1], arg)
            else:
                b += bytes([sel]) + struct.pack(">H", arg)
        return b + struct.pack(">H", len(payload)) + payload
    reg = block(0x0010, struct.pack(">I", 9) + props([(b"kind", b"proc"), (b"node", b"1"),
                                                      (b"on-crash", b"restart")]))
    save = block(0x0040, struct.pack(">III", 7, 0x100, 5) + b"state")
    out["mk"]["s-heartbeat"] = bytes([0x04]) + msg(1, 5, 1, 2, 0, 0, [(HB, 1)]) + bytes([3]) + \
        bytes([1, 0, 200]) + bytes([2, 7]) + bytes([1, 2, 0]) + bytes([3])
    out["mk"]["s-register"] = bytes([0x03]) + msg(1, 6, 1, 4, 1, 0, [(REG, 0)], reg) + \
        msg(1, 7, 1, 4, 1, 0, [(PFAIL, 2)], struct.pack(">HHI", 0x0032, 4, 9)) + bytes([2, 7, 1, 1, 0])
    out["mk"]["s-ckpt"] = bytes([0x00]) + msg(2, 8, 1, 1, 0, 0, [(SAVE, 0)], save) + bytes([2, 7]) + \
        msg(2, 9, 1, 1, 0, 0, [(RESTORE, 0)], block(0x0042, struct.pack(">III", 7, 0, 0))) + bytes([3])
    out["mk"]["s-iop"] = bytes([0x00]) + msg(1, 10, 1, 3, 0, 0, [(CONF, 0), (BOOT, 0)]) + \
        msg(1, 11, 1, 3, 0, 0, [(RESET, 0), (9, 1)]) + bytes([3])
    out["mk"]["s-fencing"] = bytes([0x02]) + msg(1, 12, 5, 1, 0, 0, [(ELECT, 0), (FENCE, 5)]) + \
        msg(1, 13, 3, 1, 0, 0, [(PSTART, 9), (PSTOP, 9), (RECOV, 9), (TAKEOVER, 0)]) + bytes([3])
    fz_uops = [(FZA, (0x10 << 4) | 1), (FZA, 2 | (4 << 4)), (FZB, 5), (FZB, 6 | (20 << 4)),
               (FZC, 7 | (0x35 << 4)), (FZA, 8), (FZA, 3 | (2 << 4)), (FZA, 4 | (9 << 4)),
               (STATS, 0), (FZC, 9 | (5 << 4))]
    out["mk"]["s-element-api"] = bytes([0x00]) + msg(1, 14, 1, 0, 0, 0, fz_uops,
                                                     block(0x8001, b"abcd") + block(0x8002, b"")) + \
        bytes([2, 7, 3])
    out["mk"]["s-append-limit"] = bytes([0x00]) + msg(1, 15, 1, 0, 0xFF, 0, [(FZA, 1 | (0x20 << 4))] * 40) + \
        bytes([3])
    out["mk"]["s-reply"] = bytes([0x00]) + msg(1, 16, 1, 0, 0, 1, [(HBACK, 1), ((0, 0x8003), 9)]) + \
        msg(3, 0, 1, 0, 0, 2, [(0, 0)]) + bytes([3])


def minet_seeds(out):
    """fuzz_minet: setup(8) then ops % 9 (0 message, 1 peer up, 2 peer down, 3 tap frame,
    4 time, 5 expire, 6 learn, 7 lookup, 8 format)."""
    def msg(peer, mode, dst, src, n, mflags=0x01, chan=0):
        return bytes([0, peer, chan, mode, mflags, 4]) + struct.pack(">HHHH", 54, 1448, 34, 16) + \
            bytes([dst, src, n]) + bytes(range(4 * n))
    up = bytes([1, 2, 1, 3])
    base = up + msg(2, 0, 0, 1, 8) + msg(3, 0, 6, 2, 2) + bytes([3, 1, 3, 40, 3, 0, 4, 40]) + \
        bytes([3, 6, 4, 20, 3, 5, 4, 20]) + bytes([7, 1, 7, 2, 8, 200, 8, 3])
    out["minet"]["s-learn-forward"] = bytes([0x03]) + base + bytes([2, 2, 3, 0, 3, 20])
    out["minet"]["s-ageing"] = bytes([0x0B]) + base + bytes([4 | 0x80, 0, 40, 5, 7, 1]) + \
        msg(2, 0, 0, 1, 8) + bytes([6, 4, 5, 6, 3, 4])
    out["minet"]["s-table-full"] = bytes([0x00]) + up + msg(2, 0, 0, 1, 1) + msg(2, 0, 0, 4, 1) + \
        msg(3, 0, 0, 5, 1) + bytes([6, 3, 0x80, 2, 2, 2, 2, 2, 2, 3, 3, 0, 4, 20])
    out["minet"]["s-bad"] = bytes([0x04]) + up + msg(2, 0, 0, 1, 8) + msg(2, 4, 0, 1, 8) + \
        msg(2, 8, 0, 1, 8, chan=0) + bytes([0, 2, 0x80, 0]) + bytes([0, 2, 0x40, 0]) + \
        bytes([0, 2, 0, 1]) + struct.pack(">H", 20) + bytes(20) + msg(1, 0, 0, 7, 1) + \
        msg(0, 0, 0, 9, 1) + msg(2, 2, 0, 1, 1, mflags=0xFF)


def conf_seeds(out):
    """fuzz_conf: the file's bytes (msgrd's configuration file, stack/daemon/README.md)."""
    out["conf"]["s-readme"] = (
        b"# comments start with '#'\nnode_id = 1\ndomain = 7\ntolerance = 500\n"
        b"socket = /run/msgr/msgrd.sock\nsocket_mode = 0660\nsocket_group = msgr\n"
        b"pidfile = /run/msgr/msgrd.pid\nlog_level = info,link=debug\n"
        b"bearer = udp:bind=127.0.0.1:9001,group=none,peer=127.0.0.1:9002\n\n"
        b"[bearer]            # one bearer per section: type first, then its keys\n"
        b"type = eth\nifname = veth0\nprio = 1\n\n[bearer]\n"
        b"spec = serial:path=/dev/ttyS1,baud=115200\n")
    out["conf"]["s-node-section"] = b"[node]\nnode-id = 0x10\nlog-level = warn\r\n[bearer]\n" \
        b"type = pcie\nname = iop0\nrole = host\n[node]\ndomain=1\n"
    out["conf"]["s-errors"] = b"node_id = 4294967295\n"
    out["conf"]["s-bad-section"] = b"[bearers]\nx\n"
    out["conf"]["s-long-line"] = b"socket = " + b"a" * 600 + b"\n"
    out["conf"]["s-spec-overflow"] = b"[bearer]\ntype = udp\n" + \
        b"".join(b"k%d = %s\n" % (i, b"v" * 60) for i in range(10))
    out["conf"]["s-many-bearers"] = b"".join(b"bearer = udp:bind=127.0.0.1:%d\n" % (9000 + i)
                                             for i in range(20))
    # [minet] (stack/daemon/conf_minet.c): every key, then values at and past their limits.
    out["conf"]["s-minet"] = (
        b"node_id = 1\n[minet]\nenabled = yes\ntap = minet0\nmac = 02:4d:00:00:00:01\n"
        b"mtu = 1500\ndomain = 7\nageing = 300\nmax_entries = 4096\ntxqueuelen = 1000\n"
        b"offload = off\naddress = 10.77.0.1/24\naddress = fd77::1/64\naddr = 10.77.1.1\n")
    out["conf"]["s-minet-limits"] = (
        b"[minet]\nmtu = 576\nmtu = 65000\ndomain = 65535\nmac = 03:00:00:00:00:01\n"
        b"mac = 00:00:00:00:00:00\ntap = a/b\naddress = 10.0.0.1/33\naddress = fd::1/0129\n"
        b"enabled = maybe\n")
    # Least privilege (stack/daemon/priv.c): user, group, keep_caps; then a bad capability.
    out["conf"]["s-priv"] = (
        b"node_id = 1\nuser = msgr\ngroup = msgr\nkeep_caps = net_raw,net_bind_service\n"
        b"keep-caps = none\nkeep_caps = net_raw,cap_sys_admin\nuser =\n")
    # [ha] and [exec] (stack/daemon/conf_ha.c): every key, then values past their limits,
    # an [exec] without a command and two [exec] with one name.
    out["conf"]["s-ha"] = (
        b"node_id = 7\n[ha]\nftm = active\nftm_node = 7\nepoch = 1\nrank = 2\n"
        b"hb_period_ms = 100\nhb_threshold = 3\nmax_restarts = 3\nrestart_window_ms = 600000\n"
        b"max_failovers = 2\nbackoff_base_ms = 100\nbackoff_cap_ms = 30000\nbudget = 8\n"
        b"budget_window_ms = 60000\nrecover_timeout_ms = 10000\nrestart_clean_exit = 1\n"
        b"ckpt_replica = 2\nckpt_node = 2\n[exec]\nname = app\ncommand = /bin/true\ndevices = app/a,app/b\n"
        b"entity = 0x100\nhome = 7\nstandby = 8\non_exit = restart\non_crash = failover\n"
        b"on-hang = stop\n[exec]\nname = b\ncommand = /bin/false\n")
    out["conf"]["s-ha-limits"] = (
        b"[ha]\nhb_period_ms = 9\nhb_threshold = 101\nftm = leader\nbudget = 65\n"
        b"[exec]\nname = a\n[exec]\nname = x\ncommand = y\n[exec]\nname = x\ncommand = z\n"
        b"entity = 0xff\non_exit = sometimes\n")
    # The FTM's monitor (stack/daemon/conf_ha.c): watch_ftm and ftm_candidates, then bad
    # values (a node twice, five candidates, an empty entry, yes/no misspelt).
    out["conf"]["s-ha-watch"] = (
        b"node_id = 3\n[ha]\nftm = off\nftm_node = 1\nwatch_ftm = yes\nftm_candidates = 1, 2\n"
        b"ftm_candidates = 2,2\nftm_candidates = 1,2,3,4,5\nftm_candidates = 1,,2\n"
        b"watch_ftm = maybe\n")
    # [iop NAME] (stack/daemon/conf_iop.c): every key; then bad names, a duplicate slot,
    # values past their limits and a standby that names no [iop].
    out["conf"]["s-iop"] = (
        b"node_id = 1\n[ha]\nftm = active\n[iop io1]\nnode = 11\nslot = 1\n"
        b"config = /etc/msgr/io1.conf\nmsgrd = /usr/sbin/msgrd\nsocket = /run/msgr/io1.sock\n"
        b"shim = bus1\nshim_sock = /run/msgr/bus1.shim\nstandby = io2\ndrain_ms = 5000\n"
        b"boot_ms = 10000\nautoboot = no\n[iop io2]\nnode = 12\nslot = 2\nstandby = io1\n")
    out["conf"]["s-iop-limits"] = (
        b"[iop a]\nnode = 3\nslot = 1\n[iop b]\nnode = 4\nslot = 1\n[iop c/d]\n[iop ]\n"
        b"[iop e]\nnode = 0\nslot = 256\ndrain_ms = 9\nautoboot = maybe\nstandby = zz\n")


def stack_seeds(out):
    pcie_seeds(out)
    udp_seeds(out)
    eth_seeds(out)
    mk_seeds(out)
    minet_seeds(out)
    conf_seeds(out)


def generate():
    out = {t: {} for t in TARGETS}
    handlers = {"frame": frame_seeds, "serial": serial_seeds, "name": name_seeds,
                "pattern": pattern_seeds,
                "caphdr": lambda v, raw, o: o["caphdr"].__setitem__("v-" + v["name"], raw)}
    for path in sorted(glob.glob(os.path.join(VECTORS, "*.json"))):
        with open(path) as fp:
            v = json.load(fp)
        h = handlers.get(v.get("kind"))
        if h:
            h(v, bytes.fromhex(v.get("hex", "")), out)
    synthetic(out)
    return out


def write(out, dest):
    for t, files in out.items():
        d = os.path.join(dest, t)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.startswith(OWNED) and f not in files:
                os.remove(os.path.join(d, f))
        for f, data in files.items():
            with open(os.path.join(d, f), "wb") as fp:
                fp.write(data)


def differs(out):
    bad = []
    for t, files in out.items():
        d = os.path.join(CORPUS, t)
        have = {f for f in os.listdir(d) if f.startswith(OWNED)} if os.path.isdir(d) else set()
        for f in sorted(have ^ set(files)):
            bad.append("%s/%s: %s" % (t, f, "stale" if f in have else "missing"))
        for f in sorted(have & set(files)):
            with open(os.path.join(d, f), "rb") as fp:
                if fp.read() != files[f]:
                    bad.append("%s/%s: differs" % (t, f))
    return bad


def main():
    out = generate()
    if "--check" in sys.argv[1:]:
        bad = differs(out)
        for b in bad:
            print("fuzz corpus out of date:", b)
        if bad:
            print("run fuzz/make_corpus.py and commit fuzz/corpus/")
        return 1 if bad else 0
    write(out, CORPUS)
    n = sum(len(f) for f in out.values())
    print("wrote %d seeds for %d targets under %s" % (n, len(out), os.path.relpath(CORPUS, ROOT)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
