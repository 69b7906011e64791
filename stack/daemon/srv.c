/*
 * srv.c — the node service: client connections, devices, paths, events, control.
 *
 * Ownership: every device and every path belongs to one client connection; when the
 * connection ends its paths are released (aborted if live) and its devices withdrawn
 * and removed, so a crashed application never leaves names behind.
 *
 * Flow control end to end: a received path message is acknowledged to the core
 * (mc_path_consume, which returns credit to the sender) only once it is written into
 * the client's socket.  A slow client therefore stalls its senders instead of growing
 * the daemon's memory; the per-client queue is bounded by the path windows.
 */
#define _GNU_SOURCE
#include "srv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc.h"
#include "naming.h"
#include "path.h"
#include "srv_int.h"

#define SRV_OUTQ_MAX (16u << 20) /* a client this far behind is disconnected */

static void srv_schedule(msrv *s);

/* ---- Lookups ---------------------------------------------------------------------------- */
static dev *dev_find(msrv *s, uint32_t id)
{
    for (dev *d = s->devs; d; d = d->next)
        if (d->id == id)
            return d;
    return NULL;
}

static pth *pth_find(msrv *s, uint32_t id)
{
    for (pth *p = s->paths; p; p = p->next)
        if (p->id == id)
            return p;
    return NULL;
}

static pth *pth_add(msrv *s, client *c, uint32_t id, uint32_t devid)
{
    pth *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->c = c;
    p->id = id;
    p->dev = devid;
    p->next = s->paths;
    s->paths = p;
    return p;
}

/* ---- Output to clients ---------------------------------------------------------------------- */
/* Mark a client gone; it is freed (paths released, names withdrawn) after this turn.
 * Always schedule that: a client killed by a failed send (it closed its end while we
 * wrote to it) would otherwise linger until unrelated work ran, with its names still
 * published and its hung-up fd waking the loop for nothing. */
static void client_kill(client *c)
{
    if (!c->dead) {
        c->dead = true;
        srv_schedule(c->srv);
    }
}

static void client_send(client *c, const uint8_t *m, size_t len, uint32_t consume_path)
{
    if (c->dead)
        return;
    if (!c->oq) {
        ssize_t r = send(c->fd, m, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r == (ssize_t)len) {
            if (consume_path) {
                pth *p = pth_find(c->srv, consume_path);
                if (p) {
                    p->consume++;
                    srv_schedule(c->srv);
                }
            }
            return;
        }
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
            client_kill(c);
            return;
        }
    }
    if (c->oq_bytes + len > SRV_OUTQ_MAX) {
        mrt_log(MRT_M_IPC, MRT_LOG_WARN, "client fd %d too slow: disconnected", c->fd);
        c->srv->slow_kills++;
        client_kill(c);
        return;
    }
    outmsg *o = malloc(sizeof *o + len);
    if (!o) {
        client_kill(c);
        return;
    }
    o->next = NULL;
    o->consume_path = consume_path;
    o->len = len;
    memcpy(o->data, m, len);
    *c->oq_tail = o;
    c->oq_tail = &o->next;
    c->oq_bytes += len;
    mrt_mod_fd(c->srv->rt, c->fd, EPOLLIN | EPOLLOUT);
}

static void client_drain(client *c)
{
    while (c->oq && !c->dead) {
        outmsg *o = c->oq;
        ssize_t r = send(c->fd, o->data, o->len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
                client_kill(c);
            return;
        }
        if (o->consume_path) {
            pth *p = pth_find(c->srv, o->consume_path);
            if (p) {
                p->consume++;
                srv_schedule(c->srv);
            }
        }
        c->oq = o->next;
        if (!c->oq)
            c->oq_tail = &c->oq;
        c->oq_bytes -= o->len;
        free(o);
    }
    if (!c->oq && !c->dead)
        mrt_mod_fd(c->srv->rt, c->fd, EPOLLIN);
}

