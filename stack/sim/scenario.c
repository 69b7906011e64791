/*
 * scenario.c — the named scenarios of msgr-sim and the simulator tests.
 */
#include "scenario.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naming.h"
#include "path.h"
#include "traffic.h"

typedef struct sc {
    msim_world *w;
    msim_traffic tr;
    msim_sc_result *r;
    const msim_sc_args *a;
    bool verbose;
    uint64_t fault_t;        /* time of the fault whose detection we time */
    int fault_net;           /* linkcut: net that was cut */
    uint32_t fault_a, fault_b;
    uint32_t victim;         /* crash: node index */
    bool victim_down_wait;
    uint32_t *peers_up;      /* per node: peers currently up */
    uint32_t *names_seen;    /* per node: remote names appeared minus vanished */
    uint32_t nodes_complete; /* mesh: nodes that know every name */
    uint32_t *victim_state;  /* per node: 1 = saw victim down, 2 = saw it up again */
    uint32_t broken_paths;
    uint32_t link_downs;
} sc;

static void vlog(sc *s, const char *fmt, ...)
{
    if (!s->verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    printf("[%9.3f ms] ", (double)msim_now(s->w) / 1e6);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static void fail(sc *s, const char *fmt, ...)
{
    if (!s->r->ok)
        return; /* keep the first reason */
    s->r->ok = false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->r->why, sizeof s->r->why, fmt, ap);
    va_end(ap);
}

static void on_event(void *user, msim_world *w, uint32_t node, const mc_event *ev)
{
    sc *s = user;
    uint64_t now = msim_now(w);
    if (msim_tr_on_event(&s->tr, node, ev))
        return;
    int32_t peer = msim_node_index(ev->peer);
    switch (ev->type) {
    case MC_EV_LINK_UP:
        vlog(s, "node %u: link to %d on bearer %d up", node, peer, ev->bearer);
        break;
    case MC_EV_LINK_DOWN:
        s->link_downs++;
        vlog(s, "node %u: link to %d on bearer %d DOWN (reason %d)", node, peer, ev->bearer,
             ev->reason);
        if (s->fault_t && ev->bearer == s->fault_net &&
            ((node == s->fault_a && (uint32_t)peer == s->fault_b) ||
             (node == s->fault_b && (uint32_t)peer == s->fault_a))) {
            uint64_t d = now - s->fault_t;
            if (d > s->r->detect_ns_max)
                s->r->detect_ns_max = d;
        }
        break;
    case MC_EV_FAILOVER:
        vlog(s, "node %u: %u messages to %d failed over from bearer %d to %d", node, ev->count,
             peer, ev->bearer, ev->to_bearer);
        if (s->fault_t && now - s->fault_t > s->r->failover_ns_max)
            s->r->failover_ns_max = now - s->fault_t;
        break;
    case MC_EV_PEER_UP:
        s->peers_up[node]++;
        vlog(s, "node %u: peer %d up", node, peer);
        if (s->victim_state && (uint32_t)peer == s->victim && s->victim_state[node] == 1)
            s->victim_state[node] = 2;
        break;
    case MC_EV_PEER_DOWN:
        s->peers_up[node]--;
        vlog(s, "node %u: peer %d DOWN (reason %d)", node, peer, ev->reason);
        if (s->victim_state && (uint32_t)peer == s->victim && s->victim_down_wait) {
            s->victim_state[node] = 1;
            uint64_t d = now - s->fault_t;
            if (d > s->r->detect_ns_max)
                s->r->detect_ns_max = d;
        }
        break;
    case MC_EV_NAME:
        if (ev->peer != msim_node_id(node)) {
            if (ev->name_event == MN_EV_APPEARED) {
                s->names_seen[node]++;
                if (s->names_seen[node] == msim_nodes(w) - 1)
                    s->nodes_complete++;
            } else if (ev->name_event == MN_EV_VANISHED) {
                if (s->names_seen[node] == msim_nodes(w) - 1)
                    s->nodes_complete--;
                s->names_seen[node]--;
            }
        }
        break;
    case MC_EV_PATH_STATE:
        if (ev->path_state == MPA_ST_BROKEN)
            s->broken_paths++;
        break;
    default:
        break;
    }
}

static int sc_init(sc *s, msim_config *c, const msim_sc_args *a, msim_sc_result *r)
{
    memset(s, 0, sizeof *s);
    memset(r, 0, sizeof *r);
    r->ok = true;
    r->nodes = c->nodes;
    r->seed = c->seed = a->seed;
    s->r = r;
    s->a = a;
    s->verbose = a->verbose;
    s->fault_net = -1;
    c->on_event = on_event;
    c->user = s;
    s->peers_up = calloc(c->nodes, sizeof *s->peers_up);
    s->names_seen = calloc(c->nodes, sizeof *s->names_seen);
    if (!s->peers_up || !s->names_seen)
        return -1;
    int e = msim_create(c, &s->w);
    if (e < 0) {
        fail(s, "msim_create: %s", mc_strerror(e));
        return -1;
    }
    msim_tr_init(&s->tr, s->w);
    uint16_t tol = c->tolerance_ms ? c->tolerance_ms : MP_TOLERANCE_DEF_MS;
    r->bound_ns = (uint64_t)tol * MSIM_MS + (uint64_t)tol * MSIM_MS / 4;
    return 0;
}

typedef struct agg {
    uint64_t retransmits, bundles, fragments;
} agg;

static int agg_link(void *user, const mc_link_info *li)
{
    agg *g = user;
    g->retransmits += li->stats.retransmits;
    g->bundles += li->stats.bundles_tx;
    g->fragments += li->stats.fragments_tx;
    return 0;
}

static void sc_finish(sc *s)
{
    msim_sc_result *r = s->r;
    msim_tr_sum sum;
    msim_tr_sum_get(&s->tr, &sum);
    r->sent = sum.sent;
    r->delivered = sum.delivered;
    r->dups = sum.dups;
    r->gaps = sum.gaps;
    r->corrupt = sum.corrupt;
    if (sum.max_gap_ns > r->resume_ns_max)
        r->resume_ns_max = sum.max_gap_ns;
    r->net = *msim_get_stats(s->w);
    r->sim_end_ns = msim_now(s->w);
    size_t tot = 0, live = 0;
    agg g = {0};
    for (uint32_t i = 0; i < msim_nodes(s->w); i++) {
        mc_node *n = msim_node(s->w, i);
        if (!n)
            continue;
        size_t m = msim_node_mem(s->w, i);
        tot += m;
        live++;
        if (m > r->mem_max)
            r->mem_max = m;
        mc_foreach_link(n, agg_link, &g);
        mc_stats st;
        mc_get_stats(n, &st);
        r->failovers += st.failovers;
        /* Drops that would mean a broken promise under the scenarios' settings. */
        if (st.drops[MC_DROP_HELD_FULL] || st.drops[MC_DROP_REASM_LIMIT] ||
            st.drops[MC_DROP_FRAG_PROTO])
            fail(s, "node %u: held_full %llu reasm_limit %llu frag_proto %llu", i,
                 (unsigned long long)st.drops[MC_DROP_HELD_FULL],
                 (unsigned long long)st.drops[MC_DROP_REASM_LIMIT],
                 (unsigned long long)st.drops[MC_DROP_FRAG_PROTO]);
    }
    r->mem_avg = live ? tot / live : 0;
    r->retransmits = g.retransmits;
    r->bundles = g.bundles;
    r->fragments = g.fragments;
}

static void sc_free(sc *s)
{
    msim_destroy(s->w);
    free(s->peers_up);
    free(s->names_seen);
    free(s->victim_state);
}

static bool all_up(void *user, msim_world *w)
{
    sc *s = user;
    for (uint32_t i = 0; i < msim_nodes(w); i++)
        if (msim_alive(w, i) && s->peers_up[i] != msim_nodes(w) - 1)
            return false;
    return true;
}

/* Every link of every pair on every net established (not only every peer up). */
static bool all_links(void *user, msim_world *w)
{
    (void)user;
    uint32_t n = msim_nodes(w);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            if (i == j)
                continue;
            mc_node *a = msim_node(w, i);
            if (!a)
                return false;
            for (uint32_t k = 0; k < msim_nets(w); k++) {
                mc_link_info li;
                int r = mc_link_get(a, msim_node_id(j), (int)k, &li);
                if (r < 0 || li.state != MC_LS_ESTABLISHED)
                    return false;
            }
        }
    return true;
}

