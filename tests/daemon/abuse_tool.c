/*
 * msgr-abuse — a hostile local client for the daemon's access tests (abuse_udp.sh,
 * access_root.sh).  It speaks the socket protocol (PROTOCOL.md) directly with the
 * ipc.h codec, not through libmsgr, so that it can send what libmsgr never would: another
 * client's device and path numbers, floods, conflicting names.
 *
 *   msgr-abuse probe -s SOCK
 *       Attaches and says HELLO.  Exit 0 if the daemon answered, 3 if it refused (the
 *       connect failed or the daemon closed the connection), 1 on anything else.
 *
 *   msgr-abuse run -s SOCK -o NAME -k SINK -x EXCL -c COUNT
 *       Two connections: V (the victim) and X (the attacker).  Steps, each checked:
 *       1. V registers st/victim and opens a path to NAME (a msgr-dt recv on another node).
 *       2. X uses V's device and path numbers: DEV_DEL, PUBLISH, WITHDRAW, OPEN from V's
 *          device, SEND, ACCEPT and CLOSE on V's path must all fail MC_ENOENT.
 *       3. Names: V publishes EXCL exclusive rank 5; X publishes EXCL exclusive with rank
 *          5 and with rank 1.  Both are accepted but shadowed: prints "READY excl" and
 *          waits until V has received 10 messages on its EXCL device (the test sends
 *          them from the other node by name) while X received none.
 *       4. Flood: X registers devices until MC_ELIMIT, opens paths to SINK until
 *          MC_ELIMIT, and sends on its paths until every one answers MC_EAGAIN (no
 *          credit), ignoring WRITABLE; the refusals must come at the documented limits.
 *       5. Meanwhile-unaffected: V sends COUNT numbered messages (msgr-send's format)
 *          on its path, waiting for WRITABLE when out of credit, then closes it; the
 *          receiver on the other node checks them.
 *       Prints one "OK ..." line per step; exit 0 only if every check held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "srv.h"

#define E_ENOENT (-8) /* MC_ENOENT = MSGR_ENOENT */
#define E_ELIMIT (-3)
#define E_EAGAIN (-5)

typedef struct conn {
    const char *tag;
    int fd;
    uint32_t next_id;
    /* what events brought */
    long msgs_on_dev[8];
    uint32_t watch_dev[8];
    int nwatch;
    uint32_t open_path; /* a PATH event said this path is OPEN */
    uint32_t writable;  /* WRITABLE events seen */
    uint8_t rbuf[MIPC_MAX_MSG];
} conn;

static int failures;

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "msgr-abuse: FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    failures++;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int attach(conn *c, const char *tag, const char *path)
{
    memset(c, 0, sizeof *c);
    c->tag = tag;
    c->next_id = 1;
    c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        return -1;
    return 0;
}

/* Reads one packet (waiting up to ms) and books an event; returns its length, 0 on
 * timeout, -1 when the daemon closed the connection. */
static ssize_t pump(conn *c, int ms)
{
    struct pollfd p = {c->fd, POLLIN, 0};
    int r = poll(&p, 1, ms);
    if (r <= 0)
        return 0;
    ssize_t n = recv(c->fd, c->rbuf, sizeof c->rbuf, 0);
    if (n <= 0)
        return -1;
    uint16_t op = mipc_msg_op(c->rbuf, (size_t)n);
    mipc_r rd;
    mipc_r_init(&rd, c->rbuf, (size_t)n);
    if (op == MIPC_EV_MSG) {
        (void)mipc_get32(&rd);
        uint32_t dev = mipc_get32(&rd);
        for (int i = 0; i < c->nwatch; i++)
            if (c->watch_dev[i] == dev)
                c->msgs_on_dev[i]++;
    } else if (op == MIPC_EV_PATH) {
        uint32_t path = mipc_get32(&rd);
        for (int i = 0; i < 4; i++)
            (void)mipc_get32(&rd);
        if (mipc_get8(&rd) == 3 /* MPA_ST_OPEN */)
            c->open_path = path;
    } else if (op == MIPC_EV_WRITABLE) {
        c->writable++;
    }
    return n;
}

/* Sends a request built in w and waits (events booked meanwhile) for its response:
 * returns the status, *out = the u32 result if any.  -1000 if the daemon went away. */
