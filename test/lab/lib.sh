# shellcheck shell=bash
# The kernel lab's building blocks, sourced by build.sh, run.sh, shell.sh and kernel-suite.sh.
#
# The lab is a qemu TCG virtual machine that boots Debian's stock kernel with a busybox
# initramfs carrying the IPVS, netfilter, tunnel and 9p modules. The host's root is shared
# read-only over 9p and the job runs as root in a chroot of it, so the VM sees this
# repository, node and node_modules at the same paths.
#
# The kernel is pinned: test/lab/kernel.pin names one package at one version (PACKAGE=VERSION),
# and says how and when to move it; LVSD_LAB_KERNEL_PIN overrides it for one run. When the
# archive no longer has the pinned version (and it is not cached), the lab warns loudly and
# boots the kernel linux-image-amd64 depends on instead; LVSD_LAB_KERNEL=strict makes that an
# error. Every run prints the kernel it booted (package, version, `uname -r` in the VM).
#
# Everything is cached in $LAB_CACHE (default ~/.cache/lvsd-lab), the kernel in a folder per
# package, and rebuilt only when the kernel package, the module list or the init script change.

set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LAB_DIR/../.." && pwd)
LAB_CACHE=${LVSD_LAB_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/lvsd-lab}
LAB_OUT=${LVSD_LAB_OUT:-$REPO_DIR/lab-out}
# The kernel the lab boots, PACKAGE=VERSION: see that file for how and when to move it.
LAB_KERNEL_PIN_FILE=$LAB_DIR/kernel.pin

# Debian packages the lab needs on the host, with a command each provides.
LAB_PACKAGES=(
  "qemu-system-x86:qemu-system-x86_64"
  "busybox-static:/bin/busybox"
  "kmod:depmod"
  "ipvsadm:ipvsadm"
  "iproute2:ip"
  "iptables:iptables"
  "curl:curl"
  "cpio:cpio"
  # test/kernel/systemd-unit.kernel.test.ts runs lvsd's unit under this systemd.
  "systemd:/lib/systemd/systemd"
  "keepalived:keepalived"
  # test/kernel/fleet.kernel.test.ts: the directors' and the router's BGP speaker.
  "bird2:bird"
  # bench/lab-daemon-bench.ts: the reals' server (one nginx for the thousand reals).
  "nginx:/usr/sbin/nginx"
)

lab_log() { printf 'lab: %s\n' "$*" >&2; }
lab_die() { printf 'lab: error: %s\n' "$*" >&2; exit 125; }

# Monotonic-ish milliseconds for the figures the scripts print.
lab_now_ms() { date +%s%3N; }

lab_sudo() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    lab_die "need root to run: $* (install the packages by hand, or run as root)"
  fi
}

LAB_APT_UPDATED=0
lab_apt_update_once() {
  if [ "$LAB_APT_UPDATED" = 0 ]; then
    lab_log "apt-get update"
    lab_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || lab_die "apt-get update failed"
    LAB_APT_UPDATED=1
  fi
}

