/*
 * udp.c — UDP bearer (IPv4 or IPv6) for routed networks.
 *
 * Two sockets, because unicast and multicast want different bindings:
 *   ucast: bound to bind= (default 0.0.0.0:34997); sends everything (so a DISCOVER's
 *          source address is the unicast address the peer answers to) and receives
 *          unicast.  IP_MULTICAST_ALL is off on it, so it does not also receive the
 *          groups the other socket joined.
 *   mcast: bound to group:port with SO_REUSEADDR (several nodes on one host), joined to
 *          the group on the configured interface; receives discovery only.
 * mb_fd() is an epoll fd holding both.  Sending to the discovery address
 * (mb_discovery_addr) fans out to the group (if any) and to every configured peer=.
 *
 * config: bind=ADDR[:PORT]   unicast address; IPv6 as [addr]:port (default 0.0.0.0:34997)
 *         group=ADDR[:PORT]  multicast group (default 239.255.88.181:34997 or
 *                            [ff15::88b5]:34997 for an IPv6 bind; group=none disables)
 *         mcast_if=ADDR      IPv4 interface address for multicast (default any)
 *         ifname=NAME        interface for multicast (IPv6 needs it; IPv4 optional)
 *         loop=0|1           IP(V6)_MULTICAST_LOOP (default 0; tests on one host use 1)
 *         ttl=N              multicast TTL/hops (default 1)
 *         peer=ADDR:PORT     unicast discovery target, may repeat (up to 16)
 *         mtu=N              default 1472 (IPv4) / 1452 (IPv6)
 *         rcvbuf=, sndbuf=   socket buffer sizes (rcvbuf default MB_DEFAULT_RCVBUF; 0 =
 *                            the OS default)
 * Own multicast echoes (loop=1) are dropped when their source equals our unicast
 * address (counted in drop_filtered).
 */
#define _GNU_SOURCE
#include "bearer_impl.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mp/wire.h"

#define MB_UDP_BATCH 32u
#define MB_UDP_MAX_PEERS 16u

struct mb_udp {
    int ufd, mfd, ep;
    int family;
    bool has_group;
    struct sockaddr_storage group;
    socklen_t group_len;
    unsigned npeers;
    struct mb_addr peers[MB_UDP_MAX_PEERS];
    size_t bufsz;
    uint8_t *rxbuf;
    struct mmsghdr rxm[MB_UDP_BATCH];
    struct iovec rxiov[MB_UDP_BATCH];
    struct sockaddr_storage rxsa[MB_UDP_BATCH];
    struct mmsghdr txm[MB_UDP_BATCH];
    struct iovec txiov[MB_UDP_BATCH];
    struct sockaddr_storage txsa[MB_UDP_BATCH];
};

static const char *const mb_udp_keys[] = {"bind", "group", "mcast_if", "ifname", "loop", "ttl",
                                          "peer", "mtu", "rcvbuf", "sndbuf", NULL};

/* mb_addr <-> sockaddr */
static socklen_t mb_udp_to_sa(const struct mb_addr *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (a->len == 6) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, a->b, 4);
        memcpy(&s4->sin_port, a->b + 4, 2);
        return sizeof *s4;
    }
    if (a->len == 18) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, a->b, 16);
        memcpy(&s6->sin6_port, a->b + 16, 2);
        return sizeof *s6;
    }
    return 0;
}

static void mb_udp_from_sa(const struct sockaddr_storage *ss, struct mb_addr *a)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        a->len = 6;
        memcpy(a->b, &s4->sin_addr, 4);
        memcpy(a->b + 4, &s4->sin_port, 2);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        a->len = 18;
        memcpy(a->b, &s6->sin6_addr, 16);
        memcpy(a->b + 16, &s6->sin6_port, 2);
    } else {
        a->len = 0;
    }
}

static void mb_udp_close(struct mb_bearer *b)
{
    struct mb_udp *u = b->priv;
    if (!u)
        return;
    if (u->ufd >= 0)
        close(u->ufd);
    if (u->mfd >= 0)
        close(u->mfd);
    if (u->ep >= 0)
        close(u->ep);
    free(u->rxbuf);
    free(u);
    b->priv = NULL;
}

