/*
 * msgr.c — libmsgr: the client side of the msgrd protocol (stack/daemon/PROTOCOL.md).
 *
 * One request is in flight at a time (the API is synchronous); everything else the
 * daemon sends (messages, status events, writable notices) is queued here in arrival
 * order while we wait, and handed out by msgr_recv / msgr_next_event / msgr_wait.
 *
 * Embedded mode runs the same node service (msrv) in this process behind a socketpair:
 * every wait in this file also turns the node's loop, so the node runs whenever the
 * application is inside a libmsgr call or polls msgr_fd().
 */
#define _GNU_SOURCE
#include "msgr/msgr.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "srv.h"

typedef struct qmsg {
    struct qmsg *next;
    msgr_msg_info info;
    uint8_t data[];
} qmsg;

typedef struct qev {
    struct qev *next;
    msgr_event ev;
} qev;

typedef struct pstate {
    uint32_t id;
    int state;
    bool blocked;  /* last send got EAGAIN, no writable notice since */
    uint32_t wgen; /* writable notices received: one may arrive in the same read as the
                    * EAGAIN response it follows, so a sender compares counts */
} pstate;

struct msgr {
    int sock, ep;
    mrt *rt;   /* embedded only */
    msrv *srv; /* embedded only */
    uint32_t node, next_id, wait_id;
    bool got;
    int status;
    size_t resp_len;
    bool dead;
    qmsg *mq, **mq_tail;
    qev *eq, **eq_tail;
    pstate *ps;
    size_t nps, cps;
    uint32_t mask;
    uint8_t resp[MIPC_MAX_MSG];
    uint8_t rbuf[MIPC_MAX_MSG];
    uint8_t sbuf[MIPC_MAX_MSG];
};

struct msgr_static_msg {
    size_t cap;
    uint8_t buf[]; /* MIPC_HDR_LEN + 4 bytes of headroom, then the payload */
};
#define MSGR_HEADROOM (MIPC_HDR_LEN + 4)

