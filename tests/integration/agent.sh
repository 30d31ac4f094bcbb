# tests/integration/agent.sh — `nanoclaw agent`: the model loop runs in nanoclaw, the tools in one sandbox
# session. The model is a scripted OpenAI-compatible server (tests/helpers/mock_openai.py) on the host's
# loopback; its request log is the record of what the model was sent, tool results included.

MOCK=${MOCK:-$PWD/tests/helpers/mock_openai.py}

# start_mock [MOCK-ARGS...]: serve the script in $TMP/script.json; sets MPORT, MLOG, BASE; killed with the shell.
start_mock() {
  local pf="$TMP/mock.port.$RANDOM" i
  MLOG="$TMP/mock.$RANDOM.jsonl"
  python3 "$MOCK" --script "$TMP/script.json" --port-file "$pf" --log "$MLOG" "$@" 2>>"$TMP/mock.err" &
  MOCK_PIDS="${MOCK_PIDS:-} $!"
  trap 'kill $MOCK_PIDS 2>/dev/null || true' EXIT
  for ((i = 0; i < 200; i++)); do [ -s "$pf" ] && break; sleep 0.05; done
  MPORT=$(cat "$pf") || fail "the mock did not start: $(cat "$TMP/mock.err")"
  BASE="http://127.0.0.1:$MPORT/v1"
}

# script JSON: the mock's script.
script() { printf '%s\n' "$1" >"$TMP/script.json"; }

# agent ARGS...: run `nanoclaw agent` against the mock with an audit log in $TMP; sets OUT ERR RC.
agent() {
  local o e
  o=$(mktemp "$TMP/out.XXXXXX"); e=$(mktemp "$TMP/err.XXXXXX")
  set +e
  "$NC" agent --model gpt-test --base-url "$BASE" --audit-log "$TMP/audit.jsonl" "$@" >"$o" 2>"$e" </dev/null
  RC=$?
  set -e
  OUT=$(cat "$o"); ERR=$(cat "$e")
}

# requests: how many chat completion requests the mock got.
requests() { grep -c '"path": "/v1/chat/completions"' "$MLOG" || true; }

# tool_msgs N: the tool messages request N (1-based) added after the model's last answer, one JSON line each.
tool_msgs() {
  sed -n "${1}p" "$MLOG" |
    jq -c '.body.messages | ([.[].role] | rindex("assistant")) as $i | .[$i + 1:][] | select(.role == "tool")'
}

