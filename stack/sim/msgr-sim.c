/*
 * msgr-sim — run a named scenario of the deterministic simulator.
 *   msgr-sim --nodes N --seed S --scenario NAME [--loss P] [--dup P] [--reorder P]
 *            [--messages M] [--tolerance MS] [--seeds K] [--verbose]
 * Exit status 0 if every run kept its invariants, 1 if one failed, 2 on a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: msgr-sim --scenario NAME [--nodes N] [--seed S] [--seeds K]\n"
            "                [--loss P] [--dup P] [--reorder P] [--messages M]\n"
            "                [--tolerance MS] [--verbose]\n"
            "scenarios: %s\n"
            "--seeds K runs seeds S..S+K-1 and prints one line per seed.\n",
            msim_sc_list());
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int parse_prob(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0.0 && v <= 1.0))
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    msim_sc_args a;
    msim_sc_args_default(&a);
    const char *name = NULL;
    uint64_t seeds = 1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(o, "--verbose") || !strcmp(o, "-v")) {
            a.verbose = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "msgr-sim: %s needs a value\n", o);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        uint64_t u = 0;
        int bad = 0;
        if (!strcmp(o, "--scenario"))
            name = v;
        else if (!strcmp(o, "--nodes"))
            bad = parse_u64(v, &u) || u < 2 || u > 100000 || ((a.nodes = (uint32_t)u), 0);
        else if (!strcmp(o, "--seed"))
            bad = parse_u64(v, &a.seed);
        else if (!strcmp(o, "--seeds"))
            bad = parse_u64(v, &seeds) || seeds < 1;
        else if (!strcmp(o, "--messages"))
            bad = parse_u64(v, &u) || u < 1 || u > 100000000 || ((a.messages = (uint32_t)u), 0);
        else if (!strcmp(o, "--tolerance"))
            bad = parse_u64(v, &u) || u < 10 || u > 30000 || ((a.tolerance_ms = (uint16_t)u), 0);
        else if (!strcmp(o, "--loss"))
            bad = parse_prob(v, &a.loss);
        else if (!strcmp(o, "--dup"))
            bad = parse_prob(v, &a.dup);
        else if (!strcmp(o, "--reorder"))
            bad = parse_prob(v, &a.reorder);
        else {
            fprintf(stderr, "msgr-sim: unknown option %s\n", o);
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "msgr-sim: bad value for %s: %s\n", o, v);
            return 2;
        }
    }
    if (!name) {
        usage(stderr);
        return 2;
    }
    int status = 0;
    uint64_t first = a.seed;
    for (uint64_t k = 0; k < seeds; k++) {
        a.seed = first + k;
        msim_sc_result r;
        if (msim_sc_run(name, &a, &r) < 0) {
            fprintf(stderr, "msgr-sim: unknown scenario %s (have: %s)\n", name, msim_sc_list());
            return 2;
        }
        if (seeds == 1) {
            msim_sc_print(name, &r);
        } else {
            printf("seed %llu: %s%s%s\n", (unsigned long long)a.seed, r.ok ? "OK" : "FAILED",
                   r.ok ? "" : ": ", r.ok ? "" : r.why);
        }
        if (!r.ok)
            status = 1;
    }
    return status;
}
