/*
 * link.c — one link endpoint: setup (RESET / ESTABLISHING / ESTABLISHED), negotiation,
 * supervision (probes, tolerance), and reliable in-order delivery (16-bit serial
 * sequence numbers, cumulative ack, NACK gap blocks, RFC 6298 RTO, window).
 *
 * Every frame is built as an mp_frame and written by mp_encode; every frame received
 * has been through mp_decode (or mp_hdr_decode for sequenced frames held out of order,
 * which are decoded fully when their turn comes).
 */
#include "mc_int.h"

static uint64_t tol_ns(const mc_link *l) { return (uint64_t)l->tolerance_ms * MC_NS_PER_MS; }

/* Probe interval = tolerance / 4 (at least four probes inside the tolerance), or less
 * when either end asked for a shorter one with PROBE_INTERVAL; never below 1 ms. */
uint64_t mc__link_probe_ns(const mc_link *l)
{
    uint64_t p = tol_ns(l) / 4;
    uint64_t mine = (uint64_t)l->bearer->cfg.probe_ms * MC_NS_PER_MS;
    uint64_t theirs = (uint64_t)l->peer_probe_ms * MC_NS_PER_MS;
    if (mine && mine < p)
        p = mine;
    if (theirs && theirs < p)
        p = theirs;
    return p < MC_NS_PER_MS ? MC_NS_PER_MS : p;
}

static uint64_t rto_max(const mc_link *l) { return tol_ns(l) / 2; }

/* ACTIVATE resend interval while ESTABLISHING, and how long to wait there before
 * starting over: short tolerances need several resends inside the wait, or setup
 * restarts before the peer had a chance to answer (and links flap). */
static uint64_t activate_ns(const mc_link *l)
{
    uint64_t p = mc__link_probe_ns(l);
    return p < MC_RESET_INTERVAL_NS ? p : MC_RESET_INTERVAL_NS;
}

static uint64_t establishing_ns(const mc_link *l)
{
    uint64_t t = tol_ns(l), m = 3 * activate_ns(l);
    return t > m ? t : m;
}

static uint32_t now_us32(uint64_t now) { return (uint32_t)(now / MC_NS_PER_US); }

size_t mc__unit_size(uint32_t len) { return sizeof(mc_unit) + len; }

mc_link *mc__link_new(mc_node *n, mc_bearer *b, const mc_addr *addr, mc_peer *p)
{
    mc_link *l = mc__alloc(n, sizeof *l);
    if (!l)
        return NULL;
    memset(l, 0, sizeof *l);
    l->peer = p;
    l->bearer = b;
    l->addr = *addr;
    l->heap_idx = UINT32_MAX;
    l->deadline = MC_NEVER;
    l->tolerance_ms = b->cfg.tolerance_ms;
    l->window = b->cfg.window;
    l->mtu = b->cfg.mtu;
    l->priority = b->cfg.priority;
    l->rto = MC_RTO_INIT_NS;
    l->rto_at = l->ack_at = MC_NEVER;
    l->session = (uint16_t)mc__rand(n); /* random start; each reset moves it forward */
    return l;
}

static void free_ooo(mc_node *n, mc_link *l)
{
    while (l->ooo) {
        mc_ooo *o = l->ooo;
        l->ooo = o->next;
        mc__free(n, o, o->asize);
    }
    l->n_ooo = 0;
}

/* Raw free: used at node destruction (no channel bookkeeping) and after link_down has
 * moved the queues away. */
void mc__link_free(mc_node *n, mc_link *l)
{
    mc__sec_link_free(n, l); /* erases the link's keys */
    while (l->inf_head) {
        mc_pkt *k = l->inf_head;
        l->inf_head = k->next;
        while (k->units) {
            mc_unit *u = k->units;
            k->units = u->next;
            mc__free(n, u, u->asize);
        }
        mc__free(n, k, sizeof *k);
    }
    while (l->bl_head) {
        mc_unit *u = l->bl_head;
        l->bl_head = u->next;
        mc__free(n, u, u->asize);
    }
    free_ooo(n, l);
    mc__free(n, l, sizeof *l);
}

