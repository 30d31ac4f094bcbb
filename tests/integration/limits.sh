# tests/integration/limits.sh — issue 3: the budget holds against a hostile
# process, the deadline ends everything, nothing outlives `nanoclaw run`.
# Judged from the host: result JSON, wall clock, pgrep, cgroup dirs.

# Attack: allocate memory without end. Must: killed under --mem-limit 64m,
# reported oom_killed, peak near the limit; the host fine (a run right after
# works). A 16 MB allocation under the same limit is not killed (control).
test_memory_bomb_oom_killed() {
  ncprobe --mem-limit 64m --result-json "$TMP/r.json" -- memhog 1024
  assert_not_contains "$OUT" "ALLOCATED" "the bomb allocated 1 GiB under a 64m limit"
  [ "$RC" != 0 ] || fail "memory bomb exited 0: $OUT"
  assert_eq true "$(jget "$TMP/r.json" .oom_killed)" "oom_killed"
  local peak; peak=$(jget "$TMP/r.json" .mem_peak_bytes)
  [ "$peak" -le $((80 << 20)) ] || fail "mem_peak_bytes $peak above the 64m limit"
  ncprobe --mem-limit 64m --result-json "$TMP/r2.json" -- memhog 16
  assert_rc 0 "16 MB under 64m"
  assert_eq "ALLOCATED memhog mb=16" "$OUT" "control allocation"
  assert_eq false "$(jget "$TMP/r2.json" .oom_killed)" "control oom_killed"
  ncrun -- echo host-fine
  assert_eq host-fine "$OUT" "a run after the bomb"
}

# Attack: a fork bomb. Must: at most --pids-limit 64 processes at any time
# (counted from the host), the run ends by its --timeout 3 with 124, and no
# process of it survives.
test_fork_bomb_contained() {
  probe_setup
  local t0 t1 rc n max=0 i
  t0=$(now_ms)
  "$NC" run --pids-limit 64 --timeout 3 --result-json "$TMP/r.json" --bind "$TMP/nc:/nc" -- /nc/nc-probe forkbomb \
    >"$TMP/out" 2>"$TMP/err" </dev/null &
  local ncpid=$!
  for i in 1 2 3 4 5 6 7 8 9 10; do
    sleep 0.2
    n=$(pgrep -c -f -- "^/nc/nc-probe forkbomb" || true)
    [ "$n" -gt "$max" ] && max=$n
  done
  set +e; wait $ncpid; rc=$?; set -e
  t1=$(now_ms)
  [ "$max" -gt 8 ] || fail "the fork bomb never got going (max $max processes): $(cat "$TMP/out" "$TMP/err")"
  [ "$max" -le 64 ] || fail "$max processes under --pids-limit 64"
  assert_eq 124 "$rc" "status: $(cat "$TMP/err")"
  assert_eq true "$(jget "$TMP/r.json" .timed_out)" "timed_out"
  [ $((t1 - t0)) -ge 2800 ] && [ $((t1 - t0)) -le 4500 ] || fail "ended after $((t1 - t0)) ms, deadline 3 s"
  wait_gone "^/nc/nc-probe forkbomb" 2
}

# spin_ratio FILE: (cpu_user_ms + cpu_sys_ms) / wall_ms of a result, x100.
spin_ratio() { jq -r '((.cpu_user_ms + .cpu_sys_ms) * 100 / (if .wall_ms > 0 then .wall_ms else 1 end)) | floor' "$1"; }

# A CPU spinner under --cpus 0.5 gets about half a core (30..70 %), both by
# its own clock and by the result; without the limit it gets a whole core
# (control, >= 80 %).
test_cpus_half_a_core() {
  ncprobe --cpus 0.5 --result-json "$TMP/r.json" -- spin 3
  assert_rc 0 "spinner"
  [[ "$OUT" =~ wall_ms=([0-9]+)\ cpu_ms=([0-9]+) ]] || fail "spinner output: $OUT"
  local own=$(( BASH_REMATCH[2] * 100 / BASH_REMATCH[1] )) res
  res=$(spin_ratio "$TMP/r.json")
  [ "$own" -ge 30 ] && [ "$own" -le 70 ] || fail "spinner got $own % of a core by its own clock under --cpus 0.5"
  [ "$res" -ge 30 ] && [ "$res" -le 75 ] || fail "result says $res % of a core under --cpus 0.5"
  ncprobe --result-json "$TMP/r2.json" -- spin 1
  [[ "$OUT" =~ wall_ms=([0-9]+)\ cpu_ms=([0-9]+) ]] || fail "spinner output: $OUT"
  own=$(( BASH_REMATCH[2] * 100 / BASH_REMATCH[1] ))
  [ "$own" -ge 80 ] || fail "control: an unlimited spinner got only $own % (host busy?)"
}

# --timeout 2 ends a spinner 2 s after start (+- a few hundred ms), exit 124,
# timed_out true, nothing left.
test_timeout_ends_spinner() {
  local t0 t1
  t0=$(now_ms)
  ncprobe --timeout 2 --result-json "$TMP/r.json" -- spin 0
  t1=$(now_ms)
  assert_rc 124 "spinner past its deadline"
  [ $((t1 - t0)) -ge 1900 ] && [ $((t1 - t0)) -le 2600 ] || fail "ended after $((t1 - t0)) ms, deadline 2 s"
  assert_eq true "$(jget "$TMP/r.json" .timed_out)" "timed_out"
  local w; w=$(jget "$TMP/r.json" .wall_ms)
  [ "$w" -ge 1900 ] && [ "$w" -le 2600 ] || fail "wall_ms $w"
  wait_gone "^/nc/nc-probe spin 0" 1
}

