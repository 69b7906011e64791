/*
 * msgr-codec — command-line front end to the wire codec (libmp).
 *
 *   msgr-codec decode [--json] HEX      decode one frame (--json: spec/vectors "fields")
 *   msgr-codec reencode HEX             decode, encode again, print hex
 *   msgr-codec serial [--cap N] HEX     de-frame serial line bytes (JSON)
 *   msgr-codec serial-encode HEX        wrap one frame for the serial line
 *   msgr-codec caphdr [--reencode] HEX  decode a capture pseudo-header (JSON)
 *   msgr-codec name HEX                 check a logical-device name (JSON)
 *   msgr-codec pattern HEX NAME...      check a pattern, sort NAMEs into match/nomatch
 *   msgr-codec encode-demo              encode and decode a few example frames
 *
 * HEX may be "-" to read the hex from stdin (serial vectors exceed one argv string).
 * Exit status: 0 success, 2 the codec rejected the input (its MP_E* name is printed
 * on stdout, last line), 1 usage error.  The output formats are what
 * tests/proto/run_vectors.py compares against spec/vectors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp/mp.h"

/* ---- A tiny emitter: one-line JSON, or indented text for people ------------------ */

typedef struct emitter {
    bool json;
    int depth;
    bool first[16];
} emitter;

static void em_item(emitter *e, const char *key)
{
    if (e->json) {
        if (!e->first[e->depth])
            putchar(',');
        e->first[e->depth] = false;
        if (key)
            printf("\"%s\":", key);
    } else {
        printf("%*s%s%s", 2 * (e->depth - 1), "", key ? key : "-", key ? ": " : " ");
    }
}

static void em_open(emitter *e, const char *key, char brace)
{
    if (e->depth == 0) {
        if (e->json)
            putchar(brace);
    } else if (e->json) {
        em_item(e, key);
        putchar(brace);
    } else {
        printf("%*s%s%s\n", 2 * (e->depth - 1), "", key ? key : "-", key ? ":" : "");
    }
    e->depth++;
    e->first[e->depth] = true;
}

static void em_close(emitter *e, char brace)
{
    e->depth--;
    if (e->json) {
        putchar(brace);
        if (e->depth == 0)
            putchar('\n');
    }
}

static void em_u(emitter *e, const char *key, unsigned long long v)
{
    em_item(e, key);
    printf(e->json ? "%llu" : "%llu\n", v);
}

static void em_hex(emitter *e, const char *key, const uint8_t *p, size_t n)
{
    em_item(e, key);
    if (e->json)
        putchar('"');
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    if (e->json)
        putchar('"');
    else
        printf("%s\n", n ? "" : "(empty)");
}

static void em_str(emitter *e, const char *key, const uint8_t *p, size_t n)
{
    em_item(e, key);
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\')
            printf("\\%c", p[i]);
        else if (p[i] < 0x20 || p[i] > 0x7E)
            printf("\\u%04x", p[i]);
        else
            putchar(p[i]);
    }
    putchar('"');
    if (!e->json)
        putchar('\n');
}

/* ---- Frame printing (keys: spec/vectors/FORMAT.md) -------------------------------- */

static void emit_opts(emitter *e, const mp_opts *o)
{
    em_open(e, "opts", '[');
    for (unsigned i = 0; i < o->n; i++) {
        em_open(e, NULL, '{');
        em_u(e, "type", o->v[i].type);
        em_hex(e, "value", o->v[i].val, o->v[i].len);
        em_close(e, '}');
    }
    em_close(e, ']');
}

static void emit_rec(emitter *e, const mp_name_rec *r)
{
    em_u(e, "device_id", r->device_id);
    em_u(e, "dtype", r->dtype);
    em_u(e, "nflags", r->nflags);
    em_u(e, "rank", r->rank);
    em_u(e, "generation", r->generation);
    em_str(e, "name", r->name.ptr, r->name.len);
    em_u(e, "prop_count", r->prop_count);
    em_open(e, "props", '[');
    for (unsigned i = 0; i < r->prop_count; i++) {
        em_open(e, NULL, '{');
        em_str(e, "key", r->props[i].key, r->props[i].key_len);
        em_hex(e, "value", r->props[i].val, r->props[i].val_len);
        em_close(e, '}');
    }
    em_close(e, ']');
}

