"""Conformance cases: secured links (Section 12).  They need an IUT that announces the
`secure` capability and takes `security` and `cluster_key` in `start` (DRIVER.md); the
scripted peer is the responder (higher node_id) of the key exchange (secure.py)."""
import os
import struct
import time

from harness import case, check, Fail, mgmt_body, validate, dissect
from scapy_msgr.layers import MsgrOption
import secure
from secure import T_KX, T_SECURED, REQUIRED, TRANSITION

T_MGMT = 0x30


def _start(ctx, policy="required", tolerance=1000):
    ctx.key = os.urandom(32)
    ctx.start(tolerance=tolerance, security=policy, cluster_key=ctx.key.hex())


def _raw(ctx, types, timeout, pred=None, seen=None):
    """Next raw frame from the IUT whose type is in types (others go to `seen`)."""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return None
        d = ctx.bearer.recv(left)
        if d is None:
            return None
        ctx.peer.received.append(d)
        if len(d) >= 4 and d[1] in types and (pred is None or pred(d)):
            return d
        if seen is not None:
            seen.append(d)


def _discover(ctx, dflags=0x02, opts=()):
    p = ctx.peer.discover()
    p.payload.dflags = dflags
    p.payload.opts = list(opts)
    ctx.peer.send(p)


def _kx(ctx, seen=None):
    """DISCOVER (SECURE) from the peer, the IUT's INIT, our RESP, its CONFIRM.  Returns
    the Responder with the keys installed."""
    _discover(ctx)
    init = _raw(ctx, {T_KX}, 2.0, pred=lambda d: d[4] == 1, seen=seen)
    check(init is not None, "no KEY_EXCHANGE INIT from the IUT (the lower node_id) after a "
                            "SECURE DISCOVER")
    R = secure.Responder(ctx.key, 0, ctx.peer.node_id, ctx.iut_id)
    k = secure.kx_parse(init)
    check(secure.kx_mac_ok(R.mac_key, b"", init), "INIT mac does not verify under "
          "HKDF-SHA256(K_c, domain, 'messenger/1 kx-mac') / HMAC-SHA256 (MSG-SEC-8)")
    check(k["node_id"] == ctx.iut_id and k["suite"] in (1, 2), "INIT fields %s" % k)
    ctx.bearer.send(R.answer(init))
    conf = _raw(ctx, {T_KX}, 1.0, pred=lambda d: d[4] == 3, seen=seen)
    check(conf is not None, "no CONFIRM after our RESP")
    check(R.confirm_ok(conf), "CONFIRM mac does not verify")
    return R


def _secure_up(ctx, seen=None):
    """Key exchange, then link setup through SECURED frames; returns the SecBearer."""
    R = _kx(ctx, seen)
    sb = secure.SecBearer(ctx.bearer, R.tx_key, R.tx_iv, {R.key_id: (R.rx_key, R.rx_iv)},
                          R.key_id)
    ctx.peer.b = sb
    ctx.peer.link_opts = [MsgrOption(type=0x81, value=bytes([REQUIRED]))]
    ctx.peer.establish()
    check(ctx.drv.wait_event(lambda e: e["event"] == "link_up", 1.0), "no link up over SECURED")
    ctx.peer.pump(0.3, types={0x22})
    ctx.sec = R
    return sb


def _probe_answered(ctx, t=0.3):
    """Did the IUT answer (inside SECURED) the probe we just sent?"""
    p = ctx.peer.recv({0x04}, t, pred=lambda p: int(p.payload.sflags) & 2)
    return p is not None


@case("sec_key_exchange_and_frames", ["MSG-SEC-8", "MSG-SEC-12", "MSG-SEC-13",
                                      "MSG-SEC-24", "MSG-SEC-7"])
