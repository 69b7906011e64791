/*
 * test_mk.c — the microkernel: dispatch order, appends, payload copy-on-write, element
 * isolation, limits, replies, epoch fencing, and a codec round trip.  Literal times.
 *
 * The elements here double as the example of a user-written element: an ops table, a
 * state struct the kernel allocates, a subscription list, and mk_register.
 */
#include <stdlib.h>

#include "t.h"

#define OP_A 0x8001
#define OP_B 0x8002
#define OP_C 0x8003

/* ---- a recording element (the "user element" example) ------------------------------ */
typedef struct rec_cfg {
    char tag;
    uint16_t append_on, append_op; /* on append_on, append append_op (arg 7) */
    int fail_on;                   /* opcode whose delivery fails with MK_ESTATE */
    bool rewrite;                  /* on OP_A, overwrite payload[0..3] with "XYZW" */
    bool grow;                     /* on OP_A, try to grow the payload past the bound */
    bool overrun;                  /* on OP_C, write past its own state (a buggy element) */
    bool append_forever;           /* on OP_A, append OP_A until refused */
} rec_cfg;

typedef struct rec_state {
    rec_cfg cfg;
    uint32_t calls;
    uint8_t seen_first; /* payload[0] as seen */
    uint8_t pad[40];
} rec_state;

static char g_trace[256];
static size_t g_tn;

static void trace(char tag, uint16_t op, uint16_t arg)
{
    g_tn += (size_t)snprintf(g_trace + g_tn, sizeof g_trace - g_tn, "%c%x.%u ", tag, op & 0xF, arg);
}

static int rec_init(mk_ctx *c, const void *cfg)
{
    rec_state *s = mk_ctx_state(c);
    s->cfg = *(const rec_cfg *)cfg;
    return 0;
}

static int rec_uop(mk_ctx *c, uint16_t op, uint16_t arg)
{
    rec_state *s = mk_ctx_state(c);
    s->calls++;
    trace(s->cfg.tag, op, arg);
    size_t len;
    const uint8_t *p = mk_payload(c, &len);
    s->seen_first = len ? p[0] : 0;
    if (s->cfg.fail_on == op)
        return MK_ESTATE;
    if (op == s->cfg.append_on)
        return mk_append(c, s->cfg.append_op, 7);
    if (op == OP_A && s->cfg.rewrite)
        return mk_payload_write(c, 0, "XYZW", 4);
    if (op == OP_A && s->cfg.grow) {
        static uint8_t big[MK_PAYLOAD_MAX];
        return mk_payload_write(c, len, big, MK_PAYLOAD_MAX - len + 1);
    }
    if (op == OP_A && s->cfg.append_forever) {
        for (;;) {
            int rc = mk_append(c, OP_B, 0);
            if (rc < 0)
                return 0; /* ignore the error on purpose: the kernel must still fail the message */
        }
    }
    if (op == OP_C && s->cfg.overrun) {
        uint8_t *raw = (uint8_t *)s;
        memset(raw + ((sizeof *s + 7) & ~(size_t)7), 0xEE, 8); /* the guard word after the blob */
    }
    return 0;
}

static const mk_element_ops rec_ops = {.state_size = sizeof(rec_state), .init = rec_init, .uop = rec_uop};

static uint64_t g_arena[8192];
static mk_kernel g_k;

static mk_kernel *fresh(void)
{
    mk_config cfg = {.node_id = 1, .entity_id = 5, .arena = g_arena, .arena_len = sizeof g_arena};
    T_EQ(mk_init(&g_k, &cfg), 0);
    g_tn = 0;
    g_trace[0] = 0;
    return &g_k;
}

static int reg(mk_kernel *k, const char *name, rec_cfg cfg, const uint16_t *subs, size_t n)
{
    return mk_register(k, name, &rec_ops, subs, n, &cfg, 0);
}

