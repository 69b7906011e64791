/*
 * mha_ckpt.c — checkpoint store element (RFC 10.5, 10.9).
 *
 * CKPT_SAVE (request): block ckpt_id(32) path(32) cseq(32) state.  The store keeps the
 * newest state per ckpt_id with the (path, cseq) it reflects, answers CKPT_ACK(0) with
 * ckpt_id, and forwards a copy to its replica (the standby's store).  The primary runs on
 * the FTM's node, never the saver's, so the ACK already means "stored on another node"
 * (MSG-MGMT-17); the replica's own ACK marks the record `replicated`.
 *
 * Ordering: on the same path a save whose cseq is older (serial arithmetic) than the
 * stored one is stale and refused (MK_ESTALE) — a delayed retransmission must not roll
 * the state back.  The same cseq with the same bytes is a duplicate and is acknowledged
 * again (idempotent); the same cseq with other bytes is refused.  A save on another path
 * replaces the record: a restored entity opens a new path and its cseq starts afresh.
 *
 * Replication: the copy is matched to the replica's CKPT_ACK by corr_id (an ACK of an
 * older copy does not confirm a newer save) and is sent again every
 * MHA_CKPT_REPL_RETRY_NS until the replica confirms or refuses it.  When the replica's
 * node comes back (mha_ckpt_replica_up: it may have restarted empty), every record is
 * sent again at the next tick, confirmed or not.
 *
 * Fencing: a save carrying an epoch older than the one that wrote the record is refused
 * (MK_EFENCED), so a deposed FTM that resumes cannot roll back its successor's registry.
 *
 * CKPT_RESTORE (request): block ckpt_id(32).  Response: CKPT_RESTORE with the full block
 * (ckpt_id, path, cseq, state) of the newest save, or ERROR NO_SUCH_DEVICE.
 */
#include <string.h>

#include "mha.h"

const uint16_t mha_ckpt_subs[] = {MP_UOP_CKPT_SAVE, MP_UOP_CKPT_ACK, MP_UOP_CKPT_RESTORE};
const size_t mha_ckpt_nsubs = sizeof mha_ckpt_subs / sizeof mha_ckpt_subs[0];

const mha_ckpt_rec *mha_ckpt_get(const mha_ckpt *s, uint32_t id)
{
    for (unsigned i = 0; i < MHA_CKPT_MAX; i++)
        if (s->rec[i].used && s->rec[i].ckpt_id == id)
            return &s->rec[i];
    return NULL;
}

int mha_ckpt_block(uint8_t *buf, size_t cap, uint32_t id, uint32_t path, uint32_t cseq,
                   const void *state, size_t len)
{
    if (len > MHA_CKPT_BLOB_MAX || cap < 12 + len)
        return MK_ETOOBIG;
    mp_put32(buf, id);
    mp_put32(buf + 4, path);
    mp_put32(buf + 8, cseq);
    if (len)
        memcpy(buf + 12, state, len);
    return (int)(12 + len);
}

bool mha_ckpt_should_deliver(uint32_t ckpt_path, uint32_t ckpt_cseq, uint32_t path, uint32_t cseq)
{
    /* Another path: the checkpoint says nothing about it, so nothing may be skipped. */
    if (path != ckpt_path)
        return true;
    return mp_seq32_lt(ckpt_cseq, cseq);
}

static int ckpt_init(mk_ctx *c, const void *cfg)
{
    mha_ckpt *s = mk_ctx_state(c);
    if (cfg)
        s->cfg = *(const mha_ckpt_config *)cfg;
    s->next_corr = 1;
    return 0;
}

static bool ckpt_replicated(const mha_ckpt *s)
{
    return s->cfg.replica_entity || s->cfg.replica_node;
}

/* Send the stored record to the replica, with the saver's epoch (the replica fences by it
 * too).  A copy the outbox refuses is sent again by the tick. */
