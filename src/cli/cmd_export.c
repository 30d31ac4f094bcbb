/* cmd_export.c — `nanoclaw export KIND [PROFILE] [OPTIONS] [-- COMMAND...]`: the profile as a
 * Dockerfile, docker/podman run arguments, an OCI bundle, Kubernetes manifests or a seccomp profile. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "config/flags.h"
#include "config/profile.h"
#include "core/parse.h"
#include "core/util.h"
#include "export/export.h"

static const char export_usage[] =
    "Usage: nanoclaw export KIND [PROFILE] [OPTIONS] [-- COMMAND [ARGS...]]\n"
    "\n"
    "Write the profile (a JSON file, then any `nanoclaw run` option over it) for another runtime.\n"
    "A setting the runtime cannot honour is refused (exit 125) with a message naming it.\n"
    "\n"
    "Kinds:\n"
    "  dockerfile       a Dockerfile installing dependencies.* on the profile's image, non-root user\n"
    "  docker-run       the `docker run` argument list (and, with allowed_hosts, the gateway setup)\n"
    "  podman-run       the same for `podman run` (a directory image becomes --rootfs DIR)\n"
    "  oci              an OCI runtime bundle for crun/runc: --bundle DIR (needs -- COMMAND)\n"
    "  k8s              Kubernetes manifests: a Job, NetworkPolicy, and the egress gateway\n"
    "  seccomp          nanoclaw's seccomp filter as a Docker/OCI seccomp profile (JSON)\n"
    "\n"
    "Export options:\n"
    "  --output FILE              write to FILE instead of standard output\n"
    "  --json                     docker-run/podman-run: {\"setup\": [...], \"argv\": [...]}; k8s: a JSON List\n"
    "  --seccomp-profile FILE     docker-run/podman-run: host path of the seccomp JSON [" NC_EXPORT_SECCOMP_FILE "]\n"
    "  --gateway-image REF        an image with nanoclaw in it, for the egress gateway (allowed_hosts)\n"
    "  --bundle DIR               oci: the bundle directory (created 0700; must not hold a config.json)\n"
    "  --userns-base N            oci: host id of container id 0 [2147418112]\n"
    "  --namespace NS             k8s: metadata.namespace of every object\n"
    "  --seccomp-localhost PATH   k8s: Localhost seccomp profile path [" NC_EXPORT_K8S_SECCOMP "]\n"
    "  --seccomp-runtime-default  k8s: the runtime's default seccomp profile instead of nanoclaw's\n"
    "  --node-pids-limit N        k8s: the kubelet podPidsLimit your nodes enforce (pids_limit needs it)\n"
    "  -h, --help                 this text\n"
    "\n"
    "Profile options (as `nanoclaw run`):\n";

struct xopts {
  struct nc_export_opts o;
  const char *output, *bundle;
  bool json;
};

/* An export option at argv[*i] (consumed, with its value) → 1; not one → 0; bad → -1. */
static int export_option(int argc, char **argv, int *i, struct xopts *x) {
  static const char *const with_value[] = {"--output",    "--seccomp-profile",   "--gateway-image",  "--bundle",
                                           "--userns-base", "--namespace",       "--seccomp-localhost",
                                           "--node-pids-limit"};
  const char *a = argv[*i], *v = NULL;
  if (!strcmp(a, "--json")) return x->json = true, 1;
  if (!strcmp(a, "--seccomp-runtime-default")) return x->o.k8s_runtime_default = true, 1;
  size_t n = strcspn(a, "=");
  const char *name = NULL;
  for (size_t k = 0; k < NC_ARRAY_SIZE(with_value) && !name; k++)
    if (strlen(with_value[k]) == n && !strncmp(a, with_value[k], n)) name = with_value[k];
  if (!name) return 0;
  if (a[n] == '=') v = a + n + 1;
  else if (*i + 1 < argc) v = argv[++*i];
  if (!v || !*v) {
    fprintf(stderr, "nanoclaw: export: %s needs a value\n", name);
    return -1;
  }
  uint64_t num;
  if (!strcmp(name, "--output")) x->output = v;
  else if (!strcmp(name, "--seccomp-profile")) x->o.seccomp_file = v;
  else if (!strcmp(name, "--gateway-image")) x->o.gateway_image = v;
  else if (!strcmp(name, "--bundle")) x->bundle = v;
  else if (!strcmp(name, "--namespace")) x->o.namespace = v;
  else if (!strcmp(name, "--seccomp-localhost")) x->o.k8s_seccomp = v;
  else if (nc_parse_u64(v, 1, !strcmp(name, "--userns-base") ? 0xfffe0000ull : 4194304ull, &num) < 0) {
    fprintf(stderr, "nanoclaw: export: %s \"%s\" is not a valid number\n", name, v);
    return -1;
  } else if (!strcmp(name, "--userns-base")) {
    x->o.userns_base = (uint32_t)num;
  } else {
    x->o.node_pids_limit = num;
  }
  return 1;
}