static void emit_frame(emitter *e, const mp_frame *f, bool member);

static void emit_body(emitter *e, const mp_frame *f)
{
    em_open(e, "body", '{');
    switch (f->hdr.type) {
    case MP_T_DISCOVER: {
        const mp_discover *d = &f->u.discover;
        em_u(e, "node_id", d->node_id);
        em_u(e, "domain", d->domain);
        em_u(e, "max_version", d->max_version);
        em_u(e, "dflags", d->dflags);
        em_u(e, "mtu", d->mtu);
        em_u(e, "incarnation", d->incarnation);
        emit_opts(e, &d->opts);
        break;
    }
    case MP_T_LINK_RESET:
    case MP_T_LINK_ACTIVATE: {
        const mp_link *l = &f->u.link;
        em_u(e, "node_id", l->node_id);
        em_u(e, "peer_id", l->peer_id);
        em_u(e, "incarnation", l->incarnation);
        em_u(e, "session", l->session);
        em_u(e, "next_seq", l->next_seq);
        em_u(e, "tolerance_ms", l->tolerance_ms);
        em_u(e, "window", l->window);
        em_u(e, "mtu", l->mtu);
        em_u(e, "priority", l->priority);
        em_u(e, "lflags", l->lflags);
        emit_opts(e, &l->opts);
        break;
    }
    case MP_T_LINK_STATE: {
        const mp_link_state *s = &f->u.state;
        em_u(e, "session", s->session);
        em_u(e, "ack", s->ack);
        em_u(e, "next_seq", s->next_seq);
        em_u(e, "sflags", s->sflags);
        em_u(e, "gap_count", s->gap_count);
        em_u(e, "timestamp", s->timestamp);
        em_u(e, "echo", s->echo);
        em_open(e, "gaps", '[');
        for (unsigned i = 0; i < s->gap_count; i++) {
            em_open(e, NULL, '{');
            em_u(e, "start", s->gaps[i].start);
            em_u(e, "end", s->gaps[i].end);
            em_close(e, '}');
        }
        em_close(e, ']');
        break;
    }
    case MP_T_DATA:
        em_hex(e, "payload", f->u.data.ptr, f->u.data.len);
        break;
    case MP_T_FRAGMENT: {
        const mp_fragment *g = &f->u.fragment;
        em_u(e, "inner_type", g->inner_type);
        em_u(e, "total_len", g->total_len);
        em_u(e, "offset", g->offset);
        em_hex(e, "data", g->data.ptr, g->data.len);
        break;
    }
    case MP_T_BUNDLE: {
        em_u(e, "count", f->u.bundle.count);
        em_open(e, "members", '[');
        size_t pos = 0;
        mp_frame m;
        while (mp_bundle_next(&f->u.bundle, &pos, &m) == 1)
            emit_frame(e, &m, true);
        em_close(e, ']');
        break;
    }
    case MP_T_MINET: {
        const mp_minet *m = &f->u.minet;
        em_u(e, "mflags", m->mflags);
        em_u(e, "gso_type", m->gso_type);
        em_u(e, "hdr_len", m->hdr_len);
        em_u(e, "gso_size", m->gso_size);
        em_u(e, "csum_start", m->csum_start);
        em_u(e, "csum_offset", m->csum_offset);
        em_u(e, "domain", m->domain);
        em_hex(e, "eth", m->eth.ptr, m->eth.len);
        break;
    }
    case MP_T_NAME_PUBLISH:
        emit_rec(e, &f->u.publish);
        break;
    case MP_T_NAME_WITHDRAW:
        em_u(e, "device_id", f->u.withdraw.device_id);
        em_u(e, "generation", f->u.withdraw.generation);
        em_str(e, "name", f->u.withdraw.name.ptr, f->u.withdraw.name.len);
        break;
    case MP_T_NAME_SYNC: {
        em_u(e, "yflags", f->u.sync.yflags);
        em_u(e, "count", f->u.sync.count);
        em_open(e, "records", '[');
        size_t pos = 0;
        mp_name_rec r;
        while (mp_name_sync_next(&f->u.sync, &pos, &r) == 1) {
            em_open(e, NULL, '{');
            emit_rec(e, &r);
            em_close(e, '}');
        }
        em_close(e, ']');
        break;
    }
    case MP_T_PATH_OPEN: {
        const mp_path_open *o = &f->u.open;
        em_u(e, "src_path", o->src_path);
        em_u(e, "src_device", o->src_device);
        em_u(e, "dst_device", o->dst_device);
        em_u(e, "credit", o->credit);
        em_u(e, "pkind", o->pkind);
        em_str(e, "name", o->name.ptr, o->name.len);
        emit_opts(e, &o->opts);
        break;
    }
    case MP_T_PATH_ACCEPT:
        em_u(e, "dst_path", f->u.accept.dst_path);
        em_u(e, "src_path", f->u.accept.src_path);
        em_u(e, "credit", f->u.accept.credit);
        break;
    case MP_T_PATH_CLOSE:
        em_u(e, "dst_path", f->u.close.dst_path);
        em_u(e, "src_path", f->u.close.src_path);
        em_u(e, "last_cseq", f->u.close.last_cseq);
        em_u(e, "reason", f->u.close.reason);
        break;
    case MP_T_PATH_ABORT:
        em_u(e, "dst_path", f->u.abort_.dst_path);
        em_u(e, "src_path", f->u.abort_.src_path);
        em_u(e, "error", f->u.abort_.error);
        break;
    case MP_T_PATH_CREDIT:
        em_u(e, "dst_path", f->u.credit.dst_path);
        em_u(e, "limit", f->u.credit.limit);
        break;
    case MP_T_SERVICE_STATUS: {
        const mp_service_status *s = &f->u.status;
        em_u(e, "status", s->status);
        em_u(e, "reason", s->reason);
        em_u(e, "node", s->node);
        em_u(e, "path", s->path);
        em_u(e, "device", s->device);
        em_str(e, "name", s->name.ptr, s->name.len);
        break;
    }
    case MP_T_MGMT: {
        const mp_mgmt *m = &f->u.mgmt;
        em_u(e, "corr_id", m->corr_id);
        em_u(e, "epoch", m->epoch);
        em_u(e, "src_entity", m->src_entity);
        em_u(e, "dst_entity", m->dst_entity);
        em_u(e, "uop_count", m->uop_count);
        em_u(e, "gflags", m->gflags);
        em_open(e, "uops", '[');
        for (unsigned i = 0; i < m->uop_count; i++) {
            em_open(e, NULL, '{');
            em_u(e, "opcode", m->uops[i].opcode);
            em_u(e, "arg", m->uops[i].arg);
            em_close(e, '}');
        }
        em_close(e, ']');
        em_hex(e, "payload", m->payload.ptr, m->payload.len);
        break;
    }
    case MP_T_SECURED:
        em_u(e, "key_id", f->u.secured.key_id);
        em_u(e, "counter", f->u.secured.counter);
        em_hex(e, "ciphertext", f->u.secured.ciphertext.ptr, f->u.secured.ciphertext.len);
        em_hex(e, "tag", f->u.secured.tag, MP_SECURED_TAG_LEN);
        break;
    case MP_T_KEY_EXCHANGE: {
        const mp_key_exchange *k = &f->u.kx;
        em_u(e, "phase", k->phase);
        em_u(e, "key_id", k->key_id);
        em_u(e, "suite", k->suite);
        em_u(e, "node_id", k->node_id);
        em_u(e, "exchange_id", k->exchange_id);
        em_hex(e, "public_key", k->public_key, sizeof k->public_key);
        em_hex(e, "random", k->random, sizeof k->random);
        em_hex(e, "mac", k->mac, sizeof k->mac);
        break;
    }
    default: /* mp_decode rejects unassigned types before we get here */
        break;
    }
    em_close(e, '}');
}

