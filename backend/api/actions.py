"""The unit of work around an API view: commit, audit refusals, idempotent replays."""

from __future__ import annotations

import functools

from flask_jwt_extended import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from backend.api.openapi import mark_idempotent
from backend.audit import service as audit
from backend.common.errors import ConflictError, DomainError, PreconditionFailedError
from backend.common.unit_of_work import after_rollback, run_after_commit
from backend.database import db
from backend.errors import ERROR_CODES, http_status
from backend.idempotency import service as idempotency

STALE = PreconditionFailedError("precondition_failed", "The record changed since you read it. Reload and retry.")


def _refusal_code(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, DomainError):
        return http_status(exc), exc.code
    status = getattr(exc, "code", None) or 500
    return status, ERROR_CODES.get(status, "error")


def api_action(action: str, resource: str, *, idempotent: bool = False):
    """Wrap a view: one commit on success; on refusal roll back and audit the attempt.

    Services add the success audit event themselves, so it commits atomically
    with the change. `idempotent=True` honours an Idempotency-Key header.
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            actor = current_user
            key = idempotency.key_from_request() if idempotent else None
            fingerprint = idempotency.request_fingerprint() if key else None
            if key:
                earlier = idempotency.find(actor.id, key)
                if earlier is not None:
                    return _replayed(earlier, fingerprint, action, resource, actor, kwargs)
            try:
                response = view(*args, **kwargs)
                if key:
                    idempotency.remember(actor.id, key, fingerprint, response)
                db.session.commit()
                run_after_commit()
                return response
            except StaleDataError as exc:
                _refuse(action, resource, actor, kwargs, 412, "precondition_failed")
                raise STALE from exc
            except IntegrityError as exc:
                db.session.rollback()
                earlier = idempotency.find(actor.id, key) if key else None
                if earlier is not None:  # a concurrent retry with the same key won the race
                    return _replayed(earlier, fingerprint, action, resource, actor, kwargs)
                _refuse(action, resource, actor, kwargs, 409, "conflict")
                raise ConflictError("conflict", "Someone changed the same records at the same time. Retry.") from exc
            except (DomainError, HTTPException) as exc:
                status, code = _refusal_code(exc)
                _refuse(action, resource, actor, kwargs, status, code)
                raise

        if idempotent:
            mark_idempotent(wrapper)
        return wrapper

    return decorator


def _replayed(earlier, fingerprint, action, resource, actor, view_kwargs):
    """The stored answer again; it shows patient data once more, so it is audited like the first."""
    response = idempotency.replay(earlier, fingerprint)
    audit.record(action, resource, actor=actor, outcome="replayed", patient_id=view_kwargs.get("patient_id"))
    db.session.commit()
    return response


def _refuse(action, resource, actor, view_kwargs, status, code) -> None:
    if status == 401:
        db.session.rollback()
        return
    after_rollback(lambda: audit.record_refusal(
        action, resource, actor=actor, outcome=code,
        patient_id=view_kwargs.get("patient_id"),
        resource_id=view_kwargs.get(f"{resource}_id") or view_kwargs.get("patient_id"),
    ))
