"""pymsgr: a second, independent Messenger node written from RFC-messenger.md alone.

It shares no code with the C stack (stack/, proto/) nor with the Scapy layers: its own
encoder and decoder (struct), link state machine (6.2, 6.9), supervision (6.4), reliable
delivery (6.5), fragmentation (6.7), channels (7) with loss epochs (7.7, PEER_EPOCH),
naming (8) and paths (9), over one
UDP socket (14.2) to one configured peer address.  It is small on purpose: enough to
interoperate with another implementation for the core flows, not a production node.
Not implemented: BUNDLE sending (received bundles are processed), secured links, MINET,
management dispatch, multicast/anycast paths, load sharing over several links.

    n = Node(node_id=0x0B000001, bind=("127.0.0.1", 0), peer=("127.0.0.1", 34997))
    n.start()                       # a thread runs the protocol
    n.send(peer, chan=0, type=0x30, body=b"...")
    n.publish(device=3, name="svc/py")
    p = n.path_open(device=3, peer=peer, peer_device=7)
    n.path_send(p, b"hello")
    n.events                        # ("link_up", peer), ("message", peer, chan, cseq, type, body), ...
"""
import random
import select
import socket
import struct
import threading
import time

# ---- wire constants (3.3, 4.2, 5.x) -------------------------------------------------
DISCOVER, LINK_RESET, LINK_ACTIVATE, LINK_STATE = 0x01, 0x02, 0x03, 0x04
DATA, FRAGMENT, BUNDLE, MINET = 0x10, 0x11, 0x12, 0x13
NAME_PUBLISH, NAME_WITHDRAW, NAME_SYNC = 0x20, 0x21, 0x22
PATH_OPEN, PATH_ACCEPT, PATH_CLOSE, PATH_ABORT, PATH_CREDIT, SERVICE_STATUS = range(0x28, 0x2E)
MGMT = 0x30
ACKREQ = 0x8
OPT_ACK_SESSION = 0x07
OPT_PEER_EPOCH = 0x08
PROBE, REPLY = 0x01, 0x02
FIRST, LAST = 0x01, 0x02
R_NONE, R_NO_SUCH_DEVICE, R_PROTOCOL, R_TIMEOUT, R_PEER_DOWN, R_APP_CLOSE = 0, 1, 4, 5, 6, 10
RESET, ESTABLISHING, ESTABLISHED = "RESET", "ESTABLISHING", "ESTABLISHED"


def lt16(a, b):
    """a before b in 16-bit serial arithmetic (1.4.2)."""
    return a != b and ((b - a) & 0xFFFF) < 0x8000


def lt32(a, b):
    return a != b and ((b - a) & 0xFFFFFFFF) < 0x80000000


def now():
    return time.monotonic()


# ---- codec ---------------------------------------------------------------------------
def enc(t, body, seq=0, ack=0, chan=0, cseq=0, flags=0):
    if 0x10 <= t <= 0x3F:
        return struct.pack("!BBHHHII", 0x10 | flags, t, 16 + len(body), seq, ack, chan, cseq) + body
    return struct.pack("!BBH", 0x10 | flags, t, 4 + len(body)) + body


def dec(b):
    """(header dict, body) or None for anything that is not a version-1 frame."""
    if len(b) < 4 or b[0] >> 4 != 1:
        return None
    t, ln = b[1], struct.unpack("!H", b[2:4])[0]
    seqd = 0x10 <= t <= 0x3F
    if ln > len(b) or ln < (16 if seqd else 4):
        return None
    h = {"type": t, "flags": b[0] & 0xF}
    if seqd:
        h["seq"], h["ack"], h["chan"], h["cseq"] = struct.unpack("!HHII", b[4:16])
        return h, b[16:ln]
    return h, b[4:ln]


def opts_dec(b):
    out, i = {}, 0
    while i + 2 <= len(b):
        t, ln = b[i], b[i + 1]
        out[t] = b[i + 2:i + 2 + ln]
        i += 2 + ln
    return out


def name_rec(dev, name, gen, dtype=1, nflags=0, rank=0):
    n = name.encode()
    return struct.pack("!IHBBIB", dev, dtype, nflags, rank, gen, len(n)) + n + b"\0"


def name_rec_dec(b):
    dev, dtype, nflags, rank, gen, nl = struct.unpack("!IHBBIB", b[:13])
    return {"device": dev, "dtype": dtype, "nflags": nflags, "rank": rank, "generation": gen,
            "name": b[13:13 + nl].decode()}


