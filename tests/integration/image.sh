# tests/integration/image.sh — the image store with real parts: a local
# registry (Debian's docker-registry, on loopback) holding images pushed with
# skopeo from a small busybox rootfs built here; pull, run, sharing, rm;
# hostile layer tarballs; corrupted blobs; oci: and docker-archive: imports.
# Every test has its own store ($TMP/store, through NANOCLAW_STORE).

MKIMAGE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/helpers/mkimage.py"

# img_need: docker-registry, skopeo and busybox, installed when missing (root).
img_need() {
  local missing=()
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  command -v skopeo >/dev/null || missing+=(skopeo)
  [ -x /bin/busybox ] || missing+=(busybox-static)
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || true
  fi
  command -v docker-registry >/dev/null && command -v skopeo >/dev/null || fail "docker-registry/skopeo missing"
  export NANOCLAW_STORE="$TMP/store"
}

# img_rootfs DIR: busybox + symlinks, /etc/passwd (app = 1234), a file.
img_rootfs() {
  local d=$1 c
  [ -d "$d/bin" ] && return 0
  mkdir -p "$d/bin" "$d/etc" "$d/work/sub" "$d/usr/share"
  cp /bin/busybox "$d/bin/busybox"
  for c in sh id env pwd cat ls echo stat sleep touch; do ln -s busybox "$d/bin/$c"; done
  printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234:app:/work:/bin/sh\n' >"$d/etc/passwd"
  printf 'root:x:0:\napp:x:1234:\n' >"$d/etc/group"
  echo base-file >"$d/work/file"
  echo base-sub >"$d/work/sub/old"
  chmod 0755 "$d/work" "$d/work/sub"
}

# img_oci OUT [mkimage options...]: a two-layer image: the rootfs, then a layer
# that deletes /work/file (whiteout), replaces /work/sub (opaque) and adds a file.
img_oci() {
  local out=$1; shift
  img_rootfs "$TMP/l1"
  mkdir -p "$TMP/l2/work/sub"
  : >"$TMP/l2/work/.wh.file"
  : >"$TMP/l2/work/sub/.wh..wh..opq"
  echo new-sub >"$TMP/l2/work/sub/new"
  echo layer-two >"$TMP/l2/work/added"
  python3 "$MKIMAGE" oci "$out" "$TMP/l1" "$TMP/l2" --env PATH=/bin --env GREETING=hello-from-image \
    --workdir /work --cmd '["sh","-c","echo $GREETING; id; pwd"]' "$@" >/dev/null
}

# start_registry: docker-registry on 127.0.0.1:$REG_PORT, storage in $TMP/reg;
# with an htpasswd file as $1, Basic auth. Killed when the test's shell exits.
start_registry() {
  local i auth=""
  REG_PORT=$(free_port)
  mkdir -p "$TMP/reg/data"
  [ -n "${1:-}" ] && auth="auth:
  htpasswd:
    realm: nanoclaw-test
    path: $1"
  cat >"$TMP/reg/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $TMP/reg/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REG_PORT
$auth
EOF
  docker-registry serve "$TMP/reg/config.yml" >"$TMP/reg/log" 2>&1 &
  REG_PID=$!
  trap "kill $REG_PID 2>/dev/null || true" EXIT
  for i in $(seq 1 100); do
    [ -n "$(ss -Hltn "sport = :$REG_PORT")" ] && return 0
    sleep 0.05
  done
  fail "docker-registry did not listen: $(cat "$TMP/reg/log")"
}

# push OCI-DIR NAME:TAG [skopeo flags...]: into the local registry.
push() {
  local src=$1 dst=$2; shift 2
  timeout 60 skopeo copy --quiet --insecure-policy --dest-tls-verify=false "$@" "oci:$src" \
    "docker://127.0.0.1:$REG_PORT/$dst" >"$TMP/skopeo.log" 2>&1 || fail "skopeo copy: $(cat "$TMP/skopeo.log")"
}

# nci ARGS...: `nanoclaw image ARGS...` with $OUT $ERR $RC.
nci() {
  set +e
  "$NC" image "$@" >"$TMP/nci.out" 2>"$TMP/nci.err" </dev/null
  RC=$?
  set -e
  OUT=$(cat "$TMP/nci.out"); ERR=$(cat "$TMP/nci.err")
}

layer_dirs() { ls "$NANOCLAW_STORE/layers/sha256" 2>/dev/null | sort; }

