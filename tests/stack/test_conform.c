/*
 * test_conform.c — one core node against a scripted peer that writes raw frames, the way
 * the interop suite (interop/suite/cases.py) drives the stack, but in literal time.
 * Regression tests for the conformance findings:
 *   malformed   a sequenced frame with an invalid body still consumes its channel
 *               position (RFC 3.7 step 3, MSG-HDR-14): the next message is delivered;
 *   held        the same when the invalid frame's cseq is ahead of rx_next (tombstone
 *               held, released in turn);
 *   fragbody    a reassembled body that fails validation is discarded, counted and its
 *               cseq consumed (MSG-FRAG-12);
 *   silence     peer acknowledges everything then falls silent: probes, then LINK_DOWN
 *               (timeout) within [tolerance, tolerance + probe interval];
 *   stall       peer answers probes but never acknowledges data: LINK_DOWN (stalled)
 *               one tolerance after the oldest frame's first transmission;
 *   unacked_sync  what the suite's silence case really provoked: the NAME_SYNC sent at
 *               link-up is never acknowledged, so the link stalls before it times out;
 *   ack_session every LINK_ACTIVATE names the session it answers (MSG-LINK-37), and one
 *               that answers another session never sets the link up (MSG-LINK-38);
 *   activate_new_session  ESTABLISHED + LINK_ACTIVATE of a later session: down, and a
 *               LINK_RESET in answer, never an ACTIVATE (row 21: the ends used to reset
 *               each other in step for ever);
 *   peer_epoch  setup frames carry the node's loss epoch (MSG-LINK-39), which advances
 *               when the node declares the peer lost; a later epoch from the peer purges
 *               it even though a link was up, an equal one does not (MSG-LINK-40).
 *   path_nomem  a path message the core cannot queue (allocation refused) after the path
 *               layer numbered it: mc_path_send fails, the path is BROKEN, and the hole
 *               in the peer's channel is filled with a PATH_ABORT (found by
 *               fuzz_node_paths: the peer used to hold every later frame for ever).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc.h"

#define MS 1000000ull

static int failures;
#define CHECK(c)                                                                             \
    do {                                                                                     \
        if (!(c)) {                                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);           \
            failures++;                                                                      \
        }                                                                                    \
    } while (0)

#define IUT 0x0A000001u
#define PEER 0x0A0000F1u

typedef struct ctx {
    mc_node *n;
    size_t mem;
    uint64_t rng;
    /* what the node sent */
    uint8_t last_act[256];
    size_t last_act_len;
    unsigned resets_tx, acts_tx;
    uint16_t last_reset_session;
    uint32_t last_epoch_tx; /* PEER_EPOCH of the node's last LINK_RESET/ACTIVATE */
    int peer_down, peer_down_reason;
    uint32_t epoch;         /* the scripted peer's PEER_EPOCH; 0: none sent */
    unsigned probes, seq_tx;
    uint16_t max_seq;   /* highest link seq the node sent */
    bool any_seq;
    /* events */
    uint32_t msg_cseq[64];
    uint8_t msg_type[64];
    unsigned nmsg;
    int link_down, down_reason;
    uint64_t down_at;
    /* the scripted peer */
    uint16_t session, iut_session, snd_nxt, rcv_nxt;
    uint32_t incarnation;
    uint16_t peer_probe_ms;  /* PROBE_INTERVAL in the peer's setup frames; 0: none */
    uint32_t peer_max_msg;   /* MAX_MESSAGE in the peer's setup frames; 0: none */
    uint32_t peer_caps;      /* CAPS in the peer's setup frames; 0: none */
    /* options of the node's last LINK_RESET/ACTIVATE; 0: absent */
    uint16_t iut_probe_ms;
    uint32_t iut_max_msg;
    uint32_t iut_caps;      /* CAPS of the node's last setup frame; 0: absent */
    /* paths (path_nomem) */
    unsigned fail_allocs;   /* refuse this many allocations from now */
    uint32_t path, path_reason;
    uint8_t path_state;
    unsigned aborts_tx;     /* PATH_ABORT frames the node sent (bundled or not) */
    uint32_t abort_chan, abort_cseq;
    uint16_t abort_error;   /* of the first one */
} ctx;

static void *a_alloc(void *u, size_t s)
{
    ctx *c = u;
    if (c->fail_allocs) {
        c->fail_allocs--;
        return NULL;
    }
    c->mem += s;
    return malloc(s);
}
static void a_free(void *u, void *p, size_t s) { ((ctx *)u)->mem -= s; free(p); }
static uint32_t a_rand(void *u)
{
    ctx *c = u;
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return (uint32_t)c->rng;
}