static void emit_frame(emitter *e, const mp_frame *f, bool member)
{
    const char *tn = mp_type_name(f->hdr.type);
    em_open(e, NULL, '{');
    em_u(e, "version", f->hdr.version);
    em_u(e, "flags", f->hdr.flags);
    em_str(e, "type", (const uint8_t *)(tn ? tn : "?"), strlen(tn ? tn : "?"));
    em_u(e, "type_code", f->hdr.type);
    em_u(e, "length", f->hdr.length);
    if (!member && MP_TYPE_IS_SEQUENCED(f->hdr.type)) {
        em_u(e, "seq", f->hdr.seq);
        em_u(e, "ack", f->hdr.ack);
    }
    if (member || MP_TYPE_IS_SEQUENCED(f->hdr.type)) {
        em_u(e, "chan", f->hdr.chan);
        em_u(e, "cseq", f->hdr.cseq);
    }
    emit_body(e, f);
    em_close(e, '}');
}

/* ---- Helpers ------------------------------------------------------------------------- */

static int usage(void)
{
    fputs("usage: msgr-codec decode [--json] HEX | reencode HEX | serial [--cap N] HEX |\n"
          "       serial-encode HEX | caphdr [--reencode] HEX | name HEX |\n"
          "       pattern HEX NAME... | encode-demo\n",
          stderr);
    return 1;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Read all of stdin (for inputs longer than one argv string may be: 128 KiB). */
static char *read_stdin(void)
{
    size_t cap = 1 << 16, len = 0;
    char *s = malloc(cap);
    while (s != NULL) {
        size_t got = fread(s + len, 1, cap - len - 1, stdin);
        len += got;
        if (got == 0)
            break;
        if (cap - len < 2) {
            char *t = realloc(s, cap * 2);
            if (t == NULL)
                free(s);
            s = t;
            cap *= 2;
        }
    }
    if (s != NULL)
        s[len] = '\0';
    return s;
}

/* Parse hex (whitespace allowed between bytes).  Returns a malloc'd buffer. */
static uint8_t *unhex(const char *s, size_t *n)
{
    size_t cap = strlen(s) / 2 + 1, len = 0;
    uint8_t *b = malloc(cap);
    if (b == NULL)
        return NULL;
    while (*s) {
        if (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t' || *s == ':') {
            s++;
            continue;
        }
        int h = hexval(s[0]), l = s[1] ? hexval(s[1]) : -1;
        if (h < 0 || l < 0) {
            free(b);
            return NULL;
        }
        b[len++] = (uint8_t)(h << 4 | l);
        s += 2;
    }
    *n = len;
    return b;
}

static void print_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    putchar('\n');
}

