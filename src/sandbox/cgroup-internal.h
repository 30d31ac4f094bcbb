/* cgroup-internal.h — shared state and helpers of the cgroup backends (cgroup.c, cgroup-v1.c, cgroup-v2.c). */
#ifndef NC_SANDBOX_CGROUP_INTERNAL_H
#define NC_SANDBOX_CGROUP_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "sandbox/cgroup.h"

/* Controllers we care about. v2 has no cpuacct/freezer controller (cpu.stat
 * and cgroup.freeze are core files there); they matter on v1 only. */
enum nc_cg_ctl { NC_CG_MEMORY, NC_CG_CPU, NC_CG_CPUACCT, NC_CG_PIDS, NC_CG_FREEZER, NC_CG_NCTL };
extern const char *const nc_cg_ctl_names[NC_CG_NCTL];

/* Where the hierarchy is and who we are in it. */
struct nc_cg_ctx {
  char root[PATH_MAX];
  /* Test mode (NANOCLAW_CGROUP_MODE with an explicit root): the hierarchy is
   * plain directories. mkdir then mirrors the parent's regular files (with
   * their contents) into the new directory, as the kernel populates a new
   * cgroup; writes truncate; rmdir first unlinks the files; no statfs checks. */
  bool fake;
  /* Contents of /proc/self/cgroup, or of NANOCLAW_CGROUP_SELF in test mode. */
  char self[8192];
};

/* Name of the shared v2 intermediate under the caller's cgroup. */
#define NC_CG_V2_PARENT "nanoclaw"
#define NC_CG_PREFIX "nanoclaw-"

struct nc_cgroup {
  const struct nc_cgroup_ops *ops;
  struct nc_cg_ctx ctx;
  char id[65];
  /* Directories we created, one per v1 hierarchy or the one v2 leaf. */
  char dirs[NC_CG_NCTL][PATH_MAX];
  size_t ndirs;
  int ctl_dir[NC_CG_NCTL]; /* index into dirs, or -1 when not available */
  int leaf_fd;             /* v2: O_RDONLY|O_DIRECTORY leaf for CLONE_INTO_CGROUP */
  struct nc_cgroup_enforced enf;
};

struct nc_cgroup_ops {
  const char *name; /* "v1" / "v2" */
  /* Create the directories (recording each in cg->dirs as soon as it exists)
   * and write the limits. On failure the caller removes cg->dirs. */
  int (*create)(struct nc_cgroup *cg, const struct nc_cgroup_limits *lim, nc_error *err);
  /* SIGKILL everything (v2 cgroup.kill, v1 freeze/kill/thaw); need not wait. */
  int (*kill)(struct nc_cgroup *cg, nc_error *err);
  int (*stats)(struct nc_cgroup *cg, struct nc_cgroup_stats *ret, nc_error *err);
  /* Fill bases with the directories under which nanoclaw-* cgroups may live;
   * returns how many. */
  int (*gc_bases)(const struct nc_cg_ctx *ctx, char (*bases)[PATH_MAX], size_t cap, nc_error *err);
  int (*describe)(const struct nc_cg_ctx *ctx, char *buf, size_t cap);
};

extern const struct nc_cgroup_ops nc_cgroup_ops_v1;
extern const struct nc_cgroup_ops nc_cgroup_ops_v2;

/* snprintf into out; ENAMETOOLONG with a message on truncation. */
int nc_cg_path(char *out, size_t cap, nc_error *err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* base + the caller's cgroup path rel ("/" adds nothing); rejects ".." (a
 * cgroup outside our cgroup namespace shows up as "/../.."). */
int nc_cg_join(char *out, size_t cap, const char *base, const char *rel, nc_error *err);
/* The caller's cgroup path for a v1 controller, or for v2 when ctl is NULL. */
int nc_cg_self_path(const struct nc_cg_ctx *ctx, const char *ctl, char *out, size_t cap, nc_error *err);

/* File I/O on dir/file: 0 / bytes or -errno. */
int nc_cg_write(const struct nc_cg_ctx *ctx, const char *dir, const char *file, const char *val);
ssize_t nc_cg_read(const char *dir, const char *file, char *buf, size_t cap);
bool nc_cg_exists(const char *dir, const char *file);
/* First unsigned number of the file. */
int nc_cg_read_u64(const char *dir, const char *file, uint64_t *ret);
/* The value of "key N" in a flat-keyed file (memory.events, cpu.stat, ...). */
int nc_cg_read_key(const char *dir, const char *file, const char *key, uint64_t *ret);
/* Whether word is one of the space-separated words in list. */
bool nc_cg_has_word(const char *list, const char *word);

/* mkdir dir (fails on EEXIST: a sandbox id is never reused); mirrors the
 * parent's files in test mode. */
int nc_cg_mkdir(const struct nc_cg_ctx *ctx, const char *dir, nc_error *err);
/* rmdir dir (unlinking the fake files first in test mode); 0 or -errno. */
int nc_cg_rmdir(const struct nc_cg_ctx *ctx, const char *dir);
/* Record dir as created by us; returns its index. */
int nc_cg_add_dir(struct nc_cgroup *cg, const char *dir);

/* SIGKILL every pid listed in cgroup.procs of every dir; sets *ret_empty when
 * all were empty. */
int nc_cg_kill_listed(struct nc_cgroup *cg, bool *ret_empty, nc_error *err);
/* Repeat kill_listed until empty, for at most timeout_ms. */
int nc_cg_kill_until_empty(struct nc_cgroup *cg, unsigned timeout_ms, nc_error *err);
/* Whether the host has any active swap (/proc/swaps). */
bool nc_cg_host_has_swap(void);
/* Append to buf at *len; sets *trunc when it did not fit. */
void nc_cg_appendf(char *buf, size_t cap, size_t *len, bool *trunc, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void nc_cg_sleep_ms(unsigned ms);

#endif
