# tests/security/escape_net.sh — the network namespace: only lo, up; nothing
# on the host's loopback or its other addresses is reachable.

# Only `lo` exists, and it is up.
test_only_loopback_up() {
  ncprobe -- ifaces
  assert_eq "IFACES lo:up" "$OUT" "interfaces inside"
}

# start_listener: a host TCP listener on 0.0.0.0:<ephemeral> that logs every
# accepted connection to $TMP/accepts; sets LPORT and LPID.
start_listener() {
  python3 - "$TMP/port" "$TMP/accepts" <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 0)); s.listen(16)
log = open(sys.argv[2], "a")
with open(sys.argv[1] + ".tmp", "w") as f: f.write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, a = s.accept(); log.write("accepted %s:%d\n" % a); log.flush(); c.close()
PY
  LPID=$!
  : >"$TMP/accepts"
  local i
  for ((i = 0; i < 100; i++)); do [ -s "$TMP/port" ] && break; sleep 0.05; done
  LPORT=$(cat "$TMP/port") || fail "listener did not start"
}

# Attack: reach a service listening on the host's loopback (a database, the
# docker socket's TCP twin, a metadata proxy) or on its external address.
# Must: the connects fail inside (refused on the sandbox's own lo; no route
# elsewhere), and the host listener sees no connection — while the same
# connect from the host does get through (the listener works).
test_host_listener_unreachable() {
  start_listener
  trap 'kill $LPID 2>/dev/null || true' EXIT
  ncprobe -- connect 127.0.0.1 "$LPORT"
  assert_eq "FAILED connect ECONNREFUSED" "$OUT" "connect to 127.0.0.1:$LPORT"
  local ext
  ext=$(ip -4 -o addr show scope global 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -1)
  if [ -n "$ext" ]; then
    ncprobe -- connect "$ext" "$LPORT"
    assert_contains "$OUT" "FAILED connect " "connect to host address $ext:$LPORT"
  fi
  sleep 0.2
  assert_eq "" "$(cat "$TMP/accepts")" "connections the host listener accepted from the sandbox"
  (exec 3<>"/dev/tcp/127.0.0.1/$LPORT") || fail "control: the host cannot reach its own listener"
  for ((i = 0; i < 40; i++)); do [ -s "$TMP/accepts" ] && break; sleep 0.05; done
  assert_contains "$(cat "$TMP/accepts")" "accepted 127.0.0.1" "control connection from the host"
}

# --network-disabled is accepted and leaves the same: lo only, nothing reachable.
test_network_disabled_flag() {
  ncprobe --network-disabled -- ifaces
  assert_rc 0 "--network-disabled"
  assert_eq "IFACES lo:up" "$OUT" "interfaces with --network-disabled"
}
