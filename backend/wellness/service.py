"""Wellness rules: check-ins (coach and their supervisor only), supervision sessions, weekly reminders."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from backend.audit import service as audit
from backend.common.errors import ForbiddenError, InvalidError, not_found
from backend.database import db, utcnow
from backend.tasks.models import Task, TaskKind, TaskStatus
from backend.tasks.service import open_system_task, supervisor_of
from backend.users.models import Role, User
from backend.users.service import get_user_in_program, require_role
from backend.wellness.models import SupervisionSession, WellnessCheckIn


def submit_check_in(actor: User, data: dict) -> WellnessCheckIn:
    """Record the coach's check-in, close their check-in task, and ask their supervisor to call if wanted."""
    if actor.role != Role.COACH:
        raise ForbiddenError("forbidden", "Check-ins are for coaches.")
    check_in = WellnessCheckIn(program_id=actor.program_id, coach_id=actor.id, **data)
    db.session.add(check_in)
    now = utcnow()
    db.session.execute(sa.update(Task).where(
        Task.assignee_id == actor.id, Task.kind == TaskKind.WELLNESS_CHECK_IN, Task.status == TaskStatus.OPEN)
        .values(status=TaskStatus.DONE, completed_at=now, completed_by_id=actor.id, version=Task.version + 1))
    if check_in.wants_supervisor_contact:
        supervisor = supervisor_of(actor)
        # The task names the coach, never what they wrote.
        open_system_task(actor.program_id, supervisor.id if supervisor else None, TaskKind.REVIEW,
                         f"{actor.full_name} asked you to get in touch", timedelta(hours=24), created_by_id=actor.id)
    db.session.flush()
    audit.record("create", "wellness_check_in", actor=actor, resource_id=check_in.id)
    return check_in


def my_check_ins(actor: User) -> sa.Select:
    return (sa.select(WellnessCheckIn).where(WellnessCheckIn.coach_id == actor.id)
            .order_by(WellnessCheckIn.created_at.desc(), WellnessCheckIn.id.desc()))


def reads_check_ins(actor: User, coach: User) -> bool:
    """A check-in is for the coach and their own supervisor only."""
    return coach.supervisor_id == actor.id


def coach_check_ins(actor: User, coach_id: int) -> sa.Select:
    """A coach's check-ins, for their own supervisor only (404 for anyone else)."""
    coach = get_user_in_program(actor, coach_id)
    if not reads_check_ins(actor, coach):
        raise not_found("coach")
    audit.record("list", "wellness_check_in", actor=actor, resource_id=coach.id)
    return my_check_ins(coach)


def recent_check_ins(actor: User, coach_id: int, limit: int = 26) -> list[WellnessCheckIn] | None:
    """The coach's latest check-ins, oldest first, for their own supervisor; None for anyone else (nothing read)."""
    coach = get_user_in_program(actor, coach_id)
    if not reads_check_ins(actor, coach):
        return None
    return list(reversed(db.session.scalars(coach_check_ins(actor, coach_id).limit(limit)).all()))


def _coach_for_supervision(actor: User, coach_id: int) -> User:
    require_role(actor, Role.SUPERVISOR)
    coach = get_user_in_program(actor, coach_id)
    if coach.role != Role.COACH:
        raise not_found("coach")
    return coach


def record_supervision(actor: User, coach_id: int, data: dict) -> SupervisionSession:
    """A supervisor records a supervision session with a coach."""
    coach = _coach_for_supervision(actor, coach_id)
    if data["held_at"] > utcnow() + timedelta(minutes=5):
        raise InvalidError("validation_error", "A session cannot be in the future.",
                       errors={"held_at": ["Must not be in the future."]})
    session = SupervisionSession(program_id=actor.program_id, coach_id=coach.id, supervisor_id=actor.id, **data)
    db.session.add(session)
    db.session.flush()
    audit.record("create", "supervision_session", actor=actor, resource_id=session.id)
    return session


def supervision_sessions(actor: User, coach_id: int) -> sa.Select:
    coach = _coach_for_supervision(actor, coach_id)
    audit.record("list", "supervision_session", actor=actor, resource_id=coach.id)
    return (sa.select(SupervisionSession).where(SupervisionSession.coach_id == coach.id)
            .order_by(SupervisionSession.held_at.desc(), SupervisionSession.id.desc()))


def create_weekly_check_in_tasks() -> int:
    """Give every active coach without an open check-in task a new one; returns how many."""
    pending = sa.select(Task.assignee_id).where(Task.kind == TaskKind.WELLNESS_CHECK_IN,
                                                Task.status == TaskStatus.OPEN)
    coaches = list(db.session.scalars(sa.select(User).where(
        User.role == Role.COACH, User.active.is_(True), User.id.not_in(pending))))
    for coach in coaches:
        open_system_task(coach.program_id, coach.id, TaskKind.WELLNESS_CHECK_IN,
                         "Weekly wellness check-in: how are you doing?", timedelta(days=3))
    return len(coaches)
