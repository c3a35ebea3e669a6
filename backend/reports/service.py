"""Programme summary counts for the supervision dashboard."""

from __future__ import annotations

import sqlalchemy as sa

from backend.database import db, utcnow
from backend.patients.models import OPEN_STATUSES, Patient, PatientStatus
from backend.tasks.models import Task, TaskStatus
from backend.users.models import Role, User


def programme_summary(actor: User) -> dict:
    """Counts of patients by status, unassigned patients, coaches, open and overdue tasks."""
    by_status = dict(db.session.execute(
        sa.select(Patient.status, sa.func.count()).where(Patient.program_id == actor.program_id)
        .group_by(Patient.status)).all())
    unassigned = db.session.scalar(sa.select(sa.func.count()).select_from(Patient).where(
        Patient.program_id == actor.program_id, Patient.coach_id.is_(None), Patient.status.in_(OPEN_STATUSES)))
    coaches, on_shift = db.session.execute(sa.select(sa.func.count(), sa.func.count().filter(User.on_shift.is_(True)))
                                           .where(User.program_id == actor.program_id, User.role == Role.COACH,
                                                  User.active.is_(True))).one()
    open_tasks, overdue = db.session.execute(
        sa.select(sa.func.count(), sa.func.count().filter(Task.due_at < utcnow()))
        .where(Task.program_id == actor.program_id, Task.status == TaskStatus.OPEN)).one()
    return {
        "program_name": actor.program.name,
        "by_status": {s.value: by_status.get(s, 0) for s in PatientStatus},
        "open_patients": sum(by_status.get(s, 0) for s in OPEN_STATUSES),
        "unassigned": unassigned or 0,
        "coaches": coaches or 0,
        "on_shift": on_shift or 0,
        "open_tasks": open_tasks or 0,
        "overdue_tasks": overdue or 0,
    }
