/* supervisor.c — one native run: compose cgroup, rootfs plan, seccomp and spawn,
 * then an epoll loop over the sandbox's pidfd, its sync socket, the deadline,
 * forwarded signals and (with an output limit) the stdio pipes; collect the result. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/util.h"
#include "net/proxy.h"
#include "run/run-audit.h"
#include "run/run.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- environment: PATH, HOME, LANG, TERM, then what the profile names ---- */

static void strv_free_all(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

static int env_set(char ***envp, size_t *n, const char *name, const char *value) {
  size_t nl = strlen(name);
  char *e;
  if (asprintf(&e, "%s=%s", name, value) < 0) return -ENOMEM;
  for (size_t i = 0; i < *n; i++) {
    if (!strncmp((*envp)[i], name, nl) && (*envp)[i][nl] == '=') {
      free((*envp)[i]);
      (*envp)[i] = e;
      return 0;
    }
  }
  char **v = realloc(*envp, (*n + 2) * sizeof *v);
  if (!v) {
    free(e);
    return -ENOMEM;
  }
  v[(*n)++] = e;
  v[*n] = NULL;
  *envp = v;
  return 0;
}

static int build_env(const struct nc_profile *p, char ***ret_env, char ***ret_path, nc_error *err) {
  char **env = calloc(1, sizeof *env);
  size_t n = 0;
  int r = env ? 0 : -ENOMEM;
  const char *lang = getenv("LANG"), *term = getenv("TERM");
  if (r == 0) r = env_set(&env, &n, "PATH", DEFAULT_PATH);
  if (r == 0) r = env_set(&env, &n, "HOME", "/tmp");
  if (r == 0) r = env_set(&env, &n, "LANG", lang && *lang ? lang : "C.UTF-8");
  if (r == 0 && term && *term) r = env_set(&env, &n, "TERM", term);
  for (size_t i = 0; r == 0 && i < p->env.n; i++) {
    char *eq = strchr(p->env.v[i], '=');
    if (!eq) continue;
    char name[256];
    size_t nl = (size_t)(eq - p->env.v[i]);
    if (nl >= sizeof name) continue;
    memcpy(name, p->env.v[i], nl);
    name[nl] = '\0';
    r = env_set(&env, &n, name, eq + 1);
  }
  /* With an allowlist, the proxy is the only way out; these win over the
   * profile's env so a typo there cannot point clients elsewhere. */
  if (r == 0 && p->allowed_hosts.n > 0) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", NC_PROXY_PORT);
    static const char *names[] = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"};
    for (size_t i = 0; r == 0 && i < NC_ARRAY_SIZE(names); i++) r = env_set(&env, &n, names[i], url);
    if (r == 0) r = env_set(&env, &n, "NO_PROXY", "localhost,127.0.0.1,::1");
    if (r == 0) r = env_set(&env, &n, "no_proxy", "localhost,127.0.0.1,::1");
  }
  if (r < 0) {
    strv_free_all(env);
    return nc_error_set(err, ENOMEM, "environment: out of memory");
  }
  /* The command is looked up in the sandbox's PATH, as its shell would. */
  const char *path = DEFAULT_PATH;
  for (size_t i = 0; i < n; i++)
    if (!strncmp(env[i], "PATH=", 5)) path = env[i] + 5;
  size_t parts = 2;
  for (const char *c = path; *c; c++) parts += (*c == ':');
  char **dirs = calloc(parts, sizeof *dirs);
  char *copy = strdup(path);
  if (!dirs || !copy) {
    free(dirs);
    free(copy);
    strv_free_all(env);
    return nc_error_set(err, ENOMEM, "environment: out of memory");
  }
  size_t k = 0;
  char *save = NULL;
  for (char *tok = strtok_r(copy, ":", &save); tok && k + 1 < parts; tok = strtok_r(NULL, ":", &save))
    if (tok[0] == '/') dirs[k++] = strdup(tok);
  free(copy);
  *ret_env = env;
  *ret_path = dirs;
  return 0;
}

/* ---- the run ---- */

