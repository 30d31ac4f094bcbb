/* test_profile.c — profiles as a user meets them: defaults, JSON files, flags, and the exact error messages. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/flags.h"
#include "config/profile.h"
#include "nanoclaw.h"

static char tmpdir[PATH_MAX];

static int make_tmpdir(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "%s/nc-test-profile-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static int remove_tmpdir(void **state) {
  (void)state;
  return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write text to tmpdir/name; returns the path (static, overwritten by the next call). */
static const char *write_file(const char *name, const char *text) {
  static char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
  return path;
}

/* Load text as a profile file over a fresh profile; expect failure with
 * exactly "PATH" + suffix as the message. */
static void expect_file_error(const char *text, const char *suffix) {
  char want[2048];
  nc_error err = {0};
  nc_profile *p = nc_profile_new();
  const char *path = write_file("bad.json", text);
  snprintf(want, sizeof want, "%s%s", path, suffix);
  assert_true(nc_profile_load_file(p, path, &err) < 0);
  assert_string_equal(err.msg, want);
  nc_profile_free(p);
}

/* Parse flags (argv without the program name) over p; return the result. */
static int parse(nc_profile *p, const char *const *args, int *ret_next, int *ret_help, nc_error *err) {
  int argc = 0;
  while (args[argc]) argc++;
  int next = -1, help = -1;
  int r = nc_profile_parse_args(p, argc, (char *const *)args, 0, &next, &help, err);
  if (ret_next) *ret_next = next;
  if (ret_help) *ret_help = help;
  return r;
}

static void expect_flags_error(const char *const *args, const char *want) {
  nc_error err = {0};
  nc_profile *p = nc_profile_new();
  assert_true(parse(p, args, NULL, NULL, &err) < 0);
  assert_string_equal(err.msg, want);
  nc_profile_free(p);
}

static void expect_set_error(const char *key, const char *value, const char *want) {
  nc_error err = {0};
  nc_profile *p = nc_profile_new();
  assert_true(nc_profile_set(p, key, value, NULL, &err) < 0);
  assert_string_equal(err.msg, want);
  nc_profile_free(p);
}

static void defaults(void **state) {
  (void)state;
  nc_error err = {0};
  nc_profile *p = nc_profile_new();
  assert_non_null(p);
  assert_string_equal(p->image, "host");
  assert_int_equal(p->mem_limit, 512ull << 20);
  assert_int_equal(p->cpu_shares, 1024);
  assert_int_equal(p->cpus_milli, 0);
  assert_int_equal(p->pids_limit, 256);
  assert_int_equal(p->timeout_ms, 60000);
  assert_false(p->network_disabled);
  assert_int_equal(p->allowed_hosts.n, 0); /* default deny */
  assert_int_equal(p->n_tmpfs, 1);
  assert_string_equal(p->tmpfs[0].path, "/tmp");
  assert_int_equal(p->tmpfs[0].size, 64ull << 20);
  assert_int_equal(p->n_binds, 0);
  assert_int_equal(p->uid, 1000);
  assert_int_equal(p->gid, 1000);
  assert_string_equal(p->hostname, "sandbox");
  assert_string_equal(p->workdir, "/");
  assert_int_equal(p->limits, NC_LIMITS_STRICT);
  assert_null(p->name);
  assert_null(p->result_json);
  assert_int_equal(nc_profile_validate(p, &err), 0);
  nc_profile_free(p);
  nc_profile_free(NULL);
}

