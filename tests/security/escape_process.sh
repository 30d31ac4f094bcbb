# tests/security/escape_process.sh — the command's process: capabilities,
# no_new_privs, pid 1, session/terminal, inherited fds, environment, rlimits,
# hostname.

# Attack: use any capability (in the sandbox's user namespace, that is still
# a lot of kernel surface). Must: all five sets empty, no_new_privs set, and
# the seccomp filter installed.
test_capabilities_empty_nnp_seccomp() {
  ncprobe -- status
  assert_eq "STATUS CapInh=0000000000000000 CapPrm=0000000000000000 CapEff=0000000000000000 CapBnd=0000000000000000 CapAmb=0000000000000000 NoNewPrivs=1 Seccomp=2" \
    "$OUT" "capability sets / NoNewPrivs / Seccomp"
}

# A setuid-root binary cannot give privileges back (no_new_privs): `su` from
# the host's /usr/bin fails and the uid stays 1000.
test_setuid_binary_gives_nothing() {
  [ -u /usr/bin/su ] || [ -u /bin/su ] || fail "host precondition: no setuid su"
  ncrun -- /bin/sh -c 'su -c id root </dev/null; id -u'
  assert_contains "$OUT" "1000" "uid after trying su"
  assert_not_contains "$OUT" "uid=0" "su gave root"
}

# pid 1 inside is nanoclaw's init; the command is pid 2 under it, the leader
# of its own session, with no controlling terminal to inject into.
test_command_is_pid2_session_leader_without_ctty() {
  ncprobe -- pids
  assert_eq "PIDS pid=2 ppid=1 sid=2 pgid=2 ctty=none:ENXIO" "$OUT" "pid/session/ctty"
}

# Attack: kill pid 1 inside (TERM INT HUP QUIT USR1 STOP KILL) to tear down
# the sandbox's supervision. Must: init stays alive and running, and the run
# ends normally with the probe's own status 0.
test_init_cannot_be_signalled() {
  ncprobe -- kill-init
  assert_rc 0 "the command survived its attack on init"
  assert_contains "$OUT" "INIT alive" "init after the signals"
}

# Attack: ptrace pid 1 (then run code as it). Must: refused.
test_init_cannot_be_ptraced() {
  ncprobe -- ptrace-init
  assert_eq "BLOCKED ptrace-init EPERM" "$OUT" "ptrace(PTRACE_ATTACH, 1)"
}

# Attack: read init's environment and memory, list its fds (it may hold
# nanoclaw's sync sockets, host fds, secrets). Must: nothing readable.
test_init_memory_environ_fds_unreadable() {
  ncprobe -- read /proc/1/environ
  case "$OUT" in
    "OPEN_DENIED /proc/1/environ "*|"READ_DENIED /proc/1/environ "*|"READ /proc/1/environ bytes=0") ;;
    *) fail "/proc/1/environ: $OUT" ;;
  esac
  ncprobe -- read /proc/1/mem
  assert_contains "$OUT" "OPEN_DENIED /proc/1/mem " "/proc/1/mem"
  ncprobe -- list /proc/1/fd
  assert_contains "$OUT" "DENIED list /proc/1/fd " "/proc/1/fd"
  ncprobe -- list /proc/1/root/
  assert_contains "$OUT" "DENIED list /proc/1/root/ " "/proc/1/root"
}

# Attack: use an fd leaked from the caller (a host file, a socket, a dirfd —
# CVE-2024-21626). The caller holds fds 7 (read) and 9 (write) open on host
# files. Must: only 0, 1, 2 inside.
test_only_stdio_fds_inherited() {
  probe_setup
  echo hostdata >"$TMP/leak-r"
  local out
  out=$("$NC" run --bind "$TMP/nc:/nc" -- /nc/nc-probe fds 7<"$TMP/leak-r" 9>"$TMP/leak-w" </dev/null 2>&1) || fail "run failed: $out"
  assert_eq "FDS 0 1 2" "$out" "fds inside"
}

# Attack: read secrets from the environment the caller happened to have.
# Must: only PATH HOME LANG TERM and what --env names reach the command.
test_env_scrubbed() {
  probe_setup
  local out names n
  out=$(env SECRET_TOKEN=s3cr3t AWS_SECRET_ACCESS_KEY=x LD_PRELOAD= LANG=C.UTF-8 TERM=xterm \
        "$NC" run --bind "$TMP/nc:/nc" --env FOO=bar -- /nc/nc-probe env </dev/null 2>&1) || fail "run failed: $out"
  assert_contains "$out" "ENV " "probe output"
  names=${out#ENV }
  for n in $names; do
    case "$n" in PATH|HOME|LANG|TERM|FOO) ;; *) fail "variable $n leaked into the sandbox: [$out]" ;; esac
  done
  assert_contains " $names " " PATH " "PATH set"
  assert_contains " $names " " FOO " "--env FOO"
}

# Attack: dump core files (with memory of whatever the sandbox holds) or
# exhaust fds. Must: RLIMIT_CORE 0 (soft and hard), RLIMIT_NOFILE finite and
# not above the host's hard limit.
test_rlimits_core_zero_nofile_bounded() {
  ncprobe -- rlimits
  assert_contains "$OUT" "RLIMITS core=0:0 " "core limit"
  local nofile soft hard
  nofile=$(sed -n 's/.* nofile=\([^ ]*\).*/\1/p' <<<"$OUT")
  soft=${nofile%%:*}; hard=${nofile#*:}
  [ "$hard" != inf ] && [ "$soft" != inf ] || fail "nofile unbounded: $OUT"
  [ "$hard" -le "$(ulimit -Hn)" ] && [ "$soft" -le "$hard" ] || fail "nofile $nofile above the host hard limit $(ulimit -Hn)"
}

# The hostname is the profile's (default "sandbox"); setting it does not
# touch the host's.
test_hostname_isolated() {
  local before; before=$(hostname)
  ncprobe -- uname
  assert_contains "$OUT" "UNAME nodename=sandbox " "default hostname"
  ncprobe --hostname box-7 -- uname
  assert_contains "$OUT" "UNAME nodename=box-7 " "--hostname box-7"
  ncrun --hostname box-8 -- /bin/hostname
  assert_eq box-8 "$OUT" "hostname(1) inside"
  assert_eq "$before" "$(hostname)" "host hostname"
}
