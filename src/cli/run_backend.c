/* run_backend.c — `nanoclaw run --backend docker|podman|k8s` and `--runtime crun|runc`: the exported
 * form of the profile run under another engine, with nanoclaw as the supervisor keeping what the
 * engine cannot: the exact deadline, the output limit, the audit log and the run result. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/run_backend.h"
#include "core/util.h"
#include "export/export.h"
#include "net/proxy.h"
#include "run/run-audit.h"
#include "sandbox/sandbox.h"

#define GRACE_MS 5000

/* Insert a copy of s at index i of a NULL-terminated argument list. */
static int insert_at(struct nc_strv *v, size_t i, const char *s) {
  char *d = strdup(s);
  char **nv = d ? realloc(v->v, (v->n + 2) * sizeof *nv) : NULL;
  if (!nv) {
    free(d);
    return -ENOMEM;
  }
  memmove(nv + i + 1, nv + i, (v->n - i) * sizeof *nv);
  nv[i] = d;
  nv[++v->n] = NULL;
  v->v = nv;
  return 0;
}

static int push(struct nc_strv *v, const char *s) { return insert_at(v, v->n, s); }

struct brun {
  const struct nc_profile *p;
  enum nc_backend kind;
  const char *what;       /* "run --backend podman" */
  char id[33];
  char name[48];          /* container / Job name */
  char dir[64];           /* private temp dir (seccomp profile, bundle), or "" */
  bool mntns;             /* run engine commands without the cgroup v2 mount (crun refuses hybrid hosts) */
  char *k8s_json;         /* the objects applied, for the delete */
  pid_t holder;           /* allowed_hosts: the process holding the network namespace, or 0 */
  int holder_sock;        /* its end of the socketpair: closing it ends the holder */
  char netns[48];         /* /proc/HOLDER/ns/net */
  struct nc_proxy *px;    /* the egress proxy serving the listener inside it */
  struct nc_run_audit ra;
  uint64_t out_bytes;     /* passed through, for output_limit */
  nc_run_result res;
};

static const char *engine_bin(const struct brun *b) {
  static const char *const names[] = {"docker", "podman", "kubectl", "crun", "runc"};
  return names[b->kind];
}

/* The child side of every engine command: the profile's env values (the engine's --env NAME reads
 * them; they never appear in an argv), stdio, the private mount namespace. Never returns. */
static void exec_child(const struct brun *b, char *const argv[], int in, int out, int errfd) {
  if (in >= 0) dup2(in, 0);
  if (out >= 0) dup2(out, 1);
  if (errfd >= 0) dup2(errfd, 2);
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  /* docker and podman read --env NAME from here; the runtimes have them in config.json, kubectl in the Secret */
  if (b->kind == NC_BACKEND_DOCKER || b->kind == NC_BACKEND_PODMAN)
    for (size_t i = 0; i < b->p->env.n; i++) putenv(b->p->env.v[i]);
  if (b->mntns) {
    /* crun refuses a hybrid cgroup host whose v2 hierarchy holds controllers; without the v2 mount
     * it sees plain v1. Private, so nothing changes outside. */
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) _exit(125);
    umount2("/sys/fs/cgroup/unified", MNT_DETACH);
  }
  execvp(argv[0], argv);
  dprintf(2, "nanoclaw: %s: `%s`: %s\n", b->what, argv[0], strerror(errno));
  _exit(errno == ENOENT ? 127 : 126);
}

/* Run a helper command to its end: stdin from data (or /dev/null), stdout into out (may be NULL),
 * stderr to ours. Returns its exit status, or -1. */