static void load_file(void **state) {
  (void)state;
  nc_error err = {0};
  nc_profile *p = nc_profile_new();
  const char *path = write_file("agent.json",
                                "{\n"
                                "  \"name\": \"SupportBot_v2\",\n"
                                "  \"image\": \"python:3.11-slim\",\n"
                                "  \"mem_limit\": \"1g\",\n"
                                "  \"cpu_shares\": 512,\n"
                                "  \"cpus\": 0.5,\n"
                                "  \"pids_limit\": 0,\n"
                                "  \"timeout\": 2.5,\n"
                                "  \"network_disabled\": false,\n"
                                "  \"allowed_hosts\": [\"api.openai.com\", \"My-Vector-DB.internal:6333\"],\n"
                                "  \"add_hosts\": [\"db.internal:10.0.0.5\", \"v6:[::1]\"],\n"
                                "  \"tmpfs\": [\"/work:1g\", \"/cache\"],\n"
                                "  \"env\": {\"LANG\": \"C.UTF-8\", \"A\": \"x=y\"},\n"
                                "  \"workdir\": \"/work//sub/\",\n"
                                "  \"user\": 2000,\n"
                                "  \"hostname\": \"agent-1\",\n"
                                "  \"result_json\": \"-\",\n"
                                "  \"limits\": \"best-effort\",\n"
                                "  \"output_limit\": 1048576\n"
                                "}\n");
  assert_int_equal(nc_profile_load_file(p, path, &err), 0);
  assert_string_equal(p->name, "SupportBot_v2");
  assert_string_equal(p->image, "python:3.11-slim");
  assert_int_equal(p->mem_limit, 1ull << 30);
  assert_int_equal(p->cpu_shares, 512);
  assert_int_equal(p->cpus_milli, 500);
  assert_int_equal(p->pids_limit, 0);
  assert_int_equal(p->timeout_ms, 2500);
  assert_int_equal(p->allowed_hosts.n, 2);
  assert_string_equal(p->allowed_hosts.v[1], "my-vector-db.internal:6333");
  assert_int_equal(p->add_hosts.n, 2);
  assert_string_equal(p->add_hosts.v[1], "v6:::1");
  assert_int_equal(p->n_tmpfs, 3);
  assert_string_equal(p->tmpfs[1].path, "/work");
  assert_int_equal(p->tmpfs[1].size, 1ull << 30);
  assert_int_equal(p->tmpfs[2].size, 64ull << 20);
  assert_int_equal(p->env.n, 2);
  assert_string_equal(p->env.v[0], "LANG=C.UTF-8");
  assert_string_equal(p->env.v[1], "A=x=y");
  assert_string_equal(p->workdir, "/work/sub");
  assert_int_equal(p->uid, 2000);
  assert_int_equal(p->gid, 2000);
  assert_string_equal(p->hostname, "agent-1");
  assert_string_equal(p->result_json, "-");
  assert_int_equal(p->limits, NC_LIMITS_BEST_EFFORT);
  assert_int_equal(p->output_limit, 1 << 20);
  assert_int_equal(nc_profile_validate(p, &err), 0);
  nc_profile_free(p);
}

static void bad_value_names_file_line_key(void **state) {
  (void)state;
  expect_file_error("{\n"
                    "  \"name\": \"a\",\n"
                    "  \"image\": \"host\",\n"
                    "  \"env\": {\"X\": \"{\\\"mem_limit\\\": 1}\"},\n"
                    "  \"cpu_shares\": 512,\n"
                    "  \"tmpfs\": [\"/work\"],\n"
                    "  \"mem_limit\": \"512q\"\n"
                    "}\n",
                    ":7: mem_limit: \"512q\" is not a size (try 512m)");
  expect_file_error("{\"timeout\": \"soon\"}", ":1: timeout: \"soon\" is not a duration in seconds (try 60, 2.5 or 500ms)");
  expect_file_error("{\n\"cpus\": 0}", ":2: cpus: \"0\" is not above 0 (leave cpus unset for no quota)");
  expect_file_error("{\n\"cpus\": 0.0001}", ":2: cpus: \"0.0001\" is not a CPU count (try 0.5 or 2; at most 3 decimals)");
  expect_file_error("{\n\"cpu_shares\": 1}", ":2: cpu_shares: \"1\" is not a whole number from 2 to 262144");
  expect_file_error("{\"mem_limit\": -1}", ":1: mem_limit: \"-1\" is not a size (try 512m)");
  expect_file_error("{\"tmpfs\": [\"/ok\", \"/proc/x\"]}",
                    ":1: tmpfs: \"/proc/x\" cannot be a mount destination (/, /proc, /dev and /sys belong to nanoclaw)");
  expect_file_error("{\"workdir\": \"/a/../etc\"}", ":1: workdir: \"/a/../etc\" has a \".\" or \"..\" component");
  expect_file_error("{\"workdir\": \"rel\"}", ":1: workdir: \"rel\" is not an absolute path");
  expect_file_error("{\"hostname\": \"-bad\"}",
                    ":1: hostname: \"-bad\" is not a hostname (letters, digits, '-' and '.', at most 64)");
  expect_file_error("{\"name\": \"a\\nb\"}", ":1: name: \"a\\x0ab\" contains a control character");
  expect_file_error("{\"user\": \"root\"}", ":1: user: \"root\" is not UID[:GID] (numeric, e.g. 1000:1000)");
  expect_file_error("{\"limits\": \"loose\"}", ":1: limits: \"loose\" is not a limits mode (strict or best-effort)");
  expect_file_error("{\"add_hosts\": [\"db:999.0.0.1\"]}", ":1: add_hosts: \"db:999.0.0.1\" is not NAME:IP (e.g. db.internal:10.0.0.5)");
}

