/*
 * pcie.c — the PCIe shim bearer: two processes share a memory window laid out like a
 * host-to-IOP PCIe BAR (a control block and two single-producer single-consumer slot
 * rings) and wake each other with doorbells.  The exact layout is in README.md and in
 * the MB_SHM_* offsets below; the numbers come from mp/wire.h (MP_SHM_*).
 *
 * Setup channel.  The host creates the window (memfd_create, sealed against resizing)
 * and listens on a Unix SOCK_SEQPACKET socket (abstract name "msgr-pcie:<name>", or a
 * path with sock=).  An IOP connects; the host resets the window and sends one hello
 * message carrying, by SCM_RIGHTS, the memfd and two eventfds: the host's doorbell (the
 * IOP rings it) and the IOP's doorbell (the host rings it).  The connection then only
 * signals presence: its end (EOF) tells either side that the other is gone.  We chose
 * eventfds over a futex on the producer index because an eventfd is a file descriptor:
 * it sits in the daemon's epoll set next to sockets and timers.
 *
 * Doorbells are rung only when needed: a consumer about to sleep sets its ring's
 * need_wakeup word, re-checks the producer index, and sleeps; a producer, after
 * publishing, rings only if it finds need_wakeup set (and clears it, so a burst costs
 * one ring).  The same scheme runs backwards for a full ring (need_space).  In busy-poll
 * mode (mode=poll) a consumer never sets need_wakeup: the producer never rings and the
 * caller spins on mb_on_readable.
 *
 * Reset handshake (state words DOWN=0, RESET=1, READY=2, RUNNING=3):
 *   host: at creation and whenever an IOP (re)connects or leaves:
 *         host_state=RESET; zero all ring words; iop_state=DOWN; host_state=READY
 *   IOP:  on receiving the hello: map, validate, iop_state=RESET, zero its local
 *         indices, iop_state=READY, ring the host
 *   host: host READY and iop READY -> host_state=RUNNING, ring the IOP
 *   IOP:  host RUNNING and iop READY -> iop_state=RUNNING
 * Either side sends only while its own state is RUNNING.  Frames in flight at a reset
 * are lost (the link layer above retransmits).  If the host restarts, the IOP sees EOF,
 * unmaps, and reconnects every reconnect_ms; if the IOP restarts, the host sees EOF (or
 * the new connection) and resets.
 *
 * Memory ordering: slot contents are plain stores published by a release store of the
 * producer index and read after an acquire load of it; the consumer index is released
 * after the slot is read, acquired before a slot is reused.  The need_wakeup/need_space
 * handshakes are store-then-load on both sides and need sequentially consistent
 * fences.  Every index and length read from the window is checked: the peer is
 * untrusted (a bad producer index is a protocol error: the window is reset).
 *
 * config: name=NAME (required; memfd name, socket name), role=host|iop (required),
 *         slots=N (power of two, default 256), slot_size=N (power of two incl. the
 *         8-byte slot header, default 2048; host only: the IOP takes the geometry from
 *         the window), mode=doorbell|poll (default doorbell), sock=PATH,
 *         reconnect_ms=N (IOP, default 50), copy=0|1 (copy each received frame out of
 *         the window before the callback; default 0 = zero copy)
 * An IOP opened before its host exists is not an error: it retries every reconnect_ms
 * (carrier down meanwhile).
 */
#define _GNU_SOURCE
#include "bearer_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "mp/wire.h"

/* ---- Window layout (little-endian; offsets from the start of the window) ------------- */
#define MB_SHM_VERSION 1u
#define MB_SHM_OFF_MAGIC 0x000u      /* 8 bytes "MSGRSHM1" */
#define MB_SHM_OFF_VERSION 0x008u    /* u32 */
#define MB_SHM_OFF_CTRL_LEN 0x00Cu   /* u32 = 4096 */
#define MB_SHM_OFF_SLOT_SIZE 0x010u  /* u32, power of two, includes the 8-byte header */
#define MB_SHM_OFF_SLOT_COUNT 0x014u /* u32, power of two */
#define MB_SHM_OFF_H2I 0x018u        /* u32, offset of the host->IOP slot array */
#define MB_SHM_OFF_I2H 0x01Cu        /* u32, offset of the IOP->host slot array */
#define MB_SHM_OFF_WIN_LEN 0x020u    /* u32, whole window length */
#define MB_SHM_OFF_FLAGS 0x024u      /* u32, 0 */
#define MB_SHM_OFF_HOST_STATE 0x040u /* u32 (own cache line) + u32 host generation */
#define MB_SHM_OFF_HOST_GEN 0x044u
#define MB_SHM_OFF_IOP_STATE 0x080u  /* u32 (own cache line) */
#define MB_SHM_OFF_RING_H2I 0x100u   /* ring control, 4 lines */
#define MB_SHM_OFF_RING_I2H 0x200u
#define MB_SHM_RING_PROD 0x00u       /* u32 producer index (free-running) */
#define MB_SHM_RING_CONS 0x40u       /* u32 consumer index (free-running) */
#define MB_SHM_RING_NEED_WAKEUP 0x80u /* u32 set by a consumer going to sleep */
#define MB_SHM_RING_NEED_SPACE 0xC0u /* u32 set by a producer facing a full ring */
#define MB_SHM_RING_CTL_LEN 0x100u
#define MB_SHM_SLOT_MIN 64u
#define MB_SHM_SLOT_MAX 131072u
#define MB_SHM_SLOTS_MAX 65536u