# ---- pull, run, share, rm ---------------------------------------------------

test_image_pull_run_share_rm() {
  img_need; start_registry
  img_oci "$TMP/oci" --user app --gzip
  push "$TMP/oci" test/busybox:1
  local ref="127.0.0.1:$REG_PORT/test/busybox:1"
  nci pull --insecure "$ref"
  [ "$RC" = 0 ] || fail "pull: $ERR"
  assert_contains "$OUT" "$ref sha256:" "pull prints the ref and digest"
  assert_eq 2 "$(layer_dirs | wc -l)" "two layers unpacked"
  nci ls
  assert_contains "$OUT" "127.0.0.1:$REG_PORT/test/busybox" "ls lists the image"

  # the config: Cmd, Env, WorkingDir, User (app = 1234 in the image's /etc/passwd)
  ncrun --image "$ref"
  assert_rc 0 "run with the image's Cmd"
  assert_eq "$(printf 'hello-from-image\nuid=1234(app) gid=1234(app)\n/work')" "$OUT" "Entrypoint/Cmd, Env, User, WorkingDir"
  # the profile wins over the config
  ncrun --image "$ref" --env GREETING=from-profile --user 1000:1000 --workdir / -- sh -c 'echo $GREETING; id -u; pwd'
  assert_eq "$(printf 'from-profile\n1000\n/')" "$OUT" "profile env/user/workdir override the image's"
  # the layers stacked: whiteout, opaque dir, the second layer's file; read-only
  ncrun --image "$ref" -- sh -c 'ls /work; echo ---; ls /work/sub; cat /work/added; touch /work/x 2>&1 || echo ro'
  assert_eq "$(printf 'added\nsub\n---\nnew\nlayer-two')" "$(printf '%s\n' "$OUT" | sed -n 1,5p)" "merged view"
  assert_contains "$OUT" "Read-only file system" "the image is read-only"
  # a file the image holds is not writable on the host side either: nothing changed
  [ -f "$NANOCLAW_STORE/layers/sha256/$(layer_dirs | head -1)/bin/busybox" ] || \
    [ -f "$NANOCLAW_STORE/layers/sha256/$(layer_dirs | tail -1)/bin/busybox" ] || fail "busybox not in a layer"

  # a second sandbox at the same time shares the layers: no second unpack
  local before
  before=$(cd "$NANOCLAW_STORE/layers/sha256" && stat -c '%n %i %Y' * | sort)
  "$NC" run --image "$ref" --timeout 20 -- sleep 3 >/dev/null 2>&1 &
  local bg=$!
  sleep 0.5
  ncrun --image "$ref" -- cat /work/added
  assert_eq "layer-two" "$OUT" "a second, concurrent sandbox"
  nci pull --insecure "$ref"
  [ "$RC" = 0 ] || fail "second pull: $ERR"
  assert_eq "$before" "$(cd "$NANOCLAW_STORE/layers/sha256" && stat -c '%n %i %Y' * | sort)" "layer dirs untouched"
  # image rm while a sandbox uses it: refused, nothing removed
  nci rm "$ref"
  assert_eq 125 "$RC" "rm of an image in use"
  assert_contains "$ERR" "in use by a running sandbox" "rm says why"
  wait "$bg" || true
  nci rm "$ref"
  [ "$RC" = 0 ] || fail "rm: $ERR"
  assert_contains "$OUT" "2 layers freed" "rm frees the layers"
  assert_eq "" "$(layer_dirs)" "no layer left"
  assert_eq "" "$(ls "$NANOCLAW_STORE/blobs/sha256")" "no blob left"
  ncrun --image "$ref" -- true
  assert_rc 125 "run after rm"
  assert_contains "$ERR" "is not in the local store" "run after rm says so"
  assert_contains "$ERR" "nanoclaw image pull" "and how to get it"
}

