"""Conformance cases: MINET (Section 11) on an IUT that runs it (capability `minet`;
`start` takes `minet_tap`, `minet_offload`, `minet_domain`).  The suite sits on both
sides: as scripted peers (CAPS with MINET) on UDP bearers, and on the IUT's TAP device
through an AF_PACKET socket (root; the UDP run shares the IUT's network namespace)."""
import os
import socket
import struct
import time

from harness import case, check, Skip, Peer, UdpBearer, wait_until
from scapy_msgr.layers import MsgrOption

T_MINET = 0x13
CAP_MINET = 0x08
ETH_P_ALL = 0x0003
ETYPE = 0x88B6          # IEEE local experimental EtherType: our test frames on the TAP
BCAST = b"\xff" * 6


def _mac(i):
    return bytes([0x02, 0x11, 0x22, 0x33, 0x44, i])


class Tap:
    """The IUT's TAP seen from the kernel side: what we send here the IUT reads from its
    TAP; what the IUT writes to its TAP we receive."""
    def __init__(self, name):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.s.bind((name, 0))

    def send(self, dst, src, payload):
        self.s.send(dst + src + struct.pack("!H", ETYPE) + payload.ljust(46, b"\0"))

    def frames(self, timeout, marker):
        """Frames with `marker` the IUT wrote to the TAP within timeout."""
        out = []
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return out
            self.s.settimeout(left)
            try:
                d, a = self.s.recvfrom(70000)
            except socket.timeout:
                return out
            if a[2] != socket.PACKET_OUTGOING and marker in d:
                out.append(d)

    def close(self):
        self.s.close()


def _minet_body(eth, mflags=0, domain=0, gso=(0, 0, 0, 0, 0)):
    return struct.pack("!BBHHHHH", mflags, gso[0], gso[1], gso[2], gso[3], gso[4], domain) + eth


def _start(ctx, p2_minet=True):
    if os.geteuid() != 0:
        raise Skip("MINET needs root (a TAP device, AF_PACKET)")
    ctx.tap = "mst%d" % (os.getpid() % 100000)
    ctx.start(tolerance=1000, minet_tap=ctx.tap, minet_offload=0, minet_domain=0)
    if "minet" not in ctx.caps:
        raise Skip("the IUT does not announce the `minet` capability")
    caps = [MsgrOption(type=0x03, value=struct.pack(">I", CAP_MINET))]
    ctx.peer.link_opts = caps
    b2 = UdpBearer()
    ctx.extra = [b2]
    r = ctx.drv.cmd("add_bearer", spec=b2.iut_spec())
    check(r.get("ok"), "second bearer: %s" % r)
    p2 = Peer(b2, node_id=ctx.peer.node_id + 7, iut_id=ctx.iut_id)
    p2.link_opts = caps if p2_minet else [
        MsgrOption(type=0x03, value=struct.pack(">I", 0x06))]      # BUNDLE | FRAGMENT only
    for p in (ctx.peer, p2):
        p.establish()
    check(wait_until(lambda: len(ctx.drv.events_of("peer_up")) >= 2, 1.0), "two peers not up")
    for p in (ctx.peer, p2):
        p.pump(0.2, types={0x22})
    check(wait_until(lambda: os.path.exists("/sys/class/net/%s" % ctx.tap), 1.0),
          "no TAP %s" % ctx.tap)
    ctx.tapdev = Tap(ctx.tap)
    return ctx.peer, p2


def _minet_from(p, marker, t):
    """The MINET frames carrying marker that peer p receives within t."""
    out = []
    end = time.monotonic() + t
    while time.monotonic() < end:
        q = p.pump(max(0.005, end - time.monotonic()), types={T_MINET})
        if q is not None and marker in bytes(q.payload.eth):
            out.append(q)
    return out


def _peer_minet(p, eth, **kw):
    p.send(p.seqf(T_MINET, _minet_body(eth, **kw), chan=1))


@case("minet_flood_learn_no_forward", ["MSG-MINET-9", "MSG-MINET-8", "MSG-MINET-10",
                                       "MSG-MINET-6", "MSG-MINET-7"], bearers=("udp",))
