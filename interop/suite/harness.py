"""Conformance-suite harness: the driver client, the bearers the suite uses as the peer,
a Scapy-built Messenger peer, test registration and per-requirement reporting."""
import json
import os
import queue
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from scapy_msgr import validate, dissect  # noqa: E402
from scapy_msgr.layers import (Messenger, MsgrDiscover, MsgrLink, MsgrLinkState, MsgrGap,  # noqa: E402
                               MsgrMgmt, MsgrUop, MsgrOption, ETHERTYPE)

ROOT = os.path.dirname(os.path.dirname(HERE))


class Fail(AssertionError):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


# ------------------------------------------------------------------ driver client
class Driver:
    """The implementation under test, through its adapter (interop/DRIVER.md)."""
    def __init__(self, argv, prefix=()):
        self.p = subprocess.Popen(list(prefix) + list(argv), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  bufsize=1)
        self.replies = queue.Queue()
        self.events = []
        self.lock = threading.Lock()
        self.stderr = []
        threading.Thread(target=self._rd, daemon=True).start()
        threading.Thread(target=self._err, daemon=True).start()

    def _rd(self):
        for line in self.p.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                o = json.loads(line)
            except ValueError:
                continue
            o["_t"] = time.monotonic()
            if "event" in o:
                with self.lock:
                    self.events.append(o)
            else:
                self.replies.put(o)

    def _err(self):
        for line in self.p.stderr:
            self.stderr.append(line)

    def cmd(self, cmd, timeout=5, **kw):
        kw["cmd"] = cmd
        self.p.stdin.write(json.dumps(kw) + "\n")
        self.p.stdin.flush()
        r = self.replies.get(timeout=timeout)
        return r

    def wait_event(self, pred, timeout):
        end = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < end:
            with self.lock:
                evs = self.events[seen:]
                seen = len(self.events)
            for e in evs:
                if pred(e):
                    return e
            time.sleep(0.005)
        return None

    def events_of(self, name):
        with self.lock:
            return [e for e in self.events if e["event"] == name]

    def stats(self):
        return self.cmd("stats")["drops"]

    def close(self):
        try:
            self.cmd("quit", timeout=2)
        except Exception:  # noqa: BLE001
            pass
        try:
            self.p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.p.kill()


# ------------------------------------------------------------------ bearers (suite side)
class UdpBearer:
    name = "udp"

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.port = self.s.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t.bind(("127.0.0.1", 0))
        self.iut_port = t.getsockname()[1]
        t.close()
        self.iut = ("127.0.0.1", self.iut_port)
        self.log = []

    def iut_spec(self, extra=""):
        return "udp:bind=127.0.0.1:%d,group=none,peer=127.0.0.1:%d%s" % (
            self.iut_port, self.port, extra)

    def send(self, frame):
        self.s.sendto(bytes(frame), self.iut)

    def recv(self, timeout):
        self.s.settimeout(max(0.0005, timeout))
        try:
            d, a = self.s.recvfrom(70000)
        except socket.timeout:
            return None
        self.log.append((time.monotonic(), d))
        return d

    def close(self):
        self.s.close()


class VethBearer:
    """A veth pair; the IUT's end lives in a network namespace (root only)."""
    name = "veth"
    _n = 0

    def __init__(self):
        VethBearer._n += 1
        tag = "%d%d" % (os.getpid() % 10000, VethBearer._n)
        self.ns = "msgr-iop-" + tag
        self.a, self.b = "mi%s" % tag, "ms%s" % tag
        sh = lambda *c: subprocess.run(c, check=True, capture_output=True)  # noqa: E731
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.a, "type", "veth", "peer", "name", self.b)
        sh("ip", "link", "set", self.a, "netns", self.ns)
        sh("ip", "-n", self.ns, "link", "set", self.a, "up")
        sh("ip", "-n", self.ns, "link", "set", "lo", "up")
        sh("ip", "link", "set", self.b, "up")
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE))
        self.s.bind((self.b, ETHERTYPE))
        self.mac = self.s.getsockname()[4]
        out = subprocess.run(["ip", "-n", self.ns, "-o", "link", "show", self.a],
                             capture_output=True, text=True).stdout
        m = re.search(r"link/ether ([0-9a-f:]{17})", out)
        self.iut_mac = bytes.fromhex(m.group(1).replace(":", ""))
        self.log = []
        time.sleep(0.05)

    def prefix(self):
        return ["ip", "netns", "exec", self.ns]

    def iut_spec(self, extra=""):
        return "eth:ifname=%s%s" % (self.a, extra)

    def send(self, frame, src=None, pad=True):
        f = bytes(frame)
        if pad and len(f) < 46:
            f = f + b"\0" * (46 - len(f))          # MSG-ETH-3
        self.s.send(self.iut_mac + (src or self.mac) + struct.pack("!H", ETHERTYPE) + f)

    def recv(self, timeout):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(max(0.0005, left))
            try:
                d, a = self.s.recvfrom(70000)
            except socket.timeout:
                return None
            if a[2] == socket.PACKET_OUTGOING or len(d) < 14:
                continue
            if struct.unpack("!H", d[12:14])[0] != ETHERTYPE:
                continue
            self.log.append((time.monotonic(), d[14:], d[:6]))
            return d[14:]

    def close(self):
        self.s.close()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.b], capture_output=True)