static void a_tx(void *u, int bearer, const mc_addr *dst, const uint8_t *f, size_t len)
{
    (void)bearer;
    (void)dst;
    ctx *c = u;
    mp_frame fr;
    if (mp_decode(f, len, &fr) < 0)
        return;
    if (fr.hdr.type == MP_T_LINK_RESET || fr.hdr.type == MP_T_LINK_ACTIVATE) {
        const mp_opt *o = mp_opt_find(&fr.u.link.opts, MP_OPT_PEER_EPOCH);
        c->last_epoch_tx = o && o->len == 4 ? mp_get32(o->val) : 0xDEADBEEF;
        o = mp_opt_find(&fr.u.link.opts, MP_OPT_PROBE_INTERVAL);
        c->iut_probe_ms = o && o->len == 2 ? mp_get16(o->val) : 0;
        o = mp_opt_find(&fr.u.link.opts, MP_OPT_MAX_MESSAGE);
        c->iut_max_msg = o && o->len == 4 ? mp_get32(o->val) : 0;
        o = mp_opt_find(&fr.u.link.opts, MP_OPT_CAPS);
        c->iut_caps = o && o->len == 4 ? mp_get32(o->val) : 0;
    }
    if (fr.hdr.type == MP_T_LINK_RESET) {
        c->resets_tx++;
        c->last_reset_session = fr.u.link.session;
    } else if (fr.hdr.type == MP_T_LINK_ACTIVATE && len <= sizeof c->last_act) {
        memcpy(c->last_act, f, len);
        c->last_act_len = len;
        c->acts_tx++;
    } else if (fr.hdr.type == MP_T_LINK_STATE && (fr.u.state.sflags & MP_SFLAG_PROBE)) {
        c->probes++;
    } else if (MP_TYPE_IS_SEQUENCED(fr.hdr.type)) {
        mp_frame m = fr;
        size_t pos = 0;
        bool more = fr.hdr.type != MP_T_BUNDLE || mp_bundle_next(&fr.u.bundle, &pos, &m) > 0;
        while (more) {
            if (m.hdr.type == MP_T_PATH_ABORT && !c->aborts_tx++) {
                c->abort_chan = m.hdr.chan;
                c->abort_cseq = m.hdr.cseq;
                c->abort_error = m.u.abort_.error;
            }
            more = fr.hdr.type == MP_T_BUNDLE && mp_bundle_next(&fr.u.bundle, &pos, &m) > 0;
        }
        c->seq_tx++;
        if (!c->any_seq || mp_seq16_lt(c->max_seq, fr.hdr.seq))
            c->max_seq = fr.hdr.seq;
        c->any_seq = true;
    }
}

static void a_event(void *u, const mc_event *ev)
{
    ctx *c = u;
    if (ev->type == MC_EV_MESSAGE && c->nmsg < 64) {
        c->msg_cseq[c->nmsg] = ev->cseq;
        c->msg_type[c->nmsg++] = ev->msg_type;
    } else if (ev->type == MC_EV_PEER_DOWN) {
        c->peer_down++;
        c->peer_down_reason = ev->reason;
    } else if (ev->type == MC_EV_PATH_STATE) {
        c->path = ev->path;
        c->path_state = ev->path_state;
        c->path_reason = (uint32_t)ev->reason;
    } else if (ev->type == MC_EV_LINK_DOWN) {
        c->link_down++;
        c->down_reason = ev->reason;
        c->down_at = ev->now;
    }
}

static const mc_addr peer_addr = {.len = 1, .b = {0x42}};

static void inject(ctx *c, const mp_frame *f, uint64_t now)
{
    uint8_t buf[2048];
    int len = mp_encode(f, buf, sizeof buf);
    CHECK(len > 0);
    if (len > 0)
        mc_input(c->n, 0, &peer_addr, buf, (size_t)len, now);
}

static void inject_raw(ctx *c, const uint8_t *b, size_t len, uint64_t now)
{
    mc_input(c->n, 0, &peer_addr, b, len, now);
}

static void tick(ctx *c, uint64_t now)
{
    for (int i = 0; i < 64 && mc_next_deadline(c->n) <= now; i++)
        mc_timeout(c->n, now);
}

/* ACK_SESSION_NONE: send LINK_ACTIVATE without the option. */
#define ACK_SESSION_NONE (-1)
static void peer_link_ack(ctx *c, uint8_t type, int ack_session, uint64_t now);

static void peer_link(ctx *c, uint8_t type, uint64_t now)
{
    peer_link_ack(c, type, c->iut_session, now);
}

static void peer_link_ack(ctx *c, uint8_t type, int ack_session, uint64_t now)
{
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = type;
    f.u.link.node_id = PEER;
    f.u.link.peer_id = IUT;
    f.u.link.incarnation = c->incarnation;
    f.u.link.session = c->session;
    f.u.link.next_seq = c->snd_nxt;
    f.u.link.tolerance_ms = 500;
    f.u.link.window = 64;
    f.u.link.priority = 10;
    uint8_t ack[2], ep[4], pr[2], mm[4], cp[4];
    if (c->peer_caps) {
        mp_put32(cp, c->peer_caps);
        f.u.link.opts.v[f.u.link.opts.n++] = (mp_opt){.type = MP_OPT_CAPS, .len = 4, .val = cp};
    }
    if (c->peer_probe_ms) {
        mp_put16(pr, c->peer_probe_ms);
        f.u.link.opts.v[f.u.link.opts.n++] =
            (mp_opt){.type = MP_OPT_PROBE_INTERVAL, .len = 2, .val = pr};
    }
    if (c->peer_max_msg) {
        mp_put32(mm, c->peer_max_msg);
        f.u.link.opts.v[f.u.link.opts.n++] =
            (mp_opt){.type = MP_OPT_MAX_MESSAGE, .len = 4, .val = mm};
    }
    if (c->epoch) {
        mp_put32(ep, c->epoch);
        f.u.link.opts.v[f.u.link.opts.n++] =
            (mp_opt){.type = MP_OPT_PEER_EPOCH, .len = 4, .val = ep};
    }
    if (type == MP_T_LINK_ACTIVATE && ack_session != ACK_SESSION_NONE) {
        mp_put16(ack, (uint16_t)ack_session); /* the node's session it answers (MSG-LINK-37) */
        f.u.link.opts.v[f.u.link.opts.n++] =
            (mp_opt){.type = MP_OPT_ACK_SESSION, .len = 2, .val = ack};
    }
    inject(c, &f, now);
}

