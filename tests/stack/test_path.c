/*
 * test_path.c — unit tests of the path layer (stack/core/path.c).
 *
 * Several contexts (one per node) exchange frames through a tiny in-memory "network":
 * every SEND action is encoded with mp_encode into a queue and decoded with mp_decode
 * on delivery, so every frame the path layer emits is also proven encodable.  The
 * tests choose which queued frame to deliver, drop or duplicate, and pass literal
 * timestamps (nanoseconds).
 *
 *     node 1 (A) ----+
 *                    +---- queue ---- node 2 (B), node 3 (C)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

static int failures;
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: CHECK FAILED: %s\n", __FILE__, __LINE__, #c);                  \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)
#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "%s:%d: CHECK FAILED: %s == %s (%lld != %lld)\n", __FILE__, __LINE__,  \
                    #a, #b, a_, b_);                                                               \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#define SEC 1000000000ull

/* ---- Counting allocator with failure injection -------------------------------------- */
typedef struct talloc {
    size_t live_bytes;
    long calls, fail_at;
} talloc;

static void *ta_alloc(void *user, size_t n)
{
    talloc *a = user;
    if (a->fail_at >= 0 && a->calls++ == a->fail_at)
        return NULL;
    void *p = malloc(n);
    if (p)
        a->live_bytes += n;
    return p;
}

static void ta_free(void *user, void *p, size_t n)
{
    talloc *a = user;
    a->live_bytes -= n;
    free(p);
}

/* ---- Nodes, the network and the action log ------------------------------------------- */
#define MAXQ 512
#define MAXLOG 512

typedef struct msg {
    uint32_t from, to;
    size_t len;
    uint8_t buf[512];
} msg;

typedef struct rec {
    int type;
    uint32_t path, group, device, node, peer_device, cseq;
    uint8_t state, pkind;
    uint16_t reason;
    uint8_t ftype;
    size_t len;
    char data[64];
} rec;

typedef struct node {
    uint32_t id;
    mpa_ctx *c;
    talloc a;
    rec log[MAXLOG];
    int nlog;
} node;

static node nodes[4];
static msg q[MAXQ];
static int nq;
static int encode_errors;

static node *N(uint32_t id)
{
    return &nodes[id];
}

static void on_action(void *user, const mpa_action *a)
{
    node *n = user;
    if (a->type == MPA_ACT_SEND) {
        if (nq >= MAXQ) {
            encode_errors++;
            return;
        }
        msg *m = &q[nq];
        int w = mp_encode(a->frame, m->buf, sizeof(m->buf));
        if (w < 0) {
            fprintf(stderr, "mp_encode(type 0x%02x) -> %d\n", a->frame->hdr.type, w);
            encode_errors++;
            return;
        }
        m->from = n->id;
        m->to = a->node;
        m->len = (size_t)w;
        nq++;
        return;
    }
    if (n->nlog >= MAXLOG)
        return;
    rec *r = &n->log[n->nlog++];
    memset(r, 0, sizeof(*r));
    r->type = a->type;
    r->path = a->path;
    r->group = a->group;
    r->device = a->device;
    r->node = a->node;
    r->peer_device = a->peer_device;
    r->cseq = a->cseq;
    r->state = a->state;
    r->reason = a->reason;
    r->pkind = a->pkind;
    if (a->frame)
        r->ftype = a->frame->hdr.type;
    r->len = a->payload.len;
    if (a->payload.len && a->payload.len < sizeof(r->data))
        memcpy(r->data, a->payload.ptr, a->payload.len);
    if (a->type == MPA_ACT_OPEN_REQUEST && a->name.len < sizeof(r->data))
        memcpy(r->data, a->name.ptr, a->name.len);
}

static void setup(const mpa_config *tmpl)
{
    nq = 0;
    encode_errors = 0;
    for (uint32_t i = 1; i <= 3; i++) {
        node *n = N(i);
        memset(n, 0, sizeof(*n));
        n->id = i;
        n->a.fail_at = -1;
        mpa_config cfg;
        if (tmpl)
            cfg = *tmpl;
        else
            memset(&cfg, 0, sizeof(cfg));
        cfg.alloc = (mpa_allocator){ta_alloc, ta_free, &n->a};
        cfg.on_action = on_action;
        cfg.action_user = n;
        int rc = mpa_create(&cfg, &n->c);
        CHECK_EQ(rc, MPA_OK);
    }
}

static void teardown(void)
{
    for (uint32_t i = 1; i <= 3; i++) {
        mpa_destroy(N(i)->c);
        CHECK_EQ(N(i)->a.live_bytes, 0);
    }
    CHECK_EQ(encode_errors, 0);
}

/* Decode queue entry i and hand it to its destination; returns mpa_input's result. */
static int deliver_at(int i, uint64_t now)
{
    if (i >= nq) {
        CHECK(i < nq);
        return MPA_EINVAL;
    }
    msg m = q[i];
    memmove(&q[i], &q[i + 1], (size_t)(nq - i - 1) * sizeof(msg));
    nq--;
    mp_frame f;
    int r = mp_decode(m.buf, m.len, &f);
    CHECK_EQ(r, (int)m.len);
    if (r < 0)
        return r;
    return mpa_input(N(m.to)->c, m.from, &f, now);
}

/* Deliver a copy of entry i, leaving it queued (a duplicate on the wire). */
static int deliver_copy(int i, uint64_t now)
{
    if (i >= nq) {
        CHECK(i < nq);
        return MPA_EINVAL;
    }
    mp_frame f;
    CHECK(mp_decode(q[i].buf, q[i].len, &f) > 0);
    return mpa_input(N(q[i].to)->c, q[i].from, &f, now);
}

static void drop_at(int i)
{
    if (i >= nq) {
        CHECK(i < nq);
        return;
    }
    memmove(&q[i], &q[i + 1], (size_t)(nq - i - 1) * sizeof(msg));
    nq--;
}

static void pump(uint64_t now)
{
    while (nq > 0)
        deliver_at(0, now);
}

static uint8_t qtype(int i)
{
    return q[i].buf[1];
}
static uint32_t qcseq(int i)
{
    return mp_get32(q[i].buf + 12);
}

static int count(const node *n, int type, uint32_t path)
{
    int c = 0;
    for (int i = 0; i < n->nlog; i++)
        c += n->log[i].type == type && (path == 0 || n->log[i].path == path);
    return c;
}