# A task over three model requests: write a file in /tmp (a tmpfs inside), read it back with a command and
# with read_file in later requests, answer with what was read. The file was there for the later calls (one
# session for the whole task), and nothing of it is on the host afterwards.
test_tools_share_one_session_and_leave_nothing() {
  local name="nc-agent-$RANDOM$RANDOM.txt"
  script '[
    {"tool_calls": [{"name": "write_file",
                     "arguments": {"path": "/tmp/'"$name"'", "content": "kept between calls\n"}}]},
    {"tool_calls": [{"name": "run_command", "arguments": {"command": "cat /tmp/'"$name"'; echo $$"}},
                    {"name": "list_dir", "arguments": {"path": "/tmp"}}]},
    {"tool_calls": [{"name": "read_file", "arguments": {"path": "/tmp/'"$name"'"}}]},
    {"answer": "the file says: {last_tool}"}]'
  start_mock
  OPENAI_API_KEY=sk-test agent --result-json "$TMP/r.json" "keep a note and read it back"
  assert_eq 0 "$RC" "exit status; stderr [$ERR]"
  assert_eq "the file says: kept between calls" "$OUT" "the answer on stdout"
  assert_eq 4 "$(requests)" "model requests"
  assert_eq '"wrote 19 bytes to /tmp/'"$name"'"' "$(tool_msgs 2 | jq '.content')" "write_file result"
  local run
  run=$(tool_msgs 3 | head -1 | jq -r '.content')
  assert_eq 0 "$(jq -r .exit_code <<<"$run")" "run_command exit code"
  assert_contains "$(jq -r .stdout <<<"$run")" "kept between calls" "run_command saw the file written earlier"
  assert_contains "$(tool_msgs 3 | sed -n 2p | jq -r .content)" "$name" "list_dir shows the file"
  assert_eq '"kept between calls\n"' "$(tool_msgs 4 | jq .content)" "read_file"
  [ ! -e "/tmp/$name" ] || fail "the sandbox's /tmp/$name is on the host"
  local id
  id=$(jget "$TMP/r.json" .sandbox_id)
  [ ${#id} = 32 ] || fail "sandbox id [$id]"
  assert_eq "" "$(cgroups_of_id "$id")" "the session's cgroups after the task"
  assert_not_contains "$(awk '{print $2}' /proc/self/mounts)" "$id" "the session's mounts"
  assert_eq answered "$(jget "$TMP/r.json" .outcome)" "outcome"
  assert_eq 4 "$(jget "$TMP/r.json" .steps)" "steps"
  assert_eq 4 "$(jget "$TMP/r.json" .tool_calls)" "tool calls"
  assert_eq 60 "$(jget "$TMP/r.json" .usage.total_tokens)" "tokens summed over 4 answers"
  assert_eq 0 "$(jget "$TMP/r.json" .sandbox.exit_code)" "the session ended cleanly"
}

# The request is OpenAI's chat completions with tool calling: model, messages (system + user), the four
# tools, the key as a Bearer token; a plain answer is printed as it is and ends the task.
test_final_answer_and_request_shape() {
  script '[{"answer": "42"}]'
  start_mock --key sk-right --model gpt-test
  OPENAI_API_KEY=sk-right agent "What is six times seven?"
  assert_eq 0 "$RC" "exit status; stderr [$ERR]"
  assert_eq 42 "$OUT" "answer"
  local req
  req=$(head -1 "$MLOG")
  assert_eq "Bearer sk-right" "$(jq -r '.headers.Authorization' <<<"$req")" "Authorization"
  assert_eq gpt-test "$(jq -r .body.model <<<"$req")" "model"
  assert_eq "system user" "$(jq -r '[.body.messages[].role] | join(" ")' <<<"$req")" "messages"
  assert_eq "What is six times seven?" "$(jq -r '.body.messages[1].content' <<<"$req")" "prompt"
  assert_eq "list_dir read_file run_command write_file" \
    "$(jq -r '[.body.tools[].function.name] | sort | join(" ")' <<<"$req")" "tools"
  assert_eq command "$(jq -r '.body.tools[] | select(.function.name == "run_command")
                               | .function.parameters.required[0]' <<<"$req")" "run_command schema"
}

# A body that is not JSON: a one-line error with the byte offset, exit 1, no retry.
test_malformed_json() {
  script '[{"raw": "{\"choices\": [oops"}]'
  start_mock
  OPENAI_API_KEY=sk-test agent "hi"
  assert_eq 1 "$RC" "exit status; stdout [$OUT]"
  assert_contains "$ERR" "127.0.0.1:$MPORT: response was not valid JSON at byte 17" "error"
  assert_eq 1 "$(wc -l <<<"$ERR")" "one line"
  assert_eq 1 "$(requests)" "not retried"
}

# 429 (Retry-After: 0) and a 503 are retried; then the answer.
test_429_then_success() {
  script '[{"status": 429, "headers": {"Retry-After": "0"}}, {"status": 503}, {"answer": "after the rate limit"}]'
  start_mock
  OPENAI_API_KEY=sk-test agent "hi"
  assert_eq 0 "$RC" "exit status; stderr [$ERR]"
  assert_eq "after the rate limit" "$OUT" "answer"
  assert_eq 3 "$(requests)" "requests"
}

# Rate limited for good: gives up after the retries with a count.
test_429_forever_gives_up() {
  script '[{"status": 429, "headers": {"Retry-After": "0"}, "repeat": true}]'
  start_mock
  OPENAI_API_KEY=sk-test agent "hi"
  assert_eq 1 "$RC" "exit status"
  assert_contains "$ERR" "127.0.0.1:$MPORT answered 429 (rate limited) 5 times; giving up" "error"
  assert_eq 5 "$(requests)" "1 + 4 retries"
}

# A wrong key: "API key rejected by HOST (401)", nothing retried, and the key is not in the message even
# though the server's body echoes it.
test_401_key_rejected() {
  script '[{"answer": "never"}]'
  start_mock --key sk-the-right-one
  OPENAI_API_KEY=sk-wrong-key-7731 agent "hi"
  assert_eq 1 "$RC" "exit status"
  assert_eq "nanoclaw: API key rejected by 127.0.0.1:$MPORT (401): check OPENAI_API_KEY" "$ERR" "error"
  assert_not_contains "$ERR" "sk-wrong-key-7731" "the key in the message"
  assert_eq 1 "$(requests)" "not retried"
  assert_not_contains "$(cat "$TMP/audit.jsonl")" "sk-wrong-key-7731" "the key in the audit log"
}

# A model the server does not have: OpenAI's 404 model_not_found.
test_model_not_found() {
  script '[{"answer": "never"}]'
  start_mock --model gpt-real
  OPENAI_API_KEY=sk-test agent --model gpt-x "hi"
  assert_eq 1 "$RC" "exit status"
  assert_contains "$ERR" "model gpt-x not found at 127.0.0.1:$MPORT" "error"
}

# A model that never stops calling tools: max_steps ends it (exit 1); the calls of the last request are not
# run (no request is left to report their results to).
test_max_steps_stops_endless_tool_calls() {
  script '[{"tool_calls": [{"name": "run_command", "arguments": {"command": "echo again >> /tmp/count"}}],
            "repeat": true}]'
  start_mock
  OPENAI_API_KEY=sk-test agent --max-steps 3 --result-json "$TMP/r.json" "loop"
  assert_eq 1 "$RC" "exit status; stdout [$OUT]"
  assert_contains "$ERR" "the model did not finish within max_steps=3" "error"
  assert_eq 3 "$(requests)" "model requests"
  assert_eq max_steps "$(jget "$TMP/r.json" .outcome)" "outcome"
  assert_eq 2 "$(jget "$TMP/r.json" .tool_calls)" "tools run"
  # default max_steps: 20
  script '[{"tool_calls": [{"name": "list_dir", "arguments": {"path": "/"}}], "repeat": true}]'
  start_mock
  OPENAI_API_KEY=sk-test agent "loop"
  assert_contains "$ERR" "max_steps=20" "default"
  assert_eq 20 "$(requests)" "model requests by default"
}