/* LINK_STATE acknowledging everything the node has sent (or `ack` if all is false). */
static void peer_state(ctx *c, uint8_t sflags, bool all, uint64_t now)
{
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = MP_T_LINK_STATE;
    f.u.state.session = c->session;
    f.u.state.ack = all && c->any_seq ? c->max_seq : (uint16_t)(c->rcv_nxt - 1);
    f.u.state.next_seq = c->snd_nxt;
    f.u.state.sflags = sflags;
    f.u.state.timestamp = (uint32_t)(now / 1000);
    inject(c, &f, now);
}

/* The node's own MAX_MESSAGE and its bearer's PROBE_INTERVAL (0: defaults), and what
 * the scripted peer announces in its setup frames (0: nothing). */
typedef struct opts {
    uint32_t max_message;
    uint16_t probe_ms, peer_probe_ms;
    uint32_t peer_max_msg;
    bool no_paths; /* DATA on any channel above 0xFF, numbered by the core */
    bool minet;         /* the node announces CAP_MINET (mc_set_caps) */
    uint32_t peer_caps; /* CAPS in the peer's setup frames; 0: none */
} opts;

static void setup_opts(ctx *c, uint64_t seed, const opts *o);
static void setup(ctx *c, uint64_t seed) { setup_opts(c, seed, &(opts){0}); }

static void setup_opts(ctx *c, uint64_t seed, const opts *o)
{
    memset(c, 0, sizeof *c);
    c->rng = seed;
    c->peer_probe_ms = o->peer_probe_ms;
    c->peer_max_msg = o->peer_max_msg;
    c->peer_caps = o->peer_caps;
    c->session = 0x1111;
    c->snd_nxt = 0xFFF0; /* the peer's numbering wraps during the tests */
    c->incarnation = 0x77;
    mc_config cfg;
    mc_config_default(&cfg);
    cfg.node_id = IUT;
    cfg.alloc = (mc_alloc){a_alloc, a_free, c};
    cfg.rng = (mc_rng){a_rand, c};
    cfg.tx = a_tx;
    cfg.event = a_event;
    cfg.user = c;
    if (o->max_message)
        cfg.max_message = o->max_message;
    if (o->no_paths)
        cfg.paths = false;
    CHECK(mc_node_create(&cfg, &c->n) == MC_OK);
    if (o->minet)
        CHECK(mc_set_caps(c->n, MP_CAP_MINET) == MC_OK);
    mc_bearer_cfg b = {0};
    b.mtu = 1472;
    b.probe_ms = o->probe_ms;
    b.discovery_off = true;
    CHECK(mc_bearer_attach(c->n, &b, 0) == 0);
    /* LINK_RESET -> the node's LINK_ACTIVATE -> LINK_ACTIVATE: established. */
    peer_link(c, MP_T_LINK_RESET, 1 * MS);
    CHECK(c->last_act_len > 0);
    mp_frame a;
    CHECK(mp_decode(c->last_act, c->last_act_len, &a) > 0);
    c->iut_session = a.u.link.session;
    c->rcv_nxt = a.u.link.next_seq;
    peer_link(c, MP_T_LINK_ACTIVATE, 2 * MS);
    CHECK(mc_peer_is_up(c->n, PEER));
}

static void teardown(ctx *c)
{
    mc_node_destroy(c->n);
    CHECK(c->mem == 0);
}

/* An MGMT frame (chan 0) from the peer; gflags 0x80 is an undefined bit: invalid body. */
static size_t mgmt_frame(ctx *c, uint8_t *buf, size_t cap, uint32_t cseq, uint8_t flags,
                         bool bad)
{
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = MP_T_MGMT;
    f.hdr.flags = flags;
    f.hdr.seq = c->snd_nxt++;
    f.hdr.ack = (uint16_t)(c->rcv_nxt - 1);
    f.hdr.chan = 0;
    f.hdr.cseq = cseq;
    f.u.mgmt.corr_id = 100 + cseq;
    f.u.mgmt.epoch = 1;
    f.u.mgmt.src_entity = 1;
    f.u.mgmt.uop_count = 1;
    f.u.mgmt.uops[0].opcode = 1;
    int len = mp_encode(&f, buf, cap);
    CHECK(len > 0);
    if (bad) {
        /* Find gflags by encoding once more with another value. */
        uint8_t other[512];
        f.u.mgmt.gflags = MP_GFLAG_REPLY;
        int l2 = mp_encode(&f, other, sizeof other);
        CHECK(l2 == len);
        for (int i = 0; i < len; i++)
            if (other[i] != buf[i])
                buf[i] = 0x80;
        mp_frame chk;
        CHECK(mp_decode(buf, (size_t)len, &chk) == MP_ERESERVED);
    }
    return len > 0 ? (size_t)len : 0;
}

