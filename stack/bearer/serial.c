/*
 * serial.c — serial-line bearer: a tty or pty in raw mode (termios), frames delimited
 * and checked by the codec's line format (0x7E flags, 0x7D escapes, CRC-32C:
 * mp_serial_encode / mp_deframer).
 *
 * The line is unreliable by nature: noise between or inside frames costs at most the
 * frames it touches, each loss counted by the deframer (CRC, framing, runt, overrun).
 *
 * Surviving the device going away: EOF, EIO or a hangup on the device (a pty whose
 * master closed, a USB adapter pulled) closes it, drops the carrier and arms a timer;
 * every reopen_ms the path is opened again (a symlink such as socat's link= may now
 * point at a new pty).  mb_fd() is an epoll fd holding the device and the timer, so it
 * stays the same across re-opens.  Writes are non-blocking: what the tty does not take
 * at once waits in a transmit queue, flushed when the device is writable (EPOLLOUT is
 * armed only while the queue is not empty).
 *
 * config: path=DEVICE (required), baud=N (default 115200), mtu=N (default 1500),
 *         reopen_ms=N (default 200), txq=BYTES (transmit queue, default 65536),
 *         flow=none|rtscts (default none)
 */
#define _GNU_SOURCE
#include "bearer_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>

#include "mp/mp.h"

#define MB_SER_RDCHUNK 4096u

struct mb_serial {
    char path[PATH_MAX];
    speed_t speed;
    bool rtscts;
    uint32_t reopen_ms;
    int dev, ep, tfd;
    bool ever_open;
    mp_deframer df;
    uint8_t *dfbuf;
    uint64_t acc_crc, acc_framing, acc_overrun, acc_runt; /* from deframers before a reopen */
    uint8_t rbuf[MB_SER_RDCHUNK];
    uint8_t *enc;            /* one encoded frame */
    size_t enc_cap;
    uint8_t *txq;            /* pending line bytes: txq[txh..txt) */
    size_t txq_cap, txh, txt;
    bool want_out;
};

static const char *const mb_ser_keys[] = {"path", "baud", "mtu", "reopen_ms", "txq", "flow", NULL};

static const struct {
    uint32_t baud;
    speed_t speed;
} mb_ser_speeds[] = {
    {1200, B1200}, {2400, B2400}, {4800, B4800}, {9600, B9600}, {19200, B19200},
    {38400, B38400}, {57600, B57600}, {115200, B115200}, {230400, B230400},
    {460800, B460800}, {921600, B921600}, {1000000, B1000000}, {2000000, B2000000},
    {3000000, B3000000}, {4000000, B4000000},
};

static void mb_ser_fold_counters(struct mb_serial *s)
{
    s->acc_crc += s->df.crc_errors;
    s->acc_framing += s->df.framing_errors;
    s->acc_overrun += s->df.overruns;
    s->acc_runt += s->df.runts;
}

static void mb_ser_dev_close(struct mb_bearer *b)
{
    struct mb_serial *s = b->priv;
    if (s->dev >= 0) {
        close(s->dev); /* also leaves the epoll set */
        s->dev = -1;
    }
    s->txh = s->txt = 0; /* bytes for a line that is gone; the link layer resends */
    s->want_out = false;
    mb__set_carrier(b, false);
}

static void mb_ser_arm_timer(struct mb_serial *s, bool on)
{
    struct itimerspec it = {0};
    if (on) {
        it.it_value.tv_sec = s->reopen_ms / 1000;
        it.it_value.tv_nsec = (long)(s->reopen_ms % 1000) * 1000000L;
        it.it_interval = it.it_value;
    }
    (void)timerfd_settime(s->tfd, 0, &it, NULL);
}

