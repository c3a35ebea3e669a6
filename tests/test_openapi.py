"""The API documents itself: OpenAPI 3 at /api/v1/openapi.json, Swagger UI at /api/docs."""

from __future__ import annotations


def test_openapi_document_lists_the_api(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/auth/login", "/api/v1/patients", "/api/v1/patients/{patient_id}",
                 "/api/v1/patients/{patient_id}/timeline", "/api/v1/patients/{patient_id}/contacts",
                 "/api/v1/me/tasks", "/api/v1/tasks/{task_id}", "/api/v1/me", "/api/v1/me/caseload",
                 "/api/v1/coaches/{coach_id}/caseload", "/api/v1/patients/{patient_id}/assignment",
                 "/api/v1/assignments/bulk", "/api/v1/team/unassigned", "/api/v1/team/caseloads",
                 "/api/v1/team/caseloads/history", "/api/v1/me/shift", "/api/v1/me/wellness",
                 "/api/v1/coaches/{coach_id}/supervision-sessions", "/api/v1/program/caseload-policy"):
        assert path in spec["paths"], path
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_swagger_ui_is_served_locally(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and b"/api/docs/static/swagger-ui-bundle.js" in page.data
    assert client.get("/api/docs/static/swagger-ui-bundle.js").status_code == 200