static const rec *last(const node *n, int type, uint32_t path)
{
    for (int i = n->nlog - 1; i >= 0; i--)
        if (n->log[i].type == type && (path == 0 || n->log[i].path == path))
            return &n->log[i];
    return NULL;
}

static uint8_t state(uint32_t nid, uint32_t path)
{
    mpa_info in;
    if (mpa_get_info(N(nid)->c, path, &in) != MPA_OK)
        return 0xFF;
    return in.state;
}

static mpa_info info(uint32_t nid, uint32_t path)
{
    mpa_info in;
    memset(&in, 0, sizeof(in));
    CHECK_EQ(mpa_get_info(N(nid)->c, path, &in), MPA_OK);
    return in;
}

/* Open from node 1 device 5 to (node, device) and return the opener's path id. */
static uint32_t open_to(uint32_t nid, uint32_t dev, uint32_t window, uint64_t now)
{
    mpa_open_args a = {
        .local_device = 5, .peer = {nid, dev, NULL, 0}, .pkind = MP_PK_UNICAST, .window = window};
    uint32_t p = 0;
    CHECK_EQ(mpa_open(N(1)->c, &a, now, &p), MPA_OK);
    return p;
}

/* The acceptor path at node nid: the most recent STATUS OPEN or OPEN_REQUEST there. */
static uint32_t acceptor_path(uint32_t nid)
{
    const rec *r = last(N(nid), MPA_ACT_OPEN_REQUEST, 0);
    const rec *s = last(N(nid), MPA_ACT_STATUS, 0);
    if (s && (!r || s > r))
        return s->path;
    return r ? r->path : 0;
}

static int send_str(uint32_t nid, uint32_t path, const char *s)
{
    return mpa_send(N(nid)->c, path, (const uint8_t *)s, strlen(s));
}

/* ---- Open, accept, refuse ------------------------------------------------------------------ */
static void test_open_accept(void)
{
    setup(NULL);
    CHECK_EQ(mpa_device_add(N(2)->c, 10, MPA_DEV_AUTO_ACCEPT, 0, 0), MPA_OK);
    CHECK_EQ(mpa_device_add(N(2)->c, 10, 0, 0, 0), MPA_EEXIST);
    mpa_open_args a = {.local_device = 5,
                       .peer = {2, 10, NULL, 0},
                       .pkind = MP_PK_UNICAST,
                       .name = (const uint8_t *)"svc/echo",
                       .name_len = 8};
    uint32_t pa = 0;
    CHECK_EQ(mpa_open(N(1)->c, &a, 1000, &pa), MPA_OK);
    CHECK(pa >= MP_CHAN_FIRST_PATH);
    CHECK_EQ(state(1, pa), MPA_ST_OPENING);
    CHECK_EQ(nq, 1);
    CHECK_EQ(qtype(0), MP_T_PATH_OPEN);
    CHECK_EQ(mp_get32(q[0].buf + 8), MP_CHAN_NODE); /* PATH_OPEN rides channel 0 */
    CHECK_EQ(mpa_next_deadline(N(1)->c), 1000 + 2 * SEC);

    deliver_at(0, 1100); /* B accepts at once */
    uint32_t pb = acceptor_path(2);
    CHECK(pb >= MP_CHAN_FIRST_PATH);
    CHECK_EQ(state(2, pb), MPA_ST_OPEN);
    CHECK_EQ(nq, 1);
    CHECK_EQ(qtype(0), MP_T_PATH_ACCEPT);
    CHECK_EQ(mp_get32(q[0].buf + 8), pa); /* on the opener's channel */
    CHECK_EQ(qcseq(0), 0);                /* as its position 0 */
    deliver_at(0, 1200);
    CHECK_EQ(state(1, pa), MPA_ST_OPEN);
    CHECK_EQ(last(N(1), MPA_ACT_STATUS, pa)->state, MPA_ST_OPEN);
    CHECK_EQ(mpa_next_deadline(N(1)->c), UINT64_MAX);
    mpa_info ia = info(1, pa), ib = info(2, pb);
    CHECK_EQ(ia.peer_path, pb);
    CHECK_EQ(ib.peer_path, pa);
    CHECK_EQ(ib.peer_device, 5);
    CHECK_EQ(ib.local_device, 10);
    CHECK_EQ(ia.tx_limit, 64); /* acceptor's grant: its window */
    CHECK_EQ(ib.tx_limit, 65); /* opener's grant: window + the ACCEPT's position */

    /* Data both ways, delivered with the right device and path. */
    CHECK_EQ(send_str(1, pa, "ping"), 1);
    CHECK_EQ(send_str(2, pb, "pong"), 1);
    pump(1300);
    const rec *d = last(N(2), MPA_ACT_DELIVER, pb);
    CHECK(d && d->len == 4 && memcmp(d->data, "ping", 4) == 0 && d->device == 10);
    CHECK_EQ(d->cseq, 0);
    d = last(N(1), MPA_ACT_DELIVER, pa);
    CHECK(d && memcmp(d->data, "pong", 4) == 0 && d->device == 5);
    CHECK_EQ(d->cseq, 1); /* position 0 was the PATH_ACCEPT */

    /* Many-to-one: a second opener path to the same device. */
    uint32_t pa2 = open_to(2, 10, 0, 2000);
    pump(2000);
    uint32_t pb2 = acceptor_path(2);
    CHECK(pb2 != pb);
    CHECK_EQ(state(1, pa2), MPA_ST_OPEN);
    CHECK_EQ(send_str(1, pa2, "two"), 1);
    pump(2100);
    CHECK(last(N(2), MPA_ACT_DELIVER, pb2) != NULL);
    CHECK_EQ(count(N(2), MPA_ACT_DELIVER, pb), 1);

    /* Sending on a path that is not OPEN. */
    uint32_t po = open_to(2, 10, 0, 3000);
    CHECK_EQ(send_str(1, po, "early"), MPA_ESTATE);
    CHECK_EQ(send_str(1, 12345, "x"), MPA_ENOPATH);
    /* A pattern is not a name for PATH_OPEN. */
    a.name = (const uint8_t *)"svc/*";
    a.name_len = 5;
    CHECK_EQ(mpa_open(N(1)->c, &a, 0, &pa), MPA_EINVAL);
    teardown();
}

/* The queued PATH_ABORT from `from`: a refusal names no path of the refuser
 * (src_path 0) and is position 0 of the opener's channel (MSG-PATH-13). */
