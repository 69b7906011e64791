/*
 * fuzz_mk.c — microoperation sequences through the management microkernel (stack/ha,
 * mk_input / mk_tick / mk_out_pop) with every HA element registered, plus a fuzz element
 * that exercises the element API (appends, payload rewrites, parameter blocks, replies,
 * emits, errors).
 *
 * Input: setup(8) then ops; op & 3:
 *   0  MGMT message: src(8) corr(8) epoch(8) src_ent(8) dst_ent(8) gflags(8) n(8)
 *      n x { opsel(8) [opcode(16) if opsel & 0x80] arg(16) } plen(16) payload.
 *      It is encoded as a MGMT frame and decoded (a message the codec rejects is skipped),
 *      so the kernel only ever sees what mp_decode can produce, as in msgrd.
 *   1  time: dt(16) ms, then mk_tick
 *   2  loopback: pop up to k(8)%8 outbound messages and feed them back in
 *   3  drain the outbox
 * setup: bit 0 entity (0 node / 1 FTM), bit 1 FTM active, bit 2 hb watches node 2,
 *        bits 4-7 seed the fuzz element's config.
 *
 * Oracles: no element overrun (stats.corrupt stays 0); mk_input returns a known MK_E*;
 * the caller's payload bytes are never modified (copy-on-write); the epoch never goes
 * back; the outbox never holds more than MK_OUTBOX_MAX; every outbound message (reply or
 * emitted) has <= 64 uops and <= MK_OUT_PAYLOAD_MAX bytes, encodes as a MGMT frame, and
 * decodes back field-equal; inside element calls the uop index is below the uop count
 * (<= 64) and the payload view is at most MK_PAYLOAD_MAX.
 */
#include "fz.h"
#include "mha.h"
#include "mk.h"

#define FZ_OP_A 0x8001u
#define FZ_OP_B 0x8002u
#define FZ_OP_C 0x8003u

typedef struct fz_el_state {
    uint8_t seed;
    uint32_t calls;
    uint8_t scratch[32];
} fz_el_state;

static int fz_el_init(mk_ctx *c, const void *cfg)
{
    fz_el_state *s = mk_ctx_state(c);
    s->seed = cfg ? *(const uint8_t *)cfg : 0;
    return 0;
}

static int fz_el_uop(mk_ctx *c, uint16_t op, uint16_t arg)
{
    fz_el_state *s = mk_ctx_state(c);
    s->calls++;
    FZ_CHECK(mk_ctx_uop_count(c) <= MP_MAX_UOPS);
    FZ_CHECK(mk_ctx_uop_index(c) < mk_ctx_uop_count(c));
    size_t len;
    const uint8_t *p = mk_payload(c, &len);
    FZ_CHECK(len <= MK_PAYLOAD_MAX);
    FZ_CHECK(len == 0 || p != NULL);
    if (len) /* read every byte: ASan checks the view */
        for (size_t i = 0; i < len; i++)
            s->scratch[i % sizeof s->scratch] ^= p[i];
    uint16_t v = (uint16_t)(arg >> 4);
    uint8_t data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + arg);
    int rc = 0;
    switch ((arg ^ s->seed) & 0xF) {
    case 1:
        rc = mk_append(c, (uint16_t)(FZ_OP_A + (v & 3) % 3), (uint16_t)(v >> 2));
        if (rc == MK_ELIMIT)
            return rc;
        break;
    case 2:
        (void)mk_payload_write(c, v & 0x3FF, data, (size_t)(v >> 10) * 4);
        break;
    case 3:
        (void)mk_payload_truncate(c, v);
        break;
    case 4:
        (void)mk_payload_add_block(c, (uint16_t)(FZ_OP_A + (v & 1)), data, (v >> 1) % sizeof data);
        break;
    case 5:
        (void)mk_reply_uop(c, (uint16_t)(FZ_OP_B + (v & 1)), v);
        break;
    case 6:
        (void)mk_reply_block(c, FZ_OP_B, data, v % sizeof data);
        break;
    case 7: {
        mk_msg m;
        mk_msg_init(&m, (v & 1) ? MK_NODE_ALL : mk_ctx_src_node(c), mk_ctx_entity(c), v);
        for (unsigned i = 0; i < ((v >> 1) & 7u); i++)
            (void)mk_msg_uop(&m, (uint16_t)(FZ_OP_A + i % 3), (uint16_t)i);
        (void)mk_msg_block(&m, FZ_OP_A, data, (v >> 4) % 64);
        if (v & 0x200)
            mk_msg_set_epoch(&m, mk_ctx_epoch(c) + (v >> 10));
        (void)mk_emit(c, &m);
        break;
    }
    case 8: {
        const uint8_t *d;
        size_t dl;
        rc = mk_param(c, &d, &dl);
        FZ_CHECK(rc == 0 || rc == MK_ENOENT || rc == MK_EPROTO);
        if (rc == 0) {
            size_t pl;
            const uint8_t *pp = mk_payload(c, &pl);
            FZ_CHECK(d >= pp && d + dl <= pp + pl);
        }
        rc = 0;
        break;
    }
    case 9:
        return -(int)(v % MK_ERR_COUNT) == MK_ECORRUPT ? MK_ESTATE : -(int)(v % MK_ERR_COUNT);
    default:
        break;
    }
    (void)op;
    return 0;
}

