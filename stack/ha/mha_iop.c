/*
 * mha_iop.c — IOP lifecycle (RFC 10.7): the transition table and an element around it.
 *
 * The table is data, not code paths, so the test can walk every (state, event) pair and
 * msgrctl can print it.  Two facts the table cannot hold are checked beside it:
 *  - presence: after an extraction the slot is empty, and only INSERT is legal;
 *  - configuration: BOOT needs a CONFIGURE since the last reset (RFC: "CONFIGURE, then
 *    BOOT succeeds").
 * The recovery limit turns FAILED --RESET--> into FAULTED when the IOP has already been
 * recovered recovery_limit times within the window (RFC 13: 3 in 10 minutes).
 */
#include <string.h>

#include "mha.h"

#define X (-1)
#define I MHA_IOP_INITIALIZING
#define R MHA_IOP_RESET
#define H MHA_IOP_HOLD
#define Y MHA_IOP_READY
#define O MHA_IOP_OPERATIONAL
#define F MHA_IOP_FAILED
#define Z MHA_IOP_FAULTED

/* next[state][event]; X = illegal.  Columns in enum mha_iop_event order:
 *               LINK CONF BOOT SERVE QUIES EXT-P EXT-S INS RESET RDONE HBLOSS FAULT CLEAR */
static const signed char mha_iop_table[MHA_IOP_NSTATES][MHA_IOP_NEVENTS] = {
    /* INIT */  {H,   X,   X,   X,    X,    X,    F,    X,  R,    X,    F,     Z,    X},
    /* RESET */ {X,   X,   X,   X,    X,    X,    F,    X,  R,    I,    X,     Z,    X},
    /* HOLD */  {X,   H,   Y,   X,    X,    X,    F,    I,  R,    X,    F,     Z,    X},
    /* READY */ {X,   Y,   X,   O,    X,    H,    F,    X,  R,    X,    F,     Z,    X},
    /* OPER */  {X,   X,   X,   X,    Y,    H,    F,    X,  R,    X,    F,     Z,    X},
    /* FAILED */{X,   X,   X,   X,    X,    X,    F,    I,  R,    X,    X,     Z,    X},
    /* FAULT */ {X,   X,   X,   X,    X,    X,    X,    I,  X,    X,    X,     X,    I},
};
#undef X
#undef I
#undef R
#undef H
#undef Y
#undef O
#undef F
#undef Z

int mha_iop_next(int st, int ev)
{
    if (st < 0 || st >= MHA_IOP_NSTATES || ev < 0 || ev >= MHA_IOP_NEVENTS)
        return -1;
    return mha_iop_table[st][ev];
}

const char *mha_iop_state_name(int st)
{
    static const char *const n[] = {"INITIALIZING", "RESET", "HOLD", "READY",
                                    "OPERATIONAL", "FAILED", "FAULTED"};
    return (st >= 0 && st < MHA_IOP_NSTATES) ? n[st] : "?";
}

const char *mha_iop_event_name(int ev)
{
    static const char *const n[] = {"link-up", "configure", "boot", "serve", "quiesce",
                                    "extract-planned", "extract-surprise", "insert", "reset",
                                    "reset-done", "heartbeat-loss", "fault", "clear"};
    return (ev >= 0 && ev < MHA_IOP_NEVENTS) ? n[ev] : "?";
}

void mha_iop_init(mha_iop *s, const mha_iop_config *cfg, uint64_t now)
{
    memset(s, 0, sizeof *s);
    s->state = MHA_IOP_INITIALIZING;
    s->present = true;
    s->recovery_limit = (cfg && cfg->recovery_limit) ? cfg->recovery_limit : 3;
    if (s->recovery_limit > 8)
        s->recovery_limit = 8;
    s->recovery_window_ns =
        (cfg && cfg->recovery_window_ns) ? cfg->recovery_window_ns : 600ull * 1000000000ull;
    if (cfg) {
        s->mgr_node = cfg->mgr_node;
        s->mgr_entity = cfg->mgr_entity;
    }
    s->since = now;
}

