# tests/integration/export.sh — one profile, every runtime (issue 7): golden exports, refusals, the
# Kubernetes manifests against the official schemas and the restricted Pod Security Standard, exported
# OCI bundles under crun and runc, the exported podman arguments under podman, and `nanoclaw run`
# through each backend (docker and kubectl faked: no engine or cluster here).
# Run alone: bash tests/integration/export.sh [NAME-PATTERN]   (UPDATE_GOLDEN=1 rewrites tests/golden/)

GOLDEN=${GOLDEN:-$PWD/tests/golden}
PY=/usr/bin/python3 # Debian's, with python3-yaml

# golden NAME FILE: FILE must equal tests/golden/NAME (UPDATE_GOLDEN=1: write it instead).
golden() {
  if [ "${UPDATE_GOLDEN:-}" = 1 ]; then cp "$2" "$GOLDEN/$1"; echo "updated $GOLDEN/$1"; return 0; fi
  diff -u "$GOLDEN/$1" "$2" >"$TMP/golden.diff" || fail "golden $1 differs (UPDATE_GOLDEN=1 to accept): $(head -40 "$TMP/golden.diff")"
}

# ncx ARGS...: nanoclaw ARGS..., capturing $OUT $ERR $RC
ncx() {
  set +e
  "$NC" "$@" >"$TMP/x.out" 2>"$TMP/x.err" </dev/null
  RC=$?
  set -e
  OUT=$(cat "$TMP/x.out"); ERR=$(cat "$TMP/x.err")
}

