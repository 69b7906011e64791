/*
 * test_campaign.c — a seeded fault-injection campaign over simulated nodes and processes
 * driven only by the microkernel and the HA elements.  Usage: test_ha_campaign SEED FAULTS
 * (HA_TRACE=1 in the environment prints every FTM decision and hot-swap step).
 *
 *   nodes 1, 2   FTM candidates: an FTM kernel (entity 1: ftm + hbresp; node 1 starts
 *                active) and the node daemon (entity 0) with a checkpoint store (node 1
 *                primary, node 2 its replica).  The FTM checkpoints its registry and its
 *                recoveries in progress there; the IOP manager (host side) lives on node 1.
 *   node 6       the heartbeat monitor (entity 2): watches the active FTM, sends TAKEOVER
 *                to the other candidate when it is lost, follows ELECT.
 *   nodes 3..5   IOP boards, each with an execution supervisor (entity 4: mha_exec, with
 *                this harness as its host, and a heartbeat watcher of the node's processes).
 *                Every process is configured on its home and its standby board.
 *   processes    entity 0x100+i, one kernel each (hbresp + an app element).  Each consumes
 *                an in-order stream from a sender (one message per 20 ms) and checkpoints
 *                (path, cseq, digest) every 200 ms.  The sender keeps what came after the
 *                last acknowledged checkpoint it was told of and replays it to a restored
 *                instance, which skips what its checkpoint already reflects
 *                (mha_ckpt_should_deliver).
 *
 * Faults, from the seed, one every 0.5..2.5 s: SIGKILL, exit(3), exit(0) of a service
 * whose policy restarts it (the supervisor reaps it 1 ms later and reports), hang (only
 * heartbeats can tell), crash loop (3..5 crashes, each 30 ms after a restart on the same
 * node: needs the ladder's failover), burst (4 processes at once: needs the restart
 * budget), FTM kill (the monitor promotes the standby, which restores the registry; the
 * dead FTM is restarted as the new standby), FTM hang (a SIGSTOP 5 ms after a process
 * crash, for longer than the recovery timeout: on SIGCONT its timers fire while it still
 * believes it is active, and its commands must be fenced), planned IOP extraction
 * (quiesce, last checkpoint acknowledged, switch over to the standby boards, pull) and
 * surprise extraction (the board and its processes vanish), each followed by re-insertion
 * 2..4 s later.  The network delays each message 0.1..1 ms.  Faults stay inside what the
 * policy promises to recover: a process gets a new fault only if it is serving and had
 * none within the restart window, one board at most is out, and no crash loop (which
 * ends in a failover) starts while a board is out.
 *
 * Asserted (each can fail, and the summary names what failed):
 *  - every fault is detected within its bound and recovered; none is given up (FAULTED);
 *    the FTM is replaced within the monitor's bound plus message delays;
 *  - no acknowledged checkpoint is lost: a restore is never older than the newest ACK, and
 *    the replica holds what the primary holds;
 *  - exactly once under traffic: every stream is consumed with no gap and no duplicate
 *    (digest), and at the end every process has consumed everything sent to it;
 *  - never two primaries: at most one running FTM is active with the newest epoch, no
 *    supervisor carries out a command that a deposed FTM sent after it was replaced, and
 *    no process is restarted or killed while it is healthy;
 *  - hot swap: every IOP transition is legal (RFC 10.7) and every board rejoins;
 *  - the simulation ends (bounded simulated time and event count).
 */
#include <stdlib.h>

#include "t.h"

#define NPROC 12
#define NAPP 3
#define MAXEV 16384
#define MAXFAULT 20000
#define ARENA (1u << 18)
#define NET_MAX MS(1)

enum { EV_MSG, EV_RESTART, EV_CRASH, EV_SIGCHLD, EV_SAVE, EV_FAULT, EV_TRAFFIC, EV_FTM_RESTART,
       EV_FTM_STOP, EV_FTM_RESUME, EV_REG_RETRY, EV_IOP_REPORT, EV_IOP_REMOVE, EV_IOP_INSERT,
       EV_NODE_REG };
typedef struct ev {
    uint64_t at;
    int type, proc;
    uint32_t from_node, node;
    uint64_t gen;
    bool stale; /* a fenced command sent by an FTM whose epoch was already superseded */
    uint64_t seq; /* ties at the same time go in push order: the run is deterministic */
    mk_msg m;
} ev;

enum { P_ALIVE, P_DEAD, P_HUNG, P_STARTING };
typedef struct proc {
    uint32_t id, node, home, standby;
    int st;
    mk_kernel *k;
    uint64_t incarnation;
    bool registered, open; /* REGISTER answered; checkpoint restored and stream reopened */
    uint32_t last;         /* highest cseq consumed (state) */
    uint64_t digest;       /* state: a digest of every consumed message */
    uint32_t saved_last;   /* last cseq sent in a CKPT_SAVE by this incarnation */
    int crashes_left;      /* crash loop: crashes still to come while on loop_node */
    uint32_t loop_node;
    int fault;             /* open fault index or -1 */
    uint64_t last_fault_at;
    bool ever_faulted;
    bool quiesced;         /* planned extraction: consumes nothing more, saved its last */
    uint64_t last_failover_at; /* a fault that makes the ladder fail it over */
} proc;

/* The sender of one process's stream (the peer on the other end of its path). */
typedef struct sender {
    uint32_t sent;        /* messages 1..sent produced */
    uint32_t acked_ckpt;  /* newest acknowledged checkpoint the sender has been told of */
    uint32_t acked_true;  /* newest cseq the store ever acknowledged (ground truth) */
    uint32_t deliv;       /* next delivery to the current instance is deliv + 1 */
} sender;

enum { F_CRASH, F_HANG, F_LOOP, F_BURST, F_FTM_KILL, F_FTM_HANG, F_ERREXIT, F_EXIT0,
       F_IOP_PLANNED, F_IOP_SURPRISE, F_NTYPES };
static const char *const fault_name[F_NTYPES] = {"kill", "hang", "crashloop", "burst",
                                                  "ftm-kill", "ftm-hang", "error-exit",
                                                  "clean-exit", "iop-pull", "iop-surprise"};
typedef struct fault {
    int proc, type;
    uint32_t ftm_node;
    uint64_t at, detected, recovered;
    bool escaped, overlap; /* overlap: an FTM outage happened while this fault was open */
} fault;

/* One FTM candidate process. */
typedef struct ftmc {
    mk_kernel *k;
    mha_ftm *s;
    bool dead, stopped;
    uint64_t log_seen;
    uint64_t gen;
} ftmc;

static uint64_t rng_s;
static uint32_t rnd(void)
{
    rng_s ^= rng_s << 13;
    rng_s ^= rng_s >> 7;
    rng_s ^= rng_s << 17;
    return (uint32_t)(rng_s >> 11);
}
static uint64_t urange(uint64_t lo, uint64_t hi) { return lo + rnd() % (hi - lo + 1); }

static ev *evs;
static int nev;
static uint64_t nevents;
static proc P[NPROC];
static sender S[NPROC];
static fault *F;
static int nf, faults_wanted, injected;
static ftmc FT[3];                    /* index = node 1, 2 */
static mk_kernel *kd[3];              /* node daemons with the checkpoint stores */
static mk_kernel *kmon, *ksup[NAPP];
/* The IOP boards (nodes 3..5) as the IOP manager sees them: the RFC 10.7 state machine,
 * and whether the board is in its slot (absent: its kernels and processes are gone). */
