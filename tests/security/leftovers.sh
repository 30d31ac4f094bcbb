# tests/security/leftovers.sh — a run, and a failed setup, leave nothing
# behind on the host: no process, mount, cgroup, network namespace or temp dir.

# netns_users INODE: how many processes are in the network namespace INODE.
netns_users() {
  local n=0 f
  for f in /proc/[0-9]*/ns/net; do
    [ "$(readlink "$f" 2>/dev/null)" = "net:[$1]" ] && n=$((n + 1))
  done
  echo $n
}

# A normal run: watch it from the host while it runs (find the command's
# host pid, its cgroups and its network namespace), then check all are gone.
test_run_leaves_nothing() {
  probe_setup
  local marker=nc-left-$$-$RANDOM before after pid cgs netns
  before=$(host_leftovers)
  "$NC" run --bind "$TMP/nc:/nc" -- /nc/nc-probe sleep 1.5 "$marker" >/dev/null 2>&1 </dev/null &
  local ncpid=$!
  pid=$(wait_pid "^/nc/nc-probe sleep 1.5 $marker" 5)
  [ -n "$pid" ] || fail "sandboxed command not seen from the host"
  cgs=$(sandbox_cgroups "$pid")
  netns=$(readlink "/proc/$pid/ns/net"); netns=${netns#net:[}; netns=${netns%]}
  [ "$(readlink /proc/self/ns/net)" != "net:[$netns]" ] || fail "the command shares the host's network namespace"
  [ -n "$cgs" ] || fail "the command is in no cgroup of its own: $(cat /proc/$pid/cgroup | tr '\n' ' ')"
  local c
  for c in $cgs; do [ -d "$c" ] || fail "cannot see the sandbox cgroup $c during the run"; done
  wait $ncpid || fail "run failed"
  wait_gone "$marker" 2
  for c in $cgs; do [ ! -d "$c" ] || fail "cgroup left behind: $c"; done
  assert_eq 0 "$(netns_users "$netns")" "processes left in the sandbox's netns"
  grep -q "net:\[$netns\]" /proc/self/mountinfo && fail "the sandbox's netns is still bind-mounted"
  assert_no_new_leftovers "$before" "host leftovers"
}

# Setup failures, early (bad bind source, bad image) and late (a workdir that
# does not exist inside, a missing command): status 125/127 and nothing left.
test_setup_failure_leaves_nothing() {
  local before after
  before=$(host_leftovers)
  ncrun --bind "/nonexistent-$$:/x" -- /bin/true
  assert_rc 125 "missing bind source"
  ncrun --image "/nonexistent-$$" -- /bin/true
  assert_rc 125 "missing image"
  ncrun --workdir "/nonexistent-$$" -- /bin/true
  assert_rc 125 "missing workdir"
  ncrun -- "/nonexistent-$$"
  assert_rc 127 "missing command"
  assert_no_new_leftovers "$before" "host leftovers after failed setups"
  [ -z "$(pgrep -f -- "nonexistent-$$")" ] || fail "process left: $(pgrep -a -f -- "nonexistent-$$")"
}
