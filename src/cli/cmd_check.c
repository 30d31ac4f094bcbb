/* cmd_check.c — `nanoclaw check`: what this host offers and which profile features work here (table or --json). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/error.h"
#include "core/util.h"
#include "nanoclaw.h"
#include "sandbox/hostcheck.h"

#define EXIT_RUNS 0
#define EXIT_CANNOT_RUN 1

/* A profile key (or an always-on part of the sandbox) and the host
 * features it needs. `enforced_via` takes the wording of the first need's
 * detail ("enforced via cgroup v1 memory controller (...)"). */
struct profile_row {
  const char *key;
  const char *needs[3];
  bool default_needs; /* the default profile uses it */
  bool enforced_via;
  const char *works; /* reason when it works (unless enforced_via) */
};

static const struct profile_row rows[] = {
    {"namespaces", {NC_HC_USERNS}, true, false,
     "always on: new user, mount, pid, net, uts, ipc and cgroup namespaces"},
    {"user", {NC_HC_UID_MAP}, true, false, "the sandbox user maps to an unprivileged host uid, never host root"},
    {"image", {NC_HC_USERNS}, true, false, "host view or directory, mounted read-only in a private mount namespace"},
    {"tmpfs", {NC_HC_USERNS}, true, false, "size-limited tmpfs mounts in the sandbox's mount namespace"},
    {"binds", {NC_HC_USERNS}, false, false, "bind mounts (read-only by default) in the sandbox's mount namespace"},
    {"hostname", {NC_HC_USERNS}, true, false, "set in the sandbox's own uts namespace"},
    {"network_disabled", {NC_HC_USERNS}, true, false, "a private network namespace with only lo"},
    {"allowed_hosts", {NC_HC_USERNS}, false, false,
     "the supervisor's filtering proxy listens inside the sandbox's network namespace"},
    {"mem_limit", {NC_HC_CG_MEMORY}, true, true, NULL},
    {"cpu_shares", {NC_HC_CG_CPU}, true, true, NULL},
    {"cpus", {NC_HC_CG_CPUS}, false, true, NULL},
    {"pids_limit", {NC_HC_CG_PIDS}, true, true, NULL},
    {"timeout", {NC_HC_PIDFD, NC_HC_USERNS}, true, false,
     "the supervisor's deadline kills the sandbox's pid namespace and cgroup"},
    {"seccomp", {NC_HC_SECCOMP}, true, false, "always on: the syscall allowlist is loaded last, before exec"},
};

static void usage(FILE *f) {
  fputs("Usage: nanoclaw check [--json]\n"
        "\n"
        "Probe what this host offers a sandbox (user namespaces, cgroup version and\n"
        "controllers, seccomp, Landlock, overlayfs, root or not) and say which profile\n"
        "features will and will not work here, with the reason.\n"
        "\n"
        "  --json      machine-readable output\n"
        "  -h, --help  this text\n"
        "\n"
        "Exit status: 0 when the default profile can run here, 1 when it cannot,\n"
        "125 on a usage error.\n",
        f);
}

/* Whether a row works, and why (into reason). */
static bool judge(const struct profile_row *r, const struct nc_hostcheck_item *items, size_t n, char *reason,
                  size_t cap) {
  for (size_t i = 0; i < NC_ARRAY_SIZE(r->needs) && r->needs[i]; i++) {
    const struct nc_hostcheck_item *it = nc_hostcheck_find(items, n, r->needs[i]);
    if (!it) {
      snprintf(reason, cap, "cannot be enforced: %s was not probed", r->needs[i]);
      return false;
    }
    if (!it->ok) {
      snprintf(reason, cap, "cannot be enforced: %s: %s%s", it->feature, it->detail,
               r->enforced_via ? "; a profile that sets it is refused (exit 125)" : "");
      return false;
    }
  }
  if (r->enforced_via) {
    const struct nc_hostcheck_item *it = nc_hostcheck_find(items, n, r->needs[0]);
    snprintf(reason, cap, "enforced via %s", it ? it->detail : "?");
  } else {
    snprintf(reason, cap, "%s", r->works);
  }
  return true;
}

