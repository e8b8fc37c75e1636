#!/usr/bin/env bash
# Builds the Debian package lvsd_VERSION_ARCH.deb from this checkout with dpkg-deb (no
# source package, no debhelper) and prints its path.
#
#   bash packaging/deb/build.sh [--no-build] [OUTDIR]
#
# (npm run deb; OUTDIR defaults to dist-deb/.) --no-build packs dist/ as it is, for tests
# that run beside others reading dist/ (npm test builds it first).
#
# Layout: lvsd under /usr/lib/lvsd (what `npm pack` ships, with its production
# node_modules from package-lock.json), /usr/bin/lvsd, the unit in /lib/systemd/system,
# /etc/lvsd/lvsd.yaml (a conffile: a commented example), lvsd(8), completions for bash, zsh
# and fish, docs, examples, the Grafana dashboard and the Prometheus rules under
# /usr/share/doc/lvsd. It depends on nodejs (>= 20)
# rather than carrying Node.js: docs/packaging.md says where that comes from, and why.
#
# The package is built for this machine's architecture: the netlink binding is a native
# module (N-API, so any Node.js >= 20 loads it), and only this architecture's prebuilt
# binary goes in. Maintainer: $LVSD_DEB_MAINTAINER, or the author of the last git commit.
# Needs node, npm, dpkg-deb, dpkg-shlibdeps (dpkg-dev), strip (binutils); test/host-packages.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=1
if [ "${1:-}" = --no-build ]; then
  build=0
  shift
fi
out=${1:-$root/dist-deb}

die() {
  echo "deb: $*" >&2
  exit 1
}
for cmd in node npm dpkg-deb dpkg-shlibdeps strip gzip; do
  command -v "$cmd" >/dev/null || die "$cmd is missing (bash test/host-packages.sh installs it)"
done

version=$(node -p "require('$root/package.json').version")
arch=$(dpkg --print-architecture)
case $arch in
  amd64) napi=linux-x64 ;;
  arm64) napi=linux-arm64 ;;
  armhf) napi=linux-arm ;;
  i386) napi=linux-ia32 ;;
  *) die "the netlink module has no prebuilt binary for $arch" ;;
esac
maintainer=${LVSD_DEB_MAINTAINER:-$(git -C "$root" log -1 --format='%an <%ae>' 2>/dev/null || true)}
[ -n "$maintainer" ] || die "set LVSD_DEB_MAINTAINER='Name <email>' (no git history to take it from)"
# Timestamps from the last commit, so two builds of one commit are the same package.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pkg=$work/pkg
app=$pkg/usr/lib/lvsd
doc=$pkg/usr/share/doc/lvsd

