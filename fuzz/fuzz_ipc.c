/*
 * fuzz_ipc — mipc_decode_request() (stack/daemon/ipc.c): every request a local client
 * (libmsgr, msgrctl, or anything that can connect to msgrd's socket) sends is decoded by
 * it before the daemon looks at a single field.
 *
 * Oracles:
 *   - no crash, no read outside the input (ASan), only the documented MIPC_E* codes;
 *   - the decoder is deterministic (a second decode gives the same result);
 *   - everything accepted is canonical: encoding the decoded request again with the
 *     mipc_w writer gives back exactly the input bytes.  So every view (name, property,
 *     argument, payload) lies inside the message, the header length equals the message
 *     length, no flag bit is set and no trailing byte was accepted;
 *   - decoded values respect the limits the daemon relies on (counts, string lengths,
 *     payload size, open kinds, device flags).
 *
 * Seed corpus: one valid request per op and a few malformed ones, written by
 * `MIPC_FUZZ_WRITE_CORPUS=fuzz/corpus/ipc fuzz_ipc_replay` (the files in fuzz/corpus/ipc).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz.h"
#include "ipc.h"

static uint8_t again[MIPC_MAX_MSG + 16];

/* Encode q with the writer into out; returns the length (0 on overflow). */
static size_t reencode(const mipc_req *q, uint8_t *out, size_t cap)
{
    mipc_w w;
    mipc_w_init(&w, out, cap, q->op, q->id);
    switch (q->op) {
    case MIPC_HELLO:
        mipc_put32(&w, q->u.hello.version);
        mipc_put32(&w, q->u.hello.mask);
        break;
    case MIPC_DEV_ADD:
        mipc_put16(&w, q->u.dev.dtype);
        mipc_put8(&w, q->u.dev.rank);
        mipc_put8(&w, q->u.dev.flags);
        mipc_putstr(&w, q->u.dev.name.p, q->u.dev.name.len);
        mipc_put8(&w, q->u.dev.nprops);
        for (unsigned i = 0; i < q->u.dev.nprops; i++) {
            mipc_putstr(&w, q->u.dev.key[i].p, q->u.dev.key[i].len);
            mipc_putstr(&w, q->u.dev.val[i].p, q->u.dev.val[i].len);
        }
        break;
    case MIPC_DEV_DEL: case MIPC_PUBLISH: case MIPC_WITHDRAW: case MIPC_ACCEPT: case MIPC_CLOSE:
        mipc_put32(&w, q->u.handle);
        break;
    case MIPC_OPEN:
        mipc_put32(&w, q->u.open.dev);
        mipc_put8(&w, q->u.open.kind);
        mipc_putstr(&w, q->u.open.name.p, q->u.open.name.len);
        break;
    case MIPC_SEND:
        mipc_put32(&w, q->u.send.path);
        mipc_putraw(&w, q->u.send.data, q->u.send.len);
        break;
    case MIPC_CTL:
        mipc_put8(&w, q->u.ctl.json);
        mipc_put8(&w, q->u.ctl.argc);
        for (unsigned i = 0; i < q->u.ctl.argc; i++)
            mipc_putstr(&w, q->u.ctl.arg[i].p, q->u.ctl.arg[i].len);
        break;
    default:
        return 0;
    }
    return mipc_w_end(&w);
}

static void in_bounds(const uint8_t *buf, size_t len, const void *p, size_t n)
{
    if (!n)
        return;
    const uint8_t *b = p;
    FZ_CHECKF(b >= buf && b + n <= buf + len, "view outside the message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mipc_req q, q2;
    int r = mipc_decode_request(data, size, &q);
    FZ_CHECKF(r <= 0 && r >= MIPC_ECOUNT, "unexpected result %d", r);
    FZ_CHECK(mipc_strerror(r) != NULL);
    int r2 = mipc_decode_request(data, size, &q2);
    FZ_CHECK(r2 == r);
    if (r < 0)
        return 0;
    FZ_CHECK(q.op >= MIPC_HELLO && q.op <= MIPC_OP_MAX && q2.op == q.op && q2.id == q.id);
    FZ_CHECK(q.id == mipc_msg_id(data, size) && q.op == mipc_msg_op(data, size));
    switch (q.op) {
    case MIPC_DEV_ADD:
        FZ_CHECK(q.u.dev.nprops <= MIPC_MAX_PROPS && !(q.u.dev.flags & ~MIPC_DF_ALL));
        FZ_CHECK(q.u.dev.name.len > 0);
        in_bounds(data, size, q.u.dev.name.p, q.u.dev.name.len);
        for (unsigned i = 0; i < q.u.dev.nprops; i++) {
            FZ_CHECK(q.u.dev.key[i].len > 0);
            in_bounds(data, size, q.u.dev.key[i].p, q.u.dev.key[i].len);
            in_bounds(data, size, q.u.dev.val[i].p, q.u.dev.val[i].len);
        }
        break;
    case MIPC_OPEN:
        FZ_CHECK(q.u.open.kind <= MIPC_K_ANYCAST && q.u.open.name.len > 0);
        in_bounds(data, size, q.u.open.name.p, q.u.open.name.len);
        break;
    case MIPC_SEND:
        FZ_CHECK(q.u.send.len <= MIPC_MAX_PAYLOAD);
        in_bounds(data, size, q.u.send.data, q.u.send.len);
        break;
    case MIPC_CTL:
        FZ_CHECK(q.u.ctl.json <= 1 && q.u.ctl.argc <= MIPC_MAX_ARGS);
        for (unsigned i = 0; i < q.u.ctl.argc; i++) {
            FZ_CHECK(q.u.ctl.arg[i].len > 0);
            in_bounds(data, size, q.u.ctl.arg[i].p, q.u.ctl.arg[i].len);
        }
        break;
    default:
        break;
    }
    size_t n = reencode(&q, again, sizeof again);
    FZ_CHECKF(n == size, "re-encoded %zu bytes, accepted %zu", n, size);
    FZ_CHECKF(memcmp(again, data, size) == 0, "accepted a non-canonical request (op %u)", q.op);
    return 0;
}

/* The seed corpus, written on request by the replay driver's process: a constructor runs
 * before main(), so the replay binary needs no option of its own. */
static void seed(const char *dir, const char *name, const uint8_t *b, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n)
        fprintf(stderr, "fuzz_ipc: cannot write %s\n", path);
    if (f)
        fclose(f);
}

