/*
 * msgr_adapter — the interop driver adapter for this repository's implementation.
 *
 * Hosts one Messenger node through the node runtime (stack/rt, mrt_*: the same loop,
 * clock, RNG and bearer glue as msgrd) and speaks the driver protocol of
 * interop/DRIVER.md: one JSON object per line, commands on stdin, replies and
 * asynchronous events on stdout.  Diagnostics go to stderr.
 *
 * The JSON reader is deliberately minimal: flat objects whose values are numbers,
 * booleans or strings without escapes, which is all the driver protocol uses.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "mc.h"
#include "naming.h"
#include "path.h"
#include "mp/mp.h"
#include "rt.h"

static mrt *g_rt;
static bool g_quit;
static char g_in[1 << 23];
static size_t g_inlen;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

/* ---- minimal JSON field access ---------------------------------------------------- */
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

/* Linear time (sscanf("%2x") rescans the whole remaining string each call: a 200 kB
 * body blocked the node's loop for a second, longer than the link tolerance). */
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

/* ---- events ---------------------------------------------------------------------- */
static const char *ev_name(int t)
{
    switch (t) {
    case MC_EV_LINK_UP: return "link_up";
    case MC_EV_LINK_DOWN: return "link_down";
    case MC_EV_PEER_UP: return "peer_up";
    case MC_EV_PEER_DOWN: return "peer_down";
    case MC_EV_MESSAGE: return "message";
    case MC_EV_DUP_NODE: return "dup_node";
    case MC_EV_FAILOVER: return "failover";
    case MC_EV_NAME: return "name";
    case MC_EV_SEND_LOST: return "send_lost";
    case MC_EV_PATH_STATE: return "path_state";
    case MC_EV_PATH_MSG: return "path_msg";
    case MC_EV_PATH_REQUEST: return "path_request";
    default: return "other";
    }
}

static const char *down_name(int r)
{
    switch (r) {
    case MC_DOWN_TIMEOUT: return "timeout";
    case MC_DOWN_PEER_RESET: return "peer_reset";
    case MC_DOWN_INCARNATION: return "incarnation";
    case MC_DOWN_DETACH: return "detach";
    case MC_DOWN_LAST_LINK: return "last_link";
    case MC_DOWN_STALLED: return "stalled";
    default: return "none";
    }
}

static void on_event(void *user, const mc_event *ev)
{
    (void)user;
    if (ev->type == MC_EV_NAME && ev->name_entry) {
        const mn_entry *e = ev->name_entry;
        out("{\"event\":\"name\",\"t_ns\":%" PRIu64 ",\"name_event\":\"%s\",\"node\":%" PRIu32
            ",\"device\":%" PRIu32 ",\"name\":\"%.*s\",\"generation\":%" PRIu32
            ",\"rank\":%u,\"nflags\":%u}",
            ev->now, ev->name_event == MN_EV_APPEARED ? "appeared" :
            ev->name_event == MN_EV_UPDATED ? "updated" :
            ev->name_event == MN_EV_VANISHED ? "vanished" : "winner",
            e->node_id, e->device_id, (int)e->name_len, (const char *)e->name, e->generation,
            e->rank, e->nflags);
        return;
    }
    static char hex[2 * 70000 + 1];
    size_t n = ev->len < 65536 ? ev->len : 65536;
    if (ev->data)
        hexout(hex, ev->data, n);
    else
        hex[0] = 0;
    out("{\"event\":\"%s\",\"t_ns\":%" PRIu64 ",\"peer\":%" PRIu32 ",\"incarnation\":%" PRIu32
        ",\"bearer\":%d,\"reason\":\"%s\",\"chan\":%" PRIu32 ",\"cseq\":%" PRIu32
        ",\"type\":%u,\"path\":%" PRIu32 ",\"device\":%" PRIu32 ",\"path_state\":%u"
        ",\"count\":%" PRIu32 ",\"code\":%d,\"len\":%zu,\"peer_device\":%" PRIu32 ",\"data\":\"%s\"}",
        ev_name(ev->type), ev->now, ev->peer, ev->incarnation, ev->bearer,
        down_name(ev->reason), ev->chan, ev->cseq, ev->msg_type, ev->path, ev->device,
        ev->path_state, ev->count, ev->reason, ev->len, ev->peer_device, hex);
}

