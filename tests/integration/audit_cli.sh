# tests/integration/audit_cli.sh — the audit log as an operator meets it: `nanoclaw audit verify` on good and
# tampered logs, `audit show` (filters, --json, --follow), usage errors, concurrent and killed writers, a dead
# sink, and a real rsyslogd on loopback receiving the records over TCP and UDP.
# Logs are written by tests/helpers/nc-audit-emit (N records through the library).

EMIT=${NC_AUDIT_EMIT:-$(dirname "$NC")/tests/nc-audit-emit}

# emit LOG N [ARGS...]: genesis (if new), start, N exec, end.
emit() {
  local log=$1 n=$2; shift 2
  [ -x "$EMIT" ] || fail "the helper is not built: [$EMIT]"
  "$EMIT" --log "$log" "$@" "$n" >/dev/null || fail "nc-audit-emit $n $* failed"
}

# audit ARGS...: run `nanoclaw audit ARGS...`, capture $OUT $ERR $RC.
audit() {
  local o e
  o=$(mktemp "$TMP/out.XXXXXX"); e=$(mktemp "$TMP/err.XXXXXX")
  set +e
  "$NC" audit "$@" >"$o" 2>"$e" </dev/null
  RC=$?
  set -e
  OUT=$(cat "$o"); ERR=$(cat "$e")
}

# expect_bad LOG "line N: why-prefix"
expect_bad() {
  audit verify "$1"
  assert_rc 1 "verify of a tampered log"
  [[ "$OUT" == "$2"* ]] || fail "expected [$2...], got [$OUT]"
}


# ---- verify ------------------------------------------------------------------------------------------

test_audit_verify_ok_and_head() {
  emit "$TMP/a.jsonl" 5
  audit verify "$TMP/a.jsonl"
  assert_rc 0 "verify"
  assert_eq "ok: 8 records, chain intact" "$(head -1 <<<"$OUT")" "first line"
  [[ "$(sed -n 2p <<<"$OUT")" =~ ^head:\ seq\ 7\ sha256\ [0-9a-f]{64}$ ]] || fail "head line: [$OUT]"
  # the head is the SHA-256 of the last line, as sha256sum computes it
  local want; want=$(tail -1 "$TMP/a.jsonl" | tr -d '\n' | sha256sum | cut -d' ' -f1)
  assert_contains "$OUT" "sha256 $want" "head hash"
  # every line is JSON with the chain fields
  jq -e -s 'all(.[]; (.seq|type)=="number" and (.time|test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{6}Z$"))
             and (.prev|test("^[0-9a-f]{64}$")) and (.event|type)=="string")' "$TMP/a.jsonl" >/dev/null ||
    fail "records lack chain fields: $(head -3 "$TMP/a.jsonl")"
  # line N's prev is the sha256 of line N-1
  local l2prev l1hash
  l2prev=$(sed -n 2p "$TMP/a.jsonl" | jq -r .prev)
  l1hash=$(sed -n 1p "$TMP/a.jsonl" | tr -d '\n' | sha256sum | cut -d' ' -f1)
  assert_eq "$l1hash" "$l2prev" "prev of line 2"
  stat -c %a "$TMP/a.jsonl" | grep -qx 600 || fail "mode $(stat -c %a "$TMP/a.jsonl")"
}

