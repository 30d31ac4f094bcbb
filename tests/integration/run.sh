# tests/integration/run.sh — `nanoclaw run` as a user drives it: output and
# status pass through, the result JSON, flag and profile errors, env, tmpfs,
# binds, workdir, --image DIR, help.

# ---- output and status ---------------------------------------------------

test_echo_output_passes_through() {
  ncrun -- echo hello world
  assert_rc 0 "echo"
  assert_eq "hello world" "$OUT" "stdout"
  assert_eq "" "$ERR" "stderr"
}

test_stderr_stdin_and_large_output_pass_through() {
  ncrun -- /bin/sh -c 'echo to-err >&2; echo to-out'
  assert_eq "to-out" "$OUT" "stdout"
  assert_eq "to-err" "$ERR" "stderr"
  local out
  out=$(printf 'line1\nline2\n' | "$NC" run -- /bin/cat) || fail "cat from stdin failed"
  assert_eq "$(printf 'line1\nline2')" "$out" "stdin to cat"
  ncrun -- /bin/sh -c 'seq 1 200000'
  assert_rc 0 "seq"
  assert_eq 200000 "$(printf '%s\n' "$OUT" | wc -l)" "lines of a large output"
  assert_eq 200000 "$(printf '%s\n' "$OUT" | tail -1)" "last line of a large output"
}

test_exit_status_is_the_commands() {
  ncrun -- /bin/true;             assert_rc 0 "true"
  ncrun -- /bin/sh -c 'exit 3';   assert_rc 3 "exit 3"
  ncrun -- /bin/sh -c 'exit 77';  assert_rc 77 "exit 77"
}

test_exit_124_on_deadline() {
  local t0 t1
  t0=$(now_ms)
  ncrun --timeout 1 -- /bin/sleep 30
  t1=$(now_ms)
  assert_rc 124 "sleep past --timeout 1"
  [ $((t1 - t0)) -lt 5000 ] || fail "the deadline took $((t1 - t0)) ms"
}

test_exit_125_setup_error_one_line() {
  ncrun --bind "/nonexistent-$$:/x" -- /bin/true
  assert_rc 125 "missing bind source"
  [[ "$ERR" == "nanoclaw: "* ]] || fail "stderr does not start with 'nanoclaw: ': [$ERR]"
  assert_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "lines on stderr"
  assert_contains "$ERR" "/nonexistent-$$" "the message names the path"
}

test_exit_126_not_executable() {
  ncrun -- /etc/hostname
  assert_rc 126 "a non-executable file"
  ncrun -- /usr
  assert_rc 126 "a directory"
}

test_exit_127_not_found() {
  ncrun -- "/nonexistent-$$"
  assert_rc 127 "a missing path"
  ncrun -- "no-such-command-$$"
  assert_rc 127 "a missing command in PATH"
}

# A command killed by a signal: status 128+N (as a shell reports it) and the
# signal in the result.
test_killed_by_signal() {
  ncrun --result-json "$TMP/r.json" -- /bin/sh -c 'kill -9 $$'
  assert_rc 137 "killed by SIGKILL"
  assert_eq 9 "$(jget "$TMP/r.json" .signal)" "result signal"
  assert_eq false "$(jget "$TMP/r.json" .timed_out)" "timed_out"
}

# ---- the result ----------------------------------------------------------

# check_result FILE NAME EXIT: the fields of issue 3 with their types.
check_result() {
  local f=$1
  jq -e . "$f" >/dev/null || fail "not JSON: $(cat "$f")"
  assert_eq "$2" "$(jget "$f" .name)" "name"
  [[ "$(jget "$f" .id)" =~ ^[0-9a-f]{32}$ ]] || fail "id is not 32 hex chars: $(jget "$f" .id)"
  assert_eq "$3" "$(jget "$f" .exit_code)" "exit_code"
  assert_eq 0 "$(jget "$f" .signal)" "signal"
  assert_eq false "$(jget "$f" .timed_out)" "timed_out"
  assert_eq false "$(jget "$f" .oom_killed)" "oom_killed"
  assert_eq false "$(jget "$f" .output_truncated)" "output_truncated"
  local k
  for k in wall_ms cpu_user_ms cpu_sys_ms mem_peak_bytes; do
    assert_eq number "$(jget "$f" ".$k | type")" "$k type"
    [ "$(jget "$f" ".$k >= 0")" = true ] || fail "$k negative"
  done
  assert_eq object "$(jget "$f" '.limits | type')" "limits"
}

