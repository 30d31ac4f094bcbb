/* common.c — what every export target shares: the refusals (a setting a target cannot honour is an
 * error naming it), the profile digest and names. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "export/export-internal.h"
#include "sandbox/seccomp.h"

#define Q(buf, s) nc_quote((buf), sizeof(buf), (s))

static const char *backend_name(enum nc_export_target t) {
  switch (t) {
    case NC_EXPORT_DOCKERFILE: return "a Dockerfile";
    case NC_EXPORT_DOCKER: return "Docker";
    case NC_EXPORT_PODMAN: return "Podman";
    case NC_EXPORT_OCI: return "an OCI runtime";
    case NC_EXPORT_K8S: return "Kubernetes";
  }
  return "?";
}

/* The `nanoclaw run` form that keeps what a pure export cannot. */
static const char *supervised_hint(enum nc_export_target t) {
  switch (t) {
    case NC_EXPORT_DOCKER: return "nanoclaw run --backend docker";
    case NC_EXPORT_PODMAN: return "nanoclaw run --backend podman";
    case NC_EXPORT_OCI: return "nanoclaw run --runtime crun|runc";
    case NC_EXPORT_K8S: return "nanoclaw run --backend k8s";
    default: return "nanoclaw run";
  }
}

/* A container image reference: [registry[:port]/]path[:tag][@digest], nothing a Dockerfile or YAML
 * could read as syntax. */
static bool image_ref_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 512 || s[0] == '-' || s[0] == ':' || s[0] == '@') return false;
  for (const char *c = s; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("._-/:@", *c)))
      return false;
  return true;
}

static int check_image(const nc_profile *p, const struct nc_export_opts *o, nc_error *err) {
  char q[512];
  const char *img = p->image;
  enum nc_export_target t = o->target;
  if (!strcmp(img, "host")) {
    const char *want = t == NC_EXPORT_OCI      ? "a root filesystem directory"
                       : t == NC_EXPORT_PODMAN ? "a container image reference or a root filesystem directory"
                                               : "a container image reference";
    return nc_error_set(err, EINVAL, "%s: image \"host\" cannot run on %s; set image to %s", o->what,
                        backend_name(t), want);
  }
  if (img[0] == '/') {
    if (t != NC_EXPORT_OCI && t != NC_EXPORT_PODMAN)
      return nc_error_set(err, EINVAL,
                          "%s: image \"%s\" is a directory; %s needs a container image reference (e.g. "
                          "python:3.11-slim)",
                          o->what, Q(q, img), backend_name(t));
    struct stat st;
    if (stat(img, &st) < 0) return nc_error_sys(err, errno, "%s: image \"%s\"", o->what, Q(q, img));
    if (!S_ISDIR(st.st_mode))
      return nc_error_set(err, ENOTDIR, "%s: image \"%s\" is not a directory", o->what, Q(q, img));
    return 0;
  }
  if (t == NC_EXPORT_OCI)
    return nc_error_set(err, EINVAL,
                        "%s: image \"%s\" is an image reference; an OCI bundle needs a root filesystem "
                        "directory (unpack the image and set image to its path)",
                        o->what, Q(q, img));
  if (!image_ref_ok(img))
    return nc_error_set(err, EINVAL, "%s: image \"%s\" is not a container image reference", o->what, Q(q, img));
  return 0;
}

/* The runtime would create a missing mount point inside the image directory: refuse instead, so an
 * exported bundle never writes to the image. */
