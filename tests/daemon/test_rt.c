/*
 * test_rt.c — two runtimes in one process over UDP on loopback: links come up, a name
 * published on one is seen on the other, a path opens by that name and 5,000 messages
 * arrive in order with their content.  Waits are bounded by generous deadlines on
 * real readiness (the runtime's fd), never by sleeps.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "naming.h"
#include "rt.h"

#define CHECK(c)                                                                     \
    do {                                                                             \
        if (!(c)) {                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);    \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

typedef struct side {
    mrt *rt;
    int peers_up;
    int names;
    uint32_t path;
    int path_open;
    uint32_t rx, rx_bad;
    uint32_t consume;
} side;

static void on_ev(void *user, const mc_event *ev)
{
    side *s = user;
    switch (ev->type) {
    case MC_EV_PEER_UP: s->peers_up++; break;
    case MC_EV_PEER_DOWN: s->peers_up--; break;
    case MC_EV_NAME: s->names++; break;
    case MC_EV_PATH_STATE:
        if (ev->path_state == 3)
            s->path_open = 1;
        s->path = ev->path;
        break;
    case MC_EV_PATH_MSG: {
        uint32_t v;
        if (ev->len != 64)
            s->rx_bad++;
        memcpy(&v, ev->data, 4);
        if (v != s->rx)
            s->rx_bad++;
        s->rx++;
        s->path = ev->path;
        s->consume++;
        break;
    }
    default: break;
    }
}

static void spin(side *a, side *b, int (*done)(side *, side *), const char *what)
{
    uint64_t end = mrt_now() + 20ull * 1000000000ull;
    while (!done(a, b)) {
        if (mrt_now() > end) {
            fprintf(stderr, "timeout waiting for %s\n", what);
            exit(1);
        }
        struct pollfd p[2] = {{mrt_fd(a->rt), POLLIN, 0}, {mrt_fd(b->rt), POLLIN, 0}};
        poll(p, 2, 100);
        mrt_run_once(a->rt, 0);
        mrt_run_once(b->rt, 0);
        for (side *s = a; s; s = s == a ? b : NULL)
            if (s->consume) {
                mc_path_consume(mrt_node(s->rt), s->path, s->consume, mrt_now());
                s->consume = 0;
                mrt_flush(s->rt);
            }
    }
}

static int both_up(side *a, side *b) { return a->peers_up == 1 && b->peers_up == 1; }
static int b_has_name(side *a, side *b) { (void)a; return b->names > 0; }
static int a_open(side *a, side *b) { (void)b; return a->path_open; }

int main(void)
{
    /* No fixed port (tests run in parallel): A binds port 0, B is told the port the
     * kernel chose and A learns B's address from B's discovery. */
    const char *sa = "udp:bind=127.0.0.1:0,group=none,tolerance=1000";
    char sb[128];
    side A = {0}, B = {0};
    mrt_config c = {.node_id = 1, .domain = 7, .event = on_ev, .user = &A};
    CHECK(mrt_create(&c, &A.rt) == 0);
    c.node_id = 2;
    c.user = &B;
    CHECK(mrt_create(&c, &B.rt) == 0);
    CHECK(mrt_add_bearer(A.rt, "udp:bind=127.0.0.1:1,prio=99") == MRT_ESPEC);
    CHECK(mrt_add_bearer(A.rt, "nosuch:x=1") < 0);
    int ida = mrt_add_bearer(A.rt, sa);
    CHECK(ida >= 0);
    mrt_bearer_info bi;
    CHECK(mrt_bearer_get(A.rt, ida, &bi) == 0);
    char la[64];
    mb_addr_format(mb_ops(bi.mb), &bi.local, la, sizeof la);
    CHECK(strncmp(la, "127.0.0.1:", 10) == 0 && atoi(la + 10) > 0);
    snprintf(sb, sizeof sb, "udp:bind=127.0.0.1:0,group=none,peer=%s", la);
    CHECK(mrt_add_bearer(B.rt, sb) >= 0);
    spin(&A, &B, both_up, "links");

    mp_name_rec rec;
    memset(&rec, 0, sizeof rec);
    rec.device_id = 10;
    rec.name.ptr = (const uint8_t *)"svc/echo";
    rec.name.len = 8;
    CHECK(mc_path_device_add(mrt_node(B.rt), 10, MC_DEV_AUTO_ACCEPT) == 0);
    CHECK(mc_publish(mrt_node(B.rt), &rec, mrt_now()) == 0);
    mrt_flush(B.rt);
    /* A learns the name (B publishes; A's table gets it). */
    spin(&B, &A, b_has_name, "name");
    const mn_entry *e = mn_lookup(mc_names(mrt_node(A.rt)), (const uint8_t *)"svc/echo", 8);
    CHECK(e && e->node_id == 2 && e->device_id == 10);
    CHECK(mc_path_device_add(mrt_node(A.rt), 1, 0) == 0);
    uint32_t path;
    CHECK(mc_path_open(mrt_node(A.rt), 1, e->node_id, e->device_id, mrt_now(), &path) == 0);
    mrt_flush(A.rt);
    spin(&A, &B, a_open, "path open");
    uint32_t sent = 0;
    uint64_t end = mrt_now() + 60ull * 1000000000ull;
    while (B.rx < 5000) {
        CHECK(mrt_now() < end);
        while (sent < 5000) {
            uint8_t msg[64];
            memset(msg, (int)sent, sizeof msg);
            memcpy(msg, &sent, 4);
            int r = mc_path_send(mrt_node(A.rt), path, msg, sizeof msg, mrt_now());
            if (r == MC_EAGAIN)
                break;
            CHECK(r == 0);
            sent++;
        }
        mrt_flush(A.rt);
        struct pollfd p[2] = {{mrt_fd(A.rt), POLLIN, 0}, {mrt_fd(B.rt), POLLIN, 0}};
        poll(p, 2, 100);
        mrt_run_once(A.rt, 0);
        mrt_run_once(B.rt, 0);
        if (B.consume) {
            mc_path_consume(mrt_node(B.rt), B.path, B.consume, mrt_now());
            B.consume = 0;
            mrt_flush(B.rt);
        }
    }
    CHECK(B.rx == 5000 && B.rx_bad == 0);
    CHECK(mrt_bearer_get(A.rt, 0, &bi) == 0 && strcmp(bi.type, "udp") == 0 && bi.stats.tx_frames > 0);
    CHECK(mrt_remove_bearer(A.rt, 0) == 0);
    CHECK(mrt_remove_bearer(A.rt, 0) == MRT_ENOBEARER);
    mrt_destroy(A.rt);
    mrt_destroy(B.rt);
    printf("rt: 5000 messages over udp ok\n");
    return 0;
}
