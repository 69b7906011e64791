/*
 * mha_ftm.c — the fault-tolerance manager element: registry, recovery policy, decision
 * log, leadership and fencing epochs.
 *
 * The recovery ladder for one entity, per failure:
 *   1. failures in the restart window <= max_restarts: restart from checkpoint
 *      (RECOVER arg 1).  The first restart in the window is immediate; each further one
 *      waits backoff_base x 2^(n-2), capped at backoff_cap (crash-loop back-off).
 *   2. more than max_restarts: fail over to the standby node (RECOVER arg 2), at most
 *      max_failovers times per window; the restart history starts again on the new node.
 *   3. beyond that: FAULTED, no further automatic action (an operator, or a new
 *      REGISTER, clears it).
 * Every RECOVER draws from a restart budget shared by all entities (budget per
 * budget_window).  When it is spent, entities wait in DEGRADED and are restarted oldest
 * first as the budget refills: a correlated failure (a whole rack, a bad config push)
 * degrades service instead of stampeding every process at once.
 *
 * Leadership: only an ACTIVE FTM sends commands, each stamped with its own epoch.  A
 * standby becomes ACTIVE on TAKEOVER with an epoch newer than any it has seen, and
 * announces it with FENCE + ELECT to every node.  An ACTIVE FTM that sees a newer epoch
 * in any message (its kernel tracks the newest) becomes DEPOSED before acting on that
 * message (MSG-MGMT-16), and every node drops fenced commands with an older epoch
 * (MSG-MGMT-15): so two FTMs never have commands carried out at once.  An FTM active
 * from its start announces itself the same way at its first tick, and fences (FENCE +
 * ELECT) each node that registers (MSG-MGMT-14).
 *
 * Per-entity policy: REGISTER props "on-exit", "on-crash", "on-hang" (restart | stop |
 * failover) override the ladder for that class of failure.  A failover also sends
 * PROC_STOP to the old node, so that a hung instance cannot come back beside the new one,
 * and remembers that node: a node cut off by a partition never got that PROC_STOP, and
 * when it is back its REGISTER of the entity is refused, its reports about the entity
 * start nothing, and the PROC_STOP is sent again (MSG-MGMT-32).
 * A node entity (kind "node") reported failed moves every process on it to its standby
 * (N+1) and waits, STOPPED, until the node registers again.
 *
 * Self-checkpoint: after every decision the registry and the recoveries in progress are
 * saved to a checkpoint store (config ckpt_*); a standby that takes over restores them
 * before anything else and carries on what the old FTM had started.
 */
#include <stdio.h>
#include <string.h>

#include "mha.h"

const uint16_t mha_ftm_subs[] = {MP_UOP_REGISTER, MP_UOP_UNREGISTER, MP_UOP_PROC_FAILED,
                                 MP_UOP_TAKEOVER, MP_UOP_FENCE, MP_UOP_ELECT,
                                 /* replies to our RECOVERs: a fenced one deposes us at once */
                                 MP_UOP_RECOVER,
                                 /* replies about our own checkpoint (requests are ignored) */
                                 MP_UOP_CKPT_SAVE, MP_UOP_CKPT_ACK, MP_UOP_CKPT_RESTORE,
                                 MP_UOP_STATS_GET};
const size_t mha_ftm_nsubs = sizeof mha_ftm_subs / sizeof mha_ftm_subs[0];

mha_ftm_policy mha_ftm_default_policy(void)
{
    mha_ftm_policy p = {
        .max_restarts = 3,
        .restart_window_ns = 600ull * 1000000000ull,
        .max_failovers = 2,
        .backoff_base_ns = 100000000ull,
        .backoff_cap_ns = 30ull * 1000000000ull,
        .budget = 8,
        .budget_window_ns = 60ull * 1000000000ull,
        .recover_timeout_ns = 10ull * 1000000000ull,
        .restart_clean_exit = false,
    };
    return p;
}

const char *mha_action_name(int a)
{
    static const char *const n[] = {"?", "restart", "backoff", "failover", "degrade", "fault",
                                    "duplicate", "none", "recovered", "activate", "step-down",
                                    "ignored-inactive", "restored", "stop-stale"};
    return (a > 0 && a <= MHA_A_STOP_STALE) ? n[a] : "?";
}

const char *mha_trigger_name(int t)
{
    static const char *const n[] = {"?", "report", "heartbeat-loss", "backoff-timer",
                                    "budget-timer", "recover-timeout", "register",
                                    "takeover", "newer-epoch", "node-loss"};
    return (t > 0 && t <= MHA_T_NODE_LOSS) ? n[t] : "?";
}

unsigned mha_ftm_log_count(const mha_ftm *s) { return s->log_n; }

const mha_decision *mha_ftm_log_at(const mha_ftm *s, unsigned i)
{
    if (i >= s->log_n)
        return NULL;
    return &s->log[(s->log_head + i) % MHA_FTM_LOG];
}

const mha_ftm_ent *mha_ftm_entity(const mha_ftm *s, uint32_t id)
{
    for (unsigned i = 0; i < MHA_FTM_MAX_ENT; i++)
        if (s->ent[i].used && s->ent[i].id == id)
            return &s->ent[i];
    return NULL;
}

static void ftm_utoa(uint32_t v, char *out)
{
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int j = 0; j < n; j++)
        out[j] = tmp[n - 1 - j];
    out[n] = 0;
}

int mha_register_block(uint8_t *buf, size_t cap, uint32_t entity, const char *kind,
                       uint32_t node, uint32_t sup, uint32_t standby)
{
    if (cap < 5)
        return MK_ETOOBIG;
    mp_put32(buf, entity);
    uint8_t *props = buf + 4; /* count byte, then pairs */
    props[0] = 0;
    size_t used = 1;
    char num[12];
    int rc = mha_props_add(props, cap - 4, &used, "kind", kind);
    const char *keys[3] = {"node", "sup", "standby"};
    uint32_t vals[3] = {node, sup, standby};
    for (int i = 0; i < 3 && rc == 0; i++) {
        ftm_utoa(vals[i], num);
        rc = mha_props_add(props, cap - 4, &used, keys[i], num);
    }
    return rc < 0 ? rc : (int)(4 + used);
}

