/*
 * eth.c — raw Ethernet bearer over AF_PACKET (Linux).
 *
 * One SOCK_RAW packet socket bound to the interface and to EtherType 0x88B5, so the
 * kernel filters by EtherType and device before anything reaches us.  Receive in
 * batches with recvmmsg, send in batches with sendmmsg (the 14-byte header and the
 * frame go out as two iovecs: no copy).  The Ethernet header is stripped on receive and
 * nothing else: bytes after the Messenger frame (minimum-size padding) are delivered
 * too; the codec ignores them.
 *
 * config: ifname=NAME (required), mtu=N (default min(1500, interface MTU)),
 *         rcvbuf=BYTES, sndbuf=BYTES, ethertype=N (default 0x88B5),
 *         qdisc_bypass=0|1 (PACKET_QDISC_BYPASS; default 0)
 */
#define _GNU_SOURCE
#include "bearer_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if_arp.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mp/wire.h"

#define MB_ETH_HDR 14u
#define MB_ETH_MIN_PAYLOAD 46u /* Ethernet minimum payload; shorter frames are zero-padded */
#define MB_ETH_BATCH 32u

struct mb_eth {
    int fd;
    int ifindex;
    uint16_t ethertype;
    size_t bufsz;                         /* per receive slot */
    uint8_t *rxbuf;                       /* MB_ETH_BATCH * bufsz */
    struct mmsghdr rxm[MB_ETH_BATCH];
    struct iovec rxiov[MB_ETH_BATCH];
    struct sockaddr_ll rxsll[MB_ETH_BATCH];
    uint8_t txhdr[MB_ETH_BATCH][MB_ETH_HDR];
    struct mmsghdr txm[MB_ETH_BATCH];
    struct iovec txiov[MB_ETH_BATCH][3]; /* header, frame, zero padding (MSG-ETH-3) */
    uint8_t *txcap;                       /* capture scratch: header + frame */
    uint64_t os_drops;                    /* PACKET_STATISTICS, accumulated */
};

static const char *const mb_eth_keys[] = {"ifname", "mtu", "rcvbuf", "sndbuf", "ethertype",
                                          "qdisc_bypass", NULL};

static void mb_eth_close(struct mb_bearer *b)
{
    struct mb_eth *e = b->priv;
    if (!e)
        return;
    if (e->fd >= 0)
        close(e->fd);
    free(e->rxbuf);
    free(e->txcap);
    free(e);
    b->priv = NULL;
}

