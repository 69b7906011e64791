/*
 * fuzz_eth.c — the Ethernet encapsulation receive (and send) paths of the raw Ethernet
 * bearers (stack/bearer/eth.c over AF_PACKET, eth_pcap.c over libpcap), unmodified, fed
 * arbitrary frames.
 *
 * No root, no interface: this file defines the few OS and libpcap entry points the two
 * bearers call (socket, bind, setsockopt, getsockopt, ioctl, if_nametoindex, recvmmsg,
 * sendmmsg; pcap_create ... pcap_dispatch, pcap_inject) and links before libc and
 * libpcap, so the bearers talk to a fake interface "fz0" whose received frames come from
 * the input.  Everything not aimed at the fake interface goes to the real system call.
 *
 * Input: setup(8) [ethertype(16) if setup & 2] mtu(16) ifmtu(16) mac(6), then ops % 5:
 *   0 a frame arrives: flags(8) len(16) then dst(6) src(6) type(2) payload, where flags
 *     pick the packet type (AF_PACKET sll_pkttype: host, broadcast, multicast, other host,
 *     outgoing), our EtherType or the input's, our own MAC as source, and a capture
 *     length below the wire length (libpcap snaplen / MSG_TRUNC)
 *   1 mb_on_readable(budget(8))   2 mb_send(len(16), dst sel(8)), the OS may refuse
 *   3 enable/disable              4 mb_get_stats
 * setup bit 0: eth-pcap (else eth).
 *
 * Oracles: every frame the bearer takes from the OS is accounted exactly once: delivered
 * (payload = frame minus the 14-byte header, source = its source MAC) or counted in the
 * one drop counter the reference rules below name; the order of deliveries is the order
 * on the wire; the callback never sees a frame longer than the MTU; a sent frame goes out
 * as dst, our MAC, our EtherType, then the payload byte for byte.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bearer.h"
#include "fz.h"
#include "mp/wire.h"

#define HDR 14u
#define QMAX 64u
#define FAKE_IF "fz0"
#define FAKE_IFINDEX 4242

typedef struct wire {
    uint8_t buf[2200];
    size_t len;    /* on the wire */
    size_t caplen; /* pcap: captured */
    uint8_t pkttype;
} wire;

typedef struct expect {
    size_t off, len;
    uint8_t src[6];
    int wire_idx;
} expect;

static struct fz_eth {
    bool pcap, enabled;
    int fakefd;
    uint8_t mac[6];
    uint16_t ethertype;
    uint32_t ifmtu;
    size_t mtu, snaplen;
    wire q[QMAX];
    unsigned qh, qn;
    /* what the bearer took from the OS in the current on_readable, and the outcome the
     * reference rules give each */
    wire taken[QMAX];
    unsigned ntaken, ndelivered;
    uint64_t exp_rx, exp_long, exp_short, exp_type, exp_filt, exp_dis;
    /* sends */
    int send_fail; /* 0 ok, else errno for the next send */
    uint8_t sent[HDR + 2200];
    size_t sent_len;
    unsigned nsent;
    pcap_handler ph;
    uint64_t os_drops;
} g;

/* ---- The reference receive rules (bearer README, eth.c / eth_pcap.c comments) ------ */
static void classify(const wire *w)
{
    bool deliver = false;
    if (!g.pcap) {
        size_t bufsz = HDR + g.mtu + 4 + 64;
        if (w->pkttype == PACKET_OUTGOING || w->pkttype == PACKET_OTHERHOST)
            g.exp_filt++;
        else if (w->len > bufsz || w->len > HDR + g.mtu)
            g.exp_long++;
        else if (w->len <= HDR)
            g.exp_short++;
        else if (((w->buf[12] << 8) | w->buf[13]) != g.ethertype)
            g.exp_type++;
        else if (memcmp(w->buf + 6, g.mac, 6) == 0)
            g.exp_filt++; /* our own source address (MSG-ETH-5), as eth-pcap */
        else
            deliver = true;
    } else {
        if (w->caplen < w->len || w->len > HDR + g.mtu)
            g.exp_long++;
        else if (w->caplen <= HDR)
            g.exp_short++;
        else if (((w->buf[12] << 8) | w->buf[13]) != g.ethertype)
            g.exp_type++;
        else if (memcmp(w->buf + 6, g.mac, 6) == 0)
            g.exp_filt++;
        else
            deliver = true;
    }
    if (deliver) {
        if (g.enabled)
            g.exp_rx++;
        else
            g.exp_dis++;
    }
    g.taken[g.ntaken++] = *w;
}

