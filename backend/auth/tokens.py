"""JWT sessions: issue, revoke and check tokens; JSON errors for token failures."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask, current_app, jsonify
from flask_jwt_extended import create_access_token, create_refresh_token

from backend.auth.models import AuthSession
from backend.database import db, utcnow
from backend.errors import error_body
from backend.extensions import jwt
from backend.users.events import access_withdrawn
from backend.users.models import User


def _redis():
    return current_app.extensions.get("bridgeline_redis")


def _revoked_key(sid: str) -> str:
    return f"bridgeline:revoked-sid:{sid}"


def issue_tokens(user: User, client: str | None = None) -> dict:
    """Start a session for the user and return its access and refresh tokens."""
    refresh_ttl: timedelta = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    session = AuthSession(
        id=str(uuid.uuid4()), user_id=user.id, expires_at=utcnow() + refresh_ttl,
        client=(client or "")[:200] or None,
    )
    db.session.add(session)
    claims = {"sid": session.id, "role": str(user.role), "program_id": user.program_id}
    return {
        "access_token": create_access_token(identity=str(user.id), additional_claims=claims),
        "refresh_token": create_refresh_token(identity=str(user.id), additional_claims={"sid": session.id}),
    }


def access_token_for_session(user: User, sid: str) -> str:
    """A new access token in an existing session (refresh)."""
    claims = {"sid": sid, "role": str(user.role), "program_id": user.program_id}
    return create_access_token(identity=str(user.id), additional_claims=claims)


def revoke_sessions(session_ids: list[str], reason: str) -> None:
    """Revoke sessions in the database and, when configured, in Redis (checked by every worker)."""
    if not session_ids:
        return
    db.session.execute(
        sa.update(AuthSession)
        .where(AuthSession.id.in_(session_ids), AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    redis = _redis()
    if redis is not None:
        ttl = int(current_app.config["JWT_REFRESH_TOKEN_EXPIRES"].total_seconds())
        pipe = redis.pipeline()
        for sid in session_ids:
            pipe.set(_revoked_key(sid), "1", ex=ttl)
        pipe.execute()


def revoke_all_sessions(user_id: int, reason: str) -> None:
    """Revoke every open session of a user (deactivation, password change)."""
    sids = list(
        db.session.scalars(
            sa.select(AuthSession.id).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        )
    )
    revoke_sessions(sids, reason)


@access_withdrawn.connect
def _end_sessions_of(user_id: int, reason: str) -> None:
    revoke_all_sessions(user_id, reason)


def is_session_revoked(sid: str | None) -> bool:
    """True when the token's session was revoked or never existed."""
    if not sid:
        return True
    redis = _redis()
    if redis is not None:
        return bool(redis.exists(_revoked_key(sid)))
    revoked_at = db.session.execute(
        sa.select(AuthSession.revoked_at).where(AuthSession.id == sid)
    ).first()
    return revoked_at is None or revoked_at[0] is not None


def _json_error(status: int, code: str, message: str):
    response = jsonify(error_body(status, code, message))
    response.status_code = status
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def init_jwt(app: Flask) -> None:
    """Register the token callbacks (revocation check, user lookup, JSON errors) once."""
    if getattr(jwt, "_bridgeline_callbacks", False):
        return
    jwt._bridgeline_callbacks = True

    @jwt.token_in_blocklist_loader
    def _revoked(_header, payload):
        return is_session_revoked(payload.get("sid"))

    @jwt.user_lookup_loader
    def _load_user(_header, payload):
        user = db.session.get(User, int(payload["sub"]))
        return user if user is not None and user.active else None

    @jwt.user_lookup_error_loader
    def _user_gone(_header, _payload):
        return _json_error(401, "account_inactive", "This account is no longer active.")

    @jwt.expired_token_loader
    def _expired(_header, _payload):
        return _json_error(401, "token_expired", "The token has expired. Refresh it or log in again.")

    @jwt.revoked_token_loader
    def _revoked_response(_header, _payload):
        return _json_error(401, "token_revoked", "The token was revoked. Log in again.")

    @jwt.invalid_token_loader
    def _invalid(reason):
        return _json_error(401, "token_invalid", "The token is not valid.")

    @jwt.unauthorized_loader
    def _missing(reason):
        return _json_error(401, "authorization_required", "A bearer token is required.")

    @jwt.needs_fresh_token_loader
    def _not_fresh(_header, _payload):
        return _json_error(401, "fresh_token_required", "Log in again to do this.")