/* ---- Frames out -------------------------------------------------------------------- */
static void send_ctl(mc_node *n, mc_link *l, uint8_t type)
{
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = type;
    mp_link *lk = &f.u.link;
    lk->node_id = n->cfg.node_id;
    lk->peer_id = l->peer->node_id;
    lk->incarnation = n->incarnation;
    lk->session = l->session;
    l->session_told = true;
    lk->next_seq = l->snd_nxt;
    /* Advertise our own settings; the effective values are the negotiated ones. */
    lk->tolerance_ms = l->bearer->cfg.tolerance_ms;
    lk->window = l->bearer->cfg.window;
    lk->mtu = l->bearer->cfg.mtu;
    lk->priority = l->bearer->cfg.priority;
    lk->lflags = l->bearer->cfg.standby ? MP_LFLAG_STANDBY : 0;
    uint8_t ack_session[2], epoch[4], maxmsg[4], probe[2], caps[4];
    /* CAPS when we have more than what a peer assumes without it (RFC 4.3): MINET in
     * particular, which the peer must see before it sends us any (MSG-MINET-5). */
    if (mc__caps(n) != (MP_CAP_BUNDLE | MP_CAP_FRAGMENT | MP_CAP_MGMT)) {
        mp_put32(caps, mc__caps(n));
        lk->opts.v[lk->opts.n++] = (mp_opt){.type = MP_OPT_CAPS, .len = 4, .val = caps};
    }
    /* What we reassemble, when more than the 1 MiB every node must (MSG-FRAG-6). */
    if (n->cfg.max_message > MP_MIN_MESSAGE_SUPPORT) {
        mp_put32(maxmsg, n->cfg.max_message);
        lk->opts.v[lk->opts.n++] = (mp_opt){.type = MP_OPT_MAX_MESSAGE, .len = 4, .val = maxmsg};
    }
    if (l->bearer->cfg.probe_ms) {
        mp_put16(probe, l->bearer->cfg.probe_ms);
        lk->opts.v[lk->opts.n++] =
            (mp_opt){.type = MP_OPT_PROBE_INTERVAL, .len = 2, .val = probe};
    }
    /* Our loss epoch for this peer: a later one makes it purge (RFC 7.7, MSG-LINK-39). */
    mp_put32(epoch, l->peer->epoch_out);
    lk->opts.v[lk->opts.n++] = (mp_opt){.type = MP_OPT_PEER_EPOCH, .len = 4, .val = epoch};
    if (type == MP_T_LINK_ACTIVATE) {
        /* Name the peer session this ACTIVATE answers, so that a late copy cannot set
         * up a link with a peer endpoint that has since reset (MSG-LINK-37). */
        mp_put16(ack_session, l->peer_session);
        lk->opts.v[lk->opts.n++] =
            (mp_opt){.type = MP_OPT_ACK_SESSION, .len = 2, .val = ack_session};
    }
    uint8_t sec_policy;
    mc__sec_ctl_opts(n, l, &lk->opts, &sec_policy); /* SECURITY again, now authenticated */
    int len = mp_encode(&f, n->txbuf, n->txcap);
    if (len < 0) {
        n->st.send_errors++;
        return;
    }
    mc__tx(n, l, n->txbuf, (size_t)len);
}

/* LINK_STATE: cumulative ack, our next_seq (so the peer sees tail loss), gap blocks for
 * what we miss, and optionally a probe or a probe reply. */
static void send_state(mc_node *n, mc_link *l, uint8_t sflags, uint32_t echo, uint64_t now)
{
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = MP_T_LINK_STATE;
    mp_link_state *s = &f.u.state;
    if (l->state == MC_LS_ESTABLISHED && !(sflags & (MP_SFLAG_PROBE | MP_SFLAG_REPLY)) &&
        now - l->last_probe >= MC_RTT_PROBE_NS) {
        /* An ack doubles as an RTT probe now and then while traffic flows. */
        sflags |= MP_SFLAG_PROBE;
        l->last_probe = now;
    }
    s->session = l->session;
    s->ack = (uint16_t)(l->rcv_nxt - 1);
    s->next_seq = l->snd_nxt;
    s->sflags = sflags;
    s->timestamp = now_us32(now);
    s->echo = echo;
    uint16_t cur = l->rcv_nxt;
    for (mc_ooo *o = l->ooo; o && s->gap_count < MP_MAX_GAPS; o = o->next) {
        if (mp_seq16_lt(cur, o->seq)) {
            s->gaps[s->gap_count].start = cur;
            s->gaps[s->gap_count].end = (uint16_t)(o->seq - 1);
            s->gap_count++;
        }
        cur = (uint16_t)(o->seq + 1);
    }
    if (s->gap_count < MP_MAX_GAPS && mp_seq16_lt(cur, l->peer_next)) {
        s->gaps[s->gap_count].start = cur;
        s->gaps[s->gap_count].end = (uint16_t)(l->peer_next - 1);
        s->gap_count++;
    }
    int len = mp_encode(&f, n->txbuf, n->txcap);
    if (len < 0) {
        n->st.send_errors++;
        return;
    }
    l->st.states_sent++;
    if (s->gap_count) {
        l->st.nacks_sent++;
        l->last_nack_tx = now;
    }
    l->unacked_rx = 0;
    l->ack_at = MC_NEVER;
    mc__tx(n, l, n->txbuf, (size_t)len);
}

/* Build the codec frame of one queued unit. */
static int unit_frame(const mc_unit *u, mp_frame *f)
{
    memset(f, 0, sizeof *f);
    f->hdr.type = u->type;
    f->hdr.chan = u->chan;
    f->hdr.cseq = u->cseq;
    switch (u->type) {
    case MP_T_DATA:
        f->u.data.ptr = u->body;
        f->u.data.len = u->len;
        return 0;
    case MP_T_FRAGMENT:
        f->u.fragment.inner_type = u->inner_type;
        f->u.fragment.total_len = u->total_len;
        f->u.fragment.offset = u->offset;
        f->u.fragment.data.ptr = u->body;
        f->u.fragment.data.len = u->len;
        return 0;
    default: {
        /* Other types keep their encoded body (checked at mc_send); the codec turns it
         * back into a frame, so this file never lays out a body by hand. */
        mp_hdr h = f->hdr;
        int r = mp_body_decode(&h, u->body, u->len, f);
        f->hdr = h;
        return r < 0 ? r : 0;
    }
    }
}

