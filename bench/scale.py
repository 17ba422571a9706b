#!/usr/bin/env python3
"""What the supervisor's loop costs as what it watches grows (issue 11).

Two or more yinetd binaries (say the code before and after a change) are
measured in one run, interleaved, so drift on a shared machine spreads over
all of them:

- throughput: one service, loadgen at concurrency 1, 16, 64 for a fixed time
  (bench/compare.sh's method, yinetd only);
- many services: 1, 100, 1000 services on loopback ports, a fixed number of
  connections at concurrency 16 to the last one; and the start-up time, from
  just before exec to READY=1 on a NOTIFY_SOCKET of our own;
- held connections: a service whose program (hold_service) holds its
  connection until EOF, and a tiny service beside it; the tiny service's
  latency at concurrency 1 with no connection held, then with 5,000 held,
  each measured after --settle seconds of quiet (the held programs have all
  just started: the steady state is what the goal is about, not the ramp).

Every figure also carries the CPU time of the supervisor's loop thread per
connection (children excluded), which a busy machine disturbs less than a
rate or a latency.

  bench/scale.py --yinetd before=OLD/yinetd --yinetd after=NEW/yinetd \\
      --loadgen build/bench/loadgen --tiny build/bench/tiny_service \\
      --hold build/bench/hold_service --json OUT.json --markdown OUT.md

--smoke shrinks every count so a run takes seconds; --strict exits 1 when a
connection failed, a count fell short or a process was left behind (the
`bench` test suite runs both). Every wait is bounded; every process it starts
is stopped by its pid.
"""
import argparse
import json
import os
import platform
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPLY = "hello from tiny\\n"  # loadgen decodes the escape
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
LOADGEN_TIMEOUT_S = 600.0
HOLD_TIMEOUT_S = 300.0
MAX_HOLD_FAILURES = 16


def log(message):
    print(f"scale: {message}", file=sys.stderr, flush=True)


class Checks:
    """What a run must hold to be trusted (every connection served, every
    program started and gone); the failures are reported at the end."""

    def __init__(self):
        self.passed = 0
        self.problems = []

    def expect(self, condition, problem):
        if condition:
            self.passed += 1
        else:
            log(f"PROBLEM: {problem}")
            self.problems.append(problem)


CHECKS = Checks()


# ---- processes --------------------------------------------------------------

def proc_start_time(pid):
    """The kernel's start time of PID (field 22), or None when it is gone:
    with the pid it names one process even if the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def cpu_seconds(pid):
    """CPU time of PID's main thread, the loop's (ns from schedstat, where
    utime/stime would count in 10 ms ticks); children not included."""
    with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def user_system_ticks(pid):
    """utime and stime of PID's main thread, in clock ticks: coarse, but it
    splits the loop's time between our code and the kernel's."""
    with open(f"/proc/{pid}/task/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def children_of(pid):
    """(pid, start time) of PID's live children."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids = [int(p) for p in f.read().split()]
    except OSError:
        return []
    return [(p, t) for p in pids if (t := proc_start_time(p)) is not None]