# The API key never enters the sandbox. The key is a fresh random value; the model has the sandbox dump
# every environment and command line it can read (its own, pid 1's, every process's), list processes with
# their environments, and search /proc, /tmp, /etc and the rest of its filesystem for anything that starts
# like the key (the pattern is built at run time, so it is not in the searching shell's own command line).
# What came back to the model (the mock's log of the tool results) and the audit log must not contain it,
# while the same search does find a canary put in the sandbox's environment on purpose: the search works.
# pid 1 of the sandbox starts as a copy of nanoclaw: its environ must stay unreadable from inside.
test_api_key_not_visible_in_sandbox() {
  local key="sk-nc-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  local canary="canary-$RANDOM$RANDOM"
  script '[
    {"tool_calls": [{"name": "run_command", "arguments": {"command": "env; for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline /proc/self/environ; do echo \"== $f\"; tr \"\\\\0\" \"\\\\n\" < $f; done 2>&1; echo; ps eww -e 2>&1 || ls /proc"}}]},
    {"tool_calls": [{"name": "run_command", "arguments": {"command": "for v in \"$NC_CANARY\" $(printf \"sk-%s-\" nc); do echo \"search $v:\"; grep -rlsF -- \"$v\" /proc/[0-9]*/environ /proc/[0-9]*/cmdline /tmp /etc /run /var /home /root /dev/shm /usr/local/etc 2>/dev/null; done; echo done"}}]},
    {"tool_calls": [{"name": "read_file", "arguments": {"path": "/proc/1/environ"}}]},
    {"answer": "searched"}]'
  start_mock --key "$key"
  OPENAI_API_KEY=$key agent --env "NC_CANARY=$canary" "find the API key"
  assert_eq 0 "$RC" "exit status; stderr [$ERR]"
  assert_eq 4 "$(requests)" "requests"
  local dump search
  dump=$(tool_msgs 2 | jq -r .content | jq -r .stdout)
  search=$(tool_msgs 3 | jq -r .content | jq -r .stdout)
  assert_contains "$dump" "PATH=" "the dump shows the sandbox's environment"
  assert_contains "$dump" "NC_CANARY=$canary" "the dump shows the canary"
  assert_contains "$search" "search $canary:"$'\n'"/proc/" "the search finds the canary in a process's environ"
  assert_contains "$search" "search sk-nc-:"$'\n'"done" "nothing inside holds a value like the key"
  assert_contains "$(tool_msgs 4 | jq -r .content)" "error: reading /proc/1/environ failed" "pid 1's environ"
  assert_not_contains "$(jq -c '.body.messages // empty' "$MLOG")" "$key" "the key in what the sandbox returned"
  assert_not_contains "$dump" "OPENAI_API_KEY" "the variable's name inside"
  assert_not_contains "$(cat "$TMP/audit.jsonl")" "$key" "the key in the audit log"
  assert_not_contains "$(cat "$TMP/audit.jsonl")" "REDACTED" "the audit log needed no redaction"
  # ... while it was sent to the model server, as the Bearer token
  assert_eq "Bearer $key" "$(head -1 "$MLOG" | jq -r .headers.Authorization)" "Authorization"
}

