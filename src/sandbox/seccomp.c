/* seccomp.c — the sandbox's syscall filter: the x86_64 policy as data, compiled once
 * with libseccomp into classic BPF, cached per process, loaded in the child. */
#include "sandbox/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/error.h"
#include "core/util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/*
 * Policy (x86_64 only), in the spirit of Docker's default profile:
 *   - syscalls libseccomp does not know (newer than our list): ENOSYS, so libc
 *     falls back to an older call;
 *   - clone3: ENOSYS (its flags sit behind a pointer we cannot inspect);
 *   - every syscall libseccomp knows that is not allowed below: EPERM;
 *   - clone, personality, ioctl, socket: allowed or EPERM by argument;
 *   - any other ABI (i386 `int 0x80`, x32 nr|0x40000000): the process is killed.
 * Argument tests mask to the 32 bits the kernel reads for int arguments, so a
 * value with high bits set is judged as the kernel will see it.
 */

/* Allowed without conditions. Names this libseccomp does not know are skipped
 * (they then get ENOSYS, as every unknown syscall does). */
static const char *const allowed_names[] = {
    /* file I/O */
    "read", "write", "open", "openat", "openat2", "close", "close_range", "creat", "lseek",
    "pread64", "pwrite64", "readv", "writev", "preadv", "pwritev", "preadv2", "pwritev2",
    "sendfile", "copy_file_range", "splice", "tee", "vmsplice", "readahead", "fadvise64",
    "fallocate", "truncate", "ftruncate", "fsync", "fdatasync", "sync", "syncfs",
    "sync_file_range", "flock", "fcntl", "dup", "dup2", "dup3", "pipe", "pipe2", "cachestat",
    /* metadata, directories */
    "stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access",
    "faccessat", "faccessat2", "getdents", "getdents64", "getcwd", "chdir", "fchdir",
    "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "link", "linkat",
    "unlink", "unlinkat", "symlink", "symlinkat", "readlink", "readlinkat", "mknod",
    "mknodat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown",
    "fchownat", "umask", "utime", "utimes", "utimensat", "futimesat", "setxattr",
    "lsetxattr", "fsetxattr", "getxattr", "lgetxattr", "fgetxattr", "listxattr",
    "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr",
    "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
    "fanotify_mark",
    /* memory */
    "brk", "mmap", "munmap", "mremap", "mprotect", "msync", "mincore", "madvise", "mlock",
    "mlock2", "munlock", "mlockall", "munlockall", "remap_file_pages", "membarrier",
    "memfd_create", "memfd_secret", "pkey_mprotect", "pkey_alloc", "pkey_free",
    "map_shadow_stack",
    /* processes, threads */
    "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "kill",
    "tkill", "tgkill", "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp",
    "getsid", "setsid", "set_tid_address", "set_robust_list", "get_robust_list", "rseq",
    "futex", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue", "arch_prctl",
    "modify_ldt", "get_thread_area", "set_thread_area", "prctl", "seccomp", "pidfd_open",
    "pidfd_send_signal", "process_mrelease", "restart_syscall", "getcpu",
    "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
    /* credentials (the kernel still checks capabilities, which are gone) */
    "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "setfsuid", "setfsgid", "capget", "capset",
    /* scheduling, limits, accounting reads */
    "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr",
    "sched_setattr", "sched_getparam", "sched_setparam", "sched_getscheduler",
    "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
    "sched_rr_get_interval", "getpriority", "setpriority", "ioprio_get", "ioprio_set",
    "getrlimit", "setrlimit", "prlimit64", "getrusage", "times", "sysinfo", "uname",
    /* signals */
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
    "rt_sigqueueinfo", "rt_tgsigqueueinfo", "rt_sigsuspend", "sigaltstack", "signalfd",
    "signalfd4", "pause",
    /* time (reads and timers; setting the clock is denied) */
    "time", "gettimeofday", "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
    "alarm", "getitimer", "setitimer", "timer_create", "timer_settime", "timer_gettime",
    "timer_getoverrun", "timer_delete", "timerfd_create", "timerfd_settime",
    "timerfd_gettime",
    /* polling, events */
    "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl_old", "epoll_wait_old",
    "eventfd", "eventfd2",
    /* sockets (socket itself is conditional, below) */
    "socketpair", "bind", "connect", "listen", "accept", "accept4", "getsockname",
    "getpeername", "getsockopt", "setsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg",
    "sendmmsg", "recvmmsg", "shutdown",
    /* System V IPC, POSIX mqueues, AIO (all namespaced or per-process) */
    "shmget", "shmat", "shmctl", "shmdt", "semget", "semop", "semctl", "semtimedop",
    "msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend",
    "mq_timedreceive", "mq_notify", "mq_getsetattr", "io_setup", "io_destroy",
    "io_getevents", "io_pgetevents", "io_submit", "io_cancel",
    /* randomness */
    "getrandom",
};