def free_ports(count):
    """COUNT distinct loopback ports, from the kernel (bound all at once so
    they differ, then released for yinetd to bind)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def service_yaml(name, port, program):
    return (f"  - name: {name}\n    listen: 127.0.0.1:{port}\n"
            f"    program: {program}\n    stderr: null\n")


class Supervisor:
    """One yinetd process: started, timed to READY=1, stopped by its pid."""

    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.process = None
        self.startup_s = None
        self.startup_cpu_s = None

    def start(self, services):
        """SERVICES: (name, port, program). Returns False when yinetd did
        not become ready (a port taken between our check and its bind)."""
        config = os.path.join(self.workdir, "yinetd.yaml")
        with open(config, "w") as f:
            f.write("services:\n")
            for name, port, program in services:
                f.write(service_yaml(name, port, program))
        notify_path = os.path.join(self.workdir, "notify")
        if os.path.exists(notify_path):
            os.unlink(notify_path)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            notify.bind(notify_path)
            env = dict(os.environ, NOTIFY_SOCKET=notify_path)
            with open(os.path.join(self.workdir, "yinetd.log"), "ab") as stderr:
                began = time.monotonic()
                self.process = subprocess.Popen([self.binary, "-c", config], env=env,
                                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                stderr=stderr)
            return self._wait_ready(notify, began)
        finally:
            notify.close()

    def _wait_ready(self, notify, began):
        deadline = began + READY_TIMEOUT_S
        notify.settimeout(0.05)
        while time.monotonic() < deadline:
            try:
                message = notify.recv(4096)
            except socket.timeout:
                if self.process.poll() is not None:
                    return False
                continue
            if b"READY=1" in message.split(b"\n"):
                self.startup_s = time.monotonic() - began
                # Idle once ready: nearly all of this is the start-up's.
                self.startup_cpu_s = cpu_seconds(self.pid)
                return True
        return False

    @property
    def pid(self):
        return self.process.pid

    def cpu_seconds(self):
        return cpu_seconds(self.pid)

    def stop(self):
        """SIGTERM, a bounded wait, SIGKILL; then any program it left
        behind, by pid and start time. Returns how many were left."""
        if self.process is None:
            return 0
        children = children_of(self.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
                CHECKS.expect(self.process.returncode == 0,
                              f"yinetd {self.pid} exited {self.process.returncode} on SIGTERM")
            except subprocess.TimeoutExpired:
                CHECKS.expect(False, f"yinetd {self.pid} ignored SIGTERM for {STOP_TIMEOUT_S} s")
                self.process.kill()
                self.process.wait()
        self.process = None
        left = 0
        for pid, started in children:
            if proc_start_time(pid) == started:
                left += 1
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return left


def start_supervisor(binary, workdir, make_services, attempts=3):
    """Starts yinetd on fresh ports; MAKE_SERVICES(ports) -> services."""
    for _ in range(attempts):
        supervisor = Supervisor(binary, workdir)
        services = make_services()
        if supervisor.start(services):
            return supervisor, services
        supervisor.stop()
        log(f"{binary} did not get ready; another try on other ports")
    raise RuntimeError(f"{binary} did not get ready: see {workdir}/yinetd.log")


# ---- load --------------------------------------------------------------------

def run_loadgen(loadgen, port, concurrency, count=None, duration=None):
    command = [loadgen, "--port", str(port), "--concurrency", str(concurrency), "--expect", REPLY,
               "--timeout-ms", "10000"]
    if count is not None:
        command += ["--max-connections", str(count), "--duration", "600"]
    else:
        command += ["--duration", str(duration)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=LOADGEN_TIMEOUT_S)
    lines = result.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"loadgen printed nothing: {result.stderr.strip()}")
    figures = json.loads(lines[-1])
    CHECKS.expect(figures["errors_total"] == 0, f"loadgen on port {port}: {figures['errors']}")
    CHECKS.expect(count is None or figures["connections"] == count,
                  f"loadgen on port {port}: {figures['connections']} of {count} connections")
    return figures


def measured_load(supervisor, loadgen, port, concurrency, count=None, duration=None):
    """loadgen's figures plus the supervisor's CPU µs per connection."""
    cpu_before = supervisor.cpu_seconds()
    user_before, system_before = user_system_ticks(supervisor.pid)
    figures = run_loadgen(loadgen, port, concurrency, count, duration)
    cpu = supervisor.cpu_seconds() - cpu_before
    user_after, system_after = user_system_ticks(supervisor.pid)
    ticks = (user_after - user_before) + (system_after - system_before)
    served = max(figures["connections"], 1)
    return {"supervisor_kernel_share": round((system_after - system_before) / ticks, 2) if ticks else None,
            "conn_per_s": figures["conn_per_s"], "p50_us": figures["p50_us"],
            "p99_us": figures["p99_us"], "max_us": figures["max_us"],
            "connections": figures["connections"], "errors": figures["errors_total"],
            "supervisor_cpu_us_per_conn": round(cpu * 1e6 / served, 1)}


def hold_connections(port, count, window, timeout_s):
    """COUNT connections to PORT, each held once its program said '+'.
    At most WINDOW wait for that at a time, so the backlog never overflows."""
    held, pending = [], {}
    selector = selectors.DefaultSelector()
    deadline = time.monotonic() + timeout_s
    opened = failed = 0
    try:
        while len(held) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(held)} of {count} connections held after {timeout_s} s")
            while opened < count and len(pending) < window:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
                s.connect_ex(("127.0.0.1", port))
                selector.register(s, selectors.EVENT_READ)
                pending[s.fileno()] = s
                opened += 1
            for key, _ in selector.select(0.1):
                s = key.fileobj
                selector.unregister(s)
                del pending[s.fileno()]
                try:
                    data = s.recv(1)
                except OSError:
                    data = b""
                if data == b"+":
                    held.append(s)
                    continue
                # Refused, or closed without the program's byte: the
                # program is not one that holds; a few are tolerated.
                s.close()
                opened -= 1
                failed += 1
                if failed > MAX_HOLD_FAILURES:
                    raise RuntimeError(f"{failed} connections to port {port} ended before the program's "
                                       f"byte: is --hold a program that holds its connection?")
        return held
    except BaseException:
        for s in held:
            s.close()
        raise
    finally:
        for s in pending.values():
            s.close()
        selector.close()


def wait_children_gone(supervisor, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not children_of(supervisor.pid):
            return True
        time.sleep(0.1)
    return False


# ---- the scenarios -------------------------------------------------------------

def scenario_throughput(version, binary, tools, opts, workdir, run):
    def one_service():
        return [("tiny", free_ports(1)[0], tools.tiny)]
    supervisor, services = start_supervisor(binary, workdir, one_service)
    records = []
    try:
        for c in opts.concurrency:
            figures = measured_load(supervisor, tools.loadgen, services[0][1], c, duration=opts.duration)
            records.append(dict(kind="throughput", version=version, run=run, concurrency=c, **figures))
            log(f"{version:>8} throughput c={c}: {figures['conn_per_s']} conn/s, p99 {figures['p99_us']} µs")
    finally:
        left = supervisor.stop()
    CHECKS.expect(left == 0, f"{version}: {left} programs left after shutdown")
    return records


def scenario_many_services(version, binary, tools, opts, workdir, run, count):
    def services():
        return [(f"s{i}", port, tools.tiny) for i, port in enumerate(free_ports(count))]
    supervisor, started = start_supervisor(binary, workdir, services)
    try:
        # Load on the last service: the one a scan in config order reaches last.
        figures = measured_load(supervisor, tools.loadgen, started[-1][1], opts.many_concurrency,
                                count=opts.many_connections)
        rss_kb = rss_of(supervisor.pid)
    finally:
        left = supervisor.stop()
    CHECKS.expect(left == 0, f"{version}: {left} programs left after shutdown")
    startup_ms = round(supervisor.startup_s * 1000, 2)
    startup_cpu_ms = round(supervisor.startup_cpu_s * 1000, 2)
    log(f"{version:>8} {count} services: start-up {startup_ms} ms ({startup_cpu_ms} ms CPU), "
        f"{figures['conn_per_s']} conn/s, p99 {figures['p99_us']} µs, "
        f"{figures['supervisor_cpu_us_per_conn']} µs CPU/conn")
    return [dict(kind="many_services", version=version, run=run, services=count, startup_ms=startup_ms,
                 startup_cpu_ms=startup_cpu_ms, rss_kb=rss_kb, **figures)]


def scenario_held(version, binary, tools, opts, workdir, run):
    def services():
        hold_port, tiny_port = free_ports(2)
        return [("hold", hold_port, tools.hold), ("tiny", tiny_port, tools.tiny)]
    supervisor, started = start_supervisor(binary, workdir, services)
    hold_port, tiny_port = started[0][1], started[1][1]
    records, held = [], []
    try:
        time.sleep(opts.settle)
        idle = measured_load(supervisor, tools.loadgen, tiny_port, 1, count=opts.latency_connections)
        records.append(dict(kind="held", version=version, run=run, held=0, **idle))
        began = time.monotonic()
        held = hold_connections(hold_port, opts.held, window=64, timeout_s=HOLD_TIMEOUT_S)
        hold_s = time.monotonic() - began
        running = len(children_of(supervisor.pid))
        CHECKS.expect(running >= opts.held,
                      f"{version}: {running} programs running for {opts.held} held connections")
        time.sleep(opts.settle)
        busy = measured_load(supervisor, tools.loadgen, tiny_port, 1, count=opts.latency_connections)
        records.append(dict(kind="held", version=version, run=run, held=len(held),
                            rss_kb=rss_of(supervisor.pid), seconds_to_hold=round(hold_s, 2), **busy))
        for s in held:
            s.close()
        held = []
        CHECKS.expect(wait_children_gone(supervisor, 60),
                      f"{version}: held programs still running 60 s after their clients closed")
    finally:
        for s in held:
            s.close()
        left = supervisor.stop()
    CHECKS.expect(left == 0, f"{version}: {left} programs left after shutdown")
    log(f"{version:>8} held 0 / {opts.held}: p50 {idle['p50_us']} / {busy['p50_us']} µs, "
        f"p99 {idle['p99_us']} / {busy['p99_us']} µs, CPU/conn {idle['supervisor_cpu_us_per_conn']} / "
        f"{busy['supervisor_cpu_us_per_conn']} µs")
    return records


def rss_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_all(opts, tools, workdir):
    """Repetitions outside, versions inside each scenario; the versions'
    order flips every repetition so neither always goes first."""
    records = []
    for run in range(1, opts.runs + 1):
        versions = opts.yinetd if run % 2 else list(reversed(opts.yinetd))
        log(f"repetition {run} of {opts.runs} (load average {os.getloadavg()[0]:.1f})")
        for version, binary in versions:
            records += scenario_throughput(version, binary, tools, opts, workdir, run)
        for count in opts.services:
            for version, binary in versions:
                records += scenario_many_services(version, binary, tools, opts, workdir, run, count)
        for version, binary in versions:
            records += scenario_held(version, binary, tools, opts, workdir, run)
    return records


# ---- the summary ----------------------------------------------------------------

def median_of(records, field, **match):
    values = [r[field] for r in records if all(r.get(k) == v for k, v in match.items())]
    return statistics.median(values) if values else None


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def summarize(records, opts):
    versions = [v for v, _ in opts.yinetd]
    summary = {"throughput": [], "many_services": [], "held": []}
    for c in opts.concurrency:
        row = {"concurrency": c}
        for v in versions:
            row[v] = {f: median_of(records, f, kind="throughput", version=v, concurrency=c)
                      for f in ("conn_per_s", "p50_us", "p99_us", "supervisor_cpu_us_per_conn")}
        if len(versions) == 2:
            row["conn_per_s_ratio"] = ratio(row[versions[1]]["conn_per_s"], row[versions[0]]["conn_per_s"])
        summary["throughput"].append(row)
    base = opts.services[0]
    for v in versions:
        one = median_of(records, "conn_per_s", kind="many_services", version=v, services=base)
        for n in opts.services:
            fields = {f: median_of(records, f, kind="many_services", version=v, services=n)
                      for f in ("conn_per_s", "p99_us", "startup_ms", "startup_cpu_ms",
                                "supervisor_cpu_us_per_conn", "rss_kb")}
            fields["startup_ms_max"] = max(r["startup_ms"] for r in records
                                           if r["kind"] == "many_services" and r["version"] == v
                                           and r["services"] == n)
            summary["many_services"].append(dict(version=v, services=n, **fields,
                                                 conn_per_s_vs_first=ratio(fields["conn_per_s"], one)))
    for v in versions:
        idle = {f: median_of(records, f, kind="held", version=v, held=0)
                for f in ("p50_us", "p99_us", "supervisor_cpu_us_per_conn", "supervisor_kernel_share")}
        busy_records = [r for r in records if r["kind"] == "held" and r["version"] == v and r["held"] > 0]
        busy = {f: statistics.median(r[f] for r in busy_records) if busy_records else None
                for f in ("p50_us", "p99_us", "supervisor_cpu_us_per_conn", "supervisor_kernel_share",
                          "rss_kb", "seconds_to_hold")}
        summary["held"].append(dict(version=v, held=opts.held, idle=idle, busy=busy,
                                    p99_ratio=ratio(busy["p99_us"], idle["p99_us"])))
    return summary


def markdown(summary, opts):
    versions = [v for v, _ in opts.yinetd]
    out = []
    out.append("Throughput, one service (conn/s; median of %d)\n" % opts.runs)
    head = "| c | " + " | ".join(f"{v} conn/s | {v} p99 µs | {v} CPU µs/conn" for v in versions)
    if len(versions) == 2:
        head += f" | {versions[1]} ÷ {versions[0]}"
    out += [head + " |", "| ---: " * (1 + 3 * len(versions) + (len(versions) == 2)) + "|"]
    for row in summary["throughput"]:
        cells = [str(row["concurrency"])]
        for v in versions:
            cells += [fmt(row[v]["conn_per_s"]), fmt(row[v]["p99_us"]), fmt(row[v]["supervisor_cpu_us_per_conn"])]
        if len(versions) == 2:
            cells.append(fmt(row["conn_per_s_ratio"]))
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append(f"Many services, load on the last one (c={opts.many_concurrency}, "
               f"{opts.many_connections} connections; median of {opts.runs})\n")
    out.append(f"| version | services | conn/s | ÷ {opts.services[0]} service(s) | p99 µs | CPU µs/conn "
               "| start-up ms (median, max) | start-up CPU ms | RSS kB |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in summary["many_services"]:
        out.append(f"| {row['version']} | {row['services']} | {fmt(row['conn_per_s'])} | "
                   f"{fmt(row['conn_per_s_vs_first'])} | {fmt(row['p99_us'])} | "
                   f"{fmt(row['supervisor_cpu_us_per_conn'])} | {fmt(row['startup_ms'])}, "
                   f"{fmt(row['startup_ms_max'])} | {fmt(row['startup_cpu_ms'])} | {fmt(row['rss_kb'])} |")
    out.append("")
    out.append(f"Held connections: another service's latency at c=1 ({opts.latency_connections} "
               f"connections; median of {opts.runs})\n")
    out.append("| version | held | p50 µs | p99 µs | p99 ÷ none held | CPU µs/conn | of it in the kernel "
               "| RSS kB | s to hold them |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in summary["held"]:
        out.append(f"| {row['version']} | 0 | {fmt(row['idle']['p50_us'])} | {fmt(row['idle']['p99_us'])} | 1.00 "
                   f"| {fmt(row['idle']['supervisor_cpu_us_per_conn'])} | "
                   f"{fmt(row['idle']['supervisor_kernel_share'])} | | |")
        out.append(f"| {row['version']} | {row['held']} | {fmt(row['busy']['p50_us'])} | "
                   f"{fmt(row['busy']['p99_us'])} | {fmt(row['p99_ratio'])} | "
                   f"{fmt(row['busy']['supervisor_cpu_us_per_conn'])} | "
                   f"{fmt(row['busy']['supervisor_kernel_share'])} | {fmt(row['busy']['rss_kb'])} | "
                   f"{fmt(row['busy']['seconds_to_hold'])} |")
    return "\n".join(out) + "\n"


def fmt(value):
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"
    return str(value)


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release()}


# ---- main -----------------------------------------------------------------------

def version_binary(text):
    label, sep, path = text.partition("=")
    if not sep or not label or not os.access(path, os.X_OK):
        raise argparse.ArgumentTypeError(f"want LABEL=PATH to an executable, got {text!r}")
    return label, os.path.abspath(path)


def int_list(text):
    return [int(x) for x in text.replace(",", " ").split()]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--yinetd", type=version_binary, action="append", required=True,
                        help="LABEL=PATH; give two (before, after) for ratios")
    parser.add_argument("--loadgen", required=True)
    parser.add_argument("--tiny", required=True)
    parser.add_argument("--hold", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int_list, default=[1, 16, 64])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per throughput run")
    parser.add_argument("--services", type=int_list, default=[1, 100, 1000])
    parser.add_argument("--many-concurrency", type=int, default=16)
    parser.add_argument("--many-connections", type=int, default=3000)
    parser.add_argument("--held", type=int, default=5000)
    parser.add_argument("--latency-connections", type=int, default=2000)
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds of quiet before each latency measurement of the held scenario")
    parser.add_argument("--smoke", action="store_true", help="tiny counts: seconds, not minutes")
    parser.add_argument("--strict", action="store_true", help="exit 1 on any problem")
    parser.add_argument("--json")
    parser.add_argument("--markdown")
    opts = parser.parse_args()
    if opts.smoke:
        opts.runs, opts.concurrency, opts.duration = 1, [1, 4], 0.3
        opts.services, opts.many_concurrency, opts.many_connections = [1, 20], 4, 100
        opts.held, opts.latency_connections, opts.settle = 50, 50, 0.0
    return opts


def raise_fd_limit(needed):
    """yinetd inherits it: every held connection is one of our sockets, and
    the 1000-service case is 1000 of its listeners."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise SystemExit(f"scale: RLIMIT_NOFILE hard limit {hard} < {needed}: raise it (ulimit -Hn)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def exit_on_sigterm(signo, _frame):
    # SystemExit unwinds through every finally: each yinetd is stopped and
    # the temp dir removed when a test runner or timeout(1) ends us.
    raise SystemExit(128 + signo)


def main():
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    opts = parse_args()
    tools = argparse.Namespace(loadgen=os.path.abspath(opts.loadgen), tiny=os.path.abspath(opts.tiny),
                               hold=os.path.abspath(opts.hold))
    raise_fd_limit(max(opts.held, max(opts.services)) + 1024)
    load_before = os.getloadavg()
    began = time.time()
    with tempfile.TemporaryDirectory(prefix="yinetd-scale.") as workdir:
        records = run_all(opts, tools, workdir)
    summary = summarize(records, opts)
    table = markdown(summary, opts)
    print(table)
    result = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(began)),
              "seconds": round(time.time() - began), "machine": machine(),
              "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "versions": dict(opts.yinetd), "options": {k: v for k, v in vars(opts).items()
                                                          if k not in ("yinetd", "json", "markdown")},
              "problems": CHECKS.problems, "summary": summary, "records": records}
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
    if opts.markdown:
        with open(opts.markdown, "w") as f:
            f.write(table)
    log(f"{len(records)} records")
    # The test suite's counter (scripts/count_tests.py) reads this line.
    print(f"{CHECKS.passed} passed, {len(CHECKS.problems)} failed")
    if opts.strict and CHECKS.problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
