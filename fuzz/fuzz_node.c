/*
 * fuzz_node — the protocol core (mc_) as a whole, stateful.  Two real nodes, A (id 1) and
 * B (id 2), share two bearers (two parallel links).  The fuzzer is the network and the
 * clock and the applications: it decides which frame is delivered, dropped, duplicated,
 * reordered or corrupted, when time advances, which link is cut, when allocations fail,
 * what is sent, and it may inject frames of its own.
 *
 * Input: setup(8: mtu, window, tolerance choices) seed(32) then one op per byte with
 * its operands (see the switch below).  After the ops the network is healed and drained.
 *
 * Invariants (always): nothing crashes, leaks or trips a sanitizer; every frame a node
 * transmits decodes with mp_decode and fits the bearer's MTU; the node's memory
 * accounting matches what its allocator holds, and is zero after destroy; mc_timeout at
 * a fixed time converges (no timer storm); every error code is an MC_E* code.
 * While the network is honest (no corruption or injection so far), also:
 *   - a delivered DATA message is one that was sent, intact (payloads carry their own
 *     sender, channel, send number and checksum);
 *   - per (sender, channel), send numbers are delivered in increasing order, each at most
 *     once; and with no peer loss, consecutively (no message lost);
 *   - after healing and draining, with no peer loss, every message sent was delivered.
 */
#include "fz.h"

#include "mc.h"

#define NNODES 2
#define NBEARERS 2
#define QMAX 64       /* frames in flight per direction per bearer */
#define NCHAN 3
#define MAX_STEPS 64  /* mc_timeout calls at one instant before it counts as a storm */

typedef struct qframe {
    uint8_t *p;
    size_t len;
} qframe;

typedef struct queue {
    qframe f[QMAX];
    unsigned head, n;
} queue;

typedef struct node_ctx {
    int idx;
    mc_node *n;
    int bearer[NBEARERS];
    fz_svc s;            /* allocator and RNG (fz.h) */
} node_ctx;

static node_ctx nodes[NNODES];
static queue net[NNODES][NBEARERS]; /* net[from][bearer] */
static bool cut[NBEARERS];
static uint16_t mtu;
static bool honest, peer_lost;
static uint64_t now;
static int verbose; /* FZ_VERBOSE=1: summary per input; 2: every event */
static bool draining, settled;
static unsigned downs_late;
#define DRAIN_NS (10ull * 1000000000u)
#define DRAIN_SETTLE_NS (6ull * 1000000000u)

/* Sent and delivered send numbers per (sender, channel). */
static uint32_t sent_no[NNODES][NCHAN], next_expect[NNODES][NCHAN];
static const uint32_t chans[NCHAN] = {MP_CHAN_FIRST_PATH, MP_CHAN_FIRST_PATH + 1, 0x00012345u};

/* ---- Injected services ---------------------------------------------------------------- */
static void fz_tx(void *user, int bearer, const mc_addr *dst, const uint8_t *frame, size_t len)
{
    node_ctx *c = user;
    (void)dst;
    FZ_CHECK(bearer >= 0);
    int b = bearer == c->bearer[0] ? 0 : bearer == c->bearer[1] ? 1 : -1;
    FZ_CHECKF(b >= 0, "tx on unknown bearer %d", bearer);
    FZ_CHECKF(len <= mtu, "node %d sent %zu bytes on a %u-byte MTU", c->idx, len, mtu);
    mp_frame f;
    int rc = mp_decode(frame, len, &f);
    FZ_CHECKF(rc >= 0, "node %d sent a frame the codec rejects: %s", c->idx, mp_errname(rc));
    if (verbose > 2)
        fprintf(stderr, "t=%.3f node %d tx b%d type %u seq %u ack %u chan %u cseq %u len %zu%s\n",
                (double)(now - 1000000000ull) / 1e9, c->idx, b, f.hdr.type, f.hdr.seq, f.hdr.ack,
                f.hdr.chan, f.hdr.cseq, len, cut[b] ? " (cut)" : "");
    if (verbose > 2 && f.hdr.type == MP_T_FRAGMENT)
        fprintf(stderr, "    fragment offset %u total %u\n", f.u.fragment.offset, f.u.fragment.total_len);
    if (cut[b])
        return;
    queue *q = &net[c->idx][b];
    if (q->n == QMAX)
        return; /* the wire is full: a loss */
    uint8_t *p = malloc(len);
    FZ_CHECK(p);
    memcpy(p, frame, len);
    q->f[(q->head + q->n) % QMAX] = (qframe){p, len};
    q->n++;
}

