/* record.c — one audit record: its time stamp, its JSON line with prev and digest, and checking a line is one. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit-internal.h"
#include "core/error.h"
#include "core/util.h"

static const char hexdigits[] = "0123456789abcdef";
static const char digest_key[] = ",\"digest\":\"";

void nc_audit_sha256_hex(const void *buf, size_t len, char out[NC_AUDIT_HEX_LEN + 1]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
    /* Only on an OpenSSL failure (no memory): a value no line can match. */
    memset(out, 'x', NC_AUDIT_HEX_LEN);
    out[NC_AUDIT_HEX_LEN] = '\0';
    return;
  }
  for (unsigned i = 0; i < 32; i++) {
    out[2 * i] = hexdigits[md[i] >> 4];
    out[2 * i + 1] = hexdigits[md[i] & 15];
  }
  out[NC_AUDIT_HEX_LEN] = '\0';
}

bool nc_audit_is_hex64(const char *s) {
  if (!s) return false;
  for (size_t i = 0; i < NC_AUDIT_HEX_LEN; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return s[NC_AUDIT_HEX_LEN] == '\0';
}

void nc_audit_now(char out[NC_AUDIT_TIME_LEN + 1]) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  char buf[96];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
  memcpy(out, buf, NC_AUDIT_TIME_LEN);
  out[NC_AUDIT_TIME_LEN] = '\0';
}

bool nc_audit_is_time(const char *s) {
  static const char pat[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
  if (!s || strlen(s) != NC_AUDIT_TIME_LEN) return false;
  for (size_t i = 0; i < NC_AUDIT_TIME_LEN; i++) {
    if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i]) return false;
  }
  return true;
}

bool nc_audit_event_ok(const char *event) {
  size_t n = event ? strlen(event) : 0;
  if (n == 0 || n > 64) return false;
  for (size_t i = 0; i < n; i++)
    if (!((event[i] >= 'a' && event[i] <= 'z') || (event[i] >= '0' && event[i] <= '9') || event[i] == '_'))
      return false;
  return true;
}

static bool reserved(const char *key) {
  static const char *const keys[] = {"seq", "time", "sandbox", "event", "prev", "digest", "torn_bytes", "torn_sha256"};
  for (size_t i = 0; i < NC_ARRAY_SIZE(keys); i++)
    if (!strcmp(key, keys[i])) return true;
  return false;
}

int nc_audit_record_format(uint64_t seq, const char *time, const char *sandbox, const char *event, json_t *fields,
                           bool check_keys, const char *prev_hex, char **ret, size_t *ret_len, nc_error *err) {
  char q[160];
  if (!nc_audit_event_ok(event))
    return nc_error_set(err, EINVAL, "audit event `%s`: expected 1-64 of [a-z0-9_]", nc_quote(q, sizeof q, event));
  if (check_keys && (!strcmp(event, "genesis") || !strcmp(event, "torn")))
    return nc_error_set(err, EINVAL, "audit event `%s`: reserved for the log itself", event);
  if (fields && !json_is_object(fields))
    return nc_error_set(err, EINVAL, "audit event `%s`: fields must be a JSON object", event);
  json_t *obj = json_object();
  if (!obj) return nc_error_set(err, ENOMEM, "building an audit record");
  json_t *sb = sandbox ? json_string(sandbox) : json_null();
  int failed = !sb || json_object_set_new(obj, "seq", json_integer((json_int_t)seq)) < 0 ||
               json_object_set_new(obj, "time", json_string(time)) < 0 || json_object_set_new(obj, "sandbox", sb) < 0 ||
               json_object_set_new(obj, "event", json_string(event)) < 0;
  if (failed) {
    json_decref(obj);
    if (!sb) return nc_error_set(err, EINVAL, "audit sandbox id `%s`: not valid UTF-8", nc_quote(q, sizeof q, sandbox));
    return nc_error_set(err, ENOMEM, "building an audit record");
  }
  const char *key;
  json_t *v;
  json_object_foreach(fields, key, v) {
    if (check_keys && reserved(key)) {
      json_decref(obj);
      return nc_error_set(err, EINVAL, "audit event `%s`: field `%s` is reserved", event, nc_quote(q, sizeof q, key));
    }
    if (json_object_set(obj, key, v) < 0) {
      json_decref(obj);
      return nc_error_set(err, ENOMEM, "building an audit record");
    }
  }
  if (json_object_set_new(obj, "prev", json_string(prev_hex)) < 0) {
    json_decref(obj);
    return nc_error_set(err, ENOMEM, "building an audit record");
  }
  char *s = json_dumps(obj, JSON_COMPACT);
  json_decref(obj);
  if (!s) return nc_error_set(err, ENOMEM, "serializing audit event `%s`", event);
  size_t body = strlen(s) - 1; /* without the closing brace */
  size_t total = body + NC_AUDIT_DIGEST_SUFFIX_LEN;
  if (total + 1 > NC_AUDIT_RECORD_MAX) {
    free(s);
    return nc_error_set(err, E2BIG, "audit event `%s`: the record is %zu bytes, over the %u-byte bound", event,
                        total + 1, NC_AUDIT_RECORD_MAX);
  }
  char *line = malloc(total + 1);
  if (!line) {
    free(s);
    return nc_error_set(err, ENOMEM, "serializing audit event `%s`", event);
  }
  memcpy(line, s, body);
  free(s);
  char hex[NC_AUDIT_HEX_LEN + 1];
  nc_audit_sha256_hex(line, body, hex);
  memcpy(line + body, digest_key, sizeof digest_key - 1);
  memcpy(line + body + sizeof digest_key - 1, hex, NC_AUDIT_HEX_LEN);
  memcpy(line + total - 2, "\"}", 3);
  *ret = line;
  *ret_len = total;
  return 0;
}

