/*
 * chan.c — channels: per (peer, chan) sequencing, link pinning, failover, reassembly,
 * in-order exactly-once delivery, and the glue to naming (mn_) and paths (mpa_).
 *
 * Channel numbering.  Channel 0, MINET and the reserved channels (and, with the path
 * layer off, every channel: "raw channels" for tests and bare links) are numbered here: cseq
 * per (this node -> peer, chan), the receiver delivers cseq == expected, drops lower and
 * holds higher.  Path channels (>= MP_CHAN_FIRST_PATH) are numbered by the path layer,
 * which also deduplicates and reorders them (path ids can be reused after release, so
 * the core cannot keep a per-channel expectation across path lifetimes): for those the
 * core only carries frames, in order per link, across failover.
 */
#include "mc_int.h"

/* With the path layer off (raw mode, used to prove link reliability on its own), the
 * core numbers every channel. */
static bool core_numbered(const mc_node *n, uint32_t chan)
{
    return chan < MP_CHAN_FIRST_PATH || !n->paths;
}

/* ---- Channel state ----------------------------------------------------------------------- */
static uint64_t chan_key(uint32_t peer, uint32_t chan) { return (uint64_t)peer << 32 | chan; }

mc_chan *mc__chan_get(mc_node *n, mc_peer *p, uint32_t chan, bool create)
{
    mc_chan *c = (mc_chan *)mc__hash_find(&n->chans, chan_key(p->node_id, chan));
    if (c || !create)
        return c;
    c = mc__alloc(n, sizeof *c);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    c->h.key = chan_key(p->node_id, chan);
    c->peer = p;
    c->chan = chan;
    if (mc__hash_add(n, &n->chans, &c->h) < 0) {
        mc__free(n, c, sizeof *c);
        return NULL;
    }
    c->pnext = p->chans;
    p->chans = c;
    return c;
}

static void reasm_free(mc_node *n, mc_chan *c)
{
    mc_reasm *r = c->reasm;
    if (!r)
        return;
    if (r->buf)
        mc__free(n, r->buf, r->total);
    mc__free(n, r, sizeof *r);
    c->reasm = NULL;
    n->n_reasm--;
}

void mc__chan_purge_peer(mc_node *n, mc_peer *p)
{
    while (p->chans) {
        mc_chan *c = p->chans;
        p->chans = c->pnext;
        while (c->held) {
            mc_heldmsg *h = c->held;
            c->held = h->next;
            n->n_held--;
            mc__free(n, h, h->asize);
        }
        reasm_free(n, c);
        mc__hash_del(&n->chans, &c->h);
        mc__free(n, c, sizeof *c);
    }
}

/* ---- Link choice --------------------------------------------------------------------------- */
static bool link_standby(const mc_link *l) { return l->bearer->cfg.standby || l->peer_standby; }

/* Active/standby: the highest-priority working link (standby links only when nothing
 * else works).  Load sharing: among links of equal best rank, a hash of (peer, chan)
 * picks one, so a channel stays on one link while its rank does not change. */
mc_link *mc__select_link(mc_node *n, mc_peer *p, uint32_t chan, const mc_link *exclude)
{
    (void)n;
    int best = -1;
    uint32_t count = 0;
    for (mc_link *l = p->links; l; l = l->pnext) {
        if (l == exclude || l->state != MC_LS_ESTABLISHED)
            continue;
        int rank = (link_standby(l) ? 0 : 64) + l->priority;
        if (rank > best) {
            best = rank;
            count = 1;
        } else if (rank == best) {
            count++;
        }
    }
    if (best < 0)
        return NULL;
    uint64_t h = chan_key(p->node_id, chan) * 0x9E3779B97F4A7C15ull;
    uint32_t pick = (uint32_t)((h >> 32) % count);
    for (mc_link *l = p->links; l; l = l->pnext) {
        if (l == exclude || l->state != MC_LS_ESTABLISHED)
            continue;
        int rank = (link_standby(l) ? 0 : 64) + l->priority;
        if (rank == best && pick-- == 0)
            return l;
    }
    return NULL;
}

/* The link for the next message of c: the pinned one while anything of the channel is
 * unacknowledged on it (moving then could reorder), otherwise the current best. */
static mc_link *chan_link(mc_node *n, mc_chan *c)
{
    if (c->pin && c->pin->state == MC_LS_ESTABLISHED && c->tx_pending)
        return c->pin;
    c->pin = mc__select_link(n, c->peer, c->chan, NULL);
    return c->pin;
}

/* ---- Units ------------------------------------------------------------------------------------- */
static mc_unit *unit_new(mc_node *n, mc_chan *c, uint8_t type, uint32_t cseq,
                         const uint8_t *body, uint32_t len)
{
    size_t asize = mc__unit_size(len);
    mc_unit *u = mc__alloc(n, asize);
    if (!u)
        return NULL;
    memset(u, 0, sizeof *u);
    u->ch = c;
    u->type = type;
    u->chan = c->chan;
    u->cseq = cseq;
    u->len = len;
    u->asize = asize;
    if (len)
        memcpy(u->body, body, len);
    return u;
}

void mc__unit_free(mc_node *n, mc_unit *u, bool acked)
{
    (void)acked;
    if (u->ch) {
        u->ch->tx_pending--;
        u->ch->peer->queued_bytes -= u->len;
    }
    mc__free(n, u, u->asize);
}

static void unit_list_free(mc_node *n, mc_unit *u)
{
    while (u) {
        mc_unit *next = u->next;
        mc__free(n, u, u->asize);
        u = next;
    }
}

static void backlog_append(mc_link *l, mc_unit *u)
{
    u->next = NULL;
    if (l->bl_tail)
        l->bl_tail->next = u;
    else
        l->bl_head = u;
    l->bl_tail = u;
    l->n_backlog++;
}

/* ---- Sending -------------------------------------------------------------------------------------- */
/* Queue one message.  cseq is assigned here for core-numbered channels, taken from the
 * caller (the path layer) otherwise. */
