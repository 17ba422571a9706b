#!/usr/bin/env bash
# Builds the Debian package from this checkout:
#   scripts/build-deb.sh [OUTDIR]        (default OUTDIR: dist/)
# Copies the tracked and new files to a scratch directory with
# packaging/debian/ as debian/, runs `dpkg-buildpackage -b -us -uc` there,
# and leaves yinetd_VERSION_ARCH.deb in OUTDIR. Needs the Build-Depends of
# packaging/debian/control (scripts/setup.sh installs them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$root/dist}" && cd "${1:-$root/dist}" && pwd)
scratch=$(mktemp -d /tmp/yinetd-deb-XXXXXX)
trap 'rm -rf "$scratch"' EXIT

mkdir "$scratch/yinetd"
(cd "$root" && git ls-files -co --exclude-standard -z | grep -zv '^packaging/debian/') |
  (cd "$root" && xargs -0 cp --parents -t "$scratch/yinetd")
cp -r "$root/packaging/debian" "$scratch/yinetd/debian"

(cd "$scratch/yinetd" && DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -b -us -uc)
cp "$scratch"/*.deb "$out"/
ls "$out"/*.deb
