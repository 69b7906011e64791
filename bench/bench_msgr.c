/*
 * bench_msgr — two embedded Messenger nodes in two processes (mc_node + mb_ bearers,
 * driven by a minimal loop written here; see "The loop" below), measuring what an
 * application sees: reliable, ordered messages on one channel.
 *
 *   bench_msgr --label NAME --a SPEC --b SPEC [--a2 SPEC --b2 SPEC]
 *              [--netns-a NS --netns-b NS] --test tput|rtt|steady
 *              [--size S] [--count N] [--rtts K] [--runs R] [--wait poll|block]
 *              [--tolerance MS] [--window W] [--burst B]
 *              [--rate MSGS_PER_S --duration-ms D --cut-at-ms T --cut-cmd CMD] [--pty]
 *              [--sec 0|1]
 *
 * --sec 1: secured links (security = required, stack/sec's AEAD through ms_core_ops),
 * both nodes holding the same fixed benchmark key; the `sec` scenario of scripts/bench.sh
 * compares it with --sec 0 on the same bearer.  Needs the build with OpenSSL 3.
 *
 * The parent (node 1, "A") sends; the child (node 2, "B") receives and echoes.  Each
 * process may enter a network namespace first (setns), so one invocation spans a veth
 * pair.  SPEC is a bearer spec for mb_open_spec ("pcie:name=x,role=host,mode=poll").
 * --a2/--b2 attach a second, lower-priority bearer (failover).
 *
 * Tests: tput   one-way messages/s: A queues --count messages (as fast as mc_send takes
 *               them, flushing every --burst), B reports when the last arrives.
 *        rtt    ping-pong: A sends one message, B echoes it, A waits; p50/p99.
 *        steady A sends --rate messages/s for --duration-ms; at --cut-at-ms it runs
 *               --cut-cmd (sh -c); B reports the longest silence and when it ended:
 *               failover time = end of that silence - cut time.
 * --pty: serial line efficiency.  Two pty pairs are made and a relay process copies bytes
 * between the two masters, counting the raw line bytes A->B; "%A" / "%B" in the specs
 * are replaced by the two slave paths (serial:path=%A).  The tput test then also reports
 * eff_<S>: payload bytes delivered / raw line bytes A->B, in percent.
 * Every message carries a global sequence number; B checks that each one is the next
 * (exactly once, in order) and reports any gap: "lost" must be 0.
 *
 * The loop (per process): read every bearer (mb_on_readable -> mc_input), let the app
 * act, mc_timeout when the deadline is due (else mc_flush), hand queued frames to the
 * bearers in batches (mb_send_batch).  --wait poll spins; --wait block sleeps in
 * epoll_pwait2 on the bearer fds until the next deadline when a turn did nothing.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "bearer.h"
#include "mc.h"
#ifdef BENCH_HAVE_SEC
#include "ms_core.h"
#endif

static int g_sec; /* --sec 1: secured links */

extern char **environ;

#define CHAN 0x100u
#define TXQ_MAX 512
#define FRAME_MAX 2048
#define MAXB 2

enum { K_TPUT = 1, K_TPUT_LAST = 2, K_PING = 3, K_STEADY = 4, K_STEADY_LAST = 5 };
enum { OP_DONE = 1, OP_UP, OP_QUIT, OP_GAP, OP_LAT };
#define LAT_BUCKET_NS 10000000ull /* steady test: worst one-way latency per 10 ms of send time */
#define LAT_BUCKETS 1024
#define GAP_MIN_NS 2000000ull /* silences B records (steady test) */
#define MAXGAPS 32

struct txf {
    uint16_t len;
    struct mb_addr dst;
    uint8_t b[FRAME_MAX];
};

struct bctx; /* per bearer */
struct nd {
    mc_node *n;
    int nb;
    struct bctx *bc[MAXB];
    int ep;
    uint64_t now;
    size_t mem;
    uint64_t rng;
    bool poll;
    /* receive side (B) */
    uint64_t next_gseq, delivered, bad;
    uint64_t last_arrival, max_gap, max_gap_end;
    uint64_t gap_s[MAXGAPS], gap_e[MAXGAPS];
    int ngaps;
    uint64_t lat_t0, lat_max[LAT_BUCKETS];
    int ctl;
    /* echo queue (B) and ping reply (A) */
    uint8_t echo[64][FRAME_MAX];
    size_t echo_len[64];
    int echo_n;
    bool got_pong;
    uint64_t pong_seq;
    uint64_t tx_dropped;
};

struct bctx {
    struct nd *nd;
    struct mb_bearer *b;
    int bid;
    struct txf *q;
    int qn;
};