struct run_state {
  const struct nc_profile *p;
  struct nc_spawn_spec spec;
  struct nc_seccomp_filter filter;
  struct nc_cgroup *cg;
  struct nc_proxy *proxy;
  struct nc_run_audit audit;
  bool audit_stopped; /* the audit log failed: the sandbox was killed */
  nc_error proxy_err; /* the proxy could not start: the run fails closed */
  int uid_lock, pidfd, sync, epfd, deadline_fd, grace_fd;
  int out_r[2];      /* read ends of the stdout/stderr pipes (output limit, audit) */
  pid_t pid;
  bool started, exited, reaped, timed_out, killed;
  int exit_status;   /* wait status from the EXIT frame */
  int forwarded_sig;
  struct nc_frame error; /* first ERROR frame */
  bool have_error;
  struct rusage ru;
  int init_status;
  uint64_t out_total;
};

static void kill_all(struct run_state *s) {
  if (s->killed) return;
  s->killed = true;
  if (s->cg) nc_cgroup_kill(s->cg, NULL);
  if (s->pidfd >= 0) syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
}

static int arm_timer(int *fd, uint64_t ms, nc_error *err) {
  *fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (*fd < 0) return nc_error_sys(err, errno, "timerfd_create");
  struct itimerspec its = {.it_value = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000}};
  if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
  if (timerfd_settime(*fd, 0, &its, NULL) < 0) return nc_error_sys(err, errno, "timerfd_settime");
  return 0;
}

static int watch(struct run_state *s, int fd, nc_error *err) {
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) return nc_error_sys(err, errno, "epoll_ctl");
  return 0;
}

static int watch(struct run_state *s, int fd, nc_error *err);

/* The sandbox's init passed up the proxy's listening socket: serve it. */
static void start_proxy(struct run_state *s, int lfd) {
  if (lfd < 0 || s->proxy || !s->spec.proxy_port) {
    nc_closep(&lfd);
    return;
  }
  int r = nc_proxy_new(&s->proxy, s->p, lfd, NULL, &s->proxy_err);
  if (r == 0) nc_proxy_set_observer(s->proxy, nc_run_audit_net, &s->audit);
  if (r == 0) r = watch(s, nc_proxy_fd(s->proxy), &s->proxy_err);
  if (r < 0) {
    if (!s->proxy_err.code) s->proxy_err.code = -r;
    kill_all(s);
  }
}

/* Handle one frame; false when there is none to read now. */
static bool on_frame(struct run_state *s) {
  struct nc_frame f;
  int passed = -1;
  int r = nc_frame_recv_fd(s->sync, &f, &passed);
  if (r > 0 && f.type == NC_FRAME_PROXY) {
    start_proxy(s, passed);
    return true;
  }
  nc_closep(&passed);
  if (r == -EAGAIN) return false;
  if (r <= 0) {
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->sync, NULL);
    return false;
  }
  switch (f.type) {
    case NC_FRAME_ERROR:
      if (!s->have_error) s->error = f, s->have_error = true;
      break;
    case NC_FRAME_STARTED: s->started = true; break;
    case NC_FRAME_EXIT:
      s->exited = true;
      s->exit_status = f.status;
      break;
    default: break;
  }
  return true;
}

/* Copy what the command printed, up to the output limit; count the rest. */
static void pump(struct run_state *s, int i, nc_run_result *res) {
  char buf[65536];
  ssize_t n = read(s->out_r[i], buf, sizeof buf);
  if (n <= 0) {
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->out_r[i], NULL);
    close(s->out_r[i]);
    s->out_r[i] = -1;
    return;
  }
  nc_run_audit_output(&s->audit, i + 1, buf, (size_t)n);
  uint64_t room = !s->p->output_limit ? UINT64_MAX
                  : s->p->output_limit > s->out_total ? s->p->output_limit - s->out_total : 0;
  size_t keep = (uint64_t)n < room ? (size_t)n : (size_t)room;
  if (keep) nc_write_all(i + 1, buf, keep);
  s->out_total += keep;
  if ((size_t)n > keep) {
    if (!res->output_truncated)
      nc_run_audit_event(&s->audit, "output_limit", json_pack("{s:I}", "limit_bytes", (json_int_t)s->p->output_limit));
    res->output_truncated = true;
    res->output_dropped_bytes += (uint64_t)n - keep;
  }
}

