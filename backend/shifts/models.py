"""Shift model."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import db, utcnow


class Shift(db.Model):
    __tablename__ = "shifts"
    __table_args__ = (sa.Index("ix_shifts_coach_id_started_at", "coach_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    coach_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    # "ended" by the coach, or "auto_closed" by the job after the programme's maximum length.
    ended_reason: Mapped[str | None] = mapped_column(sa.String(20))
