"""API throughput and latency benchmark (foundation issue).

Run it (from any directory; it takes about 4 minutes with the defaults)::

    /work/main/.venv/bin/python benchmarks/api.py

What it does, talking only to 127.0.0.1:

1. drops and recreates the PostgreSQL database ``bridgeline_bench`` (through the
   ``postgres`` maintenance database) and migrates it to head with
   ``flask --app backend db upgrade``;
2. bulk-loads synthetic data with COPY: 1 programme, 1 supervisor, 200 coaches,
   20,000 patients (100 per coach, one "created" patient event each), 200,000
   contacts (10 per patient) and 20,000 tasks (1 per patient), then VACUUM ANALYZE;
3. serves the app with gunicorn (production settings, LOG_LEVEL=WARNING) and a
   bare Flask JSON endpoint (benchmarks/bare_app.py) with the same settings;
4. logs in through the API as a coach with ~100 patients;
5. drives ``GET /api/v1/patients?page_size=25``, ``GET /api/v1/patients/<id>/timeline``
   and the bare endpoint with wrk (``apt-get install wrk``; a weaker Python
   threaded fallback is used when it is missing): a warm-up, then a measured
   run per endpoint, at 32 concurrent connections, recording the CPU time the
   server, PostgreSQL, Redis and wrk spent per request (from /proc);
6. runs once with REDIS_URL (token blocklist in Redis, the production shape)
   and once without (blocklist checked in PostgreSQL), unless --redis says otherwise;
7. in-process (Flask test client): counts the SQL statements per request,
   EXPLAIN ANALYZEs them and profiles the request with cProfile
   (--profile-rounds 0 skips this), then EXPLAIN ANALYZEs the list and
   timeline queries as written in the issue;
8. prints a markdown table and rewrites the "API (foundation issue)" section of
   docs/PERFORMANCE.md (other sections are kept).

Useful flags (--help lists them all): --skip-load reuses an already loaded
database; --patients, --contacts, --coaches, --tasks size the data;
--duration, --warmup, --connections, --workers, --threads size the run;
--redis {both,with,without}; --no-docs leaves docs/PERFORMANCE.md alone.
The gunicorn processes are stopped on exit, also on errors and SIGTERM.
Goals: each API endpoint at >= 40% of the bare endpoint's throughput and
p95 < 50 ms at 32 concurrent clients.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import http.client
import io
import json
import os
import platform
import pstats
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
DOCS = ROOT / "docs" / "PERFORMANCE.md"
HOST = "127.0.0.1"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"
RATELIMIT_PREFIX = "bridgeline-bench"
BENCH_PASSWORD = "bench-password-not-secret"  # noqa: S105 - synthetic benchmark accounts only
SECTION_TITLE = "## API (foundation issue)"
SECTION_BEGIN = "<!-- benchmarks/api.py: begin (generated, edits are overwritten) -->"
SECTION_END = "<!-- benchmarks/api.py: end -->"
GOAL_RATIO = 0.40
GOAL_P95_MS = 50.0

FIRST_NAMES = ["Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Rowan",
               "Maria", "Jose", "Lucia", "Diego", "Ana", "Sam", "Dana", "Robin", "Kai", "Elena",
               "Noah", "Imani", "Tariq", "Mei", "Oscar", "Priya", "Luis", "Grace", "Omar", "Nadia"]
LAST_NAMES = ["Rivera", "Nguyen", "Okafor", "Kowalski", "Haddad", "Lindqvist", "Moreau", "Tanaka",
              "Garcia", "Hernandez", "Brooks", "Patel", "Fischer", "Novak", "Reyes", "Campbell",
              "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Lopez", "Wilson", "Anderson",
              "Thomas", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris",
              "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker"]
AREA_CODES = ["312", "773", "872", "708", "630", "847", "224", "331", "815", "779"]
STATUSES = ["referred"] * 20 + ["engaged"] * 30 + ["active"] * 30 + ["linked"] * 15 + ["closed"] * 10 \
    + ["declined"] * 5
SOURCES = ["ed"] * 6 + ["inpatient", "warm_line", "self", "partner"]
ACUITIES = ["low", "standard", "standard", "high"]
CONTACT_KINDS = ["phone"] * 5 + ["sms"] * 3 + ["in_person", "video", "ed_visit"]
OUTCOMES = ["reached"] * 4 + ["no_answer", "left_message", "wrong_number"]
TASK_KINDS = ["call_back", "follow_up", "confirm_appointment", "check_phone_number", "wellness_check_in"]
TASK_TITLES = ["Call back after discharge", "Confirm intake appointment", "Check in about housing",
               "Follow up on missed call", "Bring resource list"]
NOTES = [None, None, "Synthetic benchmark note.", "Left the resource list.", "Talked about next steps."]

LUA_SCRIPT = r"""
-- Written by benchmarks/api.py: adds the bearer token and reports a JSON line.
local auth = os.getenv("BENCH_AUTHORIZATION")
if auth ~= nil and auth ~= "" then
  wrk.headers["Authorization"] = auth
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