static void on_frame(void *user, const uint8_t *f, size_t len, const struct mb_addr *src)
{
    (void)user;
    FZ_CHECK(g.enabled);
    FZ_CHECKF(len >= 1 && len <= g.mtu + (g.pcap ? 0 : 0), "len %zu mtu %zu", len, g.mtu);
    FZ_CHECK(src && src->len == 6);
    /* The next frame taken from the OS that the rules deliver. */
    bool found = false;
    while (g.ndelivered < g.ntaken) {
        const wire *w = &g.taken[g.ndelivered++];
        size_t l = g.pcap ? w->caplen : w->len;
        bool ok = g.pcap ? !(w->caplen < w->len || w->len > HDR + g.mtu) && l > HDR &&
                               ((w->buf[12] << 8) | w->buf[13]) == g.ethertype &&
                               memcmp(w->buf + 6, g.mac, 6) != 0
                         : w->pkttype != PACKET_OUTGOING && w->pkttype != PACKET_OTHERHOST &&
                               w->len <= HDR + g.mtu && w->len > HDR &&
                               ((w->buf[12] << 8) | w->buf[13]) == g.ethertype &&
                               memcmp(w->buf + 6, g.mac, 6) != 0;
        if (!ok)
            continue;
        FZ_CHECKF(len == l - HDR, "delivered %zu, frame %zu", len, l - HDR);
        FZ_CHECK(memcmp(f, w->buf + HDR, len) == 0);
        FZ_CHECK(memcmp(src->b, w->buf + 6, 6) == 0);
        found = true;
        break;
    }
    FZ_CHECKF(found, "delivered a frame the rules drop, or out of order");
}

/* ---- Fake OS: AF_PACKET on fz0 ------------------------------------------------------ */
unsigned int if_nametoindex(const char *name)
{
    return name && strcmp(name, FAKE_IF) == 0 ? FAKE_IFINDEX : 0;
}

int socket(int domain, int type, int protocol)
{
    if (domain == AF_PACKET) {
        g.fakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        return g.fakefd;
    }
    return (int)syscall(SYS_socket, domain, type, protocol);
}

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
    if (fd == g.fakefd && fd >= 0) {
        const struct sockaddr_ll *sll = (const void *)sa;
        FZ_CHECK(len >= sizeof *sll && sll->sll_ifindex == FAKE_IFINDEX &&
                 ntohs(sll->sll_protocol) == g.ethertype);
        return 0;
    }
    return (int)syscall(SYS_bind, fd, sa, len);
}

int setsockopt(int fd, int level, int name, const void *v, socklen_t len)
{
    if (fd == g.fakefd && fd >= 0)
        return 0;
    return (int)syscall(SYS_setsockopt, fd, level, name, v, len);
}

int getsockopt(int fd, int level, int name, void *v, socklen_t *len)
{
    if (fd == g.fakefd && fd >= 0 && level == SOL_PACKET && name == PACKET_STATISTICS) {
        struct tpacket_stats ts = {.tp_packets = 0, .tp_drops = 3};
        g.os_drops += 3;
        memcpy(v, &ts, sizeof ts);
        *len = sizeof ts;
        return 0;
    }
    return (int)syscall(SYS_getsockopt, fd, level, name, v, len);
}

int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    struct ifreq *ifr = arg;
    if ((req == SIOCGIFHWADDR || req == SIOCGIFMTU) && ifr && strcmp(ifr->ifr_name, FAKE_IF) == 0) {
        if (req == SIOCGIFHWADDR) {
            ifr->ifr_hwaddr.sa_family = ARPHRD_ETHER;
            memcpy(ifr->ifr_hwaddr.sa_data, g.mac, 6);
        } else {
            ifr->ifr_mtu = (int)g.ifmtu;
        }
        return 0;
    }
    return (int)syscall(SYS_ioctl, fd, req, arg);
}

