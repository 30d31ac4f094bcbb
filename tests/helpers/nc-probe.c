/* nc-probe.c — the in-sandbox helper of the security and integration tests:
 * one subcommand per attack or observation, one machine-readable line out.
 *
 * Output: exactly one line on stdout per probe, e.g. `BLOCKED mount EPERM`,
 * `ALLOWED mount EFAULT`, `CAPS inh=0 ...`; exit 0 when the probe could be
 * run (whatever its outcome), 1 on a usage error, 2 when refused.
 *
 * Guard (never run an attack outside a sandbox): every subcommand except
 * `guard` refuses (prints `REFUSED ...`, exits 2) unless all of these hold:
 *   - /proc/self/ns/user is not the initial user namespace (inode
 *     0xEFFFFFFD, PROC_USER_INIT_INO) and /proc/self/uid_map is not the
 *     identity map `0 0 4294967295`;
 *   - /proc/self/ns/pid is not the initial pid namespace (inode 0xEFFFFFFC,
 *     PROC_PID_INIT_INO) and getpid() != 1.
 * The host is never in a child user or pid namespace; a nanoclaw sandbox is
 * always in both. When /proc cannot be read the probe refuses (fails closed).
 *
 * Seccomp probes follow bubblewrap's tests/try-syscall.c: the arguments are
 * harmless and bad, so a call that reaches the kernel fails with EBADF /
 * EFAULT / EINVAL (printed as ALLOWED), while the filter answers EPERM or
 * ENOSYS (printed as BLOCKED). Some calls check capabilities before their
 * arguments, so the kernel itself says EPERM: BLOCKED either way. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PROC_USER_INIT "user:[4026531837]"
#define PROC_PID_INIT "pid:[4026531836]"

static const char *ename(int e) {
  const char *n = strerrorname_np(e);
  static char buf[16];
  if (n) return n;
  snprintf(buf, sizeof buf, "E%d", e);
  return buf;
}

/* ---- the guard ---------------------------------------------------------- */

static int read_small(const char *path, char *buf, size_t len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, len - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = '\0';
  return 0;
}

