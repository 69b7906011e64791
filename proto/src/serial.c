/*
 * serial.c — serial-line framing: 0x7E, stuffed(frame || CRC-32C big-endian), 0x7E.
 *
 * HDLC-like byte stuffing (RFC 1662 style) because it resynchronises on the next flag
 * after any corruption, which a length-prefixed stream cannot do.  The de-framer is
 * incremental (any chunking of the input gives the same frames and counters) and
 * every discarded frame is counted in exactly one counter.
 */
#include "mp_internal.h"

#define MP_RUNT_LEN (MP_COMMON_HDR_LEN + MP_SERIAL_CRC_LEN)

static bool mp_needs_esc(uint8_t c)
{
    return c == MP_SERIAL_FLAG || c == MP_SERIAL_ESC;
}

size_t mp_serial_max_encoded(size_t len)
{
    return 2 + 2 * (len + MP_SERIAL_CRC_LEN);
}

int mp_serial_encode(const uint8_t *frame, size_t len, uint8_t *out, size_t cap)
{
    if (frame == NULL && len > 0)
        return MP_EINVAL;
    uint8_t crc[MP_SERIAL_CRC_LEN];
    mp_put32(crc, mp_crc32c(0, frame, len));
    /* Size first, so a short buffer is reported before any byte is written. */
    size_t need = 2 + len + MP_SERIAL_CRC_LEN;
    for (size_t i = 0; i < len; i++)
        need += mp_needs_esc(frame[i]);
    for (size_t i = 0; i < MP_SERIAL_CRC_LEN; i++)
        need += mp_needs_esc(crc[i]);
    if (out == NULL || need > cap || need > (size_t)0x7FFFFFFF)
        return MP_ENOSPC;
    size_t o = 0;
    out[o++] = MP_SERIAL_FLAG;
    for (size_t i = 0; i < len + MP_SERIAL_CRC_LEN; i++) {
        uint8_t c = i < len ? frame[i] : crc[i - len];
        if (mp_needs_esc(c)) {
            out[o++] = MP_SERIAL_ESC;
            c ^= MP_SERIAL_XOR;
        }
        out[o++] = c;
    }
    out[o++] = MP_SERIAL_FLAG;
    return (int)o;
}

void mp_deframer_init(mp_deframer *d, uint8_t *buf, size_t cap)
{
    mp_memset(d, 0, sizeof *d);
    d->buf = buf;
    d->cap = buf != NULL ? cap : 0;
    /* in_frame = false: hunt for the first flag; bytes before it belong to a frame
     * whose start we missed and are dropped uncounted. */
}

/* A flag closed the current frame: classify it.  Returns the frame length or 0. */
static int mp_deframer_close(mp_deframer *d)
{
    int ret = 0;
    if (d->escaped) {
        d->framing_errors++; /* 0x7D 0x7E: the sender aborted the frame */
    } else if (d->overflow) {
        d->overruns++;
    } else if (d->used == 0) {
        /* back-to-back or idle flags: not a frame */
    } else if (d->used < MP_RUNT_LEN) {
        d->runts++;
    } else {
        size_t n = d->used - MP_SERIAL_CRC_LEN;
        if (mp_crc32c(0, d->buf, n) != mp_get32(d->buf + n)) {
            d->crc_errors++;
        } else {
            d->frames_ok++;
            ret = (int)n;
        }
    }
    /* The closing flag also opens the next frame; buf keeps the frame just returned
     * until the next byte is stored. */
    d->used = 0;
    d->escaped = false;
    d->overflow = false;
    return ret;
}

int mp_deframer_feed(mp_deframer *d, const uint8_t *in, size_t len, size_t *consumed)
{
    size_t dummy;
    if (consumed == NULL)
        consumed = &dummy;
    *consumed = 0;
    if (d == NULL || (in == NULL && len > 0))
        return MP_EINVAL;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = in[i];
        if (c == MP_SERIAL_FLAG) {
            if (!d->in_frame) {
                d->in_frame = true;
                d->used = 0;
                d->escaped = d->overflow = false;
                continue;
            }
            int n = mp_deframer_close(d);
            if (n > 0) {
                *consumed = i + 1;
                return n;
            }
            continue;
        }
        if (!d->in_frame || d->overflow)
            continue;
        if (d->escaped) {
            /* Any escaped byte is accepted (as PPP does): only 0x7E/0x7D must be
             * escaped, but a sender escaping more still produces a valid frame. */
            c ^= MP_SERIAL_XOR;
            d->escaped = false;
        } else if (c == MP_SERIAL_ESC) {
            d->escaped = true;
            continue;
        }
        if (d->used >= d->cap) {
            d->overflow = true; /* skip to the next flag, then count one overrun */
            continue;
        }
        d->buf[d->used++] = c;
    }
    *consumed = len;
    return 0;
}