static int call(conn *c, mipc_w *w, uint32_t *out)
{
    size_t n = mipc_w_end(w);
    uint32_t id = mipc_msg_id(w->b, n);
    if (!n || send(c->fd, w->b, n, MSG_NOSIGNAL) != (ssize_t)n)
        return -1000;
    double end = now_s() + 10;
    while (now_s() < end) {
        ssize_t r = pump(c, 100);
        if (r < 0)
            return -1000;
        if (r == 0)
            continue;
        uint16_t op = mipc_msg_op(c->rbuf, (size_t)r);
        if (!(op & MIPC_RESP) || mipc_msg_id(c->rbuf, (size_t)r) != id)
            continue;
        mipc_r rd;
        mipc_r_init(&rd, c->rbuf, (size_t)r);
        int st = (int)mipc_get32(&rd);
        if (out)
            *out = (size_t)r >= MIPC_HDR_LEN + 8 ? mipc_get32(&rd) : 0;
        return st;
    }
    return -1000;
}

static uint8_t wbuf[MIPC_MAX_MSG];

static uint32_t node_id; /* from HELLO: msgr-send's payload names the sending node */

static int hello(conn *c)
{
    mipc_w w;
    mipc_w_init(&w, wbuf, sizeof wbuf, MIPC_HELLO, c->next_id++);
    mipc_put32(&w, MIPC_VERSION);
    mipc_put32(&w, 0);
    return call(c, &w, &node_id);
}

static int dev_add(conn *c, const char *name, uint8_t rank, uint8_t flags, uint32_t *dev)
{
    mipc_w w;
    mipc_w_init(&w, wbuf, sizeof wbuf, MIPC_DEV_ADD, c->next_id++);
    mipc_put16(&w, 1);
    mipc_put8(&w, rank);
    mipc_put8(&w, flags);
    mipc_putstr(&w, name, strlen(name));
    mipc_put8(&w, 0);
    return call(c, &w, dev);
}

static int handle_op(conn *c, uint16_t op, uint32_t h)
{
    mipc_w w;
    mipc_w_init(&w, wbuf, sizeof wbuf, op, c->next_id++);
    mipc_put32(&w, h);
    return call(c, &w, NULL);
}

static int open_path(conn *c, uint32_t dev, const char *name, uint32_t *path)
{
    mipc_w w;
    mipc_w_init(&w, wbuf, sizeof wbuf, MIPC_OPEN, c->next_id++);
    mipc_put32(&w, dev);
    mipc_put8(&w, MIPC_K_NAME);
    mipc_putstr(&w, name, strlen(name));
    return call(c, &w, path);
}

static int send_msg(conn *c, uint32_t path, const void *p, size_t len)
{
    mipc_w w;
    mipc_w_init(&w, wbuf, sizeof wbuf, MIPC_SEND, c->next_id++);
    mipc_put32(&w, path);
    mipc_putraw(&w, p, len);
    return call(c, &w, NULL);
}

/* Opens dev -> name and waits until the path is OPEN (the name may still be travelling). */
static int open_wait(conn *c, uint32_t dev, const char *name, uint32_t *path)
{
    double end = now_s() + 30;
    int r;
    do {
        r = open_path(c, dev, name, path);
        if (r == 0) {
            while (now_s() < end && c->open_path != *path)
                if (pump(c, 100) < 0)
                    return -1000;
            return c->open_path == *path ? 0 : -1001;
        }
        pump(c, 50); /* bounded wait for the name or the link, then retry */
    } while (now_s() < end);
    return r;
}

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(__VA_ARGS__);                                                                     \
    } while (0)

