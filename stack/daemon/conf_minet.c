/*
 * conf_minet.c — the [minet] section of msgrd's configuration (README.md, "MINET") and
 * the --minet-* options.  No I/O, no allocation: conf.c's parser calls in here, and so
 * does the fuzz target through it.  Every value is checked here, so that a typo fails at
 * start-up with file:line instead of when the TAP is opened.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

/* An interface name the kernel takes as is: 1..15 bytes of [A-Za-z0-9_.-], not "." or
 * "..".  (The kernel also takes "tap%d" patterns; a fixed name is what tests and
 * firewall rules need, so the pattern is not offered.) */
static int mn_ifname(const char *v, char *dst, size_t cap)
{
    if (!msgrd_conf_word(v, cap) || !strcmp(v, ".") || !strcmp(v, ".."))
        return -1;
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

/* "aa:bb:cc:dd:ee:ff": exactly 17 bytes of hex pairs and colons; a unicast, non-zero MAC
 * (a multicast source address is dropped by every switch, MSG-MINET-8's learning too). */
static int mn_mac(const char *v, unsigned char mac[6])
{
    if (strlen(v) != 17)
        return -1;
    unsigned char m[6];
    for (int i = 0; i < 6; i++) {
        const char *p = v + 3 * i;
        if (i < 5 && p[2] != ':')
            return -1;
        int b = 0;
        for (int j = 0; j < 2; j++) {
            char ch = p[j];
            int d = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (d < 0)
                return -1;
            b = b * 16 + d;
        }
        m[i] = (unsigned char)b;
    }
    if ((m[0] & 1) || !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
        return -1;
    memcpy(mac, m, 6);
    return 0;
}

/* "10.77.0.1/24" or "fd77::1/64" (the prefix may be left out: a host address). */
static int mn_cidr(msgrd_conf_minet *m, const char *v)
{
    if (m->naddrs >= MSGRD_CONF_MAX_MINET_ADDRS || strlen(v) >= sizeof m->addr[0])
        return -1;
    char b[sizeof m->addr[0]];
    memcpy(b, v, strlen(v) + 1);
    char *slash = strchr(b, '/');
    unsigned long plen = 0;
    if (slash) {
        *slash = 0;
        /* Decimal digits only, as the TAP shell reads it (strtoul's "0x18" or octal
         * "024" would mean something else there). */
        const char *d = slash + 1;
        size_t nd = strspn(d, "0123456789");
        if (nd == 0 || nd > 3 || d[nd] || (d[0] == '0' && nd > 1))
            return -1;
        plen = strtoul(d, NULL, 10);
        if (plen > 128)
            return -1;
    }
    unsigned char a[16];
    if (inet_pton(AF_INET, b, a) == 1) {
        if (plen > 32)
            return -1;
    } else if (inet_pton(AF_INET6, b, a) != 1) {
        return -1;
    }
    memcpy(m->addr[m->naddrs++], v, strlen(v) + 1);
    return 0;
}

int msgrd_conf_minet_key(msgrd_conf_minet *m, const char *k, const char *v)
{
    if (!strcmp(k, "enabled"))
        return msgrd_conf_bool(v, &m->enabled);
    if (!strcmp(k, "tap") || !strcmp(k, "tap_name"))
        return mn_ifname(v, m->tap, sizeof m->tap);
    if (!strcmp(k, "mac")) {
        if (mn_mac(v, m->mac) < 0)
            return -1;
        m->mac_set = 1;
        return 0;
    }
    if (!strcmp(k, "address") || !strcmp(k, "addr"))
        return mn_cidr(m, v);
    if (!strcmp(k, "offload"))
        return msgrd_conf_bool(v, &m->offload);
    if (!strcmp(k, "mtu"))
        return msgrd_conf_num(v, 576, 65000, &m->mtu);
    if (!strcmp(k, "domain"))
        return msgrd_conf_num(v, 0, 0xFFFF, &m->domain);
    if (!strcmp(k, "ageing") || !strcmp(k, "aging"))
        return msgrd_conf_num(v, 1, 86400, &m->ageing);
    if (!strcmp(k, "max_entries"))
        return msgrd_conf_num(v, 16, 1048576, &m->max_entries);
    if (!strcmp(k, "txqueuelen"))
        return msgrd_conf_num(v, 1, 1000000, &m->txqueuelen);
    return -1;
}