static bool queued_refusal_ok(uint32_t from, uint16_t error)
{
    for (int i = 0; i < nq; i++) {
        mp_frame f;
        if (q[i].from != from || mp_decode(q[i].buf, q[i].len, &f) < 0 ||
            f.hdr.type != MP_T_PATH_ABORT)
            continue;
        return f.u.abort_.src_path == 0 && f.hdr.cseq == 0 && f.u.abort_.error == error &&
               f.hdr.chan == f.u.abort_.dst_path;
    }
    return false;
}

static void test_manual_accept_refuse(void)
{
    setup(NULL);
    CHECK_EQ(mpa_device_add(N(2)->c, 20, 0, 0, 0), MPA_OK);                   /* asks the app */
    CHECK_EQ(mpa_device_add(N(2)->c, 30, MPA_DEV_AUTO_ACCEPT, 1, 0), MPA_OK); /* one path */

    /* Accept by the application. */
    uint32_t pa = open_to(2, 20, 0, 0);
    pump(0);
    const rec *r = last(N(2), MPA_ACT_OPEN_REQUEST, 0);
    CHECK(r && r->device == 20 && r->node == 1 && r->peer_device == 5);
    CHECK_EQ(state(2, r->path), MPA_ST_ACCEPTING);
    CHECK_EQ(state(1, pa), MPA_ST_OPENING);
    CHECK_EQ(mpa_accept(N(2)->c, r->path, 8), MPA_OK);
    CHECK_EQ(mpa_accept(N(2)->c, r->path, 8), MPA_ESTATE);
    pump(10);
    CHECK_EQ(state(1, pa), MPA_ST_OPEN);
    CHECK_EQ(info(1, pa).tx_limit, 8);

    /* Refusal by the application: the opener sees BROKEN with the reason. */
    uint32_t pr = open_to(2, 20, 0, 20);
    pump(20);
    r = last(N(2), MPA_ACT_OPEN_REQUEST, 0);
    uint32_t bpath = r->path;
    CHECK_EQ(mpa_refuse(N(2)->c, bpath, MP_R_REFUSED), MPA_OK);
    CHECK(queued_refusal_ok(2, MP_R_REFUSED));
    CHECK_EQ(mpa_get_info(N(2)->c, bpath, &(mpa_info){0}), MPA_ENOPATH); /* released */
    pump(30);
    CHECK_EQ(state(1, pr), MPA_ST_BROKEN);
    CHECK_EQ(last(N(1), MPA_ACT_STATUS, pr)->reason, MP_R_REFUSED);

    /* No such device. */
    uint32_t pn = open_to(2, 99, 0, 40);
    pump(40);
    CHECK_EQ(state(1, pn), MPA_ST_BROKEN);
    CHECK_EQ(info(1, pn).reason, MP_R_NO_SUCH_DEVICE);

    /* Device path limit. */
    uint32_t p1 = open_to(2, 30, 0, 50), p2 = open_to(2, 30, 0, 50);
    pump(50);
    CHECK_EQ(state(1, p1), MPA_ST_OPEN);
    CHECK_EQ(state(1, p2), MPA_ST_BROKEN);
    CHECK_EQ(info(1, p2).reason, MP_R_NO_RESOURCES);
    /* Releasing the accepted path frees the device's slot. */
    uint32_t b1 = info(1, p1).peer_path;
    CHECK_EQ(mpa_close(N(1)->c, p1, MP_R_APP_CLOSE, 60), MPA_OK);
    pump(60);
    CHECK_EQ(state(2, b1), MPA_ST_CLOSED);
    CHECK_EQ(mpa_release(N(2)->c, b1), MPA_OK);
    uint32_t p3 = open_to(2, 30, 0, 70);
    pump(70);
    CHECK_EQ(state(1, p3), MPA_ST_OPEN);

    /* Accept timeout on the acceptor: the opener is told. */
    uint32_t pt = open_to(2, 20, 0, 100);
    pump(100);
    uint32_t bt = last(N(2), MPA_ACT_OPEN_REQUEST, 0)->path;
    CHECK_EQ(mpa_tick(N(2)->c, 100 + 2 * SEC - 1), 0);
    CHECK_EQ(mpa_tick(N(2)->c, 100 + 2 * SEC), 1);
    CHECK(queued_refusal_ok(2, MP_R_TIMEOUT));
    CHECK_EQ(state(2, bt), MPA_ST_BROKEN);
    pump(100 + 2 * SEC);
    CHECK_EQ(state(1, pt), MPA_ST_BROKEN);
    CHECK_EQ(info(1, pt).reason, MP_R_TIMEOUT);
    mpa_stats st;
    mpa_get_stats(N(2)->c, &st);
    CHECK_EQ(st.refused, 3);
    CHECK_EQ(st.timeouts, 1);
    teardown();
}

/* ---- Open timeout ------------------------------------------------------------------------------
 */
static void test_open_timeout(void)
{
    setup(NULL);
    CHECK_EQ(mpa_device_add(N(2)->c, 10, MPA_DEV_AUTO_ACCEPT, 0, 0), MPA_OK);
    uint32_t pa = open_to(2, 10, 0, 5 * SEC);
    CHECK_EQ(mpa_next_deadline(N(1)->c), 7 * SEC);
    /* The PATH_OPEN is slow: the opener gives up first. */
    CHECK_EQ(mpa_tick(N(1)->c, 7 * SEC - 1), 0);
    CHECK_EQ(state(1, pa), MPA_ST_OPENING);
    CHECK_EQ(mpa_tick(N(1)->c, 7 * SEC), 1);
    CHECK_EQ(state(1, pa), MPA_ST_BROKEN);
    CHECK_EQ(info(1, pa).reason, MP_R_TIMEOUT);
    CHECK_EQ(mpa_next_deadline(N(1)->c), UINT64_MAX);
    CHECK_EQ(mpa_tick(N(1)->c, 9 * SEC), 0); /* once only */
    /* The late PATH_OPEN is accepted; the late PATH_ACCEPT is answered with an abort,
     * so the acceptor does not keep a half-open path. */
    pump(8 * SEC);
    int b = 0;
    for (uint32_t id = MP_CHAN_FIRST_PATH; id < MP_CHAN_FIRST_PATH + 4; id++)
        if (state(2, id) != 0xFF)
            b = (int)id;
    CHECK(b != 0);
    CHECK_EQ(state(2, (uint32_t)b), MPA_ST_BROKEN);
    CHECK_EQ(info(2, (uint32_t)b).reason, MP_R_TIMEOUT);
    /* Same when the opener already released its handle. */
    uint32_t p2 = open_to(2, 10, 0, 10 * SEC);
    CHECK_EQ(mpa_tick(N(1)->c, 12 * SEC), 1);
    CHECK_EQ(mpa_release(N(1)->c, p2), MPA_OK);
    pump(13 * SEC);
    mpa_stats st;
    mpa_get_stats(N(1)->c, &st);
    CHECK_EQ(st.stray, 1);
    CHECK_EQ(st.timeouts, 2);
    mpa_get_stats(N(2)->c, &st);
    CHECK_EQ(st.broken, 2);
    teardown();
}