/* DATA payload: sender(8) chan index(8) send number(32) len(16) crc(32) filler. */
#define PL_HDR 12

static void fz_event(void *user, const mc_event *ev)
{
    node_ctx *c = user;
    if (verbose > 1)
        fprintf(stderr, "t=%.3f node %d event %d peer %u bearer %d reason %d chan %u cseq %u "
                "len %zu\n", (double)(now - 1000000000ull) / 1e9, c->idx, (int)ev->type,
                ev->peer, ev->bearer, ev->reason, ev->chan, ev->cseq, ev->len);
    switch (ev->type) {
    case MC_EV_LINK_DOWN:
        if (settled)
            downs_late++;
        break;
    case MC_EV_PEER_DOWN:
    case MC_EV_SEND_LOST:
        peer_lost = true;
        break;
    case MC_EV_MESSAGE: {
        if (!honest || ev->msg_type != MP_T_DATA)
            break;
        int from = 1 - c->idx;
        FZ_CHECKF(ev->peer == (uint32_t)(from + 1), "message from unknown peer %u", ev->peer);
        FZ_CHECKF(ev->len >= PL_HDR, "delivered DATA of %zu bytes", ev->len);
        const uint8_t *d = ev->data;
        unsigned ci = d[1];
        uint32_t no = mp_get32(d + 2);
        size_t len = mp_get16(d + 6);
        FZ_CHECK(d[0] == from && ci < NCHAN && chans[ci] == ev->chan);
        FZ_CHECKF(len == ev->len, "payload says %zu bytes, delivered %zu", len, ev->len);
        FZ_CHECK(mp_crc32c(0, d + PL_HDR, len - PL_HDR) == mp_get32(d + 8));
        FZ_CHECKF(no < sent_no[from][ci], "delivered send #%u never sent", no);
        FZ_CHECKF(no >= next_expect[from][ci], "send #%u on chan %u delivered again or late "
                  "(expected #%u)", no, ci, next_expect[from][ci]);
        if (!peer_lost)
            FZ_CHECKF(no == next_expect[from][ci], "send #%u on chan %u delivered, #%u lost",
                      no, ci, next_expect[from][ci]);
        next_expect[from][ci] = no + 1;
        break;
    }
    default:
        break;
    }
}

/* ---- Driving ------------------------------------------------------------------------------ */
static void check_mem(const node_ctx *c)
{
    mc_stats st;
    mc_get_stats(c->n, &st);
    FZ_CHECKF(st.mem_used == c->s.held, "node %d accounts %zu bytes, allocator holds %zu", c->idx,
              st.mem_used, c->s.held);
}

