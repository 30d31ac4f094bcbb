/* k8s.c — `nanoclaw export k8s`: a Job whose pod meets the restricted Pod Security Standard and
 * more, a NetworkPolicy denying all but what the allowlist needs, and with allowed_hosts nanoclaw's
 * egress gateway (a Deployment, its Service and its own NetworkPolicy): NetworkPolicy cannot match
 * names, so the sandbox may reach only the gateway, and the gateway enforces the names. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "export/yaml.h"
#include "net/allowlist.h"

#define TTL_AFTER_FINISHED 30 /* seconds the finished Job and its pod are kept (for logs) */
#define GRACE_S 5             /* SIGTERM to SIGKILL, as natively */

struct names {
  char base[48];     /* the profile's DNS name */
  char job[64];      /* the Job */
  char gw[64];       /* the gateway's Deployment, Service and pod label */
  char gw_env[80];   /* the Service's address variable in the sandbox's environment */
  char secret[72];   /* the Secret holding the env values */
};

static void make_names(const nc_profile *p, const struct nc_export_opts *o, struct names *n) {
  nc_export_dns_name(p, n->base, 40);
  snprintf(n->job, sizeof n->job, "%s", o->name ? o->name : n->base);
  snprintf(n->gw, sizeof n->gw, "nanoclaw-egress-%s", n->base);
  size_t i = 0;
  for (const char *c = n->gw; *c && i + 1 < sizeof n->gw_env; c++)
    n->gw_env[i++] = *c == '-' ? '_' : (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
  snprintf(n->gw_env + i, sizeof n->gw_env - i, "_SERVICE_HOST");
  snprintf(n->secret, sizeof n->secret, "%s-env", n->job);
}

/* A Kubernetes quantity: the largest binary unit that divides it exactly. */
static json_t *bytes_q(uint64_t v) {
  static const char *const unit[] = {"Gi", "Mi", "Ki"};
  static const int shift[] = {30, 20, 10};
  char s[32];
  for (int i = 0; i < 3; i++)
    if (v && v % (1ull << shift[i]) == 0) {
      snprintf(s, sizeof s, "%llu%s", (unsigned long long)(v >> shift[i]), unit[i]);
      return json_string(s);
    }
  snprintf(s, sizeof s, "%llu", (unsigned long long)v);
  return json_string(s);
}

static json_t *milli_q(uint64_t m) {
  char s[32];
  if (m % 1000 == 0) snprintf(s, sizeof s, "%llu", (unsigned long long)(m / 1000));
  else snprintf(s, sizeof s, "%llum", (unsigned long long)m);
  return json_string(s);
}

static json_t *meta(const char *name, const struct nc_export_opts *o, json_t *labels, json_t *ann) {
  json_t *m = json_object();
  json_object_set_new(m, "name", json_string(name));
  if (o->namespace) json_object_set_new(m, "namespace", json_string(o->namespace));
  json_object_set_new(m, "labels", labels);
  if (ann) json_object_set_new(m, "annotations", ann);
  return m;
}

static json_t *sandbox_labels(const struct names *n) {
  return json_pack("{s:s, s:s, s:s, s:s}", "app.kubernetes.io/name", "nanoclaw-sandbox", "app.kubernetes.io/instance",
                   n->job, "app.kubernetes.io/managed-by", "nanoclaw", "nanoclaw.io/profile", n->base);
}

static json_t *gateway_labels(const struct names *n) {
  return json_pack("{s:s, s:s, s:s}", "app.kubernetes.io/name", "nanoclaw-egress", "app.kubernetes.io/instance", n->gw,
                   "app.kubernetes.io/managed-by", "nanoclaw");
}

static json_t *seccomp_profile(const struct nc_export_opts *o) {
  if (o->k8s_runtime_default) return json_pack("{s:s}", "type", "RuntimeDefault");
  return json_pack("{s:s, s:s}", "type", "Localhost", "localhostProfile",
                   o->k8s_seccomp ? o->k8s_seccomp : NC_EXPORT_K8S_SECCOMP);
}

static json_t *pod_security(const struct nc_export_opts *o, uid_t uid, gid_t gid) {
  return json_pack("{s:b, s:I, s:I, s:o}", "runAsNonRoot", 1, "runAsUser", (json_int_t)uid, "runAsGroup",
                   (json_int_t)gid, "seccompProfile", seccomp_profile(o));
}

static json_t *container_security(const struct nc_export_opts *o, uid_t uid, gid_t gid) {
  return json_pack("{s:b, s:b, s:b, s:b, s:I, s:I, s:{s:[s]}, s:s, s:o}", "allowPrivilegeEscalation", 0, "privileged",
                   0, "readOnlyRootFilesystem", 1, "runAsNonRoot", 1, "runAsUser", (json_int_t)uid, "runAsGroup",
                   (json_int_t)gid, "capabilities", "drop", "ALL", "procMount", "Default", "seccompProfile",
                   seccomp_profile(o));
}

static json_t *resources(const nc_profile *p) {
  json_t *lim = json_object(), *req = json_object();
  if (p->mem_limit) {
    json_object_set_new(lim, "memory", bytes_q(p->mem_limit));
    json_object_set_new(req, "memory", bytes_q(p->mem_limit));
  }
  /* cpu_shares is a weight: its Kubernetes form is requests.cpu (1024 shares = 1 CPU), at most the quota */
  uint64_t req_m = p->cpu_shares * 1000 / 1024;
  if (req_m == 0) req_m = 1;
  if (p->cpus_milli) {
    json_object_set_new(lim, "cpu", milli_q(p->cpus_milli));
    if (req_m > p->cpus_milli) req_m = p->cpus_milli;
  }
  json_object_set_new(req, "cpu", milli_q(req_m));
  return json_pack("{s:o, s:o}", "limits", lim, "requests", req);
}

static json_t *sandbox_env(const nc_profile *p, const struct names *n) {
  json_t *env = json_array();
  if (!nc_export_env_has(p, "HOME"))
    json_array_append_new(env, json_pack("{s:s, s:s}", "name", "HOME", "value", NC_EXPORT_HOME));
  for (size_t i = 0; i < p->env.n; i++) {
    if (nc_export_env_from_image(p, i)) continue;
    const char *eq = strchr(p->env.v[i], '=');
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(eq - p->env.v[i]), p->env.v[i]);
    bool proxy = false;
    for (size_t j = 0; p->allowed_hosts.n && j < nc_export_proxy_vars_n; j++)
      proxy = proxy || !strcmp(name, nc_export_proxy_vars[j]);
    if (proxy) continue; /* the proxy variables win, as natively */
    /* the value stays out of the manifest: a Secret holds it */
    json_array_append_new(env, json_pack("{s:s, s:{s:{s:s, s:s, s:b}}}", "name", name, "valueFrom", "secretKeyRef",
                                         "name", n->secret, "key", name, "optional", 0));
  }
  if (p->allowed_hosts.n) {
    /* The gateway's ClusterIP from the Service variable Kubernetes sets in pods created after the
     * Service; no DNS is needed (nor allowed). Unexpanded, the proxy URL fails: closed. */
    char url[160];
    snprintf(url, sizeof url, "http://$(%s):%d", n->gw_env, NC_EXPORT_PROXY_PORT);
    for (size_t j = 0; j < nc_export_proxy_vars_n; j++)
      json_array_append_new(env, json_pack("{s:s, s:s}", "name", nc_export_proxy_vars[j], "value", url));
    json_array_append_new(env, json_pack("{s:s, s:s}", "name", "NO_PROXY", "value", NC_EXPORT_NO_PROXY));
    json_array_append_new(env, json_pack("{s:s, s:s}", "name", "no_proxy", "value", NC_EXPORT_NO_PROXY));
  }
  return env;
}

