/*
 * ha.c — msgrd's HA services (ha.h): the OS shell around stack/ha's microkernels.
 */
#define _GNU_SOURCE
#include "ctlout.h"
#include "ha.h"
#include "ha_watch.h"
#include "ha_iop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc.h"
#include "mha.h"

#define MHD_ARENA (256u * 1024u) /* element state per kernel: the FTM's registry is the largest */
enum { KN = 0, KF = 1, KX = 2, NK = 3 };

typedef struct mhd_proc {
    struct mhd *h;
    uint32_t entity;
    char name[32], command[128], devices[256];
    uint32_t standby;
    uint8_t pol[3];
    bool heartbeat; /* watched for hangs (the process answers through msgr_ha.h) */
    uint64_t watch_due; /* heartbeats start then at the latest (0: watching, or not running) */
    pid_t pid;
    int pidfd, sock;
    bool start_pending, pending_restore;
    /* evidence of the last failure, for msgrctl */
    uint16_t last_class;   /* MHA_FAIL_*, 0 none */
    uint64_t detected_at;  /* when msgrd knew (reaped, or the watcher declared) */
    uint64_t started_at, registered_at, restored_at;
    int last_status;
    char evidence[160];
    uint64_t crashes, exits, hangs, starts, kills_by_supervisor;
    uint64_t rx, tx, tx_drop, spoofed, bad;
} mhd_proc;

struct mhd {
    mrt *rt;
    uint32_t node;
    msgrd_conf_ha cfg;
    char socket_path[108];
    mk_kernel *k[NK];
    void *arena[NK];
    mha_exec *ex;
    mha_hb *hb;
    mha_ftm *ftm;
    mha_ckpt *ck;
    mhd_proc p[MSGRD_CONF_MAX_EXEC];
    int np;
    int tfd;
    uint64_t grace_ns;
    bool posted;
    bool want_register;  /* the FTM's node came up: (re)register this node and its processes */
    uint32_t lost[16];   /* peers lost since the last turn: reported to the FTM as node losses */
    int nlost;
    mhd_watch *watch;        /* the FTM's heartbeat monitor (entity 2), ha_watch.c */
    uint32_t last_ftm_node;  /* where the FTM was at the last turn (ELECT moves it) */
    uint64_t rx_link, rx_bad, tx_link, tx_err, to_gone, from_proc;
    mhd_iopm *iopm;      /* the IOP manager (entity 3) when [iop] sections exist: ha_iop.c */
    bool boot_pending;   /* home processes start once the (remote) FTM's node is up */
    bool serve_report;   /* an IOP board (--ha-iop-manager): tell the manager it serves */
};

static uint32_t mhd_epoch(const mhd *h)
{
    uint32_t e = 0;
    for (int i = 0; i < NK; i++)
        if (h->k[i] && mp_seq32_lt(e, mk_epoch(h->k[i])))
            e = mk_epoch(h->k[i]);
    const mk_kernel *wk = mhd_watch_kernel(h->watch);
    if (wk && mp_seq32_lt(e, mk_epoch(wk)))
        e = mk_epoch(wk);
    return e;
}

static uint32_t ftm_node_of(const mhd *h)
{
    return h->ex->cfg.ftm_node ? h->ex->cfg.ftm_node : h->node; /* follows ELECT */
}

static mhd_proc *proc_of(mhd *h, uint32_t entity)
{
    for (int i = 0; i < h->np; i++)
        if (h->p[i].entity == entity)
            return &h->p[i];
    return NULL;
}

static mk_kernel *kernel_of(mhd *h, uint32_t entity)
{
    switch (entity) {
    case MK_ENTITY_KERNEL: return h->k[KN];
    case MK_ENTITY_FTM: return h->k[KF];
    case MK_ENTITY_EXEC: return h->k[KX];
    case MK_ENTITY_HBMON: return mhd_watch_kernel(h->watch); /* NULL unless watch_ftm */
    default: return NULL;
    }
}

/* One MGMT frame (sequenced header with channel 0, then the body) into buf. */
static int mhd_encode(const mp_mgmt *v, uint8_t *buf, size_t cap)
{
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = MP_T_MGMT;
    f.hdr.chan = MP_CHAN_NODE;
    f.u.mgmt = *v;
    return mp_encode(&f, buf, cap);
}

