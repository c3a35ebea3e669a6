"""Ended sessions are kept 30 days for investigations, then the daily job deletes them."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from backend.auth.models import AuthSession
from backend.database import db, utcnow
from backend.jobs.registry import JOBS
from backend.jobs.runner import run_job


def test_sessions_ended_over_30_days_ago_are_deleted(app, login, coach, supervisor, admin_user):
    login(coach)
    login(supervisor)
    login(admin_user)
    with app.app_context():
        db.session.execute(sa.update(AuthSession).where(AuthSession.user_id == admin_user.id)
                           .values(revoked_at=utcnow() - timedelta(days=31)))  # logged out long ago
        db.session.execute(sa.update(AuthSession).where(AuthSession.user_id == coach.id)
                           .values(expires_at=utcnow() - timedelta(days=31)))
        db.session.execute(sa.update(AuthSession).where(AuthSession.user_id == supervisor.id)
                           .values(expires_at=utcnow() - timedelta(days=29)))
        db.session.commit()
    job = next(job for job in JOBS if job.name == "purge_ended_sessions")
    assert run_job(app, job) == 2
    with app.app_context():
        assert db.session.scalars(sa.select(AuthSession.user_id)).all() == [supervisor.id]
