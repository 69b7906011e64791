/*
 * mk.h — the management microkernel (prefix mk_), sans-I/O.  RFC-messenger.md Section 10.
 *
 * One mk_kernel is the microkernel of one management entity (ARMOR model): the node
 * daemon (entity 0), the FTM (entity 1), the heartbeat monitor (2), ... .  It holds a
 * list of *elements*.  Each element registers a name, an ops table and a subscription
 * list of microoperation opcodes.  A received MGMT message (a decoded mp_mgmt) is
 * dispatched by walking its microoperation list in order, index 0 first; each
 * microoperation goes to every subscribed element in registration order (MSG-MGMT-7).
 *
 * What goes in:  decoded MGMT messages with the sender's node id (mk_input), the current
 *                time (u64 ns, never decreasing) and timer calls (mk_tick).
 * What comes out: MGMT messages in an outbox (mk_out_pop) — replies and messages the
 *                elements emitted — and the next time the kernel wants mk_tick
 *                (mk_next_deadline).
 *
 * No system call, no allocation, no clock, no globals: every byte the kernel and its
 * elements use lives in the mk_kernel struct and in the arena the caller hands to
 * mk_init.  Every limit (elements, subscriptions, microoperations, payload, outbox,
 * arena) is a negative MK_E* return and a counter, never a crash.
 *
 * Confinement.  An element's state is a private blob carved from the arena at
 * registration.  During a call the element receives an mk_ctx, and the only state
 * pointer the ctx yields is the element's own (mk_ctx_state).  Elements never see the
 * kernel struct, the element table or another blob: they talk to each other only through
 * microoperations and the payload, as ARMOR requires.  C cannot stop a buggy element
 * from scribbling through a wild pointer, so the kernel puts a guard word after each
 * blob and checks it after every element call: an overrun fails the message (MK_ECORRUPT)
 * and disables the element instead of silently corrupting a neighbour.  The *host* (the
 * program that owns the kernel: msgrd, a test, msgrctl's stats path) may read any
 * element's state with mk_element_state(); elements have no way to call it because they
 * never get the kernel pointer.
 *
 * Single-threaded; no call may re-enter the same kernel (element callbacks included).
 */
#ifndef MK_MK_H
#define MK_MK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp/mp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Errors ---------------------------------------------------------------------------
 * The wire reason an error becomes in an ERROR reply is given by mk_err_reason(). */
enum mk_err {
    MK_OK = 0,
    MK_EINVAL = -1,   /* bad argument (host or element API misuse) -> MP_R_PROTOCOL */
    MK_ELIMIT = -2,   /* a count limit: elements, subscriptions, 64 uops, outbox -> NO_RESOURCES */
    MK_ETOOBIG = -3,  /* payload, block or state larger than its bound -> MP_R_TOO_BIG */
    MK_ENOENT = -4,   /* no such entity, element, parameter block or record -> NO_SUCH_DEVICE */
    MK_ESTATE = -5,   /* not allowed in the current state (illegal transition) -> MP_R_REFUSED */
    MK_EPROTO = -6,   /* malformed payload/parameters, or nobody subscribes -> MP_R_PROTOCOL */
    MK_EFENCED = -7,  /* the message's epoch is older than the newest seen -> NOT_PERMITTED */
    MK_ESTALE = -8,   /* older than what is stored (checkpoint ordering) -> MP_R_REFUSED */
    MK_EEXIST = -9,   /* already registered -> MP_R_NAME_CONFLICT */
    MK_ECORRUPT = -10, /* an element wrote outside its state blob; it is disabled */
};
#define MK_ERR_COUNT 11
const char *mk_strerror(int err);
/* The RFC 17.4 reason carried in the arg of an ERROR reply for this error. */
uint16_t mk_err_reason(int err);