static mha_iop iop[NAPP];
static bool absent[NAPP];
static int iop_open = -1;        /* node index with an extraction in progress */
static bool quiescing[NAPP];     /* planned extraction: waiting for the final checkpoints */
static int iop_bad, extractions, rejoined;
static uint64_t sup_fenced; /* fenced drops of supervisor kernels since replaced */
static mha_hb *mon, *shb[NAPP];
static uint64_t now;
static uint64_t max_epoch;           /* newest epoch any FTM has activated with */
static int ftm_fault = -1;           /* open FTM fault */
static uint64_t mon_declared_seen;
static const mha_ftm_policy *pol;

/* outcome counters */
static int lost_state, gaps, dup_consumed, bad_fenced, two_primaries, spurious;
static uint64_t stale_sent, skipped_replay, restores;

static void die(const char *why)
{
    fprintf(stderr, "campaign aborted at %.3f s: %s\n", now / 1e9, why);
    exit(2);
}

/* Events live in a pool (they are large: a whole message) and are ordered by a binary
 * heap of pool indexes on (at, seq). */
static int heap[MAXEV], freel[MAXEV], nfree;
static uint64_t ev_seq;

static bool ev_before(int a, int b)
{
    return evs[a].at < evs[b].at || (evs[a].at == evs[b].at && evs[a].seq < evs[b].seq);
}

static void heap_swap(int i, int j)
{
    int t = heap[i];
    heap[i] = heap[j];
    heap[j] = t;
}

static ev *push(uint64_t at, int type)
{
    if (nfree == 0)
        die("event pool exhausted");
    int idx = freel[--nfree];
    ev *e = &evs[idx];
    memset(e, 0, offsetof(ev, m));
    e->at = at;
    e->type = type;
    e->proc = -1;
    e->seq = ev_seq++;
    int i = nev++;
    heap[i] = idx;
    while (i > 0 && ev_before(heap[i], heap[(i - 1) / 2])) {
        heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return e;
}

/* Remove the earliest event into *out. */
static void pop(ev *out)
{
    int idx = heap[0];
    *out = evs[idx];
    freel[nfree++] = idx;
    heap[0] = heap[--nev];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < nev && ev_before(heap[l], heap[m]))
            m = l;
        if (r < nev && ev_before(heap[r], heap[m]))
            m = r;
        if (m == i)
            break;
        heap_swap(i, m);
        i = m;
    }
}

static mk_kernel *newk(uint32_t node, uint32_t entity)
{
    mk_kernel *k = calloc(1, sizeof *k);
    void *arena = aligned_alloc(8, ARENA);
    mk_config c = {.node_id = node, .entity_id = entity, .arena = arena, .arena_len = ARENA};
    if (!k || !arena || mk_init(k, &c) < 0)
        die("out of memory");
    return k;
}

static void freek(mk_kernel *k)
{
    if (k) {
        free(k->arena);
        free(k);
    }
}

static uint64_t mix(uint32_t x)
{
    uint64_t z = x * 0x9E3779B97F4A7C15ull;
    z ^= z >> 29;
    return z * 0xBF58476D1CE4E5B9ull;
}

/* ---- the process's app element: replies to its own requests ------------------------------ */
typedef struct app {
    uint32_t acked;  /* newest cseq whose save was acknowledged */
    bool got_restore, restore_none, got_register;
    uint32_t r_path, r_cseq;
    uint64_t r_digest;
} app;
#define CORR_RESTORE 0x80000000u
#define CORR_REGISTER 0x80000001u
static int app_uop(mk_ctx *c, uint16_t op, uint16_t arg)
{
    app *s = mk_ctx_state(c);
    if (!mk_ctx_is_reply(c))
        return 0;
    const uint8_t *p;
    size_t len;
    uint32_t corr = mk_ctx_corr(c);
    if (op == MP_UOP_CKPT_ACK && arg == 0 && corr < CORR_RESTORE && corr > s->acked)
        s->acked = corr; /* a save's corr is its cseq */
    if (op == MP_UOP_CKPT_RESTORE && corr == CORR_RESTORE) {
        if (arg == 0 && mk_param(c, &p, &len) == 0 && len >= 20) {
            s->r_path = mp_get32(p + 4);
            s->r_cseq = mp_get32(p + 8);
            s->r_digest = (uint64_t)mp_get32(p + 12) << 32 | mp_get32(p + 16);
            s->got_restore = true;
        } else if (arg == MP_R_NO_SUCH_DEVICE) {
            s->restore_none = true; /* never checkpointed */
        }
    }
    if (op == MP_UOP_REGISTER && corr == CORR_REGISTER && arg == 0)
        s->got_register = true;
    return 0;
}
static const mk_element_ops app_ops = {.state_size = sizeof(app), .uop = app_uop};

/* ---- supervisors: the mha_exec element, with this harness as its host --------------------- */
static mha_exec *sx[NAPP];
static uint32_t sx_epoch[NAPP]; /* newest epoch of a command carried out, per supervisor */
static bool cur_stale;          /* the message being delivered was flagged stale when sent */
static void host_actions(int n);
/* ---- routing ------------------------------------------------------------------------------ */
static void send_from(uint32_t from_node, const mk_msg *m, bool stale)
{
    ev *e = push(now + urange(MS(1) / 10, NET_MAX), EV_MSG);
    e->from_node = from_node;
    e->stale = stale;
    e->m = *m;
}

static bool is_ftm_kernel(const mk_kernel *k) { return k == FT[1].k || k == FT[2].k; }

static void flush(mk_kernel *k)
{
    static mk_msg m;
    while (mk_out_pop(k, &m)) {
        bool stale = false;
        if (is_ftm_kernel(k) && !(m.gflags & MP_GFLAG_REPLY) && mp_seq32_lt(m.epoch, (uint32_t)max_epoch))
            for (unsigned u = 0; u < m.uop_count; u++)
                if (mk_uop_fenced(m.uops[u].opcode))
                    stale = true;
        if (stale)
            stale_sent++;
        send_from(k->node_id, &m, stale);
    }
}

static bool ftm_running(int n) { return FT[n].k && !FT[n].dead && !FT[n].stopped; }

static int sup_index(const mk_kernel *k)
{
    for (int n = 0; n < NAPP; n++)
        if (ksup[n] == k)
            return n;
    return -1;
}

static void deliver_to(mk_kernel *k, const ev *e)
{
    mp_mgmt v;
    mk_msg_view(&e->m, &v);
    int n = sup_index(k);
    uint64_t before = n >= 0 ? sx[n]->recovers + sx[n]->stops : 0;
    cur_stale = e->stale;
    (void)mk_input(k, e->from_node, &v, now);
    cur_stale = false;
    if (n >= 0 && sx[n]->recovers + sx[n]->stops != before) {
        /* A command was carried out: it must come from the newest FTM, never from a
         * deposed one, and epochs never go back at one supervisor. */
        if (e->stale || mp_seq32_lt(sx[n]->last_epoch, sx_epoch[n])) {
            bad_fenced++;
            fprintf(stderr, "split brain: node %u carried out a command of epoch %u (newest %u)\n",
                    k->node_id, sx[n]->last_epoch, (unsigned)max_epoch);
        }
        sx_epoch[n] = sx[n]->last_epoch;
    }
    flush(k);
    if (n >= 0)
        host_actions(n);
}

/* Every kernel that is a node-level entity (not a process). */
static mk_kernel *node_kernel(int j)
{
    switch (j) {
    case 0: return ftm_running(1) ? FT[1].k : NULL;
    case 1: return ftm_running(2) ? FT[2].k : NULL;
    case 2: return kd[1];
    case 3: return kd[2];
    case 4: return kmon;
    default: return absent[j - 5] ? NULL : ksup[j - 5];
    }
}
#define NNODEK (5 + NAPP)