# A profile that would hand the key to the sandbox (--env copying it) is refused before anything starts.
test_env_carrying_the_key_refused() {
  script '[{"answer": "never"}]'
  start_mock
  OPENAI_API_KEY=sk-copied-into-env agent --env OPENAI_API_KEY "hi"
  assert_eq 125 "$RC" "exit status"
  assert_contains "$ERR" "env OPENAI_API_KEY: its value is the agent's API key, which must not enter the sandbox" \
    "error"
  OPENAI_API_KEY=sk-copied-into-env agent --env "OTHER=sk-copied-into-env" "hi"
  assert_eq 125 "$RC" "another name, the same value"
  assert_eq 0 "$(requests)" "the model was not asked"
}

# No key for a remote API: a setup error naming the variable and the URL, before any connection. A
# loopback server (llama.cpp, Ollama, vLLM) may need none: no Authorization header is sent.
test_missing_key() {
  set +e
  out=$(env -u OPENAI_API_KEY -u OPENAI_BASE_URL "$NC" agent --model gpt-4o-mini --audit-log none "hi" 2>&1)
  rc=$?
  set -e
  assert_eq 125 "$rc" "exit status"
  assert_eq "nanoclaw: agent: OPENAI_API_KEY is not set (the API key for https://api.openai.com/v1)" "$out" "error"
  set +e
  out=$(env -u MY_KEY "$NC" agent --model m --api-key-env MY_KEY --base-url https://llm.example/v1 --audit-log none \
    "hi" 2>&1)
  set -e
  assert_contains "$out" "MY_KEY is not set (the API key for https://llm.example/v1)" "named variable"
  script '[{"answer": "local"}]'
  start_mock
  OPENAI_API_KEY= agent "hi"
  assert_eq 0 "$RC" "loopback without a key; stderr [$ERR]"
  assert_eq local "$OUT" "answer"
  assert_eq null "$(head -1 "$MLOG" | jq .headers.Authorization)" "no Authorization header"
}

# base_url from OPENAI_BASE_URL, the key from the variable the profile names.
test_base_url_from_env_and_key_env() {
  script '[{"answer": "via env"}]'
  start_mock --key k-from-other-var
  set +e
  OUT=$(OPENAI_BASE_URL=$BASE OTHER_KEY=k-from-other-var "$NC" agent --model gpt-test --api-key-env OTHER_KEY \
    --audit-log none "hi" 2>"$TMP/err")
  RC=$?
  set -e
  assert_eq 0 "$RC" "exit status: $(cat "$TMP/err")"
  assert_eq "via env" "$OUT" "answer"
}