/* The frame size for messages to p: the smallest bearer MTU, and the smallest MTU
 * negotiated on p's established links. */
static uint16_t peer_mtu(const mc_node *n, const mc_peer *p)
{
    uint16_t mtu = n->min_mtu;
    for (const mc_link *l = p->links; l; l = l->pnext)
        if (l->state == MC_LS_ESTABLISHED && l->mtu && l->mtu < mtu)
            mtu = l->mtu;
    /* A nonsense MTU from a peer must not stop all traffic. */
    return mtu > MP_FRAGMENT_HDR_LEN + 64 ? mtu : n->min_mtu;
}

static int send_body(mc_node *n, uint32_t peer, uint32_t chan, uint8_t type, const uint8_t *body,
                     size_t len, uint32_t given_cseq, uint64_t now, uint32_t *cseq_out)
{
    if (!MP_TYPE_IS_SEQUENCED(type) || type == MP_T_FRAGMENT || type == MP_T_BUNDLE ||
        (!body && len))
        return MC_EINVAL;
    if (len > n->cfg.max_message)
        return MC_ETOOBIG;
    if (type != MP_T_DATA) {
        /* Only well-formed bodies enter the queue: they are re-encoded at each
         * (re)transmission, which must not fail later. */
        mp_hdr h = {.type = type, .chan = chan};
        mp_frame f;
        if (mp_body_decode(&h, body, len, &f) < 0)
            return MC_EINVAL;
    }
    if (now > n->now)
        n->now = now;
    mc_peer *p = mc__peer_find(n, peer);
    if (!p || !p->up)
        return MC_ENOTCONN;
    if (len > p->max_message) /* what the peer said it reassembles (MSG-FRAG-6) */
        return MC_ETOOBIG;
    if (type == MP_T_MINET && !(p->caps & MP_CAP_MINET)) /* MSG-MINET-5 */
        return MC_ENOTSUP;
    /* Path channels are paced end to end by credit; only the rest is bounded here. */
    if (core_numbered(n, chan) && p->queued_bytes && p->queued_bytes + len > n->cfg.max_queue_bytes)
        return MC_EAGAIN;
    mc_chan *c = mc__chan_get(n, p, chan, true);
    if (!c)
        return MC_ENOMEM;
    mc_link *l = chan_link(n, c);
    if (!l)
        return MC_ENOTCONN;
    uint32_t cseq = core_numbered(n, chan) ? c->tx_next : given_cseq;
    /* Sized for the smallest bearer, and for the smallest MTU negotiated with this peer:
     * a bearer may learn its real MTU only after it was attached (the PCIe shim's IOP
     * learns the slot size from the host's window), while the peer's LINK_RESET/
     * ACTIVATE always says what it accepts.  Frames larger than that never arrive. */
    size_t mtu = peer_mtu(n, p);
    size_t single = mtu - MP_SEQ_HDR_LEN;
    mc_unit *head = NULL, *tail = NULL;
    uint32_t count = 0;
    if (len <= single) {
        head = tail = unit_new(n, c, type, cseq, body, (uint32_t)len);
        if (!head)
            return MC_ENOMEM;
        count = 1;
    } else {
        /* Fragments are sized for the smallest bearer and link (above), so they fit any
         * link the channel may fail over to. */
        size_t chunk = mtu - MP_FRAGMENT_HDR_LEN;
        for (size_t off = 0; off < len; off += chunk) {
            size_t k = len - off < chunk ? len - off : chunk;
            mc_unit *u = unit_new(n, c, MP_T_FRAGMENT, cseq, body + off, (uint32_t)k);
            if (!u) {
                unit_list_free(n, head);
                return MC_ENOMEM;
            }
            u->inner_type = type;
            u->total_len = (uint32_t)len;
            u->offset = (uint32_t)off;
            if (tail)
                tail->next = u;
            else
                head = u;
            tail = u;
            count++;
        }
    }
    while (head) {
        mc_unit *u = head;
        head = u->next;
        backlog_append(l, u);
    }
    c->tx_pending += count;
    p->queued_bytes += len;
    if (core_numbered(n, chan))
        c->tx_next++;
    mc__mark_dirty(n, l);
    n->st.sent_msgs++;
    if (cseq_out)
        *cseq_out = cseq;
    return MC_OK;
}

static bool void_position_ok(const mp_hdr *h);


int mc_send(mc_node *n, uint32_t peer, uint32_t chan, uint8_t type, const void *body,
            size_t len, uint64_t now, uint32_t *cseq_out)
{
    if (!n)
        return MC_EINVAL;
    if (!core_numbered(n, chan))
        return MC_EINVAL; /* path channels belong to the path layer */
    /* A message type on a channel it may not use (DATA on channel 1, say) would be
     * refused by the codec at transmission, after the caller was told it was sent, and
     * the link would stall on it: refuse it here (RFC 3.5, MSG-DATA-2). */
    mp_hdr h = {.type = type, .chan = chan};
    if (type == MP_T_FRAGMENT || !void_position_ok(&h))
        return MC_EINVAL;
    int r = send_body(n, peer, chan, type, body, len, 0, now, cseq_out);
    if (r < 0)
        n->st.send_errors++;
    return r;
}

static int send_frame_raw(mc_node *n, uint32_t peer, const mp_frame *f, uint64_t now,
                          uint32_t *cseq_out)
{
    if (f->hdr.type == MP_T_DATA) {
        /* The payload is the body: no encoding needed, and a DATA message larger than a
         * frame's 16-bit length (it will be fragmented) could not be encoded whole. */
        int d = send_body(n, peer, f->hdr.chan, MP_T_DATA, f->u.data.ptr, f->u.data.len,
                          f->hdr.cseq, now, cseq_out);
        if (d < 0)
            n->st.send_errors++;
        return d;
    }
    int elen = mp_encoded_len(f);
    if (elen < 0)
        return MC_ECODEC;
    if ((size_t)elen < MP_SEQ_HDR_LEN)
        return MC_EINVAL;
    bool tmp = (size_t)elen > n->txcap;
    uint8_t *buf = tmp ? mc__alloc(n, (size_t)elen) : n->txbuf;
    if (!buf)
        return MC_ENOMEM;
    int r = mp_encode(f, buf, (size_t)elen);
    if (r >= 0)
        r = send_body(n, peer, f->hdr.chan, f->hdr.type, buf + MP_SEQ_HDR_LEN,
                      (size_t)r - MP_SEQ_HDR_LEN, f->hdr.cseq, now, cseq_out);
    else
        r = MC_ECODEC;
    if (tmp)
        mc__free(n, buf, (size_t)elen);
    if (r < 0)
        n->st.send_errors++;
    return r;
}

