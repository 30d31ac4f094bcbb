/* cgroup-v1.c — the legacy/hybrid backend: one nanoclaw-<id> directory per
 * controller hierarchy (memory, cpu, cpuacct, pids, freezer), limits, a
 * freeze/kill/thaw loop, and stats. */
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "core/error.h"
#include "core/util.h"
#include "sandbox/cgroup-internal.h"

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif

/* Placement: <root>/<controller><caller's cgroup for that controller>/nanoclaw-<id>.
 * v1 has no no-internal-processes rule, so no intermediate is needed.
 * cpuacct and freezer are optional (stats, race-free kill): created when
 * mounted, never a reason to fail. Co-mounted hierarchies ("cpu,cpuacct"
 * with cpu and cpuacct symlinks) share one directory. cpuset is not used (a
 * new cpuset cgroup would need cpuset.cpus/mems filled before attach). */

/* The mount of controller c, if it is a usable v1 hierarchy. */
static bool mount_of(const struct nc_cg_ctx *ctx, int c, char *out, size_t cap, struct stat *st) {
  int n = snprintf(out, cap, "%s/%s", ctx->root, nc_cg_ctl_names[c]);
  if (n < 0 || (size_t)n >= cap) return false;
  if (stat(out, st) < 0 || !S_ISDIR(st->st_mode)) return false;
  if (ctx->fake) return true;
  struct statfs sf;
  return statfs(out, &sf) == 0 && (unsigned long)sf.f_type == (unsigned long)CGROUP_SUPER_MAGIC;
}

/* The caller's cgroup directory in controller c's hierarchy. */
static int caller_dir(const struct nc_cg_ctx *ctx, int c, const char *mnt, char *out, size_t cap, nc_error *err) {
  char self[PATH_MAX];
  int r = nc_cg_self_path(ctx, nc_cg_ctl_names[c], self, sizeof self, err);
  if (r < 0) return r;
  return nc_cg_join(out, cap, mnt, self, err);
}

static int apply(struct nc_cgroup *cg, const struct nc_cgroup_limits *lim, int c, const char *file, const char *val,
                 nc_error *err) {
  const char *dir = cg->dirs[cg->ctl_dir[c]];
  int r = nc_cg_write(&cg->ctx, dir, file, val);
  if (r == 0) return 0;
  if (lim->best_effort) return 1;
  return nc_error_sys(err, -r, "cgroup v1: controller \"%s\": writing \"%s\" to `%s/%s`", nc_cg_ctl_names[c], val,
                      dir, file);
}

static int make_dirs(struct nc_cgroup *cg, const bool want[NC_CG_NCTL], bool best_effort, nc_error *err) {
  struct stat st[NC_CG_NCTL];
  bool mounted[NC_CG_NCTL] = {false};
  for (int c = 0; c < NC_CG_NCTL; c++) {
    const char *name = nc_cg_ctl_names[c];
    char mnt[PATH_MAX], dir[PATH_MAX];
    mounted[c] = mount_of(&cg->ctx, c, mnt, sizeof mnt, &st[c]);
    if (!mounted[c]) {
      if (want[c] && !best_effort)
        return nc_error_set(err, ENOTSUP, "cgroup v1: controller \"%s\" is not mounted at `%s/%s`", name,
                            cg->ctx.root, name);
      continue;
    }
    int alias = -1;
    for (int d = 0; d < c; d++)
      if (mounted[d] && st[d].st_dev == st[c].st_dev && st[d].st_ino == st[c].st_ino) alias = d;
    if (alias >= 0) {
      cg->ctl_dir[c] = cg->ctl_dir[alias];
      continue;
    }
    nc_error e = {0};
    int r = caller_dir(&cg->ctx, c, mnt, dir, sizeof dir, &e);
    if (r == 0) {
      size_t l = strlen(dir);
      r = nc_cg_path(dir + l, sizeof dir - l, &e, "/%s%s", NC_CG_PREFIX, cg->id);
    }
    if (r == 0) r = nc_cg_mkdir(&cg->ctx, dir, &e);
    if (r < 0) {
      /* A reused id is always an error; otherwise only wanted controllers count. */
      if (r == -EEXIST || (want[c] && !best_effort)) {
        if (err) *err = e;
        return nc_error_wrap(err, "cgroup v1: controller \"%s\"", name);
      }
      continue;
    }
    cg->ctl_dir[c] = nc_cg_add_dir(cg, dir);
  }
  return 0;
}

