"""Contact model."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import db, str_enum, utcnow


class ContactKind(enum.StrEnum):
    ED_VISIT = "ed_visit"
    PHONE = "phone"
    SMS = "sms"
    VIDEO = "video"
    IN_PERSON = "in_person"


class ContactDirection(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class ContactOutcome(enum.StrEnum):
    REACHED = "reached"
    LEFT_MESSAGE = "left_message"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"
    DECLINED = "declined"
    CRISIS = "crisis"


class Contact(db.Model):
    __tablename__ = "contacts"
    __table_args__ = (
        sa.Index("ix_contacts_patient_id_occurred_at", "patient_id", "occurred_at"),
        sa.Index("ix_contacts_coach_id_occurred_at", "coach_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"))
    coach_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[ContactKind] = mapped_column(str_enum(ContactKind, "contact_kind"))
    direction: Mapped[ContactDirection] = mapped_column(
        str_enum(ContactDirection, "contact_direction"), default=ContactDirection.OUTBOUND
    )
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_minutes: Mapped[int | None]
    outcome: Mapped[ContactOutcome] = mapped_column(str_enum(ContactOutcome, "contact_outcome"))
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