static void route(const ev *e)
{
    const mk_msg *m = &e->m;
    if (m->dst_node == MK_NODE_ALL) {
        for (int j = 0; j < NNODEK; j++) {
            mk_kernel *k = node_kernel(j);
            if (k && !(k->node_id == e->from_node && k->entity_id == m->src_entity))
                deliver_to(k, e);
        }
        return;
    }
    /* A stopped or dead FTM's socket: messages to it are lost. */
    if ((m->dst_node == 1 || m->dst_node == 2) && m->dst_entity == MK_ENTITY_FTM) {
        if (ftm_running((int)m->dst_node))
            deliver_to(FT[m->dst_node].k, e);
        return;
    }
    if (m->dst_node >= 3 && m->dst_node < 3 + NAPP && absent[m->dst_node - 3])
        return; /* the board is out of its slot */
    for (int j = 2; j < NNODEK; j++) {
        mk_kernel *k = node_kernel(j);
        if (k && k->node_id == m->dst_node &&
            (k->entity_id == m->dst_entity || m->dst_entity == MK_ENTITY_ALL)) {
            deliver_to(k, e);
            if (m->dst_entity != MK_ENTITY_ALL)
                return;
        }
    }
    if (m->dst_entity == MK_ENTITY_ALL)
        return;
    for (int i = 0; i < NPROC; i++)
        if (P[i].id == m->dst_entity && P[i].node == m->dst_node) {
            if (P[i].st == P_ALIVE)
                deliver_to(P[i].k, e);
            return; /* dead, hung or starting: lost */
        }
}

/* ---- processes ------------------------------------------------------------------------------ */
static uint32_t node_epoch(uint32_t node) { return mk_epoch(ksup[node - 3]); }
static uint32_t ftm_node_of(uint32_t node) { return sx[node - 3]->cfg.ftm_node; }

static void proc_send(proc *p, mk_msg *m, uint32_t dst_node)
{
    m->dst_node = dst_node;
    send_from(p->node, m, false);
}

static void proc_register(int i)
{
    proc *p = &P[i];
    uint8_t b[128];
    mk_msg m;
    int n = mha_register_block(b, sizeof b, p->id, "proc", p->node, MK_ENTITY_EXEC, p->standby);
    size_t len = (size_t)n - 4;
    char home[12];
    snprintf(home, sizeof home, "%u", p->home);
    (void)mha_props_add(b + 4, sizeof b - 4, &len, "home", home);
    len += 4;
    /* a service: a clean exit is a failure too (restart), the rest per the ladder */
    (void)mha_register_policy(b, sizeof b, &len, MHA_POL_RESTART, MHA_POL_DEFAULT,
                              MHA_POL_DEFAULT);
    t_req(&m, p->id, MK_ENTITY_FTM, CORR_REGISTER, node_epoch(p->node), MP_UOP_REGISTER, 0, b, len);
    proc_send(p, &m, ftm_node_of(p->node));
}

static void proc_restore_req(int i)
{
    proc *p = &P[i];
    uint8_t b[4];
    mk_msg m;
    mp_put32(b, p->id);
    t_req(&m, p->id, MK_ENTITY_KERNEL, CORR_RESTORE, node_epoch(p->node), MP_UOP_CKPT_RESTORE, 0,
          b, 4);
    proc_send(p, &m, 1);
}

static void proc_start(int i, uint32_t node)
{
    proc *p = &P[i];
    freek(p->k);
    p->k = newk(node, p->id);
    mk_register(p->k, "hbresp", &mha_hbresp_ops, mha_hbresp_subs, mha_hbresp_nsubs, NULL, now);
    mk_register(p->k, "app", &app_ops,
                (uint16_t[]){MP_UOP_CKPT_ACK, MP_UOP_CKPT_RESTORE, MP_UOP_REGISTER}, 3, NULL, now);
    /* The supervisor that launched it watches it; any other stops (it reaped the old
     * instance, or killed it when the recovery moved away). */
    for (int n = 0; n < NAPP; n++)
        if (!absent[n])
            (void)mha_hb_watch_del(shb[n], p->node, p->id);
    (void)mha_hb_watch_add(shb[node - 3], node, p->id, now);
    (void)mha_exec_started(sx[node - 3], p->id, now);
    p->node = node;
    p->st = P_ALIVE;
    p->incarnation++;
    p->registered = p->open = p->quiesced = false;
    p->last = 0;
    p->digest = 0;
    p->saved_last = 0;
    proc_restore_req(i);
    proc_register(i);
    ev *r = push(now + MS(200), EV_REG_RETRY);
    r->proc = i;
    r->gen = p->incarnation;
    if (p->crashes_left > 0 && node == p->loop_node) {
        ev *e = push(now + MS(30), EV_CRASH);
        e->proc = i;
        e->gen = p->incarnation;
    } else {
        p->crashes_left = 0;
    }
}

/* The process ends with `status` (exit code, or -signal): the supervisor reaps it 1 ms
 * later. */
static void proc_exit(int i, int status)
{
    proc *p = &P[i];
    p->st = P_DEAD;
    ev *e = push(now + MS(1), EV_SIGCHLD);
    e->proc = i;
    e->node = p->node;
    e->gen = p->incarnation;
    e->from_node = (uint32_t)status;
}
static void proc_crash(int i) { proc_exit(i, -9); /* SIGKILL */ }

/* Carry out what supervisor n asks of its host: START launches (20 ms later), KILL ends
 * the instance at once (SIGKILL and waitpid) and tells the supervisor. */
static void host_actions(int n)
{
    if (absent[n])
        return;
    mha_exec_action a;
    uint32_t node = 3 + (uint32_t)n;
    while (mha_exec_action_pop(sx[n], &a)) {
        int i = (int)(a.entity - 0x100);
        if (i < 0 || i >= NPROC)
            continue;
        proc *p = &P[i];
        if (getenv("HA_TRACE"))
            fprintf(stderr, "%.3f node %u %s proc %d (on node %u, state %d)\n", now / 1e9, node,
                    a.type == MHA_EXEC_KILL ? "KILL" : "START", i, p->node, p->st);
        if (a.type == MHA_EXEC_KILL) {
            if (p->node == node && (p->st == P_ALIVE || p->st == P_HUNG)) {
                if (p->fault < 0)
                    spurious++;
                p->st = P_DEAD;
                p->incarnation++; /* its pending events are void */
            }
            (void)mha_exec_exited(sx[n], a.entity, -9, now);
            continue;
        }
        if (p->fault < 0 && p->st == P_ALIVE) {
            spurious++;
            fprintf(stderr, "spurious restart of proc %d at %.3f s\n", i, now / 1e9);
        }
        if (p->st == P_ALIVE || p->st == P_HUNG)
            p->incarnation++; /* an instance elsewhere: superseded (its node stops it) */
        p->st = P_STARTING;
        ev *e = push(now + MS(20), EV_RESTART);
        e->proc = i;
        e->node = node;
    }
}

/* Consume one stream message (in order from the sender). */
static void consume(proc *p, uint32_t cseq)
{
    if (!mha_ckpt_should_deliver(p->id, p->last, p->id, cseq)) {
        skipped_replay++; /* already reflected in the restored state */
        return;
    }
    if (cseq != p->last + 1) {
        gaps++;
        fprintf(stderr, "gap: proc %u got %u after %u\n", p->id, cseq, p->last);
    }
    p->last = cseq;
    p->digest += mix(cseq);
}