test_audit_verify_tamper_cases() {
  emit "$TMP/a.jsonl" 6
  local good="$TMP/a.jsonl" t="$TMP/t.jsonl"
  # edit one byte
  sed '4s/"echo"/"ecHo"/' "$good" >"$t"
  expect_bad "$t" "line 4: the record's bytes do not match its digest"
  # edit the last record
  sed '$s/"exit_code":0/"exit_code":1/' "$good" >"$t"
  expect_bad "$t" "line 9: "
  # delete a line
  sed '5d' "$good" >"$t"
  expect_bad "$t" "line 5: seq 5 follows seq 3"
  # delete the genesis
  sed '1d' "$good" >"$t"
  expect_bad "$t" "line 1: the log does not start with a genesis record"
  # swap two lines
  { sed -n 1,2p "$good"; sed -n 4p "$good"; sed -n 3p "$good"; sed -n '5,$p' "$good"; } >"$t"
  expect_bad "$t" "line 3: seq 3 follows seq 1"
  # insert a line (a copy of another record)
  { sed -n 1,6p "$good"; sed -n 3p "$good"; sed -n '7,$p' "$good"; } >"$t"
  expect_bad "$t" "line 7: seq 2 follows seq 5"
  # insert junk
  { sed -n 1,3p "$good"; echo '{"seq":3,"event":"exec"}'; sed -n '4,$p' "$good"; } >"$t"
  expect_bad "$t" "line 4: not an audit record"
  # truncate in the middle of a line and go on (lines 5 and 6 run together)
  { sed -n 1,4p "$good"; sed -n 5p "$good" | head -c 40; sed -n '6,$p' "$good"; } >"$t"
  expect_bad "$t" "line 5: "
  # torn at the end: ok, with a note
  head -c -25 "$good" >"$t"
  audit verify "$t"
  assert_rc 0 "a torn last line"
  assert_contains "$OUT" "ok: 8 records, chain intact" "torn tail"
  assert_contains "$OUT" "note: last line incomplete (interrupted write), not counted" "note"
  # ...and the next writer repairs it
  emit "$t" 1
  audit verify "$t"
  assert_rc 0 "repaired"
  assert_not_contains "$OUT" "note:" "after the repair"
  assert_eq 1 "$(grep -c '"event":"torn"' "$t")" "one torn record"
  # whole records cut from the end: caught with --expect-seq / --expect-head
  local head; head=$(tail -1 "$good" | tr -d '\n' | sha256sum | cut -d' ' -f1)
  sed '$d' "$good" >"$t"
  audit verify "$t"
  assert_rc 0 "a cut end alone looks fine"
  audit verify "$t" --expect-seq 8
  assert_rc 1 "--expect-seq"
  assert_contains "$OUT" "end of file: the chain ends at seq 7, expected seq 8" "--expect-seq message"
  audit verify "$t" --expect-head "$head"
  assert_rc 1 "--expect-head"
  audit verify "$good" --expect-head "$head" --expect-seq 8
  assert_rc 0 "the full log has the head"
}

test_audit_bad_files_and_usage() {
  audit verify "$TMP/missing.jsonl"
  assert_rc 125 "missing file"
  assert_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line"
  assert_contains "$ERR" "nanoclaw: audit verify: " "prefix"
  assert_contains "$ERR" "$TMP/missing.jsonl" "names the file"
  head -c 100000 /dev/urandom >"$TMP/junk"
  audit verify "$TMP/junk"
  assert_rc 1 "binary junk"
  assert_contains "$OUT" "line 1: " "names line 1"
  printf 'not json\n' >"$TMP/text"
  audit verify "$TMP/text"
  assert_rc 1 "text"
  assert_contains "$OUT" "line 1: not JSON" "why"
  : >"$TMP/empty"
  audit verify "$TMP/empty"
  assert_rc 1 "empty"
  audit show "$TMP/junk"
  assert_rc 0 "show survives junk"
  audit verify "$TMP/a" --bogus
  assert_rc 125 "unknown option"
  audit verify "$TMP/a" --expect-seq x
  assert_rc 125 "bad number"
  audit
  assert_rc 125 "no subcommand"
  audit frobnicate
  assert_rc 125 "unknown subcommand"
  audit --help
  assert_rc 0 "help"
  assert_contains "$OUT" "nanoclaw audit verify" "help text"
  "$NC" --help >"$TMP/help.txt"
  grep -q "audit verify|show" "$TMP/help.txt" || fail "not in nanoclaw --help"
  # the library refuses to append to a file that is not an audit log
  printf 'root:x:0:0::/root:/bin/sh\n' >"$TMP/passwd"
  "$EMIT" --log "$TMP/passwd" 1 >/dev/null 2>"$TMP/e" && fail "appended to a non-log"
  assert_contains "$(cat "$TMP/e")" "not a nanoclaw audit log" "refusal"
  assert_eq 'root:x:0:0::/root:/bin/sh' "$(cat "$TMP/passwd")" "untouched"
}

