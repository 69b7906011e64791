/*
 * test_naming.c — unit tests of the name table (stack/core/naming.c).
 *
 * Deterministic: no clock, no randomness.  A counting allocator checks that every byte
 * is returned and can fail the n-th allocation, to prove that a refused operation
 * leaves the table as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naming.h"

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

/* ---- Counting allocator ------------------------------------------------------------ */
typedef struct talloc {
    size_t live_bytes;
    long live_blocks;
    long calls;
    long fail_at; /* fail the call with this index (0-based); -1 = never */
} talloc;

static void *ta_alloc(void *user, size_t n)
{
    talloc *a = user;
    if (a->fail_at >= 0 && a->calls++ == a->fail_at)
        return NULL;
    void *p = malloc(n);
    if (p) {
        a->live_bytes += n;
        a->live_blocks++;
    }
    return p;
}

static void ta_free(void *user, void *p, size_t n)
{
    talloc *a = user;
    a->live_bytes -= n;
    a->live_blocks--;
    free(p);
}

/* ---- Event log ---------------------------------------------------------------------- */
typedef struct evrec {
    int type;
    uint32_t node, device, prev_node, prev_device;
    char name[MP_MAX_NAME + 1];
} evrec;

typedef struct evlog {
    evrec ev[256];
    int n;
} evlog;

static void on_event(void *user, const mn_event *ev)
{
    evlog *l = user;
    if (l->n >= 256)
        return;
    evrec *r = &l->ev[l->n++];
    memset(r, 0, sizeof(*r));
    r->type = ev->type;
    r->node = ev->entry ? ev->entry->node_id : 0;
    r->device = ev->entry ? ev->entry->device_id : 0;
    if (ev->entry)
        memcpy(r->name, ev->entry->name, ev->entry->name_len);
    if (ev->prev) {
        r->prev_node = ev->prev->node_id;
        r->prev_device = ev->prev->device_id;
    }
}

static int count_ev(const evlog *l, int type)
{
    int n = 0;
    for (int i = 0; i < l->n; i++)
        n += l->ev[i].type == type;
    return n;
}

static mn_table *mk(uint32_t node, talloc *a, evlog *log, uint32_t max_entries,
                    uint32_t max_per_node)
{
    mn_config cfg = {
        .local_node = node,
        .alloc = {ta_alloc, ta_free, a},
        .on_event = log ? on_event : NULL,
        .event_user = log,
        .max_entries = max_entries,
        .max_per_node = max_per_node,
        .hash_seed = 0x1234567u,
    };
    mn_table *t = NULL;
    int rc = mn_create(&cfg, &t);
    CHECK_EQ(rc, MN_OK);
    return t;
}

/* A NAME_PUBLISH frame as it would arrive from a peer. */
static mp_frame pub(uint32_t dev, const char *name, uint8_t nflags, uint8_t rank, uint32_t gen)
{
    mp_frame f;
    memset(&f, 0, sizeof(f));
    f.hdr.version = MP_VERSION;
    f.hdr.type = MP_T_NAME_PUBLISH;
    f.u.publish.device_id = dev;
    f.u.publish.dtype = 7;
    f.u.publish.nflags = nflags;
    f.u.publish.rank = rank;
    f.u.publish.generation = gen;
    f.u.publish.name.ptr = (const uint8_t *)name;
    f.u.publish.name.len = strlen(name);
    return f;
}

static mp_frame wdr(uint32_t dev, const char *name, uint32_t gen)
{
    mp_frame f;
    memset(&f, 0, sizeof(f));
    f.hdr.version = MP_VERSION;
    f.hdr.type = MP_T_NAME_WITHDRAW;
    f.u.withdraw.device_id = dev;
    f.u.withdraw.generation = gen;
    f.u.withdraw.name.ptr = (const uint8_t *)name;
    f.u.withdraw.name.len = strlen(name);
    return f;
}

