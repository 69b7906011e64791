/*
 * fuzz/fz.c — oracles shared by the fuzz targets: frame equality, nested walks and the
 * encode/decode round trip.
 */
#include "fz.h"

/* Largest record count a 65535-byte NAME_SYNC can hold: 2-byte rec_len + 15-byte record. */
#define FZ_MAX_SYNC_RECS ((MP_MAX_FRAME - MP_NAME_SYNC_MIN_LEN) / (2 + MP_NAME_REC_MIN_LEN) + 1)

/* Two record arrays: one for the value under test, one for its re-decoded copy. */
static mp_name_rec fz_recs[2][FZ_MAX_SYNC_RECS];
static unsigned fz_recs_slot;

static void fz_hex(const char *tag, const uint8_t *p, size_t n)
{
    fprintf(stderr, "  %s (%zu):", tag, n);
    for (size_t i = 0; i < n && i < 96; i++)
        fprintf(stderr, " %02x", p[i]);
    fprintf(stderr, n > 96 ? " ...\n" : "\n");
}

bool fz_bytes_eq(const char *what, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if (alen == blen && (alen == 0 || memcmp(a, b, alen) == 0))
        return true;
    fprintf(stderr, "fz: %s differs\n", what);
    fz_hex("a", a, alen);
    fz_hex("b", b, blen);
    return false;
}

static bool fz_view_eq(const char *what, mp_bytes a, mp_bytes b)
{
    return fz_bytes_eq(what, a.ptr, a.len, b.ptr, b.len);
}

#define FZ_FIELD(x, y, name)                                                                 \
    do {                                                                                     \
        if ((x) != (y)) {                                                                    \
            fprintf(stderr, "fz: field %s differs: %llu != %llu\n", name,                    \
                    (unsigned long long)(x), (unsigned long long)(y));                       \
            return false;                                                                    \
        }                                                                                    \
    } while (0)
#define FZ_F(a, b, m) FZ_FIELD((a)->m, (b)->m, #m)

bool fz_hdr_eq(const mp_hdr *a, const mp_hdr *b, bool member)
{
    FZ_F(a, b, version);
    FZ_F(a, b, flags);
    FZ_F(a, b, type);
    FZ_F(a, b, length);
    if (MP_TYPE_IS_SEQUENCED(a->type)) {
        if (!member) {
            FZ_F(a, b, seq);
            FZ_F(a, b, ack);
        }
        FZ_F(a, b, chan);
        FZ_F(a, b, cseq);
    }
    return true;
}

static bool fz_opts_eq(const mp_opts *a, const mp_opts *b)
{
    FZ_FIELD(a->n, b->n, "opts.n");
    for (unsigned i = 0; i < a->n && i < MP_MAX_OPTIONS; i++) {
        FZ_FIELD(a->v[i].type, b->v[i].type, "opts.type");
        if (!fz_bytes_eq("opts.val", a->v[i].val, a->v[i].len, b->v[i].val, b->v[i].len))
            return false;
    }
    return true;
}

bool fz_name_rec_eq(const mp_name_rec *a, const mp_name_rec *b)
{
    FZ_F(a, b, device_id);
    FZ_F(a, b, dtype);
    FZ_F(a, b, nflags);
    FZ_F(a, b, rank);
    FZ_F(a, b, generation);
    if (!fz_view_eq("name", a->name, b->name))
        return false;
    FZ_F(a, b, prop_count);
    for (unsigned i = 0; i < a->prop_count && i < MP_MAX_PROPS; i++) {
        if (!fz_bytes_eq("prop.key", a->props[i].key, a->props[i].key_len, b->props[i].key,
                         b->props[i].key_len) ||
            !fz_bytes_eq("prop.val", a->props[i].val, a->props[i].val_len, b->props[i].val,
                         b->props[i].val_len))
            return false;
    }
    return true;
}

/* a's records are in a->u.sync.enc_recs; b is decoded. */
static bool fz_sync_enc_eq(const mp_name_sync *a, const mp_name_sync *b)
{
    size_t pos = 0;
    mp_name_rec r;
    for (unsigned i = 0; i < a->count; i++) {
        int rc = mp_name_sync_next(b, &pos, &r);
        if (rc != 1) {
            fprintf(stderr, "fz: NAME_SYNC record %u: walk returned %d\n", i, rc);
            return false;
        }
        if (!fz_name_rec_eq(&a->enc_recs[i], &r))
            return false;
    }
    int rc = mp_name_sync_next(b, &pos, &r);
    if (rc != 0) {
        fprintf(stderr, "fz: NAME_SYNC: walk after last record returned %d\n", rc);
        return false;
    }
    return true;
}

