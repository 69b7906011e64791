"""Conformance test cases.  Each declares the RFC requirement IDs it checks.
`ctx` gives: ctx.drv (Driver), ctx.bearer, ctx.peer (Peer), ctx.iut_id, ctx.start()."""
import time

from harness import case, check, Skip  # noqa: F401
from scapy_msgr import validate, dissect


def _up(ctx, tolerance=500, probes=True):
    """Link up; the IUT's link-up NAME_SYNC is acknowledged as soon as it arrives (an
    unacknowledged one would stall the link one tolerance later, MSG-LINK-13)."""
    ctx.start(tolerance=tolerance)
    ctx.peer.establish()
    e = ctx.drv.wait_event(lambda e: e["event"] == "link_up", 1.0)
    check(e is not None, "no LINK_UP after LINK_RESET/LINK_ACTIVATE exchange")
    ctx.peer.pump(0.5, types={0x22}, probes=probes)   # probes=False: no RTT sample yet


def _event(ctx, name):
    """Non-blocking poll for an event (Driver.wait_event(pred, 0.0) never looks: its
    loop condition is false on entry)."""
    evs = ctx.drv.events_of(name)
    return evs[0] if evs else None


def _wait(fn, timeout):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= end:
            return v
        time.sleep(0.005)


def _wait_msgs(ctx, n, timeout=0.5):
    """The MGMT messages delivered so far, once there are n of them (or at the deadline)."""
    get = lambda: [e for e in ctx.drv.events_of("message") if e["type"] == 0x30]  # noqa: E731
    _wait(lambda: len(get()) >= n, timeout)
    return get()


def _ack_all(ctx):
    """Make the peer's rcv_nxt follow every sequenced frame the IUT has sent so far (the
    NAME_SYNC that a node MUST send at link-up, MSG-NAME-13), so that the next
    LINK_STATE acknowledges them.  Without this the IUT rightly declares the link
    STALLED one tolerance after link-up (MSG-LINK-13)."""
    for d in ctx.peer.received:
        if validate(d) is not None:
            continue
        p = dissect(d)
        if 0x10 <= int(p.type) <= 0x3F and ((int(p.seq) - ctx.peer.rcv_nxt) & 0xFFFF) < 0x8000:
            ctx.peer.rcv_nxt = (int(p.seq) + 1) & 0xFFFF


@case("discover_sent", ["MSG-DISC-1", "MSG-DISC-11", "MSG-UDP-1", "MSG-HDR-1", "MSG-HDR-15",
                        "MSG-DISC-4", "MSG-DISC-2", "MSG-ETH-1", "MSG-ETH-4"])
def t_discover_sent(ctx):
    """The IUT sends DISCOVER at 100 ms for the first 5, then slower."""
    ctx.start()
    ts = []
    end = time.monotonic() + 1.6
    while time.monotonic() < end:
        p = ctx.peer.recv({0x01}, end - time.monotonic())
        if p is None:
            break
        b = p.payload
        check(int(b.node_id) == ctx.iut_id and int(b.max_version) >= 1 and int(b.dflags) & 1 == 0,
              "DISCOVER fields wrong: %r" % b.fields)
        ts.append(time.monotonic())
    check(len(ts) >= 5, "only %d DISCOVERs in 1.6 s" % len(ts))
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    check(all(0.05 < g < 0.2 for g in gaps[:4]), "first intervals %s not ~100 ms" % gaps[:4])
    if ctx.bearer.name == "veth":
        check(any(l[2] == b"\xff" * 6 for l in ctx.bearer.log), "DISCOVER not broadcast")


@case("discover_reply", ["MSG-DISC-12", "MSG-UDP-2", "MSG-ETH-4"])
def t_discover_reply(ctx):
    """A DISCOVER without REPLY is answered unicast with DISCOVER+REPLY."""
    ctx.start()
    ctx.peer.send(ctx.peer.discover())
    p = ctx.peer.recv({0x01}, 1.0, pred=lambda p: int(p.payload.dflags) & 1)
    check(p is not None, "no DISCOVER+REPLY")


@case("discover_reply_not_answered", ["MSG-DISC-14"])
def t_discover_no_storm(ctx):
    """A DISCOVER with REPLY is not answered with a DISCOVER."""
    ctx.start()
    ctx.peer.send(ctx.peer.discover(reply=True))
    p = ctx.peer.recv({0x01}, 0.25, pred=lambda p: int(p.payload.dflags) & 1)
    check(p is None, "DISCOVER+REPLY answered with DISCOVER+REPLY")