# --- the application: the npm tarball and its production dependencies. No install scripts
# run: the only one, netlink's, would look for the binary that the prebuilds/ folder
# already holds; loading the binding below proves it is there.
if [ "$build" = 1 ]; then (cd "$root" && npm run build --silent); fi
(cd "$root" && npm pack --ignore-scripts --silent --pack-destination "$work" >/dev/null)
mkdir -p "$app"
tar -xzf "$work/lvsd-$version.tgz" -C "$app" --strip-components=1
cp "$root/package-lock.json" "$app/"
(cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
netlink=$app/node_modules/netlink
find "$netlink/prebuilds" -mindepth 1 -maxdepth 1 ! -name "$napi" -exec rm -rf {} +
[ -f "$netlink/prebuilds/$napi/node.napi.node" ] || die "netlink has no prebuilt binary for $napi"
rm -rf "$netlink/src" "$netlink/binding.gyp" "$app/package-lock.json"
# What the dependencies' authors ship but nothing loads: tests, examples, benchmarks, docs
# pages, their editors' and CI's dotfiles. Their scripts keep the executable bit npm gives.
find "$app/node_modules" -name package.json -printf '%h\n' | while read -r dir; do
  rm -rf "$dir"/{test,tests,__tests__,example,examples,benchmark,benchmarks,docs}
done
find "$app/node_modules" -mindepth 1 \( -name '.*' -o -name '*.html' \) -prune -exec rm -rf {} +
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
  "$netlink/prebuilds/$napi/node.napi.node"
(cd "$app" && node -e "require('netlink')") || die "the netlink binding does not load"
# koffi (VRRP's raw sockets) ships a glibc and a musl build of its module for this
# architecture; Debian is glibc, and the musl one is not linked against Debian's libc.
find "$app/node_modules/@koromix" -mindepth 2 -maxdepth 2 -type d -name 'musl_*' -exec rm -rf {} +
# Its build tool (to compile koffi from source; the package uses the prebuilt module).
rm -f "$app/node_modules/koffi/cnoke.cjs"
(cd "$app" && node -e "require('koffi')") || die "the koffi module does not load"
# Debian scripts name their interpreter; under systemd, PATH does not decide which node runs.
sed -i '1s|^#!/usr/bin/env node$|#!/usr/bin/node|' "$app/bin/lvsd.js"
head -1 "$app/bin/lvsd.js" | grep -qx '#!/usr/bin/node' || die "bin/lvsd.js: unexpected first line"

# --- files in their Debian places.
install -d "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/lvsd" "$pkg/usr/share/man/man8" \
  "$pkg/usr/share/bash-completion/completions" "$pkg/usr/share/zsh/vendor-completions" \
  "$pkg/usr/share/fish/vendor_completions.d" "$doc"
ln -s ../lib/lvsd/bin/lvsd.js "$pkg/usr/bin/lvsd"
install -m 644 "$app/packaging/lvsd.service" "$pkg/lib/systemd/system/lvsd.service"
gzip -9n <"$app/packaging/lvsd.8" >"$pkg/usr/share/man/man8/lvsd.8.gz"
lvsd() { node "$app/bin/lvsd.js" "$@"; }
lvsd completion bash >"$pkg/usr/share/bash-completion/completions/lvsd"
lvsd completion zsh >"$pkg/usr/share/zsh/vendor-completions/_lvsd"
lvsd completion fish >"$pkg/usr/share/fish/vendor_completions.d/lvsd.fish"
install -m 644 "$here/lvsd.yaml" "$pkg/etc/lvsd/lvsd.yaml"

# Docs: compressed above 4 KiB, as Debian policy asks (12.3); examples as they are.
cp "$app"/docs/*.md "$app/README.md" "$doc/"
cp -r "$app/examples" "$doc/examples"
cp -r "$app/packaging/grafana" "$app/packaging/prometheus" "$doc/"
find "$doc" -maxdepth 1 -name '*.md' -size +4k -exec gzip -9n {} +
rm -rf "$app/docs" "$app/examples" "$app/packaging" "$app/README.md" "$app/LICENSE"
node "$here/copyright.mjs" "$app" >"$doc/copyright"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
  echo "lvsd ($version) unstable; urgency=medium"
  echo
  echo "  * lvsd $version, built from commit $commit."
  echo
  echo " -- $maintainer  $(date -R -u -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.gz"

# --- control files.
find "$pkg" -type d -exec chmod 755 {} +
find "$pkg" -type f -exec chmod 644 {} +
chmod 755 "$app/bin/lvsd.js"
# shellcheck disable=SC2016 # $f is the inner shell's
find "$app/node_modules" -type f -exec sh -c \
  'for f; do [ "$(head -c2 "$f")" = "#!" ] && chmod 755 "$f"; done; true' sh {} +
shlibs_dir=$work/shlibs
mkdir -p "$shlibs_dir/debian"
printf 'Source: lvsd\n\nPackage: lvsd\nArchitecture: any\n' >"$shlibs_dir/debian/control"
shlibs=$(cd "$shlibs_dir" && dpkg-shlibdeps -O "$netlink/prebuilds/$napi/node.napi.node" 2>/dev/null |
  sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no library dependencies for the netlink binding"
size=$(du -sk --apparent-size "$pkg" | cut -f1)
install -d "$pkg/DEBIAN"
cat >"$pkg/DEBIAN/control" <<CONTROL
Package: lvsd
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: nodejs (>= 20), $shlibs
Section: net
Priority: optional
Homepage: https://github.com/lvsd/lvsd
Description: declarative reconciler for Linux IPVS (LVS) with health checks
 lvsd reads one YAML file (or a directory of them) declaring virtual services
 and their real servers, validates it, reads the kernel's IPVS table over
 generic netlink, computes the smallest change and applies it. As a daemon it
 keeps the table converged: health checks (tcp, http, https, udp, dns, smtp,
 exec) take failing real servers out and put them back, edits are reloaded
 by themselves, and changes made by others are repaired. It serves Prometheus
 metrics and a status page, and never flushes the table.
 .
 It needs Node.js 20 or newer: Debian 13 (trixie) ships it; on Debian 12 it
 comes from NodeSource (deb.nodesource.com).
CONTROL
echo /etc/lvsd/lvsd.yaml >"$pkg/DEBIAN/conffiles"
for script in postinst prerm postrm; do install -m 755 "$here/$script" "$pkg/DEBIAN/$script"; done
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
  xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"
chmod 644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/conffiles" "$pkg/DEBIAN/md5sums"

mkdir -p "$out"
deb=$(cd "$out" && pwd)/lvsd_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
