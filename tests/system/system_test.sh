#!/usr/bin/env bash
# README.md's "Running under systemd", walked under a real systemd: builds
# the package, boots Debian 12 with systemd as PID 1 in systemd-nspawn
# (--private-network: only the container's own loopback), installs the
# package with apt inside and checks what the README promises, step by
# step. tests/system/README.md says what it needs and why it may skip.
#   system_test.sh SOURCE_DIR
# Ends with "N passed, M failed"; exit 77 (meson's skip) with one
# "SKIP: reason" line when this machine cannot run it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../packaging/check.sh"
source_dir=$1
suite=bookworm
# Outside the source tree, kept between runs: debootstrap takes minutes.
cache=${YINETD_SYSTEST_CACHE:-/var/cache/yinetd-systest}
started=$SECONDS

skip() {
  echo "SKIP: $*"
  exit 77
}

[[ $(id -u) -eq 0 ]] || skip "needs root: debootstrap and systemd-nspawn run as root"
for tool in systemd-nspawn debootstrap nsenter dpkg-buildpackage flock; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup.sh installs it)"
done

work=$(mktemp -d /tmp/yinetd-systest-XXXXXX)
nspawn_pid=""
leader=""

# The container's systemd powers off on nspawn's SIGTERM; if it has not
# within 30 s, SIGKILL to nspawn and to the container's PID 1 ends every
# process in its pid namespace.
powered_off=0
stop_container() {
  [[ -n $nspawn_pid ]] || return 0
  powered_off=1
  kill -TERM "$nspawn_pid" 2>/dev/null
  local i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$nspawn_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$nspawn_pid" 2>/dev/null; then
    echo "the container did not power off in 30 s: killing it" >&2
    powered_off=0
    [[ -n $leader ]] && kill -KILL "$leader" 2>/dev/null
    kill -KILL "$nspawn_pid" 2>/dev/null
  fi
  wait "$nspawn_pid" 2>/dev/null
  nspawn_pid=""
}

overlay=0
cleanup() {
  stop_container
  ((overlay)) && umount "$work/root"
  rm -rf "$work"
}
trap cleanup EXIT

# --- the package and the root file system ----------------------------------

# The archive the machine's apt already uses for $suite: deb822 .sources
# first, then one-line .list entries.
mirror=$(awk -v suite="$suite" '
  /^[[:space:]]*$/ { uri = ""; types = "" }
  /^Types:/ { types = $0 }
  /^URIs:/ { uri = $2 }
  /^Suites:/ && uri != "" && types ~ / deb( |$)/ {
    for (i = 2; i <= NF; i++) if ($i == suite) { print uri; exit }
  }' /etc/apt/sources.list.d/*.sources 2>/dev/null)
if [[ -z $mirror ]]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    sed 's/\[[^]]*\]//' | awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }')
fi
[[ -n $mirror ]] || skip "no deb source for $suite in /etc/apt/sources.list(.d): debootstrap needs an archive"

# YINETD_SYSTEST_DEB: a package built already (by scripts/build-deb.sh from
# this tree), to walk again without building it again.
if [[ -n ${YINETD_SYSTEST_DEB:-} ]]; then
  mkdir "$work/deb" && cp "$YINETD_SYSTEST_DEB" "$work/deb/" ||
    { check "YINETD_SYSTEST_DEB names a package" false; finish; exit 1; }
elif ! DEB_BUILD_OPTIONS="parallel=$(nproc)" "$source_dir/scripts/build-deb.sh" "$work/deb" \
    >"$work/build-deb.log" 2>&1; then
  tail -40 "$work/build-deb.log"
  check "the package builds" false
  finish
  exit 1
fi
deb=$(ls "$work"/deb/yinetd_*.deb)
echo "package ready in $((SECONDS - started)) s"

