/*
 * test_pcie.c — the PCIe shim between two real processes (fork).
 *
 * usage: test_pcie doorbell|poll [frames]
 *
 * Proves, for the given consumer mode:
 *  1. 100,000 frames each way (lengths 8..MTU, seq-derived content) arrive complete, in
 *     order, uncorrupted, with the ring far smaller than the traffic (so the need-space
 *     and need-wakeup doorbells are exercised in doorbell mode).
 *  2. IOP restart: a new IOP process attaches to the same host bearer; the host resets
 *     the window (DOWN->RESET->READY->RUNNING again) and traffic starts over from seq 0.
 *  3. Host restart: the host closes its bearer and opens a new one under the same name;
 *     the surviving IOP sees the connection end, re-connects by itself, handshakes and
 *     traffic flows again.
 *  4. The zero-copy path (reserve/fill/commit) carries frames like send does.
 *
 * Also: test_pcie rtt doorbell|poll [n] prints the 64-byte round-trip time (no checks).
 *
 * Exchange protocol, so nobody closes while its frames are still in a ring (a reset
 * discards them): both sides send N frames and receive N; the side that stays sends
 * "END" after receiving N; the side that leaves leaves after it has received N and
 * END; the staying side then sees the carrier drop.
 */
#include "tb.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static long g_next;    /* next expected seq */
static bool g_end;
static int g_bad;

static void rx(void *user, const uint8_t *f, size_t len, const struct mb_addr *src)
{
    (void)user;
    (void)src;
    if (len == 3 && memcmp(f, "END", 3) == 0) {
        g_end = true;
        return;
    }
    long seq = tb_check_frame(f, len);
    if (seq != g_next) {
        if (g_bad++ < 5)
            fprintf(stderr, "pid %d: got seq %ld (len %zu), want %ld\n", getpid(), seq, len, g_next);
        return;
    }
    g_next++;
}

static bool g_poll;

/* Pump until pred() holds; bounded: 10 s of silence (doorbell) or 30 s total (poll). */
static void pump(struct mb_bearer *b, bool (*pred)(struct mb_bearer *), const char *what)
{
    double deadline = tb_now() + 30;
    int fd = mb_fd(b);
    while (!pred(b)) {
        int r = mb_on_readable(b, 256);
        TB_CHECK(r >= 0);
        if (pred(b))
            break;
        if (g_poll) {
            if (tb_now() > deadline) {
                fprintf(stderr, "TIMEOUT waiting for %s\n", what);
                exit(1);
            }
        } else if (r == 0) {
            tb_wait(&fd, 1, 10000, what);
        }
    }
}

static bool is_up(struct mb_bearer *b) { return mb_carrier(b); }
static bool is_down(struct mb_bearer *b) { return !mb_carrier(b); }

/* One exchange of n frames each way.  leaver: leaves after END (see above). */
static void exchange(struct mb_bearer *b, uint32_t n, bool leaver, bool zero_copy)
{
    static uint8_t buf[32][70000];
    g_next = 0;
    g_end = false;
    g_bad = 0;
    pump(b, is_up, "carrier up");
    size_t mtu = mb_mtu(b);
    uint32_t sent = 0;
    bool end_sent = false;
    int fd = mb_fd(b);
    double deadline = tb_now() + 60;
    for (;;) {
        bool progress = false;
        if (sent < n) {
            if (zero_copy) {
                uint8_t *slot;
                size_t cap;
                int rc = mb_pcie_reserve(b, &slot, &cap);
                if (rc == 0) {
                    size_t len = tb_len(sent, mtu);
                    TB_CHECK(cap >= len);
                    tb_frame(slot, len, sent);
                    TB_RC(mb_pcie_commit(b, len));
                    sent++;
                    progress = true;
                } else {
                    TB_CHECK(rc == MB_EAGAIN);
                }
            } else {
                struct mb_txmsg v[32];
                unsigned k = 0;
                for (; k < 32 && sent + k < n; k++) {
                    size_t len = tb_len(sent + k, mtu);
                    tb_frame(buf[k], len, sent + k);
                    v[k] = (struct mb_txmsg){buf[k], len, NULL};
                }
                int rc = mb_send_batch(b, v, k);
                TB_CHECK(rc > 0 || rc == MB_EAGAIN);
                if (rc > 0) {
                    sent += (uint32_t)rc;
                    progress = true;
                }
            }
        }
        if (!leaver && g_next == n && !end_sent) {
            int rc = mb_send(b, (const uint8_t *)"END", 3, NULL);
            TB_CHECK(rc == 0 || rc == MB_EAGAIN);
            end_sent = rc == 0;
        }
        int r = mb_on_readable(b, 256);
        TB_CHECK(r >= 0);
        progress |= r > 0;
        TB_CHECK(g_bad == 0);
        if (leaver && sent == n && g_next == n && g_end)
            break;
        if (!leaver && end_sent && !mb_carrier(b))
            break;
        TB_CHECK(leaver || mb_carrier(b)); /* the leaver leaves only after END */
        if (g_poll) {
            if (tb_now() > deadline) {
                fprintf(stderr, "TIMEOUT in exchange: sent %u rx %ld end %d\n", sent, g_next, g_end);
                exit(1);
            }
        } else if (!progress) {
            tb_wait(&fd, 1, 10000, "exchange progress");
        }
    }
    TB_CHECK(g_next == (long)n);
}

