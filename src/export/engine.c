/* engine.c — `nanoclaw export docker-run|podman-run`: the exact `docker run` / `podman run` argument
 * list that applies a profile, and the setup an allowlist needs (an internal network whose only way
 * out is nanoclaw's egress proxy). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export-internal.h"

#define PUSH(...)                                  \
  do {                                             \
    if (r == 0) r = nc_argv_push(out, __VA_ARGS__); \
  } while (0)

static void net_names(const nc_profile *p, char net[80], char gw[96]) {
  char dns[64];
  nc_export_dns_name(p, dns, sizeof dns);
  snprintf(net, 80, "nanoclaw-%s", dns);
  snprintf(gw, 96, "nanoclaw-egress-%s", dns);
}

static int push_policy(const nc_profile *p, const struct nc_export_opts *o, struct nc_strv *out) {
  bool podman = o->target == NC_EXPORT_PODMAN;
  int r = 0;
  PUSH("--read-only");
  /* podman --read-only also mounts writable tmpfs on /run, /tmp and /var/tmp unless told not to */
  if (podman) PUSH("--read-only-tmpfs=false");
  for (size_t i = 0; i < p->n_tmpfs; i++)
    PUSH("--tmpfs=%s:rw,exec,nosuid,nodev,size=%llu,mode=1777", p->tmpfs[i].path,
         (unsigned long long)p->tmpfs[i].size);
  for (size_t i = 0; i < p->n_binds; i++)
    PUSH("--mount=type=bind,source=%s,destination=%s%s,bind-propagation=rprivate", p->binds[i].src,
         p->binds[i].dst, p->binds[i].rw ? "" : ",readonly");
  if (p->mem_limit) {
    PUSH("--memory=%llu", (unsigned long long)p->mem_limit);
    PUSH("--memory-swap=%llu", (unsigned long long)p->mem_limit); /* equal: no swap */
  }
  PUSH("--cpu-shares=%llu", (unsigned long long)p->cpu_shares);
  if (p->cpus_milli)
    PUSH("--cpus=%llu.%03llu", (unsigned long long)(p->cpus_milli / 1000), (unsigned long long)(p->cpus_milli % 1000));
  if (p->pids_limit) PUSH("--pids-limit=%llu", (unsigned long long)p->pids_limit);
  else PUSH("--pids-limit=-1"); /* 0 in a profile is unlimited; podman would default to 2048 */
  PUSH("--ulimit=core=0:0");
  PUSH("--ulimit=nofile=1024:1024");
  PUSH("--user=%u:%u", (unsigned)p->uid, (unsigned)p->gid);
  PUSH("--cap-drop=ALL");
  PUSH("--security-opt=no-new-privileges");
  PUSH("--security-opt=seccomp=%s", o->seccomp_file ? o->seccomp_file : NC_EXPORT_SECCOMP_FILE);
  PUSH("--cgroupns=private");
  PUSH("--ipc=private");
  if (p->allowed_hosts.n && o->netns) {
    PUSH("--network=ns:%s", o->netns);
  } else if (p->allowed_hosts.n) {
    char net[80], gw[96];
    net_names(p, net, gw);
    PUSH("--network=%s", net);
  } else {
    PUSH("--network=none");
  }
  PUSH("--hostname=%s", p->hostname);
  for (size_t i = 0; i < p->add_hosts.n; i++) {
    const char *c = strchr(p->add_hosts.v[i], ':'); /* name:ip, the ip may be v6, which docker wants as [v6] */
    bool v6 = strchr(c + 1, ':') != NULL;
    PUSH("--add-host=%.*s:%s%s%s", (int)(c - p->add_hosts.v[i]), p->add_hosts.v[i], v6 ? "[" : "", c + 1,
         v6 ? "]" : "");
  }
  PUSH("--workdir=%s", p->workdir);
  if (!nc_export_env_has(p, "HOME")) PUSH("--env=HOME=%s", NC_EXPORT_HOME);
  for (size_t i = 0; i < p->env.n; i++) {
    if (nc_export_env_from_image(p, i)) continue;
    const char *eq = strchr(p->env.v[i], '=');
    bool proxy = false;
    for (size_t j = 0; p->allowed_hosts.n && j < nc_export_proxy_vars_n; j++)
      proxy = proxy || ((size_t)(eq - p->env.v[i]) == strlen(nc_export_proxy_vars[j]) &&
                        !strncmp(p->env.v[i], nc_export_proxy_vars[j], strlen(nc_export_proxy_vars[j])));
    if (!proxy) PUSH("--env=%.*s", (int)(eq - p->env.v[i]), p->env.v[i]); /* the value comes from the caller */
  }
  if (p->allowed_hosts.n) {
    for (size_t j = 0; j < nc_export_proxy_vars_n; j++)
      PUSH("--env=%s=http://%s:%d", nc_export_proxy_vars[j], o->netns ? "127.0.0.1" : "nanoclaw-egress",
           NC_EXPORT_PROXY_PORT);
    PUSH("--env=NO_PROXY=%s", NC_EXPORT_NO_PROXY);
    PUSH("--env=no_proxy=%s", NC_EXPORT_NO_PROXY);
  }
  if (podman && p->timeout_ms) PUSH("--timeout=%llu", nc_export_deadline_s(p));
  return r;
}

