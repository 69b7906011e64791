/*
 * mha.h — high-availability elements for the management microkernel (prefix mha_).
 *
 * Each service is an mk_ element: a pure state machine driven only by MGMT
 * microoperations (mk_input) and time (mk_tick).  Register one with mk_register, passing
 * its ops table, its default subscription list and a config:
 *
 *     mha_hb_config hc = { .period_ns = 100000000, .threshold = 3, ... };
 *     int id = mk_register(k, "hb", &mha_hb_ops, mha_hb_subs, mha_hb_nsubs, &hc, now);
 *     const mha_hb *hb = mk_element_state(k, id);    // host-side inspection only
 *
 *  mha_hb       heartbeat watcher: HEARTBEAT to watched entities, HEARTBEAT_ACK
 *               tracking, failure declared after period x threshold of silence.
 *  mha_hbresp   heartbeat responder: answers HEARTBEAT with a HEARTBEAT_ACK response.
 *  mha_ftm      fault-tolerance manager: registry, recovery policy (restart, back-off,
 *               escalation to failover, restart budget), decision log, leadership and
 *               fencing epochs.
 *  mha_iop      IOP lifecycle: the RFC 10.7 state table, with every other transition
 *               rejected (MK_ESTATE).
 *  mha_ckpt     checkpoint store: CKPT_SAVE / CKPT_ACK / CKPT_RESTORE, replicated to a
 *               standby store, tied to a (path, cseq) position, fenced by epoch.
 *  mha_exec     execution supervisor: launches configured processes through its host,
 *               reports their failures by class, carries out RECOVER / PROC_START /
 *               PROC_STOP.
 *
 * Adding an element of your own: write an mk_element_ops table (state size, init, uop,
 * tick, deadline), a subscription list of opcodes, and call mk_register on the kernel of
 * the entity that should host it.  It sees only its own state and the message being
 * dispatched (mk.h, "Confinement"); tests/ha/test_campaign.c's app element is a small
 * example.
 *
 * All times are u64 nanoseconds from the host's monotonic clock.
 */
#ifndef MHA_MHA_H
#define MHA_MHA_H

#include "mk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* PROC_FAILED arg: the failure class, as an RFC 17.4 reason.  The registry has no
 * dedicated values for failure classes, so these reuse the nearest reasons. */
#define MHA_FAIL_EXIT    MP_R_APP_CLOSE   /* clean exit (status 0) */
#define MHA_FAIL_CRASH   MP_R_PEER_DOWN   /* died: signal or non-zero exit */
#define MHA_FAIL_HANG    MP_R_TIMEOUT     /* heartbeat loss: hung or unreachable */

/* Props helper (RFC 10.5 "props"): find `key` in count(8) {klen key vlen val}*.  Returns
 * 0 with the value view, MK_ENOENT, or MK_EPROTO if malformed. */
int mha_props_find(const uint8_t *p, size_t len, const char *key, const uint8_t **val,
                   size_t *vlen);
/* Decimal value of a prop (0..2^32-1), or MK_EPROTO/MK_ENOENT. */
int mha_props_u32(const uint8_t *p, size_t len, const char *key, uint32_t *out);
/* Append one key/value pair to a props list under construction in buf (count byte at
 * buf[0], set *used = 1 with buf[0] = 0 to start). */
int mha_props_add(uint8_t *buf, size_t cap, size_t *used, const char *key, const char *val);
/* The same with a decimal value (STATS_REPLY counters). */
int mha_props_add_u64(uint8_t *buf, size_t cap, size_t *used, const char *key, uint64_t v);

/* ================================ heartbeat =================================== */
#define MHA_HB_MAX_WATCH 32u

enum mha_hb_on_loss {
    MHA_HB_REPORT = 0,   /* send PROC_FAILED(HANG, entity) to report_node/report_entity */
    MHA_HB_TAKEOVER = 1, /* send TAKEOVER("msgr/ftm") there: the monitor promoting a standby FTM */
};