/* ---- Close and abort
 * ------------------------------------------------------------------------------ */
static void test_close_abort(void)
{
    setup(NULL);
    CHECK_EQ(mpa_device_add(N(2)->c, 10, MPA_DEV_AUTO_ACCEPT, 0, 0), MPA_OK);
    uint32_t pa = open_to(2, 10, 0, 0);
    pump(0);
    uint32_t pb = info(1, pa).peer_path;

    /* Graceful close drains: data sent before the close arrives before CLOSED. */
    send_str(1, pa, "m1");
    send_str(1, pa, "m2");
    send_str(2, pb, "r1"); /* B's data in flight when A closes */
    CHECK_EQ(mpa_close(N(1)->c, pa, MP_R_APP_CLOSE, 100), MPA_OK);
    CHECK_EQ(state(1, pa), MPA_ST_CLOSING);
    CHECK_EQ(send_str(1, pa, "late"), MPA_ESTATE);
    CHECK_EQ(mpa_close(N(1)->c, pa, MP_R_APP_CLOSE, 100), MPA_ESTATE);
    pump(200);
    CHECK_EQ(state(1, pa), MPA_ST_CLOSED);
    CHECK_EQ(state(2, pb), MPA_ST_CLOSED);
    CHECK_EQ(count(N(2), MPA_ACT_DELIVER, pb), 2);
    CHECK_EQ(count(N(1), MPA_ACT_DELIVER, pa), 1); /* r1 delivered while CLOSING */
    /* B's log: both deliveries come before its CLOSED status. */
    int saw_closed = 0, deliver_after = 0;
    for (int i = 0; i < N(2)->nlog; i++) {
        const rec *r = &N(2)->log[i];
        if (r->path != pb)
            continue;
        if (r->type == MPA_ACT_STATUS && r->state == MPA_ST_CLOSED)
            saw_closed = 1;
        if (r->type == MPA_ACT_DELIVER && saw_closed)
            deliver_after = 1;
    }
    CHECK(saw_closed && !deliver_after);
    CHECK_EQ(last(N(2), MPA_ACT_STATUS, pb)->reason, MP_R_APP_CLOSE);
    mpa_stats st;
    mpa_get_stats(N(2)->c, &st);
    CHECK_EQ(st.close_mismatch, 0);

    /* Close timeout: the peer never answers. */
    uint32_t pc = open_to(2, 10, 0, 1 * SEC);
    pump(1 * SEC);
    CHECK_EQ(mpa_close(N(1)->c, pc, MP_R_APP_CLOSE, 1 * SEC), MPA_OK);
    /* The PATH_CLOSE stays queued (B is slow) past the close timeout. */
    CHECK_EQ(mpa_tick(N(1)->c, 3 * SEC - 1), 0);
    CHECK_EQ(mpa_tick(N(1)->c, 3 * SEC), 1);
    CHECK_EQ(state(1, pc), MPA_ST_BROKEN);
    CHECK_EQ(info(1, pc).reason, MP_R_TIMEOUT);
    CHECK_EQ(nq, 2);
    CHECK_EQ(qtype(1), MP_T_PATH_ABORT);
    /* B sees the close, then the abort; its answer reaches a path that is over. */
    pump(3 * SEC);
    CHECK_EQ(state(2, info(1, pc).peer_path), MPA_ST_CLOSED);
    mpa_get_stats(N(2)->c, &st);
    CHECK_EQ(st.late, 1);
    /* A PATH_CLOSE that never arrives: the abort waits behind the gap, because the
     * channel is exactly-once and in order (the link never loses a message; only a
     * lost peer does, and that breaks the path through mpa_peer_lost). */
    uint32_t pc2 = open_to(2, 10, 0, 3 * SEC);
    pump(3 * SEC);
    CHECK_EQ(mpa_close(N(1)->c, pc2, MP_R_APP_CLOSE, 3 * SEC), MPA_OK);
    drop_at(0);
    CHECK_EQ(mpa_tick(N(1)->c, 5 * SEC), 1);
    pump(5 * SEC);
    CHECK_EQ(info(2, info(1, pc2).peer_path).held, 1);
    CHECK_EQ(mpa_peer_lost(N(2)->c, 1), 1);
    CHECK_EQ(info(2, info(1, pc2).peer_path).held, 0);

    /* Abort: the peer sees BROKEN with our reason. */
    uint32_t pd = open_to(2, 10, 0, 4 * SEC);
    pump(4 * SEC);
    uint32_t bd = info(1, pd).peer_path;
    CHECK_EQ(mpa_abort(N(2)->c, bd, MP_R_NOT_PERMITTED), MPA_OK);
    CHECK_EQ(state(2, bd), MPA_ST_BROKEN);
    CHECK_EQ(mpa_abort(N(2)->c, bd, MP_R_NOT_PERMITTED), MPA_ESTATE);
    pump(4 * SEC);
    CHECK_EQ(state(1, pd), MPA_ST_BROKEN);
    CHECK_EQ(info(1, pd).reason, MP_R_NOT_PERMITTED);

    /* Peer lost: every path with it breaks, without frames. */
    uint32_t pe = open_to(2, 10, 0, 5 * SEC), pf = open_to(2, 10, 0, 5 * SEC);
    pump(5 * SEC);
    uint32_t pg = open_to(2, 10, 0, 5 * SEC); /* still OPENING */
    drop_at(0);
    CHECK_EQ(mpa_peer_lost(N(1)->c, 2), 3);
    CHECK_EQ(nq, 0);
    CHECK_EQ(state(1, pe), MPA_ST_BROKEN);
    CHECK_EQ(state(1, pf), MPA_ST_BROKEN);
    CHECK_EQ(state(1, pg), MPA_ST_BROKEN);
    CHECK_EQ(info(1, pe).reason, MP_R_PEER_DOWN);
    CHECK_EQ(mpa_peer_lost(N(1)->c, 2), 0);
    /* Late frames for a broken path are counted, not delivered. */
    CHECK_EQ(send_str(2, info(1, pe).peer_path, "zombie"), 1);
    int before = count(N(1), MPA_ACT_DELIVER, 0);
    mpa_get_stats(N(1)->c, &st);
    uint64_t late_before = st.late;
    pump(6 * SEC);
    CHECK_EQ(count(N(1), MPA_ACT_DELIVER, 0), before);
    mpa_get_stats(N(1)->c, &st);
    CHECK_EQ(st.late, late_before + 1);

    /* Closing while OPENING/ACCEPTING ends at once. */
    uint32_t ph = open_to(2, 10, 0, 7 * SEC);
    CHECK_EQ(mpa_close(N(1)->c, ph, MP_R_APP_CLOSE, 7 * SEC), MPA_OK);
    CHECK_EQ(state(1, ph), MPA_ST_CLOSED);
    pump(7 * SEC);
    /* Device removal aborts its paths. */
    uint32_t pi = open_to(2, 10, 0, 8 * SEC);
    pump(8 * SEC);
    CHECK_EQ(mpa_device_remove(N(2)->c, 10), MPA_OK);
    CHECK_EQ(mpa_device_remove(N(2)->c, 10), MPA_ENODEV);
    pump(8 * SEC);
    CHECK_EQ(state(1, pi), MPA_ST_BROKEN);
    CHECK_EQ(info(1, pi).reason, MP_R_NO_SUCH_DEVICE);
    teardown();
}