const char *msgr_strerror(int err)
{
    switch (err) {
    case MSGR_OK: return "success";
    case MSGR_EINVAL: return "invalid argument or name";
    case MSGR_ENOMEM: return "out of memory";
    case MSGR_ELIMIT: return "a node limit was reached";
    case MSGR_ENOTCONN: return "no working link to the peer";
    case MSGR_EAGAIN: return "no credit on the path (try again when writable)";
    case MSGR_ETOOBIG: return "message too big";
    case MSGR_ECODEC: return "encoding failed";
    case MSGR_ENOENT: return "no such name, device or path";
    case MSGR_ENOTSUP: return "not supported";
    case MSGR_EEXIST: return "already exists";
    case MSGR_ESTATE: return "not allowed in the path's state";
    case MSGR_EDISCONN: return "the daemon went away";
    case MSGR_ETIMEDOUT: return "timed out";
    case MSGR_EPROTO: return "unreadable answer from the daemon";
    case MSGR_ESYS: return "system call failed";
    case MSGR_ETRUNC: return "message truncated to the buffer";
    default: return "unknown error";
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t r = deadline - now_ms();
    return r < 0 ? 0 : (int)(r > 1000000 ? 1000000 : r);
}

static int64_t deadline_of(int timeout_ms) { return timeout_ms < 0 ? -1 : now_ms() + timeout_ms; }

static pstate *ps_get(msgr *m, uint32_t id, bool create)
{
    for (size_t i = 0; i < m->nps; i++)
        if (m->ps[i].id == id)
            return &m->ps[i];
    if (!create)
        return NULL;
    if (m->nps == m->cps) {
        size_t nc = m->cps ? m->cps * 2 : 16;
        pstate *n = realloc(m->ps, nc * sizeof *n);
        if (!n)
            return NULL;
        m->ps = n;
        m->cps = nc;
    }
    pstate *p = &m->ps[m->nps++];
    p->id = id;
    p->state = MSGR_PS_OPENING;
    p->blocked = false;
    p->wgen = 0;
    return p;
}

static void push_ev(msgr *m, const msgr_event *e)
{
    qev *q = malloc(sizeof *q);
    if (!q)
        return;
    q->ev = *e;
    q->next = NULL;
    *m->eq_tail = q;
    m->eq_tail = &q->next;
}

/* One message from the daemon. */
static void dispatch(msgr *m, const uint8_t *b, size_t len)
{
    uint16_t op = mipc_msg_op(b, len);
    mipc_r r;
    mipc_r_init(&r, b, len);
    if (op & MIPC_RESP) {
        if (mipc_msg_id(b, len) != m->wait_id)
            return;
        m->status = (int32_t)mipc_get32(&r);
        m->resp_len = r.err ? 0 : len - r.off;
        memcpy(m->resp, b + r.off, m->resp_len);
        m->got = true;
        if (r.err)
            m->status = MSGR_EPROTO;
        return;
    }
    msgr_event e;
    memset(&e, 0, sizeof e);
    switch (op) {
    case MIPC_EV_MSG: {
        uint32_t path = mipc_get32(&r), dev = mipc_get32(&r), peer = mipc_get32(&r);
        if (r.err)
            return;
        size_t n = len - r.off;
        qmsg *q = malloc(sizeof *q + n);
        if (!q)
            return;
        q->next = NULL;
        q->info = (msgr_msg_info){path, dev, peer, n};
        memcpy(q->data, b + r.off, n);
        *m->mq_tail = q;
        m->mq_tail = &q->next;
        return;
    }
    case MIPC_EV_WRITABLE: {
        pstate *p = ps_get(m, mipc_get32(&r), false);
        if (p) {
            p->blocked = false;
            p->wgen++;
        }
        return;
    }
    case MIPC_EV_PATH: {
        e.type = MSGR_EV_PATH;
        e.path = mipc_get32(&r);
        e.group = mipc_get32(&r);
        e.device = mipc_get32(&r);
        e.peer_node = mipc_get32(&r);
        e.peer_device = mipc_get32(&r);
        e.state = mipc_get8(&r);
        e.reason = mipc_get16(&r);
        /* A group's state follows its members: open when one opens. */
        pstate *p = ps_get(m, e.path, true);
        if (p)
            p->state = e.state;
        if (e.group) {
            pstate *g = ps_get(m, e.group, true);
            if (g && (e.state == MSGR_PS_OPEN || g->state != MSGR_PS_OPEN))
                g->state = e.state;
        }
        break;
    }
    case MIPC_EV_REQUEST:
        e.type = MSGR_EV_REQUEST;
        e.path = mipc_get32(&r);
        e.device = mipc_get32(&r);
        e.peer_node = mipc_get32(&r);
        e.peer_device = mipc_get32(&r);
        e.state = MSGR_PS_ACCEPTING;
        if (!r.err) {
            pstate *p = ps_get(m, e.path, true);
            if (p)
                p->state = MSGR_PS_ACCEPTING;
        }
        break;
    case MIPC_EV_LINK:
        e.type = MSGR_EV_LINK;
        e.peer_node = mipc_get32(&r);
        e.bearer = (int32_t)mipc_get32(&r);
        e.up = mipc_get8(&r);
        e.reason = mipc_get8(&r);
        break;
    case MIPC_EV_PEER:
        e.type = MSGR_EV_PEER;
        e.peer_node = mipc_get32(&r);
        e.up = mipc_get8(&r);
        e.reason = mipc_get8(&r);
        break;
    case MIPC_EV_NAME: {
        e.type = MSGR_EV_NAME;
        uint8_t kind = mipc_get8(&r);
        e.up = kind != 3;
        e.reason = kind;
        e.peer_node = mipc_get32(&r);
        e.peer_device = mipc_get32(&r);
        mipc_str s = mipc_getstr(&r);
        if (!r.err && s.len < sizeof e.name) {
            memcpy(e.name, s.p, s.len);
            e.name[s.len] = 0;
        }
        break;
    }
    default:
        return;
    }
    if (!r.err)
        push_ev(m, &e);
}

/* Read what is there; if nothing and timeout_ms != 0, wait (turning the embedded node).
 * Returns 1 if something was dispatched, 0 if not, or MSGR_EDISCONN. */
static int pump(msgr *m, int timeout_ms)
{
    if (m->dead)
        return MSGR_EDISCONN;
    for (int pass = 0; pass < 2; pass++) {
        if (m->rt)
            mrt_run_once(m->rt, 0);
        int got = 0;
        for (;;) {
            ssize_t n = recv(m->sock, m->rbuf, sizeof m->rbuf, MSG_DONTWAIT);
            if (n == 0) {
                m->dead = true;
                return MSGR_EDISCONN;
            }
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    break;
                m->dead = true;
                return MSGR_EDISCONN;
            }
            dispatch(m, m->rbuf, (size_t)n);
            got = 1;
        }
        if (got || timeout_ms == 0 || pass == 1)
            return got;
        struct epoll_event ev;
        int t = timeout_ms;
        if (m->rt) {
            /* The node's timer is in the epoll set too; bound the wait anyway. */
            if (t < 0 || t > 1000)
                t = 1000;
        }
        epoll_wait(m->ep, &ev, 1, t);
    }
    return 0;
}

