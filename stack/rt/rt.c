/*
 * rt.c — the node runtime: epoll + timerfd around one mc_node and its bearers.
 */
#define _GNU_SOURCE
#include "rt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { SRC_TIMER = 1, SRC_BEARER, SRC_USER };

/* What an epoll entry points at. */
typedef struct mrt_src {
    int kind;
    int fd;
    mrt_fd_fn fn;        /* USER */
    void *user;          /* USER: the caller's; BEARER: the slot */
    struct mrt_src *next;
} mrt_src;

typedef struct mrt_slot {
    bool used;
    int id; /* core bearer id */
    char spec[256];
    struct mb_bearer *mb;
    struct mb_capture *cap;
    mrt_src src;
    mrt *rt;
} mrt_slot;

typedef struct mrt_work {
    void (*fn)(void *);
    void *user;
    struct mrt_work *next;
} mrt_work;

struct mrt {
    mrt_config cfg;
    mc_node *node;
    int ep, tfd;
    uint64_t armed; /* deadline the timerfd is armed for, UINT64_MAX = disarmed */
    mrt_src timer;
    mrt_slot slots[MRT_MAX_BEARERS];
    mrt_src *user_srcs;
    /* Sources removed during a turn are parked here, not freed, because the epoll
     * batch being dispatched may still hold pointers to them. */
    mrt_src *graveyard;
    mrt_work *work, **work_tail;
    void (*turn_fn)(void *);
    void *turn_user;
    size_t mem;
    /* RNG buffer: getrandom() in blocks so a burst of link resets is not a syscall each. */
    uint32_t rnd[16];
    unsigned rnd_left;
};

const char *mrt_strerror(int err)
{
    if (err >= 0)
        return "success";
    if (err > -100)
        return mc_strerror(err);
    if (err > -200)
        return mb_strerror(err - MRT_EMB_BASE);
    switch (err) {
    case MRT_EOS: return "operating system call failed";
    case MRT_ENOBEARER: return "no such bearer";
    case MRT_EFULL: return "too many bearers";
    case MRT_ESPEC: return "malformed bearer spec";
    default: return "unknown runtime error";
    }
}

uint64_t mrt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- Injected services ------------------------------------------------------------------ */
static void *mrt_alloc(void *user, size_t size)
{
    mrt *rt = user;
    void *p = malloc(size);
    if (p)
        rt->mem += size;
    return p;
}

static void mrt_free(void *user, void *p, size_t size)
{
    mrt *rt = user;
    rt->mem -= size;
    free(p);
}

static uint32_t mrt_rand(void *user)
{
    mrt *rt = user;
    if (!rt->rnd_left) {
        ssize_t r = getrandom(rt->rnd, sizeof rt->rnd, 0);
        if (r != (ssize_t)sizeof rt->rnd) {
            /* getrandom on Linux >= 3.17 does not fail for 64 bytes once the pool is
             * ready; fall back to the clock so the node still starts. */
            uint64_t t = mrt_now() ^ ((uint64_t)getpid() << 32);
            for (unsigned i = 0; i < 16; i++) {
                t ^= t << 13, t ^= t >> 7, t ^= t << 17;
                rt->rnd[i] = (uint32_t)t;
            }
        }
        rt->rnd_left = 16;
    }
    return rt->rnd[--rt->rnd_left];
}

static mrt_slot *slot_by_id(mrt *rt, int id)
{
    for (int i = 0; i < MRT_MAX_BEARERS; i++)
        if (rt->slots[i].used && rt->slots[i].id == id)
            return &rt->slots[i];
    return NULL;
}

static void mrt_tx(void *user, int bearer, const mc_addr *dst, const uint8_t *frame, size_t len)
{
    mrt *rt = user;
    mrt_slot *s = slot_by_id(rt, bearer);
    if (!s)
        return;
    struct mb_addr a;
    a.len = dst ? dst->len : 0;
    if (a.len > MB_ADDR_MAX)
        return;
    if (a.len)
        memcpy(a.b, dst->b, a.len);
    /* A full socket buffer or ring costs this frame only: the link retransmits.  The
     * bearer counts it (tx_full). */
    (void)mb_send(s->mb, frame, len, a.len ? &a : NULL);
}

