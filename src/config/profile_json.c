/* profile_json.c — JSON profile files into struct nc_profile (with line numbers) and its canonical JSON. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/keys.h"
#include "config/profile.h"
#include "core/error.h"
#include "core/util.h"

#define Q(buf, s) nc_quote((buf), sizeof(buf), (s))

/* ---- reading ---- */

/* Read all of path (at most NC_MAX_PROFILE_FILE bytes) into a malloc'd buffer. */
static int read_profile(const char *path, const char *qp, char **ret, size_t *ret_len, nc_error *err) {
  nc_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return nc_error_sys(err, errno, "%s: cannot open profile", qp);
  nc_autofree char *buf = malloc(NC_MAX_PROFILE_FILE + 1);
  if (!buf) return nc_error_set(err, ENOMEM, "out of memory");
  size_t got = 0;
  while (got <= NC_MAX_PROFILE_FILE) {
    ssize_t n = read(fd, buf + got, NC_MAX_PROFILE_FILE + 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return nc_error_sys(err, errno, "%s: cannot read profile", qp);
    if (n == 0) break;
    got += (size_t)n;
  }
  if (got > NC_MAX_PROFILE_FILE) return nc_error_set(err, EFBIG, "%s: profile is larger than 1 MiB", qp);
  *ret = nc_steal_ptr(&buf);
  *ret_len = got;
  return 0;
}

/* ---- line numbers: a tiny lexer over the raw text ---- */

/* Index of the quote closing the string opening at s[i-1] (n if unterminated). */
static size_t skip_string(const char *s, size_t n, size_t i, unsigned *line) {
  for (; i < n; i++) {
    if (s[i] == '\\') i++;
    else if (s[i] == '"') return i;
    else if (s[i] == '\n') (*line)++;
  }
  return n;
}

static bool colon_follows(const char *s, size_t n, size_t i) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) i++;
  return i < n && s[i] == ':';
}

/* Line (1-based) of the top-level key `key`, 0 if not found (e.g. escaped). */
static unsigned key_line(const char *s, size_t n, const char *key) {
  size_t klen = strlen(key);
  unsigned line = 1;
  int depth = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '\n') line++;
    else if (c == '{' || c == '[') depth++;
    else if (c == '}' || c == ']') depth--;
    else if (c == '"') {
      size_t start = i + 1;
      unsigned at = line;
      i = skip_string(s, n, start, &line);
      if (depth == 1 && i - start == klen && memcmp(s + start, key, klen) == 0 && colon_follows(s, n, i + 1))
        return at;
    }
  }
  return 0;
}

/* ---- applying values ---- */

static const char *type_name(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
  }
  return "a value";
}

static unsigned type_bit(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT: return NC_J_OBJECT;
    case JSON_ARRAY: return NC_J_ARRAY;
    case JSON_STRING: return NC_J_STRING;
    case JSON_INTEGER: return NC_J_INTEGER;
    case JSON_REAL: return NC_J_REAL;
    case JSON_TRUE:
    case JSON_FALSE: return NC_J_BOOL;
    case JSON_NULL: return 0;
  }
  return 0;
}