static int check_mountpoint(const nc_profile *p, const struct nc_export_opts *o, const char *path, bool dir,
                            const char *why, nc_error *err) {
  char full[2 * NC_MAX_PATH], q[512], q2[512];
  struct stat st;
  snprintf(full, sizeof full, "%s%s", p->image, path);
  if (lstat(full, &st) < 0 || (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
    return nc_error_set(err, ENOENT,
                        "%s: image \"%s\" has no %s \"%s\" for %s (the runtime would create it inside the image; "
                        "create it there first)",
                        o->what, Q(q, p->image), dir ? "directory" : "file", Q(q2, path), why);
  return 0;
}

/* The runtime opens the image as the sandbox's unprivileged host ids (a user namespace): every
 * directory on the way must be searchable by others. */
static int check_searchable(const nc_profile *p, const struct nc_export_opts *o, nc_error *err) {
  char path[NC_MAX_PATH], q[512], q2[512];
  snprintf(path, sizeof path, "%s", p->image);
  for (;;) {
    struct stat st;
    if (stat(path, &st) == 0 && !(st.st_mode & S_IXOTH))
      return nc_error_set(err, EACCES,
                          "%s: image \"%s\": `%s` is not searchable by others (chmod o+x), and the sandbox's "
                          "user namespace maps it to unprivileged host ids",
                          o->what, Q(q, p->image), Q(q2, path));
    char *slash = strrchr(path, '/');
    if (!slash || slash == path) return 0;
    *slash = '\0';
  }
}

static int check_oci_rootfs(const nc_profile *p, const struct nc_export_opts *o, nc_error *err) {
  int r = check_searchable(p, o, err);
  if (r == 0) r = check_mountpoint(p, o, "/proc", true, "/proc", err);
  if (r == 0) r = check_mountpoint(p, o, "/dev", true, "/dev", err);
  for (size_t i = 0; r == 0 && i < p->n_tmpfs; i++) r = check_mountpoint(p, o, p->tmpfs[i].path, true, "tmpfs", err);
  for (size_t i = 0; r == 0 && i < p->n_binds; i++) {
    struct stat st;
    bool dir = stat(p->binds[i].src, &st) == 0 && S_ISDIR(st.st_mode);
    r = check_mountpoint(p, o, p->binds[i].dst, dir, "binds", err);
  }
  if (r == 0 && p->add_hosts.n) r = check_mountpoint(p, o, "/etc/hosts", false, "add_hosts", err);
  return r;
}

static int refuse_unsupervised(const nc_profile *p, const struct nc_export_opts *o, nc_error *err) {
  char q[512];
  enum nc_export_target t = o->target;
  if (!p->audit.off)
    return nc_error_set(err, EINVAL,
                        "%s: audit.log \"%s\" cannot be kept by %s: nothing of nanoclaw's runs there to write it; "
                        "set audit.log to none, or use %s, which keeps it",
                        o->what, p->audit.log ? Q(q, p->audit.log) : "default", backend_name(t), supervised_hint(t));
  if (p->output_limit)
    return nc_error_set(err, EINVAL,
                        "%s: output_limit %llu cannot be enforced by %s; set output_limit to 0, or use %s, which "
                        "enforces it",
                        o->what, (unsigned long long)p->output_limit, backend_name(t), supervised_hint(t));
  if (p->result_json)
    return nc_error_set(err, EINVAL, "%s: result_json \"%s\" is written by nanoclaw run; drop it, or use %s",
                        o->what, Q(q, p->result_json), supervised_hint(t));
  if (p->timeout_ms && (t == NC_EXPORT_DOCKER || t == NC_EXPORT_OCI))
    return nc_error_set(err, EINVAL,
                        "%s: timeout %llu.%03llus cannot be enforced by %s (it has no run deadline); set timeout "
                        "to 0, or use %s, which kills the container at the deadline",
                        o->what, (unsigned long long)(p->timeout_ms / 1000), (unsigned long long)(p->timeout_ms % 1000),
                        t == NC_EXPORT_DOCKER ? "docker run" : "an OCI bundle", supervised_hint(t));
  if (p->timeout_ms % 1000)
    return nc_error_set(err, EINVAL,
                        "%s: timeout %llu.%03llus is not a whole number of seconds, which is what %s counts; "
                        "round it (down, to stay within the profile)",
                        o->what, (unsigned long long)(p->timeout_ms / 1000), (unsigned long long)(p->timeout_ms % 1000),
                        t == NC_EXPORT_K8S ? "activeDeadlineSeconds" : "podman run --timeout");
  return 0;
}

static bool dns_label_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-') return false;
  for (const char *c = s; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-')) return false;
  return true;
}

static int check_k8s(const nc_profile *p, const struct nc_export_opts *o, nc_error *err) {
  char q[512];
  if (p->n_binds)
    return nc_error_set(err, EINVAL,
                        "%s: binds \"%s:%s\" cannot be honoured on Kubernetes: hostPath volumes are forbidden by the "
                        "restricted Pod Security Standard (use a PersistentVolumeClaim, or put the data in the image)",
                        o->what, Q(q, p->binds[0].src), p->binds[0].dst);
  if (p->pids_limit && (o->node_pids_limit == 0 || o->node_pids_limit > p->pids_limit))
    return nc_error_set(err, EINVAL,
                        "%s: pids_limit %llu cannot be set per pod on Kubernetes (the kubelet's podPidsLimit sets "
                        "it); pass --node-pids-limit N when your nodes enforce an N <= %llu, or set pids_limit to 0",
                        o->what, (unsigned long long)p->pids_limit, (unsigned long long)p->pids_limit);
  if (!dns_label_ok(p->hostname))
    return nc_error_set(err, EINVAL,
                        "%s: hostname \"%s\" is not a DNS label, which a Kubernetes pod hostname must be "
                        "(lower case letters, digits and '-', no dots, at most 63)",
                        o->what, Q(q, p->hostname));
  return 0;
}

int nc_export_check(const nc_profile *p, const struct nc_export_opts *o, char *const cmd[], nc_error *err) {
  int r = nc_profile_validate(p, err);
  if (r < 0) return r;
  if ((r = check_image(p, o, err)) < 0) return r;
  enum nc_export_target t = o->target;
  if (p->uid == 0)
    return nc_error_set(err, EINVAL,
                        "%s: user \"0:%u\" is root, which %s would run as real root; set user to a non-root uid",
                        o->what, (unsigned)p->gid, backend_name(t));
  if (t == NC_EXPORT_DOCKERFILE) return 0; /* a build recipe: run-time settings go to the run exports */
  if (!o->supervised && (r = refuse_unsupervised(p, o, err)) < 0) return r;
  if (t == NC_EXPORT_OCI && (!cmd || !cmd[0]))
    return nc_error_set(err, EINVAL, "%s: no command given (an OCI bundle has no image default; append -- COMMAND)",
                        o->what);
  if (p->allowed_hosts.n && o->supervised && (t == NC_EXPORT_DOCKER || t == NC_EXPORT_K8S))
    return nc_error_set(err, ENOTSUP,
                        "%s: allowed_hosts (%s%s) is not supported by %s: nanoclaw cannot put its proxy in the "
                        "container's network there; use podman or crun/runc, the native runtime, or export %s "
                        "with --gateway-image",
                        o->what, p->allowed_hosts.v[0], p->allowed_hosts.n > 1 ? ", ..." : "", backend_name(t),
                        t == NC_EXPORT_DOCKER ? "docker-run" : "k8s");
  if (p->allowed_hosts.n && !o->supervised && t == NC_EXPORT_OCI)
    return nc_error_set(err, ENOTSUP,
                        "%s: allowed_hosts (%s%s) cannot be carried by an OCI bundle: nothing in it would enforce "
                        "the names; use nanoclaw run --runtime crun|runc, which serves its proxy in the bundle's "
                        "network namespace",
                        o->what, p->allowed_hosts.v[0], p->allowed_hosts.n > 1 ? ", ..." : "");
  if (p->allowed_hosts.n && !o->supervised && (!o->gateway_image || !image_ref_ok(o->gateway_image)))
    return nc_error_set(err, EINVAL,
                        "%s: allowed_hosts (%s%s) needs nanoclaw's egress gateway; pass --gateway-image REF, an "
                        "image with nanoclaw in it",
                        o->what, p->allowed_hosts.v[0], p->allowed_hosts.n > 1 ? ", ..." : "");
  if (t == NC_EXPORT_K8S && (r = check_k8s(p, o, err)) < 0) return r;
  if (t == NC_EXPORT_OCI && (r = check_oci_rootfs(p, o, err)) < 0) return r;
  return 0;
}

int nc_export_profile_digest(const nc_profile *p, char out[65], nc_error *err) { return nc_profile_digest(p, out, err); }

void nc_export_dns_name(const nc_profile *p, char *out, size_t max) {
  const char *s = p->name ? p->name : "nanoclaw";
  size_t o = 0;
  for (; *s && o + 1 < max; s++) {
    char c = *s;
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) c = '-';
    if (c == '-' && (o == 0 || out[o - 1] == '-')) continue;
    out[o++] = c;
  }
  while (o > 0 && out[o - 1] == '-') o--;
  out[o] = '\0';
  if (o == 0) snprintf(out, max, "nanoclaw");
}

char *nc_export_seccomp_json(nc_error *err) { return nc_seccomp_export_docker_json(err); }

/* ---- shared helpers ---- */

void nc_buf_put(struct nc_buf *b, const char *fmt, ...) {
  if (b->oom) return;
  va_list ap;
  va_start(ap, fmt);
  char *t = NULL;
  int n = vasprintf(&t, fmt, ap);
  va_end(ap);
  char *ns = n < 0 ? NULL : realloc(b->s, b->len + (size_t)n + 1);
  if (!ns) {
    if (n >= 0) free(t);
    b->oom = true;
    return;
  }
  memcpy(ns + b->len, t, (size_t)n + 1);
  b->s = ns;
  b->len += (size_t)n;
  free(t);
}

int nc_argv_push(struct nc_strv *v, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *t = NULL;
  int n = vasprintf(&t, fmt, ap);
  va_end(ap);
  if (n < 0) return -ENOMEM;
  char **nv = realloc(v->v, (v->n + 2) * sizeof *nv);
  if (!nv) {
    free(t);
    return -ENOMEM;
  }
  nv[v->n++] = t;
  nv[v->n] = NULL;
  v->v = nv;
  return 0;
}

bool nc_export_env_from_image(const nc_profile *p, size_t i) {
  for (size_t j = 0; j < p->image_env.n; j++)
    if (!strcmp(p->env.v[i], p->image_env.v[j])) return true;
  return false;
}

size_t nc_export_env_count(const nc_profile *p) {
  size_t n = 0;
  for (size_t i = 0; i < p->env.n; i++) n += !nc_export_env_from_image(p, i);
  return n;
}

bool nc_export_env_has(const nc_profile *p, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < p->env.n; i++)
    if (!strncmp(p->env.v[i], name, n) && p->env.v[i][n] == '=') return true;
  return false;
}

const char *const nc_export_proxy_vars[] = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                                            "http_proxy", "https_proxy", "all_proxy"};
const size_t nc_export_proxy_vars_n = NC_ARRAY_SIZE(nc_export_proxy_vars);

unsigned long long nc_export_deadline_s(const nc_profile *p) {
  return (unsigned long long)((p->timeout_ms + 999) / 1000);
}

json_t *nc_export_seccomp_object(nc_error *err) {
  nc_autofree char *s = nc_seccomp_export_docker_json(err);
  if (!s) return NULL;
  json_t *o = json_loads(s, 0, NULL);
  if (!o) nc_error_set(err, ENOMEM, "seccomp: reading back the exported profile");
  return o;
}