static unsigned mgmt_msgs(const ctx *c, uint32_t *cseqs)
{
    unsigned k = 0;
    for (unsigned i = 0; i < c->nmsg; i++)
        if (c->msg_type[i] == MP_T_MGMT)
            cseqs[k++] = c->msg_cseq[i];
    return k;
}

/* interop case malformed_frames: bad body at cseq 0, good one at cseq 1. */
static void test_malformed(void)
{
    ctx c;
    setup(&c, 11);
    uint8_t b[512];
    size_t n = mgmt_frame(&c, b, sizeof b, 0, 0, true);
    inject_raw(&c, b, n, 3 * MS);
    n = mgmt_frame(&c, b, sizeof b, 1, MP_FLAG_ACKREQ, false);
    inject_raw(&c, b, n, 3 * MS);
    uint32_t cs[64];
    unsigned k = mgmt_msgs(&c, cs);
    CHECK(k == 1 && cs[0] == 1);
    /* Both link sequence numbers were consumed: the link is fine, nothing went down. */
    mc_link_info li;
    CHECK(mc_link_get(c.n, PEER, 0, &li) == MC_OK && li.state == MC_LS_ESTABLISHED);
    CHECK(li.stats.rx_data == 2);
    mc_stats st;
    mc_get_stats(c.n, &st);
    CHECK(st.drops[MC_DROP_DECODE] == 1 && st.n_held == 0);
    /* A copy of the invalid frame's cseq later is a duplicate, not a delivery. */
    n = mgmt_frame(&c, b, sizeof b, 0, 0, false);
    inject_raw(&c, b, n, 4 * MS);
    n = mgmt_frame(&c, b, sizeof b, 2, 0, false);
    inject_raw(&c, b, n, 4 * MS);
    k = mgmt_msgs(&c, cs);
    CHECK(k == 2 && cs[1] == 2);
    teardown(&c);
}

/* The invalid frame's cseq is ahead of rx_next: its tombstone waits in the hold. */
static void test_held_tombstone(void)
{
    ctx c;
    setup(&c, 12);
    uint8_t b[512];
    size_t n = mgmt_frame(&c, b, sizeof b, 1, 0, true); /* cseq 1, invalid */
    inject_raw(&c, b, n, 3 * MS);
    mc_stats st;
    mc_get_stats(&*c.n, &st);
    CHECK(st.n_held == 1);
    n = mgmt_frame(&c, b, sizeof b, 2, 0, false);
    inject_raw(&c, b, n, 3 * MS);
    n = mgmt_frame(&c, b, sizeof b, 0, 0, false);
    inject_raw(&c, b, n, 3 * MS);
    uint32_t cs[64];
    unsigned k = mgmt_msgs(&c, cs);
    CHECK(k == 2 && cs[0] == 0 && cs[1] == 2);
    mc_get_stats(c.n, &st);
    CHECK(st.n_held == 0);
    teardown(&c);
}

/* A fragmented MGMT whose reassembled body is invalid: discarded, cseq consumed. */
static void test_fragment_body(void)
{
    ctx c;
    setup(&c, 13);
    /* A valid MGMT body with a payload, gflags then spoiled. */
    mp_frame m;
    memset(&m, 0, sizeof m);
    m.hdr.type = MP_T_MGMT;
    m.u.mgmt.corr_id = 9;
    m.u.mgmt.epoch = 1;
    m.u.mgmt.src_entity = 1;
    static uint8_t pl[3000];
    memset(pl, 0x5A, sizeof pl);
    m.u.mgmt.payload = (mp_bytes){pl, sizeof pl};
    static uint8_t whole[4096], other[4096];
    int wl = mp_encode(&m, whole, sizeof whole);
    m.u.mgmt.gflags = MP_GFLAG_REPLY;
    CHECK(mp_encode(&m, other, sizeof other) == wl && wl > (int)MP_SEQ_HDR_LEN);
    for (int i = 0; i < wl; i++)
        if (whole[i] != other[i])
            whole[i] = 0x80;
    const uint8_t *body = whole + MP_SEQ_HDR_LEN; /* after the sequenced header */
    uint32_t blen = (uint32_t)wl - MP_SEQ_HDR_LEN;
    for (uint32_t off = 0; off < blen; off += 1200) {
        uint32_t k = blen - off < 1200 ? blen - off : 1200;
        mp_frame f;
        memset(&f, 0, sizeof f);
        f.hdr.type = MP_T_FRAGMENT;
        f.hdr.seq = c.snd_nxt++;
        f.hdr.ack = (uint16_t)(c.rcv_nxt - 1);
        f.hdr.chan = 0;
        f.hdr.cseq = 0;
        f.u.fragment.inner_type = MP_T_MGMT;
        f.u.fragment.total_len = blen;
        f.u.fragment.offset = off;
        f.u.fragment.data = (mp_bytes){body + off, k};
        inject(&c, &f, 3 * MS);
    }
    uint8_t b[512];
    size_t n = mgmt_frame(&c, b, sizeof b, 1, 0, false);
    inject_raw(&c, b, n, 3 * MS);
    uint32_t cs[64];
    unsigned k = mgmt_msgs(&c, cs);
    CHECK(k == 1 && cs[0] == 1); /* the invalid reassembled message is not delivered */
    mc_stats st;
    mc_get_stats(c.n, &st);
    CHECK(st.drops[MC_DROP_DECODE] == 1 && st.n_reasm == 0);
    teardown(&c);
}