/* MSG-UDP-4: a zero UDP checksum is not allowed, even over IPv4.  Linux accepts such
 * datagrams on an ordinary IPv4 socket (IPv6 drops them unless UDP_NO_CHECK6_RX), so a
 * socket filter drops them in the kernel: on a UDP socket the filter sees the UDP header
 * at offset 0, the checksum at offset 6. */
static int mb_udp_no_zero_csum(int fd)
{
    static struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0),
        BPF_STMT(BPF_RET | BPF_K, 0x7FFFFFFF),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof code / sizeof code[0]), code};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

static int mb_udp_fail(const char *what, int *rc)
{
    *rc = mb__errno(errno);
    mb__log("udp", "%s: %s", what, strerror(errno));
    return *rc;
}

static int mb_udp_open(struct mb_bearer *b, const char *cfg)
{
    char binds[80], groups[80], mif[64], ifname[IF_NAMESIZE], val[256], key[32];
    uint32_t loop, ttl, mtu, rcvbuf, sndbuf;
    struct mb_addr baddr, gaddr;
    int rc = mb__cfg_check("udp", cfg, mb_udp_keys);
    if (rc < 0)
        return rc;
    struct mb_udp *u = calloc(1, sizeof *u);
    if (!u)
        return MB_ENOMEM;
    u->ufd = u->mfd = u->ep = -1;
    b->priv = u;

    rc = mb__cfg_str(cfg, "bind", binds, sizeof binds);
    if (rc < 0 || mb__parse_inaddr(rc ? binds : "0.0.0.0", MP_UDP_PORT, &baddr) < 0) {
        mb__log("udp", "config: bad bind=");
        rc = MB_EINVAL;
        goto fail;
    }
    u->family = baddr.len == 6 ? AF_INET : AF_INET6;
    rc = mb__cfg_str(cfg, "group", groups, sizeof groups);
    if (rc < 0)
        goto fail;
    if (rc == 0)
        strcpy(groups, u->family == AF_INET ? MP_UDP_MCAST_V4 : "[" MP_UDP_MCAST_V6 "]");
    u->has_group = strcmp(groups, "none") != 0;
    if (u->has_group) {
        if (mb__parse_inaddr(groups, MP_UDP_PORT, &gaddr) < 0 || gaddr.len != baddr.len) {
            mb__log("udp", "config: bad group=%s", groups);
            rc = MB_EINVAL;
            goto fail;
        }
        u->group_len = mb_udp_to_sa(&gaddr, &u->group);
    }
    if ((rc = mb__cfg_u32(cfg, "loop", 0, 0, 1, &loop)) < 0 ||
        (rc = mb__cfg_u32(cfg, "ttl", 1, 0, 255, &ttl)) < 0 ||
        (rc = mb__cfg_u32(cfg, "mtu", u->family == AF_INET ? 1472 : 1452, 64, 65507, &mtu)) < 0 ||
        (rc = mb__cfg_u32(cfg, "rcvbuf", MB_DEFAULT_RCVBUF, 0, 1u << 30, &rcvbuf)) < 0 ||
        (rc = mb__cfg_u32(cfg, "sndbuf", 0, 0, 1u << 30, &sndbuf)) < 0)
        goto fail;
    const char *pos = cfg;
    while ((rc = mb__cfg_next(&pos, key, sizeof key, val, sizeof val)) > 0) {
        if (strcmp(key, "peer") != 0)
            continue;
        if (u->npeers == MB_UDP_MAX_PEERS ||
            mb__parse_inaddr(val, MP_UDP_PORT, &u->peers[u->npeers]) < 0 ||
            u->peers[u->npeers].len != baddr.len) {
            mb__log("udp", "config: bad or too many peer=%s", val);
            rc = MB_EINVAL;
            goto fail;
        }
        u->npeers++;
    }
    unsigned ifindex = 0;
    if ((rc = mb__cfg_str(cfg, "ifname", ifname, sizeof ifname)) > 0) {
        ifindex = if_nametoindex(ifname);
        if (!ifindex) {
            mb__log("udp", "%s: no such interface", ifname);
            rc = MB_ENODEV;
            goto fail;
        }
    }
    struct in_addr mifaddr = {.s_addr = htonl(INADDR_ANY)};
    if ((rc = mb__cfg_str(cfg, "mcast_if", mif, sizeof mif)) > 0 &&
        inet_pton(AF_INET, mif, &mifaddr) != 1) {
        mb__log("udp", "config: bad mcast_if=%s", mif);
        rc = MB_EINVAL;
        goto fail;
    }

    int one = 1, zero = 0, l = (int)loop, t = (int)ttl;
    struct sockaddr_storage ss;
    socklen_t sl = mb_udp_to_sa(&baddr, &ss);
    u->ufd = socket(u->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (u->ufd < 0) {
        mb_udp_fail("socket", &rc);
        goto fail;
    }
    if (u->family == AF_INET && mb_udp_no_zero_csum(u->ufd) < 0) {
        mb_udp_fail("SO_ATTACH_FILTER", &rc);
        goto fail;
    }
    if (u->family == AF_INET6)
        (void)setsockopt(u->ufd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(u->ufd, (struct sockaddr *)&ss, sl) < 0) {
        mb_udp_fail("bind", &rc);
        goto fail;
    }
    /* FORCE (root, CAP_NET_ADMIN) passes net.core.rmem_max; without it the kernel caps. */
    if (rcvbuf && setsockopt(u->ufd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
        (void)setsockopt(u->ufd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (sndbuf)
        (void)setsockopt(u->ufd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (u->family == AF_INET) {
        (void)setsockopt(u->ufd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
        (void)setsockopt(u->ufd, IPPROTO_IP, IP_MULTICAST_LOOP, &l, sizeof l);
        (void)setsockopt(u->ufd, IPPROTO_IP, IP_MULTICAST_TTL, &t, sizeof t);
        struct ip_mreqn mr = {.imr_address = mifaddr, .imr_ifindex = (int)ifindex};
        if ((ifindex || mifaddr.s_addr) &&
            setsockopt(u->ufd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr) < 0) {
            mb_udp_fail("IP_MULTICAST_IF", &rc);
            goto fail;
        }
        /* Do not fragment: frames over the path MTU fail instead of being cut. */
        int pmtu = IP_PMTUDISC_DO;
        (void)setsockopt(u->ufd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
    } else {
        (void)setsockopt(u->ufd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &zero, sizeof zero);
        (void)setsockopt(u->ufd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &l, sizeof l);
        (void)setsockopt(u->ufd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &t, sizeof t);
        if (ifindex)
            (void)setsockopt(u->ufd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex);
    }
    sl = sizeof ss;
    if (getsockname(u->ufd, (struct sockaddr *)&ss, &sl) < 0) {
        mb_udp_fail("getsockname", &rc);
        goto fail;
    }
    mb_udp_from_sa(&ss, &b->self);
    if (u->family == AF_INET && mifaddr.s_addr && memcmp(b->self.b, "\0\0\0\0", 4) == 0)
        memcpy(b->self.b, &mifaddr, 4);

    if (u->has_group) {
        u->mfd = socket(u->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (u->mfd < 0) {
            mb_udp_fail("socket", &rc);
            goto fail;
        }
        if (u->family == AF_INET && mb_udp_no_zero_csum(u->mfd) < 0) {
            mb_udp_fail("SO_ATTACH_FILTER", &rc);
            goto fail;
        }
        (void)setsockopt(u->mfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (u->family == AF_INET6)
            (void)setsockopt(u->mfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(u->mfd, (struct sockaddr *)&u->group, u->group_len) < 0) {
            mb_udp_fail("bind(group)", &rc);
            goto fail;
        }
        if (u->family == AF_INET) {
            (void)setsockopt(u->mfd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
            struct ip_mreqn mr = {.imr_multiaddr = ((struct sockaddr_in *)&u->group)->sin_addr,
                                  .imr_address = mifaddr,
                                  .imr_ifindex = (int)ifindex};
            if (setsockopt(u->mfd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) {
                mb_udp_fail("IP_ADD_MEMBERSHIP", &rc);
                goto fail;
            }
        } else {
            (void)setsockopt(u->mfd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &zero, sizeof zero);
            struct ipv6_mreq mr = {.ipv6mr_multiaddr = ((struct sockaddr_in6 *)&u->group)->sin6_addr,
                                   .ipv6mr_interface = ifindex};
            if (setsockopt(u->mfd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof mr) < 0) {
                mb_udp_fail("IPV6_JOIN_GROUP", &rc);
                goto fail;
            }
        }
        b->disc = gaddr;
    } else {
        /* No group: the discovery address is the unspecified address, port 0; sending
         * to it reaches the configured peers. */
        memset(&b->disc, 0, sizeof b->disc);
        b->disc.len = baddr.len;
    }

    u->ep = epoll_create1(EPOLL_CLOEXEC);
    if (u->ep < 0) {
        mb_udp_fail("epoll_create1", &rc);
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
    if (epoll_ctl(u->ep, EPOLL_CTL_ADD, u->ufd, &ev) < 0 ||
        (u->mfd >= 0 && epoll_ctl(u->ep, EPOLL_CTL_ADD, u->mfd, &ev) < 0)) {
        mb_udp_fail("epoll_ctl", &rc);
        goto fail;
    }
    u->bufsz = mtu + 64;
    u->rxbuf = malloc(u->bufsz * MB_UDP_BATCH);
    if (!u->rxbuf) {
        rc = MB_ENOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < MB_UDP_BATCH; i++)
        u->rxiov[i] = (struct iovec){u->rxbuf + i * u->bufsz, u->bufsz};
    b->mtu = mtu;
    b->carrier = true;
    return 0;
fail:
    mb_udp_close(b);
    return rc < 0 ? rc : MB_EINVAL;
}

static void mb_udp_cap_tx(struct mb_bearer *b, const struct mb_addr *dst, const uint8_t *f,
                          size_t len)
{
    if (b->cap && dst->len == 6)
        mb__cap_udp4(b, b->self.b, dst->b, f, len, true);
}

static int mb_udp_send_one(struct mb_bearer *b, const uint8_t *frame, size_t len,
                           const struct mb_addr *dst)
{
    struct mb_udp *u = b->priv;
    struct sockaddr_storage ss;
    socklen_t sl = mb_udp_to_sa(dst, &ss);
    if (!sl || ss.ss_family != u->family)
        return MB_EADDR;
    if (sendto(u->ufd, frame, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0) {
        int err = errno;
        if (err != EAGAIN && err != ENOBUFS && err != ECONNREFUSED)
            mb__log("udp", "sendto: %s", strerror(err));
        /* ECONNREFUSED: an ICMP error from an earlier datagram; the peer is not there. */
        return mb__errno(err);
    }
    mb_udp_cap_tx(b, dst, frame, len);
    return 0;
}

static int mb_udp_send(struct mb_bearer *b, const uint8_t *frame, size_t len,
                       const struct mb_addr *dst)
{
    struct mb_udp *u = b->priv;
    if (!dst)
        return MB_EADDR;
    if (!mb_addr_eq(dst, &b->disc))
        return mb_udp_send_one(b, frame, len, dst);
    /* Discovery fan-out: the group and every peer; succeeds if any copy went out. */
    int rc = MB_ENODEV, ok = 0;
    if (u->has_group) {
        rc = mb_udp_send_one(b, frame, len, &b->disc);
        ok += rc == 0;
    }
    for (unsigned i = 0; i < u->npeers; i++) {
        int r = mb_udp_send_one(b, frame, len, &u->peers[i]);
        if (r == 0)
            ok++;
        else
            rc = r;
    }
    return ok ? 0 : rc;
}

static int mb_udp_send_batch(struct mb_bearer *b, const struct mb_txmsg *v, unsigned n)
{
    struct mb_udp *u = b->priv;
    if (n > MB_UDP_BATCH)
        n = MB_UDP_BATCH;
    unsigned m = 0;
    for (; m < n; m++) {
        if (!v[m].dst || mb_addr_eq(v[m].dst, &b->disc))
            break; /* discovery fans out: sent alone below */
        socklen_t sl = mb_udp_to_sa(v[m].dst, &u->txsa[m]);
        if (!sl || u->txsa[m].ss_family != u->family)
            break;
        u->txiov[m] = (struct iovec){(void *)v[m].frame, v[m].len};
        memset(&u->txm[m], 0, sizeof u->txm[m]);
        u->txm[m].msg_hdr.msg_name = &u->txsa[m];
        u->txm[m].msg_hdr.msg_namelen = sl;
        u->txm[m].msg_hdr.msg_iov = &u->txiov[m];
        u->txm[m].msg_hdr.msg_iovlen = 1;
    }
    if (m == 0) {
        int rc = mb_udp_send(b, v[0].frame, v[0].len, v[0].dst);
        return rc == 0 ? 1 : rc;
    }
    int sent = sendmmsg(u->ufd, u->txm, m, MSG_DONTWAIT);
    if (sent < 0) {
        int err = errno;
        if (err != EAGAIN && err != ENOBUFS && err != ECONNREFUSED)
            mb__log("udp", "sendmmsg: %s", strerror(err));
        return mb__errno(err);
    }
    for (int i = 0; i < sent; i++)
        mb_udp_cap_tx(b, v[i].dst, v[i].frame, v[i].len);
    return sent;
}

static int mb_udp_fd(const struct mb_bearer *b)
{
    const struct mb_udp *u = b->priv;
    return u->ep;
}

static int mb_udp_drain(struct mb_bearer *b, int fd, unsigned *budget)
{
    struct mb_udp *u = b->priv;
    int delivered = 0;
    while (*budget > 0) {
        unsigned want = *budget < MB_UDP_BATCH ? *budget : MB_UDP_BATCH;
        for (unsigned i = 0; i < want; i++) {
            memset(&u->rxm[i].msg_hdr, 0, sizeof u->rxm[i].msg_hdr);
            u->rxm[i].msg_hdr.msg_iov = &u->rxiov[i];
            u->rxm[i].msg_hdr.msg_iovlen = 1;
            u->rxm[i].msg_hdr.msg_name = &u->rxsa[i];
            u->rxm[i].msg_hdr.msg_namelen = sizeof u->rxsa[i];
        }
        int n = recvmmsg(fd, u->rxm, want, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            if (errno == ECONNREFUSED) /* ICMP port unreachable for an earlier send */
                continue;
            mb__log("udp", "recvmmsg: %s", strerror(errno));
            return delivered ? delivered : mb__errno(errno);
        }
        for (int i = 0; i < n; i++) {
            size_t len = u->rxm[i].msg_len;
            (*budget)--;
            struct mb_addr src;
            mb_udp_from_sa(&u->rxsa[i], &src);
            if (u->rxm[i].msg_hdr.msg_flags & MSG_TRUNC || len > b->mtu) {
                b->st.drop_too_long++;
                continue;
            }
            if (len == 0) {
                b->st.drop_too_short++;
                continue;
            }
            if (mb_addr_eq(&src, &b->self)) {
                b->st.drop_filtered++; /* our own multicast, looped back */
                continue;
            }
            const uint8_t *p = u->rxiov[i].iov_base;
            if (b->cap && src.len == 6) {
                struct mb_addr to = fd == u->mfd ? b->disc : b->self;
                mb__cap_udp4(b, src.b, to.b, p, len, false);
            }
            delivered += mb__deliver(b, p, len, &src);
        }
        if ((unsigned)n < want)
            break;
    }
    return delivered;
}

static int mb_udp_on_readable(struct mb_bearer *b, unsigned budget)
{
    struct mb_udp *u = b->priv;
    int d1 = mb_udp_drain(b, u->ufd, &budget);
    if (d1 < 0)
        return d1;
    int d2 = u->mfd >= 0 ? mb_udp_drain(b, u->mfd, &budget) : 0;
    if (d2 < 0)
        return d1 ? d1 : d2;
    return d1 + d2;
}

const struct mb_bearer_ops mb_udp_ops = {
    .name = "udp",
    .media = MP_BEARER_UDP,
    .open = mb_udp_open,
    .close = mb_udp_close,
    .send = mb_udp_send,
    .send_batch = mb_udp_send_batch,
    .fd = mb_udp_fd,
    .on_readable = mb_udp_on_readable,
};
