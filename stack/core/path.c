/*
 * path.c — communication paths (see path.h for the model, ownership and credit rules).
 *
 * Every path object sits in a hash table keyed by its local id (the channel its peer
 * sends on) and in one list of all paths (timeouts, peer loss).  A multicast group is a
 * path object of its own (so group and path handles share one id space) whose members
 * are ordinary opener paths linked to it.  The reorder buffer is allocated only when a
 * path first sees a gap, because in the normal case the link already delivers a
 * channel in order and the buffer would be dead weight on thousands of paths.
 */
#include "path.h"

#include <string.h>

#define MPA_DEF_MAX_PATHS 4096u
#define MPA_DEF_MAX_GROUP 256u
#define MPA_DEF_MAX_BYTES (32u * 1024u * 1024u)
#define MPA_DEF_WINDOW 64u
/* Below 4 the grant threshold (window/2) would be 1 and two peers could answer each
 * other's PATH_CREDIT with PATH_CREDIT forever; at >= 2 positions per grant the exchange
 * dies out geometrically. */
#define MPA_MIN_WINDOW 4u
#define MPA_DEF_TIMEOUT 2000000000ull /* 2 s in nanoseconds (design notes) */
#define MPA_INIT_BUCKETS 64u
#define MPA_NO_DEADLINE UINT64_MAX

/* A message waiting for a gap to fill: the decoded frame plus a copy of its one view. */
typedef struct mpa_held {
    size_t size;
    mp_frame f;
} mpa_held;

typedef struct mpa_dev {
    struct mpa_dev *next;
    uint32_t id, flags, max_paths, npaths, window;
} mpa_dev;

typedef struct mpa_path {
    struct mpa_path *hnext;       /* id hash chain */
    struct mpa_path *prev, *next; /* all paths */
    struct mpa_path *parent;      /* group of a multicast member */
    struct mpa_path *child, *sib; /* group: members; member: next member */
    uint32_t id, peer_node, peer_path, local_device, peer_device;
    uint8_t state, pkind;
    bool opener, is_group, dev_counted;
    uint16_t reason;
    uint64_t deadline;
    uint32_t tx_next, tx_limit;
    uint32_t rx_next, rx_limit, window, unconsumed;
    mpa_held **ring;
    uint32_t ring_cap, held;
    uint32_t members;
    uint8_t name_len;
    uint8_t name[MP_MAX_NAME];
} mpa_path;

struct mpa_ctx {
    mpa_config cfg;
    mpa_stats st;
    mpa_path **buckets;
    uint32_t nb;
    mpa_path *head, *tail;
    mpa_dev *devs;
    uint32_t next_id;
};

const char *mpa_strerror(int err)
{
    switch (err) {
    case MPA_OK:
        return "success";
    case MPA_EINVAL:
        return "invalid argument";
    case MPA_ENOMEM:
        return "out of memory (allocator failed)";
    case MPA_ELIMIT:
        return "path limit reached";
    case MPA_ENOPATH:
        return "no such path";
    case MPA_ESTATE:
        return "not allowed in the path's state";
    case MPA_ENOCREDIT:
        return "no credit: wait for the peer's PATH_CREDIT";
    case MPA_EPEER:
        return "frame from a node that is not the path's peer";
    case MPA_EPROTO:
        return "path protocol violation";
    case MPA_ENODEV:
        return "no such local device";
    case MPA_EEXIST:
        return "device already registered";
    default:
        return "unknown path error";
    }
}

const char *mpa_state_name(int state)
{
    switch (state) {
    case MPA_ST_CLOSED:
        return "CLOSED";
    case MPA_ST_OPENING:
        return "OPENING";
    case MPA_ST_ACCEPTING:
        return "ACCEPTING";
    case MPA_ST_OPEN:
        return "OPEN";
    case MPA_ST_CLOSING:
        return "CLOSING";
    case MPA_ST_BROKEN:
        return "BROKEN";
    default:
        return "?";
    }
}

static bool mpa_terminal(uint8_t s)
{
    return s == MPA_ST_CLOSED || s == MPA_ST_BROKEN;
}

static bool mpa_flow_controlled(uint8_t type)
{
    return type == MP_T_DATA || type == MP_T_MGMT || type == MP_T_SERVICE_STATUS;
}

/* ---- Memory ----------------------------------------------------------------------------- */

static void *mpa_mem_alloc(mpa_ctx *c, size_t n, int *err)
{
    if (c->st.bytes_used + n > c->cfg.max_bytes) {
        *err = MPA_ELIMIT;
        return NULL;
    }
    void *p = c->cfg.alloc.alloc(c->cfg.alloc.user, n);
    if (!p) {
        *err = MPA_ENOMEM;
        return NULL;
    }
    c->st.bytes_used += n;
    return p;
}

static void mpa_mem_free(mpa_ctx *c, void *p, size_t n)
{
    if (!p)
        return;
    c->cfg.alloc.free(c->cfg.alloc.user, p, n);
    c->st.bytes_used -= n;
}

/* ---- Path table ------------------------------------------------------------------------- */

static uint32_t mpa_bucket(const mpa_ctx *c, uint32_t id)
{
    /* Ids are allocated sequentially, so a multiplicative mix spreads them well. */
    return (id * 2654435761u) & (c->nb - 1);
}

static mpa_path *mpa_find(const mpa_ctx *c, uint32_t id)
{
    for (mpa_path *p = c->buckets[mpa_bucket(c, id)]; p; p = p->hnext)
        if (p->id == id)
            return p;
    return NULL;
}

static void mpa_grow(mpa_ctx *c)
{
    uint32_t nb = c->nb * 2;
    if (nb == 0 || c->st.paths <= c->nb)
        return;
    int err;
    mpa_path **b = mpa_mem_alloc(c, nb * sizeof(*b), &err);
    if (!b)
        return; /* not fatal: longer chains */
    memset(b, 0, nb * sizeof(*b));
    uint32_t old_nb = c->nb;
    mpa_path **old = c->buckets;
    c->buckets = b;
    c->nb = nb;
    for (uint32_t i = 0; i < old_nb; i++) {
        mpa_path *p = old[i];
        while (p) {
            mpa_path *next = p->hnext;
            uint32_t k = mpa_bucket(c, p->id);
            p->hnext = b[k];
            b[k] = p;
            p = next;
        }
    }
    mpa_mem_free(c, old, old_nb * sizeof(*old));
}

