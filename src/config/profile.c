/* profile.c — the key table, profile defaults and lifetime, nc_profile_set and nc_profile_validate. */
#include "config/profile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/keys.h"
#include "core/error.h"
#include "core/parse.h"
#include "image/image.h"
#include "net/allowlist.h"

#define Q(buf, s) nc_quote((buf), sizeof(buf), (s))
#define MIN_MEM_LIMIT (4ull << 20)
#define MAX_CPU_SHARES 262144
#define MAX_PIDS 4194304
#define MAX_ID 4294967294ull /* (uid_t)-1 is "no change" to the kernel */

#define S NC_J_STRING
#define I NC_J_INTEGER
const struct nc_key nc_keys[] = {
    {NC_K_NAME, "name", "name", "NAME", "none", "label for results and audit records", S, false},
    {NC_K_IMAGE, "image", "image", "REF", "host",
     "root filesystem: host (read-only host view), a directory, or NAME[:TAG] from the image store", S, false},
    {NC_K_MEM_LIMIT, "mem_limit", "mem-limit", "SIZE", "512m", "memory limit, e.g. 512m or 1g (0 = unlimited)",
     S | I, false},
    {NC_K_CPU_SHARES, "cpu_shares", "cpu-shares", "N", "1024", "relative CPU weight, 2..262144", S | I, false},
    {NC_K_CPUS, "cpus", "cpus", "N", "unlimited", "CPU quota in CPUs, e.g. 0.5 or 2", S | I | NC_J_REAL, false},
    {NC_K_PIDS_LIMIT, "pids_limit", "pids-limit", "N", "256", "maximum number of tasks (0 = unlimited)", S | I,
     false},
    {NC_K_TIMEOUT, "timeout", "timeout", "SECONDS", "60",
     "wall-clock deadline, e.g. 60, 2.5 or 500ms (0 = none)", S | I | NC_J_REAL, false},
    {NC_K_NETWORK_DISABLED, "network_disabled", "network-disabled", NULL, "false",
     "no network at all, not even the allowlist proxy", NC_J_BOOL, false},
    {NC_K_ALLOWED_HOSTS, "allowed_hosts", "allow-host", "HOST[:PORT]", "none (deny all)",
     "allow outbound connections to HOST (repeatable)", NC_J_ARRAY, true},
    {NC_K_ADD_HOSTS, "add_hosts", "add-host", "NAME:IP", "none", "add NAME to the sandbox's /etc/hosts (repeatable)",
     NC_J_ARRAY, true},
    {NC_K_TMPFS, "tmpfs", "tmpfs", "PATH[:SIZE]", "/tmp:64m",
     "size-limited tmpfs at PATH, 64m unless given (repeatable)", NC_J_ARRAY, true},
    {NC_K_BINDS, "binds", "bind", "SRC:DST[:ro|rw]", "none",
     "bind host SRC at DST, read-only unless :rw (repeatable)", NC_J_ARRAY, true},
    {NC_K_ENV, "env", "env", "NAME[=VALUE]", "none",
     "set NAME, or copy it from the caller's environment (repeatable)", NC_J_ARRAY | NC_J_OBJECT,
     true},
    {NC_K_WORKDIR, "workdir", "workdir", "DIR", "/", "working directory inside the sandbox", S, false},
    {NC_K_USER, "user", "user", "UID[:GID]", "1000:1000", "numeric user and group inside the sandbox", S | I,
     false},
    {NC_K_HOSTNAME, "hostname", "hostname", "NAME", "sandbox", "hostname inside the sandbox", S, false},
    {NC_K_RESULT_JSON, "result_json", "result-json", "FILE|-", "none",
     "write the run result as JSON to FILE (- = stdout)", S, false},
    {NC_K_LIMITS, "limits", "limits", "MODE", "strict",
     "strict refuses to run if a limit can't be enforced; best-effort reports", S, false},
    {NC_K_OUTPUT_LIMIT, "output_limit", "output-limit", "SIZE", "none",
     "cap on stdout+stderr bytes passed through (0 = no cap)", S | I, false},
    {NC_K_AUDIT_LOG, "audit.log", "audit-log", "FILE|none", "/var/log/nanoclaw/audit.jsonl (root)",
     "the hash-chained audit log; none turns auditing off", S, false},
    {NC_K_AUDIT_FSYNC, "audit.fsync", "audit-fsync", "record|batch", "record",
     "fsync the audit log after every record, or in batches", S, false},
    {NC_K_AUDIT_APPEND_ONLY, "audit.append_only", "audit-append-only", NULL, "false",
     "set the audit log's append-only attribute (root)", NC_J_BOOL, false},
    {NC_K_AUDIT_SYSLOG, "audit.syslog", "audit-syslog", "URL", "none",
     "also send records to syslog: tcp://HOST:PORT or udp://HOST:PORT (RFC 5424)", S, false},
    {NC_K_AUDIT_HTTP, "audit.http", "audit-http", "URL", "none", "also POST record batches to this http(s) URL", S,
     false},
    {NC_K_AUDIT_REQUIRED, "audit.required", "audit-required", NULL, "false",
     "a failing audit sink fails the run", NC_J_BOOL, false},
    {NC_K_AUDIT_OUTPUT_CAP, "audit.output_cap", "audit-output-cap", "SIZE", "1m",
     "bytes of stdout+stderr recorded per run", S | I, false},
    {NC_K_DEPS_APT, "dependencies.apt", "dep-apt", "PKG[=VERSION]", "none",
     "a Debian package the image needs (export dockerfile; repeatable)", NC_J_ARRAY, true},
    {NC_K_DEPS_PIP, "dependencies.pip", "dep-pip", "PKG[==VERSION]", "none",
     "a Python package the image needs (export dockerfile; repeatable)", NC_J_ARRAY, true},
    {NC_K_DEPS_NPM, "dependencies.npm", "dep-npm", "PKG[@VERSION]", "none",
     "an npm package the image needs (export dockerfile; repeatable)", NC_J_ARRAY, true},
    {NC_K_AGENT_MODEL, "agent.model", "model", "MODEL", "none", "agent: the model name (e.g. gpt-4o-mini)", S,
     false},
    {NC_K_AGENT_BASE_URL, "agent.base_url", "base-url", "URL", "$OPENAI_BASE_URL or https://api.openai.com/v1",
     "agent: OpenAI-compatible API base URL", S, false},
    {NC_K_AGENT_API_KEY_ENV, "agent.api_key_env", "api-key-env", "NAME", "OPENAI_API_KEY",
     "agent: environment variable holding the API key (never passed to the sandbox)", S, false},
    {NC_K_AGENT_MAX_STEPS, "agent.max_steps", "max-steps", "N", "20", "agent: model requests per task, 1..1000",
     S | I, false},
    {NC_K_AGENT_TOOL_TIMEOUT, "agent.tool_timeout", "tool-timeout", "SECONDS", "30",
     "agent: deadline of one tool call", S | I | NC_J_REAL, false},
    {NC_K_AGENT_REQUEST_TIMEOUT, "agent.request_timeout", "request-timeout", "SECONDS", "120",
     "agent: deadline of one model request", S | I | NC_J_REAL, false},
    {NC_K_AGENT_SYSTEM_PROMPT, "agent.system_prompt", "system-prompt", "TEXT", "built in",
     "agent: the system prompt", S, false},
    {NC_K_CONFIG, "config", "config", "FILE", "none", "load a JSON profile first; the other flags override it", 0,
     false},
};
#undef S
#undef I
const size_t nc_keys_n = sizeof nc_keys / sizeof nc_keys[0];