static int fz_el_tick(mk_ctx *c)
{
    fz_el_state *s = mk_ctx_state(c);
    size_t len = 1;
    (void)mk_payload(c, &len);
    FZ_CHECK(len == 0);
    FZ_CHECK(mk_append(c, FZ_OP_A, 0) == MK_ESTATE);
    s->calls++;
    return 0;
}

static const mk_element_ops fz_el_ops = {
    .state_size = sizeof(fz_el_state), .init = fz_el_init, .uop = fz_el_uop, .tick = fz_el_tick};
static const uint16_t fz_el_subs[] = {FZ_OP_A, FZ_OP_B, FZ_OP_C, MP_UOP_HEARTBEAT,
                                      MP_UOP_REGISTER, MP_UOP_CKPT_SAVE, MP_UOP_STATS_GET};

static const uint16_t known_ops[] = {
    MP_UOP_NOP, MP_UOP_HEARTBEAT, MP_UOP_HEARTBEAT_ACK, MP_UOP_REGISTER, MP_UOP_UNREGISTER,
    MP_UOP_CONFIGURE, MP_UOP_BOOT, MP_UOP_RESET, MP_UOP_QUIESCE, MP_UOP_EXTRACT, MP_UOP_INSERT,
    MP_UOP_IOP_STATE, MP_UOP_PROC_START, MP_UOP_PROC_STOP, MP_UOP_PROC_FAILED, MP_UOP_RECOVER,
    MP_UOP_TAKEOVER, MP_UOP_CKPT_SAVE, MP_UOP_CKPT_ACK, MP_UOP_CKPT_RESTORE, MP_UOP_STATS_GET,
    MP_UOP_STATS_REPLY, MP_UOP_FENCE, MP_UOP_ELECT, FZ_OP_A, FZ_OP_B, FZ_OP_C, 0x7FFF};
#define NKNOWN (sizeof known_ops / sizeof known_ops[0])

#define SELF_NODE 1u

typedef struct fz_mk {
    mk_kernel *k;
    uint64_t now;
    uint32_t epoch;
    uint8_t frame[2048];
} fz_mk;

static void check_kernel(fz_mk *z)
{
    const mk_stats *st = mk_get_stats(z->k);
    FZ_CHECKF(st->corrupt == 0, "an element wrote outside its state blob");
    FZ_CHECK(mk_out_pending(z->k) <= MK_OUTBOX_MAX);
    uint32_t e = mk_epoch(z->k);
    FZ_CHECKF(e >= z->epoch, "epoch went back from %u to %u", z->epoch, e);
    z->epoch = e;
}