static bool traffic_done(void *user, msim_world *w)
{
    (void)w;
    return msim_tr_done(&((sc *)user)->tr);
}

static bool wait_up(sc *s, uint64_t limit)
{
    if (!msim_run_while(s->w, msim_now(s->w) + limit, all_up, s)) {
        fail(s, "not all links/peers up within %llu ms", (unsigned long long)(limit / MSIM_MS));
        return false;
    }
    return true;
}

static void run_traffic(sc *s, uint64_t limit)
{
    msim_tr_start(&s->tr, msim_now(s->w));
    msim_run_while(s->w, msim_now(s->w) + limit, traffic_done, s);
    char why[256];
    if (!msim_tr_check(&s->tr, why, sizeof why))
        fail(s, "%s", why);
}

static double argd(double v, double def) { return v < 0 ? def : v; }

/* ---- reliable: many messages on several channels and paths across a hostile net ------
 * Two worlds from the same seed: raw channels (path layer off: the core's own channel
 * sequencing and the links alone) and paths (path layer on). */
static void merge(msim_sc_result *r, const msim_sc_result *p)
{
    if (r->ok && !p->ok) {
        r->ok = false;
        memcpy(r->why, p->why, sizeof r->why);
    }
    r->sent += p->sent;
    r->delivered += p->delivered;
    r->dups += p->dups;
    r->gaps += p->gaps;
    r->corrupt += p->corrupt;
    r->net.frames_sent += p->net.frames_sent;
    r->net.frames_delivered += p->net.frames_delivered;
    r->net.lost += p->net.lost;
    r->net.duplicated += p->net.duplicated;
    r->net.reordered += p->net.reordered;
    r->retransmits += p->retransmits;
    r->bundles += p->bundles;
    r->fragments += p->fragments;
    r->sim_end_ns += p->sim_end_ns;
    if (p->resume_ns_max > r->resume_ns_max)
        r->resume_ns_max = p->resume_ns_max;
    if (p->mem_max > r->mem_max)
        r->mem_max = p->mem_max;
    if (p->mem_avg > r->mem_avg)
        r->mem_avg = p->mem_avg;
}