int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *tmo)
{
    if (fd != g.fakefd || fd < 0)
        return (int)syscall(SYS_recvmmsg, fd, v, n, flags, tmo);
    FZ_CHECK(flags & MSG_DONTWAIT);
    if (!g.qn) {
        errno = EAGAIN;
        return -1;
    }
    unsigned k = 0;
    for (; k < n && g.qn; k++) {
        wire *w = &g.q[g.qh];
        g.qh = (g.qh + 1) % QMAX;
        g.qn--;
        struct msghdr *m = &v[k].msg_hdr;
        FZ_CHECK(m->msg_iovlen == 1);
        size_t room = m->msg_iov[0].iov_len, c = w->len < room ? w->len : room;
        memcpy(m->msg_iov[0].iov_base, w->buf, c);
        m->msg_flags = w->len > room ? MSG_TRUNC : 0;
        v[k].msg_len = (unsigned)((flags & MSG_TRUNC) ? w->len : c);
        if (m->msg_name) {
            struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = FAKE_IFINDEX,
                                      .sll_pkttype = w->pkttype, .sll_halen = 6};
            memcpy(sll.sll_addr, w->buf + 6, 6);
            FZ_CHECK(m->msg_namelen >= sizeof sll);
            memcpy(m->msg_name, &sll, sizeof sll);
            m->msg_namelen = sizeof sll;
        }
        classify(w);
    }
    return (int)k;
}

static void record_send(const uint8_t *h, size_t hl, const uint8_t *f, size_t fl)
{
    FZ_CHECK(hl + fl <= sizeof g.sent);
    memcpy(g.sent, h, hl);
    if (fl)
        memcpy(g.sent + hl, f, fl);
    g.sent_len = hl + fl;
    g.nsent++;
}

int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
    if (fd != g.fakefd || fd < 0)
        return (int)syscall(SYS_sendmmsg, fd, v, n, flags);
    if (g.send_fail) {
        errno = g.send_fail;
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        struct msghdr *m = &v[i].msg_hdr;
        FZ_CHECK(m->msg_iovlen >= 1 && m->msg_iovlen <= 3);
        const struct iovec *io = m->msg_iov;
        record_send(io[0].iov_base, io[0].iov_len, m->msg_iovlen > 1 ? io[1].iov_base : NULL,
                    m->msg_iovlen > 1 ? io[1].iov_len : 0);
        if (m->msg_iovlen > 2) { /* zero padding (MSG-ETH-3) */
            FZ_CHECK(g.sent_len + io[2].iov_len <= sizeof g.sent);
            memcpy(g.sent + g.sent_len, io[2].iov_base, io[2].iov_len);
            g.sent_len += io[2].iov_len;
        }
        v[i].msg_len = (unsigned)g.sent_len;
    }
    return (int)n;
}

/* ---- Fake libpcap ---------------------------------------------------------------------- */
static int fake_pcap_obj;
#define FAKE_P ((pcap_t *)&fake_pcap_obj)

pcap_t *pcap_create(const char *dev, char *err)
{
    (void)err;
    return dev && strcmp(dev, FAKE_IF) == 0 ? FAKE_P : NULL;
}
int pcap_set_snaplen(pcap_t *p, int n) { (void)p; g.snaplen = (size_t)n; return 0; }
int pcap_set_promisc(pcap_t *p, int on) { (void)p; (void)on; return 0; }
int pcap_set_immediate_mode(pcap_t *p, int on) { (void)p; (void)on; return 0; }
int pcap_set_buffer_size(pcap_t *p, int n) { (void)p; (void)n; return 0; }
int pcap_activate(pcap_t *p) { return p == FAKE_P ? 0 : PCAP_ERROR; }
int pcap_datalink(pcap_t *p) { (void)p; return DLT_EN10MB; }
int pcap_setnonblock(pcap_t *p, int on, char *err) { (void)p; (void)on; (void)err; return 0; }
int pcap_setdirection(pcap_t *p, pcap_direction_t d) { (void)p; (void)d; return 0; }
int pcap_compile(pcap_t *p, struct bpf_program *prog, const char *s, int opt, bpf_u_int32 mask)
{
    (void)p; (void)opt; (void)mask;
    FZ_CHECK(s && strstr(s, "ether proto 0x") != NULL);
    memset(prog, 0, sizeof *prog);
    return 0;
}
int pcap_setfilter(pcap_t *p, struct bpf_program *prog) { (void)p; (void)prog; return 0; }
void pcap_freecode(struct bpf_program *prog) { (void)prog; }
int pcap_get_selectable_fd(pcap_t *p)
{
    (void)p;
    g.fakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return g.fakefd;
}
void pcap_close(pcap_t *p)
{
    (void)p;
    if (g.fakefd >= 0)
        close(g.fakefd);
    g.fakefd = -1;
}
char *pcap_geterr(pcap_t *p) { (void)p; return (char *)"fake"; }
int pcap_stats(pcap_t *p, struct pcap_stat *ps)
{
    (void)p;
    memset(ps, 0, sizeof *ps);
    ps->ps_drop = 5;
    return 0;
}
int pcap_inject(pcap_t *p, const void *buf, size_t len)
{
    (void)p;
    if (g.send_fail) {
        errno = g.send_fail;
        return -1;
    }
    record_send(buf, len, NULL, 0);
    return (int)len;
}
int pcap_dispatch(pcap_t *p, int cnt, pcap_handler cb, u_char *user)
{
    (void)p;
    int k = 0;
    while (g.qn && (cnt <= 0 || k < cnt)) {
        wire *w = &g.q[g.qh];
        g.qh = (g.qh + 1) % QMAX;
        g.qn--;
        struct pcap_pkthdr h = {.caplen = (bpf_u_int32)w->caplen, .len = (bpf_u_int32)w->len};
        classify(w);
        /* exactly-sized copy: a read past caplen is an ASan report */
        uint8_t *copy = malloc(w->caplen ? w->caplen : 1);
        FZ_CHECK(copy != NULL);
        memcpy(copy, w->buf, w->caplen);
        cb(user, &h, copy);
        free(copy);
        k++;
    }
    return k;
}

