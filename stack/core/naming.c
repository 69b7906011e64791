/*
 * naming.c — the cluster-wide name table (see naming.h).
 *
 * Layout: a hash table of groups keyed by name; each group is a doubly linked list of
 * entries in conflict-rule order, so lookup is O(1) to the group and the winner is its
 * head.  A second hash table keyed by node id holds each node's entries in a list, so a
 * lost node is purged in time proportional to what it published, not to the table.
 * Both tables double when their load passes 1; a failed growth is not an error (chains
 * just get longer) because the limits, not the bucket count, bound the work.
 */
#include "naming.h"

#include <string.h>

#define MN_DEF_MAX_ENTRIES 65536u
#define MN_DEF_MAX_PER_NODE 1024u
#define MN_DEF_MAX_BYTES (16u * 1024u * 1024u)
#define MN_INIT_BUCKETS 64u

typedef struct mn_group {
    struct mn_group *hnext;
    uint32_t hash;
    uint32_t count;
    uint32_t n_exclusive; /* entries carrying MP_NFLAG_EXCLUSIVE */
    uint32_t rr;          /* anycast round-robin cursor */
    mn_entry *head, *tail;
    uint8_t name_len;
    uint8_t name[MP_MAX_NAME + 1];
} mn_group;

typedef struct mn_node {
    struct mn_node *hnext;
    uint32_t node_id;
    uint32_t count;
    uint32_t sync_epoch; /* bumped at each NAME_SYNC FIRST */
    bool syncing;        /* between FIRST and LAST: keep the record even when empty */
    mn_entry *head, *tail;
} mn_node;

struct mn_table {
    mn_config cfg;
    mn_stats st;
    uint32_t local_gen; /* last generation given to a local publication */
    mn_group **gbuckets;
    uint32_t gnb; /* power of two */
    mn_node **nbuckets;
    uint32_t nnb;
};

const char *mn_strerror(int err)
{
    switch (err) {
    case MN_OK:
        return "success";
    case MN_EINVAL:
        return "invalid argument";
    case MN_ENOMEM:
        return "out of memory (allocator failed)";
    case MN_ELIMIT:
        return "name table limit reached";
    case MN_ENAME:
        return "invalid name";
    case MN_EPROP:
        return "invalid or duplicate property";
    case MN_ENOENT:
        return "no such name entry";
    case MN_EPEER:
        return "record not acceptable from this peer";
    case MN_EPATTERN:
        return "invalid pattern";
    case MN_ECODEC:
        return "NAME_SYNC record does not decode";
    case MN_ERANGE:
        return "MTU or scratch too small";
    default:
        return "unknown naming error";
    }
}

/* ---- Memory: every allocation goes through here so bytes_used is exact ------------- */

static void *mn_mem_alloc(mn_table *t, size_t n)
{
    if (t->st.bytes_used + n > t->cfg.max_bytes)
        return NULL;
    void *p = t->cfg.alloc.alloc(t->cfg.alloc.user, n);
    if (p)
        t->st.bytes_used += n;
    return p;
}

static void mn_mem_free(mn_table *t, void *p, size_t n)
{
    if (!p)
        return;
    t->cfg.alloc.free(t->cfg.alloc.user, p, n);
    t->st.bytes_used -= n;
}

/* Distinguishes the two reasons an allocation fails so callers get the right code. */
static int mn_mem_err(const mn_table *t, size_t n)
{
    return t->st.bytes_used + n > t->cfg.max_bytes ? MN_ELIMIT : MN_ENOMEM;
}

/* FNV-1a, seeded.  Names come from peers, so the seed (from the core's RNG) keeps a
 * peer from choosing names that all land in one bucket; limits bound the rest. */