static int run_helper(const struct brun *b, char *const argv[], const char *data, char *out, size_t outsz) {
  int ip[2] = {-1, -1}, op[2] = {-1, -1};
  if ((data && pipe2(ip, O_CLOEXEC) < 0) || (out && pipe2(op, O_CLOEXEC) < 0)) return -1;
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC); /* stdin without data, stdout unless captured */
  pid_t pid = fork();
  if (pid == 0) exec_child(b, argv, data ? ip[0] : devnull, out ? op[1] : devnull, -1);
  if (devnull >= 0) close(devnull);
  if (data) {
    close(ip[0]);
    if (pid > 0) nc_write_all(ip[1], data, strlen(data));
    close(ip[1]);
  }
  if (out) {
    close(op[1]);
    size_t n = 0;
    ssize_t k;
    while (pid > 0 && (k = read(op[0], out + n, outsz - 1 - n)) > 0 && n + 1 < outsz) n += (size_t)k;
    out[n] = '\0';
    close(op[0]);
  }
  int st;
  if (pid < 0 || waitpid(pid, &st, 0) < 0) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Stop the container with signal sig (the engine's own kill; the main child is its client). */
static void engine_kill(struct brun *b, int sig) {
  char s[16];
  snprintf(s, sizeof s, "%d", sig);
  if (b->kind == NC_BACKEND_DOCKER || b->kind == NC_BACKEND_PODMAN) {
    char sa[24];
    snprintf(sa, sizeof sa, "--signal=%d", sig);
    char *av[] = {(char *)engine_bin(b), "kill", sa, b->name, NULL};
    run_helper(b, av, NULL, NULL, 0);
  } else if (b->kind == NC_BACKEND_CRUN || b->kind == NC_BACKEND_RUNC) {
    char *av[] = {(char *)engine_bin(b), "kill", "--all", b->name, s, NULL};
    char *av1[] = {(char *)engine_bin(b), "kill", b->name, s, NULL};
    if (run_helper(b, av, NULL, NULL, 0) != 0) run_helper(b, av1, NULL, NULL, 0);
  } else {
    char job[80];
    snprintf(job, sizeof job, "job/%s", b->name);
    char *av[] = {"kubectl", "delete", job, "--wait=false", "--ignore-not-found", NULL};
    if (sig == SIGKILL || sig == SIGTERM) run_helper(b, av, NULL, NULL, 0);
  }
}

static void relay(struct brun *b, int fd, int stream) {
  char buf[16384];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n <= 0) return;
  nc_run_audit_output(&b->ra, stream, buf, (size_t)n);
  size_t pass = (size_t)n;
  if (b->p->output_limit) {
    uint64_t room = b->out_bytes >= b->p->output_limit ? 0 : b->p->output_limit - b->out_bytes;
    if (pass > room) {
      b->res.output_truncated = true;
      b->res.output_dropped_bytes += pass - room;
      pass = (size_t)room;
    }
  }
  b->out_bytes += pass;
  if (pass) nc_write_all(stream, buf, pass);
}

/* The main child (the engine's run, or kubectl logs): output pumped through us, the deadline and
 * forwarded signals turned into the engine's kill. Returns the child's wait status. */
