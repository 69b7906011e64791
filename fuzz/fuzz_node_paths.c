/*
 * fuzz_node_paths — the protocol core with everything on: paths (mpa_), naming with
 * publish/withdraw/NAME_SYNC (mn_) and, when stack/sec is built (FZ_HAVE_SEC), secured
 * links through the core's injected crypto table with the real OpenSSL adapter
 * (ms_core_ops, a fixed cluster key and a seeded key RNG, so runs are reproducible).
 * fuzz_node covers the link and channel layers with raw channels; this target covers
 * what a real node runs on top of them.
 *
 * Two nodes, A (id 1) and B (id 2), on two bearers.  The fuzzer is the network (deliver,
 * drop, duplicate, reorder, corrupt, inject, cut), the clock, the allocator and the
 * applications: register/unregister devices; open paths to (node, device), by name
 * (mn_foreach_name: UNICAST or ANYCAST, the name in PATH_OPEN) and by pattern (mn_match:
 * a MULTICAST group of every match); accept, refuse, send, consume, close, abort,
 * release; publish and withdraw names; rekey secured links; change a bearer's tolerance;
 * and, as a lying peer application, send forged NAME_* and PATH_OPEN messages.
 *
 * Input: setup(16) seed(32) then one op per byte with its operands (switch below).
 *   setup bits 0-1 MTU, 2-3 link window, 4-5 tolerance, 6 small send queue,
 *   8-9 / 10-11 security of A / B: PLAIN, REQUIRED, TRANSITION (with ms_core_ops) or no
 *   crypto table at all; 12 / 13 device 1 of A / B auto-accepts.
 * After the ops the network is healed and drained, the applications consuming all.
 *
 * Invariants (always): no crash, leak or sanitizer report; every transmitted frame
 * decodes and fits the MTU; the node's memory accounting equals what its allocator
 * holds, and is zero after destroy; mc_timeout converges at a fixed time; returns are
 * MC_E* and MPA_E* codes.
 * While the network is honest (nothing corrupted or injected so far):
 *   - security (RFC 12.7, written out here, not taken from ms_mode_for): with a pair of
 *     policies that allows no link no peer ever comes up; with a pair that makes the
 *     link secured, nothing but DISCOVER, KEY_EXCHANGE and SECURED is ever transmitted;
 *   - credit: a DATA message (whole, bundled or as fragments) on a path channel has a
 *     cseq below the limit its receiver has granted (mpa_get_info rx_limit);
 *   - path state: a path or group that reached CLOSED or BROKEN never changes state
 *     again and has nothing more delivered on it;
 *   - path data (payloads carry sender node, sender handle, send number, length and
 *     CRC): intact; per (receiving path, sender handle) send numbers strictly increasing
 *     (no duplicate, no reordering) and, unless a peer was lost, consecutive (a unicast
 *     path starts at 0), also when memory is refused (a message that cannot be queued
 *     must break its path, not vanish);
 *   - after draining, unless a peer was lost: every message sent on a unicast path that
 *     is OPEN at both ends was delivered; and if no memory or send was refused either,
 *     each node's view of the other's names equals what that node publishes (device,
 *     name, generation, rank, flags): publish, withdraw and NAME_SYNC converge.
 */
#include "fz.h"

#include "mc.h"
#include "naming.h"
#include "path.h"
#ifdef FZ_HAVE_SEC
#include "ms_core.h"
#endif

#define NNODES 2
#define NBEARERS 2
#define QMAX 64
#define MAX_STEPS 64
#define NPATHS 48     /* tracked path handles per node */
#define NDEV 3        /* devices 1..NDEV registered at start; NDEV + 1 never is */
#define PL_HDR 16

typedef struct qframe {
    uint8_t *p;
    size_t len;
} qframe;

typedef struct queue {
    qframe f[QMAX];
    unsigned head, n;
} queue;

/* What the harness knows of one path handle of one node. */
typedef struct tpath {
    uint32_t id;
    bool used, group, ended;
    uint32_t sent;          /* as sender: messages accepted by mc_path_send */
    /* As receiver, per sender handle: a member of a group receives what is sent on the
     * group handle and what is sent on the member's own handle, two numberings. */
    struct {
        bool have;
        uint32_t from, last;
    } rx[2];
    uint32_t rx_count, unconsumed;
} tpath;

typedef struct node_ctx {
    int idx;
    mc_node *n;
    int bearer[NBEARERS];
    fz_svc s;            /* allocator and RNG (fz.h) */
    uint8_t policy;         /* MP_SEC_*; meaningful if has_ops */
    bool has_ops;
    bool dev[NDEV + 2];
    uint32_t gen;           /* name generations handed out */
    tpath p[NPATHS];
} node_ctx;

static node_ctx nodes[NNODES];
static queue net[NNODES][NBEARERS];
static bool cut[NBEARERS];
static uint16_t mtu;
static bool honest, peer_lost, lossy;
static uint64_t now;
static int verbose;
static int sec_mode; /* expected link mode: -1 no link, 0 plain, 1 secured */
#define DRAIN_NS (10ull * 1000000000u)