static void ckpt_forward(mk_ctx *c, mha_ckpt *s, mha_ckpt_rec *r)
{
    mk_msg m;
    uint8_t b[12 + MHA_CKPT_BLOB_MAX];
    int n = mha_ckpt_block(b, sizeof b, r->ckpt_id, r->path, r->cseq, r->blob, r->len);
    mk_msg_init(&m, s->cfg.replica_node, s->cfg.replica_entity, s->next_corr++);
    if (s->next_corr == 0)
        s->next_corr = 1;
    mk_msg_set_epoch(&m, r->epoch);
    (void)mk_msg_uop(&m, MP_UOP_CKPT_SAVE, 0);
    r->repl_corr = m.corr_id;
    r->repl_sent_at = mk_ctx_now(c);
    if (n > 0 && mk_msg_block(&m, MP_UOP_CKPT_SAVE, b, (size_t)n) == 0 && mk_emit(c, &m) == 0)
        s->repl_sent++;
}

static int ckpt_save(mk_ctx *c, mha_ckpt *s, const uint8_t *p, size_t len)
{
    if (len < 12)
        return MK_EPROTO;
    uint32_t id = mp_get32(p), path = mp_get32(p + 4), cseq = mp_get32(p + 8);
    size_t blen = len - 12;
    if (blen > MHA_CKPT_BLOB_MAX) {
        s->too_big++;
        return MK_ETOOBIG;
    }
    mha_ckpt_rec *r = (mha_ckpt_rec *)mha_ckpt_get(s, id);
    /* A save stamped with an epoch older than the one that wrote the record comes from
     * a deposed writer (an FTM that was stopped, resumed and has not yet learnt that it
     * was replaced): it must not roll the newer writer's state back. */
    if (r && mp_seq32_lt(mk_ctx_msg_epoch(c), r->epoch)) {
        s->fenced++;
        return MK_EFENCED;
    }
    if (r && r->path == path) {
        if (mp_seq32_lt(cseq, r->cseq)) {
            s->stale++;
            return MK_ESTALE;
        }
        if (cseq == r->cseq) {
            if (blen != r->len || memcmp(r->blob, p + 12, blen) != 0) {
                s->stale++;
                return MK_ESTALE;
            }
            s->dup_saves++;
            uint8_t b[4];
            mp_put32(b, id);
            int rc = mk_reply_uop(c, MP_UOP_CKPT_ACK, 0);
            return rc ? rc : mk_reply_block(c, MP_UOP_CKPT_ACK, b, 4);
        }
    }
    if (!r) {
        for (unsigned i = 0; i < MHA_CKPT_MAX && !r; i++)
            if (!s->rec[i].used)
                r = &s->rec[i];
        if (!r) {
            s->full++;
            return MK_ELIMIT;
        }
        memset(r, 0, offsetof(mha_ckpt_rec, blob));
        r->used = true;
        r->ckpt_id = id;
    }
    r->path = path;
    r->cseq = cseq;
    r->len = (uint16_t)blen;
    memcpy(r->blob, p + 12, blen);
    r->owner_node = mk_ctx_src_node(c);
    r->owner_entity = mk_ctx_src_entity(c);
    r->saved_at = mk_ctx_now(c);
    r->version++;
    r->epoch = mk_ctx_msg_epoch(c);
    r->replicated = false;
    r->repl_refused = false;
    s->saves++;
    if (ckpt_replicated(s))
        ckpt_forward(c, s, r);
    uint8_t b[4];
    mp_put32(b, id);
    int rc = mk_reply_uop(c, MP_UOP_CKPT_ACK, 0);
    return rc ? rc : mk_reply_block(c, MP_UOP_CKPT_ACK, b, 4);
}

