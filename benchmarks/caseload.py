"""Caseload benchmark (caseload issue): the supervisor's team view and automatic assignment.

Run it (from any directory; about 2 minutes with the defaults)::

    /work/main/.venv/bin/python benchmarks/caseload.py

What it does, talking only to 127.0.0.1:

1. drops and recreates the PostgreSQL database ``bridgeline_bench_caseload``,
   migrates it to head and bulk-loads with COPY (benchmarks/lib/database.py):
   1 programme, 1 supervisor, 200 coaches, 20,000 patients with a realistic mix
   of statuses (about a third open) and acuities, 200,000 contacts, 20,000 tasks;
   then the caseload data (benchmarks/lib/caseload_data.py): a caseload policy
   (default cap 40), 50 coaches on shift with room on their caseloads, shifts,
   20,000 contacts in the last 14 days, supervision sessions, weekly wellness
   check-ins and recent assignments; VACUUM ANALYZE;
2. in-process (Flask test client and a ``before_cursor_execute`` listener):
   counts the SQL statements of the team view and of one automatic assignment
   with the whole team and with 20 coaches (others deactivated with SQL, then
   restored) - the team view's count must not depend on the team's size;
3. serves the app with gunicorn (production settings, Redis) and logs in as
   the supervisor with ``POST /api/v1/auth/login``;
4. drives ``GET /api/v1/team/caseloads`` and then ``POST /api/v1/patients``
   (an ED referral without a coach: automatic assignment) with wrk at 16
   connections, a warm-up then a measured run each;
5. counts in the database how many of the created patients got a coach;
6. prints the figures and rewrites the generated block of the "Caseloads
   (caseload issue)" section of docs/PERFORMANCE.md (other text is kept).

The gunicorn processes are stopped on exit, also on errors and SIGTERM.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from benchmarks.lib import caseload_data as cdata
from benchmarks.lib import caseload_report
from benchmarks.lib.caseload_checks import CREATE_PATH, TEAM_PATH, team_size_checks
from benchmarks.lib.common import DOCS, REDIS_URL, ROOT, dsn, exit_on_sigterm, http_json, log, login
from benchmarks.lib.database import DataSpec, prepare, table_counts
from benchmarks.lib.load import LoadSettings, Request, measure
from benchmarks.lib.report import machine_info, update_block
from benchmarks.lib.servers import ServerPool

SUPERVISOR_EMAIL = "supervisor@bench.test"
CREATE_BODY = {"first_name": cdata.BENCH_FIRST_NAME, "last_name": "Mark", "source": "ed"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--database", default="bridgeline_bench_caseload", help="database to (re)create and load")
    parser.add_argument("--coaches", type=int, default=200, help="coaches (role coach), plus one supervisor")
    parser.add_argument("--patients", type=int, default=20_000, help="patients, spread evenly over the coaches")
    parser.add_argument("--contacts", type=int, default=200_000, help="older contacts, spread over the patients")
    parser.add_argument("--recent-contacts", type=int, default=20_000, help="contacts in the last 14 days")
    parser.add_argument("--tasks", type=int, default=20_000, help="tasks, spread evenly over the patients")
    parser.add_argument("--on-shift", type=int, default=50, help="coaches on shift")
    parser.add_argument("--on-shift-cap", type=int, default=100,
                        help="personal cap of on-shift coaches (load units): room for the assignment run")
    parser.add_argument("--small-team", type=int, default=20, help="team size for the second statement count")
    parser.add_argument("--skip-load", action="store_true",
                        help="reuse the loaded database (patients created by earlier runs are deleted)")
    parser.add_argument("--duration", type=int, default=20, help="measured seconds per endpoint")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up seconds per endpoint")
    parser.add_argument("--connections", type=int, default=16, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--wrk", default=shutil.which("wrk"), help="wrk binary (Python fallback when missing)")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/PERFORMANCE.md")
    parser.add_argument("--seed", type=int, default=20261123, help="random seed of the synthetic data")
    args = parser.parse_args(argv)
    if args.patients < args.coaches or args.coaches < 1 or args.on_shift > args.coaches:
        parser.error("need at least one patient per coach and no more coaches on shift than coaches")
    return args


def _mix(values: list[str]) -> str:
    counts = Counter(values)
    return ", ".join(f"{name} {100 * n / len(values):.0f} %" for name, n in counts.items())


def data_sizes(dbname: str) -> dict:
    sizes = table_counts(dbname, ("patients", "contacts", "tasks", "shifts", "supervision_sessions",
                                  "wellness_check_ins", "assignments"))
    with psycopg.connect(dsn(dbname)) as conn:
        sizes["active_patients"] = conn.execute("SELECT count(*) FROM patients WHERE status = ANY(%s)",
                                                (list(cdata.ACTIVE),)).fetchone()[0]
        sizes["part_time"] = conn.execute("SELECT count(*) FROM users WHERE role = 'coach' AND NOT on_shift "
                                          "AND caseload_cap IS NOT NULL").fetchone()[0]
    sizes["patients_loaded"], sizes["assignments_loaded"] = sizes["patients"], sizes["assignments"]
    return sizes


def run_load(pool: ServerPool, load: LoadSettings, dbname: str) -> tuple:
    """The team view, then automatic assignment, under wrk; returns (team, create, team rows)."""
    api = pool.start_app("api", dbname, with_redis=True)
    log(f"gunicorn on port {api.port}")
    token = login(api.port, SUPERVISOR_EMAIL)
    status, _h, rows = http_json("GET", api.port, TEAM_PATH, token=token)
    if status != 200 or not isinstance(rows, list) or not rows:
        raise RuntimeError(f"{TEAM_PATH} answered {status}: {str(rows)[:300]}")
    log(f"{TEAM_PATH}: {len(rows)} coaches")
    log(f"team view: {load.warmup} s warm-up + {load.duration} s at {load.connections} connections")
    team = measure(Request(api.url(TEAM_PATH), token), load, api.pid)
    log(f"team view: {team.summary()}")
    log(f"automatic assignment: {load.warmup} s warm-up + {load.duration} s at {load.connections} connections")
    create = measure(Request(api.url(CREATE_PATH), token, "POST", CREATE_BODY), load, api.pid)
    log(f"automatic assignment: {create.summary()}")
    pool.stop(api)
    return team, create, rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    workdir = Path(tempfile.mkdtemp(prefix="bridgeline-bench-caseload-"))
    load = LoadSettings(args.connections, args.duration, args.warmup, args.wrk, args.wrk_threads)
    load.write_lua(workdir)
    spec = DataSpec(coaches=args.coaches, patients=args.patients, contacts=args.contacts, tasks=args.tasks,
                    seed=args.seed, min_age_days=45, statuses=cdata.STATUSES, acuities=cdata.ACUITIES)
    cspec = cdata.CaseloadSpec(on_shift=args.on_shift, on_shift_cap=args.on_shift_cap,
                               recent_contacts=args.recent_contacts)
    try:
        with ServerPool(args.workers, args.threads, workdir) as pool:
            prepare(args.database, spec, args.skip_load, log, lambda db: cdata.load_caseload_data(db, cspec))
            if args.skip_load:
                log(f"deleted {cdata.remove_created_patients(args.database)} patients created by earlier runs")
            machine = machine_info(args.database)
            sizes = data_sizes(args.database)
            log("in-process: SQL statements of the team view and of an automatic assignment")
            checks = team_size_checks(args.database, REDIS_URL, SUPERVISOR_EMAIL, [args.coaches, args.small_team])
            for check in checks:
                log(f"{check.coaches} coaches ({check.on_shift} on shift): team view {len(check.team_statements)} "
                    f"statements, {check.team_ms:.1f} ms; automatic POST {len(check.create_statements)} statements, "
                    f"{check.create_ms:.1f} ms")
            room_before = cdata.on_shift_room(args.database)
            log(f"room on the on-shift coaches: {room_before}")
            team, create, rows = run_load(pool, load, args.database)

        tally = cdata.assignment_tally(args.database, CREATE_BODY["last_name"])
        room_after = cdata.on_shift_room(args.database)
        log(f"created patients: {tally}; room after: {room_after}")
        levels, reasons = caseload_report.summarise_team(rows)
        run = caseload_report.CaseloadRun(
            started_at=started_at, command="/work/main/.venv/bin/python benchmarks/caseload.py", machine=machine,
            sizes=sizes, data={"statuses": _mix(cdata.STATUSES), "acuities": _mix(cdata.ACUITIES),
                               "default_cap": cdata.POLICY["default_cap"], "on_shift": args.on_shift,
                               "on_shift_cap": args.on_shift_cap, "part_time": sizes["part_time"],
                               "recent_contacts": args.recent_contacts},
            team=team, create=create, create_body=CREATE_BODY, room_before=room_before, room_after=room_after,
            tally=tally, checks=checks, team_levels=levels, team_reasons=reasons)
        print("\n" + caseload_report.figures_table(run) + "\n")
        print(caseload_report.statements_table(checks) + "\n")
        print("\n".join(caseload_report.statement_lines(checks)) + "\n")
        if not args.no_docs:
            update_block(caseload_report.TITLE, caseload_report.BLOCK,
                         caseload_report.render_section(run, pool, load))
            log(f"wrote {DOCS.relative_to(ROOT)}")
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
