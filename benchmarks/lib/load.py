"""Closed-loop load generation with wrk (a Python threaded fallback when wrk is missing).

A `Request` is a URL with an optional bearer token, method and JSON body (POST
endpoints that create data). `measure` runs a warm-up, then the measured run,
and accounts the CPU time that the server, PostgreSQL, Redis and the load
generator spent per request (from /proc).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.lib.common import log

LUA_SCRIPT = r"""
-- Written by benchmarks/lib/load.py: bearer token, method and JSON body from the environment;
-- reports one JSON line with the counts and latency percentiles.
local auth = os.getenv("BENCH_AUTHORIZATION")
if auth ~= nil and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
local method = os.getenv("BENCH_METHOD")
if method ~= nil and method ~= "" then
  wrk.method = method
end
local body = os.getenv("BENCH_BODY")
if body ~= nil and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT {\"requests\": %d, \"duration_us\": %d, \"bytes\": %d, " ..
    "\"connect_errors\": %d, \"read_errors\": %d, \"write_errors\": %d, \"status_errors\": %d, " ..
    "\"timeouts\": %d, \"mean_us\": %.1f, \"p50_us\": %d, \"p90_us\": %d, \"p95_us\": %d, " ..
    "\"p99_us\": %d, \"max_us\": %d}\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max))
end
"""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Request:
    url: str
    token: str | None = None
    method: str = "GET"
    body: dict | None = None


@dataclass
class LoadSettings:
    connections: int = 32
    duration: int = 20
    warmup: int = 5
    wrk: str | None = None  # wrk binary; None: the Python fallback
    wrk_threads: int = 2
    lua: Path | None = None  # written by `write_lua`
    retries: int = 2  # measured runs repeated when other processes took more than 10 % of the CPU
    quiet_wait: int = 120  # seconds to wait at most for a quiet machine before each run

    def write_lua(self, workdir: Path) -> None:
        if self.wrk:
            self.lua = workdir / "bench.lua"
            self.lua.write_text(LUA_SCRIPT)

    def describe(self) -> str:
        if self.wrk:
            return f"wrk ({max(1, min(self.wrk_threads, self.connections))} threads)"
        return "Python threaded load generator (wrk missing)"


@dataclass
class LoadResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    errors: int
    non_2xx: int
    tool: str
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU ms per request by process group
    cpu_busy: float = 0.0  # share of all cores busy during the measured run (whole machine)
    cpu_other: float = 0.0  # share of all cores used by processes outside the benchmark

    def summary(self) -> str:
        return (f"{self.rps:,.0f} req/s, p50 {self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms, "
                f"p99 {self.p99_ms:.1f} ms, errors {self.errors}, non-2xx {self.non_2xx}; CPU ms/request "
                + ", ".join(f"{k} {v:.2f}" for k, v in self.cpu_ms.items())
                + f"; machine busy {self.cpu_busy:.0%}, other processes {self.cpu_other:.0%}")


def run_wrk(request: Request, seconds: int, settings: LoadSettings) -> LoadResult:
    env = dict(os.environ)
    env["BENCH_AUTHORIZATION"] = f"Bearer {request.token}" if request.token else ""
    env["BENCH_METHOD"] = request.method
    env["BENCH_BODY"] = json.dumps(request.body) if request.body is not None else ""
    threads = max(1, min(settings.wrk_threads, settings.connections))
    command = [settings.wrk, f"-t{threads}", f"-c{settings.connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(settings.lua), request.url]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False)
    match = re.search(r"^BENCH_RESULT (\{.*\})$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    data = json.loads(match.group(1))
    secs = data["duration_us"] / 1e6
    return LoadResult(
        requests=data["requests"], seconds=secs, rps=data["requests"] / secs,
        p50_ms=data["p50_us"] / 1000, p95_ms=data["p95_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        mean_ms=data["mean_us"] / 1000, max_ms=data["max_us"] / 1000,
        errors=data["connect_errors"] + data["read_errors"] + data["write_errors"] + data["timeouts"],
        non_2xx=data["status_errors"], tool="wrk",
    )


def run_python_load(request: Request, seconds: int, settings: LoadSettings) -> LoadResult:
    """Fallback when wrk is missing: one thread per connection (the GIL makes it a weaker client than wrk)."""
    match = re.match(r"http://([^:/]+):(\d+)(/.*)$", request.url)
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    headers = {"Authorization": f"Bearer {request.token}"} if request.token else {}
    payload = None
    if request.body is not None:
        payload = json.dumps(request.body).encode()
        headers["Content-Type"] = "application/json"
    connections = settings.connections
    deadline = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(connections)]
    failures = [0] * connections
    non_2xx = [0] * connections

    def worker(index: int) -> None:
        conn = None
        while time.perf_counter() < deadline:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=10)
                started = time.perf_counter()
                conn.request(request.method, path, body=payload, headers=headers)
                response = conn.getresponse()
                response.read()
                latencies[index].append(time.perf_counter() - started)
                if not 200 <= response.status < 300:
                    non_2xx[index] += 1
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                failures[index] += 1
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(seconds + 30)
    elapsed = time.perf_counter() - started
    samples = sorted(x for per in latencies for x in per)
    if not samples:
        raise RuntimeError(f"no successful request to {request.url}")

    def pct(p: float) -> float:
        return samples[min(len(samples) - 1, int(p / 100 * len(samples)))] * 1000

    return LoadResult(
        requests=len(samples), seconds=elapsed, rps=len(samples) / elapsed, p50_ms=pct(50), p95_ms=pct(95),
        p99_ms=pct(99), mean_ms=statistics.fmean(samples) * 1000, max_ms=samples[-1] * 1000,
        errors=sum(failures), non_2xx=sum(non_2xx), tool="python-threads",
    )


def cpu_snapshot(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the gunicorn server (master and workers), PostgreSQL and Redis."""
    totals = {"gunicorn": 0.0, "postgres": 0.0, "redis": 0.0}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1: raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        pid, ppid = int(entry), int(fields[1])
        seconds = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        if server_pid in (pid, ppid):
            totals["gunicorn"] += seconds
        elif comm == "postgres":
            totals["postgres"] += seconds
        elif comm.startswith("redis-server"):
            totals["redis"] += seconds
    children = os.times()
    totals["load generator"] = children.children_user + children.children_system
    # Whole machine: user nice system idle iowait irq softirq steal ...
    jiffies = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    totals["machine"] = (sum(jiffies) - jiffies[3] - jiffies[4] - jiffies[7]) / CLOCK_TICKS
    return totals


def _machine_busy(seconds: float = 1.0) -> float:
    """Share of all cores busy over `seconds` (whole machine)."""
    def sample() -> tuple[int, int]:
        jiffies = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        return sum(jiffies), jiffies[3] + jiffies[4] + jiffies[7]

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def wait_for_quiet(max_wait: int, threshold: float = 0.15) -> None:
    """Wait (at most `max_wait` s) until the machine is nearly idle: other people's work skews the figures."""
    deadline = time.monotonic() + max_wait
    busy = _machine_busy()
    if busy >= threshold:
        log(f"machine {busy:.0%} busy before the run: waiting up to {max_wait} s for it to quieten")
    while busy >= threshold and time.monotonic() < deadline:
        busy = _machine_busy(2.0)
    if busy >= threshold:
        log(f"machine still {busy:.0%} busy: measuring anyway")


def run_once(request: Request, seconds: int, settings: LoadSettings) -> LoadResult:
    if settings.wrk and settings.lua is not None:
        return run_wrk(request, seconds, settings)
    return run_python_load(request, seconds, settings)


def _measured_run(request: Request, settings: LoadSettings, server_pid: int) -> LoadResult:
    before = cpu_snapshot(server_pid)
    own_before = time.process_time()
    result = run_once(request, settings.duration, settings)
    after = cpu_snapshot(server_pid)
    used = {name: after[name] - before[name] for name in before}
    machine = used.pop("machine")
    if result.tool != "wrk":  # the Python fallback runs in this process
        used["load generator"] = time.process_time() - own_before
    capacity = result.seconds * (os.cpu_count() or 1)
    result.cpu_ms = {name: seconds * 1000 / max(1, result.requests) for name, seconds in used.items()}
    result.cpu_busy = machine / capacity
    result.cpu_other = max(0.0, machine - sum(used.values())) / capacity
    return result


def measure(request: Request, settings: LoadSettings, server_pid: int) -> LoadResult:
    """A warm-up run, then the measured run with CPU accounting per process group.

    When other processes took more than 10 % of the CPU during the measured run,
    it is repeated (after waiting for a quiet machine) up to `settings.retries` times.
    """
    wait_for_quiet(settings.quiet_wait)
    if settings.warmup > 0:
        run_once(request, settings.warmup, settings)
    result = _measured_run(request, settings, server_pid)
    for attempt in range(settings.retries):
        if result.cpu_other <= 0.10:
            break
        log(f"other processes used {result.cpu_other:.0%} of the CPU during this run: repeating it "
            f"({attempt + 1}/{settings.retries})")
        wait_for_quiet(settings.quiet_wait)
        result = _measured_run(request, settings, server_pid)
    if result.cpu_other > 0.10:
        log(f"warning: other processes used {result.cpu_other:.0%} of the CPU during this run: "
            "the machine was not quiet, figures are pessimistic")
    return result