static int ckpt_uop(mk_ctx *c, uint16_t op, uint16_t arg)
{
    mha_ckpt *s = mk_ctx_state(c);
    const uint8_t *p;
    size_t len;
    if (mk_ctx_is_reply(c)) {
        /* The replica's answer to the newest copy of a record: CKPT_ACK, the record now
         * lives on two nodes; an ERROR (CKPT_SAVE with a reason), the replica holds a
         * newer save (another writer's, or a newer epoch's): nothing to send again. */
        uint32_t corr = mk_ctx_corr(c);
        for (unsigned i = 0; corr && i < MHA_CKPT_MAX; i++) {
            mha_ckpt_rec *r = &s->rec[i];
            if (!r->used || r->replicated || r->repl_refused || r->repl_corr != corr)
                continue;
            if (op == MP_UOP_CKPT_ACK && arg == 0 && mk_param(c, &p, &len) == 0 && len >= 4 &&
                mp_get32(p) == r->ckpt_id) {
                r->replicated = true;
                s->replicated++;
            } else if (op == MP_UOP_CKPT_SAVE && arg != 0) {
                r->repl_refused = true;
                s->repl_refused++;
            }
        }
        return 0;
    }
    switch (op) {
    case MP_UOP_CKPT_SAVE:
        if (mk_param(c, &p, &len) < 0)
            return MK_EPROTO;
        return ckpt_save(c, s, p, len);
    case MP_UOP_CKPT_RESTORE: {
        if (mk_param(c, &p, &len) < 0 || len < 4)
            return MK_EPROTO;
        const mha_ckpt_rec *r = mha_ckpt_get(s, mp_get32(p));
        if (!r) {
            s->misses++;
            return MK_ENOENT;
        }
        uint8_t b[12 + MHA_CKPT_BLOB_MAX];
        int n = mha_ckpt_block(b, sizeof b, r->ckpt_id, r->path, r->cseq, r->blob, r->len);
        int rc = mk_reply_uop(c, MP_UOP_CKPT_RESTORE, 0);
        if (rc == 0)
            rc = mk_reply_block(c, MP_UOP_CKPT_RESTORE, b, (size_t)n);
        if (rc == 0)
            s->restores++;
        return rc;
    }
    default:
        return 0; /* a CKPT_ACK request is not something a store is asked */
    }
}

static bool ckpt_owes_copy(const mha_ckpt *s, const mha_ckpt_rec *r)
{
    return ckpt_replicated(s) && r->used && !r->replicated && !r->repl_refused;
}

int mha_ckpt_replica_up(mha_ckpt *s, uint32_t node)
{
    if (!ckpt_replicated(s) || node != s->cfg.replica_node)
        return 0;
    /* The replica may have restarted with an empty store: what it confirmed before says
     * nothing about what it holds now.  Every record is owed again; the replica's own
     * rules (stale cseq, older epoch) still decide what it keeps, and a refusal ends the
     * retries of that record as before. */
    int n = 0;
    for (unsigned i = 0; i < MHA_CKPT_MAX; i++) {
        mha_ckpt_rec *r = &s->rec[i];
        if (!r->used)
            continue;
        r->replicated = false;
        r->repl_refused = false;
        n++;
    }
    s->refill_due = n > 0;
    if (n)
        s->refills++;
    return n;
}

static int ckpt_tick(mk_ctx *c)
{
    mha_ckpt *s = mk_ctx_state(c);
    uint64_t now = mk_ctx_now(c);
    bool refill = s->refill_due;
    s->refill_due = false;
    for (unsigned i = 0; i < MHA_CKPT_MAX; i++) {
        mha_ckpt_rec *r = &s->rec[i];
        if (ckpt_owes_copy(s, r) && (refill || now >= r->repl_sent_at + MHA_CKPT_REPL_RETRY_NS)) {
            s->repl_retries++;
            ckpt_forward(c, s, r);
        }
    }
    return 0;
}

static uint64_t ckpt_deadline(const void *state)
{
    const mha_ckpt *s = state;
    if (s->refill_due)
        return 0; /* the replica came back: refill it at the next tick */
    uint64_t d = UINT64_MAX;
    for (unsigned i = 0; i < MHA_CKPT_MAX; i++)
        if (ckpt_owes_copy(s, &s->rec[i]) && s->rec[i].repl_sent_at + MHA_CKPT_REPL_RETRY_NS < d)
            d = s->rec[i].repl_sent_at + MHA_CKPT_REPL_RETRY_NS;
    return d;
}

const mk_element_ops mha_ckpt_ops = {
    .state_size = sizeof(mha_ckpt),
    .init = ckpt_init,
    .uop = ckpt_uop,
    .tick = ckpt_tick,
    .deadline = ckpt_deadline,
};
