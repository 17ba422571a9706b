#!/usr/bin/env bash
# The TLS comparison, on demand (not in CI): yinetd with `tls:` against
# stunnel4 in exec mode and socat OPENSSL-LISTEN,fork + EXEC, one after
# another on 127.0.0.1 in the same run, all serving build/bench/tiny_service
# with the same ECDSA P-256 certificate. For each server and concurrency it
# runs build/bench/tls_loadgen (full handshakes, no resumption), then the
# bulk row: 100 MiB through /bin/cat, yinetd against stunnel. Prints one
# JSON line per measurement and writes bench/results/tls-latest.json.
#
#   bench/tls_compare.sh [--duration S] [--concurrency "1 16 64"] [--bulk-mib N] [--build DIR]
#                        [--baseline DIR] [--rounds N]
#
# --baseline DIR adds a second yinetd (DIR/src/yinetd, used as it is, never
# rebuilt), labelled yinetd-baseline, for a same-run A/B. --rounds N repeats
# the connections/s rows N times, the servers in turn within each round, so
# that a change in the machine's load falls on all of them alike; the
# summary at the end is each label's median ratio to stunnel's row of the
# same round, and the load average before and after.
#
# Every process it starts is stopped on exit (by pid); every wait is bounded.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
duration=3
concurrency_levels="1 16 64"
bulk_mib=100
baseline=""
rounds=1

while (($# > 0)); do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --concurrency) concurrency_levels=$2; shift 2 ;;
    --bulk-mib) bulk_mib=$2; shift 2 ;;
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --baseline) baseline=$(cd "$2" && pwd); shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "usage: $0 [--duration S] [--concurrency LIST] [--bulk-mib N] [--build DIR] [--baseline DIR] [--rounds N]" >&2
       exit 2 ;;
  esac
done

for tool in stunnel4 socat openssl; do
  command -v "$tool" >/dev/null || { echo "tls_compare: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
ninja -C "$build" src/yinetd bench/tiny_service bench/tls_loadgen >/dev/null

# $tmp, and $pid stopped by stop_server whichever server it is.
source "$root/bench/lib.sh"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/server.key" \
  -out "$tmp/server.pem" -subj /CN=localhost -days 2 2>/dev/null

port_free() { ! listening "$1"; }
free_port() {
  local port
  while :; do
    # Below the ephemeral range (32768 up): the load generator's own
    # connections never hold the port the next server binds.
    port=$((20000 + RANDOM % 12000))
    port_free "$port" && { echo "$port"; return; }
  done
}
wait_listening() {
  for _ in $(seq 200); do
    listening "$1" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "tls_compare: nothing listens on $1; the server's log:" >&2
  tail -5 "$tmp"/*.log >&2
  return 1
}

start_server() {  # start_server NAME PORT PROGRAM
  local name=$1 port=$2 program=$3 binary=$build/src/yinetd
  [[ $name == yinetd-baseline ]] && binary=$baseline/src/yinetd
  case $name in
    yinetd | yinetd-baseline)
      printf 'services:\n  - name: tiny\n    listen: 127.0.0.1:%s\n    program: %s\n    stderr: null\n    backlog: 1024\n    tls:\n      cert: %s\n      key: %s\n' \
        "$port" "$program" "$tmp/server.pem" "$tmp/server.key" > "$tmp/yinetd.yaml"
      "$binary" -c "$tmp/yinetd.yaml" --log-level warn 2>"$tmp/yinetd.log" &
      ;;
    stunnel)
      printf 'foreground = yes\npid =\nsyslog = no\ndebug = 3\n[tiny]\naccept = 127.0.0.1:%s\nexec = %s\ncert = %s\nkey = %s\n' \
        "$port" "$program" "$tmp/server.pem" "$tmp/server.key" > "$tmp/stunnel.conf"
      stunnel4 "$tmp/stunnel.conf" 2>"$tmp/stunnel.log" &
      ;;
    socat)
      socat "OPENSSL-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,backlog=1024,cert=$tmp/server.pem,key=$tmp/server.key,verify=0" \
        "EXEC:$program" 2>"$tmp/socat.log" &
      ;;
  esac
  pid=$!
  wait_listening "$port"
}

# The server's CPU (its own and its reaped children's: fronts, forks and
# programs) per connection: a measure the machine's load disturbs less
# than the rate does.
server_cpu_ticks() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pid/stat"; }
cpu_us_per_connection() {  # BEFORE AFTER LOADGEN_LINE
  local ok
  ok=$(echo "$3" | sed -n 's/.*"ok":\([0-9]*\).*/\1/p')
  awk -v b="$1" -v a="$2" -v ok="${ok:-0}" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.0f", (ok > 0 ? (a - b) * 1e6 / hz / ok : 0) }'
}

results=$tmp/results.json
: > "$results"
load() { printf '{"loadavg_%s":"%s"}\n' "$1" "$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$results"; }
yinetds=yinetd
[[ -n $baseline ]] && yinetds="yinetd yinetd-baseline"
load before
reply='hello from tiny\n'
for round in $(seq "$rounds"); do
  # Alternate which yinetd goes first, so neither always runs right after
  # a server that left the machine busier.
  order=$yinetds
  ((round % 2 == 0)) && order=$(echo "$yinetds" | tr ' ' '\n' | tac | tr '\n' ' ')
  for server in $order stunnel socat; do
    port=$(free_port)
    start_server "$server" "$port" "$build/bench/tiny_service"
    for c in $concurrency_levels; do
      before=$(server_cpu_ticks)
      line=$(timeout $((duration * 3 + 30)) "$build/bench/tls_loadgen" --port "$port" --concurrency "$c" \
        --duration "$duration" --expect "$reply" --label "$server")
      cpu_us=$(cpu_us_per_connection "$before" "$(server_cpu_ticks)" "$line")
      echo "$line" | sed "s/}\$/,\"round\":$round,\"server_cpu_us_per_conn\":$cpu_us}/" | tee -a "$results"
    done
    stop_server
  done
done
for server in $yinetds stunnel; do
  port=$(free_port)
  start_server "$server" "$port" /bin/cat
  timeout 300 "$build/bench/tls_loadgen" --port "$port" --bulk-mib "$bulk_mib" --timeout-ms 60000 \
    --label "$server" | tee -a "$results"
  stop_server
done
load after
mkdir -p "$root/bench/results"
cp "$results" "$root/bench/results/tls-latest.json"
python3 - "$results" <<'SUMMARY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
rates = {(r["label"], r["concurrency"], r["round"]): r["conn_per_s"] for r in rows if "conn_per_s" in r}
labels = sorted({k[0] for k in rates} - {"stunnel"})
levels = sorted({k[1] for k in rates})
for label in labels:
    parts = []
    for c in levels:
        ratios = [v / rates[("stunnel", c, n)] for (l, cc, n), v in rates.items()
                  if l == label and cc == c and rates.get(("stunnel", c, n))]
        if ratios:
            parts.append(f"c={c} {statistics.median(ratios):.2f}x ({len(ratios)} rounds)")
    print(f"{label} / stunnel, median of same-round ratios: " + ", ".join(parts))
cpu = {}
for r in rows:
    if "server_cpu_us_per_conn" in r:
        cpu.setdefault((r["label"], r["concurrency"]), []).append(r["server_cpu_us_per_conn"])
for label in sorted({k[0] for k in cpu}):
    parts = [f"c={c} {statistics.median(cpu[(label, c)]):.0f}" for c in levels if (label, c) in cpu]
    print(f"{label} server CPU us/conn (median): " + ", ".join(parts))
SUMMARY