static int apply_pub(mn_table *t, uint32_t node, uint32_t dev, const char *name, uint8_t nflags,
                     uint8_t rank, uint32_t gen)
{
    mp_frame f = pub(dev, name, nflags, rank, gen);
    return mn_apply(t, node, &f);
}

static const mn_entry *look(const mn_table *t, const char *name)
{
    return mn_lookup(t, (const uint8_t *)name, strlen(name));
}

#define EXCL MP_NFLAG_EXCLUSIVE

typedef struct order_log {
    int n;
    uint32_t node[16], dev[16];
} order_log;

static int order_fn(void *user, const mn_entry *e)
{
    order_log *o = user;
    if (o->n < 16) {
        o->node[o->n] = e->node_id;
        o->dev[o->n] = e->device_id;
    }
    o->n++;
    return 0;
}

/* ---- Conflict rule and promotion ------------------------------------------------------ */
static void test_conflict_rule(void)
{
    talloc a = {.fail_at = -1};
    evlog log = {0};
    mn_table *t = mk(100, &a, &log, 0, 0);
    const char *db = "svc/db";

    CHECK_EQ(apply_pub(t, 5, 1, db, EXCL, 10, 1), 1);
    CHECK(look(t, db)->node_id == 5);
    /* Same rank, lower node id: wins (preemption reported). */
    CHECK_EQ(apply_pub(t, 3, 2, db, EXCL, 10, 1), 1);
    CHECK(look(t, db)->node_id == 3 && look(t, db)->device_id == 2);
    CHECK_EQ(log.ev[log.n - 1].type, MN_EV_WINNER);
    CHECK_EQ(log.ev[log.n - 1].prev_node, 5);
    /* Same rank and node, lower device id: wins. */
    CHECK_EQ(apply_pub(t, 3, 1, db, EXCL, 10, 1), 1);
    CHECK(look(t, db)->node_id == 3 && look(t, db)->device_id == 1);
    /* Higher rank beats lower node id. */
    CHECK_EQ(apply_pub(t, 9, 4, db, EXCL, 20, 1), 1);
    CHECK(look(t, db)->node_id == 9);
    CHECK_EQ(count_ev(&log, MN_EV_WINNER), 3);
    /* A lower-ranked newcomer is shadowed: no winner change. */
    CHECK_EQ(apply_pub(t, 1, 1, db, EXCL, 5, 1), 1);
    CHECK(look(t, db)->node_id == 9);
    CHECK_EQ(count_ev(&log, MN_EV_WINNER), 3);

    /* Multicast order = conflict order. */
    order_log ol = {0};
    CHECK_EQ(mn_foreach_name(t, (const uint8_t *)db, strlen(db), order_fn, &ol), 5);
    CHECK(ol.node[0] == 9 && ol.node[1] == 3 && ol.dev[1] == 1 && ol.node[2] == 3 &&
          ol.dev[2] == 2 && ol.node[3] == 5 && ol.node[4] == 1);
    CHECK_EQ(mn_foreach_name(t, (const uint8_t *)db, strlen(db), NULL, &ol), MN_EINVAL);

    /* Winner goes (node lost): the shadowed best takes over, reported as WINNER. */
    log.n = 0;
    CHECK_EQ(mn_purge_node(t, 9), 1);
    CHECK(look(t, db)->node_id == 3 && look(t, db)->device_id == 1);
    CHECK_EQ(log.n, 2);
    CHECK_EQ(log.ev[0].type, MN_EV_VANISHED);
    CHECK_EQ(log.ev[0].node, 9);
    CHECK_EQ(log.ev[1].type, MN_EV_WINNER);
    CHECK_EQ(log.ev[1].node, 3);
    CHECK_EQ(log.ev[1].device, 1);
    CHECK_EQ(log.ev[1].prev_node, 9);

    /* Withdraw of the winner: next in order. */
    log.n = 0;
    mp_frame w = wdr(1, db, 1);
    CHECK_EQ(mn_apply(t, 3, &w), 1);
    CHECK(look(t, db)->node_id == 3 && look(t, db)->device_id == 2);
    CHECK_EQ(count_ev(&log, MN_EV_WINNER), 1);
    /* Withdraw of a shadowed entry: no winner change. */
    log.n = 0;
    w = wdr(1, db, 1);
    CHECK_EQ(mn_apply(t, 1, &w), 1);
    CHECK_EQ(count_ev(&log, MN_EV_WINNER), 0);
    CHECK_EQ(count_ev(&log, MN_EV_VANISHED), 1);

    /* A rank change by republish can move the winner. */
    log.n = 0;
    CHECK_EQ(apply_pub(t, 5, 1, db, EXCL, 50, 2), 1);
    CHECK(look(t, db)->node_id == 5);
    CHECK_EQ(count_ev(&log, MN_EV_UPDATED), 1);
    CHECK_EQ(count_ev(&log, MN_EV_WINNER), 1);

    /* Last entries go: the name is gone and so is its group. */
    mn_purge_node(t, 5);
    mn_purge_node(t, 3);
    CHECK(look(t, db) == NULL);
    mn_stats st;
    mn_get_stats(t, &st);
    CHECK_EQ(st.entries, 0);
    CHECK_EQ(st.groups, 0);
    CHECK_EQ(st.nodes, 0);
    mn_destroy(t);
    CHECK_EQ(a.live_bytes, 0);
}

