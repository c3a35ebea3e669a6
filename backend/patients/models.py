"""Patient and PatientEvent models."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TimestampMixin, db, str_enum, utcnow


class PatientStatus(enum.StrEnum):
    REFERRED = "referred"
    ENGAGED = "engaged"
    ACTIVE = "active"
    LINKED = "linked"
    CLOSED = "closed"
    DECLINED = "declined"


# A closed or declined patient carries no caseload load and gets no texts.
CLOSED_STATUSES = (PatientStatus.CLOSED, PatientStatus.DECLINED)
# Open patients: on a caseload and counted in its load.
OPEN_STATUSES = (PatientStatus.REFERRED, PatientStatus.ENGAGED, PatientStatus.ACTIVE, PatientStatus.LINKED)


class PatientSource(enum.StrEnum):
    ED = "ed"
    INPATIENT = "inpatient"
    WARM_LINE = "warm_line"
    SELF = "self"
    PARTNER = "partner"


class Acuity(enum.StrEnum):
    LOW = "low"
    STANDARD = "standard"
    HIGH = "high"


class Patient(TimestampMixin, db.Model):
    __tablename__ = "patients"
    __table_args__ = (
        sa.Index("ix_patients_program_id_updated_at", "program_id", "updated_at"),
        sa.Index("ix_patients_coach_id_updated_at", "coach_id", "updated_at"),
        sa.Index("ix_patients_program_id_phone", "program_id", "phone"),
        # The default list order, so a page is read from the index instead of sorting the caseload.
        sa.Index("ix_patients_coach_id_last_name", "coach_id", "last_name", "first_name", "id"),
        sa.Index("ix_patients_program_id_last_name", "program_id", "last_name", "first_name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    coach_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    first_name: Mapped[str] = mapped_column(sa.String(100))
    last_name: Mapped[str] = mapped_column(sa.String(100))
    preferred_name: Mapped[str | None] = mapped_column(sa.String(100))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    timezone: Mapped[str] = mapped_column(sa.String(64))
    sms_consent: Mapped[bool] = mapped_column(default=False)
    sms_consent_at: Mapped[datetime | None]
    sms_opted_out: Mapped[bool] = mapped_column(default=False)
    sms_opted_out_at: Mapped[datetime | None]
    # Set when Twilio says the number cannot receive texts (21211, 21614).
    phone_flagged_at: Mapped[datetime | None]
    status: Mapped[PatientStatus] = mapped_column(
        str_enum(PatientStatus, "patient_status"), default=PatientStatus.REFERRED
    )
    source: Mapped[PatientSource] = mapped_column(str_enum(PatientSource, "patient_source"))
    acuity: Mapped[Acuity] = mapped_column(str_enum(Acuity, "patient_acuity"), default=Acuity.STANDARD)
    declined_peer_support: Mapped[bool] = mapped_column(default=False)
    # For source=partner: which partner sent the patient (inbound referrals per partner).
    referring_organization_id: Mapped[str | None] = mapped_column(sa.ForeignKey("organizations.id"))
    closed_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Optimistic concurrency: the ETag is derived from it and a concurrent
    # UPDATE against an older version fails instead of overwriting.
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def etag(self) -> str:
        return f'"p{self.id}-v{self.version}"'


class PatientEventKind(enum.StrEnum):
    CREATED = "created"
    STATUS_CHANGED = "status_changed"
    COACH_CHANGED = "coach_changed"
    DETAILS_UPDATED = "details_updated"
    SMS_OPTED_OUT = "sms_opted_out"
    SMS_OPTED_IN = "sms_opted_in"
    HANDOFF_STATUS_CHANGED = "handoff_status_changed"


class PatientEvent(db.Model):
    """A change to the patient record itself, for the timeline."""

    __tablename__ = "patient_events"
    __table_args__ = (sa.Index("ix_patient_events_patient_id_occurred_at", "patient_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[PatientEventKind] = mapped_column(str_enum(PatientEventKind, "patient_event_kind"))
    # Field names and enum values only, never free text or identifiers of the patient.
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
