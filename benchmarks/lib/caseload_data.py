"""Caseload data on top of the synthetic data set (benchmarks/lib/database.py).

Adds what the team view and automatic assignment read: a caseload policy,
on-shift coaches with personal caps, shifts over the last 14 days (an open
one for each on-shift coach), contacts in the last 14 days on working days
(some outside shifts, a few crises), supervision sessions, weekly wellness
check-ins and recent assignments. Everything is COPYed with fixed seeds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from benchmarks.lib.common import dsn
from benchmarks.lib.database import CONTACT_KINDS, PROGRAM_ID, SUPERVISOR_ID, copy_rows

ACTIVE = ("referred", "engaged", "active", "linked")
# Most of a programme's patients were closed long ago; about a third are open.
STATUSES = ["referred"] * 5 + ["engaged"] * 8 + ["active"] * 12 + ["linked"] * 10 + ["closed"] * 50 \
    + ["declined"] * 15
ACUITIES = ["low"] * 3 + ["standard"] * 5 + ["high"] * 2
BENCH_FIRST_NAME = "Bench"  # patients created by benchmarks/caseload.py: first_name Bench
POLICY = {"default_cap": 40, "weight_low": 50, "weight_standard": 100, "weight_high": 150, "max_shift_hours": 12,
          "watch_utilisation_pct": 90, "after_hours_contacts": 5, "crisis_contacts": 3,
          "consecutive_contact_days": 6, "supervision_gap_days": 30, "stress_threshold": 4}


@dataclass
class CaseloadSpec:
    on_shift: int = 50  # coaches on shift (every k-th coach)
    on_shift_cap: int = 100  # personal cap of on-shift coaches (load units), room for the assignment run
    part_time_share: float = 0.1  # off-shift coaches with a personal cap of 30
    recent_contacts: int = 20_000  # contacts in the last 14 days, over the active patients
    seed: int = 7

    def describe(self) -> str:
        return (f"{self.on_shift} coaches on shift (cap {self.on_shift_cap}), {self.recent_contacts:,} contacts in "
                f"the last 14 days")


def _coach_ids(cur) -> list[int]:
    return [r[0] for r in cur.execute("SELECT id FROM users WHERE role = 'coach' ORDER BY id").fetchall()]


def load_caseload_data(dbname: str, spec: CaseloadSpec) -> dict[str, int]:
    """Add the caseload tables' rows; returns row counts."""
    rng = random.Random(spec.seed)
    now = datetime.now(UTC).replace(microsecond=0)
    counts: dict[str, int] = {}
    with psycopg.connect(dsn(dbname)) as conn, conn.cursor() as cur:
        coaches = _coach_ids(cur)
        step = max(1, len(coaches) // max(1, spec.on_shift))
        on_shift = set(coaches[::step][:spec.on_shift])
        counts["caseload_policies"] = copy_rows(cur, "caseload_policies", [*POLICY, "program_id", "created_at",
                                                                           "updated_at"],
                                                [(*POLICY.values(), PROGRAM_ID, now, now)])
        cur.execute("UPDATE users SET on_shift = (id = ANY(%s)), caseload_cap = CASE WHEN id = ANY(%s) THEN %s END "
                    "WHERE role = 'coach'", (list(on_shift), list(on_shift), spec.on_shift_cap))
        part_time = [c for c in coaches if c not in on_shift and rng.random() < spec.part_time_share]
        cur.execute("UPDATE users SET caseload_cap = 30 WHERE id = ANY(%s)", (part_time,))
        counts["on_shift"] = len(on_shift)

        # Working days over the last 14 days: five of seven, a tenth of the coaches never off.
        workdays: dict[int, list[int]] = {}
        for coach in coaches:
            if rng.random() < 0.1:
                workdays[coach] = list(range(14))
            else:
                off = {rng.randrange(7), rng.randrange(7)}
                workdays[coach] = [d for d in range(14) if d % 7 not in off]
        day0 = now.replace(hour=14, minute=0, second=0)  # 08:00 in Chicago (CST), the shift start
        if day0 + timedelta(hours=9) > now:
            # Today's 9-hour shift is not over (before 23:00 UTC): the 14 days end with yesterday's. Otherwise
            # day 0's contacts would be clamped to the last hour, outside every shift, and the data would
            # depend on the time of day of the run.
            day0 -= timedelta(days=1)

        def shift_start(days_ago: int) -> datetime:
            return day0 - timedelta(days=days_ago)

        def shifts():
            for coach in coaches:
                for d in workdays[coach]:
                    start = shift_start(d)
                    if start + timedelta(hours=9) <= now:  # today's shift, if not over, is left out
                        yield (PROGRAM_ID, coach, start, start + timedelta(hours=9), "ended")
                if coach in on_shift:  # on shift now: an open shift
                    yield (PROGRAM_ID, coach, now - timedelta(hours=rng.randint(1, 6)), None, None)

        counts["shifts"] = copy_rows(cur, "shifts", ["program_id", "coach_id", "started_at", "ended_at",
                                                     "ended_reason"], shifts())

        patients: dict[int, list[int]] = {}
        for pid, coach in cur.execute("SELECT id, coach_id FROM patients WHERE status = ANY(%s) "
                                      "AND coach_id IS NOT NULL ORDER BY id", (list(ACTIVE),)).fetchall():
            patients.setdefault(coach, []).append(pid)
        after_hours_share = {c: rng.choice([0.01, 0.02, 0.03, 0.05, 0.08, 0.15]) for c in coaches}

        def contacts():
            with_patients = [c for c in coaches if patients.get(c)]
            for _ in range(spec.recent_contacts):
                coach = rng.choice(with_patients)
                start = shift_start(rng.choice(workdays[coach]))
                if rng.random() < after_hours_share[coach]:
                    occurred = start + timedelta(hours=rng.choice([-3, -2, 10, 11, 12, 13]), minutes=rng.randint(0, 59))
                else:
                    occurred = start + timedelta(minutes=rng.randint(10, 530))
                if occurred > now:
                    occurred = now - timedelta(minutes=rng.randint(1, 60))
                kind = rng.choice(CONTACT_KINDS)
                outcome = "crisis" if rng.random() < 0.02 else rng.choice(["reached"] * 4 + ["no_answer",
                                                                                             "left_message"])
                yield (PROGRAM_ID, rng.choice(patients[coach]), coach, kind,
                       "inbound" if rng.random() < 0.2 else "outbound", occurred,
                       None if kind == "sms" else rng.randint(1, 60), outcome, None, occurred)

        counts["recent_contacts"] = copy_rows(cur, "contacts", [
            "program_id", "patient_id", "coach_id", "kind", "direction", "occurred_at", "duration_minutes",
            "outcome", "note", "created_at"], contacts())

        def sessions():
            for coach in coaches:
                last = rng.randint(2, 60)  # a fifth or so over the 30-day gap
                for k in range(rng.randint(1, 4)):
                    held = now - timedelta(days=last + 21 * k, hours=rng.randint(0, 8))
                    yield (PROGRAM_ID, coach, SUPERVISOR_ID, held, rng.choice([30, 45, 60]),
                           "Synthetic supervision note.", "[]", held)

        counts["supervision_sessions"] = copy_rows(cur, "supervision_sessions", [
            "program_id", "coach_id", "supervisor_id", "held_at", "duration_minutes", "notes", "follow_ups",
            "created_at"], sessions())

        def check_ins():
            for week in range(8, -1, -1):  # oldest first, so the latest has the highest id
                for coach in coaches:
                    if rng.random() < 0.2:
                        continue
                    stress = rng.choice([1, 2, 2, 3, 3, 3, 4, 5])
                    yield (PROGRAM_ID, coach, stress, rng.randint(1, 5), rng.random() < 0.05, None,
                           now - timedelta(days=7 * week + rng.randint(0, 6), hours=rng.randint(0, 8)))

        counts["wellness_check_ins"] = copy_rows(cur, "wellness_check_ins", [
            "program_id", "coach_id", "stress", "energy", "wants_supervisor_contact", "note", "created_at"],
            check_ins())

        def assignments():
            for coach in coaches:
                mine = patients.get(coach, [])
                for pid in mine[len(mine) - min(len(mine), rng.randint(0, 4)):]:
                    yield (PROGRAM_ID, pid, coach, None, SUPERVISOR_ID, rng.choice(["automatic", "manual"]), None,
                           0, POLICY["default_cap"], now - timedelta(days=rng.randint(0, 13), hours=rng.randint(0, 23)))

        counts["assignments"] = copy_rows(cur, "assignments", [
            "program_id", "patient_id", "coach_id", "previous_coach_id", "assigned_by_id", "method",
            "override_reason", "load_before", "cap", "created_at"], assignments())
        conn.commit()
    return counts


def remove_created_patients(dbname: str, last_name: str | None = None) -> int:
    """Delete patients that runs created (first_name Bench, optionally this last name) with their rows."""
    with psycopg.connect(dsn(dbname)) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM patients WHERE first_name = %s AND (%s::text IS NULL OR last_name = %s)",
            (BENCH_FIRST_NAME, last_name, last_name)).fetchall()]
        if ids:
            for table in ("assignments", "patient_events", "tasks", "contacts"):
                conn.execute(f"DELETE FROM {table} WHERE patient_id = ANY(%s)", (ids,))  # noqa: S608 - fixed names
            conn.execute("DELETE FROM patients WHERE id = ANY(%s)", (ids,))
        conn.commit()
    return len(ids)


