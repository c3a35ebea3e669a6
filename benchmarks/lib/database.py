"""Benchmark databases: (re)create, migrate to head, bulk-load synthetic data with COPY.

The data set is one programme, one supervisor (id 1), `coaches` coaches (ids 2..),
`patients` patients spread evenly over the coaches with one "created" event each,
`contacts` and `tasks` spread evenly over the patients. The mixes of statuses,
acuities and sources are parameters (lists sampled uniformly, so repeat a value
to weight it); the defaults are the foundation benchmark's.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from benchmarks.lib.common import BENCH_PASSWORD, ROOT, VENV_BIN, dsn, import_backend, pg_url

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
TABLES = ("programs", "users", "patients", "patient_events", "contacts", "tasks")
SUPERVISOR_ID = 1
PROGRAM_ID = 1


@dataclass
class DataSpec:
    """Sizes and mixes of the synthetic data set."""

    coaches: int = 200
    patients: int = 20_000
    contacts: int = 200_000
    tasks: int = 20_000
    seed: int = 20261122
    min_age_days: int = 30  # patients were created 30-400 days ago (contacts up to 29 days after)
    statuses: list[str] = field(default_factory=lambda: list(STATUSES))
    acuities: list[str] = field(default_factory=lambda: list(ACUITIES))
    sources: list[str] = field(default_factory=lambda: list(SOURCES))

    def describe(self) -> str:
        return (f"{self.coaches} coaches, {self.patients:,} patients, {self.contacts:,} contacts, "
                f"{self.tasks:,} tasks")


def _check_name(dbname: str) -> None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", dbname):
        raise SystemExit(f"refusing unusual database name {dbname!r}")


def recreate_database(dbname: str) -> None:
    _check_name(dbname)
    with psycopg.connect(dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def drop_database(dbname: str) -> None:
    _check_name(dbname)
    with psycopg.connect(dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def migrate(dbname: str) -> None:
    """`flask --app backend db upgrade` against the database."""
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


def copy_rows(cur: psycopg.Cursor, table: str, columns: list[str], rows: Iterable[tuple]) -> int:
    """COPY rows into a table; returns how many."""
    count = 0
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    with cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def reset_sequences(cur: psycopg.Cursor, tables: Iterable[str]) -> None:
    """Move each table's id sequence past the ids COPY wrote."""
    for table in tables:
        cur.execute(sql.SQL("SELECT setval(pg_get_serial_sequence({t}, 'id'), "
                            "(SELECT coalesce(max(id), 1) FROM {i}))").format(
            t=sql.Literal(table), i=sql.Identifier(table)))