static struct nd g;
static uint64_t g_wake_at; /* steady test: the next send time caps every sleep (0: none) */
static bn_opts g_o;
static size_t g_burst = 64;

/* ---- Injected services ----------------------------------------------------------------- */
static void *nd_alloc(void *u, size_t s)
{
    ((struct nd *)u)->mem += s;
    return malloc(s);
}
static void nd_free(void *u, void *p, size_t s)
{
    ((struct nd *)u)->mem -= s;
    free(p);
}
static uint32_t nd_rand(void *u)
{
    struct nd *d = u;
    d->rng ^= d->rng << 13;
    d->rng ^= d->rng >> 7;
    d->rng ^= d->rng << 17;
    return (uint32_t)d->rng;
}

/* ---- Frames out: queue per bearer, flushed in batches ---------------------------------- */
static void bc_flush(struct bctx *c)
{
    int off = 0;
    while (off < c->qn) {
        struct mb_txmsg v[64];
        int k = c->qn - off < 64 ? c->qn - off : 64;
        for (int i = 0; i < k; i++) {
            struct txf *f = &c->q[off + i];
            v[i] = (struct mb_txmsg){f->b, f->len, f->dst.len ? &f->dst : NULL};
        }
        int r = mb_send_batch(c->b, v, (unsigned)k);
        if (r == MB_EAGAIN || r == 0)
            break; /* keep them for the next turn */
        if (r < 0) { /* refused (down, error): the link layer retransmits or fails over */
            g.tx_dropped++;
            r = 1;
        }
        off += r;
    }
    if (off) {
        memmove(c->q, c->q + off, (size_t)(c->qn - off) * sizeof *c->q);
        c->qn -= off;
    }
}

static void nd_tx(void *u, int bearer, const mc_addr *dst, const uint8_t *frame, size_t len)
{
    struct nd *d = u;
    struct bctx *c = NULL;
    for (int i = 0; i < d->nb; i++)
        if (d->bc[i]->bid == bearer)
            c = d->bc[i];
    if (!c || len > FRAME_MAX)
        return;
    if (c->qn == TXQ_MAX)
        bc_flush(c);
    if (c->qn == TXQ_MAX) { /* the bearer refuses everything: drop (retransmitted) */
        d->tx_dropped++;
        return;
    }
    struct txf *f = &c->q[c->qn++];
    f->len = (uint16_t)len;
    memcpy(&f->dst, dst, sizeof f->dst);
    memcpy(f->b, frame, len);
}

/* ---- Messages ----------------------------------------------------------------------------
 * payload: kind(1) pad(3) gseq(u64 at 4) t_send(u64 at 12) ... filler to --size */
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void nd_event(void *u, const mc_event *ev)
{
    struct nd *d = u;
    if (ev->type != MC_EV_MESSAGE || ev->len < 20)
        return;
    uint8_t kind = ev->data[0];
    uint64_t gseq = get64(ev->data + 4);
    if (mc_node_id(d->n) == 1) { /* A: a pong */
        d->got_pong = true;
        d->pong_seq = gseq;
        return;
    }
    if (gseq != d->next_gseq)
        d->bad += gseq > d->next_gseq ? gseq - d->next_gseq : 1;
    d->next_gseq = gseq + 1;
    d->delivered++;
    uint64_t now = d->now;
    if (kind == K_STEADY || kind == K_STEADY_LAST) {
        uint64_t ts = get64(ev->data + 12);
        if (!d->lat_t0)
            d->lat_t0 = ts;
        uint64_t bk = ts >= d->lat_t0 ? (ts - d->lat_t0) / LAT_BUCKET_NS : 0;
        if (bk < LAT_BUCKETS && now > ts && now - ts > d->lat_max[bk])
            d->lat_max[bk] = now - ts;
        if (d->last_arrival && now - d->last_arrival > d->max_gap) {
            d->max_gap = now - d->last_arrival;
            d->max_gap_end = now;
        }
        if (d->last_arrival && now - d->last_arrival >= GAP_MIN_NS) { /* keep the last MAXGAPS */
            if (d->ngaps == MAXGAPS) {
                memmove(d->gap_s, d->gap_s + 1, (MAXGAPS - 1) * sizeof d->gap_s[0]);
                memmove(d->gap_e, d->gap_e + 1, (MAXGAPS - 1) * sizeof d->gap_e[0]);
                d->ngaps--;
            }
            d->gap_s[d->ngaps] = d->last_arrival;
            d->gap_e[d->ngaps++] = now;
        }
        d->last_arrival = now;
    }
    if (kind == K_TPUT_LAST || kind == K_STEADY_LAST) {
        for (int i = 0; i < d->ngaps; i++) /* every silence, before DONE */
            bn_ctl_send(d->ctl, &(bn_msg){.op = OP_GAP, .a = d->gap_s[i], .b = d->gap_e[i]});
        d->ngaps = 0;
        for (int i = 0; i < LAT_BUCKETS && d->lat_t0; i++)
            if (d->lat_max[i])
                bn_ctl_send(d->ctl, &(bn_msg){.op = OP_LAT, .a = d->lat_t0 + (uint64_t)i * LAT_BUCKET_NS,
                                             .b = d->lat_max[i]});
        d->lat_t0 = 0;
        memset(d->lat_max, 0, sizeof d->lat_max);
        bn_ctl_send(d->ctl, &(bn_msg){.op = OP_DONE, .a = now, .b = d->bad, .c = d->max_gap,
                                     .d = d->max_gap_end});
        d->max_gap = d->max_gap_end = d->last_arrival = 0;
    } else if (kind == K_PING && d->echo_n < 64) {
        memcpy(d->echo[d->echo_n], ev->data, ev->len);
        d->echo_len[d->echo_n++] = ev->len;
    }
}

