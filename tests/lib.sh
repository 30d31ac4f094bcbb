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
