/* audit.c — an audit handle: the file and its sinks, emit, output chunks with the per-sandbox cap, loss records,
 * fsync policy, close. */
#include <errno.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit-internal.h"
#include "core/error.h"
#include "core/util.h"

/* Output accounting of one sandbox. */
struct out_run {
  struct out_run *next;
  char *sandbox; /* NULL for records without one */
  uint64_t recorded, offset[2], dropped[2];
  bool marked; /* the output_truncated record is written */
};

struct nc_audit {
  pthread_mutex_t mu;
  int fd;
  char *path;
  bool fsync_batch, required;
  unsigned unsynced;
  uint64_t last_sync_ns;
  uint64_t output_cap, flush_ms;
  struct out_run *runs;
  struct nc_sink *sinks[2];
  size_t nsinks;
};

int nc_audit_default_path(char *buf, size_t n, nc_error *err) {
  int w;
  const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
  if (geteuid() == 0) {
    w = snprintf(buf, n, "/var/log/nanoclaw/audit.jsonl");
  } else if (xdg && xdg[0] == '/') {
    w = snprintf(buf, n, "%s/nanoclaw/audit.jsonl", xdg);
  } else {
    if (!home || home[0] != '/') {
      struct passwd *pw = getpwuid(geteuid());
      home = pw ? pw->pw_dir : NULL;
    }
    if (!home || home[0] != '/')
      return nc_error_set(err, ENOENT, "no default audit log path: set XDG_STATE_HOME or HOME, or name a file");
    w = snprintf(buf, n, "%s/.local/state/nanoclaw/audit.jsonl", home);
  }
  if (w < 0 || (size_t)w >= n) return nc_error_set(err, ENAMETOOLONG, "the default audit log path is too long");
  return 0;
}

const char *nc_audit_path(const struct nc_audit *a) { return a->path; }

static void free_handle(struct nc_audit *a) {
  while (a->runs) {
    struct out_run *r = a->runs;
    a->runs = r->next;
    free(r->sandbox);
    free(r);
  }
  for (size_t i = 0; i < a->nsinks; i++) nc_sink_unref(a->sinks[i]);
  if (a->fd >= 0) close(a->fd);
  pthread_mutex_destroy(&a->mu);
  free(a->path);
  free(a);
}

static void push_all(struct nc_audit *a, const struct nc_audit_written *w) {
  for (size_t s = 0; s < a->nsinks; s++)
    for (size_t i = 0; i < w->n; i++) nc_sink_push(a->sinks[s], w->line[i], w->len[i], w->time);
}

int nc_audit_open(struct nc_audit **ret, const struct nc_audit_config *cfg, nc_error *err) {
  static const struct nc_audit_config none = {0};
  if (!cfg) cfg = &none;
  struct nc_audit *a = calloc(1, sizeof *a);
  if (!a) return nc_error_set(err, ENOMEM, "opening the audit log");
  a->fd = -1;
  pthread_mutex_init(&a->mu, NULL);
  a->fsync_batch = cfg->fsync_batch;
  a->required = cfg->required;
  a->output_cap = cfg->output_cap_bytes ? cfg->output_cap_bytes : NC_AUDIT_OUTPUT_CAP_DEFAULT;
  a->flush_ms = cfg->sink_flush_ms ? cfg->sink_flush_ms : NC_AUDIT_SINK_FLUSH_MS_DEFAULT;
  uint64_t bound = cfg->sink_buffer_bytes ? cfg->sink_buffer_bytes : NC_AUDIT_SINK_BUFFER_DEFAULT;
  char def[4096];
  int r = 0;
  nc_autofree char *genesis = NULL;
  if (!cfg->path && (r = nc_audit_default_path(def, sizeof def, err)) < 0) goto fail;
  a->path = strdup(cfg->path ? cfg->path : def);
  if (!a->path) {
    r = nc_error_set(err, ENOMEM, "opening the audit log");
    goto fail;
  }
  const char *urls[2] = {cfg->syslog_url, cfg->http_url};
  const struct nc_sink_ops *ops[2] = {&nc_sink_syslog_ops, &nc_sink_http_ops};
  for (size_t i = 0; i < 2; i++) {
    if (!urls[i]) continue;
    if ((r = nc_sink_start(&a->sinks[a->nsinks], ops[i], urls[i], bound, err)) < 0) goto fail;
    a->nsinks++;
  }
  if ((r = nc_audit_file_open(a->path, cfg->append_only, &a->fd, &genesis, err)) < 0) goto fail;
  if (genesis) { /* this handle created the log: the sinks get the chain from its start */
    struct nc_audit_written w = {.n = 1, .line = {genesis}, .len = {strlen(genesis)}};
    memcpy(w.time, genesis + strlen("{\"seq\":0,\"time\":\""), NC_AUDIT_TIME_LEN);
    push_all(a, &w);
  }
  a->last_sync_ns = nc_now_ns();
  *ret = a;
  return 0;
fail:
  for (size_t i = 0; i < a->nsinks; i++) nc_sink_stop(a->sinks[i], nc_now_ns());
  free_handle(a);
  return r;
}

