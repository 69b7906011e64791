/*
 * fuzz_caphdr — the LINKTYPE_USER0 capture pseudo-header (mp_caphdr_decode/encode), the
 * first thing a capture reader parses.
 *
 * Oracles: decoding succeeds only on >= 8 bytes with the magic, version 1, defined flag
 * bits and zero reserved bytes; a decoded header re-encodes to the same 8 bytes; a header
 * built from the input's first bytes either encodes (and then decodes to itself) or is
 * refused with a known error, and never makes the encoder write past cap.
 */
#include "fz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mp_caphdr h;
    int rc = mp_caphdr_decode(data, size, &h);
    if (rc < 0) {
        fz_check_err(rc);
    } else {
        FZ_CHECK(size >= MP_CAPHDR_LEN);
        FZ_CHECK(data[0] == MP_CAPHDR_MAGIC && data[1] == MP_CAPHDR_VERSION);
        FZ_CHECK((h.cflags & ~MP_CAPF_DEFINED) == 0);
        FZ_CHECK(data[6] == 0 && data[7] == 0);
        uint8_t out[MP_CAPHDR_LEN];
        int n = mp_caphdr_encode(&h, out, sizeof out);
        FZ_CHECKF(n == (int)MP_CAPHDR_LEN, "re-encode returned %d", n);
        FZ_CHECK(fz_bytes_eq("caphdr re-encoding", data, MP_CAPHDR_LEN, out, MP_CAPHDR_LEN));
    }

    /* Encode side: a header from fuzzer bytes. */
    fz_in in = fz_in_make(data, size);
    mp_caphdr e = {fz_u8(&in), fz_u8(&in), fz_u16(&in)};
    size_t cap = fz_u8(&in) % (MP_CAPHDR_LEN + 4);
    uint8_t buf[MP_CAPHDR_LEN + 8];
    memset(buf, 0xA5, sizeof buf);
    int n = mp_caphdr_encode(&e, buf, cap);
    for (size_t i = cap; i < sizeof buf; i++)
        FZ_CHECK(buf[i] == 0xA5);
    if (n < 0) {
        fz_check_err(n);
        return 0;
    }
    FZ_CHECK(n == (int)MP_CAPHDR_LEN && cap >= MP_CAPHDR_LEN);
    mp_caphdr d;
    int dr = mp_caphdr_decode(buf, (size_t)n, &d);
    FZ_CHECKF(dr >= 0, "encoded header does not decode: %s", mp_errname(dr));
    FZ_CHECK(d.bearer == e.bearer && d.cflags == e.cflags && d.bearer_index == e.bearer_index);
    return 0;
}
