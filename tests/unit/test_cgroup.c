/* test_cgroup.c — cgroup backends on fake v1/v2 hierarchies, and for real on
 * this machine's cgroup v1 (root required: the real tests fail, not skip). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <linux/sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/util.h"
#include "sandbox/cgroup-internal.h"
#include "sandbox/cgroup.h"

#define MB (1024ull * 1024ull)

/* Everything a test may leave behind; teardown cleans it even when an
 * assertion failed half-way. */
struct fixture {
  char tmp[64]; /* fake hierarchy root, "" when unused */
  struct nc_cgroup *cg[4];
  pid_t child[4];
  char rmdir_after[64]; /* a shared intermediate a real test created */
};

static struct fixture *F;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  remove(p);
  return 0;
}

static int setup(void **state) {
  F = calloc(1, sizeof *F);
  if (!F) return -1;
  unsetenv("NANOCLAW_CGROUP_MODE");
  unsetenv("NANOCLAW_CGROUP_SELF");
  *state = F;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  for (size_t i = 0; i < NC_ARRAY_SIZE(F->child); i++)
    if (F->child[i] > 0) {
      kill(F->child[i], SIGKILL);
      waitpid(F->child[i], NULL, 0);
    }
  for (size_t i = 0; i < NC_ARRAY_SIZE(F->cg); i++) nc_cgroup_destroy(F->cg[i], NULL);
  if (F->rmdir_after[0]) rmdir(F->rmdir_after);
  if (F->tmp[0]) nftw(F->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  unsetenv("NANOCLAW_CGROUP_MODE");
  unsetenv("NANOCLAW_CGROUP_SELF");
  free(F);
  F = NULL;
  return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static void put(const char *dir, const char *name, const char *content) {
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(nc_write_all(fd, content, strlen(content)), 0);
  close(fd);
}

/* dir under F->tmp, created with the given "name=content" files. */
static void mkfake(const char *rel, ...) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/%s", F->tmp, rel);
  assert_true(mkdir(dir, 0755) == 0 || errno == EEXIST);
  va_list ap;
  va_start(ap, rel);
  for (const char *kv; (kv = va_arg(ap, const char *)) != NULL;) {
    char name[256];
    const char *eq = strchr(kv, '=');
    size_t n = eq ? (size_t)(eq - kv) : strlen(kv);
    snprintf(name, sizeof name, "%.*s", (int)n, kv);
    put(dir, name, eq ? eq + 1 : "");
  }
  va_end(ap);
}

static void read_at(const char *dir, const char *file, char *buf, size_t cap) {
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  ssize_t n = nc_read_file_at(AT_FDCWD, p, buf, cap);
  if (n < 0) fail_msg("reading %s: %s", p, strerror((int)-n));
  size_t l = strlen(buf);
  while (l > 0 && buf[l - 1] == '\n') buf[--l] = '\0';
}

#define assert_file(dir, file, want)              \
  do {                                            \
    char got_[256];                               \
    read_at((dir), (file), got_, sizeof got_);    \
    assert_string_equal(got_, (want));            \
  } while (0)

static bool exists(const char *p) {
  struct stat st;
  return lstat(p, &st) == 0;
}

/* How many entries named nanoclaw-* are under dir. */
static int count_sandboxes(const char *dir) {
  char cmd[PATH_MAX + 64];
  snprintf(cmd, sizeof cmd, "find '%s' -name 'nanoclaw-*' | wc -l", dir);
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  int n = -1;
  assert_int_equal(fscanf(f, "%d", &n), 1);
  pclose(f);
  return n;
}

static void make_tmp(void) {
  snprintf(F->tmp, sizeof F->tmp, "/tmp/nc-cgtest-XXXXXX");
  assert_non_null(mkdtemp(F->tmp));
}

/* ---- fake v2 ------------------------------------------------------------ */

static void fake_v2(const char *controllers) {
  make_tmp();
  setenv("NANOCLAW_CGROUP_MODE", "v2", 1);
  setenv("NANOCLAW_CGROUP_SELF", "0::/\n", 1);
  char ctl[64];
  snprintf(ctl, sizeof ctl, "cgroup.controllers=%s\n", controllers);
  mkfake("", ctl, "cgroup.subtree_control=", "cgroup.procs=", "cgroup.kill=", "cgroup.freeze=0", "memory.max=max",
         "memory.swap.max=max", "memory.oom.group=0", "memory.peak=12345",
         "memory.events=low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n", "cpu.weight=100", "cpu.max=max 100000",
         "cpu.stat=usage_usec 30\nuser_usec 10\nsystem_usec 20\n", "pids.max=max", NULL);
}

static void leaf_v2(char *out, size_t cap, const char *id) {
  snprintf(out, cap, "%s/nanoclaw/nanoclaw-%s", F->tmp, id);
}

static void test_v2_limits_written(void **state) {
  (void)state;
  fake_v2("cpu io memory pids");
  struct nc_cgroup_limits lim = {.mem_bytes = 64 * MB, .cpu_shares = 1024, .cpus_milli = 500, .pids_max = 64};
  nc_error err = {0};
  int r = nc_cgroup_create(F->tmp, "t1", &lim, &F->cg[0], &err);
  if (r < 0) fail_msg("%s", err.msg);
  char leaf[PATH_MAX];
  leaf_v2(leaf, sizeof leaf, "t1");
  assert_file(leaf, "memory.max", "67108864");
  assert_file(leaf, "memory.swap.max", "0");
  assert_file(leaf, "memory.oom.group", "1");
  assert_file(leaf, "cpu.weight", "39");
  assert_file(leaf, "cpu.max", "50000 100000");
  assert_file(leaf, "pids.max", "64");
  struct nc_cgroup_enforced enf;
  nc_cgroup_enforced(F->cg[0], &enf);
  assert_true(enf.memory && enf.cpu_shares && enf.cpus && enf.pids);
  assert_true(nc_cgroup_clone_fd(F->cg[0]) >= 0);

  char me[32];
  snprintf(me, sizeof me, "%d", (int)getpid());
  assert_int_equal(nc_cgroup_attach(F->cg[0], getpid(), &err), 0);
  assert_file(leaf, "cgroup.procs", me);
  put(leaf, "cgroup.procs", ""); /* as if it had exited */

  struct nc_cgroup_stats st;
  assert_int_equal(nc_cgroup_stats(F->cg[0], &st, &err), 0);
  assert_true(st.have_mem_peak && st.have_cpu);
  assert_int_equal(st.mem_peak_bytes, 12345);
  assert_int_equal(st.cpu_user_us, 10);
  assert_int_equal(st.cpu_sys_us, 20);
  assert_int_equal(st.oom_kills, 2);

  assert_int_equal(nc_cgroup_kill(F->cg[0], &err), 0);
  assert_file(leaf, "cgroup.kill", "1");

  r = nc_cgroup_destroy(nc_steal_ptr(&F->cg[0]), &err);
  if (r < 0) fail_msg("%s", err.msg);
  assert_false(exists(leaf));
  assert_int_equal(count_sandboxes(F->tmp), 0);
}

static void check_weight(const char *id, uint64_t shares, const char *want) {
  struct nc_cgroup_limits lim = {.cpu_shares = shares};
  nc_error err = {0};
  if (nc_cgroup_create(F->tmp, id, &lim, &F->cg[1], &err) < 0) fail_msg("%s", err.msg);
  char leaf[PATH_MAX];
  leaf_v2(leaf, sizeof leaf, id);
  assert_file(leaf, "cpu.weight", want);
  assert_file(leaf, "memory.max", "max"); /* untouched: no memory limit asked */
  assert_int_equal(nc_cgroup_destroy(nc_steal_ptr(&F->cg[1]), &err), 0);
}

static void test_v2_weight_conversion(void **state) {
  (void)state;
  fake_v2("cpu memory pids");
  check_weight("w1024", 1024, "39");
  check_weight("w2", 2, "1");
  check_weight("w262144", 262144, "10000");
  check_weight("w1", 1, "1"); /* below the v1 minimum: clamped */
}

static void test_v2_missing_controller_fails_closed(void **state) {
  (void)state;
  fake_v2("cpu pids");
  struct nc_cgroup_limits lim = {.mem_bytes = 64 * MB, .cpu_shares = 512, .pids_max = 10};
  nc_error err = {0};
  int r = nc_cgroup_create(F->tmp, "miss", &lim, &F->cg[0], &err);
  assert_int_equal(r, -ENOTSUP);
  assert_null(F->cg[0]);
  assert_non_null(strstr(err.msg, "controller \"memory\" is not available in"));
  assert_non_null(strstr(err.msg, "(cgroup.controllers has: cpu pids)"));
  assert_int_equal(count_sandboxes(F->tmp), 0);

  /* best effort: memory is skipped and reported, the rest is applied */
  lim.best_effort = true;
  r = nc_cgroup_create(F->tmp, "miss", &lim, &F->cg[0], &err);
  if (r < 0) fail_msg("%s", err.msg);
  struct nc_cgroup_enforced enf;
  nc_cgroup_enforced(F->cg[0], &enf);
  assert_false(enf.memory);
  assert_true(enf.cpu_shares && enf.pids);
  assert_false(enf.cpus); /* not asked */
  char leaf[PATH_MAX];
  leaf_v2(leaf, sizeof leaf, "miss");
  assert_file(leaf, "memory.max", "max");
  assert_file(leaf, "pids.max", "10");
  assert_int_equal(nc_cgroup_destroy(nc_steal_ptr(&F->cg[0]), &err), 0);
  assert_int_equal(count_sandboxes(F->tmp), 0);
}

static void test_v2_failed_write_cleans_up(void **state) {
  (void)state;
  fake_v2("cpu memory pids");
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s/pids.max", F->tmp);
  assert_int_equal(unlink(p), 0); /* the new cgroup will lack pids.max */
  struct nc_cgroup_limits lim = {.mem_bytes = 64 * MB, .pids_max = 10};
  nc_error err = {0};
  int r = nc_cgroup_create(F->tmp, "half", &lim, &F->cg[0], &err);
  assert_int_equal(r, -ENOENT);
  assert_non_null(strstr(err.msg, "controller \"pids\": writing \"10\" to `"));
  assert_non_null(strstr(err.msg, "/nanoclaw/nanoclaw-half/pids.max`"));
  leaf_v2(p, sizeof p, "half");
  assert_false(exists(p));
  assert_int_equal(count_sandboxes(F->tmp), 0);
}

static void test_v2_rejects_bad_id_and_reuse(void **state) {
  (void)state;
  fake_v2("cpu memory pids");
  nc_error err = {0};
  assert_int_equal(nc_cgroup_create(F->tmp, "../x", NULL, &F->cg[0], &err), -EINVAL);
  assert_int_equal(nc_cgroup_create(F->tmp, "", NULL, &F->cg[0], &err), -EINVAL);
  assert_int_equal(nc_cgroup_create(F->tmp, "same", NULL, &F->cg[0], &err), 0);
  /* an existing sandbox's cgroup is never adopted nor removed by a second create */
  assert_int_equal(nc_cgroup_create(F->tmp, "same", NULL, &F->cg[1], &err), -EEXIST);
  char leaf[PATH_MAX];
  leaf_v2(leaf, sizeof leaf, "same");
  assert_true(exists(leaf));
}

static void test_v2_self_outside_namespace(void **state) {
  (void)state;
  fake_v2("cpu memory pids");
  setenv("NANOCLAW_CGROUP_SELF", "0::/../../user.slice\n", 1);
  nc_error err = {0};
  assert_int_equal(nc_cgroup_create(F->tmp, "ns", NULL, &F->cg[0], &err), -EINVAL);
  assert_non_null(strstr(err.msg, "outside this cgroup namespace"));
}

static void test_v2_gc(void **state) {
  (void)state;
  fake_v2("cpu memory pids");
  mkfake("nanoclaw", "cgroup.procs=", NULL);
  mkfake("nanoclaw/nanoclaw-old", "cgroup.procs=", "memory.max=max", NULL);
  mkfake("nanoclaw/nanoclaw-busy", "cgroup.procs=4242\n", NULL);
  mkfake("nanoclaw/nanoclaw-new", "cgroup.procs=", NULL);
  mkfake("nanoclaw-top", "cgroup.procs=", NULL);
  mkfake("other", "cgroup.procs=", NULL);
  struct timespec old[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
  const char *aged[] = {"nanoclaw/nanoclaw-old", "nanoclaw/nanoclaw-busy", "nanoclaw-top", "other"};
  for (size_t i = 0; i < NC_ARRAY_SIZE(aged); i++) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", F->tmp, aged[i]);
    assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
  }
  nc_error err = {0};
  int n = nc_cgroup_gc(F->tmp, &err);
  if (n < 0) fail_msg("%s", err.msg);
  assert_int_equal(n, 2); /* old (empty, aged) and top; not busy, new, other */
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s/nanoclaw/nanoclaw-old", F->tmp);
  assert_false(exists(p));
  snprintf(p, sizeof p, "%s/nanoclaw/nanoclaw-busy", F->tmp);
  assert_true(exists(p));
  snprintf(p, sizeof p, "%s/nanoclaw/nanoclaw-new", F->tmp);
  assert_true(exists(p));
  snprintf(p, sizeof p, "%s/other", F->tmp);
  assert_true(exists(p));
}

static void test_v2_describe(void **state) {
  (void)state;
  fake_v2("cpu pids");
  put(F->tmp, "cgroup.subtree_control", "cpu\n");
  char buf[4096];
  assert_int_equal(nc_cgroup_describe(F->tmp, buf, sizeof buf), 0);
  assert_non_null(strstr(buf, "cgroup v2: memory: not available in"));
  assert_non_null(strstr(buf, "cgroup v2: cpu: enabled in"));
  assert_non_null(strstr(buf, "cgroup v2: pids: available but not enabled"));
  char small[16];
  assert_int_equal(nc_cgroup_describe(F->tmp, small, sizeof small), -ENOBUFS);
}

/* ---- fake v1 ------------------------------------------------------------ */

static void fake_v1(bool memsw, bool pids) {
  make_tmp();
  setenv("NANOCLAW_CGROUP_MODE", "v1", 1);
  setenv("NANOCLAW_CGROUP_SELF",
         "9:name=systemd:/\n8:pids:/\n6:freezer:/\n4:memory:/svc/x\n2:cpuacct:/\n1:cpu:/\n0::/\n", 1);
  mkfake("", NULL);
  mkfake("memory", "cgroup.procs=", NULL);
  mkfake("memory/svc", "cgroup.procs=", NULL);
  mkfake("memory/svc/x", "cgroup.procs=", "memory.limit_in_bytes=9223372036854771712",
         "memory.swappiness=60", "memory.max_usage_in_bytes=4096",
         "memory.oom_control=oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "memory.failcnt=99",
         memsw ? "memory.memsw.limit_in_bytes=9223372036854771712" : NULL, NULL);
  mkfake("cpu", "cgroup.procs=", "cpu.shares=1024", "cpu.cfs_period_us=100000", "cpu.cfs_quota_us=-1", NULL);
  mkfake("cpuacct", "cgroup.procs=", "cpuacct.usage_user=5000", "cpuacct.usage_sys=7000", NULL);
  mkfake("freezer", "cgroup.procs=", "freezer.state=THAWED", NULL);
  if (pids) mkfake("pids", "cgroup.procs=", "pids.max=max", NULL);
}

static void v1_dir(char *out, size_t cap, const char *ctl, const char *id) {
  snprintf(out, cap, "%s/%s%s/nanoclaw-%s", F->tmp, ctl, strcmp(ctl, "memory") == 0 ? "/svc/x" : "", id);
}

static void test_v1_limits_written(void **state) {
  (void)state;
  fake_v1(true, true);
  struct nc_cgroup_limits lim = {.mem_bytes = 64 * MB, .cpu_shares = 512, .cpus_milli = 500, .pids_max = 64};
  nc_error err = {0};
  if (nc_cgroup_create(F->tmp, "v1a", &lim, &F->cg[0], &err) < 0) fail_msg("%s", err.msg);
  char d[PATH_MAX];
  v1_dir(d, sizeof d, "memory", "v1a");
  assert_file(d, "memory.limit_in_bytes", "67108864");
  assert_file(d, "memory.memsw.limit_in_bytes", "67108864");
  assert_file(d, "memory.swappiness", "60"); /* memsw did the job */
  v1_dir(d, sizeof d, "cpu", "v1a");
  assert_file(d, "cpu.shares", "512");
  assert_file(d, "cpu.cfs_period_us", "100000");
  assert_file(d, "cpu.cfs_quota_us", "50000");
  v1_dir(d, sizeof d, "pids", "v1a");
  assert_file(d, "pids.max", "64");
  const char *ctls[] = {"memory", "cpu", "cpuacct", "pids", "freezer"};
  for (size_t i = 0; i < NC_ARRAY_SIZE(ctls); i++) {
    v1_dir(d, sizeof d, ctls[i], "v1a");
    assert_true(exists(d));
  }
  struct nc_cgroup_enforced enf;
  nc_cgroup_enforced(F->cg[0], &enf);
  assert_true(enf.memory && enf.cpu_shares && enf.cpus && enf.pids);
  assert_int_equal(nc_cgroup_clone_fd(F->cg[0]), -1);

  char me[32];
  snprintf(me, sizeof me, "%d", (int)getpid());
  assert_int_equal(nc_cgroup_attach(F->cg[0], getpid(), &err), 0);
  for (size_t i = 0; i < NC_ARRAY_SIZE(ctls); i++) {
    v1_dir(d, sizeof d, ctls[i], "v1a");
    assert_file(d, "cgroup.procs", me);
  }

  struct nc_cgroup_stats st;
  assert_int_equal(nc_cgroup_stats(F->cg[0], &st, &err), 0);
  assert_true(st.have_mem_peak && st.have_cpu);
  assert_int_equal(st.mem_peak_bytes, 4096);
  assert_int_equal(st.oom_kills, 3); /* from oom_control, not failcnt */
  assert_int_equal(st.cpu_user_us, 5);
  assert_int_equal(st.cpu_sys_us, 7);

  /* our own pid is listed but never signalled: kill freezes, thaws, returns */
  assert_int_equal(nc_cgroup_kill(F->cg[0], &err), -EBUSY);
  for (size_t i = 0; i < NC_ARRAY_SIZE(ctls); i++) {
    v1_dir(d, sizeof d, ctls[i], "v1a");
    put(d, "cgroup.procs", "");
  }
  assert_int_equal(nc_cgroup_kill(F->cg[0], &err), 0);
  v1_dir(d, sizeof d, "freezer", "v1a");
  assert_file(d, "freezer.state", "THAWED");

  if (nc_cgroup_destroy(nc_steal_ptr(&F->cg[0]), &err) < 0) fail_msg("%s", err.msg);
  assert_int_equal(count_sandboxes(F->tmp), 0);
}

static void test_v1_no_memsw_sets_swappiness(void **state) {
  (void)state;
  fake_v1(false, true);
  struct nc_cgroup_limits lim = {.mem_bytes = 32 * MB};
  nc_error err = {0};
  if (nc_cgroup_create(F->tmp, "sw", &lim, &F->cg[0], &err) < 0) fail_msg("%s", err.msg);
  char d[PATH_MAX];
  v1_dir(d, sizeof d, "memory", "sw");
  assert_file(d, "memory.limit_in_bytes", "33554432");
  assert_file(d, "memory.swappiness", "0");
  struct nc_cgroup_enforced enf;
  nc_cgroup_enforced(F->cg[0], &enf);
  assert_true(enf.memory);
  assert_false(enf.pids || enf.cpus || enf.cpu_shares);
}

static void test_v1_missing_controller(void **state) {
  (void)state;
  fake_v1(true, false);
  struct nc_cgroup_limits lim = {.mem_bytes = 32 * MB, .cpu_shares = 100, .pids_max = 5};
  nc_error err = {0};
  assert_int_equal(nc_cgroup_create(F->tmp, "np", &lim, &F->cg[0], &err), -ENOTSUP);
  assert_non_null(strstr(err.msg, "cgroup v1: controller \"pids\" is not mounted at `"));
  assert_int_equal(count_sandboxes(F->tmp), 0); /* memory/cpu/cpuacct dirs undone */

  lim.best_effort = true;
  if (nc_cgroup_create(F->tmp, "np", &lim, &F->cg[0], &err) < 0) fail_msg("%s", err.msg);
  struct nc_cgroup_enforced enf;
  nc_cgroup_enforced(F->cg[0], &enf);
  assert_true(enf.memory && enf.cpu_shares);
  assert_false(enf.pids);
  assert_int_equal(nc_cgroup_destroy(nc_steal_ptr(&F->cg[0]), &err), 0);
  assert_int_equal(count_sandboxes(F->tmp), 0);
}

static void test_v1_gc_counts_sandboxes(void **state) {
  (void)state;
  fake_v1(true, true);
  const char *dirs[] = {"memory/svc/x/nanoclaw-stale", "cpu/nanoclaw-stale", "cpuacct/nanoclaw-stale",
                        "pids/nanoclaw-stale", "freezer/nanoclaw-stale", "pids/nanoclaw-live"};
  struct timespec old[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
  for (size_t i = 0; i < NC_ARRAY_SIZE(dirs); i++) {
    mkfake(dirs[i], strstr(dirs[i], "live") ? "cgroup.procs=77\n" : "cgroup.procs=", NULL);
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", F->tmp, dirs[i]);
    assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
  }
  nc_error err = {0};
  assert_int_equal(nc_cgroup_gc(F->tmp, &err), 1); /* one sandbox, five hierarchies */
  assert_int_equal(count_sandboxes(F->tmp), 1);    /* the live one stays */
}

static void test_v1_describe(void **state) {
  (void)state;
  fake_v1(false, false);
  char buf[4096];
  assert_int_equal(nc_cgroup_describe(F->tmp, buf, sizeof buf), 0);
  assert_non_null(strstr(buf, "cgroup v1: memory: available at "));
  assert_non_null(strstr(buf, "/memory/svc/x (no memsw: swap cannot be capped)"));
  assert_non_null(strstr(buf, "cgroup v1: pids: not mounted at "));
}

/* ---- real cgroup v1 (this machine: hybrid, root) ------------------------ */

static void require_real_v1(void) {
  if (geteuid() != 0) fail_msg("real cgroup tests need root (euid is %d); CI runs them as root", (int)geteuid());
  struct statfs sf;
  if (statfs("/sys/fs/cgroup/memory", &sf) < 0 || sf.f_type != 0x27e0eb)
    fail_msg("real cgroup tests need cgroup v1 controllers under /sys/fs/cgroup (this CI's kind of machine)");
}

static const char *dir_of(const struct nc_cgroup *cg, enum nc_cg_ctl c) {
  assert_true(cg->ctl_dir[c] >= 0);
  return cg->dirs[cg->ctl_dir[c]];
}

static bool procs_has(const char *dir, pid_t pid) {
  char buf[4096], want[32];
  read_at(dir, "cgroup.procs", buf, sizeof buf);
  snprintf(want, sizeof want, "%d", (int)pid);
  for (char *t = strtok(buf, "\n"); t; t = strtok(NULL, "\n"))
    if (strcmp(t, want) == 0) return true;
  return false;
}

static void real_id(char *out, size_t cap) {
  char r[33];
  assert_int_equal(nc_random_id(r), 0);
  snprintf(out, cap, "test-%.12s", r);
}

static void test_real_v1_lifecycle(void **state) {
  (void)state;
  require_real_v1();
  char id[40];
  real_id(id, sizeof id);
  struct nc_cgroup_limits lim = {.mem_bytes = 64 * MB, .cpu_shares = 512, .cpus_milli = 500, .pids_max = 64};
  nc_error err = {0};
  if (nc_cgroup_create(NULL, id, &lim, &F->cg[0], &err) < 0) fail_msg("%s", err.msg);
  struct nc_cgroup *cg = F->cg[0];

  /* the memory cgroup sits under ours from /proc/self/cgroup */
  char self[8192], want[PATH_MAX] = "";
  read_at("/proc/self", "cgroup", self, sizeof self);
  for (char *t = strtok(self, "\n"); t; t = strtok(NULL, "\n"))
    if (strncmp(strchr(t, ':'), ":memory:", 8) == 0)
      snprintf(want, sizeof want, "/sys/fs/cgroup/memory%s/nanoclaw-%s", strcmp(strchr(t, ':') + 8, "/") ? strchr(t, ':') + 8 : "", id);
  assert_string_equal(dir_of(cg, NC_CG_MEMORY), want);

  assert_file(dir_of(cg, NC_CG_MEMORY), "memory.limit_in_bytes", "67108864");
  assert_file(dir_of(cg, NC_CG_MEMORY), "memory.memsw.limit_in_bytes", "67108864");
  assert_file(dir_of(cg, NC_CG_CPU), "cpu.shares", "512");
  assert_file(dir_of(cg, NC_CG_CPU), "cpu.cfs_quota_us", "50000");
  assert_file(dir_of(cg, NC_CG_CPU), "cpu.cfs_period_us", "100000");
  assert_file(dir_of(cg, NC_CG_PIDS), "pids.max", "64");
  struct nc_cgroup_enforced enf;
  nc_cgroup_enforced(cg, &enf);
  assert_true(enf.memory && enf.cpu_shares && enf.cpus && enf.pids);

  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    for (;;) pause();
  }
  F->child[0] = pid;
  if (nc_cgroup_attach(cg, pid, &err) < 0) fail_msg("%s", err.msg);
  for (int c = 0; c < NC_CG_NCTL; c++) assert_true(procs_has(dir_of(cg, (enum nc_cg_ctl)c), pid));

  if (nc_cgroup_kill(cg, &err) < 0) fail_msg("%s", err.msg);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  F->child[0] = 0;
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGKILL);
  assert_file(dir_of(cg, NC_CG_FREEZER), "freezer.state", "THAWED");

  struct nc_cgroup_stats st;
  if (nc_cgroup_stats(cg, &st, &err) < 0) fail_msg("%s", err.msg);
  assert_true(st.have_mem_peak);
  assert_true(st.have_cpu);
  assert_int_equal(st.oom_kills, 0);

  char dirs[NC_CG_NCTL][PATH_MAX];
  size_t nd = cg->ndirs;
  assert_int_equal(nd, 5);
  for (size_t i = 0; i < nd; i++) snprintf(dirs[i], sizeof dirs[i], "%s", cg->dirs[i]);
  if (nc_cgroup_destroy(nc_steal_ptr(&F->cg[0]), &err) < 0) fail_msg("%s", err.msg);
  for (size_t i = 0; i < nd; i++)
    if (exists(dirs[i])) fail_msg("%s left behind", dirs[i]);
}

