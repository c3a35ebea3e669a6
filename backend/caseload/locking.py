"""Serialise changes to a coach's caseload so that caps hold under concurrency."""

from __future__ import annotations

import sqlalchemy as sa

from backend.database import db, take_sqlite_write_lock
from backend.users.models import Role, User


def lock_coaches(coach_ids: list[int]) -> None:
    """Lock the coaches' rows until commit, before their load is read.

    PostgreSQL: SELECT … FOR NO KEY UPDATE, in id order so two lockers never deadlock
    (NO KEY: inserts that merely reference the coach, like a logged contact, are not blocked).
    SQLite: take the database write lock first (BEGIN IMMEDIATE); the load read
    after it cannot be changed by anyone else before this transaction ends.
    """
    if take_sqlite_write_lock():
        return
    if coach_ids:
        db.session.execute(
            sa.select(User.id).where(User.id.in_(sorted(set(coach_ids)))).order_by(User.id)
            .with_for_update(key_share=True)
        )


def lock_on_shift_coaches(program_id: int) -> list[User]:
    """The programme's on-shift coaches, read under the same lock, so nobody leaves shift unseen."""
    stmt = (sa.select(User).where(User.program_id == program_id, User.role == Role.COACH, User.active.is_(True),
                                  User.on_shift.is_(True)).order_by(User.id)
            .execution_options(populate_existing=True))
    if take_sqlite_write_lock():
        return list(db.session.scalars(stmt))
    return list(db.session.scalars(stmt.with_for_update(key_share=True)))