static void reliable_phase(const msim_sc_args *a, msim_sc_result *r, bool paths)
{
    msim_config c;
    msim_config_default(&c);
    c.nodes = a->nodes ? a->nodes : 3;
    c.paths = paths;
    c.tolerance_ms = a->tolerance_ms;
    c.net[0].loss = argd(a->loss, 0.10);
    c.net[0].dup = argd(a->dup, 0.05);
    c.net[0].reorder = argd(a->reorder, 0.10);
    c.net[0].jitter_ns = 50 * MSIM_US;
    c.net[0].reorder_ns = 2 * MSIM_MS;
    sc s;
    if (sc_init(&s, &c, a, r) == 0 && wait_up(&s, 5000 * MSIM_MS)) {
        uint32_t m = a->messages ? a->messages : 10000, n = c.nodes;
        uint32_t ch = MP_CHAN_FIRST_PATH;
        msim_tr_add(&s.tr, 0, 1 % n, ch + 0, paths, m, 12, 200);
        msim_tr_add(&s.tr, 1 % n, 0, ch + 1, paths, m, 12, 200);
        msim_tr_add(&s.tr, 0, 1 % n, ch + 2, paths, m, 12, 4000); /* fragments too */
        msim_tr_add(&s.tr, n - 1, 0, ch + 3, paths, m, 12, 600);
        run_traffic(&s, 600000 * MSIM_MS);
        if (r->ok && msim_get_stats(s.w)->lost == 0 && c.net[0].loss > 0)
            fail(&s, "the network lost nothing: the test proved nothing");
    }
    sc_finish(&s);
    sc_free(&s);
}

static void sc_reliable(const msim_sc_args *a, msim_sc_result *r)
{
    msim_sc_result p;
    reliable_phase(a, r, false);
    reliable_phase(a, &p, true);
    merge(r, &p);
}

