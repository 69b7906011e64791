/*
 * mk.c — the management microkernel: registration, in-order dispatch, payload
 * copy-on-write, appends, replies, epoch fencing, timers and the outbox.
 */
#include <string.h>

#include "mk.h"

struct mk_ctx {
    mk_kernel *k;
    unsigned el; /* the element being called */
    bool ticking;
};

const char *mk_strerror(int err)
{
    static const char *const s[MK_ERR_COUNT] = {
        "success",
        "invalid argument",
        "limit reached (elements, subscriptions, microoperations or outbox)",
        "too big (payload, block or state)",
        "no such entity, element, parameter or record",
        "not allowed in the current state",
        "malformed management payload, or no element takes the microoperation",
        "fenced: epoch older than the newest seen",
        "stale: older than what is stored",
        "already exists",
        "element wrote outside its state; element disabled",
    };
    if (err > 0 || err <= -(int)MK_ERR_COUNT)
        return "unknown error";
    return s[-err];
}

uint16_t mk_err_reason(int err)
{
    switch (err) {
    case MK_ELIMIT: return MP_R_NO_RESOURCES;
    case MK_ETOOBIG: return MP_R_TOO_BIG;
    case MK_ENOENT: return MP_R_NO_SUCH_DEVICE;
    case MK_ESTATE: return MP_R_REFUSED;
    case MK_ESTALE: return MP_R_REFUSED;
    case MK_EFENCED: return MP_R_NOT_PERMITTED;
    case MK_EEXIST: return MP_R_NAME_CONFLICT;
    case MK_ECORRUPT: return MP_R_NO_RESOURCES;
    default: return MP_R_PROTOCOL;
    }
}

bool mk_uop_fenced(uint16_t op)
{
    switch (op) {
    case MP_UOP_CONFIGURE: case MP_UOP_BOOT: case MP_UOP_RESET: case MP_UOP_QUIESCE:
    case MP_UOP_EXTRACT: case MP_UOP_INSERT: case MP_UOP_PROC_START: case MP_UOP_PROC_STOP:
    case MP_UOP_RECOVER: case MP_UOP_TAKEOVER: case MP_UOP_CKPT_RESTORE: case MP_UOP_FENCE:
    case MP_UOP_ELECT:
        return true;
    default:
        return false;
    }
}

/* ---- Messages and blocks ---------------------------------------------------------- */
void mk_msg_init(mk_msg *m, uint32_t dst_node, uint32_t dst_entity, uint32_t corr_id)
{
    /* Only the header is cleared: the payload bytes beyond payload_len are never read,
     * and zeroing 1 KiB per message would be wasted work on the heartbeat path. */
    m->dst_node = dst_node;
    m->dst_entity = dst_entity;
    m->corr_id = corr_id;
    m->epoch = 0;
    m->src_entity = 0;
    m->gflags = 0;
    m->uop_count = 0;
    m->flags = 0;
    m->payload_len = 0;
}

int mk_msg_uop(mk_msg *m, uint16_t opcode, uint16_t arg)
{
    if (m->uop_count >= MP_MAX_UOPS)
        return MK_ELIMIT;
    m->uops[m->uop_count].opcode = opcode;
    m->uops[m->uop_count].arg = arg;
    m->uop_count++;
    return 0;
}

int mk_msg_block(mk_msg *m, uint16_t opcode, const void *data, size_t len)
{
    if (len > 0xFFFFu || len + 4 > MK_OUT_PAYLOAD_MAX - m->payload_len)
        return MK_ETOOBIG;
    uint8_t *p = m->payload + m->payload_len;
    mp_put16(p, opcode);
    mp_put16(p + 2, (uint16_t)len);
    if (len)
        memcpy(p + 4, data, len);
    m->payload_len += (uint32_t)(4 + len);
    return 0;
}

void mk_msg_set_epoch(mk_msg *m, uint32_t epoch)
{
    m->epoch = epoch;
    m->flags |= MK_MSGF_EPOCH;
}

