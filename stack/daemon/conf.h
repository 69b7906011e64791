/*
 * conf.h — msgrd's configuration: the file format of README.md ("key = value" lines,
 * '#' comments, [node], [bearer], [ha], [exec], [iop NAME] and [minet] sections) parsed from a
 * buffer, with no I/O, so that the parser can be fuzzed and tested on its own
 * (fuzz/fuzz_conf.c).
 */
#ifndef MSGRD_CONF_H
#define MSGRD_CONF_H

#include <stddef.h>
#include <sys/types.h>

#define MSGRD_CONF_MAX_BEARERS 16 /* MRT_MAX_BEARERS */
#define MSGRD_CONF_MAX_LINE 512

/* HA (RFC 10, [ha] and [exec] sections, README.md): what msgrd's management microkernel
 * hosts.  Fixed-size fields, no allocation, so that a rejected file leaks nothing. */
#define MSGRD_CONF_MAX_EXEC 8
enum { MSGRD_FTM_UNSET = 0, MSGRD_FTM_OFF, MSGRD_FTM_STANDBY, MSGRD_FTM_ACTIVE };
/* Restart policy per failure class: the values of enum mha_pol (0 default = the FTM's
 * ladder, 1 restart, 2 stop, 3 failover). */
typedef struct msgrd_conf_exec {
    char name[32];         /* 1..31 bytes: PROC_START's "name" */
    char command[128];     /* run with /bin/sh -c "exec COMMAND" */
    char devices[256];     /* logical devices the process owns (comma list), shown and exported */
    unsigned long entity;  /* 0x100..0xFFFFFFFE; 0 = 0x100 + index */
    unsigned long home, standby; /* node ids; home 0 = this node, standby 0 = none */
    unsigned char on_exit, on_crash, on_hang;
    unsigned char no_heartbeat; /* heartbeat = off: a process without msgr_ha (crash/exit only) */
} msgrd_conf_exec;

/* One IOP of this host's IOP manager (entity 3; [iop NAME] section, conf_iop.c, README
 * "IOP manager").  The IOP is a child msgrd that this msgrd starts, attached over the
 * PCIe shim bearer, with `config` as its configuration file. */
#define MSGRD_CONF_MAX_IOP 8
typedef struct msgrd_conf_iop {
    char name[16];         /* the section's NAME: 1..15 of [A-Za-z0-9_.-] */
    unsigned long node;    /* the IOP's node id (required) */
    unsigned long slot;    /* bus slot 0..255 (required, unique) */
    char config[256];      /* its msgrd config file ("" = none: node and shim only) */
    char msgrd[256];       /* its daemon binary ("" = this msgrd) */
    char socket[108];      /* its msgrctl socket ("" = NAME.sock beside this node's socket) */
    char shim[32];         /* PCIe shim name ("" = NAME) */
    char shim_sock[108];   /* shim setup socket path ("" = abstract msgr-pcie:<shim>) */
    char standby[16];      /* the [iop] that takes over its processes (N+1), "" = none */
    unsigned long drain_ms; /* planned extraction: bound on quiesce + drain (0 = 5000) */
    unsigned long boot_ms;  /* boot: bound on reaching OPERATIONAL (0 = 10000) */
    int autoboot;          /* 1: boot when msgrd starts (default 0: msgrctl iop boot) */
    int line;              /* line of its section header, for errors found at the end */
} msgrd_conf_iop;