static int transmit(msgr *m, const uint8_t *b, size_t len)
{
    for (;;) {
        ssize_t n = send(m->sock, b, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n == (ssize_t)len)
            return 0;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EINTR)) {
            /* The daemon is behind: take what it sent us (it may be waiting on us). */
            struct pollfd p = {m->sock, POLLOUT | POLLIN, 0};
            if (m->rt)
                mrt_run_once(m->rt, 0);
            else
                poll(&p, 1, 100);
            int r = pump(m, 0);
            if (r < 0)
                return r;
            continue;
        }
        m->dead = true;
        return MSGR_EDISCONN;
    }
}

/* Send request b (header id is set here) and wait for its response. */
static int request(msgr *m, uint8_t *b, size_t len)
{
    uint32_t id = ++m->next_id;
    if (!id)
        id = ++m->next_id;
    b[8] = (uint8_t)id, b[9] = (uint8_t)(id >> 8), b[10] = (uint8_t)(id >> 16), b[11] = (uint8_t)(id >> 24);
    m->wait_id = id;
    m->got = false;
    int r = transmit(m, b, len);
    if (r < 0)
        return r;
    int64_t dl = now_ms() + 30000; /* the daemon answers at once; this only catches a hang */
    while (!m->got) {
        r = pump(m, remaining(dl));
        if (r < 0)
            return r;
        if (!m->got && now_ms() >= dl)
            return MSGR_ETIMEDOUT;
    }
    return m->status;
}

static uint32_t resp32(const msgr *m)
{
    return m->resp_len >= 4 ? (uint32_t)m->resp[0] | (uint32_t)m->resp[1] << 8 |
                                  (uint32_t)m->resp[2] << 16 | (uint32_t)m->resp[3] << 24
                            : 0;
}

static int hello(msgr *m)
{
    mipc_w w;
    mipc_w_init(&w, m->sbuf, sizeof m->sbuf, MIPC_HELLO, 0);
    mipc_put32(&w, MIPC_VERSION);
    mipc_put32(&w, m->mask);
    int r = request(m, m->sbuf, mipc_w_end(&w));
    if (r == 0)
        m->node = resp32(m);
    return r;
}

static msgr *msgr_new(void)
{
    msgr *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->sock = m->ep = -1;
    m->mq_tail = &m->mq;
    m->eq_tail = &m->eq;
    return m;
}

