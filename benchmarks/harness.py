"""The benchmark harness: databases, the app in-process, gunicorn and helper processes, wrk, CPU, machine facts.

Everything talks to 127.0.0.1 only. Processes started here run in their own
process groups and are stopped by `stop_processes()` (the runner calls it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
REDIS_URL = "redis://127.0.0.1:6379/14"
PASSWORD = "bench-password-not-secret"  # noqa: S105 - synthetic benchmark accounts only
TICKS = os.sysconf("SC_CLK_TCK")
_started: list[subprocess.Popen] = []


def log(message: str) -> None:
    """Print a timestamped progress line."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Database:
    """A scenario's own database."""

    url: str  # SQLAlchemy URL of the scenario's own database
    server_url: str | None = None  # PostgreSQL: where it was created, and is dropped from

    @property
    def name(self) -> str:
        """The database name (the file path on SQLite)."""
        return sa.engine.make_url(self.url).database

    @property
    def is_postgres(self) -> bool:
        """Whether it is a PostgreSQL database."""
        return self.url.startswith("postgresql")


@dataclass
class LoadSettings:
    """gunicorn and wrk settings of a full run."""

    connections: int = 32
    duration: int = 20  # measured seconds per wrk run
    warmup: int = 5
    workers: int = 4  # gunicorn workers (sync)
    wrk_threads: int = 2
    quiet_wait: int = 120  # seconds to wait at most for a quiet machine before each measured run


@dataclass
class ScenarioRun:
    """What a scenario gets from the runner, and the correctness properties it checked."""

    database: Database
    quick: bool
    sizes: dict
    load: LoadSettings
    workdir: Path
    checks: list[dict] = field(default_factory=list)

    def check(self, prop: str, ok: bool, detail: str) -> bool:
        """Record a property (never a timing) and whether it held."""
        self.checks.append({"property": prop, "ok": bool(ok), "detail": detail})
        log(f"{'ok' if ok else 'FAILED'}: {prop}: {detail}")
        return bool(ok)


def _on_server(server_url: str, *statements: str) -> None:
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def create_postgres_database(server_url: str, name: str) -> Database:
    """(Re)create the database `name` on the server of `server_url` (a URL of any database there)."""
    from backend.config import normalise_database_url

    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"refusing unusual database name {name!r}")
    server_url = normalise_database_url(server_url)
    _on_server(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return Database(sa.engine.make_url(server_url).set(database=name).render_as_string(False), server_url)


def drop_database(database: Database) -> None:
    """Drop a database made by `create_postgres_database` (SQLite files go with their folder)."""
    if database.server_url:
        _on_server(database.server_url, f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')


def bench_app(database: Database, redis: bool = False, **config):
    """The app in-process on the scenario's database (no Redis unless asked)."""
    from backend import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": database.url, "SECRET_KEY": secrets.token_urlsafe(36),
                       "LOG_LEVEL": "WARNING", "REDIS_URL": REDIS_URL if redis else None,
                       "RATELIMIT_KEY_PREFIX": "bridgeline-bench", **config})


def migrate(database: Database) -> None:
    """Create the schema with the app's own migrations (Alembic upgrade to head)."""
    from flask_migrate import upgrade

    from backend.database import db

    app = bench_app(database)
    logging.disable(logging.INFO)  # Alembic's line per migration
    try:
        with app.app_context():
            upgrade()
            db.engine.dispose()
    finally:
        logging.disable(logging.NOTSET)


@contextlib.contextmanager
def recorded_statements(engine: sa.Engine) -> Iterator[list[tuple[str, object, float]]]:
    """Collect (statement, parameters, ms) of every cursor execute on the engine while open."""
    captured: list[tuple[str, object, float]] = []
    started: dict[int, float] = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        started[id(cursor)] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters, (time.perf_counter() - started.pop(id(cursor), 0.0)) * 1000))

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield captured
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)


def explain(engine: sa.Engine, statement: str, parameters) -> tuple[str, float]:
    """EXPLAIN (ANALYZE, BUFFERS) of a recorded statement, rolled back: the plan text and its execution ms."""
    with engine.connect() as conn:
        lines = list(conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).scalars())
        conn.rollback()
    exec_ms = next((float(x.split(":")[1].split()[0]) for x in lines if x.startswith("Execution Time")), 0.0)
    return "\n".join(lines), exec_ms