/* ---- the key table ---- */

const struct nc_key *nc_key_by_name(const char *key) {
  for (size_t i = 0; key && i < nc_keys_n; i++)
    if (strcmp(nc_keys[i].key, key) == 0) return &nc_keys[i];
  return NULL;
}

const struct nc_key *nc_key_by_flag(const char *flag) {
  for (size_t i = 0; flag && i < nc_keys_n; i++)
    if (strcmp(nc_keys[i].flag, flag) == 0) return &nc_keys[i];
  return NULL;
}

/* Levenshtein distance; SIZE_MAX for words longer than 64 bytes. */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b), row[65];
  if (la > 64 || lb > 64) return SIZE_MAX;
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

const char *nc_key_suggest(const char *word, bool flags) {
  const char *best = NULL;
  size_t best_d = SIZE_MAX, len = word ? strlen(word) : 0;
  size_t limit = len / 3 > 2 ? len / 3 : 2;
  for (size_t i = 0; word && i < nc_keys_n; i++) {
    if (!flags && nc_keys[i].json == 0) continue;
    const char *cand = flags ? nc_keys[i].flag : nc_keys[i].key;
    size_t d = edit_distance(word, cand);
    if (d < best_d && d <= limit && d < strlen(cand)) {
      best = cand;
      best_d = d;
    }
  }
  return best;
}

/* ---- lifetime ---- */

int nc_strv_push(struct nc_strv *v, const char *s) {
  if (v->n >= NC_MAX_LIST) return -E2BIG;
  char *d = strdup(s);
  char **nv = d ? realloc(v->v, (v->n + 2) * sizeof *nv) : NULL;
  if (!nv) {
    free(d);
    return -ENOMEM;
  }
  nv[v->n++] = d;
  nv[v->n] = NULL;
  v->v = nv;
  return 0;
}

void nc_strv_free(struct nc_strv *v) {
  for (size_t i = 0; i < v->n; i++) free(v->v[i]);
  free(v->v);
  v->v = NULL;
  v->n = 0;
}

nc_profile *nc_profile_new(void) {
  nc_profile *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->image = strdup("host");
  p->workdir = strdup("/");
  p->hostname = strdup(NC_DEFAULT_HOSTNAME);
  p->tmpfs = calloc(1, sizeof *p->tmpfs);
  if (p->tmpfs) {
    p->n_tmpfs = 1;
    p->tmpfs[0].path = strdup("/tmp");
    p->tmpfs[0].size = NC_DEFAULT_TMP_SIZE;
  }
  p->mem_limit = NC_DEFAULT_MEM_LIMIT;
  p->cpu_shares = NC_DEFAULT_CPU_SHARES;
  p->pids_limit = NC_DEFAULT_PIDS_LIMIT;
  p->timeout_ms = NC_DEFAULT_TIMEOUT_MS;
  p->uid = NC_DEFAULT_UID;
  p->gid = NC_DEFAULT_GID;
  p->limits = NC_LIMITS_STRICT;
  if (!p->image || !p->workdir || !p->hostname || !p->tmpfs || !p->tmpfs[0].path) {
    nc_profile_free(p);
    return NULL;
  }
  return p;
}

