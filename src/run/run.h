/* run.h — one run of the native runtime, with the options the CLI adds. */
#ifndef NC_RUN_RUN_H
#define NC_RUN_RUN_H

#include "config/profile.h"

struct nc_run_options {
  int signal_fd;          /* a signalfd for SIGINT/SIGTERM/SIGHUP/SIGQUIT, or -1 */
  uint64_t kill_grace_ms; /* after a forwarded signal, SIGKILL everything after this long */
  const char *cgroup_root;/* NULL: /sys/fs/cgroup */
};

/* nc_run with options. err is also filled (with the return value 0) when
 * the command could not be found or executed (exit 126/127). */
int nc_run_ex(const struct nc_profile *p, char *const argv[], const struct nc_run_options *opt,
              nc_run_result *res, nc_error *err);

#endif
