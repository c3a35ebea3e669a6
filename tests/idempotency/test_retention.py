"""Stored responses for Idempotency-Key retries hold patient data: the hourly job deletes them once expired."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from backend.database import db, utcnow
from backend.idempotency.models import IdempotencyRecord
from backend.jobs.registry import JOBS
from backend.jobs.runner import run_job
from tests.patients.test_patients_api import NEW_PATIENT


def stored_keys(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(sa.select(IdempotencyRecord.key)))


def test_expired_responses_are_purged_and_live_ones_kept(app, coach_api):
    for key in ("old-key", "new-key"):
        assert coach_api.post("/api/v1/patients", json={**NEW_PATIENT, "first_name": key},
                              headers={"Idempotency-Key": key}).status_code == 201
    with app.app_context():  # one response is past the key's 24 hours
        db.session.execute(sa.update(IdempotencyRecord).where(IdempotencyRecord.key == "old-key")
                           .values(created_at=utcnow() - app.config["IDEMPOTENCY_KEY_TTL"] - timedelta(minutes=1)))
        db.session.commit()
    job = next(job for job in JOBS if job.name == "purge_idempotency_records")
    assert run_job(app, job) == 1
    assert stored_keys(app) == ["new-key"]
    replay = coach_api.post("/api/v1/patients", json={**NEW_PATIENT, "first_name": "new-key"},
                            headers={"Idempotency-Key": "new-key"})
    assert replay.headers["Idempotent-Replayed"] == "true"  # a live key still replays