static const char *const ftm_pol_names[] = {"", "restart", "stop", "failover"};

int mha_register_policy(uint8_t *buf, size_t cap, size_t *len, uint8_t on_exit, uint8_t on_crash,
                        uint8_t on_hang)
{
    if (*len < 5 || *len > cap || on_exit > MHA_POL_FAILOVER || on_crash > MHA_POL_FAILOVER ||
        on_hang > MHA_POL_FAILOVER)
        return MK_EINVAL;
    size_t used = *len - 4; /* the props after entity_id(32) */
    const char *keys[3] = {"on-exit", "on-crash", "on-hang"};
    uint8_t vals[3] = {on_exit, on_crash, on_hang};
    for (int i = 0; i < 3; i++) {
        if (vals[i] == MHA_POL_DEFAULT)
            continue;
        int rc = mha_props_add(buf + 4, cap - 4, &used, keys[i], ftm_pol_names[vals[i]]);
        if (rc < 0)
            return rc;
    }
    *len = used + 4;
    return 0;
}

static uint8_t ftm_pol_prop(const uint8_t *p, size_t len, const char *key)
{
    const uint8_t *v;
    size_t vl;
    if (mha_props_find(p, len, key, &v, &vl) < 0)
        return MHA_POL_DEFAULT;
    for (uint8_t i = MHA_POL_RESTART; i <= MHA_POL_FAILOVER; i++)
        if (vl == strlen(ftm_pol_names[i]) && memcmp(v, ftm_pol_names[i], vl) == 0)
            return i;
    return MHA_POL_DEFAULT; /* unknown values fall back to the ladder, never to "stop" */
}

int mha_decision_format(const mha_decision *d, char *buf, size_t cap)
{
    return snprintf(buf, cap,
                    "%llu.%03llu s epoch %u entity 0x%x: %s (reason %u, from node %u entity %u)"
                    " -> %s%s%u; failures in window %u, failovers %u, budget used %u, "
                    "%s %llu ms",
                    (unsigned long long)(d->at / 1000000000ull),
                    (unsigned long long)(d->at / 1000000ull % 1000), d->epoch, d->entity,
                    mha_trigger_name(d->trigger), d->reason, d->reporter_node,
                    d->reporter_entity, mha_action_name(d->action),
                    d->target_node ? " node " : " ", d->target_node, d->fails_in_window,
                    d->failovers, d->budget_used,
                    d->action == MHA_A_RECOVERED || d->action == MHA_A_RESTORED ? "took"
                                                                               : "delay",
                    (unsigned long long)(d->delay_ns / 1000000ull));
}

static int ftm_stats(mk_ctx *c, const mha_ftm *s)
{
    uint8_t b[512];
    size_t used = 1;
    unsigned n = 0;
    b[0] = 0;
    for (unsigned i = 0; i < MHA_FTM_MAX_ENT; i++)
        n += s->ent[i].used;
    const struct { const char *k; uint64_t v; } kv[] = {
        {"ftm.role", s->role},          {"ftm.epoch", s->epoch},
        {"ftm.entities", n},            {"ftm.decisions", s->log_total},
        {"ftm.commands", s->commands},  {"ftm.restarts", s->restarts},
        {"ftm.failovers", s->failovers}, {"ftm.degraded", s->degraded},
        {"ftm.faulted", s->faulted},    {"ftm.duplicates", s->duplicates},
        {"ftm.recoveries", s->recoveries}, {"ftm.emit_errors", s->emit_errors},
        {"ftm.ckpt_saves", s->self_saves}, {"ftm.ckpt_acks", s->self_acks},
        {"ftm.ckpt_errors", s->self_save_errors}, {"ftm.ckpt_truncated", s->self_truncated},
        {"ftm.restored_entities", s->restored_entities}, {"ftm.stale_stops", s->stale_stops},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        int rc = mha_props_add_u64(b, sizeof b, &used, kv[i].k, kv[i].v);
        if (rc < 0)
            return rc;
    }
    int rc = mk_reply_uop(c, MP_UOP_STATS_REPLY, 7);
    return rc ? rc : mk_reply_block(c, MP_UOP_STATS_REPLY, b, used);
}

/* ---- helpers ---------------------------------------------------------------------------- */
static void ftm_log(mha_ftm *s, uint64_t now, const mha_ftm_ent *e, uint32_t entity, int trig,
                    int action, uint16_t reason, uint32_t rnode, uint32_t rent,
                    uint32_t fails, uint32_t budget_used, uint64_t delay, uint32_t target)
{
    mha_decision *d;
    if (s->log_n < MHA_FTM_LOG) {
        d = &s->log[(s->log_head + s->log_n) % MHA_FTM_LOG];
        s->log_n++;
    } else {
        d = &s->log[s->log_head]; /* bounded: the oldest decision gives way */
        s->log_head = (s->log_head + 1) % MHA_FTM_LOG;
    }
    memset(d, 0, sizeof *d);
    d->at = now;
    d->entity = entity;
    d->epoch = s->epoch;
    d->trigger = (uint8_t)trig;
    d->action = (uint8_t)action;
    d->reason = reason;
    d->reporter_node = rnode;
    d->reporter_entity = rent;
    d->fails_in_window = fails;
    d->failovers = e ? e->nfailovers : 0;
    d->budget_used = budget_used;
    d->delay_ns = delay;
    d->target_node = target;
    s->log_total++;
    /* Every decision changes (or confirms) what the FTM knows: the registry and the
     * recoveries in progress are checkpointed after it (ftm_uop/ftm_tick send it). */
    if (!s->dirty)
        s->dirty_at = now;
    s->dirty = true;
}

static mha_ftm_ent *ftm_find(mha_ftm *s, uint32_t id)
{
    return (mha_ftm_ent *)mha_ftm_entity(s, id);
}

static uint32_t ftm_prune(uint64_t *t, uint32_t n, uint64_t now, uint64_t window)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (now < window || t[i] > now - window)
            t[k++] = t[i];
    return k;
}

