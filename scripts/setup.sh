#!/usr/bin/env bash
# scripts/setup.sh — install what nanoclaw needs on Debian 12 (as root) and build it.
# Idempotent: re-running only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential meson ninja-build pkg-config libseccomp-dev libjansson-dev libidn2-dev libcmocka-dev
      clang libclang-rt-14-dev valgrind cppcheck python3 iproute2 busybox-static bubblewrap crun hyperfine jq procps curl
      libssl-dev libcurl4-openssl-dev libunistring-dev rsyslog python3-pytest python3-venv
      libarchive-dev docker-registry skopeo)
# exports (issue 7): runc and podman run exported bundles and arguments; node checks the Kubernetes schemas
pkgs+=(runc podman python3-yaml nodejs)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "setup: missing packages (${missing[*]}); run as root" >&2; exit 1; fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
echo "setup: built build/nanoclaw ($(build/nanoclaw version))"