/* Checkpoint (path, cseq = last consumed, digest), unless nothing changed. */
static void proc_save(int i)
{
    proc *p = &P[i];
    if (p->st != P_ALIVE || !p->open || p->last == 0 || p->last == p->saved_last)
        return;
    uint8_t b[32], st[8];
    mp_put32(st, (uint32_t)(p->digest >> 32));
    mp_put32(st + 4, (uint32_t)p->digest);
    int n = mha_ckpt_block(b, sizeof b, p->id, p->id, p->last, st, 8);
    mk_msg m;
    t_req(&m, p->id, MK_ENTITY_KERNEL, p->last, node_epoch(p->node), MP_UOP_CKPT_SAVE, 0, b,
          (size_t)n);
    proc_send(p, &m, 1);
    p->saved_last = p->last;
}

/* Pick up what the app element learnt from replies. */
static void proc_poll(int i)
{
    proc *p = &P[i];
    if (p->st != P_ALIVE)
        return;
    app *a = mk_element_state(p->k, 1);
    if (a->acked > S[i].acked_true)
        S[i].acked_true = a->acked;
    if (a->got_register)
        p->registered = true;
    if (!p->open && (a->got_restore || a->restore_none)) {
        restores++;
        uint32_t rc = a->got_restore ? a->r_cseq : 0;
        if (mp_seq32_lt(rc, S[i].acked_true)) {
            lost_state++;
            fprintf(stderr, "lost state: proc %d restored cseq %u < acknowledged %u\n", i, rc,
                    S[i].acked_true);
        }
        p->last = rc;
        p->digest = a->got_restore ? a->r_digest : 0;
        p->open = true;
        /* The path reopens: the sender replays everything after the last acknowledged
         * checkpoint; the restored instance skips what its state already has. */
        S[i].deliv = S[i].acked_ckpt;
    }
    if (p->open && !p->quiesced)
        while (S[i].deliv < S[i].sent)
            consume(p, ++S[i].deliv);
}

/* ---- FTMs ----------------------------------------------------------------------------------- */
static mha_ftm_config ftm_cfg(uint32_t node, bool active)
{
    mha_ftm_config fc = {.node_id = node, .rank = (uint8_t)node, .active = active,
                         .epoch = active ? 1 : 0, .pol = *pol, .ckpt_node = 1,
                         .ckpt_entity = MK_ENTITY_KERNEL, .ckpt_id = 0xF7F70001u};
    return fc;
}

static uint64_t ftm_tot[4]; /* restarts, failovers, degraded, faulted of replaced FTMs */
static void ftm_start(int n, bool active)
{
    ftmc *f = &FT[n];
    if (f->k) {
        ftm_tot[0] += f->s->restarts;
        ftm_tot[1] += f->s->failovers;
        ftm_tot[2] += f->s->degraded;
        ftm_tot[3] += f->s->faulted;
    }
    freek(f->k);
    f->k = newk((uint32_t)n, MK_ENTITY_FTM);
    mha_ftm_config fc = ftm_cfg((uint32_t)n, active);
    int id = mk_register(f->k, "ftm", &mha_ftm_ops, mha_ftm_subs, mha_ftm_nsubs, &fc, now);
    if (id < 0)
        die("ftm register");
    f->s = mk_element_state(f->k, id);
    f->dead = f->stopped = false;
    f->log_seen = 0;
    f->gen++;
}

static int active_ftm(void)
{
    for (int n = 1; n <= 2; n++)
        if (ftm_running(n) && FT[n].s->role == MHA_FTM_ACTIVE &&
            FT[n].s->epoch == (uint32_t)max_epoch)
            return n;
    return 0;
}

static void open_fault(int i, int type)
{
    if (nf >= MAXFAULT)
        return;
    F[nf] = (fault){.proc = i, .type = type, .at = now, .overlap = ftm_fault >= 0};
    if (i >= 0) {
        P[i].fault = nf;
        P[i].last_fault_at = now;
        P[i].ever_faulted = true;
        if (type == F_LOOP || type == F_IOP_PLANNED || type == F_IOP_SURPRISE)
            P[i].last_failover_at = now;
    }
    nf++;
    injected++;
}

static void scan_ftm_log(int n)
{
    ftmc *f = &FT[n];
    if (!f->k)
        return;
    const mha_ftm *s = f->s;
    uint64_t fresh = s->log_total - f->log_seen;
    unsigned cnt = mha_ftm_log_count(s);
    if (fresh > cnt)
        die("decision log overran between scans");
    for (unsigned j = cnt - (unsigned)fresh; j < cnt; j++) {
        const mha_decision *d = mha_ftm_log_at(s, j);
        if (getenv("HA_TRACE")) {
            char line[256];
            mha_decision_format(d, line, sizeof line);
            fprintf(stderr, "ftm%d %s\n", n, line);
        }
        if (d->action == MHA_A_RESTORED && ftm_fault >= 0 && !F[ftm_fault].recovered) {
            F[ftm_fault].recovered = d->at;
            ftm_fault = -1;
        }
        int i = (int)(d->entity - 0x100);
        if (i < 0 || i >= NPROC || P[i].fault < 0)
            continue;
        fault *fl = &F[P[i].fault];
        if (d->at < fl->at)
            continue;
        if (d->action == MHA_A_FAULT)
            fl->escaped = true; /* given up inside the promised envelope */
        if (!fl->detected && d->action != MHA_A_RECOVERED && d->action != MHA_A_DUPLICATE &&
            d->action != MHA_A_IGNORED_INACTIVE)
            fl->detected = d->at;
    }
    f->log_seen = s->log_total;
}

/* ---- invariants and progress, after every event ---------------------------------------------- */
static void observe(void)
{
    for (int n = 1; n <= 2; n++) {
        if (FT[n].k && FT[n].s->role == MHA_FTM_ACTIVE && FT[n].s->epoch > max_epoch)
            max_epoch = FT[n].s->epoch;
        scan_ftm_log(n);
    }
    int primaries = 0;
    for (int n = 1; n <= 2; n++)
        if (ftm_running(n) && FT[n].s->role == MHA_FTM_ACTIVE &&
            FT[n].s->epoch == (uint32_t)max_epoch)
            primaries++;
    if (primaries > 1) {
        two_primaries++;
        fprintf(stderr, "two primaries at %.3f s\n", now / 1e9);
    }
    /* The monitor declared the FTM lost: detection of the open FTM fault; the lost FTM
     * process is restarted (as the monitor would, through a supervisor) as a standby. */
    if (mon->declared != mon_declared_seen) {
        mon_declared_seen = mon->declared;
        if (ftm_fault >= 0 && !F[ftm_fault].detected) {
            F[ftm_fault].detected = now;
            if (F[ftm_fault].type == F_FTM_KILL) {
                ev *e = push(now + MS(50), EV_FTM_RESTART);
                e->node = F[ftm_fault].ftm_node;
            }
        }
    }
    for (int n = 0; n < NAPP; n++) {
        if (!quiescing[n])
            continue;
        bool done = true;
        for (int i = 0; i < NPROC && done; i++) {
            if (P[i].node != 3 + (uint32_t)n || !P[i].quiesced)
                continue;
            const app *a = mk_element_state(P[i].k, 1);
            if (P[i].st == P_ALIVE && a->acked != P[i].last)
                done = false;
        }
        if (done) {
            if (getenv("HA_TRACE"))
                fprintf(stderr, "%.3f node %d quiesced\n", now / 1e9, 3 + n);
            quiescing[n] = false;
            ev *e = push(now, EV_IOP_REPORT);
            e->node = (uint32_t)n;
            e->gen = 1; /* planned */
            e = push(now + MS(100), EV_IOP_REMOVE);
            e->node = (uint32_t)n;
        }
    }
    for (int i = 0; i < NPROC; i++) {
        proc *p = &P[i];
        proc_poll(i);
        if (p->fault < 0)
            continue;
        fault *fl = &F[p->fault];
        if (ftm_fault >= 0)
            fl->overlap = true;
        int a = active_ftm();
        const mha_ftm_ent *fe = a ? mha_ftm_entity(FT[a].s, p->id) : NULL;
        if (p->st == P_ALIVE && p->registered && p->open && p->crashes_left <= 0 && fl->detected &&
            fe && fe->state == MHA_E_UP) {
            fl->recovered = now;
            p->fault = -1;
        }
    }
}

