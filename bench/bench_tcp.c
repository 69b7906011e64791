/*
 * bench_tcp — TCP, what users pick for reliable ordered messages: fixed-size records in
 * one stream between two processes, optionally in two network namespaces (the same veth
 * as Messenger's raw-Ethernet bearer), or over loopback on one host.
 *
 *   bench_tcp [--netns-a NS --netns-b NS] --addr-b IPv4 [--label tcp] [--runs R]
 *             [--count N] [--rtts K] [--size S] [--test tput|rtt] [--wait poll|block]
 *
 * tput: A writes --count records of --size bytes, one write() each (tput_write_S), then
 *       32 records per write() (tput_batch32_S: what bundling does by hand); B reads until
 *       it has every byte and reports when.  TCP_NODELAY on both sides.
 * rtt:  ping-pong of one record; --wait block (blocking read) or poll (MSG_DONTWAIT spin).
 * Reliable and ordered like Messenger's link layer, so no loss figure: a short stream
 * would be a failure (the run dies).
 */
#define _GNU_SOURCE
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORT 34998
#define BATCH 32

enum { OP_READY = 1, OP_DONE, OP_GO };

static void nodelay(int s)
{
    int v = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
}

/* Read exactly n bytes (poll: spin on MSG_DONTWAIT). */
static void read_full(int s, uint8_t *p, size_t n, bool poll)
{
    while (n) {
        ssize_t r = recv(s, p, n, poll ? MSG_DONTWAIT : 0);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
            bn_die("tcp recv: %s", r == 0 ? "EOF" : strerror(errno));
        }
    }
}

static void write_full(int s, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = send(s, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            bn_die("tcp send: %s", strerror(errno));
        }
    }
}