_Static_assert(MB_SHM_OFF_RING_I2H + MB_SHM_RING_CTL_LEN <= MP_SHM_CTRL_LEN, "ctrl block");
_Static_assert(sizeof(atomic_uint) == 4 && ATOMIC_INT_LOCK_FREE == 2, "lock-free u32 atomics");

#define MB_HELLO_MAGIC "MSGRHELO"
#define MB_HELLO_LEN 16u /* magic(8) version(4) win_len(4), little-endian */

enum { MB_EV_LISTEN = 1, MB_EV_CONN, MB_EV_BELL, MB_EV_TIMER };

struct mb_ring {
    atomic_uint *prod, *cons, *need_wakeup, *need_space;
    uint8_t *slots;
};

struct mb_pcie {
    bool host;
    bool poll_mode;
    bool copy;
    char name[64];
    struct sockaddr_un sun;
    socklen_t sun_len;
    uint32_t reconnect_ms;
    int ep, lsock, csock, mfd, my_bell, peer_bell, tfd;
    uint8_t *win;
    size_t win_len;
    uint32_t slot_size, slot_count, mask;
    struct mb_ring tx, rx;
    uint32_t tx_prod, tx_cons_cache; /* local shadows */
    uint32_t rx_cons;
    atomic_uint *self_state, *peer_state;
    bool reserved;
    unsigned spin; /* busy-poll: calls since the last look at the control fds */
    uint8_t *copybuf;
};

static const char *const mb_pcie_keys[] = {"name", "role", "slots", "slot_size", "mode", "sock",
                                           "reconnect_ms", "copy", NULL};

/* ---- Little-endian words in the window ------------------------------------------------ */
static uint32_t mb_le32_get(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void mb_le32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Atomic words are stored little-endian too; on a little-endian CPU these are no-ops. */
static inline uint32_t mb_a_load(atomic_uint *w, memory_order mo)
{
    return le32toh(atomic_load_explicit(w, mo));
}

static inline void mb_a_store(atomic_uint *w, uint32_t v, memory_order mo)
{
    atomic_store_explicit(w, htole32(v), mo);
}

static inline atomic_uint *mb_word(uint8_t *win, uint32_t off) { return (atomic_uint *)(win + off); }

/* ---- Helpers ------------------------------------------------------------------------------ */
static void mb_pcie_ring(struct mb_bearer *b, int fd)
{
    uint64_t one = 1;
    if (fd >= 0 && write(fd, &one, sizeof one) == (ssize_t)sizeof one)
        b->st.doorbells_tx++;
}

static void mb_pcie_map_rings(struct mb_pcie *p)
{
    uint8_t *w = p->win;
    uint32_t h2i = mb_le32_get(w + MB_SHM_OFF_H2I), i2h = mb_le32_get(w + MB_SHM_OFF_I2H);
    struct mb_ring h = {
        mb_word(w, MB_SHM_OFF_RING_H2I + MB_SHM_RING_PROD),
        mb_word(w, MB_SHM_OFF_RING_H2I + MB_SHM_RING_CONS),
        mb_word(w, MB_SHM_OFF_RING_H2I + MB_SHM_RING_NEED_WAKEUP),
        mb_word(w, MB_SHM_OFF_RING_H2I + MB_SHM_RING_NEED_SPACE), w + h2i};
    struct mb_ring i = {
        mb_word(w, MB_SHM_OFF_RING_I2H + MB_SHM_RING_PROD),
        mb_word(w, MB_SHM_OFF_RING_I2H + MB_SHM_RING_CONS),
        mb_word(w, MB_SHM_OFF_RING_I2H + MB_SHM_RING_NEED_WAKEUP),
        mb_word(w, MB_SHM_OFF_RING_I2H + MB_SHM_RING_NEED_SPACE), w + i2h};
    p->tx = p->host ? h : i;
    p->rx = p->host ? i : h;
    atomic_uint *hs = mb_word(w, MB_SHM_OFF_HOST_STATE), *is = mb_word(w, MB_SHM_OFF_IOP_STATE);
    p->self_state = p->host ? hs : is;
    p->peer_state = p->host ? is : hs;
}

static void mb_pcie_zero_shadows(struct mb_pcie *p)
{
    p->tx_prod = p->tx_cons_cache = p->rx_cons = 0;
    p->reserved = false;
}

/* Host: RESET, zero every ring word, IOP state DOWN, READY. */
static void mb_pcie_host_reset(struct mb_bearer *b)
{
    struct mb_pcie *p = b->priv;
    mb_a_store(p->self_state, MP_SHM_RESET, memory_order_seq_cst);
    uint32_t gen = mb_a_load(mb_word(p->win, MB_SHM_OFF_HOST_GEN), memory_order_relaxed);
    mb_a_store(mb_word(p->win, MB_SHM_OFF_HOST_GEN), gen + 1, memory_order_relaxed);
    struct mb_ring *r[2] = {&p->tx, &p->rx};
    for (int k = 0; k < 2; k++) {
        mb_a_store(r[k]->prod, 0, memory_order_relaxed);
        mb_a_store(r[k]->cons, 0, memory_order_relaxed);
        mb_a_store(r[k]->need_wakeup, 0, memory_order_relaxed);
        mb_a_store(r[k]->need_space, 0, memory_order_relaxed);
    }
    mb_pcie_zero_shadows(p);
    mb_a_store(p->peer_state, MP_SHM_DOWN, memory_order_relaxed);
    mb_a_store(p->self_state, MP_SHM_READY, memory_order_seq_cst);
    mb__set_carrier(b, false);
}

static void mb_pcie_close_bells(struct mb_pcie *p)
{
    if (p->my_bell >= 0)
        close(p->my_bell);
    if (p->peer_bell >= 0)
        close(p->peer_bell);
    p->my_bell = p->peer_bell = -1;
}

static void mb_pcie_arm_timer(struct mb_pcie *p, bool on)
{
    struct itimerspec it = {0};
    if (on) {
        it.it_value.tv_sec = p->reconnect_ms / 1000;
        it.it_value.tv_nsec = (long)(p->reconnect_ms % 1000) * 1000000L;
        it.it_interval = it.it_value;
    }
    (void)timerfd_settime(p->tfd, 0, &it, NULL);
}

static int mb_pcie_ep_add(struct mb_pcie *p, int fd, uint32_t tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};
    return epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? mb__errno(errno) : 0;
}