void nc_profile_free(nc_profile *p) {
  if (!p) return;
  free(p->name);
  free(p->image);
  free(p->workdir);
  free(p->hostname);
  free(p->result_json);
  free(p->audit.log);
  free(p->audit.syslog);
  free(p->audit.http);
  free(p->agent.model);
  free(p->agent.base_url);
  free(p->agent.api_key_env);
  free(p->agent.system_prompt);
  nc_strv_free(&p->deps_apt);
  nc_strv_free(&p->deps_pip);
  nc_strv_free(&p->deps_npm);
  nc_strv_free(&p->allowed_hosts);
  nc_strv_free(&p->add_hosts);
  nc_strv_free(&p->env);
  nc_strv_free(&p->image_env);
  nc_strv_free(&p->image_cmd);
  free(p->image_digest);
  for (size_t i = 0; i < p->n_tmpfs; i++) free(p->tmpfs[i].path);
  free(p->tmpfs);
  for (size_t i = 0; i < p->n_binds; i++) {
    free(p->binds[i].src);
    free(p->binds[i].dst);
  }
  free(p->binds);
  free(p);
}

/* ---- value checks; every message is "WHERE: "VALUE" what" ---- */

static int bad(nc_error *err, const char *where, const char *value, const char *what) {
  char q[256];
  return nc_error_set(err, EINVAL, "%s: \"%s\" %s", where, Q(q, value), what);
}

static int nomem(nc_error *err) { return nc_error_set(err, ENOMEM, "out of memory"); }

static int push_err(int r, const char *where, nc_error *err) {
  if (r == -E2BIG) return nc_error_set(err, E2BIG, "%s: too many entries (at most %d)", where, NC_MAX_LIST);
  return r < 0 ? nomem(err) : 0;
}

static int check_text(const char *v, size_t max, const char *where, nc_error *err) {
  size_t n = strnlen(v, max);
  if (n == 0) return nc_error_set(err, EINVAL, "%s: must not be empty", where);
  if (n == max) return bad(err, where, v, "is too long");
  for (const char *c = v; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f) return bad(err, where, v, "contains a control character");
  return 0;
}

static int replace_str(char **slot, const char *v, nc_error *err) {
  char *d = strdup(v);
  if (!d) return nomem(err);
  free(*slot);
  *slot = d;
  return 0;
}

static int set_text(char **slot, const char *v, const char *where, nc_error *err) {
  int r = check_text(v, NC_MAX_STR, where, err);
  return r < 0 ? r : replace_str(slot, v, err);
}

/* Normalise an absolute path: collapse "//", drop a trailing "/", refuse
 * "." and ".." components and control characters. out has NC_MAX_PATH bytes. */
static int norm_path(const char *v, char *out, const char *where, nc_error *err) {
  int r = check_text(v, NC_MAX_PATH, where, err);
  if (r < 0) return r;
  if (v[0] != '/') return bad(err, where, v, "is not an absolute path");
  size_t o = 0;
  for (const char *c = v; *c;) {
    while (*c == '/') c++;
    size_t n = strcspn(c, "/");
    if (n == 0) break;
    if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
      return bad(err, where, v, "has a \".\" or \"..\" component");
    out[o++] = '/';
    memcpy(out + o, c, n); /* o + n < strlen(v) + 1 <= NC_MAX_PATH */
    o += n;
    c += n;
  }
  if (o == 0) out[o++] = '/';
  out[o] = '\0';
  return 0;
}

static bool under(const char *path, const char *dir) {
  size_t n = strlen(dir);
  return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* A mount destination: normalised, and not /, /proc, /dev, /sys or below. */
static int mount_dst(const char *v, char *out, const char *where, nc_error *err) {
  int r = norm_path(v, out, where, err);
  if (r < 0) return r;
  if (strcmp(out, "/") == 0 || under(out, "/proc") || under(out, "/dev") || under(out, "/sys"))
    return bad(err, where, v, "cannot be a mount destination (/, /proc, /dev and /sys belong to nanoclaw)");
  return 0;
}

static int set_size(uint64_t *slot, const char *v, const char *where, nc_error *err) {
  uint64_t x;
  int r = nc_parse_size(v, &x);
  if (r == -ERANGE || (r == 0 && x > INT64_MAX)) return bad(err, where, v, "is too large");
  if (r < 0) return bad(err, where, v, "is not a size (try 512m)");
  *slot = x;
  return 0;
}

static int set_range(uint64_t *slot, const char *v, uint64_t lo, uint64_t hi, const char *where, nc_error *err) {
  char what[96];
  if (nc_parse_u64(v, lo, hi, slot) == 0) return 0;
  snprintf(what, sizeof what, "is not a whole number from %llu to %llu", (unsigned long long)lo,
           (unsigned long long)hi);
  return bad(err, where, v, what);
}

static int set_cpus(uint64_t *slot, const char *v, const char *where, nc_error *err) {
  uint64_t x;
  int r = nc_parse_millicpus(v, &x);
  if (r == -ERANGE) return bad(err, where, v, "is too many CPUs");
  if (r < 0) return bad(err, where, v, "is not a CPU count (try 0.5 or 2; at most 3 decimals)");
  if (x == 0) return bad(err, where, v, "is not above 0 (leave cpus unset for no quota)");
  *slot = x;
  return 0;
}

static int set_duration(uint64_t *slot, const char *v, const char *where, nc_error *err) {
  uint64_t x;
  int r = nc_parse_duration_ms(v, &x);
  if (r == -ERANGE) return bad(err, where, v, "is too long a duration");
  if (r < 0) return bad(err, where, v, "is not a duration in seconds (try 60, 2.5 or 500ms)");
  *slot = x;
  return 0;
}

static int set_bool(bool *slot, const char *v, const char *where, nc_error *err) {
  if (nc_parse_bool(v, slot) < 0) return bad(err, where, v, "is not a boolean (try true or false)");
  return 0;
}

static int set_user(nc_profile *p, const char *v, const char *where, nc_error *err) {
  char uid[24];
  uint64_t u, g;
  const char *colon = strchr(v, ':');
  size_t n = colon ? (size_t)(colon - v) : strlen(v);
  if (n >= sizeof uid) return bad(err, where, v, "is not UID[:GID] (numeric, e.g. 1000:1000)");
  memcpy(uid, v, n);
  uid[n] = '\0';
  if (nc_parse_u64(uid, 0, MAX_ID, &u) < 0 || nc_parse_u64(colon ? colon + 1 : uid, 0, MAX_ID, &g) < 0)
    return bad(err, where, v, "is not UID[:GID] (numeric, e.g. 1000:1000)");
  p->uid = (uid_t)u;
  p->gid = (gid_t)g;
  p->user_set = true;
  return 0;
}

/* DNS name: dot-separated labels of [A-Za-z0-9_-], 1..63 bytes each, at most
 * max bytes; with wild, an optional leading "*." */
static bool dns_name_ok(const char *h, size_t n, size_t max, bool wild) {
  if (wild && n > 2 && h[0] == '*' && h[1] == '.') h += 2, n -= 2;
  if (n == 0 || n > max) return false;
  size_t label = 0;
  for (size_t i = 0; i < n; i++) {
    char c = h[i];
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_') {
      if (++label > 63) return false;
    } else {
      return false;
    }
  }
  return label > 0;
}