/* Transmit (or retransmit) one sequence number. */
static void tx_pkt(mc_node *n, mc_link *l, mc_pkt *k, uint8_t flags, uint64_t now)
{
    mp_frame f;
    if (k->nunits == 1) {
        if (unit_frame(k->units, &f) < 0) {
            n->st.send_errors++;
            return;
        }
    } else {
        size_t used = 0;
        for (mc_unit *u = k->units; u; u = u->next) {
            mp_frame m;
            if (unit_frame(u, &m) < 0 || mp_bundle_append(n->bbuf, n->txcap, &used, &m) < 0) {
                n->st.send_errors++;
                return;
            }
        }
        memset(&f, 0, sizeof f);
        f.hdr.type = MP_T_BUNDLE;
        f.u.bundle.count = k->nunits;
        f.u.bundle.members.ptr = n->bbuf;
        f.u.bundle.members.len = used;
    }
    f.hdr.flags = flags;
    f.hdr.seq = k->seq;
    f.hdr.ack = (uint16_t)(l->rcv_nxt - 1);
    int len = mp_encode(&f, n->txbuf, n->txcap);
    if (len < 0) {
        n->st.send_errors++;
        return;
    }
    if (k->ntx == 0)
        k->first_tx = now;
    k->ntx++;
    k->last_tx = now;
    /* The piggybacked ack covers everything in order; a LINK_STATE is still owed if
     * there are gaps to report. */
    l->unacked_rx = 0;
    if (!l->ooo)
        l->ack_at = MC_NEVER;
    mc__tx(n, l, n->txbuf, (size_t)len);
}

static void retransmit(mc_node *n, mc_link *l, mc_pkt *k, uint8_t flags, uint64_t now)
{
    l->st.retransmits++;
    tx_pkt(n, l, k, flags, now);
}

/* ---- Setup ------------------------------------------------------------------------------ */
static void clear_rx(mc_node *n, mc_link *l)
{
    free_ooo(n, l);
    l->unacked_rx = 0;
    l->ack_at = MC_NEVER;
}

void mc__link_start_reset(mc_node *n, mc_link *l, uint64_t now)
{
    l->state = MC_LS_RESET;
    /* A fresh session and initial sequence number per reset.  The session moves forward
     * (serial arithmetic) by a random step rather than being drawn afresh: a receiver
     * can then tell a late setup frame of an older session from a real reset, which a
     * purely random session cannot (reordered setup frames made links flap). */
    l->session = (uint16_t)(l->session + 1 + (mc__rand(n) & 0xFF));
    /* Sequenced frames carry no session, so a late frame of the session that just ended
     * must not land in the new window: the new numbering starts a random distance of a
     * quarter to three quarters of the space away from where the old one stood (RFC
     * 6.2).  A purge reset the channel state meanwhile, and such a frame would deliver
     * an old message again. */
    l->snd_nxt = l->snd_una = (uint16_t)(l->snd_nxt + 0x4000u + (mc__rand(n) & 0x7FFFu));
    if (l->peer_session_known) {
        l->prev_peer_session = l->peer_session;
        l->prev_known = true;
    }
    l->peer_session_known = false;
    l->tx_started = l->rx_started = false;
    l->session_told = false;
    l->learned_stale = false;
    l->tolerance_ms = l->bearer->cfg.tolerance_ms;
    l->window = l->bearer->cfg.window;
    l->mtu = l->bearer->cfg.mtu;
    l->peer_probe_ms = 0;
    l->have_rtt = false;
    l->srtt = l->rttvar = 0;
    l->rto = MC_RTO_INIT_NS;
    if (l->rto > rto_max(l))
        l->rto = rto_max(l);
    l->rto_at = MC_NEVER;
    l->resets_sent = 0;
    l->next_ctl = now;
    l->state_since = now;
    clear_rx(n, l);
    l->st.resets++;
    mc__link_rearm(n, l);
}