static int do_run(const char *sock, const char *name, const char *sink, const char *excl,
                  long count)
{
    conn *v = malloc(sizeof *v), *x = malloc(sizeof *x);
    if (!v || !x || attach(v, "V", sock) < 0 || attach(x, "X", sock) < 0 || hello(v) || hello(x)) {
        fprintf(stderr, "msgr-abuse: attach %s: %s\n", sock, strerror(errno));
        return 1;
    }
    /* 1. The victim's device and path. */
    uint32_t dv = 0, pv = 0, dx = 0;
    int r = dev_add(v, "st/victim", 0, MIPC_DF_PUBLISH, &dv);
    EXPECT(r == 0, "V dev_add: %d", r);
    r = open_wait(v, dv, name, &pv);
    EXPECT(r == 0, "V open %s: %d", name, r);
    r = dev_add(x, "st/x", 0, MIPC_DF_PUBLISH, &dx);
    EXPECT(r == 0, "X dev_add: %d", r);
    if (failures)
        return 1;
    printf("OK victim device %u path %u open to %s\n", dv, pv, name);

    /* 2. The attacker uses the victim's numbers. */
    static const struct {
        uint16_t op;
        const char *what;
        int on_path;
    } ops[] = {
        {MIPC_DEV_DEL, "DEV_DEL", 0}, {MIPC_PUBLISH, "PUBLISH", 0}, {MIPC_WITHDRAW, "WITHDRAW", 0},
        {MIPC_ACCEPT, "ACCEPT", 1},   {MIPC_CLOSE, "CLOSE", 1},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        r = handle_op(x, ops[i].op, ops[i].on_path ? pv : dv);
        EXPECT(r == E_ENOENT, "X %s on V's %s: %d, want ENOENT", ops[i].what,
               ops[i].on_path ? "path" : "device", r);
    }
    uint32_t px = 0;
    r = open_path(x, dv, name, &px);
    EXPECT(r == E_ENOENT, "X OPEN from V's device: %d, want ENOENT", r);
    uint8_t m[300] = {0};
    r = send_msg(x, pv, m, 8);
    EXPECT(r == E_ENOENT, "X SEND on V's path: %d, want ENOENT", r);
    if (failures)
        return 1;
    printf("OK attacker refused V's device and path on DEV_DEL PUBLISH WITHDRAW ACCEPT CLOSE OPEN "
           "SEND\n");

    /* 3. Exclusive name: the first publisher stays the winner. */
    uint32_t de = 0, dx5 = 0, dx1 = 0;
    r = dev_add(v, excl, 5, MIPC_DF_PUBLISH | MIPC_DF_EXCLUSIVE, &de);
    EXPECT(r == 0, "V publish %s: %d", excl, r);
    r = dev_add(x, excl, 5, MIPC_DF_PUBLISH | MIPC_DF_EXCLUSIVE, &dx5);
    EXPECT(r == 0, "X publish %s rank 5 (accepted, shadowed): %d", excl, r);
    r = dev_add(x, excl, 1, MIPC_DF_PUBLISH | MIPC_DF_EXCLUSIVE, &dx1);
    EXPECT(r == 0, "X publish %s rank 1 (accepted, shadowed): %d", excl, r);
    if (failures)
        return 1;
    v->watch_dev[v->nwatch++] = de;
    x->watch_dev[x->nwatch++] = dx5;
    x->watch_dev[x->nwatch++] = dx1;
    printf("READY excl %s: V device %u, X devices %u (rank 5) %u (rank 1)\n", excl, de, dx5, dx1);
    fflush(stdout);
    double end = now_s() + 60;
    while (now_s() < end && v->msgs_on_dev[0] < 10) {
        pump(v, 20);
        pump(x, 0);
    }
    while (pump(x, 50) > 0) /* whatever X may have been sent has arrived by now */
        ;
    EXPECT(v->msgs_on_dev[0] == 10, "V got %ld messages on %s, want 10", v->msgs_on_dev[0], excl);
    EXPECT(x->msgs_on_dev[0] == 0 && x->msgs_on_dev[1] == 0, "X hijacked %s: %ld + %ld messages",
           excl, x->msgs_on_dev[0], x->msgs_on_dev[1]);
    if (failures)
        return 1;
    printf("OK %s: 10 messages to the first publisher, 0 to the shadowed ones\n", excl);

    /* 4. Flood: devices, paths, sends. */
    unsigned held = 3; /* st/x and the two EXCL devices */
    uint32_t d;
    unsigned added = 0;
    while ((r = dev_add(x, "st/flood", 0, 0, &d)) == 0 && added < 10 * MSRV_MAX_DEVS_PER_CLIENT)
        added++;
    EXPECT(r == E_ELIMIT && added + held == MSRV_MAX_DEVS_PER_CLIENT,
           "X device flood: %u added then %d, want ELIMIT at %u", added, r,
           MSRV_MAX_DEVS_PER_CLIENT);
    static uint32_t xp[MSRV_MAX_PATHS_PER_CLIENT + 1];
    unsigned opened = 0;
    while (opened <= MSRV_MAX_PATHS_PER_CLIENT && (r = open_path(x, dx, sink, &xp[opened])) == 0)
        opened++;
    EXPECT(r == E_ELIMIT && opened == MSRV_MAX_PATHS_PER_CLIENT,
           "X path flood: %u opened then %d, want ELIMIT at %u", opened, r,
           MSRV_MAX_PATHS_PER_CLIENT);
    /* Sends on the first paths until each is out of credit (they open asynchronously:
     * ESTATE until then). */
    long sent = 0, eagain = 0;
    end = now_s() + 30;
    for (unsigned i = 0; i < 8 && i < opened && now_s() < end; i++) {
        while (now_s() < end) {
            r = send_msg(x, xp[i], m, sizeof m);
            if (r == 0)
                sent++;
            else if (r == E_EAGAIN) {
                eagain++;
                break;
            } else
                pump(x, 20);
        }
    }
    EXPECT(eagain == 8, "X send flood: %ld of 8 paths ran out of credit (%ld sent)", eagain, sent);
    if (failures)
        return 1;
    printf("OK flood refused: %u devices then ELIMIT, %u paths then ELIMIT, %ld sends then "
           "EAGAIN on 8 paths\n",
           added + held, opened, sent);

    /* 5. The victim's traffic still flows. */
    uint32_t node = node_id;
    long i = 0;
    end = now_s() + 120;
    while (i < count && now_s() < end) {
        uint32_t seq = (uint32_t)i;
        memcpy(m, &seq, 4);
        memcpy(m + 4, &node, 4);
        for (size_t k = 8; k < sizeof m; k++)
            m[k] = (uint8_t)(seq + (uint32_t)k);
        r = send_msg(v, pv, m, sizeof m);
        if (r == 0) {
            i++;
        } else if (r == E_EAGAIN) {
            uint32_t w0 = v->writable;
            while (v->writable == w0 && now_s() < end)
                if (pump(v, 100) < 0)
                    break;
        } else {
            fail("V send %ld: %d", i, r);
            return 1;
        }
    }
    EXPECT(i == count, "V sent %ld of %ld", i, count);
    r = handle_op(v, MIPC_CLOSE, pv);
    EXPECT(r == 0, "V close: %d", r);
    if (failures)
        return 1;
    printf("OK victim sent %ld messages while the attacker held its limits\n", i);
    /* Stay attached until the test has looked (SIGTERM ends us): the attacker's paths
     * and devices must still be there when msgrctl stats is read. */
    fflush(stdout);
    while (pump(x, 200) >= 0 && pump(v, 0) >= 0)
        ;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        goto usage;
    const char *sock = NULL, *name = NULL, *sink = NULL, *excl = NULL;
    long count = 1000;
    int o;
    optind = 2;
    while ((o = getopt(argc, argv, "s:o:k:x:c:")) != -1) {
        switch (o) {
        case 's':
            sock = optarg;
            break;
        case 'o':
            name = optarg;
            break;
        case 'k':
            sink = optarg;
            break;
        case 'x':
            excl = optarg;
            break;
        case 'c':
            count = atol(optarg);
            break;
        default:
            goto usage;
        }
    }
    if (!sock)
        goto usage;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(argv[1], "probe")) {
        static conn c;
        if (attach(&c, "P", sock) < 0) {
            printf("REFUSED connect: %s\n", strerror(errno));
            return 3;
        }
        int r = hello(&c);
        if (r == -1000) {
            printf("REFUSED by the daemon\n");
            return 3;
        }
        printf(r == 0 ? "ATTACHED\n" : "HELLO status %d\n", r);
        return r == 0 ? 0 : 1;
    }
    if (!strcmp(argv[1], "run") && name && sink && excl && count > 0)
        return do_run(sock, name, sink, excl, count);
usage:
    fprintf(stderr,
            "usage: msgr-abuse probe -s SOCK | run -s SOCK -o NAME -k SINK -x EXCL -c COUNT\n");
    return 2;
}
