/*
 * mha_exec.c — the execution supervisor element (entity 4): launches configured
 * processes, classifies how they end, reports failures to the FTM and carries out its
 * orders.  Sans-I/O: the host performs the actions (fork/exec, kill) and reports back.
 *
 * Division of labour.  The supervisor detects; the FTM decides.  Even a crash loop is
 * reported failure by failure, because back-off, escalation to failover and the restart
 * budget are cluster-wide decisions (a budget only works if one place counts).  What the
 * supervisor owns is the mechanism: it never starts a second instance of a process while
 * one is still running (a hung instance is killed first), and it does not report exits
 * that it caused.
 */
#include <string.h>

#include "mha.h"

const uint16_t mha_exec_subs[] = {MP_UOP_RECOVER, MP_UOP_PROC_START, MP_UOP_PROC_STOP,
                                  MP_UOP_ELECT};
const size_t mha_exec_nsubs = sizeof mha_exec_subs / sizeof mha_exec_subs[0];

static mha_exec_proc *exec_find(mha_exec *s, uint32_t entity)
{
    for (unsigned i = 0; i < MHA_EXEC_MAX; i++)
        if (s->p[i].used && s->p[i].entity == entity)
            return &s->p[i];
    return NULL;
}

const mha_exec_proc *mha_exec_find(const mha_exec *s, uint32_t entity)
{
    return exec_find((mha_exec *)s, entity);
}

static int exec_act(mha_exec *s, uint8_t type, uint32_t entity, uint8_t restore)
{
    if (s->act_n >= MHA_EXEC_ACTIONS) {
        s->act_overflow++;
        return MK_ELIMIT;
    }
    mha_exec_action *a = &s->act[(s->act_head + s->act_n) % MHA_EXEC_ACTIONS];
    a->type = type;
    a->entity = entity;
    a->restore = restore;
    s->act_n++;
    return 0;
}

bool mha_exec_action_pop(mha_exec *s, mha_exec_action *a)
{
    if (s->act_n == 0)
        return false;
    *a = s->act[s->act_head];
    s->act_head = (s->act_head + 1) % MHA_EXEC_ACTIONS;
    s->act_n--;
    return true;
}

int mha_exec_add(mha_exec *s, uint32_t entity, const char *name, const char *cmd, uint32_t home,
                 uint32_t standby, uint8_t on_exit, uint8_t on_crash, uint8_t on_hang)
{
    if (!name || !cmd || strlen(name) == 0 || strlen(name) > MHA_EXEC_NAME ||
        strlen(cmd) > MHA_EXEC_CMD || entity < 0x100 || on_exit > MHA_POL_FAILOVER ||
        on_crash > MHA_POL_FAILOVER || on_hang > MHA_POL_FAILOVER)
        return MK_EINVAL;
    if (exec_find(s, entity))
        return MK_EEXIST;
    for (unsigned i = 0; i < MHA_EXEC_MAX; i++) {
        mha_exec_proc *p = &s->p[i];
        if (p->used)
            continue;
        memset(p, 0, sizeof *p);
        p->used = true;
        p->entity = entity;
        p->home = home;
        p->standby = standby;
        memcpy(p->name, name, strlen(name) + 1);
        memcpy(p->cmd, cmd, strlen(cmd) + 1);
        p->on_exit = on_exit;
        p->on_crash = on_crash;
        p->on_hang = on_hang;
        return 0;
    }
    return MK_ELIMIT;
}

/* Start p: kill a leftover instance first, so that two never run at once. */
static int exec_start(mha_exec *s, mha_exec_proc *p, bool restore)
{
    if (p->state == MHA_X_STARTING)
        return 0; /* idempotent: the start already ordered will do */
    if (p->state == MHA_X_RUNNING || p->state == MHA_X_STOPPING) {
        int rc = exec_act(s, MHA_EXEC_KILL, p->entity, 0);
        if (rc < 0)
            return rc;
        p->expect_exit = true;
        p->kills++;
    }
    int rc = exec_act(s, MHA_EXEC_START, p->entity, restore);
    if (rc < 0)
        return rc;
    p->state = MHA_X_STARTING;
    return 0;
}

int mha_exec_boot(mha_exec *s)
{
    int n = 0;
    for (unsigned i = 0; i < MHA_EXEC_MAX; i++) {
        mha_exec_proc *p = &s->p[i];
        if (p->used && p->home == s->node && p->state == MHA_X_IDLE) {
            int rc = exec_start(s, p, true);
            if (rc < 0)
                return rc;
            n++;
        }
    }
    return n;
}

int mha_exec_started(mha_exec *s, uint32_t entity, uint64_t now)
{
    mha_exec_proc *p = exec_find(s, entity);
    if (!p)
        return MK_ENOENT;
    p->state = MHA_X_RUNNING;
    p->expect_exit = false;
    p->started_at = now;
    p->starts++;
    return 0;
}

int mha_exec_stopping(mha_exec *s, uint32_t entity)
{
    mha_exec_proc *p = exec_find(s, entity);
    if (!p)
        return MK_ENOENT;
    if (p->state == MHA_X_RUNNING || p->state == MHA_X_STARTING) {
        p->expect_exit = true;
        p->state = MHA_X_STOPPING;
    }
    return 0;
}