/* ---- Limits ---------------------------------------------------------------------------- */
#define MK_MAX_ELEMENTS    16u
#define MK_MAX_SUBS        16u   /* opcodes one element may subscribe to */
#define MK_NAME_MAX        31u   /* element name, bytes */
#define MK_PAYLOAD_MAX     4096u /* kernel-owned working copy of a payload being rewritten */
#define MK_OUT_PAYLOAD_MAX 1024u /* payload of one outbound message (reply or emitted) */
#define MK_OUTBOX_MAX      32u   /* outbound messages queued until the host drains them */
#define MK_GUARD           0x6D6B67756172645FULL /* "mkguard_" after every state blob */

/* Entity and node ids with a meaning (RFC 10.2). */
#define MK_ENTITY_KERNEL 0x00000000u /* the node microkernel (daemon) */
#define MK_ENTITY_FTM    0x00000001u
#define MK_ENTITY_HBMON  0x00000002u
#define MK_ENTITY_IOPMGR 0x00000003u
#define MK_ENTITY_EXEC   0x00000004u
#define MK_ENTITY_ALL    0xFFFFFFFFu
#define MK_NODE_ALL      0xFFFFFFFFu /* outbound only: every node that is up (host fans out) */

/* ---- Outbound messages ------------------------------------------------------------------
 * An owned MGMT message (the kernel copies; nothing points into caller memory).  Build one
 * with mk_msg_init/mk_msg_uop/mk_msg_block; encode it with mk_msg_view + mp_encode. */
#define MK_MSGF_EPOCH 0x01u /* epoch was set by the element: do not stamp the kernel's */
typedef struct mk_msg {
    uint32_t dst_node; /* MK_NODE_ALL = broadcast; the host routes */
    uint32_t corr_id, epoch, src_entity, dst_entity;
    uint8_t gflags, uop_count, flags;
    mp_uop_entry uops[MP_MAX_UOPS];
    uint32_t payload_len;
    uint8_t payload[MK_OUT_PAYLOAD_MAX];
} mk_msg;

void mk_msg_init(mk_msg *m, uint32_t dst_node, uint32_t dst_entity, uint32_t corr_id);
int mk_msg_uop(mk_msg *m, uint16_t opcode, uint16_t arg);  /* MK_ELIMIT past 64 */
/* Append a parameter block (RFC 10.3): opcode(16) len(16) data.  MK_ETOOBIG if full. */
int mk_msg_block(mk_msg *m, uint16_t opcode, const void *data, size_t len);
void mk_msg_set_epoch(mk_msg *m, uint32_t epoch);
/* A codec view of m (valid while m is): feed it to mp_encode inside an mp_frame. */
void mk_msg_view(const mk_msg *m, mp_mgmt *out);

/* Parameter blocks: find the block of the `nth` (0-based) use of `opcode` in a payload.
 * Returns 0 (data/len set), MK_ENOENT, or MK_EPROTO if the payload is not a well-formed
 * block sequence. */
int mk_find_block(const uint8_t *pl, size_t len, uint16_t opcode, unsigned nth,
                  const uint8_t **data, size_t *dlen);
/* 0 if pl is a well-formed sequence of parameter blocks (MSG-MGMT-9), else MK_EPROTO. */
int mk_blocks_check(const uint8_t *pl, size_t len);

/* ---- Elements ------------------------------------------------------------------------------ */
typedef struct mk_ctx mk_ctx; /* opaque: valid only during the call that received it */

/* An element's operations.  Every slot may be NULL except uop (if it subscribes to
 * anything).  Slots run synchronously inside mk_* calls and must not block.
 *  init     once, from mk_register, with the caller's config; the state blob is zeroed.
 *           A negative return fails the registration (the blob is given back).
 *  uop      one subscribed microoperation of the message being dispatched (index
 *           mk_ctx_uop_index).  0 = continue; negative MK_E* = fail the message: dispatch
 *           stops and, if a reply is due, it carries ERROR and mk_err_reason(err).
 *  tick     time passed (mk_tick).  No message is being dispatched: the payload is empty
 *           and mk_append fails with MK_ESTATE; mk_emit works.  Errors are counted.
 *  deadline the next absolute time (ns) the element wants tick, or UINT64_MAX.  Reads its
 *           own state only. */
