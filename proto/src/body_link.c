/*
 * body_link.c — link-layer bodies (DISCOVER, LINK_RESET/ACTIVATE, LINK_STATE), the
 * security envelope and key exchange (SECURED, KEY_EXCHANGE), and the option TLVs
 * the first two carry.
 */
#include "mp_internal.h"

/* ---- Options ---------------------------------------------------------------------- */

int mp_opts_parse(const uint8_t *p, size_t n, mp_opts *o)
{
    size_t off = 0;
    o->n = 0;
    while (off < n) {
        if (n - off < 2 || n - off - 2 < p[off + 1])
            return MP_EOPTION; /* a TLV runs past the frame */
        if (o->n == MP_MAX_OPTIONS)
            return MP_EOPTION;
        mp_opt *v = &o->v[o->n++];
        v->type = p[off];
        v->len = p[off + 1];
        v->val = p + off + 2;
        off += 2u + v->len;
    }
    return MP_OK;
}

static int mp_opt_check_one(const mp_opt *v)
{
    switch (v->type) {
    case MP_OPT_NODE_NAME:
        if (v->len < 1 || v->len > MP_MAX_NODE_NAME)
            return MP_EOPTION;
        return mp_component_ok(v->val, v->len) ? MP_OK : MP_ENAME;
    case MP_OPT_BEARER_NAME:
        return v->len >= 1 && v->len <= MP_MAX_BEARER_NAME ? MP_OK : MP_EOPTION;
    case MP_OPT_CAPS:
        /* CAPS bits this version does not define are allowed: capabilities are how a
         * newer peer advertises what it adds. */
        return v->len == 4 ? MP_OK : MP_EOPTION;
    case MP_OPT_MAX_MESSAGE:
        if (v->len != 4)
            return MP_EOPTION;
        /* Advertising less than every node must reassemble would be a lie. */
        return mp_get32(v->val) >= MP_MIN_MESSAGE_SUPPORT && mp_get32(v->val) <= MP_MAX_MESSAGE
                   ? MP_OK
                   : MP_ERANGE;
    case MP_OPT_PROBE_INTERVAL:
        if (v->len != 2)
            return MP_EOPTION;
        return mp_get16(v->val) != 0 ? MP_OK : MP_ERANGE;
    case MP_OPT_MINET_MAC:
        return v->len == 6 ? MP_OK : MP_EOPTION;
    case MP_OPT_ACK_SESSION:
        return v->len == 2 ? MP_OK : MP_EOPTION;
    case MP_OPT_PEER_EPOCH:
        return v->len == 4 ? MP_OK : MP_EOPTION;
    case MP_OPT_SECURITY:
        if (v->len != 1)
            return MP_EOPTION;
        return v->val[0] <= MP_SEC_TRANSITION ? MP_OK : MP_ERANGE;
    default:
        /* Unknown: critical ones reject the frame, the rest are carried unread. */
        return (v->type & MP_OPT_CRITICAL) ? MP_EOPTION : MP_OK;
    }
}

int mp_opts_check(const mp_opts *o, int deferred)
{
    if (o->n > MP_MAX_OPTIONS)
        return MP_EOPTION;
    for (unsigned i = 0; i < o->n; i++) {
        const mp_opt *v = &o->v[i];
        if (v->len > 0 && v->val == NULL)
            return MP_EINVAL;
        for (unsigned j = 0; j < i; j++)
            if (o->v[j].type == v->type)
                return MP_EOPTION; /* duplicates would make "first wins" a wire rule */
        int rc = mp_opt_check_one(v);
        if (rc != MP_OK)
            return rc;
    }
    /* The options parse could not read come after all those it could. */
    return deferred;
}

size_t mp_opts_size(const mp_opts *o)
{
    size_t n = 0;
    for (unsigned i = 0; i < o->n; i++)
        n += 2u + o->v[i].len;
    return n;
}

void mp_opts_write(const mp_opts *o, uint8_t *p)
{
    for (unsigned i = 0; i < o->n; i++) {
        p[0] = o->v[i].type;
        p[1] = o->v[i].len;
        if (o->v[i].len)
            mp_memcpy(p + 2, o->v[i].val, o->v[i].len);
        p += 2u + o->v[i].len;
    }
}

