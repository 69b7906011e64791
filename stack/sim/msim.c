/*
 * msim.c — the simulator: event queue, simulated networks, node lifecycle.
 *
 * The event queue is a binary heap ordered by (time, insertion number): two events at the
 * same simulated time always run in the order they were scheduled, which together with
 * the seeded generators makes runs reproducible.
 */
#include "msim.h"

#include <stdlib.h>
#include <string.h>

#include "mp/mp.h"

/* ---- Random numbers: splitmix64 seeding, xoshiro-style xorshift64* streams ------------- */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct rng {
    uint64_t s;
} rng;

static void rng_seed(rng *r, uint64_t seed)
{
    uint64_t t = seed;
    r->s = splitmix(&t) | 1;
}

static uint64_t rng_next(rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

static double rng01(rng *r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

static uint64_t rng_below(rng *r, uint64_t n) { return n ? rng_next(r) % n : 0; }

/* ---- World ---------------------------------------------------------------------------------- */
enum { EV_FRAME = 1, EV_TIMER = 2, EV_CALL = 3 };

typedef struct ev {
    uint64_t t, seq;
    uint8_t type;
    uint8_t net;
    uint32_t node;   /* FRAME: destination (or MSIM_BCAST); TIMER: node */
    uint32_t src;    /* FRAME: sending node index */
    uint32_t life;   /* TIMER: node life it belongs to */
    void (*fn)(void *, msim_world *);
    void *user;
    uint32_t len;
    uint8_t data[];
} ev;

typedef struct snode {
    msim_world *w;
    uint32_t idx;
    mc_node *mc;
    bool alive;
    uint32_t life;
    uint64_t timer_at;
    rng r;
    size_t mem, mem_peak;
    int bearer[MSIM_MAX_NETS];
    uint64_t busy_until[MSIM_MAX_NETS];
    uint16_t group[MSIM_MAX_NETS];
} snode;

struct msim_world {
    msim_config cfg;
    uint64_t now, seq;
    ev **heap;
    size_t heap_n, heap_cap;
    snode *nodes;
    rng net_rng, script_rng;
    uint8_t *cut[MSIM_MAX_NETS]; /* n*n bit matrix, lazily allocated */
    bool partitioned[MSIM_MAX_NETS];
    msim_stats st;
};

void msim_config_default(msim_config *c)
{
    memset(c, 0, sizeof *c);
    c->nodes = 2;
    c->seed = 1;
    c->nets = 1;
    for (int i = 0; i < MSIM_MAX_NETS; i++) {
        c->net[i].delay_ns = 100 * MSIM_US;
        c->net[i].mtu = 1500;
    }
    c->naming = true;
    c->paths = true;
}

uint32_t msim_node_id(uint32_t i) { return i + 1; }
int32_t msim_node_index(uint32_t id) { return (int32_t)id - 1; }
uint64_t msim_now(const msim_world *w) { return w->now; }
uint32_t msim_nodes(const msim_world *w) { return w->cfg.nodes; }
uint32_t msim_nets(const msim_world *w) { return w->cfg.nets; }
mc_node *msim_node(msim_world *w, uint32_t i) { return i < w->cfg.nodes && w->nodes[i].alive ? w->nodes[i].mc : NULL; }
bool msim_alive(const msim_world *w, uint32_t i) { return i < w->cfg.nodes && w->nodes[i].alive; }
const msim_stats *msim_get_stats(const msim_world *w) { return &w->st; }
size_t msim_node_mem(const msim_world *w, uint32_t i) { return w->nodes[i].mem; }
uint64_t msim_rand(msim_world *w) { return rng_next(&w->script_rng); }
double msim_rand01(msim_world *w) { return rng01(&w->script_rng); }

/* ---- Heap ------------------------------------------------------------------------------------ */
static bool ev_before(const ev *a, const ev *b) { return a->t < b->t || (a->t == b->t && a->seq < b->seq); }

static int push(msim_world *w, ev *e)
{
    if (w->heap_n == w->heap_cap) {
        size_t cap = w->heap_cap ? w->heap_cap * 2 : 1024;
        ev **h = realloc(w->heap, cap * sizeof *h);
        if (!h) {
            free(e);
            return -1;
        }
        w->heap = h;
        w->heap_cap = cap;
    }
    e->seq = w->seq++;
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ev_before(e, w->heap[p]))
            break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = e;
    return 0;
}

static ev *pop(msim_world *w)
{
    ev *top = w->heap[0];
    ev *last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const ev *mv = last;
        if (l < n && ev_before(w->heap[l], mv)) {
            m = l;
            mv = w->heap[l];
        }
        if (r < n && ev_before(w->heap[r], mv))
            m = r;
        if (m == i)
            break;
        w->heap[i] = w->heap[m];
        i = m;
    }
    if (n)
        w->heap[i] = last;
    return top;
}