static int sync_locked(struct nc_audit *a, nc_error *err) {
  if (a->unsynced == 0) return 0;
  if (fsync(a->fd) < 0) return nc_error_sys(err, errno, "syncing audit log `%s`", a->path);
  a->unsynced = 0;
  a->last_sync_ns = nc_now_ns();
  return 0;
}

static int append_locked(struct nc_audit *a, const char *sandbox, const char *event, json_t *fields, nc_error *err) {
  bool sync = !a->fsync_batch || a->unsynced + 1 >= NC_AUDIT_FSYNC_BATCH_RECORDS ||
              nc_now_ns() - a->last_sync_ns >= NC_AUDIT_FSYNC_BATCH_MS * 1000000ull;
  struct nc_audit_written w;
  int r = nc_audit_file_append(a->fd, a->path, sandbox, event, fields, sync, &w, err);
  if (r < 0) return r;
  if (sync) {
    a->unsynced = 0;
    a->last_sync_ns = nc_now_ns();
  } else {
    a->unsynced += (unsigned)w.n;
  }
  push_all(a, &w);
  nc_audit_written_free(&w);
  return 0;
}

/* Write a sink_loss record for each sink whose losses are due (it delivered again, or final). */
static int report_losses_locked(struct nc_audit *a, bool final, nc_error *err) {
  int rc = 0;
  for (size_t i = 0; i < a->nsinks; i++) {
    uint64_t recs, bytes;
    char why[512];
    if (!nc_sink_take_loss(a->sinks[i], final, &recs, &bytes, why, sizeof why)) continue;
    json_t *f = json_object();
    if (!f || json_object_set_new(f, "sink", json_string(a->sinks[i]->label)) < 0 ||
        json_object_set_new(f, "records_lost", json_integer((json_int_t)recs)) < 0 ||
        json_object_set_new(f, "bytes_lost", json_integer((json_int_t)bytes)) < 0 ||
        json_object_set_new(f, "reason", json_string(why)) < 0 ||
        json_object_set_new(f, "at_close", json_boolean(final)) < 0) {
      json_decref(f);
      return nc_error_set(err, ENOMEM, "writing a sink_loss record");
    }
    int r = append_locked(a, NULL, "sink_loss", f, err);
    json_decref(f);
    if (r < 0 && rc == 0) rc = r;
  }
  return rc;
}

/* required: a sink known to be failing, or one that lost records, is an error. */
static int check_required_locked(struct nc_audit *a, nc_error *err) {
  if (!a->required) return 0;
  for (size_t i = 0; i < a->nsinks; i++) {
    char why[512];
    if (nc_sink_failing(a->sinks[i], why, sizeof why))
      return nc_error_set(err, EIO, "audit sink %s is failing (audit required): %s", a->sinks[i]->label, why);
  }
  return 0;
}