/* Returns NULL when inside a sandbox, else the reason. */
static const char *not_in_sandbox(void) {
  char buf[256];
  ssize_t n = readlink("/proc/self/ns/user", buf, sizeof buf - 1);
  if (n < 0) return "cannot read /proc/self/ns/user";
  buf[n] = '\0';
  if (strcmp(buf, PROC_USER_INIT) == 0) return "in the initial user namespace";
  n = readlink("/proc/self/ns/pid", buf, sizeof buf - 1);
  if (n < 0) return "cannot read /proc/self/ns/pid";
  buf[n] = '\0';
  if (strcmp(buf, PROC_PID_INIT) == 0) return "in the initial pid namespace";
  if (getpid() == 1) return "running as pid 1";
  if (read_small("/proc/self/uid_map", buf, sizeof buf) < 0) return "cannot read uid_map";
  unsigned long a, b, c;
  if (sscanf(buf, "%lu %lu %lu", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295ul)
    return "identity uid_map";
  return NULL;
}

/* ---- seccomp / syscall probes ------------------------------------------- */

static long clone_flags(unsigned long flags) {
  long r = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (r == 0) _exit(0);
  if (r > 0) {
    waitpid((pid_t)r, NULL, 0);
    return 0;
  }
  return -1;
}

static long try_socket(int dom, int type, int proto) {
  int fd = socket(dom, type | SOCK_CLOEXEC, proto);
  if (fd >= 0) close(fd);
  return fd < 0 ? -1 : 0;
}

static long try_mknod(void) {
  /* /dev/mem's numbers, in the scratch tmpfs; removed at once if it worked. */
  long r = mknod("/tmp/nc-probe-mem", S_IFCHR | 0600, makedev(1, 1));
  if (r == 0) unlink("/tmp/nc-probe-mem");
  return r;
}

static long try_setuid0(void) { return setresuid(0, 0, 0); }

static long try_chroot_escape(void) {
  /* Would need CAP_SYS_CHROOT; the classic double-chroot escape's first step. */
  return chroot("/tmp");
}

static long do_syscall(const char *name) {
  char c = 'x';
#define IS(n) (strcmp(name, n) == 0)
  if (IS("mount")) return syscall(SYS_mount, NULL, "/", (char *)1, 0, NULL);
  if (IS("umount2")) return syscall(SYS_umount2, (char *)1, 0);
  if (IS("pivot_root")) return syscall(SYS_pivot_root, (char *)1, (char *)1);
  if (IS("open_tree")) return syscall(SYS_open_tree, -1, (char *)1, 0);
  if (IS("move_mount")) return syscall(SYS_move_mount, -1, (char *)1, -1, (char *)1, 0);
  if (IS("fsopen")) return syscall(SYS_fsopen, (char *)1, 0);
  if (IS("fsmount")) return syscall(SYS_fsmount, -1, 0, 0);
  if (IS("fspick")) return syscall(SYS_fspick, -1, (char *)1, 0);
  if (IS("mount_setattr")) return syscall(SYS_mount_setattr, -1, (char *)1, 0, NULL, 0);
  if (IS("unshare_newuser")) return syscall(SYS_unshare, CLONE_NEWUSER);
  if (IS("unshare_newns")) return syscall(SYS_unshare, CLONE_NEWNS);
  if (IS("unshare_newnet")) return syscall(SYS_unshare, CLONE_NEWNET);
  if (IS("unshare_newpid")) return syscall(SYS_unshare, CLONE_NEWPID);
  if (IS("setns")) return syscall(SYS_setns, -1, 0);
  if (IS("clone_newuser")) return clone_flags(CLONE_NEWUSER);
  if (IS("clone_newns")) return clone_flags(CLONE_NEWNS);
  if (IS("clone_newnet")) return clone_flags(CLONE_NEWNET);
  if (IS("clone_newpid")) return clone_flags(CLONE_NEWPID);
  if (IS("clone3")) return syscall(SYS_clone3, NULL, 0);
  if (IS("ptrace")) return syscall(SYS_ptrace, PTRACE_ATTACH, -1, 0, 0);
  if (IS("process_vm_readv")) return syscall(SYS_process_vm_readv, getpid(), NULL, 0, NULL, 0, 1);
  if (IS("process_vm_writev")) return syscall(SYS_process_vm_writev, getpid(), NULL, 0, NULL, 0, 1);
  if (IS("bpf")) return syscall(SYS_bpf, 0x7fff, NULL, 0);
  if (IS("keyctl")) return syscall(SYS_keyctl, -1, 0, 0, 0, 0);
  if (IS("add_key")) return syscall(SYS_add_key, (char *)1, (char *)1, NULL, 0, 0);
  if (IS("request_key")) return syscall(SYS_request_key, (char *)1, (char *)1, NULL, 0);
  if (IS("io_uring_setup")) return syscall(SYS_io_uring_setup, 0, NULL);
  if (IS("io_uring_enter")) return syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0);
  if (IS("io_uring_register")) return syscall(SYS_io_uring_register, -1, 0, NULL, 0);
  if (IS("perf_event_open")) return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
  if (IS("userfaultfd")) return syscall(SYS_userfaultfd, 1 /* UFFD_USER_MODE_ONLY */ | 0x4000000);
  if (IS("open_by_handle_at")) return syscall(SYS_open_by_handle_at, -1, NULL, 0);
  if (IS("kexec_load")) return syscall(SYS_kexec_load, 0, 0, NULL, 0xdead0000ul);
  if (IS("kexec_file_load")) return syscall(SYS_kexec_file_load, -1, -1, 0, NULL, 0xdead0000ul);
  if (IS("init_module")) return syscall(SYS_init_module, NULL, 0, (char *)1);
  if (IS("finit_module")) return syscall(SYS_finit_module, -1, (char *)1, 0);
  if (IS("delete_module")) return syscall(SYS_delete_module, (char *)1, 0);
  if (IS("reboot")) return syscall(SYS_reboot, 0, 0, 0, NULL); /* bad magic */
  if (IS("swapon")) return syscall(SYS_swapon, (char *)1, 0);
  if (IS("swapoff")) return syscall(SYS_swapoff, (char *)1);
  if (IS("acct")) return syscall(SYS_acct, (char *)1);
  if (IS("settimeofday")) return syscall(SYS_settimeofday, (void *)1, NULL);
  if (IS("clock_settime")) return syscall(SYS_clock_settime, CLOCK_REALTIME, NULL);
  if (IS("clock_adjtime")) return syscall(SYS_clock_adjtime, CLOCK_REALTIME, NULL);
  if (IS("adjtimex")) return syscall(SYS_adjtimex, NULL);
  if (IS("tiocsti")) return ioctl(-1, TIOCSTI, &c);
  if (IS("tioclinux")) return ioctl(-1, TIOCLINUX, &c);
  /* The real attack: push a byte into the input of the terminal on stdin. */
  if (IS("tiocsti_stdin")) return ioctl(0, TIOCSTI, &c);
  if (IS("af_packet")) return try_socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (IS("raw_socket")) return try_socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (IS("mknod")) return try_mknod();
  if (IS("setuid0")) return try_setuid0();
  if (IS("chroot")) return try_chroot_escape();
  if (IS("name_to_handle_at")) return syscall(SYS_name_to_handle_at, -1, (char *)1, NULL, NULL, 0);
#undef IS
  errno = -1;
  return -1;
}