static void reply(client *c, const mipc_req *q, int status, const uint8_t *body, size_t blen)
{
    uint8_t b[MIPC_HDR_LEN + 8 + 64];
    mipc_w w;
    uint8_t *big = NULL;
    uint8_t *buf = b;
    size_t cap = sizeof b;
    if (blen > 64) {
        big = malloc(MIPC_HDR_LEN + 4 + blen);
        if (!big) {
            client_kill(c);
            return;
        }
        buf = big;
        cap = MIPC_HDR_LEN + 4 + blen;
    }
    mipc_w_init(&w, buf, cap, (uint16_t)(q->op | MIPC_RESP), q->id);
    mipc_put32(&w, (uint32_t)status);
    if (blen)
        mipc_putraw(&w, body, blen);
    size_t n = mipc_w_end(&w);
    if (n)
        client_send(c, buf, n, 0);
    free(big);
}

static void reply32(client *c, const mipc_req *q, int status, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    reply(c, q, status, b, status < 0 ? 0 : 4);
}

/* ---- Core events ---------------------------------------------------------------------------- */
static client *owner_of(msrv *s, const mc_event *ev, pth **pp)
{
    pth *p = pth_find(s, ev->path);
    if (!p && ev->group)
        p = pth_find(s, ev->group);
    if (p) {
        *pp = p;
        return p->c;
    }
    dev *d = dev_find(s, ev->device);
    if (!d)
        return NULL;
    /* A path opened to one of our devices: it belongs to the device's client. */
    p = pth_add(s, d->c, ev->path, ev->device);
    *pp = p;
    return d->c;
}

void msrv_event(void *srv, const mc_event *ev)
{
    msrv *s = srv;
    uint8_t b[MIPC_MAX_MSG];
    mipc_w w;
    pth *p = NULL;
    client *c;
    msrv_drv_record(ev); /* only when the conformance suite asked for it (ctl_drv.c) */
    switch (ev->type) {
    case MC_EV_PATH_MSG:
        c = owner_of(s, ev, &p);
        if (!c || !p) {
            /* Nobody holds the path any more: consume so the sender is not stalled. */
            mc_path_consume(mrt_node(s->rt), ev->path, 1, mrt_now());
            return;
        }
        p->rx++;
        mipc_w_init(&w, b, sizeof b, MIPC_EV_MSG, 0);
        mipc_put32(&w, ev->path);
        mipc_put32(&w, ev->device);
        mipc_put32(&w, ev->peer);
        mipc_putraw(&w, ev->data, ev->len);
        if (mipc_w_end(&w))
            client_send(c, b, w.len, p->id);
        else
            p->consume++; /* too big for the socket: counted as consumed, dropped */
        return;
    case MC_EV_PATH_STATE:
    case MC_EV_PATH_REQUEST:
        c = owner_of(s, ev, &p);
        if (!c)
            return;
        if (ev->type == MC_EV_PATH_STATE && p && p->id == ev->path)
            p->state = ev->path_state;
        if (p) {
            p->peer = ev->peer;
            p->peer_dev = ev->peer_device;
        }
        mrt_log(MRT_M_PATH, MRT_LOG_DEBUG, "path %u %s state %d reason %d", ev->path,
                ev->type == MC_EV_PATH_REQUEST ? "request" : "status", ev->path_state, ev->reason);
        if (ev->type == MC_EV_PATH_STATE) {
            mipc_w_init(&w, b, sizeof b, MIPC_EV_PATH, 0);
            mipc_put32(&w, ev->path);
            mipc_put32(&w, ev->group);
            mipc_put32(&w, ev->device);
            mipc_put32(&w, ev->peer);
            mipc_put32(&w, ev->peer_device);
            mipc_put8(&w, ev->path_state);
            mipc_put16(&w, (uint16_t)ev->reason);
        } else {
            mipc_w_init(&w, b, sizeof b, MIPC_EV_REQUEST, 0);
            mipc_put32(&w, ev->path);
            mipc_put32(&w, ev->device);
            mipc_put32(&w, ev->peer);
            mipc_put32(&w, ev->peer_device);
        }
        if (mipc_w_end(&w))
            client_send(c, b, w.len, 0);
        return;
    case MC_EV_LINK_UP:
    case MC_EV_LINK_DOWN:
        mipc_w_init(&w, b, sizeof b, MIPC_EV_LINK, 0);
        mipc_put32(&w, ev->peer);
        mipc_put32(&w, (uint32_t)ev->bearer);
        mipc_put8(&w, ev->type == MC_EV_LINK_UP);
        mipc_put8(&w, (uint8_t)ev->reason);
        break;
    case MC_EV_PEER_UP:
    case MC_EV_PEER_DOWN:
        mipc_w_init(&w, b, sizeof b, MIPC_EV_PEER, 0);
        mipc_put32(&w, ev->peer);
        mipc_put8(&w, ev->type == MC_EV_PEER_UP);
        mipc_put8(&w, (uint8_t)ev->reason);
        break;
    case MC_EV_NAME: {
        const mn_entry *e = ev->name_entry;
        if (!e || ev->name_event == MN_EV_WINNER)
            return;
        mrt_log(MRT_M_NAME, MRT_LOG_DEBUG, "name %s %u/%u event %d", (const char *)e->name,
                e->node_id, e->device_id, ev->name_event);
        mipc_w_init(&w, b, sizeof b, MIPC_EV_NAME, 0);
        mipc_put8(&w, (uint8_t)ev->name_event);
        mipc_put32(&w, e->node_id);
        mipc_put32(&w, e->device_id);
        mipc_putstr(&w, (const char *)e->name, e->name_len);
        break;
    }
    default:
        return;
    }
    if (!mipc_w_end(&w))
        return;
    uint32_t bit = ev->type == MC_EV_NAME ? MIPC_SUB_NAME : MIPC_SUB_LINK;
    for (c = s->clients; c; c = c->next)
        if (c->mask & bit)
            client_send(c, b, w.len, 0);
}

