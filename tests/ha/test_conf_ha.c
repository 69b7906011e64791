/*
 * test_conf_ha.c — msgrd's HA configuration through msgrd_conf_parse:
 *   iop    the [iop NAME] sections (stack/daemon/conf_iop.c): every key, the defaults left
 *          to the IOP manager, and bad values, names, duplicates and dangling standbys
 *          rejected with the right line number;
 *   watch  the [ha] keys of the FTM's monitor (watch_ftm, ftm_candidates;
 *          stack/daemon/conf_ha.c): accepted forms, and bad values with the line number.
 * Usage: test_ha_conf iop|watch
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"

static int fails;
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);                  \
            fails++;                                                                               \
        }                                                                                          \
    } while (0)

static msgrd_conf cf; /* large: not on the stack */

static int parse(const char *text, char *err, size_t errlen)
{
    msgrd_conf_init(&cf);
    err[0] = 0;
    return msgrd_conf_parse(&cf, text, strlen(text), err, errlen);
}

/* A file whose line `line` is bad: rejected, and the error names that line (and, when
 * want_expected, says what was expected). */
static void bad_at(const char *text, int line, bool want_expected)
{
    char err[256], want[16];
    CHECK(parse(text, err, sizeof err) == -1);
    snprintf(want, sizeof want, "%d: ", line);
    if (strncmp(err, want, strlen(want)) != 0 || (want_expected && !strstr(err, "(expected "))) {
        fprintf(stderr, "for %s: error '%s', want line %d\n", text, err, line);
        fails++;
    }
    msgrd_conf_free(&cf);
}

static void bad(const char *text, int line) { bad_at(text, line, false); }

/* Line 3 of "[ha]\nftm_node = 1\nKEY = VALUE\n" is rejected, and the error says so. */
static void bad_ha(const char *kv)
{
    char text[128];
    snprintf(text, sizeof text, "[ha]\nftm_node = 1\n%s\n", kv);
    bad_at(text, 3, true);
}

static void test_iop(void)
{
    char err[256];
    const char *good = "node_id = 1\n"
                       "[ha]\nftm = active\n"
                       "[iop io1]\nnode = 11\nslot = 1\nconfig = /etc/msgr/io1.conf\n"
                       "msgrd = /usr/sbin/msgrd\nsocket = /run/msgr/io1.sock\nshim = bus1\n"
                       "shim_sock = /run/msgr/bus1.shim\nstandby = io2\ndrain_ms = 2000\n"
                       "boot_ms = 8000\nautoboot = yes\n"
                       "[iop io2]\nnode = 12\nslot = 0\nstandby = io1\n";
    CHECK(parse(good, err, sizeof err) == 0);
    CHECK(cf.ha.niop == 2);
    const msgrd_conf_iop *a = &cf.ha.iop[0], *b = &cf.ha.iop[1];
    CHECK(!strcmp(a->name, "io1") && a->node == 11 && a->slot == 1);
    CHECK(!strcmp(a->config, "/etc/msgr/io1.conf") && !strcmp(a->msgrd, "/usr/sbin/msgrd"));
    CHECK(!strcmp(a->socket, "/run/msgr/io1.sock") && !strcmp(a->shim, "bus1"));
    CHECK(!strcmp(a->shim_sock, "/run/msgr/bus1.shim") && !strcmp(a->standby, "io2"));
    CHECK(a->drain_ms == 2000 && a->boot_ms == 8000 && a->autoboot == 1);
    CHECK(!strcmp(b->name, "io2") && b->node == 12 && b->slot == 0 && !b->config[0]);
    CHECK(b->drain_ms == 0 && b->boot_ms == 0 && b->autoboot == 0 && !b->shim[0]);
    msgrd_conf_free(&cf);

    /* The section name: spaces around it are trimmed; it must be a safe word. */
    CHECK(parse("[iop  x.y_z-1 ]\nnode = 3\nslot = 255\n", err, sizeof err) == 0);
    CHECK(cf.ha.niop == 1 && !strcmp(cf.ha.iop[0].name, "x.y_z-1"));
    msgrd_conf_free(&cf);
    bad("[iop]\nnode = 3\n", 1);
    bad("[iop ]\nnode = 3\n", 1);
    bad("[iop a/b]\nnode = 3\nslot = 1\n", 1);
    bad("[iop -a]\nnode = 3\nslot = 1\n", 1);
    bad("[iop abcdefghijklmnop]\nnode = 3\nslot = 1\n", 1); /* 16 bytes */
    bad("[iop a]\nnode = 3\nslot = 1\n[iop a]\nnode = 4\nslot = 2\n", 4);
    /* Required keys, checked when the section ends (next header or end of file). */
    bad("[iop a]\nslot = 1\n", 2);
    bad("[iop a]\nnode = 3\n[ha]\n", 3);
    /* Values. */
    bad("[iop a]\nnode = 0\n", 2);
    bad("[iop a]\nnode = 4294967295\n", 2);
    bad("[iop a]\nnode = -1\n", 2);
    bad("[iop a]\nnode = 3\nslot = 256\n", 3);
    bad("[iop a]\nnode = 3\nslot = 1\ndrain_ms = 9\n", 4);
    bad("[iop a]\nnode = 3\nslot = 1\nboot_ms = 600001\n", 4);
    bad("[iop a]\nnode = 3\nslot = 1\nautoboot = maybe\n", 4);
    bad("[iop a]\nnode = 3\nslot = 1\nconfig =\n", 4);
    bad("[iop a]\nnode = 3\nslot = 1\nshim = a,b\n", 4);
    bad("[iop a]\nnode = 3\nslot = 1\nwhat = 1\n", 4);
    /* Two boards in one slot or with one node id could not be told apart. */
    bad("[iop a]\nnode = 3\nslot = 1\n[iop b]\nnode = 3\nslot = 2\n", 6);
    bad("[iop a]\nnode = 3\nslot = 1\n[iop b]\nnode = 4\nslot = 1\n[ha]\n", 7);
    /* standby must name another [iop]: the error points at the section that names it. */
    bad("[iop a]\nnode = 3\nslot = 1\nstandby = b\n", 1);
    bad("[iop a]\nnode = 3\nslot = 1\n[iop b]\nnode = 4\nslot = 2\nstandby = b\n", 4);
    /* At most MSGRD_CONF_MAX_IOP. */
    char many[2048];
    size_t n = 0;
    for (int i = 0; i <= MSGRD_CONF_MAX_IOP; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "[iop b%d]\nnode = %d\nslot = %d\n", i,
                              10 + i, i);
    bad(many, 3 * MSGRD_CONF_MAX_IOP + 1);
}