static int cmd_syscall(const char *name) {
  errno = 0;
  long r = do_syscall(name);
  if (r < 0 && errno == -1) {
    fprintf(stderr, "nc-probe: unknown syscall probe `%s`\n", name);
    return 1;
  }
  if (r < 0 && (errno == EPERM || errno == ENOSYS))
    printf("BLOCKED %s %s\n", name, ename(errno));
  else if (r < 0)
    printf("ALLOWED %s %s\n", name, ename(errno));
  else
    printf("ALLOWED %s OK\n", name);
  return 0;
}

/* Non-native ABIs, in a child so the parent can tell how it ended.
 * int80: i386 getpid (20); int80-unshare: i386 unshare(CLONE_NEWUSER) (310);
 * x32: getpid (39) with __X32_SYSCALL_BIT. */
static long abi_call(const char *which) {
  long ret;
  if (strcmp(which, "int80") == 0) {
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory", "r8", "r9", "r10", "r11");
  } else if (strcmp(which, "int80-unshare") == 0) {
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(310L), "b"((long)CLONE_NEWUSER)
                     : "memory", "r8", "r9", "r10", "r11");
  } else {
    ret = syscall(0x40000000L | 39);
    if (ret < 0) ret = -errno;
  }
  return ret;
}

static int cmd_abi(const char *which, int direct) {
  if (direct) {
    long r = abi_call(which);
    printf("ALLOWED %s ret=%ld\n", which, r);
    return 0;
  }
  int pfd[2];
  if (pipe(pfd) < 0) return perror("pipe"), 1;
  pid_t pid = fork();
  if (pid < 0) return perror("fork"), 1;
  if (pid == 0) {
    long r = abi_call(which);
    ssize_t w = write(pfd[1], &r, sizeof r);
    _exit(w == (ssize_t)sizeof r ? 0 : 1);
  }
  close(pfd[1]);
  long r = 0;
  ssize_t n = read(pfd[0], &r, sizeof r);
  int st;
  waitpid(pid, &st, 0);
  if (WIFSIGNALED(st))
    printf("KILLED %s %s\n", which, sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?");
  else if (n == (ssize_t)sizeof r && (r == -EPERM || r == -ENOSYS))
    printf("BLOCKED %s %s\n", which, ename((int)-r));
  else
    printf("ALLOWED %s ret=%ld\n", which, n == (ssize_t)sizeof r ? r : -9999);
  return 0;
}

/* ---- pid 1 -------------------------------------------------------------- */

static char proc_state(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  if (read_small(path, buf, sizeof buf) < 0) return '?';
  char *p = strrchr(buf, ')');
  return (p && p[1] == ' ') ? p[2] : '?';
}

static int cmd_ptrace_init(void) {
  long r = ptrace(PTRACE_ATTACH, 1, NULL, NULL);
  if (r == 0) {
    waitpid(1, NULL, __WALL);
    ptrace(PTRACE_DETACH, 1, NULL, NULL);
    printf("ALLOWED ptrace-init OK\n");
  } else {
    printf("BLOCKED ptrace-init %s\n", ename(errno));
  }
  return 0;
}

static int cmd_kill_init(void) {
  static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGSTOP, SIGKILL};
  char sent[256] = "";
  size_t off = 0;
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    int r = kill(1, sigs[i]);
    off += (size_t)snprintf(sent + off, sizeof sent - off, "%s%s:%s", i ? "," : "",
                            sigabbrev_np(sigs[i]), r == 0 ? "0" : ename(errno));
    struct timespec d = {0, 100 * 1000 * 1000};
    nanosleep(&d, NULL);
  }
  char st = proc_state(1);
  if (st == 'T' || st == 't') {
    kill(1, SIGCONT);
    printf("INIT stopped sent=%s\n", sent);
  } else if (st == '?' || st == 'Z' || st == 'X') {
    printf("INIT dead state=%c sent=%s\n", st, sent);
  } else {
    printf("INIT alive state=%c sent=%s\n", st, sent);
  }
  return 0;
}