typedef struct mha_hb_config {
    uint64_t period_ns;      /* HEARTBEAT interval (RFC 13: 1 s default, 10 ms..60 s) */
    uint32_t threshold;      /* silent periods before failure (RFC 13: 3, 1..100) */
    uint64_t link_tol_ns;    /* link detection bound added to the *published* bound */
    uint32_t report_node, report_entity;
    uint8_t on_loss;         /* enum mha_hb_on_loss */
    bool watch_registered;   /* REGISTER/UNREGISTER seen here add/remove watches */
    /* Follow the FTM: an ELECT (which the kernel lets through only with the newest
     * epoch) names the node of the new FTM.  Reports then go there; a TAKEOVER-mode
     * monitor also moves its watch to the new FTM (entity 1 on that node). */
    bool follow_ftm;
    /* TAKEOVER mode: FTM candidate nodes.  On loss of the FTM at node X the TAKEOVER
     * goes to the first candidate other than X (report_node if there is none). */
    uint32_t cand[4];
    uint8_t ncand;
} mha_hb_config;

typedef struct mha_hb_watch {
    bool used, down;
    uint32_t node, entity;
    uint16_t seq_sent, seq_acked;
    uint64_t next_send;  /* next HEARTBEAT */
    uint64_t last_ack;   /* time of the last valid ACK (or of the start of watching) */
    uint64_t declared_at; /* time of the last declaration (evidence) */
    uint32_t declarations, outages, acks;
} mha_hb_watch;

typedef struct mha_hb {
    mha_hb_config cfg;
    uint32_t next_corr;
    mha_hb_watch w[MHA_HB_MAX_WATCH];
    uint64_t sent, acks, stale_acks, declared, recovered, emit_errors;
    uint64_t moved;      /* watches moved by a registration from another node */
    uint64_t followed;   /* ELECTs that changed where reports go */
} mha_hb;

extern const mk_element_ops mha_hb_ops;
extern const uint16_t mha_hb_subs[];
extern const size_t mha_hb_nsubs;
/* Host-side control (the monitor is told to watch the FTM; the FTM node watches what
 * registers).  Start watching at `now`: the first HEARTBEAT goes at `now`. */
int mha_hb_watch_add(mha_hb *s, uint32_t node, uint32_t entity, uint64_t now);
int mha_hb_watch_del(mha_hb *s, uint32_t node, uint32_t entity);
const mha_hb_watch *mha_hb_find(const mha_hb *s, uint32_t node, uint32_t entity);
/* The published detection bound: period x threshold + link tolerance.  A failure of a
 * watched entity at time t is declared no later than t + this (plus the one-way delay of
 * an ACK already in flight). */
uint64_t mha_hb_detection_bound(const mha_hb *s);

/* The responder: subscribes to HEARTBEAT and answers with HEARTBEAT_ACK(arg).  Its
 * config (may be NULL) carries the state byte reported in the ACK block. */
typedef struct mha_hbresp {
    uint8_t state; /* IOP/process state to report, 0 if none */
    bool mute;     /* test/fault hook: a hung entity does not answer */
    uint64_t answered;
} mha_hbresp;
extern const mk_element_ops mha_hbresp_ops;
extern const uint16_t mha_hbresp_subs[];
extern const size_t mha_hbresp_nsubs;

/* ================================== FTM ======================================= */
#define MHA_FTM_MAX_ENT   64u
#define MHA_FTM_LOG       128u
#define MHA_FTM_HIST      16u  /* failure timestamps kept per entity */
#define MHA_FTM_MAX_BUDGET 64u
#define MHA_FTM_FENCE_Q   16u /* nodes that came up, waiting for FENCE + ELECT */

enum mha_kind { MHA_K_PROC = 0, MHA_K_IOP = 1, MHA_K_NODE = 2 };
enum mha_ent_state {
    MHA_E_UP = 0,
    MHA_E_BACKOFF,    /* restart decided, waiting for the back-off delay */
    MHA_E_DEGRADED,   /* restart budget exhausted: waits for budget, service degraded */
    MHA_E_RECOVERING, /* RECOVER sent, waiting for the entity to REGISTER again */
    MHA_E_FAULTED,    /* escalation ladder exhausted: operator action needed */
    MHA_E_STOPPED,    /* clean exit and the policy says not to restart */
};
enum mha_role { MHA_FTM_STANDBY = 0, MHA_FTM_ACTIVE = 1, MHA_FTM_DEPOSED = 2 };

