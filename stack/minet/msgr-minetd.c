/*
 * msgr-minetd — a Messenger node (the mrt_ runtime: mc_node + bearers in an epoll loop)
 * with a MINET TAP device bridged into the Messenger domain.
 *
 *   msgr-minetd --node-id N --bearer eth:ifname=veth0[,prio=P,...] [--bearer ...]
 *               [--tap minet0] [--addr 10.77.0.N/24] [--addr fd77::N/64] [--mac MAC]
 *               [--mtu 1500] [--minet-domain D] [--domain D] [--ageing S]
 *               [--tolerance MS] [--no-offload] [--txqueuelen N] [--log LEVEL]
 *
 * The default MAC is 02:4d:<node id> (mnet_default_mac), so a restarted node keeps its
 * MAC and its peers' neighbour caches stay valid.  SIGUSR1 prints the MINET table and
 * counters (what msgrctl shows) on stdout; SIGTERM/SIGINT stop.  "READY" is printed on
 * stdout once the TAP is up with its addresses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "mnet.h"
#include "rt.h"

#define MAX_ADDRS 8
#define MAX_BEARERS 16

typedef struct minetd {
    mrt *rt;
    mnet_sw *sw;
    mnet_tap *tap;
    mnet_port *port;
    bool tap_polled;
    bool stop;
    uint64_t next_expire;
} minetd;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: msgr-minetd --node-id N --bearer SPEC [--bearer SPEC ...] [options]\n"
            "  --bearer SPEC       e.g. eth:ifname=veth0,prio=10  udp:bind=...  pcie:name=x,role=host\n"
            "  --tap NAME          TAP device name (default minet0)\n"
            "  --addr CIDR         address on the TAP (repeatable; IPv4 or IPv6)\n"
            "  --mac MAC           TAP MAC (default 02:4d:<node id>)\n"
            "  --mtu N             TAP MTU (default 1500; same on every node)\n"
            "  --minet-domain D    MINET domain / virtual LAN (default 0)\n"
            "  --domain D          Messenger domain (default 0)\n"
            "  --ageing S          MAC ageing time in seconds (default 300)\n"
            "  --tolerance MS      link tolerance (default: core's, 500)\n"
            "  --no-offload        no TSO/checksum offload on the TAP\n"
            "  --txqueuelen N      TAP txqueuelen\n"
            "  --log LEVEL         err|warn|info|debug (default info)\n");
}

static void on_event(void *user, const mc_event *ev)
{
    minetd *d = user;
    if (ev->type == MC_EV_FAILOVER)
        mrt_log(MRT_M_LINK, MRT_LOG_INFO, "failover: peer %u bearer %d -> %d (%u messages)",
                ev->peer, ev->bearer, ev->to_bearer, ev->count);
    if (d->port)
        (void)mnet_port_on_event(d->port, ev);
}

static void set_tap_poll(minetd *d, bool on)
{
    if (d->tap_polled == on)
        return;
    if (mrt_mod_fd(d->rt, mnet_tap_fd(d->tap), on ? EPOLLIN : 0) == 0)
        d->tap_polled = on;
}

static void on_tap(void *user, int fd, uint32_t events)
{
    (void)fd;
    (void)events;
    minetd *d = user;
    (void)mnet_port_on_tap(d->port, mrt_now(), 64);
    if (!mnet_port_wants_tap(d->port))
        set_tap_poll(d, false); /* backpressure: the core's queue for a peer is full */
}

static void dump(minetd *d)
{
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    if (!buf)
        return;
    int n = mnet_port_format(d->port, mrt_now(), buf, cap);
    if (n > 0)
        fwrite(buf, 1, strlen(buf), stdout);
    fflush(stdout);
    free(buf);
}