static const char *const names[8] = {"svc/a", "svc/b", "svc/c/d", "grp/x1",
                                     "grp/x2", "grp/y", "excl/e", "svc/a/b"};
static const char *const patterns[8] = {"svc/*", "grp/**", "**", "svc/?",
                                        "excl/e", "grp/x?", "*/a", "nomatch/*"};

/* ---- Secured links ------------------------------------------------------------------- */
#ifdef FZ_HAVE_SEC
/* One ms_ctx per (node, policy), made once per process: the ctx is read-only after
 * creation but for its RNG, whose state is reset for every input. */
static ms_ctx *sec_ctx[NNODES][3];
static uint64_t sec_seed[NNODES];

static int fz_sec_fill(void *user, uint8_t *buf, size_t n)
{
    uint64_t *s = user;
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        buf[i] = (uint8_t)(z ^ (z >> 31));
    }
    return 0;
}

static ms_ctx *sec_get(int node, uint8_t policy)
{
    if (!sec_ctx[node][policy]) {
        static const uint8_t key[32] = "fuzz_node_paths cluster key 0123";
        ms_config c;
        ms_config_default(&c);
        c.node_id = (uint32_t)node + 1;
        c.domain = 7;
        c.cluster_key = key;
        c.cluster_key_len = sizeof key;
        c.policy = policy;
        c.rng = (ms_rng){fz_sec_fill, &sec_seed[node]};
        FZ_CHECK(ms_ctx_create(&c, &sec_ctx[node][policy]) == 0);
    }
    return sec_ctx[node][policy];
}
#endif

/* RFC 12.7: PLAIN-REQUIRED has no link; either secured policy with a secured peer policy
 * is secured; TRANSITION with PLAIN is plain.  A node without crypto is PLAIN. */
static int expected_mode(uint8_t a, uint8_t b)
{
    if ((a == MP_SEC_PLAIN && b == MP_SEC_REQUIRED) || (a == MP_SEC_REQUIRED && b == MP_SEC_PLAIN))
        return -1;
    return a != MP_SEC_PLAIN && b != MP_SEC_PLAIN ? 1 : 0;
}

/* ---- Path bookkeeping ------------------------------------------------------------------ */
static tpath *tp_find(node_ctx *c, uint32_t id)
{
    for (int i = 0; i < NPATHS; i++)
        if (c->p[i].used && c->p[i].id == id)
            return &c->p[i];
    return NULL;
}

/* The record of handle `id`, made if new; NULL when the table is full (not tracked). */
static tpath *tp_get(node_ctx *c, uint32_t id)
{
    tpath *t = tp_find(c, id);
    if (t)
        return t;
    for (int i = 0; i < NPATHS; i++)
        if (!c->p[i].used) {
            memset(&c->p[i], 0, sizeof c->p[i]);
            c->p[i].used = true;
            c->p[i].id = id;
            return &c->p[i];
        }
    return NULL;
}

/* The k-th tracked handle (mod the count), or NULL if none. */
static tpath *tp_pick(node_ctx *c, uint8_t k)
{
    int cnt = 0;
    for (int i = 0; i < NPATHS; i++)
        cnt += c->p[i].used;
    if (!cnt)
        return NULL;
    k = (uint8_t)(k % cnt);
    for (int i = 0; i < NPATHS; i++)
        if (c->p[i].used && k-- == 0)
            return &c->p[i];
    return NULL;
}

/* Credit oracle for one DATA message (or its fragment) that node `from` transmits. */
static void check_credit(int from, uint32_t chan, uint32_t cseq)
{
    if (!honest || chan < MP_CHAN_FIRST_PATH)
        return;
    mpa_info ri;
    const mpa_ctx *rx = mc_paths(nodes[1 - from].n);
    if (mpa_get_info(rx, chan, &ri) != MPA_OK || ri.peer_node != (uint32_t)(from + 1))
        return;
    FZ_CHECKF((int32_t)(cseq - ri.rx_limit) < 0, "node %d sends DATA cseq %u on path %u, "
              "its receiver granted up to %u (exclusive)", from, cseq, chan, ri.rx_limit);
}

