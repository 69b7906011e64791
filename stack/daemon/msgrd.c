/*
 * msgrd — the Messenger node daemon: one node (runtime + bearers) and the node service
 * for local applications (libmsgr) and msgrctl.  See README.md for the configuration
 * format and PROTOCOL.md for the socket protocol.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "ha.h"
#include "minet.h"
#include "priv.h"
#include "srv.h"
#ifdef MSGRD_HAVE_SEC
#include "ms_core.h"
#include "ms_keyfile.h"
#endif

typedef msgrd_conf conf;
_Static_assert(MSGRD_CONF_MAX_BEARERS == MRT_MAX_BEARERS, "one bearer list");

/* security = transition|required: load the cluster key (ms_keyfile_load checks owner and
 * mode), build the ms_ context and hand the core its crypto.  The key bytes are erased
 * as soon as the context has derived its MAC key from them. */
static int conf_security(const conf *c, mrt_config *rc, void **ctx_out)
{
    *ctx_out = NULL;
    if (!c->security[0] || !strcmp(c->security, "plain"))
        return 0;
#ifdef MSGRD_HAVE_SEC
    if (!c->keyfile[0]) {
        fprintf(stderr, "msgrd: security = %s needs keyfile = PATH\n", c->security);
        return -1;
    }
    uint8_t key[MS_CLUSTER_KEY_LEN];
    char why[256];
    int r = ms_keyfile_load(c->keyfile, geteuid(), key, why, sizeof why);
    if (r < 0) {
        fprintf(stderr, "msgrd: %s\n", why);
        return -1;
    }
    ms_config mc;
    ms_config_default(&mc);
    mc.node_id = rc->node_id;
    mc.domain = rc->domain;
    mc.cluster_key = key;
    mc.cluster_key_len = sizeof key;
    mc.policy = strcmp(c->security, "required") ? MP_SEC_TRANSITION : MP_SEC_REQUIRED;
    if (rc->tolerance_ms)
        mc.tolerance_ms = rc->tolerance_ms;
    ms_ctx *ctx = NULL;
    r = ms_ctx_create(&mc, &ctx);
    explicit_bzero(key, sizeof key);
    if (r < 0) {
        fprintf(stderr, "msgrd: security: %s\n", ms_strerror(r));
        return -1;
    }
    ms_core_crypto(ctx, &rc->crypto);
    *ctx_out = ctx;
    return 0;
#else
    (void)rc;
    fprintf(stderr, "msgrd: security = %s: built without OpenSSL (stack/sec)\n", c->security);
    return -1;
#endif
}

/* Reads the whole file (configuration files are small: 1 MiB at most) and parses it. */
static int conf_file(conf *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "msgrd: %s: %s\n", path, strerror(errno));
        return -1;
    }
    enum { CAP = 1 << 20 };
    char *buf = malloc(CAP);
    size_t n = buf ? fread(buf, 1, CAP, f) : 0;
    int rc = -1;
    char err[256];
    if (!buf)
        fprintf(stderr, "msgrd: %s: out of memory\n", path);
    else if (ferror(f))
        fprintf(stderr, "msgrd: %s: read error\n", path);
    else if (n == CAP)
        fprintf(stderr, "msgrd: %s: larger than 1 MiB\n", path);
    else if ((rc = msgrd_conf_parse(c, buf, n, err, sizeof err)) < 0)
        fprintf(stderr, "msgrd: %s:%s\n", path, err);
    free(buf);
    fclose(f);
    return rc;
}

/* "info" or "link=debug,ipc=warn" */
static int apply_log(const char *spec)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        int m = -1, l;
        if (eq) {
            *eq = 0;
            m = strcmp(t, "all") == 0 ? -1 : mrt_module_find(t);
            if (m < 0 && strcmp(t, "all") != 0)
                return -1;
            l = mrt_level_find(eq + 1);
        } else {
            l = mrt_level_find(t);
        }
        if (l < 0)
            return -1;
        mrt_log_set_level(m, l);
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: msgrd [-c FILE] [--node-id N] [--domain D] [--bearer SPEC]... [--socket PATH]\n"
            "             [--socket-mode OCTAL] [--socket-owner USER] [--socket-group GROUP]\n"
            "             [--pidfile FILE] [--foreground] [--log-level SPEC] [--tolerance MS]\n"
            "             [--notify-fd FD] [--user USER] [--group GROUP] [--keep-caps LIST]\n"
            "             [--minet] [--minet-tap NAME] [--minet-addr CIDR]... [--minet-mac MAC]\n"
            "             [--minet-mtu N] [--minet-set KEY=VALUE]... [--ha-rejoin]\n"
            "             [--ha-iop-manager NODE]\n");
}

