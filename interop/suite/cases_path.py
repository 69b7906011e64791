"""Conformance cases: paths (Section 9) and service status (9.9)."""
import struct
import time

from harness import case, check, path_open_body, status_body, name_rec, Skip
from cases_link import _up_clean as _up, _members

T_OPEN, T_ACC, T_CLOSE, T_ABORT, T_CREDIT, T_STAT, T_DATA = 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x10
R_NONE, R_NODEV, R_PROTO, R_NORES, R_TIMEOUT, R_PEERDOWN, R_APPCLOSE = 0, 1, 4, 3, 5, 6, 10
ST_OPEN, ST_CLOSED, ST_BROKEN = 3, 0, 5


def wait(ctx, fn, timeout):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= end:
            return v
        ctx.peer.pump(0.005)


def pev(ctx, name, **kw):
    return [e for e in ctx.drv.events_of(name) if all(e.get(k) == v for k, v in kw.items())]


def psend(ctx, t, body, chan, cseq=None, flags=0x8):
    ctx.peer.send(ctx.peer.seqf(t, body, chan=chan, cseq=cseq, flags=flags))


def open_to_iut(ctx, device=7, src_path=0x300, credit=65, name=b"", auto=True, add=True):
    """The peer opens a path to the IUT's `device`; returns (PATH_ACCEPT/ABORT frame)."""
    if add:
        r = ctx.drv.cmd("device_add", device=device, auto_accept=1 if auto else 0)
        check(r.get("ok"), "driver device_add: %s" % r)
    psend(ctx, T_OPEN, path_open_body(src_path, 1, device, credit, name=name), chan=0)
    return ctx.peer.pump(0.5, types={T_ACC, T_ABORT}, pred=lambda p: int(p.chan) == src_path)


@case("path_accept_refuse", ["MSG-PATH-13", "MSG-PATH-12", "MSG-PATH-28",
                             "MSG-PATH-20", "MSG-PATH-19"], bearers=("udp",))
def t_accept(ctx):
    """PATH_OPEN on channel 0 gets exactly one answer at cseq 0 of the opener's channel."""
    _up(ctx)
    ctx.drv.cmd("publish", device=7, name="svc/p", dtype=1, rank=0, exclusive=0, generation=1)
    a = open_to_iut(ctx, 7, 0x300)
    check(a is not None and int(a.type) == T_ACC, "no PATH_ACCEPT: %s" % (a and a.summary()))
    b = a.payload
    check(int(a.cseq) == 0 and int(b.dst_path) == 0x300, "PATH_ACCEPT cseq %d dst %#x" % (
        int(a.cseq), int(b.dst_path)))
    check(int(b.src_path) >= 0x100, "path id %#x < 0x100" % int(b.src_path))
    check(int(b.credit) >= 4, "acceptor window %d < 4" % int(b.credit))
    # a second path to the same device: another path id
    a2 = open_to_iut(ctx, 7, 0x301, add=False)
    check(a2 is not None and int(a2.type) == T_ACC, "second open refused")
    check(int(a2.payload.src_path) != int(b.src_path), "path id reused while in use")
    # no such device
    a3 = open_to_iut(ctx, 99, 0x302, add=False)
    check(a3 is not None and int(a3.type) == T_ABORT, "open to a missing device: %s" % (a3 and a3.summary()))
    check(int(a3.cseq) == 0 and int(a3.payload.src_path) == 0 and int(a3.payload.error) == R_NODEV,
          "refusal fields cseq %d src %d error %d" % (int(a3.cseq), int(a3.payload.src_path),
                                                       int(a3.payload.error)))
    # exactly one answer each
    extra = ctx.peer.pump(0.1, types={T_ACC, T_ABORT})
    check(extra is None, "a second answer: %s" % (extra and extra.summary()))


@case("path_data_credit", ["MSG-PATH-21", "MSG-PATH-22", "MSG-PATH-20", "MSG-PATH-23"],
      bearers=("udp",))