static json_t *host_aliases(const nc_profile *p) {
  json_t *a = json_array();
  for (size_t i = 0; i < p->add_hosts.n; i++) {
    const char *c = strchr(p->add_hosts.v[i], ':');
    json_t *entry = NULL;
    size_t k;
    json_t *e;
    json_array_foreach(a, k, e) {
      if (!strcmp(json_string_value(json_object_get(e, "ip")), c + 1)) entry = e;
    }
    if (!entry) {
      entry = json_pack("{s:s, s:[]}", "ip", c + 1, "hostnames");
      json_array_append_new(a, entry);
    }
    json_t *hn = json_stringn(p->add_hosts.v[i], (size_t)(c - p->add_hosts.v[i]));
    json_array_append_new(json_object_get(entry, "hostnames"), hn);
  }
  return a;
}

static json_t *job(const nc_profile *p, const struct nc_export_opts *o, char *const cmd[], const struct names *n,
                   const char *digest) {
  json_t *c = json_pack("{s:s, s:s}", "name", "sandbox", "image", p->image);
  if (cmd && cmd[0]) {
    json_t *a = json_array();
    for (size_t i = 0; cmd[i]; i++) json_array_append_new(a, json_string(cmd[i]));
    json_object_set_new(c, "command", a);
  }
  json_object_set_new(c, "workingDir", json_string(p->workdir));
  json_object_set_new(c, "env", sandbox_env(p, n));
  json_object_set_new(c, "resources", resources(p));
  json_object_set_new(c, "securityContext", container_security(o, p->uid, p->gid));
  json_t *mounts = json_array(), *vols = json_array();
  for (size_t i = 0; i < p->n_tmpfs; i++) {
    char vn[32];
    snprintf(vn, sizeof vn, "tmpfs-%zu", i);
    json_array_append_new(mounts, json_pack("{s:s, s:s}", "name", vn, "mountPath", p->tmpfs[i].path));
    json_array_append_new(vols, json_pack("{s:s, s:{s:s, s:o}}", "name", vn, "emptyDir", "medium", "Memory",
                                          "sizeLimit", bytes_q(p->tmpfs[i].size)));
  }
  json_object_set_new(c, "volumeMounts", mounts);
  json_object_set_new(c, "stdin", json_false());
  json_object_set_new(c, "tty", json_false());

  json_t *spec = json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:s, s:i, s:o}", "restartPolicy", "Never",
                           "automountServiceAccountToken", 0, "enableServiceLinks", p->allowed_hosts.n > 0,
                           "hostNetwork", 0, "hostPID", 0, "hostIPC", 0, "shareProcessNamespace", 0, "hostname",
                           p->hostname, "terminationGracePeriodSeconds", GRACE_S, "securityContext",
                           pod_security(o, p->uid, p->gid));
  if (p->add_hosts.n) json_object_set_new(spec, "hostAliases", host_aliases(p));
  json_object_set_new(spec, "containers", json_pack("[o]", c));
  json_object_set_new(spec, "volumes", vols);

  json_t *jspec = json_pack("{s:i, s:i}", "backoffLimit", 0, "ttlSecondsAfterFinished", TTL_AFTER_FINISHED);
  if (p->timeout_ms)
    json_object_set_new(jspec, "activeDeadlineSeconds", json_integer((json_int_t)nc_export_deadline_s(p)));
  json_object_set_new(jspec, "template",
                      json_pack("{s:{s:o, s:{s:s}}, s:o}", "metadata", "labels", sandbox_labels(n), "annotations",
                                "nanoclaw.profile.sha256", digest, "spec", spec));
  return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "batch/v1", "kind", "Job", "metadata",
                   meta(n->job, o, sandbox_labels(n), json_pack("{s:s}", "nanoclaw.profile.sha256", digest)), "spec",
                   jspec);
}

