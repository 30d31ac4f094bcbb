# tests/integration/egress.sh — allowed_hosts: the filtering proxy inside the
# sandbox at 127.0.0.1:3128 (HTTP CONNECT, plain HTTP, SOCKS5), and nothing
# else out. Every server is started here on the host's loopback, reached from
# inside by names mapped with --add-host; the server's own request log is the
# host-side record of what got through.

HTTPD=${HTTPD:-$PWD/tests/helpers/httpd.py}

# start_httpd [BIND]: serve $TMP/www on a kernel-chosen loopback port; sets
# PORT, SRV_LOG; killed when the test's shell exits.
start_httpd() {
  mkdir -p "$TMP/www"
  [ -f "$TMP/www/hello.txt" ] || echo "hello from the host" >"$TMP/www/hello.txt"
  local pf="$TMP/port.$RANDOM" i
  SRV_LOG="$TMP/httpd.$RANDOM.log"
  : >"$SRV_LOG"
  python3 "$HTTPD" "$TMP/www" "$pf" "$SRV_LOG" "${1:-127.0.0.1}" 2>>"$TMP/httpd.err" &
  SRV_PIDS="${SRV_PIDS:-} $!"
  trap 'kill $SRV_PIDS 2>/dev/null || true' EXIT
  for ((i = 0; i < 100; i++)); do [ -s "$pf" ] && break; sleep 0.05; done
  PORT=$(cat "$pf") || fail "httpd did not start: $(cat "$TMP/httpd.err")"
}

# net ARGS...: ncrun with the usual mapping: api.test -> host loopback, allowed on $PORT.
net() { ncrun --add-host "api.test:127.0.0.1" --allow-host "api.test:$PORT" --result-json "$TMP/r.json" "$@"; }

# The proxy's environment is what clients inside see.
test_proxy_environment() {
  start_httpd
  net -- sh -c 'echo "$HTTP_PROXY|$https_proxy|$ALL_PROXY|$NO_PROXY"'
  assert_rc 0 "env"
  assert_eq "http://127.0.0.1:3128|http://127.0.0.1:3128|http://127.0.0.1:3128|localhost,127.0.0.1,::1" "$OUT" "proxy env"
}

# An allowed name, plain-HTTP forwarding: 200 and the file; the server saw it.
test_allowed_plain_http() {
  start_httpd
  net -- curl -sS --fail http://api.test:$PORT/hello.txt
  assert_rc 0 "curl through the proxy"
  assert_eq "hello from the host" "$OUT" "body"
  grep -q "GET /hello.txt" "$SRV_LOG" || fail "server log: $(cat "$SRV_LOG")"
  assert_eq 1 "$(jget "$TMP/r.json" .network.allowed)" "allowed count"
  assert_eq 0 "$(jget "$TMP/r.json" .network.denied)" "denied count"
  assert_eq proxy "$(jget "$TMP/r.json" .network.mode)" "mode"
  [ "$(jget "$TMP/r.json" .network.bytes_in)" -gt 19 ] || fail "bytes_in: $(cat "$TMP/r.json")"
}

# HTTP CONNECT (curl --proxytunnel): the tunnel carries the request.
test_allowed_connect_tunnel() {
  start_httpd
  net -- curl -sS --fail --proxytunnel http://api.test:$PORT/hello.txt
  assert_rc 0 "CONNECT tunnel"
  assert_eq "hello from the host" "$OUT" "body"
}

# A client's Host header never picks the upstream virtual host: the proxy
# sends the authority it checked.
test_host_header_is_the_checked_name() {
  start_httpd
  net -- curl -sS --fail -H "Host: evil.example" http://api.test:$PORT/echo-host
  assert_rc 0 "request"
  assert_eq "host=api.test:$PORT" "$OUT" "Host upstream"
}

# A name not in allowed_hosts: 403 naming host and port; nothing reaches the server.
test_denied_name_403() {
  start_httpd
  net --add-host "other.test:127.0.0.1" -- curl -sS -w '\n%{http_code}' http://other.test:$PORT/hello.txt
  assert_rc 0 "curl ran"
  assert_contains "$OUT" "other.test:$PORT is not in allowed_hosts" "403 body"
  assert_contains "$OUT" "403" "status"
  [ ! -s "$SRV_LOG" ] || fail "the server was reached: $(cat "$SRV_LOG")"
  assert_eq 1 "$(jget "$TMP/r.json" .network.denied)" "denied count"
}

