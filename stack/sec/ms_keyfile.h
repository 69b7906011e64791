/*
 * ms_keyfile.h — loading the cluster key from a file (the one OS-facing part of
 * stack/sec; the daemon calls it at start-up, before dropping privileges).
 *
 * Rules, each with its own error code:
 *   - the path is opened with O_NOFOLLOW: a symbolic link as the last component is
 *     refused (MS_EKEY_SYMLINK).  Links in the directory part are followed; the
 *     directories are the administrator's to protect (documented in the daemon's docs).
 *   - the opened file (checked with fstat on the descriptor, so no race between check
 *     and read) must be a regular file (MS_EKEY_TYPE),
 *   - owned by root or by daemon_uid (MS_EKEY_OWNER),
 *   - with no permission bits beyond owner read/write: 0600 or 0400 (MS_EKEY_MODE),
 *   - holding exactly 32 raw bytes, or 64 hex digits optionally followed by one "\n" or
 *     "\r\n" (MS_EKEY_FORMAT).  A 64-byte file that is not all hex is refused rather
 *     than taken as raw: raw keys are exactly 32 bytes.
 * On any error `why` (if not NULL) gets a one-line explanation naming the path, and key
 * is zeroed.  Read buffers are erased before returning.
 */
#ifndef MS_KEYFILE_H
#define MS_KEYFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ms.h"

int ms_keyfile_load(const char *path, uid_t daemon_uid, uint8_t key[MS_CLUSTER_KEY_LEN],
                    char *why, size_t why_len);

#endif /* MS_KEYFILE_H */