/* A fresh id: >= MP_CHAN_FIRST_PATH, not held by any path object.  The cursor moves on
 * monotonically, so a released id comes back only after 2^32 allocations, long after
 * any stale frame addressed to it has drained. */
static uint32_t mpa_id_alloc(mpa_ctx *c)
{
    for (;;) {
        uint32_t id = c->next_id;
        c->next_id = id == UINT32_MAX ? MP_CHAN_FIRST_PATH : id + 1;
        if (!mpa_find(c, id))
            return id;
    }
}

static mpa_path *mpa_path_new(mpa_ctx *c, int *err)
{
    if (c->st.paths >= c->cfg.max_paths) {
        *err = MPA_ELIMIT;
        return NULL;
    }
    mpa_path *p = mpa_mem_alloc(c, sizeof(*p), err);
    if (!p)
        return NULL;
    memset(p, 0, sizeof(*p));
    p->id = mpa_id_alloc(c);
    p->deadline = MPA_NO_DEADLINE;
    p->window = c->cfg.window;
    uint32_t k = mpa_bucket(c, p->id);
    p->hnext = c->buckets[k];
    c->buckets[k] = p;
    p->prev = c->tail;
    if (c->tail)
        c->tail->next = p;
    else
        c->head = p;
    c->tail = p;
    c->st.paths++;
    mpa_grow(c);
    return p;
}

static void mpa_ring_free(mpa_ctx *c, mpa_path *p)
{
    if (!p->ring)
        return;
    for (uint32_t i = 0; i < p->ring_cap; i++)
        if (p->ring[i])
            mpa_mem_free(c, p->ring[i], p->ring[i]->size);
    mpa_mem_free(c, p->ring, p->ring_cap * sizeof(*p->ring));
    p->ring = NULL;
    p->ring_cap = 0;
    p->held = 0;
}

static mpa_dev *mpa_dev_find(const mpa_ctx *c, uint32_t id)
{
    for (mpa_dev *d = c->devs; d; d = d->next)
        if (d->id == id)
            return d;
    return NULL;
}

static void mpa_path_free(mpa_ctx *c, mpa_path *p)
{
    mpa_ring_free(c, p);
    if (p->dev_counted) {
        mpa_dev *d = mpa_dev_find(c, p->local_device);
        if (d && d->npaths)
            d->npaths--;
    }
    mpa_path **pp = &c->buckets[mpa_bucket(c, p->id)];
    while (*pp != p)
        pp = &(*pp)->hnext;
    *pp = p->hnext;
    if (p->prev)
        p->prev->next = p->next;
    else
        c->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        c->tail = p->prev;
    c->st.paths--;
    mpa_mem_free(c, p, sizeof(*p));
}

/* ---- Actions ------------------------------------------------------------------------------ */

static void mpa_act(mpa_ctx *c, const mpa_action *a)
{
    c->cfg.on_action(c->cfg.action_user, a);
}

static void mpa_frame_init(mp_frame *f, uint8_t type, uint32_t chan, uint32_t cseq)
{
    memset(f, 0, sizeof(*f));
    f->hdr.version = MP_VERSION;
    f->hdr.type = type;
    f->hdr.chan = chan;
    f->hdr.cseq = cseq;
}

static void mpa_send_raw(mpa_ctx *c, const mpa_path *p, uint32_t node, const mp_frame *f)
{
    mpa_action a;
    memset(&a, 0, sizeof(a));
    a.type = MPA_ACT_SEND;
    a.node = node;
    a.frame = f;
    if (p) {
        a.path = p->id;
        a.group = p->parent ? p->parent->id : 0;
        a.device = p->local_device;
        a.peer_device = p->peer_device;
    }
    if (f->hdr.type == MP_T_DATA)
        a.payload = f->u.data;
    mpa_act(c, &a);
}

/* Send on the peer's channel: the next cseq of this direction. */
static void mpa_send_on_path(mpa_ctx *c, mpa_path *p, mp_frame *f)
{
    f->hdr.chan = p->peer_path;
    f->hdr.cseq = p->tx_next++;
    mpa_send_raw(c, p, p->peer_node, f);
}

static void mpa_send_abort(mpa_ctx *c, mpa_path *p, uint16_t reason)
{
    mp_frame f;
    mpa_frame_init(&f, MP_T_PATH_ABORT, 0, 0);
    f.u.abort_.dst_path = p->peer_path;
    f.u.abort_.src_path = p->id;
    f.u.abort_.error = reason;
    mpa_send_on_path(c, p, &f);
}

/* An acceptor's answer that refuses: like any refusal it names no path of ours
 * (src_path 0, MSG-PATH-13), even when a path object was kept while the application
 * decided.  Nothing was sent on the opener's channel before, so this is cseq 0. */
static void mpa_send_refusal(mpa_ctx *c, mpa_path *p, uint16_t reason)
{
    mp_frame f;
    mpa_frame_init(&f, MP_T_PATH_ABORT, 0, 0);
    f.u.abort_.dst_path = p->peer_path;
    f.u.abort_.src_path = 0;
    f.u.abort_.error = reason;
    mpa_send_on_path(c, p, &f);
}

static void mpa_send_close(mpa_ctx *c, mpa_path *p, uint16_t reason)
{
    mp_frame f;
    mpa_frame_init(&f, MP_T_PATH_CLOSE, 0, 0);
    f.u.close.dst_path = p->peer_path;
    f.u.close.src_path = p->id;
    /* The position just before this PATH_CLOSE: everything up to it precedes the close. */
    f.u.close.last_cseq = p->tx_next - 1;
    f.u.close.reason = (uint8_t)reason;
    mpa_send_on_path(c, p, &f);
}

static void mpa_status(mpa_ctx *c, const mpa_path *p)
{
    mpa_action a;
    memset(&a, 0, sizeof(a));
    a.type = MPA_ACT_STATUS;
    a.node = p->peer_node;
    a.path = p->id;
    a.group = p->parent ? p->parent->id : 0;
    a.device = p->local_device;
    a.peer_device = p->peer_device;
    a.state = p->state;
    a.reason = p->reason;
    a.pkind = p->pkind;
    mpa_act(c, &a);
}

static void mpa_set_state(mpa_ctx *c, mpa_path *p, uint8_t state, uint16_t reason);

/* A group follows its members: OPEN with the first open member; over when none is left
 * alive (CLOSED if the application closed it, else BROKEN). */
