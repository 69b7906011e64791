/*
 * tests/sec/ts.h — helpers for the stack/sec tests, the benchmark and the fuzz target:
 * a seeded RNG, a pair of nodes with one link each way, and frame builders.
 */
#ifndef TS_H
#define TS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms.h"
#include "ms_int.h"

#define TS_CHECK(c)                                                                     \
    do {                                                                                \
        if (!(c)) {                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);        \
            abort();                                                                    \
        }                                                                               \
    } while (0)
#define TS_EQ(a, b)                                                                     \
    do {                                                                                \
        long long _a = (long long)(a), _b = (long long)(b);                             \
        if (_a != _b) {                                                                 \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__,        \
                    __LINE__, #a, _a, #b, _b);                                          \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* splitmix64: a deterministic RNG for ms_rng. */
typedef struct ts_rng {
    uint64_t s;
} ts_rng;
static inline uint64_t ts_next(ts_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline int ts_fill(void *user, uint8_t *buf, size_t n)
{
    ts_rng *r = user;
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)ts_next(r);
    return 0;
}

static const uint8_t ts_cluster_key[32] = {
    0x6d, 0x73, 0x67, 0x72, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x75, 0x73, 0x74, 0x65,
    0x72, 0x20, 0x6b, 0x65, 0x79, 0x20, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
};

typedef struct ts_node {
    ms_config cfg;
    ts_rng rng;
    ms_ctx *ctx;
    ms_link *link;
} ts_node;

/* Config of node `id`; seed 0 = OpenSSL's RNG. */
static inline void ts_cfg(ts_node *n, uint32_t id, uint64_t seed)
{
    ms_config_default(&n->cfg);
    n->cfg.node_id = id;
    n->cfg.domain = 7;
    n->cfg.cluster_key = ts_cluster_key;
    n->cfg.cluster_key_len = sizeof ts_cluster_key;
    n->rng.s = seed;
    if (seed) {
        n->cfg.rng.fill = ts_fill;
        n->cfg.rng.user = &n->rng;
    }
}

static inline void ts_open(ts_node *n, uint32_t peer, uint8_t peer_policy)
{
    TS_EQ(ms_ctx_create(&n->cfg, &n->ctx), 0);
    TS_EQ(ms_link_create(n->ctx, peer, peer_policy, &n->link), 0);
}

static inline void ts_close(ts_node *n)
{
    ms_link_destroy(n->link);
    ms_ctx_destroy(n->ctx);
    n->link = NULL;
    n->ctx = NULL;
}

/* Full handshake between a (lower id) and b at time now. */
static inline void ts_handshake(ts_node *a, ts_node *b, uint64_t now)
{
    uint8_t m1[MP_KEY_EXCHANGE_LEN], m2[MP_KEY_EXCHANGE_LEN], m3[MP_KEY_EXCHANGE_LEN];
    unsigned ev = 0;
    TS_EQ(ms_link_start(b->link, now, m1), 0); /* higher id waits */
    TS_EQ(ms_link_start(a->link, now, m1), MP_KEY_EXCHANGE_LEN);
    TS_EQ(ms_kx_input(b->link, m1, sizeof m1, now, m2, &ev), MP_KEY_EXCHANGE_LEN);
    TS_EQ(ev, 0);
    TS_EQ(ms_kx_input(a->link, m2, sizeof m2, now, m3, &ev), MP_KEY_EXCHANGE_LEN);
    TS_EQ(ev, MS_EV_SEND_READY);
    TS_EQ(ms_kx_input(b->link, m3, sizeof m3, now, m1, &ev), 0);
    TS_EQ(ev, MS_EV_SEND_READY);
    TS_CHECK(ms_link_can_send(a->link) && ms_link_can_send(b->link));
}

/* An inner DATA frame of `len` (>= 20) bytes numbered `id`. */
static inline size_t ts_inner(uint8_t *buf, size_t len, uint32_t id)
{
    memset(buf, 0, len);
    buf[0] = (uint8_t)(MP_VERSION << 4);
    buf[1] = MP_T_DATA;
    mp_put16(buf + 2, (uint16_t)len);
    mp_put32(buf + 8, MP_CHAN_FIRST_PATH);
    mp_put32(buf + 12, id);
    mp_put32(buf + 16, id);
    for (size_t i = 20; i < len; i++)
        buf[i] = (uint8_t)(id * 31 + i);
    return len;
}

#endif /* TS_H */