/* ---- Generation rule ------------------------------------------------------------------- */
static void test_generation(void)
{
    talloc a = {.fail_at = -1};
    evlog log = {0};
    mn_table *t = mk(100, &a, &log, 0, 0);
    const char *n = "io/disk";
    CHECK_EQ(apply_pub(t, 7, 1, n, 0, 1, 5), 1);
    CHECK_EQ(apply_pub(t, 7, 1, n, 0, 9, 4), 0); /* older: stale */
    CHECK_EQ(look(t, n)->rank, 1);
    CHECK_EQ(apply_pub(t, 7, 1, n, 0, 9, 5), 0); /* same: duplicate */
    CHECK_EQ(look(t, n)->rank, 1);
    CHECK_EQ(apply_pub(t, 7, 1, n, 0, 9, 6), 1); /* newer: replaces */
    CHECK_EQ(look(t, n)->rank, 9);
    CHECK_EQ(look(t, n)->generation, 6);
    mp_frame w = wdr(1, n, 5); /* older withdraw: ignored */
    CHECK_EQ(mn_apply(t, 7, &w), 0);
    CHECK(look(t, n) != NULL);
    w = wdr(1, n, 6);
    CHECK_EQ(mn_apply(t, 7, &w), 1);
    CHECK(look(t, n) == NULL);
    w = wdr(1, n, 6); /* nothing left to withdraw */
    CHECK_EQ(mn_apply(t, 7, &w), 0);
    /* Serial arithmetic: 0 is newer than 0xFFFFFFFF. */
    CHECK_EQ(apply_pub(t, 7, 1, n, 0, 1, 0xFFFFFFFFu), 1);
    CHECK_EQ(apply_pub(t, 7, 1, n, 0, 2, 0), 1);
    CHECK_EQ(look(t, n)->rank, 2);
    mn_stats st;
    mn_get_stats(t, &st);
    CHECK_EQ(st.stale_ignored, 2);
    CHECK_EQ(st.dup_ignored, 1);
    CHECK_EQ(st.unknown_withdraw, 1);
    CHECK_EQ(st.updated, 2);

    /* Local publications get strictly increasing generations; a withdraw carries the
     * generation of the publication it removes. */
    mp_frame out;
    mp_name_rec r = pub(3, "local/a", 0, 1, 999).u.publish;
    CHECK_EQ(mn_publish(t, &r, &out), MN_OK);
    CHECK_EQ(out.hdr.type, MP_T_NAME_PUBLISH);
    uint32_t g1 = out.u.publish.generation;
    CHECK(g1 != 999);
    CHECK_EQ(mn_publish(t, &r, &out), MN_OK);
    CHECK_EQ(out.u.publish.generation, g1 + 1);
    CHECK_EQ(mn_withdraw(t, 3, (const uint8_t *)"local/a", 7, &out), MN_OK);
    CHECK_EQ(out.hdr.type, MP_T_NAME_WITHDRAW);
    CHECK_EQ(out.u.withdraw.generation, g1 + 1);
    CHECK_EQ(mn_withdraw(t, 3, (const uint8_t *)"local/a", 7, &out), MN_ENOENT);

    /* A peer cannot publish as us. */
    mp_frame f = pub(1, "x", 0, 0, 1);
    CHECK_EQ(mn_apply(t, 100, &f), MN_EPEER);
    /* Invalid records are refused even if they reach the table. */
    f = pub(1, "bad//name", 0, 0, 1);
    CHECK_EQ(mn_apply(t, 7, &f), MN_ENAME);
    f = pub(1, "ok", 0x80, 0, 1);
    CHECK_EQ(mn_apply(t, 7, &f), MN_EINVAL);
    mp_name_rec pr = pub(1, "p", 0, 0, 1).u.publish;
    pr.prop_count = 2;
    pr.props[0] = (mp_prop){(const uint8_t *)"k", 1, (const uint8_t *)"v", 1};
    pr.props[1] = (mp_prop){(const uint8_t *)"k", 1, (const uint8_t *)"w", 1};
    CHECK_EQ(mn_publish(t, &pr, NULL), MN_EPROP);
    mn_destroy(t);
    CHECK_EQ(a.live_bytes, 0);
}