# ---- state ---------------------------------------------------------------------------
class Link:
    def __init__(self, node, addr):
        self.node, self.addr = node, addr
        self.session = random.getrandbits(16)         # first session drawn at random (MSG-LINK-31)
        self.peer_id = None
        self.enter_reset(first=True)

    def enter_reset(self, first=False):
        """6.2: new session (+1..256), new next_seq, forget the peer, reset RTO."""
        if not first:
            self.session = (self.session + random.randint(1, 256)) & 0xFFFF
        self.state = RESET
        self.snd_nxt = self.snd_una = random.getrandbits(16)
        self.next_seq = self.snd_nxt
        self.peer_session = None
        self.rcv_nxt = None
        self.inflight = {}            # seq -> [frame(type, body, chan, cseq), first_tx, last_tx]
        self.ooo = {}                 # seq -> raw frame
        self.rto = 0.05
        self.srtt = None
        self.rttvar = None
        self.rto_at = None
        self.resets_sent = 0
        self.next_ctl = now()
        self.setup_deadline = None
        self.last_heard = now()
        self.last_probe = 0.0
        self.unacked_rx = 0
        self.tolerance = self.node.tolerance
        self.window = self.node.window
        self.sent_any = False

    # -- frames
    def ctl(self, t):
        opts = b""
        if t == LINK_ACTIVATE:
            opts = struct.pack("!BBH", OPT_ACK_SESSION, 2, self.peer_session)
        # our loss epoch for the receiver (7.7, MSG-LINK-39)
        ep = self.node.epoch_for.setdefault(self.peer_id, self.node.loss_epoch)
        opts += struct.pack("!BBI", OPT_PEER_EPOCH, 4, ep)
        body = struct.pack("!IIIHHHHHBB", self.node.node_id, self.peer_id or 0, self.node.incarnation,
                           self.session, self.next_seq, self.node.tolerance, self.node.window,
                           0, 10, 0) + opts
        self.node.tx(enc(t, body), self.addr)

    def state_frame(self, sflags=0, echo=0):
        gaps = []
        if self.ooo:
            s = self.rcv_nxt
            held = sorted(self.ooo, key=lambda x: (x - self.rcv_nxt) & 0xFFFF)
            for h in held:
                if h != s:
                    gaps.append((s, (h - 1) & 0xFFFF))
                s = (h + 1) & 0xFFFF
        gaps = gaps[:32]
        body = struct.pack("!HHHBBII", self.session, (self.rcv_nxt - 1) & 0xFFFF, self.snd_nxt,
                           sflags, len(gaps), int(now() * 1e6) & 0xFFFFFFFF, echo)
        body += b"".join(struct.pack("!HH", a, b) for a, b in gaps)
        self.node.tx(enc(LINK_STATE, body), self.addr)
        self.unacked_rx = 0
        self.last_probe = now() if sflags & PROBE else self.last_probe

    def learn(self, f):
        self.peer_id = f["node_id"]
        self.peer_session = f["session"]
        self.rcv_nxt = f["next_seq"]
        self.tolerance = max(self.node.tolerance, f["tolerance"])       # 6.3
        self.window = min(self.node.window, f["window"])

    def establish(self):
        self.state = ESTABLISHED
        self.last_heard = now()
        self.node.on_link_up(self)

    def down(self, reason):
        was = self.state == ESTABLISHED
        msgs = [v[0] for k, v in sorted(self.inflight.items(), key=lambda kv: (kv[0] - self.snd_una) & 0xFFFF)]
        self.enter_reset()
        if was:
            self.node.on_link_down(self, reason, msgs)

    # -- sending sequenced frames
    def can_send(self):
        return self.state == ESTABLISHED and ((self.snd_nxt - self.snd_una) & 0xFFFF) < self.window

    def send_seq(self, t, body, chan, cseq):
        seq = self.snd_nxt
        self.snd_nxt = (self.snd_nxt + 1) & 0xFFFF
        full = ((self.snd_nxt - self.snd_una) & 0xFFFF) >= self.window
        self.inflight[seq] = [(t, body, chan, cseq), now(), now()]
        self.node.tx(enc(t, body, seq, (self.rcv_nxt - 1) & 0xFFFF, chan, cseq,
                         ACKREQ if full else 0), self.addr)
        self.sent_any = True
        if self.rto_at is None:
            self.rto_at = now() + self.rto

    def retransmit(self, seq, ackreq=False):
        m = self.inflight[seq]
        t, body, chan, cseq = m[0]
        m[2] = now()
        self.node.tx(enc(t, body, seq, (self.rcv_nxt - 1) & 0xFFFF, chan, cseq,
                         ACKREQ if ackreq else 0), self.addr)

    def on_ack(self, ack):
        if not lt16(ack, self.snd_nxt) and ack != ((self.snd_nxt - 1) & 0xFFFF):
            return
        while self.inflight and not lt16(ack, self.snd_una):
            self.inflight.pop(self.snd_una, None)
            self.snd_una = (self.snd_una + 1) & 0xFFFF
            if self.snd_una == self.snd_nxt:
                break
        self.rto_at = now() + self.rto if self.inflight else None

    def timers(self, t):
        if self.state == RESET and self.peer_id_known() and t >= self.next_ctl:
            self.ctl(LINK_RESET)
            self.resets_sent += 1
            self.next_ctl = t + (0.1 if self.resets_sent < 10 else 1.0)
        elif self.state == ESTABLISHING:
            if t >= self.setup_deadline:
                self.enter_reset()
            elif t >= self.next_ctl:
                self.ctl(LINK_ACTIVATE)
                self.next_ctl = t + 0.1
        elif self.state == ESTABLISHED:
            tol = self.tolerance / 1000.0
            probe = tol / 4
            if t - self.last_heard >= tol:
                return self.down("timeout")
            oldest = min((v[1] for v in self.inflight.values()), default=None)
            if oldest is not None and t - oldest >= tol:
                return self.down("stalled")
            if t - self.last_heard >= probe and t - self.last_probe >= probe:
                self.state_frame(PROBE)
            if self.rto_at is not None and t >= self.rto_at and self.inflight:
                order = sorted(self.inflight, key=lambda s: (s - self.snd_una) & 0xFFFF)[:16]
                for i, s in enumerate(order):
                    self.retransmit(s, ackreq=i == len(order) - 1)
                self.rto = min(self.rto * 2, tol / 2)
                self.rto_at = t + self.rto

    def peer_id_known(self):
        return self.peer_id is not None