static int fail(int err)
{
    printf("%s\n", mp_errname(err));
    return 2;
}

/* ---- Commands ------------------------------------------------------------------------- */

static int cmd_decode(const uint8_t *b, size_t n, bool json)
{
    mp_frame f;
    int rc = mp_decode(b, n, &f);
    if (rc < 0)
        return fail(rc);
    emitter e = {.json = json};
    emit_frame(&e, &f, false);
    return 0;
}

static int cmd_reencode(const uint8_t *b, size_t n)
{
    mp_frame f;
    static uint8_t out[MP_MAX_FRAME];
    int rc = mp_decode(b, n, &f);
    if (rc >= 0)
        rc = mp_encode(&f, out, sizeof out);
    if (rc < 0)
        return fail(rc);
    print_hex(out, (size_t)rc);
    return 0;
}

static int cmd_serial(const uint8_t *b, size_t n, size_t cap)
{
    uint8_t *buf = malloc(cap ? cap : 1);
    mp_deframer d;
    mp_deframer_init(&d, buf, cap);
    emitter e = {.json = true};
    em_open(&e, NULL, '{');
    em_open(&e, "frames", '[');
    int first_err = 0;
    /* Byte by byte: the result must not depend on chunking, and this lets us name the
     * first discarded frame's reason. */
    for (size_t i = 0; i < n; i++) {
        mp_deframer before = d;
        size_t used;
        int rc = mp_deframer_feed(&d, b + i, 1, &used);
        if (rc > 0)
            em_hex(&e, NULL, d.buf, (size_t)rc);
        /* The counter -> error mapping of spec/vectors/FORMAT.md. */
        if (first_err != 0)
            continue;
        if (d.crc_errors != before.crc_errors)
            first_err = MP_ECRC;
        else if (d.framing_errors != before.framing_errors)
            first_err = MP_EFRAMING;
        else if (d.overruns != before.overruns)
            first_err = MP_ENOSPC;
        else if (d.runts != before.runts)
            first_err = MP_ETRUNC;
    }
    em_close(&e, ']');
    em_u(&e, "crc_errors", d.crc_errors);
    em_u(&e, "framing_errors", d.framing_errors);
    em_u(&e, "overruns", d.overruns);
    em_u(&e, "runts", d.runts);
    em_close(&e, '}');
    free(buf);
    /* Invalid input in the vectors' sense: nothing came out and something was dropped. */
    if (d.frames_ok == 0 && first_err != 0)
        return fail(first_err);
    return 0;
}