/* ---- After each turn: consume, writable notices, dead clients ------------------------------- */
static void client_free(msrv *s, client *c);

static void srv_after(void *user)
{
    msrv *s = user;
    s->posted = false;
    mc_node *n = mrt_node(s->rt);
    mpa_ctx *pc = mc_paths(n);
    uint64_t now = mrt_now();
    s->want_writable = 0;
    for (pth *p = s->paths; p; p = p->next) {
        if (p->consume) {
            mc_path_consume(n, p->id, p->consume, now);
            p->consume = 0;
        }
        if (p->want_writable && pc && mpa_credit(pc, p->id) > 0) {
            p->want_writable = false;
            uint8_t b[32];
            mipc_w w;
            mipc_w_init(&w, b, sizeof b, MIPC_EV_WRITABLE, 0);
            mipc_put32(&w, p->id);
            if (mipc_w_end(&w))
                client_send(p->c, b, w.len, 0);
        }
        s->want_writable += p->want_writable;
    }
    for (client **cp = &s->clients; *cp;) {
        client *c = *cp;
        if (c->dead) {
            *cp = c->next;
            client_free(s, c);
        } else {
            cp = &c->next;
        }
    }
}

static void srv_schedule(msrv *s)
{
    if (!s->posted && mrt_post(s->rt, srv_after, s) == 0)
        s->posted = true;
}

/* ---- Devices ---------------------------------------------------------------------------------- */
static int dev_publish(msrv *s, dev *d)
{
    mp_name_rec r;
    memset(&r, 0, sizeof r);
    r.device_id = d->id;
    r.dtype = d->dtype;
    r.rank = d->rank;
    r.nflags = (d->flags & MIPC_DF_EXCLUSIVE) ? MP_NFLAG_EXCLUSIVE : 0;
    r.name.ptr = (const uint8_t *)d->name;
    r.name.len = strlen(d->name);
    r.prop_count = d->nprops;
    for (unsigned i = 0; i < d->nprops; i++) {
        r.props[i].key = (const uint8_t *)d->key[i];
        r.props[i].key_len = (uint8_t)strlen(d->key[i]);
        r.props[i].val = (const uint8_t *)d->val[i];
        r.props[i].val_len = d->vlen[i];
    }
    int e = mc_publish(mrt_node(s->rt), &r, mrt_now());
    if (e == 0)
        d->published = true;
    return e;
}

