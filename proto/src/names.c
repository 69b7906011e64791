/*
 * names.c — logical-device names, patterns, properties; the name record and the
 * naming bodies (NAME_PUBLISH, NAME_WITHDRAW, NAME_SYNC).
 *
 * Name: 1..127 bytes of '/'-separated components, each 1..63 of [A-Za-z0-9._-], not
 * "." or ".." (names may be shown as paths; those two would read as navigation).
 * Pattern: the same, plus '*' (any run inside one component), '?' (one character) and
 * '**' as a whole component (zero or more components).
 */
#include "mp_internal.h"

static bool mp_name_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool mp_component_ok(const uint8_t *c, size_t n)
{
    if (n < 1 || n > MP_MAX_COMPONENT)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!mp_name_char(c[i]))
            return false;
    return !(n == 1 && c[0] == '.') && !(n == 2 && c[0] == '.' && c[1] == '.');
}

/* Shared by names and patterns: walk components, letting `wild` widen the charset. */
static bool mp_components_ok(const uint8_t *s, size_t len, bool wild)
{
    if (s == NULL || len < 1 || len > MP_MAX_NAME)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '/')
            continue;
        const uint8_t *c = s + start;
        size_t n = i - start;
        if (!wild) {
            if (!mp_component_ok(c, n))
                return false;
        } else {
            if (n < 1 || n > MP_MAX_COMPONENT)
                return false;
            if (n == 2 && c[0] == '*' && c[1] == '*')
                goto next; /* '**' only as a whole component */
            for (size_t k = 0; k < n; k++) {
                if (c[k] == '*' && k + 1 < n && c[k + 1] == '*')
                    return false;
                if (!mp_name_char(c[k]) && c[k] != '*' && c[k] != '?')
                    return false;
            }
            if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                return false;
        }
    next:
        start = i + 1;
    }
    return true;
}

int mp_name_check(const uint8_t *name, size_t len)
{
    return mp_components_ok(name, len, false) ? MP_OK : MP_ENAME;
}

int mp_pattern_check(const uint8_t *pat, size_t len)
{
    return mp_components_ok(pat, len, true) ? MP_OK : MP_EPATTERN;
}

/* One component against one pattern component ('*', '?').  Iterative with a single
 * backtrack point: '*' only ever needs to retry from its last position, so this is
 * linear-times-small and cannot blow a small stack on hostile input. */