static int print_json(const struct nc_hostcheck_item *items, size_t n, const struct utsname *u, bool runs) {
  json_t *root = json_object(), *features = json_array(), *profile = json_array();
  if (!root || !features || !profile) goto oom;
  json_object_set_new(root, "host",
                      json_pack("{s:s, s:s, s:s, s:i}", "kernel", u->sysname, "release", u->release, "machine",
                                u->machine, "euid", (int)geteuid()));
  for (size_t i = 0; i < n; i++)
    json_array_append_new(features, json_pack("{s:s, s:b, s:b, s:s}", "feature", items[i].feature, "ok",
                                              items[i].ok, "required", items[i].required, "detail",
                                              items[i].detail));
  for (size_t i = 0; i < NC_ARRAY_SIZE(rows); i++) {
    char reason[1024];
    bool works = judge(&rows[i], items, n, reason, sizeof reason);
    json_array_append_new(profile, json_pack("{s:s, s:b, s:b, s:s}", "key", rows[i].key, "works", works,
                                             "default_needs", rows[i].default_needs, "reason", reason));
  }
  json_object_set_new(root, "features", features);
  json_object_set_new(root, "profile", profile);
  json_object_set_new(root, "default_profile_runs", json_boolean(runs));
  features = profile = NULL;
  if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 || fputc('\n', stdout) == EOF) {
    json_decref(root);
    fprintf(stderr, "nanoclaw: check: writing JSON to stdout failed\n");
    return NC_EXIT_SETUP;
  }
  json_decref(root);
  return runs ? EXIT_RUNS : EXIT_CANNOT_RUN;
oom:
  json_decref(root);
  json_decref(features);
  json_decref(profile);
  fprintf(stderr, "nanoclaw: check: out of memory\n");
  return NC_EXIT_SETUP;
}

static int print_table(const struct nc_hostcheck_item *items, size_t n, const struct utsname *u, bool runs) {
  int fw = (int)strlen("FEATURE"), kw = (int)strlen("PROFILE KEY");
  for (size_t i = 0; i < n; i++)
    if ((int)strlen(items[i].feature) > fw) fw = (int)strlen(items[i].feature);
  for (size_t i = 0; i < NC_ARRAY_SIZE(rows); i++)
    if ((int)strlen(rows[i].key) > kw) kw = (int)strlen(rows[i].key);
  if (kw < fw) kw = fw; /* line the two tables up */
  else fw = kw;

  printf("nanoclaw check: %s %s %s, euid %u\n\n", u->sysname, u->release, u->machine, (unsigned)geteuid());
  printf("%-*s  %-7s  %-7s  %s\n", fw, "FEATURE", "STATUS", "DEFAULT", "DETAIL");
  for (size_t i = 0; i < n; i++)
    printf("%-*s  %-7s  %-7s  %s\n", fw, items[i].feature, items[i].ok ? "ok" : "missing",
           items[i].required ? "needs" : "", items[i].detail);

  printf("\n%-*s  %-7s  %-7s  %s\n", kw, "PROFILE KEY", "WORKS", "DEFAULT", "REASON");
  for (size_t i = 0; i < NC_ARRAY_SIZE(rows); i++) {
    char reason[1024];
    bool works = judge(&rows[i], items, n, reason, sizeof reason);
    printf("%-*s  %-7s  %-7s  %s\n", kw, rows[i].key, works ? "yes" : "no", rows[i].default_needs ? "uses" : "",
           reason);
  }

  if (runs) {
    printf("\nThe default profile can run here.\n");
  } else {
    printf("\nThe default profile cannot run here; missing:");
    for (size_t i = 0, k = 0; i < n; i++)
      if (items[i].required && !items[i].ok) printf("%s %s", k++ ? "," : "", items[i].feature);
    printf("\n");
  }
  if (fflush(stdout) == EOF || ferror(stdout)) {
    fprintf(stderr, "nanoclaw: check: writing to stdout failed\n");
    return NC_EXIT_SETUP;
  }
  return runs ? EXIT_RUNS : EXIT_CANNOT_RUN;
}

int nc_cmd_check(int argc, char **argv) {
  bool json = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      char q[128];
      fprintf(stderr, "nanoclaw: check: unknown option \"%s\" (try nanoclaw check --help)\n",
              nc_quote(q, sizeof q, argv[i]));
      return NC_EXIT_SETUP;
    }
  }

  struct nc_hostcheck_item items[NC_HOSTCHECK_MAX];
  size_t n = 0;
  nc_error err = {0};
  if (nc_hostcheck_run(items, NC_ARRAY_SIZE(items), &n, &err) < 0) {
    fprintf(stderr, "nanoclaw: check: %s\n", err.msg);
    return NC_EXIT_SETUP;
  }
  struct utsname u;
  if (uname(&u) < 0) memset(&u, 0, sizeof u);
  bool runs = nc_hostcheck_default_ok(items, n);
  return json ? print_json(items, n, &u, runs) : print_table(items, n, &u, runs);
}