static void proc_send(mhd *h, mhd_proc *p, const mp_mgmt *v)
{
    uint8_t buf[MK_PAYLOAD_MAX + 512];
    int n = mhd_encode(v, buf, sizeof buf);
    if (p->sock < 0) {
        h->to_gone++; /* dead, or not started: lost, as on a real link to a dead node */
        return;
    }
    /* Never block the node on a process that does not read (a hung one fills its
     * buffer): the heartbeat watcher will report it. */
    if (n < 0 || send(p->sock, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
        p->tx_drop++;
    else
        p->tx++;
}

static void link_send(mhd *h, uint32_t peer, const mp_mgmt *v)
{
    uint8_t buf[MK_PAYLOAD_MAX + 512];
    int n = mhd_encode(v, buf, sizeof buf);
    if (n < (int)MP_SEQ_HDR_LEN ||
        mc_send(mrt_node(h->rt), peer, MP_CHAN_NODE, MP_T_MGMT, buf + MP_SEQ_HDR_LEN,
                (size_t)n - MP_SEQ_HDR_LEN, mrt_now(), NULL) < 0)
        h->tx_err++;
    else
        h->tx_link++;
}

/* Deliver to the entity on this node that v addresses.  Never calls into the node. */
static void deliver_local(mhd *h, const mp_mgmt *v, uint32_t src_node, int except)
{
    uint64_t now = mrt_now();
    if (v->dst_entity == MK_ENTITY_ALL) {
        for (int i = 0; i < NK; i++)
            if (h->k[i] && i != except)
                (void)mk_input(h->k[i], src_node, v, now);
        if (mhd_watch_kernel(h->watch))
            (void)mk_input(mhd_watch_kernel(h->watch), src_node, v, now);
        mhd_iop_input(h->iopm, src_node, v, now); /* entity 3, if hosted */
        for (int i = 0; i < h->np; i++)
            if (h->p[i].sock >= 0)
                proc_send(h, &h->p[i], v);
        return;
    }
    if (v->dst_entity == MK_ENTITY_IOPMGR && h->iopm) {
        mhd_iop_input(h->iopm, src_node, v, now); /* ha_iop.c: it also takes the reports */
        return;
    }
    mk_kernel *k = kernel_of(h, v->dst_entity);
    if (k) {
        (void)mk_input(k, src_node, v, now);
        return;
    }
    mhd_proc *p = proc_of(h, v->dst_entity);
    if (p) {
        proc_send(h, p, v);
        return;
    }
    /* No such entity: the node microkernel answers NO_SUCH_DEVICE (MSG-MGMT-10). */
    (void)mk_input(h->k[KN], src_node, v, now);
}

static int peer_up_cb(void *user, const mc_link_info *li)
{
    uint32_t *peers = user; /* peers[0] = count, then ids */
    if (li->state != MC_LS_ESTABLISHED)
        return 0;
    for (uint32_t i = 1; i <= peers[0]; i++)
        if (peers[i] == li->peer)
            return 0;
    if (peers[0] < 255)
        peers[++peers[0]] = li->peer;
    return 0;
}

/* Evidence for msgrctl: the watcher's declaration of a hang, as it leaves the node. */
static void note_hang(mhd *h, const mk_msg *m)
{
    for (unsigned u = 0; u < m->uop_count; u++) {
        const uint8_t *d;
        size_t dl;
        if (m->uops[u].opcode != MP_UOP_PROC_FAILED || m->uops[u].arg != MHA_FAIL_HANG ||
            mk_find_block(m->payload, m->payload_len, MP_UOP_PROC_FAILED, 0, &d, &dl) < 0 || dl < 4)
            continue;
        mhd_proc *p = proc_of(h, mp_get32(d));
        const mha_hb_watch *w = p ? mha_hb_find(h->hb, h->node, p->entity) : NULL;
        if (!p || !w)
            continue;
        uint64_t now = mrt_now();
        p->hangs++;
        p->last_class = MHA_FAIL_HANG;
        p->detected_at = now;
        snprintf(p->evidence, sizeof p->evidence,
                 "no valid HEARTBEAT_ACK for %llu ms (bound %llu ms = %lu ms x %lu); "
                 "declaration %u of this outage",
                 (unsigned long long)((now - w->last_ack) / 1000000),
                 (unsigned long long)(mha_hb_detection_bound(h->hb) / 1000000),
                 (unsigned long)h->hb->cfg.period_ns / 1000000, (unsigned long)h->hb->cfg.threshold,
                 w->declarations);
        mrt_log(MRT_M_RT, MRT_LOG_WARN, "ha: %s (entity 0x%x) hung: %s", p->name, p->entity,
                p->evidence);
    }
}

/* One message a local kernel emitted. */
static void route_out(mhd *h, int from, const mk_msg *m)
{
    mp_mgmt v;
    mk_msg_view(m, &v);
    if (from == KX)
        note_hang(h, m);
    if (m->dst_node == MK_NODE_ALL) {
        deliver_local(h, &v, h->node, from);
        uint32_t peers[256] = {0};
        mc_foreach_link(mrt_node(h->rt), peer_up_cb, peers);
        for (uint32_t i = 1; i <= peers[0]; i++)
            link_send(h, peers[i], &v);
    } else if (m->dst_node == h->node || m->dst_node == 0) {
        deliver_local(h, &v, h->node, -1);
    } else {
        link_send(h, m->dst_node, &v);
    }
}

static void proc_spawn(mhd *h, mhd_proc *p, bool restore);
static void register_proc(mhd *h, const mhd_proc *p);

/* The node element of entity 0.  The kernel itself keeps the newest epoch (RFC 10.6); a
 * node must still *take* FENCE and ELECT, or they would fail as unsubscribed
 * microoperations, and it answers STATS_GET (group 0 or 7) with its own counters. */
typedef struct mhd_node_el {
    uint64_t fences, elects, stats;
    uint32_t ftm_node; /* from the newest ELECT dispatched (fenced: only the newest FTM's) */
} mhd_node_el;
static const uint16_t node_el_subs[] = {MP_UOP_FENCE, MP_UOP_ELECT, MP_UOP_STATS_GET};

static int node_el_uop(mk_ctx *c, uint16_t op, uint16_t arg)
{
    mhd_node_el *s = mk_ctx_state(c);
    if (mk_ctx_is_reply(c))
        return 0;
    const uint8_t *p;
    size_t len;
    switch (op) {
    case MP_UOP_FENCE:
        s->fences++;
        return 0;
    case MP_UOP_ELECT:
        s->elects++;
        if (mk_param(c, &p, &len) == 0 && len >= 4)
            s->ftm_node = mp_get32(p);
        return 0;
    default: { /* STATS_GET */
        if (arg != 0 && arg != 7)
            return 0;
        s->stats++;
        uint8_t b[160];
        size_t used = 1;
        b[0] = 0;
        const struct { const char *k; uint64_t v; } kv[] = {
            {"node.epoch", mk_ctx_epoch(c)}, {"node.fences", s->fences},
            {"node.elects", s->elects}, {"node.ftm_node", s->ftm_node},
        };
        for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
            int rc = mha_props_add_u64(b, sizeof b, &used, kv[i].k, kv[i].v);
            if (rc < 0)
                return rc;
        }
        int rc = mk_reply_uop(c, MP_UOP_STATS_REPLY, 7);
        return rc ? rc : mk_reply_block(c, MP_UOP_STATS_REPLY, b, used);
    }
    }
}
static const mk_element_ops node_el_ops = {.state_size = sizeof(mhd_node_el), .uop = node_el_uop};

static bool do_actions(mhd *h)
{
    bool any = false;
    mha_exec_action a;
    while (mha_exec_action_pop(h->ex, &a)) {
        any = true;
        mhd_proc *p = proc_of(h, a.entity);
        if (!p)
            continue;
        if (a.type == MHA_EXEC_KILL) {
            if (p->pid > 0) {
                kill(p->pid, SIGKILL); /* works on a stopped (SIGSTOP) process too */
                p->kills_by_supervisor++;
            }
        } else if (a.type == MHA_EXEC_START) {
            /* Never two instances (MSG-MGMT-27): the new one starts once the old one is
             * reaped, so that its exit is not mistaken for the new instance's. */
            if (p->pid > 0) {
                p->start_pending = true;
                p->pending_restore = a.restore;
            } else {
                proc_spawn(h, p, a.restore);
            }
        }
    }
    return any;
}

static void arm(mhd *h)
{
    uint64_t d = UINT64_MAX;
    for (int i = 0; i < NK; i++)
        if (h->k[i]) {
            uint64_t x = mk_next_deadline(h->k[i]);
            if (x < d)
                d = x;
        }
    if (mhd_watch_deadline(h->watch) < d)
        d = mhd_watch_deadline(h->watch);
    for (int i = 0; i < h->np; i++)
        if (h->p[i].watch_due && h->p[i].watch_due < d)
            d = h->p[i].watch_due;
    struct itimerspec its = {0};
    if (d != UINT64_MAX) {
        if (d == 0)
            d = 1;
        its.it_value.tv_sec = (time_t)(d / 1000000000ull);
        its.it_value.tv_nsec = (long)(d % 1000000000ull);
    }
    timerfd_settime(h->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Drain every outbox and carry out the supervisor's actions until nothing is left. */
static void pump(mhd *h)
{
    static mk_msg m;
    for (int round = 0; round < 64; round++) {
        bool any = false;
        for (int i = 0; i < NK; i++)
            while (h->k[i] && mk_out_pop(h->k[i], &m)) {
                any = true;
                route_out(h, i, &m);
            }
        for (mk_kernel *wk = mhd_watch_kernel(h->watch); wk && mk_out_pop(wk, &m);) {
            any = true;
            mhd_watch_note(h->watch, &m, mrt_now());
            route_out(h, NK, &m); /* NK: no local kernel to skip */
        }
        for (mk_kernel *ik = mhd_iop_kernel(h->iopm); ik && mk_out_pop(ik, &m);) {
            any = true;
            route_out(h, NK, &m); /* entity 3's replies */
        }
        any |= do_actions(h);
        if (!any)
            break;
    }
    arm(h);
}

static void register_all(mhd *h);

/* Heartbeats start when the process first speaks (it runs msgr_ha.h), or start_grace
 * after it was started, whichever comes first: a slow start (a loaded machine, a
 * sanitizer build) is not a hang, and a process hung from its start is still found. */
static void watch_start(mhd *h, mhd_proc *p, uint64_t now)
{
    p->watch_due = 0;
    (void)mha_hb_watch_add(h->hb, h->node, p->entity, now);
}

static void on_posted(void *user)
{
    mhd *h = user;
    h->posted = false;
    /* The FTM moved (the ELECT of a new FTM): register this node and its processes with
     * it now, so that it fences this node and hears from it before any failure. */
    if ((h->k[KF] || h->cfg.ftm_node) && ftm_node_of(h) != h->last_ftm_node) {
        h->last_ftm_node = ftm_node_of(h);
        h->want_register = true;
    }
    if (h->want_register) {
        h->want_register = false;
        register_all(h);
        if (h->boot_pending) {
            h->boot_pending = false;
            (void)mha_exec_boot(h->ex);
        }
        h->serve_report = h->cfg.iop_mgr != 0;
    }
    if (h->serve_report) {
        /* A board started by an IOP manager tells it that it serves (RFC 10.7): its node
         * registered with the FTM, its processes started (IOP_STATE OPERATIONAL, behind
         * the REGISTER on the same channel). */
        mk_msg m;
        h->serve_report = false;
        mk_msg_init(&m, (uint32_t)h->cfg.iop_mgr, MK_ENTITY_IOPMGR, 0);
        m.src_entity = MK_ENTITY_KERNEL;
        m.epoch = mhd_epoch(h);
        (void)mk_msg_uop(&m, MP_UOP_IOP_STATE, MHA_IOP_OPERATIONAL);
        route_out(h, KN, &m);
    }
    for (int i = 0; i < h->nlost; i++) {
        mk_msg m;
        uint8_t b[4];
        mp_put32(b, h->lost[i]);
        mk_msg_init(&m, ftm_node_of(h), MK_ENTITY_FTM, 0);
        m.src_entity = MK_ENTITY_KERNEL;
        m.epoch = mhd_epoch(h);
        (void)mk_msg_uop(&m, MP_UOP_PROC_FAILED, MP_R_PEER_DOWN);
        (void)mk_msg_block(&m, MP_UOP_PROC_FAILED, b, 4);
        mrt_log(MRT_M_RT, MRT_LOG_WARN, "ha: node %u lost: reported to the FTM on node %u",
                h->lost[i], ftm_node_of(h));
        route_out(h, KN, &m);
    }
    h->nlost = 0;
    pump(h);
}

static void on_timer(void *user, int fd, uint32_t ev)
{
    (void)ev;
    mhd *h = user;
    uint64_t x;
    while (read(fd, &x, sizeof x) == (ssize_t)sizeof x)
        ;
    uint64_t now = mrt_now();
    for (int i = 0; i < h->np; i++)
        if (h->p[i].watch_due && h->p[i].watch_due <= now)
            watch_start(h, &h->p[i], now); /* silent since its start: the bound runs from now */
    for (int i = 0; i < NK; i++)
        if (h->k[i] && mk_next_deadline(h->k[i]) <= now)
            (void)mk_tick(h->k[i], now);
    mhd_watch_tick(h->watch, now);
    pump(h);
}

static void post(mhd *h)
{
    if (!h->posted && mrt_post(h->rt, on_posted, h) == 0)
        h->posted = true;
}

void mhd_event(mhd *h, const mc_event *ev)
{
    if (!h)
        return;
    if (mhd_iop_event(h->iopm, ev)) /* IOP links up/down; only noted here */
        return; /* a board the IOP manager takes out: it reports the loss itself */
    if (ev->type == MC_EV_PEER_UP) {
        /* A node that comes up learns the epoch from the active FTM at once (a restarted
         * FTM node with a stale configured epoch stops before it acts, MSG-MGMT-16), and
         * the FTM's monitor starts its silence clock once the FTM can be heard. */
        if (h->ftm)
            (void)mha_ftm_node_up(h->ftm, ev->peer);
        /* The checkpoint replica's node may be back from a restart with an empty store:
         * send it every record again, or a takeover there would restore nothing. */
        if (h->ck)
            (void)mha_ckpt_replica_up(h->ck, ev->peer);
        mhd_watch_peer_up(h->watch, ev->peer, mrt_now());
        post(h);
    }
    /* A node with no FTM of its own and none configured elsewhere has nobody to tell. */
    bool has_ftm = h->k[KF] || h->cfg.ftm_node;
    if (!has_ftm && h->cfg.iop_mgr && ev->type == MC_EV_PEER_UP && ev->peer == h->cfg.iop_mgr) {
        h->serve_report = true; /* a board with no FTM: it serves once its manager is reached */
        post(h);
        return;
    }
    if (has_ftm && ev->type == MC_EV_PEER_UP && ev->peer == ftm_node_of(h)) {
        h->want_register = true;
        post(h);
        return;
    }
    if (has_ftm && ev->type == MC_EV_PEER_DOWN && ev->peer != ftm_node_of(h)) {
        /* The daemon is its node's local failure detector (RFC 10.7): a peer lost by
         * every link is reported as the loss of that node; the FTM fails over what ran
         * there if the peer registered as a node, and counts the rest (other reporters
         * of the same loss are duplicates). */
        if (h->nlost < (int)(sizeof h->lost / sizeof h->lost[0]))
            h->lost[h->nlost++] = ev->peer;
        post(h);
        return;
    }
    if (ev->type != MC_EV_MESSAGE || ev->msg_type != MP_T_MGMT || ev->chan != MP_CHAN_NODE)
        return;
    mp_hdr hh = {.type = MP_T_MGMT, .chan = MP_CHAN_NODE, .cseq = ev->cseq};
    mp_frame f;
    if (mp_body_decode(&hh, ev->data, ev->len, &f) < 0) {
        h->rx_bad++;
        return;
    }
    h->rx_link++;
    deliver_local(h, &f.u.mgmt, ev->peer, -1);
    /* Replies and commands go out after the turn: the core must not be re-entered. */
    post(h);
}

/* What a supervised process sends: msgrd is its gateway. */
static void on_proc_sock(void *user, int fd, uint32_t ev)
{
    mhd_proc *p = user;
    mhd *h = p->h;
    for (int i = 0; i < 64; i++) {
        uint8_t buf[8192];
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) {
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                /* The process closed its end: it is leaving, and the pidfd will report the
                 * exit.  Its exit may take a while (atexit work, a sanitizer's leak check),
                 * during which it can answer nothing: stop asking, but watch again after
                 * the start grace, so that one that never goes is still found hung. */
                mrt_del_fd(h->rt, fd);
                close(fd);
                p->sock = -1;
                (void)mha_hb_watch_del(h->hb, h->node, p->entity);
                if (p->heartbeat)
                    p->watch_due = mrt_now() + h->grace_ns;
            }
            break;
        }
        mp_frame f;
        if (mp_decode(buf, (size_t)n, &f) <= 0 || f.hdr.type != MP_T_MGMT) {
            p->bad++;
            continue;
        }
        mp_mgmt v = f.u.mgmt;
        if (v.src_entity != p->entity) {
            p->spoofed++; /* a process speaks only for itself */
            continue;
        }
        p->rx++;
        h->from_proc++;
        if (p->watch_due)
            watch_start(h, p, mrt_now());
        /* The node's newest epoch: an entity saves and restores with whatever epoch its
         * node has seen (RFC 10.9), and the process has no other way to learn it. */
        uint32_t e = mhd_epoch(h);
        if (mp_seq32_lt(v.epoch, e))
            v.epoch = e;
        bool reply = v.gflags & MP_GFLAG_REPLY;
        for (unsigned u = 0; u < v.uop_count && !reply; u++) {
            if (v.uops[u].opcode == MP_UOP_REGISTER)
                p->registered_at = mrt_now();
            if (v.uops[u].opcode == MP_UOP_CKPT_RESTORE)
                p->restored_at = mrt_now();
        }
        /* The FTM's traffic goes to the FTM's node; checkpoints to the store, which is on
         * the FTM's node unless configured (RFC 10.9: never only on the saver's node). */
        bool ckpt = false;
        for (unsigned u = 0; u < v.uop_count; u++)
            ckpt |= v.uops[u].opcode == MP_UOP_CKPT_SAVE || v.uops[u].opcode == MP_UOP_CKPT_RESTORE;
        uint32_t to = h->node;
        if (v.dst_entity == MK_ENTITY_FTM)
            to = ftm_node_of(h);
        else if (v.dst_entity == MK_ENTITY_KERNEL && ckpt)
            to = h->cfg.ckpt_node ? (uint32_t)h->cfg.ckpt_node : ftm_node_of(h);
        if (to != h->node)
            link_send(h, to, &v);
        else
            deliver_local(h, &v, h->node, -1);
    }
    (void)ev;
    pump(h);
}

static void on_proc_exit(void *user, int fd, uint32_t ev)
{
    (void)ev;
    mhd_proc *p = user;
    mhd *h = p->h;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == 0)
        return;
    uint64_t now = mrt_now();
    int status = r < 0 ? -SIGKILL : WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    mrt_del_fd(h->rt, fd);
    close(fd);
    p->pidfd = -1;
    if (p->sock >= 0) {
        mrt_del_fd(h->rt, p->sock);
        close(p->sock);
        p->sock = -1;
    }
    pid_t old = p->pid;
    p->pid = -1;
    p->watch_due = 0;
    const mha_exec_proc *xp = mha_exec_find(h->ex, p->entity);
    bool ours = xp && xp->expect_exit;
    (void)mha_hb_watch_del(h->hb, h->node, p->entity);
    p->last_status = status;
    if (!ours) {
        p->last_class = status == 0 ? MHA_FAIL_EXIT : MHA_FAIL_CRASH;
        p->detected_at = now;
        if (status == 0)
            p->exits++;
        else
            p->crashes++;
        if (status < 0)
            snprintf(p->evidence, sizeof p->evidence, "pid %d killed by signal %d (%s)", (int)old,
                     -status, strsignal(-status));
        else
            snprintf(p->evidence, sizeof p->evidence, "pid %d exited with status %d", (int)old,
                     status);
        mrt_log(MRT_M_RT, MRT_LOG_WARN, "ha: %s (entity 0x%x): %s", p->name, p->entity,
                p->evidence);
    }
    (void)mha_exec_exited(h->ex, p->entity, status, now);
    if (p->start_pending) {
        p->start_pending = false;
        proc_spawn(h, p, p->pending_restore);
    }
    pump(h);
}

