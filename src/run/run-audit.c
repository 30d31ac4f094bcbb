/* run-audit.c — what one run writes to the audit log. Environment values
 * never go to the log (they may be secrets): the profile is recorded with
 * env names only, and by its SHA-256 digest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run/run-audit.h"

int nc_run_audit_open(struct nc_run_audit *ra, const struct nc_profile *p, const char *id, nc_error *err) {
  memset(ra, 0, sizeof *ra);
  ra->id = id;
  if (p->audit.off) return 0;
  struct nc_audit_config cfg = {
      .path = p->audit.log,
      .fsync_batch = p->audit.fsync_batch,
      .append_only = p->audit.append_only,
      .syslog_url = p->audit.syslog,
      .http_url = p->audit.http,
      .required = p->audit.required,
      .output_cap_bytes = p->audit.output_cap,
  };
  nc_error e = {0};
  int r = nc_audit_open(&ra->a, &cfg, &e);
  if (r < 0) return nc_error_set(err, e.code ? e.code : -r, "audit log: %s", e.msg);
  return 0;
}

static void note_failure(struct nc_run_audit *ra, int r, const nc_error *e) {
  if (ra->failed) return;
  ra->failed = true;
  nc_error_set(&ra->err, e->code ? e->code : -r, "audit: %s", e->msg[0] ? e->msg : strerror(-r));
}

void nc_run_audit_event(struct nc_run_audit *ra, const char *event, json_t *fields) {
  if (ra->a) {
    nc_error e = {0};
    int r = nc_audit_emit(ra->a, ra->id, event, fields, &e);
    if (r < 0) note_failure(ra, r, &e);
  }
  json_decref(fields);
}

void nc_run_audit_output(struct nc_run_audit *ra, int stream, const void *buf, size_t len) {
  if (!ra->a || len == 0) return;
  nc_error e = {0};
  int r = nc_audit_output(ra->a, ra->id, stream == 1 ? NC_AUDIT_STDOUT : NC_AUDIT_STDERR, buf, len, &e);
  if (r < 0) note_failure(ra, r, &e);
}

void nc_run_audit_start(struct nc_run_audit *ra, const struct nc_profile *p, char *const argv[]) {
  if (!ra->a) return;
  nc_error e = {0};
  json_t *profile = nc_profile_json_redacted(p, &e);
  char digest[65] = "";
  if (!profile || nc_profile_digest_of(profile, digest, &e) < 0) digest[0] = '\0'; /* one profile JSON, not two */
  json_t *args = json_array();
  for (size_t i = 0; i < 4096 && argv[i]; i++) json_array_append_new(args, json_string(argv[i]));
  json_t *f = json_pack("{s:s?, s:s, s:o, s:I, s:I, s:o}", "name", p->name, "profile_sha256", digest, "argv", args,
                        "host_uid", (json_int_t)getuid(), "host_pid", (json_int_t)getpid(), "profile",
                        profile ? profile : json_null());
  nc_run_audit_event(ra, "start", f);
}

void nc_run_audit_net(void *ctx, const struct nc_proxy_event *ev) {
  struct nc_run_audit *ra = ctx;
  json_t *f = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s?, s:I, s:I, s:I}", "decision", ev->allowed ? "allowed" : "denied",
                        "proto", ev->proto, "host", ev->host, "port", (int)ev->port, "addr", ev->addr, "reason",
                        ev->reason, "bytes_out", (json_int_t)ev->bytes_out, "bytes_in", (json_int_t)ev->bytes_in,
                        "duration_ms", (json_int_t)ev->duration_ms);
  nc_run_audit_event(ra, "net", f);
}

int nc_run_audit_end(struct nc_run_audit *ra, const struct nc_profile *p, const nc_run_result *res, int run_r,
                     const nc_error *run_err, nc_error *err) {
  if (!ra->a) return 0;
  nc_error e = {0};
  int r = nc_audit_output_end(ra->a, ra->id, &e);
  if (r < 0) note_failure(ra, r, &e);
  json_t *f;
  if (run_r < 0) {
    f = json_pack("{s:s, s:i}", "error", run_err && run_err->msg[0] ? run_err->msg : strerror(-run_r), "exit_code",
                  NC_EXIT_SETUP);
  } else {
    char *rj = nc_run_result_to_json(p, res);
    json_t *result = rj ? json_loads(rj, 0, NULL) : NULL;
    free(rj);
    f = json_pack("{s:o}", "result", result ? result : json_null());
  }
  nc_run_audit_event(ra, "end", f);
  memset(&e, 0, sizeof e);
  r = nc_audit_close(ra->a, &e);
  ra->a = NULL;
  if (r < 0) note_failure(ra, r, &e);
  if (ra->failed) return nc_error_set(err, ra->err.code ? ra->err.code : EIO, "%s", ra->err.msg);
  return 0;
}
