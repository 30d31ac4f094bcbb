# tests/integration/audit_run.sh — what a `nanoclaw run` writes to the audit
# log: start, output, network decisions, limit events, end; concurrency,
# crashes, sinks (a real rsyslogd on loopback), fail-closed setup.

# arun ARGS...: ncrun with the log at $TMP/a.jsonl and the result at $TMP/r.json; sets ID.
arun() {
  ncrun --audit-log "$TMP/a.jsonl" --result-json "$TMP/r.json" "$@"
  ID=$(jq -r .id "$TMP/r.json" 2>/dev/null || true)
}

# events ID: the event names of sandbox ID, in order, space-separated.
events() { jq -r --arg id "$1" 'select(.sandbox==$id) | .event' "$TMP/a.jsonl" | tr '\n' ' ' | sed 's/ $//'; }

# count FILTER [FILE]: how many records of $TMP/a.jsonl match the jq filter (ID bound to $id).
count() { jq -s --arg id "${ID:-}" "map(select($1)) | length" "${2:-$TMP/a.jsonl}"; }

verify_ok() {
  local out rc=0
  out=$("$NC" audit verify "$1" 2>&1) || rc=$?
  [ $rc -eq 0 ] || fail "audit verify $1: $out"
  assert_contains "$out" "chain intact" "verify"
}

# start, stdout and stderr as text, end with the result; env values never logged.
test_run_is_recorded() {
  arun --env API_TOKEN=s3cr3t-value -- sh -c 'echo hello; echo oops >&2; exit 3'
  assert_rc 3 "exit status"
  assert_eq "hello" "$OUT" "stdout still reaches the caller"
  assert_eq "oops" "$ERR" "stderr still reaches the caller"
  verify_ok "$TMP/a.jsonl"
  local ev; ev=$(events "$ID")
  [[ "$ev" == "start output output end" ]] || fail "events: [$ev]"
  local start; start=$(jq -c --arg id "$ID" 'select(.sandbox==$id and .event=="start")' "$TMP/a.jsonl")
  assert_eq '["sh","-c","echo hello; echo oops >&2; exit 3"]' "$(jq -c .argv <<<"$start")" "argv"
  assert_eq "$(id -u)" "$(jq -r .host_uid <<<"$start")" "host uid"
  [[ "$(jq -r .profile_sha256 <<<"$start")" =~ ^[0-9a-f]{64}$ ]] || fail "profile digest: $start"
  assert_eq '["API_TOKEN"]' "$(jq -c .profile.env <<<"$start")" "env names only"
  assert_eq 536870912 "$(jq -r .profile.mem_limit <<<"$start")" "effective limits"
  assert_eq 1 "$(count '.sandbox==$id and .event=="output" and .stream=="stdout" and .data=="hello\n"')" "stdout record"
  assert_eq 1 "$(count '.sandbox==$id and .event=="output" and .stream=="stderr" and .data=="oops\n"')" "stderr record"
  assert_eq 3 "$(jq -r --arg id "$ID" 'select(.sandbox==$id and .event=="end") | .result.exit_code' "$TMP/a.jsonl")" "end"
  ! grep -q "s3cr3t-value" "$TMP/a.jsonl" || fail "an env value reached the audit log"
  # show, filtered by sandbox and event
  local shown; shown=$("$NC" audit show "$TMP/a.jsonl" --sandbox "$ID" --event output)
  assert_contains "$shown" 'stdout: "hello\n"' "audit show"
  assert_eq 2 "$(wc -l <<<"$shown")" "two output records"
}

