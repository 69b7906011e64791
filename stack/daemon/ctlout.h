/*
 * ctlout.h — appending msgrctl answers to a caller's fixed buffer, for every control
 * module of the daemon (ctl.c, ctl_drv.c, ha.c, minet.c): text that does not fit is cut,
 * never overflowed, and JSON strings are escaped one way everywhere.
 */
#ifndef MSRV_CTLOUT_H
#define MSRV_CTLOUT_H

#include <stdarg.h>
#include <stddef.h>

/* vsnprintf at b + *len; *len stays below cap (the answer is cut, and stays a string). */
void msrv_out_vappend(char *b, size_t cap, size_t *len, const char *fmt, va_list ap);
/* s[0..n) as a JSON string: quotes, backslashes and non-printable bytes escaped. */
void msrv_out_jstr(char *b, size_t cap, size_t *len, const char *s, size_t n);

#endif