bool fz_frame_eq(const mp_frame *fa, const mp_frame *fb, bool a_enc)
{
    if (!fz_hdr_eq(&fa->hdr, &fb->hdr, false))
        return false;
    switch (fa->hdr.type) {
    case MP_T_DISCOVER: {
        const mp_discover *a = &fa->u.discover, *b = &fb->u.discover;
        FZ_F(a, b, node_id);
        FZ_F(a, b, domain);
        FZ_F(a, b, max_version);
        FZ_F(a, b, dflags);
        FZ_F(a, b, mtu);
        FZ_F(a, b, incarnation);
        return fz_opts_eq(&a->opts, &b->opts);
    }
    case MP_T_LINK_RESET:
    case MP_T_LINK_ACTIVATE: {
        const mp_link *a = &fa->u.link, *b = &fb->u.link;
        FZ_F(a, b, node_id);
        FZ_F(a, b, peer_id);
        FZ_F(a, b, incarnation);
        FZ_F(a, b, session);
        FZ_F(a, b, next_seq);
        FZ_F(a, b, tolerance_ms);
        FZ_F(a, b, window);
        FZ_F(a, b, mtu);
        FZ_F(a, b, priority);
        FZ_F(a, b, lflags);
        return fz_opts_eq(&a->opts, &b->opts);
    }
    case MP_T_LINK_STATE: {
        const mp_link_state *a = &fa->u.state, *b = &fb->u.state;
        FZ_F(a, b, session);
        FZ_F(a, b, ack);
        FZ_F(a, b, next_seq);
        FZ_F(a, b, sflags);
        FZ_F(a, b, gap_count);
        FZ_F(a, b, timestamp);
        FZ_F(a, b, echo);
        for (unsigned i = 0; i < a->gap_count && i < MP_MAX_GAPS; i++) {
            FZ_F(a, b, gaps[i].start);
            FZ_F(a, b, gaps[i].end);
        }
        return true;
    }
    case MP_T_DATA:
        return fz_view_eq("data", fa->u.data, fb->u.data);
    case MP_T_FRAGMENT: {
        const mp_fragment *a = &fa->u.fragment, *b = &fb->u.fragment;
        FZ_F(a, b, inner_type);
        FZ_F(a, b, total_len);
        FZ_F(a, b, offset);
        return fz_view_eq("fragment.data", a->data, b->data);
    }
    case MP_T_BUNDLE:
        FZ_FIELD(fa->u.bundle.count, fb->u.bundle.count, "bundle.count");
        return fz_view_eq("bundle.members", fa->u.bundle.members, fb->u.bundle.members);
    case MP_T_MINET: {
        const mp_minet *a = &fa->u.minet, *b = &fb->u.minet;
        FZ_F(a, b, mflags);
        FZ_F(a, b, gso_type);
        FZ_F(a, b, hdr_len);
        FZ_F(a, b, gso_size);
        FZ_F(a, b, csum_start);
        FZ_F(a, b, csum_offset);
        FZ_F(a, b, domain);
        return fz_view_eq("minet.eth", a->eth, b->eth);
    }
    case MP_T_NAME_PUBLISH:
        return fz_name_rec_eq(&fa->u.publish, &fb->u.publish);
    case MP_T_NAME_WITHDRAW: {
        const mp_name_withdraw *a = &fa->u.withdraw, *b = &fb->u.withdraw;
        FZ_F(a, b, device_id);
        FZ_F(a, b, generation);
        return fz_view_eq("withdraw.name", a->name, b->name);
    }
    case MP_T_NAME_SYNC: {
        const mp_name_sync *a = &fa->u.sync, *b = &fb->u.sync;
        FZ_F(a, b, yflags);
        FZ_F(a, b, count);
        if (a_enc)
            return fz_sync_enc_eq(a, b);
        return fz_view_eq("sync.records", a->records, b->records);
    }
    case MP_T_PATH_OPEN: {
        const mp_path_open *a = &fa->u.open, *b = &fb->u.open;
        FZ_F(a, b, src_path);
        FZ_F(a, b, src_device);
        FZ_F(a, b, dst_device);
        FZ_F(a, b, credit);
        FZ_F(a, b, pkind);
        if (!fz_view_eq("open.name", a->name, b->name))
            return false;
        return fz_opts_eq(&a->opts, &b->opts);
    }
    case MP_T_PATH_ACCEPT: {
        const mp_path_accept *a = &fa->u.accept, *b = &fb->u.accept;
        FZ_F(a, b, dst_path);
        FZ_F(a, b, src_path);
        FZ_F(a, b, credit);
        return true;
    }
    case MP_T_PATH_CLOSE: {
        const mp_path_close *a = &fa->u.close, *b = &fb->u.close;
        FZ_F(a, b, dst_path);
        FZ_F(a, b, src_path);
        FZ_F(a, b, last_cseq);
        FZ_F(a, b, reason);
        return true;
    }
    case MP_T_PATH_ABORT: {
        const mp_path_abort *a = &fa->u.abort_, *b = &fb->u.abort_;
        FZ_F(a, b, dst_path);
        FZ_F(a, b, src_path);
        FZ_F(a, b, error);
        return true;
    }
    case MP_T_PATH_CREDIT: {
        const mp_path_credit *a = &fa->u.credit, *b = &fb->u.credit;
        FZ_F(a, b, dst_path);
        FZ_F(a, b, limit);
        return true;
    }
    case MP_T_SERVICE_STATUS: {
        const mp_service_status *a = &fa->u.status, *b = &fb->u.status;
        FZ_F(a, b, status);
        FZ_F(a, b, reason);
        FZ_F(a, b, node);
        FZ_F(a, b, path);
        FZ_F(a, b, device);
        return fz_view_eq("status.name", a->name, b->name);
    }
    case MP_T_MGMT: {
        const mp_mgmt *a = &fa->u.mgmt, *b = &fb->u.mgmt;
        FZ_F(a, b, corr_id);
        FZ_F(a, b, epoch);
        FZ_F(a, b, src_entity);
        FZ_F(a, b, dst_entity);
        FZ_F(a, b, uop_count);
        FZ_F(a, b, gflags);
        for (unsigned i = 0; i < a->uop_count && i < MP_MAX_UOPS; i++) {
            FZ_F(a, b, uops[i].opcode);
            FZ_F(a, b, uops[i].arg);
        }
        return fz_view_eq("mgmt.payload", a->payload, b->payload);
    }
    case MP_T_SECURED: {
        const mp_secured *a = &fa->u.secured, *b = &fb->u.secured;
        FZ_F(a, b, key_id);
        FZ_F(a, b, counter);
        if (!fz_view_eq("secured.ciphertext", a->ciphertext, b->ciphertext))
            return false;
        return fz_bytes_eq("secured.tag", a->tag, MP_SECURED_TAG_LEN, b->tag,
                           MP_SECURED_TAG_LEN);
    }
    case MP_T_KEY_EXCHANGE: {
        const mp_key_exchange *a = &fa->u.kx, *b = &fb->u.kx;
        FZ_F(a, b, phase);
        FZ_F(a, b, key_id);
        FZ_F(a, b, suite);
        FZ_F(a, b, node_id);
        FZ_F(a, b, exchange_id);
        return fz_bytes_eq("kx.public_key", a->public_key, 32, b->public_key, 32) &&
               fz_bytes_eq("kx.random", a->random, 16, b->random, 16) &&
               fz_bytes_eq("kx.mac", a->mac, 32, b->mac, 32);
    }
    default:
        fprintf(stderr, "fz: no comparison for type 0x%02x\n", fa->hdr.type);
        return false;
    }
}

