/*
 * msgrd_adapter — the interop driver adapter (interop/DRIVER.md) for this repository's
 * node daemon.  It starts a real msgrd (the binary, in this adapter's network namespace)
 * with the suite's configuration and drives it the way applications and operators do:
 *
 *   - libmsgr in attached mode (stack/client/include/msgr/msgr.h) for everything an
 *     application does: devices (register, publish, withdraw), paths (open, accept,
 *     send, close), received path messages and path/request service-status events;
 *   - msgrd's control socket, as msgrctl speaks it, for what an operator does: bearers
 *     (`bearer add/del`), and the conformance hooks `drv ...` (stack/daemon/ctl_drv.c):
 *     the core's events with its own clock (links, peers, names, raw channel messages,
 *     failover, lost sends), raw sequenced messages on a channel, link/path/name
 *     internals, and fixing the next device handle so the suite's device ids hold.
 *
 * decode/deframe/caphdr run the codec msgrd is built from (proto/, libmp) in this
 * process: the daemon has no command that feeds bytes to its decoder without a peer.
 *
 *   msgrd_adapter --msgrd PATH [--keep-logs]
 *
 * msgrd's stdout and stderr go to this adapter's stderr (diagnostics for the suite).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "mp/mp.h"
#include "msgr/msgr.h"

static const char *g_msgrd = "msgrd";
static pid_t g_pid;
static char g_dir[64], g_sock[96];
static msgr *g_m;
static int g_ctl = -1;
static bool g_quit, g_started;
static uint16_t g_window;
static char g_minet_tap[32], g_minet_offload[32], g_minet_domain[32]; /* start: minet_* */
static char g_in[1 << 23];
static size_t g_inlen;

/* The devices this adapter registered: suite id = daemon handle (drv next_device). */
#define MAXDEV 64
static struct {
    uint32_t id;
    char name[128];
    bool manual;
} g_dev[MAXDEV];
static int g_ndev;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* While a command runs its reply is held back (g_defer) and written after the events the
 * daemon logged up to then: events that happened before a reply are read before it, as
 * with an in-process node. */
static bool g_defer;
static char g_rep[1 << 18];
static size_t g_replen;

static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (g_defer) {
        int n = vsnprintf(g_rep + g_replen, sizeof g_rep - g_replen - 1, fmt, ap);
        if (n > 0)
            g_replen += (size_t)n < sizeof g_rep - g_replen - 1 ? (size_t)n
                                                                : sizeof g_rep - g_replen - 2;
        g_rep[g_replen++] = '\n';
        g_rep[g_replen] = 0;
    } else {
        vfprintf(stdout, fmt, ap);
        fputc('\n', stdout);
        fflush(stdout);
    }
    va_end(ap);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- minimal JSON field access (flat objects, strings without escapes) ----------------- */
