/* test_seccomp.c — the syscall filter, probed from a child that loaded it
 * (bubblewrap try-syscall style) and checked offline with a small BPF interpreter. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/util.h"
#include "sandbox/seccomp.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef TIOCSTI
#define TIOCSTI 0x5412
#endif
#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif

#define X32_BIT 0x40000000L

static struct nc_seccomp_filter filter;

static int setup(void **state) {
  (void)state;
  nc_error err = {0};
  if (nc_seccomp_prepare(&filter, &err) < 0) {
    fprintf(stderr, "nc_seccomp_prepare: %s\n", err.msg);
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  nc_seccomp_filter_free(&filter);
  return 0;
}

/* ---- running a probe in a filtered child ------------------------------- */

typedef long (*probe_fn)(const long a[6]);

/* syscall() with -errno on failure, so a probe returns one number. */
static long sc(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
  long r = syscall(nr, a0, a1, a2, a3, a4, a5);
  return r < 0 ? -errno : r;
}

#define LOAD_FAILED (-100000L)

struct outcome {
  long value; /* the probe's return, -errno on failure */
  int status; /* waitpid status of the child */
};

/* Fork; the child sets no_new_privs, loads the filter (unless filtered is
 * false), runs fn and writes its result to the parent through a pipe. */
static struct outcome run_child(probe_fn fn, const long a[6], bool filtered) {
  int p[2];
  assert_int_equal(pipe2(p, O_CLOEXEC), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    long v = LOAD_FAILED;
    if (!filtered || (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && nc_seccomp_load(&filter) == 0)) v = fn(a);
    if (write(p[1], &v, sizeof v) != (ssize_t)sizeof v) _exit(2);
    _exit(0);
  }
  close(p[1]);
  struct outcome o = {.value = LOAD_FAILED - 1};
  ssize_t n;
  do n = read(p[0], &o.value, sizeof o.value);
  while (n < 0 && errno == EINTR);
  close(p[0]);
  pid_t w;
  do w = waitpid(pid, &o.status, 0);
  while (w < 0 && errno == EINTR);
  assert_int_equal(w, pid);
  return o;
}

/* a[0] is the syscall number, a[1..5] its first five arguments. */
static long probe_syscall(const long a[6]) { return sc(a[0], a[1], a[2], a[3], a[4], a[5], 0); }

/* Run syscall nr with args in the filtered child; return -errno or the result. */
static long try_syscall(long nr, long a0, long a1, long a2, long a3, long a4) {
  const long a[6] = {nr, a0, a1, a2, a3, a4};
  struct outcome o = run_child(probe_syscall, a, true);
  assert_true(WIFEXITED(o.status));
  assert_int_equal(WEXITSTATUS(o.status), 0);
  assert_true(o.value != LOAD_FAILED);
  return o.value;
}

static long try_fn(probe_fn fn) {
  const long a[6] = {0};
  struct outcome o = run_child(fn, a, true);
  assert_true(WIFEXITED(o.status));
  assert_int_equal(WEXITSTATUS(o.status), 0);
  assert_true(o.value != LOAD_FAILED);
  return o.value;
}

/* The call reached the kernel: it was not filtered. */
static void assert_reached_kernel(long v) {
  assert_true(v != -EPERM);
  assert_true(v != -ENOSYS);
}

/* ---- ordinary programs work --------------------------------------------- */

static long probe_openat(const long a[6]) {
  (void)a;
  long fd = sc(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDONLY | O_CLOEXEC, 0, 0, 0);
  if (fd >= 0) close((int)fd);
  return fd;
}

static long probe_fork(const long a[6]) {
  (void)a;
  pid_t pid = fork();
  if (pid < 0) return -errno;
  if (pid == 0) _exit(7);
  int st;
  if (waitpid(pid, &st, 0) != pid) return -errno;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1000;
}

static void *thread_main(void *arg) { return arg; }

/* glibc tries clone3 first; ENOSYS must make it fall back to clone. */
static long probe_pthread(const long a[6]) {
  (void)a;
  pthread_t t;
  void *res = NULL;
  int e = pthread_create(&t, NULL, thread_main, (void *)42);
  if (e) return -e;
  pthread_join(t, &res);
  return (long)res;
}

