# tests/lib.sh — a tiny test harness for integration and security tests.
# A test file defines functions named test_*; run-all.sh runs each in a
# subshell. A test fails by calling fail "why" (or by a command failing
# under `set -e`); it passes when it returns 0.
# Available to tests:
#   $NC        the nanoclaw binary under test
#   $PROBE     the static in-sandbox helper (tests/helpers/nc-probe.c)
#   $TMP       a fresh temp dir for this test, removed afterwards
#   fail MSG, assert_eq EXPECTED ACTUAL MSG, assert_contains HAYSTACK NEEDLE MSG,
#   assert_not_contains, ncrun ARGS... (runs $NC run, sets $OUT $ERR $RC)

fail() { echo "    FAIL: $*" >&2; exit 1; }
assert_eq() { [ "$1" = "$2" ] || fail "${3:-}: expected [$1] got [$2]"; }
assert_contains() { case "$1" in *"$2"*) ;; *) fail "${3:-}: [$2] not found in [$1]";; esac; }
assert_not_contains() { case "$1" in *"$2"*) fail "${3:-}: [$2] unexpectedly in [$1]";; esac; }

# ncrun ARGS...: run `nanoclaw run ARGS...`, capture stdout/stderr/status.
ncrun() {
  local o e
  o=$(mktemp "$TMP/out.XXXXXX"); e=$(mktemp "$TMP/err.XXXXXX")
  set +e
  "$NC" run "$@" >"$o" 2>"$e" </dev/null
  RC=$?
  set -e
  OUT=$(cat "$o"); ERR=$(cat "$e")
}

# ---- helpers for tests/security and tests/integration (nc-probe, results, leftovers) ----

# probe_setup: copy $PROBE to $TMP/nc/nc-probe (dir and file 0755); ncprobe
# binds $TMP/nc read-only at /nc, so inside the sandbox it is /nc/nc-probe.
probe_setup() {
  [ -x "${PROBE:-}" ] || fail "the probe is not built: [${PROBE:-}]"
  mkdir -p "$TMP/nc"
  cp "$PROBE" "$TMP/nc/nc-probe"
  chmod 755 "$TMP/nc" "$TMP/nc/nc-probe"
}

# ncprobe [NANOCLAW-RUN-FLAGS...] -- PROBE-ARGS...: ncrun with the probe at /nc.
ncprobe() {
  local flags=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do flags+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  [ -x "$TMP/nc/nc-probe" ] || probe_setup
  ncrun "${flags[@]}" --bind "$TMP/nc:/nc" -- /nc/nc-probe "$@"
}

# assert_rc EXPECTED MSG: $RC after ncrun, with stdout/stderr in the message.
assert_rc() { [ "$RC" = "$1" ] || fail "${2:-}: exit status expected [$1] got [$RC]; stdout [$OUT] stderr [$ERR]"; }

# jget FILE JQ-FILTER: one value of a result JSON (jq -r).
jget() { jq -r "$2" "$1"; }

# host_leftovers: what a run could leave behind on the host, one item a line:
# mounts naming nanoclaw or a test dir, the mount count, nanoclaw cgroup dirs
# with no process in them (ones with processes belong to runs in progress,
# perhaps other people's), temp dirs.
host_leftovers() {
  {
    awk '{print "mount " $2 " " $3}' /proc/self/mounts | grep -i -e nanoclaw -e nctest || true
    echo "mounts-total $(wc -l </proc/self/mounts)"
    local d
    for d in $(find /sys/fs/cgroup -maxdepth 5 -type d -name 'nanoclaw*' 2>/dev/null); do
      [ -s "$d/cgroup.procs" ] || echo "cgroup $d"
    done
    ls -d /tmp/nanoclaw* /run/nanoclaw* /dev/shm/nanoclaw* /var/tmp/nanoclaw* 2>/dev/null | sed 's/^/tmp /' || true
  } | sort
}

# cgroups_of_id ID: cgroup dirs (any hierarchy) named after sandbox ID.
cgroups_of_id() { find /sys/fs/cgroup -maxdepth 5 -type d -name "*$1*" 2>/dev/null || true; }

