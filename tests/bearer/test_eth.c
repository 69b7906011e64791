/*
 * test_eth.c — an Ethernet bearer (eth or eth-pcap) on a veth pair whose ends live in
 * two network namespaces (made by eth_netns.sh, which also cleans them up).
 *
 * usage: test_bearer_eth eth|eth-pcap NS_A IF_A NS_B IF_B CAPTURE_FILE
 *
 * One process opens bearer A inside NS_A and bearer B inside NS_B (a socket keeps the
 * namespace it was made in), then drives both.
 * Proves:
 *  1. Broadcast discovery A -> ff:ff:ff:ff:ff:ff reaches B, source = A's MAC.
 *  2. Unicast B -> A.
 *  3. 20,000 frames each way at the same time (batched, windowed): all arrive, in order,
 *     uncorrupted, Ethernet header stripped and nothing else.
 *  4. A garbage frame carrying our EtherType is delivered as is (the bearer does not
 *     parse; the layer above counts it) and counted as received.
 *  5. A frame with another EtherType, and one of ours sent to another MAC, are never
 *     delivered (the second is counted in drop_filtered by eth; eth-pcap's BPF filter
 *     drops it in the kernel).
 *  6. A frame over the MTU is refused with MB_ETOOBIG.
 *  7. The EN10MB capture attached to A holds exactly A's frames in and out.
 */
#include "tb.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

struct sink {
    long next;
    int bad;
    unsigned count;
    struct mb_addr last_src;
    uint8_t last[2048];
    size_t last_len;
    unsigned padded; /* frames that arrived padded to the Ethernet minimum */
};

static void rx(void *user, const uint8_t *f, size_t len, const struct mb_addr *src)
{
    struct sink *s = user;
    s->count++;
    /* A frame shorter than the Ethernet minimum arrives zero-padded to 46 octets
     * (MSG-ETH-3): the test frame's own length field (octets 4..7) says where it ends,
     * and everything after it must be zero. */
    if (len == 46) {
        uint32_t l = ((uint32_t)f[4] << 24) | ((uint32_t)f[5] << 16) | ((uint32_t)f[6] << 8) | f[7];
        if (l >= 8 && l < 46) {
            for (size_t i = l; i < len; i++)
                if (f[i] != 0 && s->bad++ < 5)
                    fprintf(stderr, "eth: padding octet %zu is %u\n", i, f[i]);
            len = l;
            s->padded++;
        }
    }
    s->last_src = *src;
    s->last_len = len < sizeof s->last ? len : sizeof s->last;
    memcpy(s->last, f, s->last_len);
    long seq = tb_check_frame(f, len);
    if (seq >= 0) {
        if (seq != s->next && s->bad++ < 5)
            fprintf(stderr, "eth: got seq %ld want %ld\n", seq, s->next);
        if (seq == s->next)
            s->next++;
    }
}

static void enter_ns(const char *ns)
{
    char path[256];
    snprintf(path, sizeof path, "/run/netns/%s", ns);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    TB_CHECK(fd >= 0);
    TB_CHECK(setns(fd, CLONE_NEWNET) == 0);
    close(fd);
}

static struct mb_bearer *g_a, *g_b;

static void wait_count(struct sink *s, unsigned want)
{
    int fds[2] = {mb_fd(g_a), mb_fd(g_b)};
    while (s->count < want) {
        int r = mb_on_readable(g_a, 256);
        TB_CHECK(r >= 0);
        int r2 = mb_on_readable(g_b, 256);
        TB_CHECK(r2 >= 0);
        if (r + r2 == 0 && s->count < want)
            tb_wait(fds, 2, 5000, "ethernet frames");
    }
}