static void bc_rx(void *user, const uint8_t *frame, size_t len, const struct mb_addr *src)
{
    struct bctx *c = user;
    mc_addr a;
    memcpy(&a, src ? (const void *)src : (const void *)&(struct mb_addr){0}, sizeof a);
    (void)mc_input(c->nd->n, c->bid, &a, frame, len, c->nd->now);
}

/* ---- Setup ---------------------------------------------------------------------------- */
static void nd_init(uint32_t id, const char *spec1, const char *spec2, uint16_t tol, uint16_t win,
                    bool poll)
{
    memset(&g, 0, sizeof g);
    g.rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)id << 32) ^ bn_now();
    g.poll = poll;
    mc_config c;
    mc_config_default(&c);
    c.node_id = id;
    c.domain = 0x4D53;
    if (tol)
        c.tolerance_ms = tol;
    if (win)
        c.window = win;
    c.naming = false;
    c.paths = false; /* raw channels: no path credit layer (see README) */
    c.max_queue_bytes = 64u << 20;
    c.alloc = (mc_alloc){nd_alloc, nd_free, &g};
    c.rng = (mc_rng){nd_rand, &g};
    c.tx = nd_tx;
    c.event = nd_event;
    c.user = &g;
    if (g_sec) {
#ifdef BENCH_HAVE_SEC
        /* A fixed key: both processes must hold the same one, and a benchmark protects
         * nothing.  The context lives as long as the process. */
        static const uint8_t key[MS_CLUSTER_KEY_LEN] = {0x42};
        ms_config mcfg;
        ms_config_default(&mcfg);
        mcfg.node_id = id;
        mcfg.domain = c.domain;
        mcfg.cluster_key = key;
        mcfg.cluster_key_len = sizeof key;
        mcfg.policy = MP_SEC_REQUIRED;
        ms_ctx *ctx = NULL;
        int sr = ms_ctx_create(&mcfg, &ctx);
        if (sr < 0)
            bn_die("ms_ctx_create: %s", ms_strerror(sr));
        ms_core_crypto(ctx, &c.crypto);
#else
        bn_die("--sec 1: built without stack/sec (OpenSSL 3)");
#endif
    }
    int rc = mc_node_create(&c, &g.n);
    if (rc < 0)
        bn_die("mc_node_create: %s", mc_strerror(rc));
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    const char *specs[2] = {spec1, spec2};
    for (int i = 0; i < 2 && specs[i]; i++) {
        struct bctx *bc = calloc(1, sizeof *bc);
        bc->q = calloc(TXQ_MAX, sizeof *bc->q);
        bc->nd = &g;
        if (!bc->q)
            bn_die("oom");
        rc = mb_open_spec(specs[i], bc_rx, bc, &bc->b);
        if (rc < 0)
            bn_die("mb_open_spec %s: %s", specs[i], mb_strerror(rc));
        mc_bearer_cfg bcfg = {0};
        bcfg.mtu = (uint16_t)(mb_mtu(bc->b) < FRAME_MAX ? mb_mtu(bc->b) : FRAME_MAX);
        struct mb_addr da;
        mb_discovery_addr(bc->b, &da);
        memcpy(&bcfg.discovery, &da, sizeof bcfg.discovery);
        bcfg.priority = (uint8_t)(i == 0 ? 10 : 5);
        bc->bid = mc_bearer_attach(g.n, &bcfg, bn_now());
        if (bc->bid < 0)
            bn_die("mc_bearer_attach: %s", mc_strerror(bc->bid));
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(g.ep, EPOLL_CTL_ADD, mb_fd(bc->b), &ev) < 0)
            bn_die("epoll_ctl");
        g.bc[g.nb++] = bc;
    }
}