int mc_send_frame(mc_node *n, uint32_t peer, const mp_frame *f, uint64_t now, uint32_t *cseq_out)
{
    if (!n || !f || !MP_TYPE_IS_SEQUENCED(f->hdr.type))
        return MC_EINVAL;
    if (!core_numbered(n, f->hdr.chan))
        return MC_EINVAL;
    return send_frame_raw(n, peer, f, now, cseq_out);
}

/* ---- Failover ----------------------------------------------------------------------------------- */
void mc__failover(mc_node *n, mc_link *from, mc_unit *units, uint32_t count, uint64_t now)
{
    (void)now;
    uint32_t moved = 0, lost = 0;
    mc_link *to_any = NULL;
    mc_peer *p = from->peer;
    while (units) {
        mc_unit *u = units;
        units = u->next;
        mc_chan *c = u->ch;
        /* Re-pin once per channel: the first unit of a channel chooses, the rest of
         * its units follow in order, so the channel stays ordered on its new link. */
        if (!c->pin || c->pin == from || c->pin->state != MC_LS_ESTABLISHED)
            c->pin = mc__select_link(n, p, c->chan, from);
        if (!c->pin) {
            mc__unit_free(n, u, false);
            mc__drop(n, MC_DROP_PEER_LOST);
            lost++;
            continue;
        }
        backlog_append(c->pin, u);
        mc__mark_dirty(n, c->pin);
        to_any = c->pin;
        moved++;
    }
    (void)count;
    if (moved) {
        n->st.failovers++;
        n->st.msgs_failed_over += moved;
        mc_event ev = {.type = MC_EV_FAILOVER, .peer = p->node_id, .bearer = from->bearer->id,
                       .to_bearer = to_any ? to_any->bearer->id : -1, .count = moved};
        mc__emit(n, &ev);
    }
    if (lost) {
        mc_event ev = {.type = MC_EV_SEND_LOST, .peer = p->node_id, .count = lost};
        mc__emit(n, &ev);
    }
}

/* ---- Delivery ----------------------------------------------------------------------------------- */
/* A held "message" of this type is a tombstone: the channel position of a sequenced
 * frame whose body was invalid (RFC 3.7 step 3).  Type 0 is no sequenced type. */
#define MC_TOMBSTONE 0

static bool is_name_type(uint8_t t)
{
    return t == MP_T_NAME_PUBLISH || t == MP_T_NAME_WITHDRAW || t == MP_T_NAME_SYNC;
}

static bool is_path_frame(uint32_t chan, uint8_t t)
{
    return chan >= MP_CHAN_FIRST_PATH || t == MP_T_PATH_OPEN;
}

/* One whole message, in its turn. */
static void deliver_msg(mc_node *n, mc_peer *p, uint32_t chan, uint32_t cseq, uint8_t type,
                        const uint8_t *body, size_t len)
{
    n->st.delivered++;
    bool names = n->names && chan == MP_CHAN_NODE && is_name_type(type);
    bool paths = n->paths && is_path_frame(chan, type);
    if (names || paths) {
        mp_hdr h = {.type = type, .chan = chan, .cseq = cseq};
        mp_frame f;
        if (mp_body_decode(&h, body, len, &f) < 0) {
            mc__drop(n, MC_DROP_DECODE);
            return;
        }
        f.hdr = h;
        int r = names ? mn_apply(n->names, p->node_id, &f)
                      : mpa_input(n->paths, p->node_id, &f, n->now);
        if (r < 0)
            mc__drop(n, MC_DROP_UPPER);
        if (paths)
            mc__paths_repair(n);
        return;
    }
    mc_event ev = {.type = MC_EV_MESSAGE, .peer = p->node_id, .incarnation = p->incarnation,
                   .chan = chan, .cseq = cseq, .msg_type = type, .data = body, .len = len};
    mc__emit(n, &ev);
}

static void drain_held(mc_node *n, mc_chan *c)
{
    while (c->held && mp_seq32_le(c->held->cseq, c->rx_next)) {
        mc_heldmsg *h = c->held;
        c->held = h->next;
        n->n_held--;
        if (h->cseq == c->rx_next) {
            c->rx_next++;
            if (h->type != MC_TOMBSTONE)
                deliver_msg(n, c->peer, c->chan, h->cseq, h->type, h->body, h->len);
        } else {
            mc__drop(n, MC_DROP_DUP_CSEQ);
        }
        mc__free(n, h, h->asize);
    }
}

static void hold_msg(mc_node *n, mc_chan *c, uint32_t cseq, uint8_t type, const uint8_t *body,
                     size_t len)
{
    if (n->n_held >= n->cfg.max_held) {
        mc__drop(n, MC_DROP_HELD_FULL);
        n->rx_refused = true;
        return;
    }
    mc_heldmsg **pp = &c->held;
    while (*pp && mp_seq32_lt((*pp)->cseq, cseq))
        pp = &(*pp)->next;
    if (*pp && (*pp)->cseq == cseq) {
        mc__drop(n, MC_DROP_DUP_CSEQ);
        return;
    }
    size_t asize = sizeof(mc_heldmsg) + len;
    mc_heldmsg *h = mc__alloc(n, asize);
    if (!h) {
        mc__drop(n, MC_DROP_NOMEM);
        n->rx_refused = true;
        return;
    }
    h->cseq = cseq;
    h->type = type;
    h->len = (uint32_t)len;
    h->asize = asize;
    if (len)
        memcpy(h->body, body, len);
    h->next = *pp;
    *pp = h;
    c->n_held++;
    n->n_held++;
}

