/*
 * node.c — the node: accounted memory, hashing, the link timer heap, bearers, discovery
 * and the input dispatcher.  Link behaviour is in link.c, channels in chan.c.
 */
#include "mc_int.h"

/* ---- Errors and names ------------------------------------------------------------- */
const char *mc_strerror(int err)
{
    static const char *const s[MC_ERR_COUNT] = {
        "success",
        "invalid argument",
        "out of memory (allocator or mem_limit)",
        "configured limit reached",
        "peer not reachable (no working link)",
        "send queue full, retry later",
        "message too big",
        "codec error",
        "no such object",
        "not supported in this build",
        "already exists",
        "not allowed in this state",
        "refused by the security policy, or not authenticated",
    };
    if (err > 0 || err <= -MC_ERR_COUNT)
        return "unknown error";
    return s[-err];
}

const char *mc_drop_name(int reason)
{
    static const char *const s[MC_DROP_COUNT] = {
        "decode", "version", "type", "seq_type", "domain", "dup_node", "not_for_us",
        "no_link", "not_established", "stale_session", "dup_seq", "out_of_window",
        "dup_cseq", "held_full", "nomem", "reasm_limit", "too_big", "frag_proto",
        "peer_lost", "unsupported", "bad_bearer", "upper", "sec_plain", "sec_auth",
        "sec_kx", "sec_policy",
    };
    if (reason < 0 || reason >= MC_DROP_COUNT)
        return "?";
    return s[reason];
}

const char *mc_link_state_name(int state)
{
    switch (state) {
    case MC_LS_RESET: return "RESET";
    case MC_LS_ESTABLISHING: return "ESTABLISHING";
    case MC_LS_ESTABLISHED: return "ESTABLISHED";
    default: return "?";
    }
}

/* ---- Accounted memory ------------------------------------------------------------- */
void *mc__alloc(mc_node *n, size_t size)
{
    if (size > n->cfg.mem_limit || n->st.mem_used > n->cfg.mem_limit - size) {
        n->st.limit_hits++;
        return NULL;
    }
    void *p = n->cfg.alloc.alloc(n->cfg.alloc.user, size);
    if (!p) {
        n->st.alloc_fail++;
        return NULL;
    }
    n->st.mem_used += size;
    if (n->st.mem_used > n->st.mem_peak)
        n->st.mem_peak = n->st.mem_used;
    return p;
}

void mc__free(mc_node *n, void *p, size_t size)
{
    if (!p)
        return;
    n->st.mem_used -= size;
    n->cfg.alloc.free(n->cfg.alloc.user, p, size);
}

uint32_t mc__rand(mc_node *n) { return n->cfg.rng.next(n->cfg.rng.user); }

void mc__drop(mc_node *n, int reason)
{
    if (reason >= 0 && reason < MC_DROP_COUNT)
        n->st.drops[reason]++;
}

void mc__emit(mc_node *n, mc_event *ev)
{
    ev->now = n->now;
    if (n->cfg.event)
        n->cfg.event(n->cfg.user, ev);
}

void mc__tx(mc_node *n, mc_link *l, const uint8_t *frame, size_t len)
{
    /* A secured link sends every frame inside SECURED.  Without a send key (exchange not
     * done yet) the frame is not sent at all: never in the clear.  The link layer sends
     * setup frames again on its timers and retransmits sequenced ones. */
    if (l->secured && !mc__sec_wrap(n, l, &frame, &len))
        return;
    l->st.tx_frames++;
    l->st.tx_bytes += len;
    n->cfg.tx(n->cfg.user, l->bearer->id, &l->addr, frame, len);
}

/* ---- Hash ------------------------------------------------------------------------------- */
static uint32_t hash_slot(const mc_hash *h, uint64_t key)
{
    /* Fibonacci mixing: keys are node ids and FNV hashes, both fine to spread this way. */
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & (h->nb - 1);
}

mc_hnode *mc__hash_find(const mc_hash *h, uint64_t key)
{
    if (!h->nb)
        return NULL;
    for (mc_hnode *e = h->b[hash_slot(h, key)]; e; e = e->next)
        if (e->key == key)
            return e;
    return NULL;
}

static int hash_grow(mc_node *n, mc_hash *h)
{
    uint32_t nb = h->nb ? h->nb * 2 : 16;
    mc_hnode **b = mc__alloc(n, nb * sizeof *b);
    if (!b)
        return MC_ENOMEM;
    memset(b, 0, nb * sizeof *b);
    mc_hash nh = {b, nb, h->n};
    for (uint32_t i = 0; i < h->nb; i++) {
        mc_hnode *e = h->b[i];
        while (e) {
            mc_hnode *next = e->next;
            uint32_t s = hash_slot(&nh, e->key);
            e->next = b[s];
            b[s] = e;
            e = next;
        }
    }
    mc__free(n, h->b, h->nb * sizeof *h->b);
    *h = nh;
    return MC_OK;
}

