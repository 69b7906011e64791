/*
 * mp_internal.h — what the codec's files share; not installed, not for callers.
 *
 * Every message body has one row of operations (mp_body_ops).  Decoding runs them in
 * the error-precedence order of spec/vectors/FORMAT.md, so a frame with several faults
 * reports the same one in every implementation:
 *
 *   parse     structure only (MP_ELENGTH) and filling the struct;
 *   channel   mp_chan_check (MP_ECHANNEL);
 *   reserved  reserved bytes on the wire (MP_ERESERVED; decode only: encoders write 0);
 *   check     undefined flag bits first (MP_ERESERVED), then every field in wire order.
 *
 * Encoding runs the *same* channel rule and check on the caller's struct before
 * writing a byte.  One validator per body type, shared by both directions, is what
 * makes "the encoder only writes what the decoder accepts" true by construction.
 *
 * Walked lists (options, properties) can be malformed in ways that belong to the field
 * step (MP_EOPTION, MP_ECOUNT at the list's wire position), not to parse.  parse then
 * fills the list as far as it is well formed and hands the error over as `deferred`;
 * check reports it where that list sits in wire order.
 *
 * Body offsets in the .c files are relative to the first byte after the common (4) or
 * sequenced (16) header; comments give the wire.h frame offset where it helps.
 */
#ifndef MP_INTERNAL_H
#define MP_INTERNAL_H

#include "mp/mp.h"
#include "mp_mem.h"

typedef struct mp_body_ops {
    size_t min_len; /* smallest valid body */
    bool fixed;     /* body length must be exactly min_len */
    /* Fill f->u from b[0..n) (n >= min_len already checked).  Returns MP_ELENGTH or
     * MP_OK; a list error for the field step goes to *deferred. */
    int (*parse)(const uint8_t *b, size_t n, mp_frame *f, int *deferred);
    /* Reserved bytes of b[0..n) (NULL if the body has none). */
    int (*reserved)(const uint8_t *b, size_t n);
    /* Flags then fields in wire order, reporting `deferred` (0 when encoding) at its
     * list's position.  Must be safe on any caller-filled struct (it is the encoder's
     * input validation too), so it bounds every count before use. */
    int (*check)(const mp_frame *f, int deferred);
    /* Encoded body size of a checked f. */
    int (*size)(const mp_frame *f, size_t *n);
    /* Write the body of a checked f; the caller has ensured room for size(). */
    void (*write)(const mp_frame *f, uint8_t *b);
} mp_body_ops;

/* Row for a known type, NULL otherwise (frame.c). */
const mp_body_ops *mp_body_ops_for(uint8_t type);

extern const mp_body_ops mp_ops_discover, mp_ops_link, mp_ops_link_state, mp_ops_secured,
    mp_ops_key_exchange; /* body_link.c */
extern const mp_body_ops mp_ops_data, mp_ops_fragment, mp_ops_minet, mp_ops_path_open,
    mp_ops_path_accept, mp_ops_path_close, mp_ops_path_abort, mp_ops_path_credit,
    mp_ops_service_status, mp_ops_mgmt; /* body_msg.c */
extern const mp_body_ops mp_ops_name_publish, mp_ops_name_withdraw, mp_ops_name_sync; /* names.c */
extern const mp_body_ops mp_ops_bundle;                                               /* bundle.c */

/* hdr.c */
size_t mp_hdr_len(uint8_t type);
/* mp_hdr_decode, optionally rejecting unassigned types at their precedence rank. */
int mp_hdr_parse(const uint8_t *buf, size_t len, mp_hdr *out, bool known_only);
void mp_hdr_write(const mp_hdr *h, uint16_t length, uint8_t *buf);
/* A type that may be a bundle member, a fragmented message or an mp_body_decode body:
 * a known sequenced type other than FRAGMENT and BUNDLE. */
bool mp_type_is_message(uint8_t type);
/* Channel rule that depends on chan alone (used for fragments, where the body is not
 * at hand): 0 or MP_ECHANNEL. */
int mp_chan_rule(uint8_t type, uint32_t chan);
/* Full channel rule of a decoded/to-be-encoded sequenced frame (chan, cseq, body). */
int mp_chan_check(const mp_frame *f);

/* frame.c: decode a body of known type under header f->hdr (parse, check, channel). */
int mp_body_run(const mp_body_ops *ops, const uint8_t *b, size_t n, mp_frame *f);
/* frame.c: validate f for encoding; on success *total is the frame length. */
int mp_encode_prepare(const mp_frame *f, const mp_body_ops **ops, size_t *total);

/* body_link.c: options.  parse fills what is well formed and returns the list's
 * deferred error (or MP_OK); check reports semantic errors of the filled options in
 * order, then `deferred`. */
int mp_opts_parse(const uint8_t *p, size_t n, mp_opts *o);
int mp_opts_check(const mp_opts *o, int deferred);
size_t mp_opts_size(const mp_opts *o);
void mp_opts_write(const mp_opts *o, uint8_t *p);

/* names.c: name record (NAME_PUBLISH body, NAME_SYNC member) */
int mp_name_rec_parse(const uint8_t *b, size_t n, mp_name_rec *r, int *deferred);
int mp_name_rec_reserved(const uint8_t *b);
int mp_name_rec_check(const mp_name_rec *r, int deferred);
/* A record at b[0..n), fully: structure, reserved, fields. */
int mp_name_rec_decode(const uint8_t *b, size_t n, mp_name_rec *r);
size_t mp_name_rec_size(const mp_name_rec *r);
void mp_name_rec_write(const mp_name_rec *r, uint8_t *b);
/* NODE_NAME option value: one name component. */
bool mp_component_ok(const uint8_t *c, size_t n);

/* A view the encoder can trust: non-NULL whenever it has bytes. */
static inline bool mp_bytes_ok(const mp_bytes *b)
{
    return b->len == 0 || b->ptr != NULL;
}

static inline bool mp_node_id_ok(uint32_t id)
{
    return id != 0 && id != 0xFFFFFFFFu;
}

static inline bool mp_all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

#endif /* MP_INTERNAL_H */