static volatile int stopping;

/* The runtime's events go to the node service and to the HA services (MGMT, ha.h). */
static mhd *ha_svc;
static msgrd_minet *minet_svc; /* [minet]: the node's TAP (minet.h) */
static void msgrd_event(void *srv, const mc_event *ev)
{
    msrv_event(srv, ev);
    mhd_event(ha_svc, ev);
    msgrd_minet_event(minet_svc, ev);
}

/* --minet-set KEY=VALUE (any [minet] key) and the --minet-* shorthands; each enables MINET
 * unless it sets enabled = no. */
static int opt_minet(conf *c, const char *key, const char *kv)
{
    char b[128];
    if (!key) {
        const char *eq = strchr(kv, '=');
        if (!eq || (size_t)(eq - kv) >= sizeof b)
            return -1;
        memcpy(b, kv, (size_t)(eq - kv));
        b[eq - kv] = 0;
        key = b;
        kv = eq + 1;
    }
    c->minet.enabled = 1;
    return msgrd_conf_minet_key(&c->minet, key, kv);
}

static void on_signal(void *user, int fd, uint32_t ev)
{
    (void)user;
    (void)ev;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si)
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            mrt_log(MRT_M_RT, MRT_LOG_INFO, "signal %u: stopping", si.ssi_signo);
            stopping = 1;
        }
}

