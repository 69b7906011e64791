/*
 * test_mha.c — the HA elements with literal timestamps: heartbeat detection exactly at
 * the bound, the FTM's ladder (restart, back-off, failover, fault), budgets, the
 * decision log, takeover with fencing (no split brain), the IOP transition table, and
 * the checkpoint store.
 */
#include <stdlib.h>

#include "t.h"

static mk_kernel *kern(uint32_t node, uint32_t entity)
{
    mk_kernel *k = calloc(1, sizeof *k);
    void *arena = aligned_alloc(8, 1u << 17);
    mk_config cfg = {.node_id = node, .entity_id = entity, .arena = arena, .arena_len = 1u << 17};
    T_EQ(mk_init(k, &cfg), 0);
    return k;
}

static void kfree(mk_kernel *k)
{
    free(k->arena);
    free(k);
}

/* ---- heartbeat ------------------------------------------------------------------------- */
static void test_hb(void)
{
    mk_kernel *k = kern(1, MK_ENTITY_FTM);
    mha_hb_config hc = {.period_ns = MS(100), .threshold = 3, .link_tol_ns = MS(625),
                        .report_node = 1, .report_entity = MK_ENTITY_FTM};
    int id = mk_register(k, "hb", &mha_hb_ops, mha_hb_subs, mha_hb_nsubs, &hc, 0);
    T_EQ(id, 0);
    mha_hb *hb = mk_element_state(k, id);
    T_EQ(mha_hb_detection_bound(hb), MS(300) + MS(625)); /* published: period x threshold + link */
    T_EQ(mha_hb_watch_add(hb, 2, 0x100, 0), 0);
    T_EQ(mk_next_deadline(k), 0);
    mk_tick(k, 0);
    mk_msg m, r;
    T_EQ(t_drain(k, MP_UOP_HEARTBEAT, &m), 1);
    T_EQ(m.dst_node, 2);
    T_EQ(m.dst_entity, 0x100);
    T_EQ(m.uops[0].arg, 1);

    /* The watched entity's kernel answers through the responder element. */
    mk_kernel *p = kern(2, 0x100);
    T_EQ(mk_register(p, "hbr", &mha_hbresp_ops, mha_hbresp_subs, mha_hbresp_nsubs, NULL, 0), 0);
    T_EQ(t_deliver(p, 1, &m, MS(1)), 0);
    T_EQ(t_drain(p, MP_UOP_HEARTBEAT_ACK, &r), 1);
    T_EQ(r.gflags, MP_GFLAG_REPLY);
    T_EQ(t_deliver(k, 2, &r, MS(1)), 0); /* ACK of seq 1 at t = 1 ms */
    const mha_hb_watch *w = mha_hb_find(hb, 2, 0x100);
    T_EQ(w->last_ack, MS(1));
    /* a replayed ACK is stale */
    T_EQ(t_deliver(k, 2, &r, MS(2)), 0);
    T_EQ(hb->stale_acks, 1);

    /* Silence from now on: heartbeats every 100 ms, declaration at exactly 1 + 300 ms. */
    for (uint64_t t = MS(100); t <= MS(300); t += MS(100)) {
        T_EQ(mk_next_deadline(k), t);
        mk_tick(k, t);
        T_EQ(t_drain(k, MP_UOP_PROC_FAILED, NULL), 0);
    }
    T_EQ(mk_next_deadline(k), MS(301));
    mk_tick(k, MS(301) - 1);
    T_EQ(t_drain(k, MP_UOP_PROC_FAILED, NULL), 0);
    T_EQ(w->down, false);
    mk_tick(k, MS(301));
    T_EQ(t_drain(k, MP_UOP_PROC_FAILED, &m), 1);
    T_EQ(m.uops[0].arg, MHA_FAIL_HANG);
    T_EQ(m.dst_entity, MK_ENTITY_FTM);
    T_EQ(mp_get32(m.payload + 4), 0x100);
    T_EQ(w->down, true);
    T_EQ(w->declared_at, MS(301)); /* evidence: when, and the last ACK it was measured from */
    T_EQ(w->last_ack, MS(1));
    /* still silent: declared again one tolerance later, so a lost report is repaired */
    T_EQ(mk_next_deadline(k), MS(400));
    mk_tick(k, MS(400));
    t_drain(k, 0xFFFF, &m); /* heartbeat seq 5 */
    mk_tick(k, MS(601));
    T_EQ(t_drain(k, MP_UOP_PROC_FAILED, NULL), 1);
    /* an answer to an outstanding heartbeat brings it back */
    mk_msg_init(&m, 1, 0x100, 5);
    m.src_entity = MK_ENTITY_FTM;
    mk_msg_uop(&m, MP_UOP_HEARTBEAT, 5);
    t_deliver(p, 1, &m, MS(605));
    t_drain(p, MP_UOP_HEARTBEAT_ACK, &r);
    T_EQ(t_deliver(k, 2, &r, MS(606)), 0);
    T_EQ(w->down, false);
    T_EQ(hb->recovered, 1);
    T_EQ(w->outages, 1);
    /* a muted responder (a hung process) answers nothing */
    mha_hbresp *rs = mk_element_state(p, 0);
    rs->mute = true;
    T_EQ(t_deliver(p, 1, &m, MS(700)), 0);
    T_EQ(t_drain(p, MP_UOP_HEARTBEAT_ACK, NULL), 0);
    /* configuration outside RFC 13 ranges is refused */
    hc.threshold = 0;
    T_EQ(mk_register(k, "hb2", &mha_hb_ops, mha_hb_subs, mha_hb_nsubs, &hc, 0), MK_EINVAL);
    kfree(k);
    kfree(p);
}

/* ---- FTM ------------------------------------------------------------------------------ */
static mha_ftm_policy pol_test(void)
{
    mha_ftm_policy p = mha_ftm_default_policy();
    p.max_restarts = 3;
    p.restart_window_ns = SEC(10);
    p.max_failovers = 1;
    p.backoff_base_ns = MS(100);
    p.backoff_cap_ns = MS(400);
    p.budget = 32;
    p.budget_window_ns = SEC(10);
    p.recover_timeout_ns = SEC(2);
    return p;
}

static mk_kernel *ftm_kernel(uint32_t node, bool active, uint32_t epoch, mha_ftm_policy pol,
                             mha_ftm **out)
{
    mk_kernel *k = kern(node, MK_ENTITY_FTM);
    mha_ftm_config fc = {.node_id = node, .rank = (uint8_t)node, .active = active, .epoch = epoch, .pol = pol};
    int id = mk_register(k, "ftm", &mha_ftm_ops, mha_ftm_subs, mha_ftm_nsubs, &fc, 0);
    T_EQ(id, 0);
    *out = mk_element_state(k, id);
    /* An FTM active from its start announces FENCE + ELECT at once (MSG-MGMT-14). */
    T_EQ(mk_next_deadline(k), active ? 0 : UINT64_MAX);
    mk_tick(k, 0);
    mk_msg m;
    T_EQ(t_drain(k, MP_UOP_FENCE, &m), active ? 1 : 0);
    if (active) {
        T_EQ(m.dst_node, MK_NODE_ALL);
        T_EQ(m.epoch, epoch);
        T_EQ(m.uops[1].opcode, MP_UOP_ELECT);
    }
    return k;
}

static void reg_ent(mk_kernel *k, uint32_t ent, uint32_t node, uint32_t standby, uint32_t epoch, uint64_t now)
{
    uint8_t b[128];
    int n = mha_register_block(b, sizeof b, ent, "proc", node, MK_ENTITY_EXEC, standby);
    T_CHECK(n > 0);
    mk_msg m;
    t_req(&m, ent, MK_ENTITY_FTM, 1, epoch, MP_UOP_REGISTER, 0, b, (size_t)n);
    T_EQ(t_deliver(k, node, &m, now), 0);
}

static int report(mk_kernel *k, uint32_t ent, uint16_t reason, uint32_t from_node, uint32_t epoch, uint64_t now)
{
    uint8_t b[4];
    mp_put32(b, ent);
    mk_msg m;
    t_req(&m, MK_ENTITY_EXEC, MK_ENTITY_FTM, 0, epoch, MP_UOP_PROC_FAILED, reason, b, 4);
    return t_deliver(k, from_node, &m, now);
}

static const mha_decision *last_decision(const mha_ftm *s)
{
    return mha_ftm_log_at(s, mha_ftm_log_count(s) - 1);
}