/* ---- linkcut: two parallel links, one cut under traffic ---------------------------------- */
static void do_cut(void *user, msim_world *w)
{
    sc *s = user;
    s->fault_t = msim_now(w);
    msim_cut(w, (uint32_t)s->fault_net, s->fault_a, s->fault_b, true);
    vlog(s, "CUT net %d between %u and %u", s->fault_net, s->fault_a, s->fault_b);
}

static void sc_linkcut_common(const msim_sc_args *a, msim_sc_result *r, bool demo)
{
    msim_config c;
    msim_config_default(&c);
    c.nodes = a->nodes ? a->nodes : (demo ? 4 : 2);
    c.nets = 2;
    c.tolerance_ms = a->tolerance_ms;
    for (int k = 0; k < 2; k++) {
        c.net[k].loss = argd(a->loss, demo ? 0.10 : 0.0);
        c.net[k].dup = argd(a->dup, demo ? 0.05 : 0.0);
        c.net[k].reorder = argd(a->reorder, demo ? 0.05 : 0.0);
        c.net[k].jitter_ns = 20 * MSIM_US;
        c.net[k].reorder_ns = 1 * MSIM_MS;
    }
    sc s;
    if (sc_init(&s, &c, a, r) == 0 && wait_up(&s, 5000 * MSIM_MS)) {
        uint32_t m = a->messages ? a->messages : (demo ? 3000 : 10000), n = c.nodes;
        /* Eight paths, so load sharing spreads them over both links. */
        for (uint32_t k = 0; k < 4; k++) {
            msim_tr_add(&s.tr, 0, 1, 0, true, m, 12, k == 3 ? 3000 : 300);
            msim_tr_add(&s.tr, 1, 0, 0, true, m, 12, 300);
        }
        if (n > 2)
            msim_tr_add(&s.tr, 2, 3 % n, 0, true, m, 12, 300);
        if (!msim_run_while(s.w, msim_now(s.w) + 10000 * MSIM_MS, all_links, &s))
            fail(&s, "not every link came up before the cut");
        s.fault_net = 0;
        s.fault_a = 0;
        s.fault_b = 1;
        msim_at(s.w, msim_now(s.w) + (demo ? 50 : 300) * MSIM_MS, do_cut, &s);
        run_traffic(&s, 600000 * MSIM_MS);
        if (!s.fault_t)
            fail(&s, "traffic ended before the cut: raise --messages");
        else if (!r->detect_ns_max)
            fail(&s, "the cut link was never reported down");
        else if (r->detect_ns_max > r->bound_ns)
            fail(&s, "link down after %.3f ms > bound %.3f ms", r->detect_ns_max / 1e6,
                 r->bound_ns / 1e6);
        msim_tr_sum sum;
        msim_tr_sum_get(&s.tr, &sum);
        if (sum.max_gap_ns > r->bound_ns)
            fail(&s, "traffic silent for %.3f ms > bound %.3f ms", sum.max_gap_ns / 1e6,
                 r->bound_ns / 1e6);
        /* Heal and check the link comes back. */
        msim_cut(s.w, 0, 0, 1, false);
        msim_run_until(s.w, msim_now(s.w) + 3000 * MSIM_MS);
        mc_link_info li;
        if (mc_link_get(msim_node(s.w, 0), msim_node_id(1), 0, &li) < 0 ||
            li.state != MC_LS_ESTABLISHED)
            fail(&s, "cut link did not come back after healing");
    }
    sc_finish(&s);
    sc_free(&s);
}

static void sc_linkcut(const msim_sc_args *a, msim_sc_result *r) { sc_linkcut_common(a, r, false); }
static void sc_demo(const msim_sc_args *a, msim_sc_result *r) { sc_linkcut_common(a, r, true); }

/* ---- crash: a node dies; peers notice, names vanish, paths break; it restarts ----------- */
static void publish_own(msim_world *w, uint32_t i, const char *prefix)
{
    char name[64];
    snprintf(name, sizeof name, "%s/n%u", prefix, i);
    mp_name_rec rec;
    memset(&rec, 0, sizeof rec);
    rec.device_id = i + 1;
    rec.dtype = 1;
    rec.name.ptr = (const uint8_t *)name;
    rec.name.len = strlen(name);
    mc_publish(msim_node(w, i), &rec, msim_now(w));
    msim_touch(w, i);
}