/* ---- Purge of a lost node --------------------------------------------------------------- */
static void test_purge(void)
{
    talloc a = {.fail_at = -1};
    evlog log = {0};
    mn_table *t = mk(100, &a, &log, 0, 0);
    apply_pub(t, 7, 1, "a/x", 0, 1, 1);
    apply_pub(t, 7, 2, "a/y", 0, 1, 1);
    apply_pub(t, 7, 3, "shared", 0, 1, 1);
    apply_pub(t, 8, 1, "shared", 0, 1, 1);
    apply_pub(t, 8, 1, "b/z", 0, 1, 1);
    log.n = 0;
    CHECK_EQ(mn_purge_node(t, 7), 3);
    CHECK_EQ(count_ev(&log, MN_EV_VANISHED), 3);
    for (int i = 0; i < log.n; i++)
        if (log.ev[i].type == MN_EV_VANISHED)
            CHECK_EQ(log.ev[i].node, 7);
    CHECK(look(t, "a/x") == NULL && look(t, "a/y") == NULL);
    CHECK(look(t, "shared")->node_id == 8);
    CHECK(look(t, "b/z") != NULL);
    CHECK_EQ(mn_purge_node(t, 7), 0);  /* idempotent */
    CHECK_EQ(mn_purge_node(t, 42), 0); /* unknown node */
    mn_stats st;
    mn_get_stats(t, &st);
    CHECK_EQ(st.entries, 2);
    CHECK_EQ(st.nodes, 1);
    mn_destroy(t);
    CHECK_EQ(a.live_bytes, 0);
}

/* ---- Pattern lookup ------------------------------------------------------------------------- */
typedef struct collect {
    int n;
    char names[16][MP_MAX_NAME + 1];
    int stop_after;
} collect;

