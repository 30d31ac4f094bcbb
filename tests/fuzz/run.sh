#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] — build the libFuzzer targets with ASan+UBSan and run each for SECONDS (default 20).
# Builds into build-fuzz/ (no meson needed); seeds from tests/fuzz/corpus/<target>/. Exits non-zero on any crash.
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
out=build-fuzz
cc=${CC_FUZZ:-clang}
targets=(fuzz_http fuzz_socks5 fuzz_allowlist)
srcs=(src/net/allowlist.c src/net/proxy-parse.c src/core/error.c)
flags=(-g -O1 -std=c17 -D_GNU_SOURCE -Isrc -Iinclude -Wall -Wextra -Werror
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
mkdir -p "$out"
status=0
for t in "${targets[@]}"; do
  log="$out/$t.log"
  if ! "$cc" "${flags[@]}" -o "$out/$t" "tests/fuzz/$t.c" "${srcs[@]}" -lidn2 >"$log" 2>&1; then
    echo "FAIL fuzz $t (build; see $log)"
    status=1
    continue
  fi
  mkdir -p "$out/corpus/$t" "$out/artifacts"
  seeds=()
  [ -d "tests/fuzz/corpus/$t" ] && seeds=("tests/fuzz/corpus/$t")
  # New inputs go to build-fuzz/corpus/<target>; the committed seeds are only read.
  timeout $((secs + 60)) "$out/$t" -max_total_time="$secs" -max_len=20000 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" "$out/corpus/$t" "${seeds[@]}" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ $rc -eq 0 ] && [ -n "$runs" ]; then
    echo "ok   fuzz $t (${runs} runs)"
  else
    echo "FAIL fuzz $t (exit $rc; see $log and $out/artifacts/)"
    status=1
  fi
done
exit $status
