/* error.h — nc_error helpers: set, wrap with context, quote untrusted values. */
#ifndef NC_CORE_ERROR_H
#define NC_CORE_ERROR_H

#include "nanoclaw.h"

/* Fill err (if non-NULL) and return -code (always negative). */
int nc_error_set(nc_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* As nc_error_set, appending ": strerror(code)". */
int nc_error_sys(nc_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefix the message already in err with context ("creating cgroup: ..."). */
int nc_error_wrap(nc_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copy s into out (size n) with control characters, quotes and backslashes
 * escaped so an untrusted string cannot forge a log line. Returns out. */
char *nc_quote(char *out, size_t n, const char *s);

#endif
