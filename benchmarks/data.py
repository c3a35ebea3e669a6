"""Data loading through the models' own tables (`Model.__table__`, SQLAlchemy Core), and the base data set.

The scenarios' loaders use `insert_rows` on a schema made by the app's own
migrations: no column lists or DDL restating the models. The base data set is
one programme (id 1), a supervisor (user 1, supervisor@bench.test), coaches
(users 2.., coach1@bench.test ..), patients spread evenly over the coaches with
one "created" event each, and contacts and tasks spread evenly over the
patients. Mixes are lists sampled uniformly (repeat a value to weight it).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from benchmarks.harness import PASSWORD

PROGRAM_ID = SUPERVISOR_ID = 1
SUPERVISOR_EMAIL = "supervisor@bench.test"
FIRST_NAMES = ["Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Rowan", "Maria",
               "Jose", "Lucia", "Diego", "Ana", "Sam", "Dana", "Robin", "Kai", "Elena", "Noah", "Imani", "Mei"]
LAST_NAMES = ["Rivera", "Nguyen", "Okafor", "Kowalski", "Haddad", "Lindqvist", "Moreau", "Tanaka", "Garcia",
              "Brooks", "Patel", "Fischer", "Novak", "Reyes", "Campbell", "Johnson", "Lopez", "Wilson", "Lee"]
AREA_CODES = ["312", "773", "872", "708", "630", "847", "224", "331", "815", "779"]
STATUSES = ["referred"] * 20 + ["engaged"] * 30 + ["active"] * 30 + ["linked"] * 15 + ["closed"] * 10 \
    + ["declined"] * 5
SOURCES = ["ed"] * 6 + ["inpatient", "warm_line", "self", "partner"]
ACUITIES = ["low", "standard", "standard", "high"]
CONTACT_KINDS = ["phone"] * 5 + ["sms"] * 3 + ["in_person", "video", "ed_visit"]
OUTCOMES = ["reached"] * 4 + ["no_answer", "left_message", "wrong_number"]
TASK_KINDS = ["call_back", "follow_up", "confirm_appointment", "check_phone_number", "wellness_check_in"]
NOTES = [None, None, "Synthetic benchmark note.", "Left the resource list.", "Talked about next steps."]


@dataclass
class BaseData:
    """Sizes and mixes of the base data set."""

    coaches: int
    patients: int
    contacts: int = 0
    tasks: int = 0
    seed: int = 20261122
    min_age_days: int = 30  # patients were created min_age_days-400 days ago
    statuses: list[str] = field(default_factory=lambda: list(STATUSES))
    acuities: list[str] = field(default_factory=lambda: list(ACUITIES))


def insert_rows(conn: sa.Connection, model, rows: Iterable[dict], chunk: int = 5000) -> int:
    """Bulk-insert dicts into a model's table with SQLAlchemy Core (column defaults apply); returns the count."""
    rows, count = iter(rows), 0
    while batch := list(itertools.islice(rows, chunk)):
        conn.execute(model.__table__.insert(), batch)
        count += len(batch)
    return count


def reset_sequences(conn: sa.Connection, *models) -> None:
    """PostgreSQL: move id sequences past ids that were inserted explicitly."""
    if conn.dialect.name == "postgresql":
        for model in models:
            table = model.__tablename__
            conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - model
                                 f"(SELECT coalesce(max(id), 1) FROM {table}))")


