"""Caseload views for coaches and supervisors, and the programme's caseload policy."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from backend.audit import service as audit
from backend.caseload.caps import cap_of, utilisation
from backend.caseload.models import Assignment, CaseloadSnapshot
from backend.caseload.policy import loads_for, weight_expression
from backend.caseload.signals import team_signals
from backend.common.errors import ForbiddenError, NotFoundError
from backend.contacts.models import Contact
from backend.database import db, utcnow
from backend.patients.models import OPEN_STATUSES, Patient, PatientStatus
from backend.programs.models import CaseloadPolicy
from backend.programs.policies import policy_for
from backend.tasks.models import Task, TaskStatus
from backend.users.models import Role, User
from backend.users.service import get_user_in_program, require_role


def _coach_of(actor: User, coach_id: int | None) -> User:
    """The caller's own caseload (coach_id None), or a coach of the lead's programme."""
    if coach_id is None:
        if actor.role != Role.COACH:
            raise ForbiddenError("forbidden", "Only coaches have a caseload.")
        return actor
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    coach = get_user_in_program(actor, coach_id)
    if coach.role != Role.COACH:
        raise NotFoundError("not_found", "The coach was not found.")
    return coach


def coach_caseload(actor: User, coach_id: int | None = None) -> dict:
    """Cap, load, utilisation, counts by status, overrides and the active patients with their follow-up state."""
    coach = _coach_of(actor, coach_id)
    policy = policy_for(coach.program_id)
    load, active = loads_for([coach.id], policy)[coach.id]
    cap = cap_of(coach, policy)
    counts = dict(db.session.execute(sa.select(Patient.status, sa.func.count())
                                     .where(Patient.coach_id == coach.id).group_by(Patient.status)).all())
    now = utcnow()
    last_contact = (sa.select(sa.func.max(Contact.occurred_at)).where(Contact.patient_id == Patient.id)
                    .scalar_subquery())
    overdue = (sa.select(sa.func.count()).where(Task.patient_id == Patient.id, Task.status == TaskStatus.OPEN,
                                                Task.due_at < now).scalar_subquery())
    rows = db.session.execute(
        sa.select(Patient, weight_expression(policy), last_contact, overdue)
        .where(Patient.coach_id == coach.id, Patient.status.in_(OPEN_STATUSES))
        .order_by(Patient.last_name, Patient.first_name, Patient.id)).all()
    patients = [{"patient": p, "weight": w / 100, "last_contact_at": lc,
                 "days_since_last_contact": None if lc is None else (now - lc).days, "overdue_tasks": n}
                for p, w, lc, n in rows]
    overrides = list(db.session.scalars(
        sa.select(Assignment).join(Patient, Patient.id == Assignment.patient_id)
        .where(Assignment.coach_id == coach.id, Assignment.override_reason.is_not(None),
               Patient.coach_id == coach.id, Patient.status.in_(OPEN_STATUSES))
        .order_by(Assignment.created_at.desc())))
    audit.record("list", "caseload", actor=actor, resource_id=coach.id,
                 details={"patient_ids": [row["patient"].id for row in patients]})
    return {"coach_id": coach.id, "coach_name": coach.full_name, "on_shift": coach.on_shift,
            "cap": cap, "load": load / 100, "utilisation": utilisation(load, cap), "active_patients": active,
            "counts_by_status": {s.value: counts.get(s, 0) for s in PatientStatus},
            "overrides": overrides, "patients": patients}


def team_caseloads(actor: User) -> list[dict]:
    """Every active coach of the programme: load against cap and burnout level with reasons (supervisors)."""
    require_role(actor, Role.SUPERVISOR)
    rows = programme_rows(actor.program_id)
    for row in rows:
        # A check-in is for the coach and their own supervisor only.
        if row["coach"].supervisor_id != actor.id:
            row["last_check_in"] = None
            row["reasons"] = [r for r in row["reasons"] if r["code"] not in ("high_stress", "asked_for_support")]
    return rows


def programme_rows(program_id: int) -> list[dict]:
    """The team view's data for one programme, in a fixed number of queries."""
    coaches = list(db.session.scalars(
        sa.select(User).where(User.program_id == program_id, User.role == Role.COACH, User.active.is_(True))
        .order_by(User.full_name, User.id)))
    policy = policy_for(program_id)
    ids = [c.id for c in coaches]
    loads = loads_for(ids, policy)
    caps = {c.id: cap_of(c, policy) for c in coaches}
    program_tz = coaches[0].program.timezone if coaches else "UTC"
    signals = team_signals(coaches, loads, caps, policy, program_tz)
    return [{"coach": c, "coach_id": c.id, "coach_name": c.full_name, "on_shift": c.on_shift, "cap": caps[c.id],
             "load": loads[c.id][0] / 100, "utilisation": utilisation(loads[c.id][0], caps[c.id]),
             "active_patients": loads[c.id][1], **signals[c.id]} for c in coaches]