int mc__hash_add(mc_node *n, mc_hash *h, mc_hnode *e)
{
    if (h->n + 1 > h->nb) {
        int r = hash_grow(n, h);
        /* A full table still works (longer chains) as long as it has buckets. */
        if (r < 0 && !h->nb)
            return r;
    }
    uint32_t s = hash_slot(h, e->key);
    e->next = h->b[s];
    h->b[s] = e;
    h->n++;
    return MC_OK;
}

void mc__hash_del(mc_hash *h, mc_hnode *e)
{
    mc_hnode **pp = &h->b[hash_slot(h, e->key)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = e->next;
        h->n--;
    }
}

static void hash_free(mc_node *n, mc_hash *h)
{
    mc__free(n, h->b, h->nb * sizeof *h->b);
    h->b = NULL;
    h->nb = h->n = 0;
}

static uint64_t addr_key(int bearer, const mc_addr *a)
{
    uint64_t x = 0xcbf29ce484222325ull ^ (uint64_t)(unsigned)bearer;
    x *= 0x100000001b3ull;
    for (unsigned i = 0; i < a->len; i++) {
        x ^= a->b[i];
        x *= 0x100000001b3ull;
    }
    return x ^ a->len;
}

static bool addr_eq(const mc_addr *a, const mc_addr *b)
{
    return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

static mc_link *link_find(const mc_node *n, int bearer, const mc_addr *a)
{
    uint64_t key = addr_key(bearer, a);
    if (!n->links.nb)
        return NULL;
    for (mc_hnode *e = n->links.b[hash_slot(&n->links, key)]; e; e = e->next) {
        mc_link *l = (mc_link *)e;
        if (e->key == key && l->bearer->id == bearer && addr_eq(&l->addr, a))
            return l;
    }
    return NULL;
}

mc_link *mc__link_find(const mc_node *n, int bearer, const mc_addr *a)
{
    return link_find(n, bearer, a);
}

/* ---- Timer heap of links (min by deadline) ------------------------------------------- */
#define HEAP_NONE UINT32_MAX

static void heap_swap(mc_node *n, uint32_t i, uint32_t j)
{
    mc_link *t = n->heap[i];
    n->heap[i] = n->heap[j];
    n->heap[j] = t;
    n->heap[i]->heap_idx = i;
    n->heap[j]->heap_idx = j;
}

static void heap_up(mc_node *n, uint32_t i)
{
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (n->heap[p]->deadline <= n->heap[i]->deadline)
            break;
        heap_swap(n, i, p);
        i = p;
    }
}

static void heap_down(mc_node *n, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n->heap_n && n->heap[l]->deadline < n->heap[m]->deadline)
            m = l;
        if (r < n->heap_n && n->heap[r]->deadline < n->heap[m]->deadline)
            m = r;
        if (m == i)
            break;
        heap_swap(n, i, m);
        i = m;
    }
}

static void heap_remove(mc_node *n, mc_link *l)
{
    uint32_t i = l->heap_idx;
    if (i == HEAP_NONE)
        return;
    n->heap_n--;
    if (i != n->heap_n) {
        n->heap[i] = n->heap[n->heap_n];
        n->heap[i]->heap_idx = i;
        heap_up(n, i);
        heap_down(n, n->heap[i]->heap_idx);
    }
    l->heap_idx = HEAP_NONE;
}

void mc__heap_update(mc_node *n, mc_link *l)
{
    if (l->deadline == MC_NEVER) {
        heap_remove(n, l);
        return;
    }
    if (l->heap_idx == HEAP_NONE) {
        /* The heap array is sized for max_links at link creation, so this cannot fail. */
        l->heap_idx = n->heap_n++;
        n->heap[l->heap_idx] = l;
    }
    heap_up(n, l->heap_idx);
    heap_down(n, l->heap_idx);
}

static int heap_reserve(mc_node *n, uint32_t want)
{
    if (want <= n->heap_cap)
        return MC_OK;
    uint32_t cap = n->heap_cap ? n->heap_cap * 2 : 16;
    while (cap < want)
        cap *= 2;
    mc_link **h = mc__alloc(n, cap * sizeof *h);
    if (!h)
        return MC_ENOMEM;
    if (n->heap_n)
        memcpy(h, n->heap, n->heap_n * sizeof *h);
    mc__free(n, n->heap, n->heap_cap * sizeof *n->heap);
    n->heap = h;
    n->heap_cap = cap;
    return MC_OK;
}

void mc__mark_dirty(mc_node *n, mc_link *l)
{
    if (l->dirty)
        return;
    l->dirty = true;
    l->dnext = n->dirty;
    n->dirty = l;
}

