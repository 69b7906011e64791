/*
 * mha_hb.c — heartbeat watcher and responder elements, and the props helpers shared by
 * the HA elements.
 */
#include <string.h>

#include "mha.h"

/* ---- props ----------------------------------------------------------------------------- */
int mha_props_find(const uint8_t *p, size_t len, const char *key, const uint8_t **val,
                   size_t *vlen)
{
    if (len < 1)
        return MK_EPROTO;
    size_t kl = strlen(key), pos = 1;
    for (unsigned i = 0; i < p[0]; i++) {
        if (pos >= len || len - pos - 1 < p[pos])
            return MK_EPROTO;
        const uint8_t *k = p + pos + 1;
        size_t klen = p[pos];
        pos += 1 + klen;
        if (pos >= len || len - pos - 1 < p[pos])
            return MK_EPROTO;
        const uint8_t *v = p + pos + 1;
        size_t vl = p[pos];
        pos += 1 + vl;
        if (klen == kl && memcmp(k, key, kl) == 0) {
            *val = v;
            *vlen = vl;
            return 0;
        }
    }
    return MK_ENOENT;
}

int mha_props_u32(const uint8_t *p, size_t len, const char *key, uint32_t *out)
{
    const uint8_t *v;
    size_t vl;
    int rc = mha_props_find(p, len, key, &v, &vl);
    if (rc < 0)
        return rc;
    if (vl == 0 || vl > 10)
        return MK_EPROTO;
    uint64_t x = 0;
    for (size_t i = 0; i < vl; i++) {
        if (v[i] < '0' || v[i] > '9')
            return MK_EPROTO;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (x > UINT32_MAX)
        return MK_EPROTO;
    *out = (uint32_t)x;
    return 0;
}

int mha_props_add(uint8_t *buf, size_t cap, size_t *used, const char *key, const char *val)
{
    size_t kl = strlen(key), vl = strlen(val);
    if (kl == 0 || kl > MP_MAX_PROP_KEY || vl > MP_MAX_PROP_VAL || *used < 1 || buf[0] == 255)
        return MK_EINVAL;
    if (cap - *used < 2 + kl + vl)
        return MK_ETOOBIG;
    uint8_t *p = buf + *used;
    p[0] = (uint8_t)kl;
    memcpy(p + 1, key, kl);
    p[1 + kl] = (uint8_t)vl;
    memcpy(p + 2 + kl, val, vl);
    *used += 2 + kl + vl;
    buf[0]++;
    return 0;
}

int mha_props_add_u64(uint8_t *buf, size_t cap, size_t *used, const char *key, uint64_t v)
{
    char num[21], tmp[21];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int j = 0; j < n; j++)
        num[j] = tmp[n - 1 - j];
    num[n] = 0;
    return mha_props_add(buf, cap, used, key, num);
}

/* ---- watcher ---------------------------------------------------------------------------- */
const uint16_t mha_hb_subs[] = {MP_UOP_HEARTBEAT_ACK, MP_UOP_REGISTER, MP_UOP_UNREGISTER,
                                 MP_UOP_ELECT, MP_UOP_STATS_GET};
const size_t mha_hb_nsubs = sizeof mha_hb_subs / sizeof mha_hb_subs[0];

static uint64_t mha_hb_silence(const mha_hb *s)
{
    return s->cfg.period_ns * s->cfg.threshold;
}

uint64_t mha_hb_detection_bound(const mha_hb *s)
{
    return mha_hb_silence(s) + s->cfg.link_tol_ns;
}

static mha_hb_watch *mha_hb_lookup(mha_hb *s, uint32_t node, uint32_t entity)
{
    for (unsigned i = 0; i < MHA_HB_MAX_WATCH; i++)
        if (s->w[i].used && s->w[i].node == node && s->w[i].entity == entity)
            return &s->w[i];
    return NULL;
}