@case("discover_other_domain", ["MSG-DISC-9"])
def t_domain(ctx):
    """A DISCOVER of another domain is ignored and counted."""
    ctx.start()
    ctx.peer.send(ctx.peer.discover(domain=0x1234))
    p = ctx.peer.recv({0x01, 0x02}, 0.25, pred=lambda p: int(p.type) == 2 or int(p.payload.dflags) & 1)
    check(p is None, "answered a DISCOVER of another domain")
    check(ctx.drv.stats().get("domain", 1) >= 1, "not counted")


@case("duplicate_node", ["MSG-DISC-6", "MSG-DISC-5"])
def t_dup_node(ctx):
    """A DISCOVER with the IUT's own node_id and another incarnation: no link, counted."""
    ctx.start()
    ctx.peer.send(ctx.peer.discover(node_id=ctx.iut_id, incarnation=0x5A5A5A5A))
    p = ctx.peer.recv({0x01}, 0.25, pred=lambda p: int(p.payload.dflags) & 1)
    check(p is None, "created a link/answered for a duplicate node id")
    st = ctx.drv.stats()
    check(st.get("dup_node", 0) >= 1 or ctx.drv.events_of("dup_node"), "duplicate not counted")


@case("link_setup", ["MSG-LINK-1", "MSG-LINK-30", "MSG-LINK-28", "MSG-LINK-2", "MSG-LINK-3",
                     "MSG-LINK-4", "MSG-LINK-5", "MSG-LINK-14"])
def t_link_setup(ctx):
    """LINK_RESET -> LINK_ACTIVATE -> LINK_UP; effective tolerance = max of both ends."""
    ctx.start()
    ctx.peer.tolerance = 700
    a = ctx.peer.establish()
    b = a.payload
    check(int(b.node_id) == ctx.iut_id and int(b.peer_id) == ctx.peer.node_id, "ids wrong")
    check(10 <= int(b.tolerance_ms) <= 30000 and 1 <= int(b.window) <= 16384, "ranges")
    e = ctx.drv.wait_event(lambda e: e["event"] == "link_up", 1.0)
    check(e is not None, "no LINK_UP")
    li = ctx.drv.cmd("link_info", peer=ctx.peer.node_id, bearer=0)
    check(li.get("state") == "ESTABLISHED", "state %s" % li.get("state"))
    check(li.get("tolerance_ms") == max(700, int(b.tolerance_ms)), "tolerance not max: %s" % li)
    check(li.get("window") == min(64, int(b.window)), "window not min: %s" % li)
    # first sequenced frame carries the announced next_seq
    r = ctx.drv.cmd("send", peer=ctx.peer.node_id, chan=0, type=0x30,
                    body="000000070000000100000001000000000100000000000000" "00010000")
    check(r.get("ok"), "driver send: %s" % r)
    p = ctx.peer.recv(set(range(0x10, 0x40)), 1.0)   # first sequenced frame (may be NAME_SYNC)
    check(p is not None and int(p.seq) == int(b.next_seq), "first seq %s != announced next_seq %d" % (p and int(p.seq), int(b.next_seq)))


@case("link_reset_wrong_peer", ["MSG-LINK-7"])
def t_wrong_peer(ctx):
    """A LINK_RESET addressed to another node is dropped and counted."""
    ctx.start()
    ctx.peer.send(ctx.peer.link(0x02, peer_id=0x0B0B0B0B))
    p = ctx.peer.recv({0x03}, 0.25)
    check(p is None, "answered a LINK_RESET for another node")
    check(ctx.drv.stats().get("not_for_us", 0) >= 1, "not counted")


@case("reset_retransmit", ["MSG-TIMER-2", "MSG-LINK-6"])
def t_reset_timer(ctx):
    """In RESET the IUT sends LINK_RESET every 100 ms (first 10)."""
    ctx.start()
    ctx.peer.send(ctx.peer.discover())
    ts, sess = [], set()
    end = time.monotonic() + 0.75
    while time.monotonic() < end:
        p = ctx.peer.recv({0x02}, end - time.monotonic())
        if p is None:
            break
        ts.append(time.monotonic())
        sess.add(int(p.payload.session))
    check(len(ts) >= 5, "only %d LINK_RESETs in 750 ms" % len(ts))
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    check(all(0.05 < g < 0.2 for g in gaps), "intervals %s" % gaps)
    check(len(sess) == 1, "session changed while staying in RESET")