static uint32_t ftm_budget_used(mha_ftm *s, uint64_t now)
{
    s->budget_n = ftm_prune(s->budget_at, s->budget_n, now, s->cfg.pol.budget_window_ns);
    return s->budget_n;
}

/* A newer epoch anywhere means another FTM took over: stop before doing anything. */
static bool ftm_check_epoch(mk_ctx *c, mha_ftm *s)
{
    uint32_t seen = mk_ctx_epoch(c);
    if (s->role == MHA_FTM_ACTIVE && mp_seq32_lt(s->epoch, seen)) {
        s->role = MHA_FTM_DEPOSED;
        ftm_log(s, mk_ctx_now(c), NULL, 0, MHA_T_NEWER_EPOCH, MHA_A_STEP_DOWN, 0,
                mk_ctx_src_node(c), mk_ctx_src_entity(c), 0, 0, 0, 0);
        s->epoch_fenced_by = seen;
        s->deposed_at = mk_ctx_now(c);
        s->deposed_by_node = mk_ctx_src_node(c); /* 0 during a tick: learnt earlier */
        s->fence_n = 0;
    }
    return s->role == MHA_FTM_ACTIVE;
}

static int ftm_send_recover(mk_ctx *c, mha_ftm *s, mha_ftm_ent *e, uint16_t arg, uint32_t target)
{
    mk_msg m;
    mk_msg_init(&m, target, e->sup_entity, s->next_corr++);
    if (s->next_corr == 0)
        s->next_corr = 1;
    mk_msg_set_epoch(&m, s->epoch); /* our epoch, never the kernel's newest */
    uint8_t b[12];
    mp_put32(b, e->id);
    mp_put32(b + 4, e->id); /* ckpt_id: an entity checkpoints under its own id */
    mp_put32(b + 8, target);
    (void)mk_msg_uop(&m, MP_UOP_RECOVER, arg);
    (void)mk_msg_block(&m, MP_UOP_RECOVER, b, sizeof b);
    int rc = mk_emit(c, &m);
    if (rc < 0)
        s->emit_errors++;
    else
        s->commands++;
    return rc;
}

/* PROC_STOP(kill) for e to its supervisor on `node`, stamped with our epoch (MSG-MGMT-26).
 * One-way and best effort: the node may be gone. */
static void ftm_send_stop(mk_ctx *c, mha_ftm *s, const mha_ftm_ent *e, uint32_t node)
{
    mk_msg m;
    mk_msg_init(&m, node, e->sup_entity, 0);
    mk_msg_set_epoch(&m, s->epoch);
    uint8_t b[4];
    mp_put32(b, e->id);
    (void)mk_msg_uop(&m, MP_UOP_PROC_STOP, 1);
    (void)mk_msg_block(&m, MP_UOP_PROC_STOP, b, 4);
    if (mk_emit(c, &m) < 0)
        s->emit_errors++;
}

/* Is what `node` says about e about an instance that a failover left behind?  Only while
 * the FTM wants e elsewhere: once it moves e back to that node (target_node), the node's
 * instance is the live one again.  A STOPPED or FAULTED entity runs nowhere else, so a
 * survivor there is the only instance and may register. */
static bool ftm_stale_at(const mha_ftm_ent *e, uint32_t node)
{
    return e->kind == MHA_K_PROC && e->stale_node != 0 && node == e->stale_node &&
           e->target_node != node && e->state != MHA_E_STOPPED && e->state != MHA_E_FAULTED;
}

/* The stale instance of e on `node` spoke (a REGISTER, or a failure report about it): the
 * PROC_STOP sent at the failover may have been lost while the node was unreachable, so
 * send it again.  The registry is not changed: the FTM says where an entity runs. */
static void ftm_stop_stale(mk_ctx *c, mha_ftm *s, mha_ftm_ent *e, uint32_t node, int trig,
                           uint16_t reason)
{
    uint64_t now = mk_ctx_now(c);
    uint32_t rn = mk_ctx_src_node(c), re = mk_ctx_src_entity(c);
    if (!ftm_check_epoch(c, s)) {
        ftm_log(s, now, e, e->id, trig, MHA_A_IGNORED_INACTIVE, reason, rn, re, 0, 0, 0, 0);
        return;
    }
    ftm_send_stop(c, s, e, node);
    s->stale_stops++;
    ftm_log(s, now, e, e->id, trig, MHA_A_STOP_STALE, reason, rn, re, e->nfails, 0, 0, node);
}

/* Send the pending recovery of e if the budget allows, else park it in DEGRADED. */
static void ftm_try_recover(mk_ctx *c, mha_ftm *s, mha_ftm_ent *e, int trig, uint16_t reason,
                            uint32_t rnode, uint32_t rent)
{
    uint64_t now = mk_ctx_now(c);
    uint32_t used = ftm_budget_used(s, now);
    uint32_t fails = e->nfails;
    bool failover = e->target_node != e->node;
    if (used >= s->cfg.pol.budget || used >= MHA_FTM_MAX_BUDGET) {
        if (e->state != MHA_E_DEGRADED) {
            e->state = MHA_E_DEGRADED;
            s->degraded++;
            ftm_log(s, now, e, e->id, trig, MHA_A_DEGRADE, reason, rnode, rent, fails, used, 0,
                    e->target_node);
        }
        return;
    }
    if (ftm_send_recover(c, s, e, failover ? 2 : 1, e->target_node) < 0) {
        /* Outbox full: stay parked and let the budget timer retry. */
        e->state = MHA_E_DEGRADED;
        return;
    }
    if (failover) {
        /* Fence the old instance: a hung process on the old node must not come back and
         * serve beside the new one.  Best effort (its node may be gone, or only cut off
         * for a while): the node is remembered, and when it is heard from again about
         * this entity the stop is sent again (ftm_stop_stale). */
        ftm_send_stop(c, s, e, e->node);
        e->stale_node = e->node;
    }
    s->budget_at[s->budget_n++] = now;
    e->state = MHA_E_RECOVERING;
    e->recover_sent_at = now;
    if (failover) {
        s->failovers++;
        e->total_failovers++;
    } else {
        s->restarts++;
        e->restarts++;
    }
    ftm_log(s, now, e, e->id, trig, failover ? MHA_A_FAILOVER : MHA_A_RESTART, reason, rnode, rent,
            fails, used + 1, now - e->failed_at, e->target_node);
}