static void on_signal(struct run_state *s, int sfd, nc_error *err) {
  struct signalfd_siginfo si;
  if (read(sfd, &si, sizeof si) != (ssize_t)sizeof si) return;
  if (!s->forwarded_sig) s->forwarded_sig = (int)si.ssi_signo;
  nc_run_audit_event(&s->audit, "signal", json_pack("{s:i}", "signal", (int)si.ssi_signo));
  struct nc_frame f = {.type = NC_FRAME_SIGNAL, .code = (int32_t)si.ssi_signo};
  nc_frame_send(s->sync, &f);
  if (s->grace_fd < 0 && arm_timer(&s->grace_fd, 5000, err) == 0) watch(s, s->grace_fd, err);
}

/* The sandbox is gone: close every proxied connection, keep the counts. */
static void stop_proxy(struct run_state *s, nc_run_result *res) {
  if (!s->proxy) return;
  epoll_ctl(s->epfd, EPOLL_CTL_DEL, nc_proxy_fd(s->proxy), NULL);
  struct nc_proxy *px = s->proxy;
  s->proxy = NULL;
  nc_proxy_close_all(px); /* reports the connections still open */
  struct nc_proxy_stats st;
  nc_proxy_stats(px, &st);
  nc_proxy_free(px);
  res->net_allowed = st.allowed;
  res->net_denied = st.denied;
  res->net_failed = st.failed;
  res->net_bytes_out = st.bytes_out;
  res->net_bytes_in = st.bytes_in;
}

static int event_loop(struct run_state *s, const struct nc_run_options *opt, nc_run_result *res, nc_error *err) {
  int r;
  if ((r = watch(s, s->sync, err)) < 0 || (r = watch(s, s->pidfd, err)) < 0) return r;
  if (s->p->timeout_ms) {
    if ((r = arm_timer(&s->deadline_fd, s->p->timeout_ms, err)) < 0 || (r = watch(s, s->deadline_fd, err)) < 0)
      return r;
  }
  if (opt && opt->signal_fd >= 0 && (r = watch(s, opt->signal_fd, err)) < 0) return r;
  for (int i = 0; i < 2; i++)
    if (s->out_r[i] >= 0 && (r = watch(s, s->out_r[i], err)) < 0) return r;
  while (!s->reaped || s->out_r[0] >= 0 || s->out_r[1] >= 0) {
    struct epoll_event ev[8];
    int n = epoll_wait(s->epfd, ev, 8, s->reaped ? 1000 : -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      kill_all(s);
      return nc_error_sys(err, errno, "epoll_wait");
    }
    if (n == 0 && s->reaped) break; /* a writer outlived the sandbox? never wait forever */
    for (int i = 0; i < n; i++) {
      int fd = ev[i].data.fd;
      if (fd == s->sync) on_frame(s);
      else if (fd == s->pidfd) {
        while (wait4(s->pid, &s->init_status, 0, &s->ru) < 0 && errno == EINTR) {}
        s->reaped = true;
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->pidfd, NULL);
        while (on_frame(s)) {} /* frames sent just before init left */
        stop_proxy(s, res);
      } else if (fd == s->deadline_fd) {
        s->timed_out = true;
        nc_run_audit_event(&s->audit, "deadline", json_pack("{s:I}", "timeout_ms", (json_int_t)s->p->timeout_ms));
        kill_all(s);
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
      } else if (fd == s->grace_fd) {
        kill_all(s);
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
      } else if (opt && fd == opt->signal_fd) on_signal(s, fd, err);
      else if (s->proxy && fd == nc_proxy_fd(s->proxy)) nc_proxy_dispatch(s->proxy);
      else if (fd == s->out_r[0]) pump(s, 0, res);
      else if (fd == s->out_r[1]) pump(s, 1, res);
    }
    if (s->audit.failed && !s->audit_stopped) { /* fail closed: no record, no run */
      s->audit_stopped = true;
      kill_all(s);
    }
  }
  return 0;
}

