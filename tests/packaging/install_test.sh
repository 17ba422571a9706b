#!/usr/bin/env bash
# meson install: what lands where, the config kept on reinstall, the units
# verified by systemd-analyze, the man pages rendered by man -l.
#   install_test.sh BUILD_DIR
set -uo pipefail
source "$(dirname "$0")/check.sh"
build=$1
dest=$(mktemp -d /tmp/yinetd-install-XXXXXX)
trap 'rm -rf "$dest"' EXIT
prefix=$(meson introspect "$build" --buildoptions |
  python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
root=$dest$prefix
etc=$root/etc/yinetd
[[ $prefix == /usr ]] && etc=$dest/etc/yinetd

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null

has() { [[ -e $1 ]] || { echo "missing: $1" >&2; return 1; }; }
check "the binary is in sbin" test -x "$root/sbin/yinetd"
check "the config is in etc/yinetd" has "$etc/yinetd.yaml"
check "conf.d exists" test -d "$etc/conf.d"
check "the example programs are in libexec/yinetd" \
  test -x "$root/libexec/yinetd/upper.sh" -a -x "$root/libexec/yinetd/status.sh" -a -x "$root/libexec/yinetd/http-hello.sh"
unit=$(find "$dest" -name yinetd.service -path '*systemd/system*')
check "the service unit is installed" has "$unit"
check "the example socket unit is installed" has "$root/share/doc/yinetd/examples/yinetd.socket"
check "the example conf.d file is installed" has "$root/share/doc/yinetd/examples/conf.d/examples.yaml"
check "the README is installed" has "$root/share/doc/yinetd/README.md"
check "the bash completion is installed" has "$root/share/bash-completion/completions/yinetd"
check "yinetd(8) is installed" has "$root/share/man/man8/yinetd.8"
check "yinetd.yaml(5) is installed" has "$root/share/man/man5/yinetd.yaml.5"

# The installed config names the installed programs and passes --check once
# pointed at the staging directory.
check "the example conf.d file points at libexec/yinetd" \
  grep -q "program: $prefix/libexec/yinetd/upper.sh" "$root/share/doc/yinetd/examples/conf.d/examples.yaml"
check "the installed config serves only the metrics" \
  test "$(grep -E '^ *listen:' "$etc/yinetd.yaml" | awk '{print $2}' | paste -sd' ')" = "127.0.0.1:7090"
staged=$dest/staged.yaml
sed "s|$prefix/libexec/|$root/libexec/|" "$etc/yinetd.yaml" > "$staged"
if [[ $(id -u) -ne 0 ]]; then sed -i '/^  user:\|^  group:/d' "$staged"; fi  # switching users needs root
check "the installed config passes --check" "$root/sbin/yinetd" --check -c "$staged"
# With the examples dropped into conf.d/ (beside the staged copy), as the
# installed config says.
mkdir -p "$dest/conf.d"
sed "s|$prefix/libexec/|$root/libexec/|" "$root/share/doc/yinetd/examples/conf.d/examples.yaml" > "$dest/conf.d/examples.yaml"
check "the installed config with the examples passes --check" "$root/sbin/yinetd" --check -c "$staged"
check "... and serves five services" grep -q "OK, 5 service(s)" <("$root/sbin/yinetd" --check -c "$staged")
rm -r "$dest/conf.d"

echo "# edited by the administrator" >> "$etc/yinetd.yaml"
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
check "reinstalling keeps an edited config" grep -q "edited by the administrator" "$etc/yinetd.yaml"

# systemd-analyze needs the ExecStart binary to exist: point it at the
# staged one. MANPATH lets it check Documentation=man:... too.
units=$dest/units
mkdir "$units"
sed "s|$prefix/sbin/yinetd|$root/sbin/yinetd|g" "$unit" > "$units/yinetd.service"
cp "$root/share/doc/yinetd/examples/yinetd.socket" "$units/"
check "systemd-analyze verify accepts the units" \
  env MANPATH="$root/share/man" systemd-analyze verify "$units/yinetd.service" "$units/yinetd.socket"
check "the service unit is Type=notify with --check before start" \
  grep -q "^Type=notify" "$units/yinetd.service"
check "ExecStartPre runs --check" grep -q "^ExecStartPre=-$prefix/sbin/yinetd --check" "$unit"
check "a config error (exit 1) is not restarted" grep -qx "RestartPreventExitStatus=1" "$unit"
for capability in CAP_SYS_CHROOT CAP_SYS_NICE CAP_SYS_RESOURCE CAP_SETUID CAP_SETGID; do
  check "the unit grants $capability" grep -q "^CapabilityBoundingSet=.*$capability" "$unit"
done
# The check catches a broken unit: a missing ExecStart program fails it.
sed "s|^ExecStart=$root/sbin/yinetd|ExecStart=/nonexistent/yinetd|" "$units/yinetd.service" > "$units/broken.service"
check "systemd-analyze verify rejects a broken unit" \
  bash -c '! env MANPATH="$0" systemd-analyze verify "$1" 2>/dev/null' "$root/share/man" "$units/broken.service"

render() { MANWIDTH=100 man -l "$1" 2>&1; }
page8=$(render "$root/share/man/man8/yinetd.8")
page5=$(render "$root/share/man/man5/yinetd.yaml.5")
for section in NAME SYNOPSIS OPTIONS SIGNALS ENVIRONMENT "EXIT STATUS" FILES; do
  check "yinetd(8) has $section" grep -q "^$section" <<<"$page8"
done
check "yinetd(8) names the notify and activation variables" \
  grep -q "LISTEN_FDNAMES" <<<"$page8"
for key in services log.level log.target shutdown_grace defaults name listen program args env user group stderr; do
  check "yinetd.yaml(5) documents $key" grep -Eq "^ {7}$key( |$)" <<<"$page5"
done
# troff's warnings start at column 0; the pages' own text (which may say
# "warning") is indented.
check "man renders without warnings" bash -c '! grep -qiE "^[^ ].*warning" <<<"$0$1"' "$page8" "$page5"
finish