@case("probe_reply", ["MSG-LINK-10", "MSG-LINK-16"])
def t_probe(ctx):
    """LINK_STATE+PROBE is answered at once with REPLY and echo = timestamp."""
    _up(ctx)
    ctx.peer.send(ctx.peer.state(sflags=1, timestamp=0xCAFE0001))
    p = ctx.peer.recv({0x04}, 0.3, pred=lambda p: int(p.payload.sflags) & 2)
    check(p is not None, "no REPLY")
    check(int(p.payload.echo) == 0xCAFE0001, "echo %x" % int(p.payload.echo))
    check(int(p.payload.session) == ctx.peer.iut_session, "session")
    check(int(p.payload.ack) == (ctx.peer.snd_nxt - 1) & 0xFFFF,
          "ack %d != its rcv_nxt - 1 = %d" % (int(p.payload.ack), (ctx.peer.snd_nxt - 1) & 0xFFFF))


@case("stale_link_state", ["MSG-STATE-6"])
def t_stale(ctx):
    """A LINK_STATE of another session is dropped and counted (no reply to its PROBE)."""
    _up(ctx)
    ctx.peer.send(ctx.peer.state(sflags=1, session=(ctx.peer.session + 1) & 0xFFFF))
    p = ctx.peer.recv({0x04}, 0.1, pred=lambda p: int(p.payload.sflags) & 2)
    check(p is None, "answered a probe of a stale session")
    check(ctx.drv.stats().get("stale_session", 0) >= 1, "not counted")


@case("silence_link_down", ["MSG-LINK-9", "MSG-LINK-11", "MSG-LINK-12", "MSG-LINK-8",
                            "MSG-LINK-29"])
def t_silence(ctx):
    """Silence: probes, then LINK_DOWN within tolerance + probe interval."""
    _up(ctx)
    _ack_all(ctx)                      # the last word acknowledges everything
    t0 = time.monotonic()
    ctx.peer.send(ctx.peer.state())
    probes = 0
    end = t0 + 1.2
    down = None
    while time.monotonic() < end and down is None:
        p = ctx.peer.recv({0x04}, 0.02, pred=lambda p: int(p.payload.sflags) & 1)
        probes += p is not None
        down = _event(ctx, "link_down")
    check(probes >= 2, "only %d probes during silence" % probes)
    check(down is not None, "no LINK_DOWN after 1.2 s of silence")
    dt = down["_t"] - t0
    check(dt <= 0.625 + 0.05, "link down after %.3f s > tolerance + probe interval" % dt)
    check(dt >= 0.45, "link down too early (%.3f s)" % dt)
    check(down["reason"] == "timeout", "reason %s" % down["reason"])
    p = ctx.peer.recv({0x02}, 0.5)
    check(p is not None and int(p.payload.session) != ctx.peer.iut_session,
          "no LINK_RESET with a new session after link down (MSG-LINK-6)")


@case("in_order_delivery", ["MSG-LINK-17", "MSG-LINK-18", "MSG-HDR-16", "MSG-LINK-16"])
def t_in_order(ctx):
    """Sequenced frames are delivered in order and acknowledged."""
    _up(ctx)
    for i in range(10):
        ctx.peer.send(ctx.peer.mgmt(100 + i))
    p = ctx.peer.recv({0x04}, 0.3, pred=lambda p: int(p.payload.ack) == (ctx.peer.snd_nxt - 1) & 0xFFFF)
    check(p is not None, "no cumulative ack for 10 frames")
    msgs = _wait_msgs(ctx, 10)
    check([m["cseq"] for m in msgs] == list(range(10)), "delivery %s" % [m["cseq"] for m in msgs])


@case("duplicate_dropped", ["MSG-LINK-17"])
def t_dup(ctx):
    """A duplicate sequenced frame is dropped, counted and re-acknowledged."""
    _up(ctx)
    f = ctx.peer.mgmt(1)
    ctx.peer.send(f)
    ctx.peer.send(f)
    check(_wait(lambda: ctx.drv.stats().get("dup_seq", 0) >= 1, 0.5), "not counted")
    msgs = [e for e in ctx.drv.events_of("message") if e["type"] == 0x30]
    check(len(msgs) == 1, "%d deliveries" % len(msgs))


@case("reorder_nack", ["MSG-LINK-17", "MSG-LINK-19", "MSG-STATE-5"])
def t_reorder(ctx):
    """Out of order: held, NACKed with a gap block, delivered in order once filled."""
    _up(ctx)
    f0 = ctx.peer.mgmt(1)
    f1 = ctx.peer.mgmt(2)
    ctx.peer.send(f1)
    s0 = int(f0.seq)
    p = ctx.peer.recv({0x04}, 0.3, pred=lambda p: int(p.payload.gap_count) > 0)
    check(p is not None, "no NACK for a gap")
    g = p.payload.gaps[0]
    check(int(g.start) == s0 and int(g.end) == s0, "gap %d-%d, want %d" % (g.start, g.end, s0))
    time.sleep(0.03)                                            # delayed frame
    ctx.peer.send(f0)
    msgs = [e["cseq"] for e in _wait_msgs(ctx, 2)]
    check(msgs == [0, 1], "delivery order %s" % msgs)


