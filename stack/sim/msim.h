/*
 * msim.h — a deterministic cluster simulator (prefix msim_).
 *
 * N nodes of the real protocol core (mc_node) run in one process over simulated networks
 * ("nets": one bearer per node per net) with seeded loss, duplication, reordering,
 * delay, jitter, bandwidth, partitions, link cuts and node crash/restart.  Time is a
 * simulated clock advanced by an event queue; nothing reads the wall clock.  Every random
 * choice (network faults, each node's RNG) derives from the world seed, and ties in the
 * event queue are broken by insertion order, so a run is reproducible from its seed.
 *
 * Node i (0-based) has node id i+1 and media address i+1 (4 bytes, big-endian) on every
 * net; MSIM_BCAST is the broadcast address used for discovery.
 */
#ifndef MSIM_H
#define MSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc.h"

#define MSIM_MAX_NETS 4
#define MSIM_BCAST 0xFFFFFFFFu
#define MSIM_MS 1000000ull
#define MSIM_US 1000ull

typedef struct msim_net_cfg {
    double loss;        /* probability a frame (or one copy of a broadcast) is lost */
    double dup;         /* probability a frame is delivered twice */
    double reorder;     /* probability a frame gets an extra delay (overtaken) */
    uint64_t delay_ns;  /* one-way base delay; default 100 us */
    uint64_t jitter_ns; /* uniform extra delay 0..jitter */
    uint64_t reorder_ns;/* extra delay for reordered frames: uniform 0..reorder_ns */
    uint64_t bandwidth_bps; /* per sender per net; 0 = unlimited */
    uint16_t mtu;       /* default 1500 */
    uint8_t priority;   /* bearer priority of every node on this net */
    bool standby;
} msim_net_cfg;

typedef struct msim_world msim_world;
typedef void (*msim_event_fn)(void *user, msim_world *w, uint32_t node, const mc_event *ev);

typedef struct msim_config {
    uint32_t nodes;
    uint64_t seed;
    uint32_t nets;      /* 1..MSIM_MAX_NETS */
    msim_net_cfg net[MSIM_MAX_NETS];
    uint16_t tolerance_ms; /* 0 = core default (500) */
    uint16_t window;       /* 0 = core default */
    bool naming, paths;    /* upper layers in the core */
    size_t mem_limit;      /* per node; 0 = core default */
    uint32_t max_links;    /* per node; 0 = core default */
    msim_event_fn on_event; /* every core event of every node; may be NULL */
    void *user;
} msim_config;

void msim_config_default(msim_config *c);

typedef struct msim_stats {
    uint64_t frames_sent, frames_delivered, bytes_sent;
    uint64_t lost, duplicated, reordered, cut_drops, partition_drops, dead_drops, queue_drops;
    uint64_t events;
} msim_stats;

int msim_create(const msim_config *cfg, msim_world **out);
void msim_destroy(msim_world *w);

uint64_t msim_now(const msim_world *w);
uint32_t msim_nodes(const msim_world *w);
uint32_t msim_nets(const msim_world *w);
mc_node *msim_node(msim_world *w, uint32_t i); /* NULL while crashed */
uint32_t msim_node_id(uint32_t i);             /* i + 1 */
int32_t msim_node_index(uint32_t node_id);     /* node_id - 1 */
bool msim_alive(const msim_world *w, uint32_t i);
const msim_stats *msim_get_stats(const msim_world *w);
/* Bytes the node's allocator holds now / at most (the core's accounted memory). */
size_t msim_node_mem(const msim_world *w, uint32_t i);
/* Deterministic random numbers for scenario scripts (separate stream from the network). */
uint64_t msim_rand(msim_world *w);
double msim_rand01(msim_world *w);

/* Run events until simulated time `until` (inclusive); the clock ends at `until`. */
void msim_run_until(msim_world *w, uint64_t until);
/* Run until pred(user, w) is true (checked after every event) or `until`.  Returns true
 * if pred became true; the clock stops at that event's time. */
bool msim_run_while(msim_world *w, uint64_t until, bool (*pred)(void *user, msim_world *w),
                    void *user);

/* Schedule fn(user, w) at time t (scripted faults, traffic generators). */
int msim_at(msim_world *w, uint64_t t, void (*fn)(void *user, msim_world *w), void *user);
/* After an API call on node i outside an event, let the world see its new deadline. */
void msim_touch(msim_world *w, uint32_t i);

/* Faults.  A cut or partition also loses the frames in flight across it. */
void msim_cut(msim_world *w, uint32_t net, uint32_t a, uint32_t b, bool cut);
void msim_cut_node(msim_world *w, uint32_t net, uint32_t a, bool cut); /* all of a's links */
/* Partition a net: nodes talk only within the same group (all 0 = healed). */
void msim_partition(msim_world *w, uint32_t net, uint32_t node, uint16_t group);
void msim_net_set(msim_world *w, uint32_t net, const msim_net_cfg *c);
void msim_crash(msim_world *w, uint32_t i);
int msim_restart(msim_world *w, uint32_t i); /* new incarnation, bearers re-attached */

#endif /* MSIM_H */