/* ---- Peers and links ---------------------------------------------------------------- */
static mc_peer *peer_find(const mc_node *n, uint32_t id)
{
    return (mc_peer *)mc__hash_find(&n->peers, id);
}

static mc_peer *peer_get(mc_node *n, uint32_t id)
{
    mc_peer *p = peer_find(n, id);
    if (p)
        return p;
    p = mc__alloc(n, sizeof *p);
    if (!p)
        return NULL;
    memset(p, 0, sizeof *p);
    p->node_id = id;
    p->h.key = id;
    /* Never before an epoch this node sent the same peer in an earlier life of this
     * struct: the node-wide counter only moves forward. */
    p->epoch_out = n->loss_epoch;
    p->max_message = MP_MIN_MESSAGE_SUPPORT;
    p->caps = MP_CAP_BUNDLE | MP_CAP_FRAGMENT | MP_CAP_MGMT;
    if (mc__hash_add(n, &n->peers, &p->h) < 0) {
        mc__free(n, p, sizeof *p);
        return NULL;
    }
    n->st.n_peers++;
    return p;
}

static void peer_free_if_unused(mc_node *n, mc_peer *p)
{
    if (p->links || p->chans)
        return;
    mc__hash_del(&n->peers, &p->h);
    n->st.n_peers--;
    mc__free(n, p, sizeof *p);
}

static mc_link *link_create(mc_node *n, mc_bearer *b, const mc_addr *a, mc_peer *p,
                            uint64_t now)
{
    if (n->n_links >= n->cfg.max_links) {
        n->st.limit_hits++;
        return NULL;
    }
    if (heap_reserve(n, n->n_links + 1) < 0)
        return NULL;
    mc_link *l = mc__link_new(n, b, a, p);
    if (!l)
        return NULL;
    l->h.key = addr_key(b->id, a);
    if (mc__hash_add(n, &n->links, &l->h) < 0) {
        mc__link_free(n, l);
        return NULL;
    }
    l->pnext = p->links;
    p->links = l;
    p->nlinks++;
    n->n_links++;
    mc__link_start_reset(n, l, now);
    return l;
}

/* Unhook and free a link that is not ESTABLISHED (callers reset it first). */
static void link_destroy(mc_node *n, mc_link *l)
{
    mc_peer *p = l->peer;
    mc_link **pp = &p->links;
    while (*pp && *pp != l)
        pp = &(*pp)->pnext;
    if (*pp)
        *pp = l->pnext;
    p->nlinks--;
    if (l->dirty) {
        mc_link **dp = &n->dirty;
        while (*dp && *dp != l)
            dp = &(*dp)->dnext;
        if (*dp)
            *dp = l->dnext;
    }
    heap_remove(n, l);
    mc__hash_del(&n->links, &l->h);
    n->n_links--;
    /* A channel stays pinned to the link it last used after its units were acknowledged
     * (or failed over); the pin must not outlive the link (it is read by chan_link). */
    for (mc_chan *c = p->chans; c; c = c->pnext)
        if (c->pin == l)
            c->pin = NULL;
    mc__link_free(n, l);
}

/* A frame that says the peer runs a new incarnation: everything about the old one goes. */
static void check_incarnation(mc_node *n, mc_peer *p, uint32_t inc, uint64_t now)
{
    if (p->inc_known && p->incarnation != inc) {
        mc__peer_lost(n, p, MC_DOWN_INCARNATION, now);
        p->epoch_in_known = false; /* epochs count within one incarnation */
    }
    p->incarnation = inc;
    p->inc_known = true;
}

/* A later PEER_EPOCH says the peer has declared us lost since we last heard from it,
 * perhaps while our links to it stayed up (a one-way failure).  Its channel numbering has
 * restarted, so ours must too, or its new messages would meet our old channel state
 * (RFC 7.7, MSG-LINK-40).  Frames without the option, or with an older epoch, change
 * nothing here: the session rules judge them. */
static void check_epoch(mc_node *n, mc_peer *p, const mp_link *lk, uint64_t now)
{
    const mp_opt *o = mp_opt_find(&lk->opts, MP_OPT_PEER_EPOCH);
    if (!o || o->len != 4)
        return;
    uint32_t e = mp_get32(o->val);
    if (p->epoch_in_known && mp_seq32_lt(p->epoch_in, e))
        mc__peer_lost(n, p, MC_DOWN_PEER_EPOCH, now);
    if (!p->epoch_in_known || mp_seq32_lt(p->epoch_in, e))
        p->epoch_in = e;
    p->epoch_in_known = true;
}

/* ---- Node ---------------------------------------------------------------------------- */
void mc_config_default(mc_config *c)
{
    memset(c, 0, sizeof *c);
    c->tolerance_ms = MP_TOLERANCE_DEF_MS;
    c->window = MP_WINDOW_DEF;
    c->max_message = MP_MIN_MESSAGE_SUPPORT;
    c->max_reassemblies = 32;
    c->reasm_timeout_ms = 30000;
    c->max_held = 4096;
    c->max_links = 4096;
    c->max_queue_bytes = 8u << 20;
    c->mem_limit = (size_t)256 << 20;
    c->naming = true;
    c->paths = true;
}

