#!/usr/bin/env bash
# The lab's own tests: three boots, each checking what the lab promises.
#   1. a job's output and exit status come back (exit 7 -> 7);
#   2. a module that fails to load stops the run: status 125, the module named, the console log shown;
#   3. a job that hangs is stopped at the timeout: status 124, a clear message, the console log shown.
# Prints one PASS/FAIL line per check and `lab selftest: N passed, N failed`; exits 1 on a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

passed=0 failed=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# check NAME EXPECTED_STATUS PATTERN... -- RUN_ARGS...: runs test/lab/run.sh RUN_ARGS, and
# wants that status and every pattern (grep -E) in its stdout+stderr.
check() {
  local name=$1 want=$2
  shift 2
  local patterns=()
  while [ "$1" != -- ]; do patterns+=("$1"); shift; done
  shift
  local status=0
  bash test/lab/run.sh "$@" >"$out/$name.log" 2>&1 || status=$?
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

check exit-status 7 '^lab-ok on [0-9]' 'job exited with status 7' -- \
  --name selftest-status bash -c 'echo "lab-ok on $(uname -r)"; exit 7'
check module-failure 125 'module lvsd_no_such_module failed to load' 'last lines of the console log' 'lab-init .*FAILED' -- \
  --name selftest-module --load lvsd_no_such_module true
check hang 124 'did not finish within 60 s' 'last lines of the console log' -- \
  --name selftest-hang --timeout 60 sleep 3600

echo "lab selftest: $passed passed, $failed failed"
[ "$failed" = 0 ]
