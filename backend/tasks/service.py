"""Task rules: create for a patient, list my tasks, complete, reschedule or reassign; overdue tasks escalate."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from backend.audit import service as audit
from backend.common.errors import ConflictError, ForbiddenError, field_error, not_found
from backend.database import db, utcnow
from backend.patients.access import get_patient_for
from backend.patients.models import Patient
from backend.programs.models import Program
from backend.programs.policies import policy_for
from backend.tasks.models import Task, TaskKind, TaskStatus
from backend.users.models import Role, User
from backend.users.service import coach_in_program, get_user_in_program, require_role

# A coach's own wellness check-in is theirs to do: it never escalates to a supervisor.
NOT_ESCALATED = (TaskKind.WELLNESS_CHECK_IN,)
ESCALATION_DUE = timedelta(hours=4)


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
             patient_id: int | None = None, due: str | None = None) -> sa.Select:
    """The actor's tasks, soonest due first; `due` picks today's, the overdue or the upcoming ones."""
    stmt = sa.select(Task).where(Task.assignee_id == actor.id, Task.status.in_(status))
    if due_before is not None:
        stmt = stmt.where(Task.due_at < due_before)
    if due is not None:
        now = utcnow()
        local = now.astimezone(zoneinfo.ZoneInfo(actor.program.timezone))
        end_of_today = (local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)).astimezone(UTC)
        stmt = stmt.where({"today": Task.due_at < end_of_today, "overdue": Task.due_at < now,
                           "upcoming": Task.due_at >= end_of_today}[due])
    if patient_id is not None:
        stmt = stmt.where(Task.patient_id == patient_id)
    return stmt.order_by(Task.due_at, Task.id)


def audit_task_list(actor: User, tasks: list[Task]) -> list[Task]:
    """Audit a task list read (it names patients by id), flag overdue tasks and name each task's patient
    the way a list may ("Lucy G.": one query for the page)."""
    patient_ids = sorted({t.patient_id for t in tasks if t.patient_id})
    audit.record("list", "task", actor=actor, details={"task_ids": [t.id for t in tasks], "patient_ids": patient_ids})
    names = {row.id: f"{row.preferred_name or row.first_name} {row.last_name[:1]}."
             for row in db.session.execute(sa.select(Patient.id, Patient.preferred_name, Patient.first_name,
                                                     Patient.last_name).where(Patient.id.in_(patient_ids)))
             } if patient_ids else {}
    for task in tasks:
        task.patient_name = names.get(task.patient_id)
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


def reassign_task(actor: User, task_id: int, assignee_id: int) -> Task:
    """A supervisor gives an open task of their programme to another active coach."""
    require_role(actor, Role.SUPERVISOR)
    task = get_task_for(actor, task_id)
    if task.status != TaskStatus.OPEN:
        raise ConflictError("task_not_open", "Only an open task can be given to someone else.")
    coach = coach_in_program(actor, assignee_id, field="assignee_id")
    previous = task.assignee_id
    task.assignee_id = coach.id
    db.session.flush()
    audit.record("reassign", "task", actor=actor, patient_id=task.patient_id, resource_id=task.id,
                 outcome="success" if previous != coach.id else "unchanged",
                 details={"from": previous, "to": coach.id})
    return _mark_overdue([task])[0]


def _with_people(stmt: sa.Select) -> list[dict]:
    rows = db.session.execute(stmt).all()
    _mark_overdue([row[0] for row in rows])
    return [{"task": task, "assignee": assignee, "patient": patient, "escalated_to_id": escalated_to}
            for task, assignee, patient, escalated_to in rows]


def _task_rows() -> sa.Select:
    escalation = aliased(Task)
    return (sa.select(Task, User, Patient, escalation.assignee_id).join(User, User.id == Task.assignee_id)
            .outerjoin(Patient, Patient.id == Task.patient_id)
            .outerjoin(escalation, escalation.id == Task.escalation_task_id))


def overdue_tasks(actor: User, limit: int = 500) -> list[dict]:
    """Open tasks past due across the programme, oldest first, with holder, patient and escalation (supervisors)."""
    require_role(actor, Role.SUPERVISOR)
    rows = _with_people(_task_rows().where(Task.program_id == actor.program_id, Task.status == TaskStatus.OPEN,
                                           Task.due_at < utcnow()).order_by(Task.due_at, Task.id).limit(limit))
    audit_task_list(actor, [row["task"] for row in rows])
    return rows


def coach_open_tasks(actor: User, coach_id: int) -> list[dict]:
    """A staff member's open tasks, soonest due first, overdue flagged (supervisors and admins)."""
    require_role(actor, Role.SUPERVISOR, Role.ADMIN)
    holder = get_user_in_program(actor, coach_id)
    rows = _with_people(_task_rows().where(Task.assignee_id == holder.id, Task.status == TaskStatus.OPEN)
                        .order_by(Task.due_at, Task.id))
    audit_task_list(actor, [row["task"] for row in rows])
    return rows


def _escalation_title(coach: User, task: Task) -> str:
    return f"Overdue follow-up of {coach.full_name}: {task.title}"[:200]


def escalate_overdue_tasks(now: datetime | None = None) -> int:
    """Give the supervisor a review task for each coach's task overdue past the programme's time, once per task."""
    now = now or utcnow()
    escalated = 0
    for program_id in list(db.session.scalars(sa.select(Program.id).order_by(Program.id))):
        cutoff = now - timedelta(hours=policy_for(program_id).escalate_overdue_after_hours)
        late = db.session.execute(
            sa.select(Task, User).join(User, User.id == Task.assignee_id)
            .where(Task.program_id == program_id, Task.status == TaskStatus.OPEN, Task.due_at < cutoff,
                   Task.escalated_at.is_(None), Task.kind.not_in(NOT_ESCALATED), User.role == Role.COACH)
            .order_by(Task.due_at, Task.id)).all()
        for task, coach in late:
            supervisor = supervisor_of(coach)
            review = open_system_task(program_id, supervisor.id if supervisor else None, TaskKind.REVIEW,
                                      _escalation_title(coach, task), ESCALATION_DUE, patient_id=task.patient_id)
            if review is None:  # nobody to escalate to yet: the next run tries again
                continue
            db.session.flush()
            # Core UPDATE: the coach's copy of the task keeps its version (escalating is not their edit).
            db.session.execute(sa.update(Task).where(Task.id == task.id)
                               .values(escalated_at=now, escalation_task_id=review.id))
            audit.record("escalate", "task", actor=None, program_id=program_id, patient_id=task.patient_id,
                         resource_id=task.id, details={"to": supervisor.id, "review_task_id": review.id})
            escalated += 1
    return escalated
