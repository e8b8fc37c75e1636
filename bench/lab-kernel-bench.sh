#!/usr/bin/env bash
# The lab benchmark (issues 4 and 5): lvsd against ipvsadm on the real kernel, side by side
# in one run. Runs as root on a kernel with IPVS; from the host, through the lab:
#
#   npm run build && npm run bench:build
#   bash test/lab/run.sh --name bench --timeout 3600 bash bench/lab-kernel-bench.sh [RUNS]
#
# Prints, each figure the median of RUNS (default 3) runs, the two sides alternating:
#   write: `lvsd apply --timings` of 1000 x 10 on an empty table, its write phase, vs
#          `ipvsadm-restore` of the same rules (goal: at most 0.3x); `ipvsadm -Sn` must
#          show exactly those rules after each side, or the run stops;
#   read:  a no-op `lvsd apply --timings` over 5000 x 10 = 50,000 dests (it must report
#          0 writes), its read phase and read + plan, vs `ipvsadm -Ln` (goal: at most 1x);
#   and the whole-process times of every command, for the record (Node starts slowly
#   under TCG emulation, so those say little about JavaScript).
# Then the kernel client's own figures without the CLI (dist-bench/bench/ipvs-kernel.js).
# Every table is written into a network namespace created for it (IPVS state is per
# namespace): a table written after `ipvsadm -C` pays the kernel's dest trash (see the
# curves below), a cost of the flush, not of the writer.
#
# With --curve [SERVICES,...] (default 100,1000,5000,10000 services x 10 reals = 1.1k, 11k,
# 55k and 110k rules), the curves of issue 21 instead, one run per size, both sides in the
# same run: on an empty table, the cost per rule of `lvsd apply`'s write phase and of
# `ipvsadm-restore`; then, for the sizes of 1000 services and more (10,000 dests and up), a
# no-op `lvsd apply`'s read + plan phases against `ipvsadm -Ln` (READS samples of each,
# alternating, medians; default 3). Options after the sizes:
#   --before DIR     the same rows for an earlier build (DIR/bin/lvsd.js, DIR/dist), in the
#                    same run, up to 5000 services, the two builds going first in turn
#                    (give a size twice to have both orders): before / after of a change
#   --after-flush    also write each table again after `ipvsadm -C` (up to 5000 services),
#                    to show what the kernel's dest trash costs each side
#   --reads N        samples of the read rows (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
curve= before= after_flush= reads_n=3
if [ "${1:-}" = --curve ]; then
  curve=100,1000,5000,10000
  shift
  case "${1:-}" in [0-9]*) curve=$1; shift ;; esac
  while [ $# -gt 0 ]; do
    case "$1" in
      --before) before=$(realpath "$2"); shift 2 ;;
      --after-flush) after_flush=1; shift ;;
      --reads) reads_n=$2; shift 2 ;;
      *) echo "lab-kernel-bench: unknown option $1" >&2; exit 2 ;;
    esac
  done
fi
runs=${1:-3}
[ -f dist/cli/main.js ] || { echo "lab-kernel-bench: run npm run build first" >&2; exit 2; }
[ -f dist-bench/bench/reconcile-generate.js ] || { echo "lab-kernel-bench: run npm run bench:build first" >&2; exit 2; }