static void test_ordinary_calls_allowed(void **state) {
  (void)state;
  assert_true(try_syscall(SYS_getpid, 0, 0, 0, 0, 0) > 0);
  assert_int_equal(try_syscall(SYS_read, -1, 0, 0, 0, 0), -EBADF);
  assert_true(try_fn(probe_openat) >= 0);
  assert_int_equal(try_syscall(SYS_getrandom, 0, 0, 0, 0, 0), 0);
  assert_int_equal(try_syscall(SYS_mprotect, 1, 4096, 0, 0, 0), -EINVAL); /* unaligned */
  assert_int_equal(try_syscall(SYS_futex, 0, 0, 0, 0, 0), -EFAULT);
  assert_int_equal(try_syscall(SYS_execve, 0, 0, 0, 0, 0), -EFAULT);
  assert_true(try_syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
  assert_int_equal(try_fn(probe_fork), 7);
  /* More of what ordinary programs need, with arguments the kernel rejects. */
  static const long reached[] = {SYS_memfd_create, SYS_rseq,       SYS_sched_getaffinity, SYS_wait4,
                                 SYS_epoll_ctl,    SYS_pipe2,      SYS_clock_nanosleep,   SYS_statx,
                                 SYS_getdents64,   SYS_sendmsg,    SYS_close_range,
                                 SYS_landlock_create_ruleset, SYS_seccomp, SYS_set_robust_list};
  for (size_t i = 0; i < NC_ARRAY_SIZE(reached); i++) assert_reached_kernel(try_syscall(reached[i], -1, 0, -1, 0, 0));
  /* fchmodat2 (glibc falls back only on ENOSYS, so it must never be EPERM) */
  int fchmodat2 = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, "fchmodat2");
  if (fchmodat2 >= 0) assert_reached_kernel(try_syscall(fchmodat2, -1, 0, 0, 0, 0));
  assert_int_equal(try_fn(probe_pthread), 42);
}

/* ---- namespaces and mounts ---------------------------------------------- */

/* Attack: mount over something (e.g. bind a host path, remount / rw). */
static void test_mount_denied(void **state) {
  (void)state;
  assert_int_equal(try_syscall(SYS_mount, 0, 0, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_umount2, 0, 0, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_pivot_root, 0, 0, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_chroot, 0, 0, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_fsopen, 0, 0, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_open_tree, -1, 0, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_move_mount, -1, 0, -1, 0, 0), -EPERM);
}

/* Attack: a new user namespace hands back every capability and with it
 * the whole namespaced kernel surface (netfilter, mounts, ...). */
static void test_unshare_setns_denied(void **state) {
  (void)state;
  assert_int_equal(try_syscall(SYS_unshare, CLONE_NEWUSER, 0, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_unshare, 0, 0, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_setns, -1, 0, 0, 0, 0), -EPERM);
}

/* Attack: the same new namespaces through clone's flags. CLONE_SIGHAND
 * without CLONE_VM makes the kernel refuse with EINVAL, so a call that got
 * past the filter would do nothing. */
static void test_clone_namespaces_denied(void **state) {
  (void)state;
  static const long ns[] = {CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
                            CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};
  for (size_t i = 0; i < NC_ARRAY_SIZE(ns); i++)
    assert_int_equal(try_syscall(SYS_clone, ns[i] | CLONE_SIGHAND, 0, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNET | CLONE_SIGHAND, 0, 0, 0, 0), -EPERM);
  /* Same without namespace flags: reaches the kernel. */
  assert_int_equal(try_syscall(SYS_clone, CLONE_SIGHAND, 0, 0, 0, 0), -EINVAL);
}

/* Attack: clone3 hides its flags behind a pointer the filter cannot read;
 * it must look absent (ENOSYS) so libc falls back to clone. */
static void test_clone3_enosys(void **state) {
  (void)state;
  assert_int_equal(try_syscall(SYS_clone3, 0, 0, 0, 0, 0), -ENOSYS);
}

/* ---- other processes, kernel interfaces ---------------------------------- */

/* Attack: read or write another process's memory (e.g. the supervisor's
 * helpers or a sibling agent). */
