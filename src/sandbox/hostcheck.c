/* hostcheck.c — probes of what this host's kernel offers a sandbox (namespaces, cgroups, seccomp, ...),
 * each one harmless and leaving nothing behind: forked children are reaped, the trial cgroup removed. */
#include "sandbox/hostcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/util.h"
#include "sandbox/cgroup.h"

/* Generic syscall numbers (all architectures but alpha), for old headers. */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CAP_SYS_ADMIN_BIT 21

/* The namespaces every sandbox gets (DESIGN.md, step 3). */
static const struct {
  unsigned long flag;
  const char *name;
} namespaces[] = {
    {CLONE_NEWUSER, "user"}, {CLONE_NEWNS, "mount"}, {CLONE_NEWPID, "pid"},       {CLONE_NEWNET, "net"},
    {CLONE_NEWUTS, "uts"},   {CLONE_NEWIPC, "ipc"},  {CLONE_NEWCGROUP, "cgroup"},
};

/* The items being filled; `overflow` notes that cap was too small. */
struct ctx {
  struct nc_hostcheck_item *items;
  size_t cap, n;
  bool overflow;
};

/* A scratch item, used when items[] is full so probes need no NULL checks. */
static struct nc_hostcheck_item *add(struct ctx *c, const char *feature, bool required) {
  static _Thread_local struct nc_hostcheck_item spill;
  struct nc_hostcheck_item *it = &spill;
  if (c->n < c->cap)
    it = &c->items[c->n++];
  else
    c->overflow = true;
  memset(it, 0, sizeof *it);
  it->feature = feature;
  it->required = required;
  return it;
}

__attribute__((format(printf, 3, 4))) static void set(struct nc_hostcheck_item *it, bool ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(it->detail, sizeof it->detail, fmt, ap);
  va_end(ap);
  it->ok = ok;
}

/* Append to a detail (or any bounded string), truncating silently. */
__attribute__((format(printf, 3, 4))) static void append(char *buf, size_t cap, const char *fmt, ...) {
  size_t len = strnlen(buf, cap);
  if (len + 1 >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + len, cap - len, fmt, ap);
  va_end(ap);
}

/* "EPERM" rather than "Operation not permitted": the probes report raw errnos. */
static const char *errname(int e) {
  const char *n = strerrorname_np(e);
  return n ? n : "unknown errno";
}

/* Read a small text file; -errno when absent or unreadable. */
static ssize_t read_text(const char *path, char *buf, size_t cap) { return nc_read_file_at(AT_FDCWD, path, buf, cap); }

/* Read a decimal from a one-number file (a sysctl); -errno on failure. */
static int read_long(const char *path, long *ret) {
  char buf[64];
  ssize_t r = read_text(path, buf, sizeof buf);
  if (r < 0) return (int)r;
  char *end;
  errno = 0;
  long v = strtol(buf, &end, 10);
  if (errno || end == buf) return -EINVAL;
  *ret = v;
  return 0;
}

/* The value of `key:` in /proc/self/status, whitespace-trimmed; -errno. */
static int status_field(const char *key, char *out, size_t cap) {
  char buf[8192];
  if (cap == 0) return -EINVAL;
  ssize_t r = read_text("/proc/self/status", buf, sizeof buf);
  if (r < 0) return (int)r;
  size_t kl = strlen(key);
  for (char *line = buf; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
      const char *v = line + kl + 1;
      v += strspn(v, " \t");
      snprintf(out, cap, "%s", v);
      return 0;
    }
    line = nl ? nl + 1 : NULL;
  }
  return -ENOENT;
}

/* Whether the whitespace-separated list `list` contains `word`. */
static bool has_word(const char *list, const char *word) {
  size_t wl = strlen(word);
  for (const char *p = list; (p = strstr(p, word)) != NULL; p += wl) {
    bool start = p == list || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n';
    bool end = p[wl] == '\0' || p[wl] == ' ' || p[wl] == '\t' || p[wl] == '\n';
    if (start && end) return true;
  }
  return false;
}

