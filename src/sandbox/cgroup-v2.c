/* cgroup-v2.c — the unified-hierarchy backend: one leaf cgroup per sandbox
 * with memory, cpu and pids limits, cgroup.kill, and stats. */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/util.h"
#include "sandbox/cgroup-internal.h"

/* Placement (what crun/systemd-style managers need, kept simple):
 *
 *   <caller's cgroup C>/nanoclaw/nanoclaw-<id>
 *
 * C is our own cgroup from the "0::" line of /proc/self/cgroup. Because of
 * the no-internal-processes rule, controllers can be enabled in
 * C/cgroup.subtree_control only while C has no processes (or C is the root
 * cgroup) — and C contains at least us. So:
 *   - if C's subtree_control already enables what we need (a delegated
 *     cgroup prepared by systemd Delegate=yes or the container runtime), or
 *     C is the root cgroup, it works;
 *   - otherwise the write fails with EBUSY and we fail closed with a message
 *     naming the controller and explaining delegation. We never move our own
 *     process around to make room.
 * The intermediate "nanoclaw" never holds processes, so enabling controllers
 * in its subtree_control always works. It is shared by every sandbox of this
 * caller and deliberately left in place by destroy (removing it would race a
 * concurrent create); it is empty and harmless. */

enum { V2_MEM, V2_CPU, V2_PIDS, V2_N };
static const char *const v2_names[V2_N] = {"memory", "cpu", "pids"};

static void chomp(char *s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ')) s[--n] = '\0';
}

static int read_list(const char *dir, const char *file, char *buf, size_t cap, nc_error *err) {
  ssize_t n = nc_cg_read(dir, file, buf, cap);
  if (n < 0) return nc_error_sys(err, (int)-n, "cgroup v2: reading `%s/%s`", dir, file);
  chomp(buf);
  return 0;
}

/* Enable ctl in dir/cgroup.subtree_control unless it already is. 0, 1 when
 * skipped (best effort) or negative. */
static int enable_in(const struct nc_cgroup *cg, const char *dir, const char *ctl, bool best_effort, nc_error *err) {
  char avail[1024], sub[1024];
  int r = read_list(dir, "cgroup.controllers", avail, sizeof avail, err);
  if (r < 0) return r;
  if (!nc_cg_has_word(avail, ctl)) {
    if (best_effort) return 1;
    return nc_error_set(err, ENOTSUP, "cgroup v2: controller \"%s\" is not available in %s (cgroup.controllers has: %s)",
                        ctl, dir, avail[0] ? avail : "nothing");
  }
  if ((r = read_list(dir, "cgroup.subtree_control", sub, sizeof sub, err)) < 0) return r;
  if (nc_cg_has_word(sub, ctl)) return 0;
  char val[32];
  snprintf(val, sizeof val, "+%s", ctl);
  r = nc_cg_write(&cg->ctx, dir, "cgroup.subtree_control", val);
  if (r == 0) return 0;
  if (best_effort) return 1;
  if (r == -EBUSY)
    return nc_error_sys(err, EBUSY,
                        "cgroup v2: cannot enable controller \"%s\" in `%s/cgroup.subtree_control` because that "
                        "cgroup has processes in it (no-internal-processes rule); run nanoclaw from a cgroup whose "
                        "parent enables \"%s\" (e.g. a systemd scope or service with Delegate=yes), or from the "
                        "root cgroup",
                        ctl, dir, ctl);
  return nc_error_sys(err, -r, "cgroup v2: enabling controller \"%s\" in `%s/cgroup.subtree_control`", ctl, dir);
}

/* Write one limit file of the leaf: 0, 1 when skipped (best effort) or negative. */
static int apply(struct nc_cgroup *cg, const struct nc_cgroup_limits *lim, const char *ctl, const char *file,
                 const char *val, nc_error *err) {
  int r = nc_cg_write(&cg->ctx, cg->dirs[0], file, val);
  if (r == 0) return 0;
  if (lim->best_effort) return 1;
  return nc_error_sys(err, -r, "cgroup v2: controller \"%s\": writing \"%s\" to `%s/%s`", ctl, val, cg->dirs[0], file);
}