# ------------------------------------------------------------------ the Scapy peer
class Peer:
    """A scripted Messenger peer built from the Scapy layers (not a full stack: each test
    drives it explicitly, which is how it misbehaves on purpose)."""
    def __init__(self, bearer, node_id=0x0A0000F1, domain=0, iut_id=0, tolerance=500):
        self.b = bearer
        self.node_id, self.domain, self.iut_id = node_id, domain, iut_id
        self.incarnation = random.getrandbits(32) or 1
        self.session = random.getrandbits(16)
        self.next_seq = random.getrandbits(16)
        self.snd_nxt = self.next_seq
        self.tolerance = tolerance
        self.rcv_nxt = None        # from the IUT's setup frame
        self.iut_session = None
        self.cseq = {}
        self.received = []         # every frame the IUT sent (bytes)

    # -- receiving
    def recv(self, types=None, timeout=1.0, pred=None):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            d = self.b.recv(left)
            if d is None:
                return None
            self.received.append(d)
            if validate(d) is not None:
                continue
            p = dissect(d)
            if types and int(p.type) not in types:
                continue
            if pred and not pred(p):
                continue
            return p

    def drain(self, t=0.05):
        while self.recv(timeout=t) is not None:
            pass

    # -- frames
    def discover(self, reply=False, node_id=None, domain=None, incarnation=None):
        return Messenger(type=0x01) / MsgrDiscover(
            node_id=node_id or self.node_id, domain=self.domain if domain is None else domain,
            max_version=1, dflags=1 if reply else 0, mtu=1472,
            incarnation=self.incarnation if incarnation is None else incarnation)

    def link(self, t=0x02, peer_id=None, session=None, incarnation=None, next_seq=None,
             ack_session=None):
        # A LINK_ACTIVATE names the IUT session it answers (ACK_SESSION, MSG-LINK-37).
        if ack_session is None and t == 0x03 and self.iut_session is not None:
            ack_session = self.iut_session
        # Every LINK_RESET/ACTIVATE carries the sender's loss epoch (MSG-LINK-39); the
        # harness never declares the IUT lost, so its epoch stays put.
        opts = [MsgrOption(type=0x08, value=struct.pack(">I", getattr(self, "epoch", 1)))]
        if ack_session is not None:
            opts.append(MsgrOption(type=0x07, value=struct.pack(">H", ack_session & 0xFFFF)))
        opts += getattr(self, "link_opts", [])     # e.g. SECURITY on a secured link (12.7)
        return Messenger(type=t) / MsgrLink(opts=opts,
            node_id=self.node_id, peer_id=self.iut_id if peer_id is None else peer_id,
            incarnation=self.incarnation if incarnation is None else incarnation,
            session=self.session if session is None else session,
            next_seq=self.next_seq if next_seq is None else next_seq,
            tolerance_ms=self.tolerance, window=getattr(self, "window", 64), mtu=0, priority=10, lflags=0)

    def state(self, sflags=0, session=None, gaps=(), ack=None, timestamp=None, echo=0):
        return Messenger(type=0x04) / MsgrLinkState(
            session=self.session if session is None else session,
            ack=((self.rcv_nxt - 1) & 0xFFFF) if ack is None else ack,
            next_seq=self.snd_nxt if getattr(self, "announce", None) is None else self.announce,
            sflags=sflags,
            timestamp=int(time.monotonic() * 1e6) & 0xFFFFFFFF if timestamp is None else timestamp,
            echo=echo, gaps=[MsgrGap(start=s, end=e) for s, e in gaps])

    def mgmt(self, corr, seq=None, chan=0, cseq=None, flags=0, ack=None, gflags=0):
        if seq is None:
            seq = self.snd_nxt
            self.snd_nxt = (self.snd_nxt + 1) & 0xFFFF
        if cseq is None:
            cseq = self.cseq.get(chan, 0)
            self.cseq[chan] = (cseq + 1) & 0xFFFFFFFF
        return Messenger(type=0x30, flags=flags, seq=seq,
                         ack=((self.rcv_nxt - 1) & 0xFFFF) if ack is None else ack,
                         chan=chan, cseq=cseq) / MsgrMgmt(
            corr_id=corr, epoch=1, src_entity=1, dst_entity=0, gflags=gflags,
            uops=[MsgrUop(opcode=1, arg=0)], load=b"")

    def send(self, f):
        self.b.send(bytes(f))

    # -- procedures
    def establish(self, timeout=2.0):
        """LINK_RESET -> LINK_ACTIVATE from the IUT -> LINK_ACTIVATE; returns the IUT's."""
        self.send(self.link(0x02))
        a = self.recv({0x03}, timeout, pred=lambda p: int(p.payload.peer_id) == self.node_id)
        check(a is not None, "no LINK_ACTIVATE in answer to LINK_RESET (RFC 6.2, 6.9 row 2)")
        self.iut_session = int(a.payload.session)
        self.rcv_nxt = int(a.payload.next_seq)
        self.send(self.link(0x03))
        return a


