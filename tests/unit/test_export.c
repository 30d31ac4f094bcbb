/* test_export.c — the export library: refusals name the setting, value and target; the digest
 * never depends on env values; names; the argument list and manifests for edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/profile.h"
#include "export/export.h"

static nc_profile *profile(const char *const *kv) {
  nc_profile *p = nc_profile_new();
  nc_error err = {0};
  assert_non_null(p);
  for (size_t i = 0; kv[i]; i += 2) {
    if (nc_profile_set(p, kv[i], kv[i + 1], NULL, &err) < 0) fail_msg("%s=%s: %s", kv[i], kv[i + 1], err.msg);
  }
  return p;
}

static struct nc_export_opts opts(enum nc_export_target t, const char *what) {
  return (struct nc_export_opts){.target = t, .what = what};
}

static void expect_refusal(const char *const *kv, enum nc_export_target t, const char *what, const char *needle) {
  nc_profile *p = profile(kv);
  struct nc_export_opts o = opts(t, what);
  nc_error err = {0};
  char *cmd[] = {"true", NULL};
  assert_true(nc_export_check(p, &o, cmd, &err) < 0);
  if (!strstr(err.msg, needle)) fail_msg("[%s] not in [%s]", needle, err.msg);
  assert_non_null(strstr(err.msg, what)); /* every message names the target */
  nc_profile_free(p);
}

static void test_refusals(void **state) {
  (void)state;
  const char *host[] = {"audit.log", "none", NULL};
  expect_refusal(host, NC_EXPORT_K8S, "export k8s", "image \"host\" cannot run on Kubernetes");
  const char *root[] = {"image", "python:3", "user", "0", "audit.log", "none", NULL};
  expect_refusal(root, NC_EXPORT_PODMAN, "export podman-run", "user \"0:0\" is root");
  const char *audit[] = {"image", "python:3", NULL};
  expect_refusal(audit, NC_EXPORT_DOCKER, "export docker-run", "audit.log \"default\" cannot be kept by Docker");
  const char *deadline[] = {"image", "python:3", "audit.log", "none", NULL};
  expect_refusal(deadline, NC_EXPORT_DOCKER, "export docker-run", "timeout 60.000s cannot be enforced by docker run");
  const char *pids[] = {"image", "python:3", "audit.log", "none", NULL};
  expect_refusal(pids, NC_EXPORT_K8S, "export k8s", "pids_limit 256 cannot be set per pod");
  const char *dir[] = {"image", "/srv/rootfs", "audit.log", "none", NULL};
  expect_refusal(dir, NC_EXPORT_K8S, "export k8s", "image \"/srv/rootfs\" is a directory; Kubernetes needs");
  const char *ref[] = {"image", "python:3", "audit.log", "none", "timeout", "0", NULL};
  expect_refusal(ref, NC_EXPORT_OCI, "export oci", "an OCI bundle needs a root filesystem directory");
}

static void test_supervised_keeps_what_exports_refuse(void **state) {
  (void)state;
  const char *kv[] = {"image", "python:3", "output_limit", "1k", "result_json", "-", NULL};
  nc_profile *p = profile(kv);
  struct nc_export_opts o = opts(NC_EXPORT_DOCKER, "run --backend docker");
  nc_error err = {0};
  o.supervised = true;
  assert_int_equal(nc_export_check(p, &o, NULL, &err), 0);
  nc_profile_free(p);
}

static void test_digest_ignores_env_values(void **state) {
  (void)state;
  const char *a[] = {"image", "python:3", "env", "TOKEN=one", NULL};
  const char *b[] = {"image", "python:3", "env", "TOKEN=two", NULL};
  const char *c[] = {"image", "python:3", "env", "OTHER=one", NULL};
  nc_profile *pa = profile(a), *pb = profile(b), *pc = profile(c);
  char da[65], db[65], dc[65];
  nc_error err = {0};
  assert_int_equal(nc_export_profile_digest(pa, da, &err), 0);
  assert_int_equal(nc_export_profile_digest(pb, db, &err), 0);
  assert_int_equal(nc_export_profile_digest(pc, dc, &err), 0);
  assert_string_equal(da, db);     /* a value changes nothing */
  assert_string_not_equal(da, dc); /* a name does */
  assert_int_equal(strlen(da), 64);
  nc_profile_free(pa);
  nc_profile_free(pb);
  nc_profile_free(pc);
}

static void test_dns_name(void **state) {
  (void)state;
  char out[64];
  const char *a[] = {"name", "SupportBot_v2", NULL};
  const char *b[] = {"name", "--Ünïcode  bot--", NULL};
  nc_profile *pa = profile(a), *pb = profile(b), *pc = nc_profile_new();
  nc_export_dns_name(pa, out, sizeof out);
  assert_string_equal(out, "supportbot-v2");
  nc_export_dns_name(pb, out, sizeof out);
  assert_string_equal(out, "n-code-bot");
  nc_export_dns_name(pc, out, sizeof out);
  assert_string_equal(out, "nanoclaw");
  nc_profile_free(pa);
  nc_profile_free(pb);
  nc_profile_free(pc);
}

static void test_engine_argv_no_values(void **state) {
  (void)state;
  const char *kv[] = {"image", "python:3", "audit.log", "none", "timeout", "0", "env", "SECRET=hunter2",
                      "mem_limit", "0", "pids_limit", "0", NULL};
  nc_profile *p = profile(kv);
  struct nc_export_opts o = opts(NC_EXPORT_DOCKER, "export docker-run");
  struct nc_strv av = {0};
  nc_error err = {0};
  char *cmd[] = {"sh", "-c", "it's", NULL};
  assert_int_equal(nc_export_engine_argv(p, &o, cmd, &av, &err), 0);
  bool env = false, pids = false, memory = false;
  for (size_t i = 0; i < av.n; i++) {
    assert_null(strstr(av.v[i], "hunter2"));
    env = env || !strcmp(av.v[i], "--env=SECRET");
    pids = pids || !strcmp(av.v[i], "--pids-limit=-1"); /* 0 = unlimited, not the engine's default */
    memory = memory || !strncmp(av.v[i], "--memory", 8);
  }
  assert_true(env && pids && !memory);
  assert_string_equal(av.v[av.n - 1], "it's");
  char *line = nc_export_shell_line(av.v);
  assert_non_null(strstr(line, "'it'\\''s'"));
  free(line);
  nc_strv_free(&av);
  nc_profile_free(p);
}

static void test_k8s_yaml_keys_quoted(void **state) {
  (void)state;
  const char *kv[] = {"image", "python:3", "audit.log", "none", "pids_limit", "0", "timeout", "0", NULL};
  nc_profile *p = profile(kv);
  struct nc_export_opts o = opts(NC_EXPORT_K8S, "export k8s");
  nc_error err = {0};
  char *cmd[] = {"yes", NULL};
  char *y = nc_export_k8s(p, &o, cmd, &err);
  assert_non_null(y);
  assert_non_null(strstr(y, "- \"yes\"\n"));         /* never a YAML boolean */
  assert_null(strstr(y, "activeDeadlineSeconds")); /* timeout 0: no deadline */
  free(y);
  nc_profile_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_supervised_keeps_what_exports_refuse),
      cmocka_unit_test(test_digest_ignores_env_values),
      cmocka_unit_test(test_dns_name),
      cmocka_unit_test(test_engine_argv_no_values),
      cmocka_unit_test(test_k8s_yaml_keys_quoted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