static void test_ftm_ladder(void)
{
    mha_ftm *s;
    mk_kernel *k = ftm_kernel(1, true, 1, pol_test(), &s);
    reg_ent(k, 0x100, 2, 3, 1, SEC(0));
    t_drain(k, 0xFFFF, NULL);
    mk_msg m;
    /* 1st failure: restart at once, from checkpoint, on its node */
    T_EQ(report(k, 0x100, MHA_FAIL_CRASH, 2, 1, SEC(1)), 0);
    T_EQ(t_drain(k, MP_UOP_RECOVER, &m), 1);
    T_EQ(m.uops[0].arg, 1);
    T_EQ(m.dst_node, 2);
    T_EQ(m.dst_entity, MK_ENTITY_EXEC);
    T_EQ(m.epoch, 1);
    const mha_decision *d = last_decision(s);
    T_EQ(d->action, MHA_A_RESTART);
    T_EQ(d->trigger, MHA_T_REPORT);
    T_EQ(d->reason, MHA_FAIL_CRASH);
    T_EQ(d->reporter_node, 2);
    T_EQ(d->reporter_entity, MK_ENTITY_EXEC);
    T_EQ(d->fails_in_window, 1);
    /* a heartbeat-loss report for the same outage is a duplicate, logged, no command */
    T_EQ(report(k, 0x100, MHA_FAIL_HANG, 1, 1, SEC(1) + MS(10)), 0);
    T_EQ(t_drain(k, MP_UOP_RECOVER, NULL), 0);
    T_EQ(last_decision(s)->action, MHA_A_DUPLICATE);
    reg_ent(k, 0x100, 2, 3, 1, SEC(1) + MS(50)); /* it came back */
    d = last_decision(s);
    T_EQ(d->action, MHA_A_RECOVERED);
    T_EQ(d->delay_ns, MS(50)); /* recovery time, measured from the failure */
    t_drain(k, 0xFFFF, NULL);

    /* 2nd and 3rd: back-off 100 ms, then 200 ms (crash loop) */
    uint64_t expect[2] = {MS(100), MS(200)};
    for (int i = 0; i < 2; i++) {
        uint64_t t = SEC(2 + i);
        T_EQ(report(k, 0x100, MHA_FAIL_CRASH, 2, 1, t), 0);
        T_EQ(t_drain(k, MP_UOP_RECOVER, NULL), 0);
        d = last_decision(s);
        T_EQ(d->action, MHA_A_BACKOFF);
        T_EQ(d->delay_ns, expect[i]);
        T_EQ(d->fails_in_window, 2 + i);
        T_EQ(mk_next_deadline(k), t + expect[i]);
        mk_tick(k, t + expect[i] - 1);
        T_EQ(t_drain(k, MP_UOP_RECOVER, NULL), 0);
        mk_tick(k, t + expect[i]);
        T_EQ(t_drain(k, MP_UOP_RECOVER, NULL), 1);
        T_EQ(last_decision(s)->trigger, MHA_T_BACKOFF_TIMER);
        reg_ent(k, 0x100, 2, 3, 1, t + MS(500));
        t_drain(k, 0xFFFF, NULL);
    }
    /* 4th within the window: escalate to failover onto the standby node */
    T_EQ(report(k, 0x100, MHA_FAIL_CRASH, 2, 1, SEC(5)), 0);
    T_EQ(t_drain(k, MP_UOP_RECOVER, &m), 1);
    T_EQ(m.uops[0].arg, 2);
    T_EQ(m.dst_node, 3);
    T_EQ(mp_get32(m.payload + 4 + 8), 3);
    d = last_decision(s);
    T_EQ(d->action, MHA_A_FAILOVER);
    T_EQ(d->fails_in_window, 4);
    reg_ent(k, 0x100, 3, 3, 1, SEC(5) + MS(100));
    T_EQ(mha_ftm_entity(s, 0x100)->node, 3);
    t_drain(k, 0xFFFF, NULL);
    /* on the new node the restart history starts again: 3 restarts, then the failover
     * budget (1 per window) is spent, so the 4th fault is FAULTED: no more commands */
    for (int i = 0; i < 3; i++) {
        report(k, 0x100, MHA_FAIL_CRASH, 3, 1, SEC(6 + i));
        mk_tick(k, SEC(6 + i) + MS(400));
        T_EQ(t_drain(k, MP_UOP_RECOVER, NULL), 1);
        reg_ent(k, 0x100, 3, 3, 1, SEC(6 + i) + MS(500));
        t_drain(k, 0xFFFF, NULL);
    }
    T_EQ(report(k, 0x100, MHA_FAIL_CRASH, 3, 1, SEC(9)), 0);
    T_EQ(t_drain(k, MP_UOP_RECOVER, NULL), 0);
    T_EQ(last_decision(s)->action, MHA_A_FAULT);
    T_EQ(mha_ftm_entity(s, 0x100)->state, MHA_E_FAULTED);
    /* recover timeout: a RECOVER that brings nothing back counts as a failure */
    reg_ent(k, 0x200, 2, 0, 1, SEC(20));
    report(k, 0x200, MHA_FAIL_CRASH, 2, 1, SEC(21));
    T_EQ(t_drain(k, MP_UOP_RECOVER, NULL), 1);
    T_EQ(mk_next_deadline(k), SEC(23));
    mk_tick(k, SEC(23));
    d = last_decision(s);
    T_EQ(d->trigger, MHA_T_RECOVER_TIMEOUT);
    T_EQ(d->action, MHA_A_BACKOFF);
    /* clean exit: policy says no restart */
    reg_ent(k, 0x300, 2, 0, 1, SEC(30));
    report(k, 0x300, MHA_FAIL_EXIT, 2, 1, SEC(31));
    T_EQ(last_decision(s)->action, MHA_A_NONE);
    T_EQ(mha_ftm_entity(s, 0x300)->state, MHA_E_STOPPED);
    kfree(k);

    /* back-off cap: base x 2^(n-2), never above the cap */
    mha_ftm_policy p = pol_test();
    p.max_restarts = 8;
    k = ftm_kernel(1, true, 1, p, &s);
    reg_ent(k, 0x100, 2, 0, 1, 0);
    uint64_t want[] = {0, MS(100), MS(200), MS(400), MS(400), MS(400)};
    for (int i = 0; i < 6; i++) {
        uint64_t t = SEC(1 + i);
        report(k, 0x100, MHA_FAIL_CRASH, 2, 1, t);
        T_EQ(last_decision(s)->delay_ns, want[i]);
        mk_tick(k, t + MS(400));
        reg_ent(k, 0x100, 2, 0, 1, t + MS(500));
    }
    kfree(k);
}

/* Correlated failure: the budget restarts some, parks the rest, and drains them oldest
 * first as it refills. */
static void test_ftm_budget(void)
{
    mha_ftm_policy p = pol_test();
    p.budget = 2;
    p.budget_window_ns = SEC(10);
    p.recover_timeout_ns = SEC(100);
    mha_ftm *s;
    mk_kernel *k = ftm_kernel(1, true, 1, p, &s);
    for (uint32_t e = 0; e < 5; e++)
        reg_ent(k, 0x100 + e, 2, 0, 1, 0);
    t_drain(k, 0xFFFF, NULL);
    for (uint32_t e = 0; e < 5; e++)
        report(k, 0x100 + e, MHA_FAIL_CRASH, 2, 1, SEC(1) + e);
    T_EQ(t_drain(k, MP_UOP_RECOVER, NULL), 2);
    T_EQ(s->degraded, 3);
    T_EQ(mha_ftm_entity(s, 0x102)->state, MHA_E_DEGRADED);
    const mha_decision *d = last_decision(s);
    T_EQ(d->action, MHA_A_DEGRADE);
    T_EQ(d->budget_used, 2);
    /* the budget refills when the first restart leaves the window */
    T_EQ(mk_next_deadline(k), SEC(11));
    mk_tick(k, SEC(11) - 1);
    T_EQ(t_drain(k, MP_UOP_RECOVER, NULL), 0);
    mk_tick(k, SEC(11) + 1);
    mk_msg m;
    T_EQ(t_drain(k, MP_UOP_RECOVER, &m), 2);
    T_EQ(mp_get32(m.payload + 4), 0x103); /* 0x102 then 0x103: oldest failure first */
    T_EQ(last_decision(s)->trigger, MHA_T_BUDGET_TIMER);
    mk_tick(k, SEC(21) + 2);
    T_EQ(t_drain(k, MP_UOP_RECOVER, NULL), 1);
    kfree(k);
}

/* The decision log is bounded and keeps the newest decisions. */
static void test_ftm_log(void)
{
    mha_ftm *s;
    mk_kernel *k = ftm_kernel(1, true, 1, pol_test(), &s);
    reg_ent(k, 0x100, 2, 0, 1, 0);
    report(k, 0x100, MHA_FAIL_CRASH, 2, 1, SEC(1));
    for (unsigned i = 0; i < 300; i++)
        report(k, 0x100, MHA_FAIL_HANG, 1, 1, SEC(1) + 1 + i); /* duplicates */
    T_EQ(mha_ftm_log_count(s), MHA_FTM_LOG);
    T_EQ(s->log_total, 301);
    T_EQ(mha_ftm_log_at(s, 0)->at, SEC(1) + 1 + 300 - MHA_FTM_LOG);
    T_EQ(last_decision(s)->at, SEC(1) + 300);
    T_CHECK(mha_ftm_log_at(s, MHA_FTM_LOG) == NULL);
    kfree(k);
}

/* Takeover with fencing: a standby takes over with a new epoch; the old FTM, back from a
 * partition, receives the same failure report and issues nothing; and if it did not
 * know, its command is fenced at the supervisor.  One recovery, never two. */
static void test_ftm_takeover(void)
{
    mha_ftm *a, *b;
    mk_kernel *ka = ftm_kernel(1, true, 7, pol_test(), &a);
    mk_kernel *kb = ftm_kernel(2, false, 0, pol_test(), &b);
    mk_kernel *sup = kern(5, MK_ENTITY_EXEC); /* a supervisor's kernel */
    int got = mk_register(sup, "rec", &(mk_element_ops){.uop = NULL}, NULL, 0, NULL, 0);
    T_EQ(got, 0);
    /* both FTMs learn the registration (the standby is kept warm) */
    reg_ent(ka, 0x100, 5, 0, 7, 0);
    reg_ent(kb, 0x100, 5, 0, 7, 0);
    t_drain(ka, 0xFFFF, NULL);
    t_drain(kb, 0xFFFF, NULL);
    /* a standby does not act */
    T_EQ(report(kb, 0x100, MHA_FAIL_CRASH, 5, 7, SEC(1)), 0);
    T_EQ(t_drain(kb, MP_UOP_RECOVER, NULL), 0);
    T_EQ(last_decision(b)->action, MHA_A_IGNORED_INACTIVE);
    reg_ent(kb, 0x100, 5, 0, 7, SEC(1));
    /* the monitor declares A lost and orders B to take over */
    mk_msg m, fence;
    t_req(&m, MK_ENTITY_HBMON, MK_ENTITY_FTM, 0, 7, MP_UOP_TAKEOVER, 0, "msgr/ftm", 8);
    T_EQ(t_deliver(kb, 3, &m, SEC(2)), 0);
    T_EQ(b->role, MHA_FTM_ACTIVE);
    T_EQ(b->epoch, 8);
    T_EQ(t_drain(kb, MP_UOP_FENCE, &fence), 1);
    T_EQ(fence.dst_node, MK_NODE_ALL);
    T_EQ(fence.epoch, 8);
    T_EQ(fence.uops[1].opcode, MP_UOP_ELECT);
    T_EQ(last_decision(b)->action, MHA_A_ACTIVATE);
    /* the supervisor's node hears the FENCE (A, partitioned, does not) */
    T_EQ(t_deliver(sup, 2, &fence, SEC(2)), 0);
    T_EQ(mk_epoch(sup), 8);

    /* Case 1: the report carries the new epoch.  Both FTMs get it; only B commands. */
    T_EQ(report(ka, 0x100, MHA_FAIL_CRASH, 5, 8, SEC(3)), 0);
    T_EQ(report(kb, 0x100, MHA_FAIL_CRASH, 5, 8, SEC(3)), 0);
    T_EQ(t_drain(ka, MP_UOP_RECOVER, NULL), 0);
    T_EQ(a->role, MHA_FTM_DEPOSED);
    T_EQ(mha_ftm_log_at(a, mha_ftm_log_count(a) - 2)->action, MHA_A_STEP_DOWN);
    T_EQ(last_decision(a)->action, MHA_A_IGNORED_INACTIVE);
    T_EQ(t_drain(kb, MP_UOP_RECOVER, &m), 1);
    T_EQ(m.epoch, 8);
    T_EQ(t_deliver(sup, 2, &m, SEC(3)), MK_EPROTO); /* dispatched: no element takes RECOVER here */
    T_EQ(mk_get_stats(sup)->fenced, 0);
    /* a deposed FTM stays deposed, and its timers do nothing */
    T_EQ(mk_next_deadline(ka), UINT64_MAX);

    /* Case 2: A never heard of epoch 8 (a fresh A on old information).  It acts, but the
     * supervisor drops its command: still only one FTM's commands are carried out. */
    t_drain(sup, 0xFFFF, NULL);
    mha_ftm *a2;
    mk_kernel *ka2 = ftm_kernel(1, true, 7, pol_test(), &a2);
    reg_ent(ka2, 0x100, 5, 0, 7, SEC(4));
    t_drain(ka2, 0xFFFF, NULL);
    T_EQ(report(ka2, 0x100, MHA_FAIL_CRASH, 5, 7, SEC(5)), 0);
    T_EQ(t_drain(ka2, MP_UOP_RECOVER, &m), 1);
    T_EQ(m.epoch, 7);
    uint64_t before = mk_get_stats(sup)->dispatched_uops;
    T_EQ(t_deliver(sup, 1, &m, SEC(5)), MK_EFENCED);
    T_EQ(mk_get_stats(sup)->fenced, 1);
    T_EQ(mk_get_stats(sup)->dispatched_uops, before);
    mk_msg r;
    T_EQ(t_drain(sup, MP_UOP_RECOVER, &r), 1);
    T_EQ(r.uops[0].arg, MP_R_NOT_PERMITTED);
    /* ... and the fenced reply, carrying epoch 8, deposes it */
    T_EQ(t_deliver(ka2, 5, &r, SEC(5)), 0);
    T_EQ(a2->role, MHA_FTM_DEPOSED);
    /* an old ELECT from A cannot depose B: fenced at B's kernel */
    t_req(&m, MK_ENTITY_FTM, MK_ENTITY_FTM, 0, 7, MP_UOP_ELECT, 1, "\0\0\0\1", 4);
    T_EQ(t_deliver(kb, 1, &m, SEC(6)), MK_EFENCED);
    T_EQ(b->role, MHA_FTM_ACTIVE);
    /* a later takeover by A (e.g. B lost in turn) must go above every epoch seen */
    t_req(&m, MK_ENTITY_HBMON, MK_ENTITY_FTM, 0, 8, MP_UOP_TAKEOVER, 0, "msgr/ftm", 8);
    T_EQ(t_deliver(ka, 3, &m, SEC(7)), 0);
    T_EQ(a->role, MHA_FTM_ACTIVE);
    T_EQ(a->epoch, 9);
    kfree(ka);
    kfree(ka2);
    kfree(kb);
    kfree(sup);
}