static int emit(const struct xopts *x, const char *s) {
  if (!x->output) {
    fputs(s, stdout);
    return fflush(stdout) == 0 ? 0 : -1;
  }
  int fd = open(x->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0 || nc_write_all(fd, s, strlen(s)) < 0) {
    fprintf(stderr, "nanoclaw: export: --output \"%s\": %s\n", x->output, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

static char *engine_text(const nc_profile *p, const struct xopts *x, char **cmd, nc_error *err) {
  struct nc_strv setup = {0}, av = {0};
  char *out = NULL;
  if (nc_export_engine_argv(p, &x->o, cmd, &av, err) < 0) return NULL;
  if (nc_export_engine_setup(p, &x->o, &setup, err) < 0) {
    nc_strv_free(&av);
    return NULL;
  }
  if (x->json) {
    json_t *s = json_array(), *a = json_array();
    for (size_t i = 0; i < setup.n; i++) json_array_append_new(s, json_string(setup.v[i]));
    for (size_t i = 0; i < av.n; i++) json_array_append_new(a, json_string(av.v[i]));
    json_t *o = json_pack("{s:o, s:o}", "setup", s, "argv", a);
    char *j = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    json_decref(o);
    if (j && asprintf(&out, "%s\n", j) < 0) out = NULL;
    free(j);
  } else {
    char *line = nc_export_shell_line(av.v);
    size_t len = line ? strlen(line) + 1 : 0;
    for (size_t i = 0; i < setup.n; i++) len += strlen(setup.v[i]) + 1;
    out = line ? malloc(len) : NULL;
    if (out) {
      out[0] = '\0';
      for (size_t i = 0; i < setup.n; i++) strcat(strcat(out, setup.v[i]), "\n");
      strcat(out, line);
    }
    free(line);
  }
  if (!out) nc_error_set(err, ENOMEM, "%s: out of memory", x->o.what);
  nc_strv_free(&setup);
  nc_strv_free(&av);
  return out;
}

static int run_kind(const char *kind, nc_profile *p, struct xopts *x, char **cmd) {
  nc_error err = {0};
  char what[64];
  snprintf(what, sizeof what, "export %s", kind);
  x->o.what = what;
  char *out = NULL;
  if (!strcmp(kind, "dockerfile")) {
    x->o.target = NC_EXPORT_DOCKERFILE;
    out = nc_export_dockerfile(p, &x->o, cmd, &err);
  } else if (!strcmp(kind, "docker-run") || !strcmp(kind, "podman-run")) {
    x->o.target = kind[0] == 'd' ? NC_EXPORT_DOCKER : NC_EXPORT_PODMAN;
    out = engine_text(p, x, cmd, &err);
  } else if (!strcmp(kind, "k8s")) {
    x->o.target = NC_EXPORT_K8S;
    out = x->json ? nc_export_k8s_json(p, &x->o, cmd, false, &err) : nc_export_k8s(p, &x->o, cmd, &err);
  } else if (!strcmp(kind, "oci")) {
    x->o.target = NC_EXPORT_OCI;
    if (!x->bundle) {
      fprintf(stderr, "nanoclaw: export oci: --bundle DIR is required\n");
      return NC_EXIT_SETUP;
    }
    if (nc_export_oci_bundle(p, &x->o, cmd, x->bundle, &err) < 0) {
      fprintf(stderr, "nanoclaw: %s\n", err.msg);
      return NC_EXIT_SETUP;
    }
    return 0;
  } else {
    fprintf(stderr, "nanoclaw: export: unknown kind \"%s\" (dockerfile, docker-run, podman-run, oci, k8s, seccomp)\n",
            kind);
    return NC_EXIT_SETUP;
  }
  if (!out) {
    fprintf(stderr, "nanoclaw: %s\n", err.msg);
    return NC_EXIT_SETUP;
  }
  int r = emit(x, out);
  free(out);
  return r < 0 ? NC_EXIT_SETUP : 0;
}

int nc_cmd_export(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    fputs(export_usage, argc < 2 ? stderr : stdout);
    fputs(nc_profile_flags_help(), argc < 2 ? stderr : stdout);
    return argc < 2 ? NC_EXIT_SETUP : 0;
  }
  const char *kind = argv[1];
  struct xopts x = {0};
  if (!strcmp(kind, "seccomp")) {
    nc_error err = {0};
    for (int i = 2; i < argc; i++) {
      int r = export_option(argc, argv, &i, &x);
      if (r <= 0 || x.json || x.bundle) {
        if (r == 0 || x.json || x.bundle) fprintf(stderr, "nanoclaw: export seccomp: only --output is accepted\n");
        return NC_EXIT_SETUP;
      }
    }
    nc_autofree char *j = nc_export_seccomp_json(&err);
    if (!j) {
      fprintf(stderr, "nanoclaw: export seccomp: %s\n", err.msg);
      return NC_EXIT_SETUP;
    }
    size_t n = strlen(j);
    nc_autofree char *jn = malloc(n + 2);
    if (!jn) return NC_EXIT_SETUP;
    memcpy(jn, j, n);
    memcpy(jn + n, "\n", 2);
    return emit(&x, jn) < 0 ? NC_EXIT_SETUP : 0;
  }
  int i = 2;
  const char *profile_file = NULL;
  if (i < argc && argv[i][0] != '-') profile_file = argv[i++];
  /* export options out; profile flags kept (their values never start with "--") */
  char **flags = calloc((size_t)argc + 1, sizeof *flags);
  if (!flags) return NC_EXIT_SETUP;
  int nf = 0, status = NC_EXIT_SETUP;
  char **cmd = NULL;
  flags[nf++] = argv[0];
  for (; i < argc; i++) {
    if (!strcmp(argv[i], "--")) {
      cmd = argv + i + 1;
      break;
    }
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      fputs(export_usage, stdout);
      fputs(nc_profile_flags_help(), stdout);
      free(flags);
      return 0;
    }
    int r = export_option(argc, argv, &i, &x);
    if (r < 0) goto out;
    if (r == 0) flags[nf++] = argv[i];
  }
  nc_profile *p = nc_profile_new();
  nc_error err = {0};
  int next = 0, help = 0;
  if (!p) {
    fprintf(stderr, "nanoclaw: out of memory\n");
  } else if (profile_file && nc_profile_load_file(p, profile_file, &err) < 0) {
    fprintf(stderr, "nanoclaw: %s\n", err.msg);
  } else if (nc_profile_parse_args(p, nf, flags, 1, &next, &help, &err) < 0) {
    fprintf(stderr, "nanoclaw: %s\n", err.msg);
  } else if (next < nf) {
    fprintf(stderr,
            "nanoclaw: export %s: unexpected argument \"%s\" (PROFILE goes right after the kind; the command after "
            "--)\n",
            kind, flags[next]);
  } else {
    status = run_kind(kind, p, &x, cmd && *cmd ? cmd : NULL);
  }
  nc_profile_free(p);
out:
  free(flags);
  return status;
}