static void learn(mc_link *l, const mp_link *lk)
{
    l->peer_session = lk->session;
    l->peer_session_known = true;
    l->learned_stale = false;
    l->floor_set = false; /* the learned session is later: the usual check takes over */
    l->rcv_nxt = lk->next_seq;
    l->peer_next = lk->next_seq;
    l->peer_tolerance_ms = lk->tolerance_ms;
    /* Negotiation: tolerance = max, window = min, MTU = min (design notes). */
    uint16_t tol = l->bearer->cfg.tolerance_ms;
    l->tolerance_ms = lk->tolerance_ms > tol ? lk->tolerance_ms : tol;
    uint16_t w = l->bearer->cfg.window;
    l->window = lk->window && lk->window < w ? lk->window : w;
    uint16_t m = l->bearer->cfg.mtu;
    l->mtu = lk->mtu && lk->mtu < m ? lk->mtu : m;
    l->peer_standby = (lk->lflags & MP_LFLAG_STANDBY) != 0;
    /* The decoder has checked both ranges (MSG-OPT-10, MSG-OPT-11). */
    const mp_opt *o = mp_opt_find(&lk->opts, MP_OPT_PROBE_INTERVAL);
    l->peer_probe_ms = o && o->len == 2 ? mp_get16(o->val) : 0;
    o = mp_opt_find(&lk->opts, MP_OPT_MAX_MESSAGE);
    l->peer->max_message = o && o->len == 4 ? mp_get32(o->val) : MP_MIN_MESSAGE_SUPPORT;
    o = mp_opt_find(&lk->opts, MP_OPT_CAPS);
    l->peer->caps = o && o->len == 4 ? mp_get32(o->val)
                                     : MP_CAP_BUNDLE | MP_CAP_FRAGMENT | MP_CAP_MGMT;
    if (l->rto > rto_max(l))
        l->rto = rto_max(l);
}

static void establish(mc_node *n, mc_link *l, uint64_t now)
{
    l->state = MC_LS_ESTABLISHED;
    l->state_since = now;
    l->last_heard = now;
    l->last_probe = now;
    l->st.ups++;
    n->st.links_up++;
    mc_event ev = {.type = MC_EV_LINK_UP, .peer = l->peer->node_id,
                   .incarnation = l->peer->incarnation, .bearer = l->bearer->id};
    mc__emit(n, &ev);
    mc__peer_link_up(n, l->peer, l, now);
    mc__mark_dirty(n, l);
}

/* Does this LINK_ACTIVATE confirm our current session (ACK_SESSION, MSG-LINK-37)? */
static bool activate_answers_us(const mc_link *l, const mp_link *lk)
{
    const mp_opt *o = mp_opt_find(&lk->opts, MP_OPT_ACK_SESSION);
    return o && o->len == 2 && mp_get16(o->val) == l->session;
}

void mc__link_on_ctl(mc_node *n, mc_link *l, const mp_frame *f, uint64_t now)
{
    const mp_link *lk = &f->u.link;
    bool same = l->peer_session_known && lk->session == l->peer_session;
    if (l->peer_session_known && mp_seq16_lt(lk->session, l->peer_session)) {
        mc__drop(n, MC_DROP_STALE_SESSION); /* from before the peer's latest reset */
        return;
    }
    if (!l->peer_session_known && l->floor_set && !mp_seq16_lt(l->session_floor, lk->session)) {
        /* A session seen before we purged the peer: a late setup frame.  Learning it
         * would let late sequenced frames of that session into the channel state the
         * purge reset (row 17).  The peer's next reset brings a later one (RFC 7.7). */
        mc__drop(n, MC_DROP_STALE_SESSION);
        return;
    }
    /* No refresh of last-heard here: a late copy of a setup frame is no sign that the
     * peer is alive (MSG-LINK-26); establish() starts the clock when the link comes up. */
    if (l->state == MC_LS_ESTABLISHED) {
        if (same) {
            /* A late copy of the frames that set this session up. */
            mc__drop(n, MC_DROP_STALE_SESSION);
            return;
        }
        /* The peer started a new session: its old one (and our link) is gone. */
        mc__link_down(n, l, MC_DOWN_PEER_RESET, true, now);
        if (f->hdr.type == MP_T_LINK_ACTIVATE) {
            /* That ACTIVATE confirms a session of ours which going down has just ended.
             * Answering with another ACTIVATE (of our new session) would make the peer
             * go down in turn and answer alike: the two ends flapped in step for ever.
             * Start over with a LINK_RESET, which the peer answers by the handshake. */
            send_ctl(n, l, MP_T_LINK_RESET);
            l->resets_sent++;
            l->next_ctl = now + MC_RESET_INTERVAL_NS;
            mc__link_rearm(n, l);
            return;
        }
        same = false;
    }
    if (f->hdr.type == MP_T_LINK_ACTIVATE && !activate_answers_us(l, lk)) {
        /* It answers a session of ours that has ended: the peer set up with an
         * endpoint that no longer exists.  Tell it our current session at once. */
        mc__drop(n, MC_DROP_STALE_SESSION);
        if (l->state == MC_LS_RESET) {
            send_ctl(n, l, MP_T_LINK_RESET);
            l->resets_sent++;
        }
        mc__link_rearm(n, l);
        return;
    }
    if (f->hdr.type == MP_T_LINK_RESET) {
        if (!same)
            learn(l, lk);
        send_ctl(n, l, MP_T_LINK_ACTIVATE);
        if (l->state == MC_LS_RESET) {
            l->state = MC_LS_ESTABLISHING;
            l->state_since = now;
        }
        l->next_ctl = now + activate_ns(l);
    } else { /* LINK_ACTIVATE */
        bool was_reset = l->state == MC_LS_RESET;
        if (!same)
            learn(l, lk);
        if (was_reset)
            send_ctl(n, l, MP_T_LINK_ACTIVATE); /* the peer waits for our parameters */
        establish(n, l, now);
    }
    mc__link_rearm(n, l);
}

