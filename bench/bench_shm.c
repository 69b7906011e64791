/*
 * bench_shm — the limit: a bare single-producer single-consumer ring in shared memory
 * between two processes (fork), with the same geometry as the PCIe shim's default
 * (256 slots of 2048 bytes, an 8-byte length header per slot, indices on their own cache
 * lines) but nothing else: no handshake, no validation beyond a length bound, no
 * protocol.  The consumer reads each message's sequence number (so the payload is
 * touched) and checks the order.
 *
 *   bench_shm [--runs R] [--count N] [--rtts K] [--size S] [--cpu-pin]
 *
 * Figures: tput_<S>_b1   one-way messages/s, the producer publishes after every message
 *          tput_<S>_b32  the same, publishing every 32 messages (batched)
 *          rtt_poll      ping-pong round trip, both sides spinning (p50, p99)
 *          rtt_eventfd   ping-pong round trip, a side with nothing to read sleeps in
 *                        read(eventfd) after the need_wakeup handshake (as the shim does)
 */
#define _GNU_SOURCE
#include "bench.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLOTS 256u
#define SLOT_SIZE 2048u

struct ring {
    _Alignas(64) atomic_uint prod;
    _Alignas(64) atomic_uint cons;
    _Alignas(64) atomic_uint need_wakeup;
    _Alignas(64) uint8_t slots[SLOTS][SLOT_SIZE];
};

struct side {
    struct ring *tx, *rx;
    uint32_t tx_prod, tx_cons_cache, rx_cons;
    int my_bell, peer_bell;
};

static uint8_t g_payload[SLOT_SIZE];

static void ring_publish(struct side *s, bool bell)
{
    atomic_store_explicit(&s->tx->prod, s->tx_prod, memory_order_release);
    if (bell) {
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&s->tx->need_wakeup, memory_order_relaxed) &&
            atomic_exchange_explicit(&s->tx->need_wakeup, 0, memory_order_acq_rel)) {
            uint64_t one = 1;
            (void)!write(s->peer_bell, &one, sizeof one);
        }
    }
}

/* Write one message; spins while the ring is full. */
static void ring_put(struct side *s, uint32_t seq, size_t size)
{
    while (s->tx_prod - s->tx_cons_cache >= SLOTS)
        s->tx_cons_cache = atomic_load_explicit(&s->tx->cons, memory_order_acquire);
    uint8_t *slot = s->tx->slots[s->tx_prod & (SLOTS - 1)];
    uint32_t len = (uint32_t)size;
    memcpy(slot, &len, 4);
    memcpy(g_payload, &seq, 4);
    memcpy(slot + 8, g_payload, size);
    s->tx_prod++;
}

/* Drain what is there; returns messages read; *last gets the last sequence number. */
static uint32_t ring_drain(struct side *s, uint32_t *last, uint32_t *bad)
{
    uint32_t prod = atomic_load_explicit(&s->rx->prod, memory_order_acquire), n = 0;
    while (s->rx_cons != prod) {
        const uint8_t *slot = s->rx->slots[s->rx_cons & (SLOTS - 1)];
        uint32_t len, seq;
        memcpy(&len, slot, 4);
        if (len > SLOT_SIZE - 8 || len < 4) {
            (*bad)++;
        } else {
            memcpy(&seq, slot + 8, 4);
            if (seq != *last + 1)
                (*bad)++;
            *last = seq;
        }
        s->rx_cons++;
        n++;
    }
    if (n)
        atomic_store_explicit(&s->rx->cons, s->rx_cons, memory_order_release);
    return n;
}

/* Sleep until the ring has something: need_wakeup handshake, then read(eventfd). */
static void ring_wait(struct side *s)
{
    for (;;) {
        if (atomic_load_explicit(&s->rx->prod, memory_order_acquire) != s->rx_cons)
            return;
        atomic_store_explicit(&s->rx->need_wakeup, 1, memory_order_seq_cst);
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&s->rx->prod, memory_order_acquire) != s->rx_cons)
            return;
        uint64_t v;
        (void)!read(s->my_bell, &v, sizeof v); /* blocking eventfd */
    }
}

enum { OP_TPUT = 1, OP_DONE, OP_RTT, OP_QUIT };

