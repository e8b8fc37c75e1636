#!/usr/bin/env bash
# `npm test`: type check, unit tests on the host, then the kernel suite inside the kernel lab.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json --noEmit
npx vitest run
npm run build --silent
bash test/lab/kernel-suite.sh