static void dev_free(msrv *s, dev *d)
{
    mc_node *n = mrt_node(s->rt);
    if (d->published)
        mc_withdraw(n, d->id, d->name, mrt_now());
    if (mc_paths(n))
        mpa_device_remove(mc_paths(n), d->id);
    d->c->ndevs--;
    for (dev **dp = &s->devs; *dp; dp = &(*dp)->next)
        if (*dp == d) {
            *dp = d->next;
            break;
        }
    free(d);
}

static void pth_free(msrv *s, pth *p)
{
    mpa_ctx *pc = mc_paths(mrt_node(s->rt));
    if (pc)
        mpa_release(pc, p->id);
    if (p->opener)
        p->c->npaths--;
    for (pth **pp = &s->paths; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    free(p);
}

static void client_free(msrv *s, client *c)
{
    for (pth *p = s->paths, *nx; p; p = nx) {
        nx = p->next;
        if (p->c == c)
            pth_free(s, p);
    }
    for (dev *d = s->devs, *nx; d; d = nx) {
        nx = d->next;
        if (d->c == c)
            dev_free(s, d);
    }
    mrt_del_fd(s->rt, c->fd);
    close(c->fd);
    while (c->oq) {
        outmsg *o = c->oq;
        c->oq = o->next;
        free(o);
    }
    mrt_log(MRT_M_IPC, MRT_LOG_INFO, "client disconnected");
    free(c);
    mrt_flush(s->rt);
}

/* ---- Requests ----------------------------------------------------------------------------------- */


typedef struct match_ctx {
    mpa_target t[256];
    size_t n;
    uint32_t self;
} match_ctx;

static int match_visit(void *user, const mn_entry *e)
{
    match_ctx *m = user;
    if (e->node_id == m->self || m->n >= 256)
        return 0;
    m->t[m->n].node = e->node_id;
    m->t[m->n].device = e->device_id;
    m->t[m->n].name = e->name;
    m->t[m->n].name_len = e->name_len;
    m->n++;
    return 0;
}

static int map_mpa(int r)
{
    switch (r) {
    case MPA_ENOMEM: return MC_ENOMEM;
    case MPA_ELIMIT: return MC_ELIMIT;
    case MPA_ENOPATH: case MPA_ENODEV: return MC_ENOENT;
    case MPA_ESTATE: return MC_ESTATE;
    case MPA_ENOCREDIT: return MC_EAGAIN;
    case MPA_EEXIST: return MC_EEXIST;
    default: return r < 0 ? MC_EINVAL : r;
    }
}

static int do_open(msrv *s, client *c, const mipc_req *q, uint32_t *out)
{
    mc_node *n = mrt_node(s->rt);
    mpa_ctx *pc = mc_paths(n);
    const mn_table *t = mc_names(n);
    dev *d = dev_find(s, q->u.open.dev);
    if (!d || d->c != c)
        return MC_ENOENT;
    if (!pc || !t)
        return MC_ENOTSUP;
    if (c->npaths >= MSRV_MAX_PATHS_PER_CLIENT) {
        s->refused_paths++; /* its own paths only: the node's budget stays for others */
        return MC_ELIMIT;
    }
    const uint8_t *nm = (const uint8_t *)q->u.open.name.p;
    size_t nl = q->u.open.name.len;
    mpa_open_args a;
    memset(&a, 0, sizeof a);
    a.local_device = d->id;
    uint64_t now = mrt_now();
    int r;
    bool group = false;
    if (q->u.open.kind == MIPC_K_PATTERN) {
        static match_ctx m;
        m.n = 0;
        m.self = mc_node_id(n);
        r = mn_match(t, nm, nl, match_visit, &m);
        if (r < 0)
            return MC_EINVAL;
        if (m.n == 0)
            return MC_ENOENT;
        a.pkind = MP_PK_MULTICAST;
        r = mpa_open_group(pc, &a, m.t, m.n, now, out);
        group = true;
    } else {
        const mn_entry *e = q->u.open.kind == MIPC_K_ANYCAST ? mn_anycast((mn_table *)t, nm, nl)
                                                             : mn_lookup(t, nm, nl);
        if (!e)
            return MC_ENOENT;
        if (e->node_id == mc_node_id(n))
            return MC_ENOTSUP; /* paths between devices of one node: not in 0.1 */
        if (!mc_peer_is_up(n, e->node_id))
            return MC_ENOTCONN;
        a.pkind = q->u.open.kind == MIPC_K_ANYCAST ? MP_PK_ANYCAST : MP_PK_UNICAST;
        a.peer.node = e->node_id;
        a.peer.device = e->device_id;
        a.name = e->name;
        a.name_len = e->name_len;
        r = mpa_open(pc, &a, now, out);
    }
    if (r < 0)
        return map_mpa(r);
    pth *p = pth_add(s, c, *out, d->id);
    if (!p)
        return MC_ENOMEM;
    p->group = group;
    p->opener = true;
    c->npaths++;
    p->state = MPA_ST_OPENING;
    return 0;
}

static void handle(msrv *s, client *c, const uint8_t *m, size_t len)
{
    mipc_req q;
    int e = mipc_decode_request(m, len, &q);
    s->ipc_reqs++;
    if (e < 0) {
        s->ipc_bad++;
        mrt_log(MRT_M_IPC, MRT_LOG_WARN, "bad request from fd %d: %s", c->fd, mipc_strerror(e));
        /* Answer if the header is readable, so a client sees why; MC_EINVAL. */
        if (len >= MIPC_HDR_LEN) {
            q.op = mipc_msg_op(m, len) & 0x7FFF;
            q.id = mipc_msg_id(m, len);
            reply(c, &q, MC_EINVAL, NULL, 0);
        }
        return;
    }
    mc_node *n = mrt_node(s->rt);
    uint64_t now = mrt_now();
    switch (q.op) {
    case MIPC_HELLO: {
        c->mask = q.u.hello.mask;
        uint8_t b[8];
        mipc_w w = {b, 8, 0, false};
        mipc_put32(&w, mc_node_id(n));
        mipc_put32(&w, 0);
        reply(c, &q, q.u.hello.version == MIPC_VERSION ? 0 : MC_ENOTSUP, b, 8);
        return;
    }
    case MIPC_DEV_ADD: {
        char name[128];
        if (q.u.dev.name.len > 127 ||
            mp_name_check((const uint8_t *)q.u.dev.name.p, q.u.dev.name.len) != 0) {
            reply32(c, &q, MC_EINVAL, 0);
            return;
        }
        memcpy(name, q.u.dev.name.p, q.u.dev.name.len);
        name[q.u.dev.name.len] = 0;
        if (c->ndevs >= MSRV_MAX_DEVS_PER_CLIENT) {
            s->refused_devs++;
            reply32(c, &q, MC_ELIMIT, 0);
            return;
        }
        dev *d = calloc(1, sizeof *d);
        if (!d) {
            reply32(c, &q, MC_ENOMEM, 0);
            return;
        }
        d->c = c;
        d->id = ++s->next_dev;
        memcpy(d->name, name, sizeof name);
        d->dtype = q.u.dev.dtype;
        d->rank = q.u.dev.rank;
        d->flags = q.u.dev.flags;
        d->nprops = q.u.dev.nprops;
        for (unsigned i = 0; i < d->nprops; i++) {
            if (q.u.dev.key[i].len > 31) {
                free(d);
                reply32(c, &q, MC_EINVAL, 0);
                return;
            }
            memcpy(d->key[i], q.u.dev.key[i].p, q.u.dev.key[i].len);
            memcpy(d->val[i], q.u.dev.val[i].p, q.u.dev.val[i].len);
            d->vlen[i] = q.u.dev.val[i].len;
        }
        int r = mpa_device_add(mc_paths(n), d->id,
                               (d->flags & MIPC_DF_MANUAL) ? 0 : MPA_DEV_AUTO_ACCEPT, 0, 0);
        if (r < 0) {
            free(d);
            reply32(c, &q, map_mpa(r), 0);
            return;
        }
        d->next = s->devs;
        s->devs = d;
        c->ndevs++;
        r = (d->flags & MIPC_DF_PUBLISH) ? dev_publish(s, d) : 0;
        if (r < 0) {
            dev_free(s, d);
            reply32(c, &q, r, 0);
            return;
        }
        mrt_log(MRT_M_NAME, MRT_LOG_INFO, "device %u '%s' registered%s", d->id, d->name,
                d->published ? " and published" : "");
        reply32(c, &q, 0, d->id);
        return;
    }
    case MIPC_DEV_DEL:
    case MIPC_PUBLISH:
    case MIPC_WITHDRAW: {
        dev *d = dev_find(s, q.u.handle);
        int r = 0;
        if (!d || d->c != c)
            r = MC_ENOENT;
        else if (q.op == MIPC_DEV_DEL)
            dev_free(s, d);
        else if (q.op == MIPC_PUBLISH)
            r = dev_publish(s, d);
        else if (d->published) {
            r = mc_withdraw(n, d->id, d->name, now);
            d->published = false;
        }
        reply(c, &q, r, NULL, 0);
        return;
    }
    case MIPC_OPEN: {
        uint32_t path = 0;
        int r = do_open(s, c, &q, &path);
        reply32(c, &q, r, path);
        return;
    }
    case MIPC_ACCEPT:
    case MIPC_CLOSE: {
        pth *p = pth_find(s, q.u.handle);
        int r = 0;
        if (!p || p->c != c)
            r = MC_ENOENT;
        else if (q.op == MIPC_ACCEPT)
            r = mc_path_accept(n, p->id);
        else if (p->state == MPA_ST_CLOSED || p->state == MPA_ST_BROKEN || p->group)
            pth_free(s, p); /* terminal (or a group): release the handle now */
        else
            r = mc_path_close(n, p->id, now);
        reply(c, &q, r, NULL, 0);
        return;
    }
    case MIPC_SEND: {
        pth *p = pth_find(s, q.u.send.path);
        int r;
        if (!p || p->c != c)
            r = MC_ENOENT;
        else
            r = mc_path_send(n, p->id, q.u.send.data, q.u.send.len, now);
        if (r == MC_EAGAIN) {
            p->want_writable = true;
            s->want_writable++;
            srv_schedule(s);
        } else if (r == 0) {
            p->tx++;
        }
        reply(c, &q, r, NULL, 0);
        return;
    }
    case MIPC_CTL: {
        static char out[MIPC_MAX_PAYLOAD];
        int r = msrv_ctl(s, c, &q, out, sizeof out);
        reply(c, &q, r < 0 ? r : 0, (const uint8_t *)out, r < 0 ? strlen(out) : (size_t)r);
        return;
    }
    }
}

static void on_client(void *user, int fd, uint32_t events)
{
    client *c = user;
    msrv *s = c->srv;
    if (c->dead)
        return;
    if (events & EPOLLOUT)
        client_drain(c);
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        /* A bounded batch per turn so one busy client cannot starve the bearers. */
        for (int i = 0; i < 64 && !c->dead; i++) {
            ssize_t r = recv(fd, s->buf, sizeof s->buf, MSG_DONTWAIT | MSG_TRUNC);
            if (r == 0) {
                client_kill(c);
                break;
            }
            if (r < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                    client_kill(c);
                break;
            }
            if ((size_t)r > sizeof s->buf) {
                s->ipc_bad++;
                continue; /* truncated: not a request we can decode */
            }
            handle(s, c, s->buf, (size_t)r);
        }
    }
    if (c->dead)
        srv_schedule(s);
}