/* One turn of the loop.  Returns true if anything happened. */
static bool nd_turn(void)
{
    int got = 0;
    g.now = bn_now();
    for (int i = 0; i < g.nb; i++) {
        int r = mb_on_readable(g.bc[i]->b, 256);
        if (r > 0)
            got += r;
    }
    g.now = bn_now();
    if (g.echo_n) { /* B: echo pings (after the callbacks, as mc.h requires) */
        for (int i = 0; i < g.echo_n; i++)
            (void)mc_send(g.n, 1, CHAN, MP_T_DATA, g.echo[i], g.echo_len[i], g.now, NULL);
        g.echo_n = 0;
    }
    if (mc_next_deadline(g.n) <= g.now)
        mc_timeout(g.n, g.now);
    for (int i = 0; i < g.nb; i++)
        if (g.bc[i]->qn) {
            bc_flush(g.bc[i]);
            got++;
        }
    return got > 0;
}

static void nd_sleep(int ctl)
{
    if (g.poll)
        return;
    uint64_t dl = mc_next_deadline(g.n), now = bn_now();
    uint64_t wait = dl > now ? dl - now : 0;
    if (wait > 50000000)
        wait = 50000000;
    if (g_wake_at)
        wait = g_wake_at > now ? (g_wake_at - now < wait ? g_wake_at - now : wait) : 0;
    for (int i = 0; i < g.nb; i++)
        if (g.bc[i]->qn) /* frames waiting for room: come back soon */
            wait = wait > 100000 ? 100000 : wait;
    struct timespec ts = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
    struct epoll_event ev[4];
    (void)ctl;
    (void)epoll_pwait2(g.ep, ev, 4, &ts, NULL);
}

/* Wait for a working link to the peer. */
static void nd_wait_up(uint32_t peer, double secs)
{
    uint64_t end = bn_now() + (uint64_t)(secs * 1e9);
    while (!mc_peer_is_up(g.n, peer)) {
        if (bn_now() > end)
            bn_die("node %u: peer %u not up after %.0f s", mc_node_id(g.n), peer, secs);
        if (!nd_turn())
            nd_sleep(-1);
    }
}

/* ---- B: receive and echo until the control channel closes -------------------------------- */
static int run_b(int ctl)
{
    g.ctl = ctl;
    nd_wait_up(1, 20);
    bn_ctl_send(ctl, &(bn_msg){.op = OP_UP});
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 99};
    epoll_ctl(g.ep, EPOLL_CTL_ADD, ctl, &ev);
    unsigned spin = 0;
    for (;;) {
        bool busy = nd_turn();
        /* Look at the control channel rarely while spinning: a poll() per idle turn
         * would sit in the latency being measured. */
        if (++spin >= 4096 || (!busy && !g.poll)) {
            spin = 0;
            bn_msg m;
            int r = bn_ctl_recv(ctl, &m, 0);
            if (r < 0 || (r == 1 && m.op == OP_QUIT))
                break;
            if (!busy)
                nd_sleep(ctl);
        }
    }
    /* Linger briefly so our last acknowledgements go out. */
    uint64_t end = bn_now() + 20000000;
    while (bn_now() < end)
        if (!nd_turn())
            nd_sleep(-1);
    return 0;
}

/* ---- A ------------------------------------------------------------------------------------ */
static uint8_t g_msg[FRAME_MAX * 64];
static uint64_t g_gseq;

static int a_send(uint8_t kind)
{
    g_msg[0] = kind;
    put64(g_msg + 4, g_gseq);
    put64(g_msg + 12, g.now);
    int rc = mc_send(g.n, 2, CHAN, MP_T_DATA, g_msg, g_o.size, g.now, NULL);
    if (rc == 0)
        g_gseq++;
    return rc;
}

/* Silences B reported (OP_GAP) before its last DONE. */
static uint64_t g_gs[MAXGAPS], g_ge[MAXGAPS];
static int g_ng;
static uint64_t g_ls[LAT_BUCKETS], g_lm[LAT_BUCKETS]; /* OP_LAT: bucket start, worst latency */
static int g_nl;

