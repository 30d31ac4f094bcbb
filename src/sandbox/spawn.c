/* spawn.c — clone3 into fresh namespaces (and the cgroup), uid/gid maps that point
 * at unprivileged host ids, and the framed parent<->child sync socket. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/util.h"
#include "sandbox/sandbox.h"

int nc_frame_send(int fd, const struct nc_frame *f) {
  ssize_t n;
  do n = send(fd, f, sizeof *f, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  return n == (ssize_t)sizeof *f ? 0 : -EIO;
}

int nc_frame_send_fds(int fd, const struct nc_frame *f, const int *fds, size_t n) {
  union {
    char buf[CMSG_SPACE(sizeof(int) * 4)];
    struct cmsghdr align;
  } u;
  if (n == 0 || n > 4) return -EINVAL;
  struct iovec iov = {.iov_base = (void *)f, .iov_len = sizeof *f};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                      .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
  memset(u.buf, 0, sizeof u.buf);
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
  memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
  ssize_t r;
  do r = sendmsg(fd, &mh, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r < 0) return -errno;
  return r == (ssize_t)sizeof *f ? 0 : -EIO;
}

int nc_frame_send_fd(int fd, const struct nc_frame *f, int passed) { return nc_frame_send_fds(fd, f, &passed, 1); }

int nc_frame_recv_fds(int fd, struct nc_frame *f, int *fds, size_t max, size_t *n_fds) {
  union {
    char buf[CMSG_SPACE(sizeof(int) * 8)];
    struct cmsghdr align;
  } u;
  struct iovec iov = {.iov_base = f, .iov_len = sizeof *f};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  *n_fds = 0;
  ssize_t n;
  do n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  /* Take every fd that came along, keep at most max. */
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      int got;
      memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof got);
      if (*n_fds < max) fds[(*n_fds)++] = got;
      else close(got);
    }
  }
  if (n == 0) return 0;
  if (n != (ssize_t)sizeof *f || (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
    for (size_t i = 0; i < *n_fds; i++) close(fds[i]);
    *n_fds = 0;
    return -EPROTO;
  }
  f->msg[sizeof f->msg - 1] = '\0';
  return 1;
}

int nc_frame_recv_fd(int fd, struct nc_frame *f, int *ret_fd) {
  int fds[1];
  size_t n = 0;
  int r = nc_frame_recv_fds(fd, f, fds, ret_fd ? 1 : 0, &n);
  if (ret_fd) *ret_fd = n ? fds[0] : -1;
  return r;
}

int nc_frame_recv(int fd, struct nc_frame *f) { return nc_frame_recv_fd(fd, f, NULL); }

#define NS_FLAGS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC)

static pid_t do_clone(struct nc_spawn_spec *spec, int *ret_pidfd, nc_error *err) {
  int pidfd = -1;
  struct clone_args args = {
      .flags = NS_FLAGS | CLONE_PIDFD,
      .pidfd = (uint64_t)(uintptr_t)&pidfd,
      .exit_signal = SIGCHLD,
  };
  if (spec->cgroup_fd >= 0) {
    /* Born in its cgroup; its cgroup namespace is rooted there. */
    args.flags |= CLONE_INTO_CGROUP | CLONE_NEWCGROUP;
    args.cgroup = (uint64_t)spec->cgroup_fd;
  }
  pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0 && (errno == ENOSYS || errno == E2BIG)) {
    if (spec->cgroup_fd >= 0)
      return nc_error_set(err, ENOSYS, "clone3 is not available: cannot place the sandbox into its cgroup at birth");
    pid = (pid_t)syscall(SYS_clone, NS_FLAGS | SIGCHLD, 0, 0, 0, 0);
    if (pid > 0) {
      pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
      if (pidfd < 0) {
        int e = errno;
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        return nc_error_sys(err, e, "pidfd_open");
      }
    }
  }
  if (pid < 0) {
    int e = errno;
    if (e == EPERM || e == ENOSPC || e == EUSERS)
      return nc_error_sys(err, e, "clone into new user, mount, pid, net, uts and ipc namespaces "
                                  "(see `nanoclaw check`; /proc/sys/user/max_user_namespaces)");
    return nc_error_sys(err, e, "clone the sandbox");
  }
  if (pid > 0) {
    int fl = fcntl(pidfd, F_GETFD);
    if (fl >= 0) fcntl(pidfd, F_SETFD, fl | FD_CLOEXEC);
  }
  *ret_pidfd = pidfd;
  return pid;
}

int nc_spawn(struct nc_spawn_spec *spec, pid_t *ret_pid, int *ret_pidfd, int *ret_sync, nc_error *err) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) return nc_error_sys(err, errno, "socketpair");
  int pidfd = -1;
  pid_t pid = do_clone(spec, &pidfd, err);
  if (pid == 0) {
    close(sp[0]);
    nc_init_main(spec, sp[1]);
  }
  close(sp[1]);
  if (pid < 0) {
    close(sp[0]);
    return (int)pid;
  }
  *ret_pid = pid;
  *ret_pidfd = pidfd;
  *ret_sync = sp[0];
  return 0;
}

static int write_proc(pid_t pid, const char *file, const char *content, nc_error *err) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  int r = nc_write_file_at(AT_FDCWD, path, content);
  if (r < 0) return nc_error_sys(err, -r, "write `%s` (\"%s\")", path, content);
  return 0;
}

int nc_spawn_release(const struct nc_spawn_spec *spec, pid_t pid, int sync_fd, nc_error *err) {
  char map[128];
  int r;
  if (spec->rootless) {
    /* One id each: the sandbox user is the caller. */
    if ((r = write_proc(pid, "setgroups", "deny", err)) < 0) return r;
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)spec->profile->uid, (unsigned)spec->caller_uid);
    if ((r = write_proc(pid, "uid_map", map, err)) < 0) return r;
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)spec->profile->gid, (unsigned)spec->caller_gid);
    if ((r = write_proc(pid, "gid_map", map, err)) < 0) return r;
  } else {
    /* Inside 0..65535 are host ids base..base+65535: never host root, and
     * no other sandbox's. */
    snprintf(map, sizeof map, "0 %u %u\n", (unsigned)spec->host_uid_base, NC_UID_RANGE);
    if ((r = write_proc(pid, "uid_map", map, err)) < 0) return r;
    if ((r = write_proc(pid, "gid_map", map, err)) < 0) return r;
  }
  struct nc_frame go = {.type = NC_FRAME_GO};
  if ((r = nc_frame_send(sync_fd, &go)) < 0) return nc_error_sys(err, -r, "release the sandbox");
  return 0;
}