void mk_msg_view(const mk_msg *m, mp_mgmt *out)
{
    memset(out, 0, sizeof *out);
    out->corr_id = m->corr_id;
    out->epoch = m->epoch;
    out->src_entity = m->src_entity;
    out->dst_entity = m->dst_entity;
    out->uop_count = m->uop_count;
    out->gflags = m->gflags;
    memcpy(out->uops, m->uops, sizeof(mp_uop_entry) * m->uop_count);
    out->payload.ptr = m->payload;
    out->payload.len = m->payload_len;
}

int mk_blocks_check(const uint8_t *pl, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        if (len - pos < 4)
            return MK_EPROTO;
        size_t bl = mp_get16(pl + pos + 2);
        if (len - pos - 4 < bl)
            return MK_EPROTO;
        pos += 4 + bl;
    }
    return 0;
}

int mk_find_block(const uint8_t *pl, size_t len, uint16_t opcode, unsigned nth,
                  const uint8_t **data, size_t *dlen)
{
    size_t pos = 0;
    while (pos < len) {
        if (len - pos < 4)
            return MK_EPROTO;
        uint16_t op = mp_get16(pl + pos);
        size_t bl = mp_get16(pl + pos + 2);
        if (len - pos - 4 < bl)
            return MK_EPROTO;
        if (op == opcode && nth-- == 0) {
            *data = pl + pos + 4;
            *dlen = bl;
            return 0;
        }
        pos += 4 + bl;
    }
    return MK_ENOENT;
}

/* ---- Kernel ------------------------------------------------------------------------- */
int mk_init(mk_kernel *k, const mk_config *cfg)
{
    if (!k || !cfg || (cfg->arena_len && !cfg->arena) || ((uintptr_t)cfg->arena & 7u))
        return MK_EINVAL;
    memset(k, 0, offsetof(mk_kernel, work)); /* the big buffers need no clearing */
    k->out_head = k->out_n = 0;
    memset(&k->stats, 0, sizeof k->stats);
    k->node_id = cfg->node_id;
    k->entity_id = cfg->entity_id;
    k->arena = cfg->arena;
    k->arena_len = cfg->arena_len;
    return 0;
}

static uint64_t *mk_guard_of(mk_kernel *k, const mk_elem *e)
{
    return (uint64_t *)(void *)(k->arena + e->off + e->size);
}

int mk_find_element(const mk_kernel *k, const char *name)
{
    for (unsigned i = 0; i < k->nel; i++)
        if (strcmp(k->el[i].name, name) == 0)
            return (int)i;
    return MK_ENOENT;
}

void *mk_element_state(mk_kernel *k, int id)
{
    if (id < 0 || (unsigned)id >= k->nel || k->el[id].size == 0)
        return NULL;
    return k->arena + k->el[id].off;
}

int mk_register(mk_kernel *k, const char *name, const mk_element_ops *ops,
                const uint16_t *subs, size_t nsubs, const void *cfg, uint64_t now)
{
    if (!k || !name || !ops || (nsubs && (!subs || !ops->uop)) || k->in_pass)
        return MK_EINVAL;
    size_t nl = strlen(name);
    if (nl == 0 || nl > MK_NAME_MAX)
        return MK_EINVAL;
    if (k->nel >= MK_MAX_ELEMENTS || nsubs > MK_MAX_SUBS)
        return MK_ELIMIT;
    for (size_t i = 0; i < nsubs; i++)
        for (size_t j = 0; j < i; j++)
            if (subs[i] == subs[j])
                return MK_EINVAL;
    if (mk_find_element(k, name) >= 0)
        return MK_EEXIST;
    /* Blob rounded to 8 so the guard word and the next blob stay aligned. */
    size_t size = (ops->state_size + 7u) & ~(size_t)7u;
    size_t need = size + sizeof(uint64_t);
    if (need > k->arena_len - k->arena_used)
        return MK_ETOOBIG;

    mk_elem *e = &k->el[k->nel];
    memset(e, 0, sizeof *e);
    e->ops = ops;
    memcpy(e->name, name, nl + 1);
    if (nsubs)
        memcpy(e->subs, subs, nsubs * sizeof subs[0]);
    e->nsubs = (uint8_t)nsubs;
    e->off = k->arena_used;
    e->size = size;
    memset(k->arena + e->off, 0, size);
    *mk_guard_of(k, e) = MK_GUARD;
    unsigned id = k->nel++;
    k->arena_used += need;

    if (ops->init) {
        mk_ctx c = {.k = k, .el = id, .ticking = true};
        k->now = now;
        int rc = ops->init(&c, cfg);
        if (rc < 0 || *mk_guard_of(k, e) != MK_GUARD) {
            /* Give the slot back: registration is all or nothing. */
            k->nel--;
            k->arena_used -= need;
            return rc < 0 ? rc : MK_ECORRUPT;
        }
    }
    return (int)id;
}

