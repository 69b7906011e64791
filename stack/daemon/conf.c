/*
 * conf.c — msgrd's configuration parser (format in README.md).  No I/O and no global
 * state: the daemon reads the file and hands the bytes here, and so does the fuzz target.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void msgrd_conf_init(msgrd_conf *c)
{
    memset(c, 0, sizeof *c);
    c->mode = 0660;
    c->notify_fd = -1;
    c->minet.offload = 1;
    snprintf(c->socket, sizeof c->socket, "/run/msgr/msgrd.sock");
}

void msgrd_conf_free(msgrd_conf *c)
{
    for (int i = 0; i < c->nbearers; i++)
        free(c->bearers[i]);
    c->nbearers = 0;
}

int msgrd_conf_bearer(msgrd_conf *c, const char *spec)
{
    if (c->nbearers >= MSGRD_CONF_MAX_BEARERS || !spec[0] || strchr(spec, '\n'))
        return -1;
    char *s = strdup(spec);
    if (!s)
        return -1;
    c->bearers[c->nbearers++] = s;
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

int msgrd_conf_num(const char *v, unsigned long min, unsigned long max, unsigned long *out)
{
    char *e;
    errno = 0;
    unsigned long x = strtoul(v, &e, 0);
    /* strtoul accepts a sign and wraps "-1" to ULONG_MAX; an id, a count or a size never
     * has one */
    if (errno || !*v || *v == '-' || *v == '+' || *e || x < min || x > max)
        return -1;
    *out = x;
    return 0;
}

int msgrd_conf_str(char *dst, size_t cap, const char *v, size_t min)
{
    size_t n = strlen(v);
    if (n < min || n >= cap)
        return -1;
    memcpy(dst, v, n + 1);
    return 0;
}

int msgrd_conf_bool(const char *v, int *out)
{
    static const char *const t[] = {"yes", "on", "true", "1"};
    static const char *const f[] = {"no", "off", "false", "0"};
    for (unsigned i = 0; i < 4; i++)
        if (!strcmp(v, t[i]) || !strcmp(v, f[i])) {
            *out = !strcmp(v, t[i]);
            return 0;
        }
    return -1;
}

int msgrd_conf_word(const char *v, size_t cap)
{
    size_t n = strlen(v);
    if (n == 0 || n >= cap)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = v[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return 0;
    }
    return 1;
}

static int str(char *dst, size_t cap, const char *v)
{
    return snprintf(dst, cap, "%s", v) < (int)cap ? 0 : -1;
}

/* keep_caps: "none", or a comma list of the capabilities a running daemon can use
 * (priv.c maps the names); checked here so that a typo fails at start-up with file:line. */
