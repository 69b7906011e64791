/*
 * traffic.h — seeded message generators and an exactly-once/in-order checker for the
 * simulator (prefix msim_tr_).  Shared by the tests and msgr-sim.
 *
 * A flow sends `total` numbered messages from node src to node dst, either on a raw
 * channel (mc_send) or on a path (mc_path_open/mc_path_send).  Every payload carries
 * (flow, index, length) and a pattern derived from them, so the receiver checks that
 * each message arrives exactly once, in order, with its bytes intact.
 */
#ifndef MSIM_TRAFFIC_H
#define MSIM_TRAFFIC_H

#include "msim.h"

typedef struct msim_flow {
    uint32_t src, dst;        /* node indices */
    uint32_t chan;            /* raw channel (< 0x100), ignored for paths */
    bool path;                /* carried on a path between devices */
    uint32_t total;
    uint32_t size_min, size_max; /* payload bytes, >= 12 */
    /* progress */
    uint32_t sent, delivered, expect;
    uint64_t dups, gaps, corrupt; /* violations: index lower / higher than expected, bad bytes */
    uint64_t first_t, last_t, max_gap_ns; /* deliveries; max_gap_ns: largest silence between two */
    uint32_t path_id;         /* opener's handle */
    bool path_open, path_broken;
    uint32_t to_consume;      /* receiver-side messages to return as credit */
    uint32_t rx_path;         /* receiver's handle */
    uint64_t send_errors;
} msim_flow;

#define MSIM_TR_MAX_FLOWS 64

typedef struct msim_traffic {
    msim_world *w;
    msim_flow flows[MSIM_TR_MAX_FLOWS];
    uint32_t n;
    uint64_t interval_ns;     /* generator tick; default 200 us */
    uint32_t burst;           /* messages per flow per tick; default 4 */
    uint64_t until;           /* stop generating after this time */
    bool running;
} msim_traffic;

void msim_tr_init(msim_traffic *t, msim_world *w);
/* Returns the flow index or -1. */
int msim_tr_add(msim_traffic *t, uint32_t src, uint32_t dst, uint32_t chan, bool path,
                uint32_t total, uint32_t size_min, uint32_t size_max);
/* Start generating at time t0 (paths are opened first). */
void msim_tr_start(msim_traffic *t, uint64_t t0);
/* Feed every world event here; returns true if it was traffic's. */
bool msim_tr_on_event(msim_traffic *t, uint32_t node, const mc_event *ev);
bool msim_tr_done(const msim_traffic *t);
/* Sum of a flow field over flows. */
typedef struct msim_tr_sum {
    uint64_t sent, delivered, dups, gaps, corrupt, send_errors;
    uint64_t max_gap_ns;
} msim_tr_sum;
void msim_tr_sum_get(const msim_traffic *t, msim_tr_sum *s);
/* True if every flow delivered all, once, in order, intact; else why (first failure). */
bool msim_tr_check(const msim_traffic *t, char *why, size_t whylen);

#endif /* MSIM_TRAFFIC_H */
