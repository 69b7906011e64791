/*
 * hdr.c — common/sequenced header, the type registry's names, channel rules.
 */
#include "mp_internal.h"

size_t mp_hdr_len(uint8_t type)
{
    return MP_TYPE_IS_SEQUENCED(type) ? MP_SEQ_HDR_LEN : MP_COMMON_HDR_LEN;
}

int mp_hdr_parse(const uint8_t *buf, size_t len, mp_hdr *out, bool known_only)
{
    if (buf == NULL || out == NULL)
        return MP_EINVAL;
    /* Precedence (FORMAT.md): truncation, version, type, then length. */
    if (len < MP_COMMON_HDR_LEN)
        return MP_ETRUNC;
    uint16_t length = mp_get16(buf + 2);
    if (length > len)
        return MP_ETRUNC;
    uint8_t version = buf[0] >> 4;
    if (version != MP_VERSION)
        return MP_EVERSION;
    uint8_t type = buf[1];
    if (known_only && mp_type_name(type) == NULL)
        return MP_ETYPE;
    if (length < mp_hdr_len(type))
        return MP_ELENGTH;
    mp_memset(out, 0, sizeof *out);
    out->version = version;
    out->flags = buf[0] & MP_FLAGS_MASK;
    out->type = type;
    out->length = length;
    if (MP_TYPE_IS_SEQUENCED(type)) {
        out->seq = mp_get16(buf + 4);
        out->ack = mp_get16(buf + 6);
        out->chan = mp_get32(buf + 8);
        out->cseq = mp_get32(buf + 12);
    }
    return (int)length;
}

int mp_hdr_decode(const uint8_t *buf, size_t len, mp_hdr *out)
{
    /* Any type: a link must acknowledge sequenced types it cannot interpret (they
     * consumed a sequence number), and private types still have a well-formed common
     * header.  mp_decode() is the one that rejects unassigned types. */
    return mp_hdr_parse(buf, len, out, false);
}

void mp_hdr_write(const mp_hdr *h, uint16_t length, uint8_t *buf)
{
    buf[0] = (uint8_t)((MP_VERSION << 4) | (h->flags & MP_FLAGS_MASK));
    buf[1] = h->type;
    mp_put16(buf + 2, length);
    if (MP_TYPE_IS_SEQUENCED(h->type)) {
        mp_put16(buf + 4, h->seq);
        mp_put16(buf + 6, h->ack);
        mp_put32(buf + 8, h->chan);
        mp_put32(buf + 12, h->cseq);
    }
}

const char *mp_type_name(uint8_t type)
{
    switch (type) {
    case MP_T_DISCOVER:
        return "DISCOVER";
    case MP_T_LINK_RESET:
        return "LINK_RESET";
    case MP_T_LINK_ACTIVATE:
        return "LINK_ACTIVATE";
    case MP_T_LINK_STATE:
        return "LINK_STATE";
    case MP_T_DATA:
        return "DATA";
    case MP_T_FRAGMENT:
        return "FRAGMENT";
    case MP_T_BUNDLE:
        return "BUNDLE";
    case MP_T_MINET:
        return "MINET";
    case MP_T_NAME_PUBLISH:
        return "NAME_PUBLISH";
    case MP_T_NAME_WITHDRAW:
        return "NAME_WITHDRAW";
    case MP_T_NAME_SYNC:
        return "NAME_SYNC";
    case MP_T_PATH_OPEN:
        return "PATH_OPEN";
    case MP_T_PATH_ACCEPT:
        return "PATH_ACCEPT";
    case MP_T_PATH_CLOSE:
        return "PATH_CLOSE";
    case MP_T_PATH_ABORT:
        return "PATH_ABORT";
    case MP_T_PATH_CREDIT:
        return "PATH_CREDIT";
    case MP_T_SERVICE_STATUS:
        return "SERVICE_STATUS";
    case MP_T_MGMT:
        return "MGMT";
    case MP_T_SECURED:
        return "SECURED";
    case MP_T_KEY_EXCHANGE:
        return "KEY_EXCHANGE";
    default:
        return NULL;
    }
}

bool mp_type_is_message(uint8_t type)
{
    return MP_TYPE_IS_SEQUENCED(type) && type != MP_T_FRAGMENT && type != MP_T_BUNDLE &&
           mp_type_name(type) != NULL;
}

int mp_chan_rule(uint8_t type, uint32_t chan)
{
    if (chan > MP_CHAN_MINET && chan < MP_CHAN_FIRST_PATH)
        return MP_ECHANNEL; /* 0x02-0xFF: reserved for future node-level channels */
    bool ok;
    switch (type) {
    case MP_T_DATA:
    case MP_T_PATH_ACCEPT:
    case MP_T_PATH_CLOSE:
    case MP_T_PATH_ABORT:
    case MP_T_PATH_CREDIT:
        ok = chan >= MP_CHAN_FIRST_PATH; /* only paths carry data and path control */
        break;
    case MP_T_MINET:
        ok = chan == MP_CHAN_MINET;
        break;
    case MP_T_BUNDLE:
    case MP_T_NAME_PUBLISH:
    case MP_T_NAME_WITHDRAW:
    case MP_T_NAME_SYNC:
    case MP_T_PATH_OPEN: /* there is no path yet */
        ok = chan == MP_CHAN_NODE;
        break;
    case MP_T_SERVICE_STATUS:
    case MP_T_MGMT: /* node-level or path-scoped */
        ok = chan == MP_CHAN_NODE || chan >= MP_CHAN_FIRST_PATH;
        break;
    default:
        /* FRAGMENT with an inner type that is not a message: mp_frag reports MP_ETYPE
         * at the field step; here only the reserved range applies. */
        ok = true;
        break;
    }
    return ok ? MP_OK : MP_ECHANNEL;
}

int mp_chan_check(const mp_frame *f)
{
    const mp_hdr *h = &f->hdr;
    uint32_t dst;
    switch (h->type) {
    case MP_T_FRAGMENT:
        /* A fragment carries its message's chan/cseq, so its message's rule. */
        return mp_chan_rule(mp_type_is_message(f->u.fragment.inner_type) ? f->u.fragment.inner_type
                                                                         : MP_T_FRAGMENT,
                            h->chan);
    case MP_T_BUNDLE:
        /* A bundle is a link-level container, not a message: it has no channel
         * position of its own, each member carries its own chan/cseq. */
        return h->chan == 0 && h->cseq == 0 ? MP_OK : MP_ECHANNEL;
    case MP_T_PATH_ACCEPT:
        /* The acceptor's first word on the opener's channel, so always cseq 0. */
        if (h->cseq != 0)
            return MP_ECHANNEL;
        dst = f->u.accept.dst_path;
        break;
    case MP_T_PATH_CLOSE:
        dst = f->u.close.dst_path;
        break;
    case MP_T_PATH_ABORT:
        dst = f->u.abort_.dst_path;
        break;
    case MP_T_PATH_CREDIT:
        dst = f->u.credit.dst_path;
        break;
    default:
        return mp_chan_rule(h->type, h->chan);
    }
    /* Path control travels on the receiver's path channel, so chan and dst_path are
     * the same number; a mismatch means a confused or forged sender. */
    if (mp_chan_rule(h->type, h->chan) != MP_OK || dst != h->chan)
        return MP_ECHANNEL;
    return MP_OK;
}