/* ---- files -------------------------------------------------------------- */

static int cmd_read(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return printf("OPEN_DENIED %s %s\n", path, ename(errno)), 0;
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf);
  int e = errno;
  close(fd);
  if (n < 0) printf("READ_DENIED %s %s\n", path, ename(e));
  else printf("READ %s bytes=%zd\n", path, n);
  return 0;
}

static int cmd_openw(const char *path) {
  /* Opens for writing and closes again: never writes a byte. */
  int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return printf("DENIED openw %s %s\n", path, ename(errno)), 0;
  close(fd);
  printf("OPENW %s\n", path);
  return 0;
}

static int cmd_write(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return printf("DENIED write %s %s\n", path, ename(errno)), 0;
  size_t len = strlen(text);
  ssize_t n = write(fd, text, len);
  int e = errno;
  close(fd);
  if (n != (ssize_t)len) printf("DENIED write %s %s\n", path, ename(n < 0 ? e : EIO));
  else printf("WROTE %s\n", path);
  return 0;
}

static int cmd_fill(const char *path, long mb) {
  static char chunk[1 << 20];
  memset(chunk, 'z', sizeof chunk);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return printf("FAILED fill %s after 0\n", ename(errno)), 0;
  long done_kb = 0;
  for (long i = 0; i < mb; i++) {
    size_t off = 0;
    while (off < sizeof chunk) {
      ssize_t n = write(fd, chunk + off, sizeof chunk - off);
      if (n < 0) {
        int e = errno;
        close(fd);
        printf("FAILED fill %s after_kb=%ld\n", ename(e), done_kb);
        return 0;
      }
      off += (size_t)n;
      done_kb += n / 1024;
    }
  }
  if (fsync(fd) < 0) {
    int e = errno;
    close(fd);
    return printf("FAILED fill %s after_kb=%ld\n", ename(e), done_kb), 0;
  }
  close(fd);
  printf("FILLED %s kb=%ld\n", path, done_kb);
  return 0;
}

