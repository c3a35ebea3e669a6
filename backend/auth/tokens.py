"""JWT sessions: issue, rotate, revoke and check tokens; JSON errors for token failures.

PostgreSQL decides whether a session is live (one query, with the user): a
missing Redis key can never revive a logged-out token, and a token naming a
session that does not exist is refused.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask, current_app, g, jsonify
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token

from backend.auth.models import AuthSession
from backend.common.errors import UnauthenticatedError
from backend.database import db, utcnow
from backend.errors import error_body
from backend.extensions import jwt
from backend.users.events import access_withdrawn
from backend.users.models import User


class RefreshTokenReusedError(UnauthenticatedError):
    """A refresh token that was already replaced came back: it was copied, so its session must end."""

    def __init__(self, sid: str):
        super().__init__("refresh_token_reused", "This refresh token was already used. Log in again.")
        self.sid = sid


def _access_token(user: User, sid: str) -> str:
    claims = {"sid": sid, "role": str(user.role), "program_id": user.program_id}
    if user.must_change_password:
        claims["pwchange"] = True  # after an admin's reset: good only for choosing a new password
    return create_access_token(identity=str(user.id), additional_claims=claims)


def _refresh_token(user: User, session: AuthSession) -> str:
    token = create_refresh_token(identity=str(user.id), additional_claims={"sid": session.id})
    session.refresh_jti = decode_token(token)["jti"]  # the only refresh token of the session still usable
    return token


def issue_tokens(user: User, client: str | None = None) -> dict:
    """Start a session for the user and return its access and refresh tokens."""
    refresh_ttl: timedelta = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    session = AuthSession(
        id=str(uuid.uuid4()), user_id=user.id, expires_at=utcnow() + refresh_ttl,
        client=(client or "")[:200] or None,
    )
    db.session.add(session)
    return {"access_token": _access_token(user, session.id), "refresh_token": _refresh_token(user, session)}


def rotate_refresh_token(user: User, sid: str, jti: str) -> dict:
    """Exchange a refresh token for new access and refresh tokens; the one presented stops working.

    Presenting a refresh token that was already exchanged raises RefreshTokenReusedError: the
    entry point then ends the session (after rolling back), so a stolen copy is useless too.
    """
    session = db.session.get(AuthSession, sid, with_for_update=True, populate_existing=True)
    if session is None or session.revoked_at is not None or session.user_id != user.id:
        raise UnauthenticatedError("token_revoked", "The token was revoked. Log in again.")
    if session.refresh_jti is not None and session.refresh_jti != jti:
        raise RefreshTokenReusedError(sid)
    return {"access_token": _access_token(user, sid), "refresh_token": _refresh_token(user, session)}


def revoke_sessions(session_ids: list[str], reason: str) -> None:
    """Revoke sessions: their access and refresh tokens stop working in every worker at once."""
    if not session_ids:
        return
    db.session.execute(
        sa.update(AuthSession)
        .where(AuthSession.id.in_(session_ids), AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


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


def live_session_user(sid: str | None, user_id: str | None) -> User | None:
    """The user of a live session (it exists, is the token's user's, not revoked, not expired), in one query."""
    if not sid or not user_id or not str(user_id).isdigit():
        return None
    return db.session.scalar(
        sa.select(User).join(AuthSession, AuthSession.user_id == User.id)
        .where(AuthSession.id == sid, User.id == int(user_id), AuthSession.revoked_at.is_(None),
               AuthSession.expires_at > utcnow()))


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
        g.session_user = live_session_user(payload.get("sid"), payload.get("sub"))
        return g.session_user is None

    @jwt.user_lookup_loader
    def _load_user(_header, payload):
        user = g.pop("session_user", None)  # found with the session, in the same query
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