def login_headers(client, email: str) -> dict[str, str]:
    """Log in through the API with Flask's test client; the bearer header."""
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    if response.status_code != 200:
        raise RuntimeError(f"login as {email} failed: {response.status_code} {response.get_data(as_text=True)}")
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def app_env(database: Database, redis: bool, **extra: str) -> dict[str, str]:
    """A production-shaped environment for a server or worker process on the scenario's database."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TWILIO_MESSAGING_SERVICE_SID")}
    env.update(DATABASE_URL=database.url, BRIDGELINE_ENV="production", SECRET_KEY=secrets.token_urlsafe(36),
               LOG_LEVEL="WARNING", RATELIMIT_KEY_PREFIX="bridgeline-bench", **extra)
    return env | ({"REDIS_URL": REDIS_URL} if redis else {})


def start_process(args: list[str], env: dict[str, str], log_path: Path, stdin: int | None = None) -> subprocess.Popen:
    """Start a process in its own group, output to `log_path`; `stop_processes()` ends it."""
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdin=stdin, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    _started.append(proc)
    return proc


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Close its stdin, SIGTERM its process group, SIGKILL after `timeout`."""
    with contextlib.suppress(OSError, AttributeError):
        proc.stdin.close()
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=wait)
    if proc in _started:
        _started.remove(proc)


def stop_processes() -> None:
    """Stop every process this run started."""
    for proc in reversed(list(_started)):
        stop_process(proc)


def wait_for_line(path: Path, prefix: str, proc: subprocess.Popen, timeout: float) -> str:
    """The first line of a process's output starting with `prefix`; raises if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = next((x for x in path.read_text().splitlines() if x.startswith(prefix)), None)
        if line is not None:
            return line
        if proc.poll() is not None:
            raise RuntimeError(f"{path.name}: exited with {proc.returncode}:\n{path.read_text()[-3000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"{path.name}: no {prefix!r} line within {timeout:.0f} s:\n{path.read_text()[-3000:]}")


@dataclass
class Server:
    """A gunicorn started by `start_gunicorn`."""

    proc: subprocess.Popen
    port: int

    def url(self, path: str) -> str:
        """The loopback URL of a path on this server."""
        return f"http://{HOST}:{self.port}{path}"


def start_gunicorn(app_spec: str, env: dict[str, str], load: LoadSettings, workdir: Path, probe: str) -> Server:
    """gunicorn on a free loopback port, once `probe` answers."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    log_path = workdir / f"gunicorn-{port}.log"
    proc = start_process([str(BIN / "gunicorn"), "-w", str(load.workers), "-b", f"{HOST}:{port}", "--log-level",
                          "warning", app_spec], env, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"http://{HOST}:{port}{probe}", timeout=2):  # noqa: S310
            return Server(proc, port)
        time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer {probe} within 60 s")