static int feed(fz_mk *z, uint32_t src, const mp_mgmt *m)
{
    /* The caller's payload must survive untouched (copy-on-write). */
    uint8_t copy[MK_PAYLOAD_MAX + 64];
    size_t pl = m->payload.len;
    FZ_CHECK(pl <= sizeof copy);
    if (pl)
        memcpy(copy, m->payload.ptr, pl);
    int rc = mk_input(z->k, src, m, z->now);
    FZ_CHECKF(rc <= 0 && rc > -MK_ERR_COUNT, "mk_input returned %d", rc);
    FZ_CHECK(mk_strerror(rc) != NULL);
    (void)mk_err_reason(rc);
    if (pl)
        FZ_CHECKF(memcmp(copy, m->payload.ptr, pl) == 0, "input payload modified");
    check_kernel(z);
    return rc;
}

/* Encode an outbound message; it must be a valid MGMT frame that decodes field-equal. */
static bool check_out(fz_mk *z, const mk_msg *o, mp_frame *d)
{
    FZ_CHECK(o->uop_count <= MP_MAX_UOPS);
    FZ_CHECK(o->payload_len <= MK_OUT_PAYLOAD_MAX);
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = MP_T_MGMT;
    f.hdr.chan = MP_CHAN_NODE;
    mk_msg_view(o, &f.u.mgmt);
    int n = mp_encode(&f, z->frame, sizeof z->frame);
    FZ_CHECKF(n > 0, "outbound MGMT does not encode: %s", mp_strerror(n));
    FZ_CHECK(mp_decode(z->frame, (size_t)n, d) == n);
    const mp_mgmt *a = &f.u.mgmt, *b = &d->u.mgmt;
    FZ_CHECK(a->corr_id == b->corr_id && a->epoch == b->epoch && a->src_entity == b->src_entity &&
             a->dst_entity == b->dst_entity && a->gflags == b->gflags &&
             a->uop_count == b->uop_count);
    FZ_CHECK(memcmp(a->uops, b->uops, a->uop_count * sizeof a->uops[0]) == 0);
    FZ_CHECK(fz_bytes_eq("mgmt payload", a->payload.ptr, a->payload.len, b->payload.ptr,
                         b->payload.len));
    return true;
}