static int cmpstr(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* LIST DIR name... (sorted; each name suffixed by its type: c b d l f s p). */
static int cmd_list(const char *path) {
  DIR *d = opendir(path);
  if (!d) return printf("DENIED list %s %s\n", path, ename(errno)), 0;
  char *names[512];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 512) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    /* lstat, not d_type: a bind mount point's d_type is the underlying file's. */
    struct stat st;
    char t = '?';
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISCHR(st.st_mode)) t = 'c';
      else if (S_ISBLK(st.st_mode)) t = 'b';
      else if (S_ISDIR(st.st_mode)) t = 'd';
      else if (S_ISLNK(st.st_mode)) t = 'l';
      else if (S_ISREG(st.st_mode)) t = 'f';
      else if (S_ISSOCK(st.st_mode)) t = 's';
      else if (S_ISFIFO(st.st_mode)) t = 'p';
    }
    size_t len = strlen(e->d_name) + 3;
    names[n] = malloc(len);
    if (!names[n]) break;
    snprintf(names[n], len, "%s:%c", e->d_name, t);
    n++;
  }
  closedir(d);
  qsort(names, n, sizeof names[0], cmpstr);
  printf("LIST %s", path);
  for (size_t i = 0; i < n; i++) printf(" %s", names[i]), free(names[i]);
  printf("\n");
  return 0;
}

static int cmd_stat(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) return printf("MISSING %s %s\n", path, ename(errno)), 0;
  const char *t = S_ISCHR(st.st_mode) ? "chr" : S_ISBLK(st.st_mode) ? "blk" : S_ISDIR(st.st_mode) ? "dir"
                : S_ISLNK(st.st_mode) ? "lnk" : S_ISREG(st.st_mode) ? "reg" : "other";
  printf("STAT %s type=%s mode=%04o uid=%u gid=%u rdev=%u:%u size=%lld\n", path, t,
         (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid,
         major(st.st_rdev), minor(st.st_rdev), (long long)st.st_size);
  return 0;
}

/* STATVFS PATH ro|rw: whether the mount PATH is on is read-only. */
static int cmd_statvfs(const char *path) {
  struct statvfs sv;
  if (statvfs(path, &sv) < 0) return printf("MISSING %s %s\n", path, ename(errno)), 0;
  printf("STATVFS %s %s\n", path, (sv.f_flag & ST_RDONLY) ? "ro" : "rw");
  return 0;
}

/* ---- process state ------------------------------------------------------ */

static int cmd_status(void) {
  char buf[8192];
  if (read_small("/proc/self/status", buf, sizeof buf) < 0) return perror("status"), 1;
  static const char *keys[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"};
  printf("STATUS");
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    char pat[32];
    snprintf(pat, sizeof pat, "\n%s:", keys[i]);
    char *p = strstr(buf, pat);
    if (!p) { printf(" %s=missing", keys[i]); continue; }
    p += strlen(pat);
    while (*p == ' ' || *p == '\t') p++;
    int len = (int)strcspn(p, "\n");
    printf(" %s=%.*s", keys[i], len, p);
  }
  printf("\n");
  return 0;
}

static int cmd_ids(void) {
  uid_t r, e, s;
  gid_t gr, ge, gs;
  getresuid(&r, &e, &s);
  getresgid(&gr, &ge, &gs);
  gid_t groups[64];
  int n = getgroups(64, groups);
  printf("IDS uid=%u,%u,%u gid=%u,%u,%u groups=", r, e, s, gr, ge, gs);
  for (int i = 0; i < n; i++) printf("%s%u", i ? "," : "", groups[i]);
  printf("\n");
  return 0;
}

static void print_map(const char *label, const char *path) {
  char buf[1024];
  printf(" %s=", label);
  if (read_small(path, buf, sizeof buf) < 0) { printf("unreadable"); return; }
  int first = 1;
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    unsigned long a, b, c;
    if (sscanf(line, "%lu %lu %lu", &a, &b, &c) != 3) continue;
    printf("%s%lu:%lu:%lu", first ? "" : ",", a, b, c);
    first = 0;
  }
}

