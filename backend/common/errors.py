"""Domain errors: what services raise when a rule says no, in words every channel can render.

Each carries a machine code, a message for people and, where fields are at fault,
`errors` by field. They say nothing of HTTP: the API renders them as JSON with a
status (backend/errors.py), the panel as a flash message, webhooks as TwiML, the
CLI as a message and an exit code.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal: machine `code`, human `message`, optional field `errors` and `extra` body keys."""

    default_code = "refused"

    def __init__(self, code: str | None = None, message: str = "", errors: dict | None = None,
                 extra: dict | None = None):
        super().__init__(message)
        self.code = code or self.default_code
        self.message = message
        self.errors = errors
        self.extra = extra or {}


class NotFoundError(DomainError):
    """The record does not exist, or is outside the caller's scope (the two look the same)."""

    default_code = "not_found"


class ForbiddenError(DomainError):
    """The caller's role may not do this."""

    default_code = "forbidden"


class ConflictError(DomainError):
    """The request clashes with the record's state (closed, revoked, over cap, taken)."""

    default_code = "conflict"


class InvalidError(DomainError):
    """The input breaks a rule; `errors` names the fields."""

    default_code = "validation_error"


class PreconditionFailedError(DomainError):
    """The record changed since the caller read it."""

    default_code = "precondition_failed"


class RateLimitedError(DomainError):
    """Too many attempts; `retry_after` seconds until the next may succeed."""

    default_code = "rate_limited"

    def __init__(self, code: str | None = None, message: str = "", retry_after: int | None = None, **kw):
        super().__init__(code, message, **kw)
        self.retry_after = retry_after


class UnauthenticatedError(DomainError):
    """Who is asking could not be established (bad credentials, an ended session)."""

    default_code = "unauthorized"


class UnavailableError(DomainError):
    """A part the request needs is not there right now."""

    default_code = "service_unavailable"


def not_found(resource: str = "resource") -> NotFoundError:
    """A not-found that looks the same whether the record is missing or out of scope."""
    return NotFoundError("not_found", f"The {resource} was not found.")


def field_error(field: str, message: str, code: str = "validation_error",
                kind: type[DomainError] = InvalidError) -> DomainError:
    """A refusal naming the one field at fault (invalid by default; e.g. a conflict for a taken e-mail)."""
    return kind(code, message, errors={field: [message]})