static void mpa_group_update(mpa_ctx *c, mpa_path *g)
{
    if (mpa_terminal(g->state))
        return;
    uint32_t open = 0, live = 0;
    uint16_t last_reason = MP_R_NONE;
    for (mpa_path *m = g->child; m; m = m->sib) {
        if (m->state == MPA_ST_OPEN)
            open++;
        if (!mpa_terminal(m->state))
            live++;
        else
            last_reason = m->reason;
    }
    if (live == 0)
        mpa_set_state(c, g, g->state == MPA_ST_CLOSING ? MPA_ST_CLOSED : MPA_ST_BROKEN,
                      g->state == MPA_ST_CLOSING ? g->reason : last_reason);
    else if (g->state == MPA_ST_OPENING && open > 0)
        mpa_set_state(c, g, MPA_ST_OPEN, MP_R_NONE);
}

static void mpa_set_state(mpa_ctx *c, mpa_path *p, uint8_t state, uint16_t reason)
{
    p->state = state;
    p->reason = reason;
    if (mpa_terminal(state)) {
        p->deadline = MPA_NO_DEADLINE;
        mpa_ring_free(c, p); /* nothing held can be delivered any more */
        if (state == MPA_ST_CLOSED)
            c->st.closed++;
        else
            c->st.broken++;
    }
    mpa_status(c, p);
    if (p->parent)
        mpa_group_update(c, p->parent);
}

/* Abort a live path: tell the peer if it knows the path, then BROKEN. */
static void mpa_abort_path(mpa_ctx *c, mpa_path *p, uint16_t reason)
{
    if (mpa_terminal(p->state))
        return;
    if (p->peer_path && p->state != MPA_ST_OPENING)
        mpa_send_abort(c, p, reason);
    mpa_set_state(c, p, MPA_ST_BROKEN, reason);
}

/* Grant more credit when the application's consumption moved the limit we could grant
 * by at least half a window: one PATH_CREDIT per half window, not one per message. */
static void mpa_maybe_grant(mpa_ctx *c, mpa_path *p)
{
    if (p->state != MPA_ST_OPEN || !p->peer_path)
        return;
    uint32_t want = p->rx_next - p->unconsumed + p->window;
    if (!mp_seq32_lt(p->rx_limit, want) || want - p->rx_limit < p->window / 2)
        return;
    mp_frame f;
    mpa_frame_init(&f, MP_T_PATH_CREDIT, 0, 0);
    f.u.credit.dst_path = p->peer_path;
    f.u.credit.limit = want;
    p->rx_limit = want;
    c->st.credits_sent++;
    mpa_send_on_path(c, p, &f);
}

/* ---- Lifecycle ---------------------------------------------------------------------------- */

int mpa_create(const mpa_config *cfg, mpa_ctx **out)
{
    if (!cfg || !out || !cfg->alloc.alloc || !cfg->alloc.free || !cfg->on_action)
        return MPA_EINVAL;
    if (cfg->window && cfg->window < MPA_MIN_WINDOW)
        return MPA_EINVAL;
    *out = NULL;
    mpa_ctx tmp;
    memset(&tmp, 0, sizeof(tmp));
    tmp.cfg = *cfg;
    if (!tmp.cfg.max_paths)
        tmp.cfg.max_paths = MPA_DEF_MAX_PATHS;
    if (!tmp.cfg.max_group)
        tmp.cfg.max_group = MPA_DEF_MAX_GROUP;
    if (!tmp.cfg.max_bytes)
        tmp.cfg.max_bytes = MPA_DEF_MAX_BYTES;
    if (!tmp.cfg.window)
        tmp.cfg.window = MPA_DEF_WINDOW;
    if (!tmp.cfg.reorder_max)
        tmp.cfg.reorder_max = 2 * tmp.cfg.window;
    if (!tmp.cfg.open_timeout)
        tmp.cfg.open_timeout = MPA_DEF_TIMEOUT;
    if (!tmp.cfg.close_timeout)
        tmp.cfg.close_timeout = tmp.cfg.open_timeout;
    /* Ids must never run out while searching: leave most of the id space free. */
    if (tmp.cfg.max_paths > 0x7FFFFFFFu)
        return MPA_EINVAL;
    if (sizeof(mpa_ctx) + MPA_INIT_BUCKETS * sizeof(void *) > tmp.cfg.max_bytes)
        return MPA_ELIMIT;
    mpa_ctx *c = cfg->alloc.alloc(cfg->alloc.user, sizeof(*c));
    if (!c)
        return MPA_ENOMEM;
    *c = tmp;
    c->st.bytes_used = sizeof(*c);
    c->next_id = MP_CHAN_FIRST_PATH;
    c->nb = MPA_INIT_BUCKETS;
    int err;
    c->buckets = mpa_mem_alloc(c, c->nb * sizeof(*c->buckets), &err);
    if (!c->buckets) {
        cfg->alloc.free(cfg->alloc.user, c, sizeof(*c));
        return err;
    }
    memset(c->buckets, 0, c->nb * sizeof(*c->buckets));
    *out = c;
    return MPA_OK;
}

void mpa_destroy(mpa_ctx *c)
{
    if (!c)
        return;
    while (c->head) {
        c->head->dev_counted = false;
        mpa_path_free(c, c->head);
    }
    while (c->devs) {
        mpa_dev *d = c->devs;
        c->devs = d->next;
        mpa_mem_free(c, d, sizeof(*d));
    }
    mpa_mem_free(c, c->buckets, c->nb * sizeof(*c->buckets));
    mpa_allocator a = c->cfg.alloc;
    a.free(a.user, c, sizeof(*c));
}

void mpa_get_stats(const mpa_ctx *c, mpa_stats *out)
{
    *out = c->st;
}

int mpa_get_info(const mpa_ctx *c, uint32_t path, mpa_info *out)
{
    if (!c || !out)
        return MPA_EINVAL;
    const mpa_path *p = mpa_find(c, path);
    if (!p)
        return MPA_ENOPATH;
    memset(out, 0, sizeof(*out));
    out->state = p->state;
    out->pkind = p->pkind;
    out->is_group = p->is_group;
    out->opener = p->opener;
    out->reason = p->reason;
    out->peer_node = p->peer_node;
    out->peer_path = p->peer_path;
    out->local_device = p->local_device;
    out->peer_device = p->peer_device;
    out->group = p->parent ? p->parent->id : 0;
    out->tx_next = p->tx_next;
    out->tx_limit = p->tx_limit;
    out->rx_next = p->rx_next;
    out->rx_limit = p->rx_limit;
    out->window = p->window;
    out->unconsumed = p->unconsumed;
    out->held = p->held;
    out->members = p->members;
    return MPA_OK;
}