static void test_ptrace_denied(void **state) {
  (void)state;
  assert_int_equal(try_syscall(SYS_ptrace, PTRACE_PEEKUSER, -1, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_process_vm_readv, -1, 0, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_process_vm_writev, -1, 0, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_pidfd_getfd, -1, 0, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_kcmp, -1, -1, -1, 0, 0), -EPERM);
}

/* Attack: the large, CVE-rich kernel interfaces an agent never needs.
 * Every probe has invalid arguments, so it would be harmless unfiltered. */
static void test_kernel_surface_denied(void **state) {
  (void)state;
  struct {
    long nr, a0, a1, a2, a3;
  } c[] = {
      {SYS_bpf, -1, 0, 0, 0},                /* eBPF verifier bugs */
      {SYS_perf_event_open, 0, 0, -1, -1},   /* perf: CVE-2013-2094 and many more */
      {SYS_userfaultfd, -1, 0, 0, 0},        /* widens race windows in kernel exploits */
      {SYS_io_uring_setup, 0, 0, 0, 0},      /* io_uring: a long CVE list, bypasses syscall filters */
      {SYS_io_uring_enter, -1, 0, 0, 0},
      {SYS_io_uring_register, -1, 0, 0, 0},
      {SYS_keyctl, -1, 0, 0, 0},             /* the keyring is not namespaced */
      {SYS_add_key, 0, 0, 0, 0},
      {SYS_request_key, 0, 0, 0, 0},
      {SYS_open_by_handle_at, -1, 0, 0, 0},  /* CVE-2014-3519 "shocker": leave the bind mount */
      {SYS_name_to_handle_at, -1, 0, 0, 0},
      {SYS_kexec_load, 0, 1000, 0, 0x8000},  /* replace the kernel (invalid flags) */
      {SYS_kexec_file_load, -1, -1, 0, 0},
      {SYS_init_module, 0, 0, 0, 0},         /* load kernel code */
      {SYS_finit_module, -1, 0, 0, 0},
      {SYS_delete_module, 0, 0, 0, 0},
      {SYS_reboot, 0, 0, 0, 0},              /* bad magic */
      {SYS_swapon, 0, 0, 0, 0},
      {SYS_acct, -1, 0, 0, 0},
      {SYS_settimeofday, 0, 0, 0, 0},         /* the host clock */
      {SYS_clock_settime, -1, 0, 0, 0},
      {SYS_clock_adjtime, -1, 0, 0, 0},
      {SYS_adjtimex, 0, 0, 0, 0},
      {SYS_syslog, -1, 0, 0, 0},             /* the host's kernel log */
      {SYS_quotactl, 0, 0, 0, 0},
      {SYS_iopl, 99, 0, 0, 0},               /* raw port I/O */
      {SYS_ioperm, 0, 0, 99, 0},
      {SYS_uselib, 0, 0, 0, 0},
      {SYS_ustat, 0, 0, 0, 0},
      {SYS_sysfs, 99, 0, 0, 0},
      {SYS_vhangup, 0, 0, 0, 0},
      {SYS_fanotify_init, -1, 0, 0, 0},
      {SYS_mbind, 0, 0, 99, 0},              /* NUMA policy: Docker denies without CAP_SYS_NICE */
      {SYS_set_mempolicy, 99, 0, 0, 0},
      {SYS_move_pages, -1, 0, 0, 0},
      {SYS_sethostname, 0, 99999, 0, 0},
      {SYS_personality, 0x0400000 /* READ_IMPLIES_EXEC */, 0, 0, 0},
      {SYS_personality, 0x0040000 /* ADDR_NO_RANDOMIZE */, 0, 0, 0},
  };
  for (size_t i = 0; i < NC_ARRAY_SIZE(c); i++) {
    long v = try_syscall(c[i].nr, c[i].a0, c[i].a1, c[i].a2, c[i].a3, 0);
    if (v != -EPERM) fail_msg("syscall %ld: got %ld, want -EPERM", c[i].nr, v);
  }
  /* Docker's personality values still work (0xffffffff queries). */
  assert_true(try_syscall(SYS_personality, 0xffffffffL, 0, 0, 0, 0) >= 0);
  assert_true(try_syscall(SYS_personality, 0, 0, 0, 0, 0) >= 0);
}

