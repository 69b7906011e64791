/*
 * body_msg.c — message bodies: DATA, FRAGMENT, MINET, the PATH_* family,
 * SERVICE_STATUS and MGMT.  All are sequenced, so offsets are from frame byte 16.
 */
#include "mp_internal.h"

#define SEQ(len) ((len)-MP_SEQ_HDR_LEN)

static bool mp_path_id_ok(uint32_t id)
{
    return id >= MP_CHAN_FIRST_PATH; /* path ids double as channel numbers */
}

/* ---- DATA: payload (0..) ------------------------------------------------------------ */

static int data_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    (void)deferred;
    f->u.data = (mp_bytes){b, n};
    return MP_OK;
}

static int data_check(const mp_frame *f, int deferred)
{
    (void)deferred;
    return mp_bytes_ok(&f->u.data) ? MP_OK : MP_EINVAL;
}

static int data_size(const mp_frame *f, size_t *n)
{
    *n = f->u.data.len;
    return MP_OK;
}

static void data_write(const mp_frame *f, uint8_t *b)
{
    if (f->u.data.len)
        mp_memcpy(b, f->u.data.ptr, f->u.data.len);
}

const mp_body_ops mp_ops_data = {
    .parse = data_parse,
    .check = data_check,
    .size = data_size,
    .write = data_write,
};

/* ---- FRAGMENT: 0 inner_type 1 reserved(8) 2 reserved(16) 4 total_len 8 offset
 * 12 data (>= 1) --------------------------------------------------------------------- */

static int frag_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    (void)deferred;
    mp_fragment *g = &f->u.fragment;
    g->inner_type = b[0];
    g->total_len = mp_get32(b + 4);
    g->offset = mp_get32(b + 8);
    g->data = (mp_bytes){b + 12, n - 12};
    return MP_OK;
}

static int frag_reserved(const uint8_t *b, size_t n)
{
    (void)n;
    return mp_all_zero(b + 1, 3) ? MP_OK : MP_ERESERVED;
}

static int frag_check(const mp_frame *f, int deferred)
{
    (void)deferred;
    const mp_fragment *g = &f->u.fragment;
    if (!mp_bytes_ok(&g->data))
        return MP_EINVAL;
    if (g->data.len < 1)
        return MP_ELENGTH;
    /* Fragments nest neither in themselves nor in bundles: one level of each keeps
     * reassembly memory and receive paths bounded. */
    if (!mp_type_is_message(g->inner_type))
        return MP_ETYPE;
    if (g->total_len > MP_MAX_MESSAGE || (uint64_t)g->offset + g->data.len > (uint64_t)g->total_len)
        return MP_ERANGE;
    return MP_OK;
}

static int frag_size(const mp_frame *f, size_t *n)
{
    if (f->u.fragment.data.len > MP_MAX_FRAME)
        return MP_ELENGTH;
    *n = 12 + f->u.fragment.data.len;
    return MP_OK;
}

static void frag_write(const mp_frame *f, uint8_t *b)
{
    const mp_fragment *g = &f->u.fragment;
    b[0] = g->inner_type;
    mp_memset(b + 1, 0, 3);
    mp_put32(b + 4, g->total_len);
    mp_put32(b + 8, g->offset);
    mp_memcpy(b + 12, g->data.ptr, g->data.len);
}

const mp_body_ops mp_ops_fragment = {
    .min_len = SEQ(MP_FRAGMENT_HDR_LEN) + 1,
    .parse = frag_parse,
    .reserved = frag_reserved,
    .check = frag_check,
    .size = frag_size,
    .write = frag_write,
};

/* ---- MINET: 0 mflags 1 gso_type 2 hdr_len 4 gso_size 6 csum_start 8 csum_offset
 * 10 domain 12 Ethernet frame (>= 14) ---------------------------------------------- */

static int minet_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    (void)deferred;
    mp_minet *m = &f->u.minet;
    m->mflags = b[0];
    m->gso_type = b[1];
    m->hdr_len = mp_get16(b + 2);
    m->gso_size = mp_get16(b + 4);
    m->csum_start = mp_get16(b + 6);
    m->csum_offset = mp_get16(b + 8);
    m->domain = mp_get16(b + 10);
    m->eth = (mp_bytes){b + 12, n - 12};
    return MP_OK;
}