def vacuum_analyze(dbname: str) -> None:
    with psycopg.connect(dsn(dbname), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _phone(n: int) -> str:
    return f"+1{AREA_CODES[(n // 100) % len(AREA_CODES)]}55501{n % 100:02d}"


def load_data(dbname: str, spec: DataSpec) -> dict[str, int]:
    """COPY the synthetic data set into a migrated, empty database; returns row counts."""
    import_backend()
    from backend.users.passwords import hash_password

    rng = random.Random(spec.seed)
    now = datetime.now(UTC).replace(microsecond=0)
    password_hash = hash_password(BENCH_PASSWORD)
    coach_ids = list(range(SUPERVISOR_ID + 1, spec.coaches + SUPERVISOR_ID + 1))
    patient_coach: dict[int, int] = {}
    patient_created: dict[int, datetime] = {}

    def patients():
        for pid in range(1, spec.patients + 1):
            coach = coach_ids[(pid - 1) % spec.coaches]
            patient_coach[pid] = coach
            created = now - timedelta(days=rng.randint(spec.min_age_days, 400), minutes=rng.randint(0, 1439))
            patient_created[pid] = created
            updated = created + timedelta(days=rng.randint(0, 29))
            status = rng.choice(spec.statuses)
            consent = rng.random() < 0.8
            closed = status in ("closed", "declined")
            yield (pid, PROGRAM_ID, coach, rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES),
                   rng.choice(FIRST_NAMES) if rng.random() < 0.1 else None, _phone(pid),
                   "es" if rng.random() < 0.2 else "en", "America/Chicago",
                   consent, created if consent else None, False, None, status, rng.choice(spec.sources),
                   rng.choice(spec.acuities), status == "declined", updated if closed else None, SUPERVISOR_ID, 1,
                   created, updated)

    def events():
        for pid in range(1, spec.patients + 1):
            yield (pid, pid, SUPERVISOR_ID, "created", '{"source": "ed", "status": "referred"}', patient_created[pid])

    def contacts():
        for cid in range(1, spec.contacts + 1):
            pid = (cid - 1) % spec.patients + 1
            occurred = patient_created[pid] + timedelta(days=rng.randint(0, 29), minutes=rng.randint(0, 1439))
            kind = rng.choice(CONTACT_KINDS)
            yield (cid, PROGRAM_ID, pid, patient_coach[pid], kind, "inbound" if rng.random() < 0.2 else "outbound",
                   occurred, None if kind == "sms" else rng.randint(1, 60), rng.choice(OUTCOMES),
                   rng.choice(NOTES), occurred)

    def tasks():
        for tid in range(1, spec.tasks + 1):
            pid = (tid - 1) % spec.patients + 1
            created = patient_created[pid] + timedelta(days=rng.randint(0, 20))
            done = rng.random() < 0.6
            due = created + timedelta(days=rng.randint(1, 10))
            yield (tid, PROGRAM_ID, pid, patient_coach[pid], SUPERVISOR_ID, rng.choice(TASK_KINDS),
                   rng.choice(TASK_TITLES), None, due, "done" if done else "open", due if done else None,
                   patient_coach[pid] if done else None, 1, created, due if done else created)

    users = [(SUPERVISOR_ID, PROGRAM_ID, "supervisor@bench.test", "Bench Supervisor", "+13125550100", "supervisor",
              True, None, password_hash, None, None, now, now)]
    users += [(uid, PROGRAM_ID, f"coach{uid - 1}@bench.test", f"Bench Coach {uid - 1}",
               f"+1{AREA_CODES[uid % len(AREA_CODES)]}55501{uid % 100:02d}", "coach", True, SUPERVISOR_ID,
               password_hash, None, None, now, now) for uid in coach_ids]

    counts: dict[str, int] = {}
    with psycopg.connect(dsn(dbname)) as conn, conn.cursor() as cur:
        counts["programs"] = copy_rows(cur, "programs", ["id", "name", "timezone", "phone", "created_at", "updated_at"],
                                       [(PROGRAM_ID, "Bench Peer Recovery Program", "America/Chicago",
                                         "+13125550199", now, now)])
        counts["users"] = copy_rows(cur, "users", [
            "id", "program_id", "email", "full_name", "phone", "role", "active", "supervisor_id", "password_hash",
            "last_login_at", "deactivated_at", "created_at", "updated_at"], users)
        counts["patients"] = copy_rows(cur, "patients", [
            "id", "program_id", "coach_id", "first_name", "last_name", "preferred_name", "phone", "language",
            "timezone", "sms_consent", "sms_consent_at", "sms_opted_out", "sms_opted_out_at", "status", "source",
            "acuity", "declined_peer_support", "closed_at", "created_by_id", "version", "created_at", "updated_at",
        ], patients())
        counts["patient_events"] = copy_rows(cur, "patient_events",
                                             ["id", "patient_id", "actor_id", "kind", "details", "occurred_at"],
                                             events())
        counts["contacts"] = copy_rows(cur, "contacts", [
            "id", "program_id", "patient_id", "coach_id", "kind", "direction", "occurred_at", "duration_minutes",
            "outcome", "note", "created_at"], contacts())
        counts["tasks"] = copy_rows(cur, "tasks", [
            "id", "program_id", "patient_id", "assignee_id", "created_by_id", "kind", "title", "note", "due_at",
            "status", "completed_at", "completed_by_id", "version", "created_at", "updated_at"], tasks())
        reset_sequences(cur, TABLES)
        conn.commit()
    return counts


def prepare(dbname: str, spec: DataSpec, skip_load: bool, log, after_load=None) -> dict[str, int] | None:
    """Recreate, migrate, load, run `after_load(dbname)`, VACUUM ANALYZE; with skip_load only migrate."""
    if skip_load:
        log(f"reusing database {dbname}; migrating to head")
        migrate(dbname)
        return None
    log(f"recreating database {dbname}")
    recreate_database(dbname)
    log("migrating to head (flask db upgrade)")
    migrate(dbname)
    log(f"loading {spec.describe()} with COPY")
    started = time.perf_counter()
    counts = load_data(dbname, spec)
    if after_load is not None:
        counts.update(after_load(dbname))
    vacuum_analyze(dbname)
    log(f"loaded {counts} in {time.perf_counter() - started:.1f} s (incl. VACUUM ANALYZE)")
    return counts


def table_counts(dbname: str, tables: Iterable[str]) -> dict[str, int | str]:
    """Row counts of tables, coaches and the database size."""
    with psycopg.connect(dsn(dbname)) as conn:
        sizes: dict[str, int | str] = {}
        for table in tables:
            sizes[table] = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
        sizes["coaches"] = conn.execute("SELECT count(*) FROM users WHERE role = 'coach'").fetchone()[0]
        sizes["db_size"] = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    return sizes
