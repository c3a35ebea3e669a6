"""Serialise changes to a coach's caseload so that caps hold under concurrency."""

from __future__ import annotations

import sqlalchemy as sa

from backend.database import db
from backend.users.models import User


def lock_coaches(coach_ids: list[int]) -> None:
    """Lock the coaches' rows until commit, before their load is read.

    PostgreSQL: SELECT … FOR UPDATE, in id order so two lockers never deadlock.
    SQLite: take the database write lock first (BEGIN IMMEDIATE); the load read
    after it cannot be changed by anyone else before this transaction ends.
    """
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if not raw.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        return
    if coach_ids:
        db.session.execute(
            sa.select(User.id).where(User.id.in_(sorted(set(coach_ids)))).order_by(User.id).with_for_update()
        )
