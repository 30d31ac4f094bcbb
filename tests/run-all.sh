#!/usr/bin/env bash
# tests/run-all.sh — build, then run every test tier; ends with "N passed, N failed".
# Usage: tests/run-all.sh [--quick]   (--quick skips the sanitizer build)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
passed=0; failed=0; failures=()
quick=0; [ "${1:-}" = "--quick" ] && quick=1

note() { printf '%s\n' "$*"; }
record() { # name status
  if [ "$2" -eq 0 ]; then passed=$((passed+1)); note "ok   $1"
  else failed=$((failed+1)); failures+=("$1"); note "FAIL $1"; fi
}

build() { # dir [meson args...]
  local d=$1; shift
  if [ ! -d "$d" ]; then meson setup "$d" "$@" >"$d.setup.log" 2>&1 || { cat "$d.setup.log"; return 1; }; fi
  ninja -C "$d" >"$d.build.log" 2>&1 || { tail -50 "$d.build.log"; return 1; }
}

# 1. Build (gcc) and the unit tests.
build build; record "build (gcc, -Werror)" $?
cppcheck --enable=warning,portability --std=c11 --error-exitcode=1 -q -I src -I include -D_GNU_SOURCE \
  $(git ls-files 'src/*.c' 2>/dev/null || find src -name '*.c') >build/cppcheck.log 2>&1
st=$?; [ $st -ne 0 ] && sed 's/^/    /' build/cppcheck.log | tail -20; record "cppcheck src/" $st
unit_tier() { # builddir label
  local d=$1 label=$2 name st
  for exe in "$d"/tests/test_*; do
    [ -f "$exe" ] && [ -x "$exe" ] || continue
    name=$(basename "$exe")
    CMOCKA_MESSAGE_OUTPUT=stdout "$exe" >"$d/$name.log" 2>&1; st=$?
    [ $st -ne 0 ] && sed 's/^/    /' "$d/$name.log" | tail -30
    record "$label $name" $st
  done
}
unit_tier build unit

# 2. The same unit tests under ASan+UBSan, built with clang.
if [ $quick -eq 0 ]; then
  CC=clang build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug; record "build (clang, ASan+UBSan)" $?
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 unit_tier build-asan asan
fi

# 2a. The proxy's request parsers and the allowlist under libFuzzer, for a
# bounded time each (tests/fuzz/run.sh; a crash fails the tier).
if [ $quick -eq 0 ]; then
  while IFS= read -r line; do
    case $line in
      "ok   fuzz "*) record "${line#ok   }" 0 ;;
      "FAIL fuzz "*) record "${line#FAIL }" 1 ;;
      *) printf '    %s\n' "$line" ;;
    esac
  done < <(bash tests/fuzz/run.sh "${FUZZ_SECONDS:-20}" 2>&1)
fi

# 2b. Whole `nanoclaw run`s under LeakSanitizer: success, command not found,
# a setup error, the deadline. (Debian 12's valgrind 3.19 does not know the
# new mount API syscalls — open_tree, move_mount, fsopen — so it cannot run
# a sandbox; LSan checks the same thing: nothing leaked on any path.)
if [ $quick -eq 0 ] && [ -x build-asan/nanoclaw ]; then
  lsan_case() { # name expected-status args...
    local name=$1 want=$2 st; shift 2
    ASAN_OPTIONS=detect_leaks=1:exitcode=99 UBSAN_OPTIONS=halt_on_error=1 \
      build-asan/nanoclaw run "$@" >/tmp/nc-lsan.out 2>&1 </dev/null; st=$?
    [ $st -ne "$want" ] && { echo "    expected exit $want, got $st"; sed 's/^/    /' /tmp/nc-lsan.out | tail -20; }
    [ $st -eq "$want" ]; record "lsan run: $name" $?
  }
  lsan_case "echo" 0 -- /bin/echo hi
  lsan_case "not found" 127 -- no-such-command
  lsan_case "bad bind source" 125 --bind /no/such/dir:/x -- true
  lsan_case "deadline" 124 --timeout 0.5 -- sleep 5
  lsan_case "output limit" 0 --output-limit 4 -- /bin/echo 123456789
  lsan_case "egress proxy (allowed + denied, SOCKS5)" 0 --add-host a.test:127.0.0.1 --allow-host a.test:1 -- \
    sh -c 'curl -s -o /dev/null http://a.test:1/; curl -s -o /dev/null http://b.test/; curl -s --socks5-hostname 127.0.0.1:3128 http://a.test:1/; exit 0'
  rm -f /tmp/nc-lsan.out
fi

# 3. Integration and security tests drive the real binary.
export PROBE=$ROOT/build/tests/nc-probe
run_suite() { # label files...
  local label=$1 f t st; shift
  for f in "$@"; do
    [ -f "$f" ] || continue
    for t in $(grep -oE '^test_[A-Za-z0-9_]+' "$f"); do
      TMP=$(mktemp -d /tmp/nctest.XXXXXX)
      ( export TMP; set -e; . tests/lib.sh; . "$f"; "$t" ) >"$TMP.log" 2>&1; st=$?
      [ $st -ne 0 ] && sed 's/^/    /' "$TMP.log" | tail -20
      rm -rf "$TMP" "$TMP.log"
      record "$label$(basename "$f" .sh):$t" $st
    done
  done
}
export NC=$ROOT/build/nanoclaw
run_suite "" tests/integration/*.sh tests/security/*.sh

# 3b. The Python binding (pytest), against build/libnanoclaw.so, and once
# installed with pip into a fresh venv (offline).
if [ -f python/run-tests.sh ]; then
  bash python/run-tests.sh --installed >build/python-tests.log 2>&1; st=$?
  [ $st -ne 0 ] && tail -30 build/python-tests.log | sed 's/^/    /'
  note "    pytest: $(grep -E '[0-9]+ (passed|failed)' build/python-tests.log | sed 's/=//g; s/^ *//' | tr '\n' ';')"
  record "python binding (pytest, in-tree and pip-installed)" $st
fi

# 4. The escape suite again on the fallback paths: openat2 and clone3 made to
# fail with ENOSYS (an older kernel), as crun's check-no-openat2 does.
if [ -f build/tests/nosys-shim.so ]; then
  printf '#!/bin/sh\nLD_PRELOAD=%s exec %s "$@"\n' "$ROOT/build/tests/nosys-shim.so" "$ROOT/build/nanoclaw" >build/nanoclaw-nosys
  chmod +x build/nanoclaw-nosys
  NC=$ROOT/build/nanoclaw-nosys run_suite "no-openat2/clone3 " tests/security/*.sh
fi

# 5. cgroup v2 for real, in a small VM (this host is cgroup v1).
if [ $quick -eq 0 ] && [ -x tests/vm/run-v2.sh ]; then
  bash tests/vm/run-v2.sh >build/vm-v2.log 2>&1; st=$?
  grep -E '^(ok|FAIL) ' build/vm-v2.log | sed 's/^/    vm: /'
  [ $st -ne 0 ] && tail -30 build/vm-v2.log | sed 's/^/    /'
  record "cgroup v2 VM suite (tests/vm/run-v2.sh)" $st
fi

if [ ${#failures[@]} -gt 0 ]; then note ""; note "failed:"; printf '  %s\n' "${failures[@]}"; fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