uint32_t mk_epoch(const mk_kernel *k) { return k->epoch; }
const mk_stats *mk_get_stats(const mk_kernel *k) { return &k->stats; }
unsigned mk_out_pending(const mk_kernel *k) { return k->out_n; }

static int mk_out_push(mk_kernel *k, const mk_msg *m)
{
    if (k->out_n >= MK_OUTBOX_MAX) {
        k->stats.outbox_full++;
        return MK_ELIMIT;
    }
    unsigned slot = (k->out_head + k->out_n) % MK_OUTBOX_MAX;
    mk_msg *d = &k->outbox[slot];
    /* Copy only the used part: headers, used uops and used payload. */
    memcpy(d, m, offsetof(mk_msg, payload));
    memcpy(d->payload, m->payload, m->payload_len);
    k->out_n++;
    return 0;
}

bool mk_out_pop(mk_kernel *k, mk_msg *out)
{
    if (k->out_n == 0)
        return false;
    const mk_msg *s = &k->outbox[k->out_head];
    memcpy(out, s, offsetof(mk_msg, payload));
    memcpy(out->payload, s->payload, s->payload_len);
    k->out_head = (k->out_head + 1) % MK_OUTBOX_MAX;
    k->out_n--;
    return true;
}

static bool mk_subscribed(const mk_elem *e, uint16_t op)
{
    for (unsigned i = 0; i < e->nsubs; i++)
        if (e->subs[i] == op)
            return true;
    return false;
}

/* Record the first failure of the pass; later ones do not overwrite it, so the reply
 * names the microoperation that actually broke the message. */
static void mk_fail(mk_kernel *k, uint16_t op, int err)
{
    if (!k->pass_failed) {
        k->pass_failed = true;
        k->pass_err = err;
        k->fail_op = op;
    }
}

/* Call one element op and enforce the state guard. */
static int mk_call_checked(mk_kernel *k, unsigned id, int rc)
{
    mk_elem *e = &k->el[id];
    if (*mk_guard_of(k, e) != MK_GUARD) {
        e->disabled = true;
        *mk_guard_of(k, e) = MK_GUARD;
        k->stats.corrupt++;
        return MK_ECORRUPT;
    }
    return rc;
}

static void mk_send_reply(mk_kernel *k)
{
    mk_msg *r = &k->reply;
    if (k->pass_failed) {
        /* RFC 10.4: exactly one microoperation, the failed opcode with arg = reason,
         * plus a diagnostic text block so that operators see why. */
        r->uop_count = 0;
        r->payload_len = 0;
        (void)mk_msg_uop(r, k->fail_op, mk_err_reason(k->pass_err));
        const char *t = mk_strerror(k->pass_err);
        (void)mk_msg_block(r, k->fail_op, t, strlen(t));
        r->gflags |= MP_GFLAG_ERROR;
    }
    r->epoch = k->epoch;
    if (mk_out_push(k, r) == 0)
        k->stats.replies_sent++;
}

