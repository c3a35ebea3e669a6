"""Every operation of the OpenAPI document, fuzzed from its own schema as a coach and as a supervisor:
no answer is a 5xx, and every answer is one the document declares (schemathesis, fixed seed and count)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.database import db

EXAMPLES_PER_OPERATION = 25
SESSION_PATHS = {"/api/v1/auth/logout", "/api/v1/auth/refresh"}
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@pytest.fixture
def fuzzed_app(app, factory, login):
    """A programme with a coach, a supervisor and a patient each, so ids in the document can hit real rows."""
    program = factory.program()
    supervisor = factory.user("supervisor", program, email="fuzz.sup@example.test")
    coach = factory.user("coach", program, email="fuzz.coach@example.test", supervisor_id=supervisor.id)
    factory.patient(coach)
    tokens = {role: login(user).tokens["access_token"] for role, user in (("coach", coach),
                                                                          ("supervisor", supervisor))}
    app.config["FUZZ_TOKENS"] = tokens
    return app


def test_no_operation_answers_5xx_or_off_contract(fuzzed_app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzzed_app)
    headers = {role: {"Authorization": f"Bearer {token}"} for role, token in fuzzed_app.config["FUZZ_TOKENS"].items()}
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        if operation.path in SESSION_PATHS:  # logging out would end the fuzzing sessions (tested in tests/auth)
            continue

        @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                              operation.as_strategy(GenerationMode.NEGATIVE)))
        def fuzz(case):
            for role, role_headers in headers.items():
                case.headers = {**(case.headers or {}), **role_headers}  # our session, not a generated token
                response = case.call()
                assert response.status_code < 500, f"as {role}: {response.status_code}"
                case.validate_response(response, checks=CHECKS)

        try:
            fuzz()
        except Exception as exc:  # noqa: BLE001 - every operation is tried; all failures are reported
            failures.append(f"{operation.method.upper()} {operation.path}: {type(exc).__name__}: {exc}"[:600])
        finally:
            with fuzzed_app.app_context():
                db.session.remove()
    document = fuzzed_app.test_client().get("/api/v1/openapi.json").json
    expected = sum(method in ("get", "post", "put", "patch", "delete") for item in document["paths"].values()
                   for method in item)
    assert operations == expected and failures == [], "\n\n".join(failures)
