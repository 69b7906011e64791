/*
 * test_udp.c — the UDP bearer over loopback: real sockets, real multicast.
 *
 * Proves:
 *  1. Multicast discovery: A sends to its discovery address (239.255.88.181, a per-test
 *     port); B receives it with A's unicast address as the source; A does not deliver
 *     its own looped-back copy (counted in drop_filtered).
 *  2. Unicast reply to that source address reaches A.
 *  3. 20,000 frames A -> B with sendmmsg batches (windowed so no socket buffer
 *     overflows): all arrive, in order, uncorrupted.
 *  4. Configured peers: a bearer without multicast (group=none, peer=B) sending to its
 *     discovery address reaches B by unicast.
 *  5. Limits: a frame over the MTU is refused (MB_ETOOBIG, counted); a datagram over the
 *     MTU sent by a plain socket is dropped as too long; a disabled bearer refuses to
 *     send and counts what it receives as dropped.
 *  6. IPv6 unicast over ::1.
 */
#include "tb.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

struct sink {
    long next;
    int bad;
    unsigned count;
    struct mb_addr last_src;
    uint8_t last[2048];
    size_t last_len;
};

static void rx(void *user, const uint8_t *f, size_t len, const struct mb_addr *src)
{
    struct sink *s = user;
    s->count++;
    s->last_src = *src;
    s->last_len = len < sizeof s->last ? len : sizeof s->last;
    memcpy(s->last, f, s->last_len);
    long seq = tb_check_frame(f, len);
    if (seq >= 0) {
        if (seq != s->next && s->bad++ < 5)
            fprintf(stderr, "udp: got seq %ld want %ld\n", seq, s->next);
        if (seq == s->next)
            s->next++;
    }
}

/* Pump both bearers until sink->count reaches want. */
static void wait_count(struct mb_bearer *a, struct mb_bearer *b, struct sink *s, unsigned want)
{
    int fds[2] = {mb_fd(a), mb_fd(b)};
    while (s->count < want) {
        int r = mb_on_readable(a, 256) + mb_on_readable(b, 256);
        if (r == 0 && s->count < want)
            tb_wait(fds, 2, 5000, "udp frames");
    }
}

