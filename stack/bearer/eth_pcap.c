/*
 * eth_pcap.c — raw Ethernet bearer over libpcap: the portable fallback for systems
 * without AF_PACKET (BSDs via BPF, ...).  Same wire behaviour as eth.c: EtherType
 * 0x88B5, Ethernet header stripped on receive, discovery to ff:ff:ff:ff:ff:ff.
 *
 * Receive: pcap_dispatch in non-blocking immediate mode with the BPF filter
 * "ether proto 0x88b5 and (ether dst <our MAC> or ether multicast)" (multicast includes
 * broadcast) and direction "in" (so our own transmissions are not seen).
 * Send: pcap_inject of header + frame (one copy into a scratch buffer).
 *
 * config: ifname=NAME (required), mtu=N (default 1500), ethertype=N,
 *         bufsize=BYTES (pcap buffer), promisc=0|1
 */
#define _GNU_SOURCE
#include "bearer_impl.h"

#include <errno.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <net/if_arp.h>
#endif

#include "mp/wire.h"

#define MB_ETH_HDR 14u
#define MB_ETH_MIN_PAYLOAD 46u /* Ethernet minimum payload; shorter frames are zero-padded */

struct mb_ethp {
    pcap_t *p;
    int fd;
    uint16_t ethertype;
    uint8_t *txbuf;
    int delivered;
};

static const char *const mb_ethp_keys[] = {"ifname", "mtu", "ethertype", "bufsize", "promisc", NULL};

static void mb_ethp_close(struct mb_bearer *b)
{
    struct mb_ethp *e = b->priv;
    if (!e)
        return;
    if (e->p)
        pcap_close(e->p);
    free(e->txbuf);
    free(e);
    b->priv = NULL;
}

static int mb_ethp_mac(const char *ifname, uint8_t mac[6])
{
#ifdef __linux__
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return mb__errno(errno);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1);
    int rc = ioctl(s, SIOCGIFHWADDR, &ifr);
    close(s);
    if (rc < 0 || ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
        return MB_ENODEV;
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    return 0;
#else
    /* Other systems: getifaddrs() with AF_LINK; not needed on the Linux build. */
    (void)ifname;
    (void)mac;
    return MB_ENOTSUP;
#endif
}