uint64_t mpa_next_deadline(const mpa_ctx *c)
{
    uint64_t d = MPA_NO_DEADLINE;
    for (const mpa_path *p = c ? c->head : NULL; p; p = p->next)
        if (p->deadline < d)
            d = p->deadline;
    return d;
}

/* ---- Devices ----------------------------------------------------------------------------------
 */

int mpa_device_add(mpa_ctx *c, uint32_t device, uint32_t flags, uint32_t max_paths, uint32_t window)
{
    if (!c || (flags & ~MPA_DEV_AUTO_ACCEPT) || (window && window < MPA_MIN_WINDOW))
        return MPA_EINVAL;
    if (mpa_dev_find(c, device))
        return MPA_EEXIST;
    int err;
    mpa_dev *d = mpa_mem_alloc(c, sizeof(*d), &err);
    if (!d)
        return err;
    memset(d, 0, sizeof(*d));
    d->id = device;
    d->flags = flags;
    d->max_paths = max_paths;
    d->window = window ? window : c->cfg.window;
    d->next = c->devs;
    c->devs = d;
    return MPA_OK;
}

int mpa_device_remove(mpa_ctx *c, uint32_t device)
{
    if (!c)
        return MPA_EINVAL;
    mpa_dev **pp = &c->devs;
    while (*pp && (*pp)->id != device)
        pp = &(*pp)->next;
    if (!*pp)
        return MPA_ENODEV;
    for (mpa_path *p = c->head; p; p = p->next)
        if (!p->is_group && p->local_device == device) {
            mpa_abort_path(c, p, MP_R_NO_SUCH_DEVICE);
            p->dev_counted = false;
        }
    mpa_dev *d = *pp;
    *pp = d->next;
    mpa_mem_free(c, d, sizeof(*d));
    return MPA_OK;
}

/* ---- Opening ------------------------------------------------------------------------------------
 */

static void mpa_send_open(mpa_ctx *c, mpa_path *p)
{
    mp_frame f;
    /* Channel 0 is the core's: it assigns the cseq. */
    mpa_frame_init(&f, MP_T_PATH_OPEN, MP_CHAN_NODE, 0);
    f.u.open.src_path = p->id;
    f.u.open.src_device = p->local_device;
    f.u.open.dst_device = p->peer_device;
    f.u.open.credit = p->rx_limit;
    f.u.open.pkind = p->pkind;
    f.u.open.name.ptr = p->name_len ? p->name : NULL;
    f.u.open.name.len = p->name_len;
    mpa_send_raw(c, p, p->peer_node, &f);
}

static bool mpa_node_ok(uint32_t node)
{
    return node != 0 && node != 0xFFFFFFFFu;
}

/* A name for PATH_OPEN: empty, or valid per the naming rules (the codec would refuse to
 * encode anything else, and the failure would surface far from its cause). */
static bool mpa_name_ok(const uint8_t *name, size_t len)
{
    return len == 0 || (name && len <= MP_MAX_NAME && mp_name_check(name, len) == 0);
}

static int mpa_check_args(const mpa_ctx *c, const mpa_open_args *a)
{
    if (!c || !a)
        return MPA_EINVAL;
    if (a->window && a->window < MPA_MIN_WINDOW)
        return MPA_EINVAL;
    return MPA_OK;
}

/* Fill an opener path; position 0 of its channel is the peer's PATH_ACCEPT, so the
 * initial grant is one position more than the window. */
static void mpa_opener_init(mpa_ctx *c, mpa_path *p, const mpa_open_args *a, const mpa_target *t,
                            uint8_t pkind, uint64_t now)
{
    p->opener = true;
    p->state = MPA_ST_OPENING;
    p->pkind = pkind;
    p->peer_node = t->node;
    p->peer_device = t->device;
    p->local_device = a->local_device;
    p->window = a->window ? a->window : c->cfg.window;
    p->rx_limit = 1 + p->window;
    p->deadline = now + c->cfg.open_timeout;
    p->name_len = (uint8_t)t->name_len;
    if (t->name_len)
        memcpy(p->name, t->name, t->name_len);
}

int mpa_open(mpa_ctx *c, const mpa_open_args *a, uint64_t now, uint32_t *path)
{
    int rc = mpa_check_args(c, a);
    if (rc)
        return rc;
    if (!path || !mpa_node_ok(a->peer.node) || !mpa_name_ok(a->name, a->name_len) ||
        (a->pkind != MP_PK_UNICAST && a->pkind != MP_PK_ANYCAST))
        return MPA_EINVAL;
    mpa_path *p = mpa_path_new(c, &rc);
    if (!p)
        return rc;
    mpa_target t = {a->peer.node, a->peer.device, a->name, a->name_len};
    mpa_opener_init(c, p, a, &t, a->pkind, now);
    *path = p->id;
    mpa_send_open(c, p);
    return MPA_OK;
}

int mpa_open_group(mpa_ctx *c, const mpa_open_args *a, const mpa_target *targets, size_t n,
                   uint64_t now, uint32_t *group)
{
    int rc = mpa_check_args(c, a);
    if (rc)
        return rc;
    if (!group || !targets || n == 0)
        return MPA_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!mpa_node_ok(targets[i].node) || !mpa_name_ok(targets[i].name, targets[i].name_len))
            return MPA_EINVAL;
    if (n > c->cfg.max_group || c->st.paths + n + 1 > c->cfg.max_paths)
        return MPA_ELIMIT;
    /* All objects first, so a failure leaves nothing behind and sends nothing. */
    mpa_path *g = mpa_path_new(c, &rc);
    if (!g)
        return rc;
    g->is_group = true;
    g->opener = true;
    g->state = MPA_ST_OPENING;
    g->pkind = MP_PK_MULTICAST;
    g->local_device = a->local_device;
    g->window = a->window ? a->window : c->cfg.window;
    mpa_path **tail = &g->child;
    for (size_t i = 0; i < n; i++) {
        mpa_path *m = mpa_path_new(c, &rc);
        if (!m) {
            while (g->child) {
                mpa_path *x = g->child;
                g->child = x->sib;
                mpa_path_free(c, x);
            }
            mpa_path_free(c, g);
            return rc;
        }
        mpa_opener_init(c, m, a, &targets[i], MP_PK_MULTICAST, now);
        m->parent = g;
        *tail = m;
        tail = &m->sib;
        g->members++;
    }
    *group = g->id;
    for (mpa_path *m = g->child; m; m = m->sib)
        mpa_send_open(c, m);
    return MPA_OK;
}

