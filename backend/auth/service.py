"""Login, refresh and logout rules, shared by the API and the admin panel."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from backend.audit import service as audit
from backend.auth import throttle, tokens
from backend.auth.models import AuthSession
from backend.common.errors import UnauthenticatedError
from backend.database import db, utcnow
from backend.users.models import User
from backend.users.passwords import hash_password, needs_rehash, verify_password

INVALID_CREDENTIALS = "The e-mail address or password is incorrect."
# An ended session's record is kept a while for investigations, then deleted (its tokens expired long before).
SESSION_RECORDS_KEPT = timedelta(days=30)


class InvalidCredentialsError(UnauthenticatedError):
    """Wrong credentials (the same 401 for an unknown e-mail); carries the account, if any, for the audit row."""

    def __init__(self, user_id: int | None, email: str, address: str | None):
        super().__init__("invalid_credentials", INVALID_CREDENTIALS)
        self.user_id, self.email, self.address = user_id, email, address


def record_failed_login(refused: InvalidCredentialsError) -> None:
    """Count and audit a refused login (the entry point writes both after rolling the attempt back)."""
    throttle.note_failure(refused.email, refused.address)
    user = db.session.get(User, refused.user_id) if refused.user_id is not None else None
    audit.record("login", "session", actor=user, outcome="failed")


def authenticate(email: str, password: str, address: str | None) -> User:
    """Check the password with throttling (per account and address); the same 401 for an unknown e-mail.

    Only the first step: the caller completes the login (`complete_login`) once every step passed, so a
    right password cannot reset the failure count that also guards the second factor.
    """
    email = email.strip().lower()
    throttle.check_not_locked(email, address)
    user = db.session.scalar(sa.select(User).where(User.email == email))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        raise InvalidCredentialsError(user.id if user is not None else None, email, address)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def complete_login(user: User, address: str | None) -> None:
    """Every step passed: record the login and forget this address's failed attempts for the account."""
    user.last_login_at = utcnow()
    throttle.clear_failures(user.email, address)
    audit.record("login", "session", actor=user)


def login(email: str, password: str, client: str | None, address: str | None) -> dict:
    """Authenticate and start a token session for the mobile app."""
    user = authenticate(email, password, address)
    complete_login(user, address)
    issued = tokens.issue_tokens(user, client)
    return {**issued, "user": user}


def refresh(user: User, sid: str, jti: str) -> dict:
    """New access and refresh tokens in the same session; the refresh token presented stops working."""
    return tokens.rotate_refresh_token(user, sid, jti)


def end_reused_session(reused: tokens.RefreshTokenReusedError, user: User) -> None:
    """A replaced refresh token came back: end its session (the entry point commits this after the rollback)."""
    tokens.revoke_sessions([reused.sid], "refresh_token_reused")
    audit.record("refresh", "session", actor=user, outcome="refresh_token_reused")


def logout(user: User, sid: str) -> None:
    """Revoke the session: its access and refresh tokens stop working at once."""
    tokens.revoke_sessions([sid], "logout")
    audit.record("logout", "session", actor=user)


def end_panel_sessions(user: User) -> None:
    """Log the user out of the panel everywhere: every cookie issued before now stops working."""
    user.panel_session_version += 1
    audit.record("logout", "panel_session", actor=user)


def purge_ended_sessions() -> int:
    """Delete sessions that ended (expired or were revoked) more than SESSION_RECORDS_KEPT ago."""
    cutoff = utcnow() - SESSION_RECORDS_KEPT
    return db.session.execute(sa.delete(AuthSession).where(
        sa.or_(AuthSession.expires_at < cutoff, AuthSession.revoked_at < cutoff))).rowcount