static void *mn_alloc_adapter(void *user, size_t size) { return mc__alloc(user, size); }
static void mn_free_adapter(void *user, void *p, size_t size) { mc__free(user, p, size); }

static void mn_event_adapter(void *user, const mn_event *ev)
{
    mc_node *n = user;
    mc_event e = {.type = MC_EV_NAME, .name_event = (int)ev->type, .name_entry = ev->entry};
    e.peer = ev->entry ? ev->entry->node_id : 0;
    mc__emit(n, &e);
}

int mc_node_create(const mc_config *cfg, mc_node **out)
{
    if (!cfg || !out || !cfg->alloc.alloc || !cfg->alloc.free || !cfg->rng.next || !cfg->tx)
        return MC_EINVAL;
    if (cfg->node_id == 0 || cfg->node_id == 0xFFFFFFFFu)
        return MC_EINVAL;
    if (cfg->tolerance_ms < MP_TOLERANCE_MIN_MS || cfg->tolerance_ms > MP_TOLERANCE_MAX_MS)
        return MC_EINVAL;
    if (cfg->window < MP_WINDOW_MIN || cfg->window > MP_WINDOW_MAX)
        return MC_EINVAL;
    if (cfg->max_message < 1 || cfg->max_message > MP_MAX_MESSAGE || cfg->max_links == 0)
        return MC_EINVAL;
    if (cfg->reasm_timeout_ms < 1 || cfg->reasm_timeout_ms > 3600000)
        return MC_EINVAL;
    if (cfg->mem_limit < sizeof(mc_node))
        return MC_EINVAL;
    /* A secured policy needs the crypto, and the crypto every slot. */
    const mc_crypto_ops *co = cfg->crypto.ops;
    if (cfg->crypto.policy > MP_SEC_TRANSITION || (cfg->crypto.policy != MP_SEC_PLAIN && !co))
        return MC_EINVAL;
    if (co && (!co->link_new || !co->link_free || !co->start || !co->rekey || !co->kx_input ||
               !co->timeout || !co->next_deadline || !co->can_send || !co->seal || !co->open ||
               !co->check_plain || !co->info))
        return MC_EINVAL;
    mc_node *n = cfg->alloc.alloc(cfg->alloc.user, sizeof *n);
    if (!n)
        return MC_ENOMEM;
    memset(n, 0, sizeof *n);
    n->cfg = *cfg;
    n->st.mem_used = n->st.mem_peak = sizeof *n;
    n->incarnation = cfg->incarnation;
    while (n->incarnation == 0)
        n->incarnation = mc__rand(n);
    if (cfg->naming) {
        mn_config mc = {
            .local_node = cfg->node_id,
            .alloc = {mn_alloc_adapter, mn_free_adapter, n},
            .on_event = mn_event_adapter,
            .event_user = n,
            .hash_seed = mc__rand(n),
        };
        if (mn_create(&mc, &n->names) != MN_OK) {
            cfg->alloc.free(cfg->alloc.user, n, sizeof *n);
            return MC_ENOMEM;
        }
    }
    if (cfg->paths && mc__paths_init(n) < 0) {
        if (n->names)
            mn_destroy(n->names);
        cfg->alloc.free(cfg->alloc.user, n, sizeof *n);
        return MC_ENOMEM;
    }
    *out = n;
    return MC_OK;
}

void mc_node_destroy(mc_node *n)
{
    if (!n)
        return;
    /* Free links (their queues) and peers (their channels) without any callback. */
    n->cfg.event = NULL;
    for (uint32_t i = 0; i < n->peers.nb; i++) {
        mc_hnode *e = n->peers.b[i];
        while (e) {
            mc_hnode *next = e->next;
            mc_peer *p = (mc_peer *)e;
            while (p->links) {
                mc_link *l = p->links;
                p->links = l->pnext;
                mc__link_free(n, l);
            }
            mc__chan_purge_peer(n, p);
            mc__free(n, p, sizeof *p);
            e = next;
        }
    }
    hash_free(n, &n->links);
    hash_free(n, &n->peers);
    hash_free(n, &n->chans);
    mc__free(n, n->heap, n->heap_cap * sizeof *n->heap);
    mc__free(n, n->txbuf, n->txcap);
    mc__free(n, n->bbuf, n->txcap);
    mc__sec_node_free(n);
    if (n->names)
        mn_destroy(n->names);
    if (n->paths)
        mpa_destroy(n->paths);
    mc_alloc a = n->cfg.alloc;
    a.free(a.user, n, sizeof *n);
}