/* Open and configure the device.  0 or MB_E*; on failure the device stays closed. */
static int mb_ser_dev_open(struct mb_bearer *b)
{
    struct mb_serial *s = b->priv;
    int fd = open(s->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return mb__errno(errno);
    if (isatty(fd)) {
        struct termios t;
        if (tcgetattr(fd, &t) < 0)
            goto fail;
        cfmakeraw(&t);
        t.c_cflag |= CLOCAL | CREAD;
        if (s->rtscts)
            t.c_cflag |= CRTSCTS;
        else
            t.c_cflag &= ~(tcflag_t)CRTSCTS;
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        if (cfsetispeed(&t, s->speed) < 0 || cfsetospeed(&t, s->speed) < 0 ||
            tcsetattr(fd, TCSANOW, &t) < 0)
            goto fail;
        (void)tcflush(fd, TCIOFLUSH);
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 1};
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        goto fail;
    s->dev = fd;
    /* A frame cut by the reopen must not be glued to the next one: restart the
     * deframer (keeping its counters). */
    mb_ser_fold_counters(s);
    mp_deframer_init(&s->df, s->dfbuf, b->mtu + MP_SERIAL_CRC_LEN);
    if (s->ever_open)
        b->st.reopens++;
    s->ever_open = true;
    mb__set_carrier(b, true);
    mb_ser_arm_timer(s, false);
    return 0;
fail: {
    int err = errno;
    close(fd);
    return mb__errno(err);
}
}

static void mb_ser_close(struct mb_bearer *b)
{
    struct mb_serial *s = b->priv;
    if (!s)
        return;
    if (s->dev >= 0)
        close(s->dev);
    if (s->tfd >= 0)
        close(s->tfd);
    if (s->ep >= 0)
        close(s->ep);
    free(s->dfbuf);
    free(s->enc);
    free(s->txq);
    free(s);
    b->priv = NULL;
}

static int mb_ser_open(struct mb_bearer *b, const char *cfg)
{
    uint32_t baud, mtu, reopen_ms, txq;
    char flow[16];
    int rc = mb__cfg_check("serial", cfg, mb_ser_keys);
    if (rc < 0)
        return rc;
    struct mb_serial *s = calloc(1, sizeof *s);
    if (!s)
        return MB_ENOMEM;
    s->dev = s->ep = s->tfd = -1;
    b->priv = s;
    if (mb__cfg_str(cfg, "path", s->path, sizeof s->path) <= 0) {
        mb__log("serial", "config: path= is required");
        rc = MB_EINVAL;
        goto fail;
    }
    if ((rc = mb__cfg_u32(cfg, "baud", 115200, 1200, 4000000, &baud)) < 0 ||
        (rc = mb__cfg_u32(cfg, "mtu", MP_SERIAL_MTU_DEF, 16, MP_MAX_FRAME, &mtu)) < 0 ||
        (rc = mb__cfg_u32(cfg, "reopen_ms", 200, 1, 3600000, &reopen_ms)) < 0 ||
        (rc = mb__cfg_u32(cfg, "txq", 65536, 4096, 1u << 26, &txq)) < 0)
        goto fail;
    rc = mb__cfg_str(cfg, "flow", flow, sizeof flow);
    if (rc < 0 || (rc > 0 && strcmp(flow, "none") && strcmp(flow, "rtscts"))) {
        rc = MB_EINVAL;
        goto fail;
    }
    s->rtscts = rc > 0 && strcmp(flow, "rtscts") == 0;
    rc = MB_EINVAL;
    for (size_t i = 0; i < sizeof mb_ser_speeds / sizeof mb_ser_speeds[0]; i++)
        if (mb_ser_speeds[i].baud == baud) {
            s->speed = mb_ser_speeds[i].speed;
            rc = 0;
        }
    if (rc < 0) {
        mb__log("serial", "config: unsupported baud=%u", baud);
        goto fail;
    }
    s->reopen_ms = reopen_ms;
    b->mtu = mtu;
    s->dfbuf = malloc(mtu + MP_SERIAL_CRC_LEN);
    s->enc_cap = mp_serial_max_encoded(mtu);
    s->enc = malloc(s->enc_cap);
    s->txq_cap = txq > s->enc_cap ? txq : s->enc_cap;
    s->txq = malloc(s->txq_cap);
    if (!s->dfbuf || !s->enc || !s->txq) {
        rc = MB_ENOMEM;
        goto fail;
    }
    mp_deframer_init(&s->df, s->dfbuf, mtu + MP_SERIAL_CRC_LEN);
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->ep < 0 || s->tfd < 0) {
        rc = mb__errno(errno);
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->tfd, &ev) < 0) {
        rc = mb__errno(errno);
        goto fail;
    }
    if ((rc = mb_ser_dev_open(b)) < 0) {
        mb__log("serial", "%s: cannot open: %s", s->path, mb_strerror(rc));
        goto fail;
    }
    return 0;
fail:
    mb_ser_close(b);
    return rc;
}

/* The device failed (EOF, EIO, hangup): close it and start retrying. */
static void mb_ser_lost(struct mb_bearer *b, const char *why)
{
    struct mb_serial *s = b->priv;
    mb__log("serial", "%s: %s; re-opening every %u ms", s->path, why, s->reopen_ms);
    mb_ser_dev_close(b);
    mb_ser_arm_timer(s, true);
}

static void mb_ser_want_out(struct mb_serial *s, bool on)
{
    if (s->want_out == on || s->dev < 0)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = 1};
    if (epoll_ctl(s->ep, EPOLL_CTL_MOD, s->dev, &ev) == 0)
        s->want_out = on;
}

/* Write queued bytes.  0, or MB_EDOWN if the device went away. */
static int mb_ser_flush(struct mb_bearer *b)
{
    struct mb_serial *s = b->priv;
    while (s->txh < s->txt) {
        ssize_t n = write(s->dev, s->txq + s->txh, s->txt - s->txh);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            mb_ser_lost(b, strerror(errno));
            return MB_EDOWN;
        }
        s->txh += (size_t)n;
    }
    if (s->txh == s->txt)
        s->txh = s->txt = 0;
    mb_ser_want_out(s, s->txh != s->txt);
    return 0;
}

