"""Conformance cases: management microkernel on entity 0 (Section 10)."""
from harness import case, check, mgmt_body
from cases_link import _up_clean as _up

T_MGMT = 0x30
NO_MK = ("stack: the in-process node runtime (stack/rt, msgr_adapter) runs no management "
         "microkernel on entity 0, yet sends no CAPS option and so is taken to have MGMT "
         "(4.3); msgrd does")
RT = "stack/rt"        # the mark holds for msgr_adapter only


def req(ctx, corr, uops, dst=0, gflags=0, payload=b"", epoch=1):
    ctx.peer.send(ctx.peer.seqf(T_MGMT, mgmt_body(corr=corr, uops=uops, gflags=gflags,
                                                  payload=payload, src=0x100, dst=dst,
                                                  epoch=epoch), chan=0, flags=0x8))


def replies(ctx, corr, t=0.4):
    out = []
    while True:
        p = ctx.peer.pump(t if not out else 0.1, types={T_MGMT})
        if p is None:
            return out
        if int(p.payload.corr_id) == corr:
            out.append(p)


@case("mgmt_request_reply", ["MSG-MGMT-11", "MSG-MGMT-7", "MSG-MGMT-12"], bearers=("udp",),
      xfail=NO_MK, xfail_impl=RT)
def t_reply(ctx):
    """A request with corr_id != 0 gets exactly one reply on its channel; a reply is not answered."""
    _up(ctx)
    req(ctx, 0x55, [(0x0000, 0), (0x0001, 0x1234)])          # NOP, HEARTBEAT
    r = replies(ctx, 0x55)
    check(len(r) == 1, "%d replies to one request" % len(r))
    b = r[0].payload
    check(int(b.gflags) & 1 and not int(b.gflags) & 2, "gflags %s" % b.gflags)
    check(int(b.src_entity) == 0 and int(b.dst_entity) == 0x100, "entities not swapped")
    check([(int(u.opcode), int(u.arg)) for u in b.uops] == [(0x0002, 0x1234)],
          "response %s (want HEARTBEAT_ACK 0x1234)" % [(int(u.opcode), int(u.arg)) for u in b.uops])
    req(ctx, 0x66, [(0x0002, 1)], gflags=1)                  # a reply: never answered
    check(not replies(ctx, 0x66, 0.2), "a reply was answered")


@case("mgmt_unknown_entity", ["MSG-MGMT-10"], bearers=("udp",), xfail=NO_MK, xfail_impl=RT)
def t_entity(ctx):
    """A request to a missing entity gets an ERROR reply with MP_R_NO_SUCH_DEVICE."""
    _up(ctx)
    req(ctx, 0x56, [(0x0001, 1)], dst=0x999)
    r = replies(ctx, 0x56)
    check(len(r) == 1 and int(r[0].payload.gflags) == 3, "no ERROR reply: %s" % [x.summary() for x in r])
    check([int(u.arg) for u in r[0].payload.uops] == [1], "reason not MP_R_NO_SUCH_DEVICE")


@case("mgmt_parameter_blocks", ["MSG-MGMT-9"], bearers=("udp",), xfail=NO_MK, xfail_impl=RT)
def t_blocks(ctx):
    """An assigned opcode with a payload that is not parameter blocks fails the message."""
    _up(ctx)
    req(ctx, 0x57, [(0x0050, 0)], payload=b"\x00\x50\x00\x09abc")   # block len past the end
    r = replies(ctx, 0x57)
    check(len(r) == 1 and int(r[0].payload.gflags) & 2, "malformed blocks accepted")


@case("mgmt_fencing", ["MSG-MGMT-15"], bearers=("udp",), xfail=NO_MK, xfail_impl=RT)
def t_fence(ctx):
    """After FENCE with epoch 100, a fenced request with epoch 50 is not dispatched."""
    _up(ctx)
    req(ctx, 0x58, [(0x0060, 0)], epoch=100)
    r = replies(ctx, 0x58)
    check(len(r) == 1 and not int(r[0].payload.gflags) & 2, "FENCE not accepted")
    req(ctx, 0x59, [(0x0023, 0)], epoch=50)                  # QUIESCE, stale epoch
    r = replies(ctx, 0x59)
    check(len(r) == 1 and int(r[0].payload.gflags) & 2, "a stale-epoch fenced request was dispatched")
