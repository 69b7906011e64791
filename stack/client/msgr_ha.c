/*
 * msgr_ha.c — a supervised process's management entity (msgr_ha.h).
 *
 * The process runs its own microkernel (mk_, entity MSGR_HA_ENTITY) with two elements:
 * the heartbeat responder of stack/ha (so a process that stops running its loop stops
 * answering, which is how a hang is told from a slow start), and "app", which collects the
 * replies that the waiting calls below wait for.  The channel to msgrd carries whole MGMT
 * frames, one per SOCK_SEQPACKET message; msgrd is the process's gateway: it stamps the
 * node's epoch on what the process sends and routes it (FTM, checkpoint store).
 */
#define _GNU_SOURCE
#include "msgr/msgr_ha.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mha.h"

#define HA_ARENA 4096u

/* What the app element saw: the reply to the request in flight. */
typedef struct ha_app {
    uint32_t want_corr; /* corr of the request being waited for (0: none) */
    bool done, error;
    uint16_t op, arg;
    uint32_t r_cseq;
    uint16_t r_len;
    uint8_t r_state[MSGR_HA_STATE_MAX];
    bool r_toobig;
} ha_app;

struct msgr_ha {
    int fd;
    uint32_t entity, node, standby;
    uint8_t pol[3];
    bool restore;
    uint32_t corr, cseq; /* cseq of the last save (saves continue after a restore) */
    mk_kernel *k;
    int app_id;
    uint8_t arena[HA_ARENA] __attribute__((aligned(8)));
};

const char *msgr_ha_strerror(int err)
{
    switch (err) {
    case MSGR_HA_OK: return "ok";
    case MSGR_HA_ENOTSUP: return "not started by msgrd's supervisor (no MSGR_HA_FD)";
    case MSGR_HA_EINVAL: return "invalid argument";
    case MSGR_HA_EOS: return "system call failed";
    case MSGR_HA_ETIMEDOUT: return "timed out";
    case MSGR_HA_ENOENT: return "no checkpoint";
    case MSGR_HA_EREFUSED: return "refused";
    case MSGR_HA_ETOOBIG: return "state too large";
    case MSGR_HA_ECLOSED: return "channel closed by msgrd";
    default: return "unknown error";
    }
}

static uint64_t ha_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int app_uop(mk_ctx *c, uint16_t op, uint16_t arg)
{
    ha_app *s = mk_ctx_state(c);
    if (!mk_ctx_is_reply(c) || s->want_corr == 0 || mk_ctx_corr(c) != s->want_corr)
        return 0; /* a reply to a request we gave up on */
    s->done = true;
    s->op = op;
    s->arg = arg;
    s->error = arg != 0;
    const uint8_t *p;
    size_t len;
    if (op == MP_UOP_CKPT_RESTORE && arg == 0 && mk_param(c, &p, &len) == 0 && len >= 12) {
        s->r_cseq = mp_get32(p + 8);
        size_t n = len - 12;
        s->r_toobig = n > sizeof s->r_state;
        if (!s->r_toobig) {
            memcpy(s->r_state, p + 12, n);
            s->r_len = (uint16_t)n;
        }
    }
    return 0;
}
static const mk_element_ops app_ops = {.state_size = sizeof(ha_app), .uop = app_uop};

static uint32_t env_u32(const char *name, uint32_t dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *e;
    errno = 0;
    unsigned long x = strtoul(v, &e, 0);
    return errno || *e || x > 0xFFFFFFFFul ? dflt : (uint32_t)x;
}

