/* cmd_run.c — `nanoclaw run`: flags -> profile -> one sandboxed run -> exit status. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/run_backend.h"
#include "config/flags.h"
#include "config/keys.h"
#include "config/profile.h"
#include "core/util.h"
#include "run/run.h"

static const char run_usage[] =
    "Usage: nanoclaw run [OPTIONS] [--] COMMAND [ARGS...]\n"
    "\n"
    "Run COMMAND in a fresh sandbox: new user, mount, pid, network, uts, ipc and cgroup\n"
    "namespaces; a read-only root; an unprivileged user with no capabilities; a seccomp\n"
    "filter; memory, CPU and pids limits; no network; a deadline. Every option is also a\n"
    "key of the JSON profile (--config FILE): dashes become underscores; flags override it.\n"
    "\n"
    "  --backend docker|podman|k8s  run through that engine instead (nanoclaw export docker-run, ...)\n"
    "  --runtime crun|runc          run the exported OCI bundle with that runtime\n"
    "\n"
    "Options:\n";

/* --result-json: JSON text to FILE or (-) stdout. Shared with `nanoclaw agent`. */
int nc_cli_write_json(const struct nc_profile *p, const char *json) {
  if (!p->result_json) return 0;
  if (!json) {
    fprintf(stderr, "nanoclaw: result: out of memory\n");
    return -1;
  }
  if (!strcmp(p->result_json, "-")) {
    fflush(stdout);
    printf("%s\n", json);
    fflush(stdout);
    return 0;
  }
  int fd = open(p->result_json, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || nc_write_all(fd, json, strlen(json)) < 0 || nc_write_all(fd, "\n", 1) < 0) {
    fprintf(stderr, "nanoclaw: --result-json \"%s\": %s\n", p->result_json, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

static int write_result(const struct nc_profile *p, const nc_run_result *res) {
  if (!p->result_json) return 0;
  nc_autofree char *json = nc_run_result_to_json(p, res);
  return nc_cli_write_json(p, json);
}

/* SIGINT/SIGTERM/SIGHUP/SIGQUIT reach the supervisor's loop as a signalfd
 * and are passed on to the command. */
static int signal_fd(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGQUIT);
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return -1;
  return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void report(const struct nc_profile *p, const nc_run_result *res, const nc_error *err) {
  if (err->msg[0]) fprintf(stderr, "nanoclaw: %s\n", err->msg);
  if (res->timed_out)
    fprintf(stderr, "nanoclaw: deadline: killed the sandbox after %llu.%03llu s (timeout)\n",
            (unsigned long long)(p->timeout_ms / 1000), (unsigned long long)(p->timeout_ms % 1000));
  if (res->oom_killed) fprintf(stderr, "nanoclaw: the memory limit was reached: a process was OOM-killed\n");
  if (res->output_truncated)
    fprintf(stderr, "nanoclaw: output limit reached: %llu bytes dropped\n",
            (unsigned long long)res->output_dropped_bytes);
}

/* --backend docker|podman|k8s|native and --runtime crun|runc (among the options, before the command)
 * are taken out of argv here; the rest is the profile's. -1: bad value; 0: native; 1: *ret_kind set. */
static int take_backend(int *argc, char **argv, enum nc_backend *ret_kind) {
  static const char *const names[] = {"docker", "podman", "k8s", "crun", "runc"};
  int found = 0, o = 1, i = 1;
  while (i < *argc) {
    const char *a = argv[i];
    if (!strcmp(a, "--") || a[0] != '-' || !a[1]) break;
    size_t n = strcspn(a, "=");
    bool backend = n == 9 && !strncmp(a, "--backend", 9), runtime = n == 9 && !strncmp(a, "--runtime", 9);
    if (backend || runtime) {
      const char *v = a[n] == '=' ? a + n + 1 : i + 1 < *argc ? argv[++i] : "";
      i++;
      if (backend && !strcmp(v, "native")) {
        found = 0;
        continue;
      }
      size_t k = backend ? 0 : 3, end = backend ? 3 : 5;
      while (k < end && strcmp(v, names[k])) k++;
      if (k == end) {
        fprintf(stderr, "nanoclaw: run: %s \"%s\" is not one of %s\n", backend ? "--backend" : "--runtime", v,
                backend ? "native, docker, podman, k8s" : "crun, runc");
        return -1;
      }
      *ret_kind = (enum nc_backend)k;
      found = 1;
      continue;
    }
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(n > 2 && n < 64 ? n - 2 : 0), a + 2);
    const struct nc_key *key = nc_key_by_flag(name);
    int take = a[n] != '=' && key && key->metavar && i + 1 < *argc ? 2 : 1;
    while (take--) argv[o++] = argv[i++];
  }
  while (i < *argc) argv[o++] = argv[i++];
  argv[o] = NULL;
  *argc = o;
  return found;
}

static int run_backend(struct nc_profile *p, enum nc_backend kind, char **cmd) {
  nc_error err = {0};
  nc_run_result res;
  int sfd = signal_fd();
  int r = nc_run_backend(p, kind, cmd, sfd, &res, &err);
  if (sfd >= 0) close(sfd);
  if (r < 0) {
    fprintf(stderr, "nanoclaw: %s\n", err.msg);
    return NC_EXIT_SETUP;
  }
  report(p, &res, &err);
  int status = res.exit_code;
  if (write_result(p, &res) < 0 && status == 0) status = NC_EXIT_SETUP;
  return status;
}

int nc_cmd_run(int argc, char **argv) {
  enum nc_backend kind = NC_BACKEND_DOCKER;
  int backend = take_backend(&argc, argv, &kind);
  if (backend < 0) return NC_EXIT_SETUP;
  struct nc_profile *p = nc_profile_new();
  if (!p) {
    fprintf(stderr, "nanoclaw: out of memory\n");
    return NC_EXIT_SETUP;
  }
  nc_error err = {0};
  int next = argc, help = 0, status;
  if (nc_profile_parse_args(p, argc, argv, 1, &next, &help, &err) < 0) {
    fprintf(stderr, "nanoclaw: %s\n", err.msg);
    status = NC_EXIT_SETUP;
  } else if (help) {
    fputs(run_usage, stdout);
    fputs(nc_profile_flags_help(), stdout);
    status = 0;
  } else if (next >= argc && !(backend && kind <= NC_BACKEND_K8S) && !p->image_cmd.n) {
    fprintf(stderr, "nanoclaw: run: no command given (usage: nanoclaw run [OPTIONS] [--] COMMAND [ARGS...])\n");
    status = NC_EXIT_SETUP;
  } else if (backend) {
    status = run_backend(p, kind, next < argc ? argv + next : NULL);
  } else {
    struct nc_run_options opt = {.signal_fd = signal_fd(), .kill_grace_ms = 5000};
    nc_run_result res;
    int r = nc_run_ex(p, next < argc ? argv + next : p->image_cmd.v, &opt, &res, &err); /* no command: the image's */
    if (opt.signal_fd >= 0) close(opt.signal_fd);
    if (r < 0) {
      fprintf(stderr, "nanoclaw: %s\n", err.msg);
      status = NC_EXIT_SETUP;
    } else {
      report(p, &res, &err);
      status = res.exit_code;
      if (write_result(p, &res) < 0 && status == 0) status = NC_EXIT_SETUP;
    }
  }
  nc_profile_free(p);
  return status;
}
