/*
 * log.c — the runtime's levelled logger: one level per module, changed at run time
 * (msgrctl debug), lines to stderr.  Process-wide on purpose: a daemon has one stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rt.h"

static const char *const mrt_mod_names[MRT_M_COUNT] = {"rt", "bearer", "link", "name", "path",
                                                       "ipc"};
static const char *const mrt_lvl_names[] = {"err", "warn", "info", "debug"};
static int mrt_levels[MRT_M_COUNT] = {MRT_LOG_INFO, MRT_LOG_INFO, MRT_LOG_INFO, MRT_LOG_INFO,
                                      MRT_LOG_INFO, MRT_LOG_INFO};
static char mrt_ident[32] = "msgr";

const char *mrt_module_name(int m) { return m >= 0 && m < MRT_M_COUNT ? mrt_mod_names[m] : "?"; }

int mrt_module_find(const char *name)
{
    for (int i = 0; i < MRT_M_COUNT; i++)
        if (name && strcmp(name, mrt_mod_names[i]) == 0)
            return i;
    return -1;
}

int mrt_level_find(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i <= MRT_LOG_DEBUG; i++)
        if (strcmp(name, mrt_lvl_names[i]) == 0)
            return i;
    if (name[0] >= '0' && name[0] <= '3' && name[1] == 0)
        return name[0] - '0';
    return -1;
}

const char *mrt_level_name(int l) { return l >= 0 && l <= MRT_LOG_DEBUG ? mrt_lvl_names[l] : "?"; }

void mrt_log_set_level(int module, int level)
{
    if (level < 0 || level > MRT_LOG_DEBUG)
        return;
    for (int i = 0; i < MRT_M_COUNT; i++)
        if (module < 0 || module == i)
            mrt_levels[i] = level;
}

int mrt_log_get_level(int module) { return module >= 0 && module < MRT_M_COUNT ? mrt_levels[module] : -1; }

bool mrt_log_on(int module, int level)
{
    return module >= 0 && module < MRT_M_COUNT && level <= mrt_levels[module];
}

void mrt_log_ident(const char *ident)
{
    snprintf(mrt_ident, sizeof mrt_ident, "%s", ident ? ident : "msgr");
}

void mrt_log(int module, int level, const char *fmt, ...)
{
    if (!mrt_log_on(module, level))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One write per line so lines of several processes sharing stderr do not mix. */
    char out[1100];
    int n = snprintf(out, sizeof out, "%s[%d] %s %s: %s\n", mrt_ident, (int)getpid(),
                     mrt_level_name(level), mrt_module_name(module), line);
    if (n > 0)
        (void)!write(2, out, (size_t)n < sizeof out ? (size_t)n : sizeof out - 1);
}
