/* parse.c — strict number, size and duration parsing (no locale, no silent truncation). */
#include "core/parse.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

/* Parse "I[.F]" into an integer part and a fraction scaled to 1e9.
 * Returns the pointer past the number, or NULL when there is no number. */
static const char *parse_fixed(const char *s, uint64_t *ip, uint64_t *frac_e9, int *err) {
  uint64_t i = 0, f = 0, scale = 100000000;
  const char *p = s;
  *err = 0;
  if (!isdigit((unsigned char)*p)) return NULL;
  for (; isdigit((unsigned char)*p); p++) {
    if (i > (UINT64_MAX - 9) / 10) *err = -ERANGE;
    i = i * 10 + (uint64_t)(*p - '0');
  }
  if (*p == '.') {
    p++;
    if (!isdigit((unsigned char)*p)) return NULL;
    for (; isdigit((unsigned char)*p); p++) {
      f += (uint64_t)(*p - '0') * scale;
      scale /= 10;
    }
  }
  *ip = i;
  *frac_e9 = f;
  return p;
}

static int mul_frac(uint64_t i, uint64_t frac_e9, uint64_t unit, uint64_t *ret) {
  if (unit != 0 && i > UINT64_MAX / unit) return -ERANGE;
  uint64_t v = i * unit;
  /* frac_e9 * unit / 1e9 without overflow for units up to 2^40 */
  long double extra = (long double)frac_e9 * (long double)unit / 1e9L;
  if ((long double)UINT64_MAX - (long double)v < extra) return -ERANGE;
  *ret = v + (uint64_t)extra;
  return 0;
}

int nc_parse_size(const char *s, uint64_t *ret) {
  uint64_t i, f;
  int e;
  if (!s) return -EINVAL;
  const char *p = parse_fixed(s, &i, &f, &e);
  if (!p) return -EINVAL;
  if (e) return e;
  uint64_t unit = 1;
  switch (tolower((unsigned char)*p)) {
    case '\0': break;
    case 'b': unit = 1; p++; break;
    case 'k': unit = 1ull << 10; p++; break;
    case 'm': unit = 1ull << 20; p++; break;
    case 'g': unit = 1ull << 30; p++; break;
    case 't': unit = 1ull << 40; p++; break;
    default: return -EINVAL;
  }
  if (unit > 1) {
    if (strcasecmp(p, "ib") == 0 || strcasecmp(p, "b") == 0) p += strlen(p);
  }
  if (*p != '\0') return -EINVAL;
  if (unit == 1 && f != 0) return -EINVAL; /* fractional bytes */
  return mul_frac(i, f, unit, ret);
}

int nc_parse_duration_ms(const char *s, uint64_t *ret) {
  uint64_t i, f;
  int e;
  if (!s) return -EINVAL;
  const char *p = parse_fixed(s, &i, &f, &e);
  if (!p) return -EINVAL;
  if (e) return e;
  uint64_t unit_ms;
  if (*p == '\0' || strcmp(p, "s") == 0) unit_ms = 1000;
  else if (strcmp(p, "ms") == 0) unit_ms = 1;
  else if (strcmp(p, "m") == 0 || strcmp(p, "min") == 0) unit_ms = 60000;
  else if (strcmp(p, "h") == 0) unit_ms = 3600000;
  else return -EINVAL;
  return mul_frac(i, f, unit_ms, ret);
}

int nc_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
  uint64_t v = 0;
  if (!s || !isdigit((unsigned char)*s)) return -EINVAL;
  for (const char *p = s; *p; p++) {
    if (!isdigit((unsigned char)*p)) return -EINVAL;
    if (v > (UINT64_MAX - 9) / 10) return -ERANGE;
    v = v * 10 + (uint64_t)(*p - '0');
  }
  if (v < min || v > max) return -ERANGE;
  *ret = v;
  return 0;
}

int nc_parse_millicpus(const char *s, uint64_t *ret) {
  uint64_t i, f;
  int e;
  if (!s) return -EINVAL;
  const char *p = parse_fixed(s, &i, &f, &e);
  if (!p || *p != '\0') return -EINVAL;
  if (e || i > 1000000) return -ERANGE;
  if (f % 1000000 != 0) return -EINVAL; /* more than 3 decimals */
  *ret = i * 1000 + f / 1000000;
  return 0;
}

int nc_parse_bool(const char *s, bool *ret) {
  if (!s) return -EINVAL;
  if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes")) *ret = true;
  else if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no")) *ret = false;
  else return -EINVAL;
  return 0;
}
