/*
 * fuzz_roundtrip_struct — the encoders.  An mp_frame is built field by field from the
 * fuzzer's bytes and encoded; if mp_encode accepts it, mp_decode must accept the bytes
 * and give back a field-equal frame (and a second encoding must be identical).
 *
 * Input: type selector(8) mode(8) then fields in struct order.
 *   type selector: < 0xF0 picks one of the registered types; otherwise the next byte is
 *                  the raw type (unassigned types must be refused).
 *   mode bit 0 ("chaos"): counts, flag bytes and ranged fields take raw values (the
 *                  encoder must refuse what the wire cannot carry, and must never read
 *                  past an array because of a count); clear: values are folded into their
 *                  ranges so most inputs encode, and names are built from a safe alphabet.
 *   mode bits 1-2: channel choice (0, MINET, the body's path id, raw).
 *
 * The frame lives in a malloc'd block of exactly sizeof(mp_frame), so an encoder that
 * trusts a count and reads past an array's end is caught by ASan when it leaves the
 * struct.  Every encode is also repeated with one byte less room (fz_roundtrip).
 */
#include "fz.h"

static const uint8_t types[] = {
    MP_T_DISCOVER,     MP_T_LINK_RESET,   MP_T_LINK_ACTIVATE, MP_T_LINK_STATE,
    MP_T_DATA,         MP_T_FRAGMENT,     MP_T_BUNDLE,        MP_T_MINET,
    MP_T_NAME_PUBLISH, MP_T_NAME_WITHDRAW, MP_T_NAME_SYNC,    MP_T_PATH_OPEN,
    MP_T_PATH_ACCEPT,  MP_T_PATH_CLOSE,   MP_T_PATH_ABORT,    MP_T_PATH_CREDIT,
    MP_T_SERVICE_STATUS, MP_T_MGMT,       MP_T_SECURED,       MP_T_KEY_EXCHANGE,
};
#define NTYPES (sizeof types / sizeof types[0])

/* Storage for names and values the views point at, reset per input. */
static uint8_t arena[1u << 20];
static size_t arena_used;

static uint8_t *arena_get(size_t n)
{
    if (arena_used + n > sizeof arena)
        return NULL;
    uint8_t *p = arena + arena_used;
    arena_used += n;
    return p;
}

typedef struct gen {
    fz_in in;
    bool chaos;
} gen;

static uint8_t g8(gen *g) { return fz_u8(&g->in); }
static uint16_t g16(gen *g) { return fz_u16(&g->in); }
static uint32_t g32(gen *g) { return fz_u32(&g->in); }

/* A value in [lo, hi] unless chaos. */
static uint32_t grange(gen *g, uint32_t raw, uint32_t lo, uint32_t hi)
{
    return g->chaos ? raw : lo + raw % (hi - lo + 1);
}
static uint8_t gmask(gen *g, uint8_t raw, uint8_t defined) { return g->chaos ? raw : raw & defined; }
static uint8_t gcount(gen *g, unsigned max) { return (uint8_t)(g->chaos ? g8(g) : g8(g) % (max + 1)); }
static uint32_t gnode(gen *g)
{
    uint32_t v = g32(g);
    return g->chaos || (v != 0 && v != 0xFFFFFFFFu) ? v : 1;
}

/* A name: raw bytes when chaos, else 1..max bytes of [a-z0-9] with some '/' between
 * non-empty components.  min_len 0 allows the empty name (PATH_OPEN, SERVICE_STATUS). */
static mp_bytes gname(gen *g, size_t max, size_t min_len)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789-_.";
    mp_bytes b = {NULL, 0};
    if (g->chaos)
        return fz_view8(&g->in, 255);
    size_t n = g8(g) % (max + 1);
    if (n < min_len)
        n = min_len;
    uint8_t *p = arena_get(n + 1);
    if (!p)
        return b;
    size_t comp = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t r = g8(g);
        bool slash = (r & 0xC0) == 0xC0 && comp > 0 && i + 1 < n && comp < MP_MAX_COMPONENT;
        if (comp == MP_MAX_COMPONENT)
            slash = i + 1 < n;
        if (slash) {
            p[i] = '/';
            comp = 0;
        } else {
            p[i] = (uint8_t)alpha[r % 36]; /* letters and digits: never "." or ".." */
            comp++;
        }
    }
    b.ptr = p;
    b.len = n;
    return b;
}