static void rx_msg(mc_node *n, mc_peer *p, uint32_t chan, uint32_t cseq, uint8_t type,
                   const uint8_t *body, size_t len)
{
    if (!core_numbered(n, chan)) {
        deliver_msg(n, p, chan, cseq, type, body, len);
        return;
    }
    mc_chan *c = mc__chan_get(n, p, chan, true);
    if (!c) {
        mc__drop(n, MC_DROP_NOMEM);
        n->rx_refused = true;
        return;
    }
    if (mp_seq32_lt(cseq, c->rx_next)) {
        mc__drop(n, MC_DROP_DUP_CSEQ); /* a copy resent after failover */
        return;
    }
    if (cseq != c->rx_next) {
        hold_msg(n, c, cseq, type, body, len);
        return;
    }
    c->rx_next++;
    deliver_msg(n, p, chan, cseq, type, body, len);
    drain_held(n, c);
}

/* A path channel is numbered by the path layer, not here: has it already taken cseq
 * from this peer (a copy resent after failover)? */
static bool path_has_taken(const mc_node *n, const mc_peer *p, uint32_t chan, uint32_t cseq)
{
    mpa_info pi;
    return n->paths && mpa_get_info(n->paths, chan, &pi) == MPA_OK && !pi.is_group &&
           pi.peer_node == p->node_id && mp_seq32_lt(cseq, pi.rx_next);
}

static void rx_fragment(mc_node *n, mc_link *l, mc_peer *p, const mp_frame *f)
{
    const mp_fragment *fr = &f->u.fragment;
    uint32_t chan = f->hdr.chan, cseq = f->hdr.cseq;
    l->st.fragments_rx++;
    mc_chan *c = mc__chan_get(n, p, chan, true);
    if (!c) {
        mc__drop(n, MC_DROP_NOMEM);
        n->rx_refused = true;
        return;
    }
    bool numbered = core_numbered(n, chan);
    if (numbered && mp_seq32_lt(cseq, c->rx_next)) {
        mc__drop(n, MC_DROP_DUP_CSEQ);
        return;
    }
    if (numbered && cseq != c->rx_next) {
        /* Fragments of one channel arrive in order; a later message's fragment before
         * the current one completes is a protocol error. */
        mc__drop(n, MC_DROP_FRAG_PROTO);
        return;
    }
    mc_reasm *r = c->reasm;
    if (r && r->cseq != cseq) {
        /* After a failover the resent copy of a message the path already has can
         * arrive in the middle of the next message's series, whose first fragments
         * came (and were acknowledged) on the old link: keep that series. */
        if (!numbered && path_has_taken(n, p, chan, cseq)) {
            mc__drop(n, MC_DROP_DUP_CSEQ);
            return;
        }
        if (fr->offset != 0) {
            /* Path channel (a numbered one cannot get here): the tail of an earlier
             * message resent after failover, ahead of the resent start of this one. */
            mc__drop(n, MC_DROP_DUP_CSEQ);
            return;
        }
        reasm_free(n, c); /* path channel: the previous series was a resent duplicate */
        r = NULL;
    }
    if (!r) {
        if (fr->offset != 0) {
            /* The tail of a message already delivered, resent after failover. */
            mc__drop(n, MC_DROP_DUP_CSEQ);
            return;
        }
        if (n->n_reasm >= n->cfg.max_reassemblies) {
            /* Refused, not consumed: the peer resends it once a reassembly ends. */
            mc__drop(n, MC_DROP_REASM_LIMIT);
            n->rx_refused = true;
            return;
        }
        r = mc__alloc(n, sizeof *r);
        if (!r) {
            mc__drop(n, MC_DROP_NOMEM);
            n->rx_refused = true;
            return;
        }
        memset(r, 0, sizeof *r);
        r->cseq = cseq;
        r->total = fr->total_len;
        r->inner_type = fr->inner_type;
        if (fr->total_len > n->cfg.max_message) {
            /* Swallow the series so the channel moves on; the message is counted lost. */
            r->discard = true;
            mc__drop(n, MC_DROP_TOO_BIG);
        } else if (!(r->buf = mc__alloc(n, r->total))) {
            mc__free(n, r, sizeof *r);
            mc__drop(n, MC_DROP_NOMEM);
            n->rx_refused = true;
            return;
        }
        c->reasm = r;
        uint64_t due = n->now + (uint64_t)n->cfg.reasm_timeout_ms * MC_NS_PER_MS;
        if (!n->n_reasm++ || due < n->reasm_check_at)
            n->reasm_check_at = due;
    }
    if (fr->offset < r->got) {
        mc__drop(n, MC_DROP_DUP_CSEQ);
        return;
    }
    if (fr->offset > r->got || fr->total_len != r->total || fr->inner_type != r->inner_type ||
        fr->data.len > r->total - r->got) {
        mc__drop(n, MC_DROP_FRAG_PROTO);
        return;
    }
    if (!r->discard)
        memcpy(r->buf + r->got, fr->data.ptr, fr->data.len);
    r->got += (uint32_t)fr->data.len;
    r->touched = n->now;
    if (r->got < r->total)
        return;
    /* Complete: detach first, since delivery may re-enter mc_send for this channel. */
    c->reasm = NULL;
    n->n_reasm--;
    if (numbered)
        c->rx_next++;
    if (!r->discard) {
        /* A reassembled body is validated like a whole frame's (MSG-FRAG-12): if it
         * fails, it is discarded and counted, and its cseq stays consumed. */
        mp_hdr bh = {.type = r->inner_type, .chan = chan, .cseq = cseq};
        mp_frame bf;
        if (mp_body_decode(&bh, r->buf, r->total, &bf) < 0) {
            mc__drop(n, MC_DROP_DECODE);
            if (!numbered && n->paths)
                (void)mpa_input_void(n->paths, p->node_id, chan, cseq);
        } else {
            deliver_msg(n, p, chan, cseq, r->inner_type, r->buf, r->total);
        }
    }
    if (r->buf)
        mc__free(n, r->buf, r->total);
    mc__free(n, r, sizeof *r);
    if (numbered)
        drain_held(n, c);
}

