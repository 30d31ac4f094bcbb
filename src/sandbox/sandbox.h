/* sandbox.h — the native runtime's internal interface: a spawn spec prepared by the
 * parent (everything allocated before clone), the child's setup steps, and the
 * parent<->child frame protocol. */
#ifndef NC_SANDBOX_SANDBOX_H
#define NC_SANDBOX_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/profile.h"
#include "sandbox/seccomp.h"

/* ---- frames over the SOCK_SEQPACKET sync socket (fixed size) ---- */
enum nc_frame_type {
  NC_FRAME_GO = 1,   /* parent -> child: maps written, cgroup joined */
  NC_FRAME_ERROR,    /* child -> parent: setup failed (code = errno, msg) */
  NC_FRAME_STARTED,  /* child -> parent: the command was exec'd (status = its pid inside) */
  NC_FRAME_EXIT,     /* child -> parent: the command ended (status = wait status) */
  NC_FRAME_SIGNAL,   /* parent -> child: forward signal `code` to the command */
  NC_FRAME_PROXY,    /* child -> parent: the proxy's listening socket (SCM_RIGHTS) */
  /* sessions (code = exec id, > 0) */
  NC_FRAME_EXEC,      /* parent -> child: run a command; fds stdin, stdout, stderr (SCM_RIGHTS);
                         status = argc; the next message is argv, NUL-separated */
  NC_FRAME_EXEC_ERROR,/* child -> parent: it could not start (status = 126/127, msg) */
  /* NC_FRAME_EXIT with code = exec id: it ended; NC_FRAME_SIGNAL with
   * status = exec id: signal `code` to that command's process group */
};

#define NC_EXEC_ARGV_MAX (256 * 1024) /* bytes of one exec's argv message */
#define NC_EXEC_ARGC_MAX 4096

struct nc_frame {
  uint32_t type;
  int32_t code;   /* errno for ERROR (positive), signal for SIGNAL */
  int32_t status; /* wait status for EXIT; exit code hint for ERROR (125/126/127) */
  char msg[480];
};

/* ---- the root filesystem plan: steps run by the child in order ---- */
enum nc_step_kind {
  NC_STEP_TREE,     /* move detached mount `fd` onto dst (a dir or file made safely) */
  NC_STEP_SYMLINK,  /* symlink dst -> data */
  NC_STEP_FILE,     /* create file dst with content data (mode 0644) */
  NC_STEP_DIR,      /* create directory dst (mode 0755) */
  NC_STEP_TMPFS,    /* mount tmpfs on dst with options data */
  NC_STEP_PROC,     /* mount a fresh procfs on dst */
  NC_STEP_DEVPTS,   /* mount a private devpts instance on dst */
  NC_STEP_READONLY, /* make the mount at dst read-only (after everything under it exists) */
};

struct nc_step {
  enum nc_step_kind kind;
  const char *dst;   /* absolute path inside the sandbox */
  const char *data;  /* symlink target, file content, or fs options */
  int fd;            /* NC_STEP_TREE: detached tree (open_tree CLONE), owned by the plan */
  bool dir;          /* NC_STEP_TREE: the mount point is a directory */
};

struct nc_rootfs_plan {
  struct nc_step *steps;
  size_t n, cap;
  /* strings owned by the plan (freed with it) */
  char **strings;
  size_t n_strings, cap_strings;
  /* fds held for the life of the plan: a store image's layer locks */
  int *held;
  size_t n_held;
};

/* ---- the spawn spec ---- */
struct nc_spawn_spec {
  const struct nc_profile *profile;
  struct nc_rootfs_plan rootfs;
  const struct nc_seccomp_filter *filter;
  /* the command, resolved in the parent */
  char **argv;     /* NULL-terminated, borrowed */
  char **envp;     /* NULL-terminated, owned */
  char **path_dirs;/* PATH entries for the lookup inside, owned */
  /* identity */
  bool rootless;
  uid_t host_uid_base; /* root mode: inside [0, NC_UID_RANGE) -> [base, base+range) */
  uid_t caller_uid;
  gid_t caller_gid;
  bool pts;            /* a terminal is attached: give a private devpts */
  int cgroup_fd;       /* v2 leaf for CLONE_INTO_CGROUP, or -1 */
  int stdio[3];        /* fds to become the command's 0,1,2 (-1: inherit as is) */
  uint16_t proxy_port; /* >0: init listens on 127.0.0.1:proxy_port and passes the socket up */
  bool session;        /* no command: init waits for NC_FRAME_EXEC */
};

#define NC_UID_RANGE 65536u
#define NC_UID_BASE 0x80000000u /* 2^31: far above any distro's users and subuid ranges */
#define NC_UID_SLOTS 4096u

/* rootfs.c: build the plan in the parent (opens every host source). */
int nc_rootfs_plan_build(struct nc_rootfs_plan *plan, const struct nc_profile *p, bool pts, nc_error *err);
void nc_rootfs_plan_free(struct nc_rootfs_plan *plan);
/* rootfs.c (child): build the root under `staging`, pivot into it, mask /proc,
 * make it read-only. On failure fills frame->msg and returns -errno. */
int nc_rootfs_enter(const struct nc_rootfs_plan *plan, struct nc_frame *fail);

/* privileges.c (child, after fork of the command): drop every privilege and exec. */
void nc_exec_command(const struct nc_spawn_spec *spec, int report_fd) __attribute__((noreturn));
/* privileges.c: the host uid range lease (root mode). */
int nc_uid_lease(uid_t *ret_base, int *ret_lock_fd, nc_error *err);

/* init.c (child): pid 1 — start the command, reap, report. Never returns. */
void nc_init_main(const struct nc_spawn_spec *spec, int sync_fd) __attribute__((noreturn));

/* spawn.c (parent): clone the sandbox. On success *ret_pidfd and *ret_sync
 * are owned by the caller; the child is blocked until nc_spawn_release. */
int nc_spawn(struct nc_spawn_spec *spec, pid_t *ret_pid, int *ret_pidfd, int *ret_sync, nc_error *err);
/* write uid/gid maps and let the child go. */
int nc_spawn_release(const struct nc_spawn_spec *spec, pid_t pid, int sync_fd, nc_error *err);

int nc_frame_send(int fd, const struct nc_frame *f);
/* A frame carrying one fd. */
int nc_frame_send_fd(int fd, const struct nc_frame *f, int passed);
/* 1 on a frame, 0 on EOF, -errno on error. A passed fd lands in *ret_fd
 * (close-on-exec) when ret_fd is given, else it is closed; *ret_fd is -1
 * when the frame carried none. */
int nc_frame_recv(int fd, struct nc_frame *f);
int nc_frame_recv_fd(int fd, struct nc_frame *f, int *ret_fd);
/* Up to max fds; *n_fds says how many came (the rest are closed). */
int nc_frame_send_fds(int fd, const struct nc_frame *f, const int *fds, size_t n);
int nc_frame_recv_fds(int fd, struct nc_frame *f, int *fds, size_t max, size_t *n_fds);

#endif