test_image_layers_shared_between_images_rm_keeps_used() {
  img_need; start_registry
  img_oci "$TMP/oci"
  push "$TMP/oci" test/a:1
  push "$TMP/oci" test/b:1
  nci pull --insecure "127.0.0.1:$REG_PORT/test/a:1"; [ "$RC" = 0 ] || fail "pull a: $ERR"
  nci pull --insecure "127.0.0.1:$REG_PORT/test/b:1"; [ "$RC" = 0 ] || fail "pull b: $ERR"
  assert_eq 2 "$(layer_dirs | wc -l)" "b reuses a's layers"
  nci rm "127.0.0.1:$REG_PORT/test/a:1"
  assert_contains "$OUT" "0 layers freed" "b still uses them"
  ncrun --image "127.0.0.1:$REG_PORT/test/b:1" -- cat /work/added
  assert_eq "layer-two" "$OUT" "b runs"
  # a pull by digest resolves by digest
  local dg
  dg=$("$NC" image ls --json | jq -r '.[0].digest')
  ncrun --image "127.0.0.1:$REG_PORT/test/b@$dg" -- cat /work/added
  assert_eq "layer-two" "$OUT" "run by digest"
}

test_image_root_user_maps_to_profile_user() {
  img_need
  img_oci "$TMP/oci" --user root
  nci import "oci:$TMP/oci:local/rooty:1"
  [ "$RC" = 0 ] || fail "import: $ERR"
  ncrun --image local/rooty:1 -- id
  assert_eq "uid=1000 gid=1000" "$OUT" "an image that says root runs as the profile's user"
  img_oci "$TMP/oci2" --user 70000
  nci import "oci:$TMP/oci2:local/big:1"
  ncrun --image local/big:1 -- id
  assert_rc 125 "a uid outside 0..65535"
  assert_contains "$ERR" "outside the sandbox's range" "says why"
}

test_image_basic_auth() {
  img_need
  python3 - "$TMP/htpasswd" <<'EOF' 2>/dev/null
import crypt, sys
open(sys.argv[1], "w").write("tester:" + crypt.crypt("s3cret", crypt.METHOD_BLOWFISH).replace("$2b$", "$2y$") + "\n")
EOF
  start_registry "$TMP/htpasswd"
  img_oci "$TMP/oci"
  push "$TMP/oci" priv/img:1 --dest-creds tester:s3cret
  nci pull --insecure "127.0.0.1:$REG_PORT/priv/img:1"
  assert_eq 125 "$RC" "pull without credentials"
  assert_contains "$ERR" "credentials" "says credentials are needed"
  NANOCLAW_REGISTRY_USER=tester NANOCLAW_REGISTRY_PASSWORD=wrong "$NC" image pull --insecure \
    "127.0.0.1:$REG_PORT/priv/img:1" >/dev/null 2>"$TMP/e" && fail "a wrong password worked"
  NANOCLAW_REGISTRY_USER=tester NANOCLAW_REGISTRY_PASSWORD=s3cret "$NC" image pull --insecure \
    "127.0.0.1:$REG_PORT/priv/img:1" >/dev/null 2>"$TMP/e" || fail "pull with credentials: $(cat "$TMP/e")"
  echo s3cret | "$NC" image pull --insecure --username tester --password-stdin "127.0.0.1:$REG_PORT/priv/img:1" \
    >/dev/null 2>"$TMP/e" || fail "pull with --password-stdin: $(cat "$TMP/e")"
}

test_image_insecure_only_on_loopback() {
  img_need
  nci pull --insecure registry.example.com/x/y:1
  assert_eq 125 "$RC" "--insecure for a remote registry"
  assert_contains "$ERR" "only for a registry on localhost" "says why"
  nci pull "Bad/Name"
  assert_eq 125 "$RC" "an invalid reference"
  ncrun --image "nothere/at-all:1" -- true
  assert_rc 125 "an image not in the store"
  assert_contains "$ERR" "image \`nothere/at-all:1\` is not in the local store ($TMP/store); run: nanoclaw image pull nothere/at-all:1" "the message"
}

# ---- corrupted blobs ---------------------------------------------------------

