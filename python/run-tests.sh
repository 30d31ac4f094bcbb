#!/usr/bin/env bash
# python/run-tests.sh — the Python binding's tests (pytest), against the in-tree
# package and build/libnanoclaw.so unless NANOCLAW_LIBRARY says otherwise.
# Prints pytest's summary; exits non-zero when a test fails.
# Usage: python/run-tests.sh [--installed] [pytest args...]
#   --installed: also `pip install` the package into a fresh venv (offline) and
#                run the tests against that installed copy.
set -uo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-/usr/bin/python3}
ROOT=$(cd .. && pwd)
installed=0; [ "${1:-}" = "--installed" ] && { installed=1; shift; }
if ! "$PY" -c 'import pytest' 2>/dev/null; then
  echo "python: pytest is missing for $PY (apt-get install python3-pytest)"; exit 1
fi
if [ -z "${NANOCLAW_LIBRARY:-}" ] && [ -e "$ROOT/build/libnanoclaw.so" ]; then
  export NANOCLAW_LIBRARY="$ROOT/build/libnanoclaw.so"
fi
export PYTHONDONTWRITEBYTECODE=1  # keep the source tree clean
st=0
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" timeout 900 "$PY" -m pytest -q -p no:cacheprovider tests "$@" || st=$?
if [ $installed -eq 1 ] && [ $st -eq 0 ]; then
  venv=$(mktemp -d /tmp/nanoclaw-venv.XXXXXX)
  trap 'rm -rf "$venv"' EXIT
  "$PY" -m venv --system-site-packages "$venv" &&
    timeout 300 "$venv/bin/pip" install -q --no-index "$PWD" &&
    (cd /tmp && unset NANOCLAW_LIBRARY &&
     echo "python: installed in $venv, library $("$venv/bin/python" -c 'import nanoclaw; print(nanoclaw.library_path())')" &&
     timeout 900 "$venv/bin/python" -m pytest -q -p no:cacheprovider "$OLDPWD/tests" "$@") || st=$?
fi
exit $st