/* ---- ioctl ---------------------------------------------------------------- */

/* Attack: TIOCSTI pushes keystrokes into a terminal shared with the host
 * (CVE-2017-5226); TIOCLINUX does the same on a VT. fd -1 keeps the probe
 * harmless. The kernel reads cmd as 32 bits, so setting bit 32 must not
 * slip past. */
static void test_ioctl_tiocsti_denied(void **state) {
  (void)state;
  assert_int_equal(try_syscall(SYS_ioctl, -1, TIOCSTI, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_ioctl, -1, 0x100005412L, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_ioctl, -1, (long)0xffffffff00005412UL, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_ioctl, -1, TIOCLINUX, 0, 0, 0), -EPERM);
  assert_int_equal(try_syscall(SYS_ioctl, -1, 0x10000541CL, 0, 0, 0), -EPERM);
  /* Other ioctls reach the kernel, including a sign-extended request. */
  assert_int_equal(try_syscall(SYS_ioctl, -1, 0x5401 /* TCGETS */, 0, 0, 0), -EBADF);
  assert_int_equal(try_syscall(SYS_ioctl, -1, (long)(int)0x80045430 /* TIOCGPTN */, 0, 0, 0), -EBADF);
  assert_int_equal(try_syscall(SYS_ioctl, -1, 0x5413, 0, 0, 0), -EBADF);
  assert_int_equal(try_syscall(SYS_ioctl, -1, 0x5402, 0, 0, 0), -EBADF);
}

/* ---- sockets -------------------------------------------------------------- */

static long probe_socket(const long a[6]) {
  long fd = sc(SYS_socket, a[0], a[1], a[2], 0, 0, 0);
  if (fd >= 0) close((int)fd);
  return fd >= 0 ? 0 : fd;
}

static long try_socket(long family, long type, long proto) {
  const long a[6] = {family, type, proto};
  struct outcome o = run_child(probe_socket, a, true);
  assert_true(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0);
  return o.value;
}

/* Attack: AF_PACKET sees and forges every frame on the interface, raw inet
 * sockets forge packets; netlink reconfigures the network namespace;
 * SOCK_PACKET on AF_INET is the kernel's legacy alias for AF_PACKET. */
static void test_socket_families(void **state) {
  (void)state;
  assert_int_equal(try_socket(AF_PACKET, SOCK_RAW, 0), -EPERM);
  assert_int_equal(try_socket(AF_PACKET, SOCK_DGRAM, 0), -EPERM);
  assert_int_equal(try_socket(AF_NETLINK, SOCK_RAW, 0), -EPERM);
  assert_int_equal(try_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), -EPERM);
  assert_int_equal(try_socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 255), -EPERM);
  assert_int_equal(try_socket(AF_INET6, SOCK_RAW, 58), -EPERM);
  assert_int_equal(try_socket(AF_INET, SOCK_PACKET, 0), -EPERM);
  assert_int_equal(try_socket(0x100000000L | AF_PACKET, SOCK_RAW, 0), -EPERM); /* kernel reads int */
  assert_int_equal(try_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
  assert_int_equal(try_socket(AF_INET6, SOCK_DGRAM, 0), 0);
  assert_int_equal(try_socket(AF_UNIX, SOCK_STREAM, 0), 0);
  assert_int_equal(try_socket(AF_UNIX, SOCK_SEQPACKET, 0), 0);
}

/* ---- unknown syscalls and other ABIs --------------------------------------- */

/* A syscall number libseccomp does not know (newer than our list): ENOSYS,
 * so libc treats it as absent and falls back. */
static void test_unknown_syscall_enosys(void **state) {
  (void)state;
  assert_int_equal(try_syscall(600, 0, 0, 0, 0, 0), -ENOSYS);
  assert_int_equal(try_syscall(999, 0, 0, 0, 0, 0), -ENOSYS);
  assert_int_equal(try_syscall(0x3fffffffL, 0, 0, 0, 0, 0), -ENOSYS);
}

static long probe_x32_getpid(const long a[6]) {
  (void)a;
  return syscall(X32_BIT | SYS_getpid);
}

/* Attack: the x32 ABI (nr | 0x40000000) reaches the same kernel functions
 * under numbers an x86_64 rule set does not mention. The filter must kill. */