static bool mp_comp_match(const uint8_t *p, size_t pn, const uint8_t *s, size_t sn)
{
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;
    while (si < sn) {
        if (pi < pn && (p[pi] == '?' || p[pi] == s[si])) {
            pi++;
            si++;
        } else if (pi < pn && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

/* Length of the component starting at s[i] (up to the next '/' or the end). */
static size_t mp_comp_len(const uint8_t *s, size_t len, size_t i)
{
    size_t j = i;
    while (j < len && s[j] != '/')
        j++;
    return j - i;
}

bool mp_pattern_match(const uint8_t *pat, size_t plen, const uint8_t *name, size_t nlen)
{
    if (mp_pattern_check(pat, plen) != MP_OK || mp_name_check(name, nlen) != MP_OK)
        return false;
    /* The same single-backtrack scheme one level up: components are the units and
     * '**' is the star.  pi/ni index the start of the current component, or len+1 once
     * the string is exhausted, so a trailing '**' also matches zero components. */
    size_t pi = 0, ni = 0, star = (size_t)-1, mark = 0;
    const size_t pend = plen + 1, nend = nlen + 1;
    for (;;) {
        size_t pc = pi < pend ? mp_comp_len(pat, plen, pi) : 0;
        bool pglob = pi < pend && pc == 2 && pat[pi] == '*' && pat[pi + 1] == '*';
        if (ni >= nend) {
            /* Name exhausted: the rest of the pattern must be all '**'. */
            while (pi < pend && mp_comp_len(pat, plen, pi) == 2 && pat[pi] == '*' &&
                   pat[pi + 1] == '*')
                pi += 3;
            return pi >= pend;
        }
        size_t nc = mp_comp_len(name, nlen, ni);
        if (pglob) {
            star = pi;
            mark = ni;
            pi += pc + 1;
        } else if (pi < pend && mp_comp_match(pat + pi, pc, name + ni, nc)) {
            pi += pc + 1;
            ni += nc + 1;
        } else if (star != (size_t)-1) {
            /* Let the last '**' swallow one more component and retry after it. */
            mark += mp_comp_len(name, nlen, mark) + 1;
            ni = mark;
            pi = star + 3;
        } else {
            return false;
        }
    }
}

static bool mp_key_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

int mp_prop_check(const mp_prop *p)
{
    if (p == NULL || p->key == NULL || p->key_len < 1 || p->key_len > MP_MAX_PROP_KEY)
        return MP_EPROP;
    for (unsigned i = 0; i < p->key_len; i++)
        if (!mp_key_char(p->key[i]))
            return MP_EPROP;
    if (p->val_len > 0 && p->val == NULL)
        return MP_EPROP;
    /* No NUL in values, so the C API can hand them out as strings. */
    for (unsigned i = 0; i < p->val_len; i++)
        if (p->val[i] == 0)
            return MP_EPROP;
    return MP_OK;
}

/* ---- Name record: 0 device_id 4 dtype 6 nflags 7 rank 8 generation 12 name_len
 * 13 name, prop_count, props (key_len key val_len val) ----------------------------- */

int mp_name_rec_parse(const uint8_t *b, size_t n, mp_name_rec *r, int *deferred)
{
    if (n < MP_NAME_REC_MIN_LEN)
        return MP_ELENGTH;
    r->device_id = mp_get32(b);
    r->dtype = mp_get16(b + 4);
    r->nflags = b[6];
    r->rank = b[7];
    r->generation = mp_get32(b + 8);
    size_t nl = b[12];
    if (n - 13 < nl + 1) /* the name and the prop_count byte */
        return MP_ELENGTH;
    r->name = (mp_bytes){b + 13, nl};
    size_t off = 13 + nl;
    r->prop_count = b[off++];
    if (r->prop_count > MP_MAX_PROPS)
        return MP_OK; /* check reports MP_ERANGE, before any property */
    /* Variable-size items: their count can only be checked by walking them, which
     * is a field-step error (MP_ECOUNT), not a length one. */
    for (unsigned i = 0; i < r->prop_count; i++) {
        mp_prop *p = &r->props[i];
        if (n - off < 1 || n - off - 1 < b[off]) {
            *deferred = MP_ECOUNT;
            return MP_OK;
        }
        p->key_len = b[off];
        p->key = b + off + 1;
        off += 1u + p->key_len;
        if (n - off < 1 || n - off - 1 < b[off]) {
            *deferred = MP_ECOUNT;
            return MP_OK;
        }
        p->val_len = b[off];
        p->val = b + off + 1;
        off += 1u + p->val_len;
    }
    if (off != n)
        *deferred = MP_ECOUNT; /* bytes left that prop_count does not account for */
    return MP_OK;
}

int mp_name_rec_reserved(const uint8_t *b)
{
    return (b[6] & ~MP_NFLAGS_DEFINED) ? MP_ERESERVED : MP_OK;
}

int mp_name_rec_check(const mp_name_rec *r, int deferred)
{
    if (!mp_bytes_ok(&r->name))
        return MP_EINVAL;
    if (r->nflags & ~MP_NFLAGS_DEFINED)
        return MP_ERESERVED;
    if (mp_name_check(r->name.ptr, r->name.len) != MP_OK)
        return MP_ENAME;
    if (r->prop_count > MP_MAX_PROPS)
        return MP_ERANGE;
    if (deferred != MP_OK)
        return deferred;
    for (unsigned i = 0; i < r->prop_count; i++) {
        if (mp_prop_check(&r->props[i]) != MP_OK)
            return MP_EPROP;
        /* A key twice would make lookups order-dependent across implementations. */
        for (unsigned j = 0; j < i; j++)
            if (r->props[j].key_len == r->props[i].key_len &&
                mp_memcmp(r->props[j].key, r->props[i].key, r->props[i].key_len) == 0)
                return MP_EPROP;
    }
    return MP_OK;
}

int mp_name_rec_decode(const uint8_t *b, size_t n, mp_name_rec *r)
{
    int deferred = MP_OK;
    int rc = mp_name_rec_parse(b, n, r, &deferred);
    if (rc == MP_OK)
        rc = mp_name_rec_reserved(b);
    if (rc == MP_OK)
        rc = mp_name_rec_check(r, deferred);
    return rc;
}

size_t mp_name_rec_size(const mp_name_rec *r)
{
    size_t n = 13 + r->name.len + 1;
    for (unsigned i = 0; i < r->prop_count; i++)
        n += 2u + r->props[i].key_len + r->props[i].val_len;
    return n;
}

void mp_name_rec_write(const mp_name_rec *r, uint8_t *b)
{
    mp_put32(b, r->device_id);
    mp_put16(b + 4, r->dtype);
    b[6] = r->nflags;
    b[7] = r->rank;
    mp_put32(b + 8, r->generation);
    b[12] = (uint8_t)r->name.len;
    mp_memcpy(b + 13, r->name.ptr, r->name.len);
    size_t off = 13 + r->name.len;
    b[off++] = r->prop_count;
    for (unsigned i = 0; i < r->prop_count; i++) {
        const mp_prop *p = &r->props[i];
        b[off++] = p->key_len;
        mp_memcpy(b + off, p->key, p->key_len);
        off += p->key_len;
        b[off++] = p->val_len;
        if (p->val_len)
            mp_memcpy(b + off, p->val, p->val_len);
        off += p->val_len;
    }
}

/* ---- NAME_PUBLISH: one name record ------------------------------------------------- */

static int publish_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    return mp_name_rec_parse(b, n, &f->u.publish, deferred);
}

static int publish_reserved(const uint8_t *b, size_t n)
{
    (void)n;
    return mp_name_rec_reserved(b);
}

static int publish_check(const mp_frame *f, int deferred)
{
    return mp_name_rec_check(&f->u.publish, deferred);
}

static int publish_size(const mp_frame *f, size_t *n)
{
    *n = mp_name_rec_size(&f->u.publish);
    return MP_OK;
}

static void publish_write(const mp_frame *f, uint8_t *b)
{
    mp_name_rec_write(&f->u.publish, b);
}

const mp_body_ops mp_ops_name_publish = {
    .min_len = MP_NAME_REC_MIN_LEN,
    .parse = publish_parse,
    .reserved = publish_reserved,
    .check = publish_check,
    .size = publish_size,
    .write = publish_write,
};

/* ---- NAME_WITHDRAW: 0 device_id 4 generation 8 name_len 9 name, nothing after ------- */

static int withdraw_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    (void)deferred;
    mp_name_withdraw *w = &f->u.withdraw;
    w->device_id = mp_get32(b);
    w->generation = mp_get32(b + 4);
    if (n != 9u + b[8])
        return MP_ELENGTH;
    w->name = (mp_bytes){b + 9, b[8]};
    return MP_OK;
}

static int withdraw_check(const mp_frame *f, int deferred)
{
    (void)deferred;
    const mp_name_withdraw *w = &f->u.withdraw;
    if (!mp_bytes_ok(&w->name))
        return MP_EINVAL;
    return mp_name_check(w->name.ptr, w->name.len);
}

static int withdraw_size(const mp_frame *f, size_t *n)
{
    *n = 9 + f->u.withdraw.name.len;
    return MP_OK;
}

static void withdraw_write(const mp_frame *f, uint8_t *b)
{
    const mp_name_withdraw *w = &f->u.withdraw;
    mp_put32(b, w->device_id);
    mp_put32(b + 4, w->generation);
    b[8] = (uint8_t)w->name.len;
    mp_memcpy(b + 9, w->name.ptr, w->name.len);
}

const mp_body_ops mp_ops_name_withdraw = {
    .min_len = MP_NAME_WITHDRAW_MIN_LEN - MP_SEQ_HDR_LEN,
    .parse = withdraw_parse,
    .check = withdraw_check,
    .size = withdraw_size,
    .write = withdraw_write,
};

/* ---- NAME_SYNC: 0 yflags 1 reserved(8) 2 count(16) 4 records (rec_len16 record) ------ */

/* Walk and fully validate `count` records in p[0..n), in wire order. */
static int mp_sync_walk(const uint8_t *p, size_t n, uint16_t count)
{
    mp_name_rec r;
    size_t off = 0;
    for (unsigned i = 0; i < count; i++) {
        if (n - off < 2)
            return MP_ECOUNT; /* count promises more records than the bytes hold */
        size_t rl = mp_get16(p + off);
        if (rl < MP_NAME_REC_MIN_LEN)
            return MP_ELENGTH;
        if (n - off - 2 < rl)
            return MP_ECOUNT;
        int rc = mp_name_rec_decode(p + off + 2, rl, &r);
        if (rc != MP_OK)
            return rc;
        off += 2 + rl;
    }
    return off == n ? MP_OK : MP_ECOUNT;
}

static int sync_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    (void)deferred;
    mp_name_sync *s = &f->u.sync;
    s->yflags = b[0];
    s->count = mp_get16(b + 2);
    s->records = (mp_bytes){b + 4, n - 4};
    s->enc_recs = NULL;
    return MP_OK; /* the records are walked by check, at their wire position */
}