static void test_real_v1_oom(void **state) {
  (void)state;
  require_real_v1();
  char id[40];
  real_id(id, sizeof id);
  struct nc_cgroup_limits lim = {.mem_bytes = 32 * MB, .pids_max = 16};
  nc_error err = {0};
  if (nc_cgroup_create(NULL, id, &lim, &F->cg[0], &err) < 0) fail_msg("%s", err.msg);
  int go[2];
  assert_int_equal(pipe2(go, O_CLOEXEC), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char c;
    close(go[1]);
    if (read(go[0], &c, 1) != 1) _exit(2); /* wait until attached: charge the new cgroup */
    size_t n = 200 * MB;
    volatile char *p = malloc(n);
    if (!p) _exit(3);
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    _exit(0);
  }
  F->child[0] = pid;
  close(go[0]);
  if (nc_cgroup_attach(F->cg[0], pid, &err) < 0) fail_msg("%s", err.msg);
  assert_int_equal(write(go[1], "x", 1), 1);
  close(go[1]);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  F->child[0] = 0;
  if (!WIFSIGNALED(status)) fail_msg("200 MB under a 32m limit was not killed (status 0x%x)", status);
  assert_int_equal(WTERMSIG(status), SIGKILL);
  struct nc_cgroup_stats st;
  if (nc_cgroup_stats(F->cg[0], &st, &err) < 0) fail_msg("%s", err.msg);
  assert_true(st.oom_kills >= 1);
  assert_true(st.have_mem_peak);
  assert_true(st.mem_peak_bytes <= 32 * MB);
  assert_true(st.mem_peak_bytes > 16 * MB);
  if (nc_cgroup_destroy(nc_steal_ptr(&F->cg[0]), &err) < 0) fail_msg("%s", err.msg);
}

