/* ctlout.c — see ctlout.h. */
#include "ctlout.h"

#include <stdio.h>

void msrv_out_vappend(char *b, size_t cap, size_t *len, const char *fmt, va_list ap)
{
    if (*len + 1 >= cap)
        return;
    int n = vsnprintf(b + *len, cap - *len, fmt, ap);
    if (n > 0)
        *len = *len + (size_t)n < cap ? *len + (size_t)n : cap - 1;
}

static void app(char *b, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void app(char *b, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msrv_out_vappend(b, cap, len, fmt, ap);
    va_end(ap);
}

void msrv_out_jstr(char *b, size_t cap, size_t *len, const char *s, size_t n)
{
    app(b, cap, len, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            app(b, cap, len, "\\%c", c);
        else if (c < 0x20 || c >= 0x7F)
            app(b, cap, len, "\\u%04x", c);
        else
            app(b, cap, len, "%c", c);
    }
    app(b, cap, len, "\"");
}
