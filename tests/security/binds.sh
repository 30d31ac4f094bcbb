# tests/security/binds.sh — mount destinations that pass through symlinks the
# sandbox controls. The sandbox's writable dirs and its image are untrusted:
# a symlink planted there must never make nanoclaw mount (or create a mount
# point) somewhere on the host. The test plants the symlinks itself, as a
# previous run of the sandbox could have.

# host_etc_state: what a redirected mount or mkdir would change on the host.
host_etc_state() {
  { ls -A /etc; grep -E ' /etc(/| )' /proc/self/mounts || true; } | sort
}

# bind_refused DST...: run with an rw bind of $TMP/work at /work plus
# --bind $TMP/other:DST; it must exit 125 with one `nanoclaw: ` line, and
# leave /etc on the host as it was.
bind_refused() {
  local dst=$1 before after
  before=$(host_etc_state)
  ncrun --bind "$TMP/work:/work:rw" --bind "$TMP/other:$dst" -- /bin/true
  after=$(host_etc_state)
  [ "$before" = "$after" ] || fail "host /etc changed: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ')"
  assert_rc 125 "bind to $dst"
  [[ "$ERR" == "nanoclaw: "* ]] || fail "message does not start with 'nanoclaw: ': [$ERR]"
  assert_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line on stderr"
}

setup_symlinks() {
  mkdir -m 1777 "$TMP/work"; mkdir -m 755 "$TMP/other"
  ln -s /etc "$TMP/work/evil"
  ln -s ../../../../../../../../etc "$TMP/work/rel"
  mkdir "$TMP/work/sub"; ln -s /etc "$TMP/work/sub/deep"
}

# Attack: DST passes through `evil -> /etc` inside the rw bind: a naive
# runtime creates /etc/nc-evil-PID on the host and mounts over it.
test_bind_dst_through_absolute_symlink_refused() {
  setup_symlinks
  bind_refused "/work/evil/nc-evil-$$"
  [ ! -e "/etc/nc-evil-$$" ] || { rm -rf "/etc/nc-evil-$$"; fail "created /etc/nc-evil-$$ on the host"; }
}

# Attack: DST is the symlink itself (mount over host /etc).
test_bind_dst_is_symlink_refused() {
  setup_symlinks
  bind_refused "/work/evil"
}

# Attack: a relative symlink climbing out with ../ (`rel -> ../../../etc`).
test_bind_dst_through_relative_symlink_refused() {
  setup_symlinks
  bind_refused "/work/rel/nc-evil-$$"
  [ ! -e "/etc/nc-evil-$$" ] || { rm -rf "/etc/nc-evil-$$"; fail "created /etc/nc-evil-$$ on the host"; }
}

# Attack: the symlink is deeper in the path.
test_bind_dst_through_nested_symlink_refused() {
  setup_symlinks
  bind_refused "/work/sub/deep/nc-evil-$$"
  [ ! -e "/etc/nc-evil-$$" ] || { rm -rf "/etc/nc-evil-$$"; fail "created /etc/nc-evil-$$ on the host"; }
}

# Attack: an image (untrusted content) whose /tmp is a symlink to /etc, with
# the default --tmpfs /tmp: the tmpfs must not land on host /etc. Either the
# run is refused (125) or it runs with /tmp inside the sandbox; the host's
# /etc is unchanged either way.
test_image_with_symlinked_mountpoint_is_safe() {
  mkdir -p "$TMP/rootfs/bin"
  cp "$PROBE" "$TMP/rootfs/bin/nc-probe"; chmod 755 "$TMP/rootfs/bin/nc-probe"
  ln -s /etc "$TMP/rootfs/tmp"
  local before after
  before=$(host_etc_state)
  ncrun --image "$TMP/rootfs" -- /bin/nc-probe write /tmp/nc-evil-$$ x
  after=$(host_etc_state)
  [ ! -e "/etc/nc-evil-$$" ] || { rm -f "/etc/nc-evil-$$"; fail "wrote /etc/nc-evil-$$ on the host"; }
  [ "$before" = "$after" ] || fail "host /etc changed: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ')"
  case "$RC" in 0|125) ;; *) fail "unexpected status $RC: $OUT $ERR" ;; esac
  assert_eq /etc "$(readlink "$TMP/rootfs/tmp")" "the image's symlink is untouched"
}