static void unknown_key_suggests(void **state) {
  (void)state;
  expect_file_error("{\n  \"mem_limt\": \"1g\"\n}", ":2: unknown key \"mem_limt\" (did you mean mem_limit?)");
  expect_file_error("{\"memory_limit\": \"1g\"}", ":1: unknown key \"memory_limit\" (did you mean mem_limit?)");
  expect_file_error("{\"allow_host\": []}", ":1: unknown key \"allow_host\" (did you mean allowed_hosts?)");
  expect_file_error("{\"frobnicate\": 1}", ":1: unknown key \"frobnicate\"");
  expect_file_error("{\"config\": \"x.json\"}", ":1: config: not a profile key (use the --config flag)");
  expect_set_error("cpu_share", "2", "unknown key \"cpu_share\" (did you mean cpu_shares?)");
}

static void duplicate_key(void **state) {
  (void)state;
  expect_file_error("{\n  \"image\": \"host\",\n  \"image\": \"/srv/root\"\n}", ":3: duplicate key \"image\"");
}

static void wrong_type(void **state) {
  (void)state;
  expect_file_error("{\n \"network_disabled\": \"yes\"}", ":2: network_disabled: expected a boolean, found a string");
  expect_file_error("{\"mem_limit\": 1.5}", ":1: mem_limit: expected a string or an integer, found a number with a fraction");
  expect_file_error("{\"allowed_hosts\": \"a.com\"}", ":1: allowed_hosts: expected an array of strings, found a string");
  expect_file_error("{\"allowed_hosts\": [\"a.com\", 7]}", ":1: allowed_hosts[1]: expected a string, found an integer");
  expect_file_error("{\"env\": {\"A\": 1}}", ":1: env.A: expected a string, found an integer");
  expect_file_error("{\"name\": null}", ":1: name: expected a string, found null");
  expect_file_error("{\"timeout\": true}", ":1: timeout: expected a string or a number, found a boolean");
  expect_file_error("[1, 2]", ": a profile is a JSON object ({...}), found an array");
}

static void syntax_and_io_errors(void **state) {
  (void)state;
  nc_error err = {0};
  nc_profile *p = nc_profile_new();
  const char *path = write_file("syntax.json", "{\n  \"name\": \"a\",\n  \"image\": }\n");
  assert_true(nc_profile_load_file(p, path, &err) < 0);
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "%s:3:", path);
  assert_memory_equal(err.msg, want, strlen(want));
  assert_non_null(strstr(err.msg, ": JSON syntax error: "));
  snprintf(want, sizeof want, "%s/missing.json: cannot open profile: No such file or directory", tmpdir);
  char missing[PATH_MAX + 32];
  snprintf(missing, sizeof missing, "%s/missing.json", tmpdir);
  assert_int_equal(nc_profile_load_file(p, missing, &err), -ENOENT);
  assert_string_equal(err.msg, want);
  nc_profile_free(p);
}