/* interop case silence_link_down, with a peer that acknowledged what it got. */
static void test_silence(void)
{
    ctx c;
    setup(&c, 14);
    uint64_t now = 2 * MS;
    for (; now <= 50 * MS; now += 1 * MS)
        tick(&c, now);
    CHECK(c.seq_tx >= 1); /* the NAME_SYNC of link-up (MSG-NAME-13) */
    uint64_t t0 = 50 * MS;
    peer_state(&c, 0, true, t0); /* acknowledges it; then silence */
    unsigned p0 = c.probes;
    for (now = t0; now <= t0 + 1200 * MS && !c.link_down; now += 1 * MS)
        tick(&c, now);
    CHECK(c.link_down == 1 && c.down_reason == MC_DOWN_TIMEOUT);
    CHECK(c.down_at - t0 >= 500 * MS && c.down_at - t0 <= 625 * MS);
    CHECK(c.probes - p0 >= 3);
    teardown(&c);
}

/* interop case withheld_acks: probes answered, data never acknowledged. */
static void test_stall(void)
{
    ctx c;
    setup(&c, 15);
    uint64_t now = 2 * MS;
    for (; now <= 50 * MS; now += 1 * MS)
        tick(&c, now);
    peer_state(&c, 0, true, now); /* NAME_SYNC acknowledged */
    uint16_t acked = c.max_seq;
    static const uint8_t body[] = {0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0,
                                   1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0};
    uint64_t t_send = now;
    CHECK(mc_send(c.n, PEER, 0, MP_T_MGMT, body, sizeof body, t_send, NULL) == MC_OK);
    mc_flush(c.n, t_send);
    unsigned tx0 = c.seq_tx;
    for (now = t_send; now <= t_send + 1000 * MS && !c.link_down; now += 1 * MS) {
        tick(&c, now);
        if (now % (20 * MS) == 0) {
            /* alive, answering probes, but the ack stays where it was */
            mp_frame f;
            memset(&f, 0, sizeof f);
            f.hdr.type = MP_T_LINK_STATE;
            f.u.state.session = c.session;
            f.u.state.ack = acked;
            f.u.state.next_seq = c.snd_nxt;
            f.u.state.sflags = MP_SFLAG_REPLY;
            inject(&c, &f, now);
        }
    }
    CHECK(c.seq_tx - tx0 >= 2); /* first transmission and retransmissions */
    CHECK(c.link_down == 1 && c.down_reason == MC_DOWN_STALLED);
    CHECK(c.down_at - t_send >= 500 * MS && c.down_at - t_send <= 510 * MS);
    teardown(&c);
}

/* What the suite's silence case actually provoked: its peer never acknowledges the
 * NAME_SYNC the node MUST send at link-up, so the node MUST declare the link stalled
 * one tolerance after link-up (MSG-LINK-13), before the silence timeout. */
static void test_unacked_sync(void)
{
    ctx c;
    setup(&c, 16);
    uint64_t t0 = 240 * MS; /* the suite goes silent ~240 ms after link-up */
    uint64_t now;
    for (now = 2 * MS; now < t0; now += 1 * MS)
        tick(&c, now);
    peer_state(&c, 0, false, t0); /* does not acknowledge the NAME_SYNC */
    for (now = t0; now <= t0 + 1200 * MS && !c.link_down; now += 1 * MS)
        tick(&c, now);
    CHECK(c.link_down == 1 && c.down_reason == MC_DOWN_STALLED);
    CHECK(c.down_at >= 500 * MS && c.down_at <= 510 * MS); /* link-up at 2 ms + 500 */
    teardown(&c);
}

static int link_state(ctx *c)
{
    mc_link_info li;
    return mc_link_get(c->n, PEER, 0, &li) == MC_OK ? li.state : -1;
}

static void test_ack_session(void)
{
    ctx c;
    setup(&c, 21);
    /* The node's LINK_ACTIVATE (captured in setup) names the peer session it answers. */
    mp_frame a;
    CHECK(mp_decode(c.last_act, c.last_act_len, &a) > 0);
    const mp_opt *o = mp_opt_find(&a.u.link.opts, MP_OPT_ACK_SESSION);
    CHECK(o && o->len == 2 && mp_get16(o->val) == c.session);
    teardown(&c);

    /* ESTABLISHING: LINK_ACTIVATEs without ACK_SESSION, or answering another session of
     * the node, are dropped; the right one sets the link up. */
    memset(&c, 0, sizeof c);
    ctx *p = &c;
    p->rng = 22;
    p->session = 0x2222;
    p->snd_nxt = 100;
    p->incarnation = 0x78;
    mc_config cfg;
    mc_config_default(&cfg);
    cfg.node_id = IUT;
    cfg.alloc = (mc_alloc){a_alloc, a_free, p};
    cfg.rng = (mc_rng){a_rand, p};
    cfg.tx = a_tx;
    cfg.event = a_event;
    cfg.user = p;
    CHECK(mc_node_create(&cfg, &p->n) == MC_OK);
    mc_bearer_cfg b = {0};
    b.mtu = 1472;
    b.discovery_off = true;
    CHECK(mc_bearer_attach(p->n, &b, 0) == 0);
    peer_link(p, MP_T_LINK_RESET, 1 * MS);
    CHECK(link_state(p) == MC_LS_ESTABLISHING);
    CHECK(mp_decode(p->last_act, p->last_act_len, &a) > 0);
    p->iut_session = a.u.link.session;
    mc_stats st0, st1;
    mc_get_stats(p->n, &st0);
    peer_link_ack(p, MP_T_LINK_ACTIVATE, ACK_SESSION_NONE, 2 * MS);
    peer_link_ack(p, MP_T_LINK_ACTIVATE, (uint16_t)(p->iut_session - 1), 3 * MS);
    CHECK(link_state(p) == MC_LS_ESTABLISHING && !mc_peer_is_up(p->n, PEER));
    mc_get_stats(p->n, &st1);
    CHECK(st1.drops[MC_DROP_STALE_SESSION] == st0.drops[MC_DROP_STALE_SESSION] + 2);
    peer_link(p, MP_T_LINK_ACTIVATE, 4 * MS);
    CHECK(link_state(p) == MC_LS_ESTABLISHED && mc_peer_is_up(p->n, PEER));
    teardown(p);
}

