/* init.c — pid 1 inside the sandbox: finish setup as namespace root, start the
 * command as pid 2, reap every orphan, report the command's end to the
 * supervisor. Runs between clone and exec: no allocation, no locks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/util.h"
#include "sandbox/sandbox.h"

static void __attribute__((noreturn)) fail(int sync_fd, struct nc_frame *f, int e, int status) {
  f->type = NC_FRAME_ERROR;
  f->code = e;
  f->status = status;
  nc_frame_send(sync_fd, f);
  _exit(status);
}

static void __attribute__((noreturn)) failf(int sync_fd, int e, const char *what) {
  struct nc_frame f = {0};
  snprintf(f.msg, sizeof f.msg, "%s: %s", what, strerror(e));
  fail(sync_fd, &f, e, NC_EXIT_SETUP);
}

/* The only interface of a fresh network namespace: bring it up. */
static int loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -errno;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  int r = 0;
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) r = -errno;
  else {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) r = -errno;
  }
  close(s);
  return r;
}

/* The egress proxy's listening socket lives here, in the sandbox's network
 * namespace; the supervisor serves it from the host side. */
static void proxy_listen(const struct nc_spawn_spec *spec, int sync_fd) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) failf(sync_fd, errno, "egress proxy: socket");
  int one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(spec->proxy_port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) failf(sync_fd, errno, "egress proxy: SO_REUSEADDR");
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) failf(sync_fd, errno, "egress proxy: bind 127.0.0.1");
  if (listen(s, 256) < 0) failf(sync_fd, errno, "egress proxy: listen");
  struct nc_frame f = {.type = NC_FRAME_PROXY};
  int r = nc_frame_send_fd(sync_fd, &f, s);
  if (r < 0) failf(sync_fd, -r, "egress proxy: pass the listening socket");
  close(s);
}

static void become_ns_root(const struct nc_spawn_spec *spec, int sync_fd) {
  if (spec->rootless) return; /* already the sandbox user, with caps in the userns */
  /* raw syscalls: see nc_exec_command */
  if (syscall(SYS_setresgid, 0, 0, 0) < 0) failf(sync_fd, errno, "setresgid 0 in the user namespace");
  if (syscall(SYS_setresuid, 0, 0, 0) < 0) failf(sync_fd, errno, "setresuid 0 in the user namespace");
  if (syscall(SYS_setgroups, 0, NULL) < 0) failf(sync_fd, errno, "setgroups in the user namespace");
}

#if defined(__SANITIZE_ADDRESS__)
#define NC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NC_ASAN 1
#endif
#endif
#ifndef NC_ASAN
#define NC_ASAN 0
#endif

struct child_args {
  const struct nc_spawn_spec *spec;
  int report_fd;
};
#if !NC_ASAN
static char child_stack[256 * 1024] __attribute__((aligned(16)));
#endif

static int __attribute__((noreturn)) command_child(void *arg) {
  const struct child_args *ca = arg;
  nc_exec_command(ca->spec, ca->report_fd);
}

/* Fork the command of spec; its pid once exec succeeded, or -1 with *fail
 * filled (msg, code = errno, status = 125/126/127). */
static pid_t spawn_command(const struct nc_spawn_spec *spec, struct nc_frame *fail_frame) {
  int pipefd[2];
  memset(fail_frame, 0, sizeof *fail_frame);
  if (pipe2(pipefd, O_CLOEXEC) < 0) {
    fail_frame->code = errno;
    fail_frame->status = NC_EXIT_SETUP;
    snprintf(fail_frame->msg, sizeof fail_frame->msg, "pipe: %s", strerror(errno));
    return -1;
  }
  /* posix_spawn's way: the child shares our memory (no page tables to copy
   * from the supervisor-sized address space init inherited) and we wait
   * until it has exec'd or died. It runs on its own stack, writes only its
   * own stack and fds, and ends in execve or _exit. No libc fork: its
   * atfork handlers could take locks inherited from the caller's threads. */
  struct child_args ca = {spec, pipefd[1]};
#if NC_ASAN
  /* AddressSanitizer cannot follow a switch to our own stack: fork instead */
  pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) command_child(&ca);
#else
  pid_t pid = clone(command_child, child_stack + sizeof child_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &ca);
#endif
  if (pid < 0) {
    fail_frame->code = errno;
    fail_frame->status = NC_EXIT_SETUP;
    snprintf(fail_frame->msg, sizeof fail_frame->msg, "fork the command: %s", strerror(errno));
    close(pipefd[0]);
    close(pipefd[1]);
    return -1;
  }
  close(pipefd[1]);
  int32_t msg[2];
  ssize_t n;
  do n = read(pipefd[0], msg, sizeof msg);
  while (n < 0 && errno == EINTR);
  close(pipefd[0]);
  if (n != (ssize_t)sizeof msg) return pid;
  int e = msg[0];
  fail_frame->code = e;
  fail_frame->status = msg[1];
  if (msg[1] == NC_EXIT_NOTFOUND)
    snprintf(fail_frame->msg, sizeof fail_frame->msg, "`%s`: command not found in the sandbox", spec->argv[0]);
  else if (msg[1] == NC_EXIT_NOEXEC)
    snprintf(fail_frame->msg, sizeof fail_frame->msg, "`%s`: cannot execute: %s", spec->argv[0], strerror(e));
  else
    snprintf(fail_frame->msg, sizeof fail_frame->msg, "preparing `%s` for exec: %s", spec->argv[0], strerror(e));
  /* reap it so the status reported is the one it exited with */
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  return -1;
}

