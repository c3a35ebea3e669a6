"""AuthSession: one login, shared by its access and refresh tokens."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import db, utcnow


class LoginFailure(db.Model):
    """One failed login: which account (a digest) from which address, when (see auth/throttle.py)."""

    __tablename__ = "login_failures"
    __table_args__ = (sa.Index("ix_login_failures_account_key_failed_at", "account_key", "failed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_key: Mapped[str] = mapped_column(sa.String(32))
    address: Mapped[str] = mapped_column(sa.String(64))
    failed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AuthSession(db.Model):
    """A login. Both tokens carry its id (`sid`); revoking it revokes both."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(40))
    client: Mapped[str | None] = mapped_column(sa.String(200))
    # The one refresh token of the session that may still be used: each refresh replaces it, and a replaced
    # one presented again means it was copied, so the whole session ends (reuse detection).
    refresh_jti: Mapped[str | None] = mapped_column(sa.String(36))


class RecoveryCode(db.Model):
    """A one-time code that stands in for the authenticator app (only its digest is kept)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None]