/* May the chan/cseq of a sequenced frame whose body failed to decode be trusted as a
 * channel position?  Only for an assigned message type (or a FRAGMENT, which carries its
 * message's chan/cseq) on a channel that type may use (RFC 3.5; the decoder's own
 * channel check may not have run when it failed earlier, at MP_ELENGTH).  An unassigned
 * type or a BUNDLE (no position of its own) consumes only its link sequence number. */
static bool void_position_ok(const mp_hdr *h)
{
    uint32_t chan = h->chan;
    if (!MP_TYPE_IS_SEQUENCED(h->type) || h->type == MP_T_BUNDLE || !mp_type_name(h->type))
        return false;
    if (chan > MP_CHAN_MINET && chan < MP_CHAN_FIRST_PATH)
        return false; /* reserved node-level channels */
    bool path = chan >= MP_CHAN_FIRST_PATH;
    switch (h->type) {
    case MP_T_DATA:
    case MP_T_PATH_CLOSE:
    case MP_T_PATH_ABORT:
    case MP_T_PATH_CREDIT:
        return path;
    case MP_T_PATH_ACCEPT:
        return path && h->cseq == 0;
    case MP_T_MINET:
        return chan == MP_CHAN_MINET;
    case MP_T_NAME_PUBLISH:
    case MP_T_NAME_WITHDRAW:
    case MP_T_NAME_SYNC:
    case MP_T_PATH_OPEN:
        return chan == MP_CHAN_NODE;
    case MP_T_SERVICE_STATUS:
    case MP_T_MGMT:
        return chan == MP_CHAN_NODE || path;
    default: /* FRAGMENT: its inner type is in the (invalid) body */
        return true;
    }
}

/* Consume (peer, chan, cseq) without delivering anything: a tombstone. */
static void rx_void(mc_node *n, mc_peer *p, uint32_t chan, uint32_t cseq)
{
    mc_chan *c = mc__chan_get(n, p, chan, core_numbered(n, chan));
    if (c && c->reasm && c->reasm->cseq == cseq)
        reasm_free(n, c); /* an invalid fragment ends its series (MSG-FRAG-12) */
    if (!core_numbered(n, chan)) {
        if (n->paths) {
            (void)mpa_input_void(n->paths, p->node_id, chan, cseq);
            mc__paths_repair(n);
        }
        return;
    }
    if (!c) {
        mc__drop(n, MC_DROP_NOMEM);
        n->rx_refused = true;
        return;
    }
    if (mp_seq32_lt(cseq, c->rx_next))
        return; /* a copy of a position already consumed (resent after failover) */
    if (cseq != c->rx_next) {
        hold_msg(n, c, cseq, MC_TOMBSTONE, NULL, 0);
        return;
    }
    c->rx_next++;
    drain_held(n, c);
}

void mc__deliver_frame(mc_node *n, mc_link *l, const uint8_t *buf, size_t len, uint64_t now)
{
    (void)now;
    mp_frame f;
    int r = mp_decode(buf, len, &f);
    if (r < 0) {
        /* The sequence number is consumed (and acknowledged) either way, so a frame we
         * cannot interpret never stalls the link.  Its channel position is consumed
         * too, when the header names one we can trust: otherwise the channel would
         * wait for that cseq for ever (RFC 3.7 step 3, MSG-HDR-14). */
        mp_hdr h;
        bool hdr_ok = mp_hdr_decode(buf, len, &h) >= 0; /* it did in mc_input */
        mc__drop(n, r == MP_ETYPE && hdr_ok && !mp_type_name(h.type) ? MC_DROP_SEQ_TYPE
                                                                     : MC_DROP_DECODE);
        if (hdr_ok && r != MP_ECHANNEL && void_position_ok(&h))
            rx_void(n, l->peer, h.chan, h.cseq);
        return;
    }
    mc_peer *p = l->peer;
    switch (f.hdr.type) {
    case MP_T_BUNDLE: {
        l->st.bundles_rx++;
        size_t pos = 0, before = 0;
        mp_frame m;
        while ((r = mp_bundle_next(&f.u.bundle, &pos, &m)) > 0) {
            /* Member = 12-byte inner header + body (wire.h); the codec has validated it. */
            const uint8_t *body = f.u.bundle.members.ptr + before + MP_INNER_HDR_LEN;
            size_t blen = pos - before - MP_INNER_HDR_LEN;
            rx_msg(n, p, m.hdr.chan, m.hdr.cseq, m.hdr.type, body, blen);
            before = pos;
            if (!p->up)
                return;
        }
        if (r < 0)
            mc__drop(n, MC_DROP_DECODE);
        break;
    }
    case MP_T_FRAGMENT:
        rx_fragment(n, l, p, &f);
        break;
    default:
        rx_msg(n, p, f.hdr.chan, f.hdr.cseq, f.hdr.type, buf + MP_SEQ_HDR_LEN,
               (size_t)r - MP_SEQ_HDR_LEN);
        break;
    }
}

/* ---- Peers ------------------------------------------------------------------------------------ */
static int sync_emit(void *user, const mp_frame *chunk)
{
    mc_node *n = user;
    mp_frame f = *chunk;
    f.hdr.chan = MP_CHAN_NODE;
    int r = send_frame_raw(n, n->sync_peer->node_id, &f, n->now, NULL);
    if (r < 0 && !n->sync_err)
        n->sync_err = r;
    return 0;
}

#define MC_SYNC_SCRATCH 8

static void name_sync_to(mc_node *n, mc_peer *p)
{
    if (!n->names)
        return;
    size_t sz = MC_SYNC_SCRATCH * sizeof(mp_name_rec);
    mp_name_rec *scratch = mc__alloc(n, sz);
    if (!scratch) {
        n->st.send_errors++;
        return;
    }
    n->sync_peer = p;
    n->sync_err = 0;
    (void)mn_sync_build(n->names, peer_mtu(n, p), scratch, MC_SYNC_SCRATCH, sync_emit, n);
    n->sync_peer = NULL;
    mc__free(n, scratch, sz);
}

