#!/usr/bin/env bash
# Builds mcr_<version>_<arch>.deb from a built tree (`npm run package` runs
# `npm run build` first), with dpkg-deb alone:
#   /opt/mcr        package.json, dist/ (shipped folders only, no tests,
#                   bench or source maps), build/Release (the addon and the
#                   native tools), node_modules (production dependencies:
#                   npm ci --omit=dev, without install scripts)
#   /usr/bin        mcrd, mcrctl (sh wrappers running /usr/bin/node),
#                   mcrgen, mcrsink (links to the native tools)
#   /usr/lib        systemd units, sysusers.d, tmpfiles.d, sysctl.d (not
#                   applied on install)
#   /etc/mcr        mcrd.json5, a conffile with no rules
#   /etc/logrotate.d  mcr: weekly rotation of the worker logs (a conffile;
#                   the package recommends logrotate)
#   /usr/share      man pages made from each command's --help, docs
#
#   packaging/build-deb.sh [--out DIR]     (default: the repository root)
# MCR_MAINTAINER sets the package's Maintainer field.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$repo
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$(cd "$2" && pwd); shift 2 ;;
    *) echo "build-deb.sh: unknown argument $1 (usage: build-deb.sh [--out DIR])" >&2; exit 2 ;;
  esac
done
for tool in dpkg-deb dpkg npm node gzip; do
  command -v "$tool" >/dev/null || { echo "build-deb.sh: ENOENT: $tool is missing: install it (apt-get install dpkg gzip, or Node.js for npm/node)" >&2; exit 1; }
done
for f in dist/supervisor/mcrd.js dist/tools/mcrctl.js build/Release/mcr_native.node build/Release/mcrgen build/Release/mcrsink build/Release/mcrinject; do
  [ -e "$repo/$f" ] || { echo "build-deb.sh: ENOENT: $f is missing: build first (npm ci, or npm run build)" >&2; exit 1; }
done

version=$(node -p "require('$repo/package.json').version")
arch=$(dpkg --print-architecture)
deb="$out/mcr_${version}_${arch}.deb"
stage=$(mktemp -d /tmp/mcr-deb.XXXXXX)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
opt=$root/opt/mcr

# --- /opt/mcr ---
mkdir -p "$opt/dist" "$opt/build/Release"
cp "$repo/package.json" "$repo/package-lock.json" "$opt/"
# Only the .js of a .ts that exists: a stale file left in dist/ by a source
# since removed is not shipped.
(cd "$repo/dist" && find common native proto supervisor tools worker -name '*.js' | while read -r js; do
  if [ -e "$repo/${js%.js}.ts" ]; then echo "$js"; fi
done | xargs cp --parents -t "$opt/dist")
cp "$repo"/build/Release/{mcr_native.node,mcrgen,mcrsink,mcrinject} "$opt/build/Release/"
# Production dependencies only, from the lock file; --ignore-scripts: the
# package's own install script would rebuild the addon, and no dependency
# needs one. --prefer-offline: the cache that `npm ci` filled is enough.
(cd "$opt" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)
rm -f "$opt/node_modules/.package-lock.json"
# Source maps and type declarations are never loaded at run time: a third
# fewer files to unpack.
find "$opt/node_modules" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

# --- /usr/bin ---
mkdir -p "$root/usr/bin"
for cmd in mcrd:supervisor/mcrd.js mcrctl:tools/mcrctl.js; do
  name=${cmd%%:*}
  cat > "$root/usr/bin/$name" <<WRAPPER
