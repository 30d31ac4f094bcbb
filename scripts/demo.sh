#!/usr/bin/env bash
# scripts/demo.sh — set up, then run one command in a sandbox and show what it
# can and cannot do: identity, capabilities, filesystem, the egress allowlist
# (a loopback web server stands in for "the vector database"), the audit log.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
work=$(mktemp -d /tmp/nanoclaw-demo.XXXXXX)
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/www"
echo '{"matches": 3}' >"$work/www/query"
python3 tests/helpers/httpd.py "$work/www" "$work/port" "$work/httpd.log" &
srv=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")

echo
echo "\$ nanoclaw run --name demo --mem-limit 128m --pids-limit 64 --timeout 10 \\"
echo "    --add-host vectordb:127.0.0.1 --allow-host vectordb:$port --audit-log $work/audit.jsonl --result-json - -- sh -c ..."
set +e
build/nanoclaw run --name demo --mem-limit 128m --pids-limit 64 --timeout 10 \
  --add-host vectordb:127.0.0.1 --allow-host "vectordb:$port" --audit-log "$work/audit.jsonl" --result-json - -- sh -c '
  echo "whoami:      $(id)"
  echo "host uid:    $(awk "{print \$2}" /proc/self/uid_map) (unprivileged, its own range)"
  echo "hostname:    $(hostname)    pid: $$ (pid 1 is nanoclaw init)"
  echo "caps:        $(grep CapEff /proc/self/status | tr -s "\t" " ")   $(grep NoNewPrivs /proc/self/status | tr -s "\t" " ")   $(grep "^Seccomp:" /proc/self/status | tr -s "\t" " ")"
  echo "network:     interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\n" " ")"
  echo "write /usr:  $(touch /usr/evil 2>&1 || true)"
  echo "/etc/shadow: $(cat /etc/shadow 2>&1 || true)"
  echo "/home:       $(ls /home 2>&1 || true)"
  echo "write /tmp:  $(echo hi > /tmp/ok && echo ok, a 64m tmpfs)"
  echo "unshare:     $(unshare -U true 2>&1 || true)"
  echo "allowed:     curl http://vectordb:'"$port"'/query -> $(curl -sS http://vectordb:'"$port"'/query 2>&1)"
  echo "denied:      curl http://example.com/ -> $(curl -sS http://example.com/ 2>&1)"
  echo "direct:      curl --noproxy \"*\" vectordb -> $(curl -sS --noproxy "*" --max-time 3 http://vectordb:'"$port"'/query 2>&1 || true)"
  echo "dns:         $(getent hosts example.com || echo "example.com does not resolve (no name server reachable)")"
'
rc=$?
set -e
echo
echo "\$ nanoclaw audit verify $work/audit.jsonl"
build/nanoclaw audit verify "$work/audit.jsonl"
echo
echo "\$ nanoclaw audit show $work/audit.jsonl --event net"
build/nanoclaw audit show "$work/audit.jsonl" --event net
exit $rc
