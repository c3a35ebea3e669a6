"""Message model: the durable SMS outbox and inbox."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TimestampMixin, db, str_enum


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


class MessagingPolicy(TimestampMixin, db.Model):
    """A programme's quiet hours and follow-up expiry (defaults when absent)."""

    __tablename__ = "messaging_policies"

    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"), primary_key=True)
    quiet_start_hour: Mapped[int] = mapped_column(default=21)
    quiet_end_hour: Mapped[int] = mapped_column(default=8)
    follow_up_expiry_hours: Mapped[int] = mapped_column(default=12)
    # The name HELP replies use; it must not reveal treatment (the programme's name often does).
    sms_display_name: Mapped[str | None] = mapped_column(sa.String(80))
