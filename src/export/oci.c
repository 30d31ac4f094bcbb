/* oci.c — `nanoclaw export oci`: an OCI runtime bundle (config.json per the runtime spec) that crun
 * and runc run with the native runtime's isolation: a user namespace mapping the sandbox to
 * unprivileged host ids, a read-only root (the profile's image directory, used in place), sized tmpfs
 * mounts, cgroup limits, rlimits, no capabilities, no_new_privs, our seccomp filter, its own
 * hostname and a network namespace with loopback only. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "export/export-internal.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *const masked_paths[] = {
    "/proc/acpi",      "/proc/asound",    "/proc/kcore",      "/proc/keys",        "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",      "/proc/kallsyms",
    "/proc/kpagecount", "/proc/kpageflags", "/proc/kpagecgroup", "/proc/config.gz", "/proc/firmware",
    "/proc/sys/kernel/core_pattern", "/sys/firmware"};
static const char *const readonly_paths[] = {"/proc/bus", "/proc/fs",  "/proc/irq",
                                             "/proc/sys", "/proc/sysrq-trigger", "/proc/driver"};

static json_t *str_array(const char *const *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) json_array_append_new(a, json_string(v[i]));
  return a;
}

static json_t *process_obj(const nc_profile *p, char *const cmd[]) {
  json_t *args = json_array(), *env = json_array();
  for (size_t i = 0; cmd[i]; i++) json_array_append_new(args, json_string(cmd[i]));
  json_array_append_new(env, json_string("PATH=" DEFAULT_PATH));
  if (!nc_export_env_has(p, "HOME")) json_array_append_new(env, json_string("HOME=" NC_EXPORT_HOME));
  if (!nc_export_env_has(p, "LANG")) json_array_append_new(env, json_string("LANG=C.UTF-8"));
  for (size_t i = 0; i < p->env.n; i++) {
    bool proxy = false;
    for (size_t j = 0; p->allowed_hosts.n && j < nc_export_proxy_vars_n; j++)
      proxy = proxy || (!strncmp(p->env.v[i], nc_export_proxy_vars[j], strlen(nc_export_proxy_vars[j])) &&
                        p->env.v[i][strlen(nc_export_proxy_vars[j])] == '=');
    if (!proxy) json_array_append_new(env, json_string(p->env.v[i])); /* the proxy variables win */
  }
  if (p->allowed_hosts.n) {
    char v[64];
    for (size_t j = 0; j < nc_export_proxy_vars_n; j++) {
      snprintf(v, sizeof v, "%s=http://127.0.0.1:%d", nc_export_proxy_vars[j], NC_EXPORT_PROXY_PORT);
      json_array_append_new(env, json_string(v));
    }
    json_array_append_new(env, json_string("NO_PROXY=" NC_EXPORT_NO_PROXY));
    json_array_append_new(env, json_string("no_proxy=" NC_EXPORT_NO_PROXY));
  }
  json_t *caps = json_pack("{s:[], s:[], s:[], s:[], s:[]}", "bounding", "effective", "inheritable", "permitted",
                           "ambient");
  json_t *rl = json_pack("[{s:s, s:i, s:i}, {s:s, s:i, s:i}]", "type", "RLIMIT_CORE", "hard", 0, "soft", 0, "type",
                         "RLIMIT_NOFILE", "hard", 1024, "soft", 1024);
  return json_pack("{s:b, s:{s:I, s:I}, s:o, s:o, s:s, s:o, s:o, s:b}", "terminal", 0, "user", "uid",
                   (json_int_t)p->uid, "gid", (json_int_t)p->gid, "args", args, "env", env, "cwd", p->workdir,
                   "capabilities", caps, "rlimits", rl, "noNewPrivileges", 1);
}