/* ---- DISCOVER: 0 node_id 4 domain 8 max_version 9 dflags 10 mtu 12 incarnation 16 opts */

static int discover_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    mp_discover *d = &f->u.discover;
    d->node_id = mp_get32(b);
    d->domain = mp_get32(b + 4);
    d->max_version = b[8];
    d->dflags = b[9];
    d->mtu = mp_get16(b + 10);
    d->incarnation = mp_get32(b + 12);
    *deferred = mp_opts_parse(b + 16, n - 16, &d->opts);
    return MP_OK;
}

static int discover_check(const mp_frame *f, int deferred)
{
    const mp_discover *d = &f->u.discover;
    if (d->dflags & ~MP_DFLAGS_DEFINED)
        return MP_ERESERVED;
    if (!mp_node_id_ok(d->node_id))
        return MP_ERANGE;
    if (d->max_version < MP_VERSION)
        return MP_ERANGE; /* may exceed ours: that is how a newer node says so */
    return mp_opts_check(&d->opts, deferred);
}

static int discover_size(const mp_frame *f, size_t *n)
{
    *n = 16 + mp_opts_size(&f->u.discover.opts);
    return MP_OK;
}

static void discover_write(const mp_frame *f, uint8_t *b)
{
    const mp_discover *d = &f->u.discover;
    mp_put32(b, d->node_id);
    mp_put32(b + 4, d->domain);
    b[8] = d->max_version;
    b[9] = d->dflags;
    mp_put16(b + 10, d->mtu);
    mp_put32(b + 12, d->incarnation);
    mp_opts_write(&d->opts, b + 16);
}

const mp_body_ops mp_ops_discover = {
    .min_len = MP_DISCOVER_MIN_LEN - MP_COMMON_HDR_LEN,
    .parse = discover_parse,
    .check = discover_check,
    .size = discover_size,
    .write = discover_write,
};

/* ---- LINK_RESET / LINK_ACTIVATE: 0 node_id 4 peer_id 8 incarnation 12 session
 * 14 next_seq 16 tolerance_ms 18 window 20 mtu 22 priority 23 lflags 24 opts ---------- */

static int link_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    mp_link *l = &f->u.link;
    l->node_id = mp_get32(b);
    l->peer_id = mp_get32(b + 4);
    l->incarnation = mp_get32(b + 8);
    l->session = mp_get16(b + 12);
    l->next_seq = mp_get16(b + 14);
    l->tolerance_ms = mp_get16(b + 16);
    l->window = mp_get16(b + 18);
    l->mtu = mp_get16(b + 20);
    l->priority = b[22];
    l->lflags = b[23];
    *deferred = mp_opts_parse(b + 24, n - 24, &l->opts);
    return MP_OK;
}

static int link_check(const mp_frame *f, int deferred)
{
    const mp_link *l = &f->u.link;
    if (l->lflags & ~MP_LFLAGS_DEFINED)
        return MP_ERESERVED;
    if (!mp_node_id_ok(l->node_id) || !mp_node_id_ok(l->peer_id))
        return MP_ERANGE;
    if (l->tolerance_ms < MP_TOLERANCE_MIN_MS || l->tolerance_ms > MP_TOLERANCE_MAX_MS)
        return MP_ERANGE;
    /* The cap keeps a window well inside half the 16-bit seq space, where serial
     * arithmetic stops telling old from new. */
    if (l->window < MP_WINDOW_MIN || l->window > MP_WINDOW_MAX)
        return MP_ERANGE;
    if (l->priority > MP_PRIORITY_MAX)
        return MP_ERANGE;
    return mp_opts_check(&l->opts, deferred);
}

static int link_size(const mp_frame *f, size_t *n)
{
    *n = 24 + mp_opts_size(&f->u.link.opts);
    return MP_OK;
}