static int mkdir_shared(const struct nc_cgroup *cg, const char *dir, nc_error *err) {
  nc_error e = {0};
  int r = nc_cg_mkdir(&cg->ctx, dir, &e);
  if (r == -EEXIST) return 0;
  if (r < 0 && err) *err = e;
  return r;
}

static int limit_memory(struct nc_cgroup *cg, const struct nc_cgroup_limits *lim, nc_error *err) {
  const char *leaf = cg->dirs[0];
  char val[32];
  snprintf(val, sizeof val, "%" PRIu64, lim->mem_bytes);
  int r = apply(cg, lim, "memory", "memory.max", val, err);
  if (r != 0) return r;
  if (nc_cg_exists(leaf, "memory.swap.max")) {
    if ((r = apply(cg, lim, "memory", "memory.swap.max", "0", err)) != 0) return r;
  } else if (nc_cg_host_has_swap()) {
    /* No swap accounting (swapaccount=0 / no CONFIG_MEMCG_SWAP) and v2 has
     * no per-cgroup swappiness: swap use cannot be bounded. */
    if (lim->best_effort) return 1;
    return nc_error_set(err, ENOTSUP,
                        "cgroup v2: controller \"memory\": `%s/memory.swap.max` is missing (no swap accounting) and "
                        "this host has swap, so swap cannot be capped",
                        leaf);
  }
  /* The sandbox is one unit: an OOM kill takes all of it (kernel >= 4.19). */
  if (nc_cg_exists(leaf, "memory.oom.group") && (r = apply(cg, lim, "memory", "memory.oom.group", "1", err)) != 0)
    return r;
  return 0;
}

