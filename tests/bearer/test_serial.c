/*
 * test_serial.c — the serial bearer over a real pty pair (posix_openpt).
 *
 * The bearer opens the pty's slave through a symlink (as with socat's link=); the test
 * plays the far end of the line on the master with the codec's own framing.
 *
 * Proves:
 *  1. line -> bearer: 3000 frames written with random noise bursts between them (burst
 *     bytes may be flags or escapes, never an escape right before the next frame's
 *     flag) all arrive, in order, uncorrupted; the noise is counted (CRC, framing,
 *     runt or overrun counters), at least once per burst that holds no flag/escape.
 *  2. bearer -> line: 3000 frames sent (through the transmit queue when the pty is
 *     full) are de-framed by the test, in order, CRC good.
 *  3. The master closes (line gone): the bearer drops its carrier, sends fail with
 *     MB_EDOWN; a new pty appears behind the same symlink; the bearer re-opens it by
 *     itself (reopens == 1) and frames flow both ways again.
 *  4. mb_reopen() forces a re-open (reopens == 2) without losing later frames.
 */
#include "tb.h"

#include <errno.h>
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include "mp/mp.h"

static long g_next;
static int g_bad;

static void rx(void *user, const uint8_t *f, size_t len, const struct mb_addr *src)
{
    (void)user;
    TB_CHECK(src && src->len == 0);
    long seq = tb_check_frame(f, len);
    if (seq != g_next && g_bad++ < 5)
        fprintf(stderr, "bearer got seq %ld len %zu, want %ld\n", seq, len, g_next);
    if (seq == g_next)
        g_next++;
}

static char g_link[256];

/* New pty; the symlink g_link points at its slave.  Returns the master fd. */
static int new_pty(void)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    TB_CHECK(m >= 0);
    TB_CHECK(grantpt(m) == 0 && unlockpt(m) == 0);
    /* The master's own termios matter only for what we read: raw, no echo. */
    struct termios t;
    TB_CHECK(tcgetattr(m, &t) == 0);
    cfmakeraw(&t);
    TB_CHECK(tcsetattr(m, TCSANOW, &t) == 0);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.new", g_link);
    unlink(tmp);
    TB_CHECK(symlink(ptsname(m), tmp) == 0);
    TB_CHECK(rename(tmp, g_link) == 0);
    return m;
}

static uint64_t noise_drops(struct mb_bearer *b)
{
    struct mb_stats s;
    mb_get_stats(b, &s);
    return s.drop_crc + s.drop_framing + s.drop_too_short + s.drop_too_long;
}

/* Run n frames each way with noise.  Returns the number of clean noise bursts. */
static unsigned run(struct mb_bearer *b, int master, uint32_t n, bool noise)
{
    static uint8_t line[1 << 16];
    static uint8_t f[2048], dfbuf[2048 + 4], rbuf[4096];
    size_t lh = 0, lt = 0;
    uint32_t wseq = 0, bseq = 0;
    long tnext = 0; /* next seq the test expects from the bearer */
    unsigned clean_bursts = 0;
    mp_deframer df;
    mp_deframer_init(&df, dfbuf, sizeof dfbuf);
    g_next = 0;
    g_bad = 0;
    size_t mtu = mb_mtu(b);
    int fds[2] = {mb_fd(b), master};
    uint32_t rnd = 12345;
    while (g_next < (long)n || tnext < (long)n) {
        bool progress = false;
        /* Refill the line buffer: noise burst, then the next frame. */
        if (lh == lt && wseq < n) {
            lh = lt = 0;
            rnd = rnd * 1103515245u + 12345u;
            if (noise && (rnd >> 16) % 3 == 0) {
                size_t k = 1 + (rnd >> 8) % 40;
                bool special = false;
                for (size_t i = 0; i < k; i++) {
                    rnd = rnd * 1103515245u + 12345u;
                    uint8_t c = (uint8_t)(rnd >> 16);
                    if (i + 1 == k && c == MP_SERIAL_ESC)
                        c = 0x55; /* an escape right before a flag would abort the frame */
                    special |= c == MP_SERIAL_FLAG || c == MP_SERIAL_ESC;
                    line[lt++] = c;
                }
                clean_bursts += !special;
            }
            size_t len = tb_len(wseq, mtu);
            tb_frame(f, len, wseq);
            int e = mp_serial_encode(f, len, line + lt, sizeof line - lt);
            TB_CHECK(e > 0);
            lt += (size_t)e;
            wseq++;
        }
        if (lh < lt) {
            ssize_t w = write(master, line + lh, lt - lh);
            if (w > 0) {
                lh += (size_t)w;
                progress = true;
            } else {
                TB_CHECK(errno == EAGAIN);
            }
        }
        /* Bearer -> line. */
        if (bseq < n) {
            size_t len = tb_len(bseq, mtu);
            tb_frame(f, len, bseq);
            int rc = mb_send(b, f, len, NULL);
            TB_CHECK(rc == 0 || rc == MB_EAGAIN);
            if (rc == 0) {
                bseq++;
                progress = true;
            }
        }
        int r = mb_on_readable(b, 64);
        TB_CHECK(r >= 0 && g_bad == 0);
        progress |= r > 0;
        ssize_t got = read(master, rbuf, sizeof rbuf);
        if (got > 0) {
            progress = true;
            size_t off = 0;
            while (off < (size_t)got) {
                size_t used;
                int fl = mp_deframer_feed(&df, rbuf + off, (size_t)got - off, &used);
                off += used;
                if (fl > 0) {
                    TB_CHECK(tb_check_frame(df.buf, (size_t)fl) == tnext);
                    tnext++;
                }
            }
        }
        if (!progress) {
            /* Wait for: bearer input, or the line having bytes for us / room. */
            struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN},
                                  {.fd = master, .events = (short)(POLLIN | (lh < lt ? POLLOUT : 0))}};
            TB_CHECK(poll(p, 2, 10000) > 0);
        }
    }
    TB_CHECK(df.crc_errors == 0 && df.framing_errors == 0);
    return clean_bursts;
}