/* What triggered a decision. */
enum mha_trigger {
    MHA_T_REPORT = 1,      /* PROC_FAILED from a daemon or supervisor */
    MHA_T_HB_LOSS,         /* PROC_FAILED with reason TIMEOUT (a heartbeat watcher) */
    MHA_T_BACKOFF_TIMER,   /* a back-off delay expired */
    MHA_T_BUDGET_TIMER,    /* restart budget became available again */
    MHA_T_RECOVER_TIMEOUT, /* the entity did not come back after RECOVER */
    MHA_T_REGISTER,        /* the entity registered (came back) */
    MHA_T_TAKEOVER,        /* this FTM was ordered to take over */
    MHA_T_NEWER_EPOCH,     /* a newer epoch was seen */
    MHA_T_NODE_LOSS,       /* the entity's node was reported failed */
};
/* What was done. */
enum mha_action {
    MHA_A_RESTART = 1,   /* RECOVER(restart from checkpoint) sent now */
    MHA_A_BACKOFF,       /* restart scheduled after a back-off delay */
    MHA_A_FAILOVER,      /* RECOVER(migrate) to the standby node */
    MHA_A_DEGRADE,       /* budget exhausted: not restarted now */
    MHA_A_FAULT,         /* ladder exhausted: given up, entity FAULTED */
    MHA_A_DUPLICATE,     /* report about a failure already being handled */
    MHA_A_NONE,          /* policy: no action (e.g. clean exit) */
    MHA_A_RECOVERED,     /* entity back */
    MHA_A_ACTIVATE,      /* became the active FTM with a new epoch */
    MHA_A_STEP_DOWN,     /* stopped acting as FTM (fenced) */
    MHA_A_IGNORED_INACTIVE, /* not the active FTM: no command */
    MHA_A_RESTORED,      /* registry restored from the FTM's own checkpoint */
    MHA_A_STOP_STALE,    /* an instance a failover left behind spoke: PROC_STOP (again), and
                          * its REGISTER or failure report changes nothing (MSG-MGMT-26) */
};

typedef struct mha_decision {
    uint64_t at;
    uint32_t entity, epoch;
    uint8_t trigger, action;
    uint16_t reason;              /* PROC_FAILED arg, or 0 */
    uint32_t reporter_node, reporter_entity;
    uint32_t fails_in_window;     /* restart-ladder counter at decision time */
    uint32_t failovers;
    uint32_t budget_used;         /* restarts in the budget window */
    uint64_t delay_ns;            /* back-off delay, or recovery time for RECOVERED */
    uint32_t target_node;
} mha_decision;

typedef struct mha_ftm_policy {
    uint32_t max_restarts;       /* restarts in restart_window before failover (RFC 13: 3) */
    uint64_t restart_window_ns;  /* (RFC 13: 10 min) */
    uint32_t max_failovers;      /* failovers in restart_window before FAULTED */
    uint64_t backoff_base_ns;    /* 2nd restart in the window waits base, then x2 ... */
    uint64_t backoff_cap_ns;     /* ... never more than cap */
    uint32_t budget;             /* restarts allowed across all entities in budget_window */
    uint64_t budget_window_ns;
    uint64_t recover_timeout_ns; /* RECOVER without REGISTER for this long = failed again */
    bool restart_clean_exit;
} mha_ftm_policy;

typedef struct mha_ftm_config {
    uint32_t node_id;
    uint8_t rank;
    bool active;           /* start as the active FTM (else standby) */
    uint32_t epoch;        /* initial epoch of an active FTM */
    mha_ftm_policy pol;
    /* The FTM checkpoints itself (its registry) to this store under ckpt_id, and a
     * standby that takes over restores from it before it knows anything.  0/0: off. */
    uint32_t ckpt_node, ckpt_entity, ckpt_id;
} mha_ftm_config;

/* Restart policy of one entity for one failure class (clean exit, crash, hang), carried
 * in its REGISTER props "on-exit", "on-crash", "on-hang" (values "restart", "stop",
 * "failover"; absent = the FTM's ladder, with clean exits per restart_clean_exit). */
enum mha_pol { MHA_POL_DEFAULT = 0, MHA_POL_RESTART, MHA_POL_STOP, MHA_POL_FAILOVER };

