/*
 * fuzz_serial — the serial de-framer (mp_deframer_feed) on arbitrary line bytes, fed in
 * fuzzer-chosen chunk splits.
 *
 * Input: cap(16) split_seed(32) line bytes...
 *   cap        de-framer storage: bit 15 set -> room for the largest frame, else
 *              1 + (cap % 2048) bytes (small values reach the overrun paths).  The storage
 *              is malloc'd at exactly that size so ASan sees any write past it.
 *   split_seed picks chunk lengths (single bytes, small, large, or everything at once).
 *
 * Oracles:
 *   - splitting is invisible: the chunked run emits the same frames and ends with the same
 *     counters as one feed of the whole line;
 *   - every emitted frame is on the wire: it is the unstuffed content of the segment that
 *     ends where the de-framer stopped, minus a CRC-32C that matches it;
 *   - completeness: every cleanly stuffed segment whose CRC matches and that fits in the
 *     storage is emitted;
 *   - accounting: frames_ok is the number emitted, and ok + every discard counter covers
 *     each non-empty segment exactly once.
 */
#include "fz.h"

#define MAX_OUT 4096 /* frames remembered per run */

typedef struct run {
    size_t n;
    size_t end[MAX_OUT];  /* line offset just past the bytes consumed at emission */
    size_t off[MAX_OUT];  /* frame bytes in store[] */
    size_t len[MAX_OUT];
    uint8_t *store;
    size_t store_used;
    mp_deframer d;
} run;

static uint8_t store_a[70000 * 2], store_b[70000 * 2];
static run ra, rb;

static uint32_t xs32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void record(run *r, size_t end, const uint8_t *p, size_t n)
{
    FZ_CHECK(r->store_used + n <= sizeof store_a);
    if (r->n == MAX_OUT)
        return;
    memcpy(r->store + r->store_used, p, n);
    r->off[r->n] = r->store_used;
    r->len[r->n] = n;
    r->end[r->n] = end;
    r->store_used += n;
    r->n++;
}

/* Feed line[0..len) in chunks; seed 0 means one chunk. */
static void feed_all(run *r, const uint8_t *line, size_t len, uint32_t seed, size_t cap)
{
    uint32_t s = seed ? seed : 1;
    unsigned mode = seed ? (seed >> 30) : 3;
    size_t pos = 0;
    while (pos < len) {
        size_t chunk;
        switch (mode) {
        case 0: chunk = 1; break;
        case 1: chunk = 1 + xs32(&s) % 16; break;
        case 2: chunk = 1 + xs32(&s) % 300; break;
        default: chunk = len - pos; break;
        }
        if (chunk > len - pos)
            chunk = len - pos;
        size_t cpos = 0;
        while (cpos < chunk) {
            size_t consumed = (size_t)-1;
            int ret = mp_deframer_feed(&r->d, line + pos + cpos, chunk - cpos, &consumed);
            FZ_CHECKF(ret >= 0, "mp_deframer_feed returned %d", ret);
            if (ret == 0)
                break;
            FZ_CHECKF((size_t)ret + MP_SERIAL_CRC_LEN <= cap, "frame of %d in storage of %zu",
                      ret, cap);
            FZ_CHECKF(consumed >= 1 && consumed <= chunk - cpos, "consumed %zu of %zu", consumed,
                      chunk - cpos);
            cpos += consumed;
            record(r, pos + cpos, r->d.buf, (size_t)ret);
        }
        /* An empty feed is a no-op. */
        size_t c0 = 0;
        FZ_CHECK(mp_deframer_feed(&r->d, line, 0, &c0) == 0);
        pos += chunk;
    }
}

/* The reference: segment [s, e) lies between flags at s-1 and e. */
static bool unstuff(const uint8_t *p, size_t n, uint8_t *out, size_t *outlen, bool *clean)
{
    size_t k = 0;
    *clean = true;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == MP_SERIAL_ESC) {
            if (i + 1 == n)
                return false; /* 0x7D 0x7E: abort */
            uint8_t x = p[++i];
            if (x != (MP_SERIAL_FLAG ^ MP_SERIAL_XOR) && x != (MP_SERIAL_ESC ^ MP_SERIAL_XOR))
                *clean = false;
            out[k++] = x ^ MP_SERIAL_XOR;
        } else {
            out[k++] = p[i];
        }
    }
    *outlen = k;
    return true;
}

