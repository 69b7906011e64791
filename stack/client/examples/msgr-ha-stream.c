/*
 * msgr-ha-stream — a reliable stream across process recovery: a checkpointing receiver
 * (msgr_ha.h + msgr.h) and the sender that feeds it, for the IOP hot-swap test
 * (tests/ha/msgrd_iop_hotswap.py) and as the example of RFC 10.9 "checkpoints and path
 * positions" at application level.
 *
 *   msgr-ha-stream sink LOGFILE NAME            (started by msgrd's supervisor)
 *   msgr-ha-stream source [-s SOCKET] NAME LOGFILE [-i USEC]
 *
 * The sink publishes NAME and consumes messages carrying a sequence number (u64, from 1).
 * Each one it consumes is checkpointed (the next sequence number it expects) and only
 * counted once the store acknowledged it; one it has already consumed (seq < next) is
 * skipped.  Whoever opens a path to it first sends seq 0 ("where do I start?") and gets
 * back `next`: the source then sends from there.  So a restored sink (its checkpoint, on
 * another node after a failover) and the source agree on the boundary, and the source
 * re-sends whatever the old instance had not consumed: nothing is lost or consumed twice.
 * The source keeps no copies: its message n is a function of n.
 *
 * Sink log (one line per write, O_APPEND), in the format of msgr-ha-app:
 *   start pid=P restored=N|none restore_wanted=0|1   (N: the last sequence consumed)
 *   acked N            message N consumed, its checkpoint acknowledged
 *   resume N           a source asked: it sends from N
 *   gap expected=E got=G   a message was lost (never expected)
 *   quiesced after=N   on SIGTERM: the message in progress ends with its checkpoint
 *                      acknowledged, then exit 0
 * Source log: "resume N" per path opened, "lost N REASON" when a path ends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msgr/msgr.h"
#include "msgr/msgr_ha.h"

static int logfd = -1;
static volatile sig_atomic_t want_quiesce;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    char b[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (n > 0 && logfd >= 0)
        (void)!write(logfd, b, (size_t)n < sizeof b ? (size_t)n : sizeof b - 1);
}

static void on_term(int sig)
{
    (void)sig;
    want_quiesce = 1;
}

static void drain_events(msgr *m)
{
    msgr_event ev;
    while (msgr_next_event(m, &ev, 0) == 0)
        ;
}

static int sink(const char *name)
{
    signal(SIGTERM, on_term);
    msgr_ha *h;
    int r = msgr_ha_open(&h);
    if (r < 0) {
        fprintf(stderr, "msgr-ha-stream: %s\n", msgr_ha_strerror(r));
        return 1;
    }
    uint64_t next = 1; /* the checkpointed state: the next sequence number to consume */
    size_t n = 0;
    r = msgr_checkpoint_restore(h, &next, sizeof next, &n, 2000);
    if (r == 0 && n == sizeof next)
        logf_("start pid=%d restored=%llu restore_wanted=%d\n", (int)getpid(),
              (unsigned long long)(next - 1), msgr_ha_restore_wanted(h));
    else if (r == MSGR_HA_ENOENT)
        logf_("start pid=%d restored=none restore_wanted=%d\n", (int)getpid(),
              msgr_ha_restore_wanted(h));
    else {
        logf_("error restore: %s\n", msgr_ha_strerror(r));
        return 1;
    }
    if ((r = msgr_ha_register(h, 2000)) < 0)
        logf_("register: %s\n", msgr_ha_strerror(r));
    msgr *m;
    if ((r = msgr_attach(NULL, &m)) < 0) { /* $MSGR_SOCKET: the node it runs on */
        logf_("error attach: %s\n", msgr_strerror(r));
        return 1;
    }
    uint32_t dev;
    msgr_device_cfg cfg = {.name = name, .dtype = 1};
    if ((r = msgr_device_register(m, &cfg, &dev)) < 0) {
        logf_("error register %s: %s\n", name, msgr_strerror(r));
        return 1;
    }
    for (;;) {
        /* Quiesce: nothing new once told to stop, so the last acknowledged checkpoint is
         * the whole state and the next instance resumes exactly after it. */
        if (want_quiesce) {
            logf_("quiesced after=%llu\n", (unsigned long long)(next - 1));
            msgr_ha_close(h);
            msgr_close(m);
            return 0;
        }
        uint8_t buf[64];
        msgr_msg_info in;
        r = msgr_recv(m, 0, buf, sizeof buf, &in, 20); /* also paces heartbeat answers */
        (void)msgr_ha_poll(h, 0);
        drain_events(m);
        if (r == MSGR_ETIMEDOUT || (r < 0 && (want_quiesce || (r == MSGR_ESYS && errno == EINTR))))
            continue;
        if (r < 0) {
            logf_("error recv: %s\n", msgr_strerror(r));
            return 1;
        }
        if (r != 8)
            continue;
        uint64_t seq;
        memcpy(&seq, buf, 8);
        if (seq == 0) {
            r = msgr_send(m, in.path, &next, sizeof next, 1000);
            logf_("resume %llu%s\n", (unsigned long long)next, r < 0 ? " (not sent)" : "");
            continue;
        }
        if (seq < next)
            continue; /* consumed already (before a recovery): the state reflects it */
        if (seq > next)
            logf_("gap expected=%llu got=%llu\n", (unsigned long long)next, (unsigned long long)seq);
        uint64_t st = seq + 1;
        r = msgr_checkpoint_save(h, &st, sizeof st, 2000);
        if (r < 0) {
            logf_("error save: %s\n", msgr_ha_strerror(r));
            return 1;
        }
        next = st;
        logf_("acked %llu\n", (unsigned long long)seq);
    }
}

