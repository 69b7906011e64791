/*
 * msgr-send — example sender: opens a path from its own device to a name (or, with -p,
 * to every device matching a pattern) and sends numbered messages that msgr-recv checks.
 *   msgr-send [-s SOCKET] [-d MYNAME] -o NAME [-p] [-m MEMBERS] [-c COUNT] [-z SIZE] [-t SECONDS]
 * Prints messages/s and MB/s when done.
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

int main(int argc, char **argv)
{
    const char *sock = NULL, *me = NULL, *to = NULL;
    long count = 1000, size = 64, secs = 60, members = 1;
    bool pattern = false;
    int o;
    while ((o = getopt(argc, argv, "s:d:o:pm:c:z:t:")) != -1) {
        switch (o) {
        case 's': sock = optarg; break;
        case 'd': me = optarg; break;
        case 'o': to = optarg; break;
        case 'p': pattern = true; break;
        case 'm': members = atol(optarg); break;
        case 'c': count = atol(optarg); break;
        case 'z': size = atol(optarg); break;
        case 't': secs = atol(optarg); break;
        default:
            fprintf(stderr, "usage: msgr-send [-s SOCKET] [-d MYNAME] -o NAME [-p] [-m MEMBERS] "
                            "[-c COUNT] [-z SIZE] [-t SECONDS]\n");
            return 2;
        }
    }
    if (!to || size < 8 || size > MSGR_MAX_MSG)
        return 2;
    msgr *m;
    int r = msgr_attach(sock, &m);
    if (r < 0) {
        fprintf(stderr, "msgr-send: attach: %s\n", msgr_strerror(r));
        return 1;
    }
    char myname[64];
    if (!me) {
        snprintf(myname, sizeof myname, "app/sender-%d", (int)getpid());
        me = myname;
    }
    uint32_t dev, path = 0;
    msgr_device_cfg cfg = {.name = me, .dtype = 2};
    if ((r = msgr_device_register(m, &cfg, &dev)) < 0) {
        fprintf(stderr, "msgr-send: register: %s\n", msgr_strerror(r));
        return 1;
    }
    /* The name may not have reached this node yet: retry until the deadline. */
    double end = now_s() + (double)secs;
    for (;;) {
        r = msgr_open_wait(m, dev, to, pattern ? MSGR_OPEN_PATTERN : MSGR_OPEN_NAME, &path, 5000);
        if (r == 0)
            break;
        if (path)
            msgr_path_close(m, path);
        path = 0;
        if (now_s() > end) {
            fprintf(stderr, "msgr-send: open %s: %s\n", to, msgr_strerror(r));
            return 1;
        }
        msgr_waitable w = {MSGR_W_EVENT, 0, false};
        msgr_wait(m, &w, 1, 100);
        msgr_event ev;
        while (msgr_next_event(m, &ev, 0) == 0)
            ;
    }
    if (pattern) {
        /* One-to-many: wait until every expected member is OPEN.  The member whose
         * opening made the group OPEN is still in the event queue (msgr_open_wait only
         * looks at states), so count distinct members: counting that event on top of
         * the group would start sending before the last member can receive. */
        long open = 0;
        uint32_t seen[64];
        msgr_event ev;
        while (open < members && now_s() < end) {
            if (msgr_next_event(m, &ev, 1000) != 0 || ev.type != MSGR_EV_PATH ||
                ev.group != path || ev.state != MSGR_PS_OPEN)
                continue;
            long k = 0;
            while (k < open && seen[k] != ev.path)
                k++;
            if (k == open && open < 64)
                seen[open++] = ev.path;
        }
        if (open < members) {
            fprintf(stderr, "msgr-send: only %ld of %ld members open\n", open, members);
            return 1;
        }
    }
    msgr_static_msg *sm = msgr_static_alloc(m, (size_t)size);
    uint8_t *p = msgr_static_data(sm);
    uint32_t node = msgr_node_id(m);
    double t0 = now_s();
    for (long i = 0; i < count; i++) {
        uint32_t seq = (uint32_t)i;
        memcpy(p, &seq, 4);
        memcpy(p + 4, &node, 4);
        for (long k = 8; k < size; k++)
            p[k] = (uint8_t)(seq + (uint32_t)k);
        r = msgr_static_send(m, path, sm, (size_t)size, (int)(secs * 1000));
        if (r < 0) {
            fprintf(stderr, "msgr-send: send %ld: %s\n", i, msgr_strerror(r));
            return 1;
        }
    }
    double dt = now_s() - t0;
    printf("OK sent %ld messages of %ld bytes in %.3f s: %.0f msg/s %.2f MB/s\n", count, size, dt,
           (double)count / dt, (double)count * (double)size / dt / 1e6);
    /* Let the last messages leave before the path closes with the connection. */
    msgr_path_close(m, path);
    msgr_event ev;
    while (msgr_path_state(m, path) == MSGR_PS_CLOSING && msgr_next_event(m, &ev, 2000) == 0)
        ;
    msgr_static_free(sm);
    msgr_close(m);
    return 0;
}