static char g_lk[8192];
static size_t g_lk_o;
static int lk_visit(void *user, const mn_entry *e)
{
    (void)user;
    if (g_lk_o + 128 < sizeof g_lk)
        g_lk_o += (size_t)snprintf(g_lk + g_lk_o, sizeof g_lk - g_lk_o,
                                   "%s{\"node\":%" PRIu32 ",\"device\":%" PRIu32 ",\"rank\":%u,"
                                   "\"nflags\":%u,\"generation\":%" PRIu32 "}",
                                   g_lk_o ? "," : "", e->node_id, e->device_id, e->rank, e->nflags,
                                   e->generation);
    return 0;
}

/* ---- commands -------------------------------------------------------------------- */
static void reply_err(const char *cmd, int rc)
{
    out("{\"reply\":\"%s\",\"ok\":false,\"error\":\"%s\",\"code\":%d}", cmd,
        rc <= -200 || (rc <= -100 && rc > -200) ? mrt_strerror(rc) : mc_strerror(rc), rc);
}

static void cmd_line(char *line)
{
    char cmd[64] = "";
    static uint8_t buf[1 << 21];
    static char sbuf[(1 << 22) + 16];
    if (!jstr(line, "cmd", cmd, sizeof cmd)) {
        out("{\"reply\":\"?\",\"ok\":false,\"error\":\"no cmd\"}");
        return;
    }
    if (!strcmp(cmd, "hello")) {
        out("{\"reply\":\"hello\",\"ok\":true,\"impl\":\"messenger stack/rt + stack/core\","
            "\"protocol\":1,\"caps\":[\"udp\",\"eth\",\"send\",\"decode\",\"publish\","
            "\"paths\",\"link_info\",\"stats\",\"deframe\",\"caphdr\",\"lookup\","
            "\"path_info\"]}");
        return;
    }
    if (!strcmp(cmd, "decode")) {
        size_t n = jstr(line, "hex", sbuf, sizeof sbuf) ? unhex(sbuf, buf, sizeof buf) : 0;
        mp_frame f;
        int rc = mp_decode(buf, n, &f);
        if (rc < 0)
            out("{\"reply\":\"decode\",\"ok\":true,\"valid\":false,\"error\":\"%s\"}",
                mp_errname(rc));
        else
            out("{\"reply\":\"decode\",\"ok\":true,\"valid\":true,\"error\":null}");
        return;
    }
    if (!strcmp(cmd, "deframe")) {
        /* The IUT's serial de-framer (14.3), fed octet by octet, capacity `cap`. */
        size_t n = jstr(line, "hex", sbuf, sizeof sbuf) ? unhex(sbuf, buf, sizeof buf) : 0;
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
        return;
    }
    if (!strcmp(cmd, "caphdr")) {
        size_t n = jstr(line, "hex", sbuf, sizeof sbuf) ? unhex(sbuf, buf, sizeof buf) : 0;
        mp_caphdr h;
        int rc = mp_caphdr_decode(buf, n, &h);
        if (rc < 0)
            out("{\"reply\":\"caphdr\",\"ok\":true,\"valid\":false,\"error\":\"%s\"}",
                mp_errname(rc));
        else
            out("{\"reply\":\"caphdr\",\"ok\":true,\"valid\":true,\"error\":null,"
                "\"bearer\":%u,\"cflags\":%u,\"bearer_index\":%u}",
                h.bearer, h.cflags, h.bearer_index);
        return;
    }
    if (!strcmp(cmd, "quit")) {
        out("{\"reply\":\"quit\",\"ok\":true}");
        g_quit = true;
        return;
    }
    if (!strcmp(cmd, "start")) {
        if (g_rt) {
            out("{\"reply\":\"start\",\"ok\":false,\"error\":\"already started\"}");
            return;
        }
        mrt_config c = {0};
        c.node_id = (uint32_t)jnum_or(line, "node_id", 1);
        c.domain = (uint32_t)jnum_or(line, "domain", 0);
        c.tolerance_ms = (uint16_t)jnum_or(line, "tolerance_ms", 0);
        c.window = (uint16_t)jnum_or(line, "window", 0);
        c.event = on_event;
        int rc = mrt_create(&c, &g_rt);
        if (rc < 0) {
            reply_err(cmd, rc);
            return;
        }
        out("{\"reply\":\"start\",\"ok\":true,\"node_id\":%" PRIu32 ",\"incarnation\":%" PRIu32 "}",
            mc_node_id(mrt_node(g_rt)), mc_incarnation(mrt_node(g_rt)));
        return;
    }
    if (!g_rt) {
        out("{\"reply\":\"%s\",\"ok\":false,\"error\":\"not started\"}", cmd);
        return;
    }
    mc_node *n = mrt_node(g_rt);
    uint64_t now = mrt_now();
    int rc = 0;
    if (!strcmp(cmd, "add_bearer")) {
        char spec[512];
        if (!jstr(line, "spec", spec, sizeof spec)) {
            out("{\"reply\":\"add_bearer\",\"ok\":false,\"error\":\"no spec\"}");
            return;
        }
        rc = mrt_add_bearer(g_rt, spec);
        if (rc < 0) { reply_err(cmd, rc); return; }
        mrt_bearer_info bi;
        char addr[64] = "";
        if (mrt_bearer_get(g_rt, rc, &bi) == 0)
            hexout(addr, bi.local.b, bi.local.len < 30 ? bi.local.len : 30);
        out("{\"reply\":\"add_bearer\",\"ok\":true,\"bearer\":%d,\"local\":\"%s\"}", rc, addr);
    } else if (!strcmp(cmd, "remove_bearer")) {
        rc = mrt_remove_bearer(g_rt, (int)jnum_or(line, "bearer", 0));
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true}", cmd);
    } else if (!strcmp(cmd, "send")) {
        size_t len = jstr(line, "body", sbuf, sizeof sbuf) ? unhex(sbuf, buf, sizeof buf) : 0;
        uint32_t cseq = 0;
        rc = mc_send(n, (uint32_t)jnum_or(line, "peer", 0), (uint32_t)jnum_or(line, "chan", 0),
                     (uint8_t)jnum_or(line, "type", MP_T_MGMT), buf, len, now, &cseq);
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"send\",\"ok\":true,\"cseq\":%" PRIu32 "}", cseq);
    } else if (!strcmp(cmd, "publish")) {
        char name[128] = "";
        jstr(line, "name", name, sizeof name);
        mp_name_rec r;
        memset(&r, 0, sizeof r);
        r.device_id = (uint32_t)jnum_or(line, "device", 1);
        r.dtype = (uint16_t)jnum_or(line, "dtype", 0);
        r.rank = (uint8_t)jnum_or(line, "rank", 0);
        r.nflags = jnum_or(line, "exclusive", 0) ? 1 : 0;
        r.generation = (uint32_t)jnum_or(line, "generation", 1);
        r.name.ptr = (const uint8_t *)name;
        r.name.len = strlen(name);
        rc = mc_publish(n, &r, now);
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true}", cmd);
    } else if (!strcmp(cmd, "device_add")) {
        rc = mc_path_device_add(n, (uint32_t)jnum_or(line, "device", 1),
                                jnum_or(line, "auto_accept", 1) ? MC_DEV_AUTO_ACCEPT : 0);
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true}", cmd);
    } else if (!strcmp(cmd, "path_open")) {
        uint32_t path = 0;
        rc = mc_path_open(n, (uint32_t)jnum_or(line, "device", 1),
                          (uint32_t)jnum_or(line, "peer", 0),
                          (uint32_t)jnum_or(line, "peer_device", 0), now, &path);
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true,\"path\":%" PRIu32 "}", cmd, path);
    } else if (!strcmp(cmd, "path_send")) {
        size_t len = jstr(line, "data", sbuf, sizeof sbuf) ? unhex(sbuf, buf, sizeof buf) : 0;
        rc = mc_path_send(n, (uint32_t)jnum_or(line, "path", 0), buf, len, now);
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true}", cmd);
    } else if (!strcmp(cmd, "path_close")) {
        rc = mc_path_close(n, (uint32_t)jnum_or(line, "path", 0), now);
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true}", cmd);
    } else if (!strcmp(cmd, "link_info")) {
        mc_link_info li;
        rc = mc_link_get(n, (uint32_t)jnum_or(line, "peer", 0), (int)jnum_or(line, "bearer", 0),
                         &li);
        if (rc < 0) {
            out("{\"reply\":\"link_info\",\"ok\":true,\"state\":\"NONE\"}");
            return;
        }
        out("{\"reply\":\"link_info\",\"ok\":true,\"state\":\"%s\",\"tolerance_ms\":%u,"
            "\"window\":%u,\"mtu\":%u,\"probe_ms\":%u,\"inflight\":%" PRIu32 ","
            "\"retransmits\":%" PRIu64 ",\"dup_rx\":%" PRIu64 ",\"ooo_rx\":%" PRIu64 "}",
            mc_link_state_name(li.state), li.tolerance_ms, li.window, li.mtu, li.probe_ms,
            li.inflight, li.stats.retransmits, li.stats.dup_rx, li.stats.ooo_rx);
    } else if (!strcmp(cmd, "stats")) {
        mc_stats st;
        mc_get_stats(n, &st);
        char b[4096];
        size_t o = 0;
        o += (size_t)snprintf(b + o, sizeof b - o, "{\"reply\":\"stats\",\"ok\":true,"
                              "\"delivered\":%" PRIu64 ",\"drops\":{", st.delivered);
        for (int i = 0; i < MC_DROP_COUNT && o < sizeof b - 64; i++)
            o += (size_t)snprintf(b + o, sizeof b - o, "%s\"%s\":%" PRIu64, i ? "," : "",
                                  mc_drop_name(i), st.drops[i]);
        snprintf(b + o, sizeof b - o, "}}");
        out("%s", b);
    } else if (!strcmp(cmd, "withdraw")) {
        char name[128] = "";
        jstr(line, "name", name, sizeof name);
        rc = mc_withdraw(n, (uint32_t)jnum_or(line, "device", 1), name, now);
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true}", cmd);
    } else if (!strcmp(cmd, "lookup")) {
        /* The group of `name` in conflict-rule order, and the winner (8.5, 8.7). */
        char name[128] = "";
        jstr(line, "name", name, sizeof name);
        const mn_table *t = mc_names(n);
        if (!t) { reply_err(cmd, MC_ENOTSUP); return; }
        g_lk_o = 0;
        g_lk[0] = 0;
        mn_foreach_name(t, (const uint8_t *)name, strlen(name), lk_visit, NULL);
        const mn_entry *w = mn_lookup(t, (const uint8_t *)name, strlen(name));
        out("{\"reply\":\"lookup\",\"ok\":true,\"entries\":[%s],\"winner\":[%" PRIu32 ",%" PRIu32
            "]}", g_lk, w ? w->node_id : 0, w ? w->device_id : 0);
        return;
    } else if (!strcmp(cmd, "name_stats")) {
        const mn_table *t = mc_names(n);
        if (!t) { reply_err(cmd, MC_ENOTSUP); return; }
        mn_stats ns;
        mn_get_stats(t, &ns);
        out("{\"reply\":\"name_stats\",\"ok\":true,\"entries\":%" PRIu32 ",\"stale_ignored\":%"
            PRIu64 ",\"dup_ignored\":%" PRIu64 ",\"unknown_withdraw\":%" PRIu64
            ",\"rejected\":%" PRIu64 ",\"sync_swept\":%" PRIu64 "}", ns.entries, ns.stale_ignored,
            ns.dup_ignored, ns.unknown_withdraw, ns.rejected, ns.sync_swept);
        return;
    } else if (!strcmp(cmd, "path_accept")) {
        rc = mc_path_accept(n, (uint32_t)jnum_or(line, "path", 0));
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true}", cmd);
    } else if (!strcmp(cmd, "path_consume")) {
        rc = mc_path_consume(n, (uint32_t)jnum_or(line, "path", 0),
                             (uint32_t)jnum_or(line, "count", 1), now);
        if (rc < 0) { reply_err(cmd, rc); return; }
        out("{\"reply\":\"%s\",\"ok\":true}", cmd);
    } else if (!strcmp(cmd, "path_info")) {
        mpa_ctx *pc = mc_paths(n);
        mpa_info pi;
        if (!pc || mpa_get_info(pc, (uint32_t)jnum_or(line, "path", 0), &pi) < 0) {
            out("{\"reply\":\"path_info\",\"ok\":true,\"state\":\"NONE\"}");
            return;
        }
        out("{\"reply\":\"path_info\",\"ok\":true,\"state\":\"%s\",\"reason\":%u,"
            "\"peer_path\":%" PRIu32 ",\"tx_next\":%" PRIu32 ",\"tx_limit\":%" PRIu32
            ",\"rx_next\":%" PRIu32 ",\"rx_limit\":%" PRIu32 ",\"window\":%" PRIu32
            ",\"unconsumed\":%" PRIu32 "}",
            mpa_state_name(pi.state), pi.reason, pi.peer_path, pi.tx_next, pi.tx_limit,
            pi.rx_next, pi.rx_limit, pi.window, pi.unconsumed);
        return;
    } else if (!strcmp(cmd, "path_stats")) {
        mpa_ctx *pc = mc_paths(n);
        if (!pc) { reply_err(cmd, MC_ENOTSUP); return; }
        mpa_stats ps;
        mpa_get_stats(pc, &ps);
        out("{\"reply\":\"path_stats\",\"ok\":true,\"paths\":%" PRIu32 ",\"duplicates\":%" PRIu64
            ",\"reorder_overflow\":%" PRIu64 ",\"credit_violations\":%" PRIu64
            ",\"stray\":%" PRIu64 ",\"late\":%" PRIu64 ",\"proto_errors\":%" PRIu64
            ",\"credits_sent\":%" PRIu64 ",\"delivered\":%" PRIu64 "}", ps.paths, ps.duplicates,
            ps.reorder_overflow, ps.credit_violations, ps.stray, ps.late, ps.proto_errors,
            ps.credits_sent, ps.delivered);
        return;
    } else {
        out("{\"reply\":\"%s\",\"ok\":false,\"error\":\"unknown command\"}", cmd);
        return;
    }
    mrt_flush(g_rt);
}