# Attack: leave a daemon behind — setsid + double fork, ignoring SIGHUP and
# SIGTERM — then exit. Must: gone when `nanoclaw run` returns (also when it
# stopped itself with SIGSTOP).
test_detached_grandchild_does_not_survive() {
  local m=nc-detach-$$-$RANDOM
  ncprobe -- detach "$m"
  assert_rc 0 "detach"
  assert_eq DETACHED "$OUT" "probe output"
  wait_gone "$m" 1
  ncprobe -- detach "$m-stop" stop
  assert_rc 0 "detach stop"
  wait_gone "$m-stop" 1
}

# The same while the command is still running when the deadline fires.
test_detached_grandchild_killed_at_deadline() {
  probe_setup
  local m=nc-detach-$$-$RANDOM
  ncrun --timeout 2 --bind "$TMP/nc:/nc" -- /bin/sh -c "/nc/nc-probe detach $m; exec /nc/nc-probe sleep 60"
  assert_rc 124 "deadline"
  wait_gone "$m" 1
}

# Attack on the supervisor: nanoclaw itself is SIGKILLed mid-run. Must: the
# sandbox dies with it (no process within 2 s); `nanoclaw gc` then removes
# the cgroups the crash left (gc leaves cgroups younger than 5 s alone, as
# they may be being set up, so the test waits that long first).
test_sigkill_nanoclaw_leaves_no_sandbox_process() {
  probe_setup
  local m=nc-kill-$$-$RANDOM before pid cgs c t0
  before=$(host_leftovers)
  t0=$(now_ms)
  "$NC" run --bind "$TMP/nc:/nc" -- /nc/nc-probe sleep 60 "$m" >/dev/null 2>&1 </dev/null &
  local ncpid=$!
  pid=$(wait_pid "^/nc/nc-probe sleep 60 $m" 5)
  [ -n "$pid" ] || fail "the command never started"
  cgs=$(sandbox_cgroups "$pid")
  [ -n "$cgs" ] || fail "the command is in no cgroup of its own"
  kill -KILL $ncpid
  wait $ncpid 2>/dev/null || true
  wait_gone "$m" 2
  while [ $(( $(now_ms) - t0 )) -lt 6500 ]; do sleep 0.2; done
  "$NC" gc >/dev/null 2>&1 || fail "nanoclaw gc failed: $("$NC" gc 2>&1)"
  for c in $cgs; do [ ! -d "$c" ] || fail "cgroup left after SIGKILL + nanoclaw gc: $c"; done
  assert_no_new_leftovers "$before" "host leftovers after SIGKILL + gc"
}

# SIGTERM to `nanoclaw run` is passed on; it exits 143 and leaves nothing.
test_sigterm_passed_on() {
  probe_setup
  local m=nc-term-$$-$RANDOM rc
  "$NC" run --bind "$TMP/nc:/nc" -- /nc/nc-probe sleep 60 "$m" >/dev/null 2>&1 </dev/null &
  local ncpid=$!
  [ -n "$(wait_pid "^/nc/nc-probe sleep 60 $m" 5)" ] || fail "the command never started"
  kill -TERM $ncpid
  set +e; wait $ncpid; rc=$?; set -e
  assert_eq 143 "$rc" "status after SIGTERM"
  wait_gone "$m" 2
}

# Many runs in a row leave no growth in cgroup dirs, mounts or temp dirs:
# each run's own cgroups (named after its result id) are gone.
test_many_runs_no_growth() {
  local n=${NC_STRESS_RUNS:-50} i before after id left=()
  before=$(host_leftovers)
  for ((i = 0; i < n; i++)); do
    "$NC" run --result-json "$TMP/r.json" -- /bin/true </dev/null >/dev/null 2>"$TMP/err" || fail "run $i failed: $(cat "$TMP/err")"
    id=$(jget "$TMP/r.json" .id)
    [ -n "$(cgroups_of_id "$id")" ] && left+=("$id")
  done
  assert_no_new_leftovers "$before" "host leftovers after $n runs"
  [ ${#left[@]} -eq 0 ] || fail "${#left[@]} of $n runs left cgroups: $(cgroups_of_id "${left[0]}" | head -3 | tr '\n' ' ')"
}

# A long-lived caller of the library (an agent runtime) runs 200 sandboxes
# in one process: its fds and memory must not grow, and nothing of any
# sandbox (cgroup, mount) may remain on the host.
test_long_lived_library_caller_200_runs() {
  local before after line
  before=$(host_leftovers)
  line=$("$(dirname "$NC")/tests/nc-longlived" 200)
  after=$(host_leftovers)
  echo "$line"
  local fb fa rb ra
  fb=$(sed -n 's/.*fds_before=\([0-9]*\).*/\1/p' <<<"$line"); fa=$(sed -n 's/.*fds_after=\([0-9]*\).*/\1/p' <<<"$line")
  rb=$(sed -n 's/.*rss_kb_before=\([0-9]*\).*/\1/p' <<<"$line"); ra=$(sed -n 's/.*rss_kb_after=\([0-9]*\).*/\1/p' <<<"$line")
  [ -n "$fb" ] && [ -n "$ra" ] || fail "no figures from nc-longlived: $line"
  assert_eq "$fb" "$fa" "open fds after 10 runs vs after 200"
  [ $((ra - rb)) -le 256 ] || fail "RSS grew by $((ra - rb)) KiB over 190 runs"
  assert_eq "$before" "$after" "host leftovers (cgroups, mounts, temp dirs) after 200 runs"
}