typedef struct msgrd_conf_ha {
    int ftm;                          /* MSGRD_FTM_*; UNSET = ACTIVE if an [exec] exists */
    unsigned long ftm_node;           /* where the FTM runs; 0 = this node */
    unsigned long epoch, rank;        /* an active FTM's first epoch (default 1), rank */
    unsigned long hb_period_ms;       /* process heartbeat interval, 10..60000 (100) */
    unsigned long hb_threshold;       /* missed heartbeats before a hang, 1..100 (3) */
    unsigned long start_grace_ms;     /* heartbeats start at a process's first message, or
                                       * this long after it was started (2000) */
    unsigned long max_restarts;       /* the FTM's ladder (RFC 10.10; 0 = RFC default) */
    unsigned long restart_window_ms, max_failovers, backoff_base_ms, backoff_cap_ms;
    unsigned long budget, budget_window_ms, recover_timeout_ms;
    unsigned long restart_clean_exit; /* 0 (default) or 1: restart after a clean exit too */
    unsigned long ckpt_replica;       /* node of the checkpoint replica; 0 = none */
    unsigned long ckpt_node;          /* store of this node's processes; 0 = the FTM's node */
    int watch_ftm;                    /* 1: host the FTM's heartbeat monitor (entity 2) */
    unsigned long ftm_cand[4];        /* FTM candidate nodes, in TAKEOVER order (ha_watch.c) */
    int nftm_cand;
    msgrd_conf_exec exec[MSGRD_CONF_MAX_EXEC];
    int nexec;
    msgrd_conf_iop iop[MSGRD_CONF_MAX_IOP]; /* [iop NAME] sections (conf_iop.c) */
    int niop;
    /* --ha-rejoin (no file key): this node rejoins as a standby (a re-inserted or reset
     * board): it starts none of its [exec] and registers only itself, since what had its
     * home here may now run on its standby (N+1: nothing moves back by itself). */
    int rejoin;
    /* --ha-iop-manager NODE (no file key): this msgrd is an IOP board started by the IOP
     * manager of NODE, to which it reports IOP_STATE OPERATIONAL once it serves. */
    unsigned long iop_mgr;
} msgrd_conf_ha;

/* MINET ([minet] section, conf_minet.c; README.md "MINET"): a TAP device bridged into
 * the Messenger domain by msgrd itself, with the node's own identity.  Fixed-size fields,
 * no allocation. */
#define MSGRD_CONF_MAX_MINET_ADDRS 8
typedef struct msgrd_conf_minet {
    int enabled;                /* 0 off (default), 1 on: a [minet] section or --minet */
    char tap[16];               /* IFNAMSIZ; "" = "minet0" */
    unsigned char mac[6];       /* valid when mac_set; else 02:4d:<node id> */
    int mac_set;
    unsigned long mtu;          /* 576..65000; 0 = 1500 */
    unsigned long domain;       /* MINET domain (virtual LAN), 0..65535 */
    unsigned long ageing;       /* MAC ageing, seconds, 1..86400; 0 = 300 */
    unsigned long max_entries;  /* MAC table size, 16..1048576; 0 = 4096 */
    unsigned long txqueuelen;   /* 0 = the kernel's */
    int offload;                /* 1 (default) TSO/checksum offload, 0 off */
    char addr[MSGRD_CONF_MAX_MINET_ADDRS][48]; /* "10.77.0.1/24", "fd77::1/64" */
    int naddrs;
} msgrd_conf_minet;

typedef struct msgrd_conf {
    unsigned long node_id, domain, tolerance;
    char socket[108];
    char pidfile[256];
    mode_t mode;
    char owner[64], group[64];
    char *bearers[MSGRD_CONF_MAX_BEARERS]; /* owned: msgrd_conf_free() */
    int nbearers;
    char log[256];
    int notify_fd;
    char security[16]; /* plain | transition | required (RFC 12.7); default plain */
    char keyfile[256]; /* the cluster key, read once at start-up */
    msgrd_conf_ha ha;  /* [ha] and [exec] sections (conf_ha.c) */
    msgrd_conf_minet minet; /* [minet] section (conf_minet.c) */
    /* Least privilege (priv.h): once every bearer, the shim and the socket are open, a
     * daemon started as root becomes `user` (primary group `group`, else the user's) and
     * keeps only the capabilities named in keep_caps ("" = none). */
    char user[64], run_group[64];
    char keep_caps[64]; /* comma list of net_raw, net_admin, net_bind_service */
} msgrd_conf;

