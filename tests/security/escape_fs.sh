# tests/security/escape_fs.sh — what the sandbox can see and change of the
# host's files: rootfs allowlist, read-only root, unprivileged host uid,
# /proc, /sys and /dev. Each case states the attack and judges from the host
# where there is something to see there.

# Attack: read the host's password hashes and private dirs. Must: /etc/shadow
# and /etc/gshadow absent; /root, /home, /var, /run absent or empty.
test_host_secrets_not_visible() {
  [ -s /etc/shadow ] && [ -n "$(ls -A /root /var)" ] || fail "host precondition: /etc/shadow, /root, /var are not empty here"
  ncprobe -- read /etc/shadow
  assert_eq "OPEN_DENIED /etc/shadow ENOENT" "$OUT" "/etc/shadow inside"
  ncprobe -- read /etc/gshadow
  assert_eq "OPEN_DENIED /etc/gshadow ENOENT" "$OUT" "/etc/gshadow inside"
  local d
  for d in /root /home /var /run; do
    ncprobe -- list "$d"
    case "$OUT" in
      "DENIED list $d ENOENT"|"LIST $d") ;;
      *) fail "$d is visible inside: $OUT" ;;
    esac
  done
}

# The /etc the sandbox sees is the allowlist: generated passwd/group/hosts/
# resolv.conf/hostname, never the host's own passwd, never sudoers or ssh keys.
test_etc_is_allowlisted_and_generated() {
  ncprobe -- list /etc
  assert_rc 0 "list /etc"
  local n
  for n in passwd group hosts resolv.conf hostname; do assert_contains "$OUT " " $n:" "/etc/$n inside"; done
  for n in shadow gshadow sudoers sudoers.d ssh crontab machine-id; do assert_not_contains "$OUT " " $n:" "/etc/$n inside"; done
  ncrun -- cat /etc/passwd
  assert_rc 0 "cat /etc/passwd"
  [ "$OUT" != "$(cat /etc/passwd)" ] || fail "/etc/passwd inside is the host's own"
  assert_contains "$OUT" ":1000:1000:" "the sandbox user in the generated passwd"
}

# Attack: plant files in the root, /usr and /etc (persist, or trojan host
# binaries through a writable view). Must: EROFS, and nothing on the host.
test_root_usr_etc_read_only() {
  local f=nc-escape-$$ d
  for d in / /usr/ /usr/bin/ /etc/ /bin/; do
    ncprobe -- write "$d$f"
    if [ -e "$d$f" ]; then rm -f "$d$f"; fail "the sandbox created $d$f on the host"; fi
    assert_eq "DENIED write $d$f EROFS" "$OUT" "write to $d"
  done
}

# Attack: read a root-only host file that is visible in the sandbox (bound
# read-only). Must: EACCES — the sandbox user is not host root, so the
# host's permission bits hold. A 0644 file beside it is readable (the bind works).
test_root_owned_host_file_unreadable() {
  mkdir -m 755 "$TMP/secret"
  echo TOPSECRET >"$TMP/secret/private"; chmod 600 "$TMP/secret/private"
  echo public >"$TMP/secret/public"; chmod 644 "$TMP/secret/public"
  ncprobe --bind "$TMP/secret:/secret" -- read /secret/private
  assert_eq "OPEN_DENIED /secret/private EACCES" "$OUT" "root-owned 0600 file"
  ncprobe --bind "$TMP/secret:/secret" -- read /secret/public
  assert_eq "READ /secret/public bytes=7" "$OUT" "0644 file beside it"
  assert_eq TOPSECRET "$(cat "$TMP/secret/private")" "host file unchanged"
}