static void flags_override_file(void **state) {
  (void)state;
  nc_error err = {0};
  nc_profile *p = nc_profile_new();
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s", write_file("base.json", "{\"mem_limit\": \"1g\", \"cpus\": \"0.5\", \"timeout\": 5,"
                                                            " \"allowed_hosts\": [\"a.com\"]}"));
  const char *args[] = {"--mem-limit", "256m", "--config", path, "--cpus=2", "--allow-host", "b.com:443",
                        "--timeout", "0", "--", "echo", "--mem-limit", NULL};
  int next, help;
  assert_int_equal(parse(p, args, &next, &help, &err), 0);
  assert_int_equal(next, 10);
  assert_int_equal(help, 0);
  assert_int_equal(p->mem_limit, 256ull << 20);
  assert_int_equal(p->cpus_milli, 2000);
  assert_int_equal(p->timeout_ms, 0);
  assert_int_equal(p->allowed_hosts.n, 2); /* lists append: file, then flags */
  assert_string_equal(p->allowed_hosts.v[0], "a.com");
  assert_string_equal(p->allowed_hosts.v[1], "b.com:443");
  nc_profile_free(p);

  /* without "--": stops at the first non-option */
  p = nc_profile_new();
  const char *args2[] = {"--network-disabled", "--name", "x", "ls", "-l", NULL};
  assert_int_equal(parse(p, args2, &next, &help, &err), 0);
  assert_int_equal(next, 3);
  assert_true(p->network_disabled);
  assert_string_equal(p->name, "x");
  const char *args3[] = {"--network-disabled=false", NULL};
  assert_int_equal(parse(p, args3, &next, &help, &err), 0);
  assert_false(p->network_disabled);
  assert_int_equal(next, 1);
  const char *args4[] = {"--bogus", "--help", NULL}, *args5[] = {"--name", "x", "-h", "--mem-limit", "bad", NULL};
  assert_true(parse(p, args4, &next, &help, &err) < 0);
  assert_int_equal(parse(p, args5, &next, &help, &err), 0);
  assert_int_equal(help, 1);
  nc_profile_free(p);
}

static void flag_errors(void **state) {
  (void)state;
  const char *a1[] = {"--mem-limit", "512q", "--", "true", NULL};
  expect_flags_error(a1, "--mem-limit: \"512q\" is not a size (try 512m)");
  const char *a2[] = {"--mem-limit", NULL};
  expect_flags_error(a2, "--mem-limit: needs a value");
  const char *a3[] = {"--mem-limit", "--", "true", NULL};
  expect_flags_error(a3, "--mem-limit: needs a value");
  const char *a4[] = {"--name", "--cpus", "2", NULL};
  expect_flags_error(a4, "--name: needs a value (write --name=VALUE for one that starts with --)");
  const char *a5[] = {"--mem-limt", "1g", NULL};
  expect_flags_error(a5, "unknown option \"--mem-limt\" (did you mean --mem-limit?)");
  const char *a6[] = {"--allowed-hosts=a.com", NULL};
  expect_flags_error(a6, "unknown option \"--allowed-hosts\" (did you mean --allow-host?)");
  const char *a7[] = {"-m", "1g", NULL};
  expect_flags_error(a7, "unknown option \"-m\" (see --help)");
  const char *a8[] = {"--network-disabled=maybe", NULL};
  expect_flags_error(a8, "--network-disabled: \"maybe\" is not a boolean (try true or false)");
  const char *a9[] = {"--allow-host", "a b", NULL};
  expect_flags_error(a9, "--allow-host: \"a b\" is not HOST[:PORT]: the name has a character other than letters, "
                         "digits, '-', '_' and '.'");
  const char *a10[] = {"--allow-host", "a.com:0", NULL};
  expect_flags_error(a10, "--allow-host: \"a.com:0\" is not HOST[:PORT]: the port is not a number from 1 to 65535");
  const char *a10b[] = {"--allow-host", "10.0.0.1/8", NULL};
  expect_flags_error(a10b, "--allow-host: \"10.0.0.1/8\" has host bits set; did you mean 10.0.0.0/8?");
  char bad[PATH_MAX + 32];
  snprintf(bad, sizeof bad, "%s", write_file("bad7.json", "{\n\n\n\n\n\n  \"mem_limit\": \"512q\"\n}\n"));
  const char *a11[] = {"--name", "x", "--config", bad, NULL};
  char want[PATH_MAX + 128];
  snprintf(want, sizeof want, "%s:7: mem_limit: \"512q\" is not a size (try 512m)", bad);
  expect_flags_error(a11, want);
}

