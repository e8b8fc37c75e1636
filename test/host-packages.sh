#!/usr/bin/env bash
# The Debian packages the host tests need beyond Node.js, installed when their command is
# missing (one apt-get update, one apt-get install; nothing to do on a second run). Called
# by test/run-all.sh before the unit tests; run it by hand before `npx vitest run` on a
# fresh machine. The tests that use these commands skip, saying why, where they are missing.
#
#   systemd          systemd-analyze (verify, security) and systemd-notify, for the unit
#   lintian          checks the Debian package (packaging/deb/build.sh)
#   dpkg-dev         dpkg-shlibdeps (the package's library dependencies) and strip (binutils)
#   prometheus       promtool, which checks packaging/prometheus/lvsd-rules.yml
#   man-db, groff    `man --warnings` on lvsd(8)
#   zsh, fish        the completion scripts are loaded into each shell
#   python3          a stand-in for systemd's notification socket (Node.js has no unix datagram socket)
#   keepalived       the VRRP peer of test/vrrp/ha.netns.test.ts (takeovers timed on the wire)
#   tcpdump          times those takeovers on the bridge
#   bird2            BIRD, the routing daemon lvsd announces VIPs through (test/announce/)
#   iproute2         network namespaces, veth and bridges for them; `ss`
#   the real servers the checkers are tested against in a namespace
#   (test/health/real/servers.netns.test.ts): nginx-light with the echo module (an endless
#   stream, a slow body), unbound, exim4-daemon-light, monitoring-plugins-basic; procps,
#   openssl for the test certificates; bind9-dnsutils, whose dig prints the TXT answers
#   the dns checks are compared with
set -euo pipefail

PACKAGES=(
  "systemd:systemd-analyze"
  "lintian:lintian"
  "dpkg-dev:dpkg-shlibdeps"
  "binutils:strip"
  "prometheus:promtool"
  "man-db:man"
  "groff-base:groff"
  "zsh:zsh"
  "fish:fish"
  "python3:python3"
  "keepalived:keepalived"
  "tcpdump:tcpdump"
  "bird2:bird"
  "iproute2:ip"
  "procps:sysctl"
  "openssl:openssl"
  "nginx-light:/usr/sbin/nginx"
  "libnginx-mod-http-echo:/usr/lib/nginx/modules/ngx_http_echo_module.so"
  "unbound:/usr/sbin/unbound"
  "exim4-daemon-light:/usr/sbin/exim4"
  "monitoring-plugins-basic:/usr/lib/nagios/plugins/check_http"
  "bind9-dnsutils:dig"
)

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "host-packages: need root to run: $*" >&2
    return 1
  fi
}

# A command on PATH, or a file given by its absolute path (a module, a plugin).
has() {
  case "$1" in /*) [ -e "$1" ] ;; *) command -v "$1" >/dev/null 2>&1 ;; esac
}

missing=()
for entry in "${PACKAGES[@]}"; do
  has "${entry#*:}" || missing+=("${entry%%:*}")
done
if [ ${#missing[@]} = 0 ]; then
  echo "host-packages: all present"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "host-packages: not a Debian system; missing: ${missing[*]} (their tests will skip)" >&2
  exit 0
fi
echo "host-packages: installing ${missing[*]}"
# The prometheus, nginx, unbound and exim packages would start their servers: a policy-rc.d
# that refuses every service start stands while apt runs (when the machine has none).
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  as_root sh -c "printf '#!/bin/sh\\nexit 101\\n' > $policy && chmod 755 $policy"
  trap 'as_root rm -f "$policy"' EXIT
fi
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for entry in "${PACKAGES[@]}"; do
  has "${entry#*:}" || {
    echo "host-packages: ${entry%%:*} is installed but ${entry#*:} is still missing" >&2
    exit 1
  }
done