static ev *ev_new(size_t len)
{
    ev *e = malloc(sizeof *e + len);
    if (e)
        memset(e, 0, sizeof *e);
    return e;
}

/* ---- Node plumbing ------------------------------------------------------------------------------ */
static void *node_alloc(void *user, size_t size)
{
    snode *s = user;
    void *p = malloc(size);
    if (p) {
        s->mem += size;
        if (s->mem > s->mem_peak)
            s->mem_peak = s->mem;
    }
    return p;
}

static void node_free(void *user, void *p, size_t size)
{
    snode *s = user;
    s->mem -= size;
    free(p);
}

static uint32_t node_rand(void *user) { return (uint32_t)(rng_next(&((snode *)user)->r) >> 32); }

static bool is_cut(const msim_world *w, uint32_t net, uint32_t a, uint32_t b)
{
    const uint8_t *m = w->cut[net];
    if (!m)
        return false;
    size_t bit = (size_t)a * w->cfg.nodes + b;
    return (m[bit / 8] >> (bit % 8)) & 1;
}

static bool can_pass(msim_world *w, uint32_t net, uint32_t a, uint32_t b)
{
    if (is_cut(w, net, a, b)) {
        w->st.cut_drops++;
        return false;
    }
    if (w->partitioned[net] && w->nodes[a].group[net] != w->nodes[b].group[net]) {
        w->st.partition_drops++;
        return false;
    }
    return true;
}

static uint64_t frame_delay(msim_world *w, const msim_net_cfg *nc)
{
    uint64_t d = nc->delay_ns + rng_below(&w->net_rng, nc->jitter_ns + 1);
    if (nc->reorder > 0 && rng01(&w->net_rng) < nc->reorder) {
        d += rng_below(&w->net_rng, nc->reorder_ns + 1);
        w->st.reordered++;
    }
    return d;
}

static void node_tx(void *user, int bearer, const mc_addr *dst, const uint8_t *frame, size_t len)
{
    snode *s = user;
    msim_world *w = s->w;
    uint32_t net = 0;
    while (net < w->cfg.nets && s->bearer[net] != bearer)
        net++;
    if (net == w->cfg.nets || dst->len != 4)
        return;
    const msim_net_cfg *nc = &w->cfg.net[net];
    w->st.frames_sent++;
    w->st.bytes_sent += len;
    uint32_t to = mp_get32(dst->b);
    uint64_t depart = w->now;
    if (nc->bandwidth_bps) {
        /* Serialisation on the sender's interface; a queue longer than 100 ms drops. */
        if (s->busy_until[net] > w->now + 100 * MSIM_MS) {
            w->st.queue_drops++;
            return;
        }
        uint64_t start = s->busy_until[net] > w->now ? s->busy_until[net] : w->now;
        depart = start + (uint64_t)len * 8u * 1000000000ull / nc->bandwidth_bps;
        s->busy_until[net] = depart;
    }
    bool bcast = to == MSIM_BCAST;
    if (!bcast) {
        if (to == 0 || to > w->cfg.nodes)
            return;
        if (nc->loss > 0 && rng01(&w->net_rng) < nc->loss) {
            w->st.lost++;
            return;
        }
    }
    int copies = 1;
    if (!bcast && nc->dup > 0 && rng01(&w->net_rng) < nc->dup) {
        copies = 2;
        w->st.duplicated++;
    }
    for (int c = 0; c < copies; c++) {
        ev *e = ev_new(len);
        if (!e)
            return;
        e->type = EV_FRAME;
        e->net = (uint8_t)net;
        e->node = bcast ? MSIM_BCAST : to - 1;
        e->src = s->idx;
        e->len = (uint32_t)len;
        memcpy(e->data, frame, len);
        e->t = depart + frame_delay(w, nc);
        push(w, e);
    }
}

static void node_event(void *user, const mc_event *evt)
{
    snode *s = user;
    if (s->w->cfg.on_event)
        s->w->cfg.on_event(s->w->cfg.user, s->w, s->idx, evt);
}