def t_sec_up(ctx):
    """policy REQUIRED: DISCOVER with SECURE (and a SECURITY option, if any, saying
    REQUIRED); no LINK_RESET before the key exchange; INIT/RESP/CONFIRM with HMAC-SHA256
    under the HKDF MAC key, X25519, AES-256-GCM; then every frame SECURED under fresh
    counters 0, 1, 2, ... that open with the keys of 12.3."""
    _start(ctx)
    seen = []
    sb = _secure_up(ctx, seen)
    disc = [d for d in seen if d[1] == 0x01]
    check(disc, "no DISCOVER from the IUT")
    for d in disc:
        p = dissect(d)
        check(int(p.payload.dflags) & 2, "DISCOVER without SECURE under policy REQUIRED")
        for o in p.payload.opts:
            if int(o.type) == 0x81:
                check(bytes(o.value) == bytes([REQUIRED]), "SECURITY option %s with DFLAG_SECURE "
                      "(MSG-SEC-7)" % bytes(o.value).hex())
    early = [d[1] for d in seen if d[1] not in (0x01, T_KX)]
    check(not early, "frames of types %s before the key exchange completed (MSG-SEC-24)" % early)
    for i in range(5):
        r = ctx.drv.cmd("send", peer=ctx.peer.node_id, chan=0, type=T_MGMT,
                        body=mgmt_body(corr=i + 1).hex())
        check(r.get("ok"), "driver send: %s" % r)
    got = []
    end = time.monotonic() + 1.0
    while len(got) < 5 and time.monotonic() < end:
        p = ctx.peer.pump(0.1, types={T_MGMT})
        if p is not None and int(p.payload.corr_id) not in got:
            got.append(int(p.payload.corr_id))
    check(sorted(got) == [1, 2, 3, 4, 5], "messages through SECURED: %s" % got)
    check(not sb.plain, "unsecured frames on a secured link: types %s (MSG-SEC-12)" % [
        d[1] for d in sb.plain])
    check(not sb.bad, "%d SECURED frames from the IUT do not open" % len(sb.bad))
    cs = [c for _, c in sb.opened]
    check(cs and cs[0] == 0 and cs == list(range(len(cs))),
          "counters %s: not 0, 1, 2, ... (MSG-SEC-12, MSG-SEC-13)" % cs[:20])


@case("sec_kx_bad_frames_ignored", ["MSG-SEC-9", "MSG-SEC-8"])
def t_sec_kx_bad(ctx):
    """A RESP with a bad mac, another node_id or another exchange_id changes nothing: no
    CONFIRM, the IUT resends its INIT (same exchange), and a good RESP then completes."""
    _start(ctx)
    _discover(ctx)
    init = _raw(ctx, {T_KX}, 2.0, pred=lambda d: d[4] == 1)
    check(init is not None, "no INIT")
    st0 = ctx.drv.stats()
    R = secure.Responder(ctx.key, 0, ctx.peer.node_id, ctx.iut_id)
    for bad in (dict(bad_mac=True), dict(node_id=0x0B0B0B0B), dict(exchange_id=0x12345678)):
        ctx.bearer.send(R.answer(init, **bad))
        c = _raw(ctx, {T_KX}, 0.15, pred=lambda d: d[4] == 3)
        check(c is None, "CONFIRM after a RESP with %s" % bad)
    again = _raw(ctx, {T_KX}, 1.0, pred=lambda d: d[4] == 1)
    check(again is not None and secure.kx_parse(again)["exchange_id"] ==
          secure.kx_parse(init)["exchange_id"], "INIT not resent for the same exchange")
    st = ctx.drv.stats()
    check(sum(st.get(k, 0) - st0.get(k, 0) for k in ("sec_kx", "sec_auth")) >= 1,
          "bad KEY_EXCHANGE frames not counted: %s" % {k: st.get(k) for k in st if k.startswith("sec")})
    ctx.bearer.send(R.answer(again))
    c = _raw(ctx, {T_KX}, 1.0, pred=lambda d: d[4] == 3)
    check(c is not None and R.confirm_ok(c), "good RESP after bad ones: no valid CONFIRM")


@case("sec_kx_zero_shared_secret", ["MSG-SEC-10"])
def t_sec_zero(ctx):
    """A RESP whose X25519 public key gives an all-zero shared secret: exchange aborted
    (no CONFIRM), counted (MP_R_AUTH)."""
    _start(ctx)
    _discover(ctx)
    init = _raw(ctx, {T_KX}, 2.0, pred=lambda d: d[4] == 1)
    check(init is not None, "no INIT")
    st0 = ctx.drv.stats()
    R = secure.Responder(ctx.key, 0, ctx.peer.node_id, ctx.iut_id)
    ctx.bearer.send(R.answer(init, pub=b"\0" * 32))      # a small-order point: Z = 0
    c = _raw(ctx, {T_KX}, 0.3, pred=lambda d: d[4] == 3)
    check(c is None, "CONFIRM although the shared secret is all zero")
    st = ctx.drv.stats()
    check(sum(st.get(k, 0) - st0.get(k, 0) for k in ("sec_kx", "sec_auth")) >= 1,
          "zero shared secret not counted: %s" % {k: st.get(k) for k in st if k.startswith("sec")})


