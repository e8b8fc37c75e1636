#!/usr/bin/env bash
# The lab's own tests: three boots, each checking what the lab promises, and a pin check.
#   1. a job's output and exit status come back (exit 7 -> 7), and the run names the kernel
#      it booted (package, version, pinned or not, `uname -r`);
#   2. a module that fails to load stops the run: status 125, the module named, the console log shown;
#   3. a job that hangs is stopped at the timeout: status 124, a clear message, the console log shown;
#   4. a kernel pin the archive does not have, with LVSD_LAB_KERNEL=strict, stops the run before
#      any boot: status 125, the warning and the pin named (no download: it needs only apt's lists).
# Prints one PASS/FAIL line per check and `lab selftest: N passed, N failed`; exits 1 on a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

passed=0 failed=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# check NAME EXPECTED_STATUS PATTERN... -- COMMAND...: runs COMMAND, and wants that status
# and every pattern (grep -E) in its stdout+stderr.
check() {
  local name=$1 want=$2
  shift 2
  local patterns=()
  while [ "$1" != -- ]; do patterns+=("$1"); shift; done
  shift
  local status=0
  "$@" >"$out/$name.log" 2>&1 || status=$?
  local problems=()
  [ "$status" = "$want" ] || problems+=("exit status $status, wanted $want")
  local p
  for p in "${patterns[@]}"; do grep -Eq -- "$p" "$out/$name.log" || problems+=("no line matches /$p/"); done
  if [ ${#problems[@]} = 0 ]; then
    echo "PASS  $name"
    passed=$((passed + 1))
  else
    echo "FAIL  $name: ${problems[*]}"
    sed 's/^/  | /' "$out/$name.log"
    failed=$((failed + 1))
  fi
}

# The run names the kernel it booted: its package, version, whether it is the pin, and a
# `uname -r` in the VM that matches the package.
check exit-status 7 '^lab-ok on [0-9]' 'job exited with status 7' \
  'kernel package: linux-image-([^ ]+) [^ ]+ \((pinned (in|by)|NOT the pinned) [^)]+\); uname -r: \1$' -- \
  bash test/lab/run.sh --name selftest-status bash -c 'echo "lab-ok on $(uname -r)"; exit 7'
check module-failure 125 'module lvsd_no_such_module failed to load' 'last lines of the console log' 'lab-init .*FAILED' -- \
  bash test/lab/run.sh --name selftest-module --load lvsd_no_such_module true
check hang 124 'did not finish within 60 s' 'last lines of the console log' -- \
  bash test/lab/run.sh --name selftest-hang --timeout 60 sleep 3600
check kernel-pin-strict 125 'WARNING: the kernel linux-image-0.0.0-0-lvsd-selftest-amd64 0-0 \(pinned by LVSD_LAB_KERNEL_PIN\)' \
  'LVSD_LAB_KERNEL=strict: not booting linux-image-' -- \
  env LVSD_LAB_KERNEL=strict LVSD_LAB_KERNEL_PIN=linux-image-0.0.0-0-lvsd-selftest-amd64=0-0 \
  bash test/lab/run.sh --name selftest-pin true

echo "lab selftest: $passed passed, $failed failed"
[ "$failed" = 0 ]