static int set_hostname(nc_profile *p, const char *v, const char *where, nc_error *err) {
  size_t n = strlen(v);
  bool ok = dns_name_ok(v, n, 64, false) && !strchr(v, '_') && v[0] != '-' && v[n - 1] != '-';
  if (!ok) return bad(err, where, v, "is not a hostname (letters, digits, '-' and '.', at most 64)");
  return replace_str(&p->hostname, v, err);
}

static int set_limits(nc_profile *p, const char *v, const char *where, nc_error *err) {
  if (strcmp(v, "strict") == 0) p->limits = NC_LIMITS_STRICT;
  else if (strcmp(v, "best-effort") == 0 || strcmp(v, "best_effort") == 0) p->limits = NC_LIMITS_BEST_EFFORT;
  else return bad(err, where, v, "is not a limits mode (strict or best-effort)");
  return 0;
}

/* Undo what a previous store image's config set (the profile's own settings stay). */
static void drop_image_config(nc_profile *p) {
  size_t k = 0;
  for (size_t i = 0; i < p->env.n; i++) {
    if (i < p->image_env.n && strcmp(p->env.v[i], p->image_env.v[i]) == 0) free(p->env.v[i]);
    else p->env.v[k++] = p->env.v[i];
  }
  p->env.n = k;
  if (p->env.v) p->env.v[k] = NULL;
  nc_strv_free(&p->image_env);
  nc_strv_free(&p->image_cmd);
  free(p->image_digest);
  p->image_digest = NULL;
  if (!p->workdir_set) replace_str(&p->workdir, "/", NULL);
  if (!p->user_set) p->uid = NC_DEFAULT_UID, p->gid = NC_DEFAULT_GID;
}

static bool env_has(const nc_profile *p, const char *entry) {
  size_t n = (size_t)(strchr(entry, '=') - entry) + 1;
  for (size_t i = 0; i < p->env.n; i++)
    if (strncmp(p->env.v[i], entry, n) == 0) return true;
  return false;
}

/* A store image's config, under the profile: Env where the profile sets no
 * such variable, WorkingDir and User unless set, Entrypoint+Cmd for a run
 * with no command. An image not in the store changes nothing here: the run
 * fails with "not in the local store" when it plans the rootfs. */
static int apply_image_config(nc_profile *p, const char *where, nc_error *err) {
  struct nc_image_entry e;
  struct nc_image_config c;
  nc_error why = {0};
  if (nc_image_load(p->image, NULL, &e, &c, &why) < 0) return 0;
  int r = 0;
  struct nc_strv front = {0};
  for (size_t i = 0; r == 0 && i < c.n_env; i++)
    if (!env_has(p, c.env[i]) && !env_has(&(nc_profile){.env = front}, c.env[i])) r = nc_strv_push(&front, c.env[i]);
  if (r == 0 && front.n + p->env.n > NC_MAX_LIST) r = -E2BIG;
  if (r == 0 && front.n) {
    char **v = realloc(p->env.v, (front.n + p->env.n + 1) * sizeof *v);
    if (!v) {
      r = -ENOMEM;
    } else {
      memmove(v + front.n, v, (p->env.n + 1) * sizeof *v);
      for (size_t i = 0; i < front.n; i++) v[i] = strdup(front.v[i]);
      for (size_t i = 0; i < front.n; i++)
        if (!v[i]) r = -ENOMEM;
      p->env.v = v;
      p->env.n += front.n;
      p->image_env = front;
      front = (struct nc_strv){0};
    }
  }
  nc_strv_free(&front);
  for (size_t i = 0; r == 0 && i < c.argc; i++) r = nc_strv_push(&p->image_cmd, c.argv[i]);
  if (r == 0 && !(p->image_digest = strdup(e.digest))) r = -ENOMEM;
  if (r < 0) r = push_err(r, where, err);
  if (r == 0 && !p->workdir_set && c.workdir) {
    char path[NC_MAX_PATH];
    r = norm_path(c.workdir, path, where, err);
    if (r == 0) r = replace_str(&p->workdir, path, err);
  }
  if (r == 0 && !p->user_set && c.user) {
    uid_t uid;
    gid_t gid;
    /* never root: an image that says root gets the profile's user (1000:1000 by default) */
    if ((r = nc_image_resolve_user(&e, c.user, &uid, &gid, err)) < 0) nc_error_wrap(err, "%s", where);
    else if (uid != 0) p->uid = uid, p->gid = gid ? gid : (gid_t)uid;
  }
  nc_image_entry_clear(&e);
  nc_image_config_free(&c);
  return r;
}

