#!/usr/bin/env bash
# scripts/demo.sh — set up, then run one command in a sandbox and show what it can and cannot do.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo
echo '$ nanoclaw run --name demo --mem-limit 128m --pids-limit 64 --timeout 10 --result-json - -- sh -c ...'
exec build/nanoclaw run --name demo --mem-limit 128m --pids-limit 64 --timeout 10 --result-json - -- sh -c '
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
'
