/*
 * bearer.c — the generic half of every bearer: registry, argument checks, counters,
 * enable flag, capture hook, config-string parsing, errno mapping.
 */
#define _GNU_SOURCE
#include "bearer_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mp/wire.h"

/* ---- Errors ------------------------------------------------------------------------ */
static const char *const mb_err_text[MB_ERR_COUNT] = {
    [0] = "success",
    [1] = "invalid argument or configuration",
    [2] = "out of memory",
    [3] = "I/O error",
    [4] = "would block (buffer or ring full)",
    [5] = "frame longer than the bearer MTU",
    [6] = "no such device, interface or peer",
    [7] = "permission denied (needs privileges)",
    [8] = "bad or unsupported media address",
    [9] = "bearer disabled or carrier down",
    [10] = "peer violated the shared-memory layout",
    [11] = "operation not supported by this bearer",
    [12] = "name already in use",
};

const char *mb_strerror(int err)
{
    if (err > 0 || err <= -MB_ERR_COUNT)
        return "unknown bearer error";
    return mb_err_text[-err];
}

int mb__errno(int e)
{
    switch (e) {
    case 0: return MB_OK;
    case EAGAIN: case ENOBUFS: case EINTR: return MB_EAGAIN;
    case ENOMEM: return MB_ENOMEM;
    case ENODEV: case ENXIO: case ENOENT: case ECONNREFUSED: case ENETDOWN:
    case ENETUNREACH: case EHOSTUNREACH: return MB_ENODEV;
    case EPERM: case EACCES: return MB_EPERM;
    case EINVAL: return MB_EINVAL;
    case EMSGSIZE: return MB_ETOOBIG;
    case EADDRINUSE: case EEXIST: return MB_EEXIST;
    case EADDRNOTAVAIL: case EAFNOSUPPORT: case EDESTADDRREQ: return MB_EADDR;
    case EOPNOTSUPP: return MB_ENOTSUP;
    default: return MB_EIO;
    }
}

void mb__log(const char *who, const char *fmt, ...)
{
    /* At most 20 lines per second per process: the data path may log on errors. */
    static time_t window;
    static unsigned count;
    time_t now = time(NULL);
    if (now != window) {
        window = now;
        count = 0;
    }
    if (++count > 20)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "mb[%s]: %s\n", who ? who : "?", line);
}

/* ---- Registry ---------------------------------------------------------------------- */
static const struct mb_bearer_ops *const mb_registry[] = {
    &mb_eth_ops, &mb_eth_pcap_ops, &mb_udp_ops, &mb_serial_ops, &mb_pcie_ops,
};

const struct mb_bearer_ops *mb_ops_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof mb_registry / sizeof mb_registry[0]; i++)
        if (strcmp(mb_registry[i]->name, name) == 0)
            return mb_registry[i];
    return NULL;
}

/* ---- Lifecycle ----------------------------------------------------------------------- */
int mb_open(const struct mb_bearer_ops *ops, const char *config, mb_rx_fn rx, void *user,
            struct mb_bearer **out)
{
    if (!ops || !rx || !out || !ops->open || !ops->close || !ops->send || !ops->fd ||
        !ops->on_readable)
        return MB_EINVAL;
    *out = NULL;
    struct mb_bearer *b = calloc(1, sizeof *b);
    if (!b)
        return MB_ENOMEM;
    b->ops = ops;
    b->rx = rx;
    b->user = user;
    b->enabled = true;
    int rc = ops->open(b, config ? config : "");
    if (rc < 0) {
        free(b);
        return rc;
    }
    *out = b;
    return 0;
}

int mb_open_spec(const char *spec, mb_rx_fn rx, void *user, struct mb_bearer **out)
{
    if (!spec)
        return MB_EINVAL;
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    char name[32];
    if (n == 0 || n >= sizeof name)
        return MB_EINVAL;
    memcpy(name, spec, n);
    name[n] = 0;
    const struct mb_bearer_ops *ops = mb_ops_find(name);
    if (!ops)
        return MB_EINVAL;
    return mb_open(ops, colon ? colon + 1 : "", rx, user, out);
}

