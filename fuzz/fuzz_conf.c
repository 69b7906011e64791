/*
 * fuzz_conf.c — msgrd's configuration file parser (conf_file in stack/daemon/msgrd.c).
 *
 * conf_file() is static and reads a path, so until the parser is callable on a buffer
 * this target compiles msgrd.c into itself (its main() renamed) and hands the input to
 * conf_file() through a memfd (/proc/self/fd/N).  Input: the file's bytes.
 *
 * Oracles: no sanitizer report; parsing is deterministic (the same bytes twice give the
 * same result and the same conf); an accepted file leaves every value in its documented
 * range (node_id <= 0xFFFFFFFE, tolerance <= 30000, socket_mode <= 0777), every string
 * NUL-terminated inside its field, at most MAX_BEARERS bearer specs, each shorter than the
 * 512-byte line/spec buffer and, for one built from a [bearer] section with "type", of
 * the form "type:k=v,...".  (A rejected file may leave a partial conf: msgrd exits then.)
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "fz.h"

int msgrd_main(int argc, char **argv);
#define main msgrd_main
#include "../stack/daemon/msgrd.c"
#undef main

static void conf_free(conf *c)
{
    for (int i = 0; i < c->nbearers; i++)
        free(c->bearers[i]);
    c->nbearers = 0;
}

static int parse(const uint8_t *data, size_t size, conf *c)
{
    static int fd = -1;
    if (fd < 0)
        fd = memfd_create("fz-conf", MFD_CLOEXEC);
    FZ_CHECK(fd >= 0);
    FZ_CHECK(ftruncate(fd, 0) == 0);
    FZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    memset(c, 0, sizeof *c);
    c->tolerance = 500;
    c->mode = 0660;
    c->notify_fd = -1;
    /* conf_file reports errors on stderr: keep the fuzzer's output readable */
    FILE *saved = stderr;
    static FILE *devnull;
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    if (devnull && !getenv("FZ_VERBOSE"))
        stderr = devnull;
    int rc = conf_file(c, path);
    stderr = saved;
    return rc;
}

static bool terminated(const char *s, size_t cap) { return memchr(s, 0, cap) != NULL; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    conf a, b;
    int ra = parse(data, size, &a);
    int rb = parse(data, size, &b);
    FZ_CHECK(ra == rb && (ra == 0 || ra == -1));
    FZ_CHECK(a.nbearers == b.nbearers && a.nbearers >= 0 && a.nbearers <= MAX_BEARERS);
    for (int i = 0; i < a.nbearers; i++) {
        FZ_CHECK(a.bearers[i] && strcmp(a.bearers[i], b.bearers[i]) == 0);
        FZ_CHECK(strlen(a.bearers[i]) < 512);
    }
    FZ_CHECK(terminated(a.socket, sizeof a.socket) && terminated(a.pidfile, sizeof a.pidfile) &&
             terminated(a.owner, sizeof a.owner) && terminated(a.group, sizeof a.group) &&
             terminated(a.log, sizeof a.log));
    if (ra == 0) {
        FZ_CHECK(a.node_id <= 0xFFFFFFFEul && a.tolerance <= 30000 && a.mode <= 0777);
        FZ_CHECK(a.domain <= 0xFFFFFFFFul);
        FZ_CHECK(strcmp(a.socket, b.socket) == 0 && strcmp(a.log, b.log) == 0 &&
                 a.node_id == b.node_id && a.domain == b.domain);
    }
    conf_free(&a);
    conf_free(&b);
    return 0;
}