/* A node that comes up is fenced at once by the active FTM (mha_ftm_node_up): a restarted
 * FTM node whose configuration still says "active, epoch 7" learns epoch 8 from the link-up
 * FENCE + ELECT and stops, while its own link-up FENCE is refused by the newer FTM. */
static void test_ftm_node_up(void)
{
    mha_ftm *b, *old, *sb;
    mk_kernel *kb = ftm_kernel(2, false, 0, pol_test(), &b);
    mk_kernel *kold = ftm_kernel(1, true, 7, pol_test(), &old);
    mk_kernel *ksb = ftm_kernel(3, false, 0, pol_test(), &sb);
    mk_msg m, f;
    t_req(&m, MK_ENTITY_HBMON, MK_ENTITY_FTM, 0, 7, MP_UOP_TAKEOVER, 0, "msgr/ftm", 8);
    T_EQ(t_deliver(kb, 6, &m, SEC(1)), 0);
    T_EQ(b->epoch, 8);
    T_EQ(b->promoted_by_node, 6);
    T_EQ(b->promoted_by_entity, MK_ENTITY_HBMON);
    mk_kernel *kn2 = kern(2, MK_ENTITY_KERNEL); /* B's node daemon hears B's announce */
    T_EQ(t_drain(kb, MP_UOP_FENCE, &f), 1);
    T_EQ(t_deliver(kn2, 2, &f, SEC(1)), 0);
    T_EQ(mk_next_deadline(kb), UINT64_MAX);
    /* a standby ignores link-ups: it has no epoch to tell */
    T_EQ(mha_ftm_node_up(sb, 1), 0);
    T_EQ(sb->fence_n, 0);
    /* the old FTM announces epoch 7 at its first tick, and fences B's node on link-up */
    T_EQ(mha_ftm_node_up(old, 2), 0);
    T_EQ(mha_ftm_node_up(old, 2), 0); /* once per node */
    T_EQ(old->fence_n, 1);
    mk_tick(kold, SEC(2));
    int n = 0;
    mk_msg o;
    while (mk_out_pop(kold, &o)) {
        T_EQ(o.uops[0].opcode, MP_UOP_FENCE);
        T_EQ(o.epoch, 7);
        if (o.dst_node == 2) {
            n++;
            T_EQ(t_deliver(kn2, 1, &o, SEC(2)), MK_EFENCED); /* refused: B's node is at 8 */
        }
    }
    T_EQ(n, 1);
    T_EQ(b->role, MHA_FTM_ACTIVE);
    /* B fences the node that came up: the old FTM steps down and knows who told it */
    T_EQ(mha_ftm_node_up(b, 1), 0);
    T_EQ(mk_next_deadline(kb), 0); /* at once */
    mk_tick(kb, SEC(2) + 1);
    T_EQ(t_drain(kb, MP_UOP_FENCE, &f), 1);
    T_EQ(f.dst_node, 1);
    T_EQ(f.epoch, 8);
    T_EQ(f.uops[1].opcode, MP_UOP_ELECT);
    T_EQ(t_deliver(kold, 2, &f, SEC(3)), 0);
    T_EQ(old->role, MHA_FTM_DEPOSED);
    T_EQ(old->epoch_fenced_by, 8);
    T_EQ(old->deposed_by_node, 2);
    T_EQ(old->deposed_at, SEC(3));
    T_EQ(last_decision(old)->action, MHA_A_STEP_DOWN);
    T_EQ(mha_ftm_node_up(old, 2), 0); /* deposed: nothing more */
    T_EQ(old->fence_n, 0);
    kfree(kb);
    kfree(kn2);
    kfree(kold);
    kfree(ksb);
}

/* Node loss: everything on the node fails over to its standby (N+1). */
static void test_ftm_node(void)
{
    mha_ftm *s;
    mk_kernel *k = ftm_kernel(1, true, 1, pol_test(), &s);
    uint8_t b[64];
    int n = mha_register_block(b, sizeof b, 2, "node", 2, 0, 0);
    mk_msg m;
    t_req(&m, 0, MK_ENTITY_FTM, 0, 1, MP_UOP_REGISTER, 0, b, (size_t)n);
    t_deliver(k, 2, &m, 0);
    reg_ent(k, 0x100, 2, 4, 1, 0);
    reg_ent(k, 0x101, 2, 4, 1, 0);
    reg_ent(k, 0x102, 3, 4, 1, 0);
    t_drain(k, 0xFFFF, NULL);
    report(k, 2, MP_R_PEER_DOWN, 0, 1, SEC(1));
    T_EQ(t_drain(k, MP_UOP_RECOVER, &m), 2);
    T_EQ(m.dst_node, 4);
    T_EQ(m.uops[0].arg, 2);
    T_EQ(mha_ftm_entity(s, 0x102)->state, MHA_E_UP);
    kfree(k);
}

/* A healed partition: node 2 was cut off long enough to be declared lost, its process
 * failed over to node 3, and the PROC_STOP for the instance left on node 2 was lost with
 * the node.  When node 2 is heard from again, the FTM keeps the entity where it put it:
 * the stale instance's REGISTER is refused, its failure reports start nothing, and each
 * time it speaks (and when its node registers) it is sent PROC_STOP again (MSG-MGMT-26). */
static int stale_stops_to(mk_kernel *k, uint32_t node, uint32_t ent, uint32_t epoch)
{
    static mk_msg m;
    int n = 0;
    while (mk_out_pop(k, &m)) {
        T_CHECK(m.uop_count == 0 || m.uops[0].opcode != MP_UOP_RECOVER); /* never a restart */
        if (m.uop_count && m.uops[0].opcode == MP_UOP_PROC_STOP && m.dst_node == node &&
            m.dst_entity == MK_ENTITY_EXEC && m.uops[0].arg == 1 && m.epoch == epoch &&
            m.payload_len >= 8 && mp_get32(m.payload + 4) == ent)
            n++;
    }
    return n;
}

static int reg_from(mk_kernel *k, uint32_t ent, const char *kind, uint32_t node, uint32_t standby,
                    uint64_t now)
{
    uint8_t b[128];
    int n = mha_register_block(b, sizeof b, ent, kind, node, MK_ENTITY_EXEC, standby);
    mk_msg m;
    t_req(&m, strcmp(kind, "node") ? MK_ENTITY_EXEC : MK_ENTITY_KERNEL, MK_ENTITY_FTM, 0, 1,
          MP_UOP_REGISTER, 0, b, (size_t)n);
    return t_deliver(k, node, &m, now);
}

static void test_ftm_stale_instance(void)
{
    mha_ftm *s;
    mk_kernel *k = ftm_kernel(1, true, 1, pol_test(), &s);
    T_EQ(reg_from(k, 2, "node", 2, 0, 0), 0);
    T_EQ(reg_from(k, 3, "node", 3, 0, 0), 0);
    T_EQ(reg_from(k, 0x100, "proc", 2, 3, 0), 0);
    t_drain(k, 0xFFFF, NULL);
    const mha_ftm_ent *e = mha_ftm_entity(s, 0x100);

    /* Node 2 lost (reported by node 3): failover to node 3, PROC_STOP to node 2 (lost). */
    T_EQ(report(k, 2, MP_R_PEER_DOWN, 3, 1, SEC(1)), 0);
    mk_msg m;
    T_EQ(t_drain(k, MP_UOP_RECOVER, &m), 1);
    T_EQ(m.dst_node, 3);
    T_EQ(e->stale_node, 2);

    /* Node 2 back before the new instance registered: its supervisor re-registers the
     * process it still runs.  Refused: the recovery towards node 3 goes on. */
    T_EQ(reg_from(k, 0x100, "proc", 2, 3, SEC(1) + MS(10)), MK_ESTATE);
    T_EQ(e->state, MHA_E_RECOVERING);
    T_EQ(e->target_node, 3);
    T_EQ(stale_stops_to(k, 2, 0x100, 1), 1);
    T_EQ(last_decision(s)->action, MHA_A_STOP_STALE);
    T_EQ(last_decision(s)->trigger, MHA_T_REGISTER);
    /* The stale instance's crash, reported by its own supervisor after the RECOVER, is
     * not the new instance failing: no restart beside it. */
    T_EQ(report(k, 0x100, MHA_FAIL_CRASH, 2, 1, SEC(1) + MS(20)), 0);
    T_EQ(stale_stops_to(k, 2, 0x100, 1), 1);
    T_EQ(e->state, MHA_E_RECOVERING);
    T_EQ(e->total_failures, 1);

    /* The new instance on node 3 registers: UP there. */
    T_EQ(reg_from(k, 0x100, "proc", 3, 3, SEC(1) + MS(30)), 0);
    T_EQ(e->state, MHA_E_UP);
    T_EQ(e->node, 3);
    t_drain(k, 0xFFFF, NULL);

    /* Node 2's watcher declares the old instance hung once its daemon runs again. */
    T_EQ(report(k, 0x100, MHA_FAIL_HANG, 2, 1, SEC(2)), 0);
    T_EQ(stale_stops_to(k, 2, 0x100, 1), 1);
    T_EQ(last_decision(s)->action, MHA_A_STOP_STALE);
    T_EQ(last_decision(s)->trigger, MHA_T_HB_LOSS);
    T_EQ(e->state, MHA_E_UP);
    T_EQ(e->restarts, 0);
    /* Node 2 registers itself: fenced, and told again to stop what it runs of 0x100. */
    T_EQ(reg_from(k, 2, "node", 2, 0, SEC(2) + MS(10)), 0);
    T_EQ(stale_stops_to(k, 2, 0x100, 1), 1);
    /* ... and its supervisor's REGISTER of the process (register_all) is refused. */
    T_EQ(reg_from(k, 0x100, "proc", 2, 3, SEC(2) + MS(11)), MK_ESTATE);
    T_EQ(stale_stops_to(k, 2, 0x100, 1), 1);
    T_EQ(e->node, 3);
    T_EQ(e->state, MHA_E_UP);
    T_EQ(s->stale_stops, 5);
    /* A failure of the live instance is still handled: restart on node 3. */
    T_EQ(report(k, 0x100, MHA_FAIL_CRASH, 3, 1, SEC(3)), 0);
    T_EQ(t_drain(k, MP_UOP_RECOVER, &m), 1);
    T_EQ(m.dst_node, 3);
    T_EQ(reg_from(k, 0x100, "proc", 3, 3, SEC(3) + MS(10)), 0);
    t_drain(k, 0xFFFF, NULL);

    /* Later node 3 is lost: the FTM itself moves the entity back to node 2, whose instance
     * is then the live one (registers, reports), and node 3's the stale one. */
    T_EQ(report(k, 3, MP_R_PEER_DOWN, 2, 1, SEC(20)), 0);
    T_EQ(t_drain(k, MP_UOP_RECOVER, &m), 1);
    T_EQ(m.dst_node, 2);
    T_EQ(reg_from(k, 0x100, "proc", 2, 3, SEC(20) + MS(10)), 0);
    T_EQ(e->node, 2);
    T_EQ(e->stale_node, 3);
    t_drain(k, 0xFFFF, NULL);
    T_EQ(report(k, 0x100, MHA_FAIL_HANG, 3, 1, SEC(21)), 0);
    T_EQ(stale_stops_to(k, 3, 0x100, 1), 1);
    T_EQ(report(k, 0x100, MHA_FAIL_CRASH, 2, 1, SEC(22)), 0);
    T_EQ(t_drain(k, MP_UOP_RECOVER, &m), 1);
    T_EQ(m.dst_node, 2);
    kfree(k);
}