static int sync_reserved(const uint8_t *b, size_t n)
{
    (void)n;
    return b[1] != 0 ? MP_ERESERVED : MP_OK;
}

static int sync_check(const mp_frame *f, int deferred)
{
    (void)deferred;
    const mp_name_sync *s = &f->u.sync;
    if (s->yflags & ~MP_YFLAGS_DEFINED)
        return MP_ERESERVED;
    /* An empty chunk only makes sense as the end of a sync (or a whole empty one). */
    if (s->count == 0 && !(s->yflags & MP_YFLAG_LAST))
        return MP_ERANGE;
    if (s->enc_recs != NULL) {
        for (unsigned i = 0; i < s->count; i++) {
            int rc = mp_name_rec_check(&s->enc_recs[i], MP_OK);
            if (rc != MP_OK)
                return rc;
            if (mp_name_rec_size(&s->enc_recs[i]) > 0xFFFFu)
                return MP_ELENGTH;
        }
        return MP_OK;
    }
    /* Decoding, or encoding a decoded frame again from its records view. */
    if (!mp_bytes_ok(&s->records))
        return MP_EINVAL;
    return mp_sync_walk(s->records.ptr, s->records.len, s->count);
}

static int sync_size(const mp_frame *f, size_t *n)
{
    const mp_name_sync *s = &f->u.sync;
    if (s->enc_recs == NULL) {
        if (s->records.len > MP_MAX_FRAME)
            return MP_ELENGTH;
        *n = 4 + s->records.len;
        return MP_OK;
    }
    *n = 4;
    for (unsigned i = 0; i < s->count; i++) {
        *n += 2 + mp_name_rec_size(&s->enc_recs[i]);
        if (*n > MP_MAX_FRAME)
            return MP_ELENGTH;
    }
    return MP_OK;
}

