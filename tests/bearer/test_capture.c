/*
 * test_capture.c — the capture writer, fed by real bearers, read back with libpcap.
 *
 * usage: test_bearer_capture DIR     (writes DIR/serial.pcap, DIR/udp.pcap; capture.sh
 *                                     then reads them with tshark)
 * Proves:
 *  1. A serial bearer over a pty with a USER0 capture: every frame in and out is one
 *     record; link type 147; pseudo-header = 'M', version 1, bearer SERIAL, cflags
 *     TX (outgoing only) | FCS, index as attached; the frame follows; then the CRC-32C
 *     (big-endian) of the frame.
 *  2. mb_capture_write with a PCIe media value writes the pseudo-header without FCS.
 *  3. A UDP bearer with an IPV4 capture writes IPv4+UDP records whose addresses and
 *     ports are the bearers' and whose payload is the frame.
 *  4. Attaching a capture of the wrong link type is refused.
 */
#include "tb.h"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <termios.h>
#include <unistd.h>

#include "mp/mp.h"

static unsigned g_rx;
static void rx(void *u, const uint8_t *f, size_t len, const struct mb_addr *src)
{
    (void)u;
    (void)f;
    (void)len;
    (void)src;
    g_rx++;
}

static void pump_until(struct mb_bearer *b, struct mb_bearer *b2, unsigned want)
{
    int fds[2] = {mb_fd(b), b2 ? mb_fd(b2) : -1};
    while (g_rx < want) {
        int r = mb_on_readable(b, 64) + (b2 ? mb_on_readable(b2, 64) : 0);
        if (!r && g_rx < want)
            tb_wait(fds, b2 ? 2 : 1, 5000, "frames");
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    char path[512], link[512], cfg[600];

    /* 1. serial + USER0 */
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    TB_CHECK(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0);
    snprintf(link, sizeof link, "%s/tty", argv[1]);
    TB_CHECK(symlink(ptsname(m), link) == 0);
    snprintf(cfg, sizeof cfg, "path=%s", link);
    struct mb_bearer *s;
    TB_RC(mb_open(&mb_serial_ops, cfg, rx, NULL, &s));
    struct mb_capture *cu, *ci;
    snprintf(path, sizeof path, "%s/serial.pcap", argv[1]);
    TB_RC(mb_capture_open(path, MB_CAP_USER0, &cu));
    TB_CHECK(mb_set_capture(s, cu, 7) == 0);
    uint8_t f[200], line[600];
    for (uint32_t i = 0; i < 5; i++) { /* 5 out */
        tb_frame(f, 20 + i, i);
        TB_RC(mb_send(s, f, 20 + i, NULL));
    }
    for (uint32_t i = 0; i < 5; i++) { /* 5 in, written to the line by "the far end" */
        tb_frame(f, 30 + i, 100 + i);
        int n = mp_serial_encode(f, 30 + i, line, sizeof line);
        TB_CHECK(n > 0 && write(m, line, (size_t)n) == n);
    }
    pump_until(s, NULL, 5);
    /* 2. a PCIe-shim record written directly */
    TB_RC(mb_capture_write(cu, (const uint8_t *)"PCIEFRAME", 9, MP_BEARER_PCIE, 0, 2, NULL));
    mb_close(s);
    TB_CHECK(mb_capture_records(cu) == 11);
    mb_capture_close(cu);
    close(m);
    unlink(link);

    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, err);
    TB_CHECK(p && pcap_datalink(p) == MP_PCAP_LINKTYPE);
    struct pcap_pkthdr *h;
    const u_char *d;
    unsigned k = 0;
    while (pcap_next_ex(p, &h, &d) == 1) {
        mp_caphdr ch;
        TB_CHECK(mp_caphdr_decode(d, h->caplen, &ch) >= 0);
        TB_CHECK(d[0] == MP_CAPHDR_MAGIC && d[1] == MP_CAPHDR_VERSION);
        if (k < 10) {
            TB_CHECK(ch.bearer == MP_BEARER_SERIAL && ch.bearer_index == 7);
            TB_CHECK(ch.cflags == (MP_CAPF_FCS | (k < 5 ? MP_CAPF_TX : 0)));
            size_t flen = h->caplen - MP_CAPHDR_LEN - MP_SERIAL_CRC_LEN;
            TB_CHECK(flen == (k < 5 ? 20 + k : 30 + k - 5));
            TB_CHECK(tb_check_frame(d + MP_CAPHDR_LEN, flen) == (k < 5 ? (long)k : (long)(100 + k - 5)));
            TB_CHECK(mp_get32(d + MP_CAPHDR_LEN + flen) == mp_crc32c(0, d + MP_CAPHDR_LEN, flen));
        } else {
            TB_CHECK(ch.bearer == MP_BEARER_PCIE && ch.cflags == 0 && ch.bearer_index == 2);
            TB_CHECK(h->caplen == MP_CAPHDR_LEN + 9 && !memcmp(d + MP_CAPHDR_LEN, "PCIEFRAME", 9));
        }
        k++;
    }
    TB_CHECK(k == 11);
    pcap_close(p);

    /* 3. udp + IPV4 */
    struct mb_bearer *a, *b;
    TB_RC(mb_open(&mb_udp_ops, "bind=127.0.0.1:0,group=none", rx, NULL, &a));
    TB_RC(mb_open(&mb_udp_ops, "bind=127.0.0.1:0,group=none", rx, NULL, &b));
    snprintf(path, sizeof path, "%s/udp.pcap", argv[1]);
    TB_RC(mb_capture_open(path, MB_CAP_IPV4, &ci));
    /* 4. wrong link type refused */
    TB_CHECK(mb_set_capture(b, NULL, 0) == 0);
    struct mb_capture *wrong;
    char wpath[600];
    snprintf(wpath, sizeof wpath, "%s/wrong.pcap", argv[1]);
    TB_RC(mb_capture_open(wpath, MB_CAP_EN10MB, &wrong));
    TB_CHECK(mb_set_capture(a, wrong, 0) == MB_EINVAL);
    mb_capture_close(wrong);
    TB_RC(mb_set_capture(a, ci, 0));
    struct mb_addr baddr, aaddr;
    mb_local_addr(b, &baddr);
    mb_local_addr(a, &aaddr);
    g_rx = 0;
    TB_RC(mb_send(a, (const uint8_t *)"\x10\x00\x00\x14hello-udp-capture", 21, &baddr));
    pump_until(b, NULL, 1);
    TB_RC(mb_send(b, (const uint8_t *)"back", 4, &aaddr));
    pump_until(a, NULL, 2);
    mb_close(a);
    mb_close(b);
    TB_CHECK(mb_capture_records(ci) == 2);
    mb_capture_close(ci);
    p = pcap_open_offline(path, err);
    TB_CHECK(p && pcap_datalink(p) == DLT_IPV4);
    TB_CHECK(pcap_next_ex(p, &h, &d) == 1);
    TB_CHECK(h->caplen == 28 + 21 && d[0] == 0x45 && d[9] == 17);
    TB_CHECK(!memcmp(d + 12, aaddr.b, 4) && !memcmp(d + 16, baddr.b, 4));
    TB_CHECK(!memcmp(d + 20, aaddr.b + 4, 2) && !memcmp(d + 22, baddr.b + 4, 2));
    TB_CHECK(!memcmp(d + 28, "\x10\x00\x00\x14hello", 9));
    TB_CHECK(pcap_next_ex(p, &h, &d) == 1); /* b's reply, captured by a on receipt */
    TB_CHECK(h->caplen == 28 + 4 && !memcmp(d + 12, baddr.b, 4) && !memcmp(d + 28, "back", 4));
    TB_CHECK(pcap_next_ex(p, &h, &d) != 1);
    pcap_close(p);
    printf("PASS capture\n");
    return 0;
}