static int supervise(struct brun *b, char *const argv[], int sigfd, uint64_t deadline_ms) {
  int op[2], ep[2];
  if (pipe2(op, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0) return -1;
  bool stdin_passed = b->kind != NC_BACKEND_K8S;
  int devnull = stdin_passed ? -1 : open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = fork();
  if (pid == 0) exec_child(b, argv, devnull, op[1], ep[1]);
  if (devnull >= 0) close(devnull);
  close(op[1]);
  close(ep[1]);
  if (pid < 0) return -1;
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  if (tfd >= 0 && deadline_ms) {
    struct itimerspec its = {.it_value = {(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000L}};
    timerfd_settime(tfd, 0, &its, NULL);
  }
  /* the child's end, not its pipes', ends the loop: a command may close its stdout and go on */
  int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
  bool stopping = false, exited = false;
  struct itimerspec grace = {.it_value = {GRACE_MS / 1000, 0}};
  struct pollfd fds[6] = {{op[0], POLLIN, 0}, {ep[0], POLLIN, 0}, {tfd, POLLIN, 0},
                          {sigfd, POLLIN, 0}, {pfd, POLLIN, 0}, {b->px ? nc_proxy_fd(b->px) : -1, POLLIN, 0}};
  while (fds[0].fd >= 0 || fds[1].fd >= 0 || (!exited && pfd >= 0)) {
    if (poll(fds, 6, exited ? 200 : -1) <= 0) {
      if (errno == EINTR) continue;
      break; /* exited and the pipes idle (held by something that outlived it): stop reading */
    }
    for (int i = 0; i < 2; i++) {
      if (!fds[i].revents) continue;
      if (fds[i].revents & POLLIN) relay(b, fds[i].fd, i + 1);
      else close(fds[i].fd), fds[i].fd = -1;
    }
    if (fds[4].revents) exited = true, fds[4].fd = -1;
    if (fds[5].revents) nc_proxy_dispatch(b->px);
    if (fds[2].revents & POLLIN) {
      uint64_t x;
      if (read(tfd, &x, sizeof x) < 0) x = 0;
      if (!stopping) {
        /* the deadline: kill the container; its client gets the grace to report */
        b->res.timed_out = true;
        stopping = true;
        nc_run_audit_event(&b->ra, "deadline", json_pack("{s:I}", "timeout_ms", (json_int_t)b->p->timeout_ms));
        engine_kill(b, SIGKILL);
        timerfd_settime(tfd, 0, &grace, NULL);
      } else {
        /* the grace is over: everything */
        engine_kill(b, SIGKILL);
        kill(pid, SIGKILL);
      }
    }
    if (sigfd >= 0 && (fds[3].revents & POLLIN)) {
      struct signalfd_siginfo si;
      if (read(sigfd, &si, sizeof si) == sizeof si) {
        nc_run_audit_event(&b->ra, "signal", json_pack("{s:i}", "signal", (int)si.ssi_signo));
        engine_kill(b, (int)si.ssi_signo);
        if (!stopping) {
          stopping = true;
          timerfd_settime(tfd, 0, &grace, NULL);
        }
      }
    }
  }
  for (int i = 0; i < 2; i++)
    if (fds[i].fd >= 0) close(fds[i].fd);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (tfd >= 0) close(tfd);
  if (pfd >= 0) close(pfd);
  return st;
}

/* allowed_hosts: a network namespace with only lo up and a listener on 127.0.0.1:3128 created inside
 * it, handed to us; the proxy serves it from the host side (connecting out from here), exactly as
 * for a native sandbox, and the container joins the namespace. The holder is a child that does
 * nothing but keep the namespace alive until we close our end of the socketpair (or die). */
static void holder_main(int sock) {
  int lo = -1, l = -1;
  struct ifreq ifr = {0};
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(NC_EXPORT_PROXY_PORT)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
  if (unshare(CLONE_NEWNET) < 0 || (lo = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
      ioctl(lo, SIOCGIFFLAGS, &ifr) < 0 || (ifr.ifr_flags |= IFF_UP, ioctl(lo, SIOCSIFFLAGS, &ifr)) < 0 ||
      (l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
      bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 128) < 0)
    _exit(1);
  char cbuf[CMSG_SPACE(sizeof(int))] = {0}, one = 'L';
  struct iovec iov = {&one, 1};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &l, sizeof l);
  if (sendmsg(sock, &mh, 0) < 0) _exit(1);
  close(l);
  while (read(sock, &one, 1) > 0) {
  }
  _exit(0);
}

static int netns_start(struct brun *b, nc_error *err) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) return nc_error_sys(err, errno, "socketpair");
  pid_t pid = fork();
  if (pid == 0) {
    close(sp[0]);
    holder_main(sp[1]);
  }
  close(sp[1]);
  if (pid < 0) {
    close(sp[0]);
    return nc_error_sys(err, errno, "%s: fork", b->what);
  }
  b->holder = pid;
  b->holder_sock = sp[0];
  char cbuf[CMSG_SPACE(sizeof(int))] = {0}, one;
  struct iovec iov = {&one, 1};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  ssize_t n = recvmsg(sp[0], &mh, MSG_CMSG_CLOEXEC);
  struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
  if (!cm || cm->cmsg_type != SCM_RIGHTS)
    return nc_error_set(err, EIO, "%s: creating the network namespace for the egress proxy failed (root needed)",
                        b->what);
  int l;
  memcpy(&l, CMSG_DATA(cm), sizeof l);
  snprintf(b->netns, sizeof b->netns, "/proc/%d/ns/net", (int)pid);
  if (nc_proxy_new(&b->px, b->p, l, NULL, err) < 0) return -EINVAL;
  nc_proxy_set_observer(b->px, nc_run_audit_net, &b->ra);
  return 0;
}

