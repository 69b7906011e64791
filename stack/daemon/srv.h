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
/* Who may attach to the listening socket, checked with SO_PEERCRED/SO_PEERGROUPS on
 * every connection on top of the socket file's mode: root, the daemon's own user, uid
 * and members of gid ((uid_t)-1 / (gid_t)-1 = nobody by that rule).  Without this call
 * the file mode alone decides.  Refusals are closed at once and counted (stats ipc). */
void msrv_set_access(msrv *s, uid_t uid, gid_t gid);
/* Per-client hard limits: a client that reaches one gets MC_ELIMIT (counted) and the
 * other clients are unaffected. */
#define MSRV_MAX_DEVS_PER_CLIENT 256u
#define MSRV_MAX_PATHS_PER_CLIENT 1024u
/* Serve one already-connected SEQPACKET fd (the service owns it from now on). */
int msrv_add_client(msrv *s, int fd);
/* msgrctl objects that the service does not know (e.g. msgrd's HA services: ha, proc,
 * iop; MINET: minet) go to these hooks, tried in the order set (up to 4).  A hook
 * returns bytes written into out (NUL-terminated), a negative error with a message in
 * out, or MC_ENOENT when the object is not its own either.
 * `req` is the const mipc_req * of the request (ipc.h). */
typedef int (*msrv_ctl_ext_fn)(void *user, const void *req, int json, char *out, size_t cap);
void msrv_set_ctl_ext(msrv *s, msrv_ctl_ext_fn fn, void *user);
/* Closes clients and the listening socket (and unlinks it); the runtime is not owned. */
void msrv_destroy(msrv *s);

#endif