/* ---- Acknowledgements -------------------------------------------------------------------- */
static void rtt_sample(mc_link *l, uint64_t r)
{
    if (!l->have_rtt) {
        l->srtt = r;
        l->rttvar = r / 2;
        l->have_rtt = true;
    } else {
        uint64_t d = l->srtt > r ? l->srtt - r : r - l->srtt;
        l->rttvar = (3 * l->rttvar + d) / 4;
        l->srtt = (7 * l->srtt + r) / 8;
    }
    uint64_t rto = l->srtt + 4 * l->rttvar;
    if (rto < MC_RTO_MIN_NS)
        rto = MC_RTO_MIN_NS;
    if (rto > rto_max(l))
        rto = rto_max(l);
    l->rto = rto;
}

/* No RTT sample is taken from acks: a cumulative ack of a frame that waited in the
 * peer's reorder buffer behind a loss measures the loss recovery, not the path, and
 * feeding that into the RTO slows recovery further.  Samples come from probe replies
 * (timestamp echo), which the peer sends at once; see send_state.
 *
 * Returns false if the ack cannot belong to this session (acknowledges what we never
 * sent). */
static bool process_ack(mc_node *n, mc_link *l, uint16_t ack, uint64_t now)
{
    uint16_t flight = (uint16_t)(l->snd_nxt - l->snd_una);
    uint16_t adv = (uint16_t)(ack + 1 - l->snd_una);
    if ((int16_t)adv <= 0)
        return true; /* nothing new (or an older, reordered ack) */
    if (adv > flight)
        return false;
    while (l->inf_head && mp_seq16_le(l->inf_head->seq, ack)) {
        mc_pkt *k = l->inf_head;
        l->inf_head = k->next;
        if (!l->inf_head)
            l->inf_tail = NULL;
        l->n_inflight--;
        while (k->units) {
            mc_unit *u = k->units;
            k->units = u->next;
            mc__unit_free(n, u, true);
        }
        mc__free(n, k, sizeof *k);
    }
    l->snd_una = (uint16_t)(ack + 1);
    l->rto_at = l->inf_head ? now + l->rto : MC_NEVER;
    if (l->bl_head)
        mc__mark_dirty(n, l);
    return true;
}

/* Retransmit NACKed frames at once, but each at most once per RTT. */
static void process_gaps(mc_node *n, mc_link *l, const mp_link_state *s, uint64_t now)
{
    if (!s->gap_count)
        return;
    /* Before the first RTT sample, 1 ms: a NACK is evidence enough, and waiting for the
     * initial RTO would stall short-tolerance links. */
    uint64_t min_gap = l->have_rtt ? l->srtt : MC_RTO_MIN_NS;
    for (mc_pkt *k = l->inf_head; k; k = k->next) {
        bool missing = false;
        for (unsigned i = 0; i < s->gap_count && !missing; i++) {
            uint16_t a = s->gaps[i].start, b = s->gaps[i].end;
            missing = mp_seq16_le(a, k->seq) && mp_seq16_le(k->seq, b);
        }
        if (missing && now - k->last_tx >= min_gap) {
            l->st.nack_retransmits++;
            retransmit(n, l, k, 0, now);
        }
    }
}

/* Do we miss frames the peer has sent (held gaps or a lost tail)? */
static bool have_hole(const mc_link *l)
{
    return l->ooo || mp_seq16_lt(l->rcv_nxt, l->peer_next);
}

static uint64_t nack_spacing(const mc_link *l)
{
    uint64_t g = l->have_rtt ? l->srtt : MC_RTO_MIN_NS;
    return g < 200 * MC_NS_PER_US ? 200 * MC_NS_PER_US : g;
}

/* Ask for the missing frames now, or as soon as the NACK spacing allows. */
static void want_nack(mc_node *n, mc_link *l, uint64_t now)
{
    uint64_t at = l->last_nack_tx + nack_spacing(l);
    if (l->last_nack_tx == 0 || at <= now)
        send_state(n, l, 0, 0, now);
    else if (at < l->ack_at)
        l->ack_at = at;
}

