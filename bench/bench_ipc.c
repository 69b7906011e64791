/*
 * bench_ipc — what users would pick instead of the PCIe shim between two processes on
 * one host: Unix domain datagram sockets, and (when built with them) ZeroMQ ipc and nng
 * ipc.  Same figures as bench_shm / bench_msgr: one-way messages/s and ping-pong RTT.
 *
 *   bench_ipc --transport uds|zmq|nng [--phase tput|rtt|both] [--runs R] [--count N]
 *             [--rtts K] [--size S]
 * (nng refuses to be used again in a child forked after it ran: use one --phase per call.)
 *
 * uds: socketpair(AF_UNIX, SOCK_DGRAM), blocking send()/recv() (the kernel's socket
 *      buffer is the flow control).  zmq: PUSH/PULL for throughput, PAIR for ping-pong,
 *      over ipc:// (libzmq batches on its I/O thread).  nng: push0/pull0 and pair1 over
 *      ipc://, synchronous nng_send/nng_recv.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef BENCH_HAVE_ZMQ
#include <zmq.h>
#endif
#ifdef BENCH_HAVE_NNG
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#endif

/* A transport: two endpoints; tput uses a one-way pair, rtt a two-way pair. */
struct ep {
    int fd;
    void *zctx, *zs;
#ifdef BENCH_HAVE_NNG
    nng_socket ns;
#endif
};

static const char *g_tr;
static char g_addr[128];

static int ep_send(struct ep *e, const void *p, size_t n)
{
    if (!strcmp(g_tr, "uds"))
        return send(e->fd, p, n, 0) == (ssize_t)n ? 0 : -1;
#ifdef BENCH_HAVE_ZMQ
    if (!strcmp(g_tr, "zmq"))
        return zmq_send(e->zs, p, n, 0) == (int)n ? 0 : -1;
#endif
#ifdef BENCH_HAVE_NNG
    if (!strcmp(g_tr, "nng"))
        return nng_send(e->ns, (void *)p, n, 0) == 0 ? 0 : -1;
#endif
    return -1;
}

static ssize_t ep_recv(struct ep *e, void *p, size_t cap)
{
    if (!strcmp(g_tr, "uds"))
        return recv(e->fd, p, cap, 0);
#ifdef BENCH_HAVE_ZMQ
    if (!strcmp(g_tr, "zmq"))
        return zmq_recv(e->zs, p, cap, 0);
#endif
#ifdef BENCH_HAVE_NNG
    if (!strcmp(g_tr, "nng")) {
        size_t sz = cap;
        return nng_recv(e->ns, p, &sz, 0) == 0 ? (ssize_t)sz : -1;
    }
#endif
    return -1;
}

/* Open endpoint `side` (0 = parent/sender, 1 = child) of a fresh pair for `what`
 * ("tput" or "rtt").  uds uses the fds made before fork. */
static void ep_open(struct ep *e, int side, const char *what, int uds_fd)
{
    memset(e, 0, sizeof *e);
    e->fd = uds_fd;
    (void)what;
#ifdef BENCH_HAVE_ZMQ
    if (!strcmp(g_tr, "zmq")) {
        e->zctx = zmq_ctx_new();
        int type = !strcmp(what, "rtt") ? ZMQ_PAIR : (side == 0 ? ZMQ_PUSH : ZMQ_PULL);
        e->zs = zmq_socket(e->zctx, type);
        int hwm = 100000;
        zmq_setsockopt(e->zs, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(e->zs, ZMQ_RCVHWM, &hwm, sizeof hwm);
        int rc = side == 1 ? zmq_bind(e->zs, g_addr) : zmq_connect(e->zs, g_addr);
        if (rc != 0)
            bn_die("zmq %s %s: %s", side ? "bind" : "connect", g_addr, zmq_strerror(zmq_errno()));
    }
#endif
#ifdef BENCH_HAVE_NNG
    if (!strcmp(g_tr, "nng")) {
        int rc;
        if (!strcmp(what, "rtt"))
            rc = nng_pair1_open(&e->ns);
        else
            rc = side == 0 ? nng_push0_open(&e->ns) : nng_pull0_open(&e->ns);
        if (rc == 0)
            rc = side == 1 ? nng_listen(e->ns, g_addr, NULL, 0) : nng_dial(e->ns, g_addr, NULL, 0);
        if (rc != 0)
            bn_die("nng %s %s: %s", side ? "listen" : "dial", g_addr, nng_strerror(rc));
    }
#endif
}

static void ep_close(struct ep *e)
{
#ifdef BENCH_HAVE_ZMQ
    if (e->zs) {
        int zero = 0;
        zmq_setsockopt(e->zs, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(e->zs);
        zmq_ctx_term(e->zctx);
    }
#endif
#ifdef BENCH_HAVE_NNG
    if (!strcmp(g_tr, "nng"))
        nng_close(e->ns);
#endif
    (void)e;
}

enum { OP_READY = 1, OP_DONE };

int main(int argc, char **argv)
{
    bn_opts o = {.runs = 5, .count = 500000, .rtts = 10000, .size = 64};
    g_tr = "uds";
    int phase_only = -1; /* nng is not fork-safe once used: run its phases separately */
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--transport")) g_tr = v;
        else if (!strcmp(k, "--runs")) o.runs = atoi(v);
        else if (!strcmp(k, "--count")) o.count = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--rtts")) o.rtts = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--size")) o.size = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--phase")) phase_only = !strcmp(v, "tput") ? 0 : !strcmp(v, "rtt") ? 1 : -1;
        else bn_die("unknown option %s", k);
    }
    bool ok = !strcmp(g_tr, "uds");