work=$(mktemp -d /tmp/lvsd-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
now_ms() { date +%s%3N; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v r="$1" -v g="$2" 'BEGIN { print (r <= g) ? "met" : "NOT met" }'; }
# Wall time of a command in ms as bash's `time` measures it (stdout discarded).
time_ms() { local TIMEFORMAT=%3R t; t=$( { time "$@" >/dev/null 2>"$work/time.err"; } 2>&1 ); awk -v s="$t" 'BEGIN { printf "%d", s * 1000 }'; }
# One phase ("write", "read", ...) from `--timings` output: "write ....... 123 ms".
phase() { awk -v p="$1" '$1 == p { print $(NF - 1) }' "$2"; }
# The config's whole cost: --timings splits it into load (read the files) and validate.
config_phases() { awk '$1 == "load" || $1 == "validate" { sum += $(NF - 1) } END { print sum }' "$1"; }
row() { printf '%-62s %9s ms\n' "$1" "$2"; }
same_rules() { # file-with-rules what [namespace]
  if ! diff <(sort "$1") <(${3:+ip netns exec "$3"} ipvsadm -Sn | sort) >"$work/diff" 2>&1; then
    echo "lab-kernel-bench: after $2, ipvsadm -Sn differs from the generated rules:" >&2
    head -n 20 "$work/diff" >&2
    exit 1
  fi
}

# A namespace with a fresh IPVS table. Its loopback goes up: until the namespace has a local
# address, the kernel refuses every real ("address not unicast": inet_addr_type finds no
# local table).
fresh_ns() {
  ip netns add "$1"
  namespaces+=("$1")
  ip -n "$1" link set lo up
}

echo "# bench/lab-kernel-bench.sh: lvsd vs ipvsadm on the real kernel, $runs runs each, medians"
echo "# machine: $(hostname), $(uname -r), $(nproc) vCPU ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); $(ipvsadm --version); node $(node --version); $(date -u +%FT%TZ)"
t0=$(now_ms); node -e 0; echo "# node -e 0 takes $(( $(now_ms) - t0 )) ms here"

# --- issue 21's curves: cost per rule at each size, lvsd beside ipvsadm, one run each.
# Each side writes into a network namespace of its own, created for it: a flushed table is
# not a clean one. `ipvsadm -C` puts every dest in the namespace's dest trash for two to
# three minutes, and the kernel walks that whole list on every dest added
# (ip_vs_trash_get_dest), so writes after a flush cost O(trash) each, for ipvsadm and lvsd
# alike. The rows "after a flush" (sizes up to 5000 services) flush each side's namespace
# and write the same rules again, to show that cost beside the clean one.
per_rule() { awk -v t="$1" -v n="$2" 'BEGIN { printf "%.0f", t * 1000 / n }'; }
curve_row() { # label services rules restore-ms write-ms
  printf '%-14s %8s %8s | %10s %7s | %10s %7s | %5s\n' "$1" "$2" "$3" "$4" "$(per_rule "$4" "$3")" \
    "$5" "$(per_rule "$5" "$3")" "$(ratio "$5" "$4")"
}
lvsd_apply() { # namespace config state-dir output-prefix [--json] [build dir]
  ip netns exec "$1" node "${6:-.}/bin/lvsd.js" apply -c "$2" --state-dir "$3" --timings ${5:-} >"$4.out" 2>"$4.err" \
    || { echo "lvsd apply failed:" >&2; tail -n 20 "$4.err" >&2; exit 1; }
}
# One build's rows at one size: its clean write, then READS no-op applies beside `ipvsadm -Ln`
# (alternating, medians). Sets write_ms and read_row.
lvsd_size() { # label build-dir services
  local label=$1 build=$2 services=$3 dir="$work/c$k-$3" ns="lvsdc-$1$k-$3" i
  fresh_ns "$ns"
  lvsd_apply "$ns" "$dir/lvsd.yaml" "$dir/state-$label" "$dir/apply-$label" "" "$build"
  same_rules "$dir/ipvsadm.rules" "lvsd apply ($label)" "$ns"
  write_ms=$(phase write "$dir/apply-$label.err")
  read_row=
  [ "$services" -lt 1000 ] && return 0
  local lists=() rs=() ps=() both=()
  for i in $(seq "$reads_n"); do
    lists+=("$(time_ms ip netns exec "$ns" ipvsadm -Ln)")
    lvsd_apply "$ns" "$dir/lvsd.yaml" "$dir/state-$label" "$dir/noop-$label" --json "$build"
    grep -q '"writes": 0' "$dir/noop-$label.out" || { echo "the no-op apply wrote to the kernel" >&2; exit 1; }
    rs+=("$(phase read "$dir/noop-$label.err")") ps+=("$(phase plan "$dir/noop-$label.err")")
    both+=("$(awk -v a="${rs[-1]}" -v b="${ps[-1]}" 'BEGIN { print a + b }')")
  done
  local list read plan sum
  list=$(printf '%s\n' "${lists[@]}" | median) read=$(printf '%s\n' "${rs[@]}" | median)
  plan=$(printf '%s\n' "${ps[@]}" | median) sum=$(printf '%s\n' "${both[@]}" | median)
  read_row=$(printf '%-7s %8s %8s | %11s | %8s %8s %8s | %5s' "$label" "$services" "$((services * 10))" "$list" \
    "$read" "$plan" "$sum" "$(ratio "$sum" "$list")")
}
if [ -n "$curve" ]; then
  echo "# load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (the guest's; the host is shared: compare same-run ratios)"
  [ -z "$before" ] || echo "# before: the build in $before"
  namespaces=()
  trap 'rm -rf "$work"; for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null || true; done' EXIT
  printf '%-14s %8s %8s | %10s %7s | %10s %7s | %5s\n' table services rules "restore ms" us/rule "lvsd write" us/rule ratio
  reads=() k=0
  declare -A seen=() # how many times each size came: the builds' order turns with it
  for services in ${curve//,/ }; do # a size may come more than once: each its own namespaces
    k=$((k + 1)) dir="$work/c$k-$services"
    node dist-bench/bench/reconcile-generate.js "$services" 10 "$dir"
    rules=$(wc -l <"$dir/ipvsadm.rules")
    r="lvsdc-r$k-$services"
    fresh_ns "$r"
    restore=$(time_ms ip netns exec "$r" bash -c "ipvsadm-restore < $dir/ipvsadm.rules")
    same_rules "$dir/ipvsadm.rules" ipvsadm-restore "$r"
    # With --before, the two builds take turns going first at each size given twice (the
    # first process of a size can meet a colder cache or a different load than the second).
    order="lvsd"
    if [ -n "$before" ] && [ "$services" -le 5000 ]; then
      seen[$services]=$((${seen[$services]:-0} + 1))
      if [ $((seen[$services] % 2)) = 1 ]; then order="before lvsd"; else order="lvsd before"; fi
    fi
    for build in $order; do
      if [ "$build" = before ]; then lvsd_size before "$before" "$services"; label="clean, before"
      else lvsd_size lvsd . "$services"; label="clean"; fi
      curve_row "$label" "$services" "$rules" "$restore" "$write_ms"
      [ -z "$read_row" ] || reads+=("$read_row")
    done
    echo "#   load average $(cut -d' ' -f1-3 /proc/loadavg) after $services services"
    [ -n "$after_flush" ] && [ "$services" -le 5000 ] || continue
    ip netns exec "$r" ipvsadm -C
    restore=$(time_ms ip netns exec "$r" bash -c "ipvsadm-restore < $dir/ipvsadm.rules")
    l="lvsdc-lvsd$k-$services"
    ip netns exec "$l" ipvsadm -C
    rm -rf "$dir/state-flush"
    lvsd_apply "$l" "$dir/lvsd.yaml" "$dir/state-flush" "$dir/again"
    same_rules "$dir/ipvsadm.rules" "lvsd apply after a flush" "$l"
    curve_row "after a flush" "$services" "$rules" "$restore" "$(phase write "$dir/again.err")"
  done
  echo
  printf '%-7s %8s %8s | %11s | %8s %8s %8s | %5s\n' build services dests "ipvsadm -Ln" read plan "r + p" ratio
  printf '%s\n' "${reads[@]}"
  echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi

node dist-bench/bench/reconcile-generate.js 1000 10 "$work/w"
node dist-bench/bench/reconcile-generate.js 5000 10 "$work/r"

# --- write: 1000 x 10 on an empty table
restore=() apply_write=() apply_whole=() apply_load=()
# Each side writes into a namespace of its own (a flushed table is not a clean one: see the
# curves above); they are deleted at the end, not between runs, so their teardown is not timed.
namespaces=()
trap 'rm -rf "$work"; for n in "${namespaces[@]}"; do ip netns del "$n" || true; done' EXIT
for i in $(seq "$runs"); do
  fresh_ns "lvsdw-r$i"
  fresh_ns "lvsdw-l$i"
  restore+=("$(time_ms ip netns exec "lvsdw-r$i" bash -c "ipvsadm-restore < $work/w/ipvsadm.rules")")
  same_rules "$work/w/ipvsadm.rules" ipvsadm-restore "lvsdw-r$i"
  rm -rf "$work/state-w"
  start=$(now_ms)
  ip netns exec "lvsdw-l$i" node bin/lvsd.js apply -c "$work/w/lvsd.yaml" --state-dir "$work/state-w" --timings \
    >"$work/apply.out" 2>"$work/apply.err" || { echo "lvsd apply failed:" >&2; tail -n 20 "$work/apply.err" >&2; exit 1; }
  apply_whole+=("$(( $(now_ms) - start ))")
  same_rules "$work/w/ipvsadm.rules" "lvsd apply" "lvsdw-l$i"
  apply_write+=("$(phase write "$work/apply.err")")
  apply_load+=("$(config_phases "$work/apply.err")")
done
echo "# lvsd apply --timings (last run):"; sed 's/^/#   /' "$work/apply.err"
m_restore=$(printf '%s\n' "${restore[@]}" | median)
m_write=$(printf '%s\n' "${apply_write[@]}" | median)
m_apply=$(printf '%s\n' "${apply_whole[@]}" | median)
m_load=$(printf '%s\n' "${apply_load[@]}" | median)
echo
echo "## write: 1000 services x 10 dests on an empty table"
row "ipvsadm-restore (whole process)" "$m_restore"
row "lvsd apply: write phase" "$m_write"
r=$(ratio "$m_write" "$m_restore")
echo "write phase / ipvsadm-restore: ${r}x (goal <= 0.3x: $(verdict "$r" 0.3))"
row "lvsd apply (whole process, for the record)" "$m_apply"
row "  of which load + validate phases (read, parse, validate the YAML)" "$m_load"

# --- read: 50,000 dests, a no-op reconcile (the table restored into a namespace of its own)
fresh_ns lvsdw-read
ip netns exec lvsdw-read bash -c "ipvsadm-restore < $work/r/ipvsadm.rules"
same_rules "$work/r/ipvsadm.rules" "ipvsadm-restore (50k)" lvsdw-read
list=() noop_read=() noop_plan=() noop_whole=() noop_load=()
for i in $(seq "$runs"); do
  list+=("$(time_ms ip netns exec lvsdw-read ipvsadm -Ln)")
  start=$(now_ms)
  ip netns exec lvsdw-read node bin/lvsd.js apply -c "$work/r/lvsd.yaml" --state-dir "$work/state-r" --json --timings >"$work/noop.out" 2>"$work/noop.err" \
    || { echo "lvsd apply (no-op) failed:" >&2; tail -n 20 "$work/noop.err" >&2; exit 1; }
  noop_whole+=("$(( $(now_ms) - start ))")
  grep -q '"writes": 0' "$work/noop.out" || { echo "the no-op apply wrote to the kernel:" >&2; head -n 30 "$work/noop.out" >&2; exit 1; }
  noop_read+=("$(phase read "$work/noop.err")")
  noop_plan+=("$(phase plan "$work/noop.err")")
  noop_load+=("$(config_phases "$work/noop.err")")
done
echo "# lvsd apply --json --timings over 50k dests (last run), writes: 0:"; sed 's/^/#   /' "$work/noop.err"
m_list=$(printf '%s\n' "${list[@]}" | median)
m_read=$(printf '%s\n' "${noop_read[@]}" | median)
m_plan=$(printf '%s\n' "${noop_plan[@]}" | median)
m_noop=$(printf '%s\n' "${noop_whole[@]}" | median)
m_nload=$(printf '%s\n' "${noop_load[@]}" | median)
m_diff=$(awk -v a="$m_read" -v b="$m_plan" 'BEGIN { print a + b }')
echo
echo "## read: 5000 services x 10 dests = 50,000 dests, no-op reconcile (0 writes)"
row "ipvsadm -Ln (whole process)" "$m_list"
row "lvsd apply: read phase" "$m_read"
row "lvsd apply: read + plan (diff) phases" "$m_diff"
r=$(ratio "$m_read" "$m_list")
echo "read phase / ipvsadm -Ln: ${r}x (goal <= 1x: $(verdict "$r" 1))"
r=$(ratio "$m_diff" "$m_list")
echo "read + diff phases / ipvsadm -Ln: ${r}x (no goal of its own: printed for issue 5)"
row "lvsd apply no-op (whole process, for the record)" "$m_noop"
row "  of which load + validate phases" "$m_nload"

echo
node dist-bench/bench/ipvs-kernel.js "$runs"