static int minet_check(const mp_frame *f, int deferred)
{
    (void)deferred;
    const mp_minet *m = &f->u.minet;
    if (!mp_bytes_ok(&m->eth))
        return MP_EINVAL;
    if (m->mflags & ~MP_MFLAGS_DEFINED)
        return MP_ERESERVED;
    /* Only the virtio_net_hdr values a TAP can take as is. */
    switch (m->gso_type & ~MP_GSO_ECN) {
    case MP_GSO_NONE:
    case MP_GSO_TCPV4:
    case MP_GSO_UDP:
    case MP_GSO_TCPV6:
        break;
    default:
        return MP_ERANGE;
    }
    if (m->eth.len < MP_MINET_MIN_ETH)
        return MP_ELENGTH;
    return MP_OK;
}

static int minet_size(const mp_frame *f, size_t *n)
{
    if (f->u.minet.eth.len > MP_MAX_FRAME)
        return MP_ELENGTH;
    *n = 12 + f->u.minet.eth.len;
    return MP_OK;
}

static void minet_write(const mp_frame *f, uint8_t *b)
{
    const mp_minet *m = &f->u.minet;
    b[0] = m->mflags;
    b[1] = m->gso_type;
    mp_put16(b + 2, m->hdr_len);
    mp_put16(b + 4, m->gso_size);
    mp_put16(b + 6, m->csum_start);
    mp_put16(b + 8, m->csum_offset);
    mp_put16(b + 10, m->domain);
    mp_memcpy(b + 12, m->eth.ptr, m->eth.len);
}

const mp_body_ops mp_ops_minet = {
    .min_len = SEQ(MP_MINET_HDR_LEN) + MP_MINET_MIN_ETH,
    .parse = minet_parse,
    .check = minet_check,
    .size = minet_size,
    .write = minet_write,
};

/* ---- PATH_OPEN: 0 src_path 4 src_device 8 dst_device 12 credit 16 pkind
 * 17 reserved(8) 18 reserved(16) 20 name_len 21 name (0..127) then options ---------- */

static int open_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    mp_path_open *o = &f->u.open;
    o->src_path = mp_get32(b);
    o->src_device = mp_get32(b + 4);
    o->dst_device = mp_get32(b + 8);
    o->credit = mp_get32(b + 12);
    o->pkind = b[16];
    size_t nl = b[20];
    if (n - 21 < nl)
        return MP_ELENGTH;
    o->name = (mp_bytes){b + 21, nl};
    *deferred = mp_opts_parse(b + 21 + nl, n - 21 - nl, &o->opts);
    return MP_OK;
}

static int open_reserved(const uint8_t *b, size_t n)
{
    (void)n;
    return mp_all_zero(b + 17, 3) ? MP_OK : MP_ERESERVED;
}

static int open_check(const mp_frame *f, int deferred)
{
    const mp_path_open *o = &f->u.open;
    if (!mp_bytes_ok(&o->name))
        return MP_EINVAL;
    if (!mp_path_id_ok(o->src_path))
        return MP_ERANGE;
    if (o->pkind < MP_PK_UNICAST || o->pkind > MP_PK_ANYCAST)
        return MP_ERANGE;
    /* Empty: the opener addresses dst_device directly.  Otherwise one name for a
     * unicast path, a pattern for the one-to-many kinds. */
    if (o->name.len > 0) {
        if (o->pkind == MP_PK_UNICAST && mp_name_check(o->name.ptr, o->name.len) != MP_OK)
            return MP_ENAME;
        if (o->pkind != MP_PK_UNICAST && mp_pattern_check(o->name.ptr, o->name.len) != MP_OK)
            return MP_EPATTERN;
    }
    return mp_opts_check(&o->opts, deferred);
}

static int open_size(const mp_frame *f, size_t *n)
{
    *n = 21 + f->u.open.name.len + mp_opts_size(&f->u.open.opts);
    return MP_OK;
}