static uint32_t mn_hash(uint32_t seed, const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t mn_hash_node(uint32_t seed, uint32_t id)
{
    uint8_t b[4];
    mp_put32(b, id);
    return mn_hash(seed, b, 4);
}

/* ---- Hash tables ---------------------------------------------------------------------- */

static mn_group *mn_group_find(const mn_table *t, const uint8_t *name, size_t len)
{
    uint32_t h = mn_hash(t->cfg.hash_seed, name, len);
    for (mn_group *g = t->gbuckets[h & (t->gnb - 1)]; g; g = g->hnext)
        if (g->hash == h && g->name_len == len && memcmp(g->name, name, len) == 0)
            return g;
    return NULL;
}

static mn_node *mn_node_find(const mn_table *t, uint32_t id)
{
    uint32_t h = mn_hash_node(t->cfg.hash_seed, id);
    for (mn_node *n = t->nbuckets[h & (t->nnb - 1)]; n; n = n->hnext)
        if (n->node_id == id)
            return n;
    return NULL;
}

static void mn_group_grow(mn_table *t)
{
    uint32_t nb = t->gnb * 2;
    if (nb == 0 || t->st.groups <= t->gnb)
        return;
    mn_group **b = mn_mem_alloc(t, nb * sizeof(*b));
    if (!b)
        return; /* not fatal: longer chains */
    memset(b, 0, nb * sizeof(*b));
    for (uint32_t i = 0; i < t->gnb; i++) {
        mn_group *g = t->gbuckets[i];
        while (g) {
            mn_group *next = g->hnext;
            g->hnext = b[g->hash & (nb - 1)];
            b[g->hash & (nb - 1)] = g;
            g = next;
        }
    }
    mn_mem_free(t, t->gbuckets, t->gnb * sizeof(*b));
    t->gbuckets = b;
    t->gnb = nb;
}

static void mn_node_grow(mn_table *t)
{
    uint32_t nb = t->nnb * 2;
    if (nb == 0 || t->st.nodes <= t->nnb)
        return;
    mn_node **b = mn_mem_alloc(t, nb * sizeof(*b));
    if (!b)
        return;
    memset(b, 0, nb * sizeof(*b));
    for (uint32_t i = 0; i < t->nnb; i++) {
        mn_node *n = t->nbuckets[i];
        while (n) {
            mn_node *next = n->hnext;
            uint32_t h = mn_hash_node(t->cfg.hash_seed, n->node_id) & (nb - 1);
            n->hnext = b[h];
            b[h] = n;
            n = next;
        }
    }
    mn_mem_free(t, t->nbuckets, t->nnb * sizeof(*b));
    t->nbuckets = b;
    t->nnb = nb;
}

static void mn_group_unhash(mn_table *t, mn_group *g)
{
    mn_group **pp = &t->gbuckets[g->hash & (t->gnb - 1)];
    while (*pp != g)
        pp = &(*pp)->hnext;
    *pp = g->hnext;
    t->st.groups--;
    mn_mem_free(t, g, sizeof(*g));
}

static void mn_node_unhash(mn_table *t, mn_node *n)
{
    mn_node **pp = &t->nbuckets[mn_hash_node(t->cfg.hash_seed, n->node_id) & (t->nnb - 1)];
    while (*pp != n)
        pp = &(*pp)->hnext;
    *pp = n->hnext;
    t->st.nodes--;
    mn_mem_free(t, n, sizeof(*n));
}

/* ---- Lifecycle -------------------------------------------------------------------------- */

int mn_create(const mn_config *cfg, mn_table **out)
{
    if (!cfg || !out || !cfg->alloc.alloc || !cfg->alloc.free || cfg->local_node == 0 ||
        cfg->local_node == 0xFFFFFFFFu)
        return MN_EINVAL;
    *out = NULL;
    mn_table tmp;
    memset(&tmp, 0, sizeof(tmp));
    tmp.cfg = *cfg;
    if (!tmp.cfg.max_entries)
        tmp.cfg.max_entries = MN_DEF_MAX_ENTRIES;
    if (!tmp.cfg.max_per_node)
        tmp.cfg.max_per_node = MN_DEF_MAX_PER_NODE;
    if (!tmp.cfg.max_bytes)
        tmp.cfg.max_bytes = MN_DEF_MAX_BYTES;

    size_t need = sizeof(mn_table) + 2 * MN_INIT_BUCKETS * sizeof(void *);
    if (need > tmp.cfg.max_bytes)
        return MN_ELIMIT;
    mn_table *t = cfg->alloc.alloc(cfg->alloc.user, sizeof(*t));
    if (!t)
        return MN_ENOMEM;
    *t = tmp;
    t->st.bytes_used = sizeof(*t);
    t->gnb = t->nnb = MN_INIT_BUCKETS;
    t->gbuckets = mn_mem_alloc(t, t->gnb * sizeof(*t->gbuckets));
    t->nbuckets = mn_mem_alloc(t, t->nnb * sizeof(*t->nbuckets));
    if (!t->gbuckets || !t->nbuckets) {
        mn_mem_free(t, t->gbuckets, t->gnb * sizeof(*t->gbuckets));
        mn_mem_free(t, t->nbuckets, t->nnb * sizeof(*t->nbuckets));
        cfg->alloc.free(cfg->alloc.user, t, sizeof(*t));
        return MN_ENOMEM;
    }
    memset(t->gbuckets, 0, t->gnb * sizeof(*t->gbuckets));
    memset(t->nbuckets, 0, t->nnb * sizeof(*t->nbuckets));
    *out = t;
    return MN_OK;
}

void mn_destroy(mn_table *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < t->nnb; i++) {
        mn_node *n = t->nbuckets[i];
        while (n) {
            mn_node *nn = n->hnext;
            mn_entry *e = n->head;
            while (e) {
                mn_entry *ne = e->nnext;
                mn_mem_free(t, e, e->alloc_size);
                e = ne;
            }
            mn_mem_free(t, n, sizeof(*n));
            n = nn;
        }
    }
    for (uint32_t i = 0; i < t->gnb; i++) {
        mn_group *g = t->gbuckets[i];
        while (g) {
            mn_group *ng = g->hnext;
            mn_mem_free(t, g, sizeof(*g));
            g = ng;
        }
    }
    mn_mem_free(t, t->gbuckets, t->gnb * sizeof(*t->gbuckets));
    mn_mem_free(t, t->nbuckets, t->nnb * sizeof(*t->nbuckets));
    mn_allocator a = t->cfg.alloc;
    a.free(a.user, t, sizeof(*t));
}

