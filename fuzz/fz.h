/*
 * fuzz/fz.h — helpers shared by the fuzz targets (prefix fz_).
 *
 * A target is one LLVMFuzzerTestOneInput().  Oracles call FZ_CHECK(), which prints the
 * failed condition and abort()s, so libFuzzer, AFL++ and the replay driver all see a
 * crash.  Nothing here allocates for itself: the codec does not, and a harness that did
 * would hide leak reports behind its own (fz_svc_alloc allocates only for a core node,
 * which frees it).
 */
#ifndef FZ_H
#define FZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp/mp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the stateful targets inject into a core node (mc_config.alloc and .rng): an
 * allocator that counts what it holds, so the node's own accounting can be checked and
 * a leak after destroy shows, and that refuses the allocation after fail_in more (< 0:
 * never); and a xorshift RNG, so a run is a function of its input.  The allocator
 * mallocs on the node's behalf: the node frees it, and leaks stay the node's. */
typedef struct fz_svc {
    int idx;        /* the node, for messages */
    size_t held;    /* bytes the allocator holds for this node */
    long fail_in;   /* refuse the allocation after this many; < 0: never */
    uint32_t rng;   /* xorshift state, never 0 */
    bool *refused;  /* if set, made true when an allocation is refused */
} fz_svc;
void *fz_svc_alloc(void *user, size_t size); /* user: the fz_svc */
void fz_svc_free(void *user, void *p, size_t size);
uint32_t fz_svc_rng(void *user);

#define FZ_CHECK(cond)                                                                  \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: oracle failed: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* Like FZ_CHECK, with a printf-style explanation. */
#define FZ_CHECKF(cond, ...)                                                            \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: oracle failed: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                               \
            fputc('\n', stderr);                                                        \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* ---- Reading structured values out of fuzzer bytes ---------------------------------
 * Past the end every read yields zeros, so a short input still builds a whole value and
 * the fuzzer's mutations at the tail keep meaning the same field. */
typedef struct fz_in {
    const uint8_t *p;
    size_t len, pos;
} fz_in;

static inline fz_in fz_in_make(const uint8_t *p, size_t len)
{
    fz_in in = {p, len, 0};
    return in;
}
static inline size_t fz_left(const fz_in *in) { return in->len - in->pos; }
static inline uint8_t fz_u8(fz_in *in) { return in->pos < in->len ? in->p[in->pos++] : 0; }
static inline uint16_t fz_u16(fz_in *in)
{
    uint16_t hi = fz_u8(in);
    return (uint16_t)((hi << 8) | fz_u8(in));
}
static inline uint32_t fz_u32(fz_in *in)
{
    uint32_t hi = fz_u16(in);
    return (hi << 16) | fz_u16(in);
}
static inline uint64_t fz_u64(fz_in *in)
{
    uint64_t hi = fz_u32(in);
    return (hi << 32) | fz_u32(in);
}
/* A view of up to n bytes of input (fewer at the end). */
static inline mp_bytes fz_view(fz_in *in, size_t n)
{
    mp_bytes b;
    if (n > fz_left(in))
        n = fz_left(in);
    b.ptr = in->p + in->pos;
    b.len = n;
    in->pos += n;
    return b;
}
/* A view whose length is the next byte (mod max+1). */
static inline mp_bytes fz_view8(fz_in *in, size_t max) { return fz_view(in, fz_u8(in) % (max + 1)); }
static inline mp_bytes fz_rest(fz_in *in) { return fz_view(in, fz_left(in)); }

/* Copy up to n bytes into dst, zero-filling what the input lacks. */
static inline void fz_copy(fz_in *in, uint8_t *dst, size_t n)
{
    mp_bytes b = fz_view(in, n);
    if (b.len)
        memcpy(dst, b.ptr, b.len);
    if (b.len < n)
        memset(dst + b.len, 0, n - b.len);
}

/* ---- Frame comparison --------------------------------------------------------------
 * Field-by-field equality of two frames of the same type, comparing views by content.
 * Decode-only fields (SECURED aad) are skipped; NAME_SYNC compares its records view, or,
 * when `a_enc` is true, walks b's records against a's enc_recs array.  On mismatch it
 * prints the first differing field and returns false. */
bool fz_frame_eq(const mp_frame *a, const mp_frame *b, bool a_enc);
bool fz_name_rec_eq(const mp_name_rec *a, const mp_name_rec *b);
bool fz_hdr_eq(const mp_hdr *a, const mp_hdr *b, bool member);

/* Bytes equal, with a hex dump of both on mismatch. */
bool fz_bytes_eq(const char *what, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Every MP_E* code is in range and has a name. */
void fz_check_err(int err);

/* Walk a decoded frame's nested structures (bundle members, NAME_SYNC records) and check
 * each against what the decoder promised: counts agree, no walk error, members are
 * bundleable.  Returns the number of nested items. */
size_t fz_walk(const mp_frame *f);

/* The encode/decode oracle: encode f, decode the bytes, require field equality, then
 * re-encode the decoded value and require identical bytes.  If `orig` is non-NULL it
 * must equal the first encoding too (decode(x) re-encodes to x: the codec is canonical).
 * NAME_SYNC frames built from records (`enc`) must carry enc_recs.
 * Returns the encoded length, or the encoder's error. */
int fz_roundtrip(const mp_frame *f, bool enc, const uint8_t *orig, size_t orig_len);

/* Re-encode a decoded NAME_SYNC/BUNDLE into the form mp_encode accepts (NAME_SYNC needs
 * its records as an array in enc_recs).  Returns false if the walk fails. */
bool fz_prepare_reencode(mp_frame *f);

#endif /* FZ_H */