# An allowed name on another port: 403 (the port narrows the entry).
test_denied_port_403() {
  start_httpd
  local other=$((PORT == 65535 ? PORT - 1 : PORT + 1))
  net -- curl -sS --proxytunnel -w '%{http_code}' -o /dev/null http://api.test:$other/
  assert_contains "$OUT$ERR" "403" "CONNECT to another port"
}

# SOCKS5 with names resolved by the proxy (socks5h): allowed works, denied gets reply 2.
test_socks5() {
  start_httpd
  net --add-host "other.test:127.0.0.1" -- sh -c "curl -sS --fail --socks5-hostname 127.0.0.1:3128 http://api.test:$PORT/hello.txt; echo rc=\$?; curl -sS --socks5-hostname 127.0.0.1:3128 http://other.test:$PORT/ 2>&1; echo rc=\$?"
  assert_contains "$OUT" "hello from the host" "socks5 allowed"
  assert_contains "$OUT" "rc=0" "socks5 allowed rc"
  assert_contains "$OUT" "rc=97" "socks5 denied: curl's SOCKS error"
  assert_contains "$OUT" "(2)" "reply 0x02: not allowed by ruleset"
  [ "$(grep -c hello.txt "$SRV_LOG")" = 1 ] || fail "server log: $(cat "$SRV_LOG")"
}

# A Python client that only follows the environment.
test_python_client() {
  start_httpd
  net -- python3 -c "import urllib.request; print(urllib.request.urlopen('http://api.test:$PORT/hello.txt', timeout=10).read().decode().strip())"
  assert_rc 0 "python urllib via HTTP_PROXY: $ERR"
  assert_eq "hello from the host" "$OUT" "body"
}

# Attack: ignore the proxy and connect directly (to the name's address, the
# host's loopback port, an outside address). Must: fail inside, and the
# server sees nothing.
test_direct_connection_fails() {
  start_httpd
  net -- sh -c "curl -sS --noproxy '*' --max-time 5 http://api.test:$PORT/hello.txt; echo rc=\$?; curl -sS --noproxy '*' --max-time 5 http://127.0.0.1:$PORT/; echo rc=\$?"
  assert_contains "$OUT" "rc=7" "direct connect refused on the sandbox's own lo"
  assert_not_contains "$OUT" "hello from the host" "no data"
  [ ! -s "$SRV_LOG" ] || fail "the server was reached directly: $(cat "$SRV_LOG")"
}

# Attack: DNS from inside (a resolver query, or UDP anywhere). No name
# server is reachable; UDP has no route. The addresses are documentation
# ranges inside the sandbox's own network namespace: nothing can leave it.
test_no_dns_no_udp() {
  start_httpd
  net -- python3 -c "
import socket
try:
    socket.getaddrinfo('api.openai.com', 443)
    print('dns: resolved')
except OSError as e:
    print('dns: failed')
for fam, addr in ((socket.AF_INET, ('192.0.2.53', 53)), (socket.AF_INET6, ('2001:db8::53', 53))):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        s.sendto(b'x', addr)
        print('udp: sent')
    except OSError as e:
        print('udp: %s' % e.strerror)
"
  assert_rc 0 "probe ran: $ERR"
  assert_contains "$OUT" "dns: failed" "DNS"
  assert_not_contains "$OUT" "udp: sent" "UDP"
  assert_contains "$OUT" "udp: Network is unreachable" "UDP no route"
}

# Attack: DNS rebinding to the host. "localhost" is allowed by name, but it
# resolves (on the host) to 127.0.0.1: refused, and the host's loopback
# server sees nothing.
test_name_resolving_to_loopback_refused() {
  start_httpd
  ncrun --allow-host "localhost:$PORT" --result-json "$TMP/r.json" -- \
    curl -sS --noproxy '' -x http://127.0.0.1:3128 -w '\n%{http_code}' http://localhost:$PORT/hello.txt
  assert_contains "$OUT" "resolves to 127.0.0.1, a loopback, link-local or metadata address" "403 body"
  assert_contains "$OUT" "403" "status"
  [ ! -s "$SRV_LOG" ] || fail "the host's loopback was reached: $(cat "$SRV_LOG")"
}