static json_t *sandbox_policy(const nc_profile *p, const struct nc_export_opts *o, const struct names *n) {
  json_t *egress = json_array();
  if (p->allowed_hosts.n)
    json_array_append_new(egress, json_pack("{s:[{s:{s:{s:s}}}], s:[{s:s, s:i}]}", "to", "podSelector", "matchLabels",
                                            "app.kubernetes.io/instance", n->gw, "ports", "protocol", "TCP", "port",
                                            NC_EXPORT_PROXY_PORT));
  char name[80];
  snprintf(name, sizeof name, "%s-egress", n->job);
  return json_pack("{s:s, s:s, s:o, s:{s:{s:{s:s}}, s:[s,s], s:[], s:o}}", "apiVersion", "networking.k8s.io/v1", "kind",
                   "NetworkPolicy", "metadata", meta(name, o, sandbox_labels(n), NULL), "spec", "podSelector",
                   "matchLabels", "app.kubernetes.io/instance", n->job, "policyTypes", "Ingress", "Egress", "ingress",
                   "egress", egress);
}

/* The gateway may resolve names (cluster DNS) and connect to what the allowlist can name: the CIDR
 * entries alone when there are only those, else anywhere but the metadata address; on the listed
 * ports when every entry has one. The proxy checks every name and address itself. */