int msgr_ha_open(msgr_ha **out)
{
    *out = NULL;
    const char *fdv = getenv("MSGR_HA_FD");
    if (!fdv || !*fdv)
        return MSGR_HA_ENOTSUP;
    msgr_ha *h = calloc(1, sizeof *h);
    mk_kernel *k = calloc(1, sizeof *k);
    if (!h || !k) {
        free(h);
        free(k);
        return MSGR_HA_EOS;
    }
    h->k = k;
    h->fd = (int)env_u32("MSGR_HA_FD", 0xFFFFFFFFu);
    h->entity = env_u32("MSGR_HA_ENTITY", 0);
    h->node = env_u32("MSGR_HA_NODE", 0);
    h->standby = env_u32("MSGR_HA_STANDBY", 0);
    h->restore = env_u32("MSGR_HA_RESTORE", 0) != 0;
    const char *pol = getenv("MSGR_HA_POL"); /* "E,C,H": enum mha_pol per class */
    unsigned a = 0, b = 0, c = 0;
    if (pol && sscanf(pol, "%u,%u,%u", &a, &b, &c) == 3 && a <= 3 && b <= 3 && c <= 3) {
        h->pol[0] = (uint8_t)a;
        h->pol[1] = (uint8_t)b;
        h->pol[2] = (uint8_t)c;
    }
    mk_config kc = {.node_id = h->node, .entity_id = h->entity, .arena = h->arena,
                    .arena_len = sizeof h->arena};
    uint64_t now = ha_now();
    if (h->fd < 0 || h->entity < 0x100 || mk_init(k, &kc) < 0 ||
        mk_register(k, "hbresp", &mha_hbresp_ops, mha_hbresp_subs, mha_hbresp_nsubs, NULL, now) < 0 ||
        (h->app_id = mk_register(k, "app", &app_ops,
                                 (uint16_t[]){MP_UOP_CKPT_ACK, MP_UOP_CKPT_SAVE,
                                              MP_UOP_CKPT_RESTORE, MP_UOP_REGISTER},
                                 4, NULL, now)) < 0) {
        free(k);
        free(h);
        return MSGR_HA_EINVAL;
    }
    *out = h;
    return 0;
}

void msgr_ha_close(msgr_ha *h)
{
    if (!h)
        return;
    close(h->fd);
    free(h->k);
    free(h);
}

uint32_t msgr_ha_entity(const msgr_ha *h) { return h->entity; }
int msgr_ha_restore_wanted(const msgr_ha *h) { return h->restore; }
int msgr_ha_fd(const msgr_ha *h) { return h->fd; }