static void mrt_event(void *user, const mc_event *ev)
{
    mrt *rt = user;
    switch (ev->type) {
    case MC_EV_LINK_UP:
        mrt_log(MRT_M_LINK, MRT_LOG_INFO, "link up: peer %u bearer %d", ev->peer, ev->bearer);
        break;
    case MC_EV_LINK_DOWN:
        mrt_log(MRT_M_LINK, MRT_LOG_INFO, "link down: peer %u bearer %d reason %d", ev->peer,
                ev->bearer, ev->reason);
        break;
    case MC_EV_PEER_UP:
        mrt_log(MRT_M_LINK, MRT_LOG_INFO, "peer %u up (incarnation %08x)", ev->peer,
                ev->incarnation);
        break;
    case MC_EV_PEER_DOWN:
        mrt_log(MRT_M_LINK, MRT_LOG_INFO, "peer %u down reason %d", ev->peer, ev->reason);
        break;
    case MC_EV_DUP_NODE:
        mrt_log(MRT_M_LINK, MRT_LOG_WARN, "another station claims node id %u", ev->peer);
        break;
    default:
        break;
    }
    if (rt->cfg.event)
        rt->cfg.event(rt->cfg.user, ev);
}

static void mrt_rx(void *user, const uint8_t *frame, size_t len, const struct mb_addr *src)
{
    mrt_slot *s = user;
    mc_addr a = {0};
    if (src && src->len <= MC_ADDR_MAX) {
        a.len = src->len;
        memcpy(a.b, src->b, src->len);
    }
    (void)mc_input(s->rt->node, s->id, &a, frame, len, mrt_now());
}