static void open_write(const mp_frame *f, uint8_t *b)
{
    const mp_path_open *o = &f->u.open;
    mp_put32(b, o->src_path);
    mp_put32(b + 4, o->src_device);
    mp_put32(b + 8, o->dst_device);
    mp_put32(b + 12, o->credit);
    b[16] = o->pkind;
    mp_memset(b + 17, 0, 3);
    b[20] = (uint8_t)o->name.len;
    if (o->name.len)
        mp_memcpy(b + 21, o->name.ptr, o->name.len);
    mp_opts_write(&o->opts, b + 21 + o->name.len);
}

const mp_body_ops mp_ops_path_open = {
    .min_len = SEQ(MP_PATH_OPEN_MIN_LEN),
    .parse = open_parse,
    .reserved = open_reserved,
    .check = open_check,
    .size = open_size,
    .write = open_write,
};

/* ---- PATH_ACCEPT (fixed): 0 dst_path 4 src_path 8 credit ------------------------------ */

static int accept_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    (void)n;
    (void)deferred;
    f->u.accept.dst_path = mp_get32(b);
    f->u.accept.src_path = mp_get32(b + 4);
    f->u.accept.credit = mp_get32(b + 8);
    return MP_OK;
}

static int accept_check(const mp_frame *f, int deferred)
{
    (void)deferred; /* dst_path is the channel rule's business */
    return mp_path_id_ok(f->u.accept.src_path) ? MP_OK : MP_ERANGE;
}

static int accept_size(const mp_frame *f, size_t *n)
{
    (void)f;
    *n = SEQ(MP_PATH_ACCEPT_LEN);
    return MP_OK;
}

static void accept_write(const mp_frame *f, uint8_t *b)
{
    mp_put32(b, f->u.accept.dst_path);
    mp_put32(b + 4, f->u.accept.src_path);
    mp_put32(b + 8, f->u.accept.credit);
}

const mp_body_ops mp_ops_path_accept = {
    .min_len = SEQ(MP_PATH_ACCEPT_LEN),
    .fixed = true,
    .parse = accept_parse,
    .check = accept_check,
    .size = accept_size,
    .write = accept_write,
};

/* ---- PATH_CLOSE (fixed): 0 dst_path 4 src_path 8 last_cseq 12 reason 13 reserved(24) -- */

static int close_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    (void)n;
    (void)deferred;
    f->u.close.dst_path = mp_get32(b);
    f->u.close.src_path = mp_get32(b + 4);
    f->u.close.last_cseq = mp_get32(b + 8);
    f->u.close.reason = b[12];
    return MP_OK;
}

static int close_reserved(const uint8_t *b, size_t n)
{
    (void)n;
    return mp_all_zero(b + 13, 3) ? MP_OK : MP_ERESERVED;
}

static int close_check(const mp_frame *f, int deferred)
{
    (void)deferred;
    /* Reasons come from the registry; a new reason arrives with a new version. */
    if (!mp_path_id_ok(f->u.close.src_path) || f->u.close.reason > MP_R_MAX)
        return MP_ERANGE;
    return MP_OK;
}

static int close_size(const mp_frame *f, size_t *n)
{
    (void)f;
    *n = SEQ(MP_PATH_CLOSE_LEN);
    return MP_OK;
}

static void close_write(const mp_frame *f, uint8_t *b)
{
    mp_put32(b, f->u.close.dst_path);
    mp_put32(b + 4, f->u.close.src_path);
    mp_put32(b + 8, f->u.close.last_cseq);
    b[12] = f->u.close.reason;
    mp_memset(b + 13, 0, 3);
}

const mp_body_ops mp_ops_path_close = {
    .min_len = SEQ(MP_PATH_CLOSE_LEN),
    .fixed = true,
    .parse = close_parse,
    .reserved = close_reserved,
    .check = close_check,
    .size = close_size,
    .write = close_write,
};

/* ---- PATH_ABORT (fixed): 0 dst_path 4 src_path 8 error(16) 10 reserved(16) ------------ */

static int abort_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    (void)n;
    (void)deferred;
    f->u.abort_.dst_path = mp_get32(b);
    f->u.abort_.src_path = mp_get32(b + 4);
    f->u.abort_.error = mp_get16(b + 8);
    return MP_OK;
}

