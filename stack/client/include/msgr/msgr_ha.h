/*
 * msgr_ha.h — the application side of msgrd's execution supervisor (RFC 10): heartbeats,
 * registration with the FTM, and checkpoints.
 *
 * A process that msgrd starts from an [exec] section finds in its environment a
 * management channel to the daemon (MSGR_HA_FD, a SOCK_SEQPACKET socket that carries
 * MGMT frames) and its entity id (MSGR_HA_ENTITY).  msgr_ha_open() attaches to it and runs
 * the process's own management microkernel (entity MSGR_HA_ENTITY, ARMOR model): it
 * answers the supervisor's HEARTBEATs, so a process that stops serving its loop (SIGSTOP,
 * a deadlock) is declared hung after the published detection bound.
 *
 * Typical use:
 *
 *     msgr_ha *h;
 *     if (msgr_ha_open(&h) == 0) {
 *         size_t n;
 *         if (msgr_checkpoint_restore(h, &state, sizeof state, &n, 2000) == 0) ... resume
 *         msgr_ha_register(h, 2000);      // "I am back": the FTM ends the recovery
 *     }
 *     for (;;) {                          // the application's loop
 *         poll(... msgr_ha_fd(h) ...);    // or call msgr_ha_poll(h, timeout)
 *         msgr_ha_poll(h, 0);
 *         ... work ...
 *         msgr_checkpoint_save(h, &state, sizeof state, 2000);
 *     }
 *
 * Waiting calls (save, restore, register) keep answering heartbeats while they wait.
 * Not thread-safe: one thread uses one msgr_ha.
 */
#ifndef MSGR_MSGR_HA_H
#define MSGR_MSGR_HA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum msgr_ha_err {
    MSGR_HA_OK = 0,
    MSGR_HA_ENOTSUP = -1,  /* not started by msgrd's supervisor (no MSGR_HA_FD) */
    MSGR_HA_EINVAL = -2,
    MSGR_HA_EOS = -3,      /* a system call failed (errno kept) */
    MSGR_HA_ETIMEDOUT = -4,
    MSGR_HA_ENOENT = -5,   /* restore: nothing saved under this entity */
    MSGR_HA_EREFUSED = -6, /* the store refused (stale, fenced) or the FTM refused */
    MSGR_HA_ETOOBIG = -7,  /* state larger than MSGR_HA_STATE_MAX or the buffer */
    MSGR_HA_ECLOSED = -8,  /* the daemon closed the channel */
};
const char *msgr_ha_strerror(int err);

#define MSGR_HA_STATE_MAX 900u /* one checkpoint fits one MGMT message */

typedef struct msgr_ha msgr_ha;

int msgr_ha_open(msgr_ha **out);
/* Close the channel: "leaving".  The supervisor stops heartbeating this process, so a
 * slow exit (atexit work, a sanitizer's leak check) is not taken for a hang. */
void msgr_ha_close(msgr_ha *h);
uint32_t msgr_ha_entity(const msgr_ha *h);
/* True if the supervisor asked this instance to restore its checkpoint (RECOVER arg 1). */
int msgr_ha_restore_wanted(const msgr_ha *h);
/* The fd to poll (readable = call msgr_ha_poll). */
int msgr_ha_fd(const msgr_ha *h);
/* Handle what arrived, waiting up to timeout_ms (0 = do not wait, -1 = forever).
 * Returns messages handled (>= 0) or an error. */
int msgr_ha_poll(msgr_ha *h, int timeout_ms);
/* REGISTER with the FTM (policy and standby as msgrd's configuration says). */
int msgr_ha_register(msgr_ha *h, int timeout_ms);
/* Save state (at most MSGR_HA_STATE_MAX bytes) under this entity's id; returns once the
 * store acknowledged it (CKPT_ACK). */
int msgr_checkpoint_save(msgr_ha *h, const void *state, size_t len, int timeout_ms);
/* Fetch the newest saved state: 0 with *len set, MSGR_HA_ENOENT if none. */
int msgr_checkpoint_restore(msgr_ha *h, void *buf, size_t cap, size_t *len, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