# Bad tool calls are answered to the model, not fatal: an unknown tool, arguments that are not JSON, a write
# where the sandbox cannot write, a command that fails, one that prints more than the cap, one that outlives
# the tool timeout.
test_tool_errors_go_back_to_the_model() {
  script '[
    {"tool_calls": [{"name": "format_disk", "arguments": {}},
                    {"name": "run_command", "arguments": "{not json"},
                    {"name": "write_file", "arguments": {"path": "/usr/evil", "content": "x"}},
                    {"name": "read_file", "arguments": {"path": "/no/such/file"}},
                    {"name": "run_command", "arguments": {"command": "head -c 100000 /dev/zero | tr \"\\\\0\" a"}},
                    {"name": "run_command", "arguments": {"command": "sleep 10"}},
                    {"name": "run_command", "arguments": {}}]},
    {"answer": "coped"}]'
  start_mock
  local t0
  t0=$(now_ms)
  OPENAI_API_KEY=sk-test agent --tool-timeout 0.5 "try things"
  assert_eq 0 "$RC" "exit status; stderr [$ERR]"
  assert_eq coped "$OUT" "answer"
  [ $(( $(now_ms) - t0 )) -lt 8000 ] || fail "the tool timeout did not cut sleep 10"
  local m
  mapfile -t m < <(tool_msgs 2 | jq -r .content)
  assert_eq 7 "${#m[@]}" "one tool message per call"
  assert_contains "${m[0]}" \
    'error: unknown tool "format_disk"; the tools are run_command, read_file, write_file, list_dir' "unknown tool"
  assert_contains "${m[1]}" "error: the arguments of run_command are not valid JSON" "bad JSON"
  assert_contains "${m[2]}" "error: writing /usr/evil failed (exit " "read-only place"
  assert_contains "${m[2]}" "Read-only file system" "the reason"
  assert_contains "${m[3]}" \
    "error: reading /no/such/file failed (exit 1): cat: /no/such/file: No such file or directory" "missing file"
  assert_eq 65536 "$(jq -r .stdout <<<"${m[4]}" | head -c 65536 | tr -d a | wc -c | awk '{print 65536 - $1}')" "cap"
  assert_contains "$(jq -r .stdout <<<"${m[4]}")" "[... output truncated at 65536 bytes]" "truncation marker"
  assert_eq true "$(jq -r .timed_out <<<"${m[5]}")" "timed out"
  assert_eq 124 "$(jq -r .exit_code <<<"${m[5]}")" "timeout exit code"
  assert_contains "${m[6]}" 'error: run_command needs a "command" string argument' "missing argument"
}

# One answer with 70 tool calls: the first 64 run, the rest are answered "not run"; every call gets a result.
test_tool_calls_per_answer_bounded() {
  local calls
  calls=$(for i in $(seq 70); do printf '{"name": "run_command", "arguments": {"command": "echo %d"}},' "$i"; done)
  script '[{"tool_calls": ['"${calls%,}"']}, {"answer": "many"}]'
  start_mock
  OPENAI_API_KEY=sk-test agent --result-json "$TMP/r.json" "many calls"
  assert_eq 0 "$RC" "exit status; stderr [$ERR]"
  assert_eq 70 "$(tool_msgs 2 | wc -l)" "tool messages"
  assert_eq 64 "$(jget "$TMP/r.json" .tool_calls)" "run"
  assert_eq 6 "$(tool_msgs 2 | grep -c 'error: not run: more than 64 tool calls in one answer')" "refused"
  assert_eq '"{\"exit_code\":0,\"stdout\":\"64\\n\",\"stderr\":\"\"}"' "$(tool_msgs 2 | sed -n 64p | jq .content)" "64th"
}

# The profile's deadline covers the whole task: a tool that runs past it ends the task with 124.
test_deadline_covers_the_task() {
  script '[{"tool_calls": [{"name": "run_command", "arguments": {"command": "sleep 30"}}]}, {"answer": "late"}]'
  start_mock
  local t0
  t0=$(now_ms)
  OPENAI_API_KEY=sk-test agent --timeout 1.5 "sleep"
  assert_eq 124 "$RC" "exit status; stderr [$ERR]"
  assert_contains "$ERR" "the task's deadline (timeout 1.500s) passed" "error"
  [ $(( $(now_ms) - t0 )) -lt 6000 ] || fail "took $(( $(now_ms) - t0 )) ms"
  # ... and a model that is slower than the deadline
  script '[{"answer": "late", "delay": 5}]'
  start_mock
  t0=$(now_ms)
  OPENAI_API_KEY=sk-test agent --timeout 1 "wait"
  assert_eq 124 "$RC" "exit status; stderr [$ERR]"
  assert_contains "$ERR" "the task's deadline (timeout 1s) passed waiting for the model" "error"
  [ $(( $(now_ms) - t0 )) -lt 4000 ] || fail "took $(( $(now_ms) - t0 )) ms"
}

