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

#include "srv.h"
#ifdef MSGRD_HAVE_SEC
#include "ms_core.h"
#include "ms_keyfile.h"
#endif

#define MAX_BEARERS MRT_MAX_BEARERS

typedef struct conf {
    unsigned long node_id, domain, tolerance;
    char socket[108];
    char pidfile[256];
    mode_t mode;
    char owner[64], group[64];
    char *bearers[MAX_BEARERS];
    int nbearers;
    char log[256];
    int notify_fd;
    char security[16];  /* plain | transition | required (RFC 12.7); default plain */
    char keyfile[256];  /* the cluster key, read once at start-up */
} conf;

static int conf_bearer(conf *c, const char *spec)
{
    if (c->nbearers >= MAX_BEARERS) {
        fprintf(stderr, "msgrd: too many bearers (max %d)\n", MAX_BEARERS);
        return -1;
    }
    c->bearers[c->nbearers++] = strdup(spec);
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

static int num(const char *v, unsigned long max, unsigned long *out)
{
    char *e;
    errno = 0;
    unsigned long x = strtoul(v, &e, 0);
    if (errno || !*v || *e || x > max)
        return -1;
    *out = x;
    return 0;
}

static int conf_key(conf *c, const char *k, const char *v)
{
    unsigned long x;
    if (!strcmp(k, "node_id") || !strcmp(k, "node-id"))
        return num(v, 0xFFFFFFFEul, &c->node_id);
    if (!strcmp(k, "domain"))
        return num(v, 0xFFFFFFFFul, &c->domain);
    if (!strcmp(k, "tolerance"))
        return num(v, 30000, &c->tolerance);
    if (!strcmp(k, "socket"))
        return snprintf(c->socket, sizeof c->socket, "%s", v) < (int)sizeof c->socket ? 0 : -1;
    if (!strcmp(k, "socket_mode")) {
        char *e;
        x = strtoul(v, &e, 8);
        if (*e || x > 0777)
            return -1;
        c->mode = (mode_t)x;
        return 0;
    }
    if (!strcmp(k, "socket_owner"))
        return snprintf(c->owner, sizeof c->owner, "%s", v) < (int)sizeof c->owner ? 0 : -1;
    if (!strcmp(k, "socket_group"))
        return snprintf(c->group, sizeof c->group, "%s", v) < (int)sizeof c->group ? 0 : -1;
    if (!strcmp(k, "pidfile"))
        return snprintf(c->pidfile, sizeof c->pidfile, "%s", v) < (int)sizeof c->pidfile ? 0 : -1;
    if (!strcmp(k, "log_level") || !strcmp(k, "log-level"))
        return snprintf(c->log, sizeof c->log, "%s", v) < (int)sizeof c->log ? 0 : -1;
    if (!strcmp(k, "bearer"))
        return conf_bearer(c, v);
    if (!strcmp(k, "security")) {
        if (strcmp(v, "plain") && strcmp(v, "transition") && strcmp(v, "required"))
            return -1;
        return snprintf(c->security, sizeof c->security, "%s", v) < (int)sizeof c->security ? 0 : -1;
    }
    if (!strcmp(k, "keyfile"))
        return snprintf(c->keyfile, sizeof c->keyfile, "%s", v) < (int)sizeof c->keyfile ? 0 : -1;
    return -1;
}

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

/* The file: "key = value" lines, '#' comments, and [bearer] sections whose "type" key
 * and other keys make one bearer spec ("type:k=v,k=v"). */
static int conf_file(conf *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "msgrd: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[512], spec[512] = "";
    bool in_bearer = false;
    int lno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lno++;
        if (!strchr(line, '\n') && !feof(f)) {
            fprintf(stderr, "msgrd: %s:%d: line too long\n", path, lno);
            rc = -1;
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        if (*s == '[') {
            if (in_bearer && spec[0])
                rc = conf_bearer(c, spec);
            spec[0] = 0;
            if (strcmp(s, "[bearer]") == 0) {
                in_bearer = true;
            } else if (strcmp(s, "[node]") == 0) {
                in_bearer = false;
            } else {
                fprintf(stderr, "msgrd: %s:%d: unknown section %s\n", path, lno, s);
                rc = -1;
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "msgrd: %s:%d: expected key = value\n", path, lno);
            rc = -1;
            break;
        }
        *eq = 0;
        char *k = trim(s), *v = trim(eq + 1);
        if (in_bearer) {
            size_t l = strlen(spec);
            int n;
            if (!strcmp(k, "type"))
                n = l ? -1 : snprintf(spec, sizeof spec, "%s:", v);
            else if (!strcmp(k, "spec"))
                n = l ? -1 : snprintf(spec, sizeof spec, "%s", v);
            else
                n = l ? snprintf(spec + l, sizeof spec - l, "%s%s=%s",
                                 spec[l - 1] == ':' ? "" : ",", k, v)
                      : -1;
            if (n < 0 || (size_t)n >= sizeof spec - l) {
                fprintf(stderr, "msgrd: %s:%d: bad bearer key (type or spec first)\n", path, lno);
                rc = -1;
            }
        } else if (conf_key(c, k, v) < 0) {
            fprintf(stderr, "msgrd: %s:%d: bad value for %s\n", path, lno, k);
            rc = -1;
        }
    }
    if (rc == 0 && in_bearer && spec[0])
        rc = conf_bearer(c, spec);
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
            "             [--notify-fd FD]\n");
}