void mn_get_stats(const mn_table *t, mn_stats *out)
{
    *out = t->st;
}

/* ---- Entries ---------------------------------------------------------------------------- */

void mn_entry_rec(const mn_entry *e, mp_name_rec *out)
{
    memset(out, 0, sizeof(*out));
    out->device_id = e->device_id;
    out->dtype = e->dtype;
    out->nflags = e->nflags;
    out->rank = e->rank;
    out->generation = e->generation;
    out->name.ptr = e->name;
    out->name.len = e->name_len;
    out->prop_count = e->prop_count;
    const uint8_t *p = e->props_blob;
    for (uint8_t i = 0; i < e->prop_count; i++) {
        out->props[i].key_len = p[0];
        out->props[i].key = p + 1;
        p += 1 + p[0];
        out->props[i].val_len = p[0];
        out->props[i].val = p + 1;
        p += 1 + p[0];
    }
}

size_t mn_sync_record_len(const mn_entry *e)
{
    /* rec_len(16) + fixed 13 + name + prop_count(8) + properties */
    return 2 + 13 + e->name_len + 1 + e->props_len;
}

/* Conflict rule order: true if a goes before b (a would win over b). */
static bool mn_before(const mn_entry *a, const mn_entry *b)
{
    if (a->rank != b->rank)
        return a->rank > b->rank;
    if (a->node_id != b->node_id)
        return a->node_id < b->node_id;
    return a->device_id < b->device_id;
}

/* Validate a record whatever its source: the codec already checked remote ones, but the
 * local API takes records from applications, and a second check is cheap next to a
 * corrupt table.  Duplicate keys are refused because a lookup by key would be ambiguous. */
static int mn_check_rec(const mp_name_rec *r)
{
    if (r->nflags & ~MP_NFLAGS_DEFINED)
        return MN_EINVAL;
    if (!r->name.ptr || r->name.len == 0 || r->name.len > MP_MAX_NAME ||
        mp_name_check(r->name.ptr, r->name.len) != 0)
        return MN_ENAME;
    if (r->prop_count > MP_MAX_PROPS)
        return MN_EPROP;
    for (uint8_t i = 0; i < r->prop_count; i++) {
        if (mp_prop_check(&r->props[i]) != 0)
            return MN_EPROP;
        for (uint8_t j = 0; j < i; j++)
            if (r->props[j].key_len == r->props[i].key_len &&
                memcmp(r->props[j].key, r->props[i].key, r->props[i].key_len) == 0)
                return MN_EPROP;
    }
    return MN_OK;
}