int main(int argc, char **argv)
{
    bn_opts o = {.runs = 5, .count = 500000, .rtts = 10000, .size = 64};
    const char *nsa = NULL, *nsb = NULL, *addr_b = NULL, *test = "tput", *wait = "block",
               *label = "tcp";
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--netns-a")) nsa = v;
        else if (!strcmp(k, "--netns-b")) nsb = v;
        else if (!strcmp(k, "--addr-b")) addr_b = v;
        else if (!strcmp(k, "--label")) label = v;
        else if (!strcmp(k, "--runs")) o.runs = atoi(v);
        else if (!strcmp(k, "--count")) o.count = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--rtts")) o.rtts = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--size")) o.size = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--test")) test = v;
        else if (!strcmp(k, "--wait")) wait = v;
        else bn_die("unknown option %s", k);
    }
    if (!addr_b || o.size < 8 || o.size > 65536 || o.runs < 1 || o.runs > BN_MAX_RUNS)
        bn_die("need --addr-b; --size 8..65536");
    bool poll = !strcmp(wait, "poll"), rtt = !strcmp(test, "rtt");
    size_t cap = o.size * BATCH;
    uint8_t *buf = malloc(cap), *rbuf = malloc(1 << 20);
    if (!buf || !rbuf)
        bn_die("oom");
    bn_fill(buf, cap, 5);
    int ctl[2];
    if (bn_ctl_pair(ctl) < 0)
        bn_die("socketpair");
    int pid = fork();
    if (pid == 0) { /* B: listens, then serves every run on one connection */
        close(ctl[0]);
        if (bn_netns_enter(nsb) < 0)
            bn_die("netns %s", nsb);
        int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
        inet_pton(AF_INET, addr_b, &a.sin_addr);
        if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0)
            bn_die("bind/listen %s: %s", addr_b, strerror(errno));
        bn_ctl_send(ctl[1], &(bn_msg){.op = OP_READY});
        int s = accept(l, NULL, NULL);
        if (s < 0)
            bn_die("accept");
        nodelay(s);
        bn_msg m;
        while (bn_ctl_recv(ctl[1], &m, -1) == 1 && m.op == OP_GO) {
            if (rtt) {
                for (uint64_t k = 0; k < m.a; k++) {
                    read_full(s, rbuf, o.size, poll);
                    write_full(s, rbuf, o.size);
                }
                bn_ctl_send(ctl[1], &(bn_msg){.op = OP_DONE});
                continue;
            }
            uint64_t want = m.a * o.size, got = 0;
            while (got < want) {
                size_t n = want - got < (1u << 20) ? (size_t)(want - got) : (1u << 20);
                ssize_t r = recv(s, rbuf, n, 0);
                if (r <= 0 && errno != EINTR)
                    bn_die("tcp recv");
                if (r > 0)
                    got += (uint64_t)r;
            }
            bn_ctl_send(ctl[1], &(bn_msg){.op = OP_DONE, .a = bn_now()});
        }
        _exit(0);
    }
    close(ctl[1]);
    if (bn_netns_enter(nsa) < 0)
        bn_die("netns %s", nsa);
    bn_msg m;
    if (bn_ctl_recv(ctl[0], &m, 10000) != 1)
        bn_die("B not ready");
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    inet_pton(AF_INET, addr_b, &dst.sin_addr);
    if (connect(s, (struct sockaddr *)&dst, sizeof dst) < 0)
        bn_die("connect %s: %s", addr_b, strerror(errno));
    nodelay(s);
    char cas[64];
    if (rtt) {
        uint64_t *smp = calloc(o.rtts, sizeof *smp);
        bn_fig p50, p99;
        snprintf(cas, sizeof cas, "rtt_%s_p50", wait);
        bn_fig_init(&p50, label, cas, "us");
        snprintf(cas, sizeof cas, "rtt_%s_p99", wait);
        bn_fig_init(&p99, label, cas, "us");
        for (int run = -1; run < o.runs; run++) {
            bn_ctl_send(ctl[0], &(bn_msg){.op = OP_GO, .a = o.rtts});
            for (uint64_t k = 0; k < o.rtts; k++) {
                uint64_t t0 = bn_now();
                write_full(s, buf, o.size);
                read_full(s, rbuf, o.size, poll);
                smp[k] = bn_now() - t0;
            }
            if (bn_ctl_recv(ctl[0], &m, 10000) != 1)
                bn_die("B did not finish");
            if (run >= 0) {
                bn_fig_add(&p50, (double)bn_quantile_u64(smp, o.rtts, 0.5) / 1e3);
                bn_fig_add(&p99, (double)bn_quantile_u64(smp, o.rtts, 0.99) / 1e3);
            }
        }
        snprintf(p50.note, sizeof p50.note, "%llu round trips/run, %zu B, %s, TCP_NODELAY",
                 (unsigned long long)o.rtts, o.size, wait);
        snprintf(p99.note, sizeof p99.note, "%s", p50.note);
        bn_fig_print(&p50);
        bn_fig_print(&p99);
        free(smp);
    } else {
        for (int bt = 0; bt < 2; bt++) {
            size_t per = bt ? BATCH : 1;
            bn_fig f;
            snprintf(cas, sizeof cas, "tput_%s_%zu", bt ? "batch32" : "write", o.size);
            bn_fig_init(&f, label, cas, "msg/s");
            for (int run = -1; run < o.runs; run++) {
                bn_ctl_send(ctl[0], &(bn_msg){.op = OP_GO, .a = o.count});
                uint64_t t0 = bn_now();
                for (uint64_t k = 0; k < o.count; k += per) {
                    size_t n = o.count - k < per ? (size_t)(o.count - k) : per;
                    memcpy(buf, &k, 8);
                    write_full(s, buf, n * o.size);
                }
                if (bn_ctl_recv(ctl[0], &m, 60000) != 1)
                    bn_die("B did not finish");
                if (run >= 0)
                    bn_fig_add(&f, (double)o.count * 1e9 / (double)(m.a - t0));
            }
            snprintf(f.note, sizeof f.note,
                     "%llu records of %zu B/run in one stream, %s, TCP_NODELAY; received/s at B",
                     (unsigned long long)o.count, o.size,
                     bt ? "32 records per write()" : "one write() per record");
            bn_fig_print(&f);
        }
    }
    close(s);
    close(ctl[0]);
    bn_wait_child(pid);
    free(rbuf);
    free(buf);
    return 0;
}
