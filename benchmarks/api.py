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
8. prints a markdown table and rewrites the generated block of the
   "API (foundation issue)" section of docs/PERFORMANCE.md (the hand-written
   notes around it and other sections are kept).

Useful flags (--help lists them all): --skip-load reuses an already loaded
database; --patients, --contacts, --coaches, --tasks size the data;
--duration, --warmup, --connections, --workers, --threads size the run;
--redis {both,with,without}; --no-docs leaves docs/PERFORMANCE.md alone.
The gunicorn processes are stopped on exit, also on errors and SIGTERM.
Goals: each API endpoint at >= 40% of the bare endpoint's throughput and
p95 < 50 ms at 32 concurrent clients. The pieces live in benchmarks/lib/.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from benchmarks.lib import api_report
from benchmarks.lib.common import DOCS, REDIS_URL, ROOT, dsn, exit_on_sigterm, http_json, log, login
from benchmarks.lib.database import DataSpec, prepare, table_counts
from benchmarks.lib.diagnostics import diagnose
from benchmarks.lib.load import LoadSettings, Request, measure
from benchmarks.lib.report import machine_info, update_block
from benchmarks.lib.servers import ServerPool

LIST_PATH = "/api/v1/patients?page_size=25"


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


def pick_subjects(dbname: str) -> tuple[int, str, int, int, int]:
    """(coach id, coach e-mail, their patient count, timeline patient id, its contact count)."""
    with psycopg.connect(dsn(dbname)) as conn:
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


REFERENCE_QUERIES = {
    "list page": ("SELECT * FROM patients WHERE program_id = 1 AND coach_id = %(c)s "
                  "ORDER BY last_name, first_name, id LIMIT 25"),
    "list count": "SELECT count(*) FROM patients WHERE program_id = 1 AND coach_id = %(c)s",
    "list page, supervisor (whole programme)": (
        "SELECT * FROM patients WHERE program_id = 1 ORDER BY last_name, first_name, id LIMIT 25"),
    "list count, supervisor (whole programme)": "SELECT count(*) FROM patients WHERE program_id = 1",
    "list page with count(*) OVER (), supervisor (the window-count variant, not used)": (
        "SELECT *, count(*) OVER () AS _total FROM patients WHERE program_id = 1 "
        "ORDER BY last_name, first_name, id LIMIT 25"),
    "timeline page": (
        "SELECT kind, id, occurred_at FROM ("
        "SELECT 'patient_event' AS kind, id, occurred_at FROM patient_events WHERE patient_id = %(p)s "
        "UNION ALL SELECT 'contact', id, occurred_at FROM contacts WHERE patient_id = %(p)s "
        "UNION ALL SELECT 'task', id, created_at FROM tasks WHERE patient_id = %(p)s) AS t "
        "ORDER BY occurred_at DESC, kind, id DESC LIMIT 25"),
}


def explain_reference_queries(dbname: str, coach_id: int, patient_id: int) -> dict[str, str]:
    """EXPLAIN ANALYZE of the list and timeline queries as written in the issue."""
    plans = {}
    with psycopg.connect(dsn(dbname)) as conn:
        for name, query in REFERENCE_QUERIES.items():
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, {"c": coach_id, "p": patient_id}).fetchall()
            plans[name] = "\n".join(r[0] for r in rows)
    return plans


def run_mode(pool: ServerPool, bare, load: LoadSettings, args, with_redis: bool, email: str,
             patient_id: int) -> api_report.ModeResult:
    """One gunicorn with or without Redis: the bare endpoint, the list and the timeline under wrk."""
    mode = "Redis" if with_redis else "PostgreSQL"
    api = pool.start_app(f"api-{mode.lower()}", args.database, with_redis)
    log(f"[{mode}] gunicorn -w {args.workers} --threads {args.threads} on port {api.port}")
    try:
        token = login(api.port, email)
        timeline_path = f"/api/v1/patients/{patient_id}/timeline"
        for path in (LIST_PATH, timeline_path):
            status, headers, body = http_json("GET", api.port, path, token=token)
            if status != 200 or not isinstance(body, list) or not body:
                raise RuntimeError(f"{path} answered {status}: {str(body)[:300]}")
            log(f"[{mode}] {path}: {len(body)} items, X-Pagination {headers.get('X-Pagination')}")
        results = {}
        for key, server, request in (("bare", bare, Request(bare.url("/bare"))),
                                     ("list", api, Request(api.url(LIST_PATH), token)),
                                     ("timeline", api, Request(api.url(timeline_path), token))):
            log(f"[{mode}] {key}: {load.warmup} s warm-up + {load.duration} s at {load.connections} connections")
            results[key] = measure(request, load, server.pid)
            log(f"[{mode}] {key}: {results[key].summary()}")
        return api_report.ModeResult(mode, results)
    finally:
        pool.stop(api)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    workdir = Path(tempfile.mkdtemp(prefix="bridgeline-bench-"))
    load = LoadSettings(args.connections, args.duration, args.warmup, args.wrk, args.wrk_threads)
    load.write_lua(workdir)
    if not args.wrk:
        log("wrk not found: falling back to the Python threaded load generator (weaker than wrk)")
    spec = DataSpec(coaches=args.coaches, patients=args.patients, contacts=args.contacts, tasks=args.tasks,
                    seed=args.seed)
    try:
        with ServerPool(args.workers, args.threads, workdir) as pool:
            prepare(args.database, spec, args.skip_load, log)
            machine = machine_info(args.database)
            subjects = pick_subjects(args.database)
            coach_id, email, n_coach_patients, patient_id, n_contacts = subjects
            log(f"coach {email} (id {coach_id}, {n_coach_patients} patients); timeline patient {patient_id} "
                f"({n_contacts} contacts)")
            bare = pool.start_bare()
            plan = {"both": [True, False], "with": [True], "without": [False]}[args.redis]
            modes = [run_mode(pool, bare, load, args, with_redis, email, patient_id) for with_redis in plan]
            pool.stop_all()

        profiles = []
        if args.profile_rounds > 0:
            log("diagnostics: SQL statements, EXPLAIN ANALYZE and cProfile in-process")
            endpoints = [("patients list", LIST_PATH), ("timeline", f"/api/v1/patients/{patient_id}/timeline")]
            profiles = diagnose(args.database, REDIS_URL, email, endpoints, args.profile_rounds)
            for profile in profiles:
                profile.print(args.profile_rounds)
            for name, plan_text in explain_reference_queries(args.database, coach_id, patient_id).items():
                print(f"\n### EXPLAIN ANALYZE, {name}\n{plan_text}")

        sizes = table_counts(args.database, ("programs", "users", "patients", "patient_events", "contacts", "tasks",
                                             "audit_events"))
        print("\n" + api_report.figures_table(modes) + "\n")
        print(api_report.cpu_table(modes) + "\n")
        print("\n".join(api_report.goal_summary(modes)) + "\n")
        print("\n".join(api_report.budget_lines(modes, args.connections)) + "\n")
        if not args.no_docs:
            body = api_report.render_section(pool, load, machine, sizes, subjects, modes, profiles, started_at)
            update_block(api_report.TITLE, api_report.BLOCK, body)
            log(f"wrote {DOCS.relative_to(ROOT)}")
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
