"""Consent and Disclosure models."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import db, str_enum, utcnow


class SignatureMethod(enum.StrEnum):
    ELECTRONIC = "electronic"
    PAPER = "paper"
    VERBAL_WITNESSED = "verbal_witnessed"


class Consent(db.Model):
    """A patient's written consent (§2.31): who may disclose what to whom, why, until when."""

    __tablename__ = "consents"
    __table_args__ = (sa.Index("ix_consents_patient_id_signed_at", "patient_id", "signed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"))
    recipient_organization_id: Mapped[str | None] = mapped_column(sa.ForeignKey("organizations.id"))
    recipient_description: Mapped[str | None] = mapped_column(sa.String(500))
    purpose: Mapped[str] = mapped_column(sa.String(500))
    information: Mapped[str] = mapped_column(sa.String(1000))
    expires_at: Mapped[datetime | None]
    expires_on_event: Mapped[str | None] = mapped_column(sa.String(300))
    signature_method: Mapped[SignatureMethod] = mapped_column(str_enum(SignatureMethod, "signature_method"))
    signed_at: Mapped[datetime]
    witness_name: Mapped[str | None] = mapped_column(sa.String(200))
    revocation_explained: Mapped[bool]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class Disclosure(db.Model):
    """One release of patient information to a partner, for the accounting of disclosures."""

    __tablename__ = "disclosures"
    __table_args__ = (sa.Index("ix_disclosures_patient_id_disclosed_at", "patient_id", "disclosed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"))
    consent_id: Mapped[int] = mapped_column(sa.ForeignKey("consents.id"))
    recipient_organization_id: Mapped[str | None] = mapped_column(sa.ForeignKey("organizations.id"))
    recipient_description: Mapped[str | None] = mapped_column(sa.String(500))
    information: Mapped[str] = mapped_column(sa.String(1000))
    purpose: Mapped[str] = mapped_column(sa.String(500))
    channel: Mapped[str] = mapped_column(sa.String(40))
    disclosed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    disclosed_at: Mapped[datetime] = mapped_column(default=utcnow)