static void drain(fz_mk *z, unsigned max, bool loop)
{
    mk_msg *o = malloc(sizeof *o);
    FZ_CHECK(o != NULL);
    mp_frame d;
    for (unsigned i = 0; i < max && mk_out_pop(z->k, o); i++) {
        check_out(z, o, &d);
        if (loop)
            (void)feed(z, o->dst_node == MK_NODE_ALL ? 2u : o->dst_node, &d.u.mgmt);
    }
    free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = fz_in_make(data, size);
    uint8_t setup = fz_u8(&in);
    fz_mk z;
    memset(&z, 0, sizeof z);
    z.k = malloc(sizeof *z.k);
    size_t arena_len = 2u << 20;
    void *arena = malloc(arena_len);
    FZ_CHECK(z.k && arena);
    mk_config kc = {.node_id = SELF_NODE, .entity_id = (setup & 1) ? MK_ENTITY_FTM : MK_ENTITY_KERNEL,
                    .arena = arena, .arena_len = arena_len};
    FZ_CHECK(mk_init(z.k, &kc) == 0);

    mha_hb_config hc = {.period_ns = 100000000ull, .threshold = 3, .link_tol_ns = 50000000ull,
                        .report_node = 1, .report_entity = 1, .watch_registered = true,
                        .follow_ftm = true, .cand = {1, 2, 3}, .ncand = 3};
    int hb = mk_register(z.k, "hb", &mha_hb_ops, mha_hb_subs, mha_hb_nsubs, &hc, 0);
    FZ_CHECK(hb >= 0);
    if (setup & 4)
        FZ_CHECK(mha_hb_watch_add(mk_element_state(z.k, hb), 2, 0, 0) == 0);
    FZ_CHECK(mk_register(z.k, "hbr", &mha_hbresp_ops, mha_hbresp_subs, mha_hbresp_nsubs, NULL, 0) >= 0);
    mha_ftm_config fc = {.node_id = SELF_NODE, .rank = 1, .active = (setup & 2) != 0, .epoch = 1,
                         .pol = mha_ftm_default_policy(), .ckpt_node = 2, .ckpt_entity = 0,
                         .ckpt_id = 7};
    FZ_CHECK(mk_register(z.k, "ftm", &mha_ftm_ops, mha_ftm_subs, mha_ftm_nsubs, &fc, 0) >= 0);
    mha_iop_config ic = {.mgr_node = 1, .mgr_entity = 1};
    FZ_CHECK(mk_register(z.k, "iop", &mha_iop_ops, mha_iop_subs, mha_iop_nsubs, &ic, 0) >= 0);
    mha_ckpt_config pc = {.replica_node = 2, .replica_entity = 0};
    FZ_CHECK(mk_register(z.k, "ckpt", &mha_ckpt_ops, mha_ckpt_subs, mha_ckpt_nsubs, &pc, 0) >= 0);
    mha_exec_config xc = {.ftm_node = 1};
    int xid = mk_register(z.k, "exec", &mha_exec_ops, mha_exec_subs, mha_exec_nsubs, &xc, 0);
    FZ_CHECK(xid >= 0);
    (void)mha_exec_add(mk_element_state(z.k, xid), 9, "app", "/bin/true", SELF_NODE, 2, 0, 0, 0);
    uint8_t fzseed = setup >> 4;
    FZ_CHECK(mk_register(z.k, "fz", &fz_el_ops, fz_el_subs, sizeof fz_el_subs / sizeof fz_el_subs[0],
                         &fzseed, 0) >= 0);

    mp_frame f, d;
    for (unsigned steps = 0; fz_left(&in) && steps < 256; steps++) {
        uint8_t op = fz_u8(&in);
        switch (op & 3) {
        case 0: {
            memset(&f, 0, sizeof f);
            f.hdr.type = MP_T_MGMT;
            f.hdr.chan = MP_CHAN_NODE;
            mp_mgmt *m = &f.u.mgmt;
            uint8_t src = fz_u8(&in);
            uint32_t src_node = src < 0xF0 ? 1u + src % 4 : fz_u32(&in);
            m->corr_id = fz_u8(&in);
            m->epoch = fz_u8(&in);
            uint8_t se = fz_u8(&in), de = fz_u8(&in);
            m->src_entity = se % 6;
            m->dst_entity = de == 0xFF ? MK_ENTITY_ALL : de % 6;
            m->gflags = fz_u8(&in) & MP_GFLAGS_DEFINED;
            unsigned n = fz_u8(&in) % (MP_MAX_UOPS + 1);
            m->uop_count = (uint8_t)n;
            for (unsigned i = 0; i < n; i++) {
                uint8_t sel = fz_u8(&in);
                m->uops[i].opcode = (sel & 0x80) ? fz_u16(&in) : known_ops[sel % NKNOWN];
                m->uops[i].arg = fz_u16(&in);
            }
            m->payload = fz_view(&in, fz_u16(&in) % (MK_PAYLOAD_MAX + 1));
            int len = mp_encode(&f, z.frame, sizeof z.frame);
            if (len <= 0)
                break;
            FZ_CHECK(mp_decode(z.frame, (size_t)len, &d) == len);
            (void)feed(&z, src_node, &d.u.mgmt);
            break;
        }
        case 1:
            z.now += (uint64_t)fz_u16(&in) * 1000000ull;
            (void)mk_tick(z.k, z.now);
            check_kernel(&z);
            (void)mk_next_deadline(z.k);
            break;
        case 2:
            drain(&z, fz_u8(&in) % 8, true);
            break;
        case 3:
            drain(&z, MK_OUTBOX_MAX, false);
            break;
        }
    }
    drain(&z, MK_OUTBOX_MAX, false);
    FZ_CHECK(mk_out_pending(z.k) == 0);
    free(arena);
    free(z.k);
    return 0;
}