static void link_write(const mp_frame *f, uint8_t *b)
{
    const mp_link *l = &f->u.link;
    mp_put32(b, l->node_id);
    mp_put32(b + 4, l->peer_id);
    mp_put32(b + 8, l->incarnation);
    mp_put16(b + 12, l->session);
    mp_put16(b + 14, l->next_seq);
    mp_put16(b + 16, l->tolerance_ms);
    mp_put16(b + 18, l->window);
    mp_put16(b + 20, l->mtu);
    b[22] = l->priority;
    b[23] = l->lflags;
    mp_opts_write(&l->opts, b + 24);
}

const mp_body_ops mp_ops_link = {
    .min_len = MP_LINK_MIN_LEN - MP_COMMON_HDR_LEN,
    .parse = link_parse,
    .check = link_check,
    .size = link_size,
    .write = link_write,
};

/* ---- LINK_STATE: 0 session 2 ack 4 next_seq 6 sflags 7 gap_count 8 timestamp 12 echo
 * 16 gaps (start16 end16) x gap_count ------------------------------------------------ */

static int state_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    (void)deferred;
    mp_link_state *s = &f->u.state;
    s->session = mp_get16(b);
    s->ack = mp_get16(b + 2);
    s->next_seq = mp_get16(b + 4);
    s->sflags = b[6];
    s->gap_count = b[7];
    s->timestamp = mp_get32(b + 8);
    s->echo = mp_get32(b + 12);
    /* Fixed-size items: the count fully determines the length (an MP_ELENGTH matter);
     * a count above the maximum is a range error for check. */
    if (n != 16u + 4u * s->gap_count)
        return MP_ELENGTH;
    for (unsigned i = 0; i < s->gap_count && i < MP_MAX_GAPS; i++) {
        s->gaps[i].start = mp_get16(b + 16 + 4 * i);
        s->gaps[i].end = mp_get16(b + 18 + 4 * i);
    }
    return MP_OK;
}

static int state_check(const mp_frame *f, int deferred)
{
    (void)deferred;
    const mp_link_state *s = &f->u.state;
    if (s->sflags & ~MP_SFLAGS_DEFINED)
        return MP_ERESERVED;
    if (s->gap_count > MP_MAX_GAPS)
        return MP_ERANGE;
    /* Inclusive blocks; end may wrap through 0 but is never before start. */
    for (unsigned i = 0; i < s->gap_count; i++)
        if (mp_seq16_lt(s->gaps[i].end, s->gaps[i].start))
            return MP_ERANGE;
    return MP_OK;
}

static int state_size(const mp_frame *f, size_t *n)
{
    *n = 16u + 4u * f->u.state.gap_count;
    return MP_OK;
}

static void state_write(const mp_frame *f, uint8_t *b)
{
    const mp_link_state *s = &f->u.state;
    mp_put16(b, s->session);
    mp_put16(b + 2, s->ack);
    mp_put16(b + 4, s->next_seq);
    b[6] = s->sflags;
    b[7] = s->gap_count;
    mp_put32(b + 8, s->timestamp);
    mp_put32(b + 12, s->echo);
    for (unsigned i = 0; i < s->gap_count; i++) {
        mp_put16(b + 16 + 4 * i, s->gaps[i].start);
        mp_put16(b + 18 + 4 * i, s->gaps[i].end);
    }
}

const mp_body_ops mp_ops_link_state = {
    .min_len = MP_LINK_STATE_MIN_LEN - MP_COMMON_HDR_LEN,
    .parse = state_parse,
    .check = state_check,
    .size = state_size,
    .write = state_write,
};

/* ---- SECURED: 0 key_id 1 reserved(8) 2 reserved(16) 4 counter(64) 12 ciphertext, tag -- */

static int secured_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    (void)deferred;
    mp_secured *s = &f->u.secured;
    s->key_id = b[0];
    s->counter = mp_get64(b + 4);
    s->ciphertext = (mp_bytes){b + 12, n - 12 - MP_SECURED_TAG_LEN};
    s->tag = b + n - MP_SECURED_TAG_LEN;
    return MP_OK; /* aad is set by mp_decode, which sees the whole frame */
}

