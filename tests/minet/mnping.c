/*
 * mnping — a minimal ICMP/ICMPv6 echo client for the MINET tests (the test machines do
 * not necessarily have iputils-ping).  Needs root (raw sockets).
 *
 *   mnping [-c COUNT] [-w DEADLINE_S] [-i INTERVAL_MS] [-q] ADDRESS
 *
 * Sends an echo request every INTERVAL_MS (default 200) until COUNT replies (default 1)
 * have come back or DEADLINE_S (default 5) has passed.  Exit 0 if COUNT replies came,
 * 1 if not, 2 on a usage or socket error.  Waits with poll(); no sleep.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint16_t csum(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (n & 1)
        s += (uint32_t)b[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return htons((uint16_t)~s);
}

int main(int argc, char **argv)
{
    long count = 1, deadline = 5, interval = 200;
    int quiet = 0, c;
    while ((c = getopt(argc, argv, "c:w:i:q")) != -1) {
        switch (c) {
        case 'c': count = strtol(optarg, NULL, 10); break;
        case 'w': deadline = strtol(optarg, NULL, 10); break;
        case 'i': interval = strtol(optarg, NULL, 10); break;
        case 'q': quiet = 1; break;
        default: return 2;
        }
    }
    if (optind + 1 != argc || count < 1 || deadline < 1 || interval < 1) {
        fprintf(stderr, "usage: mnping [-c COUNT] [-w DEADLINE_S] [-i INTERVAL_MS] [-q] ADDR\n");
        return 2;
    }
    const char *dst = argv[optind];
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    int v6 = 0;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, dst, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        sl = sizeof *s4;
    } else if (inet_pton(AF_INET6, dst, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        sl = sizeof *s6;
        v6 = 1;
    } else {
        fprintf(stderr, "mnping: bad address %s\n", dst);
        return 2;
    }
    int fd = v6 ? socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6) : socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (fd < 0) {
        fprintf(stderr, "mnping: socket: %s\n", strerror(errno));
        return 2;
    }
    uint16_t id = (uint16_t)getpid();
    uint16_t seq = 0;
    long got = 0;
    uint64_t start = now_ms(), end = start + (uint64_t)deadline * 1000u, next = start;
    while (got < count) {
        uint64_t t = now_ms();
        if (t >= end)
            break;
        if (t >= next) {
            uint8_t pkt[64];
            memset(pkt, 0xa5, sizeof pkt);
            seq++;
            if (v6) {
                struct icmp6_hdr *h = (struct icmp6_hdr *)pkt;
                h->icmp6_type = ICMP6_ECHO_REQUEST;
                h->icmp6_code = 0;
                h->icmp6_cksum = 0; /* the kernel fills it for ICMPv6 raw sockets */
                h->icmp6_id = htons(id);
                h->icmp6_seq = htons(seq);
            } else {
                struct icmphdr *h = (struct icmphdr *)pkt;
                h->type = ICMP_ECHO;
                h->code = 0;
                h->checksum = 0;
                h->un.echo.id = htons(id);
                h->un.echo.sequence = htons(seq);
                h->checksum = csum(pkt, sizeof pkt);
            }
            (void)sendto(fd, pkt, sizeof pkt, 0, (struct sockaddr *)&ss, sl);
            next = t + (uint64_t)interval;
        }
        uint64_t until = next < end ? next : end;
        t = now_ms();
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, until > t ? (int)(until - t) : 0);
        if (r <= 0)
            continue;
        uint8_t buf[2048];
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n <= 0)
            continue;
        if (v6) {
            struct icmp6_hdr *h = (struct icmp6_hdr *)buf;
            struct sockaddr_in6 *f6 = (struct sockaddr_in6 *)&from;
            if (n >= 8 && h->icmp6_type == ICMP6_ECHO_REPLY && ntohs(h->icmp6_id) == id &&
                memcmp(&f6->sin6_addr, &s6->sin6_addr, 16) == 0) {
                got++;
                if (!quiet)
                    printf("reply from %s seq %u\n", dst, ntohs(h->icmp6_seq));
            }
        } else {
            struct iphdr *ip = (struct iphdr *)buf;
            size_t hl = (size_t)ip->ihl * 4;
            if ((size_t)n < hl + 8)
                continue;
            struct icmphdr *h = (struct icmphdr *)(buf + hl);
            if (h->type == ICMP_ECHOREPLY && ntohs(h->un.echo.id) == id &&
                ip->saddr == s4->sin_addr.s_addr) {
                got++;
                if (!quiet)
                    printf("reply from %s seq %u\n", dst, ntohs(h->un.echo.sequence));
            }
        }
    }
    close(fd);
    if (!quiet)
        printf("mnping %s: %ld/%ld replies, %u sent\n", dst, got, count, seq);
    return got >= count ? 0 : 1;
}
