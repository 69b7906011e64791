"""Conformance cases: the PCIe shim (14.4), with the suite as the host of the window
(shm.py) and the IUT as the IOP.  They need an IUT that takes a `pcie:...,role=iop,
sock=PATH` bearer (capability `pcie`); they run in the UDP run (the shim is local)."""
import struct
import time

from harness import case, check, Skip, Peer, mgmt_body, validate, wait_until
import shm
from shm import ShmHost, DOWN, READY, RUNNING, H2I, I2H, PROD, CONS, WAKE

T_MGMT = 0x30


def _shm(ctx, **kw):
    ctx.start(tolerance=1000)
    if "pcie" not in getattr(ctx, "caps", []):
        raise Skip("the IUT does not announce the `pcie` capability")
    h = ShmHost(**kw)
    ctx.extra = [h]
    r = ctx.drv.cmd("add_bearer", spec=h.iut_spec())
    check(r.get("ok"), "driver add_bearer pcie: %s" % r)
    ctx.shm_bearer = r.get("bearer")
    check(h.accept(2.0), "the IOP did not connect to the setup socket")
    return h


def _up(ctx, h):
    h.hello()
    check(h.wait_iop(READY, 1.0), "iop_state %d, not READY after a good hello" % h.iop_state())
    h.run()
    check(h.wait_iop(RUNNING, 1.0), "iop_state %d, not RUNNING after host RUNNING" % h.iop_state())
    p = Peer(h, node_id=ctx.peer.node_id + 1, iut_id=ctx.iut_id, tolerance=1000)
    p.establish()
    check(ctx.drv.wait_event(lambda e: e["event"] == "link_up" and e["bearer"] == ctx.shm_bearer,
                             1.0), "no link up over the shim")
    p.pump(0.3, types={0x22})
    return p


@case("shm_hello_rejected", ["MSG-SHM-9"], bearers=("udp",))
def t_shm_hello(ctx):
    """Hellos with another magic, another version, two descriptors or a window length
    other than the memfd's: the IOP does not enter READY (and reconnects); a good one:
    READY."""
    h = _shm(ctx)
    bad = [dict(magic=b"MSGRHELX"), dict(version=2), dict(nfds=2), dict(length=h.length + 4096)]
    for b in bad:
        h.hello(**b)
        gone = h.peer_gone(0.3)
        check(h.iop_state() == DOWN, "iop_state %d after a hello with %s" % (h.iop_state(), b))
        if gone:
            check(h.accept(1.0), "the IOP did not reconnect after rejecting a hello (%s)" % b)
    h.hello()
    check(h.wait_iop(READY, 1.0), "control: a good hello did not make the IOP READY")


@case("shm_window_validated", ["MSG-SHM-2"], bearers=("udp",))
def t_shm_window(ctx):
    """A window that fails a check of 14.4.2 (magic, version, control length, slot
    geometry, ring offsets, window length): never READY."""
    h = _shm(ctx)
    S, N = h.slot_size, h.slots
    bad = [dict(magic=b"MSGRSHM2"), dict(version=2), dict(cblen=2048), dict(slot_size=1000),
           dict(slot_size=32), dict(slot_count=3), dict(off_h2i=2048),
           dict(off_i2h=4096), dict(off_i2h=4096 + N * S + 8), dict(length=h.length - 64)]
    for b in bad:
        h.init_control(**b)
        h.hello()
        gone = h.peer_gone(0.25)
        check(h.iop_state() not in (READY, RUNNING), "IOP READY on a window with %s" % b)
        if gone:
            check(h.accept(1.0), "the IOP did not reconnect after rejecting a window (%s)" % b)
    h.init_control()
    h.hello()
    check(h.wait_iop(READY, 1.0), "control: the correct window did not make the IOP READY")


@case("shm_handshake_and_traffic", ["MSG-SHM-1", "MSG-SHM-8", "MSG-SHM-5", "MSG-SHM-4"],
      bearers=("udp",))
def t_shm_traffic(ctx):
    """Little-endian state words and indices; nothing sent before both sides are RUNNING;
    then a link over the rings, every published slot complete (len, one valid frame)."""
    h = _shm(ctx)
    h.hello()
    check(h.wait_iop(READY, 1.0), "iop_state word %08x: not READY (2, little-endian)" % h.iop_state())
    time.sleep(0.3)        # a quiet window on purpose: the IOP is READY, the host not RUNNING
    check(h.u32(I2H + PROD) == 0, "the IOP produced %d slot(s) before RUNNING (MSG-SHM-8)" %
          h.u32(I2H + PROD))
    h.run()
    check(h.wait_iop(RUNNING, 1.0), "not RUNNING")
    p = Peer(h, node_id=ctx.peer.node_id + 1, iut_id=ctx.iut_id, tolerance=1000)
    p.establish()
    check(ctx.drv.wait_event(lambda e: e["event"] == "link_up" and e["bearer"] == ctx.shm_bearer,
                             1.0), "no link up over the shim")
    for i in range(20):
        ctx.drv.cmd("send", peer=p.node_id, chan=0, type=T_MGMT, body=mgmt_body(corr=i + 1).hex())
    got = set()
    end = time.monotonic() + 2.0
    while len(got) < 20 and time.monotonic() < end:
        q = p.pump(0.05, types={T_MGMT})
        if q is not None:
            got.add(int(q.payload.corr_id))
    check(len(got) == 20, "%d of 20 messages over the shim" % len(got))
    prod = h.u32(I2H + PROD)
    check(0 < prod < 0x10000, "IOP-to-host prod word %08x: not a little-endian count" % prod)
    bad = [d.hex()[:40] for _, d in h.log if validate(d) is not None]
    check(not bad, "slots not holding exactly one valid frame: %s" % bad[:3])