/* ---- injection ---------------------------------------------------------------------------------- */
static bool healthy_now(int j);
static bool healthy(int j)
{
    return healthy_now(j) &&
           (!P[j].ever_faulted || now - P[j].last_fault_at > pol->restart_window_ns);
}

/* Serving now, whatever its recent history. */
static bool healthy_now(int j)
{
    const proc *p = &P[j];
    /* During an FTM outage there is no registry to ask: the process's own view counts,
     * so that process faults keep coming while the FTM is being replaced. */
    int a = active_ftm();
    const mha_ftm_ent *e = a ? mha_ftm_entity(FT[a].s, p->id) : NULL;
    return p->st == P_ALIVE && p->fault < 0 && p->registered && p->open && !p->quiesced &&
           !absent[p->node - 3] &&
           (!a || (e && e->state == MHA_E_UP));
}

static bool ftm_stable(void)
{
    int a = active_ftm();
    return ftm_fault < 0 && a && ftm_running(3 - a) && !FT[a].s->restore_pending &&
           mha_hb_find(mon, (uint32_t)a, MK_ENTITY_FTM) != NULL;
}

static bool any_absent(void)
{
    for (int n = 0; n < NAPP; n++)
        if (absent[n])
            return true;
    return false;
}

static void proc_save(int i);
static void iop_event(int n, int ev_);
static bool node_up(int n);

/* Hot-swap extraction of one board under traffic.  Planned: its processes quiesce (stop
 * consuming) and take a last checkpoint; once every one is acknowledged the IOP manager
 * reports the node gone, the FTM moves them to their standby nodes and stops the old
 * instances, and the board is pulled.  Surprise: the board and everything on it vanish
 * at once; the hot-swap controller tells the IOP manager 1 ms later.  Either way it is
 * re-inserted 2..4 s later and rejoins (as a standby: nothing moves back). */
static bool inject_iop(bool planned)
{
    int n = (int)(rnd() % NAPP);
    uint32_t node = 3 + (uint32_t)n;
    int on = 0;
    if (iop_open >= 0 || any_absent() || ftm_fault >= 0 || !active_ftm() || !node_up(n))
        return false;
    /* Its processes must be serving; a board may go even if some of them failed lately,
     * as long as none has failed over within the window (the node loss is a failover,
     * and the ladder allows max_failovers per window). */
    for (int i = 0; i < NPROC; i++)
        if (P[i].node == node) {
            if (!healthy_now(i) || (P[i].last_failover_at &&
                                    now - P[i].last_failover_at <= pol->restart_window_ns))
                return false;
            on++;
        }
    if (on == 0)
        return false;
    iop_open = n;
    extractions++;
    for (int i = 0; i < NPROC; i++) {
        if (P[i].node != node)
            continue;
        open_fault(i, planned ? F_IOP_PLANNED : F_IOP_SURPRISE);
        if (planned) {
            P[i].quiesced = true;
            proc_save(i);
        } else {
            P[i].st = P_DEAD;
            P[i].incarnation++;
        }
    }
    if (getenv("HA_TRACE"))
        fprintf(stderr, "%.3f node %u extraction (%s), %d processes\n", now / 1e9, node,
                planned ? "planned" : "surprise", on);
    if (planned) {
        iop_event(n, MHA_IOP_EV_QUIESCE);
        quiescing[n] = true;
        return true;
    }
    iop_event(n, MHA_IOP_EV_EXTRACT_SURPRISE);
    absent[n] = true;
    ev *e = push(now + MS(1), EV_IOP_REPORT);
    e->node = (uint32_t)n;
    e = push(now + urange(SEC(2), SEC(4)), EV_IOP_INSERT);
    e->node = (uint32_t)n;
    return true;
}

/* Returns true if a fault was injected. */
static int pending_type = -1, pending_tries;
static bool inject(void)
{
    if (pending_type < 0) {
        pending_type = (int)(rnd() % 100);
        pending_tries = 0;
    }
    int type = pending_type;
    if (type >= 80 && type < 87)
        return inject_iop(type < 84);
    if (type >= 60 && type < 72 && any_absent())
        return false; /* a crash loop ends in a failover, which needs every board */
    if (type >= 87) {
        if (!ftm_stable())
            return false;
        int a = active_ftm();
        if (type >= 94) {
            open_fault(-1, F_FTM_KILL);
            F[nf - 1].ftm_node = (uint32_t)a;
            ftm_fault = nf - 1;
            FT[a].dead = true;
            return true;
        }
        /* FTM hang: it is stopped 5 ms after a process crash, so it stops in the middle of
         * that recovery, and for longer than the recovery timeout, so that on resuming it
         * still believes it is active and its timers fire: the commands it then sends
         * must be fenced (and it must step down). */
        int i = (int)(rnd() % NPROC);
        for (int tries = 0; tries < NPROC && !healthy(i); tries++)
            i = (i + 1) % NPROC;
        if (!healthy(i))
            return false;
        open_fault(i, F_CRASH);
        proc_crash(i);
        ev *e = push(now + MS(5), EV_FTM_STOP);
        e->node = (uint32_t)a;
        e->gen = FT[a].gen;
        return true;
    }
    int i = (int)(rnd() % NPROC);
    for (int tries = 0; tries < NPROC && !healthy(i); tries++)
        i = (i + 1) % NPROC;
    if (!healthy(i))
        return false;
    if (type < 20) {
        open_fault(i, F_CRASH); /* SIGKILL */
        proc_crash(i);
    } else if (type < 28) {
        open_fault(i, F_ERREXIT); /* exit(3): a crash to the policy */
        proc_exit(i, 3);
    } else if (type < 35) {
        open_fault(i, F_EXIT0); /* exit(0) of a service whose policy restarts it */
        proc_exit(i, 0);
    } else if (type < 60) {
        open_fault(i, F_HANG);
        P[i].st = P_HUNG;
    } else if (type < 72) {
        open_fault(i, F_LOOP);
        P[i].crashes_left = 2 + (int)(rnd() % 3); /* 3..5 crashes in all */
        P[i].loop_node = P[i].node;
        proc_crash(i);
    } else { /* 72..79 */
        for (int n = 0, j = i; n < 4 && injected < faults_wanted; j = (j + 1) % NPROC) {
            if (healthy(j)) {
                open_fault(j, F_BURST);
                proc_crash(j);
                n++;
            }
            if (j == (i + NPROC - 1) % NPROC)
                break;
        }
    }
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, int n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof v[0], cmp_u64);
    int idx = (int)(q * (n - 1) + 0.5);
    return (double)v[idx] / 1e6;
}

/* The node registers with the FTM it knows, and again every 200 ms until the active FTM
 * has it UP (a registration sent to an FTM that was down is lost). */
static bool node_up(int n)
{
    int a = active_ftm();
    const mha_ftm_ent *ne = a ? mha_ftm_entity(FT[a].s, 3 + (uint32_t)n) : NULL;
    return ne && ne->state == MHA_E_UP;
}

static void node_register(int n)
{
    uint32_t node = 3 + (uint32_t)n;
    uint8_t b[128];
    mk_msg m;
    int len = mha_register_block(b, sizeof b, node, "node", node, 0, 0);
    t_req(&m, MK_ENTITY_EXEC, MK_ENTITY_FTM, 0, node_epoch(node), MP_UOP_REGISTER, 0, b,
          (size_t)len);
    m.dst_node = sx[n]->cfg.ftm_node;
    send_from(node, &m, false);
    ev *e = push(now + MS(200), EV_NODE_REG);
    e->node = (uint32_t)n;
    e->gen = (uint64_t)rejoined + 1;
}