static void proc_spawn(mhd *h, mhd_proc *p, bool restore)
{
    uint64_t now = mrt_now();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        mrt_log(MRT_M_RT, MRT_LOG_ERR, "ha: %s: socketpair: %s", p->name, strerror(errno));
        (void)mha_exec_exited(h->ex, p->entity, 127, now); /* reported as a crash */
        return;
    }
    char env[8][300];
    snprintf(env[0], sizeof env[0], "MSGR_HA_FD=3");
    snprintf(env[1], sizeof env[1], "MSGR_HA_ENTITY=%u", p->entity);
    snprintf(env[2], sizeof env[2], "MSGR_HA_NODE=%u", h->node);
    snprintf(env[3], sizeof env[3], "MSGR_HA_STANDBY=%u", p->standby);
    snprintf(env[4], sizeof env[4], "MSGR_HA_POL=%u,%u,%u", p->pol[0], p->pol[1], p->pol[2]);
    snprintf(env[5], sizeof env[5], "MSGR_HA_RESTORE=%d", restore ? 1 : 0);
    snprintf(env[6], sizeof env[6], "MSGR_HA_DEVICES=%s", p->devices);
    snprintf(env[7], sizeof env[7], "MSGR_SOCKET=%s", h->socket_path);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "exec %s", p->command);
    pid_t pid = fork();
    if (pid == 0) {
        /* The child: msgrd's signal mask and ignored SIGPIPE survive exec; undo them.
         * Only the management channel is passed on: none of msgrd's sockets. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        if (dup2(sv[1], 3) < 0)
            _exit(127);
        close_range(4, ~0u, 0);
        for (int i = 0; i < 8; i++)
            putenv(env[i]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        mrt_log(MRT_M_RT, MRT_LOG_ERR, "ha: %s: fork: %s", p->name, strerror(errno));
        (void)mha_exec_exited(h->ex, p->entity, 127, now);
        return;
    }
    p->pid = pid;
    p->sock = sv[0];
    fcntl(p->sock, F_SETFL, fcntl(p->sock, F_GETFL) | O_NONBLOCK);
    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (p->pidfd < 0 || mrt_add_fd(h->rt, p->pidfd, EPOLLIN, on_proc_exit, p) < 0 ||
        mrt_add_fd(h->rt, p->sock, EPOLLIN, on_proc_sock, p) < 0)
        mrt_log(MRT_M_RT, MRT_LOG_ERR, "ha: %s: cannot watch pid %d", p->name, (int)pid);
    p->starts++;
    p->started_at = now;
    (void)mha_exec_started(h->ex, p->entity, now);
    if (p->heartbeat)
        p->watch_due = now + h->grace_ns;
    else
        register_proc(h, p); /* it cannot say that it is up itself: started counts as up */
    mrt_log(MRT_M_RT, MRT_LOG_INFO, "ha: started %s (entity 0x%x) pid %d%s", p->name, p->entity,
            (int)pid, restore ? " from its checkpoint" : "");
}