void mb_close(struct mb_bearer *b)
{
    if (!b)
        return;
    b->ops->close(b);
    free(b);
}

/* ---- Data path ----------------------------------------------------------------------- */
static int mb_tx_check(struct mb_bearer *b, size_t len)
{
    if (!b->enabled) {
        b->st.tx_down++;
        return MB_EDOWN;
    }
    if (len > b->mtu) {
        b->st.tx_too_long++;
        return MB_ETOOBIG;
    }
    return 0;
}

static void mb_tx_count(struct mb_bearer *b, int rc, size_t len)
{
    if (rc >= 0) {
        b->st.tx_frames++;
        b->st.tx_bytes += len;
    } else if (rc == MB_EAGAIN) {
        b->st.tx_full++;
    } else if (rc == MB_EDOWN) {
        b->st.tx_down++;
    } else if (rc == MB_ETOOBIG) {
        b->st.tx_too_long++;
    } else {
        b->st.tx_errors++;
    }
}

int mb_send(struct mb_bearer *b, const uint8_t *frame, size_t len, const struct mb_addr *dst)
{
    if (!b || (!frame && len))
        return MB_EINVAL;
    int rc = mb_tx_check(b, len);
    if (rc < 0)
        return rc;
    rc = b->ops->send(b, frame, len, dst);
    mb_tx_count(b, rc, len);
    return rc < 0 ? rc : 0;
}

int mb_send_batch(struct mb_bearer *b, const struct mb_txmsg *v, unsigned n)
{
    if (!b || (!v && n))
        return MB_EINVAL;
    if (n == 0)
        return 0;
    /* Frames over the MTU split the batch: send what precedes them, refuse them. */
    unsigned ok = 0;
    while (ok < n && v[ok].len <= b->mtu && (v[ok].frame || !v[ok].len))
        ok++;
    if (!b->enabled) {
        b->st.tx_down++;
        return MB_EDOWN;
    }
    if (ok == 0) {
        b->st.tx_too_long++;
        return MB_ETOOBIG;
    }
    if (!b->ops->send_batch) {
        unsigned i;
        for (i = 0; i < ok; i++) {
            int rc = b->ops->send(b, v[i].frame, v[i].len, v[i].dst);
            mb_tx_count(b, rc, v[i].len);
            if (rc < 0)
                return i ? (int)i : rc;
        }
        return (int)i;
    }
    int rc = b->ops->send_batch(b, v, ok);
    if (rc < 0) {
        mb_tx_count(b, rc, 0);
        return rc;
    }
    for (int i = 0; i < rc; i++)
        mb_tx_count(b, 0, v[i].len);
    return rc;
}

int mb_fd(const struct mb_bearer *b) { return b ? b->ops->fd(b) : -1; }

int mb_on_readable(struct mb_bearer *b, unsigned budget)
{
    if (!b)
        return MB_EINVAL;
    if (budget == 0)
        budget = 64;
    return b->ops->on_readable(b, budget);
}

int mb__deliver(struct mb_bearer *b, const uint8_t *frame, size_t len, const struct mb_addr *src)
{
    if (!b->enabled) {
        b->st.drop_disabled++;
        return 0;
    }
    b->st.rx_frames++;
    b->st.rx_bytes += len;
    static const struct mb_addr none = {0};
    b->rx(b->user, frame, len, src ? src : &none);
    return 1;
}

void mb__set_carrier(struct mb_bearer *b, bool up)
{
    if (b->carrier != up) {
        b->carrier = up;
        b->st.carrier_changes++;
    }
}