static const char *jfind(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(line, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ' || *p == ':')
        p++;
    return p;
}

static bool jnum(const char *line, const char *key, uint64_t *v)
{
    const char *p = jfind(line, key);
    if (!p)
        return false;
    if (*p == 't') { *v = 1; return true; }
    if (*p == 'f') { *v = 0; return true; }
    char *e;
    *v = strtoull(p, &e, 0);
    return e != p;
}

static uint64_t jnum_or(const char *line, const char *key, uint64_t dflt)
{
    uint64_t v;
    return jnum(line, key, &v) ? v : dflt;
}

static bool jstr(const char *line, const char *key, char *buf, size_t n)
{
    const char *p = jfind(line, key);
    if (!p || *p != '"')
        return false;
    p++;
    size_t i = 0;
    while (*p && *p != '"' && i + 1 < n)
        buf[i++] = *p++;
    buf[i] = 0;
    return true;
}

static int nib(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t unhex(const char *h, uint8_t *b, size_t cap)
{
    size_t n = 0;
    while (h[0] && h[1] && n < cap) {
        int x = nib(h[0]), y = nib(h[1]);
        if (x < 0 || y < 0)
            break;
        b[n++] = (uint8_t)(x << 4 | y);
        h += 2;
    }
    return n;
}

static void hexout(char *dst, const uint8_t *b, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = hx[b[i] >> 4];
        dst[2 * i + 1] = hx[b[i] & 15];
    }
    dst[2 * n] = 0;
}

/* ---- the control socket (msgrctl's protocol, stack/daemon/PROTOCOL.md op 10) ------------ */
static char g_ans[MIPC_MAX_MSG + 1];

/* argv[i] with lens[i] (raw octets allowed).  Returns the daemon's status; the rendered
 * answer (or the error text) is in g_ans. */
static int ctl_raw(int argc, const char *const *argv, const size_t *lens)
{
    static uint8_t buf[MIPC_MAX_MSG];
    static uint32_t id;
    g_ans[0] = 0;
    if (g_ctl < 0)
        return MSGR_EDISCONN;
    mipc_w w;
    mipc_w_init(&w, buf, sizeof buf, MIPC_CTL, ++id);
    mipc_put8(&w, 1);
    mipc_put8(&w, (uint8_t)argc);
    for (int i = 0; i < argc; i++)
        mipc_putstr(&w, argv[i], lens[i]);
    size_t len = mipc_w_end(&w);
    if (!len)
        return MSGR_EINVAL;
    if (send(g_ctl, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
        return MSGR_EDISCONN;
    for (;;) {
        ssize_t r = recv(g_ctl, buf, sizeof buf, 0);
        if (r <= 0)
            return MSGR_EDISCONN;
        if (mipc_msg_op(buf, (size_t)r) != (MIPC_CTL | MIPC_RESP) ||
            mipc_msg_id(buf, (size_t)r) != id)
            continue;
        mipc_r rd;
        mipc_r_init(&rd, buf, (size_t)r);
        int32_t st = (int32_t)mipc_get32(&rd);
        if (rd.err)
            return MSGR_EPROTO;
        size_t n = (size_t)r - rd.off;
        memcpy(g_ans, buf + rd.off, n);
        g_ans[n] = 0;
        while (n && g_ans[n - 1] == '\n')
            g_ans[--n] = 0;
        return st;
    }
}

static int ctl(const char *a0, ...)
{
    const char *argv[MIPC_MAX_ARGS];
    size_t lens[MIPC_MAX_ARGS];
    int argc = 0;
    va_list ap;
    va_start(ap, a0);
    for (const char *a = a0; a && argc < MIPC_MAX_ARGS; a = va_arg(ap, const char *)) {
        argv[argc] = a;
        lens[argc++] = strlen(a);
    }
    va_end(ap);
    return ctl_raw(argc, argv, lens);
}

static int ctl_open(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", g_sock);
    g_ctl = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (g_ctl < 0 || connect(g_ctl, (struct sockaddr *)&sa, sizeof sa) < 0)
        return -1;
    struct timeval tv = {10, 0};
    setsockopt(g_ctl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return 0;
}

/* ---- msgrd ---------------------------------------------------------------------------- */
/* security: plain|transition|required (NULL = plain); key: the cluster key, hex. */
static int daemon_start(uint32_t node, uint32_t domain, unsigned tol, const char *security,
                        const char *key)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/msgrd-adapter-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    snprintf(g_sock, sizeof g_sock, "%s/msgrd.sock", g_dir);
    /* Secured links: msgrd reads them from a config file (key file mode 0600). */
    char conf[128] = "", keyf[128];
    if (security && security[0] && strcmp(security, "plain") != 0) {
        snprintf(keyf, sizeof keyf, "%s/cluster.key", g_dir);
        snprintf(conf, sizeof conf, "%s/msgrd.conf", g_dir);
        int kfd = open(keyf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        FILE *cf = fopen(conf, "we");
        if (kfd < 0 || !cf || write(kfd, key, strlen(key)) != (ssize_t)strlen(key))
            return -1;
        close(kfd);
        fprintf(cf, "security = %s\nkeyfile = %s\n", security, keyf);
        fclose(cf);
    }
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -1;
    char a_node[16], a_dom[16], a_tol[16], a_fd[16];
    snprintf(a_node, sizeof a_node, "%" PRIu32, node);
    snprintf(a_dom, sizeof a_dom, "%" PRIu32, domain);
    snprintf(a_tol, sizeof a_tol, "%u", tol ? tol : 500);
    pid_t ppid = getpid();
    g_pid = fork();
    if (g_pid < 0)
        return -1;
    if (g_pid == 0) {
        /* msgrd must not outlive a killed adapter, nor write on the driver channel. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != ppid)
            _exit(1);
        dup2(2, 1);
        int nfd = dup(pfd[1]); /* without O_CLOEXEC */
        snprintf(a_fd, sizeof a_fd, "%d", nfd);
        const char *av[32];
        int ac = 0;
        av[ac++] = g_msgrd;
        if (conf[0]) {
            av[ac++] = "-c";
            av[ac++] = conf;
        }
        const char *fixed[] = {"--node-id", a_node, "--domain", a_dom, "--tolerance", a_tol,
                               "--socket", g_sock, "--foreground", "--notify-fd", a_fd,
                               "--log-level", "warn"};
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
            av[ac++] = fixed[i];
        if (g_minet_tap[0]) {
            av[ac++] = "--minet-tap";
            av[ac++] = g_minet_tap;
            av[ac++] = "--minet-set";
            av[ac++] = g_minet_offload;
            av[ac++] = "--minet-set";
            av[ac++] = g_minet_domain;
        }
        av[ac] = NULL;
        execv(g_msgrd, (char *const *)av);
        fprintf(stderr, "msgrd_adapter: exec %s: %s\n", g_msgrd, strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    /* Readiness: msgrd writes READY=1 on the notify fd once its socket listens (an EOF
     * first means it died). */
    char rb[64];
    size_t got = 0;
    struct pollfd p = {pfd[0], POLLIN, 0};
    while (got < sizeof rb - 1 && !strstr(rb, "READY=1")) {
        if (poll(&p, 1, 10000) <= 0)
            break;
        ssize_t r = read(pfd[0], rb + got, sizeof rb - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        rb[got] = 0;
    }
    rb[got] = 0;
    close(pfd[0]);
    if (!strstr(rb, "READY=1"))
        return -2;
    if (msgr_attach(g_sock, &g_m) < 0 || ctl_open() < 0)
        return -3;
    return 0;
}

static void daemon_stop(void)
{
    if (g_m)
        msgr_close(g_m);
    g_m = NULL;
    if (g_ctl >= 0)
        close(g_ctl);
    g_ctl = -1;
    if (g_pid > 0) {
        kill(g_pid, SIGTERM);
        int st;
        for (int i = 0; i < 300; i++) {
            if (waitpid(g_pid, &st, WNOHANG) == g_pid) {
                g_pid = 0;
                break;
            }
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
        if (g_pid > 0) {
            kill(g_pid, SIGKILL);
            waitpid(g_pid, &st, 0);
        }
    }
    if (g_dir[0]) {
        char f[160];
        unlink(g_sock);
        snprintf(f, sizeof f, "%s/cluster.key", g_dir);
        unlink(f);
        snprintf(f, sizeof f, "%s/msgrd.conf", g_dir);
        unlink(f);
        rmdir(g_dir);
    }
}

/* ---- events --------------------------------------------------------------------------- */
/* The core's events as msgrd logged them (drv events): already driver JSON, one a line. */
static void pump_drv(void)
{
    for (int i = 0; i < 64; i++) {
        if (ctl("drv", "events", (char *)NULL) < 0 || !g_ans[0])
            return;
        fputs(g_ans, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
}

/* What libmsgr queued: path service-status events and path messages. */
static void pump_msgr(void)
{
    msgr_event ev;
    while (msgr_next_event(g_m, &ev, 0) == 0) {
        if (ev.type == MSGR_EV_PATH)
            out("{\"event\":\"path_state\",\"t_ns\":%" PRIu64 ",\"path\":%" PRIu32 ",\"group\":%"
                PRIu32 ",\"device\":%" PRIu32 ",\"peer\":%" PRIu32 ",\"peer_device\":%" PRIu32
                ",\"path_state\":%d,\"code\":%d}", now_ns(), ev.path, ev.group, ev.device,
                ev.peer_node, ev.peer_device, ev.state, ev.reason);
        else if (ev.type == MSGR_EV_REQUEST)
            out("{\"event\":\"path_request\",\"t_ns\":%" PRIu64 ",\"path\":%" PRIu32 ",\"device\":%"
                PRIu32 ",\"peer\":%" PRIu32 ",\"peer_device\":%" PRIu32 "}", now_ns(), ev.path,
                ev.device, ev.peer_node, ev.peer_device);
    }
    static uint8_t b[MSGR_MAX_MSG];
    static char hex[2 * MSGR_MAX_MSG + 1];
    msgr_msg_info mi;
    int r;
    while ((r = msgr_recv(g_m, 0, b, sizeof b, &mi, 0)) >= 0 || r == MSGR_ETRUNC) {
        size_t n = r >= 0 ? (size_t)r : sizeof b;
        hexout(hex, b, n);
        out("{\"event\":\"path_msg\",\"t_ns\":%" PRIu64 ",\"path\":%" PRIu32 ",\"device\":%" PRIu32
            ",\"peer\":%" PRIu32 ",\"len\":%zu,\"data\":\"%s\"}", now_ns(), mi.path, mi.device,
            mi.peer_node, mi.len, hex);
    }
}

/* ---- commands ------------------------------------------------------------------------- */
static int dev_find(uint32_t id)
{
    for (int i = 0; i < g_ndev; i++)
        if (g_dev[i].id == id)
            return i;
    return -1;
}

static void reply_err(const char *cmd, int rc)
{
    char e[256];
    const char *src = rc < 0 && g_ans[0] ? g_ans : msgr_strerror(rc);
    size_t l = strnlen(src, sizeof e - 1);
    memcpy(e, src, l);
    e[l] = 0;
    for (char *p = e; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            *p = ' ';
    out("{\"reply\":\"%s\",\"ok\":false,\"error\":\"%s\",\"code\":%d}", cmd, e, rc);
}

/* Reply with the daemon's JSON object plus the reply header. */
static void reply_obj(const char *cmd)
{
    const char *o = strchr(g_ans, '{');
    if (!o) {
        out("{\"reply\":\"%s\",\"ok\":true}", cmd);
        return;
    }
    if (o[1] == '}')
        out("{\"reply\":\"%s\",\"ok\":true}", cmd);
    else
        out("{\"reply\":\"%s\",\"ok\":true,%s", cmd, o + 1);
}

/* Register device `id` (handle fixed through drv next_device). */
static int dev_register(uint32_t id, const char *name, uint16_t dtype, uint8_t rank, bool excl,
                        bool manual, bool publish)
{
    char a[16];
    snprintf(a, sizeof a, "%" PRIu32, id);
    g_ans[0] = 0;
    int r = ctl("drv", "next_device", a, (char *)NULL);
    if (r < 0)
        return r;
    msgr_device_cfg c = {.name = name, .dtype = dtype, .rank = rank, .exclusive = excl,
                         .manual_accept = manual, .no_publish = !publish};
    uint32_t got = 0;
    g_ans[0] = 0;
    r = msgr_device_register(g_m, &c, &got);
    if (r < 0)
        return r;
    if (got != id) {
        msgr_device_unregister(g_m, got);
        return MSGR_EEXIST;
    }
    if (g_ndev == MAXDEV)
        return MSGR_ELIMIT;
    g_dev[g_ndev].id = id;
    snprintf(g_dev[g_ndev].name, sizeof g_dev[g_ndev].name, "%s", name);
    g_dev[g_ndev].manual = manual;
    g_ndev++;
    return 0;
}

static void dev_forget(int i)
{
    g_dev[i] = g_dev[--g_ndev];
}

static void cmd_codec(const char *cmd, const char *line, uint8_t *buf, size_t bufcap,
                      char *sbuf, size_t scap)
{
    size_t n = jstr(line, "hex", sbuf, scap) ? unhex(sbuf, buf, bufcap) : 0;
    if (!strcmp(cmd, "decode")) {
        mp_frame f;
        int rc = mp_decode(buf, n, &f);
        if (rc < 0)
            out("{\"reply\":\"decode\",\"ok\":true,\"valid\":false,\"error\":\"%s\"}",
                mp_errname(rc));
        else
            out("{\"reply\":\"decode\",\"ok\":true,\"valid\":true,\"error\":null}");
    } else if (!strcmp(cmd, "deframe")) {
        size_t cap = (size_t)jnum_or(line, "cap", 65539);
        static uint8_t dbuf[1 << 17];
        static char fr[140000];
        if (cap > sizeof dbuf)
            cap = sizeof dbuf;
        mp_deframer d;
        mp_deframer_init(&d, dbuf, cap);
        size_t o = 0;
        fr[0] = 0;
        for (size_t i = 0; i < n; i++) {
            size_t used;
            int rc = mp_deframer_feed(&d, buf + i, 1, &used);
            if (rc > 0 && o + 2 * (size_t)rc + 4 < sizeof fr) {
                o += (size_t)sprintf(fr + o, "%s\"", o ? "," : "");
                hexout(fr + o, d.buf, (size_t)rc);
                o += 2 * (size_t)rc;
                fr[o++] = '"';
                fr[o] = 0;
            }
        }
        out("{\"reply\":\"deframe\",\"ok\":true,\"frames\":[%s],\"crc_errors\":%" PRIu64
            ",\"framing_errors\":%" PRIu64 ",\"overruns\":%" PRIu64 ",\"runts\":%" PRIu64 "}",
            fr, d.crc_errors, d.framing_errors, d.overruns, d.runts);
    } else {
        mp_caphdr h;
        int rc = mp_caphdr_decode(buf, n, &h);
        if (rc < 0)
            out("{\"reply\":\"caphdr\",\"ok\":true,\"valid\":false,\"error\":\"%s\"}",
                mp_errname(rc));
        else
            out("{\"reply\":\"caphdr\",\"ok\":true,\"valid\":true,\"error\":null,"
                "\"bearer\":%u,\"cflags\":%u,\"bearer_index\":%u}",
                h.bearer, h.cflags, h.bearer_index);
    }
}

static void cmd_line1(char *line);
static void cmd_line(char *line)
{
    g_defer = true;
    g_replen = 0;
    cmd_line1(line);
    g_defer = false;
    if (g_started && g_m) {
        pump_msgr();
        pump_drv();
    }
    fwrite(g_rep, 1, g_replen, stdout);
    fflush(stdout);
}

static void cmd_line1(char *line)
{
    char cmd[64] = "";
    static uint8_t buf[1 << 21];
    static char sbuf[(1 << 22) + 16];
    char a1[32], a2[32], a3[32];
    if (!jstr(line, "cmd", cmd, sizeof cmd)) {
        out("{\"reply\":\"?\",\"ok\":false,\"error\":\"no cmd\"}");
        return;
    }
    if (!strcmp(cmd, "hello")) {
        out("{\"reply\":\"hello\",\"ok\":true,\"impl\":\"messenger msgrd via libmsgr (attached)\","
            "\"protocol\":1,\"caps\":[\"udp\",\"eth\",\"send\",\"decode\",\"publish\","
            "\"paths\",\"link_info\",\"stats\",\"deframe\",\"caphdr\",\"lookup\","
            "\"path_info\",\"secure\",\"pcie\",\"bearer_stats\",\"minet\",\"groups\",\"capture\",\"serial\"]}");
        return;
    }
    if (!strcmp(cmd, "decode") || !strcmp(cmd, "deframe") || !strcmp(cmd, "caphdr")) {
        cmd_codec(cmd, line, buf, sizeof buf, sbuf, sizeof sbuf);
        return;
    }
    if (!strcmp(cmd, "quit")) {
        out("{\"reply\":\"quit\",\"ok\":true}");
        g_quit = true;
        return;
    }
    if (!strcmp(cmd, "start")) {
        if (g_started) {
            out("{\"reply\":\"start\",\"ok\":false,\"error\":\"already started\"}");
            return;
        }
        g_window = (uint16_t)jnum_or(line, "window", 0);
        char security[16] = "", key[160] = "";
        jstr(line, "security", security, sizeof security);
        jstr(line, "cluster_key", key, sizeof key);
        /* MINET (RFC 11): a TAP named minet_tap, offload and domain as given */
        if (jstr(line, "minet_tap", g_minet_tap, 16) && g_minet_tap[0]) {
            snprintf(g_minet_offload, sizeof g_minet_offload, "offload=%s",
                     jnum_or(line, "minet_offload", 0) ? "yes" : "no");
            snprintf(g_minet_domain, sizeof g_minet_domain, "domain=%u",
                     (unsigned)jnum_or(line, "minet_domain", 0));
        }
        int rc = daemon_start((uint32_t)jnum_or(line, "node_id", 1),
                              (uint32_t)jnum_or(line, "domain", 0),
                              (unsigned)jnum_or(line, "tolerance_ms", 0), security, key);
        if (rc < 0) {
            out("{\"reply\":\"start\",\"ok\":false,\"error\":\"msgrd did not start (%d)\"}", rc);
            return;
        }
        g_started = true;
        if (ctl("drv", "events", "on", (char *)NULL) < 0 || ctl("drv", "node", (char *)NULL) < 0) {
            reply_err(cmd, MSGR_EPROTO);
            return;
        }
        reply_obj(cmd);
        return;
    }
    if (!g_started) {
        out("{\"reply\":\"%s\",\"ok\":false,\"error\":\"not started\"}", cmd);
        return;
    }
    int rc = 0;
    g_ans[0] = 0;
    if (!strcmp(cmd, "add_bearer")) {
        char spec[512];
        if (!jstr(line, "spec", spec, sizeof spec - 32)) {
            out("{\"reply\":\"add_bearer\",\"ok\":false,\"error\":\"no spec\"}");
            return;
        }
        if (g_window && !strstr(spec, "window="))
            snprintf(spec + strlen(spec), 32, ",window=%u", g_window);
        rc = ctl("bearer", "add", spec, (char *)NULL);
        if (rc < 0) { reply_err(cmd, rc); return; }
        const char *p = strstr(g_ans, "\"id\":");
        int id = p ? atoi(p + 5) : -1;
        out("{\"reply\":\"add_bearer\",\"ok\":true,\"bearer\":%d}", id);
    } else if (!strcmp(cmd, "bearer_stats")) {
        /* The bearer's receive drops, from `msgrctl -j bearer list`. */
        rc = ctl("bearer", "list", (char *)NULL);
        if (rc < 0) { reply_err(cmd, rc); return; }
        char key[32];
        snprintf(key, sizeof key, "{\"id\":%d,", (int)jnum_or(line, "bearer", 0));
        const char *b = strstr(g_ans, key);
        const char *d = b ? strstr(b, "\"drops\":{") : NULL;
        const char *e = d ? strchr(d, '}') : NULL;
        if (!e) {
            out("{\"reply\":\"%s\",\"ok\":false,\"error\":\"no such bearer\"}", cmd);
            return;
        }
        out("{\"reply\":\"%s\",\"ok\":true,%.*s}", cmd, (int)(e + 1 - d), d);
    } else if (!strcmp(cmd, "capture_start")) {
        /* msgrctl capture start FILE bearer ID: a pcap of what the bearer carries */
        char file[256] = "";
        jstr(line, "file", file, sizeof file);
        snprintf(a1, sizeof a1, "%d", (int)jnum_or(line, "bearer", 0));
        rc = ctl("capture", "start", file, "bearer", a1, (char *)NULL);
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true}", cmd);
    } else if (!strcmp(cmd, "capture_stop")) {
        rc = ctl("capture", "stop", (char *)NULL);
        if (rc < 0) { reply_err(cmd, rc); return; }
        reply_obj(cmd);
    } else if (!strcmp(cmd, "remove_bearer")) {
        snprintf(a1, sizeof a1, "%d", (int)jnum_or(line, "bearer", 0));
        rc = ctl("bearer", "del", a1, (char *)NULL);
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true}", cmd);
    } else if (!strcmp(cmd, "send")) {
        /* The body goes in pieces (control arguments are at most 255 octets). */
        size_t len = jstr(line, "body", sbuf, sizeof sbuf) ? unhex(sbuf, buf, sizeof buf) : 0;
        rc = ctl("drv", "body", "reset", (char *)NULL);
        for (size_t o = 0; rc >= 0 && o < len;) {
            const char *argv[MIPC_MAX_ARGS];
            size_t lens[MIPC_MAX_ARGS];
            int argc = 2;
            argv[0] = "drv";
            lens[0] = 3;
            argv[1] = "body";
            lens[1] = 4;
            while (argc < MIPC_MAX_ARGS && o < len) {
                size_t k = len - o < 255 ? len - o : 255;
                if (k == 5 && argc == 2 && !memcmp(buf + o, "reset", 5))
                    k = 4; /* never a lone piece that reads "reset" */
                argv[argc] = (const char *)buf + o;
                lens[argc++] = k;
                o += k;
            }
            rc = ctl_raw(argc, argv, lens);
        }
        if (rc >= 0) {
            snprintf(a1, sizeof a1, "%" PRIu64, jnum_or(line, "peer", 0));
            snprintf(a2, sizeof a2, "%" PRIu64, jnum_or(line, "chan", 0));
            snprintf(a3, sizeof a3, "%" PRIu64, jnum_or(line, "type", 0x30));
            rc = ctl("drv", "send", a1, a2, a3, (char *)NULL);
        }
        if (rc < 0) { reply_err(cmd, rc); return; }
        reply_obj(cmd);
    } else if (!strcmp(cmd, "publish")) {
        char name[128] = "";
        jstr(line, "name", name, sizeof name);
        uint32_t id = (uint32_t)jnum_or(line, "device", 1);
        uint16_t dtype = (uint16_t)jnum_or(line, "dtype", 0);
        uint8_t rank = (uint8_t)jnum_or(line, "rank", 0);
        bool excl = jnum_or(line, "exclusive", 0) != 0;
        int i = dev_find(id);
        bool manual = i >= 0 && g_dev[i].manual;
        if (i >= 0 && strcmp(g_dev[i].name, name) != 0) {
            /* device_add gave it a placeholder name: register it again under this one */
            rc = msgr_device_unregister(g_m, id);
            dev_forget(i);
            i = -1;
        }
        if (rc >= 0 && i < 0) {
            rc = dev_register(id, name, dtype, rank, excl, manual, true);
        } else if (rc >= 0) {
            /* a change of a published device: new record, published with a new generation */
            char a4[8];
            snprintf(a1, sizeof a1, "%" PRIu32, id);
            snprintf(a2, sizeof a2, "%u", dtype);
            snprintf(a3, sizeof a3, "%u", rank);
            snprintf(a4, sizeof a4, "%d", excl);
            rc = ctl("drv", "device_set", a1, a2, a3, a4, (char *)NULL);
            if (rc >= 0)
                rc = msgr_publish(g_m, id);
        }
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true,\"device\":%" PRIu32 "}", cmd, id);
    } else if (!strcmp(cmd, "device_add")) {
        uint32_t id = (uint32_t)jnum_or(line, "device", 1);
        char name[64];
        snprintf(name, sizeof name, "drv/dev%" PRIu32, id);
        int i = dev_find(id);
        if (i >= 0 && g_dev[i].manual == (jnum_or(line, "auto_accept", 1) == 0)) {
            /* publish already registered it (a msgrd device is both named and a path end) */
            out("{\"reply\":\"%s\",\"ok\":true,\"device\":%" PRIu32 "}", cmd, id);
            return;
        }
        rc = dev_register(id, name, 0, 0, false, jnum_or(line, "auto_accept", 1) == 0, false);
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true,\"device\":%" PRIu32 "}", cmd, id);
    } else if (!strcmp(cmd, "withdraw")) {
        rc = msgr_withdraw(g_m, (uint32_t)jnum_or(line, "device", 1));
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true}", cmd);
    } else if (!strcmp(cmd, "path_open")) {
        /* libmsgr opens by name: the name the peer published for peer_device. */
        char name[128] = "";
        if (!jstr(line, "name", name, sizeof name) || !name[0]) {
            out("{\"reply\":\"path_open\",\"ok\":false,\"error\":\"msgrd opens paths by name: "
                "give the name of peer_device\"}");
            return;
        }
        char kind[16] = "";
        jstr(line, "kind", kind, sizeof kind);
        uint32_t path = 0;
        rc = msgr_open(g_m, (uint32_t)jnum_or(line, "device", 1), name,
                       !strcmp(kind, "pattern") ? MSGR_OPEN_PATTERN
                       : !strcmp(kind, "anycast") ? MSGR_OPEN_ANYCAST : MSGR_OPEN_NAME, &path);
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true,\"path\":%" PRIu32 "}", cmd, path);
    } else if (!strcmp(cmd, "path_send")) {
        size_t len = jstr(line, "data", sbuf, sizeof sbuf) ? unhex(sbuf, buf, sizeof buf) : 0;
        rc = msgr_send(g_m, (uint32_t)jnum_or(line, "path", 0), buf, len, 0);
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true}", cmd);
    } else if (!strcmp(cmd, "path_close")) {
        rc = msgr_path_close(g_m, (uint32_t)jnum_or(line, "path", 0));
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true}", cmd);
    } else if (!strcmp(cmd, "path_accept")) {
        rc = msgr_accept(g_m, (uint32_t)jnum_or(line, "path", 0));
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true}", cmd);
    } else if (!strcmp(cmd, "path_consume")) {
        /* msgrd consumes a message (returning credit) when it is written into the
         * application's socket (stack/daemon/README.md): nothing to do here. */
        out("{\"reply\":\"%s\",\"ok\":true,\"auto\":true}", cmd);
    } else if (!strcmp(cmd, "link_info")) {
        snprintf(a1, sizeof a1, "%" PRIu64, jnum_or(line, "peer", 0));
        snprintf(a2, sizeof a2, "%" PRIu64, jnum_or(line, "bearer", 0));
        rc = ctl("drv", "link", a1, a2, (char *)NULL);
        if (rc < 0) { reply_err(cmd, rc); return; }
        reply_obj(cmd);
    } else if (!strcmp(cmd, "stats") || !strcmp(cmd, "name_stats") ||
               !strcmp(cmd, "path_stats")) {
        rc = ctl("drv", cmd, (char *)NULL);
        if (rc < 0) { reply_err(cmd, rc); return; }
        reply_obj(cmd);
    } else if (!strcmp(cmd, "lookup")) {
        char name[128] = "";
        jstr(line, "name", name, sizeof name);
        rc = ctl("drv", "lookup", name, (char *)NULL);
        if (rc < 0) { reply_err(cmd, rc); return; }
        reply_obj(cmd);
    } else if (!strcmp(cmd, "path_info")) {
        snprintf(a1, sizeof a1, "%" PRIu64, jnum_or(line, "path", 0));
        rc = ctl("drv", "path_info", a1, (char *)NULL);
        if (rc < 0) { reply_err(cmd, rc); return; }
        reply_obj(cmd);
    } else {
        out("{\"reply\":\"%s\",\"ok\":false,\"error\":\"unknown command\"}", cmd);
        return;
    }
}

static void process_lines(void)
{
    g_in[g_inlen] = 0;
    char *s = g_in, *nl;
    while (!g_quit && (nl = strchr(s, '\n'))) {
        *nl = 0;
        if (*s)
            cmd_line(s);
        s = nl + 1;
    }
    g_inlen = (size_t)(g_in + g_inlen - s);
    memmove(g_in, s, g_inlen);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--msgrd") && i + 1 < argc)
            g_msgrd = argv[++i];
        else {
            fprintf(stderr, "usage: msgrd_adapter --msgrd PATH\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    while (!g_quit) {
        /* Poll stdin and libmsgr's socket; the daemon's event log every 5 ms. */
        struct pollfd p[2] = {{0, POLLIN, 0}, {g_m ? msgr_fd(g_m) : -1, POLLIN, 0}};
        int r = poll(p, 2, g_started ? 5 : -1);
        if (r < 0 && errno != EINTR)
            break;
        if (p[0].revents) {
            ssize_t k = read(0, g_in + g_inlen, sizeof g_in - 1 - g_inlen);
            if (k <= 0)
                break;
            g_inlen += (size_t)k;
            process_lines();
        }
        if (g_started && !g_quit) {
            pump_msgr();
            pump_drv();
            if (g_pid > 0 && waitpid(g_pid, NULL, WNOHANG) == g_pid) {
                fprintf(stderr, "msgrd_adapter: msgrd exited\n");
                g_pid = 0;
                break;
            }
        }
    }
    daemon_stop();
    return 0;
}