def analyze(engine: sa.Engine) -> None:
    """VACUUM ANALYZE after a bulk load (PostgreSQL)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def row_counts(conn: sa.Connection, *models) -> dict[str, int]:
    """Rows per model table."""
    return {m.__tablename__: conn.scalar(sa.select(sa.func.count()).select_from(m.__table__)) for m in models}


def coach_email(n: int) -> str:
    """The e-mail of the n-th coach (1-based; user id n + 1)."""
    return f"coach{n}@bench.test"


def phone(n: int) -> str:
    """A synthetic +1 number, different for each n below 1,000."""
    return f"+1{AREA_CODES[(n // 100) % len(AREA_CODES)]}55501{n % 100:02d}"


def load_base(conn: sa.Connection, spec: BaseData) -> dict[str, int]:
    """Insert the base data set into a migrated, empty database; row counts by table."""
    from backend.contacts.models import Contact
    from backend.patients.models import Patient, PatientEvent
    from backend.programs.models import Program
    from backend.tasks.models import Task
    from backend.users.models import User
    from backend.users.passwords import hash_password

    rng = random.Random(spec.seed)
    now = datetime.now(UTC).replace(microsecond=0)
    password_hash = hash_password(PASSWORD)
    coach_ids = list(range(SUPERVISOR_ID + 1, SUPERVISOR_ID + 1 + spec.coaches))
    insert_rows(conn, Program, [{"id": PROGRAM_ID, "name": "Bench Peer Recovery Program",
                                 "timezone": "America/Chicago", "phone": "+13125550199"}])
    insert_rows(conn, User, [{"id": uid, "program_id": PROGRAM_ID, "password_hash": password_hash, "active": True,
                              "email": coach_email(uid - 1) if uid > 1 else SUPERVISOR_EMAIL, "phone": phone(uid),
                              "full_name": f"Bench Coach {uid - 1}" if uid > 1 else "Bench Supervisor",
                              "role": "coach" if uid > 1 else "supervisor",
                              "supervisor_id": SUPERVISOR_ID if uid > 1 else None}
                             for uid in [SUPERVISOR_ID, *coach_ids]])
    created = {pid: now - timedelta(days=rng.randint(spec.min_age_days, 400), minutes=rng.randint(0, 1439))
               for pid in range(1, spec.patients + 1)}
    coach_of = {pid: coach_ids[(pid - 1) % spec.coaches] for pid in created}

    def patients():
        for pid, at in created.items():
            status, consent = rng.choice(spec.statuses), rng.random() < 0.8
            updated = at + timedelta(days=rng.randint(0, 29))
            yield {"id": pid, "program_id": PROGRAM_ID, "coach_id": coach_of[pid], "first_name": rng.choice(
                FIRST_NAMES), "last_name": rng.choice(LAST_NAMES), "phone": phone(pid), "timezone": "America/Chicago",
                "language": "es" if rng.random() < 0.2 else "en", "sms_consent": consent,
                "sms_consent_at": at if consent else None, "status": status, "source": rng.choice(SOURCES),
                "acuity": rng.choice(spec.acuities), "declined_peer_support": status == "declined",
                "closed_at": updated if status in ("closed", "declined") else None, "created_by_id": SUPERVISOR_ID,
                "created_at": at, "updated_at": updated}

    def contacts():
        for n in range(spec.contacts):
            pid = n % spec.patients + 1
            at = created[pid] + timedelta(days=rng.randint(0, 29), minutes=rng.randint(0, 1439))
            kind = rng.choice(CONTACT_KINDS)
            yield {"program_id": PROGRAM_ID, "patient_id": pid, "coach_id": coach_of[pid], "kind": kind,
                   "direction": "inbound" if rng.random() < 0.2 else "outbound", "occurred_at": at,
                   "duration_minutes": None if kind == "sms" else rng.randint(1, 60), "outcome": rng.choice(OUTCOMES),
                   "note": rng.choice(NOTES), "created_at": at}

    def tasks():
        for n in range(spec.tasks):
            pid = n % spec.patients + 1
            at = created[pid] + timedelta(days=rng.randint(0, 20))
            due, done = at + timedelta(days=rng.randint(1, 10)), rng.random() < 0.6
            yield {"program_id": PROGRAM_ID, "patient_id": pid, "assignee_id": coach_of[pid],
                   "created_by_id": SUPERVISOR_ID, "kind": rng.choice(TASK_KINDS), "title": "Call back after discharge",
                   "due_at": due, "status": "done" if done else "open", "completed_at": due if done else None,
                   "completed_by_id": coach_of[pid] if done else None, "created_at": at, "updated_at": due if done
                   else at}

    counts = {"patients": insert_rows(conn, Patient, patients())}
    counts["patient_events"] = insert_rows(conn, PatientEvent, (
        {"patient_id": pid, "actor_id": SUPERVISOR_ID, "kind": "created", "occurred_at": at,
         "details": {"source": "ed", "status": "referred"}} for pid, at in created.items()))
    counts["contacts"] = insert_rows(conn, Contact, contacts())
    counts["tasks"] = insert_rows(conn, Task, tasks())
    reset_sequences(conn, Program, User, Patient)
    return counts