test_result_json_file() {
  ncrun --name demo-1 --result-json "$TMP/r.json" -- /bin/sh -c 'echo hi; exit 3'
  assert_rc 3 "status"
  assert_eq hi "$OUT" "stdout is only the command's"
  check_result "$TMP/r.json" demo-1 3
  [ "$(jget "$TMP/r.json" '.wall_ms < 10000')" = true ] || fail "wall_ms implausible"
}

test_result_json_stdout() {
  ncrun --name demo-2 --result-json - -- /bin/sh -c 'echo hi; exit 3'
  assert_rc 3 "status"
  assert_eq hi "$(printf '%s\n' "$OUT" | head -1)" "command output first"
  printf '%s\n' "$OUT" | tail -n +2 >"$TMP/r.json"
  check_result "$TMP/r.json" demo-2 3
}

# The limits the run enforced are in the result.
test_result_lists_limits() {
  ncrun --mem-limit 128m --pids-limit 32 --result-json "$TMP/r.json" -- /bin/true
  assert_rc 0 "run"
  local l; l=$(jq -c .limits "$TMP/r.json")
  assert_contains "$l" "memory" "memory limit in $l"
  assert_contains "$l" "pids" "pids limit in $l"
}

# ---- flags and profiles: errors ------------------------------------------

test_bad_mem_limit_exact_message() {
  ncrun --mem-limit 512q -- /bin/true
  assert_rc 125 "--mem-limit 512q"
  assert_eq 'nanoclaw: --mem-limit: "512q" is not a size (try 512m)' "$ERR" "message"
  assert_eq "" "$OUT" "stdout"
}

