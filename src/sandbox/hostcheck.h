/* hostcheck.h — probe what this host's kernel offers a sandbox (for `nanoclaw check`), leaving nothing behind. */
#ifndef NC_SANDBOX_HOSTCHECK_H
#define NC_SANDBOX_HOSTCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "nanoclaw.h"

/* One probed feature. `feature` is a static, stable, machine-friendly name
 * (one of the NC_HC_* below); `detail` says what was found or why not;
 * `required` means the default profile cannot run without it. */
struct nc_hostcheck_item {
  const char *feature;
  bool ok;
  bool required;
  char detail[512];
};

/* Stable feature names (also the keys of `nanoclaw check --json`). */
#define NC_HC_ROOT "root"
#define NC_HC_USERNS "user_namespaces"         /* all seven namespaces in one clone */
#define NC_HC_USERNS_SYSCTL "userns_sysctl"    /* max_user_namespaces & friends */
#define NC_HC_UID_MAP "uid_map"                /* map sandbox root to an unprivileged host uid */
#define NC_HC_CLONE3 "clone3"
#define NC_HC_OPENAT2 "openat2"
#define NC_HC_PIDFD "pidfd_open"
#define NC_HC_CLOSE_RANGE "close_range"
#define NC_HC_CGROUP "cgroup"                  /* version and controllers */
#define NC_HC_CG_MEMORY "cgroup.memory"        /* mem_limit */
#define NC_HC_CG_CPU "cgroup.cpu"              /* cpu_shares */
#define NC_HC_CG_CPUS "cgroup.cpus"            /* cpus (CFS quota) */
#define NC_HC_CG_PIDS "cgroup.pids"            /* pids_limit */
#define NC_HC_SECCOMP "seccomp"
#define NC_HC_LANDLOCK "landlock"
#define NC_HC_OVERLAYFS "overlayfs"

/* Enough room for every item nc_hostcheck_run produces. */
#define NC_HOSTCHECK_MAX 24

/* Run every probe and fill items[0..*ret_n). Probes that fork reap their
 * children; a trial cgroup is removed again. A feature that is missing is
 * not an error (its item says so); the call fails only when items cannot
 * hold the results (-ENOSPC) or on a broken argument. */
int nc_hostcheck_run(struct nc_hostcheck_item *items, size_t cap, size_t *ret_n, nc_error *err);

/* The item named `feature`, or NULL. */
const struct nc_hostcheck_item *nc_hostcheck_find(const struct nc_hostcheck_item *items, size_t n,
                                                  const char *feature);

/* True when every required item is ok: the default profile can run here. */
bool nc_hostcheck_default_ok(const struct nc_hostcheck_item *items, size_t n);

#endif
