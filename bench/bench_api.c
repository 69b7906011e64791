/*
 * bench_api — application to application through libmsgr, the API users program
 * against: named devices, a path opened by name, msgr_send / msgr_recv.  Two modes:
 *
 *   embedded  each of the two processes runs its own node inside libmsgr
 *             (msgr_embedded_create with one bearer spec): "two embedded nodes";
 *   daemon    two msgrd daemons (node 1 and node 2, one bearer each) and one
 *             application attached to each over its Unix socket (msgr_attach):
 *             app A -> msgrd 1 -> bearer -> msgrd 2 -> app B.
 *
 *   bench_api --mode embedded|daemon --a SPEC --b SPEC [--msgrd PATH] [--label NAME]
 *             [--netns-a NS --netns-b NS] --test tput|rtt [--size S] [--count N]
 *             [--rtts K] [--runs R] [--msgrd-conf FILE]
 *
 * --msgrd-conf gives both daemons `-c FILE` (scripts/bench.sh's `sec` scenario: the same
 * run with security = required, to compare secured and plain links).
 *
 * tput: A sends --count messages with msgr_send (blocking for credit, timeout -1) on a
 *       path opened by name to B's device; B receives with msgr_recv, checks the
 *       sequence (lost_S must be 0) and reports the arrival of the last.
 * rtt:  A sends one message, B sends it back on the path it came on, A waits; p50/p99.
 * The path layer's end-to-end credit is in play here (it is not in bench_msgr).
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msgr/msgr.h"

enum { K_TPUT = 1, K_TPUT_LAST = 2, K_PING = 3 };
enum { OP_DONE = 1, OP_UP, OP_QUIT };

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

#ifndef BENCH_MSGRD
#define BENCH_MSGRD "msgrd"
#endif
static const char *g_mode = "embedded", *g_msgrd = BENCH_MSGRD, *g_msgrd_conf;
static char g_dir[128];
static int g_send_wait = -1;    /* msgr_send timeout: -1 blocks for credit inside libmsgr */
static uint64_t g_eagain;

/* Start msgrd for node id with one bearer; returns its pid once its socket answers. */
static int start_msgrd(uint32_t id, const char *spec, const char *ns, char *sock, size_t cap)
{
    snprintf(sock, cap, "%s/msgrd%u.sock", g_dir, id);
    int pid = fork();
    if (pid < 0)
        bn_die("fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the benchmark */
        if (bn_netns_enter(ns) < 0)
            bn_die("netns %s", ns);
        char idb[16];
        snprintf(idb, sizeof idb, "%u", id);
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        const char *av[] = {"msgrd", "--node-id", idb, "--domain", "77", "--socket", sock,
                            "--foreground", "--log-level", "warn", "--bearer", spec,
                            g_msgrd_conf ? "-c" : NULL, g_msgrd_conf, NULL};
        execv(g_msgrd, (char *const *)av);
        fprintf(stderr, "bench_api: exec %s: %s\n", g_msgrd, strerror(errno));
        _exit(127);
    }
    return pid;
}

static msgr *node_up(uint32_t id, const char *spec, const char *sock)
{
    msgr *m = NULL;
    int r = -1;
    uint64_t end = bn_now() + 20000000000ull;
    if (!strcmp(g_mode, "daemon")) {
        while ((r = msgr_attach(sock, &m)) < 0 && bn_now() < end)
            usleep(20000);
    } else {
        const char *b[1] = {spec};
        r = msgr_embedded_create(id, 77, b, 1, &m);
    }
    if (r < 0)
        bn_die("node %u: %s: %s", id, g_mode, msgr_strerror(r));
    return m;
}

