#!/usr/bin/env bash
# The read's syscalls, lvsd beside ipvsadm on the same table (issue 21): for each size,
# SERVICES x 10 reals restored into a fresh namespace, then `strace -f -c` of `ipvsadm -Ln`
# and of a fresh `lvsd plan` (a no-op: the config is the table), counting the socket and
# event-loop calls only (a seccomp filter stops the process at those alone, so Node's start
# is not slowed by thousands of stops), and the syscalls of one service's dest dump from a
# second, full trace of each. Runs in the lab (strace comes
# from the host root); from the host:
#
#   npm run build && npm run bench:build
#   bash test/lab/run.sh --name strace --timeout 1800 bash bench/lab-read-strace.sh [SERVICES,...] [BUILD...]
#
# BUILD: the builds to trace (directories with bin/, dist/, package.json, e.g. copies under
# lab-out/ that do not change while the lab runs), labelled by their path; default: this
# checkout. Default size: 1000.
# STRACE_FULL=0 skips the full traces (slow: strace stops the process at every syscall).
# Counts, not times: strace stops the process at every syscall, so its times mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${1:-1000}
shift || true
builds=("${@:-.}")
command -v strace >/dev/null || { echo "lab-read-strace: strace is not installed on the host" >&2; exit 2; }
work=$(mktemp -d /tmp/lvsd-strace.XXXXXX)
namespaces=()
trap 'rm -rf "$work"; for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null || true; done' EXIT

# The syscalls that matter, from strace -c's table: calls and errors of each.
counted=%network,epoll_wait,epoll_pwait,poll,ppoll
summary() { # file
  awk '$NF ~ /^(sendmsg|sendto|recvmsg|recvfrom|socket|bind|getsockname|setsockopt|epoll_wait|epoll_pwait|poll|ppoll|total)$/ {
         name = $NF; calls = ($4 ~ /^[0-9]+$/) ? $4 : $3; errors = ($5 ~ /^[0-9]+$/ && NF == 6) ? $5 : 0
         printf "    %-12s %8s calls %6s errors\n", name, calls, errors }' "$1"
}
# One dest dump in the full trace: from the 101st GET_DEST sendmsg/sendto to the next one.
one_dump() { # file
  awk '/sendmsg\(|sendto\(/ { n++ } n == 101 && !/rt_sigprocmask|clock_gettime/ { print "    " substr($0, 1, 150) } n > 101 { exit }' "$1"
}

for services in ${sizes//,/ }; do
  dir="$work/t$services" ns="lvsdst-$services"
  node dist-bench/bench/reconcile-generate.js "$services" 10 "$dir" >/dev/null
  ip netns add "$ns"
  namespaces+=("$ns")
  ip -n "$ns" link set lo up
  ip netns exec "$ns" bash -c "ipvsadm-restore < $dir/ipvsadm.rules"
  echo "## $services services x 10 = $((services * 10)) dests ($((services + 1)) dumps)"
  ip netns exec "$ns" strace -f -c --seccomp-bpf -e trace=$counted -o "$work/ipvsadm.c" ipvsadm -Ln >/dev/null
  echo "ipvsadm -Ln:"
  summary "$work/ipvsadm.c"
  if [ "${STRACE_FULL:-1}" = 1 ]; then
    ip netns exec "$ns" strace -f -o "$work/ipvsadm.t" ipvsadm -Ln >/dev/null
    echo "  one dest dump:"
    one_dump "$work/ipvsadm.t"
  fi
  for build in "${builds[@]}"; do
    rm -rf "$dir/state"
    ip netns exec "$ns" strace -f -c --seccomp-bpf -e trace=$counted -o "$work/lvsd.c" node "$build/bin/lvsd.js" plan -c "$dir/lvsd.yaml" \
      --state-dir "$dir/state" >/dev/null 2>"$work/lvsd.err" || {
      [ $? = 2 ] && { echo "lvsd plan found changes: not a no-op" >&2; exit 1; }
      tail "$work/lvsd.err" >&2; exit 1; }
    echo "lvsd plan ($build):"
    summary "$work/lvsd.c"
    [ "${STRACE_FULL:-1}" = 1 ] || continue
    ip netns exec "$ns" strace -f -o "$work/lvsd.t" node "$build/bin/lvsd.js" plan -c "$dir/lvsd.yaml" \
      --state-dir "$dir/state" >/dev/null 2>&1 || true
    echo "  one dest dump:"
    one_dump "$work/lvsd.t"
  done
done
