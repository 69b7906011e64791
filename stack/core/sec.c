/*
 * sec.c — secured links in the core (RFC 12), over the injected crypto (mc_crypto).
 *
 * The core stays sans-I/O and links no crypto library: it decides *when* (policy, key
 * exchange after discovery, sealing every frame of a secured link, opening SECURED
 * input, timers) and the adapter's slots do the cryptography.  Without crypto.ops every
 * function here is a no-op and the core behaves as a plain node (policy PLAIN): it still
 * refuses a link to a peer that requires security, as the policy table says.
 *
 *   DISCOVER (plain) -> policy pair -> link + adapter state -> KEY_EXCHANGE (plain)
 *   -> send key installed (MC_SEC_EV_READY) -> LINK_RESET and everything after it, each
 *   sealed into SECURED by mc__tx; SECURED input opened here, then dispatched by node.c
 *   as if the inner frame had arrived alone.
 *
 * Keys survive link resets; a new incarnation of the peer (seen in its DISCOVER) gets a
 * fresh adapter state, hence a new exchange (RFC 12.6).
 */
#include "mc_int.h"

static const mc_crypto_ops *ops(const mc_node *n) { return n->cfg.crypto.ops; }
static void *cu(const mc_node *n) { return n->cfg.crypto.user; }

/* ---- Policy (RFC 12.7) -------------------------------------------------------------- */

uint8_t mc__sec_peer_policy(const mp_discover *d)
{
    const mp_opt *o = mp_opt_find(&d->opts, MP_OPT_SECURITY);
    if (o && o->len == 1 && o->val[0] <= MP_SEC_TRANSITION)
        return o->val[0];
    /* Without the option, the SECURE flag alone tells REQUIRED from PLAIN. */
    return (d->dflags & MP_DFLAG_SECURE) ? MP_SEC_REQUIRED : MP_SEC_PLAIN;
}

bool mc__sec_admit(mc_node *n, uint8_t peer_policy)
{
    uint8_t local = n->cfg.crypto.policy;
    bool no_link = (local == MP_SEC_PLAIN && peer_policy == MP_SEC_REQUIRED) ||
                   (local == MP_SEC_REQUIRED && peer_policy == MP_SEC_PLAIN);
    if (!no_link)
        return true;
    mc__drop(n, MC_DROP_SEC_POLICY); /* the refusal MSG-SEC-20 asks to count (MP_R_AUTH) */
    return false;
}

/* The SECURE flag and, for both secured policies, SECURITY and CAPS: a TRANSITION node
 * must send them (MSG-SEC-19), and a REQUIRED one loses nothing by being explicit. */
uint32_t mc__caps(const mc_node *n)
{
    /* What a peer assumes when CAPS is absent (RFC 4.3), plus what this node adds. */
    uint32_t c = MP_CAP_BUNDLE | MP_CAP_FRAGMENT | MP_CAP_MGMT | n->caps_extra;
    return n->cfg.crypto.policy == MP_SEC_PLAIN ? c : c | MP_CAP_SECURE;
}

void mc__sec_discover_opts(const mc_node *n, mp_discover *d, uint8_t caps[4], uint8_t *pol)
{
    *pol = n->cfg.crypto.policy;
    if (*pol == MP_SEC_REQUIRED)
        d->dflags |= MP_DFLAG_SECURE;
    if (mc__caps(n) != (MP_CAP_BUNDLE | MP_CAP_FRAGMENT | MP_CAP_MGMT) &&
        d->opts.n < MP_MAX_OPTIONS) {
        mp_put32(caps, mc__caps(n));
        d->opts.v[d->opts.n++] = (mp_opt){.type = MP_OPT_CAPS, .len = 4, .val = caps};
    }
    if (*pol != MP_SEC_PLAIN && d->opts.n < MP_MAX_OPTIONS)
        d->opts.v[d->opts.n++] = (mp_opt){.type = MP_OPT_SECURITY, .len = 1, .val = pol};
}

/* Inside SECURED, LINK_RESET and LINK_ACTIVATE repeat our policy, now authenticated, so
 * the peer can detect a DISCOVER that was tampered with (MSG-SEC-21). */
void mc__sec_ctl_opts(const mc_node *n, const mc_link *l, mp_opts *o, uint8_t *pol)
{
    if (!l->secured || o->n >= MP_MAX_OPTIONS)
        return;
    *pol = n->cfg.crypto.policy;
    o->v[o->n++] = (mp_opt){.type = MP_OPT_SECURITY, .len = 1, .val = pol};
}