static bool names_converged(void *user, msim_world *w)
{
    sc *s = user;
    return s->nodes_complete == msim_nodes(w);
}

static bool victim_all(void *user, msim_world *w, uint32_t want)
{
    sc *s = user;
    for (uint32_t i = 0; i < msim_nodes(w); i++)
        if (i != s->victim && s->victim_state[i] != want)
            return false;
    return true;
}

static bool victim_down(void *user, msim_world *w) { return victim_all(user, w, 1); }

static bool victim_back(void *user, msim_world *w)
{
    sc *s = user;
    return victim_all(user, w, 2) && names_converged(s, w);
}

static void sc_crash(const msim_sc_args *a, msim_sc_result *r)
{
    msim_config c;
    msim_config_default(&c);
    c.nodes = a->nodes ? a->nodes : 5;
    if (c.nodes < 3)
        c.nodes = 3;
    c.tolerance_ms = a->tolerance_ms;
    c.net[0].loss = argd(a->loss, 0.01);
    c.net[0].dup = argd(a->dup, 0.0);
    c.net[0].reorder = argd(a->reorder, 0.0);
    sc s;
    if (sc_init(&s, &c, a, r) < 0)
        goto out;
    s.victim = c.nodes - 1;
    s.victim_state = calloc(c.nodes, sizeof *s.victim_state);
    for (uint32_t i = 0; i < c.nodes; i++)
        publish_own(s.w, i, "svc");
    if (!msim_run_while(s.w, 5000 * MSIM_MS, names_converged, &s)) {
        fail(&s, "names did not converge");
        goto out;
    }
    if (!wait_up(&s, 1000 * MSIM_MS))
        goto out;
    /* Every survivor opens a path to a device on the victim. */
    mc_node *v = msim_node(s.w, s.victim);
    mc_path_device_add(v, 77, MC_DEV_AUTO_ACCEPT);
    uint32_t opened = 0;
    for (uint32_t i = 0; i + 1 < c.nodes; i++) {
        uint32_t pid;
        mc_path_device_add(msim_node(s.w, i), 10 + i, 0);
        if (mc_path_open(msim_node(s.w, i), 10 + i, msim_node_id(s.victim), 77, msim_now(s.w),
                         &pid) == MC_OK)
            opened++;
        msim_touch(s.w, i);
    }
    msim_run_until(s.w, msim_now(s.w) + 100 * MSIM_MS);
    /* Survivors keep talking to each other through the crash. */
    uint32_t m = a->messages ? a->messages : 2000;
    msim_tr_add(&s.tr, 0, 1, 0, true, m, 12, 500);
    msim_tr_add(&s.tr, 1, 0, 0, true, m, 12, 500);
    msim_tr_start(&s.tr, msim_now(s.w));
    msim_run_until(s.w, msim_now(s.w) + 50 * MSIM_MS);

    s.fault_t = msim_now(s.w);
    s.victim_down_wait = true;
    msim_crash(s.w, s.victim);
    vlog(&s, "CRASH node %u", s.victim);
    if (msim_node_mem(s.w, s.victim) != 0)
        fail(&s, "crashed node leaked %zu bytes", msim_node_mem(s.w, s.victim));
    if (!msim_run_while(s.w, s.fault_t + 5000 * MSIM_MS, victim_down, &s)) {
        fail(&s, "not every peer noticed the crash");
        goto out;
    }
    if (r->detect_ns_max > r->bound_ns)
        fail(&s, "crash detected after %.3f ms > bound %.3f ms", r->detect_ns_max / 1e6,
             r->bound_ns / 1e6);
    char vname[32];
    snprintf(vname, sizeof vname, "svc/n%u", s.victim);
    for (uint32_t i = 0; i + 1 < c.nodes; i++)
        if (mn_lookup(mc_names(msim_node(s.w, i)), (const uint8_t *)vname, strlen(vname)))
            fail(&s, "node %u still has the crashed node's name", i);
    if (s.broken_paths != opened || opened != c.nodes - 1)
        fail(&s, "paths broken %u of %u opened (%u survivors)", s.broken_paths, opened,
             c.nodes - 1);
    /* Restart: a new incarnation rejoins and republishes. */
    msim_run_until(s.w, s.fault_t + 1000 * MSIM_MS);
    uint64_t t_restart = msim_now(s.w);
    msim_restart(s.w, s.victim);
    s.peers_up[s.victim] = 0;
    s.names_seen[s.victim] = 0;
    s.nodes_complete--; /* the victim's own view starts empty */
    publish_own(s.w, s.victim, "svc");
    vlog(&s, "RESTART node %u", s.victim);
    if (!msim_run_while(s.w, t_restart + 5000 * MSIM_MS, victim_back, &s))
        fail(&s, "restarted node did not rejoin (names complete on %u nodes)", s.nodes_complete);
    else
        r->rejoin_ns = msim_now(s.w) - t_restart;
    msim_run_while(s.w, msim_now(s.w) + 60000 * MSIM_MS, traffic_done, &s);
    char why[256];
    if (!msim_tr_check(&s.tr, why, sizeof why))
        fail(&s, "survivor traffic: %s", why);
out:
    sc_finish(&s);
    sc_free(&s);
}

