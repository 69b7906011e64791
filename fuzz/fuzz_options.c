/*
 * fuzz_options — the option TLV parser, reached the way a peer reaches it: through the
 * option area of a DISCOVER, LINK_RESET, LINK_ACTIVATE or PATH_OPEN whose fixed fields are
 * valid, so every input gets past the fixed part.
 *
 * Input: carrier(8) then the option bytes.  carrier % 4 picks the message; for PATH_OPEN
 * (carrier / 4) % 3 picks the name ("", "svc", "a/b/c").
 *
 * Oracles on success: the options cover the option area exactly, in wire order; at most
 * MP_MAX_OPTIONS; no type twice; no unknown critical option; every known option has its
 * registered length (and value range, where the RFC gives one), so a consumer may read
 * it without a length check of its own; mp_opt_find returns the first of a type; the
 * frame re-encodes to the same bytes.
 */
#include "fz.h"

static uint8_t frame[MP_MAX_FRAME + 1];

static bool node_name_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

static void check_known(const mp_opt *o)
{
    switch (o->type) {
    case MP_OPT_NODE_NAME:
        FZ_CHECKF(o->len >= 1 && o->len <= MP_MAX_NODE_NAME, "NODE_NAME of %u bytes", o->len);
        for (unsigned i = 0; i < o->len; i++)
            FZ_CHECKF(node_name_char(o->val[i]), "NODE_NAME byte 0x%02x", o->val[i]);
        break;
    case MP_OPT_BEARER_NAME:
        FZ_CHECKF(o->len >= 1 && o->len <= MP_MAX_BEARER_NAME, "BEARER_NAME of %u bytes",
                  o->len);
        break;
    case MP_OPT_CAPS:
        FZ_CHECKF(o->len == 4, "CAPS of %u bytes (must be 4)", o->len);
        break;
    case MP_OPT_MAX_MESSAGE:
        FZ_CHECKF(o->len == 4, "MAX_MESSAGE of %u bytes (must be 4)", o->len);
        FZ_CHECKF(mp_get32(o->val) >= MP_MIN_MESSAGE_SUPPORT && mp_get32(o->val) <= MP_MAX_MESSAGE,
                  "MAX_MESSAGE %u accepted", mp_get32(o->val));
        break;
    case MP_OPT_PROBE_INTERVAL:
        FZ_CHECKF(o->len == 2, "PROBE_INTERVAL of %u bytes", o->len);
        FZ_CHECK(mp_get16(o->val) != 0);
        break;
    case MP_OPT_MINET_MAC:
        FZ_CHECKF(o->len == 6, "MINET_MAC of %u bytes", o->len);
        break;
    case MP_OPT_ACK_SESSION:
        FZ_CHECKF(o->len == 2, "ACK_SESSION of %u bytes", o->len);
        break;
    case MP_OPT_PEER_EPOCH:
        FZ_CHECKF(o->len == 4, "PEER_EPOCH of %u bytes", o->len);
        break;
    case MP_OPT_SECURITY:
        FZ_CHECKF(o->len == 1, "SECURITY of %u bytes", o->len);
        FZ_CHECKF(o->val[0] <= MP_SEC_TRANSITION, "SECURITY policy %u", o->val[0]);
        break;
    default:
        FZ_CHECKF((o->type & MP_OPT_CRITICAL) == 0, "unknown critical option 0x%02x accepted",
                  o->type);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t carrier = data[0];
    const uint8_t *opt = data + 1;
    size_t olen = size - 1;
    static const char *const names[3] = {"", "svc", "a/b/c"};

    size_t off;
    memset(frame, 0, 64);
    switch (carrier % 4) {
    case 0: /* DISCOVER */
        frame[1] = MP_T_DISCOVER;
        mp_put32(frame + 4, 1);
        mp_put32(frame + 8, 7);
        frame[12] = MP_VERSION;
        mp_put16(frame + 14, 1500);
        mp_put32(frame + 16, 0x1234);
        off = MP_DISCOVER_MIN_LEN;
        break;
    case 1: /* LINK_RESET */
    case 2: /* LINK_ACTIVATE */
        frame[1] = carrier % 4 == 1 ? MP_T_LINK_RESET : MP_T_LINK_ACTIVATE;
        mp_put32(frame + 4, 1);
        mp_put32(frame + 8, 2);
        mp_put32(frame + 12, 0x1234);
        mp_put16(frame + 16, 99);
        mp_put16(frame + 18, 1000);
        mp_put16(frame + 20, MP_TOLERANCE_DEF_MS);
        mp_put16(frame + 22, MP_WINDOW_DEF);
        mp_put16(frame + 24, 1500);
        off = MP_LINK_MIN_LEN;
        break;
    default: { /* PATH_OPEN on channel 0 */
        const char *nm = names[(carrier / 4) % 3];
        size_t nl = strlen(nm);
        frame[1] = MP_T_PATH_OPEN;
        mp_put32(frame + 16, MP_CHAN_FIRST_PATH);
        mp_put32(frame + 20, 5);
        mp_put32(frame + 24, 6);
        mp_put32(frame + 28, 64);
        frame[32] = MP_PK_UNICAST;
        frame[36] = (uint8_t)nl;
        memcpy(frame + 37, nm, nl);
        off = MP_PATH_OPEN_MIN_LEN + nl;
        break;
    }
    }
    frame[0] = (uint8_t)(MP_VERSION << 4);
    if (off + olen > MP_MAX_FRAME)
        olen = MP_MAX_FRAME - off;
    memcpy(frame + off, opt, olen);
    size_t flen = off + olen;
    mp_put16(frame + 2, (uint16_t)flen);

    mp_frame f;
    int rc = mp_decode(frame, flen, &f);
    if (rc < 0) {
        fz_check_err(rc);
        FZ_CHECKF(olen > 0, "carrier %u with no options rejected: %s", carrier % 4,
                  mp_errname(rc));
        return 0;
    }
    FZ_CHECK((size_t)rc == flen);
    const mp_opts *o = f.hdr.type == MP_T_DISCOVER   ? &f.u.discover.opts
                       : f.hdr.type == MP_T_PATH_OPEN ? &f.u.open.opts
                                                      : &f.u.link.opts;
    FZ_CHECK(o->n <= MP_MAX_OPTIONS);
    size_t pos = off;
    for (unsigned i = 0; i < o->n; i++) {
        const mp_opt *x = &o->v[i];
        FZ_CHECKF(pos + 2 + x->len <= flen && frame[pos] == x->type && frame[pos + 1] == x->len &&
                      x->val == frame + pos + 2,
                  "option %u is not the TLV at offset %zu", i, pos);
        pos += 2u + x->len;
        for (unsigned j = 0; j < i; j++)
            FZ_CHECKF(o->v[j].type != x->type, "option 0x%02x accepted twice", x->type);
        check_known(x);
        FZ_CHECK(mp_opt_find(o, x->type) == x);
    }
    FZ_CHECKF(pos == flen, "options end at %zu, frame at %zu", pos, flen);
    FZ_CHECK(mp_opt_find(o, 0x7F) == NULL || o->n > 0);
    FZ_CHECK(fz_roundtrip(&f, false, frame, flen) == (int)flen);
    return 0;
}
