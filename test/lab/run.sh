#!/usr/bin/env bash
# Runs one command as root inside the kernel lab and returns its output and exit status.
#
#   bash test/lab/run.sh [--name NAME] [--timeout SECONDS] [--load MOD,...] COMMAND [ARGS...]
#
# The command runs from the current directory (the host root is the VM's root, read-only),
# with LVSD_LAB=1, HOME=/tmp/lab-home, tmpfs on /tmp and /run. Its output streams here as it
# runs. Everything of the boot is kept in lab-out/NAME/ (default NAME: run):
#   console.log  the VM's serial console (kernel and lab-init messages)
#   output.log   the command's stdout and stderr
#   dmesg.log    the kernel log at the end
#   status       the command's exit status
# The folder is writable from inside the VM at the same path.
#
# Exit status: the command's; 124 if it did not finish within the timeout (default 900 s,
# or LVSD_LAB_TIMEOUT); 125 if the lab itself failed (a module that does not load, a VM that
# stops without a status), with the reason and the end of the console log on stderr.
# --load loads extra modules at boot (the lab's own tests use it).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

name=run
timeout=${LVSD_LAB_TIMEOUT:-900}
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --load) LAB_APPEND="${LAB_APPEND:-} lab.load=$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) lab_die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || lab_die "no command given (usage: bash test/lab/run.sh [--name NAME] [--timeout S] COMMAND...)"
case "$name" in */*|.*|'') lab_die "--name must be a plain folder name" ;; esac

lab_prepare
results=$LAB_OUT/$name
lab_write_job "$results" job "$@"
lab_qemu_args "$results"

started=$(lab_now_ms)
qemu_pid=
tail_pid=
cleanup() {
  [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null || true
  [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null || true
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

lab_log "booting $LAB_KPKG ($LAB_KVERSION) with qemu TCG; console: $results/console.log"
timeout "$timeout" "${LAB_QEMU[@]}" -serial "file:$results/console.log" </dev/null >"$results/qemu.log" 2>&1 &
qemu_pid=$!
# The command's output, live: tail stops by itself once qemu is gone.
tail -n +1 -F --pid="$qemu_pid" "$results/output.log" 2>/dev/null &
tail_pid=$!
qemu_status=0
wait "$qemu_pid" || qemu_status=$?
qemu_pid=
wait "$tail_pid" 2>/dev/null || true
tail_pid=
elapsed=$(( $(lab_now_ms) - started ))

if [ "$qemu_status" = 124 ]; then
  lab_report_failure "$results" "the job did not finish within ${timeout} s (--timeout / LVSD_LAB_TIMEOUT); the VM was stopped"
  exit 124
fi
if [ -s "$results/lab-error" ] || [ ! -f "$results/status" ]; then
  if [ "$qemu_status" != 0 ]; then
    echo "lab: qemu exited with status $qemu_status:" >&2
    sed 's/^/  | /' "$results/qemu.log" >&2
  fi
  lab_report_failure "$results" "the lab stopped before the job reported a status"
  exit 125
fi
status=$(cat "$results/status")
boot=$(sed -n 's/^lab-init \[\([0-9.]*\)s\]: host root mounted.*/\1/p' "$results/console.log" | head -n1)
lab_log "job exited with status $status; boot took ${boot:-?} s (guest clock), whole run $(( elapsed / 1000 )).$(( elapsed % 1000 / 100 )) s"
exit "$status"
