/*
 * bench_udp — the alternative to Messenger's raw-Ethernet bearer: plain UDP between two
 * network namespaces over the same veth pair.
 *
 *   bench_udp --netns-a NS --netns-b NS --addr-b IPv4 [--runs R] [--count N] [--rtts K]
 *             [--size S] [--test tput|rtt] [--wait poll|block]
 *
 * tput: A sends --count datagrams with send() (case tput_send_S) and then with sendmmsg()
 *       in batches of 32 (tput_sendmmsg_S); B receives with recvmmsg and reports the
 *       datagrams delivered and the time of the last; the figure is delivered/s (UDP has
 *       no flow control: what the receiver loses is reported as loss_pct, not hidden).
 * rtt:  ping-pong of one datagram; --wait block (blocking recv) or poll (MSG_DONTWAIT
 *       spin on both sides).
 */
#define _GNU_SOURCE
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORT 34999
#define BATCH 32

enum { OP_READY = 1, OP_DONE, OP_GO };

static int udp_sock(const char *bind_ip, int rcvbuf)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        bn_die("socket");
    int v = rcvbuf;
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
    setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    inet_pton(AF_INET, bind_ip, &a.sin_addr);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0)
        bn_die("bind %s: %s", bind_ip, strerror(errno));
    return s;
}