void mc__link_on_state(mc_node *n, mc_link *l, const mp_frame *f, uint64_t now)
{
    const mp_link_state *s = &f->u.state;
    if (!l->peer_session_known || s->session != l->peer_session) {
        mc__drop(n, MC_DROP_STALE_SESSION);
        return;
    }
    if (l->state == MC_LS_ESTABLISHING && !l->learned_stale)
        establish(n, l, now);
    if (l->state != MC_LS_ESTABLISHED) {
        mc__drop(n, MC_DROP_NOT_ESTABLISHED);
        return;
    }
    l->last_heard = now;
    l->st.states_rcvd++;
    /* Consistency: the peer cannot have sent more than a window beyond what we expect,
     * nor acknowledge what we never sent.  Either means the two ends set up from
     * different generations of setup frames: start over rather than stall. */
    int16_t ahead = (int16_t)(uint16_t)(s->next_seq - l->rcv_nxt);
    bool rx_odd = ahead > (int16_t)l->window || ahead < -(int16_t)l->window;
    bool tx_odd = !process_ack(n, l, s->ack, now);
    if (tx_odd && !l->tx_started) {
        /* The peer learned our initial sequence number from a setup frame of an older
         * session.  Nothing has been sent in this one, so numbering is still free:
         * adopt the peer's expectation rather than reset (resets raced and flapped). */
        l->snd_nxt = l->snd_una = (uint16_t)(s->ack + 1);
        tx_odd = false;
    }
    /* Receive side: if nothing arrived yet, the peer fixes its numbering when it sees
     * our acks (above, on its side); only a started session is beyond repair. */
    if (tx_odd || (rx_odd && l->rx_started)) {
        mc__link_down(n, l, MC_DOWN_PEER_RESET, true, now);
        mc__link_rearm(n, l);
        return;
    }
    if (mp_seq16_lt(l->peer_next, s->next_seq))
        l->peer_next = s->next_seq;
    if (s->sflags & MP_SFLAG_REPLY) {
        uint32_t us = now_us32(now) - s->echo;
        if ((uint64_t)us * MC_NS_PER_US <= 2 * tol_ns(l))
            rtt_sample(l, (uint64_t)us * MC_NS_PER_US);
    }
    if (s->sflags & MP_SFLAG_PROBE) {
        l->st.probes_rcvd++;
        send_state(n, l, MP_SFLAG_REPLY, s->timestamp, now);
    }
    process_gaps(n, l, s, now);
    if (have_hole(l))
        want_nack(n, l, now);
    mc__link_rearm(n, l);
}

/* ---- Sequenced frames in -------------------------------------------------------------------- */
static void hold_ooo(mc_node *n, mc_link *l, const uint8_t *buf, size_t len, uint16_t seq)
{
    mc_ooo **pp = &l->ooo;
    while (*pp && mp_seq16_lt((*pp)->seq, seq))
        pp = &(*pp)->next;
    if (*pp && (*pp)->seq == seq) {
        l->st.dup_rx++;
        mc__drop(n, MC_DROP_DUP_SEQ);
        return;
    }
    size_t asize = sizeof(mc_ooo) + len;
    mc_ooo *o = mc__alloc(n, asize);
    if (!o) {
        /* Not acknowledged, so the peer retransmits it: nothing lost. */
        mc__drop(n, MC_DROP_NOMEM);
        return;
    }
    o->seq = seq;
    o->len = (uint32_t)len;
    o->asize = asize;
    memcpy(o->bytes, buf, len);
    o->next = *pp;
    *pp = o;
    l->n_ooo++;
    l->st.ooo_rx++;
}

/* Hand the frame numbered rcv_nxt to the channels.  True: it is taken and rcv_nxt moves
 * on.  False: the link went down during delivery, or the node could not take every
 * message in it (memory); then rcv_nxt stays, so the frame is not acknowledged and the
 * peer sends it again (after an RTO or our NACK) rather than the message being lost. */
static bool accept_seq(mc_node *n, mc_link *l, const uint8_t *buf, size_t len, uint64_t now)
{
    /* rcv_nxt moves only afterwards, so that an ack piggybacked on a frame the
     * application sends from inside delivery never covers a frame about to be refused. */
    n->rx_refused = false;
    mc__deliver_frame(n, l, buf, len, now);
    if (l->state != MC_LS_ESTABLISHED)
        return false;
    if (n->rx_refused) {
        n->rx_refused = false;
        l->st.rx_refused++;
        mc__link_rearm(n, l);
        return false;
    }
    l->rcv_nxt++;
    l->rx_started = true;
    l->st.rx_data++;
    return true;
}

