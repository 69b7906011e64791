/*
 * scenario.h — named simulator scenarios (prefix msim_sc_), shared by msgr-sim and the
 * tests.  Each runs a world from a seed, checks its invariants and fills a result; the
 * caller decides what to print or assert.
 */
#ifndef MSIM_SCENARIO_H
#define MSIM_SCENARIO_H

#include "msim.h"

typedef struct msim_sc_args {
    uint32_t nodes;        /* 0 = scenario default */
    uint64_t seed;
    double loss, dup, reorder; /* < 0 = scenario default */
    uint32_t messages;     /* per flow; 0 = scenario default */
    uint16_t tolerance_ms; /* 0 = scenario default */
    bool verbose;          /* print a timeline to stdout */
} msim_sc_args;

void msim_sc_args_default(msim_sc_args *a);

typedef struct msim_sc_result {
    bool ok;
    char why[320];
    uint32_t nodes;
    uint64_t seed;
    /* application level */
    uint64_t sent, delivered, dups, gaps, corrupt;
    /* network level */
    msim_stats net;
    /* timings (simulated ns); 0 if not measured */
    uint64_t detect_ns_max;   /* fault -> LINK_DOWN / PEER_DOWN, worst node */
    uint64_t failover_ns_max; /* cut -> FAILOVER event */
    uint64_t resume_ns_max;   /* longest delivery silence on any flow */
    uint64_t converge_ns;     /* start -> every node knows every name */
    uint64_t rejoin_ns;       /* restart -> peers up and names back */
    uint64_t bound_ns;        /* the bound checked: tolerance + probe interval */
    uint64_t sim_end_ns;
    size_t mem_avg, mem_max;  /* per node, bytes, at the end */
    uint64_t retransmits, bundles, fragments, failovers;
} msim_sc_result;

/* Run scenario `name`: reliable, linkcut, crash, mesh, random, demo.  Returns 0 when
 * the scenario ran (check r->ok), -1 for an unknown name. */
int msim_sc_run(const char *name, const msim_sc_args *a, msim_sc_result *r);
/* Print a result the way msgr-sim does. */
void msim_sc_print(const char *name, const msim_sc_result *r);
const char *msim_sc_list(void);

#endif /* MSIM_SCENARIO_H */