static int collect_fn(void *user, const mn_entry *e)
{
    collect *c = user;
    if (c->n < 16)
        memcpy(c->names[c->n], e->name, e->name_len + 1u);
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

static int match(const mn_table *t, const char *pat)
{
    collect c = {0};
    int rc = mn_match(t, (const uint8_t *)pat, strlen(pat), collect_fn, &c);
    if (rc >= 0)
        CHECK_EQ(rc, c.n);
    return rc;
}

static void test_pattern(void)
{
    talloc a = {.fail_at = -1};
    mn_table *t = mk(100, &a, NULL, 0, 0);
    apply_pub(t, 2, 1, "io/disk/0", 0, 1, 1);
    apply_pub(t, 2, 2, "io/disk/1", 0, 1, 1);
    apply_pub(t, 3, 1, "io/disk/1", 0, 1, 1); /* two entries, one name */
    apply_pub(t, 2, 3, "io/net/0", 0, 1, 1);
    apply_pub(t, 2, 4, "svc/x", 0, 1, 1);
    CHECK_EQ(match(t, "io/disk/*"), 3);
    CHECK_EQ(match(t, "io/**"), 4);
    CHECK_EQ(match(t, "**/0"), 2);
    CHECK_EQ(match(t, "io/?et/0"), 1);
    CHECK_EQ(match(t, "**"), 5);
    CHECK_EQ(match(t, "nothing/*"), 0);
    CHECK_EQ(match(t, "svc/x"), 1);
    CHECK_EQ(match(t, "bad//pat"), MN_EPATTERN);
    /* The visitor can stop early. */
    collect c = {.stop_after = 2};
    CHECK_EQ(mn_match(t, (const uint8_t *)"**", 2, collect_fn, &c), 2);
    /* Per node. */
    collect d = {0};
    CHECK_EQ(mn_foreach_node(t, 2, collect_fn, &d), 4);
    CHECK(strcmp(d.names[0], "io/disk/0") == 0); /* publication order */
    CHECK(strcmp(d.names[3], "svc/x") == 0);
    mn_destroy(t);
    CHECK_EQ(a.live_bytes, 0);
}

/* ---- Anycast ------------------------------------------------------------------------------------
 */
static void test_anycast(void)
{
    talloc a = {.fail_at = -1};
    mn_table *t = mk(100, &a, NULL, 0, 0);
    const char *n = "svc/log";
    const uint8_t *nb = (const uint8_t *)n;
    apply_pub(t, 30, 1, n, 0, 5, 1);
    apply_pub(t, 10, 1, n, 0, 5, 1);
    apply_pub(t, 20, 1, n, 0, 5, 1);
    apply_pub(t, 5, 1, n, 0, 3, 1); /* lower rank: never chosen while rank 5 exists */
    uint32_t seq[6];
    for (int i = 0; i < 6; i++)
        seq[i] = mn_anycast(t, nb, strlen(n))->node_id;
    /* Round robin over the rank-5 entries in conflict order, deterministic. */
    CHECK(seq[0] == 10 && seq[1] == 20 && seq[2] == 30);
    CHECK(seq[3] == 10 && seq[4] == 20 && seq[5] == 30);
    mn_purge_node(t, 20);
    CHECK_EQ(mn_anycast(t, nb, strlen(n))->node_id, 10); /* rr=6 -> 6 % 2 = 0 */
    CHECK_EQ(mn_anycast(t, nb, strlen(n))->node_id, 30);
    mn_purge_node(t, 10);
    mn_purge_node(t, 30);
    CHECK_EQ(mn_anycast(t, nb, strlen(n))->node_id, 5);
    mn_purge_node(t, 5);
    CHECK(mn_anycast(t, nb, strlen(n)) == NULL);
    /* EXCLUSIVE: always the winner. */
    apply_pub(t, 30, 1, "svc/master", EXCL, 5, 1);
    apply_pub(t, 10, 1, "svc/master", EXCL, 5, 1);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(mn_anycast(t, (const uint8_t *)"svc/master", 10)->node_id, 10);
    mn_destroy(t);
    CHECK_EQ(a.live_bytes, 0);
}

/* ---- NAME_SYNC chunking through the codec
 * ------------------------------------------------------------ */
typedef struct sync_sink {
    mn_table *dst;
    uint32_t from;
    size_t mtu;
    int chunks, records, first, last, errors;
    uint8_t last_flags;
} sync_sink;

static int sync_emit(void *user, const mp_frame *chunk)
{
    sync_sink *s = user;
    uint8_t buf[8192];
    int len = mp_encoded_len(chunk);
    int w = mp_encode(chunk, buf, sizeof(buf));
    if (w < 0 || w != len) {
        fprintf(stderr, "encode failed: %d (%s), len %d\n", w, mp_strerror(w), len);
        s->errors++;
        return 0;
    }
    /* Chunks fit the MTU unless one record alone is larger. */
    if ((size_t)w > s->mtu && chunk->u.sync.count != 1)
        s->errors++;
    mp_frame d;
    int r = mp_decode(buf, (size_t)w, &d);
    if (r != w || d.hdr.type != MP_T_NAME_SYNC || d.u.sync.count != chunk->u.sync.count) {
        fprintf(stderr, "decode failed: %d (%s)\n", r, mp_strerror(r));
        s->errors++;
        return 0;
    }
    s->chunks++;
    s->records += d.u.sync.count;
    s->first += !!(d.u.sync.yflags & MP_YFLAG_FIRST);
    s->last += !!(d.u.sync.yflags & MP_YFLAG_LAST);
    s->last_flags = d.u.sync.yflags;
    if (s->chunks == 1 && !(d.u.sync.yflags & MP_YFLAG_FIRST))
        s->errors++;
    if (mn_apply(s->dst, s->from, &d) < 0)
        s->errors++;
    return 0;
}

typedef struct cmp_ctx {
    const mn_table *other;
    int bad;
} cmp_ctx;

static int same_entry(void *user, const mn_entry *e)
{
    cmp_ctx *c = user;
    const mn_entry *o = mn_find(c->other, e->node_id, e->device_id, e->name, e->name_len);
    if (!o || o->generation != e->generation || o->rank != e->rank || o->nflags != e->nflags ||
        o->dtype != e->dtype || o->prop_count != e->prop_count || o->props_len != e->props_len ||
        memcmp(o->props_blob, e->props_blob, e->props_len) != 0)
        c->bad++;
    return 0;
}

static void test_sync(void)
{
    talloc a = {.fail_at = -1}, b = {.fail_at = -1};
    mn_table *src = mk(1, &a, NULL, 0, 0);
    evlog log = {0};
    mn_table *dst = mk(2, &b, &log, 0, 0);

    /* Empty table: one chunk, FIRST|LAST, no records. */
    mp_name_rec scratch[64];
    sync_sink s = {.dst = dst, .from = 1, .mtu = 300};
    CHECK_EQ(mn_sync_build(src, 300, scratch, 64, sync_emit, &s), 1);
    CHECK_EQ(s.records, 0);
    CHECK_EQ(s.last_flags, MP_YFLAG_FIRST | MP_YFLAG_LAST);
    CHECK_EQ(s.errors, 0);

    /* 50 names with properties of varying size. */
    char name[64], val[64];
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "svc/n%02d/unit", i);
        memset(val, 'a' + i % 26, sizeof(val));
        mp_name_rec r;
        memset(&r, 0, sizeof(r));
        r.device_id = (uint32_t)(i % 7 + 1);
        r.dtype = (uint16_t)i;
        r.nflags = i % 3 == 0 ? EXCL : 0;
        r.rank = (uint8_t)i;
        r.name.ptr = (const uint8_t *)name;
        r.name.len = strlen(name);
        r.prop_count = (uint8_t)(i % 4);
        static const char *keys[] = {"slot", "role", "ver"};
        for (int k = 0; k < r.prop_count; k++) {
            r.props[k].key = (const uint8_t *)keys[k];
            r.props[k].key_len = (uint8_t)strlen(keys[k]);
            r.props[k].val = (const uint8_t *)val;
            r.props[k].val_len = (uint8_t)(i % 40);
        }
        CHECK_EQ(mn_publish(src, &r, NULL), MN_OK);
    }
    /* A stale entry of node 1 that the sync must sweep, and one of node 3 it must not. */
    apply_pub(dst, 1, 99, "old/name", 0, 1, 1);
    apply_pub(dst, 3, 1, "other/node", 0, 1, 1);

    sync_sink s2 = {.dst = dst, .from = 1, .mtu = 300};
    int chunks = mn_sync_build(src, 300, scratch, 64, sync_emit, &s2);
    CHECK(chunks > 3);
    CHECK_EQ(s2.chunks, chunks);
    CHECK_EQ(s2.records, 50);
    CHECK_EQ(s2.first, 1);
    CHECK_EQ(s2.last, 1);
    CHECK(s2.last_flags & MP_YFLAG_LAST);
    CHECK_EQ(s2.errors, 0);
    CHECK(look(dst, "old/name") == NULL);
    CHECK(look(dst, "other/node") != NULL);
    cmp_ctx cc = {.other = dst};
    CHECK_EQ(mn_foreach_node(src, 1, same_entry, &cc), 50);
    CHECK_EQ(cc.bad, 0);
    mn_stats st;
    mn_get_stats(dst, &st);
    CHECK_EQ(st.sync_swept, 1);
    CHECK_EQ(st.entries, 51);

    /* A small scratch array also bounds chunks. */
    sync_sink s3 = {.dst = dst, .from = 1, .mtu = 1500};
    CHECK_EQ(mn_sync_build(src, 1500, scratch, 5, sync_emit, &s3), 10);
    CHECK_EQ(s3.errors, 0);
    mn_get_stats(dst, &st);
    CHECK_EQ(st.entries, 51); /* a repeated sync changes nothing */
    CHECK_EQ(mn_sync_build(src, 19, scratch, 5, sync_emit, &s3), MN_ERANGE);

    /* A single local publish also survives the codec. */
    mp_frame out;
    mp_name_rec r = pub(9, "one/more", 0, 4, 0).u.publish;
    CHECK_EQ(mn_publish(src, &r, &out), MN_OK);
    uint8_t buf[512];
    int w = mp_encode(&out, buf, sizeof(buf));
    CHECK(w > 0);
    mp_frame d;
    CHECK_EQ(mp_decode(buf, (size_t)w, &d), w);
    CHECK_EQ(mn_apply(dst, 1, &d), 1);
    CHECK(mn_find(dst, 1, 9, (const uint8_t *)"one/more", 8) != NULL);
    /* And the withdraw. */
    CHECK_EQ(mn_withdraw(src, 9, (const uint8_t *)"one/more", 8, &out), MN_OK);
    w = mp_encode(&out, buf, sizeof(buf));
    CHECK(w > 0);
    CHECK_EQ(mp_decode(buf, (size_t)w, &d), w);
    CHECK_EQ(mn_apply(dst, 1, &d), 1);
    CHECK(mn_find(dst, 1, 9, (const uint8_t *)"one/more", 8) == NULL);

    mn_destroy(src);
    mn_destroy(dst);
    CHECK_EQ(a.live_bytes, 0);
    CHECK_EQ(b.live_bytes, 0);
}