/* ---- Control --------------------------------------------------------------------------- */
int mb_set_enabled(struct mb_bearer *b, bool on)
{
    if (!b)
        return MB_EINVAL;
    if (b->ops->set_enabled) {
        int rc = b->ops->set_enabled(b, on);
        if (rc < 0)
            return rc;
    }
    b->enabled = on;
    return 0;
}

bool mb_enabled(const struct mb_bearer *b) { return b && b->enabled; }
bool mb_carrier(const struct mb_bearer *b) { return b && b->carrier; }

int mb_reopen(struct mb_bearer *b)
{
    if (!b)
        return MB_EINVAL;
    return b->ops->reopen ? b->ops->reopen(b) : MB_ENOTSUP;
}

void mb_get_stats(const struct mb_bearer *b, struct mb_stats *out)
{
    if (!b || !out)
        return;
    *out = b->st;
    if (b->ops->stats)
        b->ops->stats(b, out);
}

const struct mb_bearer_ops *mb_ops(const struct mb_bearer *b) { return b ? b->ops : NULL; }
size_t mb_mtu(const struct mb_bearer *b) { return b ? b->mtu : 0; }

void mb_local_addr(const struct mb_bearer *b, struct mb_addr *out)
{
    if (b && out)
        *out = b->self;
}

void mb_discovery_addr(const struct mb_bearer *b, struct mb_addr *out)
{
    if (b && out)
        *out = b->disc;
}

int mb_set_capture(struct mb_bearer *b, struct mb_capture *c, uint16_t index)
{
    if (!b)
        return MB_EINVAL;
    if (c) {
        int want;
        switch (b->ops->media) {
        case MP_BEARER_ETH: want = MB_CAP_EN10MB; break;
        case MP_BEARER_UDP: want = MB_CAP_IPV4; break;
        default: want = MB_CAP_USER0; break;
        }
        if (mb__capture_link(c) != want)
            return MB_EINVAL;
    }
    b->cap = c;
    b->cap_index = index;
    return 0;
}

/* ---- Addresses ------------------------------------------------------------------------- */
bool mb_addr_eq(const struct mb_addr *a, const struct mb_addr *b)
{
    return a && b && a->len == b->len && a->len <= MB_ADDR_MAX && memcmp(a->b, b->b, a->len) == 0;
}

int mb_addr_format(const struct mb_bearer_ops *ops, const struct mb_addr *a, char *out,
                   size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (!a || a->len == 0)
        return snprintf(out, cap, "-");
    bool udp = ops && ops->media == MP_BEARER_UDP;
    if (udp && a->len == 6) {
        inet_ntop(AF_INET, a->b, ip, sizeof ip);
        return snprintf(out, cap, "%s:%u", ip, (unsigned)((a->b[4] << 8) | a->b[5]));
    }
    if (udp && a->len == 18) {
        inet_ntop(AF_INET6, a->b, ip, sizeof ip);
        return snprintf(out, cap, "[%s]:%u", ip, (unsigned)((a->b[16] << 8) | a->b[17]));
    }
    /* MAC, or anything else: colon-separated hex. */
    size_t n = 0;
    if (cap)
        out[0] = 0;
    for (unsigned i = 0; i < a->len && i < MB_ADDR_MAX; i++) {
        char byte[4];
        snprintf(byte, sizeof byte, "%s%02x", i ? ":" : "", a->b[i]);
        size_t bl = strlen(byte);
        if (n + bl < cap)
            memcpy(out + n, byte, bl + 1);
        n += bl;
    }
    return (int)n;
}

int mb__parse_mac(const char *s, struct mb_addr *out)
{
    unsigned v[6];
    char tail;
    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
        return MB_EADDR;
    out->len = 6;
    for (int i = 0; i < 6; i++)
        out->b[i] = (uint8_t)v[i];
    return 0;
}

