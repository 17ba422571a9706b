#!/usr/bin/env bash
# The full comparison, on demand (not in CI): yinetd against the classic
# superservers, one after another on 127.0.0.1, all serving
# build/bench/tiny_service, each with its limits raised so it does not
# throttle. For every server, concurrency and repetition it records loadgen's
# figures, the supervisor's peak RSS under load and its zombie children
# after; then it writes bench/results/<stamp>.json (and latest.json), a
# markdown table (bench/results/latest.md) and docs/benchmarks.svg.
#
#   bench/compare.sh [--runs N] [--duration S] [--concurrency "1 16 64"]
#                    [--servers "yinetd tcpserver ..."] [--build DIR]
#
# Installs what is missing from Debian's packages: ucspi-tcp (tcpserver),
# xinetd, ipsvd (tcpsvd), socat, gnuplot-nox. openbsd-inetd conflicts with
# xinetd, so it is `apt-get download`ed and unpacked into a temp dir instead.
# Every process it starts is stopped on exit; every wait is bounded.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
runs=3
duration=2
concurrency_levels="1 16 64"
servers="yinetd tcpserver tcpsvd xinetd inetd socat"

while (($# > 0)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --concurrency) concurrency_levels=$2; shift 2 ;;
    --servers) servers=$2; shift 2 ;;
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    *) echo "usage: $0 [--runs N] [--duration S] [--concurrency LIST] [--servers LIST] [--build DIR]" >&2; exit 2 ;;
  esac
done

reply='hello from tiny\n'
tmp=$(mktemp -d /tmp/yinetd-bench.XXXXXX)
server_pid=""

log() { echo "compare: $*" >&2; }

# ---- cleanup: the server under test, its children, the temp dir ----------

stop_server() {
  [[ -n $server_pid ]] || return 0
  local children
  children=$(ps -o pid= --ppid "$server_pid" 2>/dev/null || true)
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  # Programs it started and left behind (their pids, not a name pattern).
  for child in $children; do kill -KILL "$child" 2>/dev/null || true; done
  server_pid=""
}

cleanup() {
  stop_server
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- dependencies ---------------------------------------------------------

apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  ((${#missing[@]} == 0)) && return 0
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  log "installing ${missing[*]}"
  $sudo apt-get update -qq
  # policy-rc.d or not, xinetd's package must not leave a daemon running:
  # the benchmark runs its own copy in the foreground.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_inetd() {
  if dpkg-query -W -f='${Status}' openbsd-inetd 2>/dev/null | grep -q "install ok installed"; then
    inetd_bin=/usr/sbin/inetd
    return
  fi
  mkdir -p "$tmp/openbsd-inetd"
  (cd "$tmp/openbsd-inetd" && apt-get download -qq openbsd-inetd 2>/dev/null)
  dpkg-deb -x "$tmp"/openbsd-inetd/openbsd-inetd_*.deb "$tmp/openbsd-inetd/root"
  inetd_bin=$tmp/openbsd-inetd/root/usr/sbin/inetd
}

apt_install ucspi-tcp xinetd ipsvd socat gnuplot-nox procps iproute2
find_inetd
ninja -C "$build" src/yinetd bench/loadgen bench/tiny_service bench/spawn_limit >/dev/null
yinetd_bin=$build/src/yinetd
loadgen=$build/bench/loadgen
tiny=$build/bench/tiny_service
spawn_limit=$build/bench/spawn_limit

# ---- servers: config and command line, each with its limits raised --------

port_free() { [[ -z $(ss -Hltn "sport = :$1") ]]; }

start_server() {  # start_server NAME PORT
  local name=$1 port=$2 dir=$tmp/$1
  mkdir -p "$dir"
  case $name in
    yinetd)
      cat >"$dir/yinetd.yaml" <<EOF
services:
  - name: tiny
    listen: 127.0.0.1:$port
    program: $tiny
    stderr: null
EOF
      "$yinetd_bin" -c "$dir/yinetd.yaml" 2>"$dir/server.log" &
      ;;
    tcpserver)
      # -H -R -l0: no DNS or ident lookups; -c: concurrency; -b: backlog.
      tcpserver -c 100000 -b 1024 -H -R -l 0 127.0.0.1 "$port" "$tiny" 2>"$dir/server.log" &
      ;;
    tcpsvd)
      tcpsvd -c 100000 -b 1024 -l localhost 127.0.0.1 "$port" "$tiny" 2>"$dir/server.log" &
      ;;
    xinetd)
      # cps: connections per second before a pause; instances: concurrent
      # servers; per_source: per client address. All raised.
      cat >"$dir/xinetd.conf" <<EOF
