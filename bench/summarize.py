"""Summarizes bench/compare.sh's records: medians per server and
concurrency, ratios against yinetd, the spawn-limit ceiling. Writes the
results JSON, a markdown table and a gnuplot data file."""
import argparse
import json
import os
import platform
import statistics
import subprocess
import time


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for name, cmd in {"xinetd": ["xinetd", "-version"], "socat": ["socat", "-V"]}.items():
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
            text = (out.stdout + out.stderr).strip().splitlines()
            versions[name] = text[0] if name == "xinetd" else next(
                (l for l in text if "version" in l), "")
        except (OSError, subprocess.TimeoutExpired, StopIteration):
            pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(), "versions": versions}


def load_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def summarize(records, servers, levels):
    table = {}
    for server in servers:
        for c in levels:
            runs = [r for r in records if r["server"] == server and r["concurrency"] == c]
            if not runs:
                continue
            lg = [r["loadgen"] for r in runs]
            table[(server, c)] = {
                "server": server,
                "concurrency": c,
                "runs": len(runs),
                "conn_per_s": statistics.median(x.get("conn_per_s", 0) for x in lg),
                "p50_us": statistics.median(x.get("p50_us", 0) for x in lg),
                "p99_us": statistics.median(x.get("p99_us", 0) for x in lg),
                "max_us": max(x.get("max_us", 0) for x in lg),
                "errors": sum(max(x.get("errors_total", 0), 0) for x in lg)
                + sum(1 for x in lg if x.get("errors_total", 0) < 0),
                "rss_kb_max": max(r["rss_kb"] for r in runs),
                "rss_kb_min": min(r["rss_kb"] for r in runs),
                "zombies_max": max(r["zombies"] for r in runs),
            }
    return table


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", required=True)
    ap.add_argument("--spawn-limit", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown", required=True)
    ap.add_argument("--plot-data", required=True)
    ap.add_argument("--servers", required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--runs", type=int, required=True)
    args = ap.parse_args()

    records = load_jsonl(args.records)
    spawn = load_jsonl(args.spawn_limit)
    servers = args.servers.split()
    levels = sorted({r["concurrency"] for r in records})
    table = summarize(records, servers, levels)
    # The ceiling: the best rate at which this machine started the program
    # at all, whichever method and worker count. A one-worker loop waits for
    # each child, which a superserver does not, so it is no ceiling alone.
    ceiling = max((s["spawns_per_s"] for s in spawn), default=0)

    rows = []
    for (server, c), row in table.items():
        base = table.get(("yinetd", c))
        row = dict(row)
        row["ratio_yinetd_vs_this"] = (base["conn_per_s"] / row["conn_per_s"]
                                       if base and row["conn_per_s"] else None)
        row["fraction_of_spawn_limit"] = row["conn_per_s"] / ceiling if ceiling else None
        rows.append(row)

    best_peer = {}
    for c in levels:
        peers = [r for r in rows if r["concurrency"] == c and r["server"] != "yinetd"]
        if peers:
            best = max(peers, key=lambda r: r["conn_per_s"])
            base = table.get(("yinetd", c))
            best_peer[str(c)] = {
                "server": best["server"],
                "conn_per_s": best["conn_per_s"],
                "p99_us": best["p99_us"],
                "yinetd_conn_per_s": base["conn_per_s"] if base else None,
                "yinetd_p99_us": base["p99_us"] if base else None,
                "ratio": base["conn_per_s"] / best["conn_per_s"] if base and best["conn_per_s"] else None,
            }

    result = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "method": {"duration_s": args.duration, "runs": args.runs, "concurrency": levels,
                   "workload": "tiny_service: writes 16 bytes, exits"},
        "spawn_limit": spawn,
        "spawn_limit_ceiling": ceiling,
        "summary": rows,
        "best_peer": best_peer,
        "records": records,
    }
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")

    lines = ["| server | c | conn/s (median) | yinetd ÷ this | of spawn limit | p50 µs | p99 µs | max µs "
             "| errors | RSS kB (min–max) | zombies |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for c in levels:
        for server in servers:
            row = next((r for r in rows if r["server"] == server and r["concurrency"] == c), None)
            if row is None:
                continue
            ratio = row["ratio_yinetd_vs_this"]
            frac = row["fraction_of_spawn_limit"]
            lines.append(
                f"| {server} | {c} | {row['conn_per_s']:.0f} | {ratio:.2f} | {frac:.0%} | {row['p50_us']:.0f} "
                f"| {row['p99_us']:.0f} | {row['max_us']} | {row['errors']} "
                f"| {row['rss_kb_min']}–{row['rss_kb_max']} | {row['zombies_max']} |"
                if ratio is not None and frac is not None else f"| {server} | {c} | {row['conn_per_s']:.0f} |")
    lines.append("")
    lines.append("Spawn limit (no network, spawns/s): " + ", ".join(
        f"{s['method']} ×{s['workers']}: {s['spawns_per_s']:.0f}" for s in spawn))
    with open(args.markdown, "w") as f:
        f.write("\n".join(lines) + "\n")

    # gnuplot rejects a column without a single point: only servers that ran.
    plotted = [s for s in servers if any((s, c) in table for c in levels)]
    with open(args.plot_data, "w") as f:
        f.write("concurrency " + " ".join(plotted) + " spawn_limit\n")
        for c in levels:
            values = [f"{table[(s, c)]['conn_per_s']:.1f}" if (s, c) in table else "NaN" for s in plotted]
            f.write(f"{c} " + " ".join(values) + f" {ceiling:.1f}\n")


if __name__ == "__main__":
    main()