uint16_t mc__sec_inner_mtu(const mc_link *l)
{
    return l->secured ? (uint16_t)(l->mtu - MC_SEC_OVERHEAD) : l->mtu;
}

/* ---- Per-link state ------------------------------------------------------------------- */

/* KEY_EXCHANGE goes out in the clear: it is authenticated by its own MAC. */
static void kx_tx(mc_node *n, mc_link *l, const uint8_t *frame, int len)
{
    if (len <= 0)
        return;
    l->st.tx_frames++;
    l->st.tx_bytes += (uint64_t)len;
    n->cfg.tx(n->cfg.user, l->bearer->id, &l->addr, frame, (size_t)len);
}

static void start_kx(mc_node *n, mc_link *l, uint64_t now)
{
    uint8_t out[MC_SEC_KX_LEN];
    kx_tx(n, l, out, ops(n)->start(cu(n), l->sec, now, out));
    mc__link_rearm(n, l);
}

/* A send key is installed: a link waiting in RESET sends its (sealed) LINK_RESET now
 * instead of at its next, possibly slow, retry (RFC 12.1: the exchange comes first). */
static void on_ready(mc_node *n, mc_link *l, uint64_t now)
{
    if (l->state == MC_LS_RESET) {
        l->next_ctl = now;
        l->resets_sent = 0;
    }
    l->sec_kicked = false;
    mc__link_rearm(n, l);
}

int mc__sec_link_attach(mc_node *n, mc_link *l, uint8_t peer_policy, uint64_t now)
{
    l->peer_policy = peer_policy;
    if (!ops(n))
        return MC_OK;
    void *sl = NULL;
    int r = ops(n)->link_new(cu(n), l->peer->node_id, peer_policy, &sl);
    if (r < 0)
        return r;
    l->sec = sl;
    l->secured = r > 0;
    l->sec_kicked = false;
    if (l->secured)
        start_kx(n, l, now); /* after discovery, before any LINK_RESET (RFC 12.1) */
    return MC_OK;
}

void mc__sec_link_free(mc_node *n, mc_link *l)
{
    if (l->sec && ops(n))
        ops(n)->link_free(cu(n), l->sec);
    l->sec = NULL;
}

void mc__sec_peer_restarted(mc_node *n, mc_peer *p, uint8_t peer_policy, uint64_t now)
{
    if (!ops(n))
        return;
    for (mc_link *l = p->links; l; l = l->pnext) {
        bool was_secured = l->secured;
        mc__sec_link_free(n, l);
        if (mc__sec_link_attach(n, l, peer_policy, now) < 0) {
            /* No memory for new state: the link stays secured without keys, so it sends
             * nothing until the next DISCOVER of the peer attaches again. */
            l->secured = was_secured || n->cfg.crypto.policy != MP_SEC_PLAIN;
        }
    }
}

void mc__sec_rediscover(mc_node *n, mc_link *l, uint64_t now)
{
    if (!ops(n))
        return;
    if (!l->sec) {
        /* Attaching failed earlier (memory): try again now. */
        (void)mc__sec_link_attach(n, l, l->peer_policy, now);
        return;
    }
    /* An exchange that gave up starts afresh on the peer's next DISCOVER (RFC 12.2). */
    if (l->secured && !ops(n)->can_send(cu(n), l->sec))
        start_kx(n, l, now);
}

/* ---- Input ------------------------------------------------------------------------------ */

bool mc__sec_plain_ok(mc_node *n, int bearer, const mc_addr *src, uint8_t type)
{
    if (type == MP_T_DISCOVER || type == MP_T_KEY_EXCHANGE || type == MP_T_SECURED)
        return true;
    if (n->cfg.crypto.policy == MP_SEC_PLAIN)
        return true; /* every link of this node is plain */
    mc_link *l = mc__link_find(n, bearer, src);
    if (l && l->sec && !l->secured)
        return ops(n)->check_plain(cu(n), l->sec, type) >= 0; /* TRANSITION, plain peer */
    if (l && l->sec)
        (void)ops(n)->check_plain(cu(n), l->sec, type); /* counted on the link too */
    /* No link yet: only a DISCOVER tells us the peer's policy, so a plain LINK_RESET
     * from an unknown station cannot create a link on a secured node. */
    mc__drop(n, MC_DROP_SEC_PLAIN);
    return false;
}

