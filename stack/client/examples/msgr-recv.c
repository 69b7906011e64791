/*
 * msgr-recv — example receiver: registers a named device and receives messages from
 * msgr-send, checking content and per-sender order.  Exits 0 when `count` messages
 * arrived intact and in order.
 *   msgr-recv [-s SOCKET] -n NAME [-c COUNT] [-t SECONDS]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msgr/msgr.h"

int main(int argc, char **argv)
{
    const char *sock = NULL, *name = NULL;
    long count = 1000, secs = 60;
    int o;
    while ((o = getopt(argc, argv, "s:n:c:t:")) != -1) {
        switch (o) {
        case 's': sock = optarg; break;
        case 'n': name = optarg; break;
        case 'c': count = atol(optarg); break;
        case 't': secs = atol(optarg); break;
        default: fprintf(stderr, "usage: msgr-recv [-s SOCKET] -n NAME [-c COUNT] [-t SECONDS]\n"); return 2;
        }
    }
    if (!name)
        return 2;
    msgr *m;
    int r = msgr_attach(sock, &m);
    if (r < 0) {
        fprintf(stderr, "msgr-recv: attach: %s\n", msgr_strerror(r));
        return 1;
    }
    uint32_t dev;
    msgr_prop prop = {"role", "receiver"};
    msgr_device_cfg cfg = {.name = name, .dtype = 1, .props = &prop, .nprops = 1};
    if ((r = msgr_device_register(m, &cfg, &dev)) < 0) {
        fprintf(stderr, "msgr-recv: register %s: %s\n", name, msgr_strerror(r));
        return 1;
    }
    printf("READY %s device %u on node %u\n", name, dev, msgr_node_id(m));
    fflush(stdout);
    /* Per sender node: next expected sequence number. */
    uint32_t nodes[64] = {0}, next[64] = {0};
    int nn = 0;
    long got = 0, bad = 0;
    static uint8_t buf[MSGR_MAX_MSG];
    while (got < count) {
        msgr_msg_info in;
        r = msgr_recv(m, 0, buf, sizeof buf, &in, (int)(secs * 1000));
        if (r < 0) {
            fprintf(stderr, "msgr-recv: %s after %ld messages\n", msgr_strerror(r), got);
            break;
        }
        uint32_t seq, from;
        if (r < 8) {
            bad++;
            continue;
        }
        memcpy(&seq, buf, 4);
        memcpy(&from, buf + 4, 4);
        int k = 0;
        while (k < nn && nodes[k] != from)
            k++;
        if (k == nn && nn < 64)
            nodes[nn++] = from;
        if (k < 64) {
            if (seq != next[k])
                bad++;
            next[k] = seq + 1;
        }
        for (int i = 8; i < r; i++)
            if (buf[i] != (uint8_t)(seq + (uint32_t)i))
                bad++;
        got++;
    }
    printf("%s received %ld messages from %d sender(s), %ld bad\n", bad || got < count ? "FAIL" : "OK",
           got, nn, bad);
    msgr_close(m);
    return bad || got < count ? 1 : 0;
}
