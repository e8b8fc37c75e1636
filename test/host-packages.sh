#!/usr/bin/env bash
# Debian packages the host tests need besides node (`npm test` runs this before the unit
# tests): the real servers the checkers are tested against in a network namespace
# (test/health/real/servers.netns.test.ts): nginx with the echo module (an endless stream,
# a slow body), unbound, exim, the monitoring-plugins programs; iproute2 for the namespace
# and `ss`, openssl for the test certificates. Installs only what is missing, with the
# lab's helpers; idempotent. Without root it says what is missing and leaves it: those
# tests then skip and say why.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/lab/lib.sh"

# package:file it installs (a command name, or an absolute path that must exist).
HOST_PACKAGES=(
  "iproute2:ip"
  "procps:sysctl"
  "openssl:openssl"
  "nginx-light:/usr/sbin/nginx"
  "libnginx-mod-http-echo:/usr/lib/nginx/modules/ngx_http_echo_module.so"
  "unbound:/usr/sbin/unbound"
  "exim4-daemon-light:/usr/sbin/exim4"
  "monitoring-plugins-basic:/usr/lib/nagios/plugins/check_http"
)

host_has() {
  case "$1" in /*) [ -e "$1" ] ;; *) lab_has "$1" ;; esac
}

missing=()
for entry in "${HOST_PACKAGES[@]}"; do
  host_has "${entry#*:}" || missing+=("${entry%%:*}")
done
[ ${#missing[@]} = 0 ] && exit 0

if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
  lab_log "host tests: ${missing[*]} missing (not root: not installing; those tests skip)"
  exit 0
fi
lab_log "host tests: installing ${missing[*]}"
lab_apt_update_once
# The packages' own services are not wanted: the tests start the servers themselves, in a
# namespace. policy-rc.d keeps invoke-rc.d from starting them where an init system would.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | lab_sudo tee "$policy" >/dev/null
  lab_sudo chmod 755 "$policy"
  added_policy=1
fi
status=0
lab_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
  status=$?
[ "$added_policy" = 1 ] && lab_sudo rm -f "$policy"
[ "$status" = 0 ] || lab_die "apt-get install ${missing[*]} failed"
for entry in "${HOST_PACKAGES[@]}"; do
  host_has "${entry#*:}" || lab_die "package ${entry%%:*} is installed but ${entry#*:} is still missing"
done