/* One allocation per entry: struct, name + NUL, properties in wire form. */
static mn_entry *mn_entry_new(mn_table *t, uint32_t node, const mp_name_rec *r, int *err)
{
    size_t plen = 0;
    for (uint8_t i = 0; i < r->prop_count; i++)
        plen += 2u + r->props[i].key_len + r->props[i].val_len;
    size_t sz = sizeof(mn_entry) + r->name.len + 1 + plen;
    mn_entry *e = mn_mem_alloc(t, sz);
    if (!e) {
        *err = mn_mem_err(t, sz);
        return NULL;
    }
    memset(e, 0, sizeof(*e));
    uint8_t *p = (uint8_t *)(e + 1);
    e->node_id = node;
    e->device_id = r->device_id;
    e->dtype = r->dtype;
    e->nflags = r->nflags;
    e->rank = r->rank;
    e->generation = r->generation;
    e->name = p;
    e->name_len = (uint8_t)r->name.len;
    memcpy(p, r->name.ptr, r->name.len);
    p[r->name.len] = 0;
    p += r->name.len + 1;
    e->props_blob = p;
    e->props_len = plen;
    e->prop_count = r->prop_count;
    for (uint8_t i = 0; i < r->prop_count; i++) {
        *p++ = r->props[i].key_len;
        if (r->props[i].key_len)
            memcpy(p, r->props[i].key, r->props[i].key_len);
        p += r->props[i].key_len;
        *p++ = r->props[i].val_len;
        if (r->props[i].val_len)
            memcpy(p, r->props[i].val, r->props[i].val_len);
        p += r->props[i].val_len;
    }
    e->alloc_size = sz;
    return e;
}

static void mn_emit(mn_table *t, enum mn_event_type type, const mn_entry *e, const mn_entry *prev,
                    const mn_group *g)
{
    switch (type) {
    case MN_EV_APPEARED:
        t->st.appeared++;
        break;
    case MN_EV_UPDATED:
        t->st.updated++;
        break;
    case MN_EV_VANISHED:
        t->st.vanished++;
        break;
    case MN_EV_WINNER:
        t->st.winner_changes++;
        break;
    }
    if (!t->cfg.on_event)
        return;
    mn_event ev = {.type = type, .entry = e, .prev = prev, .exclusive = g->n_exclusive > 0};
    t->cfg.on_event(t->cfg.event_user, &ev);
}

/* Insert into the group in conflict-rule order.  Groups are small in practice (a few
 * redundant servers per name), and a linear walk keeps the order exact. */
static void mn_group_link(mn_group *g, mn_entry *e)
{
    mn_entry *at = g->head;
    while (at && mn_before(at, e))
        at = at->gnext;
    e->group = g;
    e->gnext = at;
    e->gprev = at ? at->gprev : g->tail;
    if (e->gprev)
        e->gprev->gnext = e;
    else
        g->head = e;
    if (at)
        at->gprev = e;
    else
        g->tail = e;
    g->count++;
    if (e->nflags & MP_NFLAG_EXCLUSIVE)
        g->n_exclusive++;
}

static void mn_group_unlink(mn_group *g, mn_entry *e)
{
    if (e->gprev)
        e->gprev->gnext = e->gnext;
    else
        g->head = e->gnext;
    if (e->gnext)
        e->gnext->gprev = e->gprev;
    else
        g->tail = e->gprev;
    e->gprev = e->gnext = NULL;
    g->count--;
    if (e->nflags & MP_NFLAG_EXCLUSIVE)
        g->n_exclusive--;
}

static void mn_node_link(mn_node *n, mn_entry *e)
{
    e->nnext = NULL;
    e->nprev = n->tail;
    if (n->tail)
        n->tail->nnext = e;
    else
        n->head = e;
    n->tail = e;
    n->count++;
}

static void mn_node_unlink(mn_node *n, mn_entry *e)
{
    if (e->nprev)
        e->nprev->nnext = e->nnext;
    else
        n->head = e->nnext;
    if (e->nnext)
        e->nnext->nprev = e->nprev;
    else
        n->tail = e->nprev;
    e->nprev = e->nnext = NULL;
    n->count--;
}