static int type_error(nc_error *err, const char *where, unsigned accept, const json_t *v) {
  static const struct { unsigned bit; const char *name; } names[] = {
      {NC_J_STRING, "a string"}, {NC_J_INTEGER, "an integer"}, {NC_J_REAL, "a number"}, {NC_J_BOOL, "a boolean"},
      {NC_J_ARRAY, "an array of strings"}, {NC_J_OBJECT, "an object of strings"}};
  const char *words[6] = {NULL};
  size_t n = 0;
  if (accept & NC_J_REAL) accept &= ~(unsigned)NC_J_INTEGER; /* "a number" covers both */
  for (size_t i = 0; i < 6; i++)
    if (accept & names[i].bit) words[n++] = names[i].name;
  char expected[160] = "";
  for (size_t i = 0; i < n; i++) {
    size_t o = strlen(expected);
    snprintf(expected + o, sizeof expected - o, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", words[i]);
  }
  return nc_error_set(err, EINVAL, "%s: expected %s, found %s", where, expected, type_name(v));
}

static int apply_array(nc_profile *p, const struct nc_key *k, json_t *arr, const char *where, nc_error *err) {
  size_t i;
  json_t *e;
  json_array_foreach(arr, i, e) {
    if (!json_is_string(e)) {
      char w[600];
      snprintf(w, sizeof w, "%s[%zu]", where, i);
      return type_error(err, w, NC_J_STRING, e);
    }
    int r = nc_key_set(p, k, json_string_value(e), where, err);
    if (r < 0) return r;
  }
  return 0;
}

static int apply_object(nc_profile *p, json_t *obj, const char *where, nc_error *err) {
  const char *name;
  json_t *e;
  json_object_foreach(obj, name, e) {
    if (!json_is_string(e)) {
      char w[600], q[128];
      snprintf(w, sizeof w, "%s.%s", where, Q(q, name));
      return type_error(err, w, NC_J_STRING, e);
    }
    int r = nc_profile_env_put(p, name, json_string_value(e), where, err);
    if (r < 0) return r;
  }
  return 0;
}

static int apply_value(nc_profile *p, const struct nc_key *k, json_t *v, const char *where, nc_error *err) {
  char num[64];
  if (!(type_bit(v) & k->json)) return type_error(err, where, k->json, v);
  switch (json_typeof(v)) {
    case JSON_STRING: return nc_key_set(p, k, json_string_value(v), where, err);
    case JSON_INTEGER:
      snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
      return nc_key_set(p, k, num, where, err);
    case JSON_REAL: /* 15 significant digits: 0.1 stays "0.1" */
      snprintf(num, sizeof num, "%.15g", json_real_value(v));
      return nc_key_set(p, k, num, where, err);
    case JSON_TRUE: return nc_key_set(p, k, "true", where, err);
    case JSON_FALSE: return nc_key_set(p, k, "false", where, err);
    case JSON_ARRAY: return apply_array(p, k, v, where, err);
    case JSON_OBJECT: return apply_object(p, v, where, err);
    case JSON_NULL: break;
  }
  return type_error(err, where, k->json, v);
}

/* Is `key` the group of some "key.member" keys ("audit")? */
static bool is_group(const char *key) {
  size_t n = strlen(key);
  for (size_t i = 0; i < nc_keys_n; i++)
    if (!strncmp(nc_keys[i].key, key, n) && nc_keys[i].key[n] == '.') return true;
  return false;
}

/* {"audit": {"log": ..., "required": true}}: each member is the key "audit.member". */
static int apply_group(nc_profile *p, const char *loc, const char *group, json_t *obj, nc_error *err) {
  char where[600], full[160], qk[128];
  if (!json_is_object(obj)) {
    snprintf(where, sizeof where, "%s: %s", loc, Q(qk, group));
    return type_error(err, where, NC_J_OBJECT, obj);
  }
  const char *member;
  json_t *v;
  json_object_foreach(obj, member, v) {
    snprintf(full, sizeof full, "%s.%s", group, member);
    snprintf(where, sizeof where, "%s: %s", loc, Q(qk, full));
    const struct nc_key *k = strlen(member) < 100 ? nc_key_by_name(full) : NULL;
    if (!k) {
      const char *hint = nc_key_suggest(full, false);
      return nc_error_set(err, EINVAL, "%s: unknown key \"%s\"%s%s%s", loc, qk, hint ? " (did you mean " : "",
                          hint ? hint : "", hint ? "?)" : "");
    }
    int r = apply_value(p, k, v, where, err);
    if (r < 0) return r;
  }
  return 0;
}

static int apply_key(nc_profile *p, const char *qp, const char *text, size_t len, const char *key, json_t *v,
                     nc_error *err) {
  char loc[300], where[450], qk[128];
  unsigned line = key_line(text, len, key);
  if (line) snprintf(loc, sizeof loc, "%s:%u", qp, line);
  else snprintf(loc, sizeof loc, "%s", qp);
  snprintf(where, sizeof where, "%s: %s", loc, Q(qk, key));
  const struct nc_key *k = nc_key_by_name(key);
  if (k && k->json == 0) return nc_key_set(p, k, "", where, err); /* explains flag-only keys */
  if (k) return apply_value(p, k, v, where, err);
  if (is_group(key)) return apply_group(p, loc, key, v, err);
  const char *hint = nc_key_suggest(key, false);
  return nc_error_set(err, EINVAL, "%s: unknown key \"%s\"%s%s%s", loc, qk, hint ? " (did you mean " : "",
                      hint ? hint : "", hint ? "?)" : "");
}

static int syntax_error(const char *qp, const json_error_t *je, nc_error *err) {
  char q[128], tok[128];
  const char *near = strstr(je->text, "near '\"");
  if (json_error_code(je) == json_error_duplicate_key && near) {
    snprintf(tok, sizeof tok, "%s", near + 7);
    char *end = strrchr(tok, '"');
    if (end) *end = '\0';
    return nc_error_set(err, EINVAL, "%s:%d: duplicate key \"%s\"", qp, je->line, Q(q, tok));
  }
  if (je->line > 0)
    return nc_error_set(err, EINVAL, "%s:%d:%d: JSON syntax error: %s", qp, je->line, je->column, je->text);
  return nc_error_set(err, EINVAL, "%s: JSON syntax error: %s", qp, je->text);
}

int nc_profile_load_file(nc_profile *p, const char *path, nc_error *err) {
  char qp[256];
  nc_autofree char *text = NULL;
  size_t len = 0;
  if (!p || !path) return nc_error_set(err, EINVAL, "nc_profile_load_file: no profile or path");
  Q(qp, path);
  int r = read_profile(path, qp, &text, &len, err);
  if (r < 0) return r;
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) return syntax_error(qp, &je, err);
  if (!json_is_object(root)) {
    r = nc_error_set(err, EINVAL, "%s: a profile is a JSON object ({...}), found %s", qp, type_name(root));
    json_decref(root);
    return r;
  }
  const char *key;
  json_t *v;
  json_object_foreach(root, key, v) {
    r = apply_key(p, qp, text, len, key, v, err);
    if (r < 0) break;
  }
  json_decref(root);
  return r;
}

