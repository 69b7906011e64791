/*
 * test_client.c — libmsgr's API, in embedded mode: two in-process nodes joined by UDP on
 * loopback.  Covers: register with properties, publish/withdraw (name events), open by
 * name (msgr_open_wait), one-to-many by pattern, manual accept (request event),
 * scatter-gather send, receive into a caller buffer with truncation, static messages,
 * the waitable list (readable, writable, device, event) with timeouts, msgr_fd, path
 * and peer status events, msgr_strerror.  Both nodes run in this one thread, so every
 * wait turns both (spin()).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "msgr/msgr.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); exit(1); } } while (0)

static msgr *A, *B;

/* Turn both nodes until pred() or ~30 s of turns (bounded, generous). */
static void spin(int (*pred)(void *), void *u, const char *what)
{
    for (int i = 0; i < 30000; i++) {
        if (pred(u))
            return;
        struct pollfd p[2] = {{msgr_fd(A), POLLIN, 0}, {msgr_fd(B), POLLIN, 0}};
        poll(p, 2, 1);
        msgr_wait(A, NULL, 0, 0);
        msgr_wait(B, NULL, 0, 0);
    }
    fprintf(stderr, "timeout: %s\n", what);
    exit(1);
}

static msgr_event last_b;
static int b_event_type(void *u)
{
    int want = *(int *)u;
    while (msgr_next_event(B, &last_b, 0) == 0)
        if (last_b.type == want)
            return 1;
    return 0;
}
static int a_peer_up(void *u) { (void)u; msgr_event e; while (msgr_next_event(A, &e, 0) == 0) if (e.type == MSGR_EV_PEER && e.up) return 1; return 0; }
static uint32_t g_path;
static int a_path_open(void *u) { (void)u; return msgr_path_state(A, g_path) == MSGR_PS_OPEN; }
static msgr_waitable *g_w; static size_t g_nw; static msgr *g_m;
static int waitable_ready(void *u) { (void)u; return msgr_wait(g_m, g_w, g_nw, 0) > 0; }

/* A port the kernel just chose as free.  Tests run in parallel, so no fixed or pid-derived
 * port: an embedded node does not report its bound port, so ask the kernel for one; its
 * port-0 choice is random over the ephemeral range, so the window until the node binds
 * it is harmless. */
static void free_udp_ports(int *port, int n)
{
    int fd[2] = {-1, -1};
    for (int i = 0; i < n && i < 2; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof a;
        port[i] = -1;
        fd[i] = socket(AF_INET, SOCK_DGRAM, 0);
        if (fd[i] >= 0 && bind(fd[i], (struct sockaddr *)&a, sizeof a) == 0 &&
            getsockname(fd[i], (struct sockaddr *)&a, &l) == 0)
            port[i] = ntohs(a.sin_port);
    }
    for (int i = 0; i < 2; i++) /* both held until both are chosen: never the same */
        if (fd[i] >= 0)
            close(fd[i]);
}

