"""AuthSession: one login, shared by its access and refresh tokens."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import db, utcnow


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
