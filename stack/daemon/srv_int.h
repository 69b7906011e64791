/* srv_int.h — the node service's internals, shared by srv.c and ctl.c only. */
#ifndef MSRV_SRV_INT_H
#define MSRV_SRV_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc.h"
#include "srv.h"

typedef struct outmsg {
    struct outmsg *next;
    uint32_t consume_path; /* 0, or the path whose message this is (consume when sent) */
    size_t len;
    uint8_t data[];
} outmsg;

typedef struct client {
    struct client *next;
    msrv *srv;
    int fd;
    uid_t uid;
    uint32_t mask;
    outmsg *oq, **oq_tail;
    size_t oq_bytes;
    bool dead;
    unsigned ndevs, npaths; /* devices it registered, paths it opened (MSRV_MAX_*) */
} client;

typedef struct dev {
    struct dev *next;
    client *c;
    uint32_t id;
    char name[128];
    uint16_t dtype;
    uint8_t rank, flags;
    bool published;
    uint8_t nprops;
    char key[MIPC_MAX_PROPS][32];
    char val[MIPC_MAX_PROPS][256];
    uint8_t vlen[MIPC_MAX_PROPS];
} dev;

typedef struct pth {
    struct pth *next;
    client *c;
    uint32_t id, dev, peer, peer_dev;
    bool group, want_writable, opener;
    uint8_t state;
    uint32_t consume; /* delivered to the client, not yet consumed in the core */
    uint64_t rx, tx;
} pth;

struct msrv {
    mrt *rt;
    int lfd;
    char lpath[108];
    client *clients;
    dev *devs;
    pth *paths;
    uint32_t next_dev;
    bool posted;
    uint32_t want_writable; /* paths waiting for credit: checked after every turn */
    uint64_t started;
    uint64_t ipc_bad, ipc_reqs, clients_total;
    /* msrv_set_access: who may attach besides root and the daemon's own user */
    bool access_set;
    uid_t allow_uid;
    gid_t allow_gid;
    /* Counted refusals (msgrctl stats: ipc) */
    uint64_t refused_attach, refused_devs, refused_paths, slow_kills;
    /* msrv_set_ctl_ext: tried in the order set (HA services, MINET, ...) */
#define MSRV_CTL_EXT_MAX 4
    msrv_ctl_ext_fn ctl_ext[MSRV_CTL_EXT_MAX];
    void *ctl_ext_user[MSRV_CTL_EXT_MAX];
    int nctl_ext;
    uint8_t buf[MIPC_MAX_MSG];
};

int msrv_ctl(msrv *s, client *c, const mipc_req *q, char *out, size_t cap);
/* ctl_drv.c: `msgrctl drv ...`, the conformance suite's hooks (interop/DRIVER.md). */
int msrv_ctl_drv(msrv *s, const mipc_req *q, char *out, size_t cap);
struct mc_event;
void msrv_drv_record(const struct mc_event *ev);

#endif
