/*
 * port.c — MINET glue: one mc_node, one switch, one TAP.
 *
 * TAP -> peers: the frame is read just behind a 12-byte gap, the MINET header is written
 * into the gap, and header + frame go to mc_send() as the message body (type MINET,
 * channel 1): a 64 KiB GSO super-frame is one message, which the core fragments for the
 * smallest bearer MTU and carries reliably and in order across link failover.
 *
 * Backpressure: when the core's queue for a peer is full (MC_EAGAIN) a unicast frame is
 * held and the caller stops reading the TAP until mnet_port_retry() gets it out; the
 * kernel then queues in the TAP (txqueuelen) and TCP slows down instead of losing.
 * Flooded copies that do not fit are dropped (counted): they are broadcasts/unknowns.
 *
 * peers -> TAP: a MINET message from the core is decoded, learned from (source MAC ->
 * node) and written to the TAP with its offload metadata; the kernel segments GSO frames
 * and completes checksums.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc.h"
#include "mnet.h"
#include "mp/mp.h"
#include "mp/wire.h"

#define MINET_BODY_HDR 12u                     /* MINET body header (after the seq header) */
#define TAP_BUF (MINET_BODY_HDR + 65536u + 256u) /* largest GSO frame + slack */

struct mnet_port {
    mc_node *node;
    mnet_sw *sw;
    mnet_tap *tap;
    uint16_t domain;
    uint8_t *buf;          /* MINET header gap + frame read from the TAP */
    size_t pending_len;    /* > 0: a unicast message (buf) waits for pending_peer */
    uint32_t pending_peer;
    mnet_deliver_fn deliver;
    void *deliver_user;
    uint32_t nodes[MNET_MAX_PEERS];
    mnet_port_stats st;
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

int mnet_port_create(mc_node *node, mnet_sw *sw, mnet_tap *tap, uint16_t domain,
                     mnet_port **out)
{
    if (!node || !sw || !out)
        return MNET_EINVAL;
    mnet_port *p = calloc(1, sizeof *p);
    if (!p)
        return MNET_ENOMEM;
    p->buf = malloc(TAP_BUF);
    if (!p->buf) {
        free(p);
        return MNET_ENOMEM;
    }
    p->node = node;
    p->sw = sw;
    p->tap = tap;
    p->domain = domain;
    *out = p;
    return MNET_OK;
}

void mnet_port_destroy(mnet_port *p)
{
    if (!p)
        return;
    free(p->buf);
    free(p);
}

void mnet_port_set_deliver(mnet_port *p, mnet_deliver_fn fn, void *user)
{
    if (!p)
        return;
    p->deliver = fn;
    p->deliver_user = user;
}

bool mnet_port_wants_tap(const mnet_port *p) { return p && p->pending_len == 0; }

/* buf[0..12) <- MINET header; the frame is at buf + 12. */
static void put_hdr(uint8_t *h, const mnet_meta *m, bool flood, uint16_t domain)
{
    bool off = m && (m->mflags & MP_MFLAG_OFFLOAD);
    h[0] = (uint8_t)((off ? m->mflags & (MP_MFLAG_OFFLOAD | MP_MFLAG_NEEDS_CSUM) : 0) |
                     (flood ? MP_MFLAG_FLOOD : 0));
    h[1] = off ? m->gso_type : 0;
    put16(h + 2, off ? m->hdr_len : 0);
    put16(h + 4, off ? m->gso_size : 0);
    put16(h + 6, off ? m->csum_start : 0);
    put16(h + 8, off ? m->csum_offset : 0);
    put16(h + 10, domain);
}

/* buf holds header + frame (len = whole body). */
static int send_buf(mnet_port *p, size_t len, const mnet_meta *meta, uint64_t now)
{
    const uint8_t *eth = p->buf + MINET_BODY_HDR;
    size_t elen = len - MINET_BODY_HDR;
    bool flood = false;
    int n = mnet_sw_tx(p->sw, eth, elen, now, p->nodes, MNET_MAX_PEERS, &flood);
    if (n <= 0)
        return n;
    put_hdr(p->buf, meta, flood, p->domain);
    for (int i = 0; i < n; i++) {
        /* A peer that did not announce MINET is not part of the domain (MSG-MINET-5). */
        if (!(mc_peer_caps(p->node, p->nodes[i]) & MP_CAP_MINET)) {
            p->st.tx_nocap++;
            continue;
        }
        int r = mc_send(p->node, p->nodes[i], MP_CHAN_MINET, MP_T_MINET, p->buf, len, now, NULL);
        if (r == MC_OK) {
            p->st.msgs_tx++;
        } else if (r == MC_EAGAIN && !flood) {
            p->pending_len = len;
            p->pending_peer = p->nodes[i];
            p->st.send_blocked++;
            return MNET_EAGAIN;
        } else {
            p->st.send_drop++;
        }
    }
    return n;
}

int mnet_port_retry(mnet_port *p, uint64_t now)
{
    if (!p)
        return MNET_EINVAL;
    if (!p->pending_len)
        return MNET_OK;
    int r = mc_send(p->node, p->pending_peer, MP_CHAN_MINET, MP_T_MINET, p->buf, p->pending_len,
                    now, NULL);
    if (r == MC_EAGAIN)
        return MNET_EAGAIN;
    if (r == MC_OK)
        p->st.msgs_tx++;
    else
        p->st.send_drop++; /* peer gone meanwhile */
    p->pending_len = 0;
    return MNET_OK;
}

int mnet_port_send(mnet_port *p, const uint8_t *eth, size_t len, const mnet_meta *meta,
                   uint64_t now)
{
    if (!p || !eth)
        return MNET_EINVAL;
    if (p->pending_len)
        return MNET_EAGAIN;
    if (len < MP_MINET_MIN_ETH)
        return MNET_ESHORT;
    if (len > TAP_BUF - MINET_BODY_HDR)
        return MNET_EINVAL;
    memcpy(p->buf + MINET_BODY_HDR, eth, len);
    int r = send_buf(p, len + MINET_BODY_HDR, meta, now);
    return r == MNET_EAGAIN ? MNET_OK : r; /* held: it goes out at mnet_port_retry */
}

int mnet_port_on_tap(mnet_port *p, uint64_t now, unsigned budget)
{
    if (!p || !p->tap)
        return MNET_EINVAL;
    int done = 0;
    while (budget-- && !p->pending_len) {
        mnet_meta meta;
        int n = mnet_tap_read(p->tap, p->buf + MINET_BODY_HDR, TAP_BUF - MINET_BODY_HDR, &meta);
        if (n == MNET_EAGAIN)
            break;
        if (n < 0) {
            p->st.tap_rx_errors++;
            if (n != MNET_ESHORT)
                break;
            continue;
        }
        done++;
        p->st.tap_rx_frames++;
        p->st.tap_rx_bytes += (uint64_t)n;
        if (meta.gso_type != MP_GSO_NONE)
            p->st.tap_rx_gso++;
        if ((size_t)n < MP_MINET_MIN_ETH)
            continue;
        (void)send_buf(p, (size_t)n + MINET_BODY_HDR, &meta, now);
    }
    return done;
}

int mnet_port_on_event(mnet_port *p, const mc_event *ev)
{
    if (!p || !ev)
        return 0;
    switch (ev->type) {
    case MC_EV_PEER_UP:
        (void)mnet_sw_peer_up(p->sw, ev->peer);
        return 0;
    case MC_EV_PEER_DOWN:
        mnet_sw_peer_down(p->sw, ev->peer);
        if (p->pending_len && p->pending_peer == ev->peer) {
            p->pending_len = 0;
            p->st.send_drop++;
        }
        return 0;
    case MC_EV_MESSAGE:
        break;
    default:
        return 0;
    }
    if (ev->msg_type != MP_T_MINET)
        return 0;
    p->st.msgs_rx++;
    if (ev->chan != MP_CHAN_MINET) {
        p->st.rx_wrong_chan++;
        return 1;
    }
    mp_hdr h = {.type = MP_T_MINET, .chan = MP_CHAN_MINET, .cseq = ev->cseq};
    mp_frame f;
    if (mp_body_decode(&h, ev->data, ev->len, &f) < 0) {
        p->st.rx_decode_errors++;
        return 1;
    }
    const mp_minet *m = &f.u.minet;
    if (mnet_sw_rx(p->sw, ev->peer, m->domain, m->mflags, m->eth.ptr, m->eth.len, ev->now) != 1)
        return 1;
    mnet_meta meta = {0};
    if (m->mflags & MP_MFLAG_OFFLOAD) { /* else ignore the fields [MSG-MINET-6] */
        meta.mflags = m->mflags & (MP_MFLAG_OFFLOAD | MP_MFLAG_NEEDS_CSUM);
        meta.gso_type = m->gso_type;
        meta.hdr_len = m->hdr_len;
        meta.gso_size = m->gso_size;
        meta.csum_start = m->csum_start;
        meta.csum_offset = m->csum_offset;
    }
    if (p->deliver) {
        p->deliver(p->deliver_user, ev->peer, m->eth.ptr, m->eth.len, &meta);
        p->st.tap_tx_frames++;
        p->st.tap_tx_bytes += m->eth.len;
        return 1;
    }
    if (!p->tap)
        return 1;
    if (mnet_tap_write(p->tap, m->eth.ptr, m->eth.len, &meta) < 0) {
        p->st.tap_tx_errors++;
    } else {
        p->st.tap_tx_frames++;
        p->st.tap_tx_bytes += m->eth.len;
    }
    return 1;
}

void mnet_port_get_stats(const mnet_port *p, mnet_port_stats *out)
{
    if (p && out)
        *out = p->st;
}

int mnet_port_format(const mnet_port *p, uint64_t now, char *out, size_t cap)
{
    if (!p || (!out && cap))
        return MNET_EINVAL;
    int n = mnet_sw_format(p->sw, now, out, cap);
    if (n < 0)
        return n;
    size_t used = (size_t)n;
    const mnet_port_stats *s = &p->st;
    int k = snprintf(used < cap ? out + used : NULL, used < cap ? cap - used : 0,
                     "MINET port %s: tap_rx %llu (%llu bytes, %llu gso) tap_tx %llu (%llu bytes) "
                     "tap_tx_errors %llu tap_rx_errors %llu msgs_tx %llu msgs_rx %llu "
                     "send_blocked %llu send_drop %llu decode_errors %llu wrong_chan %llu\n",
                     p->tap ? mnet_tap_name(p->tap) : "-",
                     (unsigned long long)s->tap_rx_frames, (unsigned long long)s->tap_rx_bytes,
                     (unsigned long long)s->tap_rx_gso, (unsigned long long)s->tap_tx_frames,
                     (unsigned long long)s->tap_tx_bytes, (unsigned long long)s->tap_tx_errors,
                     (unsigned long long)s->tap_rx_errors, (unsigned long long)s->msgs_tx,
                     (unsigned long long)s->msgs_rx, (unsigned long long)s->send_blocked,
                     (unsigned long long)s->send_drop, (unsigned long long)s->rx_decode_errors,
                     (unsigned long long)s->rx_wrong_chan);
    return k < 0 ? n : n + k;
}
