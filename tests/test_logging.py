"""Logs carry request id, route, status and duration, never names or phone numbers."""

from __future__ import annotations

import logging

PHONE_DIGITS = "3125550187"
NAME = "Zebediah"


def test_logs_never_contain_names_or_phone_numbers(caplog, coach_api, monkeypatch):
    caplog.set_level(logging.DEBUG)
    created = coach_api.post("/api/v1/patients", json={
        "first_name": NAME, "last_name": "Quarrington", "phone": f"({PHONE_DIGITS[:3]}) 555-0187", "source": "ed"})
    assert created.status_code == 201
    pid = created.json["id"]
    coach_api.get(f"/api/v1/patients?q={PHONE_DIGITS}")
    coach_api.get(f"/api/v1/patients?q={NAME}")
    coach_api.patch(f"/api/v1/patients/{pid}", json={"phone": "+1 312 555 01"})  # invalid: 422
    coach_api.post("/api/v1/patients", json={"first_name": NAME, "last_name": "X", "phone": "312-555-0187",
                                             "source": "nowhere"})  # 422 with the body echoed nowhere

    from backend.patients import service

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "read_patient", explode)
    coach_api.get(f"/api/v1/patients/{pid}")

    text = caplog.text
    assert "route=/api/v1/patients " in text and "status=201" in text and "duration_ms=" in text
    assert "status=500" in text
    for secret in (PHONE_DIGITS, "555-0187", "555 0187", NAME, "Quarrington"):
        assert secret not in text, secret


def test_access_log_carries_request_id(caplog, coach_api):
    caplog.set_level(logging.INFO, logger="bridgeline.access")
    coach_api.get("/api/v1/me", headers={"X-Request-ID": "trace-12345678"})
    (record,) = [r for r in caplog.records if r.name == "bridgeline.access" and "/api/v1/me" in r.getMessage()]
    from backend.observability import RequestIdFilter

    RequestIdFilter().filter(record)
    assert "method=GET route=/api/v1/me status=200" in record.getMessage()


def test_database_errors_hide_bound_parameters(app):
    with app.app_context():
        from backend.database import db

        assert db.engine.hide_parameters is True


def test_refused_requests_are_logged_with_their_request_id(caplog, client):
    caplog.set_level(logging.INFO, logger="bridgeline.access")
    response = client.get("/api/v1/patients", headers={"X-Request-ID": "unauth-1234567"})
    assert response.status_code == 401 and response.headers["X-Request-ID"] == "unauth-1234567"
    (record,) = [r for r in caplog.records if r.name == "bridgeline.access"]
    assert "status=401" in record.getMessage() and "duration_ms=-" not in record.getMessage()