static void netns_stop(struct brun *b) {
  if (b->px) {
    struct nc_proxy_stats st;
    nc_proxy_stats(b->px, &st);
    nc_proxy_free(b->px); /* closes and reports what is left */
    b->res.net_allowed = st.allowed;
    b->res.net_denied = st.denied;
    b->res.net_failed = st.failed;
    b->res.net_bytes_out = st.bytes_out;
    b->res.net_bytes_in = st.bytes_in;
    b->px = NULL;
  }
  if (b->holder > 0) {
    close(b->holder_sock);
    kill(b->holder, SIGKILL);
    waitpid(b->holder, NULL, 0);
    b->holder = 0;
  }
}

/* Is the engine's binary on PATH? (Else its absence would look like the command's 127.) */
static bool on_path(const char *bin) {
  const char *path = getenv("PATH");
  char full[4096];
  for (const char *c = path ? path : "/usr/bin:/bin"; *c;) {
    size_t n = strcspn(c, ":");
    snprintf(full, sizeof full, "%.*s/%s", (int)n, c, bin);
    if (n && access(full, X_OK) == 0) return true;
    c += n + (c[n] == ':');
  }
  return false;
}

static int prepare_dir(struct brun *b, nc_error *err) {
  snprintf(b->dir, sizeof b->dir, "/tmp/nanoclaw-run-%.12s", b->id);
  if (mkdir(b->dir, 0700) < 0) {
    int e = errno;
    b->dir[0] = '\0';
    return nc_error_sys(err, e, "%s: creating a private directory", b->what);
  }
  return 0;
}

static void remove_dir(struct brun *b) {
  if (!b->dir[0]) return;
  char path[128];
  const char *files[] = {"seccomp.json", "bundle/config.json", "bundle/hosts", NULL};
  for (size_t i = 0; files[i]; i++) {
    snprintf(path, sizeof path, "%s/%s", b->dir, files[i]);
    unlink(path);
  }
  snprintf(path, sizeof path, "%s/bundle", b->dir);
  rmdir(path);
  rmdir(b->dir);
}

static int write_secret_file(const char *path, const char *s, nc_error *err) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return nc_error_sys(err, errno, "writing `%s`", path);
  int r = nc_write_all(fd, s, strlen(s));
  close(fd);
  return r < 0 ? nc_error_sys(err, -r, "writing `%s`", path) : 0;
}

/* podman and docker: the exported argument list, named so the deadline can kill it. */
static int engine_argv(struct brun *b, struct nc_export_opts *o, char **cmd, struct nc_strv *av, nc_error *err) {
  char sec[128];
  int r = prepare_dir(b, err);
  if (r < 0) return r;
  snprintf(sec, sizeof sec, "%s/seccomp.json", b->dir);
  nc_autofree char *j = nc_export_seccomp_json(err);
  if (!j || (r = write_secret_file(sec, j, err)) < 0) return j ? r : -EINVAL;
  o->seccomp_file = sec;
  o->name = b->name;
  if (b->p->allowed_hosts.n && (r = netns_start(b, err)) < 0) return r;
  if (b->netns[0]) o->netns = b->netns;
  if ((r = nc_export_engine_argv(b->p, o, cmd, av, err)) < 0) return r;
  /* after "run": keep stdin open, as the native runtime passes it */
  if (insert_at(av, 2, "--interactive") < 0) return nc_error_set(err, ENOMEM, "out of memory");
  if (b->kind == NC_BACKEND_PODMAN && geteuid() == 0) {
    /* podman sets RLIMIT_NPROC to 1048576 unless told a value; without CAP_SYS_RESOURCE (some
     * CI containers) that fails, so pass the limit podman itself falls back to */
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long long eff = ~0ull;
    while (f && fgets(line, sizeof line, f))
      if (!strncmp(line, "CapEff:", 7)) eff = strtoull(line + 7, NULL, 16);
    if (f) fclose(f);
    if (!(eff & (1ull << 24)) && insert_at(av, 3, "--ulimit=nproc=32768:32768") < 0)
      return nc_error_set(err, ENOMEM, "out of memory");
  }
  b->mntns = b->kind == NC_BACKEND_PODMAN;
  return 0;
}

