/*
 * strerror.c — names and descriptions of the MP_E* codes.
 */
#include "mp_internal.h"

static const struct {
    const char *name, *text;
} mp_errs[MP_ERR_COUNT] = {
    {"MP_OK", "success"},
    {"MP_ETRUNC", "input shorter than a header or than its length field"},
    {"MP_EVERSION", "unsupported version"},
    {"MP_ETYPE", "unknown or disallowed message type"},
    {"MP_ELENGTH", "length inconsistent with the message structure"},
    {"MP_ERESERVED", "reserved field or undefined flag bit is non-zero"},
    {"MP_EOPTION", "malformed, duplicate or unknown critical option"},
    {"MP_ENAME", "invalid name"},
    {"MP_EPROP", "invalid property"},
    {"MP_ERANGE", "field out of range"},
    {"MP_ENOSPC", "output buffer too small"},
    {"MP_ECHANNEL", "channel or channel sequence not allowed for this type"},
    {"MP_ECRC", "CRC-32C mismatch"},
    {"MP_EFRAMING", "serial framing error"},
    {"MP_ECOUNT", "count field disagrees with the bytes present"},
    {"MP_EPATTERN", "invalid pattern"},
    {"MP_EINVAL", "invalid argument"},
};

const char *mp_errname(int err)
{
    if (err > 0 || err <= -MP_ERR_COUNT)
        return "MP_E?";
    return mp_errs[-err].name;
}

const char *mp_strerror(int err)
{
    if (err > 0 || err <= -MP_ERR_COUNT)
        return "unknown error";
    return mp_errs[-err].text;
}