/* One failure of e: walk the ladder. */
static void ftm_decide(mk_ctx *c, mha_ftm *s, mha_ftm_ent *e, int trig, uint16_t reason,
                       uint32_t rnode, uint32_t rent)
{
    uint64_t now = mk_ctx_now(c);
    const mha_ftm_policy *p = &s->cfg.pol;
    if (!ftm_check_epoch(c, s)) {
        ftm_log(s, now, e, e->id, trig, MHA_A_IGNORED_INACTIVE, reason, rnode, rent, 0, 0, 0, 0);
        return;
    }
    e->total_failures++;
    e->failed_at = now;
    /* The entity's own policy for this class of failure first; a recovery timeout or a
     * node loss is not a class the entity chose a policy for. */
    uint8_t pol = reason == MHA_FAIL_EXIT    ? e->pol_exit
                  : reason == MHA_FAIL_HANG  ? e->pol_hang
                  : reason == MHA_FAIL_CRASH ? e->pol_crash
                                             : MHA_POL_DEFAULT;
    bool classed = trig != MHA_T_RECOVER_TIMEOUT && trig != MHA_T_NODE_LOSS;
    if (!classed)
        pol = MHA_POL_DEFAULT;
    if (pol == MHA_POL_STOP || (classed && pol == MHA_POL_DEFAULT && reason == MHA_FAIL_EXIT &&
                                !p->restart_clean_exit)) {
        e->state = MHA_E_STOPPED;
        ftm_log(s, now, e, e->id, trig, MHA_A_NONE, reason, rnode, rent, 0, 0, 0, 0);
        return;
    }
    e->nfails = ftm_prune(e->fails, e->nfails, now, p->restart_window_ns);
    if (e->nfails == MHA_FTM_HIST) { /* keep the newest: drop the oldest */
        memmove(e->fails, e->fails + 1, sizeof(e->fails[0]) * (MHA_FTM_HIST - 1));
        e->nfails--;
    }
    e->fails[e->nfails++] = now;
    uint32_t n = e->nfails;
    uint32_t used = ftm_budget_used(s, now);
    bool node_lost = trig == MHA_T_NODE_LOSS || pol == MHA_POL_FAILOVER;
    if (n > p->max_restarts || node_lost) {
        e->nfailovers = ftm_prune(e->failovers_at, e->nfailovers, now, p->restart_window_ns);
        uint32_t other = e->node == e->home_node ? e->standby_node : e->home_node;
        if (other != 0 && other != e->node && e->nfailovers < p->max_failovers &&
            e->nfailovers < 4) {
            e->failovers_at[e->nfailovers++] = now;
            e->target_node = other;
            ftm_try_recover(c, s, e, trig, reason, rnode, rent); /* logs FAILOVER or DEGRADE */
            e->nfails = 0; /* a new node starts a new restart history */
            return;
        }
        e->state = MHA_E_FAULTED;
        s->faulted++;
        ftm_log(s, now, e, e->id, trig, MHA_A_FAULT, reason, rnode, rent, n, used, 0, 0);
        return;
    }
    e->target_node = e->node;
    uint64_t delay = 0;
    if (n >= 2) {
        uint32_t sh = n - 2;
        delay = p->backoff_base_ns;
        while (sh-- && delay < p->backoff_cap_ns)
            delay *= 2;
        if (delay > p->backoff_cap_ns)
            delay = p->backoff_cap_ns;
    }
    if (delay) {
        e->state = MHA_E_BACKOFF;
        e->restart_at = now + delay;
        ftm_log(s, now, e, e->id, trig, MHA_A_BACKOFF, reason, rnode, rent, n, used, delay,
                e->node);
        return;
    }
    ftm_try_recover(c, s, e, trig, reason, rnode, rent); /* logs RESTART or DEGRADE */
}

/* ---- self-checkpoint ------------------------------------------------------------------
 * The registry (who is supervised, where, by whom, with which standby) is what a standby
 * FTM cannot learn by itself: it is saved to the checkpoint store at every change and
 * restored on takeover.  Runtime state (failure history, pending recoveries) is not: a
 * failure still open after a takeover is reported again by the watcher that saw it (it
 * re-declares while the entity stays silent), and is then handled afresh. */
static bool ftm_ckpt_on(const mha_ftm *s) { return s->cfg.ckpt_node || s->cfg.ckpt_entity; }

static uint32_t ftm_corr(mha_ftm *s)
{
    uint32_t c = s->next_corr++;
    if (s->next_corr == 0)
        s->next_corr = 1;
    return c;
}

static void ftm_ckpt_save(mk_ctx *c, mha_ftm *s)
{
    if (!ftm_ckpt_on(s) || !s->dirty || s->role != MHA_FTM_ACTIVE || s->restore_pending ||
        s->save_corr)
        return;
    mk_msg m;
    mk_msg_init(&m, s->cfg.ckpt_node, s->cfg.ckpt_entity, ftm_corr(s));
    mk_msg_set_epoch(&m, s->epoch);
    uint8_t b[12 + MHA_CKPT_BLOB_MAX];
    size_t n = 12;
    for (unsigned i = 0; i < MHA_FTM_MAX_ENT; i++) {
        const mha_ftm_ent *e = &s->ent[i];
        if (!e->used)
            continue;
        if (n + MHA_FTM_CKPT_REC > sizeof b) {
            s->self_truncated++; /* counted: entities past the blob are not saved */
            break;
        }
        mp_put32(b + n, e->id);
        mp_put32(b + n + 4, e->node);
        mp_put32(b + n + 8, e->home_node);
        mp_put32(b + n + 12, e->standby_node);
        mp_put32(b + n + 16, e->sup_entity);
        b[n + 20] = e->kind;
        b[n + 21] = e->pol_exit;
        b[n + 22] = e->pol_crash;
        b[n + 23] = e->pol_hang;
        b[n + 24] = e->state;
        mp_put32(b + n + 25, e->target_node);
        mp_put32(b + n + 29, e->stale_node);
        n += MHA_FTM_CKPT_REC;
    }
    /* path 0: the registry is tied to no path; cseq orders the saves of one writer. */
    mp_put32(b, s->cfg.ckpt_id);
    mp_put32(b + 4, 0);
    mp_put32(b + 8, s->save_seq + 1);
    (void)mk_msg_uop(&m, MP_UOP_CKPT_SAVE, 0);
    if (mk_msg_block(&m, MP_UOP_CKPT_SAVE, b, n) < 0 || mk_emit(c, &m) < 0) {
        s->emit_errors++;
        return; /* still dirty: the tick retries */
    }
    s->save_seq++;
    s->save_corr = m.corr_id;
    s->save_sent_at = mk_ctx_now(c);
    s->dirty = false;
    s->self_saves++;
}

