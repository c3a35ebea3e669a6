"""Logging contacts in seconds, reading them back."""

from __future__ import annotations

from datetime import timedelta

from backend.database import utcnow


def test_log_a_contact_with_defaults(coach_api, factory, coach):
    patient = factory.patient(coach)
    response = coach_api.post(f"/api/v1/patients/{patient.id}/contacts", json={"kind": "ed_visit"})
    assert response.status_code == 201
    body = response.json
    assert body["direction"] == "outbound" and body["outcome"] == "reached"
    assert body["coach_id"] == coach.id and body["patient_id"] == patient.id
    assert body["occurred_at"].endswith("+00:00")


def test_contacts_list_newest_first(coach_api, factory, coach):
    patient = factory.patient(coach)
    now = utcnow()
    for days in (3, 1, 2):
        coach_api.post(f"/api/v1/patients/{patient.id}/contacts", json={
            "kind": "phone", "direction": "inbound", "occurred_at": (now - timedelta(days=days)).isoformat(),
            "duration_minutes": 12, "outcome": "reached", "note": f"{days} days ago"})
    notes = [c["note"] for c in coach_api.get(f"/api/v1/patients/{patient.id}/contacts").json]
    assert notes == ["1 days ago", "2 days ago", "3 days ago"]
    sms_only = coach_api.get(f"/api/v1/patients/{patient.id}/contacts?kind=sms").json
    assert sms_only == []


def test_bad_contacts_are_refused_and_not_saved(coach_api, factory, coach):
    patient = factory.patient(coach)
    future = (utcnow() + timedelta(hours=2)).isoformat()
    cases = [
        ({"kind": "pigeon"}, "kind"),
        ({"kind": "phone", "duration_minutes": -1}, "duration_minutes"),
        ({"kind": "phone", "occurred_at": future}, "occurred_at"),
        ({"kind": "phone", "outcome": "great"}, "outcome"),
        ({"kind": "phone", "coach_id": 99}, "coach_id"),
    ]
    for body, field in cases:
        response = coach_api.post(f"/api/v1/patients/{patient.id}/contacts", json=body)
        assert response.status_code == 422, body
        assert field in response.json["errors"], body
    assert coach_api.get(f"/api/v1/patients/{patient.id}/contacts").json == []


def test_offline_retry_of_a_contact_is_idempotent(coach_api, factory, coach):
    patient = factory.patient(coach)
    body = {"kind": "phone", "occurred_at": "2026-01-05T03:12:00Z"}
    headers = {"Idempotency-Key": "contact-offline-1"}
    first = coach_api.post(f"/api/v1/patients/{patient.id}/contacts", json=body, headers=headers)
    second = coach_api.post(f"/api/v1/patients/{patient.id}/contacts", json=body, headers=headers)
    assert first.json == second.json
    assert len(coach_api.get(f"/api/v1/patients/{patient.id}/contacts").json) == 1