/* ---- Timer -------------------------------------------------------------------------------- */
static int mrt_arm(mrt *rt)
{
    uint64_t d = mc_next_deadline(rt->node);
    if (d == rt->armed)
        return 0;
    struct itimerspec its = {0};
    if (d != UINT64_MAX) {
        if (d == 0)
            d = 1; /* an all-zero it_value would disarm the timer */
        its.it_value.tv_sec = (time_t)(d / 1000000000ull);
        its.it_value.tv_nsec = (long)(d % 1000000000ull);
    }
    if (timerfd_settime(rt->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
        mrt_log(MRT_M_RT, MRT_LOG_ERR, "timerfd_settime: %s", strerror(errno));
        return MRT_EOS;
    }
    rt->armed = d;
    return 0;
}

int mrt_flush(mrt *rt)
{
    uint64_t now = mrt_now();
    int r = mc_next_deadline(rt->node) <= now ? mc_timeout(rt->node, now) : mc_flush(rt->node, now);
    (void)r;
    return mrt_arm(rt);
}

/* ---- Lifecycle ---------------------------------------------------------------------------- */
int mrt_create(const mrt_config *cfg, mrt **out)
{
    if (!cfg || !out || cfg->node_id == 0 || cfg->node_id == 0xFFFFFFFFu)
        return MC_EINVAL;
    mrt *rt = calloc(1, sizeof *rt);
    if (!rt)
        return MC_ENOMEM;
    rt->cfg = *cfg;
    rt->armed = UINT64_MAX;
    rt->work_tail = &rt->work;
    rt->ep = epoll_create1(EPOLL_CLOEXEC);
    rt->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (rt->ep < 0 || rt->tfd < 0) {
        mrt_log(MRT_M_RT, MRT_LOG_ERR, "epoll/timerfd: %s", strerror(errno));
        goto fail_os;
    }
    rt->timer.kind = SRC_TIMER;
    rt->timer.fd = rt->tfd;
    struct epoll_event ee = {.events = EPOLLIN, .data.ptr = &rt->timer};
    if (epoll_ctl(rt->ep, EPOLL_CTL_ADD, rt->tfd, &ee) < 0)
        goto fail_os;
    mc_config c;
    mc_config_default(&c);
    c.node_id = cfg->node_id;
    c.domain = cfg->domain;
    if (cfg->tolerance_ms)
        c.tolerance_ms = cfg->tolerance_ms;
    if (cfg->window)
        c.window = cfg->window;
    if (cfg->mem_limit)
        c.mem_limit = cfg->mem_limit;
    c.crypto = cfg->crypto;
    c.alloc = (mc_alloc){mrt_alloc, mrt_free, rt};
    c.rng = (mc_rng){mrt_rand, rt};
    c.tx = mrt_tx;
    c.event = mrt_event;
    c.user = rt;
    int r = mc_node_create(&c, &rt->node);
    if (r < 0) {
        close(rt->ep);
        close(rt->tfd);
        free(rt);
        return r;
    }
    *out = rt;
    return 0;
fail_os:
    if (rt->ep >= 0)
        close(rt->ep);
    if (rt->tfd >= 0)
        close(rt->tfd);
    free(rt);
    return MRT_EOS;
}

void mrt_destroy(mrt *rt)
{
    if (!rt)
        return;
    for (int i = 0; i < MRT_MAX_BEARERS; i++)
        if (rt->slots[i].used) {
            mb_close(rt->slots[i].mb);
            mb_capture_close(rt->slots[i].cap);
        }
    mc_node_destroy(rt->node);
    while (rt->user_srcs) {
        mrt_src *s = rt->user_srcs;
        rt->user_srcs = s->next;
        free(s);
    }
    while (rt->work) {
        mrt_work *w = rt->work;
        rt->work = w->next;
        free(w);
    }
    while (rt->graveyard) {
        mrt_src *s = rt->graveyard;
        rt->graveyard = s->next;
        free(s);
    }
    close(rt->tfd);
    close(rt->ep);
    free(rt);
}

mc_node *mrt_node(mrt *rt) { return rt ? rt->node : NULL; }
int mrt_fd(const mrt *rt) { return rt ? rt->ep : -1; }

/* ---- Bearers ------------------------------------------------------------------------------ */
/* Split runtime keys out of the spec: what stays goes to mb_open_spec. */
static int mrt_parse_spec(const char *spec, char *mbspec, size_t cap, mc_bearer_cfg *bc,
                          bool *discovery)
{
    const char *colon = strchr(spec, ':');
    size_t tn = colon ? (size_t)(colon - spec) : strlen(spec);
    if (tn == 0 || tn + 2 > cap)
        return MRT_ESPEC;
    memcpy(mbspec, spec, tn);
    size_t o = tn;
    mbspec[o++] = ':';
    mbspec[o] = 0;
    if (!colon)
        return 0;
    char buf[256];
    if (strlen(colon + 1) >= sizeof buf)
        return MRT_ESPEC;
    strcpy(buf, colon + 1);
    bool first = true;
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        const char *v = eq ? eq + 1 : "";
        size_t kl = eq ? (size_t)(eq - kv) : strlen(kv);
        char *end = NULL;
        unsigned long n = strtoul(v, &end, 10);
        bool num = eq && *v && end && *end == 0;
#define KEY(s) (kl == sizeof(s) - 1 && memcmp(kv, s, kl) == 0)
        if (KEY("prio")) {
            if (!num || n > 31)
                return MRT_ESPEC;
            bc->priority = (uint8_t)n;
        } else if (KEY("standby")) {
            if (!num || n > 1)
                return MRT_ESPEC;
            bc->standby = n == 1;
        } else if (KEY("tolerance")) {
            if (!num || n < 10 || n > 30000)
                return MRT_ESPEC;
            bc->tolerance_ms = (uint16_t)n;
        } else if (KEY("probe")) { /* PROBE_INTERVAL asked of the peer (RFC 4.2) */
            if (!num || n < 1 || n > 65535)
                return MRT_ESPEC;
            bc->probe_ms = (uint16_t)n;
        } else if (KEY("window")) {
            if (!num || n < 1 || n > 16384)
                return MRT_ESPEC;
            bc->window = (uint16_t)n;
        } else if (KEY("discovery")) {
            if (!num || n > 1)
                return MRT_ESPEC;
            *discovery = n == 1;
        } else {
            size_t l = strlen(kv);
            if (o + l + 2 > cap)
                return MRT_ESPEC;
            if (!first)
                mbspec[o++] = ',';
            memcpy(mbspec + o, kv, l);
            o += l;
            mbspec[o] = 0;
            first = false;
        }
#undef KEY
    }
    return 0;
}

