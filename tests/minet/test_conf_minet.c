/*
 * test_conf_minet.c — msgrd's [minet] configuration section (stack/daemon/conf_minet.c
 * through msgrd_conf_parse): defaults, every key, the section enabling MINET unless
 * "enabled = no", and bad values rejected with the right line number.
 */
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

static int parse(msgrd_conf *c, const char *text, char *err, size_t errlen)
{
    msgrd_conf_init(c);
    err[0] = 0;
    return msgrd_conf_parse(c, text, strlen(text), err, errlen);
}

/* A file whose line `line` is bad: rejected, and the error names that line. */
static void bad(const char *text, int line)
{
    msgrd_conf c;
    char err[256], want[16];
    CHECK(parse(&c, text, err, sizeof err) == -1);
    snprintf(want, sizeof want, "%d: ", line);
    if (strncmp(err, want, strlen(want)) != 0) {
        fprintf(stderr, "for %s: error '%s', want line %d\n", text, err, line);
        fails++;
    }
    msgrd_conf_free(&c);
}

int main(void)
{
    msgrd_conf c;
    char err[256];

    /* No section: MINET off, defaults that minet.c turns into minet0/1500/300 s. */
    CHECK(parse(&c, "node_id = 1\n", err, sizeof err) == 0);
    CHECK(!c.minet.enabled && c.minet.offload == 1 && !c.minet.tap[0] && !c.minet.mtu &&
          !c.minet.mac_set && !c.minet.naddrs);
    msgrd_conf_free(&c);

    /* Every key. */
    CHECK(parse(&c,
                "node_id = 3\n"
                "[minet]\n"
                "tap = mn-3\n"
                "mac = 02:AA:bb:00:00:03\n"
                "mtu = 9000\n"
                "domain = 65535\n"
                "ageing = 120\n"
                "max_entries = 64\n"
                "txqueuelen = 2000\n"
                "offload = no\n"
                "address = 10.77.0.3/24\n"
                "address = fd77::3/64\n"
                "addr = 192.0.2.1\n"
                "[node]\n"
                "domain = 9\n",
                err, sizeof err) == 0);
    CHECK(c.minet.enabled == 1 && !strcmp(c.minet.tap, "mn-3") && c.minet.mac_set);
    CHECK(c.minet.mac[0] == 0x02 && c.minet.mac[1] == 0xaa && c.minet.mac[2] == 0xbb &&
          c.minet.mac[5] == 0x03);
    CHECK(c.minet.mtu == 9000 && c.minet.domain == 65535 && c.minet.ageing == 120);
    CHECK(c.minet.max_entries == 64 && c.minet.txqueuelen == 2000 && c.minet.offload == 0);
    CHECK(c.minet.naddrs == 3 && !strcmp(c.minet.addr[0], "10.77.0.3/24") &&
          !strcmp(c.minet.addr[1], "fd77::3/64") && !strcmp(c.minet.addr[2], "192.0.2.1"));
    CHECK(c.domain == 9 && c.node_id == 3); /* [node] after [minet] is the node's again */
    msgrd_conf_free(&c);

    /* The section enables MINET unless it says otherwise. */
    CHECK(parse(&c, "[minet]\nenabled = no\ntap = x\n", err, sizeof err) == 0);
    CHECK(c.minet.enabled == 0 && !strcmp(c.minet.tap, "x"));
    msgrd_conf_free(&c);

    /* The --minet-* options go through the same key function. */
    msgrd_conf_init(&c);
    CHECK(msgrd_conf_minet_key(&c.minet, "address", "10.0.0.1/8") == 0);
    CHECK(msgrd_conf_minet_key(&c.minet, "bogus", "1") == -1);
    CHECK(c.minet.naddrs == 1);
    msgrd_conf_free(&c);

    /* Bad values, each on its line. */
    bad("[minet]\nmtu = 575\n", 2);
    bad("[minet]\nmtu = 65001\n", 2);
    bad("[minet]\nmtu = -1500\n", 2);
    bad("[minet]\ndomain = 65536\n", 2);
    bad("[minet]\nageing = 0\n", 2);
    bad("[minet]\nmax_entries = 15\n", 2);
    bad("[minet]\n\nmac = 01:00:5e:00:00:01\n", 3); /* multicast */
    bad("[minet]\nmac = 00:00:00:00:00:00\n", 2);   /* zero */
    bad("[minet]\nmac = 02:4d:00:00:00\n", 2);      /* short */
    bad("[minet]\nmac = 02-4d-00-00-00-01\n", 2);
    bad("[minet]\ntap = \n", 2);
    bad("[minet]\ntap = a/b\n", 2);
    bad("[minet]\ntap = 0123456789abcdef\n", 2); /* 16 bytes: over IFNAMSIZ */
    bad("[minet]\naddress = 10.0.0.1/33\n", 2);
    bad("[minet]\naddress = fd77::1/129\n", 2);
    bad("[minet]\naddress = 10.0.0.1/0x18\n", 2); /* the TAP reads decimal only */
    bad("[minet]\naddress = 10.0.0.300/24\n", 2);
    bad("[minet]\naddress = minet\n", 2);
    bad("[minet]\nenabled = maybe\n", 2);
    bad("[minet]\noffload = 2\n", 2);
    bad("[minet]\nifname = minet0\n", 2); /* unknown key */
    bad("[minet]\naddress = 10.0.0.1\naddress = 10.0.0.2\naddress = 10.0.0.3\n"
        "address = 10.0.0.4\naddress = 10.0.0.5\naddress = 10.0.0.6\naddress = 10.0.0.7\n"
        "address = 10.0.0.8\naddress = 10.0.0.9\n",
        10);                  /* MSGRD_CONF_MAX_MINET_ADDRS */
    bad("tap = minet0\n", 1); /* a [minet] key outside [minet] */

    if (fails) {
        fprintf(stderr, "%d check(s) failed\n", fails);
        return 1;
    }
    printf("test_conf_minet: OK\n");
    return 0;
}