static void mb_ser_cap(struct mb_bearer *b, const uint8_t *frame, size_t len, bool tx)
{
    if (!b->cap)
        return;
    uint8_t fcs[MP_SERIAL_CRC_LEN];
    mp_put32(fcs, mp_crc32c(0, frame, len));
    mb__cap(b, frame, len, tx, fcs);
}

static int mb_ser_send(struct mb_bearer *b, const uint8_t *frame, size_t len,
                       const struct mb_addr *dst)
{
    struct mb_serial *s = b->priv;
    (void)dst; /* point-to-point */
    if (s->dev < 0)
        return MB_EDOWN;
    int n = mp_serial_encode(frame, len, s->enc, s->enc_cap);
    if (n < 0)
        return MB_ETOOBIG;
    if (s->txq_cap - s->txt < (size_t)n && s->txh > 0) { /* compact */
        memmove(s->txq, s->txq + s->txh, s->txt - s->txh);
        s->txt -= s->txh;
        s->txh = 0;
    }
    if (s->txq_cap - s->txt < (size_t)n)
        return MB_EAGAIN;
    memcpy(s->txq + s->txt, s->enc, (size_t)n);
    s->txt += (size_t)n;
    int rc = mb_ser_flush(b);
    if (rc < 0)
        return rc;
    mb_ser_cap(b, frame, len, true);
    return 0;
}

static int mb_ser_fd(const struct mb_bearer *b)
{
    const struct mb_serial *s = b->priv;
    return s->ep;
}

static int mb_ser_on_readable(struct mb_bearer *b, unsigned budget)
{
    struct mb_serial *s = b->priv;
    int delivered = 0;
    uint64_t ticks;
    if (read(s->tfd, &ticks, sizeof ticks) == (ssize_t)sizeof ticks && s->dev < 0) {
        int rc = mb_ser_dev_open(b);
        if (rc < 0 && rc != MB_ENODEV && rc != MB_EIO)
            mb__log("serial", "%s: re-open: %s", s->path, mb_strerror(rc));
    }
    if (s->dev < 0)
        return 0;
    if (s->txh < s->txt && mb_ser_flush(b) < 0)
        return 0;
    /* Budget is counted in frames but applied per read: a chunk once read is fully
     * de-framed, so no bytes wait outside the kernel where the fd cannot signal them. */
    while ((unsigned)delivered < budget) {
        ssize_t n = read(s->dev, s->rbuf, sizeof s->rbuf);
        if (n == 0) {
            mb_ser_lost(b, "end of file");
            break;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            mb_ser_lost(b, strerror(errno));
            break;
        }
        size_t off = 0;
        while (off < (size_t)n) {
            size_t used = 0;
            int len = mp_deframer_feed(&s->df, s->rbuf + off, (size_t)n - off, &used);
            off += used;
            if (len > 0) {
                mb_ser_cap(b, s->df.buf, (size_t)len, false);
                delivered += mb__deliver(b, s->df.buf, (size_t)len, NULL);
            } else if (len < 0 || used == 0) {
                break; /* the deframer consumed what it could; defensive */
            }
        }
    }
    /* A hangup with nothing left to read shows as EPOLLHUP only. */
    if (s->dev >= 0) {
        struct epoll_event ev;
        int k = epoll_wait(s->ep, &ev, 1, 0);
        if (k == 1 && ev.data.u32 == 1 && (ev.events & (EPOLLHUP | EPOLLERR)) &&
            !(ev.events & EPOLLIN))
            mb_ser_lost(b, "hangup");
    }
    return delivered;
}

static void mb_ser_stats(const struct mb_bearer *b, struct mb_stats *st)
{
    const struct mb_serial *s = b->priv;
    st->drop_crc += s->acc_crc + s->df.crc_errors;
    st->drop_framing += s->acc_framing + s->df.framing_errors;
    st->drop_too_long += s->acc_overrun + s->df.overruns;
    st->drop_too_short += s->acc_runt + s->df.runts;
}

static int mb_ser_reopen(struct mb_bearer *b)
{
    struct mb_serial *s = b->priv;
    mb_ser_dev_close(b);
    int rc = mb_ser_dev_open(b);
    if (rc < 0)
        mb_ser_arm_timer(s, true);
    return rc;
}

const struct mb_bearer_ops mb_serial_ops = {
    .name = "serial",
    .media = MP_BEARER_SERIAL,
    .open = mb_ser_open,
    .close = mb_ser_close,
    .send = mb_ser_send,
    .fd = mb_ser_fd,
    .on_readable = mb_ser_on_readable,
    .stats = mb_ser_stats,
    .reopen = mb_ser_reopen,
};