/* Refuse an open for which there is no path object: the PATH_ABORT is position 0 of
 * the opener's channel, since nothing else was ever sent to it. */
static void mpa_refuse_raw(mpa_ctx *c, uint32_t node, uint32_t opener_path, uint16_t reason)
{
    mp_frame f;
    mpa_frame_init(&f, MP_T_PATH_ABORT, opener_path, 0);
    f.u.abort_.dst_path = opener_path;
    f.u.abort_.src_path = 0;
    f.u.abort_.error = reason;
    c->st.refused++;
    mpa_send_raw(c, NULL, node, &f);
}

static void mpa_do_accept(mpa_ctx *c, mpa_path *p)
{
    mp_frame f;
    /* Nothing has arrived on our channel yet: the opener starts at position 0. */
    p->rx_limit = p->window;
    mpa_frame_init(&f, MP_T_PATH_ACCEPT, 0, 0);
    f.u.accept.dst_path = p->peer_path;
    f.u.accept.src_path = p->id;
    f.u.accept.credit = p->rx_limit;
    mpa_send_on_path(c, p, &f);
    p->deadline = MPA_NO_DEADLINE;
    c->st.accepted++;
    mpa_set_state(c, p, MPA_ST_OPEN, MP_R_NONE);
}

static int mpa_on_open(mpa_ctx *c, uint32_t from, const mp_frame *f, uint64_t now)
{
    const mp_path_open *o = &f->u.open;
    if (f->hdr.chan != MP_CHAN_NODE || o->src_path < MP_CHAN_FIRST_PATH ||
        o->name.len > MP_MAX_NAME) {
        c->st.proto_errors++; /* no channel to answer on: drop */
        return MPA_EPROTO;
    }
    /* Channel 0 is exactly-once, so a repeat is a confused peer; answering it twice
     * would put two acceptors on one opener channel. */
    /* A path of ours that has ended but is not yet released is no duplicate: the
     * opener may reuse its path id for a new open once its own end has gone. */
    for (const mpa_path *p = c->head; p; p = p->next)
        if (!p->opener && !mpa_terminal(p->state) && p->peer_node == from &&
            p->peer_path == o->src_path) {
            c->st.duplicates++;
            return MPA_OK;
        }
    mpa_dev *d = mpa_dev_find(c, o->dst_device);
    uint16_t reason = MP_R_NONE;
    if (o->pkind < MP_PK_UNICAST || o->pkind > MP_PK_ANYCAST)
        reason = MP_R_PROTOCOL;
    else if (!d)
        reason = MP_R_NO_SUCH_DEVICE;
    else if (o->name.len && o->dst_device && c->cfg.name_ok &&
             !c->cfg.name_ok(c->cfg.name_user, o->dst_device, o->name.ptr, o->name.len,
                             o->pkind != MP_PK_UNICAST))
        reason = MP_R_NO_SUCH_DEVICE; /* the name is not the target's (MSG-PATH-25) */
    else if (d->max_paths && d->npaths >= d->max_paths)
        reason = MP_R_NO_RESOURCES;
    int rc;
    mpa_path *p = NULL;
    if (reason == MP_R_NONE && (p = mpa_path_new(c, &rc)) == NULL)
        reason = MP_R_NO_RESOURCES;
    if (reason != MP_R_NONE) {
        mpa_refuse_raw(c, from, o->src_path, reason);
        return MPA_OK;
    }
    p->opener = false;
    p->peer_node = from;
    p->peer_path = o->src_path;
    p->peer_device = o->src_device;
    p->local_device = o->dst_device;
    p->pkind = o->pkind;
    p->window = d->window;
    p->tx_limit = o->credit;
    p->name_len = (uint8_t)o->name.len;
    if (o->name.len)
        memcpy(p->name, o->name.ptr, o->name.len);
    p->dev_counted = true;
    d->npaths++;
    if (d->flags & MPA_DEV_AUTO_ACCEPT) {
        mpa_do_accept(c, p);
        return MPA_OK;
    }
    p->state = MPA_ST_ACCEPTING;
    p->deadline = now + c->cfg.open_timeout;
    mpa_action a;
    memset(&a, 0, sizeof(a));
    a.type = MPA_ACT_OPEN_REQUEST;
    a.node = from;
    a.path = p->id;
    a.device = p->local_device;
    a.peer_device = p->peer_device;
    a.pkind = p->pkind;
    a.name.ptr = p->name;
    a.name.len = p->name_len;
    mpa_act(c, &a);
    return MPA_OK;
}

int mpa_accept(mpa_ctx *c, uint32_t path, uint32_t window)
{
    if (!c || (window && window < MPA_MIN_WINDOW))
        return MPA_EINVAL;
    mpa_path *p = mpa_find(c, path);
    if (!p)
        return MPA_ENOPATH;
    if (p->state != MPA_ST_ACCEPTING)
        return MPA_ESTATE;
    if (window)
        p->window = window;
    mpa_do_accept(c, p);
    return MPA_OK;
}

int mpa_refuse(mpa_ctx *c, uint32_t path, uint16_t reason)
{
    if (!c)
        return MPA_EINVAL;
    mpa_path *p = mpa_find(c, path);
    if (!p)
        return MPA_ENOPATH;
    if (p->state != MPA_ST_ACCEPTING)
        return MPA_ESTATE;
    mpa_send_refusal(c, p, reason);
    c->st.refused++;
    mpa_path_free(c, p);
    return MPA_OK;
}

/* ---- Data -------------------------------------------------------------------------------------
 */

static bool mpa_has_credit(const mpa_path *p)
{
    return mp_seq32_lt(p->tx_next, p->tx_limit);
}

/* Send one flow-controlled message `tmpl` on a path or on every OPEN member of a group. */
static int mpa_send_msg(mpa_ctx *c, uint32_t path, const mp_frame *tmpl)
{
    mpa_path *p = mpa_find(c, path);
    if (!p)
        return MPA_ENOPATH;
    mp_frame f = *tmpl;
    if (!p->is_group) {
        if (p->state != MPA_ST_OPEN)
            return MPA_ESTATE;
        if (!mpa_has_credit(p))
            return MPA_ENOCREDIT;
        mpa_send_on_path(c, p, &f);
        c->st.sent++;
        return 1;
    }
    int open = 0;
    for (mpa_path *m = p->child; m; m = m->sib)
        if (m->state == MPA_ST_OPEN) {
            if (!mpa_has_credit(m))
                return MPA_ENOCREDIT;
            open++;
        }
    if (!open)
        return MPA_ESTATE;
    for (mpa_path *m = p->child; m; m = m->sib)
        if (m->state == MPA_ST_OPEN) {
            f = *tmpl;
            mpa_send_on_path(c, m, &f);
            c->st.sent++;
        }
    return open;
}