void fz_check_err(int err)
{
    FZ_CHECKF(err < 0 && err > -MP_ERR_COUNT, "error code %d out of range", err);
    const char *s = mp_strerror(err), *n = mp_errname(err);
    FZ_CHECKF(s && *s && n && strncmp(n, "MP_E", 4) == 0, "error %d has no name", err);
}

static bool fz_bundleable(uint8_t t)
{
    return MP_TYPE_IS_SEQUENCED(t) && t != MP_T_FRAGMENT && t != MP_T_BUNDLE;
}

size_t fz_walk(const mp_frame *f)
{
    size_t n = 0, pos = 0;
    if (f->hdr.type == MP_T_BUNDLE) {
        mp_frame m;
        int rc;
        size_t last = 0;
        while ((rc = mp_bundle_next(&f->u.bundle, &pos, &m)) == 1) {
            FZ_CHECKF(pos > last && pos <= f->u.bundle.members.len, "bundle walk pos %zu", pos);
            last = pos;
            FZ_CHECKF(fz_bundleable(m.hdr.type), "bundle member type 0x%02x", m.hdr.type);
            FZ_CHECK(m.hdr.seq == 0 && m.hdr.ack == 0);
            FZ_CHECK(m.hdr.length >= MP_INNER_HDR_LEN);
            n++;
        }
        FZ_CHECKF(rc == 0, "bundle walk failed with %d after a successful decode", rc);
        FZ_CHECKF(n == f->u.bundle.count, "bundle count %u, walked %zu", f->u.bundle.count, n);
        FZ_CHECKF(pos == f->u.bundle.members.len, "bundle walk stopped at %zu of %zu", pos,
                  f->u.bundle.members.len);
    } else if (f->hdr.type == MP_T_NAME_SYNC) {
        mp_name_rec r;
        int rc;
        while ((rc = mp_name_sync_next(&f->u.sync, &pos, &r)) == 1) {
            FZ_CHECK(mp_name_check(r.name.ptr, r.name.len) == 0);
            FZ_CHECK(r.prop_count <= MP_MAX_PROPS);
            n++;
        }
        FZ_CHECKF(rc == 0, "NAME_SYNC walk failed with %d after a successful decode", rc);
        FZ_CHECKF(n == f->u.sync.count, "NAME_SYNC count %u, walked %zu", f->u.sync.count, n);
    }
    return n;
}