lab_has() {
  case "$1" in /*) [ -x "$1" ] ;; *) command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ] ;; esac
}

# Installs the Debian packages that are missing (one apt-get update, one apt-get install).
lab_ensure_packages() {
  local missing=() entry pkg cmd
  for entry in "${LAB_PACKAGES[@]}"; do
    pkg=${entry%%:*} cmd=${entry#*:}
    lab_has "$cmd" || missing+=("$pkg")
  done
  [ ${#missing[@]} = 0 ] && return 0
  lab_log "installing ${missing[*]}"
  lab_apt_update_once
  lab_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || lab_die "apt-get install ${missing[*]} failed"
  for entry in "${LAB_PACKAGES[@]}"; do
    lab_has "${entry#*:}" || lab_die "package ${entry%%:*} is installed but ${entry#*:} is still missing"
  done
}

# The pin: sets LAB_KPIN_PKG and LAB_KPIN_VERSION from $LVSD_LAB_KERNEL_PIN, or else from the
# one PACKAGE=VERSION line of test/lab/kernel.pin. LAB_KPIN_FROM says which ("in ..." / "by ...").
lab_kernel_pin() {
  local pin
  if [ -n "${LVSD_LAB_KERNEL_PIN:-}" ]; then
    pin=$LVSD_LAB_KERNEL_PIN
    LAB_KPIN_FROM="by LVSD_LAB_KERNEL_PIN"
  else
    [ -f "$LAB_KERNEL_PIN_FILE" ] || lab_die "no kernel pin: $LAB_KERNEL_PIN_FILE is missing"
    pin=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$LAB_KERNEL_PIN_FILE" | grep -v '^$' || true)
    LAB_KPIN_FROM="in test/lab/kernel.pin"
  fi
  case "$pin" in
    *$'\n'*) lab_die "the kernel pin $LAB_KPIN_FROM has more than one PACKAGE=VERSION line" ;;
    linux-image-*=?*) ;;
    *) lab_die "the kernel pin $LAB_KPIN_FROM is '$pin': wanted one PACKAGE=VERSION line, e.g. linux-image-6.1.0-57-amd64=6.1.192-3" ;;
  esac
  LAB_KPIN_PKG=${pin%%=*} LAB_KPIN_VERSION=${pin#*=}
}

# Whether the apt lists offer package $1 at version $2 (after one apt-get update if not).
lab_kernel_available() {
  local pkg=$1 version=$2
  offered() {
    apt-cache madison "$pkg" 2>/dev/null \
      | awk -F'|' -v v="$version" '{ gsub(/ /, "", $2) } $2 == v && $3 ~ /Packages/ { found = 1 } END { exit !found }'
  }
  offered && return 0
  [ "$LAB_APT_UPDATED" = 0 ] || return 1
  lab_apt_update_once
  offered
}

# The kernel image that linux-image-amd64 depends on today (the fallback when the pin is gone
# from the archive): sets LAB_KLATEST_PKG and LAB_KLATEST_VERSION, e.g.
# linux-image-6.1.0-57-amd64 and 6.1.192-3.
lab_kernel_latest() {
  local dep
  dep=$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null | sed -n 's/^Depends: //p' | tr ',' '\n' \
    | sed -n 's/^ *\(linux-image-[0-9][^ ]*\) (= \([^)]*\)).*/\1 \2/p' | head -n1)
  [ -n "$dep" ] || lab_die "apt-cache does not know which kernel linux-image-amd64 depends on"
  LAB_KLATEST_PKG=${dep% *} LAB_KLATEST_VERSION=${dep#* }
}

# Downloads and unpacks package $1 at version $2 into $LAB_CACHE/$1/ unless that version is
# already there.
lab_fetch_kernel() {
  local pkg=$1 version=$2 dir=$LAB_CACHE/$1
  if [ -f "$dir/.unpacked" ]; then
    [ "$(cat "$dir/version" 2>/dev/null)" != "$version" ] || return 0
    lab_log "the cached $pkg is version $(cat "$dir/version" 2>/dev/null), not $version: fetching it again"
  fi
  lab_log "downloading $pkg $version (apt-get download $pkg=$version)"
  local tmp deb
  tmp=$(mktemp -d "$LAB_CACHE/download.XXXXXX")
  # apt drops privileges to _apt for downloads; it cannot write into a private folder.
  # Stale lists may point at a file the mirror has replaced: update them once and retry.
  (cd "$tmp" && apt-get download -q -o APT::Sandbox::User="$(id -un)" "$pkg=$version" >&2) || {
    [ "$LAB_APT_UPDATED" = 0 ] && lab_apt_update_once \
      && (cd "$tmp" && apt-get download -q -o APT::Sandbox::User="$(id -un)" "$pkg=$version" >&2)
  } || lab_die "apt-get download $pkg=$version failed"
  deb=$(ls "$tmp"/*.deb)
  [ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || lab_die "$deb is not version $version"
  rm -rf "$dir"
  mkdir -p "$dir/root"
  dpkg-deb -x "$deb" "$dir/root" || lab_die "cannot unpack $deb"
  echo "$version" >"$dir/version"
  rm -rf "$tmp"
  touch "$dir/.unpacked"
}

# Makes the kernel ready in $LAB_CACHE/<package>/: the pinned one (from the cache, or from the
# archive), else, when the archive no longer has it, the one linux-image-amd64 depends on, with
# a loud warning (an error with LVSD_LAB_KERNEL=strict).
# Sets LAB_KPKG, LAB_KVERSION (Debian version), LAB_KVER (module directory name), LAB_KDIR,
# LAB_VMLINUZ, LAB_KPINNED (1 or 0) and LAB_KDESC (what the summaries print).
lab_ensure_kernel() {
  case "${LVSD_LAB_KERNEL:-}" in
    ''|fallback|strict) ;;
    *) lab_die "LVSD_LAB_KERNEL is '$LVSD_LAB_KERNEL': wanted strict or fallback (the default)" ;;
  esac
  lab_kernel_pin
  LAB_KPKG=$LAB_KPIN_PKG LAB_KVERSION=$LAB_KPIN_VERSION LAB_KPINNED=1
  # A cached copy of the pin is used as it is: no apt, no network.
  if [ ! -f "$LAB_CACHE/$LAB_KPKG/.unpacked" ] || [ "$(cat "$LAB_CACHE/$LAB_KPKG/version" 2>/dev/null)" != "$LAB_KVERSION" ]; then
    if ! lab_kernel_available "$LAB_KPIN_PKG" "$LAB_KPIN_VERSION"; then
      lab_kernel_latest
      LAB_KPKG=$LAB_KLATEST_PKG LAB_KVERSION=$LAB_KLATEST_VERSION LAB_KPINNED=0
      lab_kernel_warn_unpinned
      [ "${LVSD_LAB_KERNEL:-}" != strict ] \
        || lab_die "LVSD_LAB_KERNEL=strict: not booting $LAB_KPKG $LAB_KVERSION in place of the pinned $LAB_KPIN_PKG $LAB_KPIN_VERSION"
    fi
    lab_fetch_kernel "$LAB_KPKG" "$LAB_KVERSION"
  fi
  LAB_KDIR=$LAB_CACHE/$LAB_KPKG
  LAB_KVER=$(ls "$LAB_KDIR/root/lib/modules" | head -n1)
  [ -f "$LAB_KDIR/root/boot/vmlinuz-$LAB_KVER" ] || lab_die "no vmlinuz-$LAB_KVER in $LAB_KDIR (delete that folder to fetch again)"
  LAB_VMLINUZ=$LAB_KDIR/root/boot/vmlinuz-$LAB_KVER
  if [ "$LAB_KPINNED" = 1 ]; then
    LAB_KDESC="$LAB_KPKG $LAB_KVERSION (pinned $LAB_KPIN_FROM)"
  else
    LAB_KDESC="$LAB_KPKG $LAB_KVERSION (NOT the pinned $LAB_KPIN_PKG $LAB_KPIN_VERSION, which the archive does not have)"
  fi
}

# The warning for a run that does not boot the pinned kernel (at the start and again at the end).
lab_kernel_warn_unpinned() {
  local line
  for line in \
    '==========================================================================================' \
    "WARNING: the kernel $LAB_KPIN_PKG $LAB_KPIN_VERSION (pinned $LAB_KPIN_FROM)" \
    "WARNING: is not in the archive (any more). This run boots $LAB_KPKG $LAB_KVERSION instead:" \
    "WARNING: the kernel linux-image-amd64 depends on today, not the one the suite was checked on." \
    "WARNING: Move the pin (test/lab/kernel.pin says how); LVSD_LAB_KERNEL=strict makes this an error." \
    '=========================================================================================='; do
    lab_log "$line"
  done
}

# What the VM said `uname -r` was, from the console log of results folder $1 (empty if unknown).
lab_guest_uname() {
  sed -n 's/^lab-init \[[0-9.]*s\]: kernel \([^ ]*\) up,.*/\1/p' "$1/console.log" 2>/dev/null | head -n1
}

# Modules loaded at boot, in this order (each with its dependencies, as
# `modprobe --show-depends` resolves them, soft dependencies included).
# crc32c_generic comes before libcrc32c: libcrc32c asks the crypto API for crc32c when it
# loads, and nothing else would provide it at that moment.
LAB_BOOT_MODULES=(
  virtio_pci virtio_rng 9pnet_virtio 9p
  crc32c_generic libcrc32c
  ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_fo ip_vs_ovf ip_vs_lblc ip_vs_lblcr
  ip_vs_dh ip_vs_sh ip_vs_mh ip_vs_sed ip_vs_nq ip_vs_pe_sip ip_vs_ftp
  veth bridge dummy ipip ip_gre fou ip6_tunnel
  nf_tables nft_compat xt_mark xt_multiport iptable_mangle ip6table_mangle
)
# Shipped in the initramfs but loaded only when the kernel asks for them (request_module
# runs the initramfs's modprobe, since the kernel's helpers keep the initramfs as root).
LAB_ON_DEMAND_MODULES=(
  nft_chain_nat nf_nat iptable_nat iptable_filter ip6table_filter ip6table_nat xt_conntrack
  xt_comment xt_addrtype xt_MASQUERADE nft_ct nft_nat nft_masq ip6_gre sit tun macvlan
  ipvlan nf_conntrack_netlink nfnetlink_queue ip6_udp_tunnel fou6
)

# Builds $LAB_KDIR/initramfs.cpio.gz unless the one there was built from the same kernel,
# init script, module lists and busybox. Sets LAB_INITRD.
lab_ensure_initramfs() {
  LAB_INITRD=$LAB_KDIR/initramfs.cpio.gz
  local stamp
  stamp=$( {
    echo "$LAB_KPKG $LAB_KVERSION ${LAB_BOOT_MODULES[*]} / ${LAB_ON_DEMAND_MODULES[*]}"
    cat "$LAB_DIR/init"
    declare -f lab_ensure_initramfs
    sha256sum /bin/busybox
  } | sha256sum | cut -c1-16)
  if [ -f "$LAB_INITRD" ] && [ "$(cat "$LAB_KDIR/initramfs.stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  local started
  started=$(lab_now_ms)
  lab_log "building the initramfs for $LAB_KVER"
  local kroot=$LAB_KDIR/root
  local moddir=$kroot/lib/modules/$LAB_KVER
  [ -f "$moddir/modules.dep" ] || depmod -b "$kroot" "$LAB_KVER" || lab_die "depmod failed for $LAB_KVER"

  local stage
  stage=$(mktemp -d "$LAB_CACHE/initramfs.XXXXXX")
  mkdir -p "$stage"/{bin,etc/lab,proc,sys,dev,tmp,run,results,host,lib/modules/"$LAB_KVER"}
  cp /bin/busybox "$stage/bin/busybox"
  cp "$LAB_DIR/init" "$stage/init"
  chmod 755 "$stage/init"

  # `modprobe --show-depends` prints "insmod <path> <params>" for each module a name needs,
  # dependencies and soft dependencies first, or "builtin <name>".
  resolve() {
    local m out
    for m in "$@"; do
      out=$(modprobe -d "$kroot" -S "$LAB_KVER" --show-depends "$m" 2>&1) || lab_die "module $m: $out"
      printf '%s\n' "$out"
    done | awk -v prefix="$moddir/" '$1 == "insmod" { sub(prefix, "", $2); $1 = ""; sub(/^ /, ""); if (!seen[$0]++) print }'
  }
  resolve "${LAB_BOOT_MODULES[@]}" >"$stage/etc/lab/boot-modules"
  local all
  all=$( { cat "$stage/etc/lab/boot-modules"; resolve "${LAB_ON_DEMAND_MODULES[@]}"; } | awk '{ print $1 }' | sort -u)
  local rel
  for rel in $all; do
    mkdir -p "$stage/lib/modules/$LAB_KVER/$(dirname "$rel")"
    cp "$moddir/$rel" "$stage/lib/modules/$LAB_KVER/$rel"
  done
  cp "$moddir"/modules.{order,builtin,builtin.modinfo} "$stage/lib/modules/$LAB_KVER/"
  depmod -b "$stage" "$LAB_KVER" || lab_die "depmod failed in the initramfs"

  (cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$LAB_INITRD.tmp" \
    || lab_die "cannot write the initramfs"
  mv "$LAB_INITRD.tmp" "$LAB_INITRD"
  echo "$stamp" >"$LAB_KDIR/initramfs.stamp"
  LAB_INITRD_MODULES=$(echo "$all" | wc -l)
  rm -rf "$stage"
  lab_log "initramfs: $LAB_INITRD_MODULES modules, $(du -k "$LAB_INITRD" | cut -f1) KiB, built in $(( $(lab_now_ms) - started )) ms"
}

# Everything the lab needs on this host; prints what it uses.
lab_prepare() {
  mkdir -p "$LAB_CACHE"
  lab_ensure_packages
  # One builder at a time: runs started together share the cache.
  local fd
  exec {fd}>"$LAB_CACHE/.prepare.lock"
  flock "$fd"
  lab_ensure_kernel
  lab_ensure_initramfs
  exec {fd}>&-
}

# Claims lab-out/NAME for this run (sets LAB_RESULTS), holding a lock on it until this
# shell exits. Several people (or sessions) may use one work tree: when NAME is busy, the
# run goes to NAME.2, NAME.3, ... instead of wiping a folder a running VM writes into.
lab_claim_results() {
  local name=$1 i=1 candidate
  mkdir -p "$LAB_OUT"
  while :; do
    candidate=$name
    [ "$i" = 1 ] || candidate=$name.$i
    exec {LAB_LOCK_FD}>"$LAB_OUT/.$candidate.lock"
    if flock -n "$LAB_LOCK_FD"; then
      LAB_RESULTS=$LAB_OUT/$candidate
      [ "$i" = 1 ] || lab_log "lab-out/$name is in use by another run: using lab-out/$candidate"
      return 0
    fi
    exec {LAB_LOCK_FD}>&-
    i=$((i + 1))
    [ "$i" -le 50 ] || lab_die "lab-out/$name.2 .. $name.50 are all in use"
  done
}

# Prepares the results folder $1 for one boot: empties it and writes lab.env and job.sh
# (the command in $3..., run from the current directory). $2 is the mode (job or shell).
lab_write_job() {
  local results=$1 mode=$2
  shift 2
  rm -rf "$results"
  mkdir -p "$results"
  {
    printf 'LAB_RESULTS=%q\n' "$results"
    printf 'LAB_MODE=%q\n' "$mode"
    printf 'LAB_CWD=%q\n' "$PWD"
    printf 'LAB_TERM=%q\n' "${TERM:-linux}"
    printf 'LAB_9P_CACHE=%q\n' "${LVSD_LAB_9P_CACHE:-loose}"
  } >"$results/lab.env"
  {
    echo '#!/bin/bash'
    echo '# Written by test/lab/run.sh: runs as root in a chroot of the host root, inside the lab.'
    echo 'export LVSD_LAB=1 TERM=dumb LANG=C.UTF-8'
    local var
    for var in $(compgen -e); do
      case "$var" in LVSD_LAB|LVSD_LAB_RESULTS|LVSD_LAB_KERNEL_PACKAGE) ;; LVSD_*|CI|NO_COLOR|FORCE_COLOR|DEBUG) printf 'export %s=%q\n' "$var" "${!var}" ;; esac
    done
    printf 'export LVSD_LAB_RESULTS=%q\n' "$results"
    # The kernel package this boot runs, for the job's summaries (kernel-suite's summary.txt).
    printf 'export LVSD_LAB_KERNEL_PACKAGE=%q\n' "${LAB_KDESC:-}"
    printf 'cd %q || exit 125\n' "$PWD"
    if [ $# -gt 0 ]; then printf '%q ' "$@"; echo; fi
  } >"$results/job.sh"
}

# The qemu command line for one boot with the results folder $1 (9p tag "results").
# Extra kernel parameters come from $LAB_APPEND.
lab_qemu_args() {
  local results=$1
  LAB_QEMU=(
    qemu-system-x86_64
    -accel "tcg,thread=multi" -cpu "${LVSD_LAB_CPU:-max}" -smp "${LVSD_LAB_CPUS:-2}" -m "${LVSD_LAB_MEM:-3072}"
    -M pc -nodefaults -no-user-config -no-reboot -display none
    -kernel "$LAB_VMLINUZ" -initrd "$LAB_INITRD"
    -append "console=ttyS0 panic=-1 rdinit=/init loglevel=${LVSD_LAB_LOGLEVEL:-5} ${LVSD_LAB_KERNEL_ARGS:-} ${LAB_APPEND:-}"
    -device virtio-rng-pci
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
    -virtfs "local,path=$results,mount_tag=results,security_model=none,multidevs=remap"
  )
}

# Prints the lab's diagnosis of a boot that did not report a status, with the console log.
lab_report_failure() {
  local results=$1 what=$2
  printf 'lab: error: %s\n' "$what" >&2
  if [ -s "$results/lab-error" ]; then printf 'lab: error: %s\n' "$(cat "$results/lab-error")" >&2; fi
  if [ -f "$results/console.log" ]; then
    echo "lab: last lines of the console log ($results/console.log):" >&2
    tail -n "${LVSD_LAB_CONSOLE_LINES:-40}" "$results/console.log" | sed 's/^/  | /' >&2
  fi
}

# Boots the lab once for a job: `lab_run_job NAME TIMEOUT COMMAND...`. Claims lab-out/NAME
# (LAB_RESULTS), streams the job's output, and returns its exit status; 124 when the VM did
# not finish within TIMEOUT seconds, 125 when the lab failed (the reason and the end of the
# console log go to stderr). Kernel parameters may be added in LAB_APPEND. Logs, and leaves in
# LAB_KERNEL_LINE, the kernel it booted: package, version, and `uname -r` in the VM.
lab_run_job() {
  local name=$1 timeout=$2
  shift 2
  lab_prepare
  lab_claim_results "$name"
  local results=$LAB_RESULTS
  lab_write_job "$results" job "$@"
  lab_qemu_args "$results"

  local started qemu_pid tail_pid qemu_status=0
  started=$(lab_now_ms)
  lab_log "booting $LAB_KDESC with qemu TCG; console: $results/console.log"
  timeout "$timeout" "${LAB_QEMU[@]}" -serial "file:$results/console.log" </dev/null >"$results/qemu.log" 2>&1 &
  qemu_pid=$!
  # Interrupted: stop the VM (and only it) before leaving.
  trap 'kill '"$qemu_pid"' 2>/dev/null; exit 130' INT TERM
  # The job's output, live: tail stops by itself once qemu is gone.
  tail -n +1 -F --pid="$qemu_pid" "$results/output.log" 2>/dev/null &
  tail_pid=$!
  wait "$qemu_pid" || qemu_status=$?
  wait "$tail_pid" 2>/dev/null || true
  trap - INT TERM
  local elapsed=$(( $(lab_now_ms) - started ))
  LAB_GUEST_UNAME=$(lab_guest_uname "$results")
  LAB_KERNEL_LINE="kernel package: $LAB_KDESC; uname -r: ${LAB_GUEST_UNAME:-unknown (the VM did not say)}"
  lab_log "$LAB_KERNEL_LINE"
  [ "$LAB_KPINNED" = 1 ] || lab_kernel_warn_unpinned

  if [ "$qemu_status" = 124 ]; then
    lab_report_failure "$results" "the job did not finish within ${timeout} s (--timeout / LVSD_LAB_TIMEOUT); the VM was stopped"
    return 124
  fi
  if [ -s "$results/lab-error" ] || [ ! -f "$results/status" ]; then
    if [ "$qemu_status" != 0 ]; then
      echo "lab: qemu exited with status $qemu_status:" >&2
      sed 's/^/  | /' "$results/qemu.log" >&2
    fi
    lab_report_failure "$results" "the lab stopped before the job reported a status"
    return 125
  fi
  local status boot
  status=$(cat "$results/status")
  boot=$(sed -n 's/^lab-init \[\([0-9.]*\)s\]: host root mounted.*/\1/p' "$results/console.log" | head -n1)
  LAB_BOOT_SECONDS=${boot:-?}
  lab_log "job exited with status $status; boot took ${LAB_BOOT_SECONDS} s (guest clock), whole run $(( elapsed / 1000 )).$(( elapsed % 1000 / 100 )) s"
  return "$status"
}