int mrt_add_bearer(mrt *rt, const char *spec)
{
    if (!rt || !spec || strlen(spec) >= sizeof rt->slots[0].spec)
        return MRT_ESPEC;
    mrt_slot *s = NULL;
    for (int i = 0; i < MRT_MAX_BEARERS && !s; i++)
        if (!rt->slots[i].used)
            s = &rt->slots[i];
    if (!s)
        return MRT_EFULL;
    char mbspec[256];
    mc_bearer_cfg bc = {0};
    bool discovery = true;
    int r = mrt_parse_spec(spec, mbspec, sizeof mbspec, &bc, &discovery);
    if (r < 0)
        return r;
    memset(s, 0, sizeof *s);
    s->rt = rt;
    r = mb_open_spec(mbspec, mrt_rx, s, &s->mb);
    if (r < 0) {
        mrt_log(MRT_M_BEARER, MRT_LOG_ERR, "open %s: %s", spec, mb_strerror(r));
        return MRT_EMB_BASE + r;
    }
    size_t mtu = mb_mtu(s->mb);
    bc.mtu = (uint16_t)(mtu > 65535 ? 65535 : mtu);
    struct mb_addr da;
    mb_discovery_addr(s->mb, &da);
    bc.discovery.len = da.len;
    memcpy(bc.discovery.b, da.b, da.len);
    bc.discovery_off = !discovery;
    r = mc_bearer_attach(rt->node, &bc, mrt_now());
    if (r < 0) {
        mrt_log(MRT_M_BEARER, MRT_LOG_ERR, "attach %s: %s", spec, mc_strerror(r));
        mb_close(s->mb);
        return r;
    }
    s->id = r;
    s->src.kind = SRC_BEARER;
    s->src.fd = mb_fd(s->mb);
    s->src.user = s;
    struct epoll_event ee = {.events = EPOLLIN, .data.ptr = &s->src};
    if (s->src.fd >= 0 && epoll_ctl(rt->ep, EPOLL_CTL_ADD, s->src.fd, &ee) < 0) {
        mrt_log(MRT_M_BEARER, MRT_LOG_ERR, "epoll add %s: %s", spec, strerror(errno));
        mc_bearer_detach(rt->node, s->id, mrt_now());
        mb_close(s->mb);
        return MRT_EOS;
    }
    snprintf(s->spec, sizeof s->spec, "%s", spec);
    s->used = true;
    mrt_log(MRT_M_BEARER, MRT_LOG_INFO, "bearer %d: %s (mtu %zu)", s->id, spec, mtu);
    mrt_flush(rt);
    return s->id;
}

int mrt_remove_bearer(mrt *rt, int id)
{
    mrt_slot *s = rt ? slot_by_id(rt, id) : NULL;
    if (!s)
        return MRT_ENOBEARER;
    if (s->src.fd >= 0)
        epoll_ctl(rt->ep, EPOLL_CTL_DEL, s->src.fd, NULL);
    mc_bearer_detach(rt->node, id, mrt_now());
    mb_close(s->mb);
    mb_capture_close(s->cap);
    s->used = false;
    mrt_log(MRT_M_BEARER, MRT_LOG_INFO, "bearer %d removed", id);
    return mrt_flush(rt);
}

int mrt_bearer_enable(mrt *rt, int id, bool on)
{
    mrt_slot *s = rt ? slot_by_id(rt, id) : NULL;
    if (!s)
        return MRT_ENOBEARER;
    int r = mb_set_enabled(s->mb, on);
    mrt_log(MRT_M_BEARER, MRT_LOG_INFO, "bearer %d %s", id, on ? "enabled" : "disabled");
    return r < 0 ? MRT_EMB_BASE + r : 0;
}