# Every model request and answer, every tool call and result is in the audit log, in order, and the chain
# verifies.
test_audit_records() {
  script '[{"tool_calls": [{"name": "run_command", "arguments": {"command": "echo audited"}}]}, {"answer": "ok"}]'
  start_mock
  OPENAI_API_KEY=sk-test-audit agent "audit me"
  assert_eq 0 "$RC" "exit status; stderr [$ERR]"
  "$NC" audit verify "$TMP/audit.jsonl" >/dev/null || fail "audit verify: $("$NC" audit verify "$TMP/audit.jsonl")"
  local events
  events=$(jq -r 'select(.event | test("^(agent|model|tool)_")) | .event' "$TMP/audit.jsonl" | tr '\n' ' ')
  assert_eq "agent_start model_request model_response tool_call tool_result model_request model_response agent_end " \
    "$events" "agent records"
  local a="$TMP/audit.jsonl"
  assert_eq "audit me" \
    "$(jq -r 'select(.event == "model_request" and .step == 1) | .new_messages[1].content' "$a")" "prompt"
  assert_eq '{"command": "echo audited"}' "$(jq -r 'select(.event == "tool_call") | .arguments' "$a")" "call"
  assert_eq "audited" \
    "$(jq -r 'select(.event == "tool_result") | .content | fromjson | .stdout' "$a" | tr -d '\n')" "result"
  assert_eq 30 "$(jq -r 'select(.event == "agent_end") | .usage.total_tokens' "$a")" "usage"
  assert_eq set "$(jq -r 'select(.event == "agent_start") | .api_key' "$a")" "key presence, not the key"
  assert_not_contains "$(cat "$a")" "sk-test-audit" "the key"
  # one session: every agent record carries the sandbox id of the session's start record
  assert_eq 1 "$(jq -r 'select(.sandbox != null) | .sandbox' "$a" | sort -u | wc -l)" "one sandbox id"
}

# A huge tool result still fits the audit record bound: it is cut, and says so.
test_audit_caps_big_records() {
  script '[{"tool_calls": [{"name": "run_command", "arguments":
             {"command": "head -c 60000 /dev/zero | tr \"\\\\0\" b; head -c 60000 /dev/zero | tr \"\\\\0\" c >&2"}}]},
           {"answer": "big"}]'
  start_mock
  OPENAI_API_KEY=sk-test agent "big output"
  assert_eq 0 "$RC" "exit status; stderr [$ERR]"
  "$NC" audit verify "$TMP/audit.jsonl" >/dev/null || fail "audit verify"
  assert_contains "$(jq -r 'select(.event == "tool_result") | .content' "$TMP/audit.jsonl")" "bytes not recorded]" \
    "marker"
  # the model got all of it
  assert_eq 60000 "$(tool_msgs 2 | jq -r .content | jq -r .stdout | tr -d '\n' | wc -c)" "the model's copy"
}

# Usage errors: no prompt, two prompts, no model, an unknown flag: 125 and one line.
test_usage_errors() {
  set +e
  "$NC" agent --model m >/dev/null 2>"$TMP/e1"; r1=$?
  "$NC" agent --model m one two >/dev/null 2>"$TMP/e2"; r2=$?
  OPENAI_API_KEY=x "$NC" agent --audit-log none "hi" >/dev/null 2>"$TMP/e3"; r3=$?
  "$NC" agent --no-such-flag "hi" >/dev/null 2>"$TMP/e4"; r4=$?
  "$NC" agent --help >"$TMP/help"; r5=$?
  set -e
  assert_eq "125 125 125 125 0" "$r1 $r2 $r3 $r4 $r5" "statuses"
  assert_contains "$(cat "$TMP/e1")" "no prompt given" "no prompt"
  assert_contains "$(cat "$TMP/e2")" "expected one PROMPT argument, got 2" "two prompts"
  assert_contains "$(cat "$TMP/e3")" "no model given" "no model"
  assert_contains "$(cat "$TMP/help")" "Usage: nanoclaw agent" "help"
}

