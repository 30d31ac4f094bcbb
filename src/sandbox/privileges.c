/* privileges.c — the command's last steps before exec: session, rlimits, cwd, fd
 * hygiene, every capability set emptied, no_new_privs, seccomp last; and the
 * lease of an unprivileged host uid range for each sandbox. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <linux/securebits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/error.h"
#include "core/util.h"
#include "sandbox/sandbox.h"

/* Report errno to init through the exec pipe and leave. 126: found but not
 * runnable; 127: not found; 125: our own setup failed. */
static void __attribute__((noreturn)) die_with(int report_fd, int e, int status) {
  int32_t msg[2] = {e, status};
  (void)!write(report_fd, msg, sizeof msg);
  _exit(status);
}

static int drop_capabilities(bool rootless) {
  /* Bounding set first (needs CAP_SETPCAP, which we still hold in the userns). */
  for (int c = 0; c <= 63; c++)
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) return -errno;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return -errno;
  /* Root inside gains nothing from exec, and the choice is locked. */
  if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                                   SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED | SECBIT_KEEP_CAPS_LOCKED, 0, 0, 0) < 0)
    return -errno;
  if (!rootless && syscall(SYS_setgroups, 0, NULL) < 0) return -errno;
  return 0;
}

static int clear_all_caps(void) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  if (syscall(SYS_capset, &h, d) < 0) return -errno;
  /* Check what the kernel says, not what we asked for. */
  memset(d, 0xff, sizeof d);
  if (syscall(SYS_capget, &h, d) < 0) return -errno;
  for (int i = 0; i < 2; i++)
    if (d[i].effective || d[i].permitted || d[i].inheritable) return -EPERM;
  return 0;
}

static int set_rlimits(void) {
  struct rlimit core = {0, 0};
  if (setrlimit(RLIMIT_CORE, &core) < 0) return -errno;
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) < 0) return -errno;
  rlim_t bound = 1024;
  if (nofile.rlim_max > bound || nofile.rlim_max == RLIM_INFINITY) nofile.rlim_max = bound;
  if (nofile.rlim_cur > nofile.rlim_max) nofile.rlim_cur = nofile.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &nofile) < 0) return -errno;
  return 0;
}

/* CVE-2024-21626: the cwd comes from a fresh lookup inside the new root, never
 * from a leaked directory fd. */
static int enter_workdir(const char *workdir) {
  struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                         .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  int fd = (int)syscall(SYS_openat2, AT_FDCWD, workdir, &how, sizeof how);
  if (fd < 0 && errno == ENOSYS) fd = open(workdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int r = fchdir(fd) < 0 ? -errno : 0;
  close(fd);
  return r;
}

static int install_stdio(const int stdio[3]) {
  for (int i = 0; i < 3; i++) {
    if (stdio[i] < 0 || stdio[i] == i) continue;
    if (dup2(stdio[i], i) < 0) return -errno;
  }
  return 0;
}

/* Only fds 0, 1, 2 survive (and the CLOEXEC report pipe until exec). */
static void close_other_fds(int keep) {
  if (keep > 3) syscall(SYS_close_range, 3, (unsigned)keep - 1, 0);
  syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0);
}

static void exec_in_path(const struct nc_spawn_spec *spec, int report_fd) {
  const char *cmd = spec->argv[0];
  if (strchr(cmd, '/')) {
    execve(cmd, spec->argv, spec->envp);
    die_with(report_fd, errno, errno == ENOENT ? NC_EXIT_NOTFOUND : NC_EXIT_NOEXEC);
  }
  int seen = ENOENT;
  char path[NC_MAX_PATH];
  for (char **d = spec->path_dirs; d && *d; d++) {
    int n = snprintf(path, sizeof path, "%s/%s", *d, cmd);
    if (n < 0 || (size_t)n >= sizeof path) continue;
    execve(path, spec->argv, spec->envp);
    if (errno == EACCES) seen = EACCES;
    else if (errno != ENOENT && errno != ENOTDIR) {
      seen = errno;
      break;
    }
  }
  die_with(report_fd, seen, seen == ENOENT ? NC_EXIT_NOTFOUND : NC_EXIT_NOEXEC);
}

void nc_exec_command(const struct nc_spawn_spec *spec, int report_fd) {
  const struct nc_profile *p = spec->profile;
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
  /* A new session: no controlling terminal to inject keystrokes into. */
  if (setsid() < 0) die_with(report_fd, errno, NC_EXIT_SETUP);
  int r;
  if ((r = install_stdio(spec->stdio)) < 0) die_with(report_fd, -r, NC_EXIT_SETUP);
  if ((r = set_rlimits()) < 0) die_with(report_fd, -r, NC_EXIT_SETUP);
  if ((r = enter_workdir(p->workdir)) < 0) die_with(report_fd, -r, NC_EXIT_SETUP);
  if ((r = drop_capabilities(spec->rootless)) < 0) die_with(report_fd, -r, NC_EXIT_SETUP);
  /* Raw syscalls: glibc's wrappers broadcast the change to every thread in
   * its thread list, which here is memory shared with (or copied from) a
   * process that may have had threads. This process has one. */
  if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) < 0) die_with(report_fd, errno, NC_EXIT_SETUP);
  if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) < 0) die_with(report_fd, errno, NC_EXIT_SETUP);
  if ((r = clear_all_caps()) < 0) die_with(report_fd, -r, NC_EXIT_SETUP);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die_with(report_fd, errno, NC_EXIT_SETUP);
  close_other_fds(report_fd);
  /* seccomp last: everything above needed syscalls the filter refuses. */
  if ((r = nc_seccomp_load(spec->filter)) < 0) die_with(report_fd, -r, NC_EXIT_SETUP);
  exec_in_path(spec, report_fd);
  _exit(NC_EXIT_SETUP);
}

/* A lease on one of NC_UID_SLOTS host uid ranges: an abstract unix socket
 * name is the lock; the kernel frees it when the holder dies, so a crash
 * leaves nothing to clean up. */
int nc_uid_lease(uid_t *ret_base, int *ret_lock_fd, nc_error *err) {
  char id[33];
  int r = nc_random_id(id);
  if (r < 0) return nc_error_sys(err, -r, "getrandom");
  unsigned start = (unsigned)strtoul(id + 24, NULL, 16) % NC_UID_SLOTS;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nc_error_sys(err, errno, "socket for the uid lease");
  for (unsigned i = 0; i < NC_UID_SLOTS; i++) {
    unsigned slot = (start + i) % NC_UID_SLOTS;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "nanoclaw/uid-slot/%u", slot);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    if (bind(fd, (struct sockaddr *)&sa, len) == 0) {
      *ret_base = (uid_t)(NC_UID_BASE + slot * NC_UID_RANGE);
      *ret_lock_fd = fd;
      return 0;
    }
    if (errno != EADDRINUSE) {
      int e = errno;
      close(fd);
      return nc_error_sys(err, e, "bind the uid lease socket");
    }
  }
  close(fd);
  return nc_error_set(err, EAGAIN, "all %u host uid ranges are in use by other sandboxes", NC_UID_SLOTS);
}