@case("sec_receive_rules", ["MSG-SEC-14", "MSG-SEC-15", "MSG-SEC-16"])
def t_sec_rx(ctx):
    """On a secured link: a tampered SECURED frame, a replayed one and a plain frame are
    dropped; a counter 1000 below the highest seen is still new (window >= 1024)."""
    _start(ctx)
    sb = _secure_up(ctx)
    probe = bytes(ctx.peer.state(sflags=1))
    ctx.peer.drain(0.05)
    # control: a fresh probe is answered
    sb.send(probe)
    check(_probe_answered(ctx), "control: a SECURED probe is not answered")
    # tampered ciphertext
    s = secure.seal(sb.tx_key, sb.tx_iv, sb.key_id, sb.counter, probe)
    sb.counter += 1
    sb.send_raw(s[:20] + bytes([s[20] ^ 0x40]) + s[21:])
    check(not _probe_answered(ctx, 0.2), "a tampered SECURED frame was processed (MSG-SEC-14)")
    # far ahead, then 1000 below it: both new
    hi = sb.counter + 1100
    sb.send_raw(secure.seal(sb.tx_key, sb.tx_iv, sb.key_id, hi, probe))
    check(_probe_answered(ctx), "a SECURED frame with a higher counter not processed")
    lo = hi - 1000
    low = secure.seal(sb.tx_key, sb.tx_iv, sb.key_id, lo, probe)
    sb.send_raw(low)
    check(_probe_answered(ctx), "counter H-1000 refused: replay window < 1024 (MSG-SEC-16)")
    # the same counter again: a replay
    sb.send_raw(low)
    check(not _probe_answered(ctx, 0.2), "a replayed SECURED frame was processed (MSG-SEC-14)")
    sb.counter = hi + 1
    # a plain frame on a link that must be secured
    sb.inner.send(probe)
    check(not _probe_answered(ctx, 0.2), "a plain LINK_STATE was processed on a secured link "
                                         "(MSG-SEC-15)")
    sb.send(probe)
    check(_probe_answered(ctx), "control: the link no longer answers SECURED probes")


@case("sec_policy_plain_peer_refused", ["MSG-SEC-20"])
def t_sec_policy(ctx):
    """REQUIRED vs a PLAIN peer (DISCOVER without SECURE or SECURITY): no link, no key
    exchange with it, refusal counted."""
    _start(ctx)
    st0 = ctx.drv.stats()
    _discover(ctx, dflags=0)
    ctx.peer.send(ctx.peer.link(0x02))
    seen = []
    d = _raw(ctx, {0x03, T_KX}, 0.6, seen=seen)
    check(d is None or d[1] != 0x03, "LINK_ACTIVATE to a PLAIN peer under policy REQUIRED")
    check(not ctx.drv.events_of("link_up"), "link up with a PLAIN peer")
    st = ctx.drv.stats()
    check(sum(st.get(k, 0) - st0.get(k, 0) for k in ("sec_policy", "sec_plain", "sec_auth")) >= 1,
          "refusal not counted: %s" % {k: st.get(k) for k in st if k.startswith("sec")})


@case("sec_transition_discover", ["MSG-SEC-19", "MSG-SEC-7"])
def t_sec_transition(ctx):
    """policy TRANSITION: DISCOVER carries SECURITY (TRANSITION) and CAPS with SECURE,
    and no DFLAG_SECURE."""
    _start(ctx, policy="transition")
    _discover(ctx, dflags=0)
    d = _raw(ctx, {0x01}, 1.5)
    check(d is not None, "no DISCOVER from the IUT")
    p = dissect(d)
    opts = {int(o.type): bytes(o.value) for o in p.payload.opts}
    check(0x81 in opts and opts[0x81] == bytes([TRANSITION]),
          "SECURITY option %s (want TRANSITION)" % (opts.get(0x81, b"").hex() or "absent"))
    check(0x03 in opts and struct.unpack(">I", opts[0x03])[0] & 1, "CAPS %s without SECURE" % (
        opts.get(0x03, b"").hex() or "absent"))
    check(not int(p.payload.dflags) & 2, "DFLAG_SECURE under TRANSITION (MSG-SEC-7)")


