/*
 * traffic.c — generators and the exactly-once checker (see traffic.h).
 */
#include "traffic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp/mp.h"

#define HDR 12u /* flow(32) index(32) length(32) */
#define DEV_BASE 0x1000u

static uint8_t pattern(uint32_t flow, uint32_t idx, uint32_t j)
{
    uint32_t x = flow * 0x9E3779B1u ^ idx * 0x85EBCA77u ^ j * 0xC2B2AE3Du;
    x ^= x >> 15;
    return (uint8_t)x;
}

void msim_tr_init(msim_traffic *t, msim_world *w)
{
    memset(t, 0, sizeof *t);
    t->w = w;
    t->interval_ns = 200 * MSIM_US;
    t->burst = 4;
    t->until = UINT64_MAX;
}

int msim_tr_add(msim_traffic *t, uint32_t src, uint32_t dst, uint32_t chan, bool path,
                uint32_t total, uint32_t size_min, uint32_t size_max)
{
    if (t->n >= MSIM_TR_MAX_FLOWS || size_min < HDR || size_max < size_min)
        return -1;
    msim_flow *f = &t->flows[t->n];
    memset(f, 0, sizeof *f);
    f->src = src;
    f->dst = dst;
    f->chan = chan;
    f->path = path;
    f->total = total;
    f->size_min = size_min;
    f->size_max = size_max;
    return (int)t->n++;
}

static uint32_t msg_size(msim_traffic *t, const msim_flow *f)
{
    uint32_t span = f->size_max - f->size_min;
    return f->size_min + (span ? (uint32_t)(msim_rand(t->w) % (span + 1)) : 0);
}

/* Local device of a flow's endpoints: one device per flow, so paths are independent. */
static uint32_t dev_src(uint32_t flow) { return DEV_BASE + 2 * flow; }
static uint32_t dev_dst(uint32_t flow) { return DEV_BASE + 2 * flow + 1; }

static int send_one(msim_traffic *t, uint32_t fi, msim_flow *f, mc_node *n)
{
    static uint8_t buf[1u << 21];
    uint32_t len = msg_size(t, f);
    if (len > sizeof buf)
        len = sizeof buf;
    mp_put32(buf, fi);
    mp_put32(buf + 4, f->sent);
    mp_put32(buf + 8, len);
    for (uint32_t j = HDR; j < len; j++)
        buf[j] = pattern(fi, f->sent, j);
    uint64_t now = msim_now(t->w);
    if (f->path)
        return mc_path_send(n, f->path_id, buf, len, now);
    return mc_send(n, msim_node_id(f->dst), f->chan, MP_T_DATA, buf, len, now, NULL);
}

static void tick(void *user, msim_world *w)
{
    msim_traffic *t = user;
    uint64_t now = msim_now(w);
    bool more = false;
    for (uint32_t i = 0; i < t->n; i++) {
        msim_flow *f = &t->flows[i];
        mc_node *rx = msim_node(w, f->dst);
        if (f->path && f->to_consume && rx) {
            if (mc_path_consume(rx, f->rx_path, f->to_consume, now) == MC_OK)
                f->to_consume = 0;
            msim_touch(w, f->dst);
        }
        if (f->sent >= f->total) {
            if (f->path && f->to_consume)
                more = true;
            continue;
        }
        more = true;
        mc_node *n = msim_node(w, f->src);
        if (!n || now > t->until)
            continue;
        if (f->path && !f->path_open) {
            if (!f->path_id && !f->path_broken && mc_peer_is_up(n, msim_node_id(f->dst)) && rx) {
                (void)mc_path_device_add(rx, dev_dst(i), MC_DEV_AUTO_ACCEPT);
                (void)mc_path_device_add(n, dev_src(i), 0);
                if (mc_path_open(n, dev_src(i), msim_node_id(f->dst), dev_dst(i), now,
                                 &f->path_id) < 0)
                    f->path_id = 0;
                msim_touch(w, f->src);
            }
            continue;
        }
        for (uint32_t b = 0; b < t->burst && f->sent < f->total; b++) {
            int r = send_one(t, i, f, n);
            if (r < 0) {
                if (r != MC_EAGAIN && r != MC_ENOTCONN)
                    f->send_errors++;
                break;
            }
            f->sent++;
        }
        msim_touch(w, f->src);
    }
    if (more)
        msim_at(w, now + t->interval_ns, tick, t);
    else
        t->running = false;
}