defaults
{
	instances = UNLIMITED
	per_source = UNLIMITED
	cps = 1000000 1
	log_type = FILE $dir/xinetd.log
	log_on_success = PID HOST EXIT DURATION
	log_on_failure = HOST
}
service tiny
{
	type = UNLISTED
	socket_type = stream
	protocol = tcp
	wait = no
	user = root
	bind = 127.0.0.1
	port = $port
	server = $tiny
	instances = UNLIMITED
	per_source = UNLIMITED
	cps = 1000000 1
}
EOF
      xinetd -dontfork -f "$dir/xinetd.conf" -pidfile "$dir/xinetd.pid" 2>"$dir/server.log" &
      ;;
    inetd)
      # nowait.N and -R: invocations per minute before the service is shut
      # off for ten minutes (default 256); -q: listen backlog.
      echo "127.0.0.1:$port stream tcp nowait.100000000 root $tiny tiny_service" >"$dir/inetd.conf"
      "$inetd_bin" -i -R 100000000 -q 1024 "$dir/inetd.conf" 2>"$dir/server.log" &
      ;;
    socat)
      # nofork: exec the program on the connection itself, no relay process.
      socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,backlog=1024" "EXEC:$tiny,nofork" 2>"$dir/server.log" &
      ;;
    *) log "unknown server $name"; return 1 ;;
  esac
  server_pid=$!
  for _ in $(seq 100); do
    if ! port_free "$port"; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  log "$name did not start listening on $port:"
  cat "$dir/server.log" >&2 || true
  stop_server
  return 1
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
zombies() { ps -o stat= --ppid "$1" 2>/dev/null | grep -c '^Z' || true; }

# One loadgen run; appends one JSON record to $records.
measure() {  # measure SERVER PORT CONCURRENCY RUN
  local server=$1 port=$2 c=$3 run=$4 out=$tmp/loadgen.out
  "$loadgen" --port "$port" --concurrency "$c" --duration "$duration" --expect "$reply" \
    --timeout-ms 5000 --label "$server" >"$out" 2>"$tmp/loadgen.err" &
  local loadgen_pid=$! peak=0 rss
  # Sample the supervisor's RSS while the load runs (bounded: loadgen ends
  # within duration + timeout).
  for _ in $(seq $(((${duration%.*} + 8) * 10))); do
    kill -0 "$loadgen_pid" 2>/dev/null || break
    rss=$(rss_kb "$server_pid")
    ((rss > peak)) && peak=$rss
    sleep 0.1
  done
  kill -KILL "$loadgen_pid" 2>/dev/null || true
  wait "$loadgen_pid" || true
  sleep 0.5  # let the last children be reaped
  local zombie_count
  zombie_count=$(zombies "$server_pid")
  local result
  result=$(tail -n 1 "$out")
  [[ $result == \{* ]] || result='{"connections":0,"conn_per_s":0,"errors_total":-1}'
  printf '{"server":"%s","concurrency":%d,"run":%d,"rss_kb":%d,"zombies":%d,"loadgen":%s}\n' \
    "$server" "$c" "$run" "$peak" "$zombie_count" "$result" >>"$records"
  log "$(printf '%-9s c=%-3d run %d: %s' "$server" "$c" "$run" "$(grep -o '"conn_per_s":[0-9.]*\|"p99_us":[0-9]*\|"errors_total":[0-9-]*' "$out" | tr '\n' ' ')")rss=${peak}kB zombies=$zombie_count"
}

# ---- the run ---------------------------------------------------------------

records=$tmp/records.jsonl
: >"$records"
log "spawn limit (no network)"
"$spawn_limit" --duration "$duration" "$tiny" >"$tmp/spawn_limit.jsonl"

# Ports below the ephemeral range (32768 and up on Linux), so that no
# client socket of a previous run can hold them.
base_port=$((20000 + RANDOM % 10000))
next_port=$base_port
pick_port() {
  for _ in $(seq 50); do
    next_port=$((next_port + 1))
    if port_free "$next_port"; then echo "$next_port"; return 0; fi
  done
  return 1
}

# Starts a server on a fresh port; another process may take a port between
# the check and the bind, so a few attempts.
start_on_free_port() {  # start_on_free_port NAME; sets $port
  for _ in 1 2 3; do
    port=$(pick_port) || return 1
    start_server "$1" "$port" && return 0
  done
  return 1
}

# Servers interleaved within each repetition, so drift on a shared machine
# spreads over all of them instead of favouring one.
for run in $(seq "$runs"); do
  for server in $servers; do
    start_on_free_port "$server" || continue
    for c in $concurrency_levels; do
      measure "$server" "$port" "$c" "$run"
    done
    stop_server
  done
done

mkdir -p "$root/bench/results" "$root/docs"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
python3 "$root/bench/summarize.py" \
  --records "$records" --spawn-limit "$tmp/spawn_limit.jsonl" \
  --duration "$duration" --runs "$runs" \
  --json "$root/bench/results/$stamp.json" --markdown "$root/bench/results/latest.md" \
  --plot-data "$tmp/plot.dat" --servers "$servers"
cp "$root/bench/results/$stamp.json" "$root/bench/results/latest.json"
cp "$tmp/plot.dat" "$root/bench/results/latest.dat"
gnuplot -e "datafile='$tmp/plot.dat'; outfile='$root/docs/benchmarks.svg'; ncols=$(head -n 1 "$tmp/plot.dat" | wc -w)" "$root/bench/plot.gp"
cat "$root/bench/results/latest.md"
log "wrote bench/results/$stamp.json, bench/results/latest.md, docs/benchmarks.svg"