/* Start the command; returns its pid once exec succeeded. */
static pid_t start_command(const struct nc_spawn_spec *spec, int sync_fd) {
  struct nc_frame f;
  pid_t pid = spawn_command(spec, &f);
  if (pid < 0) fail(sync_fd, &f, f.code, f.status);
  return pid;
}

/* ---- sessions: commands on request ----
 * Static buffers: init runs between clone and exec of a possibly
 * multi-threaded caller and must not allocate. */
#define SESSION_SLOTS 64
static char exec_argv_buf[NC_EXEC_ARGV_MAX + 1];
static char *exec_argv[NC_EXEC_ARGC_MAX + 1];
static pid_t slot_pid[SESSION_SLOTS];
static int32_t slot_id[SESSION_SLOTS];

static void session_exec(const struct nc_spawn_spec *spec, int sync_fd, const struct nc_frame *req, int fds[3]) {
  struct nc_frame f = {0};
  bool ok = false;
  ssize_t n;
  do n = recv(sync_fd, exec_argv_buf, NC_EXEC_ARGV_MAX, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) _exit(NC_EXIT_SETUP); /* the supervisor is gone or broke the protocol */
  exec_argv_buf[n] = '\0';
  size_t argc = 0;
  for (ssize_t i = 0; i < n && argc < NC_EXEC_ARGC_MAX; argc++) {
    exec_argv[argc] = exec_argv_buf + i;
    i += (ssize_t)strlen(exec_argv_buf + i) + 1;
  }
  exec_argv[argc] = NULL;
  int slot = -1;
  for (int i = 0; i < SESSION_SLOTS && slot < 0; i++)
    if (slot_pid[i] == 0) slot = i;
  if (argc == 0 || (int32_t)argc != req->status || !exec_argv[0][0]) {
    snprintf(f.msg, sizeof f.msg, "exec request: bad argv");
  } else if (slot < 0) {
    snprintf(f.msg, sizeof f.msg, "exec request: %d commands already running", SESSION_SLOTS);
  } else {
    /* the child's stdio, moved out of 0..2's way first so that installing one cannot clobber another */
    struct nc_spawn_spec cs = *spec;
    cs.argv = exec_argv;
    for (int i = 0; i < 3; i++) cs.stdio[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 16);
    if (cs.stdio[0] < 0 || cs.stdio[1] < 0 || cs.stdio[2] < 0) {
      snprintf(f.msg, sizeof f.msg, "exec request: dup: %s", strerror(errno));
    } else {
      pid_t pid = spawn_command(&cs, &f);
      if (pid > 0) {
        slot_pid[slot] = pid;
        slot_id[slot] = req->code;
        ok = true;
      }
    }
    for (int i = 0; i < 3; i++)
      if (cs.stdio[i] >= 0) close(cs.stdio[i]);
  }
  if (ok) return;
  f.type = NC_FRAME_EXEC_ERROR;
  f.code = req->code; /* the exec id; the errno is in the message */
  if (!f.status) f.status = NC_EXIT_SETUP;
  nc_frame_send(sync_fd, &f);
}

/* Signal one command (run: the command; session: exec id `id`) and its process group. */
static void signal_command(const struct nc_spawn_spec *spec, pid_t cmd, int32_t id, int sig) {
  for (int i = 0; i < (spec->session ? SESSION_SLOTS : 1); i++) {
    pid_t pid = spec->session ? (slot_id[i] == id ? slot_pid[i] : 0) : cmd;
    if (pid > 0 && kill(-pid, sig) < 0) kill(pid, sig);
  }
}

/* pid 1's life after setup: reap every child, report the command's end (run:
 * then leave, which kills the rest of the pid namespace) or each exec's end
 * (session), and take frames from the supervisor. */