/* The peer left (EOF, error, protocol violation). */
static void mb_pcie_peer_gone(struct mb_bearer *b, const char *why)
{
    struct mb_pcie *p = b->priv;
    if (why)
        mb__log("pcie", "%s: peer gone: %s", p->name, why);
    if (p->csock >= 0) {
        close(p->csock);
        p->csock = -1;
    }
    mb_pcie_close_bells(p);
    if (p->host) {
        mb_pcie_host_reset(b);
        return;
    }
    if (p->win) {
        /* The state words point into the window only once it was validated and the
         * rings mapped; a window refused before that has none to write. */
        if (p->self_state)
            mb_a_store(p->self_state, MP_SHM_DOWN, memory_order_seq_cst);
        munmap(p->win, p->win_len);
        p->win = NULL;
    }
    p->self_state = p->peer_state = NULL; /* never through a window that is gone */
    if (p->mfd >= 0) {
        close(p->mfd);
        p->mfd = -1;
    }
    mb__set_carrier(b, false);
    mb_pcie_arm_timer(p, true);
}

/* ---- Host: accept an IOP ------------------------------------------------------------- */
static int mb_pcie_host_accept(struct mb_bearer *b)
{
    struct mb_pcie *p = b->priv;
    int c = accept4(p->lsock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0)
        return (errno == EAGAIN || errno == EINTR) ? 0 : mb__errno(errno);
    if (p->csock >= 0) /* a new IOP while the old one's EOF is still queued: it restarted */
        mb_pcie_peer_gone(b, "replaced by a new connection");
    mb_pcie_host_reset(b);
    int hb = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), ib = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (hb < 0 || ib < 0) {
        int err = errno;
        if (hb >= 0)
            close(hb);
        if (ib >= 0)
            close(ib);
        close(c);
        return mb__errno(err);
    }
    uint8_t hello[MB_HELLO_LEN];
    memcpy(hello, MB_HELLO_MAGIC, 8);
    mb_le32_put(hello + 8, MB_SHM_VERSION);
    mb_le32_put(hello + 12, (uint32_t)p->win_len);
    int fds[3] = {p->mfd, hb, ib};
    union {
        char buf[CMSG_SPACE(sizeof fds)];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = {hello, sizeof hello};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                       .msg_controllen = sizeof u.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(cm), fds, sizeof fds);
    if (sendmsg(c, &m, MSG_NOSIGNAL) != (ssize_t)sizeof hello) {
        int err = errno;
        close(hb);
        close(ib);
        close(c);
        mb__log("pcie", "%s: hello: %s", p->name, strerror(err));
        return 0; /* that IOP is gone already; keep listening */
    }
    p->csock = c;
    p->my_bell = hb;
    p->peer_bell = ib;
    int rc = mb_pcie_ep_add(p, c, MB_EV_CONN);
    if (rc == 0)
        rc = mb_pcie_ep_add(p, hb, MB_EV_BELL);
    if (rc < 0)
        mb_pcie_peer_gone(b, "epoll");
    return rc;
}

/* ---- IOP: connect and attach ------------------------------------------------------------ */
static int mb_pcie_iop_connect(struct mb_bearer *b)
{
    struct mb_pcie *p = b->priv;
    int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c < 0)
        return mb__errno(errno);
    if (connect(c, (struct sockaddr *)&p->sun, p->sun_len) < 0 && errno != EINPROGRESS) {
        int err = errno;
        close(c);
        return mb__errno(err); /* usually: no host yet (ECONNREFUSED/ENOENT) */
    }
    p->csock = c;
    int rc = mb_pcie_ep_add(p, c, MB_EV_CONN);
    if (rc < 0) {
        close(c);
        p->csock = -1;
        return rc;
    }
    mb_pcie_arm_timer(p, false);
    return 0;
}

