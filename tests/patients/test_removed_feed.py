"""Offline sync: a coach's device learns which patients left its caseload, so it never keeps one it may not see."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.database import db, utcnow


def reassign(supervisor_api, patient_id: int, coach_id: int) -> None:
    response = supervisor_api.post(f"/api/v1/patients/{patient_id}/assignment",
                                   json={"coach_id": coach_id})
    assert response.status_code == 200, response.json


def test_a_reassigned_patient_is_reported_to_the_coach_who_lost_it(app, coach, other_coach, coach_api, login,
                                                                   supervisor_api, factory):
    moved, kept = factory.patient(coach), factory.patient(coach)
    since = (utcnow() - timedelta(seconds=1)).isoformat()
    reassign(supervisor_api, moved.id, other_coach.id)
    removed = coach_api.get("/api/v1/patients/removed", query_string={"since": since})
    assert removed.status_code == 200 and [r["id"] for r in removed.json] == [moved.id]
    assert removed.json[0]["removed_at"].endswith("Z") or "+00:00" in removed.json[0]["removed_at"]
    assert coach_api.get(f"/api/v1/patients/{moved.id}").status_code == 404  # and it is gone from their scope
    assert login(other_coach).get("/api/v1/patients/removed", query_string={"since": since}).json == []
    assert supervisor_api.get("/api/v1/patients/removed", query_string={"since": since}).json == []
    later = removed.json[0]["removed_at"]
    assert coach_api.get("/api/v1/patients/removed", query_string={"since": later}).json == []
    assert kept.id not in [r["id"] for r in removed.json]
    with app.app_context():  # the read is audited, with ids only
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.resource == "removed_patient")
                                    .order_by(AuditEvent.id)).all()
        assert len(events) == 4 and events[0].user_id == coach.id and events[0].details["patient_ids"] == [moved.id]


def test_a_patient_reassigned_back_is_not_reported(coach, other_coach, coach_api, supervisor_api, factory):
    patient = factory.patient(coach)
    since = (utcnow() - timedelta(seconds=1)).isoformat()
    reassign(supervisor_api, patient.id, other_coach.id)
    reassign(supervisor_api, patient.id, coach.id)
    assert coach_api.get("/api/v1/patients/removed", query_string={"since": since}).json == []
    synced = coach_api.get("/api/v1/patients", query_string={"updated_since": since}).json
    assert [p["id"] for p in synced] == [patient.id]  # the ordinary delta sync brings it back


def test_since_is_required(coach_api):
    response = coach_api.get("/api/v1/patients/removed")
    assert response.status_code == 422 and "since" in response.json["errors"]