# sandbox_cgroups PID: the host cgroup dirs PID is in that differ from this
# shell's own (so those nanoclaw created for the sandbox), one per line.
sandbox_cgroups() {
  local line mine ctrl path
  mine=$(cat /proc/self/cgroup)
  while IFS= read -r line; do
    grep -qxF -- "$line" <<<"$mine" && continue
    ctrl=${line#*:}; ctrl=${ctrl%%:*}; path=${line#*:*:}
    case "$ctrl" in
      "") echo "/sys/fs/cgroup/unified$path" ;;
      name=*) echo "/sys/fs/cgroup/${ctrl#name=}$path" ;;
      *) echo "/sys/fs/cgroup/${ctrl%%,*}$path" ;;
    esac
  done </proc/"$1"/cgroup
}

# wait_pid PATTERN SECS: print the first pid whose command line matches the
# extended regex PATTERN (pgrep -f), polling up to SECS; empty when none.
wait_pid() {
  local i n=$(( ${2:-5} * 20 )) p
  for ((i = 0; i < n; i++)); do
    p=$(pgrep -f -- "$1" | head -1 || true)
    [ -n "$p" ] && { echo "$p"; return 0; }
    sleep 0.05
  done
}

# wait_gone PATTERN SECS: succeed once no process matches PATTERN (pgrep -f),
# polling up to SECS; fail listing the survivors otherwise.
wait_gone() {
  local i n=$(( ${2:-3} * 20 ))
  for ((i = 0; i < n; i++)); do
    pgrep -f -- "$1" >/dev/null || return 0
    sleep 0.05
  done
  fail "still running after ${2:-3}s: $(pgrep -a -f -- "$1" | head -5 | tr '\n' ';')"
}

# now_ms: monotonic-enough wall clock in milliseconds.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# assert_no_new_leftovers BEFORE MSG: host_leftovers now holds nothing that
# BEFORE (an earlier host_leftovers) did not (a concurrent `nanoclaw gc` may
# have removed some of BEFORE's).
assert_no_new_leftovers() {
  local new
  new=$(comm -13 <(printf '%s\n' "$1") <(host_leftovers))
  [ -z "$new" ] || fail "${2:-}: left behind: $(tr '\n' ';' <<<"$new")"
}

# free_port: a loopback port nothing listens on (TCP or UDP)
free_port() {
  local p i
  for i in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if [ -z "$(ss -Hatun "sport = :$p" 2>/dev/null)" ]; then echo "$p"; return 0; fi
  done
  fail "no free port"
}

# start_rsyslog: a real rsyslogd on loopback with our own config (no
# imuxsock/imklog, work directory and pid file in $TMP/rs), writing what
# arrives over TCP to $TMP/rs/tcp.log (+ tcp.meta) and over UDP to
# $TMP/rs/udp.log, one message a line. Sets RS_TPORT RS_UPORT RS_PID; killed
# when the test's shell exits.
start_rsyslog() {
  if ! command -v rsyslogd >/dev/null; then
    [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsyslog >/dev/null 2>&1
    command -v rsyslogd >/dev/null || fail "rsyslogd is missing (apt-get install rsyslog)"
  fi
  local tport uport i
  tport=$(free_port); uport=$(free_port)
  mkdir -p "$TMP/rs"
  cat >"$TMP/rs/rsyslog.conf" <<EOF
global(workDirectory="$TMP/rs" maxMessageSize="64k")
module(load="imtcp")
module(load="imudp")
template(name="msg" type="string" string="%msg%\n")
template(name="meta" type="string" string="%inputname% %hostname% %app-name% %procid% %syslogfacility-text%.%syslogseverity-text% %timereported:::date-rfc3339%\n")
input(type="imtcp" port="$tport" address="127.0.0.1" ruleset="tcp")
input(type="imudp" port="$uport" address="127.0.0.1" ruleset="udp")
ruleset(name="tcp") {
  action(type="omfile" file="$TMP/rs/tcp.log" template="msg")
  action(type="omfile" file="$TMP/rs/tcp.meta" template="meta")
}
ruleset(name="udp") {
  action(type="omfile" file="$TMP/rs/udp.log" template="msg")
}
EOF
  rsyslogd -n -f "$TMP/rs/rsyslog.conf" -i "$TMP/rs/rsyslogd.pid" >"$TMP/rs/rsyslogd.out" 2>&1 &
  local rpid=$!
  RS_PID=$rpid RS_TPORT=$tport RS_UPORT=$uport
  trap "kill $rpid 2>/dev/null || true" EXIT
  for i in $(seq 1 50); do
    [ -n "$(ss -Hltn "sport = :$tport")" ] && break
    sleep 0.1
  done
  [ -n "$(ss -Hltn "sport = :$tport")" ] || fail "rsyslogd did not listen: $(cat "$TMP/rs/rsyslogd.out")"
}