static bool crc_ok(const uint8_t *p, size_t n)
{
    return n >= MP_SERIAL_CRC_LEN &&
           mp_crc32c(0, p, n - MP_SERIAL_CRC_LEN) == mp_get32(p + n - MP_SERIAL_CRC_LEN);
}

static uint8_t seg[70000];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = fz_in_make(data, size);
    uint16_t capsel = fz_u16(&in);
    uint32_t seed = fz_u32(&in);
    mp_bytes line = fz_rest(&in);
    size_t cap = (capsel & 0x8000) ? MP_MAX_FRAME + MP_SERIAL_CRC_LEN : 1 + capsel % 2048u;

    uint8_t *ba = malloc(cap), *bb = malloc(cap);
    FZ_CHECK(ba && bb);
    ra.n = rb.n = 0;
    ra.store_used = rb.store_used = 0;
    ra.store = store_a;
    rb.store = store_b;
    mp_deframer_init(&ra.d, ba, cap);
    mp_deframer_init(&rb.d, bb, cap);
    feed_all(&ra, line.ptr, line.len, seed, cap);
    feed_all(&rb, line.ptr, line.len, 0, cap);

    /* Splitting is invisible. */
    FZ_CHECKF(ra.n == rb.n, "chunked run emitted %zu frames, whole run %zu", ra.n, rb.n);
    for (size_t i = 0; i < ra.n; i++) {
        FZ_CHECK(ra.end[i] == rb.end[i]);
        FZ_CHECK(fz_bytes_eq("frame (chunked vs whole)", ra.store + ra.off[i], ra.len[i],
                             rb.store + rb.off[i], rb.len[i]));
    }
    FZ_CHECK(ra.d.frames_ok == rb.d.frames_ok && ra.d.crc_errors == rb.d.crc_errors &&
             ra.d.framing_errors == rb.d.framing_errors && ra.d.overruns == rb.d.overruns &&
             ra.d.runts == rb.d.runts);
    if (ra.n < MAX_OUT)
        FZ_CHECKF(ra.d.frames_ok == ra.n, "frames_ok %llu, emitted %zu",
                  (unsigned long long)ra.d.frames_ok, ra.n);

    /* Against the reference segmentation. */
    const uint8_t *L = line.ptr;
    size_t next_out = 0, segments = 0;
    bool seen_flag = false;
    size_t start = 0;
    for (size_t i = 0; i < line.len; i++) {
        if (L[i] != MP_SERIAL_FLAG)
            continue;
        if (seen_flag && i > start) {
            segments++;
            size_t n = 0;
            bool clean = true;
            bool whole = unstuff(L + start, i - start, seg, &n, &clean);
            bool emitted = next_out < ra.n && ra.end[next_out] == i + 1;
            if (emitted) {
                FZ_CHECKF(whole && crc_ok(seg, n), "frame emitted at %zu is not a good segment",
                          i);
                FZ_CHECK(fz_bytes_eq("emitted frame vs segment", ra.store + ra.off[next_out],
                                     ra.len[next_out], seg, n - MP_SERIAL_CRC_LEN));
                next_out++;
            } else if (whole && clean && crc_ok(seg, n) && n <= cap &&
                       n >= MP_SERIAL_CRC_LEN + MP_COMMON_HDR_LEN) {
                FZ_CHECKF(0, "good segment [%zu,%zu) of %zu bytes was not emitted", start, i, n);
            }
        }
        seen_flag = true;
        start = i + 1;
    }
    if (ra.n < MAX_OUT)
        FZ_CHECKF(next_out == ra.n, "%zu frames emitted outside any segment", ra.n - next_out);

    /* Accounting: each non-empty, terminated segment is counted exactly once. */
    unsigned long long total = ra.d.frames_ok + ra.d.crc_errors + ra.d.framing_errors +
                               ra.d.overruns + ra.d.runts;
    FZ_CHECKF(total == segments, "counters sum to %llu over %zu segments (ok %llu crc %llu "
              "framing %llu overrun %llu runt %llu)", total, segments,
              (unsigned long long)ra.d.frames_ok, (unsigned long long)ra.d.crc_errors,
              (unsigned long long)ra.d.framing_errors, (unsigned long long)ra.d.overruns,
              (unsigned long long)ra.d.runts);

    free(ba);
    free(bb);
    return 0;
}
