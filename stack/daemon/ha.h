/*
 * ha.h — msgrd's HA services (prefix mhd_): the thin OS shell around the management
 * microkernel and the HA elements of stack/ha (RFC 10, ARMOR model).
 *
 * On every node msgrd hosts three management entities, each an mk_kernel:
 *   entity 0  the node microkernel: heartbeat responder, checkpoint store;
 *   entity 1  the fault-tolerance manager (when [ha] ftm = active|standby);
 *   entity 4  the execution supervisor (mha_exec) and the heartbeat watcher (mha_hb) that
 *             watches the processes it starts;
 *   entity 2  the FTM's heartbeat monitor, with [ha] watch_ftm = yes (ha_watch.h);
 *   entity 3  the IOP manager, when [iop NAME] sections exist (ha_iop.h: boots IOP msgrds
 *             over the PCIe shim and drives their RFC 10.7 lifecycle and hot swap).
 * MGMT on channel 0 from peers reaches them through the runtime's events; what they emit
 * goes out over the node's links (mc_send), to the local entities, or to the supervised
 * processes.  Each process started from an [exec] section gets a SOCK_SEQPACKET
 * management channel (fd 3, MSGR_HA_FD) carrying MGMT frames: it runs its own microkernel
 * there (libmsgr's msgr_ha.h) and answers heartbeats, registers and checkpoints.
 *
 * The shell does only the OS work that the sans-I/O elements ask for: fork/exec, SIGKILL,
 * reaping (pidfd), a timerfd at the kernels' next deadline.  Detection and decisions are
 * the elements': a crash or exit is the supervisor's report, a hang the watcher's, a
 * restart the FTM's RECOVER.
 */
#ifndef MSGRD_HA_H
#define MSGRD_HA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "rt.h"

typedef struct mhd mhd;

/* Builds the kernels and elements from cfg (copied).  Nothing starts yet. */
int mhd_create(mrt *rt, const msgrd_conf_ha *cfg, uint32_t node_id, const char *socket_path,
               mhd **out);
/* Registers the configured processes with the FTM and launches those whose home is here. */
int mhd_start(mhd *h);
/* The runtime's events (called from msgrd's event callback; does not call into the node). */
void mhd_event(mhd *h, const mc_event *ev);
/* msgrctl ha | proc | iop (srv.h msrv_ctl_ext_fn). */
int mhd_ctl(void *h, const void *req, int json, char *out, size_t cap);
/* A stop in two steps (msgrd on SIGTERM; also a planned IOP extraction): mhd_quiesce
 * sends SIGTERM to every supervised process (their exits are not failures) and returns
 * how many; the caller runs the loop until mhd_quiesced (all reaped), bounded. */
int mhd_quiesce(mhd *h);
bool mhd_quiesced(const mhd *h);
/* Stops the supervised processes (SIGTERM, then SIGKILL after 1 s) and frees everything. */
void mhd_destroy(mhd *h);

#endif
