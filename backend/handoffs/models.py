"""Handoff and its partner confirmation links."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TimestampMixin, db, str_enum, utcnow


class HandoffKind(enum.StrEnum):
    WARM = "warm"
    REFERRAL = "referral"


class FhirTaskStatus(enum.StrEnum):
    """FHIR R4 Task status codes."""

    DRAFT = "draft"
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    FAILED = "failed"
    COMPLETED = "completed"
    ENTERED_IN_ERROR = "entered-in-error"


# A handoff still under way (the loop is not closed yet).
OPEN_STATUSES = frozenset({FhirTaskStatus.DRAFT, FhirTaskStatus.REQUESTED, FhirTaskStatus.ACCEPTED,
                           FhirTaskStatus.IN_PROGRESS, FhirTaskStatus.ON_HOLD})


class Handoff(TimestampMixin, db.Model):
    __tablename__ = "handoffs"
    __table_args__ = (sa.Index("ix_handoffs_patient_id_created_at", "patient_id", "created_at"),
                      sa.Index("ix_handoffs_organization_id_created_at", "organization_id", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"))
    service_id: Mapped[str] = mapped_column(sa.ForeignKey("services.id"))
    organization_id: Mapped[str] = mapped_column(sa.ForeignKey("organizations.id"))
    consent_id: Mapped[int] = mapped_column(sa.ForeignKey("consents.id"))
    reference: Mapped[str] = mapped_column(sa.String(12), unique=True)
    kind: Mapped[HandoffKind] = mapped_column(str_enum(HandoffKind, "handoff_kind"))
    status: Mapped[FhirTaskStatus] = mapped_column(str_enum(FhirTaskStatus, "handoff_status"))
    status_reason: Mapped[str | None] = mapped_column(sa.String(300))
    appointment_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(sa.Text)
    outcome_confirmed_by: Mapped[str | None] = mapped_column(sa.String(100))
    completed_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class ConfirmationLink(db.Model):
    """A single-use link for the partner's point person to say whether the patient arrived."""

    __tablename__ = "handoff_confirmation_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(sa.ForeignKey("handoffs.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(sa.String(20))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
