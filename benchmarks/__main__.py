"""Run the benchmark scenarios: `python -m benchmarks [--quick] [api caseload dispatch partners]`.

Each scenario gets a fresh database, migrated to head with the app's own
migrations, loads its data through the models' tables, measures, checks its
correctness properties and writes benchmarks/results/<scenario>.json;
`python -m benchmarks.render` then rewrites the generated blocks of
docs/PERFORMANCE.md. The full run takes PostgreSQL on 127.0.0.1 (or
--database-url), Redis on 127.0.0.1, wrk and gunicorn, and about 30 minutes.

--quick is the smoke test: tiny sizes, in-process, no wrk, gunicorn or timings,
well under a minute on 2 cores. It checks the properties only (every text sent
exactly once by 2 workers, statement counts independent of page and team size,
cached answers equal computed ones, no coach over the cap), on a uniquely
named PostgreSQL database beside --database-url or TEST_DATABASE_URL (dropped
at the end), or on SQLite when neither is given or PostgreSQL is unreachable
(REQUIRE_POSTGRES=1 makes that an error). It exits 1 when a property fails.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from benchmarks.harness import (
    RESULTS,
    Database,
    LoadSettings,
    ScenarioRun,
    create_postgres_database,
    drop_database,
    log,
    migrate,
    stop_processes,
)

SCENARIOS = ("api", "caseload", "dispatch", "partners", "voice")
# Run only when named (not part of "all", nor of --quick): the reliability soak, 10 minutes of mixed load with a
# Redis restart and a killed job worker (`python -m benchmarks soak --size minutes=1`, or `python -m benchmarks.soak`).
OPT_IN = ("soak", "panel")
LOCAL_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: scenarios, --quick, the database server, sizes and wrk settings."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", help=f"any of {', '.join(SCENARIOS)} (default: all), or "
                        f"{', '.join(OPT_IN)} (only when named)")
    parser.add_argument("--quick", action="store_true", help="smoke test: tiny sizes, properties only")
    parser.add_argument("--database-url", help="a PostgreSQL server (any database on it); the benchmark creates "
                        "its own databases there (default: TEST_DATABASE_URL with --quick, else 127.0.0.1)")
    parser.add_argument("--results", type=Path, help="where to write <scenario>.json (default: "
                        "benchmarks/results; with --quick, a temporary folder)")
    parser.add_argument("--size", action="append", default=[], metavar="KEY=N", help="override a size, e.g. "
                        "--size patients=5000 (each scenario's SIZES lists its keys)")
    parser.add_argument("--duration", type=int, default=20, help="measured seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up seconds per wrk run")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--quiet-wait", type=int, default=120, help="seconds to wait at most for a quiet machine "
                        "before each measured run (0: do not wait)")
    args = parser.parse_args(argv)
    if set(args.scenarios) - set(SCENARIOS) - set(OPT_IN):
        parser.error(f"unknown scenario: {', '.join(sorted(set(args.scenarios) - set(SCENARIOS) - set(OPT_IN)))}")
    args.scenarios = args.scenarios or list(SCENARIOS)
    args.command = shlex.join([".venv/bin/python", "-m", "benchmarks",
                               *(sys.argv[1:] if argv is None else argv)])
    return args


def postgres_server(args) -> str | None:
    """A URL of a reachable database on the PostgreSQL server to use; None: SQLite (--quick only)."""
    from backend.config import normalise_database_url

    given = args.database_url or (os.environ.get("TEST_DATABASE_URL") if args.quick else LOCAL_SERVER)
    if not given:
        log("no --database-url or TEST_DATABASE_URL: on SQLite")
        return None
    url, error = sa.engine.make_url(normalise_database_url(given)), None
    for candidate in (url, url.set(database="postgres")):  # the named database, else the maintenance one
        engine = sa.create_engine(candidate, poolclass=sa.pool.NullPool)
        try:
            with engine.connect():
                return candidate.render_as_string(hide_password=False)
        except sa.exc.OperationalError as exc:
            error = exc
    message = f"PostgreSQL unavailable at {url!r}: {str(error.orig).strip().splitlines()[0]}"
    if not args.quick or os.environ.get("REQUIRE_POSTGRES") == "1":
        raise SystemExit(message)
    log(f"{message}: on SQLite")
    return None


def run_scenario(args, scenario: str, server: str | None, results: Path, workdir: Path) -> list[dict]:
    """Create, migrate, run and record one scenario; its failed checks."""
    module = importlib.import_module(f"benchmarks.{scenario}")
    sizes = dict(module.QUICK if args.quick else module.SIZES)
    for item in args.size:
        key, _, value = item.partition("=")
        if key in sizes:
            sizes[key] = int(value)
    load = LoadSettings(connections=module.CONNECTIONS, duration=args.duration, warmup=args.warmup,
                        workers=args.workers, quiet_wait=0 if args.quick else args.quiet_wait)
    name = f"bridgeline_quick_{os.getpid()}_{secrets.token_hex(3)}_{scenario}" if args.quick else \
        f"bridgeline_bench_{scenario}"
    database = create_postgres_database(server, name) if server else Database(f"sqlite:///{workdir / name}.sqlite3")
    log(f"{scenario}: database {database.name} ({'PostgreSQL' if database.is_postgres else 'SQLite'}), sizes {sizes}")
    run = ScenarioRun(database, args.quick, sizes, load, workdir)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        migrate(database)
        result = module.main(run)
    finally:
        stop_processes()
        if args.quick:
            drop_database(database)
    result = {"scenario": scenario, "started_at": started, "command": args.command, "quick": args.quick,
              "database": database.name, "sizes": sizes, "load": vars(load), **result, "checks": run.checks}
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{scenario}.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    log(f"{scenario}: wrote {results / f'{scenario}.json'}")
    return [c for c in run.checks if not c["ok"]]


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios; 1 when a property failed."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))  # so `finally` stops processes
    known = {key for name in args.scenarios for key in importlib.import_module(f"benchmarks.{name}").SIZES}
    if unknown := {item.partition("=")[0] for item in args.size} - known:
        raise SystemExit(f"unknown --size {', '.join(sorted(unknown))}; the sizes are {', '.join(sorted(known))}")
    server, failed = postgres_server(args), []
    workdir = Path(tempfile.mkdtemp(prefix="bridgeline-bench-"))
    results = args.results or (workdir / "results" if args.quick else RESULTS)
    try:
        for scenario in args.scenarios:
            failed += [(scenario, check) for check in run_scenario(args, scenario, server, results, workdir)]
    finally:
        stop_processes()
        shutil.rmtree(workdir, ignore_errors=True)
    for scenario, check in failed:
        print(f"FAILED {scenario}: {check['property']}: {check['detail']}", file=sys.stderr)
    if failed:
        return 1
    log(f"every property held ({', '.join(args.scenarios)})" + ("" if args.quick else
                                                                 "; `python -m benchmarks.render` updates the docs"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