class Node:
    def __init__(self, node_id, bind=("127.0.0.1", 0), peer=None, domain=0, tolerance=500,
                 window=128, mtu=1472, max_message=1 << 20, path_window=64, loss=0.0):
        self.node_id, self.domain = node_id, domain
        self.incarnation = random.getrandbits(32) or 1
        self.tolerance, self.window, self.mtu = tolerance, window, mtu
        self.max_message, self.path_window = max_message, path_window
        self.loss = loss                  # misbehave: drop this share of received frames
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(bind)
        self.addr = self.s.getsockname()
        self.peer_addr = peer
        self.lock = threading.RLock()
        self.events = []
        self.links = {}                   # addr -> Link
        self.peers = {}                   # node_id -> dict(incarnation, tx_cseq, rx_next, held, reasm, backlog)
        self.names = {}                   # (node, device, name) -> record
        self.own = {}                     # (device, name) -> record
        self.gen = 0
        self.devices = {}                 # device -> auto_accept
        self.loss_epoch = 0               # 7.7: advanced on each peer loss we decide
        self.epoch_for = {}               # peer -> our epoch value sent to it
        self.epoch_of = {}                # peer -> last PEER_EPOCH learned from it
        self.paths = {}                   # local path id -> dict
        self.next_path = 0x100
        self.disc_sent = 0
        self.disc_at = now()
        self.stop_flag = False
        self.capture = None               # a list: every received frame is appended
        self.stats = {"tx": 0, "rx": 0, "dropped_by_loss": 0, "dup_seq": 0, "retransmits": 0}

    # ---- plumbing
    def tx(self, frame, addr):
        self.stats["tx"] += 1
        try:
            self.s.sendto(frame, addr)
        except OSError:
            pass

    def ev(self, *e):
        self.events.append((now(),) + e)

    def start(self):
        self.th = threading.Thread(target=self.loop, daemon=True)
        self.th.start()
        return self

    def close(self):
        self.stop_flag = True
        self.th.join(2)
        self.s.close()

    def loop(self):
        while not self.stop_flag:
            r, _, _ = select.select([self.s], [], [], 0.002)
            with self.lock:
                if r:
                    for _ in range(64):
                        try:
                            d, a = self.s.recvfrom(70000, socket.MSG_DONTWAIT)
                        except (BlockingIOError, OSError):
                            break
                        if self.loss and random.random() < self.loss:
                            self.stats["dropped_by_loss"] += 1
                            continue
                        self.stats["rx"] += 1
                        if self.capture is not None:
                            self.capture.append(d)
                        self.input(d, a)
                self.tick()

    def tick(self):
        t = now()
        if self.peer_addr and t >= self.disc_at:                      # 6.1, MSG-DISC-11
            self.tx(enc(DISCOVER, struct.pack("!IIBBHI", self.node_id, self.domain, 1, 0, self.mtu,
                                               self.incarnation)), self.peer_addr)
            self.disc_sent += 1
            self.disc_at = t + (0.1 if self.disc_sent < 5 else 1.0)
        for l in list(self.links.values()):
            l.timers(t)
            if l.state == ESTABLISHED and l.unacked_rx:
                l.state_frame()
        self.path_timers(t)
        self.pump()

    def link_for(self, addr):
        l = self.links.get(addr)
        if l is None:
            l = self.links[addr] = Link(self, addr)
        return l

    # ---- input
    def input(self, d, addr):
        r = dec(d)
        if r is None:
            return
        h, body = r
        t = h["type"]
        if t == DISCOVER and len(body) >= 16:
            nid, dom, _v, dfl, _mtu, inc = struct.unpack("!IIBBHI", body[:16])
            if dom != self.domain or nid == self.node_id:
                return
            self.check_incarnation(nid, inc)
            l = self.link_for(addr)
            if l.peer_id not in (None, nid):
                l.down("peer_reset")
            l.peer_id = nid
            if not dfl & 1:
                self.tx(enc(DISCOVER, struct.pack("!IIBBHI", self.node_id, self.domain, 1, 1, self.mtu,
                                                   self.incarnation)), addr)
            return
        if t in (LINK_RESET, LINK_ACTIVATE) and len(body) >= 24:
            nid, pid, inc, sess, nseq, tol, win, _mtu, _pr, _lf = struct.unpack("!IIIHHHHHBB", body[:24])
            if pid != self.node_id or nid == self.node_id:
                return
            self.check_incarnation(nid, inc)
            pe = opts_dec(body[24:]).get(OPT_PEER_EPOCH)
            if pe is not None and len(pe) == 4:
                pe = struct.unpack("!I", pe)[0]
                old = self.epoch_of.get(nid)
                if old is not None and lt32(old, pe):
                    self.peer_lost(nid, decided=False)               # MSG-LINK-40
                self.epoch_of[nid] = pe
            l = self.link_for(addr)
            f = {"node_id": nid, "session": sess, "next_seq": nseq, "tolerance": tol, "window": win}
            if l.peer_session is not None and lt16(sess, l.peer_session):
                return                                                  # MSG-LINK-32
            if l.state == ESTABLISHED:
                if sess == l.peer_session:
                    return                                              # late copy (MSG-LINK-26)
                l.down("peer_reset")                                    # MSG-LINK-27
            if t == LINK_ACTIVATE:
                o = opts_dec(body[24:]).get(OPT_ACK_SESSION)
                if o is None or struct.unpack("!H", o)[0] != l.session:
                    return                                              # MSG-LINK-38
                was_reset = l.state == RESET
                l.learn(f)
                if was_reset:
                    l.ctl(LINK_ACTIVATE)
                l.establish()
                return
            # LINK_RESET: learn, -> ESTABLISHING, answer with LINK_ACTIVATE
            l.learn(f)
            l.state = ESTABLISHING
            l.setup_deadline = now() + max(l.tolerance / 1000.0, 0.3)
            l.ctl(LINK_ACTIVATE)
            l.next_ctl = now() + 0.1
            return
        l = self.links.get(addr)
        if l is None or l.peer_session is None:
            return
        if t == LINK_STATE and len(body) >= 16:
            sess, ack, nseq, sfl, gc, ts, echo = struct.unpack("!HHHBBII", body[:16])
            if sess != l.peer_session:
                return                                                  # stale (MSG-STATE-6)
            if l.state == ESTABLISHING:
                l.establish()
            if l.state != ESTABLISHED:
                return
            l.last_heard = now()
            l.on_ack(ack)
            if sfl & REPLY:
                r_ = ((int(now() * 1e6) & 0xFFFFFFFF) - echo) & 0xFFFFFFFF
                if r_ < 2 * l.tolerance * 1000:                         # RTT sample (6.5)
                    r_ /= 1e6
                    if l.srtt is None:
                        l.srtt, l.rttvar = r_, r_ / 2
                    else:
                        l.rttvar = 0.75 * l.rttvar + 0.25 * abs(l.srtt - r_)
                        l.srtt = 0.875 * l.srtt + 0.125 * r_
                    l.rto = min(max(l.srtt + 4 * l.rttvar, 0.001), l.tolerance / 2000.0)
            if sfl & PROBE:
                l.state_frame(REPLY, echo=ts)
            for i in range(min(gc, 32)):
                a, b = struct.unpack("!HH", body[16 + 4 * i:20 + 4 * i])
                s = a
                while True:
                    if s in l.inflight and now() - l.inflight[s][2] > (l.srtt or 0.001):
                        l.retransmit(s)
                        self.stats["retransmits"] += 1
                    if s == b:
                        break
                    s = (s + 1) & 0xFFFF
            return
        if 0x10 <= t <= 0x3F:
            if l.state == ESTABLISHING and ((h["seq"] - l.rcv_nxt) & 0xFFFF) < l.window:
                l.establish()
            if l.state != ESTABLISHED:
                return
            l.last_heard = now()
            l.on_ack(h["ack"])
            d_ = (h["seq"] - l.rcv_nxt) & 0xFFFF
            if d_ == 0:
                self.deliver_frame(l, h, body)
                l.rcv_nxt = (l.rcv_nxt + 1) & 0xFFFF
                while l.rcv_nxt in l.ooo:
                    hh, bb = l.ooo.pop(l.rcv_nxt)
                    self.deliver_frame(l, hh, bb)
                    l.rcv_nxt = (l.rcv_nxt + 1) & 0xFFFF
                l.unacked_rx += 1
                if h["flags"] & ACKREQ or l.unacked_rx >= 8:
                    l.state_frame()
            elif lt16(h["seq"], l.rcv_nxt):
                self.stats["dup_seq"] += 1
                l.state_frame()
            elif d_ < l.window:
                new = h["seq"] not in l.ooo
                l.ooo[h["seq"]] = (h, body)
                if new:
                    l.state_frame()                                     # NACK at once
            return

    def check_incarnation(self, nid, inc):
        p = self.peers.get(nid)
        if p and p["incarnation"] != inc and p["incarnation"] is not None:
            self.peer_lost(nid, decided=False)
            self.epoch_of.pop(nid, None)      # a new incarnation forgets its epoch
        p = self.peer(nid)
        p["incarnation"] = inc

    def peer(self, nid):
        p = self.peers.get(nid)
        if p is None:
            p = self.peers[nid] = {"incarnation": None, "tx_cseq": {}, "rx_next": {}, "held": {},
                                   "reasm": {}, "backlog": [], "up": False}
        return p

    # ---- link events
    def on_link_up(self, l):
        self.ev("link_up", l.peer_id)
        p = self.peer(l.peer_id)
        if not p["up"]:
            p["up"] = True
            self.ev("peer_up", l.peer_id)
            # full NAME_SYNC before any other channel-0 message (MSG-NAME-13)
            recs = [name_rec(r["device"], r["name"], r["generation"], r["dtype"], r["nflags"], r["rank"])
                    for r in self.own.values()]
            body = struct.pack("!BBH", FIRST | LAST, 0, len(recs)) + b"".join(
                struct.pack("!H", len(r)) + r for r in recs)
            p["backlog"].insert(0, (NAME_SYNC, body, 0, self.next_cseq(p, 0)))

    def on_link_down(self, l, reason, msgs):
        self.ev("link_down", l.peer_id, reason)
        nid = l.peer_id
        if not any(x.state == ESTABLISHED and x.peer_id == nid for x in self.links.values()):
            self.peer_lost(nid, lost=msgs)
        else:
            self.peer(nid)["backlog"][:0] = msgs                       # failover (7.4)

    def peer_lost(self, nid, lost=(), decided=True):
        p = self.peers.pop(nid, None)
        if p is None:
            return
        if decided:                      # our own decision: advance the loss epoch (7.7)
            self.loss_epoch = (self.loss_epoch + 1) & 0xFFFFFFFF
            self.epoch_for[nid] = self.loss_epoch
        for l in self.links.values():
            # our own loss: RESET endpoints whose session the peer knows start over too
            # (MSG-LINK-41), so that no link is set up before the peer sees the new epoch
            if l.peer_id == nid and (l.state != RESET or (decided and l.resets_sent)):
                l.enter_reset()
        n = len(lost) + len(p["backlog"])
        if n:
            self.ev("send_lost", nid, n)
        for k in [k for k in self.names if k[0] == nid]:
            self.names.pop(k)
            self.ev("name_vanished", nid, k[1], k[2])
        for pid, pa in self.paths.items():
            if pa["peer"] == nid and pa["state"] not in ("CLOSED", "BROKEN"):
                self.path_state(pid, "BROKEN", R_PEER_DOWN)
        self.ev("peer_down", nid)

    # ---- channels (7)
    def next_cseq(self, p, chan):
        c = p["tx_cseq"].get(chan, 0)
        p["tx_cseq"][chan] = (c + 1) & 0xFFFFFFFF
        return c

    def queue(self, nid, t, body, chan, cseq=None):
        """Queue a message (fragmenting it, 6.7) for peer nid; returns its cseq."""
        p = self.peer(nid)
        if cseq is None:
            cseq = self.next_cseq(p, chan)
        if 16 + len(body) <= self.mtu:
            p["backlog"].append((t, body, chan, cseq))
        else:
            step = self.mtu - 16 - 12
            for off in range(0, len(body), step):
                p["backlog"].append((FRAGMENT, struct.pack("!BBHII", t, 0, 0, len(body), off) +
                                     body[off:off + step], chan, cseq))
        return cseq

    def pump(self):
        for nid, p in self.peers.items():
            ls = [l for l in self.links.values() if l.peer_id == nid and l.state == ESTABLISHED]
            if not ls:
                continue
            l = ls[0]
            while p["backlog"] and l.can_send():
                l.send_seq(*p["backlog"].pop(0))

    def deliver_frame(self, l, h, body):
        nid, t = l.peer_id, h["type"]
        if t == BUNDLE:
            i = 0
            while i + 12 <= len(body):
                _vf, mt, ln, ch, cs = struct.unpack("!BBHII", body[i:i + 12])
                self.chan_rx(nid, mt, ch, cs, body[i + 12:i + ln])
                i += ln
            return
        self.chan_rx(nid, t, h["chan"], h["cseq"], body)

    def chan_rx(self, nid, t, chan, cseq, body):
        p = self.peer(nid)
        if t == FRAGMENT:
            inner, _r, _r2, total, off = struct.unpack("!BBHII", body[:12])
            rx = p["rx_next"].get(chan, 0)
            if lt32(cseq, rx):
                return
            r = p["reasm"].get(chan)
            if r is None or r["cseq"] != cseq:
                if off != 0:
                    return
                r = p["reasm"][chan] = {"cseq": cseq, "buf": bytearray(), "total": total, "inner": inner,
                                        "discard": total > self.max_message}
            if off != len(r["buf"]):
                return
            r["buf"] += body[12:]
            if len(r["buf"]) >= r["total"]:
                del p["reasm"][chan]
                if not r["discard"]:
                    self.chan_rx(nid, r["inner"], chan, cseq, bytes(r["buf"]))
                else:
                    p["rx_next"][chan] = (cseq + 1) & 0xFFFFFFFF
            return
        rx = p["rx_next"].get(chan, 0)
        if lt32(cseq, rx):
            return                                                       # duplicate (7.3)
        if cseq != rx:
            p["held"].setdefault(chan, {})[cseq] = (t, body)
            return
        self.upper(nid, t, chan, cseq, body)
        p["rx_next"][chan] = rx = (rx + 1) & 0xFFFFFFFF
        held = p["held"].get(chan, {})
        while rx in held:
            tt, bb = held.pop(rx)
            self.upper(nid, tt, chan, rx, bb)
            p["rx_next"][chan] = rx = (rx + 1) & 0xFFFFFFFF

    # ---- upper layers
    def upper(self, nid, t, chan, cseq, body):
        if t in (NAME_PUBLISH, NAME_WITHDRAW, NAME_SYNC) and chan == 0:
            return self.naming_rx(nid, t, body)
        if chan >= 0x100:
            return self.path_rx(nid, t, chan, cseq, body)
        if t == PATH_OPEN:
            return self.path_open_rx(nid, body)
        self.ev("message", nid, chan, cseq, t, body)

    # naming (8)
    def publish(self, device, name, rank=0, exclusive=False, dtype=1):
        with self.lock:
            self.gen += 1                                                # one counter (MSG-NAME-23)
            r = {"device": device, "name": name, "generation": self.gen, "rank": rank,
                 "nflags": 1 if exclusive else 0, "dtype": dtype}
            self.own[(device, name)] = r
            for nid, p in self.peers.items():
                if p["up"]:
                    self.queue(nid, NAME_PUBLISH, name_rec(device, name, self.gen, dtype, r["nflags"], rank), 0)

    def withdraw(self, device, name):
        with self.lock:
            r = self.own.pop((device, name))
            n = name.encode()
            for nid, p in self.peers.items():
                if p["up"]:
                    self.queue(nid, NAME_WITHDRAW, struct.pack("!IIB", device, r["generation"], len(n)) + n, 0)

    def naming_rx(self, nid, t, body):
        if t == NAME_PUBLISH:
            self.apply_rec(nid, name_rec_dec(body))
        elif t == NAME_WITHDRAW:
            dev, gen, nl = struct.unpack("!IIB", body[:9])
            k = (nid, dev, body[9:9 + nl].decode())
            if k in self.names and not lt32(gen, self.names[k]["generation"]):
                del self.names[k]
                self.ev("name_vanished", *k)
        elif t == NAME_SYNC:
            yfl, _r, cnt = struct.unpack("!BBH", body[:4])
            if yfl & FIRST:
                self.sync_seen = set()
            i = 4
            for _ in range(cnt):
                ln = struct.unpack("!H", body[i:i + 2])[0]
                r = name_rec_dec(body[i + 2:i + 2 + ln])
                self.apply_rec(nid, r)
                getattr(self, "sync_seen", set()).add((nid, r["device"], r["name"]))
                i += 2 + ln
            if yfl & LAST:
                for k in [k for k in self.names if k[0] == nid and k not in self.sync_seen]:
                    del self.names[k]
                    self.ev("name_vanished", *k)

    def apply_rec(self, nid, r):
        k = (nid, r["device"], r["name"])
        old = self.names.get(k)
        if old and not lt32(old["generation"], r["generation"]):
            return
        self.names[k] = r
        self.ev("name_appeared" if old is None else "name_updated", *k)

    def lookup(self, name):
        with self.lock:
            g = [(k[0], k[1], r) for k, r in self.names.items() if k[2] == name]
            g += [(self.node_id, d, r) for (d, n), r in self.own.items() if n == name]
            g.sort(key=lambda x: (-x[2]["rank"], x[0], x[1]))             # MSG-NAME-19
            return [(n, d) for n, d, _ in g]

    # paths (9)
    def device_add(self, device, auto_accept=True):
        with self.lock:
            self.devices[device] = auto_accept

    def new_path(self, **kw):
        pid = self.next_path
        self.next_path += 1
        kw.update({"id": pid, "tx_cseq": 0, "rx_next": 0, "held": {}, "queue": [], "consumed": 0,
                   "granted": 0, "limit": 0, "window": self.path_window, "delivered": []})
        self.paths[pid] = kw
        return pid

    def path_state(self, pid, st, reason=0):
        self.paths[pid]["state"] = st
        self.ev("path_state", pid, st, reason)

    def path_open(self, device, peer, peer_device):
        with self.lock:
            pid = self.new_path(peer=peer, device=device, peer_device=peer_device, state="OPENING",
                                peer_path=None, opener=True, deadline=now() + 2.0)
            pa = self.paths[pid]
            pa["granted"] = 1 + pa["window"]
            self.queue(peer, PATH_OPEN, struct.pack("!IIIIBBHB", pid, device, peer_device,
                                                    pa["granted"], 1, 0, 0, 0), 0)
            self.ev("path_state", pid, "OPENING", 0)
            return pid

    def path_tx(self, pa, t, body):
        """A message on the path channel (the peer's path id), numbered per 9.6."""
        c = pa["tx_cseq"]
        pa["tx_cseq"] = (c + 1) & 0xFFFFFFFF
        self.queue(pa["peer"], t, body, pa["peer_path"], cseq=c)

    def path_send(self, pid, data):
        with self.lock:
            pa = self.paths[pid]
            pa["queue"].append(data)
            self.path_flush(pa)

    def path_flush(self, pa):
        while pa["queue"] and pa["state"] == "OPEN" and lt32(pa["tx_cseq"], pa["limit"]):   # MSG-PATH-21
            self.path_tx(pa, DATA, pa["queue"].pop(0))

    def path_close(self, pid):
        with self.lock:
            pa = self.paths[pid]
            pa["queue"] = []
            self.path_tx(pa, PATH_CLOSE, struct.pack("!IIIB3x", pa["peer_path"], pid,
                                                     (pa["tx_cseq"] - 1) & 0xFFFFFFFF, R_APP_CLOSE))
            self.path_state(pid, "CLOSING")
            pa["deadline"] = now() + 2.0

    def path_open_rx(self, nid, body):
        src, sdev, ddev, credit, pk, _a, _b, nl = struct.unpack("!IIIIBBHB", body[:21])
        if ddev not in self.devices:
            b = struct.pack("!IIHH", src, 0, R_NO_SUCH_DEVICE, 0)
            self.queue(nid, PATH_ABORT, b, src, cseq=0)
            return
        pid = self.new_path(peer=nid, device=ddev, peer_device=sdev, state="OPEN", peer_path=src,
                            opener=False, deadline=None)
        pa = self.paths[pid]
        pa["limit"] = credit
        pa["granted"] = pa["window"]
        self.path_tx(pa, PATH_ACCEPT, struct.pack("!III", src, pid, pa["granted"]))
        self.ev("path_request", pid, nid, ddev)
        self.path_state(pid, "OPEN")

    def path_rx(self, nid, t, chan, cseq, body):
        pa = self.paths.get(chan)
        if pa is None or pa["peer"] != nid or pa["state"] in ("CLOSED", "BROKEN"):
            return                                                         # MSG-PATH-18
        if t == PATH_ACCEPT and pa["state"] == "OPENING" and cseq == 0:
            _d, src, credit = struct.unpack("!III", body[:12])
            pa["peer_path"], pa["limit"] = src, credit
            pa["rx_next"] = 1
            self.path_state(chan, "OPEN")
            self.path_flush(pa)
            return
        if pa["state"] == "OPENING" and t == PATH_ABORT and cseq == 0:
            self.path_state(chan, "BROKEN", struct.unpack("!IIHH", body[:12])[2])
            return
        if lt32(cseq, pa["rx_next"]):
            return
        if cseq != pa["rx_next"]:
            pa["held"][cseq] = (t, body)
            return
        self.path_msg(pa, t, cseq, body)
        while pa["rx_next"] in pa["held"]:
            tt, bb = pa["held"].pop(pa["rx_next"])
            self.path_msg(pa, tt, pa["rx_next"], bb)

    def path_msg(self, pa, t, cseq, body):
        pa["rx_next"] = (cseq + 1) & 0xFFFFFFFF
        pid = pa["id"]
        if t in (DATA, MGMT, SERVICE_STATUS):
            if not lt32(cseq, pa["granted"]):
                return self.path_abort(pa, R_PROTOCOL)                      # MSG-PATH-23
            pa["delivered"].append(body)
            self.ev("path_msg", pid, cseq, body)
        elif t == PATH_CREDIT:
            lim = struct.unpack("!II", body[:8])[1]
            if lt32(pa["limit"], lim):
                pa["limit"] = lim
            self.path_flush(pa)
        elif t == PATH_CLOSE:
            if pa["state"] == "OPEN":
                self.path_tx(pa, PATH_CLOSE, struct.pack("!IIIB3x", pa["peer_path"], pid,
                                                         (pa["tx_cseq"] - 1) & 0xFFFFFFFF, R_NONE))
            self.path_state(pid, "CLOSED")
            return
        elif t == PATH_ABORT:
            self.path_state(pid, "BROKEN", struct.unpack("!IIHH", body[:12])[2])
            return
        # the application takes every message at once: everything processed is consumed
        pa["consumed"] = pa["rx_next"]
        lim = (pa["consumed"] + pa["window"]) & 0xFFFFFFFF
        if pa["state"] == "OPEN" and ((lim - pa["granted"]) & 0xFFFFFFFF) >= pa["window"] // 2:
            pa["granted"] = lim
            self.path_tx(pa, PATH_CREDIT, struct.pack("!II", pa["peer_path"], lim))   # MSG-PATH-22

    def path_abort(self, pa, reason):
        self.path_tx(pa, PATH_ABORT, struct.pack("!IIHH", pa["peer_path"], pa["id"], reason, 0))
        self.path_state(pa["id"], "BROKEN", reason)

    def path_timers(self, t):
        for pid, pa in self.paths.items():
            if pa["state"] in ("OPENING", "CLOSING") and pa.get("deadline") and t >= pa["deadline"]:
                if pa["state"] == "CLOSING":
                    self.path_tx(pa, PATH_ABORT, struct.pack("!IIHH", pa["peer_path"], pid, R_TIMEOUT, 0))
                self.path_state(pid, "BROKEN", R_TIMEOUT)

    # ---- application API
    def send(self, peer, chan, t, body):
        with self.lock:
            return self.queue(peer, t, body, chan)

    def wait(self, pred, timeout):
        end = now() + timeout
        while now() < end:
            with self.lock:
                v = pred()
            if v:
                return v
            time.sleep(0.002)
        with self.lock:
            return pred()

    def events_of(self, name):
        with self.lock:
            return [e for e in self.events if e[1] == name]
