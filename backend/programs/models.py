"""Program model and the phone numbers a programme owns at Twilio."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TimestampMixin, db


class Program(TimestampMixin, db.Model):
    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="America/Chicago")
    # The number patients are told to call or text (templates, HELP replies).
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    # Texts go out through this Twilio Messaging Service when set, else from the programme's SMS number.
    messaging_service_sid: Mapped[str | None] = mapped_column(sa.String(34), unique=True)


class ProgramNumber(TimestampMixin, db.Model):
    """A Twilio number that belongs to one programme: texts and calls to it are that programme's alone."""

    __tablename__ = "program_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    sms: Mapped[bool] = mapped_column(default=True)
    voice: Mapped[bool] = mapped_column(default=True)