static const uint8_t opt_types[] = {MP_OPT_NODE_NAME, MP_OPT_BEARER_NAME, MP_OPT_CAPS,
                                    MP_OPT_MAX_MESSAGE, MP_OPT_PROBE_INTERVAL,
                                    MP_OPT_MINET_MAC, MP_OPT_ACK_SESSION, MP_OPT_PEER_EPOCH,
                                    MP_OPT_SECURITY, 0x42};

static void gopts(gen *g, mp_opts *o)
{
    o->n = gcount(g, 4);
    unsigned lim = o->n < MP_MAX_OPTIONS ? o->n : MP_MAX_OPTIONS;
    for (unsigned i = 0; i < lim; i++) {
        mp_opt *x = &o->v[i];
        if (g->chaos) {
            x->type = g8(g);
            mp_bytes v = fz_view8(&g->in, 255);
            x->len = (uint8_t)v.len;
            x->val = v.ptr;
            continue;
        }
        /* Distinct types, registered lengths. */
        x->type = opt_types[(g8(g) + i) % sizeof opt_types];
        for (unsigned j = 0; j < i; j++)
            if (o->v[j].type == x->type)
                x->type = (uint8_t)(0x40 + i);
        mp_bytes v;
        switch (x->type) {
        case MP_OPT_NODE_NAME: v = gname(g, MP_MAX_NODE_NAME, 1); break;
        case MP_OPT_BEARER_NAME: v = gname(g, MP_MAX_BEARER_NAME, 1); break;
        case MP_OPT_CAPS: v = fz_view(&g->in, 4); break;
        case MP_OPT_MAX_MESSAGE: {
            uint8_t *p = arena_get(4);
            if (p)
                mp_put32(p, MP_MIN_MESSAGE_SUPPORT +
                                g32(g) % (MP_MAX_MESSAGE - MP_MIN_MESSAGE_SUPPORT + 1));
            v.ptr = p;
            v.len = p ? 4 : 0;
            break;
        }
        case MP_OPT_PROBE_INTERVAL: v = fz_view(&g->in, 2); break;
        case MP_OPT_MINET_MAC: v = fz_view(&g->in, 6); break;
        case MP_OPT_ACK_SESSION: v = fz_view(&g->in, 2); break;
        case MP_OPT_PEER_EPOCH: v = fz_view(&g->in, 4); break;
        case MP_OPT_SECURITY: {
            uint8_t *p = arena_get(1);
            if (p)
                *p = g8(g) % 3;
            v.ptr = p;
            v.len = p ? 1 : 0;
            break;
        }
        default: v = fz_view8(&g->in, 16); break;
        }
        x->val = v.ptr;
        x->len = (uint8_t)v.len;
    }
}

static void gname_rec(gen *g, mp_name_rec *r)
{
    static const char kalpha[] = "abcdefghijklmnopqrstuvwxyz0123456789_.-";
    r->device_id = g32(g);
    r->dtype = g16(g);
    r->nflags = gmask(g, g8(g), MP_NFLAGS_DEFINED);
    r->rank = g8(g);
    r->generation = g32(g);
    r->name = gname(g, 40, 1);
    r->prop_count = gcount(g, 3);
    unsigned lim = r->prop_count < MP_MAX_PROPS ? r->prop_count : MP_MAX_PROPS;
    for (unsigned i = 0; i < lim; i++) {
        mp_prop *p = &r->props[i];
        if (g->chaos) {
            mp_bytes k = fz_view8(&g->in, 255), v = fz_view8(&g->in, 255);
            p->key = k.ptr;
            p->key_len = (uint8_t)k.len;
            p->val = v.ptr;
            p->val_len = (uint8_t)v.len;
            continue;
        }
        size_t kl = 1 + g8(g) % 8;
        uint8_t *k = arena_get(kl);
        if (!k) {
            r->prop_count = (uint8_t)i;
            break;
        }
        for (size_t j = 0; j < kl; j++)
            k[j] = (uint8_t)kalpha[g8(g) % 39];
        mp_bytes v = fz_view8(&g->in, 24);
        uint8_t *vc = arena_get(v.len + 1);
        if (!vc) {
            r->prop_count = (uint8_t)i;
            break;
        }
        for (size_t j = 0; j < v.len; j++)
            vc[j] = v.ptr[j] ? v.ptr[j] : 'x'; /* values hold no NUL */
        p->key = k;
        p->key_len = (uint8_t)kl;
        p->val = vc;
        p->val_len = (uint8_t)v.len;
    }
}

/* Name-sync records built for encoding. */
static mp_name_rec sync_recs[64];

static uint8_t bundle_buf[MP_MAX_FRAME];

