/*
 * test_names.c — names, patterns (check and match tables), properties.
 */
#include "mp/mp.h"
#include "t.h"

#define S(x) (const uint8_t *)(x), strlen(x)

static void test_name_check(void)
{
    static const char *ok[] = {
        "a",
        "storage",
        "storage/raid0",
        "A.b_c-d/E9",
        "a/b/c/d/e/f",
        "..a",
        "a..",
        "...",
        "-",
        "_x/.y/z.",
        /* 63-character component */
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk",
    };
    static const char *bad[] = {
        "",
        "/",
        "/a",
        "a/",
        "a//b",
        ".",
        "..",
        "a/./b",
        "a/../b",
        "a b",
        "a*",
        "a?b",
        "**",
        "a/**",
        "caf\xc3\xa9",
        "tab\t",
        "a\\b",
        "a:b",
        /* 64-character component */
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (mp_name_check(S(ok[i])) != MP_OK)
            fprintf(stderr, "  name should be valid: '%s'\n", ok[i]);
        T_EQ(mp_name_check(S(ok[i])), MP_OK);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (mp_name_check(S(bad[i])) != MP_ENAME)
            fprintf(stderr, "  name should be invalid: '%s'\n", bad[i]);
        T_EQ(mp_name_check(S(bad[i])), MP_ENAME);
    }
    T_EQ(mp_name_check((const uint8_t *)"a\0b", 3), MP_ENAME);
    T_EQ(mp_name_check(NULL, 3), MP_ENAME);

    /* Length limit: 127 ok, 128 not (two 63-byte components and one 1-byte). */
    char n[160];
    memset(n, 'x', sizeof n);
    n[63] = '/';
    n[127] = '/';
    T_EQ(mp_name_check((const uint8_t *)n, 127), MP_OK);
    T_EQ(mp_name_check((const uint8_t *)n, 128), MP_ENAME); /* trailing '/' */
    n[127] = 'x';
    n[126] = '/';
    T_EQ(mp_name_check((const uint8_t *)n, 128), MP_ENAME); /* too long */
}

static void test_pattern_check(void)
{
    static const char *ok[] = {"a",     "*", "**",    "a/*",      "a/**",  "**/b", "a/**/b",
                               "a*b?c", "?", "*.log", "a/*/**/?", "**/**", ".*",   "*."};
    static const char *bad[] = {"",      "/", "a/", "/**",    "a//b", "***",  "a**", "**a",
                                "a/**b", ".", "..", "a/../*", "a b*", "a\\*", "[ab]"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (mp_pattern_check(S(ok[i])) != MP_OK)
            fprintf(stderr, "  pattern should be valid: '%s'\n", ok[i]);
        T_EQ(mp_pattern_check(S(ok[i])), MP_OK);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (mp_pattern_check(S(bad[i])) != MP_EPATTERN)
            fprintf(stderr, "  pattern should be invalid: '%s'\n", bad[i]);
        T_EQ(mp_pattern_check(S(bad[i])), MP_EPATTERN);
    }
}

typedef struct match_case {
    const char *pat, *name;
    bool match;
} match_case;

static const match_case k_match[] = {
    {"a", "a", true},
    {"a", "b", false},
    {"a", "A", false}, /* case-sensitive */
    {"a", "a/b", false},
    {"a/b", "a", false},
    {"*", "anything", true},
    {"*", "a/b", false}, /* '*' stays inside one component */
    {"a*", "a", true},   /* empty run */
    {"a*", "abc", true},
    {"*c", "abc", true},
    {"a*c", "abxc", true},
    {"a*c", "abcd", false},
    {"a*b*c", "aXbYbZc", true},
    {"a*b*c", "aXbYbZ", false},
    {"?", "a", true},
    {"?", "ab", false},
    {"a?c", "abc", true},
    {"a?c", "ac", false},
    {"??", "ab", true},
    {"*.log", "x.log", true},
    {"*.log", ".log", true},
    {"*.log", "x.logs", false},
    {"**", "a", true},
    {"**", "a/b/c", true},
    {"a/**", "a", true}, /* zero components */
    {"a/**", "a/b", true},
    {"a/**", "a/b/c", true},
    {"a/**", "b/c", false},
    {"**/c", "c", true},
    {"**/c", "a/b/c", true},
    {"**/c", "a/b/cd", false},
    {"a/**/b", "a/b", true},
    {"a/**/b", "a/x/b", true},
    {"a/**/b", "a/x/y/b", true},
    {"a/**/b", "a/x/y/c", false},
    {"a/**/b/**/c", "a/b/c", true},
    {"a/**/b/**/c", "a/x/b/y/z/c", true},
    {"a/**/b/**/c", "a/x/c/y/b", false},
    {"**/b/*", "x/y/b/z", true},
    {"**/b/*", "x/y/b", false},
    {"**/**", "a", true},
    {"storage/*/raid?", "storage/ctl0/raid5", true},
    {"storage/*/raid?", "storage/ctl0/raid10", false},
    {"storage/**/raid?", "storage/raid1", true},
    {"*/*", "a/b", true},
    {"*/*", "a", false},
    {"*/*", "a/b/c", false},
    /* invalid pattern or name never matches */
    {"a//b", "a//b", false},
    {"**", "a//b", false},
    {"**", "", false},
};

