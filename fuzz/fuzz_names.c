/*
 * fuzz_names — mp_name_check, mp_pattern_check, mp_pattern_match and mp_prop_check
 * against a reference written here from the naming rules, plus a bound on matching cost.
 *
 * Input: pieces separated by NUL (a byte no name may hold): the first is the pattern,
 * the others are names.  Adjacent pieces also serve as property key and value.
 *
 * Rules (RFC "Names"): a name is 1..127 bytes of '/'-separated components, each 1..63
 * bytes of [A-Za-z0-9._-], not "." or "..".  A pattern may also hold '*' (any run inside
 * one component) and '?' (one character), and '**' as a whole component (zero or more
 * components).  A property key is 1..31 bytes of [a-z0-9_.-]; a value 0..255 bytes, no NUL.
 *
 * The reference matcher is a memoised search over (pattern component, name component),
 * polynomial in the input.  A codec matcher that backtracks exponentially on '**' or '*'
 * shows up as a slow unit: every call is timed and more than FZ_MATCH_BUDGET_NS aborts.
 */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "fz.h"

#define FZ_MATCH_BUDGET_NS (250u * 1000u * 1000u) /* generous even under ASan: real cost is us */
#define MAXC 128                                  /* components in <= 255 bytes */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool name_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

typedef struct comp {
    const uint8_t *p;
    size_t n;
} comp;

/* Split on '/'; false if a component is empty (leading/trailing '/', "//"). */
static bool split(const uint8_t *s, size_t len, comp *c, size_t *nc)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            if (i == start || k == MAXC)
                return false;
            c[k].p = s + start;
            c[k].n = i - start;
            k++;
            start = i + 1;
        }
    }
    *nc = k;
    return true;
}

static bool dot_comp(comp c)
{
    return (c.n == 1 && c.p[0] == '.') || (c.n == 2 && c.p[0] == '.' && c.p[1] == '.');
}

static bool ref_name_ok(const uint8_t *s, size_t len)
{
    comp c[MAXC];
    size_t nc;
    if (len < 1 || len > MP_MAX_NAME || !split(s, len, c, &nc))
        return false;
    for (size_t i = 0; i < nc; i++) {
        if (c[i].n > MP_MAX_COMPONENT || dot_comp(c[i]))
            return false;
        for (size_t j = 0; j < c[i].n; j++)
            if (!name_char(c[i].p[j]))
                return false;
    }
    return true;
}

static bool is_globstar(comp c) { return c.n == 2 && c.p[0] == '*' && c.p[1] == '*'; }

static bool ref_pattern_ok(const uint8_t *s, size_t len)
{
    comp c[MAXC];
    size_t nc;
    if (len < 1 || len > MP_MAX_NAME || !split(s, len, c, &nc))
        return false;
    for (size_t i = 0; i < nc; i++) {
        if (c[i].n > MP_MAX_COMPONENT || dot_comp(c[i]))
            return false;
        if (is_globstar(c[i]))
            continue;
        for (size_t j = 0; j < c[i].n; j++) {
            uint8_t ch = c[i].p[j];
            if (ch == '*' && j + 1 < c[i].n && c[i].p[j + 1] == '*')
                return false; /* '**' only as a whole component */
            if (!name_char(ch) && ch != '*' && ch != '?')
                return false;
        }
    }
    return true;
}

static bool ref_prop_ok(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    if (kl < 1 || kl > MP_MAX_PROP_KEY || vl > MP_MAX_PROP_VAL)
        return false;
    for (size_t i = 0; i < kl; i++) {
        uint8_t c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return false;
    }
    return memchr(v, 0, vl) == NULL;
}