static void test_real_describe(void **state) {
  (void)state;
  require_real_v1();
  char buf[4096];
  assert_int_equal(nc_cgroup_describe(NULL, buf, sizeof buf), 0);
  assert_non_null(strstr(buf, "cgroup v1: hybrid hierarchy at /sys/fs/cgroup"));
  assert_non_null(strstr(buf, "cgroup v1: memory: available at /sys/fs/cgroup/memory"));
  assert_non_null(strstr(buf, "cgroup v1: freezer: available at /sys/fs/cgroup/freezer"));
}

static void test_real_env_ignored_without_root(void **state) {
  (void)state;
  require_real_v1();
  /* The test hooks never apply to the real hierarchy. */
  setenv("NANOCLAW_CGROUP_MODE", "v2", 1);
  setenv("NANOCLAW_CGROUP_SELF", "0::/elsewhere\n", 1);
  char buf[4096];
  assert_int_equal(nc_cgroup_describe(NULL, buf, sizeof buf), 0);
  assert_non_null(strstr(buf, "cgroup v1: memory: available at"));
}

/* The cgroup2 of this hybrid host (/sys/fs/cgroup/unified) has no
 * controllers: the v2 backend must refuse limits, and without limits still
 * give a leaf usable by clone3(CLONE_INTO_CGROUP) and cgroup.kill. */