int main(int argc, char **argv)
{
    int runs = 5;
    uint64_t count = 2000000, rtts = 20000;
    size_t size = 64;
    bool pin = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--rtts") && i + 1 < argc)
            rtts = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--cpu-pin"))
            pin = true;
        else
            bn_die("usage: bench_shm [--runs R] [--count N] [--rtts K] [--size S] [--cpu-pin]");
    }
    if (runs < 1 || runs > BN_MAX_RUNS || size < 4 || size > SLOT_SIZE - 8 || count < 1 || rtts < 1)
        bn_die("bad arguments");
    bn_fill(g_payload, sizeof g_payload, 1);

    struct ring *r = mmap(NULL, 2 * sizeof(struct ring), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        bn_die("mmap");
    memset(r, 0, 2 * sizeof(struct ring)); /* fault the pages in before any timing */
    int bell[2] = {eventfd(0, 0), eventfd(0, 0)};
    int ctl[2];
    if (bell[0] < 0 || bell[1] < 0 || bn_ctl_pair(ctl) < 0)
        bn_die("eventfd/socketpair");
    uint64_t *samples = calloc(rtts, sizeof *samples);
    if (!samples)
        bn_die("oom");

    int pid = fork();
    if (pid < 0)
        bn_die("fork");
    bool parent = pid != 0;
    bn_pin(pin ? (parent ? 0 : 1) : -1);
    struct side s = {.tx = parent ? &r[0] : &r[1], .rx = parent ? &r[1] : &r[0],
                     .my_bell = parent ? bell[0] : bell[1], .peer_bell = parent ? bell[1] : bell[0]};
    int cfd = parent ? ctl[0] : ctl[1];
    uint32_t last = 0, bad = 0;

    if (!parent) { /* the consumer / echoer */
        bn_msg m;
        while (bn_ctl_recv(cfd, &m, -1) == 1) {
            if (m.op == OP_TPUT) {
                uint64_t got = 0;
                bn_ctl_send(cfd, &(bn_msg){.op = OP_TPUT});
                while (got < m.a)
                    got += ring_drain(&s, &last, &bad);
                bn_ctl_send(cfd, &(bn_msg){.op = OP_DONE, .a = bn_now(), .b = bad});
            } else if (m.op == OP_RTT) {
                bool sleep = m.b;
                bn_ctl_send(cfd, &(bn_msg){.op = OP_RTT});
                for (uint64_t k = 0; k < m.a; k++) {
                    uint32_t n;
                    while ((n = ring_drain(&s, &last, &bad)) == 0)
                        if (sleep)
                            ring_wait(&s);
                    ring_put(&s, s.tx_prod + 1, size);
                    ring_publish(&s, sleep);
                }
                bn_ctl_send(cfd, &(bn_msg){.op = OP_DONE, .b = bad});
            } else {
                break;
            }
        }
        _exit(0);
    }

    bn_msg m;
    char cas[64];
    for (int batch = 1; batch <= 32; batch += 31) {
        bn_fig f;
        snprintf(cas, sizeof cas, "tput_%zu_b%d", size, batch);
        bn_fig_init(&f, "shm", cas, "msg/s");
        for (int run = 0; run < runs; run++) {
            bn_ctl_send(cfd, &(bn_msg){.op = OP_TPUT, .a = count});
            if (bn_ctl_recv(cfd, &m, 10000) != 1)
                bn_die("consumer silent");
            uint64_t t0 = bn_now();
            for (uint64_t k = 0; k < count; k++) {
                ring_put(&s, (uint32_t)(s.tx_prod + 1), size);
                if (s.tx_prod % (uint32_t)batch == 0 || k + 1 == count)
                    ring_publish(&s, false);
            }
            if (bn_ctl_recv(cfd, &m, 60000) != 1 || m.op != OP_DONE)
                bn_die("consumer did not finish");
            if (m.b)
                bn_die("consumer saw %llu bad messages", (unsigned long long)m.b);
            bn_fig_add(&f, (double)count * 1e9 / (double)(m.a - t0));
        }
        snprintf(f.note, sizeof f.note, "%llu msgs/run, publish every %d",
                 (unsigned long long)count, batch);
        bn_fig_print(&f);
    }
    /* Ping-pong: the echo side replies with its own sequence (ordered per direction). */
    uint32_t seq_rx = 0;
    for (int sleep = 0; sleep <= 1; sleep++) {
        bn_fig p50, p99;
        const char *c = sleep ? "rtt_eventfd" : "rtt_poll";
        char c50[64], c99[64];
        char sz[16] = "";
        if (size != 64)
            snprintf(sz, sizeof sz, "_%zu", size);
        snprintf(c50, sizeof c50, "%s%s_p50", c, sz);
        snprintf(c99, sizeof c99, "%s%s_p99", c, sz);
        bn_fig_init(&p50, "shm", c50, "us");
        bn_fig_init(&p99, "shm", c99, "us");
        for (int run = 0; run < runs; run++) {
            bn_ctl_send(cfd, &(bn_msg){.op = OP_RTT, .a = rtts, .b = (uint64_t)sleep});
            if (bn_ctl_recv(cfd, &m, 10000) != 1)
                bn_die("echo silent");
            uint32_t b2 = 0;
            for (uint64_t k = 0; k < rtts; k++) {
                uint64_t t0 = bn_now();
                ring_put(&s, (uint32_t)(s.tx_prod + 1), size);
                ring_publish(&s, sleep);
                while (ring_drain(&s, &seq_rx, &b2) == 0)
                    if (sleep)
                        ring_wait(&s);
                samples[k] = bn_now() - t0;
            }
            if (bn_ctl_recv(cfd, &m, 10000) != 1 || m.b || b2)
                bn_die("ping-pong check failed");
            bn_fig_add(&p50, (double)bn_quantile_u64(samples, rtts, 0.5) / 1e3);
            bn_fig_add(&p99, (double)bn_quantile_u64(samples, rtts, 0.99) / 1e3);
        }
        snprintf(p50.note, sizeof p50.note, "%llu round trips/run, %zu B", (unsigned long long)rtts, size);
        snprintf(p99.note, sizeof p99.note, "%s", p50.note);
        bn_fig_print(&p50);
        bn_fig_print(&p99);
    }
    bn_ctl_send(cfd, &(bn_msg){.op = OP_QUIT});
    bn_wait_child(pid);
    free(samples);
    munmap(r, 2 * sizeof(struct ring));
    (void)bad;
    (void)last;
    return 0;
}