int main(void)
{
    unsigned port = 20000 + (unsigned)getpid() % 30000;
    char cfg[256];
    snprintf(cfg, sizeof cfg, "bind=127.0.0.1:0,group=239.255.88.181:%u,mcast_if=127.0.0.1,loop=1",
             port);
    struct sink sa = {0}, sb = {0};
    struct mb_bearer *a, *b;
    TB_RC(mb_open_spec("udp:bind=127.0.0.1:0,group=none", rx, &sa, &a)); /* spec parsing */
    mb_close(a);
    TB_RC(mb_open(&mb_udp_ops, cfg, rx, &sa, &a));
    TB_RC(mb_open(&mb_udp_ops, cfg, rx, &sb, &b));
    struct mb_addr aself, bself, disc;
    mb_local_addr(a, &aself);
    mb_local_addr(b, &bself);
    mb_discovery_addr(a, &disc);
    char t1[64], t2[64];
    mb_addr_format(&mb_udp_ops, &aself, t1, sizeof t1);
    mb_addr_format(&mb_udp_ops, &disc, t2, sizeof t2);
    printf("udp: A=%s discovery=%s mtu=%zu\n", t1, t2, mb_mtu(a));
    TB_CHECK(aself.len == 6 && disc.len == 6 && mb_mtu(a) == 1472);

    /* 1. discovery by multicast */
    TB_RC(mb_send(a, (const uint8_t *)"DISCOVER", 8, &disc));
    wait_count(a, b, &sb, 1);
    TB_CHECK(mb_addr_eq(&sb.last_src, &aself) && sb.last_len == 8 && !memcmp(sb.last, "DISCOVER", 8));
    /* 2. unicast answer to the source */
    struct mb_addr reply_to = sb.last_src;
    TB_RC(mb_send(b, (const uint8_t *)"REPLY", 5, &reply_to));
    wait_count(a, b, &sa, 1);
    TB_CHECK(mb_addr_eq(&sa.last_src, &bself) && sa.count == 1);
    struct mb_stats st;
    mb_get_stats(a, &st);
    TB_CHECK(st.drop_filtered == 1); /* A's own multicast came back and was not delivered */

    /* 3. bulk, batched, windowed */
    const uint32_t n = 20000;
    static uint8_t buf[64][2048];
    uint32_t sent = 0;
    sb.count = 0;
    sb.next = 0;
    double t0 = tb_now();
    while (sent < n) {
        struct mb_txmsg v[64];
        unsigned k = 0;
        for (; k < 64 && sent + k < n; k++) {
            size_t len = tb_len(sent + k, mb_mtu(a));
            tb_frame(buf[k], len, sent + k);
            v[k] = (struct mb_txmsg){buf[k], len, &bself};
        }
        unsigned done = 0;
        while (done < k) {
            int rc = mb_send_batch(a, v + done, k - done);
            TB_CHECK(rc > 0);
            done += (unsigned)rc;
        }
        sent += k;
        wait_count(a, b, &sb, sent);
    }
    double dt = tb_now() - t0;
    TB_CHECK(sb.next == (long)n && sb.bad == 0);
    mb_get_stats(b, &st);
    printf("udp loopback: %u frames (avg %llu B) in %.3f s: %.0f frames/s, %.1f MB/s "
           "(windows of 64, one process)\n",
           n, (unsigned long long)(st.rx_bytes / st.rx_frames), dt, n / dt,
           (double)st.rx_bytes / dt / 1e6);

    /* 4. configured peers, no multicast */
    struct sink sc = {0};
    struct mb_bearer *c;
    char ccfg[128];
    mb_addr_format(&mb_udp_ops, &bself, t1, sizeof t1);
    snprintf(ccfg, sizeof ccfg, "bind=127.0.0.1:0,group=none,peer=%s", t1);
    TB_RC(mb_open(&mb_udp_ops, ccfg, rx, &sc, &c));
    mb_discovery_addr(c, &disc);
    sb.count = 0;
    TB_RC(mb_send(c, (const uint8_t *)"HELLO", 5, &disc));
    wait_count(c, b, &sb, 1);
    TB_CHECK(sb.last_len == 5 && !memcmp(sb.last, "HELLO", 5));
    mb_close(c);

    /* 5. limits */
    static uint8_t big[1600];
    TB_CHECK(mb_send(a, big, 1473, &bself) == MB_ETOOBIG);
    mb_get_stats(a, &st);
    TB_CHECK(st.tx_too_long == 1);
    int raw = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET};
    memcpy(&to.sin_addr, bself.b, 4);
    memcpy(&to.sin_port, bself.b + 4, 2);
    TB_CHECK(sendto(raw, big, 1600, 0, (struct sockaddr *)&to, sizeof to) == 1600);
    TB_CHECK(sendto(raw, "tail", 4, 0, (struct sockaddr *)&to, sizeof to) == 4);
    sb.count = 0;
    wait_count(a, b, &sb, 1);
    TB_CHECK(sb.last_len == 4);
    mb_get_stats(b, &st);
    TB_CHECK(st.drop_too_long == 1);
    TB_RC(mb_set_enabled(b, false));
    TB_CHECK(mb_send(b, big, 10, &aself) == MB_EDOWN);
    TB_CHECK(sendto(raw, "off", 3, 0, (struct sockaddr *)&to, sizeof to) == 3);
    int bfd = mb_fd(b);
    tb_wait(&bfd, 1, 5000, "frame while disabled");
    TB_CHECK(mb_on_readable(b, 16) == 0);
    mb_get_stats(b, &st);
    TB_CHECK(st.drop_disabled == 1 && st.tx_down == 1);
    TB_RC(mb_set_enabled(b, true));
    close(raw);
    tb_print_stats("udp A", a);
    tb_print_stats("udp B", b);
    mb_close(a);
    mb_close(b);

    /* 6. IPv6 unicast */
    struct sink s6 = {0};
    struct mb_bearer *x, *y;
    TB_RC(mb_open(&mb_udp_ops, "bind=[::1]:0,group=none", rx, &s6, &x));
    TB_RC(mb_open(&mb_udp_ops, "bind=[::1]:0,group=none", rx, &s6, &y));
    struct mb_addr yself;
    mb_local_addr(y, &yself);
    TB_CHECK(yself.len == 18 && mb_mtu(y) == 1452);
    TB_RC(mb_send(x, (const uint8_t *)"V6", 2, &yself));
    wait_count(x, y, &s6, 1);
    TB_CHECK(s6.last_len == 2 && s6.last_src.len == 18);
    mb_addr_format(&mb_udp_ops, &s6.last_src, t1, sizeof t1);
    printf("udp ipv6: got frame from %s\n", t1);
    mb_close(x);
    mb_close(y);
    printf("PASS udp\n");
    return 0;
}
