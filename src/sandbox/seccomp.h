/* seccomp.h — the sandbox's syscall filter: built once (libseccomp), loaded in the child. */
#ifndef NC_SANDBOX_SECCOMP_H
#define NC_SANDBOX_SECCOMP_H

#include <linux/filter.h>
#include <stddef.h>

#include "nanoclaw.h"

/* A compiled classic-BPF program ready for seccomp(SECCOMP_SET_MODE_FILTER). */
struct nc_seccomp_filter {
  struct sock_filter *insns; /* malloc'd */
  unsigned short len;        /* number of instructions */
};

/* Build (or fetch from the per-process cache) the default filter.
 * Called in the parent before clone. 0 or negative with err filled. */
int nc_seccomp_prepare(struct nc_seccomp_filter *ret, nc_error *err);
void nc_seccomp_filter_free(struct nc_seccomp_filter *f);
/* Build the filter from the policy with libseccomp now (no cache, no prebuilt
 * copy): what nc-gen-seccomp embeds at build time, and what tests compare. */
int nc_seccomp_compile(struct nc_seccomp_filter *ret, nc_error *err);

/* Install f in the calling thread (no_new_privs must already be set).
 * Async-signal-safe: allocates nothing; for the child between clone and exec.
 * Returns 0 or -errno. */
int nc_seccomp_load(const struct nc_seccomp_filter *f);

/* Write the filter as a Docker/OCI seccomp JSON profile (for export). */
char *nc_seccomp_export_docker_json(nc_error *err);

#endif