# --------------------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def pg_url(dbname: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def http_json(method: str, port: int, path: str, body: dict | None = None,
              token: str | None = None) -> tuple[int, dict, object]:
    """One request to 127.0.0.1; returns (status, headers, parsed JSON body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    headers = {"Accept": "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        parsed = json.loads(raw) if raw else None
        return response.status, dict(response.getheaders()), parsed
    finally:
        conn.close()


# --------------------------------------------------------------------------- machine


def machine_info(dbname: str) -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    with psycopg.connect(f"{PG_DSN} dbname={dbname}") as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('shared_buffers', 'synchronous_commit', 'max_connections', 'fsync')").fetchall())
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram": ram,
        "postgresql": pg_version,
        "pg_settings": settings,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


# --------------------------------------------------------------------------- database


def recreate_database(dbname: str) -> None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", dbname):
        raise SystemExit(f"refusing unusual database name {dbname!r}")
    with psycopg.connect(f"{PG_DSN} dbname=postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def migrate(dbname: str) -> None:
    env = dict(os.environ)
    for name in ("REDIS_URL", "BRIDGELINE_ENV", "SECRET_KEY"):
        env.pop(name, None)
    env["DATABASE_URL"] = pg_url(dbname)
    env["LOG_LEVEL"] = "WARNING"
    result = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "backend", "db", "upgrade"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{result.stdout}\n{result.stderr}")


def _copy(cur: psycopg.Cursor, table: str, columns: list[str], rows) -> int:
    count = 0
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    with cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def load_data(dbname: str, args: argparse.Namespace) -> dict:
    """COPY the synthetic data set in; returns row counts."""
    sys.path.insert(0, str(ROOT))
    from backend.auth.passwords import hash_password

    rng = random.Random(args.seed)
    now = datetime.now(UTC).replace(microsecond=0)
    password_hash = hash_password(BENCH_PASSWORD)
    n_coaches, n_patients, n_contacts, n_tasks = args.coaches, args.patients, args.contacts, args.tasks
    supervisor_id = 1
    coach_ids = list(range(2, n_coaches + 2))
    counts: dict[str, int] = {}

    def phone(n: int) -> str:
        return f"+1{AREA_CODES[(n // 100) % len(AREA_CODES)]}55501{n % 100:02d}"

    patient_coach: dict[int, int] = {}
    patient_created: dict[int, datetime] = {}

    def patients():
        for pid in range(1, n_patients + 1):
            coach = coach_ids[(pid - 1) % n_coaches]
            patient_coach[pid] = coach
            created = now - timedelta(days=rng.randint(30, 400), minutes=rng.randint(0, 1439))
            patient_created[pid] = created
            updated = created + timedelta(days=rng.randint(0, 29))
            status = rng.choice(STATUSES)
            consent = rng.random() < 0.8
            closed = status in ("closed", "declined")
            yield (pid, 1, coach, rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES),
                   rng.choice(FIRST_NAMES) if rng.random() < 0.1 else None, phone(pid),
                   "es" if rng.random() < 0.2 else "en", "America/Chicago",
                   consent, created if consent else None, False, None, status, rng.choice(SOURCES),
                   rng.choice(ACUITIES), status == "declined", updated if closed else None, supervisor_id, 1,
                   created, updated)

    def events():
        for pid in range(1, n_patients + 1):
            yield (pid, pid, supervisor_id, "created", '{"source": "ed", "status": "referred"}',
                   patient_created[pid])

    def contacts():
        for cid in range(1, n_contacts + 1):
            pid = (cid - 1) % n_patients + 1
            occurred = patient_created[pid] + timedelta(days=rng.randint(0, 29), minutes=rng.randint(0, 1439))
            kind = rng.choice(CONTACT_KINDS)
            yield (cid, 1, pid, patient_coach[pid], kind, "inbound" if rng.random() < 0.2 else "outbound",
                   occurred, None if kind == "sms" else rng.randint(1, 60), rng.choice(OUTCOMES),
                   rng.choice(NOTES), occurred)

    def tasks():
        for tid in range(1, n_tasks + 1):
            pid = (tid - 1) % n_patients + 1
            created = patient_created[pid] + timedelta(days=rng.randint(0, 20))
            done = rng.random() < 0.6
            due = created + timedelta(days=rng.randint(1, 10))
            yield (tid, 1, pid, patient_coach[pid], supervisor_id, rng.choice(TASK_KINDS), rng.choice(TASK_TITLES),
                   None, due, "done" if done else "open", due if done else None,
                   patient_coach[pid] if done else None, 1, created, due if done else created)

    user_cols = ["id", "program_id", "email", "full_name", "phone", "role", "active", "supervisor_id",
                 "password_hash", "last_login_at", "deactivated_at", "created_at", "updated_at"]
    users = [(supervisor_id, 1, "supervisor@bench.test", "Bench Supervisor", "+13125550100", "supervisor",
              True, None, password_hash, None, None, now, now)]
    users += [(uid, 1, f"coach{uid - 1}@bench.test", f"Bench Coach {uid - 1}",
               f"+1{AREA_CODES[uid % len(AREA_CODES)]}55501{uid % 100:02d}", "coach", True, supervisor_id,
               password_hash, None, None, now, now) for uid in coach_ids]

    with psycopg.connect(f"{PG_DSN} dbname={dbname}") as conn, conn.cursor() as cur:
        counts["programs"] = _copy(cur, "programs", ["id", "name", "timezone", "phone", "created_at", "updated_at"],
                                   [(1, "Bench Peer Recovery Program", "America/Chicago", "+13125550199", now, now)])
        counts["users"] = _copy(cur, "users", user_cols, users)
        counts["patients"] = _copy(cur, "patients", [
            "id", "program_id", "coach_id", "first_name", "last_name", "preferred_name", "phone", "language",
            "timezone", "sms_consent", "sms_consent_at", "sms_opted_out", "sms_opted_out_at", "status", "source",
            "acuity", "declined_peer_support", "closed_at", "created_by_id", "version", "created_at", "updated_at",
        ], patients())
        counts["patient_events"] = _copy(cur, "patient_events",
                                         ["id", "patient_id", "actor_id", "kind", "details", "occurred_at"],
                                         events())
        counts["contacts"] = _copy(cur, "contacts", [
            "id", "program_id", "patient_id", "coach_id", "kind", "direction", "occurred_at", "duration_minutes",
            "outcome", "note", "created_at"], contacts())
        counts["tasks"] = _copy(cur, "tasks", [
            "id", "program_id", "patient_id", "assignee_id", "created_by_id", "kind", "title", "note", "due_at",
            "status", "completed_at", "completed_by_id", "version", "created_at", "updated_at"], tasks())
        for table in ("programs", "users", "patients", "patient_events", "contacts", "tasks"):
            cur.execute(sql.SQL("SELECT setval(pg_get_serial_sequence({t}, 'id'), "
                                "(SELECT coalesce(max(id), 1) FROM {i}))").format(
                t=sql.Literal(table), i=sql.Identifier(table)))
        conn.commit()
    with psycopg.connect(f"{PG_DSN} dbname={dbname}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return counts


def data_sizes(dbname: str) -> dict:
    with psycopg.connect(f"{PG_DSN} dbname={dbname}") as conn:
        sizes = {}
        for table in ("programs", "users", "patients", "patient_events", "contacts", "tasks", "audit_events"):
            sizes[table] = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
        sizes["coaches"] = conn.execute("SELECT count(*) FROM users WHERE role = 'coach'").fetchone()[0]
        sizes["db_size"] = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    return sizes


def pick_subjects(dbname: str) -> tuple[int, str, int, int, int]:
    """(coach id, coach e-mail, their patient count, timeline patient id, its contact count)."""
    with psycopg.connect(f"{PG_DSN} dbname={dbname}") as conn:
        row = conn.execute(
            "SELECT u.id, u.email, count(p.id) AS n FROM users u JOIN patients p ON p.coach_id = u.id "
            "WHERE u.role = 'coach' AND u.active GROUP BY u.id, u.email "
            "ORDER BY abs(count(p.id) - 100), u.id LIMIT 1").fetchone()
        if row is None:
            raise SystemExit("no coach with patients: load the data first (drop --skip-load)")
        coach_id, email, n_patients = row
        patient = conn.execute(
            "WITH c AS (SELECT p.id, (SELECT count(*) FROM contacts c WHERE c.patient_id = p.id) AS n "
            "FROM patients p WHERE p.coach_id = %s) "
            "SELECT id, n FROM c ORDER BY abs(n - (SELECT avg(n) FROM c)), id LIMIT 1", (coach_id,)).fetchone()
    return coach_id, email, n_patients, patient[0], patient[1]


# --------------------------------------------------------------------------- servers


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)  # gunicorn's own process group: master and workers
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def start_gunicorn(name: str, app_spec: str, port: int, env_extra: dict, args: argparse.Namespace,
                   workdir: Path, probe: str) -> Server:
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    env.update(env_extra)
    log_path = workdir / f"gunicorn-{name}.log"
    command = [str(VENV_BIN / "gunicorn"), "-w", str(args.workers), "--threads", str(args.threads),
               "-b", f"{HOST}:{port}", "--chdir", str(ROOT), "--log-level", "warning", app_spec]
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    server = Server(name, port, proc, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn {name} exited:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}{probe}", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"gunicorn {name} did not answer on {probe} within 60 s")


# --------------------------------------------------------------------------- load generation


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


def run_wrk(url: str, token: str | None, seconds: int, args: argparse.Namespace, lua: Path) -> LoadResult:
    env = dict(os.environ)
    env["BENCH_AUTHORIZATION"] = f"Bearer {token}" if token else ""
    threads = max(1, min(args.wrk_threads, args.connections))
    command = [args.wrk, f"-t{threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(lua), url]
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


def run_python_load(url: str, token: str | None, seconds: int, args: argparse.Namespace) -> LoadResult:
    """Fallback when wrk is missing: one thread per connection (the GIL makes it a weaker client than wrk)."""
    match = re.match(r"http://([^:/]+):(\d+)(/.*)$", url)
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(args.connections)]
    failures = [0] * args.connections
    non_2xx = [0] * args.connections

    def worker(index: int) -> None:
        conn = None
        while time.perf_counter() < deadline:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=10)
                started = time.perf_counter()
                conn.request("GET", path, headers=headers)
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
    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(seconds + 30)
    elapsed = time.perf_counter() - started
    samples = sorted(x for per in latencies for x in per)
    if not samples:
        raise RuntimeError(f"no successful request to {url}")

    def pct(p: float) -> float:
        return samples[min(len(samples) - 1, int(p / 100 * len(samples)))] * 1000

    return LoadResult(
        requests=len(samples), seconds=elapsed, rps=len(samples) / elapsed, p50_ms=pct(50), p95_ms=pct(95),
        p99_ms=pct(99), mean_ms=statistics.fmean(samples) * 1000, max_ms=samples[-1] * 1000,
        errors=sum(failures), non_2xx=sum(non_2xx), tool="python-threads",
    )


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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


def measure(url: str, token: str | None, args: argparse.Namespace, lua: Path | None, server_pid: int) -> LoadResult:
    """A warm-up run, then the measured run with CPU accounting per process group."""

    def run(seconds: int) -> LoadResult:
        if lua is not None:
            return run_wrk(url, token, seconds, args, lua)
        return run_python_load(url, token, seconds, args)

    if args.warmup > 0:
        run(args.warmup)
    before = cpu_snapshot(server_pid)
    own_before = time.process_time()
    result = run(args.duration)
    after = cpu_snapshot(server_pid)
    used = {name: after[name] - before[name] for name in before}
    machine = used.pop("machine")
    if lua is None:  # the Python fallback runs in this process
        used["load generator"] = time.process_time() - own_before
    capacity = result.seconds * (os.cpu_count() or 1)
    result.cpu_ms = {name: seconds * 1000 / max(1, result.requests) for name, seconds in used.items()}
    result.cpu_busy = machine / capacity
    result.cpu_other = max(0.0, machine - sum(used.values())) / capacity
    if result.cpu_other > 0.10:
        log(f"warning: other processes used {result.cpu_other:.0%} of the CPU during this run: "
            "the machine was not quiet, figures are pessimistic")
    return result


# --------------------------------------------------------------------------- diagnostics (in-process)


@dataclass
class RequestProfile:
    label: str
    statements: list[tuple[str, float]] = field(default_factory=list)  # (first words, ms)
    mean_ms: float = 0.0
    sql_ms: float = 0.0
    explains: list[tuple[str, float, float]] = field(default_factory=list)  # (statement, plan ms, exec ms)
    top_functions: str = ""
    breakdown: list[tuple[str, float]] = field(default_factory=list)  # (part, share of the request)


# Parts of a request, found in the cProfile data by file suffix and function name.
BREAKDOWN = [
    ("JWT check: decode, blocklist, user lookup", "flask_jwt_extended/view_decorators.py", "verify_jwt_in_request"),
    ("patients list: count + page queries", "backend/common/pagination.py", "paginate"),
    ("timeline service: queries, loads, dump, audit", "backend/timeline/service.py", "patient_timeline"),
    ("marshmallow dump (all schemas)", "marshmallow/schema.py", "dump"),
    ("commit: audit INSERT + COMMIT", "sqlalchemy/orm/session.py", "commit"),
]


def _breakdown(stats: pstats.Stats) -> list[tuple[str, float]]:
    def cumulative(suffix: str, name: str) -> float:
        return max((values[3] for (path, _line, func), values in stats.stats.items()
                    if func == name and path.endswith(suffix)), default=0.0)

    total = cumulative("flask/app.py", "wsgi_app")
    if not total:
        return []
    parts = [(label, cumulative(suffix, name) / total) for label, suffix, name in BREAKDOWN]
    return [(label, share) for label, share in parts if share > 0]


def _short(statement: str) -> str:
    text = " ".join(statement.split())
    return text if len(text) <= 110 else text[:107] + "..."


def diagnose(dbname: str, redis_url: str | None, email: str, patient_id: int, rounds: int) -> list[RequestProfile]:
    """Count and EXPLAIN ANALYZE the SQL each endpoint runs, and profile the Python side, in-process."""
    sys.path.insert(0, str(ROOT))
    import sqlalchemy as sa

    from backend import create_app
    from backend.database import db

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": pg_url(dbname), "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING",
        "RATELIMIT_KEY_PREFIX": RATELIMIT_PREFIX, "SECRET_KEY": secrets.token_urlsafe(36),
    })
    client = app.test_client()
    response = client.post("/api/v1/auth/login", json={"email": email, "password": BENCH_PASSWORD})
    if response.status_code != 200:
        raise RuntimeError(f"in-process login failed: {response.status_code} {response.get_data(as_text=True)}")
    headers = {"Authorization": f"Bearer {response.get_json()['access_token']}"}
    captured: list[tuple[str, object, float]] = []
    pending: dict[int, float] = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        pending[id(cursor)] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        started = pending.pop(id(cursor), time.perf_counter())
        captured.append((statement, parameters, (time.perf_counter() - started) * 1000))

    with app.app_context():
        engine = db.engine
    # Each test-client request pushes its own app context, so the session (and its identity map)
    # is torn down between requests exactly as under gunicorn.
    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    profiles = []
    try:
        for label, path in (("patients list", "/api/v1/patients?page_size=25"),
                            ("timeline", f"/api/v1/patients/{patient_id}/timeline")):
            profile = RequestProfile(label)
            for _ in range(5):  # warm caches (compiled statements, connections)
                client.get(path, headers=headers)
            captured.clear()
            response = client.get(path, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
            one_request = list(captured)
            profile.statements = [(_short(s), ms) for s, _p, ms in one_request]
            captured.clear()
            started = time.perf_counter()
            for _ in range(rounds):
                client.get(path, headers=headers)
            profile.mean_ms = (time.perf_counter() - started) * 1000 / rounds
            profile.sql_ms = sum(ms for _s, _p, ms in captured) / rounds
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(rounds):
                client.get(path, headers=headers)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(15)
            stats.sort_stats("cumulative").print_stats(40)
            profile.top_functions = out.getvalue()
            profile.breakdown = _breakdown(stats)
            with engine.connect() as conn:
                for statement, parameters, _ms in one_request:
                    if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                        continue
                    plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).scalar()
                    plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
                    profile.explains.append((_short(statement), plan["Planning Time"], plan["Execution Time"]))
                conn.rollback()
            profiles.append(profile)
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)
        engine.dispose()
    return profiles


def explain_reference_queries(dbname: str, coach_id: int, patient_id: int) -> dict[str, str]:
    """EXPLAIN ANALYZE of the list and timeline queries as written in the issue."""
    queries = {
        "list page": ("SELECT * FROM patients WHERE program_id = 1 AND coach_id = %(c)s "
                      "ORDER BY last_name, first_name, id LIMIT 25"),
        "list count": "SELECT count(*) FROM patients WHERE program_id = 1 AND coach_id = %(c)s",
        "list page, supervisor (whole programme)": (
            "SELECT * FROM patients WHERE program_id = 1 ORDER BY last_name, first_name, id LIMIT 25"),
        "list count, supervisor (whole programme)": "SELECT count(*) FROM patients WHERE program_id = 1",
        "timeline page": (
            "SELECT kind, id, occurred_at FROM ("
            "SELECT 'patient_event' AS kind, id, occurred_at FROM patient_events WHERE patient_id = %(p)s "
            "UNION ALL SELECT 'contact', id, occurred_at FROM contacts WHERE patient_id = %(p)s "
            "UNION ALL SELECT 'task', id, created_at FROM tasks WHERE patient_id = %(p)s) AS t "
            "ORDER BY occurred_at DESC, kind, id DESC LIMIT 25"),
    }
    plans = {}
    with psycopg.connect(f"{PG_DSN} dbname={dbname}") as conn:
        for name, query in queries.items():
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, {"c": coach_id, "p": patient_id}).fetchall()
            plans[name] = "\n".join(r[0] for r in rows)
    return plans


# --------------------------------------------------------------------------- reporting


@dataclass
class ModeResult:
    mode: str  # "Redis" or "PostgreSQL"
    results: dict[str, LoadResult]


ENDPOINT_LABELS = {
    "bare": "bare Flask `GET /bare`",
    "list": "`GET /api/v1/patients?page_size=25`",
    "timeline": "`GET /api/v1/patients/<id>/timeline`",
}


def goals(result: LoadResult, bare: LoadResult) -> tuple[float, bool, bool]:
    ratio = result.rps / bare.rps if bare.rps else 0.0
    return ratio, ratio >= GOAL_RATIO, result.p95_ms < GOAL_P95_MS


def figures_table(modes: list[ModeResult]) -> str:
    lines = [
        "| Token blocklist | Endpoint | req/s | p50 ms | p95 ms | p99 ms | errors / non-2xx | vs bare "
        f"| ≥ {GOAL_RATIO:.0%} of bare | p95 < {GOAL_P95_MS:.0f} ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|:---:|:---:|",
    ]
    for mode in modes:
        bare = mode.results["bare"]
        for key in ("bare", "list", "timeline"):
            r = mode.results[key]
            ratio, ratio_ok, p95_ok = goals(r, bare)
            ratio_cell = "—" if key == "bare" else ("yes" if ratio_ok else "**no**")
            lines.append(
                f"| {mode.mode} | {ENDPOINT_LABELS[key]} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | "
                f"{r.p99_ms:.1f} | {r.errors} / {r.non_2xx} | {ratio:.0%} | {ratio_cell} | "
                f"{'yes' if p95_ok else '**no**'} |")
    return "\n".join(lines)


def cpu_table(modes: list[ModeResult]) -> str:
    groups = ["gunicorn", "postgres", "redis", "load generator"]
    lines = ["| Token blocklist | Endpoint | " + " | ".join(groups) + " | machine busy | of which other processes |",
             "|---|---|" + "---:|" * (len(groups) + 2)]
    for mode in modes:
        for key in ("bare", "list", "timeline"):
            r = mode.results[key]
            cells = " | ".join(f"{max(0.0, r.cpu_ms.get(g, 0.0)):.2f}" for g in groups)
            lines.append(f"| {mode.mode} | {ENDPOINT_LABELS[key]} | {cells} | {r.cpu_busy:.0%} | {r.cpu_other:.0%} |")
    return "\n".join(lines)


def goal_summary(modes: list[ModeResult]) -> list[str]:
    lines = []
    for mode in modes:
        bare = mode.results["bare"]
        for key in ("list", "timeline"):
            r = mode.results[key]
            ratio, ratio_ok, p95_ok = goals(r, bare)
            lines.append(
                f"- {mode.mode} blocklist, {ENDPOINT_LABELS[key]}: throughput {ratio:.0%} of bare "
                f"({'met' if ratio_ok else 'NOT met'}, goal ≥ {GOAL_RATIO:.0%}); p95 {r.p95_ms:.1f} ms "
                f"({'met' if p95_ok else 'NOT met'}, goal < {GOAL_P95_MS:.0f} ms).")
    return lines


def budget_lines(modes: list[ModeResult], connections: int) -> list[str]:
    """What the goals imply in CPU time per request on this machine (the server is CPU-bound)."""
    cores = os.cpu_count() or 1
    needed_rps = connections / (GOAL_P95_MS / 1000)
    lines = [f"- p95 < {GOAL_P95_MS:.0f} ms with {connections} closed-loop clients needs, by Little's law "
             f"(mean latency = clients / throughput), more than {needed_rps:,.0f} req/s: at most "
             f"{cores * 1000 / needed_rps:.1f} ms of CPU per request across all processes on {cores} cores."]
    for mode in modes:
        bare = mode.results["bare"]
        target = GOAL_RATIO * bare.rps
        spent = {key: sum(mode.results[key].cpu_ms.values()) for key in ("list", "timeline")}
        lines.append(
            f"- {mode.mode}: {GOAL_RATIO:.0%} of the bare endpoint is {target:,.0f} req/s, i.e. at most "
            f"{cores * 1000 / target:.1f} ms of CPU per request; measured {spent['list']:.1f} ms (list) and "
            f"{spent['timeline']:.1f} ms (timeline), the bare endpoint {sum(bare.cpu_ms.values()):.2f} ms.")
    return lines


def render_section(args: argparse.Namespace, machine: dict, sizes: dict, subjects: tuple, modes: list[ModeResult],
                   profiles: list[RequestProfile], tool: str, started_at: str) -> str:
    coach_id, _email, n_coach_patients, patient_id, n_patient_contacts = subjects
    pg = machine["pg_settings"]
    out = [
        SECTION_TITLE,
        "",
        SECTION_BEGIN,
        "",
        f"Measured {started_at} by `benchmarks/api.py`. Reproduce from the project root with:",
        "",
        "```sh",
        "/work/main/.venv/bin/python benchmarks/api.py",
        "```",
        "",
        "(`--skip-load` reuses the loaded database; `--help` lists the size and duration flags.)",
        "",
        "**Machine**",
        "",
        f"- nproc: {machine['nproc']}; CPU: {machine['cpu']}; RAM: {machine['ram']}; kernel {machine['kernel']}",
        f"- PostgreSQL {machine['postgresql']} on 127.0.0.1 (shared_buffers={pg.get('shared_buffers')} x 8 kB, "
        f"synchronous_commit={pg.get('synchronous_commit')}, fsync={pg.get('fsync')}); Redis on 127.0.0.1",
        f"- Python {machine['python']}; the load generator, gunicorn, PostgreSQL and Redis share the same "
        f"{machine['nproc']} cores",
        "",
        "**Data** (synthetic, bulk-loaded with COPY, then VACUUM ANALYZE)",
        "",
        f"- 1 programme, {sizes['coaches']} coaches + 1 supervisor, {sizes['patients']:,} patients "
        f"(~{sizes['patients'] // max(1, sizes['coaches'])} per coach), {sizes['contacts']:,} contacts, "
        f"{sizes['patient_events']:,} patient events, {sizes['tasks']:,} tasks; database size {sizes['db_size']} "
        f"({sizes['audit_events']:,} audit events written by the runs)",
        f"- Requests as coach id {coach_id} ({n_coach_patients} patients); timeline of patient id {patient_id} "
        f"({n_patient_contacts} contacts)",
        "",
        "**Server and load**",
        "",
        f"- `gunicorn -w {args.workers} --threads {args.threads} -b 127.0.0.1:PORT 'backend:create_app()'` "
        f"({'sync' if args.threads == 1 else 'gthread'} workers), BRIDGELINE_ENV=production, LOG_LEVEL=WARNING; "
        "the bare app `benchmarks.bare_app:app` runs with the same gunicorn flags",
        f"- \"Redis\" rows: REDIS_URL={REDIS_URL} (token blocklist and rate limits in Redis, the production "
        "shape); \"PostgreSQL\" rows: no REDIS_URL (blocklist checked in `auth_sessions`)",
        f"- Load: {tool}, {args.connections} concurrent connections, {args.warmup} s warm-up then "
        f"{args.duration} s measured per endpoint, loopback only",
        "",
        "**Figures**",
        "",
        figures_table(modes),
        "",
        "**Goals** (≥ 40 % of the bare endpoint's throughput, p95 < 50 ms at "
        f"{args.connections} concurrent clients)",
        "",
        *goal_summary(modes),
        "",
        "**What the goals imply** (every process is CPU-bound and shares the same cores)",
        "",
        *budget_lines(modes, args.connections),
        "",
        "**CPU per request** (ms of CPU time per request during the measured run, from /proc; "
        "the load generator is wrk itself; \"other processes\" is CPU used by anything outside the "
        "benchmark, and should be near 0 % on a quiet machine)",
        "",
        cpu_table(modes),
        "",
    ]
    if profiles:
        out += ["**Where the time goes** (in-process through Flask's test client, one request at a time, Redis "
                "blocklist; shares of the request from cProfile cumulative time, parts can nest)", ""]
        for profile in profiles:
            out.append(f"- {profile.label}: {len(profile.statements)} SQL statements per request; "
                       f"{profile.mean_ms:.1f} ms wall per request in-process, of which {profile.sql_ms:.1f} ms "
                       "inside SQL execute calls")
            for label, share in profile.breakdown:
                out.append(f"  - {label}: {share:.0%} (~{share * profile.mean_ms:.1f} ms)")
            slow = sorted(profile.explains, key=lambda e: -e[2])[:3]
            for statement, plan_ms, exec_ms in slow:
                out.append(f"  - EXPLAIN ANALYZE {exec_ms:.2f} ms exec + {plan_ms:.2f} ms plan: `{statement}`")
        out.append("")
    out += [SECTION_END, ""]
    return "\n".join(out)


def update_docs(section: str) -> None:
    """Replace this script's section of docs/PERFORMANCE.md (or append it), keeping every other section."""
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    text = DOCS.read_text() if DOCS.exists() else "# Performance\n"
    if SECTION_BEGIN in text and SECTION_END in text:
        begin = text.index(SECTION_BEGIN)
        title = text.rfind(SECTION_TITLE, 0, begin)
        start = title if title >= 0 else begin
        end = text.index(SECTION_END, begin) + len(SECTION_END)
        text = text[:start] + section.strip() + text[end:]
    elif SECTION_TITLE in text:
        start = text.index(SECTION_TITLE)
        following = text.find("\n## ", start + len(SECTION_TITLE))
        tail = text[following:] if following >= 0 else ""
        text = text[:start] + section.strip() + "\n" + tail
    else:
        text = text.rstrip() + "\n\n" + section.strip() + "\n"
    DOCS.write_text(text.rstrip() + "\n")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--database", default="bridgeline_bench", help="database to (re)create and load")
    parser.add_argument("--coaches", type=int, default=200, help="coaches (role coach), plus one supervisor")
    parser.add_argument("--patients", type=int, default=20_000, help="patients, spread evenly over the coaches")
    parser.add_argument("--contacts", type=int, default=200_000, help="contacts, spread evenly over the patients")
    parser.add_argument("--tasks", type=int, default=20_000, help="tasks, spread evenly over the patients")
    parser.add_argument("--skip-load", action="store_true", help="reuse the already loaded database")
    parser.add_argument("--duration", type=int, default=20, help="measured seconds per endpoint")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up seconds per endpoint")
    parser.add_argument("--connections", type=int, default=32, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--wrk", default=shutil.which("wrk"), help="wrk binary (Python fallback when missing)")
    parser.add_argument("--redis", choices=("both", "with", "without"), default="both",
                        help="run with REDIS_URL, without, or both")
    parser.add_argument("--profile-rounds", type=int, default=100,
                        help="in-process requests per endpoint for the diagnostics (0 skips them)")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/PERFORMANCE.md")
    parser.add_argument("--seed", type=int, default=20261122, help="random seed of the synthetic data")
    args = parser.parse_args(argv)
    if args.skip_load is False and (args.patients < args.coaches or args.coaches < 1):
        parser.error("need at least one coach and one patient per coach")
    return args


def _raise_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    workdir = Path(tempfile.mkdtemp(prefix="bridgeline-bench-"))
    servers: list[Server] = []
    lua: Path | None = None
    if args.wrk:
        lua = workdir / "bench.lua"
        lua.write_text(LUA_SCRIPT)
        tool = f"wrk ({args.wrk_threads} threads)"
    else:
        log("wrk not found: falling back to the Python threaded load generator (weaker than wrk)")
        tool = "Python threaded load generator (wrk missing)"

    try:
        if args.skip_load:
            log(f"reusing database {args.database}; migrating to head")
            migrate(args.database)
        else:
            log(f"recreating database {args.database}")
            recreate_database(args.database)
            log("migrating to head (flask db upgrade)")
            migrate(args.database)
            log(f"loading {args.coaches} coaches, {args.patients:,} patients, {args.contacts:,} contacts, "
                f"{args.tasks:,} tasks with COPY")
            t0 = time.perf_counter()
            counts = load_data(args.database, args)
            log(f"loaded {counts} in {time.perf_counter() - t0:.1f} s (incl. VACUUM ANALYZE)")
        machine = machine_info(args.database)
        subjects = pick_subjects(args.database)
        coach_id, email, n_coach_patients, patient_id, n_contacts = subjects
        log(f"coach {email} (id {coach_id}, {n_coach_patients} patients); timeline patient {patient_id} "
            f"({n_contacts} contacts)")

        bare_port = free_port()
        servers.append(start_gunicorn("bare", "benchmarks.bare_app:app", bare_port, {"LOG_LEVEL": "WARNING"},
                                      args, workdir, "/bare"))
        bare_url = f"http://{HOST}:{bare_port}/bare"

        modes: list[ModeResult] = []
        mode_plan = {"both": [True, False], "with": [True], "without": [False]}[args.redis]
        for with_redis in mode_plan:
            mode = "Redis" if with_redis else "PostgreSQL"
            port = free_port()
            env = {"DATABASE_URL": pg_url(args.database), "BRIDGELINE_ENV": "production",
                   "SECRET_KEY": secrets.token_urlsafe(36), "LOG_LEVEL": "WARNING",
                   "RATELIMIT_KEY_PREFIX": RATELIMIT_PREFIX}
            if with_redis:
                env["REDIS_URL"] = REDIS_URL
            log(f"[{mode}] starting gunicorn -w {args.workers} --threads {args.threads} on port {port}")
            api = start_gunicorn(f"api-{mode.lower()}", "backend:create_app()", port, env, args, workdir, "/healthz")
            servers.append(api)
            status, _h, body = http_json("POST", port, "/api/v1/auth/login",
                                         {"email": email, "password": BENCH_PASSWORD})
            if status != 200:
                raise RuntimeError(f"login failed: {status} {body}")
            token = body["access_token"]
            list_path = "/api/v1/patients?page_size=25"
            timeline_path = f"/api/v1/patients/{patient_id}/timeline"
            for path in (list_path, timeline_path):
                status, headers, body = http_json("GET", port, path, token=token)
                if status != 200 or not isinstance(body, list) or not body:
                    raise RuntimeError(f"{path} answered {status}: {str(body)[:300]}")
                log(f"[{mode}] {path}: {len(body)} items, X-Pagination {headers.get('X-Pagination')}")
            results = {}
            for key, url, auth in (("bare", bare_url, None),
                                   ("list", f"http://{HOST}:{port}{list_path}", token),
                                   ("timeline", f"http://{HOST}:{port}{timeline_path}", token)):
                log(f"[{mode}] {key}: {args.warmup} s warm-up + {args.duration} s at {args.connections} connections")
                target = servers[0] if key == "bare" else api
                results[key] = measure(url, auth, args, lua, target.proc.pid)
                r = results[key]
                log(f"[{mode}] {key}: {r.rps:,.0f} req/s, p50 {r.p50_ms:.1f} ms, p95 {r.p95_ms:.1f} ms, "
                    f"p99 {r.p99_ms:.1f} ms, errors {r.errors}, non-2xx {r.non_2xx}; CPU ms/request "
                    + ", ".join(f"{k} {v:.2f}" for k, v in r.cpu_ms.items())
                    + f"; machine busy {r.cpu_busy:.0%}, other processes {r.cpu_other:.0%}")
            modes.append(ModeResult(mode, results))
            api.stop()
            servers.remove(api)

        profiles: list[RequestProfile] = []
        if args.profile_rounds > 0:
            log("diagnostics: SQL statements, EXPLAIN ANALYZE and cProfile in-process")
            profiles = diagnose(args.database, REDIS_URL, email, patient_id, args.profile_rounds)
            for profile in profiles:
                print(f"\n### {profile.label}: {len(profile.statements)} SQL statements, "
                      f"{profile.mean_ms:.2f} ms/request in-process, {profile.sql_ms:.2f} ms in SQL round trips")
                for statement, ms in profile.statements:
                    print(f"  {ms:6.2f} ms  {statement}")
                print("  EXPLAIN ANALYZE (plan ms / exec ms):")
                for statement, plan_ms, exec_ms in profile.explains:
                    print(f"  {plan_ms:6.2f} / {exec_ms:6.2f}  {statement}")
                print("  share of the request (cProfile cumulative; parts can nest):")
                for label, share in profile.breakdown:
                    print(f"    {share:5.0%}  ~{share * profile.mean_ms:5.2f} ms  {label}")
                print(f"  cProfile, {args.profile_rounds} requests, top functions by own time and cumulative:")
                print("\n".join("    " + line for line in profile.top_functions.splitlines() if line.strip()))
            for name, plan in explain_reference_queries(args.database, coach_id, patient_id).items():
                print(f"\n### EXPLAIN ANALYZE, {name}\n{plan}")

        sizes = data_sizes(args.database)
        print("\n" + figures_table(modes) + "\n")
        print(cpu_table(modes) + "\n")
        print("\n".join(goal_summary(modes)) + "\n")
        print("\n".join(budget_lines(modes, args.connections)) + "\n")
        if not args.no_docs:
            update_docs(render_section(args, machine, sizes, subjects, modes, profiles, tool, started_at))
            log(f"wrote {DOCS.relative_to(ROOT)}")
        return 0
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
