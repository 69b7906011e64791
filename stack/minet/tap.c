/*
 * tap.c — the MINET TAP shell: /dev/net/tun with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR.
 *
 * With TUNSETOFFLOAD (CSUM, TSO4, TSO6, TSO_ECN) the kernel hands us TCP super-frames
 * of up to 64 KiB with a virtio_net_hdr saying how to segment them and where the
 * checksum is still to be computed, and accepts the same from us.  The virtio_net_hdr is
 * in the TAP's (native, legacy) byte order; MINET carries the same fields big-endian
 * (RFC 11.3), the conversion happens in the glue via mnet_meta (host order).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mnet.h"
#include "mp/wire.h"

struct mnet_tap {
    int fd;
    char name[IFNAMSIZ];
    uint8_t mac[MNET_MAC_LEN];
    bool offload;
    int err;
};

/* <linux/ipv6.h> clashes with glibc's netinet/in.h; this is its struct in6_ifreq. */
struct mnet_in6_ifreq {
    struct in6_addr ifr6_addr;
    uint32_t ifr6_prefixlen;
    int ifr6_ifindex;
};

void mnet_tap_config_default(mnet_tap_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->name = "minet0";
    cfg->mtu = 1500;
    cfg->offload = true;
}

static int fail(mnet_tap *t, int e)
{
    if (t)
        t->err = e;
    if (e == EPERM || e == EACCES)
        return MNET_EPERM;
    if (e == ENOENT || e == ENODEV || e == ENXIO)
        return MNET_ENODEV;
    if (e == EAGAIN)
        return MNET_EAGAIN;
    return MNET_EIO;
}

static int ifioctl(mnet_tap *t, int family, unsigned long req, struct ifreq *ifr)
{
    int s = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return fail(t, errno);
    snprintf(ifr->ifr_name, IFNAMSIZ, "%s", t->name);
    int r = ioctl(s, req, ifr);
    int e = errno;
    close(s);
    return r < 0 ? fail(t, e) : MNET_OK;
}

int mnet_tap_open(const mnet_tap_cfg *cfg, mnet_tap **out)
{
    if (!cfg || !out || (cfg->name && strlen(cfg->name) >= IFNAMSIZ))
        return MNET_EINVAL;
    mnet_tap *t = calloc(1, sizeof *t);
    if (!t)
        return MNET_ENOMEM;
    int rc;
    t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (t->fd < 0) {
        rc = fail(t, errno);
        free(t);
        return rc;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    /* IFF_VNET_HDR always: even without offloads of our own, the kernel takes the GSO
     * super-frames of peers that have them and segments them [MSG-MINET-11]. */
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (cfg->name && cfg->name[0])
        snprintf(ifr.ifr_name, IFNAMSIZ, "%s", cfg->name);
    if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
        rc = fail(t, errno);
        goto err;
    }
    snprintf(t->name, sizeof t->name, "%s", ifr.ifr_name);
    int hs = (int)sizeof(struct virtio_net_hdr);
    if (ioctl(t->fd, TUNSETVNETHDRSZ, &hs) < 0) {
        rc = fail(t, errno);
        goto err;
    }
    unsigned off = cfg->offload ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN : 0;
    if (ioctl(t->fd, TUNSETOFFLOAD, off) < 0) {
        rc = fail(t, errno);
        goto err;
    }
    t->offload = cfg->offload;
    if (cfg->mac_set) {
        memset(&ifr, 0, sizeof ifr);
        ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
        memcpy(ifr.ifr_hwaddr.sa_data, cfg->mac, MNET_MAC_LEN);
        if ((rc = ifioctl(t, AF_INET, SIOCSIFHWADDR, &ifr)) < 0)
            goto err;
    }
    memset(&ifr, 0, sizeof ifr);
    if ((rc = ifioctl(t, AF_INET, SIOCGIFHWADDR, &ifr)) < 0)
        goto err;
    memcpy(t->mac, ifr.ifr_hwaddr.sa_data, MNET_MAC_LEN);
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_mtu = cfg->mtu ? cfg->mtu : 1500;
    if ((rc = ifioctl(t, AF_INET, SIOCSIFMTU, &ifr)) < 0)
        goto err;
    if (cfg->txqueuelen) {
        memset(&ifr, 0, sizeof ifr);
        ifr.ifr_qlen = (int)cfg->txqueuelen;
        if ((rc = ifioctl(t, AF_INET, SIOCSIFTXQLEN, &ifr)) < 0)
            goto err;
    }
    memset(&ifr, 0, sizeof ifr);
    if ((rc = ifioctl(t, AF_INET, SIOCGIFFLAGS, &ifr)) < 0)
        goto err;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if ((rc = ifioctl(t, AF_INET, SIOCSIFFLAGS, &ifr)) < 0)
        goto err;
    *out = t;
    return MNET_OK;
err:
    close(t->fd);
    free(t);
    return rc;
}