int mk_input(mk_kernel *k, uint32_t src_node, const mp_mgmt *m, uint64_t now)
{
    if (!k || !m || m->uop_count > MP_MAX_UOPS)
        return MK_EINVAL;
    if (k->in_pass)
        return MK_ESTATE;
    k->stats.rx++;
    bool is_reply = (m->gflags & MP_GFLAG_REPLY) != 0;
    if (is_reply)
        k->stats.rx_replies++;
    else
        k->stats.rx_requests++;

    k->now = now;
    k->in_pass = true;
    k->pass_failed = false;
    k->pass_err = 0;
    k->fail_op = 0;
    k->src_node = src_node;
    k->corr_id = m->corr_id;
    k->msg_epoch = m->epoch;
    k->src_entity = m->src_entity;
    k->dst_entity = m->dst_entity;
    k->gflags = m->gflags;
    /* A reply is never answered (MSG-MGMT-12); corr_id 0 asks for none (10.4). */
    k->want_reply = !is_reply && m->corr_id != 0;
    if (k->want_reply) {
        mk_msg_init(&k->reply, src_node, m->src_entity, m->corr_id);
        k->reply.src_entity = (m->dst_entity == MK_ENTITY_ALL) ? k->entity_id : m->dst_entity;
        k->reply.gflags = MP_GFLAG_REPLY;
    }

    int ret = 0;
    if (m->dst_entity != k->entity_id && m->dst_entity != MK_ENTITY_ALL) {
        k->stats.no_entity++;
        mk_fail(k, m->uop_count ? m->uops[0].opcode : MP_UOP_NOP, MK_ENOENT);
        ret = MK_ENOENT;
        goto out;
    }

    /* Fencing (RFC 10.6).  Only requests that carry a fenced opcode are judged: liveness,
     * registration and reports must flow whatever the epoch, or a node that missed one
     * FENCE could not even be heard from. */
    if (!is_reply && k->epoch_seen && mp_seq32_lt(m->epoch, k->epoch)) {
        for (unsigned i = 0; i < m->uop_count; i++) {
            if (mk_uop_fenced(m->uops[i].opcode)) {
                k->stats.fenced++;
                mk_fail(k, m->uops[i].opcode, MK_EFENCED);
                ret = MK_EFENCED;
                goto out;
            }
        }
    }
    if (!k->epoch_seen || mp_seq32_lt(k->epoch, m->epoch)) {
        if (k->epoch_seen)
            k->stats.epoch_raised++;
        k->epoch = m->epoch;
        k->epoch_seen = true;
    }

    /* MSG-MGMT-9: with any assigned opcode present the payload must be blocks; checked
     * once here so elements can trust mk_param's framing. */
    bool assigned = false;
    for (unsigned i = 0; i < m->uop_count; i++)
        if (m->uops[i].opcode != MP_UOP_NOP && m->uops[i].opcode < MP_UOP_PRIVATE_FIRST)
            assigned = true;
    if (assigned && mk_blocks_check(m->payload.ptr, m->payload.len) < 0) {
        mk_fail(k, m->uops[0].opcode, MK_EPROTO);
        ret = MK_EPROTO;
        goto out;
    }

    memcpy(k->uops, m->uops, sizeof(mp_uop_entry) * m->uop_count);
    k->nuops = m->uop_count;
    k->pl = m->payload.ptr;
    k->pl_len = m->payload.len;
    k->pl_owned = false;

    for (k->cur = 0; k->cur < k->nuops && !k->pass_failed; k->cur++) {
        uint16_t op = k->uops[k->cur].opcode, arg = k->uops[k->cur].arg;
        unsigned takers = 0;
        for (unsigned id = 0; id < k->nel && !k->pass_failed; id++) {
            mk_elem *e = &k->el[id];
            if (e->disabled || !mk_subscribed(e, op))
                continue;
            takers++;
            mk_ctx c = {.k = k, .el = id, .ticking = false};
            int rc = mk_call_checked(k, id, e->ops->uop(&c, op, arg));
            k->stats.dispatched_uops++;
            if (rc < 0)
                mk_fail(k, op, rc);
        }
        /* FENCE and ELECT act on the kernel itself (the epoch was taken above), so they
         * are never "untaken" even where no FTM element listens. */
        if (takers == 0 && op != MP_UOP_NOP && op != MP_UOP_FENCE && op != MP_UOP_ELECT) {
            k->stats.unsubscribed++;
            /* A reply's response uops that nobody here wants are harmless: skip them.
             * In a request, RFC 10.3 says an untaken opcode fails the message. */
            if (!is_reply)
                mk_fail(k, op, MK_EPROTO);
        }
    }
    if (k->pass_failed)
        ret = k->pass_err;

out:
    if (k->pass_failed) {
        k->stats.failed++;
        if (!k->want_reply && !is_reply)
            k->stats.errors_uncounted_reply++;
    }
    if (k->want_reply)
        mk_send_reply(k);
    k->in_pass = false;
    k->pl = NULL;
    k->pl_len = 0;
    k->nuops = 0;
    return ret;
}

