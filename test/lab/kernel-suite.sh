#!/usr/bin/env bash
# The kernel suite: every test/kernel/**/*.kernel.test.ts (or the files given), as root, on a
# kernel with IPVS, each file in fresh namespaces (test/lab/suite-inner.sh).
#
#   bash test/lab/kernel-suite.sh [FILE...]
#
# Boots the kernel lab once for the whole suite. On a host whose kernel has IPVS, run as root,
# the suite runs directly on the host instead (LVSD_LAB_DIRECT=1 forces that, =0 forces the
# lab). Exits non-zero if any file fails or the suite cannot start. Results, vitest's JSON
# reports and the console log: lab-out/kernel-suite/. Needs a build (npm run build) for the
# tests that run bin/lvsd.js.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lab/lib.sh

host_has_ipvs() {
  [ "$(id -u)" = 0 ] || return 1
  [ -e /proc/net/ip_vs ] || modprobe -q ip_vs 2>/dev/null || return 1
  [ -e /proc/net/ip_vs ] && command -v ipvsadm >/dev/null && command -v unshare >/dev/null
}

case "${LVSD_LAB_DIRECT:-auto}" in
  1) direct=1 ;;
  0) direct=0 ;;
  *) if host_has_ipvs; then direct=1; else direct=0; fi ;;
esac

started=$(lab_now_ms)
status=0
if [ "$direct" = 1 ]; then
  lab_log "this kernel has IPVS: running the kernel suite on the host, in fresh namespaces"
  lab_claim_results kernel-suite
  rm -rf "$LAB_RESULTS"
  mkdir -p "$LAB_RESULTS"
  LVSD_LAB_RESULTS=$LAB_RESULTS bash test/lab/suite-inner.sh "$@" || status=$?
  exit "$status"
fi

lab_run_job kernel-suite "${LVSD_LAB_TIMEOUT:-3000}" bash test/lab/suite-inner.sh "$@" || status=$?
elapsed=$(( $(lab_now_ms) - started ))
if [ ! -s "$LAB_RESULTS/summary.txt" ]; then
  echo "kernel suite: did not run to its end (status $status); console log: $LAB_RESULTS/console.log" >&2
  if [ -s "$LAB_RESULTS/progress.txt" ]; then
    echo "kernel suite: files finished before it stopped:" >&2
    sed 's/^/  /' "$LAB_RESULTS/progress.txt" >&2
  fi
  echo "kernel: 0 passed, 1 failed"
  exit $(( status == 0 ? 1 : status ))
fi
lab_log "kernel suite: boot ${LAB_BOOT_SECONDS} s, suite and boot $(( elapsed / 1000 )) s in all; console log: $LAB_RESULTS/console.log"
# The kernel and the closing line again, after the lab's own messages.
grep '^kernel package:' "$LAB_RESULTS/summary.txt" || echo "$LAB_KERNEL_LINE"
tail -n 1 "$LAB_RESULTS/summary.txt"
exit "$status"