/* ---- processes ---------------------------------------------------------- */

/* Reap a child; ECHILD (SIGCHLD ignored by the caller: already reaped) is fine. */
static void reap(pid_t pid) {
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
}

/* Cleanup for a child pid: kill and reap on any early return (crun cleanup_pid). */
static void child_cleanup(pid_t *pid) {
  if (*pid > 0) {
    int saved = errno;
    kill(*pid, SIGKILL);
    reap(*pid);
    errno = saved;
  }
}
#define nc_autochild __attribute__((cleanup(child_cleanup)))

/* clone_args as of CLONE_ARGS_SIZE_VER0 (declared here: glibc 2.36 has none). */
struct hc_clone_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

/* fork-like clone into new namespaces: clone3 first (as spawn does), then clone.
 * Returns the pid in the parent, 0 in the child, -1 with errno on failure. */
static pid_t clone_ns(unsigned long flags) {
  struct hc_clone_args ca = {.flags = flags, .exit_signal = SIGCHLD};
  long r = syscall(SYS_clone3, &ca, sizeof ca);
  if (r >= 0) return (pid_t)r;
#if defined(__s390__) || defined(__s390x__) || defined(__CRIS__)
  r = syscall(SYS_clone, 0, flags | SIGCHLD, NULL, NULL, 0);
#else
  r = syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);
#endif
  return (pid_t)r;
}

/* ---- probes ------------------------------------------------------------- */

static void probe_root(struct ctx *c) {
  struct nc_hostcheck_item *it = add(c, NC_HC_ROOT, false);
  uid_t euid = geteuid();
  char capeff[64] = "";
  bool sys_admin = false;
  if (status_field("CapEff", capeff, sizeof capeff) == 0) {
    unsigned long long caps = strtoull(capeff, NULL, 16);
    sys_admin = (caps >> CAP_SYS_ADMIN_BIT) & 1;
  }
  if (euid == 0)
    set(it, true, "euid 0%s: each sandbox's user maps to its own unprivileged host uid",
        sys_admin ? ", CAP_SYS_ADMIN" : " but without CAP_SYS_ADMIN (in a container?)");
  else
    set(it, false,
        "euid %u (rootless): the sandbox user maps to the caller's uid; cgroup limits need a "
        "delegated cgroup v2 subtree",
        (unsigned)euid);
}

static void probe_userns_sysctl(struct ctx *c) {
  struct nc_hostcheck_item *it = add(c, NC_HC_USERNS_SYSCTL, false);
  bool root = geteuid() == 0, ok = true;
  long v = 0;
  int r = read_long("/proc/sys/user/max_user_namespaces", &v);
  if (r == 0) {
    set(it, v > 0, "max_user_namespaces=%ld%s", v, v > 0 ? "" : " (user namespaces disabled)");
    ok = v > 0;
  } else {
    set(it, true, "/proc/sys/user/max_user_namespaces unreadable (%s)", errname(-r));
  }
  if (read_long("/proc/sys/kernel/unprivileged_userns_clone", &v) == 0) {
    append(it->detail, sizeof it->detail, ", unprivileged_userns_clone=%ld%s", v,
           v == 0 ? (root ? " (irrelevant as root)" : " (blocks rootless use)") : "");
    if (v == 0 && !root) ok = false;
  }
  if (read_long("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", &v) == 0) {
    append(it->detail, sizeof it->detail, ", apparmor_restrict_unprivileged_userns=%ld%s", v,
           v != 0 && !root ? " (AppArmor may deny rootless use)" : "");
  }
  it->ok = ok;
}

/* Write setgroups and the uid/gid maps of a child in a new user namespace,
 * mapping its root to an unprivileged host id. 0 or -errno (what names in `what`). */