# refused ARGS... NEEDLE: `nanoclaw export ARGS` exits 125 with one line containing NEEDLE.
refused() {
  local needle=${!#} args=("${@:1:$#-1}")
  ncx export "${args[@]}"
  [ "$RC" = 125 ] || fail "export ${args[*]}: expected 125, got $RC (stdout [$OUT])"
  assert_contains "$ERR" "$needle" "export ${args[*]}"
  [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] || fail "export ${args[*]}: more than one line: [$ERR]"
  [ -z "$OUT" ] || fail "export ${args[*]}: printed something on refusal: [$OUT]"
}

# mk_rootfs DIR: a static busybox and nc-probe as a whole root filesystem, with the mount points an
# OCI runtime needs (so it never writes into it).
mk_rootfs() {
  local d=$1 c
  chmod 755 "$TMP" # the runtimes open it as the sandbox's unprivileged host ids
  mkdir -p "$d/bin" "$d/proc" "$d/dev" "$d/tmp" "$d/etc" "$d/nc" "$d/work"
  cp /bin/busybox "$d/bin/busybox"
  for c in sh id cat ls echo sleep mount unshare touch grep head dd hostname wc true false wget; do ln -sf busybox "$d/bin/$c"; done
  [ -x "${PROBE:-}" ] && cp "$PROBE" "$d/nc/nc-probe"
  printf '127.0.0.1 localhost\n' >"$d/etc/hosts"
  chmod -R a+rX "$d"
}

# oci_run RUNTIME BUNDLE ID: RUNTIME run, in a private mount namespace without the cgroup v2 mount
# on a hybrid host (crun refuses those, see bench/startup).
oci_run() {
  timeout 60 unshare --mount --propagation private -- sh -c \
    'mountpoint -q /sys/fs/cgroup/unified && umount /sys/fs/cgroup/unified; exec "$0" run --bundle "$1" "$2"' "$1" "$2" "$3"
}

# backend_leftovers: what a supervised backend run could leave: its private directory, the cgroups
# and containers named after it (nanoclaw-<12 hex>), mounts of its bundle. (Not host_leftovers:
# other sandboxes, native ones named with 32 hex, may come and go meanwhile.)
backend_leftovers() {
  {
    ls -d /tmp/nanoclaw-run-* 2>/dev/null || true
    find /sys/fs/cgroup -maxdepth 5 -type d -regextype egrep -regex '.*/nanoclaw-[0-9a-f]{12}' 2>/dev/null || true
    grep nanoclaw-run /proc/self/mounts || true
    local rt
    for rt in crun runc; do command -v $rt >/dev/null && $rt list -q 2>/dev/null | grep '^nanoclaw-' || true; done
    command -v podman >/dev/null && podman ps -a --format '{{.Names}}' 2>/dev/null | grep '^nanoclaw-' || true
  } | sort
}

need_root_runtime() {
  [ "$(id -u)" = 0 ] || fail "needs root"
  command -v "$1" >/dev/null || fail "$1 is not installed (scripts/setup.sh installs it)"
}

# ---- goldens -----------------------------------------------------------------

test_golden_dockerfile() {
  ncx export dockerfile "$GOLDEN/profile.json" -- python3 job.py
  assert_rc 0 "export dockerfile"
  printf '%s\n' "$OUT" >"$TMP/Dockerfile"
  golden Dockerfile "$TMP/Dockerfile"
  # no credentials or environment values baked in; a non-root user; the digest label last
  assert_not_contains "$OUT" "not-in-any-export" "env value in the Dockerfile"
  assert_not_contains "$OUT" "API_TOKEN" "env name in the Dockerfile"
  assert_contains "$OUT" "USER 1000:1000" "non-root user"
  [ "$(grep -v '^#' "$TMP/Dockerfile" | grep -v '^$' | tail -2 | head -1 | cut -c1-5)" = LABEL ] || fail "LABEL is not last"
  grep -qE '^(ENV|ARG) .*(TOKEN|SECRET|PASSWORD|KEY)' "$TMP/Dockerfile" && fail "a credential-like ENV/ARG" || true
}

test_golden_engine_args() {
  ncx export docker-run "$GOLDEN/profile.json" --timeout 0 -- python3 job.py
  assert_rc 0 "export docker-run"
  printf '%s\n' "$OUT" >"$TMP/docker-run.txt"
  golden docker-run.txt "$TMP/docker-run.txt"
  ncx export docker-run "$GOLDEN/profile.json" --timeout 0 --allow-host api.openai.com:443 \
    --gateway-image registry.example/nanoclaw:0.1.0 -- python3 job.py
  assert_rc 0 "export docker-run with an allowlist"
  printf '%s\n' "$OUT" >"$TMP/docker-run-allowlist.txt"
  golden docker-run-allowlist.txt "$TMP/docker-run-allowlist.txt"
  ncx export podman-run "$GOLDEN/profile.json" -- python3 job.py
  assert_rc 0 "export podman-run"
  printf '%s\n' "$OUT" >"$TMP/podman-run.txt"
  golden podman-run.txt "$TMP/podman-run.txt"
  # env values never in an argument list: names only (the engine reads the caller's environment)
  for f in docker-run.txt docker-run-allowlist.txt podman-run.txt; do
    grep -q "not-in-any-export" "$TMP/$f" && fail "$f carries an env value"
    grep -qE -- "--env=API_TOKEN( \\\\)?$" "$TMP/$f" || fail "$f does not pass API_TOKEN by name"
  done
  # the JSON form is the same list
  ncx export podman-run "$GOLDEN/profile.json" --json -- python3 job.py
  assert_eq "$(jq -r '.argv | length' <<<"$OUT")" "$(($(grep -c '' "$TMP/podman-run.txt") + 1))" "--json argv length"
}

test_golden_k8s() {
  ncx export k8s "$GOLDEN/profile.json" --node-pids-limit 128 -- python3 job.py
  assert_rc 0 "export k8s"
  printf '%s\n' "$OUT" >"$TMP/k8s.yaml"
  golden k8s.yaml "$TMP/k8s.yaml"
  ncx export k8s "$GOLDEN/profile.json" --node-pids-limit 128 --allow-host api.openai.com:443 \
    --allow-host 10.1.0.0/16:5432 --gateway-image registry.example/nanoclaw:0.1.0 --namespace agents -- python3 job.py
  assert_rc 0 "export k8s with an allowlist"
  printf '%s\n' "$OUT" >"$TMP/k8s-allowlist.yaml"
  golden k8s-allowlist.yaml "$TMP/k8s-allowlist.yaml"
  grep -q "not-in-any-export" "$TMP/k8s.yaml" "$TMP/k8s-allowlist.yaml" && fail "a manifest carries an env value"
  true
}

test_golden_oci_config() {
  mk_rootfs "$TMP/rootfs"
  ncx export oci --image "$TMP/rootfs" --timeout 0 --audit-log none --bundle "$TMP/b" -- /bin/sh -c 'echo hi'
  assert_rc 0 "export oci"
  [ "$(stat -c %a "$TMP/b/config.json")" = 600 ] || fail "config.json is not 0600"
  # the image path (and so the profile digest) differs from run to run
  jq 'del(.linux.seccomp) | .annotations["nanoclaw.profile.sha256"] = "@DIGEST@"' "$TMP/b/config.json" |
    sed "s|$TMP/rootfs|@ROOTFS@|g" >"$TMP/oci-config.json"
  golden oci-config.json "$TMP/oci-config.json"
  # the seccomp filter in the bundle is `export seccomp`
  ncx export seccomp
  assert_eq "$(jq -S . <<<"$OUT")" "$(jq -S .linux.seccomp "$TMP/b/config.json")" "bundle seccomp = export seccomp"
  # a second export into the same bundle is refused, not merged
  ncx export oci --image "$TMP/rootfs" --timeout 0 --audit-log none --bundle "$TMP/b" -- /bin/true
  assert_rc 125 "export oci over an existing bundle"
}

test_seccomp_profile() {
  ncx export seccomp
  assert_rc 0 "export seccomp"
  assert_eq "SCMP_ACT_ERRNO" "$(jq -r .defaultAction <<<"$OUT")" "defaultAction"
  assert_eq "38" "$(jq -r .defaultErrnoRet <<<"$OUT")" "unknown syscalls get ENOSYS"
  assert_eq "SCMP_ACT_ALLOW" "$(jq -r '.syscalls[] | select(.names | index("read")) | .action' <<<"$OUT" | head -1)" "read"
  for s in mount unshare setns ptrace bpf keyctl open_by_handle_at; do
    jq -e --arg s "$s" '[.syscalls[] | select(.names | index($s)) | .action] | all(. == "SCMP_ACT_ERRNO")' <<<"$OUT" \
      >/dev/null || fail "$s is not denied"
  done
}

# ---- refusals: a setting a backend cannot honour is refused, naming it, the value and the backend

test_refusals() {
  local P="$GOLDEN/profile.json"
  refused dockerfile "$P" --image host 'export dockerfile: image "host" cannot run on a Dockerfile; set image to a container image reference'
  refused k8s "$P" --image host 'export k8s: image "host" cannot run on Kubernetes; set image to a container image reference'
  refused docker-run "$P" --image /srv/rootfs --timeout 0 'export docker-run: image "/srv/rootfs" is a directory; Docker needs a container image reference'
  refused oci "$P" --bundle "$TMP/b" -- /bin/true 'export oci: image "python:3.11-slim" is an image reference; an OCI bundle needs a root filesystem directory'
  refused k8s "$P" --user 0 'export k8s: user "0:0" is root, which Kubernetes would run as real root'
  refused k8s "$P" --audit-log /var/log/a.jsonl 'export k8s: audit.log "/var/log/a.jsonl" cannot be kept by Kubernetes'
  refused podman-run "$P" --output-limit 1m 'export podman-run: output_limit 1048576 cannot be enforced by Podman'
  refused k8s "$P" --result-json - 'export k8s: result_json "-" is written by nanoclaw run'
  refused docker-run "$P" 'export docker-run: timeout 60.000s cannot be enforced by docker run'
  refused k8s "$P" --timeout 2.5 'export k8s: timeout 2.500s is not a whole number of seconds, which is what activeDeadlineSeconds counts'
  refused k8s "$P" 'export k8s: pids_limit 128 cannot be set per pod on Kubernetes'
  refused k8s "$P" --node-pids-limit 4096 'export k8s: pids_limit 128 cannot be set per pod on Kubernetes'
  refused k8s "$P" --node-pids-limit 128 --bind /etc:/data 'export k8s: binds "/etc:/data" cannot be honoured on Kubernetes'
  refused k8s "$P" --node-pids-limit 128 --hostname a.b 'export k8s: hostname "a.b" is not a DNS label'
  refused k8s "$P" --node-pids-limit 128 --allow-host api.openai.com 'export k8s: allowed_hosts (api.openai.com) needs nanoclaw'"'"'s egress gateway; pass --gateway-image REF'
  mk_rootfs "$TMP/rootfs"
  local O=(--image "$TMP/rootfs" --timeout 0 --audit-log none)
  refused oci "${O[@]}" --bundle "$TMP/b" 'export oci: no command given'
  refused oci "${O[@]}" --allow-host a.test --bundle "$TMP/b" -- /bin/true 'export oci: allowed_hosts (a.test) cannot be carried by an OCI bundle'
  refused oci "${O[@]}" --tmpfs /scratch --bundle "$TMP/b" -- /bin/true "has no directory \"/scratch\" for tmpfs (the runtime would create it inside the image"
  refused oci --image "$TMP/rootfs" --audit-log none --bundle "$TMP/b" -- /bin/true 'export oci: timeout 60.000s cannot be enforced by an OCI bundle'
  chmod 700 "$TMP"
  refused oci "${O[@]}" --bundle "$TMP/b" -- /bin/true "is not searchable by others (chmod o+x)"
  chmod 755 "$TMP"
  refused nonsense "$P" 'export: unknown kind "nonsense"'
  [ ! -e "$TMP/b" ] || fail "a refused export wrote the bundle"
  # run --backend refuses the same way before starting anything
  ncrun --backend k8s --image host -- true
  assert_rc 125 "run --backend k8s --image host"
  assert_contains "$ERR" 'run --backend k8s: image "host" cannot run on Kubernetes' "run --backend message"
  ncrun --backend nonsense -- true
  assert_rc 125 "run --backend nonsense"
  ncrun --backend docker --image python:3 --audit-log none --allow-host a.test -- true
  assert_rc 125 "run --backend docker with allowed_hosts"
  assert_contains "$ERR" "run --backend docker: allowed_hosts (a.test) is not supported by Docker" "docker allowlist message"
}

# ---- Kubernetes: the official schemas, and the restricted Pod Security Standard rule by rule ----

k8s_json() { # ARGS...: export k8s as YAML, parsed to JSON (what kubectl would read) into $TMP/k8s.json
  "$NC" export k8s "$@" >"$TMP/k8s.yaml"
  "$PY" -c 'import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))' \
    "$TMP/k8s.yaml" >"$TMP/k8s.json"
}

test_k8s_schema() {
  command -v node >/dev/null || fail "node is missing (scripts/setup.sh installs nodejs)"
  k8s_json "$GOLDEN/profile.json" --node-pids-limit 128 -- python3 job.py
  node tests/k8s/validate.mjs "$TMP/k8s.json" >"$TMP/v.out" || fail "schema: $(cat "$TMP/v.out")"
  assert_eq 2 "$(grep -c '^ok ' "$TMP/v.out")" "NetworkPolicy and Job validated"
  k8s_json "$GOLDEN/profile.json" --node-pids-limit 128 --allow-host api.openai.com:443 --allow-host '*.example.com' \
    --allow-host 10.0.0.0/8 --add-host db:10.0.0.5 --gateway-image r.example/nanoclaw:1 --seccomp-runtime-default
  node tests/k8s/validate.mjs "$TMP/k8s.json" >"$TMP/v.out" || fail "schema (allowlist): $(cat "$TMP/v.out")"
  assert_eq 5 "$(grep -c '^ok ' "$TMP/v.out")" "gateway policy, service, deployment, policy, job validated"
  # the JSON List is the same objects as the YAML
  "$NC" export k8s "$GOLDEN/profile.json" --node-pids-limit 128 --allow-host api.openai.com:443 --allow-host '*.example.com' \
    --allow-host 10.0.0.0/8 --add-host db:10.0.0.5 --gateway-image r.example/nanoclaw:1 --seccomp-runtime-default --json >"$TMP/list.json"
  assert_eq "$(jq -S . "$TMP/k8s.json")" "$(jq -S .items "$TMP/list.json")" "YAML and --json agree"
  # the validator itself catches a wrong type and an unknown field
  jq '(.[] | select(.kind == "Job") | .spec.backoffLimit) = "0" |
      (.[] | select(.kind == "Job") | .spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem) = true' \
    "$TMP/k8s.json" >"$TMP/bad.json"
  if node tests/k8s/validate.mjs "$TMP/bad.json" >"$TMP/v.out"; then fail "a broken Job validated"; fi
  assert_contains "$(cat "$TMP/v.out")" "/spec/backoffLimit type" "type error found"
  assert_contains "$(cat "$TMP/v.out")" "readOnlyRootFileSystem is not a field of the schema" "unknown field found"
}

test_k8s_yaml_quoting() {
  # what the YAML says is exactly the command: quotes, newlines, YAML syntax and look-alikes survive
  local args=('a "quoted" arg' $'two\nlines' '- dash' 'key: value' '# hash' 'yes' 'null' '0x1f' '@at' '*star' 'tab\there' 'ü')
  k8s_json "$GOLDEN/profile.json" --node-pids-limit 128 --name 'Bot "x"' -- "${args[@]}"
  assert_eq "$(jq -cn '$ARGS.positional' --args "${args[@]}")" \
    "$(jq -c '.[] | select(.kind == "Job") | .spec.template.spec.containers[0].command' "$TMP/k8s.json")" "command round trip"
  assert_eq "bot-x" "$(jq -r '.[] | select(.kind == "Job") | .metadata.name' "$TMP/k8s.json")" "a DNS name from the profile name"
}

test_k8s_job_policy() {
  k8s_json "$GOLDEN/profile.json" --node-pids-limit 128 -- python3 job.py
  local job='.[] | select(.kind == "Job")' pol='.[] | select(.kind == "NetworkPolicy")'
  assert_eq 0 "$(jq "$job | .spec.backoffLimit" "$TMP/k8s.json")" "backoffLimit"
  assert_eq 60 "$(jq "$job | .spec.activeDeadlineSeconds" "$TMP/k8s.json")" "activeDeadlineSeconds = timeout"
  assert_eq 30 "$(jq "$job | .spec.ttlSecondsAfterFinished" "$TMP/k8s.json")" "ttlSecondsAfterFinished"
  assert_eq '["512Mi","512Mi","1500m","500m"]' "$(jq -c "$job | .spec.template.spec.containers[0].resources |
    [.limits.memory, .requests.memory, .limits.cpu, .requests.cpu]" "$TMP/k8s.json")" "resources"
  assert_eq '[{"medium":"Memory","sizeLimit":"64Mi"},{"medium":"Memory","sizeLimit":"256Mi"}]' \
    "$(jq -c "[$job | .spec.template.spec.volumes[].emptyDir]" "$TMP/k8s.json")" "tmpfs as sized memory emptyDirs"
  assert_eq '["Ingress","Egress"] [] []' "$(jq -c "$pol | .spec.policyTypes, .spec.ingress, .spec.egress" "$TMP/k8s.json" | tr '\n' ' ' | sed 's/ $//')" \
    "no network: deny all both ways"
  assert_eq '{"type":"Localhost","localhostProfile":"nanoclaw/seccomp.json"}' \
    "$(jq -c "$job | .spec.template.spec.securityContext.seccompProfile" "$TMP/k8s.json")" "our seccomp filter"
  # with an allowlist the sandbox may reach the gateway alone, and the gateway enforces the names
  k8s_json "$GOLDEN/profile.json" --node-pids-limit 128 --allow-host api.openai.com:443 --gateway-image r.example/nanoclaw:1
  assert_eq '[{"to":[{"podSelector":{"matchLabels":{"app.kubernetes.io/instance":"nanoclaw-egress-supportbot-v2"}}}],"ports":[{"protocol":"TCP","port":3128}]}]' \
    "$(jq -c '.[] | select(.kind == "NetworkPolicy" and .metadata.name == "supportbot-v2-egress") | .spec.egress' "$TMP/k8s.json")" \
    "sandbox egress: the gateway only"
  assert_eq '["nanoclaw","proxy","--listen=0.0.0.0:3128","--allow-host=api.openai.com:443","--add-host=vectordb:10.0.0.7"]' \
    "$(jq -c '.[] | select(.kind == "Deployment") | .spec.template.spec.containers[0].command' "$TMP/k8s.json")" "gateway command"
  assert_eq "http://\$(NANOCLAW_EGRESS_SUPPORTBOT_V2_SERVICE_HOST):3128" \
    "$(jq -r "$job | .spec.template.spec.containers[0].env[] | select(.name == \"HTTPS_PROXY\") | .value" "$TMP/k8s.json")" "proxy variable"
  assert_eq "Service Job" "$(jq -r '.[] | select(.kind == "Service" or .kind == "Job") | .kind' "$TMP/k8s.json" | tr '\n' ' ' | sed 's/ $//')" \
    "the gateway Service comes before the Job"
}

test_k8s_restricted_pss() {
  k8s_json "$GOLDEN/profile.json" --node-pids-limit 128 --allow-host api.openai.com:443 --gateway-image r.example/nanoclaw:1 -- python3 job.py
  "$PY" tests/helpers/pss_restricted.py "$TMP/k8s.json" >"$TMP/pss.out" || fail "PSS restricted: $(grep FAIL "$TMP/pss.out")"
  assert_eq 42 "$(grep -c '^ok ' "$TMP/pss.out")" "21 rules x 2 pods (sandbox, gateway)"
  # every rule is really checked: break each one in the Job and see exactly that rule fail
  local J='(.[] | select(.kind == "Job") | .spec.template' C='.spec.containers[0]'
  local cases=(
    "baseline: HostProcess|$J.spec.securityContext.windowsOptions) = {\"hostProcess\": true}"
    "baseline: Host Namespaces|$J.spec.hostPID) = true"
    "baseline: Privileged Containers|$J$C.securityContext.privileged) = true"
    "baseline: Capabilities|$J$C.securityContext.capabilities.add) = [\"SYS_ADMIN\"]"
    "baseline: HostPath Volumes|$J.spec.volumes) += [{\"name\": \"h\", \"hostPath\": {\"path\": \"/\"}}]"
    "baseline: Host Ports|$J$C.ports) = [{\"containerPort\": 80, \"hostPort\": 80}]"
    "baseline: AppArmor|$J$C.securityContext.appArmorProfile) = {\"type\": \"Unconfined\"}"
    "baseline: SELinux|$J.spec.securityContext.seLinuxOptions) = {\"type\": \"spc_t\"}"
    "baseline: /proc Mount Type|$J$C.securityContext.procMount) = \"Unmasked\""
    "baseline: Seccomp|$J$C.securityContext.seccompProfile) = {\"type\": \"Unconfined\"}"
    "baseline: Sysctls|$J.spec.securityContext.sysctls) = [{\"name\": \"kernel.msgmax\", \"value\": \"1\"}]"
    "restricted: Volume Types|$J.spec.volumes) += [{\"name\": \"n\", \"nfs\": {\"server\": \"s\", \"path\": \"/\"}}]"
    "restricted: Privilege Escalation|$J$C.securityContext.allowPrivilegeEscalation) = true"
    "restricted: Running as Non-root|$J$C.securityContext.runAsNonRoot) = false"
    "restricted: Running as Non-root user|$J$C.securityContext.runAsUser) = 0"
    "restricted: Seccomp|(.[] | select(.kind == \"Job\") | .spec.template.spec | .securityContext.seccompProfile, .containers[0].securityContext.seccompProfile) = null"
    "restricted: Capabilities|$J$C.securityContext.capabilities.drop) = [\"NET_RAW\"]"
    "nanoclaw: read-only root filesystem|$J$C.securityContext.readOnlyRootFilesystem) = false"
    "nanoclaw: no service account token|$J.spec.automountServiceAccountToken) = true"
    "nanoclaw: memory limit|$J$C.resources.limits) = {}"
    "nanoclaw: scratch space is memory-backed and sized|$J.spec.volumes[0].emptyDir) = {}"
  )
  local c rule expr n=0
  for c in "${cases[@]}"; do
    rule=${c%%|*}; expr=${c#*|}
    jq "$expr" "$TMP/k8s.json" >"$TMP/broken.json" || fail "jq: $expr"
    if "$PY" tests/helpers/pss_restricted.py "$TMP/broken.json" --quiet >"$TMP/pss.out"; then fail "$rule: not caught"; fi
    grep -q "^FAIL Job/supportbot-v2: $rule:" "$TMP/pss.out" || fail "$rule: not the failing rule: $(cat "$TMP/pss.out")"
    n=$((n + 1))
  done
  assert_eq 21 "$n" "rules broken one by one"
}

# ---- OCI bundles under crun and runc: the native containment cases ------------------------------

# oci_case RUNTIME NAME EXPECT [PROFILE-FLAGS...] -- COMMAND...: export a bundle, run it, and look for
# EXPECT (an extended regex) in what it printed.
oci_case() {
  local rt=$1 name=$2 want=$3 flags=() id
  shift 3
  while [ "$1" != "--" ]; do flags+=("$1"); shift; done
  shift
  # the probe will not run as pid 1 (its guard): a shell stays pid 1
  [ "$1" = /nc/nc-probe ] && set -- /bin/sh -c "$* ; true"
  rm -rf "$TMP/b"
  "$NC" export oci --image "$TMP/rootfs" --timeout 0 --audit-log none "${flags[@]}" --bundle "$TMP/b" -- "$@" ||
    fail "$rt $name: export oci"
  id=nctest-$rt-$$-$RANDOM
  set +e
  oci_run "$rt" "$TMP/b" "$id" >"$TMP/o.out" 2>&1 </dev/null
  RC=$?
  set -e
  "$rt" delete --force "$id" >/dev/null 2>&1 || true
  grep -qE -- "$want" "$TMP/o.out" || fail "$rt $name: [$want] not in [$(cat "$TMP/o.out")] (status $RC)"
}

oci_containment() {
  local rt=$1
  need_root_runtime "$rt"
  [ -x "${PROBE:-}" ] || fail "the probe is not built"
  mk_rootfs "$TMP/rootfs"
  # the attack: write to the root filesystem (an image shared by every run)
  oci_case "$rt" "read-only root" "DENIED write /etc/x EROFS" -- /nc/nc-probe write /etc/x
  # the sandbox user is not root, inside or on the host (a user namespace maps it high)
  oci_case "$rt" "non-root uid" "IDS uid=1000,1000,1000 gid=1000,1000,1000" -- /nc/nc-probe ids
  oci_case "$rt" "host uid" "^ +0 +2147418112 +65536\$" -- /bin/cat /proc/self/uid_map
  # no capabilities, no_new_privs, seccomp on
  oci_case "$rt" "no caps" "CapEff=0000000000000000 CapBnd=0000000000000000 .*NoNewPrivs=1 Seccomp=2" -- /bin/sh -c '/nc/nc-probe status; true'
  # the filter: the mount family and new namespaces are refused
  local calls="mount umount2 pivot_root open_tree move_mount fsopen unshare_newuser unshare_newns unshare_newnet setns
    clone_newuser clone_newns ptrace process_vm_readv bpf keyctl add_key io_uring_setup perf_event_open userfaultfd
    open_by_handle_at kexec_load init_module reboot swapon acct settimeofday tiocsti af_packet raw_socket mknod chroot"
  oci_case "$rt" "seccomp" "BLOCKED chroot" -- /bin/sh -c "for s in $(echo $calls); do /nc/nc-probe syscall \$s; done; true"
  [ "$(grep -c '^BLOCKED ' "$TMP/o.out")" = "$(echo $calls | wc -w)" ] || fail "$rt seccomp: not all blocked: $(grep -v '^BLOCKED' "$TMP/o.out")"
  # no network but loopback
  oci_case "$rt" "no network" "^IFACES lo:up\$" -- /bin/sh -c '/nc/nc-probe ifaces; true'
  # the tmpfs size limit
  oci_case "$rt" "tmpfs size" "FAILED fill ENOSPC after_kb=(1[0-9]{3}|20[0-4][0-9])\$" --tmpfs /tmp:2m -- /bin/sh -c '/nc/nc-probe fill /tmp/f 8; true'
  # the memory limit (swap equal): a hog is killed or refused
  oci_case "$rt" "memory limit" "^(ENOMEM memhog|Killed|.*status 137)" --mem-limit 32m -- /bin/sh -c '/nc/nc-probe memhog 256; echo "status $?"'
  # the pids limit: a fork bomb hits it
  # the pids limit: a fork bomb (~4700 processes unbounded) stops at 32; counted with shell builtins only
  oci_case "$rt" "pids limit" "^PROCS (2[0-9]|3[0-2])\$" --pids-limit 32 -- \
    /bin/sh -c '/nc/nc-probe forkbomb & sleep 2; set -- /proc/[0-9]*; echo "PROCS $#"; kill -9 -1; true'
  # hostname
  oci_case "$rt" "hostname" "^agent\$" --hostname agent -- /bin/hostname
}

test_oci_crun_containment() { oci_containment crun; }
test_oci_runc_containment() { oci_containment runc; }

# run --runtime: the same bundle, supervised: exit codes, the deadline, the audit log, nothing left
runtime_run() {
  local rt=$1
  need_root_runtime "$rt"
  mk_rootfs "$TMP/rootfs"
  ncrun --runtime "$rt" --image "$TMP/rootfs" --audit-log "$TMP/audit.jsonl" -- /bin/sh -c 'echo out; echo err >&2; exit 7'
  assert_rc 7 "$rt: exit status"
  assert_eq out "$OUT" "$rt: stdout"
  assert_eq err "$ERR" "$rt: stderr"
  local t0 t1
  t0=$(now_ms)
  ncrun --runtime "$rt" --image "$TMP/rootfs" --audit-log "$TMP/audit.jsonl" --timeout 1 --result-json "$TMP/r.json" -- /bin/sleep 30
  t1=$(now_ms)
  assert_rc 124 "$rt: the deadline"
  [ $((t1 - t0)) -lt 8000 ] || fail "$rt: the deadline took $((t1 - t0)) ms"
  assert_eq true "$(jget "$TMP/r.json" .timed_out)" "$rt: result timed_out"
  # a command that closes its output and goes on is still under the deadline
  ncrun --runtime "$rt" --image "$TMP/rootfs" --audit-log none --timeout 1 -- /bin/sh -c 'exec >&- 2>&-; sleep 30'
  assert_rc 124 "$rt: the deadline after the output closed"
  "$NC" audit verify "$TMP/audit.jsonl" >/dev/null || fail "$rt: audit chain"
  assert_eq "start output output end start deadline end" \
    "$(jq -r 'select(.event != "genesis") | .event' "$TMP/audit.jsonl" | tr '\n' ' ' | sed 's/ $//')" "$rt: audit records"
  ncrun --runtime "$rt" --image "$TMP/rootfs" --audit-log none --output-limit 4 -- /bin/echo 123456789
  assert_eq 1234 "$OUT" "$rt: output limit"
  assert_eq "" "$(backend_leftovers)" "$rt: left behind"
}

test_run_runtime_crun() { runtime_run crun; }
test_run_runtime_runc() { runtime_run runc; }

# allowed_hosts under run --runtime/--backend podman: the container joins a network namespace where
# nanoclaw's proxy listens (created there, served from the host side), as a native sandbox does.
allowlist_run() { # RUN-FLAGS...
  mkdir -p "$TMP/www"
  echo hello >"$TMP/www/index.html"
  rm -f "$TMP/port"
  python3 tests/helpers/httpd.py "$TMP/www" "$TMP/port" "$TMP/httpd.log" &
  local hp=$! i port
  trap "kill $hp 2>/dev/null || true" EXIT
  for i in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
  port=$(cat "$TMP/port")
  ncrun "$@" --image "$TMP/rootfs" --audit-log "$TMP/audit.jsonl" --add-host a.test:127.0.0.1 --allow-host "a.test:$port" \
    --result-json "$TMP/r.json" -- /bin/sh -c "wget -q -O - http://a.test:$port/; wget -q -O - http://b.test:$port/ 2>&1;
      echo IFCOUNT \$(grep -c : /proc/net/dev); /nc/nc-probe connect 127.0.0.1 $port; /nc/nc-probe connect 10.0.0.1 80; true"
  assert_rc 0 "$*: allowlist run ($ERR)"
  assert_contains "$OUT" "hello" "$*: the allowed host, through the proxy"
  assert_contains "$OUT" "403 Forbidden" "$*: another host refused by the proxy"
  # no interface but lo: no route anywhere (the probe, which needs a user namespace, tries under crun/runc)
  assert_contains "$OUT" "IFCOUNT 1" "$*: lo only"
  assert_not_contains "$OUT" "CONNECTED" "$*: a direct connection"
  assert_eq '[1,1]' "$(jq -c '[.network.allowed, .network.denied]' "$TMP/r.json")" "$*: counted"
  assert_eq '["allowed","denied"]' "$(jq -sc '[.[] | select(.event == "net") | .decision]' "$TMP/audit.jsonl")" "$*: net records"
  [ "$(wc -l <"$TMP/httpd.log")" = 1 ] || fail "$*: the server saw $(cat "$TMP/httpd.log")"
  kill "$hp"
  wait "$hp" 2>/dev/null || true
  trap - EXIT
}

test_allowlist_run_runtime() {
  need_root_runtime crun
  need_root_runtime runc
  mk_rootfs "$TMP/rootfs"
  allowlist_run --runtime crun
  : >"$TMP/httpd.log"; rm -f "$TMP/audit.jsonl"
  allowlist_run --runtime runc
}

# ---- podman for real, with the exported arguments against a local rootfs ------------------------

podman_env() {
  command -v podman >/dev/null || fail "podman is not installed (scripts/setup.sh installs it)"
  [ "$(id -u)" = 0 ] || fail "needs root"
  mkdir -p "$TMP/cc"
  printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' >"$TMP/cc/containers.conf"
  export CONTAINERS_CONF=$TMP/cc/containers.conf
  mk_rootfs "$TMP/rootfs"
  "$NC" export seccomp --output "$TMP/seccomp.json"
}

# podman_exported FLAGS... -- COMMAND...: run what `export podman-run` printed, as a shell would.
podman_exported() {
  local flags=() extra=""
  while [ "$1" != "--" ]; do flags+=("$1"); shift; done
  shift
  "$NC" export podman-run --image "$TMP/rootfs" --audit-log none --seccomp-profile "$TMP/seccomp.json" "${flags[@]}" \
    -- "$@" >"$TMP/podman.sh"
  # This host's root lacks CAP_SYS_RESOURCE, so podman cannot set its default RLIMIT_NPROC (1048576);
  # then one argument is added to the exported list: the limit podman falls back to for itself.
  [ "$(( 0x$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status) >> 24 & 1 ))" = 1 ] || extra="--ulimit=nproc=32768:32768"
  set +e
  timeout 120 unshare --mount --propagation private -- bash -c \
    'mountpoint -q /sys/fs/cgroup/unified && umount /sys/fs/cgroup/unified; eval "$(sed "1s|^podman run|podman run $1|" "$2")"' \
    _ "$extra" "$TMP/podman.sh" >"$TMP/p.out" 2>"$TMP/p.err" </dev/null
  RC=$?
  set -e
  OUT=$(cat "$TMP/p.out"); ERR=$(cat "$TMP/p.err")
}

test_podman_exported_args() {
  podman_env
  podman_exported --timeout 30 -- /bin/sh -c 'id -u; id -g; hostname; echo x >/etc/x; echo ok >/tmp/t && cat /tmp/t;
    grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status; mount -t tmpfs none /tmp 2>&1; unshare -r true 2>&1;
    cat /proc/net/dev | grep -c :; c=/sys/fs/cgroup; if [ -f $c/memory.max ]; then cat $c/memory.max $c/memory.swap.max $c/pids.max;
    else cat $c/memory/memory.limit_in_bytes $c/memory/memory.memsw.limit_in_bytes $c/pids/pids.max; fi 2>&1; true'
  assert_rc 0 "podman run with the exported arguments: $ERR"
  local lines
  lines=$(printf '%s\n' "$OUT")
  assert_eq "1000" "$(sed -n 1p <<<"$lines")" "uid"
  assert_eq "1000" "$(sed -n 2p <<<"$lines")" "gid"
  assert_eq "sandbox" "$(sed -n 3p <<<"$lines")" "hostname"
  assert_contains "$ERR$OUT" "Read-only file system" "read-only root"
  assert_contains "$OUT" "ok" "tmpfs writable"
  assert_contains "$OUT" "CapEff:	0000000000000000" "no effective caps"
  assert_contains "$OUT" "CapBnd:	0000000000000000" "no bounding caps"
  assert_contains "$OUT" "NoNewPrivs:	1" "no_new_privs"
  assert_contains "$OUT" "Seccomp:	2" "seccomp filter"
  assert_contains "$OUT" "mount: permission denied (are you root?)" "mount refused"
  assert_contains "$OUT" "unshare: unshare(0x10000000): Operation not permitted" "unshare refused"
  # lo only; memory = memory+swap (v1), no swap (v2); pids
  case "$OUT" in
    *"$(printf '1\n536870912\n536870912\n256')"* | *"$(printf '1\n536870912\n0\n256')"*) ;;
    *) fail "network, memory, swap, pids: [$OUT]" ;;
  esac
  # the tmpfs size
  podman_exported --tmpfs /tmp:1m -- /bin/sh -c 'dd if=/dev/zero of=/tmp/f bs=1k count=4096 2>&1; true'
  assert_contains "$OUT" "No space left on device" "tmpfs size limit"
  # the deadline: podman --timeout (conmon kills it)
  local t0 t1
  t0=$(now_ms)
  podman_exported --timeout 2 -- /bin/sleep 60
  t1=$(now_ms)
  [ "$RC" != 0 ] || fail "the deadline: exit 0"
  [ $((t1 - t0)) -lt 15000 ] || fail "the deadline: took $((t1 - t0)) ms"
  [ -z "$(podman ps -aq --filter label=nanoclaw.profile.sha256)" ] || fail "a container was left (--rm)"
}