static void ftm_mark_dirty(mk_ctx *c, mha_ftm *s)
{
    if (!s->dirty)
        s->dirty_at = mk_ctx_now(c);
    s->dirty = true;
    ftm_ckpt_save(c, s);
}

static void ftm_ckpt_restore(mk_ctx *c, mha_ftm *s)
{
    mk_msg m;
    mk_msg_init(&m, s->cfg.ckpt_node, s->cfg.ckpt_entity, ftm_corr(s));
    mk_msg_set_epoch(&m, s->epoch);
    uint8_t b[4];
    mp_put32(b, s->cfg.ckpt_id);
    (void)mk_msg_uop(&m, MP_UOP_CKPT_RESTORE, 0);
    (void)mk_msg_block(&m, MP_UOP_CKPT_RESTORE, b, 4);
    s->restore_pending = true;
    s->restore_sent_at = mk_ctx_now(c);
    if (mk_emit(c, &m) < 0) {
        s->emit_errors++;
        s->restore_corr = 0;
        return;
    }
    s->restore_corr = m.corr_id;
}

/* A reply about our own checkpoint (matched by corr_id). */
static void ftm_ckpt_reply(mk_ctx *c, mha_ftm *s, uint16_t op, uint16_t arg)
{
    uint32_t corr = mk_ctx_corr(c);
    if (corr == 0)
        return;
    if (corr == s->save_corr && (op == MP_UOP_CKPT_ACK || op == MP_UOP_CKPT_SAVE)) {
        /* CKPT_ACK arg 0 = stored; an ERROR reply names CKPT_SAVE with the reason. */
        if (op == MP_UOP_CKPT_ACK && arg == 0)
            s->self_acks++;
        else
            s->self_save_errors++;
        s->save_corr = 0;
        ftm_ckpt_save(c, s); /* changes made meanwhile */
        return;
    }
    if (corr != s->restore_corr || op != MP_UOP_CKPT_RESTORE || !s->restore_pending)
        return;
    s->restore_pending = false;
    s->restore_corr = 0;
    uint64_t now = mk_ctx_now(c);
    const uint8_t *p;
    size_t len;
    uint32_t added = 0;
    /* arg != 0 is an ERROR reply: nothing was ever saved, so there is nothing to know. */
    if (arg == 0 && mk_param(c, &p, &len) == 0 && len >= 12 && mp_get32(p) == s->cfg.ckpt_id) {
        uint32_t cseq = mp_get32(p + 8);
        if (mp_seq32_lt(s->save_seq, cseq))
            s->save_seq = cseq; /* our saves continue after the restored one */
        for (size_t off = 12; off + MHA_FTM_CKPT_REC <= len; off += MHA_FTM_CKPT_REC) {
            const uint8_t *r = p + off;
            uint32_t id = mp_get32(r);
            if (ftm_find(s, id))
                continue; /* registered with us since the takeover: newer than this */
            mha_ftm_ent *e = NULL;
            for (unsigned i = 0; i < MHA_FTM_MAX_ENT && !e; i++)
                if (!s->ent[i].used)
                    e = &s->ent[i];
            if (!e) {
                s->reg_full++;
                break;
            }
            memset(e, 0, sizeof *e);
            e->used = true;
            e->id = id;
            e->node = e->target_node = mp_get32(r + 4);
            e->home_node = mp_get32(r + 8);
            e->standby_node = mp_get32(r + 12);
            e->sup_entity = mp_get32(r + 16);
            e->kind = r[20];
            e->pol_exit = r[21] <= MHA_POL_FAILOVER ? r[21] : MHA_POL_DEFAULT;
            e->pol_crash = r[22] <= MHA_POL_FAILOVER ? r[22] : MHA_POL_DEFAULT;
            e->pol_hang = r[23] <= MHA_POL_FAILOVER ? r[23] : MHA_POL_DEFAULT;
            e->target_node = mp_get32(r + 25);
            e->stale_node = mp_get32(r + 29); /* a stale instance stays refused */
            e->failed_at = now;
            /* A recovery the old FTM had in progress continues here: nobody else would
             * report it again if the watcher that saw the failure went down with its
             * node.  The failure history does not carry over (the ladder starts anew). */
            switch (r[24]) {
            case MHA_E_BACKOFF: /* its delay ran under the old FTM: retry now */
                e->state = MHA_E_BACKOFF;
                e->restart_at = now;
                break;
            case MHA_E_RECOVERING: /* RECOVER was sent: give it the timeout to come back */
                e->state = MHA_E_RECOVERING;
                e->recover_sent_at = now;
                break;
            case MHA_E_DEGRADED: case MHA_E_STOPPED: case MHA_E_FAULTED:
                e->state = r[24];
                break;
            default:
                e->state = MHA_E_UP;
                e->target_node = e->node;
                break;
            }
            added++;
        }
    }
    s->restored_entities += added;
    ftm_log(s, now, NULL, 0, MHA_T_TAKEOVER, MHA_A_RESTORED, arg, mk_ctx_src_node(c),
            mk_ctx_src_entity(c), added, 0, now - s->activated_at, s->cfg.ckpt_node);
    ftm_ckpt_save(c, s); /* registrations taken while restoring */
}