static int write_maps(pid_t pid, const char **what) {
  char path[64], map[64];
  uid_t uid = geteuid() == 0 ? 65534 : geteuid();
  gid_t gid = geteuid() == 0 ? 65534 : getegid();
  int r;
  *what = "setgroups";
  snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pid);
  if ((r = nc_write_file_at(AT_FDCWD, path, "deny")) < 0 && r != -ENOENT) return r;
  *what = "uid_map";
  snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
  snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
  if ((r = nc_write_file_at(AT_FDCWD, path, map)) < 0) return r;
  *what = "gid_map";
  snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
  snprintf(map, sizeof map, "0 %u 1\n", (unsigned)gid);
  return nc_write_file_at(AT_FDCWD, path, map);
}

/* Which namespace types fail on their own (to name the culprit). */
static void diagnose_namespaces(char *buf, size_t cap) {
  bool any = false;
  for (size_t i = 0; i < NC_ARRAY_SIZE(namespaces); i++) {
    unsigned long f = namespaces[i].flag;
    /* Non-user namespaces need CAP_SYS_ADMIN: pair them with a user namespace. */
    if (f != CLONE_NEWUSER && geteuid() != 0) f |= CLONE_NEWUSER;
    pid_t pid = clone_ns(f);
    if (pid == 0) _exit(0);
    if (pid > 0) {
      reap(pid);
      continue;
    }
    append(buf, cap, "%s%s (%s)", any ? ", " : "; failing alone: ", namespaces[i].name, errname(errno));
    any = true;
  }
}