static void slot_info(const mrt_slot *s, mrt_bearer_info *bi)
{
    memset(bi, 0, sizeof *bi);
    bi->id = s->id;
    snprintf(bi->spec, sizeof bi->spec, "%s", s->spec);
    bi->type = mb_ops(s->mb)->name;
    bi->enabled = mb_enabled(s->mb);
    bi->carrier = mb_carrier(s->mb);
    bi->mtu = mb_mtu(s->mb);
    mb_local_addr(s->mb, &bi->local);
    mb_get_stats(s->mb, &bi->stats);
    bi->mb = s->mb;
    bi->capturing = s->cap != NULL;
}

int mrt_foreach_bearer(mrt *rt, int (*fn)(void *, const mrt_bearer_info *), void *user)
{
    int n = 0;
    for (int id = 0; id < 256; id++) {
        mrt_slot *s = slot_by_id(rt, id);
        if (!s)
            continue;
        mrt_bearer_info bi;
        slot_info(s, &bi);
        n++;
        if (fn(user, &bi))
            break;
    }
    return n;
}

int mrt_bearer_get(mrt *rt, int id, mrt_bearer_info *out)
{
    mrt_slot *s = rt ? slot_by_id(rt, id) : NULL;
    if (!s)
        return MRT_ENOBEARER;
    slot_info(s, out);
    return 0;
}

/* ---- Capture ------------------------------------------------------------------------------ */
static enum mb_cap_link cap_link(const mrt_slot *s)
{
    const char *t = mb_ops(s->mb)->name;
    if (strncmp(t, "eth", 3) == 0)
        return MB_CAP_EN10MB;
    if (strcmp(t, "udp") == 0)
        return MB_CAP_IPV4;
    return MB_CAP_USER0;
}

int mrt_capture_start(mrt *rt, const char *path, int id)
{
    if (!rt || !path)
        return MC_EINVAL;
    int nb = 0;
    for (int i = 0; i < MRT_MAX_BEARERS; i++)
        nb += rt->slots[i].used && (id < 0 || rt->slots[i].id == id);
    if (!nb)
        return MRT_ENOBEARER;
    mrt_capture_stop(rt);
    int opened = 0;
    for (int i = 0; i < MRT_MAX_BEARERS; i++) {
        mrt_slot *s = &rt->slots[i];
        if (!s->used || (id >= 0 && s->id != id))
            continue;
        char file[512];
        if (nb > 1)
            snprintf(file, sizeof file, "%s.b%d", path, s->id);
        else
            snprintf(file, sizeof file, "%s", path);
        int r = mb_capture_open(file, cap_link(s), &s->cap);
        if (r == 0)
            r = mb_set_capture(s->mb, s->cap, (uint16_t)s->id);
        if (r < 0) {
            mb_capture_close(s->cap);
            s->cap = NULL;
            mrt_log(MRT_M_BEARER, MRT_LOG_ERR, "capture %s: %s", file, mb_strerror(r));
            mrt_capture_stop(rt);
            return MRT_EMB_BASE + r;
        }
        opened++;
    }
    return opened;
}

int mrt_capture_stop(mrt *rt)
{
    int recs = 0;
    for (int i = 0; i < MRT_MAX_BEARERS; i++) {
        mrt_slot *s = &rt->slots[i];
        if (!s->used || !s->cap)
            continue;
        mb_set_capture(s->mb, NULL, 0);
        recs += (int)mb_capture_records(s->cap);
        mb_capture_close(s->cap);
        s->cap = NULL;
    }
    return recs;
}

