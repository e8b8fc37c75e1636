#!/usr/bin/env bash
# An interactive root shell inside the kernel lab (bash, in a chroot of the host root, in the
# directory you called it from; LVSD_LAB=1 and everything the kernel suite has).
#
#   bash test/lab/shell.sh
#
# The repository is read-only there; /tmp and /run are tmpfs, lab-out/shell/ is writable.
# Leave with `exit` (or Ctrl-A x, which stops the VM at once). Console log: lab-out/shell/console.log.
# Try: ipvsadm -Ln; unshare -n bash; npx vitest run --config vitest.kernel.config.ts --configLoader runner FILE
set -euo pipefail
source "$(dirname "$0")/lib.sh"

[ -t 0 ] || lab_log "standard input is not a terminal: the shell reads commands from it"
lab_prepare
lab_claim_results shell
lab_write_job "$LAB_RESULTS" shell
if [ -t 0 ]; then
  read -r rows cols < <(stty size)
  printf 'LAB_ROWS=%q\nLAB_COLS=%q\n' "$rows" "$cols" >>"$LAB_RESULTS/lab.env"
fi
lab_qemu_args "$LAB_RESULTS"
lab_log "booting $LAB_KPKG ($LAB_KVERSION); leave with exit (or Ctrl-A x)"
# One character device for the serial console and qemu's monitor (Ctrl-A c), logged to a file;
# signal=off hands Ctrl-C to the guest's shell.
exec "${LAB_QEMU[@]}" -chardev "stdio,id=console,mux=on,signal=off,logfile=$LAB_RESULTS/console.log" \
  -serial chardev:console -mon chardev=console,mode=readline