/* The IOP manager's reports (ha_iop.c): the loss of an IOP's node, to the FTM, as the
 * entity that saw it (entity 3). */
static void iop_report_loss(void *user, uint32_t node, uint16_t reason)
{
    mhd *h = user;
    if (!h->k[KF] && !h->cfg.ftm_node)
        return; /* no FTM anywhere: nobody moves anything */
    uint8_t b[4];
    mk_msg m;
    mp_put32(b, node);
    mk_msg_init(&m, ftm_node_of(h), MK_ENTITY_FTM, 0);
    m.src_entity = MK_ENTITY_IOPMGR;
    m.epoch = mhd_epoch(h);
    (void)mk_msg_uop(&m, MP_UOP_PROC_FAILED, reason);
    (void)mk_msg_block(&m, MP_UOP_PROC_FAILED, b, 4);
    route_out(h, KN, &m);
    pump(h);
}

int mhd_create(mrt *rt, const msgrd_conf_ha *cfg, uint32_t node_id, const char *socket_path,
               mhd **out)
{
    *out = NULL;
    mhd *h = calloc(1, sizeof *h);
    if (!h)
        return MC_ENOMEM;
    h->rt = rt;
    h->node = node_id;
    h->cfg = *cfg;
    h->tfd = -1;
    h->grace_ns = (cfg->start_grace_ms ? cfg->start_grace_ms : 2000) * 1000000ull;
    snprintf(h->socket_path, sizeof h->socket_path, "%s", socket_path);
    int ftm = cfg->ftm ? cfg->ftm : cfg->nexec ? MSGRD_FTM_ACTIVE : MSGRD_FTM_OFF;
    uint32_t ftm_node = cfg->ftm_node ? (uint32_t)cfg->ftm_node : node_id;
    static const uint32_t ent[NK] = {MK_ENTITY_KERNEL, MK_ENTITY_FTM, MK_ENTITY_EXEC};
    int rc = MC_ENOMEM;
    for (int i = 0; i < NK; i++) {
        if (i == KF && ftm == MSGRD_FTM_OFF)
            continue;
        h->k[i] = calloc(1, sizeof(mk_kernel));
        h->arena[i] = aligned_alloc(8, MHD_ARENA);
        mk_config kc = {.node_id = node_id, .entity_id = ent[i], .arena = h->arena[i],
                        .arena_len = MHD_ARENA};
        if (!h->k[i] || !h->arena[i] || (rc = mk_init(h->k[i], &kc)) < 0)
            goto fail;
        rc = mk_register(h->k[i], "hbresp", &mha_hbresp_ops, mha_hbresp_subs, mha_hbresp_nsubs,
                         NULL, mrt_now());
        if (rc < 0)
            goto fail;
    }
    uint64_t now = mrt_now();
    rc = mk_register(h->k[KN], "node", &node_el_ops, node_el_subs,
                     sizeof node_el_subs / sizeof node_el_subs[0], NULL, now);
    if (rc < 0)
        goto fail;
    mha_ckpt_config cc = {.replica_node = (uint32_t)cfg->ckpt_replica,
                          .replica_entity = MK_ENTITY_KERNEL};
    rc = mk_register(h->k[KN], "ckpt", &mha_ckpt_ops, mha_ckpt_subs, mha_ckpt_nsubs, &cc, now);
    if (rc < 0)
        goto fail;
    h->ck = mk_element_state(h->k[KN], rc);
    if (h->k[KF]) {
        mha_ftm_config fc = {.node_id = node_id, .rank = (uint8_t)cfg->rank,
                             .active = ftm == MSGRD_FTM_ACTIVE,
                             .epoch = cfg->epoch ? (uint32_t)cfg->epoch : 1,
                             .pol = mha_ftm_default_policy(),
                             /* Its own checkpoint (registry, recoveries in progress) goes
                              * to this node's store, which copies it to ckpt_replica: a
                              * standby FTM there restores it from its own store when it
                              * takes over, after this node is gone (RFC 10.11). */
                             .ckpt_node = node_id, .ckpt_entity = MK_ENTITY_KERNEL,
                             .ckpt_id = MK_ENTITY_FTM};
        mha_ftm_policy *pl = &fc.pol;
#define MS_NS(x) ((uint64_t)(x) * 1000000ull)
        if (cfg->max_restarts) pl->max_restarts = (uint32_t)cfg->max_restarts;
        if (cfg->restart_window_ms) pl->restart_window_ns = MS_NS(cfg->restart_window_ms);
        if (cfg->max_failovers) pl->max_failovers = (uint32_t)cfg->max_failovers;
        if (cfg->backoff_base_ms) pl->backoff_base_ns = MS_NS(cfg->backoff_base_ms);
        if (cfg->backoff_cap_ms) pl->backoff_cap_ns = MS_NS(cfg->backoff_cap_ms);
        if (cfg->budget) pl->budget = (uint32_t)cfg->budget;
        if (cfg->budget_window_ms) pl->budget_window_ns = MS_NS(cfg->budget_window_ms);
        if (cfg->recover_timeout_ms) pl->recover_timeout_ns = MS_NS(cfg->recover_timeout_ms);
        pl->restart_clean_exit = cfg->restart_clean_exit != 0;
        rc = mk_register(h->k[KF], "ftm", &mha_ftm_ops, mha_ftm_subs, mha_ftm_nsubs, &fc, now);
        if (rc < 0)
            goto fail;
        h->ftm = mk_element_state(h->k[KF], rc);
    }
    mha_exec_config xc = {.ftm_node = ftm_node};
    rc = mk_register(h->k[KX], "exec", &mha_exec_ops, mha_exec_subs, mha_exec_nsubs, &xc, now);
    if (rc < 0)
        goto fail;
    h->ex = mk_element_state(h->k[KX], rc);
    mha_hb_config hc = {.period_ns = MS_NS(cfg->hb_period_ms ? cfg->hb_period_ms : 100),
                        .threshold = cfg->hb_threshold ? (uint32_t)cfg->hb_threshold : 3,
                        .report_node = ftm_node, .report_entity = MK_ENTITY_FTM,
                        .on_loss = MHA_HB_REPORT, .follow_ftm = true};
    rc = mk_register(h->k[KX], "hb", &mha_hb_ops, mha_hb_subs, mha_hb_nsubs, &hc, now);
    if (rc < 0)
        goto fail;
    h->hb = mk_element_state(h->k[KX], rc);
    h->last_ftm_node = ftm_node;
    if (cfg->watch_ftm && (rc = mhd_watch_create(cfg, node_id, now, &h->watch)) < 0)
        goto fail;
    for (int i = 0; i < cfg->nexec; i++) {
        const msgrd_conf_exec *x = &cfg->exec[i];
        mhd_proc *p = &h->p[h->np];
        p->h = h;
        p->entity = x->entity ? (uint32_t)x->entity : 0x100u + (uint32_t)i;
        snprintf(p->name, sizeof p->name, "%s", x->name);
        snprintf(p->command, sizeof p->command, "%s", x->command);
        snprintf(p->devices, sizeof p->devices, "%s", x->devices);
        p->standby = (uint32_t)x->standby;
        p->pol[0] = x->on_exit;
        p->pol[1] = x->on_crash;
        p->pol[2] = x->on_hang;
        p->heartbeat = !x->no_heartbeat;
        p->pid = -1;
        p->pidfd = p->sock = -1;
        rc = mha_exec_add(h->ex, p->entity, x->name, x->command,
                          x->home ? (uint32_t)x->home : node_id, p->standby, x->on_exit,
                          x->on_crash, x->on_hang);
        if (rc < 0)
            goto fail;
        h->np++;
    }
    h->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (h->tfd < 0 || mrt_add_fd(rt, h->tfd, EPOLLIN, on_timer, h) < 0) {
        rc = MRT_EOS;
        goto fail;
    }
    if (cfg->niop) {
        mhd_iop_host ih = {.user = h, .report_loss = iop_report_loss};
        rc = mhd_iop_create(rt, cfg, node_id, socket_path, &ih, &h->iopm);
        if (rc < 0)
            goto fail;
    }
    *out = h;
    return 0;
fail:
    mrt_log(MRT_M_RT, MRT_LOG_ERR, "ha: setup failed: %s", rc <= MK_EINVAL && rc >= MK_ECORRUPT
                                                               ? mk_strerror(rc) : mrt_strerror(rc));
    mhd_destroy(h);
    return rc < 0 ? rc : MC_EINVAL;
}

