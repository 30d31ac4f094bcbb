/* verify.c — check an audit log's hash chain and name the first bad line. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit-internal.h"
#include "core/error.h"
#include "core/util.h"

/* A record accepted into the chain. */
struct link {
  bool set;
  uint64_t seq, lineno;
  char hash[NC_AUDIT_HEX_LEN + 1];
  size_t len; /* of its line, for a torn record that acknowledges it */
};

struct verify {
  const struct nc_audit_verify_opts *o;
  FILE *out;
  uint64_t records;
  struct link last, before_last;
  /* Incomplete lines waiting for the torn record that acknowledges them. */
  bool pending;
  uint64_t pending_line;
  char pending_why[sizeof(((nc_error *)0)->msg)];
  EVP_MD_CTX *region;
  uint64_t region_len;
  /* expectations */
  bool head_found;
  uint64_t head_seq;
};

__attribute__((format(printf, 3, 4))) static int fail(struct verify *v, uint64_t lineno, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(v->out, "line %" PRIu64 ": ", lineno);
  vfprintf(v->out, fmt, ap);
  fputc('\n', v->out);
  va_end(ap);
  return 1;
}

static void region_start(struct verify *v, uint64_t lineno, const char *why, const char *line, size_t len) {
  v->pending = true;
  v->pending_line = lineno;
  snprintf(v->pending_why, sizeof v->pending_why, "%s", why);
  EVP_DigestInit_ex(v->region, EVP_sha256(), NULL);
  EVP_DigestUpdate(v->region, line, len);
  v->region_len = len;
}

static void region_add(struct verify *v, const char *line, size_t len) {
  EVP_DigestUpdate(v->region, "\n", 1);
  EVP_DigestUpdate(v->region, line, len);
  v->region_len += 1 + len;
}