/* Remove and free one entry, with its events.  The entry is out of every list before
 * the events run, so a callback that looks the name up already sees the successor. */
static void mn_entry_remove(mn_table *t, mn_entry *e)
{
    mn_group *g = e->group;
    mn_node *n = mn_node_find(t, e->node_id);
    bool was_winner = g->head == e;
    bool excl = g->n_exclusive > 0;
    mn_group_unlink(g, e);
    if (n)
        mn_node_unlink(n, e);
    t->st.entries--;
    mn_emit(t, MN_EV_VANISHED, e, NULL, g);
    if (was_winner && excl && g->head)
        mn_emit(t, MN_EV_WINNER, g->head, e, g);
    mn_mem_free(t, e, e->alloc_size);
    if (g->count == 0)
        mn_group_unhash(t, g);
    if (n && n->count == 0 && !n->syncing)
        mn_node_unhash(t, n);
}

/* Publish `r` as (node, r->device_id, r->name).  Returns 1 if the table changed, 0 if
 * ignored by the generation rule, negative on error (table unchanged).  *entry_out is
 * the entry now holding this publication (NULL only on error). */
static int mn_put(mn_table *t, uint32_t node, const mp_name_rec *r, uint32_t mark,
                  mn_entry **entry_out)
{
    *entry_out = NULL;
    mn_group *g = mn_group_find(t, r->name.ptr, r->name.len);
    mn_entry *old = NULL;
    if (g)
        for (mn_entry *e = g->head; e; e = e->gnext)
            if (e->node_id == node && e->device_id == r->device_id) {
                old = e;
                break;
            }
    if (old && !mp_seq32_lt(old->generation, r->generation)) {
        /* Same or older generation: the peer still has it, so a sync confirms it. */
        old->sync_mark = mark;
        if (old->generation == r->generation)
            t->st.dup_ignored++;
        else
            t->st.stale_ignored++;
        *entry_out = old;
        return 0;
    }

    mn_node *n = mn_node_find(t, node);
    if (!old) {
        if (t->st.entries >= t->cfg.max_entries)
            return MN_ELIMIT;
        if (n && n->count >= t->cfg.max_per_node)
            return MN_ELIMIT;
    }

    /* Allocate everything first, so a failure leaves the table as it was. */
    int err = MN_OK;
    mn_entry *e = mn_entry_new(t, node, r, &err);
    if (!e)
        return err;
    bool new_group = false, new_node = false;
    if (!g) {
        g = mn_mem_alloc(t, sizeof(*g));
        if (!g) {
            err = mn_mem_err(t, sizeof(*g));
            mn_mem_free(t, e, e->alloc_size);
            return err;
        }
        memset(g, 0, sizeof(*g));
        g->hash = mn_hash(t->cfg.hash_seed, r->name.ptr, r->name.len);
        g->name_len = (uint8_t)r->name.len;
        memcpy(g->name, r->name.ptr, r->name.len);
        new_group = true;
    }
    if (!n) {
        n = mn_mem_alloc(t, sizeof(*n));
        if (!n) {
            err = mn_mem_err(t, sizeof(*n));
            if (new_group)
                mn_mem_free(t, g, sizeof(*g));
            mn_mem_free(t, e, e->alloc_size);
            return err;
        }
        memset(n, 0, sizeof(*n));
        n->node_id = node;
        new_node = true;
    }
    if (new_group) {
        uint32_t b = g->hash & (t->gnb - 1);
        g->hnext = t->gbuckets[b];
        t->gbuckets[b] = g;
        t->st.groups++;
    }
    if (new_node) {
        uint32_t b = mn_hash_node(t->cfg.hash_seed, node) & (t->nnb - 1);
        n->hnext = t->nbuckets[b];
        t->nbuckets[b] = n;
        t->st.nodes++;
    }

    mn_entry *prev_head = g->head;
    bool prev_excl = g->n_exclusive > 0;
    e->sync_mark = mark;
    if (old) {
        /* Replace in place in the node list (keeps publication order for NAME_SYNC). */
        e->nprev = old->nprev;
        e->nnext = old->nnext;
        if (old->nprev)
            old->nprev->nnext = e;
        else
            n->head = e;
        if (old->nnext)
            old->nnext->nprev = e;
        else
            n->tail = e;
        mn_group_unlink(g, old);
        mn_group_link(g, e);
    } else {
        mn_group_link(g, e);
        mn_node_link(n, e);
        t->st.entries++;
    }
    *entry_out = e;

    mn_emit(t, old ? MN_EV_UPDATED : MN_EV_APPEARED, e, NULL, g);
    /* The old winner is reported by identity; when it is the replaced entry, the new
     * version of the same publication is not a takeover unless the head moved. */
    const mn_entry *was = prev_head == old ? e : prev_head;
    if ((prev_excl || g->n_exclusive > 0) && was && g->head != was)
        mn_emit(t, MN_EV_WINNER, g->head, prev_head, g);
    if (old)
        mn_mem_free(t, old, old->alloc_size);
    if (new_group)
        mn_group_grow(t);
    if (new_node)
        mn_node_grow(t);
    return 1;
}