typedef struct mk_element_ops {
    size_t state_size;
    int (*init)(mk_ctx *c, const void *cfg);
    int (*uop)(mk_ctx *c, uint16_t opcode, uint16_t arg);
    int (*tick)(mk_ctx *c);
    uint64_t (*deadline)(const void *state);
} mk_element_ops;

/* ---- The kernel ------------------------------------------------------------------------------ */
typedef struct mk_stats {
    uint64_t rx, rx_requests, rx_replies, dispatched_uops, appended_uops;
    uint64_t fenced;        /* requests with a fenced opcode and an old epoch: dropped */
    uint64_t no_entity;     /* dst_entity is not this kernel (MSG-MGMT-10) */
    uint64_t unsubscribed;  /* non-NOP uop nobody takes: request failed / reply skipped */
    uint64_t failed;        /* messages whose dispatch failed */
    uint64_t errors_uncounted_reply; /* failed requests with corr_id 0: no reply, counted */
    uint64_t replies_sent, emitted, outbox_full, tick_errors, corrupt;
    uint64_t epoch_raised;
} mk_stats;

typedef struct mk_elem {
    const mk_element_ops *ops;
    char name[MK_NAME_MAX + 1];
    uint16_t subs[MK_MAX_SUBS];
    uint8_t nsubs;
    bool disabled;
    size_t off, size; /* state blob in the arena; a guard word follows it */
} mk_elem;

typedef struct mk_config {
    uint32_t node_id;   /* this node */
    uint32_t entity_id; /* this entity (0 for the node daemon) */
    void *arena;        /* element state storage, caller-owned, 8-byte aligned */
    size_t arena_len;
} mk_config;

/* The struct is public only so that a host can place it (static, stack, its own
 * allocator); treat every field as private and use the functions. */
typedef struct mk_kernel {
    uint32_t node_id, entity_id;
    uint8_t *arena;
    size_t arena_len, arena_used;
    mk_elem el[MK_MAX_ELEMENTS];
    unsigned nel;
    uint32_t epoch; /* newest epoch seen in any MGMT message (RFC 10.6) */
    bool epoch_seen;
    /* the pass in progress */
    bool in_pass, pass_failed, want_reply;
    int pass_err;
    uint16_t fail_op;
    unsigned cur, nuops;
    mp_uop_entry uops[MP_MAX_UOPS];
    const uint8_t *pl;
    size_t pl_len;
    bool pl_owned;
    uint32_t src_node, corr_id, msg_epoch, src_entity, dst_entity;
    uint8_t gflags;
    uint64_t now;
    mk_msg reply;
    uint8_t work[MK_PAYLOAD_MAX]; /* copy-on-write payload */
    mk_msg outbox[MK_OUTBOX_MAX];
    unsigned out_head, out_n;
    mk_stats stats;
} mk_kernel;

int mk_init(mk_kernel *k, const mk_config *cfg);

/* Register an element: name (1..31 bytes), ops, subscriptions (opcodes; duplicates are
 * an error), cfg passed to ops->init.  Returns the element id (>= 0) or MK_EINVAL,
 * MK_ELIMIT (too many elements or subscriptions), MK_ETOOBIG (arena full), MK_EEXIST
 * (name taken) or the init error. */
int mk_register(mk_kernel *k, const char *name, const mk_element_ops *ops,
                const uint16_t *subs, size_t nsubs, const void *cfg, uint64_t now);
int mk_find_element(const mk_kernel *k, const char *name);
/* Host-only access to an element's state (see "Confinement" above). */
void *mk_element_state(mk_kernel *k, int id);

/* Dispatch one received MGMT message from node src_node.  Returns 0 when every
 * microoperation was dispatched, MK_EFENCED when dropped by fencing, MK_ENOENT when not
 * for this entity, or the error that failed the pass.  Replies (if corr_id != 0 and the
 * message is a request) are queued in the outbox in every case, per RFC 10.4. */