int main(int argc, char **argv)
{
    bn_opts o = {.runs = 5, .count = 500000, .rtts = 10000, .size = 64};
    const char *nsa = NULL, *nsb = NULL, *addr_a = "0.0.0.0", *addr_b = NULL, *test = "tput",
               *wait = "block";
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--netns-a")) nsa = v;
        else if (!strcmp(k, "--netns-b")) nsb = v;
        else if (!strcmp(k, "--addr-a")) addr_a = v;
        else if (!strcmp(k, "--addr-b")) addr_b = v;
        else if (!strcmp(k, "--runs")) o.runs = atoi(v);
        else if (!strcmp(k, "--count")) o.count = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--rtts")) o.rtts = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--size")) o.size = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--test")) test = v;
        else if (!strcmp(k, "--wait")) wait = v;
        else bn_die("unknown option %s", k);
    }
    if (!addr_b || o.size < 8 || o.size > 1472 || o.runs < 1 || o.runs > BN_MAX_RUNS)
        bn_die("need --addr-b; --size 8..1472");
    bool poll = !strcmp(wait, "poll"), rtt = !strcmp(test, "rtt");
    static uint8_t buf[BATCH][2048];
    for (int i = 0; i < BATCH; i++)
        bn_fill(buf[i], sizeof buf[i], 5);
    int ctl[2];
    if (bn_ctl_pair(ctl) < 0)
        bn_die("socketpair");
    int pid = fork();
    if (pid == 0) { /* B */
        close(ctl[0]);
        if (bn_netns_enter(nsb) < 0)
            bn_die("netns %s", nsb);
        int s = udp_sock(addr_b, 8 << 20);
        struct sockaddr_in peer;
        socklen_t pl = sizeof peer;
        bn_ctl_send(ctl[1], &(bn_msg){.op = OP_READY});
        bn_msg m;
        while (bn_ctl_recv(ctl[1], &m, -1) == 1 && m.op == OP_GO) {
            if (rtt) {
                for (uint64_t k = 0; k < m.a; k++) {
                    ssize_t r;
                    do
                        r = recvfrom(s, buf[0], sizeof buf[0], poll ? MSG_DONTWAIT : 0,
                                     (struct sockaddr *)&peer, &pl);
                    while (r < 0 && (errno == EAGAIN || errno == EINTR));
                    if (r < 0)
                        bn_die("recv");
                    sendto(s, buf[0], (size_t)r, 0, (struct sockaddr *)&peer, pl);
                }
                bn_ctl_send(ctl[1], &(bn_msg){.op = OP_DONE});
                continue;
            }
            struct mmsghdr mm[BATCH];
            struct iovec iov[BATCH];
            for (int i = 0; i < BATCH; i++) {
                iov[i] = (struct iovec){buf[i], sizeof buf[i]};
                mm[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
            }
            uint64_t got = 0, t_last = 0;
            bool last = false;
            struct timeval tv = {0, 200000}; /* 200 ms of silence ends the run */
            setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            while (!last) {
                int n = recvmmsg(s, mm, BATCH, MSG_WAITFORONE, NULL);
                if (n <= 0)
                    break;
                t_last = bn_now();
                got += (uint64_t)n;
                for (int i = 0; i < n; i++) {
                    uint64_t seq;
                    memcpy(&seq, buf[i], 8);
                    if (seq + 1 == m.a)
                        last = true;
                }
            }
            tv = (struct timeval){0, 0};
            setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            bn_ctl_send(ctl[1], &(bn_msg){.op = OP_DONE, .a = t_last, .b = got});
        }
        _exit(0);
    }
    close(ctl[1]);
    if (bn_netns_enter(nsa) < 0)
        bn_die("netns %s", nsa);
    int s = udp_sock(addr_a, 8 << 20);
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    inet_pton(AF_INET, addr_b, &dst.sin_addr);
    if (connect(s, (struct sockaddr *)&dst, sizeof dst) < 0)
        bn_die("connect");
    bn_msg m;
    if (bn_ctl_recv(ctl[0], &m, 10000) != 1)
        bn_die("B not ready");
    char cas[64];
    if (rtt) {
        uint64_t *smp = calloc(o.rtts, sizeof *smp);
        bn_fig p50, p99;
        snprintf(cas, sizeof cas, "rtt_%s_p50", wait);
        bn_fig_init(&p50, "udp", cas, "us");
        snprintf(cas, sizeof cas, "rtt_%s_p99", wait);
        bn_fig_init(&p99, "udp", cas, "us");
        for (int run = -1; run < o.runs; run++) {
            bn_ctl_send(ctl[0], &(bn_msg){.op = OP_GO, .a = o.rtts});
            usleep(1000);
            for (uint64_t k = 0; k < o.rtts; k++) {
                uint64_t t0 = bn_now();
                if (send(s, buf[0], o.size, 0) < 0)
                    bn_die("send");
                ssize_t r;
                do
                    r = recv(s, buf[1], sizeof buf[1], poll ? MSG_DONTWAIT : 0);
                while (r < 0 && (errno == EAGAIN || errno == EINTR));
                smp[k] = bn_now() - t0;
            }
            if (bn_ctl_recv(ctl[0], &m, 10000) != 1)
                bn_die("B did not finish");
            if (run >= 0) {
                bn_fig_add(&p50, (double)bn_quantile_u64(smp, o.rtts, 0.5) / 1e3);
                bn_fig_add(&p99, (double)bn_quantile_u64(smp, o.rtts, 0.99) / 1e3);
            }
        }
        snprintf(p50.note, sizeof p50.note, "%llu round trips/run, %zu B, %s",
                 (unsigned long long)o.rtts, o.size, wait);
        snprintf(p99.note, sizeof p99.note, "%s", p50.note);
        bn_fig_print(&p50);
        bn_fig_print(&p99);
    } else {
        for (int mm = 0; mm < 2; mm++) {
            bn_fig f, loss;
            snprintf(cas, sizeof cas, "tput_%s_%zu", mm ? "sendmmsg" : "send", o.size);
            bn_fig_init(&f, "udp", cas, "msg/s");
            snprintf(cas, sizeof cas, "loss_pct_%s_%zu", mm ? "sendmmsg" : "send", o.size);
            bn_fig_init(&loss, "udp", cas, "%");
            for (int run = -1; run < o.runs; run++) {
                bn_ctl_send(ctl[0], &(bn_msg){.op = OP_GO, .a = o.count});
                usleep(2000);
                uint64_t t0 = bn_now();
                for (uint64_t k = 0; k < o.count;) {
                    if (!mm) {
                        memcpy(buf[0], &k, 8);
                        if (send(s, buf[0], o.size, 0) == (ssize_t)o.size)
                            k++;
                        continue;
                    }
                    struct mmsghdr v[BATCH];
                    struct iovec iov[BATCH];
                    unsigned n = 0;
                    for (; n < BATCH && k + n < o.count; n++) {
                        uint64_t seq = k + n;
                        memcpy(buf[n], &seq, 8);
                        iov[n] = (struct iovec){buf[n], o.size};
                        v[n] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[n], .msg_iovlen = 1}};
                    }
                    int r = sendmmsg(s, v, n, 0);
                    if (r > 0)
                        k += (uint64_t)r;
                }
                if (bn_ctl_recv(ctl[0], &m, 30000) != 1)
                    bn_die("B did not finish");
                if (run >= 0 && m.b) {
                    bn_fig_add(&f, (double)m.b * 1e9 / (double)(m.a - t0));
                    bn_fig_add(&loss, 100.0 * (double)(o.count - m.b) / (double)o.count);
                }
            }
            snprintf(f.note, sizeof f.note, "%llu datagrams of %zu B/run; delivered/s at B",
                     (unsigned long long)o.count, o.size);
            snprintf(loss.note, sizeof loss.note, "datagrams the receiver never got");
            bn_fig_print(&f);
            bn_fig_print(&loss);
        }
    }
    close(ctl[0]);
    bn_wait_child(pid);
    return 0;
}
