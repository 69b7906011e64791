/*
 * t.h — the whole test "framework" for tests/proto: checks that report and carry on,
 * so one run shows every failure, and a summary that sets the exit status.
 */
#ifndef T_H
#define T_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int t_failures, t_checks;

#define T_CHECK(cond)                                                                              \
    do {                                                                                           \
        t_checks++;                                                                                \
        if (!(cond)) {                                                                             \
            t_failures++;                                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

/* Integer equality, printing both sides (errors print as their MP_E* names too). */
#define T_EQ(a, b)                                                                                 \
    do {                                                                                           \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                                    \
        t_checks++;                                                                                \
        if (t_a_ != t_b_) {                                                                        \
            t_failures++;                                                                          \
            fprintf(stderr, "%s:%d: %s == %s: got %lld (%s), want %lld (%s)\n", __FILE__,          \
                    __LINE__, #a, #b, t_a_, mp_errname((int)t_a_), t_b_, mp_errname((int)t_b_));   \
        }                                                                                          \
    } while (0)

#define T_MEMEQ(a, b, n) T_CHECK(memcmp((a), (b), (n)) == 0)

static inline int t_done(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, t_checks, t_failures);
    return t_failures ? 1 : 0;
}

/* Hex to bytes for literal test frames; returns the length. */
static inline size_t t_unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (s[0] && s[1] && n < cap) {
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

#endif /* T_H */
