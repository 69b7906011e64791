/*
 * ha_iop.c — msgrd's IOP manager (entity 3, RFC 10.7): the lifecycle of each [iop NAME]
 * (ha_iop.h), driven through mha_iop, the RFC's transition table in stack/ha.
 *
 * How a board is emulated.  The board in a slot is a child msgrd, in its own process
 * group (so that pulling the board takes everything that runs on it), attached to this
 * msgrd over the PCIe shim bearer: the host side of the window is opened here once, and
 * the child gets `pcie:name=SHIM,role=iop` and its configuration file on its command
 * line.  Board firmware is not emulated: a board that is present is reachable (HOLD) as
 * soon as the host's window for its slot is open.  Every step is an event of the table,
 * and the table decides: an event it does not allow from the current state (or in an
 * empty slot, or BOOT without CONFIGURE) is refused before anything is done.
 *
 *   boot     HOLD: CONFIGURE (if not since the last reset), BOOT -> READY, child started
 *            (with --ha-iop-manager); READY -> OPERATIONAL when the board reports IOP_STATE
 *            OPERATIONAL to entity 3, which it does once its node registered with the FTM
 *            and started its processes (ha.c).
 *   extract  planned: QUIESCE (OPERATIONAL -> READY) = SIGTERM to the IOP's msgrd, which
 *            stops its processes while its loop still runs, so the checkpoint each one is
 *            saving is acknowledged (drain); once it has exited, the node's loss is
 *            reported to the FTM as planned (MP_R_APP_CLOSE), which moves its processes
 *            to their standby node (switch-over); then EXTRACT -> HOLD, slot empty.
 *            --surprise: EXTRACT(1) -> FAILED, slot empty, the process group SIGKILLed
 *            and the loss reported at once (MP_R_PEER_DOWN).
 *   insert   empty slot: INSERT -> INITIALIZING -> HOLD, then boot as above (N+1: the
 *            board rejoins as a standby; nothing moves back by itself).
 *   reset    RESET: the board is killed; once reaped RESET_DONE -> INITIALIZING -> HOLD.
 *   clear    FAULTED -> INITIALIZING -> HOLD (operator).
 * A board that dies or whose link is lost while READY/OPERATIONAL, or that does not
 * serve within boot_ms, is FAILED (evidence kept) and its loss reported; recovery is the
 * operator's `reset` then `boot`, counted against the RFC's recovery limit by the table.
 */
#define _GNU_SOURCE
#include "ha_iop.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctlout.h"
#include "ipc.h"
#include "mha.h"

enum { OP_NONE = 0, OP_BOOT, OP_DRAIN, OP_RESET, OP_GONE };
static const char *const op_names[] = {"none", "booting", "draining", "resetting", "removing"};

#define MS(x) ((uint64_t)(x)*1000000ull)
#define IOP_TICK_NS MS(20) /* polling of pending steps: drain and boot bounds, link losses */

typedef struct mhd_iop {
    mhd_iopm *m;
    msgrd_conf_iop c;
    int standby;      /* index of the standby IOP, -1 none */
    int bearer;       /* host side of its shim, -1 if it could not be opened */
    char socket[108]; /* the IOP msgrd's socket */
    mha_iop sm;       /* the RFC 10.7 state */
    pid_t pid;        /* the board's msgrd (leader of its process group), -1 */
    int pidfd;
    int op;
    uint64_t op_due;
    bool link;        /* a link to its node is up (PEER_UP since the last start) */
    bool link_lost;   /* PEER_DOWN seen in the core's callback, handled at the next tick */
    bool reported;    /* its loss was reported to the FTM since it was last started */
    bool autoboot;    /* boot at the first tick */
    int last_status;  /* how its msgrd ended: exit status, or -signal */
    uint64_t reports; /* IOP_STATE reports from its node */
    int last_report;  /* the state it reported last, -1 none */
    char evidence[200];
    uint64_t boots, resets, planned, surprises, insertions, failures, drain_timeouts;
    uint64_t t_boot, t_link, t_oper, t_extract, t_drained, t_switched, t_removed;
} mhd_iop;

/* Entity 3's own element: the IOP manager is an entity like the other roles (RFC 10.2),
 * reached by MGMT.  It takes the IOP_STATE reports of the boards (queued here for the
 * shell, which owns the lifecycle), FENCE and ELECT (the kernel keeps the epoch), and
 * answers STATS_GET (group 0 or 7) with its counters and the state of each IOP, which the
 * shell copies in at every change (the element sees only its own state). */
#define IOPM_ARENA (16u * 1024u)
#define IOPM_QUEUE 16u
typedef struct iopm_el {
    struct {
        uint32_t node;
        uint16_t state;
    } q[IOPM_QUEUE];
    uint32_t nq;
    uint64_t reports, overflow, fences, elects, stats;
    struct {
        char name[16];
        uint8_t state;
    } io[MSGRD_CONF_MAX_IOP];
    uint32_t nio;
} iopm_el;

static const uint16_t iopm_subs[] = {MP_UOP_IOP_STATE, MP_UOP_FENCE, MP_UOP_ELECT,
                                     MP_UOP_STATS_GET};

