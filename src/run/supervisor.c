/* supervisor.c — one native run: compose cgroup, rootfs plan, seccomp and spawn,
 * then an epoll loop over the sandbox's pidfd, its sync socket, the deadline,
 * forwarded signals and (with an output limit) the stdio pipes; collect the result. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/util.h"
#include "net/proxy.h"
#include "run/run-audit.h"
#include "run/session.h"
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
  /* sessions: the exec in progress */
  int32_t exec_id;
  bool exec_done, exec_failed;
  int exec_status;          /* wait status (done) or 125/126/127 (failed) */
  char exec_msg[480];
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
      if (f.code > 0) { /* a session's exec */
        if (f.code == s->exec_id) s->exec_done = true, s->exec_status = f.status;
        break;
      }
      s->exited = true;
      s->exit_status = f.status;
      break;
    case NC_FRAME_EXEC_ERROR:
      if (f.code == s->exec_id) {
        s->exec_done = s->exec_failed = true;
        s->exec_status = f.status;
        snprintf(s->exec_msg, sizeof s->exec_msg, "%s", f.msg);
      }
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

static int watch_all(struct run_state *s, const struct nc_run_options *opt, nc_error *err) {
  int r;
  if ((r = watch(s, s->sync, err)) < 0 || (r = watch(s, s->pidfd, err)) < 0) return r;
  if (s->p->timeout_ms) {
    if ((r = arm_timer(&s->deadline_fd, s->p->timeout_ms, err)) < 0 || (r = watch(s, s->deadline_fd, err)) < 0)
      return r;
  }
  if (opt && opt->signal_fd >= 0 && (r = watch(s, opt->signal_fd, err)) < 0) return r;
  for (int i = 0; i < 2; i++)
    if (s->out_r[i] >= 0 && (r = watch(s, s->out_r[i], err)) < 0) return r;
  return 0;
}

/* One event on one of the run's own fds; false when fd is not one of them. */
static bool handle(struct run_state *s, const struct nc_run_options *opt, nc_run_result *res, int fd, nc_error *err) {
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
  else if (s->out_r[0] >= 0 && fd == s->out_r[0]) pump(s, 0, res);
  else if (s->out_r[1] >= 0 && fd == s->out_r[1]) pump(s, 1, res);
  else return false;
  return true;
}

static void check_audit(struct run_state *s) {
  if (s->audit.failed && !s->audit_stopped) { /* fail closed: no record, no run */
    s->audit_stopped = true;
    kill_all(s);
  }
}