static int setup(struct run_state *s, char *const argv[], nc_error *err) {
  const struct nc_profile *p = s->p;
  int r;
  s->spec.profile = p;
  s->spec.argv = (char **)argv;
  s->spec.caller_uid = getuid();
  s->spec.caller_gid = getgid();
  s->spec.rootless = geteuid() != 0;
  s->spec.pts = isatty(0) || isatty(1) || isatty(2);
  s->spec.cgroup_fd = -1;
  if (p->allowed_hosts.n > 0) s->spec.proxy_port = NC_PROXY_PORT;
  s->spec.stdio[0] = s->spec.stdio[1] = s->spec.stdio[2] = -1;
  if (!s->spec.rootless && (r = nc_uid_lease(&s->spec.host_uid_base, &s->uid_lock, err)) < 0) return r;
  if ((r = nc_seccomp_prepare(&s->filter, err)) < 0) return r;
  s->spec.filter = &s->filter;
  if ((r = build_env(p, &s->spec.envp, &s->spec.path_dirs, err)) < 0) return r;
  if ((r = nc_rootfs_plan_build(&s->spec.rootfs, p, s->spec.pts, err)) < 0) return r;
  if (p->output_limit || s->audit.a) {
    for (int i = 0; i < 2; i++) {
      int pp[2];
      if (pipe2(pp, O_CLOEXEC) < 0) return nc_error_sys(err, errno, "pipe");
      s->out_r[i] = pp[0];
      s->spec.stdio[i + 1] = pp[1];
    }
  }
  return 0;
}

static int make_cgroup(struct run_state *s, const struct nc_run_options *opt, const char *id, nc_error *err) {
  const struct nc_profile *p = s->p;
  struct nc_cgroup_limits lim = {
      .mem_bytes = p->mem_limit,
      .cpu_shares = p->cpu_shares,
      .cpus_milli = p->cpus_milli,
      .pids_max = p->pids_limit,
      .best_effort = p->limits == NC_LIMITS_BEST_EFFORT,
  };
  int r = nc_cgroup_create(opt ? opt->cgroup_root : NULL, id, &lim, &s->cg, err);
  if (r < 0) return r;
  s->spec.cgroup_fd = nc_cgroup_clone_fd(s->cg);
  return 0;
}

static void finish_result(struct run_state *s, nc_run_result *res, uint64_t t0) {
  res->wall_ms = (nc_now_ns() - t0) / 1000000;
  res->timed_out = s->timed_out;
  struct nc_cgroup_stats st = {0};
  if (s->cg && nc_cgroup_stats(s->cg, &st, NULL) == 0) {
    res->mem_peak_bytes = st.mem_peak_bytes;
    res->oom_killed = st.oom_kills > 0;
  }
  if (st.have_cpu) {
    res->cpu_user_ms = st.cpu_user_us / 1000;
    res->cpu_sys_ms = st.cpu_sys_us / 1000;
  } else {
    res->cpu_user_ms = (uint64_t)s->ru.ru_utime.tv_sec * 1000 + (uint64_t)s->ru.ru_utime.tv_usec / 1000;
    res->cpu_sys_ms = (uint64_t)s->ru.ru_stime.tv_sec * 1000 + (uint64_t)s->ru.ru_stime.tv_usec / 1000;
  }
  if (s->cg) {
    struct nc_cgroup_enforced en;
    nc_cgroup_enforced(s->cg, &en);
    res->enforced_memory = en.memory;
    res->enforced_cpu_shares = en.cpu_shares;
    res->enforced_cpus = en.cpus;
    res->enforced_pids = en.pids;
  }
}

/* Turn what happened into an exit code; negative only for setup failures. */
static int judge(struct run_state *s, nc_run_result *res, nc_error *err) {
  if (s->audit_stopped) return nc_error_set(err, s->audit.err.code, "%s", s->audit.err.msg);
  if (s->proxy_err.code) return nc_error_set(err, s->proxy_err.code, "%s", s->proxy_err.msg);
  if (s->timed_out) {
    res->exit_code = NC_EXIT_TIMEOUT;
    res->signal = SIGKILL;
    return 0;
  }
  if (s->exited) {
    int st = s->exit_status;
    if (WIFEXITED(st)) res->exit_code = WEXITSTATUS(st);
    else if (WIFSIGNALED(st)) {
      res->signal = WTERMSIG(st);
      res->exit_code = 128 + res->signal;
    }
    if (s->killed && s->forwarded_sig) res->exit_code = 128 + s->forwarded_sig;
    return 0;
  }
  if (s->have_error) {
    if (s->error.status == NC_EXIT_NOTFOUND || s->error.status == NC_EXIT_NOEXEC) {
      res->exit_code = s->error.status;
      nc_error_set(err, s->error.code, "%s", s->error.msg);
      return 0;
    }
    return nc_error_set(err, s->error.code, "%s", s->error.msg);
  }
  if (s->forwarded_sig) {
    res->exit_code = 128 + s->forwarded_sig;
    res->signal = s->forwarded_sig;
    return 0;
  }
  if (res->oom_killed) {
    res->exit_code = 128 + SIGKILL;
    res->signal = SIGKILL;
    return 0;
  }
  if (WIFSIGNALED(s->init_status))
    return nc_error_set(err, EIO, "the sandbox's init was killed by signal %d before the command ended",
                        WTERMSIG(s->init_status));
  return nc_error_set(err, EIO, "the sandbox's init exited with status %d before the command ended",
                      WEXITSTATUS(s->init_status));
}