test_run_backend_podman() {
  podman_env
  # env values reach the container, never an argument list
  SECRET_VALUE=s3cr3t-$$ ncrun --backend podman --image "$TMP/rootfs" --audit-log "$TMP/audit.jsonl" --env SECRET_VALUE \
    -- /bin/sh -c 'echo "v=$SECRET_VALUE"; exit 5'
  assert_rc 5 "podman: exit status ($ERR)"
  assert_eq "v=s3cr3t-$$" "$OUT" "podman: env value"
  local t0 t1
  t0=$(now_ms)
  ncrun --backend podman --image "$TMP/rootfs" --audit-log none --timeout 2 -- /bin/sleep 60
  t1=$(now_ms)
  assert_rc 124 "podman: the deadline"
  [ $((t1 - t0)) -lt 15000 ] || fail "podman: the deadline took $((t1 - t0)) ms"
  "$NC" audit verify "$TMP/audit.jsonl" >/dev/null || fail "podman: audit chain"
  jq -c 'select(.event == "start")' "$TMP/audit.jsonl" | grep -q "s3cr3t" && fail "podman: the env value is in the start record"
  assert_eq '["SECRET_VALUE"]' "$(jq -c 'select(.event == "start") | .profile.env' "$TMP/audit.jsonl")" "podman: env names only"
  assert_eq "" "$(backend_leftovers)" "podman: left behind"
  rm -f "$TMP/audit.jsonl"
  allowlist_run --backend podman
}

