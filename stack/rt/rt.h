/*
 * rt.h — the node runtime (prefix mrt_): one sans-I/O mc_node plus its bearers, driven
 * by an epoll loop on CLOCK_MONOTONIC.
 *
 * This is the shared runtime for msgrd (the node daemon), libmsgr's embedded mode,
 * the benchmarks and the interop harness: every program that runs a real node on real
 * bearers goes through it, so the loop, the clock, the RNG and the bearer glue exist
 * once.
 *
 * What it does:
 *   - creates the mc_node with a counting malloc allocator, a getrandom() RNG and
 *     CLOCK_MONOTONIC nanoseconds as the core's time;
 *   - opens bearers from spec strings ("udp:bind=127.0.0.1:9000,peer=127.0.0.1:9001",
 *     "eth:ifname=veth0", "serial:path=/dev/pts/3", "pcie:name=x,role=host"), attaches
 *     each to the core and puts its fd in the epoll set;
 *   - keeps a timerfd armed at mc_next_deadline(), so mrt_fd() alone tells a caller's
 *     own loop when to call mrt_run_once();
 *   - hosts extra fds of the embedding program (sockets, signalfd) in the same loop.
 *
 * Runtime keys accepted in a bearer spec besides the bearer's own (they are removed
 * before the spec reaches mb_open_spec): prio=0..31, standby=0|1, tolerance=MS,
 * window=N, discovery=0|1, probe=MS (PROBE_INTERVAL asked of the peer, RFC 4.2).
 *
 * Events from the core (mc_event) go to the configured callback synchronously, like
 * mc.h's: the callback must not call into the node; it queues work and does it after
 * mrt_run_once() returns (mrt_post() helps: posted work runs at the end of the turn).
 *
 * Errors: 0 / non-negative on success, negative on failure.  Codes -1..-99 are the
 * core's MC_E*, -101..-199 are a bearer's MB_E* minus 100, -200.. are MRT_E* below;
 * mrt_strerror() names all of them.
 *
 * Single-threaded: one mrt is driven by one thread.
 */
#ifndef MRT_RT_H
#define MRT_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bearer.h"
#include "mc.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mrt_err {
    MRT_EOS = -200,      /* an OS call failed (errno logged) */
    MRT_ENOBEARER = -201, /* no such bearer slot */
    MRT_EFULL = -202,    /* MRT_MAX_BEARERS reached */
    MRT_ESPEC = -203,    /* malformed bearer spec */
};
#define MRT_EMB_BASE (-100) /* a bearer error e is returned as MRT_EMB_BASE + e */
const char *mrt_strerror(int err);

#define MRT_MAX_BEARERS 16

/* ---- Logging: levelled, per module, settable at run time ------------------------------ */
enum mrt_level { MRT_LOG_ERR = 0, MRT_LOG_WARN, MRT_LOG_INFO, MRT_LOG_DEBUG };
enum mrt_module { MRT_M_RT = 0, MRT_M_BEARER, MRT_M_LINK, MRT_M_NAME, MRT_M_PATH, MRT_M_IPC,
                  MRT_M_COUNT };
const char *mrt_module_name(int m);
int mrt_module_find(const char *name);   /* index or -1 */
int mrt_level_find(const char *name);    /* "err|warn|info|debug" or digit; -1 if bad */
const char *mrt_level_name(int level);
void mrt_log_set_level(int module, int level); /* module -1 = all */
int mrt_log_get_level(int module);
bool mrt_log_on(int module, int level);
/* To stderr: "msgrd[pid] LEVEL module: text".  The prefix is set by mrt_log_ident(). */
void mrt_log(int module, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void mrt_log_ident(const char *ident);

/* ---- Runtime --------------------------------------------------------------------------- */
typedef void (*mrt_event_fn)(void *user, const mc_event *ev);

typedef struct mrt_config {
    uint32_t node_id;       /* required */
    uint32_t domain;        /* default 0 */
    uint16_t tolerance_ms;  /* 0 = core default (500) */
    uint16_t window;        /* 0 = core default */
    size_t mem_limit;       /* 0 = core default */
    mc_crypto crypto;       /* secured links: passed to the core as is (zero = plain);
                             * msgrd fills it from stack/sec (ms_core_crypto) */
    mrt_event_fn event;     /* may be NULL */
    void *user;
} mrt_config;

typedef struct mrt mrt;

int mrt_create(const mrt_config *cfg, mrt **out);
/* Closes every bearer, capture and the node; extra fds are not closed (not owned). */
void mrt_destroy(mrt *rt);
mc_node *mrt_node(mrt *rt);
/* CLOCK_MONOTONIC in ns: the time base of the node. */
uint64_t mrt_now(void);

/* Open and attach a bearer.  Returns its id (the core's bearer id, >= 0) or an error. */
int mrt_add_bearer(mrt *rt, const char *spec);
/* Detach (links reset, traffic fails over) and close. */
int mrt_remove_bearer(mrt *rt, int id);
int mrt_bearer_enable(mrt *rt, int id, bool on);

typedef struct mrt_bearer_info {
    int id;
    char spec[256];          /* as given, runtime keys included */
    const char *type;        /* "udp", "eth", ... */
    bool enabled, carrier;
    size_t mtu;
    struct mb_addr local;
    struct mb_stats stats;
    struct mb_bearer *mb;    /* for mb_* extras; owned by the runtime */
    bool capturing;
} mrt_bearer_info;
/* Visit bearers in id order; fn returns non-zero to stop.  Returns bearers visited. */
int mrt_foreach_bearer(mrt *rt, int (*fn)(void *user, const mrt_bearer_info *bi), void *user);
int mrt_bearer_get(mrt *rt, int id, mrt_bearer_info *out);

/* Capture bearer `id` (-1 = every bearer) to pcap `path`; with several bearers each
 * gets "path.b<ID>" because one pcap file holds one link type.  Returns files opened. */
int mrt_capture_start(mrt *rt, const char *path, int id);
int mrt_capture_stop(mrt *rt); /* returns records written */

/* The loop.  mrt_fd() is an epoll fd that becomes readable whenever mrt_run_once()
 * has work (a bearer, the timer, an extra fd). */
int mrt_fd(const mrt *rt);
/* Wait up to timeout_ms (-1 = forever, 0 = poll) and dispatch everything ready, run due
 * timers, flush, run posted work, re-arm the timer.  Returns events handled or error. */
int mrt_run_once(mrt *rt, int timeout_ms);
/* After API calls on mrt_node() outside the loop: transmit now and re-arm the timer. */
int mrt_flush(mrt *rt);

typedef void (*mrt_fd_fn)(void *user, int fd, uint32_t events);
int mrt_add_fd(mrt *rt, int fd, uint32_t events, mrt_fd_fn fn, void *user);
int mrt_mod_fd(mrt *rt, int fd, uint32_t events);
int mrt_del_fd(mrt *rt, int fd);

/* Call fn(user) at the end of every turn of mrt_run_once(), outside every callback
 * (a service re-checks what the turn may have changed, e.g. credit returned by a frame
 * the core consumed silently).  One hook; NULL removes it. */
void mrt_set_turn_hook(mrt *rt, void (*fn)(void *user), void *user);

/* Run fn(user) at the end of the current (or next) turn, outside every callback. */
int mrt_post(mrt *rt, void (*fn)(void *user), void *user);

#ifdef __cplusplus
}
#endif
#endif /* MRT_RT_H */