void msim_touch(msim_world *w, uint32_t i)
{
    snode *s = &w->nodes[i];
    if (!s->alive)
        return;
    uint64_t d = mc_next_deadline(s->mc);
    if (d == UINT64_MAX)
        return;
    if (d < w->now)
        d = w->now;
    if (d >= s->timer_at)
        return; /* an earlier timer is already queued; it will re-arm */
    ev *e = ev_new(0);
    if (!e)
        return;
    e->type = EV_TIMER;
    e->node = i;
    e->life = s->life;
    e->t = d;
    s->timer_at = d;
    push(w, e);
}

static int node_start(msim_world *w, uint32_t i)
{
    snode *s = &w->nodes[i];
    s->life++;
    uint64_t seed = w->cfg.seed * 0x100000001B3ull ^ ((uint64_t)i << 20) ^ s->life;
    rng_seed(&s->r, seed);
    mc_config c;
    mc_config_default(&c);
    c.node_id = msim_node_id(i);
    c.domain = 0x4D534753u;
    if (w->cfg.tolerance_ms)
        c.tolerance_ms = w->cfg.tolerance_ms;
    if (w->cfg.window)
        c.window = w->cfg.window;
    if (w->cfg.mem_limit)
        c.mem_limit = w->cfg.mem_limit;
    if (w->cfg.max_links)
        c.max_links = w->cfg.max_links;
    c.naming = w->cfg.naming;
    c.paths = w->cfg.paths;
    c.alloc = (mc_alloc){node_alloc, node_free, s};
    c.rng = (mc_rng){node_rand, s};
    c.tx = node_tx;
    c.event = node_event;
    c.user = s;
    int r = mc_node_create(&c, &s->mc);
    if (r < 0)
        return r;
    s->alive = true;
    s->timer_at = UINT64_MAX;
    for (uint32_t k = 0; k < w->cfg.nets; k++) {
        mc_bearer_cfg b = {0};
        b.mtu = w->cfg.net[k].mtu;
        b.discovery.len = 4;
        mp_put32(b.discovery.b, MSIM_BCAST);
        b.priority = w->cfg.net[k].priority;
        b.standby = w->cfg.net[k].standby;
        r = mc_bearer_attach(s->mc, &b, w->now);
        if (r < 0)
            return r;
        s->bearer[k] = r;
        s->busy_until[k] = 0;
    }
    msim_touch(w, i);
    return 0;
}

int msim_create(const msim_config *cfg, msim_world **out)
{
    if (!cfg || !cfg->nodes || cfg->nets < 1 || cfg->nets > MSIM_MAX_NETS ||
        cfg->nodes >= 0xFFFFFFFEu)
        return MC_EINVAL;
    msim_world *w = calloc(1, sizeof *w);
    if (!w)
        return MC_ENOMEM;
    w->cfg = *cfg;
    w->nodes = calloc(cfg->nodes, sizeof *w->nodes);
    if (!w->nodes) {
        free(w);
        return MC_ENOMEM;
    }
    rng_seed(&w->net_rng, cfg->seed ^ 0x6E6574ull);
    rng_seed(&w->script_rng, cfg->seed ^ 0x736372ull);
    for (uint32_t i = 0; i < cfg->nodes; i++) {
        w->nodes[i].w = w;
        w->nodes[i].idx = i;
        int r = node_start(w, i);
        if (r < 0) {
            msim_destroy(w);
            return r;
        }
    }
    *out = w;
    return 0;
}

void msim_destroy(msim_world *w)
{
    if (!w)
        return;
    for (uint32_t i = 0; i < w->cfg.nodes; i++)
        if (w->nodes[i].alive)
            mc_node_destroy(w->nodes[i].mc);
    while (w->heap_n)
        free(pop(w));
    free(w->heap);
    for (int k = 0; k < MSIM_MAX_NETS; k++)
        free(w->cut[k]);
    free(w->nodes);
    free(w);
}

/* ---- Running ---------------------------------------------------------------------------------------- */
static void deliver(msim_world *w, uint32_t to, const ev *e)
{
    snode *s = &w->nodes[to];
    if (!s->alive) {
        w->st.dead_drops++;
        return;
    }
    if (!can_pass(w, e->net, e->src, to))
        return;
    mc_addr src = {.len = 4};
    mp_put32(src.b, msim_node_id(e->src));
    w->st.frames_delivered++;
    mc_input(s->mc, s->bearer[e->net], &src, e->data, e->len, w->now);
    msim_touch(w, to);
}