static void env_from_caller(void **state) {
  (void)state;
  nc_error err = {0};
  nc_profile *p = nc_profile_new();
  assert_int_equal(setenv("NC_TEST_TOKEN", "s3cret", 1), 0);
  unsetenv("NC_TEST_MISSING");
  const char *args[] = {"--env", "NC_TEST_TOKEN", "--env=LANG=C", "--env", "LANG=C.UTF-8", NULL};
  assert_int_equal(parse(p, args, NULL, NULL, &err), 0);
  assert_int_equal(p->env.n, 2);
  assert_string_equal(p->env.v[0], "NC_TEST_TOKEN=s3cret");
  assert_string_equal(p->env.v[1], "LANG=C.UTF-8"); /* the later one wins */
  nc_profile_free(p);
  const char *a2[] = {"--env", "NC_TEST_MISSING", NULL};
  expect_flags_error(a2, "--env: \"NC_TEST_MISSING\" is not set in the caller's environment (use NAME=VALUE)");
  /* a bad name never shows the value: it may be a secret */
  const char *a3[] = {"--env", "1KEY=sk-live-123", NULL};
  expect_flags_error(a3, "--env: \"1KEY\" is not a variable name ([A-Za-z_][A-Za-z0-9_]*)");
  /* JSON: array form with a name from the environment */
  p = nc_profile_new();
  const char *path = write_file("env.json", "{\"env\": [\"NC_TEST_TOKEN\", \"B=2\"]}");
  assert_int_equal(nc_profile_load_file(p, path, &err), 0);
  assert_string_equal(p->env.v[0], "NC_TEST_TOKEN=s3cret");
  assert_string_equal(p->env.v[1], "B=2");
  nc_profile_free(p);
  expect_file_error("{\"env\": {\"A=B\": \"x\"}}", ":1: env: \"A=B\" is not a variable name ([A-Za-z_][A-Za-z0-9_]*)");
}

static void bind_source_is_realpath(void **state) {
  (void)state;
  nc_error err = {0};
  char real[PATH_MAX + 16], link[PATH_MAX + 16], spec[2 * PATH_MAX], resolved[PATH_MAX];
  snprintf(real, sizeof real, "%s/data", tmpdir);
  snprintf(link, sizeof link, "%s/link", tmpdir);
  assert_int_equal(mkdir(real, 0700), 0);
  assert_int_equal(symlink(real, link), 0);
  assert_non_null(realpath(real, resolved));
  nc_profile *p = nc_profile_new();
  snprintf(spec, sizeof spec, "%s:/data", link);
  assert_int_equal(nc_profile_set(p, "binds", spec, "--bind", &err), 0);
  snprintf(spec, sizeof spec, "%s:/out/:rw", tmpdir);
  assert_int_equal(nc_profile_set(p, "binds", spec, "--bind", &err), 0);
  assert_int_equal(p->n_binds, 2);
  assert_string_equal(p->binds[0].src, resolved);
  assert_string_equal(p->binds[0].dst, "/data");
  assert_false(p->binds[0].rw);
  assert_string_equal(p->binds[1].dst, "/out");
  assert_true(p->binds[1].rw);
  nc_profile_free(p);

  const char *a1[] = {"--bind", "/nonexistent/nc-x:/data", NULL};
  expect_flags_error(a1, "--bind: bind source \"/nonexistent/nc-x\": No such file or directory");
  const char *a2[] = {"--bind", "data:/data", NULL};
  expect_flags_error(a2, "--bind: \"data\" is not an absolute bind source");
  const char *a3[] = {"--bind", "/etc:/data:rx", NULL};
  expect_flags_error(a3, "--bind: \"/etc:/data:rx\" has an option other than ro or rw");
  const char *a4[] = {"--bind", "/etc", NULL};
  expect_flags_error(a4, "--bind: \"/etc\" is not SRC:DST[:ro|rw]");
  const char *a5[] = {"--bind", "/etc:/", NULL};
  expect_flags_error(a5, "--bind: \"/\" cannot be a mount destination (/, /proc, /dev and /sys belong to nanoclaw)");
  const char *a6[] = {"--bind", "/etc://sys//fs", NULL};
  expect_flags_error(a6, "--bind: \"//sys//fs\" cannot be a mount destination (/, /proc, /dev and /sys belong to nanoclaw)");
}

