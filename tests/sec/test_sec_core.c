/*
 * test_sec_core — secured links in the protocol core: two mc_nodes with the ms_ crypto
 * (ms_core_ops) over an in-test wire, in literal time (no sleeps, no simulator clock).
 *
 *   node 1 (index 0) ==== wire (queue; the test delivers, drops, injects) ==== node 2
 *
 * The wire checks every frame a secured node sends: only DISCOVER, KEY_EXCHANGE and
 * SECURED may leave it, and the marker that every application payload carries must never
 * appear in clear.  A wrapper around the seal slot records every (key, nonce) pair used,
 * across node restarts, and fails on a repeat.
 *
 * Usage: test_sec_core <name> (one ctest test per name: sec.core.<name>).
 */
#define _GNU_SOURCE
#include <string.h>
#include <time.h>

#include "mc.h"
#include "ms_core.h"
#include "ts.h"

#define MSEC 1000000ull
#define USEC 1000ull
#define CHAN 0x100u
#define MARK "PLAINTEXT-MARK"

/* ---- (key, nonce) audit --------------------------------------------------------------- */
typedef struct nonce_rec {
    bool used;
    uint8_t key[MS_KEY_LEN];
    uint8_t nonce[MS_NONCE_LEN];
} nonce_rec;

#define AUDIT_SLOTS (1u << 18)
static nonce_rec *audit;
static uint64_t audit_n, audit_dups;