# ---- docker and kubectl, faked (no Docker engine, no cluster here) ------------------------------

# fake_bin NAME: a script on PATH that logs its argv (one line, NUL-free) and stdin, and acts per $FAKE_*.
fake_bin() {
  mkdir -p "$TMP/fake"
  cat >"$TMP/fake/$1" <<'EOF'
#!/bin/bash
log=$FAKE_LOG
printf '%s' "$(basename "$0")" >>"$log"; printf ' [%s]' "$@" >>"$log"; echo >>"$log"
env >"$FAKE_LOG.env.$$"
case "$(basename "$0") $1" in
  "docker run") echo "fake container out"; [ -n "${FAKE_SLEEP:-}" ] && sleep "$FAKE_SLEEP"; exit "${FAKE_STATUS:-0}" ;;
  "docker kill") exit 0 ;;
  "kubectl apply") cat >"$FAKE_LOG.applied"; exit 0 ;;
  "kubectl delete") cat >"$FAKE_LOG.deleted" 2>/dev/null; exit 0 ;;
  "kubectl get")
    case "$*" in
      *status.phase*) echo -n Succeeded ;;
      *conditions*) echo -n "${FAKE_REASON:-}" ;;
      *exitCode*) echo -n "${FAKE_STATUS:-0}" ;;
    esac; exit 0 ;;
  "kubectl logs") echo "hello from the pod"; exit 0 ;;