/* Dispatch order: list order, then registration order per microoperation (MSG-MGMT-7). */
static void test_order(void)
{
    mk_kernel *k = fresh();
    T_EQ(reg(k, "a", (rec_cfg){.tag = 'a'}, (uint16_t[]){OP_A, OP_B}, 2), 0);
    T_EQ(reg(k, "b", (rec_cfg){.tag = 'b'}, (uint16_t[]){OP_B}, 1), 1);
    T_EQ(reg(k, "c", (rec_cfg){.tag = 'c'}, (uint16_t[]){OP_A}, 1), 2);
    mk_msg m;
    mk_msg_init(&m, 0, 5, 9);
    m.src_entity = 0x100;
    mk_msg_uop(&m, OP_B, 1);
    mk_msg_uop(&m, OP_A, 2);
    mk_msg_uop(&m, MP_UOP_NOP, 0); /* nobody takes NOP: skipped, not an error */
    T_EQ(t_deliver(k, 3, &m, MS(1)), 0);
    T_CHECK(strcmp(g_trace, "a2.1 b2.1 a1.2 c1.2 ") == 0);
    /* one success reply, addressed back to the requester, carrying its corr_id */
    mk_msg r;
    T_EQ(t_drain(k, 0xFFFF, &r), 1);
    T_EQ(r.gflags, MP_GFLAG_REPLY);
    T_EQ(r.corr_id, 9);
    T_EQ(r.dst_node, 3);
    T_EQ(r.dst_entity, 0x100);
    T_EQ(r.src_entity, 5);
    T_EQ(r.uop_count, 0);
    /* a request nobody subscribes to fails with PROTOCOL (RFC 10.3) */
    mk_msg_init(&m, 0, 5, 10);
    mk_msg_uop(&m, OP_C, 0);
    T_EQ(t_deliver(k, 3, &m, MS(2)), MK_EPROTO);
    T_EQ(t_drain(k, OP_C, &r), 1);
    T_EQ(r.gflags, MP_GFLAG_REPLY | MP_GFLAG_ERROR);
    T_EQ(r.uops[0].arg, MP_R_PROTOCOL);
    /* corr_id 0: no reply, the error is only counted; a reply is never answered */
    mk_msg_init(&m, 0, 5, 0);
    mk_msg_uop(&m, OP_C, 0);
    T_EQ(t_deliver(k, 3, &m, MS(3)), MK_EPROTO);
    m.gflags = MP_GFLAG_REPLY;
    m.corr_id = 11;
    T_EQ(t_deliver(k, 3, &m, MS(4)), 0); /* untaken uop in a reply: skipped */
    T_EQ(mk_out_pending(k), 0);
    T_EQ(mk_get_stats(k)->errors_uncounted_reply, 1);
    /* not for this entity: ERROR NO_SUCH_DEVICE (MSG-MGMT-10) */
    mk_msg_init(&m, 0, 77, 12);
    mk_msg_uop(&m, OP_A, 0);
    T_EQ(t_deliver(k, 3, &m, MS(5)), MK_ENOENT);
    T_EQ(t_drain(k, OP_A, &r), 1);
    T_EQ(r.uops[0].arg, MP_R_NO_SUCH_DEVICE);
}