void mnet_tap_close(mnet_tap *t)
{
    if (!t)
        return;
    if (t->fd >= 0)
        close(t->fd);
    free(t);
}

int mnet_tap_fd(const mnet_tap *t) { return t ? t->fd : -1; }
const char *mnet_tap_name(const mnet_tap *t) { return t ? t->name : ""; }
void mnet_tap_mac(const mnet_tap *t, uint8_t mac[MNET_MAC_LEN]) { memcpy(mac, t->mac, MNET_MAC_LEN); }
bool mnet_tap_offload(const mnet_tap *t) { return t && t->offload; }
int mnet_tap_errno(const mnet_tap *t) { return t ? t->err : 0; }

int mnet_tap_add_addr(mnet_tap *t, const char *cidr)
{
    if (!t || !cidr)
        return MNET_EINVAL;
    char buf[INET6_ADDRSTRLEN + 8];
    if (strlen(cidr) >= sizeof buf)
        return MNET_EINVAL;
    snprintf(buf, sizeof buf, "%s", cidr);
    char *slash = strchr(buf, '/');
    long plen = -1;
    if (slash) {
        *slash = 0;
        char *end;
        plen = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1)
            return MNET_EINVAL;
    }
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        if (plen < 0)
            plen = 32;
        if (plen > 32)
            return MNET_EINVAL;
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = a4};
        memcpy(&ifr.ifr_addr, &sin, sizeof sin);
        int rc = ifioctl(t, AF_INET, SIOCSIFADDR, &ifr);
        if (rc < 0)
            return rc;
        memset(&ifr, 0, sizeof ifr);
        sin.sin_addr.s_addr = plen ? htonl(~0u << (32 - plen)) : 0;
        memcpy(&ifr.ifr_netmask, &sin, sizeof sin);
        return ifioctl(t, AF_INET, SIOCSIFNETMASK, &ifr);
    }
    if (inet_pton(AF_INET6, buf, &a6) == 1) {
        if (plen < 0)
            plen = 128;
        if (plen > 128)
            return MNET_EINVAL;
        unsigned idx = if_nametoindex(t->name);
        if (!idx)
            return fail(t, errno);
        struct mnet_in6_ifreq r6 = {.ifr6_addr = a6, .ifr6_prefixlen = (uint32_t)plen,
                                    .ifr6_ifindex = (int)idx};
        int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0)
            return fail(t, errno);
        int r = ioctl(s, SIOCSIFADDR, &r6);
        int e = errno;
        close(s);
        return r < 0 ? fail(t, e) : MNET_OK;
    }
    return MNET_EINVAL;
}

/* virtio_net_hdr (native order) <-> mnet_meta. */
static void vhdr_to_meta(const struct virtio_net_hdr *h, mnet_meta *m)
{
    memset(m, 0, sizeof *m);
    bool csum = h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
    if (!csum && h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
        return; /* OFFLOAD clear: every field 0 [MSG-MINET-6] */
    m->mflags = MP_MFLAG_OFFLOAD | (csum ? MP_MFLAG_NEEDS_CSUM : 0);
    m->gso_type = h->gso_type;
    m->hdr_len = h->hdr_len;
    m->gso_size = h->gso_size;
    m->csum_start = h->csum_start;
    m->csum_offset = h->csum_offset;
}

static void meta_to_vhdr(const mnet_meta *m, struct virtio_net_hdr *h)
{
    memset(h, 0, sizeof *h);
    if (!m || !(m->mflags & MP_MFLAG_OFFLOAD))
        return;
    h->flags = (m->mflags & MP_MFLAG_NEEDS_CSUM) ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
    h->gso_type = m->gso_type;
    h->hdr_len = m->hdr_len;
    h->gso_size = m->gso_size;
    h->csum_start = m->csum_start;
    h->csum_offset = m->csum_offset;
}

int mnet_tap_read(mnet_tap *t, uint8_t *buf, size_t cap, mnet_meta *meta)
{
    if (!t || !buf || !meta)
        return MNET_EINVAL;
    struct virtio_net_hdr h;
    struct iovec iov[2] = {{&h, sizeof h}, {buf, cap}};
    ssize_t n = readv(t->fd, iov, 2);
    if (n < 0)
        return fail(t, errno);
    if ((size_t)n < sizeof h)
        return MNET_ESHORT;
    n -= (ssize_t)sizeof h;
    vhdr_to_meta(&h, meta);
    return (int)n;
}

int mnet_tap_write(mnet_tap *t, const uint8_t *eth, size_t len, const mnet_meta *meta)
{
    if (!t || !eth)
        return MNET_EINVAL;
    struct virtio_net_hdr h;
    meta_to_vhdr(meta, &h);
    struct iovec iov[2] = {{&h, sizeof h}, {(void *)eth, len}};
    ssize_t n = writev(t->fd, iov, 2);
    if (n < 0)
        return fail(t, errno);
    return MNET_OK;
}