int mha_exec_exited(mha_exec *s, uint32_t entity, int status, uint64_t now)
{
    mha_exec_proc *p = exec_find(s, entity);
    if (!p)
        return MK_ENOENT;
    p->exited_at = now;
    p->last_status = status;
    p->exits++;
    bool ours = p->expect_exit;
    p->expect_exit = false;
    /* A new instance may already be starting (after a kill we ordered): keep STARTING. */
    if (p->state != MHA_X_STARTING)
        p->state = MHA_X_IDLE;
    if (ours)
        return 0;
    if (status != 0)
        p->crashes++;
    if (s->rep_n >= MHA_EXEC_REPORTS) {
        s->rep_overflow++; /* the heartbeat watcher will report it as silent */
        return MK_ELIMIT;
    }
    s->rep[s->rep_n].entity = entity;
    s->rep[s->rep_n].reason = status == 0 ? MHA_FAIL_EXIT : MHA_FAIL_CRASH;
    if (s->rep_n == 0 || now < s->rep_due)
        s->rep_due = now;
    s->rep_n++;
    return 0;
}

static int exec_init(mk_ctx *c, const void *cfg)
{
    mha_exec *s = mk_ctx_state(c);
    if (cfg)
        s->cfg = *(const mha_exec_config *)cfg;
    s->node = mk_ctx_node(c);
    return 0;
}

static int exec_uop(mk_ctx *c, uint16_t op, uint16_t arg)
{
    mha_exec *s = mk_ctx_state(c);
    if (mk_ctx_is_reply(c))
        return 0;
    const uint8_t *p;
    size_t len;
    if (op == MP_UOP_ELECT) {
        /* Dispatched only with the newest epoch (fenced opcode): the FTM is there now. */
        if (mk_param(c, &p, &len) == 0 && len >= 4)
            s->cfg.ftm_node = mp_get32(p);
        return 0;
    }
    /* The kernel already dropped commands with an older epoch; remember the newest so
     * that msgrctl can show whose orders this supervisor follows. */
    s->last_epoch = mk_ctx_msg_epoch(c);
    if (op == MP_UOP_PROC_START) {
        if (mk_param(c, &p, &len) < 0)
            return MK_EPROTO;
        const uint8_t *v;
        size_t vl;
        int rc = mha_props_find(p, len, "name", &v, &vl);
        if (rc < 0)
            return rc == MK_ENOENT ? MK_EPROTO : rc;
        mha_exec_proc *x = NULL;
        for (unsigned i = 0; i < MHA_EXEC_MAX && !x; i++)
            if (s->p[i].used && strlen(s->p[i].name) == vl && memcmp(s->p[i].name, v, vl) == 0)
                x = &s->p[i];
        if (!x) {
            s->unknown++;
            return MK_ENOENT;
        }
        rc = exec_start(s, x, true);
        if (rc < 0)
            return rc;
        s->starts_ordered++;
        uint8_t b[4];
        mp_put32(b, x->entity);
        rc = mk_reply_uop(c, MP_UOP_PROC_START, 0);
        return rc ? rc : mk_reply_block(c, MP_UOP_PROC_START, b, 4);
    }
    if (mk_param(c, &p, &len) < 0 || len < 4)
        return MK_EPROTO;
    mha_exec_proc *x = exec_find(s, mp_get32(p));
    if (!x) {
        s->unknown++;
        return MK_ENOENT;
    }
    if (op == MP_UOP_PROC_STOP) {
        if (x->state == MHA_X_RUNNING || x->state == MHA_X_STARTING) {
            int rc = exec_act(s, MHA_EXEC_KILL, x->entity, 0);
            if (rc < 0)
                return rc;
            x->expect_exit = true;
            x->state = MHA_X_STOPPING;
            x->kills++;
        }
        s->stops++;
        return mk_reply_uop(c, MP_UOP_PROC_STOP, 0);
    }
    /* RECOVER: arg 0 restart, 1 restart from checkpoint, 2 migrate (here: to this node). */
    int rc = exec_start(s, x, arg != 0);
    if (rc < 0)
        return rc;
    s->recovers++;
    return mk_reply_uop(c, MP_UOP_RECOVER, 0);
}

static int exec_tick(mk_ctx *c)
{
    mha_exec *s = mk_ctx_state(c);
    uint32_t sent = 0;
    for (; sent < s->rep_n; sent++) {
        mk_msg m;
        mk_msg_init(&m, s->cfg.ftm_node, MK_ENTITY_FTM, 0);
        uint8_t b[4];
        mp_put32(b, s->rep[sent].entity);
        (void)mk_msg_uop(&m, MP_UOP_PROC_FAILED, s->rep[sent].reason);
        (void)mk_msg_block(&m, MP_UOP_PROC_FAILED, b, 4);
        if (mk_emit(c, &m) < 0)
            break; /* outbox full: the rest goes at the next tick */
        s->reports++;
    }
    memmove(s->rep, s->rep + sent, sizeof s->rep[0] * (s->rep_n - sent));
    s->rep_n -= sent;
    return 0;
}

static uint64_t exec_deadline(const void *state)
{
    const mha_exec *s = state;
    return s->rep_n ? s->rep_due : UINT64_MAX;
}

const mk_element_ops mha_exec_ops = {
    .state_size = sizeof(mha_exec),
    .init = exec_init,
    .uop = exec_uop,
    .tick = exec_tick,
    .deadline = exec_deadline,
};