/* Appended microoperations run in the same pass, after the list; 64 is a hard bound. */
static void test_append(void)
{
    mk_kernel *k = fresh();
    reg(k, "a", (rec_cfg){.tag = 'a', .append_on = OP_A, .append_op = OP_C}, (uint16_t[]){OP_A}, 1);
    reg(k, "c", (rec_cfg){.tag = 'c'}, (uint16_t[]){OP_C, OP_B}, 2);
    mk_msg m;
    mk_msg_init(&m, 0, 5, 0);
    mk_msg_uop(&m, OP_A, 1);
    mk_msg_uop(&m, OP_B, 2);
    T_EQ(t_deliver(k, 3, &m, MS(1)), 0);
    T_CHECK(strcmp(g_trace, "a1.1 c2.2 c3.7 ") == 0);
    T_EQ(mk_get_stats(k)->appended_uops, 1);

    /* An element that appends until refused, and then ignores the refusal: the message
     * still fails with NO_RESOURCES, and nothing past 64 entries is dispatched. */
    k = fresh();
    reg(k, "a", (rec_cfg){.tag = 'a', .append_forever = true}, (uint16_t[]){OP_A}, 1);
    reg(k, "b", (rec_cfg){.tag = 'b'}, (uint16_t[]){OP_B}, 1);
    mk_msg_init(&m, 0, 5, 21);
    mk_msg_uop(&m, OP_A, 0);
    T_EQ(t_deliver(k, 3, &m, MS(1)), MK_ELIMIT);
    rec_state *b = mk_element_state(k, 1);
    T_EQ(b->calls, 0); /* the pass stopped at the failure */
    mk_msg r;
    T_EQ(t_drain(k, 0xFFFF, &r), 1);
    T_EQ(r.gflags, MP_GFLAG_REPLY | MP_GFLAG_ERROR);
    T_EQ(r.uop_count, 1);
    T_EQ(r.uops[0].opcode, OP_B);
    T_EQ(r.uops[0].arg, MP_R_NO_RESOURCES);
    T_EQ(mk_get_stats(k)->appended_uops, MP_MAX_UOPS - 1);

    /* An element error stops the pass: later microoperations are not dispatched. */
    k = fresh();
    reg(k, "a", (rec_cfg){.tag = 'a', .fail_on = OP_A}, (uint16_t[]){OP_A}, 1);
    reg(k, "b", (rec_cfg){.tag = 'b'}, (uint16_t[]){OP_A, OP_B}, 2);
    mk_msg_init(&m, 0, 5, 22);
    mk_msg_uop(&m, OP_A, 0);
    mk_msg_uop(&m, OP_B, 0);
    T_EQ(t_deliver(k, 3, &m, MS(1)), MK_ESTATE);
    T_CHECK(strcmp(g_trace, "a1.0 ") == 0);
    T_EQ(t_drain(k, OP_A, &r), 1);
    T_EQ(r.uops[0].arg, MP_R_REFUSED);
    T_CHECK(r.payload_len > 4); /* a diagnostic text block */
}

/* Payload rewrite: visible to later elements, never to the caller's buffer; bounded. */
static void test_payload(void)
{
    mk_kernel *k = fresh();
    reg(k, "w", (rec_cfg){.tag = 'w', .rewrite = true}, (uint16_t[]){OP_A}, 1);
    reg(k, "r", (rec_cfg){.tag = 'r'}, (uint16_t[]){OP_A, OP_B}, 2);
    uint8_t input[8] = "abcdefg";
    mp_mgmt v = {.corr_id = 0, .dst_entity = 5, .uop_count = 2};
    v.uops[0].opcode = OP_A;
    v.uops[1].opcode = OP_B;
    v.payload.ptr = input;
    v.payload.len = 8; /* private opcodes only: free-form payload allowed */
    T_EQ(mk_input(k, 3, &v, MS(1)), 0);
    rec_state *r = mk_element_state(k, 1);
    T_EQ(r->seen_first, 'X');          /* the reader came after the writer */
    T_CHECK(memcmp(input, "abcdefg", 8) == 0); /* copy-on-write */

    k = fresh();
    reg(k, "g", (rec_cfg){.tag = 'g', .grow = true}, (uint16_t[]){OP_A}, 1);
    mk_msg m;
    mk_msg_init(&m, 0, 5, 31);
    mk_msg_uop(&m, OP_A, 0);
    T_EQ(t_deliver(k, 3, &m, MS(1)), MK_ETOOBIG);
    mk_msg out;
    T_EQ(t_drain(k, OP_A, &out), 1);
    T_EQ(out.uops[0].arg, MP_R_TOO_BIG);

    /* Assigned opcodes need a well-formed block sequence (MSG-MGMT-9). */
    k = fresh();
    reg(k, "r", (rec_cfg){.tag = 'r'}, (uint16_t[]){MP_UOP_STATS_GET}, 1);
    v.uops[0].opcode = MP_UOP_STATS_GET;
    v.uop_count = 1;
    v.payload.len = 3; /* a truncated block header */
    T_EQ(mk_input(k, 3, &v, MS(2)), MK_EPROTO);
}