static json_t *mounts_arr(const nc_profile *p, const char *hosts_file) {
  json_t *m = json_array();
  json_array_append_new(m, json_pack("{s:s, s:s, s:s, s:[s,s,s]}", "destination", "/proc", "type", "proc", "source",
                                     "proc", "options", "nosuid", "noexec", "nodev"));
  json_array_append_new(m, json_pack("{s:s, s:s, s:s, s:[s,s,s,s]}", "destination", "/dev", "type", "tmpfs", "source",
                                     "tmpfs", "options", "nosuid", "noexec", "mode=755", "size=65536"));
  for (size_t i = 0; i < p->n_tmpfs; i++) {
    /* owned by the sandbox user too: runc gives a tmpfs the mode of the directory it covers */
    char size[40], uid[24], gid[24];
    snprintf(size, sizeof size, "size=%llu", (unsigned long long)p->tmpfs[i].size);
    snprintf(uid, sizeof uid, "uid=%u", (unsigned)p->uid);
    snprintf(gid, sizeof gid, "gid=%u", (unsigned)p->gid);
    json_array_append_new(m, json_pack("{s:s, s:s, s:s, s:[s,s,s,s,s,s]}", "destination", p->tmpfs[i].path, "type",
                                       "tmpfs", "source", "tmpfs", "options", "nosuid", "nodev", "mode=1777", size,
                                       uid, gid));
  }
  for (size_t i = 0; i < p->n_binds; i++)
    json_array_append_new(m, json_pack("{s:s, s:s, s:s, s:[s,s,s,s,s]}", "destination", p->binds[i].dst, "type",
                                       "bind", "source", p->binds[i].src, "options", "rbind", "rprivate", "nosuid",
                                       "nodev", p->binds[i].rw ? "rw" : "ro"));
  if (hosts_file)
    json_array_append_new(m, json_pack("{s:s, s:s, s:s, s:[s,s,s,s,s]}", "destination", "/etc/hosts", "type", "bind",
                                       "source", hosts_file, "options", "bind", "ro", "nosuid", "nodev", "noexec"));
  return m;
}

static json_t *resources_obj(const nc_profile *p) {
  json_t *r = json_pack("{s:[{s:b, s:s}]}", "devices", "allow", 0, "access", "rwm");
  if (!r) return NULL;
  if (p->mem_limit)
    json_object_set_new(r, "memory", json_pack("{s:I, s:I}", "limit", (json_int_t)p->mem_limit, "swap",
                                               (json_int_t)p->mem_limit));
  json_t *cpu = json_pack("{s:I}", "shares", (json_int_t)p->cpu_shares);
  if (cpu && p->cpus_milli) {
    json_object_set_new(cpu, "quota", json_integer((json_int_t)(p->cpus_milli * 100)));
    json_object_set_new(cpu, "period", json_integer(100000));
  }
  json_object_set_new(r, "cpu", cpu);
  if (p->pids_limit) json_object_set_new(r, "pids", json_pack("{s:I}", "limit", (json_int_t)p->pids_limit));
  return r;
}

static json_t *config_obj(const nc_profile *p, const struct nc_export_opts *o, char *const cmd[],
                          const char *hosts_file, nc_error *err) {
  char digest[65];
  if (nc_export_profile_digest(p, digest, err) < 0) return NULL;
  json_t *seccomp = nc_export_seccomp_object(err);
  if (!seccomp) return NULL;
  json_int_t base = o->userns_base ? o->userns_base : NC_EXPORT_OCI_USERNS_BASE;
  json_t *ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}, {s:s}, {s:s}]", "type", "user", "type", "pid", "type",
                         "network", "type", "ipc", "type", "uts", "type", "mount", "type", "cgroup");
  /* with allowed_hosts (run --runtime): join the namespace where nanoclaw's proxy listens */
  if (ns && o->netns) json_object_set_new(json_array_get(ns, 2), "path", json_string(o->netns));
  json_t *linux_ = json_pack("{s:[{s:i, s:I, s:i}], s:[{s:i, s:I, s:i}], s:o, s:o, s:o, s:o, s:o}", "uidMappings",
                             "containerID", 0, "hostID", base, "size", 65536, "gidMappings", "containerID", 0,
                             "hostID", base, "size", 65536, "namespaces", ns, "resources", resources_obj(p),
                             "maskedPaths", str_array(masked_paths, NC_ARRAY_SIZE(masked_paths)), "readonlyPaths",
                             str_array(readonly_paths, NC_ARRAY_SIZE(readonly_paths)), "seccomp", seccomp);
  json_t *ann = json_pack("{s:s}", "nanoclaw.profile.sha256", digest);
  if (ann && p->name) json_object_set_new(ann, "nanoclaw.profile.name", json_string(p->name));
  json_t *c = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o, s:o}", "ociVersion", "1.0.2", "process",
                        process_obj(p, cmd), "root", "path", p->image, "readonly", 1, "hostname", p->hostname,
                        "mounts", mounts_arr(p, hosts_file), "linux", linux_, "annotations", ann);
  /* jansson skips a member it could not allocate: never write a config missing its isolation */
  json_t *lx = c ? json_object_get(c, "linux") : NULL;
  if (c && (!lx || !json_object_get(lx, "seccomp") || !json_object_get(lx, "resources") ||
            json_array_size(json_object_get(lx, "namespaces")) != 7 || !json_object_get(lx, "uidMappings") ||
            !json_object_get(json_object_get(c, "process"), "capabilities") ||
            json_array_size(json_object_get(c, "mounts")) != 2 + p->n_tmpfs + p->n_binds + (hosts_file != NULL))) {
    json_decref(c);
    c = NULL;
  }
  if (!c) nc_error_set(err, ENOMEM, "%s: building config.json: out of memory", o->what);
  return c;
}

