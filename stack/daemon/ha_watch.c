/*
 * ha_watch.c — msgrd's heartbeat monitor of the FTM (entity 2) and the leadership
 * explanation of msgrctl ha (ha_watch.h).
 */
#define _GNU_SOURCE
#include "ha_watch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlout.h"
#include "rt.h"

#define MHD_WATCH_ARENA (16u * 1024u) /* one mha_hb (32 watches) and a responder */

struct mhd_watch {
    mk_kernel *k;
    void *arena;
    mha_hb *hb;
    uint32_t node;     /* this node */
    uint32_t ftm_node; /* the FTM's node at start (the watch follows ELECT afterwards) */
    uint64_t due;      /* the watch starts then at the latest; 0 = started */
    uint64_t started_at;
    /* evidence of the newest TAKEOVER, for operators */
    uint64_t takeovers, outage_at, last_at;
    uint32_t last_to, last_lost;
    char evidence[200];
};

static const mha_hb_watch *watch_ftm(const mhd_watch *w)
{
    for (unsigned i = 0; i < MHA_HB_MAX_WATCH; i++)
        if (w->hb->w[i].used && w->hb->w[i].entity == MK_ENTITY_FTM)
            return &w->hb->w[i];
    return NULL;
}

int mhd_watch_create(const msgrd_conf_ha *cfg, uint32_t node_id, uint64_t now, mhd_watch **out)
{
    *out = NULL;
    uint32_t ftm_node = (uint32_t)cfg->ftm_node;
    if (ftm_node == 0 || ftm_node == node_id) {
        /* A monitor on the FTM's own node goes down with it and could promote nobody. */
        mrt_log(MRT_M_RT, MRT_LOG_ERR,
                "ha: watch_ftm needs ftm_node = the FTM's node, another node than this one");
        return MK_EINVAL;
    }
    if (cfg->nftm_cand < 1) {
        mrt_log(MRT_M_RT, MRT_LOG_ERR, "ha: watch_ftm needs ftm_candidates (the standby FTMs)");
        return MK_EINVAL;
    }
    mhd_watch *w = calloc(1, sizeof *w);
    if (!w)
        return MK_ELIMIT;
    w->k = calloc(1, sizeof *w->k);
    w->arena = aligned_alloc(8, MHD_WATCH_ARENA);
    int rc = MK_ELIMIT;
    if (!w->k || !w->arena)
        goto fail;
    mk_config kc = {.node_id = node_id,
                    .entity_id = MK_ENTITY_HBMON,
                    .arena = w->arena,
                    .arena_len = MHD_WATCH_ARENA};
    if ((rc = mk_init(w->k, &kc)) < 0)
        goto fail;
    /* On loss: TAKEOVER to the first candidate that is not the lost FTM's node (the
     * element's choice); report_node is only its fallback, never used with candidates. */
    mha_hb_config hc = {.period_ns =
                            (uint64_t)(cfg->hb_period_ms ? cfg->hb_period_ms : 100) * 1000000ull,
                        .threshold = cfg->hb_threshold ? (uint32_t)cfg->hb_threshold : 3,
                        .report_node = ftm_node,
                        .report_entity = MK_ENTITY_FTM,
                        .on_loss = MHA_HB_TAKEOVER,
                        .follow_ftm = true,
                        .ncand = (uint8_t)cfg->nftm_cand};
    for (int i = 0; i < cfg->nftm_cand && i < 4; i++)
        hc.cand[i] = (uint32_t)cfg->ftm_cand[i];
    rc = mk_register(w->k, "hb", &mha_hb_ops, mha_hb_subs, mha_hb_nsubs, &hc, now);
    if (rc < 0)
        goto fail;
    w->hb = mk_element_state(w->k, rc);
    /* The monitor answers heartbeats like every entity (it may be watched in turn). */
    rc = mk_register(w->k, "hbresp", &mha_hbresp_ops, mha_hbresp_subs, mha_hbresp_nsubs, NULL, now);
    if (rc < 0)
        goto fail;
    w->node = node_id;
    w->ftm_node = ftm_node;
    w->due = now + (cfg->start_grace_ms ? cfg->start_grace_ms : 2000) * 1000000ull;
    *out = w;
    return 0;
fail:
    mrt_log(MRT_M_RT, MRT_LOG_ERR, "ha: FTM monitor setup failed: %s", mk_strerror(rc));
    mhd_watch_destroy(w);
    return rc;
}

void mhd_watch_destroy(mhd_watch *w)
{
    if (!w)
        return;
    free(w->k);
    free(w->arena);
    free(w);
}

mk_kernel *mhd_watch_kernel(const mhd_watch *w)
{
    return w ? w->k : NULL;
}

/* Start watching the FTM now, unless an ELECT already made the element watch one. */
static void watch_begin(mhd_watch *w, uint64_t now)
{
    w->due = 0;
    if (watch_ftm(w))
        return;
    (void)mha_hb_watch_add(w->hb, w->ftm_node, MK_ENTITY_FTM, now);
    w->started_at = now;
}