static int set_image(nc_profile *p, const char *v, const char *where, nc_error *err) {
  char path[NC_MAX_PATH];
  drop_image_config(p);
  if (v[0] == '/') {
    int r = norm_path(v, path, where, err);
    return r < 0 ? r : replace_str(&p->image, path, err);
  }
  if (strcmp(v, "host") != 0) {
    struct nc_image_ref ref;
    nc_error why = {0};
    if (nc_image_ref_parse(v, &ref, &why) < 0) return nc_error_set(err, EINVAL, "%s: %s", where, why.msg);
  }
  int r = set_text(&p->image, v, where, err);
  if (r < 0 || strcmp(v, "host") == 0) return r;
  return apply_image_config(p, where, err);
}

static int set_workdir(nc_profile *p, const char *v, const char *where, nc_error *err) {
  char path[NC_MAX_PATH];
  int r = norm_path(v, path, where, err);
  if (r == 0) p->workdir_set = true;
  return r < 0 ? r : replace_str(&p->workdir, path, err);
}

static bool strv_has(const struct nc_strv *v, const char *s) {
  for (size_t i = 0; i < v->n; i++)
    if (strcmp(v->v[i], s) == 0) return true;
  return false;
}

/* HOST[:PORT]: a name, "*.domain", an IPv4 or IPv6 address or network; stored in canonical form
 * (lower case, IDNA, "[v6]", no "/32"), once. */
static int add_allowed_host(nc_profile *p, const char *v, const char *where, nc_error *err) {
  struct nc_allow_entry e;
  char canon[320];
  if (nc_allow_entry_parse(v, &e, err) < 0) return nc_error_wrap(err, "%s", where);
  nc_allow_entry_format(&e, canon, sizeof canon);
  if (strv_has(&p->allowed_hosts, canon)) return 0;
  return push_err(nc_strv_push(&p->allowed_hosts, canon), where, err);
}

/* NAME:IP with IP v4, v6 or [v6]; stored as "name:canonical-ip". */
static int add_add_host(nc_profile *p, const char *v, const char *where, nc_error *err) {
  static const char *what = "is not NAME:IP (e.g. db.internal:10.0.0.5)";
  char ip[INET6_ADDRSTRLEN + 2], canon[INET6_ADDRSTRLEN], entry[300];
  unsigned char addr[sizeof(struct in6_addr)];
  char name[NC_HOST_MAX];
  nc_error why = {0};
  const char *colon = strchr(v, ':');
  if (!colon) return bad(err, where, v, what);
  /* the proxy looks names up in their normalised form (lower case, IDNA) */
  if (nc_host_normalize(v, (size_t)(colon - v), name, &why) < 0)
    return nc_error_set(err, EINVAL, "%s: %s", where, why.msg);
  const char *a = colon + 1;
  size_t n = strlen(a);
  if (n >= 2 && a[0] == '[' && a[n - 1] == ']') a++, n -= 2;
  if (n >= sizeof ip) return bad(err, where, v, what);
  memcpy(ip, a, n);
  ip[n] = '\0';
  int af = inet_pton(AF_INET, ip, addr) == 1 ? AF_INET : inet_pton(AF_INET6, ip, addr) == 1 ? AF_INET6 : 0;
  if (!af || !inet_ntop(af, addr, canon, sizeof canon)) return bad(err, where, v, what);
  snprintf(entry, sizeof entry, "%s:%s", name, canon);
  size_t nl = strlen(name) + 1;
  for (size_t i = 0; i < p->add_hosts.n; i++) {
    if (strcmp(p->add_hosts.v[i], entry) == 0) return 0;
    if (strncmp(p->add_hosts.v[i], entry, nl) == 0) {
      char q[256];
      return nc_error_set(err, EINVAL, "%s: conflicting settings: \"%.*s\" is already mapped to %s", where,
                          (int)(nl - 1), entry, Q(q, p->add_hosts.v[i] + nl));
    }
  }
  return push_err(nc_strv_push(&p->add_hosts, entry), where, err);
}