static int iopm_uop(mk_ctx *c, uint16_t op, uint16_t arg)
{
    iopm_el *s = mk_ctx_state(c);
    if (mk_ctx_is_reply(c))
        return 0;
    switch (op) {
    case MP_UOP_IOP_STATE:
        s->reports++;
        if (s->nq >= IOPM_QUEUE) {
            s->overflow++;
            return 0;
        }
        s->q[s->nq].node = mk_ctx_src_node(c);
        s->q[s->nq].state = arg;
        s->nq++;
        return 0;
    case MP_UOP_FENCE:
        s->fences++;
        return 0;
    case MP_UOP_ELECT:
        s->elects++;
        return 0;
    default: { /* STATS_GET */
        if (arg != 0 && arg != 7)
            return 0;
        s->stats++;
        uint8_t b[512];
        size_t used = 1;
        b[0] = 0;
        int rc = mha_props_add_u64(b, sizeof b, &used, "iopmgr.iops", s->nio);
        if (rc == 0)
            rc = mha_props_add_u64(b, sizeof b, &used, "iopmgr.reports", s->reports);
        for (uint32_t i = 0; rc == 0 && i < s->nio; i++) {
            char k[32];
            snprintf(k, sizeof k, "iop.%s.state", s->io[i].name);
            rc = mha_props_add_u64(b, sizeof b, &used, k, s->io[i].state);
        }
        if (rc < 0)
            return rc;
        rc = mk_reply_uop(c, MP_UOP_STATS_REPLY, 7);
        return rc ? rc : mk_reply_block(c, MP_UOP_STATS_REPLY, b, used);
    }
    }
}
static const mk_element_ops iopm_ops = {.state_size = sizeof(iopm_el), .uop = iopm_uop};

struct mhd_iopm {
    mrt *rt;
    uint32_t node;
    mhd_iop_host host;
    char exe[256];
    int tfd;
    bool armed;
    mk_kernel *k; /* entity 3 */
    void *arena;
    iopm_el *el;
    const mha_hbresp *hbresp;
    mhd_iop io[MSGRD_CONF_MAX_IOP];
    int n;
};

static void iop_note(mhd_iop *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void iop_note(mhd_iop *io, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(io->evidence, sizeof io->evidence, fmt, ap);
    va_end(ap);
}

/* One event of the table; the evidence of the caller (iop_note) goes into the log. */
static int iop_apply(mhd_iop *io, int ev)
{
    int from = io->sm.state;
    int rc = mha_iop_apply(&io->sm, ev, mrt_now());
    if (rc < 0) {
        mrt_log(MRT_M_RT, MRT_LOG_WARN, "iop %s: %s refused in %s%s", io->c.name,
                mha_iop_event_name(ev), mha_iop_state_name(from),
                io->sm.present ? "" : " (slot empty)");
        return rc;
    }
    mrt_log(MRT_M_RT, MRT_LOG_INFO, "iop %s: %s: %s -> %s (%s)", io->c.name, mha_iop_event_name(ev),
            mha_iop_state_name(from), mha_iop_state_name(rc), io->evidence);
    if (io->m->el)
        io->m->el->io[io - io->m->io].state = (uint8_t)rc; /* what STATS_GET shows */
    return rc;
}

/* The first event of evs that the table would refuse now, or -1 if it accepts them all.
 * Tried on a copy, so that an operation refused at its last step does not start at all. */
static int iop_first_refused(const mhd_iop *io, const int *evs, int n)
{
    mha_iop t = io->sm;
    for (int i = 0; i < n; i++)
        if (mha_iop_apply(&t, evs[i], mrt_now()) < 0)
            return evs[i];
    return -1;
}

static bool iop_allows(const mhd_iop *io, const int *evs, int n)
{
    return iop_first_refused(io, evs, n) < 0;
}

/* A refused request: counted like the table counts its refusals, state unchanged. */
static int refused(mhd_iop *io, int ev, char *out, size_t cap)
{
    io->sm.rejected++;
    io->sm.last_error = MK_ESTATE;
    mrt_log(MRT_M_RT, MRT_LOG_WARN, "iop %s: %s refused in %s%s", io->c.name,
            mha_iop_event_name(ev), mha_iop_state_name(io->sm.state),
            io->sm.present ? "" : " (slot empty)");
    snprintf(out, cap, "iop %s: %s refused in %s%s (RFC 10.7)", io->c.name, mha_iop_event_name(ev),
             mha_iop_state_name(io->sm.state), io->sm.present ? "" : " with an empty slot");
    return MC_ESTATE;
}

static void iop_arm(mhd_iopm *m)
{
    bool want = false;
    for (int i = 0; i < m->n; i++)
        want |= m->io[i].op != OP_NONE || m->io[i].link_lost || m->io[i].autoboot;
    if (want == m->armed)
        return;
    struct itimerspec its = {0};
    if (want) {
        its.it_value.tv_nsec = 1000; /* at once, then every tick */
        its.it_interval.tv_nsec = (long)IOP_TICK_NS;
    }
    timerfd_settime(m->tfd, 0, &its, NULL);
    m->armed = want;
}

static void iop_report(mhd_iop *io, uint16_t reason)
{
    io->reported = true;
    io->t_switched = mrt_now();
    mrt_log(MRT_M_RT, MRT_LOG_WARN, "iop %s: node %lu lost (%s): reported to the FTM", io->c.name,
            io->c.node, reason == MP_R_APP_CLOSE ? "planned" : "surprise");
    if (io->m->host.report_loss)
        io->m->host.report_loss(io->m->host.user, (uint32_t)io->c.node, reason);
}

/* Pull the board: everything in its process group goes at once. */
static void iop_kill(mhd_iop *io)
{
    if (io->pid > 0)
        kill(-io->pid, SIGKILL);
}

static void on_child_exit(void *user, int fd, uint32_t ev);

static int iop_spawn(mhd_iop *io)
{
    mhd_iopm *m = io->m;
    char node[16], spec[200];
    snprintf(node, sizeof node, "%lu", io->c.node);
    int n = snprintf(spec, sizeof spec, "pcie:name=%s,role=iop%s%s",
                     io->c.shim[0] ? io->c.shim : io->c.name, io->c.shim_sock[0] ? ",sock=" : "",
                     io->c.shim_sock);
    if (n < 0 || (size_t)n >= sizeof spec)
        return MC_EINVAL;
    const char *exe = io->c.msgrd[0] ? io->c.msgrd : m->exe;
    /* The configuration first: the node id, socket and shim given after it win. */
    const char *argv[16];
    int a = 0;
    argv[a++] = exe;
    if (io->c.config[0]) {
        argv[a++] = "-c";
        argv[a++] = io->c.config;
    }
    argv[a++] = "--node-id";
    argv[a++] = node;
    argv[a++] = "--foreground";
    argv[a++] = "--socket";
    argv[a++] = io->socket;
    argv[a++] = "--bearer";
    argv[a++] = spec;
    /* Any boot but the first is a board coming back (insert, reset, recovery): what had
     * its home there may run on the standby now, so the board joins as a standby. */
    if (io->boots > 0)
        argv[a++] = "--ha-rejoin";
    /* Where to report that it serves (IOP_STATE OPERATIONAL to entity 3 here). */
    char mgr[16];
    snprintf(mgr, sizeof mgr, "%u", m->node);
    argv[a++] = "--ha-iop-manager";
    argv[a++] = mgr;
    argv[a] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        /* A process group of its own: the board.  msgrd's signal mask and ignored SIGPIPE
         * survive exec; undo them.  Its READY line goes to stderr with its logs: our
         * stdout is our own readiness channel. */
        setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0 && nul != 0) {
            dup2(nul, 0);
            close(nul);
        }
        dup2(2, 1);
        close_range(3, ~0u, 0);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    if (pid < 0)
        return MC_ENOMEM;
    setpgid(pid, pid); /* also here: no race with a kill of the group right after fork */
    io->pid = pid;
    io->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (io->pidfd < 0 || mrt_add_fd(m->rt, io->pidfd, EPOLLIN, on_child_exit, io) < 0)
        mrt_log(MRT_M_RT, MRT_LOG_ERR, "iop %s: cannot watch pid %d", io->c.name, (int)pid);
    io->link = false;
    io->link_lost = false;
    io->reported = false;
    io->boots++;
    io->t_boot = mrt_now();
    io->t_link = io->t_oper = 0;
    mrt_log(MRT_M_RT, MRT_LOG_INFO, "iop %s: started %s (node %lu, pid %d, %s)", io->c.name, exe,
            io->c.node, (int)pid, spec);
    return 0;
}

