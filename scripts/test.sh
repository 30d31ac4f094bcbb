#!/usr/bin/env bash
# scripts/test.sh — set everything up and run every test; ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
exec bash tests/run-all.sh "$@"