__attribute__((constructor)) static void write_corpus(void)
{
    const char *dir = getenv("MIPC_FUZZ_WRITE_CORPUS");
    if (!dir)
        return;
    static uint8_t b[1024];
    mipc_w w;
    mipc_w_init(&w, b, sizeof b, MIPC_HELLO, 1);
    mipc_put32(&w, MIPC_VERSION);
    mipc_put32(&w, MIPC_SUB_LINK | MIPC_SUB_NAME);
    seed(dir, "hello", b, mipc_w_end(&w));
    mipc_w_init(&w, b, sizeof b, MIPC_DEV_ADD, 2);
    mipc_put16(&w, 7);
    mipc_put8(&w, 3);
    mipc_put8(&w, MIPC_DF_PUBLISH | MIPC_DF_EXCLUSIVE);
    mipc_putstr(&w, "storage/disk0", 13);
    mipc_put8(&w, 2);
    mipc_putstr(&w, "vendor", 6);
    mipc_putstr(&w, "acme", 4);
    mipc_putstr(&w, "slot", 4);
    mipc_putstr(&w, "", 0);
    seed(dir, "dev_add", b, mipc_w_end(&w));
    for (uint16_t op = MIPC_DEV_DEL; op <= MIPC_CLOSE; op++) {
        if (op == MIPC_OPEN)
            continue;
        char name[32];
        mipc_w_init(&w, b, sizeof b, op, 3);
        mipc_put32(&w, 257);
        snprintf(name, sizeof name, "handle_op%u", op);
        seed(dir, name, b, mipc_w_end(&w));
    }
    mipc_w_init(&w, b, sizeof b, MIPC_OPEN, 4);
    mipc_put32(&w, 1);
    mipc_put8(&w, MIPC_K_PATTERN);
    mipc_putstr(&w, "grp/*", 5);
    seed(dir, "open_pattern", b, mipc_w_end(&w));
    mipc_w_init(&w, b, sizeof b, MIPC_SEND, 5);
    mipc_put32(&w, 256);
    mipc_putraw(&w, "0123456789abcdef", 16);
    seed(dir, "send", b, mipc_w_end(&w));
    mipc_w_init(&w, b, sizeof b, MIPC_CTL, 6);
    mipc_put8(&w, 1);
    mipc_put8(&w, 4);
    mipc_putstr(&w, "link", 4);
    mipc_putstr(&w, "set", 3);
    mipc_putstr(&w, "tolerance", 9);
    mipc_putstr(&w, "800", 3);
    seed(dir, "ctl_link_set", b, mipc_w_end(&w));
    /* Malformed: a length that lies, trailing bytes, an unknown op. */
    mipc_w_init(&w, b, sizeof b, MIPC_HELLO, 7);
    mipc_put32(&w, 1);
    mipc_put32(&w, 0);
    size_t n = mipc_w_end(&w);
    b[0] = (uint8_t)(n + 4);
    seed(dir, "bad_len", b, n);
    mipc_w_init(&w, b, sizeof b, MIPC_CLOSE, 8);
    mipc_put32(&w, 1);
    mipc_put8(&w, 0);
    seed(dir, "bad_trailing", b, mipc_w_end(&w));
    mipc_w_init(&w, b, sizeof b, 0x77, 9);
    seed(dir, "bad_op", b, mipc_w_end(&w));
}