static uint64_t fnv(const uint8_t *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void audit_add(const uint8_t key[MS_KEY_LEN], const uint8_t nonce[MS_NONCE_LEN])
{
    if (!audit)
        audit = calloc(AUDIT_SLOTS, sizeof *audit);
    TS_CHECK(audit && audit_n < AUDIT_SLOTS / 2);
    uint64_t h = fnv(nonce, MS_NONCE_LEN, fnv(key, MS_KEY_LEN, 0xcbf29ce484222325ull));
    for (uint32_t i = (uint32_t)h & (AUDIT_SLOTS - 1);; i = (i + 1) & (AUDIT_SLOTS - 1)) {
        nonce_rec *r = &audit[i];
        if (!r->used) {
            r->used = true;
            memcpy(r->key, key, MS_KEY_LEN);
            memcpy(r->nonce, nonce, MS_NONCE_LEN);
            audit_n++;
            return;
        }
        if (!memcmp(r->key, key, MS_KEY_LEN) && !memcmp(r->nonce, nonce, MS_NONCE_LEN)) {
            if (getenv("AUDIT_DEBUG"))
                fprintf(stderr, "dup key %02x%02x ctr %llu\n", key[0], key[1], (unsigned long long)mp_get64(nonce + 4));
            audit_dups++;
            return;
        }
    }
}

/* The real seal, then record what it used: the link's send key and iv || counter. */
static int audit_seal(void *user, void *sl, const uint8_t *inner, size_t len, uint64_t now,
                      uint8_t *out, size_t cap)
{
    int r = ms_core_ops.seal(user, sl, inner, len, now, out, cap);
    if (r > 0) {
        const ms_link *l = sl;
        uint8_t nonce[MS_NONCE_LEN];
        memcpy(nonce, l->tx.iv, MS_IV_LEN);
        memcpy(nonce + MS_IV_LEN, out + 8, 8); /* the counter field of the header */
        audit_add(l->tx.key, nonce);
    }
    return r;
}

static mc_crypto_ops audit_ops;

/* ---- Wire and nodes ---------------------------------------------------------------------- */
typedef struct frame {
    int from;
    size_t len;
    uint8_t b[2048];
} frame;

typedef struct wire {
    frame q[8192];
    size_t n;
    uint32_t loss_ppm;   /* random loss on every frame */
    uint64_t lrng;
    bool drop_kx;        /* lose every KEY_EXCHANGE */
    bool drop_disc[2];   /* lose every DISCOVER node index i sends */
    /* audit of what secured nodes send */
    uint64_t bad_type, mark_seen, secured, kx, discover;
    /* the last SECURED frame node index 0 sent, for the attack test */
    frame last0;
} wire;

typedef struct tnode {
    wire *w;
    int idx;
    mc_node *n;
    ms_ctx *ctx;
    uint8_t policy;
    size_t mem;
    uint64_t rng;
    ts_rng srng;
    int link_up, link_down, peer_up, peer_down;
    uint32_t rx, next_expect, tx_next; /* application sequence numbers, one direction */
    bool order_ok;
} tnode;

static void *t_alloc(void *u, size_t s)
{
    ((tnode *)u)->mem += s;
    return malloc(s);
}
static void t_free(void *u, void *p, size_t s)
{
    ((tnode *)u)->mem -= s;
    free(p);
}
static uint32_t t_rand(void *u)
{
    tnode *t = u;
    t->rng ^= t->rng << 13;
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    return (uint32_t)t->rng;
}

static uint32_t wire_rand(wire *w)
{
    w->lrng ^= w->lrng << 13;
    w->lrng ^= w->lrng >> 7;
    w->lrng ^= w->lrng << 17;
    return (uint32_t)w->lrng;
}

static void t_tx(void *u, int bearer, const mc_addr *dst, const uint8_t *f, size_t len)
{
    (void)bearer;
    (void)dst;
    tnode *t = u;
    wire *w = t->w;
    TS_CHECK(len >= 4 && len <= 1500); /* the bearer MTU, SECURED overhead included */
    uint8_t type = f[1];
    if (t->policy == MP_SEC_REQUIRED) {
        if (type != MP_T_DISCOVER && type != MP_T_KEY_EXCHANGE && type != MP_T_SECURED)
            w->bad_type++;
        if (memmem(f, len, MARK, sizeof MARK - 1))
            w->mark_seen++;
    }
    w->secured += type == MP_T_SECURED;
    w->kx += type == MP_T_KEY_EXCHANGE;
    w->discover += type == MP_T_DISCOVER;
    if (type == MP_T_SECURED && t->idx == 0) {
        w->last0.from = 0;
        w->last0.len = len;
        memcpy(w->last0.b, f, len);
    }
    if (w->drop_kx && type == MP_T_KEY_EXCHANGE)
        return;
    if (w->drop_disc[t->idx] && type == MP_T_DISCOVER)
        return;
    if (w->loss_ppm && wire_rand(w) % 1000000u < w->loss_ppm)
        return;
    TS_CHECK(w->n < sizeof w->q / sizeof w->q[0]);
    w->q[w->n].from = t->idx;
    w->q[w->n].len = len;
    memcpy(w->q[w->n].b, f, len);
    w->n++;
}

static void t_event(void *u, const mc_event *ev)
{
    tnode *t = u;
    switch (ev->type) {
    case MC_EV_LINK_UP: t->link_up++; break;
    case MC_EV_LINK_DOWN: t->link_down++; break;
    case MC_EV_PEER_UP: t->peer_up++; break;
    case MC_EV_PEER_DOWN: t->peer_down++; break;
    case MC_EV_MESSAGE:
        TS_CHECK(ev->len >= 4);
        if (mp_get32(ev->data) != t->next_expect) {
            fprintf(stderr, "node %d: got message %u, expected %u\n", t->idx + 1,
                    mp_get32(ev->data), t->next_expect);
            t->order_ok = false;
        }
        t->next_expect = mp_get32(ev->data) + 1;
        t->rx++;
        break;
    default: break;
    }
}

typedef struct nopts {
    uint8_t policy;
    bool no_crypto;          /* a node built without security (policy PLAIN) */
    const uint8_t *key;      /* cluster key; default ts_cluster_key */
    uint64_t ms_seed;        /* 0: OpenSSL RAND_bytes; else a seeded ms_ RNG */
    uint64_t mc_seed;
    uint64_t rekey_frames;   /* 0: default */
    bool no_audit;           /* the real seal slot (benchmark) */
} nopts;

static void node_init(tnode *t, wire *w, int idx, const nopts *o)
{
    memset(t, 0, sizeof *t);
    t->w = w;
    t->idx = idx;
    t->policy = o->policy;
    t->order_ok = true;
    t->rng = o->mc_seed ? o->mc_seed : 0x1234567ull + (uint64_t)idx * 77;
    mc_config c;
    mc_config_default(&c);
    c.node_id = (uint32_t)idx + 1;
    c.domain = 7;
    c.paths = false; /* raw channels: links and channels are under test */
    c.alloc = (mc_alloc){t_alloc, t_free, t};
    c.rng = (mc_rng){t_rand, t};
    c.tx = t_tx;
    c.event = t_event;
    c.user = t;
    if (!o->no_crypto) {
        ms_config mc;
        ms_config_default(&mc);
        mc.node_id = c.node_id;
        mc.domain = c.domain;
        mc.cluster_key = o->key ? o->key : ts_cluster_key;
        mc.cluster_key_len = MS_CLUSTER_KEY_LEN;
        mc.policy = o->policy;
        if (o->rekey_frames)
            mc.rekey_frames = o->rekey_frames;
        if (o->ms_seed) {
            t->srng.s = o->ms_seed;
            mc.rng = (ms_rng){ts_fill, &t->srng};
        }
        TS_EQ(ms_ctx_create(&mc, &t->ctx), MS_OK);
        ms_core_crypto(t->ctx, &c.crypto);
        audit_ops = ms_core_ops;
        audit_ops.seal = audit_seal;
        if (!o->no_audit)
            c.crypto.ops = &audit_ops;
    }
    TS_EQ(mc_node_create(&c, &t->n), MC_OK);
    mc_bearer_cfg b;
    memset(&b, 0, sizeof b);
    b.mtu = 1500;
    b.discovery.len = 1;
    b.discovery.b[0] = 0xFF;
    TS_EQ(mc_bearer_attach(t->n, &b, 0), 0);
}

static void node_fini(tnode *t)
{
    mc_node_destroy(t->n);
    TS_EQ(t->mem, 0); /* every accounted byte returned */
    ms_ctx_destroy(t->ctx);
    t->n = NULL;
    t->ctx = NULL;
}

static void deliver(tnode *nodes, const frame *f, uint64_t now)
{
    tnode *to = &nodes[1 - f->from];
    mc_addr src = {.len = 1, .b = {(uint8_t)(f->from + 1)}};
    (void)mc_input(to->n, 0, &src, f->b, f->len, now);
}

/* Inject bytes into node `to` as if node `1 - to` had sent them. */
static int inject(tnode *nodes, int to, const uint8_t *b, size_t len, uint64_t now)
{
    mc_addr src = {.len = 1, .b = {(uint8_t)(2 - to)}};
    return mc_input(nodes[to].n, 0, &src, b, len, now);
}

/* Deliver what is queued at `now` (frames produced meanwhile wait), then run timers. */
static void pump(wire *w, tnode *nodes, uint64_t now)
{
    static frame q[sizeof ((wire *)0)->q / sizeof(frame)];
    size_t n = w->n;
    memcpy(q, w->q, n * sizeof *q);
    w->n = 0;
    for (size_t i = 0; i < n; i++)
        deliver(nodes, &q[i], now);
    for (int k = 0; k < 2; k++)
        if (nodes[k].n && mc_next_deadline(nodes[k].n) <= now)
            mc_timeout(nodes[k].n, now);
}

static uint64_t run(wire *w, tnode *nodes, uint64_t t0, uint64_t t1, uint64_t step)
{
    for (uint64_t t = t0; t <= t1; t += step)
        pump(w, nodes, t);
    return t1;
}

static int link_state(const tnode *t)
{
    mc_link_info li;
    if (mc_link_get(t->n, t->idx == 0 ? 2 : 1, 0, &li) < 0)
        return -1;
    return li.state;
}

static mc_sec_info sec_info(const tnode *t, uint64_t now)
{
    mc_sec_info si;
    TS_EQ(mc_link_sec_get(t->n, t->idx == 0 ? 2 : 1, 0, now, &si), MC_OK);
    return si;
}

static uint64_t drops(const tnode *t, int reason)
{
    mc_stats st;
    mc_get_stats(t->n, &st);
    return st.drops[reason];
}

/* Queue up to `k` messages from node i to its peer; false once `total` have been sent. */
static void send_some(tnode *nodes, int i, uint32_t k, uint32_t total, size_t size,
                      uint64_t now)
{
    tnode *t = &nodes[i];
    static uint8_t p[20000];
    TS_CHECK(size >= 4 + sizeof MARK && size <= sizeof p);
    memset(p, 0xA5, size);
    memcpy(p + 4, MARK, sizeof MARK - 1);
    for (uint32_t j = 0; j < k && t->tx_next < total; j++) {
        mp_put32(p, t->tx_next);
        int r = mc_send(t->n, i == 0 ? 2 : 1, CHAN, MP_T_DATA, p, size, now, NULL);
        if (r == MC_EAGAIN || r == MC_ENOTCONN)
            return;
        TS_EQ(r, MC_OK);
        t->tx_next++;
    }
    mc_flush(t->n, now);
}

/* Both directions: `total` messages each, `k` per node per step.  Calls hook (if any)
 * at every step, between sending and delivery.  Returns the time when everything was delivered. */
typedef void (*step_hook)(wire *w, tnode *nodes, uint64_t now, void *arg);
static uint64_t traffic(wire *w, tnode *nodes, uint64_t now, uint32_t total, uint32_t k,
                        size_t size, step_hook hook, void *arg)
{
    uint64_t limit = now + 120ull * 1000 * MSEC;
    while (now < limit && (nodes[0].rx < total || nodes[1].rx < total)) {
        send_some(nodes, 0, k, total, size, now);
        send_some(nodes, 1, k, total, size, now);
        now += 200 * USEC;
        if (hook) /* the frames just sent are still on the wire */
            hook(w, nodes, now, arg);
        pump(w, nodes, now);
    }
    TS_EQ(nodes[0].rx, total);
    TS_EQ(nodes[1].rx, total);
    TS_CHECK(nodes[0].order_ok && nodes[1].order_ok);
    return now;
}

static void reset_counts(tnode *nodes)
{
    for (int i = 0; i < 2; i++) {
        nodes[i].rx = nodes[i].next_expect = nodes[i].tx_next = 0;
        nodes[i].order_ok = true;
    }
}

static void up_pair(wire *w, tnode *t, const nopts *a, const nopts *b)
{
    /* A new pair is a new world: its seeded RNGs may repeat an earlier case's keys,
     * which is no reuse by any one node.  The audit spans restarts within a case. */
    if (audit)
        memset(audit, 0, AUDIT_SLOTS * sizeof *audit);
    audit_n = audit_dups = 0;
    memset(w, 0, sizeof *w);
    w->lrng = 0x9e3779b97f4a7c15ull;
    node_init(&t[0], w, 0, a);
    node_init(&t[1], w, 1, b);
}

/* ---- Tests ----------------------------------------------------------------------------- */

/* REQUIRED both ends: the exchange runs after discovery, the link comes up secured, and
 * traffic in both directions is sealed: nothing but DISCOVER, KEY_EXCHANGE and SECURED
 * on the wire, and the payload marker never in clear. */
static void t_traffic(void)
{
    static wire w;
    tnode t[2];
    nopts o = {.policy = MP_SEC_REQUIRED, .ms_seed = 11};
    nopts p = {.policy = MP_SEC_REQUIRED, .ms_seed = 22};
    up_pair(&w, t, &o, &p);
    uint64_t now = run(&w, t, 0, 5 * MSEC, 100 * USEC);
    TS_EQ(link_state(&t[0]), MC_LS_ESTABLISHED);
    TS_EQ(link_state(&t[1]), MC_LS_ESTABLISHED);
    mc_sec_info a = sec_info(&t[0], now), b = sec_info(&t[1], now);
    TS_CHECK(a.secured && b.secured && a.send_ready && b.send_ready);
    TS_EQ(a.suite, MP_SUITE_AES256GCM);
    TS_EQ(a.kx_completed, 1);
    TS_EQ(b.kx_completed, 1);
    TS_EQ(a.peer_policy, MP_SEC_REQUIRED);
    TS_EQ(w.kx, 3); /* INIT, RESP, CONFIRM: nothing else was needed */
    now = traffic(&w, t, now, 3000, 8, 200, NULL, NULL);
    /* Big messages too: full frames and fragments of a secured node fit the MTU after
     * sealing (the wire checks every length). */
    reset_counts(t);
    now = traffic(&w, t, now, 200, 2, 1400, NULL, NULL);
    reset_counts(t);
    now = traffic(&w, t, now, 20, 1, 20000, NULL, NULL);
    TS_EQ(w.bad_type, 0);
    TS_EQ(w.mark_seen, 0);
    TS_CHECK(w.secured > 700); /* bundles: fewer frames than messages */
    a = sec_info(&t[0], now);
    b = sec_info(&t[1], now);
    TS_CHECK(a.sealed > 0 && a.opened > 0 && b.sealed > 0 && b.opened > 0);
    TS_EQ(a.auth_failures + a.replays + a.wrong_key_id + a.malformed + a.plain_refused, 0);
    TS_EQ(b.auth_failures + b.replays + b.wrong_key_id + b.malformed + b.plain_refused, 0);
    TS_EQ(t[0].link_down + t[1].link_down, 0);
    TS_EQ(audit_dups, 0);
    node_fini(&t[0]);
    node_fini(&t[1]);
}

/* A SECURED frame sealed under a different cluster key's session: node 1 -> node 2,
 * key_id 0, like the real ones, but from an exchange the real node 2 never ran. */
static size_t wrong_key_frame(uint8_t *out, size_t cap)
{
    static const uint8_t other[32] = "another cluster's key, 32 bytes";
    ts_node a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    ts_cfg(&a, 1, 1234);
    ts_cfg(&b, 2, 5678);
    a.cfg.cluster_key = other;
    b.cfg.cluster_key = other;
    ts_open(&a, 2, MP_SEC_REQUIRED);
    ts_open(&b, 1, MP_SEC_REQUIRED);
    ts_handshake(&a, &b, 1000);
    uint8_t in[128];
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = MP_T_DATA;
    f.hdr.chan = CHAN;
    f.u.data.ptr = in;
    f.u.data.len = 40;
    memset(in, 0, sizeof in);
    int il = mp_encode(&f, in + 64, 64);
    TS_CHECK(il > 0);
    /* A counter the victim has not seen yet, so that the tag (not the replay window) is
     * what rejects it. */
    a.link->tx.counter = 1000000;
    int n = ms_seal(a.link, in + 64, (size_t)il, 2000, out, cap);
    TS_CHECK(n > 0);
    ts_close(&a);
    ts_close(&b);
    return (size_t)n;
}

/* A KEY_EXCHANGE INIT from "node 1" with a MAC under another cluster key. */
static void wrong_key_init(uint8_t out[MP_KEY_EXCHANGE_LEN])
{
    static const uint8_t other[32] = "another cluster's key, 32 bytes";
    ts_node a;
    memset(&a, 0, sizeof a);
    ts_cfg(&a, 1, 99);
    a.cfg.cluster_key = other;
    ts_open(&a, 2, MP_SEC_REQUIRED);
    TS_EQ(ms_link_start(a.link, 1000, out), MP_KEY_EXCHANGE_LEN);
    ts_close(&a);
}

typedef struct attack_state {
    int phase;
    frame first;          /* an early frame, far out of the replay window later */
    uint64_t injected;    /* SECURED frames injected that must reach the crypto */
} attack_state;

/* During traffic, inject at node 2 every kind of bad frame "from node 1". */
static void attack_hook(wire *w, tnode *t, uint64_t now, void *arg)
{
    attack_state *s = arg;
    if (s->phase == 0 && w->last0.len) {
        s->first = w->last0;
        s->phase = 1;
        return;
    }
    if (s->phase != 1 || t[1].rx < 2500)
        return;
    /* A SECURED frame of node 1 still on the wire: its tampered copies go first, while
     * its counter is new to node 2, so the tag (not the replay window) must stop them;
     * the original then arrives and must still be accepted. */
    const frame *q = NULL;
    for (size_t i = 0; i < w->n; i++)
        if (w->q[i].from == 0 && w->q[i].b[1] == MP_T_SECURED && w->q[i].len > 45)
            q = &w->q[i];
    if (!q)
        return;
    s->phase = 2;
    frame cur = *q;
    uint8_t b[2048];
    size_t n = cur.len;

    /* 1. forged: right header, fresh counter, made-up ciphertext and tag */
    memcpy(b, cur.b, n);
    mp_put64(b + 8, mp_get64(cur.b + 8) + 100000);
    for (size_t i = 16; i < n; i++)
        b[i] = (uint8_t)(i * 131 + 7);
    TS_EQ(inject(t, 1, b, n, now), MC_EAUTH);
    /* 3. truncated: cut short (the codec refuses it before any crypto), and cut short
     *    with the length field patched to match (the tag then fails) */
    TS_EQ(inject(t, 1, cur.b, n - 5, now), MC_ECODEC);
    memcpy(b, cur.b, n - 5);
    mp_put16(b + 2, (uint16_t)(n - 5));
    TS_EQ(inject(t, 1, b, n - 5, now), MC_EAUTH);
    /* 4. bit flips: in the ciphertext, the tag, the counter (AAD), the key id, and a
     *    reserved octet (malformed) */
    static const size_t flips[] = {20, 0 /* tag: set below */, 8, 4, 5};
    for (unsigned i = 0; i < 5; i++) {
        memcpy(b, cur.b, n);
        size_t at = i == 1 ? n - 3 : flips[i];
        b[at] ^= i == 2 ? 0x80 : 0x01;
        TS_EQ(inject(t, 1, b, n, now), MC_EAUTH);
    }
    /* 5. wrong key: a good SECURED frame of another cluster's session */
    size_t wl = wrong_key_frame(b, sizeof b);
    TS_EQ(inject(t, 1, b, wl, now), MC_EAUTH);
    /* 6. replay: the original is delivered, then the same bytes again (inside the
     *    window), and an early frame (further back) */
    pump(w, t, now);
    TS_EQ(inject(t, 1, cur.b, n, now), MC_EAUTH);
    TS_EQ(inject(t, 1, s->first.b, s->first.len, now), MC_EAUTH);
    /* 7. plaintext DATA on the secured link (MSG-SEC-15) */
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = MP_T_DATA;
    f.hdr.chan = CHAN;
    f.hdr.cseq = t[1].next_expect;
    uint8_t pl[32];
    mp_put32(pl, t[1].next_expect);
    memcpy(pl + 4, MARK, sizeof MARK - 1);
    f.u.data.ptr = pl;
    f.u.data.len = sizeof pl;
    int pn = mp_encode(&f, b, sizeof b);
    TS_CHECK(pn > 0);
    TS_EQ(inject(t, 1, b, (size_t)pn, now), MC_EAUTH);
    /* 8. a KEY_EXCHANGE INIT under another cluster key */
    uint8_t kx[MP_KEY_EXCHANGE_LEN];
    wrong_key_init(kx);
    TS_EQ(inject(t, 1, kx, sizeof kx, now), MC_EAUTH);
    s->injected = 2 + 1 + 1 + 5 + 1;
}

static void t_attacks(void)
{
    static wire w;
    tnode t[2];
    nopts o = {.policy = MP_SEC_REQUIRED, .ms_seed = 11};
    nopts p = {.policy = MP_SEC_REQUIRED, .ms_seed = 22};
    up_pair(&w, t, &o, &p);
    uint64_t now = run(&w, t, 0, 5 * MSEC, 100 * USEC);
    TS_EQ(link_state(&t[1]), MC_LS_ESTABLISHED);
    attack_state s;
    memset(&s, 0, sizeof s);
    now = traffic(&w, t, now, 5000, 8, 100, attack_hook, &s);
    TS_EQ(s.phase, 2);
    mc_sec_info b = sec_info(&t[1], now);
    /* Each kind landed in its own counter, exactly. */
    TS_EQ(b.replays, 2);
    TS_EQ(b.auth_failures, 1 /* forged */ + 1 /* truncated+patched */ + 3 /* flips */ +
                               1 /* wrong key */);
    TS_EQ(b.wrong_key_id, 1);
    TS_EQ(b.malformed, 1);
    TS_EQ(b.plain_refused, 1);
    TS_EQ(b.kx_auth_failures, 1);
    TS_EQ(drops(&t[1], MC_DROP_SEC_AUTH), s.injected);
    TS_EQ(drops(&t[1], MC_DROP_SEC_PLAIN), 1);
    TS_EQ(drops(&t[1], MC_DROP_SEC_KX), 1);
    TS_EQ(drops(&t[1], MC_DROP_DECODE), 1);
    /* No message lost or duplicated (traffic() checked count and order), no link reset,
     * and the keys in use did not change. */
    TS_EQ(t[0].link_down + t[1].link_down, 0);
    TS_EQ(b.kx_completed, 1);
    TS_EQ(w.bad_type + w.mark_seen, 0);
    TS_EQ(audit_dups, 0);
    node_fini(&t[0]);
    node_fini(&t[1]);
}

/* Random mutations (bit flips, truncation, extension, length field) of node 1's
 * SECURED frames, injected at node 2 before the originals arrive, at every step of the
 * traffic: every one is refused and counted, and the traffic is untouched. */
typedef struct mut_state {
    uint64_t rng, injected, refused;
} mut_state;

static void mutate_hook(wire *w, tnode *t, uint64_t now, void *arg)
{
    mut_state *m = arg;
    for (size_t i = 0; i < w->n; i++) {
        const frame *f = &w->q[i];
        if (f->from != 0 || f->b[1] != MP_T_SECURED)
            continue;
        uint8_t b[2048];
        size_t n = f->len;
        memcpy(b, f->b, n);
        m->rng ^= m->rng << 13;
        m->rng ^= m->rng >> 7;
        m->rng ^= m->rng << 17;
        uint64_t r = m->rng;
        switch (r % 5) {
        case 0: /* one bit anywhere after the type, the length field included */
        case 1: {
            size_t at = 2 + (size_t)((r >> 8) % (n - 2));
            b[at] ^= (uint8_t)(1u << ((r >> 40) & 7));
            break;
        }
        case 2: /* truncated, length patched or not */
            n -= 1 + (size_t)((r >> 8) % 16);
            if (r & (1ull << 33))
                mp_put16(b + 2, (uint16_t)n);
            break;
        case 3: /* extended with junk, length patched */
            memset(b + n, (int)(r >> 16), 8);
            n += 8;
            mp_put16(b + 2, (uint16_t)n);
            break;
        default: /* several bits in the ciphertext and tag */
            for (int k = 0; k < 4; k++)
                b[16 + (size_t)((r >> (8 * k)) % (n - 16))] ^= 0x5a;
            break;
        }
        if (n == f->len && !memcmp(b, f->b, n))
            continue; /* the mutation cancelled out */
        m->injected++;
        if (inject(t, 1, b, n, now) < 0)
            m->refused++;
        break; /* one per step */
    }
}

static void t_mutations(void)
{
    static wire w;
    tnode t[2];
    nopts o = {.policy = MP_SEC_REQUIRED, .ms_seed = 11};
    nopts p = {.policy = MP_SEC_REQUIRED, .ms_seed = 22};
    up_pair(&w, t, &o, &p);
    uint64_t now = run(&w, t, 0, 5 * MSEC, 100 * USEC);
    TS_EQ(link_state(&t[1]), MC_LS_ESTABLISHED);
    mut_state m = {.rng = 0x2545F4914F6CDD1Dull};
    now = traffic(&w, t, now, 5000, 4, 150, mutate_hook, &m);
    printf("mutations: %llu injected, %llu refused\n", (unsigned long long)m.injected,
           (unsigned long long)m.refused);
    TS_CHECK(m.injected > 500);
    TS_EQ(m.refused, m.injected);
    mc_sec_info b = sec_info(&t[1], now);
    TS_EQ(drops(&t[1], MC_DROP_SEC_AUTH) + drops(&t[1], MC_DROP_DECODE), m.injected);
    TS_EQ(b.auth_failures + b.replays + b.wrong_key_id + b.malformed + b.inner_bad,
          drops(&t[1], MC_DROP_SEC_AUTH));
    TS_EQ(t[0].link_down + t[1].link_down, 0);
    TS_EQ(b.kx_completed, 1);
    TS_EQ(audit_dups, 0);
    node_fini(&t[0]);
    node_fini(&t[1]);
}

/* Rekey under traffic with 1% loss: by frame count (every 100 frames per direction)
 * and on demand from the responder.  Nothing lost, nothing twice, no link reset. */
static void rekey_hook(wire *w, tnode *t, uint64_t now, void *arg)
{
    (void)w;
    int *done = arg;
    if (!*done && t[1].rx > 1500) {
        int r = mc_link_rekey(t[1].n, 1, 0, now);
        if (r == MC_OK)
            *done = 1;
        else
            TS_EQ(r, MC_ESTATE); /* an exchange is running: try at the next step */
    }
}

static void t_rekey(void)
{
    static wire w;
    tnode t[2];
    nopts o = {.policy = MP_SEC_REQUIRED, .ms_seed = 11, .rekey_frames = 100};
    nopts p = {.policy = MP_SEC_REQUIRED, .ms_seed = 22, .rekey_frames = 100};
    up_pair(&w, t, &o, &p);
    uint64_t now = run(&w, t, 0, 5 * MSEC, 100 * USEC);
    TS_EQ(link_state(&t[1]), MC_LS_ESTABLISHED);
    w.loss_ppm = 10000;
    int done = 0;
    now = traffic(&w, t, now, 4000, 4, 300, rekey_hook, &done);
    w.loss_ppm = 0;
    now = run(&w, t, now, now + 3000 * MSEC, 1 * MSEC); /* grace ends, old keys erased */
    TS_EQ(done, 1);
    mc_sec_info a = sec_info(&t[0], now), b = sec_info(&t[1], now);
    printf("rekey: node1 rekeys %llu key_id %u; node2 rekeys %llu key_id %u; "
           "secured frames %llu\n",
           (unsigned long long)a.rekeys, a.tx_key_id, (unsigned long long)b.rekeys,
           b.tx_key_id, (unsigned long long)w.secured);
    TS_CHECK(a.rekeys >= 5 && b.rekeys >= 5);
    TS_EQ(a.tx_key_id, b.tx_key_id);
    TS_EQ(a.rx_keys, 1);
    TS_EQ(t[0].link_down + t[1].link_down, 0);
    TS_EQ(w.bad_type + w.mark_seen, 0);
    TS_EQ(audit_dups, 0);
    node_fini(&t[0]);
    node_fini(&t[1]);
}

/* Restart one node (a new incarnation; its keys died with it).  The link comes back
 * secured through a new exchange, traffic flows again, and no (key, nonce) pair was ever
 * used twice by either node in either life.  With same_rng the restarted node's ms_ RNG
 * repeats its previous life exactly (worst case): the survivor's fresh contribution must
 * still make every key new. */
static void restart_case(int victim, bool same_rng, bool lose_discover)
{
    static wire w;
    tnode t[2];
    nopts o[2] = {{.policy = MP_SEC_REQUIRED, .ms_seed = 11},
                  {.policy = MP_SEC_REQUIRED, .ms_seed = 22}};
    up_pair(&w, t, &o[0], &o[1]);
    uint64_t now = run(&w, t, 0, 5 * MSEC, 100 * USEC);
    TS_EQ(link_state(&t[1]), MC_LS_ESTABLISHED);
    now = traffic(&w, t, now, 1000, 8, 200, NULL, NULL);
    uint64_t before = audit_n;
    int survivor = 1 - victim;
    mc_sec_info s0 = sec_info(&t[survivor], now);

    /* Crash: the victim vanishes with its queued frames, and comes back 50 ms later. */
    node_fini(&t[victim]);
    w.n = 0;
    now = run(&w, t, now, now + 50 * MSEC, 1 * MSEC); /* survivor alone */
    nopts again = o[victim];
    if (!same_rng)
        again.ms_seed = 0; /* production: OpenSSL's CSPRNG */
    again.mc_seed = 0xabcdef12345ull; /* a new incarnation */
    node_init(&t[victim], &w, victim, &again);
    /* Worst case: the survivor never sees the restarted node's DISCOVER, so nothing
     * tells it of the restart but the silence of its (sealed) LINK_RESETs. */
    w.drop_disc[victim] = lose_discover;
    uint64_t t_restart = now, t_up = 0;
    while (now < t_restart + 3000 * MSEC) {
        now += 1 * MSEC;
        pump(&w, t, now);
        if (!t_up && link_state(&t[0]) == MC_LS_ESTABLISHED &&
            link_state(&t[1]) == MC_LS_ESTABLISHED)
            t_up = now;
    }
    TS_EQ(link_state(&t[0]), MC_LS_ESTABLISHED);
    TS_EQ(link_state(&t[1]), MC_LS_ESTABLISHED);
    mc_sec_info s1 = sec_info(&t[survivor], now), v = sec_info(&t[victim], now);
    TS_CHECK(s1.send_ready && v.send_ready);
    TS_EQ(v.kx_completed, 1);
    TS_CHECK(s1.kx_completed >= 1);
    (void)s0;
    reset_counts(t);
    now = traffic(&w, t, now, 1000, 8, 200, NULL, NULL);
    TS_CHECK(audit_n > before + 200);
    TS_EQ(audit_dups, 0);
    TS_EQ(w.bad_type + w.mark_seen, 0);
    printf("restart of node %d (%s RNG): link back after %llu ms, %llu (key, nonce) pairs, "
           "no repeat\n",
           victim + 1, same_rng ? "repeated" : "fresh",
           (unsigned long long)((t_up - t_restart) / MSEC), (unsigned long long)audit_n);
    /* No waiting for slow timers; without the DISCOVER, one tolerance (the survivor's
     * link times out) plus ten unanswered LINK_RESETs, then a rekey. */
    TS_CHECK(t_up && t_up - t_restart <= (lose_discover ? 1500 : 100) * MSEC);
    w.drop_disc[victim] = false;
    node_fini(&t[0]);
    node_fini(&t[1]);
}

static void t_restart(void)
{
    restart_case(1, false, false); /* the responder (higher node id) restarts */
    restart_case(0, false, false); /* the initiator restarts */
}

static void t_restart_same_rng(void)
{
    restart_case(1, true, false);
    restart_case(0, true, false);
}

static void t_restart_lost_discover(void)
{
    restart_case(1, false, true);
    restart_case(0, false, true);
}

/* The RFC 12.7 table, end to end: which pairs form a link, and in which mode. */
static void policy_case(nopts a, nopts b, int want_state, bool want_secured)
{
    static wire w;
    tnode t[2];
    up_pair(&w, t, &a, &b);
    uint64_t now = run(&w, t, 0, 2000 * MSEC, 1 * MSEC);
    if (want_state < 0) {
        TS_EQ(link_state(&t[0]), -1);
        TS_EQ(link_state(&t[1]), -1);
        TS_CHECK(drops(&t[0], MC_DROP_SEC_POLICY) + drops(&t[1], MC_DROP_SEC_POLICY) > 0);
        TS_EQ(w.secured, 0);
    } else {
        TS_EQ(link_state(&t[0]), want_state);
        TS_EQ(link_state(&t[1]), want_state);
        mc_sec_info s = sec_info(&t[0], now), r = sec_info(&t[1], now);
        TS_EQ(s.secured, want_secured);
        TS_EQ(r.secured, want_secured);
        now = traffic(&w, t, now, 200, 4, 100, NULL, NULL);
        TS_CHECK(want_secured ? w.secured > 50 : w.secured == 0);
    }
    node_fini(&t[0]);
    node_fini(&t[1]);
}

static void t_policy(void)
{
    nopts req = {.policy = MP_SEC_REQUIRED, .ms_seed = 1};
    nopts tra = {.policy = MP_SEC_TRANSITION, .ms_seed = 2};
    nopts pla = {.policy = MP_SEC_PLAIN, .ms_seed = 3};
    nopts none = {.policy = MP_SEC_PLAIN, .no_crypto = true};
    policy_case(req, pla, -1, false);
    policy_case(pla, req, -1, false);
    policy_case(none, req, -1, false);
    policy_case(req, none, -1, false);
    policy_case(tra, pla, MC_LS_ESTABLISHED, false);
    policy_case(none, tra, MC_LS_ESTABLISHED, false);
    policy_case(tra, req, MC_LS_ESTABLISHED, true);
    policy_case(tra, tra, MC_LS_ESTABLISHED, true);
    policy_case(pla, pla, MC_LS_ESTABLISHED, false);
    /* A node without crypto cannot be configured for security. */
    mc_config c;
    mc_config_default(&c);
    c.node_id = 1;
    c.alloc = (mc_alloc){t_alloc, t_free, NULL};
    c.crypto.policy = MP_SEC_REQUIRED;
    mc_node *n = NULL;
    TS_EQ(mc_node_create(&c, &n), MC_EINVAL);
}

/* Lost KEY_EXCHANGE frames: nothing goes out in clear meanwhile, INIT is resent, and
 * when the retries run out the exchange starts afresh on the peer's next DISCOVER. */
static void t_kxloss(void)
{
    static wire w;
    tnode t[2];
    nopts o = {.policy = MP_SEC_REQUIRED, .ms_seed = 11};
    nopts p = {.policy = MP_SEC_REQUIRED, .ms_seed = 22};
    up_pair(&w, t, &o, &p);
    w.drop_kx = true;
    uint64_t now = run(&w, t, 0, 4000 * MSEC, 1 * MSEC); /* beyond 10 x 250 ms */
    TS_EQ(link_state(&t[0]), MC_LS_RESET);
    TS_EQ(w.secured, 0); /* no LINK_RESET without keys, and none in clear */
    TS_EQ(w.bad_type, 0);
    mc_sec_info a = sec_info(&t[0], now);
    TS_CHECK(a.kx_failed >= 1);
    w.drop_kx = false;
    now = run(&w, t, now, now + 3000 * MSEC, 1 * MSEC);
    TS_EQ(link_state(&t[0]), MC_LS_ESTABLISHED);
    TS_EQ(link_state(&t[1]), MC_LS_ESTABLISHED);
    now = traffic(&w, t, now, 200, 4, 100, NULL, NULL);
    node_fini(&t[0]);
    node_fini(&t[1]);
}

/* ---- Throughput: sealed vs plain through two cores, CPU time, in one run -------------- */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_case(uint8_t policy, uint32_t msgs, size_t size, const char *what)
{
    static wire w;
    tnode t[2];
    nopts o = {.policy = policy, .ms_seed = 11, .no_audit = true};
    nopts p = {.policy = policy, .ms_seed = 22, .no_audit = true};
    up_pair(&w, t, &o, &p);
    uint64_t now = run(&w, t, 0, 5 * MSEC, 100 * USEC);
    TS_EQ(link_state(&t[0]), MC_LS_ESTABLISHED);
    double c0 = cpu_s();
    /* one direction, node 1 -> node 2: the receiver counts */
    uint64_t limit = now + 600ull * 1000 * MSEC;
    while (t[1].rx < msgs && now < limit) {
        send_some(t, 0, 64, msgs, size, now);
        now += 100 * USEC;
        pump(&w, t, now);
    }
    double dt = cpu_s() - c0;
    TS_EQ(t[1].rx, msgs);
    double mb = (double)msgs * (double)size / 1e6;
    printf("%-8s %6zu B x %7u msgs: %7.3f s CPU, %8.1f MB/s, %9.0f msg/s (both nodes)\n",
           what, size, msgs, dt, mb / dt, msgs / dt);
    node_fini(&t[0]);
    node_fini(&t[1]);
}

static void t_bench(uint32_t msgs)
{
    static const size_t sizes[] = {64, 1024, 1400};
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        bench_case(MP_SEC_PLAIN, msgs, sizes[i], "plain");
        bench_case(MP_SEC_REQUIRED, msgs, sizes[i], "secured");
    }
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "all";
    bool all = !strcmp(name, "all");
    if (all || !strcmp(name, "traffic"))
        t_traffic();
    if (all || !strcmp(name, "attacks"))
        t_attacks();
    if (all || !strcmp(name, "mutations"))
        t_mutations();
    if (all || !strcmp(name, "rekey"))
        t_rekey();
    if (all || !strcmp(name, "restart"))
        t_restart();
    if (all || !strcmp(name, "restart_same_rng"))
        t_restart_same_rng();
    if (all || !strcmp(name, "restart_lost_discover"))
        t_restart_lost_discover();
    if (all || !strcmp(name, "policy"))
        t_policy();
    if (all || !strcmp(name, "kxloss"))
        t_kxloss();
    if (!strcmp(name, "bench"))
        t_bench(argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 200000);
    if (all || !strcmp(name, "bench_smoke"))
        t_bench(2000);
    printf("test_sec_core %s: ok\n", name);
    free(audit);
    return 0;
}