static int v1_create(struct nc_cgroup *cg, const struct nc_cgroup_limits *lim, nc_error *err) {
  bool want[NC_CG_NCTL] = {false};
  want[NC_CG_MEMORY] = lim->mem_bytes > 0;
  want[NC_CG_CPU] = lim->cpu_shares > 0 || lim->cpus_milli > 0;
  want[NC_CG_PIDS] = lim->pids_max > 0;
  int r = make_dirs(cg, want, lim->best_effort, err);
  if (r < 0) return r;

  char val[64];
  if (want[NC_CG_MEMORY] && cg->ctl_dir[NC_CG_MEMORY] >= 0) {
    const char *dir = cg->dirs[cg->ctl_dir[NC_CG_MEMORY]];
    snprintf(val, sizeof val, "%" PRIu64, lim->mem_bytes);
    r = apply(cg, lim, NC_CG_MEMORY, "memory.limit_in_bytes", val, err);
    /* memsw (RAM + swap) = the same value: no swap beyond the RAM limit. It
     * must be written after limit_in_bytes (memsw >= limit is enforced). */
    if (r == 0 && nc_cg_exists(dir, "memory.memsw.limit_in_bytes"))
      r = apply(cg, lim, NC_CG_MEMORY, "memory.memsw.limit_in_bytes", val, err);
    else if (r == 0)
      /* No swap accounting (swapaccount=0): swap cannot be capped; the next
       * best thing is to make this cgroup's reclaim never swap anon pages. */
      r = apply(cg, lim, NC_CG_MEMORY, "memory.swappiness", "0", err);
    if (r < 0) return r;
    cg->enf.memory = (r == 0);
  }
  if (lim->cpu_shares > 0 && cg->ctl_dir[NC_CG_CPU] >= 0) {
    snprintf(val, sizeof val, "%" PRIu64, lim->cpu_shares);
    if ((r = apply(cg, lim, NC_CG_CPU, "cpu.shares", val, err)) < 0) return r;
    cg->enf.cpu_shares = (r == 0);
  }
  if (lim->cpus_milli > 0 && cg->ctl_dir[NC_CG_CPU] >= 0) {
    r = apply(cg, lim, NC_CG_CPU, "cpu.cfs_period_us", "100000", err);
    snprintf(val, sizeof val, "%" PRIu64, lim->cpus_milli * 100);
    if (r == 0) r = apply(cg, lim, NC_CG_CPU, "cpu.cfs_quota_us", val, err);
    if (r < 0) return r;
    cg->enf.cpus = (r == 0);
  }
  if (want[NC_CG_PIDS] && cg->ctl_dir[NC_CG_PIDS] >= 0) {
    snprintf(val, sizeof val, "%" PRIu64, lim->pids_max);
    if ((r = apply(cg, lim, NC_CG_PIDS, "pids.max", val, err)) < 0) return r;
    cg->enf.pids = (r == 0);
  }
  return 0;
}

static bool state_is(const char *dir, const char *want) {
  char buf[32];
  if (nc_cg_read(dir, "freezer.state", buf, sizeof buf) < 0) return false;
  return strncmp(buf, want, strlen(want)) == 0;
}

static int v1_kill(struct nc_cgroup *cg, nc_error *err) {
  if (cg->ndirs == 0) return 0;
  /* Freeze first so nothing can fork between reading cgroup.procs and the
   * kill; SIGKILL is delivered once thawed. */
  const char *fz = cg->ctl_dir[NC_CG_FREEZER] >= 0 ? cg->dirs[cg->ctl_dir[NC_CG_FREEZER]] : NULL;
  bool frozen = false;
  if (fz && nc_cg_exists(fz, "freezer.state") && nc_cg_write(&cg->ctx, fz, "freezer.state", "FROZEN") == 0) {
    frozen = true;
    for (int i = 0; i < 500 && !state_is(fz, "FROZEN"); i++) nc_cg_sleep_ms(1);
  }
  bool empty;
  int r = nc_cg_kill_listed(cg, &empty, err);
  if (frozen) {
    int t = nc_cg_write(&cg->ctx, fz, "freezer.state", "THAWED");
    if (t < 0 && r == 0) r = nc_error_sys(err, -t, "cgroup v1: thawing `%s/freezer.state`", fz);
  }
  if (r < 0) return r;
  return nc_cg_kill_until_empty(cg, 2000, err);
}

