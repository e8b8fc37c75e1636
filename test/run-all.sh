#!/usr/bin/env bash
# `npm test`: host packages, type check, format and lint, build, unit tests on the host (the
# npm and Debian packages are built and installed into scratch places there), namespace tests
# on the host (one file at a time), then the kernel lab's self-tests and the kernel suite
# inside the lab (test/lab/; docs/lab.md). Fails if any step fails, or if the kernel suite
# fails or cannot start. The closing line is the kernel suite's `kernel: N passed, N failed`.
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

# Debian packages some host tests need (systemd-analyze, lintian, promtool, ...): installed
# when missing, nothing to do once they are.
step "host packages" bash test/host-packages.sh
step "type check" npx tsc -p tsconfig.json --noEmit
# The formatter and the linter: Biome, lines within 120 columns, imports along the layers.
step "format and lint" npm run lint --silent
# Before the unit tests: some run the built CLI (bin/lvsd.js -> dist/).
step "build" npm run build --silent
step "unit tests (host)" npx vitest run
step "namespace tests (host: raw sockets, VRRP against keepalived)" npx vitest run --config vitest.netns.config.ts
step "kernel lab self-tests" bash test/lab/selftest.sh
echo
echo "=== npm test: kernel suite (lab)"
# Last, so that its closing line is the run's.
exec bash test/lab/kernel-suite.sh