/* ---- Limits and allocation failures
 * ------------------------------------------------------------------ */
static void test_limits(void)
{
    talloc a = {.fail_at = -1};
    mn_table *t = mk(100, &a, NULL, 4, 2);
    CHECK_EQ(apply_pub(t, 2, 1, "a", 0, 1, 1), 1);
    CHECK_EQ(apply_pub(t, 2, 2, "b", 0, 1, 1), 1);
    CHECK_EQ(apply_pub(t, 2, 3, "c", 0, 1, 1), MN_ELIMIT); /* per node */
    CHECK_EQ(apply_pub(t, 2, 1, "a", 0, 7, 2), 1);         /* replacing is not growing */
    CHECK_EQ(apply_pub(t, 3, 1, "c", 0, 1, 1), 1);
    CHECK_EQ(apply_pub(t, 4, 1, "d", 0, 1, 1), 1);
    CHECK_EQ(apply_pub(t, 5, 1, "e", 0, 1, 1), MN_ELIMIT); /* total */
    mn_stats st;
    mn_get_stats(t, &st);
    CHECK_EQ(st.entries, 4);
    CHECK_EQ(st.limit_drops, 2);
    CHECK(st.bytes_used == a.live_bytes);
    CHECK(strcmp(mn_strerror(MN_ELIMIT), "name table limit reached") == 0);
    mn_destroy(t);
    CHECK_EQ(a.live_bytes, 0);

    /* Byte limit. */
    mn_config cfg = {.local_node = 100, .alloc = {ta_alloc, ta_free, &a}, .max_bytes = 4096};
    CHECK_EQ(mn_create(&cfg, &t), MN_OK);
    int rc = 0, ok = 0;
    char name[32];
    for (int i = 0; i < 100 && rc >= 0; i++) {
        snprintf(name, sizeof(name), "n%d", i);
        rc = apply_pub(t, 2, (uint32_t)i, name, 0, 1, 1);
        ok += rc == 1;
    }
    CHECK_EQ(rc, MN_ELIMIT);
    CHECK(ok > 0);
    mn_get_stats(t, &st);
    CHECK(st.bytes_used <= 4096);
    mn_destroy(t);
    CHECK_EQ(a.live_bytes, 0);

    /* Every allocation of a publish/sync/withdraw sequence fails in turn: each failure is
     * a clean error, the table stays consistent, and nothing leaks. */
    for (long k = 0; k < 200; k++) {
        talloc f = {.fail_at = -1};
        mn_table *x = mk(100, &f, NULL, 0, 0);
        f.calls = 0;
        f.fail_at = k;
        int errors = 0;
        for (int i = 0; i < 80; i++) { /* enough groups to force both tables to grow */
            snprintf(name, sizeof(name), "g/%d", i);
            rc = apply_pub(x, (uint32_t)(2 + i % 70), 1, name, 0, 1, 1);
            if (rc < 0) {
                CHECK(rc == MN_ENOMEM);
                errors++;
            }
        }
        mp_frame w = wdr(1, "g/5", 1);
        (void)mn_apply(x, 7, &w);
        mn_purge_node(x, 3);
        mn_stats xs;
        mn_get_stats(x, &xs);
        CHECK(xs.bytes_used == f.live_bytes);
        CHECK(errors <= 1);
        mn_destroy(x);
        CHECK_EQ(f.live_bytes, 0);
        CHECK_EQ(f.live_blocks, 0);
    }
}

