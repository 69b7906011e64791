/*
 * priv.c — msgrd drops root (priv.h).  Uses the raw capget/capset system calls rather
 * than libcap: three calls do not justify a run-time dependency for every node.
 */
#define _GNU_SOURCE
#include "priv.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *mpriv_strerror(int err)
{
    switch (err) {
    case MPRIV_OK:
        return "ok";
    case MPRIV_EUSER:
        return "unknown user or group";
    case MPRIV_ECAPS:
        return "unknown capability (keep_caps: net_raw, net_admin, net_bind_service)";
    case MPRIV_ENOTROOT:
        return "user/group given but msgrd was not started as root";
    case MPRIV_ESYS:
        return "system call failed";
    case MPRIV_ECHECK:
        return "root could be regained after the drop";
    default:
        return "unknown error";
    }
}

static const struct {
    const char *name;
    int cap;
} mpriv_caps[] = {
    {"net_raw", CAP_NET_RAW},                   /* AF_PACKET: eth bearers added at run time */
    {"net_admin", CAP_NET_ADMIN},               /* interface changes at run time (MINET) */
    {"net_bind_service", CAP_NET_BIND_SERVICE}, /* udp bearers on ports < 1024 */
};

int mpriv_resolve(mpriv *p, const char *user, const char *group, const char *caps)
{
    memset(p, 0, sizeof *p);
    if (caps && *caps && strcmp(caps, "none")) {
        char b[64];
        snprintf(b, sizeof b, "%s", caps);
        for (char *save = NULL, *t = strtok_r(b, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            size_t i;
            for (i = 0; i < sizeof mpriv_caps / sizeof mpriv_caps[0]; i++)
                if (!strcmp(t, mpriv_caps[i].name))
                    break;
            if (i == sizeof mpriv_caps / sizeof mpriv_caps[0])
                return MPRIV_ECAPS;
            p->keep |= 1ull << mpriv_caps[i].cap;
        }
    }
    if (!user || !*user)
        return (group && *group) || p->keep ? MPRIV_EUSER : MPRIV_OK;
    struct passwd *pw = getpwnam(user);
    if (!pw)
        return MPRIV_EUSER;
    p->uid = pw->pw_uid;
    p->gid = pw->pw_gid;
    snprintf(p->name, sizeof p->name, "%s", pw->pw_name);
    if (group && *group) {
        struct group *gr = getgrnam(group);
        if (!gr)
            return MPRIV_EUSER;
        p->gid = gr->gr_gid;
    }
    p->on = 1;
    return MPRIV_OK;
}

static int cap_set(uint64_t eff, uint64_t prm)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    d[0].effective = (uint32_t)eff;
    d[1].effective = (uint32_t)(eff >> 32);
    d[0].permitted = (uint32_t)prm;
    d[1].permitted = (uint32_t)(prm >> 32);
    return (int)syscall(SYS_capset, &h, d);
}

int mpriv_drop(const mpriv *p)
{
    if (!p->on)
        return MPRIV_OK;
    if (geteuid() != 0)
        return p->uid == geteuid() && !p->keep ? MPRIV_OK : MPRIV_ENOTROOT;
    /* Supplementary groups: the user's own (e.g. dialout for serial lines re-opened at
     * run time), never root's. */
    if (initgroups(p->name, p->gid) < 0)
        return MPRIV_ESYS;
    /* KEEPCAPS: permitted survives the uid change, so the kept capabilities (and
     * CAP_SETPCAP, needed just below to shrink the bounding set) are still there. */
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setresgid(p->gid, p->gid, p->gid) < 0 ||
        setresuid(p->uid, p->uid, p->uid) < 0)
        return MPRIV_ESYS;
    /* What we hold (a container may have less than everything): raising a capability
     * outside it would be EPERM. */
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0)
        return MPRIV_ESYS;
    uint64_t held = (uint64_t)d[0].permitted | (uint64_t)d[1].permitted << 32;
    if ((p->keep & ~held) != 0) {
        errno = EPERM; /* asked to keep what we never had */
        return MPRIV_ESYS;
    }
    if (cap_set(held & (1ull << CAP_SETPCAP), held) < 0)
        return MPRIV_ESYS;
    /* The bounding set: what the supervisor ([exec]) starts after the drop can never get
     * more, not even from a file capability.  The running kernel may know capabilities
     * this header does not: go until EINVAL. */
    for (int c = 0; c < 64; c++) {
        if (c <= CAP_LAST_CAP && (p->keep >> c & 1))
            continue;
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
            if (errno == EINVAL)
                break;
            return MPRIV_ESYS;
        }
    }
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); /* EINVAL before 4.3 */
    if (cap_set(p->keep, p->keep) < 0 || prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0 ||
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return MPRIV_ESYS;
    /* Trust but verify: a kernel or LSM quirk that left a way back is fatal. */
    if (p->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0))
        return MPRIV_ECHECK;
    return MPRIV_OK;
}
