"""Conformance cases: bearer mappings (Section 14) and the acceptor's open timeout."""
import os
import socket
import struct
import time

from harness import case, check, Skip, path_open_body
from cases import _up
from cases_link import _up_clean


@case("eth_padding", ["MSG-ETH-3", "MSG-ETH-2"], bearers=("veth",))
def t_eth_pad(ctx):
    """Short frames are padded to 46 octets with zeros; one Messenger frame per Ethernet frame."""
    _up(ctx)
    ctx.peer.send(ctx.peer.state(sflags=1))
    check(ctx.peer.recv({0x04}, 0.3) is not None, "no LINK_STATE")
    short = 0
    for _, d, _dst in ctx.bearer.log:
        ln = struct.unpack("!H", d[2:4])[0]
        check(len(d) >= 46, "Ethernet payload of %d octets (< 46)" % len(d))
        if ln < 46:
            short += 1
            check(d[ln:] == b"\0" * (len(d) - ln), "padding not zero: %s" % d[ln:].hex())
        check(len(d) == max(46, ln), "payload %d octets for a %d-octet frame" % (len(d), ln))
    check(short > 0, "no short frame seen")


@case("eth_own_source_ignored", ["MSG-ETH-5"], bearers=("veth",))
def t_eth_own(ctx):
    """A frame whose source MAC is the receiver's own is ignored."""
    ctx.start()
    ctx.peer.drain(0.02)
    ctx.bearer.send(ctx.peer.discover(), src=ctx.bearer.iut_mac)
    p = ctx.peer.recv({0x01, 0x02}, 0.3, pred=lambda p: int(p.type) == 2 or int(p.payload.dflags) & 1)
    check(p is None, "answered a frame carrying its own source MAC")
    ctx.bearer.send(ctx.peer.discover())
    p = ctx.peer.recv({0x01, 0x02}, 0.5, pred=lambda p: int(p.type) == 2 or int(p.payload.dflags) & 1)
    check(p is not None, "control: the same DISCOVER from the peer's MAC is not answered")


