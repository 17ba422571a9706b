#!/usr/bin/env bash
# What confinement costs: connections/s of bench/tiny_service with no
# sandbox, with each sandbox key alone, the file rules and system-call
# filters together, and with all of them, in one run of
# one yinetd (a service per variant), variants interleaved within each
# repetition, medians of REPS. Prints a markdown table (ratio to plain).
#   bench/sandbox.sh YINETD LOADGEN TINY_SERVICE [REPS] [SECONDS]
# BEFORE=YINETD2: a second yinetd (an older build) runs beside the first,
# each variant measured on both in turn (the order alternating between
# repetitions), and the table gives both costs side by side: an A/B of
# one run, on a machine whose speed drifts within minutes.
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
  "rules|    sandbox: {read_only: true, writable: [$tmp/writable], hidden: [$tmp/hidden], system_calls: service, address_families: [unix, inet, inet6]}"
  "files_seccomp|    sandbox: {private_tmp: true, read_only: true, writable: [$tmp/writable], hidden: [$tmp/hidden], system_calls: service, address_families: [unix, inet, inet6]}"
  "all|    user: dynamic
    sandbox: {private_network: true, private_tmp: true, read_only: true, writable: [$tmp/writable], hidden: [$tmp/hidden], system_calls: service, address_families: [unix, inet, inet6], namespaces: [pid, ipc, uts]}"
)

# VARIANTS=REGEX: only the variants whose whole name matches (plain always
# runs): "files_seccomp|all" is those two, not system_calls as well.
if [[ -n ${VARIANTS:-} ]]; then
  kept=()
  for variant in "${variants[@]}"; do
    name=${variant%%|*}
    [[ $name == plain || $name =~ ^($VARIANTS)$ ]] && kept+=("$variant")
  done
  variants=("${kept[@]}")
fi

base=$((20000 + RANDOM % 10000))
binaries=("$yinetd") labels=(after)
[[ -n ${BEFORE:-} ]] && binaries=("$(realpath "$BEFORE")" "$yinetd") labels=(before after)

# Each binary's yinetd: its own config, ports from base + 100 * its index.
pids=()
stop_all() {
  local each
  for each in "${pids[@]}"; do pid=$each; stop_server; done
}
trap 'stop_all; bench_cleanup' EXIT
for b in "${!binaries[@]}"; do
  first=$((base + 100 * b))
  {
    echo "dynamic_users: $((62000 + 500 * b))-$((62499 + 500 * b))"
    echo "log: {level: warn}"
    echo "services:"
    i=0
    for variant in "${variants[@]}"; do
      name=${variant%%|*} keys=${variant#*|}
      echo "  - name: $name"
      echo "    listen: 127.0.0.1:$((first + i))"
      echo "    program: $tiny"
      echo "    stderr: null"
      [[ -n $keys ]] && echo "$keys"
      i=$((i + 1))
    done
  } >"$tmp/yinetd-$b.yaml"
  # Log level warn, as configured: an accept and an exit line per connection
  # would be a cost of their own. So no start line: ready is the first port.
  READY_PORT=$first start_yinetd "${binaries[$b]}" "$tmp/yinetd-$b.yaml" "$tmp/yinetd-$b.log" || exit 1
  pids+=("$pid")
  pid=""
done

for concurrency in 1 16; do
  for rep in $(seq "$reps"); do
    order=("${!binaries[@]}")
    ((rep % 2 == 0 && ${#order[@]} == 2)) && order=(1 0)
    i=0
    for variant in "${variants[@]}"; do
      name=${variant%%|*}
      for b in "${order[@]}"; do
        out=$("$loadgen" --port $((base + 100 * b + i)) --concurrency "$concurrency" --duration "$seconds" \
          --expect "$reply" --timeout-ms 10000 --label "$name" 2>/dev/null)
        rate=$(grep -o '"conn_per_s":[0-9.]*' <<<"$out" | cut -d: -f2)
        errors=$(grep -o '"errors_total":[0-9]*' <<<"$out" | cut -d: -f2)
        p50=$(grep -o '"p50_us":[0-9]*' <<<"$out" | cut -d: -f2)
        echo "$concurrency $name $rep ${rate:-0} ${errors:-?} ${labels[$b]} ${p50:-0}" >>"$tmp/runs"
      done
      i=$((i + 1))
    done
  done
done

python3 - "$tmp/runs" <<'PY'
import statistics, sys
runs, p50s, errors, names, labels = {}, {}, {}, [], []
for line in open(sys.argv[1]):
    c, name, rep, rate, err, label, p50 = line.split()
    key = (label, int(c), name)
    runs.setdefault(key, []).append(float(rate))
    p50s.setdefault(key, []).append(float(p50))
    errors[(label, name)] = errors.get((label, name), 0) + (int(err) if err.isdigit() else 0)
    if name not in names: names.append(name)
    if label not in labels: labels.append(label)

def cost(label, c, name):
    plain = statistics.median(runs[(label, c, "plain")])
    return (1 - statistics.median(runs[(label, c, name)]) / plain) * 100 if plain else 0

def percent(value):
    return f"{value:+.0f} %".replace("+-", "-")

if labels == ["after"]:
    print("| variant | c=1 conn/s | c=1 cost | c=16 conn/s | c=16 cost | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in names:
        cells = []
        for c in (1, 16):
            rate = statistics.median(runs[("after", c, name)])
            cells += [f"{rate:.0f}", "–" if name == "plain" else percent(cost("after", c, name))]
        print(f"| {name} | " + " | ".join(cells) + f" | {errors[('after', name)]} |")
else:
    # Beside the costs in conn/s, what each variant adds to a connection's
    # median latency at c=1 (medians over the repetitions): the steadier
    # measure of what a child does before its exec, as the supervisor
    # waits for that.
    print("| variant | " + " | ".join(f"c={c} {l}" for c in (1, 16) for l in labels) +
          " | " + " | ".join(f"c=1 p50 {l}" for l in labels) + " | errors |")
    print("| --- | " + " | ".join("---:" for _ in range(6)) + " | ---: |")
    for name in names:
        cells = []
        for c in (1, 16):
            for label in labels:
                rate = statistics.median(runs[(label, c, name)])
                cells.append(f"{rate:.0f} conn/s" if name == "plain" else percent(cost(label, c, name)))
        for label in labels:
            p50 = statistics.median(p50s[(label, 1, name)])
            plain = statistics.median(p50s[(label, 1, "plain")])
            cells.append(f"{p50:.0f} µs" if name == "plain" else f"{p50 - plain:+.0f} µs")
        print(f"| {name} | " + " | ".join(cells) + f" | {sum(errors[(l, name)] for l in labels)} |")
PY