static void on_signal(void *user, int fd, uint32_t events)
{
    (void)events;
    minetd *d = user;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGUSR1)
            dump(d);
        else
            d->stop = true;
    }
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || *end || end == s || v > 0xFFFFFFFFul)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"node-id", required_argument, 0, 'n'},   {"bearer", required_argument, 0, 'b'},
        {"tap", required_argument, 0, 't'},       {"addr", required_argument, 0, 'a'},
        {"mac", required_argument, 0, 'm'},       {"mtu", required_argument, 0, 'M'},
        {"minet-domain", required_argument, 0, 'D'}, {"domain", required_argument, 0, 'd'},
        {"ageing", required_argument, 0, 'g'},    {"tolerance", required_argument, 0, 'T'},
        {"no-offload", no_argument, 0, 'O'},      {"txqueuelen", required_argument, 0, 'q'},
        {"log", required_argument, 0, 'l'},       {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    uint32_t node_id = 0, mtu = 1500, mdomain = 0, domain = 0, ageing = 300, tol = 0, txq = 0;
    const char *bearers[MAX_BEARERS], *addrs[MAX_ADDRS];
    int nb = 0, na = 0, level = MRT_LOG_INFO;
    mnet_tap_cfg tc;
    mnet_tap_config_default(&tc);
    int c;
    while ((c = getopt_long(argc, argv, "n:b:t:a:m:h", opts, NULL)) != -1) {
        uint32_t *u = NULL;
        switch (c) {
        case 'n': u = &node_id; break;
        case 'M': u = &mtu; break;
        case 'D': u = &mdomain; break;
        case 'd': u = &domain; break;
        case 'g': u = &ageing; break;
        case 'T': u = &tol; break;
        case 'q': u = &txq; break;
        case 'b':
            if (nb == MAX_BEARERS) {
                fprintf(stderr, "msgr-minetd: too many bearers\n");
                return 2;
            }
            bearers[nb++] = optarg;
            break;
        case 'a':
            if (na == MAX_ADDRS) {
                fprintf(stderr, "msgr-minetd: too many addresses\n");
                return 2;
            }
            addrs[na++] = optarg;
            break;
        case 't': tc.name = optarg; break;
        case 'm':
            if (mnet_mac_parse(optarg, tc.mac) < 0 || (tc.mac[0] & 1)) {
                fprintf(stderr, "msgr-minetd: bad MAC '%s'\n", optarg);
                return 2;
            }
            tc.mac_set = true;
            break;
        case 'O': tc.offload = false; break;
        case 'l':
            level = mrt_level_find(optarg);
            if (level < 0) {
                fprintf(stderr, "msgr-minetd: bad log level '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (u && parse_u32(optarg, u) < 0) {
            fprintf(stderr, "msgr-minetd: bad number '%s'\n", optarg);
            return 2;
        }
    }
    if (optind != argc || node_id == 0 || node_id == 0xFFFFFFFFu || nb == 0 || mtu < 576 ||
        mtu > 65000 || mdomain > 0xFFFF || tol > 30000 || ageing == 0) {
        usage(stderr);
        return 2;
    }
    char ident[32];
    snprintf(ident, sizeof ident, "msgr-minetd/%u", node_id);
    mrt_log_ident(ident);
    mrt_log_set_level(-1, level);
    if (!tc.mac_set) {
        mnet_default_mac(node_id, tc.mac);
        tc.mac_set = true;
    }
    tc.mtu = (uint16_t)mtu;
    tc.txqueuelen = txq;

    minetd d = {0};
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGUSR1);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGHUP);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    int sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    mrt_config rc_cfg = {.node_id = node_id, .domain = domain, .tolerance_ms = (uint16_t)tol,
                         .event = on_event, .user = &d};
    int r = mrt_create(&rc_cfg, &d.rt);
    if (r < 0) {
        fprintf(stderr, "msgr-minetd: runtime: %s\n", mrt_strerror(r));
        return 1;
    }
    mnet_sw_cfg swc;
    mnet_sw_config_default(&swc);
    swc.self = node_id;
    swc.domain = (uint16_t)mdomain;
    swc.ageing_ns = (uint64_t)ageing * 1000000000ull;
    if ((r = mnet_sw_create(&swc, &d.sw)) < 0) {
        fprintf(stderr, "msgr-minetd: switch: %s\n", mnet_strerror(r));
        goto out;
    }
    if ((r = mnet_tap_open(&tc, &d.tap)) < 0) {
        fprintf(stderr, "msgr-minetd: TAP %s: %s (%s)\n", tc.name, mnet_strerror(r),
                strerror(d.tap ? mnet_tap_errno(d.tap) : errno));
        goto out;
    }
    for (int i = 0; i < na; i++)
        if ((r = mnet_tap_add_addr(d.tap, addrs[i])) < 0) {
            fprintf(stderr, "msgr-minetd: address %s: %s (%s)\n", addrs[i], mnet_strerror(r),
                    strerror(mnet_tap_errno(d.tap)));
            goto out;
        }
    (void)mc_set_caps(mrt_node(d.rt), MP_CAP_MINET); /* before any link: MSG-MINET-5 */
    if ((r = mnet_port_create(mrt_node(d.rt), d.sw, d.tap, (uint16_t)mdomain, &d.port)) < 0) {
        fprintf(stderr, "msgr-minetd: port: %s\n", mnet_strerror(r));
        goto out;
    }
    /* Bearers after the port exists, so no PEER_UP is missed. */
    for (int i = 0; i < nb; i++) {
        r = mrt_add_bearer(d.rt, bearers[i]);
        if (r < 0) {
            fprintf(stderr, "msgr-minetd: bearer '%s': %s\n", bearers[i], mrt_strerror(r));
            goto out;
        }
    }
    if (mrt_add_fd(d.rt, mnet_tap_fd(d.tap), EPOLLIN, on_tap, &d) < 0 ||
        (sfd >= 0 && mrt_add_fd(d.rt, sfd, EPOLLIN, on_signal, &d) < 0)) {
        fprintf(stderr, "msgr-minetd: epoll setup failed\n");
        goto out;
    }
    d.tap_polled = true;
    uint8_t mac[6];
    mnet_tap_mac(d.tap, mac);
    mrt_log(MRT_M_RT, MRT_LOG_INFO,
            "node %u: TAP %s mac %02x:%02x:%02x:%02x:%02x:%02x mtu %u offload %s, %d bearer(s)",
            node_id, mnet_tap_name(d.tap), mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], mtu,
            mnet_tap_offload(d.tap) ? "on" : "off", nb);
    printf("READY %s\n", mnet_tap_name(d.tap));
    fflush(stdout);

    while (!d.stop) {
        r = mrt_run_once(d.rt, 1000);
        if (r < 0) {
            fprintf(stderr, "msgr-minetd: loop: %s\n", mrt_strerror(r));
            goto out;
        }
        uint64_t now = mrt_now();
        if (!mnet_port_wants_tap(d.port) && mnet_port_retry(d.port, now) == MNET_OK) {
            set_tap_poll(&d, true);
            (void)mrt_flush(d.rt);
        } else if (mnet_port_wants_tap(d.port)) {
            set_tap_poll(&d, true);
        }
        if (now >= d.next_expire) {
            (void)mnet_sw_expire(d.sw, now);
            d.next_expire = now + 1000000000ull;
        }
    }
    rc = 0;
out:
    if (d.rt)
        mrt_destroy(d.rt);
    mnet_port_destroy(d.port);
    mnet_tap_close(d.tap);
    mnet_sw_destroy(d.sw);
    if (sfd >= 0)
        close(sfd);
    return rc;
}