int nc_audit_emit(struct nc_audit *a, const char *sandbox, const char *event, json_t *fields, nc_error *err) {
  pthread_mutex_lock(&a->mu);
  int r = append_locked(a, sandbox, event, fields, err);
  if (r == 0) r = report_losses_locked(a, false, err);
  if (r == 0) r = check_required_locked(a, err);
  pthread_mutex_unlock(&a->mu);
  return r;
}

int nc_audit_sync(struct nc_audit *a, nc_error *err) {
  pthread_mutex_lock(&a->mu);
  int r = sync_locked(a, err);
  pthread_mutex_unlock(&a->mu);
  return r;
}

static bool same(const char *x, const char *y) { return x == y || (x && y && !strcmp(x, y)); }

static struct out_run *find_run(struct nc_audit *a, const char *sandbox, bool create) {
  for (struct out_run *r = a->runs; r; r = r->next)
    if (same(r->sandbox, sandbox)) return r;
  if (!create) return NULL;
  struct out_run *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  if (sandbox && !(r->sandbox = strdup(sandbox))) {
    free(r);
    return NULL;
  }
  r->next = a->runs;
  a->runs = r;
  return r;
}

static int emit_chunk(struct nc_audit *a, const char *sandbox, const char *stream, uint64_t offset,
                      const unsigned char *p, size_t n, nc_error *err) {
  /* Text when it is valid UTF-8 and its JSON escaping is not bigger than
   * base64 (16 KiB of NULs would escape to 96 KiB, over the record bound). */
  size_t escaped = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = p[i];
    escaped += c == '"' || c == '\\' || c == '\n' || c == '\t' || c == '\r' || c == '\b' || c == '\f' ? 2 : c < 0x20 ? 6 : 1;
  }
  json_t *data = escaped <= 4 * ((n + 2) / 3) ? json_stringn((const char *)p, n) : NULL; /* NULL: not UTF-8 */
  bool b64 = !data;
  if (b64) {
    char *enc = malloc(4 * ((n + 2) / 3) + 1);
    if (!enc) return nc_error_set(err, ENOMEM, "recording output");
    EVP_EncodeBlock((unsigned char *)enc, p, (int)n);
    data = json_string(enc);
    free(enc);
  }
  json_t *f = json_object();
  int bad = !f || !data || json_object_set_new(f, "stream", json_string(stream)) < 0 ||
            json_object_set_new(f, "offset", json_integer((json_int_t)offset)) < 0 ||
            json_object_set_new(f, "bytes", json_integer((json_int_t)n)) < 0 ||
            json_object_set_new(f, "data", data) < 0 ||
            (b64 && json_object_set_new(f, "encoding", json_string("base64")) < 0);
  if (bad) {
    if (!f) json_decref(data);
    json_decref(f);
    return nc_error_set(err, ENOMEM, "recording output");
  }
  int r = append_locked(a, sandbox, "output", f, err);
  json_decref(f);
  return r;
}

/* Cut n bytes of p at most, backing up over an incomplete UTF-8 sequence at the end when that keeps the
 * chunk readable text. */
static size_t chunk_len(const unsigned char *p, size_t avail, size_t n) {
  if (n >= avail) return avail;
  for (size_t back = 0; back < 4 && back < n; back++) {
    unsigned char c = p[n - back];
    if ((c & 0xc0) != 0x80) return back < n ? n - back : n; /* p[n - back] starts a character */
  }
  return n;
}