static int setup_ep(msgr *m)
{
    m->ep = epoll_create1(EPOLL_CLOEXEC);
    if (m->ep < 0)
        return MSGR_ESYS;
    struct epoll_event ev = {.events = EPOLLIN};
    if (epoll_ctl(m->ep, EPOLL_CTL_ADD, m->sock, &ev) < 0)
        return MSGR_ESYS;
    if (m->rt && epoll_ctl(m->ep, EPOLL_CTL_ADD, mrt_fd(m->rt), &ev) < 0)
        return MSGR_ESYS;
    return 0;
}

int msgr_attach(const char *path, msgr **out)
{
    if (!out)
        return MSGR_EINVAL;
    if (!path)
        path = getenv("MSGR_SOCKET");
    if (!path)
        path = "/run/msgr/msgrd.sock";
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return MSGR_EINVAL;
    strcpy(sa.sun_path, path);
    msgr *m = msgr_new();
    if (!m)
        return MSGR_ENOMEM;
    m->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (m->sock < 0 || connect(m->sock, (struct sockaddr *)&sa, sizeof sa) < 0) {
        msgr_close(m);
        return MSGR_EDISCONN;
    }
    int r = setup_ep(m);
    if (r == 0)
        r = hello(m);
    if (r < 0) {
        msgr_close(m);
        return r;
    }
    *out = m;
    return 0;
}

int msgr_embedded_create(uint32_t node_id, uint32_t domain, const char *const *bearers,
                         size_t nb, msgr **out)
{
    if (!out || (nb && !bearers))
        return MSGR_EINVAL;
    msgr *m = msgr_new();
    if (!m)
        return MSGR_ENOMEM;
    int sv[2];
    int r = msrv_create(&m->srv);
    if (r < 0) {
        free(m);
        return r;
    }
    mrt_config c = {.node_id = node_id, .domain = domain, .event = msrv_event, .user = m->srv};
    r = mrt_create(&c, &m->rt);
    if (r < 0) {
        msrv_destroy(m->srv);
        free(m);
        return r <= -100 ? MSGR_EINVAL : r;
    }
    msrv_set_rt(m->srv, m->rt);
    for (size_t i = 0; i < nb; i++)
        if ((r = mrt_add_bearer(m->rt, bearers[i])) < 0) {
            msgr_close(m);
            return r <= -100 ? MSGR_EINVAL : r;
        }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
        msgr_close(m);
        return MSGR_ESYS;
    }
    m->sock = sv[0];
    if ((r = msrv_add_client(m->srv, sv[1])) < 0 || (r = setup_ep(m)) < 0 || (r = hello(m)) < 0) {
        msgr_close(m);
        return r;
    }
    *out = m;
    return 0;
}

void msgr_close(msgr *m)
{
    if (!m)
        return;
    if (m->sock >= 0)
        close(m->sock);
    if (m->srv) {
        /* Let the service see the hang-up so names are withdrawn before the node goes. */
        mrt_run_once(m->rt, 0);
        msrv_destroy(m->srv);
    }
    mrt_destroy(m->rt);
    if (m->ep >= 0)
        close(m->ep);
    while (m->mq) {
        qmsg *q = m->mq;
        m->mq = q->next;
        free(q);
    }
    while (m->eq) {
        qev *q = m->eq;
        m->eq = q->next;
        free(q);
    }
    free(m->ps);
    free(m);
}

uint32_t msgr_node_id(const msgr *m) { return m ? m->node : 0; }
int msgr_fd(const msgr *m) { return m ? m->ep : -1; }

int msgr_subscribe(msgr *m, bool links, bool names)
{
    if (!m)
        return MSGR_EINVAL;
    m->mask = (links ? MIPC_SUB_LINK : 0) | (names ? MIPC_SUB_NAME : 0);
    return hello(m);
}