static bool env_name_ok(const char *s) {
  if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_')) return false;
  for (s++; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
      return false;
  return true;
}

/* Never quote an environment value in a message: it may be a secret. */
int nc_profile_env_put(nc_profile *p, const char *name, const char *value, const char *where, nc_error *err) {
  if (!where) where = "env";
  if (strlen(name) > 255 || !env_name_ok(name))
    return bad(err, where, name, "is not a variable name ([A-Za-z_][A-Za-z0-9_]*)");
  size_t ln = strlen(name), lv = strlen(value);
  if (ln + lv + 2 > NC_MAX_ENV_ENTRY) return bad(err, where, name, "has a value longer than 128 KiB");
  char *entry = malloc(ln + lv + 2);
  if (!entry) return nomem(err);
  memcpy(entry, name, ln);
  entry[ln] = '=';
  memcpy(entry + ln + 1, value, lv + 1);
  for (size_t i = 0; i < p->env.n; i++) {
    if (strncmp(p->env.v[i], entry, ln + 1) == 0) {
      free(p->env.v[i]);
      p->env.v[i] = entry;
      return 0;
    }
  }
  int r = nc_strv_push(&p->env, entry);
  free(entry);
  return push_err(r, where, err);
}

static int add_env(nc_profile *p, const char *v, const char *where, nc_error *err) {
  char name[256];
  const char *eq = strchr(v, '=');
  size_t n = eq ? (size_t)(eq - v) : strlen(v);
  if (n >= sizeof name) return bad(err, where, v, "is not NAME=VALUE or NAME");
  memcpy(name, v, n);
  name[n] = '\0';
  if (eq) return nc_profile_env_put(p, name, eq + 1, where, err);
  if (!env_name_ok(name)) return bad(err, where, name, "is not a variable name ([A-Za-z_][A-Za-z0-9_]*)");
  const char *value = getenv(name);
  if (!value) return bad(err, where, name, "is not set in the caller's environment (use NAME=VALUE)");
  return nc_profile_env_put(p, name, value, where, err);
}

/* Is dst already used by a bind (or by a tmpfs when with_tmpfs)? */
static const char *dst_user(const nc_profile *p, const char *dst, bool with_tmpfs) {
  for (size_t i = 0; i < p->n_binds; i++)
    if (strcmp(p->binds[i].dst, dst) == 0) return "a bind";
  for (size_t i = 0; with_tmpfs && i < p->n_tmpfs; i++)
    if (strcmp(p->tmpfs[i].path, dst) == 0) return "a tmpfs";
  return NULL;
}

static int conflict(nc_error *err, const char *where, const char *dst, const char *what) {
  char q[256];
  return nc_error_set(err, EINVAL, "%s: conflicting settings: \"%s\" is already %s destination", where, Q(q, dst),
                      what);
}

static int add_tmpfs(nc_profile *p, const char *v, const char *where, nc_error *err) {
  char raw[NC_MAX_PATH], path[NC_MAX_PATH];
  uint64_t size = NC_DEFAULT_TMP_SIZE;
  const char *colon = strchr(v, ':');
  size_t n = colon ? (size_t)(colon - v) : strlen(v);
  if (n >= sizeof raw) return bad(err, where, v, "is too long");
  memcpy(raw, v, n);
  raw[n] = '\0';
  int r = mount_dst(raw, path, where, err);
  if (r < 0 || (colon && (r = set_size(&size, colon + 1, where, err)) < 0)) return r;
  if (size == 0) return bad(err, where, colon ? colon + 1 : v, "is not a tmpfs size (must be above 0)");
  for (size_t i = 0; i < p->n_tmpfs; i++) {
    if (strcmp(p->tmpfs[i].path, path) == 0) {
      p->tmpfs[i].size = size; /* a later entry (flags over file) resizes it */
      return 0;
    }
  }
  const char *used = dst_user(p, path, false);
  if (used) return conflict(err, where, path, used);
  if (p->n_tmpfs >= NC_MAX_LIST) return push_err(-E2BIG, where, err);
  struct nc_tmpfs *t = realloc(p->tmpfs, (p->n_tmpfs + 1) * sizeof *t);
  if (!t) return nomem(err);
  p->tmpfs = t;
  if (!(t[p->n_tmpfs].path = strdup(path))) return nomem(err);
  t[p->n_tmpfs++].size = size;
  return 0;
}

static int push_bind(nc_profile *p, const char *src, const char *dst, bool rw, nc_error *err) {
  struct nc_bind *b = realloc(p->binds, (p->n_binds + 1) * sizeof *b);
  if (!b) return nomem(err);
  p->binds = b;
  b += p->n_binds;
  b->src = strdup(src);
  b->dst = strdup(dst);
  b->rw = rw;
  if (!b->src || !b->dst) {
    free(b->src);
    free(b->dst);
    return nomem(err);
  }
  p->n_binds++;
  return 0;
}

static int add_bind(nc_profile *p, const char *v, const char *where, nc_error *err) {
  static const char *what = "is not SRC:DST[:ro|rw]";
  char buf[2 * NC_MAX_PATH + 8], dst[NC_MAX_PATH], q[256];
  size_t len = strlen(v);
  if (len >= sizeof buf) return bad(err, where, v, what);
  memcpy(buf, v, len + 1);
  char *src = buf, *d = strchr(buf, ':'), *opt = d ? strchr(d + 1, ':') : NULL;
  if (!d || (opt && strchr(opt + 1, ':'))) return bad(err, where, v, what);
  *d++ = '\0';
  if (opt) *opt++ = '\0';
  if (opt && strcmp(opt, "ro") != 0 && strcmp(opt, "rw") != 0)
    return bad(err, where, v, "has an option other than ro or rw");
  if (src[0] != '/') return bad(err, where, src, "is not an absolute bind source");
  int r = mount_dst(d, dst, where, err);
  if (r < 0) return r;
  const char *used = dst_user(p, dst, true);
  if (used) return conflict(err, where, dst, used);
  if (p->n_binds >= NC_MAX_LIST) return push_err(-E2BIG, where, err);
  char *real = realpath(src, NULL); /* the runtime opens this O_PATH */
  if (!real) return nc_error_sys(err, errno, "%s: bind source \"%s\"", where, Q(q, src));
  r = push_bind(p, real, dst, opt && strcmp(opt, "rw") == 0, err);
  free(real);
  return r;
}

/* ---- nc_profile_set ---- */

/* A package name with an optional version pin, safe to write into a
 * Dockerfile RUN line: letters, digits, ._+- and the pin characters `extra`. */
static int add_dependency(struct nc_strv *list, const char *v, const char *extra, const char *where, nc_error *err) {
  size_t n = strlen(v);
  bool ok = n > 0 && n <= 214 && ((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z') ||
                                   (v[0] >= '0' && v[0] <= '9') || (v[0] == '@' && strchr(extra, '@')));
  for (size_t i = 0; ok && i < n; i++) {
    char c = v[i];
    ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("._+-", c) ||
         strchr(extra, c);
  }
  if (!ok) return bad(err, where, v, "is not a package name with an optional version pin");
  if (strv_has(list, v)) return 0;
  return push_err(nc_strv_push(list, v), where, err);
}

static int set_audit_log(nc_profile *p, const char *v, const char *where, nc_error *err) {
  if (!strcmp(v, "none") || !strcmp(v, "off")) {
    p->audit.off = true;
    free(p->audit.log);
    p->audit.log = NULL;
    return 0;
  }
  char path[NC_MAX_PATH];
  if (v[0] != '/') return bad(err, where, v, "is not an absolute path (or none)");
  int r = norm_path(v, path, where, err);
  if (r < 0) return r;
  p->audit.off = false;
  return replace_str(&p->audit.log, path, err);
}

/* syslog: tcp://HOST:PORT or udp://HOST:PORT; http: http(s)://HOST[:PORT][/PATH]. */
static int set_sink_url(char **dst, const char *v, bool syslog, const char *where, nc_error *err) {
  const char *rest = NULL;
  if (syslog) {
    if (!strncmp(v, "tcp://", 6) || !strncmp(v, "udp://", 6)) rest = v + 6;
  } else if (!strncmp(v, "http://", 7)) {
    rest = v + 7;
  } else if (!strncmp(v, "https://", 8)) {
    rest = v + 8;
  }
  const char *what = syslog ? "is not tcp://HOST:PORT or udp://HOST:PORT" : "is not an http:// or https:// URL";
  if (!rest || !*rest || strlen(v) > 1024) return bad(err, where, v, what);
  for (const char *c = v; *c; c++)
    if ((unsigned char)*c <= ' ' || *c == 0x7f) return bad(err, where, v, what);
  if (syslog) {
    const char *colon = strrchr(rest, ':');
    uint64_t port;
    if (!colon || colon == rest || strchr(rest, '/') || nc_parse_u64(colon + 1, 1, 65535, &port) < 0)
      return bad(err, where, v, what);
  }
  return replace_str(dst, v, err);
}

int nc_key_set(nc_profile *p, const struct nc_key *k, const char *v, const char *where, nc_error *err) {
  if (!where) where = k->key;
  if (!v) return nc_error_set(err, EINVAL, "%s: needs a value", where);
  switch (k->id) {
    case NC_K_NAME: return set_text(&p->name, v, where, err);
    case NC_K_IMAGE: return set_image(p, v, where, err);
    case NC_K_MEM_LIMIT: return set_size(&p->mem_limit, v, where, err);
    case NC_K_CPU_SHARES: return set_range(&p->cpu_shares, v, 2, MAX_CPU_SHARES, where, err);
    case NC_K_CPUS: return set_cpus(&p->cpus_milli, v, where, err);
    case NC_K_PIDS_LIMIT: return set_range(&p->pids_limit, v, 0, MAX_PIDS, where, err);
    case NC_K_TIMEOUT: return set_duration(&p->timeout_ms, v, where, err);
    case NC_K_NETWORK_DISABLED: return set_bool(&p->network_disabled, v, where, err);
    case NC_K_ALLOWED_HOSTS: return add_allowed_host(p, v, where, err);
    case NC_K_ADD_HOSTS: return add_add_host(p, v, where, err);
    case NC_K_TMPFS: return add_tmpfs(p, v, where, err);
    case NC_K_BINDS: return add_bind(p, v, where, err);
    case NC_K_ENV: return add_env(p, v, where, err);
    case NC_K_WORKDIR: return set_workdir(p, v, where, err);
    case NC_K_USER: return set_user(p, v, where, err);
    case NC_K_HOSTNAME: return set_hostname(p, v, where, err);
    case NC_K_RESULT_JSON: return set_text(&p->result_json, v, where, err);
    case NC_K_LIMITS: return set_limits(p, v, where, err);
    case NC_K_OUTPUT_LIMIT: return set_size(&p->output_limit, v, where, err);
    case NC_K_AUDIT_LOG: return set_audit_log(p, v, where, err);
    case NC_K_AUDIT_FSYNC:
      if (strcmp(v, "record") && strcmp(v, "batch")) return bad(err, where, v, "is not record or batch");
      p->audit.fsync_batch = v[0] == 'b';
      return 0;
    case NC_K_AUDIT_APPEND_ONLY: return set_bool(&p->audit.append_only, v, where, err);
    case NC_K_AUDIT_SYSLOG: return set_sink_url(&p->audit.syslog, v, true, where, err);
    case NC_K_AUDIT_HTTP: return set_sink_url(&p->audit.http, v, false, where, err);
    case NC_K_AUDIT_REQUIRED: return set_bool(&p->audit.required, v, where, err);
    case NC_K_AUDIT_OUTPUT_CAP: return set_size(&p->audit.output_cap, v, where, err);
    case NC_K_DEPS_APT: return add_dependency(&p->deps_apt, v, "=", where, err);
    case NC_K_DEPS_PIP: return add_dependency(&p->deps_pip, v, "=<>!~[],", where, err);
    case NC_K_DEPS_NPM: return add_dependency(&p->deps_npm, v, "@/^~", where, err);
    case NC_K_AGENT_MODEL: return set_text(&p->agent.model, v, where, err);
    case NC_K_AGENT_BASE_URL: return set_sink_url(&p->agent.base_url, v, false, where, err);
    case NC_K_AGENT_API_KEY_ENV:
      if (!env_name_ok(v)) return bad(err, where, v, "is not an environment variable name");
      return replace_str(&p->agent.api_key_env, v, err);
    case NC_K_AGENT_MAX_STEPS: return set_range(&p->agent.max_steps, v, 1, 1000, where, err);
    case NC_K_AGENT_TOOL_TIMEOUT: return set_duration(&p->agent.tool_timeout_ms, v, where, err);
    case NC_K_AGENT_REQUEST_TIMEOUT: return set_duration(&p->agent.request_timeout_ms, v, where, err);
    case NC_K_AGENT_SYSTEM_PROMPT: return set_text(&p->agent.system_prompt, v, where, err);
    case NC_K_CONFIG: break;
  }
  return nc_error_set(err, EINVAL, "%s: not a profile key (use the --config flag)", where);
}

int nc_profile_set(nc_profile *p, const char *key, const char *value, const char *where, nc_error *err) {
  char q[128];
  if (!p || !key) return nc_error_set(err, EINVAL, "nc_profile_set: no profile or key");
  const struct nc_key *k = nc_key_by_name(key);
  if (k) return nc_key_set(p, k, value, where, err);
  const char *hint = nc_key_suggest(key, false);
  return nc_error_set(err, EINVAL, "%s%sunknown key \"%s\"%s%s%s", where ? where : "", where ? ": " : "",
                      Q(q, key), hint ? " (did you mean " : "", hint ? hint : "", hint ? "?)" : "");
}

/* ---- nc_profile_validate ---- */

static int validate_mounts(const nc_profile *p, nc_error *err) {
  char q[256];
  for (size_t i = 0; i < p->n_tmpfs; i++) {
    for (size_t j = i + 1; j < p->n_tmpfs; j++)
      if (strcmp(p->tmpfs[i].path, p->tmpfs[j].path) == 0) return conflict(err, "tmpfs", p->tmpfs[i].path, "a tmpfs");
    for (size_t j = 0; j < p->n_binds; j++)
      if (strcmp(p->tmpfs[i].path, p->binds[j].dst) == 0) return conflict(err, "binds", p->binds[j].dst, "a tmpfs");
    if (p->tmpfs[i].size == 0 || p->tmpfs[i].path[0] != '/')
      return nc_error_set(err, EINVAL, "tmpfs: \"%s\" needs an absolute path and a size", Q(q, p->tmpfs[i].path));
  }
  for (size_t i = 0; i < p->n_binds; i++) {
    for (size_t j = i + 1; j < p->n_binds; j++)
      if (strcmp(p->binds[i].dst, p->binds[j].dst) == 0) return conflict(err, "binds", p->binds[i].dst, "a bind");
    if (p->binds[i].src[0] != '/' || p->binds[i].dst[0] != '/')
      return nc_error_set(err, EINVAL, "binds: \"%s\" needs absolute paths", Q(q, p->binds[i].dst));
  }
  return 0;
}

static int validate_limits(const nc_profile *p, nc_error *err) {
  if (p->mem_limit != 0 && p->mem_limit < MIN_MEM_LIMIT)
    return nc_error_set(err, EINVAL, "mem_limit: %llu bytes is below the minimum of 4m (0 = unlimited)",
                        (unsigned long long)p->mem_limit);
  if (p->cpu_shares < 2 || p->cpu_shares > MAX_CPU_SHARES)
    return nc_error_set(err, ERANGE, "cpu_shares: %llu is not from 2 to %d", (unsigned long long)p->cpu_shares,
                        MAX_CPU_SHARES);
  if (p->pids_limit > MAX_PIDS)
    return nc_error_set(err, ERANGE, "pids_limit: %llu is above %d", (unsigned long long)p->pids_limit, MAX_PIDS);
  if (p->cpus_milli > 1000000000ull)
    return nc_error_set(err, ERANGE, "cpus: %llu millicpus is too many", (unsigned long long)p->cpus_milli);
  if ((uint64_t)p->uid > MAX_ID || (uint64_t)p->gid > MAX_ID)
    return nc_error_set(err, EINVAL, "user: %u:%u is not a valid uid:gid", (unsigned)p->uid, (unsigned)p->gid);
  if (p->limits != NC_LIMITS_STRICT && p->limits != NC_LIMITS_BEST_EFFORT)
    return nc_error_set(err, EINVAL, "limits: unknown mode %d", (int)p->limits);
  return 0;
}

static int validate_lists(const nc_profile *p, nc_error *err) {
  static const char *names[] = {"allowed_hosts", "add_hosts", "env", "tmpfs", "binds"};
  size_t lens[] = {p->allowed_hosts.n, p->add_hosts.n, p->env.n, p->n_tmpfs, p->n_binds};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
    if (lens[i] > NC_MAX_LIST)
      return nc_error_set(err, E2BIG, "%s: %zu entries, at most %d", names[i], lens[i], NC_MAX_LIST);
  for (size_t i = 0; i < p->env.n; i++)
    if (!strchr(p->env.v[i], '='))
      return nc_error_set(err, EINVAL, "env: an entry has no value");
  return 0;
}

int nc_profile_validate(const nc_profile *p, nc_error *err) {
  if (!p) return nc_error_set(err, EINVAL, "no profile");
  if (p->network_disabled && p->allowed_hosts.n > 0)
    return nc_error_set(err, EINVAL,
                        "conflicting settings: network_disabled is true but allowed_hosts lists %zu host%s "
                        "(drop one of them)",
                        p->allowed_hosts.n, p->allowed_hosts.n == 1 ? "" : "s");
  if (!p->image || !*p->image) return nc_error_set(err, EINVAL, "image: must not be empty");
  if (!p->workdir || p->workdir[0] != '/') return nc_error_set(err, EINVAL, "workdir: must be an absolute path");
  if (!p->hostname || !*p->hostname) return nc_error_set(err, EINVAL, "hostname: must not be empty");
  if (p->result_json && !*p->result_json) return nc_error_set(err, EINVAL, "result_json: must not be empty");
  int r = validate_limits(p, err);
  if (r == 0) r = validate_lists(p, err);
  if (r == 0) r = validate_mounts(p, err);
  return r;
}
