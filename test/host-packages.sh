#!/usr/bin/env bash
# Debian packages the host tests need besides node (`npm test` runs this before the unit
# tests): keepalived and tcpdump for the VRRP tests in network namespaces
# (test/vrrp/ha.netns.test.ts: lvsd against keepalived, takeovers timed on the wire), and
# iproute2 for the namespaces. Installs only what is missing, with the lab's helpers.
# Without root it says what is missing and leaves it: those tests then skip and say why.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/lab/lib.sh"

LAB_PACKAGES=(
  "iproute2:ip"
  "keepalived:keepalived"
  "tcpdump:tcpdump"
)

if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
  for entry in "${LAB_PACKAGES[@]}"; do
    lab_has "${entry#*:}" || lab_log "host tests: ${entry%%:*} is missing (not root: not installing)"
  done
  exit 0
fi
lab_ensure_packages