/* This node registers with the FTM (kind node: the FTM fences it and learns what runs
 * here), then each process it runs or is about to boot, on its behalf, as its supervisor: a
 * process that dies before its own REGISTER is then still one the FTM knows and
 * recovers.  The process's own REGISTER later says that it is up (and ends a recovery).
 * Sent at start and whenever the FTM's node comes up (a remote FTM may start later). */
static void register_proc(mhd *h, const mhd_proc *p)
{
    if (!h->k[KF] && !h->cfg.ftm_node)
        return; /* no FTM anywhere */
    uint8_t b[256];
    int n = mha_register_block(b, sizeof b, p->entity, "proc", h->node, MK_ENTITY_EXEC, p->standby);
    size_t len = n > 0 ? (size_t)n : 0;
    if (n < 0 || mha_register_policy(b, sizeof b, &len, p->pol[0], p->pol[1], p->pol[2]) < 0)
        return;
    /* Where it belongs, which may not be here (it runs on its standby after a failover):
     * an FTM that has not heard of it would otherwise take this node for its home. */
    const mha_exec_proc *xp = mha_exec_find(h->ex, p->entity);
    if (xp && xp->home) {
        char num[12];
        size_t used = len - 4;
        snprintf(num, sizeof num, "%u", xp->home);
        if (mha_props_add(b + 4, sizeof b - 4, &used, "home", num) < 0)
            return;
        len = used + 4;
    }
    mk_msg m;
    mk_msg_init(&m, ftm_node_of(h), MK_ENTITY_FTM, 0);
    m.src_entity = MK_ENTITY_EXEC;
    m.epoch = mhd_epoch(h);
    (void)mk_msg_uop(&m, MP_UOP_REGISTER, 0);
    (void)mk_msg_block(&m, MP_UOP_REGISTER, b, len);
    route_out(h, KX, &m);
}

