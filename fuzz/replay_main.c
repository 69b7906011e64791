/*
 * fuzz/replay_main.c — the regression driver: runs a target's LLVMFuzzerTestOneInput on
 * every file named on the command line (directories are walked one level, in name
 * order), with any compiler and without libFuzzer.  ctest's fuzz_<target>_replay runs it
 * over fuzz/corpus/<target> and fuzz/regressions/<target>; an oracle failure aborts.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t replayed;

static int replay_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, fp)) > 0) {
        len += got;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    fclose(fp);
    if (!buf) {
        fprintf(stderr, "replay: out of memory\n");
        return 1;
    }
    /* Exactly-sized copy, so ASan sees any read past the input. */
    uint8_t *in = malloc(len ? len : 1);
    if (!in) {
        free(buf);
        return 1;
    }
    memcpy(in, buf, len);
    free(buf);
    if (getenv("FZ_REPLAY_VERBOSE"))
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(in, len);
    free(in);
    replayed++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        /* A target without regressions yet has no folder: not an error. */
        return errno == ENOENT ? 0 : (fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno)), 1);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* also skips .gitkeep */
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
            if (!nn)
                break;
            names = nn;
        }
        size_t l = strlen(dir) + strlen(e->d_name) + 2;
        names[n] = malloc(l);
        if (!names[n])
            break;
        snprintf(names[n], l, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            rc |= replay_file(names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            rc |= replay_dir(argv[i]);
        else if (stat(argv[i], &st) == 0)
            rc |= replay_file(argv[i]);
        else if (errno != ENOENT)
            rc |= 1;
    }
    printf("replayed %zu inputs\n", replayed);
    if (replayed == 0) {
        fprintf(stderr, "replay: no inputs found (missing corpus?)\n");
        return 1;
    }
    return rc;
}