char *nc_export_oci_config(const nc_profile *p, const struct nc_export_opts *o, char *const cmd[], nc_error *err) {
  if (nc_export_check(p, o, cmd, err) < 0) return NULL;
  json_t *c = config_obj(p, o, cmd, p->add_hosts.n ? "/BUNDLE/hosts" : NULL, err);
  char *s = c ? json_dumps(c, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(c);
  return s;
}

static int write_file_at(int dirfd, const char *name, const char *s, mode_t mode, const char *what, nc_error *err) {
  int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return nc_error_sys(err, errno, "%s: creating `%s` in the bundle", what, name);
  int r = nc_write_all(fd, s, strlen(s));
  if (r == 0 && fsync(fd) < 0) r = -errno;
  close(fd);
  if (r < 0) return nc_error_sys(err, -r, "%s: writing `%s` in the bundle", what, name);
  return 0;
}

static char *hosts_text(const nc_profile *p) {
  struct nc_buf b = {0};
  nc_buf_put(&b, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n", p->hostname);
  for (size_t i = 0; i < p->add_hosts.n; i++) {
    const char *c = strchr(p->add_hosts.v[i], ':');
    nc_buf_put(&b, "%s\t%.*s\n", c + 1, (int)(c - p->add_hosts.v[i]), p->add_hosts.v[i]);
  }
  if (b.oom) {
    free(b.s);
    return NULL;
  }
  return b.s;
}

int nc_export_oci_bundle(const nc_profile *p, const struct nc_export_opts *o, char *const cmd[], const char *dir,
                         nc_error *err) {
  char q[512];
  if (nc_export_check(p, o, cmd, err) < 0) return -EINVAL;
  if (mkdir(dir, 0700) < 0 && errno != EEXIST)
    return nc_error_sys(err, errno, "%s: --bundle `%s`", o->what, nc_quote(q, sizeof q, dir));
  nc_autoclose int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) return nc_error_sys(err, errno, "%s: --bundle `%s`", o->what, nc_quote(q, sizeof q, dir));
  nc_autofree char *real = realpath(dir, NULL);
  if (!real) return nc_error_sys(err, errno, "%s: --bundle `%s`", o->what, nc_quote(q, sizeof q, dir));
  char hosts[PATH_MAX + 16];
  snprintf(hosts, sizeof hosts, "%s/hosts", real);
  int r = 0;
  if (p->add_hosts.n) {
    nc_autofree char *h = hosts_text(p);
    r = h ? write_file_at(dfd, "hosts", h, 0644, o->what, err) : nc_error_set(err, ENOMEM, "out of memory");
    if (r < 0) return r;
  }
  json_t *c = config_obj(p, o, cmd, p->add_hosts.n ? hosts : NULL, err);
  nc_autofree char *s = c ? json_dumps(c, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(c);
  if (!s) return c ? nc_error_set(err, ENOMEM, "out of memory") : -EINVAL;
  /* 0600: with env values in it, config.json is as secret as the profile */
  return write_file_at(dfd, "config.json", s, 0600, o->what, err);
}