int nc_export_engine_argv(const nc_profile *p, const struct nc_export_opts *o, char *const cmd[],
                          struct nc_strv *out, nc_error *err) {
  if (nc_export_check(p, o, cmd, err) < 0) return -EINVAL;
  char digest[65];
  if (nc_export_profile_digest(p, digest, err) < 0) return -EINVAL;
  int r = 0;
  PUSH("%s", o->target == NC_EXPORT_PODMAN ? "podman" : "docker");
  PUSH("run");
  PUSH("--rm");
  if (o->name) PUSH("--name=%s", o->name);
  PUSH("--label=nanoclaw.profile.sha256=%s", digest);
  if (r == 0) r = push_policy(p, o, out);
  if (p->image[0] == '/') {
    PUSH("--rootfs");
    PUSH("%s", p->image);
  } else {
    PUSH("%s", p->image);
  }
  for (size_t i = 0; cmd && cmd[i]; i++) PUSH("%s", cmd[i]);
  if (r < 0) {
    nc_strv_free(out);
    return nc_error_set(err, ENOMEM, "%s: out of memory", o->what);
  }
  return 0;
}

/* One shell word: as is when it holds only characters no shell reads, else single-quoted. */
static void put_word(struct nc_buf *b, const char *w) {
  bool plain = *w != '\0';
  for (const char *c = w; *c && plain; c++)
    plain =
        (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("_@%+=:,./-", *c);
  if (plain) {
    nc_buf_put(b, "%s", w);
    return;
  }
  nc_buf_put(b, "'");
  for (const char *c = w; *c; c++) nc_buf_put(b, *c == '\'' ? "'\\''" : "%c", *c);
  nc_buf_put(b, "'");
}

int nc_export_engine_setup(const nc_profile *p, const struct nc_export_opts *o, struct nc_strv *out, nc_error *err) {
  out->v = NULL;
  out->n = 0;
  if (!p->allowed_hosts.n) return 0;
  const char *engine = o->target == NC_EXPORT_PODMAN ? "podman" : "docker";
  char net[80], gw[96];
  net_names(p, net, gw);
  struct nc_buf b = {0};
  int r = nc_argv_push(out, "%s network create --internal %s", engine, net);
  /* The gateway: on the default network (its way out) and on the internal one under the name the
   * sandbox's proxy variables use; as locked down as the sandbox, and it listens only on 3128. */
  nc_buf_put(&b,
             "%s run -d --rm --name=%s --read-only --cap-drop=ALL --security-opt=no-new-privileges "
             "--user=65534:65534 --memory=256m --memory-swap=256m --pids-limit=64 --entrypoint=nanoclaw ",
             engine, gw);
  put_word(&b, o->gateway_image);
  nc_buf_put(&b, " proxy --listen=0.0.0.0:%d", NC_EXPORT_PROXY_PORT);
  for (size_t i = 0; i < p->allowed_hosts.n; i++) {
    char flag[400];
    snprintf(flag, sizeof flag, "--allow-host=%s", p->allowed_hosts.v[i]);
    nc_buf_put(&b, " ");
    put_word(&b, flag);
  }
  for (size_t i = 0; i < p->add_hosts.n; i++) {
    char flag[400];
    snprintf(flag, sizeof flag, "--add-host=%s", p->add_hosts.v[i]);
    nc_buf_put(&b, " ");
    put_word(&b, flag);
  }
  if (b.oom) r = -ENOMEM;
  if (r == 0) r = nc_argv_push(out, "%s", b.s);
  free(b.s);
  if (r == 0) r = nc_argv_push(out, "%s network connect --alias nanoclaw-egress %s %s", engine, net, gw);
  if (r < 0) {
    nc_strv_free(out);
    return nc_error_set(err, ENOMEM, "%s: out of memory", o->what);
  }
  return 0;
}

char *nc_export_shell_line(char *const argv[]) {
  struct nc_buf b = {0};
  for (size_t i = 0; argv[i]; i++) {
    if (i) nc_buf_put(&b, i == 1 ? " " : " \\\n  ");
    put_word(&b, argv[i]);
  }
  nc_buf_put(&b, "\n");
  if (b.oom) {
    free(b.s);
    return NULL;
  }
  return b.s;
}