/* A raw frame from NS_A's side: dst, ethertype, payload. */
static void inject(int raw, const uint8_t dst[6], const uint8_t src[6], uint16_t et,
                   const uint8_t *p, size_t n)
{
    uint8_t f[1600];
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = (uint8_t)(et >> 8);
    f[13] = (uint8_t)et;
    memcpy(f + 14, p, n);
    TB_CHECK(send(raw, f, 14 + n, 0) == (ssize_t)(14 + n));
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s eth|eth-pcap NS_A IF_A NS_B IF_B CAPTURE\n", argv[0]);
        return 2;
    }
    const struct mb_bearer_ops *ops = mb_ops_find(argv[1]);
    TB_CHECK(ops);
    bool pcap = strcmp(argv[1], "eth-pcap") == 0;
    char cfg[128];
    struct sink sa = {0}, sb = {0};
    struct mb_capture *cap;
    TB_RC(mb_capture_open(argv[6], MB_CAP_EN10MB, &cap));

    enter_ns(argv[2]);
    snprintf(cfg, sizeof cfg, pcap ? "ifname=%s,bufsize=4194304" : "ifname=%s,rcvbuf=4194304", argv[3]);
    TB_RC(mb_open(ops, cfg, rx, &sa, &g_a));
    int raw = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* send-only injector */
    TB_CHECK(raw >= 0);
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(argv[3])};
    TB_CHECK(bind(raw, (struct sockaddr *)&sll, sizeof sll) == 0);
    enter_ns(argv[4]);
    snprintf(cfg, sizeof cfg, pcap ? "ifname=%s,bufsize=4194304" : "ifname=%s,rcvbuf=4194304", argv[5]);
    TB_RC(mb_open(ops, cfg, rx, &sb, &g_b));
    TB_RC(mb_set_capture(g_a, cap, 1));

    struct mb_addr amac, bmac, bcast;
    mb_local_addr(g_a, &amac);
    mb_local_addr(g_b, &bmac);
    mb_discovery_addr(g_a, &bcast);
    TB_CHECK(amac.len == 6 && bmac.len == 6 && mb_mtu(g_a) == 1500);
    TB_CHECK(bcast.len == 6 && memcmp(bcast.b, "\xff\xff\xff\xff\xff\xff", 6) == 0);

    /* 1, 2 */
    TB_RC(mb_send(g_a, (const uint8_t *)"DISCOVER", 8, &bcast));
    wait_count(&sb, 1);
    TB_CHECK(mb_addr_eq(&sb.last_src, &amac) && sb.last_len >= 8 && !memcmp(sb.last, "DISCOVER", 8));
    TB_RC(mb_send(g_b, (const uint8_t *)"REPLY", 5, &sb.last_src));
    wait_count(&sa, 1);
    TB_CHECK(mb_addr_eq(&sa.last_src, &bmac) && !memcmp(sa.last, "REPLY", 5));

    /* 3 */
    const uint32_t n = 20000;
    static uint8_t fa[32][1500], fb[32][1500];
    uint32_t sent = 0;
    sa.count = sb.count = 0;
    double t0 = tb_now();
    while (sent < n) {
        struct mb_txmsg va[32], vb[32];
        unsigned k = 0;
        for (; k < 32 && sent + k < n; k++) {
            size_t len = tb_len(sent + k, 1500);
            tb_frame(fa[k], len, sent + k);
            tb_frame(fb[k], len, sent + k);
            va[k] = (struct mb_txmsg){fa[k], len, &bmac};
            vb[k] = (struct mb_txmsg){fb[k], len, &amac};
        }
        for (unsigned da = 0, db = 0; da < k || db < k;) {
            if (da < k) {
                int rc = mb_send_batch(g_a, va + da, k - da);
                TB_CHECK(rc > 0 || rc == MB_EAGAIN);
                da += rc > 0 ? (unsigned)rc : 0;
            }
            if (db < k) {
                int rc = mb_send_batch(g_b, vb + db, k - db);
                TB_CHECK(rc > 0 || rc == MB_EAGAIN);
                db += rc > 0 ? (unsigned)rc : 0;
            }
        }
        sent += k;
        wait_count(&sa, sent);
        wait_count(&sb, sent);
    }
    double dt = tb_now() - t0;
    TB_CHECK(sa.next == (long)n && sb.next == (long)n && sa.bad == 0 && sb.bad == 0);
    TB_CHECK(sa.padded > 0 && sb.padded > 0); /* short frames were sent (tb_len) and padded */
    struct mb_stats st;
    mb_get_stats(g_b, &st);
    printf("%s veth: %u frames each way (avg %llu B) in %.3f s: %.0f frames/s per direction, "
           "%.1f MB/s per direction (windows of 32, one process, capture on A)\n",
           argv[1], n, (unsigned long long)(st.rx_bytes / st.rx_frames), dt, n / dt,
           (double)st.rx_bytes / dt / 1e6);

    /* 4: garbage with our EtherType is delivered, byte for byte */
    uint8_t junk[60];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    sb.count = 0;
    inject(raw, bmac.b, amac.b, 0x88B5, junk, sizeof junk);
    wait_count(&sb, 1);
    TB_CHECK(sb.last_len == sizeof junk && memcmp(sb.last, junk, sizeof junk) == 0);

    /* 5: other EtherType, other host: never delivered.  The sentinel after them
     * arrives after them (a veth queue keeps order), so count == 1 proves it. */
    mb_get_stats(g_b, &st);
    uint64_t filtered0 = st.drop_filtered;
    static const uint8_t other[6] = {0x02, 0, 0, 0, 0, 0x99};
    sb.count = 0;
    inject(raw, bmac.b, amac.b, 0x88B6, junk, sizeof junk);
    inject(raw, other, amac.b, 0x88B5, junk, sizeof junk);
    inject(raw, bmac.b, amac.b, 0x88B5, (const uint8_t *)"SENTINEL", 8);
    wait_count(&sb, 1);
    TB_CHECK(sb.count == 1 && !memcmp(sb.last, "SENTINEL", 8));
    mb_get_stats(g_b, &st);
    if (!pcap)
        TB_CHECK(st.drop_filtered == filtered0 + 1);

    /* 6 */
    static uint8_t big[1501];
    TB_CHECK(mb_send(g_a, big, sizeof big, &bmac) == MB_ETOOBIG);

    tb_print_stats("A", g_a);
    tb_print_stats("B", g_b);
    struct mb_stats sta;
    mb_get_stats(g_a, &sta);
    TB_CHECK(sta.drop_os == 0 && st.drop_os == 0);
    mb_close(g_a);
    mb_close(g_b);
    close(raw);
    uint64_t recs = mb_capture_records(cap);
    mb_capture_close(cap);

    /* 7: read the capture back */
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[6], err);
    TB_CHECK(p);
    TB_CHECK(pcap_datalink(p) == DLT_EN10MB);
    struct pcap_pkthdr *h;
    const u_char *d;
    uint64_t count = 0;
    while (pcap_next_ex(p, &h, &d) == 1) {
        TB_CHECK(h->caplen >= 14 && d[12] == 0x88 && d[13] == 0xB5);
        count++;
    }
    pcap_close(p);
    TB_CHECK(count == recs && count == sta.tx_frames + sta.rx_frames);
    printf("capture: %llu EN10MB records = A's tx %llu + rx %llu\n", (unsigned long long)count,
           (unsigned long long)sta.tx_frames, (unsigned long long)sta.rx_frames);
    printf("PASS %s\n", argv[1]);
    return 0;
}
