/*
 * tb.h — helpers shared by the bearer tests: checks, bounded waits on fds, numbered
 * frames with seq-derived content, a clock for the throughput lines.
 * Waiting is always poll() on real fds with a bounded timeout, never a sleep.
 */
#ifndef TB_H
#define TB_H

#define _GNU_SOURCE
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bearer.h"

#define TB_SKIP 77

#define TB_CHECK(c)                                                                      \
    do {                                                                                 \
        if (!(c)) {                                                                      \
            fprintf(stderr, "%s:%d: CHECK FAILED: %s\n", __FILE__, __LINE__, #c);        \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

#define TB_RC(x)                                                                          \
    do {                                                                                  \
        int tb_rc_ = (x);                                                                 \
        if (tb_rc_ < 0) {                                                                 \
            fprintf(stderr, "%s:%d: %s -> %d (%s)\n", __FILE__, __LINE__, #x, tb_rc_,    \
                    mb_strerror(tb_rc_));                                                 \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

static inline double tb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Wait until one of fds is readable; fails the test after timeout_ms of silence. */
static inline void tb_wait(const int *fds, int n, int timeout_ms, const char *what)
{
    struct pollfd p[8];
    for (int i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    int r = poll(p, (nfds_t)n, timeout_ms);
    if (r == 0) {
        fprintf(stderr, "TIMEOUT (%d ms) waiting for %s\n", timeout_ms, what);
        exit(1);
    }
}

/* Frame `seq` of length len (>= 8): seq(32) len(32) then bytes derived from both. */
static inline void tb_frame(uint8_t *f, size_t len, uint32_t seq)
{
    f[0] = (uint8_t)(seq >> 24); f[1] = (uint8_t)(seq >> 16); f[2] = (uint8_t)(seq >> 8); f[3] = (uint8_t)seq;
    f[4] = (uint8_t)(len >> 24); f[5] = (uint8_t)(len >> 16); f[6] = (uint8_t)(len >> 8); f[7] = (uint8_t)len;
    uint32_t x = seq * 2654435761u + (uint32_t)len;
    for (size_t i = 8; i < len; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        f[i] = (uint8_t)x;
    }
}

static inline size_t tb_len(uint32_t seq, size_t mtu)
{
    return 8 + (size_t)((seq * 7919u) % (uint32_t)(mtu - 7));
}

/* Check a received frame: returns its seq, or -1 if malformed/corrupted. */
static inline long tb_check_frame(const uint8_t *f, size_t len)
{
    static uint8_t want[70000];
    if (len < 8 || len > sizeof want)
        return -1;
    uint32_t seq = ((uint32_t)f[0] << 24) | ((uint32_t)f[1] << 16) | ((uint32_t)f[2] << 8) | f[3];
    uint32_t l = ((uint32_t)f[4] << 24) | ((uint32_t)f[5] << 16) | ((uint32_t)f[6] << 8) | f[7];
    if (l != len)
        return -1;
    tb_frame(want, len, seq);
    return memcmp(want, f, len) == 0 ? (long)seq : -1;
}

static inline void tb_print_stats(const char *who, const struct mb_bearer *b)
{
    struct mb_stats s;
    mb_get_stats(b, &s);
    printf("  [%s] rx %llu/%lluB tx %llu/%lluB drop: long %llu short %llu crc %llu framing %llu "
           "etype %llu filtered %llu disabled %llu os %llu; tx: long %llu full %llu down %llu "
           "err %llu; reopens %llu resets %llu bells tx %llu rx %llu\n",
           who, (unsigned long long)s.rx_frames, (unsigned long long)s.rx_bytes,
           (unsigned long long)s.tx_frames, (unsigned long long)s.tx_bytes,
           (unsigned long long)s.drop_too_long, (unsigned long long)s.drop_too_short,
           (unsigned long long)s.drop_crc, (unsigned long long)s.drop_framing,
           (unsigned long long)s.drop_ethertype, (unsigned long long)s.drop_filtered,
           (unsigned long long)s.drop_disabled, (unsigned long long)s.drop_os,
           (unsigned long long)s.tx_too_long, (unsigned long long)s.tx_full,
           (unsigned long long)s.tx_down, (unsigned long long)s.tx_errors,
           (unsigned long long)s.reopens, (unsigned long long)s.resets,
           (unsigned long long)s.doorbells_tx, (unsigned long long)s.doorbells_rx);
}

#endif