/* CONFIGURE when needed, BOOT, start the board's msgrd; OPERATIONAL follows at a tick. */
static int iop_boot(mhd_iop *io, char *err, size_t cap)
{
    int seq[2] = {MHA_IOP_EV_CONFIGURE, MHA_IOP_EV_BOOT};
    bool conf = !io->sm.configured;
    int bad = iop_first_refused(io, conf ? seq : seq + 1, conf ? 2 : 1);
    if (bad >= 0)
        return refused(io, bad, err, cap);
    if (conf) {
        iop_note(io, "configuration %s",
                 io->c.config[0] ? io->c.config : "(none: node and shim only)");
        (void)iop_apply(io, MHA_IOP_EV_CONFIGURE);
    }
    int rc = iop_spawn(io);
    if (rc < 0) {
        snprintf(err, cap, "iop %s: cannot start its msgrd: %s", io->c.name,
                 rc == MC_EINVAL ? "shim spec too long" : strerror(errno));
        return rc;
    }
    iop_note(io, "msgrd pid %d started over shim %s", (int)io->pid,
             io->c.shim[0] ? io->c.shim : io->c.name);
    (void)iop_apply(io, MHA_IOP_EV_BOOT);
    io->op = OP_BOOT;
    io->op_due = mrt_now() + MS(io->c.boot_ms ? io->c.boot_ms : 10000);
    iop_arm(io->m);
    return 0;
}

/* INITIALIZING -> HOLD: the host's window for the slot is open. */
static void iop_window(mhd_iop *io)
{
    if (io->sm.state != MHA_IOP_INITIALIZING)
        return;
    if (io->bearer < 0) {
        iop_note(io, "shim window not open: the board cannot be reached");
        return;
    }
    iop_note(io, "board present, shim window %s open", io->c.shim[0] ? io->c.shim : io->c.name);
    (void)iop_apply(io, MHA_IOP_EV_LINK_UP);
}