# An IP literal needs an IP/CIDR entry; with one, even loopback is allowed.
test_ip_literal_entries() {
  start_httpd
  ncrun --allow-host "api.test:$PORT" -- curl -sS --noproxy '' -x http://127.0.0.1:3128 -w '\n%{http_code}' http://127.0.0.1:$PORT/hello.txt
  assert_contains "$OUT" "127.0.0.1:$PORT is not in allowed_hosts" "literal without entry"
  [ ! -s "$SRV_LOG" ] || fail "reached: $(cat "$SRV_LOG")"
  ncrun --allow-host "127.0.0.0/8:$PORT" -- curl -sS --fail --noproxy '' -x http://127.0.0.1:3128 http://127.0.0.1:$PORT/hello.txt
  assert_rc 0 "CIDR entry: $ERR"
  assert_eq "hello from the host" "$OUT" "body"
}

# IPv6: a server on [::1]; allowed as [::1]:PORT through the proxy; a direct
# IPv6 connection fails.
test_ipv6() {
  start_httpd ::1
  ncrun --allow-host "[::1]:$PORT" -- sh -c "curl -sS --fail --noproxy '' -x http://127.0.0.1:3128 'http://[::1]:$PORT/hello.txt'; echo rc=\$?; curl -sS -6 --noproxy '*' --max-time 5 'http://[::1]:$PORT/'; echo rc=\$?"
  assert_contains "$OUT" "hello from the host" "v6 through the proxy"
  assert_contains "$OUT" "rc=7" "direct v6 refused"
  [ "$(grep -c hello.txt "$SRV_LOG")" = 1 ] || fail "server log: $(cat "$SRV_LOG")"
}

# Wildcards match subdomains, not the apex.
test_wildcard() {
  start_httpd
  ncrun --add-host "a.svc.test:127.0.0.1" --add-host "svc.test:127.0.0.1" --allow-host "*.svc.test:$PORT" -- \
    sh -c "curl -sS --fail http://a.svc.test:$PORT/hello.txt; curl -sS -w ' %{http_code}' http://svc.test:$PORT/"
  assert_contains "$OUT" "hello from the host" "subdomain"
  assert_contains "$OUT" "svc.test:$PORT is not in allowed_hosts" "apex refused"
}

# Malformed requests get 400 (and the proxy keeps serving).
test_malformed_400() {
  start_httpd
  net -- python3 -c "
import socket
def ask(data):
    s = socket.create_connection(('127.0.0.1', 3128))
    s.sendall(data)
    r = s.recv(4096).decode(errors='replace').split('\r\n')[0]
    s.close()
    return r
print(ask(b'HELLO\r\n\r\n'))
print(ask(b'GET /relative HTTP/1.1\r\nHost: api.test\r\n\r\n'))
print(ask(b'GET http://api.test:$PORT/ HTTP/1.1\r\nBad Header\r\n\r\n'))
print(ask(b'GET http://api.test:$PORT/ HTTP/1.1\r\nX: ' + b'a' * 20000 + b'\r\n\r\n'))
print(ask(b'GET http://api.test:$PORT/hello.txt HTTP/1.1\r\n\r\n'))
"
  assert_rc 0 "client: $ERR"
  assert_eq "HTTP/1.1 400 Bad Request
HTTP/1.1 400 Bad Request
HTTP/1.1 400 Bad Request
HTTP/1.1 431 Request Header Fields Too Large
HTTP/1.1 200 OK" "$OUT" "status lines"
}

# A long transfer through the CONNECT tunnel arrives intact.
test_long_transfer() {
  start_httpd
  head -c $((64 << 20)) /dev/urandom >"$TMP/www/big.bin"
  local want
  want=$(sha256sum <"$TMP/www/big.bin" | cut -d' ' -f1)
  net -- sh -c "curl -sS --fail --proxytunnel http://api.test:$PORT/big.bin | sha256sum"
  assert_rc 0 "transfer: $ERR"
  assert_eq "$want  -" "$OUT" "sha256 of 64 MiB"
  [ "$(jget "$TMP/r.json" .network.bytes_in)" -ge $((64 << 20)) ] || fail "bytes_in: $(cat "$TMP/r.json")"
}