/* Parameter blocks: the i-th use of an opcode takes the i-th block of that opcode. */
typedef struct param_state {
    uint32_t got[4];
    unsigned n;
} param_state;
static int param_uop(mk_ctx *c, uint16_t op, uint16_t arg)
{
    (void)op, (void)arg;
    param_state *s = mk_ctx_state(c);
    const uint8_t *p;
    size_t len;
    int rc = mk_param(c, &p, &len);
    if (rc == 0 && len == 4 && s->n < 4)
        s->got[s->n++] = mp_get32(p);
    if (rc == 0 && s->n == 2 && mk_ctx_uop_count(c) == 2) {
        /* append a third STATS_GET together with its own block */
        rc = mk_payload_add_block(c, MP_UOP_STATS_GET, "\0\0\0\3", 4);
        return rc < 0 ? rc : mk_append(c, MP_UOP_STATS_GET, 0);
    }
    return rc == MK_ENOENT ? 0 : rc;
}
static const mk_element_ops param_ops = {.state_size = sizeof(param_state), .uop = param_uop};

static void test_params(void)
{
    mk_kernel *k = fresh();
    int id = mk_register(k, "p", &param_ops, (uint16_t[]){MP_UOP_STATS_GET}, 1, NULL, 0);
    T_EQ(id, 0);
    mk_msg m;
    mk_msg_init(&m, 0, 5, 0);
    mk_msg_uop(&m, MP_UOP_STATS_GET, 0);
    mk_msg_uop(&m, MP_UOP_STATS_GET, 0);
    mk_msg_block(&m, MP_UOP_NOP, "zz", 2);  /* blocks of other opcodes are skipped */
    mk_msg_block(&m, MP_UOP_STATS_GET, "\0\0\0\1", 4);
    mk_msg_block(&m, MP_UOP_STATS_GET, "\0\0\0\2", 4);
    T_EQ(t_deliver(k, 3, &m, MS(1)), 0);
    param_state *s = mk_element_state(k, id);
    T_EQ(s->n, 3);
    T_EQ(s->got[0], 1);
    T_EQ(s->got[1], 2);
    T_EQ(s->got[2], 3); /* the appended uop found the block appended with it */
}

/* Isolation: each element gets its own blob; an overrun is caught and contained. */
static void test_isolation(void)
{
    mk_kernel *k = fresh();
    int a = reg(k, "a", (rec_cfg){.tag = 'a'}, (uint16_t[]){OP_A}, 1);
    int b = reg(k, "b", (rec_cfg){.tag = 'b', .overrun = true}, (uint16_t[]){OP_B, OP_C}, 2);
    int c = reg(k, "c", (rec_cfg){.tag = 'c'}, (uint16_t[]){OP_A, OP_C}, 2);
    rec_state *sa = mk_element_state(k, a), *sb = mk_element_state(k, b), *sc = mk_element_state(k, c);
    T_CHECK(sa != sb && sb != sc);
    /* blobs do not overlap: each lies entirely before the next */
    T_CHECK((uint8_t *)sa + sizeof *sa <= (uint8_t *)sb);
    T_CHECK((uint8_t *)sb + sizeof *sb <= (uint8_t *)sc);
    mk_msg m;
    mk_msg_init(&m, 0, 5, 0);
    mk_msg_uop(&m, OP_A, 0);
    T_EQ(t_deliver(k, 3, &m, MS(1)), 0);
    T_EQ(sa->calls, 1);
    T_EQ(sb->calls, 0); /* b's state untouched by a message it did not subscribe to */
    T_EQ(sc->calls, 1);
    uint32_t c_calls = sc->calls;
    rec_cfg c_cfg = sc->cfg;
    /* b scribbles past its blob: the guard catches it, the pass fails, b is disabled,
     * and c — which subscribes to the same opcode after b — never runs on that message. */
    mk_msg_init(&m, 0, 5, 41);
    mk_msg_uop(&m, OP_C, 0);
    T_EQ(t_deliver(k, 3, &m, MS(2)), MK_ECORRUPT);
    T_EQ(mk_get_stats(k)->corrupt, 1);
    T_EQ(sc->calls, c_calls);
    T_CHECK(memcmp(&sc->cfg, &c_cfg, sizeof c_cfg) == 0);
    t_drain(k, 0xFFFF, NULL);
    /* b stays disabled; c alone takes OP_C now */
    T_EQ(t_deliver(k, 3, &m, MS(3)), 0);
    T_EQ(sc->calls, c_calls + 1);
}