int mb__parse_inaddr(const char *s, uint16_t defport, struct mb_addr *out)
{
    char host[INET6_ADDRSTRLEN + 2];
    unsigned long port = defport;
    const char *p;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || (size_t)(end - s - 1) >= sizeof host)
            return MB_EADDR;
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = 0;
        p = end + 1;
        if (*p == ':') {
            char *e;
            port = strtoul(p + 1, &e, 10);
            if (*e || port > 65535 || e == p + 1)
                return MB_EADDR;
        } else if (*p) {
            return MB_EADDR;
        }
        if (inet_pton(AF_INET6, host, out->b) != 1)
            return MB_EADDR;
        out->len = 18;
        out->b[16] = (uint8_t)(port >> 8);
        out->b[17] = (uint8_t)port;
        return 0;
    }
    const char *colon = strchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    if (n >= sizeof host)
        return MB_EADDR;
    memcpy(host, s, n);
    host[n] = 0;
    if (colon) {
        char *e;
        port = strtoul(colon + 1, &e, 10);
        if (*e || port > 65535 || e == colon + 1)
            return MB_EADDR;
    }
    if (inet_pton(AF_INET, host, out->b) != 1)
        return MB_EADDR;
    out->len = 6;
    out->b[4] = (uint8_t)(port >> 8);
    out->b[5] = (uint8_t)port;
    return 0;
}

/* ---- Config strings -------------------------------------------------------------------- */
int mb__cfg_next(const char **pos, char *key, size_t kcap, char *val, size_t vcap)
{
    const char *p = *pos;
    while (*p == ',' || *p == ' ')
        p++;
    if (!*p) {
        *pos = p;
        return 0;
    }
    const char *eq = p;
    while (*eq && *eq != '=' && *eq != ',')
        eq++;
    size_t kl = (size_t)(eq - p);
    if (kl == 0 || kl >= kcap)
        return MB_EINVAL;
    memcpy(key, p, kl);
    key[kl] = 0;
    const char *v = eq, *end = eq;
    if (*eq == '=') {
        v = eq + 1;
        end = v;
        while (*end && *end != ',')
            end++;
    }
    size_t vl = (size_t)(end - v);
    if (vl >= vcap)
        return MB_EINVAL;
    memcpy(val, v, vl);
    val[vl] = 0;
    *pos = end;
    return 1;
}

int mb__cfg_str(const char *cfg, const char *key, char *out, size_t cap)
{
    const char *pos = cfg ? cfg : "";
    char k[32], v[256];
    int rc;
    while ((rc = mb__cfg_next(&pos, k, sizeof k, v, sizeof v)) > 0) {
        if (strcmp(k, key) == 0) {
            size_t n = strlen(v);
            if (n >= cap)
                return MB_EINVAL;
            memcpy(out, v, n + 1);
            return 1;
        }
    }
    return rc;
}

int mb__cfg_u32(const char *cfg, const char *key, uint32_t def, uint32_t min, uint32_t max,
                uint32_t *out)
{
    char v[32];
    int rc = mb__cfg_str(cfg, key, v, sizeof v);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        *out = def;
        return 0;
    }
    char *e;
    errno = 0;
    unsigned long long x = strtoull(v, &e, 0);
    if (errno || e == v || *e || x < min || x > max) {
        mb__log(NULL, "config: %s=%s is not a number in [%u, %u]", key, v, min, max);
        return MB_EINVAL;
    }
    *out = (uint32_t)x;
    return 0;
}

int mb__cfg_check(const char *who, const char *cfg, const char *const *known)
{
    const char *pos = cfg ? cfg : "";
    char k[32], v[256];
    int rc;
    while ((rc = mb__cfg_next(&pos, k, sizeof k, v, sizeof v)) > 0) {
        bool ok = false;
        for (const char *const *p = known; *p; p++)
            if (strcmp(*p, k) == 0)
                ok = true;
        if (!ok) {
            mb__log(who, "config: unknown key '%s'", k);
            return MB_EINVAL;
        }
    }
    if (rc < 0)
        mb__log(who, "config: malformed '%s'", cfg);
    return rc;
}