static int mb_pcie_validate(struct mb_pcie *p, size_t len)
{
    const uint8_t *w = p->win;
    if (len < MP_SHM_CTRL_LEN || memcmp(w + MB_SHM_OFF_MAGIC, MP_SHM_MAGIC, 8) != 0 ||
        mb_le32_get(w + MB_SHM_OFF_VERSION) != MB_SHM_VERSION ||
        mb_le32_get(w + MB_SHM_OFF_CTRL_LEN) != MP_SHM_CTRL_LEN)
        return MB_EPROTO;
    uint32_t ss = mb_le32_get(w + MB_SHM_OFF_SLOT_SIZE), sc = mb_le32_get(w + MB_SHM_OFF_SLOT_COUNT);
    if (ss < MB_SHM_SLOT_MIN || ss > MB_SHM_SLOT_MAX || (ss & (ss - 1)) || sc < 2 ||
        sc > MB_SHM_SLOTS_MAX || (sc & (sc - 1)))
        return MB_EPROTO;
    uint64_t ring = (uint64_t)ss * sc;
    uint32_t h2i = mb_le32_get(w + MB_SHM_OFF_H2I), i2h = mb_le32_get(w + MB_SHM_OFF_I2H);
    if (mb_le32_get(w + MB_SHM_OFF_WIN_LEN) != len || h2i < MP_SHM_CTRL_LEN ||
        i2h < MP_SHM_CTRL_LEN || h2i + ring > len || i2h + ring > len ||
        (h2i < i2h ? h2i + ring > i2h : i2h + ring > h2i) || (h2i | i2h) % 64)
        return MB_EPROTO;
    p->slot_size = ss;
    p->slot_count = sc;
    p->mask = sc - 1;
    return 0;
}

static int mb_pcie_iop_hello(struct mb_bearer *b)
{
    struct mb_pcie *p = b->priv;
    uint8_t hello[MB_HELLO_LEN + 1];
    int fds[3] = {-1, -1, -1};
    union {
        char buf[CMSG_SPACE(sizeof fds)];
        struct cmsghdr align;
    } u;
    struct iovec iov = {hello, sizeof hello};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                       .msg_controllen = sizeof u.buf};
    ssize_t n = recvmsg(p->csock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        mb_pcie_peer_gone(b, n == 0 ? "host closed the connection" : strerror(errno));
        return 0;
    }
    size_t nfds = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            if (nfds > 3)
                nfds = 3;
            memcpy(fds, CMSG_DATA(cm), nfds * sizeof(int));
        }
    if (p->win || n != MB_HELLO_LEN || nfds != 3 || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
        memcmp(hello, MB_HELLO_MAGIC, 8) != 0 || mb_le32_get(hello + 8) != MB_SHM_VERSION) {
        for (size_t i = 0; i < nfds; i++)
            close(fds[i]);
        mb_pcie_peer_gone(b, "bad hello");
        return MB_EPROTO;
    }
    struct stat st;
    uint32_t wl = mb_le32_get(hello + 12);
    /* A window the host could still shrink would turn our next read of it into a
     * SIGBUS: only a memfd sealed against shrinking is accepted. */
    int seals = fcntl(fds[0], F_GET_SEALS);
    if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
        for (int i = 0; i < 3; i++)
            close(fds[i]);
        mb_pcie_peer_gone(b, "window not sealed against shrinking");
        return MB_EPROTO;
    }
    if (fstat(fds[0], &st) < 0 || (uint64_t)st.st_size != wl) {
        for (int i = 0; i < 3; i++)
            close(fds[i]);
        mb_pcie_peer_gone(b, "window size mismatch");
        return MB_EPROTO;
    }
    void *w = mmap(NULL, wl, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
    if (w == MAP_FAILED) {
        int err = errno;
        for (int i = 0; i < 3; i++)
            close(fds[i]);
        mb_pcie_peer_gone(b, strerror(err));
        return mb__errno(err);
    }
    p->win = w;
    p->win_len = wl;
    p->mfd = fds[0];
    p->peer_bell = fds[1]; /* the host's doorbell: we ring it */
    p->my_bell = fds[2];
    if (mb_pcie_validate(p, wl) < 0) {
        mb_pcie_peer_gone(b, "window layout invalid");
        return MB_EPROTO;
    }
    mb_pcie_map_rings(p);
    if (p->copy && !p->copybuf && !(p->copybuf = malloc(p->slot_size))) {
        mb_pcie_peer_gone(b, "out of memory");
        return MB_ENOMEM;
    }
    b->mtu = p->slot_size - MP_SHM_SLOT_HDR_LEN;
    if (b->mtu > MP_MAX_FRAME)
        b->mtu = MP_MAX_FRAME;
    int rc = mb_pcie_ep_add(p, p->my_bell, MB_EV_BELL);
    if (rc < 0) {
        mb_pcie_peer_gone(b, "epoll");
        return rc;
    }
    mb_a_store(p->self_state, MP_SHM_RESET, memory_order_seq_cst);
    mb_pcie_zero_shadows(p);
    mb_a_store(p->self_state, MP_SHM_READY, memory_order_seq_cst);
    mb_pcie_ring(b, p->peer_bell);
    return 0;
}

