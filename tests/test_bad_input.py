"""Bad input gets a clear 4xx naming the field and changes nothing: never a 500 (on SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa

from backend.database import db
from backend.patients.models import Patient

NEW_PATIENT = {"first_name": "Ana", "last_name": "Reyes", "source": "ed"}


def patient_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Patient))


def test_a_nul_character_is_refused_naming_the_field_and_nothing_is_written(app, coach_api, client):
    response = coach_api.post("/api/v1/patients", json={**NEW_PATIENT, "first_name": "A\x00na"})
    assert response.status_code == 422 and "first_name" in response.json["errors"]
    assert patient_count(app) == 0
    search = coach_api.get("/api/v1/patients?q=Ana%00")
    assert search.status_code == 422 and "q" in search.json["errors"]
    login = client.post("/api/v1/auth/login", json={"email": "coach\x00@example.test", "password": "x" * 12})
    assert login.status_code == 422 and "email" in login.json["errors"]


def test_ids_no_column_can_hold_are_not_found_in_paths_and_invalid_in_bodies(coach_api, supervisor_api):
    for path in ("/api/v1/patients/2147483648", "/api/v1/patients/99999999999999999999999/timeline",
                 "/api/v1/tasks/2147483648"):
        response = coach_api.get(path) if "tasks" not in path else coach_api.patch(path, json={"status": "done"})
        assert response.status_code == 404, path
    response = supervisor_api.post("/api/v1/patients", json={**NEW_PATIENT, "coach_id": 2**31})
    assert response.status_code == 422 and "coach_id" in response.json["errors"]
    filtered = supervisor_api.get(f"/api/v1/patients?coach_id={2**63}")
    assert filtered.status_code == 422 and "coach_id" in filtered.json["errors"]


def test_page_numbers_are_bounded(coach_api):
    response = coach_api.get("/api/v1/patients?page=1000000000000")
    assert response.status_code == 422 and "page" in response.json["errors"]


def test_json_nested_thousands_deep_is_refused(app, coach_api):
    deep = "[" * 5000 + "]" * 5000
    response = coach_api.post("/api/v1/patients", data=deep, content_type="application/json")
    assert response.status_code in (400, 422) and "error" in response.json
    assert patient_count(app) == 0


def test_datetimes_at_the_edge_of_the_calendar_are_refused(coach_api, factory, coach):
    patient = factory.patient(coach)
    for value in ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "1800-01-01T00:00:00Z"):
        response = coach_api.post(f"/api/v1/patients/{patient.id}/contacts",
                                  json={"kind": "phone", "occurred_at": value})
        assert response.status_code == 422 and "occurred_at" in response.json["errors"], value


def test_an_over_long_language_code_is_refused(app, coach_api):
    response = coach_api.post("/api/v1/patients", json={**NEW_PATIENT, "language": "x" * 40})
    assert response.status_code == 422 and "language" in response.json["errors"]
    assert patient_count(app) == 0