static int bad(nc_error *err, const char *why) { return nc_error_set(err, EBADMSG, "%s", why); }

/* The digest suffix: ,"digest":"<64 hex>"} at the very end. */
static bool has_digest_suffix(const char *line, size_t len) {
  if (len < NC_AUDIT_DIGEST_SUFFIX_LEN + 2) return false;
  const char *p = line + len - NC_AUDIT_DIGEST_SUFFIX_LEN;
  if (memcmp(p, digest_key, sizeof digest_key - 1) || memcmp(line + len - 2, "\"}", 2)) return false;
  char hex[NC_AUDIT_HEX_LEN + 1];
  memcpy(hex, p + sizeof digest_key - 1, NC_AUDIT_HEX_LEN);
  hex[NC_AUDIT_HEX_LEN] = '\0';
  return nc_audit_is_hex64(hex);
}

static const char *str_field(json_t *obj, const char *key) { return json_string_value(json_object_get(obj, key)); }

static int check_fields(struct nc_audit_rec *r, const char *digest_hex, nc_error *err) {
  json_t *o = r->obj, *seq = json_object_get(o, "seq"), *sb = json_object_get(o, "sandbox");
  if (!json_is_integer(seq) || json_integer_value(seq) < 0) return bad(err, "`seq` is not a non-negative integer");
  r->seq = (uint64_t)json_integer_value(seq);
  r->time = str_field(o, "time");
  if (!nc_audit_is_time(r->time)) return bad(err, "`time` is not an RFC 3339 UTC time with microseconds");
  if (!json_is_string(sb) && !json_is_null(sb)) return bad(err, "`sandbox` is not a string or null");
  r->sandbox = json_string_value(sb);
  r->event = str_field(o, "event");
  if (!nc_audit_event_ok(r->event)) return bad(err, "`event` is missing or not 1-64 of [a-z0-9_]");
  r->prev = str_field(o, "prev");
  if (!nc_audit_is_hex64(r->prev)) return bad(err, "`prev` is not a lowercase hex SHA-256");
  const char *d = str_field(o, "digest");
  if (!d || strcmp(d, digest_hex)) return bad(err, "`digest` is not the last field");
  json_t *tb = json_object_get(o, "torn_bytes");
  r->torn_sha256 = str_field(o, "torn_sha256");
  r->has_torn = tb || r->torn_sha256;
  if (r->has_torn) {
    if (!json_is_integer(tb) || json_integer_value(tb) < 0 || !nc_audit_is_hex64(r->torn_sha256))
      return bad(err, "`torn_bytes`/`torn_sha256` are malformed");
    r->torn_bytes = (uint64_t)json_integer_value(tb);
    if (strcmp(r->event, "torn") && strcmp(r->event, "genesis"))
      return bad(err, "only `torn` and `genesis` records may carry torn_bytes/torn_sha256");
  } else if (!strcmp(r->event, "torn")) {
    return bad(err, "a `torn` record without torn_bytes/torn_sha256");
  }
  return 0;
}

int nc_audit_record_parse(const char *line, size_t len, struct nc_audit_rec *r, nc_error *err) {
  memset(r, 0, sizeof *r);
  json_error_t je;
  if (!has_digest_suffix(line, len)) {
    json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) return nc_error_set(err, EBADMSG, "not JSON (%s at column %d)", je.text, je.column);
    json_decref(j);
    return bad(err, "not an audit record (no digest at the end)");
  }
  char hex[NC_AUDIT_HEX_LEN + 1], want[NC_AUDIT_HEX_LEN + 1];
  size_t body = len - NC_AUDIT_DIGEST_SUFFIX_LEN;
  memcpy(want, line + body + sizeof digest_key - 1, NC_AUDIT_HEX_LEN);
  want[NC_AUDIT_HEX_LEN] = '\0';
  nc_audit_sha256_hex(line, body, hex);
  if (strcmp(hex, want)) return bad(err, "the record's bytes do not match its digest (the record was changed)");
  r->obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
  if (!r->obj) return nc_error_set(err, EBADMSG, "not JSON (%s at column %d)", je.text, je.column);
  int rc = json_is_object(r->obj) ? check_fields(r, want, err) : bad(err, "not a JSON object");
  if (rc < 0) nc_audit_rec_free(r);
  return rc;
}

void nc_audit_rec_free(struct nc_audit_rec *r) {
  json_decref(r->obj);
  memset(r, 0, sizeof *r);
}
