#!/usr/bin/env bash
# Smoke run of the benchmark: yinetd on a loopback port serving
# tiny_service, loadgen for 300 connections; asserts no errors, every
# connection served, and no zombie left. Ends with "N passed, M failed".
#   bench/smoke.sh YINETD LOADGEN TINY_SERVICE
set -uo pipefail
yinetd=$1 loadgen=$2 tiny=$3
connections=300
reply='hello from tiny\n'

source "$(dirname "$0")/lib.sh"

passed=0 failed=0
check() {  # check NAME COMMAND...
  local name=$1; shift
  if "$@"; then echo "ok: $name"; passed=$((passed + 1)); else echo "FAIL: $name"; failed=$((failed + 1)); fi
}

# A free port: try a few random ones until yinetd reports it is serving.
start_on_free_port() {
  local attempt
  for attempt in 1 2 3 4 5; do
    # Below the ephemeral range (32768 and up), which clients' sockets use.
    port=$((20000 + RANDOM % 12000))
    cat >"$tmp/yinetd.yaml" <<YAML
services:
  - name: tiny
    listen: 127.0.0.1:$port
    program: $tiny
    stderr: null
YAML
    start_yinetd "$yinetd" "$tmp/yinetd.yaml" "$tmp/yinetd.log" && return 0
  done
  return 1
}

zombies() { ps -o stat= --ppid "$pid" | grep -c '^Z' ; }

if ! start_on_free_port; then
  echo "0 passed, 1 failed"
  exit 1
fi

result=$("$loadgen" --port "$port" --concurrency 8 --duration 60 --max-connections "$connections" \
  --expect "$reply" --timeout-ms 10000 --label smoke)
loadgen_status=$?
echo "$result"
check "loadgen exits 0" test "$loadgen_status" -eq 0
check "no errors" grep -q '"errors_total":0}' <<<"$result"
check "all $connections connections served" grep -q "\"connections\":$connections," <<<"$result"

# Every child reaped: wait (bounded) for the exit lines, then count zombies.
for _ in $(seq 50); do
  [[ $(grep -c 'event=exit' "$tmp/yinetd.log") -ge $connections ]] && break
  sleep 0.1
done
check "every child's exit logged" test "$(grep -c 'event=exit' "$tmp/yinetd.log")" -eq "$connections"
check "no zombie children" test "$(zombies)" -eq 0

stop_server
check "clean shutdown" test "$stop_status" -eq 0

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