/* ---- IOP ------------------------------------------------------------------------------- */
/* The legal transitions, written from RFC 10.7 independently of the table in mha_iop.c. */
static const struct { int from, ev, to; } legal[] = {
    {MHA_IOP_INITIALIZING, MHA_IOP_EV_LINK_UP, MHA_IOP_HOLD},
    {MHA_IOP_HOLD, MHA_IOP_EV_CONFIGURE, MHA_IOP_HOLD},
    {MHA_IOP_HOLD, MHA_IOP_EV_BOOT, MHA_IOP_READY},
    {MHA_IOP_READY, MHA_IOP_EV_CONFIGURE, MHA_IOP_READY},
    {MHA_IOP_READY, MHA_IOP_EV_SERVE, MHA_IOP_OPERATIONAL},
    {MHA_IOP_OPERATIONAL, MHA_IOP_EV_QUIESCE, MHA_IOP_READY},
    {MHA_IOP_READY, MHA_IOP_EV_EXTRACT_PLANNED, MHA_IOP_HOLD},
    {MHA_IOP_OPERATIONAL, MHA_IOP_EV_EXTRACT_PLANNED, MHA_IOP_HOLD},
    {MHA_IOP_RESET, MHA_IOP_EV_RESET_DONE, MHA_IOP_INITIALIZING},
    {MHA_IOP_FAILED, MHA_IOP_EV_RESET, MHA_IOP_RESET},
    {MHA_IOP_FAULTED, MHA_IOP_EV_CLEAR, MHA_IOP_INITIALIZING},
    {MHA_IOP_FAULTED, MHA_IOP_EV_INSERT, MHA_IOP_INITIALIZING},
    /* RESET from every state but FAULTED (which only an operator or a new board leaves) */
    {MHA_IOP_INITIALIZING, MHA_IOP_EV_RESET, MHA_IOP_RESET},
    {MHA_IOP_RESET, MHA_IOP_EV_RESET, MHA_IOP_RESET},
    {MHA_IOP_HOLD, MHA_IOP_EV_RESET, MHA_IOP_RESET},
    {MHA_IOP_READY, MHA_IOP_EV_RESET, MHA_IOP_RESET},
    {MHA_IOP_OPERATIONAL, MHA_IOP_EV_RESET, MHA_IOP_RESET},
    /* failure detection from the live states */
    {MHA_IOP_INITIALIZING, MHA_IOP_EV_HB_LOSS, MHA_IOP_FAILED},
    {MHA_IOP_HOLD, MHA_IOP_EV_HB_LOSS, MHA_IOP_FAILED},
    {MHA_IOP_READY, MHA_IOP_EV_HB_LOSS, MHA_IOP_FAILED},
    {MHA_IOP_OPERATIONAL, MHA_IOP_EV_HB_LOSS, MHA_IOP_FAILED},
    /* surprise extraction: a failure, from every state with a board but FAULTED */
    {MHA_IOP_INITIALIZING, MHA_IOP_EV_EXTRACT_SURPRISE, MHA_IOP_FAILED},
    {MHA_IOP_RESET, MHA_IOP_EV_EXTRACT_SURPRISE, MHA_IOP_FAILED},
    {MHA_IOP_HOLD, MHA_IOP_EV_EXTRACT_SURPRISE, MHA_IOP_FAILED},
    {MHA_IOP_READY, MHA_IOP_EV_EXTRACT_SURPRISE, MHA_IOP_FAILED},
    {MHA_IOP_OPERATIONAL, MHA_IOP_EV_EXTRACT_SURPRISE, MHA_IOP_FAILED},
    {MHA_IOP_FAILED, MHA_IOP_EV_EXTRACT_SURPRISE, MHA_IOP_FAILED},
    /* hardware fault from anywhere but FAULTED */
    {MHA_IOP_INITIALIZING, MHA_IOP_EV_FAULT, MHA_IOP_FAULTED},
    {MHA_IOP_RESET, MHA_IOP_EV_FAULT, MHA_IOP_FAULTED},
    {MHA_IOP_HOLD, MHA_IOP_EV_FAULT, MHA_IOP_FAULTED},
    {MHA_IOP_READY, MHA_IOP_EV_FAULT, MHA_IOP_FAULTED},
    {MHA_IOP_OPERATIONAL, MHA_IOP_EV_FAULT, MHA_IOP_FAULTED},
    {MHA_IOP_FAILED, MHA_IOP_EV_FAULT, MHA_IOP_FAULTED},
};

static int expected(int st, int ev)
{
    for (size_t i = 0; i < sizeof legal / sizeof legal[0]; i++)
        if (legal[i].from == st && legal[i].ev == ev)
            return legal[i].to;
    return -1;
}

static void test_iop_table(void)
{
    /* every (state, event) pair with a board present and configured: the table matches the
     * RFC list, and an illegal event leaves the state alone with a clear error */
    int legal_seen = 0;
    for (int st = 0; st < MHA_IOP_NSTATES; st++) {
        for (int ev = 0; ev < MHA_IOP_NEVENTS; ev++) {
            mha_iop s;
            mha_iop_init(&s, NULL, 0);
            s.state = (uint8_t)st;
            s.configured = true;
            int want = expected(st, ev);
            int got = mha_iop_apply(&s, ev, SEC(1));
            if (want < 0) {
                T_EQ(got, MK_ESTATE);
                T_EQ(s.state, st);
                T_EQ(s.rejected, 1);
                if (got != MK_ESTATE)
                    fprintf(stderr, "  %s --%s--> should be illegal\n", mha_iop_state_name(st),
                            mha_iop_event_name(ev));
            } else {
                legal_seen++;
                T_EQ(got, want);
                T_EQ(s.state, want);
                if (got != want)
                    fprintf(stderr, "  %s --%s--> want %s\n", mha_iop_state_name(st),
                            mha_iop_event_name(ev), mha_iop_state_name(want));
            }
            /* The bare table also allows INSERT into HOLD and FAILED: legal only once the
             * slot is empty (after an extraction), which mha_iop_apply checks. */
            if (!(ev == MHA_IOP_EV_INSERT && (st == MHA_IOP_HOLD || st == MHA_IOP_FAILED)))
                T_EQ(mha_iop_next(st, ev), want);
        }
    }
    T_EQ(legal_seen, (int)(sizeof legal / sizeof legal[0]));
    T_CHECK(strcmp(mha_iop_state_name(MHA_IOP_OPERATIONAL), "OPERATIONAL") == 0);

    /* side conditions: BOOT before CONFIGURE; an empty slot takes only INSERT */
    mha_iop s;
    mha_iop_init(&s, NULL, 0);
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_LINK_UP, 1), MHA_IOP_HOLD);
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_BOOT, 2), MK_ESTATE);
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_CONFIGURE, 3), MHA_IOP_HOLD);
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_BOOT, 4), MHA_IOP_READY);
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_SERVE, 5), MHA_IOP_OPERATIONAL);
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_EXTRACT_PLANNED, 6), MHA_IOP_HOLD);
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_CONFIGURE, 7), MK_ESTATE); /* board is gone */
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_RESET, 7), MK_ESTATE);
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_INSERT, 8), MHA_IOP_INITIALIZING);
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_INSERT, 9), MK_ESTATE); /* already present */
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_LINK_UP, 10), MHA_IOP_HOLD);
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_BOOT, 11), MK_ESTATE); /* a new board needs CONFIGURE */
    /* surprise extraction: FAILED with an empty slot, then INSERT rejoins */
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_EXTRACT_SURPRISE, 12), MHA_IOP_FAILED);
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_RESET, 13), MK_ESTATE);
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_INSERT, 14), MHA_IOP_INITIALIZING);

    /* recovery limit: the 4th FAILED->RESET within 10 min goes to FAULTED */
    mha_iop_init(&s, NULL, 0);
    for (int i = 0; i < 3; i++) {
        s.state = MHA_IOP_FAILED;
        T_EQ(mha_iop_apply(&s, MHA_IOP_EV_RESET, SEC(60 * i)), MHA_IOP_RESET);
    }
    s.state = MHA_IOP_FAILED;
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_RESET, SEC(180)), MHA_IOP_FAULTED);
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_RESET, SEC(181)), MK_ESTATE);
    T_EQ(mha_iop_apply(&s, MHA_IOP_EV_CLEAR, SEC(182)), MHA_IOP_INITIALIZING);
    /* outside the window the count starts again */
    mha_iop_init(&s, NULL, 0);
    for (int i = 0; i < 5; i++) {
        s.state = MHA_IOP_FAILED;
        T_EQ(mha_iop_apply(&s, MHA_IOP_EV_RESET, SEC(700 * (uint64_t)i)), MHA_IOP_RESET);
    }
}

static void test_iop_element(void)
{
    mk_kernel *k = kern(7, 0x400);
    mha_iop_config ic = {.mgr_node = 1, .mgr_entity = MK_ENTITY_IOPMGR};
    int id = mk_register(k, "iop", &mha_iop_ops, mha_iop_subs, mha_iop_nsubs, &ic, 0);
    T_EQ(id, 0);
    mk_msg m, r;
    /* BOOT while INITIALIZING: refused with a clear ERROR reply */
    t_req(&m, MK_ENTITY_IOPMGR, 0x400, 5, 1, MP_UOP_BOOT, 0, NULL, 0);
    T_EQ(t_deliver(k, 1, &m, MS(1)), MK_ESTATE);
    T_EQ(t_drain(k, MP_UOP_BOOT, &r), 1);
    T_EQ(r.gflags, MP_GFLAG_REPLY | MP_GFLAG_ERROR);
    T_EQ(r.uops[0].arg, MP_R_REFUSED);
    /* IOP_STATE HOLD report, then CONFIGURE + BOOT in one message */
    t_req(&m, 0x400, 0x400, 0, 1, MP_UOP_IOP_STATE, MHA_IOP_HOLD, NULL, 0);
    T_EQ(t_deliver(k, 7, &m, MS(2)), 0);
    mk_msg_init(&m, 0, 0x400, 6);
    m.epoch = 1;
    mk_msg_uop(&m, MP_UOP_CONFIGURE, 0);
    mk_msg_uop(&m, MP_UOP_BOOT, 0);
    T_EQ(t_deliver(k, 1, &m, MS(3)), 0);
    const mha_iop *s = mk_element_state(k, id);
    T_EQ(s->state, MHA_IOP_READY);
    T_EQ(t_drain(k, MP_UOP_IOP_STATE, &r), 4); /* 3 reports to the manager + the reply */
    T_EQ(r.uop_count, 2);                      /* the reply: one IOP_STATE per command */
    kfree(k);
}