static void conflicts(void **state) {
  (void)state;
  nc_error err = {0};
  nc_profile *p = nc_profile_new();
  const char *args[] = {"--network-disabled", "--allow-host", "api.openai.com", NULL};
  assert_int_equal(parse(p, args, NULL, NULL, &err), 0);
  assert_true(nc_profile_validate(p, &err) < 0);
  assert_string_equal(err.msg, "conflicting settings: network_disabled is true but allowed_hosts lists 1 host "
                               "(drop one of them)");
  nc_profile_free(p);

  const char *a1[] = {"--bind", "/etc:/data", "--bind", "/usr:/data/", NULL};
  expect_flags_error(a1, "--bind: conflicting settings: \"/data\" is already a bind destination");
  const char *a2[] = {"--bind", "/etc:/tmp", NULL};
  expect_flags_error(a2, "--bind: conflicting settings: \"/tmp\" is already a tmpfs destination");
  const char *a3[] = {"--bind", "/etc:/scratch", "--tmpfs", "/scratch:1m", NULL};
  expect_flags_error(a3, "--tmpfs: conflicting settings: \"/scratch\" is already a bind destination");
  const char *a4[] = {"--add-host", "db:10.0.0.1", "--add-host", "DB:10.0.0.2", NULL};
  expect_flags_error(a4, "--add-host: conflicting settings: \"db\" is already mapped to 10.0.0.1");

  /* validate also catches conflicts in a profile built by other means */
  p = nc_profile_new();
  assert_int_equal(nc_profile_set(p, "mem_limit", "1m", NULL, &err), 0);
  assert_true(nc_profile_validate(p, &err) < 0);
  assert_string_equal(err.msg, "mem_limit: 1048576 bytes is below the minimum of 4m (0 = unlimited)");
  assert_int_equal(nc_profile_set(p, "mem_limit", "0", NULL, &err), 0);
  assert_int_equal(nc_profile_validate(p, &err), 0);
  nc_profile_free(p);
}

static void tmpfs_default_replaced(void **state) {
  (void)state;
  nc_error err = {0};
  nc_profile *p = nc_profile_new();
  const char *args[] = {"--tmpfs", "/tmp:16m", "--tmpfs", "/work", "--tmpfs", "//work//:2g", NULL};
  assert_int_equal(parse(p, args, NULL, NULL, &err), 0);
  assert_int_equal(p->n_tmpfs, 2);
  assert_string_equal(p->tmpfs[0].path, "/tmp");
  assert_int_equal(p->tmpfs[0].size, 16ull << 20);
  assert_string_equal(p->tmpfs[1].path, "/work");
  assert_int_equal(p->tmpfs[1].size, 2ull << 30);
  assert_int_equal(nc_profile_validate(p, &err), 0);
  nc_profile_free(p);
  const char *a1[] = {"--tmpfs", "/x:0", NULL};
  expect_flags_error(a1, "--tmpfs: \"0\" is not a tmpfs size (must be above 0)");
  const char *a2[] = {"--tmpfs", "/x:lots", NULL};
  expect_flags_error(a2, "--tmpfs: \"lots\" is not a size (try 512m)");
  const char *a3[] = {"--tmpfs", "/dev/shm", NULL};
  expect_flags_error(a3, "--tmpfs: \"/dev/shm\" cannot be a mount destination (/, /proc, /dev and /sys belong to nanoclaw)");
  const char *a4[] = {"--tmpfs", "/a/./b", NULL};
  expect_flags_error(a4, "--tmpfs: \"/a/./b\" has a \".\" or \"..\" component");
}

static void set_values(void **state) {
  (void)state;
  nc_error err = {0};
  nc_profile *p = nc_profile_new();
  const char *yes[] = {"true", "1", "yes"}, *no[] = {"false", "0", "no"};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(nc_profile_set(p, "network_disabled", yes[i], NULL, &err), 0);
    assert_true(p->network_disabled);
    assert_int_equal(nc_profile_set(p, "network_disabled", no[i], NULL, &err), 0);
    assert_false(p->network_disabled);
  }
  assert_int_equal(nc_profile_set(p, "user", "0:5", NULL, &err), 0);
  assert_int_equal(p->uid, 0);
  assert_int_equal(p->gid, 5);
  assert_int_equal(nc_profile_set(p, "image", "/srv//rootfs/", NULL, &err), 0);
  assert_string_equal(p->image, "/srv/rootfs");
  assert_int_equal(nc_profile_set(p, "allowed_hosts", "*.example.com", NULL, &err), 0);
  assert_int_equal(nc_profile_set(p, "allowed_hosts", "[2001:db8::1]:443", NULL, &err), 0);
  assert_int_equal(nc_profile_set(p, "allowed_hosts", "*.EXAMPLE.com", NULL, &err), 0); /* same, once */
  assert_int_equal(nc_profile_set(p, "allowed_hosts", "10.0.0.0/8", NULL, &err), 0);  /* networks too */
  assert_int_equal(p->allowed_hosts.n, 3);
  assert_string_equal(p->allowed_hosts.v[2], "10.0.0.0/8");
  assert_int_equal(nc_profile_set(p, "add_hosts", "h6:2001:DB8::1", NULL, &err), 0);
  assert_string_equal(p->add_hosts.v[0], "h6:2001:db8::1");
  assert_int_equal(nc_profile_set(p, "limits", "strict", NULL, &err), 0);
  nc_profile_free(p);
  expect_set_error("network_disabled", "maybe", "network_disabled: \"maybe\" is not a boolean (try true or false)");
  expect_set_error("pids_limit", "4194305", "pids_limit: \"4194305\" is not a whole number from 0 to 4194304");
  expect_set_error("mem_limit", "16777215t", "mem_limit: \"16777215t\" is too large");
  expect_set_error("name", "", "name: must not be empty");
  expect_set_error("user", "1:4294967295", "user: \"1:4294967295\" is not UID[:GID] (numeric, e.g. 1000:1000)");
}