static void fz_tx(void *user, int bearer, const mc_addr *dst, const uint8_t *frame, size_t len)
{
    node_ctx *c = user;
    (void)dst;
    int b = bearer == c->bearer[0] ? 0 : bearer == c->bearer[1] ? 1 : -1;
    FZ_CHECKF(b >= 0, "tx on unknown bearer %d", bearer);
    FZ_CHECKF(len <= mtu, "node %d sent %zu bytes on a %u-byte MTU", c->idx, len, mtu);
    mp_frame f;
    int rc = mp_decode(frame, len, &f);
    FZ_CHECKF(rc >= 0, "node %d sent a frame the codec rejects: %s", c->idx, mp_errname(rc));
    if (verbose > 2)
        fprintf(stderr, "t=%.3f node %d tx b%d type %u seq %u chan %u cseq %u len %zu%s\n",
                (double)(now - 1000000000ull) / 1e9, c->idx, b, f.hdr.type, f.hdr.seq,
                f.hdr.chan, f.hdr.cseq, len, cut[b] ? " (cut)" : "");
    if (honest && sec_mode == 1)
        FZ_CHECKF(f.hdr.type == MP_T_DISCOVER || f.hdr.type == MP_T_KEY_EXCHANGE ||
                  f.hdr.type == MP_T_SECURED, "node %d sent type %u in the clear on a "
                  "secured link", c->idx, f.hdr.type);
    if (f.hdr.type == MP_T_DATA)
        check_credit(c->idx, f.hdr.chan, f.hdr.cseq);
    else if (f.hdr.type == MP_T_FRAGMENT && f.u.fragment.inner_type == MP_T_DATA)
        check_credit(c->idx, f.hdr.chan, f.hdr.cseq);
    else if (f.hdr.type == MP_T_BUNDLE) {
        size_t pos = 0;
        mp_frame m;
        while (mp_bundle_next(&f.u.bundle, &pos, &m) > 0)
            if (m.hdr.type == MP_T_DATA)
                check_credit(c->idx, m.hdr.chan, m.hdr.cseq);
    }
    if (cut[b])
        return;
    queue *q = &net[c->idx][b];
    if (q->n == QMAX)
        return;
    uint8_t *p = malloc(len);
    FZ_CHECK(p);
    memcpy(p, frame, len);
    q->f[(q->head + q->n) % QMAX] = (qframe){p, len};
    q->n++;
}

static void on_path_msg(node_ctx *c, const mc_event *ev)
{
    int from = 1 - c->idx;
    tpath *t = tp_get(c, ev->path);
    if (!honest || ev->msg_type != MP_T_DATA || !t)
        return;
    FZ_CHECKF(!t->ended, "node %d: message delivered on path %u after it ended", c->idx,
              ev->path);
    FZ_CHECKF(ev->peer == (uint32_t)(from + 1), "path message from unknown peer %u", ev->peer);
    FZ_CHECKF(ev->len >= PL_HDR, "delivered path DATA of %zu bytes", ev->len);
    const uint8_t *d = ev->data;
    bool group = d[1] != 0;
    uint32_t sh = mp_get32(d + 2), no = mp_get32(d + 6);
    size_t len = mp_get16(d + 10);
    FZ_CHECK(d[0] == from);
    FZ_CHECKF(len == ev->len, "payload says %zu bytes, delivered %zu", len, ev->len);
    FZ_CHECK(mp_crc32c(0, d + PL_HDR, len - PL_HDR) == mp_get32(d + 12));
    tpath *s = tp_find(&nodes[from], sh);
    FZ_CHECKF(!s || no < s->sent, "delivered send #%u of path %u never sent", no, sh);
    int k = t->rx[0].have && t->rx[0].from != sh;
    FZ_CHECKF(!k || !t->rx[1].have || t->rx[1].from == sh, "node %d path %u: messages of "
              "three sender paths %u, %u, %u", c->idx, ev->path, t->rx[0].from,
              t->rx[1].from, sh);
    if (t->rx[k].have) {
        FZ_CHECKF(no > t->rx[k].last, "node %d path %u: send #%u of %u delivered after #%u "
                  "(duplicate or reordered)", c->idx, ev->path, no, sh, t->rx[k].last);
        if (!peer_lost)
            FZ_CHECKF(no == t->rx[k].last + 1, "node %d path %u: send #%u of %u delivered, "
                      "#%u lost", c->idx, ev->path, no, sh, t->rx[k].last + 1);
    } else if (!group && !peer_lost) {
        FZ_CHECKF(no == 0, "node %d path %u: first delivery of %u is send #%u", c->idx,
                  ev->path, sh, no);
    }
    t->rx[k].have = true;
    t->rx[k].from = sh;
    t->rx[k].last = no;
    t->rx_count++;
    t->unconsumed++;
}

static void fz_event(void *user, const mc_event *ev)
{
    node_ctx *c = user;
    if (verbose > 1)
        fprintf(stderr, "t=%.3f node %d event %d peer %u reason %d path %u group %u state %u "
                "len %zu\n", (double)(now - 1000000000ull) / 1e9, c->idx, (int)ev->type,
                ev->peer, ev->reason, ev->path, ev->group, ev->path_state, ev->len);
    switch (ev->type) {
    case MC_EV_PEER_UP:
        FZ_CHECKF(!honest || sec_mode >= 0, "node %d: peer up although the policies allow "
                  "no link", c->idx);
        break;
    case MC_EV_PEER_DOWN:
    case MC_EV_SEND_LOST:
        peer_lost = true;
        break;
    case MC_EV_PATH_STATE: {
        tpath *t = tp_get(c, ev->path);
        if (!t)
            break;
        FZ_CHECKF(!honest || !t->ended, "node %d: path %u changed to state %u after it ended",
                  c->idx, ev->path, ev->path_state);
        if (ev->path_state == MPA_ST_CLOSED || ev->path_state == MPA_ST_BROKEN)
            t->ended = true;
        break;
    }
    case MC_EV_PATH_REQUEST:
        (void)tp_get(c, ev->path);
        break;
    case MC_EV_PATH_MSG:
        on_path_msg(c, ev);
        break;
    default:
        break;
    }
}