/* FENCE + ELECT, stamped with our epoch, to every entity of `node` (MK_NODE_ALL: every
 * node that is up): it learns the epoch, and the watchers and supervisors that follow the
 * FTM learn where it is.  Returns the mk_emit result (counted on failure). */
static int ftm_fence(mk_ctx *c, mha_ftm *s, uint32_t node)
{
    mk_msg m;
    mk_msg_init(&m, node, MK_ENTITY_ALL, 0);
    mk_msg_set_epoch(&m, s->epoch);
    uint8_t b[4];
    mp_put32(b, s->cfg.node_id);
    (void)mk_msg_uop(&m, MP_UOP_FENCE, 0);
    (void)mk_msg_uop(&m, MP_UOP_ELECT, s->cfg.rank);
    (void)mk_msg_block(&m, MP_UOP_ELECT, b, 4);
    int rc = mk_emit(c, &m);
    if (rc < 0)
        s->emit_errors++;
    return rc;
}

/* To every node (MSG-MGMT-13).  Retried from the tick if the outbox is full. */
static void ftm_announce(mk_ctx *c, mha_ftm *s)
{
    s->announce = ftm_fence(c, s, MK_NODE_ALL) < 0;
}

int mha_ftm_node_up(mha_ftm *s, uint32_t node)
{
    if (s->role != MHA_FTM_ACTIVE || node == 0 || node == MK_NODE_ALL)
        return 0;
    for (uint32_t i = 0; i < s->fence_n; i++)
        if (s->fence_q[i] == node)
            return 0;
    if (s->fence_n >= MHA_FTM_FENCE_Q) {
        s->fence_q_full++;
        return MK_ELIMIT;
    }
    s->fence_q[s->fence_n++] = node;
    return 0;
}

/* ---- element ops ---------------------------------------------------------------------- */
static int ftm_init(mk_ctx *c, const void *cfg)
{
    mha_ftm *s = mk_ctx_state(c);
    if (!cfg)
        return MK_EINVAL;
    s->cfg = *(const mha_ftm_config *)cfg;
    const mha_ftm_policy *p = &s->cfg.pol;
    if (p->max_restarts == 0 || p->max_restarts >= MHA_FTM_HIST || p->restart_window_ns == 0 ||
        p->budget == 0 || p->budget > MHA_FTM_MAX_BUDGET || p->budget_window_ns == 0 ||
        p->backoff_cap_ns < p->backoff_base_ns || p->max_failovers > 4)
        return MK_EINVAL;
    s->role = s->cfg.active ? MHA_FTM_ACTIVE : MHA_FTM_STANDBY;
    s->epoch = s->cfg.epoch;
    /* An FTM active from its start announces its epoch at its first tick, so that every
     * node fences against it before any command (MSG-MGMT-14). */
    s->announce = s->cfg.active;
    s->next_corr = 1;
    return 0;
}

static int ftm_register(mk_ctx *c, mha_ftm *s, const uint8_t *p, size_t len)
{
    uint64_t now = mk_ctx_now(c);
    uint32_t id = mp_get32(p), node = mk_ctx_src_node(c), sup = MK_ENTITY_EXEC, standby = 0;
    uint32_t home = 0; /* "home": where it belongs; else the node of its first registration */
    const uint8_t *pr = p + 4;
    size_t pl = len - 4;
    uint8_t kind = MHA_K_PROC;
    if (pl) {
        const uint8_t *v;
        size_t vl;
        if (mha_props_find(pr, pl, "kind", &v, &vl) == 0) {
            if (vl == 3 && memcmp(v, "iop", 3) == 0)
                kind = MHA_K_IOP;
            else if (vl == 4 && memcmp(v, "node", 4) == 0)
                kind = MHA_K_NODE;
        }
        (void)mha_props_u32(pr, pl, "node", &node);
        (void)mha_props_u32(pr, pl, "sup", &sup);
        (void)mha_props_u32(pr, pl, "standby", &standby);
        (void)mha_props_u32(pr, pl, "home", &home);
    }
    uint8_t pe = pl ? ftm_pol_prop(pr, pl, "on-exit") : 0;
    uint8_t pc = pl ? ftm_pol_prop(pr, pl, "on-crash") : 0;
    uint8_t ph = pl ? ftm_pol_prop(pr, pl, "on-hang") : 0;
    mha_ftm_ent *e = ftm_find(s, id);
    bool fresh_entry = e == NULL;
    if (e && kind == MHA_K_PROC && ftm_stale_at(e, node)) {
        /* The instance a failover left on `node` (its supervisor re-registering it when
         * the node is back, or the instance itself): it must not take the entity back
         * from the live one.  Refused, and stopped again. */
        ftm_stop_stale(c, s, e, node, MHA_T_REGISTER, 0);
        return MK_ESTATE;
    }
    if (!e) {
        for (unsigned i = 0; i < MHA_FTM_MAX_ENT && !e; i++)
            if (!s->ent[i].used)
                e = &s->ent[i];
        if (!e) {
            s->reg_full++;
            return MK_ELIMIT;
        }
        memset(e, 0, sizeof *e);
        e->used = true;
        e->id = id;
        e->home_node = node;
        e->standby_node = standby;
    } else if (e->state != MHA_E_UP) {
        s->recoveries++;
        ftm_log(s, now, e, id, MHA_T_REGISTER, MHA_A_RECOVERED, 0, mk_ctx_src_node(c),
                mk_ctx_src_entity(c), e->nfails, 0, now - e->failed_at, node);
    }
    bool changed = e->kind != kind || e->node != node || e->sup_entity != sup ||
                   e->pol_exit != pe || e->pol_crash != pc || e->pol_hang != ph ||
                   (standby && e->standby_node != standby) || e->home_node == 0;
    if (home)
        changed |= e->home_node != home;
    if (home)
        e->home_node = home;
    else if (e->home_node == 0)
        e->home_node = node;
    if (standby)
        e->standby_node = standby;
    e->kind = kind;
    e->node = node;
    e->target_node = node;
    if (e->stale_node == node)
        e->stale_node = 0; /* not stale here (above): the FTM moved it back, or it was lost */
    e->sup_entity = sup;
    e->pol_exit = pe;
    e->pol_crash = pc;
    e->pol_hang = ph;
    e->state = MHA_E_UP;
    if (changed || fresh_entry)
        ftm_mark_dirty(c, s);
    if (kind == MHA_K_NODE && s->role == MHA_FTM_ACTIVE) {
        /* A node that comes up (or back) learns the epoch before any command from us
         * (MSG-MGMT-14): its supervisor would otherwise accept orders of any epoch, and
         * its processes' fenced requests would carry none.  ELECT tells where we are. */
        (void)ftm_fence(c, s, e->node);
        /* A node that is back (a healed partition) may still run instances that a
         * failover moved away while it was cut off, whose PROC_STOP it never got. */
        for (unsigned i = 0; i < MHA_FTM_MAX_ENT; i++) {
            mha_ftm_ent *x = &s->ent[i];
            if (x->used && ftm_stale_at(x, e->node))
                ftm_stop_stale(c, s, x, e->node, MHA_T_REGISTER, 0);
        }
    }
    return mk_reply_uop(c, MP_UOP_REGISTER, 0);
}