static bool grow(mc_node *n, uint8_t **buf, size_t *cap, size_t need)
{
    if (*cap >= need)
        return true;
    size_t c = need < 2048 ? 2048 : need;
    uint8_t *b = mc__alloc(n, c);
    if (!b)
        return false;
    mc__free(n, *buf, *cap);
    *buf = b;
    *cap = c;
    return true;
}

static int on_kx(mc_node *n, mc_link *l, const uint8_t *buf, size_t len, uint64_t now)
{
    if (!l || !l->sec) {
        mc__drop(n, MC_DROP_SEC_KX);
        return MC_ENOENT;
    }
    l->st.rx_frames++;
    l->st.rx_bytes += len;
    uint8_t out[MC_SEC_KX_LEN];
    unsigned ev = 0;
    int r = ops(n)->kx_input(cu(n), l->sec, buf, len, now, out, &ev);
    kx_tx(n, l, out, r);
    if (ev & MC_SEC_EV_READY)
        on_ready(n, l, now);
    if (r < 0)
        mc__drop(n, MC_DROP_SEC_KX);
    mc__link_rearm(n, l);
    return r < 0 ? MC_EAUTH : MC_OK;
}

/* An authenticated LINK_RESET/ACTIVATE must come from the node the keys were agreed
 * with and repeat the policy its DISCOVER announced (MSG-SEC-21); otherwise the
 * DISCOVER was forged or stripped, and the link goes down. */
static bool inner_ctl_ok(mc_node *n, mc_link *l, const uint8_t *buf, size_t len, uint64_t now)
{
    uint8_t t = buf[1];
    if (t != MP_T_LINK_RESET && t != MP_T_LINK_ACTIVATE)
        return true;
    mp_frame f;
    if (mp_decode(buf, len, &f) < 0)
        return true; /* the dispatcher drops and counts it */
    const mp_opt *o = mp_opt_find(&f.u.link.opts, MP_OPT_SECURITY);
    if (f.u.link.node_id == l->peer->node_id && o && o->len == 1 &&
        o->val[0] == l->peer_policy)
        return true;
    mc__drop(n, MC_DROP_SEC_POLICY);
    if (l->state != MC_LS_RESET) {
        mc__link_down(n, l, MC_DOWN_AUTH, true, now);
        mc__link_rearm(n, l);
    }
    return false;
}

static int on_secured(mc_node *n, mc_bearer *b, mc_link *l, const mc_addr *src,
                      const uint8_t *buf, size_t len, uint64_t now)
{
    if (!l || !l->sec || !l->secured) {
        mc__drop(n, MC_DROP_SEC_AUTH);
        return MC_ENOENT;
    }
    if (!grow(n, &n->sec_rx, &n->sec_rxcap, len)) {
        mc__drop(n, MC_DROP_NOMEM);
        return MC_ENOMEM;
    }
    bool had_key = ops(n)->can_send(cu(n), l->sec);
    int r = ops(n)->open(cu(n), l->sec, buf, len, now, n->sec_rx, n->sec_rxcap);
    if (r < 0) {
        /* Forged, replayed, truncated, bit-flipped or under a key we do not hold: counted
         * and dropped, with no effect on the link (no last-heard refresh, RFC 12.4).
         * Without any key of our own, e.g. after our restart, the initiator starts a new
         * exchange (RFC 12.6); the adapter ignores this while one is running. */
        mc__drop(n, MC_DROP_SEC_AUTH);
        if (!had_key)
            start_kx(n, l, now);
        return MC_EAUTH;
    }
    /* The responder's keys become usable for sending when the initiator's first frame
     * authenticates under them (RFC 12.2). */
    if (!had_key && ops(n)->can_send(cu(n), l->sec))
        on_ready(n, l, now);
    if (!inner_ctl_ok(n, l, n->sec_rx, (size_t)r, now))
        return MC_EAUTH;
    /* From here l may go away (the inner frame can reset it): not used again. */
    return mc__input_inner(n, b, src, n->sec_rx, (size_t)r, now);
}

int mc__sec_input(mc_node *n, mc_bearer *b, const mc_addr *src, const uint8_t *buf,
                  size_t len, const mp_hdr *h, uint64_t now)
{
    if (!ops(n)) {
        mc__drop(n, MC_DROP_UNSUPPORTED);
        return MC_ENOTSUP;
    }
    mc_link *l = mc__link_find(n, b->id, src);
    if (h->type == MP_T_KEY_EXCHANGE)
        return on_kx(n, l, buf, len, now);
    return on_secured(n, b, l, src, buf, len, now);
}