/* One component against one pattern component with '*' and '?': iterative, O(n*m). */
static bool comp_match(comp p, comp s)
{
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;
    while (si < s.n) {
        if (pi < p.n && (p.p[pi] == '?' || p.p[pi] == s.p[si])) {
            pi++;
            si++;
        } else if (pi < p.n && p.p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < p.n && p.p[pi] == '*')
        pi++;
    return pi == p.n;
}

static comp pc[MAXC], nc_[MAXC];
static size_t npc, nnc;
static int8_t memo[MAXC + 1][MAXC + 1];

static bool ref_match_at(size_t i, size_t j)
{
    if (memo[i][j] >= 0)
        return memo[i][j];
    bool r;
    if (i == npc)
        r = j == nnc;
    else if (is_globstar(pc[i]))
        r = ref_match_at(i + 1, j) || (j < nnc && ref_match_at(i, j + 1));
    else
        r = j < nnc && comp_match(pc[i], nc_[j]) && ref_match_at(i + 1, j + 1);
    memo[i][j] = (int8_t)r;
    return r;
}

static bool ref_match(const uint8_t *p, size_t pl, const uint8_t *s, size_t sl)
{
    if (!split(p, pl, pc, &npc) || !split(s, sl, nc_, &nnc))
        return false;
    memset(memo, -1, sizeof memo);
    return ref_match_at(0, 0);
}

static bool timed_match(const uint8_t *p, size_t pl, const uint8_t *s, size_t sl)
{
    uint64_t t0 = now_ns();
    bool r = mp_pattern_match(p, pl, s, sl);
    uint64_t dt = now_ns() - t0;
    FZ_CHECKF(dt < FZ_MATCH_BUDGET_NS, "mp_pattern_match took %llu ms (pattern %zu bytes, name "
              "%zu bytes)", (unsigned long long)(dt / 1000000u), pl, sl);
    return r;
}

#define MAXP 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *pp[MAXP];
    size_t pl[MAXP], n = 0, start = 0;
    for (size_t i = 0; i <= size && n < MAXP; i++) {
        if (i == size || data[i] == 0) {
            pp[n] = data + start;
            pl[n] = i - start;
            n++;
            start = i + 1;
        }
    }

    bool name_ok[MAXP], pat_ok[MAXP];
    for (size_t i = 0; i < n; i++) {
        int nr = mp_name_check(pp[i], pl[i]);
        int pr = mp_pattern_check(pp[i], pl[i]);
        FZ_CHECK(nr == 0 || nr == MP_ENAME);
        FZ_CHECK(pr == 0 || pr == MP_EPATTERN);
        name_ok[i] = nr == 0;
        pat_ok[i] = pr == 0;
        FZ_CHECKF(name_ok[i] == ref_name_ok(pp[i], pl[i]), "mp_name_check says %s for '%.*s'",
                  name_ok[i] ? "valid" : "invalid", (int)pl[i], (const char *)pp[i]);
        FZ_CHECKF(pat_ok[i] == ref_pattern_ok(pp[i], pl[i]),
                  "mp_pattern_check says %s for '%.*s'", pat_ok[i] ? "valid" : "invalid",
                  (int)pl[i], (const char *)pp[i]);
        /* A name is a pattern that matches itself. */
        if (name_ok[i]) {
            FZ_CHECK(pat_ok[i]);
            FZ_CHECK(timed_match(pp[i], pl[i], pp[i], pl[i]));
        }
    }

    /* The pattern against every name. */
    for (size_t i = 1; i < n; i++) {
        if (pat_ok[0] && name_ok[i]) {
            bool got = timed_match(pp[0], pl[0], pp[i], pl[i]);
            bool want = ref_match(pp[0], pl[0], pp[i], pl[i]);
            FZ_CHECKF(got == want, "pattern '%.*s' vs name '%.*s': codec %d, reference %d",
                      (int)pl[0], (const char *)pp[0], (int)pl[i], (const char *)pp[i], got,
                      want);
        } else if (pl[0] <= 255 && pl[i] <= 255) {
            /* Unchecked input must not crash or hang either; the answer is unspecified. */
            volatile bool r = timed_match(pp[0], pl[0], pp[i], pl[i]);
            (void)r;
        }
    }

    /* Properties: adjacent pieces as key and value. */
    for (size_t i = 0; i + 1 < n; i++) {
        if (pl[i] > 255 || pl[i + 1] > 255)
            continue;
        mp_prop p = {pp[i], (uint8_t)pl[i], pp[i + 1], (uint8_t)pl[i + 1]};
        int r = mp_prop_check(&p);
        FZ_CHECK(r == 0 || r == MP_EPROP);
        FZ_CHECKF((r == 0) == ref_prop_ok(pp[i], pl[i], pp[i + 1], pl[i + 1]),
                  "mp_prop_check says %d for key '%.*s'", r, (int)pl[i], (const char *)pp[i]);
    }
    return 0;
}