/* Pump until the control channel says DONE (or timeout).  Returns 1 and fills m. */
static int a_wait_done(int ctl, bn_msg *m, double secs)
{
    g_ng = 0;
    g_nl = 0;
    uint64_t end = bn_now() + (uint64_t)(secs * 1e9);
    unsigned spin = 0;
    for (;;) {
        bool busy = nd_turn();
        if (!busy || ++spin >= 64) {
            spin = 0;
            int r = bn_ctl_recv(ctl, m, 0);
            if (r == 1 && m->op == OP_DONE)
                return 1;
            if (r == 1 && m->op == OP_GAP && g_ng < MAXGAPS) {
                g_gs[g_ng] = m->a;
                g_ge[g_ng++] = m->b;
                continue;
            }
            if (r == 1 && m->op == OP_LAT && g_nl < LAT_BUCKETS) {
                g_ls[g_nl] = m->a;
                g_lm[g_nl++] = m->b;
                continue;
            }
            if (r < 0)
                return -1;
            if (bn_now() > end)
                return 0;
            if (!busy)
                nd_sleep(ctl);
        }
    }
}

/* ---- pty relay (--pty) --------------------------------------------------------------- */
static _Atomic uint64_t *g_line; /* shared: raw bytes relayed A->B, B->A */

static int pty_open(char *slave, size_t cap)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, slave, cap) != 0)
        bn_die("posix_openpt");
    struct termios t;
    if (tcgetattr(m, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(m, TCSANOW, &t);
    }
    return m;
}

static int relay_start(char *sa, char *sb, size_t cap)
{
    g_line = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_line == MAP_FAILED)
        bn_die("mmap");
    int ma = pty_open(sa, cap), mb = pty_open(sb, cap);
    /* Keep the slaves open here too, so a bearer re-open never sees a hangup. */
    int ka = open(sa, O_RDWR | O_NOCTTY | O_CLOEXEC), kb = open(sb, O_RDWR | O_NOCTTY | O_CLOEXEC);
    int pid = fork();
    if (pid < 0)
        bn_die("fork");
    if (pid > 0) {
        close(ma);
        close(mb);
        return pid;
    }
    (void)ka;
    (void)kb;
    int fds[2] = {ma, mb};
    static uint8_t buf[2][65536];
    for (;;) {
        struct pollfd p[2] = {{ma, POLLIN, 0}, {mb, POLLIN, 0}};
        if (poll(p, 2, 1000) < 0)
            continue;
        if (getppid() == 1)
            _exit(0);
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            ssize_t n = read(fds[i], buf[i], sizeof buf[i]);
            if (n <= 0)
                continue;
            atomic_fetch_add(&g_line[i * 8], (uint64_t)n);
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(fds[1 - i], buf[i] + off, (size_t)(n - off));
                if (w > 0)
                    off += w;
                else
                    usleep(50);
            }
        }
    }
}

static char *subst(const char *spec, const char *a, const char *b)
{
    static char out[2][512];
    static int k;
    char *o = out[k++ & 1];
    size_t j = 0;
    for (const char *p = spec; *p && j + 64 < 512; p++) {
        if (p[0] == '%' && (p[1] == 'A' || p[1] == 'B')) {
            j += (size_t)snprintf(o + j, 512 - j, "%s", p[1] == 'A' ? a : b);
            p++;
        } else {
            o[j++] = *p;
        }
    }
    o[j] = 0;
    return o;
}

static pid_t spawn_cut(const char *cmd)
{
    pid_t pid;
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) != 0) {
        fprintf(stderr, "bench_msgr: cannot run %s\n", cmd);
        return -1;
    }
    return pid;
}