/* ---- mesh: full-mesh discovery, link setup and name sync --------------------------------- */
static void sc_mesh(const msim_sc_args *a, msim_sc_result *r)
{
    msim_config c;
    msim_config_default(&c);
    c.nodes = a->nodes ? a->nodes : 100;
    c.tolerance_ms = a->tolerance_ms ? a->tolerance_ms : 1000;
    c.paths = false;
    c.net[0].loss = argd(a->loss, 0.0);
    c.net[0].jitter_ns = 50 * MSIM_US;
    c.max_links = c.nodes + 16;
    sc s;
    if (sc_init(&s, &c, a, r) == 0) {
        for (uint32_t i = 0; i < c.nodes; i++)
            publish_own(s.w, i, "mesh");
        if (!msim_run_while(s.w, 60000 * MSIM_MS, names_converged, &s))
            fail(&s, "mesh did not converge: %u of %u nodes know every name", s.nodes_complete,
                 c.nodes);
        else
            r->converge_ns = msim_now(s.w);
        for (uint32_t i = 0; i < c.nodes && r->ok; i++) {
            const mn_table *t = mc_names(msim_node(s.w, i));
            mn_stats ns;
            mn_get_stats(t, &ns);
            if (ns.entries != c.nodes)
                fail(&s, "node %u holds %u names, not %u", i, ns.entries, c.nodes);
        }
    }
    sc_finish(&s);
    sc_free(&s);
}

/* ---- random: mixed faults from one seed, invariants checked ------------------------------- */
typedef struct fault {
    sc *s;
    int kind; /* 0 cut pair, 1 partition net, 2 heal all, 3 crash, 4 restart */
    uint32_t net, a, b;
} fault;

static void apply_fault(void *user, msim_world *w)
{
    fault *f = user;
    sc *s = f->s;
    switch (f->kind) {
    case 0:
        msim_cut(w, f->net, f->a, f->b, true);
        vlog(s, "cut net %u %u-%u", f->net, f->a, f->b);
        break;
    case 1:
        for (uint32_t i = 0; i < msim_nodes(w); i++)
            msim_partition(w, f->net, i, (uint16_t)(i == f->a ? 1 : 0));
        vlog(s, "partition net %u: node %u alone", f->net, f->a);
        break;
    case 2:
        for (uint32_t k = 0; k < 2; k++) {
            for (uint32_t i = 0; i < msim_nodes(w); i++) {
                msim_cut_node(w, k, i, false);
                msim_partition(w, k, i, 0);
            }
        }
        vlog(s, "heal");
        break;
    case 3:
        msim_crash(w, f->a);
        if (msim_node_mem(w, f->a) != 0)
            fail(s, "crashed node %u leaked %zu bytes", f->a, msim_node_mem(w, f->a));
        vlog(s, "crash %u", f->a);
        break;
    case 4:
        msim_restart(w, f->a);
        s->peers_up[f->a] = 0;
        vlog(s, "restart %u", f->a);
        break;
    }
}