static void teardown(struct run_state *s, nc_error *err, int *r) {
  if (s->pid > 0 && !s->reaped) {
    kill_all(s);
    while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR) {}
  }
  nc_proxy_free(s->proxy);
  s->proxy = NULL;
  nc_error cg_err = {0};
  if (s->cg && nc_cgroup_destroy(s->cg, &cg_err) < 0 && *r == 0) *r = nc_error_set(err, cg_err.code, "%s", cg_err.msg);
  s->cg = NULL;
  int *fds[] = {&s->uid_lock, &s->pidfd, &s->sync, &s->epfd, &s->deadline_fd, &s->grace_fd,
                &s->out_r[0], &s->out_r[1], &s->spec.stdio[1], &s->spec.stdio[2]};
  for (size_t i = 0; i < NC_ARRAY_SIZE(fds); i++) nc_closep(fds[i]);
  nc_rootfs_plan_free(&s->spec.rootfs);
  nc_seccomp_filter_free(&s->filter);
  strv_free_all(s->spec.envp);
  strv_free_all(s->spec.path_dirs);
}

int nc_run_ex(const struct nc_profile *p, char *const argv[], const struct nc_run_options *opt, nc_run_result *res,
              nc_error *err) {
  memset(res, 0, sizeof *res);
  if (err) err->code = 0, err->msg[0] = '\0';
  if (!argv || !argv[0] || !argv[0][0]) return nc_error_set(err, EINVAL, "no command given");
  int r = nc_profile_validate(p, err);
  if (r < 0) return r;
  struct run_state s = {.p = p, .uid_lock = -1, .pidfd = -1, .sync = -1, .epfd = -1, .deadline_fd = -1,
                        .grace_fd = -1, .out_r = {-1, -1}};
  uint64_t t0 = nc_now_ns();
  if ((r = nc_random_id(res->id)) < 0) return nc_error_sys(err, -r, "getrandom");
  s.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (s.epfd < 0) r = nc_error_sys(err, errno, "epoll_create1");
  if (r == 0) r = nc_run_audit_open(&s.audit, p, res->id, err);
  if (r == 0) nc_run_audit_start(&s.audit, p, argv);
  if (r == 0) r = setup(&s, argv, err);
  if (r == 0) r = make_cgroup(&s, opt, res->id, err);
  if (r == 0) r = nc_spawn(&s.spec, &s.pid, &s.pidfd, &s.sync, err);
  if (r == 0 && s.spec.cgroup_fd < 0) r = nc_cgroup_attach(s.cg, s.pid, err);
  if (r == 0) r = nc_spawn_release(&s.spec, s.pid, s.sync, err);
  if (r == 0 && fcntl(s.sync, F_SETFL, O_NONBLOCK) < 0) r = nc_error_sys(err, errno, "fcntl O_NONBLOCK");
  /* the command's ends of the pipes belong to the sandbox now */
  nc_closep(&s.spec.stdio[1]);
  nc_closep(&s.spec.stdio[2]);
  s.spec.stdio[1] = s.spec.stdio[2] = -1;
  if (r == 0) r = event_loop(&s, opt, res, err);
  if (r == 0) {
    finish_result(&s, res, t0);
    if (res->oom_killed) nc_run_audit_event(&s.audit, "oom", json_pack("{s:I}", "mem_limit_bytes", (json_int_t)p->mem_limit));
    r = judge(&s, res, err);
  }
  teardown(&s, err, &r);
  nc_error aerr = {0};
  int ar = nc_run_audit_end(&s.audit, p, res, r, err, &aerr);
  if (ar < 0 && r == 0) r = nc_error_set(err, aerr.code, "%s", aerr.msg);
  return r;
}

int nc_run(const nc_profile *p, char *const argv[], nc_run_result *res, nc_error *err) {
  return nc_run_ex(p, argv, NULL, res, err);
}
