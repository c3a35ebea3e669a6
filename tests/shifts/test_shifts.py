"""Going on and off shift; shifts left open too long are closed by the job."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from backend.database import db, utcnow
from backend.shifts.models import Shift
from backend.tasks.models import Task
from backend.users.models import User
from tests.conftest import run_named_job


def test_go_on_and_off_shift(coach_api):
    assert coach_api.get("/api/v1/me/shift").json == {"on_shift": False, "started_at": None, "max_hours": 12}
    on = coach_api.put("/api/v1/me/shift", json={"on_shift": True}).json
    assert on["on_shift"] is True and on["started_at"] is not None
    again = coach_api.put("/api/v1/me/shift", json={"on_shift": True}).json
    assert again["started_at"] == on["started_at"]  # still the same shift
    off = coach_api.put("/api/v1/me/shift", json={"on_shift": False}).json
    assert off == {"on_shift": False, "started_at": None, "max_hours": 12}


def test_shift_body_is_validated(coach_api):
    response = coach_api.put("/api/v1/me/shift", json={"on_shift": "maybe"})
    assert response.status_code == 422 and "on_shift" in response.json["errors"]


def test_stale_shift_is_closed_and_noted(app, coach_api, coach):
    coach_api.put("/api/v1/me/shift", json={"on_shift": True})
    with app.app_context():
        db.session.execute(sa.update(Shift).values(started_at=utcnow() - timedelta(hours=13)))
        db.session.commit()
    assert run_named_job(app, "close_stale_shifts") == 1
    assert run_named_job(app, "close_stale_shifts") == 0
    with app.app_context():
        shift = db.session.scalar(sa.select(Shift))
        assert shift.ended_reason == "auto_closed"
        assert shift.ended_at - shift.started_at == timedelta(hours=12)
        assert db.session.get(User, coach.id).on_shift is False
        note = db.session.scalar(sa.select(Task).where(Task.assignee_id == coach.id))
        assert "closed automatically after 12 hours" in note.title


def test_recent_shift_stays_open(app, coach_api):
    coach_api.put("/api/v1/me/shift", json={"on_shift": True})
    assert run_named_job(app, "close_stale_shifts") == 0
