"""Message model: the durable SMS outbox and inbox."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TimestampMixin, db, str_enum, utcnow


class MessageDirection(enum.StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class MessageStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"
    RECEIVED = "received"


PENDING = (MessageStatus.SCHEDULED, MessageStatus.QUEUED)
# How far along a message is; a status callback never moves a message backwards.
PROGRESS = {MessageStatus.SENDING: 1, MessageStatus.UNKNOWN: 1, MessageStatus.QUEUED: 1, MessageStatus.SENT: 2,
            MessageStatus.UNDELIVERED: 3, MessageStatus.FAILED: 3, MessageStatus.DELIVERED: 4}


class Message(TimestampMixin, db.Model):
    __tablename__ = "messages"
    __table_args__ = (
        # The dispatcher's due query: only pending rows are in this index, so it stays small and flat.
        sa.Index("ix_messages_due", "scheduled_for", postgresql_where=sa.text("status IN ('scheduled', 'queued')"),
                 sqlite_where=sa.text("status IN ('scheduled', 'queued')")),
        sa.Index("ix_messages_patient_id_created_at", "patient_id", "created_at"),
        sa.Index("ix_messages_status_lease_until", "status", "lease_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    patient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("patients.id"))
    direction: Mapped[MessageDirection] = mapped_column(str_enum(MessageDirection, "message_direction"))
    to_number: Mapped[str | None] = mapped_column(sa.String(20))
    from_number: Mapped[str | None] = mapped_column(sa.String(20))
    body: Mapped[str] = mapped_column(sa.Text)
    template_key: Mapped[str | None] = mapped_column(sa.String(60))
    plan_key: Mapped[str | None] = mapped_column(sa.String(60))
    plan_anchor_at: Mapped[datetime | None]
    scheduled_for: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    status: Mapped[MessageStatus] = mapped_column(str_enum(MessageStatus, "message_status"))
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    twilio_sid: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    error_code: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None]
    sending_started_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # The version of the programme's template it was written from (0: the built-in text).
    template_version: Mapped[int | None]
    # An MMS's media as Twilio keeps them: [{"url": Twilio's MediaUrl, "content_type": ...}] (never downloaded).
    media: Mapped[list | None] = mapped_column(sa.JSON)
    # A text from a number matching no patient, looked at by a supervisor and put aside.
    dismissed_at: Mapped[datetime | None]
    dismissed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class MessageTemplateVersion(db.Model):
    """One saved version of a programme's template in one language; the highest version is in use."""

    __tablename__ = "message_template_versions"
    __table_args__ = (sa.UniqueConstraint("program_id", "key", "language", "version",
                                          name="uq_message_template_versions_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    key: Mapped[str] = mapped_column(sa.String(60))
    language: Mapped[str] = mapped_column(sa.String(8))
    version: Mapped[int]
    body: Mapped[str] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FollowUpPlanVersion(db.Model):
    """One saved version of a programme's follow-up plan (steps: [{"days", "template_key"}])."""

    __tablename__ = "follow_up_plan_versions"
    __table_args__ = (sa.UniqueConstraint("program_id", "key", "version", name="uq_follow_up_plan_versions_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    key: Mapped[str] = mapped_column(sa.String(60))
    version: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(200))
    steps: Mapped[list] = mapped_column(sa.JSON)
    delivery_hour: Mapped[int] = mapped_column(default=10)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessagingPolicy(TimestampMixin, db.Model):
    """A programme's quiet hours and follow-up expiry (defaults when absent)."""

    __tablename__ = "messaging_policies"

    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"), primary_key=True)
    quiet_start_hour: Mapped[int] = mapped_column(default=21)
    quiet_end_hour: Mapped[int] = mapped_column(default=8)
    follow_up_expiry_hours: Mapped[int] = mapped_column(default=12)
    # The name HELP replies use; it must not reveal treatment (the programme's name often does).
    sms_display_name: Mapped[str | None] = mapped_column(sa.String(80))