static void test_x32_killed(void **state) {
  (void)state;
  const long a[6] = {0};
  struct outcome o = run_child(probe_x32_getpid, a, true);
  assert_true(WIFSIGNALED(o.status));
  assert_int_equal(WTERMSIG(o.status), SIGSYS);
}

static long probe_int80_getpid(const long a[6]) {
  (void)a;
  long ret;
  /* i386 getpid is 20 */
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory", "r8", "r9", "r10", "r11");
  return ret;
}

/* Attack: `int $0x80` enters the i386 syscall table (AUDIT_ARCH_I386),
 * where numbers mean different calls; the filter must kill, not judge them
 * with x86_64 rules. */
static void test_int80_killed(void **state) {
  (void)state;
  const long a[6] = {0};
  /* Control: without the filter it is a plain getpid; skip if the kernel
   * has no ia32 emulation (then int 0x80 faults on its own). */
  struct outcome ctl = run_child(probe_int80_getpid, a, false);
  if (!WIFEXITED(ctl.status) || ctl.value <= 0) skip();
  struct outcome o = run_child(probe_int80_getpid, a, true);
  assert_true(WIFSIGNALED(o.status));
  assert_int_equal(WTERMSIG(o.status), SIGSYS);
}

/* ---- the compiled program, checked offline ----------------------------------- */

/* A classic-BPF interpreter for the subset libseccomp emits, run over a
 * struct seccomp_data: lets the tests ask about any argument value without
 * making the call. Returns the SECCOMP_RET_* value, or 0xdead on a bad program. */
static uint32_t bpf_run(const struct nc_seccomp_filter *f, uint32_t arch, int nr, const uint64_t args[6]) {
  struct seccomp_data d = {.nr = nr, .arch = arch};
  for (int i = 0; i < 6; i++) d.args[i] = args ? args[i] : 0;
  uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = {0};
  for (unsigned pc = 0; pc < f->len; pc++) {
    const struct sock_filter *in = &f->insns[pc];
    uint32_t k = in->k;
    switch (in->code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (k % 4 || k + 4 > sizeof d) return 0xdead;
        memcpy(&A, (const char *)&d + k, 4);
        break;
      case BPF_LD | BPF_IMM: A = k; break;
      case BPF_LDX | BPF_IMM: X = k; break;
      case BPF_LD | BPF_MEM: if (k >= BPF_MEMWORDS) return 0xdead; A = M[k]; break;
      case BPF_LDX | BPF_MEM: if (k >= BPF_MEMWORDS) return 0xdead; X = M[k]; break;
      case BPF_ST: if (k >= BPF_MEMWORDS) return 0xdead; M[k] = A; break;
      case BPF_STX: if (k >= BPF_MEMWORDS) return 0xdead; M[k] = X; break;
      case BPF_ALU | BPF_AND | BPF_K: A &= k; break;
      case BPF_ALU | BPF_OR | BPF_K: A |= k; break;
      case BPF_MISC | BPF_TAX: X = A; break;
      case BPF_MISC | BPF_TXA: A = X; break;
      case BPF_JMP | BPF_JA: pc += k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += A == k ? in->jt : in->jf; break;
      case BPF_JMP | BPF_JGT | BPF_K: pc += A > k ? in->jt : in->jf; break;
      case BPF_JMP | BPF_JGE | BPF_K: pc += A >= k ? in->jt : in->jf; break;
      case BPF_JMP | BPF_JSET | BPF_K: pc += (A & k) ? in->jt : in->jf; break;
      case BPF_JMP | BPF_JEQ | BPF_X: pc += A == X ? in->jt : in->jf; break;
      case BPF_JMP | BPF_JGT | BPF_X: pc += A > X ? in->jt : in->jf; break;
      case BPF_JMP | BPF_JGE | BPF_X: pc += A >= X ? in->jt : in->jf; break;
      case BPF_RET | BPF_K: return k;
      case BPF_RET | BPF_A: return A;
      default: return 0xdead;
    }
  }
  return 0xdead; /* fell off the end */
}

#define RET_ERRNO(e) (SECCOMP_RET_ERRNO | (uint32_t)(e))