int msrv_add_client(msrv *s, int fd)
{
    client *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return MC_ENOMEM;
    }
    c->srv = s;
    c->fd = fd;
    c->oq_tail = &c->oq;
    struct ucred cr;
    socklen_t cl = sizeof cr;
    c->uid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0 ? cr.uid : (uid_t)-1;
    int r = mrt_add_fd(s->rt, fd, EPOLLIN, on_client, c);
    if (r < 0) {
        close(fd);
        free(c);
        return r;
    }
    c->next = s->clients;
    s->clients = c;
    s->clients_total++;
    mrt_log(MRT_M_IPC, MRT_LOG_INFO, "client attached (uid %d)", (int)c->uid);
    return 0;
}

void msrv_set_access(msrv *s, uid_t uid, gid_t gid)
{
    s->access_set = true;
    s->allow_uid = uid;
    s->allow_gid = gid;
}

/* msrv_set_access's rule on the peer's credentials.  The socket file's mode is the
 * first gate; this one still holds when the file is made world-writable by mistake,
 * or when the socket is reached through a bind mount with other permissions. */
static bool srv_may_attach(const msrv *s, int fd)
{
    struct ucred cr;
    socklen_t cl = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0)
        return false;
    if (!s->access_set || cr.uid == 0 || cr.uid == geteuid())
        return true;
    if (s->allow_uid != (uid_t)-1 && cr.uid == s->allow_uid)
        return true;
    if (s->allow_gid == (gid_t)-1)
        return false;
    if (cr.gid == s->allow_gid)
        return true;
    gid_t g[256]; /* supplementary groups of the peer (Linux >= 4.13) */
    socklen_t gl = sizeof g;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &gl) < 0)
        return false; /* ERANGE (more than 256 groups) included: refuse, do not guess */
    for (size_t i = 0; i < gl / sizeof g[0]; i++)
        if (g[i] == s->allow_gid)
            return true;
    return false;
}

