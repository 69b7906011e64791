/*
 * ms_core.c — adapter: the core's mc_crypto slots over ms_links.  Thin on purpose: the
 * core decides when, ms_ does the cryptography and the counting.  Every ms_ error maps
 * to a negative MC_E* (the core only needs the sign; the detail is in ms_counters).
 */
#include <string.h>

#include "ms_core.h"
#include "ms_int.h"

static int to_mc(int ms_rc)
{
    switch (ms_rc) {
    case MS_ENOMEM: return MC_ENOMEM;
    case MS_ESTATE:
    case MS_EEXHAUSTED: return MC_ESTATE;
    case MS_ENOLINK:
    case MS_EAUTH:
    case MS_EKEYID:
    case MS_EREPLAY:
    case MS_EINNER:
    case MS_EPLAIN:
    case MS_EKX:
    case MS_EKX_FAILED: return MC_EAUTH;
    case MS_EMALFORMED: return MC_ECODEC;
    default: return MC_EINVAL;
    }
}

static unsigned to_mc_events(unsigned ev)
{
    return ((ev & MS_EV_SEND_READY) ? MC_SEC_EV_READY : 0u) |
           ((ev & MS_EV_KX_FAILED) ? MC_SEC_EV_FAILED : 0u);
}

static int a_link_new(void *user, uint32_t peer, uint8_t peer_policy, void **sl)
{
    ms_link *l = NULL;
    int rc = ms_link_create(user, peer, peer_policy, &l);
    if (rc < 0)
        return to_mc(rc);
    *sl = l;
    return ms_link_secured(l) ? 1 : 0;
}

static void a_link_free(void *user, void *sl)
{
    (void)user;
    ms_link_destroy(sl);
}

static int a_start(void *user, void *sl, uint64_t now, uint8_t *out)
{
    (void)user;
    ms_link *l = sl;
    /* Only a first exchange, and never over one in progress: the core calls this on
     * every DISCOVER and on SECURED input it cannot open, so it must be idempotent. */
    if (!ms_link_secured(l) || ms_link_can_send(l) || l->kx.state == MS_KX_INIT_SENT ||
        l->kx.state == MS_KX_RESP_SENT)
        return 0;
    int rc = ms_link_start(l, now, out);
    return rc < 0 ? to_mc(rc) : rc;
}

static int a_rekey(void *user, void *sl, uint64_t now, uint8_t *out)
{
    (void)user;
    int rc = ms_link_rekey(sl, now, out);
    return rc < 0 ? to_mc(rc) : rc;
}

static int a_kx_input(void *user, void *sl, const uint8_t *frame, size_t len, uint64_t now,
                      uint8_t *out, unsigned *events)
{
    (void)user;
    unsigned ev = 0;
    int rc = ms_kx_input(sl, frame, len, now, out, &ev);
    *events = to_mc_events(ev);
    return rc < 0 ? to_mc(rc) : rc;
}

static int a_timeout(void *user, void *sl, uint64_t now, uint8_t *out, unsigned *events)
{
    (void)user;
    unsigned ev = 0;
    int rc = ms_link_timeout(sl, now, out, &ev);
    *events = to_mc_events(ev);
    return rc < 0 ? to_mc(rc) : rc;
}

static uint64_t a_next_deadline(void *user, const void *sl)
{
    (void)user;
    return ms_link_next_deadline(sl);
}

static bool a_can_send(void *user, const void *sl)
{
    (void)user;
    return ms_link_can_send(sl);
}

static int a_seal(void *user, void *sl, const uint8_t *inner, size_t len, uint64_t now,
                  uint8_t *out, size_t cap)
{
    (void)user;
    int rc = ms_seal(sl, inner, len, now, out, cap);
    return rc < 0 ? to_mc(rc) : rc;
}

static int a_open(void *user, void *sl, const uint8_t *frame, size_t len, uint64_t now,
                  uint8_t *out, size_t cap)
{
    (void)user;
    int rc = ms_open(sl, frame, len, now, out, cap);
    return rc < 0 ? to_mc(rc) : rc;
}

static int a_check_plain(void *user, void *sl, uint8_t type)
{
    (void)user;
    int rc = ms_check_plain(sl, type);
    return rc < 0 ? to_mc(rc) : rc;
}

static void a_info(void *user, const void *sl, uint64_t now, mc_sec_info *o)
{
    (void)user;
    ms_link_info mi;
    ms_link_get_info(sl, now, &mi);
    o->send_ready = mi.send_ready;
    o->kx_state = mi.kx_state;
    o->suite = mi.suite;
    o->tx_key_id = mi.tx_key_id;
    o->key_age_ns = mi.tx_key_age_ns;
    o->tx_counter = mi.tx_counter;
    o->rx_keys = mi.rx_keys;
    o->sealed = mi.c.sealed;
    o->opened = mi.c.opened;
    o->auth_failures = mi.c.decrypt_fail;
    o->kx_auth_failures = mi.c.auth_failures;
    o->replays = mi.c.replays;
    o->wrong_key_id = mi.c.wrong_key_id;
    o->malformed = mi.c.malformed + mi.c.kx_malformed;
    o->inner_bad = mi.c.inner_bad;
    o->plain_refused = mi.c.plain_refused;
    o->kx_completed = mi.c.kx_completed;
    o->kx_failed = mi.c.kx_failed;
    o->rekeys = mi.c.rekeys;
}

const mc_crypto_ops ms_core_ops = {
    .link_new = a_link_new,
    .link_free = a_link_free,
    .start = a_start,
    .rekey = a_rekey,
    .kx_input = a_kx_input,
    .timeout = a_timeout,
    .next_deadline = a_next_deadline,
    .can_send = a_can_send,
    .seal = a_seal,
    .open = a_open,
    .check_plain = a_check_plain,
    .info = a_info,
};

void ms_core_crypto(ms_ctx *ctx, mc_crypto *out)
{
    memset(out, 0, sizeof *out);
    out->ops = &ms_core_ops;
    out->user = ctx;
    out->policy = ctx->cfg.policy;
}