static void process_lines(void)
{
    g_in[g_inlen] = 0;
    char *s = g_in, *nl;
    while ((nl = strchr(s, '\n'))) {
        *nl = 0;
        if (*s)
            cmd_line(s);
        s = nl + 1;
    }
    g_inlen = (size_t)(g_in + g_inlen - s);
    memmove(g_in, s, g_inlen);
}

static void on_stdin(void *user, int fd, uint32_t events)
{
    (void)user;
    (void)events;
    ssize_t r = read(fd, g_in + g_inlen, sizeof g_in - 1 - g_inlen);
    if (r <= 0) {
        if (r == 0 || (errno != EAGAIN && errno != EINTR))
            g_quit = true;
        return;
    }
    g_inlen += (size_t)r;
    process_lines();
}

int main(void)
{
    /* Before "start" there is no runtime: read commands with plain reads. */
    while (!g_rt && !g_quit) {
        ssize_t r = read(0, g_in + g_inlen, sizeof g_in - 1 - g_inlen);
        if (r <= 0)
            return 0;
        g_inlen += (size_t)r;
        g_in[g_inlen] = 0;
        char *s = g_in, *nl;
        while ((nl = strchr(s, '\n'))) {
            *nl = 0;
            if (*s)
                cmd_line(s);
            s = nl + 1;
            if (g_rt)
                break;
        }
        g_inlen = (size_t)(g_in + g_inlen - s);
        memmove(g_in, s, g_inlen);
    }
    if (!g_rt)
        return 0;
    mrt_add_fd(g_rt, 0, EPOLLIN, on_stdin, NULL);
    if (g_inlen)
        process_lines();
    while (!g_quit)
        mrt_run_once(g_rt, 50);
    mrt_destroy(g_rt);
    return 0;
}
