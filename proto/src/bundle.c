/*
 * bundle.c — BUNDLE: several small messages in one sequenced frame.
 *
 * Member: ver|flags(8) type(8) length(16) chan(32) cseq(32) body; `length` counts
 * the member's 12-byte inner header and its body, like a frame's length does.  A
 * bundle has no member count on the wire: members run to the end of the frame.
 */
#include "mp_internal.h"

/* Length of the member at p[0..n): MP_ELENGTH if it is shorter than its inner header
 * or runs past the bundle.  Structure only: this is the length step of the bundle. */
static int member_len(const uint8_t *p, size_t n, size_t *mlen)
{
    if (n < MP_INNER_HDR_LEN)
        return MP_ELENGTH;
    size_t len = mp_get16(p + 2);
    if (len < MP_INNER_HDR_LEN || len > n)
        return MP_ELENGTH;
    *mlen = len;
    return MP_OK;
}

/* Decode the member at p[0..n) fully into out, with a frame's own precedence. */
static int member_decode(const uint8_t *p, size_t n, size_t *mlen, mp_frame *out)
{
    int rc = member_len(p, n, mlen);
    if (rc != MP_OK)
        return rc;
    if ((p[0] >> 4) != MP_VERSION)
        return MP_EVERSION;
    if (!mp_type_is_message(p[1]))
        return MP_ETYPE; /* no FRAGMENT or BUNDLE inside, and nothing unassigned */
    mp_memset(out, 0, sizeof *out);
    out->hdr.version = MP_VERSION;
    out->hdr.flags = p[0] & MP_FLAGS_MASK;
    out->hdr.type = p[1];
    out->hdr.length = (uint16_t)*mlen;
    out->hdr.chan = mp_get32(p + 4);
    out->hdr.cseq = mp_get32(p + 8);
    return mp_body_run(mp_body_ops_for(out->hdr.type), p + MP_INNER_HDR_LEN,
                       *mlen - MP_INNER_HDR_LEN, out);
}

static int bundle_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    (void)deferred;
    size_t off = 0, ml;
    unsigned count = 0;
    while (off < n) {
        int rc = member_len(b + off, n - off, &ml);
        if (rc != MP_OK)
            return rc;
        off += ml;
        count++;
    }
    f->u.bundle.count = (uint16_t)count; /* <= 65535 / 12 members */
    f->u.bundle.members = (mp_bytes){b, n};
    return MP_OK;
}

static int bundle_check(const mp_frame *f, int deferred)
{
    (void)deferred;
    const mp_bundle *bu = &f->u.bundle;
    if (!mp_bytes_ok(&bu->members))
        return MP_EINVAL;
    if (bu->members.len < MP_INNER_HDR_LEN)
        return MP_ELENGTH; /* an empty bundle would only waste a sequence number */
    mp_frame m;
    size_t off = 0, ml;
    while (off < bu->members.len) {
        int rc = member_decode(bu->members.ptr + off, bu->members.len - off, &ml, &m);
        if (rc != MP_OK)
            return rc;
        off += ml;
    }
    return MP_OK;
}

static int bundle_size(const mp_frame *f, size_t *n)
{
    *n = f->u.bundle.members.len;
    return MP_OK;
}

static void bundle_write(const mp_frame *f, uint8_t *b)
{
    mp_memcpy(b, f->u.bundle.members.ptr, f->u.bundle.members.len);
}

const mp_body_ops mp_ops_bundle = {
    .min_len = MP_INNER_HDR_LEN,
    .parse = bundle_parse,
    .check = bundle_check,
    .size = bundle_size,
    .write = bundle_write,
};

int mp_bundle_next(const mp_bundle *b, size_t *pos, mp_frame *out)
{
    if (b == NULL || pos == NULL || out == NULL || !mp_bytes_ok(&b->members))
        return MP_EINVAL;
    if (*pos == b->members.len)
        return 0;
    if (*pos > b->members.len)
        return MP_EINVAL;
    size_t ml;
    int rc = member_decode(b->members.ptr + *pos, b->members.len - *pos, &ml, out);
    if (rc != MP_OK)
        return rc;
    *pos += ml;
    return 1;
}

int mp_bundle_append(uint8_t *buf, size_t cap, size_t *used, const mp_frame *m)
{
    if (buf == NULL || used == NULL || m == NULL || *used > cap)
        return MP_EINVAL;
    if (!mp_type_is_message(m->hdr.type))
        return MP_ETYPE;
    if (m->hdr.flags & ~MP_FLAGS_MASK)
        return MP_EINVAL;
    const mp_body_ops *ops = mp_body_ops_for(m->hdr.type);
    int rc = mp_chan_check(m);
    if (rc == MP_OK)
        rc = ops->check(m, MP_OK);
    size_t n = 0;
    if (rc == MP_OK)
        rc = ops->size(m, &n);
    if (rc != MP_OK)
        return rc;
    if (n < ops->min_len || (ops->fixed && n != ops->min_len))
        return MP_ELENGTH;
    size_t ml = MP_INNER_HDR_LEN + n;
    /* The members must also fit one frame behind the 16-byte sequenced header. */
    if (ml > cap - *used || *used + ml > MP_MAX_FRAME - MP_SEQ_HDR_LEN)
        return MP_ENOSPC;
    uint8_t *p = buf + *used;
    p[0] = (uint8_t)((MP_VERSION << 4) | m->hdr.flags);
    p[1] = m->hdr.type;
    mp_put16(p + 2, (uint16_t)ml);
    mp_put32(p + 4, m->hdr.chan);
    mp_put32(p + 8, m->hdr.cseq);
    ops->write(m, p + MP_INNER_HDR_LEN);
    *used += ml;
    return (int)ml;
}