static bool caps_ok(const char *v)
{
    if (!strcmp(v, "none") || !*v)
        return true;
    char b[64];
    if (snprintf(b, sizeof b, "%s", v) >= (int)sizeof b)
        return false;
    for (char *save = NULL, *t = strtok_r(b, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (strcmp(t, "net_raw") && strcmp(t, "net_admin") && strcmp(t, "net_bind_service"))
            return false;
    return true;
}

int msgrd_conf_key(msgrd_conf *c, const char *k, const char *v)
{
    if (!strcmp(k, "node_id") || !strcmp(k, "node-id"))
        return msgrd_conf_num(v, 0, 0xFFFFFFFEul, &c->node_id);
    if (!strcmp(k, "domain"))
        return msgrd_conf_num(v, 0, 0xFFFFFFFFul, &c->domain);
    if (!strcmp(k, "tolerance"))
        return msgrd_conf_num(v, 0, 30000, &c->tolerance);
    if (!strcmp(k, "socket"))
        return *v ? str(c->socket, sizeof c->socket, v) : -1;
    if (!strcmp(k, "socket_mode")) {
        char *e;
        errno = 0;
        unsigned long x = strtoul(v, &e, 8);
        if (errno || !*v || *v == '-' || *v == '+' || *e || x > 0777)
            return -1;
        c->mode = (mode_t)x;
        return 0;
    }
    if (!strcmp(k, "socket_owner"))
        return str(c->owner, sizeof c->owner, v);
    if (!strcmp(k, "socket_group"))
        return str(c->group, sizeof c->group, v);
    if (!strcmp(k, "pidfile"))
        return str(c->pidfile, sizeof c->pidfile, v);
    if (!strcmp(k, "log_level") || !strcmp(k, "log-level"))
        return str(c->log, sizeof c->log, v);
    if (!strcmp(k, "bearer"))
        return msgrd_conf_bearer(c, v);
    if (!strcmp(k, "security")) {
        if (strcmp(v, "plain") && strcmp(v, "transition") && strcmp(v, "required"))
            return -1;
        return str(c->security, sizeof c->security, v);
    }
    if (!strcmp(k, "keyfile"))
        return str(c->keyfile, sizeof c->keyfile, v);
    if (!strcmp(k, "user"))
        return *v ? str(c->user, sizeof c->user, v) : -1;
    if (!strcmp(k, "group"))
        return *v ? str(c->run_group, sizeof c->run_group, v) : -1;
    if (!strcmp(k, "keep_caps") || !strcmp(k, "keep-caps"))
        return caps_ok(v) ? str(c->keep_caps, sizeof c->keep_caps, v) : -1;
    return -1;
}

static int fail(char *err, size_t errlen, int lno, const char *fmt, ...)
{
    int n = snprintf(err, errlen, "%d: ", lno);
    if (n >= 0 && (size_t)n < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A [bearer] section's keys build one spec: "type" (or a whole "spec") first, then k=v. */
static int bearer_key(char *spec, size_t cap, const char *k, const char *v)
{
    size_t l = strlen(spec);
    int n;
    if (!strcmp(k, "type"))
        n = l || !*v ? -1 : snprintf(spec, cap, "%s:", v);
    else if (!strcmp(k, "spec"))
        n = l || !*v ? -1 : snprintf(spec, cap, "%s", v);
    else
        n = l ? snprintf(spec + l, cap - l, "%s%s=%s", spec[l - 1] == ':' ? "" : ",", k, v) : -1;
    return n < 0 || (size_t)n >= cap - l ? -1 : 0;
}

int msgrd_conf_parse(msgrd_conf *c, const char *text, size_t len, char *err, size_t errlen)
{
    char line[MSGRD_CONF_MAX_LINE], spec[MSGRD_CONF_MAX_LINE] = "";
    bool in_bearer = false;
    int ha_sec = 0; /* 1 in [ha], 2 in [exec] (conf_ha.c), 3 in [iop NAME] (conf_iop.c) */
    bool in_minet = false; /* in [minet] (conf_minet.c) */
    int lno = 0;
    size_t pos = 0;
    while (pos < len) {
        lno++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        if (n >= sizeof line)
            return fail(err, errlen, lno, "line too long (max %d bytes)", MSGRD_CONF_MAX_LINE - 1);
        if (memchr(text + pos, 0, n))
            return fail(err, errlen, lno, "NUL byte in line");
        memcpy(line, text + pos, n);
        line[n] = 0;
        pos += n + (nl ? 1 : 0);
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        if (*s == '[') {
            if (ha_sec == 2 && msgrd_conf_exec_end(&c->ha) < 0)
                return fail(err, errlen, lno, "[exec] needs a command and a unique name and entity");
            if (ha_sec == 3 && msgrd_conf_iop_end(&c->ha) < 0)
                return fail(err, errlen, lno,
                            "[iop] needs a node and a slot, unique among the [iop]s");
            ha_sec = 0;
            in_minet = false;
            if (in_bearer && spec[0] && msgrd_conf_bearer(c, spec) < 0)
                return fail(err, errlen, lno, "too many bearers (max %d)", MSGRD_CONF_MAX_BEARERS);
            spec[0] = 0;
            if (!strcmp(s, "[bearer]"))
                in_bearer = true;
            else if (!strcmp(s, "[node]"))
                in_bearer = false;
            else if (!strcmp(s, "[minet]"))
                in_bearer = false, in_minet = true, c->minet.enabled = 1; /* unless enabled = no */
            else if (!strcmp(s, "[ha]"))
                in_bearer = false, ha_sec = 1;
            else if (!strcmp(s, "[exec]")) {
                in_bearer = false, ha_sec = 2;
                if (msgrd_conf_exec_begin(&c->ha) < 0)
                    return fail(err, errlen, lno, "too many [exec] (max %d)", MSGRD_CONF_MAX_EXEC);
            } else if (!strncmp(s, "[iop ", 5) && s[strlen(s) - 1] == ']') {
                in_bearer = false, ha_sec = 3;
                s[strlen(s) - 1] = 0;
                if (msgrd_conf_iop_begin(&c->ha, trim(s + 5), lno) < 0)
                    return fail(err, errlen, lno, "bad, duplicate or too many [iop NAME] (max %d; "
                                "NAME 1..15 of A-Z a-z 0-9 _ . -)", MSGRD_CONF_MAX_IOP);
            } else
                return fail(err, errlen, lno, "unknown section %s", s);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq)
            return fail(err, errlen, lno, "expected key = value");
        *eq = 0;
        char *k = trim(s), *v = trim(eq + 1);
        if (in_minet) {
            if (msgrd_conf_minet_key(&c->minet, k, v) < 0)
                return fail(err, errlen, lno, "bad [minet] key or value: %s", k);
        } else if (ha_sec == 1) {
            if (msgrd_conf_ha_key(&c->ha, k, v) < 0) {
                const char *x = msgrd_conf_ha_expect(k);
                return fail(err, errlen, lno, "bad [ha] key or value: %s%s%s%s", k,
                            *x ? " (expected " : "", x, *x ? ")" : "");
            }
        } else if (ha_sec == 2) {
            if (msgrd_conf_exec_key(&c->ha, k, v) < 0)
                return fail(err, errlen, lno, "bad [exec] key or value: %s", k);
        } else if (ha_sec == 3) {
            if (msgrd_conf_iop_key(&c->ha, k, v) < 0)
                return fail(err, errlen, lno, "bad [iop] key or value: %s", k);
        } else if (in_bearer) {
            if (bearer_key(spec, sizeof spec, k, v) < 0)
                return fail(err, errlen, lno, "bad bearer key %s (type or spec first)", k);
        } else if (msgrd_conf_key(c, k, v) < 0) {
            return fail(err, errlen, lno, "bad key or value: %s", k);
        }
    }
    if (in_bearer && spec[0] && msgrd_conf_bearer(c, spec) < 0)
        return fail(err, errlen, lno, "too many bearers (max %d)", MSGRD_CONF_MAX_BEARERS);
    if (ha_sec == 2 && msgrd_conf_exec_end(&c->ha) < 0)
        return fail(err, errlen, lno, "[exec] needs a command and a unique name and entity");
    if (ha_sec == 3 && msgrd_conf_iop_end(&c->ha) < 0)
        return fail(err, errlen, lno, "[iop] needs a node and a slot, unique among the [iop]s");
    int bad = msgrd_conf_iop_check(&c->ha);
    if (bad)
        return fail(err, errlen, bad, "[iop] standby must name another [iop] section");
    return 0;
}