@case("shm_bad_slots_discarded", ["MSG-SHM-4"], bearers=("udp",))
def t_shm_slots(ctx):
    """Slots with len 0 or len > slot_size - 8 are discarded and counted; the ring goes on."""
    h = _shm(ctx)
    p = _up(ctx, h)
    st0 = ctx.drv.cmd("bearer_stats", bearer=ctx.shm_bearer)
    h.put_slot(b"", length=0)
    h.put_slot(b"\x10" * 16, length=h.slot_size)
    p.send(p.state(sflags=1))
    q = p.recv({0x04}, 0.5, pred=lambda q: int(q.payload.sflags) & 2)
    check(q is not None, "the frame after two bad slots was not processed")
    check(h.iop_state() == RUNNING, "IOP left RUNNING over a bad slot length")
    st = ctx.drv.cmd("bearer_stats", bearer=ctx.shm_bearer)
    if "bearer_stats" in ctx.caps:
        check(st.get("ok") and st0.get("ok"), "bearer_stats: %s" % st)
        d0, d = st0.get("drops", {}), st.get("drops", {})
        check(sum(d.values()) - sum(d0.values()) >= 2, "bad slots not counted: %s -> %s" % (d0, d))


@case("shm_doorbells", ["MSG-SHM-6"], bearers=("udp",))
def t_shm_doorbells(ctx):
    """A consumer going to sleep sets need_wakeup; a producer that finds it set clears it
    and rings once."""
    h = _shm(ctx)
    p = _up(ctx, h)
    p.pump(0.2)
    check(wait_until(lambda: h.u32(H2I + WAKE) == 1, 1.0),
          "the idle IOP did not set need_wakeup on the host-to-IOP ring")
    # our side asleep: the IUT, producing, must clear need_wakeup and ring us
    while h.host_rung():
        pass
    h.set32(I2H + WAKE, 1)
    prod0 = h.u32(I2H + PROD)
    ctx.drv.cmd("send", peer=p.node_id, chan=0, type=T_MGMT, body=mgmt_body(corr=5).hex())
    check(wait_until(lambda: h.u32(I2H + PROD) != prod0, 1.0), "nothing produced")
    time.sleep(0.02)
    check(h.u32(I2H + WAKE) == 0, "need_wakeup not cleared by the producer")
    n = h.host_rung()
    check(n >= 1, "the host doorbell was not rung")
    check(n == 1, "%d rings for one wake-up (a burst costs one doorbell)" % n)


@case("shm_producer_index_checked", ["MSG-SHM-3", "MSG-SHM-7"], bearers=("udp",))
def t_shm_errors(ctx):
    """A producer index more than slot_count ahead of the consumer: a protocol error (the
    IOP leaves RUNNING), never a read outside the window or a crash; then a new
    handshake works."""
    h = _shm(ctx)
    _up(ctx, h)
    h.set32(H2I + PROD, h.u32(H2I + CONS) + h.slots + 5)
    h.ring_iop()
    check(wait_until(lambda: h.iop_state() != RUNNING, 1.0),
          "prod - cons > slot_count not treated as a protocol error (MSG-SHM-3)")
    check(ctx.drv.cmd("stats").get("ok"), "the IUT died")
    if h.peer_gone(0.3):
        check(h.accept(1.0), "no reconnect after the protocol error")
    h.hello()
    check(h.wait_iop(READY, 1.0), "no new handshake after the protocol error")


@case("shm_consumer_index_checked", ["MSG-SHM-7"], bearers=("udp",))
def t_shm_cons(ctx):
    """The IOP, producing, reads a consumer index beyond what it produced: a protocol
    error (the IOP leaves RUNNING)."""
    h = _shm(ctx)
    p = _up(ctx, h)
    h.set32(I2H + CONS, h.u32(I2H + PROD) + 1000)
    ctx.drv.cmd("send", peer=p.node_id, chan=0, type=T_MGMT, body=mgmt_body(corr=6).hex())
    h.ring_iop()        # a spurious doorbell is allowed: the IOP looks at its rings now
    check(wait_until(lambda: h.iop_state() != RUNNING, 1.0),
          "a consumer index beyond the producer's not treated as a protocol error (MSG-SHM-7)")
    check(ctx.drv.cmd("stats").get("ok"), "the IUT died")