int mpa_send(mpa_ctx *c, uint32_t path, const uint8_t *payload, size_t len)
{
    if (!c || (len && !payload) || len > MP_MAX_MESSAGE)
        return MPA_EINVAL;
    mp_frame f;
    mpa_frame_init(&f, MP_T_DATA, 0, 0);
    f.u.data.ptr = payload;
    f.u.data.len = len;
    return mpa_send_msg(c, path, &f);
}

int mpa_send_frame(mpa_ctx *c, uint32_t path, const mp_frame *f)
{
    if (!c || !f || (f->hdr.type != MP_T_MGMT && f->hdr.type != MP_T_SERVICE_STATUS))
        return MPA_EINVAL;
    mp_frame t = *f;
    t.hdr.version = MP_VERSION;
    t.hdr.flags = 0;
    return mpa_send_msg(c, path, &t);
}

uint32_t mpa_credit(const mpa_ctx *c, uint32_t path)
{
    const mpa_path *p = c ? mpa_find(c, path) : NULL;
    if (!p)
        return 0;
    if (!p->is_group)
        return p->state == MPA_ST_OPEN && mpa_has_credit(p) ? p->tx_limit - p->tx_next : 0;
    uint32_t min = UINT32_MAX;
    bool any = false;
    for (const mpa_path *m = p->child; m; m = m->sib)
        if (m->state == MPA_ST_OPEN) {
            uint32_t v = mpa_has_credit(m) ? m->tx_limit - m->tx_next : 0;
            if (v < min)
                min = v;
            any = true;
        }
    return any ? min : 0;
}

int mpa_consume(mpa_ctx *c, uint32_t path, uint32_t count)
{
    if (!c)
        return MPA_EINVAL;
    mpa_path *p = mpa_find(c, path);
    if (!p)
        return MPA_ENOPATH;
    if (p->is_group || count > p->unconsumed)
        return MPA_EINVAL;
    p->unconsumed -= count;
    mpa_maybe_grant(c, p);
    return MPA_OK;
}

/* ---- Ending -----------------------------------------------------------------------------------
 */

static int mpa_close_one(mpa_ctx *c, mpa_path *p, uint16_t reason, uint64_t now)
{
    switch (p->state) {
    case MPA_ST_OPENING:
        /* The peer may still accept: its late PATH_ACCEPT is answered with an abort. */
        mpa_set_state(c, p, MPA_ST_CLOSED, reason);
        return MPA_OK;
    case MPA_ST_ACCEPTING:
        mpa_send_abort(c, p, reason);
        mpa_set_state(c, p, MPA_ST_CLOSED, reason);
        return MPA_OK;
    case MPA_ST_OPEN:
        mpa_send_close(c, p, reason);
        mpa_set_state(c, p, MPA_ST_CLOSING, reason);
        p->deadline = now + c->cfg.close_timeout;
        return MPA_OK;
    default:
        return MPA_ESTATE;
    }
}

int mpa_close(mpa_ctx *c, uint32_t path, uint16_t reason, uint64_t now)
{
    if (!c)
        return MPA_EINVAL;
    mpa_path *p = mpa_find(c, path);
    if (!p)
        return MPA_ENOPATH;
    if (!p->is_group)
        return mpa_close_one(c, p, reason, now);
    if (mpa_terminal(p->state) || p->state == MPA_ST_CLOSING)
        return MPA_ESTATE;
    mpa_set_state(c, p, MPA_ST_CLOSING, reason);
    for (mpa_path *m = p->child; m; m = m->sib)
        (void)mpa_close_one(c, m, reason, now);
    mpa_group_update(c, p);
    return MPA_OK;
}

int mpa_abort(mpa_ctx *c, uint32_t path, uint16_t reason)
{
    if (!c)
        return MPA_EINVAL;
    mpa_path *p = mpa_find(c, path);
    if (!p)
        return MPA_ENOPATH;
    if (mpa_terminal(p->state))
        return MPA_ESTATE;
    if (!p->is_group) {
        mpa_abort_path(c, p, reason);
        return MPA_OK;
    }
    for (mpa_path *m = p->child; m; m = m->sib)
        mpa_abort_path(c, m, reason); /* the last one ends the group */
    if (!mpa_terminal(p->state))
        mpa_set_state(c, p, MPA_ST_BROKEN, reason);
    return MPA_OK;
}

/* Free one path object without actions except telling a peer that still has it. */
static void mpa_release_one(mpa_ctx *c, mpa_path *p)
{
    if (!mpa_terminal(p->state) && p->peer_path && p->state != MPA_ST_OPENING)
        mpa_send_abort(c, p, MP_R_APP_CLOSE);
    mpa_path_free(c, p);
}

int mpa_release(mpa_ctx *c, uint32_t path)
{
    if (!c)
        return MPA_EINVAL;
    mpa_path *p = mpa_find(c, path);
    if (!p)
        return MPA_ENOPATH;
    if (p->is_group) {
        while (p->child) {
            mpa_path *m = p->child;
            p->child = m->sib;
            mpa_release_one(c, m);
        }
        mpa_path_free(c, p);
        return MPA_OK;
    }
    mpa_path *g = p->parent;
    if (g) {
        mpa_path **pp = &g->child;
        while (*pp != p)
            pp = &(*pp)->sib;
        *pp = p->sib;
        g->members--;
    }
    bool was_live = !mpa_terminal(p->state);
    mpa_release_one(c, p);
    if (g && was_live)
        mpa_group_update(c, g);
    return MPA_OK;
}

/* ---- Input --------------------------------------------------------------------------------------
 */