/* Must never be allowed; checked against allowed_names when the filter is built,
 * so an edit that allows one of these fails loudly. Each gets EPERM through the
 * "known but not allowed" sweep. */
static const char *const denied_names[] = {
    /* namespaces and mounts: the way out of the sandbox's view */
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig",
    "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
    /* other processes' memory */
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd",
    "kcmp",
    /* kernel keyring, eBPF, perf, userfaultfd (race amplifier), io_uring */
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    /* CVE-2014-3519 ("shocker"): file handles reach outside the bind mounts */
    "open_by_handle_at", "name_to_handle_at",
    /* kernel, modules, machine */
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "acct", "settimeofday", "clock_settime",
    "clock_adjtime", "adjtimex", "syslog", "quotactl", "quotactl_fd", "lookup_dcookie",
    "nfsservctl", "vhangup", "iopl", "ioperm", "uselib", "ustat", "sysfs", "_sysctl",
    "fanotify_init", "sethostname", "setdomainname",
    /* NUMA policy (Docker denies these without CAP_SYS_NICE) */
    "mbind", "set_mempolicy", "get_mempolicy", "set_mempolicy_home_node", "migrate_pages",
    "move_pages",
};

#define NS_CLONE_FLAGS                                                                  \
  ((uint64_t)(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | \
              CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME))

/* personality values Docker allows: PER_LINUX, PER_LINUX32, UNAME26,
 * PER_LINUX32|UNAME26, and 0xffffffff (query). */
static const uint32_t personality_ok[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};
/* CVE-2017-5226 and friends: TIOCSTI pushes keystrokes into the controlling
 * terminal outside the sandbox; TIOCLINUX can do the same on a VT. */
static const uint32_t ioctl_denied[] = {0x5412 /* TIOCSTI */, 0x541C /* TIOCLINUX */};
static const uint32_t socket_families_ok[] = {AF_UNIX, AF_INET, AF_INET6};
/* AF_INET/AF_INET6 types allowed. Not SOCK_RAW (forged packets), and not
 * SOCK_PACKET, which the kernel silently turns into an AF_PACKET socket. */
static const uint32_t inet_types_ok[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};

#define U32 0xffffffffULL
#define NC_MAX_SYSCALL 1024
#define NC_MAX_ARGS 2

/* The policy as data: what the BPF compiler and the JSON exporter both read. */
struct rule {
  int nr;
  uint32_t action; /* SCMP_ACT_* */
  unsigned n_args;
  struct scmp_arg_cmp args[NC_MAX_ARGS];
};

struct ruleset {
  struct rule *v;
  size_t len, cap;
};

static void ruleset_free(struct ruleset *rs) {
  free(rs->v);
  rs->v = NULL;
  rs->len = rs->cap = 0;
}

static int push_rule(struct ruleset *rs, const struct rule *r) {
  if (rs->len == rs->cap) {
    size_t cap = rs->cap ? rs->cap * 2 : 512;
    struct rule *v = realloc(rs->v, cap * sizeof *v);
    if (!v) return -ENOMEM;
    rs->v = v;
    rs->cap = cap;
  }
  rs->v[rs->len++] = *r;
  return 0;
}

static struct scmp_arg_cmp masked_eq(unsigned arg, uint64_t mask, uint64_t datum) {
  return (struct scmp_arg_cmp){.arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = datum};
}

/*
 * libseccomp has no "not equal to any of" and lets an unconditional rule
 * swallow conditional ones on the same syscall, so "everything except these
 * values" is written as a set of MASKED_EQ cubes that together cover exactly
 * the values of `space` (a bit mask) not in keep[]: walk the bits of space from
 * the top; a prefix no kept value shares is one cube. About 32 cubes per kept
 * value at most. Each cube becomes a rule: base (its first args) plus the cube
 * on argument `arg`.
 */