static void register_all(mhd *h)
{
    uint32_t ftm_node = ftm_node_of(h);
    uint8_t nb[128];
    int nn = mha_register_block(nb, sizeof nb, h->node, "node", h->node, MK_ENTITY_EXEC, 0);
    if (nn > 0) {
        mk_msg m;
        mk_msg_init(&m, ftm_node, MK_ENTITY_FTM, 0);
        m.src_entity = MK_ENTITY_KERNEL;
        m.epoch = mhd_epoch(h);
        (void)mk_msg_uop(&m, MP_UOP_REGISTER, 0);
        (void)mk_msg_block(&m, MP_UOP_REGISTER, nb, (size_t)nn);
        route_out(h, KN, &m);
    }
    /* Every process running here, wherever its home (after a failover it runs on its
     * standby, and an FTM that took over since may have restored no registry: it must
     * learn where each one runs), and before the first start, the home ones this node is
     * about to boot.  Not a home process that is idle after having run: it was stopped or
     * moved, and registering it here would tell the FTM it runs where it does not. */
    for (int i = 0; i < h->np; i++) {
        const mha_exec_proc *xp = mha_exec_find(h->ex, h->p[i].entity);
        if (!xp)
            continue;
        bool running = xp->state == MHA_X_RUNNING || xp->state == MHA_X_STARTING;
        bool to_boot =
            xp->home == h->node && !h->cfg.rejoin && xp->state == MHA_X_IDLE && xp->starts == 0;
        if (running || to_boot)
            register_proc(h, &h->p[i]);
    }
}

int mhd_start(mhd *h)
{
    if (h->k[KF] || h->cfg.ftm_node)
        register_all(h);
    /* A rejoining node (--ha-rejoin) starts nothing: its processes may run on their
     * standby now, and a second instance must never serve beside them. */
    int n = 0;
    if (!h->k[KF] && h->cfg.ftm_node && h->cfg.ftm_node != h->node)
        /* With the FTM (and by default the checkpoint store) on another node, a process
         * started before that node is reached would ask for its checkpoint in vain and
         * fail: start them when it comes up (mhd_event, want_register). */
        h->boot_pending = !h->cfg.rejoin;
    else if (!h->cfg.rejoin)
        n = mha_exec_boot(h->ex);
    pump(h);
    return n;
}

/* Stop: SIGTERM to every supervised process, whose exit is then ours (not a failure to
 * report).  The caller keeps the loop running until mhd_quiesced, so that a process
 * finishing its step still has its last checkpoint acknowledged. */
int mhd_quiesce(mhd *h)
{
    int n = 0;
    for (int i = 0; h && i < h->np; i++)
        if (h->p[i].pid > 0) {
            (void)mha_exec_stopping(h->ex, h->p[i].entity);
            kill(h->p[i].pid, SIGTERM);
            n++;
        }
    return n;
}

bool mhd_quiesced(const mhd *h)
{
    for (int i = 0; h && i < h->np; i++)
        if (h->p[i].pid > 0)
            return false;
    return true;
}

void mhd_destroy(mhd *h)
{
    if (!h)
        return;
    mhd_iop_destroy(h->iopm);
    h->iopm = NULL;
    /* Ask first, then insist: a process may want to save its state on SIGTERM. */
    for (int i = 0; i < h->np; i++)
        if (h->p[i].pid > 0)
            kill(h->p[i].pid, SIGTERM);
    for (int i = 0; i < h->np; i++) {
        mhd_proc *p = &h->p[i];
        if (p->pid <= 0)
            continue;
        if (p->pidfd >= 0) {
            struct pollfd pf = {.fd = p->pidfd, .events = POLLIN};
            if (poll(&pf, 1, 1000) == 0)
                kill(p->pid, SIGKILL);
        } else {
            kill(p->pid, SIGKILL);
        }
        waitpid(p->pid, NULL, 0);
        if (p->pidfd >= 0) {
            mrt_del_fd(h->rt, p->pidfd);
            close(p->pidfd);
        }
        if (p->sock >= 0) {
            mrt_del_fd(h->rt, p->sock);
            close(p->sock);
        }
    }
    if (h->tfd >= 0) {
        mrt_del_fd(h->rt, h->tfd);
        close(h->tfd);
    }
    mhd_watch_destroy(h->watch);
    for (int i = 0; i < NK; i++) {
        free(h->k[i]);
        free(h->arena[i]);
    }
    free(h);
}

/* ---- msgrctl ha | proc | iop ------------------------------------------------------------ */
typedef struct hout {
    char *b;
    size_t cap, len;
    bool json;
} hout;