# ------------------------------------------------------------------ tests and reports
CASES = []


def case(name, reqs, bearers=("udp", "veth"), xfail=None, xfail_impl=None):
    """Register a test.  xfail: a known, reported defect of the reference stack; a
    failure is then reported as XFAIL (visible, not failing the run) and a pass as XPASS.
    xfail_impl: the mark holds only for an IUT whose `hello` impl contains this string."""
    def deco(fn):
        CASES.append({"name": name, "reqs": list(reqs), "fn": fn, "bearers": bearers,
                      "xfail": xfail, "xfail_impl": xfail_impl,
                      "doc": (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""})
        return fn
    return deco


def rfc_requirements(path=os.path.join(ROOT, "RFC-messenger.md")):
    """Every requirement ID of the RFC with its section and whether it is a MUST."""
    txt = open(path).read()
    reqs = {}
    for m in re.finditer(r"^\| (MSG-[A-Z]+-\d+) \|[^|]*\| ([\d.]+) \| (.*) \|\s*$", txt, re.M):
        reqs[m.group(1)] = {"section": m.group(2), "text": m.group(3),
                            "must": "MUST" in m.group(3)}
    # IDs defined in the body but missing from the index
    for m in re.finditer(r"\[(MSG-[A-Z]+-\d+)\]", txt):
        rid = m.group(1)
        if rid not in reqs:
            start = txt.rfind(".", 0, m.start() - 2)
            sent = txt[start:m.start()]
            reqs[rid] = {"section": "?", "text": sent.strip()[:120], "must": "MUST" in sent}
    return reqs


# ------------------------------------------------------------------ raw builders (fast path)
def hdr(t, body, seq=0, ack=0, chan=0, cseq=0, flags=0):
    """A frame built by hand from 3.1/3.4 (no Scapy: bulk traffic needs speed)."""
    if 0x10 <= t <= 0x3F:
        return struct.pack("!BBHHHII", 0x10 | flags, t, 16 + len(body), seq, ack, chan,
                           cseq) + body
    return struct.pack("!BBH", 0x10 | flags, t, 4 + len(body)) + body


def mgmt_body(corr=7, uops=((1, 0),), gflags=0, payload=b"", src=1, dst=0, epoch=1):
    return (struct.pack("!IIIIBBHI", corr, epoch, src, dst, len(uops), gflags, 0, len(payload))
            + b"".join(struct.pack("!HH", o, a) for o, a in uops) + payload)


def frag_body(inner, total, off, data):
    return struct.pack("!BBHII", inner, 0, 0, total, off) + data


def member(t, body, chan, cseq, flags=0):
    return struct.pack("!BBHII", 0x10 | flags, t, 12 + len(body), chan, cseq) + body


def name_rec(device, name, gen, dtype=1, nflags=0, rank=0):
    n = name.encode() if isinstance(name, str) else name
    return struct.pack("!IHBBIB", device, dtype, nflags, rank, gen, len(n)) + n + b"\0"


def withdraw_body(device, name, gen):
    n = name.encode()
    return struct.pack("!IIB", device, gen, len(n)) + n


def sync_body(recs, yflags=3):
    return struct.pack("!BBH", yflags, 0, len(recs)) + b"".join(
        struct.pack("!H", len(r)) + r for r in recs)


def path_open_body(src_path, src_dev, dst_dev, credit, name=b"", pkind=1):
    return struct.pack("!IIIIBBHB", src_path, src_dev, dst_dev, credit, pkind, 0, 0,
                       len(name)) + name


def status_body(status, node=0, path=0, device=0, reason=0, name=b""):
    return struct.pack("!BBHIIIB", status, reason, 0, node, path, device, len(name)) + name


def _peer_seqf(self, t, body, chan=0, cseq=None, flags=0, seq=None):
    """A sequenced frame of type t from the peer: next link seq, next cseq of `chan`."""
    if seq is None:
        seq = self.snd_nxt
        self.snd_nxt = (self.snd_nxt + 1) & 0xFFFF
    if cseq is None:
        cseq = self.cseq.get(chan, 0)
        self.cseq[chan] = (cseq + 1) & 0xFFFFFFFF
    return hdr(t, body, seq=seq, ack=(self.rcv_nxt - 1) & 0xFFFF, chan=chan, cseq=cseq,
               flags=flags)


def _peer_pump(self, timeout, pred=None, ack=True, types=None, probes=True):
    """Act as a live, well-behaved peer for up to `timeout` s: follow the IUT's sequenced
    frames in order, acknowledge them, answer its probes.  Returns the first IUT frame
    (dissected) that satisfies pred (and types), or None at the deadline."""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return None
        d = self.b.recv(left)
        if d is None:
            return None
        self.received.append(d)
        if validate(d) is not None:
            continue
        p = dissect(d)
        if not hasattr(self, "frames"):
            self.frames = []
        self.frames.append(p)          # every frame pumped, for cases that look back
        t = int(p.type)
        if 0x10 <= t <= 0x3F and self.rcv_nxt is not None:
            if int(p.seq) == self.rcv_nxt:
                self.rcv_nxt = (self.rcv_nxt + 1) & 0xFFFF
            if ack:
                self.send(self.state())
        elif t == 0x04 and int(p.payload.sflags) & 1 and self.rcv_nxt is not None and probes:
            self.send(self.state(sflags=2, echo=int(p.payload.timestamp),
                                 ack=None if ack else (self.rcv_nxt - 1) & 0xFFFF))
        if (types is None or t in types) and (pred is None or pred(p)):
            return p


def _peer_send_reliable(self, frames, window=32, timeout=5.0):
    """Send pre-built sequenced frames (consecutive seqs from the first) keeping at most
    `window` unacknowledged: the last of each batch carries ACKREQ (3.2) and the next
    batch waits for the IUT's cumulative ack of it."""
    i = 0
    end = time.monotonic() + timeout
    while i < len(frames):
        batch = frames[i:i + window]
        for k, f in enumerate(batch):
            if k == len(batch) - 1:
                f = bytes([f[0] | 0x8]) + f[1:]
            self.b.send(f)
        last = struct.unpack("!H", batch[-1][4:6])[0]
        self.announce = (last + 1) & 0xFFFF   # frames built but not sent are not announced
        p = self.pump(max(0.01, end - time.monotonic()),
                      pred=lambda p: ((int(p.payload.ack) - last) & 0xFFFF) < 0x8000,
                      types={0x04})
        if p is None:
            acks = [int(dissect(d).payload.ack) for d in self.received[-20:]
                    if validate(d) is None and d[1] == 0x04]
            raise Fail("IUT did not acknowledge seq %d (frame %d of %d); its last acks %s" % (
                last, i + len(batch), len(frames), acks[-5:]))
        i += len(batch)
    self.announce = None


Peer.seqf = _peer_seqf
Peer.pump = _peer_pump
Peer.send_reliable = _peer_send_reliable


def wait_until(fn, timeout, step=0.005):
    """Poll fn() until it returns a true value or the deadline passes; returns the value."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)
