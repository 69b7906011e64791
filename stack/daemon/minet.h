/*
 * minet.h — MINET inside msgrd (prefix msgrd_minet_): the node's TAP device bridged into
 * the Messenger domain on the daemon's own node (no second identity), and the
 * `msgrctl minet [stats]` views of its MAC table and counters.
 *
 * The switch, the TAP shell and the core glue are stack/minet's (mnet.h); this file only
 * wires them to msgrd: the TAP fd and a one-second ageing timer in the runtime's epoll
 * loop, the core's events, the end of each loop turn, and the control hook.
 *
 * Order in msgrd: create after mrt_create and before the bearers (so no PEER_UP is
 * missed) and before privileges are dropped (the TAP needs CAP_NET_ADMIN); destroy
 * before mrt_destroy.
 */
#ifndef MSGRD_MINET_H
#define MSGRD_MINET_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "rt.h"

typedef struct msgrd_minet msgrd_minet;

/* Opens the TAP (name, MAC, MTU, addresses from cfg) and starts the port.  On failure
 * returns a negative MNET_E* code and writes the reason into err. */
int msgrd_minet_create(mrt *rt, const msgrd_conf_minet *cfg, uint32_t node_id, msgrd_minet **out,
                       char *err, size_t errlen);
/* Every core event (from msgrd's event callback; does not call into the node).
 * NULL m: nothing. */
void msgrd_minet_event(msgrd_minet *m, const mc_event *ev);
/* After every mrt_run_once(): a frame held by backpressure goes out once the core's
 * queue has room, and the TAP is read again.  NULL m: nothing. */
void msgrd_minet_turn(msgrd_minet *m);
/* msgrctl minet [show] | minet stats (srv.h msrv_ctl_ext_fn); MC_ENOENT for any other
 * object. */
int msgrd_minet_ctl(void *m, const void *req, int json, char *out, size_t cap);
void msgrd_minet_destroy(msgrd_minet *m);

#endif
