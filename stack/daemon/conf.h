/*
 * conf.h — msgrd's configuration: the file format of README.md ("key = value" lines,
 * '#' comments, [node], [bearer], [ha], [exec] and [minet] sections) parsed from a
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
    msgrd_conf_exec exec[MSGRD_CONF_MAX_EXEC];
    int nexec;
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
int msgrd_conf_exec_begin(msgrd_conf_ha *h);
int msgrd_conf_exec_key(msgrd_conf_ha *h, const char *key, const char *value);
int msgrd_conf_exec_end(const msgrd_conf_ha *h);

/* conf_minet.c: one key of the [minet] section (or a --minet-* option): 0, or -1 for an
 * unknown key or a bad value.  Any key but "enabled" leaves enabled as it is. */
int msgrd_conf_minet_key(msgrd_conf_minet *m, const char *key, const char *value);

int msgrd_conf_parse(msgrd_conf *c, const char *text, size_t len, char *err, size_t errlen);

#endif