uint32_t mc_node_id(const mc_node *n) { return n->cfg.node_id; }
uint32_t mc_incarnation(const mc_node *n) { return n->incarnation; }
const void *mc_names(const mc_node *n) { return n->names; }

/* ---- Bearers ---------------------------------------------------------------------------- */
static void recompute_min_mtu(mc_node *n)
{
    n->min_mtu = 0;
    for (int i = 0; i < MC_MAX_BEARERS; i++)
        if (n->bearers[i].used && (!n->min_mtu || n->bearers[i].cfg.mtu < n->min_mtu))
            n->min_mtu = n->bearers[i].cfg.mtu;
    /* Messages are cut to fit any link, and a secured link's inner frames are 32 octets
     * smaller than its MTU (RFC 12.4). */
    if (n->min_mtu && n->cfg.crypto.policy != MP_SEC_PLAIN)
        n->min_mtu = (uint16_t)(n->min_mtu - MC_SEC_OVERHEAD);
}

static mc_bearer *bearer_get(mc_node *n, int id)
{
    if (id < 0 || id >= MC_MAX_BEARERS || !n->bearers[id].used)
        return NULL;
    return &n->bearers[id];
}

int mc_bearer_attach(mc_node *n, const mc_bearer_cfg *cfg, uint64_t now)
{
    if (!n || !cfg || cfg->priority > MP_PRIORITY_MAX || cfg->discovery.len > MC_ADDR_MAX)
        return MC_EINVAL;
    uint16_t mtu = cfg->mtu ? cfg->mtu : MP_ETH_MTU;
    if (mtu < 256)
        return MC_EINVAL;
    if (cfg->tolerance_ms &&
        (cfg->tolerance_ms < MP_TOLERANCE_MIN_MS || cfg->tolerance_ms > MP_TOLERANCE_MAX_MS))
        return MC_EINVAL;
    if (cfg->window > MP_WINDOW_MAX)
        return MC_EINVAL;
    int id = -1;
    for (int i = 0; i < MC_MAX_BEARERS; i++)
        if (!n->bearers[i].used) {
            id = i;
            break;
        }
    if (id < 0)
        return MC_ELIMIT;
    if (mtu > n->txcap) {
        /* Scratch buffers are sized to the largest MTU: one frame, one bundle body. */
        uint8_t *t = mc__alloc(n, mtu), *bb = mc__alloc(n, mtu);
        if (!t || !bb) {
            mc__free(n, t, mtu);
            mc__free(n, bb, mtu);
            return MC_ENOMEM;
        }
        mc__free(n, n->txbuf, n->txcap);
        mc__free(n, n->bbuf, n->txcap);
        n->txbuf = t;
        n->bbuf = bb;
        n->txcap = mtu;
    }
    mc_bearer *b = &n->bearers[id];
    memset(b, 0, sizeof *b);
    b->used = true;
    b->id = id;
    b->cfg = *cfg;
    b->cfg.mtu = mtu;
    if (!b->cfg.tolerance_ms)
        b->cfg.tolerance_ms = n->cfg.tolerance_ms;
    if (!b->cfg.window)
        b->cfg.window = n->cfg.window;
    b->disc_at = cfg->discovery_off ? MC_NEVER : now;
    recompute_min_mtu(n);
    n->now = now;
    return id;
}

int mc_bearer_detach(mc_node *n, int bearer, uint64_t now)
{
    mc_bearer *b = bearer_get(n, bearer);
    if (!b)
        return MC_ENOENT;
    n->now = now;
    for (uint32_t i = 0; i < n->peers.nb; i++) {
        for (mc_hnode *e = n->peers.b[i]; e;) {
            mc_hnode *enext = e->next;
            mc_peer *p = (mc_peer *)e;
            mc_link *l = p->links;
            while (l) {
                mc_link *next = l->pnext;
                if (l->bearer == b) {
                    mc__link_down(n, l, MC_DOWN_DETACH, true, now);
                    link_destroy(n, l);
                }
                l = next;
            }
            peer_free_if_unused(n, p);
            e = enext;
        }
    }
    b->used = false;
    recompute_min_mtu(n);
    mc_flush(n, now);
    return MC_OK;
}

int mc_bearer_set_tolerance(mc_node *n, int bearer, uint16_t tol)
{
    mc_bearer *b = bearer_get(n, bearer);
    if (!b)
        return MC_ENOENT;
    if (tol < MP_TOLERANCE_MIN_MS || tol > MP_TOLERANCE_MAX_MS)
        return MC_EINVAL;
    b->cfg.tolerance_ms = tol;
    for (uint32_t i = 0; i < n->links.nb; i++)
        for (mc_hnode *e = n->links.b[i]; e; e = e->next) {
            mc_link *l = (mc_link *)e;
            if (l->bearer != b)
                continue;
            l->tolerance_ms = tol;
            if (l->state == MC_LS_ESTABLISHED && l->peer_tolerance_ms > tol)
                l->tolerance_ms = l->peer_tolerance_ms;
            mc__link_rearm(n, l);
        }
    return MC_OK;
}