int nc_audit_output(struct nc_audit *a, const char *sandbox, int stream, const void *buf, size_t len, nc_error *err) {
  if (stream != NC_AUDIT_STDOUT && stream != NC_AUDIT_STDERR)
    return nc_error_set(err, EINVAL, "recording output: stream %d is not stdout (1) or stderr (2)", stream);
  const char *name = stream == NC_AUDIT_STDOUT ? "stdout" : "stderr";
  int si = stream - 1, r = 0;
  pthread_mutex_lock(&a->mu);
  struct out_run *run = find_run(a, sandbox, true);
  if (!run) {
    pthread_mutex_unlock(&a->mu);
    return nc_error_set(err, ENOMEM, "recording output");
  }
  const unsigned char *p = buf;
  while (len > 0 && r == 0) {
    uint64_t room = run->recorded < a->output_cap ? a->output_cap - run->recorded : 0;
    if (room == 0) {
      run->dropped[si] += len;
      run->offset[si] += len;
      if (!run->marked) {
        json_t *f = json_pack("{s:s,s:I}", "stream", name, "cap_bytes", (json_int_t)a->output_cap);
        r = f ? append_locked(a, sandbox, "output_truncated", f, err) : nc_error_set(err, ENOMEM, "recording output");
        json_decref(f);
        run->marked = true;
      }
      break;
    }
    uint64_t want = len;
    if (want > NC_AUDIT_CHUNK_MAX) want = NC_AUDIT_CHUNK_MAX;
    if (want > room) want = room;
    size_t n = chunk_len(p, len, (size_t)want);
    r = emit_chunk(a, sandbox, name, run->offset[si], p, n, err);
    run->recorded += n;
    run->offset[si] += n;
    p += n;
    len -= n;
  }
  if (r == 0) r = report_losses_locked(a, false, err);
  if (r == 0) r = check_required_locked(a, err);
  pthread_mutex_unlock(&a->mu);
  return r;
}

static int output_end_locked(struct nc_audit *a, const char *sandbox, nc_error *err) {
  struct out_run **pp = &a->runs;
  while (*pp && !same((*pp)->sandbox, sandbox)) pp = &(*pp)->next;
  struct out_run *run = *pp;
  if (!run) return 0;
  *pp = run->next;
  int r = 0;
  if (run->dropped[0] || run->dropped[1]) {
    json_t *f = json_pack("{s:I,s:I,s:I}", "cap_bytes", (json_int_t)a->output_cap, "stdout_dropped_bytes",
                          (json_int_t)run->dropped[0], "stderr_dropped_bytes", (json_int_t)run->dropped[1]);
    r = f ? append_locked(a, sandbox, "output_dropped", f, err) : nc_error_set(err, ENOMEM, "recording output");
    json_decref(f);
  }
  free(run->sandbox);
  free(run);
  return r;
}

int nc_audit_output_end(struct nc_audit *a, const char *sandbox, nc_error *err) {
  pthread_mutex_lock(&a->mu);
  int r = output_end_locked(a, sandbox, err);
  pthread_mutex_unlock(&a->mu);
  return r;
}

int nc_audit_close(struct nc_audit *a, nc_error *err) {
  if (!a) return 0;
  int rc = 0, r;
  nc_error e = {0};
#define KEEP_FIRST(call)               \
  do {                                 \
    if ((r = (call)) < 0 && rc == 0) { \
      rc = r;                          \
      if (err) *err = e;               \
    }                                  \
  } while (0)
  pthread_mutex_lock(&a->mu);
  while (a->runs) KEEP_FIRST(output_end_locked(a, a->runs->sandbox, &e));
  uint64_t deadline = nc_now_ns() + a->flush_ms * 1000000ull;
  for (size_t i = 0; i < a->nsinks; i++) nc_sink_stop(a->sinks[i], deadline);
  uint64_t lost[2] = {0};
  char why[2][512];
  for (size_t i = 0; i < a->nsinks; i++) lost[i] = nc_sink_total_lost(a->sinks[i], why[i], sizeof why[i]);
  KEEP_FIRST(report_losses_locked(a, true, &e));
  KEEP_FIRST(sync_locked(a, &e));
#undef KEEP_FIRST
  for (size_t i = 0; rc == 0 && a->required && i < a->nsinks; i++) {
    if (lost[i] == 0) continue;
    rc = nc_error_set(err, EIO, "audit sink %s lost %llu record%s (audit required): %s", a->sinks[i]->label,
                      (unsigned long long)lost[i], lost[i] == 1 ? "" : "s", why[i]);
  }
  pthread_mutex_unlock(&a->mu);
  free_handle(a);
  return rc;
}