# A file the sandbox creates in an rw bind is owned, on the host, by an
# unprivileged uid from a high range (never 0, never a normal user's), and it
# is the uid /proc/self/uid_map inside names for the sandbox user.
test_sandbox_files_owned_by_unprivileged_host_uid() {
  probe_setup
  mkdir -m 1777 "$TMP/rw"
  ncrun --bind "$TMP/nc:/nc" --bind "$TMP/rw:/rw:rw" -- /bin/sh -c '/nc/nc-probe write /rw/made hello; /nc/nc-probe maps'
  assert_rc 0 "write + maps"
  assert_contains "$OUT" "WROTE /rw/made" "write in an rw bind"
  [ -f "$TMP/rw/made" ] || fail "file not on the host"
  local huid hgid map
  huid=$(stat -c %u "$TMP/rw/made"); hgid=$(stat -c %g "$TMP/rw/made")
  [ "$huid" -ne 0 ] && [ "$hgid" -ne 0 ] || fail "file created by the sandbox is owned by host root ($huid:$hgid)"
  [ "$huid" -ge 65536 ] || fail "host uid $huid is not in a dedicated high range (>= 65536)"
  ! getent passwd "$huid" >/dev/null || fail "host uid $huid belongs to a host user: $(getent passwd "$huid")"
  local uidmap want=""
  uidmap=$(sed -n 's/.* uid=\([^ ]*\) .*/\1/p' <<<"$OUT")
  want=$(map_id "$uidmap" 1000)
  assert_eq "$want" "$huid" "host uid of the file vs uid_map [$uidmap] for inside uid 1000"
}

# map_id MAP ID: the host id that inside ID maps to under MAP (a,b,c,...).
map_id() {
  local r inside host count
  for r in $(tr ',' ' ' <<<"$1"); do
    IFS=: read -r inside host count <<<"$r"
    if [ "$2" -ge "$inside" ] && [ "$2" -lt $((inside + count)) ]; then echo $((host + $2 - inside)); return; fi
  done
  echo unmapped
}

# Each sandbox gets its own host uid range: two sandboxes running at the same
# time map their users to disjoint host uids (one cannot signal or ptrace
# the other's processes, or read its files).
test_concurrent_sandboxes_have_distinct_host_uids() {
  probe_setup
  "$NC" run --bind "$TMP/nc:/nc" -- /bin/sh -c '/nc/nc-probe maps; sleep 1' >"$TMP/a" 2>&1 </dev/null &
  local apid=$!
  sleep 0.3
  ncprobe -- maps
  wait $apid || fail "first run failed: $(cat "$TMP/a")"
  local a b; a=$(sed -n 's/.* uid=\([^ ]*\) .*/\1/p' "$TMP/a"); b=$(sed -n 's/.* uid=\([^ ]*\) .*/\1/p' <<<"$OUT")
  [ -n "$a" ] && [ -n "$b" ] || fail "maps: [$(cat "$TMP/a")] [$OUT]"
  local ha hb; ha=$(map_id "$a" 1000); hb=$(map_id "$b" 1000)
  [ "$ha" != "$hb" ] || fail "two concurrent sandboxes share host uid $ha"
  [ "$(map_id "$a" 0)" != "$(map_id "$b" 0)" ] || [ "$(map_id "$a" 0)" = unmapped ] || fail "concurrent sandboxes share the host uid of inside root"
}

# uid/gid inside are the sandbox user (default 1000:1000, or --user), in all
# three slots, with no supplementary groups from the host.
test_sandbox_user_ids() {
  ncprobe -- ids
  assert_eq "IDS uid=1000,1000,1000 gid=1000,1000,1000 groups=" "$OUT" "default user"
  ncprobe --user 1234:2345 -- ids
  assert_eq "IDS uid=1234,1234,1234 gid=2345,2345,2345 groups=" "$OUT" "--user 1234:2345"
}

