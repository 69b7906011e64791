/*
 * fuzz_body — mp_body_decode() with a fuzzer-chosen type, chan and cseq: the path a
 * reassembled fragment series or a bundle member's body takes.  Bodies may be larger
 * than a frame (reassembly allows up to 16 MiB; the fuzzer is capped by -max_len).
 *
 * Input: type(8) chan(32) cseq(32) flags(8) body...
 *
 * Oracles: a known error code, or success with out->hdr matching the header given; a
 * body that fits in one frame re-encodes (with that header) into a frame whose body is
 * exactly the input, and the frame decodes to the same value.
 */
#include "fz.h"

static uint8_t frame_buf[MP_MAX_FRAME];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = fz_in_make(data, size);
    mp_hdr h;
    memset(&h, 0, sizeof h);
    h.version = MP_VERSION;
    h.type = fz_u8(&in);
    h.chan = fz_u32(&in);
    h.cseq = fz_u32(&in);
    h.flags = fz_u8(&in) & MP_FLAGS_MASK;
    mp_bytes body = fz_rest(&in);

    mp_frame f;
    memset(&f, 0, sizeof f);
    int rc = mp_body_decode(&h, body.ptr, body.len, &f);
    if (rc < 0) {
        fz_check_err(rc);
        return 0;
    }
    FZ_CHECKF(f.hdr.type == h.type, "body decode changed type 0x%02x -> 0x%02x", h.type,
              f.hdr.type);
    fz_walk(&f);

    /* Put the body back in a frame and compare. */
    size_t hlen = MP_TYPE_IS_SEQUENCED(h.type) ? MP_SEQ_HDR_LEN : MP_COMMON_HDR_LEN;
    if (body.len + hlen > MP_MAX_FRAME)
        return 0;
    f.hdr = h;
    FZ_CHECK(fz_prepare_reencode(&f));
    int n = fz_roundtrip(&f, false, NULL, 0);
    FZ_CHECKF(n >= 0, "body of type 0x%02x decoded but its frame does not encode: %s", h.type,
              mp_errname(n));
    int n2 = mp_encode(&f, frame_buf, sizeof frame_buf);
    FZ_CHECK(n2 == n && (size_t)n == hlen + body.len);
    FZ_CHECK(fz_bytes_eq("frame body vs decoded body", body.ptr, body.len, frame_buf + hlen,
                         (size_t)n - hlen));
    return 0;
}