/* ---- Local API ---------------------------------------------------------------------------- */

int mn_publish(mn_table *t, const mp_name_rec *rec, mp_frame *out)
{
    if (!t || !rec)
        return MN_EINVAL;
    int rc = mn_check_rec(rec);
    if (rc)
        return rc;
    mp_name_rec r = *rec;
    r.generation = t->local_gen + 1;
    mn_entry *e;
    mn_node *n = mn_node_find(t, t->cfg.local_node);
    rc = mn_put(t, t->cfg.local_node, &r, n ? n->sync_epoch : 0, &e);
    if (rc < 0)
        return rc;
    t->local_gen++; /* only consumed on success: generations stay dense */
    if (out) {
        memset(out, 0, sizeof(*out));
        out->hdr.version = MP_VERSION;
        out->hdr.type = MP_T_NAME_PUBLISH;
        out->hdr.chan = MP_CHAN_NODE;
        mn_entry_rec(e, &out->u.publish);
    }
    return MN_OK;
}

int mn_withdraw(mn_table *t, uint32_t device_id, const uint8_t *name, size_t name_len,
                mp_frame *out)
{
    if (!t || !name)
        return MN_EINVAL;
    mn_entry *e = (mn_entry *)mn_find(t, t->cfg.local_node, device_id, name, name_len);
    if (!e)
        return MN_ENOENT;
    uint32_t gen = e->generation;
    mn_entry_remove(t, e);
    if (out) {
        memset(out, 0, sizeof(*out));
        out->hdr.version = MP_VERSION;
        out->hdr.type = MP_T_NAME_WITHDRAW;
        out->hdr.chan = MP_CHAN_NODE;
        out->u.withdraw.device_id = device_id;
        out->u.withdraw.generation = gen;
        out->u.withdraw.name.ptr = name;
        out->u.withdraw.name.len = name_len;
    }
    return MN_OK;
}

/* ---- Remote API ----------------------------------------------------------------------------- */

static int mn_apply_publish(mn_table *t, uint32_t from, const mp_name_rec *r)
{
    int rc = mn_check_rec(r);
    if (rc) {
        t->st.rejected++;
        return rc;
    }
    mn_node *n = mn_node_find(t, from);
    mn_entry *e;
    rc = mn_put(t, from, r, n ? n->sync_epoch : 0, &e);
    if (rc == MN_ELIMIT || rc == MN_ENOMEM)
        t->st.limit_drops++;
    return rc;
}

static int mn_apply_withdraw(mn_table *t, uint32_t from, const mp_name_withdraw *w)
{
    if (!w->name.ptr || w->name.len == 0 || w->name.len > MP_MAX_NAME) {
        t->st.rejected++;
        return MN_ENAME;
    }
    mn_entry *e = (mn_entry *)mn_find(t, from, w->device_id, w->name.ptr, w->name.len);
    if (!e) {
        /* Channel 0 is delivered in order, so this is not a reordered withdraw racing
         * its publish: the publish was refused (limit) or the peer is confused. */
        t->st.unknown_withdraw++;
        return 0;
    }
    if (mp_seq32_lt(w->generation, e->generation)) {
        t->st.stale_ignored++;
        return 0;
    }
    mn_entry_remove(t, e);
    return 1;
}