const mha_hb_watch *mha_hb_find(const mha_hb *s, uint32_t node, uint32_t entity)
{
    return mha_hb_lookup((mha_hb *)s, node, entity);
}

int mha_hb_watch_add(mha_hb *s, uint32_t node, uint32_t entity, uint64_t now)
{
    mha_hb_watch *w = mha_hb_lookup(s, node, entity);
    if (!w) {
        for (unsigned i = 0; i < MHA_HB_MAX_WATCH && !w; i++)
            if (!s->w[i].used)
                w = &s->w[i];
        if (!w)
            return MK_ELIMIT;
        memset(w, 0, sizeof *w);
        w->used = true;
        w->node = node;
        w->entity = entity;
    }
    /* (Re)start: a re-registration after a restart is a fresh incarnation, so the
     * silence clock starts now, not at the old incarnation's last ACK. */
    w->down = false;
    w->next_send = now;
    w->last_ack = now;
    w->seq_acked = w->seq_sent;
    return 0;
}

int mha_hb_watch_del(mha_hb *s, uint32_t node, uint32_t entity)
{
    mha_hb_watch *w = mha_hb_lookup(s, node, entity);
    if (!w)
        return MK_ENOENT;
    w->used = false;
    return 0;
}

static int mha_hb_init(mk_ctx *c, const void *cfg)
{
    mha_hb *s = mk_ctx_state(c);
    if (!cfg)
        return MK_EINVAL;
    s->cfg = *(const mha_hb_config *)cfg;
    /* RFC 13 ranges: interval 10 ms .. 60 s, tolerance 1 .. 100 missed. */
    if (s->cfg.period_ns < 10000000ull || s->cfg.period_ns > 60000000000ull ||
        s->cfg.threshold < 1 || s->cfg.threshold > 100 || s->cfg.ncand > 4)
        return MK_EINVAL;
    s->next_corr = 1;
    return 0;
}