typedef struct mha_ftm_ent {
    bool used;
    uint8_t kind, state;
    uint8_t pol_exit, pol_crash, pol_hang; /* enum mha_pol */
    uint32_t id, node, sup_entity, home_node, standby_node;
    uint64_t fails[MHA_FTM_HIST]; /* failure times (ring), for the restart window */
    uint32_t nfails;              /* entries in fails[] */
    uint64_t failovers_at[4];
    uint32_t nfailovers;
    uint64_t failed_at, restart_at, recover_sent_at;
    uint32_t restarts, total_failovers, total_failures;
    uint32_t target_node;         /* node the pending recovery runs on */
    /* The node a failover took the entity away from: its instance there was sent
     * PROC_STOP, which may have been lost (the node unreachable, or partitioned).  Until
     * the FTM itself moves the entity back there, a REGISTER of the entity from that node
     * is refused and answered with PROC_STOP again, and failure reports from that node
     * about it are ignored: they concern the stale instance, not the live one.  0: none.
     * In the self-checkpoint: an FTM that takes over keeps refusing it. */
    uint32_t stale_node;
} mha_ftm_ent;

typedef struct mha_ftm {
    mha_ftm_config cfg;
    uint8_t role;
    uint32_t epoch;
    uint32_t epoch_fenced_by; /* the newer epoch that deposed us, 0 if never */
    uint32_t next_corr;
    mha_ftm_ent ent[MHA_FTM_MAX_ENT];
    uint64_t budget_at[MHA_FTM_MAX_BUDGET]; /* restart times (ring) for the budget */
    uint32_t budget_n, budget_head;
    mha_decision log[MHA_FTM_LOG];
    uint32_t log_head, log_n;
    uint64_t log_total;
    uint64_t commands, restarts, failovers, degraded, faulted, duplicates, recoveries;
    uint64_t emit_errors, reg_full;
    uint64_t stale_stops; /* PROC_STOPs resent for instances a failover left behind */
    /* self-checkpoint: one save outstanding at a time; `dirty` = registry changed since */
    bool dirty, restore_pending;
    bool announce; /* FENCE + ELECT still to send (an FTM active from its start) */
    uint32_t save_seq, save_corr, restore_corr;
    uint64_t save_sent_at, restore_sent_at, dirty_at, activated_at;
    uint64_t self_saves, self_acks, self_save_errors, self_truncated, restored_entities;
    /* Leadership evidence for operators: who ordered the takeover, and who deposed us. */
    uint32_t promoted_by_node, promoted_by_entity, deposed_by_node;
    uint64_t deposed_at;
    /* Nodes that came up (mha_ftm_node_up): FENCE + ELECT to each at the next tick. */
    uint32_t fence_q[MHA_FTM_FENCE_Q];
    uint32_t fence_n;
    uint64_t fence_q_full;
} mha_ftm;
#define MHA_FTM_CKPT_RETRY_NS 1000000000ull /* resend an unanswered save or restore */
/* One registry record in the FTM's checkpoint: id, node, home, standby, sup (32 each),
 * kind, the on-exit, on-crash and on-hang policies (8 each), then the recovery in
 * progress: state (8) and target node (32), then the stale node (32).  30 fit in a save;
 * past that the save is truncated and counted (self_truncated). */
#define MHA_FTM_CKPT_REC 33u

extern const mk_element_ops mha_ftm_ops;
extern const uint16_t mha_ftm_subs[];
extern const size_t mha_ftm_nsubs;
/* Defaults from RFC 13 (3 restarts in 10 min), back-off 100 ms .. 30 s, budget 8 / 60 s. */
mha_ftm_policy mha_ftm_default_policy(void);
/* Decision log, oldest first: i in 0..mha_ftm_log_count()-1.  The log keeps the newest
 * MHA_FTM_LOG decisions; log_total counts all of them. */
unsigned mha_ftm_log_count(const mha_ftm *s);
const mha_decision *mha_ftm_log_at(const mha_ftm *s, unsigned i);
const mha_ftm_ent *mha_ftm_entity(const mha_ftm *s, uint32_t id);
/* Host side: `node` came up (a link to it was established).  An active FTM sends it
 * FENCE + ELECT at its next tick (deadline now), so that a node that was away (a
 * restarted FTM node with a stale configured epoch among them) learns the epoch and where
 * the FTM is before it acts, without waiting for it to register (MSG-MGMT-14, 16).  A
 * non-active FTM ignores it (0).  MK_ELIMIT when MHA_FTM_FENCE_Q nodes already wait
 * (counted; the node is still fenced when it registers). */
