/*
 * bench_sec — seal/open throughput of stack/sec against a plaintext memcpy, per suite and
 * frame size.  Single core, no I/O: this is the crypto cost a link adds per frame.
 *
 *   bench_sec [--smoke] [seconds per case, default 1]
 *
 * Frames are sealed in batches of 1024 into distinct buffers, then the batch is opened on
 * the peer link (so open includes the replay-window update and the inner-frame check).
 * The frame size is the inner frame; the wire frame is 32 bytes longer.
 */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "ts.h"

enum { BATCH = 1024 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint8_t in[BATCH][1500], fr[BATCH][1536], out[BATCH][1500];
static volatile uint8_t sink;

static void run(const char *name, uint16_t suite, size_t len, double secs)
{
    ts_node a, b;
    ts_cfg(&a, 1, 1);
    ts_cfg(&b, 2, 2);
    a.cfg.suite = suite ? suite : MP_SUITE_AES256GCM;
    ts_open(&a, 2, MP_SEC_REQUIRED);
    ts_open(&b, 1, MP_SEC_REQUIRED);
    ts_handshake(&a, &b, 0);
    for (int i = 0; i < BATCH; i++)
        ts_inner(in[i], len, (uint32_t)i);
    double t_seal = 0, t_open = 0;
    uint64_t frames = 0;
    double start = now_s();
    while (now_s() - start < secs) {
        double t0 = now_s();
        if (suite) {
            for (int i = 0; i < BATCH; i++)
                if (ms_seal(a.link, in[i], len, 0, fr[i], sizeof fr[i]) != (int)(len + 32))
                    abort();
        } else {
            for (int i = 0; i < BATCH; i++)
                memcpy(fr[i], in[i], len);
        }
        double t1 = now_s();
        if (suite) {
            for (int i = 0; i < BATCH; i++)
                if (ms_open(b.link, fr[i], len + 32, 0, out[i], sizeof out[i]) != (int)len)
                    abort();
        } else {
            for (int i = 0; i < BATCH; i++)
                memcpy(out[i], fr[i], len);
        }
        double t2 = now_s();
        sink ^= out[BATCH - 1][len - 1];
        t_seal += t1 - t0;
        t_open += t2 - t1;
        frames += BATCH;
    }
    double mb = (double)frames * (double)len / 1e6;
    printf("%-18s %5zu B  seal %9.0f MB/s %10.0f frames/s   open %9.0f MB/s %10.0f frames/s\n",
           name, len, mb / t_seal, (double)frames / t_seal, mb / t_open,
           (double)frames / t_open);
    ts_close(&a);
    ts_close(&b);
}

int main(int argc, char **argv)
{
    double secs = 1.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke"))
            secs = 0.01;
        else
            secs = atof(argv[i]);
    }
    static const size_t sizes[] = {64, 1400};
    for (size_t s = 0; s < 2; s++) {
        run("plaintext memcpy", 0, sizes[s], secs);
        run("AES-256-GCM", MP_SUITE_AES256GCM, sizes[s], secs);
        run("ChaCha20-Poly1305", MP_SUITE_CHACHA20POLY1305, sizes[s], secs);
    }
    return 0;
}