/* ---- Discovery ---------------------------------------------------------------------------- */
static void send_discover(mc_node *n, mc_bearer *b, const mc_addr *dst, bool reply)
{
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = MP_T_DISCOVER;
    f.u.discover.node_id = n->cfg.node_id;
    f.u.discover.domain = n->cfg.domain;
    f.u.discover.max_version = MP_VERSION;
    f.u.discover.dflags = reply ? MP_DFLAG_REPLY : 0;
    f.u.discover.mtu = b->cfg.mtu;
    f.u.discover.incarnation = n->incarnation;
    uint8_t caps[4], pol;
    mc__sec_discover_opts(n, &f.u.discover, caps, &pol);
    int len = mp_encode(&f, n->txbuf, n->txcap);
    if (len < 0) {
        n->st.send_errors++;
        return;
    }
    n->cfg.tx(n->cfg.user, b->id, dst, n->txbuf, (size_t)len);
}

static void on_discover(mc_node *n, mc_bearer *b, const mc_addr *src, const mp_discover *d,
                        uint64_t now)
{
    if (d->domain != n->cfg.domain) {
        mc__drop(n, MC_DROP_DOMAIN);
        return;
    }
    if (d->node_id == n->cfg.node_id) {
        if (d->incarnation != n->incarnation) {
            mc__drop(n, MC_DROP_DUP_NODE);
            mc_event ev = {.type = MC_EV_DUP_NODE, .peer = d->node_id, .bearer = b->id};
            mc__emit(n, &ev);
        }
        return; /* our own DISCOVER echoed back by the medium */
    }
    if (d->node_id == 0 || d->node_id == 0xFFFFFFFFu) {
        mc__drop(n, MC_DROP_DECODE);
        return;
    }
    /* The pair of security policies may allow no link at all (RFC 12.7): then no state
     * is created for the peer. */
    uint8_t pol = mc__sec_peer_policy(d);
    if (!mc__sec_admit(n, pol))
        return;
    mc_peer *p = peer_get(n, d->node_id);
    if (!p) {
        mc__drop(n, MC_DROP_NOMEM);
        return;
    }
    bool restarted = p->inc_known && p->incarnation != d->incarnation;
    check_incarnation(n, p, d->incarnation, now);
    if (restarted && n->cfg.crypto.policy != MP_SEC_PLAIN) {
        /* A restarted peer has forgotten us.  A secured link cannot come back on its
         * LINK_RESETs (they wait for the key exchange, which needs the peer to have a
         * link to us), so answer at once rather than at our next periodic DISCOVER, and
         * before our INIT, so that the INIT finds that link. */
        if (!(d->dflags & MP_DFLAG_REPLY))
            send_discover(n, b, src, true);
        mc__sec_peer_restarted(n, p, pol, now); /* its keys died with it (RFC 12.6) */
    }
    mc_link *l = link_find(n, b->id, src);
    if (l && l->peer != p) {
        /* The address now belongs to another node (replaced board): start afresh. */
        mc_peer *old = l->peer;
        mc__link_down(n, l, MC_DOWN_PEER_RESET, true, now);
        link_destroy(n, l);
        peer_free_if_unused(n, old);
        l = NULL;
    }
    if (!l) {
        l = link_create(n, b, src, p, now);
        if (l && mc__sec_link_attach(n, l, pol, now) < 0) {
            link_destroy(n, l);
            l = NULL;
        }
        if (!l) {
            mc__drop(n, MC_DROP_NOMEM);
            peer_free_if_unused(n, p);
            return;
        }
        if (!(d->dflags & MP_DFLAG_REPLY))
            send_discover(n, b, src, true);
        return;
    }
    mc__sec_rediscover(n, l, now);
}

/* ---- Input --------------------------------------------------------------------------------- */
static void on_link_ctl(mc_node *n, mc_bearer *b, const mc_addr *src, const mp_frame *f,
                        uint64_t now)
{
    const mp_link *lk = &f->u.link;
    if (lk->peer_id != n->cfg.node_id) {
        mc__drop(n, MC_DROP_NOT_FOR_US);
        return;
    }
    if (lk->node_id == n->cfg.node_id) {
        mc__drop(n, MC_DROP_DUP_NODE);
        return;
    }
    mc_link *l = link_find(n, b->id, src);
    mc_peer *p = l ? l->peer : peer_find(n, lk->node_id);
    if (l && l->peer->node_id != lk->node_id) {
        mc_peer *old = l->peer;
        mc__link_down(n, l, MC_DOWN_PEER_RESET, true, now);
        link_destroy(n, l);
        peer_free_if_unused(n, old);
        l = NULL;
        p = peer_find(n, lk->node_id);
    }
    if (!l && f->hdr.type != MP_T_LINK_RESET) {
        /* An ACTIVATE for an endpoint we do not have is from a setup we forgot. */
        mc__drop(n, MC_DROP_NO_LINK);
        return;
    }
    if (!p && !(p = peer_get(n, lk->node_id))) {
        mc__drop(n, MC_DROP_NOMEM);
        return;
    }
    check_incarnation(n, p, lk->incarnation, now);
    check_epoch(n, p, lk, now);
    if (!l) {
        /* A LINK_RESET addressed to us creates the endpoint: a peer that kept its link
         * in RESET rejoins us without waiting for the next DISCOVER. */
        l = link_create(n, b, src, p, now);
        if (!l) {
            mc__drop(n, MC_DROP_NOMEM);
            peer_free_if_unused(n, p);
            return;
        }
    }
    mc__link_on_ctl(n, l, f, now);
}