static void test_activate_new_session(void)
{
    ctx c;
    setup(&c, 23);
    uint16_t old_iut = c.iut_session;
    unsigned acts = c.acts_tx, resets = c.resets_tx;
    /* The peer reset and set up again with the node's (current) session. */
    c.session = (uint16_t)(c.session + 7);
    peer_link(&c, MP_T_LINK_ACTIVATE, 10 * MS);
    CHECK(c.link_down == 1 && c.down_reason == MC_DOWN_PEER_RESET);
    CHECK(link_state(&c) == MC_LS_RESET);
    CHECK(c.acts_tx == acts);          /* no LINK_ACTIVATE in answer... */
    CHECK(c.resets_tx == resets + 1);  /* ...but a LINK_RESET of a later session */
    CHECK(mp_seq16_lt(old_iut, c.last_reset_session));
    /* RESET: a LINK_ACTIVATE answering the ended session is dropped and answered by
     * another LINK_RESET at once (row 42). */
    peer_link_ack(&c, MP_T_LINK_ACTIVATE, old_iut, 11 * MS);
    CHECK(link_state(&c) == MC_LS_RESET);
    CHECK(c.resets_tx == resets + 2);
    /* The right one sets the link up (row 6). */
    c.iut_session = c.last_reset_session;
    peer_link(&c, MP_T_LINK_ACTIVATE, 12 * MS);
    CHECK(link_state(&c) == MC_LS_ESTABLISHED && mc_peer_is_up(c.n, PEER));
    teardown(&c);
}

static void test_peer_epoch(void)
{
    ctx c;
    setup(&c, 31);
    uint32_t e0 = c.last_epoch_tx;
    CHECK(e0 != 0xDEADBEEF); /* the node's LINK_ACTIVATE carried PEER_EPOCH */
    teardown(&c);

    /* The node declares the peer lost (silence): its next LINK_RESET carries a later
     * epoch. */
    setup(&c, 32);
    e0 = c.last_epoch_tx;
    uint64_t t = 3 * MS;
    for (int i = 0; i < 40 && !c.peer_down; i++) {
        t += 50 * MS;
        tick(&c, t);
    }
    CHECK(c.peer_down == 1 && c.peer_down_reason == MC_DOWN_LAST_LINK);
    unsigned r0 = c.resets_tx;
    for (int i = 0; i < 40 && c.resets_tx == r0; i++) {
        t += 50 * MS;
        tick(&c, t);
    }
    CHECK(c.resets_tx > r0 && mp_seq32_lt(e0, c.last_epoch_tx));
    teardown(&c);

    /* The peer sends epoch 5, then a later-session LINK_RESET with the same epoch: a
     * plain peer reset, no purge.  Then one with epoch 6: the peer declared us lost, so
     * the node purges (PEER_DOWN, reason PEER_EPOCH) even with the link up. */
    memset(&c, 0, sizeof c);
    setup(&c, 33); /* setup sent no epoch: nothing learned yet */
    c.epoch = 5;
    c.session = (uint16_t)(c.session + 3);
    uint32_t e1 = c.last_epoch_tx;
    peer_link(&c, MP_T_LINK_RESET, 5 * MS); /* learns epoch 5; row 20 */
    CHECK(c.link_down == 1 && c.down_reason == MC_DOWN_PEER_RESET && c.peer_down == 1 &&
          c.peer_down_reason == MC_DOWN_LAST_LINK);
    /* A last link that the peer reset is still our loss to announce: the peer may hold
     * another link it thinks up (RFC 7.7).  The LINK_ACTIVATE answering the reset went
     * out after the purge, with a later epoch. */
    CHECK(mp_seq32_lt(e1, c.last_epoch_tx));
    /* Bring it up again: the node answered with LINK_ACTIVATE. */
    mp_frame a;
    CHECK(mp_decode(c.last_act, c.last_act_len, &a) > 0);
    c.iut_session = a.u.link.session;
    peer_link(&c, MP_T_LINK_ACTIVATE, 6 * MS);
    CHECK(mc_peer_is_up(c.n, PEER));
    int downs = c.peer_down;
    c.session = (uint16_t)(c.session + 3);
    peer_link(&c, MP_T_LINK_RESET, 7 * MS); /* same epoch: a reset, no purge by epoch */
    CHECK(c.peer_down == downs + 1 && c.peer_down_reason == MC_DOWN_LAST_LINK);
    CHECK(mp_decode(c.last_act, c.last_act_len, &a) > 0);
    c.iut_session = a.u.link.session;
    peer_link(&c, MP_T_LINK_ACTIVATE, 8 * MS);
    CHECK(mc_peer_is_up(c.n, PEER));
    c.epoch = 6;
    peer_link(&c, MP_T_LINK_RESET, 9 * MS); /* same session, later epoch */
    CHECK(c.peer_down == downs + 2 && c.peer_down_reason == MC_DOWN_PEER_EPOCH);
    CHECK(!mc_peer_is_up(c.n, PEER));
    teardown(&c);
}