/* ---- checkpoints -------------------------------------------------------------------------- */
static void test_ckpt(void)
{
    mk_kernel *p = kern(1, MK_ENTITY_FTM), *s = kern(2, MK_ENTITY_FTM);
    mha_ckpt_config pc = {.replica_node = 2, .replica_entity = MK_ENTITY_FTM};
    T_EQ(mk_register(p, "ckpt", &mha_ckpt_ops, mha_ckpt_subs, mha_ckpt_nsubs, &pc, 0), 0);
    T_EQ(mk_register(s, "ckpt", &mha_ckpt_ops, mha_ckpt_subs, mha_ckpt_nsubs, NULL, 0), 0);
    mha_ckpt *ps = mk_element_state(p, 0), *ss = mk_element_state(s, 0);
    uint8_t b[16 + MHA_CKPT_BLOB_MAX + 1];
    mk_msg m, r, repl;
    int n = mha_ckpt_block(b, sizeof b, 0x100, 0x101, 41, "state-41", 8);
    t_req(&m, 0x100, MK_ENTITY_FTM, 1, 1, MP_UOP_CKPT_SAVE, 0, b, (size_t)n);
    T_EQ(t_deliver(p, 9, &m, MS(1)), 0);
    /* the outbox holds the replica copy then the ACK reply */
    T_EQ(mk_out_pop(p, &repl), true);
    T_EQ(repl.dst_node, 2);
    T_EQ(repl.uops[0].opcode, MP_UOP_CKPT_SAVE);
    T_EQ(mk_out_pop(p, &r), true);
    T_EQ(r.uops[0].opcode, MP_UOP_CKPT_ACK);
    T_EQ(r.uops[0].arg, 0);
    T_EQ(r.dst_node, 9);
    T_EQ(mha_ckpt_get(ps, 0x100)->replicated, false);
    T_EQ(t_deliver(s, 1, &repl, MS(2)), 0); /* the standby stores it and ACKs */
    T_EQ(mha_ckpt_get(ss, 0x100)->cseq, 41);
    T_EQ(t_drain(s, MP_UOP_CKPT_ACK, &r), 1);
    T_EQ(t_deliver(p, 2, &r, MS(3)), 0);
    T_EQ(mha_ckpt_get(ps, 0x100)->replicated, true);
    /* ordering: an older cseq on the same path is stale, the same one is idempotent */
    n = mha_ckpt_block(b, sizeof b, 0x100, 0x101, 40, "state-40", 8);
    t_req(&m, 0x100, MK_ENTITY_FTM, 2, 1, MP_UOP_CKPT_SAVE, 0, b, (size_t)n);
    T_EQ(t_deliver(p, 9, &m, MS(4)), MK_ESTALE);
    T_EQ(t_drain(p, MP_UOP_CKPT_SAVE, &r), 1);
    T_EQ(r.gflags & MP_GFLAG_ERROR, MP_GFLAG_ERROR);
    n = mha_ckpt_block(b, sizeof b, 0x100, 0x101, 41, "state-41", 8);
    t_req(&m, 0x100, MK_ENTITY_FTM, 3, 1, MP_UOP_CKPT_SAVE, 0, b, (size_t)n);
    T_EQ(t_deliver(p, 9, &m, MS(5)), 0);
    T_EQ(ps->dup_saves, 1);
    n = mha_ckpt_block(b, sizeof b, 0x100, 0x101, 41, "other-41", 8);
    t_req(&m, 0x100, MK_ENTITY_FTM, 4, 1, MP_UOP_CKPT_SAVE, 0, b, (size_t)n);
    T_EQ(t_deliver(p, 9, &m, MS(6)), MK_ESTALE);
    n = mha_ckpt_block(b, sizeof b, 0x100, 0x101, 42, "state-42", 8);
    t_req(&m, 0x100, MK_ENTITY_FTM, 5, 1, MP_UOP_CKPT_SAVE, 0, b, (size_t)n);
    T_EQ(t_deliver(p, 9, &m, MS(7)), 0);
    t_drain(p, 0xFFFF, NULL);
    /* restore returns the latest with its position */
    uint8_t id[4];
    mp_put32(id, 0x100);
    t_req(&m, MK_ENTITY_EXEC, MK_ENTITY_FTM, 6, 1, MP_UOP_CKPT_RESTORE, 0, id, 4);
    T_EQ(t_deliver(p, 9, &m, MS(8)), 0);
    T_EQ(t_drain(p, MP_UOP_CKPT_RESTORE, &r), 1);
    T_EQ(r.payload_len, 4 + 12 + 8);
    T_EQ(mp_get32(r.payload + 4), 0x100);
    T_EQ(mp_get32(r.payload + 8), 0x101);
    T_EQ(mp_get32(r.payload + 12), 42);
    T_CHECK(memcmp(r.payload + 16, "state-42", 8) == 0);
    /* after restore: skip what the state reflects, replay what came after */
    T_EQ(mha_ckpt_should_deliver(0x101, 42, 0x101, 41), false);
    T_EQ(mha_ckpt_should_deliver(0x101, 42, 0x101, 42), false);
    T_EQ(mha_ckpt_should_deliver(0x101, 42, 0x101, 43), true);
    T_EQ(mha_ckpt_should_deliver(0x101, 0xFFFFFFFFu, 0x101, 0), true); /* serial wrap */
    T_EQ(mha_ckpt_should_deliver(0x101, 42, 0x202, 1), true);
    /* unknown id, and an oversize blob: errors, not crashes */
    mp_put32(id, 0x999);
    t_req(&m, MK_ENTITY_EXEC, MK_ENTITY_FTM, 7, 1, MP_UOP_CKPT_RESTORE, 0, id, 4);
    T_EQ(t_deliver(p, 9, &m, MS(9)), MK_ENOENT);
    T_EQ(t_drain(p, MP_UOP_CKPT_RESTORE, &r), 1);
    T_EQ(r.uops[0].arg, MP_R_NO_SUCH_DEVICE);
    static uint8_t big[12 + MHA_CKPT_BLOB_MAX + 1];
    mp_put32(big, 0x100);
    mk_msg_init(&m, 0, MK_ENTITY_FTM, 8);
    mk_msg_uop(&m, MP_UOP_CKPT_SAVE, 0);
    T_EQ(mk_msg_block(&m, MP_UOP_CKPT_SAVE, big, sizeof big), 0);
    T_EQ(t_deliver(p, 9, &m, MS(10)), MK_ETOOBIG);
    /* a save on a new path (after takeover) replaces the record */
    n = mha_ckpt_block(b, sizeof b, 0x100, 0x301, 1, "new", 3);
    t_req(&m, 0x100, MK_ENTITY_FTM, 9, 1, MP_UOP_CKPT_SAVE, 0, b, (size_t)n);
    T_EQ(t_deliver(p, 9, &m, MS(11)), 0);
    T_EQ(mha_ckpt_get(ps, 0x100)->path, 0x301);
    T_EQ(mha_ckpt_get(ps, 0x100)->version, 3);
    /* Its copy is lost (the replica was away): it is sent again after the retry delay,
     * and only the replica's ACK of the newest copy confirms the record. */
    T_EQ(t_drain(p, MP_UOP_CKPT_SAVE, &repl), 2); /* the ETOOBIG reply, then the copy */
    T_EQ(repl.dst_node, 2);
    T_EQ(mk_next_deadline(p), MS(11) + MHA_CKPT_REPL_RETRY_NS);
    mk_tick(p, MS(11) + MHA_CKPT_REPL_RETRY_NS);
    mk_msg again;
    T_EQ(t_drain(p, MP_UOP_CKPT_SAVE, &again), 1);
    T_EQ(ps->repl_retries, 1);
    T_CHECK(again.corr_id != repl.corr_id);
    T_EQ(again.payload_len, repl.payload_len);
    T_EQ(t_deliver(s, 1, &repl, SEC(2)), 0); /* the old copy arrives late after all */
    T_EQ(t_drain(s, MP_UOP_CKPT_ACK, &r), 1);
    T_EQ(t_deliver(p, 2, &r, SEC(2)), 0);
    T_EQ(mha_ckpt_get(ps, 0x100)->replicated, false);
    T_EQ(t_deliver(s, 1, &again, SEC(2)), 0); /* the same save again: acknowledged */
    T_EQ(t_drain(s, MP_UOP_CKPT_ACK, &r), 1);
    T_EQ(t_deliver(p, 2, &r, SEC(2)), 0);
    T_EQ(mha_ckpt_get(ps, 0x100)->replicated, true);
    T_EQ(mk_next_deadline(p), UINT64_MAX);
    kfree(p);
    kfree(s);
}

/* A replica that restarts comes back with an empty store, and a record it confirmed
 * before is not in it: when its node comes back the primary sends it every record again
 * (its epoch and ordering rules still apply to each copy). */
static void test_ckpt_refill(void)
{
    mk_kernel *p = kern(1, MK_ENTITY_FTM), *s = kern(2, MK_ENTITY_FTM);
    mha_ckpt_config pc = {.replica_node = 2, .replica_entity = MK_ENTITY_FTM};
    T_EQ(mk_register(p, "ckpt", &mha_ckpt_ops, mha_ckpt_subs, mha_ckpt_nsubs, &pc, 0), 0);
    T_EQ(mk_register(s, "ckpt", &mha_ckpt_ops, mha_ckpt_subs, mha_ckpt_nsubs, NULL, 0), 0);
    mha_ckpt *ps = mk_element_state(p, 0);
    uint8_t b[16 + 16];
    mk_msg m, r, repl;
    for (uint32_t i = 0; i < 2; i++) {
        int n = mha_ckpt_block(b, sizeof b, 0x100 + i, 0x101, 7, "seven", 5);
        t_req(&m, 0x100 + i, MK_ENTITY_FTM, 1 + i, 2, MP_UOP_CKPT_SAVE, 0, b, (size_t)n);
        T_EQ(t_deliver(p, 9, &m, MS(1)), 0);
        T_EQ(t_drain(p, MP_UOP_CKPT_SAVE, &repl), 1);
        T_EQ(t_deliver(s, 1, &repl, MS(2)), 0);
        T_EQ(t_drain(s, MP_UOP_CKPT_ACK, &r), 1);
        T_EQ(t_deliver(p, 2, &r, MS(3)), 0);
        t_drain(p, 0xFFFF, NULL);
        T_EQ(mha_ckpt_get(ps, 0x100 + i)->replicated, true);
    }
    T_EQ(mk_next_deadline(p), UINT64_MAX); /* all confirmed: nothing owed */
    /* The replica restarts empty.  Another node coming up changes nothing. */
    kfree(s);
    s = kern(2, MK_ENTITY_FTM);
    T_EQ(mk_register(s, "ckpt", &mha_ckpt_ops, mha_ckpt_subs, mha_ckpt_nsubs, NULL, 0), 0);
    mha_ckpt *ss = mk_element_state(s, 0);
    T_EQ(mha_ckpt_replica_up(ps, 3), 0);
    T_EQ(mk_next_deadline(p), UINT64_MAX);
    /* Its node is up again: both records are owed and go at the next tick, each with the
     * epoch that saved it. */
    T_EQ(mha_ckpt_replica_up(ps, 2), 2);
    T_EQ(mk_next_deadline(p), 0);
    mk_tick(p, SEC(5));
    mk_msg copies[2];
    for (int i = 0; i < 2; i++) {
        T_EQ(mk_out_pop(p, &copies[i]), true);
        T_EQ(copies[i].dst_node, 2);
        T_EQ(copies[i].uops[0].opcode, MP_UOP_CKPT_SAVE);
        T_EQ(copies[i].epoch, 2);
    }
    T_EQ(mk_out_pop(p, &r), false);
    T_EQ(mk_next_deadline(p), SEC(5) + MHA_CKPT_REPL_RETRY_NS); /* unconfirmed: retried */
    /* The replica meanwhile took a newer epoch's save of 0x101: that copy is refused and
     * not retried; 0x100 is stored and confirmed. */
    int n = mha_ckpt_block(b, sizeof b, 0x101, 0x201, 1, "newer", 5);
    t_req(&m, 0x101, MK_ENTITY_FTM, 9, 3, MP_UOP_CKPT_SAVE, 0, b, (size_t)n);
    T_EQ(t_deliver(s, 4, &m, SEC(5)), 0);
    t_drain(s, 0xFFFF, NULL);
    for (int i = 0; i < 2; i++) {
        (void)t_deliver(s, 1, &copies[i], SEC(5));
        T_EQ(mk_out_pop(s, &r), true);
        (void)t_deliver(p, 2, &r, SEC(5));
    }
    T_EQ(mha_ckpt_get(ss, 0x100)->cseq, 7);
    T_CHECK(memcmp(mha_ckpt_get(ss, 0x100)->blob, "seven", 5) == 0);
    T_EQ(mha_ckpt_get(ss, 0x101)->path, 0x201); /* the newer epoch's save is kept */
    T_EQ(mha_ckpt_get(ps, 0x100)->replicated, true);
    T_EQ(mha_ckpt_get(ps, 0x101)->repl_refused, true);
    T_EQ(ps->refills, 1);
    T_EQ(mk_next_deadline(p), UINT64_MAX);
    kfree(p);
    kfree(s);
}

