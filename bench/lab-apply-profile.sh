#!/usr/bin/env bash
# Where a fresh `lvsd apply`'s time goes in the lab (issue 21): CPU profiles of
#  - a write of SMALL services x 10 reals into a fresh network namespace (default 100: 1.1k rules),
#  - a no-op apply (read + plan) of BIG services x 10 reals (default 1000: 10,000 dests),
# each in a fresh process, with `ipvsadm-restore` / `ipvsadm -Ln` of the same rules timed beside.
# The profiles (V8 .cpuprofile) land in OUT; summarize them with
#   node dist-bench/bench/cpuprofile-top.js OUT/*.cpuprofile
#
#   bash test/lab/run.sh --name prof bash bench/lab-apply-profile.sh lab-out/prof [SMALL] [BIG]
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath "$1") small=${2:-100} big=${3:-1000}
mkdir -p "$out"
work=$(mktemp -d /tmp/lvsd-prof.XXXXXX)
namespaces=()
trap 'rm -rf "$work"; for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null || true; done' EXIT
fresh_ns() { ip netns add "$1"; namespaces+=("$1"); ip -n "$1" link set lo up; }
time_ms() { local TIMEFORMAT=%3R t; t=$( { time "$@" >/dev/null 2>/dev/null; } 2>&1 ); awk -v s="$t" 'BEGIN { printf "%d", s * 1000 }'; }
echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg) (the guest's); node $(node --version)"
echo "# node -e 0: $(time_ms node -e 0) ms"
node dist-bench/bench/reconcile-generate.js "$small" 10 "$work/s"
node dist-bench/bench/reconcile-generate.js "$big" 10 "$work/b"
prof() { # namespace name config
  ip netns exec "$1" node --cpu-prof --cpu-prof-dir="$out" --cpu-prof-name="$2.cpuprofile" \
    bin/lvsd.js apply -c "$3" --state-dir "$work/state-$2" --timings --json >"$out/$2.out" 2>"$out/$2.err"
  echo "## $2 (whole process $(( $(date +%s%3N) - t0 )) ms):"; sed 's/^/#   /' "$out/$2.err"
}
fresh_ns prof-r; fresh_ns prof-w
echo "ipvsadm-restore of $((small * 11)) rules: $(time_ms ip netns exec prof-r bash -c "ipvsadm-restore < $work/s/ipvsadm.rules") ms"
t0=$(date +%s%3N); prof prof-w "write-$small" "$work/s/lvsd.yaml"
fresh_ns prof-b
ip netns exec prof-b node bin/lvsd.js apply -c "$work/b/lvsd.yaml" --state-dir "$work/state-noop-$big" >/dev/null
echo "ipvsadm -Ln of $((big * 10)) dests: $(time_ms ip netns exec prof-b ipvsadm -Ln) ms"
t0=$(date +%s%3N); prof prof-b "noop-$big" "$work/b/lvsd.yaml"
echo "ipvsadm -Ln of $((big * 10)) dests: $(time_ms ip netns exec prof-b ipvsadm -Ln) ms"
