/* nc-audit-emit.c — write N audit records through the library (tests/integration/audit_cli.sh).
 * Usage: nc-audit-emit [--log FILE] [--syslog URL] [--http URL] [--required] [--batch] [--append-only]
 *                      [--sandbox ID] [--flush-ms N] [--buffer BYTES] [--output BYTES] [--delay-ms N] N
 * Emits one `start`, N `exec` records {i, argv}, --output BYTES of text as stdout output, one `end`.
 * Prints the elapsed milliseconds of the emits and of close on stdout: "emit_ms=E close_ms=C". */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/util.h"

static int die(const char *what, const nc_error *err) {
  fprintf(stderr, "nc-audit-emit: %s: %s\n", what, err->msg);
  return 1;
}

int main(int argc, char **argv) {
  struct nc_audit_config cfg = {0};
  const char *sandbox = "sb-test";
  long n = -1, delay_ms = 0;
  unsigned long output = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--required"))
      cfg.required = true;
    else if (!strcmp(a, "--batch"))
      cfg.fsync_batch = true;
    else if (!strcmp(a, "--append-only"))
      cfg.append_only = true;
    else if (v && !strcmp(a, "--log"))
      cfg.path = v, i++;
    else if (v && !strcmp(a, "--syslog"))
      cfg.syslog_url = v, i++;
    else if (v && !strcmp(a, "--http"))
      cfg.http_url = v, i++;
    else if (v && !strcmp(a, "--sandbox"))
      sandbox = v, i++;
    else if (v && !strcmp(a, "--flush-ms"))
      cfg.sink_flush_ms = strtoull(v, NULL, 10), i++;
    else if (v && !strcmp(a, "--buffer"))
      cfg.sink_buffer_bytes = strtoull(v, NULL, 10), i++;
    else if (v && !strcmp(a, "--output"))
      output = strtoul(v, NULL, 10), i++;
    else if (v && !strcmp(a, "--delay-ms"))
      delay_ms = strtol(v, NULL, 10), i++;
    else if (a[0] != '-' && n < 0)
      n = strtol(a, NULL, 10);
    else {
      fprintf(stderr, "nc-audit-emit: bad argument \"%s\"\n", a);
      return 2;
    }
  }
  if (n < 0) {
    fprintf(stderr, "nc-audit-emit: N missing\n");
    return 2;
  }
  nc_error err = {0};
  struct nc_audit *a = NULL;
  uint64_t t0 = nc_now_ns();
  if (nc_audit_open(&a, &cfg, &err) < 0) return die("open", &err);
  json_t *f = json_pack("{s:[s,s],s:i}", "argv", "nc-audit-emit", "start", "pid", (int)getpid());
  int r = nc_audit_emit(a, sandbox, "start", f, &err);
  json_decref(f);
  for (long i = 0; r == 0 && i < n; i++) {
    char num[32];
    snprintf(num, sizeof num, "%ld", i);
    f = json_pack("{s:i,s:[s,s]}", "i", (int)i, "argv", "echo", num);
    r = nc_audit_emit(a, sandbox, "exec", f, &err);
    json_decref(f);
    if (delay_ms > 0) usleep((useconds_t)delay_ms * 1000);
  }
  if (r == 0 && output > 0) {
    char *buf = malloc(output);
    if (!buf) return 1;
    for (unsigned long i = 0; i < output; i++) buf[i] = (i % 64 == 63) ? '\n' : (char)('a' + i % 26);
    r = nc_audit_output(a, sandbox, NC_AUDIT_STDOUT, buf, output, &err);
    free(buf);
  }
  if (r == 0) {
    f = json_pack("{s:i}", "exit_code", 0);
    r = nc_audit_emit(a, sandbox, "end", f, &err);
    json_decref(f);
  }
  uint64_t t1 = nc_now_ns();
  nc_error cerr = {0};
  int c = nc_audit_close(a, &cerr);
  uint64_t t2 = nc_now_ns();
  printf("emit_ms=%llu close_ms=%llu\n", (unsigned long long)((t1 - t0) / 1000000),
         (unsigned long long)((t2 - t1) / 1000000));
  if (r < 0) return die("emit", &err);
  if (c < 0) return die("close", &cerr);
  return 0;
}