int mha_ftm_node_up(mha_ftm *s, uint32_t node);
const char *mha_action_name(int a);
const char *mha_trigger_name(int t);
/* One decision as a line for operators (msgrctl, logs): when, which entity, why (trigger,
 * reason, reporter), what was done, and the counters it was judged on.  Returns the
 * length snprintf would have written. */
int mha_decision_format(const mha_decision *d, char *buf, size_t cap);
/* STATS_GET with group 0 (all) or 7 (management) is answered by the FTM with a
 * STATS_REPLY(7) block of props "ftm.<counter>" = decimal value (RFC 10.5), and by a
 * heartbeat watcher with "hb.<counter>", detection_bound_ms among them. */

/* REGISTER block for a supervised entity, as the FTM reads it: entity_id(32) then props
 * "kind" (proc|iop|node), "node", "sup" (supervisor entity), "standby" (node).  An entity
 * that may register from its standby node (after a failover, to an FTM that has not
 * heard of it) adds "home" (mha_props_add), or the FTM takes the node it first saw. */
int mha_register_block(uint8_t *buf, size_t cap, uint32_t entity, const char *kind,
                       uint32_t node, uint32_t sup, uint32_t standby);
/* Append the per-class policy (enum mha_pol; DEFAULT adds nothing) to a REGISTER block of
 * *len bytes built by mha_register_block; *len grows. */
int mha_register_policy(uint8_t *buf, size_t cap, size_t *len, uint8_t on_exit, uint8_t on_crash,
                        uint8_t on_hang);

/* ============================ execution supervisor ============================= */
/* The supervisor of one node (entity 4): launches the processes it is configured for,
 * learns from its host how they end, reports each failure to the FTM (PROC_FAILED with
 * the class) and carries out the FTM's RECOVER, PROC_START and PROC_STOP.  It owns no OS
 * resource: the host (msgrd, or a simulation) drains *actions* (start, kill) and calls
 * back with what happened (started, exited).  A process is configured on its home node
 * and on its standby node, so that a failover finds it configured.  Hangs are found by a
 * heartbeat watcher (mha_hb) in the same kernel, which the host points at each process
 * it starts. */
#define MHA_EXEC_MAX     32u
#define MHA_EXEC_ACTIONS 64u
#define MHA_EXEC_REPORTS 32u
#define MHA_EXEC_NAME    31u
#define MHA_EXEC_CMD     127u

enum mha_exec_act {
    MHA_EXEC_START = 1, /* launch `cmd`; restore = start from the checkpoint */
    MHA_EXEC_KILL = 2,  /* SIGKILL the instance (hung, or stopped by order) */
};
typedef struct mha_exec_action {
    uint8_t type, restore;
    uint32_t entity;
} mha_exec_action;

enum mha_exec_pstate { MHA_X_IDLE = 0, MHA_X_STARTING, MHA_X_RUNNING, MHA_X_STOPPING };

typedef struct mha_exec_proc {
    bool used;
    uint8_t state;        /* enum mha_exec_pstate */
    bool expect_exit;     /* we killed it: its exit is not a failure */
    uint32_t entity, home, standby;
    char name[MHA_EXEC_NAME + 1];
    char cmd[MHA_EXEC_CMD + 1];
    uint8_t on_exit, on_crash, on_hang; /* enum mha_pol, told to the FTM at REGISTER */
    uint64_t started_at, exited_at;
    uint32_t starts, exits, crashes, kills;
    int last_status;      /* as the host reported it (exit code, or -signal) */
} mha_exec_proc;

typedef struct mha_exec_config {
    uint32_t ftm_node;    /* where PROC_FAILED goes (entity 1); follows ELECT */
} mha_exec_config;

typedef struct mha_exec {
    mha_exec_config cfg;
    uint32_t node;
    mha_exec_proc p[MHA_EXEC_MAX];
    mha_exec_action act[MHA_EXEC_ACTIONS];
    uint32_t act_head, act_n;
    struct { uint32_t entity; uint16_t reason; } rep[MHA_EXEC_REPORTS];
    uint32_t rep_n;
    uint64_t rep_due;     /* reports wait for the next tick (hosts call from outside) */
    uint32_t last_epoch;  /* epoch of the newest command carried out */
    uint64_t reports, recovers, starts_ordered, stops, act_overflow, rep_overflow, unknown;
} mha_exec;

