/*
 * bench_restart_model — a model of systemd's restart policy for one service, NOT systemd.
 * PID 1 on these machines is not systemd, so the supervise benchmark compares msgrd with
 * this loop, written from the semantics systemd.service(5) documents:
 *
 *   Restart=always      the service is started again whenever its process ends (clean
 *                       exit, non-zero exit, signal, watchdog), after
 *   RestartSec=MS       (systemd's default: 100 ms) measured from the end of the process;
 *   WatchdogSec=MS      (0 = off, systemd's default) the service must send "WATCHDOG=1"
 *                       (here: a byte on the notify pipe) at least this often; otherwise
 *                       it is sent WatchdogSignal= (default SIGABRT), and if it has not
 *                       ended TimeoutAbortSec= later (default TimeoutStopSec, 90 s) SIGKILL;
 *   Type=notify         "READY=1" (here: the byte 'R') marks the start as complete.
 *
 * Start-rate limiting (StartLimitBurst=5 per StartLimitIntervalSec=10 s) is left out: the
 * benchmark starts a fresh supervisor per fault.  What systemd does besides (cgroups,
 * D-Bus, journal, sandboxing) costs it more time per restart, not less, so this model is
 * the best case for systemd's policy on this machine.
 *
 * The service is this binary again (--child): it writes 'R' once started, then 'W' every
 * WatchdogSec/4 (or 25 ms), and exits with status 3 on SIGUSR1.
 *
 * Output, one line per event on stdout (CLOCK_MONOTONIC ns, as msgrd's timestamps):
 *   start PID T | ready PID T | exit PID STATUS T | watchdog PID T | kill PID T
 *
 * usage: bench_restart_model [--restart-sec MS] [--watchdog-sec MS] [--timeout-abort-sec MS]
 *                            [--max-starts N]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static volatile sig_atomic_t usr1;
static void on_usr1(int s)
{
    (void)s;
    usr1 = 1;
}

static int child(int fd, long wd_ms)
{
    signal(SIGUSR1, on_usr1);
    long every = wd_ms > 0 ? wd_ms / 4 : 25;
    if (write(fd, "R", 1) != 1)
        return 1;
    for (;;) {
        if (usr1)
            return 3;
        struct timespec ts = {every / 1000, (every % 1000) * 1000000L};
        nanosleep(&ts, NULL); /* the service's own work; EINTR on SIGUSR1 is fine */
        if (write(fd, "W", 1) != 1)
            return 1;
    }
}

int main(int argc, char **argv)
{
    long restart_ms = 100, wd_ms = 0, abort_ms = 90000, max_starts = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--child") && i + 2 < argc)
            return child(atoi(argv[i + 1]), atol(argv[i + 2]));
        if (i + 1 >= argc) {
            fprintf(stderr, "usage: bench_restart_model [--restart-sec MS] [--watchdog-sec MS] "
                            "[--timeout-abort-sec MS] [--max-starts N]\n");
            return 2;
        }
        if (!strcmp(argv[i], "--restart-sec"))
            restart_ms = atol(argv[++i]);
        else if (!strcmp(argv[i], "--watchdog-sec"))
            wd_ms = atol(argv[++i]);
        else if (!strcmp(argv[i], "--timeout-abort-sec"))
            abort_ms = atol(argv[++i]);
        else if (!strcmp(argv[i], "--max-starts"))
            max_starts = atol(argv[++i]);
        else
            return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0)
        return 1;
    self[sl] = 0;
    for (long starts = 0; !max_starts || starts < max_starts; starts++) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
            return 1;
        pid_t pid = fork();
        if (pid == 0) {
            dup2(p[1], 3);
            char wd[24];
            snprintf(wd, sizeof wd, "%ld", wd_ms);
            execl(self, self, "--child", "3", wd, (char *)NULL);
            _exit(127);
        }
        close(p[1]);
        printf("start %d %llu\n", (int)pid, (unsigned long long)now_ns());
        int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        uint64_t last_ping = now_ns(), abort_at = 0;
        int status = -1;
        for (;;) {
            int timeout = -1;
            uint64_t now = now_ns();
            if (abort_at)
                timeout = now >= abort_at ? 0 : (int)((abort_at - now) / 1000000 + 1);
            else if (wd_ms > 0) {
                uint64_t due = last_ping + (uint64_t)wd_ms * 1000000ull;
                timeout = now >= due ? 0 : (int)((due - now) / 1000000 + 1);
            }
            struct pollfd f[2] = {{.fd = pfd, .events = POLLIN}, {.fd = p[0], .events = POLLIN}};
            int r = poll(f, 2, timeout);
            if (r < 0 && errno == EINTR)
                continue;
            now = now_ns();
            if (f[1].revents & POLLIN) {
                char b[64];
                ssize_t n = read(p[0], b, sizeof b);
                for (ssize_t i = 0; i < n; i++)
                    if (b[i] == 'R')
                        printf("ready %d %llu\n", (int)pid, (unsigned long long)now);
                if (n > 0)
                    last_ping = now;
            }
            if (f[0].revents & POLLIN) {
                int st;
                if (waitpid(pid, &st, 0) == pid) {
                    status = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
                    printf("exit %d %d %llu\n", (int)pid, status, (unsigned long long)now_ns());
                }
                break;
            }
            if (abort_at && now >= abort_at) {
                printf("kill %d %llu\n", (int)pid, (unsigned long long)now);
                kill(pid, SIGKILL); /* TimeoutAbortSec= elapsed */
                abort_at = UINT64_MAX;
            } else if (!abort_at && wd_ms > 0 && now >= last_ping + (uint64_t)wd_ms * 1000000ull) {
                printf("watchdog %d %llu\n", (int)pid, (unsigned long long)now);
                kill(pid, SIGABRT); /* WatchdogSignal= */
                abort_at = now + (uint64_t)abort_ms * 1000000ull;
            }
        }
        close(pfd);
        close(p[0]);
        /* RestartSec= after the process ended */
        struct timespec ts = {restart_ms / 1000, (restart_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    return 0;
}