# Every proxied connection is a `net` record: decision, host, port, address, bytes, duration.
test_network_decisions_recorded() {
  mkdir -p "$TMP/www"; echo hi >"$TMP/www/x"
  python3 tests/helpers/httpd.py "$TMP/www" "$TMP/port" "$TMP/srv.log" &
  local spid=$!
  trap "kill $spid 2>/dev/null || true" EXIT
  local i; for i in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.05; done
  local port; port=$(cat "$TMP/port")
  arun --add-host a.test:127.0.0.1 --add-host b.test:127.0.0.1 --allow-host "a.test:$port" -- \
    sh -c "curl -s http://a.test:$port/x; curl -s -o /dev/null http://b.test:$port/x"
  assert_rc 0 "run"
  verify_ok "$TMP/a.jsonl"
  local allowed denied
  allowed=$(jq -c --arg id "$ID" 'select(.sandbox==$id and .event=="net" and .decision=="allowed")' "$TMP/a.jsonl")
  denied=$(jq -c --arg id "$ID" 'select(.sandbox==$id and .event=="net" and .decision=="denied")' "$TMP/a.jsonl")
  assert_eq "a.test $port 127.0.0.1:$port http" "$(jq -r '"\(.host) \(.port) \(.addr) \(.proto)"' <<<"$allowed")" "allowed record"
  [ "$(jq -r .bytes_in <<<"$allowed")" -gt 0 ] && [ "$(jq -r .bytes_out <<<"$allowed")" -gt 0 ] || fail "bytes: $allowed"
  [ "$(jq 'has("duration_ms")' <<<"$allowed")" = true ] || fail "duration: $allowed"
  assert_eq "b.test $port" "$(jq -r '"\(.host) \(.port)"' <<<"$denied")" "denied record"
  assert_contains "$(jq -r .reason <<<"$denied")" "not in allowed_hosts" "reason"
}

# Limit events: the deadline, the output limit, an OOM kill.
test_limit_events_recorded() {
  arun --timeout 0.5 -- sleep 5
  assert_rc 124 "deadline"
  assert_contains "$(events "$ID")" "deadline" "deadline record"
  arun --output-limit 4 -- echo 123456789
  assert_contains "$(events "$ID")" "output_limit" "output limit record"
  arun --mem-limit 32m -- python3 -c 'x = bytearray(256 << 20)'
  assert_eq true "$(jq -r .oom_killed "$TMP/r.json")" "OOM killed"
  assert_contains "$(events "$ID")" "oom" "oom record"
  verify_ok "$TMP/a.jsonl"
}

# The audit's own output cap: past it, one output_truncated marker and the
# dropped bytes at the end; the caller still gets everything.
test_output_cap_marker() {
  arun --audit-output-cap 1k -- sh -c 'head -c 10000 /dev/zero | tr "\0" x'
  assert_rc 0 "run"
  assert_eq 10000 "${#OUT}" "the caller gets all output"
  assert_eq 1 "$(jq -r --arg id "$ID" 'select(.sandbox==$id and .event=="output_truncated")' "$TMP/a.jsonl" | jq -s length)" "one marker"
  assert_eq 8976 "$(jq -r --arg id "$ID" 'select(.sandbox==$id and .event=="output_dropped") | .stdout_dropped_bytes' "$TMP/a.jsonl")" "dropped bytes"
}

# 20 runs at once append to one log: one valid chain, 20 starts and 20 ends.
test_twenty_concurrent_runs_one_log() {
  local i pids=()
  for i in $(seq 20); do
    "$NC" run --audit-log "$TMP/a.jsonl" -- sh -c "echo run $i" >/dev/null 2>&1 </dev/null &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || fail "a run failed"; done
  verify_ok "$TMP/a.jsonl"
  assert_eq 20 "$(jq -r 'select(.event=="start") | .sandbox' "$TMP/a.jsonl" | sort -u | wc -l)" "starts"
  assert_eq 20 "$(jq -r 'select(.event=="end") | .sandbox' "$TMP/a.jsonl" | sort -u | wc -l)" "ends"
  assert_eq 20 "$(jq -s 'map(select(.event=="output") | .data) | unique | length' "$TMP/a.jsonl")" "outputs"
}

# Crash: SIGKILL nanoclaw while its command floods output into the log, at
# several moments; each time the log verifies (up to its last complete record).
test_sigkill_mid_run_log_verifies() {
  local i pid
  for i in 1 2 3 4 5; do
    "$NC" run --audit-log "$TMP/a.jsonl" -- sh -c 'while :; do echo line line line line; done' >/dev/null 2>&1 </dev/null &
    pid=$!
    sleep "0.$((RANDOM % 4 + 1))"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    verify_ok "$TMP/a.jsonl"
  done
  arun -- true
  verify_ok "$TMP/a.jsonl"
  [ "$(jq -s 'map(select(.event=="output")) | length' "$TMP/a.jsonl")" -gt 0 ] || fail "no output recorded"
}