/* MSG-FRAG-15: a reassembly that gets no fragment for the reassembly timeout while the
 * link stays up (the peer answers every probe) makes the node declare the peer lost:
 * memory freed, channels purged, and the loss announced with a later PEER_EPOCH. */
static void test_reasm_timeout(void)
{
    ctx c;
    setup(&c, 15);
    static uint8_t data[1200];
    memset(data, 0xA5, sizeof data);
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = MP_T_FRAGMENT;
    f.hdr.seq = c.snd_nxt++;
    f.hdr.ack = (uint16_t)(c.rcv_nxt - 1);
    f.hdr.chan = 0;
    f.hdr.cseq = 0;
    f.u.fragment.inner_type = MP_T_MGMT;
    f.u.fragment.total_len = 3000;
    f.u.fragment.offset = 0;
    f.u.fragment.data = (mp_bytes){data, sizeof data};
    const uint64_t t0 = 3 * MS;
    const uint32_t epoch0 = c.last_epoch_tx;
    inject(&c, &f, t0); /* the first fragment of three; the other two never come */
    mc_stats st;
    mc_get_stats(c.n, &st);
    CHECK(st.n_reasm == 1);
    uint64_t now = t0;
    for (; now <= t0 + 31000 * MS && !c.link_down; now += 50 * MS) {
        tick(&c, now);
        peer_state(&c, 0, true, now); /* a live peer: every probe and frame acknowledged */
        if (now < t0 + 29900 * MS)
            CHECK(!c.link_down && mc_peer_is_up(c.n, PEER));
    }
    CHECK(c.link_down == 1 && c.down_reason == MC_DOWN_REASM);
    CHECK(c.down_at >= t0 + 30000 * MS && c.down_at <= t0 + 30050 * MS);
    CHECK(c.peer_down == 1 && !mc_peer_is_up(c.n, PEER));
    mc_get_stats(c.n, &st);
    CHECK(st.n_reasm == 0 && st.reasm_timeouts == 1);
    /* Our decision: the node's next setup frames carry a later loss epoch (RFC 7.7). */
    for (uint64_t t = now; t <= now + 1000 * MS && c.last_epoch_tx == epoch0; t += 10 * MS)
        tick(&c, t);
    CHECK(c.last_epoch_tx != 0xDEADBEEF && c.last_epoch_tx > epoch0);
    teardown(&c);
}

/* MSG-FRAG-6: the node announces a MAX_MESSAGE above 1 MiB, sends a peer that announced
 * none nothing above 1 MiB, and a peer that announced 2 MiB nothing above that. */
static void test_max_message(void)
{
    static uint8_t big[3u << 20];
    const uint32_t CH = MP_CHAN_FIRST_PATH; /* a core channel: the path layer is off */
    for (int announce = 0; announce < 2; announce++) {
        ctx c;
        setup_opts(&c, 16, &(opts){.max_message = 4u << 20, .no_paths = true,
                                   .peer_max_msg = announce ? 2u << 20 : 0});
        CHECK(c.iut_max_msg == 4u << 20);
        uint64_t now = 3 * MS;
        CHECK(mc_send(c.n, PEER, CH, MP_T_DATA, big, (1u << 20) + 1, now, NULL) ==
              (announce ? MC_OK : MC_ETOOBIG));
        CHECK(mc_send(c.n, PEER, CH, MP_T_DATA, big, 2u << 20, now, NULL) ==
              (announce ? MC_OK : MC_ETOOBIG));
        CHECK(mc_send(c.n, PEER, CH, MP_T_DATA, big, (2u << 20) + 1, now, NULL) == MC_ETOOBIG);
        CHECK(mc_send(c.n, PEER, CH, MP_T_DATA, big, 1u << 20, now, NULL) == MC_OK);
        teardown(&c);
    }
    /* The default node (1 MiB) announces nothing: 1 MiB is implied. */
    ctx c;
    setup(&c, 17);
    CHECK(c.iut_max_msg == 0 && c.last_act_len > 0);
    teardown(&c);
}

/* CAPS (RFC 4.3): a node running MINET announces it in its setup frames, and sends MINET
 * only to a peer that announced it (MSG-MINET-5); a peer without CAPS has BUNDLE |
 * FRAGMENT | MGMT.  A node with nothing beyond those sends no CAPS. */
