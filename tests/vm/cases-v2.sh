# tests/vm/cases-v2.sh — the cgroup v2 cases, sourced by /init2 inside the
# VM (busybox ash, as root). /init2 calls run_pass PREFIX once per placement
# of the calling process (a non-root cgroup with processes, as under
# systemd; then the root cgroup). One line per case:
# `NCVM-RESULT ok PREFIX.NAME` or `NCVM-RESULT fail PREFIX.NAME DETAIL`;
# `NCVM-INFO ...` and `NCVM-LOG ...` lines are diagnostics only.

NC=/bin/nanoclaw
CG=/sys/fs/cgroup
W=/tmp/ncvm
mkdir -p $W

P=""
ok() { echo "NCVM-RESULT ok $P$1"; }
fail() { n=$1; shift; echo "NCVM-RESULT fail $P$n $*"; }
info() { echo "NCVM-INFO $P$*"; }
# Milliseconds since boot (from /proc/uptime, 10 ms resolution).
now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
# The value of a top-level scalar KEY of a pretty-printed result JSON file.
jget() { sed -n "s/^ *\"$1\": *\\([^,]*\\),\\{0,1\\}\$/\\1/p" "$2" | head -n 1; }
# Sandbox leaf cgroups (nanoclaw-<id>) anywhere in the hierarchy.
leaves() { find $CG -type d -name 'nanoclaw-*' 2>/dev/null; }
# Wait (up to ~15 s: TCG is slow) for a leaf with a process in it while
# nanoclaw (pid $1) runs; print it.
running() { # PID: alive and not a zombie
  st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)
  [ -n "$st" ] && [ "$st" != Z ]
}
wait_leaf() {
  i=0
  while [ $i -lt 300 ] && running "$1"; do
    for l in $(leaves); do
      # cgroupfs files have size 0 in stat: read them, don't test -s.
      if [ -n "$(cat "$l/cgroup.procs" 2>/dev/null)" ]; then echo "$l"; return 0; fi
    done
    usleep 50000
    i=$((i + 1))
  done
  return 1
}
# Show what nanoclaw printed (for the log) when a case fails.
dump() { sed "s/^/NCVM-LOG $P$1: /" "$2" | head -n 20; }
no_leaves_left() { # case-name
  left=$(leaves)
  if [ -n "$left" ]; then fail "$1" "cgroup(s) left behind: $(echo $left)"; return 1; fi
  return 0
}

# ---- memory: a 64m limit kills a memory bomb, reported as oom_killed -----
case_mem_oom() {
  $NC run --name oom --mem-limit 64m --timeout 60 --result-json $W/oom.json -- \
    awk 'BEGIN { s = "x"; while (1) s = s s }' >$W/oom.out 2>&1
  rc=$?
  oom=$(jget oom_killed $W/oom.json 2>/dev/null)
  peak=$(jget mem_peak_bytes $W/oom.json 2>/dev/null)
  info "mem_oom: rc=$rc oom_killed=$oom mem_peak_bytes=$peak"
  if [ "$oom" != "true" ]; then
    fail mem_oom "rc=$rc oom_killed=${oom:-<no result json>}"; dump mem_oom $W/oom.out; return
  fi
  if [ "$rc" = 0 ]; then fail mem_oom "exit 0 after an OOM kill"; return; fi
  if [ -n "$peak" ] && [ "$peak" -gt $((80 * 1024 * 1024)) ]; then fail mem_oom "mem_peak_bytes $peak > 80 MiB"; return; fi
  # The VM survived and nanoclaw still works.
  out=$($NC run --timeout 20 -- echo alive 2>&1)
  if [ "$out" != "alive" ]; then fail mem_oom "next run after the OOM printed: $out"; return; fi
  no_leaves_left mem_oom && ok mem_oom
}