void mc__peer_link_up(mc_node *n, mc_peer *p, mc_link *l, uint64_t now)
{
    (void)l;
    (void)now;
    if (p->up)
        return;
    p->up = true;
    n->n_peers_up++;
    n->st.peers_up++;
    mc_event ev = {.type = MC_EV_PEER_UP, .peer = p->node_id, .incarnation = p->incarnation,
                   .bearer = l->bearer->id};
    mc__emit(n, &ev);
    name_sync_to(n, p);
}

/* A sender puts a message's fragments back to back on one reliable channel, so a
 * reassembly that hears nothing for the reassembly timeout while the link is up means a
 * peer that will never finish it.  Holding the memory for ever, or dropping the partial
 * message and moving on, would each break a promise (bounded memory, exactly-once); the
 * RFC's answer is to declare the peer lost (MSG-FRAG-15), which purges and restarts the
 * channels on both ends.  The scan runs only when the earliest timeout is due. */
void mc__reasm_expire(mc_node *n, uint64_t now)
{
    const uint64_t to = (uint64_t)n->cfg.reasm_timeout_ms * MC_NS_PER_MS;
    uint64_t next = MC_NEVER;
    for (uint32_t i = 0; i < n->peers.nb; i++) {
        for (mc_hnode *h = n->peers.b[i]; h; h = h->next) {
            mc_peer *p = (mc_peer *)h;
            bool stale = false;
            for (mc_chan *c = p->chans; c; c = c->pnext) {
                if (!c->reasm)
                    continue;
                if (now - c->reasm->touched >= to)
                    stale = true;
                else if (c->reasm->touched + to < next)
                    next = c->reasm->touched + to;
            }
            if (!stale)
                continue;
            if (!p->up) { /* no link up: nothing will come; the memory goes now */
                for (mc_chan *c = p->chans; c; c = c->pnext)
                    if (c->reasm && now - c->reasm->touched >= to)
                        reasm_free(n, c);
                continue;
            }
            n->st.reasm_timeouts++;
            /* The last link going down purges the peer's channels, this reassembly with
             * them, and announces the loss (PEER_EPOCH) since it is our decision. */
            for (mc_link *l = p->links, *nx; l; l = nx) {
                nx = l->pnext;
                if (l->state == MC_LS_ESTABLISHED)
                    mc__link_down(n, l, MC_DOWN_REASM, false, now);
            }
        }
    }
    n->reasm_check_at = next;
}

void mc__peer_link_down(mc_node *n, mc_peer *p, int link_reason, uint64_t now)
{
    if (!p->up)
        return;
    for (mc_link *l = p->links; l; l = l->pnext)
        if (l->state == MC_LS_ESTABLISHED)
            return;
    /* Every last-link loss is our decision to purge, whatever took the link down, and is
     * announced (a later PEER_EPOCH): a peer that reset one link may still hold another
     * it thinks established and would fail our unacknowledged traffic over to it into
     * channel state we have just reset (RFC 7.7).  No purge ping-pong follows, because
     * after the purge below no endpoint of ours can be set up without the peer first
     * seeing that epoch (and purging), so its purge never resets a link we set up since. */
    (void)link_reason;
    n->announce_loss = true;
    mc__peer_lost(n, p, MC_DOWN_LAST_LINK, now);
    n->announce_loss = false;
}

void mc__peer_lost(mc_node *n, mc_peer *p, int reason, uint64_t now)
{
    bool was_up = p->up;
    p->up = false; /* first: the link resets below must not come back here */
    if (was_up && reason == MC_DOWN_LAST_LINK && n->announce_loss) {
        /* We decided the peer is lost: from now on our setup frames say so (RFC 7.7),
         * so that the peer purges too even if its links to us never went down.  A loss
         * the peer caused or told us of (or its restart) is not ours to announce. */
        p->epoch_out = ++n->loss_epoch;
    }
    if (reason == MC_DOWN_INCARNATION) {
        /* Setup frames of the old incarnation are void: every endpoint starts over. */
        for (mc_link *l = p->links; l; l = l->pnext) {
            if (l->state != MC_LS_RESET || l->peer_session_known)
                mc__link_down(n, l, MC_DOWN_INCARNATION, false, now);
            l->floor_set = l->prev_known = false; /* new life, new session numbering */
        }
    } else if (reason == MC_DOWN_LAST_LINK) {
        /* Every peer session seen so far is from before this purge (RFC 7.7). */
        for (mc_link *l = p->links; l; l = l->pnext) {
            bool known = l->peer_session_known || l->prev_known;
            uint16_t s = l->peer_session_known ? l->peer_session : l->prev_peer_session;
            if (known && (!l->floor_set || mp_seq16_lt(l->session_floor, s))) {
                l->session_floor = s;
                l->floor_set = true;
            }
        }
        /* An endpoint still setting up learned the peer's session before this purge, and
         * the peer has not purged yet: a sequenced frame on it (row 17) could carry a
         * message we delivered before, into channel state that starts again at 0.  One
         * in RESET whose session the peer has seen could be completed by an ACTIVATE the
         * peer sent before it learned of this purge.  Both start over with a later
         * session, so only a handshake that carries our new epoch sets them up. */
        for (mc_link *l = p->links; l; l = l->pnext)
            if (l->state == MC_LS_ESTABLISHING || (l->state == MC_LS_RESET && l->session_told))
                mc__link_start_reset(n, l, now);
    } else if (reason == MC_DOWN_PEER_EPOCH) {
        /* The peer has purged us: what was established with it is stale, without
         * failover.  Endpoints still setting up go on with the handshake (resetting
         * them would reset the peer's fresh links in turn), but the peer session they
         * learned before the purge may be one whose late frames carry messages from
         * before it: only a setup frame learned from now on may set them up, never a
         * LINK_STATE or a sequenced frame of that session (rows 15, 17). */
        for (mc_link *l = p->links; l; l = l->pnext) {
            if (l->state == MC_LS_ESTABLISHED)
                mc__link_down(n, l, MC_DOWN_PEER_EPOCH, false, now);
            else if (l->state == MC_LS_ESTABLISHING)
                l->learned_stale = true;
        }
    }
    /* Channel sequences restart at 0 with the peer's next life. */
    mc__chan_purge_peer(n, p);
    p->queued_bytes = 0;
    if (!was_up)
        return;
    n->n_peers_up--;
    n->st.peers_down++;
    mc_event ev = {.type = MC_EV_PEER_DOWN, .peer = p->node_id, .incarnation = p->incarnation,
                   .reason = reason};
    mc__emit(n, &ev);
    if (n->paths)
        mpa_peer_lost(n->paths, p->node_id);
    if (n->names)
        mn_purge_node(n->names, p->node_id);
}

