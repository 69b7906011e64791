"""Conformance cases: naming (Section 8) and peer loss (7.6)."""
import time

from harness import case, check, mgmt_body, name_rec, withdraw_body, sync_body
from cases_link import _up_clean as _up


def wait_until(fn, timeout, ctx=None):
    """Wait for fn() while the peer stays alive (acknowledges, answers probes)."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= end:
            return v
        _CTX[0].peer.pump(0.005)


_CTX = [None]

T_PUB, T_WD, T_SYNC, T_MGMT = 0x20, 0x21, 0x22, 0x30


def names(ctx, ev=None, node=None):
    return [e for e in ctx.drv.events_of("name")
            if (ev is None or e.get("name_event") == ev) and (node is None or e.get("node") == node)]


def _pub(ctx, device, name, rank=0, exclusive=0):
    _CTX[0] = ctx
    r = ctx.drv.cmd("publish", device=device, name=name, dtype=1, rank=rank, exclusive=exclusive,
                    generation=1)
    check(r.get("ok"), "driver publish %s: %s" % (name, r))


def _peer_sends(ctx, t, body, flags=0x8):
    _CTX[0] = ctx
    ctx.peer.send(ctx.peer.seqf(t, body, chan=0, flags=flags))


@case("name_publish_withdraw_sent", ["MSG-NAME-14", "MSG-NAME-17", "MSG-NAME-23"], bearers=("udp",))
def t_pub_sent(ctx):
    """Publications and withdrawals go to an up peer on channel 0 with generations from
    one strictly increasing per-node counter (the application's value is not used)."""
    _up(ctx)
    _pub(ctx, 5, "svc/a")
    _pub(ctx, 6, "svc/b")
    _pub(ctx, 5, "svc/a", rank=3)            # a change of device 5: a new generation
    ctx.drv.cmd("withdraw", device=6, name="svc/b")
    got = []
    while len(got) < 4:
        p = ctx.peer.pump(1.0, types={T_PUB, T_WD})
        check(p is not None, "only %d of 3 NAME_PUBLISH + 1 NAME_WITHDRAW" % len(got))
        check(int(p.chan) == 0, "naming on chan %d" % int(p.chan))
        got.append(p)
    kinds = [(int(p.type), int(p.payload.device_id), int(p.payload.generation)) for p in got]
    check([k[:2] for k in kinds] == [(T_PUB, 5), (T_PUB, 6), (T_PUB, 5), (T_WD, 6)],
          "frames %s" % kinds)
    g = [k[2] for k in kinds[:3]]
    check(all(((b - a) & 0xFFFFFFFF) - 1 < 0x7FFFFFFF for a, b in zip(g, g[1:])),
          "generations %s not strictly increasing across the node's publications" % g)
    check(kinds[3][2] == kinds[1][2], "NAME_WITHDRAW generation %d != the publication's %d" % (
        kinds[3][2], kinds[1][2]))


@case("name_sync_first_on_chan0", ["MSG-NAME-13", "MSG-CHAN-1"], bearers=("udp",))
def t_sync_first(ctx):
    """At link-up the first channel-0 message is a full NAME_SYNC at cseq 0."""
    ctx.start()
    _pub(ctx, 5, "svc/a")
    _pub(ctx, 6, "svc/b", rank=2, exclusive=1)
    ctx.peer.establish()
    p = ctx.peer.pump(1.0, pred=lambda p: int(p.chan) == 0, types=set(range(0x10, 0x40)))
    check(p is not None, "no channel-0 message after link-up")
    check(int(p.type) == T_SYNC and int(p.cseq) == 0, "first chan-0 message %s cseq %d" % (
        p.summary(), int(p.cseq)))
    b = p.payload
    check(int(b.yflags) == 3, "not FIRST|LAST: %s" % b.yflags)
    recs = sorted((int(r.record.device_id), bytes(r.record.dname)) for r in b.records)
    check(recs == [(5, b"svc/a"), (6, b"svc/b")], "records %s" % recs)


@case("name_apply_generations", ["MSG-NAME-18", "MSG-NAME-16", "MSG-NAME-15"], bearers=("udp",))
def t_apply(ctx):
    """Receiver: newer replaces, equal/older ignored, withdraw by generation, sync sweeps."""
    _up(ctx)
    pid = ctx.peer.node_id
    _peer_sends(ctx, T_PUB, name_rec(1, "x/y", 5))
    check(wait_until(lambda: names(ctx, "appeared", pid), 0.5), "no NAME_APPEARED")
    e = names(ctx, "appeared", pid)[0]
    check(e["device"] == 1 and e["name"] == "x/y" and e["generation"] == 5, "entry %s" % e)
    _peer_sends(ctx, T_PUB, name_rec(1, "x/y", 4, rank=9))            # older: ignored
    _peer_sends(ctx, T_PUB, name_rec(1, "x/y", 5, rank=9))            # equal: ignored
    _peer_sends(ctx, T_WD, withdraw_body(1, "x/y", 3))                # older: ignored
    _peer_sends(ctx, T_PUB, name_rec(1, "x/y", 6, rank=2))            # newer: replaces
    check(wait_until(lambda: names(ctx, "updated", pid), 0.5), "newer generation not applied")
    lk = ctx.drv.cmd("lookup", name="x/y")
    check([(x["node"], x["device"], x["rank"], x["generation"]) for x in lk["entries"]] ==
          [(pid, 1, 2, 6)], "table %s" % lk["entries"])
    check(not names(ctx, "vanished", pid), "an older NAME_WITHDRAW removed the entry")
    ns = ctx.drv.cmd("name_stats")
    check(ns.get("stale_ignored", 0) + ns.get("dup_ignored", 0) >= 3,
          "ignored updates not counted: %s" % ns)
    _peer_sends(ctx, T_WD, withdraw_body(1, "x/y", 6))
    check(wait_until(lambda: names(ctx, "vanished", pid), 0.5), "equal-generation withdraw ignored")
    # mark and sweep: FIRST|LAST with a and b, then FIRST..LAST with a only
    _peer_sends(ctx, T_SYNC, sync_body([name_rec(2, "s/a", 10), name_rec(3, "s/b", 11)]))
    check(wait_until(lambda: len(names(ctx, "appeared", pid)) >= 3, 0.5), "sync records not applied")
    _peer_sends(ctx, T_SYNC, sync_body([name_rec(2, "s/a", 10)], yflags=1))   # equal: confirms
    _peer_sends(ctx, T_SYNC, sync_body([name_rec(4, "s/c", 12)], yflags=2))
    check(wait_until(lambda: [e for e in names(ctx, "vanished", pid) if e["name"] == "s/b"], 0.5),
          "unconfirmed s/b not swept at LAST")
    check(not [e for e in names(ctx, "vanished", pid) if e["name"] == "s/a"],
          "confirmed s/a swept")
    check(all(e["node"] == pid for e in names(ctx, node=None) if e["node"] != ctx.iut_id),
          "an entry attributed to another node")


@case("name_conflict_order", ["MSG-NAME-19", "MSG-NAME-24"], bearers=("udp",))
def t_conflict(ctx):
    """Group order: rank desc, node_id asc, device_id asc; EXCLUSIVE: lookup = winner only."""
    _up(ctx)
    pid = ctx.peer.node_id
    _pub(ctx, 9, "grp/x", rank=1)
    _peer_sends(ctx, T_PUB, name_rec(4, "grp/x", 1, rank=1))
    _peer_sends(ctx, T_PUB, name_rec(3, "grp/x", 2, rank=1))
    _peer_sends(ctx, T_PUB, name_rec(8, "grp/x", 3, rank=0))
    check(wait_until(lambda: len(names(ctx, "appeared", pid)) >= 3, 0.5), "records not applied")
    lk = ctx.drv.cmd("lookup", name="grp/x")
    order = [(x["node"], x["device"]) for x in lk["entries"]]
    want = [(ctx.iut_id, 9), (pid, 3), (pid, 4), (pid, 8)] if ctx.iut_id < pid else \
        [(pid, 3), (pid, 4), (ctx.iut_id, 9), (pid, 8)]
    check(order == want, "group order %s, want %s" % (order, want))
    # higher rank, EXCLUSIVE, from the peer: it becomes the only answer
    _peer_sends(ctx, T_PUB, name_rec(5, "grp/x", 4, rank=7, nflags=1))
    check(wait_until(lambda: ctx.drv.cmd("lookup", name="grp/x")["winner"] == [pid, 5], 0.5),
          "EXCLUSIVE higher-rank entry not the winner: %s" % ctx.drv.cmd("lookup", name="grp/x"))


@case("peer_loss_purge", ["MSG-CHAN-8", "MSG-NAME-20", "MSG-NAME-13", "MSG-LINK-29",
                          "MSG-CHAN-1"], bearers=("udp",))
def t_peer_loss(ctx):
    """Peer lost: names gone at once, queued messages reported lost, paths broken; on
    return, channel numbering restarts at 0 and NAME_SYNC comes first."""
    _up(ctx, tolerance=500)
    pid = ctx.peer.node_id
    ctx.drv.cmd("device_add", device=7, auto_accept=1)
    _peer_sends(ctx, T_PUB, name_rec(1, "lost/a", 5))
    from harness import path_open_body
    _peer_sends(ctx, 0x28, path_open_body(0x300, 1, 7, 65))
    acc = ctx.peer.pump(0.5, types={0x29})
    check(acc is not None, "no PATH_ACCEPT")
    for i in range(3):
        _peer_sends(ctx, T_MGMT, mgmt_body(corr=i))
    check(wait_until(lambda: names(ctx, "appeared", pid), 0.5), "name not applied")
    ctx.peer.pump(0.05)
    # queue messages that will never be acknowledged, then go silent
    ctx.drv.cmd("send", peer=pid, chan=0, type=T_MGMT, body=mgmt_body(corr=50).hex())
    down = ctx.drv.wait_event(lambda e: e["event"] == "peer_down", 1.5)
    check(down is not None, "no PEER_DOWN after silence")
    van = [e for e in names(ctx, "vanished", pid) if e["name"] == "lost/a"]
    check(van and abs(van[0]["t_ns"] - down["t_ns"]) < 5e6, "name not removed at peer loss")
    br = [e for e in ctx.drv.events_of("path_state") if e["path_state"] == 5]
    check(br and br[0]["code"] == 6, "path not BROKEN with MP_R_PEER_DOWN: %s" %
          [(e["path_state"], e["code"]) for e in ctx.drv.events_of("path_state")])
    check(ctx.drv.events_of("send_lost"), "queued message not reported lost")
    # the peer comes back (same incarnation, new session): numbering restarts at 0
    ctx.peer.session = (ctx.peer.session + 9) & 0xFFFF
    ctx.peer.cseq = {}
    ctx.peer.next_seq = ctx.peer.snd_nxt      # a new session announces where it starts
    ctx.peer.received.clear()
    ctx.peer.establish()
    check(ctx.drv.wait_event(lambda e: e["event"] == "link_up" and e["t_ns"] > down["t_ns"], 1.0),
          "no link up again")
    p = ctx.peer.pump(1.0, pred=lambda p: int(p.chan) == 0, types=set(range(0x10, 0x40)))
    check(p is not None and int(p.type) == T_SYNC and int(p.cseq) == 0,
          "after return: first chan-0 message %r" % ((p and (p.summary(), int(p.cseq))),))
    n0 = len([e for e in ctx.drv.events_of("message") if e["type"] == T_MGMT])
    _peer_sends(ctx, T_MGMT, mgmt_body(corr=60))
    check(wait_until(lambda: len([e for e in ctx.drv.events_of("message") if e["type"] == T_MGMT]) > n0, 0.5),
          "peer's cseq 0 after its return not delivered (receive state not purged)")
