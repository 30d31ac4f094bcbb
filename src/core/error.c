/* error.c — the one failure contract: negative return plus a filled nc_error. */
#include "core/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int code_of(int code) { return code > 0 ? code : (code < 0 ? -code : EINVAL); }

int nc_error_set(nc_error *err, int code, const char *fmt, ...) {
  code = code_of(code);
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
  }
  return -code;
}

int nc_error_sys(nc_error *err, int code, const char *fmt, ...) {
  code = code_of(code);
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof err->msg)
      snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(code));
    err->code = code;
  }
  return -code;
}

int nc_error_wrap(nc_error *err, const char *fmt, ...) {
  if (!err) return -EINVAL;
  char prefix[512], old[sizeof err->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  old[sizeof old - 1] = '\0';
  /* prefix ": " old, truncated to fit; assembled by hand so the bound is explicit */
  size_t lp = strnlen(prefix, sizeof err->msg - 3), lo = strlen(old);
  memcpy(err->msg, prefix, lp);
  memcpy(err->msg + lp, ": ", 2);
  if (lo > sizeof err->msg - lp - 3) lo = sizeof err->msg - lp - 3;
  memcpy(err->msg + lp + 2, old, lo);
  err->msg[lp + 2 + lo] = '\0';
  return -code_of(err->code);
}

char *nc_quote(char *out, size_t n, const char *s) {
  size_t o = 0;
  if (n == 0) return out;
  if (!s) s = "(null)";
  for (; *s && o + 5 < n; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c < 0x20 || c == 0x7f) {
      o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
    } else {
      out[o++] = (char)c;
    }
  }
  if (*s && o + 3 < n) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = '\0';
  return out;
}