def coach_headroom(actor: User) -> list[dict]:
    """Every active coach: load, cap and room left, on-shift first, then the least utilised (supervisors, admins)."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    coaches = list(db.session.scalars(
        sa.select(User).where(User.program_id == actor.program_id, User.role == Role.COACH, User.active.is_(True))
        .order_by(User.full_name, User.id)))
    policy = policy_for(actor.program_id)
    loads = loads_for([c.id for c in coaches], policy)
    rows = []
    for coach in coaches:
        load, cap = loads[coach.id][0], cap_of(coach, policy)
        rows.append({"coach_id": coach.id, "coach_name": coach.full_name, "on_shift": coach.on_shift,
                     "load": load / 100, "cap": cap, "room": (cap * 100 - load) / 100,
                     "utilisation": utilisation(load, cap)})
    return sorted(rows, key=lambda row: (not row["on_shift"], row["utilisation"], row["coach_name"].lower()))


def caseload_history(actor: User, days: int, coach_id: int | None = None) -> list[dict]:
    """Daily snapshots per coach (or of one coach) for the last `days` days, for charts (supervisors).

    Plain columns, not ORM objects: a programme of 200 coaches has 18,000 points in 90 days.
    """
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    since = (utcnow() - timedelta(days=days)).date()
    stmt = (sa.select(CaseloadSnapshot.coach_id, User.full_name, CaseloadSnapshot.day, CaseloadSnapshot.load,
                      CaseloadSnapshot.cap, CaseloadSnapshot.level)
            .join(User, User.id == CaseloadSnapshot.coach_id)
            .where(CaseloadSnapshot.program_id == actor.program_id, CaseloadSnapshot.day >= since))
    if coach_id is not None:
        stmt = stmt.where(CaseloadSnapshot.coach_id == coach_id)
    series: dict[int, dict] = {}
    for row in db.session.execute(stmt.order_by(User.full_name, CaseloadSnapshot.coach_id, CaseloadSnapshot.day)):
        entry = series.setdefault(row.coach_id, {"coach_id": row.coach_id, "coach_name": row.full_name, "points": []})
        entry["points"].append({"day": row.day, "load": row.load / 100, "cap": row.cap,
                                "utilisation": utilisation(row.load, row.cap), "level": row.level})
    return list(series.values())


def read_policy(actor: User) -> CaseloadPolicy:
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    return policy_for(actor.program_id)


def update_policy(actor: User, changes: dict) -> CaseloadPolicy:
    """Admins tune caps, weights and burnout thresholds of their programme."""
    require_role(actor, Role.ADMIN)
    policy = policy_for(actor.program_id)
    if policy not in db.session:
        db.session.add(policy)
    for field, value in changes.items():
        setattr(policy, field, round(value * 100) if field.startswith("weight_") else value)
    db.session.flush()
    audit.record("update", "caseload_policy", actor=actor, resource_id=actor.program_id,
                 details={"fields": sorted(changes)})
    return policy


def set_coach_cap(actor: User, coach_id: int, cap: int | None) -> dict:
    """A supervisor or admin sets a coach's own cap (None: the programme default)."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    coach = _coach_of(actor, coach_id)
    coach.caseload_cap = cap
    audit.record("update", "caseload_cap", actor=actor, resource_id=coach.id, details={"cap": cap})
    db.session.flush()
    return coach_caseload(actor, coach_id)


def removed_since(actor: User, since: datetime) -> list[dict]:
    """Patients that left the caller's caseload after `since`: an offline device deletes its copy of them."""
    removed = []
    # Supervisors and admins see the whole programme, so no patient ever leaves their view.
    if actor.role == Role.COACH:
        moved = (sa.select(Assignment.patient_id, sa.func.max(Assignment.created_at).label("removed_at"))
                 .where(Assignment.program_id == actor.program_id, Assignment.previous_coach_id == actor.id,
                        Assignment.created_at > since)
                 .group_by(Assignment.patient_id).subquery())
        rows = db.session.execute(
            sa.select(moved.c.patient_id, moved.c.removed_at).join(Patient, Patient.id == moved.c.patient_id)
            .where(Patient.coach_id.is_distinct_from(actor.id))  # reassigned back since: still theirs
            .order_by(moved.c.removed_at, moved.c.patient_id)).all()
        removed = [{"id": patient_id, "removed_at": at} for patient_id, at in rows]
    audit.record("list", "removed_patient", actor=actor, details={"patient_ids": [r["id"] for r in removed]})
    return removed