/* One frame from the bearer (sealed = false) or out of a SECURED envelope that sec.c
 * has opened (sealed = true: authenticated, from the link at (b, src)). */
static int input_frame(mc_node *n, mc_bearer *b, const mc_addr *src, const uint8_t *buf,
                       size_t len, uint64_t now, bool sealed)
{
    int bearer = b->id;
    mp_hdr h;
    int r = mp_hdr_decode(buf, len, &h);
    if (r < 0) {
        mc__drop(n, r == MP_EVERSION ? MC_DROP_VERSION
                    : r == MP_ETYPE  ? MC_DROP_TYPE
                                     : MC_DROP_DECODE);
        return MC_ECODEC;
    }
    /* Where links must be secured, nothing but DISCOVER, KEY_EXCHANGE and SECURED is
     * taken from the wire (RFC MSG-SEC-15); the gate counts what it refuses. */
    if (!sealed && !mc__sec_plain_ok(n, bearer, src, h.type))
        return MC_EAUTH;
    int ret = MC_OK;
    if (MP_TYPE_IS_SEQUENCED(h.type)) {
        mc_link *l = link_find(n, bearer, src);
        if (!l) {
            mc__drop(n, MC_DROP_NO_LINK);
            ret = MC_ENOENT;
        } else {
            l->st.rx_frames++;
            l->st.rx_bytes += len;
            mc__link_on_seq(n, l, buf, len, &h, now);
        }
    } else {
        switch (h.type) {
        case MP_T_DISCOVER:
        case MP_T_LINK_RESET:
        case MP_T_LINK_ACTIVATE:
        case MP_T_LINK_STATE: {
            mp_frame f;
            r = mp_decode(buf, len, &f);
            if (r < 0) {
                mc__drop(n, MC_DROP_DECODE);
                ret = MC_ECODEC;
                break;
            }
            if (h.type == MP_T_DISCOVER) {
                on_discover(n, b, src, &f.u.discover, now);
            } else if (h.type == MP_T_LINK_STATE) {
                mc_link *l = link_find(n, bearer, src);
                if (!l) {
                    mc__drop(n, MC_DROP_NO_LINK);
                    ret = MC_ENOENT;
                } else {
                    l->st.rx_frames++;
                    l->st.rx_bytes += len;
                    mc__link_on_state(n, l, &f, now);
                }
            } else {
                on_link_ctl(n, b, src, &f, now);
            }
            break;
        }
        case MP_T_SECURED:
        case MP_T_KEY_EXCHANGE:
            /* (An opened SECURED frame never holds these: the adapter refuses them.) */
            ret = mc__sec_input(n, b, src, buf, len, &h, now);
            break;
        default:
            mc__drop(n, MC_DROP_TYPE);
            ret = MC_ECODEC;
            break;
        }
    }
    return ret;
}

int mc__input_inner(mc_node *n, mc_bearer *b, const mc_addr *src, const uint8_t *buf,
                    size_t len, uint64_t now)
{
    return input_frame(n, b, src, buf, len, now, true);
}

int mc_input(mc_node *n, int bearer, const mc_addr *src, const uint8_t *buf, size_t len,
             uint64_t now)
{
    if (!n || !src || (!buf && len))
        return MC_EINVAL;
    if (now > n->now)
        n->now = now;
    mc_bearer *b = bearer_get(n, bearer);
    if (!b) {
        mc__drop(n, MC_DROP_BAD_BEARER);
        return MC_ENOENT;
    }
    int ret = input_frame(n, b, src, buf, len, now, false);
    mc_flush(n, now);
    return ret;
}

/* ---- Time ------------------------------------------------------------------------------------ */
int mc_flush(mc_node *n, uint64_t now)
{
    if (now > n->now)
        n->now = now;
    if (n->n_path_holes)
        mc__paths_repair(n);
    /* Pushing may fail links over and so dirty other links: loop until quiet. */
    while (n->dirty) {
        mc_link *l = n->dirty;
        n->dirty = l->dnext;
        l->dirty = false;
        l->dnext = NULL;
        mc__link_push(n, l, now);
        mc__link_rearm(n, l);
    }
    return MC_OK;
}

