/*
 * keyfile.c — ms_keyfile_load (see ms_keyfile.h for the rules).
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ms_keyfile.h"

static int ms_kf_fail(int rc, char *why, size_t why_len, const char *fmt, ...)
{
    if (why && why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int ms_hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ms_keyfile_load(const char *path, uid_t daemon_uid, uint8_t key[MS_CLUSTER_KEY_LEN],
                    char *why, size_t why_len)
{
    memset(key, 0, MS_CLUSTER_KEY_LEN);
    if (why && why_len)
        why[0] = '\0';
    if (!path)
        return MS_EINVAL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP)
            return ms_kf_fail(MS_EKEY_SYMLINK, why, why_len,
                              "%s: is a symbolic link; point the configuration at the file itself",
                              path);
        return ms_kf_fail(MS_EKEY_OPEN, why, why_len, "%s: %s", path, strerror(e));
    }
    struct stat st;
    int rc = MS_OK;
    uint8_t buf[80];
    ssize_t got = 0;
    if (fstat(fd, &st) != 0) {
        rc = ms_kf_fail(MS_EKEY_OPEN, why, why_len, "%s: fstat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = ms_kf_fail(MS_EKEY_TYPE, why, why_len, "%s: not a regular file", path);
    } else if (st.st_uid != 0 && st.st_uid != daemon_uid) {
        rc = ms_kf_fail(MS_EKEY_OWNER, why, why_len,
                        "%s: owned by uid %ld; must be root or the daemon user (uid %ld)", path,
                        (long)st.st_uid, (long)daemon_uid);
    } else if (st.st_mode & (S_IXUSR | S_IRWXG | S_IRWXO | S_ISUID | S_ISGID | S_ISVTX)) {
        rc = ms_kf_fail(MS_EKEY_MODE, why, why_len,
                        "%s: mode %04o; must be 0600 or 0400 (chmod 600 %s)", path,
                        (unsigned)(st.st_mode & 07777), path);
    } else if (st.st_size > (off_t)sizeof buf) {
        rc = ms_kf_fail(MS_EKEY_FORMAT, why, why_len,
                        "%s: %lld bytes; expected 32 raw bytes or 64 hex digits", path,
                        (long long)st.st_size);
    } else {
        /* Read up to one byte more than the largest valid form, so growth after fstat
         * is still caught. */
        size_t used = 0;
        for (;;) {
            got = read(fd, buf + used, sizeof buf - used);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                break;
            used += (size_t)got;
            if (used == sizeof buf)
                break;
        }
        if (got < 0) {
            rc = ms_kf_fail(MS_EKEY_OPEN, why, why_len, "%s: read: %s", path, strerror(errno));
        } else if (used == MS_CLUSTER_KEY_LEN) {
            memcpy(key, buf, MS_CLUSTER_KEY_LEN);
        } else {
            size_t n = used;
            if (n > 0 && buf[n - 1] == '\n')
                n--;
            if (n > 0 && buf[n - 1] == '\r' && used - n == 1)
                n--;
            bool ok = n == 2 * MS_CLUSTER_KEY_LEN;
            for (size_t i = 0; ok && i < MS_CLUSTER_KEY_LEN; i++) {
                int hi = ms_hexval(buf[2 * i]), lo = ms_hexval(buf[2 * i + 1]);
                if (hi < 0 || lo < 0)
                    ok = false;
                else
                    key[i] = (uint8_t)(hi << 4 | lo);
            }
            if (!ok) {
                OPENSSL_cleanse(key, MS_CLUSTER_KEY_LEN);
                rc = ms_kf_fail(MS_EKEY_FORMAT, why, why_len,
                                "%s: %zu bytes; expected 32 raw bytes or 64 hex digits "
                                "(optionally newline-terminated)",
                                path, used);
            }
        }
    }
    OPENSSL_cleanse(buf, sizeof buf);
    close(fd);
    return rc;
}