static void __attribute__((noreturn)) pid1_loop(const struct nc_spawn_spec *spec, int sync_fd, int sfd, pid_t cmd) {
  struct pollfd pfd[2] = {{.fd = sync_fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
  for (;;) {
    if (poll(pfd, 2, -1) < 0) {
      if (errno == EINTR) continue;
      _exit(NC_EXIT_SETUP);
    }
    if (pfd[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      (void)!read(sfd, &si, sizeof si);
      for (;;) {
        int st;
        pid_t w = waitpid(-1, &st, WNOHANG);
        if (w <= 0) break;
        if (!spec->session && w == cmd) {
          struct nc_frame f = {.type = NC_FRAME_EXIT, .status = st};
          nc_frame_send(sync_fd, &f);
          _exit(0);
        }
        for (int i = 0; spec->session && i < SESSION_SLOTS; i++) {
          if (slot_pid[i] != w) continue;
          struct nc_frame f = {.type = NC_FRAME_EXIT, .code = slot_id[i], .status = st};
          nc_frame_send(sync_fd, &f);
          slot_pid[i] = 0;
        }
      }
    }
    if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      struct nc_frame f;
      int fds[3];
      size_t nfds = 0;
      int r = nc_frame_recv_fds(sync_fd, &f, fds, spec->session ? 3 : 0, &nfds);
      if (r <= 0) _exit(NC_EXIT_SETUP); /* the supervisor is gone: so are we */
      if (spec->session && f.type == NC_FRAME_EXEC && f.code > 0 && nfds == 3)
        session_exec(spec, sync_fd, &f, fds);
      else if (f.type == NC_FRAME_EXEC)
        _exit(NC_EXIT_SETUP); /* an exec without its fds or argv message would desync the protocol */
      else if (f.type == NC_FRAME_SIGNAL && f.code > 0 && f.code < NSIG)
        signal_command(spec, cmd, f.status, f.code);
      for (size_t i = 0; i < nfds; i++) close(fds[i]);
    }
  }
}

/* pid 1 is a copy of the supervisor without an exec: its argv and environ
 * strings (a prompt, an API key in OPENAI_API_KEY...) would stay in its
 * memory for the sandbox's whole life. Zero them: /proc/1/cmdline and
 * /proc/1/environ read exactly these bytes. The kernel tells us where they
 * are (fields 48-51 of /proc/self/stat, read through the sandbox's own
 * fresh /proc: /proc/self is this process there too). */
static void scrub_args_and_env(void) {
  char buf[2048];
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* comm may contain spaces and parens */
  if (!p) return;
  unsigned long v[52] = {0};
  int field = 2; /* p points at the end of field 2 */
  for (char *t = p + 1; *t && field < 51;) {
    while (*t == ' ') t++;
    field++;
    char *end = t;
    if (field == 3) { /* the state letter */
      while (*end && *end != ' ') end++;
    } else {
      v[field] = strtoul(t, &end, 10);
      if (end == t) return;
    }
    t = end;
  }
  if (field < 51) return;
  for (int i = 48; i <= 50; i += 2)
    if (v[i] && v[i + 1] > v[i] && v[i + 1] - v[i] < (64ul << 20)) memset((void *)v[i], 0, v[i + 1] - v[i]);
  extern char **environ;
  environ = NULL;
}

void nc_init_main(const struct nc_spawn_spec *spec, int sync_fd) {
  /* If the supervisor dies, so does the sandbox (the frame wait below
   * catches a death before this line). */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) _exit(NC_EXIT_SETUP);
  struct nc_frame go;
  if (nc_frame_recv(sync_fd, &go) <= 0 || go.type != NC_FRAME_GO) _exit(NC_EXIT_SETUP);

  become_ns_root(spec, sync_fd);
  if (spec->cgroup_fd < 0 && unshare(CLONE_NEWCGROUP) < 0) failf(sync_fd, errno, "unshare the cgroup namespace");
  const char *hn = spec->profile->hostname;
  if (sethostname(hn, strlen(hn)) < 0) failf(sync_fd, errno, "sethostname");
  int r = loopback_up();
  if (r < 0) failf(sync_fd, -r, "bring up lo in the sandbox's network namespace");
  if (spec->proxy_port) proxy_listen(spec, sync_fd);
  struct nc_frame f = {0};
  if ((r = nc_rootfs_enter(&spec->rootfs, &f)) < 0) fail(sync_fd, &f, -r, NC_EXIT_SETUP);

  /* Nothing the command does can read or trace us: not dumpable, all
   * signals blocked (pid 1 ignores what it does not handle), SIGCHLD via fd. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) failf(sync_fd, errno, "prctl PR_SET_DUMPABLE");
  sigset_t all, chld;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC);
  if (sfd < 0) failf(sync_fd, errno, "signalfd");

  pid_t cmd = spec->session ? 0 : start_command(spec, sync_fd);
  scrub_args_and_env(); /* the command (run mode) borrowed argv until its exec */
  struct nc_frame started = {.type = NC_FRAME_STARTED, .status = cmd};
  nc_frame_send(sync_fd, &started);

  /* Keep only the sync socket and the signalfd; drop stdio and every
   * detached mount fd of the plan. */
  int lo = sync_fd < sfd ? sync_fd : sfd, hi = sync_fd < sfd ? sfd : sync_fd;
  if (lo > 0) syscall(SYS_close_range, 0, (unsigned)lo - 1, 0);
  if (hi > lo + 1) syscall(SYS_close_range, (unsigned)lo + 1, (unsigned)hi - 1, 0);
  syscall(SYS_close_range, (unsigned)hi + 1, ~0U, 0);
  pid1_loop(spec, sync_fd, sfd, cmd);
}