/* ---- Driving -------------------------------------------------------------------------------- */
static void check_mem(const node_ctx *c)
{
    mc_stats st;
    mc_get_stats(c->n, &st);
    FZ_CHECKF(st.mem_used == c->s.held, "node %d accounts %zu bytes, allocator holds %zu", c->idx,
              st.mem_used, c->s.held);
}

static void check_rc(int rc) { FZ_CHECKF(rc <= 0 && rc > -MC_ERR_COUNT, "return %d", rc); }

static void run_timers(void)
{
    for (int i = 0; i < NNODES; i++) {
        int steps = 0;
        while (mc_next_deadline(nodes[i].n) <= now) {
            check_rc(mc_timeout(nodes[i].n, now));
            FZ_CHECKF(++steps < MAX_STEPS, "node %d: deadline stays at or before now", i);
        }
        check_mem(&nodes[i]);
    }
}

static qframe take(queue *q)
{
    qframe f = q->f[q->head];
    q->head = (q->head + 1) % QMAX;
    q->n--;
    return f;
}

static void deliver(int from, int b, const uint8_t *p, size_t len)
{
    node_ctx *to = &nodes[1 - from];
    mc_addr src = {1, {(uint8_t)(from + 1)}};
    check_rc(mc_input(to->n, to->bearer[b], &src, p, len, now));
}

static void deliver_all(void)
{
    for (int round = 0;; round++) {
        FZ_CHECKF(round < 20000, "frame storm after %d rounds", round);
        bool any = false;
        for (int i = 0; i < NNODES; i++)
            for (int b = 0; b < NBEARERS; b++)
                while (net[i][b].n) {
                    qframe f = take(&net[i][b]);
                    deliver(i, b, f.p, f.len);
                    free(f.p);
                    any = true;
                }
        if (!any)
            return;
    }
}

static void path_send(node_ctx *c, tpath *t, size_t len)
{
    static uint8_t pl[8192];
    if (len < PL_HDR)
        len = PL_HDR;
    uint32_t no = t->sent;
    for (size_t i = PL_HDR; i < len; i++)
        pl[i] = (uint8_t)(no * 31u + i);
    pl[0] = (uint8_t)c->idx;
    pl[1] = t->group;
    mp_put32(pl + 2, t->id);
    mp_put32(pl + 6, no);
    mp_put16(pl + 10, (uint16_t)len);
    mp_put32(pl + 12, mp_crc32c(0, pl + PL_HDR, len - PL_HDR));
    int rc = mc_path_send(c->n, t->id, pl, len, now);
    check_rc(rc);
    if (rc == 0)
        t->sent++;
}

/* mn_match / mn_foreach_name visitor: collect the other node's entries as targets. */
typedef struct collect {
    uint32_t self;
    mpa_target t[8];
    size_t n;
} collect;

static int collect_fn(void *user, const mn_entry *e)
{
    collect *k = user;
    if (e->node_id == k->self)
        return 0;
    k->t[k->n++] = (mpa_target){e->node_id, e->device_id, e->name, e->name_len};
    return k->n == 8;
}

static void open_by_name(node_ctx *c, uint8_t a, uint8_t b)
{
    const mn_table *nt = mc_names(c->n);
    mpa_ctx *pc = mc_paths(c->n);
    const char *nm = names[a & 7];
    collect k = {.self = (uint32_t)c->idx + 1};
    mn_foreach_name(nt, (const uint8_t *)nm, strlen(nm), collect_fn, &k);
    if (!k.n || !mc_peer_is_up(c->n, k.t[0].node))
        return; /* an open towards a peer that is down is refused before the wire */
    mpa_open_args o;
    memset(&o, 0, sizeof o);
    o.local_device = 1 + b % (NDEV + 1);
    o.peer = k.t[(a >> 3) % k.n];
    o.pkind = (a & 0x40) ? MP_PK_ANYCAST : MP_PK_UNICAST;
    o.name = o.peer.name;
    o.name_len = o.peer.name_len;
    o.window = (a & 0x80) ? 4 : 0;
    uint32_t h;
    int rc = mpa_open(pc, &o, now, &h);
    FZ_CHECK(rc <= 0 && rc > MPA_EEXIST - 1);
    if (rc == 0) {
        tpath *t = tp_get(c, h);
        (void)t;
    }
}

