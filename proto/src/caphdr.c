/*
 * caphdr.c — the 8-byte pseudo-header in front of serial and PCIe frames in pcap
 * files (LINKTYPE_USER0): 0 magic 'M' 1 version 2 bearer 3 cflags 4 bearer_index(16)
 * 6 reserved(16).  The magic and version let a dissector refuse USER0 captures that
 * some other tool wrote.
 */
#include "mp_internal.h"

static int mp_caphdr_check(const mp_caphdr *h)
{
    if (h->cflags & ~MP_CAPF_DEFINED)
        return MP_ERESERVED;
    if (h->bearer < MP_BEARER_ETH || h->bearer > MP_BEARER_UDP)
        return MP_ERANGE;
    return MP_OK;
}

int mp_caphdr_decode(const uint8_t *in, size_t len, mp_caphdr *out)
{
    if (in == NULL || out == NULL)
        return MP_EINVAL;
    if (len < MP_CAPHDR_LEN)
        return MP_ETRUNC;
    /* A wrong magic or version is "not ours", reported like any other field that
     * must hold one fixed value. */
    if (in[0] != MP_CAPHDR_MAGIC || in[1] != MP_CAPHDR_VERSION || in[6] != 0 || in[7] != 0)
        return MP_ERESERVED;
    mp_caphdr h = {in[2], in[3], mp_get16(in + 4)};
    int rc = mp_caphdr_check(&h);
    if (rc != MP_OK)
        return rc;
    *out = h;
    return MP_CAPHDR_LEN;
}

int mp_caphdr_encode(const mp_caphdr *h, uint8_t *out, size_t cap)
{
    if (h == NULL)
        return MP_EINVAL;
    int rc = mp_caphdr_check(h);
    if (rc != MP_OK)
        return rc;
    if (out == NULL || cap < MP_CAPHDR_LEN)
        return MP_ENOSPC;
    out[0] = MP_CAPHDR_MAGIC;
    out[1] = MP_CAPHDR_VERSION;
    out[2] = h->bearer;
    out[3] = h->cflags;
    mp_put16(out + 4, h->bearer_index);
    out[6] = out[7] = 0;
    return MP_CAPHDR_LEN;
}