# ---- pids: a 16-task limit stops 50 background sleeps; the run ends ------
case_pids() {
  t0=$(now_ms)
  $NC run --name pids --pids-limit 16 --timeout 30 --result-json $W/pids.json -- \
    sh -c 'for i in $(seq 50); do sleep 4 & done; wait' >$W/pids.out 2>&1 &
  bg=$!
  leaf=$(wait_leaf $bg)
  max="" cur_max=0
  if [ -n "$leaf" ]; then
    max=$(cat "$leaf/pids.max" 2>/dev/null)
    i=0
    while [ $i -lt 20 ] && [ -d "$leaf" ]; do
      c=$(cat "$leaf/pids.current" 2>/dev/null) || break
      [ -n "$c" ] && [ "$c" -gt "$cur_max" ] && cur_max=$c
      usleep 50000
      i=$((i + 1))
    done
  fi
  wait $bg
  rc=$?
  t1=$(now_ms)
  forkfail=$(grep -ci "fork" $W/pids.out)
  lim=$(jget pids_limit $W/pids.json 2>/dev/null)
  info "pids: rc=$rc pids.max=$max pids.current(max seen)=$cur_max fork-error lines=$forkfail wall=$((t1 - t0))ms limits.pids_limit=$lim"
  if [ -z "$leaf" ]; then fail pids "no sandbox cgroup seen during the run (rc=$rc)"; dump pids $W/pids.out; return; fi
  if [ "$max" != "16" ]; then fail pids "pids.max is '$max', not 16"; return; fi
  if [ "$cur_max" -gt 16 ]; then fail pids "pids.current reached $cur_max > 16"; return; fi
  if [ "$forkfail" -lt 1 ]; then fail pids "no fork error reported (rc=$rc)"; dump pids $W/pids.out; return; fi
  if [ $((t1 - t0)) -gt 25000 ]; then fail pids "run took $((t1 - t0)) ms"; return; fi
  no_leaves_left pids && ok pids
}

# ---- cpus: --cpus 0.5 writes cpu.max "50000 100000" and throttles -------
case_cpus() {
  $NC run --name cpus --cpus 0.5 --timeout 3 --result-json $W/cpu.json -- \
    sh -c 'while :; do :; done' >$W/cpu.out 2>&1 &
  bg=$!
  leaf=$(wait_leaf $bg)
  cmax=""
  [ -n "$leaf" ] && cmax=$(cat "$leaf/cpu.max" 2>/dev/null)
  wait $bg
  rc=$?
  en=$(sed -n '/"limits"/,/}/s/^ *"cpus": *\([a-z]*\).*/\1/p' $W/cpu.json 2>/dev/null)
  u=$(jget cpu_user_ms $W/cpu.json 2>/dev/null)
  s=$(jget cpu_sys_ms $W/cpu.json 2>/dev/null)
  wall=$(jget wall_ms $W/cpu.json 2>/dev/null)
  info "cpus: rc=$rc cpu.max='$cmax' limits.cpus=$en cpu_user_ms=$u cpu_sys_ms=$s wall_ms=$wall"
  if [ "$cmax" != "50000 100000" ]; then fail cpus "cpu.max is '$cmax', not '50000 100000' (rc=$rc)"; dump cpus $W/cpu.out; return; fi
  if [ "$rc" != 124 ]; then fail cpus "exit $rc, not 124 (timeout)"; dump cpus $W/cpu.out; return; fi
  if [ "$en" != "true" ]; then fail cpus "result limits.cpus is '$en'"; return; fi
  if [ -z "$u" ] || [ -z "$wall" ] || [ "$wall" -le 0 ]; then fail cpus "no cpu/wall figures in the result"; return; fi
  used=$((u + ${s:-0}))
  if [ $((used * 10)) -gt $((wall * 7)) ]; then fail cpus "used $used ms CPU in $wall ms wall (> 70%)"; return; fi
  if [ $((used * 10)) -lt $((wall * 2)) ]; then fail cpus "used only $used ms CPU in $wall ms wall (< 20%): did it spin?"; return; fi
  no_leaves_left cpus && ok cpus
}