int mk_input(mk_kernel *k, uint32_t src_node, const mp_mgmt *m, uint64_t now);
/* Run every element's tick.  Returns the number of element errors (counted). */
int mk_tick(mk_kernel *k, uint64_t now);
uint64_t mk_next_deadline(const mk_kernel *k);
/* Take the oldest outbound message.  Returns true if one was copied to *out. */
bool mk_out_pop(mk_kernel *k, mk_msg *out);
unsigned mk_out_pending(const mk_kernel *k);
uint32_t mk_epoch(const mk_kernel *k);
const mk_stats *mk_get_stats(const mk_kernel *k);

/* True for the opcodes RFC 17.3 marks "fenced". */
bool mk_uop_fenced(uint16_t opcode);

/* ---- The context (only inside element ops) ---------------------------------------------------- */
void *mk_ctx_state(mk_ctx *c); /* this element's own blob, nobody else's */
uint64_t mk_ctx_now(const mk_ctx *c);
uint32_t mk_ctx_node(const mk_ctx *c);   /* this kernel's node id */
uint32_t mk_ctx_entity(const mk_ctx *c); /* this kernel's entity id */
uint32_t mk_ctx_epoch(const mk_ctx *c);  /* newest epoch the kernel has seen */
/* The message being dispatched (all 0 during tick). */
uint32_t mk_ctx_src_node(const mk_ctx *c);
uint32_t mk_ctx_src_entity(const mk_ctx *c);
uint32_t mk_ctx_msg_epoch(const mk_ctx *c);
uint32_t mk_ctx_corr(const mk_ctx *c);
bool mk_ctx_is_reply(const mk_ctx *c);
unsigned mk_ctx_uop_index(const mk_ctx *c);
unsigned mk_ctx_uop_count(const mk_ctx *c); /* current list length, appended ones included */

/* Payload.  The view returned by mk_payload is valid until the next payload write by any
 * element.  The first write copies the payload into the kernel's buffer (copy-on-write),
 * so the caller's input buffer is never modified; later elements and microoperations of
 * this message see the new bytes.  Writes may not leave holes and may not grow the
 * payload beyond MK_PAYLOAD_MAX (MK_ETOOBIG). */
const uint8_t *mk_payload(const mk_ctx *c, size_t *len);
int mk_payload_write(mk_ctx *c, size_t off, const void *data, size_t len);
int mk_payload_truncate(mk_ctx *c, size_t len);
/* Append a parameter block for a microoperation that this element appends. */
int mk_payload_add_block(mk_ctx *c, uint16_t opcode, const void *data, size_t len);
/* The parameter block of the microoperation being dispatched (RFC 10.3 matching rule):
 * 0, MK_ENOENT (it has none) or MK_EPROTO (payload malformed). */
int mk_param(const mk_ctx *c, const uint8_t **data, size_t *len);

/* Append a microoperation to the message being dispatched; it is dispatched later in the
 * same pass.  Past 64 entries this returns MK_ELIMIT *and* fails the message with
 * MP_R_NO_RESOURCES (MSG-MGMT-8), whatever the element then returns. */
int mk_append(mk_ctx *c, uint16_t opcode, uint16_t arg);

/* Response microoperations and blocks for the reply being built (RFC 10.4).  When no
 * reply is due (corr_id 0, or the message is itself a reply) they succeed and do nothing. */
int mk_reply_uop(mk_ctx *c, uint16_t opcode, uint16_t arg);
int mk_reply_block(mk_ctx *c, uint16_t opcode, const void *data, size_t len);

/* Queue an outbound message.  src_entity is stamped with this kernel's entity; epoch
 * with the kernel's newest epoch unless the element set its own (mk_msg_set_epoch: the
 * FTM stamps *its* epoch, so that a deposed FTM cannot borrow a newer one).  MK_ELIMIT
 * when the outbox is full (counted). */
int mk_emit(mk_ctx *c, const mk_msg *m);

#ifdef __cplusplus
}
#endif
#endif /* MK_MK_H */