def t_minet_flood(ctx):
    """Broadcast and unknown unicast from the TAP go to every MINET peer with FLOOD; a MAC
    learnt from a peer's frame gets unicast to that peer only; a frame from a peer goes
    to the TAP and to no other peer; OFFLOAD clear: gso fields 0 (and ignored on
    receipt); domain 0."""
    p1, p2 = _start(ctx)
    try:
        tap = ctx.tapdev
        # broadcast from the TAP: to both peers, FLOOD, no offload fields, domain 0
        tap.send(BCAST, _mac(0xA0), b"MARK-bcast")
        got = {k: _minet_from(p, b"MARK-bcast", 0.4) for k, p in (("p1", p1), ("p2", p2))}
        check(got["p1"] and got["p2"], "broadcast not copied to every MINET peer: %s" % {
            k: len(v) for k, v in got.items()})
        for q in got["p1"] + got["p2"]:
            b = q.payload
            check(int(q.chan) == 1, "MINET on chan %d" % int(q.chan))
            check(int(b.mflags) & 2, "flooded frame without FLOOD")
            check(not int(b.mflags) & 1 and (int(b.gso_type), int(b.hdr_len), int(b.gso_size),
                                             int(b.csum_start), int(b.csum_offset)) == (0,) * 5,
                  "OFFLOAD clear but gso fields %s (MSG-MINET-6)" % b.fields)
            check(int(b.domain) == 0, "MINET frame for domain %d (configured 0)" % int(b.domain))
        # p1 sends a frame from MAC M1 (broadcast): to the TAP, and never to p2
        _peer_minet(p1, BCAST + _mac(1) + struct.pack("!H", ETYPE) + b"MARK-fromp1".ljust(46, b"\0"),
                    gso=(1, 54, 1400, 34, 16))           # garbage with OFFLOAD clear: ignored
        on_tap = tap.frames(0.4, b"MARK-fromp1")
        check(on_tap, "a peer's MINET frame did not reach the TAP")
        check(on_tap[0][6:12] == _mac(1), "source MAC changed on the TAP")
        check(not _minet_from(p2, b"MARK-fromp1", 0.2),
              "a MINET frame from p1 was forwarded to p2 (MSG-MINET-10)")
        # unicast to M1 (learnt from p1): to p1 only, without FLOOD
        tap.send(_mac(1), _mac(0xA0), b"MARK-to-m1")
        u1 = _minet_from(p1, b"MARK-to-m1", 0.4)
        check(u1 and not int(u1[0].payload.mflags) & 2,
              "unicast to a MAC learnt from p1 not sent to p1 unflooded: %s" % [
                  int(q.payload.mflags) for q in u1])
        check(not _minet_from(p2, b"MARK-to-m1", 0.1),
              "unicast to a MAC learnt from p1 also sent to p2 (MSG-MINET-8)")
        # unknown unicast: flooded to both
        tap.send(_mac(0x99), _mac(0xA0), b"MARK-unknown")
        g1, g2 = _minet_from(p1, b"MARK-unknown", 0.3), _minet_from(p2, b"MARK-unknown", 0.2)
        check(g1 and g2 and all(int(q.payload.mflags) & 2 for q in g1 + g2),
              "unknown unicast not flooded with FLOOD to every peer (MSG-MINET-9)")
    finally:
        ctx.tapdev.close()


@case("minet_other_domain_dropped", ["MSG-MINET-7"], bearers=("udp",))
def t_minet_domain(ctx):
    """A MINET frame for a domain the IUT is not configured for is dropped (not on the
    TAP); the same frame for domain 0 is delivered."""
    p1, p2 = _start(ctx)
    try:
        eth = BCAST + _mac(2) + struct.pack("!H", ETYPE) + b"MARK-dom5".ljust(46, b"\0")
        _peer_minet(p1, eth, domain=5)
        check(not ctx.tapdev.frames(0.3, b"MARK-dom5"),
              "a MINET frame for domain 5 reached the TAP (configured domain 0)")
        _peer_minet(p1, eth.replace(b"MARK-dom5", b"MARK-dom0"), domain=0)
        check(ctx.tapdev.frames(0.4, b"MARK-dom0"), "control: the domain-0 frame did not arrive")
    finally:
        ctx.tapdev.close()


@case("minet_only_to_announcing_peers", ["MSG-MINET-5"], bearers=("udp",))
def t_minet_caps(ctx):
    """A broadcast from the TAP goes to the peer that announced MINET (CAPS) and not to
    the one that did not."""
    p1, p2 = _start(ctx, p2_minet=False)
    try:
        ctx.tapdev.send(BCAST, _mac(0xA0), b"MARK-caps")
        check(_minet_from(p1, b"MARK-caps", 0.4), "control: the MINET peer got no flood")
        check(not _minet_from(p2, b"MARK-caps", 0.2), "MINET flooded to a peer without CAP_MINET")
    finally:
        ctx.tapdev.close()

