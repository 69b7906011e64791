/*
 * test_sim.c — the simulator's promises, one sub-test per argv[1]:
 *   reliable [seed]    10,000 messages on each of 4 raw channels and 4 paths across
 *                      10% loss + 5% duplication + reordering: exactly once, in order, intact
 *   linkcut [seed]     two parallel links, one cut under traffic: nothing lost, duplicated
 *                      or reordered; traffic resumes within tolerance + one probe interval
 *   crash [seed]       a node dies: peers report it within tolerance + one probe interval,
 *                      its names vanish, paths to it break; it restarts and rejoins
 *   mesh [nodes]       full-mesh discovery + link setup + name sync converge
 *   random [first n]   n seeds of mixed faults, invariants per seed
 *   determinism        the same seed gives the same run, bit for bit in the counters
 *   bigmsg [seed]      1 MiB messages across loss, reassembled exactly
 * Every failure prints the seed and the msgr-sim command that reproduces it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"
#include "traffic.h"

static uint64_t arg_u64(int argc, char **argv, int i, uint64_t def)
{
    return argc > i ? strtoull(argv[i], NULL, 0) : def;
}

static int report(const char *name, const msim_sc_args *a, const msim_sc_result *r)
{
    msim_sc_print(name, r);
    if (!r->ok) {
        fprintf(stderr, "FAILED %s seed %llu: %s\n  reproduce: msgr-sim --scenario %s --seed %llu",
                name, (unsigned long long)a->seed, r->why, name, (unsigned long long)a->seed);
        if (a->nodes)
            fprintf(stderr, " --nodes %u", a->nodes);
        fprintf(stderr, " --verbose\n");
        return 1;
    }
    return 0;
}

static int run_named(const char *name, msim_sc_args *a)
{
    msim_sc_result r;
    msim_sc_run(name, a, &r);
    int rc = report(name, a, &r);
    if (!strcmp(name, "reliable") && r.ok && (r.delivered != 80000 || r.net.lost == 0 ||
                                              r.net.duplicated == 0 || r.net.reordered == 0)) {
        fprintf(stderr, "FAILED reliable seed %llu: faults not exercised\n",
                (unsigned long long)a->seed);
        rc = 1;
    }
    return rc;
}

static int t_random(uint64_t first, uint64_t n)
{
    int bad = 0;
    for (uint64_t s = first; s < first + n; s++) {
        msim_sc_args a;
        msim_sc_args_default(&a);
        a.seed = s;
        msim_sc_result r;
        msim_sc_run("random", &a, &r);
        if (!r.ok) {
            fprintf(stderr, "FAILED random seed %llu: %s\n  reproduce: msgr-sim --scenario "
                            "random --seed %llu --verbose\n",
                    (unsigned long long)s, r.why, (unsigned long long)s);
            bad++;
        }
    }
    printf("random: %llu seeds from %llu, %d failed\n", (unsigned long long)n,
           (unsigned long long)first, bad);
    return bad ? 1 : 0;
}

static int t_determinism(void)
{
    msim_sc_args a;
    msim_sc_args_default(&a);
    a.seed = 4242;
    a.messages = 2000;
    msim_sc_result r1, r2;
    msim_sc_run("demo", &a, &r1);
    msim_sc_run("demo", &a, &r2);
    if (memcmp(&r1.net, &r2.net, sizeof r1.net) || r1.retransmits != r2.retransmits ||
        r1.detect_ns_max != r2.detect_ns_max || r1.resume_ns_max != r2.resume_ns_max) {
        fprintf(stderr, "FAILED determinism seed 4242: two runs differ (frames %llu vs %llu)\n",
                (unsigned long long)r1.net.frames_sent, (unsigned long long)r2.net.frames_sent);
        return 1;
    }
    a.seed = 4243;
    msim_sc_result r3;
    msim_sc_run("demo", &a, &r3);
    if (r3.net.frames_sent == r1.net.frames_sent && r3.net.lost == r1.net.lost) {
        fprintf(stderr, "FAILED determinism: seeds 4242 and 4243 gave the same run\n");
        return 1;
    }
    printf("determinism: identical runs for one seed, different for another\n");
    return 0;
}

/* 1 MiB messages on a raw channel and on a path, 5% loss: fragmentation + reassembly. */
typedef struct big {
    msim_traffic tr;
    uint32_t up;
} big;