# ---- show --------------------------------------------------------------------------------------------

test_audit_show_readable_and_filters() {
  emit "$TMP/a.jsonl" 2 --sandbox sb-one --output 100
  emit "$TMP/a.jsonl" 1 --sandbox sb-two
  audit show "$TMP/a.jsonl"
  assert_rc 0 "show"
  assert_eq "$(wc -l <"$TMP/a.jsonl")" "$(printf '%s\n' "$OUT" | wc -l)" "one line per record"
  assert_contains "$OUT" " sb-one exec i=0 argv=[\"echo\",\"0\"]" "exec line"
  assert_contains "$OUT" " sb-one output stdout: \"abcdefghijklmnopqrstuvwxyz" "output shown as text"
  assert_not_contains "$OUT" "prev=" "chain fields hidden"
  audit show "$TMP/a.jsonl" --sandbox sb-two
  assert_not_contains "$OUT" "sb-one" "--sandbox"
  assert_eq 3 "$(printf '%s\n' "$OUT" | wc -l)" "start, exec, end of sb-two"
  audit show "$TMP/a.jsonl" --event exec --json
  assert_eq 3 "$(printf '%s\n' "$OUT" | wc -l)" "--event exec"
  printf '%s\n' "$OUT" | jq -e -s 'all(.[]; .event=="exec")' >/dev/null || fail "--json is not the records: $OUT"
}

test_audit_show_follow() {
  emit "$TMP/a.jsonl" 1
  "$NC" audit show --follow --event exec "$TMP/a.jsonl" >"$TMP/follow.out" 2>&1 &
  local pid=$! i
  emit "$TMP/a.jsonl" 3 --sandbox later
  for i in $(seq 1 50); do
    [ "$(grep -c ' later exec ' "$TMP/follow.out" || true)" -ge 3 ] && break
    sleep 0.1
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  assert_eq 3 "$(grep -c ' later exec ' "$TMP/follow.out")" "records appended after show started: $(cat "$TMP/follow.out")"
}

# ---- many writers, killed writers ---------------------------------------------------------------------

test_audit_twenty_concurrent_writers() {
  emit "$TMP/a.jsonl" 0
  local i pids=()
  for i in $(seq 1 20); do
    "$EMIT" --log "$TMP/a.jsonl" --sandbox "sb-$i" 50 >/dev/null & pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || fail "a writer failed"; done
  audit verify "$TMP/a.jsonl"
  assert_rc 0 "verify after 20 concurrent writers: $OUT"
  assert_eq "ok: $((3 + 20 * 52)) records, chain intact" "$(head -1 <<<"$OUT")" "count"
}

test_audit_sigkill_leaves_a_log_that_verifies() {
  local i pid
  for i in 1 2 3 4 5; do
    "$EMIT" --log "$TMP/a.jsonl" --output 300000 100000 >/dev/null 2>&1 & pid=$!
    sleep "0.$((RANDOM % 3 + 1))"
    kill -9 "$pid"; wait "$pid" 2>/dev/null || true
    audit verify "$TMP/a.jsonl"
    assert_rc 0 "verify after SIGKILL #$i: $OUT"
  done
}

# ---- sinks -------------------------------------------------------------------------------------------