static int secured_reserved(const uint8_t *b, size_t n)
{
    (void)n;
    return mp_all_zero(b + 1, 3) ? MP_OK : MP_ERESERVED;
}

static int secured_check(const mp_frame *f, int deferred)
{
    (void)deferred;
    const mp_secured *s = &f->u.secured;
    if (!mp_bytes_ok(&s->ciphertext) || s->tag == NULL)
        return MP_EINVAL;
    /* The plaintext is a whole frame, so at least a common header. */
    if (s->ciphertext.len < MP_COMMON_HDR_LEN)
        return MP_ELENGTH;
    return MP_OK;
}

static int secured_size(const mp_frame *f, size_t *n)
{
    const mp_secured *s = &f->u.secured;
    if (s->ciphertext.len > MP_MAX_FRAME)
        return MP_ELENGTH;
    *n = 12 + s->ciphertext.len + MP_SECURED_TAG_LEN;
    return MP_OK;
}

static void secured_write(const mp_frame *f, uint8_t *b)
{
    const mp_secured *s = &f->u.secured;
    b[0] = s->key_id;
    mp_memset(b + 1, 0, 3);
    mp_put64(b + 4, s->counter);
    mp_memcpy(b + 12, s->ciphertext.ptr, s->ciphertext.len);
    mp_memcpy(b + 12 + s->ciphertext.len, s->tag, MP_SECURED_TAG_LEN);
}

const mp_body_ops mp_ops_secured = {
    .min_len = MP_SECURED_MIN_LEN - MP_COMMON_HDR_LEN,
    .parse = secured_parse,
    .reserved = secured_reserved,
    .check = secured_check,
    .size = secured_size,
    .write = secured_write,
};

/* ---- KEY_EXCHANGE (fixed): 0 phase 1 key_id 2 suite 4 node_id 8 exchange_id
 * 12 public_key(32) 44 random(16) 60 mac(32) ---------------------------------------- */

static int kx_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    (void)n;
    (void)deferred;
    mp_key_exchange *k = &f->u.kx;
    k->phase = b[0];
    k->key_id = b[1];
    k->suite = mp_get16(b + 2);
    k->node_id = mp_get32(b + 4);
    k->exchange_id = mp_get32(b + 8);
    mp_memcpy(k->public_key, b + 12, sizeof k->public_key);
    mp_memcpy(k->random, b + 44, sizeof k->random);
    mp_memcpy(k->mac, b + 60, sizeof k->mac);
    return MP_OK;
}

static int kx_check(const mp_frame *f, int deferred)
{
    (void)deferred;
    const mp_key_exchange *k = &f->u.kx;
    if (k->phase < MP_KX_INIT || k->phase > MP_KX_CONFIRM)
        return MP_ERANGE;
    if (k->suite < MP_SUITE_AES256GCM || k->suite > MP_SUITE_CHACHA20POLY1305)
        return MP_ERANGE;
    if (!mp_node_id_ok(k->node_id))
        return MP_ERANGE;
    return MP_OK;
}

static int kx_size(const mp_frame *f, size_t *n)
{
    (void)f;
    *n = MP_KEY_EXCHANGE_LEN - MP_COMMON_HDR_LEN;
    return MP_OK;
}

static void kx_write(const mp_frame *f, uint8_t *b)
{
    const mp_key_exchange *k = &f->u.kx;
    b[0] = k->phase;
    b[1] = k->key_id;
    mp_put16(b + 2, k->suite);
    mp_put32(b + 4, k->node_id);
    mp_put32(b + 8, k->exchange_id);
    mp_memcpy(b + 12, k->public_key, sizeof k->public_key);
    mp_memcpy(b + 44, k->random, sizeof k->random);
    mp_memcpy(b + 60, k->mac, sizeof k->mac);
}

const mp_body_ops mp_ops_key_exchange = {
    .min_len = MP_KEY_EXCHANGE_LEN - MP_COMMON_HDR_LEN,
    .fixed = true,
    .parse = kx_parse,
    .check = kx_check,
    .size = kx_size,
    .write = kx_write,
};