/* ---- Exactly-once sequencing
 * ------------------------------------------------------------------------ */
static void test_sequencing(void)
{
    mpa_config cfg = {.reorder_max = 8};
    setup(&cfg);
    CHECK_EQ(mpa_device_add(N(2)->c, 10, MPA_DEV_AUTO_ACCEPT, 0, 0), MPA_OK);
    uint32_t pa = open_to(2, 10, 0, 0);
    pump(0);
    uint32_t pb = info(1, pa).peer_path;
    char s[16];
    for (int i = 0; i < 5; i++) {
        snprintf(s, sizeof(s), "m%d", i);
        CHECK_EQ(send_str(1, pa, s), 1);
    }
    CHECK_EQ(nq, 5);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(qcseq(i), (uint32_t)i);
    /* Wire order 0, 2, 4, 1, dup 0, 3, dup 2 (the queue shrinks as we deliver). */
    CHECK_EQ(deliver_copy(0, 1), MPA_OK); /* 0 */
    CHECK_EQ(deliver_at(2, 2), MPA_OK);   /* 2: held */
    CHECK_EQ(deliver_at(3, 3), MPA_OK);   /* 4: held (queue now 0,1,3) */
    CHECK_EQ(info(2, pb).held, 2);
    CHECK_EQ(count(N(2), MPA_ACT_DELIVER, pb), 1);
    CHECK_EQ(deliver_at(1, 4), MPA_OK); /* 1: releases 2 */
    CHECK_EQ(count(N(2), MPA_ACT_DELIVER, pb), 3);
    CHECK_EQ(deliver_at(0, 5), MPA_OK); /* 0 again: duplicate */
    CHECK_EQ(deliver_at(0, 6), MPA_OK); /* 3: releases 4 */
    CHECK_EQ(count(N(2), MPA_ACT_DELIVER, pb), 5);
    CHECK_EQ(info(2, pb).held, 0);
    CHECK_EQ(info(2, pb).rx_next, 5);
    int k = 0;
    for (int i = 0; i < N(2)->nlog; i++) {
        const rec *r = &N(2)->log[i];
        if (r->type != MPA_ACT_DELIVER)
            continue;
        snprintf(s, sizeof(s), "m%d", k);
        CHECK(r->len == 2 && memcmp(r->data, s, 2) == 0);
        CHECK_EQ(r->cseq, (uint32_t)k);
        k++;
    }
    CHECK_EQ(k, 5);
    /* A duplicate of a held message is also counted once and dropped. */
    send_str(1, pa, "m5");
    send_str(1, pa, "m6");
    deliver_copy(1, 7);
    deliver_at(1, 7);
    CHECK_EQ(info(2, pb).held, 1);
    deliver_at(0, 8);
    CHECK_EQ(count(N(2), MPA_ACT_DELIVER, pb), 7);
    mpa_stats st;
    mpa_get_stats(N(2)->c, &st);
    CHECK_EQ(st.duplicates, 2);
    CHECK_EQ(st.held, 3);

    /* Path-scoped MGMT is flow-controlled and sequenced like DATA; a held one keeps its
     * own copy of the payload. */
    mp_frame mg;
    memset(&mg, 0, sizeof(mg));
    mg.hdr.type = MP_T_MGMT;
    mg.u.mgmt.corr_id = 42;
    mg.u.mgmt.uop_count = 1;
    mg.u.mgmt.uops[0].opcode = MP_UOP_HEARTBEAT;
    uint8_t pl[6] = {'h', 'e', 'l', 'l', 'o', '!'};
    mg.u.mgmt.payload.ptr = pl;
    mg.u.mgmt.payload.len = sizeof(pl);
    CHECK_EQ(mpa_send_frame(N(1)->c, pa, &mg), 1);
    CHECK_EQ(send_str(1, pa, "after"), 1);
    memset(pl, 0, sizeof(pl));
    deliver_at(1, 9); /* the DATA first: held */
    deliver_at(0, 9); /* the MGMT, then the held DATA */
    const rec *lm = NULL;
    for (int i = 0; i < N(2)->nlog; i++)
        if (N(2)->log[i].type == MPA_ACT_DELIVER && N(2)->log[i].ftype == MP_T_MGMT)
            lm = &N(2)->log[i];
    CHECK(lm != NULL && lm->cseq == 7);
    CHECK(last(N(2), MPA_ACT_DELIVER, pb)->ftype == MP_T_DATA);
    CHECK_EQ(last(N(2), MPA_ACT_DELIVER, pb)->cseq, 8);
    mg.hdr.type = MP_T_LINK_STATE;
    CHECK_EQ(mpa_send_frame(N(1)->c, pa, &mg), MPA_EINVAL);

    /* A DATA received before the PATH_ACCEPT waits for it at the opener. */
    uint32_t pc = open_to(2, 10, 0, 10);
    pump(10);
    uint32_t bc = info(1, pc).peer_path;
    (void)bc;
    uint32_t pd = open_to(2, 10, 0, 11);
    deliver_at(0, 11); /* B accepts: ACCEPT queued */
    uint32_t bd = acceptor_path(2);
    CHECK_EQ(send_str(2, bd, "first"), 1);
    CHECK_EQ(nq, 2);
    CHECK_EQ(deliver_at(1, 12), MPA_OK); /* DATA cseq 1 before ACCEPT cseq 0 */
    CHECK_EQ(state(1, pd), MPA_ST_OPENING);
    CHECK_EQ(deliver_at(0, 13), MPA_OK);
    CHECK_EQ(state(1, pd), MPA_ST_OPEN);
    CHECK(last(N(1), MPA_ACT_DELIVER, pd) != NULL);

    /* Gap wider than the reorder buffer: the path ends visibly, nothing is lost silently. */
    for (int i = 0; i < 10; i++)
        send_str(1, pa, "x");
    for (int i = 0; i < 8; i++)
        drop_at(0);
    CHECK_EQ(qcseq(0), 9 + 8);
    CHECK_EQ(deliver_at(0, 20), MPA_ELIMIT);
    CHECK_EQ(state(2, pb), MPA_ST_BROKEN);
    CHECK_EQ(info(2, pb).reason, MP_R_NO_RESOURCES);
    mpa_get_stats(N(2)->c, &st);
    CHECK_EQ(st.reorder_overflow, 1);
    pump(21); /* the remaining frame is late; B's PATH_ABORT breaks A */
    CHECK_EQ(state(1, pa), MPA_ST_BROKEN);

    /* Frames from the wrong node or for unknown paths are dropped and counted. */
    uint32_t pe = open_to(2, 10, 0, 30);
    pump(30);
    uint32_t be = info(1, pe).peer_path;
    send_str(1, pe, "spoof");
    q[0].from = 3;
    CHECK_EQ(deliver_at(0, 31), MPA_EPEER);
    send_str(1, pe, "lost");
    mp_put32(q[0].buf + 8, 0x7777777u);
    CHECK_EQ(deliver_at(0, 32), MPA_ENOPATH);
    mpa_get_stats(N(2)->c, &st);
    CHECK_EQ(st.wrong_peer, 1);
    CHECK_EQ(st.stray, 1);
    CHECK_EQ(state(2, be), MPA_ST_OPEN);
    teardown();
}