# The prompt from stdin, and the model from a profile file.
test_prompt_on_stdin_and_profile_file() {
  script '[{"answer": "{last_tool}from stdin"}]'
  start_mock --model gpt-profile
  cat >"$TMP/agent.json" <<EOF
{"name": "ProfileBot", "timeout": 30, "agent": {"model": "gpt-profile", "base_url": "$BASE", "max_steps": 5}}
EOF
  set +e
  OUT=$(echo "the prompt" |
    OPENAI_API_KEY=sk-test "$NC" agent --config "$TMP/agent.json" --audit-log none - 2>"$TMP/err")
  RC=$?
  set -e
  assert_eq 0 "$RC" "exit status: $(cat "$TMP/err")"
  assert_eq "from stdin" "$OUT" "answer"
  assert_eq "the prompt" "$(head -1 "$MLOG" | jq -r '.body.messages[1].content')" "prompt"
  assert_contains "$(head -1 "$MLOG" | jq -r '.body.messages[0].content')" "You are ProfileBot" \
    "the name in the system prompt"
}

# SIGINT during a slow model request: the task stops at once, the sandbox is torn down, exit 130.
test_interrupt() {
  script '[{"answer": "slow", "delay": 20}]'
  start_mock
  OPENAI_API_KEY=sk-test "$NC" agent --model gpt-test --base-url "$BASE" --audit-log "$TMP/audit.jsonl" "wait" \
    >"$TMP/out" 2>"$TMP/err" &
  local pid=$! t0
  sleep 1
  t0=$(now_ms)
  kill -INT "$pid"
  set +e
  wait "$pid"
  RC=$?
  set -e
  assert_eq 130 "$RC" "exit status: $(cat "$TMP/err")"
  [ $(( $(now_ms) - t0 )) -lt 3000 ] || fail "took $(( $(now_ms) - t0 )) ms to stop"
  assert_contains "$(cat "$TMP/err")" "cancelled" "message"
  local id
  id=$(jq -r 'select(.event == "start") | .sandbox' "$TMP/audit.jsonl")
  [ ${#id} = 32 ] || fail "sandbox id [$id]"
  assert_eq "" "$(cgroups_of_id "$id")" "the session's cgroups after the interrupt"
  assert_eq cancelled "$(jq -r 'select(.event == "agent_end") | .outcome' "$TMP/audit.jsonl")" "agent_end"
  assert_eq 1 "$(jq -r 'select(.event == "end") | .sandbox' "$TMP/audit.jsonl" | wc -l)" "the session ended"
}

# The C API: examples/agent.c, built against the library, runs a task against the mock.
test_c_api_example() {
  command -v cc >/dev/null || fail "no C compiler"
  local lib
  lib=$(dirname "$NC")
  [ -f "$lib/libnanoclaw.so" ] || fail "no $lib/libnanoclaw.so"
  cc -std=c17 -Wall -Wextra -Werror -I "$PWD/include" -o "$TMP/agent-example" examples/agent.c -L "$lib" -lnanoclaw \
    -Wl,-rpath,"$lib" || fail "examples/agent.c does not build"
  script '[{"tool_calls": [{"name": "run_command", "arguments": {"command": "uname -n"}}]},
           {"answer": "host: {last_tool}"}]'
  start_mock
  echo '{"timeout": 30, "audit": {"log": "none"}}' >"$TMP/profile.json"
  set +e
  OUT=$(OPENAI_API_KEY=sk-test OPENAI_BASE_URL=$BASE "$TMP/agent-example" gpt-test "what is the hostname?" \
    "$TMP/profile.json" 2>"$TMP/err")
  RC=$?
  set -e
  assert_eq 0 "$RC" "exit status: $(cat "$TMP/err")"
  assert_contains "$OUT" "host: " "answer"
  assert_contains "$(tool_msgs 2 | jq -r .content)" '"stdout":"sandbox\n"' "uname -n inside (the hostname is sandbox)"
}

# Every example profile loads and runs a command (third-party agents are not run here).
test_example_profiles_load() {
  local f n=0
  for f in examples/*.json; do
    ncrun --config "$f" --audit-log none --timeout 10 -- /bin/true
    assert_rc 0 "$f"
    n=$((n + 1))
  done
  [ "$n" -ge 5 ] || fail "only $n example profiles"
}