/* A watcher follows what it watches: a registration from another node moves the watch
 * (an entity id is one process wherever it runs), an ELECT moves the reports to the new
 * FTM, and a monitor in TAKEOVER mode promotes a candidate other than the one lost and
 * then watches the FTM that was elected. */
static void test_hb_follow(void)
{
    mk_kernel *k = kern(4, MK_ENTITY_EXEC);
    mha_hb_config hc = {.period_ns = MS(100), .threshold = 3, .report_node = 1,
                        .report_entity = MK_ENTITY_FTM, .watch_registered = true,
                        .follow_ftm = true};
    int id = mk_register(k, "hb", &mha_hb_ops, mha_hb_subs, mha_hb_nsubs, &hc, 0);
    mha_hb *hb = mk_element_state(k, id);
    uint8_t b[128];
    mk_msg m;
    int n = mha_register_block(b, sizeof b, 0x100, "proc", 2, MK_ENTITY_EXEC, 3);
    t_req(&m, 0x100, MK_ENTITY_EXEC, 0, 1, MP_UOP_REGISTER, 0, b, (size_t)n);
    T_EQ(t_deliver(k, 2, &m, 0), 0);
    T_CHECK(mha_hb_find(hb, 2, 0x100) != NULL);
    /* restarted on its standby node 3: the watch moves, none is left on node 2 */
    n = mha_register_block(b, sizeof b, 0x100, "proc", 3, MK_ENTITY_EXEC, 3);
    t_req(&m, 0x100, MK_ENTITY_EXEC, 0, 1, MP_UOP_REGISTER, 0, b, (size_t)n);
    T_EQ(t_deliver(k, 3, &m, MS(10)), 0);
    T_CHECK(mha_hb_find(hb, 2, 0x100) == NULL);
    T_CHECK(mha_hb_find(hb, 3, 0x100) != NULL);
    T_EQ(hb->moved, 1);
    /* ELECT with a newer epoch: reports go to node 2 from now on */
    t_req(&m, MK_ENTITY_FTM, MK_ENTITY_ALL, 0, 5, MP_UOP_FENCE, 0, NULL, 0);
    mk_msg_uop(&m, MP_UOP_ELECT, 2);
    mk_msg_block(&m, MP_UOP_ELECT, "\0\0\0\2", 4);
    T_EQ(t_deliver(k, 2, &m, MS(20)), 0);
    T_EQ(hb->cfg.report_node, 2);
    /* an older ELECT is fenced by the kernel and changes nothing */
    t_req(&m, MK_ENTITY_FTM, MK_ENTITY_ALL, 0, 4, MP_UOP_ELECT, 1, "\0\0\0\1", 4);
    T_EQ(t_deliver(k, 1, &m, MS(30)), MK_EFENCED);
    T_EQ(hb->cfg.report_node, 2);
    t_drain(k, 0xFFFF, NULL);
    for (uint64_t t = MS(100); t <= MS(310); t += MS(10))
        mk_tick(k, t);
    mk_msg r;
    T_EQ(t_drain(k, MP_UOP_PROC_FAILED, &r), 1);
    T_EQ(r.dst_node, 2);
    kfree(k);

    /* the monitor: candidates 1 and 2, FTM on 1 */
    mk_kernel *km = kern(6, MK_ENTITY_HBMON);
    mha_hb_config mc = {.period_ns = MS(100), .threshold = 3, .report_node = 1,
                        .report_entity = MK_ENTITY_FTM, .on_loss = MHA_HB_TAKEOVER,
                        .follow_ftm = true, .cand = {1, 2}, .ncand = 2};
    mha_hb *mon = mk_element_state(km, mk_register(km, "hb", &mha_hb_ops, mha_hb_subs,
                                                    mha_hb_nsubs, &mc, 0));
    T_EQ(mha_hb_watch_add(mon, 1, MK_ENTITY_FTM, 0), 0);
    for (uint64_t t = 0; t <= MS(300); t += MS(100))
        mk_tick(km, t);
    T_EQ(t_drain(km, MP_UOP_TAKEOVER, &r), 1);
    T_EQ(r.dst_node, 2); /* not the FTM just lost */
    T_EQ(r.dst_entity, MK_ENTITY_FTM);
    t_req(&m, MK_ENTITY_FTM, MK_ENTITY_ALL, 0, 2, MP_UOP_FENCE, 0, NULL, 0);
    mk_msg_uop(&m, MP_UOP_ELECT, 2);
    mk_msg_block(&m, MP_UOP_ELECT, "\0\0\0\2", 4);
    T_EQ(t_deliver(km, 2, &m, MS(320)), 0);
    T_CHECK(mha_hb_find(mon, 1, MK_ENTITY_FTM) == NULL);
    const mha_hb_watch *w = mha_hb_find(mon, 2, MK_ENTITY_FTM);
    T_CHECK(w != NULL && !w->down);
    t_drain(km, 0xFFFF, NULL);
    for (uint64_t t = MS(400); t <= MS(700); t += MS(10))
        mk_tick(km, t);
    T_EQ(t_drain(km, MP_UOP_TAKEOVER, &r), 1);
    T_EQ(r.dst_node, 1); /* and back: node 2 lost, node 1 (restarted) promoted */
    T_EQ(r.epoch, 2);    /* the newest epoch the monitor knows: the new FTM goes above it */
    kfree(km);
}

/* Drain FTM kernel f: its checkpoint saves go to the store st and the store's replies
 * come back, until no save is left; returns how many other messages had opcode op (the
 * last one in *last). */
static int ckpt_pump(mk_kernel *f, mk_kernel *st, uint64_t now, uint16_t op, mk_msg *last)
{
    static mk_msg m, r;
    int n = 0;
    for (bool again = true; again;) {
        again = false;
        while (mk_out_pop(f, &m)) {
            if (m.uop_count && m.uops[0].opcode == MP_UOP_CKPT_SAVE) {
                (void)t_deliver(st, f->node_id, &m, now);
                while (mk_out_pop(st, &r))
                    if (r.gflags & MP_GFLAG_REPLY)
                        (void)t_deliver(f, st->node_id, &r, now);
                again = true;
            } else if (m.uop_count && m.uops[0].opcode == op) {
                n++;
                if (last)
                    *last = m;
            }
        }
    }
    return n;
}

/* The FTM checkpoints its registry (one save outstanding, changes made meanwhile sent
 * after the ACK), a standby that takes over restores it before anything else, and a
 * deposed FTM's save is fenced at the store. */