static void rx_count_only(void *user, const uint8_t *f, size_t len, const struct mb_addr *src)
{
    (void)f;
    (void)len;
    (void)src;
    (*(int *)user)++;
}

int main(void)
{
    snprintf(g_link, sizeof g_link, "/tmp/mbt-serial-%d", getpid());
    int master = new_pty();
    char cfg[400];
    snprintf(cfg, sizeof cfg, "path=%s,baud=115200,reopen_ms=10", g_link);
    struct mb_bearer *b;
    TB_RC(mb_open(&mb_serial_ops, cfg, rx, NULL, &b));
    TB_CHECK(mb_carrier(b));

    /* 1 + 2: frames both ways, noise on the way in. */
    double t0 = tb_now();
    unsigned clean = run(b, master, 3000, true);
    double dt = tb_now() - t0;
    uint64_t nd = noise_drops(b);
    printf("serial/pty: 3000 frames each way (avg ~750 B) with noise in %.3f s (%.0f frames/s); "
           "%u clean noise bursts, %llu counted discards\n",
           dt, 3000 / dt, clean, (unsigned long long)nd);
    TB_CHECK(clean > 0 && nd >= clean);

    /* 3: the line goes away, then comes back behind the same name. */
    close(master);
    int fd = mb_fd(b);
    while (mb_carrier(b)) {
        tb_wait(&fd, 1, 5000, "hangup noticed");
        TB_CHECK(mb_on_readable(b, 64) >= 0);
    }
    TB_CHECK(mb_send(b, (const uint8_t *)"12345678", 8, NULL) == MB_EDOWN);
    master = new_pty();
    while (!mb_carrier(b)) {
        tb_wait(&fd, 1, 5000, "re-open");
        TB_CHECK(mb_on_readable(b, 64) >= 0);
    }
    struct mb_stats s;
    mb_get_stats(b, &s);
    TB_CHECK(s.reopens == 1);
    run(b, master, 200, true);

    /* 4: forced re-open. */
    TB_RC(mb_reopen(b));
    mb_get_stats(b, &s);
    TB_CHECK(s.reopens == 2 && mb_carrier(b));
    run(b, master, 200, false);

    /* Disabled: frames are counted as dropped, sends refused. */
    TB_RC(mb_set_enabled(b, false));
    TB_CHECK(mb_send(b, (const uint8_t *)"12345678", 8, NULL) == MB_EDOWN);
    tb_print_stats("serial", b);
    mb_close(b);

    /* Line noise alone never produces a frame. */
    int count = 0;
    TB_RC(mb_open(&mb_serial_ops, cfg, rx_count_only, &count, &b));
    uint8_t junk[4096];
    uint32_t rnd = 99;
    for (size_t i = 0; i < sizeof junk; i++) {
        rnd = rnd * 1103515245u + 12345u;
        junk[i] = (uint8_t)(rnd >> 16);
    }
    TB_CHECK(write(master, junk, sizeof junk) == (ssize_t)sizeof junk);
    fd = mb_fd(b);
    uint64_t before = noise_drops(b);
    tb_wait(&fd, 1, 5000, "noise");
    while (mb_on_readable(b, 64) > 0 || noise_drops(b) == before) {
        tb_wait(&fd, 1, 5000, "noise");
    }
    TB_CHECK(count == 0);
    mb_close(b);
    close(master);
    unlink(g_link);
    printf("PASS serial\n");
    return 0;
}