static int cover_complement(struct ruleset *rs, const struct rule *base, unsigned arg, uint64_t space,
                            const uint32_t *keep, size_t n_keep, uint64_t fixed_mask, uint64_t fixed_val) {
  bool any = false;
  for (size_t i = 0; i < n_keep && !any; i++) any = (keep[i] & fixed_mask) == fixed_val;
  if (!any) {
    struct rule r = *base;
    if (r.n_args >= NC_MAX_ARGS || fixed_mask == 0) return -EINVAL; /* policy bug */
    r.args[r.n_args++] = masked_eq(arg, fixed_mask, fixed_val);
    return push_rule(rs, &r);
  }
  uint64_t rest = space & ~fixed_mask;
  if (rest == 0) return 0; /* a kept value itself */
  uint64_t bit = 1ULL << (63 - __builtin_clzll(rest));
  int r = cover_complement(rs, base, arg, space, keep, n_keep, fixed_mask | bit, fixed_val);
  if (r < 0) return r;
  return cover_complement(rs, base, arg, space, keep, n_keep, fixed_mask | bit, fixed_val | bit);
}

/* Rules "args[arg] & space is one of ok[] -> on_match, else -> otherwise". */
static int split_on_values(struct ruleset *rs, const struct rule *base, unsigned arg, uint64_t space,
                           const uint32_t *ok, size_t n_ok, uint32_t on_match, uint32_t otherwise) {
  if (base->n_args >= NC_MAX_ARGS) return -EINVAL; /* policy bug */
  for (size_t i = 0; i < n_ok; i++) {
    struct rule r = *base;
    r.action = on_match;
    r.args[r.n_args++] = masked_eq(arg, space, ok[i]);
    int e = push_rule(rs, &r);
    if (e < 0) return e;
  }
  struct rule r = *base;
  r.action = otherwise;
  return cover_complement(rs, &r, arg, space, ok, n_ok, 0, 0);
}

static int resolve(const char *name) { return seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name); }

