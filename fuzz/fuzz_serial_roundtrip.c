/*
 * fuzz_serial_roundtrip — mp_serial_encode() of arbitrary frame bytes, then the
 * de-framer must give the same frame back.
 *
 * Input: split(8) frame bytes...   split chooses where the line is cut in two feeds.
 *
 * Oracles: the encoding fits mp_serial_max_encoded(), starts and ends with a flag and has
 * no flag inside; one byte less of room gives MP_ENOSPC without writing past it; two
 * copies back to back de-frame into exactly two frames equal to the input, with storage of
 * exactly frame + CRC, whatever the cut, and no discard counted.
 */
#include "fz.h"

static uint8_t line[2 * (2 * (MP_MAX_FRAME + 8) + 8)];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t split = data[0];
    const uint8_t *frame = data + 1;
    size_t flen = size - 1;
    if (flen > MP_MAX_FRAME)
        flen = MP_MAX_FRAME;

    size_t max = mp_serial_max_encoded(flen);
    FZ_CHECK(max <= sizeof line / 2);
    int n = mp_serial_encode(frame, flen, line, sizeof line / 2);
    if (n < 0) {
        fz_check_err(n);
        /* Only a frame the line cannot carry may be refused. */
        FZ_CHECKF(flen == 0, "mp_serial_encode refused %zu bytes: %s", flen, mp_errname(n));
        return 0;
    }
    FZ_CHECKF((size_t)n <= max, "encoded %d > max %zu", n, max);
    FZ_CHECK(n >= 2 && line[0] == MP_SERIAL_FLAG && line[n - 1] == MP_SERIAL_FLAG);
    for (int i = 1; i < n - 1; i++)
        FZ_CHECK(line[i] != MP_SERIAL_FLAG);

    /* Too little room: clean failure; exactly-sized heap block, so ASan sees any write
     * past cap. */
    uint8_t *small = malloc((size_t)n - 1);
    FZ_CHECK(small);
    FZ_CHECK(mp_serial_encode(frame, flen, small, (size_t)n - 1) == MP_ENOSPC);
    free(small);

    /* Two copies back to back. */
    memcpy(line + n, line, (size_t)n);
    size_t total = 2 * (size_t)n, cut = split % (total + 1);

    size_t cap = flen + MP_SERIAL_CRC_LEN;
    uint8_t *buf = malloc(cap);
    FZ_CHECK(buf);
    mp_deframer d;
    mp_deframer_init(&d, buf, cap);
    size_t got = 0, pieces[2][2] = {{0, cut}, {cut, total}};
    for (int p = 0; p < 2; p++) {
        size_t pos = pieces[p][0], end = pieces[p][1];
        while (pos < end) {
            size_t consumed = 0;
            int ret = mp_deframer_feed(&d, line + pos, end - pos, &consumed);
            FZ_CHECK(ret >= 0);
            if (ret == 0)
                break;
            FZ_CHECK(consumed >= 1 && consumed <= end - pos);
            pos += consumed;
            FZ_CHECK(fz_bytes_eq("de-framed frame", frame, flen, buf, (size_t)ret));
            got++;
        }
    }
    /* Frames shorter than a header may be dropped as runts; anything else comes back. */
    if (flen >= MP_COMMON_HDR_LEN) {
        FZ_CHECKF(got == 2, "got %zu frames back (crc %llu framing %llu overrun %llu runt %llu)",
                  got, (unsigned long long)d.crc_errors, (unsigned long long)d.framing_errors,
                  (unsigned long long)d.overruns, (unsigned long long)d.runts);
        FZ_CHECK(d.frames_ok == 2 && d.crc_errors == 0 && d.framing_errors == 0 &&
                 d.overruns == 0 && d.runts == 0);
    }
    free(buf);
    return 0;
}