uint64_t mhd_watch_deadline(const mhd_watch *w)
{
    if (!w)
        return UINT64_MAX;
    uint64_t d = mk_next_deadline(w->k);
    return w->due && w->due < d ? w->due : d;
}

void mhd_watch_tick(mhd_watch *w, uint64_t now)
{
    if (!w)
        return;
    if (w->due && (now >= w->due || watch_ftm(w)))
        watch_begin(w, now);
    if (mk_next_deadline(w->k) <= now)
        (void)mk_tick(w->k, now);
}

void mhd_watch_peer_up(mhd_watch *w, uint32_t peer, uint64_t now)
{
    /* The silence clock starts when the FTM can be heard: a link still being set up at
     * start would otherwise look like a lost FTM and promote a standby for nothing. */
    if (w && w->due && peer == w->ftm_node)
        watch_begin(w, now);
}

void mhd_watch_note(mhd_watch *w, const mk_msg *m, uint64_t now)
{
    if (!w || m->uop_count == 0 || m->uops[0].opcode != MP_UOP_TAKEOVER)
        return;
    /* The watch it is about: the FTM watch declared down just now. */
    const mha_hb_watch *x = watch_ftm(w);
    uint64_t bound = mha_hb_detection_bound(w->hb);
    w->takeovers++;
    w->last_at = now;
    w->last_to = m->dst_node;
    w->last_lost = x ? x->node : 0;
    if (x && x->declarations <= 1)
        w->outage_at = now;
    snprintf(w->evidence, sizeof w->evidence,
             "FTM (node %u entity 1) silent: no valid HEARTBEAT_ACK for %llu ms (bound %llu ms"
             " = %llu ms x %u), declaration %u of this outage; TAKEOVER msgr/ftm to node %u",
             w->last_lost, x ? (unsigned long long)((now - x->last_ack) / 1000000u) : 0ull,
             (unsigned long long)(bound / 1000000u),
             (unsigned long long)(w->hb->cfg.period_ns / 1000000u), w->hb->cfg.threshold,
             x ? x->declarations : 0, w->last_to);
    mrt_log(MRT_M_RT, MRT_LOG_WARN, "ha: %s", w->evidence);
}