void msim_tr_start(msim_traffic *t, uint64_t t0)
{
    t->running = true;
    msim_at(t->w, t0, tick, t);
}

static void check_msg(msim_traffic *t, uint32_t node, uint32_t from, bool via_path,
                      uint32_t chan_or_path, const uint8_t *p, size_t len)
{
    uint64_t now = msim_now(t->w);
    if (len < HDR)
        return;
    uint32_t fi = mp_get32(p), idx = mp_get32(p + 4), l = mp_get32(p + 8);
    if (fi >= t->n)
        return;
    msim_flow *f = &t->flows[fi];
    if (f->dst != node || msim_node_id(f->src) != from || f->path != via_path ||
        (!via_path && f->chan != chan_or_path)) {
        f->corrupt++;
        return;
    }
    if (l != len) {
        f->corrupt++;
        return;
    }
    for (uint32_t j = HDR; j < len; j++)
        if (p[j] != pattern(fi, idx, j)) {
            f->corrupt++;
            return;
        }
    if (idx < f->expect) {
        f->dups++;
        return;
    }
    if (idx > f->expect)
        f->gaps++;
    f->expect = idx + 1;
    f->delivered++;
    if (f->first_t && now - f->last_t > f->max_gap_ns)
        f->max_gap_ns = now - f->last_t;
    if (!f->first_t)
        f->first_t = now;
    f->last_t = now;
    if (via_path) {
        f->rx_path = chan_or_path;
        f->to_consume++;
    }
}

bool msim_tr_on_event(msim_traffic *t, uint32_t node, const mc_event *ev)
{
    switch (ev->type) {
    case MC_EV_MESSAGE:
        if (ev->msg_type != MP_T_DATA || ev->chan == MP_CHAN_NODE)
            return false;
        check_msg(t, node, ev->peer, false, ev->chan, ev->data, ev->len);
        return true;
    case MC_EV_PATH_MSG:
        check_msg(t, node, ev->peer, true, ev->path, ev->data, ev->len);
        return true;
    case MC_EV_PATH_STATE:
        for (uint32_t i = 0; i < t->n; i++) {
            msim_flow *f = &t->flows[i];
            if (f->path && f->src == node && f->path_id == ev->path) {
                if (ev->path_state == 3 /* MPA_ST_OPEN */)
                    f->path_open = true;
                else if (ev->path_state == 5 /* MPA_ST_BROKEN */) {
                    f->path_open = false;
                    f->path_broken = true;
                }
                return true;
            }
        }
        return false;
    default:
        return false;
    }
}

bool msim_tr_done(const msim_traffic *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        if (t->flows[i].delivered < t->flows[i].total)
            return false;
    return true;
}

void msim_tr_sum_get(const msim_traffic *t, msim_tr_sum *s)
{
    memset(s, 0, sizeof *s);
    for (uint32_t i = 0; i < t->n; i++) {
        const msim_flow *f = &t->flows[i];
        s->sent += f->sent;
        s->delivered += f->delivered;
        s->dups += f->dups;
        s->gaps += f->gaps;
        s->corrupt += f->corrupt;
        s->send_errors += f->send_errors;
        if (f->max_gap_ns > s->max_gap_ns)
            s->max_gap_ns = f->max_gap_ns;
    }
}

bool msim_tr_check(const msim_traffic *t, char *why, size_t whylen)
{
    for (uint32_t i = 0; i < t->n; i++) {
        const msim_flow *f = &t->flows[i];
        if (f->dups || f->gaps || f->corrupt || f->delivered != f->total || f->send_errors) {
            snprintf(why, whylen,
                     "flow %u (%u->%u %s %u): delivered %u/%u (sent %u) dups %llu gaps %llu "
                     "corrupt %llu send_errors %llu",
                     i, f->src, f->dst, f->path ? "path" : "chan", f->path ? f->path_id : f->chan,
                     f->delivered, f->total, f->sent, (unsigned long long)f->dups,
                     (unsigned long long)f->gaps, (unsigned long long)f->corrupt,
                     (unsigned long long)f->send_errors);
            return false;
        }
    }
    return true;
}