static void on_listen(void *user, int fd, uint32_t events)
{
    (void)events;
    msrv *s = user;
    for (int i = 0; i < 16; i++) {
        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
            return;
        if (!srv_may_attach(s, c)) {
            /* Logged at 1, 2, 4, 8...: a local user looping on connect() must not
             * flood the log; the counter keeps the exact number. */
            uint64_t n = ++s->refused_attach;
            if ((n & (n - 1)) == 0)
                mrt_log(MRT_M_IPC, MRT_LOG_WARN, "client refused: not an allowed user or group "
                        "(%llu so far)", (unsigned long long)n);
            close(c);
            continue;
        }
        msrv_add_client(s, c);
    }
}

int msrv_listen(msrv *s, const char *path, mode_t mode, uid_t uid, gid_t gid)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return MC_EINVAL;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return MRT_EOS;
    unlink(path); /* a stale socket of a killed daemon */
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 64) < 0) {
        mrt_log(MRT_M_IPC, MRT_LOG_ERR, "bind %s: %s", path, strerror(errno));
        close(fd);
        return MRT_EOS;
    }
    if (chmod(path, mode) < 0 ||
        ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) < 0)) {
        mrt_log(MRT_M_IPC, MRT_LOG_ERR, "chmod/chown %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return MRT_EOS;
    }
    int r = mrt_add_fd(s->rt, fd, EPOLLIN, on_listen, s);
    if (r < 0) {
        close(fd);
        return r;
    }
    s->lfd = fd;
    snprintf(s->lpath, sizeof s->lpath, "%s", path);
    return 0;
}