esac
exit 0
EOF
  chmod +x "$TMP/fake/$1"
  export FAKE_LOG=$TMP/fake.log PATH=$TMP/fake:$PATH
}

test_run_backend_docker_fake() {
  fake_bin docker
  TOKEN_X=tok-$$ ncrun --backend docker --config "$GOLDEN/profile.json" --env TOKEN_X -- python3 job.py
  assert_rc 0 "docker: exit ($ERR)"
  assert_eq "fake container out" "$OUT" "docker: output relayed"
  local run
  run=$(grep '^docker \[run\]' "$FAKE_LOG")
  # the exported list, plus a name and --interactive; seccomp from a private file
  "$NC" export docker-run "$GOLDEN/profile.json" --timeout 0 --env TOKEN_X=x --json -- python3 job.py >"$TMP/exp.json"
  local a
  for a in $(jq -r '.argv[2:][] | select(startswith("--label") or startswith("--security-opt=seccomp") | not)' "$TMP/exp.json"); do
    assert_contains "$run" "[$a]" "docker: exported argument"
  done
  assert_contains "$run" "[--interactive]" "docker: stdin"
  assert_contains "$run" "[--name=nanoclaw-" "docker: named for the deadline"
  assert_not_contains "$run" "tok-$$" "docker: env value in argv"
  grep -q "^TOKEN_X=tok-$$\$" "$FAKE_LOG".env.* || fail "docker: env value not in the engine's environment"
  # the deadline: docker kill at the deadline, 124
  FAKE_SLEEP=30 ncrun --backend docker --config "$GOLDEN/profile.json" --timeout 1 -- python3 job.py
  assert_rc 124 "docker: the deadline"
  grep -q '^docker \[kill\] \[--signal=9\] \[nanoclaw-' "$FAKE_LOG" || fail "docker: no kill at the deadline: $(cat "$FAKE_LOG")"
  FAKE_STATUS=3 ncrun --backend docker --config "$GOLDEN/profile.json" -- python3 job.py
  assert_rc 3 "docker: exit status passed through"
  ls -d /tmp/nanoclaw-run-* 2>/dev/null && fail "docker: a private directory was left" || true
}