int mha_iop_apply(mha_iop *s, int ev, uint64_t now)
{
    int to = mha_iop_next(s->state, ev);
    /* An empty slot accepts only a new board; a present board never "inserts" again. */
    if (!s->present && ev != MHA_IOP_EV_INSERT)
        to = -1;
    if (s->present && ev == MHA_IOP_EV_INSERT && s->state != MHA_IOP_FAULTED)
        to = -1;
    if (ev == MHA_IOP_EV_BOOT && !s->configured)
        to = -1;
    if (to < 0) {
        s->rejected++;
        s->last_error = MK_ESTATE;
        return MK_ESTATE;
    }
    if (s->state == MHA_IOP_FAILED && ev == MHA_IOP_EV_RESET) {
        /* Recovery attempt: keep only those inside the window, then apply the limit. */
        uint32_t k = 0;
        for (uint32_t i = 0; i < s->nrecov; i++)
            if (now < s->recovery_window_ns || s->recov[i] > now - s->recovery_window_ns)
                s->recov[k++] = s->recov[i];
        s->nrecov = k;
        if (s->nrecov >= s->recovery_limit) {
            to = MHA_IOP_FAULTED;
        } else {
            s->recov[s->nrecov++] = now;
        }
    }
    switch (ev) {
    case MHA_IOP_EV_CONFIGURE: s->configured = true; break;
    case MHA_IOP_EV_RESET: s->configured = false; break;
    case MHA_IOP_EV_EXTRACT_PLANNED:
    case MHA_IOP_EV_EXTRACT_SURPRISE: s->present = false; break;
    case MHA_IOP_EV_INSERT:
        s->present = true;
        s->configured = false;
        s->nrecov = 0; /* a new board starts with a clean record */
        break;
    case MHA_IOP_EV_CLEAR: s->nrecov = 0; break;
    default: break;
    }
    s->state = (uint8_t)to;
    s->last_event = (uint8_t)ev;
    s->last_error = 0;
    s->since = now;
    s->transitions++;
    return to;
}

/* ---- element ------------------------------------------------------------------------- */
const uint16_t mha_iop_subs[] = {MP_UOP_CONFIGURE, MP_UOP_BOOT,   MP_UOP_RESET,
                                 MP_UOP_QUIESCE,   MP_UOP_EXTRACT, MP_UOP_INSERT,
                                 MP_UOP_IOP_STATE};
const size_t mha_iop_nsubs = sizeof mha_iop_subs / sizeof mha_iop_subs[0];

static int iop_init(mk_ctx *c, const void *cfg)
{
    mha_iop_init(mk_ctx_state(c), cfg, mk_ctx_now(c));
    return 0;
}

static int iop_uop(mk_ctx *c, uint16_t op, uint16_t arg)
{
    mha_iop *s = mk_ctx_state(c);
    if (mk_ctx_is_reply(c))
        return 0;
    int ev;
    switch (op) {
    case MP_UOP_CONFIGURE: ev = MHA_IOP_EV_CONFIGURE; break;
    case MP_UOP_BOOT: ev = MHA_IOP_EV_BOOT; break;
    case MP_UOP_RESET: ev = MHA_IOP_EV_RESET; break;
    case MP_UOP_QUIESCE: ev = MHA_IOP_EV_QUIESCE; break;
    case MP_UOP_EXTRACT: ev = arg ? MHA_IOP_EV_EXTRACT_SURPRISE : MHA_IOP_EV_EXTRACT_PLANNED; break;
    case MP_UOP_INSERT: ev = MHA_IOP_EV_INSERT; break;
    case MP_UOP_IOP_STATE:
        /* Reports from the IOP itself map onto the events they witness. */
        switch (arg) {
        case MHA_IOP_INITIALIZING: ev = MHA_IOP_EV_RESET_DONE; break;
        case MHA_IOP_HOLD: ev = MHA_IOP_EV_LINK_UP; break;
        case MHA_IOP_OPERATIONAL: ev = MHA_IOP_EV_SERVE; break;
        case MHA_IOP_FAILED: ev = MHA_IOP_EV_HB_LOSS; break;
        case MHA_IOP_FAULTED: ev = MHA_IOP_EV_FAULT; break;
        default: return MK_EPROTO;
        }
        break;
    default: return MK_EPROTO;
    }
    int rc = mha_iop_apply(s, ev, mk_ctx_now(c));
    if (rc < 0)
        return rc;
    mk_msg m;
    mk_msg_init(&m, s->mgr_node, s->mgr_entity, 0);
    (void)mk_msg_uop(&m, MP_UOP_IOP_STATE, (uint16_t)rc);
    if (s->mgr_entity || s->mgr_node)
        (void)mk_emit(c, &m);
    return mk_reply_uop(c, MP_UOP_IOP_STATE, (uint16_t)rc);
}

const mk_element_ops mha_iop_ops = {
    .state_size = sizeof(mha_iop),
    .init = iop_init,
    .uop = iop_uop,
};