static int mha_hb_uop(mk_ctx *c, uint16_t op, uint16_t arg)
{
    mha_hb *s = mk_ctx_state(c);
    uint64_t now = mk_ctx_now(c);
    if (op == MP_UOP_HEARTBEAT_ACK) {
        if (!mk_ctx_is_reply(c))
            return 0; /* an unsolicited ACK proves nothing about our outstanding queries */
        mha_hb_watch *w = mha_hb_lookup(s, mk_ctx_src_node(c), mk_ctx_src_entity(c));
        /* Valid only if it answers a query we sent and is newer than the last answer:
         * an old ACK delayed in the network must not mask a fresh outage. */
        if (!w || !mp_seq16_lt(w->seq_acked, arg) || mp_seq16_lt(w->seq_sent, arg)) {
            s->stale_acks++;
            return 0;
        }
        w->seq_acked = arg;
        w->last_ack = now;
        w->acks++;
        s->acks++;
        if (w->down) {
            w->down = false;
            s->recovered++;
        }
        return 0;
    }
    const uint8_t *p;
    size_t len;
    if (op == MP_UOP_STATS_GET) {
        if (mk_ctx_is_reply(c) || (arg != 0 && arg != 7))
            return 0;
        /* The published detection bound travels with the counters, so that operators
         * see what "failed" means for what this watcher watches. */
        uint8_t b[320];
        size_t used = 1;
        unsigned nw = 0, down = 0;
        b[0] = 0;
        for (unsigned i = 0; i < MHA_HB_MAX_WATCH; i++) {
            nw += s->w[i].used;
            down += s->w[i].used && s->w[i].down;
        }
        const struct { const char *k; uint64_t v; } kv[] = {
            {"hb.detection_bound_ms", mha_hb_detection_bound(s) / 1000000u},
            {"hb.period_ms", s->cfg.period_ns / 1000000u}, {"hb.threshold", s->cfg.threshold},
            {"hb.watches", nw}, {"hb.down", down}, {"hb.sent", s->sent}, {"hb.acks", s->acks},
            {"hb.stale_acks", s->stale_acks}, {"hb.declared", s->declared},
            {"hb.recovered", s->recovered}, {"hb.moved", s->moved},
        };
        for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
            int rc = mha_props_add_u64(b, sizeof b, &used, kv[i].k, kv[i].v);
            if (rc < 0)
                return rc;
        }
        int rc = mk_reply_uop(c, MP_UOP_STATS_REPLY, 7);
        return rc ? rc : mk_reply_block(c, MP_UOP_STATS_REPLY, b, used);
    }
    if (op == MP_UOP_ELECT) {
        /* The kernel dispatches an ELECT request only when its epoch is not older than
         * any seen (fenced opcode), so this is the newest FTM. */
        if (!s->cfg.follow_ftm || mk_ctx_is_reply(c) || mk_param(c, &p, &len) < 0 || len < 4)
            return 0;
        uint32_t node = mp_get32(p);
        if (s->cfg.on_loss == MHA_HB_TAKEOVER) {
            mha_hb_watch *w = NULL;
            for (unsigned i = 0; i < MHA_HB_MAX_WATCH && !w; i++)
                if (s->w[i].used && s->w[i].entity == MK_ENTITY_FTM)
                    w = &s->w[i];
            if (w && w->node != node) {
                w->used = false;
                (void)mha_hb_watch_add(s, node, MK_ENTITY_FTM, now);
            } else if (!w) {
                (void)mha_hb_watch_add(s, node, MK_ENTITY_FTM, now);
            }
        } else {
            s->cfg.report_node = node;
        }
        s->followed++;
        return 0;
    }
    if (!s->cfg.watch_registered || mk_ctx_is_reply(c))
        return 0;
    if (mk_param(c, &p, &len) < 0 || len < 4)
        return MK_EPROTO;
    uint32_t ent = mp_get32(p), node = mk_ctx_src_node(c);
    (void)mha_props_u32(p + 4, len - 4, "node", &node);
    if (op == MP_UOP_REGISTER) {
        uint32_t kind_is_proc = 1;
        const uint8_t *v;
        size_t vl;
        if (mha_props_find(p + 4, len - 4, "kind", &v, &vl) == 0 &&
            !(vl == 4 && memcmp(v, "proc", 4) == 0))
            kind_is_proc = 0; /* nodes are watched by links, IOPs by the IOP manager */
        if (!kind_is_proc)
            return 0;
        /* An entity id names one process cluster-wide, wherever it runs: a registration
         * from a new node (a failover) moves the watch.  A watch left on the old node
         * would query a process that is gone and report the live one as hung. */
        for (unsigned i = 0; i < MHA_HB_MAX_WATCH; i++)
            if (s->w[i].used && s->w[i].entity == ent && s->w[i].node != node) {
                s->w[i].used = false;
                s->moved++;
            }
        return mha_hb_watch_add(s, node, ent, now);
    }
    (void)mha_hb_watch_del(s, node, ent);
    return 0;
}

static void mha_hb_declare(mk_ctx *c, mha_hb *s, mha_hb_watch *w, uint64_t now)
{
    if (!w->down)
        w->outages++;
    w->down = true;
    w->declared_at = now;
    w->declarations++;
    s->declared++;
    mk_msg m;
    uint32_t to = s->cfg.report_node;
    if (s->cfg.on_loss == MHA_HB_TAKEOVER) {
        /* Promote a candidate that is not the FTM just lost. */
        for (unsigned i = 0; i < s->cfg.ncand; i++)
            if (s->cfg.cand[i] != w->node) {
                to = s->cfg.cand[i];
                break;
            }
    }
    mk_msg_init(&m, to, s->cfg.report_entity, 0);
    uint8_t b[4];
    mp_put32(b, w->entity);
    if (s->cfg.on_loss == MHA_HB_TAKEOVER) {
        (void)mk_msg_uop(&m, MP_UOP_TAKEOVER, 0);
        (void)mk_msg_block(&m, MP_UOP_TAKEOVER, "msgr/ftm", 8);
    } else {
        (void)mk_msg_uop(&m, MP_UOP_PROC_FAILED, MHA_FAIL_HANG);
        (void)mk_msg_block(&m, MP_UOP_PROC_FAILED, b, 4);
    }
    if (mk_emit(c, &m) < 0)
        s->emit_errors++;
}

