"""User model (staff accounts)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.database import TimestampMixin, db, str_enum
from backend.programs.models import Program


class Role(enum.StrEnum):
    COACH = "coach"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class User(TimestampMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(200))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    # How texts name the coach ("soy Robin"); unset: the first name, without a title such as "Coach".
    text_name: Mapped[str | None] = mapped_column(sa.String(60))
    role: Mapped[Role] = mapped_column(str_enum(Role, "user_role"))
    active: Mapped[bool] = mapped_column(default=True)
    supervisor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    # Caseload: a personal cap (weighted load) overriding the programme default,
    # and whether the coach is on shift (receives automatic assignments).
    caseload_cap: Mapped[int | None]
    on_shift: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    last_login_at: Mapped[datetime | None]
    deactivated_at: Mapped[datetime | None]
    # Panel cookies carry the version they were issued under; logging out (or a password change) moves it on,
    # so a copy of an old cookie opens nothing.
    panel_session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # Set by an admin's reset: the temporary password works only to choose a new one.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The panel's second factor: a TOTP secret (RFC 6238) once enrolled, with one-time recovery codes.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    mfa_enrolled_at: Mapped[datetime | None]

    program: Mapped[Program] = relationship(lazy="joined", innerjoin=True)

    @property
    def is_coach(self) -> bool:
        return self.role == Role.COACH

    @property
    def is_staff_lead(self) -> bool:
        """Supervisors and admins see the whole programme."""
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    # Flask-Login protocol (admin panel sessions)
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


TITLES = {"coach", "dr", "dr.", "mr", "mr.", "mrs", "mrs.", "ms", "ms.", "mx", "mx.", "peer"}


def name_for_texts(user: User) -> str:
    """The coach's name in a text: their chosen one, else the first word of their name that is not a title."""
    if user.text_name:
        return user.text_name
    words = user.full_name.split()
    return next((w for w in words if w.lower() not in TITLES), words[0] if words else "")
