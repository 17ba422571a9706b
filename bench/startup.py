#!/usr/bin/env python3
"""Start-up of N services, A/B: yinetd binaries started in turn on the same
config, each timed from just before exec to READY=1 on a NOTIFY_SOCKET this
script binds, with the CPU time (/proc/PID/task/*/schedstat) it had used
by then; and `--check` of the same config, its CPU from wait4. Prints
the medians per binary and the load average before and after.

  bench/startup.py --yinetd main=/path/to/yinetd --yinetd new=build/src/yinetd \\
      --services 1000 --runs 11
"""

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

READY_TIMEOUT_S = 20
STOP_TIMEOUT_S = 10


def write_config(path, count, first_port, program):
    # The shape bench/scale.py writes: one service per loopback port.
    with open(path, "w") as f:
        f.write("services:\n")
        for i in range(count):
            f.write(f"  - name: s{i}\n    listen: 127.0.0.1:{first_port + i}\n"
                    f"    program: {program}\n    stderr: null\n")


def cpu_ms(pid):
    # schedstat's first field: ns on a CPU, finer than stat's 10 ms ticks.
    total_ns = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/schedstat") as f:
            total_ns += int(f.read().split()[0])
    return total_ns / 1e6


def start_once(binary, config, workdir):
    """(wall ms to READY=1, CPU ms by then), or None if it did not get there."""
    notify_path = os.path.join(workdir, "notify")
    if os.path.exists(notify_path):
        os.unlink(notify_path)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    notify.bind(notify_path)
    notify.settimeout(0.05)
    env = dict(os.environ, NOTIFY_SOCKET=notify_path)
    began = time.monotonic()
    process = subprocess.Popen([binary, "-c", config], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = None
    try:
        deadline = began + READY_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            try:
                message = notify.recv(4096)
            except socket.timeout:
                continue
            if b"READY=1" in message.split(b"\n"):
                result = ((time.monotonic() - began) * 1000, cpu_ms(process.pid))
                break
    finally:
        notify.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return result


def check_once(binary, config):
    """(wall ms, CPU ms) of `yinetd --check`."""
    began = time.monotonic()
    pid = os.posix_spawn(binary, [binary, "--check", "-c", config], os.environ,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    wall = (time.monotonic() - began) * 1000
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{binary} --check failed")
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--yinetd", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=11)
    # Below Linux's ephemeral range (32768-60999), where other programs'
    # outgoing connections would take ports from under us.
    parser.add_argument("--first-port", type=int, default=21000)
    parser.add_argument("--program", default="/bin/cat")
    opts = parser.parse_args()
    binaries = [spec.split("=", 1) for spec in opts.yinetd]
    samples = {name: {"start": [], "check": []} for name, _ in binaries}
    with tempfile.TemporaryDirectory(prefix="yinetd-startup-") as workdir:
        config = os.path.join(workdir, "yinetd.yaml")
        write_config(config, opts.services, opts.first_port, opts.program)
        print(f"config: {opts.services} services, {os.path.getsize(config)} bytes; "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
        for run in range(opts.runs):
            # Interleaved, the order turned each run: load drifts alike on all.
            order = binaries if run % 2 == 0 else list(reversed(binaries))
            for name, binary in order:
                started = start_once(binary, config, workdir)
                if started is None:
                    sys.exit(f"{name}: no READY=1 (a port in {opts.first_port}.. taken?)")
                samples[name]["start"].append(started)
                samples[name]["check"].append(check_once(binary, config))
    print(f"load after {os.getloadavg()[0]:.2f}; medians of {opts.runs} runs each")
    print("| binary | start wall ms | start CPU ms | --check wall ms | --check CPU ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, _ in binaries:
        s, c = samples[name]["start"], samples[name]["check"]
        med = lambda values: statistics.median(values)
        print(f"| {name} | {med([w for w, _ in s]):.1f} | {med([u for _, u in s]):.1f} | "
              f"{med([w for w, _ in c]):.1f} | {med([u for _, u in c]):.1f} |")


if __name__ == "__main__":
    main()
