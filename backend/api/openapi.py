"""The OpenAPI document as the contract: the error body the API sends, on every operation, for every status
it can answer, with the headers the wire carries (tested against real answers in tests/test_contract.py)."""

from __future__ import annotations

from apispec import BasePlugin
from flask_smorest import Api

from backend.common.schemas import ErrorSchema

# Statuses any operation can answer, whatever it does: a bad request, a missing or ended session, a role that
# may not, a record outside the caller's scope, a method not served, a clash, a rate limit, a fault of ours (the
# body says it was logged), the database down.
EVERY_OPERATION = (400, 401, 403, 404, 405, 409, 422, 429, 500, 503)
WITH_A_BODY = (412, 413, 415)  # a stale write, a body over 1 MiB, a body that is not JSON
PUBLIC_PATHS = {"/api/v1/auth/login", "/api/v1/openapi.json"}
# Operations behind a rate limit: every answer says how much of the budget is left (Flask-Limiter's headers).
RATE_LIMITED_PATHS = {"/api/v1/auth/login"}
RATE_LIMIT_HEADERS = {"X-RateLimit-Limit": "RATELIMIT_LIMIT", "X-RateLimit-Remaining": "RATELIMIT_REMAINING",
                      "X-RateLimit-Reset": "RATELIMIT_RESET", "Retry-After": "RETRY_AFTER"}

HEADERS = {
    "RETRY_AFTER": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}},
    "X_PAGINATION": {"description": 'Totals of a list: {"total", "total_pages", "first_page", "last_page", '
                                    '"page", "previous_page", "next_page"} as JSON.',
                     "schema": {"type": "string"}},
    "ETAG_HEADER": {"description": "The version of the record: send it back in If-Match (writes) or If-None-Match.",
             "schema": {"type": "string"}},
    "RATELIMIT_LIMIT": {"description": "Attempts allowed in the window.", "schema": {"type": "integer"}},
    "RATELIMIT_REMAINING": {"description": "Attempts left in the window.", "schema": {"type": "integer"}},
    "RATELIMIT_RESET": {"description": "When the window resets (Unix time).", "schema": {"type": "integer"}},
    "IDEMPOTENT_REPLAYED": {"description": '"true" when this answer is the stored one of an earlier request '
                                           "with the same Idempotency-Key.",
                            "schema": {"type": "string", "enum": ["true"]}},
}
IDEMPOTENCY_KEY = {"in": "header", "name": "Idempotency-Key", "required": False,
                   "description": "A key of your choosing (8-200 characters): a retry with the same key and body "
                                  "gets the first answer again instead of doing the work twice.",
                   "schema": {"type": "string", "minLength": 8, "maxLength": 200}}
IF_MATCH = {"in": "header", "name": "If-Match", "required": False,
            "description": "The ETag you read: the write is refused with 412 if the record changed since.",
            "schema": {"type": "string"}}


class ContractPlugin(BasePlugin):
    """Adds to each operation the error answers and headers the API really sends."""

    def init_spec(self, spec) -> None:
        self.spec = spec
        for name, header in HEADERS.items():
            spec.components.header(name, header)
        for status in (429, 503):  # these carry Retry-After
            spec.components.response(f"ERROR_{status}", {
                "description": "Too many requests" if status == 429 else "Service unavailable",
                "headers": {"Retry-After": "RETRY_AFTER"},
                "content": {"application/json": {"schema": ErrorSchema}},
            })

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            statuses = list(EVERY_OPERATION)
            if "requestBody" in operation:
                statuses += WITH_A_BODY
            if path in PUBLIC_PATHS:
                statuses.remove(401)
            declared = {str(code) for code in responses}
            for status in statuses:
                if str(status) not in declared:
                    responses[str(status)] = f"ERROR_{status}" if status in (429, 503) else "ERROR"
            idempotent = any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])
                             if isinstance(p, dict))
            if path in RATE_LIMITED_PATHS:
                for status, response in list(responses.items()):
                    if not isinstance(response, dict):  # a shared component: copy it before adding headers
                        response = responses[status] = {"description": "Refused: see `error`",
                                                        "content": {"application/json": {"schema": "Error"}}}
                    response.setdefault("headers", {}).update(RATE_LIMIT_HEADERS)
            for status, response in responses.items():
                if isinstance(response, dict) and str(status) == "304":  # revalidated: the same headers, no body
                    response.setdefault("headers", {}).update({"ETag": "ETAG_HEADER", "X-Pagination": "X_PAGINATION"})
                elif isinstance(response, dict) and str(status).startswith("2"):
                    if str(status) != "204" and not any(c.get("schema") for c in response.get("content", {}).values()):
                        # A document defined by a standard (HSDS, FHIR): an object; the standard says the rest.
                        content_type = next(iter(response.get("content", {})), "application/json")
                        response["content"] = {content_type: {"schema": {"type": "object"}}}
                    _declare_success_headers(method, response, idempotent)
                elif isinstance(response, dict) and str(status)[0] in "45" and "content" not in response:
                    response["content"] = {"application/json": {"schema": "Error"}}  # the body every refusal has
            if method in ("put", "patch"):
                operation.setdefault("parameters", []).append(IF_MATCH)


def _declare_success_headers(method: str, response: dict, idempotent: bool) -> None:
    schema = (response.get("content", {}).get("application/json", {}).get("schema") or {})
    headers = response.setdefault("headers", {})
    if method == "get" and schema.get("type") == "array":
        headers["X-Pagination"] = "X_PAGINATION"
    headers["ETag"] = "ETAG_HEADER"
    if idempotent:
        headers["Idempotent-Replayed"] = "IDEMPOTENT_REPLAYED"


def mark_idempotent(view) -> None:
    """Document an idempotent operation: the Idempotency-Key it takes, the Idempotent-Replayed it may answer."""
    doc = getattr(view, "_apidoc", {})
    manual = doc.setdefault("manual_doc", {})
    manual.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
    view._apidoc = doc


class JsonErrorApi(Api):
    """flask-smorest Api whose error handlers and error body are Bridgeline's own (see backend/errors.py)."""

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, app=None, **kwargs):
        super().__init__(app, spec_kwargs={"extra_plugins": [ContractPlugin()]}, **kwargs)

    def _register_error_handlers(self):
        pass

    def _register_responses(self):
        super()._register_responses()
        self.spec.components.response("ERROR", {"description": "Refused: see `error` for the machine code",
                                                "content": {"application/json": {"schema": ErrorSchema}}})