extern const mk_element_ops mha_exec_ops;
extern const uint16_t mha_exec_subs[];
extern const size_t mha_exec_nsubs;
/* Host side.  Configure a process (name and cmd are copied; policies enum mha_pol). */
int mha_exec_add(mha_exec *s, uint32_t entity, const char *name, const char *cmd, uint32_t home,
                 uint32_t standby, uint8_t on_exit, uint8_t on_crash, uint8_t on_hang);
const mha_exec_proc *mha_exec_find(const mha_exec *s, uint32_t entity);
/* Queue a START for every configured process whose home is this node and that is idle. */
int mha_exec_boot(mha_exec *s);
/* The host launched it (after a START action). */
int mha_exec_started(mha_exec *s, uint32_t entity, uint64_t now);
/* The host reaped it: status >= 0 is an exit code, < 0 a signal number negated.  Exit 0
 * is a clean exit, anything else a crash; an exit the supervisor caused is neither.  The
 * report goes out at the next tick (deadline = now). */
int mha_exec_exited(mha_exec *s, uint32_t entity, int status, uint64_t now);
bool mha_exec_action_pop(mha_exec *s, mha_exec_action *a);
/* The host stops the process itself (its node shuts down, or is quiesced for a planned
 * hot-swap extraction): the exit that follows is the supervisor's doing and is not
 * reported (MSG-MGMT-22).  MK_ENOENT if not configured. */
int mha_exec_stopping(mha_exec *s, uint32_t entity);

/* ================================== IOP ======================================= */
enum mha_iop_state {
    MHA_IOP_INITIALIZING = 0, MHA_IOP_RESET = 1, MHA_IOP_HOLD = 2, MHA_IOP_READY = 3,
    MHA_IOP_OPERATIONAL = 4, MHA_IOP_FAILED = 5, MHA_IOP_FAULTED = 6,
};
#define MHA_IOP_NSTATES 7
enum mha_iop_event {
    MHA_IOP_EV_LINK_UP = 0,       /* IOP reachable, reports HOLD */
    MHA_IOP_EV_CONFIGURE,
    MHA_IOP_EV_BOOT,
    MHA_IOP_EV_SERVE,             /* IOP reports OPERATIONAL */
    MHA_IOP_EV_QUIESCE,
    MHA_IOP_EV_EXTRACT_PLANNED,   /* quiesce, drain, withdraw: completes in HOLD */
    MHA_IOP_EV_EXTRACT_SURPRISE,  /* board pulled without warning */
    MHA_IOP_EV_INSERT,            /* a board appeared in the (empty) slot */
    MHA_IOP_EV_RESET,
    MHA_IOP_EV_RESET_DONE,        /* new incarnation seen */
    MHA_IOP_EV_HB_LOSS,           /* heartbeats missed, peer lost, critical failure */
    MHA_IOP_EV_FAULT,             /* hardware fault */
    MHA_IOP_EV_CLEAR,             /* operator clears FAULTED */
};
#define MHA_IOP_NEVENTS 13

typedef struct mha_iop {
    uint8_t state;
    bool present;     /* a board is in the slot */
    bool configured;  /* CONFIGURE applied since the last reset */
    uint8_t last_event;
    int last_error;
    uint32_t recovery_limit;      /* FAILED->RESET allowed this many times per window */
    uint64_t recovery_window_ns;
    uint64_t recov[8];
    uint32_t nrecov;
    uint64_t since;               /* time of the last transition */
    uint64_t transitions, rejected;
    uint32_t mgr_node, mgr_entity; /* where IOP_STATE reports go (element only) */
} mha_iop;

typedef struct mha_iop_config {
    uint32_t recovery_limit;      /* 0 = RFC 13 default, 3 */
    uint64_t recovery_window_ns;  /* 0 = 10 min */
    uint32_t mgr_node, mgr_entity;
} mha_iop_config;

void mha_iop_init(mha_iop *s, const mha_iop_config *cfg, uint64_t now);
/* Apply one event.  Returns the new state (>= 0), or MK_ESTATE for an illegal
 * transition (state unchanged, s->rejected counted). */
int mha_iop_apply(mha_iop *s, int ev, uint64_t now);
/* The pure table: the state `ev` leads to from `st` (ignoring presence, configuration and
 * the recovery limit), or -1 if illegal. */
