"""Every API error is JSON of one shape; bad input changes nothing."""

from __future__ import annotations

from werkzeug.exceptions import InternalServerError


def assert_error_shape(response, status, code=None):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert {"error", "message"} <= set(response.json)
    assert set(response.json) <= {"error", "message", "errors", "current_etag"}
    if code:
        assert response.json["error"] == code
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "<html" not in text.lower()


def test_unknown_api_path_is_json_404(coach_api):
    assert_error_shape(coach_api.get("/api/v1/nothing-here"), 404, "not_found")


def test_wrong_method_is_json_405(coach_api):
    response = coach_api.delete("/api/v1/patients")
    assert_error_shape(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_body_over_one_mebibyte_is_413(coach_api):
    response = coach_api.post("/api/v1/patients", data=b'{"note": "' + b"x" * (1024 * 1024) + b'"}',
                              content_type="application/json")
    assert_error_shape(response, 413, "payload_too_large")


def test_non_json_body_is_415(coach_api):
    response = coach_api.post("/api/v1/patients", data="first_name=A", content_type="application/x-www-form-urlencoded")
    assert_error_shape(response, 415, "unsupported_media_type")


def test_malformed_json_is_400(coach_api):
    response = coach_api.post("/api/v1/patients", data="{not json", content_type="application/json")
    assert_error_shape(response, 400, "bad_request")


def test_unknown_query_field_is_named(coach_api):
    response = coach_api.get("/api/v1/me/tasks?colour=blue")
    assert_error_shape(response, 422, "validation_error")
    assert response.json["errors"] == {"colour": ["Unknown field."]}


def test_unexpected_failure_is_json_500_without_details(app, coach_api, monkeypatch):
    from backend.patients import service

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals: Rosa Delgado +13125550142")

    monkeypatch.setattr(service, "read_patient", explode)
    response = coach_api.get("/api/v1/patients/1")
    assert_error_shape(response, 500, "internal_error")
    assert "Rosa" not in response.get_data(as_text=True)


def test_http_500_raised_explicitly_is_json(app, coach_api, monkeypatch):
    from backend.patients import service

    def explode(*args, **kwargs):
        raise InternalServerError()

    monkeypatch.setattr(service, "read_patient", explode)
    assert_error_shape(coach_api.get("/api/v1/patients/1"), 500, "internal_error")


def test_responses_carry_request_id_and_no_store(coach_api):
    response = coach_api.get("/api/v1/me", headers={"X-Request-ID": "abc12345-trace"})
    assert response.headers["X-Request-ID"] == "abc12345-trace"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