static int mha_hb_tick(mk_ctx *c)
{
    mha_hb *s = mk_ctx_state(c);
    uint64_t now = mk_ctx_now(c);
    uint64_t silence = mha_hb_silence(s);
    for (unsigned i = 0; i < MHA_HB_MAX_WATCH; i++) {
        mha_hb_watch *w = &s->w[i];
        if (!w->used)
            continue;
        /* Declare before sending: at exactly last_ack + silence the entity has been
         * silent for the whole tolerance, and a query sent now cannot change that. */
        uint64_t due = w->last_ack + silence * (uint64_t)(w->down ? w->declarations + 1 : 1);
        if (!w->down)
            w->declarations = 0;
        if (now >= due)
            mha_hb_declare(c, s, w, now);
        if (now >= w->next_send) {
            mk_msg m;
            mk_msg_init(&m, w->node, w->entity, s->next_corr++);
            if (s->next_corr == 0)
                s->next_corr = 1;
            w->seq_sent++;
            (void)mk_msg_uop(&m, MP_UOP_HEARTBEAT, w->seq_sent);
            if (mk_emit(c, &m) < 0)
                s->emit_errors++;
            else
                s->sent++;
            /* Skip missed slots instead of bursting after a late tick. */
            while (w->next_send <= now)
                w->next_send += s->cfg.period_ns;
        }
    }
    return 0;
}

static uint64_t mha_hb_deadline(const void *state)
{
    const mha_hb *s = state;
    uint64_t d = UINT64_MAX, silence = mha_hb_silence(s);
    for (unsigned i = 0; i < MHA_HB_MAX_WATCH; i++) {
        const mha_hb_watch *w = &s->w[i];
        if (!w->used)
            continue;
        uint64_t due = w->last_ack + silence * (uint64_t)(w->down ? w->declarations + 1 : 1);
        if (due < d)
            d = due;
        if (w->next_send < d)
            d = w->next_send;
    }
    return d;
}

const mk_element_ops mha_hb_ops = {
    .state_size = sizeof(mha_hb),
    .init = mha_hb_init,
    .uop = mha_hb_uop,
    .tick = mha_hb_tick,
    .deadline = mha_hb_deadline,
};

/* ---- responder ------------------------------------------------------------------------------ */
const uint16_t mha_hbresp_subs[] = {MP_UOP_HEARTBEAT};
const size_t mha_hbresp_nsubs = 1;

static int mha_hbresp_init(mk_ctx *c, const void *cfg)
{
    mha_hbresp *s = mk_ctx_state(c);
    if (cfg)
        s->state = ((const mha_hbresp *)cfg)->state;
    return 0;
}

static int mha_hbresp_uop(mk_ctx *c, uint16_t op, uint16_t arg)
{
    mha_hbresp *s = mk_ctx_state(c);
    (void)op;
    if (s->mute || mk_ctx_is_reply(c))
        return 0;
    uint8_t b[4] = {s->state, 0, 0, 0}; /* state, reserved, load = 0 */
    int rc = mk_reply_uop(c, MP_UOP_HEARTBEAT_ACK, arg);
    if (rc == 0)
        rc = mk_reply_block(c, MP_UOP_HEARTBEAT_ACK, b, sizeof b);
    if (rc == 0)
        s->answered++;
    return rc;
}

const mk_element_ops mha_hbresp_ops = {
    .state_size = sizeof(mha_hbresp),
    .init = mha_hbresp_init,
    .uop = mha_hbresp_uop,
};