static void open_by_pattern(node_ctx *c, uint8_t a, uint8_t b)
{
    const mn_table *nt = mc_names(c->n);
    const char *pat = patterns[a & 7];
    collect k = {.self = (uint32_t)c->idx + 1};
    int rc = mn_match(nt, (const uint8_t *)pat, strlen(pat), collect_fn, &k);
    FZ_CHECK(rc >= 0);
    if (!k.n || !mc_peer_is_up(c->n, k.t[0].node))
        return;
    mpa_open_args o;
    memset(&o, 0, sizeof o);
    o.local_device = 1 + b % (NDEV + 1);
    o.pkind = MP_PK_MULTICAST;
    uint32_t g;
    rc = mpa_open_group(mc_paths(c->n), &o, k.t, k.n, now, &g);
    FZ_CHECK(rc <= 0 && rc > MPA_EEXIST - 1);
    if (rc == 0) {
        tpath *t = tp_get(c, g);
        if (t)
            t->group = true;
    }
}

/* mn_foreach_node visitor: is every entry of one table in the other, equal? */
typedef struct cmp_ctx {
    const mn_table *other;
    int n;
} cmp_ctx;

static int cmp_fn(void *user, const mn_entry *e)
{
    cmp_ctx *k = user;
    const mn_entry *o = mn_find(k->other, e->node_id, e->device_id, e->name, e->name_len);
    FZ_CHECKF(o, "name %.*s (node %u device %u) is in one table only after draining",
              (int)e->name_len, (const char *)e->name, e->node_id, e->device_id);
    FZ_CHECKF(o->generation == e->generation && o->rank == e->rank && o->nflags == e->nflags,
              "name %.*s (node %u device %u): generation %u/%u rank %u/%u flags %u/%u",
              (int)e->name_len, (const char *)e->name, e->node_id, e->device_id,
              e->generation, o->generation, e->rank, o->rank, e->nflags, o->nflags);
    k->n++;
    return 0;
}

static void check_names(void)
{
    for (int i = 0; i < NNODES; i++) {
        const mn_table *own = mc_names(nodes[i].n), *peer = mc_names(nodes[1 - i].n);
        uint32_t id = (uint32_t)i + 1;
        cmp_ctx a = {peer, 0}, b = {own, 0};
        mn_foreach_node(own, id, cmp_fn, &a);
        mn_foreach_node(peer, id, cmp_fn, &b);
        FZ_CHECK(a.n == b.n);
    }
}

/* After draining: unicast paths OPEN at both ends delivered all that was sent. */
static void check_paths(void)
{
    for (int i = 0; i < NNODES; i++)
        for (int k = 0; k < NPATHS; k++) {
            tpath *t = &nodes[i].p[k];
            mpa_info si, ri;
            if (!t->used || t->group || !t->sent ||
                mpa_get_info(mc_paths(nodes[i].n), t->id, &si) != MPA_OK ||
                si.state != MPA_ST_OPEN || si.group ||
                mpa_get_info(mc_paths(nodes[1 - i].n), si.peer_path, &ri) != MPA_OK ||
                ri.state != MPA_ST_OPEN)
                continue;
            tpath *r = tp_find(&nodes[1 - i], si.peer_path);
            if (!r)
                continue; /* the receiver's table was full when the path came: untracked */
            FZ_CHECKF(r->rx_count == t->sent, "node %d path %u: sent %u, node %d path %u "
                      "delivered %u after draining", i, t->id, t->sent, 1 - i, si.peer_path,
                      r->rx_count);
        }
}

static void consume_all(void)
{
    for (int i = 0; i < NNODES; i++)
        for (int k = 0; k < NPATHS; k++) {
            tpath *t = &nodes[i].p[k];
            if (t->used && t->unconsumed) {
                check_rc(mc_path_consume(nodes[i].n, t->id, t->unconsumed, now));
                t->unconsumed = 0;
            }
        }
}

/* A well-formed NAME_PUBLISH, NAME_WITHDRAW, NAME_SYNC or PATH_OPEN that the node's own
 * tables did not make, sent with mc_send_frame on channel 0: it reaches the peer's naming
 * and path layers through an honest link, as a confused or lying peer would send it.
 * The peer's view of names and paths may then differ from ours: not honest. */