static void big_event(void *u, msim_world *w, uint32_t node, const mc_event *ev)
{
    (void)w;
    (void)node;
    big *b = u;
    if (!msim_tr_on_event(&b->tr, node, ev) && ev->type == MC_EV_PEER_UP)
        b->up++;
}

static bool big_up(void *u, msim_world *w)
{
    (void)w;
    return ((big *)u)->up >= 2;
}

static bool big_done(void *u, msim_world *w)
{
    (void)w;
    return msim_tr_done(&((big *)u)->tr);
}

static int t_bigmsg(uint64_t seed)
{
    int rc = 0;
    for (int paths = 0; paths < 2; paths++) {
        big b;
        memset(&b, 0, sizeof b);
        msim_config c;
        msim_config_default(&c);
        c.seed = seed;
        c.paths = paths;
        c.net[0].loss = 0.05;
        c.net[0].dup = 0.02;
        c.net[0].reorder = 0.05;
        c.net[0].reorder_ns = 1000000;
        c.on_event = big_event;
        c.user = &b;
        msim_world *w;
        if (msim_create(&c, &w) < 0)
            return 1;
        msim_tr_init(&b.tr, w);
        b.tr.interval_ns = 20 * MSIM_MS;
        b.tr.burst = 1;
        msim_run_while(w, 5000 * MSIM_MS, big_up, &b);
        msim_tr_add(&b.tr, 0, 1, 0x100, paths, 8, 1u << 20, 1u << 20);
        msim_tr_add(&b.tr, 1, 0, 0x101, paths, 8, 12, 1u << 20);
        msim_tr_start(&b.tr, msim_now(w));
        msim_run_while(w, msim_now(w) + 600000 * MSIM_MS, big_done, &b);
        char why[256];
        if (!msim_tr_check(&b.tr, why, sizeof why)) {
            fprintf(stderr, "FAILED bigmsg seed %llu (%s): %s\n", (unsigned long long)seed,
                    paths ? "paths" : "raw", why);
            rc = 1;
        } else {
            printf("bigmsg (%s): 16 messages up to 1 MiB delivered intact at %.3f ms, "
                   "node memory at the end %zu bytes\n",
                   paths ? "paths" : "raw", msim_now(w) / 1e6, msim_node_mem(w, 1));
        }
        msim_destroy(w);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_sim reliable|linkcut|crash|mesh|random|determinism|bigmsg\n");
        return 2;
    }
    const char *t = argv[1];
    msim_sc_args a;
    msim_sc_args_default(&a);
    if (!strcmp(t, "reliable") || !strcmp(t, "linkcut") || !strcmp(t, "crash")) {
        a.seed = arg_u64(argc, argv, 2, 1);
        return run_named(t, &a);
    }
    if (!strcmp(t, "mesh")) {
        a.nodes = (uint32_t)arg_u64(argc, argv, 2, 200);
        a.seed = arg_u64(argc, argv, 3, 1);
        return run_named(t, &a);
    }
    if (!strcmp(t, "random"))
        return t_random(arg_u64(argc, argv, 2, 1), arg_u64(argc, argv, 3, 200));
    if (!strcmp(t, "determinism"))
        return t_determinism();
    if (!strcmp(t, "bigmsg"))
        return t_bigmsg(arg_u64(argc, argv, 2, 1));
    fprintf(stderr, "test_sim: unknown test %s\n", t);
    return 2;
}
