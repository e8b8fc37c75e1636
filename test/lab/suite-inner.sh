#!/usr/bin/env bash
# The kernel suite's runner, on a kernel with IPVS as root: inside the lab (kernel-suite.sh
# boots it there), or directly on a host that has IPVS.
#
#   bash test/lab/suite-inner.sh [FILE...]    (default: every test/kernel/**/*.kernel.test.ts)
#
# Each file runs alone, in order, in fresh network, mount and PID namespaces: IPVS tables are
# per network namespace and tests flush them; the namespaces a test makes with `ip netns add`
# vanish with its mount namespace, and every process it leaves behind dies with its PID 1.
# Prints vitest's output, one PASS/FAIL line per file, and a closing `N passed, N failed`
# line counting tests (a file that fails without reporting tests counts as one failure).
# The summary names the kernel: the lab's package and version ($LVSD_LAB_KERNEL_PACKAGE, set
# by the lab) and `uname -r`. Writes summary.txt and vitest's JSON reports to $LVSD_LAB_RESULTS (default lab-out/kernel).
set -euo pipefail
cd "$(dirname "$0")/../.."

results=${LVSD_LAB_RESULTS:-$PWD/lab-out/kernel-suite}
mkdir -p "$results/reports"
rm -f "$results/progress.txt"
file_timeout=${LVSD_LAB_FILE_TIMEOUT:-600}
export LVSD_LAB=1
now_ms() { date +%s%3N; }
# One top-level count from vitest's JSON report (0 when absent).
count() { local n; n=$(grep -o "\"$1\":[0-9]*" "$2" | head -n1 | cut -d: -f2) || true; echo "${n:-0}"; }
seconds() { printf '%d.%d' $(( $1 / 1000 )) $(( $1 % 1000 / 100 )); }

if [ $# -gt 0 ]; then
  files=("$@")
else
  files=()
  while IFS= read -r f; do files+=("$f"); done <<<"$(find test/kernel -name '*.kernel.test.ts' | LC_ALL=C sort)"
  [ -n "${files[0]}" ] || files=()
fi
[ ${#files[@]} -gt 0 ] || { echo "kernel suite: no test files found"; echo "0 passed, 1 failed"; exit 1; }
for f in "${files[@]}"; do
  [ -f "$f" ] || { echo "kernel suite: no such test file: $f"; echo "0 passed, 1 failed"; exit 1; }
done

t0=$(now_ms)
node -e 0
echo "kernel suite: node $(node --version) starts in $(( $(now_ms) - t0 )) ms on $(uname -r)"

suite_started=$(now_ms)
passed=0 failed=0 skipped=0 files_failed=0
summary=()
for f in "${files[@]}"; do
  slug=$(echo "$f" | tr '/' '_')
  report=$results/reports/$slug.json
  rm -f "$report"
  echo
  echo "=== $f"
  started=$(now_ms)
  # A file that needs longer says so in a line `// lab-file-timeout: SECONDS`.
  own_timeout=$(sed -n 's|^// lab-file-timeout: \([0-9][0-9]*\)$|\1|p' "$f" | head -n1)
  this_timeout=${own_timeout:-$file_timeout}
  [ "$this_timeout" -ge "$file_timeout" ] || this_timeout=$file_timeout
  # --configLoader runner: vite's default loader writes a bundled config into node_modules,
  # which is read-only in the lab.
  timeout -k 10 "$this_timeout" unshare --net --mount --propagation private --pid --fork --mount-proc \
    bash -c 'ip link set lo up && exec node node_modules/vitest/vitest.mjs run --config vitest.kernel.config.ts \
      --configLoader runner --reporter=default --reporter=json --outputFile.json="$1" "$2"' _ "$report" "$f" \
    && status=0 || status=$?
  took=$(seconds $(( $(now_ms) - started )))
  p=0 x=0 s=0
  if [ -s "$report" ]; then
    p=$(count numPassedTests "$report") x=$(count numFailedTests "$report")
    s=$(( $(count numPendingTests "$report") + $(count numTodoTests "$report") ))
  fi
  why=""
  if [ "$status" = 124 ] || [ "$status" = 137 ]; then why=" (did not finish within ${this_timeout} s)"; fi
  if [ "$status" != 0 ] && [ "$x" = 0 ]; then x=1; fi
  if [ "$status" = 0 ] && [ "$p" = 0 ] && [ "$x" = 0 ]; then
    # A file that ran no test proves nothing about the kernel.
    x=1 why=" (no test ran)" status=1
  fi
  passed=$(( passed + p )) failed=$(( failed + x )) skipped=$(( skipped + s ))
  if [ "$status" = 0 ]; then
    skip_text=""
    [ "$s" != 0 ] && skip_text=", $s skipped"
    summary+=("PASS  $f  ($p passed$skip_text, ${took} s)")
  else
    files_failed=$(( files_failed + 1 ))
    summary+=("FAIL  $f  ($p passed, $x failed, ${took} s)$why")
  fi
  # Kept as it goes: if the whole run is stopped, kernel-suite.sh shows how far it got.
  printf '%s\n' "${summary[-1]}" >>"$results/progress.txt"
done
took=$(seconds $(( $(now_ms) - suite_started )))

{
  echo
  echo "kernel suite: ${#files[@]} files, $(( ${#files[@]} - files_failed )) passed, $files_failed failed, ${took} s on $(uname -r)"
  echo "kernel package: ${LVSD_LAB_KERNEL_PACKAGE:-none (the host kernel, not the lab)}; uname -r: $(uname -r)"
  printf '  %s\n' "${summary[@]}"
  if [ "$skipped" != 0 ]; then echo "kernel: $passed passed, $failed failed, $skipped skipped"; else echo "kernel: $passed passed, $failed failed"; fi
} | tee "$results/summary.txt"
[ "$files_failed" = 0 ]