static int build_ruleset(struct ruleset *rs, nc_error *err) {
  static const uint32_t zero[] = {0};
  bool seen[NC_MAX_SYSCALL] = {false};
  const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
  int r;

  for (size_t i = 0; i < NC_ARRAY_SIZE(denied_names); i++)
    for (size_t j = 0; j < NC_ARRAY_SIZE(allowed_names); j++)
      if (strcmp(denied_names[i], allowed_names[j]) == 0)
        return nc_error_set(err, EINVAL, "seccomp policy: `%s` is both allowed and denied", denied_names[i]);

  for (size_t i = 0; i < NC_ARRAY_SIZE(allowed_names); i++) {
    int nr = resolve(allowed_names[i]);
    if (nr < 0) continue; /* unknown to this libseccomp: ENOSYS */
    if (nr >= NC_MAX_SYSCALL || seen[nr])
      return nc_error_set(err, EINVAL, "seccomp policy: `%s` (%d) listed twice or out of range", allowed_names[i], nr);
    seen[nr] = true;
    r = push_rule(rs, &(struct rule){.nr = nr, .action = SCMP_ACT_ALLOW});
    if (r < 0) goto oom;
  }

  /* An unconditional rule would silently swallow the argument rules below. */
  static const int conditional[] = {SCMP_SYS(clone3), SCMP_SYS(clone), SCMP_SYS(personality), SCMP_SYS(ioctl),
                                    SCMP_SYS(socket)};
  for (size_t i = 0; i < NC_ARRAY_SIZE(conditional); i++) {
    if (seen[conditional[i]])
      return nc_error_set(err, EINVAL, "seccomp policy: syscall %d has argument rules and is also allowed outright",
                          conditional[i]);
    seen[conditional[i]] = true;
  }

  /* clone3: flags are behind a pointer, so we cannot see namespace flags;
   * ENOSYS makes glibc fall back to clone, which we can inspect. */
  struct rule base = {.nr = SCMP_SYS(clone3), .action = SCMP_ACT_ERRNO(ENOSYS)};
  if ((r = push_rule(rs, &base)) < 0) goto oom;
  /* clone (x86_64: flags are arg0): no new namespaces — the way to a fresh
   * user namespace with full capabilities and all the kernel surface behind it. */
  base = (struct rule){.nr = SCMP_SYS(clone)};
  if ((r = split_on_values(rs, &base, 0, NS_CLONE_FLAGS, zero, 1, SCMP_ACT_ALLOW, eperm)) < 0) goto fail;
  /* personality: flags like READ_IMPLIES_EXEC or ADDR_NO_RANDOMIZE weaken the
   * process's own hardening; allow only Docker's values. */
  base = (struct rule){.nr = SCMP_SYS(personality)};
  if ((r = split_on_values(rs, &base, 0, U32, personality_ok, NC_ARRAY_SIZE(personality_ok), SCMP_ACT_ALLOW,
                           eperm)) < 0)
    goto fail;
  /* ioctl: everything but terminal injection; cmd is masked to 32 bits because
   * the kernel reads an unsigned int, so 0x100005412 is TIOCSTI too. */
  base = (struct rule){.nr = SCMP_SYS(ioctl)};
  if ((r = split_on_values(rs, &base, 1, U32, ioctl_denied, NC_ARRAY_SIZE(ioctl_denied), eperm,
                           SCMP_ACT_ALLOW)) < 0)
    goto fail;
  /* socket: AF_UNIX, AF_INET, AF_INET6 only (no AF_PACKET sniffing, no netlink
   * to reconfigure the netns, no exotic families with their CVE history);
   * inet only with the types in inet_types_ok. */
  base = (struct rule){.nr = SCMP_SYS(socket), .action = SCMP_ACT_ALLOW, .n_args = 1,
                       .args = {masked_eq(0, U32, AF_UNIX)}};
  if ((r = push_rule(rs, &base)) < 0) goto oom;
  for (size_t i = 0; i < 2; i++) {
    base = (struct rule){.nr = SCMP_SYS(socket), .n_args = 1,
                         .args = {masked_eq(0, U32, i == 0 ? AF_INET : AF_INET6)}};
    if ((r = split_on_values(rs, &base, 1, 0xf, inet_types_ok, NC_ARRAY_SIZE(inet_types_ok), SCMP_ACT_ALLOW,
                             eperm)) < 0)
      goto fail;
  }
  base = (struct rule){.nr = SCMP_SYS(socket), .action = eperm};
  if ((r = cover_complement(rs, &base, 0, U32, socket_families_ok, NC_ARRAY_SIZE(socket_families_ok), 0, 0)) < 0)
    goto fail;

  /* Known but not allowed: EPERM, so callers see "refused", not "missing". */
  for (int nr = 0; nr < NC_MAX_SYSCALL; nr++) {
    if (seen[nr]) continue;
    char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);
    if (!name) continue;
    free(name);
    if ((r = push_rule(rs, &(struct rule){.nr = nr, .action = eperm})) < 0) goto oom;
  }
  return 0;
oom:
  return nc_error_sys(err, ENOMEM, "building the seccomp policy");
fail:
  return r == -ENOMEM ? nc_error_sys(err, ENOMEM, "building the seccomp policy")
                      : nc_error_set(err, -r, "building the seccomp policy: internal error %d", r);
}

/* Read the BPF back through a memfd (seccomp_export_bpf_mem arrived only in
 * libseccomp 2.6). */