/* Limits are errors, not crashes. */
static void test_limits(void)
{
    mk_kernel *k = fresh();
    char name[8];
    for (unsigned i = 0; i < MK_MAX_ELEMENTS; i++) {
        snprintf(name, sizeof name, "e%u", i);
        T_EQ(reg(k, name, (rec_cfg){.tag = 'e'}, (uint16_t[]){OP_A}, 1), (int)i);
    }
    T_EQ(reg(k, "one-more", (rec_cfg){0}, NULL, 0), MK_ELIMIT);
    k = fresh();
    T_EQ(reg(k, "dup", (rec_cfg){0}, NULL, 0), 0);
    T_EQ(reg(k, "dup", (rec_cfg){0}, NULL, 0), MK_EEXIST);
    T_EQ(reg(k, "", (rec_cfg){0}, NULL, 0), MK_EINVAL);
    T_EQ(reg(k, "twice", (rec_cfg){0}, (uint16_t[]){OP_A, OP_A}, 2), MK_EINVAL);
    uint16_t many[MK_MAX_SUBS + 1];
    for (unsigned i = 0; i <= MK_MAX_SUBS; i++)
        many[i] = (uint16_t)(0x9000 + i);
    T_EQ(reg(k, "many", (rec_cfg){0}, many, MK_MAX_SUBS + 1), MK_ELIMIT);
    /* a small arena: the second element does not fit */
    static uint64_t small[12];
    mk_config cfg = {.node_id = 1, .entity_id = 5, .arena = small, .arena_len = sizeof small};
    mk_init(&g_k, &cfg);
    T_EQ(reg(&g_k, "fits", (rec_cfg){0}, NULL, 0), 0);
    T_EQ(reg(&g_k, "nofit", (rec_cfg){0}, NULL, 0), MK_ETOOBIG);
    /* outbox: 32 replies queue, the 33rd is refused and counted */
    k = fresh();
    reg(k, "a", (rec_cfg){.tag = 'a'}, (uint16_t[]){OP_A}, 1);
    mk_msg m;
    for (unsigned i = 0; i < MK_OUTBOX_MAX + 1; i++) {
        mk_msg_init(&m, 0, 5, 100 + i);
        mk_msg_uop(&m, OP_A, 0);
        g_tn = 0;
        T_EQ(t_deliver(k, 3, &m, MS(1)), 0);
    }
    T_EQ(mk_out_pending(k), MK_OUTBOX_MAX);
    T_EQ(mk_get_stats(k)->outbox_full, 1);
    /* bad input */
    mp_mgmt bad = {.uop_count = MP_MAX_UOPS + 1};
    T_EQ(mk_input(k, 1, &bad, 0), MK_EINVAL);
    T_EQ(mk_msg_block(&m, 1, NULL, MK_OUT_PAYLOAD_MAX), MK_ETOOBIG);
}

/* Epoch fencing (RFC 10.6): fenced opcodes with an older epoch are dropped and counted;
 * everything else flows; the comparison is serial (wraps). */