test_audit_dead_sink_is_bounded() {
  local port out t0 t1; port=$(free_port)
  t0=$(now_ms)
  out=$("$EMIT" --log "$TMP/a.jsonl" --syslog "tcp://127.0.0.1:$port" --flush-ms 500 100) || fail "a dead sink failed the run"
  t1=$(now_ms)
  [ $((t1 - t0)) -lt 3000 ] || fail "took $((t1 - t0)) ms"
  local close_ms=${out##*close_ms=}
  [ "$close_ms" -le 800 ] || fail "close took $close_ms ms, bound 500"
  assert_eq 103 "$(jq -s '[.[] | select(.event=="sink_loss") | .records_lost] | add' "$TMP/a.jsonl")" "records lost"
  audit verify "$TMP/a.jsonl"
  assert_rc 0 "verify"
  # --audit-required: the same is a failed run that names the sink
  set +e
  "$EMIT" --log "$TMP/b.jsonl" --syslog "tcp://127.0.0.1:$port" --flush-ms 300 --required --delay-ms 20 20 >/dev/null 2>"$TMP/e"
  local rc=$?
  set -e
  [ "$rc" -ne 0 ] || fail "required: a dead sink did not fail"
  assert_contains "$(cat "$TMP/e")" "tcp://127.0.0.1:$port" "names the sink"
}

# A real rsyslogd on a loopback port, with our own config (no imuxsock/imklog, its own work directory and
# pid file), receives every record of a run over TCP (octet-counted) and over UDP.
test_audit_rsyslog_receives_records() {
  start_rsyslog
  local tport=$RS_TPORT uport=$RS_UPORT rpid=$RS_PID i
  # TCP: a new log, so the remote copy starts at the genesis; with an output chunk of 16 KiB
  "$EMIT" --log "$TMP/a.jsonl" --syslog "tcp://127.0.0.1:$tport" --output 20000 5 >/dev/null || fail "emit over TCP"
  local want; want=$(wc -l <"$TMP/a.jsonl")
  for i in $(seq 1 50); do
    [ -f "$TMP/rs/tcp.log" ] && [ "$(wc -l <"$TMP/rs/tcp.log")" -ge "$want" ] && break
    sleep 0.1
  done
  assert_eq "$want" "$(wc -l <"$TMP/rs/tcp.log" 2>/dev/null || echo 0)" "records received over TCP"
  # exactly the records of the file, byte for byte, so the remote copy verifies on its own
  cmp -s "$TMP/a.jsonl" "$TMP/rs/tcp.log" || fail "the TCP copy differs: $(diff <(cut -c1-120 "$TMP/a.jsonl") <(cut -c1-120 "$TMP/rs/tcp.log") | head)"
  audit verify "$TMP/rs/tcp.log"
  assert_rc 0 "the remote copy verifies"
  jq -e -s 'map(select(.event=="output")) | length >= 2' "$TMP/rs/tcp.log" >/dev/null || fail "no output records"
  local meta; meta=$(head -1 "$TMP/rs/tcp.meta")
  [[ "$meta" =~ ^imtcp\ [^\ ]+\ nanoclaw\ [0-9]+\ authpriv\.info\ [0-9]{4}-[0-9]{2}-[0-9]{2}T ]] || fail "syslog header: [$meta]"
  # UDP: appended to the same log, one datagram a record
  "$EMIT" --log "$TMP/a.jsonl" --syslog "udp://127.0.0.1:$uport" 3 >/dev/null || fail "emit over UDP"
  for i in $(seq 1 50); do
    [ -f "$TMP/rs/udp.log" ] && [ "$(wc -l <"$TMP/rs/udp.log")" -ge 5 ] && break
    sleep 0.1
  done
  assert_eq 5 "$(wc -l <"$TMP/rs/udp.log" 2>/dev/null || echo 0)" "records received over UDP (start, 3 exec, end)"
  assert_eq "$(tail -5 "$TMP/a.jsonl")" "$(cat "$TMP/rs/udp.log")" "the UDP records are the file's last five"
  kill "$rpid"; wait "$rpid" 2>/dev/null || true
  trap - EXIT
}