void mc__link_on_seq(mc_node *n, mc_link *l, const uint8_t *buf, size_t len, const mp_hdr *h,
                     uint64_t now)
{
    uint16_t seq = h->seq;
    if (l->state == MC_LS_ESTABLISHING && l->peer_session_known && !l->learned_stale &&
        (uint16_t)(seq - l->rcv_nxt) < l->window) {
        /* The peer is up and already sending in the session we learned. */
        establish(n, l, now);
    }
    if (l->state != MC_LS_ESTABLISHED) {
        mc__drop(n, MC_DROP_NOT_ESTABLISHED);
        return;
    }
    l->last_heard = now;
    (void)process_ack(n, l, h->ack, now); /* no session here: an odd ack is just ignored */
    if (mp_seq16_le(l->peer_next, seq))
        l->peer_next = (uint16_t)(seq + 1);
    if (seq == l->rcv_nxt) {
        size_t flen = h->length < len ? h->length : len;
        if (!accept_seq(n, l, buf, flen, now))
            return;
        while (l->ooo && l->ooo->seq == l->rcv_nxt) {
            mc_ooo *o = l->ooo;
            if (!accept_seq(n, l, o->bytes, o->len, now))
                return;
            l->ooo = o->next;
            l->n_ooo--;
            mc__free(n, o, o->asize);
        }
        l->unacked_rx++;
        if (l->unacked_rx >= MC_ACK_EVERY || (h->flags & MP_FLAG_ACKREQ))
            send_state(n, l, 0, 0, now);
        else if (l->ack_at == MC_NEVER)
            l->ack_at = now + MC_ACK_DELAY_NS;
        if (have_hole(l))
            want_nack(n, l, now);
    } else if (mp_seq16_lt(seq, l->rcv_nxt)) {
        /* Our ack was lost or is late: acknowledge again soon. */
        l->st.dup_rx++;
        mc__drop(n, MC_DROP_DUP_SEQ);
        if (h->flags & MP_FLAG_ACKREQ)
            send_state(n, l, 0, 0, now);
        else if (l->ack_at == MC_NEVER)
            l->ack_at = now + MC_ACK_DELAY_NS;
    } else if ((uint16_t)(seq - l->rcv_nxt) < l->window) {
        bool new_gap = !l->ooo;
        size_t flen = h->length < len ? h->length : len;
        hold_ooo(n, l, buf, flen, seq);
        if (new_gap || (h->flags & MP_FLAG_ACKREQ))
            want_nack(n, l, now);
        else if (l->ack_at == MC_NEVER)
            l->ack_at = now + MC_ACK_DELAY_NS;
    } else {
        l->st.out_of_window++;
        mc__drop(n, MC_DROP_OUT_OF_WINDOW);
    }
    mc__link_rearm(n, l);
}

/* ---- Sending -------------------------------------------------------------------------------- */
void mc__link_push(mc_node *n, mc_link *l, uint64_t now)
{
    if (l->state != MC_LS_ESTABLISHED)
        return;
    while (l->bl_head && l->n_inflight < l->window) {
        mc_pkt *k = mc__alloc(n, sizeof *k);
        if (!k) {
            mc__drop(n, MC_DROP_NOMEM);
            /* The unit stays in the backlog.  Nothing else is sure to push it again (an
             * idle link gets no new ack, and this link is no longer dirty), so arm the
             * retransmission timer as a retry timer: mc__link_timer re-dirties the link
             * when it fires with nothing in flight. */
            if (l->rto_at == MC_NEVER)
                l->rto_at = now + l->rto;
            break;
        }
        memset(k, 0, sizeof *k);
        mc_unit *u = l->bl_head;
        l->bl_head = u->next;
        l->n_backlog--;
        u->next = NULL;
        k->units = u;
        k->nunits = 1;
        /* Bundle: small messages waiting together share one sequence number. */
        if (u->type != MP_T_FRAGMENT) {
            size_t size = MP_SEQ_HDR_LEN + MP_INNER_HDR_LEN + u->len;
            mc_unit *last = u;
            while (l->bl_head && l->bl_head->type != MP_T_FRAGMENT &&
                   size + MP_INNER_HDR_LEN + l->bl_head->len <= mc__sec_inner_mtu(l) &&
                   k->nunits < 1024) {
                mc_unit *v = l->bl_head;
                l->bl_head = v->next;
                l->n_backlog--;
                v->next = NULL;
                last->next = v;
                last = v;
                size += MP_INNER_HDR_LEN + v->len;
                k->nunits++;
            }
        }
        if (!l->bl_head)
            l->bl_tail = NULL;
        k->seq = l->snd_nxt++;
        l->tx_started = true;
        if (l->inf_tail)
            l->inf_tail->next = k;
        else
            l->inf_head = k;
        l->inf_tail = k;
        l->n_inflight++;
        l->st.tx_data++;
        if (k->nunits > 1) {
            l->st.bundles_tx++;
            l->st.bundled_msgs_tx += k->nunits;
        } else if (u->type == MP_T_FRAGMENT) {
            l->st.fragments_tx++;
        }
        /* A full window asks for an ack at once so it reopens without waiting. */
        tx_pkt(n, l, k, l->n_inflight >= l->window ? MP_FLAG_ACKREQ : 0, now);
        if (l->rto_at == MC_NEVER)
            l->rto_at = now + l->rto;
    }
    if (l->ack_at <= now)
        send_state(n, l, 0, 0, now);
}