static uint32_t judge(int nr, uint64_t a0, uint64_t a1) {
  const uint64_t args[6] = {a0, a1, 0, 0, 0, 0};
  return bpf_run(&filter, AUDIT_ARCH_X86_64, nr, args);
}

/* Every number the kernel could be asked for gets exactly one of: allow,
 * EPERM (libseccomp knows it), ENOSYS (it does not); and the dangerous list
 * is EPERM whatever libseccomp version built the filter. */
static void test_program_classifies_every_number(void **state) {
  (void)state;
  for (int nr = 0; nr < 1024; nr++) {
    uint32_t r = judge(nr, 0, 0);
    char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);
    if (!name && r != RET_ERRNO(ENOSYS) && nr != SYS_clone3) fail_msg("unknown syscall %d: 0x%x, want ENOSYS", nr, r);
    if (name && r != SECCOMP_RET_ALLOW && r != RET_ERRNO(EPERM) && nr != SYS_clone3 && nr != SYS_personality)
      fail_msg("syscall %s: 0x%x", name, r);
    free(name);
  }
  assert_int_equal(judge(SYS_clone3, 0, 0), RET_ERRNO(ENOSYS));
  static const char *const must_deny[] = {
      "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick",
      "move_mount", "open_tree", "mount_setattr", "ptrace", "process_vm_readv", "process_vm_writev", "keyctl",
      "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
      "io_uring_register", "open_by_handle_at", "name_to_handle_at", "kexec_load", "kexec_file_load",
      "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct", "settimeofday",
      "clock_settime", "clock_adjtime", "adjtimex", "syslog", "quotactl", "lookup_dcookie", "nfsservctl",
      "vhangup", "iopl", "ioperm", "uselib", "ustat", "sysfs", "_sysctl", "pidfd_getfd", "kcmp",
      "fanotify_init", "mbind", "set_mempolicy", "move_pages", "migrate_pages",
  };
  for (size_t i = 0; i < NC_ARRAY_SIZE(must_deny); i++) {
    int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, must_deny[i]);
    assert_true(nr >= 0);
    if (judge(nr, 0, 0) != RET_ERRNO(EPERM)) fail_msg("%s is not EPERM", must_deny[i]);
  }
}

/* The argument rules, over values the live probes cannot cover. */
static void test_program_argument_rules(void **state) {
  (void)state;
  /* clone: each namespace flag alone and with high bits around it */
  static const uint64_t ns[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,    CLONE_NEWUSER,
                                CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME};
  for (size_t i = 0; i < NC_ARRAY_SIZE(ns); i++) {
    assert_int_equal(judge(SYS_clone, ns[i], 0), RET_ERRNO(EPERM));
    assert_int_equal(judge(SYS_clone, ns[i] | 0xffffffff00000000ULL | SIGCHLD, 0), RET_ERRNO(EPERM));
  }
  assert_int_equal(judge(SYS_clone, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                                        CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID,
                         0),
                   SECCOMP_RET_ALLOW);
  /* ioctl: only the 32-bit values TIOCSTI/TIOCLINUX are refused, whatever
   * the high half; their neighbours pass. */
  for (uint64_t hi = 0; hi < 4; hi++) {
    assert_int_equal(judge(SYS_ioctl, 0, (hi << 32) | TIOCSTI), RET_ERRNO(EPERM));
    assert_int_equal(judge(SYS_ioctl, 0, (hi << 62) | TIOCLINUX), RET_ERRNO(EPERM));
  }
  for (uint64_t cmd = 0x5400; cmd < 0x5430; cmd++)
    if (cmd != TIOCSTI && cmd != TIOCLINUX) assert_int_equal(judge(SYS_ioctl, 0, cmd), SECCOMP_RET_ALLOW);
  assert_int_equal(judge(SYS_ioctl, 0, 0xffffffffffffffffULL), SECCOMP_RET_ALLOW);
  /* socket: every family below 64 and every inet type */
  for (uint64_t fam = 0; fam < 64; fam++) {
    uint32_t want = (fam == AF_UNIX || fam == AF_INET || fam == AF_INET6) ? SECCOMP_RET_ALLOW : RET_ERRNO(EPERM);
    assert_int_equal(judge(SYS_socket, fam, SOCK_STREAM), want);
    assert_int_equal(judge(SYS_socket, fam | (1ULL << 40), SOCK_STREAM), want);
  }
  for (uint64_t type = 0; type < 16; type++) {
    bool ok = type == SOCK_STREAM || type == SOCK_DGRAM || type == SOCK_SEQPACKET;
    uint32_t want = ok ? SECCOMP_RET_ALLOW : RET_ERRNO(EPERM);
    assert_int_equal(judge(SYS_socket, AF_INET, type | SOCK_CLOEXEC), want);
    assert_int_equal(judge(SYS_socket, AF_INET6, type | SOCK_NONBLOCK), want);
    assert_int_equal(judge(SYS_socket, AF_UNIX, type), SECCOMP_RET_ALLOW);
  }
  /* personality: Docker's five values only */
  static const uint64_t pok[] = {0, 8, 0x20000, 0x20008, 0xffffffff};
  for (size_t i = 0; i < NC_ARRAY_SIZE(pok); i++) assert_int_equal(judge(SYS_personality, pok[i], 0), SECCOMP_RET_ALLOW);
  static const uint64_t pbad[] = {1, 7, 9, 0x20001, 0x20009, 0x0400000, 0x0040000, 0xfffffffe, 0x80000000};
  for (size_t i = 0; i < NC_ARRAY_SIZE(pbad); i++)
    assert_int_equal(judge(SYS_personality, pbad[i], 0), RET_ERRNO(EPERM));
}

