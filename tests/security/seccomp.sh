# tests/security/seccomp.sh — the syscall filter, probed from inside the sandbox.
# Each call is made with harmless bad arguments (bubblewrap's try-syscall.c):
# had it reached the kernel it would fail with EBADF/EFAULT/EINVAL (the probe
# prints ALLOWED); the filter answers EPERM (ENOSYS for clone3) and the probe
# prints BLOCKED. Some calls are refused by the kernel's own capability check
# with EPERM too; for those the test shows the outcome, not who refused.

# expect_blocked ERRNO|any NAME...: every named probe must print BLOCKED NAME ERRNO.
expect_blocked() {
  local want=$1 s bad=()
  shift
  for s in "$@"; do
    ncprobe -- syscall "$s"
    if [ "$RC" != 0 ]; then bad+=("[$s: exit $RC: $OUT $ERR]"); continue; fi
    if [ "$want" = any ]; then
      [[ "$OUT" == "BLOCKED $s "* ]] || bad+=("[$OUT]")
    else
      [ "$OUT" = "BLOCKED $s $want" ] || bad+=("[$OUT]")
    fi
  done
  [ ${#bad[@]} -eq 0 ] || fail "not blocked with $want: ${bad[*]}"
}

# Attack: remount or mount over something (the mount family, old and new API,
# pivot_root) to reshape the sandbox's view or expose host paths. Must: EPERM.
test_seccomp_mount_family_blocked() {
  expect_blocked EPERM mount umount2 pivot_root open_tree move_mount fsopen fsmount fspick mount_setattr
}

# Attack: make a new user namespace (full capabilities inside it, the first
# step of most kernel exploits) or a new mount/net/pid namespace, or join
# another namespace with setns. Must: EPERM.
test_seccomp_namespace_creation_blocked() {
  expect_blocked EPERM unshare_newuser unshare_newns unshare_newnet unshare_newpid setns \
    clone_newuser clone_newns clone_newnet clone_newpid
}

# Attack: clone3 hides its flags in memory seccomp cannot read. Must: ENOSYS,
# so libc falls back to clone, whose flags the filter can check.
test_seccomp_clone3_enosys() {
  expect_blocked ENOSYS clone3
}

# Attack: read or write another process's memory (ptrace, process_vm_*). Must: EPERM.
test_seccomp_ptrace_family_blocked() {
  expect_blocked EPERM ptrace process_vm_readv process_vm_writev
}

# Attack: the kernel's large attack surfaces — bpf, the keyring, io_uring,
# perf events, userfaultfd (race widening), open_by_handle_at (the
# "shocker" container escape). Must: EPERM.
test_seccomp_kernel_surfaces_blocked() {
  expect_blocked EPERM bpf keyctl add_key request_key io_uring_setup io_uring_enter io_uring_register \
    perf_event_open userfaultfd open_by_handle_at
}

# Attack: change the whole machine — kexec, kernel modules, reboot, swap,
# process accounting, the clock. Must: EPERM.
test_seccomp_system_admin_blocked() {
  expect_blocked EPERM kexec_load kexec_file_load init_module finit_module delete_module reboot \
    swapon swapoff acct settimeofday clock_settime clock_adjtime
}

# Attack: TIOCSTI/TIOCLINUX push keystrokes into a terminal the sandbox
# shares with the host. Must: EPERM whatever the fd.
test_seccomp_terminal_injection_blocked() {
  expect_blocked EPERM tiocsti tioclinux tiocsti_stdin
}

# Attack: TIOCSTI on a real terminal: run under `script` so nanoclaw has a
# pty on stdin. Must: EPERM.
test_seccomp_tiocsti_on_real_terminal_blocked() {
  probe_setup
  local out
  out=$(timeout 20 script -qec "'$NC' run --bind '$TMP/nc:/nc' -- /nc/nc-probe syscall tiocsti_stdin" /dev/null </dev/null 2>&1 | tr -d '\r') || true
  assert_contains "$out" "BLOCKED tiocsti_stdin EPERM" "TIOCSTI with a terminal on stdin"
}

# Attack: raw and packet sockets (sniffing, spoofing). Must: refused.
test_seccomp_raw_sockets_blocked() {
  expect_blocked any af_packet raw_socket
}

# Attack: create a device node (e.g. /dev/mem's 1:1) in writable space, or
# chroot to start the double-chroot escape. Must: refused.
test_device_nodes_and_chroot_blocked() {
  expect_blocked any mknod chroot
}

# Attack: become uid 0. Must: not succeed (EPERM from the filter or the
# kernel, or EINVAL because 0 is not mapped).
test_setuid0_fails() {
  ncprobe -- syscall setuid0
  assert_rc 0 "setuid0 probe"
  assert_contains "$OUT" "setuid0" "probe output"
  assert_not_contains "$OUT" "ALLOWED setuid0 OK" "setresuid(0,0,0) succeeded"
}

# Attack: i386 `int 0x80` reaches the 32-bit syscall table, which an
# x86_64-only filter does not describe. Must: the process is killed by SIGSYS.
test_seccomp_int80_killed() {
  ncprobe -- int80
  assert_rc 0 "int80 probe"
  assert_eq "KILLED int80 SYS" "$OUT" "i386 getpid via int 0x80"
}

# Attack: i386 unshare(CLONE_NEWUSER) through int 0x80 — the bypass itself.
# Must: never succeed (killed, or refused).
test_seccomp_int80_unshare_not_allowed() {
  ncprobe -- int80-unshare
  assert_rc 0 "int80-unshare probe"
  case "$OUT" in
    "KILLED int80-unshare SYS"|"BLOCKED int80-unshare "*) ;;
    *) fail "i386 unshare(CLONE_NEWUSER): $OUT" ;;
  esac
}

# Attack: the x32 ABI (syscall number | 0x40000000). Must: killed by SIGSYS.
test_seccomp_x32_killed() {
  ncprobe -- x32
  assert_rc 0 "x32 probe"
  assert_eq "KILLED x32 SYS" "$OUT" "x32 getpid"
}

# The same, judged from the host: the command itself makes the int 0x80 call;
# nanoclaw must report it killed by signal 31 (SIGSYS), status 128+31.
test_seccomp_int80_direct_reported_by_host() {
  ncprobe --result-json "$TMP/r.json" -- int80-direct
  assert_not_contains "$OUT" "ALLOWED" "int 0x80 returned"
  assert_rc 159 "status of a command killed by SIGSYS"
  assert_eq 31 "$(jget "$TMP/r.json" .signal)" "result signal"
}

# The filter is really installed in the command: /proc/self/status says mode 2.
test_seccomp_mode_filter() {
  ncprobe -- status
  assert_rc 0 "status probe"
  assert_contains "$OUT" " Seccomp=2" "seccomp mode"
}