bool fz_prepare_reencode(mp_frame *f)
{
    if (f->hdr.type != MP_T_NAME_SYNC)
        return true;
    mp_name_rec *recs = fz_recs[fz_recs_slot++ & 1];
    size_t pos = 0, n = 0;
    int rc;
    while (n < FZ_MAX_SYNC_RECS && (rc = mp_name_sync_next(&f->u.sync, &pos, &recs[n])) == 1)
        n++;
    f->u.sync.enc_recs = recs;
    return n == f->u.sync.count;
}

static uint8_t fz_enc1[MP_MAX_FRAME + 64], fz_enc2[MP_MAX_FRAME + 64];

int fz_roundtrip(const mp_frame *f, bool enc, const uint8_t *orig, size_t orig_len)
{
    int want = mp_encoded_len(f);
    int n = mp_encode(f, fz_enc1, sizeof fz_enc1);
    if (n < 0) {
        fz_check_err(n);
        FZ_CHECKF(want == n || want < 0, "mp_encoded_len %d but mp_encode %d", want, n);
        return n;
    }
    FZ_CHECKF(want == n, "mp_encoded_len %d but mp_encode wrote %d", want, n);
    FZ_CHECK(n >= (int)MP_COMMON_HDR_LEN && n <= (int)MP_MAX_FRAME);

    /* One byte short must fail cleanly; the buffer is malloc'd at exactly that size so
     * ASan reports any write past cap. */
    uint8_t *shortbuf = malloc((size_t)n - 1);
    FZ_CHECK(shortbuf);
    int short_rc = mp_encode(f, shortbuf, (size_t)n - 1);
    free(shortbuf);
    FZ_CHECKF(short_rc == MP_ENOSPC, "encode into cap %d returned %d", n - 1, short_rc);

    if (orig) {
        /* The decoder accepted orig, and the codec is canonical: same bytes back. */
        FZ_CHECK(fz_bytes_eq("re-encoding of the decoded input", orig, orig_len, fz_enc1,
                             (size_t)n));
    }

    mp_frame g;
    memset(&g, 0, sizeof g);
    int d = mp_decode(fz_enc1, (size_t)n, &g);
    FZ_CHECKF(d == n, "decode of a fresh encoding returned %d (%s), encoded %d", d,
              d < 0 ? mp_errname(d) : "ok", n);
    /* The value we encoded, with the fields the encoder computes. */
    mp_frame want_f = *f;
    want_f.hdr.version = MP_VERSION;
    want_f.hdr.length = (uint16_t)n;
    FZ_CHECK(fz_frame_eq(&want_f, &g, enc));
    fz_walk(&g);

    /* Canonical: encoding the re-decoded frame gives the same bytes. */
    FZ_CHECK(fz_prepare_reencode(&g));
    int n2 = mp_encode(&g, fz_enc2, sizeof fz_enc2);
    FZ_CHECKF(n2 == n, "re-encode of the re-decoded frame returned %d, first %d", n2, n);
    FZ_CHECK(fz_bytes_eq("second encoding", fz_enc1, (size_t)n, fz_enc2, (size_t)n2));
    return n;
}

void *fz_svc_alloc(void *user, size_t size)
{
    fz_svc *s = user;
    if (s->fail_in == 0) {
        s->fail_in = -1;
        if (s->refused)
            *s->refused = true;
        return NULL;
    }
    if (s->fail_in > 0)
        s->fail_in--;
    void *p = malloc(size ? size : 1);
    if (p)
        s->held += size;
    return p;
}

void fz_svc_free(void *user, void *p, size_t size)
{
    fz_svc *s = user;
    if (!p)
        return;
    FZ_CHECKF(s->held >= size, "node %d frees %zu bytes, holds %zu", s->idx, size, s->held);
    s->held -= size;
    free(p);
}

uint32_t fz_svc_rng(void *user)
{
    fz_svc *s = user;
    uint32_t x = s->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return s->rng = x;
}