# ---- one observed run: cpu.weight, memory.swap.max, CLONE_INTO_CGROUP ----
case_observed_run() {
  $NC run --name observe --cpu-shares 1024 --mem-limit 64m --timeout 30 -- \
    sh -c 'cat /proc/self/cgroup; sleep 3' >$W/obs.out 2>&1 &
  bg=$!
  leaf=$(wait_leaf $bg)
  weight="" swap="" memmax="" procs="" cgs=""
  if [ -n "$leaf" ]; then
    weight=$(cat "$leaf/cpu.weight" 2>/dev/null)
    swap=$(cat "$leaf/memory.swap.max" 2>/dev/null)
    memmax=$(cat "$leaf/memory.max" 2>/dev/null)
    procs=$(cat "$leaf/cgroup.procs" 2>/dev/null)
    for p in $procs; do cgs="$cgs $p=$(cat "/proc/$p/cgroup" 2>/dev/null)"; done
    selfcg=$(cat /proc/$bg/cgroup 2>/dev/null)
  fi
  wait $bg
  rc=$?
  inside=$(head -n 1 $W/obs.out)
  rel=${leaf#$CG}
  info "observed: leaf=$rel rc=$rc cpu.weight=$weight memory.swap.max=$swap memory.max=$memmax"
  info "observed: sandbox pids:$cgs; nanoclaw itself: $selfcg; inside the sandbox: $inside"
  if [ -z "$leaf" ]; then
    for n in cpu_weight swap_max clone_into_cgroup; do fail $n "no sandbox cgroup seen during the run (rc=$rc)"; done
    dump observed $W/obs.out
    return
  fi
  if [ "$weight" = 39 ]; then ok cpu_weight; else fail cpu_weight "cpu.weight is '$weight' for cpu-shares 1024 (want 39)"; fi
  if [ "$swap" = 0 ] && [ "$memmax" = 67108864 ]; then ok swap_max
  else fail swap_max "memory.swap.max='$swap' (want 0) memory.max='$memmax' (want 67108864)"; fi
  # Every sandbox process is in the leaf, nanoclaw itself is not, and the
  # sandbox's cgroup namespace is rooted at the leaf — which is the case only
  # when its init was born there (clone3 CLONE_INTO_CGROUP|CLONE_NEWCGROUP);
  # a later attach would show a path relative to the birth cgroup.
  bad=""
  [ -z "$procs" ] && bad="no processes listed in the leaf"
  for p in $procs; do
    c=$(cat "/proc/$p/cgroup" 2>/dev/null) || continue
    [ "$c" = "0::$rel" ] || bad="$bad pid $p in '$c'"
  done
  [ "$selfcg" = "0::$rel" ] && bad="$bad nanoclaw itself is in the leaf"
  [ "$inside" = "0::/" ] || bad="$bad inside sees '$inside' (want 0::/)"
  if [ -z "$bad" ]; then ok clone_into_cgroup; else fail clone_into_cgroup "$bad"; fi
  if [ "$rc" != 0 ]; then fail observed_run_exit "exit $rc"; dump observed $W/obs.out; fi
}

# ---- the deadline: --timeout 2 on sleep 100 ends in ~2 s with 124 --------
case_timeout() {
  t0=$(now_ms)
  $NC run --name timeout --timeout 2 -- sleep 100 >$W/to.out 2>&1
  rc=$?
  t1=$(now_ms)
  el=$((t1 - t0))
  info "timeout: rc=$rc elapsed=${el}ms"
  if [ "$rc" != 124 ]; then fail timeout "exit $rc, not 124"; dump timeout $W/to.out; return; fi
  if [ $el -lt 1900 ] || [ $el -gt 6000 ]; then fail timeout "took $el ms (want ~2000)"; return; fi
  no_leaves_left timeout && ok timeout
}

run_pass() { # PREFIX
  P="$1."
  info "caller cgroup: $(cat /proc/self/cgroup)"
  case_mem_oom
  case_pids
  case_cpus
  case_observed_run
  case_timeout
  # ---- afterwards: nothing of any sandbox is left ------------------------
  left=$(leaves)
  if [ -z "$left" ]; then ok no_leftover_cgroups; else fail no_leftover_cgroups "$(echo $left)"; fi
  inter=$(find $CG -type d -name nanoclaw 2>/dev/null)
  info "intermediate 'nanoclaw' cgroup(s) remaining: ${inter:-none}"
  for d in $inter; do info "  $d: cgroup.procs='$(cat $d/cgroup.procs)' subtree_control='$(cat $d/cgroup.subtree_control)'"; done
  stray=$(ps 2>/dev/null | grep -E 'sleep (4|100)|awk' | grep -v grep)
  if [ -z "$stray" ]; then ok no_stray_processes; else fail no_stray_processes "$(echo $stray)"; fi
  P=""
}