static void probe_namespaces(struct ctx *c) {
  struct nc_hostcheck_item *ns = add(c, NC_HC_USERNS, true);
  struct nc_hostcheck_item *map = add(c, NC_HC_UID_MAP, true);
  unsigned long flags = 0;
  for (size_t i = 0; i < NC_ARRAY_SIZE(namespaces); i++) flags |= namespaces[i].flag;

  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    set(ns, false, "pipe2: %s", strerror(errno));
    set(map, false, "not probed");
    return;
  }
  nc_autoclose int rd = p[0];
  nc_autoclose int wr = p[1];
  nc_autochild pid_t pid = clone_ns(flags);
  if (pid == 0) {
    /* Child, in its new namespaces: wait for the parent to finish the maps. */
    char ch;
    close(wr);
    while (read(rd, &ch, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  if (pid < 0) {
    int e = errno;
    set(ns, false, "clone(user|mount|pid|net|uts|ipc|cgroup): %s", errname(e));
    if (e == EPERM || e == EACCES)
      append(ns->detail, sizeof ns->detail, " (unprivileged user namespaces disabled or denied by a LSM/seccomp)");
    else if (e == ENOSPC || e == EUSERS)
      append(ns->detail, sizeof ns->detail, " (a max_*_namespaces limit is reached)");
    else if (e == EINVAL)
      append(ns->detail, sizeof ns->detail, " (the kernel lacks a namespace type)");
    diagnose_namespaces(ns->detail, sizeof ns->detail);
    set(map, false, "not probed: no user namespace");
    return;
  }
  set(ns, true, "user, mount, pid, net, uts, ipc and cgroup namespaces created in one clone");

  const char *what = "";
  int r = write_maps(pid, &what);
  if (r < 0)
    set(map, false, "writing %s of a new user namespace: %s", what, strerror(-r));
  else if (geteuid() == 0)
    set(map, true, "sandbox root mapped to unprivileged host uid 65534 (probe)");
  else
    set(map, true, "sandbox root mapped to the caller's uid %u", (unsigned)geteuid());

  /* Let the child go and reap it here; the cleanup then has nothing to do. */
  nc_closep(&wr);
  wr = -1;
  pid_t done = pid;
  pid = -1;
  reap(done);
}

static void probe_clone3(struct ctx *c) {
  struct nc_hostcheck_item *it = add(c, NC_HC_CLONE3, false);
  /* A size below CLONE_ARGS_SIZE_VER0: EINVAL means the call reached the kernel. */
  long r = syscall(SYS_clone3, NULL, (size_t)0);
  int e = errno;
  if (r < 0 && (e == EINVAL || e == EFAULT))
    set(it, true, "available (CLONE_INTO_CGROUP needs cgroup v2 too)");
  else if (r < 0 && e == ENOSYS)
    set(it, false, "ENOSYS: kernel < 5.3 or filtered; spawn falls back to clone(2)");
  else if (r < 0)
    set(it, false, "%s (filtered by seccomp?); spawn falls back to clone(2)", errname(e));
  else
    set(it, true, "available"); /* cannot happen: clone3 with NULL never succeeds */
}

static void probe_openat2(struct ctx *c) {
  struct nc_hostcheck_item *it = add(c, NC_HC_OPENAT2, false);
  struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                         .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  nc_autoclose int fd = (int)syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
  if (fd >= 0)
    set(it, true, "available with RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS");
  else
    set(it, false, "%s: kernel < 5.6 or filtered; paths are resolved by an O_PATH walk instead",
        errname(errno));
}

static void probe_pidfd(struct ctx *c) {
  struct nc_hostcheck_item *it = add(c, NC_HC_PIDFD, true);
  nc_autoclose int fd = (int)syscall(SYS_pidfd_open, getpid(), 0U);
  if (fd >= 0)
    set(it, true, "available: the supervisor waits on a pidfd");
  else
    set(it, false, "%s: kernel < 5.3 or filtered; the supervisor needs a pidfd", errname(errno));
}

static void probe_close_range(struct ctx *c) {
  struct nc_hostcheck_item *it = add(c, NC_HC_CLOSE_RANGE, false);
  /* The range [~0U, ~0U] holds no open fd: nothing is touched. */
  if (syscall(SYS_close_range, ~0U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) {
    set(it, true, "available with CLOSE_RANGE_CLOEXEC");
    return;
  }
  int e = errno;
  if (e == EINVAL && syscall(SYS_close_range, ~0U, ~0U, 0U) == 0)
    set(it, true, "available without CLOSE_RANGE_CLOEXEC (kernel < 5.11)");
  else
    set(it, false, "%s: kernel < 5.9; fds are closed one by one from /proc/self/fd", errname(e));
}

static void probe_seccomp(struct ctx *c) {
  struct nc_hostcheck_item *it = add(c, NC_HC_SECCOMP, true);
  char mode[32] = "", nfilters[32] = "";
  if (status_field("Seccomp", mode, sizeof mode) < 0) {
    set(it, false, "no Seccomp field in /proc/self/status: kernel built without CONFIG_SECCOMP");
    return;
  }
  (void)status_field("Seccomp_filters", nfilters, sizeof nfilters);

  static const struct {
    uint32_t action;
    const char *name;
    bool needed;
  } actions[] = {
      {SECCOMP_RET_ERRNO, "errno", true},
      {SECCOMP_RET_KILL_PROCESS, "kill_process", true},
      {SECCOMP_RET_LOG, "log", false},
      {SECCOMP_RET_USER_NOTIF, "user_notif", false},
  };
  char avail[128] = "", missing[128] = "";
  bool ok = true;
  for (size_t i = 0; i < NC_ARRAY_SIZE(actions); i++) {
    uint32_t a = actions[i].action;
    if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0U, &a) == 0) {
      append(avail, sizeof avail, "%s%s", avail[0] ? "," : "", actions[i].name);
    } else {
      append(missing, sizeof missing, "%s%s(%s)", missing[0] ? "," : "", actions[i].name, errname(errno));
      if (actions[i].needed) ok = false;
    }
  }
  const struct scmp_version *v = seccomp_version();
  set(it, ok, "filter actions: %s%s%s; current mode %s%s%s%s; libseccomp %u.%u.%u (API level %u)",
      avail[0] ? avail : "none", missing[0] ? "; missing: " : "", missing, mode,
      strcmp(mode, "2") == 0 ? " (already filtered, " : "", strcmp(mode, "2") == 0 ? nfilters : "",
      strcmp(mode, "2") == 0 ? " filters: ours stacks on top)" : "", v ? v->major : 0, v ? v->minor : 0,
      v ? v->micro : 0, seccomp_api_get());
}

static void probe_landlock(struct ctx *c) {
  struct nc_hostcheck_item *it = add(c, NC_HC_LANDLOCK, false);
  long abi = syscall(SYS_landlock_create_ruleset, NULL, (size_t)0, LANDLOCK_CREATE_RULESET_VERSION);
  int e = errno;
  if (abi > 0)
    set(it, true, "ABI version %ld (optional extra layer)", abi);
  else if (e == EOPNOTSUPP)
    set(it, false, "built in but not enabled at boot (add landlock to lsm=); optional");
  else if (e == ENOSYS)
    set(it, false, "ENOSYS: kernel < 5.13 or built without CONFIG_SECURITY_LANDLOCK; optional");
  else
    set(it, false, "%s; optional", errname(e));
}

static void probe_overlayfs(struct ctx *c) {
  struct nc_hostcheck_item *it = add(c, NC_HC_OVERLAYFS, false);
  char buf[8192];
  ssize_t r = read_text("/proc/filesystems", buf, sizeof buf);
  if (r < 0) {
    set(it, false, "/proc/filesystems: %s", strerror((int)-r));
    return;
  }
  struct stat st;
  if (has_word(buf, "overlay"))
    set(it, true, "registered in /proc/filesystems");
  else if (stat("/sys/module/overlay", &st) == 0)
    set(it, true, "overlay module loaded");
  else
    set(it, false, "not in /proc/filesystems (a module may still load on first mount); optional");
}

/* ---- cgroups ------------------------------------------------------------ */

enum cg_version { CG_NONE, CG_V1, CG_HYBRID, CG_V2 };

static bool is_fs(const char *path, long magic) {
  struct statfs s;
  return statfs(path, &s) == 0 && (long)s.f_type == magic;
}

static enum cg_version cgroup_version(void) {
  if (is_fs(CGROUP_ROOT, CGROUP2_SUPER_MAGIC)) return CG_V2;
  if (!is_fs(CGROUP_ROOT, TMPFS_MAGIC)) return CG_NONE;
  return is_fs(CGROUP_ROOT "/unified", CGROUP2_SUPER_MAGIC) ? CG_HYBRID : CG_V1;
}

/* Where a controller lives: 2 (v2), 1 (v1) or 0 with the reason in why. */
static int controller_home(enum cg_version v, const char *name, char *why, size_t cap) {
  char buf[4096];
  const char *v2file = v == CG_V2 ? CGROUP_ROOT "/cgroup.controllers" : CGROUP_ROOT "/unified/cgroup.controllers";
  if ((v == CG_V2 || v == CG_HYBRID) && read_text(v2file, buf, sizeof buf) >= 0 && has_word(buf, name)) return 2;
  if (v == CG_V2) {
    snprintf(why, cap, "the %s controller is not listed in %s", name, v2file);
    return 0;
  }
  /* v1: /proc/cgroups says whether the kernel has it and whether it is enabled. */
  if (read_text("/proc/cgroups", buf, sizeof buf) < 0) {
    snprintf(why, cap, "/proc/cgroups unreadable");
    return 0;
  }
  size_t nl = strlen(name);
  for (char *line = buf; line && *line;) {
    char *next = strchr(line, '\n');
    if (next) *next++ = '\0';
    unsigned hier = 0, num = 0, enabled = 0;
    if (strncmp(line, name, nl) == 0 && (line[nl] == '\t' || line[nl] == ' ') &&
        sscanf(line + nl, "%u %u %u", &hier, &num, &enabled) == 3) {
      char dir[128];
      struct stat st;
      snprintf(dir, sizeof dir, CGROUP_ROOT "/%s", name);
      if (!enabled)
        snprintf(why, cap, "the %s controller is disabled on the kernel command line", name);
      else if (hier == 0 || stat(dir, &st) < 0)
        snprintf(why, cap, "the %s controller is not mounted at %s", name, dir);
      else
        return 1;
      return 0;
    }
    line = next;
  }
  snprintf(why, cap, "the kernel has no %s controller", name);
  return 0;
}

/* The limit a profile key becomes, per controller and version. */
static const struct {
  const char *feature, *controller, *v1file, *v2file;
  bool required;
} cg_limits[] = {
    {NC_HC_CG_MEMORY, "memory", "memory.limit_in_bytes", "memory.max", true},
    {NC_HC_CG_CPU, "cpu", "cpu.shares", "cpu.weight", true},
    {NC_HC_CG_CPUS, "cpu", "cpu.cfs_quota_us", "cpu.max", false},
    {NC_HC_CG_PIDS, "pids", "pids.max", "pids.max", true},
};

static bool cfs_bandwidth_v1(void) {
  struct stat st;
  return stat(CGROUP_ROOT "/cpu/cpu.cfs_quota_us", &st) == 0;
}

static bool enforced_of(const struct nc_cgroup_enforced *e, const char *feature) {
  if (strcmp(feature, NC_HC_CG_MEMORY) == 0) return e->memory;
  if (strcmp(feature, NC_HC_CG_CPU) == 0) return e->cpu_shares;
  if (strcmp(feature, NC_HC_CG_CPUS) == 0) return e->cpus;
  return e->pids;
}

/* Copy s into out joining its lines with "; " (nc_cgroup_describe gives one line per controller). */
static void one_line(const char *s, char *out, size_t cap) {
  size_t o = 0;
  if (cap == 0) return;
  for (; *s && o + 2 < cap; s++) {
    if (*s != '\n') {
      out[o++] = *s;
    } else if (s[1] != '\0' && s[1] != '\n') {
      out[o++] = ';';
      out[o++] = ' ';
    }
  }
  out[o] = '\0';
}

/* Create a trial cgroup with lim, read what took, remove it again.
 * 0 or negative with cerr filled; trouble removing it is noted in note. */
static int trial_cgroup(const struct nc_cgroup_limits *lim, struct nc_cgroup_enforced *enf, nc_error *cerr,
                        char *note, size_t note_cap) {
  char id[33];
  struct nc_cgroup *trial = NULL;
  int r = nc_random_id(id);
  if (r < 0) return nc_error_sys(cerr, -r, "getrandom");
  r = nc_cgroup_create(NULL, id, lim, &trial, cerr);
  if (r < 0) return r;
  nc_cgroup_enforced(trial, enf);
  nc_error derr = {0};
  if (nc_cgroup_destroy(trial, &derr) < 0)
    append(note, note_cap, "; trial cgroup nanoclaw-%s left behind (nanoclaw gc removes it): %s", id, derr.msg);
  return 0;
}

/* Why a limit does not take: ask the cgroup manager in strict mode for that
 * limit alone, so its message names the controller and the cause. */
static void strict_reason(const char *feature, char *out, size_t cap, char *note, size_t note_cap) {
  struct nc_cgroup_limits lim = {0};
  if (strcmp(feature, NC_HC_CG_MEMORY) == 0) lim.mem_bytes = 512ull << 20;
  else if (strcmp(feature, NC_HC_CG_CPU) == 0) lim.cpu_shares = 1024;
  else if (strcmp(feature, NC_HC_CG_CPUS) == 0) lim.cpus_milli = 1000;
  else lim.pids_max = 256;
  struct nc_cgroup_enforced enf = {0};
  nc_error cerr = {0};
  out[0] = '\0';
  if (trial_cgroup(&lim, &enf, &cerr, note, note_cap) < 0) append(out, cap, "%s", cerr.msg);
}

static void probe_cgroups(struct ctx *c) {
  struct nc_hostcheck_item *cg = add(c, NC_HC_CGROUP, true);
  enum cg_version v = cgroup_version();
  static const char *const vname[] = {"none", "v1", "hybrid (v1 controllers, v2 at " CGROUP_ROOT "/unified)", "v2"};
  char raw[2048] = "", desc[2048] = "";
  if (nc_cgroup_describe(NULL, raw, sizeof raw) < 0) raw[0] = '\0';
  one_line(raw, desc, sizeof desc);

  /* Trial: every limit at once, best effort; then see what took. */
  struct nc_cgroup_limits lim = {.mem_bytes = 512ull << 20, .cpu_shares = 1024, .cpus_milli = 1000,
                                 .pids_max = 256, .best_effort = true};
  struct nc_cgroup_enforced enf = {0};
  nc_error cerr = {0};
  int created = v == CG_NONE ? -ENOENT : trial_cgroup(&lim, &enf, &cerr, desc, sizeof desc);
  bool any = enf.memory || enf.cpu_shares || enf.cpus || enf.pids;

  if (v == CG_NONE)
    set(cg, false, "no cgroup filesystem at " CGROUP_ROOT);
  else if (created < 0)
    set(cg, false, "%s; cannot create a cgroup: %s%s", vname[v], cerr.msg[0] ? cerr.msg : strerror(-created),
        geteuid() != 0 && v == CG_V2 ? " (rootless needs a delegated subtree, e.g. systemd-run --user -p Delegate=yes)"
                                      : "");
  else
    set(cg, any, "%s%s%s%s", vname[v], any ? "" : "; no limit can be set", desc[0] ? ": " : "", desc);

  for (size_t i = 0; i < NC_ARRAY_SIZE(cg_limits); i++) {
    struct nc_hostcheck_item *it = add(c, cg_limits[i].feature, cg_limits[i].required);
    char why[512] = "";
    int home = v == CG_NONE ? 0 : controller_home(v, cg_limits[i].controller, why, sizeof why);
    const char *file = home == 2 ? cg_limits[i].v2file : cg_limits[i].v1file;
    if (created == 0 && enforced_of(&enf, cg_limits[i].feature)) {
      set(it, true, "cgroup v%d %s controller (%s)", home ? home : (v == CG_V2 ? 2 : 1), cg_limits[i].controller,
          file);
    } else if (home == 0) {
      set(it, false, "%s", why[0] ? why : "no cgroup filesystem");
    } else if (home == 1 && strcmp(cg_limits[i].feature, NC_HC_CG_CPUS) == 0 && !cfs_bandwidth_v1()) {
      set(it, false, "no " CGROUP_ROOT "/cpu/cpu.cfs_quota_us: kernel built without CONFIG_CFS_BANDWIDTH");
    } else if (created < 0) {
      set(it, false, "cgroup v%d %s controller present, but no cgroup can be created here", home,
          cg_limits[i].controller);
    } else {
      strict_reason(cg_limits[i].feature, why, sizeof why, cg->detail, sizeof cg->detail);
      set(it, false, "cgroup v%d %s controller present, but %s cannot be set: %s", home, cg_limits[i].controller,
          file, why[0] ? why : "the cgroup manager did not apply it");
    }
  }
}

/* ---- API ---------------------------------------------------------------- */

int nc_hostcheck_run(struct nc_hostcheck_item *items, size_t cap, size_t *ret_n, nc_error *err) {
  if (!items || !ret_n) return nc_error_set(err, EINVAL, "nc_hostcheck_run: items and ret_n are required");
  struct ctx c = {.items = items, .cap = cap};
  probe_root(&c);
  probe_namespaces(&c);
  probe_userns_sysctl(&c);
  probe_clone3(&c);
  probe_openat2(&c);
  probe_pidfd(&c);
  probe_close_range(&c);
  probe_cgroups(&c);
  probe_seccomp(&c);
  probe_landlock(&c);
  probe_overlayfs(&c);
  *ret_n = c.n;
  if (c.overflow)
    return nc_error_set(err, ENOSPC, "nc_hostcheck_run: room for %zu items, need up to %d", cap, NC_HOSTCHECK_MAX);
  return 0;
}

const struct nc_hostcheck_item *nc_hostcheck_find(const struct nc_hostcheck_item *items, size_t n,
                                                  const char *feature) {
  for (size_t i = 0; i < n; i++)
    if (items[i].feature && strcmp(items[i].feature, feature) == 0) return &items[i];
  return NULL;
}

bool nc_hostcheck_default_ok(const struct nc_hostcheck_item *items, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (items[i].required && !items[i].ok) return false;
  return true;
}