static int ftm_uop_body(mk_ctx *c, uint16_t op, uint16_t arg)
{
    mha_ftm *s = mk_ctx_state(c);
    uint64_t now = mk_ctx_now(c);
    (void)ftm_check_epoch(c, s);
    if (mk_ctx_is_reply(c)) {
        if (op == MP_UOP_CKPT_SAVE || op == MP_UOP_CKPT_ACK || op == MP_UOP_CKPT_RESTORE)
            ftm_ckpt_reply(c, s, op, arg);
        return 0; /* acknowledgements of our commands carry nothing else we act on */
    }
    if (op == MP_UOP_CKPT_SAVE || op == MP_UOP_CKPT_ACK || op == MP_UOP_CKPT_RESTORE)
        return 0; /* requests for a store element that shares this kernel */
    if (op == MP_UOP_STATS_GET)
        return (arg == 0 || arg == 7) ? ftm_stats(c, s) : 0;
    const uint8_t *p = NULL;
    size_t len = 0;
    switch (op) {
    case MP_UOP_REGISTER:
        if (mk_param(c, &p, &len) < 0 || len < 4)
            return MK_EPROTO;
        return ftm_register(c, s, p, len);
    case MP_UOP_UNREGISTER: {
        if (mk_param(c, &p, &len) < 0 || len < 4)
            return MK_EPROTO;
        mha_ftm_ent *e = ftm_find(s, mp_get32(p));
        if (e) {
            e->used = false;
            ftm_mark_dirty(c, s);
        }
        return mk_reply_uop(c, MP_UOP_UNREGISTER, 0);
    }
    case MP_UOP_PROC_FAILED: {
        if (mk_param(c, &p, &len) < 0 || len < 4)
            return MK_EPROTO;
        mha_ftm_ent *e = ftm_find(s, mp_get32(p));
        if (!e)
            return MK_ENOENT;
        uint32_t rn = mk_ctx_src_node(c), re = mk_ctx_src_entity(c);
        int trig = arg == MHA_FAIL_HANG ? MHA_T_HB_LOSS : MHA_T_REPORT;
        if (e->kind == MHA_K_NODE) {
            /* N+1: everything supervised on the lost node moves to its standby.  The node
             * itself waits, STOPPED, until it registers again (re-insertion): nothing
             * restarts a node, and no recovery timer may fire for it. */
            if (e->state == MHA_E_STOPPED) {
                s->duplicates++;
                ftm_log(s, now, e, e->id, trig, MHA_A_DUPLICATE, arg, rn, re, 0, 0, 0, 0);
                return 0;
            }
            if (!ftm_check_epoch(c, s)) {
                ftm_log(s, now, e, e->id, trig, MHA_A_IGNORED_INACTIVE, arg, rn, re, 0, 0, 0, 0);
                return 0;
            }
            e->state = MHA_E_STOPPED;
            e->failed_at = now;
            e->total_failures++;
            ftm_log(s, now, e, e->id, MHA_T_NODE_LOSS, MHA_A_NONE, arg, rn, re, 0, 0, 0, 0);
            for (unsigned i = 0; i < MHA_FTM_MAX_ENT; i++) {
                mha_ftm_ent *x = &s->ent[i];
                if (x->used && x->kind == MHA_K_PROC && x->node == e->id &&
                    x->state != MHA_E_FAULTED)
                    ftm_decide(c, s, x, MHA_T_NODE_LOSS, arg, rn, re);
            }
            return 0;
        }
        if (ftm_stale_at(e, rn)) {
            /* From the node a failover took e away from: its watcher or supervisor speaks
             * of the instance left there (hung while the node was cut off, or ending now),
             * not of the live one elsewhere.  Restarting e would put a second instance
             * beside the live one; stopping the stale one is all there is to do. */
            ftm_stop_stale(c, s, e, rn, trig, arg);
            return 0;
        }
        bool fresh = e->state == MHA_E_UP;
        /* While a restart is in flight, a crash reported by the entity's own supervisor is
         * the *new* instance dying (a crash loop): a new failure.  A heartbeat-loss report
         * then is only the old outage seen again: the recovery timeout covers it. */
        if (e->state == MHA_E_RECOVERING && arg != MHA_FAIL_HANG && re == e->sup_entity &&
            now > e->recover_sent_at)
            fresh = true;
        if (!fresh) {
            s->duplicates++;
            ftm_log(s, now, e, e->id, trig, MHA_A_DUPLICATE, arg, rn, re, e->nfails, 0, 0, 0);
            return 0;
        }
        ftm_decide(c, s, e, trig, arg, rn, re);
        return 0;
    }
    case MP_UOP_TAKEOVER: {
        if (s->role == MHA_FTM_ACTIVE)
            return 0;
        uint32_t seen = mk_ctx_epoch(c), e = s->epoch;
        if (mp_seq32_lt(e, seen))
            e = seen;
        e = e + 1;
        if (s->epoch_fenced_by && mp_seq32_le(e, s->epoch_fenced_by))
            e = s->epoch_fenced_by + 1;
        s->epoch = e;
        s->role = MHA_FTM_ACTIVE;
        s->activated_at = now;
        s->promoted_by_node = mk_ctx_src_node(c);
        s->promoted_by_entity = mk_ctx_src_entity(c);
        s->fence_n = 0; /* the announce below reaches every node that is up */
        ftm_log(s, now, NULL, 0, MHA_T_TAKEOVER, MHA_A_ACTIVATE, 0, mk_ctx_src_node(c),
                mk_ctx_src_entity(c), 0, 0, 0, s->cfg.node_id);
        ftm_announce(c, s);
        /* Learn the registry from the FTM's own checkpoint before relying on it; until
         * then a report about an unknown entity fails and its watcher reports again. */
        s->save_corr = 0;
        if (ftm_ckpt_on(s)) {
            /* What this instance knew before (as a standby, or as an FTM that was deposed
             * and is now chosen again) is older than the checkpoint, and its runtime
             * states (back-offs, pending recoveries) belong to another epoch: start from
             * the checkpoint alone. */
            for (unsigned i = 0; i < MHA_FTM_MAX_ENT; i++)
                s->ent[i].used = false;
            s->budget_n = 0;
            s->dirty = false; /* only registrations from now on make it differ */
            ftm_ckpt_restore(c, s);
        }
        /* Entities the old FTM was still recovering look UP here (the standby learnt them
         * from REGISTER); heartbeat re-declarations bring any still-failed one back. */
        return 0;
    }
    default: /* FENCE, ELECT, RECOVER: the epoch check at the top did the work */
        return 0;
    }
}