# Many parallel connections: all served.
test_parallel_connections() {
  start_httpd
  net --pids-limit 512 -- sh -c "seq 60 | xargs -P 60 -I{} curl -sS --fail -o /dev/null -w '%{http_code}\n' http://api.test:$PORT/hello.txt | sort | uniq -c"
  assert_rc 0 "parallel: $ERR"
  assert_eq "60 200" "$(echo "$OUT" | tr -s ' ' | sed 's/^ //')" "60 × 200"
  assert_eq 60 "$(jget "$TMP/r.json" .network.allowed)" "allowed count"
}

# Attack: slowloris — clients that trickle a request head byte by byte hold
# connections open. Must: other clients are served meanwhile, and the proxy
# drops the trickling ones once the head deadline (10 s) passes.
test_slowloris() {
  start_httpd
  net --timeout 40 -- python3 -c "
import socket, time, subprocess
slow = []
for i in range(30):
    s = socket.create_connection(('127.0.0.1', 3128))
    s.sendall(b'GET http://api.test:$PORT/ HTTP/1.1\r\n')
    slow.append(s)
t = time.monotonic()
r = subprocess.run(['curl', '-sS', '--fail', 'http://api.test:$PORT/hello.txt'], capture_output=True, text=True)
print('served %s in %.1fs' % (r.stdout.strip(), time.monotonic() - t))
t = time.monotonic()
s = slow[0]
s.settimeout(20)
closed = False
try:
    while time.monotonic() - t < 20:
        s.sendall(b'X')
        if s.recv(1, socket.MSG_DONTWAIT) == b'':
            closed = True
            break
except BlockingIOError:
    pass
except OSError:
    closed = True
if not closed:
    try:
        s.setblocking(True)
        closed = s.recv(1) == b''
    except OSError:
        closed = True
print('slow client closed after %.0fs' % (time.monotonic() - t) if closed else 'slow client still open')
"
  assert_rc 0 "client: $ERR"
  assert_contains "$OUT" "served hello from the host in 0." "served quickly while 30 clients trickle"
  assert_contains "$OUT" "slow client closed after" "slow client dropped"
}

# Killing nanoclaw (SIGKILL) in the middle of proxied transfers: the sandbox
# and its connections die with it; `nanoclaw gc` clears the cgroups a
# SIGKILLed supervisor could not remove; nothing else is left.
test_kill_mid_transfer_no_leftovers() {
  start_httpd
  head -c $((256 << 20)) /dev/zero >"$TMP/www/zero.bin"
  local before pid t0
  before=$(host_leftovers)
  t0=$(now_ms)
  "$NC" run --add-host "api.test:127.0.0.1" --allow-host "api.test:$PORT" -- \
    sh -c "while :; do curl -sS --limit-rate 1M -o /dev/null http://api.test:$PORT/zero.bin; done" </dev/null >/dev/null 2>&1 &
  pid=$!
  sleep 1.5
  kill -9 $pid
  wait $pid 2>/dev/null || true
  wait_gone "curl -sS --limit-rate 1M" 5
  # no connection to the server is left open (ss: established to $PORT)
  sleep 0.2
  [ -z "$(ss -Htn state established "( sport = :$PORT )")" ] || fail "connections left: $(ss -Htn "( sport = :$PORT )")"
  while [ $(( $(now_ms) - t0 )) -lt 6500 ]; do sleep 0.2; done # gc spares cgroups younger than 5 s
  "$NC" gc >/dev/null 2>&1 || fail "nanoclaw gc: $("$NC" gc 2>&1)"
  assert_no_new_leftovers "$before" "after SIGKILL + gc"
}

# Bad allowlist entries are setup errors naming the value.
test_bad_entries_refused() {
  ncrun --allow-host "exa mple.com" -- true
  assert_rc 125 "space in name"
  assert_contains "$ERR" '"exa mple.com"' "names the value"
  ncrun --allow-host "10.0.0.1/8" -- true
  assert_rc 125 "host bits in a CIDR"
  ncrun --allow-host "api.test:70000" -- true
  assert_rc 125 "port out of range"
}