static int export_bpf(scmp_filter_ctx ctx, struct sock_filter **ret_insns, unsigned short *ret_len, nc_error *err) {
  int fd nc_autoclose = memfd_create("nc-seccomp-bpf", MFD_CLOEXEC);
  if (fd < 0) return nc_error_sys(err, errno, "seccomp: memfd_create");
  int r = seccomp_export_bpf(ctx, fd);
  if (r < 0) return nc_error_sys(err, -r, "seccomp: exporting the BPF program");
  struct stat st;
  if (fstat(fd, &st) < 0) return nc_error_sys(err, errno, "seccomp: fstat on the BPF memfd");
  size_t size = (size_t)st.st_size;
  if (size == 0 || size % sizeof(struct sock_filter) != 0 || size / sizeof(struct sock_filter) > BPF_MAXINSNS)
    return nc_error_set(err, E2BIG, "seccomp: the compiled filter has %zu bytes, not 1..%d instructions", size,
                        BPF_MAXINSNS);
  struct sock_filter *insns nc_autofree = malloc(size);
  if (!insns) return nc_error_sys(err, ENOMEM, "seccomp: reading the BPF program");
  for (size_t off = 0; off < size;) {
    ssize_t n = pread(fd, (char *)insns + off, size - off, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return nc_error_sys(err, n < 0 ? errno : EIO, "seccomp: reading the BPF program back");
    off += (size_t)n;
  }
  *ret_len = (unsigned short)(size / sizeof(struct sock_filter));
  *ret_insns = nc_steal_ptr(&insns);
  return 0;
}

/* Compile the rules with libseccomp into classic BPF. */
static int compile(const struct ruleset *rs, struct sock_filter **ret_insns, unsigned short *ret_len, nc_error *err) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
  if (!ctx) return nc_error_set(err, ENOMEM, "seccomp_init failed");
  int r;
  /* i386 `int 0x80` and x32 (nr | 0x40000000) would dodge an x86_64 rule set:
   * only the native ABI is in the filter, anything else kills the process. */
  if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0) {
    nc_error_sys(err, -r, "seccomp: setting the bad-architecture action to kill-process");
    goto out;
  }
  /* The caller sets no_new_privs itself before loading. */
  if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0) {
    nc_error_sys(err, -r, "seccomp: clearing the NNP attribute");
    goto out;
  }
  if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0) {
    nc_error_sys(err, -r, "seccomp: selecting the binary-tree layout");
    goto out;
  }
  for (size_t i = 0; i < rs->len; i++) {
    const struct rule *ru = &rs->v[i];
    /* clone3's ENOSYS is the default action already; libseccomp refuses a
     * rule that repeats the default (the JSON export keeps it explicit). */
    if (ru->action == SCMP_ACT_ERRNO(ENOSYS) && ru->n_args == 0) continue;
    r = seccomp_rule_add_array(ctx, ru->action, ru->nr, ru->n_args, ru->n_args ? ru->args : NULL);
    if (r < 0) {
      nc_error_sys(err, -r, "seccomp: adding the rule for syscall %d", ru->nr);
      goto out;
    }
  }

  r = export_bpf(ctx, ret_insns, ret_len, err);
out:
  seccomp_release(ctx);
  return r;
}

/* The filter compiled at build time by nc-gen-seccomp (seccomp-prebuilt.c),
 * so a run does not pay for libseccomp's ~3 ms of rule building. The
 * generator itself defines an empty one and compiles from the policy. */
extern const struct sock_filter nc_seccomp_prebuilt_insns[];
extern const unsigned short nc_seccomp_prebuilt_len;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sock_filter *cache_insns; /* built once, kept for the process's life */
static unsigned short cache_len;

static int copy_filter(struct nc_seccomp_filter *ret, const struct sock_filter *insns, unsigned short len,
                       nc_error *err) {
  ret->insns = malloc(len * sizeof *ret->insns);
  if (!ret->insns) return nc_error_sys(err, ENOMEM, "seccomp: copying the filter");
  memcpy(ret->insns, insns, len * sizeof *ret->insns);
  ret->len = len;
  return 0;
}

int nc_seccomp_compile(struct nc_seccomp_filter *ret, nc_error *err) {
  if (!ret) return nc_error_set(err, EINVAL, "nc_seccomp_compile: no output filter");
  ret->insns = NULL;
  ret->len = 0;
  struct ruleset rs = {0};
  int r = build_ruleset(&rs, err);
  if (r == 0) r = compile(&rs, &ret->insns, &ret->len, err);
  ruleset_free(&rs);
  return r;
}

int nc_seccomp_prepare(struct nc_seccomp_filter *ret, nc_error *err) {
  if (!ret) return nc_error_set(err, EINVAL, "nc_seccomp_prepare: no output filter");
  ret->insns = NULL;
  ret->len = 0;
  if (nc_seccomp_prebuilt_len > 0)
    return copy_filter(ret, nc_seccomp_prebuilt_insns, nc_seccomp_prebuilt_len, err);
  int r = 0;
  pthread_mutex_lock(&cache_lock);
  if (!cache_insns) {
    struct nc_seccomp_filter f;
    r = nc_seccomp_compile(&f, err);
    if (r == 0) cache_insns = f.insns, cache_len = f.len;
  }
  if (r == 0) r = copy_filter(ret, cache_insns, cache_len, err);
  pthread_mutex_unlock(&cache_lock);
  return r;
}