static void to_json_round_trip(void **state) {
  (void)state;
  nc_error err = {0};
  nc_profile *p = nc_profile_new();
  char spec[PATH_MAX + 32], resolved[PATH_MAX];
  assert_non_null(realpath(tmpdir, resolved));
  snprintf(spec, sizeof spec, "%s:/in", tmpdir);
  const char *args[] = {"--name", "bot", "--mem-limit", "256m", "--cpus", "0.5", "--timeout", "1.5",
                        "--allow-host", "api.openai.com", "--tmpfs", "/tmp:16m", "--bind", spec,
                        "--env", "K=v \"q\"", "--user", "7", NULL};
  assert_int_equal(parse(p, args, NULL, NULL, &err), 0);
  char *json = nc_profile_to_json(p, &err);
  assert_non_null(json);
  char want[PATH_MAX + 64];
  assert_non_null(strstr(json, "\"mem_limit\":268435456"));
  assert_non_null(strstr(json, "\"cpus\":\"0.5\""));
  assert_non_null(strstr(json, "\"timeout\":\"1.5\""));
  assert_non_null(strstr(json, "\"tmpfs\":[\"/tmp:16777216\"]"));
  assert_non_null(strstr(json, "\"env\":{\"K\":\"v \\\"q\\\"\"}"));
  assert_non_null(strstr(json, "\"user\":\"7:7\""));
  assert_non_null(strstr(json, "\"limits\":\"strict\""));
  assert_null(strstr(json, "result_json"));
  snprintf(want, sizeof want, "\"binds\":[\"%s:/in:ro\"]", resolved);
  assert_non_null(strstr(json, want));
  assert_true(strncmp(json, "{\"add_hosts\":[],\"allowed_hosts\":[\"api.openai.com\"],", 51) == 0); /* sorted */

  /* the canonical JSON is itself a profile that means the same */
  nc_profile *q = nc_profile_new();
  assert_int_equal(nc_profile_load_file(q, write_file("canon.json", json), &err), 0);
  char *again = nc_profile_to_json(q, &err);
  assert_non_null(again);
  assert_string_equal(again, json);
  free(again);
  free(json);
  nc_profile_free(q);
  nc_profile_free(p);
}

static void help_from_table(void **state) {
  (void)state;
  const char *h = nc_profile_flags_help();
  assert_non_null(strstr(h, "--mem-limit SIZE"));
  assert_non_null(strstr(h, "[default: 512m]"));
  assert_non_null(strstr(h, "--network-disabled "));
  assert_non_null(strstr(h, "--bind SRC:DST[:ro|rw]"));
  assert_non_null(strstr(h, "--config FILE"));
  assert_non_null(strstr(h, "-h, --help"));
  assert_ptr_equal(h, nc_profile_flags_help());
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults),
      cmocka_unit_test(load_file),
      cmocka_unit_test(bad_value_names_file_line_key),
      cmocka_unit_test(unknown_key_suggests),
      cmocka_unit_test(duplicate_key),
      cmocka_unit_test(wrong_type),
      cmocka_unit_test(syntax_and_io_errors),
      cmocka_unit_test(flags_override_file),
      cmocka_unit_test(flag_errors),
      cmocka_unit_test(env_from_caller),
      cmocka_unit_test(bind_source_is_realpath),
      cmocka_unit_test(conflicts),
      cmocka_unit_test(tmpfs_default_replaced),
      cmocka_unit_test(set_values),
      cmocka_unit_test(to_json_round_trip),
      cmocka_unit_test(help_from_table),
  };
  return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