test_run_backend_k8s_fake() {
  fake_bin kubectl
  TOKEN_X=tok-$$ ncrun --backend k8s --config "$GOLDEN/profile.json" --pids-limit 0 --env TOKEN_X -- python3 job.py
  assert_rc 0 "k8s: exit ($ERR)"
  assert_eq "hello from the pod" "$OUT" "k8s: logs streamed"
  assert_contains "$(cat "$FAKE_LOG")" "kubectl [apply] [-f] [-]" "k8s: applied"
  assert_contains "$(cat "$FAKE_LOG")" "kubectl [logs] [--follow] [job/nanoclaw-" "k8s: logs"
  assert_contains "$(cat "$FAKE_LOG")" "kubectl [delete] [-f] [-]" "k8s: deleted"
  assert_not_contains "$(cat "$FAKE_LOG")" "tok-$$" "k8s: env value on a command line"
  # the env values went in a Secret on stdin; what was applied is valid and restricted
  assert_eq "tok-$$" "$(jq -r '.items[] | select(.kind == "Secret") | .stringData.TOKEN_X' "$FAKE_LOG.applied")" "k8s: Secret"
  jq .items "$FAKE_LOG.applied" >"$TMP/applied.json"
  node tests/k8s/validate.mjs "$TMP/applied.json" >"$TMP/v.out" || fail "k8s: applied objects: $(cat "$TMP/v.out")"
  "$PY" tests/helpers/pss_restricted.py "$TMP/applied.json" --quiet || fail "k8s: applied pod is not restricted"
  cmp -s "$FAKE_LOG.applied" "$FAKE_LOG.deleted" || fail "k8s: deleted something else than it applied"
  FAKE_STATUS=3 ncrun --backend k8s --config "$GOLDEN/profile.json" --pids-limit 0 -- python3 job.py
  assert_rc 3 "k8s: the pod's exit status"
  FAKE_REASON=DeadlineExceeded ncrun --backend k8s --config "$GOLDEN/profile.json" --pids-limit 0 -- python3 job.py
  assert_rc 124 "k8s: activeDeadlineSeconds is the deadline"
}