static char g_cfg_host[256], g_cfg_iop[256];

static pid_t spawn_iop(uint32_t rounds, uint32_t n, bool zero_copy)
{
    fflush(stdout);
    pid_t pid = fork();
    TB_CHECK(pid >= 0);
    if (pid)
        return pid;
    /* A fresh "IOP": drop every fd inherited from the host side (listening socket,
     * window, doorbells), as an exec'd process would. */
    TB_CHECK(close_range(3, ~0u, 0) == 0);
    struct mb_bearer *b;
    TB_RC(mb_open(&mb_pcie_ops, g_cfg_iop, rx, NULL, &b));
    /* rounds > 1: stay through the host's restarts, leave after the last round. */
    for (uint32_t r = 0; r < rounds; r++) {
        bool last = r + 1 == rounds;
        exchange(b, n, last, zero_copy);
        if (!last)
            pump(b, is_down, "host gone");
    }
    tb_print_stats("iop", b);
    mb_close(b);
    fflush(stdout);
    _exit(0);
}

static void reap(pid_t pid)
{
    int st;
    TB_CHECK(waitpid(pid, &st, 0) == pid);
    TB_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Round-trip latency (not a test; prints a figure): test_pcie rtt doorbell|poll [n]. */
static struct mb_bearer *g_echo;
static unsigned g_got;
static void rx_echo(void *user, const uint8_t *f, size_t len, const struct mb_addr *src)
{
    (void)user;
    (void)src;
    if (g_echo) /* one frame in flight: the ring cannot be full */
        TB_RC(mb_send(g_echo, f, len, NULL));
    g_got++;
}

static int rtt(const char *mode, unsigned n)
{
    g_poll = strcmp(mode, "poll") == 0;
    snprintf(g_cfg_host, sizeof g_cfg_host, "name=mbr-%d,role=host,mode=%s", getpid(), mode);
    snprintf(g_cfg_iop, sizeof g_cfg_iop, "name=mbr-%d,role=iop,mode=%s", getpid(), mode);
    struct mb_bearer *h;
    TB_RC(mb_open(&mb_pcie_ops, g_cfg_host, rx_echo, NULL, &h));
    fflush(stdout);
    pid_t pid = fork();
    TB_CHECK(pid >= 0);
    if (pid == 0) {
        TB_CHECK(close_range(3, ~0u, 0) == 0);
        TB_RC(mb_open(&mb_pcie_ops, g_cfg_iop, rx_echo, NULL, &g_echo));
        pump(g_echo, is_up, "carrier");
        pump(g_echo, is_down, "host gone"); /* echoes everything meanwhile */
        _exit(0);
    }
    pump(h, is_up, "carrier");
    uint8_t f[64] = {0};
    int fd = mb_fd(h);
    double t0 = tb_now();
    for (unsigned i = 0; i < n; i++) {
        unsigned want = g_got + 1;
        TB_RC(mb_send(h, f, sizeof f, NULL));
        while (g_got < want)
            if (mb_on_readable(h, 16) == 0 && !g_poll)
                tb_wait(&fd, 1, 5000, "echo");
    }
    double dt = tb_now() - t0;
    printf("pcie %s: %u round trips of 64 B: %.2f us each\n", mode, n, dt / n * 1e6);
    mb_close(h);
    reap(pid);
    return 0;
}

/* A drain whose budget runs out exactly as the ring empties must still leave the consumer
 * armed for a doorbell.  It once returned with neither need_wakeup set nor its fd kept
 * readable, so the next frames sat in the ring until an unrelated wake-up: an embedded
 * node under sustained sends then declared its peer silent.  Host and IOP live in this
 * one process so that the test controls each drain's budget exactly. */
static unsigned g_cnt;
static void rx_count(void *user, const uint8_t *f, size_t len, const struct mb_addr *src)
{
    (void)user, (void)src;
    TB_CHECK(tb_check_frame(f, len) == (long)g_cnt);
    g_cnt++;
}

static int budget_edge(void)
{
    char ch[256], ci[256];
    snprintf(ch, sizeof ch, "name=mbb-%d,role=host,slots=64,slot_size=256", getpid());
    snprintf(ci, sizeof ci, "name=mbb-%d,role=iop,reconnect_ms=5", getpid());
    struct mb_bearer *h, *i;
    TB_RC(mb_open(&mb_pcie_ops, ch, rx_count, NULL, &h));
    TB_RC(mb_open(&mb_pcie_ops, ci, rx_count, NULL, &i));
    int fds[2] = {mb_fd(h), mb_fd(i)};
    double deadline = tb_now() + 10;
    while (!mb_carrier(h) || !mb_carrier(i)) {
        TB_CHECK(tb_now() < deadline);
        tb_wait(fds, 2, 5000, "pcie handshake");
        TB_CHECK(mb_on_readable(h, 64) >= 0 && mb_on_readable(i, 64) >= 0);
    }
    /* Drain whatever the handshake left so that the IOP has gone to sleep armed. */
    struct pollfd pi = {.fd = fds[1], .events = POLLIN};
    while (poll(&pi, 1, 0) == 1)
        TB_CHECK(mb_on_readable(i, 64) >= 0);
    const unsigned budget = 16;
    uint32_t seq = 0;
    uint8_t f[64];
    for (int round = 0; round < 4; round++) {
        for (unsigned k = 0; k < budget; k++) {
            tb_frame(f, sizeof f, seq++);
            TB_RC(mb_send(h, f, sizeof f, NULL));
        }
        tb_wait(&fds[1], 1, 5000, "doorbell for a burst");
        unsigned before = g_cnt;
        TB_CHECK(mb_on_readable(i, budget) == (int)budget && g_cnt == before + budget);
        /* The ring is empty and the budget spent: one more frame must wake the IOP. */
        tb_frame(f, sizeof f, seq++);
        TB_RC(mb_send(h, f, sizeof f, NULL));
        tb_wait(&fds[1], 1, 5000, "doorbell after a drain that spent its budget exactly");
        TB_CHECK(mb_on_readable(i, budget) == 1 && g_cnt == before + budget + 1);
    }
    mb_close(i);
    mb_close(h);
    printf("PASS pcie budget edge: %u frames, 4 budget-exact drains\n", g_cnt);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "budget") == 0)
        return budget_edge();
    if (argc > 2 && strcmp(argv[1], "rtt") == 0)
        return rtt(argv[2], argc > 3 ? (unsigned)strtoul(argv[3], NULL, 0) : 20000);
    const char *mode = argc > 1 ? argv[1] : "doorbell";
    uint32_t n = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 100000;
    g_poll = strcmp(mode, "poll") == 0;
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_cfg_host, sizeof g_cfg_host, "name=mbt-%d-%s,role=host,slots=64,slot_size=2048,mode=%s",
             getpid(), mode, mode);
    snprintf(g_cfg_iop, sizeof g_cfg_iop, "name=mbt-%d-%s,role=iop,mode=%s,reconnect_ms=5",
             getpid(), mode, mode);

    struct mb_bearer *h;
    TB_RC(mb_open(&mb_pcie_ops, g_cfg_host, rx, NULL, &h));
    int self, peer;
    TB_RC(mb_pcie_state(h, &self, &peer));
    TB_CHECK(self == 2 /* READY */ && peer == 0 /* DOWN */ && !mb_carrier(h));
    TB_CHECK(mb_send(h, (const uint8_t *)"x", 1, NULL) == MB_EDOWN);

    /* 1. 100,000 frames each way. */
    pid_t iop = spawn_iop(1, n, false);
    double t0 = tb_now();
    exchange(h, n, false, false);
    double dt = tb_now() - t0;
    reap(iop);
    struct mb_stats s;
    mb_get_stats(h, &s);
    printf("pcie %s: %u frames each way (avg %zu B) in %.3f s: %.0f frames/s per direction, "
           "%.1f MB/s; doorbells rung %llu, received %llu\n",
           mode, n, (size_t)(s.rx_bytes / (s.rx_frames ? s.rx_frames : 1)), dt, n / dt,
           (double)s.rx_bytes / dt / 1e6, (unsigned long long)s.doorbells_tx,
           (unsigned long long)s.doorbells_rx);
    TB_CHECK(s.resets == 1);
    if (!g_poll)
        TB_CHECK(s.doorbells_tx < 2ull * n); /* rung only when asked, not per frame */
    else
        TB_CHECK(s.doorbells_tx <= 4); /* busy-poll: only handshake rings */

    /* 2. IOP restart: a new IOP process; window reset; frames from seq 0 again. */
    iop = spawn_iop(1, 5000, true);
    exchange(h, 5000, false, true);
    reap(iop);
    mb_get_stats(h, &s);
    TB_CHECK(s.resets == 2);

    /* 3. Host restart, with an IOP that survives it. */
    iop = spawn_iop(2, 3000, false);
    exchange(h, 3000, true, false); /* host leaves this round */
    mb_close(h);
    TB_RC(mb_open(&mb_pcie_ops, g_cfg_host, rx, NULL, &h));
    exchange(h, 3000, false, false); /* the IOP found the new host by itself */
    reap(iop);
    mb_get_stats(h, &s);
    TB_CHECK(s.resets == 1);
    tb_print_stats("host", h);
    mb_close(h);
    printf("PASS pcie %s\n", mode);
    return 0;
}
