# tests/integration/session.sh — `nanoclaw session start|exec|stop`: one sandbox,
# many commands; state persists between execs, nothing lands on the host, and
# stop (or the deadline) takes everything with it.

# sstart ARGS...: start a session, set SID; stopped when the test's shell exits.
sstart() {
  SID=$("$NC" session start "$@" </dev/null) || fail "session start $*"
  [[ "$SID" =~ ^[0-9a-f]{32}$ ]] || fail "session id: [$SID]"
  trap '"$NC" session stop "$SID" >/dev/null 2>&1 || true' EXIT
}
sexec() { # sexec ARGS... : $OUT $ERR $RC of `nanoclaw session exec ARGS...`
  local o e; o=$(mktemp "$TMP/o.XXXXXX"); e=$(mktemp "$TMP/e.XXXXXX")
  set +e; "$NC" session exec "$@" >"$o" 2>"$e" </dev/null; RC=$?; set -e
  OUT=$(cat "$o"); ERR=$(cat "$e")
}

# A file written by one exec is read by the next; it is in the sandbox's
# tmpfs, not on the host; execs run as the sandbox user, confined as `run` is.
test_state_persists_between_execs() {
  sstart --audit-log "$TMP/a.jsonl"
  local marker=nc-sess-$$-$RANDOM
  sexec "$SID" -- sh -c "echo $marker > /tmp/state"
  assert_rc 0 "write"
  sexec "$SID" -- cat /tmp/state
  assert_eq "$marker" "$OUT" "read back in a later exec"
  [ ! -e /tmp/state ] || ! grep -q "$marker" /tmp/state || fail "the file landed on the host"
  sexec "$SID" -- sh -c 'id -u; grep -E "^(CapEff|CapPrm|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t" " "'
  assert_eq "1000
CapPrm: 0000000000000000
CapEff: 0000000000000000
NoNewPrivs: 1
Seccomp: 2" "$OUT" "confinement of an exec"
  "$NC" session stop "$SID" >"$TMP/r.json" || fail "stop"
  trap - EXIT
  assert_eq "$SID" "$(jq -r .id "$TMP/r.json")" "stop prints the result"
  "$NC" audit verify "$TMP/a.jsonl" >/dev/null || fail "audit log"
  assert_eq "3 3" "$(jq -s 'map(select(.event=="exec")) | length' "$TMP/a.jsonl") $(jq -s 'map(select(.event=="exec_end")) | length' "$TMP/a.jsonl")" "exec records"
}

# Exit statuses: the command's own, 127 not found, 124 after --timeout (the
# command's process group is killed, the session lives on); stdin with -i.
test_exec_statuses_and_stdin() {
  sstart
  sexec "$SID" -- sh -c 'echo out; echo err >&2; exit 7'
  assert_rc 7 "exit status"; assert_eq out "$OUT" "stdout"; assert_eq err "$ERR" "stderr"
  sexec "$SID" -- no-such-command
  assert_rc 127 "not found"; assert_contains "$ERR" "command not found" "message"
  local t0; t0=$(now_ms)
  sexec --timeout 0.5 "$SID" -- sh -c 'sleep 30 & sleep 30'
  assert_rc 124 "per-exec timeout"
  [ $(( $(now_ms) - t0 )) -lt 3000 ] || fail "the timeout took $(( $(now_ms) - t0 )) ms"
  local got; got=$(echo "piped in" | "$NC" session exec -i "$SID" -- tr a-z A-Z)
  assert_eq "PIPED IN" "$got" "stdin"
  sexec "$SID" -- true
  assert_rc 0 "the session still works"
}

# stop kills what the execs left running, removes the socket, and leaves nothing.
test_stop_kills_everything() {
  local before; before=$(host_leftovers)
  sstart
  sexec "$SID" -- sh -c "sleep 300 &"
  sexec "$SID" -- sh -c "nohup sleep 301 >/dev/null 2>&1 &"
  pgrep -f "^sleep 301" >/dev/null || fail "the background process is not running"
  "$NC" session stop "$SID" >/dev/null || fail "stop"
  trap - EXIT
  wait_gone "^sleep 30[01]" 3
  [ ! -e "/run/nanoclaw/sessions/$SID.sock" ] || fail "socket left"
  pgrep -f "nanoclaw session start" >/dev/null && pgrep -af "nanoclaw session start" | grep -q "$SID" && fail "daemon left"
  sexec "$SID" -- true
  assert_rc 125 "exec after stop"
  assert_contains "$ERR" "no such session" "message"
  sleep 0.2
  assert_no_new_leftovers "$before" "after stop"
}

# The session's deadline covers its whole life: after it, the session is gone.
test_deadline_ends_session() {
  sstart --timeout 1
  sexec "$SID" -- true
  assert_rc 0 "before the deadline"
  sleep 1.5
  sexec "$SID" -- true
  assert_rc 125 "after the deadline"
  [ ! -e "/run/nanoclaw/sessions/$SID.sock" ] || fail "socket left after the deadline"
  trap - EXIT
}

# The socket is private; ids are checked; bad options are refused.
test_socket_private_and_bad_input() {
  sstart
  assert_eq "700" "$(stat -c %a /run/nanoclaw/sessions)" "dir mode"
  assert_eq "700" "$(stat -c %a "/run/nanoclaw/sessions/$SID.sock")" "socket mode: nobody else may connect"
  sexec "../../etc/passwd" -- true
  assert_rc 125 "bad id"; assert_contains "$ERR" "is not a session id" "message"
  local o; o=$("$NC" session start --mem-limit lots 2>&1) && fail "bad option accepted"
  assert_contains "$o" "--mem-limit" "names the flag"
}

# Attack: read the supervisor's secrets out of pid 1. pid 1 is a copy of
# nanoclaw made without an exec, so nanoclaw's environment (an API key) and
# command line would sit in its memory. Must: from the host, pid 1's environ
# and cmdline hold neither; inside, /proc/1/cmdline is empty.
test_pid1_holds_no_caller_secrets() {
  local secret=nc-secret-$$-$RANDOM
  SID=$(NC_TEST_API_KEY=$secret "$NC" session start --hostname "h$secret" </dev/null) || fail "start"
  trap '"$NC" session stop "$SID" >/dev/null 2>&1 || true' EXIT
  local daemon init
  daemon=$(pgrep -f "nanoclaw session start --hostname h$secret" | head -1)
  [ -n "$daemon" ] || fail "no daemon"
  init=$(pgrep -P "$daemon" | head -1)
  [ -n "$init" ] || fail "no pid 1"
  grep -q "$secret" "/proc/$daemon/environ" || fail "control: the daemon itself should hold the secret"
  ! grep -q "$secret" "/proc/$init/environ" || fail "pid 1's environ holds the caller's secret"
  ! grep -q "$secret" "/proc/$init/cmdline" || fail "pid 1's cmdline holds the caller's arguments"
  sexec "$SID" -- sh -c 'tr -d "\0" </proc/1/cmdline | wc -c'
  assert_eq 0 "$OUT" "pid 1's cmdline inside"
}
