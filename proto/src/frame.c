/*
 * frame.c — frame-level decode/encode: header, dispatch to the body table, channel
 * rule.  Body codecs live in body_link.c, body_msg.c, names.c and bundle.c.
 */
#include "mp_internal.h"

const mp_body_ops *mp_body_ops_for(uint8_t type)
{
    switch (type) {
    case MP_T_DISCOVER:
        return &mp_ops_discover;
    case MP_T_LINK_RESET:
    case MP_T_LINK_ACTIVATE:
        return &mp_ops_link;
    case MP_T_LINK_STATE:
        return &mp_ops_link_state;
    case MP_T_DATA:
        return &mp_ops_data;
    case MP_T_FRAGMENT:
        return &mp_ops_fragment;
    case MP_T_BUNDLE:
        return &mp_ops_bundle;
    case MP_T_MINET:
        return &mp_ops_minet;
    case MP_T_NAME_PUBLISH:
        return &mp_ops_name_publish;
    case MP_T_NAME_WITHDRAW:
        return &mp_ops_name_withdraw;
    case MP_T_NAME_SYNC:
        return &mp_ops_name_sync;
    case MP_T_PATH_OPEN:
        return &mp_ops_path_open;
    case MP_T_PATH_ACCEPT:
        return &mp_ops_path_accept;
    case MP_T_PATH_CLOSE:
        return &mp_ops_path_close;
    case MP_T_PATH_ABORT:
        return &mp_ops_path_abort;
    case MP_T_PATH_CREDIT:
        return &mp_ops_path_credit;
    case MP_T_SERVICE_STATUS:
        return &mp_ops_service_status;
    case MP_T_MGMT:
        return &mp_ops_mgmt;
    case MP_T_SECURED:
        return &mp_ops_secured;
    case MP_T_KEY_EXCHANGE:
        return &mp_ops_key_exchange;
    default:
        return NULL;
    }
}

int mp_body_run(const mp_body_ops *ops, const uint8_t *b, size_t n, mp_frame *f)
{
    if (n < ops->min_len || (ops->fixed && n != ops->min_len))
        return MP_ELENGTH;
    int deferred = MP_OK;
    int rc = ops->parse(b, n, f, &deferred);
    if (rc == MP_OK && MP_TYPE_IS_SEQUENCED(f->hdr.type))
        rc = mp_chan_check(f);
    if (rc == MP_OK && ops->reserved != NULL)
        rc = ops->reserved(b, n);
    if (rc == MP_OK)
        rc = ops->check(f, deferred);
    return rc;
}

int mp_decode(const uint8_t *buf, size_t len, mp_frame *out)
{
    if (out == NULL)
        return MP_EINVAL;
    int rc = mp_hdr_parse(buf, len, &out->hdr, true);
    if (rc < 0)
        return rc;
    const mp_body_ops *ops = mp_body_ops_for(out->hdr.type);
    size_t hl = mp_hdr_len(out->hdr.type);
    mp_memset(&out->u, 0, sizeof out->u);
    rc = mp_body_run(ops, buf + hl, out->hdr.length - hl, out);
    if (rc < 0)
        return rc;
    if (out->hdr.type == MP_T_SECURED)
        out->u.secured.aad = (mp_bytes){buf, MP_SECURED_HDR_LEN};
    return out->hdr.length;
}

int mp_body_decode(const mp_hdr *hdr, const uint8_t *body, size_t len, mp_frame *out)
{
    if (hdr == NULL || out == NULL || (body == NULL && len > 0))
        return MP_EINVAL;
    if (!mp_type_is_message(hdr->type))
        return MP_ETYPE;
    /* hdr is copied as given: a reassembled body may exceed what hdr.length can say. */
    out->hdr = *hdr;
    mp_memset(&out->u, 0, sizeof out->u);
    int rc = mp_body_run(mp_body_ops_for(hdr->type), body, len, out);
    return rc < 0 ? rc : MP_OK;
}

int mp_encode_prepare(const mp_frame *f, const mp_body_ops **ops, size_t *total)
{
    if (f == NULL)
        return MP_EINVAL;
    *ops = mp_body_ops_for(f->hdr.type);
    if (*ops == NULL)
        return MP_ETYPE;
    if (f->hdr.flags & ~MP_FLAGS_MASK)
        return MP_EINVAL;
    int rc = MP_OK;
    if (MP_TYPE_IS_SEQUENCED(f->hdr.type))
        rc = mp_chan_check(f);
    if (rc == MP_OK)
        rc = (*ops)->check(f, MP_OK);
    if (rc != MP_OK)
        return rc;
    size_t n;
    rc = (*ops)->size(f, &n);
    if (rc != MP_OK)
        return rc;
    if (n < (*ops)->min_len || ((*ops)->fixed && n != (*ops)->min_len))
        return MP_ELENGTH;
    size_t hl = mp_hdr_len(f->hdr.type);
    if (n > MP_MAX_FRAME - hl)
        return MP_ELENGTH; /* too big for one frame: the caller must fragment */
    *total = hl + n;
    return MP_OK;
}

int mp_encoded_len(const mp_frame *f)
{
    const mp_body_ops *ops;
    size_t total;
    int rc = mp_encode_prepare(f, &ops, &total);
    return rc < 0 ? rc : (int)total;
}

int mp_encode(const mp_frame *f, uint8_t *buf, size_t cap)
{
    const mp_body_ops *ops;
    size_t total;
    int rc = mp_encode_prepare(f, &ops, &total);
    if (rc < 0)
        return rc;
    if (buf == NULL || total > cap)
        return MP_ENOSPC;
    mp_hdr_write(&f->hdr, (uint16_t)total, buf);
    ops->write(f, buf + mp_hdr_len(f->hdr.type));
    return (int)total;
}

const mp_opt *mp_opt_find(const mp_opts *o, uint8_t type)
{
    if (o == NULL)
        return NULL;
    for (unsigned i = 0; i < o->n && i < MP_MAX_OPTIONS; i++)
        if (o->v[i].type == type)
            return &o->v[i];
    return NULL;
}
