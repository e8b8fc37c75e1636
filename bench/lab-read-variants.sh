#!/usr/bin/env bash
# Candidates for a fresh process's no-op read + plan (issue 21), side by side in one lab run
# over one table of SERVICES x 10 reals, in rounds (every variant once a round, in turn, with
# `ipvsadm -Ln` of the same table), medians of ROUNDS:
#  - readTable() alone (dist-bench/bench/kernel-child.js read-once) into receive buffers of
#    each size in BUFFERS (the kernel sizes dump datagrams after the buffer read into);
#  - `lvsd apply --timings` (a no-op) under each set of V8 flags in FLAGS ("-" for none;
#    sets separated by "|", flags within a set by spaces): its read and plan phases.
#
#   bash test/lab/run.sh --name variants bash bench/lab-read-variants.sh [SERVICES] [ROUNDS] \
#     [BUFFERS] [FLAGS]
# e.g. bench/lab-read-variants.sh 1000 3 65536,7872 '-|--always-sparkplug'
set -euo pipefail
cd "$(dirname "$0")/.."
services=${1:-1000} rounds=${2:-3} buffers=${3:-65536,7872} flags=${4:--}
work=$(mktemp -d /tmp/lvsd-variants.XXXXXX)
ns=lvsd-variants
trap 'rm -rf "$work"; ip netns del "$ns" 2>/dev/null || true' EXIT
time_ms() { local TIMEFORMAT=%3R t; t=$( { time "$@" >/dev/null 2>/dev/null; } 2>&1 ); awk -v s="$t" 'BEGIN { printf "%d", s * 1000 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
phase() { awk -v p="$1" '$1 == p { print $(NF - 1) }' "$2"; }
echo "# bench/lab-read-variants.sh $services x 10, $rounds rounds; $(uname -r), node $(node --version)"
echo "# load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (the guest's)"
node dist-bench/bench/reconcile-generate.js "$services" 10 "$work/t"
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" bash -c "ipvsadm-restore < $work/t/ipvsadm.rules"
# lvsd's state: it owns the services (a no-op apply then plans nothing).
ip netns exec "$ns" node bin/lvsd.js apply -c "$work/t/lvsd.yaml" --state-dir "$work/state" >/dev/null
IFS='|' read -r -a flag_sets <<<"$flags"
declare -A out=()
for round in $(seq "$rounds"); do
  out[list]+="$(time_ms ip netns exec "$ns" ipvsadm -Ln) "
  for bytes in ${buffers//,/ }; do
    line=$(ip netns exec "$ns" node dist-bench/bench/kernel-child.js read-once "$services" 10 "$bytes")
    out[buf$bytes]+="$(node -e 'const r = JSON.parse(process.argv[1]); console.log(Math.round(r.wall))' "$line") "
    out[sys$bytes]+="$(node -e 'const r = JSON.parse(process.argv[1]); console.log(Math.round(r.system))' "$line") "
    out[dg$bytes]=$(node -e 'console.log(JSON.parse(process.argv[1]).datagrams)' "$line")
  done
  for i in "${!flag_sets[@]}"; do
    set_flags=${flag_sets[$i]}
    [ "$set_flags" = - ] && set_flags=
    # shellcheck disable=SC2086 # the flags are words
    ip netns exec "$ns" node $set_flags bin/lvsd.js apply -c "$work/t/lvsd.yaml" --state-dir "$work/state" \
      --timings --json >"$work/noop.out" 2>"$work/noop.err"
    grep -q '"writes": 0' "$work/noop.out" || { echo "the no-op apply wrote" >&2; exit 1; }
    out[read$i]+="$(phase read "$work/noop.err") " out[plan$i]+="$(phase plan "$work/noop.err") "
  done
  echo "#   round $round done, load average $(cut -d' ' -f1-3 /proc/loadavg)"
done
m() { tr ' ' '\n' <<<"${out[$1]}" | grep . | median; }
echo "ipvsadm -Ln: $(m list) ms (each: ${out[list]})"
for bytes in ${buffers//,/ }; do
  echo "readTable into $bytes-byte buffer: wall $(m "buf$bytes") ms, system $(m "sys$bytes") ms," \
    "${out[dg$bytes]} datagrams (each: ${out[buf$bytes]})"
done
for i in "${!flag_sets[@]}"; do
  echo "lvsd apply no-op, flags '${flag_sets[$i]}': read $(m "read$i") ms, plan $(m "plan$i") ms" \
    "(reads: ${out[read$i]}; plans: ${out[plan$i]})"
done
