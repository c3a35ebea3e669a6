"""Store and replay first responses for Idempotency-Key retries."""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from flask import Response, current_app, request

from backend.common.errors import InvalidError, field_error
from backend.database import db, utcnow
from backend.idempotency.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADERS = ("ETag", "Location")


def key_from_request() -> str | None:
    """The request's Idempotency-Key, validated (1-255 printable characters)."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 255 or not key.isprintable():
        raise field_error(HEADER, "Use 1 to 255 printable characters.")
    return key


def request_fingerprint() -> str:
    """A digest of what the request asks for: method, path and the JSON body."""
    body = request.get_json(silent=True)
    canonical = json.dumps([request.method, request.path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _cutoff():
    return utcnow() - current_app.config["IDEMPOTENCY_KEY_TTL"]


def find(user_id: int, key: str) -> IdempotencyRecord | None:
    """The unexpired record of an earlier request with this key."""
    cutoff = _cutoff()
    return db.session.scalar(
        sa.select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key,
            IdempotencyRecord.created_at >= cutoff,
        )
    )


def replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    """The first response again, or 422 when the key was used for a different request."""
    if record.request_hash != fingerprint:
        raise InvalidError("idempotency_key_reused",
                       "This Idempotency-Key was used for a different request.",
                       errors={HEADER: ["Already used with another body."]})
    response = current_app.response_class(
        json.dumps(record.response_body), status=record.response_status, mimetype="application/json"
    )
    response.headers.update(record.response_headers or {})
    response.headers["Idempotent-Replayed"] = "true"
    return response


def remember(user_id: int, key: str, fingerprint: str, response: Response) -> None:
    """Store the response in the same transaction as the work it reports."""
    # Only an expired record may be replaced; a live one (a concurrent retry that
    # committed first) makes this insert fail, and the caller replays it instead.
    db.session.execute(sa.delete(IdempotencyRecord).where(
        IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key,
        IdempotencyRecord.created_at < _cutoff()))
    db.session.add(IdempotencyRecord(
        user_id=user_id, key=key, request_hash=fingerprint, response_status=response.status_code,
        response_body=response.get_json(silent=True) or {},
        response_headers={h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers},
    ))


def purge_expired() -> int:
    """Delete stored responses past the key's lifetime (they may hold patient data): the number deleted."""
    return db.session.execute(sa.delete(IdempotencyRecord).where(IdempotencyRecord.created_at < _cutoff())).rowcount
