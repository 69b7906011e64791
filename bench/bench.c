/* bench.c — shared helpers of the benchmark programs (see bench.h). */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t bn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bn_pin(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    (void)sched_setaffinity(0, sizeof s, &s);
}

static int bn_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bn_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

double bn_quantile(const double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    double s[BN_MAX_RUNS];
    if (n > BN_MAX_RUNS)
        n = BN_MAX_RUNS;
    memcpy(s, v, n * sizeof *v);
    qsort(s, n, sizeof *s, bn_cmp_d);
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n)
        return s[n - 1];
    return s[i] + (pos - (double)i) * (s[i + 1] - s[i]);
}

uint64_t bn_quantile_u64(uint64_t *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, bn_cmp_u64);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

void bn_fig_init(bn_fig *f, const char *bench, const char *cas, const char *unit)
{
    memset(f, 0, sizeof *f);
    snprintf(f->bench, sizeof f->bench, "%s", bench);
    snprintf(f->cas, sizeof f->cas, "%s", cas);
    snprintf(f->unit, sizeof f->unit, "%s", unit);
}

void bn_fig_add(bn_fig *f, double v)
{
    if (f->n < BN_MAX_RUNS)
        f->runs[f->n++] = v;
}

void bn_fig_print(const bn_fig *f)
{
    if (f->n == 0) { /* no run completed: no figure (the report says "not measured") */
        fprintf(stderr, "%s %s: no completed run, no figure\n", f->bench, f->cas);
        return;
    }
    printf("{\"bench\":\"%s\",\"case\":\"%s\",\"unit\":\"%s\",\"runs\":[", f->bench, f->cas,
           f->unit);
    for (int i = 0; i < f->n; i++)
        printf("%s%.6g", i ? "," : "", f->runs[i]);
    printf("],\"median\":%.6g,\"min\":%.6g,\"max\":%.6g,\"p10\":%.6g,\"p90\":%.6g,\"note\":\"",
           bn_quantile(f->runs, (size_t)f->n, 0.5), bn_quantile(f->runs, (size_t)f->n, 0),
           bn_quantile(f->runs, (size_t)f->n, 1), bn_quantile(f->runs, (size_t)f->n, 0.1),
           bn_quantile(f->runs, (size_t)f->n, 0.9));
    for (const char *p = f->note; *p; p++) /* JSON-escape the note */
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if ((unsigned char)*p >= 0x20)
            putchar(*p);
    printf("\"}\n");
    fflush(stdout);
}

int bn_ctl_pair(int sv[2])
{
    return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

int bn_ctl_send(int fd, const bn_msg *m)
{
    return send(fd, m, sizeof *m, MSG_NOSIGNAL) == (ssize_t)sizeof *m ? 0 : -1;
}

int bn_ctl_recv(int fd, bn_msg *m, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    if (r == 0)
        return 0;
    ssize_t n = recv(fd, m, sizeof *m, MSG_DONTWAIT);
    if (n == (ssize_t)sizeof *m)
        return 1;
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    return -1;
}

int bn_netns_enter(const char *name)
{
    if (!name || !*name)
        return 0;
    char path[256];
    snprintf(path, sizeof path, "/var/run/netns/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = setns(fd, CLONE_NEWNET);
    close(fd);
    return r;
}

void bn_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench[%d]: ", getpid());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void bn_fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
}

int bn_wait_child(int pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}
