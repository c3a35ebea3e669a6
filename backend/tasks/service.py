"""Task rules: create for a patient, list my tasks, complete or reschedule."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from backend.audit import service as audit
from backend.common.errors import ForbiddenError, field_error, not_found
from backend.database import db, utcnow
from backend.patients.access import get_patient_for
from backend.tasks.models import Task, TaskKind, TaskStatus
from backend.users.models import Role, User


def least_busy_supervisor(program_id: int) -> User | None:
    """The programme's active supervisor with the fewest open tasks (who gets work no coach owns)."""
    open_tasks = (sa.select(sa.func.count()).where(Task.assignee_id == User.id, Task.status == TaskStatus.OPEN)
                  .scalar_subquery())
    return db.session.scalar(
        sa.select(User).where(User.program_id == program_id, User.role == Role.SUPERVISOR, User.active.is_(True))
        .order_by(open_tasks, User.id).limit(1))


def supervisor_of(coach: User) -> User | None:
    """The coach's own supervisor while active, otherwise the programme's least busy one."""
    if coach.supervisor_id:
        supervisor = db.session.get(User, coach.supervisor_id)
        if supervisor is not None and supervisor.active:
            return supervisor
    return least_busy_supervisor(coach.program_id)


def open_system_task(program_id: int, assignee_id: int | None, kind: TaskKind, title: str, due_in: timedelta, *,
                     patient_id: int | None = None, created_by_id: int | None = None,
                     once: bool = False) -> Task | None:
    """Give someone a task the system raised (a reply to read, a cap to review, a number to check).

    Nothing when there is nobody to give it to. With `once`, nothing while a task of
    the same kind is still open for the same patient (or the same assignee, without one).
    Titles name people and reasons, never what a patient wrote.
    """
    if assignee_id is None:
        return None
    if once:
        same = (Task.patient_id == patient_id) if patient_id is not None else (Task.assignee_id == assignee_id)
        if db.session.scalar(sa.select(Task.id).where(same, Task.kind == kind, Task.status == TaskStatus.OPEN)
                             .limit(1)) is not None:
            return None
    task = Task(program_id=program_id, patient_id=patient_id, assignee_id=assignee_id, created_by_id=created_by_id,
                kind=kind, title=title, due_at=utcnow() + due_in)
    db.session.add(task)
    return task


def _mark_overdue(tasks: list[Task]) -> list[Task]:
    now = utcnow()
    for task in tasks:
        task.overdue = task.status == TaskStatus.OPEN and task.due_at < now
    return tasks


def my_tasks(actor: User, *, status: list[TaskStatus], due_before: datetime | None = None,
             patient_id: int | None = None) -> sa.Select:
    """The actor's tasks, soonest due first."""
    stmt = sa.select(Task).where(Task.assignee_id == actor.id, Task.status.in_(status))
    if due_before is not None:
        stmt = stmt.where(Task.due_at < due_before)
    if patient_id is not None:
        stmt = stmt.where(Task.patient_id == patient_id)
    return stmt.order_by(Task.due_at, Task.id)


def audit_task_list(actor: User, tasks: list[Task]) -> list[Task]:
    """Audit a task list read (it names patients by id) and flag overdue tasks."""
    audit.record("list", "task", actor=actor,
                 details={"task_ids": [t.id for t in tasks],
                          "patient_ids": sorted({t.patient_id for t in tasks if t.patient_id})})
    return _mark_overdue(tasks)


def create_task(actor: User, patient_id: int, data: dict) -> Task:
    """A task about a patient; a coach assigns it to themselves, a supervisor to any active staff."""
    patient = get_patient_for(actor, patient_id)
    assignee_id = data.pop("assignee_id", None) or actor.id
    if assignee_id != actor.id:
        if actor.role == Role.COACH:
            raise ForbiddenError("forbidden", "A coach can only create tasks for themselves.",
                           errors={"assignee_id": ["Must be your own id or left out."]})
        assignee = db.session.get(User, assignee_id)
        if assignee is None or assignee.program_id != actor.program_id or not assignee.active:
            raise field_error("assignee_id", "Not an active member of your programme.")
    task = Task(program_id=actor.program_id, patient_id=patient.id, assignee_id=assignee_id,
                created_by_id=actor.id, **data)
    db.session.add(task)
    db.session.flush()
    audit.record("create", "task", actor=actor, patient_id=patient.id, resource_id=task.id)
    return _mark_overdue([task])[0]


def get_task_for(actor: User, task_id: int) -> Task:
    """A task the actor may act on: their own, or any in the programme for supervisors and admins."""
    task = db.session.get(Task, task_id)
    if task is None or task.program_id != actor.program_id:
        raise not_found("task")
    if task.assignee_id != actor.id and actor.role == Role.COACH:
        raise not_found("task")
    return task


def update_task(actor: User, task_id: int, changes: dict) -> Task:
    """Complete, cancel, reopen or reschedule a task."""
    task = get_task_for(actor, task_id)
    new_status = changes.get("status")
    if new_status is not None and new_status != task.status:
        done = new_status == TaskStatus.DONE
        task.completed_at = utcnow() if done else None
        task.completed_by_id = actor.id if done else None
    for field, value in changes.items():
        setattr(task, field, value)
    db.session.flush()
    audit.record("update", "task", actor=actor, patient_id=task.patient_id, resource_id=task.id,
                 details={"fields": sorted(changes)})
    return _mark_overdue([task])[0]