/* ---- Scale: 1,000 nodes x 4 names
 * ------------------------------------------------------------------------ */
static void test_scale(void)
{
    talloc a = {.fail_at = -1};
    mn_table *t = mk(100000, &a, NULL, 0, 0);
    char name[32];
    for (uint32_t n = 1; n <= 1000; n++)
        for (uint32_t d = 1; d <= 4; d++) {
            snprintf(name, sizeof(name), "node%u/dev%u", n, d);
            CHECK_EQ(apply_pub(t, n, d, name, 0, 1, 1), 1);
            CHECK_EQ(apply_pub(t, n, 10 + d, "svc/shared", 0, (uint8_t)(n % 3), 1), 1);
        }
    mn_stats st;
    mn_get_stats(t, &st);
    CHECK_EQ(st.entries, 8000);
    CHECK_EQ(st.nodes, 1000);
    CHECK(look(t, "node500/dev3")->node_id == 500);
    CHECK_EQ(look(t, "svc/shared")->rank, 2);
    for (uint32_t n = 1; n <= 1000; n += 2)
        CHECK_EQ(mn_purge_node(t, n), 8);
    mn_get_stats(t, &st);
    CHECK_EQ(st.entries, 4000);
    mn_destroy(t);
    CHECK_EQ(a.live_bytes, 0);
}

int main(void)
{
    test_conflict_rule();
    test_generation();
    test_purge();
    test_pattern();
    test_anycast();
    test_sync();
    test_limits();
    test_scale();
    if (failures) {
        fprintf(stderr, "test_naming: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_naming: all passed\n");
    return 0;
}
