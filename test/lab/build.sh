#!/usr/bin/env bash
# Prepares the kernel lab: installs the missing Debian packages, downloads and unpacks the
# pinned kernel (test/lab/kernel.pin), builds the initramfs. The other scripts do this when
# needed; this one prints what it uses. --rebuild builds the initramfs again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "${1:-}" = --rebuild ]; then
  mkdir -p "$LAB_CACHE"
  rm -f "$LAB_CACHE"/*/initramfs.stamp
fi
started=$(lab_now_ms)
lab_prepare
echo "kernel package:  $LAB_KDESC"
echo "kernel modules:  $LAB_KVER"
echo "kernel image:    $LAB_VMLINUZ"
echo "initramfs:       $LAB_INITRD ($(du -k "$LAB_INITRD" | cut -f1) KiB, $(wc -l <"$LAB_KDIR/root/lib/modules/$LAB_KVER/modules.order") modules in the kernel package)"
echo "prepared in:     $(( $(lab_now_ms) - started )) ms"
