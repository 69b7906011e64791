/*
 * bench.h — shared helpers of the benchmark programs (prefix bn_): clocks, run statistics,
 * JSON result lines, a control channel between the two processes of a two-process
 * benchmark, and network-namespace entry.
 *
 * Every benchmark program prints one JSON object per line on stdout, one per figure:
 *   {"bench":"shm","case":"tput_64_b32","unit":"msg/s","runs":[...],"median":..,
 *    "min":..,"max":..,"p10":..,"p90":..,"note":"..."}
 * scripts/bench.sh collects them; nothing else goes to stdout.  Diagnostics go to stderr.
 */
#ifndef BN_BENCH_H
#define BN_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BN_MAX_RUNS 64

uint64_t bn_now(void); /* CLOCK_MONOTONIC, ns (one clock for all namespaces) */
void bn_pin(int cpu);  /* best effort sched_setaffinity; cpu < 0: nothing */

/* A sorted copy's quantile q (0..1), nearest rank on the interpolated index. */
double bn_quantile(const double *v, size_t n, double q);
/* Sort u64 samples in place and return the q quantile. */
uint64_t bn_quantile_u64(uint64_t *v, size_t n, double q);

/* One figure: the per-run values and how to print them. */
typedef struct bn_fig {
    char bench[48], cas[64], unit[16];
    double runs[BN_MAX_RUNS];
    int n;
    char note[256];
} bn_fig;
void bn_fig_init(bn_fig *f, const char *bench, const char *cas, const char *unit);
void bn_fig_add(bn_fig *f, double v);
void bn_fig_print(const bn_fig *f); /* one JSON line on stdout */

/* Common command-line values. */
typedef struct bn_opts {
    int runs;         /* repeated measurements, default 5 */
    uint64_t count;   /* messages per throughput run */
    uint64_t rtts;    /* round trips per latency run */
    size_t size;      /* message payload */
    const char *mode; /* program specific */
} bn_opts;

/* Control channel: a SOCK_SEQPACKET socketpair created before fork(); small fixed
 * records.  bn_ctl_send never blocks for long; bn_ctl_recv blocks (timeout_ms < 0) or
 * polls (0). Returns 1 if a record arrived, 0 if none, -1 on EOF/error. */
typedef struct bn_msg {
    uint32_t op, run;
    uint64_t a, b, c, d;
} bn_msg;
int bn_ctl_pair(int sv[2]);
int bn_ctl_send(int fd, const bn_msg *m);
int bn_ctl_recv(int fd, bn_msg *m, int timeout_ms);

/* Enter network namespace /var/run/netns/NAME (NULL or "" = stay). 0 or -1. */
int bn_netns_enter(const char *name);

/* Die with a message on stderr. */
_Noreturn void bn_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Pseudo-random fill (xorshift), deterministic per seed: realistic payload bytes. */
void bn_fill(uint8_t *p, size_t n, uint64_t seed);

/* Wait for a forked child; returns its exit status (or 128+signal). */
int bn_wait_child(int pid);

#endif