static void gbody(gen *g, mp_frame *f, int depth);

/* Bundle members: each is a small sequenced frame built by this generator. */
static void gbundle(gen *g, mp_frame *f, int depth)
{
    size_t used = 0;
    unsigned n = g8(g) % 5, ok = 0;
    for (unsigned i = 0; i < n; i++) {
        mp_frame *m = calloc(1, sizeof *m);
        FZ_CHECK(m);
        static const uint8_t mtypes[] = {MP_T_DATA, MP_T_NAME_WITHDRAW, MP_T_PATH_CREDIT,
                                         MP_T_MGMT, MP_T_PATH_ACCEPT, MP_T_MINET,
                                         MP_T_FRAGMENT, MP_T_BUNDLE};
        uint8_t sel = g8(g);
        m->hdr.type = g->chaos ? sel : mtypes[sel % sizeof mtypes];
        m->hdr.flags = gmask(g, g8(g), MP_FLAGS_MASK);
        gbody(g, m, depth + 1);
        size_t before = used;
        int rc = mp_bundle_append(bundle_buf, sizeof bundle_buf, &used, m);
        if (rc < 0) {
            fz_check_err(rc);
            FZ_CHECK(used == before); /* a refused member leaves the bundle as it was */
        } else {
            ok++;
            /* The member just appended walks back out equal to what went in. */
            mp_bundle b = {1, {bundle_buf + before, used - before}};
            size_t pos = 0;
            mp_frame back;
            FZ_CHECKF(mp_bundle_next(&b, &pos, &back) == 1, "appended member does not walk");
            FZ_CHECK(pos == used - before);
            m->hdr.version = MP_VERSION;
            m->hdr.length = (uint16_t)(used - before);
            m->hdr.seq = m->hdr.ack = 0;
            FZ_CHECK(fz_frame_eq(m, &back, m->hdr.type == MP_T_NAME_SYNC));
        }
        free(m);
    }
    f->u.bundle.count = (uint16_t)ok;
    f->u.bundle.members.ptr = bundle_buf;
    f->u.bundle.members.len = used;
    f->hdr.chan = 0;
    f->hdr.cseq = 0;
    /* count is not on the wire (members run to the end of the frame): the encoder
     * ignores it and the decoder computes it, so it is set true here. */
}

