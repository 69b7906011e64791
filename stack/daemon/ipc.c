/*
 * ipc.c — the msgrd client protocol codec.  No OS calls, no allocation: the request
 * decoder is what a hostile local client reaches first, and it is fuzzed (fuzz/fuzz_ipc.c).
 */
#include "ipc.h"

#include <string.h>

const char *mipc_strerror(int err)
{
    switch (err) {
    case MIPC_OK: return "success";
    case MIPC_ESHORT: return "message too short";
    case MIPC_ELEN: return "length field disagrees with message";
    case MIPC_EOP: return "unknown op";
    case MIPC_EFLAGS: return "reserved flags set";
    case MIPC_ETRAIL: return "trailing bytes";
    case MIPC_ESTR: return "bad string";
    case MIPC_ECOUNT: return "too many items";
    default: return "unknown ipc error";
    }
}

static uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint16_t mipc_msg_op(const uint8_t *buf, size_t len) { return len >= MIPC_HDR_LEN ? ld16(buf + 4) : 0; }
uint32_t mipc_msg_id(const uint8_t *buf, size_t len) { return len >= MIPC_HDR_LEN ? ld32(buf + 8) : 0; }

/* ---- Reader ---------------------------------------------------------------------------- */
void mipc_r_init(mipc_r *r, const uint8_t *buf, size_t len)
{
    r->b = buf;
    r->len = len;
    r->off = MIPC_HDR_LEN;
    r->err = len < MIPC_HDR_LEN;
}

static const uint8_t *take(mipc_r *r, size_t n)
{
    if (r->err || r->len - r->off < n) {
        r->err = true;
        return NULL;
    }
    const uint8_t *p = r->b + r->off;
    r->off += n;
    return p;
}

uint8_t mipc_get8(mipc_r *r)
{
    const uint8_t *p = take(r, 1);
    return p ? p[0] : 0;
}
uint16_t mipc_get16(mipc_r *r)
{
    const uint8_t *p = take(r, 2);
    return p ? ld16(p) : 0;
}
uint32_t mipc_get32(mipc_r *r)
{
    const uint8_t *p = take(r, 4);
    return p ? ld32(p) : 0;
}
mipc_str mipc_getstr(mipc_r *r)
{
    mipc_str s = {0};
    uint8_t n = mipc_get8(r);
    const uint8_t *p = take(r, n);
    if (p) {
        s.p = (const char *)p;
        s.len = n;
    }
    return s;
}

/* ---- Writer ---------------------------------------------------------------------------- */
static void put(mipc_w *w, const void *p, size_t n)
{
    if (w->err || w->cap - w->len < n) {
        w->err = true;
        return;
    }
    memcpy(w->b + w->len, p, n);
    w->len += n;
}

void mipc_put8(mipc_w *w, uint8_t v) { put(w, &v, 1); }
void mipc_put16(mipc_w *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(w, b, 2);
}
void mipc_put32(mipc_w *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(w, b, 4);
}
void mipc_putstr(mipc_w *w, const char *s, size_t len)
{
    if (len > 255) {
        w->err = true;
        return;
    }
    mipc_put8(w, (uint8_t)len);
    put(w, s, len);
}
void mipc_putraw(mipc_w *w, const void *p, size_t len) { put(w, p, len); }

void mipc_w_init(mipc_w *w, uint8_t *buf, size_t cap, uint16_t op, uint32_t id)
{
    w->b = buf;
    w->cap = cap;
    w->len = 0;
    w->err = false;
    mipc_put32(w, 0);
    mipc_put16(w, op);
    mipc_put16(w, 0);
    mipc_put32(w, id);
}

size_t mipc_w_end(mipc_w *w)
{
    if (w->err || w->len < MIPC_HDR_LEN)
        return 0;
    uint32_t n = (uint32_t)w->len;
    w->b[0] = (uint8_t)n, w->b[1] = (uint8_t)(n >> 8), w->b[2] = (uint8_t)(n >> 16),
    w->b[3] = (uint8_t)(n >> 24);
    return w->len;
}

/* ---- Request decoder ------------------------------------------------------------------- */
static int need_str(mipc_r *r, mipc_str *s)
{
    *s = mipc_getstr(r);
    return r->err ? MIPC_ESHORT : s->len == 0 ? MIPC_ESTR : 0;
}

int mipc_decode_request(const uint8_t *buf, size_t len, mipc_req *out)
{
    if (!buf || !out || len < MIPC_HDR_LEN)
        return MIPC_ESHORT;
    if (ld32(buf) != len)
        return MIPC_ELEN;
    memset(out, 0, sizeof *out);
    out->op = ld16(buf + 4);
    if (ld16(buf + 6) != 0)
        return MIPC_EFLAGS;
    out->id = ld32(buf + 8);
    mipc_r r;
    mipc_r_init(&r, buf, len);
    int e;
    switch (out->op) {
    case MIPC_HELLO:
        out->u.hello.version = mipc_get32(&r);
        out->u.hello.mask = mipc_get32(&r);
        break;
    case MIPC_DEV_ADD:
        out->u.dev.dtype = mipc_get16(&r);
        out->u.dev.rank = mipc_get8(&r);
        out->u.dev.flags = mipc_get8(&r);
        if (!r.err && (out->u.dev.flags & ~MIPC_DF_ALL))
            return MIPC_EFLAGS;
        if ((e = need_str(&r, &out->u.dev.name)) < 0)
            return e;
        out->u.dev.nprops = mipc_get8(&r);
        if (out->u.dev.nprops > MIPC_MAX_PROPS)
            return MIPC_ECOUNT;
        for (unsigned i = 0; i < out->u.dev.nprops; i++) {
            if ((e = need_str(&r, &out->u.dev.key[i])) < 0)
                return e;
            out->u.dev.val[i] = mipc_getstr(&r); /* a value may be empty */
        }
        break;
    case MIPC_DEV_DEL: case MIPC_PUBLISH: case MIPC_WITHDRAW: case MIPC_ACCEPT: case MIPC_CLOSE:
        out->u.handle = mipc_get32(&r);
        break;
    case MIPC_OPEN:
        out->u.open.dev = mipc_get32(&r);
        out->u.open.kind = mipc_get8(&r);
        if (!r.err && out->u.open.kind > MIPC_K_ANYCAST)
            return MIPC_EFLAGS;
        if ((e = need_str(&r, &out->u.open.name)) < 0)
            return e;
        break;
    case MIPC_SEND:
        out->u.send.path = mipc_get32(&r);
        if (r.err)
            return MIPC_ESHORT;
        out->u.send.data = buf + r.off;
        out->u.send.len = len - r.off;
        if (out->u.send.len > MIPC_MAX_PAYLOAD)
            return MIPC_ELEN;
        r.off = len;
        break;
    case MIPC_CTL:
        out->u.ctl.json = mipc_get8(&r);
        out->u.ctl.argc = mipc_get8(&r);
        if (!r.err && (out->u.ctl.json > 1))
            return MIPC_EFLAGS;
        if (out->u.ctl.argc > MIPC_MAX_ARGS)
            return MIPC_ECOUNT;
        for (unsigned i = 0; i < out->u.ctl.argc; i++)
            if ((e = need_str(&r, &out->u.ctl.arg[i])) < 0)
                return e;
        break;
    default:
        return MIPC_EOP;
    }
    if (r.err)
        return MIPC_ESHORT;
    if (r.off != len)
        return MIPC_ETRAIL;
    return MIPC_OK;
}