static json_t *gateway_policy(const nc_profile *p, const struct nc_export_opts *o, const struct names *n) {
  bool all_ports = false, names = false;
  json_t *ports = json_array(), *to = json_array();
  for (size_t i = 0; i < p->allowed_hosts.n; i++) {
    struct nc_allow_entry e;
    nc_error ignored = {0};
    if (nc_allow_entry_parse(p->allowed_hosts.v[i], &e, &ignored) < 0) {
      names = all_ports = true; /* cannot happen: the profile holds canonical entries */
      continue;
    }
    if (e.port) json_array_append_new(ports, json_pack("{s:s, s:i}", "protocol", "TCP", "port", (int)e.port));
    else all_ports = true;
    if (e.kind != NC_ALLOW_CIDR) {
      names = true;
      continue;
    }
    char addr[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN + 8];
    inet_ntop(e.family, e.addr, addr, sizeof addr);
    snprintf(net, sizeof net, "%s/%u", addr, e.prefix);
    json_array_append_new(to, json_pack("{s:{s:s}}", "ipBlock", "cidr", net));
  }
  if (names) {
    json_array_clear(to);
    json_array_append_new(
        to, json_pack("{s:{s:s, s:[s]}}", "ipBlock", "cidr", "0.0.0.0/0", "except", "169.254.169.254/32"));
    json_array_append_new(to, json_pack("{s:{s:s, s:[s]}}", "ipBlock", "cidr", "::/0", "except", "fd00:ec2::254/128"));
  }
  json_t *out = json_pack("{s:o}", "to", to);
  if (!all_ports) json_object_set_new(out, "ports", ports);
  else json_decref(ports);
  json_t *dns = json_pack("{s:[{s:{s:{s:s}}, s:{s:{s:s}}}], s:[{s:s, s:i}, {s:s, s:i}]}", "to", "namespaceSelector",
                          "matchLabels", "kubernetes.io/metadata.name", "kube-system", "podSelector", "matchLabels",
                          "k8s-app", "kube-dns", "ports", "protocol", "UDP", "port", 53, "protocol", "TCP", "port", 53);
  json_t *ingress = json_pack("[{s:[{s:{s:{s:s, s:s}}}], s:[{s:s, s:i}]}]", "from", "podSelector", "matchLabels",
                              "app.kubernetes.io/name", "nanoclaw-sandbox", "nanoclaw.io/profile", n->base, "ports",
                              "protocol", "TCP", "port", NC_EXPORT_PROXY_PORT);
  return json_pack("{s:s, s:s, s:o, s:{s:{s:{s:s}}, s:[s,s], s:o, s:[o,o]}}", "apiVersion", "networking.k8s.io/v1",
                   "kind", "NetworkPolicy", "metadata", meta(n->gw, o, gateway_labels(n), NULL), "spec", "podSelector",
                   "matchLabels", "app.kubernetes.io/instance", n->gw, "policyTypes", "Ingress", "Egress", "ingress",
                   ingress, "egress", dns, out);
}