static void forge(node_ctx *c, fz_in *in)
{
    static const uint8_t types[4] = {MP_T_NAME_PUBLISH, MP_T_NAME_WITHDRAW, MP_T_NAME_SYNC,
                                     MP_T_PATH_OPEN};
    uint8_t sel = fz_u8(in);
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = types[sel & 3];
    f.hdr.chan = MP_CHAN_NODE;
    mp_name_rec recs[4];
    if (f.hdr.type == MP_T_NAME_SYNC && (sel & 4)) {
        /* Records built field by field, names from the table's set (or the fuzzer's). */
        memset(recs, 0, sizeof recs);
        f.u.sync.yflags = fz_u8(in);
        f.u.sync.count = (uint16_t)(fz_u8(in) % 5);
        for (unsigned i = 0; i < f.u.sync.count; i++) {
            uint8_t a = fz_u8(in);
            recs[i].device_id = 1 + (a >> 3 & 3);
            recs[i].nflags = (a & 0x20) ? MP_NFLAG_EXCLUSIVE : 0;
            recs[i].rank = fz_u8(in);
            recs[i].generation = fz_u8(in);
            recs[i].name = (a & 0x40) ? fz_view8(in, 40)
                                      : (mp_bytes){(const uint8_t *)names[a & 7],
                                                   strlen(names[a & 7])};
        }
        f.u.sync.enc_recs = recs;
    } else {
        mp_bytes body = fz_view(in, fz_u8(in));
        if (mp_body_decode(&f.hdr, body.ptr, body.len, &f) < 0)
            return;
    }
    honest = false;
    check_rc(mc_send_frame(c->n, (uint32_t)(2 - c->idx), &f, now, NULL));
}