static int abort_reserved(const uint8_t *b, size_t n)
{
    (void)n;
    return mp_all_zero(b + 10, 2) ? MP_OK : MP_ERESERVED;
}

static int abort_check(const mp_frame *f, int deferred)
{
    (void)deferred;
    const mp_path_abort *a = &f->u.abort_;
    /* src_path 0: a refusal, the acceptor never created a path. */
    if ((a->src_path != 0 && !mp_path_id_ok(a->src_path)) || a->error > MP_R_MAX)
        return MP_ERANGE;
    return MP_OK;
}

static int abort_size(const mp_frame *f, size_t *n)
{
    (void)f;
    *n = SEQ(MP_PATH_ABORT_LEN);
    return MP_OK;
}

static void abort_write(const mp_frame *f, uint8_t *b)
{
    mp_put32(b, f->u.abort_.dst_path);
    mp_put32(b + 4, f->u.abort_.src_path);
    mp_put16(b + 8, f->u.abort_.error);
    mp_memset(b + 10, 0, 2);
}

const mp_body_ops mp_ops_path_abort = {
    .min_len = SEQ(MP_PATH_ABORT_LEN),
    .fixed = true,
    .parse = abort_parse,
    .reserved = abort_reserved,
    .check = abort_check,
    .size = abort_size,
    .write = abort_write,
};

/* ---- PATH_CREDIT (fixed): 0 dst_path 4 limit ----------------------------------------- */

static int credit_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    (void)n;
    (void)deferred;
    f->u.credit.dst_path = mp_get32(b);
    f->u.credit.limit = mp_get32(b + 4);
    return MP_OK;
}

static int credit_check(const mp_frame *f, int deferred)
{
    (void)f; /* limit is serial arithmetic: every value is meaningful */
    (void)deferred;
    return MP_OK;
}

static int credit_size(const mp_frame *f, size_t *n)
{
    (void)f;
    *n = SEQ(MP_PATH_CREDIT_LEN);
    return MP_OK;
}

static void credit_write(const mp_frame *f, uint8_t *b)
{
    mp_put32(b, f->u.credit.dst_path);
    mp_put32(b + 4, f->u.credit.limit);
}

const mp_body_ops mp_ops_path_credit = {
    .min_len = SEQ(MP_PATH_CREDIT_LEN),
    .fixed = true,
    .parse = credit_parse,
    .check = credit_check,
    .size = credit_size,
    .write = credit_write,
};

/* ---- SERVICE_STATUS: 0 status 1 reason 2 reserved(16) 4 node 8 path 12 device
 * 16 name_len 17 name (0..127), nothing after ---------------------------------------- */

static int status_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    (void)deferred;
    mp_service_status *s = &f->u.status;
    s->status = b[0];
    s->reason = b[1];
    s->node = mp_get32(b + 4);
    s->path = mp_get32(b + 8);
    s->device = mp_get32(b + 12);
    if (n != 17u + b[16])
        return MP_ELENGTH;
    s->name = (mp_bytes){b + 17, b[16]};
    return MP_OK;
}

static int status_reserved(const uint8_t *b, size_t n)
{
    (void)n;
    return mp_all_zero(b + 2, 2) ? MP_OK : MP_ERESERVED;
}

static int status_check(const mp_frame *f, int deferred)
{
    (void)deferred;
    const mp_service_status *s = &f->u.status;
    if (!mp_bytes_ok(&s->name))
        return MP_EINVAL;
    if (s->status < MP_ST_PEER_UP || s->status > MP_ST_MAX || s->reason > MP_R_MAX)
        return MP_ERANGE;
    if (s->name.len > 0 && mp_name_check(s->name.ptr, s->name.len) != MP_OK)
        return MP_ENAME;
    return MP_OK;
}

static int status_size(const mp_frame *f, size_t *n)
{
    *n = 17 + f->u.status.name.len;
    return MP_OK;
}