static int ftm_uop(mk_ctx *c, uint16_t op, uint16_t arg)
{
    int rc = ftm_uop_body(c, op, arg);
    ftm_ckpt_save(c, mk_ctx_state(c)); /* what this message changed, if anything */
    return rc;
}

static int ftm_tick(mk_ctx *c)
{
    mha_ftm *s = mk_ctx_state(c);
    uint64_t now = mk_ctx_now(c);
    if (!ftm_check_epoch(c, s))
        return 0;
    const mha_ftm_policy *p = &s->cfg.pol;
    if (s->announce)
        ftm_announce(c, s);
    /* Nodes that came up; one the outbox refuses is fenced when it registers. */
    for (uint32_t i = 0; i < s->fence_n; i++)
        (void)ftm_fence(c, s, s->fence_q[i]);
    s->fence_n = 0;
    if (s->restore_pending && now >= s->restore_sent_at + MHA_FTM_CKPT_RETRY_NS)
        ftm_ckpt_restore(c, s);
    if (s->save_corr && now >= s->save_sent_at + MHA_FTM_CKPT_RETRY_NS) {
        s->save_corr = 0; /* unanswered: send the current registry again */
        s->dirty = true;
    }
    ftm_ckpt_save(c, s);
    for (unsigned i = 0; i < MHA_FTM_MAX_ENT; i++) {
        mha_ftm_ent *e = &s->ent[i];
        if (!e->used)
            continue;
        if (e->state == MHA_E_BACKOFF && now >= e->restart_at)
            ftm_try_recover(c, s, e, MHA_T_BACKOFF_TIMER, 0, 0, 0);
        else if (e->state == MHA_E_RECOVERING && now >= e->recover_sent_at + p->recover_timeout_ns)
            ftm_decide(c, s, e, MHA_T_RECOVER_TIMEOUT, MP_R_TIMEOUT, 0, 0);
    }
    /* Parked entities, oldest failure first, while the budget lasts. */
    for (;;) {
        mha_ftm_ent *old = NULL;
        for (unsigned i = 0; i < MHA_FTM_MAX_ENT; i++) {
            mha_ftm_ent *e = &s->ent[i];
            if (e->used && e->state == MHA_E_DEGRADED && (!old || e->failed_at < old->failed_at))
                old = e;
        }
        if (!old || ftm_budget_used(s, now) >= p->budget)
            break;
        ftm_try_recover(c, s, old, MHA_T_BUDGET_TIMER, 0, 0, 0);
        if (old->state == MHA_E_DEGRADED)
            break;
    }
    ftm_ckpt_save(c, s);
    return 0;
}

static uint64_t ftm_deadline(const void *state)
{
    const mha_ftm *s = state;
    if (s->role != MHA_FTM_ACTIVE)
        return UINT64_MAX;
    uint64_t d = UINT64_MAX;
    bool parked = false;
    if (s->announce || s->fence_n)
        return 0;
    if (s->restore_pending)
        d = s->restore_sent_at + MHA_FTM_CKPT_RETRY_NS;
    if (s->save_corr && s->save_sent_at + MHA_FTM_CKPT_RETRY_NS < d)
        d = s->save_sent_at + MHA_FTM_CKPT_RETRY_NS;
    else if (ftm_ckpt_on(s) && s->dirty && !s->save_corr && !s->restore_pending && s->dirty_at < d)
        d = s->dirty_at; /* a save the outbox refused: retry at once */
    for (unsigned i = 0; i < MHA_FTM_MAX_ENT; i++) {
        const mha_ftm_ent *e = &s->ent[i];
        if (!e->used)
            continue;
        if (e->state == MHA_E_BACKOFF && e->restart_at < d)
            d = e->restart_at;
        if (e->state == MHA_E_RECOVERING && e->recover_sent_at + s->cfg.pol.recover_timeout_ns < d)
            d = e->recover_sent_at + s->cfg.pol.recover_timeout_ns;
        if (e->state == MHA_E_DEGRADED)
            parked = true;
    }
    if (parked) {
        /* The budget refills when its oldest restart leaves the window. */
        uint64_t oldest = UINT64_MAX;
        for (uint32_t i = 0; i < s->budget_n; i++)
            if (s->budget_at[i] < oldest)
                oldest = s->budget_at[i];
        uint64_t t = oldest == UINT64_MAX ? 0 : oldest + s->cfg.pol.budget_window_ns;
        if (t < d)
            d = t;
    }
    return d;
}

const mk_element_ops mha_ftm_ops = {
    .state_size = sizeof(mha_ftm),
    .init = ftm_init,
    .uop = ftm_uop,
    .tick = ftm_tick,
    .deadline = ftm_deadline,
};