# systemd as PID 1, and the package's dependencies, so that apt installs
# the .deb inside the container without a network. The root is cached by
# this list: a new dependency makes a new root.
# debootstrap takes real packages only: a virtual one (libspdlog1.10-fmt9)
# becomes the package that provides it, as the host's apt knows it.
real_package() {
  # Not grep -q: apt-cache would die of SIGPIPE, failing the pipeline.
  if apt-cache show --no-all-versions "$1" 2>/dev/null | grep '^Package:' >/dev/null; then
    echo "$1"
  else
    apt-cache showpkg "$1" | awk '/^Reverse Provides:/ { getline; print $1; exit }'
  fi
}
depends=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/[[:space:]]//g' | grep .)
packages=$(for p in systemd systemd-sysv dbus $depends; do real_package "$p"; done | sort -u | paste -sd,)
key=$(printf '%s\n' "$suite" minbase "$mirror" "$packages" | sha256sum | cut -c1-16)
mkdir -p "$cache"
exec {lock}>"$cache/$key.lock"
flock -w 900 "$lock" || skip "another run has held $cache/$key.lock for 15 minutes"
if [[ ! -e $cache/$key/complete ]]; then
  rm -rf "${cache:?}/$key"
  mkdir -p "$cache/$key"
  echo "debootstrap --variant=minbase --include=$packages $suite from $mirror (cached as $cache/$key)"
  if ! debootstrap --variant=minbase --include="$packages" "$suite" "$cache/$key/root" "$mirror" \
      >"$cache/$key/debootstrap.log" 2>&1; then
    reason=$(grep -E '^(E|W):' "$cache/$key/debootstrap.log" | tail -1)
    rm -rf "${cache:?}/$key"
    # An archive out of reach is this machine's; anything else is ours.
    if grep -q "Failed getting release file" <<<"$reason"; then
      skip "debootstrap $suite from $mirror failed ($reason): no root file system to boot"
    fi
    check "debootstrap $suite ($reason)" false
    finish
    exit 1
  fi
  touch "$cache/$key/complete"
fi
flock -u "$lock"
# The container writes to an overlay on the cached root, which stays as
# debootstrap left it (a copy would take a minute).
root=$work/root
mkdir "$root" "$work/upper" "$work/overlay-work"
if mount -t overlay overlay -o "lowerdir=$cache/$key/root,upperdir=$work/upper,workdir=$work/overlay-work" \
    "$root" 2>/dev/null; then
  overlay=1
else
  echo "no overlayfs: copying the root"
  cp -a "$cache/$key/root/." "$root"
fi
install -m 0755 "$here/client.sh" "$root/usr/local/bin/systest-client"
cp "$deb" "$root/root/"
echo "root ready in $((SECONDS - started)) s"

# --- the container -------------------------------------------------------