/* ---- Devices -------------------------------------------------------------------------------- */
int msgr_device_register(msgr *m, const msgr_device_cfg *cfg, uint32_t *dev)
{
    if (!m || !cfg || !cfg->name || !dev || cfg->nprops > MIPC_MAX_PROPS ||
        (cfg->nprops && !cfg->props))
        return MSGR_EINVAL;
    mipc_w w;
    mipc_w_init(&w, m->sbuf, sizeof m->sbuf, MIPC_DEV_ADD, 0);
    mipc_put16(&w, cfg->dtype);
    mipc_put8(&w, cfg->rank);
    mipc_put8(&w, (uint8_t)((cfg->no_publish ? 0 : MIPC_DF_PUBLISH) |
                            (cfg->exclusive ? MIPC_DF_EXCLUSIVE : 0) |
                            (cfg->manual_accept ? MIPC_DF_MANUAL : 0)));
    mipc_putstr(&w, cfg->name, strlen(cfg->name));
    mipc_put8(&w, (uint8_t)cfg->nprops);
    for (size_t i = 0; i < cfg->nprops; i++) {
        if (!cfg->props[i].key || !cfg->props[i].value)
            return MSGR_EINVAL;
        mipc_putstr(&w, cfg->props[i].key, strlen(cfg->props[i].key));
        mipc_putstr(&w, cfg->props[i].value, strlen(cfg->props[i].value));
    }
    size_t n = mipc_w_end(&w);
    if (!n)
        return MSGR_EINVAL;
    int r = request(m, m->sbuf, n);
    if (r == 0)
        *dev = resp32(m);
    return r;
}

static int simple(msgr *m, uint16_t op, uint32_t handle)
{
    if (!m)
        return MSGR_EINVAL;
    mipc_w w;
    mipc_w_init(&w, m->sbuf, sizeof m->sbuf, op, 0);
    mipc_put32(&w, handle);
    return request(m, m->sbuf, mipc_w_end(&w));
}

int msgr_device_unregister(msgr *m, uint32_t dev) { return simple(m, MIPC_DEV_DEL, dev); }
int msgr_publish(msgr *m, uint32_t dev) { return simple(m, MIPC_PUBLISH, dev); }
int msgr_withdraw(msgr *m, uint32_t dev) { return simple(m, MIPC_WITHDRAW, dev); }

/* ---- Paths ---------------------------------------------------------------------------------- */
int msgr_open(msgr *m, uint32_t dev, const char *name, int kind, uint32_t *path)
{
    if (!m || !name || !path || kind < 0 || kind > MSGR_OPEN_ANYCAST || strlen(name) > 255)
        return MSGR_EINVAL;
    mipc_w w;
    mipc_w_init(&w, m->sbuf, sizeof m->sbuf, MIPC_OPEN, 0);
    mipc_put32(&w, dev);
    mipc_put8(&w, (uint8_t)kind);
    mipc_putstr(&w, name, strlen(name));
    int r = request(m, m->sbuf, mipc_w_end(&w));
    if (r == 0) {
        *path = resp32(m);
        pstate *p = ps_get(m, *path, true);
        if (p && p->state == MSGR_PS_CLOSED)
            p->state = MSGR_PS_OPENING;
    }
    return r;
}

int msgr_path_state(msgr *m, uint32_t path)
{
    if (!m)
        return MSGR_EINVAL;
    pump(m, 0);
    pstate *p = ps_get(m, path, false);
    return p ? p->state : MSGR_ENOENT;
}

int msgr_open_wait(msgr *m, uint32_t dev, const char *name, int kind, uint32_t *path,
                   int timeout_ms)
{
    int r = msgr_open(m, dev, name, kind, path);
    if (r < 0)
        return r;
    int64_t dl = deadline_of(timeout_ms);
    for (;;) {
        int st = msgr_path_state(m, *path);
        if (st == MSGR_PS_OPEN)
            return 0;
        if (st == MSGR_PS_BROKEN || st == MSGR_PS_CLOSED)
            return MSGR_ENOTCONN;
        if (remaining(dl) == 0)
            return MSGR_ETIMEDOUT;
        r = pump(m, remaining(dl));
        if (r < 0)
            return r;
    }
}