/* ---- Naming API -------------------------------------------------------------------------------- */
static void send_to_all_up(mc_node *n, const mp_frame *f, uint64_t now)
{
    for (uint32_t i = 0; i < n->peers.nb; i++)
        for (mc_hnode *e = n->peers.b[i]; e; e = e->next) {
            mc_peer *p = (mc_peer *)e;
            if (p->up)
                (void)send_frame_raw(n, p->node_id, f, now, NULL);
        }
}

int mc_publish(mc_node *n, const mp_name_rec *rec, uint64_t now)
{
    if (!n || !rec)
        return MC_EINVAL;
    if (!n->names)
        return MC_ENOTSUP;
    if (now > n->now)
        n->now = now;
    mp_frame f;
    int r = mn_publish(n->names, rec, &f);
    if (r < 0)
        return r == MN_ENOMEM ? MC_ENOMEM : r == MN_ELIMIT ? MC_ELIMIT : MC_EINVAL;
    f.hdr.chan = MP_CHAN_NODE;
    send_to_all_up(n, &f, now);
    return MC_OK;
}

int mc_withdraw(mc_node *n, uint32_t device_id, const char *name, uint64_t now)
{
    if (!n || !name)
        return MC_EINVAL;
    if (!n->names)
        return MC_ENOTSUP;
    if (now > n->now)
        n->now = now;
    mp_frame f;
    int r = mn_withdraw(n->names, device_id, (const uint8_t *)name, strlen(name), &f);
    if (r < 0)
        return r == MN_ENOENT ? MC_ENOENT : MC_EINVAL;
    f.hdr.chan = MP_CHAN_NODE;
    send_to_all_up(n, &f, now);
    return MC_OK;
}

/* ---- Paths -------------------------------------------------------------------------------------- */
static void *mpa_alloc_adapter(void *user, size_t size) { return mc__alloc(user, size); }
static void mpa_free_adapter(void *user, void *p, size_t size) { mc__free(user, p, size); }

static void mpa_action_adapter(void *user, const mpa_action *a)
{
    mc_node *n = user;
    if (a->type == MPA_ACT_SEND) {
        /* Path frames keep the path layer's cseq; PATH_OPEN (chan 0) gets ours. */
        if (send_frame_raw(n, a->node, a->frame, n->now, NULL) < 0) {
            n->st.send_errors++;
            /* A lost PATH_OPEN (channel 0, numbered by us) ends in the open timeout.  A
             * lost frame on a path channel is a hole the peer never gets past: recorded
             * (no mpa_ call from here) for mc__paths_repair.  The earliest holes matter
             * (the first one stops the peer), so beyond 8 the later ones are not kept. */
            if (a->frame->hdr.chan >= MP_CHAN_FIRST_PATH && a->path &&
                n->n_path_holes < sizeof n->path_holes / sizeof n->path_holes[0])
                n->path_holes[n->n_path_holes++] = (struct mc_path_hole){
                    a->path, a->node, a->frame->hdr.chan, a->frame->hdr.cseq};
        }
        return;
    }
    mc_event ev = {.peer = a->node, .path = a->path, .group = a->group, .device = a->device,
                   .peer_device = a->peer_device};
    switch (a->type) {
    case MPA_ACT_DELIVER:
        ev.type = MC_EV_PATH_MSG;
        ev.msg_type = a->frame ? a->frame->hdr.type : MP_T_DATA;
        ev.cseq = a->cseq;
        ev.data = a->payload.ptr;
        ev.len = a->payload.len;
        break;
    case MPA_ACT_STATUS:
        ev.type = MC_EV_PATH_STATE;
        ev.path_state = a->state;
        ev.reason = a->reason;
        break;
    case MPA_ACT_OPEN_REQUEST:
        ev.type = MC_EV_PATH_REQUEST;
        break;
    default:
        return;
    }
    mc__emit(n, &ev);
}

/* MSG-PATH-25: a PATH_OPEN's name must be a name this node publishes for the target
 * device (exactly for UNICAST; for the other kinds the opener's name is a pattern). */
typedef struct name_fit {
    uint32_t device;
    const uint8_t *pat;
    size_t plen;
    bool found;
} name_fit;

static int name_fit_visit(void *user, const mn_entry *e)
{
    name_fit *f = user;
    if (e->device_id == f->device && mp_pattern_match(f->pat, f->plen, e->name, e->name_len)) {
        f->found = true;
        return 1;
    }
    return 0;
}

static int paths_name_ok(void *user, uint32_t device, const uint8_t *name, size_t len,
                         bool pattern)
{
    mc_node *n = user;
    if (!n->names)
        return 1; /* naming off: nothing to check against */
    if (!pattern)
        return mn_find(n->names, n->cfg.node_id, device, name, len) != NULL;
    name_fit f = {device, name, len, false};
    mn_foreach_node(n->names, n->cfg.node_id, name_fit_visit, &f);
    return f.found;
}