static void test_ftm_selfckpt(void)
{
    mk_kernel *st = kern(9, MK_ENTITY_KERNEL);
    int cid = mk_register(st, "ckpt", &mha_ckpt_ops, mha_ckpt_subs, mha_ckpt_nsubs, NULL, 0);
    mha_ckpt *cs = mk_element_state(st, cid);
    mha_ftm *a, *b;
    mk_kernel *ka = ftm_kernel(1, true, 3, pol_test(), &a);
    mk_kernel *kb = ftm_kernel(2, false, 0, pol_test(), &b);
    a->cfg.ckpt_node = b->cfg.ckpt_node = 9; /* host-side: the store is on node 9 */
    a->cfg.ckpt_id = b->cfg.ckpt_id = 0xF7F70001u;
    mk_msg m, r;
    reg_ent(ka, 0x100, 5, 6, 3, MS(1));
    T_EQ(a->self_saves, 1);
    reg_ent(ka, 0x101, 6, 5, 3, MS(2));
    T_EQ(a->self_saves, 1); /* one outstanding: the second change waits */
    T_CHECK(a->dirty);
    mk_msg saves[2];
    int ns = 0;
    while (mk_out_pop(ka, &m))
        if (m.uops[0].opcode == MP_UOP_CKPT_SAVE && ns < 2)
            saves[ns++] = m;
    T_EQ(ns, 1);
    T_EQ(saves[0].dst_node, 9);
    T_EQ(saves[0].epoch, 3);
    T_EQ(t_deliver(st, 1, &saves[0], MS(3)), 0);
    T_EQ(t_drain(st, MP_UOP_CKPT_ACK, &r), 1);
    T_EQ(t_deliver(ka, 9, &r, MS(4)), 0);
    T_EQ(a->self_acks, 1);
    T_EQ(t_drain(ka, MP_UOP_CKPT_SAVE, &m), 1); /* the registry with both entities */
    T_EQ(t_deliver(st, 1, &m, MS(5)), 0);
    T_EQ(t_drain(st, MP_UOP_CKPT_ACK, &r), 1);
    T_EQ(t_deliver(ka, 9, &r, MS(5)), 0);
    T_EQ(a->self_acks, 2);
    T_CHECK(!a->dirty && a->save_corr == 0);
    const mha_ckpt_rec *rec = mha_ckpt_get(cs, 0xF7F70001u);
    T_CHECK(rec != NULL);
    T_EQ(rec->len, 2 * MHA_FTM_CKPT_REC);
    T_EQ(rec->cseq, 2);

    /* B takes over: it forgets what it knew and asks the store */
    reg_ent(kb, 0x1FF, 7, 0, 3, MS(6)); /* stale knowledge of a standby */
    t_drain(kb, 0xFFFF, NULL);
    t_req(&m, MK_ENTITY_HBMON, MK_ENTITY_FTM, 0, 3, MP_UOP_TAKEOVER, 0, "msgr/ftm", 8);
    T_EQ(t_deliver(kb, 6, &m, MS(10)), 0);
    T_EQ(b->epoch, 4);
    T_CHECK(b->restore_pending);
    T_CHECK(mha_ftm_entity(b, 0x1FF) == NULL);
    T_EQ(t_drain(kb, MP_UOP_CKPT_RESTORE, &m), 1);
    T_EQ(m.epoch, 4);
    /* unanswered: sent again after the retry delay */
    T_EQ(mk_next_deadline(kb), MS(10) + MHA_FTM_CKPT_RETRY_NS);
    mk_tick(kb, MS(10) + MHA_FTM_CKPT_RETRY_NS);
    T_EQ(t_drain(kb, MP_UOP_CKPT_RESTORE, &m), 1);
    T_EQ(t_deliver(st, 2, &m, SEC(2)), 0);
    T_EQ(t_drain(st, MP_UOP_CKPT_RESTORE, &r), 1);
    T_EQ(t_deliver(kb, 9, &r, SEC(2)), 0);
    T_CHECK(!b->restore_pending);
    T_EQ(b->restored_entities, 2);
    const mha_ftm_ent *e = mha_ftm_entity(b, 0x101);
    T_CHECK(e != NULL && e->node == 6 && e->standby_node == 5 && e->state == MHA_E_UP);
    T_EQ(last_decision(b)->action, MHA_A_RESTORED);
    /* the restored FTM recovers a restored entity; the decision is checkpointed too */
    uint32_t v0 = mha_ckpt_get(cs, 0xF7F70001u)->version;
    T_EQ(report(kb, 0x101, MHA_FAIL_CRASH, 6, 4, SEC(3)), 0);
    T_EQ(ckpt_pump(kb, st, SEC(3), MP_UOP_RECOVER, &m), 1);
    T_EQ(m.dst_node, 6);
    T_EQ(m.epoch, 4);
    T_CHECK(mha_ckpt_get(cs, 0xF7F70001u)->version > v0);
    T_CHECK(mp_seq32_lt(2, mha_ckpt_get(cs, 0xF7F70001u)->cseq)); /* after the restored one */
    /* the recovery in progress is in the checkpoint: a third FTM restoring it now would
     * carry it on (RECOVERING, target node 6) */
    rec = mha_ckpt_get(cs, 0xF7F70001u);
    bool found = false;
    for (unsigned off = 0; off + MHA_FTM_CKPT_REC <= rec->len; off += MHA_FTM_CKPT_REC)
        if (mp_get32(rec->blob + off) == 0x101) {
            found = true;
            T_EQ(rec->blob[off + 24], MHA_E_RECOVERING);
            T_EQ(mp_get32(rec->blob + off + 25), 6);
        }
    T_CHECK(found);
    reg_ent(kb, 0x102, 7, 0, 4, SEC(4));
    ckpt_pump(kb, st, SEC(4), 0xFFFF, NULL);
    T_EQ(mha_ckpt_get(cs, 0xF7F70001u)->len, 3 * MHA_FTM_CKPT_REC);

    /* A, paused through all this, still thinks it is active: its save is fenced and the
     * ERROR reply (with the store's newer epoch) deposes it */
    reg_ent(ka, 0x103, 7, 0, 3, SEC(5));
    T_EQ(t_drain(ka, MP_UOP_CKPT_SAVE, &m), 1);
    T_EQ(t_deliver(st, 1, &m, SEC(5)), MK_EFENCED);
    T_EQ(cs->fenced, 1);
    T_EQ(mha_ckpt_get(cs, 0xF7F70001u)->len, 3 * MHA_FTM_CKPT_REC);
    T_EQ(t_drain(st, MP_UOP_CKPT_SAVE, &r), 1);
    T_EQ(r.uops[0].arg, MP_R_NOT_PERMITTED);
    T_EQ(t_deliver(ka, 9, &r, SEC(5)), 0);
    T_EQ(a->role, MHA_FTM_DEPOSED);
    T_EQ(a->self_save_errors, 1);
    kfree(st);
    kfree(ka);
    kfree(kb);
}

/* The execution supervisor: boot from configuration, classify exits, report them (not
 * the ones it caused), kill a hung instance before restarting it, follow the FTM. */
static void test_exec(void)
{
    mk_kernel *k = kern(3, MK_ENTITY_EXEC);
    mha_exec_config xc = {.ftm_node = 1};
    int id = mk_register(k, "exec", &mha_exec_ops, mha_exec_subs, mha_exec_nsubs, &xc, 0);
    T_EQ(id, 0);
    mha_exec *x = mk_element_state(k, id);
    T_EQ(mha_exec_add(x, 0x100, "db", "/usr/bin/db --serve", 3, 4, MHA_POL_RESTART, 0, 0), 0);
    T_EQ(mha_exec_add(x, 0x101, "web", "/usr/bin/web", 4, 3, 0, 0, 0), 0); /* standby here */
    T_EQ(mha_exec_add(x, 0x100, "db2", "x", 3, 4, 0, 0, 0), MK_EEXIST);
    T_EQ(mha_exec_add(x, 0x10, "low", "x", 3, 4, 0, 0, 0), MK_EINVAL); /* reserved ids */
    /* boot starts only what lives here */
    T_EQ(mha_exec_boot(x), 1);
    mha_exec_action a;
    T_CHECK(mha_exec_action_pop(x, &a));
    T_EQ(a.type, MHA_EXEC_START);
    T_EQ(a.entity, 0x100);
    T_CHECK(!mha_exec_action_pop(x, &a));
    T_EQ(mha_exec_started(x, 0x100, MS(5)), 0);
    T_EQ(mha_exec_find(x, 0x100)->state, MHA_X_RUNNING);
    T_EQ(mk_next_deadline(k), UINT64_MAX);
    /* an exit with an error: reported as a crash at the next tick */
    T_EQ(mha_exec_exited(x, 0x100, 3, SEC(1)), 0);
    T_EQ(mk_next_deadline(k), SEC(1));
    mk_tick(k, SEC(1));
    mk_msg m;
    T_EQ(t_drain(k, MP_UOP_PROC_FAILED, &m), 1);
    T_EQ(m.dst_node, 1);
    T_EQ(m.dst_entity, MK_ENTITY_FTM);
    T_EQ(m.uops[0].arg, MHA_FAIL_CRASH);
    T_EQ(mp_get32(m.payload + 4), 0x100);
    T_EQ(mha_exec_find(x, 0x100)->crashes, 1);
    /* RECOVER (from checkpoint) starts it again */
    uint8_t b[12];
    mp_put32(b, 0x100);
    mp_put32(b + 4, 0x100);
    mp_put32(b + 8, 3);
    t_req(&m, MK_ENTITY_FTM, MK_ENTITY_EXEC, 9, 1, MP_UOP_RECOVER, 1, b, 12);
    T_EQ(t_deliver(k, 1, &m, SEC(2)), 0);
    T_CHECK(mha_exec_action_pop(x, &a));
    T_EQ(a.type, MHA_EXEC_START);
    T_EQ(a.restore, 1);
    T_EQ(t_drain(k, MP_UOP_RECOVER, &m), 1); /* the reply */
    T_EQ(m.gflags, MP_GFLAG_REPLY);
    /* a second RECOVER while it starts changes nothing (idempotent) */
    t_req(&m, MK_ENTITY_FTM, MK_ENTITY_EXEC, 10, 1, MP_UOP_RECOVER, 1, b, 12);
    T_EQ(t_deliver(k, 1, &m, SEC(2)), 0);
    T_CHECK(!mha_exec_action_pop(x, &a));
    t_drain(k, 0xFFFF, NULL);
    T_EQ(mha_exec_started(x, 0x100, SEC(2) + MS(20)), 0);
    /* hung (found by heartbeats elsewhere): RECOVER kills the instance, then starts */
    t_req(&m, MK_ENTITY_FTM, MK_ENTITY_EXEC, 11, 1, MP_UOP_RECOVER, 1, b, 12);
    T_EQ(t_deliver(k, 1, &m, SEC(3)), 0);
    T_CHECK(mha_exec_action_pop(x, &a));
    T_EQ(a.type, MHA_EXEC_KILL);
    T_CHECK(mha_exec_action_pop(x, &a));
    T_EQ(a.type, MHA_EXEC_START);
    /* ... and the death it caused is not a failure */
    T_EQ(mha_exec_exited(x, 0x100, -9, SEC(3)), 0);
    T_EQ(mk_next_deadline(k), UINT64_MAX);
    T_EQ(mha_exec_find(x, 0x100)->state, MHA_X_STARTING);
    T_EQ(mha_exec_started(x, 0x100, SEC(3) + MS(20)), 0);
    t_drain(k, 0xFFFF, NULL);
    /* a clean exit is reported as such (the FTM's policy decides) */
    T_EQ(mha_exec_exited(x, 0x100, 0, SEC(4)), 0);
    mk_tick(k, SEC(4));
    T_EQ(t_drain(k, MP_UOP_PROC_FAILED, &m), 1);
    T_EQ(m.uops[0].arg, MHA_FAIL_EXIT);
    /* a new FTM elsewhere: reports follow it */
    t_req(&m, MK_ENTITY_FTM, MK_ENTITY_ALL, 0, 2, MP_UOP_FENCE, 0, NULL, 0);
    mk_msg_uop(&m, MP_UOP_ELECT, 2);
    mk_msg_block(&m, MP_UOP_ELECT, "\0\0\0\2", 4);
    T_EQ(t_deliver(k, 2, &m, SEC(5)), 0);
    T_EQ(x->cfg.ftm_node, 2);
    /* PROC_START by name (the standby's "web"), with the entity id in the reply */
    uint8_t pr[64];
    size_t used = 1;
    pr[0] = 0;
    T_EQ(mha_props_add(pr, sizeof pr, &used, "name", "web"), 0);
    t_req(&m, MK_ENTITY_FTM, MK_ENTITY_EXEC, 12, 2, MP_UOP_PROC_START, 0, pr, used);
    T_EQ(t_deliver(k, 2, &m, SEC(6)), 0);
    T_CHECK(mha_exec_action_pop(x, &a));
    T_EQ(a.entity, 0x101);
    mk_msg r;
    T_EQ(t_drain(k, MP_UOP_PROC_START, &r), 1);
    T_EQ(mp_get32(r.payload + 4), 0x101);
    T_EQ(mha_exec_started(x, 0x101, SEC(6)), 0);
    /* PROC_STOP: killed, and its exit is not reported */
    mp_put32(b, 0x101);
    t_req(&m, MK_ENTITY_FTM, MK_ENTITY_EXEC, 13, 2, MP_UOP_PROC_STOP, 1, b, 4);
    T_EQ(t_deliver(k, 2, &m, SEC(7)), 0);
    T_CHECK(mha_exec_action_pop(x, &a));
    T_EQ(a.type, MHA_EXEC_KILL);
    T_EQ(mha_exec_exited(x, 0x101, -9, SEC(7)), 0);
    T_EQ(mk_next_deadline(k), UINT64_MAX);
    /* an order from the deposed FTM (epoch 1) is fenced by the kernel */
    mp_put32(b, 0x100);
    t_req(&m, MK_ENTITY_FTM, MK_ENTITY_EXEC, 14, 1, MP_UOP_RECOVER, 1, b, 12);
    T_EQ(t_deliver(k, 1, &m, SEC(8)), MK_EFENCED);
    T_CHECK(!mha_exec_action_pop(x, &a));
    /* unknown entity or name */
    mp_put32(b, 0x1FF);
    t_req(&m, MK_ENTITY_FTM, MK_ENTITY_EXEC, 15, 2, MP_UOP_RECOVER, 1, b, 12);
    T_EQ(t_deliver(k, 2, &m, SEC(9)), MK_ENOENT);
    t_drain(k, 0xFFFF, NULL);
    /* the host stops it itself (its node shuts down, or is quiesced for a planned
     * extraction): the clean exit that follows is not reported (MSG-MGMT-22) */
    T_EQ(mha_exec_boot(x), 1);
    T_CHECK(mha_exec_action_pop(x, &a));
    T_EQ(mha_exec_started(x, 0x100, SEC(10)), 0);
    T_EQ(mha_exec_stopping(x, 0x100), 0);
    T_EQ(mha_exec_find(x, 0x100)->state, MHA_X_STOPPING);
    T_EQ(mha_exec_exited(x, 0x100, 0, SEC(11)), 0);
    T_EQ(mk_next_deadline(k), UINT64_MAX);
    T_EQ(mha_exec_find(x, 0x100)->state, MHA_X_IDLE);
    T_EQ(mha_exec_stopping(x, 0x1FF), MK_ENOENT);
    kfree(k);
}