def t_credit(ctx):
    """Credit: the IUT grants every W/2, never sends beyond the peer's limit, and aborts a
    peer that sends beyond the limit it granted."""
    _up(ctx)
    a = open_to_iut(ctx, 7, 0x300, credit=1 + 4)          # the peer grants cseq < 5
    check(a is not None and int(a.type) == T_ACC, "no PATH_ACCEPT")
    pa, w = int(a.payload.src_path), int(a.payload.credit)
    lp = wait(ctx, lambda: pev(ctx, "path_state", path_state=ST_OPEN), 0.3)
    check(lp, "no OPEN event at the acceptor")
    lpath = lp[0]["path"]
    # receive: send W/2 messages; after the application consumes them, a PATH_CREDIT
    mark = len(getattr(ctx.peer, "frames", []))
    for i in range(w // 2):
        psend(ctx, T_DATA, b"m%d" % i, chan=pa, flags=0)
    check(wait(ctx, lambda: len(pev(ctx, "path_msg")) >= w // 2, 0.5), "messages not delivered")
    early = [p for p in getattr(ctx.peer, "frames", [])[mark:] if int(p.type) == T_CREDIT]
    auto = ctx.drv.cmd("path_consume", path=lpath, count=w // 2).get("auto")
    if auto:
        # the IUT consumes on delivery to the application: its credit may precede the
        # driver's path_consume (and the path_msg events)
        c = early[0] if early else ctx.peer.pump(0.3, types={T_CREDIT})
    else:
        check(not early, "PATH_CREDIT before the application consumed anything")
        c = ctx.peer.pump(0.3, types={T_CREDIT})
    check(c is not None, "no PATH_CREDIT after W/2 = %d consumed messages" % (w // 2))
    check(int(c.chan) == 0x300 and int(c.cseq) == 1, "PATH_CREDIT chan %#x cseq %d (want 0x300, 1)"
          % (int(c.chan), int(c.cseq)))
    check(((int(c.payload.limit) - (w // 2 + w)) & 0xFFFFFFFF) < 0x80000000,
          "limit %d < consumed + W = %d" % (int(c.payload.limit), w // 2 + w))
    # send: the peer granted cseq < 5 and position 0 was the PATH_ACCEPT ... the IUT's
    # channel 0x300 already used cseq 0 (ACCEPT) and 1 (CREDIT): DATA may use 2..4
    refused = [i for i in range(8)
               if not ctx.drv.cmd("path_send", path=lpath, data="%02x" % i).get("ok")]
    got, seen = [], set()          # a link-level retransmission (same seq) is one message
    while True:
        p = ctx.peer.pump(0.15, types={T_DATA})
        if p is None:
            break
        if int(p.seq) not in seen:
            seen.add(int(p.seq))
            got.append(int(p.cseq))
    check(got and max(got) < 5, "DATA at cseq %s beyond the granted limit 5" % got)
    # grant more: PATH_CREDIT on the IUT's channel (dst_path = its path id)
    check(len(got) + len(refused) == 8, "%d sent, %d refused for credit, of 8" % (len(got), len(refused)))
    psend(ctx, T_CREDIT, struct.pack("!II", pa, 40), chan=pa)
    ctx.peer.pump(0.02)
    for i in refused:
        r = ctx.drv.cmd("path_send", path=lpath, data="%02x" % i)
        check(r.get("ok"), "path_send after PATH_CREDIT: %s" % r)
    while len(got) < 8:
        p = ctx.peer.pump(0.3, types={T_DATA})
        if p is None:
            break
        if int(p.seq) not in seen:
            seen.add(int(p.seq))
            got.append(int(p.cseq))
    check(sorted(got) == got and len(got) == 8, "after credit: DATA cseqs %s" % got)
    # the peer overruns the IUT's limit: abort with MP_R_PROTOCOL
    lim = w // 2 + w
    nxt = ctx.peer.cseq.get(pa, 0)
    if auto:
        # every delivered message was consumed: the limit is the last PATH_CREDIT's
        ctx.peer.pump(0.05)
        lims = [int(p.payload.limit) for p in ctx.peer.frames
                if int(p.type) == T_CREDIT and int(p.chan) == 0x300]
        lim = max(lims + [lim])
        psend(ctx, T_DATA, b"x", chan=pa, cseq=lim, flags=0)   # one at the limit (a gap before)
    else:
        for k in range(nxt, lim + 1):
            psend(ctx, T_DATA, b"x", chan=pa, flags=0)
    ab = ctx.peer.pump(0.3, types={T_ABORT})
    check(ab is not None and int(ab.payload.error) == R_PROTO,
          "no PATH_ABORT(MP_R_PROTOCOL) for a message at the granted limit %d: %s (IUT path %s)" % (
              lim, ab and ab.summary(), ctx.drv.cmd("path_info", path=lpath)))


@case("path_close_by_peer", ["MSG-PATH-16", "MSG-PATH-27", "MSG-PATH-15"], bearers=("udp",))
def t_close_peer(ctx):
    """PATH_CLOSE in OPEN: report, answer with PATH_CLOSE at once (reason NONE), then
    nothing more on the path."""
    _up(ctx)
    a = open_to_iut(ctx, 7, 0x300)
    pa = int(a.payload.src_path)
    lp = wait(ctx, lambda: pev(ctx, "path_state", path_state=ST_OPEN), 0.3)[0]["path"]
    psend(ctx, T_DATA, b"one", chan=pa, flags=0)
    cs = ctx.peer.cseq.get(pa, 0)
    psend(ctx, T_CLOSE, struct.pack("!IIIB3x", pa, 0x300, (cs - 1) & 0xFFFFFFFF, R_APPCLOSE), chan=pa)
    c = ctx.peer.pump(0.3, types={T_CLOSE})
    check(c is not None, "no PATH_CLOSE in answer")
    check(int(c.payload.reason) == R_NONE and int(c.payload.last_cseq) == int(c.cseq) - 1,
          "answer reason %d last_cseq %d cseq %d" % (int(c.payload.reason),
                                                     int(c.payload.last_cseq), int(c.cseq)))
    check(wait(ctx, lambda: pev(ctx, "path_state", path=lp, path_state=ST_CLOSED), 0.3),
          "close not reported")
    ctx.drv.cmd("path_send", path=lp, data="ff")
    p = ctx.peer.pump(0.1, types={T_DATA, 0x30, T_STAT}, pred=lambda p: int(p.chan) == 0x300)
    check(p is None, "sent %s on a closed path" % (p and p.summary()))


@case("path_close_by_iut", ["MSG-PATH-27", "MSG-PATH-15", "MSG-PATH-19"], bearers=("udp",))
def t_close_iut(ctx):
    """The IUT closes: queued messages first, then PATH_CLOSE(last_cseq = cseq - 1); the
    peer's PATH_CLOSE completes it (CLOSED)."""
    _up(ctx)
    a = open_to_iut(ctx, 7, 0x300)
    pa = int(a.payload.src_path)
    lp = wait(ctx, lambda: pev(ctx, "path_state", path_state=ST_OPEN), 0.3)[0]["path"]
    for i in range(3):
        ctx.drv.cmd("path_send", path=lp, data="%02x" % i)
    ctx.drv.cmd("path_close", path=lp)
    seen, seqs = [], set()
    while True:
        p = ctx.peer.pump(0.15, types={T_DATA, T_CLOSE, T_ABORT, T_STAT},
                          pred=lambda p: int(p.chan) == 0x300)
        if p is None:
            break
        if int(p.seq) in seqs:
            continue          # a link-level retransmission (same seq), not another message
        seqs.add(int(p.seq))
        seen.append((int(p.type), int(p.cseq), p))
    check([s[0] for s in seen] == [T_DATA] * 3 + [T_CLOSE], "sequence %s" % [s[:2] for s in seen])
    c = seen[-1][2]
    check(int(c.payload.last_cseq) == int(c.cseq) - 1 and int(c.payload.reason) == R_APPCLOSE,
          "last_cseq %d cseq %d reason %d" % (int(c.payload.last_cseq), int(c.cseq), int(c.payload.reason)))
    cs = ctx.peer.cseq.get(pa, 0)
    psend(ctx, T_CLOSE, struct.pack("!IIIB3x", pa, 0x300, (cs - 1) & 0xFFFFFFFF, R_NONE), chan=pa)
    check(wait(ctx, lambda: pev(ctx, "path_state", path=lp, path_state=ST_CLOSED), 0.3),
          "not CLOSED after the peer's PATH_CLOSE")


@case("path_abort_rules", ["MSG-PATH-17", "MSG-PATH-18"], bearers=("udp",))
def t_abort(ctx):
    """PATH_ABORT is never answered by PATH_ABORT; frames for a broken or unknown path
    are dropped and counted."""
    _up(ctx)
    a = open_to_iut(ctx, 7, 0x300)
    pa = int(a.payload.src_path)
    lp = wait(ctx, lambda: pev(ctx, "path_state", path_state=ST_OPEN), 0.3)[0]["path"]
    psend(ctx, T_ABORT, struct.pack("!IIHH", pa, 0x300, 2, 0), chan=pa)
    check(wait(ctx, lambda: pev(ctx, "path_state", path=lp, path_state=ST_BROKEN), 0.3),
          "PATH_ABORT not reported (BROKEN)")
    p = ctx.peer.pump(0.1, types={T_ABORT})
    check(p is None, "PATH_ABORT answered with PATH_ABORT")
    st0 = ctx.drv.cmd("path_stats")
    n0 = len(pev(ctx, "path_msg"))
    psend(ctx, T_DATA, b"late", chan=pa)             # broken path
    psend(ctx, T_DATA, b"stray", chan=0x7777, cseq=0)  # unknown path id
    ctx.peer.pump(0.1)
    st = ctx.drv.cmd("path_stats")
    check(len(pev(ctx, "path_msg")) == n0, "a frame on a broken/unknown path was delivered")
    check(st["late"] + st["stray"] >= st0["late"] + st0["stray"] + 2,
          "not counted: %s -> %s" % ({k: st0[k] for k in ("late", "stray")},
                                      {k: st[k] for k in ("late", "stray")}))


@case("path_reorder_overflow", ["MSG-PATH-29", "MSG-CHAN-5", "MSG-SEC-23"], bearers=("udp",))
def t_reorder(ctx):
    """A path message too far ahead for the reorder buffer aborts with MP_R_NO_RESOURCES."""
    _up(ctx)
    a = open_to_iut(ctx, 7, 0x300)
    pa, w = int(a.payload.src_path), int(a.payload.credit)
    psend(ctx, T_DATA, b"far", chan=pa, cseq=2 * w + 5)
    ab = ctx.peer.pump(0.3, types={T_ABORT})
    check(ab is not None and int(ab.payload.error) in (R_NORES, R_PROTO),
          "no PATH_ABORT for a message 2W+5 ahead: %s" % (ab and ab.summary()))
    check(int(ab.payload.error) == R_NORES or 2 * w + 5 >= w,
          "error %d" % int(ab.payload.error))


@case("path_open_by_iut", ["MSG-PATH-12", "MSG-PATH-28", "MSG-PATH-30", "MSG-PATH-19",
                           "MSG-PATH-20"], bearers=("udp",))
def t_open_iut(ctx):
    """The IUT opens: PATH_OPEN on channel 0, path id >= 0x100, credit 1 + W (W >= 4);
    our PATH_ACCEPT at cseq 0 opens it; its first DATA is cseq 0 of our channel."""
    _up(ctx)
    ctx.drv.cmd("device_add", device=7, auto_accept=1)
    # the peer's device 3 has a name (an IUT that opens by name, like libmsgr, uses it)
    psend(ctx, 0x20, name_rec(3, "svc/peer3", 1), chan=0)
    check(wait(ctx, lambda: ctx.drv.cmd("lookup", name="svc/peer3").get("entries"), 0.5),
          "the peer's NAME_PUBLISH not learned")
    r = ctx.drv.cmd("path_open", device=7, peer=ctx.peer.node_id, peer_device=3, name="svc/peer3")
    check(r.get("ok"), "driver path_open: %s" % r)
    o = ctx.peer.pump(0.5, types={T_OPEN})
    check(o is not None and int(o.chan) == 0, "no PATH_OPEN on channel 0")
    b = o.payload
    po = int(b.src_path)
    check(po >= 0x100 and int(b.dst_device) == 3 and int(b.src_device) == 7, "fields %s" % b.fields)
    check(int(b.credit) >= 5, "credit %d < 1 + 4" % int(b.credit))
    check(b"*" not in bytes(b.dname) and b"?" not in bytes(b.dname), "a pattern as the name")
    psend(ctx, T_ACC, struct.pack("!III", po, 0x500, 16), chan=po, cseq=0)
    check(wait(ctx, lambda: pev(ctx, "path_state", path=r["path"], path_state=ST_OPEN), 0.3),
          "not OPEN after PATH_ACCEPT")
    ctx.drv.cmd("path_send", path=r["path"], data="aa")
    d = ctx.peer.pump(0.3, types={T_DATA})
    check(d is not None and int(d.chan) == 0x500 and int(d.cseq) == 0,
          "first DATA chan %s cseq %s" % (d and hex(int(d.chan)), d and int(d.cseq)))


@case("service_status_no_state_change", ["MSG-STAT-6"], bearers=("udp",))
def t_status(ctx):
    """SERVICE_STATUS is delivered as an event and changes no path or name state."""
    _up(ctx)
    a = open_to_iut(ctx, 7, 0x300)
    pa = int(a.payload.src_path)
    lp = wait(ctx, lambda: pev(ctx, "path_state", path_state=ST_OPEN), 0.3)[0]["path"]
    psend(ctx, 0x20, name_rec(1, "st/x", 3), chan=0)
    n0 = len(pev(ctx, "path_msg"))
    # path-scoped PATH_BROKEN / SERVICE_FAILED, node-level NAME_VANISHED for st/x
    psend(ctx, T_STAT, status_body(3, node=ctx.peer.node_id, path=pa, reason=6), chan=pa)
    psend(ctx, T_STAT, status_body(8, node=ctx.peer.node_id, path=pa, reason=4), chan=pa)
    psend(ctx, T_STAT, status_body(5, node=ctx.peer.node_id, device=1, name=b"st/x"), chan=0)
    check(wait(ctx, lambda: len(pev(ctx, "path_msg")) >= n0 + 2, 0.3),
          "path-scoped SERVICE_STATUS not delivered as an event")
    ctx.peer.pump(0.05)
    pi = ctx.drv.cmd("path_info", path=lp)
    check(pi.get("state") == "OPEN", "path state %s after SERVICE_STATUS" % pi.get("state"))
    lk = ctx.drv.cmd("lookup", name="st/x")
    check(len(lk.get("entries", [])) == 1, "name state changed by SERVICE_STATUS: %s" % lk)


@case("path_open_name_check", ["MSG-PATH-25"], bearers=("udp",))
def t_open_name(ctx):
    """dst_device set and a name that is not that device's name: refused (NO_SUCH_DEVICE)."""
    _up(ctx)
    r = ctx.drv.cmd("publish", device=7, name="svc/p", dtype=1, rank=0, exclusive=0, generation=1)
    check(r.get("ok"), "publish: %s" % r)
    a5 = open_to_iut(ctx, 7, 0x304, name=b"svc/p")
    check(a5 is not None and int(a5.type) == T_ACC, "open with the device's own name refused")
    a4 = open_to_iut(ctx, 7, 0x303, name=b"svc/q", add=False)
    check(a4 is not None and int(a4.type) == T_ABORT and int(a4.payload.error) == R_NODEV,
          "name svc/q accepted for device 7 (named svc/p): %s" % (a4 and a4.summary()))


@case("path_group_send_in_step", ["MSG-PATH-24"], bearers=("udp",))
def t_group(ctx):
    """A one-to-many group (pattern): one PATH_OPEN per matching device; a group send
    goes to every OPEN sub-path and waits while any of them has no credit, so the copies
    stay in step."""
    _up(ctx)
    if "groups" not in ctx.caps:
        raise Skip("the IUT does not announce the `groups` capability")
    ctx.drv.cmd("device_add", device=7, auto_accept=1)
    psend(ctx, 0x20, name_rec(3, "grp/a", 1), chan=0)
    psend(ctx, 0x20, name_rec(4, "grp/b", 1), chan=0)
    check(wait(ctx, lambda: ctx.drv.cmd("lookup", name="grp/b").get("entries"), 0.5),
          "the peer's names not learned")
    r = ctx.drv.cmd("path_open", device=7, peer=ctx.peer.node_id, peer_device=0,
                    name="grp/*", kind="pattern")
    check(r.get("ok"), "driver path_open (pattern): %s" % r)
    opens = {}
    end = time.monotonic() + 1.0
    while len(opens) < 2 and time.monotonic() < end:
        for o in _members(ctx.peer.pump(0.1, types={T_OPEN, 0x12})):    # alone or bundled
            if int(o.type) == T_OPEN:
                opens[int(o.payload.dst_device)] = int(o.payload.src_path)
    check(sorted(opens) == [3, 4], "PATH_OPENs to devices %s (want 3 and 4); frames %s" % (
        sorted(opens), [p.summary() for p in ctx.peer.frames[-12:]]))
    # accept: sub-path a with credit for 2 messages, b for 8
    credit = {3: 2, 4: 8}
    chans = {3: 0x600, 4: 0x601}
    for dev, po in opens.items():
        psend(ctx, T_ACC, struct.pack("!III", po, chans[dev], credit[dev]), chan=po, cseq=0)
    check(wait(ctx, lambda: len([e for e in pev(ctx, "path_state", path_state=ST_OPEN)
                                 if e.get("path") != r["path"]]) >= 2 or
               pev(ctx, "path_state", path=r["path"], path_state=ST_OPEN), 0.5),
          "group not OPEN after both PATH_ACCEPTs")
    ok = [ctx.drv.cmd("path_send", path=r["path"], data="%02x" % i).get("ok") for i in range(6)]
    got = {0x600: [], 0x601: []}
    seen = set()
    end = time.monotonic() + 0.4
    while time.monotonic() < end:
        q = ctx.peer.pump(0.05, types={T_DATA, 0x12})
        if q is None or int(q.seq) in seen:
            continue
        seen.add(int(q.seq))
        for d in _members(q):
            if int(d.type) == T_DATA and int(d.chan) in got:
                got[int(d.chan)].append(int(d.cseq))
    na, nb = len(got[0x600]), len(got[0x601])
    check(na <= credit[3], "sub-path a got %d DATA, credit %d (MSG-PATH-24)" % (na, credit[3]))
    check(na == nb == sum(ok), "copies not in step: a %s, b %s, sends accepted %s" % (
        got[0x600], got[0x601], ok))
    check(not all(ok), "every send accepted although sub-path a had credit for %d" % credit[3])
    # more credit on a: the group can send again, to both
    psend(ctx, T_CREDIT, struct.pack("!II", opens[3], 10), chan=opens[3], cseq=1)
    ctx.peer.pump(0.05)
    r2 = ctx.drv.cmd("path_send", path=r["path"], data="ff")
    check(r2.get("ok"), "group send refused after PATH_CREDIT on the starved sub-path: %s" % r2)
    more = {0x600: 0, 0x601: 0}
    end = time.monotonic() + 0.4
    while time.monotonic() < end and (not more[0x600] or not more[0x601]):
        q = ctx.peer.pump(0.05, types={T_DATA, 0x12})
        if q is None or int(q.seq) in seen:
            continue
        seen.add(int(q.seq))
        for d in _members(q):
            if int(d.type) == T_DATA and int(d.chan) in more:
                more[int(d.chan)] += 1
    check(more[0x600] == 1 and more[0x601] == 1, "after credit: copies %s" % more)