static void gbody(gen *g, mp_frame *f, int depth)
{
    uint8_t cm = g8(g);
    f->hdr.seq = g16(g);
    f->hdr.ack = g16(g);
    f->hdr.cseq = g32(g);
    uint32_t rawchan = g32(g);
    uint32_t path = g->chaos ? g32(g) : MP_CHAN_FIRST_PATH + g32(g) % 0x10000u;
    switch (cm & 3) {
    case 0: f->hdr.chan = MP_CHAN_NODE; break;
    case 1: f->hdr.chan = MP_CHAN_MINET; break;
    case 2: f->hdr.chan = path; break;
    default: f->hdr.chan = rawchan; break;
    }

    switch (f->hdr.type) {
    case MP_T_DISCOVER: {
        mp_discover *d = &f->u.discover;
        d->node_id = gnode(g);
        d->domain = g32(g);
        d->max_version = (uint8_t)grange(g, g8(g), 1, 15);
        d->dflags = gmask(g, g8(g), MP_DFLAGS_DEFINED);
        d->mtu = (uint16_t)grange(g, g16(g), 68, 65535);
        d->incarnation = g32(g);
        gopts(g, &d->opts);
        break;
    }
    case MP_T_LINK_RESET:
    case MP_T_LINK_ACTIVATE: {
        mp_link *l = &f->u.link;
        l->node_id = gnode(g);
        l->peer_id = gnode(g);
        l->incarnation = g32(g);
        l->session = g16(g);
        l->next_seq = g16(g);
        l->tolerance_ms = (uint16_t)grange(g, g16(g), MP_TOLERANCE_MIN_MS, MP_TOLERANCE_MAX_MS);
        l->window = (uint16_t)grange(g, g16(g), MP_WINDOW_MIN, MP_WINDOW_MAX);
        l->mtu = (uint16_t)grange(g, g16(g), 68, 65535);
        l->priority = (uint8_t)grange(g, g8(g), 0, MP_PRIORITY_MAX);
        l->lflags = gmask(g, g8(g), MP_LFLAGS_DEFINED);
        gopts(g, &l->opts);
        break;
    }
    case MP_T_LINK_STATE: {
        mp_link_state *s = &f->u.state;
        s->session = g16(g);
        s->ack = g16(g);
        s->next_seq = g16(g);
        s->sflags = gmask(g, g8(g), MP_SFLAGS_DEFINED);
        s->gap_count = gcount(g, 6);
        s->timestamp = g32(g);
        s->echo = g32(g);
        unsigned lim = s->gap_count < MP_MAX_GAPS ? s->gap_count : MP_MAX_GAPS;
        for (unsigned i = 0; i < lim; i++) {
            s->gaps[i].start = g16(g);
            s->gaps[i].end = g->chaos ? g16(g) : (uint16_t)(s->gaps[i].start + g8(g) % 16);
        }
        break;
    }
    case MP_T_DATA:
        f->u.data = fz_view(&g->in, g16(g));
        break;
    case MP_T_FRAGMENT: {
        mp_fragment *x = &f->u.fragment;
        x->inner_type = g->chaos ? g8(g) : types[4 + g8(g) % 14]; /* sequenced */
        x->data = fz_view(&g->in, 1 + g16(g) % 2048);
        x->offset = g->chaos ? g32(g) : g32(g) % 4096;
        x->total_len = g->chaos ? g32(g) : x->offset + (uint32_t)x->data.len + g16(g);
        break;
    }
    case MP_T_BUNDLE:
        if (depth == 0) /* members are built in one buffer: no nesting */
            gbundle(g, f, depth);
        break;
    case MP_T_MINET: {
        mp_minet *m = &f->u.minet;
        m->mflags = gmask(g, g8(g), MP_MFLAGS_DEFINED);
        static const uint8_t gso[] = {MP_GSO_NONE, MP_GSO_TCPV4, MP_GSO_UDP, MP_GSO_TCPV6,
                                      MP_GSO_TCPV4 | MP_GSO_ECN, MP_GSO_TCPV6 | MP_GSO_ECN};
        uint8_t gs = g8(g);
        m->gso_type = g->chaos ? gs : gso[gs % sizeof gso];
        m->hdr_len = g16(g);
        m->gso_size = g16(g);
        m->csum_start = g16(g);
        m->csum_offset = g16(g);
        m->domain = g16(g);
        m->eth = fz_view(&g->in, (g->chaos ? 0 : MP_MINET_MIN_ETH) + g16(g) % 1600);
        if (!g->chaos)
            f->hdr.chan = MP_CHAN_MINET;
        break;
    }
    case MP_T_NAME_PUBLISH:
        gname_rec(g, &f->u.publish);
        if (!g->chaos)
            f->hdr.chan = MP_CHAN_NODE;
        break;
    case MP_T_NAME_WITHDRAW:
        f->u.withdraw.device_id = g32(g);
        f->u.withdraw.generation = g32(g);
        f->u.withdraw.name = gname(g, MP_MAX_NAME, 1);
        if (!g->chaos)
            f->hdr.chan = MP_CHAN_NODE;
        break;
    case MP_T_NAME_SYNC: {
        mp_name_sync *y = &f->u.sync;
        y->yflags = gmask(g, g8(g), MP_YFLAGS_DEFINED);
        unsigned n = g8(g) % 8;
        for (unsigned i = 0; i < n; i++) {
            memset(&sync_recs[i], 0, sizeof sync_recs[i]);
            gname_rec(g, &sync_recs[i]);
        }
        y->count = (uint16_t)n;
        y->enc_recs = sync_recs;
        y->records.ptr = NULL;
        y->records.len = 0;
        if (!g->chaos)
            f->hdr.chan = MP_CHAN_NODE;
        break;
    }
    case MP_T_PATH_OPEN: {
        mp_path_open *o = &f->u.open;
        o->src_path = g->chaos ? g32(g) : path;
        o->src_device = g32(g);
        o->dst_device = g32(g);
        o->credit = g32(g);
        o->pkind = (uint8_t)grange(g, g8(g), MP_PK_UNICAST, MP_PK_ANYCAST);
        o->name = gname(g, MP_MAX_NAME, 0);
        gopts(g, &o->opts);
        if (!g->chaos)
            f->hdr.chan = MP_CHAN_NODE;
        break;
    }
    case MP_T_PATH_ACCEPT:
        f->u.accept.dst_path = g->chaos ? g32(g) : f->hdr.chan;
        f->u.accept.src_path = g->chaos ? g32(g) : path;
        f->u.accept.credit = g32(g);
        break;
    case MP_T_PATH_CLOSE:
        f->u.close.dst_path = g->chaos ? g32(g) : f->hdr.chan;
        f->u.close.src_path = g->chaos ? g32(g) : path;
        f->u.close.last_cseq = g32(g);
        f->u.close.reason = (uint8_t)grange(g, g8(g), 0, MP_R_MAX);
        break;
    case MP_T_PATH_ABORT:
        f->u.abort_.dst_path = g->chaos ? g32(g) : f->hdr.chan;
        f->u.abort_.src_path = g->chaos ? g32(g) : path;
        f->u.abort_.error = (uint16_t)grange(g, g16(g), 0, MP_R_MAX);
        break;
    case MP_T_PATH_CREDIT:
        f->u.credit.dst_path = g->chaos ? g32(g) : f->hdr.chan;
        f->u.credit.limit = g32(g);
        break;
    case MP_T_SERVICE_STATUS: {
        mp_service_status *s = &f->u.status;
        s->status = (uint8_t)grange(g, g8(g), 1, MP_ST_MAX);
        s->reason = (uint8_t)grange(g, g8(g), 0, MP_R_MAX);
        s->node = g32(g);
        s->path = g32(g);
        s->device = g32(g);
        s->name = gname(g, MP_MAX_NAME, 0);
        break;
    }
    case MP_T_MGMT: {
        mp_mgmt *m = &f->u.mgmt;
        m->corr_id = g32(g);
        m->epoch = g32(g);
        m->src_entity = g32(g);
        m->dst_entity = g32(g);
        m->uop_count = gcount(g, 8);
        m->gflags = gmask(g, g8(g), MP_GFLAGS_DEFINED);
        unsigned lim = m->uop_count < MP_MAX_UOPS ? m->uop_count : MP_MAX_UOPS;
        for (unsigned i = 0; i < lim; i++) {
            m->uops[i].opcode = g16(g);
            m->uops[i].arg = g16(g);
        }
        m->payload = fz_view(&g->in, g16(g));
        break;
    }
    case MP_T_SECURED: {
        mp_secured *s = &f->u.secured;
        s->key_id = g8(g);
        s->counter = fz_u64(&g->in);
        s->ciphertext = fz_view(&g->in, (g->chaos ? 0 : MP_COMMON_HDR_LEN) + g16(g) % 512);
        uint8_t *tag = arena_get(MP_SECURED_TAG_LEN);
        if (tag)
            fz_copy(&g->in, tag, MP_SECURED_TAG_LEN);
        s->tag = tag;
        break;
    }
    case MP_T_KEY_EXCHANGE: {
        mp_key_exchange *k = &f->u.kx;
        k->phase = (uint8_t)grange(g, g8(g), MP_KX_INIT, MP_KX_CONFIRM);
        k->key_id = g8(g);
        k->suite = (uint16_t)grange(g, g16(g), MP_SUITE_AES256GCM, MP_SUITE_CHACHA20POLY1305);
        k->node_id = gnode(g);
        k->exchange_id = g32(g);
        fz_copy(&g->in, k->public_key, sizeof k->public_key);
        fz_copy(&g->in, k->random, sizeof k->random);
        fz_copy(&g->in, k->mac, sizeof k->mac);
        break;
    }
    default:
        /* An unassigned type: some bytes in the union, which the encoder must not use. */
        fz_copy(&g->in, (uint8_t *)&f->u, 32);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gen g = {fz_in_make(data, size), false};
    arena_used = 0;
    uint8_t sel = g8(&g), mode = g8(&g);
    g.chaos = mode & 1;

    mp_frame *f = malloc(sizeof *f);
    FZ_CHECK(f);
    memset(f, 0, sizeof *f);
    f->hdr.type = sel < 0xF0 ? types[sel % NTYPES] : g8(&g);
    f->hdr.flags = gmask(&g, g8(&g), MP_FLAGS_MASK);
    f->hdr.version = g8(&g); /* computed by the encoder, whatever is here */
    f->hdr.length = g16(&g);
    gbody(&g, f, 0);

    int n = fz_roundtrip(f, f->hdr.type == MP_T_NAME_SYNC, NULL, 0);
    if (n < 0) {
        /* Refusing is fine; refusing a registered type in sane mode for want of room is not. */
        FZ_CHECK(n != MP_ENOSPC || mp_encoded_len(f) > (int)MP_MAX_FRAME ||
                 mp_encoded_len(f) < 0);
    } else {
        FZ_CHECKF(mp_type_name(f->hdr.type) != NULL, "unassigned type 0x%02x encoded",
                  f->hdr.type);
    }
    free(f);
    return 0;
}