int msgr_accept(msgr *m, uint32_t path) { return simple(m, MIPC_ACCEPT, path); }

int msgr_path_close(msgr *m, uint32_t path)
{
    int r = simple(m, MIPC_CLOSE, path);
    pstate *p = m ? ps_get(m, path, false) : NULL;
    if (p && r == 0 && p->state == MSGR_PS_OPEN)
        p->state = MSGR_PS_CLOSING;
    return r;
}

/* ---- Sending -------------------------------------------------------------------------------- */
/* b holds a complete SEND request; retry while the path has no credit. */
static int send_req(msgr *m, uint32_t path, uint8_t *b, size_t len, int timeout_ms)
{
    int64_t dl = deadline_of(timeout_ms);
    for (;;) {
        pstate *p = ps_get(m, path, true);
        uint32_t gen = p ? p->wgen : 0;
        int r = request(m, b, len);
        if (r != MSGR_EAGAIN)
            return r;
        /* The daemon sends WRITABLE right after the EAGAIN response when credit came
         * back in the same turn; pump() may already have read both.  Only a path with
         * no notice since the request is blocked (a stale notice only costs a retry). */
        p = ps_get(m, path, true);
        if (p && p->wgen == gen)
            p->blocked = true;
        if (timeout_ms == 0)
            return r;
        while (p && p->blocked) {
            if (remaining(dl) == 0)
                return MSGR_EAGAIN;
            int e = pump(m, remaining(dl));
            if (e < 0)
                return e;
        }
    }
}

int msgr_sendv(msgr *m, uint32_t path, const struct iovec *iov, int iovcnt, int timeout_ms)
{
    if (!m || iovcnt < 0 || (iovcnt && !iov))
        return MSGR_EINVAL;
    mipc_w w;
    mipc_w_init(&w, m->sbuf, sizeof m->sbuf, MIPC_SEND, 0);
    mipc_put32(&w, path);
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        total += iov[i].iov_len;
        if (total > MSGR_MAX_MSG)
            return MSGR_ETOOBIG;
        mipc_putraw(&w, iov[i].iov_base, iov[i].iov_len);
    }
    size_t n = mipc_w_end(&w);
    if (!n)
        return MSGR_ETOOBIG;
    return send_req(m, path, m->sbuf, n, timeout_ms);
}

int msgr_send(msgr *m, uint32_t path, const void *data, size_t len, int timeout_ms)
{
    struct iovec v = {(void *)(uintptr_t)data, len};
    return msgr_sendv(m, path, &v, 1, timeout_ms);
}

msgr_static_msg *msgr_static_alloc(msgr *m, size_t cap)
{
    if (!m || cap > MSGR_MAX_MSG)
        return NULL;
    msgr_static_msg *s = malloc(sizeof *s + MSGR_HEADROOM + cap);
    if (s)
        s->cap = cap;
    return s;
}

void *msgr_static_data(msgr_static_msg *s) { return s ? s->buf + MSGR_HEADROOM : NULL; }
size_t msgr_static_capacity(const msgr_static_msg *s) { return s ? s->cap : 0; }
void msgr_static_free(msgr_static_msg *s) { free(s); }

int msgr_static_send(msgr *m, uint32_t path, msgr_static_msg *s, size_t len, int timeout_ms)
{
    if (!m || !s || len > s->cap)
        return MSGR_EINVAL;
    /* The header goes into the headroom in front of the payload: no copy, no allocation. */
    mipc_w w;
    mipc_w_init(&w, s->buf, MSGR_HEADROOM, MIPC_SEND, 0);
    mipc_put32(&w, path);
    uint32_t total = (uint32_t)(MSGR_HEADROOM + len);
    s->buf[0] = (uint8_t)total, s->buf[1] = (uint8_t)(total >> 8), s->buf[2] = (uint8_t)(total >> 16),
    s->buf[3] = (uint8_t)(total >> 24);
    return send_req(m, path, s->buf, total, timeout_ms);
}