# ---- the egress gateway -------------------------------------------------------------------------

test_proxy_gateway() {
  mkdir -p "$TMP/www"
  echo hello >"$TMP/www/index.html"
  python3 tests/helpers/httpd.py "$TMP/www" "$TMP/port" "$TMP/httpd.log" &
  local hp=$! pport gp i
  trap "kill $hp 2>/dev/null || true" EXIT
  for i in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
  pport=$(cat "$TMP/port")
  gp=$(free_port)
  "$NC" proxy --listen "127.0.0.1:$gp" --add-host a.test:127.0.0.1 --allow-host "a.test:$pport" 2>"$TMP/gw.log" &
  local gw=$!
  trap "kill $hp $gw 2>/dev/null || true" EXIT
  for i in $(seq 50); do [ -n "$(ss -Hltn "sport = :$gp")" ] && break; sleep 0.1; done
  assert_eq hello "$(curl -s -x "http://127.0.0.1:$gp" "http://a.test:$pport/")" "allowed through the gateway"
  assert_contains "$(curl -s -x "http://127.0.0.1:$gp" "http://b.test:$pport/")" "is not in allowed_hosts" "denied"
  assert_contains "$(curl -s -x "http://127.0.0.1:$gp" "http://127.0.0.1:$pport/")" "is not in allowed_hosts" "an address is not a name"
  kill "$gw"
  wait "$gw" || fail "the gateway did not exit 0 on SIGTERM"
  kill "$hp"
  assert_eq 3 "$(grep -c '"decision"' "$TMP/gw.log")" "one log line per connection"
  "$NC" proxy --listen "127.0.0.1:$gp" 2>"$TMP/e" && fail "a gateway with an empty allowlist started" || true
  assert_contains "$(cat "$TMP/e")" "allowed_hosts is empty" "empty allowlist refused"
}

# Run alone: bash tests/integration/export.sh [PATTERN]
if [ "${BASH_SOURCE[0]}" = "$0" ] && [ -z "${NC_EXPORT_SOURCED:-}" ]; then
  export NC_EXPORT_SOURCED=1
  cd "$(dirname "$0")/../.."
  export NC=${NC:-$PWD/build/nanoclaw} PROBE=${PROBE:-$PWD/build/tests/nc-probe}
  pass=0 failn=0
  for t in $(grep -oE '^test_[A-Za-z0-9_]+' "$0" | grep -E -- "${1:-.}"); do
    TMP=$(mktemp -d /tmp/nctest.XXXXXX)
    if (export TMP; set -e; . tests/lib.sh; . "$0"; "$t") >"$TMP.log" 2>&1; then pass=$((pass + 1)); echo "ok   $t"
    else failn=$((failn + 1)); echo "FAIL $t"; sed 's/^/    /' "$TMP.log" | tail -20; fi
    rm -rf "$TMP" "$TMP.log"
  done
  echo "$pass passed, $failn failed"
  [ "$failn" = 0 ]
fi