int main(int argc, char **argv)
{
    conf c;
    msgrd_conf_init(&c);
    bool foreground = false;
    static const struct option lo[] = {
        {"config", 1, 0, 'c'},       {"node-id", 1, 0, 'n'},     {"domain", 1, 0, 'd'},
        {"bearer", 1, 0, 'b'},       {"socket", 1, 0, 's'},      {"pidfile", 1, 0, 'p'},
        {"foreground", 0, 0, 'f'},   {"log-level", 1, 0, 'l'},   {"tolerance", 1, 0, 't'},
        {"socket-mode", 1, 0, 'M'},  {"socket-owner", 1, 0, 'O'}, {"socket-group", 1, 0, 'G'},
        {"notify-fd", 1, 0, 'N'},    {"user", 1, 0, 'U'},        {"group", 1, 0, 'g'},
        {"keep-caps", 1, 0, 'K'},    {"help", 0, 0, 'h'},        {"minet", 0, 0, 0x100},
        {"minet-tap", 1, 0, 0x101},  {"minet-addr", 1, 0, 0x102}, {"minet-mac", 1, 0, 0x103},
        {"minet-mtu", 1, 0, 0x104},  {"minet-set", 1, 0, 0x105}, {"ha-rejoin", 0, 0, 0x110},
        {"ha-iop-manager", 1, 0, 0x111}, {0, 0, 0, 0}};
    /* Two passes: the file first, so the command line overrides it. */
    for (int i = 1; i < argc - 1; i++)
        if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config"))
            if (conf_file(&c, argv[i + 1]) < 0)
                return 2;
    int o;
    while ((o = getopt_long(argc, argv, "c:n:d:b:s:p:fl:t:h", lo, NULL)) != -1) {
        int bad = 0;
        switch (o) {
        case 'c': break;
        case 'n': bad = msgrd_conf_key(&c, "node_id", optarg); break;
        case 'd': bad = msgrd_conf_key(&c, "domain", optarg); break;
        case 'b': bad = msgrd_conf_bearer(&c, optarg); break;
        case 's': bad = msgrd_conf_key(&c, "socket", optarg); break;
        case 'p': bad = msgrd_conf_key(&c, "pidfile", optarg); break;
        case 'f': foreground = true; break;
        case 'l': bad = msgrd_conf_key(&c, "log_level", optarg); break;
        case 't': bad = msgrd_conf_key(&c, "tolerance", optarg); break;
        case 'M': bad = msgrd_conf_key(&c, "socket_mode", optarg); break;
        case 'O': bad = msgrd_conf_key(&c, "socket_owner", optarg); break;
        case 'G': bad = msgrd_conf_key(&c, "socket_group", optarg); break;
        case 'N': c.notify_fd = atoi(optarg); break;
        case 'U': bad = msgrd_conf_key(&c, "user", optarg); break;
        case 'g': bad = msgrd_conf_key(&c, "group", optarg); break;
        case 'K': bad = msgrd_conf_key(&c, "keep_caps", optarg); break;
        case 0x100: c.minet.enabled = 1; break;
        case 0x101: bad = opt_minet(&c, "tap", optarg); break;
        case 0x102: bad = opt_minet(&c, "address", optarg); break;
        case 0x103: bad = opt_minet(&c, "mac", optarg); break;
        case 0x104: bad = opt_minet(&c, "mtu", optarg); break;
        case 0x105: bad = opt_minet(&c, NULL, optarg); break;
        case 0x110: c.ha.rejoin = 1; break; /* an IOP manager re-inserting this board */
        case 0x111: { /* the IOP manager that started this board (its node id) */
            char *e;
            errno = 0;
            unsigned long v = strtoul(optarg, &e, 10);
            bad = errno || !*optarg || *optarg == '-' || *e || v == 0 || v > 0xFFFFFFFEul;
            c.ha.iop_mgr = bad ? 0 : v;
            break;
        }
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
        if (bad) {
            static const char *const minet_opt[] = {"minet", "minet-tap", "minet-addr",
                                                    "minet-mac", "minet-mtu", "minet-set"};
            if (o >= 0x100 && o <= 0x105) /* long-only options have no letter */
                fprintf(stderr, "msgrd: bad value for option --%s\n", minet_opt[o - 0x100]);
            else if (o == 0x111)
                fprintf(stderr, "msgrd: bad value for option --ha-iop-manager\n");
            else
                fprintf(stderr, "msgrd: bad value for option -%c\n", o);
            return 2;
        }
    }
    if (optind != argc || c.node_id == 0 || (c.tolerance && c.tolerance < 10)) {
        fprintf(stderr, "msgrd: %s\n", c.node_id == 0 ? "--node-id is required" : "bad arguments");
        usage();
        return 2;
    }
    mrt_log_ident("msgrd");
    if (c.log[0] && apply_log(c.log) < 0) {
        fprintf(stderr, "msgrd: bad log level '%s'\n", c.log);
        return 2;
    }
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    if (c.owner[0]) {
        struct passwd *pw = getpwnam(c.owner);
        if (!pw) {
            fprintf(stderr, "msgrd: unknown user %s\n", c.owner);
            return 2;
        }
        uid = pw->pw_uid;
    }
    if (c.group[0]) {
        struct group *gr = getgrnam(c.group);
        if (!gr) {
            fprintf(stderr, "msgrd: unknown group %s\n", c.group);
            return 2;
        }
        gid = gr->gr_gid;
    }
    /* Resolved now, before anything is opened: a bad user fails at once. */
    mpriv priv;
    int pr = mpriv_resolve(&priv, c.user, c.run_group, c.keep_caps);
    if (pr < 0) {
        fprintf(stderr, "msgrd: user %s group %s keep_caps %s: %s\n", c.user, c.run_group,
                c.keep_caps, mpriv_strerror(pr));
        return 2;
    }
    if (!foreground && c.notify_fd < 0 && daemon(0, 1) < 0) {
        perror("msgrd: daemon");
        return 1;
    }
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);

    msrv *srv;
    mrt *rt;
    if (msrv_create(&srv) < 0)
        return 1;
    mrt_config rc = {.node_id = (uint32_t)c.node_id, .domain = (uint32_t)c.domain,
                     .tolerance_ms = (uint16_t)c.tolerance, .event = msgrd_event, .user = srv};
    void *sec_ctx = NULL;
    if (conf_security(&c, &rc, &sec_ctx) < 0)
        return 1;
    int r = mrt_create(&rc, &rt);
    if (r < 0) {
        fprintf(stderr, "msgrd: node: %s\n", mrt_strerror(r));
        return 1;
    }
    msrv_set_rt(srv, rt);
    int status = 1;
    /* MINET before the bearers (no PEER_UP missed) and while still root (the TAP). */
    if (c.minet.enabled) {
        char why[256];
        r = msgrd_minet_create(rt, &c.minet, (uint32_t)c.node_id, &minet_svc, why, sizeof why);
        if (r < 0) {
            fprintf(stderr, "msgrd: minet: %s\n", why);
            goto out;
        }
        msrv_set_ctl_ext(srv, msgrd_minet_ctl, minet_svc);
    }
    for (int i = 0; i < c.nbearers; i++) {
        r = mrt_add_bearer(rt, c.bearers[i]);
        if (r < 0) {
            fprintf(stderr, "msgrd: bearer '%s': %s\n", c.bearers[i], mrt_strerror(r));
            goto out;
        }
    }
    /* The socket's directory may not exist yet (/run/msgr after boot). */
    char dir[108];
    snprintf(dir, sizeof dir, "%s", c.socket);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        /* Ours if we made it: the dropped daemon must still remove its socket and
         * pidfile at exit. */
        if (mkdir(dir, 0755) == 0 && priv.on && chown(dir, priv.uid, priv.gid) < 0)
            fprintf(stderr, "msgrd: chown %s: %s\n", dir, strerror(errno));
    }
    /* socket_owner/socket_group also name who may attach (checked per connection). */
    if (uid != (uid_t)-1 || gid != (gid_t)-1)
        msrv_set_access(srv, uid, gid);
    r = msrv_listen(srv, c.socket, c.mode, uid, gid);
    if (r < 0) {
        fprintf(stderr, "msgrd: socket %s: %s\n", c.socket, mrt_strerror(r));
        goto out;
    }
    if (sfd < 0 || mrt_add_fd(rt, sfd, EPOLLIN, on_signal, NULL) < 0)
        goto out;
    if (c.pidfile[0]) {
        FILE *pf = fopen(c.pidfile, "w");
        if (!pf) {
            fprintf(stderr, "msgrd: pidfile %s: %s\n", c.pidfile, strerror(errno));
            goto out;
        }
        fprintf(pf, "%d\n", (int)getpid());
        fclose(pf);
    }
    /* Everything that needs root is open: become the configured user (priv.h). */
    r = mpriv_drop(&priv);
    if (r < 0) {
        fprintf(stderr, "msgrd: dropping privileges to %s: %s%s%s\n", c.user, mpriv_strerror(r),
                r == MPRIV_ESYS ? ": " : "", r == MPRIV_ESYS ? strerror(errno) : "");
        goto out;
    }
    if (priv.on)
        mrt_log(MRT_M_RT, MRT_LOG_INFO, "running as uid %d gid %d, capabilities kept %#llx",
                (int)getuid(), (int)getgid(), (unsigned long long)priv.keep);
    /* The management microkernel (entity 0, and the FTM and execution supervisor when
     * configured): it answers MGMT from peers, and starts the [exec] processes now that
     * the socket they may attach to is listening. */
    r = mhd_create(rt, &c.ha, (uint32_t)c.node_id, c.socket, &ha_svc);
    if (r < 0)
        goto out;
    msrv_set_ctl_ext(srv, mhd_ctl, ha_svc);
    if (mhd_start(ha_svc) < 0)
        goto out;
    /* Readiness: the socket accepts clients and every bearer is open. */
    mrt_log(MRT_M_RT, MRT_LOG_INFO, "node %lu ready on %s with %d bearer(s)", c.node_id, c.socket,
            c.nbearers);
    printf("READY node=%lu socket=%s pid=%d\n", c.node_id, c.socket, (int)getpid());
    fflush(stdout);
    if (c.notify_fd >= 0) {
        (void)!write(c.notify_fd, "READY=1\n", 8);
        close(c.notify_fd);
    }
    while (!stopping) {
        r = mrt_run_once(rt, -1);
        if (r < 0) {
            mrt_log(MRT_M_RT, MRT_LOG_ERR, "loop: %s", mrt_strerror(r));
            break;
        }
        msgrd_minet_turn(minet_svc); /* a frame held by backpressure, once there is room */
    }
    status = stopping ? 0 : 1;
    /* A stop (SIGTERM; also how an IOP manager quiesces this node for a planned hot-swap
     * extraction) first stops the supervised processes while the loop still runs: the
     * checkpoint a process is saving when told to stop is then still acknowledged, and
     * whoever restores it next continues exactly where it ended.  Bounded. */
    if (stopping && mhd_quiesce(ha_svc) > 0) {
        uint64_t end = mrt_now() + 3000000000ull;
        while (!mhd_quiesced(ha_svc) && mrt_now() < end)
            if (mrt_run_once(rt, 50) < 0)
                break;
    }
out:
    mhd_destroy(ha_svc); /* stops the supervised processes */
    ha_svc = NULL;
    msrv_destroy(srv);
    msgrd_minet_destroy(minet_svc); /* before the node: its fds are in the loop */
    minet_svc = NULL;
    mrt_destroy(rt);
#ifdef MSGRD_HAVE_SEC
    ms_ctx_destroy(sec_ctx); /* after the node: its links held ms_links of this ctx */
#endif
    if (c.pidfile[0] && status == 0)
        unlink(c.pidfile);
    msgrd_conf_free(&c);
    if (sfd >= 0)
        close(sfd);
    mrt_log(MRT_M_RT, MRT_LOG_INFO, "stopped");
    return status;
}
