/* run-audit.h — the audit records of one run: start, network decisions, limit
 * events, output, end. A thin layer over src/audit for the supervisor. */
#ifndef NC_RUN_RUN_AUDIT_H
#define NC_RUN_RUN_AUDIT_H

#include <jansson.h>
#include <stdbool.h>

#include "audit/audit.h"
#include "config/profile.h"
#include "net/proxy.h"

struct nc_run_audit {
  struct nc_audit *a;   /* NULL: auditing is off */
  const char *id;       /* the sandbox id (borrowed) */
  bool failed;          /* a required sink failed, or the file could not be written: stop the run */
  nc_error err;         /* why */
};

/* Open the log the profile names (nothing when audit.log is none). */
int nc_run_audit_open(struct nc_run_audit *ra, const struct nc_profile *p, const char *id, nc_error *err);
/* The `start` record: who started what, with which profile. */
void nc_run_audit_start(struct nc_run_audit *ra, const struct nc_profile *p, char *const argv[]);
/* Any other record; fields is stolen (may be NULL). */
void nc_run_audit_event(struct nc_run_audit *ra, const char *event, json_t *fields);
void nc_run_audit_output(struct nc_run_audit *ra, int stream, const void *buf, size_t len);
/* nc_proxy_observer: one `net` record per proxied connection. */
void nc_run_audit_net(void *ctx, const struct nc_proxy_event *ev);
/* The `end` record (the result, or the setup error when run_r < 0), then
 * close. Returns 0, or a negative errno with err set when the log (or a
 * required sink) failed. */
int nc_run_audit_end(struct nc_run_audit *ra, const struct nc_profile *p, const nc_run_result *res, int run_r,
                     const nc_error *run_err, nc_error *err);

#endif