static void test_real_v2_unified(void **state) {
  (void)state;
  require_real_v1();
  const char *uni = "/sys/fs/cgroup/unified";
  struct statfs sf;
  if (statfs(uni, &sf) < 0 || sf.f_type != 0x63677270)
    fail_msg("%s is not a cgroup2 mount on this hybrid host", uni);
  char self[256];
  read_at("/proc/self", "cgroup", self, sizeof self);
  if (!strstr(self, "0::/\n") && strcmp(strrchr(self, '\n') ? strrchr(self, '\n') + 1 : self, "0::/") != 0)
    fail_msg("expected to be in the root v2 cgroup, /proc/self/cgroup has:\n%s", self);
  snprintf(F->rmdir_after, sizeof F->rmdir_after, "%s/nanoclaw", uni);
  bool had_parent = exists(F->rmdir_after);
  if (had_parent) F->rmdir_after[0] = '\0'; /* not ours */

  char id[40];
  real_id(id, sizeof id);
  struct nc_cgroup_limits lim = {.mem_bytes = 32 * MB, .pids_max = 8};
  nc_error err = {0};
  assert_int_equal(nc_cgroup_create(uni, id, &lim, &F->cg[0], &err), -ENOTSUP);
  assert_non_null(strstr(err.msg, "cgroup v2: controller \"memory\" is not available in /sys/fs/cgroup/unified"));

  lim.best_effort = true;
  if (nc_cgroup_create(uni, id, &lim, &F->cg[0], &err) < 0) fail_msg("%s", err.msg);
  struct nc_cgroup_enforced enf;
  nc_cgroup_enforced(F->cg[0], &enf);
  assert_false(enf.memory || enf.pids || enf.cpus || enf.cpu_shares);
  int fd = nc_cgroup_clone_fd(F->cg[0]);
  assert_true(fd >= 0);

  struct clone_args ca = {.flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)fd};
  long pid = syscall(SYS_clone3, &ca, sizeof ca);
  if (pid < 0) fail_msg("clone3(CLONE_INTO_CGROUP): %s", strerror(errno));
  if (pid == 0) {
    for (;;) pause();
  }
  F->child[0] = (pid_t)pid;
  char leaf[PATH_MAX];
  snprintf(leaf, sizeof leaf, "%s/nanoclaw/nanoclaw-%s", uni, id);
  assert_true(procs_has(leaf, (pid_t)pid));

  if (nc_cgroup_kill(F->cg[0], &err) < 0) fail_msg("%s", err.msg);
  int status;
  assert_int_equal(waitpid((pid_t)pid, &status, 0), pid);
  F->child[0] = 0;
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  if (nc_cgroup_destroy(nc_steal_ptr(&F->cg[0]), &err) < 0) fail_msg("%s", err.msg);
  assert_false(exists(leaf));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_v2_limits_written, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v2_weight_conversion, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v2_missing_controller_fails_closed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v2_failed_write_cleans_up, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v2_rejects_bad_id_and_reuse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v2_self_outside_namespace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v2_gc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v2_describe, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v1_limits_written, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v1_no_memsw_sets_swappiness, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v1_missing_controller, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v1_gc_counts_sandboxes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v1_describe, setup, teardown),
      cmocka_unit_test_setup_teardown(test_real_v1_lifecycle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_real_v1_oom, setup, teardown),
      cmocka_unit_test_setup_teardown(test_real_v2_unified, setup, teardown),
      cmocka_unit_test_setup_teardown(test_real_describe, setup, teardown),
      cmocka_unit_test_setup_teardown(test_real_env_ignored_without_root, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
