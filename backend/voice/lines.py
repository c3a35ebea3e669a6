"""Each coach's line: taking calls or on a break, and the one call that holds them (ringing or connected).

The reservation is a conditional UPDATE (`busy_call_id IS NULL`), atomic on PostgreSQL and SQLite alike: of
twenty callers racing for five coaches, each coach is won by one caller, never two.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from backend.database import db, utcnow
from backend.users.models import Role, User
from backend.voice.models import Call, CallLeg, LegOutcome, LineState


def ensure_lines(users: list[User]) -> None:
    """Give each coach a line row (taking calls) if they have none yet; concurrent callers may both try."""
    if not users:
        return
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(insert(LineState).values(
        [{"user_id": u.id, "program_id": u.program_id, "taking_calls": True} for u in users]
    ).on_conflict_do_nothing(index_elements=["user_id"]))


def reserve(coach: User, call_id: int) -> bool:
    """Hold the coach for this call if they are free and taking calls; False if someone else has them."""
    ensure_lines([coach])
    user_id = coach.id
    result = db.session.execute(
        sa.update(LineState).where(LineState.user_id == user_id, LineState.busy_call_id.is_(None),
                                   LineState.taking_calls.is_(True))
        .values(busy_call_id=call_id, busy_since=utcnow()).execution_options(synchronize_session=False))
    return result.rowcount == 1


def release(user_id: int, call_id: int) -> None:
    """Free the coach, if this call is what holds them."""
    db.session.execute(
        sa.update(LineState).where(LineState.user_id == user_id, LineState.busy_call_id == call_id)
        .values(busy_call_id=None, busy_since=None).execution_options(synchronize_session=False))


def release_all(call_id: int) -> None:
    """Free everyone the call holds (it ended)."""
    db.session.execute(
        sa.update(LineState).where(LineState.busy_call_id == call_id)
        .values(busy_call_id=None, busy_since=None).execution_options(synchronize_session=False))


def free_on_shift_coaches(program_id: int, exclude: set[int]) -> list[User]:
    """On-shift coaches with a phone who take calls and are on no call now (before anyone is reserved).

    A coach without a line row yet is free and taking calls: rows are made one at a time, for the coach about to
    be reserved, so an inbound call never writes (and waits on) every on-shift coach's row.
    """
    coaches = list(db.session.scalars(
        sa.select(User).where(User.program_id == program_id, User.role == Role.COACH, User.active.is_(True),
                              User.on_shift.is_(True), User.phone.is_not(None))
        .order_by(User.id)))
    busy_or_away = set(db.session.scalars(
        sa.select(LineState.user_id).where(LineState.program_id == program_id,
                                           sa.or_(LineState.busy_call_id.is_not(None),
                                                  LineState.taking_calls.is_(False)))))
    return [c for c in coaches if c.id not in busy_or_away and c.id not in exclude]


def set_taking_calls(coach: User, taking: bool) -> LineState:
    """A break without ending the shift (or back from one); a coach on a call stays on it."""
    ensure_lines([coach])
    line = db.session.get(LineState, coach.id, populate_existing=True)
    line.taking_calls = taking
    db.session.flush()
    return line


def line_of(coach: User) -> LineState:
    """The coach's line row (created on first look)."""
    ensure_lines([coach])
    return db.session.get(LineState, coach.id, populate_existing=True)


def answered_today(user_ids: list[int], since: datetime) -> dict[int, int]:
    """How many calls each coach has taken since `since` (the tie-break after utilisation)."""
    if not user_ids:
        return {}
    return dict(db.session.execute(
        sa.select(CallLeg.user_id, sa.func.count()).join(Call, Call.id == CallLeg.call_id)
        .where(CallLeg.user_id.in_(user_ids), CallLeg.outcome == LegOutcome.ACCEPTED, Call.started_at >= since)
        .group_by(CallLeg.user_id)).all())