@case("out_of_window", ["MSG-LINK-17"])
def t_window(ctx):
    """A frame beyond the window is dropped and counted."""
    _up(ctx)
    ctx.peer.send(ctx.peer.mgmt(1, seq=(ctx.peer.snd_nxt + 20000) & 0xFFFF))
    check(_wait(lambda: ctx.drv.stats().get("out_of_window", 0) >= 1, 0.5), "not counted")
    check(not ctx.drv.events_of("message"), "delivered")


@case("ackreq_immediate", ["MSG-LINK-18", "MSG-HDR-7"])
def t_ackreq(ctx):
    """ACKREQ asks for an immediate LINK_STATE."""
    _up(ctx)
    t = time.monotonic()
    ctx.peer.send(ctx.peer.mgmt(1, flags=0x8))
    p = ctx.peer.recv({0x04}, 0.2, pred=lambda p: int(p.payload.ack) == (ctx.peer.snd_nxt - 1) & 0xFFFF)
    check(p is not None and time.monotonic() - t < 0.05, "no immediate ack")


@case("malformed_frames", ["MSG-HDR-14", "MSG-HDR-17", "MSG-HDR-19", "MSG-HDR-21",
                           "MSG-HDR-2", "MSG-HDR-4", "MSG-HDR-3"])
def t_malformed(ctx):
    """Malformed/unknown frames change nothing; a bad sequenced body consumes its seq."""
    _up(ctx)
    bad = [bytes.fromhex("20100014000000000000010000000000"),      # version 2
           bytes.fromhex("1005000400"), bytes.fromhex("108000040000"),  # unassigned, private
           bytes.fromhex("1010"),                                    # truncated
           bytes(ctx.peer.link(0x02, session=1))[:20] + b"\0" * 8]     # LINK_RESET, zero ids
    for b in bad:
        ctx.peer.send(b)
    # a sequenced frame with a bad body (MGMT gflags undefined bit) then a good one
    f = ctx.peer.mgmt(1, gflags=0x80)
    check(validate(bytes(f)) == "MP_ERESERVED", "test frame not invalid")
    ctx.peer.send(f)
    ctx.peer.send(ctx.peer.mgmt(2, flags=0x8))
    p = ctx.peer.recv({0x04}, 0.3, pred=lambda p: int(p.payload.ack) == (ctx.peer.snd_nxt - 1) & 0xFFFF)
    check(p is not None, "bad sequenced body not acknowledged (link stalls)")
    msgs = [e["cseq"] for e in _wait_msgs(ctx, 1)]
    check(msgs == [1], "deliveries %s (want only cseq 1)" % msgs)
    check(not ctx.drv.events_of("link_down"), "link went down")


@case("withheld_acks", ["MSG-LINK-22", "MSG-LINK-24", "MSG-LINK-13", "MSG-LINK-15"])
def t_withheld(ctx):
    """No acknowledgement: retransmission with identical seq/chan/cseq/body, then stall."""
    _up(ctx)
    _ack_all(ctx)                      # NAME_SYNC acknowledged: the MGMT is the oldest
    ack0 = (ctx.peer.rcv_nxt - 1) & 0xFFFF
    ctx.peer.send(ctx.peer.state(ack=ack0))
    r = ctx.drv.cmd("send", peer=ctx.peer.node_id, chan=0, type=0x30,
                    body="000000070000000100000001000000000100000000000000" "00010000")
    check(r.get("ok"), "driver send: %s" % r)
    first = ctx.peer.recv({0x30}, 0.5)
    check(first is not None, "nothing sent")
    rt = None
    t0 = time.monotonic()
    down = None
    while time.monotonic() - t0 < 1.0 and down is None:
        p = ctx.peer.recv({0x30, 0x04}, 0.02)
        if p is not None and int(p.type) == 0x04 and int(p.payload.sflags) & 1:
            ctx.peer.send(ctx.peer.state(sflags=2, ack=ack0, echo=int(p.payload.timestamp)))
        elif p is not None and int(p.type) == 0x30 and rt is None:
            rt = p
        elif p is None:
            ctx.peer.send(ctx.peer.state(ack=ack0))   # alive, but never acknowledging
        down = _event(ctx, "link_down")
    check(rt is not None, "no retransmission")
    check((int(rt.seq), int(rt.chan), int(rt.cseq), bytes(rt.payload)) ==
          (int(first.seq), int(first.chan), int(first.cseq), bytes(first.payload)),
          "retransmission differs")
    check(down is not None and down["reason"] == "stalled",
          "no stall detection: %s" % (down and down["reason"]))


