#!/usr/bin/env bash
# The Debian package: scripts/build-deb.sh builds it (one dpkg-buildpackage
# run), and it holds the binary, the unit, the config as a conffile, the
# example programs and the man pages, and enables the unit on install.
#   deb_test.sh SOURCE_DIR
set -uo pipefail
source "$(dirname "$0")/check.sh"
out=$(mktemp -d /tmp/yinetd-debtest-XXXXXX)
trap 'rm -rf "$out"' EXIT

if ! "$1/scripts/build-deb.sh" "$out" >"$out/build.log" 2>&1; then
  tail -40 "$out/build.log"
  check "the package builds" false
  finish
  exit 1
fi
deb=$(ls "$out"/yinetd_*.deb)
check "the package builds" test -f "$deb"
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for path in ./usr/sbin/yinetd ./lib/systemd/system/yinetd.service ./etc/yinetd/yinetd.yaml \
    ./etc/yinetd/conf.d/ ./usr/libexec/yinetd/upper.sh ./usr/share/man/man8/yinetd.8.gz \
    ./usr/share/man/man5/yinetd.yaml.5.gz ./usr/share/doc/yinetd/examples/yinetd.socket \
    ./usr/share/doc/yinetd/examples/conf.d/examples.yaml ./usr/share/doc/yinetd/README.md.gz \
    ./usr/share/doc/yinetd/changelog.gz ./usr/share/bash-completion/completions/yinetd; do
  check "the package holds $path" grep -qx "$path" <<<"$contents"
done
check "the config is a conffile" grep -qx /etc/yinetd/yinetd.yaml <(dpkg-deb -I "$deb" conffiles)
check "postinst enables the unit" grep -q "deb-systemd-helper enable 'yinetd.service'" <(dpkg-deb -I "$deb" postinst)
check "the unit does not restart after a config error" \
  grep -qx "RestartPreventExitStatus=1" <(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./lib/systemd/system/yinetd.service)
check "the package depends on libsystemd" grep -q libsystemd0 <(dpkg-deb -f "$deb" Depends)
unpacked=$out/unpacked
dpkg-deb -x "$deb" "$unpacked"
check "the packaged binary runs" bash -c '"$0" --version | grep -q "^yinetd "' "$unpacked/usr/sbin/yinetd"
# The installed config starts no network service: its only listener is the
# metrics, on 127.0.0.1.
listens=$(grep -E '^ *listen:' "$unpacked/etc/yinetd/yinetd.yaml" | awk '{print $2}' | paste -sd' ')
check "the installed config listens on 127.0.0.1:7090 only" test "$listens" = "127.0.0.1:7090"
check "the example conf.d file names the installed programs" \
  grep -q "program: /usr/libexec/yinetd/upper.sh" "$unpacked/usr/share/doc/yinetd/examples/conf.d/examples.yaml"
finish