/* Deliver or act on one message that is next in order on p's channel. */
static void mpa_process(mpa_ctx *c, mpa_path *p, const mp_frame *f)
{
    switch (f->hdr.type) {
    case MP_T_PATH_ACCEPT:
        if (p->state != MPA_ST_OPENING || f->u.accept.src_path < MP_CHAN_FIRST_PATH) {
            c->st.proto_errors++;
            mpa_abort_path(c, p, MP_R_PROTOCOL);
            return;
        }
        p->peer_path = f->u.accept.src_path;
        p->tx_limit = f->u.accept.credit;
        p->deadline = MPA_NO_DEADLINE;
        c->st.opened++;
        mpa_set_state(c, p, MPA_ST_OPEN, MP_R_NONE);
        return;
    case MP_T_DATA:
    case MP_T_MGMT:
    case MP_T_SERVICE_STATUS: {
        if (p->state != MPA_ST_OPEN && p->state != MPA_ST_CLOSING) {
            c->st.proto_errors++;
            mpa_abort_path(c, p, MP_R_PROTOCOL);
            return;
        }
        mpa_action a;
        memset(&a, 0, sizeof(a));
        a.type = MPA_ACT_DELIVER;
        a.node = p->peer_node;
        a.path = p->id;
        a.group = p->parent ? p->parent->id : 0;
        a.device = p->local_device;
        a.peer_device = p->peer_device;
        a.frame = f;
        a.cseq = f->hdr.cseq;
        if (f->hdr.type == MP_T_DATA)
            a.payload = f->u.data;
        p->unconsumed++;
        c->st.delivered++;
        mpa_act(c, &a);
        return;
    }
    case MP_T_PATH_CREDIT:
        if (p->state == MPA_ST_OPENING) {
            c->st.proto_errors++;
            mpa_abort_path(c, p, MP_R_PROTOCOL);
            return;
        }
        /* Absolute and monotonic: a lower limit (reordered or confused) never takes
         * back credit already granted. */
        if (mp_seq32_lt(p->tx_limit, f->u.credit.limit))
            p->tx_limit = f->u.credit.limit;
        return;
    case MP_T_PATH_CLOSE:
        if (f->u.close.last_cseq != f->hdr.cseq - 1)
            c->st.close_mismatch++;
        if (p->state == MPA_ST_OPEN) {
            /* In order, so everything the peer sent before its close is delivered. */
            mpa_send_close(c, p, MP_R_NONE);
            mpa_set_state(c, p, MPA_ST_CLOSED, f->u.close.reason);
        } else if (p->state == MPA_ST_CLOSING) {
            mpa_set_state(c, p, MPA_ST_CLOSED, p->reason);
        } else {
            c->st.proto_errors++;
            mpa_abort_path(c, p, MP_R_PROTOCOL);
        }
        return;
    case MP_T_PATH_ABORT:
        if (p->state == MPA_ST_OPENING)
            c->st.refused++;
        mpa_set_state(c, p, MPA_ST_BROKEN, f->u.abort_.error);
        return;
    default:
        return;
    }
}

/* Copy a frame and its one view (payload or name) so it can wait for a gap. */
static mpa_held *mpa_hold_copy(mpa_ctx *c, const mp_frame *f, int *err)
{
    const mp_bytes *v = NULL;
    if (f->hdr.type == MP_T_DATA)
        v = &f->u.data;
    else if (f->hdr.type == MP_T_MGMT)
        v = &f->u.mgmt.payload;
    else if (f->hdr.type == MP_T_SERVICE_STATUS)
        v = &f->u.status.name;
    size_t vl = v ? v->len : 0;
    size_t sz = sizeof(mpa_held) + vl;
    mpa_held *h = mpa_mem_alloc(c, sz, err);
    if (!h)
        return NULL;
    h->size = sz;
    h->f = *f;
    uint8_t *copy = (uint8_t *)(h + 1);
    if (vl)
        memcpy(copy, v->ptr, vl);
    if (f->hdr.type == MP_T_DATA)
        h->f.u.data.ptr = copy;
    else if (f->hdr.type == MP_T_MGMT)
        h->f.u.mgmt.payload.ptr = copy;
    else if (f->hdr.type == MP_T_SERVICE_STATUS)
        h->f.u.status.name.ptr = copy;
    return h;
}

static bool mpa_live(const mpa_path *p)
{
    return !mpa_terminal(p->state);
}

/* Exactly-once on the path channel: lower -> duplicate, equal -> process then release
 * what the gap held, higher -> hold (bounded). */
static int mpa_sequence(mpa_ctx *c, mpa_path *p, const mp_frame *f)
{
    uint32_t cs = f->hdr.cseq;
    if (mp_seq32_lt(cs, p->rx_next)) {
        c->st.duplicates++;
        return MPA_OK;
    }
    if (mpa_flow_controlled(f->hdr.type) && !mp_seq32_lt(cs, p->rx_limit)) {
        c->st.credit_violations++;
        mpa_abort_path(c, p, MP_R_PROTOCOL);
        return MPA_EPROTO;
    }
    if (cs != p->rx_next) {
        uint32_t off = cs - p->rx_next;
        if (off >= c->cfg.reorder_max) {
            /* Holding it would break the memory bound; dropping it would break
             * exactly-once.  Neither is acceptable, so the path ends, visibly. */
            c->st.reorder_overflow++;
            mpa_abort_path(c, p, MP_R_NO_RESOURCES);
            return MPA_ELIMIT;
        }
        int err = MPA_OK;
        if (!p->ring) {
            size_t sz = c->cfg.reorder_max * sizeof(*p->ring);
            p->ring = mpa_mem_alloc(c, sz, &err);
            if (!p->ring) {
                mpa_abort_path(c, p, MP_R_NO_RESOURCES);
                return err;
            }
            memset(p->ring, 0, sz);
            p->ring_cap = c->cfg.reorder_max;
        }
        uint32_t slot = cs % p->ring_cap;
        if (p->ring[slot]) {
            c->st.duplicates++;
            return MPA_OK;
        }
        mpa_held *h = mpa_hold_copy(c, f, &err);
        if (!h) {
            mpa_abort_path(c, p, MP_R_NO_RESOURCES);
            return err;
        }
        p->ring[slot] = h;
        p->held++;
        c->st.held++;
        return MPA_OK;
    }
    p->rx_next++;
    mpa_process(c, p, f);
    while (mpa_live(p) && p->held) {
        uint32_t slot = p->rx_next % p->ring_cap;
        mpa_held *h = p->ring[slot];
        if (!h)
            break;
        p->ring[slot] = NULL;
        p->held--;
        p->rx_next++;
        mpa_process(c, p, &h->f);
        /* The action callback has returned: the copy is no longer referenced. */
        mpa_mem_free(c, h, h->size);
    }
    mpa_maybe_grant(c, p);
    return MPA_OK;
}

