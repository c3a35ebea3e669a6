"""Wellness check-ins and supervision sessions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import db, utcnow


class WellnessCheckIn(db.Model):
    """A coach's self-report. Visible to the coach and their supervisor only."""

    __tablename__ = "wellness_check_ins"
    __table_args__ = (sa.Index("ix_wellness_check_ins_coach_id_created_at", "coach_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    coach_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    stress: Mapped[int]
    energy: Mapped[int]
    wants_supervisor_contact: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str | None] = mapped_column(sa.Text)
    # ProQOL 5 subscale scores (10-50), recorded after the coach took the instrument elsewhere.
    proqol_compassion_satisfaction: Mapped[int | None]
    proqol_burnout: Mapped[int | None]
    proqol_secondary_traumatic_stress: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SupervisionSession(db.Model):
    __tablename__ = "supervision_sessions"
    __table_args__ = (sa.Index("ix_supervision_sessions_coach_id_held_at", "coach_id", "held_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    coach_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    supervisor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    held_at: Mapped[datetime]
    duration_minutes: Mapped[int]
    notes: Mapped[str | None] = mapped_column(sa.Text)
    follow_ups: Mapped[list] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
