# tests/security/guard.sh — the probe itself: it must never run an attack
# outside a sandbox, and must recognise a nanoclaw sandbox as one.

# On the host the probe refuses every attack (exit 2, REFUSED) and runs nothing.
test_probe_refuses_outside_sandbox() {
  [ -x "$PROBE" ] || fail "probe not built: $PROBE"
  local out rc
  set +e; out=$("$PROBE" syscall mount 2>&1); rc=$?; set -e
  assert_eq 2 "$rc" "probe exit status on the host"
  assert_contains "$out" "REFUSED syscall: not inside a nanoclaw sandbox" "probe output on the host"
  set +e; out=$("$PROBE" kill-init 2>&1); rc=$?; set -e
  assert_eq 2 "$rc" "kill-init on the host"
  out=$("$PROBE" guard)
  assert_contains "$out" "SANDBOX no" "guard on the host"
}

# Inside nanoclaw the guard sees a sandbox (so the other suites really run).
test_probe_accepts_nanoclaw_sandbox() {
  ncprobe -- guard
  assert_rc 0 "guard probe"
  assert_eq "SANDBOX yes" "$OUT" "guard inside nanoclaw"
}