def assignment_tally(dbname: str, last_name: str) -> dict[str, int]:
    """Patients created by the run (Bench <last_name>): with a coach, without, review tasks, coaches used."""
    with psycopg.connect(dsn(dbname)) as conn:
        assigned, unassigned, coaches = conn.execute(
            "SELECT count(*) FILTER (WHERE coach_id IS NOT NULL), count(*) FILTER (WHERE coach_id IS NULL), "
            "count(DISTINCT coach_id) FROM patients WHERE first_name = %s AND last_name = %s",
            (BENCH_FIRST_NAME, last_name)).fetchone()
        automatic = conn.execute(
            "SELECT count(*) FROM assignments a JOIN patients p ON p.id = a.patient_id "
            "WHERE p.first_name = %s AND p.last_name = %s AND a.method = 'automatic'",
            (BENCH_FIRST_NAME, last_name)).fetchone()[0]
        reviews = conn.execute(
            "SELECT count(*) FROM tasks t JOIN patients p ON p.id = t.patient_id "
            "WHERE p.first_name = %s AND p.last_name = %s AND t.kind = 'review'",
            (BENCH_FIRST_NAME, last_name)).fetchone()[0]
    return {"created": assigned + unassigned, "assigned": assigned, "unassigned": unassigned,
            "coaches_used": coaches, "automatic_assignments": automatic, "review_tasks": reviews}


def on_shift_room(dbname: str) -> dict[str, float]:
    """Room left on the on-shift coaches' caseloads, in load units (weights as in POLICY)."""
    with psycopg.connect(dsn(dbname)) as conn:
        rows = conn.execute(
            "SELECT u.id, coalesce(u.caseload_cap, p.default_cap) AS cap, coalesce(sum(CASE pa.acuity "
            "WHEN 'low' THEN p.weight_low WHEN 'high' THEN p.weight_high ELSE p.weight_standard END), 0) AS load "
            "FROM users u JOIN caseload_policies p ON p.program_id = u.program_id "
            "LEFT JOIN patients pa ON pa.coach_id = u.id AND pa.status = ANY(%s) "
            "WHERE u.role = 'coach' AND u.active AND u.on_shift GROUP BY u.id, cap", (list(ACTIVE),)).fetchall()
    room = [max(0, cap * 100 - load) / 100 for _id, cap, load in rows]
    loads = [load / 100 for _id, _cap, load in rows]
    return {"coaches": len(rows), "room": sum(room), "min_room": min(room, default=0),
            "mean_load": sum(loads) / max(1, len(loads))}