/* The IOP manager's view of board n: every transition must be legal (RFC 10.7). */
static void iop_event(int n, int ev_)
{
    if (mha_iop_apply(&iop[n], ev_, now) < 0) {
        iop_bad++;
        fprintf(stderr, "illegal IOP transition: node %d %s in %s\n", 3 + n,
                mha_iop_event_name(ev_), mha_iop_state_name(iop[n].state));
    }
}

/* Board n comes up: link up, CONFIGURE, BOOT, serving; its supervisor starts with every
 * process that lives there or is on standby there configured, and its node registers
 * with the FTM (which fences it and tells it where the FTM is). */
static void sup_setup(int n, uint32_t ftm_node)
{
    uint32_t node = 3 + (uint32_t)n;
    iop_event(n, MHA_IOP_EV_LINK_UP);
    iop_event(n, MHA_IOP_EV_CONFIGURE);
    iop_event(n, MHA_IOP_EV_BOOT);
    iop_event(n, MHA_IOP_EV_SERVE);
    if (ksup[n])
        sup_fenced += mk_get_stats(ksup[n])->fenced;
    freek(ksup[n]);
    ksup[n] = newk(node, MK_ENTITY_EXEC);
    mha_exec_config xc = {.ftm_node = ftm_node};
    sx[n] = mk_element_state(ksup[n], mk_register(ksup[n], "exec", &mha_exec_ops, mha_exec_subs,
                                                  mha_exec_nsubs, &xc, now));
    mha_hb_config sc = {.period_ns = MS(100), .threshold = 3, .report_node = ftm_node,
                        .report_entity = MK_ENTITY_FTM, .follow_ftm = true};
    shb[n] = mk_element_state(ksup[n], mk_register(ksup[n], "hb", &mha_hb_ops, mha_hb_subs,
                                                   mha_hb_nsubs, &sc, now));
    if (!sx[n] || !shb[n])
        die("supervisor setup");
    sx_epoch[n] = 0;
    absent[n] = false;
    for (int i = 0; i < NPROC; i++) {
        if (P[i].home != node && P[i].standby != node)
            continue;
        char name[16];
        snprintf(name, sizeof name, "app%d", i);
        if (mha_exec_add(sx[n], P[i].id, name, "/usr/lib/msgr/sim-app", P[i].home, P[i].standby,
                         MHA_POL_RESTART, MHA_POL_DEFAULT, MHA_POL_DEFAULT) < 0)
            die("mha_exec_add");
    }
    node_register(n);
}

/* An extraction of board n (planned: after quiescing; surprise: at once) is reported to
 * the FTM by the IOP manager on the host, as the loss of the node. */
static void iop_report(int n, bool planned)
{
    uint8_t b[4];
    mk_msg m;
    mp_put32(b, 3 + (uint32_t)n);
    t_req(&m, MK_ENTITY_IOPMGR, MK_ENTITY_FTM, 0, mk_epoch(kd[1]), MP_UOP_PROC_FAILED,
          planned ? MP_R_APP_CLOSE : MP_R_PEER_DOWN, b, 4);
    int a = active_ftm();
    m.dst_node = a ? (uint32_t)a : 1;
    send_from(1, &m, false);
}

static void tick_kernel(mk_kernel *k)
{
    mk_tick(k, now);
    flush(k);
    int n = sup_index(k);
    if (n >= 0)
        host_actions(n);
}