#!/bin/sh
# $name of the mcr package: /opt/mcr/dist/${cmd#*:} under Debian's node.
exec /usr/bin/node /opt/mcr/dist/${cmd#*:} "\$@"
WRAPPER
  chmod 755 "$root/usr/bin/$name"
done
ln -s /opt/mcr/build/Release/mcrgen "$root/usr/bin/mcrgen"
ln -s /opt/mcr/build/Release/mcrsink "$root/usr/bin/mcrsink"

# --- /usr/lib: units, users, runtime dir, sysctl ---
install -D -m 644 "$repo/packaging/systemd/mcrd.service" "$root/usr/lib/systemd/system/mcrd.service"
install -D -m 644 "$repo/packaging/systemd/mcrd@.service" "$root/usr/lib/systemd/system/mcrd@.service"
install -D -m 644 "$repo/packaging/sysusers.d/mcr.conf" "$root/usr/lib/sysusers.d/mcr.conf"
install -D -m 644 "$repo/packaging/tmpfiles.d/mcr.conf" "$root/usr/lib/tmpfiles.d/mcr.conf"
for conf in "$repo"/packaging/sysctl.d/*.conf; do
  [ -e "$conf" ] || continue
  install -D -m 644 "$conf" "$root/usr/lib/sysctl.d/$(basename "$conf")"
done

# --- /etc/mcr, /etc/logrotate.d ---
install -D -m 644 "$repo/packaging/mcrd.json5" "$root/etc/mcr/mcrd.json5"
install -D -m 644 "$repo/packaging/logrotate.d/mcr" "$root/etc/logrotate.d/mcr"

# --- docs and man pages ---
doc=$root/usr/share/doc/mcr
mkdir -p "$doc"
cp "$repo/README.md" "$doc/"
cp -r "$repo"/docs/. "$doc/"
cat > "$doc/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: mcr
Comment: The npm dependencies under /opt/mcr/node_modules carry their own
 licence files beside them.

Files: *
Copyright: the MCR authors
License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in
 all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 SOFTWARE.
COPYRIGHT

# A man page per command: its --help text (what the program itself says),
# with a pointer to the full docs.
man_page() { # name section summary doc help-command...
  local name=$1 section=$2 summary=$3 docfile=$4
  shift 4
  local page="$root/usr/share/man/man$section/$name.$section"
  mkdir -p "$(dirname "$page")"
  {
    printf '.TH %s %s "" "mcr %s" "MCR"\n' "${name^^}" "$section" "$version"
    printf '.SH NAME\n%s \\- %s\n.SH SYNOPSIS\n.nf\n' "$name" "$summary"
    # roff: backslashes escaped, lines starting with . or ' protected.
    "$@" 2>&1 | sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
    printf '.fi\n.SH SEE ALSO\n/usr/share/doc/mcr/%s, /usr/share/doc/mcr/deploy.md\n' "$docfile"
  } > "$page"
  gzip -9n "$page"
}
man_page mcrd 8 'MCR multicast relay daemon' mcrd.md node "$repo/dist/supervisor/mcrd.js" --help
man_page mcrctl 8 'control a running mcrd' mcrctl.md node "$repo/dist/tools/mcrctl.js" --help
man_page mcrgen 1 'send numbered, checksummed UDP test packets' tools.md "$repo/build/Release/mcrgen" --help
man_page mcrsink 1 'receive and check mcrgen packets' tools.md "$repo/build/Release/mcrsink" --help

# --- DEBIAN ---
mkdir -p "$root/DEBIAN"
install -m 755 "$repo"/packaging/debian/{postinst,prerm,postrm} "$root/DEBIAN/"
printf "%s\n" /etc/logrotate.d/mcr /etc/mcr/mcrd.json5 > "$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: mcr
Version: $version
Architecture: $arch
Maintainer: ${MCR_MAINTAINER:-MCR maintainers <root@localhost>}
Installed-Size: $size
Section: net
Priority: optional
Depends: nodejs (>= 20), liburing2, iproute2, libc6, libstdc++6, systemd | adduser
Recommends: logrotate
Description: userspace multicast relay with an io_uring data plane
 MCR receives UDP multicast (or unicast) on one interface with a raw
 AF_PACKET socket and re-sends each datagram to other groups, ports,
 interfaces or unicast hosts, without the kernel's reverse-path check.
 mcrd runs one worker per core per input interface; mcrctl changes rules
 at run time. Units mcrd.service and mcrd@.service (one per network
 namespace); see /usr/share/doc/mcr/deploy.md.
CONTROL
# Directories 0755, files 0644 unless executable: the worker user (mcr)
# and group-mcr operators read /opt/mcr.
find "$root" -type d -exec chmod 755 {} +
find "$root" -type f ! -perm -u+x -exec chmod 644 {} +
mkdir -p "$out"
# gzip: a few seconds less than xz on a busy 2-core host, for 10 % more bytes.
dpkg-deb --root-owner-group -Zgzip -z9 --build "$root" "$deb" >/dev/null
echo "$deb"
