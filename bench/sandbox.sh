#!/usr/bin/env bash
# What confinement costs: connections/s of bench/tiny_service with no
# sandbox, with each sandbox key alone, the file rules and system-call
# filters together, and with all of them, in one run of
# one yinetd (a service per variant), variants interleaved within each
# repetition, medians of REPS. Prints a markdown table (ratio to plain).
#   bench/sandbox.sh YINETD LOADGEN TINY_SERVICE [REPS] [SECONDS]
# Needs root (namespaces, dynamic users). Stops everything it started.
set -uo pipefail
yinetd=$(realpath "$1") loadgen=$(realpath "$2") tiny=$(realpath "$3") reps=${4:-3} seconds=${5:-2}
reply='hello from tiny\n'
source "$(dirname "$0")/lib.sh"

mkdir -p "$tmp/hidden" "$tmp/writable"
# name|keys (each a line of the service, indented by four spaces)
variants=(
  "plain|"
  "private_network|    sandbox: {private_network: true}"
  "private_tmp|    sandbox: {private_tmp: true}"
  "read_only|    sandbox: {read_only: true, writable: [$tmp/writable]}"
  "hidden|    sandbox: {hidden: [$tmp/hidden]}"
  "system_calls|    sandbox: {system_calls: service}"
  "address_families|    sandbox: {address_families: [unix, inet, inet6]}"
  "namespaces|    sandbox: {namespaces: [pid, ipc, uts]}"
  "user_dynamic|    user: dynamic"
  "files_seccomp|    sandbox: {private_tmp: true, read_only: true, writable: [$tmp/writable], hidden: [$tmp/hidden], system_calls: service, address_families: [unix, inet, inet6]}"
  "all|    user: dynamic
    sandbox: {private_network: true, private_tmp: true, read_only: true, writable: [$tmp/writable], hidden: [$tmp/hidden], system_calls: service, address_families: [unix, inet, inet6], namespaces: [pid, ipc, uts]}"
)

# VARIANTS=REGEX: only the variants whose name matches (plain always runs).
if [[ -n ${VARIANTS:-} ]]; then
  kept=()
  for variant in "${variants[@]}"; do
    name=${variant%%|*}
    [[ $name == plain || $name =~ $VARIANTS ]] && kept+=("$variant")
  done
  variants=("${kept[@]}")
fi

base=$((20000 + RANDOM % 10000))
{
  echo "dynamic_users: 62000-62999"
  echo "log: {level: warn}"
  echo "services:"
  i=0
  for variant in "${variants[@]}"; do
    name=${variant%%|*} keys=${variant#*|}
    echo "  - name: $name"
    echo "    listen: 127.0.0.1:$((base + i))"
    echo "    program: $tiny"
    echo "    stderr: null"
    [[ -n $keys ]] && echo "$keys"
    i=$((i + 1))
  done
} >"$tmp/yinetd.yaml"

# Log level warn, as configured: an accept and an exit line per connection
# would be a cost of their own. So no start line: ready is the first port.
READY_PORT=$base start_yinetd "$yinetd" "$tmp/yinetd.yaml" "$tmp/yinetd.log" || exit 1

for concurrency in 1 16; do
  for rep in $(seq "$reps"); do
    i=0
    for variant in "${variants[@]}"; do
      name=${variant%%|*}
      out=$("$loadgen" --port $((base + i)) --concurrency "$concurrency" --duration "$seconds" \
        --expect "$reply" --timeout-ms 10000 --label "$name" 2>/dev/null)
      rate=$(grep -o '"conn_per_s":[0-9.]*' <<<"$out" | cut -d: -f2)
      errors=$(grep -o '"errors_total":[0-9]*' <<<"$out" | cut -d: -f2)
      echo "$concurrency $name $rep ${rate:-0} ${errors:-?}" >>"$tmp/runs"
      i=$((i + 1))
    done
  done
done

python3 - "$tmp/runs" <<'PY'
import statistics, sys
runs = {}
errors = {}
for line in open(sys.argv[1]):
    c, name, rep, rate, err = line.split()
    runs.setdefault((int(c), name), []).append(float(rate))
    errors[(int(c), name)] = errors.get((int(c), name), 0) + (int(err) if err.isdigit() else 0)
names = []
for (c, name) in runs:
    if name not in names: names.append(name)
print("| variant | " + " | ".join(f"c={c} conn/s | c={c} cost" for c in (1, 16)) + " | errors |")
print("| --- | " + " | ".join("---: | ---:" for _ in (1, 16)) + " | ---: |")
for name in names:
    cells = []
    for c in (1, 16):
        plain = statistics.median(runs[(c, "plain")])
        rate = statistics.median(runs[(c, name)])
        cost = (1 - rate / plain) * 100 if plain else 0
        cells += [f"{rate:.0f}", "–" if name == "plain" else f"{cost:+.0f} %".replace("+-", "-")]
    print(f"| {name} | " + " | ".join(cells) + f" | {errors[(1, name)] + errors[(16, name)]} |")
PY