static int runtime_argv(struct brun *b, struct nc_export_opts *o, char **cmd, struct nc_strv *av, int *lease_fd,
                        nc_error *err) {
  char bundle[128];
  uid_t base;
  int r = prepare_dir(b, err);
  if (r < 0) return r;
  if (geteuid() != 0) return nc_error_set(err, EPERM, "%s: needs root (an OCI runtime with cgroup limits)", b->what);
  if ((r = nc_uid_lease(&base, lease_fd, err)) < 0) return r; /* the same host id ranges as native runs */
  o->userns_base = base;
  if (b->p->allowed_hosts.n && (r = netns_start(b, err)) < 0) return r;
  if (b->netns[0]) o->netns = b->netns;
  snprintf(bundle, sizeof bundle, "%s/bundle", b->dir);
  if ((r = nc_export_oci_bundle(b->p, o, cmd, bundle, err)) < 0) return r;
  const char *bin = engine_bin(b);
  if (push(av, bin) < 0 || push(av, "run") < 0 || push(av, "--bundle") < 0 ||
      push(av, bundle) < 0 || push(av, b->name) < 0)
    return nc_error_set(err, ENOMEM, "out of memory");
  b->mntns = true;
  return 0;
}

/* k8s: apply, wait for the pod to start, then `kubectl logs -f` is the main child. */
static int k8s_start(struct brun *b, struct nc_export_opts *o, char **cmd, struct nc_strv *av, nc_error *err) {
  o->name = b->name;
  b->k8s_json = nc_export_k8s_json(b->p, o, cmd, true, err);
  if (!b->k8s_json) return -EINVAL;
  char *apply[] = {"kubectl", "apply", "-f", "-", NULL};
  if (run_helper(b, apply, b->k8s_json, NULL, 0) != 0)
    return nc_error_set(err, EIO, "%s: kubectl apply failed", b->what);
  char sel[80], phase[256];
  snprintf(sel, sizeof sel, "--selector=job-name=%s", b->name);
  char *get[] = {"kubectl", "get", "pods", sel, "--output=jsonpath={.items[0].status.phase}", NULL};
  uint64_t start = nc_now_ns(), limit = (b->p->timeout_ms ? b->p->timeout_ms : 300000) * 1000000ull;
  for (;;) {
    if (run_helper(b, get, NULL, phase, sizeof phase) == 0 &&
        (!strcmp(phase, "Running") || !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
      break;
    if (nc_now_ns() - start > limit) return nc_error_set(err, ETIMEDOUT, "%s: the pod did not start", b->what);
    usleep(500000);
  }
  char job[80];
  snprintf(job, sizeof job, "job/%s", b->name);
  if (push(av, "kubectl") < 0 || push(av, "logs") < 0 ||
      push(av, "--follow") < 0 || push(av, job) < 0)
    return nc_error_set(err, ENOMEM, "out of memory");
  return 0;
}

/* The pod's exit status, or 124 when activeDeadlineSeconds ended the Job. */
static int k8s_status(struct brun *b) {
  char out[256], job[80], sel[80];
  snprintf(job, sizeof job, "job/%s", b->name);
  snprintf(sel, sizeof sel, "--selector=job-name=%s", b->name);
  char *reason[] = {"kubectl", "get", job, "--output=jsonpath={.status.conditions[?(@.type==\"Failed\")].reason}",
                    NULL};
  if (run_helper(b, reason, NULL, out, sizeof out) == 0 && strstr(out, "DeadlineExceeded")) {
    b->res.timed_out = true;
    return NC_EXIT_TIMEOUT;
  }
  char *code[] = {"kubectl", "get", "pods", sel,
                  "--output=jsonpath={.items[0].status.containerStatuses[0].state.terminated.exitCode}", NULL};
  if (run_helper(b, code, NULL, out, sizeof out) == 0 && out[0] >= '0' && out[0] <= '9') return atoi(out);
  return NC_EXIT_SETUP;
}

static void cleanup(struct brun *b) {
  if (b->kind == NC_BACKEND_CRUN || b->kind == NC_BACKEND_RUNC) {
    char *av[] = {(char *)engine_bin(b), "delete", "--force", b->name, NULL};
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    int saved = dup(2);
    if (devnull >= 0) dup2(devnull, 2);
    run_helper(b, av, NULL, NULL, 0); /* nothing to delete after a normal end */
    if (saved >= 0) dup2(saved, 2), close(saved);
    if (devnull >= 0) close(devnull);
  } else if (b->kind == NC_BACKEND_K8S && b->k8s_json) {
    char *av[] = {"kubectl", "delete", "-f", "-", "--ignore-not-found", "--wait=false", NULL};
    run_helper(b, av, b->k8s_json, NULL, 0);
  }
  remove_dir(b);
}

int nc_run_backend(const struct nc_profile *p, enum nc_backend kind, char **cmd, int sigfd, nc_run_result *ret,
                   nc_error *err) {
  static const char *const what[] = {"run --backend docker", "run --backend podman", "run --backend k8s",
                                     "run --runtime crun", "run --runtime runc"};
  static const enum nc_export_target target[] = {NC_EXPORT_DOCKER, NC_EXPORT_PODMAN, NC_EXPORT_K8S, NC_EXPORT_OCI,
                                                 NC_EXPORT_OCI};
  struct brun b = {.p = p, .kind = kind, .what = what[kind]};
  struct nc_export_opts o = {.target = target[kind], .what = what[kind], .supervised = true};
  struct nc_strv av = {0};
  int lease_fd = -1, r = nc_random_id(b.id);
  memset(ret, 0, sizeof *ret);
  if (r < 0) return nc_error_sys(err, -r, "getrandom");
  snprintf(b.name, sizeof b.name, "nanoclaw-%.12s", b.id);
  memcpy(b.res.id, b.id, sizeof b.res.id);
  if ((r = nc_export_check(p, &o, cmd, err)) < 0) return r;
  if (!on_path(engine_bin(&b)))
    return nc_error_set(err, ENOENT, "%s: `%s` is not installed (not found on PATH)", b.what, engine_bin(&b));
  if ((r = nc_run_audit_open(&b.ra, p, b.id, err)) < 0) return r;
  char *none[] = {NULL};
  nc_run_audit_start(&b.ra, p, cmd ? cmd : none);
  uint64_t t0 = nc_now_ns();
  if (kind == NC_BACKEND_DOCKER || kind == NC_BACKEND_PODMAN) r = engine_argv(&b, &o, cmd, &av, err);
  else if (kind == NC_BACKEND_K8S) r = k8s_start(&b, &o, cmd, &av, err);
  else r = runtime_argv(&b, &o, cmd, &av, &lease_fd, err);
  int status = NC_EXIT_SETUP;
  if (r == 0) {
    int st = supervise(&b, av.v, sigfd, p->timeout_ms);
    if (kind == NC_BACKEND_K8S) status = k8s_status(&b);
    else status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (b.res.timed_out) status = NC_EXIT_TIMEOUT;
  }
  cleanup(&b);
  netns_stop(&b);
  if (lease_fd >= 0) close(lease_fd);
  nc_strv_free(&av);
  free(b.k8s_json);
  b.res.exit_code = status;
  b.res.wall_ms = (nc_now_ns() - t0) / 1000000;
  /* the engine was told every limit (and refuses to start without them) */
  b.res.enforced_memory = p->mem_limit > 0;
  b.res.enforced_cpu_shares = kind != NC_BACKEND_K8S;
  b.res.enforced_cpus = p->cpus_milli > 0;
  b.res.enforced_pids = p->pids_limit > 0;
  nc_error aerr = {0};
  int ar = nc_run_audit_end(&b.ra, p, &b.res, r, err, &aerr);
  *ret = b.res;
  if (r < 0) return r;
  if (ar < 0) return nc_error_set(err, aerr.code ? aerr.code : EIO, "%s", aerr.msg);
  return 0;
}