/* The board's msgrd ended. */
static void on_child_exit(void *user, int fd, uint32_t ev)
{
    (void)ev;
    mhd_iop *io = user;
    /* Whatever is left of the board goes with it (a process that outlived its msgrd).
     * Before the reaping: until then the group's id cannot be reused. */
    kill(-io->pid, SIGKILL);
    int st;
    pid_t r = waitpid(io->pid, &st, WNOHANG);
    if (r == 0)
        return;
    int status = r < 0 ? -SIGKILL : WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    mrt_del_fd(io->m->rt, fd);
    close(fd);
    io->pidfd = -1;
    pid_t old = io->pid;
    io->pid = -1;
    io->last_status = status;
    uint64_t now = mrt_now();
    int op = io->op;
    io->op = OP_NONE;
    char how[64];
    if (status >= 0)
        snprintf(how, sizeof how, "exited with status %d", status);
    else
        snprintf(how, sizeof how, "killed by signal %d", -status);
    if (op == OP_DRAIN) {
        /* Drained: its processes stopped after their last acknowledged checkpoint and its
         * links closed.  Now the switch-over: the FTM moves them to their standby. */
        io->t_drained = now;
        bool clean = status == 0;
        iop_report(io, clean ? MP_R_APP_CLOSE : MP_R_PEER_DOWN);
        if (clean)
            iop_note(io,
                     "planned: quiesced and drained in %llu ms (msgrd pid %d %s), switched "
                     "over, removed",
                     (unsigned long long)((now - io->t_extract) / 1000000), (int)old, how);
        else
            iop_note(io,
                     "planned, but msgrd pid %d %s after %llu ms: not known to be drained, "
                     "reported as a surprise loss, removed",
                     (int)old, how, (unsigned long long)((now - io->t_extract) / 1000000));
        (void)iop_apply(io, MHA_IOP_EV_EXTRACT_PLANNED);
        io->t_removed = mrt_now();
        io->planned++;
    } else if (op == OP_RESET) {
        iop_note(io, "reset: msgrd pid %d %s", (int)old, how);
        if (io->sm.state == MHA_IOP_RESET && iop_apply(io, MHA_IOP_EV_RESET_DONE) >= 0)
            iop_window(io);
    } else if (op == OP_GONE) {
        /* surprise extraction: already FAILED with an empty slot */
    } else {
        io->failures++;
        iop_note(io, "msgrd pid %d %s", (int)old, how);
        int s = io->sm.state;
        if (s == MHA_IOP_READY || s == MHA_IOP_OPERATIONAL || s == MHA_IOP_HOLD ||
            s == MHA_IOP_INITIALIZING)
            (void)iop_apply(io, MHA_IOP_EV_HB_LOSS);
        if (!io->reported && io->link)
            iop_report(io, MP_R_PEER_DOWN);
    }
    io->link = false;
    iop_arm(io->m);
}

/* The boards' IOP_STATE reports, queued by entity 3's element.  A board says it serves
 * (OPERATIONAL) once its node has registered with the FTM and started its processes
 * (ha.c, --ha-iop-manager): READY -> OPERATIONAL.  Other reports are counted; the
 * lifecycle of a board this msgrd runs is known here better than the board can say. */
static void iop_reports(mhd_iopm *m, uint64_t now)
{
    iopm_el *s = m->el;
    for (uint32_t k = 0; s && k < s->nq; k++) {
        mhd_iop *io = NULL;
        for (int i = 0; i < m->n; i++)
            if (m->io[i].c.node == s->q[k].node)
                io = &m->io[i];
        if (!io) {
            mrt_log(MRT_M_RT, MRT_LOG_WARN, "iop: IOP_STATE %u from node %u, not an IOP of ours",
                    s->q[k].state, s->q[k].node);
            continue;
        }
        io->reports++;
        io->last_report = s->q[k].state;
        if (s->q[k].state != MHA_IOP_OPERATIONAL || io->op != OP_BOOT ||
            io->sm.state != MHA_IOP_READY)
            continue;
        io->t_oper = now;
        iop_note(io,
                 "serving: IOP_STATE OPERATIONAL from node %lu %llu ms after boot (link up "
                 "after %llu ms)",
                 io->c.node, (unsigned long long)((now - io->t_boot) / 1000000),
                 (unsigned long long)(io->t_link ? (io->t_link - io->t_boot) / 1000000 : 0));
        (void)iop_apply(io, MHA_IOP_EV_SERVE);
        io->op = OP_NONE;
    }
    if (s)
        s->nq = 0;
}

void mhd_iop_input(mhd_iopm *m, uint32_t src_node, const mp_mgmt *v, uint64_t now)
{
    if (!m)
        return;
    (void)mk_input(m->k, src_node, v, now);
    iop_reports(m, now); /* only state: nothing here calls back into the core */
    iop_arm(m);
}

mk_kernel *mhd_iop_kernel(const mhd_iopm *m)
{
    return m ? m->k : NULL;
}

static void iop_tick_one(mhd_iop *io, uint64_t now)
{
    if (io->autoboot) {
        char err[160];
        io->autoboot = false;
        if (iop_boot(io, err, sizeof err) < 0)
            mrt_log(MRT_M_RT, MRT_LOG_ERR, "%s", err);
    }
    if (io->link_lost) {
        io->link_lost = false;
        int s = io->sm.state;
        if (io->op == OP_NONE && (s == MHA_IOP_READY || s == MHA_IOP_OPERATIONAL)) {
            /* Its peer is lost by every link: fence the board (a half-alive board must
             * not serve beside the standby that takes over) and report the loss. */
            io->failures++;
            iop_note(io, "link to node %lu lost", io->c.node);
            (void)iop_apply(io, MHA_IOP_EV_HB_LOSS);
            if (!io->reported)
                iop_report(io, MP_R_PEER_DOWN);
            if (io->pid > 0) {
                iop_kill(io);
                io->op = OP_GONE;
            }
        }
    }
    if (io->op == OP_BOOT && now >= io->op_due) {
        io->failures++;
        iop_note(io, "not serving %llu ms after boot (link %s): board pulled",
                 (unsigned long long)((now - io->t_boot) / 1000000), io->link ? "up" : "never up");
        (void)iop_apply(io, MHA_IOP_EV_HB_LOSS);
        if (io->link && !io->reported)
            iop_report(io, MP_R_PEER_DOWN);
        iop_kill(io);
        io->op = io->pid > 0 ? OP_GONE : OP_NONE;
    }
    if (io->op == OP_DRAIN && io->op_due && now >= io->op_due) {
        /* The board did not finish quiescing in time: pull it.  Its exit then reports the
         * loss as a surprise, since nothing says its last checkpoints were acknowledged. */
        io->drain_timeouts++;
        io->op_due = 0;
        mrt_log(MRT_M_RT, MRT_LOG_WARN, "iop %s: drain not done in %lu ms: killing the board",
                io->c.name, io->c.drain_ms ? io->c.drain_ms : 5000ul);
        iop_kill(io);
    }
}

