/* text.c — see text.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/text.h"
#include "core/util.h"

#define REDACTED "[REDACTED api key]"
#define FIRST_CUT 16384 /* bytes a string keeps at the first try */
#define LAST_CUT 64     /* give up halving below this */

size_t nc_text_utf8_seq(const unsigned char *p, size_t n) {
  if (n == 0 || p[0] == 0) return 0;
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp, min;
  if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f, min = 0x80;
  else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f, min = 0x800;
  else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07, min = 0x10000;
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

size_t nc_text_utf8_cut(const char *s, size_t len, size_t max) {
  if (len <= max) return len;
  size_t m = max;
  /* back up over continuation bytes to the start of the sequence that crosses max */
  while (m > 0 && ((unsigned char)s[m] & 0xc0) == 0x80) m--;
  return m;
}

char *nc_text_clean(const char *buf, size_t len, size_t *ret_len) {
  if (len > (SIZE_MAX - 1) / 3) return NULL;
  char *out = malloc(len * 3 + 1); /* each bad byte becomes 3 */
  if (!out) return NULL;
  size_t o = 0;
  const unsigned char *p = (const unsigned char *)buf;
  for (size_t i = 0; i < len;) {
    size_t k = nc_text_utf8_seq(p + i, len - i);
    if (k) {
      memcpy(out + o, p + i, k);
      o += k;
      i += k;
    } else {
      memcpy(out + o, "\xef\xbf\xbd", 3);
      o += 3;
      i++;
    }
  }
  out[o] = '\0';
  if (ret_len) *ret_len = o;
  return out;
}

json_t *nc_text_json(const char *buf, size_t len) {
  size_t n;
  char *s = nc_text_clean(buf ? buf : "", buf ? len : 0, &n);
  if (!s) return NULL;
  json_t *j = json_stringn_nocheck(s, n);
  free(s);
  return j;
}

/* s with every occurrence of secret replaced, as a new JSON string (cleaned again: a secret that is not
 * whole UTF-8 sequences could leave a broken one behind), or NULL when s does not contain it. */
static json_t *redact(const char *s, size_t len, const char *secret) {
  size_t sl = strlen(secret);
  if (!memmem(s, len, secret, sl)) return NULL;
  size_t cap = len + 1 + (len / sl + 1) * sizeof REDACTED, o = 0;
  nc_autofree char *out = malloc(cap);
  if (!out) return NULL;
  for (size_t i = 0; i < len;) {
    const char *hit = memmem(s + i, len - i, secret, sl);
    size_t upto = hit ? (size_t)(hit - s) : len;
    memcpy(out + o, s + i, upto - i);
    o += upto - i;
    i = upto;
    if (hit) {
      memcpy(out + o, REDACTED, sizeof REDACTED - 1);
      o += sizeof REDACTED - 1;
      i += sl;
    }
  }
  return nc_text_json(out, o);
}

/* Walk v: redact, and cut strings longer than cap (cap 0: no cut). */
static void walk(json_t *v, size_t cap, const char *secret) {
  size_t i;
  const char *k;
  json_t *x;
  void *tmp;
  if (json_is_object(v)) {
    json_object_foreach_safe(v, tmp, k, x) {
      if (json_is_string(x)) {
        json_t *y = NULL;
        const char *s = json_string_value(x);
        size_t len = json_string_length(x);
        if (secret && *secret) y = redact(s, len, secret);
        if (y) s = json_string_value(y), len = json_string_length(y);
        if (cap && len > cap) {
          size_t m = nc_text_utf8_cut(s, len, cap);
          char *t = NULL;
          if (asprintf(&t, "%.*s [... %zu bytes not recorded]", (int)m, s, len - m) >= 0) {
            json_decref(y);
            y = json_string(t);
            free(t);
          }
        }
        if (y) json_object_set_new(v, k, y);
      } else {
        walk(x, cap, secret);
      }
    }
  } else if (json_is_array(v)) {
    json_array_foreach(v, i, x) {
      if (json_is_string(x)) {
        /* wrap it in a one-key object to reuse the object path */
        json_t *box = json_pack("{s:O}", "s", x);
        if (!box) continue;
        walk(box, cap, secret);
        json_array_set(v, i, json_object_get(box, "s"));
        json_decref(box);
      } else {
        walk(x, cap, secret);
      }
    }
  }
}

static size_t dumped(json_t *v) {
  char *s = json_dumps(v, JSON_COMPACT);
  size_t n = s ? strlen(s) : SIZE_MAX;
  free(s);
  return n;
}

json_t *nc_text_audit_fit(json_t *fields, size_t budget, const char *secret) {
  if (!fields) return NULL;
  if (secret && strlen(secret) < 4) secret = NULL; /* a key that short would redact half the log */
  walk(fields, 0, secret);
  size_t n = dumped(fields);
  if (n <= budget) return fields;
  for (size_t cap = FIRST_CUT; cap >= LAST_CUT; cap /= 2) {
    json_t *copy = json_deep_copy(fields);
    if (!copy) break;
    walk(copy, cap, NULL);
    if (dumped(copy) <= budget) {
      json_decref(fields);
      return copy;
    }
    json_decref(copy);
  }
  json_decref(fields);
  return json_pack("{s:I}", "not_recorded_bytes", (json_int_t)(n == SIZE_MAX ? 0 : n));
}