static void run_timers(void)
{
    for (int i = 0; i < NNODES; i++) {
        int steps = 0;
        while (mc_next_deadline(nodes[i].n) <= now) {
            int rc = mc_timeout(nodes[i].n, now);
            FZ_CHECK(rc <= 0 && rc > -MC_ERR_COUNT);
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
    if (verbose > 2) {
        mp_frame f;
        if (mp_decode(p, len, &f) >= 0 && MP_TYPE_IS_SEQUENCED(f.hdr.type))
            fprintf(stderr, "t=%.3f node %d rx b%d type %u seq %u chan %u cseq %u offset %u\n",
                    (double)(now - 1000000000ull) / 1e9, 1 - from, b, f.hdr.type, f.hdr.seq,
                    f.hdr.chan, f.hdr.cseq,
                    f.hdr.type == MP_T_FRAGMENT ? f.u.fragment.offset : 0);
    }
    node_ctx *to = &nodes[1 - from];
    mc_addr src = {1, {(uint8_t)(from + 1)}};
    int rc = mc_input(to->n, to->bearer[b], &src, p, len, now);
    FZ_CHECK(rc <= 0 && rc > -MC_ERR_COUNT);
}

static void send_msg(int from, unsigned ci, size_t len)
{
    static uint8_t pl[8192];
    if (len < PL_HDR)
        len = PL_HDR;
    uint32_t no = sent_no[from][ci];
    for (size_t i = PL_HDR; i < len; i++)
        pl[i] = (uint8_t)(no * 31u + i);
    pl[0] = (uint8_t)from;
    pl[1] = (uint8_t)ci;
    mp_put32(pl + 2, no);
    mp_put16(pl + 6, (uint16_t)len);
    mp_put32(pl + 8, mp_crc32c(0, pl + PL_HDR, len - PL_HDR));
    uint32_t cseq;
    int rc = mc_send(nodes[from].n, (uint32_t)(2 - from), chans[ci], MP_T_DATA, pl, len, now,
                     &cseq);
    FZ_CHECK(rc <= 0 && rc > -MC_ERR_COUNT);
    if (rc == 0)
        sent_no[from][ci]++;
}

/* Deliver until the wire is empty: what a node sends in answer, at the same instant,
 * arrives too.  (One pass left the answers queued until the next timer, so a perfect
 * network behaved like one with a latency of an RTO, and a long drain of big messages
 * over a window of 1 could not finish in DRAIN_NS: a false "lost".) */
static void deliver_all(void)
{
    /* Frames that keep answering each other at one instant, for ever, are a storm. */
    for (int round = 0;; round++) {
        FZ_CHECKF(round < 20000, "frame storm: still %s at one instant after %d rounds",
                  "exchanging frames", round);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = fz_in_make(data, size);
    uint8_t setup = fz_u8(&in);
    uint32_t seed = fz_u32(&in);
    static const uint16_t mtus[4] = {256, 576, 1500, 9000};
    static const uint16_t windows[4] = {256, 4, 16, 1};
    static const uint16_t tols[4] = {500, 10, 100, 3000};
    mtu = mtus[setup & 3];
    const char *vs = getenv("FZ_VERBOSE");
    verbose = vs ? atoi(vs) : 0;

    memset(net, 0, sizeof net);
    memset(cut, 0, sizeof cut);
    memset(sent_no, 0, sizeof sent_no);
    memset(next_expect, 0, sizeof next_expect);
    honest = true;
    peer_lost = false;
    draining = settled = false;
    downs_late = 0;
    now = 1000000000ull;

    for (int i = 0; i < NNODES; i++) {
        node_ctx *c = &nodes[i];
        memset(c, 0, sizeof *c);
        c->idx = c->s.idx = i;
        c->s.fail_in = -1;
        c->s.rng = (seed ^ (0x9E3779B9u * (uint32_t)(i + 1))) | 1u;
        mc_config cfg;
        mc_config_default(&cfg);
        cfg.node_id = (uint32_t)(i + 1);
        cfg.domain = 7;
        cfg.window = windows[(setup >> 2) & 3];
        cfg.tolerance_ms = tols[(setup >> 4) & 3];
        cfg.max_message = 64 * 1024;
        cfg.max_queue_bytes = (setup & 0x40) ? 16 * 1024 : 1024 * 1024;
        cfg.mem_limit = 64u << 20;
        cfg.naming = (setup & 0x80) != 0;
        cfg.paths = false; /* path channels would belong to mpa_; DATA goes on them raw here */
        cfg.alloc = (mc_alloc){fz_svc_alloc, fz_svc_free, &c->s};
        cfg.rng = (mc_rng){fz_svc_rng, &c->s};
        cfg.tx = fz_tx;
        cfg.event = fz_event;
        cfg.user = c;
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
    }

    unsigned ops = 0;
    while (fz_left(&in) && ops++ < 512) {
        uint8_t op = fz_u8(&in);
        int who = op >> 7 & 1;            /* which node / which direction */
        int b = op >> 6 & 1;              /* which bearer */
        queue *q = &net[who][b];
        switch (op & 0x0F) {
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
        case 6: /* duplicate: deliver a copy, keep the original */
            if (q->n)
                deliver(who, b, q->f[q->head].p, q->f[q->head].len);
            break;
        case 7: /* reorder: swap the first two */
            if (q->n >= 2) {
                unsigned i0 = q->head, i1 = (q->head + 1) % QMAX;
                qframe t = q->f[i0];
                q->f[i0] = q->f[i1];
                q->f[i1] = t;
            }
            break;
        case 8: /* corrupt one bit and deliver */
            if (q->n) {
                qframe f = take(q);
                uint16_t bit = fz_u16(&in);
                f.p[(bit >> 3) % f.len] ^= (uint8_t)(1u << (bit & 7));
                honest = false;
                deliver(who, b, f.p, f.len);
                free(f.p);
            }
            break;
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
        case 10: /* an application sends */
        case 11:
            send_msg(who, (op >> 4) % NCHAN, fz_u16(&in) % 6000);
            break;
        case 12: /* flush */
            FZ_CHECK(mc_flush(nodes[who].n, now) <= 0);
            break;
        case 13: /* cut or heal a bearer */
            cut[b] = !cut[b];
            break;
        case 14: /* the next allocations fail */
            nodes[who].s.fail_in = fz_u8(&in) % 8;
            break;
        case 15: { /* publish a name */
            if (!(setup & 0x80))
                break;
            mp_name_rec r;
            memset(&r, 0, sizeof r);
            char nm[16];
            int nl = snprintf(nm, sizeof nm, "svc/n%u", (unsigned)(fz_u8(&in) % 8));
            r.device_id = fz_u8(&in);
            r.name = (mp_bytes){(const uint8_t *)nm, (size_t)nl};
            r.rank = fz_u8(&in);
            r.generation = 1;
            int rc = mc_publish(nodes[who].n, &r, now);
            FZ_CHECK(rc <= 0 && rc > -MC_ERR_COUNT);
            break;
        }
        }
    }

    /* Heal and drain: a perfect network (no loss, no delay) for DRAIN_NS of simulated
     * time, moving to each next deadline.  Whatever happened before, the nodes must
     * converge: after DRAIN_SETTLE_NS no link may go down any more. */
    cut[0] = cut[1] = false;
    nodes[0].s.fail_in = nodes[1].s.fail_in = -1;
    const uint64_t start = now;
    draining = true;
    for (int step = 0; step < 20000 && now < start + DRAIN_NS; step++) {
        deliver_all();
        uint64_t d0 = mc_next_deadline(nodes[0].n), d1 = mc_next_deadline(nodes[1].n);
        uint64_t d = d0 < d1 ? d0 : d1;
        if (d == UINT64_MAX)
            break;
        if (d > now)
            now = d;
        run_timers();
        if (now >= start + DRAIN_SETTLE_NS)
            settled = true;
    }
    deliver_all();
    draining = settled = false;
    FZ_CHECKF(downs_late == 0, "%u link resets on a perfect network more than %llu s after it "
              "healed (links flap)", downs_late,
              (unsigned long long)(DRAIN_SETTLE_NS / 1000000000u));
    if (verbose) {
        for (int i = 0; i < NNODES; i++) {
            mc_stats st;
            mc_get_stats(nodes[i].n, &st);
            fprintf(stderr, "node %d: links_up %llu peers_up %u delivered %llu sent %llu; "
                    "chan sends %u/%u/%u delivered-to-peer %u/%u/%u; honest %d peer_lost %d\n",
                    i, (unsigned long long)st.links_up, st.n_peers_up,
                    (unsigned long long)st.delivered, (unsigned long long)st.sent_msgs,
                    sent_no[i][0], sent_no[i][1], sent_no[i][2], next_expect[i][0],
                    next_expect[i][1], next_expect[i][2], honest, peer_lost);
            for (int r = 0; r < MC_DROP_COUNT; r++)
                if (st.drops[r])
                    fprintf(stderr, "  drop %s: %llu\n", mc_drop_name(r),
                            (unsigned long long)st.drops[r]);
        }
    }
    if (honest && !peer_lost) {
        for (int i = 0; i < NNODES; i++)
            for (unsigned ci = 0; ci < NCHAN; ci++)
                FZ_CHECKF(next_expect[i][ci] == sent_no[i][ci],
                          "node %d chan %u: sent %u, delivered %u after draining", i, ci,
                          sent_no[i][ci], next_expect[i][ci]);
    }

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