static void test_watch(void)
{
    char err[256];
    CHECK(parse("[ha]\nftm = off\n", err, sizeof err) == 0);
    CHECK(cf.ha.watch_ftm == 0 && cf.ha.nftm_cand == 0);
    msgrd_conf_free(&cf);

    CHECK(parse("[ha]\nftm_node = 1\nwatch_ftm = yes\nftm_candidates = 1, 2,7\n", err,
                sizeof err) == 0);
    CHECK(cf.ha.watch_ftm == 1 && cf.ha.nftm_cand == 3);
    CHECK(cf.ha.ftm_cand[0] == 1 && cf.ha.ftm_cand[1] == 2 && cf.ha.ftm_cand[2] == 7);
    msgrd_conf_free(&cf);
    CHECK(parse("[ha]\nwatch_ftm = on\nwatch_ftm = off\nftm_candidates = 4294967294\n", err,
                sizeof err) == 0);
    CHECK(cf.ha.watch_ftm == 0 && cf.ha.nftm_cand == 1 && cf.ha.ftm_cand[0] == 0xFFFFFFFEul);
    msgrd_conf_free(&cf);

    bad_ha("watch_ftm = maybe");
    bad_ha("watch_ftm =");
    bad_ha("ftm_candidates =");
    bad_ha("ftm_candidates = 0");          /* not a node */
    bad_ha("ftm_candidates = 4294967295"); /* the broadcast id */
    bad_ha("ftm_candidates = 2,2");        /* twice */
    bad_ha("ftm_candidates = 1,2,3,4,5");  /* more than 4 */
    bad_ha("ftm_candidates = 2,");
    bad_ha("ftm_candidates = ,2");
    bad_ha("ftm_candidates = 2,,3");
    bad_ha("ftm_candidates = -2");
    bad_ha("ftm_candidates = 2;3");
    bad_ha("ftm_candidates = 12345678901234567890");
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    if (!strcmp(what, "iop"))
        test_iop();
    else if (!strcmp(what, "watch"))
        test_watch();
    else {
        fprintf(stderr, "usage: test_ha_conf iop|watch\n");
        return 2;
    }
    if (fails)
        fprintf(stderr, "test_ha_conf %s: %d check(s) failed\n", what, fails);
    else
        printf("test_ha_conf %s: ok\n", what);
    return fails != 0;
}