int main(int argc, char **argv)
{
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
    faults_wanted = argc > 2 ? atoi(argv[2]) : 200;
    if (faults_wanted < 1 || faults_wanted > MAXFAULT)
        faults_wanted = MAXFAULT;
    rng_s = seed * 0x9E3779B97F4A7C15ull + 1;
    evs = calloc(MAXEV, sizeof *evs);
    for (int j = 0; j < MAXEV; j++)
        freel[nfree++] = MAXEV - 1 - j;
    F = calloc(MAXFAULT, sizeof *F);
    if (!evs || !F)
        die("out of memory");

    static mha_ftm_policy policy;
    policy = mha_ftm_default_policy();
    policy.max_restarts = 3;
    policy.restart_window_ns = SEC(10);
    policy.max_failovers = 2;
    policy.backoff_base_ns = MS(50);
    policy.backoff_cap_ns = SEC(1);
    policy.budget = 12;
    policy.budget_window_ns = SEC(5);
    policy.recover_timeout_ns = SEC(2);
    pol = &policy;

    /* nodes 1, 2: daemons with the checkpoint store (1 primary, 2 replica), FTMs */
    kd[1] = newk(1, MK_ENTITY_KERNEL);
    mha_ckpt_config cc = {.replica_node = 2, .replica_entity = MK_ENTITY_KERNEL};
    int ck1 = mk_register(kd[1], "ckpt", &mha_ckpt_ops, mha_ckpt_subs, mha_ckpt_nsubs, &cc, 0);
    kd[2] = newk(2, MK_ENTITY_KERNEL);
    int ck2 = mk_register(kd[2], "ckpt", &mha_ckpt_ops, mha_ckpt_subs, mha_ckpt_nsubs, NULL, 0);
    ftm_start(1, true);
    ftm_start(2, false);
    max_epoch = 1;

    /* the heartbeat monitor on node 6 */
    const mha_hb_config hc = {.period_ns = MS(100), .threshold = 3, .report_node = 1,
                              .report_entity = MK_ENTITY_FTM, .on_loss = MHA_HB_TAKEOVER,
                              .follow_ftm = true, .cand = {1, 2}, .ncand = 2};
    kmon = newk(6, MK_ENTITY_HBMON);
    mon = mk_element_state(kmon, mk_register(kmon, "hb", &mha_hb_ops, mha_hb_subs, mha_hb_nsubs,
                                             &hc, 0));
    mha_hb_watch_add(mon, 1, MK_ENTITY_FTM, 0);
    /* the FTM answers heartbeats */
    for (int n = 1; n <= 2; n++)
        mk_register(FT[n].k, "hbresp", &mha_hbresp_ops, mha_hbresp_subs, mha_hbresp_nsubs, NULL, 0);

    for (int i = 0; i < NPROC; i++) {
        P[i] = (proc){.id = 0x100 + (uint32_t)i, .home = 3 + (uint32_t)(i % NAPP),
                      .standby = 3 + (uint32_t)((i + 1) % NAPP), .fault = -1,
                      .st = P_STARTING};
        ev *e = push(MS(50) + (uint64_t)i * MS(10), EV_SAVE);
        e->proc = i;
    }
    /* supervisors on nodes 3..5, on IOP boards brought up by the IOP manager */
    for (int n = 0; n < NAPP; n++) {
        mha_iop_init(&iop[n], NULL, 0);
        sup_setup(n, 1);
    }
    /* each supervisor launches its node's processes */
    for (int n = 0; n < NAPP; n++) {
        if (mha_exec_boot(sx[n]) < 0)
            die("mha_exec_boot");
        host_actions(n);
    }
    for (int i = 0; i < NPROC; i++) {
    }
    push(MS(20), EV_TRAFFIC);
    push(SEC(2), EV_FAULT);
    uint64_t end = UINT64_MAX;
    /* Bounds that make a stuck campaign fail instead of hang: faults come every 2.5 s at
     * most, and one that cannot be injected is retried 100 ms later. */
    const uint64_t limit = SEC(60) + (uint64_t)faults_wanted * SEC(10);

    while (now < end) {
        if (now > limit || ++nevents > 200000000ull)
            die("no progress: simulated time or event budget exhausted");
        uint64_t t_ev = nev ? evs[heap[0]].at : UINT64_MAX;
        /* kernel deadlines: every running kernel that has timers */
        mk_kernel *tk[2 + 1 + NAPP];
        int ntk = 0;
        for (int n = 1; n <= 2; n++)
            if (ftm_running(n))
                tk[ntk++] = FT[n].k;
        tk[ntk++] = kmon;
        for (int n = 0; n < NAPP; n++)
            if (!absent[n])
                tk[ntk++] = ksup[n];
        mk_kernel *due = NULL;
        uint64_t t_k = UINT64_MAX;
        for (int j = 0; j < ntk; j++) {
            uint64_t d = mk_next_deadline(tk[j]);
            if (d < t_k) {
                t_k = d;
                due = tk[j];
            }
        }
        if (due && t_k <= t_ev) {
            if (t_k > now)
                now = t_k;
            tick_kernel(due);
            observe();
            continue;
        }
        if (nev == 0)
            break;
        static ev e;
        pop(&e);
        now = e.at;
        proc *p = e.proc >= 0 ? &P[e.proc] : NULL;
        switch (e.type) {
        case EV_MSG:
            route(&e);
            break;
        case EV_RESTART:
            if (!absent[e.node - 3])
                proc_start(e.proc, e.node); /* else the board left: the FTM times it out */
            break;
        case EV_NODE_REG:
            if (!absent[e.node] && !node_up((int)e.node))
                node_register((int)e.node);
            break;
        case EV_IOP_REPORT:
            iop_report((int)e.node, e.gen != 0);
            break;
        case EV_IOP_REMOVE: {
            /* planned: the board is pulled once its processes moved (HOLD = safe) */
            int n = (int)e.node;
            iop_event(n, MHA_IOP_EV_EXTRACT_PLANNED);
            absent[n] = true;
            ev *r = push(now + urange(SEC(2), SEC(4)), EV_IOP_INSERT);
            r->node = e.node;
            break;
        }
        case EV_IOP_INSERT: {
            int n = (int)e.node;
            iop_event(n, MHA_IOP_EV_INSERT);
            int a = active_ftm();
            sup_setup(n, a ? (uint32_t)a : 1);
            rejoined++;
            if (iop_open == n)
                iop_open = -1;
            break;
        }
        case EV_CRASH:
            if (p->st == P_ALIVE && e.gen == p->incarnation) {
                p->crashes_left--;
                proc_crash(e.proc);
            }
            break;
        case EV_SIGCHLD:
            /* the supervisor reaps it; its element reports to the FTM at its next tick */
            if (e.gen == p->incarnation)
                (void)mha_exec_exited(sx[e.node - 3], p->id, (int)e.from_node, now);
            break;
        case EV_REG_RETRY:
            /* REGISTER and CKPT_RESTORE are requests with replies: one lost (FTM down) or
             * refused (sent before the node learnt the epoch) is sent again. */
            if (p->st == P_ALIVE && e.gen == p->incarnation && (!p->registered || !p->open)) {
                if (!p->registered)
                    proc_register(e.proc);
                if (!p->open)
                    proc_restore_req(e.proc);
                ev *r = push(now + MS(200), EV_REG_RETRY);
                r->proc = e.proc;
                r->gen = e.gen;
            } else if (p->st == P_HUNG && e.gen == p->incarnation && (!p->registered || !p->open)) {
                ev *r = push(now + MS(200), EV_REG_RETRY);
                r->proc = e.proc;
                r->gen = e.gen;
            }
            break;
        case EV_SAVE: {
            /* The process tells its peer which checkpoint is acknowledged only now, with
             * the next save (as an application would, piggybacked on its traffic): the
             * sender then lags behind the store, and a replay after a restore starts
             * before the restored position, which the receiver must skip. */
            if (p->st == P_ALIVE) {
                app *a = mk_element_state(p->k, 1);
                if (mp_seq32_lt(S[e.proc].acked_ckpt, a->acked))
                    S[e.proc].acked_ckpt = a->acked; /* the sender may forget up to here */
            }
            proc_save(e.proc);
            ev *n2 = push(now + MS(200), EV_SAVE);
            n2->proc = e.proc;
            break;
        }
        case EV_TRAFFIC:
            for (int i = 0; i < NPROC; i++)
                S[i].sent++;
            if (end == UINT64_MAX || now + SEC(20) < end)
                push(now + MS(20), EV_TRAFFIC); /* traffic stops 20 s before the end */
            break;
        case EV_FTM_RESTART:
            ftm_start((int)e.node, false);
            mk_register(FT[e.node].k, "hbresp", &mha_hbresp_ops, mha_hbresp_subs,
                        mha_hbresp_nsubs, NULL, now);
            break;
        case EV_FTM_STOP:
            if (FT[e.node].gen == e.gen && ftm_running((int)e.node) && ftm_fault < 0 &&
                injected < faults_wanted) {
                open_fault(-1, F_FTM_HANG);
                F[nf - 1].ftm_node = e.node;
                ftm_fault = nf - 1;
                FT[e.node].stopped = true; /* SIGSTOP: no timer runs, input is lost */
                ev *r = push(now + urange(SEC(2) + MS(500), SEC(4)), EV_FTM_RESUME);
                r->node = e.node;
                r->gen = e.gen;
            }
            break;
        case EV_FTM_RESUME:
            if (FT[e.node].gen == e.gen)
                FT[e.node].stopped = false; /* SIGCONT: it carries on where it stopped */
            break;
        case EV_FAULT:
            if (injected < faults_wanted) {
                /* A fault class that cannot be injected now is retried 100 ms later (up
                 * to 5 s): re-rolling would favour the classes that are always possible. */
                if (inject()) {
                    pending_type = -1;
                    push(now + urange(MS(500), MS(2500)), EV_FAULT);
                } else {
                    if (++pending_tries > 50)
                        pending_type = -1;
                    push(now + MS(100), EV_FAULT);
                }
            } else if (end == UINT64_MAX) {
                end = now + SEC(60); /* let every recovery finish */
            }
            break;
        }
        observe();
    }

    /* ---- report ---- */
    static uint64_t det[MAXFAULT], rec[MAXFAULT], fdet[MAXFAULT], frec[MAXFAULT];
    int nd = 0, nr = 0, nfd = 0, nfr = 0, escaped = 0, late = 0;
    int by_type[F_NTYPES] = {0};
    const uint64_t hb_bound = mha_hb_detection_bound(shb[0]);
    const uint64_t mon_bound = mha_hb_detection_bound(mon);
    for (int j = 0; j < nf; j++) {
        fault *f = &F[j];
        by_type[f->type]++;
        bool ftmf = f->type == F_FTM_KILL || f->type == F_FTM_HANG;
        /* Bounds: a crash is reported by the supervisor (reap 1 ms + network); a hang by
         * the heartbeat bound + the ACK in flight + the report's network delay; the FTM's
         * loss by the monitor's bound.  A process fault that overlapped an FTM outage may
         * wait for the takeover, then one re-declaration period. */
        uint64_t bound = f->type == F_HANG        ? hb_bound + 2 * NET_MAX
                         : ftmf                  ? mon_bound + NET_MAX
                         : f->type == F_IOP_PLANNED ? 3 * NET_MAX /* last save acked, report */
                                                  : MS(1) + NET_MAX;
        if (f->overlap && !ftmf)
            bound = mon_bound + NET_MAX + SEC(1) + 2 * hb_bound + 2 * NET_MAX;
        if (f->detected) {
            *(ftmf ? &fdet[nfd++] : &det[nd++]) = f->detected - f->at;
            if (f->detected - f->at > bound) {
                late++;
                fprintf(stderr, "late detection: fault %d %s at %.3f s after %.1f ms (bound %.1f)\n",
                        j, fault_name[f->type], f->at / 1e9, (f->detected - f->at) / 1e6,
                        bound / 1e6);
            }
        }
        if (f->recovered)
            *(ftmf ? &frec[nfr++] : &rec[nr++]) = f->recovered - f->at;
        /* Without an FTM for at most the monitor's bound + TAKEOVER + the restore's round
         * trip (network delays) and one monitor tick. */
        if (ftmf && f->recovered && f->recovered - f->at > mon_bound + 4 * NET_MAX) {
            late++;
            fprintf(stderr, "late takeover: fault %d %s at %.3f s after %.1f ms\n", j,
                    fault_name[f->type], f->at / 1e9, (f->recovered - f->at) / 1e6);
        }
        if (!f->detected || !f->recovered || f->escaped) {
            escaped++;
            fprintf(stderr, "escape: fault %d %s proc %d at %.3f s det %.3f rec %.3f%s\n", j,
                    fault_name[f->type], f->proc, f->at / 1e9, f->detected / 1e9,
                    f->recovered / 1e9, f->escaped ? " (given up: FAULTED)" : "");
        }
    }
    /* exactly once: after the quiet period every stream was consumed completely, once */
    uint64_t lost_msgs = 0, undelivered = 0, consumed = 0;
    for (int i = 0; i < NPROC; i++) {
        uint64_t want = 0;
        for (uint32_t c = 1; c <= P[i].last; c++)
            want += mix(c);
        if (P[i].digest != want) {
            dup_consumed++;
            fprintf(stderr, "proc %d: digest differs: a message was consumed twice or lost\n", i);
        }
        if (P[i].st != P_ALIVE || !P[i].open) {
            undelivered += S[i].sent;
            fprintf(stderr, "proc %d: not serving at the end (state %d, open %d, node %u)\n", i,
                    P[i].st, P[i].open, P[i].node);
        }
        else if (P[i].last < S[i].sent)
            lost_msgs += S[i].sent - P[i].last;
        consumed += P[i].last;
    }
    const mha_ckpt *st1 = mk_element_state(kd[1], ck1), *st2 = mk_element_state(kd[2], ck2);
    int unreplicated = 0;
    for (int i = 0; i < NPROC; i++) {
        const mha_ckpt_rec *a = mha_ckpt_get(st1, P[i].id), *b = mha_ckpt_get(st2, P[i].id);
        if (!a || !b || a->cseq != b->cseq || !a->replicated)
            unreplicated++;
    }
    uint64_t rstat[4] = {ftm_tot[0], ftm_tot[1], ftm_tot[2], ftm_tot[3]};
    for (int n = 1; n <= 2; n++) {
        rstat[0] += FT[n].s->restarts;
        rstat[1] += FT[n].s->failovers;
        rstat[2] += FT[n].s->degraded;
        rstat[3] += FT[n].s->faulted;
    }
    uint64_t fenced = sup_fenced;
    for (int n = 0; n < NAPP; n++)
        fenced += mk_get_stats(ksup[n])->fenced;
    printf("campaign seed=%llu: injected=%d (", (unsigned long long)seed, nf);
    for (int t = 0; t < F_NTYPES; t++)
        printf("%s%s=%d", t ? " " : "", fault_name[t], by_type[t]);
    printf(") detected=%d recovered=%d escaped=%d late=%d\n", nd + nfd, nr + nfr, escaped, late);
    printf("  process detection ms: p50=%.1f p99=%.1f (heartbeat bound %.0f ms)\n",
           pct(det, nd, 0.5), pct(det, nd, 0.99), hb_bound / 1e6);
    printf("  process recovery  ms: p50=%.1f p99=%.1f\n", pct(rec, nr, 0.5), pct(rec, nr, 0.99));
    printf("  FTM detection ms: p50=%.1f p99=%.1f (monitor bound %.0f ms); fault to new FTM restored ms: "
           "p50=%.1f p99=%.1f\n",
           pct(fdet, nfd, 0.5), pct(fdet, nfd, 0.99), mon_bound / 1e6, pct(frec, nfr, 0.5),
           pct(frec, nfr, 0.99));
    /* per class: detection = fault to the FTM's first decision (FTM faults: to the
     * monitor's declaration); recovery = fault to the process serving again with its
     * checkpoint restored and registered (FTM faults: to the new FTM's registry restored) */
    printf("  %-11s %5s %9s %9s %9s %9s %9s\n", "class", "n", "det p50", "det p99", "rec p50",
           "rec p99", "rec max");
    for (int t = 0; t < F_NTYPES; t++) {
        int kd_ = 0, kr = 0;
        for (int j = 0; j < nf; j++) {
            if (F[j].type != t)
                continue;
            if (F[j].detected)
                det[kd_++] = F[j].detected - F[j].at;
            if (F[j].recovered)
                rec[kr++] = F[j].recovered - F[j].at;
        }
        double rmax = kr ? pct(rec, kr, 1.0) : 0;
        printf("  %-11s %5d %9.1f %9.1f %9.1f %9.1f %9.1f\n", fault_name[t], by_type[t],
               pct(det, kd_, 0.5), pct(det, kd_, 0.99), pct(rec, kr, 0.5), pct(rec, kr, 0.99),
               rmax);
    }
    printf("  hot swap: extractions=%d rejoined=%d illegal-transitions=%d\n", extractions,
           rejoined, iop_bad);
    printf("  traffic: consumed=%llu replayed-skipped=%llu lost=%llu undelivered=%llu gaps=%d "
           "dup=%d; restores=%llu lost_state=%d unreplicated=%d\n",
           (unsigned long long)consumed, (unsigned long long)skipped_replay,
           (unsigned long long)lost_msgs, (unsigned long long)undelivered, gaps, dup_consumed,
           (unsigned long long)restores, lost_state, unreplicated);
    printf("  ftm: restarts=%llu failovers=%llu degraded=%llu faulted=%llu epoch=%llu; "
           "stale commands sent=%llu fenced drops=%llu split-brain=%d two-primaries=%d "
           "spurious=%d; simulated %.1f s, %llu events\n",
           (unsigned long long)rstat[0], (unsigned long long)rstat[1],
           (unsigned long long)rstat[2], (unsigned long long)rstat[3],
           (unsigned long long)max_epoch, (unsigned long long)stale_sent,
           (unsigned long long)fenced, bad_fenced, two_primaries, spurious, now / 1e9,
           (unsigned long long)nevents);
    T_EQ(nf >= faults_wanted, 1);
    T_EQ(escaped, 0);
    T_EQ(late, 0);
    T_EQ(lost_state, 0);
    T_EQ(gaps, 0);
    T_EQ(dup_consumed, 0);
    T_EQ(lost_msgs, 0);
    T_EQ(undelivered, 0);
    T_EQ(unreplicated, 0);
    T_EQ(bad_fenced, 0);
    T_EQ(two_primaries, 0);
    T_EQ(spurious, 0);
    T_EQ(active_ftm() != 0, 1);
    /* hot swap: every transition legal, every board back and registered */
    T_EQ(iop_bad, 0);
    T_EQ(rejoined, extractions);
    for (int n = 0; n < NAPP; n++) {
        int a = active_ftm();
        const mha_ftm_ent *ne = a ? mha_ftm_entity(FT[a].s, 3 + (uint32_t)n) : NULL;
        T_CHECK(!absent[n] && iop[n].state == MHA_IOP_OPERATIONAL);
        T_CHECK(ne != NULL && ne->state == MHA_E_UP);
    }
    return t_done("test_campaign");
}