static void hp(hout *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hp(hout *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msrv_out_vappend(o->b, o->cap, &o->len, fmt, ap);
    va_end(ap);
}

static void hjstr(hout *o, const char *s) { msrv_out_jstr(o->b, o->cap, &o->len, s, strlen(s)); }

static const char *ent_state_name(int s)
{
    static const char *const n[] = {"UP", "BACKOFF", "DEGRADED", "RECOVERING", "FAULTED", "STOPPED"};
    return s >= 0 && s < 6 ? n[s] : "?";
}
static const char *class_name(int c)
{
    return c == MHA_FAIL_EXIT ? "exit" : c == MHA_FAIL_CRASH ? "crash" : c == MHA_FAIL_HANG ? "hang" : "none";
}
static const char *pstate_name(int s)
{
    static const char *const n[] = {"idle", "starting", "running", "stopping"};
    return s >= 0 && s < 4 ? n[s] : "?";
}
static const char *pol_name(int p)
{
    static const char *const n[] = {"default", "restart", "stop", "failover"};
    return p >= 0 && p < 4 ? n[p] : "?";
}
static const char *role_name(int r)
{
    return r == MHA_FTM_ACTIVE ? "active" : r == MHA_FTM_DEPOSED ? "deposed" : "standby";
}
/* ns of CLOCK_MONOTONIC -> ms ago (-1 if never) */
static long long ago_ms(uint64_t t, uint64_t now) { return t ? (long long)((now - t) / 1000000) : -1; }

static void ctl_ha(mhd *h, hout *o)
{
    uint64_t now = mrt_now();
    const mha_ftm *f = h->ftm;
    unsigned long long bound = (unsigned long long)(mha_hb_detection_bound(h->hb) / 1000000);
    uint32_t ftm_node = h->ex->cfg.ftm_node;
    if (o->json) {
        hp(o, "{\"node\":%u,\"now_ns\":%llu,\"epoch\":%u,\"ftm_node\":%u,\"detection_bound_ms\":%llu,"
              "\"hb_period_ms\":%llu,\"hb_threshold\":%u,",
           h->node, (unsigned long long)now, mhd_epoch(h), ftm_node, bound,
           (unsigned long long)(h->hb->cfg.period_ns / 1000000), h->hb->cfg.threshold);
        /* records held, and those whose newest save the replica has not confirmed */
        unsigned nrec = 0, unrepl = 0;
        for (unsigned i = 0; i < MHA_CKPT_MAX; i++) {
            nrec += h->ck->rec[i].used;
            unrepl += h->ck->cfg.replica_node && h->ck->rec[i].used && !h->ck->rec[i].replicated;
        }
        /* requests refused for an old epoch by any entity here (MSG-MGMT-15) */
        unsigned long long fenced = 0;
        for (int i = 0; i < NK; i++)
            fenced += h->k[i] ? mk_get_stats(h->k[i])->fenced : 0;
        fenced += h->watch ? mk_get_stats(mhd_watch_kernel(h->watch))->fenced : 0;
        hp(o, "\"mgmt\":{\"rx_link\":%llu,\"rx_bad\":%llu,\"tx_link\":%llu,\"tx_err\":%llu,"
              "\"from_proc\":%llu,\"to_gone\":%llu,\"fenced\":%llu},",
           (unsigned long long)h->rx_link, (unsigned long long)h->rx_bad,
           (unsigned long long)h->tx_link, (unsigned long long)h->tx_err,
           (unsigned long long)h->from_proc, (unsigned long long)h->to_gone, fenced);
        hp(o, "\"hb\":{\"sent\":%llu,\"acks\":%llu,\"stale_acks\":%llu,\"declared\":%llu,"
              "\"recovered\":%llu},",
           (unsigned long long)h->hb->sent, (unsigned long long)h->hb->acks,
           (unsigned long long)h->hb->stale_acks, (unsigned long long)h->hb->declared,
           (unsigned long long)h->hb->recovered);
        hp(o, "\"exec\":{\"reports\":%llu,\"recovers\":%llu,\"starts_ordered\":%llu,\"stops\":%llu,"
              "\"unknown\":%llu,\"last_epoch\":%u},",
           (unsigned long long)h->ex->reports, (unsigned long long)h->ex->recovers,
           (unsigned long long)h->ex->starts_ordered, (unsigned long long)h->ex->stops,
           (unsigned long long)h->ex->unknown, h->ex->last_epoch);
        hp(o, "\"ckpt\":{\"saves\":%llu,\"dup_saves\":%llu,\"stale\":%llu,\"fenced\":%llu,"
              "\"restores\":%llu,\"misses\":%llu,\"replica\":%u,\"records\":%u,"
              "\"unreplicated\":%u},",
           (unsigned long long)h->ck->saves, (unsigned long long)h->ck->dup_saves,
           (unsigned long long)h->ck->stale, (unsigned long long)h->ck->fenced,
           (unsigned long long)h->ck->restores, (unsigned long long)h->ck->misses,
           h->ck->cfg.replica_node, nrec, unrepl);
        mhd_watch_ctl(h->watch, f, 1, now, o->b, o->cap, &o->len);
        if (!f) {
            hp(o, "\"ftm\":null}\n");
            return;
        }
        const mha_ftm_policy *pl = &f->cfg.pol;
        hp(o, "\"ftm\":{\"role\":\"%s\",\"epoch\":%u,\"policy\":{\"max_restarts\":%u,"
              "\"restart_window_ms\":%llu,\"max_failovers\":%u,\"backoff_base_ms\":%llu,"
              "\"backoff_cap_ms\":%llu,\"budget\":%u,\"budget_window_ms\":%llu,"
              "\"recover_timeout_ms\":%llu,\"restart_clean_exit\":%s},",
           role_name(f->role), f->epoch, pl->max_restarts,
           (unsigned long long)(pl->restart_window_ns / 1000000), pl->max_failovers,
           (unsigned long long)(pl->backoff_base_ns / 1000000),
           (unsigned long long)(pl->backoff_cap_ns / 1000000), pl->budget,
           (unsigned long long)(pl->budget_window_ns / 1000000),
           (unsigned long long)(pl->recover_timeout_ns / 1000000),
           pl->restart_clean_exit ? "true" : "false");
        hp(o, "\"counters\":{\"decisions\":%llu,\"commands\":%llu,\"restarts\":%llu,"
              "\"failovers\":%llu,\"degraded\":%llu,\"faulted\":%llu,\"duplicates\":%llu,"
              "\"recoveries\":%llu,\"emit_errors\":%llu,\"budget_used\":%u},",
           (unsigned long long)f->log_total, (unsigned long long)f->commands,
           (unsigned long long)f->restarts, (unsigned long long)f->failovers,
           (unsigned long long)f->degraded, (unsigned long long)f->faulted,
           (unsigned long long)f->duplicates, (unsigned long long)f->recoveries,
           (unsigned long long)f->emit_errors, f->budget_n);
        hp(o, "\"entities\":[");
        int items = 0;
        for (unsigned i = 0; i < MHA_FTM_MAX_ENT; i++) {
            const mha_ftm_ent *e = &f->ent[i];
            if (!e->used)
                continue;
            hp(o, "%s{\"id\":%u,\"kind\":\"%s\",\"node\":%u,\"state\":\"%s\",\"failures\":%u,"
                  "\"restarts\":%u,\"failovers\":%u,\"fails_in_window\":%u,\"failed_ago_ms\":%lld}",
               items++ ? "," : "", e->id, e->kind == MHA_K_NODE ? "node" : e->kind == MHA_K_IOP ? "iop" : "proc",
               e->node, ent_state_name(e->state), e->total_failures, e->restarts, e->total_failovers,
               e->nfails, ago_ms(e->failed_at, now));
        }
        hp(o, "],\"log\":[");
        unsigned nl = mha_ftm_log_count(f), from = nl > 32 ? nl - 32 : 0;
        for (unsigned i = from; i < nl; i++) {
            const mha_decision *d = mha_ftm_log_at(f, i);
            char line[256];
            mha_decision_format(d, line, sizeof line);
            hp(o, "%s{\"at_ns\":%llu,\"entity\":%u,\"trigger\":\"%s\",\"action\":\"%s\",\"reason\":%u,"
                  "\"fails_in_window\":%u,\"delay_ns\":%llu,\"text\":",
               i > from ? "," : "", (unsigned long long)d->at, d->entity, mha_trigger_name(d->trigger),
               mha_action_name(d->action), d->reason, d->fails_in_window,
               (unsigned long long)d->delay_ns);
            hjstr(o, line);
            hp(o, "}");
        }
        hp(o, "]}}\n");
        return;
    }
    hp(o, "node %u  epoch %u  FTM on node %u  detection bound %llu ms (heartbeat %llu ms x %u)\n",
       h->node, mhd_epoch(h), ftm_node, bound, (unsigned long long)(h->hb->cfg.period_ns / 1000000),
       h->hb->cfg.threshold);
    hp(o, "mgmt: %llu in from links (%llu bad), %llu out, %llu send errors, %llu from processes\n",
       (unsigned long long)h->rx_link, (unsigned long long)h->rx_bad, (unsigned long long)h->tx_link,
       (unsigned long long)h->tx_err, (unsigned long long)h->from_proc);
    hp(o, "heartbeats: %llu sent, %llu acks, %llu declarations; supervisor: %llu reports, %llu recovers\n",
       (unsigned long long)h->hb->sent, (unsigned long long)h->hb->acks,
       (unsigned long long)h->hb->declared, (unsigned long long)h->ex->reports,
       (unsigned long long)h->ex->recovers);
    hp(o, "checkpoints: %llu saves, %llu restores, %llu misses, %llu refused (stale %llu, fenced %llu)\n",
       (unsigned long long)h->ck->saves, (unsigned long long)h->ck->restores,
       (unsigned long long)h->ck->misses, (unsigned long long)(h->ck->stale + h->ck->fenced),
       (unsigned long long)h->ck->stale, (unsigned long long)h->ck->fenced);
    mhd_watch_ctl(h->watch, f, 0, now, o->b, o->cap, &o->len);
    if (!f) {
        hp(o, "FTM: not on this node\n");
        return;
    }
    hp(o, "FTM: %s, epoch %u, %llu decisions, %llu restarts, %llu failovers, %llu faulted, budget %u/%u\n",
       role_name(f->role), f->epoch, (unsigned long long)f->log_total, (unsigned long long)f->restarts,
       (unsigned long long)f->failovers, (unsigned long long)f->faulted, f->budget_n, f->cfg.pol.budget);
    hp(o, "%-10s %-5s %-5s %-10s %8s %8s %9s\n", "ENTITY", "KIND", "NODE", "STATE", "FAILURES",
       "RESTARTS", "FAILOVERS");
    for (unsigned i = 0; i < MHA_FTM_MAX_ENT; i++) {
        const mha_ftm_ent *e = &f->ent[i];
        if (e->used)
            hp(o, "0x%-8x %-5s %-5u %-10s %8u %8u %9u\n", e->id,
               e->kind == MHA_K_NODE ? "node" : e->kind == MHA_K_IOP ? "iop" : "proc", e->node,
               ent_state_name(e->state), e->total_failures, e->restarts, e->total_failovers);
    }
    unsigned nl = mha_ftm_log_count(f);
    hp(o, "decisions (newest last):\n");
    for (unsigned i = nl > 10 ? nl - 10 : 0; i < nl; i++) {
        char line[256];
        mha_decision_format(mha_ftm_log_at(f, i), line, sizeof line);
        hp(o, "  %s\n", line);
    }
}

static void ctl_proc(mhd *h, hout *o)
{
    uint64_t now = mrt_now();
    unsigned long long bound = (unsigned long long)(mha_hb_detection_bound(h->hb) / 1000000);
    if (o->json)
        hp(o, "[");
    else
        hp(o, "%-10s %-12s %-8s %-7s %-9s %6s %6s %6s %6s %-6s %s\n", "ENTITY", "NAME", "STATE",
           "PID", "FTM", "STARTS", "CRASH", "EXIT", "HANG", "LAST", "EVIDENCE");
    for (int i = 0; i < h->np; i++) {
        const mhd_proc *p = &h->p[i];
        const mha_exec_proc *xp = mha_exec_find(h->ex, p->entity);
        const mha_ftm_ent *fe = h->ftm ? mha_ftm_entity(h->ftm, p->entity) : NULL;
        const mha_hb_watch *w = mha_hb_find(h->hb, h->node, p->entity);
        const char *fst = fe ? ent_state_name(fe->state) : "-";
        if (!o->json) {
            hp(o, "0x%-8x %-12s %-8s %-7d %-9s %6llu %6llu %6llu %6llu %-6s %s\n", p->entity, p->name,
               xp ? pstate_name(xp->state) : "?", (int)p->pid, fst, (unsigned long long)p->starts,
               (unsigned long long)p->crashes, (unsigned long long)p->exits,
               (unsigned long long)p->hangs, class_name(p->last_class),
               p->evidence[0] ? p->evidence : "-");
            continue;
        }
        hp(o, "%s{\"entity\":%u,\"name\":", i ? "," : "", p->entity);
        hjstr(o, p->name);
        hp(o, ",\"command\":");
        hjstr(o, p->command);
        hp(o, ",\"devices\":");
        hjstr(o, p->devices);
        hp(o, ",\"state\":\"%s\",\"pid\":%d,\"policy\":{\"on_exit\":\"%s\",\"on_crash\":\"%s\","
              "\"on_hang\":\"%s\"},\"standby\":%u,",
           xp ? pstate_name(xp->state) : "?", (int)p->pid, pol_name(p->pol[0]), pol_name(p->pol[1]),
           pol_name(p->pol[2]), p->standby);
        hp(o, "\"starts\":%llu,\"crashes\":%llu,\"exits\":%llu,\"hangs\":%llu,\"kills\":%llu,"
              "\"last_status\":%d,\"last_class\":\"%s\",\"detected_ns\":%llu,\"started_ns\":%llu,"
              "\"restore_asked_ns\":%llu,\"registered_ns\":%llu,\"evidence\":",
           (unsigned long long)p->starts, (unsigned long long)p->crashes,
           (unsigned long long)p->exits, (unsigned long long)p->hangs,
           (unsigned long long)p->kills_by_supervisor, p->last_status, class_name(p->last_class),
           (unsigned long long)p->detected_at, (unsigned long long)p->started_at,
           (unsigned long long)p->restored_at, (unsigned long long)p->registered_at);
        hjstr(o, p->evidence);
        hp(o, ",\"heartbeat\":{\"enabled\":%s,\"watched\":%s,\"acks\":%u,\"last_ack_ago_ms\":%lld,\"declarations\":%u,"
              "\"detection_bound_ms\":%llu},",
           p->heartbeat ? "true" : "false", w ? "true" : "false", w ? w->acks : 0, w ? ago_ms(w->last_ack, now) : -1,
           w ? w->declarations : 0, bound);
        if (fe)
            hp(o, "\"ftm\":{\"state\":\"%s\",\"failures\":%u,\"restarts\":%u,\"failovers\":%u,"
                  "\"fails_in_window\":%u,\"backoff_due_in_ms\":%lld}",
               fst, fe->total_failures, fe->restarts, fe->total_failovers, fe->nfails,
               fe->state == MHA_E_BACKOFF && fe->restart_at > now
                   ? (long long)((fe->restart_at - now) / 1000000) : -1);
        else
            hp(o, "\"ftm\":null");
        hp(o, ",\"mgmt\":{\"rx\":%llu,\"tx\":%llu,\"tx_drop\":%llu,\"spoofed\":%llu,\"bad\":%llu}}",
           (unsigned long long)p->rx, (unsigned long long)p->tx, (unsigned long long)p->tx_drop,
           (unsigned long long)p->spoofed, (unsigned long long)p->bad);
    }
    if (o->json)
        hp(o, "]\n");
}

/* The IOPs of this node's IOP manager (ha_iop.c), then the IOPs and nodes as the FTM
 * knows them; `iop COMMAND NAME ...` goes to the IOP manager. */
static void ctl_iop(mhd *h, hout *o)
{
    const mha_ftm *f = h->ftm;
    if (o->json) {
        hp(o, "{\"iop_manager\":%s,", h->iopm ? "true" : "false");
        o->len += mhd_iop_list(h->iopm, 1, o->b + o->len, o->cap - o->len);
        hp(o, ",\"entities\":[");
    } else {
        if (h->iopm)
            o->len += mhd_iop_list(h->iopm, 0, o->b + o->len, o->cap - o->len);
        else
            hp(o, "IOP manager (entity 3): not hosted by this msgrd (no [iop] section)\n");
        hp(o, "registered with the FTM:\n%-10s %-5s %-5s %-10s %8s\n", "ENTITY", "KIND", "NODE",
           "STATE", "FAILURES");
    }
    int items = 0;
    for (unsigned i = 0; f && i < MHA_FTM_MAX_ENT; i++) {
        const mha_ftm_ent *e = &f->ent[i];
        if (!e->used || e->kind == MHA_K_PROC)
            continue;
        const char *kind = e->kind == MHA_K_NODE ? "node" : "iop";
        if (o->json)
            hp(o, "%s{\"id\":%u,\"kind\":\"%s\",\"node\":%u,\"state\":\"%s\",\"failures\":%u}",
               items++ ? "," : "", e->id, kind, e->node, ent_state_name(e->state), e->total_failures);
        else
            hp(o, "0x%-8x %-5s %-5u %-10s %8u\n", e->id, kind, e->node, ent_state_name(e->state),
               e->total_failures);
    }
    if (o->json)
        hp(o, "]}\n");
}

/* `iop list`, `iop show`, or any prefix of them (as in ctl.c) shows; other words command. */
static bool iop_show_word(const mipc_str *w)
{
    return w->len <= 4 && (!memcmp(w->p, "list", w->len) || !memcmp(w->p, "show", w->len));
}

int mhd_ctl(void *user, const void *req, int json, char *out, size_t cap)
{
    mhd *h = user;
    const mipc_req *q = req;
    if (q->u.ctl.argc < 1)
        return MC_ENOENT;
    char obj[8] = "";
    size_t l = q->u.ctl.arg[0].len;
    if (l == 0 || l >= sizeof obj)
        return MC_ENOENT;
    memcpy(obj, q->u.ctl.arg[0].p, l);
    obj[l] = 0;
    hout o = {out, cap, 0, json != 0};
    out[0] = 0;
    if (!strcmp(obj, "ha"))
        ctl_ha(h, &o);
    else if (!strcmp(obj, "proc"))
        ctl_proc(h, &o);
    else if (!strcmp(obj, "iop") && q->u.ctl.argc >= 2 && !iop_show_word(&q->u.ctl.arg[1]))
        return mhd_iop_ctl(h->iopm, q, json, out, cap);
    else if (!strcmp(obj, "iop"))
        ctl_iop(h, &o);
    else
        return MC_ENOENT;
    return (int)o.len;
}