def _udp_raw(src_port, dst_port, payload, csum):
    """An IPv4 UDP datagram on loopback with the given checksum field (raw socket)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    u = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), csum) + payload
    s.sendto(u, ("127.0.0.1", 0))
    s.close()


def _csum(src_port, dst_port, payload):
    ph = socket.inet_aton("127.0.0.1") * 2 + struct.pack("!BBH", 0, 17, 8 + len(payload))
    u = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
    d = ph + u + (b"\0" if len(u) % 2 else b"")
    s = sum(struct.unpack("!%dH" % (len(d) // 2), d))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s & 0xFFFF) or 0xFFFF


@case("udp_bad_checksum", ["MSG-HDR-22", "MSG-UDP-4"], bearers=("udp",))
def t_udp_bad(ctx):
    """A datagram that fails the UDP checksum is never delivered."""
    if os.geteuid() != 0:
        raise Skip("raw sockets need root")
    ctx.start()
    ctx.peer.drain(0.02)
    d = bytes(ctx.peer.discover())
    good = _csum(ctx.bearer.port, ctx.bearer.iut_port, d)
    _udp_raw(ctx.bearer.port, ctx.bearer.iut_port, d, good ^ 0x5555)
    p = ctx.peer.recv({0x01}, 0.2, pred=lambda p: int(p.payload.dflags) & 1)
    check(p is None, "a DISCOVER with a bad UDP checksum was answered")
    _udp_raw(ctx.bearer.port, ctx.bearer.iut_port, d, good)
    p = ctx.peer.recv({0x01}, 0.5, pred=lambda p: int(p.payload.dflags) & 1)
    check(p is not None, "control: the raw DISCOVER with a correct checksum is not answered")


@case("udp_zero_checksum", ["MSG-UDP-4"], bearers=("udp",))
def t_udp_csum(ctx):
    """A datagram with a zero UDP checksum (IPv4) is dropped."""
    if os.geteuid() != 0:
        raise Skip("raw sockets need root")
    ctx.start()
    ctx.peer.drain(0.02)
    d = bytes(ctx.peer.discover())
    good = _csum(ctx.bearer.port, ctx.bearer.iut_port, d)
    _udp_raw(ctx.bearer.port, ctx.bearer.iut_port, d, 0)
    p = ctx.peer.recv({0x01}, 0.2, pred=lambda p: int(p.payload.dflags) & 1)
    check(p is None, "a DISCOVER with a zero UDP checksum (IPv4) was accepted and answered")
    _udp_raw(ctx.bearer.port, ctx.bearer.iut_port, d, good)
    p = ctx.peer.recv({0x01}, 0.5, pred=lambda p: int(p.payload.dflags) & 1)
    check(p is not None, "control: the raw DISCOVER with a correct checksum is not answered")


@case("path_accept_timeout", ["MSG-PATH-26"], bearers=("udp",))
def t_accept_timeout(ctx):
    """No application decision: PATH_ABORT(MP_R_TIMEOUT) within the open timeout (2 s)."""
    _up_clean(ctx)
    ctx.drv.cmd("device_add", device=7, auto_accept=0)
    t0 = time.monotonic()
    ctx.peer.send(ctx.peer.seqf(0x28, path_open_body(0x300, 1, 7, 65), chan=0, flags=0x8))
    check(ctx.drv.wait_event(lambda e: e["event"] == "path_request", 0.5) is not None,
          "no open request reported to the application")
    a = ctx.peer.pump(2.6, types={0x29, 0x2B}, pred=lambda p: int(p.chan) == 0x300)
    dt = time.monotonic() - t0
    check(a is not None and int(a.type) == 0x2B, "no answer within 2.6 s: %s" % (a and a.summary()))
    check(int(a.cseq) == 0 and int(a.payload.error) == 5, "answer cseq %d error %d" % (
        int(a.cseq), int(a.payload.error)))
    check(dt <= 2.2, "answered after %.2f s > open timeout 2 s" % dt)


@case("activate_ack_session", ["MSG-LINK-38"])
def t_ack_session(ctx):
    """ESTABLISHING: a LINK_ACTIVATE without ACK_SESSION, or naming another session, does
    not bring the link up; the right one does."""
    ctx.start()
    ctx.peer.send(ctx.peer.link(0x02))
    a = ctx.peer.recv({0x03}, 1.0, pred=lambda p: int(p.payload.peer_id) == ctx.peer.node_id)
    check(a is not None, "no LINK_ACTIVATE")
    s = int(a.payload.session)
    ctx.peer.iut_session, ctx.peer.rcv_nxt = s, int(a.payload.next_seq)
    f = ctx.peer.link(0x03)
    f.payload.opts = []
    ctx.peer.send(f)                                              # no ACK_SESSION
    ctx.peer.send(ctx.peer.link(0x03, ack_session=(s + 77) & 0xFFFF))  # another session
    ok = ctx.drv.wait_event(lambda e: e["event"] == "link_up", 0.15)
    check(ok is None, "link up on a LINK_ACTIVATE without the right ACK_SESSION")
    ctx.peer.send(ctx.peer.link(0x03))
    check(ctx.drv.wait_event(lambda e: e["event"] == "link_up", 0.5) is not None,
          "control: the LINK_ACTIVATE naming the IUT's session does not bring the link up")


@case("incarnation_only_from_accepted_frames", ["MSG-SEC-22", "MSG-DISC-8"])
def t_incarnation(ctx):
    """A new incarnation in a frame the link would drop (another domain, another peer_id)
    purges nothing; in an accepted DISCOVER it does."""
    _up_clean(ctx)
    new = (ctx.peer.incarnation + 1) & 0xFFFFFFFF
    ctx.peer.send(ctx.peer.discover(domain=0x77, incarnation=new))
    ctx.peer.send(ctx.peer.link(0x02, peer_id=0x0B0B0B0B, incarnation=new))
    ctx.peer.pump(0.2)                                   # alive and acknowledging meanwhile
    e = [e for e in ctx.drv.events if e["event"] in ("peer_down", "link_down")]
    check(not e, "a dropped frame's incarnation took effect: %s" % [(x["event"], x["reason"]) for x in e])
    ctx.peer.send(ctx.peer.discover(incarnation=new))
    e = ctx.drv.wait_event(lambda e: e["event"] == "peer_down", 0.5)
    check(e is not None, "control: a DISCOVER with a new incarnation did not purge the peer")


@case("minet_not_announced", ["MSG-MINET-5"])
def t_minet(ctx):
    """No MINET frame goes to a peer that has not announced MINET (CAPS)."""
    _up(ctx)
    eth = b"\xff" * 6 + b"\x02\0\0\0\0\x01" + b"\x08\x06" + b"\0" * 28
    body = struct.pack("!BBHHHHH", 0x02, 0, 0, 0, 0, 0, 0) + eth
    r = ctx.drv.cmd("send", peer=ctx.peer.node_id, chan=1, type=0x13, body=body.hex())
    p = ctx.peer.pump(0.2, types={0x13, 0x12, 0x11})
    check(p is None or (int(p.type) == 0x12 and not any(int(m.type) == 0x13 for m in p.payload.members)),
          "MINET sent to a peer without CAP_MINET (driver reply %s)" % r)
