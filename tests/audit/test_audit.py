"""Every read and write of patient data, and every refused attempt, leaves an audit event."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.database import db


def events(app, **where):
    with app.app_context():
        stmt = sa.select(AuditEvent).order_by(AuditEvent.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(AuditEvent, key) == value)
        return list(db.session.scalars(stmt))


def test_read_is_audited_with_who_and_where(app, coach_api, factory, coach):
    patient = factory.patient(coach)
    coach_api.get(f"/api/v1/patients/{patient.id}", headers={"User-Agent": "BridgelineApp/1.0",
                                                              "X-Request-ID": "req-abcdef12"})
    (event,) = events(app, action="read", resource="patient")
    assert event.user_id == coach.id and event.role == "coach" and event.program_id == coach.program_id
    assert event.patient_id == patient.id and event.outcome == "success"
    assert event.remote_addr == "127.0.0.1" and event.user_agent == "BridgelineApp/1.0"
    assert event.request_id == "req-abcdef12"
    assert event.occurred_at.tzinfo is not None


def test_write_is_audited_in_the_same_transaction(app, coach_api):
    pid = coach_api.post("/api/v1/patients", json={"first_name": "A", "last_name": "B", "source": "ed"}).json["id"]
    coach_api.patch(f"/api/v1/patients/{pid}", json={"acuity": "high"})
    assert [e.action for e in events(app, patient_id=pid)] == ["create", "assign", "update"]
    assert events(app, action="update")[0].details == {"fields": ["acuity"]}


def test_list_read_names_the_patients_shown(app, coach_api, factory, coach):
    shown = [factory.patient(coach).id for _ in range(3)]
    coach_api.get("/api/v1/patients?q=Pat")
    (event,) = events(app, action="list", resource="patient")
    assert sorted(event.details["patient_ids"]) == sorted(shown)
    assert event.details["filters"] == ["q"]  # the filter's name, never the searched text


def test_refused_read_is_audited(app, login, factory, coach, other_coach):
    theirs = factory.patient(other_coach)
    assert login(coach).get(f"/api/v1/patients/{theirs.id}").status_code == 404
    (event,) = events(app, action="read", resource="patient")
    assert event.user_id == coach.id and event.patient_id == theirs.id and event.outcome == "not_found"


def test_refused_write_is_audited_and_changes_nothing(app, coach_api, factory, coach):
    patient = factory.patient(coach)
    response = coach_api.patch(f"/api/v1/patients/{patient.id}", json={"phone": "not a phone"})
    assert response.status_code == 422
    (event,) = events(app, action="update", resource="patient")
    assert event.outcome == "validation_error" and event.patient_id == patient.id
    assert coach_api.get(f"/api/v1/patients/{patient.id}").json["phone"] == patient.phone


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET outcome = 'tampered'", "DELETE FROM audit_events"])
def test_database_refuses_to_change_audit_events(app, coach_api, factory, coach, statement):
    coach_api.get(f"/api/v1/patients/{factory.patient(coach).id}")
    with app.app_context(), pytest.raises(sa.exc.DatabaseError), db.engine.begin() as conn:
        conn.execute(sa.text(statement))
    assert [e.outcome for e in events(app, action="read")] == ["success"]


def test_admin_reads_the_audit_log_and_coach_cannot(app, admin_api, coach_api, factory, coach):
    patient = factory.patient(coach)
    coach_api.get(f"/api/v1/patients/{patient.id}")
    log = admin_api.get(f"/api/v1/audit-events?patient_id={patient.id}")
    assert log.status_code == 200
    assert [e["action"] for e in log.json] == ["read"]
    refused = coach_api.get("/api/v1/audit-events")
    assert refused.status_code == 403
    assert events(app, resource="audit_event", outcome="forbidden")


def test_an_idempotent_replay_is_audited_like_the_first_answer(app, coach_api, factory, coach):
    patient = factory.patient(coach)
    body, key = {"kind": "phone"}, {"Idempotency-Key": "replay-audit-0001"}
    first = coach_api.post(f"/api/v1/patients/{patient.id}/contacts", json=body, headers=key)
    again = coach_api.post(f"/api/v1/patients/{patient.id}/contacts", json=body, headers=key)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == first.json
    assert [e.outcome for e in events(app, patient_id=patient.id, resource="contact")] == ["success", "replayed"]


def test_a_no_op_assignment_is_audited(app, coach_api, factory, coach):
    patient = factory.patient(coach)
    response = coach_api.post(f"/api/v1/patients/{patient.id}/assignment", json={"coach_id": coach.id})
    assert response.status_code == 200 and response.json["coach_id"] == coach.id
    assert [e.outcome for e in events(app, patient_id=patient.id, action="assign")] == ["unchanged"]


def test_refused_authentication_on_patient_routes_is_audited_with_the_address(app, client, factory, coach):
    patient = factory.patient(coach)
    response = client.get(f"/api/v1/patients/{patient.id}", headers={"Authorization": "Bearer stolen.or.forged"},
                          environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 401
    (event,) = events(app, action="access")
    assert (event.outcome, event.resource_id, event.remote_addr, event.user_id) == (
        "unauthenticated", str(patient.id), "203.0.113.9", None)
    assert client.get("/api/v1/me").status_code == 401 and len(events(app, action="access")) == 1  # not a patient


def test_the_access_log_names_the_client_address(client, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="bridgeline.access")
    client.get("/healthz", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert "client=203.0.113.7" in caplog.text