int mc_timeout(mc_node *n, uint64_t now)
{
    if (now > n->now)
        n->now = now;
    /* Each link timer moves that link's deadline past `now`; the guard only protects
     * against a bug turning into a hang. */
    uint32_t guard = 4 * n->heap_n + 64;
    while (n->heap_n && n->heap[0]->deadline <= now && guard--) {
        mc_link *l = n->heap[0];
        mc__link_timer(n, l, now);
        mc__link_rearm(n, l);
        if (l->deadline <= now) {
            l->deadline = now + 1;
            mc__heap_update(n, l);
        }
    }
    for (int i = 0; i < MC_MAX_BEARERS; i++) {
        mc_bearer *b = &n->bearers[i];
        if (!b->used || b->disc_at > now)
            continue;
        send_discover(n, b, &b->cfg.discovery, false);
        b->disc_sent++;
        b->disc_at = now + (b->disc_sent < MC_DISC_FAST_COUNT ? MC_DISC_FAST_NS : MC_DISC_SLOW_NS);
    }
    if (n->paths && mpa_next_deadline(n->paths) <= now)
        mpa_tick(n->paths, now);
    if (n->n_reasm && n->reasm_check_at <= now)
        mc__reasm_expire(n, now);
    mc_flush(n, now);
    return MC_OK;
}

uint64_t mc_next_deadline(const mc_node *n)
{
    uint64_t d = n->heap_n ? n->heap[0]->deadline : MC_NEVER;
    if (n->dirty && n->now < d)
        d = n->now;
    for (int i = 0; i < MC_MAX_BEARERS; i++)
        if (n->bearers[i].used && n->bearers[i].disc_at < d)
            d = n->bearers[i].disc_at;
    if (n->paths) {
        uint64_t pd = mpa_next_deadline(n->paths);
        if (pd < d)
            d = pd;
    }
    if (n->n_reasm && n->reasm_check_at < d)
        d = n->reasm_check_at;
    return d;
}

/* ---- Introspection ------------------------------------------------------------------------- */
void mc_get_stats(const mc_node *n, mc_stats *out)
{
    *out = n->st;
    out->n_links = n->n_links;
    out->n_peers_up = n->n_peers_up;
    out->n_chans = n->chans.n;
    out->n_reasm = n->n_reasm;
    out->n_held = n->n_held;
}

static void link_info(const mc_link *l, mc_link_info *li)
{
    memset(li, 0, sizeof *li);
    li->peer = l->peer->node_id;
    li->bearer = l->bearer->id;
    li->state = l->state;
    li->addr = l->addr;
    li->tolerance_ms = l->tolerance_ms;
    li->window = l->window;
    li->mtu = l->mtu;
    li->probe_ms = (uint16_t)(mc__link_probe_ns(l) / MC_NS_PER_MS);
    li->priority = l->priority;
    li->standby = l->bearer->cfg.standby || l->peer_standby;
    li->srtt_ns = l->srtt;
    li->rto_ns = l->rto;
    li->inflight = l->n_inflight;
    li->backlog = l->n_backlog;
    li->stats = l->st;
}

int mc_foreach_link(const mc_node *n, int (*fn)(void *, const mc_link_info *), void *user)
{
    int count = 0;
    for (uint32_t i = 0; i < n->links.nb; i++)
        for (mc_hnode *e = n->links.b[i]; e; e = e->next) {
            mc_link_info li;
            link_info((const mc_link *)e, &li);
            count++;
            if (fn(user, &li))
                return count;
        }
    return count;
}

int mc_link_get(const mc_node *n, uint32_t peer, int bearer, mc_link_info *out)
{
    mc_peer *p = peer_find(n, peer);
    if (!p)
        return MC_ENOENT;
    for (mc_link *l = p->links; l; l = l->pnext)
        if (l->bearer->id == bearer) {
            link_info(l, out);
            return MC_OK;
        }
    return MC_ENOENT;
}

bool mc_peer_is_up(const mc_node *n, uint32_t peer)
{
    mc_peer *p = peer_find(n, peer);
    return p && p->up;
}

int mc_set_caps(mc_node *n, uint32_t caps)
{
    if (!n || (caps & ~(uint32_t)MP_CAP_MINET))
        return MC_EINVAL;
    n->caps_extra = caps;
    return MC_OK;
}

uint32_t mc_peer_caps(const mc_node *n, uint32_t peer)
{
    mc_peer *p = n ? peer_find(n, peer) : NULL;
    return p ? p->caps : 0;
}

mc_peer *mc__peer_find(const mc_node *n, uint32_t id) { return peer_find(n, id); }
