"""The HTTP channel's errors: one JSON shape for the API, {"error", "message", "errors"}, and the status
each domain error is answered with."""

from __future__ import annotations

import contextlib
import logging

import sqlalchemy as sa
from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from backend.common.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    PreconditionFailedError,
    RateLimitedError,
    UnauthenticatedError,
    UnavailableError,
)
from backend.database import db

log = logging.getLogger("bridgeline.errors")

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    428: "precondition_required",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}

MESSAGES = {
    404: "The resource was not found.",
    405: "The method is not allowed for this resource.",
    413: "The request body is larger than 1 MiB.",
    422: "The request has invalid fields.",
    429: "Too many requests. Try again later.",
    500: "Something went wrong on our side. The error was logged.",
}

JSON_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/readyz", "/hsds")


class ApiError(DomainError):
    """A refusal only the HTTP channel knows (a body too large, the wrong media type): it carries its status."""

    def __init__(self, status: int, code: str, message: str, errors: dict | None = None,
                 headers: dict | None = None, extra: dict | None = None):
        super().__init__(code, message, errors, extra)
        self.status = status
        self.headers = headers or {}


HTTP_STATUS: dict[type[DomainError], int] = {
    NotFoundError: 404, ForbiddenError: 403, ConflictError: 409, InvalidError: 422,
    PreconditionFailedError: 412, RateLimitedError: 429, UnauthenticatedError: 401, UnavailableError: 503,
}


def http_status(error: DomainError) -> int:
    """The status a domain error is answered with over HTTP."""
    if isinstance(error, ApiError):
        return error.status
    return next((HTTP_STATUS[kind] for kind in type(error).__mro__ if kind in HTTP_STATUS), 400)


def http_headers(error: DomainError) -> dict:
    """Headers a domain error adds (Retry-After for rate limits and outages)."""
    headers = dict(getattr(error, "headers", {}) or {})
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return headers


def error_body(status: int, code: str | None = None, message: str | None = None,
               errors: dict | None = None, extra: dict | None = None) -> dict:
    """Build the error payload every API error uses."""
    body = {
        "error": code or ERROR_CODES.get(status, "error"),
        "message": message or MESSAGES.get(status) or "The request could not be completed.",
    }
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return body


def _flatten_webargs(messages: dict) -> dict:
    """webargs nests field errors by location ({"json": {...}}); the API names fields directly."""
    locations = {"json", "query", "querystring", "headers", "form", "files", "cookies", "view_args"}
    if messages and set(messages) <= locations:
        flat: dict = {}
        for by_field in messages.values():
            if isinstance(by_field, dict):
                flat.update(by_field)
            else:
                flat.setdefault("_schema", []).extend(by_field)
        return flat
    return messages


def wants_json() -> bool:
    """API, webhook and probe paths always answer JSON."""
    return request.path.startswith(JSON_PREFIXES)


def handle_domain_error(error: DomainError):
    status = http_status(error)
    response = jsonify(error_body(status, error.code, error.message, error.errors, error.extra))
    response.status_code = status
    response.headers.update(http_headers(error))
    return response


def handle_http_exception(error: HTTPException):
    if not wants_json():
        return error
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    if isinstance(errors, dict):
        errors = _flatten_webargs(errors)
    message = data.get("message")
    if status == 400 and not message and error.description:
        message = error.description
    if status == 401 and not message:
        message = "Authentication is required."
    if status == 403 and not message:
        message = "You are not allowed to do this."
    if status == 429 and not message:
        message = f"Too many requests ({error.description}). Try again later."
    response = jsonify(error_body(status, data.get("code"), message, errors))
    response.status_code = status
    response.headers.update(data.get("headers") or {})
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    if status == 429 and getattr(error, "retry_after", None):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


DATABASE_DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)
RETRY_AFTER_DATABASE_DOWN = 5


def handle_database_down(error: Exception):
    """The database does not answer: 503 with Retry-After (a load balancer and the app both know to wait)."""
    with contextlib.suppress(Exception):
        db.session.rollback()
    log.error("database unavailable: %s", type(error).__name__)
    if not wants_json():
        return "The service is briefly unavailable. Try again in a moment.", 503, {
            "Retry-After": str(RETRY_AFTER_DATABASE_DOWN)}
    response = jsonify(error_body(503, "service_unavailable", "The service is briefly unavailable. Try again in a "
                                                              "moment."))
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_DATABASE_DOWN)
    return response


def handle_unexpected(error: Exception):
    if isinstance(error, DATABASE_DOWN):
        return handle_database_down(error)
    if isinstance(error, RecursionError) and wants_json():  # JSON nested thousands deep: no one means that
        db.session.rollback()
        return handle_domain_error(InvalidError("validation_error", "The JSON body is nested too deeply.",
                                                errors={"_schema": ["Nested too deeply."]}))
    db.session.rollback()
    log.exception("unhandled error: %s", type(error).__name__)
    if not wants_json():
        return "Internal Server Error", 500
    response = jsonify(error_body(500))
    response.status_code = 500
    return response


def register_error_handlers(app: Flask) -> None:
    """Install the JSON error handlers on the app."""
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