# A real rsyslogd on loopback receives the run's records (TCP, octet counting),
# byte for byte, so the remote copy verifies on its own.
test_rsyslog_receives_a_run() {
  start_rsyslog
  arun --audit-syslog "tcp://127.0.0.1:$RS_TPORT" -- echo "to syslog"
  assert_rc 0 "run"
  local want i; want=$(wc -l <"$TMP/a.jsonl")
  for i in $(seq 50); do
    [ -f "$TMP/rs/tcp.log" ] && [ "$(wc -l <"$TMP/rs/tcp.log")" -ge "$want" ] && break
    sleep 0.1
  done
  cmp -s "$TMP/a.jsonl" "$TMP/rs/tcp.log" || fail "syslog copy differs: $(wc -l <"$TMP/rs/tcp.log" 2>/dev/null) of $want lines"
  verify_ok "$TMP/rs/tcp.log"
  grep -q '"data":"to syslog\\n"' "$TMP/rs/tcp.log" || fail "output not in the syslog copy"
  # and over UDP
  arun --audit-syslog "udp://127.0.0.1:$RS_UPORT" -- echo "over udp"
  for i in $(seq 50); do grep -qs '"event":"end"' "$TMP/rs/udp.log" && break; sleep 0.1; done
  assert_eq "start output end" "$(jq -r .event "$TMP/rs/udp.log" | tr '\n' ' ' | sed 's/ $//')" "UDP records of the run"
}

# A dead sink (nothing listens) does not hold a run up longer than its flush
# bound (2 s); the loss is recorded; with --audit-required the run fails.
test_dead_sink_bounded_and_required() {
  local port t0 t1; port=$(free_port)
  t0=$(now_ms)
  arun --audit-syslog "tcp://127.0.0.1:$port" -- echo hi
  t1=$(now_ms)
  assert_rc 0 "a dead sink does not fail the run"
  [ $((t1 - t0)) -lt 3000 ] || fail "the run took $((t1 - t0)) ms with a dead sink (bound 2 s)"
  [ "$(count '.event=="sink_loss"')" -ge 1 ] || fail "no sink_loss record"
  verify_ok "$TMP/a.jsonl"
  arun --audit-required --audit-syslog "tcp://127.0.0.1:$port" -- echo hi
  assert_rc 125 "required: a dead sink fails the run"
  assert_contains "$ERR" "tcp://127.0.0.1:$port" "names the sink"
}

# An audit log that cannot be opened is a setup error: nothing runs, nothing is left.
test_unwritable_log_fails_closed() {
  local before; before=$(host_leftovers)
  ln -s /etc/passwd "$TMP/link.jsonl"
  ncrun --audit-log "$TMP/link.jsonl" -- sh -c 'echo ran >&2'
  assert_rc 125 "symlinked log"
  assert_not_contains "$ERR" "ran" "the command did not run"
  assert_contains "$ERR" "link.jsonl" "names the file"
  echo "not a log" >"$TMP/plain"
  ncrun --audit-log "$TMP/plain" -- true
  assert_rc 125 "not an audit log"
  assert_eq "not a log" "$(cat "$TMP/plain")" "left untouched"
  assert_no_new_leftovers "$before" "after refused runs"
}

# audit.append_only (root): the file gets the append-only attribute; even
# root cannot truncate or rewrite it, appends still work.
test_append_only_attribute() {
  local log=/var/tmp/nctest-audit-$$.jsonl
  trap "chattr -a $log 2>/dev/null; rm -f $log" EXIT
  ncrun --audit-log "$log" --audit-append-only -- true
  assert_rc 0 "run: $ERR"
  lsattr "$log" | grep -q '^-----a' || fail "attribute: $(lsattr "$log")"
  ! (: >"$log") 2>/dev/null || fail "root truncated an append-only log"
  ncrun --audit-log "$log" --audit-append-only -- true
  assert_rc 0 "append to it again"
  verify_ok "$log"
}

# Output that JSON-escapes badly (NUL bytes: 6 bytes each as \u0000) is
# recorded as base64, within the record bound; the run is not failed by it.
test_binary_output_recorded() {
  arun -- sh -c 'head -c 100000 /dev/zero; printf "\001\002\003"'
  assert_rc 0 "run: $ERR"
  verify_ok "$TMP/a.jsonl"
  assert_eq 0 "$(count '.sandbox==$id and .event=="output" and .encoding!="base64"')" "every chunk is base64"
  [ "$(count '.sandbox==$id and .event=="output"')" -ge 7 ] || fail "16 KiB chunks"
  local sum; sum=$(jq -s --arg id "$ID" 'map(select(.sandbox==$id and .event=="output") | .bytes) | add' "$TMP/a.jsonl")
  assert_eq 100003 "$sum" "every byte accounted"
}