int mk_tick(mk_kernel *k, uint64_t now)
{
    if (k->in_pass)
        return MK_ESTATE;
    int errs = 0;
    k->now = now;
    k->in_pass = true; /* no re-entry from a tick either */
    k->src_node = k->corr_id = k->msg_epoch = k->src_entity = k->dst_entity = 0;
    k->gflags = 0;
    k->want_reply = false;
    k->nuops = 0;
    k->pl = NULL;
    k->pl_len = 0;
    for (unsigned id = 0; id < k->nel; id++) {
        mk_elem *e = &k->el[id];
        if (e->disabled || !e->ops->tick)
            continue;
        mk_ctx c = {.k = k, .el = id, .ticking = true};
        if (mk_call_checked(k, id, e->ops->tick(&c)) < 0) {
            k->stats.tick_errors++;
            errs++;
        }
    }
    k->in_pass = false;
    return errs;
}

uint64_t mk_next_deadline(const mk_kernel *k)
{
    uint64_t d = UINT64_MAX;
    for (unsigned id = 0; id < k->nel; id++) {
        const mk_elem *e = &k->el[id];
        if (e->disabled || !e->ops->deadline)
            continue;
        uint64_t t = e->ops->deadline(k->arena + e->off);
        if (t < d)
            d = t;
    }
    return d;
}

/* ---- Context -------------------------------------------------------------------------- */
void *mk_ctx_state(mk_ctx *c)
{
    mk_elem *e = &c->k->el[c->el];
    return e->size ? c->k->arena + e->off : NULL;
}
uint64_t mk_ctx_now(const mk_ctx *c) { return c->k->now; }
uint32_t mk_ctx_node(const mk_ctx *c) { return c->k->node_id; }
uint32_t mk_ctx_entity(const mk_ctx *c) { return c->k->entity_id; }
uint32_t mk_ctx_epoch(const mk_ctx *c) { return c->k->epoch; }
uint32_t mk_ctx_src_node(const mk_ctx *c) { return c->k->src_node; }
uint32_t mk_ctx_src_entity(const mk_ctx *c) { return c->k->src_entity; }
uint32_t mk_ctx_msg_epoch(const mk_ctx *c) { return c->k->msg_epoch; }
uint32_t mk_ctx_corr(const mk_ctx *c) { return c->k->corr_id; }
bool mk_ctx_is_reply(const mk_ctx *c) { return (c->k->gflags & MP_GFLAG_REPLY) != 0; }
unsigned mk_ctx_uop_index(const mk_ctx *c) { return c->k->cur; }
unsigned mk_ctx_uop_count(const mk_ctx *c) { return c->k->nuops; }

const uint8_t *mk_payload(const mk_ctx *c, size_t *len)
{
    *len = c->k->pl_len;
    return c->k->pl;
}

/* Copy-on-write: the input belongs to the caller (often a receive buffer shared with
 * the link layer), so the first write moves the payload into the kernel's own buffer. */
static int mk_payload_own(mk_kernel *k)
{
    if (k->pl_owned)
        return 0;
    if (k->pl_len > MK_PAYLOAD_MAX)
        return MK_ETOOBIG;
    if (k->pl_len)
        memmove(k->work, k->pl, k->pl_len);
    k->pl = k->work;
    k->pl_owned = true;
    return 0;
}

