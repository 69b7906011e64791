/*
 * ha_iop.h — msgrd's IOP manager (entity 3, RFC 10.7; prefix mhd_iop_): the OS shell that
 * drives the IOP lifecycle table of stack/ha (mha_iop) for each [iop NAME] of the
 * configuration.  An IOP is emulated by a child msgrd that this msgrd starts, attached
 * over the PCIe shim bearer (host side opened here, `role=iop` handed to the child), with
 * its configuration file handed on its command line.
 *
 * ha.c owns it: it forwards the runtime's peer events, routes the reports the manager
 * makes to the FTM, and renders `msgrctl iop` through mhd_iop_ctl.
 */
#ifndef MSGRD_HA_IOP_H
#define MSGRD_HA_IOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "mha.h"
#include "rt.h"

typedef struct mhd_iopm mhd_iopm;

/* What the manager needs from its host (ha.c). */
typedef struct mhd_iop_host {
    void *user;
    /* PROC_FAILED(node) to the FTM from entity 3 (RFC 10.10 "Node loss"): reason
     * MP_R_APP_CLOSE after a planned extraction (quiesced, last checkpoints
     * acknowledged), MP_R_PEER_DOWN for a surprise loss.  Called outside the core's
     * callbacks only. */
    void (*report_loss)(void *user, uint32_t node, uint16_t reason);
} mhd_iop_host;

/* Opens the host side of each IOP's shim and sets every IOP to HOLD (board present,
 * window open).  host_socket: this msgrd's socket (the IOPs' sockets default beside it). */
int mhd_iop_create(mrt *rt, const msgrd_conf_ha *cfg, uint32_t node, const char *host_socket,
                   const mhd_iop_host *host, mhd_iopm **out);
/* Entity 3's microkernel (NULL for a NULL manager): ha.c drains its outbox (replies). */
mk_kernel *mhd_iop_kernel(const mhd_iopm *m);
/* MGMT addressed to entity 3 (or to every entity): dispatched, and the IOP_STATE reports
 * of the boards applied (a board reports OPERATIONAL once it serves).  Safe inside the
 * core's callback: it sends nothing itself.  NULL manager: nothing. */
void mhd_iop_input(mhd_iopm *m, uint32_t src_node, const mp_mgmt *v, uint64_t now);
/* Peer up/down from the runtime (called inside the core's callback: only notes it).
 * True for the loss of a board that the manager itself is taking out (extraction, reset)
 * or has already reported: the manager reports that loss, with its cause, and the
 * daemon's generic node-loss report would only say less. */
bool mhd_iop_event(mhd_iopm *m, const mc_event *ev);
/* `msgrctl iop configure NAME [FILE] | boot NAME | reset NAME | extract NAME
 * [--surprise] | insert NAME | clear NAME` (req: const mipc_req *): bytes written into
 * out, or a negative error with its message in out.  Each starts its steps and returns;
 * `msgrctl iop` shows how far they got.  m may be NULL (no [iop]: refused). */
int mhd_iop_ctl(mhd_iopm *m, const void *req, int json, char *out, size_t cap);
/* The IOPs into out, as a table, or (json) as the members `"entity3":{...}|null,
 * "iops":[...]` of an object; returns bytes written.  ha.c adds what the FTM knows. */
size_t mhd_iop_list(mhd_iopm *m, int json, char *out, size_t cap);
/* SIGKILLs every IOP's process group (the host is going away: so is the bus) and frees. */
void mhd_iop_destroy(mhd_iopm *m);

#endif
