/*
 * fuzz_frame — mp_decode() of arbitrary bytes, the parser every bearer feeds.
 *
 * Oracles, on every input:
 *   - decode returns a length in [4, size] equal to hdr.length, or a known MP_E* code;
 *   - mp_hdr_decode agrees with mp_decode on the header;
 *   - nested structures (BUNDLE members, NAME_SYNC records) walk without error and their
 *     counts match; every member decodes as a body on its own and re-appends to the
 *     same bytes;
 *   - decode(x) re-encodes to exactly x[0..length) (the codec is canonical), decoding that
 *     gives a field-equal frame, and encoding it again gives the same bytes.
 */
#include "fz.h"

static uint8_t members_buf[MP_MAX_FRAME];

/* Rebuild a decoded bundle's members with mp_bundle_append: same bytes. */
static void check_bundle_members(const mp_bundle *b)
{
    size_t pos = 0, used = 0;
    mp_frame m;
    while (mp_bundle_next(b, &pos, &m) == 1) {
        /* The member's body decodes on its own, as a reassembled message would. */
        mp_frame body;
        size_t hlen = MP_INNER_HDR_LEN;
        FZ_CHECK(m.hdr.length >= hlen);
        const uint8_t *mstart = b->members.ptr + pos - m.hdr.length;
        int rc = mp_body_decode(&m.hdr, mstart + hlen, m.hdr.length - hlen, &body);
        FZ_CHECKF(rc >= 0, "member body of type 0x%02x: mp_body_decode %s", m.hdr.type,
                  mp_errname(rc));
        int a = mp_bundle_append(members_buf, sizeof members_buf, &used, &m);
        FZ_CHECKF(a >= 0, "mp_bundle_append of a decoded member: %s", mp_errname(a));
    }
    FZ_CHECK(fz_bytes_eq("re-appended bundle members", b->members.ptr, b->members.len,
                         members_buf, used));
}

/* Calls a careless caller might make: every one must fail cleanly, never crash.  Run
 * once per process (they do not depend on the input). */
static void check_misuse(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    uint8_t b[64] = {0};
    mp_frame f;
    mp_hdr h;
    memset(&f, 0, sizeof f);
    memset(&h, 0, sizeof h);
    size_t pos = 0, used = 0;
    FZ_CHECK(mp_decode(b, sizeof b, NULL) < 0);
    FZ_CHECK(mp_decode(NULL, 10, &f) < 0);
    FZ_CHECK(mp_hdr_decode(NULL, 10, &h) < 0);
    FZ_CHECK(mp_body_decode(NULL, b, 4, &f) < 0);
    FZ_CHECK(mp_body_decode(&h, NULL, 4, &f) < 0);
    FZ_CHECK(mp_encode(NULL, b, sizeof b) < 0);
    FZ_CHECK(mp_encoded_len(NULL) < 0);
    f.hdr.type = MP_T_DATA;
    FZ_CHECK(mp_encode(&f, NULL, 100) < 0);
    f.u.data.len = 5; /* a view with bytes but no pointer */
    FZ_CHECK(mp_encode(&f, b, sizeof b) < 0);
    FZ_CHECK(mp_bundle_next(NULL, &pos, &f) < 0);
    FZ_CHECK(mp_bundle_append(NULL, 10, &used, &f) < 0);
    used = 20;
    f.u.data.len = 0;
    FZ_CHECK(mp_bundle_append(b, 10, &used, &f) < 0); /* used > cap */
    FZ_CHECK(mp_name_sync_next(NULL, &pos, NULL) < 0);
    FZ_CHECK(mp_opt_find(NULL, 1) == NULL);
    FZ_CHECK(mp_name_check(NULL, 3) < 0 && mp_pattern_check(NULL, 3) < 0);
    FZ_CHECK(!mp_pattern_match(NULL, 3, (const uint8_t *)"abc", 3));
    FZ_CHECK(mp_prop_check(NULL) < 0);
    FZ_CHECK(mp_serial_encode(NULL, 5, b, sizeof b) < 0);
    FZ_CHECK(mp_serial_encode(b, 5, NULL, 100) < 0);
    mp_deframer d;
    mp_deframer_init(&d, NULL, 100);
    FZ_CHECK(mp_deframer_feed(NULL, b, 4, &used) < 0);
    FZ_CHECK(mp_deframer_feed(&d, NULL, 4, NULL) < 0);
    mp_caphdr c = {MP_BEARER_SERIAL, 0, 0};
    FZ_CHECK(mp_caphdr_encode(NULL, b, sizeof b) < 0 && mp_caphdr_encode(&c, NULL, 8) < 0);
    FZ_CHECK(mp_caphdr_decode(NULL, 8, &c) < 0 && mp_caphdr_decode(b, 8, NULL) < 0);
    for (int e = 1; e >= -MP_ERR_COUNT - 1; e--)
        FZ_CHECK(mp_strerror(e) != NULL && mp_errname(e) != NULL);
    for (int t = 0; t < 256; t++)
        (void)mp_type_name((uint8_t)t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_misuse();
    mp_frame f;
    mp_hdr h;
    int rc = mp_decode(data, size, &f);
    int hrc = mp_hdr_decode(data, size, &h);
    if (hrc < 0)
        fz_check_err(hrc);
    if (rc < 0) {
        fz_check_err(rc);
        return 0;
    }
    FZ_CHECKF(rc >= (int)MP_COMMON_HDR_LEN && (size_t)rc <= size, "decode returned %d of %zu",
              rc, size);
    FZ_CHECK(rc == f.hdr.length);
    FZ_CHECK(f.hdr.version == MP_VERSION);
    FZ_CHECK(f.hdr.flags <= MP_FLAGS_MASK);
    FZ_CHECK(mp_type_name(f.hdr.type) != NULL);
    FZ_CHECKF(hrc >= 0, "mp_hdr_decode failed (%s) where mp_decode succeeded", mp_errname(hrc));
    FZ_CHECK(fz_hdr_eq(&f.hdr, &h, false));

    fz_walk(&f);
    if (f.hdr.type == MP_T_BUNDLE)
        check_bundle_members(&f.u.bundle);

    /* Bytes after hdr.length are padding: decoding just the frame gives the same. */
    if ((size_t)rc < size) {
        mp_frame g;
        int rc2 = mp_decode(data, (size_t)rc, &g);
        FZ_CHECKF(rc2 == rc, "decode without padding returned %d", rc2);
        FZ_CHECK(fz_frame_eq(&f, &g, false));
    }

    /* NAME_SYNC also re-encodes from its records view as is (enc_recs NULL). */
    if (f.hdr.type == MP_T_NAME_SYNC) {
        static uint8_t out[MP_MAX_FRAME];
        f.u.sync.enc_recs = NULL;
        int n0 = mp_encode(&f, out, sizeof out);
        FZ_CHECKF(n0 == rc, "NAME_SYNC re-encoded from its records view: %d", n0);
        FZ_CHECK(fz_bytes_eq("NAME_SYNC from records view", data, (size_t)rc, out, (size_t)n0));
    }

    FZ_CHECK(fz_prepare_reencode(&f));
    int n = fz_roundtrip(&f, false, data, (size_t)rc);
    FZ_CHECKF(n == rc, "a decoded frame failed to re-encode: %s", n < 0 ? mp_errname(n) : "?");
    return 0;
}