int mc__paths_init(mc_node *n)
{
    mpa_config pc = {
        .alloc = {mpa_alloc_adapter, mpa_free_adapter, n},
        .on_action = mpa_action_adapter,
        .action_user = n,
        .name_ok = paths_name_ok,
        .name_user = n,
    };
    return mpa_create(&pc, &n->paths) == MPA_OK ? MC_OK : MC_ENOMEM;
}

static int mpa_err_map(int r)
{
    switch (r) {
    case MPA_OK: return MC_OK;
    case MPA_ENOMEM: return MC_ENOMEM;
    case MPA_ELIMIT: return MC_ELIMIT;
    case MPA_ENOPATH: case MPA_ENODEV: return MC_ENOENT;
    case MPA_ESTATE: return MC_ESTATE;
    case MPA_ENOCREDIT: return MC_EAGAIN;
    case MPA_EEXIST: return MC_EEXIST;
    default: return r >= 0 ? r : MC_EINVAL;
    }
}

/* A path frame that could not be queued is a message lost on an exactly-once path, and
 * a hole before every later frame of it: the peer would hold them, and wait, for ever
 * (even a PATH_ABORT numbered after the hole).  So the hole itself is filled with a
 * PATH_ABORT (exempt from credit, so any position may carry it) and the path is aborted
 * here too: both ends see BROKEN (MP_R_NO_RESOURCES), nothing is lost silently.  A filler
 * that cannot be queued either stays recorded and is tried again at the next call; one
 * for a peer that is no longer up is dropped (the peer's loss broke its paths).  Runs
 * after every call into the path layer: the API below, frame input, and mc_flush (which
 * covers mc_timeout and the mpa_ calls an application makes through mc_paths()). */
void mc__paths_repair(mc_node *n)
{
    struct mc_path_hole h[sizeof n->path_holes / sizeof n->path_holes[0]];
    uint8_t k = n->n_path_holes;
    memcpy(h, n->path_holes, k * sizeof h[0]);
    n->n_path_holes = 0;
    for (uint8_t i = 0; i < k; i++) {
        if (!mc_peer_is_up(n, h[i].node))
            continue;
        mp_frame f;
        memset(&f, 0, sizeof f);
        f.hdr.version = MP_VERSION;
        f.hdr.type = MP_T_PATH_ABORT;
        f.hdr.chan = h[i].chan;
        f.hdr.cseq = h[i].cseq;
        f.u.abort_.dst_path = h[i].chan;
        f.u.abort_.src_path = h[i].path;
        f.u.abort_.error = MP_R_NO_RESOURCES;
        if (send_frame_raw(n, h[i].node, &f, n->now, NULL) < 0 &&
            n->n_path_holes < sizeof n->path_holes / sizeof n->path_holes[0])
            n->path_holes[n->n_path_holes++] = h[i];
    }
    /* Our end: its own PATH_ABORT goes after the hole, too late to matter but harmless;
     * a path that has ended already refuses (MPA_ESTATE), which ends the repair. */
    for (uint8_t i = 0; i < k; i++)
        (void)mpa_abort(n->paths, h[i].path, MP_R_NO_RESOURCES);
}

void *mc_paths(mc_node *n) { return n ? n->paths : NULL; }

int mc_path_device_add(mc_node *n, uint32_t device, uint32_t flags)
{
    if (!n || !n->paths)
        return n ? MC_ENOTSUP : MC_EINVAL;
    return mpa_err_map(mpa_device_add(n->paths, device,
                                      flags & MC_DEV_AUTO_ACCEPT ? MPA_DEV_AUTO_ACCEPT : 0, 0,
                                      0));
}

int mc_path_open(mc_node *n, uint32_t local_device, uint32_t peer, uint32_t peer_device,
                 uint64_t now, uint32_t *path)
{
    if (!n || !n->paths)
        return n ? MC_ENOTSUP : MC_EINVAL;
    if (now > n->now)
        n->now = now;
    if (!mc_peer_is_up(n, peer))
        return MC_ENOTCONN;
    mpa_open_args a;
    memset(&a, 0, sizeof a);
    a.local_device = local_device;
    a.peer.node = peer;
    a.peer.device = peer_device;
    a.pkind = MP_PK_UNICAST;
    return mpa_err_map(mpa_open(n->paths, &a, now, path));
}

int mc_path_accept(mc_node *n, uint32_t path)
{
    if (!n || !n->paths)
        return n ? MC_ENOTSUP : MC_EINVAL;
    int r = mpa_err_map(mpa_accept(n->paths, path, 0));
    mc__paths_repair(n);
    return r;
}

int mc_path_send(mc_node *n, uint32_t path, const void *payload, size_t len, uint64_t now)
{
    if (!n || !n->paths)
        return n ? MC_ENOTSUP : MC_EINVAL;
    if (now > n->now)
        n->now = now;
    uint8_t holes = n->n_path_holes;
    int r = mpa_send(n->paths, path, payload, len);
    /* Numbered but not queued: the path is aborted, and the caller learns that the
     * message did not go.  A group member is aborted like a member that ended: the
     * group's other members have the message, so for the group it went. */
    bool lost = false;
    for (uint8_t i = holes; i < n->n_path_holes; i++)
        lost |= n->path_holes[i].path == path;
    mc__paths_repair(n);
    return r < 0 ? mpa_err_map(r) : lost ? MC_ENOMEM : MC_OK;
}

int mc_path_consume(mc_node *n, uint32_t path, uint32_t count, uint64_t now)
{
    if (!n || !n->paths)
        return n ? MC_ENOTSUP : MC_EINVAL;
    if (now > n->now)
        n->now = now;
    int r = mpa_err_map(mpa_consume(n->paths, path, count));
    mc__paths_repair(n);
    return r;
}

int mc_path_close(mc_node *n, uint32_t path, uint64_t now)
{
    if (!n || !n->paths)
        return n ? MC_ENOTSUP : MC_EINVAL;
    if (now > n->now)
        n->now = now;
    int r = mpa_err_map(mpa_close(n->paths, path, MP_R_APP_CLOSE, now));
    mc__paths_repair(n);
    return r;
}