/* ---- msgrctl ha ---------------------------------------------------------------------------- */
static void wp(char *b, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void wp(char *b, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msrv_out_vappend(b, cap, len, fmt, ap);
    va_end(ap);
}

static const char *lead_role(int r)
{
    return r == MHA_FTM_ACTIVE ? "active" : r == MHA_FTM_DEPOSED ? "deposed" : "standby";
}

static long long lead_ago(uint64_t t, uint64_t now)
{
    return t && t <= now ? (long long)((now - t) / 1000000u) : -1;
}

/* The newest decision with this action (the log is bounded: it may have scrolled away). */
static const mha_decision *lead_last(const mha_ftm *f, int action)
{
    for (unsigned i = mha_ftm_log_count(f); i-- > 0;) {
        const mha_decision *d = mha_ftm_log_at(f, i);
        if (d->action == action)
            return d;
    }
    return NULL;
}

static void watch_ctl(const mhd_watch *w, int json, uint64_t now, char *b, size_t cap, size_t *len)
{
    const mha_hb_watch *x = watch_ftm(w);
    const mha_hb *hb = w->hb;
    const char *st = !x ? "waiting" : x->down ? "down" : "up";
    unsigned long long bound = (unsigned long long)(mha_hb_detection_bound(hb) / 1000000u);
    if (!json) {
        wp(b, cap, len,
           "FTM monitor (entity 2): %s, watching entity 1 on node %u, bound %llu ms"
           " (%llu ms x %u), candidates",
           st, x ? x->node : w->ftm_node, bound, (unsigned long long)(hb->cfg.period_ns / 1000000u),
           hb->cfg.threshold);
        for (unsigned i = 0; i < hb->cfg.ncand; i++)
            wp(b, cap, len, "%s%u", i ? "," : " ", hb->cfg.cand[i]);
        wp(b, cap, len, "; %llu acks, last %lld ms ago, %llu declarations, %llu TAKEOVERs\n",
           (unsigned long long)hb->acks, x ? lead_ago(x->last_ack, now) : -1,
           (unsigned long long)hb->declared, (unsigned long long)w->takeovers);
        if (w->takeovers)
            wp(b, cap, len, "  last TAKEOVER %lld ms ago: %s\n", lead_ago(w->last_at, now),
               w->evidence);
        return;
    }
    wp(b, cap, len,
       "\"ftm_watch\":{\"entity\":2,\"state\":\"%s\",\"watching\":{\"node\":%u,"
       "\"entity\":1},\"started_ns\":%llu,\"period_ms\":%llu,\"threshold\":%u,"
       "\"detection_bound_ms\":%llu,\"candidates\":[",
       st, x ? x->node : w->ftm_node, (unsigned long long)w->started_at,
       (unsigned long long)(hb->cfg.period_ns / 1000000u), hb->cfg.threshold, bound);
    for (unsigned i = 0; i < hb->cfg.ncand; i++)
        wp(b, cap, len, "%s%u", i ? "," : "", hb->cfg.cand[i]);
    /* counters over every FTM watched (the watch moves with ELECT); last_ack_ago_ms is the
     * current FTM's */
    wp(b, cap, len,
       "],\"sent\":%llu,\"acks\":%llu,\"stale_acks\":%llu,\"last_ack_ago_ms\":%lld,"
       "\"declarations\":%llu,\"followed\":%llu,\"takeovers\":%llu,"
       "\"outage_ns\":%llu,\"last_takeover\":",
       (unsigned long long)hb->sent, (unsigned long long)hb->acks,
       (unsigned long long)hb->stale_acks, x ? lead_ago(x->last_ack, now) : -1,
       (unsigned long long)hb->declared, (unsigned long long)hb->followed,
       (unsigned long long)w->takeovers, (unsigned long long)w->outage_at);
    if (!w->takeovers) {
        wp(b, cap, len, "null},");
        return;
    }
    wp(b, cap, len, "{\"at_ns\":%llu,\"to_node\":%u,\"lost_node\":%u,\"evidence\":",
       (unsigned long long)w->last_at, w->last_to, w->last_lost);
    msrv_out_jstr(b, cap, len, w->evidence, strlen(w->evidence));
    wp(b, cap, len, "}},");
}

static void lead_ctl(const mha_ftm *f, int json, uint64_t now, char *b, size_t cap, size_t *len)
{
    const mha_decision *act = lead_last(f, MHA_A_ACTIVATE), *res = lead_last(f, MHA_A_RESTORED);
    if (!json) {
        wp(b, cap, len, "leadership: %s, epoch %u (configured %s, epoch %u)", lead_role(f->role),
           f->epoch, f->cfg.active ? "active" : "standby", f->cfg.epoch);
        if (f->activated_at)
            wp(b, cap, len, "; promoted %lld ms ago by node %u entity %u",
               lead_ago(f->activated_at, now), f->promoted_by_node, f->promoted_by_entity);
        if (f->epoch_fenced_by)
            wp(b, cap, len, "; stepped down %lld ms ago on learning epoch %u (from node %u)",
               lead_ago(f->deposed_at, now), f->epoch_fenced_by, f->deposed_by_node);
        wp(b, cap, len,
           "\n  self-checkpoint: store node %u id %u, %llu saves, %llu acks, %llu refused;"
           " %llu entities restored%s",
           f->cfg.ckpt_node, f->cfg.ckpt_id, (unsigned long long)f->self_saves,
           (unsigned long long)f->self_acks, (unsigned long long)f->self_save_errors,
           (unsigned long long)f->restored_entities,
           f->restore_pending ? " (restore pending)" : "");
        if (res)
            wp(b, cap, len, " in %llu ms", (unsigned long long)(res->delay_ns / 1000000u));
        wp(b, cap, len, "\n");
        return;
    }
    wp(b, cap, len,
       "\"leadership\":{\"role\":\"%s\",\"epoch\":%u,\"configured\":{\"role\":\"%s\","
       "\"epoch\":%u},\"activated_ns\":%llu,\"promoted_by\":",
       lead_role(f->role), f->epoch, f->cfg.active ? "active" : "standby", f->cfg.epoch,
       (unsigned long long)f->activated_at);
    if (f->activated_at)
        wp(b, cap, len, "{\"node\":%u,\"entity\":%u}", f->promoted_by_node, f->promoted_by_entity);
    else
        wp(b, cap, len, "null");
    wp(b, cap, len, ",\"activation\":");
    if (act) {
        char line[256];
        mha_decision_format(act, line, sizeof line);
        msrv_out_jstr(b, cap, len, line, strlen(line));
    } else {
        wp(b, cap, len, "null");
    }
    wp(b, cap, len,
       ",\"fenced_by_epoch\":%u,\"deposed_ns\":%llu,\"deposed_by_node\":%u,"
       "\"ckpt\":{\"node\":%u,\"entity\":%u,\"id\":%u,\"saves\":%llu,\"acks\":%llu,"
       "\"errors\":%llu,\"truncated\":%llu},\"restore\":{\"pending\":%s,"
       "\"restored_entities\":%llu,\"restored_ns\":%llu,\"took_ms\":%lld}},",
       f->epoch_fenced_by, (unsigned long long)f->deposed_at, f->deposed_by_node, f->cfg.ckpt_node,
       f->cfg.ckpt_entity, f->cfg.ckpt_id, (unsigned long long)f->self_saves,
       (unsigned long long)f->self_acks, (unsigned long long)f->self_save_errors,
       (unsigned long long)f->self_truncated, f->restore_pending ? "true" : "false",
       (unsigned long long)f->restored_entities, res ? (unsigned long long)res->at : 0ull,
       res ? (long long)(res->delay_ns / 1000000u) : -1);
}

void mhd_watch_ctl(const mhd_watch *w, const mha_ftm *f, int json, uint64_t now, char *b,
                   size_t cap, size_t *len)
{
    if (w)
        watch_ctl(w, json, now, b, cap, len);
    else if (json)
        wp(b, cap, len, "\"ftm_watch\":null,");
    if (f)
        lead_ctl(f, json, now, b, cap, len);
    else if (json)
        wp(b, cap, len, "\"leadership\":null,");
}