# Every bad value: 125, one line, `nanoclaw: `, naming the flag and quoting
# the value (or the part of it that is wrong).
test_bad_values_one_line_125() {
  local spec flag val bad=() q
  for spec in "--cpus abc" "--cpus -1" "--pids-limit lots" "--timeout soon" "--cpu-shares x" \
              "--tmpfs relative:16m" "--tmpfs /tmp:16q" "--bind nocolon" "--add-host noip" \
              "--user abc" "--mem-limit 1.5" "--env =x"; do
    flag=${spec%% *}; val=${spec#* }
    ncrun "$flag" "$val" -- /bin/true
    q=""; [[ "$ERR" =~ \"([^\"]*)\" ]] && q=${BASH_REMATCH[1]}
    if [ "$RC" != 125 ] || [[ "$ERR" != "nanoclaw: $flag: "* ]] || [ "$(printf '%s\n' "$ERR" | wc -l)" != 1 ] ||
       [[ ! "$ERR" =~ \"[^\"]*\" ]] || [[ "$val" != *"$q"* ]]; then
      bad+=("[$spec => $RC: $ERR]")
    fi
  done
  [ ${#bad[@]} -eq 0 ] || fail "bad values not reported as one line naming flag and value: ${bad[*]}"
}

test_unknown_flag_and_missing_value_125() {
  ncrun --bogus-flag -- /bin/true
  assert_rc 125 "unknown flag"
  [[ "$ERR" == "nanoclaw: "* ]] || fail "message: [$ERR]"
  assert_contains "$ERR" "--bogus-flag" "names the flag"
  ncrun --mem-limit
  assert_rc 125 "--mem-limit without a value"
  [[ "$ERR" == "nanoclaw: "* ]] || fail "message: [$ERR]"
  ncrun
  assert_rc 125 "no command"
}

write_profile() { # FILE LINE7
  cat >"$1" <<EOF
{
  "name": "agent",
  "image": "host",
  "cpu_shares": 512,
  "pids_limit": 64,
  "timeout": 30,
  $2
  "hostname": "fromfile"
}
EOF
}

# The issue's example, exactly: the file, the line, the key, the value.
test_config_bad_value_names_file_and_line() {
  NC=$(readlink -f "$NC"); cd "$TMP"
  write_profile agent.json '"mem_limit": "512q",'
  ncrun --config agent.json -- /bin/true
  assert_rc 125 "bad mem_limit in the profile"
  assert_eq 'nanoclaw: agent.json:7: mem_limit: "512q" is not a size (try 512m)' "$ERR" "message"
}

test_config_unknown_key_125() {
  NC=$(readlink -f "$NC"); cd "$TMP"
  write_profile agent.json '"mem_limitt": "512m",'
  ncrun --config agent.json -- /bin/true
  assert_rc 125 "unknown key"
  [[ "$ERR" == "nanoclaw: agent.json:7: "* ]] || fail "message does not name file and line 7: [$ERR]"
  assert_contains "$ERR" "mem_limitt" "names the key"
}

test_config_not_json_125() {
  printf '{ "name": "x",\n  oops\n}\n' >"$TMP/bad.json"
  ncrun --config "$TMP/bad.json" -- /bin/true
  assert_rc 125 "malformed profile"
  [[ "$ERR" == "nanoclaw: $TMP/bad.json:"* ]] || fail "message does not name the file: [$ERR]"
  ncrun --config "$TMP/missing.json" -- /bin/true
  assert_rc 125 "missing profile"
}

# The profile applies; flags override it.
test_config_applies_and_flags_override() {
  write_profile "$TMP/p.json" '"env": ["FROMFILE=1"],'
  ncrun --config "$TMP/p.json" -- /bin/sh -c 'hostname; echo "$FROMFILE"'
  assert_rc 0 "run with profile"
  assert_eq "$(printf 'fromfile\n1')" "$OUT" "hostname and env from the profile"
  ncrun --config "$TMP/p.json" --hostname fromflag -- /bin/hostname
  assert_eq fromflag "$OUT" "--hostname overrides the profile"
}

# ---- environment ---------------------------------------------------------

test_env_flag_values_and_nothing_else() {
  local out
  out=$(env -i PATH=/usr/bin:/bin SECRET=s3cr3t FROMCALLER=abc HOME=/root "$NC" run \
        --env FOO=bar --env FROMCALLER --env "SPACED=a b" -- /usr/bin/env </dev/null 2>&1) || fail "run failed: $out"
  assert_contains "$out" "FOO=bar" "--env FOO=bar"
  assert_contains "$out" "FROMCALLER=abc" "--env NAME takes the caller's value"
  assert_contains "$out" "SPACED=a b" "a value with a space"
  assert_not_contains "$out" "SECRET" "an unnamed caller variable"
  assert_not_contains "$out" "HOME=/root" "the caller's HOME"
  local n
  for n in $(printf '%s\n' "$out" | cut -d= -f1); do
    case "$n" in PATH|HOME|LANG|TERM|FOO|FROMCALLER|SPACED) ;; *) fail "unexpected variable $n: [$out]" ;; esac
  done
}

# ---- filesystem ------------------------------------------------------------

test_tmpfs_size_limit_enospc() {
  ncprobe --tmpfs /tmp:16m -- fill /tmp/big 20
  assert_rc 0 "fill probe"
  [[ "$OUT" =~ ^FAILED\ fill\ ENOSPC\ after_kb=([0-9]+)$ ]] || fail "writing 20 MB into a 16m tmpfs: $OUT"
  local kb=${BASH_REMATCH[1]}
  [ "$kb" -ge 14000 ] && [ "$kb" -le 16384 ] || fail "ENOSPC after $kb KiB, expected about 16384"
}

test_default_tmp_is_64m_and_root_ro() {
  ncprobe -- fill /tmp/big 70
  [[ "$OUT" =~ ^FAILED\ fill\ ENOSPC\ after_kb=([0-9]+)$ ]] || fail "writing 70 MB into the default /tmp: $OUT"
  local kb=${BASH_REMATCH[1]}
  [ "$kb" -ge 60000 ] && [ "$kb" -le 65536 ] || fail "default /tmp full after $kb KiB, expected about 65536"
  ncprobe -- write /tmp/small ok
  assert_eq "WROTE /tmp/small" "$OUT" "default /tmp writable"
  ncprobe -- write /nc-root-file ok
  assert_eq "DENIED write /nc-root-file EROFS" "$OUT" "root read-only"
}

test_bind_ro_default_and_rw() {
  mkdir -m 755 "$TMP/data"; echo content >"$TMP/data/f"; chmod 644 "$TMP/data/f"
  mkdir -m 1777 "$TMP/rw"
  ncprobe --bind "$TMP/data:/data" -- read /data/f
  assert_eq "READ /data/f bytes=8" "$OUT" "read through a ro bind"
  ncprobe --bind "$TMP/data:/data" -- write /data/new x
  assert_eq "DENIED write /data/new EROFS" "$OUT" "write to a default (ro) bind"
  ncprobe --bind "$TMP/rw:/data:ro" -- write /data/new x
  assert_eq "DENIED write /data/new EROFS" "$OUT" "write to a :ro bind"
  [ ! -e "$TMP/data/new" ] && [ ! -e "$TMP/rw/new" ] || fail "a ro bind was written on the host"
  ncprobe --bind "$TMP/rw:/data:rw" -- write /data/new from-sandbox
  assert_eq "WROTE /data/new" "$OUT" "write to an rw bind"
  assert_eq from-sandbox "$(cat "$TMP/rw/new")" "the file on the host"
}

test_workdir() {
  ncprobe --workdir /tmp -- cwd
  assert_eq "CWD /tmp" "$OUT" "--workdir /tmp"
  ncrun --workdir /usr/bin -- /bin/pwd
  assert_eq /usr/bin "$OUT" "--workdir /usr/bin with pwd"
  ncprobe -- cwd
  [[ "$OUT" == "CWD /"* ]] || fail "default cwd is not inside the root: $OUT"
}

# --image DIR: a minimal rootfs with only the static probe. The host's /usr
# is not there, the root is read-only, and the directory is left unchanged.
test_image_dir_minimal_rootfs() {
  mkdir -p "$TMP/rootfs/bin"
  cp "$PROBE" "$TMP/rootfs/bin/nc-probe"; chmod 755 "$TMP/rootfs/bin/nc-probe"
  local before; before=$(cd "$TMP/rootfs" && find . -printf '%p %m %s\n' | sort)
  ncrun --image "$TMP/rootfs" -- /bin/nc-probe uname
  assert_rc 0 "probe in the image"
  assert_eq "UNAME nodename=sandbox domainname=(none)" "$OUT" "uname in the image"
  ncrun --image "$TMP/rootfs" -- /bin/nc-probe stat /usr/bin
  assert_eq "MISSING /usr/bin ENOENT" "$OUT" "host /usr in the image"
  ncrun --image "$TMP/rootfs" -- /bin/nc-probe write /bin/planted x
  assert_eq "DENIED write /bin/planted EROFS" "$OUT" "image root read-only"
  ncrun --image "$TMP/rootfs" -- /bin/nc-probe write /tmp/ok x
  assert_eq "WROTE /tmp/ok" "$OUT" "default /tmp in the image"
  ncrun --image "$TMP/rootfs" -- /bin/sh -c true
  assert_rc 127 "/bin/sh does not exist in the image"
  assert_eq "$before" "$(cd "$TMP/rootfs" && find . -printf '%p %m %s\n' | sort)" "the image directory after the runs"
}

# ---- help and check --------------------------------------------------------

ALL_FLAGS="--config --image --mem-limit --cpu-shares --cpus --pids-limit --timeout --network-disabled
 --allow-host --add-host --tmpfs --bind --env --workdir --user --hostname --name --result-json"

# flags_missing TEXT: the flags of ALL_FLAGS that TEXT does not mention.
flags_missing() {
  local f missing=()
  for f in $ALL_FLAGS; do [[ "$1" == *"$f"* ]] || missing+=("$f"); done
  echo "${missing[*]}"
}

test_run_help_mentions_every_flag() {
  local out; out=$("$NC" run --help 2>&1) || fail "nanoclaw run --help failed: $out"
  assert_eq "" "$(flags_missing "$out")" "flags missing from nanoclaw run --help"
}

# Issue 2: "`nanoclaw --help`, `nanoclaw run --help` and a man page describe every option."
test_top_level_help_mentions_every_flag() {
  local out; out=$("$NC" --help 2>&1) || fail "nanoclaw --help failed: $out"
  assert_contains "$out" "run" "nanoclaw --help names the run subcommand"
  assert_eq "" "$(flags_missing "$out")" "flags missing from nanoclaw --help"
}

test_man_page_mentions_every_flag() {
  [ -f doc/nanoclaw.1 ] || fail "doc/nanoclaw.1 missing"
  local text; text=$(sed 's/\\-/-/g' doc/nanoclaw.1)
  assert_eq "" "$(flags_missing "$text")" "flags missing from doc/nanoclaw.1"
}

test_check_reports_host() {
  local out rc
  set +e; out=$("$NC" check 2>&1); rc=$?; set -e
  assert_eq 0 "$rc" "nanoclaw check on a host that runs the default profile: $out"
  local w
  for w in "user.namespace" cgroup seccomp root; do
    grep -qi -- "$w" <<<"$out" || fail "nanoclaw check does not mention $w: $out"
  done
}
