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

status=0
lab_run_job "$name" "$timeout" "$@" || status=$?
exit "$status"