static int mn_apply_sync(mn_table *t, uint32_t from, const mp_name_sync *s)
{
    mn_node *n = mn_node_find(t, from);
    if (s->yflags & MP_YFLAG_FIRST) {
        if (!n) {
            /* The node record carries the sync epoch, so it must exist from FIRST on. */
            n = mn_mem_alloc(t, sizeof(*n));
            if (!n) {
                t->st.limit_drops++;
                return mn_mem_err(t, sizeof(*n));
            }
            memset(n, 0, sizeof(*n));
            n->node_id = from;
            uint32_t b = mn_hash_node(t->cfg.hash_seed, from) & (t->nnb - 1);
            n->hnext = t->nbuckets[b];
            t->nbuckets[b] = n;
            t->st.nodes++;
            mn_node_grow(t);
        }
        n->syncing = true;
        n->sync_epoch++;
    }
    int changed = 0, first_err = 0;
    size_t pos = 0;
    mp_name_rec r;
    for (;;) {
        int rc = mp_name_sync_next(s, &pos, &r);
        if (rc == 0)
            break;
        if (rc < 0) {
            t->st.rejected++;
            if (!first_err)
                first_err = MN_ECODEC;
            break;
        }
        rc = mn_apply_publish(t, from, &r);
        if (rc > 0)
            changed += rc;
        else if (rc < 0 && !first_err)
            first_err = rc;
    }
    n = mn_node_find(t, from);
    if ((s->yflags & MP_YFLAG_LAST) && n && n->syncing) {
        /* A record refused for a limit was not confirmed, so the sweep would remove an
         * older version we still hold; keep the sweep exact instead of guessing, and
         * report the error.  Sweep only when every record went in. */
        if (!first_err) {
            mn_entry *e = n->head;
            while (e) {
                mn_entry *next = e->nnext;
                if (e->sync_mark != n->sync_epoch) {
                    t->st.sync_swept++;
                    changed++;
                    /* The last removal could free n; syncing is still set, so it cannot. */
                    mn_entry_remove(t, e);
                }
                e = next;
            }
        }
        n->syncing = false;
        if (n->count == 0)
            mn_node_unhash(t, n);
    }
    return first_err ? first_err : changed;
}

int mn_apply(mn_table *t, uint32_t from_node, const mp_frame *f)
{
    if (!t || !f)
        return MN_EINVAL;
    if (from_node == t->cfg.local_node || from_node == 0 || from_node == 0xFFFFFFFFu) {
        t->st.rejected++;
        return MN_EPEER;
    }
    switch (f->hdr.type) {
    case MP_T_NAME_PUBLISH:
        return mn_apply_publish(t, from_node, &f->u.publish);
    case MP_T_NAME_WITHDRAW:
        return mn_apply_withdraw(t, from_node, &f->u.withdraw);
    case MP_T_NAME_SYNC:
        return mn_apply_sync(t, from_node, &f->u.sync);
    default:
        t->st.rejected++;
        return MN_EPEER;
    }
}

int mn_purge_node(mn_table *t, uint32_t node_id)
{
    if (!t)
        return MN_EINVAL;
    int removed = 0;
    mn_node *n;
    /* Re-find each time: removing the last entry frees the node record. */
    while ((n = mn_node_find(t, node_id)) != NULL) {
        if (!n->head) {
            mn_node_unhash(t, n); /* an empty record left by an unfinished sync */
            break;
        }
        mn_entry_remove(t, n->head);
        removed++;
    }
    return removed;
}

/* ---- Lookup ------------------------------------------------------------------------------------
 */

const mn_entry *mn_lookup(const mn_table *t, const uint8_t *name, size_t len)
{
    if (!t || !name)
        return NULL;
    const mn_group *g = mn_group_find(t, name, len);
    return g ? g->head : NULL;
}

const mn_entry *mn_anycast(mn_table *t, const uint8_t *name, size_t len)
{
    if (!t || !name)
        return NULL;
    mn_group *g = mn_group_find(t, name, len);
    if (!g)
        return NULL;
    if (g->n_exclusive > 0)
        return g->head;
    uint32_t ties = 0;
    for (mn_entry *e = g->head; e && e->rank == g->head->rank; e = e->gnext)
        ties++;
    uint32_t k = g->rr++ % ties;
    mn_entry *e = g->head;
    while (k--)
        e = e->gnext;
    return e;
}

