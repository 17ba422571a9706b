# Shared by the benchmark scripts (sourced, not run): a scratch directory
# and the one server a script starts, both gone when the script exits, by
# pid and within a bound, whatever way it ends.
#   source "$(dirname "$0")/lib.sh"
#   start_yinetd YINETD CONFIG LOG [ARGS...] || exit 1
# sets $pid; stop_server stops it early.

tmp=$(mktemp -d)
pid=""

# Stops $pid: SIGTERM, ten seconds for its shutdown, then SIGKILL; its
# exit status in $stop_status. Safe under `set -e` (a kill or wait that
# fails is what it expects).
stop_server() {
  [[ -n $pid ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  stop_status=0
  wait "$pid" 2>/dev/null || stop_status=$?
  pid=""
}

bench_cleanup() {
  stop_server
  rm -rf "$tmp"
}
trap bench_cleanup EXIT

# Whether something listens on TCP port $1 of 127.0.0.1 (state 0A in
# /proc/net/tcp), without connecting: a connection would start a program.
listening() {
  grep -qi "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp
}

# Starts yinetd in the background and waits (15 s at most) until it
# serves: its event=start line, or with a log level above info, its
# listener on READY_PORT. Fails, with the log on stderr, when it exits
# first or never gets there (a port taken, a config it refuses).
start_yinetd() {  # [READY_PORT=N] start_yinetd YINETD CONFIG LOG [ARGS...]
  local yinetd=$1 config=$2 log=$3
  "$yinetd" -c "$config" "${@:4}" 2>"$log" &
  pid=$!
  for _ in $(seq 150); do
    grep -q 'event=start' "$log" && return 0
    [[ -n ${READY_PORT:-} ]] && listening "$READY_PORT" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$log" >&2
  stop_server
  return 1
}