/* Other ABIs: i386 and x32 numbers are killed, not judged. */
static void test_program_other_abis(void **state) {
  (void)state;
  assert_int_equal(bpf_run(&filter, AUDIT_ARCH_I386, 20, NULL), SECCOMP_RET_KILL_PROCESS);
  assert_int_equal(bpf_run(&filter, AUDIT_ARCH_I386, 1, NULL), SECCOMP_RET_KILL_PROCESS);
  /* libseccomp's x86_64 filter rejects nr >= 0x40000000 (the x32 bit). */
  assert_int_equal(bpf_run(&filter, AUDIT_ARCH_X86_64, X32_BIT | SYS_getpid, NULL), SECCOMP_RET_KILL_PROCESS);
  assert_int_equal(bpf_run(&filter, AUDIT_ARCH_X86_64, X32_BIT | SYS_mount, NULL), SECCOMP_RET_KILL_PROCESS);
  assert_int_equal(bpf_run(&filter, AUDIT_ARCH_X86_64, 0x7fffffff, NULL), SECCOMP_RET_KILL_PROCESS);
  /* ...except -1, the number a tracer uses to skip a call; it matches no rule. */
  assert_int_equal(bpf_run(&filter, AUDIT_ARCH_X86_64, -1, NULL), RET_ERRNO(ENOSYS));
  assert_int_equal(bpf_run(&filter, AUDIT_ARCH_X86_64, SYS_getpid, NULL), SECCOMP_RET_ALLOW);
}

/* ---- the cache and the API edges --------------------------------------------- */

static void test_prepare_cached(void **state) {
  (void)state;
  nc_error err = {0};
  struct nc_seccomp_filter a = {0}, b = {0};
  assert_int_equal(nc_seccomp_prepare(&a, &err), 0);
  assert_int_equal(nc_seccomp_prepare(&b, &err), 0);
  assert_int_equal(a.len, filter.len);
  assert_int_equal(b.len, filter.len);
  assert_true(a.len > 0 && a.len <= BPF_MAXINSNS);
  assert_memory_equal(a.insns, filter.insns, a.len * sizeof *a.insns);
  assert_memory_equal(b.insns, filter.insns, b.len * sizeof *b.insns);
  assert_ptr_not_equal(a.insns, b.insns); /* each caller owns its copy */
  /* The program embedded at build time is exactly what the policy compiles
   * to now: a policy edit without a rebuild cannot go unnoticed. */
  struct nc_seccomp_filter fresh = {0};
  assert_int_equal(nc_seccomp_compile(&fresh, &err), 0);
  assert_int_equal(fresh.len, a.len);
  assert_memory_equal(fresh.insns, a.insns, a.len * sizeof *a.insns);
  nc_seccomp_filter_free(&fresh);
  nc_seccomp_filter_free(&a);
  nc_seccomp_filter_free(&b);
  assert_null(a.insns);
  nc_seccomp_filter_free(NULL);
}