/* ---- Handshake progress --------------------------------------------------------------- */
static void mb_pcie_progress(struct mb_bearer *b)
{
    struct mb_pcie *p = b->priv;
    if (!p->win)
        return;
    uint32_t self = mb_a_load(p->self_state, memory_order_acquire);
    uint32_t peer = mb_a_load(p->peer_state, memory_order_acquire);
    if (p->host) {
        if (p->csock < 0)
            return;
        if (self == MP_SHM_READY && peer == MP_SHM_READY) {
            mb_a_store(p->self_state, MP_SHM_RUNNING, memory_order_seq_cst);
            b->st.resets++;
            mb__set_carrier(b, true);
            mb_pcie_ring(b, p->peer_bell);
        } else if (self == MP_SHM_RUNNING && peer != MP_SHM_READY && peer != MP_SHM_RUNNING) {
            /* The IOP dropped back (clean close or its own reset): start over. */
            mb_pcie_peer_gone(b, "IOP left RUNNING");
        }
    } else {
        if (self == MP_SHM_READY && peer == MP_SHM_RUNNING) {
            mb_a_store(p->self_state, MP_SHM_RUNNING, memory_order_seq_cst);
            b->st.resets++;
            mb__set_carrier(b, true);
        } else if (self == MP_SHM_RUNNING && peer != MP_SHM_RUNNING) {
            mb_pcie_peer_gone(b, "host left RUNNING");
        }
    }
}

/* ---- Lifecycle ----------------------------------------------------------------------------- */
static void mb_pcie_close(struct mb_bearer *b)
{
    struct mb_pcie *p = b->priv;
    if (!p)
        return;
    if (p->win) {
        mb_a_store(p->self_state, MP_SHM_DOWN, memory_order_seq_cst);
        mb_pcie_ring(b, p->peer_bell);
        munmap(p->win, p->win_len);
    }
    mb_pcie_close_bells(p);
    int fds[] = {p->csock, p->lsock, p->mfd, p->tfd, p->ep};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (p->host && p->sun.sun_path[0]) /* filesystem socket: remove the name */
        unlink(p->sun.sun_path);
    free(p->copybuf);
    free(p);
    b->priv = NULL;
}

static int mb_pcie_host_create(struct mb_bearer *b, uint32_t slots, uint32_t slot_size)
{
    struct mb_pcie *p = b->priv;
    uint64_t len = MP_SHM_CTRL_LEN + 2ull * slots * slot_size;
    if (len > UINT32_MAX)
        return MB_EINVAL;
    p->mfd = memfd_create(p->name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (p->mfd < 0)
        return mb__errno(errno);
    if (ftruncate(p->mfd, (off_t)len) < 0)
        return mb__errno(errno);
    /* The IOP maps exactly win_len bytes: forbid resizing so it can trust that. */
    (void)fcntl(p->mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    void *w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, p->mfd, 0);
    if (w == MAP_FAILED)
        return mb__errno(errno);
    p->win = w;
    p->win_len = len;
    p->slot_size = slot_size;
    p->slot_count = slots;
    p->mask = slots - 1;
    memcpy(p->win + MB_SHM_OFF_MAGIC, MP_SHM_MAGIC, 8);
    mb_le32_put(p->win + MB_SHM_OFF_VERSION, MB_SHM_VERSION);
    mb_le32_put(p->win + MB_SHM_OFF_CTRL_LEN, MP_SHM_CTRL_LEN);
    mb_le32_put(p->win + MB_SHM_OFF_SLOT_SIZE, slot_size);
    mb_le32_put(p->win + MB_SHM_OFF_SLOT_COUNT, slots);
    mb_le32_put(p->win + MB_SHM_OFF_H2I, MP_SHM_CTRL_LEN);
    mb_le32_put(p->win + MB_SHM_OFF_I2H, MP_SHM_CTRL_LEN + slots * slot_size);
    mb_le32_put(p->win + MB_SHM_OFF_WIN_LEN, (uint32_t)len);
    mb_le32_put(p->win + MB_SHM_OFF_FLAGS, 0);
    mb_pcie_map_rings(p);
    mb_pcie_host_reset(b);
    b->mtu = slot_size - MP_SHM_SLOT_HDR_LEN;
    if (b->mtu > MP_MAX_FRAME)
        b->mtu = MP_MAX_FRAME;

    p->lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->lsock < 0)
        return mb__errno(errno);
    if (bind(p->lsock, (struct sockaddr *)&p->sun, p->sun_len) < 0) {
        int err = errno;
        mb__log("pcie", "%s: bind: %s", p->name, strerror(err));
        return mb__errno(err);
    }
    if (listen(p->lsock, 4) < 0)
        return mb__errno(errno);
    return mb_pcie_ep_add(p, p->lsock, MB_EV_LISTEN);
}

