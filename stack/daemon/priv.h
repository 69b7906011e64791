/*
 * priv.h — msgrd's least privilege (prefix mpriv_): after start-up as root (raw sockets,
 * the PCIe shim, TAP devices and the client socket opened), become an ordinary user and
 * keep only the capabilities the running daemon still uses.
 *
 * Why not keep root: the daemon parses bytes from every bearer and from every local
 * client; a bug there must not hand out root.  Nothing the loop does needs it: open
 * sockets and mappings keep working after setuid, and the one run-time action that
 * opens a raw socket (`msgrctl bearer add eth:...`) is refused unless the operator kept
 * net_raw on purpose (keep_caps).
 */
#ifndef MSGRD_PRIV_H
#define MSGRD_PRIV_H

#include <stdint.h>
#include <sys/types.h>

enum mpriv_err {
    MPRIV_OK = 0,
    MPRIV_EUSER = -1,    /* unknown user or group */
    MPRIV_ECAPS = -2,    /* unknown capability name */
    MPRIV_ENOTROOT = -3, /* asked to switch user but not started as root */
    MPRIV_ESYS = -4,     /* a system call failed (errno kept) */
    MPRIV_ECHECK = -5,   /* after the drop, root could be regained: refuse to run */
};
const char *mpriv_strerror(int err);

typedef struct mpriv {
    uid_t uid;
    gid_t gid;
    char name[64];
    uint64_t keep; /* capability bits (1 << CAP_*) kept in permitted and effective */
    int on;        /* 0: no user configured, nothing to do */
} mpriv;

/* Resolves user/group/keep_caps before anything is opened, so that a bad name fails at
 * once.  user NULL or "" = stay as started (group and caps then must be empty too). */
int mpriv_resolve(mpriv *p, const char *user, const char *group, const char *caps);

/* The drop itself: supplementary groups of the user, gid, uid (real, effective, saved),
 * bounding set and ambient set cleared but for p->keep, permitted = effective = p->keep,
 * no_new_privs.  Then checks that setuid(0) fails.  Call once, single-threaded. */
int mpriv_drop(const mpriv *p);

#endif