/* cgroup v1 cpu.shares to v2 cpu.weight, as runc/crun convert it. */
static uint64_t shares_to_weight(uint64_t shares) {
  if (shares < 2) shares = 2;
  if (shares > 262144) shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

/* Our own cgroup C holds us, so by the no-internal-processes rule it cannot
 * enable a controller for children (EBUSY) unless it is the root or was
 * already set up so. Then the sandboxes go beside C, under its parent, whose
 * subtree_control necessarily enables what C itself has (systemd hosts:
 * user@.service/app.slice/x.scope -> app.slice/nanoclaw/...). */
static bool must_go_beside(const struct nc_cgroup *cg, const char *c, const bool want[V2_N]) {
  char sub[1024];
  if (nc_cg_read(c, "cgroup.subtree_control", sub, sizeof sub) < 0) return false;
  for (int k = 0; k < V2_N; k++) {
    if (!want[k] || nc_cg_has_word(sub, v2_names[k])) continue;
    char val[32];
    snprintf(val, sizeof val, "+%s", v2_names[k]);
    if (nc_cg_write(&cg->ctx, c, "cgroup.subtree_control", val) == -EBUSY) return true;
  }
  return false;
}

static int v2_create(struct nc_cgroup *cg, const struct nc_cgroup_limits *lim, nc_error *err) {
  char self[PATH_MAX], c[PATH_MAX], p[PATH_MAX], leaf[PATH_MAX];
  int r;
  if ((r = nc_cg_self_path(&cg->ctx, NULL, self, sizeof self, err)) < 0) return r;
  if ((r = nc_cg_join(c, sizeof c, cg->ctx.root, self, err)) < 0) return r;
  bool want0[V2_N] = {lim->mem_bytes > 0, lim->cpu_shares > 0 || lim->cpus_milli > 0, lim->pids_max > 0};
  if (strcmp(self, "/") != 0 && must_go_beside(cg, c, want0)) {
    char *slash = strrchr(c, '/');
    if (slash && (size_t)(slash - c) > strlen(cg->ctx.root)) *slash = '\0';
  }
  if ((r = nc_cg_path(p, sizeof p, err, "%s/%s", c, NC_CG_V2_PARENT)) < 0) return r;
  if ((r = nc_cg_path(leaf, sizeof leaf, err, "%s/%s%s", p, NC_CG_PREFIX, cg->id)) < 0) return r;

  bool want[V2_N] = {lim->mem_bytes > 0, lim->cpu_shares > 0 || lim->cpus_milli > 0, lim->pids_max > 0};
  bool use[V2_N] = {false, false, false};
  for (int k = 0; k < V2_N; k++) {
    if (!want[k]) continue;
    if ((r = enable_in(cg, c, v2_names[k], lim->best_effort, err)) < 0) return r;
    use[k] = (r == 0);
  }
  if ((r = mkdir_shared(cg, p, err)) < 0) return r;
  for (int k = 0; k < V2_N; k++) {
    if (!use[k]) continue;
    if ((r = enable_in(cg, p, v2_names[k], lim->best_effort, err)) < 0) return r;
    use[k] = (r == 0);
  }
  if ((r = nc_cg_mkdir(&cg->ctx, leaf, err)) < 0) return r;
  int idx = nc_cg_add_dir(cg, leaf);
  for (int k = 0; k < NC_CG_NCTL; k++) cg->ctl_dir[k] = idx;

  char val[64];
  if (use[V2_MEM]) {
    if ((r = limit_memory(cg, lim, err)) < 0) return r;
    cg->enf.memory = (r == 0);
  }
  if (use[V2_CPU] && lim->cpu_shares > 0) {
    snprintf(val, sizeof val, "%" PRIu64, shares_to_weight(lim->cpu_shares));
    if ((r = apply(cg, lim, "cpu", "cpu.weight", val, err)) < 0) return r;
    cg->enf.cpu_shares = (r == 0);
  }
  if (use[V2_CPU] && lim->cpus_milli > 0) {
    snprintf(val, sizeof val, "%" PRIu64 " 100000", lim->cpus_milli * 100);
    if ((r = apply(cg, lim, "cpu", "cpu.max", val, err)) < 0) return r;
    cg->enf.cpus = (r == 0);
  }
  if (use[V2_PIDS]) {
    snprintf(val, sizeof val, "%" PRIu64, lim->pids_max);
    if ((r = apply(cg, lim, "pids", "pids.max", val, err)) < 0) return r;
    cg->enf.pids = (r == 0);
  }

  /* O_PATH is not accepted by clone3 CLONE_INTO_CGROUP. */
  cg->leaf_fd = open(leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (cg->leaf_fd < 0) return nc_error_sys(err, errno, "cgroup v2: opening `%s`", leaf);
  return 0;
}

static int v2_kill(struct nc_cgroup *cg, nc_error *err) {
  if (cg->ndirs == 0) return 0;
  const char *leaf = cg->dirs[0];
  /* Linux >= 5.14: the kernel kills every task atomically, forks included. */
  if (nc_cg_exists(leaf, "cgroup.kill") && nc_cg_write(&cg->ctx, leaf, "cgroup.kill", "1") == 0) return 0;
  /* Older kernels: freeze so nothing forks while we kill (fatal signals
   * still reach frozen tasks on v2), kill what is listed until empty. */
  bool frozen = nc_cg_exists(leaf, "cgroup.freeze") && nc_cg_write(&cg->ctx, leaf, "cgroup.freeze", "1") == 0;
  int r = nc_cg_kill_until_empty(cg, 2000, err);
  if (frozen) nc_cg_write(&cg->ctx, leaf, "cgroup.freeze", "0");
  return r;
}

static int v2_stats(struct nc_cgroup *cg, struct nc_cgroup_stats *ret, nc_error *err) {
  (void)err;
  if (cg->ndirs == 0) return 0;
  const char *leaf = cg->dirs[0];
  uint64_t v;
  if (nc_cg_read_u64(leaf, "memory.peak", &v) == 0) {
    ret->mem_peak_bytes = v;
    ret->have_mem_peak = true;
  }
  uint64_t u, s;
  if (nc_cg_read_key(leaf, "cpu.stat", "user_usec", &u) == 0 && nc_cg_read_key(leaf, "cpu.stat", "system_usec", &s) == 0) {
    ret->cpu_user_us = u;
    ret->cpu_sys_us = s;
    ret->have_cpu = true;
  }
  if (nc_cg_read_key(leaf, "memory.events", "oom_kill", &v) == 0) ret->oom_kills = v;
  return 0;
}

static int v2_gc_bases(const struct nc_cg_ctx *ctx, char (*bases)[PATH_MAX], size_t cap, nc_error *err) {
  char self[PATH_MAX];
  int r;
  if (cap < 2) return nc_error_set(err, ENOSPC, "cgroup v2: gc: no room");
  if ((r = nc_cg_self_path(ctx, NULL, self, sizeof self, err)) < 0) return r;
  if ((r = nc_cg_join(bases[0], PATH_MAX, ctx->root, self, err)) < 0) return r;
  if ((r = nc_cg_path(bases[1], PATH_MAX, err, "%s/%s", bases[0], NC_CG_V2_PARENT)) < 0) return r;
  return 2;
}

static int v2_describe(const struct nc_cg_ctx *ctx, char *buf, size_t cap) {
  size_t len = 0;
  bool trunc = false;
  char self[PATH_MAX], c[PATH_MAX], avail[1024], sub[1024];
  nc_error e = {0};
  if (nc_cg_self_path(ctx, NULL, self, sizeof self, &e) < 0 || nc_cg_join(c, sizeof c, ctx->root, self, &e) < 0) {
    nc_cg_appendf(buf, cap, &len, &trunc, "cgroup v2: %s\n", e.msg);
    return trunc ? -ENOBUFS : -e.code;
  }
  if (read_list(c, "cgroup.controllers", avail, sizeof avail, &e) < 0 ||
      read_list(c, "cgroup.subtree_control", sub, sizeof sub, &e) < 0) {
    nc_cg_appendf(buf, cap, &len, &trunc, "%s\n", e.msg);
    return trunc ? -ENOBUFS : -e.code;
  }
  nc_cg_appendf(buf, cap, &len, &trunc, "cgroup v2: unified hierarchy at %s; sandboxes go under %s/%s\n", ctx->root, c,
                NC_CG_V2_PARENT);
  for (int k = 0; k < V2_N; k++) {
    const char *n = v2_names[k];
    if (!nc_cg_has_word(avail, n))
      nc_cg_appendf(buf, cap, &len, &trunc, "cgroup v2: %s: not available in %s (cgroup.controllers has: %s)\n", n, c,
                    avail[0] ? avail : "nothing");
    else if (nc_cg_has_word(sub, n))
      nc_cg_appendf(buf, cap, &len, &trunc, "cgroup v2: %s: enabled in %s\n", n, c);
    else
      nc_cg_appendf(buf, cap, &len, &trunc,
                    "cgroup v2: %s: available but not enabled in %s/cgroup.subtree_control (nanoclaw enables it; "
                    "that fails with EBUSY if the cgroup has processes)\n",
                    n, c);
  }
  nc_cg_appendf(buf, cap, &len, &trunc, "cgroup v2: cpuacct: not a v2 controller (CPU time from cpu.stat)\n");
  nc_cg_appendf(buf, cap, &len, &trunc, "cgroup v2: freezer: %s\n",
                nc_cg_exists(c, "cgroup.kill") ? "cgroup.kill available" : "no cgroup.kill (kernel < 5.14): kill loop");
  return trunc ? -ENOBUFS : 0;
}

const struct nc_cgroup_ops nc_cgroup_ops_v2 = {
    .name = "v2",
    .create = v2_create,
    .kill = v2_kill,
    .stats = v2_stats,
    .gc_bases = v2_gc_bases,
    .describe = v2_describe,
};
