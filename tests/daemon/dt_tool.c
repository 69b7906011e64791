/*
 * msgr-dt — a test client for the daemon tests (the netns cluster scripts, two_nodes_udp.sh).
 *
 *   msgr-dt recv  -s SOCK -n NAME -c COUNT [-k CLOSES] [-t SECONDS]
 *       Registers NAME, prints "READY ...", receives messages written by msgr-send
 *       (u32 seq, u32 sender node, then byte i = seq + i) and checks content and order
 *       per *path* (so two senders on one node are told apart).  With -k it then keeps
 *       receiving until CLOSES incoming paths have been closed by their senders: a
 *       message after COUNT, or a gap/duplicate, is an error.  That proves exactly once:
 *       a path closes in order after its last message.
 *       Prints "OK received N messages on P path(s) from nodes [..], 0 bad, 0 extra".
 *
 *   msgr-dt watch -s SOCK
 *       Subscribes to link/peer and name events and prints one line per event:
 *         "EV <realtime s.ns> LINK peer=N bearer=B up=U reason=R"
 *         "EV <realtime s.ns> PEER peer=N up=U reason=R"
 *         "EV <realtime s.ns> NAME up=U node=N name=S"
 *       (CLOCK_REALTIME, comparable with `date +%s.%N`), flushed at once.  Prints
 *       "READY watch node N" first; runs until the daemon goes away or SIGTERM.
 *
 *   msgr-dt hold  -s SOCK -n NAME [-n NAME]... [-o PEERNAME] [-R] [-t SECONDS]
 *       Registers and publishes each NAME and keeps them while it runs, so a test can
 *       look at name tables without racing an application's exit; with -o it also opens
 *       a path from the first NAME to PEERNAME (retrying until the name is known) and
 *       keeps it open.  Prints "READY hold node N" (once the path is open).  With -R it outlives its daemon like a supervised application: when the
 *       daemon goes away it re-attaches (every 20 ms, for up to SECONDS) and registers
 *       its names again, printing "READY hold node N again K".  SIGTERM ends it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "msgr/msgr.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void stamp(char *b, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(b, n, "%lld.%09ld", (long long)ts.tv_sec, ts.tv_nsec);
}

#define MAXP 64
struct src {
    uint32_t path, node, next;
    long got;
};

static int do_recv(const char *sock, const char *name, long count, long closes, long secs)
{
    msgr *m;
    int r = msgr_attach(sock, &m);
    if (r < 0) {
        fprintf(stderr, "msgr-dt recv: attach: %s\n", msgr_strerror(r));
        return 1;
    }
    uint32_t dev;
    msgr_prop prop = {"role", "dt-receiver"};
    msgr_device_cfg cfg = {.name = name, .dtype = 1, .props = &prop, .nprops = 1};
    if ((r = msgr_device_register(m, &cfg, &dev)) < 0) {
        fprintf(stderr, "msgr-dt recv: register %s: %s\n", name, msgr_strerror(r));
        return 1;
    }
    printf("READY %s device %u on node %u\n", name, dev, msgr_node_id(m));
    fflush(stdout);
    struct src s[MAXP];
    int ns = 0;
    long got = 0, bad = 0, extra = 0, closed = 0;
    static uint8_t buf[MSGR_MAX_MSG];
    double end = now_s() + (double)secs;
    while (got < count || closed < closes) {
        double left = end - now_s();
        if (left <= 0) {
            fprintf(stderr, "msgr-dt recv: timeout: %ld of %ld messages, %ld of %ld closes\n", got,
                    count, closed, closes);
            break;
        }
        /* Status events first: path closes. */
        msgr_event ev;
        while (msgr_next_event(m, &ev, 0) == 0) {
            if (ev.type == MSGR_EV_PATH && (ev.state == MSGR_PS_CLOSED || ev.state == MSGR_PS_BROKEN)) {
                closed++;
                if (ev.state == MSGR_PS_BROKEN)
                    fprintf(stderr, "msgr-dt recv: path %u broken (reason %d)\n", ev.path, ev.reason);
                msgr_path_close(m, ev.path);
            }
        }
        if (got >= count && closed >= closes)
            break; /* the last close came with the events: do not wait for more */
        msgr_waitable w[2] = {{MSGR_W_READABLE, 0, false}, {MSGR_W_EVENT, 0, false}};
        int wr = msgr_wait(m, w, 2, (int)(left * 1000) + 1);
        if (wr < 0) {
            fprintf(stderr, "msgr-dt recv: wait: %s\n", msgr_strerror(wr));
            break;
        }
        if (!w[0].ready)
            continue;
        msgr_msg_info in;
        r = msgr_recv(m, 0, buf, sizeof buf, &in, 0);
        if (r == MSGR_ETIMEDOUT)
            continue;
        if (r < 0) {
            fprintf(stderr, "msgr-dt recv: %s after %ld messages\n", msgr_strerror(r), got);
            break;
        }
        if (got >= count) {
            extra++;
            fprintf(stderr, "msgr-dt recv: extra message on path %u from node %u\n", in.path,
                    in.peer_node);
            continue;
        }
        got++;
        if (r < 8) {
            bad++;
            continue;
        }
        uint32_t seq, from;
        memcpy(&seq, buf, 4);
        memcpy(&from, buf + 4, 4);
        int k = 0;
        while (k < ns && s[k].path != in.path)
            k++;
        if (k == ns) {
            if (ns == MAXP) {
                bad++;
                continue;
            }
            s[ns++] = (struct src){in.path, from, 0, 0};
        }
        if (from != in.peer_node || from != s[k].node) {
            if (bad < 10)
                fprintf(stderr, "msgr-dt recv: sender node %u in payload, %u in header\n", from,
                        in.peer_node);
            bad++;
        }
        if (seq != s[k].next) {
            if (bad < 10)
                fprintf(stderr, "msgr-dt recv: path %u: seq %u, expected %u\n", in.path, seq,
                        s[k].next);
            bad++;
        }
        s[k].next = seq + 1;
        s[k].got++;
        for (int i = 8; i < r; i++)
            if (buf[i] != (uint8_t)(seq + (uint32_t)i)) {
                bad++;
                break;
            }
    }
    int ok = !bad && !extra && got == count && closed >= closes;
    printf("%s received %ld messages on %d path(s) from nodes [", ok ? "OK" : "FAIL", got, ns);
    for (int k = 0; k < ns; k++)
        printf("%s%u:%ld", k ? " " : "", s[k].node, s[k].got);
    printf("], %ld bad, %ld extra, %ld closed\n", bad, extra, closed);
    fflush(stdout);
    msgr_close(m);
    return ok ? 0 : 1;
}

