/* cgroup.h — one cgroup per sandbox on v2 or v1: create with limits, attach, kill, stats, destroy. */
#ifndef NC_SANDBOX_CGROUP_H
#define NC_SANDBOX_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "nanoclaw.h"

struct nc_cgroup_limits {
  uint64_t mem_bytes;   /* 0 = none; swap is limited to 0 as well */
  uint64_t cpu_shares;  /* 0 = none; v2 converts to cpu.weight */
  uint64_t cpus_milli;  /* 0 = none; CFS quota over a 100 ms period */
  uint64_t pids_max;    /* 0 = none */
  bool best_effort;     /* missing controller: note it instead of failing */
};

struct nc_cgroup_stats {
  uint64_t mem_peak_bytes;
  uint64_t cpu_user_us, cpu_sys_us;
  uint64_t oom_kills;   /* memory.events oom_kill (v2) / memory.oom_control (v1) */
  bool have_mem_peak, have_cpu;
};

struct nc_cgroup; /* opaque */

/* Which limits are actually in force (for the run result). */
struct nc_cgroup_enforced {
  bool memory, cpu_shares, cpus, pids;
};

/* Create the sandbox's cgroup(s) named nanoclaw-<id> under the hierarchy
 * at `root` (NULL: /sys/fs/cgroup, auto-detecting v2 / v1 / hybrid) and
 * write the limits. Fails closed (-ENOTSUP etc. with a message naming the
 * controller) unless lim->best_effort. */
int nc_cgroup_create(const char *root, const char *id, const struct nc_cgroup_limits *lim,
                     struct nc_cgroup **ret, nc_error *err);
/* v2: an O_DIRECTORY fd of the leaf cgroup for clone3 CLONE_INTO_CGROUP;
 * -1 when not available (v1), the caller then uses nc_cgroup_attach. */
int nc_cgroup_clone_fd(const struct nc_cgroup *cg);
/* Move pid into every controller's cgroup (v1, or v2 without clone3). */
int nc_cgroup_attach(struct nc_cgroup *cg, pid_t pid, nc_error *err);
void nc_cgroup_enforced(const struct nc_cgroup *cg, struct nc_cgroup_enforced *ret);
/* SIGKILL every process in the cgroup (v2 cgroup.kill; v1 freeze+kill loop). */
int nc_cgroup_kill(struct nc_cgroup *cg, nc_error *err);
int nc_cgroup_stats(struct nc_cgroup *cg, struct nc_cgroup_stats *ret, nc_error *err);
/* Kill what is left, wait until empty (bounded), rmdir, free. NULL-safe. */
int nc_cgroup_destroy(struct nc_cgroup *cg, nc_error *err);
/* Remove stale nanoclaw-* cgroups whose owner is gone (for `nanoclaw gc`);
 * returns how many were removed or negative. */
int nc_cgroup_gc(const char *root, nc_error *err);

/* Describe what this host's cgroup setup offers, one line per controller,
 * into buf (for `nanoclaw check`). */
int nc_cgroup_describe(const char *root, char *buf, size_t cap);

#endif