static json_t *gateway_deployment(const nc_profile *p, const struct nc_export_opts *o, const struct names *n) {
  json_t *cmd = json_pack("[s, s]", "nanoclaw", "proxy");
  char arg[400];
  snprintf(arg, sizeof arg, "--listen=0.0.0.0:%d", NC_EXPORT_PROXY_PORT);
  json_array_append_new(cmd, json_string(arg));
  for (size_t i = 0; i < p->allowed_hosts.n; i++) {
    snprintf(arg, sizeof arg, "--allow-host=%s", p->allowed_hosts.v[i]);
    json_array_append_new(cmd, json_string(arg));
  }
  for (size_t i = 0; i < p->add_hosts.n; i++) {
    snprintf(arg, sizeof arg, "--add-host=%s", p->add_hosts.v[i]);
    json_array_append_new(cmd, json_string(arg));
  }
  json_t *c = json_pack("{s:s, s:s, s:o, s:[{s:i, s:s}], s:{s:{s:s, s:s}, s:{s:s, s:s}}, s:o}", "name", "proxy",
                        "image", o->gateway_image, "command", cmd, "ports", "containerPort", NC_EXPORT_PROXY_PORT,
                        "protocol", "TCP", "resources", "limits", "cpu", "1", "memory", "256Mi", "requests", "cpu",
                        "100m", "memory", "64Mi", "securityContext", container_security(o, 65534, 65534));
  json_t *spec = json_pack("{s:b, s:b, s:b, s:b, s:b, s:i, s:o, s:[o]}", "automountServiceAccountToken", 0,
                           "enableServiceLinks", 0, "hostNetwork", 0, "hostPID", 0, "hostIPC", 0,
                           "terminationGracePeriodSeconds", GRACE_S, "securityContext", pod_security(o, 65534, 65534),
                           "containers", c);
  return json_pack("{s:s, s:s, s:o, s:{s:i, s:{s:{s:s}}, s:{s:{s:o}, s:o}}}", "apiVersion", "apps/v1", "kind",
                   "Deployment", "metadata", meta(n->gw, o, gateway_labels(n), NULL), "spec", "replicas", 1, "selector",
                   "matchLabels", "app.kubernetes.io/instance", n->gw, "template", "metadata", "labels",
                   gateway_labels(n), "spec", spec);
}

static json_t *gateway_service(const struct nc_export_opts *o, const struct names *n) {
  return json_pack("{s:s, s:s, s:o, s:{s:s, s:{s:s}, s:[{s:s, s:s, s:i, s:i}]}}", "apiVersion", "v1", "kind", "Service",
                   "metadata", meta(n->gw, o, gateway_labels(n), NULL), "spec", "type", "ClusterIP", "selector",
                   "app.kubernetes.io/instance", n->gw, "ports", "name", "proxy", "protocol", "TCP", "port",
                   NC_EXPORT_PROXY_PORT, "targetPort", NC_EXPORT_PROXY_PORT);
}

static json_t *env_secret(const nc_profile *p, const struct nc_export_opts *o, const struct names *n) {
  json_t *data = json_object();
  for (size_t i = 0; i < p->env.n; i++) {
    if (nc_export_env_from_image(p, i)) continue;
    const char *eq = strchr(p->env.v[i], '=');
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(eq - p->env.v[i]), p->env.v[i]);
    json_object_set_new(data, name, json_string(eq + 1));
  }
  return json_pack("{s:s, s:s, s:o, s:s, s:b, s:o}", "apiVersion", "v1", "kind", "Secret", "metadata",
                   meta(n->secret, o, sandbox_labels(n), NULL), "type", "Opaque", "immutable", 1, "stringData", data);
}

/* The objects in the order kubectl should apply them: the gateway's Service before the Job (its
 * address reaches the sandbox through the Service variables of pods created after it). */