int main(int argc, char **argv)
{
    bn_opts o = {.runs = 5, .count = 100000, .rtts = 5000, .size = 64};
    const char *sa = NULL, *sb = NULL, *nsa = NULL, *nsb = NULL, *test = "tput", *label = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--mode")) g_mode = v;
        else if (!strcmp(k, "--a")) sa = v;
        else if (!strcmp(k, "--b")) sb = v;
        else if (!strcmp(k, "--msgrd")) g_msgrd = v;
        else if (!strcmp(k, "--msgrd-conf")) g_msgrd_conf = v;
        else if (!strcmp(k, "--label")) label = v;
        else if (!strcmp(k, "--netns-a")) nsa = v;
        else if (!strcmp(k, "--netns-b")) nsb = v;
        else if (!strcmp(k, "--test")) test = v;
        else if (!strcmp(k, "--size")) o.size = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--count")) o.count = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--rtts")) o.rtts = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--runs")) o.runs = atoi(v);
        else if (!strcmp(k, "--send-wait")) g_send_wait = atoi(v);
        else bn_die("unknown option %s", k);
    }
    if (!sa || !sb || o.size < 20 || o.size > MSGR_MAX_MSG || o.runs < 1 || o.runs > BN_MAX_RUNS)
        bn_die("need --a and --b; --size 20..%d", MSGR_MAX_MSG);
    bool daemon = !strcmp(g_mode, "daemon"), rtt = !strcmp(test, "rtt");
    if (!label)
        label = daemon ? "api_msgrd" : "api_embedded";
    signal(SIGPIPE, SIG_IGN);
    static uint8_t buf[MSGR_MAX_MSG], rbuf[MSGR_MAX_MSG];
    bn_fill(buf, sizeof buf, 9);

    char sock_a[192] = "", sock_b[192] = "";
    int da = -1, db = -1;
    if (daemon) {
        snprintf(g_dir, sizeof g_dir, "/tmp/bench_api.%d", (int)getpid());
        mkdir(g_dir, 0700);
        da = start_msgrd(1, sa, nsa, sock_a, sizeof sock_a);
        db = start_msgrd(2, sb, nsb, sock_b, sizeof sock_b);
    }
    int ctl[2];
    if (bn_ctl_pair(ctl) < 0)
        bn_die("socketpair");
    int pid = fork();
    if (pid < 0)
        bn_die("fork");
    if (pid == 0) { /* B: the receiver / echo */
        close(ctl[0]);
        if (!daemon && bn_netns_enter(nsb) < 0)
            bn_die("netns %s", nsb);
        msgr *m = node_up(2, sb, sock_b);
        uint32_t dev;
        msgr_device_cfg cfg = {.name = "bench/b", .dtype = 1};
        int r = msgr_device_register(m, &cfg, &dev);
        if (r < 0)
            bn_die("B register: %s", msgr_strerror(r));
        bn_ctl_send(ctl[1], &(bn_msg){.op = OP_UP});
        uint64_t next = 0, bad = 0;
        for (;;) {
            msgr_msg_info in;
            r = msgr_recv(m, 0, rbuf, sizeof rbuf, &in, 50);
            if (r == MSGR_ETIMEDOUT) {
                bn_msg c;
                int cr = bn_ctl_recv(ctl[1], &c, 0);
                if (cr < 0 || (cr == 1 && c.op == OP_QUIT))
                    break;
                continue;
            }
            if (r < 20)
                bn_die("B recv: %s", r < 0 ? msgr_strerror(r) : "short");
            uint64_t seq = get64(rbuf + 4);
            if (rbuf[0] == K_PING) {
                if ((r = msgr_send(m, in.path, rbuf, (size_t)r, -1)) < 0)
                    bn_die("B echo: %s", msgr_strerror(r));
                continue;
            }
            if (seq != next)
                bad += seq > next ? seq - next : 1;
            next = seq + 1;
            if (rbuf[0] == K_TPUT_LAST)
                bn_ctl_send(ctl[1], &(bn_msg){.op = OP_DONE, .a = bn_now(), .b = bad});
        }
        msgr_close(m);
        _exit(0);
    }
    close(ctl[1]);
    if (!daemon && bn_netns_enter(nsa) < 0)
        bn_die("netns %s", nsa);
    msgr *m = node_up(1, sa, sock_a);
    bn_msg c;
    if (bn_ctl_recv(ctl[0], &c, 30000) != 1 || c.op != OP_UP)
        bn_die("B never came up");
    uint32_t dev, path = 0;
    msgr_device_cfg cfg = {.name = "bench/a", .dtype = 2};
    int r = msgr_device_register(m, &cfg, &dev);
    if (r < 0)
        bn_die("A register: %s", msgr_strerror(r));
    uint64_t end = bn_now() + 30000000000ull;
    for (;;) { /* the name reaches node 1 once the link is up and the tables synced */
        r = msgr_open_wait(m, dev, "bench/b", MSGR_OPEN_NAME, &path, 2000);
        if (r == 0)
            break;
        if (path)
            msgr_path_close(m, path);
        path = 0;
        if (bn_now() > end)
            bn_die("A open bench/b: %s", msgr_strerror(r));
        msgr_event ev;
        while (msgr_next_event(m, &ev, 50) == 0)
            ;
    }
    char cas[64];
    uint64_t gseq = 0, lost_total = 0;
    char failmsg[256] = "";
    int status = 0;
    if (!rtt) {
        bn_fig f, lost;
        snprintf(cas, sizeof cas, "tput_%zu", o.size);
        bn_fig_init(&f, label, cas, "msg/s");
        snprintf(cas, sizeof cas, "lost_%zu", o.size);
        bn_fig_init(&lost, label, cas, "msgs");
        for (int run = -1; run < o.runs && !failmsg[0]; run++) {
            uint64_t t0 = bn_now();
            for (uint64_t k = 0; k < o.count && !failmsg[0]; k++) {
                buf[0] = k + 1 == o.count ? K_TPUT_LAST : K_TPUT;
                put64(buf + 4, gseq++);
                uint64_t blocked_since = 0;
                while ((r = msgr_send(m, path, buf, o.size, g_send_wait)) == MSGR_EAGAIN) {
                    /* --send-wait 0: wait for credit ourselves, and notice a stall */
                    if (!blocked_since)
                        blocked_since = bn_now();
                    else if (bn_now() - blocked_since > 5000000000ull)
                        break;
                    msgr_waitable w = {MSGR_W_WRITABLE, path, false};
                    msgr_wait(m, &w, 1, 1);
                    g_eagain++;
                }
                if (r < 0) {
                    snprintf(failmsg, sizeof failmsg,
                             "%s tput_%zu: run %d stopped after %llu messages: %s (path state %d)",
                             label, o.size, run, (unsigned long long)k,
                             r == MSGR_EAGAIN ? "credit stall, no credit for 5 s" : msgr_strerror(r),
                             msgr_path_state(m, path));
                    break;
                }
            }
            if (failmsg[0])
                break;
            /* Keep this node turning (acknowledgements, credit) until B has it all. */
            for (;;) {
                int cr = bn_ctl_recv(ctl[0], &c, 0);
                if (cr == 1 && c.op == OP_DONE)
                    break;
                if (cr < 0 || bn_now() - t0 > 60000000000ull)
                    bn_die("%s: run %d did not complete", label, run);
                msgr_waitable w = {MSGR_W_EVENT, 0, false};
                msgr_wait(m, &w, 1, 1);
                msgr_event ev;
                while (msgr_next_event(m, &ev, 0) == 0)
                    ;
            }
            if (run >= 0) {
                bn_fig_add(&f, (double)o.count * 1e9 / (double)(c.a - t0));
                bn_fig_add(&lost, (double)(c.b - lost_total));
            }
            lost_total = c.b;
        }
        snprintf(f.note, sizeof f.note, "%llu msgs of %zu B/run, msgr_send(timeout %d) on a path by name, %llu EAGAIN, %s",
                 (unsigned long long)o.count, o.size, g_send_wait, (unsigned long long)g_eagain,
                 daemon ? "app -> msgrd -> bearer -> msgrd -> app" : "two embedded nodes (libmsgr)");
        snprintf(lost.note, sizeof lost.note, "sequence gaps seen by B (must be 0)");
        if (f.n) {
            bn_fig_print(&f);
            bn_fig_print(&lost);
        }
        if (failmsg[0]) { /* a note line for the report; the exit status says it failed */
            fprintf(stderr, "bench_api: %s\n", failmsg);
            printf("{\"note\":\"%s\"}\n", failmsg);
            status = 1;
        }
    } else {
        uint64_t *smp = calloc(o.rtts, sizeof *smp);
        bn_fig p50, p99;
        bn_fig_init(&p50, label, "rtt_block_p50", "us");
        bn_fig_init(&p99, label, "rtt_block_p99", "us");
        for (int run = -1; run < o.runs; run++) {
            for (uint64_t k = 0; k < o.rtts; k++) {
                buf[0] = K_PING;
                put64(buf + 4, k);
                uint64_t t0 = bn_now();
                if ((r = msgr_send(m, path, buf, o.size, -1)) < 0)
                    bn_die("A ping: %s", msgr_strerror(r));
                msgr_msg_info in;
                r = msgr_recv(m, path, rbuf, sizeof rbuf, &in, 10000);
                if (r < 0)
                    bn_die("A pong %llu: %s", (unsigned long long)k, msgr_strerror(r));
                smp[k] = bn_now() - t0;
            }
            if (run >= 0) {
                bn_fig_add(&p50, (double)bn_quantile_u64(smp, o.rtts, 0.5) / 1e3);
                bn_fig_add(&p99, (double)bn_quantile_u64(smp, o.rtts, 0.99) / 1e3);
            }
        }
        snprintf(p50.note, sizeof p50.note, "%llu round trips/run, %zu B, %s",
                 (unsigned long long)o.rtts, o.size,
                 daemon ? "app -> msgrd -> bearer -> msgrd -> app and back" : "two embedded nodes (libmsgr)");
        snprintf(p99.note, sizeof p99.note, "%s", p50.note);
        bn_fig_print(&p50);
        bn_fig_print(&p99);
    }
    bn_ctl_send(ctl[0], &(bn_msg){.op = OP_QUIT});
    msgr_path_close(m, path);
    int cs = bn_wait_child(pid);
    msgr_close(m);
    if (daemon) {
        kill(da, SIGTERM);
        kill(db, SIGTERM);
        bn_wait_child(da);
        bn_wait_child(db);
        rmdir(g_dir);
    }
    return status ? status : cs;
}
