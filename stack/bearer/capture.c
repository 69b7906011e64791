/*
 * capture.c — pcap writer for bearer traffic (libpcap: pcap_open_dead + pcap_dump).
 *
 * USER0 (147) records: the 8-byte pseudo-header of wire.h (mp_caphdr_encode), the
 * frame, and for serial frames the 4-byte CRC-32C (MP_CAPF_FCS).  EN10MB records: the
 * Ethernet frame as on the wire.  IPV4 records: a synthesized IPv4 + UDP header (no
 * checksums: the UDP checksum is 0 = "not computed", the IPv4 one is computed).
 */
#define _GNU_SOURCE
#include "bearer_impl.h"

#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "mp/mp.h"

#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif

#define MB_CAP_SNAP 65535u
#define MB_CAP_BUF (MP_CAPHDR_LEN + 65535u + MP_SERIAL_CRC_LEN + 28u)

struct mb_capture {
    pcap_t *dead;
    pcap_dumper_t *dump;
    enum mb_cap_link link;
    uint64_t records, skipped;
    uint8_t buf[MB_CAP_BUF];
};

int mb_capture_open(const char *path, enum mb_cap_link link, struct mb_capture **out)
{
    if (!path || !out)
        return MB_EINVAL;
    int dlt;
    switch (link) {
    case MB_CAP_USER0: dlt = DLT_USER0; break;
    case MB_CAP_EN10MB: dlt = DLT_EN10MB; break;
    case MB_CAP_IPV4: dlt = DLT_IPV4; break;
    default: return MB_EINVAL;
    }
    struct mb_capture *c = calloc(1, sizeof *c);
    if (!c)
        return MB_ENOMEM;
    c->link = link;
    c->dead = pcap_open_dead(dlt, (int)MB_CAP_SNAP);
    if (!c->dead) {
        free(c);
        return MB_ENOMEM;
    }
    c->dump = pcap_dump_open(c->dead, path);
    if (!c->dump) {
        mb__log("capture", "%s: %s", path, pcap_geterr(c->dead));
        pcap_close(c->dead);
        free(c);
        return MB_EIO;
    }
    *out = c;
    return 0;
}

int mb__capture_link(const struct mb_capture *c) { return c ? (int)c->link : -1; }

static void mb_capture_put(struct mb_capture *c, const uint8_t *data, size_t len)
{
    struct pcap_pkthdr h;
    gettimeofday(&h.ts, NULL);
    h.caplen = h.len = (bpf_u_int32)len;
    pcap_dump((u_char *)c->dump, &h, data);
    c->records++;
}

int mb_capture_write(struct mb_capture *c, const uint8_t *frame, size_t len, uint8_t media,
                     uint8_t cflags, uint16_t index, const uint8_t *fcs)
{
    if (!c || (!frame && len))
        return MB_EINVAL;
    if (len > 65535u) {
        c->skipped++;
        return MB_ETOOBIG;
    }
    if (c->link != MB_CAP_USER0) {
        mb_capture_put(c, frame, len);
        return 0;
    }
    mp_caphdr h = {.bearer = media, .cflags = cflags, .bearer_index = index};
    if (fcs)
        h.cflags |= MP_CAPF_FCS;
    else
        h.cflags &= (uint8_t)~MP_CAPF_FCS;
    int n = mp_caphdr_encode(&h, c->buf, sizeof c->buf);
    if (n < 0) {
        c->skipped++;
        return MB_EINVAL;
    }
    size_t off = (size_t)n;
    memcpy(c->buf + off, frame, len);
    off += len;
    if (fcs) {
        memcpy(c->buf + off, fcs, MP_SERIAL_CRC_LEN);
        off += MP_SERIAL_CRC_LEN;
    }
    mb_capture_put(c, c->buf, off);
    return 0;
}

uint64_t mb_capture_records(const struct mb_capture *c) { return c ? c->records : 0; }
uint64_t mb_capture_skipped(const struct mb_capture *c) { return c ? c->skipped : 0; }

int mb_capture_flush(struct mb_capture *c)
{
    if (!c)
        return MB_EINVAL;
    return pcap_dump_flush(c->dump) == 0 ? 0 : MB_EIO;
}

void mb_capture_close(struct mb_capture *c)
{
    if (!c)
        return;
    pcap_dump_close(c->dump);
    pcap_close(c->dead);
    free(c);
}

/* ---- Hooks used by the bearers ------------------------------------------------------- */
void mb__cap(struct mb_bearer *b, const uint8_t *data, size_t len, bool tx, const uint8_t *fcs)
{
    if (!b->cap)
        return;
    mb_capture_write(b->cap, data, len, b->ops->media, tx ? MP_CAPF_TX : 0, b->cap_index, fcs);
}

static uint16_t mb_ip_csum(const uint8_t *p, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)((p[i] << 8) | p[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

void mb__cap_udp4(struct mb_bearer *b, const uint8_t src[6], const uint8_t dst[6],
                  const uint8_t *payload, size_t len, bool tx)
{
    struct mb_capture *c = b->cap;
    (void)tx; /* the direction is in the addresses */
    if (!c)
        return;
    if (c->link != MB_CAP_IPV4 || len > 65535u - 28u) {
        c->skipped++;
        return;
    }
    uint8_t *ip = c->buf;
    size_t tot = 28 + len;
    memset(ip, 0, 28);
    ip[0] = 0x45;
    mp_put16(ip + 2, (uint16_t)tot);
    ip[6] = 0x40; /* DF */
    ip[8] = 64;
    ip[9] = 17;
    memcpy(ip + 12, src, 4);
    memcpy(ip + 16, dst, 4);
    mp_put16(ip + 10, mb_ip_csum(ip, 20));
    memcpy(ip + 20, src + 4, 2);
    memcpy(ip + 22, dst + 4, 2);
    mp_put16(ip + 24, (uint16_t)(8 + len));
    memcpy(ip + 28, payload, len);
    mb_capture_put(c, ip, tot);
}