/* The body's dst_path must name the channel it came on. */
static bool mpa_dst_ok(const mp_frame *f)
{
    uint32_t chan = f->hdr.chan;
    switch (f->hdr.type) {
    case MP_T_PATH_ACCEPT:
        return f->u.accept.dst_path == chan;
    case MP_T_PATH_CLOSE:
        return f->u.close.dst_path == chan;
    case MP_T_PATH_ABORT:
        return f->u.abort_.dst_path == chan;
    case MP_T_PATH_CREDIT:
        return f->u.credit.dst_path == chan;
    default:
        return true;
    }
}

/* A PATH_ACCEPT for a path that no longer waits for one: tell the acceptor, so it does
 * not keep a half-open path.  Nothing was ever sent on its channel: position 0. */
static void mpa_answer_late_accept(mpa_ctx *c, uint32_t from, const mp_frame *f)
{
    uint32_t ch = f->u.accept.src_path;
    if (ch < MP_CHAN_FIRST_PATH)
        return;
    mp_frame a;
    mpa_frame_init(&a, MP_T_PATH_ABORT, ch, 0);
    a.u.abort_.dst_path = ch;
    a.u.abort_.src_path = f->u.accept.dst_path;
    a.u.abort_.error = MP_R_TIMEOUT;
    mpa_send_raw(c, NULL, from, &a);
}

int mpa_input(mpa_ctx *c, uint32_t from_node, const mp_frame *f, uint64_t now)
{
    if (!c || !f || !mpa_node_ok(from_node))
        return MPA_EINVAL;
    switch (f->hdr.type) {
    case MP_T_PATH_OPEN:
        return mpa_on_open(c, from_node, f, now);
    case MP_T_PATH_ACCEPT:
    case MP_T_DATA:
    case MP_T_PATH_CREDIT:
    case MP_T_PATH_CLOSE:
    case MP_T_PATH_ABORT:
    case MP_T_SERVICE_STATUS:
    case MP_T_MGMT:
        break;
    default:
        c->st.proto_errors++;
        return MPA_EPROTO;
    }
    /* Decoded frames always have consistent views; a caller-built one might not, and
     * a held copy would read through it. */
    const mp_bytes *v = f->hdr.type == MP_T_DATA             ? &f->u.data
                        : f->hdr.type == MP_T_MGMT           ? &f->u.mgmt.payload
                        : f->hdr.type == MP_T_SERVICE_STATUS ? &f->u.status.name
                                                             : NULL;
    if (v && v->len && !v->ptr)
        return MPA_EINVAL;
    if (f->hdr.chan < MP_CHAN_FIRST_PATH || !mpa_dst_ok(f)) {
        c->st.proto_errors++;
        return MPA_EPROTO;
    }
    mpa_path *p = mpa_find(c, f->hdr.chan);
    if (!p || p->is_group) {
        c->st.stray++;
        if (f->hdr.type == MP_T_PATH_ACCEPT)
            mpa_answer_late_accept(c, from_node, f);
        return MPA_ENOPATH;
    }
    if (from_node != p->peer_node) {
        c->st.wrong_peer++;
        return MPA_EPEER;
    }
    if (f->hdr.type == MP_T_PATH_ACCEPT && p->state != MPA_ST_OPENING && !p->peer_path) {
        c->st.late++;
        mpa_answer_late_accept(c, from_node, f);
        return MPA_OK;
    }
    if (!mpa_live(p)) {
        c->st.late++;
        return MPA_OK;
    }
    if (p->state == MPA_ST_ACCEPTING) {
        /* The opener cannot know our channel before our PATH_ACCEPT. */
        c->st.proto_errors++;
        return MPA_EPROTO;
    }
    return mpa_sequence(c, p, f);
}

int mpa_input_void(mpa_ctx *c, uint32_t from_node, uint32_t chan, uint32_t cseq)
{
    if (!c || !mpa_node_ok(from_node))
        return MPA_EINVAL;
    if (chan < MP_CHAN_FIRST_PATH) {
        c->st.proto_errors++;
        return MPA_EPROTO;
    }
    mpa_path *p = mpa_find(c, chan);
    if (!p || p->is_group) {
        c->st.stray++;
        return MPA_ENOPATH;
    }
    if (from_node != p->peer_node) {
        c->st.wrong_peer++;
        return MPA_EPEER;
    }
    if (!mpa_live(p)) {
        c->st.late++;
        return MPA_OK;
    }
    if (p->state == MPA_ST_ACCEPTING) {
        c->st.proto_errors++; /* as in mpa_input: nothing may come before our ACCEPT */
        return MPA_EPROTO;
    }
    /* Type 0 is no message type: mpa_process ignores it, mpa_hold_copy copies no view,
     * and it is not flow controlled (the position consumed returns its credit). */
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.chan = chan;
    f.hdr.cseq = cseq;
    return mpa_sequence(c, p, &f);
}

int mpa_peer_lost(mpa_ctx *c, uint32_t node)
{
    if (!c)
        return MPA_EINVAL;
    int n = 0;
    for (mpa_path *p = c->head; p; p = p->next)
        if (!p->is_group && p->peer_node == node && mpa_live(p)) {
            /* No PATH_ABORT: there is no link to carry it, and the peer's own loss
             * detection breaks its side. */
            mpa_set_state(c, p, MPA_ST_BROKEN, MP_R_PEER_DOWN);
            n++;
        }
    return n;
}

int mpa_tick(mpa_ctx *c, uint64_t now)
{
    if (!c)
        return MPA_EINVAL;
    int n = 0;
    for (mpa_path *p = c->head; p; p = p->next) {
        if (p->deadline == MPA_NO_DEADLINE || now < p->deadline)
            continue;
        switch (p->state) {
        case MPA_ST_OPENING:
            break; /* nothing to tell: the peer never gave us its path */
        case MPA_ST_ACCEPTING:
            mpa_send_refusal(c, p, MP_R_TIMEOUT); /* no decision in time (MSG-PATH-26) */
            break;
        case MPA_ST_CLOSING:
            mpa_send_abort(c, p, MP_R_TIMEOUT);
            break;
        default:
            p->deadline = MPA_NO_DEADLINE;
            continue;
        }
        c->st.timeouts++;
        mpa_set_state(c, p, MPA_ST_BROKEN, MP_R_TIMEOUT);
        n++;
    }
    return n;
}