static void node_setup(int i, uint8_t sec, bool auto1, uint16_t window, uint16_t tol,
                       bool small_q)
{
    node_ctx *c = &nodes[i];
    mc_config cfg;
    mc_config_default(&cfg);
    cfg.node_id = (uint32_t)(i + 1);
    cfg.domain = 7;
    cfg.window = window;
    cfg.tolerance_ms = tol;
    cfg.max_message = 64 * 1024;
    cfg.max_queue_bytes = small_q ? 16 * 1024 : 1024 * 1024;
    cfg.mem_limit = 64u << 20;
    cfg.naming = true;
    cfg.paths = true;
    cfg.alloc = (mc_alloc){fz_svc_alloc, fz_svc_free, &c->s};
    cfg.rng = (mc_rng){fz_svc_rng, &c->s};
    cfg.tx = fz_tx;
    cfg.event = fz_event;
    cfg.user = c;
    c->policy = MP_SEC_PLAIN;
#ifdef FZ_HAVE_SEC
    if (sec < 3) {
        c->has_ops = true;
        c->policy = sec;
        ms_core_crypto(sec_get(i, sec), &cfg.crypto);
    }
#else
    (void)sec;
#endif
    FZ_CHECK(mc_node_create(&cfg, &c->n) == 0);
    for (int b = 0; b < NBEARERS; b++) {
        mc_bearer_cfg bc;
        memset(&bc, 0, sizeof bc);
        bc.mtu = mtu;
        bc.discovery = (mc_addr){1, {0xFF}};
        bc.priority = (uint8_t)(10 + b);
        int id = mc_bearer_attach(c->n, &bc, now);
        FZ_CHECK(id >= 0);
        c->bearer[b] = id;
    }
    for (uint32_t d = 1; d <= NDEV; d++) {
        uint32_t fl = (d == 3 || (d == 1 && auto1)) ? MC_DEV_AUTO_ACCEPT : 0;
        FZ_CHECK(mc_path_device_add(c->n, d, fl) == 0);
        c->dev[d] = true;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = fz_in_make(data, size);
    uint16_t setup = fz_u16(&in);
    uint32_t seed = fz_u32(&in);
    static const uint16_t mtus[4] = {256, 576, 1500, 9000};
    static const uint16_t windows[4] = {256, 4, 16, 1};
    static const uint16_t tols[4] = {500, 10, 100, 3000};
    mtu = mtus[setup & 3];
    const char *vs = getenv("FZ_VERBOSE");
    verbose = vs ? atoi(vs) : 0;

    memset(net, 0, sizeof net);
    memset(cut, 0, sizeof cut);
    honest = true;
    peer_lost = lossy = false;
    now = 1000000000ull;
#ifdef FZ_HAVE_SEC
    for (int i = 0; i < NNODES; i++)
        sec_seed[i] = seed * 0x100000001ull + (uint64_t)i;
#endif
    for (int i = 0; i < NNODES; i++) {
        node_ctx *c = &nodes[i];
        memset(c, 0, sizeof *c);
        c->idx = c->s.idx = i;
        c->s.refused = &lossy; /* a refused allocation may lose a name record */
        c->s.fail_in = -1;
        c->s.rng = (seed ^ (0x9E3779B9u * (uint32_t)(i + 1))) | 1u;
        node_setup(i, (uint8_t)(setup >> (8 + 2 * i) & 3), (setup >> (12 + i)) & 1,
                   windows[(setup >> 2) & 3], tols[(setup >> 4) & 3], (setup & 0x40) != 0);
    }
    sec_mode = expected_mode(nodes[0].policy, nodes[1].policy);

    unsigned ops = 0;
    while (fz_left(&in) && ops++ < 1024) {
        uint8_t op = fz_u8(&in);
        int who = op >> 7 & 1;
        int b = op >> 6 & 1;
        node_ctx *c = &nodes[who];
        queue *q = &net[who][b];
        if (verbose > 2)
            fprintf(stderr, "t=%.3f op %u node %d bearer %d\n",
                    (double)(now - 1000000000ull) / 1e9, op & 0x1Fu, who, b);
        switch (op & 0x1F) {
        case 0: /* time passes: 0.1 ms .. 6.5 s */
        case 1:
            now += (uint64_t)(1 + fz_u16(&in)) * 100000u;
            run_timers();
            break;
        case 2: /* deliver the next frame */
        case 3:
        case 4:
            if (q->n) {
                qframe f = take(q);
                deliver(who, b, f.p, f.len);
                free(f.p);
            }
            break;
        case 5: /* lose it */
            if (q->n)
                free(take(q).p);
            break;
        case 6: /* duplicate */
            if (q->n)
                deliver(who, b, q->f[q->head].p, q->f[q->head].len);
            break;
        case 7: /* reorder */
            if (q->n >= 2) {
                unsigned i0 = q->head, i1 = (q->head + 1) % QMAX;
                qframe t = q->f[i0];
                q->f[i0] = q->f[i1];
                q->f[i1] = t;
            }
            break;
        case 8: { /* corrupt one bit and deliver (the operand is read either way, so an
                   * input means the same whatever the queues hold) */
            uint16_t bit = fz_u16(&in);
            if (q->n) {
                qframe f = take(q);
                f.p[(bit >> 3) % f.len] ^= (uint8_t)(1u << (bit & 7));
                honest = false;
                deliver(who, b, f.p, f.len);
                free(f.p);
            }
            break;
        }
        case 9: { /* inject the fuzzer's own frame */
            mp_bytes fr = fz_view(&in, fz_u16(&in) % 2048);
            honest = false;
            uint8_t *p = malloc(fr.len ? fr.len : 1);
            FZ_CHECK(p);
            if (fr.len)
                memcpy(p, fr.ptr, fr.len);
            deliver(who, b, p, fr.len);
            free(p);
            break;
        }
        case 10: { /* open a path to (peer, device) */
            uint32_t h;
            uint8_t d = fz_u8(&in);
            int rc = mc_path_open(c->n, 1 + d % (NDEV + 1), (uint32_t)(2 - who),
                                  1 + (d >> 4) % (NDEV + 1), now, &h);
            check_rc(rc);
            if (rc == 0)
                (void)tp_get(c, h);
            break;
        }
        case 11: /* send on a path */
        case 12: {
            tpath *t = tp_pick(c, fz_u8(&in));
            size_t len = fz_u16(&in) % 5000;
            if (t)
                path_send(c, t, len);
            break;
        }
        case 13: /* flush */
            check_rc(mc_flush(c->n, now));
            break;
        case 14: /* cut or heal a bearer */
            cut[b] = !cut[b];
            break;
        case 15: /* the next allocations fail */
            c->s.fail_in = fz_u8(&in) % 8;
            break;
        case 16: { /* publish a name */
            mp_name_rec r;
            memset(&r, 0, sizeof r);
            uint8_t a = fz_u8(&in);
            const char *nm = names[a & 7];
            r.device_id = 1 + (a >> 3 & 3);
            r.name = (mp_bytes){(const uint8_t *)nm, strlen(nm)};
            r.rank = fz_u8(&in);
            r.nflags = (a & 0x20) ? MP_NFLAG_EXCLUSIVE : 0;
            /* Mostly newer generations; sometimes the same one again (a duplicate). */
            r.generation = (a & 0x40) && c->gen ? c->gen : ++c->gen;
            uint8_t kv[2] = {'k', (uint8_t)('0' + (a >> 7))};
            if (a & 0x80) {
                r.prop_count = 1;
                r.props[0] = (mp_prop){.key = kv, .key_len = 1, .val = kv + 1, .val_len = 1};
            }
            check_rc(mc_publish(c->n, &r, now));
            break;
        }
        case 17: { /* withdraw a name */
            uint8_t a = fz_u8(&in);
            check_rc(mc_withdraw(c->n, 1 + (a >> 3 & 3), names[a & 7], now));
            break;
        }
        case 18: { /* accept a waiting request (or anything else: must fail cleanly) */
            tpath *t = tp_pick(c, fz_u8(&in));
            if (t)
                check_rc(mc_path_accept(c->n, t->id));
            break;
        }
        case 19: { /* refuse: releases the handle */
            tpath *t = tp_pick(c, fz_u8(&in));
            if (t && mpa_refuse(mc_paths(c->n), t->id, MP_R_REFUSED) == MPA_OK)
                t->used = false;
            break;
        }
        case 20: { /* close */
            tpath *t = tp_pick(c, fz_u8(&in));
            if (t)
                check_rc(mc_path_close(c->n, t->id, now));
            break;
        }
        case 21: { /* the application consumes what it was given (sometimes too much) */
            uint8_t a = fz_u8(&in);
            tpath *t = tp_pick(c, a);
            if (t) {
                uint32_t k = (a & 0x80) ? (uint32_t)(a & 7) : t->unconsumed;
                check_rc(mc_path_consume(c->n, t->id, k, now));
                t->unconsumed = k >= t->unconsumed ? 0 : t->unconsumed - k;
            }
            break;
        }
        case 22: { /* open by name */
            uint8_t a = fz_u8(&in);
            open_by_name(c, a, fz_u8(&in));
            break;
        }
        case 23: { /* open a group by pattern */
            uint8_t a = fz_u8(&in);
            open_by_pattern(c, a, fz_u8(&in));
            break;
        }
        case 24: { /* abort */
            tpath *t = tp_pick(c, fz_u8(&in));
            if (t)
                (void)mpa_abort(mc_paths(c->n), t->id, MP_R_APP_CLOSE);
            break;
        }
        case 25: { /* release the handle */
            tpath *t = tp_pick(c, fz_u8(&in));
            if (t && mpa_release(mc_paths(c->n), t->id) == MPA_OK)
                t->used = false;
            break;
        }
        case 26: { /* unregister or register a device */
            uint32_t d = 1 + fz_u8(&in) % (NDEV + 1);
            if (c->dev[d]) {
                FZ_CHECK(mpa_device_remove(mc_paths(c->n), d) == MPA_OK);
                c->dev[d] = false;
            } else if (mc_path_device_add(c->n, d, (op & 0x20) ? MC_DEV_AUTO_ACCEPT : 0) == 0) {
                c->dev[d] = true;
            }
            break;
        }
        case 27: /* rekey a secured link (MC_ESTATE on a plain one) */
            check_rc(mc_link_rekey(c->n, (uint32_t)(2 - who), c->bearer[b], now));
            break;
        case 28: /* a bearer's tolerance changes */
            check_rc(mc_bearer_set_tolerance(c->n, c->bearer[b], tols[fz_u8(&in) & 3]));
            break;
        case 30: /* the peer's application forges a node-channel message */
            forge(c, &in);
            break;
        default: /* 29, 31: time passes a little (keeps timers and traffic interleaved) */
            now += (uint64_t)(1 + fz_u8(&in)) * 1000000u;
            run_timers();
            break;
        }
    }

    /* Heal and drain on a perfect network, the applications consuming everything. */
    cut[0] = cut[1] = false;
    nodes[0].s.fail_in = nodes[1].s.fail_in = -1;
    const uint64_t start = now;
    for (int step = 0; step < 20000 && now < start + DRAIN_NS; step++) {
        deliver_all();
        consume_all();
        uint64_t d0 = mc_next_deadline(nodes[0].n), d1 = mc_next_deadline(nodes[1].n);
        uint64_t d = d0 < d1 ? d0 : d1;
        if (d == UINT64_MAX)
            break;
        if (d > now)
            now = d;
        run_timers();
    }
    deliver_all();
    consume_all();
    deliver_all();
    for (int i = 0; i < NNODES; i++) {
        mc_stats st;
        mc_get_stats(nodes[i].n, &st);
        if (st.send_errors)
            lossy = true; /* a send the core refused (queue full, no link) is not retried */
        if (verbose) {
            mpa_stats ps;
            mpa_get_stats(mc_paths(nodes[i].n), &ps);
            fprintf(stderr, "node %d: peers_up %u delivered %llu send_errors %llu; paths "
                    "opened %llu accepted %llu refused %llu delivered %llu broken %llu; "
                    "honest %d peer_lost %d lossy %d sec_mode %d\n", i, st.n_peers_up,
                    (unsigned long long)st.delivered, (unsigned long long)st.send_errors,
                    (unsigned long long)ps.opened, (unsigned long long)ps.accepted,
                    (unsigned long long)ps.refused, (unsigned long long)ps.delivered,
                    (unsigned long long)ps.broken, honest, peer_lost, lossy, sec_mode);
            for (int r = 0; r < MC_DROP_COUNT; r++)
                if (st.drops[r])
                    fprintf(stderr, "  drop %s: %llu\n", mc_drop_name(r),
                            (unsigned long long)st.drops[r]);
        }
    }
    /* A path never loses a message silently, even when memory is refused: a message
     * that could not be queued breaks its path at both ends.  Names have no such rule: a
     * record the core could not queue waits for the next NAME_SYNC. */
    if (honest && !peer_lost)
        check_paths();
    /* Names travel only between peers that are up (none if the policies forbid a link,
     * or while a secured link still waits for its keys). */
    if (honest && !peer_lost && !lossy && mc_peer_is_up(nodes[0].n, 2) &&
        mc_peer_is_up(nodes[1].n, 1))
        check_names();

    for (int i = 0; i < NNODES; i++) {
        mc_node_destroy(nodes[i].n);
        FZ_CHECKF(nodes[i].s.held == 0, "node %d: %zu bytes still allocated after destroy", i,
                  nodes[i].s.held);
    }
    for (int i = 0; i < NNODES; i++)
        for (int b = 0; b < NBEARERS; b++)
            while (net[i][b].n)
                free(take(&net[i][b]).p);
    return 0;
}