/* ---- The target ------------------------------------------------------------------------ */
static void check_counters(struct mb_bearer *b)
{
    struct mb_stats st;
    mb_get_stats(b, &st);
    FZ_CHECKF(st.rx_frames == g.exp_rx && st.drop_too_long == g.exp_long &&
                  st.drop_too_short == g.exp_short && st.drop_ethertype == g.exp_type &&
                  st.drop_filtered == g.exp_filt && st.drop_disabled == g.exp_dis,
              "rx %llu/%llu long %llu/%llu short %llu/%llu type %llu/%llu filt %llu/%llu dis %llu/%llu",
              (unsigned long long)st.rx_frames, (unsigned long long)g.exp_rx,
              (unsigned long long)st.drop_too_long, (unsigned long long)g.exp_long,
              (unsigned long long)st.drop_too_short, (unsigned long long)g.exp_short,
              (unsigned long long)st.drop_ethertype, (unsigned long long)g.exp_type,
              (unsigned long long)st.drop_filtered, (unsigned long long)g.exp_filt,
              (unsigned long long)st.drop_disabled, (unsigned long long)g.exp_dis);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = fz_in_make(data, size);
    memset(&g, 0, sizeof g);
    g.fakefd = -1;
    uint8_t setup = fz_u8(&in);
    g.pcap = setup & 1;
    g.ethertype = (setup & 2) ? (uint16_t)(0x600 | fz_u16(&in)) : MP_ETHERTYPE;
    uint32_t mtu = 64 + fz_u16(&in) % 2000;
    g.ifmtu = 64 + fz_u16(&in) % 2000;
    fz_copy(&in, g.mac, 6);
    g.mac[0] &= 0xFE; /* unicast */
    char cfg[128];
    if (g.pcap)
        snprintf(cfg, sizeof cfg, "ifname=" FAKE_IF ",mtu=%u,ethertype=%u", mtu, g.ethertype);
    else
        snprintf(cfg, sizeof cfg, "ifname=" FAKE_IF ",mtu=%u,ethertype=%u,qdisc_bypass=%d", mtu,
                 g.ethertype, (setup >> 2) & 1);
    struct mb_bearer *b;
    int rc = mb_open(g.pcap ? &mb_eth_pcap_ops : &mb_eth_ops, cfg, on_frame, NULL, &b);
    FZ_CHECKF(rc == 0, "open: %s", mb_strerror(rc));
    g.enabled = true;
    g.mtu = mb_mtu(b);
    FZ_CHECK(g.mtu == (g.pcap ? mtu : (mtu < g.ifmtu ? mtu : g.ifmtu)));
    struct mb_addr self;
    mb_local_addr(b, &self);
    FZ_CHECK(self.len == 6 && memcmp(self.b, g.mac, 6) == 0);

    uint8_t buf[2200];
    for (unsigned steps = 0; fz_left(&in) && steps < 256; steps++) {
        uint8_t op = fz_u8(&in);
        switch (op % 5) {
        case 0: {
            if (g.qn == QMAX)
                break;
            uint8_t fl = fz_u8(&in);
            wire *w = &g.q[(g.qh + g.qn) % QMAX];
            size_t len = fz_u16(&in) % sizeof w->buf;
            fz_copy(&in, w->buf, len);
            if (len >= HDR) {
                if (fl & 0x08) { /* our EtherType */
                    w->buf[12] = (uint8_t)(g.ethertype >> 8);
                    w->buf[13] = (uint8_t)g.ethertype;
                }
                if (fl & 0x10)
                    memcpy(w->buf + 6, g.mac, 6);
                if (fl & 0x20)
                    memcpy(w->buf, g.mac, 6);
            }
            static const uint8_t types[] = {PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST,
                                            PACKET_OTHERHOST, PACKET_OUTGOING};
            w->pkttype = types[(fl & 7) % 5];
            w->len = len;
            g.snaplen = g.snaplen ? g.snaplen : HDR + g.mtu + 64;
            w->caplen = len < g.snaplen ? len : g.snaplen;
            if ((fl & 0x40) && w->caplen)
                w->caplen -= 1 + (fl >> 7);
            if (w->caplen > len)
                w->caplen = 0;
            g.qn++;
            break;
        }
        case 1: {
            unsigned budget = 1 + fz_u8(&in) % 80;
            g.ntaken = g.ndelivered = 0;
            uint64_t before = g.exp_rx;
            rc = mb_on_readable(b, budget);
            FZ_CHECKF(rc >= 0, "on_readable %d", rc);
            FZ_CHECK(g.ntaken <= budget);
            FZ_CHECK((uint64_t)rc == g.exp_rx - before);
            check_counters(b);
            break;
        }
        case 2: {
            size_t len = fz_u16(&in) % (g.mtu + 8);
            uint8_t sel = fz_u8(&in);
            fz_copy(&in, buf, len);
            struct mb_addr dst = {.len = 6};
            if (sel & 1)
                memset(dst.b, 0xff, 6);
            else
                fz_copy(&in, dst.b, 6);
            if (sel & 2)
                dst.len = (uint8_t)(sel >> 4);
            g.send_fail = (sel & 4) ? ((sel & 8) ? EAGAIN : EIO) : 0;
            unsigned n0 = g.nsent;
            rc = mb_send(b, buf, len, &dst);
            FZ_CHECKF(rc == 0 || rc == MB_EAGAIN || rc == MB_EIO || rc == MB_ETOOBIG ||
                          rc == MB_EADDR || rc == MB_EDOWN || rc == MB_EINVAL,
                      "send %d", rc);
            if (len > g.mtu)
                FZ_CHECK(rc != 0);
            if (rc == 0) {
                /* frames shorter than the Ethernet minimum go out zero-padded (MSG-ETH-3) */
                size_t wlen = len < 46 ? 46 : len;
                FZ_CHECK(g.nsent == n0 + 1 && g.sent_len == HDR + wlen);
                for (size_t k = len; k < wlen; k++)
                    FZ_CHECK(g.sent[HDR + k] == 0);
                FZ_CHECK(memcmp(g.sent, dst.b, 6) == 0 && memcmp(g.sent + 6, g.mac, 6) == 0);
                FZ_CHECK(((g.sent[12] << 8) | g.sent[13]) == g.ethertype);
                FZ_CHECK(memcmp(g.sent + HDR, buf, len) == 0);
            } else {
                FZ_CHECK(g.nsent == n0);
            }
            g.send_fail = 0;
            break;
        }
        case 3:
            g.enabled = !g.enabled;
            FZ_CHECK(mb_set_enabled(b, g.enabled) == 0);
            break;
        case 4: {
            struct mb_stats st;
            mb_get_stats(b, &st);
            FZ_CHECK(st.drop_os > 0);
            break;
        }
        }
    }
    /* Drain what is left. */
    g.ntaken = g.ndelivered = 0;
    while (g.qn) {
        g.ntaken = g.ndelivered = 0;
        FZ_CHECK(mb_on_readable(b, 64) >= 0);
    }
    check_counters(b);
    mb_close(b);
    return 0;
}