static void test_caps(void)
{
    static const uint8_t eth[60] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 2, 0, 0, 0, 0, 1, 8, 6};
    enum { BODY_HDR = MP_MINET_HDR_LEN - MP_SEQ_HDR_LEN }; /* mflags .. domain */
    uint8_t body[BODY_HDR + sizeof eth] = {0};
    memcpy(body + BODY_HDR, eth, sizeof eth);
    const uint32_t dflt = MP_CAP_BUNDLE | MP_CAP_FRAGMENT | MP_CAP_MGMT;
    for (int k = 0; k < 3; k++) {
        /* k 0: peer sends no CAPS; 1: CAPS without MINET; 2: CAPS with MINET */
        ctx c;
        uint32_t pc = k == 0 ? 0 : k == 1 ? MP_CAP_BUNDLE | MP_CAP_FRAGMENT : dflt | MP_CAP_MINET;
        setup_opts(&c, 19, &(opts){.minet = true, .peer_caps = pc});
        CHECK(c.iut_caps == (dflt | MP_CAP_MINET));
        CHECK(mc_peer_caps(c.n, PEER) == (k == 0 ? dflt : pc));
        int rc = mc_send(c.n, PEER, MP_CHAN_MINET, MP_T_MINET, body, sizeof body, 3 * MS, NULL);
        CHECK(rc == (k == 2 ? MC_OK : MC_ENOTSUP));
        teardown(&c);
    }
    ctx c;
    setup(&c, 20);
    CHECK(c.iut_caps == 0 && c.last_act_len > 0);
    CHECK(mc_set_caps(c.n, MP_CAP_SECURE) == MC_EINVAL); /* SECURE follows the crypto policy */
    teardown(&c);
}

/* PROBE_INTERVAL (RFC 4.2): the effective interval is the smallest of tolerance / 4 and
 * what either end asked for; a silent link is probed at that interval. */
static void test_probe_interval(void)
{
    const struct { uint16_t mine, theirs, want; } cases[] = {
        {0, 0, 125}, {0, 20, 20}, {30, 0, 30}, {30, 20, 20}, {10, 40, 10}, {200, 0, 125}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ctx c;
        setup_opts(&c, 18, &(opts){.probe_ms = cases[k].mine, .peer_probe_ms = cases[k].theirs});
        CHECK(c.iut_probe_ms == cases[k].mine);
        mc_link_info li;
        CHECK(mc_link_get(c.n, PEER, 0, &li) == MC_OK);
        CHECK(li.probe_ms == cases[k].want);
        /* The peer acknowledges everything, then goes quiet: probes at the interval. */
        uint64_t now = 2 * MS;
        for (; now <= 50 * MS; now += 1 * MS)
            tick(&c, now);
        peer_state(&c, 0, true, now);
        unsigned p0 = c.probes;
        uint64_t t0 = now;
        for (; now < t0 + 3 * (uint64_t)cases[k].want * MS + MS / 2 && !c.link_down; now += MS / 4)
            tick(&c, now);
        CHECK(c.probes - p0 == 3);
        teardown(&c);
    }
}

/* The peer opens a path to an auto-accepting device (PATH_ACCEPT is cseq 0 of the
 * peer's channel); the node's next allocation is refused while it sends a message on it,
 * after the path layer gave the message cseq 1. */
static void test_path_nomem(void)
{
    ctx c;
    setup(&c, 19);
    CHECK(mc_path_device_add(c.n, 1, MC_DEV_AUTO_ACCEPT) == MC_OK);
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = MP_T_PATH_OPEN;
    f.hdr.seq = c.snd_nxt++;
    f.hdr.ack = (uint16_t)(c.rcv_nxt - 1);
    f.u.open.src_path = 0x100;
    f.u.open.src_device = 9;
    f.u.open.dst_device = 1;
    f.u.open.credit = 64;
    f.u.open.pkind = MP_PK_UNICAST;
    inject(&c, &f, 3 * MS);
    CHECK(mc_flush(c.n, 3 * MS) == MC_OK);
    CHECK(c.path >= MP_CHAN_FIRST_PATH && c.path_state == 3 /* MPA_ST_OPEN */);
    c.fail_allocs = 1;
    CHECK(mc_path_send(c.n, c.path, "lost", 4, 4 * MS) == MC_ENOMEM);
    CHECK(c.fail_allocs == 0); /* the refusal was the message's own allocation */
    CHECK(mc_flush(c.n, 4 * MS) == MC_OK);
    CHECK(c.path_state == 5 /* MPA_ST_BROKEN */ && c.path_reason == MP_R_NO_RESOURCES);
    /* The first PATH_ABORT the node sends takes the position the message was given. */
    CHECK(c.aborts_tx >= 1 && c.abort_chan == 0x100 && c.abort_cseq == 1 &&
          c.abort_error == MP_R_NO_RESOURCES);
    teardown(&c);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
#define RUN(name, fn)                                                                        \
    if (!only || !strcmp(only, name))                                                         \
        fn();
    RUN("malformed", test_malformed);
    RUN("held", test_held_tombstone);
    RUN("fragbody", test_fragment_body);
    RUN("silence", test_silence);
    RUN("stall", test_stall);
    RUN("unacked_sync", test_unacked_sync);
    RUN("ack_session", test_ack_session);
    RUN("activate_new_session", test_activate_new_session);
    RUN("peer_epoch", test_peer_epoch);
    RUN("reasm_timeout", test_reasm_timeout);
    RUN("max_message", test_max_message);
    RUN("caps", test_caps);
    RUN("probe_interval", test_probe_interval);
    RUN("path_nomem", test_path_nomem);
    if (failures) {
        fprintf(stderr, "test_conform: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_conform: all passed\n");
    return 0;
}