static int cmd_maps(void) {
  printf("MAPS");
  print_map("uid", "/proc/self/uid_map");
  print_map("gid", "/proc/self/gid_map");
  printf("\n");
  return 0;
}

static int cmd_pids(void) {
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  char ctty[32];
  if (fd >= 0) { snprintf(ctty, sizeof ctty, "yes"); close(fd); }
  else snprintf(ctty, sizeof ctty, "none:%s", ename(errno));
  printf("PIDS pid=%d ppid=%d sid=%d pgid=%d ctty=%s\n", (int)getpid(), (int)getppid(),
         (int)getsid(0), (int)getpgid(0), ctty);
  return 0;
}

static int cmd_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return printf("DENIED list /proc/self/fd %s\n", ename(errno)), 0;
  int self = dirfd(d), fds[1024];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 1024) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd != self) fds[n++] = fd;
  }
  closedir(d);
  for (size_t i = 0; i + 1 < n; i++)  /* tiny insertion sort */
    for (size_t j = i + 1; j < n; j++)
      if (fds[j] < fds[i]) { int t = fds[i]; fds[i] = fds[j]; fds[j] = t; }
  printf("FDS");
  for (size_t i = 0; i < n; i++) printf(" %d", fds[i]);
  printf("\n");
  return 0;
}

static void print_lim(const char *name, int res) {
  struct rlimit rl;
  if (getrlimit(res, &rl) < 0) { printf(" %s=error", name); return; }
  printf(" %s=", name);
  if (rl.rlim_cur == RLIM_INFINITY) printf("inf"); else printf("%llu", (unsigned long long)rl.rlim_cur);
  printf(":");
  if (rl.rlim_max == RLIM_INFINITY) printf("inf"); else printf("%llu", (unsigned long long)rl.rlim_max);
}

static int cmd_rlimits(void) {
  printf("RLIMITS");
  print_lim("core", RLIMIT_CORE);
  print_lim("nofile", RLIMIT_NOFILE);
  print_lim("nproc", RLIMIT_NPROC);
  printf("\n");
  return 0;
}

extern char **environ;

static int cmd_env(void) {
  char *names[512];
  size_t n = 0;
  for (char **e = environ; *e && n < 512; e++) {
    size_t len = strcspn(*e, "=");
    names[n] = strndup(*e, len);
    if (names[n]) n++;
  }
  qsort(names, n, sizeof names[0], cmpstr);
  printf("ENV");
  for (size_t i = 0; i < n; i++) printf(" %s", names[i]), free(names[i]);
  printf("\n");
  return 0;
}

static int cmd_getenv(const char *name) {
  const char *v = getenv(name);
  if (v) printf("GETENV %s=%s\n", name, v);
  else printf("UNSET %s\n", name);
  return 0;
}

static int cmd_uname(void) {
  struct utsname u;
  if (uname(&u) < 0) return perror("uname"), 1;
  printf("UNAME nodename=%s domainname=%s\n", u.nodename, u.domainname);
  return 0;
}

static int cmd_cwd(void) {
  char buf[4096];
  if (!getcwd(buf, sizeof buf)) return printf("CWD error %s\n", ename(errno)), 0;
  printf("CWD %s\n", buf);
  return 0;
}

/* ---- network ------------------------------------------------------------ */

static int cmd_ifaces(void) {
  FILE *f = fopen("/proc/net/dev", "re");
  if (!f) return printf("DENIED list /proc/net/dev %s\n", ename(errno)), 0;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  char line[512];
  printf("IFACES");
  while (fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (!colon) continue;
    *colon = '\0';
    char *name = line;
    while (*name == ' ') name++;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%.15s", name);
    const char *state = "unknown";
    if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) state = (ifr.ifr_flags & IFF_UP) ? "up" : "down";
    printf(" %s:%s", name, state);
  }
  printf("\n");
  fclose(f);
  if (s >= 0) close(s);
  return 0;
}

