#!/usr/bin/env bash
# tests/vm/run-v2.sh — test nanoclaw's cgroup v2 backend for real, in a small
# VM (TCG, no KVM needed): Debian's cloud kernel, an initramfs with
# busybox-static and a static nanoclaw, cgroup2 only (cgroup_no_v1=all).
#
# Usage (as root, Debian 12):  tests/vm/run-v2.sh
#   NCVM_CACHE=DIR   kernel cache and the last console log [/var/cache/nanoclaw-vm]
#   NCVM_TIMEOUT=S   hard limit for the VM run in seconds [300]
#   NCVM_NO_APT=1    never call apt-get (fail if something is missing)
#   NCVM_SRC=DIR     build nanoclaw from this source tree [this repository]
#
# Prints `ok NAME` / `FAIL NAME DETAIL` per case, judged only from the
# NCVM-RESULT lines the VM prints on its serial console (never from qemu's
# exit code), and exits 0 only if every case passed and NCVM-DONE was seen.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${NCVM_CACHE:-/var/cache/nanoclaw-vm}
VM_TIMEOUT=${NCVM_TIMEOUT:-300}
LOG=$CACHE/run-v2.console.log

say() { printf 'run-v2: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get, mknod, and nanoclaw inside the VM)"
[ "$(uname -m)" = x86_64 ] || die "x86_64 only"

TMPD=$(mktemp -d /tmp/ncvm.XXXXXX)
cleanup() { rm -rf "$TMPD"; }
trap cleanup EXIT
mkdir -p "$CACHE"

# ---- 1. packages ------------------------------------------------------------
PKGS=(qemu-system-x86 busybox-static cpio gzip gcc libc6-dev meson ninja-build pkg-config
      libseccomp-dev libjansson-dev libcmocka-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "${NCVM_NO_APT:-0}" = 1 ] && die "missing packages: ${missing[*]}"
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$TMPD/apt.log" 2>&1 || { cat "$TMPD/apt.log"; die "apt-get update failed"; }
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$TMPD/apt.log" 2>&1 \
    || { tail -30 "$TMPD/apt.log"; die "apt-get install failed"; }
fi

# ---- 2. the kernel (downloaded and extracted, never installed) --------------
# linux-image-cloud-amd64 depends on the versioned image package
# (linux-image-<abi>-cloud-amd64, or its -unsigned twin); that one holds vmlinuz.
kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null \
  | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-cloud-amd64(-unsigned)?$/ { print $2; exit }' || true)
if [ -n "$kpkg" ] && [ -s "$CACHE/$kpkg.vmlinuz" ]; then
  : # cached
elif [ -n "$kpkg" ] && [ "${NCVM_NO_APT:-0}" != 1 ]; then
  say "downloading $kpkg (not installing it)"
  mkdir -p "$TMPD/deb" && chmod 0777 "$TMPD/deb" # apt-get download runs as _apt
  (cd "$TMPD/deb" && apt-get download -qq "$kpkg" >"$TMPD/dl.log" 2>&1) \
    || { cat "$TMPD/dl.log"; die "apt-get download $kpkg failed"; }
  dpkg-deb -x "$TMPD"/deb/*.deb "$TMPD/kx"
  vml=$(ls "$TMPD"/kx/boot/vmlinuz-* 2>/dev/null | head -n 1)
  cfg=$(ls "$TMPD"/kx/boot/config-* 2>/dev/null | head -n 1)
  [ -n "$vml" ] && [ -n "$cfg" ] || die "$kpkg holds no boot/vmlinuz-* and config-*"
  # Everything the VM uses must be built in: the initramfs loads no modules.
  for o in CGROUPS MEMCG CGROUP_PIDS CGROUP_SCHED FAIR_GROUP_SCHED CFS_BANDWIDTH SWAP BLK_DEV_INITRD RD_GZIP \
           DEVTMPFS TMPFS SERIAL_8250_CONSOLE USER_NS PID_NS NET_NS IPC_NS UTS_NS SECCOMP_FILTER; do
    grep -q "^CONFIG_$o=y" "$cfg" || die "$kpkg: CONFIG_$o is not built in (=y)"
  done
  cp "$cfg" "$CACHE/$kpkg.config"
  cp "$vml" "$CACHE/$kpkg.vmlinuz.tmp" && mv "$CACHE/$kpkg.vmlinuz.tmp" "$CACHE/$kpkg.vmlinuz"
  rm -rf "$TMPD/deb" "$TMPD/kx"
else
  # No apt metadata (offline): fall back to the newest cached kernel.
  kpkg=$(ls -t "$CACHE"/*.vmlinuz 2>/dev/null | head -n 1 | xargs -r basename | sed 's/\.vmlinuz$//')
  [ -n "$kpkg" ] || die "cannot resolve linux-image-cloud-amd64 and no kernel is cached in $CACHE"
  say "using cached kernel $kpkg"
fi
KERNEL=$CACHE/$kpkg.vmlinuz

# ---- 3. a static nanoclaw (from the working tree, in a throwaway build dir) --
say "building a static nanoclaw"
BS=$TMPD/build-static
SRC=${NCVM_SRC:-$ROOT}
if ! { meson setup "$BS" "$SRC" -Ddefault_library=static -Dprefer_static=true -Dc_link_args=-static \
         >"$TMPD/meson.log" 2>&1 && ninja -C "$BS" nanoclaw >>"$TMPD/meson.log" 2>&1; }; then
  tail -40 "$TMPD/meson.log"; die "static build failed"
fi
case "$(ldd "$BS/nanoclaw" 2>&1 || true)" in
  *"not a dynamic executable"*) ;;
  *) die "the static build of nanoclaw is dynamically linked" ;;
esac

# ---- 4. the initramfs ------------------------------------------------------
IR=$TMPD/initramfs
mkdir -p "$IR"/{bin,dev,etc,proc,sys,tmp,usr,newroot}
cp /bin/busybox "$IR/bin/busybox"
for a in $("$IR/bin/busybox" --list); do
  [ "$a" = busybox ] || ln -s busybox "$IR/bin/$a"
done
ln -s bin "$IR/sbin"
ln -s ../bin "$IR/usr/bin"
ln -s ../bin "$IR/usr/sbin"
install -m 0755 "$BS/nanoclaw" "$IR/bin/nanoclaw"
install -m 0755 "$HERE/init" "$IR/init"
install -m 0755 "$HERE/init2" "$IR/init2"
install -m 0644 "$HERE/cases-v2.sh" "$IR/cases-v2.sh"
printf 'root:x:0:0:root:/:/bin/sh\n' >"$IR/etc/passwd"
printf 'root:x:0:\n' >"$IR/etc/group"
mknod -m 0600 "$IR/dev/console" c 5 1 # without it init's output goes nowhere
mknod -m 0666 "$IR/dev/null" c 1 3
chmod 1777 "$IR/tmp"
(cd "$IR" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 >"$TMPD/initrd.gz"

# ---- 5. boot it --------------------------------------------------------------
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found"
say "booting $kpkg under TCG (timeout ${VM_TIMEOUT}s); console log: $LOG"
t0=$(date +%s)
set +e
timeout --kill-after=10 "$VM_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 1024 \
  -nographic -no-reboot -nic none -monitor none \
  -kernel "$KERNEL" -initrd "$TMPD/initrd.gz" \
  -append "console=ttyS0 cgroup_no_v1=all panic=-1 quiet" </dev/null >"$LOG" 2>&1
qrc=$?
set -e
t1=$(date +%s)
say "VM ran $((t1 - t0))s (qemu/timeout exit $qrc: not used for judging)"

# ---- judge from the marked lines only ---------------------------------------
tr -d '\r' <"$LOG" >"$TMPD/console"
grep -o 'NCVM-INFO .*' "$TMPD/console" | sed 's/^NCVM-INFO /  info: /' || true
nfail=0 nok=0
while read -r _ st name detail; do
  if [ "$st" = ok ]; then nok=$((nok + 1)); echo "ok   $name"
  else nfail=$((nfail + 1)); echo "FAIL $name ${detail}"; fi
done < <(grep -o 'NCVM-RESULT .*' "$TMPD/console" || true)
if [ $nfail -gt 0 ]; then grep -o 'NCVM-LOG .*' "$TMPD/console" | sed 's/^NCVM-LOG /  log: /' || true; fi
done_seen=0
grep -q 'NCVM-DONE' "$TMPD/console" && done_seen=1
if [ $done_seen -eq 0 ]; then
  echo "FAIL vm-finished (no NCVM-DONE on the console; last lines follow)"
  tail -n 25 "$TMPD/console" | sed 's/^/  console: /'
fi
echo "$nok passed, $nfail failed (vm $((t1 - t0))s)"
[ $nfail -eq 0 ] && [ $nok -gt 0 ] && [ $done_seen -eq 1 ]