static void test_fencing(void)
{
    mk_kernel *k = fresh();
    reg(k, "r", (rec_cfg){.tag = 'r'}, (uint16_t[]){MP_UOP_RECOVER, MP_UOP_HEARTBEAT}, 2);
    rec_state *s = mk_element_state(k, 0);
    mk_msg m, r;
    t_req(&m, 1, 5, 1, 5, MP_UOP_RECOVER, 1, NULL, 0);
    T_EQ(t_deliver(k, 9, &m, MS(1)), 0);
    T_EQ(mk_epoch(k), 5);
    t_drain(k, 0xFFFF, NULL);
    t_req(&m, 1, 5, 2, 4, MP_UOP_RECOVER, 1, NULL, 0); /* deposed FTM, epoch 4 */
    T_EQ(t_deliver(k, 8, &m, MS(2)), MK_EFENCED);
    T_EQ(s->calls, 1); /* not dispatched at all */
    T_EQ(mk_get_stats(k)->fenced, 1);
    T_EQ(t_drain(k, MP_UOP_RECOVER, &r), 1);
    T_EQ(r.uops[0].arg, MP_R_NOT_PERMITTED); /* the deposed FTM learns it is fenced */
    T_EQ(r.epoch, 5);                        /* ... and from which epoch */
    t_req(&m, 1, 5, 3, 4, MP_UOP_HEARTBEAT, 1, NULL, 0); /* not fenced: processed */
    T_EQ(t_deliver(k, 8, &m, MS(3)), 0);
    T_EQ(s->calls, 2);
    T_EQ(mk_epoch(k), 5);
    /* FENCE is handled by the kernel even with no subscriber, and epochs wrap */
    t_req(&m, 1, 5, 0, 0xFFFFFFF0u, MP_UOP_FENCE, 0, NULL, 0);
    T_EQ(t_deliver(k, 9, &m, MS(4)), MK_EFENCED); /* 0xFFFFFFF0 is older than 5 */
    t_req(&m, 1, 5, 0, 0x80000003u, MP_UOP_FENCE, 0, NULL, 0);
    T_EQ(t_deliver(k, 9, &m, MS(5)), 0);         /* newer by serial arithmetic */
    T_EQ(mk_epoch(k), 0x80000003u);
    T_EQ(mk_get_stats(k)->fenced, 2);
}

/* The whole path through the codec: mk_msg -> mp_encode -> mp_decode -> mk_input. */
static void test_codec(void)
{
    mk_kernel *k = fresh();
    reg(k, "r", (rec_cfg){.tag = 'r'}, (uint16_t[]){MP_UOP_STATS_GET}, 1);
    mk_msg m;
    t_req(&m, 0x100, 5, 7, 3, MP_UOP_STATS_GET, 7, "\0\0\0\1", 4);
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = MP_T_MGMT;
    f.hdr.chan = MP_CHAN_NODE;
    mk_msg_view(&m, &f.u.mgmt);
    uint8_t buf[2048];
    int n = mp_encode(&f, buf, sizeof buf);
    T_CHECK(n > 0);
    mp_frame d;
    T_EQ(mp_decode(buf, (size_t)n, &d), n);
    T_EQ(mk_input(k, 2, &d.u.mgmt, MS(1)), 0);
    mk_msg r;
    T_EQ(t_drain(k, 0xFFFF, &r), 1);
    f.hdr.seq = 1;
    mk_msg_view(&r, &f.u.mgmt);
    n = mp_encode(&f, buf, sizeof buf);
    T_CHECK(n > 0); /* replies built by the kernel are valid MGMT frames */
    T_EQ(mp_decode(buf, (size_t)n, &d), n);
    T_EQ(d.u.mgmt.gflags, MP_GFLAG_REPLY);
}

int main(void)
{
    test_order();
    test_append();
    test_payload();
    test_params();
    test_isolation();
    test_limits();
    test_fencing();
    test_codec();
    return t_done("test_mk");
}
