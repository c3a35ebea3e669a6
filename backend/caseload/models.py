"""Assignment history and daily caseload snapshots (the policy is the programme's: programs/models.py)."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import db, str_enum, utcnow


class AssignmentMethod(enum.StrEnum):
    MANUAL = "manual"
    AUTOMATIC = "automatic"
    BULK = "bulk"
    CREATED = "created"


class Assignment(db.Model):
    """Each time a patient was given to a coach: who, how, and any cap override."""

    __tablename__ = "assignments"
    __table_args__ = (sa.Index("ix_assignments_coach_id_created_at", "coach_id", "created_at"),
                      sa.Index("ix_assignments_patient_id_created_at", "patient_id", "created_at"),
                      # A coach's device asks which patients left its caseload since its last sync.
                      sa.Index("ix_assignments_previous_coach_id_created_at", "previous_coach_id", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"))
    coach_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    previous_coach_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    assigned_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    method: Mapped[AssignmentMethod] = mapped_column(str_enum(AssignmentMethod, "assignment_method"))
    override_reason: Mapped[str | None] = mapped_column(sa.Text)
    load_before: Mapped[int]  # hundredths, the coach's load before this patient
    cap: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseloadSnapshot(db.Model):
    """One coach's caseload at the end of a day (written by the daily job)."""

    __tablename__ = "caseload_snapshots"
    __table_args__ = (sa.UniqueConstraint("coach_id", "day", name="uq_caseload_snapshots_coach_id_day"),
                      sa.Index("ix_caseload_snapshots_program_id_day", "program_id", "day"))

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    coach_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    day: Mapped[date]
    load: Mapped[int]  # hundredths
    cap: Mapped[int]
    active_patients: Mapped[int]
    level: Mapped[str] = mapped_column(sa.String(10))
    reasons: Mapped[list] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