def http_login(server: Server, email: str) -> str:
    """Log in through the API of a running server; the access token."""
    request = urllib.request.Request(server.url("/api/v1/auth/login"),  # noqa: S310 - loopback only
                                     data=json.dumps({"email": email, "password": PASSWORD}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
        return json.loads(response.read())["access_token"]


LUA = r"""
local auth, method, body = os.getenv("BENCH_AUTHORIZATION"), os.getenv("BENCH_METHOD"), os.getenv("BENCH_BODY")
if auth ~= "" then wrk.headers["Authorization"] = auth end
wrk.method = method
if body ~= "" then wrk.body = body; wrk.headers["Content-Type"] = "application/json" end
function done(s, lat, req)
  local e = s.errors
  io.write(string.format('BENCH_RESULT {"requests": %d, "seconds": %f, "errors": %d, "non_2xx": %d, ' ..
    '"p50_ms": %f, "p95_ms": %f, "p99_ms": %f, "max_ms": %f}\n', s.requests, s.duration / 1e6,
    e.connect + e.read + e.write + e.timeout, e.status, lat:percentile(50) / 1e3, lat:percentile(95) / 1e3,
    lat:percentile(99) / 1e3, lat.max / 1e3))
end
"""


def run_wrk(url: str, seconds: int, load: LoadSettings, token: str | None, method: str, body: dict | None) -> dict:
    """One closed-loop wrk run: requests, req/s, latency percentiles (ms), errors."""
    env = dict(os.environ, BENCH_AUTHORIZATION=f"Bearer {token}" if token else "", BENCH_METHOD=method,
               BENCH_BODY=json.dumps(body) if body is not None else "")
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(LUA)
        lua.flush()
        done = subprocess.run(["wrk", f"-t{load.wrk_threads}", f"-c{load.connections}", f"-d{seconds}s", "--timeout",
                               "10s", "-s", lua.name, url], env=env, capture_output=True, text=True, check=False)
    match = re.search(r"^BENCH_RESULT (\{.*\})$", done.stdout, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk failed ({done.returncode}; `apt-get install wrk`?):\n{done.stdout}\n{done.stderr}")
    result = json.loads(match.group(1))
    return result | {"rps": result["requests"] / result["seconds"]}


def cpu_snapshot(groups: dict[str, Iterable[int]]) -> dict[str, float]:
    """CPU seconds so far: each group (its processes and their children), PostgreSQL, Redis, this script,
    its finished children (wrk), and the whole machine (busy time of all cores)."""
    groups = {name: set(pids) for name, pids in groups.items()}
    totals = dict.fromkeys([*groups, "postgres", "redis"], 0.0)
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            raw = Path(f"/proc/{entry}/stat").read_text()
            comm, fields = raw[raw.index("(") + 1: raw.rindex(")")], raw[raw.rindex(")") + 2:].split()
            seconds = sum(int(f) for f in fields[11:15]) / TICKS  # own and reaped children's user + system
            pid, ppid = int(entry), int(fields[1])
            name = next((g for g, pids in groups.items() if pid in pids or ppid in pids), None)
            name = name or ("postgres" if comm == "postgres" else "redis" if comm.startswith("redis") else None)
            if name:
                totals[name] += seconds
    times = os.times()
    jiffies = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return totals | {"load generator": times.children_user + times.children_system,
                     "benchmark script": times.user + times.system,
                     "machine": (sum(jiffies) - jiffies[3] - jiffies[4] - jiffies[7]) / TICKS}


def cpu_used(before: dict[str, float], after: dict[str, float], seconds: float) -> dict:
    """CPU seconds by group between two snapshots, the machine's busy share and that of other processes."""
    used = {name: after[name] - before[name] for name in after}
    machine = used.pop("machine")
    capacity = seconds * (os.cpu_count() or 1)
    return {"cpu_s": used, "machine_s": machine, "busy": machine / capacity,
            "other": max(0.0, machine - sum(used.values())) / capacity}


def status_kb(pid: int, key: str = "VmRSS") -> int:
    """A kB figure of /proc/<pid>/status (VmRSS, VmHWM); 0 when the process is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def wait_for_quiet(max_wait: float, threshold: float = 0.15) -> None:
    """Wait (at most `max_wait` s) until the machine is nearly idle: other work skews the figures."""
    deadline, waited = time.monotonic() + max_wait, False
    while time.monotonic() < deadline:
        before = cpu_snapshot({})
        time.sleep(1)
        busy = cpu_used(before, cpu_snapshot({}), 1.0)["busy"]
        if busy < threshold:
            return
        if not waited:
            log(f"machine {busy:.0%} busy: waiting up to {max_wait:.0f} s for it to quieten")
        waited = True
    if waited:
        log("machine still busy: measuring anyway")


def measure(url: str, load: LoadSettings, server: Server, token: str | None = None, method: str = "GET",
            body: dict | None = None) -> dict:
    """A warm-up, then a measured wrk run with CPU ms per request by process group (repeated once if other
    processes took over 10 % of the CPU)."""
    wait_for_quiet(load.quiet_wait)
    if load.warmup:
        run_wrk(url, load.warmup, load, token, method, body)
    for attempt in range(2):
        before = cpu_snapshot({"gunicorn": [server.proc.pid]})
        result = run_wrk(url, load.duration, load, token, method, body)
        cpu = cpu_used(before, cpu_snapshot({"gunicorn": [server.proc.pid]}), result["seconds"])
        result |= {"cpu_ms": {k: v * 1000 / max(1, result["requests"]) for k, v in cpu["cpu_s"].items()
                              if k != "benchmark script"}, "busy": cpu["busy"], "other": cpu["other"]}
        if cpu["other"] <= 0.10 or attempt:
            break
        log(f"other processes used {cpu['other']:.0%} of the CPU: repeating the run")
        wait_for_quiet(load.quiet_wait)
    log(f"{method} {url}: {result['rps']:,.0f} req/s, p95 {result['p95_ms']:.1f} ms, errors {result['errors']}")
    return result


def machine_facts(engine: sa.Engine) -> dict:
    """CPU, memory, kernel, Python, the database server and its settings, the schema's migration."""
    info = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for path in ("/proc/cpuinfo",
            "/proc/meminfo") for line in Path(path).read_text().splitlines() if ":" in line}
    facts = {"nproc": os.cpu_count(), "cpu": info.get("model name", "unknown"), "python": platform.python_version(),
             "ram": f"{int(info.get('MemTotal', '0 kB').split()[0]) / 1024 / 1024:.1f} GiB",
             "kernel": platform.release(), "database": engine.dialect.name}
    with engine.connect() as conn:
        facts["migration"] = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
        if engine.dialect.name == "postgresql":
            facts["postgresql"] = conn.scalar(sa.text("SHOW server_version"))
            facts["pg_settings"] = dict(conn.execute(sa.text(
                "SELECT name, setting FROM pg_settings WHERE name IN ('shared_buffers', 'synchronous_commit', "
                "'fsync')")).all())
            facts["db_size"] = conn.scalar(sa.text("SELECT pg_size_pretty(pg_database_size(current_database()))"))
    return facts