static int mb_ethp_open(struct mb_bearer *b, const char *cfg)
{
    char ifname[IF_NAMESIZE], errbuf[PCAP_ERRBUF_SIZE], filter[160];
    uint32_t mtu, etype, bufsize, promisc;
    int rc = mb__cfg_check("eth-pcap", cfg, mb_ethp_keys);
    if (rc < 0)
        return rc;
    if (mb__cfg_str(cfg, "ifname", ifname, sizeof ifname) <= 0) {
        mb__log("eth-pcap", "config: ifname= is required");
        return MB_EINVAL;
    }
    if ((rc = mb__cfg_u32(cfg, "mtu", MP_ETH_MTU, 64, 65535 - MB_ETH_HDR, &mtu)) < 0 ||
        (rc = mb__cfg_u32(cfg, "ethertype", MP_ETHERTYPE, 0x600, 0xffff, &etype)) < 0 ||
        (rc = mb__cfg_u32(cfg, "bufsize", 0, 0, 1u << 30, &bufsize)) < 0 ||
        (rc = mb__cfg_u32(cfg, "promisc", 0, 0, 1, &promisc)) < 0)
        return rc;
    struct mb_ethp *e = calloc(1, sizeof *e);
    if (!e)
        return MB_ENOMEM;
    b->priv = e;
    e->fd = -1;
    e->ethertype = (uint16_t)etype;
    e->txbuf = malloc(MB_ETH_HDR + (mtu > MB_ETH_MIN_PAYLOAD ? mtu : MB_ETH_MIN_PAYLOAD));
    if (!e->txbuf) {
        rc = MB_ENOMEM;
        goto fail;
    }
    if ((rc = mb_ethp_mac(ifname, b->self.b)) < 0) {
        mb__log("eth-pcap", "%s: cannot read the MAC address", ifname);
        goto fail;
    }
    b->self.len = 6;

    errbuf[0] = 0;
    e->p = pcap_create(ifname, errbuf);
    if (!e->p) {
        mb__log("eth-pcap", "pcap_create(%s): %s", ifname, errbuf);
        rc = MB_ENODEV;
        goto fail;
    }
    /* A little over the MTU so that longer frames arrive with caplen < len: counted. */
    pcap_set_snaplen(e->p, (int)(MB_ETH_HDR + mtu + 64));
    pcap_set_promisc(e->p, (int)promisc);
    pcap_set_immediate_mode(e->p, 1);
    if (bufsize)
        pcap_set_buffer_size(e->p, (int)bufsize);
    int st = pcap_activate(e->p);
    if (st < 0) {
        mb__log("eth-pcap", "pcap_activate(%s): %s", ifname, pcap_geterr(e->p));
        rc = (st == PCAP_ERROR_PERM_DENIED) ? MB_EPERM
             : (st == PCAP_ERROR_NO_SUCH_DEVICE) ? MB_ENODEV : MB_EIO;
        goto fail;
    }
    if (pcap_datalink(e->p) != DLT_EN10MB) {
        mb__log("eth-pcap", "%s: not an Ethernet interface", ifname);
        rc = MB_ENODEV;
        goto fail;
    }
    if (pcap_setnonblock(e->p, 1, errbuf) < 0) {
        mb__log("eth-pcap", "setnonblock: %s", errbuf);
        rc = MB_EIO;
        goto fail;
    }
    /* Only what others send us; without this our own frames come back on Linux. */
    if (pcap_setdirection(e->p, PCAP_D_IN) < 0)
        mb__log("eth-pcap", "setdirection(in) unsupported; own frames filtered by source");
    struct bpf_program prog;
    /* Our EtherType, addressed to us (the kernel does not drop frames for other hosts
     * before a capture sees them; AF_PACKET's sll_pkttype tells eth.c, BPF tells us). */
    const uint8_t *a = b->self.b;
    snprintf(filter, sizeof filter,
             "ether proto 0x%04x and (ether dst %02x:%02x:%02x:%02x:%02x:%02x or ether multicast)",
             (unsigned)e->ethertype, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (pcap_compile(e->p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0 ||
        pcap_setfilter(e->p, &prog) < 0) {
        mb__log("eth-pcap", "filter '%s': %s", filter, pcap_geterr(e->p));
        rc = MB_EIO;
        goto fail;
    }
    pcap_freecode(&prog);
    e->fd = pcap_get_selectable_fd(e->p);
    b->mtu = mtu;
    b->disc.len = 6;
    memset(b->disc.b, 0xff, 6);
    b->carrier = true;
    return 0;
fail:
    mb_ethp_close(b);
    return rc;
}

static int mb_ethp_send(struct mb_bearer *b, const uint8_t *frame, size_t len,
                        const struct mb_addr *dst)
{
    struct mb_ethp *e = b->priv;
    if (!dst || dst->len != 6)
        return MB_EADDR;
    memcpy(e->txbuf, dst->b, 6);
    memcpy(e->txbuf + 6, b->self.b, 6);
    e->txbuf[12] = (uint8_t)(e->ethertype >> 8);
    e->txbuf[13] = (uint8_t)e->ethertype;
    memcpy(e->txbuf + MB_ETH_HDR, frame, len);
    size_t wire = len;
    if (wire < MB_ETH_MIN_PAYLOAD) { /* MSG-ETH-3: zero-pad to the Ethernet minimum */
        memset(e->txbuf + MB_ETH_HDR + len, 0, MB_ETH_MIN_PAYLOAD - len);
        wire = MB_ETH_MIN_PAYLOAD;
    }
    if (pcap_inject(e->p, e->txbuf, MB_ETH_HDR + wire) < 0) {
        /* libpcap keeps errno from the failed write/send. */
        int err = errno;
        if (err != EAGAIN && err != ENOBUFS)
            mb__log("eth-pcap", "inject: %s", pcap_geterr(e->p));
        return (err == EAGAIN || err == ENOBUFS) ? MB_EAGAIN : MB_EIO;
    }
    mb__cap(b, e->txbuf, MB_ETH_HDR + len, true, NULL);
    return 0;
}

static void mb_ethp_handler(u_char *user, const struct pcap_pkthdr *h, const u_char *p)
{
    struct mb_bearer *b = (struct mb_bearer *)user;
    struct mb_ethp *e = b->priv;
    if (h->caplen < h->len || h->len > MB_ETH_HDR + b->mtu) {
        b->st.drop_too_long++;
        return;
    }
    if (h->caplen <= MB_ETH_HDR) {
        b->st.drop_too_short++;
        return;
    }
    if (((p[12] << 8) | p[13]) != e->ethertype) {
        b->st.drop_ethertype++;
        return;
    }
    /* Without direction support, our own transmissions show up: drop them. */
    if (memcmp(p + 6, b->self.b, 6) == 0) {
        b->st.drop_filtered++;
        return;
    }
    struct mb_addr src = {.len = 6};
    memcpy(src.b, p + 6, 6);
    mb__cap(b, p, h->caplen, false, NULL);
    e->delivered += mb__deliver(b, p + MB_ETH_HDR, h->caplen - MB_ETH_HDR, &src);
}

static int mb_ethp_fd(const struct mb_bearer *b)
{
    const struct mb_ethp *e = b->priv;
    return e->fd;
}

static int mb_ethp_on_readable(struct mb_bearer *b, unsigned budget)
{
    struct mb_ethp *e = b->priv;
    e->delivered = 0;
    int n = pcap_dispatch(e->p, (int)budget, mb_ethp_handler, (u_char *)b);
    if (n < 0 && n != PCAP_ERROR_BREAK) {
        mb__log("eth-pcap", "dispatch: %s", pcap_geterr(e->p));
        return e->delivered ? e->delivered : MB_EIO;
    }
    return e->delivered;
}

static void mb_ethp_stats(const struct mb_bearer *b, struct mb_stats *s)
{
    const struct mb_ethp *e = b->priv;
    struct pcap_stat ps;
    if (pcap_stats(e->p, &ps) == 0)
        s->drop_os += ps.ps_drop;
}

const struct mb_bearer_ops mb_eth_pcap_ops = {
    .name = "eth-pcap",
    .media = MP_BEARER_ETH,
    .open = mb_ethp_open,
    .close = mb_ethp_close,
    .send = mb_ethp_send,
    .fd = mb_ethp_fd,
    .on_readable = mb_ethp_on_readable,
    .stats = mb_ethp_stats,
};