static int mb_pcie_open(struct mb_bearer *b, const char *cfg)
{
    char role[8], mode[16], sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
    uint32_t slots, slot_size, copy, reconnect_ms;
    int rc = mb__cfg_check("pcie", cfg, mb_pcie_keys);
    if (rc < 0)
        return rc;
    struct mb_pcie *p = calloc(1, sizeof *p);
    if (!p)
        return MB_ENOMEM;
    p->ep = p->lsock = p->csock = p->mfd = p->my_bell = p->peer_bell = p->tfd = -1;
    b->priv = p;
    rc = MB_EINVAL;
    if (mb__cfg_str(cfg, "name", p->name, sizeof p->name) <= 0 || !p->name[0] ||
        mb__cfg_str(cfg, "role", role, sizeof role) <= 0 ||
        (strcmp(role, "host") && strcmp(role, "iop"))) {
        mb__log("pcie", "config: name= and role=host|iop are required");
        goto fail;
    }
    p->host = strcmp(role, "host") == 0;
    int m = mb__cfg_str(cfg, "mode", mode, sizeof mode);
    if (m < 0 || (m > 0 && strcmp(mode, "doorbell") && strcmp(mode, "poll")))
        goto fail;
    p->poll_mode = m > 0 && strcmp(mode, "poll") == 0;
    if ((rc = mb__cfg_u32(cfg, "slots", 256, 2, MB_SHM_SLOTS_MAX, &slots)) < 0 ||
        (rc = mb__cfg_u32(cfg, "slot_size", 2048, MB_SHM_SLOT_MIN, MB_SHM_SLOT_MAX, &slot_size)) < 0 ||
        (rc = mb__cfg_u32(cfg, "copy", 0, 0, 1, &copy)) < 0 ||
        (rc = mb__cfg_u32(cfg, "reconnect_ms", 50, 1, 3600000, &reconnect_ms)) < 0)
        goto fail;
    rc = MB_EINVAL;
    if ((slots & (slots - 1)) || (slot_size & (slot_size - 1))) {
        mb__log("pcie", "config: slots and slot_size must be powers of two");
        goto fail;
    }
    p->copy = copy;
    p->reconnect_ms = reconnect_ms;
    p->sun.sun_family = AF_UNIX;
    int s = mb__cfg_str(cfg, "sock", sock, sizeof sock);
    if (s < 0)
        goto fail;
    if (s > 0) {
        memcpy(p->sun.sun_path, sock, strlen(sock) + 1);
        p->sun_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sock) + 1);
    } else { /* abstract: no file to clean up, gone with the process */
        int n = snprintf(p->sun.sun_path + 1, sizeof p->sun.sun_path - 1, "msgr-pcie:%s", p->name);
        if (n < 0 || (size_t)n >= sizeof p->sun.sun_path - 1)
            goto fail;
        p->sun_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    }
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    p->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (p->ep < 0 || p->tfd < 0 || (rc = mb_pcie_ep_add(p, p->tfd, MB_EV_TIMER)) < 0) {
        rc = rc < 0 && rc != MB_EINVAL ? rc : mb__errno(errno);
        goto fail;
    }
    if (p->host) {
        if (p->copy && !(p->copybuf = malloc(slot_size))) {
            rc = MB_ENOMEM;
            goto fail;
        }
        if ((rc = mb_pcie_host_create(b, slots, slot_size)) < 0)
            goto fail;
    } else {
        b->mtu = MP_MAX_FRAME; /* until attached; sends fail with MB_EDOWN before that */
        if (mb_pcie_iop_connect(b) < 0)
            mb_pcie_arm_timer(p, true); /* no host yet: retry */
    }
    return 0;
fail:
    mb_pcie_close(b);
    return rc;
}

/* ---- Transmit ------------------------------------------------------------------------------ */
static bool mb_pcie_running(const struct mb_pcie *p)
{
    return p->win && mb_a_load(p->self_state, memory_order_relaxed) == MP_SHM_RUNNING;
}

/* Free slots in the outgoing ring (refreshing the cached consumer index if needed). */
static void mb_pcie_peer_gone(struct mb_bearer *b, const char *why);

/* Free slots in our TX ring.  A consumer index that the peer moved beyond what we
 * produced (or more than a ring behind) is a protocol error that resets the window
 * (MSG-SHM-7): reading it as a full ring would stall the link silently instead. */
static bool mb_pcie_tx_cons_fresh(struct mb_bearer *b)
{
    struct mb_pcie *p = b->priv;
    uint32_t c = mb_a_load(p->tx.cons, memory_order_acquire);
    if (p->tx_prod - c > p->slot_count) {
        b->st.proto_errors++;
        mb_pcie_peer_gone(b, "consumer index out of range");
        return false;
    }
    p->tx_cons_cache = c;
    return true;
}

static uint32_t mb_pcie_tx_room(struct mb_bearer *b)
{
    struct mb_pcie *p = b->priv;
    uint32_t used = p->tx_prod - p->tx_cons_cache;
    if (used >= p->slot_count) {
        if (!mb_pcie_tx_cons_fresh(b))
            return 0;
        used = p->tx_prod - p->tx_cons_cache;
    }
    return p->slot_count - used;
}