static int event_loop(struct run_state *s, const struct nc_run_options *opt, nc_run_result *res, nc_error *err) {
  int r = watch_all(s, opt, err);
  if (r < 0) return r;
  while (!s->reaped || s->out_r[0] >= 0 || s->out_r[1] >= 0) {
    struct epoll_event ev[8];
    int n = epoll_wait(s->epfd, ev, 8, s->reaped ? 1000 : -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      kill_all(s);
      return nc_error_sys(err, errno, "epoll_wait");
    }
    if (n == 0 && s->reaped) break; /* a writer outlived the sandbox? never wait forever */
    for (int i = 0; i < n; i++) handle(s, opt, res, ev[i].data.fd, err);
    check_audit(s);
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
  if (!s->spec.session && (p->output_limit || s->audit.a)) {
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

/* ---- sessions ---- */

struct nc_session {
  struct run_state s;
  nc_run_result res;
  uint64_t t0;
  int32_t next_id;
};

const char *nc_session_id(const nc_session *ss) { return ss ? ss->res.id : ""; }

void nc_session_audit(nc_session *ss, const char *event, json_t *fields) {
  nc_run_audit_event(&ss->s.audit, event, fields);
}

/* Tear down whatever a session holds; its result in res (may be NULL). */
static int session_end(nc_session *ss, int r, nc_run_result *res, nc_error *err) {
  struct run_state *s = &ss->s;
  if (r == 0 && s->pid > 0 && !s->reaped) {
    kill_all(s);
    while (!s->reaped) {
      struct epoll_event ev[8];
      int n = epoll_wait(s->epfd, ev, 8, 5000);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break; /* teardown reaps it */
      for (int i = 0; i < n; i++) handle(s, NULL, &ss->res, ev[i].data.fd, err);
    }
  }
  if (r == 0) {
    finish_result(s, &ss->res, ss->t0);
    if (ss->res.oom_killed)
      nc_run_audit_event(&s->audit, "oom", json_pack("{s:I}", "mem_limit_bytes", (json_int_t)s->p->mem_limit));
    ss->res.exit_code = s->timed_out ? NC_EXIT_TIMEOUT : 0;
    if (s->audit_stopped) r = nc_error_set(err, s->audit.err.code, "%s", s->audit.err.msg);
  }
  teardown(s, err, &r);
  nc_error aerr = {0};
  int ar = nc_run_audit_end(&s->audit, s->p, &ss->res, r, err, &aerr);
  if (ar < 0 && r == 0) r = nc_error_set(err, aerr.code, "%s", aerr.msg);
  if (res) *res = ss->res;
  free(ss);
  return r;
}

int nc_session_start(const nc_profile *p, nc_session **ret, nc_error *err) {
  if (err) err->code = 0, err->msg[0] = '\0';
  *ret = NULL;
  int r = nc_profile_validate(p, err);
  if (r < 0) return r;
  nc_session *ss = calloc(1, sizeof *ss);
  if (!ss) return nc_error_set(err, ENOMEM, "session: out of memory");
  struct run_state *s = &ss->s;
  *s = (struct run_state){.p = p, .uid_lock = -1, .pidfd = -1, .sync = -1, .epfd = -1, .deadline_fd = -1,
                          .grace_fd = -1, .out_r = {-1, -1}};
  s->spec.session = true;
  ss->t0 = nc_now_ns();
  static char *const session_argv[] = {"(session)", NULL};
  if ((r = nc_random_id(ss->res.id)) < 0) r = nc_error_sys(err, -r, "getrandom");
  if (r == 0 && (s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) r = nc_error_sys(err, errno, "epoll_create1");
  if (r == 0) r = nc_run_audit_open(&s->audit, p, ss->res.id, err);
  if (r == 0) nc_run_audit_start(&s->audit, p, session_argv);
  if (r == 0) r = setup(s, NULL, err);
  if (r == 0) r = make_cgroup(s, NULL, ss->res.id, err);
  if (r == 0) r = nc_spawn(&s->spec, &s->pid, &s->pidfd, &s->sync, err);
  if (r == 0 && s->spec.cgroup_fd < 0) r = nc_cgroup_attach(s->cg, s->pid, err);
  if (r == 0) r = nc_spawn_release(&s->spec, s->pid, s->sync, err);
  if (r == 0 && fcntl(s->sync, F_SETFL, O_NONBLOCK) < 0) r = nc_error_sys(err, errno, "fcntl O_NONBLOCK");
  if (r == 0) r = watch_all(s, NULL, err);
  while (r == 0 && !s->started && !s->reaped) {
    struct epoll_event ev[8];
    int n = epoll_wait(s->epfd, ev, 8, -1);
    if (n < 0 && errno != EINTR) r = nc_error_sys(err, errno, "epoll_wait");
    for (int i = 0; i < n; i++) handle(s, NULL, &ss->res, ev[i].data.fd, err);
  }
  if (r == 0 && !s->started) {
    r = s->have_error ? nc_error_set(err, s->error.code, "%s", s->error.msg)
        : s->proxy_err.code ? nc_error_set(err, s->proxy_err.code, "%s", s->proxy_err.msg)
                            : nc_error_set(err, EIO, "the session's sandbox ended while starting");
  }
  if (r < 0) return session_end(ss, r, NULL, err);
  *ret = ss;
  return 0;
}

/* send on the non-blocking sync socket: wait for room rather than fail */
static int send_all_wait(int fd, const void *buf, size_t len) {
  for (;;) {
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n == (ssize_t)len) return 0;
    if (n >= 0) return -EIO; /* SEQPACKET: all or nothing */
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -errno;
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    if (poll(&pfd, 1, 5000) <= 0) return -ETIMEDOUT;
  }
}

struct capture {
  int fd;
  char *buf;
  size_t len, cap;
  bool truncated;
};

/* Read what is there; false at EOF/error (the fd is closed). */
static bool capture_read(struct run_state *s, struct capture *c, int stream) {
  char tmp[65536];
  for (;;) {
    ssize_t n = read(c->fd, tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    if (n <= 0) {
      epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
      nc_closep(&c->fd);
      return false;
    }
    nc_run_audit_output(&s->audit, stream, tmp, (size_t)n);
    size_t room = c->cap - c->len, keep = (size_t)n < room ? (size_t)n : room;
    memcpy(c->buf + c->len, tmp, keep);
    c->len += keep;
    if (keep < (size_t)n) c->truncated = true;
  }
}

int nc_session_exec(nc_session *ss, char *const argv[], const void *stdin_data, size_t stdin_len, uint64_t timeout_ms,
                    size_t output_cap, nc_exec_result *res, nc_error *err) {
  struct run_state *s = &ss->s;
  memset(res, 0, sizeof *res);
  if (err) err->code = 0, err->msg[0] = '\0';
  if (!argv || !argv[0] || !argv[0][0]) return nc_error_set(err, EINVAL, "session exec: no command given");
  if (s->reaped || s->killed)
    return nc_error_set(err, ESRCH, "session %s has ended%s", ss->res.id, s->timed_out ? " (its deadline passed)" : "");
  /* argv, NUL-separated */
  size_t argc = 0, total = 0;
  for (; argv[argc]; argc++) {
    total += strlen(argv[argc]) + 1;
    if (argc >= NC_EXEC_ARGC_MAX || total > NC_EXEC_ARGV_MAX)
      return nc_error_set(err, E2BIG, "session exec: argv is longer than %d arguments or %d bytes", NC_EXEC_ARGC_MAX,
                          NC_EXEC_ARGV_MAX);
  }
  char *packed = malloc(total);
  if (!packed) return nc_error_set(err, ENOMEM, "session exec: out of memory");
  for (size_t i = 0, o = 0; i < argc; i++) {
    size_t l = strlen(argv[i]) + 1;
    memcpy(packed + o, argv[i], l);
    o += l;
  }
  if (!output_cap) output_cap = 1u << 20;
  struct capture cap[2] = {{.fd = -1, .cap = output_cap}, {.fd = -1, .cap = output_cap}};
  int in_r = -1, in_w = -1, out_w[2] = {-1, -1}, tfd = -1, r = 0;
  size_t in_off = 0;
  uint64_t t0 = nc_now_ns();
  cap[0].buf = malloc(output_cap + 1);
  cap[1].buf = malloc(output_cap + 1);
  if (!cap[0].buf || !cap[1].buf) r = nc_error_set(err, ENOMEM, "session exec: out of memory");
  if (r == 0 && stdin_data && stdin_len) {
    int pp[2];
    if (pipe2(pp, O_CLOEXEC) < 0) r = nc_error_sys(err, errno, "pipe");
    else in_r = pp[0], in_w = pp[1];
    if (r == 0 && fcntl(in_w, F_SETFL, O_NONBLOCK) < 0) r = nc_error_sys(err, errno, "fcntl");
  } else if (r == 0 && (in_r = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
    r = nc_error_sys(err, errno, "open /dev/null");
  }
  for (int i = 0; r == 0 && i < 2; i++) {
    int pp[2];
    if (pipe2(pp, O_CLOEXEC | O_NONBLOCK) < 0) r = nc_error_sys(err, errno, "pipe");
    else cap[i].fd = pp[0], out_w[i] = pp[1];
  }
  if (r == 0) {
    /* the command's end of its stdout/stderr pipes blocks, like a terminal would */
    for (int i = 0; i < 2; i++) fcntl(out_w[i], F_SETFL, 0);
    s->exec_id = ++ss->next_id;
    s->exec_done = s->exec_failed = false;
    s->exec_msg[0] = '\0';
    struct nc_frame f = {.type = NC_FRAME_EXEC, .code = s->exec_id, .status = (int32_t)argc};
    int fds[3] = {in_r, out_w[0], out_w[1]};
    json_t *a = json_array();
    for (size_t i = 0; i < argc; i++) json_array_append_new(a, json_string(argv[i]));
    nc_run_audit_event(&s->audit, "exec", json_pack("{s:i, s:o, s:I}", "exec_id", (int)s->exec_id, "argv", a,
                                                   "stdin_bytes", (json_int_t)stdin_len));
    int e;
    for (int tries = 0; (e = nc_frame_send_fds(s->sync, &f, fds, 3)) == -EAGAIN && tries < 50; tries++) {
      struct pollfd pfd = {.fd = s->sync, .events = POLLOUT};
      poll(&pfd, 1, 100);
    }
    if (e == 0) e = send_all_wait(s->sync, packed, total);
    if (e < 0) r = nc_error_sys(err, -e, "session exec: pass the request to the sandbox");
  }
  nc_closep(&in_r);
  nc_closep(&out_w[0]);
  nc_closep(&out_w[1]);
  free(packed);
  struct epoll_event ev;
  for (int i = 0; r == 0 && i < 2; i++) {
    ev = (struct epoll_event){.events = EPOLLIN, .data.fd = cap[i].fd};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, cap[i].fd, &ev) < 0) r = nc_error_sys(err, errno, "epoll_ctl");
  }
  if (r == 0 && in_w >= 0) {
    ev = (struct epoll_event){.events = EPOLLOUT, .data.fd = in_w};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, in_w, &ev) < 0) r = nc_error_sys(err, errno, "epoll_ctl");
  }
  if (r == 0 && timeout_ms && (r = arm_timer(&tfd, timeout_ms, err)) == 0) r = watch(s, tfd, err);
  while (r == 0 && !s->exec_done && !s->reaped) {
    struct epoll_event evs[8];
    int n = epoll_wait(s->epfd, evs, 8, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      r = nc_error_sys(err, errno, "epoll_wait");
      break;
    }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == cap[0].fd) capture_read(s, &cap[0], 1);
      else if (fd == cap[1].fd) capture_read(s, &cap[1], 2);
      else if (in_w >= 0 && fd == in_w) {
        ssize_t w = write(in_w, (const char *)stdin_data + in_off, stdin_len - in_off);
        if (w > 0) in_off += (size_t)w;
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == stdin_len) {
          epoll_ctl(s->epfd, EPOLL_CTL_DEL, in_w, NULL);
          nc_closep(&in_w); /* EOF for the command */
        }
      } else if (tfd >= 0 && fd == tfd) {
        res->timed_out = true;
        struct nc_frame k = {.type = NC_FRAME_SIGNAL, .code = SIGKILL, .status = s->exec_id};
        nc_frame_send(s->sync, &k);
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, tfd, NULL);
        nc_closep(&tfd);
      } else {
        handle(s, NULL, &ss->res, fd, err);
      }
    }
    check_audit(s);
  }
  /* what the command wrote before it ended is in the pipes now; a
   * background child holding them open is not waited for */
  for (int i = 0; i < 2; i++)
    if (cap[i].fd >= 0) capture_read(s, &cap[i], i + 1);
  for (int i = 0; i < 2; i++) {
    if (cap[i].fd >= 0) epoll_ctl(s->epfd, EPOLL_CTL_DEL, cap[i].fd, NULL);
    nc_closep(&cap[i].fd);
  }
  if (in_w >= 0) epoll_ctl(s->epfd, EPOLL_CTL_DEL, in_w, NULL);
  nc_closep(&in_w);
  if (tfd >= 0) epoll_ctl(s->epfd, EPOLL_CTL_DEL, tfd, NULL);
  nc_closep(&tfd);
  if (r == 0 && s->audit_stopped) r = nc_error_set(err, s->audit.err.code, "%s", s->audit.err.msg);
  if (r == 0 && !s->exec_done)
    r = nc_error_set(err, ESRCH, "session %s ended while `%s` ran%s", ss->res.id, argv[0],
                     s->timed_out ? " (its deadline passed)" : "");
  if (r == 0) {
    res->wall_ms = (nc_now_ns() - t0) / 1000000;
    if (s->exec_failed) {
      res->exit_code = s->exec_status;
      if (s->exec_status == NC_EXIT_SETUP) r = nc_error_set(err, EIO, "session exec: %s", s->exec_msg);
      else nc_error_set(err, ENOENT, "%s", s->exec_msg);
    } else if (res->timed_out) {
      res->exit_code = NC_EXIT_TIMEOUT;
      res->signal = SIGKILL;
    } else if (WIFEXITED(s->exec_status)) {
      res->exit_code = WEXITSTATUS(s->exec_status);
    } else if (WIFSIGNALED(s->exec_status)) {
      res->signal = WTERMSIG(s->exec_status);
      res->exit_code = 128 + res->signal;
    }
    nc_run_audit_event(&s->audit, "exec_end",
                       json_pack("{s:i, s:i, s:i, s:b, s:I, s:I, s:I}", "exec_id", (int)s->exec_id, "exit_code",
                                 res->exit_code, "signal", res->signal, "timed_out", res->timed_out, "wall_ms",
                                 (json_int_t)res->wall_ms, "stdout_bytes", (json_int_t)cap[0].len, "stderr_bytes",
                                 (json_int_t)cap[1].len));
  }
  s->exec_id = 0;
  if (r < 0) {
    free(cap[0].buf);
    free(cap[1].buf);
    return r;
  }
  cap[0].buf[cap[0].len] = cap[1].buf[cap[1].len] = '\0';
  res->out = cap[0].buf, res->out_len = cap[0].len, res->out_truncated = cap[0].truncated;
  res->err = cap[1].buf, res->err_len = cap[1].len, res->err_truncated = cap[1].truncated;
  return 0;
}

void nc_exec_result_free(nc_exec_result *r) {
  if (!r) return;
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}

int nc_session_fd(const nc_session *ss) { return ss->s.epfd; }

bool nc_session_poll(nc_session *ss) {
  struct run_state *s = &ss->s;
  struct epoll_event ev[8];
  int n = epoll_wait(s->epfd, ev, 8, 0);
  nc_error e = {0};
  for (int i = 0; i < n; i++) handle(s, NULL, &ss->res, ev[i].data.fd, &e);
  check_audit(s);
  return !s->reaped;
}

int nc_session_stop(nc_session *ss, nc_run_result *res, nc_error *err) {
  if (err) err->code = 0, err->msg[0] = '\0';
  if (!ss) return 0;
  return session_end(ss, 0, res, err);
}
