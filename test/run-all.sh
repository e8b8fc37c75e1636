#!/usr/bin/env bash
# `npm test`: the host tests' packages (test/host-packages.sh), type check, build, unit tests
# on the host, then the kernel lab's self-tests and the kernel suite inside the lab (test/lab/; docs/lab.md). Fails if any step fails, or if
# the kernel suite fails or cannot start. The closing line is the kernel suite's
# `kernel: N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/.."

step() {
  local name=$1 started=$SECONDS
  shift
  echo
  echo "=== npm test: $name"
  "$@"
  echo "=== npm test: $name done in $((SECONDS - started)) s"
}

step "host test packages" bash test/host-packages.sh
step "type check" npx tsc -p tsconfig.json --noEmit
# Before the unit tests: some run the built CLI (bin/lvsd.js -> dist/).
step "build" npm run build --silent
step "unit tests (host)" npx vitest run
step "kernel lab self-tests" bash test/lab/selftest.sh
echo
echo "=== npm test: kernel suite (lab)"
# Last, so that its closing line is the run's.
exec bash test/lab/kernel-suite.sh