/* ---- Timers ------------------------------------------------------------------------------------ */
void mc__link_timer(mc_node *n, mc_link *l, uint64_t now)
{
    mc__sec_timer(n, l, now); /* key exchange resends, rekeys, old keys' grace */
    switch (l->state) {
    case MC_LS_RESET:
        if (l->next_ctl <= now) {
            send_ctl(n, l, MP_T_LINK_RESET);
            l->resets_sent++;
            l->next_ctl = now + (l->resets_sent < MC_RESET_FAST ? MC_RESET_INTERVAL_NS
                                                                  : MC_RESET_SLOW_NS);
        }
        return;
    case MC_LS_ESTABLISHING:
        if (now - l->state_since >= establishing_ns(l)) {
            mc__link_start_reset(n, l, now); /* the peer went away mid-setup */
            return;
        }
        if (l->next_ctl <= now) {
            send_ctl(n, l, MP_T_LINK_ACTIVATE);
            l->next_ctl = now + activate_ns(l);
        }
        return;
    default:
        break;
    }
    uint64_t tol = tol_ns(l), probe = mc__link_probe_ns(l);
    if (now - l->last_heard >= tol) {
        mc__link_down(n, l, MC_DOWN_TIMEOUT, true, now);
        return;
    }
    if (l->inf_head && now - l->inf_head->first_tx >= tol) {
        /* Frames flow back (probes answered) but the oldest frame has not been
         * acknowledged for a whole tolerance: the data path is broken. */
        mc__link_down(n, l, MC_DOWN_STALLED, true, now);
        return;
    }
    if (now - l->last_heard >= probe && now - l->last_probe >= probe) {
        l->last_probe = now;
        l->st.probes_sent++;
        send_state(n, l, MP_SFLAG_PROBE, 0, now);
    }
    if (l->rto_at <= now) {
        if (l->inf_head) {
            l->st.rto_fires++;
            unsigned count = 0;
            for (mc_pkt *k = l->inf_head; k && count < MC_RTO_BURST; k = k->next, count++) {
                bool last = !k->next || count + 1 == MC_RTO_BURST;
                retransmit(n, l, k, last ? MP_FLAG_ACKREQ : 0, now);
            }
            l->rto = l->rto * 2 > rto_max(l) ? rto_max(l) : l->rto * 2;
            l->rto_at = now + l->rto;
        } else {
            l->rto_at = MC_NEVER;
            if (l->bl_head)
                mc__mark_dirty(n, l); /* retry a push that failed for memory */
        }
    }
    if (l->ack_at <= now)
        send_state(n, l, 0, 0, now);
}

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

void mc__link_rearm(mc_node *n, mc_link *l)
{
    uint64_t d;
    switch (l->state) {
    case MC_LS_RESET:
        d = l->next_ctl;
        break;
    case MC_LS_ESTABLISHING:
        d = min64(l->next_ctl, l->state_since + establishing_ns(l));
        break;
    default: {
        uint64_t tol = tol_ns(l), probe = mc__link_probe_ns(l);
        d = l->last_heard + tol;
        uint64_t base = l->last_heard > l->last_probe ? l->last_heard : l->last_probe;
        d = min64(d, base + probe);
        if (l->inf_head)
            d = min64(d, l->inf_head->first_tx + tol);
        d = min64(d, l->rto_at);
        d = min64(d, l->ack_at);
        break;
    }
    }
    d = min64(d, mc__sec_deadline(n, l));
    if (d != l->deadline || (d != MC_NEVER && l->heap_idx == UINT32_MAX)) {
        l->deadline = d;
        mc__heap_update(n, l);
    }
}

/* ---- Going down ---------------------------------------------------------------------------------- */
void mc__link_down(mc_node *n, mc_link *l, int reason, bool failover, uint64_t now)
{
    bool was_up = l->state == MC_LS_ESTABLISHED;
    mc_peer *p = l->peer;
    /* Collect everything not acknowledged, in sequence order, then the backlog: this is
     * the order the channels' messages were queued in. */
    mc_unit *head = NULL, *tail = NULL;
    uint32_t count = 0;
    while (l->inf_head) {
        mc_pkt *k = l->inf_head;
        l->inf_head = k->next;
        while (k->units) {
            mc_unit *u = k->units;
            k->units = u->next;
            u->next = NULL;
            if (tail)
                tail->next = u;
            else
                head = u;
            tail = u;
            count++;
        }
        mc__free(n, k, sizeof *k);
    }
    l->inf_tail = NULL;
    l->n_inflight = 0;
    if (l->bl_head) {
        if (tail)
            tail->next = l->bl_head;
        else
            head = l->bl_head;
        count += l->n_backlog;
    }
    l->bl_head = l->bl_tail = NULL;
    l->n_backlog = 0;
    mc__link_start_reset(n, l, now);
    if (was_up) {
        l->st.downs++;
        n->st.links_down++;
        mc_event ev = {.type = MC_EV_LINK_DOWN, .peer = p->node_id,
                       .incarnation = p->incarnation, .bearer = l->bearer->id,
                       .reason = reason};
        mc__emit(n, &ev);
    }
    l->st.failover_out += count;
    if (head) {
        if (failover) {
            mc__failover(n, l, head, count, now);
        } else {
            uint32_t lost = 0;
            while (head) {
                mc_unit *u = head;
                head = u->next;
                mc__unit_free(n, u, false);
                mc__drop(n, MC_DROP_PEER_LOST);
                lost++;
            }
            mc_event ev = {.type = MC_EV_SEND_LOST, .peer = p->node_id, .count = lost};
            mc__emit(n, &ev);
        }
    }
    if (was_up)
        mc__peer_link_down(n, p, reason, now);
}