/* Per-entity policy per failure class, from REGISTER props. */
static void test_ftm_policy(void)
{
    mha_ftm *s;
    mk_kernel *k = ftm_kernel(1, true, 1, pol_test(), &s);
    uint8_t b[160];
    mk_msg m;
    int n = mha_register_block(b, sizeof b, 0x100, "proc", 2, MK_ENTITY_EXEC, 3);
    size_t len = (size_t)n;
    T_EQ(mha_register_policy(b, sizeof b, &len, MHA_POL_STOP, MHA_POL_FAILOVER, MHA_POL_DEFAULT), 0);
    T_CHECK(len > (size_t)n);
    t_req(&m, 0x100, MK_ENTITY_FTM, 1, 1, MP_UOP_REGISTER, 0, b, len);
    T_EQ(t_deliver(k, 2, &m, 0), 0);
    const mha_ftm_ent *e = mha_ftm_entity(s, 0x100);
    T_EQ(e->pol_exit, MHA_POL_STOP);
    T_EQ(e->pol_crash, MHA_POL_FAILOVER);
    T_EQ(e->pol_hang, MHA_POL_DEFAULT);
    t_drain(k, 0xFFFF, NULL);
    /* crash: straight to the standby node, and the old instance is stopped */
    T_EQ(report(k, 0x100, MHA_FAIL_CRASH, 2, 1, SEC(1)), 0);
    static mk_msg rec, stop; /* static: zeroed, so never read uninitialised */
    int nrec = 0, nstop = 0;
    while (mk_out_pop(k, &m)) {
        if (m.uops[0].opcode == MP_UOP_RECOVER)
            rec = m, nrec++;
        if (m.uops[0].opcode == MP_UOP_PROC_STOP)
            stop = m, nstop++;
    }
    T_EQ(nrec, 1);
    T_EQ(nstop, 1);
    T_EQ(rec.dst_node, 3);
    T_EQ(rec.uops[0].arg, 2);
    T_EQ(stop.dst_node, 2);
    T_EQ(stop.epoch, 1);
    T_EQ(last_decision(s)->action, MHA_A_FAILOVER);
    /* back on node 3; a clean exit: stopped, no command */
    n = mha_register_block(b, sizeof b, 0x100, "proc", 3, MK_ENTITY_EXEC, 3);
    len = (size_t)n;
    T_EQ(mha_register_policy(b, sizeof b, &len, MHA_POL_STOP, MHA_POL_FAILOVER, MHA_POL_DEFAULT), 0);
    t_req(&m, 0x100, MK_ENTITY_FTM, 2, 1, MP_UOP_REGISTER, 0, b, len);
    T_EQ(t_deliver(k, 3, &m, SEC(2)), 0);
    t_drain(k, 0xFFFF, NULL);
    T_EQ(report(k, 0x100, MHA_FAIL_EXIT, 3, 1, SEC(3)), 0);
    T_EQ(t_drain(k, 0xFFFF, NULL), 0);
    T_EQ(mha_ftm_entity(s, 0x100)->state, MHA_E_STOPPED);
    T_EQ(last_decision(s)->action, MHA_A_NONE);
    /* an unknown policy value falls back to the ladder */
    uint8_t pr[64];
    n = mha_register_block(pr, sizeof pr, 0x101, "proc", 2, MK_ENTITY_EXEC, 0);
    size_t used = (size_t)n - 4;
    T_EQ(mha_props_add(pr + 4, sizeof pr - 4, &used, "on-crash", "explode"), 0);
    t_req(&m, 0x101, MK_ENTITY_FTM, 3, 1, MP_UOP_REGISTER, 0, pr, used + 4);
    T_EQ(t_deliver(k, 2, &m, SEC(4)), 0);
    T_EQ(mha_ftm_entity(s, 0x101)->pol_crash, MHA_POL_DEFAULT);
    kfree(k);
}

/* Explanations: STATS_GET(7) answered by the FTM and the watcher sharing a kernel, with
 * the published detection bound; a decision rendered for operators. */
static void test_stats_explain(void)
{
    mha_ftm *s;
    mk_kernel *k = ftm_kernel(1, true, 1, pol_test(), &s);
    mha_hb_config hc = {.period_ns = MS(100), .threshold = 3, .link_tol_ns = MS(625),
                        .report_node = 1, .report_entity = MK_ENTITY_FTM};
    T_EQ(mk_register(k, "hb", &mha_hb_ops, mha_hb_subs, mha_hb_nsubs, &hc, 0), 1);
    reg_ent(k, 0x100, 2, 3, 1, 0);
    T_EQ(report(k, 0x100, MHA_FAIL_CRASH, 2, 1, SEC(1)), 0);
    t_drain(k, 0xFFFF, NULL);
    mk_msg m, r;
    t_req(&m, 0, MK_ENTITY_FTM, 77, 1, MP_UOP_STATS_GET, 7, NULL, 0);
    T_EQ(t_deliver(k, 9, &m, SEC(2)), 0);
    T_EQ(t_drain(k, MP_UOP_STATS_REPLY, &r), 1);
    T_EQ(r.uop_count, 2); /* one block per element */
    T_EQ(r.uops[0].arg, 7);
    const uint8_t *blk;
    size_t blen;
    uint32_t v = 0;
    T_EQ(mk_find_block(r.payload, r.payload_len, MP_UOP_STATS_REPLY, 0, &blk, &blen), 0);
    T_EQ(mha_props_u32(blk, blen, "ftm.restarts", &v), 0);
    T_EQ(v, 1);
    T_EQ(mha_props_u32(blk, blen, "ftm.epoch", &v), 0);
    T_EQ(v, 1);
    T_EQ(mk_find_block(r.payload, r.payload_len, MP_UOP_STATS_REPLY, 1, &blk, &blen), 0);
    T_EQ(mha_props_u32(blk, blen, "hb.detection_bound_ms", &v), 0);
    T_EQ(v, 925);
    /* another group is not ours: answered with nothing from these elements */
    t_req(&m, 0, MK_ENTITY_FTM, 78, 1, MP_UOP_STATS_GET, 1, NULL, 0);
    T_EQ(t_deliver(k, 9, &m, SEC(2)), 0);
    T_EQ(t_drain(k, 0xFFFF, &r), 1);
    T_EQ(r.uop_count, 0);
    char line[256];
    int n = mha_decision_format(last_decision(s), line, sizeof line);
    T_CHECK(n > 0 && (size_t)n < sizeof line);
    T_CHECK(strstr(line, "entity 0x100: report") != NULL);
    T_CHECK(strstr(line, "-> restart node 2") != NULL);
    kfree(k);
}

/* The node a failover left a stale instance on is in the FTM's checkpoint: a standby that
 * takes over after the failover, and before the cut-off node is back, refuses it too. */
static void test_ftm_stale_takeover(void)
{
    mk_kernel *st = kern(9, MK_ENTITY_KERNEL);
    T_EQ(mk_register(st, "ckpt", &mha_ckpt_ops, mha_ckpt_subs, mha_ckpt_nsubs, NULL, 0), 0);
    mha_ftm *a, *b;
    mk_kernel *ka = ftm_kernel(1, true, 1, pol_test(), &a);
    mk_kernel *kb = ftm_kernel(4, false, 0, pol_test(), &b);
    a->cfg.ckpt_node = b->cfg.ckpt_node = 9;
    a->cfg.ckpt_id = b->cfg.ckpt_id = 0xF7F70002u;
    T_EQ(reg_from(ka, 2, "node", 2, 0, 0), 0);
    T_EQ(reg_from(ka, 0x100, "proc", 2, 3, 0), 0);
    ckpt_pump(ka, st, 0, 0xFFFF, NULL);
    T_EQ(report(ka, 2, MP_R_PEER_DOWN, 3, 1, SEC(1)), 0);
    mk_msg m;
    T_EQ(ckpt_pump(ka, st, SEC(1), MP_UOP_RECOVER, &m), 1);
    T_EQ(m.dst_node, 3);
    T_EQ(reg_from(ka, 0x100, "proc", 3, 3, SEC(1) + MS(30)), 0);
    ckpt_pump(ka, st, SEC(1) + MS(30), 0xFFFF, NULL);

    /* A is lost; B takes over and restores the registry. */
    t_req(&m, MK_ENTITY_HBMON, MK_ENTITY_FTM, 0, 1, MP_UOP_TAKEOVER, 0, "msgr/ftm", 8);
    T_EQ(t_deliver(kb, 5, &m, SEC(2)), 0);
    T_EQ(t_drain(kb, MP_UOP_CKPT_RESTORE, &m), 1);
    T_EQ(t_deliver(st, 4, &m, SEC(2)), 0);
    mk_msg r;
    T_EQ(t_drain(st, MP_UOP_CKPT_RESTORE, &r), 1);
    T_EQ(t_deliver(kb, 9, &r, SEC(2)), 0);
    const mha_ftm_ent *e = mha_ftm_entity(b, 0x100);
    T_CHECK(e != NULL && e->node == 3 && e->state == MHA_E_UP && e->stale_node == 2);
    t_drain(kb, 0xFFFF, NULL);
    /* Node 2 is back, with its old instance: refused and stopped, with B's epoch. */
    uint8_t blk[128];
    int n = mha_register_block(blk, sizeof blk, 0x100, "proc", 2, MK_ENTITY_EXEC, 3);
    t_req(&m, MK_ENTITY_EXEC, MK_ENTITY_FTM, 0, 2, MP_UOP_REGISTER, 0, blk, (size_t)n);
    T_EQ(t_deliver(kb, 2, &m, SEC(3)), MK_ESTATE);
    T_EQ(stale_stops_to(kb, 2, 0x100, 2), 1);
    T_EQ(e->node, 3);
    kfree(ka);
    kfree(kb);
    kfree(st);
}

int main(void)
{
    test_hb();
    test_hb_follow();
    test_ftm_ladder();
    test_ftm_budget();
    test_ftm_log();
    test_ftm_takeover();
    test_ftm_node_up();
    test_ftm_selfckpt();
    test_ftm_policy();
    test_exec();
    test_stats_explain();
    test_ftm_node();
    test_ftm_stale_instance();
    test_ftm_stale_takeover();
    test_iop_table();
    test_iop_element();
    test_ckpt();
    test_ckpt_refill();
    return t_done("test_mha");
}