int main(int argc, char **argv)
{
    const char *label = "msgr", *sa = NULL, *sb = NULL, *sa2 = NULL, *sb2 = NULL;
    const char *nsa = NULL, *nsb = NULL, *test = "tput", *wait = "poll", *cut_cmd = NULL;
    unsigned tol = 0, win = 0;
    bool pty = false;
    double rate = 10000, duration_ms = 3000, cut_at_ms = 1000, timeout_s = 30;
    g_o = (bn_opts){.runs = 5, .count = 200000, .rtts = 10000, .size = 64};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            bn_die("%s needs a value", o);
        i++;
        if (!strcmp(o, "--label")) label = v;
        else if (!strcmp(o, "--a")) sa = v;
        else if (!strcmp(o, "--b")) sb = v;
        else if (!strcmp(o, "--a2")) sa2 = v;
        else if (!strcmp(o, "--b2")) sb2 = v;
        else if (!strcmp(o, "--netns-a")) nsa = v;
        else if (!strcmp(o, "--netns-b")) nsb = v;
        else if (!strcmp(o, "--test")) test = v;
        else if (!strcmp(o, "--wait")) wait = v;
        else if (!strcmp(o, "--sec")) g_sec = atoi(v);
        else if (!strcmp(o, "--size")) g_o.size = strtoull(v, NULL, 0);
        else if (!strcmp(o, "--count")) g_o.count = strtoull(v, NULL, 0);
        else if (!strcmp(o, "--rtts")) g_o.rtts = strtoull(v, NULL, 0);
        else if (!strcmp(o, "--runs")) g_o.runs = atoi(v);
        else if (!strcmp(o, "--tolerance")) tol = (unsigned)atoi(v);
        else if (!strcmp(o, "--window")) win = (unsigned)atoi(v);
        else if (!strcmp(o, "--burst")) g_burst = strtoull(v, NULL, 0);
        else if (!strcmp(o, "--rate")) rate = atof(v);
        else if (!strcmp(o, "--duration-ms")) duration_ms = atof(v);
        else if (!strcmp(o, "--cut-at-ms")) cut_at_ms = atof(v);
        else if (!strcmp(o, "--cut-cmd")) cut_cmd = v;
        else if (!strcmp(o, "--timeout")) timeout_s = atof(v);
        else if (!strcmp(o, "--pty")) pty = atoi(v) != 0;
        else bn_die("unknown option %s (see the comment at the top of bench_msgr.c)", o);
    }
    if (!sa || !sb || g_o.size < 20 || g_o.size > sizeof g_msg || g_o.runs < 1 ||
        g_o.runs > BN_MAX_RUNS || g_burst < 1)
        bn_die("need --a and --b; --size 20..%zu", sizeof g_msg);
    bool poll = !strcmp(wait, "poll");
    bn_fill(g_msg, sizeof g_msg, 7);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);

    int relay = -1;
    if (pty) {
        char pa[128], pb[128];
        relay = relay_start(pa, pb, sizeof pa);
        sa = strdup(subst(sa, pa, pb));
        sb = strdup(subst(sb, pa, pb));
    }
    int ctl[2];
    if (bn_ctl_pair(ctl) < 0)
        bn_die("socketpair");
    int pid = fork();
    if (pid < 0)
        bn_die("fork");
    if (pid == 0) {
        close(ctl[0]);
        if (bn_netns_enter(nsb) < 0)
            bn_die("netns %s", nsb);
        nd_init(2, sb, sb2, (uint16_t)tol, (uint16_t)win, poll);
        int r = run_b(ctl[1]);
        mc_node_destroy(g.n);
        for (int i = 0; i < g.nb; i++)
            mb_close(g.bc[i]->b);
        _exit(r);
    }
    close(ctl[1]);
    if (bn_netns_enter(nsa) < 0)
        bn_die("netns %s", nsa);
    nd_init(1, sa, sa2, (uint16_t)tol, (uint16_t)win, poll);
    nd_wait_up(2, 20);
    bn_msg m;
    { /* B's side is up too */
        uint64_t end = bn_now() + 20000000000ull;
        for (;;) {
            if (!nd_turn())
                nd_sleep(-1);
            int r = bn_ctl_recv(ctl[0], &m, 0);
            if (r == 1 && m.op == OP_UP)
                break;
            if (r < 0 || bn_now() > end)
                bn_die("B never came up");
        }
    }
    char cas[96];
    uint64_t lost_total = 0;
    int status = 0;
    if (!strcmp(test, "tput")) {
        bn_fig f, lost, eff;
        snprintf(cas, sizeof cas, "eff_%zu", g_o.size);
        bn_fig_init(&eff, label, cas, "%");
        snprintf(cas, sizeof cas, "tput_%zu", g_o.size);
        bn_fig_init(&f, label, cas, "msg/s");
        snprintf(cas, sizeof cas, "lost_%zu", g_o.size);
        bn_fig_init(&lost, label, cas, "msgs");
        /* One untimed warm-up run (page faults, first allocations), then the runs. */
        for (int run = -1; run < g_o.runs; run++) {
            uint64_t bad0 = 0, t0 = bn_now(), sent = 0;
            uint64_t line0 = g_line ? atomic_load(&g_line[0]) : 0;
            g.now = t0;
            while (sent < g_o.count) {
                size_t k = 0;
                g.now = bn_now();
                while (k < g_burst && sent < g_o.count) {
                    int rc = a_send(sent + 1 == g_o.count ? K_TPUT_LAST : K_TPUT);
                    if (rc == MC_EAGAIN)
                        break;
                    if (rc < 0)
                        bn_die("mc_send: %s", mc_strerror(rc));
                    k++;
                    sent++;
                }
                mc_flush(g.n, g.now);
                if (!nd_turn() && k == 0)
                    nd_sleep(ctl[0]);
                if (bn_now() - t0 > (uint64_t)(timeout_s * 1e9))
                    break;
            }
            int r = a_wait_done(ctl[0], &m, timeout_s);
            if (r != 1) {
                fprintf(stderr, "%s: run %d did not complete (sent %llu of %llu)\n", label, run,
                        (unsigned long long)sent, (unsigned long long)g_o.count);
                status = 1;
                break;
            }
            (void)bad0;
            if (run >= 0) {
                bn_fig_add(&f, (double)g_o.count * 1e9 / (double)(m.a - t0));
                bn_fig_add(&lost, (double)(m.b - lost_total));
                if (g_line) {
                    uint64_t line = atomic_load(&g_line[0]) - line0;
                    bn_fig_add(&eff, 100.0 * (double)(g_o.count * g_o.size) / (double)line);
                }
            }
            lost_total = m.b;
        }
        mc_link_info li;
        int nl = 0;
        uint64_t bund = 0, bmsgs = 0, frames = 0, rtx = 0;
        for (int i = 0; i < g.nb; i++)
            if (mc_link_get(g.n, 2, g.bc[i]->bid, &li) == 0) {
                nl++;
                bund += li.stats.bundles_tx;
                bmsgs += li.stats.bundled_msgs_tx;
                frames += li.stats.tx_data;
                rtx += li.stats.retransmits;
            }
        snprintf(f.note, sizeof f.note,
                 "%llu msgs of %zu B/run, burst %zu, %s; A sent %llu data frames, %llu bundles "
                 "(avg %.1f msgs), %llu retransmits, %llu tx refused",
                 (unsigned long long)g_o.count, g_o.size, g_burst, wait,
                 (unsigned long long)frames, (unsigned long long)bund,
                 bund ? (double)bmsgs / (double)bund : 0.0, (unsigned long long)rtx,
                 (unsigned long long)g.tx_dropped);
        snprintf(lost.note, sizeof lost.note, "sequence gaps seen by B (must be 0)");
        bn_fig_print(&f);
        bn_fig_print(&lost);
        if (g_line) {
            snprintf(eff.note, sizeof eff.note,
                     "payload bytes / raw pty line bytes A->B (framing, escapes, CRC, headers; "
                     "random payload)");
            bn_fig_print(&eff);
        }
    } else if (!strcmp(test, "rtt")) {
        uint64_t *smp = calloc(g_o.rtts, sizeof *smp);
        bn_fig p50, p99;
        snprintf(cas, sizeof cas, "rtt_%s_p50", wait);
        bn_fig_init(&p50, label, cas, "us");
        snprintf(cas, sizeof cas, "rtt_%s_p99", wait);
        bn_fig_init(&p99, label, cas, "us");
        for (int run = -1; run < g_o.runs; run++) {
            for (uint64_t k = 0; k < g_o.rtts; k++) {
                g.now = bn_now();
                uint64_t t0 = g.now;
                g.got_pong = false;
                if (a_send(K_PING) < 0)
                    bn_die("ping send failed");
                mc_flush(g.n, g.now);
                uint64_t end = t0 + (uint64_t)(timeout_s * 1e9);
                while (!g.got_pong) {
                    if (!nd_turn() && !g.got_pong)
                        nd_sleep(-1);
                    if (bn_now() > end)
                        bn_die("%s: pong %llu lost", label, (unsigned long long)k);
                }
                smp[k] = bn_now() - t0;
            }
            if (run >= 0) {
                bn_fig_add(&p50, (double)bn_quantile_u64(smp, g_o.rtts, 0.5) / 1e3);
                bn_fig_add(&p99, (double)bn_quantile_u64(smp, g_o.rtts, 0.99) / 1e3);
            }
        }
        snprintf(p50.note, sizeof p50.note, "%llu round trips/run, %zu B, %s",
                 (unsigned long long)g_o.rtts, g_o.size, wait);
        snprintf(p99.note, sizeof p99.note, "%s", p50.note);
        bn_fig_print(&p50);
        bn_fig_print(&p99);
        free(smp);
    } else if (!strcmp(test, "steady")) {
        bn_fig fo, gap, lost, cutd, basel;
        bn_fig_init(&fo, label, "failover_ms", "ms");
        bn_fig_init(&basel, label, "precut_max_latency_ms", "ms");
        bn_fig_init(&cutd, label, "cut_cmd_ms", "ms");
        pid_t cut_pid = -1;
        uint64_t cut_done = 0;
        bn_fig_init(&gap, label, "max_gap_ms", "ms");
        bn_fig_init(&lost, label, "lost", "msgs");
        mc_link_info li;
        unsigned probe = mc_link_get(g.n, 2, g.bc[0]->bid, &li) == 0 ? li.probe_ms : 0;
        uint64_t period = (uint64_t)(1e9 / rate);
        uint64_t t0 = bn_now(), next = t0, cut_t = 0, dur = (uint64_t)(duration_ms * 1e6);
        uint64_t sent = 0;
        while (bn_now() - t0 < dur) {
            g.now = bn_now();
            if (cut_cmd && !cut_t && g.now - t0 >= (uint64_t)(cut_at_ms * 1e6)) {
                cut_t = bn_now();
                cut_pid = spawn_cut(cut_cmd);
            }
            if (cut_pid > 0 && !cut_done && waitpid(cut_pid, NULL, WNOHANG) == cut_pid)
                cut_done = bn_now();
            while (next <= g.now) {
                bool last = g.now - t0 + period >= dur;
                if (a_send(last ? K_STEADY_LAST : K_STEADY) == 0)
                    sent++;
                next += period;
                if (last)
                    break;
            }
            mc_flush(g.n, g.now);
            g_wake_at = next;
            if (!nd_turn())
                nd_sleep(-1);
        }
        g_wake_at = 0;
        if (a_send(K_STEADY_LAST) == 0)
            sent++;
        mc_flush(g.n, bn_now());
        int r = a_wait_done(ctl[0], &m, timeout_s);
        mc_stats st;
        mc_get_stats(g.n, &st);
        if (r != 1) {
            fprintf(stderr, "%s: steady run did not complete\n", label);
            status = 1;
        } else {
            /* The cut lands somewhere inside the cut command (nft in two namespaces, 100s
             * of ms under load), and on a loaded 2-CPU machine the receiver sees
             * scheduling silences of 10-30 ms anyway, so silences cannot tell the cut
             * apart.  What can: every message carries its send time, and the ones the cut
             * catches arrive only once the link supervision has failed them over.  So:
             * failover time = the worst one-way latency of the messages sent after the
             * cut command started; the baseline (noise) = the worst before it. */
            double fo_ms = 0, base_ms = 0;
            for (int i = 0; i < g_nl; i++) {
                double l = (double)g_lm[i] / 1e6;
                if (g_ls[i] + LAT_BUCKET_NS <= cut_t) {
                    if (l > base_ms)
                        base_ms = l;
                } else if (l > fo_ms) {
                    fo_ms = l;
                }
            }
            bn_fig_add(&fo, fo_ms);
            bn_fig_add(&basel, base_ms);
            if (cut_done)
                bn_fig_add(&cutd, (double)(cut_done - cut_t) / 1e6);
            bn_fig_add(&gap, (double)m.c / 1e6);
            bn_fig_add(&lost, (double)m.b);
        }
        snprintf(fo.note, sizeof fo.note,
                 "worst one-way latency of msgs sent after the cut started; %llu msgs at %.0f/s, cut at %.0f ms; link probe interval %u ms, tolerance %u ms; "
                 "failovers %llu, msgs failed over %llu",
                 (unsigned long long)sent, rate, cut_at_ms, probe, probe * 4,
                 (unsigned long long)st.failovers, (unsigned long long)st.msgs_failed_over);
        snprintf(gap.note, sizeof gap.note, "longest silence seen by B (whole run)");
        snprintf(basel.note, sizeof basel.note, "worst one-way latency of messages sent before "
                 "the cut (scheduling noise on this machine)");
        snprintf(cutd.note, sizeof cutd.note, "how long the cut command itself took (the cut "
                 "lands somewhere inside it)");
        snprintf(lost.note, sizeof lost.note, "sequence gaps seen by B (must be 0)");
        bn_fig_print(&fo);
        bn_fig_print(&basel);
        bn_fig_print(&gap);
        bn_fig_print(&lost);
        if (cutd.n)
            bn_fig_print(&cutd);
    } else {
        bn_die("unknown --test %s", test);
    }
    bn_ctl_send(ctl[0], &(bn_msg){.op = OP_QUIT});
    /* Keep serving B's last frames while it lingers. */
    uint64_t end = bn_now() + 30000000;
    while (bn_now() < end)
        if (!nd_turn())
            nd_sleep(-1);
    int cs = bn_wait_child(pid);
    if (relay > 0) {
        kill(relay, SIGTERM);
        bn_wait_child(relay);
    }
    mc_node_destroy(g.n);
    for (int i = 0; i < g.nb; i++)
        mb_close(g.bc[i]->b);
    return status ? status : cs;
}