/* ---- Credit
 * -------------------------------------------------------------------------------------- */
static void test_credit(void)
{
    setup(NULL);
    CHECK_EQ(mpa_device_add(N(2)->c, 10, MPA_DEV_AUTO_ACCEPT, 0, 4), MPA_OK);
    uint32_t pa = open_to(2, 10, 4, 0);
    pump(0);
    uint32_t pb = info(1, pa).peer_path;
    CHECK_EQ(mpa_credit(N(1)->c, pa), 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(send_str(1, pa, "d"), 1);
    CHECK_EQ(send_str(1, pa, "d"), MPA_ENOCREDIT);
    CHECK_EQ(mpa_credit(N(1)->c, pa), 0);
    pump(1);
    CHECK_EQ(count(N(2), MPA_ACT_DELIVER, pb), 4);
    CHECK_EQ(info(2, pb).unconsumed, 4);
    /* Consuming one is under half a window: no PATH_CREDIT yet. */
    CHECK_EQ(mpa_consume(N(2)->c, pb, 1), MPA_OK);
    CHECK_EQ(nq, 0);
    /* The second makes half a window: limit = consumed(2) + window(4) = 6. */
    CHECK_EQ(mpa_consume(N(2)->c, pb, 1), MPA_OK);
    CHECK_EQ(nq, 1);
    CHECK_EQ(qtype(0), MP_T_PATH_CREDIT);
    CHECK_EQ(mp_get32(q[0].buf + 20), 6);
    pump(2);
    CHECK_EQ(mpa_credit(N(1)->c, pa), 2);
    CHECK_EQ(send_str(1, pa, "d"), 1);
    CHECK_EQ(send_str(1, pa, "d"), 1);
    CHECK_EQ(send_str(1, pa, "d"), MPA_ENOCREDIT);
    CHECK_EQ(mpa_consume(N(2)->c, pb, 3), MPA_EINVAL); /* only 2 unconsumed */
    pump(3);
    CHECK_EQ(mpa_consume(N(2)->c, pb, 4), MPA_OK);
    pump(4);
    /* limit 6 + 4 = 10; A is at 7, not 6: A's own PATH_CREDIT (answering the two
     * positions B's credits took on A's channel) took one position of B's channel. */
    CHECK_EQ(info(1, pa).tx_next, 7);
    CHECK_EQ(mpa_credit(N(1)->c, pa), 3);
    mpa_stats st;
    mpa_get_stats(N(2)->c, &st);
    CHECK_EQ(st.credits_sent, 2);

    /* A long exchange both ways never deadlocks: credits are exempt from credit, and
     * control positions count as consumed. */
    uint64_t now = 10;
    int sent_a = 0, sent_b = 0;
    for (int round = 0; round < 200; round++) {
        while (send_str(1, pa, "a") == 1)
            sent_a++;
        while (send_str(2, pb, "b") == 1)
            sent_b++;
        pump(now++);
        mpa_info ia = info(1, pa), ib = info(2, pb);
        mpa_consume(N(1)->c, pa, ia.unconsumed);
        mpa_consume(N(2)->c, pb, ib.unconsumed);
        pump(now++);
    }
    CHECK(sent_a > 400 && sent_b > 400);
    CHECK_EQ(state(1, pa), MPA_ST_OPEN);

    /* Sending beyond the granted limit is a protocol violation at the receiver. */
    mp_frame f;
    memset(&f, 0, sizeof(f));
    f.hdr.type = MP_T_DATA;
    f.hdr.chan = pb;
    f.hdr.cseq = info(2, pb).rx_limit;
    CHECK_EQ(mpa_input(N(2)->c, 1, &f, now), MPA_EPROTO);
    CHECK_EQ(state(2, pb), MPA_ST_BROKEN);
    CHECK_EQ(info(2, pb).reason, MP_R_PROTOCOL);
    mpa_get_stats(N(2)->c, &st);
    CHECK_EQ(st.credit_violations, 1);
    pump(now);
    CHECK_EQ(state(1, pa), MPA_ST_BROKEN);
    teardown();
}

/* ---- Multicast and anycast
 * ---------------------------------------------------------------------------- */
static void test_groups(void)
{
    setup(NULL);
    CHECK_EQ(mpa_device_add(N(2)->c, 10, MPA_DEV_AUTO_ACCEPT, 0, 4), MPA_OK);
    CHECK_EQ(mpa_device_add(N(3)->c, 20, MPA_DEV_AUTO_ACCEPT, 0, 4), MPA_OK);
    mpa_target t[2] = {{2, 10, (const uint8_t *)"disk/0", 6},
                       {3, 20, (const uint8_t *)"disk/1", 6}};
    mpa_open_args a = {.local_device = 5, .pkind = MP_PK_MULTICAST, .window = 4};
    uint32_t g = 0;
    CHECK_EQ(mpa_open_group(N(1)->c, &a, t, 2, 0, &g), MPA_OK);
    CHECK_EQ(nq, 2);
    mpa_info gi = info(1, g);
    CHECK(gi.is_group);
    CHECK_EQ(gi.members, 2);
    CHECK_EQ(gi.state, MPA_ST_OPENING);
    CHECK_EQ(mpa_send(N(1)->c, g, (const uint8_t *)"x", 1), MPA_ESTATE);
    /* The first member to open opens the group; the second joins for later messages. */
    deliver_at(0, 1);
    deliver_at(0, 1);
    uint32_t b2 = acceptor_path(2), b3 = acceptor_path(3);
    CHECK_EQ(last(N(3), MPA_ACT_STATUS, b3)->pkind, MP_PK_MULTICAST);
    deliver_at(0, 2); /* ACCEPT from node 2 */
    CHECK_EQ(info(1, g).state, MPA_ST_OPEN);
    const rec *gs = last(N(1), MPA_ACT_STATUS, g);
    CHECK(gs && gs->state == MPA_ST_OPEN);
    CHECK_EQ(mpa_send(N(1)->c, g, (const uint8_t *)"early", 5), 1);
    pump(3);
    CHECK_EQ(mpa_send(N(1)->c, g, (const uint8_t *)"all", 3), 2);
    pump(4);
    CHECK_EQ(count(N(2), MPA_ACT_DELIVER, b2), 2);
    CHECK_EQ(count(N(3), MPA_ACT_DELIVER, b3), 1);
    CHECK(memcmp(last(N(3), MPA_ACT_DELIVER, b3)->data, "all", 3) == 0);
    /* Member actions name their group. */
    uint32_t m2 = info(2, b2).peer_path;
    CHECK_EQ(info(1, m2).group, g);

    /* The slowest member paces the group. */
    mpa_consume(N(2)->c, b2, 2);
    pump(5);
    CHECK_EQ(mpa_credit(N(1)->c, g), 3); /* node 3 has used 1 of 4 */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(mpa_send(N(1)->c, g, (const uint8_t *)"y", 1), 2);
    CHECK_EQ(mpa_send(N(1)->c, g, (const uint8_t *)"z", 1), MPA_ENOCREDIT);
    pump(6);
    mpa_consume(N(2)->c, b2, 3);
    pump(7);
    CHECK_EQ(mpa_send(N(1)->c, g, (const uint8_t *)"z", 1), MPA_ENOCREDIT); /* node 3 still full */
    mpa_consume(N(3)->c, b3, 4);
    pump(8);
    CHECK_EQ(mpa_send(N(1)->c, g, (const uint8_t *)"z", 1), 2);
    pump(9);

    /* A member lost: the group goes on with the others. */
    CHECK_EQ(mpa_peer_lost(N(1)->c, 3), 1);
    CHECK_EQ(info(1, g).state, MPA_ST_OPEN);
    CHECK_EQ(mpa_send(N(1)->c, g, (const uint8_t *)"w", 1), 1);
    pump(10);
    /* Closing the group closes every member; the group is CLOSED when they are. */
    CHECK_EQ(mpa_close(N(1)->c, g, MP_R_APP_CLOSE, 11), MPA_OK);
    CHECK_EQ(info(1, g).state, MPA_ST_CLOSING);
    pump(12);
    CHECK_EQ(info(1, g).state, MPA_ST_CLOSED);
    CHECK_EQ(state(2, b2), MPA_ST_CLOSED);
    size_t before = N(1)->a.live_bytes;
    CHECK_EQ(mpa_release(N(1)->c, g), MPA_OK);
    CHECK(N(1)->a.live_bytes < before);
    CHECK_EQ(mpa_get_info(N(1)->c, m2, &gi), MPA_ENOPATH); /* members went with it */

    /* All members refused: the group is BROKEN. */
    mpa_target bad[2] = {{2, 77, NULL, 0}, {3, 77, NULL, 0}};
    CHECK_EQ(mpa_open_group(N(1)->c, &a, bad, 2, 20, &g), MPA_OK);
    pump(20);
    CHECK_EQ(info(1, g).state, MPA_ST_BROKEN);
    CHECK_EQ(info(1, g).reason, MP_R_NO_SUCH_DEVICE);
    CHECK_EQ(mpa_release(N(1)->c, g), MPA_OK);

    /* Anycast: the chosen target (the naming layer's pick) gets a path marked ANYCAST. */
    mpa_open_args any = {.local_device = 5, .peer = {3, 20, NULL, 0}, .pkind = MP_PK_ANYCAST};
    uint32_t pany;
    CHECK_EQ(mpa_open(N(1)->c, &any, 30, &pany), MPA_OK);
    pump(30);
    CHECK_EQ(state(1, pany), MPA_ST_OPEN);
    CHECK_EQ(info(3, acceptor_path(3)).pkind, MP_PK_ANYCAST);
    any.pkind = MP_PK_MULTICAST;
    CHECK_EQ(mpa_open(N(1)->c, &any, 30, &pany), MPA_EINVAL);
    teardown();
}

/* ---- Ids, limits, allocation failures
 * --------------------------------------------------------------- */
static void test_limits(void)
{
    mpa_config cfg = {.max_paths = 3, .max_group = 2};
    setup(&cfg);
    uint32_t ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = open_to(2, 10, 0, 0);
    CHECK(ids[0] >= MP_CHAN_FIRST_PATH && ids[1] > ids[0] && ids[2] > ids[1]);
    mpa_open_args a = {.local_device = 5, .peer = {2, 10, NULL, 0}, .pkind = MP_PK_UNICAST};
    uint32_t p;
    CHECK_EQ(mpa_open(N(1)->c, &a, 0, &p), MPA_ELIMIT);
    CHECK(strcmp(mpa_strerror(MPA_ELIMIT), "path limit reached") == 0);
    /* A released id is not handed out again at once. */
    CHECK_EQ(mpa_release(N(1)->c, ids[1]), MPA_OK);
    CHECK_EQ(mpa_open(N(1)->c, &a, 0, &p), MPA_OK);
    CHECK(p != ids[1] && p > ids[2]);
    CHECK_EQ(mpa_release(N(1)->c, ids[0]), MPA_OK);
    CHECK_EQ(mpa_release(N(1)->c, ids[0]), MPA_ENOPATH);
    /* Group limits: size, and room for group + members. */
    mpa_target t[3] = {{2, 10, NULL, 0}, {2, 11, NULL, 0}, {3, 10, NULL, 0}};
    uint32_t g;
    CHECK_EQ(mpa_open_group(N(1)->c, &a, t, 3, 0, &g), MPA_ELIMIT);
    CHECK_EQ(mpa_open_group(N(1)->c, &a, t, 2, 0, &g), MPA_ELIMIT); /* 2 paths + 3 > 3 */
    /* Acceptor at its path limit refuses with NO_RESOURCES rather than failing. */
    CHECK_EQ(mpa_device_add(N(2)->c, 10, MPA_DEV_AUTO_ACCEPT, 0, 0), MPA_OK);
    nq = 0;
    for (int i = 0; i < 4; i++) {
        mp_frame f;
        memset(&f, 0, sizeof(f));
        f.hdr.type = MP_T_PATH_OPEN;
        f.u.open.src_path = 0x500u + (uint32_t)i;
        f.u.open.dst_device = 10;
        f.u.open.credit = 8;
        f.u.open.pkind = MP_PK_UNICAST;
        CHECK_EQ(mpa_input(N(2)->c, 3, &f, 0), MPA_OK);
    }
    CHECK_EQ(qtype(nq - 1), MP_T_PATH_ABORT);
    CHECK_EQ(mp_get16(q[nq - 1].buf + 24), MP_R_NO_RESOURCES);
    /* Bad arguments. */
    CHECK_EQ(mpa_send(N(1)->c, p, NULL, 3), MPA_EINVAL);
    a.peer.node = 0;
    CHECK_EQ(mpa_open(N(1)->c, &a, 0, &p), MPA_EINVAL);
    a.peer.node = 2;
    a.window = 2;
    CHECK_EQ(mpa_open(N(1)->c, &a, 0, &p), MPA_EINVAL);
    mp_frame junk;
    memset(&junk, 0, sizeof(junk));
    junk.hdr.type = MP_T_LINK_STATE;
    CHECK_EQ(mpa_input(N(1)->c, 2, &junk, 0), MPA_EPROTO);
    junk.hdr.type = MP_T_DATA;
    junk.hdr.chan = 1; /* MINET channel is not a path */
    CHECK_EQ(mpa_input(N(1)->c, 2, &junk, 0), MPA_EPROTO);
    teardown();

    /* Byte limit on held messages: the path ends with NO_RESOURCES, no crash. */
    mpa_config small = {.max_bytes = 16 * 1024, .reorder_max = 32};
    setup(&small);
    CHECK_EQ(mpa_device_add(N(2)->c, 10, MPA_DEV_AUTO_ACCEPT, 0, 0), MPA_OK);
    uint32_t pa = open_to(2, 10, 0, 0);
    pump(0);
    uint32_t pb = info(1, pa).peer_path;
    static uint8_t big[400];
    memset(big, 0xAB, sizeof(big));
    for (int i = 0; i < 31; i++)
        CHECK_EQ(mpa_send(N(1)->c, pa, big, sizeof(big)), 1);
    drop_at(0); /* every other one must now wait */
    int rc = 0;
    while (nq > 0 && rc == 0)
        rc = deliver_at(0, 1);
    CHECK_EQ(rc, MPA_ELIMIT);
    CHECK_EQ(state(2, pb), MPA_ST_BROKEN);
    CHECK_EQ(info(2, pb).held, 0); /* freed at once */
    mpa_stats st;
    mpa_get_stats(N(2)->c, &st);
    CHECK(st.bytes_used <= 16 * 1024);
    nq = 0;
    teardown();

    /* Every allocation fails in turn across open/accept/reorder/group: errors are clean
     * and nothing leaks. */
    for (long k = 0; k < 40; k++) {
        setup(NULL);
        N(1)->a.calls = N(2)->a.calls = 0;
        N(1)->a.fail_at = N(2)->a.fail_at = k;
        (void)mpa_device_add(N(2)->c, 10, MPA_DEV_AUTO_ACCEPT, 0, 0);
        mpa_open_args oa = {.local_device = 5, .peer = {2, 10, NULL, 0}, .pkind = MP_PK_UNICAST};
        uint32_t x = 0;
        rc = mpa_open(N(1)->c, &oa, 0, &x);
        CHECK(rc == MPA_OK || rc == MPA_ENOMEM);
        pump(0);
        if (rc == MPA_OK && state(1, x) == MPA_ST_OPEN) {
            for (int i = 0; i < 4; i++)
                send_str(1, x, "r");
            drop_at(0);
            pump(1);
        }
        mpa_target tg[2] = {{2, 10, NULL, 0}, {3, 10, NULL, 0}};
        rc = mpa_open_group(N(1)->c, &oa, tg, 2, 2, &x);
        CHECK(rc == MPA_OK || rc == MPA_ENOMEM);
        pump(2);
        for (uint32_t i = 1; i <= 3; i++) {
            mpa_get_stats(N(i)->c, &st);
            CHECK(st.bytes_used == N(i)->a.live_bytes);
        }
        nq = 0;
        teardown();
    }
}

int main(void)
{
    test_open_accept();
    test_manual_accept_refuse();
    test_open_timeout();
    test_close_abort();
    test_sequencing();
    test_credit();
    test_groups();
    test_limits();
    if (failures) {
        fprintf(stderr, "test_path: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_path: all passed\n");
    return 0;
}