# A command inside the container, in all its namespaces, with a clean
# environment.
ct() {
  nsenter --target "$leader" --all --root --wd -- env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

# --register=no and --keep-unit: no systemd is our PID 1 here, so there is
# no bus to register the machine or make a scope on; without them nspawn
# stops at "Failed to open system bus".
systemd-nspawn --quiet --directory="$root" --machine=yinetd-systest --private-network \
  --register=no --keep-unit --boot --console=read-only >"$work/console.log" 2>&1 &
nspawn_pid=$!
# The container's PID 1 is the child of nspawn that runs systemd.
for ((i = 0; i < 300; i++)); do
  kill -0 "$nspawn_pid" 2>/dev/null || break
  for pid in $(cat /proc/"$nspawn_pid"/task/*/children 2>/dev/null); do
    [[ $(cat /proc/"$pid"/comm 2>/dev/null) == systemd ]] && leader=$pid
  done
  [[ -n $leader ]] && break
  sleep 0.1
done
# Until systemd has made its private socket, systemctl cannot connect:
# ask again until it answers; --wait then waits out the boot itself.
state=""
for ((i = 0; i < 900; i++)); do
  [[ -n $leader ]] || break
  state=$(ct timeout 90 systemctl is-system-running --wait 2>&1)
  # Not up yet: no bus, or a manager systemctl does not reach yet
  # ("offline", seen once in CI, booted on the next try).
  [[ $state == *"Failed to connect to bus"* || $state == offline ]] || break
  sleep 0.1
done
if [[ $state != running && $state != degraded ]]; then
  reason=$(grep -v '^$' "$work/console.log" | tail -3 | tr '\n' ' ')
  skip "systemd did not boot in systemd-nspawn (state '${state:-no PID 1}'): $reason"
fi
echo "booted in $((SECONDS - started)) s"

# --- helpers for the walk ---------------------------------------------------

# cursor: writes a mark to the journal and prints its cursor, once journald
# has it. journal_after CURSOR [ARGS] prints what came after the mark
# (message text only). Not --after-cursor: journalctl 252 skips the first
# entry after a cursor its filters do not match, taking it for the cursor's
# own; --cursor with a mark no filter matches leaves nothing out.
marks=0
cursor() {
  marks=$((marks + 1))
  ct systemd-cat -t systest-mark echo "mark $marks"
  local i out
  for ((i = 0; i < 100; i++)); do
    out=$(ct journalctl -q -n 1 -t systest-mark --show-cursor -o cat)
    if [[ $(head -1 <<<"$out") == "mark $marks" ]]; then
      sed -n 's/^-- cursor: //p' <<<"$out"
      return
    fi
    sleep 0.1
  done
  echo "the journal never got mark $marks" >&2
}
journal_after() {
  local mark=$1
  shift
  ct journalctl -q --no-pager -o cat --cursor="$mark" "$@"
}
# Waits up to 10 s for a line matching PATTERN after CURSOR (journald may
# take a moment), then prints what came after CURSOR.
wait_journal() {
  local after=$1 pattern=$2 i
  shift 2
  for ((i = 0; i < 100; i++)); do
    journal_after "$after" "$@" | grep -q -- "$pattern" && break
    sleep 0.1
  done
  journal_after "$after" "$@"
}
answer() { ct systest-client "$@"; }
show() { ct systemctl show -p "$2" --value "$1"; }
# Writes stdin to PATH inside the container.
put() { ct sh -c "cat > '$1'"; }
has_line() { grep -q -- "$1" <<<"$2" || { echo "  no line matching '$1' in:" >&2; sed 's/^/    /' <<<"$2" >&2; return 1; }; }
lacks_line() { ! grep -q -- "$1" <<<"$2" || { echo "  unexpected '$1' in:" >&2; sed 's/^/    /' <<<"$2" >&2; return 1; }; }
equals() { [[ $1 == "$2" ]] || { echo "  got '$1', want '$2'" >&2; return 1; }; }
fails() { ! "$@"; }

# --- installing: the package starts no network service ----------------------

deb_name=$(basename "$deb")
if ! ct apt-get install -y "/root/$deb_name" >"$work/apt-install.log" 2>&1; then
  tail -20 "$work/apt-install.log"
  check "apt installs the package offline" false
  finish
  exit 1
fi
check "apt installs the package" true
check "the unit is enabled on install" equals "$(ct systemctl is-enabled yinetd)" enabled
check "the unit is started on install" equals "$(ct systemctl is-active yinetd)" active
# Every listening TCP socket in the container (state 0A): only the metrics,
# on 127.0.0.1:7090 (hex 0100007F:1BB2); no UDP socket, nothing on IPv6.
listening=$(ct cat /proc/net/tcp /proc/net/tcp6 | awk '$4 == "0A" { print $2 }' | sort | paste -sd' ')
check "installing listens on 127.0.0.1:7090 only" equals "$listening" "0100007F:1BB2"
check "installing opens no UDP socket" equals "$(ct cat /proc/net/udp /proc/net/udp6 | awk 'NR > 1 && $2 !~ /^local/' | grep -c ':')" 0
config=$(ct cat /etc/yinetd/yinetd.yaml)
check "the installed config says how to add services" has_line "cp /usr/share/doc/yinetd/examples/conf.d/examples.yaml /etc/yinetd/conf.d/" "$config"
check "the metrics answer on 127.0.0.1" has_line "^HTTP/1.[01] 200" "$(answer 7090 'GET /metrics HTTP/1.0\r\n\r\n')"
for path in /usr/share/doc/yinetd/README.md.gz /usr/share/doc/yinetd/changelog.gz \
    /usr/share/doc/yinetd/examples/conf.d/examples.yaml /usr/share/doc/yinetd/examples/yinetd.socket \
    /usr/share/bash-completion/completions/yinetd; do
  check "the package installs $path" ct test -f "$path"
done

# --- enable --now, readiness and STATUS= -------------------------------------

ct systemctl disable --now yinetd >/dev/null 2>&1
check "systemctl enable --now yinetd" ct systemctl enable --now yinetd
check "the unit is Type=notify" equals "$(show yinetd Type)" notify
check "enable --now waits for READY=1: active/running" equals "$(show yinetd ActiveState)/$(show yinetd SubState)" active/running
check "systemctl status shows the STATUS= line" has_line "Status: \"serving 1 service, 0 running\"" "$(ct systemctl status --no-pager yinetd)"
check "the pid file names the main pid" equals "$(ct cat /run/yinetd/yinetd.pid)" "$(show yinetd MainPID)"

# --- the example services, added with a reload ------------------------------

# ExecReload is `yinetd ctl reload` once the control socket exists (issue
# 15 section 2); until then it is SIGHUP, which cannot report a refused config.
reload_command=$(show yinetd ExecReload)
reload_reports=0
grep -q "ctl reload" <<<"$reload_command" && ct /usr/sbin/yinetd ctl --help >/dev/null 2>&1 && reload_reports=1

mark=$(cursor)
ct cp /usr/share/doc/yinetd/examples/conf.d/examples.yaml /etc/yinetd/conf.d/
check "yinetd --check accepts the examples" ct yinetd --check
check "systemctl reload applies the examples" ct systemctl reload yinetd
check "the reload is logged as ok, 4 services added" has_line "event=reload result=ok added=4 removed=0" \
  "$(wait_journal "$mark" "event=reload" -u yinetd)"
check "echo answers" equals "$(answer 7007 'hi\n')" hi
check "upper answers" equals "$(answer 7011 'shout\n')" SHOUT
check "http answers" has_line "^HTTP/1.[01] 200" "$(answer 7080 'GET / HTTP/1.0\r\n\r\n')"
check "status answers" answer 7012
check "STATUS= counts the new services" has_line "serving 5 services" "$(show yinetd StatusText)"

# --- add a service and reload ------------------------------------------------

put /etc/yinetd/conf.d/daytime.yaml <<'EOF'
services:
  - name: daytime
    listen: 127.0.0.1:7013
    builtin: daytime
EOF
check "systemctl reload adds a service" ct systemctl reload yinetd
check "the added service answers" has_line "20[0-9][0-9]$" "$(answer 7013)"
check "kill -HUP \$(cat /run/yinetd/yinetd.pid) reloads (README recipe)" \
  ct sh -c 'kill -HUP "$(cat /run/yinetd/yinetd.pid)"'
check "yinetd --reload --pidfile /run/yinetd/yinetd.pid reloads (README recipe)" \
  ct yinetd --reload --pidfile /run/yinetd/yinetd.pid

# --- a broken config on reload: the old one keeps serving -------------------

mark=$(cursor)
put /etc/yinetd/conf.d/broken.yaml <<'EOF'
services:
  - name: broken
    listen: 127.0.0.1:7014
    program: /bin/cat
    usr: nobody
EOF
check "yinetd --check names the problem as FILE:LINE:COLUMN" has_line \
  "^/etc/yinetd/conf.d/broken.yaml:5:5: error: unknown key 'usr'" "$(ct yinetd --check)"
if ((reload_reports)); then
  check "systemctl reload fails on a refused config" fails ct systemctl reload yinetd
else
  echo "SKIP step: 'systemctl reload fails on a refused config': the unit's ExecReload ($reload_command)" \
    "is not 'yinetd ctl reload' with a working ctl command (issue 15 section 2 not merged), and a" \
    "signal cannot report a refused config"
  ct systemctl reload yinetd
fi
check "the refused reload is logged at error priority with FILE and LINE" has_line \
  "event=reload result=error.*file=/etc/yinetd/conf.d/broken.yaml line=5" \
  "$(wait_journal "$mark" "result=error" -u yinetd -p err)"
check "after a refused reload the old config still serves" equals "$(answer 7007 'still\n')" still
check "after a refused reload yinetd is still active" equals "$(show yinetd ActiveState)" active

# --- a broken config on restart: error priority, no restart loop ------------

mark=$(cursor)
check "systemctl restart fails on a broken config" fails ct systemctl restart yinetd
# Restart=on-failure would start again after RestartSec=100ms; give it 3 s.
sleep 3
check "a config error does not make systemd restart (NRestarts=0)" equals "$(show yinetd NRestarts)" 0
check "the unit is failed, not activating again" equals "$(show yinetd ActiveState)" failed
errors=$(wait_journal "$mark" "broken.yaml:5:5" -u yinetd -p err)
check "journalctl -p err shows FILE:LINE:COLUMN" has_line "/etc/yinetd/conf.d/broken.yaml:5:5: error: unknown key 'usr'" "$errors"
check "the check ran once, not in a loop" equals "$(grep -c 'broken.yaml:5:5: error' <<<"$errors")" 1
check "yinetd's own refusal is at error priority too" has_line \
  "event=config_error file=/etc/yinetd/conf.d/broken.yaml line=5 column=5" "$errors"
# The old yinetd's shutdown lines (event=stop) are info: -p warning drops
# them and keeps the errors.
warnings=$(journal_after "$mark" -u yinetd -p warning)
check "journalctl -p warning keeps the errors" has_line "broken.yaml:5:5: error" "$warnings"
check "journalctl shows the info lines" has_line "event=stop exit_code=0" "$(journal_after "$mark" -u yinetd)"
check "journalctl -p warning leaves them out" lacks_line "event=stop" "$warnings"
ct rm /etc/yinetd/conf.d/broken.yaml
ct systemctl reset-failed yinetd
check "fixed, yinetd starts again" ct systemctl start yinetd

# --- systemctl stop ends programs within shutdown_grace ----------------------

ct sed -i 's/^shutdown_grace: .*/shutdown_grace: 2/' /etc/yinetd/yinetd.yaml
put /etc/yinetd/conf.d/stubborn.yaml <<'EOF'
services:
  - name: stubborn
    listen: 127.0.0.1:7015
    program: /bin/sh
    args: [-c, "trap '' TERM; echo started; exec sleep 300"]
EOF
ct systemctl reload yinetd
mark=$(cursor)
check "the stubborn program starts" equals "$(answer 7015)" started
pid=$(wait_journal "$mark" "event=accept service=stubborn" -u yinetd | sed -n 's/.*event=accept service=stubborn pid=\([0-9]*\).*/\1/p' | head -1)
check "its pid is logged" test -n "$pid"
stop_started=$SECONDS
check "systemctl stop yinetd" ct systemctl stop yinetd
stop_seconds=$((SECONDS - stop_started))
echo "systemctl stop took $stop_seconds s (shutdown_grace 2 s, TimeoutStopSec 90 s)"
stopped=$(wait_journal "$mark" "event=stop" -u yinetd)
check "the shutdown waits shutdown_grace" has_line "event=shutdown children=1 grace_ms=2000" "$stopped"
check "the program that ignored SIGTERM got SIGKILL" has_line "event=kill service=stubborn pid=$pid signal=SIGKILL" "$stopped"
check "yinetd stopped cleanly" has_line "event=stop exit_code=0" "$stopped"
check "systemd did not have to time out" equals "$(show yinetd Result)" success
check "no program is left running" fails ct test -d "/proc/${pid:-0}"
ct rm /etc/yinetd/conf.d/stubborn.yaml
ct sed -i 's/^shutdown_grace: .*/shutdown_grace: 10/' /etc/yinetd/yinetd.yaml

# --- socket activation with the shipped .socket unit --------------------------

ct cp /usr/share/doc/yinetd/examples/yinetd.socket /etc/systemd/system/
ct systemctl daemon-reload
check "systemctl enable --now yinetd.socket" ct systemctl enable --now yinetd.socket
check "the socket unit listens, yinetd is not running yet" equals "$(show yinetd ActiveState)" inactive
mark=$(cursor)
check "a connection starts yinetd, and echo answers" equals "$(answer 7007 'activated\n')" activated
check "yinetd adopted the socket for echo" has_line "event=adopt service=echo addr=127.0.0.1:7007" \
  "$(wait_journal "$mark" "event=adopt" -u yinetd)"
# Clients connect one after another while yinetd restarts: systemd keeps
# the socket open, so each one waits in the backlog instead of being refused.
restart_log=$(ct bash -c '
  for i in $(seq 1 30); do
    systest-client 7007 "ping $i\n" >/dev/null
    code=$?
    [ $code -eq 111 ] && echo "refused $i"
    [ $code -ne 0 ] && [ $code -ne 111 ] && echo "unanswered $i"
    sleep 0.05
  done &
  clients=$!
  sleep 0.3
  systemctl restart yinetd && echo restarted
  wait $clients')
check "restarting yinetd under clients works" has_line "^restarted$" "$restart_log"
check "no connection is refused across a restart" lacks_line "refused" "$restart_log"
echo "clients across the restart: $(grep -c unanswered <<<"$restart_log") of 30 connected but lost their answer to the shutdown"
ct systemctl disable --now yinetd.socket >/dev/null 2>&1
ct systemctl stop yinetd
ct rm /etc/systemd/system/yinetd.socket
ct systemctl daemon-reload
ct systemctl start yinetd

# --- user:, chroot:, nice and rlimits under the unit's hardening -------------

ct mkdir -p /srv/jail
ct sh -c 'cp -L --parents /bin/sh $(ldd /bin/sh | grep -o "/[^ ]*") /srv/jail/'
put /etc/yinetd/conf.d/privileges.yaml <<'EOF'
services:
  - name: as-nobody
    listen: 127.0.0.1:7020
    program: /usr/bin/id
    args: [-un]
  - name: as-daemon
    listen: 127.0.0.1:7021
    program: /usr/bin/id
    args: [-un]
    user: daemon
    group: daemon
  - name: jail
    listen: 127.0.0.1:7022
    program: /bin/sh
    args: [-c, "cd / && echo jailed: *"]
    chroot: /srv/jail
  - name: eager
    listen: 127.0.0.1:7023
    program: /usr/bin/nice
    nice: -5
EOF
mark=$(cursor)
check "systemctl restart with user/chroot/nice services" ct systemctl restart yinetd
check "user: nobody (the installed default) runs as nobody" equals "$(answer 7020)" nobody
check "user: daemon runs as daemon" equals "$(answer 7021)" daemon
check "chroot: runs inside the jail (CAP_SYS_CHROOT)" equals "$(answer 7022)" "jailed: bin lib lib64"
check "nice: -5 is applied (CAP_SYS_NICE)" equals "$(answer 7023)" -5
check "--check before the start warns of no missing capability" lacks_line "warning:" \
  "$(journal_after "$mark" -u yinetd)"
# A drop-in that takes CAP_SYS_CHROOT away: --check warns at warning
# priority, and the jail fails as the warning says.
ct mkdir -p /etc/systemd/system/yinetd.service.d
put /etc/systemd/system/yinetd.service.d/no-chroot.conf <<'EOF'
[Service]
CapabilityBoundingSet=~CAP_SYS_CHROOT
EOF
ct systemctl daemon-reload
mark=$(cursor)
ct systemctl restart yinetd
check "without CAP_SYS_CHROOT, --check warns at warning priority" has_line \
  "privileges.yaml:[0-9]*:5: warning: service 'jail': chroot needs CAP_SYS_CHROOT" \
  "$(wait_journal "$mark" "warning:" -u yinetd -p warning)"
check "without CAP_SYS_CHROOT, the jail does not answer" fails answer 7022
ct rm -r /etc/systemd/system/yinetd.service.d
ct systemctl daemon-reload
# Raising an rlimit needs CAP_SYS_RESOURCE, which the unit grants; whether
# the container has it depends on the host (nspawn keeps only what its own
# bounding set holds).
put /etc/yinetd/conf.d/limits.yaml <<'EOF'
services:
  - name: many-files
    listen: 127.0.0.1:7024
    program: /bin/sh
    args: [-c, "ulimit -Hn"]
    rlimits: {nofile: 100000}
EOF
mark=$(cursor)
ct systemctl restart yinetd
if ct grep -q '^CapBnd:' /proc/1/status && (( ($(ct awk '/^CapBnd:/ { print "0x" $2 }' /proc/1/status) >> 24) & 1 )); then
  check "rlimits above LimitNOFILE are applied (CAP_SYS_RESOURCE)" equals "$(answer 7024)" 100000
else
  check "without CAP_SYS_RESOURCE in the container, --check warns about rlimits.nofile" has_line \
    "warning: service 'many-files': rlimits.nofile above yinetd's hard limit needs CAP_SYS_RESOURCE" \
    "$(wait_journal "$mark" "warning:" -u yinetd -p warning)"
fi
ct rm /etc/yinetd/conf.d/limits.yaml /etc/yinetd/conf.d/privileges.yaml

# --- apt remove keeps the edited config, apt purge removes it ----------------

ct sh -c 'echo "# edited by the administrator" >> /etc/yinetd/yinetd.yaml'
check "apt-get remove" ct apt-get remove -y yinetd >/dev/null 2>&1
check "remove stops yinetd" fails ct systemctl -q is-active yinetd
check "remove takes the program" fails ct test -e /usr/sbin/yinetd
check "remove keeps the edited config" ct grep -q "edited by the administrator" /etc/yinetd/yinetd.yaml
check "apt-get purge" ct apt-get purge -y yinetd >/dev/null 2>&1
check "purge removes the config" fails ct test -e /etc/yinetd/yinetd.yaml
check "purge keeps the administrator's own conf.d files" ct test -f /etc/yinetd/conf.d/daytime.yaml

stop_container
check "the container powered off on SIGTERM" test "$powered_off" = 1
echo "system test ran in $((SECONDS - started)) s"
finish