static int do_watch(const char *sock)
{
    msgr *m;
    int r = msgr_attach(sock, &m);
    if (r < 0) {
        fprintf(stderr, "msgr-dt watch: attach: %s\n", msgr_strerror(r));
        return 1;
    }
    if ((r = msgr_subscribe(m, true, true)) < 0) {
        fprintf(stderr, "msgr-dt watch: subscribe: %s\n", msgr_strerror(r));
        return 1;
    }
    printf("READY watch node %u\n", msgr_node_id(m));
    fflush(stdout);
    for (;;) {
        msgr_event ev;
        r = msgr_next_event(m, &ev, 1000);
        if (r == MSGR_ETIMEDOUT)
            continue;
        if (r < 0) {
            printf("END %s\n", msgr_strerror(r));
            break;
        }
        char t[40];
        stamp(t, sizeof t);
        switch (ev.type) {
        case MSGR_EV_LINK:
            printf("EV %s LINK peer=%u bearer=%d up=%d reason=%d\n", t, ev.peer_node, ev.bearer,
                   ev.up, ev.reason);
            break;
        case MSGR_EV_PEER:
            printf("EV %s PEER peer=%u up=%d reason=%d\n", t, ev.peer_node, ev.up, ev.reason);
            break;
        case MSGR_EV_NAME:
            printf("EV %s NAME up=%d node=%u name=%s\n", t, ev.up, ev.peer_node, ev.name);
            break;
        default:
            printf("EV %s OTHER type=%d\n", t, ev.type);
            break;
        }
        fflush(stdout);
    }
    msgr_close(m);
    return 0;
}