static int source(const char *sock, const char *name, long gap_us)
{
    msgr *m;
    int r = msgr_attach(sock, &m);
    if (r < 0) {
        fprintf(stderr, "msgr-ha-stream: attach: %s\n", msgr_strerror(r));
        return 1;
    }
    uint32_t dev;
    msgr_device_cfg cfg = {.name = "stream/source", .dtype = 1};
    if ((r = msgr_device_register(m, &cfg, &dev)) < 0) {
        fprintf(stderr, "msgr-ha-stream: register: %s\n", msgr_strerror(r));
        return 1;
    }
    for (;;) {
        uint32_t path = 0;
        r = msgr_open_wait(m, dev, name, MSGR_OPEN_NAME, &path, 2000);
        uint64_t seq = 0, next = 0;
        msgr_msg_info in;
        /* Where to start: the sink's checkpointed position. */
        if (r == 0 && (r = msgr_send(m, path, &seq, sizeof seq, 1000)) == 0)
            r = msgr_recv(m, path, &next, sizeof next, &in, 3000);
        if (r != (int)sizeof next) {
            if (path)
                msgr_path_close(m, path);
            msgr_waitable w = {MSGR_W_EVENT, 0, false};
            msgr_wait(m, &w, 1, 50); /* the name may not be there yet: a new one comes */
            drain_events(m);
            continue;
        }
        logf_("resume %llu\n", (unsigned long long)next);
        for (seq = next;;) {
            r = msgr_send(m, path, &seq, sizeof seq, 1000);
            if (r == MSGR_EAGAIN && msgr_path_state(m, path) == MSGR_PS_OPEN)
                continue; /* the sink is behind: flow control, not loss */
            if (r < 0)
                break;
            seq++;
            drain_events(m);
            if (gap_us > 0)
                usleep((useconds_t)gap_us);
        }
        logf_("lost %llu %s\n", (unsigned long long)seq, msgr_strerror(r));
        msgr_path_close(m, path);
        drain_events(m);
    }
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "sink")) {
        logfd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        return sink(argv[3]);
    }
    if (argc >= 4 && !strcmp(argv[1], "source")) {
        const char *sock = NULL;
        int a = 2;
        if (!strcmp(argv[a], "-s") && argc >= 6) {
            sock = argv[a + 1];
            a += 2;
        }
        if (argc - a < 2)
            goto usage;
        long gap_us = 1000;
        if (argc - a == 4 && !strcmp(argv[a + 2], "-i"))
            gap_us = atol(argv[a + 3]);
        else if (argc - a != 2)
            goto usage;
        logfd = open(argv[a + 1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        signal(SIGPIPE, SIG_IGN);
        return source(sock, argv[a], gap_us);
    }
usage:
    fprintf(stderr, "usage: msgr-ha-stream sink LOGFILE NAME\n"
                    "       msgr-ha-stream source [-s SOCKET] NAME LOGFILE [-i USEC]\n");
    return 2;
}