#ifdef BENCH_HAVE_ZMQ
    ok |= !strcmp(g_tr, "zmq");
#endif
#ifdef BENCH_HAVE_NNG
    ok |= !strcmp(g_tr, "nng");
#endif
    if (!ok) {
        fprintf(stderr, "bench_ipc: transport %s not built in (library not found at build time)\n", g_tr);
        return 77;
    }
    if (o.runs < 1 || o.runs > BN_MAX_RUNS || o.size < 8 || o.size > 65536)
        bn_die("bad arguments");
    uint8_t *buf = malloc(70000);
    uint64_t *smp = calloc(o.rtts, sizeof *smp);
    if (!buf || !smp)
        bn_die("oom");
    bn_fill(buf, 70000, 3);
    char bench[32], cas[64];
    snprintf(bench, sizeof bench, "%s", g_tr);

    for (int phase = 0; phase < 2; phase++) { /* 0: tput, 1: rtt */
        if (phase_only >= 0 && phase != phase_only)
            continue;
        const char *what = phase ? "rtt" : "tput";
        int ctl[2], sv[2] = {-1, -1};
        if (bn_ctl_pair(ctl) < 0)
            bn_die("socketpair");
        if (!strcmp(g_tr, "uds")) {
            if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
                bn_die("socketpair dgram");
        }
        snprintf(g_addr, sizeof g_addr, "ipc:///tmp/bench-ipc-%d-%s", (int)getpid(), what);
        int pid = fork();
        if (pid == 0) {
            struct ep e;
            close(ctl[0]);
            ep_open(&e, 1, what, sv[1]);
            bn_ctl_send(ctl[1], &(bn_msg){.op = OP_READY});
            for (int run = -1; run < o.runs; run++) {
                uint64_t n = phase ? o.rtts : o.count;
                for (uint64_t k = 0; k < n; k++) {
                    ssize_t r = ep_recv(&e, buf, 70000);
                    if (r < 0)
                        bn_die("recv");
                    if (phase && ep_send(&e, buf, (size_t)r) < 0)
                        bn_die("echo");
                }
                if (!phase)
                    bn_ctl_send(ctl[1], &(bn_msg){.op = OP_DONE, .a = bn_now()});
            }
            bn_msg m;
            (void)bn_ctl_recv(ctl[1], &m, 5000);
            ep_close(&e);
            _exit(0);
        }
        close(ctl[1]);
        struct ep e;
        bn_msg m;
        /* snprintf above used getpid() of the parent; the child computes the same name. */
        if (bn_ctl_recv(ctl[0], &m, 10000) != 1)
            bn_die("child not ready");
        ep_open(&e, 0, what, sv[0]);
        if (!phase) {
            bn_fig f;
            snprintf(cas, sizeof cas, "tput_%zu", o.size);
            bn_fig_init(&f, bench, cas, "msg/s");
            for (int run = -1; run < o.runs; run++) {
                uint64_t t0 = bn_now();
                for (uint64_t k = 0; k < o.count; k++)
                    if (ep_send(&e, buf, o.size) < 0)
                        bn_die("send");
                if (bn_ctl_recv(ctl[0], &m, 60000) != 1)
                    bn_die("receiver did not finish");
                if (run >= 0)
                    bn_fig_add(&f, (double)o.count * 1e9 / (double)(m.a - t0));
            }
            snprintf(f.note, sizeof f.note, "%llu msgs of %zu B/run, blocking send",
                     (unsigned long long)o.count, o.size);
            bn_fig_print(&f);
        } else {
            bn_fig p50, p99;
            char sz[16] = "";
            if (o.size != 64)
                snprintf(sz, sizeof sz, "_%zu", o.size);
            snprintf(cas, sizeof cas, "rtt_block%s_p50", sz);
            bn_fig_init(&p50, bench, cas, "us");
            snprintf(cas, sizeof cas, "rtt_block%s_p99", sz);
            bn_fig_init(&p99, bench, cas, "us");
            for (int run = -1; run < o.runs; run++) {
                for (uint64_t k = 0; k < o.rtts; k++) {
                    uint64_t t0 = bn_now();
                    if (ep_send(&e, buf, o.size) < 0 || ep_recv(&e, buf, 70000) < 0)
                        bn_die("ping");
                    smp[k] = bn_now() - t0;
                }
                if (run >= 0) {
                    bn_fig_add(&p50, (double)bn_quantile_u64(smp, o.rtts, 0.5) / 1e3);
                    bn_fig_add(&p99, (double)bn_quantile_u64(smp, o.rtts, 0.99) / 1e3);
                }
            }
            snprintf(p50.note, sizeof p50.note, "%llu round trips/run, %zu B, blocking",
                     (unsigned long long)o.rtts, o.size);
            snprintf(p99.note, sizeof p99.note, "%s", p50.note);
            bn_fig_print(&p50);
            bn_fig_print(&p99);
        }
        ep_close(&e);
        bn_ctl_send(ctl[0], &(bn_msg){.op = OP_DONE});
        bn_wait_child(pid);
        close(ctl[0]);
        if (sv[0] >= 0) {
            close(sv[0]);
            close(sv[1]);
        }
    }
    free(smp);
    free(buf);
    return 0;
}