static void sync_write(const mp_frame *f, uint8_t *b)
{
    const mp_name_sync *s = &f->u.sync;
    b[0] = s->yflags;
    b[1] = 0;
    mp_put16(b + 2, s->count);
    if (s->enc_recs == NULL) {
        if (s->records.len)
            mp_memcpy(b + 4, s->records.ptr, s->records.len);
        return;
    }
    size_t off = 4;
    for (unsigned i = 0; i < s->count; i++) {
        size_t rl = mp_name_rec_size(&s->enc_recs[i]);
        mp_put16(b + off, (uint16_t)rl);
        mp_name_rec_write(&s->enc_recs[i], b + off + 2);
        off += 2 + rl;
    }
}

const mp_body_ops mp_ops_name_sync = {
    .min_len = MP_NAME_SYNC_MIN_LEN - MP_SEQ_HDR_LEN,
    .parse = sync_parse,
    .reserved = sync_reserved,
    .check = sync_check,
    .size = sync_size,
    .write = sync_write,
};

int mp_name_sync_next(const mp_name_sync *s, size_t *pos, mp_name_rec *out)
{
    if (s == NULL || pos == NULL || out == NULL || !mp_bytes_ok(&s->records))
        return MP_EINVAL;
    size_t n = s->records.len, off = *pos;
    if (off == n)
        return 0;
    if (off > n || n - off < 2)
        return MP_ECOUNT;
    size_t rl = mp_get16(s->records.ptr + off);
    if (rl < MP_NAME_REC_MIN_LEN)
        return MP_ELENGTH;
    if (n - off - 2 < rl)
        return MP_ECOUNT;
    int rc = mp_name_rec_decode(s->records.ptr + off + 2, rl, out);
    if (rc != MP_OK)
        return rc;
    *pos = off + 2 + rl;
    return 1;
}