# The uid and gid maps never include host uid/gid 0.
test_maps_exclude_host_root() {
  ncprobe -- maps
  assert_rc 0 "maps probe"
  local m kind inside host count
  for m in $(tr ' ' '\n' <<<"${OUT#MAPS }" | tr ',' '\n'); do
    kind=${m%%=*}; m=${m#*=}
    IFS=: read -r inside host count <<<"$m"
    [ -n "$count" ] || fail "unreadable map: $OUT"
    [ "$host" -gt 0 ] || fail "$kind map includes host id 0: $OUT"
  done
}

# Attack: write to /proc's kernel knobs — sysrq-trigger (crash/reboot the
# host), core_pattern (run a program as host root on the next crash),
# drop_caches. The probe only opens them for writing and never writes.
# Must: the open is refused.
test_proc_knobs_not_writable() {
  local p
  for p in /proc/sysrq-trigger /proc/sys/kernel/core_pattern /proc/sys/vm/drop_caches /proc/sys/kernel/modprobe; do
    ncprobe -- openw "$p"
    assert_contains "$OUT" "DENIED openw $p " "open $p for writing"
  done
}

# Attack: read host kernel memory and host detail from /proc (kcore, keys,
# timer_list, kallsyms, sched_debug). Must: nothing read. /proc/self/status
# is readable, to show the probe does read.
test_proc_sensitive_paths_unreadable() {
  local p
  for p in /proc/kcore /proc/keys /proc/timer_list /proc/kallsyms /proc/sched_debug; do
    ncprobe -- read "$p"
    case "$OUT" in
      "OPEN_DENIED $p "*|"READ_DENIED $p "*|"READ $p bytes=0") ;;
      *) fail "$p readable: $OUT" ;;
    esac
  done
  ncprobe -- read /proc/self/status
  assert_contains "$OUT" "READ /proc/self/status bytes=" "control read"
  assert_not_contains "$OUT" "bytes=0" "control read"
}

# The same paths are masked (a /dev/null bind over them, or absent), not
# merely unreadable by permission bits — defence in depth should the
# sandbox user ever be mapped differently.
test_proc_sensitive_paths_masked() {
  local p bad=()
  for p in /proc/kcore /proc/keys /proc/timer_list; do
    ncprobe -- stat "$p"
    case "$OUT" in
      "STAT $p type=chr "*" rdev=1:3 "*|"MISSING $p ENOENT") ;;
      *) bad+=("[$OUT]") ;;
    esac
  done
  [ ${#bad[@]} -eq 0 ] || fail "not masked: ${bad[*]}"
}

# /proc/sys and /proc/sysrq-trigger (and the other kernel knobs runc/crun
# list) are on read-only mounts, whatever their permission bits.
test_proc_knobs_on_readonly_mounts() {
  local p bad=()
  for p in /proc/sys /proc/sys/kernel/core_pattern /proc/sys/vm/drop_caches /proc/sysrq-trigger /proc/irq /proc/bus /proc/fs; do
    ncprobe -- statvfs "$p"
    case "$OUT" in "STATVFS $p ro"|"MISSING $p ENOENT") ;; *) bad+=("[$OUT]") ;; esac
  done
  ncprobe -- statvfs /proc/self/status
  assert_eq "STATVFS /proc/self/status rw" "$OUT" "control: /proc itself"
  [ ${#bad[@]} -eq 0 ] || fail "writable mounts: ${bad[*]}"
}

# Attack: learn or change host detail through /sys. Must: absent or empty.
test_sys_absent_or_empty() {
  ncprobe -- list /sys
  case "$OUT" in
    "DENIED list /sys ENOENT"|"LIST /sys") ;;
    *) fail "/sys has host detail: $OUT" ;;
  esac
}

# /dev is the minimal set: null zero full random urandom tty as the right
# character devices; no pts/ptmx without a terminal; no host disk, mem or kmsg.
# The symlinks fd stdin stdout stderr are tolerated.
test_dev_is_minimal() {
  ncprobe -- list /dev
  assert_rc 0 "list /dev"
  local e name
  for e in ${OUT#LIST /dev}; do
    case "$e" in
      null:c|zero:c|full:c|random:c|urandom:c|tty:c|fd:l|stdin:l|stdout:l|stderr:l) ;;
      *) fail "unexpected /dev entry $e in [$OUT]" ;;
    esac
  done
  for name in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    ncprobe -- stat "/dev/${name%%:*}"
    assert_contains "$OUT" "type=chr" "/dev/${name%%:*}"
    assert_contains "$OUT" "rdev=${name#*:}" "/dev/${name%%:*} numbers"
  done
  ncprobe -- fill /dev/full 1
  assert_eq "FAILED fill ENOSPC after_kb=0" "$OUT" "/dev/full"
}