static void status_write(const mp_frame *f, uint8_t *b)
{
    const mp_service_status *s = &f->u.status;
    b[0] = s->status;
    b[1] = s->reason;
    mp_memset(b + 2, 0, 2);
    mp_put32(b + 4, s->node);
    mp_put32(b + 8, s->path);
    mp_put32(b + 12, s->device);
    b[16] = (uint8_t)s->name.len;
    if (s->name.len)
        mp_memcpy(b + 17, s->name.ptr, s->name.len);
}

const mp_body_ops mp_ops_service_status = {
    .min_len = SEQ(MP_SERVICE_STATUS_MIN_LEN),
    .parse = status_parse,
    .reserved = status_reserved,
    .check = status_check,
    .size = status_size,
    .write = status_write,
};

/* ---- MGMT: 0 corr_id 4 epoch 8 src_entity 12 dst_entity 16 uop_count 17 gflags
 * 18 reserved(16) 20 payload_len(32) 24 uops (opcode16 arg16) x uop_count, payload ---- */

static int mgmt_parse(const uint8_t *b, size_t n, mp_frame *f, int *deferred)
{
    (void)deferred;
    mp_mgmt *m = &f->u.mgmt;
    m->corr_id = mp_get32(b);
    m->epoch = mp_get32(b + 4);
    m->src_entity = mp_get32(b + 8);
    m->dst_entity = mp_get32(b + 12);
    m->uop_count = b[16];
    m->gflags = b[17];
    uint32_t plen = mp_get32(b + 20);
    size_t hl = 24u + 4u * m->uop_count;
    /* payload_len is redundant with the frame length; it exists so a reassembled
     * message (no frame length) still knows its end.  Both must agree. */
    if (n < hl || n - hl != plen)
        return MP_ELENGTH;
    for (unsigned i = 0; i < m->uop_count && i < MP_MAX_UOPS; i++) {
        m->uops[i].opcode = mp_get16(b + 24 + 4 * i);
        m->uops[i].arg = mp_get16(b + 26 + 4 * i);
    }
    m->payload = (mp_bytes){b + hl, plen};
    return MP_OK;
}

static int mgmt_reserved(const uint8_t *b, size_t n)
{
    (void)n;
    return mp_all_zero(b + 18, 2) ? MP_OK : MP_ERESERVED;
}

static int mgmt_check(const mp_frame *f, int deferred)
{
    (void)deferred;
    const mp_mgmt *m = &f->u.mgmt;
    if (!mp_bytes_ok(&m->payload))
        return MP_EINVAL;
    if (m->gflags & ~MP_GFLAGS_DEFINED)
        return MP_ERESERVED;
    /* 0 microoperations is allowed: a bare reply carries only its payload. */
    if (m->uop_count > MP_MAX_UOPS)
        return MP_ERANGE;
    return MP_OK;
}

static int mgmt_size(const mp_frame *f, size_t *n)
{
    const mp_mgmt *m = &f->u.mgmt;
    if (m->payload.len > MP_MAX_MESSAGE)
        return MP_ELENGTH;
    *n = 24u + 4u * m->uop_count + m->payload.len;
    return MP_OK;
}

static void mgmt_write(const mp_frame *f, uint8_t *b)
{
    const mp_mgmt *m = &f->u.mgmt;
    mp_put32(b, m->corr_id);
    mp_put32(b + 4, m->epoch);
    mp_put32(b + 8, m->src_entity);
    mp_put32(b + 12, m->dst_entity);
    b[16] = m->uop_count;
    b[17] = m->gflags;
    mp_memset(b + 18, 0, 2);
    mp_put32(b + 20, (uint32_t)m->payload.len);
    for (unsigned i = 0; i < m->uop_count; i++) {
        mp_put16(b + 24 + 4 * i, m->uops[i].opcode);
        mp_put16(b + 26 + 4 * i, m->uops[i].arg);
    }
    if (m->payload.len)
        mp_memcpy(b + 24 + 4 * m->uop_count, m->payload.ptr, m->payload.len);
}

const mp_body_ops mp_ops_mgmt = {
    .min_len = SEQ(MP_MGMT_HDR_LEN),
    .parse = mgmt_parse,
    .reserved = mgmt_reserved,
    .check = mgmt_check,
    .size = mgmt_size,
    .write = mgmt_write,
};