/* Defaults: socket /run/msgr/msgrd.sock, mode 0660, tolerance 0 (the core's default). */
void msgrd_conf_init(msgrd_conf *c);
void msgrd_conf_free(msgrd_conf *c);

/* One node key ("node_id", "socket", ...) as in the file or from a command-line option.
 * Returns 0, or -1 for an unknown key or a value out of range. */
int msgrd_conf_key(msgrd_conf *c, const char *key, const char *value);
/* Appends one bearer spec ("type:k=v,..."); -1 when MSGRD_CONF_MAX_BEARERS are held or
 * the spec is empty. */
int msgrd_conf_bearer(msgrd_conf *c, const char *spec);

/* Parses a whole file held in text[0..len) (need not be NUL-terminated; a NUL byte is an
 * error).  On error returns -1 and writes "LINE: reason" into err (errlen > 0).  A rejected
 * file may leave c partly filled: the caller frees it and exits. */
/* conf_ha.c: one key of an [ha] section, or of the [exec] section being filled (the
 * section header calls msgrd_conf_exec_begin).  0, or -1 for an unknown key or a bad
 * value.  msgrd_conf_exec_begin returns -1 when MSGRD_CONF_MAX_EXEC are held;
 * msgrd_conf_exec_end checks the section is complete (name and command). */
int msgrd_conf_ha_key(msgrd_conf_ha *h, const char *key, const char *value);
/* What an [ha] key accepts, for the error message ("" if the key is unknown). */
const char *msgrd_conf_ha_expect(const char *key);
int msgrd_conf_exec_begin(msgrd_conf_ha *h);
int msgrd_conf_exec_key(msgrd_conf_ha *h, const char *key, const char *value);
int msgrd_conf_exec_end(const msgrd_conf_ha *h);
/* conf_iop.c: "[iop NAME]" opens an IOP section (-1: bad name, duplicate, or more than
 * MSGRD_CONF_MAX_IOP); its keys; the end of the section checks it is complete (node,
 * slot, unique node and slot); msgrd_conf_iop_check runs once the whole file is read
 * (standby names another [iop]) and returns the line of the offending section, or 0. */
int msgrd_conf_iop_begin(msgrd_conf_ha *h, const char *name, int line);
int msgrd_conf_iop_key(msgrd_conf_ha *h, const char *key, const char *value);
int msgrd_conf_iop_end(const msgrd_conf_ha *h);
int msgrd_conf_iop_check(const msgrd_conf_ha *h);

/* conf_minet.c: one key of the [minet] section (or a --minet-* option): 0, or -1 for an
 * unknown key or a bad value.  Any key but "enabled" leaves enabled as it is. */
int msgrd_conf_minet_key(msgrd_conf_minet *m, const char *key, const char *value);

int msgrd_conf_parse(msgrd_conf *c, const char *text, size_t len, char *err, size_t errlen);

/* Values as every section reads them (conf.c), so that a number, a yes/no or a name means
 * the same in [node], [ha], [exec], [iop NAME] and [minet].  Each returns 0 (or true), or
 * -1 (false) leaving the destination as it was. */
/* An unsigned number in min..max: decimal, 0x hex or 0 octal, with no sign (strtoul
 * would wrap "-1") and nothing after it. */
int msgrd_conf_num(const char *v, unsigned long min, unsigned long max, unsigned long *out);
/* A string of min..cap-1 bytes, copied with its NUL. */
int msgrd_conf_str(char *dst, size_t cap, const char *v, size_t min);
/* yes, on, true, 1 -> 1; no, off, false, 0 -> 0. */
int msgrd_conf_bool(const char *v, int *out);
/* Whether v is 1..cap-1 bytes of [A-Za-z0-9_.-]: a name that goes into msgrctl words,
 * file names and interface names as it is. */
int msgrd_conf_word(const char *v, size_t cap);

#endif
