/*
 * srv.h — the node service (prefix msrv_): serves libmsgr clients and msgrctl over
 * SOCK_SEQPACKET connections (ipc.h) on top of one runtime (rt.h).
 *
 * Used by msgrd (listening socket) and by libmsgr's embedded mode (one socketpair end
 * handed to msrv_add_client), so both modes run the very same request handling.
 *
 * Wiring: create the service first, give msrv_event/srv as the runtime's event
 * callback, then msrv_set_rt().  Everything runs inside mrt_run_once().
 */
#ifndef MSRV_SRV_H
#define MSRV_SRV_H

#include <stdint.h>
#include <sys/types.h>

#include "rt.h"

typedef struct msrv msrv;

int msrv_create(msrv **out);
void msrv_set_rt(msrv *s, mrt *rt);
void msrv_event(void *srv, const mc_event *ev);
/* Listen on a Unix SOCK_SEQPACKET socket; mode/uid/gid applied to the socket file
 * (uid/gid (uid_t)-1 = unchanged).  Who may attach is decided by those. */
int msrv_listen(msrv *s, const char *path, mode_t mode, uid_t uid, gid_t gid);
/* Serve one already-connected SEQPACKET fd (the service owns it from now on). */
int msrv_add_client(msrv *s, int fd);
/* Closes clients and the listening socket (and unlinks it); the runtime is not owned. */
void msrv_destroy(msrv *s);

#endif