int mk_payload_write(mk_ctx *c, size_t off, const void *data, size_t len)
{
    mk_kernel *k = c->k;
    if (c->ticking)
        return MK_ESTATE;
    if (off > k->pl_len || (len && !data))
        return MK_EINVAL; /* no holes: every payload byte was written by someone */
    if (off > MK_PAYLOAD_MAX || len > MK_PAYLOAD_MAX - off)
        return MK_ETOOBIG;
    int rc = mk_payload_own(k);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(k->work + off, data, len);
    if (off + len > k->pl_len)
        k->pl_len = off + len;
    return 0;
}

int mk_payload_truncate(mk_ctx *c, size_t len)
{
    if (c->ticking)
        return MK_ESTATE;
    if (len > c->k->pl_len)
        return MK_EINVAL;
    int rc = mk_payload_own(c->k);
    if (rc < 0)
        return rc;
    c->k->pl_len = len;
    return 0;
}

int mk_payload_add_block(mk_ctx *c, uint16_t opcode, const void *data, size_t len)
{
    if (len > 0xFFFFu)
        return MK_ETOOBIG;
    uint8_t h[4];
    mp_put16(h, opcode);
    mp_put16(h + 2, (uint16_t)len);
    size_t at = c->k->pl_len;
    if (at > MK_PAYLOAD_MAX || 4 + len > MK_PAYLOAD_MAX - at)
        return MK_ETOOBIG; /* checked up front so a half-written block never remains */
    int rc = mk_payload_write(c, at, h, 4);
    if (rc == 0 && len)
        rc = mk_payload_write(c, at + 4, data, len);
    return rc;
}

int mk_param(const mk_ctx *c, const uint8_t **data, size_t *len)
{
    const mk_kernel *k = c->k;
    if (c->ticking)
        return MK_ENOENT;
    uint16_t op = k->uops[k->cur].opcode;
    unsigned nth = 0;
    for (unsigned i = 0; i < k->cur; i++)
        if (k->uops[i].opcode == op)
            nth++;
    return mk_find_block(k->pl, k->pl_len, op, nth, data, len);
}

int mk_append(mk_ctx *c, uint16_t opcode, uint16_t arg)
{
    mk_kernel *k = c->k;
    if (c->ticking)
        return MK_ESTATE;
    if (k->nuops >= MP_MAX_UOPS) {
        mk_fail(k, opcode, MK_ELIMIT); /* MSG-MGMT-8: the message fails, not just the call */
        return MK_ELIMIT;
    }
    k->uops[k->nuops].opcode = opcode;
    k->uops[k->nuops].arg = arg;
    k->nuops++;
    k->stats.appended_uops++;
    return 0;
}

int mk_reply_uop(mk_ctx *c, uint16_t opcode, uint16_t arg)
{
    if (c->ticking || !c->k->want_reply)
        return 0;
    return mk_msg_uop(&c->k->reply, opcode, arg);
}

int mk_reply_block(mk_ctx *c, uint16_t opcode, const void *data, size_t len)
{
    if (c->ticking || !c->k->want_reply)
        return 0;
    return mk_msg_block(&c->k->reply, opcode, data, len);
}

int mk_emit(mk_ctx *c, const mk_msg *m)
{
    mk_kernel *k = c->k;
    if (!m || m->uop_count > MP_MAX_UOPS || m->payload_len > MK_OUT_PAYLOAD_MAX)
        return MK_EINVAL;
    if (k->out_n >= MK_OUTBOX_MAX) {
        k->stats.outbox_full++;
        return MK_ELIMIT;
    }
    mk_msg *d = &k->outbox[(k->out_head + k->out_n) % MK_OUTBOX_MAX];
    memcpy(d, m, offsetof(mk_msg, payload));
    memcpy(d->payload, m->payload, m->payload_len);
    d->src_entity = k->entity_id;
    if (!(m->flags & MK_MSGF_EPOCH))
        d->epoch = k->epoch;
    k->out_n++;
    k->stats.emitted++;
    return 0;
}