static int v1_stats(struct nc_cgroup *cg, struct nc_cgroup_stats *ret, nc_error *err) {
  (void)err;
  uint64_t v;
  if (cg->ctl_dir[NC_CG_MEMORY] >= 0) {
    const char *m = cg->dirs[cg->ctl_dir[NC_CG_MEMORY]];
    if (nc_cg_read_u64(m, "memory.max_usage_in_bytes", &v) == 0) {
      ret->mem_peak_bytes = v;
      ret->have_mem_peak = true;
    }
    /* oom_kill in memory.oom_control (Linux >= 4.13). memory.failcnt counts
     * limit hits, not kills, so it is not used. */
    if (nc_cg_read_key(m, "memory.oom_control", "oom_kill", &v) == 0) ret->oom_kills = v;
  }
  if (cg->ctl_dir[NC_CG_CPUACCT] >= 0) {
    const char *a = cg->dirs[cg->ctl_dir[NC_CG_CPUACCT]];
    uint64_t u, s;
    if (nc_cg_read_u64(a, "cpuacct.usage_user", &u) == 0 && nc_cg_read_u64(a, "cpuacct.usage_sys", &s) == 0) {
      ret->cpu_user_us = u / 1000; /* ns */
      ret->cpu_sys_us = s / 1000;
      ret->have_cpu = true;
    } else if (nc_cg_read_key(a, "cpuacct.stat", "user", &u) == 0 &&
               nc_cg_read_key(a, "cpuacct.stat", "system", &s) == 0) {
      long hz = sysconf(_SC_CLK_TCK); /* USER_HZ ticks */
      if (hz <= 0) hz = 100;
      ret->cpu_user_us = u * (1000000 / (uint64_t)hz);
      ret->cpu_sys_us = s * (1000000 / (uint64_t)hz);
      ret->have_cpu = true;
    }
  }
  return 0;
}

static int v1_gc_bases(const struct nc_cg_ctx *ctx, char (*bases)[PATH_MAX], size_t cap, nc_error *err) {
  (void)err;
  size_t n = 0;
  struct stat st[NC_CG_NCTL];
  bool mounted[NC_CG_NCTL] = {false};
  for (int c = 0; c < NC_CG_NCTL && n < cap; c++) {
    char mnt[PATH_MAX];
    if (!(mounted[c] = mount_of(ctx, c, mnt, sizeof mnt, &st[c]))) continue;
    bool dup = false;
    for (int d = 0; d < c; d++)
      if (mounted[d] && st[d].st_dev == st[c].st_dev && st[d].st_ino == st[c].st_ino) dup = true;
    nc_error e;
    if (!dup && caller_dir(ctx, c, mnt, bases[n], PATH_MAX, &e) == 0) n++;
  }
  return (int)n;
}

static int v1_describe(const struct nc_cg_ctx *ctx, char *buf, size_t cap) {
  size_t len = 0;
  bool trunc = false;
  char uni[PATH_MAX];
  struct statfs sf;
  int n = snprintf(uni, sizeof uni, "%s/unified", ctx->root);
  bool hybrid = n > 0 && (size_t)n < sizeof uni && statfs(uni, &sf) == 0 && (unsigned long)sf.f_type == 0x63677270UL;
  nc_cg_appendf(buf, cap, &len, &trunc, "cgroup v1: %s hierarchy at %s\n", hybrid ? "hybrid" : "legacy", ctx->root);
  for (int c = 0; c < NC_CG_NCTL; c++) {
    const char *name = nc_cg_ctl_names[c];
    char mnt[PATH_MAX], dir[PATH_MAX];
    struct stat st;
    nc_error e = {0};
    if (!mount_of(ctx, c, mnt, sizeof mnt, &st)) {
      nc_cg_appendf(buf, cap, &len, &trunc, "cgroup v1: %s: not mounted at %s/%s\n", name, ctx->root, name);
    } else if (caller_dir(ctx, c, mnt, dir, sizeof dir, &e) < 0) {
      nc_cg_appendf(buf, cap, &len, &trunc, "cgroup v1: %s: %s\n", name, e.msg);
    } else if (access(dir, W_OK) < 0) {
      nc_cg_appendf(buf, cap, &len, &trunc, "cgroup v1: %s: not writable at %s\n", name, dir);
    } else {
      const char *note = "";
      if (c == NC_CG_MEMORY && !nc_cg_exists(dir, "memory.memsw.limit_in_bytes"))
        note = " (no memsw: swap cannot be capped)";
      nc_cg_appendf(buf, cap, &len, &trunc, "cgroup v1: %s: available at %s%s\n", name, dir, note);
    }
  }
  return trunc ? -ENOBUFS : 0;
}

const struct nc_cgroup_ops nc_cgroup_ops_v1 = {
    .name = "v1",
    .create = v1_create,
    .kill = v1_kill,
    .stats = v1_stats,
    .gc_bases = v1_gc_bases,
    .describe = v1_describe,
};
