"""Shift rules: go on and off shift; close shifts left open too long."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from backend.audit import service as audit
from backend.database import db, utcnow
from backend.programs.policies import policy_for
from backend.shifts.models import Shift
from backend.tasks.models import TaskKind
from backend.tasks.service import open_system_task
from backend.users.models import User


def open_shift(coach_id: int) -> Shift | None:
    return db.session.scalar(sa.select(Shift).where(Shift.coach_id == coach_id, Shift.ended_at.is_(None))
                             .order_by(Shift.started_at.desc()).limit(1))


def current_shift(actor: User) -> dict:
    shift = open_shift(actor.id)
    return {"on_shift": actor.on_shift, "started_at": shift.started_at if shift else None,
            "max_hours": policy_for(actor.program_id).max_shift_hours}


def set_shift(actor: User, on_shift: bool) -> dict:
    """Start or end the caller's shift (repeating the same state changes nothing)."""
    shift = open_shift(actor.id)
    if on_shift and shift is None:
        db.session.add(Shift(program_id=actor.program_id, coach_id=actor.id))
    elif not on_shift and shift is not None:
        shift.ended_at = utcnow()
        shift.ended_reason = "ended"
    if actor.on_shift != on_shift:
        actor.on_shift = on_shift
        audit.record("start" if on_shift else "end", "shift", actor=actor, resource_id=actor.id)
    db.session.flush()
    return current_shift(actor)


def close_stale_shifts(now: datetime | None = None) -> int:
    """Close shifts open longer than the programme allows, and tell the coach; returns how many."""
    now = now or utcnow()
    closed = 0
    for shift, coach in db.session.execute(
            sa.select(Shift, User).join(User, User.id == Shift.coach_id).where(Shift.ended_at.is_(None))).all():
        max_hours = policy_for(shift.program_id).max_shift_hours
        if shift.started_at > now - timedelta(hours=max_hours):
            continue
        shift.ended_at = shift.started_at + timedelta(hours=max_hours)
        shift.ended_reason = "auto_closed"
        coach.on_shift = False
        open_system_task(shift.program_id, coach.id, TaskKind.OTHER,
                         f"Your shift was closed automatically after {max_hours} hours. "
                         "Go on shift again if you are still working.", timedelta(0))
        audit.record("auto_close", "shift", actor=None, resource_id=shift.id, program_id=shift.program_id)
        closed += 1
    return closed