static void test_load_rejects_empty(void **state) {
  (void)state;
  struct nc_seccomp_filter empty = {0};
  assert_int_equal(nc_seccomp_load(&empty), -EINVAL);
  assert_int_equal(nc_seccomp_load(NULL), -EINVAL);
}

/* Without no_new_privs (and without CAP_SYS_ADMIN) the kernel refuses. As
 * root the child first becomes nobody, dropping every capability. */
static long probe_load_without_nnp(const long a[6]) {
  (void)a;
  if (geteuid() == 0 && (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)) return -1000;
  return nc_seccomp_load(&filter);
}

static void test_load_needs_nnp_when_unprivileged(void **state) {
  (void)state;
  const long a[6] = {0};
  struct outcome o = run_child(probe_load_without_nnp, a, false);
  assert_int_equal(o.value, -EACCES);
}

/* The Docker/OCI export says the same thing as the BPF. */
static void test_docker_json(void **state) {
  (void)state;
  nc_error err = {0};
  char *s = nc_seccomp_export_docker_json(&err);
  assert_non_null(s);
  json_error_t jerr;
  json_t *root = json_loads(s, 0, &jerr);
  free(s);
  assert_non_null(root);
  assert_string_equal(json_string_value(json_object_get(root, "defaultAction")), "SCMP_ACT_ERRNO");
  assert_int_equal(json_integer_value(json_object_get(root, "defaultErrnoRet")), ENOSYS);
  json_t *rules = json_object_get(root, "syscalls");
  assert_true(json_array_size(rules) > 3);
  bool saw_read_allowed = false, saw_mount_eperm = false, saw_clone_masked = false;
  size_t i;
  json_t *r;
  json_array_foreach(rules, i, r) {
    const char *action = json_string_value(json_object_get(r, "action"));
    json_int_t eno = json_integer_value(json_object_get(r, "errnoRet"));
    size_t j;
    json_t *n;
    json_array_foreach(json_object_get(r, "names"), j, n) {
      const char *name = json_string_value(n);
      if (!strcmp(name, "read") && !strcmp(action, "SCMP_ACT_ALLOW")) saw_read_allowed = true;
      if (!strcmp(name, "mount")) {
        assert_string_equal(action, "SCMP_ACT_ERRNO");
        assert_int_equal(eno, EPERM);
        saw_mount_eperm = true;
      }
      if (!strcmp(name, "clone") && !strcmp(action, "SCMP_ACT_ALLOW")) {
        json_t *arg = json_array_get(json_object_get(r, "args"), 0);
        assert_int_equal(json_integer_value(json_object_get(arg, "index")), 0);
        assert_string_equal(json_string_value(json_object_get(arg, "op")), "SCMP_CMP_MASKED_EQ");
        assert_int_equal(json_integer_value(json_object_get(arg, "valueTwo")), 0);
        saw_clone_masked = true;
      }
    }
  }
  assert_true(saw_read_allowed && saw_mount_eperm && saw_clone_masked);
  json_decref(root);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ordinary_calls_allowed),
      cmocka_unit_test(test_mount_denied),
      cmocka_unit_test(test_unshare_setns_denied),
      cmocka_unit_test(test_clone_namespaces_denied),
      cmocka_unit_test(test_clone3_enosys),
      cmocka_unit_test(test_ptrace_denied),
      cmocka_unit_test(test_kernel_surface_denied),
      cmocka_unit_test(test_ioctl_tiocsti_denied),
      cmocka_unit_test(test_socket_families),
      cmocka_unit_test(test_unknown_syscall_enosys),
      cmocka_unit_test(test_x32_killed),
      cmocka_unit_test(test_int80_killed),
      cmocka_unit_test(test_program_classifies_every_number),
      cmocka_unit_test(test_program_argument_rules),
      cmocka_unit_test(test_program_other_abis),
      cmocka_unit_test(test_prepare_cached),
      cmocka_unit_test(test_load_rejects_empty),
      cmocka_unit_test(test_load_needs_nnp_when_unprivileged),
      cmocka_unit_test(test_docker_json),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
