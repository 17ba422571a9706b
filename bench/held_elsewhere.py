#!/usr/bin/env python3
"""Whose is the tail beside 5,000 held connections? (issue 11)

bench/scale.py's held scenario measures a tiny service's latency at
concurrency 1 with nothing held, then with 5,000 connections held by the
same yinetd. This runs that measurement twice over, interleaved: once with
the connections held by the measured yinetd ("same"), once held by a second
yinetd process that the measured one knows nothing of ("elsewhere"). If the
p99 rises as much when the connections are elsewhere, the tail is the
machine's (the kernel's, with 5,000 connections and their programs on it),
not the measured supervisor's loop.

  bench/held_elsewhere.py --yinetd build/src/yinetd --loadgen build/bench/loadgen \\
      --tiny build/bench/tiny_service --hold build/bench/hold_service [--rounds 3]

Every wait is bounded; every process it starts is stopped by its pid.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale  # noqa: E402  (the supervisor, loadgen and hold helpers)


def p99_pair(opts, tiny_port, hold_port):
    """(idle p99, held p99) in µs for one round."""
    time.sleep(opts.settle)
    idle = scale.run_loadgen(opts.loadgen, tiny_port, 1, count=opts.connections)
    held = scale.hold_connections(hold_port, opts.held, window=64, timeout_s=scale.HOLD_TIMEOUT_S)
    try:
        time.sleep(opts.settle)
        busy = scale.run_loadgen(opts.loadgen, tiny_port, 1, count=opts.connections)
    finally:
        for s in held:
            s.close()
    return idle["p99_us"], busy["p99_us"]


def one_round(opts, workdir, where):
    measured_services = [("tiny", 0, opts.tiny)]
    if where == "same":
        measured_services.append(("hold", 0, opts.hold))

    def ports_for(services):
        return lambda: [(name, port, program) for (name, _, program), port
                        in zip(services, scale.free_ports(len(services)))]
    measured, started = scale.start_supervisor(opts.yinetd, os.path.join(workdir, "measured"),
                                               ports_for(measured_services))
    other = None
    try:
        tiny_port = started[0][1]
        if where == "same":
            hold_port = started[1][1]
        else:
            other, other_started = scale.start_supervisor(opts.yinetd, os.path.join(workdir, "other"),
                                                          ports_for([("hold", 0, opts.hold)]))
            hold_port = other_started[0][1]
        return p99_pair(opts, tiny_port, hold_port)
    finally:
        if other is not None:
            other.stop()
        measured.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("yinetd", "loadgen", "tiny", "hold"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--held", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--settle", type=float, default=3.0)
    opts = parser.parse_args()
    for name in ("yinetd", "loadgen", "tiny", "hold"):
        setattr(opts, name, os.path.abspath(getattr(opts, name)))
    scale.raise_fd_limit(opts.held + 1024)
    ratios = {"same": [], "elsewhere": []}
    with tempfile.TemporaryDirectory(prefix="yinetd-held-") as workdir:
        for sub in ("measured", "other"):
            os.mkdir(os.path.join(workdir, sub))
        for round_number in range(opts.rounds):
            for where in ("same", "elsewhere") if round_number % 2 == 0 else ("elsewhere", "same"):
                idle, busy = one_round(opts, workdir, where)
                ratios[where].append(busy / idle)
                print(f"round {round_number} {where:>9}: p99 {idle} µs idle, {busy} µs with {opts.held} held "
                      f"({busy / idle:.2f}x)", flush=True)
    for where, values in ratios.items():
        print(f"{where:>9}: p99 with {opts.held} held ÷ idle, median of {len(values)}: "
              f"{statistics.median(values):.2f}x ({', '.join(f'{v:.2f}' for v in values)})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