static void region_hex(struct verify *v, char out[NC_AUDIT_HEX_LEN + 1]) {
  static const char hexd[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_DigestFinal_ex(v->region, md, &n);
  for (unsigned i = 0; i < 32; i++) {
    out[2 * i] = hexd[md[i] >> 4];
    out[2 * i + 1] = hexd[md[i] & 15];
  }
  out[NC_AUDIT_HEX_LEN] = '\0';
}

/* A record with torn_bytes/torn_sha256 says which bytes before it are the remains of an interrupted write:
 * the pending incomplete lines, or the previous line (a complete record whose newline never made it). */
static int acknowledge(struct verify *v, uint64_t lineno, const struct nc_audit_rec *rec, const char *prev_line_hash) {
  if (v->pending) {
    char hex[NC_AUDIT_HEX_LEN + 1];
    region_hex(v, hex);
    if (rec->torn_bytes != v->region_len || strcmp(hex, rec->torn_sha256))
      return fail(v, v->pending_line, "%s (and the `%s` record on line %" PRIu64 " does not acknowledge it)",
                  v->pending_why, rec->event, lineno);
    v->pending = false;
    return 0;
  }
  if (v->last.set && rec->torn_bytes == v->last.len && !strcmp(prev_line_hash, rec->torn_sha256)) {
    if (v->head_found && v->head_seq == v->last.seq) v->head_found = false;
    v->last = v->before_last;
    v->before_last.set = false;
    v->records--;
    return 0;
  }
  return fail(v, lineno, "a `%s` record, but no incomplete line before it matches its torn_bytes/torn_sha256",
              rec->event);
}

static int chain(struct verify *v, uint64_t lineno, const struct nc_audit_rec *rec, const char *hash, size_t len) {
  static const char zeros[] = "0000000000000000000000000000000000000000000000000000000000000000";
  if (!v->last.set) {
    if (strcmp(rec->event, "genesis") || rec->seq != 0 || strcmp(rec->prev, zeros))
      return fail(v, lineno, "the log does not start with a genesis record (seq 0, prev 0...0)");
  } else {
    if (!strcmp(rec->event, "genesis")) return fail(v, lineno, "a second genesis record inside the chain");
    if (rec->seq != v->last.seq + 1)
      return fail(v, lineno, "seq %" PRIu64 " follows seq %" PRIu64 " (a record was removed, inserted or moved)",
                  rec->seq, v->last.seq);
    if (strcmp(rec->prev, v->last.hash))
      return fail(v, lineno,
                  "prev does not match the SHA-256 of line %" PRIu64
                  " (a record was changed, removed, inserted or moved)",
                  v->last.lineno);
  }
  v->before_last = v->last;
  v->last = (struct link){.set = true, .seq = rec->seq, .lineno = lineno, .len = len};
  memcpy(v->last.hash, hash, sizeof v->last.hash);
  v->records++;
  if (v->o->expect_head && !strcmp(hash, v->o->expect_head)) {
    v->head_found = true;
    v->head_seq = rec->seq;
  }
  return 0;
}

static int line(struct verify *v, uint64_t lineno, const char *text, size_t len) {
  struct nc_audit_rec rec;
  nc_error e = {0};
  char hash[NC_AUDIT_HEX_LEN + 1];
  nc_audit_sha256_hex(text, len, hash);
  if (nc_audit_record_parse(text, len, &rec, &e) < 0) {
    if (!v->pending) {
      region_start(v, lineno, e.msg, text, len);
    } else {
      region_add(v, text, len);
      if (v->region_len > NC_AUDIT_TORN_MAX) return fail(v, v->pending_line, "%s", v->pending_why);
    }
    return 0;
  }
  int r = 0;
  if (rec.has_torn) {
    r = acknowledge(v, lineno, &rec, v->last.hash);
  } else if (v->pending) {
    /* A complete record after incomplete lines may still be part of what a torn record will cover. */
    region_add(v, text, len);
    if (v->region_len > NC_AUDIT_TORN_MAX) r = fail(v, v->pending_line, "%s", v->pending_why);
    nc_audit_rec_free(&rec);
    return r;
  }
  if (r == 0) r = chain(v, lineno, &rec, hash, len);
  nc_audit_rec_free(&rec);
  return r;
}

static int finish(struct verify *v, size_t tail, uint64_t lineno) {
  if (v->pending) return fail(v, v->pending_line, "%s", v->pending_why);
  if (!v->last.set) {
    if (tail) return fail(v, lineno + 1, "the log does not start with a genesis record (an incomplete line)");
    fprintf(v->out, "line 1: the file is empty (no genesis record)\n");
    return 1;
  }
  if (v->o->expect_seq >= 0 && v->last.seq < (uint64_t)v->o->expect_seq) {
    fprintf(v->out,
            "end of file: the chain ends at seq %" PRIu64 ", expected seq %" PRId64
            " (records were removed from the end)\n",
            v->last.seq, v->o->expect_seq);
    return 1;
  }
  if (v->o->expect_head && !v->head_found) {
    fprintf(v->out, "end of file: no record has sha256 %.64s (the head known from elsewhere is not in this chain)\n",
            v->o->expect_head);
    return 1;
  }
  if (v->o->expect_head && v->o->expect_seq >= 0 && v->head_seq != (uint64_t)v->o->expect_seq) {
    fprintf(v->out, "end of file: sha256 %.64s is the record of seq %" PRIu64 ", expected seq %" PRId64 "\n",
            v->o->expect_head, v->head_seq, v->o->expect_seq);
    return 1;
  }
  fprintf(v->out, "ok: %" PRIu64 " records, chain intact\n", v->records);
  fprintf(v->out, "head: seq %" PRIu64 " sha256 %s\n", v->last.seq, v->last.hash);
  if (tail) fprintf(v->out, "note: last line incomplete (interrupted write), not counted\n");
  return 0;
}

int nc_audit_verify(const char *path, const struct nc_audit_verify_opts *o, FILE *out, nc_error *err) {
  static const struct nc_audit_verify_opts none = {.expect_seq = -1};
  if (!o) o = &none;
  if (o->expect_head && !nc_audit_is_hex64(o->expect_head))
    return nc_error_set(err, EINVAL, "--expect-head: expected 64 lowercase hex digits (a SHA-256)");
  nc_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return nc_error_sys(err, errno, "opening audit log `%s`", path);
  struct nc_linereader lr;
  if (nc_linereader_init(&lr, fd) < 0) return nc_error_set(err, ENOMEM, "reading audit log `%s`", path);
  struct verify v = {.o = o, .out = out, .region = EVP_MD_CTX_new()};
  int rc = v.region ? 0 : nc_error_set(err, ENOMEM, "reading audit log `%s`", path);
  while (rc == 0) {
    const char *text;
    size_t len;
    int n = nc_linereader_next(&lr, &text, &len);
    if (n == -E2BIG) {
      fprintf(out, "line %" PRIu64 ": longer than %u bytes (not an audit record)\n", lr.lineno,
              NC_AUDIT_RECORD_MAX - 1);
      rc = 1;
    } else if (n < 0) {
      rc = nc_error_sys(err, -n, "reading audit log `%s`", path);
    } else if (n == 0) {
      rc = finish(&v, nc_linereader_pending(&lr), lr.lineno);
      break;
    } else {
      rc = line(&v, lr.lineno, text, len);
    }
  }
  EVP_MD_CTX_free(v.region);
  nc_linereader_fini(&lr);
  return rc;
}