static int ha_send(msgr_ha *h, const mk_msg *m)
{
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = MP_T_MGMT;
    f.hdr.chan = MP_CHAN_NODE;
    mk_msg_view(m, &f.u.mgmt);
    uint8_t buf[MK_OUT_PAYLOAD_MAX + 512];
    int n = mp_encode(&f, buf, sizeof buf);
    if (n < 0)
        return MSGR_HA_EINVAL;
    if (send(h->fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
        return errno == EPIPE ? MSGR_HA_ECLOSED : MSGR_HA_EOS;
    return 0;
}

static int ha_flush(msgr_ha *h)
{
    static mk_msg m; /* large: not on the stack of every caller */
    int rc = 0;
    while (mk_out_pop(h->k, &m))
        if (rc == 0)
            rc = ha_send(h, &m);
    return rc;
}

int msgr_ha_poll(msgr_ha *h, int timeout_ms)
{
    int handled = 0;
    for (;;) {
        struct pollfd p = {.fd = h->fd, .events = POLLIN};
        int r = poll(&p, 1, handled ? 0 : timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return MSGR_HA_EOS;
        if (r == 0)
            return handled;
        uint8_t buf[8192];
        ssize_t n = recv(h->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)))
            return MSGR_HA_ECLOSED;
        if (n < 0)
            return errno == EAGAIN ? handled : MSGR_HA_EOS;
        mp_frame f;
        if (mp_decode(buf, (size_t)n, &f) > 0 && f.hdr.type == MP_T_MGMT)
            (void)mk_input(h->k, h->node, &f.u.mgmt, ha_now());
        handled++;
        int rc = ha_flush(h);
        if (rc < 0)
            return rc;
    }
}

/* Send one request and serve the channel until its reply or the timeout. */
static int ha_call(msgr_ha *h, uint32_t dst_entity, uint16_t op, uint16_t arg, const void *blk,
                   size_t blen, int timeout_ms, ha_app **res)
{
    ha_app *s = mk_element_state(h->k, h->app_id);
    if (++h->corr == 0)
        h->corr = 1;
    memset(s, 0, sizeof *s);
    s->want_corr = h->corr;
    mk_msg m;
    /* dst_node 0: msgrd routes by entity (FTM, checkpoint store). */
    mk_msg_init(&m, 0, dst_entity, h->corr);
    m.src_entity = h->entity;
    m.epoch = mk_epoch(h->k);
    if (mk_msg_uop(&m, op, arg) < 0 || mk_msg_block(&m, op, blk, blen) < 0)
        return MSGR_HA_ETOOBIG;
    int rc = ha_send(h, &m);
    if (rc < 0)
        return rc;
    uint64_t end = ha_now() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000ull;
    while (!s->done) {
        uint64_t now = ha_now();
        if (timeout_ms >= 0 && now >= end)
            break;
        int left = timeout_ms < 0 ? -1 : (int)((end - now + 999999) / 1000000);
        rc = msgr_ha_poll(h, left);
        if (rc < 0)
            return rc;
    }
    s->want_corr = 0;
    if (!s->done)
        return MSGR_HA_ETIMEDOUT;
    *res = s;
    return 0;
}

int msgr_ha_register(msgr_ha *h, int timeout_ms)
{
    uint8_t b[256];
    int n = mha_register_block(b, sizeof b, h->entity, "proc", h->node, MK_ENTITY_EXEC, h->standby);
    if (n < 0)
        return MSGR_HA_EINVAL;
    size_t len = (size_t)n;
    if (mha_register_policy(b, sizeof b, &len, h->pol[0], h->pol[1], h->pol[2]) < 0)
        return MSGR_HA_EINVAL;
    ha_app *s;
    int rc = ha_call(h, MK_ENTITY_FTM, MP_UOP_REGISTER, 0, b, len, timeout_ms, &s);
    if (rc < 0)
        return rc;
    return s->error ? MSGR_HA_EREFUSED : 0;
}

int msgr_checkpoint_save(msgr_ha *h, const void *state, size_t len, int timeout_ms)
{
    if (len > MSGR_HA_STATE_MAX || (len && !state))
        return MSGR_HA_ETOOBIG;
    uint8_t b[MSGR_HA_STATE_MAX + 16];
    uint32_t cseq = h->cseq + 1;
    int n = mha_ckpt_block(b, sizeof b, h->entity, 0, cseq, state, len);
    if (n < 0)
        return MSGR_HA_ETOOBIG;
    ha_app *s;
    int rc = ha_call(h, MK_ENTITY_KERNEL, MP_UOP_CKPT_SAVE, 0, b, (size_t)n, timeout_ms, &s);
    if (rc < 0)
        return rc;
    if (s->error || s->op != MP_UOP_CKPT_ACK)
        return MSGR_HA_EREFUSED;
    h->cseq = cseq;
    return 0;
}

int msgr_checkpoint_restore(msgr_ha *h, void *buf, size_t cap, size_t *len, int timeout_ms)
{
    uint8_t b[4];
    mp_put32(b, h->entity);
    ha_app *s;
    int rc = ha_call(h, MK_ENTITY_KERNEL, MP_UOP_CKPT_RESTORE, 0, b, 4, timeout_ms, &s);
    if (rc < 0)
        return rc;
    if (s->error)
        return s->arg == MP_R_NO_SUCH_DEVICE ? MSGR_HA_ENOENT : MSGR_HA_EREFUSED;
    if (s->r_toobig || s->r_len > cap)
        return MSGR_HA_ETOOBIG;
    memcpy(buf, s->r_state, s->r_len);
    *len = s->r_len;
    h->cseq = s->r_cseq; /* the store refuses a save older than what it holds */
    return 0;
}
