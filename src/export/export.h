/* export.h — one profile, every runtime: the Dockerfile, docker/podman run arguments, the OCI
 * bundle and the Kubernetes manifests built from the same struct nc_profile the native runtime reads.
 * A setting a target cannot honour is refused with a message naming the setting, its value and the
 * target; nothing is dropped. */
#ifndef NC_EXPORT_EXPORT_H
#define NC_EXPORT_EXPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "config/profile.h"
#include "core/error.h"

enum nc_export_target {
  NC_EXPORT_DOCKERFILE,
  NC_EXPORT_DOCKER,
  NC_EXPORT_PODMAN,
  NC_EXPORT_OCI,
  NC_EXPORT_K8S,
};

/* The host path of the seccomp profile when none is given (docker/podman). */
#define NC_EXPORT_SECCOMP_FILE "/etc/nanoclaw/seccomp.json"
/* The Localhost seccomp profile on Kubernetes nodes, relative to the kubelet's seccomp dir. */
#define NC_EXPORT_K8S_SECCOMP "nanoclaw/seccomp.json"
/* Host uid/gid that container id 0 maps to in an exported OCI bundle: the range just below the
 * native runtime's leased ranges (NC_UID_BASE), so an exported bundle never shares ids with a native run. */
#define NC_EXPORT_OCI_USERNS_BASE 0x7fff0000u
/* The egress proxy port (the gateway's and, natively, the sandbox's). */
#define NC_EXPORT_PROXY_PORT 3128

struct nc_export_opts {
  enum nc_export_target target;
  const char *what;         /* message prefix: "export k8s", "run --backend podman", ... */
  /* nanoclaw supervises the run (run --backend/--runtime): it enforces the deadline, the output
   * limit, writes the audit log and the result; a pure export has nobody to do that. */
  bool supervised;
  const char *name;         /* container / Job name; NULL: derived from the profile name */
  const char *seccomp_file; /* docker/podman: host path given to --security-opt seccomp= */
  /* run --backend podman / --runtime: a network namespace (path) with only lo, where nanoclaw's
   * proxy listens on 127.0.0.1:3128 and connects out from the host side, as natively */
  const char *netns;
  /* k8s */
  const char *namespace;       /* NULL: none written (kubectl's current namespace) */
  const char *k8s_seccomp;     /* Localhost profile path; NULL: NC_EXPORT_K8S_SECCOMP */
  bool k8s_runtime_default;    /* seccompProfile RuntimeDefault instead of our filter (explicit opt-out) */
  const char *gateway_image;   /* an image with nanoclaw in it, for the egress gateway (allowed_hosts) */
  uint64_t node_pids_limit;    /* the cluster's kubelet podPidsLimit as the operator states it; 0 = unknown */
  /* oci */
  uint32_t userns_base;        /* host id of container id 0; 0: NC_EXPORT_OCI_USERNS_BASE */
};

/* Validate p and refuse, naming the setting, the value and o->what, anything the target cannot honour.
 * cmd may be NULL (no command given). */
int nc_export_check(const nc_profile *p, const struct nc_export_opts *o, char *const cmd[], nc_error *err);

/* SHA-256 (hex) of the canonical profile JSON with env values removed (names only), so a label or
 * annotation carrying it cannot be used to guess a secret. */
int nc_export_profile_digest(const nc_profile *p, char out[65], nc_error *err);

/* A DNS-1123 label made from the profile name ("nanoclaw" when none), at most max bytes. */
void nc_export_dns_name(const nc_profile *p, char *out, size_t max);

/* The Dockerfile (malloc'd). */
char *nc_export_dockerfile(const nc_profile *p, const struct nc_export_opts *o, char *const cmd[], nc_error *err);

/* The docker/podman argument list, argv[0] the engine, ending with the image (or --rootfs DIR) and cmd.
 * ret is filled with strings the caller frees (nc_strv_free). Environment values are never in it:
 * --env NAME takes the value from the engine's own environment. */
int nc_export_engine_argv(const nc_profile *p, const struct nc_export_opts *o, char *const cmd[],
                          struct nc_strv *ret, nc_error *err);
/* Commands that must run before the engine argv (the internal network and the egress gateway when
 * allowed_hosts is set), one shell line each; an empty list otherwise. */
int nc_export_engine_setup(const nc_profile *p, const struct nc_export_opts *o, struct nc_strv *ret, nc_error *err);

/* argv as one shell command line, each word quoted as needed, one option a line (malloc'd). */
char *nc_export_shell_line(char *const argv[]);

/* The OCI runtime config.json (malloc'd) for a bundle whose rootfs is the profile's image directory. */
char *nc_export_oci_config(const nc_profile *p, const struct nc_export_opts *o, char *const cmd[], nc_error *err);
/* Write DIR/config.json (and DIR/hosts with add_hosts); DIR is created (0700) if missing and must be empty. */
int nc_export_oci_bundle(const nc_profile *p, const struct nc_export_opts *o, char *const cmd[], const char *dir,
                         nc_error *err);

/* The Kubernetes manifests as YAML documents (malloc'd). */
char *nc_export_k8s(const nc_profile *p, const struct nc_export_opts *o, char *const cmd[], nc_error *err);
/* The same objects as a JSON array (malloc'd), for kubectl on stdin. env_values: put the
 * profile's env values in a Secret (run --backend k8s only); otherwise the Secret is left to the operator. */
char *nc_export_k8s_json(const nc_profile *p, const struct nc_export_opts *o, char *const cmd[], bool env_values,
                         nc_error *err);

/* Our seccomp filter as a Docker/OCI JSON profile (malloc'd). */
char *nc_export_seccomp_json(nc_error *err);

#endif