/* ---- canonical JSON ---- */

struct out {
  json_t *o;
  const char *bad_key; /* first key that could not be written */
};

static void put(struct out *b, const char *k, json_t *v) {
  /* json_object_set_new takes v even when it fails */
  if ((!v || json_object_set_new(b->o, k, v) < 0) && !b->bad_key) b->bad_key = k;
}

/* 1500 -> "1.5", 60000 -> "60": exact decimal, no float rounding. */
static json_t *millis_string(uint64_t m) {
  char b[48];
  int n = snprintf(b, sizeof b, "%llu.%03llu", (unsigned long long)(m / 1000), (unsigned long long)(m % 1000));
  while (n > 0 && b[n - 1] == '0') b[--n] = '\0';
  if (n > 0 && b[n - 1] == '.') b[--n] = '\0';
  return json_string(b);
}

static json_t *strv_array(const struct nc_strv *v) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < v->n; i++)
    if (json_array_append_new(a, json_string(v->v[i])) < 0) {
      json_decref(a);
      return NULL;
    }
  return a;
}

static json_t *env_object(const struct nc_strv *v) {
  json_t *o = json_object();
  for (size_t i = 0; o && i < v->n; i++) {
    const char *eq = strchr(v->v[i], '=');
    char name[256];
    size_t n = eq ? (size_t)(eq - v->v[i]) : 0;
    if (!eq || n >= sizeof name) continue;
    memcpy(name, v->v[i], n);
    name[n] = '\0';
    if (json_object_set_new(o, name, json_string(eq + 1)) < 0) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}

static json_t *mounts_array(const nc_profile *p, bool binds) {
  json_t *a = json_array();
  size_t n = binds ? p->n_binds : p->n_tmpfs;
  for (size_t i = 0; a && i < n; i++) {
    char *s = NULL;
    int r = binds ? asprintf(&s, "%s:%s:%s", p->binds[i].src, p->binds[i].dst, p->binds[i].rw ? "rw" : "ro")
                  : asprintf(&s, "%s:%llu", p->tmpfs[i].path, (unsigned long long)p->tmpfs[i].size);
    json_t *e = r < 0 ? NULL : json_string(s);
    if (r >= 0) free(s);
    if (json_array_append_new(a, e) < 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

static void put_all(struct out *b, const nc_profile *p) {
  char user[32];
  if (p->name) put(b, "name", json_string(p->name));
  put(b, "image", json_string(p->image));
  put(b, "mem_limit", json_integer((json_int_t)p->mem_limit));
  put(b, "cpu_shares", json_integer((json_int_t)p->cpu_shares));
  if (p->cpus_milli) put(b, "cpus", millis_string(p->cpus_milli));
  put(b, "pids_limit", json_integer((json_int_t)p->pids_limit));
  put(b, "timeout", millis_string(p->timeout_ms));
  put(b, "network_disabled", json_boolean(p->network_disabled));
  put(b, "allowed_hosts", strv_array(&p->allowed_hosts));
  put(b, "add_hosts", strv_array(&p->add_hosts));
  put(b, "tmpfs", mounts_array(p, false));
  put(b, "binds", mounts_array(p, true));
  put(b, "env", env_object(&p->env));
  put(b, "workdir", json_string(p->workdir));
  snprintf(user, sizeof user, "%u:%u", (unsigned)p->uid, (unsigned)p->gid);
  put(b, "user", json_string(user));
  put(b, "hostname", json_string(p->hostname));
  if (p->result_json) put(b, "result_json", json_string(p->result_json));
  put(b, "limits", json_string(p->limits == NC_LIMITS_BEST_EFFORT ? "best-effort" : "strict"));
  put(b, "output_limit", json_integer((json_int_t)p->output_limit));
  json_t *a = json_object();
  if (a) {
    if (p->audit.off || p->audit.log) json_object_set_new(a, "log", json_string(p->audit.off ? "none" : p->audit.log));
    json_object_set_new(a, "fsync", json_string(p->audit.fsync_batch ? "batch" : "record"));
    json_object_set_new(a, "append_only", json_boolean(p->audit.append_only));
    if (p->audit.syslog) json_object_set_new(a, "syslog", json_string(p->audit.syslog));
    if (p->audit.http) json_object_set_new(a, "http", json_string(p->audit.http));
    json_object_set_new(a, "required", json_boolean(p->audit.required));
    if (p->audit.output_cap) json_object_set_new(a, "output_cap", json_integer((json_int_t)p->audit.output_cap));
  }
  put(b, "audit", a);
  if (p->deps_apt.n || p->deps_pip.n || p->deps_npm.n) {
    json_t *d = json_object();
    if (d) {
      json_object_set_new(d, "apt", strv_array(&p->deps_apt));
      json_object_set_new(d, "pip", strv_array(&p->deps_pip));
      json_object_set_new(d, "npm", strv_array(&p->deps_npm));
    }
    put(b, "dependencies", d);
  }
  const struct nc_agent_settings *ag = &p->agent;
  if (ag->model || ag->base_url || ag->api_key_env || ag->max_steps || ag->tool_timeout_ms || ag->request_timeout_ms ||
      ag->system_prompt) {
    json_t *g = json_object();
    if (g) {
      if (ag->model) json_object_set_new(g, "model", json_string(ag->model));
      if (ag->base_url) json_object_set_new(g, "base_url", json_string(ag->base_url));
      if (ag->api_key_env) json_object_set_new(g, "api_key_env", json_string(ag->api_key_env));
      if (ag->max_steps) json_object_set_new(g, "max_steps", json_integer((json_int_t)ag->max_steps));
      if (ag->tool_timeout_ms) json_object_set_new(g, "tool_timeout", millis_string(ag->tool_timeout_ms));
      if (ag->request_timeout_ms) json_object_set_new(g, "request_timeout", millis_string(ag->request_timeout_ms));
      if (ag->system_prompt) json_object_set_new(g, "system_prompt", json_string(ag->system_prompt));
    }
    put(b, "agent", g);
  }
}

char *nc_profile_to_json(const nc_profile *p, nc_error *err) {
  if (!p) {
    nc_error_set(err, EINVAL, "nc_profile_to_json: no profile");
    return NULL;
  }
  struct out b = {json_object(), NULL};
  if (!b.o) {
    nc_error_set(err, ENOMEM, "out of memory");
    return NULL;
  }
  put_all(&b, p);
  char *s = b.bad_key ? NULL : json_dumps(b.o, JSON_SORT_KEYS | JSON_COMPACT);
  json_decref(b.o);
  if (b.bad_key)
    nc_error_set(err, EINVAL, "%s: cannot be written as JSON (not valid UTF-8, or out of memory)", b.bad_key);
  else if (!s)
    nc_error_set(err, ENOMEM, "out of memory");
  return s;
}

/* The profile as audit records and exports show it: env values (maybe
 * secrets) replaced by the list of names. A new JSON object, or NULL. */
json_t *nc_profile_json_redacted(const nc_profile *p, nc_error *err) {
  nc_autofree char *pj = nc_profile_to_json(p, err);
  json_t *o = pj ? json_loads(pj, 0, NULL) : NULL;
  if (!o) {
    if (pj) nc_error_set(err, ENOMEM, "profile JSON: out of memory");
    return NULL;
  }
  json_t *env = json_object_get(o, "env");
  if (env && json_is_object(env)) {
    json_t *names = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v) {
      json_array_append_new(names, json_string(k));
    }
    json_object_set_new(o, "env", names);
  }
  return o;
}

/* SHA-256 (hex) of a redacted profile's canonical JSON (sorted keys, compact):
 * the profile's digest in audit records, Dockerfile labels and manifests alike. */
int nc_profile_digest_of(const struct json_t *redacted, char out[65], nc_error *err) {
  nc_autofree char *canon = redacted ? json_dumps(redacted, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
  unsigned char md[32];
  unsigned int n = 0;
  if (!canon || !EVP_Digest(canon, strlen(canon), md, &n, EVP_sha256(), NULL) || n != 32)
    return nc_error_set(err, ENOMEM, "profile digest: out of memory");
  for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
  return 0;
}

int nc_profile_digest(const nc_profile *p, char out[65], nc_error *err) {
  json_t *o = nc_profile_json_redacted(p, err);
  int r = o ? nc_profile_digest_of(o, out, err) : -ENOMEM;
  json_decref(o);
  return r;
}