static uint32_t hold_first; /* the device of the first NAME */

static int hold_register(msgr *m, const char *const *names, int nn)
{
    for (int i = 0; i < nn; i++) {
        uint32_t dev;
        msgr_device_cfg cfg = {.name = names[i], .dtype = 3};
        int r = msgr_device_register(m, &cfg, &dev);
        if (r < 0) {
            fprintf(stderr, "msgr-dt hold: register %s: %s\n", names[i], msgr_strerror(r));
            return r;
        }
        if (i == 0)
            hold_first = dev;
    }
    return 0;
}

static int do_hold(const char *sock, const char *const *names, int nn, const char *to, bool again,
                   long secs)
{
    msgr *m;
    uint32_t dev;
    int r = msgr_attach(sock, &m);
    if (r < 0 || (r = hold_register(m, names, nn)) < 0) {
        fprintf(stderr, "msgr-dt hold: attach: %s\n", msgr_strerror(r));
        return 1;
    }
    double end = now_s() + (double)secs;
    dev = hold_first;
    while (to) {
        uint32_t path = 0;
        r = msgr_open_wait(m, dev, to, MSGR_OPEN_NAME, &path, 1000);
        if (r == 0)
            break;
        if (path)
            msgr_path_close(m, path);
        if (now_s() > end) {
            fprintf(stderr, "msgr-dt hold: open %s: %s\n", to, msgr_strerror(r));
            return 1;
        }
        msgr_event ev;
        msgr_next_event(m, &ev, 20); /* the name may not have arrived yet: retry */
    }
    printf("READY hold node %u\n", msgr_node_id(m));
    fflush(stdout);
    for (int k = 1;; k++) {
        msgr_event ev;
        while ((r = msgr_next_event(m, &ev, 1000)) == 0 || r == MSGR_ETIMEDOUT)
            ;
        msgr_close(m);
        if (!again)
            return 0;
        /* The daemon is gone (killed or restarting): come back when it does, as an
         * application under a service manager would. */
        end = now_s() + (double)secs;
        while ((r = msgr_attach(sock, &m)) < 0 && now_s() < end) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (r < 0 || hold_register(m, names, nn) < 0) {
            fprintf(stderr, "msgr-dt hold: re-attach: %s\n", msgr_strerror(r));
            return 1;
        }
        printf("READY hold node %u again %d\n", msgr_node_id(m), k);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: msgr-dt recv|watch [options]\n");
        return 2;
    }
    const char *cmd = argv[1];
    const char *sock = NULL, *name = NULL, *to = NULL;
    const char *names[16];
    int nn = 0;
    bool again = false;
    long count = 1000, closes = 0, secs = 120;
    int o;
    optind = 2;
    while ((o = getopt(argc, argv, "s:n:c:k:t:Ro:")) != -1) {
        switch (o) {
        case 's': sock = optarg; break;
        case 'n':
            name = optarg;
            if (nn < 16)
                names[nn++] = optarg;
            break;
        case 'R': again = true; break;
        case 'o': to = optarg; break;
        case 'c': count = atol(optarg); break;
        case 'k': closes = atol(optarg); break;
        case 't': secs = atol(optarg); break;
        default: return 2;
        }
    }
    if (!strcmp(cmd, "recv") && name)
        return do_recv(sock, name, count, closes, secs);
    if (!strcmp(cmd, "watch"))
        return do_watch(sock);
    if (!strcmp(cmd, "hold") && nn)
        return do_hold(sock, names, nn, to, again, secs);
    fprintf(stderr, "usage: msgr-dt recv -n NAME ... | watch ... | hold -n NAME...\n");
    return 2;
}
