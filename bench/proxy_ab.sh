#!/usr/bin/env bash
# Two measures of the PROXY stage, each A/B in one run of one yinetd:
# 1. connections/s of the same service with and without proxy_protocol: v2,
#    rounds alternating (and which of the two goes first) so that load from
#    elsewhere on the machine falls on both alike; each round's ratio
#    (proxy / plain), then their median and spread.
# 2. the p99 latency of the plain service's clients (concurrency 1) with
#    SILENT peers holding header waits on the proxied one (they connect from
#    127.0.0.1 and 127.0.0.2 and never send a byte) vs none, alternating;
#    each round's ratio (held / idle), then their median and spread.
#   bench/proxy_ab.sh BUILD_DIR [ROUNDS] [SECONDS] [CONCURRENCY] [SILENT]
# SILENT 0 skips part 2.
set -euo pipefail
build=$(realpath "${1:-build}") rounds=${2:-5} seconds=${3:-3} concurrency=${4:-8} silent=${5:-1000}
yinetd=$build/src/yinetd loadgen=$build/bench/loadgen tiny=$build/bench/tiny_service
source "$(dirname "$0")/lib.sh"

plain=$((20000 + RANDOM % 6000)) proxied=$((26000 + RANDOM % 6000))
cat >"$tmp/yinetd.yaml" <<YAML
log: {level: warn}
services:
  - name: plain
    listen: 127.0.0.1:$plain
    program: $tiny
    stderr: null
  - name: proxied
    listen: 127.0.0.1:$proxied
    program: $tiny
    stderr: null
    proxy_protocol: v2
    proxy_from: 127.0.0.0/8
    proxy_timeout: 60
YAML
READY_PORT=$proxied start_yinetd "$yinetd" "$tmp/yinetd.yaml" "$tmp/yinetd.log" || exit 1

measure() {  # measure FIELD CONCURRENCY PORT [--proxy-v2]: one loadgen run's FIELD
  "$loadgen" -p "$3" -c "$2" -d "$seconds" -e 'hello from tiny\n' --fail-on-error "${@:4}" 2>/dev/null |
    python3 -c "import json,sys; print(json.loads(sys.stdin.read())['$1'])"
}
loop_ns() { cut -d' ' -f1 "/proc/$pid/schedstat"; }  # yinetd's (one thread's) CPU time so far
rate() {  # rate PORT [--proxy-v2]: "CONN/S LOOP_CPU_US_PER_CONNECTION" of one run
  local before after out
  before=$(loop_ns)
  out=$("$loadgen" -p "$1" -c "$concurrency" -d "$seconds" -e 'hello from tiny\n' --fail-on-error "${@:2}" 2>/dev/null)
  after=$(loop_ns)
  python3 -c "import json,sys; r=json.loads(sys.argv[1]); print(r['conn_per_s'], f\"{($after - $before) / 1000 / max(r['connections'], 1):.1f}\")" "$out"
}
summary() {  # summary LABEL RATIO...: the median and the spread of the ratios
  python3 -c "import statistics,sys; r=sorted(map(float, sys.argv[2:]));
print(f'{sys.argv[1]}: median ratio {statistics.median(r):.3f}, spread {r[0]:.3f}-{r[-1]:.3f} over {len(r)} rounds')" "$@"
}
# The loop's CPU per connection is the steadier measure on a busy machine:
# wall-clock rates there follow the other load more than yinetd.
ratios=() cpu_ratios=()
for round in $(seq "$rounds"); do
  # Which goes first alternates, so neither always meets the other's leftovers.
  if ((round % 2)); then
    read -r a a_cpu < <(rate "$plain"); read -r b b_cpu < <(rate "$proxied" --proxy-v2)
  else
    read -r b b_cpu < <(rate "$proxied" --proxy-v2); read -r a a_cpu < <(rate "$plain")
  fi
  ratio=$(python3 -c "print(f'{$b / $a:.3f}')") cpu_ratio=$(python3 -c "print(f'{$b_cpu / max($a_cpu, 0.1):.3f}')")
  ratios+=("$ratio") cpu_ratios+=("$cpu_ratio")
  echo "round $round: plain $a conn/s ($a_cpu us loop CPU each), proxy_protocol v2 $b conn/s ($b_cpu us)," \
    "ratio $ratio (CPU $cpu_ratio)"
done
summary "conn/s, proxy_protocol v2 / plain" "${ratios[@]}"
summary "loop CPU per connection, proxy_protocol v2 / plain" "${cpu_ratios[@]}"

((silent > 0)) || exit 0
# Holds SILENT connections to the proxied port, half from 127.0.0.1 and half
# from 127.0.0.2 (one balancer address may hold only half the waits), until
# its stdin closes; says "held" once they are all connected.
cat >"$tmp/silent.py" <<'PY'
import socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
held = []
for i in range(count):
    s = socket.socket()
    s.bind((("127.0.0.1", "127.0.0.2")[i % 2], 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    held.append(s)
print("held", flush=True)
sys.stdin.read()
PY
p99=()
for round in $(seq "$rounds"); do
  idle=$(measure p99_us 1 "$plain")
  coproc SILENT { exec python3 "$tmp/silent.py" "$proxied" "$silent"; }
  read -r -t 30 ready <&"${SILENT[0]}" || ready=""
  [[ $ready == held ]] || { echo "the silent peers could not connect" >&2; exit 1; }
  sleep 0.2  # accepted into header waits
  held=$(measure p99_us 1 "$plain")
  waits=$(grep -c 'reason=proxy_busy' "$tmp/yinetd.log" || true)
  silent_pid=$SILENT_PID
  eval "exec ${SILENT[1]}>&-"  # its stdin ends: it closes them all and exits
  wait "$silent_pid" || true
  ratio=$(python3 -c "print(f'{$held / max($idle, 1):.3f}')")
  p99+=("$ratio")
  echo "round $round: plain p99 idle $idle us, with $silent silent peers $held us, ratio $ratio (proxy_busy so far: $waits)"
  sleep 0.5  # the closed peers' waits end (proxy_invalid) before the next idle run
done
summary "p99 of plain with $silent silent peers / idle" "${p99[@]}"
