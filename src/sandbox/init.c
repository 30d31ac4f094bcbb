/* init.c — pid 1 inside the sandbox: finish setup as namespace root, start the
 * command as pid 2, reap every orphan, report the command's end to the
 * supervisor. Runs between clone and exec: no allocation, no locks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
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
  if (setresgid(0, 0, 0) < 0) failf(sync_fd, errno, "setresgid 0 in the user namespace");
  if (setresuid(0, 0, 0) < 0) failf(sync_fd, errno, "setresuid 0 in the user namespace");
  if (setgroups(0, NULL) < 0) failf(sync_fd, errno, "setgroups in the user namespace");
}

/* Start the command; returns its pid once exec succeeded. */
static pid_t start_command(const struct nc_spawn_spec *spec, int sync_fd) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) < 0) failf(sync_fd, errno, "pipe");
  /* Raw clone: libc's fork would run atfork handlers that may take locks
   * inherited from the caller's other threads. */
  pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) failf(sync_fd, errno, "fork the command");
  if (pid == 0) {
    close(pipefd[0]);
    close(sync_fd);
    nc_exec_command(spec, pipefd[1]);
  }
  close(pipefd[1]);
  int32_t msg[2];
  ssize_t n;
  do n = read(pipefd[0], msg, sizeof msg);
  while (n < 0 && errno == EINTR);
  close(pipefd[0]);
  if (n == (ssize_t)sizeof msg) {
    struct nc_frame f = {0};
    int e = msg[0];
    if (msg[1] == NC_EXIT_NOTFOUND)
      snprintf(f.msg, sizeof f.msg, "`%s`: command not found in the sandbox", spec->argv[0]);
    else if (msg[1] == NC_EXIT_NOEXEC)
      snprintf(f.msg, sizeof f.msg, "`%s`: cannot execute: %s", spec->argv[0], strerror(e));
    else
      snprintf(f.msg, sizeof f.msg, "preparing `%s` for exec: %s", spec->argv[0], strerror(e));
    /* reap it so the status we report is the one it exited with */
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    fail(sync_fd, &f, e, msg[1]);
  }
  return pid;
}

static void __attribute__((noreturn)) supervise(int sync_fd, int sfd, pid_t cmd) {
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
        if (w == cmd) {
          /* The command's end is the sandbox's end: leaving kills the rest
           * of the pid namespace. */
          struct nc_frame f = {.type = NC_FRAME_EXIT, .status = st};
          nc_frame_send(sync_fd, &f);
          _exit(0);
        }
      }
    }
    if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      struct nc_frame f;
      int r = nc_frame_recv(sync_fd, &f);
      if (r <= 0) _exit(NC_EXIT_SETUP); /* the supervisor is gone: so are we */
      if (f.type == NC_FRAME_SIGNAL && f.code > 0 && f.code < NSIG && kill(-cmd, f.code) < 0) kill(cmd, f.code);
    }
  }
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

  pid_t cmd = start_command(spec, sync_fd);
  struct nc_frame started = {.type = NC_FRAME_STARTED, .status = cmd};
  nc_frame_send(sync_fd, &started);

  /* Keep only the sync socket and the signalfd; drop stdio and every
   * detached mount fd of the plan. */
  int lo = sync_fd < sfd ? sync_fd : sfd, hi = sync_fd < sfd ? sfd : sync_fd;
  if (lo > 0) syscall(SYS_close_range, 0, (unsigned)lo - 1, 0);
  if (hi > lo + 1) syscall(SYS_close_range, (unsigned)lo + 1, (unsigned)hi - 1, 0);
  syscall(SYS_close_range, (unsigned)hi + 1, ~0U, 0);
  supervise(sync_fd, sfd, cmd);
}
