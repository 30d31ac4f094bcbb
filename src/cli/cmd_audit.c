/* cmd_audit.c — `nanoclaw audit verify|show`: check an audit log's hash chain, print its records. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/parse.h"
#include "nanoclaw.h"

#define EXIT_BAD 1
#define EXIT_USAGE 125

static const char usage[] =
    "Usage: nanoclaw audit verify [FILE] [--expect-seq N] [--expect-head SHA256]\n"
    "       nanoclaw audit show [FILE] [--sandbox ID] [--event TYPE] [--follow] [--json]\n"
    "\n"
    "FILE is an audit log (JSON Lines, one hash-chained record a line); without it, the default log:\n"
    "/var/log/nanoclaw/audit.jsonl as root, else $XDG_STATE_HOME/nanoclaw/audit.jsonl\n"
    "(~/.local/state/nanoclaw/audit.jsonl).\n"
    "\n"
    "verify  check the chain: prints `ok: N records, chain intact` and the head (seq and SHA-256 of\n"
    "        the last record) and exits 0, or names the first bad line and why and exits 1. An edit,\n"
    "        a deletion, a reordering or an insertion anywhere is found; records cut from the end of\n"
    "        the file are not, unless you give a head recorded elsewhere (a remote sink, an earlier\n"
    "        verify):\n"
    "  --expect-seq N         the chain must reach seq N\n"
    "  --expect-head SHA256   the chain must contain the record with this SHA-256\n"
    "show    print the records, one a line: TIME SEQ SANDBOX EVENT key=value...\n"
    "  --sandbox ID           only this sandbox's records\n"
    "  --event TYPE           only records of this event (start, exec, net, output, end, ...)\n"
    "  --follow               keep printing records as they are appended (until interrupted)\n"
    "  --json                 print the matching records as they are in the file\n"
    "\n"
    "Exit status: 0 ok, 1 verify found a bad record, 125 usage or I/O error.\n";

__attribute__((format(printf, 2, 3))) static int usage_error(const char *sub, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "nanoclaw: audit%s%s: ", sub ? " " : "", sub ? sub : "");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs(" (try `nanoclaw audit --help`)\n", stderr);
  return EXIT_USAGE;
}

/* The FILE operand, or the default log. */
static int log_path(const char *file, char *buf, size_t n, const char *sub) {
  nc_error err = {0};
  if (file) {
    snprintf(buf, n, "%s", file);
    return 0;
  }
  if (nc_audit_default_path(buf, n, &err) < 0) {
    fprintf(stderr, "nanoclaw: audit %s: %s\n", sub, err.msg);
    return -1;
  }
  return 0;
}

static int cmd_verify(int argc, char **argv) {
  struct nc_audit_verify_opts o = {.expect_seq = -1};
  const char *file = NULL;
  char q[256];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return 0;
    }
    if (!strcmp(a, "--expect-seq") || !strcmp(a, "--expect-head")) {
      if (i + 1 >= argc) return usage_error("verify", "%s needs a value", a);
      const char *v = argv[++i];
      if (a[9] == 's') {
        uint64_t n;
        if (nc_parse_u64(v, 0, INT64_MAX, &n) < 0)
          return usage_error("verify", "--expect-seq `%s`: not a number", nc_quote(q, sizeof q, v));
        o.expect_seq = (int64_t)n;
      } else {
        o.expect_head = v;
      }
      continue;
    }
    if (a[0] == '-' && a[1]) return usage_error("verify", "unknown option `%s`", nc_quote(q, sizeof q, a));
    if (file) return usage_error("verify", "one FILE only; `%s` is extra", nc_quote(q, sizeof q, a));
    file = a;
  }
  char path[4096];
  if (log_path(file, path, sizeof path, "verify") < 0) return EXIT_USAGE;
  nc_error err = {0};
  int r = nc_audit_verify(path, &o, stdout, &err);
  fflush(stdout);
  if (r < 0) {
    fprintf(stderr, "nanoclaw: audit verify: %s\n", err.msg);
    return EXIT_USAGE;
  }
  return r == 0 ? 0 : EXIT_BAD;
}

static int cmd_show(int argc, char **argv) {
  struct nc_audit_show_opts o = {0};
  const char *file = NULL;
  char q[256];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return 0;
    }
    if (!strcmp(a, "--follow") || !strcmp(a, "-f")) {
      o.follow = true;
    } else if (!strcmp(a, "--json")) {
      o.json = true;
    } else if (!strcmp(a, "--sandbox") || !strcmp(a, "--event")) {
      if (i + 1 >= argc) return usage_error("show", "%s needs a value", a);
      if (a[2] == 's')
        o.sandbox = argv[++i];
      else
        o.event = argv[++i];
    } else if (a[0] == '-' && a[1]) {
      return usage_error("show", "unknown option `%s`", nc_quote(q, sizeof q, a));
    } else if (file) {
      return usage_error("show", "one FILE only; `%s` is extra", nc_quote(q, sizeof q, a));
    } else {
      file = a;
    }
  }
  char path[4096];
  if (log_path(file, path, sizeof path, "show") < 0) return EXIT_USAGE;
  nc_error err = {0};
  if (nc_audit_show(path, &o, stdout, &err) < 0) {
    fflush(stdout);
    fprintf(stderr, "nanoclaw: audit show: %s\n", err.msg);
    return EXIT_USAGE;
  }
  return fflush(stdout) == 0 ? 0 : EXIT_USAGE;
}

int nc_cmd_audit(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage, stderr);
    return EXIT_USAGE;
  }
  const char *sub = argv[1];
  if (!strcmp(sub, "verify")) return cmd_verify(argc - 1, argv + 1);
  if (!strcmp(sub, "show")) return cmd_show(argc - 1, argv + 1);
  if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
    fputs(usage, stdout);
    return 0;
  }
  char q[256];
  return usage_error(NULL, "unknown subcommand `%s`", nc_quote(q, sizeof q, sub));
}