static json_t *objects(const nc_profile *p, const struct nc_export_opts *o, char *const cmd[], bool env_values,
                       struct names *n, char digest[65], nc_error *err) {
  if (nc_export_check(p, o, cmd, err) < 0) return NULL;
  if (nc_export_profile_digest(p, digest, err) < 0) return NULL;
  make_names(p, o, n);
  json_t *a = json_array();
  bool ok = a != NULL;
  if (p->allowed_hosts.n) {
    ok = ok && json_array_append_new(a, gateway_policy(p, o, n)) == 0;
    ok = ok && json_array_append_new(a, gateway_service(o, n)) == 0;
    ok = ok && json_array_append_new(a, gateway_deployment(p, o, n)) == 0;
  }
  ok = ok && json_array_append_new(a, sandbox_policy(p, o, n)) == 0;
  if (env_values && nc_export_env_count(p)) ok = ok && json_array_append_new(a, env_secret(p, o, n)) == 0;
  json_t *j = job(p, o, cmd, n, digest);
  /* jansson skips a member it could not allocate: a Job missing its security context must never
   * be written, so check what matters is there */
  json_t *pod = j ? json_object_get(json_object_get(json_object_get(j, "spec"), "template"), "spec") : NULL;
  json_t *c0 = pod ? json_array_get(json_object_get(pod, "containers"), 0) : NULL;
  json_t *csc = c0 ? json_object_get(c0, "securityContext") : NULL;
  ok = ok && pod && json_is_true(json_object_get(json_object_get(pod, "securityContext"), "runAsNonRoot")) &&
       csc && json_is_true(json_object_get(csc, "readOnlyRootFilesystem")) &&
       json_object_get(csc, "capabilities") && json_object_get(csc, "seccompProfile") &&
       json_is_false(json_object_get(csc, "allowPrivilegeEscalation")) && json_object_get(c0, "resources") &&
       json_array_size(json_object_get(pod, "volumes")) == p->n_tmpfs &&
       json_array_size(json_object_get(c0, "env")) >= nc_export_env_count(p);
  ok = ok && json_array_append_new(a, j) == 0;
  if (!ok) {
    json_decref(a);
    nc_error_set(err, ENOMEM, "%s: building the manifests: out of memory", o->what);
    return NULL;
  }
  return a;
}

char *nc_export_k8s_json(const nc_profile *p, const struct nc_export_opts *o, char *const cmd[], bool env_values,
                         nc_error *err) {
  struct names n;
  char digest[65];
  json_t *a = objects(p, o, cmd, env_values, &n, digest, err);
  if (!a) return NULL;
  json_t *list = json_pack("{s:s, s:s, s:o}", "apiVersion", "v1", "kind", "List", "items", a);
  char *s = list ? json_dumps(list, JSON_INDENT(2)) : NULL;
  json_decref(list);
  if (!s) nc_error_set(err, ENOMEM, "%s: out of memory", o->what);
  return s;
}

char *nc_export_k8s(const nc_profile *p, const struct nc_export_opts *o, char *const cmd[], nc_error *err) {
  struct names n;
  char digest[65];
  json_t *a = objects(p, o, cmd, false, &n, digest, err);
  if (!a) return NULL;
  struct nc_buf b = {0};
  nc_buf_put(&b, "# Generated by `nanoclaw export k8s` (profile sha256 %s).\n", digest);
  nc_buf_put(&b, "# Needs: a network plugin that enforces NetworkPolicy (without one, nothing limits egress).\n");
  if (!o->k8s_runtime_default)
    nc_buf_put(&b,
               "# Needs: nanoclaw's seccomp filter on every node at <kubelet root>/seccomp/%s\n"
               "#   (nanoclaw export seccomp > /var/lib/kubelet/seccomp/%s); a pod cannot start without it.\n",
               o->k8s_seccomp ? o->k8s_seccomp : NC_EXPORT_K8S_SECCOMP,
               o->k8s_seccomp ? o->k8s_seccomp : NC_EXPORT_K8S_SECCOMP);
  if (nc_export_env_count(p)) {
    nc_buf_put(&b,
               "# Needs: the Secret %s with the env values (kept out of this file), e.g.\n#   kubectl create secret "
               "generic %s",
               n.secret, n.secret);
    for (size_t i = 0; i < p->env.n; i++)
      if (!nc_export_env_from_image(p, i))
        nc_buf_put(&b, " --from-literal=%.*s=...", (int)(strchr(p->env.v[i], '=') - p->env.v[i]), p->env.v[i]);
    nc_buf_put(&b, "\n");
  }
  if (p->pids_limit)
    nc_buf_put(&b, "# pids_limit %llu: enforced by the nodes' kubelet podPidsLimit (stated as %llu).\n",
               (unsigned long long)p->pids_limit, (unsigned long long)o->node_pids_limit);
  size_t i;
  json_t *e;
  json_array_foreach(a, i, e) {
    nc_yaml_document(&b, e);
  }
  json_decref(a);
  if (b.oom) {
    free(b.s);
    nc_error_set(err, ENOMEM, "%s: out of memory", o->what);
    return NULL;
  }
  return b.s;
}