static volatile int stopping;

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
    memset(&c, 0, sizeof c);
    c.mode = 0660;
    c.notify_fd = -1;
    snprintf(c.socket, sizeof c.socket, "/run/msgr/msgrd.sock");
    bool foreground = false;
    static const struct option lo[] = {
        {"config", 1, 0, 'c'},       {"node-id", 1, 0, 'n'},     {"domain", 1, 0, 'd'},
        {"bearer", 1, 0, 'b'},       {"socket", 1, 0, 's'},      {"pidfile", 1, 0, 'p'},
        {"foreground", 0, 0, 'f'},   {"log-level", 1, 0, 'l'},   {"tolerance", 1, 0, 't'},
        {"socket-mode", 1, 0, 'M'},  {"socket-owner", 1, 0, 'O'}, {"socket-group", 1, 0, 'G'},
        {"notify-fd", 1, 0, 'N'},    {"help", 0, 0, 'h'},        {0, 0, 0, 0}};
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
        case 'n': bad = conf_key(&c, "node_id", optarg); break;
        case 'd': bad = conf_key(&c, "domain", optarg); break;
        case 'b': bad = conf_bearer(&c, optarg); break;
        case 's': bad = conf_key(&c, "socket", optarg); break;
        case 'p': bad = conf_key(&c, "pidfile", optarg); break;
        case 'f': foreground = true; break;
        case 'l': bad = conf_key(&c, "log_level", optarg); break;
        case 't': bad = conf_key(&c, "tolerance", optarg); break;
        case 'M': bad = conf_key(&c, "socket_mode", optarg); break;
        case 'O': bad = conf_key(&c, "socket_owner", optarg); break;
        case 'G': bad = conf_key(&c, "socket_group", optarg); break;
        case 'N': c.notify_fd = atoi(optarg); break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
        if (bad) {
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
                     .tolerance_ms = (uint16_t)c.tolerance, .event = msrv_event, .user = srv};
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
        mkdir(dir, 0755);
    }
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
    }
    status = stopping ? 0 : 1;
out:
    msrv_destroy(srv);
    mrt_destroy(rt);
#ifdef MSGRD_HAVE_SEC
    ms_ctx_destroy(sec_ctx); /* after the node: its links held ms_links of this ctx */
#endif
    if (c.pidfile[0] && status == 0)
        unlink(c.pidfile);
    for (int i = 0; i < c.nbearers; i++)
        free(c.bearers[i]);
    if (sfd >= 0)
        close(sfd);
    mrt_log(MRT_M_RT, MRT_LOG_INFO, "stopped");
    return status;
}