/* ---- Output --------------------------------------------------------------------------- */

bool mc__sec_wrap(mc_node *n, mc_link *l, const uint8_t **frame, size_t *len)
{
    if (!l->sec || !grow(n, &n->sec_tx, &n->sec_txcap, *len + MC_SEC_OVERHEAD))
        return false;
    int r = ops(n)->seal(cu(n), l->sec, *frame, *len, n->now, n->sec_tx, n->sec_txcap);
    if (r < 0)
        return false; /* no send key yet, or the counter is spent until the rekey */
    *frame = n->sec_tx;
    *len = (size_t)r;
    /* Sealing can make a rekey due (frame count): pull the link's timer forward. */
    uint64_t sd = ops(n)->next_deadline(cu(n), l->sec);
    if (sd < l->deadline) {
        l->deadline = sd;
        mc__heap_update(n, l);
    }
    return true;
}

/* ---- Timers ----------------------------------------------------------------------------- */

uint64_t mc__sec_deadline(const mc_node *n, const mc_link *l)
{
    if (!l->sec || !l->secured)
        return MC_NEVER;
    return ops(n)->next_deadline(cu(n), l->sec);
}

void mc__sec_timer(mc_node *n, mc_link *l, uint64_t now)
{
    if (!l->sec || !l->secured)
        return;
    if (l->state == MC_LS_ESTABLISHED)
        l->sec_kicked = false;
    uint8_t out[MC_SEC_KX_LEN];
    if (ops(n)->next_deadline(cu(n), l->sec) <= now) {
        unsigned ev = 0;
        kx_tx(n, l, out, ops(n)->timeout(cu(n), l->sec, now, out, &ev));
        if (ev & MC_SEC_EV_READY)
            on_ready(n, l, now);
    }
    /* Our sealed LINK_RESETs have gone unanswered for a while although we hold a send
     * key: the peer may have lost its keys (it restarted, or dropped them on seeing our
     * restart, after the exchange we think is current).  Either end may rekey (RFC
     * 12.6); one fresh exchange per stall is enough, and cheap if the peer is just gone.
     * Half the fast LINK_RESET retries (0.5 s): before they slow down to one a second. */
    if (l->state == MC_LS_RESET && !l->sec_kicked && l->resets_sent >= MC_RESET_FAST / 2 &&
        ops(n)->can_send(cu(n), l->sec)) {
        l->sec_kicked = true;
        kx_tx(n, l, out, ops(n)->rekey(cu(n), l->sec, now, out));
    }
}

void mc__sec_node_free(mc_node *n)
{
    mc__free(n, n->sec_tx, n->sec_txcap);
    mc__free(n, n->sec_rx, n->sec_rxcap);
    n->sec_tx = n->sec_rx = NULL;
    n->sec_txcap = n->sec_rxcap = 0;
}

/* ---- API ---------------------------------------------------------------------------------- */

static mc_link *link_of(const mc_node *n, uint32_t peer, int bearer)
{
    mc_peer *p = mc__peer_find(n, peer);
    for (mc_link *l = p ? p->links : NULL; l; l = l->pnext)
        if (l->bearer->id == bearer)
            return l;
    return NULL;
}

int mc_link_sec_get(const mc_node *n, uint32_t peer, int bearer, uint64_t now,
                    mc_sec_info *out)
{
    if (!n || !out)
        return MC_EINVAL;
    mc_link *l = link_of(n, peer, bearer);
    if (!l)
        return MC_ENOENT;
    memset(out, 0, sizeof *out);
    if (l->sec)
        ops(n)->info(cu(n), l->sec, now, out);
    out->secured = l->secured;
    out->peer_policy = l->peer_policy;
    return MC_OK;
}

int mc_link_rekey(mc_node *n, uint32_t peer, int bearer, uint64_t now)
{
    if (!n)
        return MC_EINVAL;
    mc_link *l = link_of(n, peer, bearer);
    if (!l)
        return MC_ENOENT;
    if (!l->sec || !l->secured)
        return MC_ESTATE;
    if (now > n->now)
        n->now = now;
    uint8_t out[MC_SEC_KX_LEN];
    int r = ops(n)->rekey(cu(n), l->sec, now, out);
    if (r < 0)
        return MC_ESTATE;
    kx_tx(n, l, out, r);
    mc__link_rearm(n, l);
    return MC_OK;
}