static int mb_eth_open(struct mb_bearer *b, const char *cfg)
{
    char ifname[IF_NAMESIZE];
    uint32_t mtu, rcvbuf, sndbuf, etype, bypass;
    int rc = mb__cfg_check("eth", cfg, mb_eth_keys);
    if (rc < 0)
        return rc;
    rc = mb__cfg_str(cfg, "ifname", ifname, sizeof ifname);
    if (rc <= 0) {
        mb__log("eth", "config: ifname= is required");
        return MB_EINVAL;
    }
    if ((rc = mb__cfg_u32(cfg, "mtu", MP_ETH_MTU, 64, 65535 - MB_ETH_HDR, &mtu)) < 0 ||
        (rc = mb__cfg_u32(cfg, "rcvbuf", MB_DEFAULT_RCVBUF, 0, 1u << 30, &rcvbuf)) < 0 ||
        (rc = mb__cfg_u32(cfg, "sndbuf", 0, 0, 1u << 30, &sndbuf)) < 0 ||
        (rc = mb__cfg_u32(cfg, "ethertype", MP_ETHERTYPE, 0x600, 0xffff, &etype)) < 0 ||
        (rc = mb__cfg_u32(cfg, "qdisc_bypass", 0, 0, 1, &bypass)) < 0)
        return rc;

    struct mb_eth *e = calloc(1, sizeof *e);
    if (!e)
        return MB_ENOMEM;
    e->fd = -1;
    b->priv = e;
    e->ethertype = (uint16_t)etype;

    e->ifindex = (int)if_nametoindex(ifname);
    if (e->ifindex == 0) {
        mb__log("eth", "%s: no such interface", ifname);
        rc = MB_ENODEV;
        goto fail;
    }
    e->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(e->ethertype));
    if (e->fd < 0) {
        rc = mb__errno(errno);
        mb__log("eth", "socket(AF_PACKET): %s", strerror(errno));
        goto fail;
    }
    struct sockaddr_ll sll = {.sll_family = AF_PACKET,
                              .sll_protocol = htons(e->ethertype),
                              .sll_ifindex = e->ifindex};
    if (bind(e->fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        rc = mb__errno(errno);
        mb__log("eth", "bind(%s): %s", ifname, strerror(errno));
        goto fail;
    }
    /* Other packet sockets' transmissions on this device are looped to us; our own
     * never are.  Ignore them in the kernel where it can (Linux >= 4.20) and check
     * sll_pkttype below anyway. */
    int one = 1;
    (void)setsockopt(e->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    if (bypass)
        (void)setsockopt(e->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    if (rcvbuf && setsockopt(e->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
        (void)setsockopt(e->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (sndbuf && setsockopt(e->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0)
        (void)setsockopt(e->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1);
    if (ioctl(e->fd, SIOCGIFHWADDR, &ifr) < 0 || ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
        mb__log("eth", "%s: not an Ethernet interface", ifname);
        rc = MB_ENODEV;
        goto fail;
    }
    b->self.len = 6;
    memcpy(b->self.b, ifr.ifr_hwaddr.sa_data, 6);
    if (ioctl(e->fd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0 && (uint32_t)ifr.ifr_mtu < mtu)
        mtu = (uint32_t)ifr.ifr_mtu;
    b->mtu = mtu;
    b->disc.len = 6;
    memset(b->disc.b, 0xff, 6);
    b->carrier = true;

    /* Room for a maximal frame plus a little, so that anything longer shows up as
     * MSG_TRUNC and is counted instead of silently cut. */
    e->bufsz = MB_ETH_HDR + mtu + 4 + 64;
    e->rxbuf = malloc(e->bufsz * MB_ETH_BATCH);
    e->txcap = malloc(MB_ETH_HDR + mtu);
    if (!e->rxbuf || !e->txcap) {
        rc = MB_ENOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < MB_ETH_BATCH; i++) {
        e->rxiov[i].iov_base = e->rxbuf + i * e->bufsz;
        e->rxiov[i].iov_len = e->bufsz;
    }
    return 0;
fail:
    mb_eth_close(b);
    return rc;
}

static void mb_eth_hdr(struct mb_bearer *b, uint8_t *h, const struct mb_addr *dst)
{
    struct mb_eth *e = b->priv;
    memcpy(h, dst->b, 6);
    memcpy(h + 6, b->self.b, 6);
    h[12] = (uint8_t)(e->ethertype >> 8);
    h[13] = (uint8_t)e->ethertype;
}

static void mb_eth_cap_tx(struct mb_bearer *b, const uint8_t *h, const uint8_t *f, size_t len)
{
    struct mb_eth *e = b->priv;
    if (!b->cap)
        return;
    memcpy(e->txcap, h, MB_ETH_HDR);
    memcpy(e->txcap + MB_ETH_HDR, f, len);
    mb__cap(b, e->txcap, MB_ETH_HDR + len, true, NULL);
}

static int mb_eth_send_batch(struct mb_bearer *b, const struct mb_txmsg *v, unsigned n)
{
    struct mb_eth *e = b->priv;
    if (n > MB_ETH_BATCH)
        n = MB_ETH_BATCH;
    for (unsigned i = 0; i < n; i++) {
        if (!v[i].dst || v[i].dst->len != 6) {
            if (i == 0)
                return MB_EADDR;
            n = i;
            break;
        }
        mb_eth_hdr(b, e->txhdr[i], v[i].dst);
        e->txiov[i][0] = (struct iovec){e->txhdr[i], MB_ETH_HDR};
        e->txiov[i][1] = (struct iovec){(void *)v[i].frame, v[i].len};
        memset(&e->txm[i], 0, sizeof e->txm[i]);
        e->txm[i].msg_hdr.msg_iov = e->txiov[i];
        e->txm[i].msg_hdr.msg_iovlen = 2;
        if (v[i].len < MB_ETH_MIN_PAYLOAD) {
            /* MSG-ETH-3: zero-pad to the Ethernet minimum; the receiver goes by the
             * Messenger length field (MSG-HDR-5). */
            static const uint8_t zpad[MB_ETH_MIN_PAYLOAD];
            e->txiov[i][2] = (struct iovec){(void *)zpad, MB_ETH_MIN_PAYLOAD - v[i].len};
            e->txm[i].msg_hdr.msg_iovlen = 3;
        }
    }
    int sent = sendmmsg(e->fd, e->txm, n, MSG_DONTWAIT);
    if (sent < 0) {
        int err = errno;
        if (err != EAGAIN && err != ENOBUFS)
            mb__log("eth", "sendmmsg: %s", strerror(err));
        return mb__errno(err);
    }
    for (int i = 0; i < sent; i++)
        mb_eth_cap_tx(b, e->txhdr[i], v[i].frame, v[i].len);
    return sent;
}

static int mb_eth_send(struct mb_bearer *b, const uint8_t *frame, size_t len,
                       const struct mb_addr *dst)
{
    struct mb_txmsg m = {frame, len, dst};
    int rc = mb_eth_send_batch(b, &m, 1);
    return rc == 1 ? 0 : rc < 0 ? rc : MB_EAGAIN;
}

static int mb_eth_fd(const struct mb_bearer *b)
{
    const struct mb_eth *e = b->priv;
    return e->fd;
}

static int mb_eth_on_readable(struct mb_bearer *b, unsigned budget)
{
    struct mb_eth *e = b->priv;
    int delivered = 0;
    while (budget > 0) {
        unsigned want = budget < MB_ETH_BATCH ? budget : MB_ETH_BATCH;
        for (unsigned i = 0; i < want; i++) {
            memset(&e->rxm[i].msg_hdr, 0, sizeof e->rxm[i].msg_hdr);
            e->rxm[i].msg_hdr.msg_iov = &e->rxiov[i];
            e->rxm[i].msg_hdr.msg_iovlen = 1;
            e->rxm[i].msg_hdr.msg_name = &e->rxsll[i];
            e->rxm[i].msg_hdr.msg_namelen = sizeof e->rxsll[i];
        }
        /* MSG_TRUNC: msg_len reports the real length of a frame too long for the slot. */
        int n = recvmmsg(e->fd, e->rxm, want, MSG_DONTWAIT | MSG_TRUNC, NULL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            mb__log("eth", "recvmmsg: %s", strerror(errno));
            return delivered ? delivered : mb__errno(errno);
        }
        for (int i = 0; i < n; i++) {
            const uint8_t *p = e->rxiov[i].iov_base;
            size_t len = e->rxm[i].msg_len;
            budget--;
            if (e->rxsll[i].sll_pkttype == PACKET_OUTGOING ||
                e->rxsll[i].sll_pkttype == PACKET_OTHERHOST) {
                b->st.drop_filtered++;
                continue;
            }
            if ((e->rxm[i].msg_hdr.msg_flags & MSG_TRUNC) || len > e->bufsz ||
                len > MB_ETH_HDR + b->mtu) {
                b->st.drop_too_long++;
                continue;
            }
            if (len <= MB_ETH_HDR) {
                b->st.drop_too_short++;
                continue;
            }
            if (((p[12] << 8) | p[13]) != e->ethertype) {
                b->st.drop_ethertype++;
                continue;
            }
            if (!memcmp(p + 6, b->self.b, 6)) {
                /* Our own address as the source: a loop in the segment, or a station
                 * spoofing us; never a peer (MSG-ETH-5). */
                b->st.drop_filtered++;
                continue;
            }
            struct mb_addr src = {.len = 6};
            memcpy(src.b, p + 6, 6);
            mb__cap(b, p, len, false, NULL);
            delivered += mb__deliver(b, p + MB_ETH_HDR, len - MB_ETH_HDR, &src);
        }
        if ((unsigned)n < want)
            break;
    }
    return delivered;
}

static void mb_eth_stats(const struct mb_bearer *b, struct mb_stats *s)
{
    struct mb_eth *e = b->priv;
    struct tpacket_stats ts;
    socklen_t sl = sizeof ts;
    /* The kernel resets these counters on every read: accumulate. */
    if (getsockopt(e->fd, SOL_PACKET, PACKET_STATISTICS, &ts, &sl) == 0)
        e->os_drops += ts.tp_drops;
    s->drop_os += e->os_drops;
}

const struct mb_bearer_ops mb_eth_ops = {
    .name = "eth",
    .media = MP_BEARER_ETH,
    .open = mb_eth_open,
    .close = mb_eth_close,
    .send = mb_eth_send,
    .send_batch = mb_eth_send_batch,
    .fd = mb_eth_fd,
    .on_readable = mb_eth_on_readable,
    .stats = mb_eth_stats,
};