static int cmd_serial_encode(const uint8_t *b, size_t n)
{
    size_t cap = mp_serial_max_encoded(n);
    uint8_t *out = malloc(cap);
    int rc = out ? mp_serial_encode(b, n, out, cap) : MP_ENOSPC;
    if (rc >= 0)
        print_hex(out, (size_t)rc);
    free(out);
    return rc < 0 ? fail(rc) : 0;
}

static int cmd_caphdr(const uint8_t *b, size_t n, bool reencode)
{
    mp_caphdr h;
    int rc = mp_caphdr_decode(b, n, &h);
    if (rc < 0)
        return fail(rc);
    if (reencode) {
        uint8_t out[MP_CAPHDR_LEN];
        rc = mp_caphdr_encode(&h, out, sizeof out);
        if (rc < 0)
            return fail(rc);
        print_hex(out, (size_t)rc);
        return 0;
    }
    emitter e = {.json = true};
    em_open(&e, NULL, '{');
    em_u(&e, "bearer", h.bearer);
    em_u(&e, "cflags", h.cflags);
    em_u(&e, "bearer_index", h.bearer_index);
    em_close(&e, '}');
    return 0;
}

static int cmd_name(const uint8_t *b, size_t n)
{
    int rc = mp_name_check(b, n);
    if (rc < 0)
        return fail(rc);
    emitter e = {.json = true};
    em_open(&e, NULL, '{');
    em_str(&e, "name", b, n);
    em_close(&e, '}');
    return 0;
}

static int cmd_pattern(const uint8_t *b, size_t n, char **names, int count)
{
    int rc = mp_pattern_check(b, n);
    if (rc < 0)
        return fail(rc);
    emitter e = {.json = true};
    em_open(&e, NULL, '{');
    em_str(&e, "pattern", b, n);
    for (int pass = 0; pass < 2; pass++) {
        em_open(&e, pass == 0 ? "match" : "nomatch", '[');
        for (int i = 0; i < count; i++) {
            const uint8_t *nm = (const uint8_t *)names[i];
            if (mp_pattern_match(b, n, nm, strlen(names[i])) == (pass == 0))
                em_str(&e, NULL, nm, strlen(names[i]));
        }
        em_close(&e, ']');
    }
    em_close(&e, '}');
    return 0;
}

static int demo_one(const char *title, const mp_frame *f)
{
    uint8_t buf[512];
    int n = mp_encode(f, buf, sizeof buf);
    printf("\n-- %s --\n", title);
    if (n < 0) {
        printf("encode failed: %s\n", mp_errname(n));
        return 2;
    }
    printf("hex (%d bytes): ", n);
    print_hex(buf, (size_t)n);
    mp_frame d;
    int rc = mp_decode(buf, (size_t)n, &d);
    if (rc < 0) {
        printf("decode failed: %s\n", mp_errname(rc));
        return 2;
    }
    emitter e = {.json = false};
    emit_frame(&e, &d, false);
    return 0;
}