static void run_one(msim_world *w)
{
    ev *e = pop(w);
    w->now = e->t;
    w->st.events++;
    switch (e->type) {
    case EV_FRAME:
        if (e->node == MSIM_BCAST) {
            const msim_net_cfg *nc = &w->cfg.net[e->net];
            for (uint32_t i = 0; i < w->cfg.nodes; i++) {
                if (i == e->src)
                    continue;
                if (nc->loss > 0 && rng01(&w->net_rng) < nc->loss) {
                    w->st.lost++;
                    continue;
                }
                deliver(w, i, e);
            }
        } else {
            deliver(w, e->node, e);
        }
        break;
    case EV_TIMER: {
        snode *s = &w->nodes[e->node];
        if (s->alive && s->life == e->life && s->timer_at == e->t) {
            s->timer_at = UINT64_MAX;
            mc_timeout(s->mc, w->now);
            msim_touch(w, e->node);
        }
        break;
    }
    case EV_CALL:
        e->fn(e->user, w);
        break;
    }
    free(e);
}

void msim_run_until(msim_world *w, uint64_t until)
{
    while (w->heap_n && w->heap[0]->t <= until)
        run_one(w);
    if (until > w->now)
        w->now = until;
}

bool msim_run_while(msim_world *w, uint64_t until, bool (*pred)(void *, msim_world *), void *user)
{
    if (pred(user, w))
        return true;
    while (w->heap_n && w->heap[0]->t <= until) {
        run_one(w);
        if (pred(user, w))
            return true;
    }
    if (until > w->now)
        w->now = until;
    return false;
}

int msim_at(msim_world *w, uint64_t t, void (*fn)(void *, msim_world *), void *user)
{
    ev *e = ev_new(0);
    if (!e)
        return MC_ENOMEM;
    e->type = EV_CALL;
    e->t = t < w->now ? w->now : t;
    e->fn = fn;
    e->user = user;
    return push(w, e);
}

/* ---- Faults ----------------------------------------------------------------------------------------- */
static void set_cut(msim_world *w, uint32_t net, uint32_t a, uint32_t b, bool cut)
{
    size_t n = w->cfg.nodes;
    if (!w->cut[net]) {
        if (!cut)
            return;
        w->cut[net] = calloc((n * n + 7) / 8, 1);
        if (!w->cut[net])
            return;
    }
    size_t bit = (size_t)a * n + b;
    if (cut)
        w->cut[net][bit / 8] |= (uint8_t)(1u << (bit % 8));
    else
        w->cut[net][bit / 8] &= (uint8_t)~(1u << (bit % 8));
}

void msim_cut(msim_world *w, uint32_t net, uint32_t a, uint32_t b, bool cut)
{
    if (net >= w->cfg.nets || a >= w->cfg.nodes || b >= w->cfg.nodes)
        return;
    set_cut(w, net, a, b, cut);
    set_cut(w, net, b, a, cut);
}

void msim_cut_node(msim_world *w, uint32_t net, uint32_t a, bool cut)
{
    for (uint32_t b = 0; b < w->cfg.nodes; b++)
        if (b != a)
            msim_cut(w, net, a, b, cut);
}

void msim_partition(msim_world *w, uint32_t net, uint32_t node, uint16_t group)
{
    if (net >= w->cfg.nets || node >= w->cfg.nodes)
        return;
    w->nodes[node].group[net] = group;
    bool any = false;
    for (uint32_t i = 0; i < w->cfg.nodes && !any; i++)
        any = w->nodes[i].group[net] != 0;
    w->partitioned[net] = any;
}

void msim_net_set(msim_world *w, uint32_t net, const msim_net_cfg *c)
{
    if (net < w->cfg.nets)
        w->cfg.net[net] = *c;
}

void msim_crash(msim_world *w, uint32_t i)
{
    snode *s = &w->nodes[i];
    if (!s->alive)
        return;
    mc_node_destroy(s->mc);
    s->mc = NULL;
    s->alive = false;
    s->timer_at = UINT64_MAX;
}

int msim_restart(msim_world *w, uint32_t i)
{
    if (w->nodes[i].alive)
        return MC_ESTATE;
    return node_start(w, i);
}