@case("sec_inner_policy_mismatch", ["MSG-SEC-21"])
def t_sec_mismatch(ctx):
    """The inner (authenticated) LINK_RESET says TRANSITION while the DISCOVER said
    REQUIRED: no link, counted."""
    _start(ctx)
    R = _kx(ctx)
    sb = secure.SecBearer(ctx.bearer, R.tx_key, R.tx_iv, {R.key_id: (R.rx_key, R.rx_iv)},
                          R.key_id)
    ctx.peer.b = sb
    st0 = ctx.drv.stats()
    ctx.peer.link_opts = [MsgrOption(type=0x81, value=bytes([TRANSITION]))]
    ctx.peer.send(ctx.peer.link(0x02))
    a = ctx.peer.recv({0x03}, 0.5, pred=lambda p: int(p.payload.peer_id) == ctx.peer.node_id)
    if a is not None:
        ctx.peer.iut_session = int(a.payload.session)
        ctx.peer.rcv_nxt = int(a.payload.next_seq)
        ctx.peer.send(ctx.peer.link(0x03))
    up = ctx.drv.wait_event(lambda e: e["event"] == "link_up", 0.4)
    down = ctx.drv.wait_event(lambda e: e["event"] == "link_down", 0.1) if up else None
    check(not up or down, "link up (and kept) with a SECURITY policy that contradicts DISCOVER")
    st = ctx.drv.stats()
    check(sum(st.get(k, 0) - st0.get(k, 0) for k in ("sec_policy", "sec_auth")) >= 1,
          "mismatch not counted: %s" % {k: st.get(k) for k in st if k.startswith("sec")})


@case("sec_rekey_grace", ["MSG-SEC-18"])
def t_sec_rekey(ctx):
    """The peer rekeys (key_id + 1); the IUT keeps accepting the old key for the grace
    period max(1 s, 2 x tolerance) and refuses it after."""
    _start(ctx, tolerance=500)                 # grace = max(1 s, 2 x 500 ms) = 1 s
    sb = _secure_up(ctx)
    I = secure.Initiator(ctx.key, 0, ctx.peer.node_id, ctx.iut_id, (sb.key_id + 1) & 0xFF)
    ctx.bearer.send(I.init)
    resp = _raw(ctx, {T_KX}, 1.0, pred=lambda d: d[4] == 2)
    check(resp is not None, "no RESP to the peer's rekey INIT")
    conf = I.confirm(resp)
    check(conf is not None, "the IUT's RESP does not verify")
    ctx.bearer.send(conf)
    old = (sb.tx_key, sb.tx_iv, sb.key_id, sb.counter)
    # switch: the peer sends under the new key; it opens both
    sb.tx_key, sb.tx_iv, sb.key_id, sb.counter = I.tx_key, I.tx_iv, I.key_id, 0
    sb.rx[I.key_id] = (I.rx_key, I.rx_iv)
    t_switch = time.monotonic()
    probe = bytes(ctx.peer.state(sflags=1))
    ctx.peer.drain(0.02)
    sb.send(probe)
    check(_probe_answered(ctx), "no answer under the new key")
    # within the grace period: the old key still accepted
    c = old[3]
    sb.send_raw(secure.seal(old[0], old[1], old[2], c, probe))
    check(time.monotonic() - t_switch < 0.9, "machine too slow for the grace check")
    check(_probe_answered(ctx), "old key refused within the grace period (MSG-SEC-18)")
    # after it (and a margin): refused
    while time.monotonic() - t_switch < 1.6:
        sb.send(bytes(ctx.peer.state()))       # keep the link alive under the new key
        ctx.peer.pump(0.1)
    ctx.peer.drain(0.02)
    sb.send_raw(secure.seal(old[0], old[1], old[2], c + 1, probe))
    check(not _probe_answered(ctx, 0.25), "old key still accepted 1.6 s after the switch "
                                          "(grace max(1 s, 2 x 500 ms))")
    # control: the link still works under the new key -- unless the IUT, as the initiator,
    # answered the frame under the erased key by starting a new exchange (12.6)
    sb.send(probe)
    ok = _probe_answered(ctx)
    check(ok or any(d[1] == T_KX and d[4] == 1 for d in sb.outer[-50:]),
          "control: no answer under the new key after the grace period, and no new exchange "
          "(events %s, drops %s, outer types %s)" % (
              [(e["event"], e["reason"]) for e in ctx.drv.events if e["event"] != "message"],
              {k: v for k, v in ctx.drv.stats().items() if v},
              [(d[1], d[4]) for d in sb.outer[-12:]]))