static void test_match(void)
{
    for (size_t i = 0; i < sizeof k_match / sizeof k_match[0]; i++) {
        const match_case *c = &k_match[i];
        bool got = mp_pattern_match(S(c->pat), S(c->name));
        if (got != c->match)
            fprintf(stderr, "  '%s' vs '%s': got %d want %d\n", c->pat, c->name, got, c->match);
        T_CHECK(got == c->match);
    }
    /* Hostile input is linear-ish: many stars against a long near-miss finishes. */
    char pat[128], name[128];
    memset(pat, 0, sizeof pat);
    for (int i = 0; i < 30; i++) {
        pat[2 * i] = '*';
        pat[2 * i + 1] = 'a';
    }
    pat[60] = 'b';
    memset(name, 'a', 63);
    T_CHECK(!mp_pattern_match((const uint8_t *)pat, 61, (const uint8_t *)name, 63));
    char deep[128];
    for (int i = 0; i < 63; i++) {
        deep[2 * i] = 'a';
        deep[2 * i + 1] = '/';
    }
    T_CHECK(mp_pattern_match(S("**/**/**/a"), (const uint8_t *)deep, 125));
    T_CHECK(!mp_pattern_match(S("**/**/**/b"), (const uint8_t *)deep, 125));
}

static void test_props(void)
{
    mp_prop p = {(const uint8_t *)"model", 5, (const uint8_t *)"X100", 4};
    T_EQ(mp_prop_check(&p), MP_OK);
    p.val_len = 0;
    T_EQ(mp_prop_check(&p), MP_OK); /* empty value */
    p.val = NULL;
    T_EQ(mp_prop_check(&p), MP_OK);
    p.val_len = 1;
    T_EQ(mp_prop_check(&p), MP_EPROP);
    p.val = (const uint8_t *)"\0";
    T_EQ(mp_prop_check(&p), MP_EPROP); /* NUL */
    p.val = (const uint8_t *)"\xff";
    T_EQ(mp_prop_check(&p), MP_OK); /* any other octet */
    static const char *keys_ok[] = {"a", "a.b", "a_b-c9", "0", "abcdefghijklmnopqrstuvwxyz01234"};
    static const char *keys_bad[] = {"",    "A",   "a b",
                                     "a/b", "a:b", "abcdefghijklmnopqrstuvwxyz012345"};
    for (size_t i = 0; i < sizeof keys_ok / sizeof keys_ok[0]; i++) {
        p.key = (const uint8_t *)keys_ok[i];
        p.key_len = (uint8_t)strlen(keys_ok[i]);
        T_EQ(mp_prop_check(&p), MP_OK);
    }
    for (size_t i = 0; i < sizeof keys_bad / sizeof keys_bad[0]; i++) {
        p.key = (const uint8_t *)keys_bad[i];
        p.key_len = (uint8_t)strlen(keys_bad[i]);
        T_EQ(mp_prop_check(&p), MP_EPROP);
    }
    T_EQ(mp_prop_check(NULL), MP_EPROP);
}

int main(void)
{
    test_name_check();
    test_pattern_check();
    test_match();
    test_props();
    return t_done("test_names");
}