static void on_tick(void *user, int fd, uint32_t ev)
{
    (void)ev;
    mhd_iopm *m = user;
    uint64_t x;
    while (read(fd, &x, sizeof x) == (ssize_t)sizeof x)
        ;
    uint64_t now = mrt_now();
    for (int i = 0; i < m->n; i++)
        iop_tick_one(&m->io[i], now);
    iop_arm(m);
}

bool mhd_iop_event(mhd_iopm *m, const mc_event *ev)
{
    bool ours = false;
    if (!m || (ev->type != MC_EV_PEER_UP && ev->type != MC_EV_PEER_DOWN))
        return false;
    for (int i = 0; i < m->n; i++) {
        mhd_iop *io = &m->io[i];
        if (io->c.node != ev->peer)
            continue;
        if (ev->type == MC_EV_PEER_UP) {
            io->link = true;
            io->link_lost = false;
            io->t_link = mrt_now();
        } else {
            io->link = false;
            io->link_lost = true;
            /* Ours too: the old incarnation of a board booting again (its end was
             * handled already), which a late report could otherwise pin on the new one
             * once it has registered. */
            ours |= io->op == OP_DRAIN || io->op == OP_GONE || io->op == OP_RESET || io->reported ||
                    (io->op == OP_BOOT && !io->t_link);
        }
    }
    iop_arm(m); /* handled at the tick: no call back into the core from here */
    return ours;
}

int mhd_iop_create(mrt *rt, const msgrd_conf_ha *cfg, uint32_t node, const char *host_socket,
                   const mhd_iop_host *host, mhd_iopm **out)
{
    *out = NULL;
    mhd_iopm *m = calloc(1, sizeof *m);
    if (!m)
        return MC_ENOMEM;
    m->rt = rt;
    m->node = node;
    m->host = *host;
    ssize_t l = readlink("/proc/self/exe", m->exe, sizeof m->exe - 1);
    m->exe[l > 0 ? l : 0] = 0;
    m->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (m->tfd < 0 || mrt_add_fd(rt, m->tfd, EPOLLIN, on_tick, m) < 0) {
        if (m->tfd >= 0)
            close(m->tfd);
        free(m);
        return MRT_EOS;
    }
    /* Entity 3: a heartbeat responder (so that it can be supervised like any role) and
     * the manager's element. */
    m->k = calloc(1, sizeof *m->k);
    m->arena = aligned_alloc(8, IOPM_ARENA);
    mk_config kc = {
        .node_id = node, .entity_id = MK_ENTITY_IOPMGR, .arena = m->arena, .arena_len = IOPM_ARENA};
    int rc = MC_ENOMEM;
    if (!m->k || !m->arena || (rc = mk_init(m->k, &kc)) < 0 ||
        (rc = mk_register(m->k, "hbresp", &mha_hbresp_ops, mha_hbresp_subs, mha_hbresp_nsubs, NULL,
                          mrt_now())) < 0 ||
        (rc = mk_register(m->k, "iopmgr", &iopm_ops, iopm_subs,
                          sizeof iopm_subs / sizeof iopm_subs[0], NULL, mrt_now())) < 0) {
        mrt_log(MRT_M_RT, MRT_LOG_ERR, "iop: entity 3: %s", mk_strerror(rc));
        mhd_iop_destroy(m);
        return rc;
    }
    m->el = mk_element_state(m->k, rc);
    m->hbresp = mk_element_state(m->k, 0);
    char dir[108];
    snprintf(dir, sizeof dir, "%s", host_socket);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = 0;
    else
        dir[0] = 0;
    for (int i = 0; i < cfg->niop; i++) {
        mhd_iop *io = &m->io[m->n++];
        io->m = m;
        io->c = cfg->iop[i];
        io->pid = -1;
        io->pidfd = -1;
        io->standby = -1;
        for (int j = 0; j < cfg->niop; j++)
            if (io->c.standby[0] && !strcmp(cfg->iop[j].name, io->c.standby))
                io->standby = j;
        char sock[sizeof io->socket];
        if (io->c.socket[0])
            snprintf(sock, sizeof sock, "%s", cfg->iop[i].socket);
        else if (snprintf(sock, sizeof sock, "%s%s.sock", dir, cfg->iop[i].name) >=
                 (int)sizeof sock)
            mrt_log(MRT_M_RT, MRT_LOG_WARN, "iop %s: socket path truncated", io->c.name);
        memcpy(io->socket, sock, sizeof sock);
        if (io->c.node == node)
            mrt_log(MRT_M_RT, MRT_LOG_WARN, "iop %s: node %lu is this node's id", io->c.name,
                    io->c.node);
        mha_iop_config ic = {.mgr_node = node, .mgr_entity = MK_ENTITY_IOPMGR};
        mha_iop_init(&io->sm, &ic, mrt_now());
        char spec[200];
        snprintf(spec, sizeof spec, "pcie:name=%s,role=host%s%s",
                 io->c.shim[0] ? io->c.shim : io->c.name, io->c.shim_sock[0] ? ",sock=" : "",
                 io->c.shim_sock);
        io->bearer = mrt_add_bearer(rt, spec);
        if (io->bearer < 0) {
            mrt_log(MRT_M_RT, MRT_LOG_ERR, "iop %s: bearer %s: %s", io->c.name, spec,
                    mrt_strerror(io->bearer));
            io->bearer = -1;
        }
        iop_window(io);
        io->autoboot = io->c.autoboot != 0;
        io->last_report = -1;
        memcpy(m->el->io[i].name, io->c.name, sizeof m->el->io[i].name);
        m->el->io[i].state = io->sm.state;
        m->el->nio = (uint32_t)m->n;
    }
    iop_arm(m);
    *out = m;
    return 0;
}