static void sc_random(const msim_sc_args *a, msim_sc_result *r)
{
    /* The seed picks everything: sizes, fault levels, the fault schedule. */
    uint64_t x = a->seed * 0x9E3779B97F4A7C15ull + 7;
    msim_config c;
    msim_config_default(&c);
    c.nodes = a->nodes ? a->nodes : 3 + (uint32_t)(x % 3);
    c.nets = 2;
    bool paths = (x >> 40) & 1;
    c.paths = paths;
    static const uint16_t tols[] = {50, 100, 200, 500};
    c.tolerance_ms = a->tolerance_ms ? a->tolerance_ms : tols[(x >> 8) % 4];
    for (int k = 0; k < 2; k++) {
        double u = (double)((x >> (16 + 8 * k)) & 0xFF) / 255.0;
        c.net[k].loss = argd(a->loss, 0.15 * u);
        c.net[k].dup = argd(a->dup, 0.05 * u);
        c.net[k].reorder = argd(a->reorder, 0.10 * u);
        c.net[k].jitter_ns = 30 * MSIM_US;
        c.net[k].reorder_ns = 500 * MSIM_US;
    }
    sc s;
    fault faults[16];
    uint32_t nf = 0;
    if (sc_init(&s, &c, a, r) < 0 || !wait_up(&s, 5000 * MSIM_MS))
        goto out;
    /* Faults below keep one working link per pair only if both exist to begin with. */
    if (!msim_run_while(s.w, msim_now(s.w) + 10000 * MSIM_MS, all_links, &s)) {
        fail(&s, "not every link came up before the faults");
        goto out;
    }
    bool crash_mode = (msim_rand(s.w) % 5) == 0 && c.nodes >= 3;
    uint32_t m = a->messages ? a->messages : 300 + (uint32_t)(msim_rand(s.w) % 700);
    uint32_t nflows = 2 + (uint32_t)(msim_rand(s.w) % 3);
    /* In crash mode traffic runs between nodes 0 and 1 only: the victim is another. */
    uint32_t span = crash_mode ? 2 : c.nodes;
    for (uint32_t i = 0; i < nflows; i++) {
        uint32_t src = (uint32_t)(msim_rand(s.w) % span);
        uint32_t dst = (src + 1 + (uint32_t)(msim_rand(s.w) % (span - 1))) % span;
        uint32_t maxsz = (msim_rand(s.w) % 4) == 0 ? 5000 : 400;
        msim_tr_add(&s.tr, src, dst, MP_CHAN_FIRST_PATH + i, paths, m, 12, maxsz);
    }
    uint64_t t0 = msim_now(s.w), tol = (uint64_t)c.tolerance_ms * MSIM_MS;
    /* Faults: one net at a time is disturbed, so a working link always remains between
     * every pair (the exactly-once promise holds only while the peer is reachable). */
    uint64_t t = t0 + 20 * MSIM_MS;
    uint32_t nfaults = 1 + (uint32_t)(msim_rand(s.w) % 4);
    for (uint32_t i = 0; i < nfaults && nf + 2 < 16; i++) {
        fault *f = &faults[nf++];
        f->s = &s;
        f->net = (uint32_t)(msim_rand(s.w) % 2);
        f->a = (uint32_t)(msim_rand(s.w) % c.nodes);
        f->b = (f->a + 1 + (uint32_t)(msim_rand(s.w) % (c.nodes - 1))) % c.nodes;
        f->kind = (int)(msim_rand(s.w) % 2);
        msim_at(s.w, t, apply_fault, f);
        t += tol / 2 + msim_rand(s.w) % (3 * tol);
        fault *h = &faults[nf++];
        h->s = &s;
        h->kind = 2;
        msim_at(s.w, t, apply_fault, h);
        t += msim_rand(s.w) % (2 * tol);
    }
    if (crash_mode && nf + 2 <= 16) {
        uint32_t victim = 2 + (uint32_t)(msim_rand(s.w) % (c.nodes - 2));
        fault *f = &faults[nf++];
        *f = (fault){&s, 3, 0, victim, 0};
        msim_at(s.w, t0 + 30 * MSIM_MS, apply_fault, f);
        fault *g = &faults[nf++];
        *g = (fault){&s, 4, 0, victim, 0};
        msim_at(s.w, t0 + 30 * MSIM_MS + 2 * tol, apply_fault, g);
    }
    run_traffic(&s, 300000 * MSIM_MS);
    /* Everything healed: every pair must come back with every link.  (Under heavy loss
     * a short-tolerance link may still time out now and then; it must re-form.) */
    msim_run_until(s.w, (t > msim_now(s.w) ? t : msim_now(s.w)) + 4 * tol);
    if (r->ok && !msim_run_while(s.w, msim_now(s.w) + 5000 * MSIM_MS, all_links, &s))
        fail(&s, "not every link is established again within 5 s after healing");
out:
    sc_finish(&s);
    sc_free(&s);
}