/* ---- Receiving ------------------------------------------------------------------------------ */
static qmsg *take_msg(msgr *m, uint32_t path, uint32_t dev)
{
    for (qmsg **pp = &m->mq; *pp; pp = &(*pp)->next) {
        qmsg *q = *pp;
        if ((path && q->info.path != path) || (dev && q->info.device != dev))
            continue;
        *pp = q->next;
        if (m->mq_tail == &q->next)
            m->mq_tail = pp;
        return q;
    }
    return NULL;
}

static bool has_msg(const msgr *m, uint32_t path, uint32_t dev)
{
    for (const qmsg *q = m->mq; q; q = q->next)
        if ((!path || q->info.path == path) && (!dev || q->info.device == dev))
            return true;
    return false;
}

int msgr_recv(msgr *m, uint32_t path, void *buf, size_t cap, msgr_msg_info *info, int timeout_ms)
{
    if (!m || (cap && !buf))
        return MSGR_EINVAL;
    int64_t dl = deadline_of(timeout_ms);
    for (;;) {
        qmsg *q = take_msg(m, path, 0);
        if (q) {
            size_t n = q->info.len < cap ? q->info.len : cap;
            memcpy(buf, q->data, n);
            if (info)
                *info = q->info;
            bool trunc = q->info.len > cap;
            free(q);
            return trunc ? MSGR_ETRUNC : (int)n;
        }
        if (remaining(dl) == 0 && timeout_ms >= 0) {
            int r = pump(m, 0);
            if (r < 0)
                return r;
            if (r == 0)
                return MSGR_ETIMEDOUT;
            continue;
        }
        int r = pump(m, remaining(dl));
        if (r < 0)
            return r;
    }
}

int msgr_next_event(msgr *m, msgr_event *ev, int timeout_ms)
{
    if (!m || !ev)
        return MSGR_EINVAL;
    int64_t dl = deadline_of(timeout_ms);
    for (;;) {
        if (m->eq) {
            qev *q = m->eq;
            m->eq = q->next;
            if (!m->eq)
                m->eq_tail = &m->eq;
            *ev = q->ev;
            free(q);
            return 0;
        }
        int r = pump(m, remaining(dl));
        if (r < 0)
            return r;
        if (r == 0 && remaining(dl) == 0)
            return MSGR_ETIMEDOUT;
    }
}

static bool has_request(const msgr *m, uint32_t dev)
{
    for (const qev *q = m->eq; q; q = q->next)
        if (q->ev.type == MSGR_EV_REQUEST && q->ev.device == dev)
            return true;
    return false;
}

int msgr_wait(msgr *m, msgr_waitable *it, size_t n, int timeout_ms)
{
    if (!m || (n && !it))
        return MSGR_EINVAL;
    int64_t dl = deadline_of(timeout_ms);
    for (;;) {
        int r = pump(m, 0);
        if (r < 0)
            return r;
        int ready = 0;
        for (size_t i = 0; i < n; i++) {
            bool ok = false;
            switch (it[i].kind) {
            case MSGR_W_READABLE: ok = has_msg(m, it[i].handle, 0); break;
            case MSGR_W_DEVICE:
                ok = has_msg(m, 0, it[i].handle) || has_request(m, it[i].handle);
                break;
            case MSGR_W_EVENT: ok = m->eq != NULL; break;
            case MSGR_W_WRITABLE: {
                pstate *p = ps_get(m, it[i].handle, false);
                ok = p && p->state == MSGR_PS_OPEN && !p->blocked;
                break;
            }
            default: break;
            }
            it[i].ready = ok;
            ready += ok;
        }
        if (ready || remaining(dl) == 0)
            return ready;
        r = pump(m, remaining(dl));
        if (r < 0)
            return r;
    }
}