int main(void)
{
    CHECK(strcmp(msgr_strerror(MSGR_ENOENT), "no such name, device or path") == 0);
    int port[2];
    free_udp_ports(port, 2);
    int pa = port[0], pb = port[1];
    CHECK(pa > 0 && pb > 0);
    char sa[128], sb[128];
    snprintf(sa, sizeof sa, "udp:bind=127.0.0.1:%d,group=none,peer=127.0.0.1:%d", pa, pb);
    snprintf(sb, sizeof sb, "udp:bind=127.0.0.1:%d,group=none,peer=127.0.0.1:%d", pb, pa);
    const char *ba[] = {sa}, *bb[] = {sb};
    CHECK(msgr_embedded_create(1, 5, ba, 1, &A) == 0);
    CHECK(msgr_embedded_create(2, 5, bb, 1, &B) == 0);
    CHECK(msgr_node_id(A) == 1 && msgr_node_id(B) == 2 && msgr_fd(A) >= 0);
    CHECK(msgr_subscribe(A, true, true) == 0 && msgr_subscribe(B, true, true) == 0);
    spin(a_peer_up, NULL, "peer up");

    /* Devices on B: svc/one (auto accept), grp/x and grp/y (pattern targets), man/z
     * (manual accept).  A's own device. */
    uint32_t d1, gx, gy, mz, da;
    msgr_prop props[2] = {{"vendor", "acme"}, {"slot", "3"}};
    msgr_device_cfg c = {.name = "svc/one", .dtype = 7, .props = props, .nprops = 2};
    CHECK(msgr_device_register(B, &c, &d1) == 0);
    c = (msgr_device_cfg){.name = "bad//name"};
    CHECK(msgr_device_register(B, &c, &gx) == MSGR_EINVAL);
    c = (msgr_device_cfg){.name = "grp/x"};
    CHECK(msgr_device_register(B, &c, &gx) == 0);
    c.name = "grp/y";
    CHECK(msgr_device_register(B, &c, &gy) == 0);
    c = (msgr_device_cfg){.name = "man/z", .manual_accept = true, .no_publish = true};
    CHECK(msgr_device_register(B, &c, &mz) == 0);
    CHECK(msgr_publish(B, mz) == 0);
    c = (msgr_device_cfg){.name = "app/a"};
    CHECK(msgr_device_register(A, &c, &da) == 0);
    CHECK(msgr_open(A, da, "no/such", MSGR_OPEN_NAME, &g_path) == MSGR_ENOENT);

    /* Name events reach A; open by name once svc/one is known. */
    for (int i = 0; i < 30000; i++) {
        int r = msgr_open(A, da, "svc/one", MSGR_OPEN_NAME, &g_path);
        if (r == 0)
            break;
        CHECK(r == MSGR_ENOENT);
        msgr_wait(B, NULL, 0, 0);
        msgr_wait(A, NULL, 0, 1);
    }
    spin(a_path_open, NULL, "path open");

    /* Waitable list: writable on A's path; nothing readable on B within 0 ms. */
    msgr_waitable wa[2] = {{MSGR_W_WRITABLE, g_path, false}, {MSGR_W_READABLE, 0, false}};
    CHECK(msgr_wait(A, wa, 2, 0) == 1 && wa[0].ready && !wa[1].ready);
    msgr_waitable wb[3] = {{MSGR_W_READABLE, 0, false}, {MSGR_W_DEVICE, d1, false}, {MSGR_W_DEVICE, gx, false}};
    CHECK(msgr_wait(B, wb, 3, 0) == 0);

    /* Scatter-gather: three pieces arrive as one message. */
    struct iovec v[3] = {{"hel", 3}, {"lo ", 3}, {"world", 5}};
    CHECK(msgr_sendv(A, g_path, v, 3, 1000) == 0);
    g_w = wb; g_nw = 3; g_m = B;
    spin(waitable_ready, NULL, "readable");
    CHECK(wb[0].ready && wb[1].ready && !wb[2].ready);
    char buf[64];
    msgr_msg_info in;
    int n = msgr_recv(B, 0, buf, sizeof buf, &in, 0);
    CHECK(n == 11 && memcmp(buf, "hello world", 11) == 0 && in.device == d1 && in.peer_node == 1);
    /* Truncation: the message is consumed and its length reported. */
    CHECK(msgr_send(A, g_path, "0123456789", 10, 1000) == 0);
    spin(waitable_ready, NULL, "readable 2");
    CHECK(msgr_recv(B, 0, buf, 4, &in, 0) == MSGR_ETRUNC && in.len == 10 && memcmp(buf, "0123", 4) == 0);
    CHECK(msgr_recv(B, 0, buf, sizeof buf, &in, 10) == MSGR_ETIMEDOUT);

    /* Static messages: one allocation, 2,000 sends, in order. */
    msgr_static_msg *sm = msgr_static_alloc(A, 128);
    CHECK(sm && msgr_static_capacity(sm) == 128);
    uint32_t rx = 0;
    for (uint32_t i = 0; i < 2000; i++) {
        memcpy(msgr_static_data(sm), &i, 4);
        int r;
        while ((r = msgr_static_send(A, g_path, sm, 128, 0)) == MSGR_EAGAIN) {
            msgr_wait(B, NULL, 0, 0);
            while (msgr_recv(B, 0, buf, sizeof buf, &in, 0) == MSGR_ETRUNC) {
                uint32_t x;
                memcpy(&x, buf, 4);
                CHECK(x == rx);
                rx++;
            }
            msgr_wait(A, NULL, 0, 1);
        }
        CHECK(r == 0);
    }
    while (rx < 2000) {
        msgr_wait(A, NULL, 0, 0);
        int r = msgr_recv(B, 0, buf, sizeof buf, &in, 1);
        if (r == MSGR_ETRUNC) {
            uint32_t x;
            memcpy(&x, buf, 4);
            CHECK(x == rx);
            rx++;
        } else {
            CHECK(r == MSGR_ETIMEDOUT);
        }
    }
    msgr_static_free(sm);

    /* One-to-many by pattern: grp/x and grp/y each get the message once. */
    uint32_t grp;
    CHECK(msgr_open(A, da, "grp/*", MSGR_OPEN_PATTERN, &grp) == 0);
    g_path = grp;
    spin(a_path_open, NULL, "group open");
    /* Wait for the second member too: send until both devices have one. */
    msgr_waitable wg[2] = {{MSGR_W_DEVICE, gx, false}, {MSGR_W_DEVICE, gy, false}};
    for (int i = 0; i < 30000 && !(wg[0].ready && wg[1].ready); i++) {
        msgr_wait(A, NULL, 0, 1);
        msgr_wait(B, wg, 2, 0);
        if (i == 500)
            CHECK(msgr_send(A, grp, "fanout", 6, 1000) == 0);
    }
    CHECK(wg[0].ready && wg[1].ready);
    CHECK(msgr_recv(B, 0, buf, sizeof buf, &in, 0) == 6);
    CHECK(msgr_recv(B, 0, buf, sizeof buf, &in, 0) == 6);

    /* Manual accept: B sees a request event and accepts; A's path opens. */
    uint32_t mp;
    CHECK(msgr_open(A, da, "man/z", MSGR_OPEN_NAME, &mp) == 0);
    int want = MSGR_EV_REQUEST;
    spin(b_event_type, &want, "request");
    CHECK(last_b.device == mz && last_b.peer_node == 1);
    CHECK(msgr_accept(B, last_b.path) == 0);
    g_path = mp;
    spin(a_path_open, NULL, "manual path open");

    /* Withdraw: A hears the name vanish. */
    CHECK(msgr_withdraw(B, d1) == 0);
    CHECK(msgr_withdraw(B, 999) == MSGR_ENOENT);
    int found = 0;
    for (int i = 0; i < 30000 && !found; i++) {
        msgr_event e;
        msgr_wait(B, NULL, 0, 0);
        while (msgr_next_event(A, &e, 1) == 0)
            if (e.type == MSGR_EV_NAME && !e.up && strcmp(e.name, "svc/one") == 0)
                found = 1;
    }
    CHECK(found);

    /* B goes away: A's paths break (status events) and the peer is reported down. */
    msgr_close(B);
    B = A; /* spin() turns A only from here */
    int down = 0, broken = 0;
    for (int i = 0; i < 60 && !(down && broken); i++) {
        msgr_event e;
        if (msgr_next_event(A, &e, 500) == 0) {
            down |= e.type == MSGR_EV_PEER && !e.up;
            broken |= e.type == MSGR_EV_PATH && e.state == MSGR_PS_BROKEN;
        }
    }
    CHECK(down && broken);
    msgr_close(A);
    printf("client api ok\n");
    return 0;
}