/* ---- Extra fds and posted work ------------------------------------------------------------ */
int mrt_add_fd(mrt *rt, int fd, uint32_t events, mrt_fd_fn fn, void *user)
{
    mrt_src *s = calloc(1, sizeof *s);
    if (!s)
        return MC_ENOMEM;
    s->kind = SRC_USER;
    s->fd = fd;
    s->fn = fn;
    s->user = user;
    struct epoll_event ee = {.events = events, .data.ptr = s};
    if (epoll_ctl(rt->ep, EPOLL_CTL_ADD, fd, &ee) < 0) {
        free(s);
        return MRT_EOS;
    }
    s->next = rt->user_srcs;
    rt->user_srcs = s;
    return 0;
}

static mrt_src *user_src(mrt *rt, int fd, mrt_src ***link)
{
    for (mrt_src **pp = &rt->user_srcs; *pp; pp = &(*pp)->next)
        if ((*pp)->fd == fd) {
            if (link)
                *link = pp;
            return *pp;
        }
    return NULL;
}

int mrt_mod_fd(mrt *rt, int fd, uint32_t events)
{
    mrt_src *s = user_src(rt, fd, NULL);
    if (!s)
        return MC_ENOENT;
    struct epoll_event ee = {.events = events, .data.ptr = s};
    return epoll_ctl(rt->ep, EPOLL_CTL_MOD, fd, &ee) < 0 ? MRT_EOS : 0;
}

int mrt_del_fd(mrt *rt, int fd)
{
    mrt_src **pp = NULL;
    mrt_src *s = user_src(rt, fd, &pp);
    if (!s)
        return MC_ENOENT;
    epoll_ctl(rt->ep, EPOLL_CTL_DEL, fd, NULL);
    *pp = s->next;
    s->fn = NULL;
    s->next = rt->graveyard;
    rt->graveyard = s;
    return 0;
}

int mrt_post(mrt *rt, void (*fn)(void *), void *user)
{
    mrt_work *w = malloc(sizeof *w);
    if (!w)
        return MC_ENOMEM;
    w->fn = fn;
    w->user = user;
    w->next = NULL;
    *rt->work_tail = w;
    rt->work_tail = &w->next;
    return 0;
}

void mrt_set_turn_hook(mrt *rt, void (*fn)(void *), void *user)
{
    rt->turn_fn = fn;
    rt->turn_user = user;
}

static void run_posted(mrt *rt)
{
    while (rt->work) {
        mrt_work *w = rt->work;
        rt->work = w->next;
        if (!rt->work)
            rt->work_tail = &rt->work;
        w->fn(w->user);
        free(w);
    }
}

/* ---- The loop ----------------------------------------------------------------------------- */
int mrt_run_once(mrt *rt, int timeout_ms)
{
    struct epoll_event evs[32];
    if (rt->work)
        timeout_ms = 0;
    int n = epoll_wait(rt->ep, evs, 32, timeout_ms);
    if (n < 0) {
        if (errno == EINTR)
            n = 0;
        else
            return MRT_EOS;
    }
    for (int i = 0; i < n; i++) {
        mrt_src *s = evs[i].data.ptr;
        switch (s->kind) {
        case SRC_TIMER: {
            uint64_t exp;
            (void)!read(rt->tfd, &exp, sizeof exp);
            rt->armed = UINT64_MAX; /* fired: re-arm below whatever the deadline */
            break;
        }
        case SRC_BEARER: {
            mrt_slot *sl = s->user;
            int r = mb_on_readable(sl->mb, 64);
            if (r < 0)
                mrt_log(MRT_M_BEARER, MRT_LOG_WARN, "bearer %d: %s", sl->id, mb_strerror(r));
            break;
        }
        case SRC_USER:
            if (s->fn)
                s->fn(s->user, s->fd, evs[i].events);
            break;
        }
    }
    while (rt->graveyard) {
        mrt_src *s = rt->graveyard;
        rt->graveyard = s->next;
        free(s);
    }
    uint64_t now = mrt_now();
    if (mc_next_deadline(rt->node) <= now)
        mc_timeout(rt->node, now);
    run_posted(rt);
    if (rt->turn_fn)
        rt->turn_fn(rt->turn_user);
    int r = mrt_flush(rt);
    return r < 0 ? r : n;
}
