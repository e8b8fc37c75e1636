#!/usr/bin/env bash
# `npm run demo`: lvsd at work on a kernel with IPVS, for a newcomer on any Linux machine.
#
# Boots the kernel lab (on a host without IPVS, like most laptops and CI machines), builds
# the LVS-NAT lab in network namespaces, and runs there, as root:
#   lvsd plan -c examples/nat-web.yaml; lvsd apply -c examples/nat-web.yaml; lvsd ls
# then sends 4 requests from the client namespace and prints which real answered each.
# On a host whose kernel has IPVS, run as root, it runs directly (in fresh namespaces: the
# host's own IPVS table is not touched); LVSD_LAB_DIRECT=0 forces the lab.
# LVSD_DEMO_CONFIG picks another config. Output, console log and summary.txt (the outcome and
# the kernel package it booted): lab-out/demo/.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lab/lib.sh

[ -f dist/cli/main.js ] || { lab_log "building lvsd (npm run build)"; npm run build --silent; }
# Node 20 runs no TypeScript: the demo and its topology helpers are compiled first.
node node_modules/typescript/bin/tsc -p test/lab/tsconfig.demo.json || lab_die "cannot compile test/lab/demo.ts"

demo=(unshare --net --mount --propagation private --pid --fork --mount-proc node lab-out/js/demo.js)
if [ "${LVSD_LAB_DIRECT:-auto}" != 0 ] && [ "$(id -u)" = 0 ] && { [ -e /proc/net/ip_vs ] || modprobe -q ip_vs 2>/dev/null; } && [ -e /proc/net/ip_vs ]; then
  lab_log "this kernel has IPVS: running the demo here, in fresh namespaces"
  exec "${demo[@]}"
fi
status=0
lab_run_job demo "${LVSD_LAB_TIMEOUT:-900}" "${demo[@]}" || status=$?
# The outcome and the kernel it ran on, also kept in lab-out/demo/summary.txt.
{
  echo
  if [ "$status" = 0 ]; then echo "demo: passed"; else echo "demo: failed (exit status $status)"; fi
  echo "$LAB_KERNEL_LINE"
} | tee "$LAB_RESULTS/summary.txt"
exit "$status"