test_image_corrupt_blob_detected() {
  img_need; start_registry
  img_oci "$TMP/oci" --gzip
  push "$TMP/oci" test/corrupt:1
  # flip one byte of the biggest blob (the busybox layer) in the registry's storage
  local blob hex
  blob=$(find "$TMP/reg/data" -path '*/blobs/sha256/*/data' -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
  hex=$(basename "$(dirname "$blob")")
  python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0xff; open(p,'wb').write(b)" "$blob"
  nci pull --insecure "127.0.0.1:$REG_PORT/test/corrupt:1"
  assert_eq 125 "$RC" "pull of a corrupted blob"
  assert_contains "$ERR" "sha256:$hex" "the message names the digest"
  assert_contains "$ERR" "corrupt" "and says what is wrong"
  assert_eq "" "$(layer_dirs)" "nothing unpacked"
  nci ls --json
  assert_eq "[]" "$OUT" "no image recorded"
  assert_eq "" "$(ls "$NANOCLAW_STORE/tmp")" "no temp file left"
  # the same through an OCI layout
  img_oci "$TMP/oci2"
  blob=$(find "$TMP/oci2/blobs/sha256" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
  printf 'X' | dd of="$blob" bs=1 seek=1000 conv=notrunc 2>/dev/null
  nci import "oci:$TMP/oci2:local/corrupt:1"
  assert_eq 125 "$RC" "import of a corrupted blob"
  assert_contains "$ERR" "sha256:$(basename "$blob")" "names the digest"
  assert_contains "$ERR" "corrupt" "says corrupt"
}

# ---- hostile layers ----------------------------------------------------------

# hostile KIND: import an image whose second layer is that hostile tarball;
# sets RC/ERR, and LAYER to the hostile layer's dir when it was imported.
hostile() {
  img_rootfs "$TMP/base"
  python3 "$MKIMAGE" hostile "$1" "$TMP/$1.tar"
  rm -rf "$TMP/oci-$1"
  python3 "$MKIMAGE" oci "$TMP/oci-$1" "$TMP/base" "$TMP/$1.tar" >/dev/null
  nci import "oci:$TMP/oci-$1:hostile/$1:1"
  LAYER=""
  local d
  d=$(python3 -c "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())" "$TMP/$1.tar")
  [ -d "$NANOCLAW_STORE/layers/sha256/$d" ] && LAYER="$NANOCLAW_STORE/layers/sha256/$d"
  return 0
}

test_image_hostile_layers_refused_or_neutralised() {
  img_need
  local target="$TMP/host-target" shadow_links
  mkdir -p "$target"
  export NC_TARGET="$target"
  shadow_links=$(stat -c %h /etc/shadow)
  # Attack: "../../../..$target/dotdot" writes outside the layer. Refused.
  hostile dotdot; assert_eq 125 "$RC" "dotdot"; assert_contains "$ERR" "a \`..\` component" "dotdot message"
  assert_contains "$ERR" "../../" "names the entry"
  # Attack: an absolute name "$target/abs". Neutralised: it lands inside the layer.
  hostile abs; assert_eq 0 "$RC" "abs: $ERR"; [ -f "$LAYER$target/abs" ] || fail "abs not inside the layer"
  # Attack: symlink link -> $target, then link/through-symlink. Refused.
  hostile symlink-write; assert_eq 125 "$RC" "symlink-write"; assert_contains "$ERR" "symlink" "symlink-write msg"
  hostile symlink-rel-write; assert_eq 125 "$RC" "symlink-rel-write"
  # Attack: hardlinks to /etc/shadow, directly, by .., through a symlink. Refused.
  hostile hardlink-out; assert_eq 125 "$RC" "hardlink-out"; assert_contains "$ERR" "hardlink" "hardlink msg"
  hostile hardlink-dotdot; assert_eq 125 "$RC" "hardlink-dotdot"
  hostile hardlink-via-symlink; assert_eq 125 "$RC" "hardlink-via-symlink"
  # Attack: device nodes (/dev/mem, a disk) and a fifo (a channel between sandboxes). Skipped.
  hostile device; assert_eq 0 "$RC" "device: $ERR"
  [ -e "$LAYER/mem" ] || [ -e "$LAYER/sda" ] || [ -e "$LAYER/fifo" ] && fail "a device or fifo was created"
  [ -f "$LAYER/ok" ] || fail "the layer's ordinary file is missing"
  # Attack: setuid/setgid binaries, a sticky dir. Bits stripped.
  hostile setuid; assert_eq 0 "$RC" "setuid: $ERR"
  assert_eq "755 755 777" "$(stat -c %a "$LAYER/suid" "$LAYER/sgid" "$LAYER/sticky" | tr '\n' ' ' | sed 's/ $//')" "modes"
  ncrun --image hostile/setuid:1 -- stat -c %a /suid
  assert_eq 755 "$OUT" "inside the sandbox too"
  # Attack: a whiteout named ".wh..." (whiting out ".."). Refused.
  hostile whiteout-escape; assert_eq 125 "$RC" "whiteout-escape"
  # Outcome, from the host: nothing was written outside the store.
  assert_eq "" "$(ls -A "$target")" "the target dir on the host"
  assert_eq "$shadow_links" "$(stat -c %h /etc/shadow)" "/etc/shadow link count"
  assert_eq "" "$(ls -A "$NANOCLAW_STORE/tmp")" "no half-unpacked layer left"
  [ ! -e "/abs" ] && [ ! -e "$TMP/dotdot" ] || fail "something escaped"
}

# ---- imports -----------------------------------------------------------------

test_image_import_oci_and_docker_archive() {
  img_need
  img_oci "$TMP/oci" --user app --tag 1
  nci import "oci:$TMP/oci:local/viaoci:2"
  [ "$RC" = 0 ] || fail "import oci: $ERR"
  assert_contains "$OUT" "docker.io/local/viaoci:2 sha256:" "import prints the ref"
  ncrun --image local/viaoci:2
  assert_eq "$(printf 'hello-from-image\nuid=1234(app) gid=1234(app)\n/work')" "$OUT" "oci import runs"
  nci import "oci:$TMP/oci"
  assert_eq 125 "$RC" "oci without a name"
  assert_contains "$ERR" "give it one" "asks for a name"
  # docker save's layout, written by hand
  img_rootfs "$TMP/dr"
  python3 "$MKIMAGE" docker-archive "$TMP/saved.tar" "$TMP/dr" --env PATH=/bin --workdir /work \
    --cmd '["cat","file"]' --tag "example/saved:7"
  nci import "docker-archive:$TMP/saved.tar"
  [ "$RC" = 0 ] || fail "import docker-archive: $ERR"
  assert_contains "$OUT" "docker.io/example/saved:7 sha256:" "the name from RepoTags"
  ncrun --image example/saved:7
  assert_eq "base-file" "$OUT" "docker-archive import runs"
  nci inspect example/saved:7
  assert_eq '["cat","file"]' "$(jq -c .config.config.Cmd <<<"$OUT")" "inspect shows the config"
  # the same bytes again: the same digest, no new layer
  local n
  n=$(layer_dirs | wc -l)
  nci import "docker-archive:$TMP/saved.tar:example/saved:8"
  assert_eq "$n" "$(layer_dirs | wc -l)" "a re-import adds no layer"
  # a diff_id that does not match the layer is refused
  python3 - "$TMP/saved.tar" "$TMP/bad.tar" <<'EOF'
import io, json, sys, tarfile
src = tarfile.open(sys.argv[1]); out = tarfile.open(sys.argv[2], "w")
for m in src.getmembers():
    data = src.extractfile(m).read()
    if m.name.endswith(".json") and m.name != "manifest.json":
        c = json.loads(data); c["rootfs"]["diff_ids"][0] = "sha256:" + "0" * 64; data = json.dumps(c).encode()
        man = m.name
    m.size = len(data); out.addfile(m, io.BytesIO(data))
out.close()
EOF
  nci import "docker-archive:$TMP/bad.tar:example/bad:1"
  assert_eq 125 "$RC" "a wrong diff_id"
  assert_contains "$ERR" "the image config says sha256:0000" "names the mismatch"
}

# ---- Docker Hub's token flow -------------------------------------------------

test_image_bearer_token_flow_and_redirected_blobs() {
  img_need
  img_oci "$TMP/oci" --tag 3 --gzip
  local port i
  port=$(free_port)
  python3 "$(dirname "$MKIMAGE")/mock_registry.py" "$port" "$TMP/oci" "$TMP/reg.log" &
  local pid=$!
  trap "kill $pid 2>/dev/null || true" EXIT
  for i in $(seq 1 100); do [ -n "$(ss -Hltn "sport = :$port")" ] && break; sleep 0.05; done
  nci pull --insecure "127.0.0.1:$port/test/img:3"
  [ "$RC" = 0 ] || fail "pull through the token flow: $ERR"
  assert_contains "$(cat "$TMP/reg.log")" "GET /token?service=mock&scope=repository%3Atest%2Fimg%3Apull auth=-" "the token request"
  assert_contains "$(cat "$TMP/reg.log")" "GET /v2/test/img/manifests/3 auth=Bearer good-token" "the token is used"
  assert_contains "$(cat "$TMP/reg.log")" "GET /storage/" "blobs followed the redirect"
  ncrun --image "127.0.0.1:$port/test/img:3" -- cat /work/added
  assert_eq "layer-two" "$OUT" "the pulled image runs"
}