static int cmd_demo(void)
{
    int rc = 0;
    static const uint8_t node_name[] = "iop-3";
    mp_frame f;

    memset(&f, 0, sizeof f);
    f.hdr.type = MP_T_DISCOVER;
    f.u.discover = (mp_discover){.node_id = 3,
                                 .domain = 0x4D534752,
                                 .max_version = 1,
                                 .mtu = MP_ETH_MTU,
                                 .incarnation = 0x1234ABCD};
    f.u.discover.opts.n = 1;
    f.u.discover.opts.v[0] = (mp_opt){MP_OPT_NODE_NAME, 5, node_name};
    rc |= demo_one("DISCOVER from node 3, domain 'MSGR', with its node name", &f);

    static const uint8_t hello[] = "hello, IOP";
    memset(&f, 0, sizeof f);
    f.hdr = (mp_hdr){.type = MP_T_DATA, .seq = 5, .ack = 3, .chan = 0x100, .cseq = 7};
    f.u.data = (mp_bytes){hello, sizeof hello - 1};
    rc |= demo_one("DATA on path 0x100, cseq 7: 16 bytes of header", &f);

    static const uint8_t dev[] = "storage/raid0";
    static const uint8_t k1[] = "model", v1[] = "X100", k2[] = "slot", v2[] = "3";
    memset(&f, 0, sizeof f);
    f.hdr = (mp_hdr){.type = MP_T_NAME_PUBLISH, .seq = 6, .ack = 3, .chan = 0, .cseq = 1};
    mp_name_rec *r = &f.u.publish;
    *r = (mp_name_rec){.device_id = 42,
                       .dtype = 7,
                       .nflags = MP_NFLAG_EXCLUSIVE,
                       .rank = 10,
                       .generation = 1,
                       .name = {dev, sizeof dev - 1},
                       .prop_count = 2};
    r->props[0] = (mp_prop){k1, 5, v1, 4};
    r->props[1] = (mp_prop){k2, 4, v2, 1};
    rc |= demo_one("NAME_PUBLISH of an exclusive device with two properties", &f);

    memset(&f, 0, sizeof f);
    f.hdr = (mp_hdr){.type = MP_T_PATH_OPEN, .seq = 7, .ack = 3, .chan = 0, .cseq = 2};
    f.u.open = (mp_path_open){.src_path = 0x101,
                              .src_device = 9,
                              .dst_device = 42,
                              .credit = 64,
                              .pkind = MP_PK_UNICAST,
                              .name = {dev, sizeof dev - 1}};
    rc |= demo_one("PATH_OPEN to storage/raid0 with 64 messages of credit", &f);
    return rc ? 2 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *cmd = argv[1];
    if (strcmp(cmd, "encode-demo") == 0)
        return cmd_demo();

    int ai = 2;
    bool json = false, reencode = false;
    size_t cap = MP_MAX_FRAME + MP_SERIAL_CRC_LEN; /* one maximum frame and its CRC */
    for (; ai < argc && strncmp(argv[ai], "--", 2) == 0; ai++) {
        if (strcmp(argv[ai], "--json") == 0)
            json = true;
        else if (strcmp(argv[ai], "--reencode") == 0)
            reencode = true;
        else if (strcmp(argv[ai], "--cap") == 0 && ai + 1 < argc)
            cap = strtoul(argv[++ai], NULL, 0);
        else
            return usage();
    }
    if (ai >= argc)
        return usage();
    size_t n;
    uint8_t *b;
    if (strcmp(argv[ai], "-") == 0) {
        char *text = read_stdin();
        b = text ? unhex(text, &n) : NULL;
        free(text);
    } else {
        b = unhex(argv[ai], &n);
    }
    if (b == NULL) {
        fprintf(stderr, "msgr-codec: bad hex\n");
        return 1;
    }
    int rc;
    if (strcmp(cmd, "decode") == 0)
        rc = cmd_decode(b, n, json);
    else if (strcmp(cmd, "reencode") == 0)
        rc = cmd_reencode(b, n);
    else if (strcmp(cmd, "serial") == 0)
        rc = cmd_serial(b, n, cap);
    else if (strcmp(cmd, "serial-encode") == 0)
        rc = cmd_serial_encode(b, n);
    else if (strcmp(cmd, "caphdr") == 0)
        rc = cmd_caphdr(b, n, reencode);
    else if (strcmp(cmd, "name") == 0)
        rc = cmd_name(b, n);
    else if (strcmp(cmd, "pattern") == 0)
        rc = cmd_pattern(b, n, argv + ai + 1, argc - ai - 1);
    else
        rc = usage();
    free(b);
    return rc;
}