void mhd_iop_destroy(mhd_iopm *m)
{
    if (!m)
        return;
    /* The host is going away, and with it the bus: the boards go at once (a graceful
     * stop could not have its checkpoints acknowledged by a host that stopped serving). */
    for (int i = 0; i < m->n; i++) {
        mhd_iop *io = &m->io[i];
        if (io->pid <= 0)
            continue;
        iop_kill(io);
        waitpid(io->pid, NULL, 0);
        if (io->pidfd >= 0) {
            mrt_del_fd(m->rt, io->pidfd);
            close(io->pidfd);
        }
    }
    if (m->tfd >= 0) {
        mrt_del_fd(m->rt, m->tfd);
        close(m->tfd);
    }
    free(m->k);
    free(m->arena);
    free(m);
}

/* ---- msgrctl iop ----------------------------------------------------------------------- */
typedef struct iout {
    char *b;
    size_t cap, len;
} iout;

static void ip(iout *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ip(iout *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msrv_out_vappend(o->b, o->cap, &o->len, fmt, ap);
    va_end(ap);
}

static void ijstr(iout *o, const char *s)
{
    msrv_out_jstr(o->b, o->cap, &o->len, s, strlen(s));
}

size_t mhd_iop_list(mhd_iopm *m, int json, char *out, size_t cap)
{
    iout o = {out, cap, 0};
    uint64_t now = mrt_now();
    const mk_stats *ks = m ? mk_get_stats(m->k) : NULL;
    if (json && m)
        ip(&o,
           "\"entity3\":{\"rx\":%llu,\"heartbeats_answered\":%llu,\"iop_state_reports\":%llu,"
           "\"reports_dropped\":%llu,\"stats_replies\":%llu,\"epoch\":%u},\"iops\":[",
           (unsigned long long)ks->rx, (unsigned long long)m->hbresp->answered,
           (unsigned long long)m->el->reports, (unsigned long long)m->el->overflow,
           (unsigned long long)m->el->stats, mk_epoch(m->k));
    else if (json)
        ip(&o, "\"entity3\":null,\"iops\":[");
    else if (m)
        ip(&o,
           "IOP manager (entity 3): %llu MGMT in, %llu heartbeats answered, %llu IOP_STATE "
           "reports\n%-8s %-6s %-4s %-12s %8s %-4s %-7s %-9s %-16s %s\n",
           (unsigned long long)ks->rx, (unsigned long long)m->hbresp->answered,
           (unsigned long long)m->el->reports, "IOP", "NODE", "SLOT", "STATE", "SINCE_MS", "LINK",
           "PID", "OP", "LAST_EVENT", "EVIDENCE");
    for (int i = 0; m && i < m->n; i++) {
        const mhd_iop *io = &m->io[i];
        const char *st = mha_iop_state_name(io->sm.state);
        unsigned long long since = (unsigned long long)((now - io->sm.since) / 1000000);
        const char *lev = io->sm.transitions ? mha_iop_event_name(io->sm.last_event) : "-";
        if (!json) {
            ip(&o, "%-8s %-6lu %-4lu %-12s %8llu %-4s %-7d %-9s %-16s %s%s\n", io->c.name,
               io->c.node, io->c.slot, st, since, io->link ? "up" : "down", (int)io->pid,
               op_names[io->op], lev, io->sm.present ? "" : "[slot empty] ",
               io->evidence[0] ? io->evidence : "-");
            continue;
        }
        ip(&o, "%s{\"name\":", i ? "," : "");
        ijstr(&o, io->c.name);
        ip(&o,
           ",\"node\":%lu,\"slot\":%lu,\"state\":\"%s\",\"state_code\":%d,\"present\":%s,"
           "\"configured\":%s,\"op\":\"%s\",\"since_ns\":%llu,\"since_ms\":%llu,\"link\":%s,"
           "\"pid\":%d,\"last_status\":%d,\"last_event\":\"%s\",\"last_error\":%d,",
           io->c.node, io->c.slot, st, io->sm.state, io->sm.present ? "true" : "false",
           io->sm.configured ? "true" : "false", op_names[io->op], (unsigned long long)io->sm.since,
           since, io->link ? "true" : "false", (int)io->pid, io->last_status, lev,
           io->sm.last_error);
        ip(&o,
           "\"reports\":%llu,\"last_report\":\"%s\",\"standby\":", (unsigned long long)io->reports,
           io->last_report >= 0 ? mha_iop_state_name(io->last_report) : "");
        ijstr(&o, io->c.standby);
        ip(&o, ",\"evidence\":");
        ijstr(&o, io->evidence);
        ip(&o, ",\"config\":");
        ijstr(&o, io->c.config);
        ip(&o, ",\"socket\":");
        ijstr(&o, io->socket);
        ip(&o,
           ",\"bearer\":%d,\"counters\":{\"boots\":%llu,\"resets\":%llu,\"planned_extractions\":%"
           "llu,"
           "\"surprise_extractions\":%llu,\"insertions\":%llu,\"failures\":%llu,"
           "\"drain_timeouts\":%llu,\"transitions\":%llu,\"rejected\":%llu},",
           io->bearer, (unsigned long long)io->boots, (unsigned long long)io->resets,
           (unsigned long long)io->planned, (unsigned long long)io->surprises,
           (unsigned long long)io->insertions, (unsigned long long)io->failures,
           (unsigned long long)io->drain_timeouts, (unsigned long long)io->sm.transitions,
           (unsigned long long)io->sm.rejected);
        ip(&o,
           "\"times_ns\":{\"boot\":%llu,\"link_up\":%llu,\"operational\":%llu,\"extract\":%llu,"
           "\"drained\":%llu,\"switched\":%llu,\"removed\":%llu}}",
           (unsigned long long)io->t_boot, (unsigned long long)io->t_link,
           (unsigned long long)io->t_oper, (unsigned long long)io->t_extract,
           (unsigned long long)io->t_drained, (unsigned long long)io->t_switched,
           (unsigned long long)io->t_removed);
    }
    if (json)
        ip(&o, "]");
    return o.len;
}

static bool word_is(const mipc_req *q, int i, const char *w)
{
    if (i >= q->u.ctl.argc)
        return false;
    size_t l = strlen(w);
    return q->u.ctl.arg[i].len >= 1 && q->u.ctl.arg[i].len <= l &&
           memcmp(q->u.ctl.arg[i].p, w, q->u.ctl.arg[i].len) == 0;
}

static bool word_eq(const mipc_req *q, int i, const char *w)
{
    return i < q->u.ctl.argc && q->u.ctl.arg[i].len == strlen(w) &&
           memcmp(q->u.ctl.arg[i].p, w, q->u.ctl.arg[i].len) == 0;
}

static mhd_iop *iop_by_word(mhd_iopm *m, const mipc_req *q, int i)
{
    for (int k = 0; m && k < m->n; k++)
        if (word_eq(q, i, m->io[k].c.name))
            return &m->io[k];
    return NULL;
}

static int busy(const mhd_iop *io, char *out, size_t cap)
{
    snprintf(out, cap, "iop %s: %s in progress (state %s)", io->c.name, op_names[io->op],
             mha_iop_state_name(io->sm.state));
    return MC_EAGAIN;
}

int mhd_iop_ctl(mhd_iopm *m, const void *req, int json, char *out, size_t cap)
{
    const mipc_req *q = req;
    static const char usage[] =
        "usage: iop [list] | configure NAME [FILE] | boot NAME | reset NAME | "
        "extract NAME [--surprise] | insert NAME | clear NAME";
    if (!m) {
        snprintf(out, cap, "no [iop] configured: this msgrd hosts no IOP manager");
        return MC_ENOTSUP;
    }
    mhd_iop *io = iop_by_word(m, q, 2);
    if (!io) {
        snprintf(out, cap, "%s", q->u.ctl.argc < 3 ? usage : "no such IOP (see msgrctl iop list)");
        return MC_EINVAL;
    }
    uint64_t now = mrt_now();
    int rc = 0;
    if (word_is(q, 1, "configure")) {
        if (io->op != OP_NONE)
            return busy(io, out, cap);
        char file[256] = "";
        if (q->u.ctl.argc > 3) {
            size_t l = q->u.ctl.arg[3].len;
            if (l == 0 || l >= sizeof file) {
                snprintf(out, cap, "iop %s: configuration file name too long", io->c.name);
                return MC_EINVAL;
            }
            memcpy(file, q->u.ctl.arg[3].p, l);
            file[l] = 0;
        }
        int ev = MHA_IOP_EV_CONFIGURE;
        if (!iop_allows(io, &ev, 1))
            return refused(io, ev, out, cap);
        if (file[0])
            memcpy(io->c.config, file, strlen(file) + 1);
        /* A running board cannot reload: in READY the configuration applies at its next
         * boot, which the note says. */
        iop_note(io, "configuration %s%s", io->c.config[0] ? io->c.config : "(none)",
                 io->pid > 0 ? " (applies at the next boot)" : "");
        (void)iop_apply(io, ev);
    } else if (word_is(q, 1, "boot")) {
        if (io->op != OP_NONE || io->pid > 0)
            return io->op != OP_NONE ? busy(io, out, cap) : refused(io, MHA_IOP_EV_BOOT, out, cap);
        rc = iop_boot(io, out, cap);
    } else if (word_is(q, 1, "reset")) {
        int ev = MHA_IOP_EV_RESET;
        if (io->op == OP_DRAIN || io->op == OP_RESET || io->op == OP_GONE)
            return busy(io, out, cap);
        if (!iop_allows(io, &ev, 1))
            return refused(io, ev, out, cap);
        int was = io->sm.state;
        io->resets++;
        iop_note(io, "reset by the operator%s", io->pid > 0 ? ": board killed" : "");
        (void)iop_apply(io, ev);
        if (io->pid > 0) {
            if (!io->reported && (was == MHA_IOP_READY || was == MHA_IOP_OPERATIONAL))
                iop_report(io, MP_R_PEER_DOWN); /* what ran there is lost */
            iop_kill(io);
            io->op = OP_RESET;
        } else if (io->sm.state == MHA_IOP_RESET) {
            io->op = OP_NONE;
            if (iop_apply(io, MHA_IOP_EV_RESET_DONE) >= 0)
                iop_window(io);
        }
    } else if (word_is(q, 1, "extract")) {
        bool surprise = q->u.ctl.argc > 3 && (word_eq(q, 3, "--surprise") ||
                                              word_eq(q, 3, "surprise") || word_eq(q, 3, "-s"));
        if (q->u.ctl.argc > 3 && !surprise) {
            snprintf(out, cap, "%s", usage);
            return MC_EINVAL;
        }
        if (io->op == OP_DRAIN || io->op == OP_GONE || io->op == OP_RESET)
            return busy(io, out, cap);
        if (surprise) {
            int ev = MHA_IOP_EV_EXTRACT_SURPRISE;
            if (!iop_allows(io, &ev, 1))
                return refused(io, ev, out, cap);
            io->surprises++;
            io->t_extract = now;
            io->t_drained = io->t_removed = 0;
            iop_note(io,
                     "surprise extraction: board pulled (msgrd pid %d and its processes killed)",
                     (int)io->pid);
            (void)iop_apply(io, ev);
            if (io->pid > 0) {
                iop_kill(io);
                if (!io->reported)
                    iop_report(io, MP_R_PEER_DOWN);
                io->op = OP_GONE;
            } else {
                io->op = OP_NONE;
            }
            io->t_removed = mrt_now();
        } else {
            bool oper = io->sm.state == MHA_IOP_OPERATIONAL;
            int seq[2] = {MHA_IOP_EV_QUIESCE, MHA_IOP_EV_EXTRACT_PLANNED};
            if (io->op == OP_BOOT)
                return busy(io, out, cap); /* not serving yet: nothing to quiesce */
            int bad = iop_first_refused(io, oper ? seq : seq + 1, oper ? 2 : 1);
            if (bad >= 0)
                return refused(io, bad, out, cap);
            /* N+1: a planned extraction moves the board's processes to the standby; it
             * must be there to take them, or the "planned" extraction would lose service. */
            if (io->standby >= 0 && m->io[io->standby].sm.state != MHA_IOP_OPERATIONAL) {
                snprintf(out, cap,
                         "iop %s: standby %s is %s, not OPERATIONAL: nothing to switch "
                         "over to (insert or boot it first, or extract --surprise)",
                         io->c.name, io->c.standby,
                         mha_iop_state_name(m->io[io->standby].sm.state));
                return MC_ESTATE;
            }
            io->t_extract = now;
            io->t_drained = io->t_switched = io->t_removed = 0;
            iop_note(io, "planned extraction: quiescing (SIGTERM to msgrd pid %d)", (int)io->pid);
            if (oper)
                (void)iop_apply(io, MHA_IOP_EV_QUIESCE);
            if (io->pid > 0) {
                kill(io->pid, SIGTERM);
                io->op = OP_DRAIN;
                io->op_due = now + MS(io->c.drain_ms ? io->c.drain_ms : 5000);
            } else {
                iop_report(io, MP_R_APP_CLOSE);
                (void)iop_apply(io, MHA_IOP_EV_EXTRACT_PLANNED);
                io->planned++;
            }
        }
    } else if (word_is(q, 1, "insert")) {
        int ev = MHA_IOP_EV_INSERT;
        if (io->op != OP_NONE || io->pid > 0)
            return io->op != OP_NONE ? busy(io, out, cap) : refused(io, ev, out, cap);
        if (!iop_allows(io, &ev, 1))
            return refused(io, ev, out, cap);
        io->insertions++;
        iop_note(io, "board inserted in slot %lu", io->c.slot);
        (void)iop_apply(io, ev);
        iop_window(io);
        /* Into N+1 service with no further step: configured and booted at once. */
        rc = iop_boot(io, out, cap);
    } else if (word_is(q, 1, "clear")) {
        int ev = MHA_IOP_EV_CLEAR;
        if (io->op != OP_NONE)
            return busy(io, out, cap);
        if (!iop_allows(io, &ev, 1))
            return refused(io, ev, out, cap);
        iop_note(io, "cleared by the operator");
        (void)iop_apply(io, ev);
        iop_window(io);
    } else {
        snprintf(out, cap, "%s", usage);
        return MC_EINVAL;
    }
    iop_arm(m);
    if (rc < 0)
        return rc;
    iout o = {out, cap, 0};
    out[0] = 0;
    if (json)
        ip(&o, "{\"name\":\"%s\",\"state\":\"%s\",\"op\":\"%s\"}\n", io->c.name,
           mha_iop_state_name(io->sm.state), op_names[io->op]);
    else
        ip(&o, "iop %s: %s%s%s\n", io->c.name, mha_iop_state_name(io->sm.state),
           io->op != OP_NONE ? ", " : "", io->op != OP_NONE ? op_names[io->op] : "");
    return (int)o.len;
}