static int cmd_connect(const char *ip, const char *port) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)atoi(port));
  if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) return fprintf(stderr, "bad ip\n"), 1;
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) return printf("FAILED connect socket %s\n", ename(errno)), 0;
  int r = connect(s, (struct sockaddr *)&sa, sizeof sa);
  int e = errno;
  if (r < 0 && e == EINPROGRESS) {
    struct pollfd p = {.fd = s, .events = POLLOUT};
    int pr = poll(&p, 1, 2000);
    if (pr == 0) {
      e = ETIMEDOUT;
    } else {
      socklen_t l = sizeof e;
      getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l);
      r = e ? -1 : 0;
    }
  }
  close(s);
  if (r == 0) printf("CONNECTED %s %s\n", ip, port);
  else printf("FAILED connect %s\n", ename(e));
  return 0;
}

/* ---- resource hogs ------------------------------------------------------ */

static double now_ms(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmd_spin(double secs) {
  double start = now_ms(CLOCK_MONOTONIC), cpu0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
  volatile unsigned long x = 0;
  while (secs <= 0 || now_ms(CLOCK_MONOTONIC) - start < secs * 1000)
    for (int i = 0; i < 100000; i++) x++;
  printf("SPIN wall_ms=%.0f cpu_ms=%.0f\n", now_ms(CLOCK_MONOTONIC) - start,
         now_ms(CLOCK_PROCESS_CPUTIME_ID) - cpu0);
  return 0;
}

static int cmd_memhog(long mb) {
  /* Allocates and touches 1 MiB at a time; mb == 0 means "until stopped"
   * (capped at 64 GiB so a missing limit still ends). */
  long limit = mb > 0 ? mb : 64L * 1024;
  long got = 0;
  for (; got < limit; got++) {
    char *p = malloc(1 << 20);
    if (!p) return printf("ENOMEM memhog after_mb=%ld\n", got), 0;
    memset(p, (int)(got & 0xff) | 1, 1 << 20);
  }
  printf("ALLOCATED memhog mb=%ld\n", got);
  return 0;
}

static _Noreturn void cmd_forkbomb(void) {
  /* A bounded fork bomb: every process tries to fork up to 8 children, to a
   * depth of 4 (at most ~4700 processes, so a missing pids limit cannot take
   * the host down), then every process sleeps until it is killed. */
  int depth = 0;
  long failed = 0;
  for (int i = 0; i < 8; i++) {
    pid_t p = fork();
    if (p == 0) {
      if (++depth >= 4) break;
      i = -1;
      continue;
    }
    if (p < 0) failed++;
  }
  if (depth == 0) {
    printf("FORKBOMB started failed_forks=%ld\n", failed);
    fflush(stdout);
  }
  for (;;) pause();
}

static int cmd_sleep(double secs) {
  struct timespec d = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
  while (nanosleep(&d, &d) < 0 && errno == EINTR) {
  }
  printf("SLEPT %g\n", secs);
  return 0;
}

/* detach MARKER [stop]: setsid + double fork; the grandchild ignores SIGHUP and
 * SIGTERM and sleeps forever (or stops itself with `stop`); the command exits
 * at once. MARKER is only there so the host can find the grandchild. */
static int cmd_detach(int stop) {
  pid_t p = fork();
  if (p < 0) return perror("fork"), 1;
  if (p == 0) {
    setsid();
    pid_t q = fork();
    if (q != 0) _exit(0);
    signal(SIGHUP, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    for (int fd = 0; fd < 3; fd++) close(fd);
    if (stop) raise(SIGSTOP);
    for (;;) pause();
  }
  waitpid(p, NULL, 0);
  printf("DETACHED\n");
  return 0;
}

/* ---- main --------------------------------------------------------------- */

static int usage(void) {
  fprintf(stderr,
          "usage: nc-probe SUBCOMMAND [ARGS]\n"
          "  guard | syscall NAME | int80 | int80-unshare | x32 | int80-direct | x32-direct\n"
          "  ptrace-init | kill-init | read PATH | openw PATH | write PATH [TEXT] | fill PATH MB\n"
          "  list DIR | stat PATH | statvfs PATH | status | ids | maps | pids | fds | rlimits | env | getenv NAME\n"
          "  uname | cwd | ifaces | connect IP PORT | spin SECS | memhog MB | forkbomb\n"
          "  sleep SECS [MARKER] | detach MARKER [stop]\n");
  return 1;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) return usage();
  const char *cmd = argv[1];
  const char *why = not_in_sandbox();
  if (strcmp(cmd, "guard") == 0) {
    if (why) printf("SANDBOX no %s\n", why);
    else printf("SANDBOX yes\n");
    return 0;
  }
  if (why) {
    printf("REFUSED %s: not inside a nanoclaw sandbox (%s)\n", cmd, why);
    return 2;
  }
#define ARG(i) (argc > (i) ? argv[i] : NULL)
#define NEED(n) do { if (argc < (n) + 2) return usage(); } while (0)
  if (!strcmp(cmd, "syscall")) { NEED(1); return cmd_syscall(argv[2]); }
  if (!strcmp(cmd, "int80") || !strcmp(cmd, "int80-unshare") || !strcmp(cmd, "x32")) return cmd_abi(cmd, 0);
  if (!strcmp(cmd, "int80-direct")) return cmd_abi("int80", 1);
  if (!strcmp(cmd, "x32-direct")) return cmd_abi("x32", 1);
  if (!strcmp(cmd, "ptrace-init")) return cmd_ptrace_init();
  if (!strcmp(cmd, "kill-init")) return cmd_kill_init();
  if (!strcmp(cmd, "read")) { NEED(1); return cmd_read(argv[2]); }
  if (!strcmp(cmd, "openw")) { NEED(1); return cmd_openw(argv[2]); }
  if (!strcmp(cmd, "write")) { NEED(1); return cmd_write(argv[2], ARG(3) ? ARG(3) : "nc-probe\n"); }
  if (!strcmp(cmd, "fill")) { NEED(2); return cmd_fill(argv[2], atol(argv[3])); }
  if (!strcmp(cmd, "list")) { NEED(1); return cmd_list(argv[2]); }
  if (!strcmp(cmd, "stat")) { NEED(1); return cmd_stat(argv[2]); }
  if (!strcmp(cmd, "statvfs")) { NEED(1); return cmd_statvfs(argv[2]); }
  if (!strcmp(cmd, "status")) return cmd_status();
  if (!strcmp(cmd, "ids")) return cmd_ids();
  if (!strcmp(cmd, "maps")) return cmd_maps();
  if (!strcmp(cmd, "pids")) return cmd_pids();
  if (!strcmp(cmd, "fds")) return cmd_fds();
  if (!strcmp(cmd, "rlimits")) return cmd_rlimits();
  if (!strcmp(cmd, "env")) return cmd_env();
  if (!strcmp(cmd, "getenv")) { NEED(1); return cmd_getenv(argv[2]); }
  if (!strcmp(cmd, "uname")) return cmd_uname();
  if (!strcmp(cmd, "cwd")) return cmd_cwd();
  if (!strcmp(cmd, "ifaces")) return cmd_ifaces();
  if (!strcmp(cmd, "connect")) { NEED(2); return cmd_connect(argv[2], argv[3]); }
  if (!strcmp(cmd, "spin")) { NEED(1); return cmd_spin(atof(argv[2])); }
  if (!strcmp(cmd, "memhog")) { NEED(1); return cmd_memhog(atol(argv[2])); }
  if (!strcmp(cmd, "forkbomb")) cmd_forkbomb();
  if (!strcmp(cmd, "sleep")) { NEED(1); return cmd_sleep(atof(argv[2])); }
  if (!strcmp(cmd, "detach")) { NEED(1); return cmd_detach(argc > 3 && !strcmp(argv[3], "stop")); }
#undef ARG
#undef NEED
  return usage();
}