@case("nack_retransmit", ["MSG-LINK-21"])
def t_nack(ctx):
    """A gap block makes the sender retransmit the frame at once (before its RTO, which
    is still the initial 50 ms: no probe is answered, so there is no RTT sample)."""
    _up(ctx, probes=False)
    for i in range(3):
        ctx.drv.cmd("send", peer=ctx.peer.node_id, chan=0, type=0x30,
                    body="%08x0000000100000001000000000100000000000000" "00010000" % i)
    got = []
    while len(got) < 3:
        p = ctx.peer.recv({0x30}, 0.5)
        check(p is not None, "only %d frames" % len(got))
        got.append(p)
        if len(got) == 1:
            t_first = time.monotonic()
    s0 = int(got[0].seq)
    ctx.peer.rcv_nxt = (s0 + 1) & 0xFFFF
    # A frame (re)transmitted less than 1 ms ago (no RTT sample yet) is exempt from the
    # NACK rule (MSG-LINK-21): let 5 ms pass since the transmission, well before the RTO.
    time.sleep(max(0.0, t_first + 0.005 - time.monotonic()))
    t = time.monotonic()
    ctx.peer.send(ctx.peer.state(gaps=[((s0 + 1) & 0xFFFF, (s0 + 1) & 0xFFFF)]))
    p = ctx.peer.recv({0x30}, 0.2, pred=lambda p: int(p.seq) == (s0 + 1) & 0xFFFF)
    check(p is not None and time.monotonic() - t < 0.04, "no prompt retransmission (%s s after the NACK; %.3f s after the first transmission)" % (
        p and "%.3f" % (time.monotonic() - t), t - t_first))


@case("setup_frames_established", ["MSG-LINK-26", "MSG-LINK-27"])
def t_late_setup(ctx):
    """Late copy of a setup frame: ignored; new session: link down (peer reset)."""
    _up(ctx)
    ctx.peer.send(ctx.peer.link(0x02))
    e = ctx.drv.wait_event(lambda e: e["event"] == "link_down", 0.1)   # a quiet window, by design
    check(e is None, "late LINK_RESET copy took the link down")
    ctx.peer.session = (ctx.peer.session + 7) & 0xFFFF
    ctx.peer.send(ctx.peer.link(0x02))
    e = ctx.drv.wait_event(lambda e: e["event"] == "link_down", 0.5)
    check(e is not None and e["reason"] == "peer_reset", "no peer-reset link down")
    check(ctx.peer.recv({0x03}, 0.5) is not None, "no LINK_ACTIVATE for the new session")


@case("restart_new_incarnation", ["MSG-DISC-8", "MSG-DISC-7"])
def t_restart(ctx):
    """The peer restarts with a new incarnation: the old one is purged (PEER_DOWN)."""
    _up(ctx)
    ctx.peer.incarnation = (ctx.peer.incarnation + 1) & 0xFFFFFFFF
    ctx.peer.session = (ctx.peer.session + 3) & 0xFFFF
    ctx.peer.send(ctx.peer.link(0x02))
    e = ctx.drv.wait_event(lambda e: e["event"] == "peer_down", 0.5)
    check(e is not None, "old incarnation not purged")
    check(ctx.peer.recv({0x03}, 0.5) is not None, "no LINK_ACTIVATE after restart")


@case("out_of_state", ["MSG-LINK-30", "MSG-HDR-14"])
def t_out_of_state(ctx):
    """Sequenced frames, LINK_STATE and LINK_ACTIVATE with no link are dropped."""
    ctx.start()
    ctx.peer.rcv_nxt = 0
    ctx.peer.send(ctx.peer.mgmt(1, flags=0x8))
    ctx.peer.send(ctx.peer.state(sflags=1))
    ctx.peer.send(ctx.peer.link(0x03))
    p = ctx.peer.recv({0x04, 0x03}, 0.3)
    check(p is None, "answered an out-of-state frame: %s" % (p and p.summary()))
    check(ctx.drv.stats().get("no_link", 0) >= 1, "not counted")
    check(not ctx.drv.events_of("message"), "delivered without a link")