/* Full ring: ask the consumer for a doorbell when it frees a slot, then re-check. */
static uint32_t mb_pcie_tx_room_or_wait(struct mb_bearer *b)
{
    struct mb_pcie *p = b->priv;
    uint32_t room = mb_pcie_tx_room(b);
    if (room || p->poll_mode || !mb_pcie_running(p)) /* busy-poll: the caller spins */
        return room;
    mb_a_store(p->tx.need_space, 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
    return mb_pcie_tx_room(b);
}

static uint8_t *mb_pcie_slot(const struct mb_pcie *p, const struct mb_ring *r, uint32_t idx)
{
    return r->slots + (size_t)(idx & p->mask) * p->slot_size;
}

/* Publish everything up to tx_prod and ring the consumer if it sleeps. */
static void mb_pcie_publish(struct mb_bearer *b)
{
    struct mb_pcie *p = b->priv;
    mb_a_store(p->tx.prod, p->tx_prod, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(p->tx.need_wakeup, memory_order_relaxed) &&
        atomic_exchange_explicit(p->tx.need_wakeup, 0, memory_order_acq_rel))
        mb_pcie_ring(b, p->peer_bell);
}

static void mb_pcie_fill(struct mb_pcie *p, uint8_t *slot, const uint8_t *frame, size_t len)
{
    mb_le32_put(slot, (uint32_t)len);
    mb_le32_put(slot + 4, 0);
    memcpy(slot + MP_SHM_SLOT_HDR_LEN, frame, len);
    (void)p;
}

static int mb_pcie_send_batch(struct mb_bearer *b, const struct mb_txmsg *v, unsigned n)
{
    struct mb_pcie *p = b->priv;
    if (!mb_pcie_running(p))
        return MB_EDOWN;
    if (p->reserved)
        return MB_EINVAL;
    uint32_t room = mb_pcie_tx_room_or_wait(b);
    if (room == 0)
        return mb_pcie_running(p) ? MB_EAGAIN : MB_EDOWN;
    if (n > room)
        n = room;
    for (unsigned i = 0; i < n; i++) {
        uint8_t *slot = mb_pcie_slot(p, &p->tx, p->tx_prod);
        mb_pcie_fill(p, slot, v[i].frame, v[i].len);
        mb__cap(b, v[i].frame, v[i].len, true, NULL);
        p->tx_prod++;
    }
    mb_pcie_publish(b);
    return (int)n;
}

static int mb_pcie_send(struct mb_bearer *b, const uint8_t *frame, size_t len,
                        const struct mb_addr *dst)
{
    (void)dst;
    struct mb_txmsg m = {frame, len, NULL};
    int rc = mb_pcie_send_batch(b, &m, 1);
    return rc == 1 ? 0 : rc;
}

int mb_pcie_reserve(struct mb_bearer *b, uint8_t **data, size_t *cap)
{
    if (!b || b->ops != &mb_pcie_ops || !data || !cap)
        return MB_EINVAL;
    struct mb_pcie *p = b->priv;
    if (!b->enabled || !mb_pcie_running(p)) {
        b->st.tx_down++;
        return MB_EDOWN;
    }
    if (p->reserved)
        return MB_EINVAL;
    if (mb_pcie_tx_room_or_wait(b) == 0) {
        if (!mb_pcie_running(p))
            return MB_EDOWN;
        b->st.tx_full++;
        return MB_EAGAIN;
    }
    *data = mb_pcie_slot(p, &p->tx, p->tx_prod) + MP_SHM_SLOT_HDR_LEN;
    *cap = b->mtu;
    p->reserved = true;
    return 0;
}

int mb_pcie_commit(struct mb_bearer *b, size_t len)
{
    if (!b || b->ops != &mb_pcie_ops)
        return MB_EINVAL;
    struct mb_pcie *p = b->priv;
    if (!p->reserved)
        return MB_EINVAL;
    p->reserved = false;
    if (len == 0)
        return 0; /* aborted */
    if (len > b->mtu) {
        b->st.tx_too_long++;
        return MB_ETOOBIG;
    }
    if (!mb_pcie_running(p)) { /* reset between reserve and commit */
        b->st.tx_down++;
        return MB_EDOWN;
    }
    uint8_t *slot = mb_pcie_slot(p, &p->tx, p->tx_prod);
    mb_le32_put(slot, (uint32_t)len);
    mb_le32_put(slot + 4, 0);
    mb__cap(b, slot + MP_SHM_SLOT_HDR_LEN, len, true, NULL);
    p->tx_prod++;
    mb_pcie_publish(b);
    b->st.tx_frames++;
    b->st.tx_bytes += len;
    return 0;
}

int mb_pcie_state(const struct mb_bearer *b, int *self, int *peer)
{
    if (!b || b->ops != &mb_pcie_ops)
        return MB_EINVAL;
    const struct mb_pcie *p = b->priv;
    int s = MP_SHM_DOWN, q = MP_SHM_DOWN;
    if (p->win) {
        s = (int)mb_a_load(p->self_state, memory_order_acquire);
        q = (int)mb_a_load(p->peer_state, memory_order_acquire);
    }
    if (self)
        *self = s;
    if (peer)
        *peer = q;
    return 0;
}

/* ---- Receive ------------------------------------------------------------------------------- */
static int mb_pcie_drain(struct mb_bearer *b, unsigned budget, bool *more)
{
    struct mb_pcie *p = b->priv;
    int delivered = 0;
    uint32_t start = p->rx_cons;
    *more = false;
    for (;;) {
        uint32_t prod = mb_a_load(p->rx.prod, memory_order_acquire);
        if (prod - p->rx_cons > p->slot_count) {
            mb_a_store(p->rx.cons, p->rx_cons, memory_order_release);
            return MB_EPROTO;
        }
        while (p->rx_cons != prod && budget) {
            const uint8_t *slot = mb_pcie_slot(p, &p->rx, p->rx_cons);
            uint32_t len = mb_le32_get(slot); /* read once; bounded below */
            budget--;
            if (len > p->slot_size - MP_SHM_SLOT_HDR_LEN || len > b->mtu) {
                b->st.drop_too_long++;
            } else if (len == 0) {
                b->st.drop_too_short++;
            } else {
                const uint8_t *f = slot + MP_SHM_SLOT_HDR_LEN;
                if (p->copy) {
                    memcpy(p->copybuf, f, len);
                    f = p->copybuf;
                }
                mb__cap(b, f, len, false, NULL);
                delivered += mb__deliver(b, f, len, NULL);
            }
            p->rx_cons++;
        }
        if (p->rx_cons != start) {
            mb_a_store(p->rx.cons, p->rx_cons, memory_order_release);
            atomic_thread_fence(memory_order_seq_cst);
            if (atomic_load_explicit(p->rx.need_space, memory_order_relaxed) &&
                atomic_exchange_explicit(p->rx.need_space, 0, memory_order_acq_rel))
                mb_pcie_ring(b, p->peer_bell);
            start = p->rx_cons;
        }
        if (!budget) {
            *more = p->rx_cons != mb_a_load(p->rx.prod, memory_order_acquire);
            /* A budget spent exactly at the end of the ring must still arm need_wakeup
             * below: returning with neither a doorbell request nor a readable fd would
             * leave the next frames in the ring until some unrelated wake-up. */
            if (*more || p->poll_mode)
                return delivered;
        }
        if (p->poll_mode)
            return delivered;
        /* About to sleep: ask for a doorbell, then look once more (the producer may have
         * published between our last look and the store; if so it may not ring). */
        mb_a_store(p->rx.need_wakeup, 1, memory_order_seq_cst);
        atomic_thread_fence(memory_order_seq_cst);
        if (mb_a_load(p->rx.prod, memory_order_acquire) == p->rx_cons)
            return delivered;
        if (!budget) { /* published meanwhile: come back through a readable fd */
            *more = true;
            return delivered;
        }
    }
}

static int mb_pcie_on_readable(struct mb_bearer *b, unsigned budget)
{
    struct mb_pcie *p = b->priv;
    /* Busy-poll: look at the control fds (sockets, bell, timer) only now and then. */
    bool look = !p->poll_mode || !mb_pcie_running(p) || ++p->spin >= 1024;
    if (look) {
        p->spin = 0;
        struct epoll_event ev[8];
        int n = epoll_wait(p->ep, ev, 8, 0);
        for (int i = 0; i < n; i++) {
            uint64_t v;
            switch (ev[i].data.u32) {
            case MB_EV_LISTEN:
                (void)mb_pcie_host_accept(b);
                break;
            case MB_EV_CONN:
                if (p->csock < 0)
                    break;
                if (!p->host && !p->win) {
                    (void)mb_pcie_iop_hello(b);
                } else {
                    char junk[64];
                    ssize_t r = recv(p->csock, junk, sizeof junk, MSG_DONTWAIT);
                    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
                        mb_pcie_peer_gone(b, r == 0 ? "connection closed" : strerror(errno));
                }
                break;
            case MB_EV_BELL:
                if (p->my_bell >= 0 && read(p->my_bell, &v, sizeof v) == (ssize_t)sizeof v)
                    b->st.doorbells_rx++;
                break;
            case MB_EV_TIMER:
                if (read(p->tfd, &v, sizeof v) == (ssize_t)sizeof v && !p->host && p->csock < 0)
                    (void)mb_pcie_iop_connect(b);
                break;
            }
        }
    }
    mb_pcie_progress(b);
    if (!mb_pcie_running(p))
        return 0;
    if (p->host && mb_a_load(p->peer_state, memory_order_acquire) != MP_SHM_RUNNING &&
        mb_a_load(p->peer_state, memory_order_acquire) != MP_SHM_READY)
        return 0;
    bool more;
    int d = mb_pcie_drain(b, budget, &more);
    if (d == MB_EPROTO) {
        b->st.proto_errors++;
        mb_pcie_peer_gone(b, "producer index out of range");
        return 0;
    }
    /* The consumer index of our ring is read on every wake-up, not only when the ring
     * looks full, so that a peer's bad index is caught while we still send little. */
    if (look && !mb_pcie_tx_cons_fresh(b))
        return d;
    if (more && !p->poll_mode) { /* keep our fd readable: frames are waiting */
        uint64_t one = 1;
        (void)!write(p->my_bell, &one, sizeof one);
    }
    return d;
}

static int mb_pcie_fd(const struct mb_bearer *b)
{
    const struct mb_pcie *p = b->priv;
    return p->ep;
}

const struct mb_bearer_ops mb_pcie_ops = {
    .name = "pcie",
    .media = MP_BEARER_PCIE,
    .open = mb_pcie_open,
    .close = mb_pcie_close,
    .send = mb_pcie_send,
    .send_batch = mb_pcie_send_batch,
    .fd = mb_pcie_fd,
    .on_readable = mb_pcie_on_readable,
};