/* ---- Table ----------------------------------------------------------------------------------- */
typedef struct scenario {
    const char *name;
    void (*run)(const msim_sc_args *, msim_sc_result *);
} scenario;

static const scenario table[] = {
    {"reliable", sc_reliable}, {"linkcut", sc_linkcut}, {"crash", sc_crash},
    {"mesh", sc_mesh},         {"random", sc_random},   {"demo", sc_demo},
};

const char *msim_sc_list(void) { return "reliable linkcut crash mesh random demo"; }

void msim_sc_args_default(msim_sc_args *a)
{
    memset(a, 0, sizeof *a);
    a->seed = 1;
    a->loss = a->dup = a->reorder = -1;
}

int msim_sc_run(const char *name, const msim_sc_args *a, msim_sc_result *r)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0) {
            table[i].run(a, r);
            return 0;
        }
    return -1;
}

void msim_sc_print(const char *name, const msim_sc_result *r)
{
    printf("scenario %s: nodes %u seed %llu: %s\n", name, r->nodes, (unsigned long long)r->seed,
           r->ok ? "OK" : "FAILED");
    if (!r->ok)
        printf("  failure: %s\n", r->why);
    printf("  messages: sent %llu delivered %llu lost %llu duplicated %llu reordered %llu "
           "corrupt %llu\n",
           (unsigned long long)r->sent, (unsigned long long)r->delivered,
           (unsigned long long)(r->sent > r->delivered ? r->sent - r->delivered : 0),
           (unsigned long long)r->dups, (unsigned long long)r->gaps,
           (unsigned long long)r->corrupt);
    printf("  network: frames %llu delivered %llu lost %llu duplicated %llu reordered %llu "
           "cut %llu partitioned %llu to-dead %llu\n",
           (unsigned long long)r->net.frames_sent, (unsigned long long)r->net.frames_delivered,
           (unsigned long long)r->net.lost, (unsigned long long)r->net.duplicated,
           (unsigned long long)r->net.reordered, (unsigned long long)r->net.cut_drops,
           (unsigned long long)r->net.partition_drops, (unsigned long long)r->net.dead_drops);
    printf("  links: retransmits %llu bundles %llu fragments %llu failovers %llu\n",
           (unsigned long long)r->retransmits, (unsigned long long)r->bundles,
           (unsigned long long)r->fragments, (unsigned long long)r->failovers);
    if (r->detect_ns_max)
        printf("  detection: %.3f ms (bound: tolerance + probe interval = %.3f ms)\n",
               r->detect_ns_max / 1e6, r->bound_ns / 1e6);
    if (r->failover_ns_max)
        printf("  failover: %.3f ms after the fault\n", r->failover_ns_max / 1e6);
    if (r->resume_ns_max)
        printf("  longest delivery silence on a flow: %.3f ms\n", r->resume_ns_max / 1e6);
    if (r->converge_ns)
        printf("  name convergence: %.3f ms\n", r->converge_ns / 1e6);
    if (r->rejoin_ns)
        printf("  rejoin after restart: %.3f ms\n", r->rejoin_ns / 1e6);
    printf("  memory per node: avg %zu bytes, max %zu bytes; simulated time %.3f ms\n",
           r->mem_avg, r->mem_max, r->sim_end_ns / 1e6);
}