const mn_entry *mn_find(const mn_table *t, uint32_t node_id, uint32_t device_id,
                        const uint8_t *name, size_t len)
{
    if (!t || !name)
        return NULL;
    const mn_group *g = mn_group_find(t, name, len);
    if (!g)
        return NULL;
    for (const mn_entry *e = g->head; e; e = e->gnext)
        if (e->node_id == node_id && e->device_id == device_id)
            return e;
    return NULL;
}

int mn_foreach_name(const mn_table *t, const uint8_t *name, size_t len, mn_visit_fn fn, void *user)
{
    if (!t || !name || !fn)
        return MN_EINVAL;
    const mn_group *g = mn_group_find(t, name, len);
    int n = 0;
    for (const mn_entry *e = g ? g->head : NULL; e; e = e->gnext) {
        n++;
        if (fn(user, e))
            break;
    }
    return n;
}

int mn_match(const mn_table *t, const uint8_t *pat, size_t plen, mn_visit_fn fn, void *user)
{
    if (!t || !pat || !fn)
        return MN_EINVAL;
    if (mp_pattern_check(pat, plen) != 0)
        return MN_EPATTERN;
    int n = 0;
    /* The pattern is matched once per name (group), not once per entry. */
    for (uint32_t i = 0; i < t->gnb; i++)
        for (const mn_group *g = t->gbuckets[i]; g; g = g->hnext) {
            if (!mp_pattern_match(pat, plen, g->name, g->name_len))
                continue;
            for (const mn_entry *e = g->head; e; e = e->gnext) {
                n++;
                if (fn(user, e))
                    return n;
            }
        }
    return n;
}

int mn_foreach_node(const mn_table *t, uint32_t node_id, mn_visit_fn fn, void *user)
{
    if (!t || !fn)
        return MN_EINVAL;
    const mn_node *nd = mn_node_find(t, node_id);
    int n = 0;
    for (const mn_entry *e = nd ? nd->head : NULL; e; e = e->nnext) {
        n++;
        if (fn(user, e))
            break;
    }
    return n;
}

/* ---- NAME_SYNC ---------------------------------------------------------------------------------
 */

int mn_sync_build(const mn_table *t, size_t mtu, mp_name_rec *scratch, size_t nscratch,
                  mn_sync_emit_fn emit, void *user)
{
    if (!t || !emit || !scratch)
        return MN_EINVAL;
    if (mtu < MP_NAME_SYNC_MIN_LEN || nscratch == 0)
        return MN_ERANGE;
    if (nscratch > 0xFFFFu)
        nscratch = 0xFFFFu; /* count is 16 bits */
    const mn_node *n = mn_node_find(t, t->cfg.local_node);
    const mn_entry *e = n ? n->head : NULL;
    mp_frame f;
    int chunks = 0;
    do {
        size_t used = MP_NAME_SYNC_MIN_LEN;
        uint16_t cnt = 0;
        /* Take records while they fit; the first record of a chunk always goes in, so
         * an oversized record makes progress (the link fragments that chunk). */
        while (e && cnt < nscratch) {
            size_t rl = mn_sync_record_len(e);
            if (cnt > 0 && (used + rl > mtu || used + rl > MP_MAX_FRAME))
                break;
            mn_entry_rec(e, &scratch[cnt++]);
            used += rl;
            e = e->nnext;
        }
        memset(&f, 0, sizeof(f));
        f.hdr.version = MP_VERSION;
        f.hdr.type = MP_T_NAME_SYNC;
        f.hdr.chan = MP_CHAN_NODE;
        f.u.sync.yflags = (uint8_t)((chunks == 0 ? MP_YFLAG_FIRST : 0) | (e ? 0 : MP_YFLAG_LAST));
        f.u.sync.count = cnt;
        f.u.sync.enc_recs = scratch;
        chunks++;
        int rc = emit(user, &f);
        if (rc)
            return rc;
    } while (e);
    return chunks;
}