void nc_seccomp_filter_free(struct nc_seccomp_filter *f) {
  if (!f) return;
  free(f->insns);
  f->insns = NULL;
  f->len = 0;
}

int nc_seccomp_load(const struct nc_seccomp_filter *f) {
  if (!f || !f->insns || f->len == 0) return -EINVAL;
  struct sock_fprog prog = {.len = f->len, .filter = f->insns};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) return -errno;
  return 0;
}

/* ---- Docker/OCI JSON export ---------------------------------------------- */

/* json_object_set_new consumes v even on failure; clear the caller's pointer. */
static int set_steal(json_t *o, const char *key, json_t **v) {
  json_t *t = *v;
  *v = NULL;
  return json_object_set_new(o, key, t);
}

static int add_action(json_t *o, uint32_t action) {
  if (action == SCMP_ACT_ALLOW) return json_object_set_new(o, "action", json_string("SCMP_ACT_ALLOW"));
  if ((action & 0xffff0000U) == SCMP_ACT_ERRNO(0)) {
    if (json_object_set_new(o, "action", json_string("SCMP_ACT_ERRNO")) < 0) return -1;
    return json_object_set_new(o, "errnoRet", json_integer(action & 0xffff));
  }
  return -1; /* the policy uses no other action */
}

static int append_name(json_t *names, int nr) {
  char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);
  if (!name) return -1;
  int r = json_array_append_new(names, json_string(name));
  free(name);
  return r;
}

/* One entry naming every unconditional rule with this action. */
static json_t *names_group(const struct ruleset *rs, uint32_t action) {
  json_t *o = json_object(), *names = json_array();
  bool ok = o && names;
  for (size_t i = 0; ok && i < rs->len; i++)
    if (!rs->v[i].n_args && rs->v[i].action == action) ok = append_name(names, rs->v[i].nr) == 0;
  ok = ok && set_steal(o, "names", &names) == 0 && add_action(o, action) == 0;
  json_decref(names);
  if (ok) return o;
  json_decref(o);
  return NULL;
}

static json_t *conditional_rule(const struct rule *ru) {
  json_t *o = json_object(), *names = json_array(), *args = json_array();
  bool ok = o && names && args && append_name(names, ru->nr) == 0;
  for (unsigned i = 0; ok && i < ru->n_args; i++) {
    /* Docker's MASKED_EQ: value is the mask, valueTwo the expected result. */
    json_t *a = json_pack("{s:i, s:I, s:I, s:s}", "index", (int)ru->args[i].arg, "value",
                          (json_int_t)ru->args[i].datum_a, "valueTwo", (json_int_t)ru->args[i].datum_b, "op",
                          "SCMP_CMP_MASKED_EQ");
    ok = a && json_array_append_new(args, a) == 0;
  }
  ok = ok && set_steal(o, "names", &names) == 0 && add_action(o, ru->action) == 0 &&
       set_steal(o, "args", &args) == 0;
  json_decref(names);
  json_decref(args);
  if (ok) return o;
  json_decref(o);
  return NULL;
}

char *nc_seccomp_export_docker_json(nc_error *err) {
  struct ruleset rs = {0};
  if (build_ruleset(&rs, err) < 0) return NULL;
  char *out = NULL;
  json_t *root = json_pack("{s:s, s:i, s:[s]}", "defaultAction", "SCMP_ACT_ERRNO", "defaultErrnoRet", ENOSYS,
                           "architectures", "SCMP_ARCH_X86_64");
  json_t *list = json_array();
  bool ok = root && list;
  const uint32_t groups[] = {SCMP_ACT_ALLOW, SCMP_ACT_ERRNO(ENOSYS), SCMP_ACT_ERRNO(EPERM)};
  for (size_t g = 0; ok && g < NC_ARRAY_SIZE(groups); g++) {
    json_t *o = names_group(&rs, groups[g]);
    ok = o && json_array_append_new(list, o) == 0;
  }
  for (size_t i = 0; ok && i < rs.len; i++) {
    if (!rs.v[i].n_args) continue;
    json_t *o = conditional_rule(&rs.v[i]);
    ok = o && json_array_append_new(list, o) == 0;
  }
  if (ok && set_steal(root, "syscalls", &list) == 0) out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (!out) nc_error_set(err, ENOMEM, "seccomp: writing the Docker profile JSON");
  json_decref(list);
  json_decref(root);
  ruleset_free(&rs);
  return out;
}
