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


def test_every_operation_declares_the_error_body_the_api_sends(client):
    spec = client.get("/api/v1/openapi.json").json
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "message"} and "errors" in error["properties"]
    assert "code" not in error["properties"]  # not flask-smorest's own error shape
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            declared = set(operation["responses"])
            assert {"400", "403", "404", "422", "429", "500", "503"} <= declared, (method, path)
            if path not in ("/api/v1/auth/login", "/api/v1/openapi.json"):
                assert "401" in declared, (method, path)
            if "requestBody" in operation:
                assert {"412", "413", "415"} <= declared, (method, path)
    assert "Retry-After" in spec["components"]["responses"]["ERROR_429"]["headers"]


def test_the_headers_the_app_relies_on_are_in_the_document(client):
    spec = client.get("/api/v1/openapi.json").json
    create = spec["paths"]["/api/v1/patients"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in create["parameters"]]
    assert {"ETag", "Idempotent-Replayed"} <= set(create["responses"]["201"]["headers"])
    assert "X-Pagination" in spec["paths"]["/api/v1/patients"]["get"]["responses"]["200"]["headers"]
    edit = spec["paths"]["/api/v1/patients/{patient_id}"]["patch"]
    assert "If-Match" in [p["name"] for p in edit["parameters"]]
    closed_at = spec["components"]["schemas"]["Patient"]["properties"]["closed_at"]
    assert closed_at.get("nullable") is True


def test_the_documentation_says_how_to_authorise_and_shows_real_examples(client):
    spec = client.get("/api/v1/openapi.json").json
    assert "Authorize" in spec["info"]["description"] and "coach1@demo.test" in spec["info"]["description"]
    schemas = spec["components"]["schemas"]
    assert schemas["Login"]["properties"]["email"]["example"] == "coach1@demo.test"
    assert schemas["Patient"]["properties"]["first_name"]["example"] == "Lucía"
    assert schemas["Contact"]["properties"]["duration_minutes"]["example"] == 15