int mha_iop_next(int st, int ev);
const char *mha_iop_state_name(int st);
const char *mha_iop_event_name(int ev);
/* Element: one IOP as seen by the kernel hosting it.  CONFIGURE, BOOT, RESET, QUIESCE,
 * EXTRACT (arg 0 planned, 1 surprise), INSERT and IOP_STATE reports drive the table;
 * every change is reported with IOP_STATE to mgr_node/mgr_entity; an illegal one fails
 * the message (ERROR reply, MP_R_REFUSED). */
extern const mk_element_ops mha_iop_ops;
extern const uint16_t mha_iop_subs[];
extern const size_t mha_iop_nsubs;

/* ================================ checkpoints ================================== */
#define MHA_CKPT_MAX      32u
/* A save must fit one outbound MGMT payload (MK_OUT_PAYLOAD_MAX): block header (4) +
 * ckpt_id, path, cseq (12) + state.  1000 leaves room and holds an FTM registry of 30. */
#define MHA_CKPT_BLOB_MAX 1000u

typedef struct mha_ckpt_rec {
    bool used, replicated;
    bool repl_refused;     /* the replica refused this save (it holds a newer one): no retry */
    uint32_t repl_corr;    /* corr_id of the copy sent to the replica (matches its ACK) */
    uint64_t repl_sent_at; /* a copy unconfirmed for MHA_CKPT_REPL_RETRY_NS is sent again */
    uint32_t ckpt_id, path, cseq;
    uint32_t owner_node, owner_entity;
    uint64_t saved_at;
    uint32_t version;  /* saves accepted for this id */
    uint32_t epoch;    /* epoch of the message that saved it (fencing of saves) */
    uint16_t len;
    uint8_t blob[MHA_CKPT_BLOB_MAX];
} mha_ckpt_rec;

typedef struct mha_ckpt_config {
    uint32_t replica_node, replica_entity; /* 0/0: no replica (this is the replica) */
} mha_ckpt_config;

typedef struct mha_ckpt {
    mha_ckpt_config cfg;
    uint32_t next_corr;
    mha_ckpt_rec rec[MHA_CKPT_MAX];
    uint64_t saves, dup_saves, stale, too_big, full, restores, misses, replicated, repl_sent;
    uint64_t fenced; /* saves refused: older epoch than the stored record's */
    uint64_t repl_retries, repl_refused; /* copies sent again; copies the replica refused */
    uint64_t refills; /* times the replica came back and was sent every record again */
    bool refill_due;  /* mha_ckpt_replica_up: resend everything at the next tick */
} mha_ckpt;
/* A copy that the replica has not confirmed (it was down, or the copy was lost) is sent
 * again after this long, until it is confirmed or refused: a checkpoint saved while the
 * replica was away must still reach it, or a standby restoring from the replica would get
 * an older state (an FTM that takes over, an older registry). */
#define MHA_CKPT_REPL_RETRY_NS 1000000000ull

extern const mk_element_ops mha_ckpt_ops;
extern const uint16_t mha_ckpt_subs[];
extern const size_t mha_ckpt_nsubs;
const mha_ckpt_rec *mha_ckpt_get(const mha_ckpt *s, uint32_t ckpt_id);
/* Host side: `node` came up (a link to it was established).  If it is the replica's node,
 * the replica may have restarted with an empty store, so every record is owed to it again
 * (confirmed or refused before or not) and sent at the next tick (deadline now); the
 * replica's fencing and ordering rules still apply to each copy.  Returns the number of
 * records owed again (0 for any other node). */
int mha_ckpt_replica_up(mha_ckpt *s, uint32_t node);
/* CKPT_SAVE / CKPT_RESTORE block: ckpt_id(32) path(32) cseq(32) state. */
int mha_ckpt_block(uint8_t *buf, size_t cap, uint32_t id, uint32_t path, uint32_t cseq,
                   const void *state, size_t len);
/* After restoring a checkpoint taken at (ckpt_path, ckpt_cseq): must a message with
 * (path, cseq) be delivered to the restored entity?  False for what the state already
 * reflects (same path, cseq <= ckpt_cseq: skip), true for everything after it (replay). */
bool mha_ckpt_should_deliver(uint32_t ckpt_path, uint32_t ckpt_cseq, uint32_t path,
                             uint32_t cseq);

#ifdef __cplusplus
}
#endif
#endif /* MHA_MHA_H */
