/* run_backend.h — `nanoclaw run` through another engine: docker, podman, Kubernetes, crun, runc. */
#ifndef NC_CLI_RUN_BACKEND_H
#define NC_CLI_RUN_BACKEND_H

#include "config/profile.h"

enum nc_backend { NC_BACKEND_DOCKER, NC_BACKEND_PODMAN, NC_BACKEND_K8S, NC_BACKEND_CRUN, NC_BACKEND_RUNC };

/* Run cmd (may be NULL: the image's default, not for crun/runc) under the backend, supervised:
 * the deadline (exit 124), forwarded signals (sigfd, or -1), the output limit, the audit log.
 * 0 with *res filled, or negative with err when it could not be set up. */
int nc_run_backend(const struct nc_profile *p, enum nc_backend kind, char **cmd, int sigfd, nc_run_result *res,
                   nc_error *err);

#endif
