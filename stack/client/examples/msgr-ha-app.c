/*
 * msgr-ha-app — a supervised application for the msgrd HA test (tests/ha/msgrd_ha.py) and the
 * example of msgr_ha.h: it restores its counter from its checkpoint, registers with the
 * FTM, then counts, saving every step, and answers heartbeats in between.
 *
 * It logs to LOGFILE (one line per write, O_APPEND):
 *   start pid=P restored=N|none restore_wanted=0|1
 *   acked N            a checkpoint holding counter N was acknowledged
 *   exit status=3 after=N   (on SIGUSR1: it saves, then exits with status 3)
 *   quiesced after=N        (on SIGTERM: the step in progress ends with its checkpoint
 *                           acknowledged, then it exits with status 0; msgrd stops what it
 *                           supervises this way, e.g. for a planned IOP extraction)
 *
 * usage: msgr-ha-app LOGFILE
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
#include <time.h>
#include <unistd.h>

#include "msgr/msgr_ha.h"

static int logfd = -1;
static volatile sig_atomic_t want_exit, want_quiesce;

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

static void on_usr1(int sig)
{
    (void)sig;
    want_exit = 1;
}

static void on_term(int sig)
{
    (void)sig;
    want_quiesce = 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: msgr-ha-app LOGFILE\n");
        return 2;
    }
    logfd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    signal(SIGUSR1, on_usr1);
    signal(SIGTERM, on_term);
    msgr_ha *h;
    int r = msgr_ha_open(&h);
    if (r < 0) {
        fprintf(stderr, "msgr-ha-app: %s\n", msgr_ha_strerror(r));
        return 1;
    }
    uint64_t counter = 0;
    size_t n = 0;
    r = msgr_checkpoint_restore(h, &counter, sizeof counter, &n, 2000);
    if (r == 0 && n == sizeof counter)
        logf_("start pid=%d restored=%llu restore_wanted=%d\n", (int)getpid(),
              (unsigned long long)counter, msgr_ha_restore_wanted(h));
    else if (r == MSGR_HA_ENOENT)
        logf_("start pid=%d restored=none restore_wanted=%d\n", (int)getpid(),
              msgr_ha_restore_wanted(h));
    else {
        logf_("error restore: %s\n", msgr_ha_strerror(r));
        return 1;
    }
    /* Unanswered (the FTM's node unreachable): carry on; the supervisor registered this
     * process on its behalf, and serving beats exiting for want of a reply. */
    r = msgr_ha_register(h, 2000);
    if (r < 0)
        logf_("register: %s\n", msgr_ha_strerror(r));
    for (;;) {
        /* the application's work: one step, checkpointed; heartbeats served meanwhile */
        counter++;
        r = msgr_checkpoint_save(h, &counter, sizeof counter, 2000);
        if (r < 0) {
            logf_("error save: %s\n", msgr_ha_strerror(r));
            return 1;
        }
        logf_("acked %llu\n", (unsigned long long)counter);
        /* Quiesce: no new step once told to stop, so the last acknowledged checkpoint is
         * the whole state and whoever restores it next continues without a gap. */
        if (want_quiesce) {
            logf_("quiesced after=%llu\n", (unsigned long long)counter);
            msgr_ha_close(h);
            return 0;
        }
        if (want_exit) {
            logf_("exit status=3 after=%llu\n", (unsigned long long)counter);
            msgr_ha_close(h); /* "leaving": the supervisor stops heartbeating us */
            return 3;
        }
        r = msgr_ha_poll(h, 20); /* also paces the steps: about 50 saves a second */
        if (r < 0) {
            logf_("error poll: %s\n", msgr_ha_strerror(r));
            return 1;
        }
    }
}