void msrv_set_ctl_ext(msrv *s, msrv_ctl_ext_fn fn, void *user)
{
    /* Several hosted services (HA, MINET) each bring their objects: keep them all. */
    if (fn && s->nctl_ext < MSRV_CTL_EXT_MAX) {
        s->ctl_ext[s->nctl_ext] = fn;
        s->ctl_ext_user[s->nctl_ext++] = user;
    }
}

int msrv_create(msrv **out)
{
    msrv *s = calloc(1, sizeof *s);
    if (!s)
        return MC_ENOMEM;
    s->lfd = -1;
    s->started = mrt_now();
    *out = s;
    return 0;
}

static void srv_turn(void *user)
{
    msrv *s = user;
    if (s->want_writable || s->posted)
        srv_after(s);
}

void msrv_set_rt(msrv *s, mrt *rt)
{
    s->rt = rt;
    mrt_set_turn_hook(rt, srv_turn, s);
}

void msrv_destroy(msrv *s)
{
    if (!s)
        return;
    while (s->clients) {
        client *c = s->clients;
        s->clients = c->next;
        client_free(s, c);
    }
    if (s->lfd >= 0) {
        mrt_del_fd(s->rt, s->lfd);
        close(s->lfd);
        unlink(s->lpath);
    }
    free(s);
}
