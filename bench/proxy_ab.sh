#!/usr/bin/env bash
# A/B: connections/s of the same service with and without proxy_protocol: v2,
# served by one yinetd in the same run, rounds alternating (and which of the
# two goes first) so that load from elsewhere on the machine falls on both alike. Prints each round and the
# median ratio (proxy / plain).
#   bench/proxy_ab.sh BUILD_DIR [ROUNDS] [SECONDS] [CONCURRENCY]
set -euo pipefail
build=$(realpath "${1:-build}") rounds=${2:-5} seconds=${3:-3} concurrency=${4:-8}
yinetd=$build/src/yinetd loadgen=$build/bench/loadgen tiny=$build/bench/tiny_service
tmp=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

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
    proxy_from: 127.0.0.1
YAML
"$yinetd" -c "$tmp/yinetd.yaml" 2>"$tmp/yinetd.log" &
pid=$!
sleep 1
kill -0 "$pid" || { cat "$tmp/yinetd.log"; exit 1; }

rate() {  # rate PORT [--proxy-v2]: connections/s of one run
  "$loadgen" -p "$1" -c "$concurrency" -d "$seconds" -e 'hello from tiny\n' --fail-on-error "${@:2}" 2>/dev/null |
    python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["conn_per_s"])'
}
ratios=()
for round in $(seq "$rounds"); do
  # Which goes first alternates, so neither always meets the other's leftovers.
  if ((round % 2)); then
    a=$(rate "$plain"); b=$(rate "$proxied" --proxy-v2)
  else
    b=$(rate "$proxied" --proxy-v2); a=$(rate "$plain")
  fi
  ratio=$(python3 -c "print(f'{$b / $a:.3f}')")
  ratios+=("$ratio")
  echo "round $round: plain $a conn/s, proxy_protocol v2 $b conn/s, ratio $ratio"
done
python3 -c "import statistics,sys; print('median ratio', statistics.median(map(float, sys.argv[1:])))" "${ratios[@]}"
