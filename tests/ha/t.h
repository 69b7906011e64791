/*
 * t.h — checks for tests/ha that report and carry on (one run shows every failure), a
 * summary that sets the exit status, and MGMT message builders.
 */
#ifndef THA_T_H
#define THA_T_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mha.h"

static int t_failures, t_checks;

#define T_CHECK(cond)                                                                              \
    do {                                                                                           \
        t_checks++;                                                                                \
        if (!(cond)) {                                                                             \
            t_failures++;                                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define T_EQ(a, b)                                                                                 \
    do {                                                                                           \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                                    \
        t_checks++;                                                                                \
        if (t_a_ != t_b_) {                                                                        \
            t_failures++;                                                                          \
            fprintf(stderr, "%s:%d: %s == %s: got %lld, want %lld (%s)\n", __FILE__, __LINE__, #a, \
                    #b, t_a_, t_b_, t_a_ < 0 && t_a_ > -20 ? mk_strerror((int)t_a_) : "");         \
        }                                                                                          \
    } while (0)

static inline int t_done(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, t_checks, t_failures);
    return t_failures ? 1 : 0;
}

#define MS(x) ((uint64_t)(x) * 1000000ull)
#define SEC(x) ((uint64_t)(x) * 1000000000ull)

/* Feed an outbound mk_msg into a kernel as if it came from src_node. */
static inline int t_deliver(mk_kernel *k, uint32_t src_node, const mk_msg *m, uint64_t now)
{
    mp_mgmt v;
    mk_msg_view(m, &v);
    return mk_input(k, src_node, &v, now);
}

/* A request built in one line: one uop with an optional block. */
static inline void t_req(mk_msg *m, uint32_t src_entity, uint32_t dst_entity, uint32_t corr,
                         uint32_t epoch, uint16_t op, uint16_t arg, const void *blk, size_t blen)
{
    mk_msg_init(m, 0, dst_entity, corr);
    m->src_entity = src_entity;
    m->epoch = epoch;
    mk_msg_uop(m, op, arg);
    if (blk)
        mk_msg_block(m, op, blk, blen);
}

/* Pop every queued message; return how many had uop[0].opcode == op (any if op == 0xFFFF),
 * copying the last such one into *last if given. */
static inline int t_drain(mk_kernel *k, uint16_t op, mk_msg *last)
{
    static mk_msg m;
    int n = 0;
    while (mk_out_pop(k, &m)) {
        if (op == 0xFFFF || (m.uop_count && m.uops[0].opcode == op)) {
            n++;
            if (last)
                *last = m;
        }
    }
    return n;
}

#endif
